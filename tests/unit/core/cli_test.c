// SPDX-License-Identifier: GPL-2.0-only
/*
 * Argument errors of every subcommand: each bad argument gets exit status
 * 2 and exactly one line on stderr naming the argument; --help prints the
 * usage on stdout and nothing on stderr. Runs $B/kestrel (B from the
 * environment, default "build"); skips if it has not been built.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../run.h"
#include "../test.h"

static char kestrel[512];
/* A well-formed 32-byte key file, made by main(). */
static char keypath[] = "/tmp/cli_test-key-XXXXXX";

/* Run kestrel with @argv; its stderr goes to @err. Return: exit status. */
static int run(char *const argv[], char *err, size_t errlen)
{
	return run_capture(kestrel, argv, false, err, errlen);
}

struct bad_case {
	const char *what;
	const char *args[7];
	const char *must_name;	/* the argument the message names */
};

int main(void)
{
	static const struct bad_case cases[] = {
		{ "unknown option", { "run", "--bogus" }, "--bogus" },
		{ "unknown command", { "frobnicate" }, "frobnicate" },
		{ "malformed size", { "run", "--memory", "12X" }, "--memory" },
		{ "size overflow", { "run", "--memory", "99999999999T" }, "--memory" },
		{ "size too small", { "run", "--memory", "4K" }, "--memory" },
		{ "unaligned size", { "run", "--memory", "1000001" }, "--memory" },
		{ "missing value", { "run", "--memory" }, "--memory" },
		{ "zero vCPUs", { "run", "--cpus", "0" }, "--cpus" },
		{ "malformed vCPU count", { "run", "--cpus", "two" }, "--cpus" },
		{ "missing kernel file", { "run", "--kernel", "/nonexistent/kernel" }, "--kernel" },
		{ "kernel is a directory", { "run", "--kernel", "/" }, "--kernel" },
		{ "empty kernel", { "run", "--kernel", "/dev/null" }, "--kernel" },
		{ "missing module", { "run", "--module", "/nonexistent,arg" }, "--module" },
		{ "initrd without kernel", { "run", "--initrd", "/etc/hostname" }, "--initrd" },
		{ "flag with a value", { "run", "--rng=yes" }, "--rng" },
		{ "vhost-user without --socket", { "vhost-user", "--device", "net" }, "--socket" },
		{ "vhost-user zero memory slots",
		  { "vhost-user", "--mem-slots", "0", "-s", "/tmp/x", "-d", "net" }, "--mem-slots" },
		{ "vhost-user unknown option", { "vhost-user", "--bogus" }, "--bogus" },
		{ "acpi-dump vCPU count over the limit", { "acpi-dump", "/tmp", "--cpus", "255" }, "--cpus" },
		{ "snapshot of a protected guest", { "run", "--protected", "--snapshot", "/tmp" }, "protected" },
		{ "measured launch of an unprotected guest", { "run", "--measured", "--kernel", "/etc/hostname" },
		  "--measured" },
		{ "expected measurement not hex",
		  { "run", "--protected", "--kernel", "/etc/hostname", "--expect-measurement", "xyz" },
		  "--expect-measurement" },
		{ "measured launch without a payload", { "run", "--protected", "--measured" }, "--kernel" },
		{ "image key of the wrong size",
		  { "run", "--protected", "--kernel", "/etc/hostname", "--image-key", "/etc/hostname" },
		  "--image-key" },
		{ "payload CPL 1", { "run", "--protected", "--kernel", "/etc/hostname", "--payload-cpl", "1" },
		  "--payload-cpl" },
		{ "seal-image without a key", { "seal-image", "/etc/hostname", "/tmp/x" }, "seal-image" },
		{ "seal-image with a short key", { "seal-image", "--key", "/etc/hostname", "/etc/hostname", "/tmp/x" },
		  "--key" },
		{ "acpi-dump unknown option", { "acpi-dump", "/tmp", "--bogus" }, "--bogus" },
		{ "acpi-dump missing value", { "acpi-dump", "/tmp", "--net" }, "--net" },
		{ "a comma in a --disk path, not doubled",
		  { "acpi-dump", "/tmp", "--disk", "/tmp/a,b=c.img" }, "--disk" },
	};
	static const char *const subcommands[] = { "run", "vhost-user", "acpi-dump" };
	static const struct bad_case kvm_cases[] = {
		{ "not a loadable image", { "run", "--kernel", "/etc/passwd" }, "--kernel" },
		{ "more vCPUs than KVM allows", { "run", "--cpus", "100000" }, "--cpus" },
		{ "memory too small for the image", { "run", "--memory", "1M" }, "--kernel" },
		{ "no private RAM left", { "run", "--protected", "--memory", "64M" }, "--protected" },
		{ "a payload that does not fit in private RAM",
		  { "run", "--protected", "--memory", "66M", "--measured", "--kernel", "/etc/hostname" },
		  "--memory" },
		{ "a key for an image that is not sealed",
		  { "run", "--protected", "--kernel", "/etc/hostname", "--image-key", keypath },
		  "--image-key" },
	};
	char err[4096];
	int fd;

	if (!run_find_kestrel(kestrel, sizeof(kestrel)))
		return report_summary();
	/* A 32-byte key file for the case that needs a well-formed key. */
	fd = mkstemp(keypath);
	if (fd < 0 || write(fd, "0123456789abcdef0123456789abcdef", 32) != 32) {
		report(false, "set-up: a key file");
		return report_summary();
	}
	close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(cases) + ARRAY_SIZE(kvm_cases); i++) {
		const struct bad_case *c = i < ARRAY_SIZE(cases) ? &cases[i]
					  : &kvm_cases[i - ARRAY_SIZE(cases)];
		char *argv[9] = { kestrel };
		int st;

		if (i == ARRAY_SIZE(cases)) {
			fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
			if (fd < 0) {
				report_skip("checks that need /dev/kvm: %s", strerror(errno));
				break;
			}
			close(fd);
		}
		for (int k = 0; k < 7 && c->args[k]; k++)
			argv[k + 1] = (char *)c->args[k];
		st = run(argv, err, sizeof(err));
		check_eq(st, 2);
		check_eq(count_lines(err), 1);
		check_contains(err, c->must_name);
		report_checks("%s: exit %d, %u line(s): %.*s", c->what, st, count_lines(err),
			      (int)strcspn(err, "\n"), err);
	}
	{
		char *argv[] = { kestrel, (char *)"--version", NULL };

		report_eq(run(argv, err, sizeof(err)), 0, "--version exits 0");
	}
	{
		char *argv[] = { kestrel, (char *)"--help", NULL };

		report_eq(run(argv, err, sizeof(err)), 0, "--help exits 0");
	}
	{
		/* acpi-dump parses the device options and opens no disk. */
		char dir[] = "/tmp/kestrel-cli-XXXXXX";
		char *argv[] = { kestrel, (char *)"acpi-dump", dir, (char *)"--disk",
				 (char *)"/tmp/a,,b=c.img,ro", NULL };

		if (mkdtemp(dir)) {
			report_eq(run(argv, err, sizeof(err)), 0,
				  "--disk PATH with ',,' for a comma and an '=' is accepted");
			if (fork() == 0)
				execlp("rm", "rm", "-rf", dir, (char *)NULL);
			wait(NULL);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++) {
		char *argv[] = { kestrel, (char *)subcommands[i], (char *)"--help", NULL };
		int st = run(argv, err, sizeof(err));

		report(st == 0 && !err[0], "%s --help exits 0, usage on stdout only (exit %d, %u line(s) on stderr)",
		       subcommands[i], st, count_lines(err));
	}
	unlink(keypath);
	return report_summary();
}
