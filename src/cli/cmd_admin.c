/* cmd_admin.c — `taap admin`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_admin_help[] = "usage: taap admin ...\n\n(not implemented yet)\n";

int cmd_admin(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
