/* request_log.c — the emulator's ring of recent requests and the
 * explanations of its PoP rejections (request_log.h). One mutex: adding is
 * a copy of a few short strings, reading copies out under the lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "request_log.h"
#include "serve_internal.h"

typedef struct reqlog_entry {
    uint64_t id;                /* 0 = empty slot */
    int64_t time;
    char method[16];
    char path[256];
    unsigned status;
    const char *verdict;        /* static code name, or NULL */
    taap_explain_cause cause;
    char *explanation;          /* redacted JSON, or NULL */
} reqlog_entry;

struct srv_reqlog {
    pthread_mutex_t mu;
    reqlog_entry *ring;
    size_t size;
    uint64_t next_id;
};

srv_reqlog *srv_reqlog_new(size_t size)
{
    if (size < 1 || size > REQLOG_MAX_SIZE)
        return NULL;
    srv_reqlog *l = calloc(1, sizeof *l);
    if (!l || !(l->ring = calloc(size, sizeof *l->ring))) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    l->size = size;
    l->next_id = 1;
    return l;
}

void srv_reqlog_free(srv_reqlog *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->size; i++)
        free(l->ring[i].explanation);
    free(l->ring);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static int is_log_read(const srv_request *rq)
{
    return strcmp(rq->method, "GET") == 0 && strcmp(rq->path, "/devedge/v1/requests") == 0;
}

void srv_reqlog_add(srv_reqlog *l, int64_t now, const srv_request *rq, srv_response *rs)
{
    if (!l || is_log_read(rq))
        return;
    char *ex = rs->explanation;
    rs->explanation = NULL;
    if (ex && strlen(ex) > REQLOG_MAX_EXPLANATION) { /* bounded memory per entry */
        free(ex);
        ex = NULL;
    }
    pthread_mutex_lock(&l->mu);
    reqlog_entry *e = &l->ring[(l->next_id - 1) % l->size];
    free(e->explanation);
    memset(e, 0, sizeof *e);
    e->id = l->next_id++;
    e->time = now;
    snprintf(e->method, sizeof e->method, "%s", rq->method);
    snprintf(e->path, sizeof e->path, "%s", rq->path);
    e->status = rs->status;
    e->verdict = rs->verdict;
    e->cause = rs->cause;
    e->explanation = ex;
    pthread_mutex_unlock(&l->mu);
}

void srv_explain_pop(const char *pop, const taap_request *req, const taap_verify_config *cfg,
                     taap_code verdict, const char *message, srv_response *rs, char *cause,
                     size_t cap)
{
    cause[0] = '\0';
    rs->verdict = taap_code_name(verdict);
    taap_explain *e = NULL;
    if (taap_explain_verdict(pop, strlen(pop), req, cfg, verdict, message, &e, NULL) != TAAP_OK)
        return;
    rs->cause = e->cause;
    if (e->cause != TAAP_CAUSE_NONE)
        snprintf(cause, cap, "%s", taap_explain_cause_text(e->cause));
    free(rs->explanation);
    rs->explanation = NULL;
    taap_explain_to_json(e, TAAP_EXPLAIN_REDACT, &rs->explanation, NULL);
    taap_explain_free(e);
}

static json_t *entry_json(const reqlog_entry *e)
{
    char t[32];
    srv_time_str(e->time, t);
    json_t *ex = e->explanation ? json_loads(e->explanation, 0, NULL) : NULL;
    return json_pack("{s:I, s:s, s:I, s:s, s:s, s:i, s:s?, s:s?, s:s?, s:o?}", "id",
                     (json_int_t)e->id, "time", t, "epoch", (json_int_t)e->time, "method",
                     e->method, "path", e->path, "status", (int)e->status, "verdict", e->verdict,
                     "cause", e->cause ? taap_explain_cause_name(e->cause) : NULL, "causeText",
                     e->cause ? taap_explain_cause_text(e->cause) : NULL, "explanation", ex);
}

/* ?since=ID&limit=N: entries with a larger id, oldest first (a poller
 * passes the last id it saw). */
static void parse_query(const char *q, uint64_t *since, size_t *limit)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t l = amp ? (size_t)(amp - q) : strlen(q);
        char *end;
        if (l > 6 && strncmp(q, "since=", 6) == 0)
            *since = strtoull(q + 6, &end, 10);
        else if (l > 6 && strncmp(q, "limit=", 6) == 0) {
            unsigned long v = strtoul(q + 6, &end, 10);
            *limit = v < 1 ? 1 : v > 1000 ? 1000 : v;
        }
        q = amp ? amp + 1 : NULL;
    }
}

void h_admin_requests(taap_server *s, const srv_request *rq, const srv_principal *who,
                      srv_response *rs)
{
    (void)who;
    struct srv_reqlog *l = srv_reqlog_of(s);
    uint64_t since = 0;
    size_t limit = 100;
    parse_query(rq->query, &since, &limit);
    json_t *arr = json_array();
    uint64_t last = since;
    if (l) {
        pthread_mutex_lock(&l->mu);
        uint64_t first = l->next_id > l->size ? l->next_id - l->size : 1;
        /* The newest `limit` entries after `since`, oldest first. */
        uint64_t from = since + 1 > first ? since + 1 : first;
        if (l->next_id > limit && from < l->next_id - limit)
            from = l->next_id - limit;
        for (uint64_t id = from; id < l->next_id; id++) {
            const reqlog_entry *e = &l->ring[(id - 1) % l->size];
            json_array_append_new(arr, entry_json(e));
            last = id;
        }
        pthread_mutex_unlock(&l->mu);
    }
    srv_json(rs, 200, json_pack("{s:o, s:I, s:I}", "requests", arr, "last", (json_int_t)last,
                                "capacity", (json_int_t)(l ? l->size : 0)));
    rs->no_store = 1;
}
