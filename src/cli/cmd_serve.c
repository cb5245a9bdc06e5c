/* cmd_serve.c — `taap serve`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_serve_help[] = "usage: taap serve ...\n\n(not implemented yet)\n";

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
