// SPDX-License-Identifier: GPL-2.0-only
/*
 * Build-time tool: every thread kind's allow-list (include/kestrel/sandbox.h)
 * compiled to BPF with libseccomp, written out as C arrays that
 * src/sandbox/seccomp.c installs with one seccomp() call per thread. The
 * lists live here, in one table each, so `kestrel seccomp-dump` and
 * docs/sandbox.md count the same thing the kernel enforces.
 *
 *   seccomp-gen > seccomp-filters.inc   (#included by seccomp.c)
 *
 * Each kind gets two programs: SECCOMP_MODE_KILL (default action
 * SECCOMP_RET_TRAP: the SIGSYS handler logs, then the process dies of
 * SIGSYS) and SECCOMP_MODE_LOG (SECCOMP_RET_LOG). A foreign architecture
 * kills the process in both.
 *
 * Argument filters: ioctl only with the request numbers the thread uses
 * (compared on the low 32 bits, which is what the kernel reads); mmap and
 * mprotect never with PROT_EXEC; madvise only MADV_DONTNEED (free() and
 * thread exit; the balloon also MADV_REMOVE); openat only with the flags the thread opens with; tgkill
 * only with the signals the thread sends; clone only for threads
 * (CLONE_THREAD), clone3 fails with ENOSYS so glibc falls back to clone,
 * whose flags a filter can read. Only virtio-vsock's worker may make a
 * socket (a non-blocking Unix stream socket): every other one is made during
 * set-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include <linux/kvm.h>

#include <kestrel/compiler.h>
#include <kestrel/sandbox.h>

/* What vcpu.c kicks with: SIGRTMIN + 1, with glibc's SIGRTMIN of 34. */
#define SIG_KICK	35

/**
 * struct rule - one allowed syscall, with at most two argument checks
 * @name: the syscall
 * @nargs: entries of @arg used
 * @arg: the checks, all of which must hold
 */
struct rule {
	const char *name;
	unsigned int nargs;
	struct scmp_arg_cmp arg[2];
};

#define ALLOW(n)		{ #n, 0, { { 0 } } }
#define ALLOW1(n, a)		{ #n, 1, { a } }
#define ALLOW2(n, a, b)		{ #n, 2, { a, b } }
#define IOCTL(cmd)		ALLOW1(ioctl, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, \
						      (unsigned int)(cmd)))
#define NO_EXEC(n)		ALLOW1(n, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))
#define OPENAT(flags)		ALLOW1(openat, SCMP_A2(SCMP_CMP_EQ, (flags)))
#define TGKILL(sig)		ALLOW1(tgkill, SCMP_A2(SCMP_CMP_EQ, (sig)))
/* glibc's fstat(): newfstatat(fd, "", AT_EMPTY_PATH), no path lookup */
#define FSTAT			ALLOW1(newfstatat, SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH))
#define END			{ NULL }

/*
 * Every thread: locks, logging (the Firecracker mode's logger names the
 * thread: gettid(), getpid(), PR_GET_NAME), leaving.
 */
static const struct rule thread_rules[] = {
	ALLOW(futex),
	ALLOW(write),
	ALLOW(getpid),
	ALLOW(gettid),
	ALLOW1(prctl, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)),
	ALLOW(rt_sigprocmask),
	ALLOW1(madvise, SCMP_A2(SCMP_CMP_EQ, MADV_DONTNEED)),
	ALLOW(exit),
	END,
};

/* malloc() and free(): arenas grow with mprotect, big blocks are mapped. */
static const struct rule malloc_rules[] = {
	ALLOW(brk),
	NO_EXEC(mmap),
	NO_EXEC(mprotect),
	ALLOW(munmap),
	END,
};

/* What a thread being created runs before its own filter (glibc, then ours). */
static const struct rule spawn_rules[] = {
	ALLOW1(clone, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)),
	ALLOW(set_robust_list),
	ALLOW(rseq),
	ALLOW1(prctl, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)),
	ALLOW1(prctl, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)),
	ALLOW2(seccomp, SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER),
	       SCMP_A1(SCMP_CMP_EQ, 0)),
	END,
};

