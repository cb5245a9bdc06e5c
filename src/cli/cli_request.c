/* cli_request.c — curl-like request flags → taap_request (see cli_request.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_request.h"
#include "util.h"

enum {
    PART_LITERAL = 1,  /* -d STRING, --data-raw, --data-binary STRING */
    PART_FILE_STRIP,   /* -d @FILE: CR and LF removed, as curl does */
    PART_FILE_RAW,     /* --data-binary @FILE */
    PART_STDIN_STRIP,  /* -d @- */
    PART_STDIN_RAW,    /* --data-binary @- */
};

void cli_request_init(cli_request *r)
{
    memset(r, 0, sizeof *r);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) {
        cli_errorf("out of memory");
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* -H 'Name: value' | 'Name:' (suppress) | 'Name;' (empty value). */
static int add_header(cli_request *r, const char *arg)
{
    size_t len = strlen(arg);
    if (len > CLI_REQ_MAX_HEADER_LEN) {
        cli_errorf("header is %zu bytes: at most %d are allowed", len, CLI_REQ_MAX_HEADER_LEN);
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if (arg[i] == '\r' || arg[i] == '\n') {
            cli_errorf("header '%.40s…' contains a line break: one header per -H", arg);
            return -1;
        }
    size_t nlen = strcspn(arg, ":;");
    if (arg[nlen] == '\0') {
        cli_errorf("header '%.64s' has no ':': write -H 'Name: value'", arg);
        return -1;
    }
    if (!taap_is_token(arg, nlen)) {
        cli_errorf("header name '%.*s' is not a valid HTTP field name", (int)(nlen > 64 ? 64 : nlen),
                   arg);
        return -1;
    }
    const char *v = arg + nlen + 1;
    if (arg[nlen] == ';') {
        /* curl: "Name;" sends the header with an empty value. */
        if (*v) {
            cli_errorf("header '%.64s': use 'Name: value' (a ';' form sends an empty header)", arg);
            return -1;
        }
    } else {
        while (*v == ' ' || *v == '\t')
            v++;
    }
    size_t vlen = strlen(v);
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    if (arg[nlen] == ':' && vlen == 0) {
        /* curl: "Name:" removes the header, including one we would add. */
        char **s = realloc(r->suppressed, (r->n_suppressed + 1) * sizeof *s);
        if (!s) {
            cli_errorf("out of memory");
            return -1;
        }
        r->suppressed = s;
        if (!(s[r->n_suppressed] = dup_n(arg, nlen)))
            return -1;
        r->n_suppressed++;
        return 1;
    }
    if (r->n_headers >= CLI_REQ_MAX_HEADERS) {
        cli_errorf("more than %d -H headers", CLI_REQ_MAX_HEADERS);
        return -1;
    }
    taap_header *h = realloc(r->headers, (r->n_headers + 1) * sizeof *h);
    if (!h) {
        cli_errorf("out of memory");
        return -1;
    }
    r->headers = h;
    char *name = dup_n(arg, nlen), *value = name ? dup_n(v, vlen) : NULL;
    if (!name || !value) {
        free(name);
        return -1;
    }
    h[r->n_headers].name = name;
    h[r->n_headers].value = value;
    r->n_headers++;
    return 1;
}

static int add_part(cli_request *r, int opt, const char *arg)
{
    cli_req_part p = {0};
    int at = opt != CLI_REQ_OPT_DATA_RAW && arg[0] == '@';
    int binary = opt == CLI_REQ_OPT_DATA_BINARY;
    if (at && strcmp(arg, "@-") == 0) {
        p.kind = binary ? PART_STDIN_RAW : PART_STDIN_STRIP;
        for (size_t i = 0; i < r->n_parts; i++)
            if (r->parts[i].kind == PART_STDIN_RAW || r->parts[i].kind == PART_STDIN_STRIP) {
                cli_errorf("stdin (@-) can be read only once");
                return -1;
            }
    } else if (at) {
        if (!arg[1]) {
            cli_errorf("'@' needs a file name (or @- for stdin)");
            return -1;
        }
        p.kind = binary ? PART_FILE_RAW : PART_FILE_STRIP;
        p.path = arg + 1;
    } else {
        p.kind = PART_LITERAL;
        p.len = strlen(arg);
        if (!(p.text = dup_n(arg, p.len)))
            return -1;
    }
    cli_req_part *np = realloc(r->parts, (r->n_parts + 1) * sizeof *np);
    if (!np) {
        free(p.text);
        cli_errorf("out of memory");
        return -1;
    }
    r->parts = np;
    r->parts[r->n_parts++] = p;
    r->has_body_option = 1;
    return 1;
}

int cli_request_target(cli_request *r, const char *arg)
{
    if (r->target) {
        cli_errorf("more than one URL ('%.64s' and '%.64s'): give exactly one", r->target, arg);
        return -1;
    }
    if (!*arg) {
        cli_errorf("the URL is empty");
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)arg; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) {
            cli_errorf("URL '%.64s' contains a space or control character: percent-encode it",
                       arg);
            return -1;
        }
    const char *scheme = strstr(arg, "://");
    if (arg[0] != '/' && !(scheme && scheme > arg && scheme < arg + strcspn(arg, "/?#"))) {
        cli_errorf("'%.64s' is neither a URL (https://host/path) nor a path starting with '/'",
                   arg);
        return -1;
    }
    r->target = arg;
    return 0;
}

int cli_request_option(cli_request *r, int opt, const char *arg)
{
    switch (opt) {
    case 'X':
        if (!taap_is_token(arg, strlen(arg))) {
            cli_errorf("method '%.32s' is not a valid HTTP method token", arg);
            return -1;
        }
        r->method = arg;
        return 1;
    case 'H':
        return add_header(r, arg);
    case 'd':
    case CLI_REQ_OPT_DATA_BINARY:
    case CLI_REQ_OPT_DATA_RAW:
        return add_part(r, opt, arg);
    case CLI_REQ_OPT_URL:
        return cli_request_target(r, arg) == 0 ? 1 : -1;
    default:
        return 0;
    }
}

/* Append `n` bytes to the in-memory body, bounded. */
static int mem_append(cli_request *r, size_t *cap, const void *p, size_t n)
{
    if (n > CLI_REQ_MAX_MEMORY_BODY - r->memory_len) {
        cli_errorf("request body over %zu MiB cannot be assembled in memory: send one file with "
                   "--data-binary @FILE, which is streamed",
                   CLI_REQ_MAX_MEMORY_BODY >> 20);
        return TAAP_E_IO;
    }
    if (r->memory_len + n > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < r->memory_len + n)
            nc *= 2;
        char *b = realloc(r->memory_body, nc);
        if (!b) {
            cli_errorf("out of memory");
            return CLI_EXIT_FAIL;
        }
        r->memory_body = b;
        *cap = nc;
    }
    if (n)
        memcpy(r->memory_body + r->memory_len, p, n);
    r->memory_len += n;
    return 0;
}

