// SPDX-License-Identifier: GPL-2.0-only
/*
 * kestrel's Firecracker mode starting up, three figures (median of RUNS,
 * 20 by default):
 *
 * 1. exec → API socket ready: the wall time and the CPU time kestrel has
 *    used (all its threads, from /proc/PID/task/TID/schedstat) when
 *    connect() first succeeds (it listens) and when the first answer to
 *    GET /machine-config arrives (what firecracker-go-sdk waits for), with
 *    its minor page faults; the anchor, run alternating with it, is this
 *    program (linked static, as kestrel is) re-executed to do nothing but
 *    socket(), bind() and listen(): the floor of exec and libc start-up.
 *    Firecracker's specification: API socket ready within 8 CPU ms;
 *    kestrel's target 1.
 * 2. PUT /actions InstanceStart → the guest's first output, booting the
 *    start-up benchmark's null kernel (bench/tools/mk-nullkernel.sh: its
 *    setup code prints a marker and resets) with 1 vCPU and 256 MiB, after
 *    PUT /machine-config and PUT /boot-source; against `kestrel run` on the
 *    same image (exec → first output), runs alternating.
 * 3. Peak RSS of both: VmHWM read from /proc/PID/status when kestrel exits
 *    (a ptrace exit stop, PTRACE_O_TRACEEXIT: the address space is still
 *    there), so the figure is kestrel's own, without the high-water mark
 *    a fork()ed child inherits; target 1.5 MiB.
 *
 * Variables: B (build dir), RUNS, KESTREL_BASE (another kestrel binary,
 * an older build say, run alternating with $B/kestrel in the first part),
 * KESTREL_PAGES (a directory: the resident pages of each kestrel at its
 * exit, for bench/tools/rss-pages.py). The kestrel binary is dropped from
 * the page cache first (drop_page_cache()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS	200
#define WARMUP		2
#define MARKER		"GUEST-INIT-REACHED"
#define TIMEOUT_MS	10000

static int runs = 20;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU ms used so far by every thread of @pid (their schedstat). */
static double cpu_ms(pid_t pid)
{
	char path[320], buf[128];
	unsigned long long ns, total = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		int fd;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.32s/schedstat", pid, e->d_name);
		fd = open(path, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (sscanf(buf, "%llu", &ns) == 1)
				total += ns;
		}
	}
	if (d)
		closedir(d);
	return total / 1e6;
}

/* Minor page faults of @pid so far (field 10 of /proc/PID/stat), or -1. */
static double minflt(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the command may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu", &v) != 1)
		return -1;
	return (double)v;
}

/* VmHWM of @pid in MiB, or -1. */
static double vmhwm_mib(pid_t pid)
{
	char path[64], line[128];
	double kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb < 0 ? -1 : kb / 1024;
}

/*
 * With KESTREL_PAGES=DIR, the resident pages of @pid (the present bit of
 * /proc/PID/pagemap over each mapping of /proc/PID/maps) go to
 * DIR/pages.PID: a "map START END PERMS [NAME]" line per mapping, then the
 * address of each resident page, for bench/tools/rss-pages.py to put names
 * (nm -n) on.
 */
static void dump_pages(pid_t pid)
{
	const char *dir = getenv("KESTREL_PAGES");
	char path[PATH_MAX], line[PATH_MAX + 128];
	FILE *maps, *out;
	int pm;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "%s/pages.%d", dir, pid);
	out = fopen(path, "w");
	while (maps && pm >= 0 && out && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8], name[PATH_MAX] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &lo, &hi, perms, name) < 3)
			continue;
		fprintf(out, "map %lx %lx %s %s\n", lo, hi, perms, name);
		for (unsigned long a = lo; a < hi; a += 4096) {
			unsigned long long e;

			if (pread(pm, &e, sizeof(e), (off_t)(a / 4096 * 8)) == sizeof(e) && e >> 63)
				fprintf(out, "%lx\n", a);
		}
	}
	if (out)
		fclose(out);
	if (pm >= 0)
		close(pm);
	if (maps)
		fclose(maps);
}