/* A stop, pause or sleep gets the vCPUs out of KVM_RUN (vcpu_kick()). */
static const struct rule kick_rules[] = {
	TGKILL(SIG_KICK),
	END,
};

/*
 * A TAP's offloads (VIRTIO_NET_F_GUEST_*) and its queues in use
 * (multiqueue): set by its worker (tap_sync(), VQ_PAIRS_SET), cleared by a
 * reset on whichever thread resets the device: a vCPU (the status
 * register), the vhost-user server, the teardown.
 */
static const struct rule tap_offload_rules[] = {
	IOCTL(TUNSETOFFLOAD),
	IOCTL(TUNSETQUEUE),
	END,
};

/* A driver setting up queues: the device keeps a duplicate of each kick fd. */
static const struct rule kickfd_rules[] = {
	ALLOW1(fcntl, SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC)),
	ALLOW(epoll_ctl),
	ALLOW(close),
	END,
};

/* Interrupt lines and MSIs (userspace IOAPIC, PIC lines, device irqs). */
static const struct rule irq_rules[] = {
	IOCTL(KVM_IRQ_LINE),
	IOCTL(KVM_SIGNAL_MSI),
	IOCTL(KVM_SET_GSI_ROUTING),
	END,
};

/*
 * A virtio-pci function's INTx line, driven from the device's worker when
 * the driver did not enable MSI-X (pci_dev_set_intx(): the userspace
 * IOAPIC sends the message, or the in-kernel irqchip takes the line).
 */
static const struct rule intx_rules[] = {
	IOCTL(KVM_IRQ_LINE),
	IOCTL(KVM_SIGNAL_MSI),
	END,
};

/*
 * Creating a vCPU on a running VM (vcpu_create(), vcpu_arch_create()):
 * these, plus setting its first state, which is vcpu_reset_rules (a kind
 * that creates vCPUs lists both).
 */
static const struct rule vcpu_create_rules[] = {
	IOCTL(KVM_CREATE_VCPU),
	IOCTL(KVM_SET_CPUID2),
	IOCTL(KVM_ENABLE_CAP),
	END,
};

/* Resetting parked vCPUs (vm_wake(), vcpu_arch_reset()). */
static const struct rule vcpu_reset_rules[] = {
	IOCTL(KVM_SET_MSRS),
	IOCTL(KVM_GET_SREGS),
	IOCTL(KVM_SET_SREGS),
	IOCTL(KVM_SET_REGS),
	IOCTL(KVM_SET_FPU),
	IOCTL(KVM_GET_LAPIC),
	IOCTL(KVM_SET_LAPIC),
	IOCTL(KVM_SET_VCPU_EVENTS),
	IOCTL(KVM_SET_MP_STATE),
	END,
};

/* Tearing the machine down: joins, unmaps, deassigns, closes. */
static const struct rule teardown_rules[] = {
	ALLOW(close),
	ALLOW(epoll_ctl),
	IOCTL(KVM_IOEVENTFD),
	IOCTL(KVM_IRQFD),
	ALLOW(io_uring_enter),
	/* virtio-vsock removes its listener's socket file (vsock.c) */
	ALLOW(unlink),
	ALLOW(exit_group),
	END,
};

static const struct rule vmm_rules[] = {
	/* machine_destroy() stops the signal thread */
	TGKILL(SIGTERM),
	/* the timer fds of the device threads it starts */
	ALLOW(timerfd_create),
	ALLOW(eventfd2),
	ALLOW(epoll_create1),
	ALLOW(epoll_ctl),
	END,
};

static const struct rule vcpu_rules[] = {
	/* dumped on a failure (vcpu_arch_dump_state()) */
	IOCTL(KVM_GET_REGS),
	IOCTL(KVM_GET_SREGS),
	IOCTL(KVM_TRANSLATE),
	/* queue doorbells (virtio-mmio) */
	IOCTL(KVM_IOEVENTFD),
	IOCTL(KVM_IRQFD),
	/* the kick handler */
	ALLOW(rt_sigreturn),
	/* last: the one of every exit (see kinds[]) */
	IOCTL(KVM_RUN),
	END,
};

