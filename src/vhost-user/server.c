// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vhost-user server: the listening socket, the connection, and the
 * event loop that feeds messages to vhost_user_handle_msg().
 *
 * One thread (the caller of vhost_user_server_run()) owns everything here.
 * The only cross-thread entry points are vhost_user_server_stop() (an
 * eventfd write) and the device's config callback (another eventfd write).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

enum {
	EV_LISTEN = 1,
	EV_STOP,
	EV_NOTIFY,
	EV_CONN,
};

/**
 * struct vhost_user_server - a socket serving one device
 * @dev: the device state (connection-scoped parts reset on disconnect)
 * @path: socket path
 * @listenfd: listening socket
 * @epfd: the loop's epoll
 * @stopfd: eventfd written by vhost_user_server_stop()
 * @connections: front-ends accepted (atomic: tests read it)
 * @sock_dev: device of the socket file we bound (with @sock_ino: removed
 *	on destroy only if @path is still that file)
 * @sock_ino: its inode
 */
struct vhost_user_server {
	struct vhost_user_dev dev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listenfd;
	int epfd;
	int stopfd;
	unsigned int connections;
	dev_t sock_dev;
	ino_t sock_ino;
	/*
	 * A peer that connects and leaves in a loop must not flood the log:
	 * at most RATELIMIT_INIT's burst of connections a window are logged,
	 * each with its connect line, its "gone" line and its counters.
	 */
	struct ratelimit conn_rl;
	bool conn_logged;	/* the current connection's lines are logged */
};

static void server_config_cb(void *private)
{
	struct vhost_user_dev *dev = private;

	eventfd_write(dev->notify_fd, 1);
}

static int epoll_add(int epfd, int fd, u64 data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/*
 * Make @path free for our socket: nothing there, or a stale socket (no
 * server answers on it), which is removed. A live server's socket and a
 * file that is not a socket are left alone. Return: 0, -EADDRINUSE (a
 * server answers: a connect from here is the one trace it sees),
 * -ENOTSOCK, or -errno.
 */
static int server_claim_path(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;
	close(fd);
	/* A full backlog (EAGAIN) is a live server too. */
	if (!ret || ret == -EAGAIN)
		return -EADDRINUSE;
	if (ret != -ECONNREFUSED)
		return ret;	/* cannot tell whether it is in use */
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int vhost_user_server_create(const char *path, struct vdpa_device *vdpa,
			     const struct vhost_user_server_opts *opts,
			     struct vhost_user_server **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vdpa_callback cb;
	struct vhost_user_server *s;
	struct stat st;
	int ret;

	if (!path || !vdpa || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listenfd = s->epfd = s->stopfd = -1;
	s->dev.notify_fd = -1;
	s->conn_rl = (struct ratelimit)RATELIMIT_INIT;
	snprintf(s->path, sizeof(s->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path));

	ret = vhost_user_dev_init(&s->dev, vdpa, opts);
	if (ret)
		goto err_destroy;
	s->dev.notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->dev.notify_fd < 0 || s->stopfd < 0 || s->epfd < 0) {
		ret = -errno;
		goto err_destroy;
	}
	s->dev.loop_epfd = s->epfd;
	s->dev.stop_fd = s->stopfd;

	ret = server_claim_path(s->path, &sa);
	if (ret)
		goto err_destroy;
	s->listenfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listenfd < 0) {
		ret = -errno;
		goto err_destroy;
	}
	if (bind(s->listenfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(s->listenfd);
		s->listenfd = -1;	/* the path is not ours to remove */
		goto err_destroy;
	}
	if (lstat(path, &st) == 0) {
		s->sock_dev = st.st_dev;
		s->sock_ino = st.st_ino;
	}
	if (listen(s->listenfd, 4) < 0) {
		ret = -errno;
		goto err_destroy;
	}
	ret = epoll_add(s->epfd, s->listenfd, EV_LISTEN);
	if (!ret)
		ret = epoll_add(s->epfd, s->stopfd, EV_STOP);
	if (!ret)
		ret = epoll_add(s->epfd, s->dev.notify_fd, EV_NOTIFY);
	if (ret)
		goto err_destroy;
	cb = (struct vdpa_callback){ .fn = server_config_cb, .private = &s->dev };
	vdpa_set_config_cb(vdpa, &cb);
	*out = s;
	return 0;

err_destroy:
	vhost_user_server_destroy(s);
	return ret;
}

/* Read @len more bytes into @buf by the deadline. Return: 0 or -errno. */
static int conn_read(struct vhost_user_dev *dev, void *buf, size_t len,
		     u64 deadline)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(dev->connfd, (u8 *)buf + got, len - got,
				 MSG_DONTWAIT);
		int ret;

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		ret = -errno;
		if (ret == -EAGAIN)
			ret = vhost_user_wait(dev, dev->connfd, POLLIN, deadline);
		if (ret && ret != -EINTR)
			return ret;
	}
	return 0;
}

