// SPDX-License-Identifier: GPL-2.0-only
/*
 * Both ends of the nested virtio-vsock check (tests/e2e): Linux L2's own
 * AF_VSOCK (vmw_vsock_virtio_transport) against a program in L1 on the
 * Unix sockets of kestrel's hybrid model (docs/vsock.md). Static, no
 * library beyond libc.
 *
 *   l2-vsock guest MIB [TRIPS]      in L2: prints L2-CHECK lines
 *   l2-vsock host PATH MIB [TRIPS]  in L1, beside `kestrel run --vsock cid=3,uds=PATH`:
 *                                   prints VSOCK-HOST <check> PASS|FAIL <detail>
 *
 * The two follow one script:
 *  1. listen: L2 listens on port 1234; L1 connects to PATH with
 *     "CONNECT 1234\n" (again until the listener is up), sends MIB MiB and
 *     shuts its side; L2 answers with the FNV-1a hash of what it got and
 *     MIB MiB of its own, which L1 checks against the pattern.
 *  2. connect: L2 opens 100 streams to host port 5000 at once (L1 listens
 *     at PATH_5000), writes 64 KiB on each and reads back L1's hash of them.
 *  3. peer-killed: L1 forks a peer that connects to L2's port 1235 and
 *     streams until L1 kills it with SIGKILL; L2 must see the stream end
 *     (EOF or a reset), and a write after it fail.
 *  4. with TRIPS (bench/vsock-e2e.sh): on port 1236, MIB MiB host to guest,
 *     MIB MiB back, then TRIPS one-byte round trips, timed by L1, which
 *     first times the same over a socketpair between two L1 processes (the
 *     anchor); VSOCK-BENCH lines.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define NSTREAMS	100
#define STREAM_LEN	65536
#define HASH_INIT	0xcbf29ce484222325ULL

static uint64_t hash_add(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void fill(unsigned char *p, size_t n, unsigned int seed, uint64_t off)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t j = off + i;

		p[i] = (unsigned char)(j * 7 + seed * 13 + (j >> 8));
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t have = 0;

	while (have < n) {
		ssize_t r = read(fd, (char *)buf + have, n - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	return (ssize_t)have;
}

/* Send @total bytes of pattern @seed; Return: their hash, or 0 on error. */
static uint64_t send_pattern(int fd, uint64_t total, unsigned int seed, int *err)
{
	static unsigned char buf[65536];
	uint64_t h = HASH_INIT;

	for (uint64_t off = 0; off < total;) {
		size_t n = total - off < sizeof(buf) ? (size_t)(total - off) : sizeof(buf);

		fill(buf, n, seed, off);
		h = hash_add(h, buf, n);
		if (write_all(fd, buf, n)) {
			*err = errno;
			return 0;
		}
		off += n;
	}
	return h;
}

/* Read to EOF; Return: bytes, *@h their hash, *@bad bytes not of pattern @seed. */
static uint64_t recv_all(int fd, uint64_t *h, unsigned int seed, uint64_t *bad, int *err)
{
	static unsigned char buf[65536], want[65536];
	uint64_t got = 0;

	*h = HASH_INIT;
	*bad = 0;
	*err = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			*err = errno;
		if (r <= 0)
			return got;
		*h = hash_add(*h, buf, (size_t)r);
		fill(want, (size_t)r, seed, got);
		for (ssize_t i = 0; i < r; i++)
			*bad += buf[i] != want[i];
		got += (uint64_t)r;
	}
}

/* ---- the benchmark (4) ---------------------------------------------------------- */

/* The guest's side: take @total bytes, ack, send @total, echo @trips bytes. */
static void bench_serve(int fd, uint64_t total, unsigned int trips)
{
	static unsigned char buf[65536];
	uint64_t got = 0, ack = 0;
	int err = 0;

	while (got < total) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r <= 0)
			return;
		got += (uint64_t)r;
	}
	if (write_all(fd, &ack, sizeof(ack)) || !send_pattern(fd, total, 4, &err))
		return;
	for (unsigned int i = 0; i < trips; i++)
		if (read_full(fd, buf, 1) != 1 || write_all(fd, buf, 1))
			return;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The host's side, timing it; one VSOCK-BENCH line named @what. */