static const struct rule control_rules[] = {
	/* PATCH /drives: the new image (blk/file.c __blk_file_open()), opened
	 * O_NONBLOCK (a FIFO must not hang it), then blocking again; with
	 * O_NOATIME first, without it where that is refused (EPERM) */
	OPENAT(O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOATIME),
	OPENAT(O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOATIME),
	OPENAT(O_RDONLY | O_CLOEXEC | O_NONBLOCK),
	OPENAT(O_RDWR | O_CLOEXEC | O_NONBLOCK),
	ALLOW1(fcntl, SCMP_A1(SCMP_CMP_EQ, F_GETFL)),
	ALLOW1(fcntl, SCMP_A1(SCMP_CMP_EQ, F_SETFL)),
	FSTAT,
	ALLOW(flock),
	IOCTL(BLKGETSIZE64),
	/* the API socket, removed on the way out */
	ALLOW(unlink),
	/* PATCH of a rate limiter on a device that had none: its throttle
	 * timer (swdev_timer_create()) */
	ALLOW(timerfd_create),
	END,
};

static const struct rule api_rules[] = {
	ALLOW(epoll_wait),
	ALLOW(epoll_ctl),
	ALLOW(accept4),
	ALLOW(read),
	ALLOW(readv),
	ALLOW(writev),
	ALLOW(shutdown),
	/* libevent sizes its reads with it */
	IOCTL(FIONREAD),
	ALLOW(close),
	ALLOW(fcntl),
	ALLOW1(prctl, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)),
	/* PUT /logger, PUT /metrics (logger.c, metrics.c) */
	OPENAT(O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK),
	/* a request's files are checked as it arrives (vmconfig.c check_file()) */
	OPENAT(O_RDONLY | O_CLOEXEC | O_NONBLOCK),
	OPENAT(O_RDWR | O_CLOEXEC | O_NONBLOCK),
	FSTAT,
	END,
};

/*
 * Writing a snapshot (src/snapshot/snapshot.c, machine_snapshot_write()):
 * the signal thread on SIGUSR1, the control thread for PUT /snapshot/create.
 * Temporary files renamed into place, the directory fsynced and its old
 * memory files removed; every vCPU's and the VM's state read from KVM.
 */
static const struct rule snapshot_rules[] = {
	OPENAT(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC),
	OPENAT(O_RDONLY | O_DIRECTORY | O_CLOEXEC),
	/* opendir() */
	OPENAT(O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_DIRECTORY),
	ALLOW(getdents64),
	FSTAT,
	ALLOW(pwrite64),
	ALLOW(pread64),
	ALLOW(lseek),
	ALLOW(ftruncate),
	ALLOW(fsync),
	ALLOW(rename),
	ALLOW(unlink),
	ALLOW(close),
	ALLOW(getrandom),
	IOCTL(KVM_GET_REGS),
	IOCTL(KVM_GET_SREGS),
	IOCTL(KVM_GET_XSAVE),
	IOCTL(KVM_GET_XSAVE2),
	IOCTL(KVM_GET_FPU),
	IOCTL(KVM_GET_XCRS),
	IOCTL(KVM_GET_LAPIC),
	IOCTL(KVM_GET_MSRS),
	IOCTL(KVM_GET_MSR_INDEX_LIST),
	IOCTL(KVM_CHECK_EXTENSION),
	IOCTL(KVM_GET_VCPU_EVENTS),
	IOCTL(KVM_GET_DEBUGREGS),
	IOCTL(KVM_GET_MP_STATE),
	IOCTL(KVM_GET_TSC_KHZ),
	IOCTL(KVM_GET_CLOCK),
	IOCTL(KVM_GET_IRQCHIP),
	IOCTL(KVM_GET_PIT2),
	IOCTL(KVM_GET_DIRTY_LOG),
	END,
};

