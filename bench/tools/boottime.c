// SPDX-License-Identifier: GPL-2.0-only
/*
 * boottime: start-up timer for VMMs, runs interleaved (A B A B ...) so that
 * drift on a shared machine hits every command alike.
 *
 * usage: boottime [-n RUNS] [-w WARMUP] [-t TIMEOUT_S] [-m MARKER] [-l LOGDIR]
 *                 NAME=COMMAND...
 *
 * COMMAND is split into words at spaces ('single quotes' group; no shell runs,
 * so the VMM is our direct child). Per run:
 *   wall    fork() to wait4() reaping the VMM, CLOCK_MONOTONIC
 *   marker  fork() to the first time MARKER appears on its stdout+stderr
 *   rss     the VMM's peak RSS (wait4's ru_maxrss). We fork() from this small
 *           C process, so the pre-exec high-water mark the kernel carries into
 *           ru_maxrss is ours, not a Python interpreter's: ru_maxrss is
 *           max(that carry, the VMM's own peak), and the carry is the floor
 *           (a static program that only writes the marker reports ~0.67 MiB;
 *           a dynamic one ~0.97 MiB, /bin/echo ~1.5 MiB: their own libc
 *           pages). A figure above the floor is the VMM's own peak.
 * A run counts when the marker was seen before TIMEOUT; a run still going at
 * TIMEOUT has its process group killed. Prints per-run lines on stderr, then
 * median (min..max) per command and the median of paired ratios against the
 * last command on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SPECS	8
#define MAX_WORDS	128
#define MAX_RUNS	1000

struct spec {
	const char *name;
	char *argv[MAX_WORDS];
	double wall[MAX_RUNS], marker[MAX_RUNS], rss[MAX_RUNS];
	int ok[MAX_RUNS];
	int n, nok;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int split(char *s, char **argv)
{
	int n = 0;
	char *out = s;

	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		if (n == MAX_WORDS - 1)
			return -1;
		argv[n++] = out;
		while (*s && *s != ' ') {
			if (*s == '\'') {
				for (s++; *s && *s != '\''; s++)
					*out++ = *s;
				if (*s)
					s++;
			} else {
				*out++ = *s++;
			}
		}
		if (*s)
			s++;
		*out++ = '\0';
	}
	argv[n] = NULL;
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n, double *min, double *max)
{
	double s[MAX_RUNS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	*min = s[0];
	*max = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* One run; returns 0 when the marker was seen and the VMM was reaped in time. */