static int try_connect(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_wait(const char *sock, double t0)
{
	int fd = -1;

	while (fd < 0 && now_ms() - t0 < TIMEOUT_MS)
		fd = try_connect(sock);
	return fd;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *in, int n)
{
	double v[MAX_RUNS];

	memcpy(v, in, sizeof(*v) * (size_t)n);
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/**
 * struct child - a kestrel under test
 * @pid: its pid
 * @out: read end of its stdout, or -1 (stdout is /dev/null)
 * @traced: stopped at exit by ptrace, for its VmHWM
 * @hwm: VmHWM at exit, MiB (traced only)
 * @status: wait status
 */
struct child {
	pid_t pid;
	int out;
	bool traced;
	double hwm;
	int status;
};

/*
 * Start @argv with stdin and stderr on /dev/null and stdout on a pipe
 * (@want_out) or /dev/null. A traced child is left running past its exec
 * stop, which is when this returns.
 */
static int spawn(const char *const argv[], bool want_out, bool traced, struct child *c)
{
	int p[2] = { -1, -1 }, st;

	c->out = -1;
	c->traced = traced;
	c->hwm = -1;
	if (want_out && pipe2(p, O_CLOEXEC))
		return -1;
	c->pid = fork();
	if (c->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		if (traced)
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		dup2(devnull, 0);
		dup2(want_out ? p[1] : devnull, 1);
		dup2(devnull, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (want_out) {
		close(p[1]);
		c->out = p[0];
	}
	if (c->pid < 0)
		return -1;
	if (traced) {
		/* The exec's SIGTRAP stop: ask for the exit stop, then let it run. */
		if (waitpid(c->pid, &st, 0) != c->pid || !WIFSTOPPED(st) ||
		    ptrace(PTRACE_SETOPTIONS, c->pid, NULL,
			   (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) ||
		    ptrace(PTRACE_CONT, c->pid, NULL, NULL)) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, NULL, 0);
			return -1;
		}
	}
	return 0;
}

/* Wait for @c to end (SIGKILL after the timeout); its VmHWM on the way out. */
static void reap(struct child *c, int sig)
{
	double t0 = now_ms();
	int st;

	if (sig)
		kill(c->pid, sig);
	for (;;) {
		pid_t r = waitpid(c->pid, &st, WNOHANG);

		if (r == 0) {
			if (now_ms() - t0 > TIMEOUT_MS)
				kill(c->pid, SIGKILL);
			usleep(200);
			continue;
		}
		if (r < 0 || !WIFSTOPPED(st))
			break;
		if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			c->hwm = vmhwm_mib(c->pid);
			dump_pages(c->pid);
			ptrace(PTRACE_CONT, c->pid, NULL, NULL);
		} else {
			ptrace(PTRACE_CONT, c->pid, NULL, (void *)(long)WSTOPSIG(st));
		}
	}
	c->status = st;
	if (c->out >= 0)
		close(c->out);
	c->out = -1;
}

/* Read @c's stdout until @marker; the time it came, or -1. */
static double wait_marker(struct child *c, const char *marker)
{
	char buf[4096];
	size_t got = 0;
	double t0 = now_ms();

	while (now_ms() - t0 < TIMEOUT_MS) {
		struct pollfd pfd = { .fd = c->out, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(c->out, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, marker))
			return now_ms();
		if (got == sizeof(buf) - 1) {	/* keep the tail: a marker may straddle */
			memmove(buf, buf + got - 64, 64);
			got = 64;
		}
	}
	return -1;
}

/* One request on @fd; the response's status code, or -1. */
static int http(int fd, const char *method, const char *path, const char *body)
{
	char req[1024], resp[2048], *hdr_end, *cl;
	size_t got = 0, need;
	int n, code;

	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     method, path, strlen(body), body);
	if (n <= 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
		return -1;
	for (;;) {
		ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
		resp[got] = '\0';
		hdr_end = strstr(resp, "\r\n\r\n");
		if (!hdr_end)
			continue;
		cl = strcasestr(resp, "Content-Length:");
		need = (size_t)(hdr_end + 4 - resp) + (cl && cl < hdr_end ? strtoul(cl + 15, NULL, 10) : 0);
		if (got >= need || got == sizeof(resp) - 1)
			break;
	}
	return sscanf(resp, "HTTP/1.%*d %d", &code) == 1 ? code : -1;
}

/* One exec → listening run of @argv; with @get, then one GET answered. */
static int socket_run(const char *const argv[], const char *sock, bool get, double *wall_c,
		      double *cpu_c, double *flt_c, double *wall_a, double *cpu_a)
{
	const char *req = "GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n";
	double t0 = now_ms();
	struct child c;
	char buf[512];
	int fd, ret = 0;

	unlink(sock);
	if (spawn(argv, false, false, &c))
		return -1;
	fd = connect_wait(sock, t0);
	*wall_c = now_ms() - t0;
	/*
	 * Stopped first: a task that has run on another CPU without a context
	 * switch since exec can read as 0 ms here; the stop brings its sum up
	 * to date (and costs it a few µs after listen()).
	 */
	kill(c.pid, SIGSTOP);
	waitpid(c.pid, NULL, WUNTRACED);
	*cpu_c = cpu_ms(c.pid);
	*flt_c = minflt(c.pid);
	kill(c.pid, SIGCONT);
	if (fd < 0)
		ret = -1;
	else if (get && (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
			 read(fd, buf, sizeof(buf)) <= 0))
		ret = -1;
	if (get) {
		*wall_a = now_ms() - t0;
		*cpu_a = cpu_ms(c.pid);
	}
	if (fd >= 0)
		close(fd);
	reap(&c, ret ? SIGKILL : SIGTERM);
	return ret;
}

/* 1: exec → socket accepting and → first GET /machine-config, and the floor. */
static int bench_socket(const char *kestrel, const char *self, const char *sock)
{
	double wall_c[MAX_RUNS], cpu_c[MAX_RUNS], flt_c[MAX_RUNS], wall_a[MAX_RUNS], cpu_a[MAX_RUNS];
	double fwall[MAX_RUNS], fcpu[MAX_RUNS], fflt[MAX_RUNS], ratio[MAX_RUNS], unused;
	double bcpu[MAX_RUNS], bflt[MAX_RUNS], bwall[MAX_RUNS];
	const char *base = getenv("KESTREL_BASE");
	const char *argv[] = { kestrel, "--api-sock", sock, NULL };
	const char *bargv[] = { base, "--api-sock", sock, NULL };
	const char *fargv[] = { self, "--listen-floor", sock, NULL };

	for (int r = 0; r < runs; r++) {
		if (socket_run(argv, sock, true, &wall_c[r], &cpu_c[r], &flt_c[r], &wall_a[r],
			       &cpu_a[r])) {
			printf("   run %d: no answer from kestrel\n", r);
			return 1;
		}
		if (socket_run(fargv, sock, false, &fwall[r], &fcpu[r], &fflt[r], &unused,
			       &unused)) {
			printf("   run %d: the floor program did not listen\n", r);
			return 1;
		}
		if (base && socket_run(bargv, sock, false, &bwall[r], &bcpu[r], &bflt[r], &unused,
				       &unused)) {
			printf("   run %d: no answer from %s\n", r, base);
			return 1;
		}
		ratio[r] = cpu_c[r] / fcpu[r];
	}
	printf("   exec -> API socket accepting:       wall %.2f ms, kestrel CPU %.2f ms, %.0f minor faults (median of %d)\n",
	       median(wall_c, runs), median(cpu_c, runs), median(flt_c, runs), runs);
	printf("   exec -> first GET /machine-config:  wall %.2f ms, kestrel CPU %.2f ms\n",
	       median(wall_a, runs), median(cpu_a, runs));
	printf("   floor (static exec + socket/bind/listen): wall %.2f ms, CPU %.2f ms, %.0f minor faults; "
	       "kestrel / floor CPU %.2fx\n", median(fwall, runs), median(fcpu, runs),
	       median(fflt, runs), median(ratio, runs));
	if (base)
		printf("   KESTREL_BASE %s: wall %.2f ms, CPU %.2f ms, %.0f minor faults\n", base,
		       median(bwall, runs), median(bcpu, runs), median(bflt, runs));
	printf("   (Firecracker's specification: <= 8 CPU ms to the API socket; target <= 1)\n");
	return 0;
}

/* The floor: what any static program pays to listen on a Unix socket. */
static int listen_floor(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64))
		return 1;
	pause();
	return 0;
}

