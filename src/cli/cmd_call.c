/* cmd_call.c — `taap call`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_call_help[] = "usage: taap call ...\n\n(not implemented yet)\n";

int cmd_call(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
