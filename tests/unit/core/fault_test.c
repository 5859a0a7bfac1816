// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault injection over the whole "kestrel run" creation path: the device
 * list, VM, RAM, the PCI host bridge, the virtio devices (net and blk
 * simulators on virtio-pci with their MSI-X GSIs and irqfds; rng, a
 * file-backed disk and vsock on virtio-mmio), the guest loader, every platform device, two vCPUs,
 * the signal thread and the vCPU threads. It drives the machine builder
 * (include/kestrel/machine.h) in-process the way cmd_run() in src/main.c
 * does for "kestrel run --cpus 2 --memory 64M" and the devices below, then
 * again for "--memory 80M --protected" (guest_memfd RAM, where KVM has it)
 * and with the measured launch of a payload that only returns.
 *
 * Every injection point (include/kestrel/fault.h) is failed in turn, not a
 * sample: point N is armed, the run is made, and then
 *   - it ended with cmd_run()'s VM_EXIT_HOST_ERROR and exactly one line on
 *     stderr, an error naming the cause;
 *   - fds, threads and mappings (and the named ones: guest RAM memfd, vCPU
 *     run pages) are back to the baseline, and no vDPA device is left on
 *     the bus;
 *   - built with AddressSanitizer (fault_lsan_test, same source), a
 *     LeakSanitizer pass finds nothing leaked by that point.
 * The sweep ends with the first N the run gets through without reaching;
 * that run must boot the built-in guest to a clean power-off.
 *
 * Needs /dev/kvm: skips (77) without it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/machine.h>
#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>
#include <kestrel/virtio.h>
#include <kestrel/vm.h>

#include "../test.h"

#if defined(__SANITIZE_ADDRESS__)
#define FAULT_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FAULT_TEST_LSAN 1
#endif
#endif
#ifdef FAULT_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define MAX_POINTS	10000

/*
 * What the run got to. Creation is complete when machine_run() is called;
 * the vCPU threads start inside it and are injection points too. Teardown
 * (after machine_run()) is never injected.
 */
static struct {
	bool reached_run;
	bool fired_before_run;
	bool fired_in_run;
	unsigned long points;	/* injection points passed up to the end of the run */
} run_info;

/* ---- process state ------------------------------------------------------- */

static unsigned int count_dir(const char *path)
{
	unsigned int n = 0;
	struct dirent *e;
	DIR *d = opendir(path);

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

struct maps {
	unsigned int lines;
	unsigned int ram;	/* guest RAM memfds ("kestrel-ram") */
	unsigned int kvm;	/* vCPU run pages and other KVM anon inodes */
};

static struct maps count_maps(void)
{
	struct maps m = { 0 };
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return m;
	while (fgets(line, sizeof(line), f)) {
		m.lines++;
		m.ram += strstr(line, "kestrel-ram") != NULL;
		m.kvm += strstr(line, "anon_inode:kvm") != NULL;
	}
	fclose(f);
	return m;
}

static int count_vdpa_one(struct vdpa_device *vdpa, void *opaque)
{
	(*(unsigned int *)opaque)++;
	return 0;
}

static unsigned int count_vdpa(void)
{
	unsigned int n = 0;

	vdpa_for_each_device(count_vdpa_one, &n);
	return n;
}

struct snapshot {
	unsigned int fds, tasks, vdpa;
	struct maps maps;
};

static struct snapshot snapshot(void)
{
	return (struct snapshot){
		.fds = count_dir("/proc/self/fd"),
		.tasks = count_dir("/proc/self/task"),
		.vdpa = count_vdpa(),
		.maps = count_maps(),
	};
}

/* What differs from @base, as text for a failure line; "" if nothing. */
static void snapshot_diff(const struct snapshot *base, const struct snapshot *now,
			  char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
#define DIFF(field, name)						\
	if (now->field != base->field && off < len)			\
		off += snprintf(buf + off, len - off, " %s %u->%u", name, \
				base->field, now->field)
	DIFF(fds, "fds");
	DIFF(tasks, "threads");
	DIFF(vdpa, "vdpa-devices");
	DIFF(maps.ram, "ram-maps");
	DIFF(maps.kvm, "kvm-maps");
#ifndef FAULT_TEST_LSAN
	/* ASan maps and unmaps for its own allocator and quarantine. */
	DIFF(maps.lines, "maps");
#endif
#undef DIFF
}

/* ---- running kestrel ------------------------------------------------------ */

static char disk_path[64] = "/tmp/kestrel-fault-XXXXXX";
/* --vsock cid=3,uds=<disk_path>.v: its listener is bound and removed each run. */
static char vsock_spec[96];

/* The device options of the run, in command-line order. */
static const struct {
	const char *opt, *val;
} run_devices[] = {
	{ "--net", "sim,transport=pci" },
	{ "--device", "vdpa,type=blk,capacity=1M,transport=pci" },
	{ "--rng", NULL },
	{ "--disk", disk_path },
	{ "--vsock", vsock_spec },
};

/* cmd_run() from its device options on: build, run, tear down. */
static bool run_protected, run_measured;
/* The measured launch's payload: xor %eax, %eax; ret (status 1). */
static const unsigned char ret0_payload[] = { 0x31, 0xc0, 0xc3 };

static int run_machine(void)
{
	struct machine_config cfg = {
		.protected = run_protected,
		.measured = run_measured,
		.kernel = run_measured ? ret0_payload : NULL,
		.kernel_size = run_measured ? sizeof(ret0_payload) : 0,
		/* --protected keeps 64 MiB shared: give it some private RAM */
		.ram_size = (run_protected ? 80 : 64) << 20,
		.nr_cpus = 2,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.stop_on_signals = true,
	};
	struct machine *m;
	int ret, status;

	ret = machine_devices_create(&cfg.devs);
	for (size_t i = 0; !ret && i < ARRAY_SIZE(run_devices); i++)
		ret = virtio_devices_parse_arg(cfg.devs, run_devices[i].opt,
					       run_devices[i].val);
	if (!ret)
		ret = machine_create(&cfg, &m);
	if (ret) {
		/* cmd_run()'s status: a bad configuration is a usage error */
		status = ret == -EINVAL ? VM_EXIT_USAGE : VM_EXIT_HOST_ERROR;
		goto out;
	}
	run_info.reached_run = true;
	run_info.fired_before_run = fault_inject_fired();
	status = machine_run(m);
	run_info.fired_in_run = !run_info.fired_before_run && fault_inject_fired();
	run_info.points = fault_inject_count();
	fault_inject_arm(0);
	machine_destroy(m);
out:
	virtio_devices_destroy(cfg.devs);
	return status;
}

static int errfd, nullfd;

static bool guest_memfd_supported(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), flags;
	bool ok;

	if (kvm < 0)
		return false;
	flags = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	ok = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) > 0 && flags > 0 &&
	     (flags & GUEST_MEMFD_FLAG_MMAP);
	close(kvm);
	return ok;
}

