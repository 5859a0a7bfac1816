// SPDX-License-Identifier: GPL-2.0-only
/*
 * The seccomp filters, proven by breaking them (docs/sandbox.md). For each
 * thread kind, $B/kestrel-test (kestrel built with the sandbox's
 * test hook) runs a command that starts that thread with
 * KESTREL_SECCOMP_HOOK=KIND: the thread makes a syscall off its list once
 * its filter is in place. Passing means the process died of SIGSYS and
 * its last line names the thread's kind and the syscall. Then the
 * controls: the same hook under --seccomp log and --seccomp off runs to
 * the end, and an argument filter (mmap with PROT_EXEC on a vCPU). Last,
 * virtio-net's guest test passes with its kicks through the relay.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../run.h"
#include "../test.h"

static char kestrel[512], guest_dir[512], dir[64];

/**
 * struct hook_case - one thread kind made to step off its list
 * @kind: KESTREL_SECCOMP_HOOK's value (the kind, or KIND:exec)
 * @what: the command, for the report
 * @args: kestrel's arguments; "@D" becomes the scratch dir, "@G" the guest dir
 * @syscall: what the log line must name ("socket (41)")
 * @needs_root: a TAP: skipped without root and /dev/net/tun
 * @relay: with KESTREL_VIRTIO_RELAY=1, virtio-mmio's kick relay for every queue
 */
struct hook_case {
	const char *kind;
	const char *what;
	const char *args[10];
	const char *syscall;
	bool needs_root;
	bool relay;
};

/* @arg with "@D" and "@G" expanded into @buf (also "key=@D..." at its end). */
static const char *expand(const char *arg, char *buf, size_t len)
{
	const char *at = strstr(arg, "=@D");

	if (at) {
		snprintf(buf, len, "%.*s%s%s", (int)(at + 1 - arg), arg, dir, at + 3);
		return buf;
	}
	if (!strncmp(arg, "@D", 2))
		snprintf(buf, len, "%s%s", dir, arg + 2);
	else if (!strncmp(arg, "@G", 2))
		snprintf(buf, len, "%s%s", guest_dir, arg + 2);
	else
		return arg;
	return buf;
}

/*
 * Run kestrel-test with @hook set (and the kick relay forced if @relay);
 * Return: the wait status, stderr in @err.
 */
static int run_hooked(const char *hook, bool relay, const char *const *args, char *err,
		      size_t errlen)
{
	char bufs[10][600];
	char *argv[12] = { kestrel };
	int st;

	for (int i = 0; i < 10 && args[i]; i++)
		argv[i + 1] = (char *)expand(args[i], bufs[i], sizeof(bufs[i]));
	setenv("KESTREL_SECCOMP_HOOK", hook, 1);
	if (relay)
		setenv("KESTREL_VIRTIO_RELAY", "1", 1);
	st = run_capture_wait(kestrel, argv, false, err, errlen);
	unsetenv("KESTREL_SECCOMP_HOOK");
	unsetenv("KESTREL_VIRTIO_RELAY");
	return st;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			report_info("cannot write %s: %s", path, strerror(errno));
		close(fd);
	}
}

static void test_kinds(void)
{
	static const struct hook_case cases[] = {
		{ "vmm", "kestrel run's main thread", { "run" }, "socket (41)" },
		{ "vcpu", "a vCPU", { "run", "--cpus", "2" }, "socket (41)" },
		{ "signal", "the signal thread", { "run" }, "socket (41)" },
		{ "serial", "the UART thread", { "run" }, "socket (41)" },
		{ "rtc", "the RTC timer thread (started by the guest, on the VMM thread)",
		  { "run", "--kernel", "@G/acpi-s3.elf" }, "socket (41)" },
		{ "acpi-pm", "the ACPI PM thread (started by the guest, on the VMM thread)",
		  { "run", "--kernel", "@G/acpi-s3.elf" }, "socket (41)" },
		{ "dev-sim", "the net simulator's worker", { "run", "--net", "sim" }, "socket (41)" },
		{ "dev-sim", "the RAM disk's worker",
		  { "run", "--device", "vdpa,type=blk,capacity=1M" }, "socket (41)" },
		{ "dev-file-blk", "file-blk's worker", { "run", "--disk", "@D/disk.img" },
		  "socket (41)" },
		{ "dev-console", "virtio-console's worker", { "run", "--console", "virtio" },
		  "socket (41)" },
		{ "dev-rng", "virtio-rng's worker", { "run", "--rng" }, "socket (41)" },
		{ "dev-balloon", "virtio-balloon's worker", { "run", "--balloon", "amount_mib=0" },
		  "socket (41)" },
		/* its own socket() is Unix streams only: AF_INET is not */
		{ "dev-vsock", "virtio-vsock's worker", { "run", "--vsock", "cid=3,uds=@D/v.sock" },
		  "socket (41)" },
		{ "dev-tap", "a TAP's worker", { "run", "--net", "tap=ksecc0" }, "socket (41)",
		  true },
		{ "vhost-user", "kestrel vhost-user's server, before its first accept",
		  { "vhost-user", "--socket", "@D/vu.sock", "--device", "net" }, "socket (41)" },
		{ "relay", "virtio-mmio's kick relay (forced, virtio-net's guest)",
		  { "run", "--kernel", "@G/virtio-net.elf", "--net", "sim" }, "socket (41)",
		  false, true },
		{ "api", "the Firecracker mode's API thread", { "--api-sock", "@D/api.sock" },
		  "socket (41)" },
		{ "control", "the Firecracker mode's main thread, the VM started",
		  { "--no-api", "--config-file", "@D/vm.json" }, "socket (41)" },
		{ "vmm", "the Firecracker mode's fc_vmm thread",
		  { "--no-api", "--config-file", "@D/vm.json" }, "socket (41)" },
		/* argument filters: the syscall is on the list, the argument is not */
		{ "vcpu:exec", "a vCPU mapping executable memory", { "run" },
		  "mmap (9, prot 0x5)" },
		{ "dev-file-blk:exec", "file-blk's worker mapping executable memory",
		  { "run", "--disk", "@D/disk.img" }, "mmap (9, prot 0x5)" },
	};
	bool root = !geteuid() && !access("/dev/net/tun", R_OK | W_OK);
	char err[16384], want[64];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct hook_case *c = &cases[i];
		size_t klen = strcspn(c->kind, ":");
		const char *line;
		int st;

		if (c->needs_root && !root) {
			report_skip("%s: needs root and /dev/net/tun", c->what);
			continue;
		}
		st = run_hooked(c->kind, c->relay, c->args, err, sizeof(err));
		snprintf(want, sizeof(want), "(kind %.*s, ", (int)klen, c->kind);
		line = strstr(err, "kestrel: seccomp: thread ");
		report(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS && line &&
		       strstr(line, want) && strstr(line, c->syscall),
		       "%s: killed by SIGSYS, the log names it and %s (%s)", c->what,
		       c->syscall, line ? strndupa(line, strcspn(line, "\n")) :
		       st >= 0 && WIFEXITED(st) ? "it exited" : "no line");
	}
}

