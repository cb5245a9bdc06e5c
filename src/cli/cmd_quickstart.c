/* cmd_quickstart.c — `taap quickstart`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_quickstart_help[] = "usage: taap quickstart ...\n\n(not implemented yet)\n";

int cmd_quickstart(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
