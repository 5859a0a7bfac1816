// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile files and peers against the kestrel binary: FIFOs where files
 * are expected, a kernel file shrunk while kestrel reads it, symlinks and
 * FIFOs planted in an acpi-dump directory, one disk image given twice, a
 * vhost-user front-end that trickles its message while the server is told
 * to stop, and a second vhost-user server on a live socket. Each must end
 * with the documented exit status and one clear line; nothing may hang or
 * die of a signal. Runs $B/kestrel (B from the environment, default
 * "build"); skips if it has not been built.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kestrel/types.h>

#include "../run.h"
#include "../test.h"

static char kestrel[512];
static char tmp[64];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Start kestrel with @argv (argv[0] filled in), stdin /dev/null, stderr to @errpath. */
static pid_t spawn(const char **argv, const char *errpath)
{
	pid_t pid = fork();

	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(err, 2);
		argv[0] = kestrel;
		execv(kestrel, (char **)argv);
		_exit(127);
	}
	return pid;
}

/*
 * Wait for @pid up to @ms. Return: its exit status, 128 + the signal that
 * ended it, or -1 if it still ran (it is then killed and reaped).
 */
static int wait_exit(pid_t pid, double ms)
{
	double end = now_ms() + ms;
	int st;

	while (now_ms() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(2000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* Run to the end (at most 5 s); Return: status (-1 hung), stderr in @err. */
static int run(const char **argv, char *err, size_t errlen)
{
	char errpath[128];
	int st;

	snprintf(errpath, sizeof(errpath), "%s/stderr", tmp);
	st = wait_exit(spawn(argv, errpath), 5000);
	read_file(errpath, err, errlen);
	return st;
}

/* ---- files ------------------------------------------------------------ */

static void test_fifos(void)
{
	char fifo[128], err[4096], disk_ro[160];
	const char *cases[][6] = {
		{ "--kernel", "run", "--kernel", fifo },
		{ "--initrd", "run", "--kernel", "/etc/hostname", "--initrd", fifo },
		{ "--module", "run", "--kernel", "/etc/hostname", "--module", fifo },
		{ "--disk", "run", "--disk", disk_ro },
		{ "--disk", "run", "--disk", fifo },
	};

	snprintf(fifo, sizeof(fifo), "%s/fifo", tmp);
	snprintf(disk_ro, sizeof(disk_ro), "%s,ro", fifo);
	if (!report_eq(mkfifo(fifo, 0600), 0, "mkfifo"))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *argv[8] = { NULL };
		int st;

		for (int k = 1; k < 6 && cases[i][k]; k++)
			argv[k] = cases[i][k];
		st = run(argv, err, sizeof(err));
		check_eq(st, 2);
		check_contains(err, cases[i][0]);
		check_contains(err, "regular file");
		report_checks("%s %s FIFO: exit %d (-1: hung), %.*s", argv[1], cases[i][0], st,
			      (int)strcspn(err, "\n"), err);
	}
	unlink(fifo);
}

/*
 * The kernel file shrinks to nothing while kestrel starts. Swept over
 * the first 30 ms, the truncation lands before, during and after the
 * read, and every run must end with exit 2, never with a signal.
 */
static void test_shrinking_kernel(void)
{
	static const unsigned int delays_us[] = {
		500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 15000, 30000,
	};
	char img[128], errpath[128], err[4096];
	unsigned int changed = 0, bad = 0;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		report_skip("shrinking kernel: needs /dev/kvm: %s", strerror(errno));
		return;
	}
	close(fd);
	snprintf(img, sizeof(img), "%s/big.img", tmp);
	snprintf(errpath, sizeof(errpath), "%s/stderr", tmp);
	for (size_t i = 0; i < ARRAY_SIZE(delays_us); i++) {
		const char *argv[] = { NULL, "run", "--kernel", img, NULL };
		pid_t pid;
		int st;

		/* 200 MiB of holes: quick to read, nothing on disk. */
		fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, 200 << 20)) {
			report(false, "create %s", img);
			return;
		}
		pid = spawn(argv, errpath);
		usleep(delays_us[i]);
		check_eq(ftruncate(fd, 0), 0);
		close(fd);
		st = wait_exit(pid, 5000);
		read_file(errpath, err, sizeof(err));
		changed += strstr(err, "changed size while being read") != NULL;
		if (st != 2 || count_lines(err) != 1 || !strstr(err, "--kernel")) {
			bad++;
			report_info("truncated after %u us: exit %d (-1: hung, 135: SIGBUS): %s",
				    delays_us[i], st, err);
		}
	}
	unlink(img);
	report(!bad, "kernel shrunk while read, %zu tries: every one exit 2 with one line (%u saw it change, %u bad)",
	       ARRAY_SIZE(delays_us), changed, bad);
}