/* Read a file (or stdin, fd 0) into the memory body; `strip` drops CR/LF. */
static int mem_read_fd(cli_request *r, size_t *cap, int fd, const char *what, int strip)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_errorf("cannot read %s: %s", what, strerror(errno));
            return TAAP_E_IO;
        }
        if (n == 0)
            return 0;
        size_t m = (size_t)n;
        if (strip) {
            size_t o = 0;
            for (size_t i = 0; i < m; i++)
                if (buf[i] != '\r' && buf[i] != '\n')
                    buf[o++] = buf[i];
            m = o;
        }
        int rc = mem_append(r, cap, buf, m);
        if (rc)
            return rc;
    }
}

static int open_body_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_errorf("cannot read body file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_errorf("body file %s is a directory", path);
        close(fd);
        return -1;
    }
    return fd;
}

static ssize_t stdin_read(void *ctx, void *buf, size_t cap)
{
    (void)ctx;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

static int suppressed(const cli_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_suppressed; i++)
        if (taap_ascii_casecmp(r->suppressed[i], name) == 0)
            return 1;
    return 0;
}

static int has_header(const cli_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (taap_ascii_casecmp(r->headers[i].name, name) == 0)
            return 1;
    return 0;
}

static int resolve_body(cli_request *r, unsigned flags)
{
    taap_body *b = &r->req.body;
    memset(b, 0, sizeof *b);
    if (r->n_parts == 0) {
        b->kind = TAAP_BODY_NONE;
        return 0;
    }
    if (r->n_parts == 1 && r->parts[0].kind == PART_FILE_RAW) {
        /* The one case that is streamed from disk: check it opens now so
         * the error is about the flag, not a failure halfway through. */
        int fd = open_body_file(r->parts[0].path);
        if (fd < 0)
            return TAAP_E_IO;
        close(fd);
        b->kind = TAAP_BODY_FILE;
        b->path = r->parts[0].path;
        return 0;
    }
    if (r->n_parts == 1 && r->parts[0].kind == PART_STDIN_RAW && !(flags & CLI_REQ_STDIN_MEMORY)) {
        b->kind = TAAP_BODY_CALLBACK;
        b->len = -1;
        b->read = stdin_read;
        return 0;
    }
    /* Everything else is assembled in memory; several parts join with '&'
     * like curl's repeated -d. */
    size_t cap = 0;
    for (size_t i = 0; i < r->n_parts; i++) {
        const cli_req_part *p = &r->parts[i];
        int rc = 0;
        if (i && (rc = mem_append(r, &cap, "&", 1)) != 0)
            return rc;
        switch (p->kind) {
        case PART_LITERAL:
            rc = mem_append(r, &cap, p->text, p->len);
            break;
        case PART_FILE_STRIP:
        case PART_FILE_RAW: {
            int fd = open_body_file(p->path);
            if (fd < 0)
                return TAAP_E_IO;
            rc = mem_read_fd(r, &cap, fd, p->path, p->kind == PART_FILE_STRIP);
            close(fd);
            break;
        }
        case PART_STDIN_STRIP:
        case PART_STDIN_RAW:
            rc = mem_read_fd(r, &cap, STDIN_FILENO, "stdin", p->kind == PART_STDIN_STRIP);
            break;
        }
        if (rc)
            return rc;
    }
    b->kind = TAAP_BODY_MEMORY;
    b->data = r->memory_body ? r->memory_body : "";
    b->len = (int64_t)r->memory_len;
    return 0;
}

