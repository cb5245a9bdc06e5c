/* cli_help.c — help texts and getopt tables from one option table (cli_help.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_help.h"
#include "cli_options.h"

#define DEFAULT_COLUMN 24

static int is_short(int key)
{
    return key > ' ' && key < 0x7f;
}

/* "  -k, --name ARG", "  --name ARG" or, aligned, "      --name ARG". */
static int print_label(const cli_opt *o, int indent_long, FILE *out)
{
    int n = 0;
    if (is_short(o->key))
        n = fprintf(out, "  -%c, --%s", o->key, o->name);
    else
        n = fprintf(out, "%s--%s", indent_long ? "      " : "  ", o->name);
    if (o->arg)
        n += fprintf(out, " %s", o->arg);
    return n;
}

/* The text at `column`, each '\n' starting a line indented to it. */
static void print_text(const char *text, int used, int column, FILE *out)
{
    if (used + 2 > column)
        fputs("  ", out);
    else
        fprintf(out, "%*s", column - used, "");
    for (const char *p = text; *p; p++) {
        fputc(*p, out);
        if (*p == '\n' && p[1])
            fprintf(out, "%*s", column, "");
    }
    fputc('\n', out);
}

void cli_help_print(const cli_help *h, FILE *out)
{
    fputs(h->intro, out);
    for (const cli_opt_group *g = h->groups; g < h->groups + CLI_HELP_MAX_GROUPS && g->opts; g++) {
        if (g->title)
            fprintf(out, "%s\n", g->title);
        int column = g->column ? g->column : DEFAULT_COLUMN;
        for (const cli_opt *o = g->opts; o->name; o++)
            if (o->help)
                print_text(o->help, print_label(o, g->align_long, out), column, out);
        if (g->note)
            fputs(g->note, out);
    }
    if (h->outro)
        fputs(h->outro, out);
}

void cli_parser_init(cli_parser *p, const cli_help *h)
{
    size_t nl = 0, ns = 0;
    memset(p, 0, sizeof *p);
    p->help = h;
    p->shorts[ns++] = ':'; /* getopt reports a missing value as ':' and prints nothing */
    for (const cli_opt_group *g = h->groups; g < h->groups + CLI_HELP_MAX_GROUPS && g->opts; g++)
        for (const cli_opt *o = g->opts; o->name && nl < CLI_PARSER_MAX_OPTS; o++) {
            int has = !o->arg ? no_argument : o->arg[0] == '[' ? optional_argument : required_argument;
            p->longs[nl++] = (struct option){o->name, has, NULL, o->key};
            if (is_short(o->key) && !strchr(p->shorts + 1, o->key)) {
                p->shorts[ns++] = (char)o->key;
                if (has != no_argument)
                    p->shorts[ns++] = ':';
                if (has == optional_argument)
                    p->shorts[ns++] = ':';
            }
        }
    optind = 1;
    opterr = 0;
}

int cli_next_option(cli_parser *p, int argc, char **argv)
{
    int index = -1;
    int c = getopt_long(argc, argv, p->shorts, p->longs, &index);
    int is_help = index >= 0 ? strcmp(p->longs[index].name, "help") == 0 : 0;
    for (const struct option *o = p->longs; !is_help && index < 0 && c > 0 && o->name; o++)
        is_help = o->val == c && strcmp(o->name, "help") == 0;
    if (is_help) {
        cli_help_print(p->help, stdout);
        exit(CLI_EXIT_OK);
    }
    return c;
}

int cli_parser_bad(const cli_parser *p, int c, char **argv)
{
    return cli_bad_option(c, argv, p->longs);
}