static void test_acpi_dump_planted(void)
{
	char dir[128], path[192], target[128], linked[128], err[4096], buf[64];
	const char *argv[] = { NULL, "acpi-dump", dir, NULL };
	struct stat st;
	int fd, ret;

	snprintf(dir, sizeof(dir), "%s/acpi", tmp);
	snprintf(target, sizeof(target), "%s/victim", tmp);
	snprintf(linked, sizeof(linked), "%s/victim2", tmp);
	mkdir(dir, 0700);
	fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	check_eq(write(fd, "keep me\n", 8), 8);
	close(fd);
	fd = open(linked, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	check_eq(write(fd, "keep me\n", 8), 8);
	close(fd);
	snprintf(path, sizeof(path), "%s/DSDT.dat", dir);
	check_eq(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/APIC.dat", dir);
	check_eq(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/FACP.dat", dir);
	check_eq(link(linked, path), 0);
	report_checks("planted: DSDT.dat a symlink, APIC.dat a FIFO, FACP.dat a hard link");

	ret = run(argv, err, sizeof(err));
	report_eq(ret, 0, "acpi-dump into it: exit %d (-1: hung) %s", ret, err);
	read_file(target, buf, sizeof(buf));
	check_str(buf, "keep me\n");
	read_file(linked, buf, sizeof(buf));
	check_str(buf, "keep me\n");
	report_checks("the symlink's and the hard link's targets are untouched");
	for (int i = 0; i < 3; i++) {
		static const char *const sigs[] = { "DSDT", "APIC", "FACP" };

		snprintf(path, sizeof(path), "%s/%s.dat", dir, sigs[i]);
		check_true(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
			   st.st_size > 36);
	}
	report_checks("DSDT.dat, APIC.dat, FACP.dat are new regular files with a table");
	ret = run(argv, err, sizeof(err));
	report_eq(ret, 0, "acpi-dump again into the same directory: exit %d", ret);
}

static void test_disk_twice(void)
{
	char img[128], err[4096];
	const char *argv[] = { NULL, "run", "--disk", img, "--disk", img, NULL };
	int fd, st;

	snprintf(img, sizeof(img), "%s/disk.img", tmp);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20)) {
		report(false, "create %s", img);
		return;
	}
	close(fd);
	st = run(argv, err, sizeof(err));
	check_eq(st, 2);
	check_contains(err, "already a disk of this kestrel");
	check_false(strstr(err, "another process"));
	report_checks("--disk F --disk F: exit %d, %s", st, err);
	unlink(img);
}

/* ---- vhost-user -------------------------------------------------------- */

static int vu_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Wait up to 3 s for the server logging to @errpath to serve (no probe). */
static bool vu_wait_serving(const char *errpath)
{
	char log[4096];

	for (int i = 0; i < 300; i++) {
		read_file(errpath, log, sizeof(log));
		if (strstr(log, ": serving "))
			return true;
		usleep(10000);
	}
	return false;
}

/* GET_FEATURES on a fresh connection: whether the server answers. */
static bool vu_answers(const char *path)
{
	u32 hdr[3] = { 1 /* GET_FEATURES */, 1 /* version */, 0 };
	u8 reply[20];
	int fd = vu_connect(path);
	bool ok;

	if (fd < 0)
		return false;
	ok = send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) == sizeof(hdr) &&
	     recv(fd, reply, sizeof(reply), MSG_WAITALL) == sizeof(reply);
	close(fd);
	return ok;
}

static pid_t vu_start(const char *path, const char *errpath)
{
	const char *argv[] = { NULL, "vhost-user", "--socket", path, "--device", "net", NULL };

	return spawn(argv, errpath);
}

/*
 * SIGTERM while a front-end trickles a message one byte at a time: the
 * server must end within about a second, exit 0, whatever the peer does.
 */
