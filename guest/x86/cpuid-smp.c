// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every vCPU sees the same CPUID as CPU 0, apart from the fields that name
 * the CPU itself (APIC IDs and topology position) - including a vCPU that
 * kestrel adds while the others run (X86_CPU_HOTPLUG_PORT).
 */
#include "guest.h"
#include "x86/multiboot.h"
#include "x86/processor.h"
#include "x86/smp.h"

#include <kestrel/x86/layout.h>

#define MAX_ENTRIES	512

struct cpuid_entry {
	u32 leaf, subleaf;
	struct cpuid_regs r;
};

struct cpuid_table {
	unsigned int n;
	struct cpuid_entry e[MAX_ENTRIES];
};

static struct cpuid_table bsp_table;
static struct cpuid_table cpu_table[MAX_CPUS];

/* Leaves whose ECX input selects a subleaf, and how many to look at. */
static unsigned int nr_subleaves(u32 leaf)
{
	switch (leaf) {
	case 0x4: case 0x7: case 0xb: case 0xf: case 0x10: case 0x12:
	case 0x14: case 0x17: case 0x18: case 0x1d: case 0x1e: case 0x1f:
	case 0x20: case 0x23: case 0x24: case 0x8000001d: case 0x80000020:
	case 0x80000026:
		return 8;
	case 0xd:
		return 64;
	}
	return 1;
}

/* Clear what legitimately differs per CPU. */
static struct cpuid_regs mask_per_cpu(u32 leaf, u32 sub, struct cpuid_regs r)
{
	switch (leaf) {
	case 0x1:
		r.b &= 0x00ffffff;		/* initial APIC ID */
		break;
	case 0xb:
	case 0x1f:
		r.d = 0;			/* x2APIC ID */
		break;
	case 0x8000001e:
		r.a = 0;			/* extended APIC ID */
		r.b &= ~0xffu;			/* core ID */
		r.c &= ~0xffu;			/* node ID */
		break;
	}
	return r;
}

static void add_range(struct cpuid_table *t, u32 first)
{
	u32 max = cpuid(first).a;

	if (max < first || max > first + 0xff)
		max = first;
	for (u32 leaf = first; leaf <= max; leaf++)
		for (u32 sub = 0; sub < nr_subleaves(leaf); sub++) {
			if (t->n == MAX_ENTRIES)
				return;
			t->e[t->n].leaf = leaf;
			t->e[t->n].subleaf = sub;
			t->e[t->n].r = mask_per_cpu(leaf, sub, cpuid_indexed(leaf, sub));
			t->n++;
		}
}

static void collect(struct cpuid_table *t)
{
	t->n = 0;
	add_range(t, 0);
	add_range(t, 0x40000000);
	add_range(t, 0x80000000);
}

static void collect_here(void *arg)
{
	collect(&cpu_table[smp_id()]);
}

static bool compare(unsigned int cpu)
{
	const struct cpuid_table *t = &cpu_table[cpu];

	if (t->n != bsp_table.n) {
		report_info("CPU %u: %u entries, CPU 0 has %u", cpu, t->n, bsp_table.n);
		return false;
	}
	for (unsigned int i = 0; i < t->n; i++) {
		const struct cpuid_entry *a = &bsp_table.e[i], *b = &t->e[i];

		if (memcmp(a, b, sizeof(*a))) {
			report_info("CPU %u leaf %#x.%u: %08x %08x %08x %08x vs CPU 0 %08x %08x %08x %08x",
				    cpu, b->leaf, b->subleaf, b->r.a, b->r.b, b->r.c,
				    b->r.d, a->r.a, a->r.b, a->r.c, a->r.d);
			return false;
		}
	}
	return true;
}

int main(void)
{
	unsigned int cpus, before, id;

	report_prefix_push("cpuid-smp");
	collect(&bsp_table);
	report(bsp_table.n > 8, "CPU 0: %u leaves and subleaves", bsp_table.n);
	cpus = smp_init();
	if (cpus < 2)
		report_skip("one CPU only: run with --cpus 2 or more");
	for (unsigned int c = 1; c < cpus; c++) {
		on_cpu(c, collect_here, NULL);
		report(compare(c), "CPU %u sees CPU 0's CPUID", c);
	}

	before = inl(X86_CPU_HOTPLUG_PORT);
	if (before < 1 || before >= MAX_CPUS) {
		report_skip("hot-plug: no CPU hot-plug port");
		goto out;
	}
	outl(X86_CPU_HOTPLUG_PORT, 1);
	if (multiboot_has_arg("protected")) {
		/* Sealed (docs/protected.md): a new vCPU is refused. */
		report(inl(X86_CPU_HOTPLUG_PORT) == before,
		       "hot-plug of a protected guest refused: vCPU count %u -> %u", before,
		       inl(X86_CPU_HOTPLUG_PORT));
		goto out;
	}
	report(inl(X86_CPU_HOTPLUG_PORT) == before + 1, "hot-plug: vCPU count %u -> %u",
	       before, inl(X86_CPU_HOTPLUG_PORT));
	id = before;
	if (!smp_boot_cpu(id)) {
		report(false, "hot-plug: CPU %u checked in", id);
		goto out;
	}
	report(true, "hot-plug: CPU %u checked in", id);
	on_cpu(id, collect_here, NULL);
	report(compare(id), "hot-plug: late CPU %u sees CPU 0's CPUID", id);
out:
	report_prefix_pop();
	return report_summary();
}
