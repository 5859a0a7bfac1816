/* SPDX-License-Identifier: GPL-2.0-only */
/* Private to src/arch/x86/{machine,launch}.c: the measured launch. */
#ifndef KESTREL_ARCH_X86_LAUNCH_H
#define KESTREL_ARCH_X86_LAUNCH_H

#include <kestrel/machine.h>

struct x86_launch;

/*
 * Fill the boot window from @cfg (payload, command line, initrd, the
 * expected measurement, a sealed image's key), print the measurement and
 * claim the launch port. Before the stub runs. -EINVAL (logged) when the
 * images do not fit.
 */
int x86_launch_prepare(struct vm *vm, const struct machine_config *cfg, struct x86_launch **out);

/*
 * Run the stub on this thread until it says it is done, then zero and
 * remove the window. 0 when the payload is about to start; -ESHUTDOWN
 * when the VM stopped first (the stub's refusal is logged with its exit
 * status); another negative errno on a host error.
 */
int x86_launch_run(struct x86_launch *l);

void x86_launch_destroy(struct x86_launch *l);

#endif /* KESTREL_ARCH_X86_LAUNCH_H */
