/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The front-end's side of the vhost-user wire, for the tests in this
 * directory: one message with its fds (SCM_RIGHTS on the first byte).
 */
#ifndef KESTREL_TEST_VHOST_USER_WIRE_H
#define KESTREL_TEST_VHOST_USER_WIRE_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../../src/vhost-user/protocol.h"

/**
 * wire_send() - send request @req with @flags (the version is added)
 * @sock: the connection
 * @req: request
 * @flags: header flags beyond the version (e.g. NEED_REPLY)
 * @payload: @size bytes
 * @size: payload bytes
 * @fds: fds to pass along
 * @nfds: how many (at most 8)
 *
 * Return: 0 or -errno.
 */
static inline int wire_send(int sock, u32 req, u32 flags, const void *payload,
			    u32 size, const int *fds, unsigned int nfds)
{
	struct vhost_user_hdr hdr = { .request = req, .flags = 1 | flags,
				      .size = size };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/**
 * wire_recv() - read one reply to @req
 * @sock: the connection
 * @req: the request it must answer
 * @payload: receives up to @max bytes of it
 * @max: room in @payload
 * @fd: receives an fd that came with it, or -1 (NULL: such an fd is closed)
 *
 * Return: the payload size, or -1 (EOF, timeout, not a reply to @req).
 */
static inline int wire_recv(int sock, u32 req, void *payload, u32 max, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct vhost_user_hdr hdr;
	struct iovec iov = { .iov_base = &hdr, .iov_len = sizeof(hdr) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	u8 buf[512];

	if (fd)
		*fd = -1;
	if (recvmsg(sock, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC) != sizeof(hdr))
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int got;

		if (c->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&got, CMSG_DATA(c), sizeof(int));
		if (fd)
			*fd = got;
		else
			close(got);
	}
	if (hdr.request != req || !(hdr.flags & VHOST_USER_REPLY_MASK) ||
	    hdr.size > sizeof(buf))
		return -1;
	if (hdr.size && recv(sock, buf, hdr.size, MSG_WAITALL) != (ssize_t)hdr.size)
		return -1;
	memcpy(payload, buf, MIN(hdr.size, max));
	return (int)hdr.size;
}

/**
 * wire_call() - send @req with need_reply and read the ack
 * @sock: the connection
 * @req: request
 * @payload: @size bytes
 * @size: payload bytes
 * @fds: fds to pass along
 * @nfds: how many
 *
 * Return: the ack (0 success), or -1 if none came.
 */
static inline long long wire_call(int sock, u32 req, const void *payload, u32 size,
				  const int *fds, unsigned int nfds)
{
	u64 ack;

	if (wire_send(sock, req, VHOST_USER_NEED_REPLY_MASK, payload, size, fds, nfds) ||
	    wire_recv(sock, req, &ack, sizeof(ack), NULL) != sizeof(ack))
		return -1;
	return (long long)ack;
}

/**
 * wire_get_u64() - a request without payload answered by a u64
 * @sock: the connection
 * @req: request (GET_FEATURES, GET_STATUS, ...)
 *
 * Return: the answer, or -1.
 */
static inline long long wire_get_u64(int sock, u32 req)
{
	u64 v;

	if (wire_send(sock, req, 0, NULL, 0, NULL, 0) ||
	    wire_recv(sock, req, &v, sizeof(v), NULL) != sizeof(v))
		return -1;
	return (long long)v;
}

#endif /* KESTREL_TEST_VHOST_USER_WIRE_H */
