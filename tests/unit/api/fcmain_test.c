// SPDX-License-Identifier: GPL-2.0-only
/*
 * kestrel in Firecracker mode as orchestrators start it: --version as
 * Kata parses it, each bad flag one line naming it and exit 2, the flags
 * flintlock and firecracker-go-sdk pass, the socket up and answering, a
 * clean stop on SIGTERM. Runs $B/kestrel; skips if it is not built.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../run.h"
#include "../test.h"

static char kestrel[512], dir[] = "/tmp/kestrel-fcmain-XXXXXX";

/* Run kestrel with @args (NULL-terminated) to the end; its output to @out. */
static int run(const char *const *args, char *out, size_t len)
{
	char *argv[24] = { kestrel };

	for (int i = 0; args[i] && i < 22; i++)
		argv[i + 1] = (char *)args[i];
	return run_capture(kestrel, argv, true, out, len);
}

/* What Kata's parseVersion() + semver.Make() accept: line 1, word 2, less "v". */
static bool kata_accepts(const char *out)
{
	const char *w = strchr(out, ' ');
	int dots = 0;

	if (!w || strncmp(w + 1, "v", 1))
		return false;
	for (w += 2; *w && *w != ' ' && *w != '\n'; w++) {
		if (*w == '.')
			dots++;
		else if (!isdigit((unsigned char)*w))
			return false;
	}
	return dots == 2;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_flags(void)
{
	static const struct {
		const char *what;
		const char *args[6];
		const char *names;
	} bad[] = {
		{ "unknown flag", { "--bogus" }, "--bogus" },
		{ "missing value", { "--api-sock" }, "--api-sock" },
		{ "value on a plain flag", { "--no-api=1" }, "--no-api" },
		{ "--no-api alone", { "--no-api" }, "--config-file" },
		{ "bad instance id", { "--id", "a/b" }, "--id" },
		{ "too long an id", { "--id", "0123456789012345678901234567890123456789012345678901234567890123456789" }, "--id" },
		{ "bad level", { "--level", "Loud" }, "--level" },
	};
	char err[4096];
	int st;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		st = run(bad[i].args, err, sizeof(err));
		report(st == 2 && count_lines(err) == 1 && strstr(err, bad[i].names),
		       "%s: exit %d, %u line(s): %.*s", bad[i].what, st, count_lines(err),
		       (int)strcspn(err, "\n"), err);
	}
	st = run((const char *const[]){ "--version", NULL }, err, sizeof(err));
	report(st == 0 && !strncmp(err, "Firecracker v", 13) && kata_accepts(err) &&
	       strstr(err, "kestrel"), "--version: '%.*s', which Kata parses",
	       (int)strcspn(err, "\n"), err);
	st = run((const char *const[]){ "--help", NULL }, err, sizeof(err));
	report(st == 0 && strstr(err, "--api-sock") && strstr(err, "--config-file"),
	       "--help lists Firecracker's flags");
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		report(false, "write %s", path);
	close(fd);
}

static void test_config_file(void)
{
	char cfg[160], meta[160], err[8192];
	int st;

	snprintf(cfg, sizeof(cfg), "%s/bad.json", dir);
	write_file(cfg, "{\"machine-config\": {\"vcpu_count\": 99, \"mem_size_mib\": 128}}");
	st = run((const char *const[]){ "--no-api", "--config-file", cfg, NULL }, err, sizeof(err));
	report(st == 2 && strstr(err, "machine-config: vcpu_count must be from 1 to 32"),
	       "a bad config file: exit 2 naming the field");
	st = run((const char *const[]){ "--no-api", "--config-file", "/nonexistent.json", NULL },
		 err, sizeof(err));
	report(st == 2 && strstr(err, "--config-file: cannot read '/nonexistent.json'"),
	       "a missing config file: exit 2 naming it");

	/* flintlock's flags (create.go): all accepted. */
	snprintf(cfg, sizeof(cfg), "%s/ok.json", dir);
	snprintf(meta, sizeof(meta), "%s/metadata.json", dir);
	write_file(cfg, "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128}}");
	close(open(meta, O_WRONLY | O_CREAT, 0600));
	st = run((const char *const[]){ "--id", "0e1c2f0a-flint", "--boot-timer", "--no-api",
					"--config-file", cfg, "--metadata", meta, NULL },
		 err, sizeof(err));
	/* 0: the built-in guest ran to its reset (159 would be a seccomp kill). */
	report(st == 0 && !strstr(err, "unknown argument") && strstr(err, "--metadata ignored: MMDS") &&
	       strstr(err, "[0e1c2f0a-flint:main]"),
	       "flintlock's --id --boot-timer --no-api --config-file --metadata: accepted (exit %d)", st);
	unlink(cfg);
	unlink(meta);
	snprintf(cfg, sizeof(cfg), "%s/bad.json", dir);
	unlink(cfg);
}

static void test_api_socket(void)
{
	char sock[160], logp[160], buf[2048];
	struct timespec t0, t1;
	int status, fd = -1, n = 0;
	const char *get = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	close(open(logp, O_WRONLY | O_CREAT, 0600));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		/* firecracker-go-sdk's command line (machine.go configureBuilder). */
		execl(kestrel, kestrel, "--api-sock", sock, "--seccomp-level", "2", "--id",
		      "8b5f3c7e-4d2a-4f7b-9c1e-2a3b4c5d6e7f", "--log-path", logp,
		      "--show-level", NULL);
		_exit(127);
	}
	for (int i = 0; i < 400 && fd < 0; i++) {
		fd = connect_to(sock);
		if (fd < 0)
			usleep(5000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	report(fd >= 0, "the socket accepts after %.1f ms",
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (fd >= 0 && write(fd, get, strlen(get)) == (ssize_t)strlen(get)) {
		ssize_t k;

		while ((k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
			n += (int)k;
	}
	buf[n] = '\0';
	report(strstr(buf, "200 OK") && strstr(buf, "\"id\":\"8b5f3c7e-4d2a-4f7b-9c1e-2a3b4c5d6e7f\""),
	       "GET / answers with the --id");
	if (fd >= 0)
		close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	report(WIFEXITED(status) && WEXITSTATUS(status) == 130,
	       "SIGTERM: a clean exit, status 130");
	report(access(sock, F_OK) && errno == ENOENT, "and the socket is gone");
	fd = open(logp, O_RDONLY);
	n = fd >= 0 ? (int)read(fd, buf, sizeof(buf) - 1) : 0;
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	report(strstr(buf, "[8b5f3c7e-4d2a-4f7b-9c1e-2a3b4c5d6e7f:main:INFO] Running Firecracker v") &&
	       strstr(buf, "seccomp: kill, a filter per thread"),
	       "--log-path gets Firecracker's line format: %.*s", (int)strcspn(buf, "\n"), buf);
	unlink(logp);

	/* A path that exists is refused, and left alone. */
	close(open(sock, O_WRONLY | O_CREAT, 0600));
	status = run((const char *const[]){ "--api-sock", sock, NULL }, buf, sizeof(buf));
	report(status == 4 && strstr(buf, "--api-sock") && !access(sock, F_OK),
	       "an --api-sock path that exists: exit %d, named, not removed", status);
	unlink(sock);
}

int main(void)
{
	if (!run_find_kestrel(kestrel, sizeof(kestrel)))
		return report_summary();
	if (!mkdtemp(dir)) {
		report(false, "mkdtemp");
		return report_summary();
	}
	test_flags();
	test_config_file();
	test_api_socket();
	rmdir(dir);
	return report_summary();
}
