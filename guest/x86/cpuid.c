// SPDX-License-Identifier: GPL-2.0-only
/* CPUID sanity: vendor, leaf ranges, hypervisor leaves, APIC ID. */
#include "guest.h"
#include "x86/apic.h"
#include "x86/processor.h"

static bool vendor_is(const struct cpuid_regs *r, const char *v)
{
	char s[13];

	memcpy(s, &r->b, 4);
	memcpy(s + 4, &r->d, 4);
	memcpy(s + 8, &r->c, 4);
	s[12] = '\0';
	return !strcmp(s, v);
}

int main(void)
{
	struct cpuid_regs r0 = cpuid(0), r1 = cpuid(1), h, e;
	char hv[13];

	report_prefix_push("cpuid");
	report(vendor_is(&r0, "GenuineIntel") || vendor_is(&r0, "AuthenticAMD") ||
	       vendor_is(&r0, "HygonGenuine") || vendor_is(&r0, "CentaurHauls"),
	       "vendor is a known x86 vendor");
	report(r0.a >= 1 && r0.a < 0x100, "max basic leaf %#x is sane", r0.a);
	report(r1.c & (1u << 31), "hypervisor bit set in leaf 1 ECX");
	report(r1.d & (1u << 9), "APIC present in leaf 1 EDX");
	report(r1.d & (1u << 6) && r1.d & (1u << 5), "PAE and MSR in leaf 1 EDX");
	report((r1.b >> 24) == apic_id(),
	       "leaf 1 initial APIC ID %u matches LAPIC ID %u", r1.b >> 24, apic_id());

	e = cpuid(0x80000000);
	report(e.a >= 0x80000001 && e.a < 0x80000100, "max extended leaf %#x", e.a);
	e = cpuid(0x80000001);
	report(e.d & (1u << 29), "long mode in leaf 0x80000001 EDX");

	h = cpuid(0x40000000);
	memcpy(hv, &h.b, 4);
	memcpy(hv + 4, &h.c, 4);
	memcpy(hv + 8, &h.d, 4);
	hv[12] = '\0';
	report(!strcmp(hv, "KVMKVMKVM") || h.a >= 0x40000000,
	       "hypervisor leaves present (\"%s\", max %#x)", hv, h.a);
	if (!strcmp(hv, "KVMKVMKVM"))
		report(cpuid(0x40000001).a != 0, "KVM features leaf non-zero");
	else
		report_skip("KVM features leaf: hypervisor is \"%s\"", hv);
	report_prefix_pop();
	return report_summary();
}