/* run_machine() with stdout discarded and stderr into @err. */
static int run_kestrel(char *err, size_t len)
{
	int saved_out, saved_err, status;
	ssize_t n;

	fflush(stdout);
	saved_out = dup(1);
	saved_err = dup(2);
	if (ftruncate(errfd, 0) < 0 || lseek(errfd, 0, SEEK_SET) < 0)
		return -1;
	dup2(nullfd, 1);
	dup2(errfd, 2);
	memset(&run_info, 0, sizeof(run_info));
	status = run_machine();
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	n = pread(errfd, err, len - 1, 0);
	err[n > 0 ? n : 0] = '\0';
	return status;
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * A clear one-line error: one line, "kestrel: error: ...", naming what an
 * injected failure looks like to the user (the strerror of -ENOMEM, -EIO,
 * -EMFILE or -EAGAIN, or the loader's "out of memory").
 */
static bool is_clear_error(const char *err)
{
	static const char *const causes[] = {
		"Cannot allocate memory", "out of memory", "Input/output error",
		"Too many open files", "Resource temporarily unavailable",
	};

	if (count_lines(err) != 1 || strncmp(err, "kestrel: error: ", 16))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(causes); i++)
		if (strstr(err, causes[i]))
			return true;
	return false;
}

#ifdef FAULT_TEST_LSAN
/* LeakSanitizer stops the world with ptrace; some sandboxes forbid it. */
static bool lsan_works(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(__lsan_do_recoverable_leak_check() ? 1 : 0);
	return pid > 0 && waitpid(pid, &status, 0) == pid &&
	       WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

static void print_line(const char *what, const char *s)
{
	if (s)	/* never NULL, but UBSan builds cannot tell */
		report_info("%s: %.*s", what, (int)strcspn(s, "\n"), s);
}

/* The whole sweep over one machine configuration (run_protected). */
static void sweep(void)
{
	char err[4096], diff[256];
	unsigned int bad_status = 0, bad_message = 0, unclean = 0;
	unsigned long n, in_run = 0, leaky = 0;
	struct snapshot base;
	struct timespec t0, t1;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/*
	 * Warm-up: one whole run, so that what glibc keeps for reuse (malloc
	 * arenas of the threads, cached thread stacks) exists before the
	 * baseline.
	 */
	fault_inject_arm(0);
	status = run_kestrel(err, sizeof(err));
	check_eq(status, run_measured ? 1 : 0);
	check_true(run_info.reached_run);
	if (!report_checks("unarmed run boots %s (status %d)",
			   run_measured ? "the measured payload to its end" :
			   "the built-in guest to power-off", status)) {
		print_line("stderr", err);
		return;
	}
#ifdef FAULT_TEST_LSAN
	report_eq(__lsan_do_recoverable_leak_check(), 0,
		  "LeakSanitizer: the unarmed run's teardown leaks nothing");
#endif
	base = snapshot();
	report_info("baseline: %u fds, %u threads, %u mappings", base.fds,
		    base.tasks, base.maps.lines);

	for (n = 1; n <= MAX_POINTS; n++) {
		struct snapshot now;
		bool fired;

		fault_inject_arm(n);
		status = run_kestrel(err, sizeof(err));
		fired = run_info.reached_run ?
			run_info.fired_before_run || run_info.fired_in_run :
			fault_inject_fired();
		fault_inject_arm(0);
		if (!fired) {
			report_eq(status, run_measured ? 1 : 0,
				  "point %lu is past the last one: the guest ran to its end (status %d)",
				  n, status);
			break;
		}
		in_run += run_info.fired_in_run;

		if (status != VM_EXIT_HOST_ERROR) {
			if (bad_status++ < 10)
				report_info("point %lu: status %d, expected %d (host error)",
					    n, status, VM_EXIT_HOST_ERROR);
		}
		if (!is_clear_error(err)) {
			if (bad_message++ < 10) {
				report_info("point %lu: not one clear error line (%u lines):",
					    n, count_lines(err));
				for (char *p = err; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0))
					print_line("  stderr", p);
			}
		}
		now = snapshot();
		snapshot_diff(&base, &now, diff, sizeof(diff));
		if (diff[0]) {
			if (unclean++ < 10)
				report_info("point %lu: left behind:%s (error was: %.*s)",
					    n, diff, (int)strcspn(err, "\n"), err);
			base = now;	/* report each leak once */
		}
#ifdef FAULT_TEST_LSAN
		/* What leaked stays unreachable: only the first point is news. */
		if (!leaky && __lsan_do_recoverable_leak_check()) {
			leaky = n;
			report_info("point %lu: LeakSanitizer found leaks (above; error was: %.*s)",
				    n, (int)strcspn(err, "\n"), err);
		}
#endif
	}
	n--;
	clock_gettime(CLOCK_MONOTONIC, &t1);

	check_ge(n, 100);
	check_lt(n, MAX_POINTS);
	report_checks("%lu injection points in \"kestrel run\" creation (%lu of them vCPU thread starts in vm_run)",
		      n, in_run);
	report_eq(bad_status, 0, "every failure exits with status %d (host error): %u did not",
		  VM_EXIT_HOST_ERROR, bad_status);
	report_eq(bad_message, 0, "every failure prints one clear error line: %u did not",
		  bad_message);
	report_eq(unclean, 0,
		  "fds, threads, mappings and vDPA devices back to the baseline after every failure: %u were not",
		  unclean);
#ifdef FAULT_TEST_LSAN
	report_eq(leaky, 0, "LeakSanitizer: no leak after any failure (first leak at point %lu)",
		  leaky);
#else
	(void)leaky;
	report_info("memory leaks: checked by fault_lsan_test (this test under AddressSanitizer)");
#endif
	report_info("%.1f s", (double)(t1.tv_sec - t0.tv_sec) +
				(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

int main(void)
{
	int fd;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		report_skip("no usable /dev/kvm: %s", strerror(errno));
		return report_summary();
	}
	close(fd);
#ifdef FAULT_TEST_LSAN
	if (!lsan_works()) {
		report_skip("LeakSanitizer cannot run here (ptrace not allowed?)");
		return report_summary();
	}
#endif
	alarm(240);

	/* The serial device reads stdin: give it nothing to read. */
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	errfd = memfd_create("fault-test-stderr", MFD_CLOEXEC);
	fd = mkstemp(disk_path);
	if (nullfd < 0 || errfd < 0 || fd < 0 || ftruncate(fd, 1 << 20) < 0) {
		report(false, "set-up: /dev/null, a memfd and a 1 MiB disk image");
		return report_summary();
	}
	close(fd);
	snprintf(vsock_spec, sizeof(vsock_spec), "cid=3,uds=%s.v", disk_path);
	dup2(nullfd, 0);
	log_level_set(LOG_WARN);	/* progress lines are not errors */
	/* What src/main.c does before any subcommand. */
	if (vdpa_register_types()) {
		report(false, "set-up: register the vDPA device types");
		return report_summary();
	}

	report_prefix_push("plain");
	sweep();
	report_prefix_pop();
	/*
	 * --protected (docs/protected.md): guest_memfd RAM and its slots too;
	 * then --measured: the boot window, the launch port, the stub.
	 */
	run_protected = true;
	for (int measured = 0; measured < 2; measured++) {
		run_measured = measured;
		report_prefix_push(measured ? "measured" : "protected");
		if (guest_memfd_supported())
			sweep();
		else
			report_skip("KVM has no guest_memfd with GUEST_MEMFD_FLAG_MMAP");
		report_prefix_pop();
	}
	unlink(disk_path);
	return report_summary();
}
