// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-thread seccomp filters (include/kestrel/sandbox.h, docs/sandbox.md).
 *
 * The programs were compiled at build time (seccomp-gen.c); a thread
 * installs its kind's with seccomp(SECCOMP_SET_MODE_FILTER) and no TSYNC,
 * so it binds that thread and the threads it creates afterwards, nobody
 * else. The order that makes this work is in docs/sandbox.md.
 *
 * SECCOMP_MODE_KILL: a syscall outside the list traps (SIGSYS). The
 * handler writes one line naming the thread and the syscall, then issues
 * the same syscall again: SIGSYS is blocked inside its own handler, and a
 * seccomp trap on a blocked SIGSYS is delivered with the default action,
 * so the kernel kills the whole process with SIGSYS. Only write() and the
 * faulting syscall itself run in the handler, both async-signal-safe.
 */
#include <kestrel/sandbox.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <linux/seccomp.h>

#include <kestrel/compiler.h>
#include <kestrel/vm.h>

#include "internal.h"

/* The programs and tables, written by seccomp-gen at build time. */
#include "seccomp-filters.inc"

static const char *const kind_names[SECCOMP_THREAD_NR] = {
	[SECCOMP_THREAD_VMM] = "vmm",
	[SECCOMP_THREAD_CONTROL] = "control",
	[SECCOMP_THREAD_VCPU] = "vcpu",
	[SECCOMP_THREAD_API] = "api",
	[SECCOMP_THREAD_SIGNAL] = "signal",
	[SECCOMP_THREAD_SERIAL] = "serial",
	[SECCOMP_THREAD_RTC] = "rtc",
	[SECCOMP_THREAD_ACPI_PM] = "acpi-pm",
	[SECCOMP_THREAD_RELAY] = "relay",
	[SECCOMP_THREAD_DEV_SIM] = "dev-sim",
	[SECCOMP_THREAD_DEV_TAP] = "dev-tap",
	[SECCOMP_THREAD_DEV_FILE_BLK] = "dev-file-blk",
	[SECCOMP_THREAD_DEV_CONSOLE] = "dev-console",
	[SECCOMP_THREAD_DEV_RNG] = "dev-rng",
	[SECCOMP_THREAD_DEV_BALLOON] = "dev-balloon",
	[SECCOMP_THREAD_DEV_VSOCK] = "dev-vsock",
	[SECCOMP_THREAD_VHOST_USER] = "vhost-user",
};

/* Set on the main thread before any other thread exists, then read-only. */
static enum seccomp_mode seccomp_mode = SECCOMP_MODE_OFF;

/* seccomp_seal() was called: later threads take the sealed programs. */
static bool seccomp_is_sealed;
/* Kinds with a sealed program that took the unsealed one (bit per kind). */
static unsigned int unsealed_entered;

/* What the SIGSYS handler says about the thread it runs on. */
static __thread int thread_kind = -1;
static __thread char thread_comm[16];
static __thread pid_t thread_tid;

const char *seccomp_thread_name(enum seccomp_thread kind)
{
	return kind < SECCOMP_THREAD_NR ? kind_names[kind] : "?";
}

