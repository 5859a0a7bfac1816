/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_BENCH_H
#define GUEST_X86_BENCH_H

/*
 * Helpers for benchmark guests whose hot loop runs in ring 3 (native on
 * PVM hosts). Everything here is a plain MMIO access, so it works at any
 * CPL:
 *
 *  - the host times a span: bench_span_start() / bench_span_stop() write
 *    the bench-sink START / STOP registers of the boot-timer page, and
 *    kestrel logs "bench-sink: EXIT-COST-MARKER exits=1 ns_per_exit=T"
 *    with T the span in ns (no SINK writes in between, so N = 1);
 *  - the guest keeps a coarse deadline from the LAPIC timer, which counts
 *    down at 1 GHz on KVM: bench_clock_arm() starts a masked one-shot
 *    count of 2^32 - 1 ns (4.29 s, no interrupt), bench_clock_ms() reads
 *    the milliseconds since (one in-kernel exit per read: call it every
 *    few hundred operations, not every one).
 */
#include "guest.h"
#include "x86/apic.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#include <kestrel/hw.h>
#include <kestrel/x86/layout.h>

#define BENCH_SINK(reg)		(X86_BOOT_TIMER_GPA + (reg))
#define BENCH_CLOCK_MAX_MS	4294u

static inline void bench_span_start(void)
{
	mmio_write32(BENCH_SINK(BOOTTIMER_REG_START), 1);
}

static inline void bench_span_stop(void)
{
	mmio_write32(BENCH_SINK(BOOTTIMER_REG_STOP), 1);
}

static inline void bench_clock_arm(void)
{
	mmio_write32(APIC_BASE + APIC_TMICT, 0);
	mmio_write32(APIC_BASE + APIC_TDCR, 0xb);		/* divide by 1 */
	mmio_write32(APIC_BASE + APIC_LVT_TIMER, APIC_LVT_MASKED);
	mmio_write32(APIC_BASE + APIC_TMICT, 0xffffffffu);
}

/* Milliseconds since bench_clock_arm(); BENCH_CLOCK_MAX_MS once it ran out. */
static inline u32 bench_clock_ms(void)
{
	return (0xffffffffu - mmio_read32(APIC_BASE + APIC_TMCCT)) / 1000000u;
}

#ifndef BENCH_ROUNDTRIPS
#define BENCH_ROUNDTRIPS	1000
#endif

static inline u64 bench_nothing(void *arg)
{
	return 0;
}

/*
 * From ring 0: one host-timed span of BENCH_ROUNDTRIPS empty
 * run_in_user() calls (ring 0 -> ring 3 -> ring 0), then
 * "BENCH-R3 roundtrips=N" on the console.
 */
static inline void bench_roundtrips(void)
{
	bench_span_start();
	for (unsigned int i = 0; i < BENCH_ROUNDTRIPS; i++)
		run_in_user(bench_nothing, NULL);
	bench_span_stop();
	printf("BENCH-R3 roundtrips=%u\n", BENCH_ROUNDTRIPS);
}

#endif /* GUEST_X86_BENCH_H */
