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
#include "sim/internal.h"

#define CONSOLE_RXQ		0
#define CONSOLE_TXQ		1

/**
 * struct vdpa_console - the device
 * @sim: simulator core (first: freed through it)
 * @in_fd: input (our duplicate), or -1; closed at EOF
 * @out_fd: output (our duplicate), or -1
 * @in_polled: @in_fd is in the worker's epoll set
 * @rl: rate limit of output errors
 */
struct vdpa_console {
	struct vdpasim sim;
	int in_fd;
	int out_fd;
	bool in_polled;
	struct ratelimit rl;
};

static struct vdpa_console *to_console(struct vdpasim *sim)
{
	return container_of(sim, struct vdpa_console, sim);
}

static void console_close_input(struct vdpa_console *con)
{
	if (con->in_fd < 0)
		return;
	if (con->in_polled)
		epoll_ctl(con->sim.epfd, EPOLL_CTL_DEL, con->in_fd, NULL);
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
static bool console_tx(struct vdpa_console *con)
{
	struct vdpasim *sim = &con->sim;
	struct vdpasim_vq *vq = &sim->vqs[CONSOLE_TXQ];
	unsigned int budget = VDPASIM_BUDGET;
	int ret;

	if (!vq->started)
		return false;
	vringh_notify_disable(&vq->vring);
	while (!vdpa_needs_reset(&sim->vdpa)) {
		size_t total = 0;
		u16 head;

		if (!budget--)
			return true;
		ret = vringh_getdesc(&vq->vring, &vq->riov, NULL, &head);
		if (ret == 0) {
			if (vdpasim_vq_rearm(sim, vq))
				continue;
			break;
		}
		if (ret == -ENOMEM)
			return true;
		if (ret < 0) {
			vdpasim_vq_error(sim, vq, ret);
			break;
		}
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
							sim->vdpa.name,
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
		ret = vringh_complete(&vq->vring, head, 0);
		if (ret) {
			vdpasim_vq_error(sim, vq, ret);
			break;
		}
		vq->stats.packets++;
		vq->stats.bytes += total;
	}
	if (!vdpa_needs_reset(&sim->vdpa))
		vdpasim_vq_notify(sim, vq);
	return false;
}

/* Host input into the guest's receive buffers. */
static bool console_rx(struct vdpa_console *con)
{
	struct vdpasim *sim = &con->sim;
	struct vdpasim_vq *vq = &sim->vqs[CONSOLE_RXQ];
	unsigned int budget = VDPASIM_BUDGET;
	bool more = false;
	int ret;

	if (!vq->started)
		return false;
	while (!vdpa_needs_reset(&sim->vdpa) && console_input_ready(con)) {
		ssize_t n;
		u16 head;

		if (!budget--) {
			more = true;
			break;
		}
		ret = vringh_getdesc(&vq->vring, NULL, &vq->wiov, &head);
		if (ret == 0) {
			/* No buffer: a kick will bring one (and another pass). */
			ret = vringh_notify_enable(&vq->vring);
			if (ret == 1)
				continue;
			if (ret < 0)
				vdpasim_vq_error(sim, vq, ret);
			break;
		}
		if (ret == -ENOMEM) {
			more = true;
			break;
		}
		if (ret < 0) {
			vdpasim_vq_error(sim, vq, ret);
			break;
		}
		do {
			n = readv(con->in_fd, vq->wiov.iov, (int)vq->wiov.used);
		} while (n < 0 && errno == EINTR);
		if (n <= 0) {
			vringh_abandon(&vq->vring, 1);
			if (n < 0 && errno == EAGAIN)
				break;
			/* EOF or a dead descriptor: no more input, ever. */
			console_close_input(con);
			break;
		}
		ret = vringh_complete(&vq->vring, head, (u32)n);
		if (ret) {
			vdpasim_vq_error(sim, vq, ret);
			break;
		}
		vq->stats.packets++;
		vq->stats.bytes += (u64)n;
	}
	if (!vdpa_needs_reset(&sim->vdpa))
		vdpasim_vq_notify(sim, vq);
	return more;
}

static bool console_work(struct vdpasim *sim)
{
	struct vdpa_console *con = to_console(sim);
	bool more = console_tx(con);

	return console_rx(con) || more;
}

static void console_update_config(struct vdpasim *sim)
{
	struct virtio_console_config cfg = {
		.max_nr_ports = cpu_to_le32(1),
	};

	memcpy(sim->config, &cfg, sizeof(cfg));
}

static void console_free(struct vdpasim *sim)
{
	struct vdpa_console *con = to_console(sim);

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
	const struct vdpasim_dev_attr attr = {
		.device_id = VIRTIO_ID_CONSOLE,
		.nvqs = 2,
		.ngroups = 1,
		.nas = 1,
		.config_size = sizeof(struct virtio_console_config),
		.features = VDPASIM_FEATURES,
		.work = console_work,
		.update_config = console_update_config,
		.free = console_free,
	};
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLET,
		.data.u64 = VDPADEV_EV_BACKEND,
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
	ret = vdpasim_init(&con->sim, &attr);
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
		if (epoll_ctl(con->sim.epfd, EPOLL_CTL_ADD, con->in_fd, &ev) == 0)
			con->in_polled = true;
		else if (errno != EPERM) {
			ret = -errno;
			goto err_destroy;
		}
	}
	ret = vdpasim_register(&con->sim, name);
	if (ret)
		goto err_destroy;
	*out = &con->sim.vdpa;
	return 0;

err_destroy:
	pr_err("vdpa: cannot create console: %s", strerror(-ret));
	vdpasim_destroy(&con->sim);
	return ret;
}

static int console_dev_add(struct vdpa_mgmt_dev *mdev,
			   const struct vdpa_dev_config *config,
			   struct vdpa_device **out)
{
	return vdpa_console_create((config->mask & VDPA_ATTR_NAME) ?
				   config->name : NULL,
				   STDIN_FILENO, STDOUT_FILENO, out);
}

static void console_dev_del(struct vdpa_mgmt_dev *mdev,
			    struct vdpa_device *vdpa)
{
	vdpa_unregister_device(vdpa);
}

struct vdpa_mgmt_dev vdpa_console_mgmt_dev = {
	.type = "console",
	.description = "virtio-console, one port on stdin/stdout",
	.device_id = VIRTIO_ID_CONSOLE,
	.attr_mask = VDPA_ATTR_NAME,
	.dev_add = console_dev_add,
	.dev_del = console_dev_del,
};
