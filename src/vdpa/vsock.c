// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-vsock (virtio 1.2 §5.10) with the hybrid Unix-socket model
 * (docs/vsock.md): the guest's AF_VSOCK streams end in Unix stream sockets
 * on the host.
 *
 *  - The device listens on uds=PATH. A host process connects, writes
 *    "CONNECT <port>\n"; the device asks the guest's listener on <port>
 *    (REQUEST), and once the guest accepts (RESPONSE) answers
 *    "OK <host port>\n" on the socket, which then carries the stream. A
 *    refusal (RST) closes the socket.
 *  - A guest connecting to host port P makes the device connect to
 *    PATH_P; no listener there is an RST to the guest.
 *
 * Queues: rx (0, device to driver), tx (1), event (2, never used: its
 * buffers stay posted; kestrel does not migrate a guest's connections).
 *
 * Flow control (§5.10.6.3). Every stream has two credit windows:
 *  - guest to host: we advertise buf_alloc = VSOCK_BUF and a fwd_cnt of
 *    the bytes written to the host socket. What the socket does not take
 *    at once waits in the stream's own buffer of VSOCK_BUF bytes, which
 *    credit keeps the guest from overfilling (it is reset if it does). A
 *    host peer that stops reading fills its buffer, the guest's credit
 *    runs out, and only that stream stops: the tx queue is always drained.
 *  - host to guest: we read a socket only while the guest's buf_alloc and
 *    fwd_cnt leave room, so a guest that stops reading leaves the bytes in
 *    the host socket (whose writer blocks), not in kestrel.
 * Nothing else is buffered: control packets are flags on the stream, and
 * RSTs for packets that have no stream wait in a queue of bounded size.
 *
 * Host sockets live in the device's own epoll set, which sits in the
 * worker's (edge-triggered: the worker wakes when something new is ready
 * and each pass asks the inner set what). A socket is in the set only for
 * what the device would do now (EPOLLIN: credit and no data known to be
 * waiting; EPOLLOUT: buffered bytes), so a stalled stream costs no wake-up.
 *
 * Locking: everything below is the worker's, under swdev.lock (every pass
 * holds it); the listener is made at creation, before the worker runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/vdpa-dev.h>

#include "devices.h"
#include "swdev/swdev.h"

#define VSOCK_RXQ		0
#define VSOCK_TXQ		1
#define VSOCK_EVQ		2

#define VSOCK_HOST_CID		2
#define VSOCK_HDR		sizeof(struct virtio_vsock_hdr)
/* Guest bytes a stream may hold for its host socket: its buf_alloc. */
#define VSOCK_BUF		(64u * 1024)
/* Payload of one packet at most, either way (Linux's largest is 64 KiB). */
#define VSOCK_PKT_MAX		(64u * 1024)
/* Bytes forwarded before the guest is told with a CREDIT_UPDATE. */
#define VSOCK_CREDIT_STEP	(VSOCK_BUF / 4)
/* "CONNECT 4294967295\n" and a little slack. */
#define VSOCK_LINE_MAX		32
/* RSTs to ports with no stream waiting for rx buffers, beyond one a stream. */
#define VSOCK_RSTQ_EXTRA	64
/* Host ports handed to host-initiated streams: Firecracker's range. */
#define VSOCK_LOCAL_PORT_MIN	(1u << 30)
#define VSOCK_HASH		256
/* Connections accepted from the listener in one pass at most. */
#define VSOCK_ACCEPT_BUDGET	16
/* Inner epoll data of the listener and the timer; streams carry (gen << 32 | slot). */
#define VSOCK_EV_LISTENER	UINT64_MAX
#define VSOCK_EV_TIMER		(UINT64_MAX - 1)
/*
 * A host connection has this long to send its CONNECT line, and the guest
 * as long to answer the REQUEST that follows (Firecracker's 2 s): then the
 * host connection is closed (and the guest, for a REQUEST, gets an RST).
 */
#define VSOCK_CONNECT_TIMEOUT_NS	(2000ULL * 1000000)
/* Segments of a chain handed to one readv()/sendmsg(). */
#define VSOCK_IOV_MAX		64

#define VSOCK_CONNS_DEFAULT	256
#define VSOCK_CONNS_MAX		4096

_Static_assert(sizeof(struct virtio_vsock_hdr) == 44, "virtio 1.2 §5.10.6 header");

enum vsock_state {
	VS_LINE,	/* host-initiated: reading "CONNECT <port>\n" */
	VS_REQUEST,	/* host-initiated: REQUEST sent, waiting for the guest */
	VS_OPEN,	/* established */
	VS_CLOSING,	/* the guest shut both ways: flush, then close and RST */
};

/* Control packets a stream owes the guest (vsock_conn.ops). */
#define VS_OP_REQUEST		(1u << 0)
#define VS_OP_RESPONSE		(1u << 1)
#define VS_OP_SHUTDOWN		(1u << 2)
#define VS_OP_CREDIT		(1u << 3)

struct vsock_link {
	struct vsock_link *prev, *next;
};

