// SPDX-License-Identifier: GPL-2.0-only
/*
 * `kestrel vhost-user --socket PATH --device TYPE[,attr=value...]`: create a
 * device with the vDPA management API and serve it until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>
#include <kestrel/vhost-user.h>

static struct vhost_user_server *cmd_server;

static void cmd_on_signal(int sig)
{
	if (cmd_server)
		vhost_user_server_stop(cmd_server);
}

static void cmd_usage(void)
{
	pr_err("usage: vhost-user --socket PATH --device TYPE[,attr=value...] [--iommu] [--mem-slots N] [--once] [-v]\n"
	       "  TYPE: net (attrs name, mac, mtu, max_vqp, poll, mode=loop|sink|gen|null, gen_len;\n"
	       "        loop: TX frames come back on RX; sink: TX counted and dropped;\n"
	       "        gen: RX buffers filled with gen_len-byte frames (default 64), TX as sink;\n"
	       "        null: TX counted in drops, RX never filled),\n"
	       "        blk (RAM disk: name, capacity, ro, serial),\n"
	       "        file-blk (path, ro, serial), tap (path=IFNAME, mac, mtu), console, rng");
}

int vhost_user_cmd_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "device",	required_argument,	NULL, 'd' },
		{ "iommu",	no_argument,		NULL, 'i' },
		{ "mem-slots",	required_argument,	NULL, 'm' },
		{ "once",	no_argument,		NULL, 'o' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ 0 }
	};
	struct vhost_user_server_opts opts = { 0 };
	const char *sock = NULL, *spec = NULL;
	struct sigaction sa = { .sa_handler = cmd_on_signal };
	struct vdpa_device *vdpa;
	int c, ret, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:d:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'd':
			spec = optarg;
			break;
		case 'i':
			opts.iommu = true;
			break;
		case 'm': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 0);

			if (*end || !n || n > VHOST_USER_SERVER_MEM_SLOTS) {
				pr_err("--mem-slots: expected 1..%u, got '%s'",
				       VHOST_USER_SERVER_MEM_SLOTS, optarg);
				return 2;
			}
			opts.max_mem_slots = (unsigned int)n;
			break;
		}
		case 'o':
			opts.once = true;
			break;
		case 'v':
			log_level_set(LOG_DEBUG);
			break;
		case 'h':
			cmd_usage();
			return 0;
		default:
			cmd_usage();
			return 2;
		}
	}
	if (!sock || !spec || optind != argc) {
		if (optind != argc)
			pr_err("unexpected argument '%s'", argv[optind]);
		else
			pr_err("--socket and --device are required");
		cmd_usage();
		return 2;
	}

	ret = vdpa_register_types();
	if (!ret)
		ret = vdpa_mgmt_dev_add(spec, &vdpa);
	if (ret) {
		pr_err("--device '%s': %s", spec, strerror(-ret));
		return 2;
	}
	ret = vhost_user_server_create(sock, vdpa, &opts, &cmd_server);
	if (ret) {
		pr_err("--socket '%s': %s", sock, strerror(-ret));
		goto out_del;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = vhost_user_server_run(cmd_server);
	if (ret)
		pr_err("vhost-user: event loop failed: %s", strerror(-ret));
	else
		status = 0;
	/* Stats of a connected front-end are logged as it is dropped. */
	vhost_user_server_destroy(cmd_server);
	cmd_server = NULL;
out_del:
	vdpa_mgmt_dev_del(vdpa);
	return status;
}
