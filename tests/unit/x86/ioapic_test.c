// SPDX-License-Identifier: GPL-2.0-only
/*
 * The userspace IOAPIC of the split irqchip, through its MMIO window and
 * vm_set_irq_line(): identification registers, masked pins at power-on,
 * edge pins firing once per rising edge, level pins holding Remote IRR
 * until EOI and firing again while still asserted, polarity, the MSI
 * message built from each entry, and the GSI routes irqfds use.
 */
#include <errno.h>

#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#include "../test.h"
#include "../fake_vm.h"

#define SEL	(X86_IOAPIC_GPA + 0x00)
#define WIN	(X86_IOAPIC_GPA + 0x10)
#define EOI	(X86_IOAPIC_GPA + 0x40)

#define LEVEL	(1u << 15)
#define MASKED	(1u << 16)
#define LOW	(1u << 13)
#define IRR	(1u << 14)

static struct vm *vm;

static u32 rd(u32 reg)
{
	fake_vm_mmio_write(vm, SEL, reg, 4);
	return fake_mmio_read(vm, WIN, 4);
}

static void wr(u32 reg, u32 v)
{
	fake_vm_mmio_write(vm, SEL, reg, 4);
	fake_vm_mmio_write(vm, WIN, v, 4);
}

static void route(unsigned int pin, u32 low, u8 dest)
{
	wr(0x11 + 2 * pin, (u32)dest << 24);
	wr(0x10 + 2 * pin, low);
}

static unsigned int msis(u32 *data)
{
	return fake_vm_msis(vm, NULL, data);
}

static void test_ids(void)
{
	report_eq(rd(0x01), 0x00170011u, "version 0x11, 24 entries");
	wr(0x01, 0);
	report_eq(rd(0x01), 0x00170011u, "version is read-only");
	wr(0x00, 0x05000000);
	report_eq(rd(0x00), 0x05000000u, "ID writable");
	report_eq(rd(0x10 + 2 * 24), 0u, "a register past the table reads 0");
	check_eq(rd(0x10) & MASKED, MASKED);
	check_eq(rd(0x10 + 2 * 23) & MASKED, MASKED);
	report_checks("every pin masked at power-on");
	vm_set_irq_line(vm, 3, true);
	report_eq(msis(NULL), 0u, "a masked pin sends nothing");
	vm_set_irq_line(vm, 3, false);
	report_err(vm_set_irq_line(vm, 24, true), -EINVAL, "pin 24 does not exist");
}

static void test_edge(void)
{
	u32 addr, data;
	unsigned int n = msis(NULL);

	route(5, 0x45, 3);
	check_true(fake_vm_route(vm, 5, &addr, &data));
	check_eq(addr, 0xfee03000u);
	check_eq(data, 0x45u);
	report_checks("an unmasked edge pin has an MSI route (dest 3, vector 0x45)");
	vm_set_irq_line(vm, 5, true);
	check_eq(msis(&data), n + 1);
	check_eq(data, 0x45u);
	report_checks("a rising edge sends one MSI");
	vm_set_irq_line(vm, 5, true);
	report_eq(msis(NULL), n + 1, "no edge, no MSI");
	vm_set_irq_line(vm, 5, false);
	vm_set_irq_line(vm, 5, true);
	report_eq(msis(NULL), n + 2, "low then high: another");
	vm_set_irq_line(vm, 5, false);
	route(5, 0x45 | MASKED, 3);
	report_false(fake_vm_route(vm, 5, &addr, &data), "a masked edge pin has no route");
	vm_set_irq_line(vm, 5, true);
	report_eq(msis(NULL), n + 2, "and sends nothing");
	vm_set_irq_line(vm, 5, false);
}

static void test_level(void)
{
	u32 addr, data;
	unsigned int n = msis(NULL);

	route(7, 0x50 | LEVEL, 0);
	vm_set_irq_line(vm, 7, true);
	check_eq(msis(&data), n + 1);
	check_eq(data, 0x50u | (1u << 15) | (1u << 14));
	check_eq(rd(0x10 + 2 * 7) & IRR, IRR);
	report_checks("an asserted level pin sends once and sets Remote IRR");
	vm_set_irq_line(vm, 7, true);
	report_eq(msis(NULL), n + 1, "nothing more before the EOI");
	fake_vm_mmio_write(vm, EOI, 0x50, 4);
	report_eq(msis(NULL), n + 2, "EOI while still asserted: sent again");
	vm_set_irq_line(vm, 7, false);
	fake_vm_mmio_write(vm, EOI, 0x50, 4);
	check_eq(msis(NULL), n + 2);
	check_eq(rd(0x10 + 2 * 7) & IRR, 0u);
	report_checks("deasserted, EOI: Remote IRR clear, nothing sent");
	fake_vm_mmio_write(vm, EOI, 0x51, 4);
	report_eq(msis(NULL), n + 2, "an EOI of another vector changes nothing");
	route(7, 0x50 | LEVEL | MASKED, 0);
	report_true(fake_vm_route(vm, 7, &addr, &data),
		    "a masked level pin keeps its route (KVM's EOI exits come from it)");
	vm_set_irq_line(vm, 7, true);
	report_eq(msis(NULL), n + 2, "masked: nothing sent");
	route(7, 0x50 | LEVEL, 0);
	report_eq(msis(NULL), n + 3, "unmasking an asserted level pin sends it");
	vm_set_irq_line(vm, 7, false);
	fake_vm_mmio_write(vm, EOI, 0x50, 4);
	wr(0x10 + 2 * 7, rd(0x10 + 2 * 7) | IRR);
	report_eq(rd(0x10 + 2 * 7) & IRR, 0u, "Remote IRR is not writable");
}

static void test_polarity_and_vectors(void)
{
	unsigned int n = msis(NULL);

	route(9, 0x60 | LEVEL | LOW, 0);
	report_eq(msis(NULL), n + 1, "active-low pin with its line low: asserted");
	fake_vm_mmio_write(vm, EOI, 0x60, 4);
	vm_set_irq_line(vm, 9, true);
	fake_vm_mmio_write(vm, EOI, 0x60, 4);
	report_eq(msis(NULL), n + 2, "line high: deasserted after the EOI");
	route(9, MASKED, 0);
	route(10, 0x05, 0);
	vm_set_irq_line(vm, 10, true);
	report_eq(msis(NULL), n + 2, "a reserved vector (5, fixed delivery) is not sent");
	vm_set_irq_line(vm, 10, false);
	route(10, 0x0400, 0);	/* NMI delivery: the vector does not matter */
	vm_set_irq_line(vm, 10, true);
	report_eq(msis(NULL), n + 3, "NMI delivery is sent whatever the vector");
	vm_set_irq_line(vm, 10, false);
}

int main(void)
{
	report_prefix_push("ioapic");
	if (fake_vm_create_split(FAKE_VM_MIN_RAM, &vm)) {
		report(false, "create a split-irqchip VM");
		return report_summary();
	}
	test_ids();
	test_edge();
	test_level();
	test_polarity_and_vectors();
	fake_vm_destroy(vm);
	report_prefix_pop();
	return report_summary();
}