/**
 * struct vsock_conn - one stream
 * @fd: the host socket
 * @slot: index in vdpa_vsock.conns
 * @gen: stamps its epoll events (a slot reused meanwhile is told apart)
 * @host_port: port on the host side (P of PATH_P, or the one we assigned)
 * @guest_port: port on the guest side
 * @state: enum vsock_state
 * @ops: VS_OP_* packets owed to the guest
 * @shut_flags: flags of the owed SHUTDOWN
 * @events: what the socket is in the inner epoll set for (0: not in it)
 * @readable: the socket had data (or EOF) the last time we looked
 * @host_eof: the host sends no more (read returned 0)
 * @host_hup: the host socket hung up both ways
 * @guest_no_send: the guest sends no more (SHUTDOWN SEND)
 * @guest_no_rcv: the guest receives no more (SHUTDOWN RCV)
 * @peer_buf_alloc: the guest's receive buffer, from its last header
 * @peer_fwd_cnt: bytes the guest has consumed, from its last header
 * @rx_cnt: bytes sent to the guest
 * @fwd_cnt: guest bytes written to the host socket
 * @fwd_told: @fwd_cnt as the guest last heard it
 * @buf: guest bytes the host socket has not taken yet (VSOCK_BUF, lazily)
 * @buf_head: first byte of @buf's ring
 * @buf_len: bytes in @buf
 * @line: the CONNECT line so far
 * @line_len: bytes in @line
 * @deadline: VS_LINE, VS_REQUEST: when it is given up (CLOCK_MONOTONIC ns)
 * @hnext: hash chain
 * @ctl: in vdpa_vsock.ctl while @ops is set
 * @data: in vdpa_vsock.data while its socket has data the guest can take
 */
struct vsock_conn {
	int fd;
	u32 slot;
	u32 gen;
	u32 host_port;
	u32 guest_port;
	u8 state;
	u8 ops;
	u32 shut_flags;
	u32 events;
	bool readable;
	bool host_eof;
	bool host_hup;
	bool guest_no_send;
	bool guest_no_rcv;
	u32 peer_buf_alloc;
	u32 peer_fwd_cnt;
	u32 rx_cnt;
	u32 fwd_cnt;
	u32 fwd_told;
	u8 *buf;
	u32 buf_head;
	u32 buf_len;
	char line[VSOCK_LINE_MAX];
	u32 line_len;
	u64 deadline;
	struct vsock_conn *hnext;
	struct vsock_link ctl;
	struct vsock_link data;
};

/* An RST owed to a guest port that has no stream (or no more). */
struct vsock_rst {
	u32 host_port;
	u32 guest_port;
};

/**
 * struct vsock_args - the type's config (vdpa_mgmt_parse())
 * @base: name, given attributes
 * @cid: the guest's CID (3 and up: 0-2 are reserved, §5.10.4)
 * @uds: the listener's path; guest connections go to @uds_<port>
 * @max_conns: streams at once
 */
struct vsock_args {
	struct vdpa_dev_args base;
	u64 cid;
	char uds[VDPA_VSOCK_UDS_MAX + 1];
	u32 max_conns;
};

/**
 * struct vdpa_vsock - the device
 * @sw: software-device core (first: freed through it)
 * @cid: the guest's CID
 * @uds: the listener's path (removed at destroy)
 * @listen_fd: the listener
 * @epfd: the inner epoll set (listener, timer and streams)
 * @tfd: timerfd for the connections waiting for a line or the guest
 * @timer_at: when @tfd fires (CLOCK_MONOTONIC ns), 0: disarmed
 * @max_conns: entries of @conns
 * @nconns: streams open
 * @conns: the streams by slot
 * @hash: the streams by (host port, guest port)
 * @ctl: streams owing control packets, oldest first
 * @data: streams with data for the guest, served round-robin
 * @rstq: RSTs owed to ports without a stream
 * @rst_max: entries of @rstq
 * @nrst: entries used
 * @next_port: next host port to try for a host-initiated stream
 * @next_gen: next stream generation
 * @more: the pass left socket events unhandled (a budget ran out): another
 *	pass is due at once, since the edge-triggered wake-up will not repeat
 * @stats: counters (vdpa_vsock_get_stats())
 */
struct vdpa_vsock {
	struct swdev sw;
	u64 cid;
	char uds[sizeof(((struct vsock_args *)0)->uds)];
	int listen_fd;
	int epfd;
	int tfd;
	u64 timer_at;
	u32 max_conns;
	u32 nconns;
	struct vsock_conn **conns;
	struct vsock_conn *hash[VSOCK_HASH];
	struct vsock_link ctl;
	struct vsock_link data;
	struct vsock_rst *rstq;
	u32 rst_max;
	u32 nrst;
	u32 next_port;
	u32 next_gen;
	bool more;
	struct vdpa_vsock_stats stats;
};

static struct vdpa_vsock *to_vsock(struct swdev *sw)
{
	return container_of(sw, struct vdpa_vsock, sw);
}

/* ---- lists ----------------------------------------------------------------- */

static void link_init(struct vsock_link *l)
{
	l->prev = l->next = l;
}

static bool link_on(const struct vsock_link *l)
{
	return l->next != l;
}

static void link_del(struct vsock_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link_init(l);
}

