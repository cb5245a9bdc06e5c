/* cli_explain.h — an explaining verifier's result (taap/explain.h) as text
 * for a person: `taap verify --explain`. */
#ifndef TAAP_CLI_EXPLAIN_H
#define TAAP_CLI_EXPLAIN_H

#include <stdio.h>
#include "taap/explain.h"

/* Print the explanation: verdict, time window, the parts in ehts order with
 * their canonical values, both edts, and the likely cause. */
void cli_explain_print(FILE *out, const taap_explain *e);

#endif
