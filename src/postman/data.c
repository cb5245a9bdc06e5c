/*
 * data.c — iteration data (`taap run -d`): a JSON array of flat objects or
 * CSV per RFC 4180. Every value stays a string exactly as written: Newman
 * casts unquoted CSV numbers to doubles and so corrupts 19–20 digit ICCIDs
 * (newman#1215); we never do. JSON number literals are kept as their text
 * too, for the same reason.
 */
#include <stdlib.h>
#include <string.h>

#include "pm.h"

#define DATA_MAX_COLUMNS 4096
#define DATA_MAX_ROWS 10000000u

struct taap_iterdata {
    char **cols;      /* column names */
    size_t n_cols;
    char **cells;     /* n_rows * n_cols, NULL = absent */
    size_t n_rows, cap_rows;
};

void taap_iterdata_free(taap_iterdata *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_cols; i++)
        free(d->cols[i]);
    for (size_t i = 0; i < d->n_rows * d->n_cols; i++)
        free(d->cells[i]);
    free(d->cols);
    free(d->cells);
    free(d);
}

size_t taap_iterdata_rows(const taap_iterdata *d)
{
    return d ? d->n_rows : 0;
}

const char *taap_iterdata_get(const taap_iterdata *d, size_t row, const char *key)
{
    if (!d || row >= d->n_rows || !key)
        return NULL;
    for (size_t c = 0; c < d->n_cols; c++)
        if (strcmp(d->cols[c], key) == 0)
            return d->cells[row * d->n_cols + c];
    return NULL;
}

/* Internal: the row as a scope (for the resolver). */
int pm_iterdata_scope(const taap_iterdata *d, size_t row, pm_scope *out);
int pm_iterdata_scope(const taap_iterdata *d, size_t row, pm_scope *out)
{
    if (!d || d->n_rows == 0)
        return 0;
    if (row >= d->n_rows)
        row = d->n_rows - 1; /* Newman reuses the last row when -n is larger */
    for (size_t c = 0; c < d->n_cols; c++) {
        const char *v = d->cells[row * d->n_cols + c];
        if (v && pm_scope_set(out, d->cols[c], v, 0) != 0)
            return -1;
    }
    return 0;
}

static int col_index(taap_iterdata *d, const char *name, size_t len)
{
    for (size_t c = 0; c < d->n_cols; c++)
        if (strlen(d->cols[c]) == len && memcmp(d->cols[c], name, len) == 0)
            return (int)c;
    return -1;
}

static int add_col(taap_iterdata *d, const char *name, size_t len)
{
    if (d->n_rows) /* columns are fixed once rows exist (JSON adds them first) */
        return -1;
    if (d->n_cols >= DATA_MAX_COLUMNS)
        return -1;
    char **c = realloc(d->cols, (d->n_cols + 1) * sizeof *c);
    if (!c)
        return -1;
    d->cols = c;
    if (!(d->cols[d->n_cols] = taap_strndup(name, len)))
        return -1;
    return (int)d->n_cols++;
}

static char **new_row(taap_iterdata *d)
{
    if (d->n_rows >= DATA_MAX_ROWS)
        return NULL;
    if (d->n_rows == d->cap_rows) {
        size_t cap = d->cap_rows ? d->cap_rows * 2 : 64;
        char **c = realloc(d->cells, cap * (d->n_cols ? d->n_cols : 1) * sizeof *c);
        if (!c)
            return NULL;
        d->cells = c;
        d->cap_rows = cap;
    }
    char **row = d->cells + d->n_rows * d->n_cols;
    for (size_t i = 0; i < d->n_cols; i++)
        row[i] = NULL;
    d->n_rows++;
    return row;
}

/* ---- CSV ------------------------------------------------------------------ */

typedef struct csv_field {
    char *s;
    size_t len;
} csv_field;

/* Parse one record starting at *pos; fills fields (malloc'd). Returns the
 * number of fields, 0 at end of input, -1 on error (msg set). */
static void free_fields(csv_field *f, size_t n);

static long csv_record_inner(const char *t, size_t n, size_t *pos, size_t *line,
                             csv_field **fields, size_t *cap, const char **msg, size_t *nf_out);

/* One record; on error the fields already read are freed. */
static long csv_record(const char *t, size_t n, size_t *pos, size_t *line, csv_field **fields,
                       size_t *cap, const char **msg)
{
    size_t nf = 0;
    long r = csv_record_inner(t, n, pos, line, fields, cap, msg, &nf);
    if (r < 0)
        free_fields(*fields, nf);
    return r;
}

