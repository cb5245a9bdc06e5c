/*
 * plan.c — which requests run and what each should return: the --folder
 * selection (name, id or path), the token request found on the way, the
 * status expectation of a request without test scripts (--expect-status,
 * else 2xx; with test scripts their assertions decide, script.c).
 */
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* ---- expectations ---------------------------------------------------------------- */

int pm_parse_ranges(const char *s, pm_range *out, size_t *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*n >= MAX_RANGES)
            return -1;
        if (p[0] >= '1' && p[0] <= '5' && (p[1] == 'x' || p[1] == 'X') &&
            (p[2] == 'x' || p[2] == 'X')) {
            out[*n].lo = (p[0] - '0') * 100;
            out[*n].hi = out[*n].lo + 99;
            (*n)++;
            p += 3;
        } else {
            char *e;
            long lo = strtol(p, &e, 10), hi = lo;
            if (e == p || lo < 100 || lo > 599)
                return -1;
            p = e;
            if (*p == '-') {
                hi = strtol(p + 1, &e, 10);
                if (e == p + 1 || hi < lo || hi > 599)
                    return -1;
                p = e;
            }
            out[*n].lo = (int)lo;
            out[*n].hi = (int)hi;
            (*n)++;
        }
        if (*p && *p != ',' && *p != ' ')
            return -1;
    }
    return *n ? 0 : -1;
}

int pm_status_ok(pm_run *cx, const pm_plan_item *pi, long status, char *expect, size_t cap)
{
    if (cx->n_ranges) {
        snprintf(expect, cap, "%s", cx->o->expect_status);
        for (size_t i = 0; i < cx->n_ranges; i++)
            if (status >= cx->ranges[i].lo && status <= cx->ranges[i].hi)
                return 1;
        return 0;
    }
    if (pi->si.n_status) {
        size_t off = 0;
        int ok = 0;
        expect[0] = '\0';
        for (size_t i = 0; i < pi->si.n_status; i++) {
            int w = snprintf(expect + off, cap - off, "%s%d", i ? "," : "", pi->si.status[i]);
            if (w > 0 && (size_t)w < cap - off)
                off += (size_t)w;
            if (status == pi->si.status[i])
                ok = 1;
        }
        return ok;
    }
    snprintf(expect, cap, "2xx");
    return status >= 200 && status <= 299;
}


/* ---- planning ------------------------------------------------------------------------ */

static int path_eq(const char *item_path, const char *sel)
{
    /* item paths are "A / B / C"; a selection may say "A/B/C" */
    const char *p = item_path, *s = sel;
    while (*p && *s) {
        if (!strncmp(p, " / ", 3) && *s == '/') {
            p += 3;
            s++;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return !*p && !*s;
}

static int selected(const taap_run_options *o, const pm_item *it, int *hits)
{
    if (!o->n_folders)
        return 1;
    for (const pm_item *p = it; p && p->parent; p = p->parent)
        for (size_t i = 0; i < o->n_folders; i++) {
            const char *s = o->folders[i];
            if (!strcmp(p->name, s) || (p->id && !strcmp(p->id, s)) || path_eq(p->path, s)) {
                hits[i]++;
                return 1;
            }
        }
    return 0;
}

void pm_plan_mark_hits(const taap_run_options *o, const pm_item *it, int *hits)
{
    for (size_t i = 0; i < o->n_folders; i++) {
        const char *s = o->folders[i];
        if (!strcmp(it->name, s) || (it->id && !strcmp(it->id, s)) || path_eq(it->path, s))
            hits[i]++;
    }
    for (size_t k = 0; k < it->n_children; k++)
        pm_plan_mark_hits(o, &it->children[k], hits);
}

static void analyze_chain(const pm_item *it, pm_script_info *out)
{
    /* token captures from the test scripts of the item and its ancestors
     * (collection and folder tests run for every item). Status checks in
     * scripts are not read here: the scripts run in the sandbox, which
     * decides (issue 12: no native status-check shortcut). */
    pm_script_info acc;
    memset(&acc, 0, sizeof acc);
    for (const pm_item *p = it; p; p = p->parent) {
        pm_script_info si;
        pm_script_analyze(p->test, &si);
        for (size_t i = 0; i < si.n_caps && acc.n_caps < 8; i++)
            acc.caps[acc.n_caps++] = si.caps[i];
    }
    *out = acc;
}

static int is_token_item(const pm_item *it, const pm_script_info *si)
{
    if (pm_is_token_url(it->url))
        return 1;
    for (size_t i = 0; i < si->n_caps; i++)
        if (si->caps[i].field == PM_F_ACCESS)
            return 1;
    return 0;
}

static int plan_add(pm_run *cx, const pm_item *it, size_t *cap)
{
    if (cx->n_plan == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        pm_plan_item *p = realloc(cx->plan, nc * sizeof *p);
        if (!p)
            return -1;
        cx->plan = p;
        *cap = nc;
    }
    pm_plan_item *pi = &cx->plan[cx->n_plan++];
    memset(pi, 0, sizeof *pi);
    pi->it = it;
    analyze_chain(it, &pi->si);
    pi->is_token = is_token_item(it, &pi->si);
    if (it == cx->token_item)
        cx->token_in_plan = 1;
    pi->jsrsasign = pm_is_jsrsasign_url(it->url);
    return 0;
}

int pm_plan_walk(pm_run *cx, const pm_item *it, int *hits, size_t *cap)
{
    for (size_t k = 0; k < it->n_children; k++) {
        const pm_item *ch = &it->children[k];
        if (ch->is_folder) {
            if (pm_plan_walk(cx, ch, hits, cap))
                return -1;
        } else {
            if (!cx->token_item) {
                pm_script_info si;
                analyze_chain(ch, &si);
                if (is_token_item(ch, &si) && !pm_is_jsrsasign_url(ch->url)) {
                    cx->token_item = ch;
                    cx->token_si = si;
                }
            }
            if (selected(cx->o, ch, hits) && plan_add(cx, ch, cap))
                return -1;
        }
    }
    return 0;
}
