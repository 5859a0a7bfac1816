// SPDX-License-Identifier: GPL-2.0-only
/* MSR sanity: EFER, APIC base, TSC, FS/GS bases read back what was written. */
#include "guest.h"
#include "x86/apic.h"
#include "x86/processor.h"

int main(void)
{
	u64 efer = rdmsr(MSR_EFER), base = rdmsr(MSR_IA32_APICBASE), t0, t1;
	static const u32 bases[] = { MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE };

	report_prefix_push("msr");
	report((efer & EFER_LME) && (efer & EFER_LMA), "EFER: LME and LMA set (%#lx)",
	       efer);
	report((base & ~0xffful) == APIC_BASE, "APIC base %#lx", base & ~0xffful);
	report(base & (1u << 11), "APIC globally enabled");
	report(base & (1u << 8), "BSP flag set on CPU 0");

	t0 = rdtsc();
	for (int i = 0; i < 8; i++)
		inb(0x80 + i);		/* a few exits: time passes */
	t1 = rdtsc();
	report(t1 > t0, "TSC advances (%lu cycles over 8 exits)", t1 - t0);
	t0 = rdmsr(MSR_IA32_TSC);
	t1 = rdtsc();
	report(t0 && t1 >= t0 && t1 - t0 < (1ul << 40),
	       "TSC MSR and RDTSC agree (%#lx, %#lx)", t0, t1);

	for (unsigned int i = 0; i < ARRAY_SIZE(bases); i++) {
		u64 v = 0x0000123456789000ul + i;
		u64 old = rdmsr(bases[i]);

		wrmsr(bases[i], v);
		report(rdmsr(bases[i]) == v, "MSR %#x reads back %#lx", bases[i], v);
		wrmsr(bases[i], old);
	}
	report_prefix_pop();
	return report_summary();
}
