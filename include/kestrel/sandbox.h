/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_SANDBOX_H
#define KESTREL_SANDBOX_H

#include <stdbool.h>

/*
 * The sandbox (docs/sandbox.md): a seccomp filter per thread, installed by
 * each thread on itself once its set-up is done (src/sandbox/seccomp.c).
 * The allow-lists are compiled to BPF at build time
 * (src/sandbox/seccomp-gen.c, with libseccomp); installing one is a
 * single seccomp() call.
 *
 * Every thread kestrel runs has a kind below, and each kind one list.
 */

/**
 * enum seccomp_thread - the kinds of thread, each with its own list
 * @SECCOMP_THREAD_DEV_SIM: the worker of a device with no host resource
 *	(net simulators loop/sink/gen/null, the RAM disk); 0, the default of
 *	a device
 * @SECCOMP_THREAD_VMM: runs the VM (vm_run()): `kestrel run`'s main
 *	thread, and the run thread ("fc_vmm") of the Firecracker mode; it
 *	creates the threads started after set-up (vm_call_vmm())
 * @SECCOMP_THREAD_CONTROL: the Firecracker mode's main thread once the VM
 *	is started: mailbox requests, drive updates, the stop and teardown
 * @SECCOMP_THREAD_VCPU: a vCPU thread
 * @SECCOMP_THREAD_API: the Firecracker mode's HTTP API thread
 * @SECCOMP_THREAD_SIGNAL: `kestrel run`'s signal thread (SIGINT/SIGTERM/SIGPWR)
 * @SECCOMP_THREAD_SERIAL: the 16550 UART's input and flush thread
 * @SECCOMP_THREAD_RTC: the RTC's timer thread
 * @SECCOMP_THREAD_ACPI_PM: the ACPI PM block's timer and S3 thread
 * @SECCOMP_THREAD_RELAY: the virtio-mmio kick relay (devices without
 *	set_vq_kickfd)
 * @SECCOMP_THREAD_DEV_TAP: the worker of a TAP-backed virtio-net
 * @SECCOMP_THREAD_DEV_FILE_BLK: the worker of a file-backed virtio-blk
 *	(io_uring)
 * @SECCOMP_THREAD_DEV_CONSOLE: the virtio-console worker (stdin/stdout)
 * @SECCOMP_THREAD_DEV_RNG: the virtio-rng worker (getrandom())
 * @SECCOMP_THREAD_DEV_BALLOON: the virtio-balloon worker (releases guest
 *	RAM with madvise(), the statistics timer)
 * @SECCOMP_THREAD_DEV_VSOCK: the virtio-vsock worker (its Unix sockets)
 * @SECCOMP_THREAD_VHOST_USER: `kestrel vhost-user`'s server thread
 * @SECCOMP_THREAD_NR: the number of kinds
 */
enum seccomp_thread {
	SECCOMP_THREAD_DEV_SIM,
	SECCOMP_THREAD_VMM,
	SECCOMP_THREAD_CONTROL,
	SECCOMP_THREAD_VCPU,
	SECCOMP_THREAD_API,
	SECCOMP_THREAD_SIGNAL,
	SECCOMP_THREAD_SERIAL,
	SECCOMP_THREAD_RTC,
	SECCOMP_THREAD_ACPI_PM,
	SECCOMP_THREAD_RELAY,
	SECCOMP_THREAD_DEV_TAP,
	SECCOMP_THREAD_DEV_FILE_BLK,
	SECCOMP_THREAD_DEV_CONSOLE,
	SECCOMP_THREAD_DEV_RNG,
	SECCOMP_THREAD_DEV_BALLOON,
	SECCOMP_THREAD_DEV_VSOCK,
	SECCOMP_THREAD_VHOST_USER,
	SECCOMP_THREAD_NR,
};

/**
 * enum seccomp_mode - what a syscall outside a thread's list does
 * @SECCOMP_MODE_OFF: no filter is installed
 * @SECCOMP_MODE_LOG: filters installed; the syscall runs and the kernel
 *	logs it (SECCOMP_RET_LOG: the audit log, `dmesg`)
 * @SECCOMP_MODE_KILL: filters installed; the thread logs its kind, name
 *	and the syscall on stderr and the process dies of SIGSYS
 */
enum seccomp_mode {
	SECCOMP_MODE_OFF,
	SECCOMP_MODE_LOG,
	SECCOMP_MODE_KILL,
};

/**
 * seccomp_parse_mode() - "off", "log" or "kill" into @mode
 * @s: the option's value (untrusted)
 * @mode: the result
 *
 * Return: 0, or -EINVAL for anything else.
 */
int seccomp_parse_mode(const char *s, enum seccomp_mode *mode);

/**
 * seccomp_set_mode() - the mode of every filter installed from now on
 * @mode: the mode; the library's default is SECCOMP_MODE_OFF (tests and
 *	benchmarks that build VMs in-process install nothing), kestrel's
 *	commands default to SECCOMP_MODE_KILL
 *
 * Call it on the main thread before any thread is created. A mode other
 * than off also sets no_new_privs on the calling thread (threads created
 * afterwards inherit it), which an unprivileged seccomp filter needs.
 *
 * Return: 0, or the negative errno of prctl(PR_SET_NO_NEW_PRIVS).
 */
int seccomp_set_mode(enum seccomp_mode mode);

/** seccomp_get_mode() - the mode seccomp_set_mode() set */
enum seccomp_mode seccomp_get_mode(void);

/**
 * seccomp_thread_enter() - install the filter of @kind on the calling thread
 * @kind: what the thread is
 *
 * Called by each thread once its set-up is done, before it handles its
 * first guest exit, request or peer message. Does nothing in
 * SECCOMP_MODE_OFF. A thread that cannot install its filter does not run
 * unconfined: the process exits with VM_EXIT_HOST_ERROR after one line
 * on stderr.
 */
void seccomp_thread_enter(enum seccomp_thread kind);

/**
 * seccomp_seal() - every filter installed from now on is a sealed one
 *
 * For a protected guest (docs/protected.md), called once its machine is
 * built and before any thread that could touch its state takes a filter:
 * from then on seccomp_thread_enter() installs each kind's list without
 * the ioctls that read or set vCPU state (registers, special registers,
 * FPU/XSAVE, MSRs, LAPIC, debug registers, events, MP and nested state,
 * KVM_TRANSLATE), create a vCPU or change memory slots. A thread that
 * tries one anyway dies of SIGSYS (SECCOMP_MODE_KILL). Threads that took
 * their filter earlier keep it, so sealing after a thread whose list has
 * those ioctls is refused. Also recorded in SECCOMP_MODE_OFF (nothing is
 * enforced then).
 *
 * Return: 0, or -EBUSY if a thread of such a kind already took an
 * unsealed filter.
 */
int seccomp_seal(void);

/** seccomp_sealed() - whether seccomp_seal() was called */
bool seccomp_sealed(void);

/**
 * seccomp_thread_name() - the name of @kind, as logs and docs give it
 * @kind: a kind below SECCOMP_THREAD_NR
 *
 * Return: a static string ("vcpu", "dev-file-blk", ...).
 */
const char *seccomp_thread_name(enum seccomp_thread kind);

/**
 * seccomp_dump() - print each kind's allow-list and its size on stdout
 * @kind_name: only this kind, or NULL for all
 *
 * Return: 0, or -ENOENT if @kind_name names no kind.
 */
int seccomp_dump(const char *kind_name);

#endif /* KESTREL_SANDBOX_H */
