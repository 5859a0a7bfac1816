// SPDX-License-Identifier: GPL-2.0-only
/*
 * VM lifecycle against the real /dev/kvm: run real-mode snippets that talk
 * to a test port, stop with a status, pause/resume/stop many times with no
 * lost wake-up, add a vCPU while running, and tear down to the baseline
 * thread and fd counts. Skips (77) without /dev/kvm.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/memory.h>
#include <kestrel/vcpu.h>
#include <kestrel/vm.h>

#include "../test.h"

#define TEST_PORT	0x3000	/* +0: count writes; +1: stop with the value */
#define CODE_GPA	0x1000

struct test_dev {
	struct io_dev io;
	struct vm *vm;
	atomic_uint writes;
	atomic_uint last;
	atomic_uint reads;
};

static int test_write(struct io_dev *d, u64 off, const void *data, unsigned int len)
{
	struct test_dev *t = container_of(d, struct test_dev, io);
	u8 v = *(const u8 *)data;

	if (off == 0) {
		atomic_store(&t->last, v);
		atomic_fetch_add(&t->writes, 1);
	} else {
		vm_request_stop(t->vm, VM_STOP_EXIT, v);
	}
	return 0;
}

/* A read of +0 returns the count of reads so far, from 1 (low byte). */
static int test_read(struct io_dev *d, u64 off, void *data, unsigned int len)
{
	struct test_dev *t = container_of(d, struct test_dev, io);
	unsigned int n = atomic_fetch_add(&t->reads, 1) + 1;

	*(u8 *)data = (u8)n;
	atomic_store(&t->last, n);
	atomic_fetch_add(&t->writes, 1);	/* progress, for wait_for_progress() */
	return 0;
}

static const struct io_ops test_ops = {
	.read = test_read, .write = test_write, .min_access = 1, .max_access = 1,
};

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

/* Threads named "vcpuN" (KVM may add workers of its own to the process). */
static unsigned int count_vcpu_threads(void)
{
	return test_count_threads("vcpu");
}

/*
 * vm_run() names each thread right after creating it, so vCPU 0 can be
 * running before vCPU 1 has its name: wait for @n (at most ~1 s).
 */
static unsigned int wait_for_vcpu_threads(unsigned int n)
{
	struct timespec ts = { 0, 1000000 };
	unsigned int got = count_vcpu_threads();

	for (int i = 0; i < 1000 && got != n; i++) {
		nanosleep(&ts, NULL);
		got = count_vcpu_threads();
	}
	return got;
}