static const struct rule signal_rules[] = {
	ALLOW(rt_sigtimedwait),
	END,
};

/* A thread in poll() on eventfds, timerfds or the console. */
static const struct rule poll_rules[] = {
	ALLOW(poll),
	ALLOW(read),
	END,
};

static const struct rule timer_rules[] = {
	ALLOW(timerfd_settime),
	END,
};

static const struct rule worker_rules[] = {
	ALLOW(epoll_wait),
	ALLOW(read),
	END,
};

static const struct rule tap_rules[] = {
	ALLOW(readv),
	ALLOW(writev),
	END,
};

static const struct rule file_blk_rules[] = {
	/* reads, writes, flushes, discards and write-zeroes (FALLOCATE) */
	ALLOW(io_uring_enter),
	/* write-zeroes where the file system cannot zero a range */
	ALLOW(pwrite64),
	/* io=map: whether the page cache holds a chunk of the image */
	ALLOW(mincore),
	/* a lone read or write (src/vdpa/blk/file.c) */
	ALLOW(pread64),
	ALLOW(preadv),
	ALLOW(pwritev),
	END,
};

static const struct rule console_rules[] = {
	ALLOW(readv),
	/* the input at EOF (console.c) */
	ALLOW(epoll_ctl),
	ALLOW(close),
	END,
};

static const struct rule rng_rules[] = {
	ALLOW(getrandom),
	END,
};

/*
 * virtio-vsock (src/vdpa/vsock.c): the host connections it accepts on its
 * listener, and those it makes when the guest connects (a Unix stream
 * socket, non-blocking, made only in that form), in its own epoll set.
 */
static const struct rule vsock_rules[] = {
	ALLOW2(socket, SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
	       SCMP_A1(SCMP_CMP_EQ, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)),
	ALLOW(connect),
	ALLOW1(accept4, SCMP_A3(SCMP_CMP_EQ, SOCK_NONBLOCK | SOCK_CLOEXEC)),
	ALLOW(readv),
	ALLOW(recvfrom),
	ALLOW(sendmsg),
	ALLOW(shutdown),
	/* at a host EOF: did the peer close, or only stop sending? */
	ALLOW(poll),
	ALLOW(epoll_ctl),
	ALLOW(close),
	END,
};

/* Guest pages given back: shared RAM with MADV_REMOVE (MADV_DONTNEED is everyone's). */
static const struct rule balloon_rules[] = {
	ALLOW1(madvise, SCMP_A2(SCMP_CMP_EQ, MADV_REMOVE)),
	END,
};

static const struct rule vhost_user_rules[] = {
	ALLOW(epoll_wait),
	/* the rest of a message a peer trickles, with a deadline (server.c) */
	ALLOW(poll),
	ALLOW(epoll_ctl),
	ALLOW(accept4),
	ALLOW(setsockopt),
	ALLOW(recvmsg),
	ALLOW(recvfrom),
	ALLOW(sendmsg),
	ALLOW(read),
	ALLOW(close),
	FSTAT,
	/* the front-end's memory: its memfd's seals, shared, never executable */
	ALLOW1(fcntl, SCMP_A1(SCMP_CMP_EQ, F_GET_SEALS)),
	NO_EXEC(mmap),
	ALLOW(munmap),
	/* the inflight region: made sealed (GET_INFLIGHT_FD), read back (SET_) */
	ALLOW(memfd_create),
	ALLOW(ftruncate),
	ALLOW1(fcntl, SCMP_A1(SCMP_CMP_EQ, F_ADD_SEALS)),
	ALLOW(pread64),
	/* SIGINT/SIGTERM stop the loop (cmd.c); the socket is removed if it
	 * is still this server's (lstat(), server.c) */
	ALLOW(rt_sigreturn),
	ALLOW1(newfstatat, SCMP_A3(SCMP_CMP_EQ, AT_SYMLINK_NOFOLLOW)),
	ALLOW(unlink),
	ALLOW(exit_group),
	END,
};

