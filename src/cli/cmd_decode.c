/* cmd_decode.c — `taap decode`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_decode_help[] = "usage: taap decode ...\n\n(not implemented yet)\n";

int cmd_decode(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
