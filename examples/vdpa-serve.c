// SPDX-License-Identifier: GPL-2.0-only
/*
 * vdpa-serve: a device made by libkestrel-vdpa, served over vhost-user.
 *
 *   vdpa-serve --socket PATH [--device SPEC] [--once]
 *
 * Creates a device from SPEC (default "net": frames the front-end sends
 * come back to it), listens on PATH and serves front-ends until SIGINT or
 * SIGTERM (with --once: until the first one left). As each front-end
 * leaves, the library logs what every queue moved ("vq N: packets=...").
 *
 * Built outside kestrel's tree, against the installed library only:
 *
 *   cc -o vdpa-serve vdpa-serve.c $(pkg-config --cflags --libs kestrel-vdpa)
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <kestrel/vdpa.h>
#include <kestrel/vhost-user.h>

static struct vhost_user_server *server;

static void on_signal(int sig __attribute__((unused)))
{
	vhost_user_server_stop(server);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "once", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct vhost_user_server_opts opts = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *path = NULL, *spec = "net";
	struct vdpa_device *dev;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'd': spec = optarg; break;
		case 'o': opts.once = true; break;
		default: return 2;
		}
	}
	if (!path || optind != argc) {
		fprintf(stderr, "usage: %s --socket PATH [--device SPEC] [--once]\n", argv[0]);
		return 2;
	}

	ret = vdpa_register_types();
	if (!ret)
		ret = vdpa_mgmt_dev_add(spec, &dev);	/* a bad spec is logged */
	if (ret) {
		fprintf(stderr, "%s: --device '%s': %s\n", argv[0], spec, strerror(-ret));
		return 1;
	}
	ret = vhost_user_server_create(path, dev, &opts, &server);
	if (ret) {
		fprintf(stderr, "%s: --socket '%s': %s\n", argv[0], path, strerror(-ret));
		vdpa_mgmt_dev_del(dev);
		return 1;
	}
	printf("serving %s (virtio device %u, %u queues) on %s\n", dev->name,
	       vdpa_get_device_id(dev), dev->nvqs, path);
	fflush(stdout);

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = vhost_user_server_run(server);
	if (ret)
		fprintf(stderr, "%s: the server failed: %s\n", argv[0], strerror(-ret));
	printf("%u front-end(s) served\n", vhost_user_server_connections(server));
	vhost_user_server_destroy(server);
	vdpa_mgmt_dev_del(dev);
	return ret ? 1 : 0;
}
