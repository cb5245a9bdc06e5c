/* cmd_profile.c — `taap profile`. NOT YET IMPLEMENTED: placeholder so the command
 * table links; replaced by the real command. */
#include "cli.h"

const char cmd_profile_help[] = "usage: taap profile ...\n\n(not implemented yet)\n";

int cmd_profile(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("not implemented yet");
    return CLI_EXIT_FAIL;
}