/*
 * Sealing (docs/protected.md): once a protected guest is set up, no thread
 * may read or set its vCPUs' state, add a vCPU or change its memory slots.
 * A kind whose list holds any of these also gets sealed programs: the same
 * list without them, which seccomp_seal() makes every later thread take.
 */
static const unsigned long sealed_ioctls[] = {
	KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS,
	KVM_GET_FPU, KVM_SET_FPU, KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_SET_XSAVE,
	KVM_GET_XCRS, KVM_SET_XCRS, KVM_GET_MSRS, KVM_SET_MSRS,
	KVM_GET_LAPIC, KVM_SET_LAPIC, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS,
	KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_MP_STATE, KVM_SET_MP_STATE,
	KVM_GET_NESTED_STATE, KVM_SET_NESTED_STATE, KVM_TRANSLATE, KVM_SET_GUEST_DEBUG,
	KVM_CREATE_VCPU, KVM_SET_CPUID2,
	KVM_SET_USER_MEMORY_REGION, KVM_SET_USER_MEMORY_REGION2, KVM_GET_DIRTY_LOG,
};

/* Is @r an ioctl a sealed thread may not make? */
static bool rule_sealed(const struct rule *r)
{
	if (strcmp(r->name, "ioctl") || r->nargs != 1 || r->arg[0].arg != 1)
		return false;
	for (unsigned int i = 0; i < ARRAY_SIZE(sealed_ioctls); i++)
		if (r->arg[0].datum_b == (unsigned int)sealed_ioctls[i])
			return true;
	return false;
}

/**
 * struct kind - one thread kind's list
 * @groups: rule tables, each up to an END
 */
struct kind {
	const struct rule *groups[16];
};

static const struct kind kinds[SECCOMP_THREAD_NR] = {
	/*
	 * The threads the VMM thread starts while the guest runs (hot-plugged
	 * vCPUs, the RTC, ACPI PM and relay threads) inherit its filter and
	 * stack their own on it: its list holds all of theirs.
	 */
	[SECCOMP_THREAD_VMM] = { { thread_rules, malloc_rules, spawn_rules, kick_rules,
				   tap_offload_rules,
				   irq_rules, vcpu_create_rules, teardown_rules, vmm_rules,
				   vcpu_rules, kickfd_rules, poll_rules, timer_rules,
				   vcpu_reset_rules, worker_rules } },
	[SECCOMP_THREAD_CONTROL] = { { thread_rules, malloc_rules, kick_rules, irq_rules,
				       tap_offload_rules,
				       poll_rules, teardown_rules, control_rules, snapshot_rules } },
	/* the RTC and PM timers are reprogrammed by register writes */
	/* KVM_RUN last: libseccomp tests the argument values added last first */
	[SECCOMP_THREAD_VCPU] = { { thread_rules, malloc_rules, kick_rules, irq_rules,
				    timer_rules, kickfd_rules, tap_offload_rules, vcpu_rules } },
	[SECCOMP_THREAD_API] = { { thread_rules, malloc_rules, api_rules } },
	[SECCOMP_THREAD_SIGNAL] = { { thread_rules, malloc_rules, kick_rules, irq_rules,
				      signal_rules, snapshot_rules } },
	[SECCOMP_THREAD_SERIAL] = { { thread_rules, irq_rules, poll_rules } },
	[SECCOMP_THREAD_RTC] = { { thread_rules, irq_rules, poll_rules, timer_rules } },
	/* S3: vm_sleep() kicks the vCPUs, vm_wake() resets them */
	[SECCOMP_THREAD_ACPI_PM] = { { thread_rules, malloc_rules, kick_rules, irq_rules,
				       poll_rules, timer_rules, vcpu_reset_rules } },
	[SECCOMP_THREAD_RELAY] = { { thread_rules, worker_rules } },
	/* timer_rules: the rate limiter's throttle timer (swdev_wake_at()) */
	[SECCOMP_THREAD_DEV_SIM] = { { thread_rules, malloc_rules, worker_rules, timer_rules,
				       intx_rules } },
	[SECCOMP_THREAD_DEV_TAP] = { { thread_rules, malloc_rules, worker_rules, tap_rules,
				       tap_offload_rules, timer_rules, intx_rules } },
	[SECCOMP_THREAD_DEV_FILE_BLK] = { { thread_rules, malloc_rules, worker_rules,
					    file_blk_rules, timer_rules, intx_rules } },
	[SECCOMP_THREAD_DEV_CONSOLE] = { { thread_rules, malloc_rules, worker_rules,
					   console_rules, intx_rules } },
	[SECCOMP_THREAD_DEV_RNG] = { { thread_rules, malloc_rules, worker_rules,
				       rng_rules, intx_rules } },
	/* timer_rules: the statistics timer, armed by the worker */
	[SECCOMP_THREAD_DEV_BALLOON] = { { thread_rules, malloc_rules, worker_rules,
					   timer_rules, balloon_rules, intx_rules } },
	/* timer_rules: the deadline of connections waiting for a line or the guest */
	[SECCOMP_THREAD_DEV_VSOCK] = { { thread_rules, malloc_rules, worker_rules,
					 vsock_rules, timer_rules, intx_rules } },
	[SECCOMP_THREAD_VHOST_USER] = { { thread_rules, malloc_rules, kickfd_rules,
					  tap_offload_rules,
					  vhost_user_rules } },
};

