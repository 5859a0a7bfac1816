// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-console (virtio 1.2 §5.3) with one port and no MULTIPORT:
 * receiveq (0) carries bytes read from the input descriptor to the guest,
 * transmitq (1) carries the guest's output to the output descriptor.
 *
 * The input descriptor sits in the worker's epoll set, edge-triggered: new
 * input wakes a pass, and a pass reads only while both input is ready
 * (poll with a zero timeout, so a blocking descriptor never blocks the
 * worker) and the guest has posted buffers. When the buffers run out the
 * rest waits in the descriptor; the kick that posts buffers runs the next
 * pass. Descriptors epoll refuses (regular files) are read on every pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>

#include "devices.h"
#include "swdev/swdev.h"

#define CONSOLE_RXQ		0
#define CONSOLE_TXQ		1

/**
 * struct vdpa_console - the device
 * @sw: software-device core (first: freed through it)
 * @in_fd: input (our duplicate), or -1; closed at EOF
 * @out_fd: output (our duplicate), or -1
 * @in_polled: @in_fd is in the worker's epoll set
 * @rl: rate limit of output errors
 */
struct vdpa_console {
	struct swdev sw;
	int in_fd;
	int out_fd;
	bool in_polled;
	struct ratelimit rl;
};

static struct vdpa_console *to_console(struct swdev *sw)
{
	return container_of(sw, struct vdpa_console, sw);
}

static void console_close_input(struct vdpa_console *con)
{
	if (con->in_fd < 0)
		return;
	if (con->in_polled)
		epoll_ctl(con->sw.epfd, EPOLL_CTL_DEL, con->in_fd, NULL);
	close(con->in_fd);
	con->in_fd = -1;
	con->in_polled = false;
}

static bool console_input_ready(struct vdpa_console *con)
{
	struct pollfd pfd = { .fd = con->in_fd, .events = POLLIN };

	if (con->in_fd < 0)
		return false;
	if (!con->in_polled)
		return true;
	return poll(&pfd, 1, 0) > 0;
}

/* Guest output: each chain's readable bytes, in order. */
static int console_tx_chain(struct swdev *sw, struct swdev_vq *vq, u16 head,
			    u32 *len)
{
	struct vdpa_console *con = to_console(sw);
	size_t total = 0;

	for (unsigned int i = 0; i < vq->riov.used; i++) {
		const u8 *p = vq->riov.iov[i].iov_base;
		size_t left = vq->riov.iov[i].iov_len;

		while (left && con->out_fd >= 0) {
			ssize_t n = write(con->out_fd, p, left);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (ratelimit_allow(&con->rl))
					pr_warn("%s: console output: %s",
						sw->vdpa.name,
						n < 0 ? strerror(errno) : "short write");
				vq->stats.errors++;
				left = 0;
				break;
			}
			p += n;
			left -= (size_t)n;
			total += (size_t)n;
		}
	}
	vq->stats.packets++;
	vq->stats.bytes += total;
	return SWDEV_USED;
}

/* Host input into the guest's receive buffers, while there is any. */
static int console_rx_chain(struct swdev *sw, struct swdev_vq *vq, u16 head,
			    u32 *len)
{
	struct vdpa_console *con = to_console(sw);
	ssize_t n;

	if (!console_input_ready(con))
		return SWDEV_STALL;
	do {
		n = readv(con->in_fd, vq->wiov.iov, (int)vq->wiov.used);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* EOF or a dead descriptor: no more input, ever. */
		if (!(n < 0 && errno == EAGAIN))
			console_close_input(con);
		return SWDEV_STALL;
	}
	*len = (u32)n;
	vq->stats.packets++;
	vq->stats.bytes += (u64)n;
	return SWDEV_USED;
}

static bool console_work(struct swdev *sw)
{
	bool more = swdev_vq_service(sw, &sw->vqs[CONSOLE_TXQ], SWDEV_CHAIN_IN,
				     console_tx_chain);

	/* Input wakes the worker through its fd in the epoll set. */
	if (!console_input_ready(to_console(sw)))
		return more;
	return swdev_vq_service(sw, &sw->vqs[CONSOLE_RXQ], SWDEV_CHAIN_OUT,
				console_rx_chain) || more;
}

static void console_update_config(struct swdev *sw)
{
	struct virtio_console_config cfg = {
		.max_nr_ports = cpu_to_le32(1),
	};

	memcpy(sw->config, &cfg, sizeof(cfg));
}

static void console_free(struct swdev *sw)
{
	struct vdpa_console *con = to_console(sw);

	/* The worker is gone and the epoll fd closed by now. */
	if (con->in_fd >= 0)
		close(con->in_fd);
	if (con->out_fd >= 0)
		close(con->out_fd);
	free(con);
}

int vdpa_console_create(const char *name, int in_fd, int out_fd,
			struct vdpa_device **out)
{
	const struct swdev_attr attr = {
		.device_id = VIRTIO_ID_CONSOLE,
		.nvqs = 2,
		.ngroups = 1,
		.nas = 1,
		.config_size = sizeof(struct virtio_console_config),
		.features = SWDEV_FEATURES,
		.work = console_work,
		.update_config = console_update_config,
		.free = console_free,
		.seccomp = SECCOMP_THREAD_DEV_CONSOLE,
	};
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLET,
		.data.u64 = SWDEV_EV_BACKEND,
	};
	struct vdpa_console *con;
	int ret;

	if (!out || out_fd < 0)
		return -EINVAL;
	con = xzalloc(sizeof(*con));
	if (!con)
		return -ENOMEM;
	con->in_fd = con->out_fd = -1;
	con->rl = (struct ratelimit)RATELIMIT_INIT;
	ret = swdev_init(&con->sw, &attr);
	if (ret)
		goto err_destroy;
	con->out_fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
	if (con->out_fd < 0) {
		ret = -errno;
		goto err_destroy;
	}
	if (in_fd >= 0) {
		con->in_fd = fcntl(in_fd, F_DUPFD_CLOEXEC, 3);
		if (con->in_fd < 0) {
			ret = -errno;
			goto err_destroy;
		}
		if (epoll_ctl(con->sw.epfd, EPOLL_CTL_ADD, con->in_fd, &ev) == 0)
			con->in_polled = true;
		else if (errno != EPERM) {
			ret = -errno;
			goto err_destroy;
		}
	}
	ret = swdev_register(&con->sw, name);
	if (ret)
		goto err_destroy;
	*out = &con->sw.vdpa;
	return 0;

err_destroy:
	pr_err("vdpa: cannot create console: %s", strerror(-ret));
	swdev_destroy(&con->sw);
	return ret;
}

static int console_dev_add(struct vdpa_mgmt_dev *mdev,
			   const void *config,
			   struct vdpa_device **out)
{
	return vdpa_console_create(((const struct vdpa_dev_args *)config)->name,
				   STDIN_FILENO, STDOUT_FILENO, out);
}

struct vdpa_mgmt_dev vdpa_console_mgmt_dev = {
	.type = "console",
	.description = "virtio-console, one port on stdin/stdout",
	.device_id = VIRTIO_ID_CONSOLE,
	.config_size = sizeof(struct vdpa_dev_args),
	.dev_add = console_dev_add,
};