/*
 * Each list against its Firecracker counterpart (x86_64: VMM thread 50
 * syscalls, API thread 31, vCPU thread 27), as `kestrel seccomp-dump`
 * counts them: every kestrel list must be smaller.
 */
static void test_sizes(void)
{
	static const struct {
		const char *kind;
		unsigned int firecracker;
		const char *theirs;
	} limits[] = {
		{ "vmm", 50, "VMM" }, { "control", 50, "VMM" }, { "api", 31, "API" },
		{ "vcpu", 27, "vCPU" },
	};
	char dump[] = "seccomp-dump";
	char *argv[] = { kestrel, dump, NULL };
	char out[16384], want[32];
	int st = run_capture_wait(kestrel, argv, true, out, sizeof(out));

	report(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "seccomp-dump runs");
	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		const char *line;
		unsigned int n = 0;

		snprintf(want, sizeof(want), "\n%s ", limits[i].kind);
		line = !strncmp(out, want + 1, strlen(want + 1)) ? out : strstr(out, want);
		if (line && *line == '\n')
			line++;
		if (line)
			sscanf(line + strlen(limits[i].kind), " %u syscalls", &n);
		report(line && n && n < limits[i].firecracker,
		       "%s: %u syscalls, Firecracker's %s thread %u", limits[i].kind, n,
		       limits[i].theirs, limits[i].firecracker);
	}
}

/* The same hook with the filters in log mode or off: nothing is killed. */
static void test_modes(void)
{
	static const char *const modes[] = { "log", "off" };
	char err[16384];

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		const char *args[] = { "run", "--seccomp", modes[i], NULL };
		int st = run_hooked("vcpu", false, args, err, sizeof(err));

		report(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
		       !strstr(err, "seccomp: thread"),
		       "--seccomp %s: the vCPU's socket() runs, the guest runs to its end (status %d)",
		       modes[i], st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
}

/*
 * The kick relay does its job: with every queue relayed, virtio-net's
 * guest test (which checks its packets' round trips) passes, exit status
 * 1 being its debug-exit "passed".
 */
static void test_relay(void)
{
	const char *args[] = { "run", "--kernel", "@G/virtio-net.elf", "--net", "sim", NULL };
	char err[16384];
	int st = run_hooked("none", true, args, err, sizeof(err));

	report(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	       strstr(err, "kicks relayed") && !strstr(err, "seccomp: thread"),
	       "virtio-net through the kick relay: the guest test passes (status %d, %s)",
	       st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	       strstr(err, "kicks relayed") ? "queues relayed" : "no queue relayed");
}

int main(void)
{
	const char *b = getenv("B");
	char path[600];
	int fd;

	snprintf(kestrel, sizeof(kestrel), "%s/kestrel-test", b ? b : "build");
	snprintf(guest_dir, sizeof(guest_dir), "%s/guest/x86", b ? b : "build");
	if (access(kestrel, X_OK)) {
		report_skip("%s not built", kestrel);
		return report_summary();
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		report_skip("no usable /dev/kvm: %s", strerror(errno));
		return report_summary();
	}
	close(fd);
	snprintf(dir, sizeof(dir), "/tmp/kestrel-seccomp.XXXXXX");
	if (!mkdtemp(dir)) {
		report_skip("no scratch directory: %s", strerror(errno));
		return report_summary();
	}
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20))
		report_info("cannot make %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	write_file(path, "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}}");

	test_sizes();
	test_kinds();
	test_modes();
	test_relay();

	for (const char *const *f = (const char *const[]){ "disk.img", "vm.json", "vu.sock",
							    "api.sock", NULL }; *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		unlink(path);
	}
	rmdir(dir);
	return report_summary();
}