/*
 * The API way: machine-config and boot-source, then InstanceStart. Sets
 * the times from InstanceStart sent to its 204 and to the marker, and from
 * exec to the marker. 0 or -1.
 */
static int boot_api(const char *kestrel, const char *sock, const char *kernel,
		    double *t_resp, double *t_mark, double *t_exec, double *hwm)
{
	const char *argv[] = { kestrel, "--api-sock", sock, NULL };
	char boot[600];
	struct child c;
	double t0, ts, tm;
	int fd, ret = -1;

	unlink(sock);
	if (spawn(argv, true, true, &c))
		return -1;
	t0 = now_ms();
	fd = connect_wait(sock, t0);
	snprintf(boot, sizeof(boot), "{\"kernel_image_path\": \"%s\"}", kernel);
	if (fd < 0 ||
	    http(fd, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 256}") != 204 ||
	    http(fd, "PUT", "/boot-source", boot) != 204)
		goto out;
	ts = now_ms();
	if (http(fd, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}") != 204)
		goto out;
	*t_resp = now_ms() - ts;
	tm = wait_marker(&c, MARKER);
	if (tm < 0)
		goto out;
	*t_mark = tm - ts;
	*t_exec = tm - t0;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	reap(&c, ret ? SIGKILL : 0);
	*hwm = c.hwm;
	return ret || !WIFEXITED(c.status) || WEXITSTATUS(c.status) ? -1 : 0;
}

/* `kestrel run` on the same kernel: exec → marker. 0 or -1. */
static int boot_run(const char *kestrel, const char *kernel, double *t_exec, double *hwm)
{
	const char *argv[] = { kestrel, "run", "--kernel", kernel, "--memory", "256M",
			       "--cpus", "1", NULL };
	struct child c;
	double t0, tm;

	if (spawn(argv, true, true, &c))
		return -1;
	t0 = now_ms();
	tm = wait_marker(&c, MARKER);
	reap(&c, tm < 0 ? SIGKILL : 0);
	*hwm = c.hwm;
	*t_exec = tm - t0;
	return tm < 0 || !WIFEXITED(c.status) || WEXITSTATUS(c.status) ? -1 : 0;
}

/* 2 and 3: InstanceStart → first output against `kestrel run`, and peak RSS. */
static int bench_boot(const char *b, const char *kestrel, const char *sock)
{
	double resp[MAX_RUNS], mark[MAX_RUNS], aexec[MAX_RUNS], rexec[MAX_RUNS];
	double ahwm[MAX_RUNS], rhwm[MAX_RUNS], ratio[MAX_RUNS], rr[MAX_RUNS];
	char kernel[PATH_MAX], cmd[PATH_MAX + 1200];
	struct stat st;
	int n = 0, fails = 0;

	snprintf(kernel, sizeof(kernel), "%s/bench-tools/null.bzImage", b);
	if (stat(kernel, &st)) {
		snprintf(cmd, sizeof(cmd), "mkdir -p %s/bench-tools && bench/tools/mk-nullkernel.sh %s >/dev/null",
			 b, kernel);
		if (system(cmd)) {
			printf("   skipped InstanceStart and RSS: cannot build the null kernel (as, ld, objcopy)\n");
			return 0;
		}
	}
	if (!realpath(kernel, cmd) || strlen(cmd) >= sizeof(kernel))
		return 1;
	strcpy(kernel, cmd);
	for (int r = 0; r < runs + WARMUP; r++) {
		double t[3], h[2], re;

		if (boot_api(kestrel, sock, kernel, &t[0], &t[1], &t[2], &h[0]) ||
		    boot_run(kestrel, kernel, &re, &h[1])) {
			fails++;
			if (fails > runs) {
				printf("   InstanceStart / kestrel run: too many failed runs\n");
				return 1;
			}
			continue;
		}
		if (r < WARMUP)
			continue;
		resp[n] = t[0];
		mark[n] = t[1];
		aexec[n] = t[2];
		rexec[n] = re;
		ahwm[n] = h[0];
		rhwm[n] = h[1];
		ratio[n] = t[1] / re;
		rr[n] = h[0] / h[1];
		n++;
	}
	if (!n)
		return 1;
	printf("   null kernel, 1 vCPU, 256 MiB, %d alternating runs (+%d warm-up)%s:\n",
	       n, WARMUP, fails ? ", some failed and were run again" : "");
	printf("   InstanceStart -> guest's first output:   %.2f ms (its 204 after %.2f ms)\n",
	       median(mark, n), median(resp, n));
	printf("   kestrel run: exec -> guest's first output: %.2f ms\n", median(rexec, n));
	printf("   ratio InstanceStart / run: %.2fx (median of paired ratios; API exec -> output, "
	       "with its three requests: %.2f ms)\n", median(ratio, n), median(aexec, n));
	printf("   peak RSS (VmHWM at exit): API %.2f MiB, kestrel run %.2f MiB, API / run %.2fx; "
	       "target <= 1.50 MiB\n", median(ahwm, n), median(rhwm, n), median(rr, n));
	return 0;
}

/*
 * The binary's page-cache state decides how much of it a page fault maps
 * (the kernel maps whole large folios, and how big they are depends on how
 * the file was written or last read: a `cp` of it can add 0.5 MiB to peak
 * RSS). So the figures start from a cold page cache of @path: the kernel
 * reads it in as an exec on a freshly booted host would.
 */
static void drop_page_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
		printf("   (cannot drop %s from the page cache: figures depend on its state)\n", path);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *b = getenv("B") ? getenv("B") : "build";
	char kestrel[512], sock[64], self[PATH_MAX];
	ssize_t n;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "--listen-floor"))
		return listen_floor(argv[2]);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';

	if (getenv("RUNS"))
		runs = atoi(getenv("RUNS"));
	if (runs < 2 || runs > MAX_RUNS)
		runs = 20;
	snprintf(kestrel, sizeof(kestrel), "%s/kestrel", b);
	snprintf(sock, sizeof(sock), "/tmp/kestrel-bench-api-%d.sock", getpid());
	if (access(kestrel, X_OK)) {
		printf("   skipped: %s not built\n", kestrel);
		return 0;
	}
	drop_page_cache(kestrel);
	ret = bench_socket(kestrel, self, sock);
	if (!ret) {
		if (access("/dev/kvm", R_OK | W_OK))
			printf("   skipped InstanceStart and RSS: no usable /dev/kvm\n");
		else
			ret = bench_boot(b, kestrel, sock);
	}
	unlink(sock);
	return ret;
}