static void link_add_tail(struct vsock_link *head, struct vsock_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

#define conn_of(l, member)	container_of(l, struct vsock_conn, member)

/* ---- streams --------------------------------------------------------------- */

static u32 vsock_hash(u32 host_port, u32 guest_port)
{
	return (host_port * 2654435761u ^ guest_port) % VSOCK_HASH;
}

static struct vsock_conn *vsock_lookup(struct vdpa_vsock *vs, u32 host_port,
				       u32 guest_port)
{
	struct vsock_conn *c = vs->hash[vsock_hash(host_port, guest_port)];

	while (c && (c->host_port != host_port || c->guest_port != guest_port))
		c = c->hnext;
	return c;
}

static void vsock_hash_del(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	struct vsock_conn **pp = &vs->hash[vsock_hash(c->host_port, c->guest_port)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	c->hnext = NULL;
}

static void vsock_hash_add(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	struct vsock_conn **pp = &vs->hash[vsock_hash(c->host_port, c->guest_port)];

	c->hnext = *pp;
	*pp = c;
}

/* Room the guest has for our bytes (§5.10.6.3); 0 if its numbers make no sense. */
static u32 conn_credit(const struct vsock_conn *c)
{
	u32 in_flight = c->rx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Whether the guest may get data from the host socket now. */
static bool conn_may_read(const struct vsock_conn *c)
{
	return c->state == VS_OPEN && !c->host_eof && !c->guest_no_rcv &&
	       conn_credit(c) > 0;
}

/* Bring the epoll interest and list membership of @c in line with its state. */
static void conn_sync(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	u32 want = 0;

	if (c->state == VS_LINE)
		want = EPOLLIN;
	if (c->buf_len)
		want |= EPOLLOUT;
	if (conn_may_read(c) && !c->readable)
		want |= EPOLLIN;
	if (want != c->events) {
		struct epoll_event ev = {
			.events = want,
			.data.u64 = (u64)c->gen << 32 | c->slot,
		};
		int op = !want ? EPOLL_CTL_DEL :
			 !c->events ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

		if (epoll_ctl(vs->epfd, op, c->fd, want ? &ev : NULL) == 0)
			c->events = want;
		else
			vs->stats.conn_event_fails++;
	}
	if (conn_may_read(c) && c->readable) {
		if (!link_on(&c->data))
			link_add_tail(&vs->data, &c->data);
	} else if (link_on(&c->data)) {
		link_del(&c->data);
	}
	if (c->ops && !link_on(&c->ctl))
		link_add_tail(&vs->ctl, &c->ctl);
	else if (!c->ops && link_on(&c->ctl))
		link_del(&c->ctl);
}

static void conn_owe(struct vdpa_vsock *vs, struct vsock_conn *c, u8 op)
{
	c->ops |= op;
	conn_sync(vs, c);
}

/* Queue an RST to @guest_port from @host_port; dropped when the queue is full. */
static void vsock_queue_rst(struct vdpa_vsock *vs, u32 host_port, u32 guest_port)
{
	if (vs->nrst == vs->rst_max) {
		vs->stats.rst_dropped++;
		return;
	}
	vs->rstq[vs->nrst++] = (struct vsock_rst){ host_port, guest_port };
}

static struct vsock_conn *conn_new(struct vdpa_vsock *vs, int fd, u8 state)
{
	struct vsock_conn *c;
	u32 slot;

	if (vs->nconns == vs->max_conns)
		return NULL;
	for (slot = 0; vs->conns[slot]; slot++)
		;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->slot = slot;
	c->gen = ++vs->next_gen;
	c->state = state;
	link_init(&c->ctl);
	link_init(&c->data);
	vs->conns[slot] = c;
	vs->nconns++;
	vs->stats.conns_added++;
	return c;
}

/* Forget @c: its socket is closed (the host peer sees EOF). */
static void conn_free(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	if (c->state != VS_LINE)
		vsock_hash_del(vs, c);
	if (link_on(&c->ctl))
		link_del(&c->ctl);
	if (link_on(&c->data))
		link_del(&c->data);
	/* Closing the only reference removes it from the epoll set. */
	close(c->fd);
	vs->conns[c->slot] = NULL;
	vs->nconns--;
	vs->stats.conns_removed++;
	free(c->buf);
	free(c);
}

/* End @c abnormally: the guest, if it knows the stream, gets an RST. */
static void conn_kill(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	if (c->state != VS_LINE)
		vsock_queue_rst(vs, c->host_port, c->guest_port);
	vs->stats.conns_killed++;
	conn_free(vs, c);
}

/* The guest's credit numbers from a header it sent on @c. */
static void conn_peer_credit(struct vdpa_vsock *vs, struct vsock_conn *c,
			     const struct virtio_vsock_hdr *h)
{
	c->peer_buf_alloc = le32_to_cpu(h->buf_alloc);
	c->peer_fwd_cnt = le32_to_cpu(h->fwd_cnt);
}

/* @n more guest bytes reached the host socket. */
static void conn_forwarded(struct vdpa_vsock *vs, struct vsock_conn *c, u32 n)
{
	c->fwd_cnt += n;
	vs->stats.tx_bytes += n;
	if (c->fwd_cnt - c->fwd_told >= VSOCK_CREDIT_STEP)
		c->ops |= VS_OP_CREDIT;
}

/* Send what fits of @iov to the host socket. Return: bytes sent or -errno. */
static ssize_t conn_send(struct vsock_conn *c, struct iovec *iov, int n)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t r;

	do {
		r = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	return r;
}

/* After the buffer drained: the shutdowns the guest asked for. Return: false if @c is gone. */
static bool conn_drained(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	if (c->buf_len)
		return true;
	if (c->state == VS_CLOSING) {
		/* §5.10.6.6: a clean disconnect ends with the peer's RST. */
		vsock_queue_rst(vs, c->host_port, c->guest_port);
		conn_free(vs, c);
		return false;
	}
	if (c->guest_no_send)
		shutdown(c->fd, SHUT_WR);
	return true;
}

/* Write buffered guest bytes to the host socket. Return: false if @c is gone. */
static bool conn_flush(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	while (c->buf_len) {
		u32 first = MIN(c->buf_len, VSOCK_BUF - c->buf_head);
		struct iovec iov[2] = {
			{ c->buf + c->buf_head, first },
			{ c->buf, c->buf_len - first },
		};
		ssize_t r = conn_send(c, iov, c->buf_len > first ? 2 : 1);

		if (r < 0) {
			vs->stats.tx_flush_fails++;
			conn_kill(vs, c);
			return false;
		}
		if (!r)
			break;
		c->buf_head = (c->buf_head + (u32)r) % VSOCK_BUF;
		c->buf_len -= (u32)r;
		conn_forwarded(vs, c, (u32)r);
	}
	if (!conn_drained(vs, c))
		return false;
	conn_sync(vs, c);
	return true;
}

/* ---- iovecs over a chain ------------------------------------------------------- */

/* Up to @len bytes of @v from its cursor as iovecs (at most @max). Return: count. */
static int vsock_iov_from(const struct vringh_iov *v, size_t len, struct iovec *out,
			  int max)
{
	unsigned int i = v->i;
	size_t off = v->off;
	int n = 0;

	while (len && i < v->used && n < max) {
		size_t seg = v->iov[i].iov_len - off;

		if (seg) {
			size_t take = MIN(seg, len);

			out[n].iov_base = (char *)v->iov[i].iov_base + off;
			out[n].iov_len = take;
			n++;
			len -= take;
		}
		i++;
		off = 0;
	}
	return n;
}

/* ---- guest to host (tx queue) ---------------------------------------------------- */

/* Take the guest's payload of @len bytes at @riov for @c. Return: false if @c is gone. */
static bool conn_take(struct vdpa_vsock *vs, struct vsock_conn *c,
		      struct vringh_iov *riov, u32 len)
{
	struct iovec iov[VSOCK_IOV_MAX];

	/* Straight to the socket while nothing waits before it. */
	while (len && !c->buf_len) {
		int n = vsock_iov_from(riov, len, iov, VSOCK_IOV_MAX);
		ssize_t r = conn_send(c, iov, n);

		if (r < 0) {
			vs->stats.tx_write_fails++;
			conn_kill(vs, c);
			return false;
		}
		if (!r)
			break;
		vringh_iov_advance(riov, (size_t)r);
		len -= (u32)r;
		conn_forwarded(vs, c, (u32)r);
	}
	if (len) {
		u32 tail;

		/* Credit promised the guest VSOCK_BUF bytes in flight at most. */
		if (len > VSOCK_BUF - c->buf_len) {
			pr_warn_ratelimited("%s: guest port %u sent %u bytes past its credit: stream reset",
					    vs->sw.vdpa.name, c->guest_port, len);
			vs->stats.tx_credit_violations++;
			conn_kill(vs, c);
			return false;
		}
		if (!c->buf) {
			c->buf = malloc(VSOCK_BUF);
			if (!c->buf) {
				conn_kill(vs, c);
				return false;
			}
		}
		tail = (c->buf_head + c->buf_len) % VSOCK_BUF;
		while (len) {
			u32 n = MIN(len, VSOCK_BUF - tail);

			vringh_iov_pull(riov, c->buf + tail, n);
			c->buf_len += n;
			len -= n;
			tail = (tail + n) % VSOCK_BUF;
		}
	}
	return conn_drained(vs, c);
}

/* The guest connects to host port @h->dst_port: PATH_<port>. */
static void vsock_guest_connect(struct vdpa_vsock *vs, const struct virtio_vsock_hdr *h)
{
	u32 host_port = le32_to_cpu(h->dst_port), guest_port = le32_to_cpu(h->src_port);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", vs->uds, host_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		vs->stats.conn_event_fails++;
		vsock_queue_rst(vs, host_port, guest_port);
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* No listener, or its backlog is full: refused (§5.10.6.5). */
		vs->stats.conns_refused++;
		close(fd);
		vsock_queue_rst(vs, host_port, guest_port);
		return;
	}
	c = conn_new(vs, fd, VS_OPEN);
	if (!c) {
		vs->stats.conns_refused++;
		close(fd);
		vsock_queue_rst(vs, host_port, guest_port);
		return;
	}
	c->host_port = host_port;
	c->guest_port = guest_port;
	conn_peer_credit(vs, c, h);
	vsock_hash_add(vs, c);
	conn_owe(vs, c, VS_OP_RESPONSE);
}

/* Bad packet: counted, logged (rate-limited), dropped. */
static int vsock_tx_bad(struct vdpa_vsock *vs, const char *why, u32 v)
{
	vs->stats.tx_bad_packets++;
	pr_warn_ratelimited("%s: guest packet dropped: %s (%u)", vs->sw.vdpa.name, why, v);
	return SWDEV_USED;
}

static int vsock_tx_chain(struct swdev *sw, struct swdev_vq *vq, u16 head, u32 *len)
{
	struct vdpa_vsock *vs = to_vsock(sw);
	struct virtio_vsock_hdr h;
	struct vsock_conn *c;
	u32 plen, host_port, guest_port, flags;
	u16 op;

	*len = 0;
	vq->stats.packets++;
	vs->stats.tx_packets++;
	if (vringh_iov_pull(&vq->riov, &h, VSOCK_HDR) != (ssize_t)VSOCK_HDR)
		return vsock_tx_bad(vs, "shorter than its header", 0);
	plen = le32_to_cpu(h.len);
	op = le16_to_cpu(h.op);
	host_port = le32_to_cpu(h.dst_port);
	guest_port = le32_to_cpu(h.src_port);
	if (le64_to_cpu(h.src_cid) != vs->cid)
		return vsock_tx_bad(vs, "source CID is not the guest's", (u32)le64_to_cpu(h.src_cid));
	if (plen > VSOCK_PKT_MAX || plen > vringh_iov_length(&vq->riov))
		return vsock_tx_bad(vs, "length beyond its buffers", plen);
	if (op == VIRTIO_VSOCK_OP_RW)
		vq->stats.bytes += plen;
	c = vsock_lookup(vs, host_port, guest_port);
	/* Anything but an RST to nowhere, or of a kind we do not speak, is refused. */
	if (le64_to_cpu(h.dst_cid) != VSOCK_HOST_CID ||
	    le16_to_cpu(h.type) != VIRTIO_VSOCK_TYPE_STREAM) {
		vs->stats.tx_bad_packets++;
		if (op != VIRTIO_VSOCK_OP_RST)
			vsock_queue_rst(vs, host_port, guest_port);
		return SWDEV_USED;
	}
	if (!c) {
		if (op == VIRTIO_VSOCK_OP_REQUEST)
			vsock_guest_connect(vs, &h);
		else if (op != VIRTIO_VSOCK_OP_RST)
			vsock_queue_rst(vs, host_port, guest_port);
		return SWDEV_USED;
	}
	if (op == VIRTIO_VSOCK_OP_RST) {
		/* The guest refused or ended the stream: the host peer sees EOF. */
		conn_free(vs, c);
		return SWDEV_USED;
	}
	conn_peer_credit(vs, c, &h);
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE: {
		char ok[24];
		struct iovec iov;
		int n;

		if (c->state != VS_REQUEST)
			goto protocol_error;
		n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
		iov = (struct iovec){ ok, (size_t)n };
		/* A fresh socket takes a line: short means the peer is gone. */
		if (conn_send(c, &iov, 1) != n) {
			vs->stats.tx_write_fails++;
			conn_kill(vs, c);
			return SWDEV_USED;
		}
		c->state = VS_OPEN;
		break;
	}
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != VS_OPEN || c->guest_no_send)
			goto protocol_error;
		if (!conn_take(vs, c, &vq->riov, plen))
			return SWDEV_USED;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state != VS_OPEN)
			goto protocol_error;
		flags = le32_to_cpu(h.flags);
		if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->guest_no_rcv = true;
		if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->guest_no_send = true;
		if (c->guest_no_rcv && c->guest_no_send)
			c->state = VS_CLOSING;
		if (!conn_drained(vs, c))
			return SWDEV_USED;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->ops |= VS_OP_CREDIT;
		break;
	default:
		goto protocol_error;
	}
	conn_sync(vs, c);
	return SWDEV_USED;

