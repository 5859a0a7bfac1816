// SPDX-License-Identifier: GPL-2.0-only
/*
 * QEMU's pc-testdev as kestrel provides it (--device testdev,
 * docs/testdev.md): the scratch register through every access size and
 * its byte-wise alias, the memory-like MMIO window, interrupt lines raised
 * and lowered through the in-kernel irqchip, and a page flush that leaves
 * the page's contents alone.
 */
#include "guest.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/processor.h"

#include <kestrel/hw.h>

#define TESTDEV_VEC	0x46
#define TESTDEV_LINE	7	/* an ISA line no other kestrel device uses */

static volatile u32 irqs;
static u8 page[4096] __attribute__((aligned(4096)));

static void testdev_irq(struct ex_regs *regs)
{
	irqs++;
}

static bool testdev_present(void)
{
	outl(TESTDEV_SCRATCH_PORT, 0x5a5aa5a5);
	return inl(TESTDEV_SCRATCH_PORT) == 0x5a5aa5a5;
}

static void test_scratch(void)
{
	outl(TESTDEV_SCRATCH_PORT, 0x12345678);
	report(inl(TESTDEV_SCRATCH_PORT) == 0x12345678, "32-bit write reads back");
	report(inb(TESTDEV_SCRATCH_PORT + 1) == 0x56 &&
	       inw(TESTDEV_SCRATCH_PORT + 2) == 0x1234,
	       "byte and word lanes: %#x %#x", inb(TESTDEV_SCRATCH_PORT + 1),
	       inw(TESTDEV_SCRATCH_PORT + 2));
	outb(TESTDEV_SCRATCH_PORT + 2, 0xab);
	report(inl(TESTDEV_SCRATCH_PORT) == 0x12ab5678,
	       "a byte write changes its lane only: %#x", inl(TESTDEV_SCRATCH_PORT));
	outw(TESTDEV_SCRATCH_PORT, 0xbeef);
	report(inl(TESTDEV_SCRATCH_PORT) == 0x12abbeef,
	       "a word write changes its lanes only: %#x", inl(TESTDEV_SCRATCH_PORT));
	report(inl(TESTDEV_SCRATCH_BYTE_PORT) == 0x12abbeef,
	       "the byte-wise alias reads the same register");
	outl(TESTDEV_SCRATCH_BYTE_PORT, 0xdeadc0de);
	report(inl(TESTDEV_SCRATCH_PORT) == 0xdeadc0de &&
	       inb(TESTDEV_SCRATCH_BYTE_PORT + 3) == 0xde,
	       "a 32-bit write to the alias lands in all four lanes: %#x",
	       inl(TESTDEV_SCRATCH_PORT));
}

static void test_iomem(void)
{
	const u64 base = TESTDEV_IOMEM_GPA;
	const u64 last = TESTDEV_IOMEM_GPA + TESTDEV_IOMEM_SIZE - 4;
	volatile u64 *q = phys_ptr(base + 0x100);

	mmio_write32(base, 0xcafef00d);
	mmio_write32(last, 0x01020304);
	report(mmio_read32(base) == 0xcafef00d && mmio_read32(last) == 0x01020304,
	       "first and last words read back");
	mmio_write8(base + 1, 0x11);
	report(mmio_read32(base) == 0xcafe110d && mmio_read8(base + 1) == 0x11,
	       "a byte write changes one byte: %#x", mmio_read32(base));
	*q = 0x1122334455667788ULL;
	report(*q == 0x1122334455667788ULL, "64-bit access reads back");
}

static void test_irq_lines(void)
{
	u32 before;

	handle_irq(TESTDEV_VEC, testdev_irq);
	ioapic_route(TESTDEV_LINE, TESTDEV_VEC, false, (u8)apic_id());
	irq_enable();
	before = irqs;
	outb(TESTDEV_IRQ_PORT + TESTDEV_LINE, 1);
	for (int i = 0; i < 1000000 && irqs == before; i++)
		cpu_relax();
	report(irqs == before + 1, "raising line %u delivers one interrupt",
	       TESTDEV_LINE);
	outb(TESTDEV_IRQ_PORT + TESTDEV_LINE, 1);
	for (int i = 0; i < 10000; i++)
		cpu_relax();
	report(irqs == before + 1, "raising it again (no edge): none more");
	outb(TESTDEV_IRQ_PORT + TESTDEV_LINE, 0);
	outb(TESTDEV_IRQ_PORT + TESTDEV_LINE, 1);
	for (int i = 0; i < 1000000 && irqs == before + 1; i++)
		cpu_relax();
	report(irqs == before + 2, "lower, raise: a second interrupt");
	outb(TESTDEV_IRQ_PORT + TESTDEV_LINE, 0);
	report(inb(TESTDEV_IRQ_PORT + TESTDEV_LINE) == 0, "line ports read 0");
	irq_disable();
	ioapic_mask(TESTDEV_LINE);
}

static void test_flush(void)
{
	bool same = true;

	for (unsigned int i = 0; i < sizeof(page); i++)
		page[i] = (u8)(i * 7);
	outl(TESTDEV_FLUSH_PORT, (u32)(uintptr_t)page);
	for (unsigned int i = 0; i < sizeof(page); i++)
		same &= page[i] == (u8)(i * 7);
	report(same, "a flushed page keeps its contents");
	page[5] = 0x42;
	report(page[5] == 0x42, "and is writable afterwards");
	/* Not RAM: the host ignores it, the guest goes on. */
	outl(TESTDEV_FLUSH_PORT, 0xfeb00000);
	report(inl(TESTDEV_SCRATCH_PORT) == 0xdeadc0de,
	       "a flush outside RAM is ignored");
}

int main(void)
{
	report_prefix_push("testdev");
	if (!testdev_present()) {
		report_skip("no test device (kestrel run --device testdev)");
		return report_summary();
	}
	test_scratch();
	test_iomem();
	test_irq_lines();
	test_flush();
	report_prefix_pop();
	return report_summary();
}
