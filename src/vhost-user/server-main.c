// SPDX-License-Identifier: GPL-2.0-only
/*
 * Standalone kestrel-vhost-user binary, until `kestrel vhost-user` calls
 * vhost_user_cmd_main() from src/main.c.
 */
#include <kestrel/vhost-user.h>

int main(int argc, char **argv)
{
	return vhost_user_cmd_main(argc, argv);
}
