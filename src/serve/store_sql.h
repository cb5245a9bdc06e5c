/*
 * store_sql.h — SQLite for the store_*.c files only (nothing else in the
 * emulator includes sqlite3.h).
 */
#ifndef TAAP_SERVE_STORE_SQL_H
#define TAAP_SERVE_STORE_SQL_H

#include <sqlite3.h>

#include "serve_internal.h"

/* This thread's connection (opened on first use); NULL on failure. */
sqlite3 *store_db(taap_server *s);
/* A cached prepared statement for `sql` (a string literal: cached by address)
 * on this thread's connection, reset and unbound. NULL on failure. */
sqlite3_stmt *store_stmt(taap_server *s, const char *sql);

/* Step a prepared write and reset it: 0 done, STORE_CONFLICT on a
 * constraint, -1 otherwise. */
int store_step_write(sqlite3_stmt *st);

#endif
