/* cmd_run.c — `taap run`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_run_help[] = "usage: taap run ...\n\n(not implemented yet)\n";

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