static int vcpu_enter_real_mode(struct vcpu *v, u64 rip)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = rip, .rflags = 2 };

	if (ioctl(vcpu_fd(v), KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs.selector = 0;
	s.cs.base = 0;
	if (ioctl(vcpu_fd(v), KVM_SET_SREGS, &s) < 0 ||
	    ioctl(vcpu_fd(v), KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

static int make_vm(struct test_dev *dev, const u8 *code, size_t len, struct vm **out)
{
	struct vm_config cfg = { .ram_size = 256ULL << 20 };
	int ret;

	ret = vm_create(&cfg, out);
	if (ret)
		return ret;
	dev->io = (struct io_dev){ .ops = &test_ops, .name = "test" };
	dev->vm = *out;
	ret = iobus_register(vm_iobus(*out), IO_SPACE_PIO, TEST_PORT, 2, &dev->io);
	if (!ret)
		ret = address_space_write(vm_address_space(*out), CODE_GPA, code, len);
	if (ret) {
		vm_destroy(*out);
		return ret;
	}
	return 0;
}

/* mov dx, 0x3001; mov al, 38; out dx, al; hlt */
static const u8 code_exit[] = { 0xba, 0x01, 0x30, 0xb0, 38, 0xee, 0xf4 };
/* mov dx, 0x3000; mov al, 1; 1: out dx, al; inc al; jmp 1b */
static const u8 code_loop[] = { 0xba, 0x00, 0x30, 0xb0, 0x01, 0xee, 0xfe, 0xc0, 0xeb, 0xfb };
/* mov dx, 0x3000; 1: in al, dx; jmp 1b */
static const u8 code_in_loop[] = { 0xba, 0x00, 0x30, 0xec, 0xeb, 0xfd };

static void test_exit_status(void)
{
	struct test_dev dev = { 0 };
	struct vcpu *v;
	struct vm *vm;
	int ret;

	report_prefix_push("exit");
	ret = make_vm(&dev, code_exit, sizeof(code_exit), &vm);
	if (!report_eq(ret, 0, "create VM with 256 MiB (%d)", ret))
		goto out;
	check_eq(vm_nr_vcpus(vm), 0);
	check_ge(vm_max_vcpus(vm), 1);
	report_checks("no vCPUs yet, max %u", vm_max_vcpus(vm));
	ret = vm_add_vcpu(vm, &v);
	if (report_eq(ret, 0, "add vCPU 0") && report_eq(vcpu_enter_real_mode(v, CODE_GPA), 0,
							"real-mode entry")) {
		report_eq(vm_run(vm), VM_STOP_EXIT, "guest stopped through the test port");
		check_eq(vm_stop_status(vm), 38);
		check_eq(vm_exit_status(vm), 38);
		report_checks("status 38 came through");
	}
	vm_destroy(vm);
out:
	report_prefix_pop();
}

struct runner {
	struct vm *vm;
	enum vm_stop_reason reason;
};

static void *run_thread(void *p)
{
	struct runner *r = p;

	r->reason = vm_run(r->vm);
	return NULL;
}

static void wait_for_progress(struct test_dev *dev, unsigned int from, bool *ok)
{
	struct timespec ts = { 0, 100000 };

	for (int i = 0; i < 50000; i++) {
		if (atomic_load(&dev->writes) != from)
			return;
		nanosleep(&ts, NULL);
	}
	*ok = false;
}

static bool cpuid_same_but_apic_id(int fd0, int fd1)
{
	static struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } a, b;

	a.c.nent = b.c.nent = 256;
	if (ioctl(fd0, KVM_GET_CPUID2, &a) < 0 || ioctl(fd1, KVM_GET_CPUID2, &b) < 0)
		return false;
	if (a.c.nent != b.c.nent || !a.c.nent)
		return false;
	for (u32 i = 0; i < a.c.nent; i++) {
		struct kvm_cpuid_entry2 x = a.c.entries[i], y = b.c.entries[i];

		switch (x.function) {
		case 0x1:
			x.ebx &= 0x00ffffff;
			y.ebx &= 0x00ffffff;
			break;
		case 0xb:
		case 0x1f:
			x.edx = y.edx = 0;
			break;
		case 0x8000001e:
			x.eax = y.eax = x.ebx = y.ebx = 0;
			break;
		}
		if (memcmp(&x, &y, sizeof(x)))
			return false;
	}
	return true;
}

/*
 * A paused vCPU's registers are final: KVM has completed the instruction
 * of its last exit. In code_in_loop, AL always holds the byte the port
 * returned last, except in a vCPU parked with that IN still pending (RIP
 * at the IN, AL one behind): what vm_wake() must never see, since the
 * pending completion would then write into the state it set.
 */
static void test_pause_consistent(void)
{
	unsigned int bad = 0, n = 200;
	struct test_dev dev = { 0 };
	struct runner r = { 0 };
	struct kvm_regs regs;
	struct vcpu *v0;
	u64 bad_rip = 0;
	u8 bad_al = 0, bad_last = 0;
	bool ok = true;
	pthread_t t;

	report_prefix_push("pause");
	if (!report_eq(make_vm(&dev, code_in_loop, sizeof(code_in_loop), &r.vm), 0, "create VM"))
		goto out;
	if (vm_add_vcpu(r.vm, &v0) || vcpu_enter_real_mode(v0, CODE_GPA)) {
		report(false, "vCPU 0 in real mode");
		goto out_destroy;
	}
	pthread_create(&t, NULL, run_thread, &r);
	for (unsigned int i = 0; i < n && ok; i++) {
		unsigned int before = atomic_load(&dev.writes);
		u8 al, last;

		wait_for_progress(&dev, before, &ok);
		if (vm_pause(r.vm) || ioctl(vcpu_fd(v0), KVM_GET_REGS, &regs) < 0) {
			ok = false;
			break;
		}
		al = (u8)regs.rax;
		last = (u8)atomic_load(&dev.last);
		if (al != last && !bad++) {
			bad_rip = regs.rip;
			bad_al = al;
			bad_last = last;
		}
		vm_resume(r.vm);
	}
	report(ok, "%u pauses of an IN loop", n);
	report(!bad, "registers final at every pause: AL = the port's last byte (%u bad; first: rip %#llx al %#x last %#x)",
	       bad, (unsigned long long)bad_rip, bad_al, bad_last);
	vm_request_stop(r.vm, VM_STOP_USER, 0);
	pthread_join(t, NULL);
out_destroy:
	vm_destroy(r.vm);
out:
	report_prefix_pop();
}

/* At WAKE_GPA: mov dx, 0x3001; mov al, 42; out dx, al; hlt (no absolute address) */
#define WAKE_GPA	0x2345
static const u8 code_wake[] = { 0xba, 0x01, 0x30, 0xb0, 42, 0xee, 0xf4 };

/*
 * vm_sleep() stops the guest until vm_wake(), which is a reset: vCPU 0 in
 * real mode at CS:IP = entry >> 4 : entry & 0xf with the other registers
 * at their power-on values, vCPU 1 back to waiting for INIT; a pause in
 * between is independent of the sleep.
 */
static void test_sleep_wake(void)
{
	struct test_dev dev = { 0 };
	struct runner r = { 0 };
	struct kvm_mp_state mp = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct vcpu *v0, *v1;
	bool ok = true;
	unsigned int before;
	pthread_t t;

	report_prefix_push("sleep");
	if (!report_eq(make_vm(&dev, code_in_loop, sizeof(code_in_loop), &r.vm), 0, "create VM"))
		goto out;
	if (address_space_write(vm_address_space(r.vm), WAKE_GPA, code_wake, sizeof(code_wake)) ||
	    vm_add_vcpu(r.vm, &v0) || vm_add_vcpu(r.vm, &v1) || vcpu_enter_real_mode(v0, CODE_GPA)) {
		report(false, "two vCPUs, vCPU 0 in real mode");
		goto out_destroy;
	}
	report_err(vm_wake(r.vm, WAKE_GPA), -EALREADY, "no wake while awake");
	pthread_create(&t, NULL, run_thread, &r);
	wait_for_progress(&dev, 0, &ok);
	report_eq(vm_sleep(r.vm), 0, "asleep");
	report_err(vm_sleep(r.vm), -EALREADY, "a second sleep says so");
	before = atomic_load(&dev.writes);
	usleep(20000);
	check_eq(atomic_load(&dev.writes), before);
	vm_resume(r.vm);
	usleep(20000);
	check_eq(atomic_load(&dev.writes), before);
	check_true(vm_is_asleep(r.vm));
	report_checks("no guest progress asleep, vm_resume() does not wake it");

	report_eq(vm_pause(r.vm), 0, "paused too");
	report_err(vm_wake(r.vm, 0x100000), -EINVAL, "no wake at 1 MiB (not real-mode)");
	report_true(vm_is_asleep(r.vm), "still asleep");
	report_eq(vm_wake(r.vm, WAKE_GPA), 0, "woken at %#x, still paused", WAKE_GPA);
	if (ioctl(vcpu_fd(v0), KVM_GET_SREGS, &sregs) == 0 &&
	    ioctl(vcpu_fd(v0), KVM_GET_REGS, &regs) == 0) {
		check_eq(sregs.cs.selector, WAKE_GPA >> 4);
		check_eq(sregs.cs.base, WAKE_GPA & ~0xfu);
		check_eq(regs.rip, WAKE_GPA & 0xf);
		check_eq(sregs.cr0 & 1, 0);
		check_eq(sregs.efer, 0);
		check_ne(regs.rdx, (u64)TEST_PORT);	/* the loop's DX is gone */
	} else {
		check_true(false);
	}
	report_checks("vCPU 0 in real mode at %04x:%04x, registers from power-on",
		      WAKE_GPA >> 4, WAKE_GPA & 0xf);
	if (ioctl(vcpu_fd(v1), KVM_GET_MP_STATE, &mp) == 0)
		report_eq(mp.mp_state, KVM_MP_STATE_UNINITIALIZED, "vCPU 1 waits for INIT");
	else
		report(false, "KVM_GET_MP_STATE on vCPU 1");
	vm_resume(r.vm);
	pthread_join(t, NULL);
	check_eq(r.reason, VM_STOP_EXIT);
	check_eq(vm_stop_status(r.vm), 42);
	report_checks("the woken vCPU ran the code at the entry (status %d)", vm_stop_status(r.vm));
out_destroy:
	vm_destroy(r.vm);
out:
	report_prefix_pop();
}

static void test_pause_resume(void)
{
	struct test_dev dev = { 0 };
	struct runner r = { 0 };
	bool ok_pause = true, ok_still = true, ok_progress = true;
	struct vcpu *v0, *late = NULL;
	pthread_t t;
	int ret;

	report_prefix_push("pause");
	ret = make_vm(&dev, code_loop, sizeof(code_loop), &r.vm);
	if (!report_eq(ret, 0, "create VM"))
		goto out;
	if (vm_add_vcpu(r.vm, &v0) || vm_add_vcpu(r.vm, NULL) ||
	    vcpu_enter_real_mode(v0, CODE_GPA)) {
		report(false, "two vCPUs");
		goto out_destroy;
	}
	pthread_create(&t, NULL, run_thread, &r);
	wait_for_progress(&dev, 0, &ok_progress);
	report(ok_progress, "vCPU 0 runs the port loop");
	report_eq(wait_for_vcpu_threads(2), 2, "one thread per vCPU");

	for (int i = 0; i < 300; i++) {
		unsigned int before;

		if (vm_pause(r.vm)) {
			ok_pause = false;
			break;
		}
		before = atomic_load(&dev.writes);
		if (i % 50 == 0) {	/* paused really means paused */
			usleep(2000);
			ok_still &= atomic_load(&dev.writes) == before;
		}
		vm_resume(r.vm);
		wait_for_progress(&dev, before, &ok_progress);
	}
	report(ok_pause, "300 pauses returned (no lost wake-up)");
	report(ok_still, "no guest progress while paused");
	report(ok_progress, "progress after every resume");

	ret = vm_add_vcpu(r.vm, &late);
	check_eq(ret, 0);
	check_eq(vm_nr_vcpus(r.vm), 3);
	report_checks("vCPU added while running");
	/* A thread names itself once it runs: wait for the name. */
	report_eq(wait_for_vcpu_threads(3), 3, "its thread started");
	report_eq(vm_pause(r.vm), 0, "pause with the late vCPU");
	vm_resume(r.vm);

	vm_request_stop(r.vm, VM_STOP_USER, 0);
	vm_request_stop(r.vm, VM_STOP_EXIT, 99);	/* later requests lose */
	pthread_join(t, NULL);
	check_eq(r.reason, VM_STOP_USER);
	check_eq(vm_exit_status(r.vm), VM_EXIT_INTERRUPTED);
	report_checks("stopped by the first request");
	/* pthread_join() can return before /proc drops the task: wait a little */
	report_eq(wait_for_vcpu_threads(0), 0, "every vCPU thread joined");
	report_err(vm_add_vcpu(r.vm, NULL), -ESHUTDOWN, "no vCPU after stop");
	report_err(vm_pause(r.vm), -ESHUTDOWN, "no pause after stop");
	if (late)
		report(cpuid_same_but_apic_id(vcpu_fd(v0), vcpu_fd(late)),
		       "late vCPU has vCPU 0's CPUID apart from its APIC ID");
out_destroy:
	vm_destroy(r.vm);
out:
	report_prefix_pop();
}

static void test_fault_injection(void)
{
	struct vm_config cfg = { .ram_size = 16ULL << 20 };
	unsigned int fds0 = count_dir("/proc/self/fd"), tasks0 = count_dir("/proc/self/task");
	bool clean = true, all_failed = true;
	unsigned long n;

	report_prefix_push("fault-injection");
	for (n = 1; n < 1000; n++) {
		struct vm *vm = NULL;
		int ret;

		fault_inject_arm(n);
		ret = vm_create(&cfg, &vm);
		if (!ret)
			ret = vm_add_vcpu(vm, NULL);
		if (!ret)
			ret = vm_add_vcpu(vm, NULL);
		if (!fault_inject_fired()) {
			fault_inject_arm(0);
			vm_destroy(vm);
			break;
		}
		all_failed &= ret != 0;
		vm_destroy(vm);
		clean &= count_dir("/proc/self/fd") == fds0 &&
			 count_dir("/proc/self/task") == tasks0;
	}
	fault_inject_arm(0);
	report_gt(n, 10, "%lu injection points in VM + 2 vCPU creation", n - 1);
	report(all_failed, "every injected failure made creation fail");
	report(clean, "no fd or thread left after any failure");
	report_prefix_pop();
}

int main(void)
{
	unsigned int fds0, tasks0;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		report_skip("no usable /dev/kvm: %s", strerror(errno));
		return report_summary();
	}
	close(fd);
	alarm(120);	/* a lost wake-up hangs: turn that into a failure */
	log_level_set(LOG_WARN);
	fds0 = count_dir("/proc/self/fd");
	tasks0 = count_dir("/proc/self/task");

	test_exit_status();
	test_pause_resume();
	test_pause_consistent();
	test_sleep_wake();
	test_fault_injection();

	report_eq(count_dir("/proc/self/fd"), fds0, "fd count back to the baseline (%u)", fds0);
	report_eq(count_dir("/proc/self/task"), tasks0, "thread count back to the baseline");
	return report_summary();
}