static void die(const char *what, int err)
{
	fprintf(stderr, "seccomp-gen: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* The distinct syscalls of @k, in first-seen order: its allow-list. */
static unsigned int kind_syscalls(const struct kind *k, const char **names,
				  unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int g = 0; g < ARRAY_SIZE(k->groups) && k->groups[g]; g++) {
		for (const struct rule *r = k->groups[g]; r->name; r++) {
			unsigned int i;

			for (i = 0; i < n && strcmp(names[i], r->name); i++)
				;
			if (i == n && n < max)
				names[n++] = r->name;
		}
	}
	return n;
}

/*
 * libseccomp rejects a rule that is a subset of one already there (the
 * unconditional one wins); add the unconditional rules first, then skip
 * conditional ones their syscall already has.
 */
static void kind_add_rules(scmp_filter_ctx ctx, const struct kind *k, bool sealed)
{
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned int g = 0; g < ARRAY_SIZE(k->groups) && k->groups[g]; g++) {
			for (const struct rule *r = k->groups[g]; r->name; r++) {
				int nr = seccomp_syscall_resolve_name(r->name);
				int ret;

				if (nr == __NR_SCMP_ERROR)
					die(r->name, ENOSYS);
				if ((pass == 0) != (r->nargs == 0) || (sealed && rule_sealed(r)))
					continue;
				ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, r->nargs,
							     r->arg);
				if (ret && ret != -EEXIST)
					die(r->name, ret);
			}
		}
	}
}

/*
 * The syscalls threads make per guest exit, per request or per kick are
 * tested first (libseccomp orders by this hint): KVM_RUN's ioctl above all.
 */
static const struct {
	const char *name;
	uint8_t prio;
} hot[] = {
	{ "ioctl", 255 }, { "epoll_wait", 250 }, { "futex", 240 }, { "read", 230 },
	{ "write", 230 }, { "readv", 220 }, { "writev", 220 }, { "io_uring_enter", 220 },
	{ "poll", 210 }, { "recvfrom", 200 }, { "recvmsg", 200 },
};

static void kind_set_priorities(scmp_filter_ctx ctx, const struct kind *k)
{
	const char *names[128];
	unsigned int n = kind_syscalls(k, names, ARRAY_SIZE(names));

	for (unsigned int h = 0; h < ARRAY_SIZE(hot); h++) {
		for (unsigned int i = 0; i < n; i++) {
			int ret;

			if (strcmp(names[i], hot[h].name))
				continue;
			ret = seccomp_syscall_priority(ctx, seccomp_syscall_resolve_name(names[i]),
						       hot[h].prio);
			if (ret)
				die(names[i], ret);
		}
	}
}

