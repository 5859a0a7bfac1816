// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec → API socket ready, for kestrel in Firecracker mode: the wall time
 * and the CPU time kestrel has used (all its threads, from
 * /proc/PID/task/TID/schedstat) at two points: connect() succeeds on the
 * socket (it listens), and the first answer to GET /machine-config (what
 * firecracker-go-sdk waits for). Median of 20 runs. Firecracker's
 * specification: API socket ready within 8 CPU ms; kestrel's target 1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS	20

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU ms used so far by every thread of @pid. */
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

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return (v[RUNS / 2 - 1] + v[RUNS / 2]) / 2;
}

int main(void)
{
	const char *b = getenv("B");
	const char *get = "GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n";
	double wall_c[RUNS], cpu_c[RUNS], wall_a[RUNS], cpu_a[RUNS];
	char kestrel[512], sock[64], buf[512];

	snprintf(kestrel, sizeof(kestrel), "%s/kestrel", b ? b : "build");
	snprintf(sock, sizeof(sock), "/tmp/kestrel-bench-api-%d.sock", getpid());
	if (access(kestrel, X_OK)) {
		printf("   skipped: %s not built\n", kestrel);
		return 0;
	}
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ms();
		int fd = -1, devnull;
		pid_t pid;

		unlink(sock);
		pid = fork();
		if (pid == 0) {
			devnull = open("/dev/null", O_RDWR);
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			execl(kestrel, kestrel, "--api-sock", sock, (char *)NULL);
			_exit(127);
		}
		while (fd < 0 && now_ms() - t0 < 5000)
			fd = try_connect(sock);
		wall_c[r] = now_ms() - t0;
		cpu_c[r] = cpu_ms(pid);
		if (fd < 0 || write(fd, get, strlen(get)) != (ssize_t)strlen(get) ||
		    read(fd, buf, sizeof(buf)) <= 0) {
			printf("   run %d: no answer\n", r);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return 1;
		}
		wall_a[r] = now_ms() - t0;
		cpu_a[r] = cpu_ms(pid);
		close(fd);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	unlink(sock);
	printf("   exec -> API socket accepting:       wall %.2f ms, kestrel CPU %.2f ms (median of %d)\n",
	       median(wall_c), median(cpu_c), RUNS);
	printf("   exec -> first GET /machine-config:  wall %.2f ms, kestrel CPU %.2f ms (median of %d)\n",
	       median(wall_a), median(cpu_a), RUNS);
	printf("   (Firecracker's specification: <= 8 CPU ms to the API socket; target <= 1)\n");
	return 0;
}
