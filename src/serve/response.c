/*
 * response.c — how handlers answer (T-Mobile's error model, OAuth errors,
 * JSON bodies) and how they read a request's headers. Transport-free.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"
#include "util.h"

void srv_response_free(srv_response *r)
{
    free(r->body);
    free(r->www_authenticate);
    free(r->explanation);
    free(r->set_cookie);
    memset(r, 0, sizeof *r);
}

void srv_json_text(srv_response *r, unsigned status, char *text)
{
    r->status = status;
    r->content_type = "application/json";
    if (!text) {
        r->status = 500;
        text = strdup("{\"code\":\"500\",\"userMessage\":\"Internal Server Error\","
                      "\"systemMessage\":\"out of memory\"}");
    }
    free(r->body);
    r->body = text;
    r->body_len = text ? strlen(text) : 0;
}

void srv_json(srv_response *r, unsigned status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    srv_json_text(r, status, text);
}

/* userMessage defaults: T-Mobile's wording for the statuses the API uses. */
static const char *user_message(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Invalid Access Token";
    case 403: return "Access Denied";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

const char *srv_status_text(unsigned st)
{
    switch (st) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

void srv_error(srv_response *r, unsigned status, const char *user, const char *fmt, ...)
{
    char sys[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sys, sizeof sys, fmt, ap);
    va_end(ap);
    char code[8];
    snprintf(code, sizeof code, "%u", status);
    srv_json(r, status,
             json_pack("{s:s, s:s, s:s}", "code", code, "userMessage",
                       user ? user : user_message(status), "systemMessage", sys));
}

void srv_sanitize_desc(char *d)
{
    for (; *d; d++) {
        unsigned char c = (unsigned char)*d;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            *d = '\'';
    }
}

void srv_oauth_error(srv_response *r, unsigned status, const char *scheme, const char *error,
                     const char *fmt, ...)
{
    char desc[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof desc, fmt, ap);
    va_end(ap);
    srv_sanitize_desc(desc);
    srv_json(r, status, json_pack("{s:s, s:s}", "error", error, "error_description", desc));
    r->no_store = 1;
    if (status == 401 && scheme)
        srv_challenge(r, scheme, error, desc);
}

void srv_challenge(srv_response *r, const char *scheme, const char *error, const char *desc)
{
    size_t cap = strlen(scheme) + strlen(error ? error : "") + strlen(desc ? desc : "") + 64;
    char *h = malloc(cap);
    if (h && error)
        snprintf(h, cap, "%s realm=\"taap\", error=\"%s\", error_description=\"%s\"", scheme,
                 error, desc ? desc : "");
    else if (h)
        snprintf(h, cap, "%s realm=\"taap\"", scheme);
    free(r->www_authenticate);
    r->www_authenticate = h;
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

const char *srv_auth_credentials(const char *value, const char *scheme, size_t *len)
{
    size_t sl = strlen(scheme);
    const char *p = value;
    while (ows(*p))
        p++;
    if (taap_ascii_ncasecmp(p, scheme, sl) != 0 || !ows(p[sl]))
        return NULL;
    p += sl;
    while (ows(*p))
        p++;
    size_t n = strlen(p);
    while (n && ows(p[n - 1]))
        n--;
    *len = n;
    return p;
}

size_t srv_header(const srv_request *rq, const char *name, const char **value)
{
    size_t n = 0;
    *value = NULL;
    for (size_t i = 0; i < rq->n_headers; i++)
        if (taap_ascii_casecmp(rq->headers[i].name, name) == 0) {
            n++;
            *value = rq->headers[i].value;
        }
    return n;
}
