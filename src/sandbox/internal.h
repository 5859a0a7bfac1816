/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to src/sandbox: the tables seccomp-gen writes at build time
 * ($(B)/gen/seccomp-filters.inc, #included by seccomp.c) and seccomp.c installs.
 */
#ifndef KESTREL_SANDBOX_INTERNAL_H
#define KESTREL_SANDBOX_INTERNAL_H

#include <linux/filter.h>

#include <kestrel/sandbox.h>

#define SECCOMP_SYSCALL_NAMES	512

/**
 * struct seccomp_list - one thread kind's filter
 * @kill: the program of SECCOMP_MODE_KILL (default SECCOMP_RET_TRAP)
 * @log: the program of SECCOMP_MODE_LOG (default SECCOMP_RET_LOG)
 * @sealed_kill: @kill without the ioctls sealing forbids; empty (len 0)
 *	for a kind that has none of them
 * @sealed_log: the same for @log
 * @nr_syscalls: how many syscalls the list allows (with or without
 *	argument checks)
 * @syscalls: their names, separated by spaces
 */
struct seccomp_list {
	struct sock_fprog kill;
	struct sock_fprog log;
	struct sock_fprog sealed_kill;
	struct sock_fprog sealed_log;
	unsigned int nr_syscalls;
	const char *syscalls;
};

extern const struct seccomp_list seccomp_lists[SECCOMP_THREAD_NR];
/* Indexed by x86_64 syscall number; NULL where there is none. */
extern const char *const seccomp_syscall_names[SECCOMP_SYSCALL_NAMES];

#endif /* KESTREL_SANDBOX_INTERNAL_H */
