// SPDX-License-Identifier: GPL-2.0-only
/*
 * vCPUs: creation through the architecture's one create hook, one thread
 * each, and the run loop that dispatches exits.
 *
 * Kick protocol (how another thread gets a vCPU out of KVM_RUN without a
 * lost wake-up):
 *
 *   requester                         vCPU thread
 *   ---------                         -----------
 *   1. vm->request = true             a. KVM_RUN returns
 *   2. run->immediate_exit = 1        b. run->immediate_exit = 0
 *   3. pthread_kill(SIG_KICK)         c. if (vm->request) handle it
 *                                     d. KVM_RUN
 *
 * All of 1, 2, b and the load in c are sequentially consistent. If the
 * request lands before c, c sees it. If it lands after c, then 2 happens
 * after b: either KVM_RUN (d) sees immediate_exit = 1 at entry and returns
 * -EINTR at once, or the vCPU is already inside KVM_RUN and the signal
 * (3) makes it return -EINTR. The handler itself sets immediate_exit too,
 * so a signal that arrives between c and d is not lost either. SIG_KICK is
 * never blocked in vCPU threads and KVM_SET_SIGNAL_MASK is not used: the
 * handler does nothing that could race with the loop.
 */
#include <kestrel/vcpu.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/sandbox.h>

#include "internal.h"

#define SIG_KICK	(SIGRTMIN + 1)

static __thread struct vcpu *current_vcpu;

unsigned int vcpu_id(const struct vcpu *vcpu)
{
	return vcpu->id;
}

struct vm *vcpu_vm(const struct vcpu *vcpu)
{
	return vcpu->vm;
}

int vcpu_fd(const struct vcpu *vcpu)
{
	return vcpu->fd;
}

static void vcpu_kick_handler(int sig)
{
	struct vcpu *v = current_vcpu;

	if (v)
		WRITE_ONCE(v->run->immediate_exit, 1);
}

int vcpu_signal_setup(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	/* No SA_RESTART: KVM_RUN must come back with -EINTR. */
	sigemptyset(&sa.sa_mask);
	return sigaction(SIG_KICK, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct vm *vm, unsigned int id, struct vcpu **out)
{
	struct vcpu *vcpu;
	void *run;
	int ret;

	ret = vcpu_arch_precreate(vm, id);
	if (ret)
		return ret;
	vcpu = xzalloc(sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = -1;

	ret = kvm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (ret < 0)
		goto err_destroy;
	vcpu->fd = ret;

	run = xmmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	if (run == MAP_FAILED) {
		ret = -errno;
		goto err_destroy;
	}
	vcpu->run = run;

	ret = vcpu_arch_create(vcpu);
	if (ret)
		goto err_destroy;
	*out = vcpu;
	return 0;

err_destroy:
	vcpu_destroy(vcpu);
	return ret;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (!vcpu)
		return;
	vcpu_arch_destroy(vcpu);
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	free(vcpu);
}

void vcpu_kick(struct vcpu *vcpu)
{
	atomic_thread_fence(memory_order_seq_cst);
	WRITE_ONCE(vcpu->run->immediate_exit, 1);
	atomic_thread_fence(memory_order_seq_cst);
	pthread_kill(vcpu->thread, SIG_KICK);
}

void vcpu_dump_state(struct vcpu *vcpu)
{
	/* A protected guest's registers are not kestrel's to print. */
	if (vcpu->vm->has_private) {
		pr_err("vcpu%u: registers: protected guest, not dumped", vcpu->id);
		return;
	}
	vcpu_arch_dump_state(vcpu);
}

/*
 * Handle a pending request; true if the thread must exit. Parks the
 * thread while the VM is paused or asleep, but only once KVM has finished
 * the instruction of the last exit: KVM completes an I/O or MMIO exit (the
 * value of an IN, the RIP after an OUT) at the next KVM_RUN, so a vCPU
 * parked straight after an exit has registers that are not final, and a
 * state written while it is parked (vm_wake()) would be overwritten by
 * that completion. @exit_pending says the last KVM_RUN ended in an exit;
 * the thread then sets immediate_exit and runs KVM_RUN once more, which
 * completes the exit and returns -EINTR before entering the guest (the
 * KVM API's way to a consistent vCPU state, "immediate_exit").
 */
static bool vcpu_handle_request(struct vcpu *vcpu, bool exit_pending)
{
	struct vm *vm = vcpu->vm;
	bool exit = false;

	pthread_mutex_lock(&vm->lock);
	for (;;) {
		if (vm->stop_reason != VM_STOP_NONE) {
			exit = true;
			break;
		}
		if (!vm->pause && !vm->asleep)
			break;
		if (exit_pending) {
			WRITE_ONCE(vcpu->run->immediate_exit, 1);
			break;
		}
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->cond);
		while ((vm->pause || vm->asleep) && vm->stop_reason == VM_STOP_NONE)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->nr_parked--;
	}
	pthread_mutex_unlock(&vm->lock);
	return exit;
}

/* A halted vCPU with no in-kernel LAPIC can only wait for a request. */
static void vcpu_wait_for_request(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->lock);
	while (!vm->pause && !vm->asleep && vm->stop_reason == VM_STOP_NONE)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

static void vcpu_fail(struct vcpu *vcpu, const char *what)
{
	pr_err("vcpu%u: %s", vcpu->id, what);
	vcpu_dump_state(vcpu);
	vm_request_stop(vcpu->vm, VM_STOP_ERROR, 0);
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned int size = run->io.size, count = run->io.count;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	u64 off = run->io.data_offset;
	u8 *data = (u8 *)run + off;

	/* KVM fills these, but a bad offset would make us scribble anywhere. */
	if (off > vcpu->vm->run_size || !size || size > 8 ||
	    (u64)size * count > vcpu->vm->run_size - off) {
		vcpu_fail(vcpu, "KVM_EXIT_IO with an impossible data window");
		return;
	}
	__atomic_add_fetch(is_write ? &vcpu->stats.io_out : &vcpu->stats.io_in, count,
			   __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < count; i++, data += size)
		iobus_dispatch(vcpu->vm->bus, IO_SPACE_PIO, run->io.port, data,
			       size, is_write);
}

static void vcpu_handle_system_event(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_RESET:
		pr_info("vcpu%u: guest reset the machine", vcpu->id);
		vm_request_stop(vcpu->vm, VM_STOP_RESET, 0);
		break;
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		pr_info("vcpu%u: guest powered off", vcpu->id);
		vm_request_stop(vcpu->vm, VM_STOP_POWEROFF, 0);
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		vcpu_fail(vcpu, "guest reported a crash");
		break;
	default: {
		char msg[64];

		snprintf(msg, sizeof(msg), "unknown system event %u",
			 run->system_event.type);
		vcpu_fail(vcpu, msg);
	}
	}
}