static long csv_record_inner(const char *t, size_t n, size_t *pos, size_t *line,
                             csv_field **fields, size_t *cap, const char **msg, size_t *nf_out)
{
    size_t i = *pos, nf = 0;
    if (i >= n)
        return 0;
    for (;;) {
        pm_buf b = {0};
        /* leading blanks of an unquoted field are trimmed (Newman: trim:true) */
        size_t j = i;
        while (j < n && (t[j] == ' ' || t[j] == '\t'))
            j++;
        if (j < n && t[j] == '"') {
            size_t start_line = *line;
            i = j + 1;
            for (;;) {
                if (i >= n) {
                    pm_buf_free(&b);
                    *line = start_line;
                    *msg = "unterminated quoted field";
                    return -1;
                }
                if (t[i] == '"') {
                    if (i + 1 < n && t[i + 1] == '"') {
                        pm_buf_put(&b, "\"", 1);
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (t[i] == '\n')
                    (*line)++;
                pm_buf_put(&b, t + i, 1);
                i++;
            }
            while (i < n && (t[i] == ' ' || t[i] == '\t'))
                i++;
            if (i < n && t[i] != ',' && t[i] != '\n' && t[i] != '\r') {
                pm_buf_free(&b);
                *msg = "text after a closing quote (use \"\" for a quote inside a field)";
                return -1;
            }
        } else {
            size_t s = i;
            while (i < n && t[i] != ',' && t[i] != '\n' && t[i] != '\r')
                i++;
            size_t a = s, e = i;
            while (a < e && (t[a] == ' ' || t[a] == '\t'))
                a++;
            while (e > a && (t[e - 1] == ' ' || t[e - 1] == '\t'))
                e--;
            pm_buf_put(&b, t + a, e - a);
        }
        if (b.failed) {
            pm_buf_free(&b);
            *msg = "out of memory";
            return -1;
        }
        if (nf == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            if (nc > DATA_MAX_COLUMNS * 2) {
                pm_buf_free(&b);
                *msg = "too many fields in a record";
                return -1;
            }
            csv_field *f = realloc(*fields, nc * sizeof *f);
            if (!f) {
                pm_buf_free(&b);
                *msg = "out of memory";
                return -1;
            }
            *fields = f;
            *cap = nc;
        }
        (*fields)[nf].len = b.len;
        (*fields)[nf].s = pm_buf_take(&b);
        if (!(*fields)[nf].s) {
            *msg = "out of memory";
            return -1;
        }
        nf++;
        *nf_out = nf;
        if (i < n && t[i] == ',') {
            i++;
            continue;
        }
        /* end of record: CRLF, LF or lone CR */
        if (i < n && t[i] == '\r')
            i++;
        if (i < n && t[i] == '\n')
            i++;
        (*line)++;
        break;
    }
    *pos = i;
    return (long)nf;
}

static void free_fields(csv_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].s);
}

static taap_code parse_csv(taap_iterdata *d, const char *t, size_t n, taap_error *err)
{
    size_t pos = 0, line = 1, cap = 0;
    csv_field *f = NULL;
    const char *msg = NULL;
    int header = 1;
    for (;;) {
        size_t rec_line = line;
        long nf = csv_record(t, n, &pos, &line, &f, &cap, &msg);
        if (nf < 0) {
            free(f);
            return taap_fail(err, TAAP_E_CONFIG, "iteration data, CSV line %zu: %s", rec_line, msg);
        }
        if (nf == 0)
            break;
        /* skip blank lines */
        if (nf == 1 && f[0].len == 0) {
            free_fields(f, 1);
            continue;
        }
        if (header) {
            for (long i = 0; i < nf; i++) {
                if (f[i].len == 0 || col_index(d, f[i].s, f[i].len) >= 0 ||
                    add_col(d, f[i].s, f[i].len) < 0) {
                    const char *why = f[i].len == 0 ? "an empty column name"
                                                    : "a duplicate column name or too many";
                    free_fields(f, (size_t)nf);
                    free(f);
                    return taap_fail(err, TAAP_E_CONFIG,
                                     "iteration data, CSV line %zu: header has %s", rec_line, why);
                }
            }
            header = 0;
            free_fields(f, (size_t)nf);
            continue;
        }
        char **row = new_row(d);
        if (!row) {
            free_fields(f, (size_t)nf);
            free(f);
            return taap_fail(err, TAAP_E_CONFIG, "iteration data: too many rows or out of memory");
        }
        /* relax_column_count: extra fields dropped, missing ones absent */
        for (long i = 0; i < nf; i++) {
            if ((size_t)i < d->n_cols)
                row[i] = f[i].s;
            else
                free(f[i].s);
        }
    }
    free(f);
    if (header)
        return taap_fail(err, TAAP_E_CONFIG, "iteration data: the CSV file is empty (no header row)");
    return TAAP_OK;
}

