/* cmd_verify.c — `taap verify`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_verify_help[] = "usage: taap verify ...\n\n(not implemented yet)\n";

int cmd_verify(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
