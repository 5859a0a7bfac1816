// SPDX-License-Identifier: GPL-2.0-only
/* xAPIC through its MMIO page, and the IOAPIC's indirect registers. */
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/processor.h"

u32 apic_read(unsigned int reg)
{
	return mmio_read32(APIC_BASE + reg);
}

void apic_write(unsigned int reg, u32 v)
{
	mmio_write32(APIC_BASE + reg, v);
}

u32 apic_id(void)
{
	return apic_read(APIC_ID) >> 24;
}

void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

void apic_setup(void)
{
	apic_write(APIC_SVR, APIC_SVR_ENABLE | SPURIOUS_VECTOR);
	apic_write(APIC_TPR, 0);
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_LVT_LINT0, APIC_LVT_MASKED);
	apic_write(APIC_LVT_ERROR, APIC_LVT_MASKED);
}

void apic_icr_write(u32 icr_lo, u32 dest)
{
	apic_write(APIC_ICR_HI, dest << 24);
	apic_write(APIC_ICR_LO, icr_lo);
}

void apic_self_ipi(u8 vec)
{
	apic_icr_write(APIC_DEST_SELF | APIC_ICR_FIXED | vec, 0);
}

u32 ioapic_read(unsigned int reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(unsigned int reg, u32 v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(unsigned int pin, u8 vec, bool level, u8 dest)
{
	ioapic_write(0x11 + 2 * pin, (u32)dest << 24);
	ioapic_write(0x10 + 2 * pin, vec | (level ? 1u << 15 : 0));
}

void ioapic_mask(unsigned int pin)
{
	ioapic_write(0x10 + 2 * pin, 1u << 16);
}

/* ---- waiting without spinning -------------------------------------------- */

#define WAKE_TICK_NS	1000000u	/* 1 ms: the LAPIC timer counts at 1 GHz on KVM */

static void wake_handler(struct ex_regs *regs)
{
}

void apic_wait_setup(void)
{
	handle_irq(IPI_WAKE_VECTOR, wake_handler);
}

static void wake_timer_arm(u32 ns)
{
	apic_write(APIC_TDCR, 0xb);		/* divide by 1 */
	apic_write(APIC_LVT_TIMER, IPI_WAKE_VECTOR);
	apic_write(APIC_TMICT, ns);
}

bool apic_wait_count(volatile u32 *p, u32 val, unsigned int ms)
{
	bool ok;

	for (unsigned int t = 0; t <= ms; t++) {
		if (*p >= val)
			break;
		irq_disable();
		if (*p >= val)
			break;
		wake_timer_arm(WAKE_TICK_NS);
		safe_halt();
	}
	apic_write(APIC_TMICT, 0);
	ok = *p >= val;
	irq_disable();
	return ok;
}

void irq_window(void)
{
	irq_disable();
	wake_timer_arm(WAKE_TICK_NS / 20);
	safe_halt();
	irq_disable();
	apic_write(APIC_TMICT, 0);
}