int seccomp_parse_mode(const char *s, enum seccomp_mode *mode)
{
	static const char *const names[] = {
		[SECCOMP_MODE_OFF] = "off", [SECCOMP_MODE_LOG] = "log",
		[SECCOMP_MODE_KILL] = "kill",
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*mode = (enum seccomp_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- the SIGSYS handler (async-signal-safe) --------------------------------- */

struct line {
	char buf[256];
	size_t len;
};

static void line_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void line_uint(struct line *l, unsigned long v)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = d[--n];
}

static void line_hex(struct line *l, unsigned long v)
{
	char d[16];
	int n = 0;

	do {
		d[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	line_str(l, "0x");
	while (n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = d[--n];
}

static void seccomp_sigsys(int sig, siginfo_t *si, void *ucv)
{
	const ucontext_t *uc = ucv;
	const greg_t *r = uc->uc_mcontext.gregs;
	int nr = si->si_syscall;
	struct line l = { .len = 0 };

	line_str(&l, "kestrel: seccomp: thread ");
	line_str(&l, thread_comm[0] ? thread_comm : "?");
	line_str(&l, " (kind ");
	line_str(&l, thread_kind >= 0 ? kind_names[thread_kind] : "?");
	line_str(&l, ", tid ");
	line_uint(&l, (unsigned long)thread_tid);
	line_str(&l, ") made syscall ");
	line_str(&l, nr >= 0 && nr < SECCOMP_SYSCALL_NAMES && seccomp_syscall_names[nr] ?
		 seccomp_syscall_names[nr] : "?");
	line_str(&l, " (");
	line_uint(&l, (unsigned long)nr);
	/* The argument the lists check most, and the most telling. */
	if (nr == SYS_ioctl) {
		line_str(&l, ", request ");
		line_hex(&l, (unsigned long)r[REG_RSI] & 0xffffffffu);
	} else if (nr == SYS_mmap || nr == SYS_mprotect) {
		line_str(&l, ", prot ");
		line_hex(&l, (unsigned long)r[REG_RDX]);
	}
	line_str(&l, "), not on its list: killing the process\n");
	if (write(STDERR_FILENO, l.buf, l.len) < 0) {
		/* nowhere else to say it */
	}
	/* Trapped again with SIGSYS blocked: the kernel kills us with SIGSYS. */
	syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
	_exit(128 + SIGSYS);
}

int seccomp_set_mode(enum seccomp_mode mode)
{
	struct sigaction sa = { .sa_sigaction = seccomp_sigsys, .sa_flags = SA_SIGINFO };

	seccomp_mode = mode;
	if (mode == SECCOMP_MODE_OFF)
		return 0;
	/* Unprivileged filters need it; every thread created later inherits it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/*
	 * What libc loads on first use, with syscalls no list allows: the
	 * time zone (the first gmtime_r() or localtime_r() opens
	 * /etc/localtime, the RTC's on a vCPU thread).
	 */
	tzset();
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

enum seccomp_mode seccomp_get_mode(void)
{
	return seccomp_mode;
}

#ifdef KESTREL_TEST_HOOKS
/*
 * Test builds only (build/kestrel-test): KESTREL_SECCOMP_HOOK=KIND
 * makes the first thread of KIND make a syscall outside its list right
 * after its filter is in place: socket(AF_INET), on no list; with
 * KIND:exec, an executable mapping (mmap is allowed, PROT_EXEC is not);
 * with KIND:getregs, KVM_GET_REGS (on fd -1: the filter judges the request
 * alone; where it lets the call through, the kernel answers EBADF).
 * Exactly one thread does it, so the log names that one.
 */
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <linux/kvm.h>

static void seccomp_test_hook(enum seccomp_thread kind)
{
	static int fired;
	const char *h = getenv("KESTREL_SECCOMP_HOOK");
	size_t n = strlen(kind_names[kind]);

	if (!h || strncmp(h, kind_names[kind], n) || (h[n] && h[n] != ':'))
		return;
	if (__atomic_exchange_n(&fired, 1, __ATOMIC_SEQ_CST))
		return;
	if (!strcmp(h + n, ":exec")) {
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else if (!strcmp(h + n, ":getregs")) {
		struct kvm_regs regs;
		int ret = ioctl(-1, KVM_GET_REGS, &regs);

		fprintf(stderr, "test-hook: %s thread: KVM_GET_REGS: %s\n", kind_names[kind],
			ret < 0 ? strerror(errno) : "ok");
	} else {
		socket(AF_INET, SOCK_STREAM, 0);
	}
}
#else
static inline void seccomp_test_hook(enum seccomp_thread kind)
{
}
#endif

void seccomp_thread_enter(enum seccomp_thread kind)
{
	const struct seccomp_list *list = &seccomp_lists[kind];
	const struct sock_fprog *prog;

	if (seccomp_mode == SECCOMP_MODE_OFF)
		return;
	prog = seccomp_mode == SECCOMP_MODE_KILL ? &list->kill : &list->log;
	if (list->sealed_kill.len) {
		if (__atomic_load_n(&seccomp_is_sealed, __ATOMIC_ACQUIRE))
			prog = seccomp_mode == SECCOMP_MODE_KILL ? &list->sealed_kill :
								  &list->sealed_log;
		else
			__atomic_or_fetch(&unsealed_entered, 1u << kind, __ATOMIC_SEQ_CST);
	}
	thread_kind = (int)kind;
	thread_tid = gettid();
	prctl(PR_GET_NAME, thread_comm, 0, 0, 0);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0) {
		fprintf(stderr, "kestrel: seccomp: cannot install the %s thread's filter: %s\n",
			kind_names[kind], strerror(errno));
		_exit(VM_EXIT_HOST_ERROR);
	}
	seccomp_test_hook(kind);
}

int seccomp_seal(void)
{
	unsigned int entered;

	__atomic_store_n(&seccomp_is_sealed, true, __ATOMIC_SEQ_CST);
	entered = __atomic_load_n(&unsealed_entered, __ATOMIC_SEQ_CST);
	if (seccomp_mode != SECCOMP_MODE_OFF && entered) {
		fprintf(stderr, "kestrel: seccomp: cannot seal: a %s thread already runs with the unsealed filter\n",
			kind_names[__builtin_ctz(entered)]);
		return -EBUSY;
	}
	return 0;
}

bool seccomp_sealed(void)
{
	return __atomic_load_n(&seccomp_is_sealed, __ATOMIC_ACQUIRE);
}

int seccomp_dump(const char *kind_name)
{
	bool found = false;

	for (unsigned int t = 0; t < SECCOMP_THREAD_NR; t++) {
		if (kind_name && strcmp(kind_name, kind_names[t]))
			continue;
		found = true;
		printf("%-13s %3u syscalls, %3u BPF instructions", kind_names[t],
		       seccomp_lists[t].nr_syscalls, seccomp_lists[t].kill.len);
		if (seccomp_lists[t].sealed_kill.len)
			printf(" (%u sealed)", seccomp_lists[t].sealed_kill.len);
		printf(": %s\n", seccomp_lists[t].syscalls);
	}
	return found ? 0 : -ENOENT;
}
