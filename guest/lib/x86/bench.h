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
#include "bounce.h"
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
#ifndef BENCH_COPIES
#define BENCH_COPIES		100000
#endif

static inline u64 bench_nothing(void *arg)
{
	return 0;
}

struct bench_copy {
	struct bounce_pool *pool;
	void *buf;
	u32 len;
};

/* Ring 3: BENCH_COPIES times @buf into a slot and a slot back into @buf. */
static inline u64 bench_copy_loop(void *arg)
{
	struct bench_copy *c = arg;
	struct virtq_buf out = { c->buf, c->len, false };
	struct bounce_req req;

	bench_span_start();
	for (unsigned int i = 0; i < BENCH_COPIES; i++) {
		if (bounce_stage(c->pool, &req, &out, 1, 0, c->buf))
			return 1;
		bounce_release(c->pool, &req);
		if (bounce_stage(c->pool, &req, &out, 0, 1, c->buf))
			return 1;
		req.used_len = c->len;
		bounce_finish(c->pool, &req);
	}
	bench_span_stop();
	return 0;
}

/*
 * From ring 0, after a benchmark's phases 1..@phase - 1: where a bounced
 * request's time goes, as two more host-timed spans.
 *   phase @phase: BENCH_ROUNDTRIPS empty run_in_user() calls (ring 0 ->
 *	ring 3 -> ring 0), "BENCH-R3 phase=P roundtrips=N";
 *   phase @phase + 1: BENCH_COPIES times @len bytes at @buf through a slot
 *	of @pool and back (both copies and the slot keeping, in ring 3),
 *	"BENCH-COPY phase=P len=L copies=N".
 * Return: false if a slot could not be had.
 */
static inline bool bench_bounce_costs(unsigned int phase, struct bounce_pool *pool,
				      void *buf, u32 len)
{
	struct bench_copy c = { pool, buf, len };

	bench_span_start();
	for (unsigned int i = 0; i < BENCH_ROUNDTRIPS; i++)
		run_in_user(bench_nothing, NULL);
	bench_span_stop();
	printf("BENCH-R3 phase=%u roundtrips=%u\n", phase, BENCH_ROUNDTRIPS);
	if (run_in_user(bench_copy_loop, &c))
		return false;
	printf("BENCH-COPY phase=%u len=%u copies=%u\n", phase + 1, len, BENCH_COPIES);
	return true;
}

#endif /* GUEST_X86_BENCH_H */
