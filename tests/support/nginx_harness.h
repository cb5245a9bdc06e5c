/*
 * nginx_harness.h — Debian's nginx with ngx_http_taap_module for a test:
 * its own prefix directory, a free loopback port, the module from the build
 * tree ($TAAP_BUILD/nginx-module), the TAAP directives given by the test, a
 * proxy to a loopback upstream, and an access log of the module's
 * variables. Started in the foreground (master + 2 workers).
 */
#ifndef TAAP_NGINX_HARNESS_H
#define TAAP_NGINX_HARNESS_H

#include <sys/types.h>

typedef struct nh_nginx {
    pid_t pid;
    unsigned workers; /* worker_processes; 0 → 2 */
    unsigned port;
    char dir[512];
    char conf[600];
    char error_log[600];
    char access_log[600];
    char base[64]; /* "http://127.0.0.1:PORT" */
} nh_nginx;

/* The module's path, or NULL (with a line on stderr) when it was not built. */
const char *nh_module_path(void);

/*
 * nh_write_conf — the configuration in dir/nginx.conf: `taap_lines` go into
 * the server block (e.g. "taap on; taap_access_token_keys /x/jwks.json;"),
 * location / proxies to 127.0.0.1:upstream_port, location /open/ has
 * `taap off`. Picks n->port unless already set. 0 or -1.
 */
int nh_write_conf(nh_nginx *n, const char *dir, const char *taap_lines, unsigned upstream_port);

/* nginx -t on n->conf: the exit status; *out gets its output (malloc'd). */
int nh_test_conf(nh_nginx *n, char **out);

/* Start nginx on the written configuration; waits until it listens. 0 or -1. */
int nh_start(nh_nginx *n);
/* nginx -s reload (re-reads the configuration; keys, Redis URL…). 0 or -1. */
int nh_reload(nh_nginx *n);
/* Stop (SIGQUIT: graceful) and wait. */
void nh_stop(nh_nginx *n);

#endif
