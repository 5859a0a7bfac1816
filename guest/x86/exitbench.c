// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exit-cost benchmark guest (bench/exit-cost.sh): a ring-3 loop of
 * EXITBENCH_N MMIO writes to the bench sink in the boot-timer page. Ring 3
 * because under PVM only user-mode code runs natively (supervisor code is
 * emulated) and port I/O from ring 3 raises #GP, so the loop uses MMIO.
 *
 * kestrel times the loop itself (BOOTTIMER_REG_START .. _STOP) and logs
 * "bench-sink: EXIT-COST-MARKER exits=N ns_per_exit=X" on stderr; the
 * guest only checks that every write reached the device, which also makes
 * this a (fast) test of the sink registers.
 */
#include "guest.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#include <kestrel/hw.h>
#include <kestrel/x86/layout.h>

#ifndef EXITBENCH_N
#define EXITBENCH_N	20000	/* ~0.4 s at PVM's ~20 us per exit */
#endif

#define SINK(reg)	(X86_BOOT_TIMER_GPA + (reg))

static u64 user_sink_loop(void *arg)
{
	u64 n = *(const u64 *)arg;

	mmio_write32(SINK(BOOTTIMER_REG_START), 1);
	for (u64 i = 0; i < n; i++)
		mmio_write32(SINK(BOOTTIMER_REG_SINK), (u32)i);
	/* STOP ends the timed span; the count survives until the next START. */
	mmio_write32(SINK(BOOTTIMER_REG_STOP), 1);
	return mmio_read32(SINK(BOOTTIMER_REG_SINK));
}

int main(void)
{
	u64 n = EXITBENCH_N, got;

	report_prefix_push("exitbench");
	got = run_in_user(user_sink_loop, &n);
	report(got == n, "%lu ring-3 MMIO writes reached the bench sink (%lu counted)",
	       n, got);
	report_prefix_pop();
	return report_summary();
}
