// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-vsock with the hybrid Unix-socket model, driven by the in-process
 * driver, which plays a small guest vsock stack (streams, credit, shutdown)
 * against real host Unix sockets: host connect to a guest listener
 * (CONNECT/OK), guest connect to a host listener at PATH_P, RST on unknown
 * ports and refused streams, one stream stalled by its reader while another
 * flows (both ways), 64 MiB each way on one stream with a checksum, 100
 * streams at once, a host peer killed mid-stream, the connection limit,
 * and hostile packets, after which the device still works.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../test.h"
#include "../vdpa/driver.h"

#include "vsock_guest.h"

static struct vdpa_vsock_stats stats(void)
{
	struct vdpa_vsock_stats st = { 0 };

	vdpa_vsock_get_stats(vdpa, &st);
	return st;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_config(void)
{
	u64 cid = 0;

	vdpa_get_config(vdpa, 0, &cid, sizeof(cid));
	report_eq(vdpa_get_device_id(vdpa), VIRTIO_ID_VSOCK, "device id 19");
	report_eq(le64_to_cpu(cid), GUEST_CID, "config guest_cid");
	report_eq(vdpa->nvqs, 3, "rx, tx and event queues");
}

static void test_host_connect(void)
{
	struct gs *s;
	u32 assigned = 0;
	char buf[64];
	int fd;
	ssize_t r;

	report_prefix_push("host-connect");
	fd = open_host_stream(1234, &s, &assigned);
	if (!report(fd >= 0, "CONNECT 1234 answered OK <port> once the guest accepted"))
		goto out;
	report_ge(assigned, 1u << 30, "assigned host port %u", assigned);
	report_eq(s->hport, assigned, "the guest saw the same host port");
	/* host to guest */
	r = write(fd, "hello guest", 11);
	check_eq(r, 11);
	check_true(WAIT_FOR(s->rx_bytes == 11, 2000));
	check_eq(s->rx_hash, hash_add(HASH_INIT, (const u8 *)"hello guest", 11));
	report_checks("11 bytes host to guest");
	/* guest to host */
	check_eq(g_write(s, (const u8 *)"hello host", 10), 10);
	r = 0;
	WAIT_FOR(({ ssize_t k = read(fd, buf + r, sizeof(buf) - (size_t)r);
		    if (k > 0) r += k; r >= 10; }), 2000);
	check_eq(r, 10);
	check_mem(buf, "hello host", 10);
	report_checks("10 bytes guest to host");
	/* The guest resets: the host sees EOF. */
	g_ctl(s, VIRTIO_VSOCK_OP_RST, 0);
	report_true(WAIT_FOR(read(fd, buf, 1) == 0, 2000), "guest RST: host connection closed");
	close(fd);
	s->used = false;
	/* A guest that refuses: the host connection is closed without OK. */
	fd = host_connect(uds);
	dprintf(fd, "CONNECT 999\n");
	check_true(WAIT_FOR(({ s = NULL; for (int i = 0; i < MAXS; i++)
				if (gs[i].used && gs[i].requested && gs[i].gport == 999) s = &gs[i];
			  s != NULL; }), 2000));
	if (s) {
		g_ctl(s, VIRTIO_VSOCK_OP_RST, 0);
		s->used = false;
	}
	set_nonblock(fd);
	check_true(WAIT_FOR(read(fd, buf, sizeof(buf)) == 0, 2000));
	report_checks("a guest RST to the REQUEST closes the host connection with no OK");
	close(fd);
	/* Bad lines are closed. */
	fd = host_connect(uds);
	dprintf(fd, "HELLO 1\n");
	set_nonblock(fd);
	report_true(WAIT_FOR(read(fd, buf, sizeof(buf)) == 0, 2000), "a bad CONNECT line is closed");
	close(fd);
	fd = host_connect(uds);
	dprintf(fd, "CONNECT 11111111111111111111111111111111111\n");
	set_nonblock(fd);
	report_true(WAIT_FOR(read(fd, buf, sizeof(buf)) == 0, 2000), "an overlong line is closed");
	close(fd);
out:
	report_prefix_pop();
}

static void test_guest_connect(void)
{
	struct gs *s, *r;
	char buf[64];
	int lfd, fd;
	ssize_t n;

	report_prefix_push("guest-connect");
	lfd = host_listen(5000);
	s = gs_new(40000, 5000);
	g_ctl(s, VIRTIO_VSOCK_OP_REQUEST, 0);
	check_true(WAIT_FOR(s->open || s->rst, 2000));
	check_true(s->open);
	report_checks("REQUEST to host port 5000 answered RESPONSE (listener at %s_5000)", uds);
	fd = accept(lfd, NULL, NULL);
	report_ge(fd, 0, "the host listener got the connection");
	g_write(s, (const u8 *)"ping", 4);
	n = 0;
	set_nonblock(fd);
	WAIT_FOR(({ ssize_t k = read(fd, buf + n, sizeof(buf) - (size_t)n);
		    if (k > 0) n += k; n >= 4; }), 2000);
	check_eq(n, 4);
	check_mem(buf, "ping", 4);
	report_checks("guest bytes reach the host listener's connection");
	check_eq(write(fd, "pong!", 5), 5);
	check_true(WAIT_FOR(s->rx_bytes == 5, 2000));
	report_checks("host bytes reach the guest");
	/* The host half-closes: SHUTDOWN SEND; the guest still sends. */
	shutdown(fd, SHUT_WR);
	check_true(WAIT_FOR(s->shut & VIRTIO_VSOCK_SHUTDOWN_SEND, 2000));
	report_checks("host shutdown(SHUT_WR) is a SHUTDOWN SEND to the guest (flags %u)", s->shut);
	g_write(s, (const u8 *)"more", 4);
	n = 0;
	WAIT_FOR(({ ssize_t k = read(fd, buf + n, sizeof(buf) - (size_t)n);
		    if (k > 0) n += k; n >= 4; }), 2000);
	report_eq(n, 4, "the guest still sends after the host's half-close");
	/* Clean close: SHUTDOWN both from the guest; the device answers RST. */
	g_ctl(s, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	check_true(WAIT_FOR(s->rst, 2000));
	check_true(WAIT_FOR(read(fd, buf, sizeof(buf)) == 0, 2000));
	report_checks("guest SHUTDOWN both ways: RST back, host sees EOF");
	close(fd);
	s->used = false;

	/* No listener: RST. */
	r = gs_new(40001, 5001);
	g_ctl(r, VIRTIO_VSOCK_OP_REQUEST, 0);
	report_true(WAIT_FOR(r->refused, 2000), "REQUEST to port 5001 (no listener): RST");
	r->used = false;
	/* RW on a stream that does not exist: RST. */
	r = gs_new(40002, 5000);
	r->open = true;
	r->peer_buf_alloc = 4096;
	g_write(r, (const u8 *)"x", 1);
	report_true(WAIT_FOR(r->rst, 2000), "data on an unknown stream: RST");
	r->used = false;
	close(lfd);
	report_prefix_pop();
}

/* Host writes into @fd as far as it takes, without blocking. Return: bytes. */
static size_t host_fill(int fd, u32 seed, u64 *off, size_t max)
{
	static u8 chunk[65536];
	size_t total = 0;

	set_nonblock(fd);
	while (total < max) {
		size_t n = MIN(sizeof(chunk), max - total);
		ssize_t w;

		fill(chunk, n, seed, *off);
		w = write(fd, chunk, n);
		if (w <= 0)
			break;
		*off += (u64)w;
		total += (size_t)w;
	}
	return total;
}

static void test_credit_stall(void)
{
	struct gs *a, *b, *c, *e;
	u32 pa, pb, pc, pe;
	int fa, fb, fc, fe;
	u64 offa = 0, offb = 0;
	size_t wrote_a;
	u8 *data = malloc(1 << 20), sink[65536];
	u64 got = 0, t0;
	struct vdpa_vsock_stats st;

	report_prefix_push("credit-stall");
	fa = open_host_stream(2001, &a, &pa);
	fb = open_host_stream(2002, &b, &pb);
	if (!report(fa >= 0 && fb >= 0, "two host-initiated streams"))
		goto out;
	/* Host to guest: the guest stops reading stream A. */
	a->hold = true;
	a->buf_alloc = 32768;
	g_ctl(a, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	pump();
	wrote_a = host_fill(fa, 1, &offa, 8 << 20);
	t0 = now_ms();
	while (b->rx_bytes < (4u << 20) && now_ms() - t0 < 10000) {
		host_fill(fb, 2, &offb, (4u << 20) - offb);
		pump();
		usleep(20);
	}
	check_eq(b->rx_bytes, 4u << 20);
	check_eq(b->rx_hash, ({ u64 h = HASH_INIT; u8 t[4096];
				for (u64 o = 0; o < (4u << 20); o += sizeof(t)) {
					fill(t, sizeof(t), 2, o); h = hash_add(h, t, sizeof(t)); }
				h; }));
	report_checks("stream B moved 4 MiB intact (%llu bytes) while A's reader stalls",
		      (unsigned long long)b->rx_bytes);
	check_le(a->rx_bytes, 32768);
	check_false(a->over_credit);
	check_lt(wrote_a, 8u << 20);
	report_checks("stream A got %llu bytes, no more than its 32 KiB credit; its host writer blocked after %zu bytes",
		      (unsigned long long)a->rx_bytes, wrote_a);
	a->buf_alloc = GUEST_BUF;
	g_release(a);
	report_true(WAIT_FOR(({ host_fill(fa, 1, &offa, 0); a->rx_bytes == offa; }), 5000),
		    "A resumes when its reader does: %llu of %llu bytes",
		    (unsigned long long)a->rx_bytes, (unsigned long long)offa);

	/* Guest to host: the host stops reading stream C; D flows. */
	fc = open_host_stream(2003, &c, &pc);
	fe = open_host_stream(2004, &e, &pe);
	fill(data, 1 << 20, 3, 0);
	t0 = now_ms();
	while (now_ms() - t0 < 3000) {
		u32 n = g_write(c, data, 1 << 20);

		pump();
		if (!n && !g_credit(c)) {
			/* Give the device a moment to forward what it can. */
			if (!WAIT_FOR(g_credit(c) > 0, 200))
				break;
		}
	}
	check_eq(g_credit(c), 0);
	report_checks("stream C: the guest's credit ran out (sent %u bytes, host not reading)",
		      c->tx_cnt);
	set_nonblock(fe);
	for (u32 sent = 0; got < (2u << 20) && now_ms() - t0 < 15000;) {
		ssize_t r;

		if (sent < (2u << 20))
			sent += g_write(e, data + (sent % (1 << 20)), MIN((2u << 20) - sent,
									  (1u << 20) - sent % (1u << 20)));
		pump();
		while ((r = read(fe, sink, sizeof(sink))) > 0)
			got += (u64)r;
	}
	report_eq(got, 2u << 20, "stream D moved 2 MiB guest to host meanwhile");
	st = stats();
	report_eq(st.tx_credit_violations, 0, "no credit violations");
	/* C's host reader resumes: everything arrives. */
	set_nonblock(fc);
	got = 0;
	WAIT_FOR(({ ssize_t r; while ((r = read(fc, sink, sizeof(sink))) > 0) got += (u64)r;
		    got == c->tx_cnt; }), 5000);
	report_eq(got, c->tx_cnt, "C's bytes all reach the host once it reads");
	g_ctl(c, VIRTIO_VSOCK_OP_RST, 0);
	g_ctl(e, VIRTIO_VSOCK_OP_RST, 0);
	close(fc);
	close(fe);
	c->used = e->used = false;
out:
	if (a) {
		g_ctl(a, VIRTIO_VSOCK_OP_RST, 0);
		a->used = false;
	}
	if (b) {
		g_ctl(b, VIRTIO_VSOCK_OP_RST, 0);
		b->used = false;
	}
	close(fa);
	close(fb);
	free(data);
	report_prefix_pop();
}

static void test_bulk(void)
{
	const u64 total = 64ull << 20;
	struct gs *s;
	u32 port;
	int fd;
	u64 h2g_off = 0, g2h_sent = 0, g2h_got = 0, t0;
	u64 want_h2g = HASH_INIT, want_g2h = HASH_INIT, got_g2h = HASH_INIT;
	u8 *chunk = malloc(TXPAY), *rbuf = malloc(1 << 16), *wbuf = malloc(1 << 16);

	report_prefix_push("64MiB");
	fd = open_host_stream(3000, &s, &port);
	if (!report(fd >= 0, "stream open"))
		goto out;
	set_nonblock(fd);
	t0 = now_ms();
	while ((s->rx_bytes < total || g2h_got < total) && now_ms() - t0 < 50000) {
		ssize_t r;

		/* host to guest */
		if (h2g_off < total) {
			size_t n = (size_t)MIN((u64)(1 << 16), total - h2g_off);

			fill(wbuf, n, 7, h2g_off);
			r = write(fd, wbuf, n);
			if (r > 0) {
				want_h2g = hash_add(want_h2g, wbuf, (size_t)r);
				h2g_off += (u64)r;
			}
		}
		/* guest to host */
		while (g2h_sent < total) {
			u32 n = (u32)MIN((u64)TXPAY, total - g2h_sent), w;

			fill(chunk, n, 9, g2h_sent);
			w = g_write(s, chunk, n);
			if (!w)
				break;
			want_g2h = hash_add(want_g2h, chunk, w);
			g2h_sent += w;
		}
		while ((r = read(fd, rbuf, 1 << 16)) > 0) {
			got_g2h = hash_add(got_g2h, rbuf, (size_t)r);
			g2h_got += (u64)r;
		}
		pump();
	}
	check_eq(s->rx_bytes, total);
	check_eq(s->rx_hash, want_h2g);
	report_checks("64 MiB host to guest, checksum %016llx", (unsigned long long)s->rx_hash);
	check_eq(g2h_got, total);
	check_eq(got_g2h, want_g2h);
	report_checks("64 MiB guest to host, checksum %016llx", (unsigned long long)got_g2h);
	report_info("both ways at once in %llu ms", (unsigned long long)(now_ms() - t0));
	g_ctl(s, VIRTIO_VSOCK_OP_RST, 0);
	s->used = false;
	close(fd);
out:
	free(chunk);
	free(rbuf);
	free(wbuf);
	report_prefix_pop();
}

static void test_many(void)
{
	enum { N = 100, LEN = 20000 };
	int fds[N];
	struct gs *s[N];
	u32 ports[N];
	unsigned int open = 0, ok_h2g = 0, ok_g2h = 0;
	u8 buf[LEN], got[LEN];

	report_prefix_push("100-streams");
	for (int i = 0; i < N; i++) {
		fds[i] = open_host_stream(6000 + (u32)i, &s[i], &ports[i]);
		open += fds[i] >= 0;
	}
	if (!report_eq(open, N, "%u streams open at once", open))
		goto out;
	report_eq(stats().conns, N, "the device counts %d streams", N);
	for (int i = 0; i < N; i++) {
		fill(buf, LEN, 100 + (u32)i, 0);
		set_nonblock(fds[i]);
		if (write(fds[i], buf, LEN) != LEN)
			report_info("short write on stream %d", i);
		g_write(s[i], buf, LEN);
	}
	WAIT_FOR(({ unsigned int k = 0; for (int i = 0; i < N; i++) k += s[i]->rx_bytes == LEN;
		    k == N; }), 10000);
	for (int i = 0; i < N; i++) {
		size_t n = 0;
		ssize_t r;

		fill(buf, LEN, 100 + (u32)i, 0);
		ok_h2g += s[i]->rx_bytes == LEN && s[i]->rx_hash == hash_add(HASH_INIT, buf, LEN);
		WAIT_FOR(({ while ((r = read(fds[i], got + n, LEN - n)) > 0) n += (size_t)r;
			    n == LEN; }), 2000);
		ok_g2h += n == LEN && !memcmp(got, buf, LEN);
	}
	report_eq(ok_h2g, N, "host to guest intact on %u/%d streams", ok_h2g, N);
	report_eq(ok_g2h, N, "guest to host intact on %u/%d streams", ok_g2h, N);
out:
	for (int i = 0; i < N; i++) {
		if (fds[i] >= 0) {
			g_ctl(s[i], VIRTIO_VSOCK_OP_RST, 0);
			s[i]->used = false;
			close(fds[i]);
		}
	}
	report_true(WAIT_FOR(stats().conns == 0, 3000), "all closed: %llu streams left",
		    (unsigned long long)stats().conns);
	report_prefix_pop();
}

static void test_peer_killed(void)
{
	struct gs *s = NULL;
	int pfd[2];
	pid_t pid;
	u8 buf[4096];
	u64 t0;

	report_prefix_push("peer-killed");
	if (pipe(pfd))
		goto out;
	pid = fork();
	if (pid == 0) {
		/* The host peer: connect, wait for OK, stream until killed. */
		char line[64];
		size_t n = 0;
		int fd = host_connect(uds);

		close(pfd[0]);
		dprintf(fd, "CONNECT 4000\n");
		while (n + 1 < sizeof(line) && read(fd, line + n, 1) == 1 && line[n++] != '\n')
			;
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		memset(buf, 0x5a, sizeof(buf));
		for (;;)
			if (write(fd, buf, sizeof(buf)) < 0)
				_exit(0);
	}
	close(pfd[1]);
	check_true(WAIT_FOR(({ s = NULL; for (int i = 0; i < MAXS; i++)
				if (gs[i].used && gs[i].requested && gs[i].gport == 4000) s = &gs[i];
			  s != NULL; }), 3000));
	if (!report_checks("the peer's CONNECT reached the guest")) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	s->open = true;
	s->requested = false;
	g_ctl(s, VIRTIO_VSOCK_OP_RESPONSE, 0);
	WAIT_FOR(s->rx_bytes > 100000, 3000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t0 = s->rx_bytes;
	check_gt(t0, 100000);
	check_true(WAIT_FOR(s->shut == (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND) ||
			    s->rst, 3000));
	report_checks("killed after %llu bytes: the guest gets SHUTDOWN both ways (flags %u) or RST",
		      (unsigned long long)t0, s->shut);
	/* The guest, still sending, gets an RST; the device forgets the stream. */
	memset(buf, 1, sizeof(buf));
	g_write(s, buf, sizeof(buf));
	check_true(WAIT_FOR(s->rst, 3000));
	check_true(WAIT_FOR(stats().conns == 0, 3000));
	report_checks("data to the dead peer: RST, stream gone (%llu left)",
		      (unsigned long long)stats().conns);
	s->used = false;
out:
	close(pfd[0]);
	report_prefix_pop();
}

static void test_hostile(void)
{
	struct vdpa_vsock_stats before = stats(), after;
	struct virtio_vsock_hdr h;
	struct gs *s, *r;
	u8 big[TXPAY];
	u32 port;
	int fd;

	report_prefix_push("hostile");
	s = gs_new(50000, 5002);
	/* A header cut short. */
	hdr_fill(&h, s, VIRTIO_VSOCK_OP_REQUEST, 0);
	g_send_raw(&h, NULL, 0, 20);
	/* A length beyond the buffers. */
	hdr_fill(&h, s, VIRTIO_VSOCK_OP_RW, 100000);
	g_send_raw(&h, big, 100, HDR);
	/* A spoofed source CID. */
	hdr_fill(&h, s, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.src_cid = cpu_to_le64(77);
	g_send_raw(&h, NULL, 0, HDR);
	WAIT_FOR(stats().tx_bad_packets >= before.tx_bad_packets + 3, 2000);
	after = stats();
	check_eq(after.tx_bad_packets - before.tx_bad_packets, 3);
	check_false(s->rst);
	report_checks("short header, bad length, spoofed CID: dropped (%llu counted)",
		      (unsigned long long)(after.tx_bad_packets - before.tx_bad_packets));
	/* To another CID, of another type: RST. */
	hdr_fill(&h, s, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.dst_cid = cpu_to_le64(9);
	g_send_raw(&h, NULL, 0, HDR);
	report_true(WAIT_FOR(s->rst, 2000), "a packet for CID 9: RST");
	s->rst = false;
	hdr_fill(&h, s, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = cpu_to_le16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	g_send_raw(&h, NULL, 0, HDR);
	report_true(WAIT_FOR(s->rst, 2000), "a SEQPACKET request: RST");
	s->used = false;
	/* On an open stream: an unknown op, then credit overrun. */
	fd = open_host_stream(4500, &r, &port);
	if (!report(fd >= 0, "a stream open"))
		goto out;
	hdr_fill(&h, r, 99, 0);
	g_send_raw(&h, NULL, 0, HDR);
	report_true(WAIT_FOR(r->rst, 2000), "op 99 on an open stream: RST");
	set_nonblock(fd);
	report_true(WAIT_FOR(read(fd, big, sizeof(big)) == 0, 2000), "and its host side closed");
	close(fd);
	r->used = false;
	fd = open_host_stream(4501, &r, &port);
	/* The host does not read; the guest ignores its credit. */
	memset(big, 7, sizeof(big));
	for (int i = 0; i < 64 && !r->rst; i++) {
		hdr_fill(&h, r, VIRTIO_VSOCK_OP_RW, TXPAY);
		g_send_raw(&h, big, TXPAY, HDR);
		pump();
	}
	report_true(WAIT_FOR(r->rst, 2000), "sending past credit: RST");
	report_gt(stats().tx_credit_violations, before.tx_credit_violations,
		  "counted as a credit violation");
	close(fd);
	r->used = false;
	report_false(vdpa_get_status(vdpa) & VIRTIO_CONFIG_S_NEEDS_RESET,
		     "the device runs on (no NEEDS_RESET)");
	report_eq(bad_rx, 0, "every packet from the device was well-formed");
	/* And still works. */
	fd = open_host_stream(4502, &r, &port);
	report_ge(fd, 0, "a new stream opens afterwards");
	if (fd >= 0) {
		g_ctl(r, VIRTIO_VSOCK_OP_RST, 0);
		r->used = false;
		close(fd);
	}
out:
	report_prefix_pop();
}

/* Host connections that wait too long, for their line or for the guest. */
static void test_timeouts(void)
{
	struct vdpa_vsock_stats before = stats();
	struct gs *s = NULL;
	char buf[16];
	int mute, unanswered;
	u64 t0 = now_ms();

	report_prefix_push("timeouts");
	mute = host_connect(uds);
	unanswered = host_connect(uds);
	dprintf(unanswered, "CONNECT 778\n");
	set_nonblock(mute);
	set_nonblock(unanswered);
	check_true(WAIT_FOR(({ s = NULL; for (int i = 0; i < MAXS; i++)
				if (gs[i].used && gs[i].requested && gs[i].gport == 778) s = &gs[i];
			  s != NULL; }), 2000));
	report_checks("the REQUEST reached the guest, which does not answer");
	check_true(WAIT_FOR(read(mute, buf, sizeof(buf)) == 0, 4000));
	check_true(WAIT_FOR(read(unanswered, buf, sizeof(buf)) == 0, 4000));
	check_ge(now_ms() - t0, 1900);
	report_checks("both closed after the 2 s deadline (%llu ms)",
		      (unsigned long long)(now_ms() - t0));
	if (s) {
		check_true(WAIT_FOR(s->rst, 1000));
		report_checks("the guest got an RST for the REQUEST it left unanswered");
		s->used = false;
	}
	report_eq(stats().conns_timed_out - before.conns_timed_out, 2, "counted as timed out");
	close(mute);
	close(unanswered);
	report_prefix_pop();
}

static void test_limit(void)
{
	struct vdpa_device *small;
	char spec[256], path[128], buf[8];
	struct vdrv d2;
	int fds[3];

	report_prefix_push("limit");
	snprintf(path, sizeof(path), "%s/small.sock", dir);
	snprintf(spec, sizeof(spec), "vsock,cid=4,uds=%s,max_conns=2", path);
	if (!report_eq(vdpa_mgmt_dev_add(spec, &small), 0, "max_conns=2 device"))
		goto out;
	for (int i = 0; i < 3; i++)
		fds[i] = host_connect(path);
	/* Connections wait in the listener's backlog until the driver is up. */
	check_eq(vdrv_init(&d2, small, 1 << 20), 0);
	check_eq(vdrv_map(&d2, 0), 0);
	check_eq(vdrv_negotiate(&d2, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_ACCESS_PLATFORM), 0);
	for (u16 q = 0; q < 3; q++)
		check_eq(vdrv_vq_setup(&d2, q, 8), 0);
	check_eq(vdrv_driver_ok(&d2), 0);
	report_checks("its driver is up");
	set_nonblock(fds[2]);
	report_true(WAIT_FOR(read(fds[2], buf, sizeof(buf)) == 0, 2000),
		    "the third connection is closed at once");
	set_nonblock(fds[0]);
	report_true(read(fds[0], buf, sizeof(buf)) < 0 && errno == EAGAIN,
		    "the first two wait (errno %d)", errno);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	vdpa_reset(small);
	vdrv_fini(&d2);
	vdpa_mgmt_dev_del(small);
	report_true(access(path, F_OK) < 0, "its socket is removed with it");
	report_eq(vdpa_mgmt_dev_add("vsock,cid=2,uds=/tmp/x", &small), -EINVAL, "cid 2 refused");
	report_eq(vdpa_mgmt_dev_add("vsock,uds=/tmp/x", &small), -EINVAL, "cid required");
	report_eq(vdpa_mgmt_dev_add("vsock,cid=3", &small), -EINVAL, "uds required");
	snprintf(spec, sizeof(spec), "vsock,cid=5,uds=%s", uds);
	report_ne(vdpa_mgmt_dev_add(spec, &small), 0, "a path already bound is refused");
out:
	report_prefix_pop();
}

/* The scratch directory goes on every way out, a failed bring-up too. */
static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
	char spec[256];

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/vsock_test.XXXXXX");
	if (!mkdtemp(dir)) {
		report(false, "temporary directory");
		return report_summary();
	}
	atexit(remove_dir);
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	snprintf(spec, sizeof(spec), "vsock,cid=%d,uds=%s", GUEST_CID, uds);
	if (vdpa_register_types() || vdpa_mgmt_dev_add(spec, &vdpa)) {
		report(false, "created %s", spec);
		return report_summary();
	}
	test_config();
	if (!report(up(), "bring-up"))
		return report_summary();
	test_host_connect();
	test_guest_connect();
	test_credit_stall();
	test_bulk();
	test_many();
	test_peer_killed();
	test_hostile();
	test_timeouts();
	down();
	test_limit();
	vdpa_mgmt_dev_del(vdpa);
	report_true(access(uds, F_OK) < 0, "the listener's socket is removed");
	return report_summary();
}