protocol_error:
	vs->stats.tx_bad_packets++;
	pr_warn_ratelimited("%s: guest port %u: op %u out of place: stream reset",
			    vs->sw.vdpa.name, guest_port, op);
	conn_kill(vs, c);
	return SWDEV_USED;
}

/* ---- host to guest (rx queue) ------------------------------------------------------ */

static void vsock_hdr_fill(struct vdpa_vsock *vs, struct virtio_vsock_hdr *h,
			   u32 host_port, u32 guest_port, u16 op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = cpu_to_le64(VSOCK_HOST_CID);
	h->dst_cid = cpu_to_le64(vs->cid);
	h->src_port = cpu_to_le32(host_port);
	h->dst_port = cpu_to_le32(guest_port);
	h->type = cpu_to_le16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = cpu_to_le16(op);
	h->buf_alloc = cpu_to_le32(VSOCK_BUF);
}

/* The next control packet @c owes, into @h. */
static void conn_ctl_packet(struct vdpa_vsock *vs, struct vsock_conn *c,
			    struct virtio_vsock_hdr *h)
{
	static const struct { u8 bit; u16 op; } order[] = {
		{ VS_OP_REQUEST, VIRTIO_VSOCK_OP_REQUEST },
		{ VS_OP_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE },
		{ VS_OP_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN },
		{ VS_OP_CREDIT, VIRTIO_VSOCK_OP_CREDIT_UPDATE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (!(c->ops & order[i].bit))
			continue;
		vsock_hdr_fill(vs, h, c->host_port, c->guest_port, order[i].op);
		if (order[i].bit == VS_OP_SHUTDOWN)
			h->flags = cpu_to_le32(c->shut_flags);
		h->fwd_cnt = cpu_to_le32(c->fwd_cnt);
		c->fwd_told = c->fwd_cnt;
		c->ops &= (u8)~order[i].bit;
		/* The header carries the credit: no separate update needed. */
		c->ops &= (u8)~VS_OP_CREDIT;
		return;
	}
}

/*
 * The host side of @c has no more to send. Whether it also takes no more
 * (it closed, or died) is a hang-up on our end, which the epoll set may not
 * have reported (the socket is out of it while known readable).
 */
static void conn_host_eof(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
		c->host_hup = true;
	c->host_eof = true;
	c->shut_flags = VIRTIO_VSOCK_SHUTDOWN_SEND |
			(c->host_hup ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0);
	conn_owe(vs, c, VS_OP_SHUTDOWN);
}

/*
 * Read host bytes of @c into the chain after its header.
 * Return: bytes (> 0), 0 nothing now (state updated), -1: @c is gone.
 */
static ssize_t conn_read(struct vdpa_vsock *vs, struct vsock_conn *c,
			 struct vringh_iov *wiov, size_t room)
{
	struct iovec iov[VSOCK_IOV_MAX];
	size_t want = MIN(MIN(room, (size_t)conn_credit(c)), (size_t)VSOCK_PKT_MAX);
	int n = vsock_iov_from(wiov, want, iov, VSOCK_IOV_MAX);
	ssize_t r;