/*
 * Read one message and its fds. The loop saw the socket readable; from
 * the first byte the whole message must arrive within the deadline
 * (vhost_user_msg_deadline()), and a stop request ends the wait.
 * Return: 1 a message, 0 nothing to read after all, -errno (drop the peer).
 */
static int conn_recv(struct vhost_user_dev *dev, struct vhost_user_msg *msg,
		     int *fds, unsigned int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = msg, .iov_len = VHOST_USER_HDR_SIZE };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	u64 deadline;
	ssize_t n;
	int ret = 0;

	*nfds = 0;
	do {
		n = recvmsg(dev->connfd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	deadline = vhost_user_msg_deadline(dev);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t cnt;
		int *p;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		p = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < cnt; i++) {
			int f;

			memcpy(&f, p + i, sizeof(f));
			if (*nfds < VHOST_USER_MAX_FDS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		ret = -EMSGSIZE;	/* fds were lost: the message is unusable */
	/* The rest of the header, then the payload (stream socket). */
	if (!ret)
		ret = conn_read(dev, (u8 *)msg + n, VHOST_USER_HDR_SIZE - (size_t)n,
				deadline);
	if (!ret && msg->hdr.size > VHOST_USER_PAYLOAD_MAX)
		ret = -EMSGSIZE;
	if (!ret)
		ret = conn_read(dev, &msg->payload, msg->hdr.size, deadline);
	if (ret) {
		for (unsigned int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return ret;
	}
	return 1;
}

void vhost_user_server_log_stats(struct vhost_user_server *s)
{
	for (u32 i = 0; i < s->dev.nvrings; i++) {
		struct vdpa_vq_stats st;

		vhost_user_dev_get_stats(&s->dev, i, &st);
		if (!(st.packets | st.kicks | st.errors | st.drops))
			continue;
		pr_info("%s: vq %u: packets=%llu bytes=%llu drops=%llu errors=%llu kicks=%llu notifies=%llu",
			s->dev.name, i, (unsigned long long)st.packets,
			(unsigned long long)st.bytes, (unsigned long long)st.drops,
			(unsigned long long)st.errors, (unsigned long long)st.kicks,
			(unsigned long long)st.notifies);
	}
}

static void server_disconnect(struct vhost_user_server *s, const char *why)
{
	struct vhost_user_dev *dev = &s->dev;

	if (dev->connfd < 0)
		return;
	if (s->conn_logged) {
		pr_info("%s: front-end gone (%s) after %llu messages", dev->name, why,
			(unsigned long long)dev->msgs);
		vhost_user_server_log_stats(s);
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, dev->connfd, NULL);
	close(dev->connfd);
	dev->connfd = -1;
	vhost_user_dev_disconnect(dev);
}

static void server_accept(struct vhost_user_server *s)
{
	int fd = accept4(s->listenfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (s->dev.connfd >= 0) {
		vu_warn(&s->dev, "a second front-end connected: refused");
		close(fd);
		return;
	}
	if (epoll_add(s->epfd, fd, EV_CONN)) {
		close(fd);
		return;
	}
	s->dev.connfd = fd;
	__atomic_add_fetch(&s->connections, 1, __ATOMIC_RELEASE);
	s->conn_logged = ratelimit_allow(&s->conn_rl);
	if (s->conn_logged)
		pr_info("%s: front-end connected on %s", s->dev.name, s->path);
}

static void server_kick(struct vhost_user_server *s, u32 idx)
{
	struct vhost_user_vring *vr;
	eventfd_t v;

	if (idx >= s->dev.nvrings)
		return;
	vr = &s->dev.vrings[idx];
	if (!vr->kick_watched || vr->kickfd < 0)
		return;	/* replaced since the event was queued */
	if (eventfd_read(vr->kickfd, &v) == 0)
		vdpa_kick_vq(s->dev.vdpa, (u16)idx);
}

int vhost_user_server_run(struct vhost_user_server *s)
{
	struct vhost_user_msg msg;
	struct epoll_event evs[16];
	bool stop = false;

	pr_info("%s: serving %s", s->dev.name, s->path);
	while (!stop) {
		int n = epoll_wait(s->epfd, evs, ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			u64 data = evs[i].data.u64;
			int fds[VHOST_USER_MAX_FDS];
			unsigned int nfds;
			eventfd_t v;
			bool spoke;
			int ret;

			if (data & VHOST_USER_EV_KICK) {
				server_kick(s, (u32)data);
				continue;
			}
			switch (data) {
			case EV_STOP:
				eventfd_read(s->stopfd, &v);
				stop = true;
				break;
			case EV_LISTEN:
				server_accept(s);
				break;
			case EV_NOTIFY:
				eventfd_read(s->dev.notify_fd, &v);
				if (s->dev.connfd >= 0)
					vhost_user_dev_event(&s->dev);
				break;
			case EV_CONN:
				if (s->dev.connfd < 0)
					break;
				/*
				 * --once ends after a front-end that spoke: not
				 * after a connect alone, as another server's
				 * check for a live socket makes.
				 */
				spoke = s->dev.msgs > 0;
				ret = conn_recv(&s->dev, &msg, fds, &nfds);
				if (ret < 0) {
					server_disconnect(s, ret == -ECONNRESET ? "closed" :
							  ret == -ETIMEDOUT ? "message not complete in time" :
							  strerror(-ret));
				} else if (ret && vhost_user_handle_msg(&s->dev, &msg, fds, nfds) ==
					   VHOST_USER_DISCONNECT) {
					server_disconnect(s, "protocol error");
				}
				if (s->dev.connfd < 0 && s->dev.opts.once &&
				    (spoke || ret > 0))
					stop = true;
				break;
			}
		}
	}
	return 0;
}

void vhost_user_server_stop(struct vhost_user_server *s)
{
	eventfd_write(s->stopfd, 1);
}

unsigned int vhost_user_server_connections(struct vhost_user_server *s)
{
	return __atomic_load_n(&s->connections, __ATOMIC_ACQUIRE);
}

void vhost_user_server_destroy(struct vhost_user_server *s)
{
	if (!s)
		return;
	if (s->dev.vdpa && s->dev.vrings) {
		server_disconnect(s, "server stopping");
		vdpa_set_config_cb(s->dev.vdpa, NULL);
	}
	vhost_user_dev_fini(&s->dev);
	if (s->listenfd >= 0) {
		struct stat st;

		close(s->listenfd);
		if (lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
		    st.st_ino == s->sock_ino)
			unlink(s->path);
	}
	if (s->dev.notify_fd >= 0)
		close(s->dev.notify_fd);
	if (s->stopfd >= 0)
		close(s->stopfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
}
