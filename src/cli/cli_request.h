/*
 * cli_request.h — curl-like request flags shared by `taap pop`, `taap verify`
 * and `taap call`, turned into a taap_request for the library.
 *
 *   -X, --request METHOD          method as sent (default GET, POST when a body is given)
 *   -H, --header 'Name: value'    repeatable, order kept; 'Name:' removes a header
 *                                 (also a default one), 'Name;' sends it empty (curl)
 *   -d, --data STRING|@FILE|@-    body; from a file or stdin CR and LF are stripped
 *                                 (exactly like curl, so a PoP made here matches what
 *                                 `curl -d @FILE` sends); repeated -d join with '&'
 *       --data-raw STRING         like -d, but a leading '@' is literal
 *       --data-binary STRING|@FILE|@-   body bytes exactly; a single @FILE is streamed
 *       --url URL                 the URL (same as the positional argument)
 *   URL | /path?query             positional: a full URL or the request target
 *
 * Content-Type default — a deliberate difference from curl: when a body
 * option is given and no Content-Type header is, the request gets
 * `Content-Type: application/json` (TAAP APIs speak JSON; SPEC §5 makes it the
 * default for API calls), unless the command passes CLI_REQ_CURL_FORM, which
 * gives curl's `application/x-www-form-urlencoded`. `-H 'Content-Type:'`
 * sends none at all. Whatever is chosen is in the taap_request, so what is
 * signed is what is sent.
 *
 * Use from a command's option loop (the command's option table, cli_help.h,
 * lists -X, -H, -d, --data-raw, --data-binary and --url with these keys):
 *
 *     while ((c = cli_next_option(&p, argc, argv)) != -1) {
 *         switch (c) {
 *         case OPT_JSON: ...; break;
 *         default:
 *             switch (cli_request_option(&rq, c, optarg)) {
 *             case 1: break;                                  // taken
 *             case 0: return cli_parser_bad(&p, c, argv);     // not a request flag
 *             default: return CLI_EXIT_USAGE;                 // bad value, printed
 *             }
 *         }
 *     }
 *     for (; optind < argc; optind++) if (cli_request_target(&rq, argv[optind]) != 0) …exit 2
 *     int rc = cli_request_finish(&rq, 0);   // 0 or an exit status, message printed
 *     … use rq.req (a taap_request) …
 *     cli_request_free(&rq);
 *
 * Everything rq.req points to is owned by `rq` and lives until
 * cli_request_free(). Messages go to stderr through cli_errorf().
 */
#ifndef TAAP_CLI_REQUEST_H
#define TAAP_CLI_REQUEST_H

#include <getopt.h>
#include <stddef.h>
#include "taap/request.h"

/* Option codes for the long-only flags (outside the char range). */
enum {
    CLI_REQ_OPT_DATA_BINARY = 0x2101,
    CLI_REQ_OPT_DATA_RAW,
    CLI_REQ_OPT_URL,
};

/* Limits: reject, never truncate. */
#define CLI_REQ_MAX_HEADERS 200
#define CLI_REQ_MAX_HEADER_LEN 16384
/* Bodies that must be assembled in memory (-d @FILE, several -d, @- with
 * CLI_REQ_STDIN_MEMORY); a single --data-binary @FILE is streamed instead. */
#define CLI_REQ_MAX_MEMORY_BODY ((size_t)256 << 20)

/* Flags for cli_request_finish(). */
#define CLI_REQ_CURL_FORM 0x1u    /* body without Content-Type → x-www-form-urlencoded (curl) */
#define CLI_REQ_STDIN_MEMORY 0x2u /* read @- into memory (else a streamed callback, length -1) */
#define CLI_REQ_NO_TARGET 0x4u    /* the URL is optional (the command has another source) */

/* One body option, in command-line order. */
typedef struct cli_req_part {
    int kind;      /* internal: literal / file / stdin, stripped or raw */
    char *text;    /* literal bytes (owned) */
    size_t len;
    const char *path; /* file name (argv memory) */
} cli_req_part;

typedef struct cli_request {
    /* Parsed flags (read-only for commands). */
    const char *method;        /* -X, or NULL */
    const char *target;        /* URL or path, or NULL */
    taap_header *headers;      /* -H in order, owned copies */
    size_t n_headers;
    char **suppressed;         /* 'Name:' entries */
    size_t n_suppressed;
    cli_req_part *parts;       /* -d/--data-* in order */
    size_t n_parts;

    /* Set by cli_request_finish(): the request to sign, verify or send. */
    taap_request req;
    int has_body_option;       /* a -d/--data-* flag was given (even an empty one) */

    /* internal */
    char *memory_body;
    size_t memory_len;
    taap_header *final_headers;
    size_t n_final_headers;
} cli_request;

/* Zero the struct. */
void cli_request_init(cli_request *r);

/*
 * Offer one getopt_long result. Returns 1 when the option is a request flag
 * and was taken, 0 when it is not one of ours (the caller reports it), -1
 * when it is ours but its value is bad (already reported: exit 2).
 */
int cli_request_option(cli_request *r, int opt, const char *arg);

/* The positional URL/path. Returns 0, or -1 (reported) on a second URL or a
 * malformed one. */
int cli_request_target(cli_request *r, const char *arg);

/*
 * Resolve defaults and bodies into r->req: method (GET, or POST with a body),
 * the default Content-Type, suppressed headers removed, the body as
 * TAAP_BODY_NONE / MEMORY / FILE (one --data-binary @FILE, streamed) /
 * CALLBACK (--data-binary @- unless CLI_REQ_STDIN_MEMORY). Returns 0, or an
 * exit status after printing why: 2 (usage: no URL, …) or 31 (TAAP_E_IO: a
 * body file cannot be read or is over the in-memory limit).
 */
int cli_request_finish(cli_request *r, unsigned flags);

/* Release everything (NULL-safe; safe after a failed finish). */
void cli_request_free(cli_request *r);

#endif
