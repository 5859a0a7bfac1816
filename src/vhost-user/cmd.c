// SPDX-License-Identifier: GPL-2.0-only
/*
 * `kestrel vhost-user` once src/main.c has parsed its options: create the
 * device with the vDPA management API and serve it until SIGINT/SIGTERM,
 * under the vhost-user thread's seccomp filter from the first accept on.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <kestrel/landlock.h>
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

/*
 * Before the device (and its worker thread) exists: the socket's directory,
 * where the server replaces and at the end removes its socket, and the
 * files the device opens and the sockets it binds (vsock's listener). A front-end's memory comes as fds: no path.
 */
static int cmd_confine(const char *path, const struct vdpa_mgmt_dev *mdev,
		       const void *config)
{
	struct landlock *ll;
	int ret;

	ret = landlock_create(&ll);
	if (!ret)
		ret = landlock_allow_socket(path, ll);
	if (!ret)
		ret = vdpa_mgmt_files(mdev, config, landlock_allow_file, ll);
	if (!ret)
		ret = vdpa_mgmt_sockets(mdev, config, landlock_allow_socket, ll);
	if (ret)
		pr_err("landlock: cannot allow the socket's directory or the device's files: %s",
		       strerror(-ret));
	else
		ret = landlock_apply(ll);
	landlock_destroy(ll);
	return ret;
}

int vhost_user_serve(const char *path, const char *spec,
		     const struct vhost_user_server_opts *opts)
{
	_Alignas(max_align_t) u8 config[VDPA_CONFIG_MAX];
	struct sigaction sa = { .sa_handler = cmd_on_signal };
	struct vdpa_mgmt_dev *mdev;
	struct vdpa_device *vdpa;
	int ret;

	ret = vdpa_mgmt_parse(spec, &mdev, config, sizeof(config));
	if (!ret && opts && opts->landlock) {
		ret = cmd_confine(path, mdev, config);
		if (ret)
			return ret;
	}
	if (!ret)
		ret = vdpa_mgmt_dev_add_config(mdev, config, &vdpa);
	if (ret) {
		pr_err("--device '%s': %s", spec, strerror(-ret));
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	ret = vhost_user_server_create(path, vdpa, opts, &cmd_server);
	if (ret == -EADDRINUSE)
		pr_err("--socket '%s': a server is already listening there (expected a free path or a stale socket)",
		       path);
	else if (ret == -ENOTSOCK)
		pr_err("--socket '%s': exists and is not a socket (expected a free path or a stale socket)",
		       path);
	else if (ret)
		pr_err("--socket '%s': cannot listen there: %s", path, strerror(-ret));
	if (ret) {
		/* A path that cannot work is a bad argument; a busy one is not. */
		if (ret != -EADDRINUSE && ret != -ENOMEM && ret != -EMFILE &&
		    ret != -ENFILE)
			ret = -EINVAL;
		goto out_del;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opts && opts->ready)
		opts->ready(opts->ready_arg);
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