static void test_vu_sigterm_trickle(void)
{
	char sock[128], errpath[128];
	u32 hdr[3] = { 1, 1, 0 };
	double t0 = 0;
	pid_t pid;
	int fd, st = -1;

	snprintf(sock, sizeof(sock), "%s/trickle.sock", tmp);
	snprintf(errpath, sizeof(errpath), "%s/trickle.err", tmp);
	pid = vu_start(sock, errpath);
	if (!report(vu_wait_serving(errpath), "vhost-user server listening")) {
		wait_exit(pid, 0);
		return;
	}
	fd = vu_connect(sock);
	for (size_t i = 0; i + 1 < sizeof(hdr) && st < 0; i++) {
		if (send(fd, (char *)hdr + i, 1, MSG_NOSIGNAL) != 1)
			break;
		if (i == 1) {
			kill(pid, SIGTERM);
			t0 = now_ms();
		}
		if (t0 && waitpid(pid, &st, WNOHANG) == pid)
			st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		else
			st = -1;
		usleep(150000);
	}
	if (st < 0)
		st = wait_exit(pid, 1000);
	report(st == 0 && now_ms() - t0 < 1500,
	       "SIGTERM while a peer trickles: exit %d (-1: still running) after %.0f ms", st,
	       now_ms() - t0);
	close(fd);
}

/* A second server on a live socket is refused; a stale socket is replaced. */
static void test_vu_second_server(void)
{
	char sock[128], erra[128], errb[128], err[4096];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t a, b;
	int st, fd;

	snprintf(sock, sizeof(sock), "%s/live.sock", tmp);
	snprintf(erra, sizeof(erra), "%s/a.err", tmp);
	snprintf(errb, sizeof(errb), "%s/b.err", tmp);
	a = vu_start(sock, erra);
	if (!report(vu_wait_serving(erra), "first server listening")) {
		wait_exit(a, 0);
		return;
	}
	b = vu_start(sock, errb);
	st = wait_exit(b, 3000);
	read_file(errb, err, sizeof(err));
	check_eq(st, 4);
	check_eq(count_lines(err), 1);
	check_contains(err, "--socket");
	check_contains(err, "already listening");
	report_checks("second server on the same path: exit %d, %.*s", st,
		      (int)strcspn(err, "\n"), err);
	report(vu_answers(sock), "the first server still answers on its path");
	kill(a, SIGTERM);
	st = wait_exit(a, 3000);
	report_eq(st, 0, "first server stopped by SIGTERM: exit %d", st);
	report_ne(access(sock, F_OK), 0, "its socket is removed");

	/* A socket file nobody listens on: stale, replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", sock);
	check_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	report_eq(access(sock, F_OK), 0, "a stale socket left at the path");
	a = vu_start(sock, errb);	/* b's log: a's still says "serving" */
	check_true(vu_wait_serving(errb));
	check_true(vu_answers(sock));
	report_checks("a server starts over the stale socket and answers");
	kill(a, SIGTERM);
	report_eq(wait_exit(a, 3000), 0, "and stops with exit 0");

	/* --once ends after a front-end session, not after another's check. */
	{
		const char *argv[] = { NULL, "vhost-user", "--socket", sock, "--device", "net",
				       "--once", NULL };
		char erro[128];

		snprintf(erro, sizeof(erro), "%s/once.err", tmp);
		a = spawn(argv, erro);
		check_true(vu_wait_serving(erro));
		check_eq(wait_exit(vu_start(sock, errb), 3000), 4);
		usleep(100000);
		check_eq(waitpid(a, &st, WNOHANG), 0);
		report_checks("a --once server outlives a second server's check");
		check_true(vu_answers(sock));
		check_eq(wait_exit(a, 3000), 0);
		report_checks("and exits 0 after a real front-end's session");
	}
}

int main(void)
{
	if (!run_find_kestrel(kestrel, sizeof(kestrel)))
		return report_summary();
	snprintf(tmp, sizeof(tmp), "/tmp/kestrel-hostile.XXXXXX");
	if (!mkdtemp(tmp)) {
		report(false, "mkdtemp: %s", strerror(errno));
		return report_summary();
	}
	signal(SIGPIPE, SIG_IGN);
	report_prefix_push("fifo");
	test_fifos();
	report_prefix_pop();
	report_prefix_push("shrink");
	test_shrinking_kernel();
	report_prefix_pop();
	report_prefix_push("acpi-dump");
	test_acpi_dump_planted();
	report_prefix_pop();
	report_prefix_push("disk");
	test_disk_twice();
	report_prefix_pop();
	report_prefix_push("vhost-user");
	test_vu_sigterm_trickle();
	test_vu_second_server();
	report_prefix_pop();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd))
			report_info("could not remove %s", tmp);
	}
	return report_summary();
}
