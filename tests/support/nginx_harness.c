/* nginx_harness.c — see nginx_harness.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "nginx_harness.h"
#include "testutil.h"

const char *nh_module_path(void)
{
    static char path[1024];
    const char *build = getenv("TAAP_BUILD");
    snprintf(path, sizeof path, "%s/nginx-module/ngx_http_taap_module.so", build ? build : ".");
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "nginx_harness: %s not built (make nginx-module; needs nginx-dev)\n",
                path);
        return NULL;
    }
    return path;
}

int nh_write_conf(nh_nginx *n, const char *dir, const char *taap_lines, unsigned upstream_port)
{
    const char *mod = nh_module_path();
    if (!mod)
        return -1;
    if (!n->port)
        n->port = dm_free_port();
    snprintf(n->dir, sizeof n->dir, "%s", dir);
    snprintf(n->conf, sizeof n->conf, "%s/nginx.conf", dir);
    snprintf(n->error_log, sizeof n->error_log, "%s/error.log", dir);
    snprintf(n->access_log, sizeof n->access_log, "%s/access.log", dir);
    snprintf(n->base, sizeof n->base, "http://127.0.0.1:%u", n->port);
    char logs[600];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    mkdir(logs, 0755);
    FILE *f = fopen(n->conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "load_module %s;\n"
            "%s"
            "worker_processes %u;\n"
            "error_log %s info;\n"
            "pid %s/nginx.pid;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            "  log_format taap '$request_method $request_uri $status client=$taap_client_id "
            "jti=$taap_jti result=$taap_result';\n"
            "  access_log %s taap;\n"
            "  client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
            "  fastcgi_temp_path %s/fastcgi; uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
            "  client_max_body_size 16m;\n"
            "  client_body_buffer_size 16k;\n"
            "  server {\n"
            "    listen 127.0.0.1:%u;\n"
            "    %s\n"
            "    location / {\n"
            "      proxy_pass http://127.0.0.1:%u;\n"
            "      proxy_set_header X-Taap-Client-Id $taap_client_id;\n"
            "      proxy_set_header X-Taap-Result $taap_result;\n"
            "    }\n"
            "    location /open/ { taap off; proxy_pass http://127.0.0.1:%u; }\n"
            "  }\n"
            "}\n",
            mod, geteuid() == 0 ? "user root;\n" : "", n->workers ? n->workers : 2u, n->error_log, dir, n->access_log, dir, dir,
            dir, dir, dir, n->port, taap_lines, upstream_port, upstream_port);
    return fclose(f) == 0 ? 0 : -1;
}

int nh_test_conf(nh_nginx *n, char **out)
{
    char *argv[] = {"nginx", "-t", "-p", n->dir, "-c", n->conf, "-g", "daemon off;", NULL};
    char nginx_path[64] = "/usr/sbin/nginx";
    argv[0] = nginx_path;
    return tu_run(argv, NULL, NULL, out);
}

int nh_start(nh_nginx *n)
{
    char *argv[] = {"/usr/sbin/nginx", "-p", n->dir, "-c", n->conf, "-g", "daemon off;", NULL};
    char log[700];
    snprintf(log, sizeof log, "%s/nginx.out", n->dir);
    n->pid = dm_spawn(argv, log);
    if (n->pid < 0 || dm_wait_port(n->port, n->pid, 20000) != 0) {
        fprintf(stderr, "nginx_harness: nginx did not start; error log %s:\n", n->error_log);
        char *e = tu_read(n->error_log, NULL);
        fprintf(stderr, "%s\n", e);
        free(e);
        return -1;
    }
    return 0;
}

int nh_reload(nh_nginx *n)
{
    char *argv[] = {"/usr/sbin/nginx", "-p", n->dir, "-c", n->conf, "-g", "daemon off;",
                    "-s", "reload", NULL};
    char *err = NULL;
    int rc = tu_run(argv, NULL, NULL, &err);
    if (rc != 0)
        fprintf(stderr, "nginx_harness: reload failed: %s\n", err ? err : "");
    free(err);
    return rc == 0 ? 0 : -1;
}

void nh_stop(nh_nginx *n)
{
    if (n->pid > 0)
        dm_stop(n->pid, SIGQUIT, 20000);
    n->pid = 0;
}