static void vcpu_handle_internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	static const char *const names[] = {
		[KVM_INTERNAL_ERROR_EMULATION] = "instruction emulation failed",
		[KVM_INTERNAL_ERROR_SIMUL_EX] = "simultaneous exceptions",
		[KVM_INTERNAL_ERROR_DELIVERY_EV] = "exit during event delivery",
		[KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "unexpected exit reason",
	};
	u32 sub = run->internal.suberror;
	u32 ndata = MIN(run->internal.ndata, (u32)ARRAY_SIZE(run->internal.data));

	pr_err("vcpu%u: KVM internal error %u (%s)", vcpu->id, sub,
	       sub < ARRAY_SIZE(names) && names[sub] ? names[sub] : "unknown");
	if (sub == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags &
	     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		char hex[3 * 15 + 1] = "";
		unsigned int n = MIN(run->emulation_failure.insn_size, 15u);

		for (unsigned int i = 0; i < n; i++)
			snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ",
				 run->emulation_failure.insn_bytes[i]);
		pr_err("vcpu%u: instruction bytes (from KVM): %s", vcpu->id, hex);
	} else {
		for (u32 i = 0; i < ndata; i++)
			pr_err("vcpu%u: data[%u] = 0x%llx", vcpu->id, i,
			       (unsigned long long)run->internal.data[i]);
	}
	vcpu_fail(vcpu, "stopping the VM");
}

