// SPDX-License-Identifier: GPL-2.0-only
#include "x86/usermode.h"
#include "x86/desc.h"
#include "x86/smp.h"

extern char ustacks[];
u64 __run_in_user(u64 (*fn)(void *), void *arg, u64 user_rsp, u64 *rsp0,
		  unsigned int cpu);

u64 run_in_user(u64 (*fn)(void *), void *arg)
{
	unsigned int cpu = smp_id();
	u64 top = (u64)ustacks + (u64)(cpu + 1) * USTACK_SIZE;

	return __run_in_user(fn, arg, top, tss_rsp0_slot(cpu), cpu);
}
