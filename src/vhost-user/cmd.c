// SPDX-License-Identifier: GPL-2.0-only
/*
 * `kestrel vhost-user` once src/main.c has parsed its options: create the
 * device with the vDPA management API and serve it until SIGINT/SIGTERM,
 * under the vhost-user thread's seccomp filter from the first accept on.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <kestrel/log.h>
#include <kestrel/sandbox.h>
#include <kestrel/vdpa.h>
#include <kestrel/vhost-user.h>

static struct vhost_user_server *cmd_server;

static void cmd_on_signal(int sig)
{
	if (cmd_server)
		vhost_user_server_stop(cmd_server);
}

int vhost_user_serve(const char *path, const char *spec,
		     const struct vhost_user_server_opts *opts)
{
	struct sigaction sa = { .sa_handler = cmd_on_signal };
	struct vdpa_device *vdpa;
	int ret;

	ret = vdpa_mgmt_dev_add(spec, &vdpa);
	if (ret) {
		pr_err("--device '%s': %s", spec, strerror(-ret));
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	ret = vhost_user_server_create(path, vdpa, opts, &cmd_server);
	if (ret) {
		pr_err("--socket '%s': %s", path, strerror(-ret));
		goto out_del;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Set up: the socket listens, the device's worker runs. */
	seccomp_thread_enter(SECCOMP_THREAD_VHOST_USER);
	ret = vhost_user_server_run(cmd_server);
	if (ret)
		pr_err("vhost-user: event loop failed: %s", strerror(-ret));
	/* Stats of a connected front-end are logged as it is dropped. */
	vhost_user_server_destroy(cmd_server);
	cmd_server = NULL;
out_del:
	vdpa_mgmt_dev_del(vdpa);
	return ret;
}
