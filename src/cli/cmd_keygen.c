/* cmd_keygen.c — `taap keygen`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_keygen_help[] = "usage: taap keygen ...\n\n(not implemented yet)\n";

int cmd_keygen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