static void bench_drive(int fd, uint64_t total, unsigned int trips, const char *what)
{
	static unsigned char buf[65536];
	double *us = calloc(trips ? trips : 1, sizeof(*us)), t0, h2g, g2h;
	uint64_t got = 0, ack;
	int err = 0;

	t0 = now();
	if (!us || !send_pattern(fd, total, 5, &err) ||
	    read_full(fd, &ack, sizeof(ack)) != sizeof(ack)) {
		printf("VSOCK-BENCH %s failed (%s)\n", what, strerror(err ? err : errno));
		free(us);
		return;
	}
	h2g = (double)total / (now() - t0) / 1048576;
	t0 = now();
	while (got < total) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r <= 0)
			break;
		got += (uint64_t)r;
	}
	g2h = (double)got / (now() - t0) / 1048576;
	for (unsigned int i = 0; i < trips; i++) {
		unsigned char b = (unsigned char)i;

		t0 = now();
		if (write_all(fd, &b, 1) || read_full(fd, &b, 1) != 1) {
			trips = i;
			break;
		}
		us[i] = (now() - t0) * 1e6;
	}
	qsort(us, trips, sizeof(*us), cmp_double);
	printf("VSOCK-BENCH %s h2g_mibs=%.1f g2h_mibs=%.1f rtt_us_median=%.1f rtt_us_p99=%.1f trips=%u mib=%llu\n",
	       what, h2g, g2h, trips ? us[trips / 2] : 0, trips ? us[trips * 99 / 100] : 0, trips,
	       (unsigned long long)(total >> 20));
	fflush(stdout);
	free(us);
}

/* ---- L2 ---------------------------------------------------------------------- */

static int vsock_listen(unsigned int port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8)) {
		printf("L2-CHECK vsock FAIL cannot listen on vsock port %u: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

static int guest(uint64_t total, unsigned int trips)
{
	int l1 = vsock_listen(1234), l2 = vsock_listen(1235), fd, err, fds[NSTREAMS];
	uint64_t h, bad, got, sent_h;
	unsigned char buf[STREAM_LEN];
	unsigned int ok = 0, opened = 0;
	double t0;

	printf("L2: vsock listening on 1234 and 1235\n");
	fflush(stdout);
	/* 1. listen */
	fd = accept(l1, NULL, NULL);
	t0 = now();
	got = recv_all(fd, &h, 1, &bad, &err);
	double t1 = now();
	err = 0;
	write_all(fd, &h, sizeof(h));
	sent_h = send_pattern(fd, total, 2, &err);
	close(fd);
	if (got == total && !bad && sent_h)
		printf("L2-CHECK vsock-listen PASS host to guest %llu MiB in %.1f s, hash %016llx; %llu MiB back in %.1f s\n",
		       (unsigned long long)(got >> 20), t1 - t0, (unsigned long long)h,
		       (unsigned long long)(total >> 20), now() - t1);
	else
		printf("L2-CHECK vsock-listen FAIL got %llu of %llu bytes, %llu not the pattern; send: %s\n",
		       (unsigned long long)got, (unsigned long long)total, (unsigned long long)bad,
		       sent_h ? "ok" : strerror(err));
	fflush(stdout);

	/* 2. connect: 100 streams at once */
	for (int i = 0; i < NSTREAMS; i++) {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
					  .svm_port = 5000 };

		fds[i] = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&sa, sizeof(sa))) {
			printf("L2: stream %d: connect to host port 5000: %s\n", i, strerror(errno));
			close(fds[i]);
			fds[i] = -1;
		}
		opened += fds[i] >= 0;
	}
	for (int i = 0; i < NSTREAMS; i++) {
		if (fds[i] < 0)
			continue;
		fill(buf, STREAM_LEN, 100 + (unsigned int)i, 0);
		if (write_all(fds[i], buf, STREAM_LEN) == 0)
			shutdown(fds[i], SHUT_WR);
	}
	for (int i = 0; i < NSTREAMS; i++) {
		uint64_t peer = 0;

		if (fds[i] < 0)
			continue;
		fill(buf, STREAM_LEN, 100 + (unsigned int)i, 0);
		ok += read_full(fds[i], &peer, sizeof(peer)) == sizeof(peer) &&
		      peer == hash_add(HASH_INIT, buf, STREAM_LEN);
		close(fds[i]);
	}
	printf("L2-CHECK vsock-connect %s %u streams to host port 5000 at once, %u answered with the right hash\n",
	       opened == NSTREAMS && ok == NSTREAMS ? "PASS" : "FAIL", opened, ok);
	fflush(stdout);

	/* 3. the host peer is killed mid-stream */
	fd = accept(l2, NULL, NULL);
	got = recv_all(fd, &h, 3, &bad, &err);
	{
		int werr = 0;

		/* The peer is gone: a write fails once the device said so. */
		for (int i = 0; i < 50 && !werr; i++) {
			if (write(fd, "x", 1) < 0)
				werr = errno;
			else
				usleep(20000);
		}
		printf("L2-CHECK vsock-peer-killed %s read ended after %llu bytes (%s), a write then: %s\n",
		       got && !bad && werr ? "PASS" : "FAIL", (unsigned long long)got,
		       err ? strerror(err) : "EOF", werr ? strerror(werr) : "succeeded");
	}
	close(fd);
	close(l1);
	close(l2);
	if (trips) {
		int lb = vsock_listen(1236), c = accept(lb, NULL, NULL);

		bench_serve(c, total, trips);
		close(c);
		close(lb);
		printf("L2: vsock benchmark served (%u round trips)\n", trips);
	}
	return 0;
}

