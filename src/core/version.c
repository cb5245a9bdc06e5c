/* version.c — the library version string. */
#include "taap/taap.h"

#ifndef TAAP_LIB_VERSION
#define TAAP_LIB_VERSION "0.1.0"
#endif

const char *taap_version(void)
{
    return TAAP_LIB_VERSION;
}
