// SPDX-License-Identifier: GPL-2.0-only
/* SMP: every vCPU checks in, runs work on request, and has its own APIC ID. */
#include "guest.h"
#include "x86/apic.h"
#include "x86/processor.h"
#include "x86/smp.h"

static volatile u32 seen_id[MAX_CPUS];
static volatile u32 ran[MAX_CPUS];
static volatile u32 counter;

static void who_am_i(void *arg)
{
	unsigned int cpu = smp_id();

	seen_id[cpu] = apic_id() + 1;
	ran[cpu]++;
	__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
}

int main(void)
{
	unsigned int want = cpu_count_expected(), got, ok = 0;

	report_prefix_push("smp");
	got = smp_init();
	report(got == want, "%u of %u CPUs checked in", got, want);
	for (unsigned int c = 0; c < got; c++)
		on_cpu(c, who_am_i, NULL);
	for (unsigned int c = 0; c < got; c++)
		ok += seen_id[c] == c + 1 && ran[c] == 1;
	report(ok == got, "on_cpu ran once on each CPU, APIC ID = CPU number");
	for (int round = 0; round < 10; round++)
		for (unsigned int c = 1; c < got; c++)
			on_cpu_async(c, who_am_i, NULL);
	for (unsigned int c = 1; c < got; c++)
		on_cpu(c, who_am_i, NULL);	/* waits for the queue behind it */
	report(counter == got + 11 * (got - 1), "async calls all ran (%u)", counter);
	if (want < 2)
		report_skip("only one CPU: run with --cpus 2 or more");
	report_prefix_pop();
	return report_summary();
}