/* ---- JSON ------------------------------------------------------------------ */

/* Quote every number literal outside strings so jansson keeps its text
 * (an ICCID has more digits than a double holds, and 20 digits overflow
 * int64). The text is otherwise unchanged. */
static char *quote_numbers(const char *t, size_t n)
{
    pm_buf b = {0};
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (in_str) {
            pm_buf_put(&b, &c, 1);
            if (c == '\\' && i + 1 < n) {
                pm_buf_put(&b, t + i + 1, 1);
                i++;
            } else if (c == '"') {
                in_str = 0;
            }
            continue;
        }
        if (c == '"') {
            in_str = 1;
            pm_buf_put(&b, &c, 1);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t s = i;
            while (i < n && (strchr("+-.eE", t[i]) || (t[i] >= '0' && t[i] <= '9')))
                i++;
            pm_buf_put(&b, "\"", 1);
            pm_buf_put(&b, t + s, i - s);
            pm_buf_put(&b, "\"", 1);
            i--;
        } else {
            pm_buf_put(&b, &c, 1);
        }
    }
    return pm_buf_take(&b);
}

static taap_code parse_json(taap_iterdata *d, const char *t, size_t n, taap_error *err)
{
    char *q = quote_numbers(t, n);
    if (!q)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    json_error_t je;
    json_t *root = json_loads(q, JSON_REJECT_DUPLICATES, &je);
    free(q);
    if (!root)
        return taap_fail(err, TAAP_E_CONFIG, "iteration data: bad JSON at line %d: %s", je.line,
                         je.text);
    if (!json_is_array(root)) {
        json_decref(root);
        return taap_fail(err, TAAP_E_CONFIG, "iteration data: JSON must be an array of objects");
    }
    size_t i;
    json_t *row;
    /* first pass: the union of keys, in order of appearance */
    json_array_foreach(root, i, row) {
        if (!json_is_object(row)) {
            json_decref(root);
            return taap_fail(err, TAAP_E_CONFIG, "iteration data: element %zu is not an object", i);
        }
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
            if (col_index(d, k, strlen(k)) < 0 && add_col(d, k, strlen(k)) < 0) {
                json_decref(root);
                return taap_fail(err, TAAP_E_CONFIG, "iteration data: too many columns");
            }
        }
    }
    json_array_foreach(root, i, row) {
        char **cells = new_row(d);
        if (!cells) {
            json_decref(root);
            return taap_fail(err, TAAP_E_CONFIG, "iteration data: too many rows or out of memory");
        }
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
            int c = col_index(d, k, strlen(k));
            cells[c] = pm_json_to_string(v);
            if (!cells[c]) {
                json_decref(root);
                return taap_fail(err, TAAP_E_NOMEM, "out of memory");
            }
        }
    }
    json_decref(root);
    return TAAP_OK;
}

static taap_code iterdata_parse_impl(const char *text, size_t len, taap_iterdata **out, taap_error *err)
{
    *out = NULL;
    if (!text)
        return taap_fail(err, TAAP_E_USAGE, "iteration data: no text");
    if (len > TAAP_ITERDATA_MAX_BYTES)
        return taap_fail(err, TAAP_E_CONFIG, "iteration data: larger than %u bytes",
                         TAAP_ITERDATA_MAX_BYTES);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    taap_iterdata *d = calloc(1, sizeof *d);
    if (!d)
        return taap_fail(err, TAAP_E_NOMEM, "out of memory");
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    taap_code rc = (i < len && text[i] == '[') ? parse_json(d, text, len, err)
                                                : parse_csv(d, text, len, err);
    if (rc != TAAP_OK) {
        taap_iterdata_free(d);
        return rc;
    }
    *out = d;
    return TAAP_OK;
}

taap_code taap_iterdata_parse(const char *text, size_t len, taap_iterdata **out, taap_error *err)
{
    taap_code rc = iterdata_parse_impl(text, len, out, err);
    if (rc != TAAP_OK)
        pm_err_oneline(err);
    return rc;
}

taap_code taap_iterdata_load(const char *path, taap_iterdata **out, taap_error *err)
{
    char *buf;
    size_t len;
    *out = NULL;
    taap_code rc = taap_read_file(path, TAAP_ITERDATA_MAX_BYTES, 0, &buf, &len, err);
    if (rc != TAAP_OK)
        return rc;
    rc = taap_iterdata_parse(buf, len, out, err);
    free(buf);
    return rc == TAAP_OK ? rc : pm_err_prefix(err, rc, path);
}
