/* cmd_pop.c — `taap pop`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_pop_help[] = "usage: taap pop ...\n\n(not implemented yet)\n";

int cmd_pop(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