/* Does @k allow anything sealing takes away? */
static bool kind_has_sealed(const struct kind *k)
{
	for (unsigned int g = 0; g < ARRAY_SIZE(k->groups) && k->groups[g]; g++)
		for (const struct rule *r = k->groups[g]; r->name; r++)
			if (rule_sealed(r))
				return true;
	return false;
}

/*
 * Emit the BPF of @k (without the sealed ioctls if @sealed) with
 * @def_action as "name[]" and return its length.
 */
static size_t emit_prog(const struct kind *k, bool sealed, uint32_t def_action,
			const char *name)
{
	scmp_filter_ctx ctx = seccomp_init(def_action);
	struct sock_filter insn;
	FILE *tmp = tmpfile();
	size_t n = 0;
	int ret;

	if (!ctx || !tmp)
		die("init", ENOMEM);
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* a binary tree of syscall numbers: fewer tests per syscall */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (ret)
		die("attributes", ret);
	kind_add_rules(ctx, k, sealed);
	kind_set_priorities(ctx, k);
	ret = seccomp_export_bpf(ctx, fileno(tmp));
	if (ret)
		die("export", ret);
	rewind(tmp);
	printf("static const struct sock_filter %s[] = {\n", name);
	while (fread(&insn, sizeof(insn), 1, tmp) == 1) {
		printf("\t{ 0x%04x, %u, %u, 0x%08x },\n", insn.code, insn.jt, insn.jf, insn.k);
		n++;
	}
	printf("};\n\n");
	fclose(tmp);
	seccomp_release(ctx);
	return n;
}

int main(void)
{
	static const char *const prog_names[4] = { "kill", "log", "sealed_kill", "sealed_log" };
	size_t len[SECCOMP_THREAD_NR][4] = { { 0 } };
	char name[64];

	printf("/* Generated by src/sandbox/seccomp-gen.c: do not edit. */\n");
	/*
	 * kill, log, and where sealing changes the list, both sealed; every
	 * kind's kill program first, together: those are the ones a default
	 * run reads (peak RSS counts 64 KiB blocks, docs/design.md)
	 */
	for (unsigned int p = 0; p < 4; p++) {
		for (unsigned int t = 0; t < SECCOMP_THREAD_NR; t++) {
			if (p >= 2 && !kind_has_sealed(&kinds[t]))
				continue;
			snprintf(name, sizeof(name), "prog_%s_%u", prog_names[p], t);
			len[t][p] = emit_prog(&kinds[t], p >= 2,
					      p & 1 ? SCMP_ACT_LOG : SCMP_ACT_TRAP, name);
		}
	}
	printf("const struct seccomp_list seccomp_lists[SECCOMP_THREAD_NR] = {\n");
	for (unsigned int t = 0; t < SECCOMP_THREAD_NR; t++) {
		const char *names[128];
		unsigned int n = kind_syscalls(&kinds[t], names, ARRAY_SIZE(names));

		printf("\t[%u] = {\n", t);
		for (unsigned int p = 0; p < 4; p++)
			if (len[t][p])
				printf("\t\t.%s = { %zu, (struct sock_filter *)prog_%s_%u },\n",
				       prog_names[p], len[t][p], prog_names[p], t);
		printf("\t\t.nr_syscalls = %u,\n\t\t.syscalls =", n);
		for (unsigned int i = 0; i < n; i++)
			printf(" \"%s%s\"", names[i], i + 1 < n ? " " : "");
		printf(",\n\t},\n");
	}
	printf("};\n\n");

	/* Names for the SIGSYS handler, which may not allocate. */
	printf("const char *const seccomp_syscall_names[SECCOMP_SYSCALL_NAMES] = {\n");
	for (int nr = 0; nr < 512; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (s)
			printf("\t[%d] = \"%s\",\n", nr, s);
		free(s);
	}
	printf("};\n");
	return 0;
}
