/*
 * files.c — the files a request body reads (form-data file parts, a binary
 * body), found the way Newman's file resolver finds them: relative to the
 * working directory (--working-dir, else the current one), `.` and `..`
 * resolved on the text; with --no-insecure-file-read only paths inside it.
 * A file that cannot be read is not an error of the run: Newman warns
 * (its console) and sends the request without it, and so does taap — the
 * reason is worded as Newman words it, so the two runs read alike.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

#define PPERM_ERR "PPERM: insecure file access outside working directory"

/* `path` with "." and ".." segments and repeated slashes removed, in place
 * (an absolute path; ".." at the root stays at the root, as path.resolve). */
static void normalise(char *path)
{
    char *out = path, *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - seg);
        if (n == 0 || (n == 1 && seg[0] == '.'))
            continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > path && *--out != '/')
                ;
            continue;
        }
        *out++ = '/';
        memmove(out, seg, n);
        out += n;
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

/* The working directory as an absolute, normalised path (malloc'd). */
static char *working_dir(const pm_run *cx)
{
    const char *wd = cx->o->working_dir;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "/");
    pm_buf b = {0};
    if (!wd || wd[0] != '/') {
        pm_buf_puts(&b, cwd);
        pm_buf_put(&b, "/", 1);
    }
    pm_buf_puts(&b, wd ? wd : "");
    char *r = pm_buf_take(&b);
    if (r)
        normalise(r);
    return r;
}

/* 1 if `path` is `dir` or below it (both normalised, absolute). */
static int inside(const char *path, const char *dir)
{
    size_t dl = strlen(dir);
    if (dl == 1)
        return 1; /* "/" */
    return !strncmp(path, dir, dl) && (path[dl] == '/' || path[dl] == '\0');
}

/* Symlinks resolved, still inside? (taap refuses a link that leads out of
 * the working directory, which Newman's text-only check lets through.) */
static int inside_real(const char *path, const char *dir)
{
    char *rp = realpath(path, NULL), *rd = realpath(dir, NULL);
    int in = !rp || !rd || inside(rp, rd);
    free(rp);
    free(rd);
    return in;
}

char *pm_file_resolve(const pm_run *cx, const char *src, char *why, size_t cap)
{
    if (!src || !*src) {
        snprintf(why, cap, "invalid or missing file source");
        return NULL;
    }
    char *wd = working_dir(cx);
    pm_buf b = {0};
    if (src[0] != '/' && wd) {
        pm_buf_puts(&b, wd);
        pm_buf_put(&b, "/", 1);
    }
    pm_buf_puts(&b, src);
    char *path = pm_buf_take(&b);
    if (!path || !wd) {
        snprintf(why, cap, "out of memory");
        free(wd);
        free(path);
        return NULL;
    }
    normalise(path);
    int refused = cx->o->no_insecure_file_read && (!inside(path, wd) || !inside_real(path, wd));
    free(wd);
    struct stat st;
    if (refused)
        snprintf(why, cap, "%s", PPERM_ERR);
    else if (stat(path, &st) != 0)
        snprintf(why, cap, errno == ENOENT ? "\"%.200s\", no such file" : "\"%.200s\", %s", src,
                 strerror(errno));
    else if (!S_ISREG(st.st_mode))
        snprintf(why, cap, "\"%.200s\", is not a file", src);
    else if (access(path, R_OK) != 0)
        snprintf(why, cap, "\"%.200s\", read permission denied", src);
    else
        return path;
    free(path);
    return NULL;
}

void pm_built_warn(pm_built *b, const char *msg)
{
    if (b->warnings.len)
        pm_buf_put(&b->warnings, "\n", 1);
    pm_buf_puts(&b->warnings, msg);
}

/* The type Newman's HTTP client gives a file it sends (a form-data file
 * part without contentType, a binary body without Content-Type): looked up
 * by extension in mime-db, application/octet-stream when unknown. The
 * common part of that table. */
const char *pm_file_mime(const char *path)
{
    static const char *const map[][2] = {
        {"json", "application/json"}, {"txt", "text/plain"}, {"csv", "text/csv"},
        {"tsv", "text/tab-separated-values"}, {"xml", "application/xml"},
        {"html", "text/html"}, {"htm", "text/html"}, {"js", "application/javascript"},
        {"mjs", "application/javascript"}, {"css", "text/css"}, {"md", "text/markdown"},
        {"yaml", "text/yaml"}, {"yml", "text/yaml"}, {"png", "image/png"},
        {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
        {"svg", "image/svg+xml"}, {"webp", "image/webp"}, {"ico", "image/vnd.microsoft.icon"},
        {"pdf", "application/pdf"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
        {"tar", "application/x-tar"}, {"pem", "application/x-x509-ca-cert"},
        {"der", "application/x-x509-ca-cert"}, {"crt", "application/x-x509-ca-cert"},
        {"wav", "audio/wave"}, {"mp3", "audio/mpeg"}, {"mp4", "video/mp4"},
        {"doc", "application/msword"}, {"xls", "application/vnd.ms-excel"},
    };
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    if (dot && dot[1])
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (taap_ascii_casecmp(dot + 1, map[i][0]) == 0)
                return map[i][1];
    return "application/octet-stream";
}