int cli_request_finish(cli_request *r, unsigned flags)
{
    if (!r->target && !(flags & CLI_REQ_NO_TARGET)) {
        cli_errorf("no URL given: add the URL or path to sign, e.g. https://host/path?query");
        return CLI_EXIT_USAGE;
    }
    int rc = resolve_body(r, flags);
    if (rc)
        return rc;
    /* Headers as sent: the -H list minus suppressed names, plus the default
     * Content-Type for a body. */
    free(r->final_headers);
    r->final_headers = calloc(r->n_headers + 1, sizeof *r->final_headers);
    if (!r->final_headers) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    size_t n = 0;
    for (size_t i = 0; i < r->n_headers; i++)
        if (!suppressed(r, r->headers[i].name))
            r->final_headers[n++] = r->headers[i];
    if (r->has_body_option && !has_header(r, "Content-Type") && !suppressed(r, "Content-Type")) {
        r->final_headers[n].name = "Content-Type";
        r->final_headers[n].value = (flags & CLI_REQ_CURL_FORM)
                                        ? "application/x-www-form-urlencoded"
                                        : "application/json";
        n++;
    }
    r->n_final_headers = n;
    r->req.method = r->method ? r->method : r->has_body_option ? "POST" : "GET";
    r->req.target = r->target;
    r->req.headers = r->final_headers;
    r->req.n_headers = n;
    return 0;
}

void cli_request_free(cli_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_headers; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    for (size_t i = 0; i < r->n_suppressed; i++)
        free(r->suppressed[i]);
    free(r->suppressed);
    for (size_t i = 0; i < r->n_parts; i++)
        free(r->parts[i].text);
    free(r->parts);
    free(r->memory_body);
    free(r->final_headers);
    memset(r, 0, sizeof *r);
}
