// SPDX-License-Identifier: GPL-2.0-only
/*
 * A guest for snapshot tests (scripts/snapshot-test.sh): counts from 0 to
 * COUNT_END, printing "count N" per step, one step per tick of a periodic
 * LAPIC timer it halts for (a restored guest whose timer no longer fires
 * hangs, and the test times out), with the count kept both in a register
 * (the loop variable) and in memory, and checks at every step that the two
 * agree, that the TSC never went backwards and, every PONG_EVERY steps,
 * that the PONG device still answers a ping. Snapshotted
 * in the middle and restored in a new kestrel, it must carry on exactly
 * where it stopped: the host joins both consoles and checks 0..COUNT_END
 * appear once each, in order.
 */
#include "guest.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/pong.h"
#include "x86/processor.h"

#define COUNT_END	300
#define PONG_EVERY	50
#define TIMER_VEC	0x40
#define TIMER_PERIOD	5000000		/* APIC bus ticks (1 GHz on KVM): 5 ms */

static volatile u64 mem_count;
static volatile u32 ticks;

static void timer_handler(struct ex_regs *regs)
{
	ticks++;
}

/* Halt until the next timer tick. */
static void wait_tick(void)
{
	u32 t = ticks;

	while (ticks == t)
		safe_halt();
	irq_disable();
}

int main(void)
{
	u16 pong = pong_probe();
	u64 last_tsc = rdtsc();
	unsigned int bad = 0;

	if (!pong) {
		printf("FAIL: no PONG device\n");
		guest_exit(1);
	}
	outb(pong + PONG_REG_CTRL, PONG_CTRL_ENABLE);
	handle_irq(TIMER_VEC, timer_handler);
	apic_write(APIC_TDCR, 0xb);			/* divide by 1 */
	apic_write(APIC_LVT_TIMER, TIMER_VEC | APIC_TIMER_PERIODIC);
	apic_write(APIC_TMICT, TIMER_PERIOD);
	for (u64 n = 0; n <= COUNT_END; n++) {
		u64 tsc;

		if (mem_count != n) {
			printf("FAIL: count %llu in a register, %llu in memory\n",
			       (unsigned long long)n, (unsigned long long)mem_count);
			guest_exit(1);
		}
		printf("count %llu\n", (unsigned long long)n);
		wait_tick();
		tsc = rdtsc();
		if (tsc < last_tsc) {
			printf("FAIL: the TSC went back from %llu to %llu\n",
			       (unsigned long long)last_tsc, (unsigned long long)tsc);
			bad++;
		}
		last_tsc = tsc;
		if (n % PONG_EVERY == 0) {
			u32 ans = 0;

			if (pong_ping(pong, (u32)n, &ans) || ans != (u32)n + 1) {
				printf("FAIL: PONG ping %llu answered %u\n", (unsigned long long)n, ans);
				bad++;
			}
		}
		mem_count = n + 1;
	}
	printf("count done%s\n", bad ? " with failures" : "");
	guest_exit(bad ? 1 : 0);
}
