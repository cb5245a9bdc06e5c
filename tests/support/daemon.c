/* daemon.c — see daemon.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

unsigned dm_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    unsigned port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

pid_t dm_spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int in = open("/dev/null", O_RDONLY);
    int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0)
        _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    setpgid(0, 0); /* a signal to the test's group does not hit the server twice */
    execvp(argv[0], argv);
    dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int try_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
    return rc;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int dm_wait_port(unsigned port, pid_t pid, int ms)
{
    for (int waited = 0; waited <= ms; waited += 10) {
        if (try_connect(port) == 0)
            return 0;
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "daemon: process %d exited before listening on port %u\n", (int)pid,
                    port);
            return -1;
        }
        nap_ms(10);
    }
    fprintf(stderr, "daemon: nothing listens on 127.0.0.1:%u after %d ms\n", port, ms);
    return -1;
}

int dm_wait_port_closed(unsigned port, int ms)
{
    for (int waited = 0; waited <= ms; waited += 10) {
        if (try_connect(port) != 0)
            return 0;
        nap_ms(10);
    }
    fprintf(stderr, "daemon: 127.0.0.1:%u still accepts after %d ms\n", port, ms);
    return -1;
}

int dm_stop(pid_t pid, int sig, int ms)
{
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    int st = 0;
    for (int waited = 0; waited <= ms; waited += 10) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        nap_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return st;
}

int dm_have(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", d, prog);
        if (access(full, X_OK) == 0)
            return 1;
    }
    return 0;
}
