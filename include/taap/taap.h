/* taap/taap.h — everything libtaap offers. */
#ifndef TAAP_TAAP_H
#define TAAP_TAAP_H

#include "taap/error.h"
#include "taap/key.h"
#include "taap/request.h"
#include "taap/pop.h"
#include "taap/replay.h"
#include "taap/replay_sqlite.h"
#include "taap/verify.h"
#include "taap/explain.h"
#include "taap/jws.h"
#include "taap/http.h"
#include "taap/oauth.h"
#include "taap/client.h"
#include "taap/postman.h"

/* The library version, "MAJOR.MINOR.PATCH". */
TAAP_API const char *taap_version(void);

#endif