	/* Not reached (the data list holds streams with credit, rooms are not
	 * empty), but a zero-length read would look like EOF. */
	if (!n) {
		link_del(&c->data);
		return 0;
	}
	do {
		r = readv(c->fd, iov, n);
	} while (r < 0 && errno == EINTR);
	if (r > 0)
		return r;
	if (r == 0) {
		conn_host_eof(vs, c);
		return 0;
	}
	if (errno == EAGAIN) {
		c->readable = false;
		conn_sync(vs, c);
		return 0;
	}
	vs->stats.rx_read_fails++;
	conn_kill(vs, c);
	return -1;
}

static int vsock_rx_chain(struct swdev *sw, struct swdev_vq *vq, u16 head, u32 *len)
{
	struct vdpa_vsock *vs = to_vsock(sw);
	struct virtio_vsock_hdr h;
	struct vringh_iov at_hdr;
	size_t room = vringh_iov_length(&vq->wiov);

	if (room < VSOCK_HDR) {
		vdpa_device_error(&sw->vdpa, "rx buffer of %zu bytes cannot hold a header", room);
		return SWDEV_STALL;
	}
	room -= VSOCK_HDR;
	for (;;) {
		struct vsock_conn *c;
		ssize_t r;

		if (vs->nrst) {
			struct vsock_rst *rst = &vs->rstq[--vs->nrst];

			vsock_hdr_fill(vs, &h, rst->host_port, rst->guest_port,
				       VIRTIO_VSOCK_OP_RST);
			break;
		}
		if (link_on(&vs->ctl)) {
			c = conn_of(vs->ctl.next, ctl);
			conn_ctl_packet(vs, c, &h);
			conn_sync(vs, c);
			break;
		}
		/* A buffer with no room past the header carries control only. */
		if (!link_on(&vs->data) || !room)
			return SWDEV_STALL;
		c = conn_of(vs->data.next, data);
		/* The header goes in front of the bytes, once their length is known. */
		at_hdr = vq->wiov;
		vringh_iov_advance(&vq->wiov, VSOCK_HDR);
		r = conn_read(vs, c, &vq->wiov, room);
		if (r <= 0) {
			vq->wiov = at_hdr;
			continue;
		}
		vsock_hdr_fill(vs, &h, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RW);
		h.len = cpu_to_le32((u32)r);
		h.fwd_cnt = cpu_to_le32(c->fwd_cnt);
		c->fwd_told = c->fwd_cnt;
		c->ops &= (u8)~VS_OP_CREDIT;
		c->rx_cnt += (u32)r;
		vs->stats.rx_bytes += (u64)r;
		vq->stats.bytes += (u64)r;
		/* Round-robin: the next chain serves the next stream. */
		link_del(&c->data);
		conn_sync(vs, c);
		vringh_iov_push(&at_hdr, &h, VSOCK_HDR);
		*len = (u32)(VSOCK_HDR + (size_t)r);
		vq->stats.packets++;
		vs->stats.rx_packets++;
		return SWDEV_USED;
	}
	vringh_iov_push(&vq->wiov, &h, VSOCK_HDR);
	*len = VSOCK_HDR;
	vq->stats.packets++;
	vs->stats.rx_packets++;
	return SWDEV_USED;
}

/* ---- host sockets ----------------------------------------------------------------- */

/* Parse "CONNECT <port>\n". Return: 0 or -EINVAL. */
static int vsock_parse_line(const char *s, size_t len, u32 *port)
{
	u64 v = 0;
	size_t i = 8;

	if (len < 10 || memcmp(s, "CONNECT ", 8) || s[len - 1] != '\n')
		return -EINVAL;
	for (; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9' || i - 8 >= 10)
			return -EINVAL;
		v = v * 10 + (u64)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*port = (u32)v;
	return 0;
}

/* A host port for a new host-initiated stream to @guest_port. */
static u32 vsock_local_port(struct vdpa_vsock *vs, u32 guest_port)
{
	for (;;) {
		u32 p = vs->next_port++;

		if (vs->next_port == UINT32_MAX || vs->next_port < VSOCK_LOCAL_PORT_MIN)
			vs->next_port = VSOCK_LOCAL_PORT_MIN;
		if (!vsock_lookup(vs, p, guest_port))
			return p;
	}
}

/* Fire the timer at @at (CLOCK_MONOTONIC ns). */
static void vsock_arm(struct vdpa_vsock *vs, u64 at)
{
	if (swdev_timerfd_at(vs->tfd, at) == 0)
		vs->timer_at = at;
	else
		vs->stats.conn_event_fails++;
}

/* @c waits (for its line, or the guest): give it VSOCK_CONNECT_TIMEOUT_NS. */
static void conn_set_deadline(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	c->deadline = swdev_now_ns() + VSOCK_CONNECT_TIMEOUT_NS;
	/* Deadlines only grow: an armed timer fires first anyway. */
	if (!vs->timer_at)
		vsock_arm(vs, c->deadline);
}

/* The timer fired: give up what waited too long, arm for the next. */
static void vsock_timeouts(struct vdpa_vsock *vs)
{
	u64 now = swdev_now_ns(), next = 0, v;

	if (read(vs->tfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vs->stats.conn_event_fails++;
	vs->timer_at = 0;
	for (u32 i = 0; i < vs->max_conns; i++) {
		struct vsock_conn *c = vs->conns[i];

		if (!c || (c->state != VS_LINE && c->state != VS_REQUEST))
			continue;
		if (c->deadline <= now) {
			vs->stats.conns_timed_out++;
			/* VS_REQUEST: the guest hears an RST; the host sees EOF. */
			conn_kill(vs, c);
		} else if (!next || c->deadline < next) {
			next = c->deadline;
		}
	}
	if (next)
		vsock_arm(vs, next);
}

/* Read the CONNECT line of @c, without taking a byte past its newline. */
static void conn_read_line(struct vdpa_vsock *vs, struct vsock_conn *c)
{
	char peek[VSOCK_LINE_MAX];
	size_t room = sizeof(c->line) - c->line_len;
	char *nl;
	ssize_t r;
	u32 port;

	r = recv(c->fd, peek, room, MSG_PEEK | MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		conn_free(vs, c);	/* gone before it asked */
		return;
	}
	nl = memchr(peek, '\n', (size_t)r);
	if (nl)
		r = nl - peek + 1;
	else if ((size_t)r == room)
		goto bad;
	/* Take exactly what was peeked; whatever follows stays in the socket. */
	if (recv(c->fd, c->line + c->line_len, (size_t)r, MSG_DONTWAIT) != r)
		goto bad;
	c->line_len += (u32)r;
	if (!nl)
		return;
	if (vsock_parse_line(c->line, c->line_len, &port))
		goto bad;
	c->guest_port = port;
	c->host_port = vsock_local_port(vs, port);
	c->state = VS_REQUEST;
	conn_set_deadline(vs, c);
	vsock_hash_add(vs, c);
	c->ops = VS_OP_REQUEST;
	conn_sync(vs, c);
	return;

bad:
	vs->stats.conns_refused++;
	pr_warn_ratelimited("%s: host connection closed: not a \"CONNECT <port>\\n\" line",
			    vs->sw.vdpa.name);
	conn_free(vs, c);
}

static void vsock_accept(struct vdpa_vsock *vs)
{
	for (int i = 0; i < VSOCK_ACCEPT_BUDGET; i++) {
		struct vsock_conn *c;
		int fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (i == VSOCK_ACCEPT_BUDGET - 1)
			vs->more = true;
		c = conn_new(vs, fd, VS_LINE);
		if (!c) {
			/* At the limit: the peer sees its connection closed at once. */
			vs->stats.conns_refused++;
			close(fd);
			continue;
		}
		conn_set_deadline(vs, c);
		conn_sync(vs, c);
	}
}

/* One event of the inner set. */
static void vsock_event(struct vdpa_vsock *vs, const struct epoll_event *ev)
{
	u32 slot = (u32)ev->data.u64, gen = (u32)(ev->data.u64 >> 32);
	struct vsock_conn *c;

	if (ev->data.u64 == VSOCK_EV_LISTENER) {
		vsock_accept(vs);
		return;
	}
	if (ev->data.u64 == VSOCK_EV_TIMER) {
		vsock_timeouts(vs);
		return;
	}
	/* A stream closed earlier in this batch, or its slot reused. */
	if (slot >= vs->max_conns || !(c = vs->conns[slot]) || c->gen != gen)
		return;
	if (ev->events & EPOLLHUP)
		c->host_hup = true;
	if (c->state == VS_LINE) {
		conn_read_line(vs, c);
		return;
	}
	if ((ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && c->buf_len &&
	    !conn_flush(vs, c))
		return;
	if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		c->readable = true;
	conn_sync(vs, c);
}

static void vsock_poll_sockets(struct vdpa_vsock *vs)
{
	struct epoll_event evs[32];
	int n = epoll_wait(vs->epfd, evs, ARRAY_SIZE(evs), 0);

	if (n == (int)ARRAY_SIZE(evs))
		vs->more = true;
	for (int i = 0; i < n; i++)
		vsock_event(vs, &evs[i]);
}

static bool vsock_work(struct swdev *sw)
{
	struct vdpa_vsock *vs = to_vsock(sw);
	bool more;

	vs->more = false;
	vsock_poll_sockets(vs);
	more = swdev_vq_service(sw, &sw->vqs[VSOCK_TXQ], SWDEV_CHAIN_IN, vsock_tx_chain);
	more |= swdev_vq_service(sw, &sw->vqs[VSOCK_RXQ], SWDEV_CHAIN_OUT, vsock_rx_chain);
	return more || vs->more;
}

/* Device reset: every stream ends (the host peers see EOF), the listener stays. */
static void vsock_reset(struct swdev *sw)
{
	struct vdpa_vsock *vs = to_vsock(sw);

	for (u32 i = 0; i < vs->max_conns; i++)
		if (vs->conns[i])
			conn_free(vs, vs->conns[i]);
	vs->nrst = 0;
	/* An armed timer finds nothing waiting and stays off. */
}

static void vsock_update_config(struct swdev *sw)
{
	struct virtio_vsock_config cfg = { .guest_cid = cpu_to_le64(to_vsock(sw)->cid) };

	memcpy(sw->config, &cfg, sizeof(cfg));
}

static void vsock_free(struct swdev *sw)
{
	struct vdpa_vsock *vs = to_vsock(sw);

	/* The worker is gone by now. */
	if (vs->conns)
		vsock_reset(sw);
	if (vs->listen_fd >= 0) {
		close(vs->listen_fd);
		unlink(vs->uds);
	}
	if (vs->epfd >= 0)
		close(vs->epfd);
	if (vs->tfd >= 0)
		close(vs->tfd);
	free(vs->conns);
	free(vs->rstq);
	free(vs);
}

int vdpa_vsock_get_stats(struct vdpa_device *vdpa, struct vdpa_vsock_stats *stats)
{
	struct swdev *sw;

	if (!vdpa || vdpa->mdev != &vdpa_vsock_mgmt_dev)
		return -EINVAL;
	sw = to_swdev(vdpa);
	swdev_lock(sw);
	*stats = to_vsock(sw)->stats;
	stats->conns = to_vsock(sw)->nconns;
	pthread_mutex_unlock(&sw->lock);
	return 0;
}

/* ---- creation -------------------------------------------------------------------- */

static int vsock_listen(struct vdpa_vsock *vs)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = VSOCK_EV_LISTENER };
	int ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", vs->uds);
	vs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (vs->listen_fd < 0)
		return -errno;
	if (bind(vs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		pr_err("vsock: cannot listen on %s: %s%s", vs->uds, strerror(errno),
		       errno == EADDRINUSE ? " (remove it first)" : "");
		goto err_close;
	}
	if (listen(vs->listen_fd, 64) < 0 ||
	    epoll_ctl(vs->epfd, EPOLL_CTL_ADD, vs->listen_fd, &ev) < 0) {
		ret = -errno;
		unlink(vs->uds);
		goto err_close;
	}
	return 0;

err_close:
	close(vs->listen_fd);
	vs->listen_fd = -1;
	return ret;
}

static int vsock_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
			 struct vdpa_device **out)
{
	const struct vsock_args *args = config;
	const struct swdev_attr attr = {
		.device_id = VIRTIO_ID_VSOCK,
		.nvqs = 3,
		.ngroups = 1,
		.nas = 1,
		.config_size = sizeof(struct virtio_vsock_config),
		.features = SWDEV_FEATURES,
		.work = vsock_work,
		.reset = vsock_reset,
		.update_config = vsock_update_config,
		.free = vsock_free,
		.seccomp = SECCOMP_THREAD_DEV_VSOCK,
	};
	/* Edge-triggered: each pass asks the inner set what is ready. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = SWDEV_EV_BACKEND };
	struct vdpa_vsock *vs;
	int ret;

	if (!vdpa_attr_given(mdev, &args->base, "cid") || !args->uds[0]) {
		pr_err("vsock: needs cid=N (3 or more) and uds=PATH");
		return -EINVAL;
	}
	_Static_assert(VDPA_VSOCK_UDS_MAX + sizeof("_4294967295") <=
		       sizeof(((struct sockaddr_un *)0)->sun_path),
		       "PATH_<port> fits a socket address");
	vs = xzalloc(sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	vs->listen_fd = vs->epfd = vs->tfd = -1;
	vs->cid = args->cid;
	vs->max_conns = args->max_conns;
	vs->next_port = VSOCK_LOCAL_PORT_MIN;
	link_init(&vs->ctl);
	link_init(&vs->data);
	snprintf(vs->uds, sizeof(vs->uds), "%s", args->uds);
	ret = swdev_init(&vs->sw, &attr);
	if (ret)
		goto err_destroy;
	ret = -ENOMEM;
	vs->conns = xcalloc(vs->max_conns, sizeof(*vs->conns));
	vs->rst_max = vs->max_conns + VSOCK_RSTQ_EXTRA;
	vs->rstq = xcalloc(vs->rst_max, sizeof(*vs->rstq));
	if (!vs->conns || !vs->rstq)
		goto err_destroy;
	vs->epfd = xepoll_create1(EPOLL_CLOEXEC);
	if (vs->epfd < 0) {
		ret = vs->epfd;
		goto err_destroy;
	}
	vs->tfd = xtimerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vs->tfd < 0) {
		ret = vs->tfd;
		goto err_destroy;
	}
	if (epoll_ctl(vs->epfd, EPOLL_CTL_ADD, vs->tfd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.u64 = VSOCK_EV_TIMER }) < 0) {
		ret = -errno;
		goto err_destroy;
	}
	ret = vsock_listen(vs);
	if (ret)
		goto err_destroy;
	if (epoll_ctl(vs->sw.epfd, EPOLL_CTL_ADD, vs->epfd, &ev) < 0) {
		ret = -errno;
		goto err_destroy;
	}
	ret = swdev_register(&vs->sw, args->base.name);
	if (ret)
		goto err_destroy;
	*out = &vs->sw.vdpa;
	return 0;

err_destroy:
	pr_debug("vdpa: cannot create vsock: %s", strerror(-ret));
	swdev_destroy(&vs->sw);
	return ret;
}

static const struct vdpa_attr vsock_attrs[] = {
	VDPA_ATTR_UINT(struct vsock_args, cid, "cid", 3, 4294967294,
		       "the guest's context id (its config guest_cid)"),
	VDPA_ATTR_STRING(struct vsock_args, uds, "uds", "<path of a Unix socket, at most 95 bytes>",
			 "listens there for host connections; guest connections to port P go to PATH_P"),
	VDPA_ATTR_UINT(struct vsock_args, max_conns, "max_conns", 1, 4096,
		       "streams open at once (default 256)"),
};

static const struct vsock_args vsock_defaults = {
	.max_conns = VSOCK_CONNS_DEFAULT,
};

_Static_assert(VSOCK_CONNS_MAX == 4096, "the max_conns bound above");

/* The listener is bound in the socket's directory (and removed at the end). */
static int vsock_sockets(const void *config, int (*fn)(const char *path, void *opaque),
			 void *opaque)
{
	const struct vsock_args *args = config;

	return args->uds[0] ? fn(args->uds, opaque) : 0;
}

struct vdpa_mgmt_dev vdpa_vsock_mgmt_dev = {
	.type = "vsock",
	.description = "virtio-vsock to Unix sockets (cid=N,uds=PATH)",
	.device_id = VIRTIO_ID_VSOCK,
	.attrs = vsock_attrs,
	.nattrs = ARRAY_SIZE(vsock_attrs),
	.config_size = sizeof(struct vsock_args),
	.defaults = &vsock_defaults,
	.dev_add = vsock_dev_add,
	.sockets = vsock_sockets,
};
