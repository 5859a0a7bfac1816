// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupt delivery through registered handlers: a self-IPI, the LAPIC
 * timer (one-shot and periodic), and a device interrupt routed through the
 * IOAPIC (the PONG device on IRQ 5; skipped where it is absent).
 */
#include "guest.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/pong.h"
#include "x86/processor.h"

#include <kestrel/x86/layout.h>

#define IPI_VEC		0x40
#define TIMER_VEC	0x41
#define PONG_VEC	0x42

static volatile u32 ipi_hits, timer_hits, pong_hits;
static volatile u64 ipi_rflags;
static volatile u16 pong_base;

static void ipi_handler(struct ex_regs *regs)
{
	ipi_hits++;
	ipi_rflags = read_rflags();
}

static void timer_handler(struct ex_regs *regs)
{
	timer_hits++;
}

static void pong_handler(struct ex_regs *regs)
{
	pong_hits++;
	outb(pong_base + PONG_REG_ISR, PONG_ISR_DONE);	/* acknowledge */
}

static void test_self_ipi(void)
{
	handle_irq(IPI_VEC, ipi_handler);
	irq_disable();
	apic_self_ipi(IPI_VEC);
	report(ipi_hits == 0, "self-IPI: held while IF=0");
	report(apic_read(APIC_IRR + 0x10 * (IPI_VEC / 32)) & (1u << (IPI_VEC % 32)),
	       "self-IPI: pending in IRR");
	/* Under load the window's own timer tick can win the halt: wait. */
	irq_window();
	apic_wait_count(&ipi_hits, 1, 100);
	report(ipi_hits == 1, "self-IPI: delivered once after STI (%u)", ipi_hits);
	report(!(ipi_rflags & X86_EFLAGS_IF), "self-IPI: handler runs with IF=0");
	apic_self_ipi(IPI_VEC);
	apic_self_ipi(IPI_VEC);
	apic_wait_count(&ipi_hits, 2, 100);
	irq_window();		/* a third delivery would show now */
	report(ipi_hits == 2, "self-IPI: two IPIs while pending coalesce into one (%u deliveries)", ipi_hits);
}

static void test_timer(void)
{
	handle_irq(TIMER_VEC, timer_handler);
	apic_write(APIC_TDCR, 0xb);			/* divide by 1 */
	apic_write(APIC_LVT_TIMER, TIMER_VEC);		/* one-shot */
	apic_write(APIC_TMICT, 100000);
	while (!timer_hits)
		safe_halt();
	irq_disable();
	report(timer_hits == 1, "LAPIC timer: one-shot fires");
	report(apic_read(APIC_TMCCT) == 0, "LAPIC timer: count reached 0");

	timer_hits = 0;
	apic_write(APIC_LVT_TIMER, TIMER_VEC | APIC_TIMER_PERIODIC);
	apic_write(APIC_TMICT, 200000);
	while (timer_hits < 3)
		safe_halt();
	irq_disable();
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_TMICT, 0);
	report(timer_hits >= 3, "LAPIC timer: periodic fires repeatedly");
}

static void test_ioapic(void)
{
	u16 base = pong_probe();

	if (!base) {
		report_skip("IOAPIC: no PONG device to raise IRQ %d", X86_PONG_IRQ);
		return;
	}
	pong_base = base;
	handle_irq(PONG_VEC, pong_handler);
	ioapic_route(X86_PONG_IRQ, PONG_VEC, false, (u8)apic_id());
	outb(base + PONG_REG_CTRL, PONG_CTRL_ENABLE | PONG_CTRL_IRQ_ENABLE);
	pong_cmd(base, PONG_CMD_SENSE_ID);	/* completes at once: IRQ */
	apic_wait_count(&pong_hits, 1, 100);
	report(pong_hits == 1, "IOAPIC: device IRQ %d delivered to vector %#x",
	       X86_PONG_IRQ, PONG_VEC);
	report(!(inb(base + PONG_REG_ISR) & PONG_ISR_DONE), "IOAPIC: handler acknowledged");
	ioapic_mask(X86_PONG_IRQ);
	pong_cmd(base, PONG_CMD_SENSE_ID);
	apic_wait_count(&pong_hits, 2, 5);
	report(pong_hits == 1, "IOAPIC: masked pin delivers nothing");
	outb(base + PONG_REG_CMD, PONG_CMD_RESET);
}

int main(void)
{
	report_prefix_push("interrupts");
	test_self_ipi();
	test_timer();
	test_ioapic();
	report_prefix_pop();
	return report_summary();
}
