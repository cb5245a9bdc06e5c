/*
 * daemon.h — start the real servers a test drives (redis-server, nginx) as
 * child processes on loopback ports chosen at run time, wait until they
 * accept connections (bounded), stop them. Used by the gateway tests.
 */
#ifndef TAAP_TEST_DAEMON_H
#define TAAP_TEST_DAEMON_H

#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
 * released). Servers that cannot take port 0 themselves are started on it. */
unsigned dm_free_port(void);

/* fork + exec argv (argv[0] a program looked up in PATH) with stdout and
 * stderr appended to `log_path`, stdin /dev/null. Returns the pid or -1. */
pid_t dm_spawn(char *const argv[], const char *log_path);

/* Wait until 127.0.0.1:port accepts a connection, for at most `ms`
 * milliseconds, and while `pid` (if > 0) is alive. 0 when it does, -1 if
 * the process died or the time ran out (a line on stderr says which). */
int dm_wait_port(unsigned port, pid_t pid, int ms);

/* Wait until 127.0.0.1:port refuses connections (at most `ms`). 0 or -1. */
int dm_wait_port_closed(unsigned port, int ms);

/* Send `sig` to pid and wait for it (at most `ms`, then SIGKILL). Returns the
 * wait status, or -1 if pid <= 0. */
int dm_stop(pid_t pid, int sig, int ms);

/* 1 if `prog` is found in PATH (or is an executable path). */
int dm_have(const char *prog);

#endif
