/* cmd_token.c — `taap token`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_token_help[] = "usage: taap token ...\n\n(not implemented yet)\n";

int cmd_token(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
