// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-vsock stream throughput and round-trip latency, the in-process
 * driver playing the guest (tests/unit/vdpa-dev/vsock_guest.h) against a
 * host Unix socket on the device's CONNECT/OK model, beside the anchor
 * measured in the same run: a Unix socketpair between two threads, the same
 * bytes and the same ping-pong. Prints figures only.
 *
 *   build/bench/vsock_bench [seconds per run] [round trips]
 *
 * Throughput: one stream, one direction at a time, 32 KiB packets from the
 * guest, rx buffers of 8 KiB (Linux posts 4 KiB ones), the host reading
 * (or writing) 64 KiB at a time, for the given seconds. Latency: one byte
 * host -> guest -> host, the guest echoing as soon as it sees it; median
 * and 99th percentile over the round trips. The driver spins on its rings
 * (no interrupts); the device's worker sleeps in epoll between packets as
 * it does under a real guest, so each trip crosses to the worker twice, as
 * the anchor's crosses to its echo thread twice.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "../tests/unit/vdpa-dev/vsock_guest.h"

static u8 chunk[65536];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report_rtt(const char *what, double *us, unsigned int n)
{
	qsort(us, n, sizeof(*us), cmp_double);
	printf("vsock_bench: %-32s median %7.1f us  p99 %7.1f us  (%u round trips)\n", what,
	       us[n / 2], us[n * 99 / 100], n);
}

/* ---- vsock ---------------------------------------------------------------- */

static double vsock_g2h(struct gs *s, int fd, double seconds)
{
	u64 got = 0;
	double t0 = now_s(), t;
	ssize_t r;

	fill(chunk, TXPAY, 1, 0);
	while ((t = now_s()) - t0 < seconds) {
		while (g_write(s, chunk, TXPAY))
			;
		pump();
		while ((r = read(fd, chunk + TXPAY, sizeof(chunk) - TXPAY)) > 0)
			got += (u64)r;
	}
	return (double)got / (t - t0);
}

static double vsock_h2g(struct gs *s, int fd, double seconds)
{
	u64 start = s->rx_bytes;
	double t0 = now_s(), t;

	while ((t = now_s()) - t0 < seconds) {
		while (write(fd, chunk, sizeof(chunk)) > 0)
			;
		pump();
	}
	/* What the host wrote but the guest has not got yet is not counted. */
	return (double)(s->rx_bytes - start) / (t - t0);
}

/* Until nothing moves for 100 ms: no byte of a run left in flight. */
static void vsock_drain(struct gs *s, int fd)
{
	u64 last = s->rx_bytes;
	double quiet = now_s();

	while (now_s() - quiet < 0.1) {
		pump();
		if (read(fd, chunk, sizeof(chunk)) > 0 || s->rx_bytes != last) {
			last = s->rx_bytes;
			quiet = now_s();
		}
	}
}

static void vsock_rtt(struct gs *s, int fd, double *us, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		u64 before = s->rx_bytes;
		double t0 = now_s();
		u8 b = (u8)i;

		if (write(fd, &b, 1) != 1)
			break;
		while (s->rx_bytes == before)
			pump();
		while (!g_write(s, &b, 1))
			pump();
		while (read(fd, &b, 1) != 1)
			pump();
		us[i] = (now_s() - t0) * 1e6;
	}
}

/* ---- the anchor: a socketpair and a thread ---------------------------------- */

struct peer {
	int fd;
	int mode;	/* 0 echo a byte at a time, 1 sink, 2 source */
	volatile int stop;
};

static void *peer_run(void *arg)
{
	struct peer *p = arg;
	static u8 buf[65536];

	while (!p->stop) {
		ssize_t r;

		if (p->mode == 0) {
			r = read(p->fd, buf, 1);
			if (r == 1 && write(p->fd, buf, 1) != 1)
				break;
		} else if (p->mode == 1) {
			r = read(p->fd, buf, sizeof(buf));
		} else {
			r = write(p->fd, buf, sizeof(buf));
		}
		if (r <= 0)
			break;
	}
	return NULL;
}

static double anchor_bytes(int mode, double seconds)
{
	struct peer p = { .mode = mode };
	int sv[2];
	pthread_t t;
	u64 n = 0;
	double t0, t1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 0;
	p.fd = sv[1];
	pthread_create(&t, NULL, peer_run, &p);
	t0 = now_s();
	while ((t1 = now_s()) - t0 < seconds) {
		ssize_t r = mode == 1 ? write(sv[0], chunk, TXPAY) : read(sv[0], chunk, sizeof(chunk));

		if (r > 0)
			n += (u64)r;
	}
	p.stop = 1;
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	return (double)n / (t1 - t0);
}

static void anchor_rtt(double *us, unsigned int n)
{
	struct peer p = { .mode = 0 };
	int sv[2];
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return;
	p.fd = sv[1];
	pthread_create(&t, NULL, peer_run, &p);
	for (unsigned int i = 0; i < n; i++) {
		u8 b = (u8)i;
		double t0 = now_s();

		if (write(sv[0], &b, 1) != 1 || read(sv[0], &b, 1) != 1)
			break;
		us[i] = (now_s() - t0) * 1e6;
	}
	p.stop = 1;
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	unsigned int trips = argc > 2 ? (unsigned int)atoi(argv[2]) : 5000;
	double *us = calloc(trips ? trips : 1, sizeof(*us));
	char spec[160];
	double bw;
	struct gs *s;
	u32 port;
	int fd;

	if (seconds <= 0 || !trips || !us) {
		fprintf(stderr, "usage: vsock_bench [seconds > 0] [round trips > 0]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/tmp/vsock_bench.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	snprintf(spec, sizeof(spec), "vsock,cid=%d,uds=%s", GUEST_CID, uds);
	if (vdpa_register_types() || vdpa_mgmt_dev_add(spec, &vdpa) || !up()) {
		fprintf(stderr, "vsock_bench: cannot create and bring up %s\n", spec);
		return 1;
	}
	hash_rx = false;
	fd = open_host_stream(7, &s, &port);
	if (fd < 0) {
		fprintf(stderr, "vsock_bench: no stream\n");
		return 1;
	}
	set_nonblock(fd);
	bw = vsock_g2h(s, fd, seconds);
	vsock_drain(s, fd);
	printf("vsock_bench: guest -> host  %8.0f MiB/s   anchor (socketpair + thread) %8.0f MiB/s\n",
	       bw / 1048576, anchor_bytes(1, seconds) / 1048576);
	bw = vsock_h2g(s, fd, seconds);
	vsock_drain(s, fd);
	printf("vsock_bench: host -> guest  %8.0f MiB/s   anchor (socketpair + thread) %8.0f MiB/s\n",
	       bw / 1048576, anchor_bytes(2, seconds) / 1048576);
	vsock_rtt(s, fd, us, trips);
	report_rtt("1-byte round trip, vsock", us, trips);
	anchor_rtt(us, trips);
	report_rtt("1-byte round trip, anchor", us, trips);
	g_ctl(s, VIRTIO_VSOCK_OP_RST, 0);
	close(fd);
	down();
	vdpa_mgmt_dev_del(vdpa);
	rmdir(dir);
	free(us);
	return 0;
}