static int run_once(struct spec *sp, const char *marker, double timeout, const char *log,
		    double *wall, double *tmark, double *rss_mib, int *status)
{
	size_t mlen = strlen(marker), have = 0;
	char buf[65536], tail[256] = "";
	struct rusage ru;
	int p[2], logfd = -1, killed = 0;
	double t0, t1;
	pid_t pid;

	*tmark = -1;
	*wall = 0;
	*rss_mib = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if (log)
		logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	t0 = now();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(sp->argv[0], sp->argv);
		fprintf(stderr, "boottime: exec %s: %s\n", sp->argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		double left = timeout - (now() - t0);
		ssize_t n;

		if (left <= 0) {
			killed = 1;
			kill(-pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		if (logfd >= 0 && write(logfd, buf, n) != n) {
			close(logfd);	/* keep timing; lose the log */
			logfd = -1;
		}
		if (*tmark < 0) {
			/* search the carried-over tail plus this chunk */
			size_t keep = have < mlen ? have : mlen - 1;
			char *hay = malloc(keep + n + 1);

			memcpy(hay, tail + have - keep, keep);
			memcpy(hay + keep, buf, n);
			hay[keep + n] = '\0';
			if (memmem(hay, keep + n, marker, mlen))
				*tmark = now() - t0;
			have = keep + n < sizeof(tail) ? keep + n : sizeof(tail) - 1;
			memcpy(tail, hay + keep + n - have, have);
			free(hay);
		}
	}
	close(p[0]);
	if (logfd >= 0)
		close(logfd);
	while (wait4(pid, status, 0, &ru) < 0 && errno == EINTR)
		;
	t1 = now();
	kill(-pid, SIGKILL);	/* anything the VMM left in its group */
	*wall = t1 - t0;
	*rss_mib = ru.ru_maxrss / 1024.0;
	return (*tmark >= 0 && !killed) ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct spec *specs[MAX_SPECS];
	const char *marker = "GUEST-INIT-REACHED", *logdir = NULL;
	int runs = 10, warmup = 1, nspecs = 0, opt, i, r;
	double timeout = 30;

	while ((opt = getopt(argc, argv, "n:w:t:m:l:")) != -1) {
		switch (opt) {
		case 'n': runs = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 't': timeout = atof(optarg); break;
		case 'm': marker = optarg; break;
		case 'l': logdir = optarg; break;
		default: goto usage;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || warmup < 0 || optind == argc)
		goto usage;
	for (i = optind; i < argc && nspecs < MAX_SPECS; i++) {
		struct spec *sp = calloc(1, sizeof(*sp));
		char *eq = strchr(argv[i], '=');

		if (!sp || !eq || split(eq + 1, sp->argv) < 1)
			goto usage;
		*eq = '\0';
		sp->name = argv[i];
		specs[nspecs++] = sp;
	}
	if (logdir)
		mkdir(logdir, 0755);

	for (r = 0; r < warmup + runs; r++) {
		for (i = 0; i < nspecs; i++) {
			struct spec *sp = specs[i];
			double wall = 0, tm = -1, rss = 0;
			char log[4096];
			int st = 0, ok;

			snprintf(log, sizeof(log), "%s/%s.%03d.log", logdir ? logdir : ".", sp->name, r);
			ok = run_once(sp, marker, timeout, logdir ? log : NULL, &wall, &tm, &rss, &st) == 0;
			fprintf(stderr, "%-14s %-6s %3d wall=%8.2fms marker=%8.2fms rss=%6.2fMiB status=%d%s\n",
				sp->name, r < warmup ? "warmup" : "run", r, wall * 1e3, tm * 1e3, rss,
				WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ok ? "" : " FAILED");
			if (r < warmup)
				continue;
			sp->wall[sp->n] = wall;
			sp->marker[sp->n] = tm;
			sp->rss[sp->n] = rss;
			sp->ok[sp->n] = ok;
			sp->n++;
		}
	}

	printf("%-14s %7s  %-26s %-26s %-22s\n", "command", "ok/runs",
	       "boot-to-exit ms med (min..max)", "to-marker ms med (min..max)", "peak RSS MiB med (min..max)");
	for (i = 0; i < nspecs; i++) {
		struct spec *sp = specs[i];
		double w[MAX_RUNS], m[MAX_RUNS], s[MAX_RUNS], lo, hi, lo2, hi2, lo3, hi3, mw, mm, ms;
		int k, n = 0;

		for (k = 0; k < sp->n; k++) {
			if (!sp->ok[k])
				continue;
			w[n] = sp->wall[k] * 1e3;
			m[n] = sp->marker[k] * 1e3;
			s[n] = sp->rss[k];
			n++;
		}
		sp->nok = n;
		if (!n) {
			printf("%-14s %3d/%-3d  (no successful run)\n", sp->name, 0, sp->n);
			continue;
		}
		mw = median(w, n, &lo, &hi);
		mm = median(m, n, &lo2, &hi2);
		ms = median(s, n, &lo3, &hi3);
		printf("%-14s %3d/%-3d  %7.2f (%.2f..%.2f)%*s %7.2f (%.2f..%.2f)%*s %5.2f (%.2f..%.2f)\n",
		       sp->name, n, sp->n, mw, lo, hi, 1, "", mm, lo2, hi2, 1, "", ms, lo3, hi3);
	}
	if (nspecs > 1) {
		struct spec *ref = specs[nspecs - 1];

		printf("paired ratios against %s (median over runs where both succeeded):\n", ref->name);
		for (i = 0; i < nspecs - 1; i++) {
			double rw[MAX_RUNS], rm[MAX_RUNS], rs[MAX_RUNS], lo, hi;
			int k, n = 0;

			for (k = 0; k < specs[i]->n && k < ref->n; k++) {
				if (!specs[i]->ok[k] || !ref->ok[k])
					continue;
				rw[n] = specs[i]->wall[k] / ref->wall[k];
				rm[n] = specs[i]->marker[k] / ref->marker[k];
				rs[n] = specs[i]->rss[k] / ref->rss[k];
				n++;
			}
			if (!n) {
				printf("  %s / %s: no pairs\n", specs[i]->name, ref->name);
				continue;
			}
			printf("  %s / %s: boot-to-exit %.3fx, to-marker %.3fx, peak RSS %.3fx (%d pairs)\n",
			       specs[i]->name, ref->name, median(rw, n, &lo, &hi), median(rm, n, &lo, &hi),
			       median(rs, n, &lo, &hi), n);
		}
	}
	for (i = 0; i < nspecs; i++)
		if (specs[i]->nok < specs[i]->n)
			return 1;
	return 0;
usage:
	fprintf(stderr, "usage: boottime [-n RUNS] [-w WARMUP] [-t TIMEOUT_S] [-m MARKER] [-l LOGDIR] NAME=COMMAND...\n");
	return 2;
}
