// SPDX-License-Identifier: GPL-2.0-only
/*
 * kestrel run --reboot (src/main.c run_supervise()): the built-in guest
 * resets at its end, so under --reboot it boots again and again, each boot
 * in a new process. Checked: boots follow one another; SIGTERM to kestrel
 * reaches the running boot and kestrel exits 130 with no process left;
 * kestrel killed outright (SIGKILL) takes its running boot with it. Runs
 * $B/kestrel; skips without it or without /dev/kvm.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../run.h"
#include "../test.h"

static char kestrel[512];
static char log_path[] = "/tmp/kestrel-reboot-test.XXXXXX";

/* Start `kestrel run --reboot`, stderr into log_path. Return: its pid. */
static pid_t start(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_TRUNC);
		int null = open("/dev/null", O_RDWR);

		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl(kestrel, kestrel, "run", "--reboot", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* How many "boot N" lines the log has. */
static unsigned int boots(void)
{
	char line[512];
	unsigned int n = 0;
	FILE *f = fopen(log_path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "starting it again in a new process") != NULL;
	fclose(f);
	return n;
}

/* Wait up to 30 s for at least @n reboots. Return: the count seen. */
static unsigned int wait_boots(unsigned int n)
{
	unsigned int seen = 0;

	for (int i = 0; i < 3000 && (seen = boots()) < n; i++)
		usleep(10000);
	return seen;
}

/* A child of @parent (its running boot), or 0 if it has none. */
static pid_t child_of(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	while (d && !found && (e = readdir(d))) {
		char path[300], buf[512], *p;
		int ppid = 0;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == parent)
			found = atoi(e->d_name);
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

int main(void)
{
	unsigned int n;
	pid_t pid, boot, w;
	int st, fd;

	if (!run_find_kestrel(kestrel, sizeof(kestrel)))
		return report_summary();
	if (access("/dev/kvm", R_OK | W_OK)) {
		report_skip("no usable /dev/kvm");
		return report_summary();
	}
	fd = mkstemp(log_path);
	if (fd < 0) {
		report(false, "a log file in /tmp");
		return report_summary();
	}
	close(fd);
	/* Orphaned boots come to this process, which can then reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	pid = start();
	n = wait_boots(3);
	report(n >= 3, "--reboot: the guest's reset starts it again (%u reboots seen)", n);
	kill(pid, SIGTERM);
	w = waitpid(pid, &st, 0);
	report(w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 130,
	       "SIGTERM reaches the running boot: kestrel exits 130 (status %#x)", st);
	report(child_of(pid) == 0 && waitpid(-1, &st, WNOHANG) <= 0,
	       "no boot outlives kestrel after SIGTERM");

	pid = start();
	n = wait_boots(1);
	boot = 0;
	for (int i = 0; i < 300 && !boot; i++, usleep(10000))
		boot = child_of(pid);
	report(n >= 1 && boot > 0, "a running boot is kestrel's child (pid %d)", boot);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	w = 0;
	for (int i = 0; i < 300 && w != boot; i++) {
		w = waitpid(boot, &st, WNOHANG);
		if (w != boot)
			usleep(10000);
	}
	report(boot > 0 && w == boot && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	       "kestrel killed outright takes its boot with it (boot %d: %s %d)", boot,
	       w != boot ? "still running, status" : WIFSIGNALED(st) ? "killed by signal" : "exit",
	       w != boot ? 0 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if (w != boot && boot > 0)
		kill(boot, SIGKILL);
	unlink(log_path);
	return report_summary();
}
