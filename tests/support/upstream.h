/*
 * upstream.h — a loopback HTTP/1.x origin for gateway tests that records
 * what reaches it: the request line, the header block as received, and the
 * body's length and SHA-256 (Content-Length or chunked). Answers 200 "ok"
 * and closes. One thread, one connection at a time.
 */
#ifndef TAAP_TEST_UPSTREAM_H
#define TAAP_TEST_UPSTREAM_H

#include <pthread.h>
#include <stddef.h>

typedef struct up_request {
    char method[16];
    char target[2048];
    char headers[16384]; /* the header lines as received (after the request line) */
    size_t body_len;
    char body_sha256[65]; /* hex */
} up_request;

typedef struct up_server {
    int fd;
    unsigned port;
    pthread_t thread;
    pthread_mutex_t mu;
    int stop;
    unsigned long count; /* requests received */
    up_request last;
} up_server;

/* Listen on 127.0.0.1 (port chosen by the kernel) and serve in a thread. 0 or -1. */
int up_start(up_server *u);
void up_stop(up_server *u);
/* Requests received so far, and a copy of the last one. */
unsigned long up_count(up_server *u);
void up_last(up_server *u, up_request *out);
/* The value of header `name` in a recorded header block (case-insensitive,
 * trimmed) into out; 1 if present. */
int up_header(const up_request *r, const char *name, char *out, size_t cap);

#endif