/* One exit; the run loop continues afterwards (stops come as requests). */
static void vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char msg[96];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(vcpu);
		break;
	case KVM_EXIT_MMIO:
		__atomic_add_fetch(run->mmio.is_write ? &vcpu->stats.mmio_write :
				   &vcpu->stats.mmio_read, 1, __ATOMIC_RELAXED);
		if (iobus_dispatch(vcpu->vm->bus, IO_SPACE_MMIO, run->mmio.phys_addr,
				   run->mmio.data, MIN(run->mmio.len, 8u),
				   run->mmio.is_write) == -ENOENT &&
		    vm_gpa_is_private(vcpu->vm, run->mmio.phys_addr)) {
			/* KVM's emulator reached private RAM through the
			 * slot's (inaccessible) userspace_addr: docs/protected.md. */
			snprintf(msg, sizeof(msg),
				 "emulated %s of private RAM at 0x%llx (only native guest code may)",
				 run->mmio.is_write ? "write" : "read",
				 (unsigned long long)run->mmio.phys_addr);
			vcpu_fail(vcpu, msg);
		}
		break;
	case KVM_EXIT_HLT:
		vcpu_wait_for_request(vcpu);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fail(vcpu, "triple fault (KVM_EXIT_SHUTDOWN)");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_handle_system_event(vcpu);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_handle_internal_error(vcpu);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(msg, sizeof(msg), "VM entry failed (reason 0x%llx, cpu %u)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			 run->fail_entry.cpu);
		vcpu_fail(vcpu, msg);
		break;
	default:
		if (vcpu_arch_handle_exit(vcpu))
			break;
		snprintf(msg, sizeof(msg), "unhandled exit reason %u", run->exit_reason);
		vcpu_fail(vcpu, msg);
		break;
	}
}

#ifdef KESTREL_TEST_HOOKS
/*
 * Test builds only (build/kestrel-test): KESTREL_VCPU_HOOK=getregs makes
 * vCPU 0 read its own registers once its filter is in place, as a
 * compromised kestrel would (tests/sandbox/seal.sh): allowed for an
 * ordinary guest, a SIGSYS death for a sealed protected one.
 */
static void vcpu_test_hook(struct vcpu *vcpu)
{
	const char *h = getenv("KESTREL_VCPU_HOOK");
	struct kvm_regs regs;

	if (!h || strcmp(h, "getregs") || vcpu->id)
		return;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
		fprintf(stderr, "test-hook: vcpu0 KVM_GET_REGS: %s\n", strerror(errno));
	else
		fprintf(stderr, "test-hook: vcpu0 KVM_GET_REGS: ok\n");
}
#else
static inline void vcpu_test_hook(struct vcpu *vcpu)
{
}
#endif

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	bool exit_pending = false;
	sigset_t kick;
	char name[16];

	/* Named by itself: naming another thread opens /proc, which its
	 * creator's filter does not allow. */
	snprintf(name, sizeof(name), "%.10s%u", vm->vcpu_thread_name, vcpu->id);
	pthread_setname_np(pthread_self(), name);
	current_vcpu = vcpu;
	sigemptyset(&kick);
	sigaddset(&kick, SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	seccomp_thread_enter(SECCOMP_THREAD_VCPU);
	vcpu_test_hook(vcpu);

	for (;;) {
		int ret;

		if (atomic_load(&vm->request) && vcpu_handle_request(vcpu, exit_pending))
			break;
		ret = ioctl(vcpu->fd, KVM_RUN, NULL);
		WRITE_ONCE(vcpu->run->immediate_exit, 0);
		atomic_thread_fence(memory_order_seq_cst);
		/* An exit is finished by the next KVM_RUN; -EINTR/-EAGAIN leave none. */
		exit_pending = ret == 0;
		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pr_err("vcpu%u: KVM_RUN failed: %s", vcpu->id, strerror(errno));
			vcpu_dump_state(vcpu);
			vm_request_stop(vm, VM_STOP_ERROR, 0);
			break;
		}
		vcpu_handle_exit(vcpu);
	}
	current_vcpu = NULL;
	return NULL;
}

int vm_run_launch(struct vm *vm, const bool *done)
{
	struct vcpu *vcpu = vm->nr_vcpus ? vm->vcpus[0] : NULL;
	int ret = 0;

	if (!vcpu || vm->running)
		return -EINVAL;
	current_vcpu = vcpu;
	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		if (vm_stop_reason(vm) != VM_STOP_NONE) {
			ret = -ESHUTDOWN;
			break;
		}
		if (ioctl(vcpu->fd, KVM_RUN, NULL) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pr_err("vcpu0: KVM_RUN failed: %s", strerror(errno));
			vm_request_stop(vm, VM_STOP_ERROR, 0);
			continue;
		}
		if (vcpu->run->exit_reason == KVM_EXIT_HLT) {
			vcpu_fail(vcpu, "halted during the measured launch");
			continue;
		}
		vcpu_handle_exit(vcpu);
	}
	current_vcpu = NULL;
	return ret;
}

/* Caller holds vm->lock. */
int vcpu_start_thread(struct vcpu *vcpu)
{
	int ret;

	if (vcpu->thread_started)
		return 0;
	ret = xpthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (ret)
		return ret;
	vcpu->thread_started = true;
	vcpu->vm->nr_threads++;
	return 0;
}
