// SPDX-License-Identifier: GPL-2.0-only
/*
 * seccomp-floor: run a program under the smallest filter that still makes
 * the kernel run it on ioctl(): everything allowed, ioctl's request looked
 * at (so the kernel's per-syscall action cache cannot skip it). What
 * bench/seccomp-cost.sh measures exit_floor with, to show what running any
 * argument-checking filter once per exit costs on this host, apart from
 * kestrel's lists.
 *
 *   seccomp-floor PROGRAM [ARGS...]
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (argc < 2) {
		fprintf(stderr, "usage: seccomp-floor PROGRAM [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		perror("seccomp-floor: seccomp");
		return 1;
	}
	execv(argv[1], argv + 1);
	perror("seccomp-floor: exec");
	return 1;
}