/* ---- L1 ---------------------------------------------------------------------- */

static void host_report(const char *check, int pass, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void host_report(const char *check, int pass, const char *fmt, ...)
{
	va_list ap;

	printf("VSOCK-HOST %s %s ", check, pass ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Connect to @path and ask for guest port @port until the guest answers OK. */
static int host_connect(const char *path, unsigned int port, double deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	while (now() < deadline) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		char line[32];
		size_t n = 0;

		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    dprintf(fd, "CONNECT %u\n", port) > 0) {
			while (n + 1 < sizeof(line) && read(fd, line + n, 1) == 1 && line[n++] != '\n')
				;
			line[n] = '\0';
			if (!strncmp(line, "OK ", 3))
				return fd;
		}
		if (fd >= 0)
			close(fd);
		usleep(200000);	/* no listener yet (RST): again */
	}
	return -1;
}

static int host(const char *path, uint64_t total, unsigned int trips)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd[NSTREAMS + 1];
	uint64_t rx[NSTREAMS + 1], hh[NSTREAMS + 1];
	unsigned int done = 0, accepted = 0;
	uint64_t h, got, bad, want_h, peer_h = 0;
	int lfd, fd, err = 0, pipefd[2];
	pid_t pid;
	double t0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5000", path);
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 128)) {
		host_report("connect", 0, "cannot listen at %s: %s", sa.sun_path, strerror(errno));
		return 1;
	}

	/* 1. the guest listens */
	fd = host_connect(path, 1234, now() + 120);
	if (fd < 0) {
		host_report("listen", 0, "CONNECT 1234 never answered OK (120 s)");
		return 1;
	}
	t0 = now();
	want_h = send_pattern(fd, total, 1, &err);
	shutdown(fd, SHUT_WR);
	read_full(fd, &peer_h, sizeof(peer_h));
	got = recv_all(fd, &h, 2, &bad, &err);
	close(fd);
	host_report("listen", want_h && peer_h == want_h && got == total && !bad,
		    "CONNECT 1234: OK; the guest's hash of our %llu MiB %s; %llu of %llu bytes back, %llu wrong; %.1f s",
		    (unsigned long long)(total >> 20), peer_h == want_h ? "matches" : "differs",
		    (unsigned long long)got, (unsigned long long)total, (unsigned long long)bad,
		    now() - t0);

	/* 2. the guest connects: 100 streams, each answered with its hash */
	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	for (int i = 1; i <= NSTREAMS; i++)
		pfd[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	t0 = now();
	while (done < NSTREAMS && now() - t0 < 120) {
		if (poll(pfd, NSTREAMS + 1, 1000) <= 0)
			continue;
		if ((pfd[0].revents & POLLIN) && accepted < NSTREAMS) {
			int c = accept(lfd, NULL, NULL);

			if (c >= 0) {
				accepted++;
				pfd[accepted] = (struct pollfd){ .fd = c, .events = POLLIN };
				rx[accepted] = 0;
				hh[accepted] = HASH_INIT;
			}
		}
		for (unsigned int i = 1; i <= accepted; i++) {
			unsigned char buf[16384];
			ssize_t r;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf));
			if (r > 0) {
				hh[i] = hash_add(hh[i], buf, (size_t)r);
				rx[i] += (uint64_t)r;
				continue;
			}
			/* EOF: the guest's shutdown(SHUT_WR) */
			if (r == 0 && rx[i] == STREAM_LEN)
				write_all(pfd[i].fd, &hh[i], sizeof(hh[i]));
			close(pfd[i].fd);
			pfd[i].fd = -1;
			done++;
		}
	}
	host_report("connect", accepted == NSTREAMS && done == NSTREAMS,
		    "%u streams accepted at PATH_5000, %u finished", accepted, done);

	/* 3. a peer killed mid-stream */
	if (pipe(pipefd))
		return 1;
	pid = fork();
	if (pid == 0) {
		unsigned char buf[65536];
		uint64_t off = 0;
		int c = host_connect(path, 1235, now() + 60);

		if (c < 0)
			_exit(1);
		for (;;) {
			fill(buf, sizeof(buf), 3, off);
			if (write_all(c, buf, sizeof(buf)))
				_exit(1);
			off += sizeof(buf);
			if (off == 4 * 65536 && write(pipefd[1], "x", 1) != 1)
				_exit(1);
		}
	}
	close(pipefd[1]);
	{
		char x;
		int st = 0;
		ssize_t r = read(pipefd[0], &x, 1);

		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		host_report("killed", r == 1 && WIFSIGNALED(st),
			    "a peer streaming to guest port 1235 killed (SIGKILL) after 256 KiB");
	}
	close(lfd);
	unlink(sa.sun_path);
	if (trips) {
		int sv[2];

		/* The anchor first (L2 waits in accept): the same bytes between two L1 processes. */
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			return 1;
		pid = fork();
		if (pid == 0) {
			close(sv[0]);
			bench_serve(sv[1], total, trips);
			_exit(0);
		}
		close(sv[1]);
		bench_drive(sv[0], total, trips, "anchor");
		close(sv[0]);
		waitpid(pid, NULL, 0);
		fd = host_connect(path, 1236, now() + 60);
		if (fd < 0) {
			printf("VSOCK-BENCH vsock failed (no CONNECT 1236)\n");
			return 1;
		}
		bench_drive(fd, total, trips, "vsock");
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(600);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "guest"))
		return guest(strtoull(argv[2], NULL, 0) << 20, argc == 4 ? (unsigned int)atoi(argv[3]) : 0);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "host"))
		return host(argv[2], strtoull(argv[3], NULL, 0) << 20,
			    argc == 5 ? (unsigned int)atoi(argv[4]) : 0);
	fprintf(stderr, "usage: l2-vsock guest MIB [TRIPS] | l2-vsock host PATH MIB [TRIPS]\n");
	return 2;
}
