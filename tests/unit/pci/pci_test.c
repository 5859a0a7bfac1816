// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PCI host bridge and MSI-X against the fake VM: configuration
 * mechanism #1 at every access size and offset, ECAM, the host bridge at
 * 00:00.0, absent slots reading all ones, BAR sizing and placement, BAR
 * decoding following COMMAND and moves, the capability list, INTx lines
 * (active low), and MSI-X: one GSI route per vector, masking into the
 * pending bit and delivery on unmask. The VM has the in-kernel irqchip, so
 * the fake records the INTx line levels (asserted = 1: KVM's IOAPIC applies
 * no polarity; guest/x86/pci.c covers the userspace IOAPIC's active-low line).
 */
#include <errno.h>
#include <string.h>

#include <linux/pci_regs.h>

#include <kestrel/pci.h>
#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#include "../test.h"
#include "../fake_vm.h"

#define ECAM	0xe0000000ULL
#define MEM32	0xc0000000ULL
#define IOWIN	0xc000

static struct vm *vm;

struct test_dev {
	struct pci_dev pd;
	struct pci_msix msix;
	u32 last_off, writes;
	unsigned int moved;
	u64 moved_addr;
	bool moved_on;
};

static struct test_dev *to_td(struct pci_dev *pd)
{
	return container_of(pd, struct test_dev, pd);
}

static int td_bar_read(struct pci_dev *pd, unsigned int bar, u64 off, void *data, unsigned int len)
{
	struct test_dev *td = to_td(pd);
	u32 v = 0xab000000u | (u32)off | bar << 16;

	if (bar == 2)
		return pci_msix_bar_read(&td->msix, off, data, len);
	memcpy(data, &v, len);
	return 0;
}

static int td_bar_write(struct pci_dev *pd, unsigned int bar, u64 off, const void *data,
			unsigned int len)
{
	struct test_dev *td = to_td(pd);

	if (bar == 2)
		return pci_msix_bar_write(&td->msix, off, data, len);
	td->last_off = (u32)off;
	td->writes++;
	return 0;
}

static void td_bar_moved(struct pci_dev *pd, unsigned int bar, u64 addr, bool on)
{
	struct test_dev *td = to_td(pd);

	td->moved++;
	td->moved_addr = addr;
	td->moved_on = on;
}

static void td_config_written(struct pci_dev *pd, u32 off, unsigned int len)
{
	pci_msix_config_written(&to_td(pd)->msix, off, len);
}

static const struct pci_dev_ops td_ops = {
	.bar_read = td_bar_read,
	.bar_write = td_bar_write,
	.bar_moved = td_bar_moved,
	.config_written = td_config_written,
};

/* Mechanism #1: CONFIG_ADDRESS then CONFIG_DATA + (reg & 3). */
static u32 cf8_read(u32 dev, u32 reg, unsigned int len)
{
	u32 v = 0;

	fake_vm_pio_write(vm, 0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc), 4);
	fake_vm_pio_read(vm, (u16)(0xcfc + (reg & 3)), &v, len);
	return v;
}

static void cf8_write(u32 dev, u32 reg, u32 v, unsigned int len)
{
	fake_vm_pio_write(vm, 0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc), 4);
	fake_vm_pio_write(vm, (u16)(0xcfc + (reg & 3)), v, len);
}

static u32 ecam_read(u32 dev, u32 reg, unsigned int len)
{
	return fake_mmio_read(vm, ECAM + (dev << 15) + reg, len);
}

static void ecam_write(u32 dev, u32 reg, u32 v, unsigned int len)
{
	fake_vm_mmio_write(vm, ECAM + (dev << 15) + reg, v, len);
}

int main(void)
{
	struct boot_pci cfg = {
		.ecam_base = ECAM, .io_base = IOWIN, .io_size = 0x4000,
		.mmio32_base = MEM32, .mmio32_size = 0x10000000,
		.mmio64_base = 0x1000000000ULL, .mmio64_size = 0x100000000ULL,
		.intx_gsi0 = 16, .nr_intx = 8,
	};
	static struct test_dev td;
	struct pci_host *h = NULL;
	u32 v, addr, data, bar0, bar1;
	u32 gsi0, cap;
	int ret;

	ret = fake_vm_create(FAKE_VM_MIN_RAM, &vm);
	if (ret) {
		report_skip("no fake VM: %d", ret);
		return report_summary();
	}
	ret = pci_host_create(vm, &cfg, &h);
	report(!ret, "host bridge created (%d)", ret);
	if (ret)
		goto out;
	/* KVM's IOAPIC ignores polarity: asserted is level 1 (the split one's is the guest test's). */
	report(!fake_vm_irq_level(vm, 16) && !fake_vm_irq_level(vm, 23),
	       "INTx lines idle (level 0 for the in-kernel irqchip)");

	/* The host bridge and absent slots. */
	v = cf8_read(0, PCI_VENDOR_ID, 4);
	report(v == 0x29c08086, "00:00.0 vendor/device 0x%08x", v);
	v = cf8_read(0, PCI_CLASS_REVISION, 4) >> 8;
	report(v == 0x060000, "00:00.0 class 0x%06x (host bridge)", v);
	v = cf8_read(5, PCI_VENDOR_ID, 4);
	report(v == 0xffffffff, "absent slot reads 0x%08x", v);
	v = ecam_read(7, PCI_VENDOR_ID, 2);
	report(v == 0xffff, "absent slot through ECAM reads 0x%04x", v);
	v = fake_mmio_read(vm, ECAM + (1u << 12), 4);
	report(v == 0xffffffff, "function 1 of the host bridge reads 0x%08x", v);
	fake_vm_pio_write(vm, 0xcf8, 0x12345678, 4);
	fake_vm_pio_read(vm, 0xcf8, &v, 4);
	report(v == 0x00345678, "CONFIG_ADDRESS keeps its defined bits: 0x%08x", v);
	fake_vm_pio_write(vm, 0xcfb, 0x01, 1);	/* Linux's type-1 probe */
	fake_vm_pio_read(vm, 0xcf8, &v, 4);
	report(v == 0x00345678, "a byte write to 0xcfb leaves CONFIG_ADDRESS alone (0x%08x)", v);
	fake_vm_pio_read(vm, 0xcf9, &v, 1);
	report((v & 0xff) == 0xff, "a byte read of 0xcf9 reads all ones (0x%02x)", v & 0xff);
	fake_vm_pio_write(vm, 0xcf8, 0, 4);
	fake_vm_pio_read(vm, 0xcfc, &v, 4);
	report(v == 0xffffffff, "CONFIG_DATA without the enable bit reads 0x%08x", v);

	/* A device with an MMIO BAR, an MSI-X BAR and an I/O BAR. */
	pci_dev_init(&td.pd, &td_ops, 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 1);
	ret = pci_dev_add_bar(&td.pd, 0, 0x4000, PCI_BAR_F_MEM64);
	ret = ret ? ret : pci_dev_add_bar(&td.pd, 2, 0x1000, 0);
	ret = ret ? ret : pci_dev_add_bar(&td.pd, 3, 0x20, PCI_BAR_F_IO);
	report(pci_dev_add_bar(&td.pd, 4, 0x3000, 0) == -EINVAL, "a BAR size not a power of two is refused");
	ret = ret ? ret : pci_msix_init(&td.msix, &td.pd, vm, 2, 4);
	report(!ret, "device built (%d)", ret);
	ret = ret ? ret : pci_host_add_dev(h, &td.pd, "test");
	report(!ret && td.pd.slot == 1, "plugged into slot %u (%d)", td.pd.slot, ret);
	if (ret)
		goto out;

	/* Every access size at every offset of CONFIG_DATA. */
	report(cf8_read(1, 0, 1) == 0xf4 && cf8_read(1, 1, 1) == 0x1a &&
	       cf8_read(1, 2, 1) == 0x41 && cf8_read(1, 3, 1) == 0x10,
	       "byte reads at 0xcfc..0xcff");
	report(cf8_read(1, 2, 2) == 0x1041 && cf8_read(1, 0, 2) == 0x1af4,
	       "word reads at 0xcfc and 0xcfe");
	report(cf8_read(1, 1, 2) == 0x411a, "unaligned word at 0xcfd: 0x%04x", cf8_read(1, 1, 2));
	report(ecam_read(1, 0, 4) == 0x10411af4, "ECAM dword 0x%08x", ecam_read(1, 0, 4));
	report(cf8_read(1, PCI_INTERRUPT_PIN, 1) == 1, "INTA#");
	report(cf8_read(1, PCI_INTERRUPT_LINE, 1) == 17, "interrupt line %u (GSI of slot 1)",
	       cf8_read(1, PCI_INTERRUPT_LINE, 1));

	/* Placement and sizing. */
	bar0 = cf8_read(1, PCI_BASE_ADDRESS_0, 4);
	report(bar0 == (MEM32 | PCI_BASE_ADDRESS_MEM_TYPE_64), "BAR0 placed at 0x%08x (64-bit)", bar0);
	bar1 = cf8_read(1, PCI_BASE_ADDRESS_2, 4);
	report(bar1 == MEM32 + 0x4000, "BAR2 placed at 0x%08x", bar1);
	v = cf8_read(1, PCI_BASE_ADDRESS_3, 4);
	report(v == (IOWIN | 1), "BAR3 (I/O) placed at 0x%x", v);
	cf8_write(1, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
	cf8_write(1, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
	v = cf8_read(1, PCI_BASE_ADDRESS_0, 4);
	report(v == (0xffffc000 | PCI_BASE_ADDRESS_MEM_TYPE_64), "BAR0 sizing reads 0x%08x", v);
	v = cf8_read(1, PCI_BASE_ADDRESS_1, 4);
	report(v == 0xffffffff, "BAR1 (BAR0's high half) sizing reads 0x%08x", v);
	cf8_write(1, PCI_BASE_ADDRESS_3, 0xffffffff, 4);
	v = cf8_read(1, PCI_BASE_ADDRESS_3, 4);
	report(v == 0xffffffe1, "I/O BAR sizing reads 0x%08x", v);
	v = cf8_read(1, PCI_BASE_ADDRESS_4, 4);
	report(v == 0, "unused BAR4 reads 0x%08x", v);
	cf8_write(1, PCI_BASE_ADDRESS_4, 0xffffffff, 4);
	report(cf8_read(1, PCI_BASE_ADDRESS_4, 4) == 0, "unused BAR4 stays 0 after all ones");
	cf8_write(1, PCI_ROM_ADDRESS, 0xffffffff, 4);
	report(cf8_read(1, PCI_ROM_ADDRESS, 4) == 0, "no expansion ROM");
	cf8_write(1, PCI_BASE_ADDRESS_0, (u32)MEM32 + 0x8000, 4);
	cf8_write(1, PCI_BASE_ADDRESS_1, 0, 4);
	cf8_write(1, PCI_BASE_ADDRESS_3, IOWIN + 0x100, 4);

	/* Decoding follows COMMAND. */
	v = fake_mmio_read(vm, MEM32 + 0x8010, 4);
	report(v == 0xffffffff && td.moved == 0, "no decode before COMMAND.MEM (0x%08x)", v);
	ecam_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
	v = fake_mmio_read(vm, MEM32 + 0x8010, 4);
	report(v == 0xab000010, "BAR0 decodes at its new address (0x%08x)", v);
	report(td.moved >= 1 && pci_dev_bus_master(&td.pd), "the device was told (%u moves)", td.moved);
	fake_vm_mmio_write(vm, MEM32 + 0x8020, 5, 4);
	report(td.writes == 1 && td.last_off == 0x20, "BAR write at offset 0x%x", td.last_off);
	fake_vm_pio_read(vm, IOWIN + 0x104, &v, 4);
	report(v == 0xab030004, "I/O BAR decodes (0x%08x)", v);
	ecam_write(1, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
	v = fake_mmio_read(vm, MEM32 + 0x8010, 4);
	report(v == 0xffffffff && !td.moved_on, "decode off with COMMAND.MEM clear");
	ecam_write(1, PCI_COMMAND, 0xffff, 2);
	v = ecam_read(1, PCI_COMMAND, 2);
	report(v == 0x0507, "COMMAND keeps its implemented bits: 0x%04x", v);
	ecam_write(1, PCI_VENDOR_ID, 0, 4);
	report(ecam_read(1, PCI_VENDOR_ID, 4) == 0x10411af4, "IDs are read-only");

	/* Capability list. */
	v = ecam_read(1, PCI_STATUS, 2);
	report(v & PCI_STATUS_CAP_LIST, "STATUS has the capability list bit (0x%04x)", v);
	v = ecam_read(1, PCI_CAPABILITY_LIST, 1);
	report(v >= 0x40 && ecam_read(1, v, 1) == PCI_CAP_ID_MSIX && ecam_read(1, v + 1, 1) == 0,
	       "one capability, MSI-X, at 0x%02x", v);
	report((ecam_read(1, v + 2, 2) & 0x7ff) == 3 && ecam_read(1, v + 4, 4) == 2 &&
	       ecam_read(1, v + 8, 4) == (PCI_MSIX_PBA_AT | 2u),
	       "MSI-X: 4 vectors, table and PBA in BAR2");

	/* INTx: active low, INTx Disable honoured. */
	pci_dev_set_intx(&td.pd, true);
	report(!fake_vm_irq_level(vm, 17), "INTx Disable set: line stays idle");
	ecam_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	report(fake_vm_irq_level(vm, 17), "INTx Disable cleared: line asserted");
	report(ecam_read(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, "STATUS.INTERRUPT set");
	pci_dev_set_intx(&td.pd, false);
	report(!fake_vm_irq_level(vm, 17), "deasserted: line idle again");

	/* MSI-X: program vector 0 while masked, raise it, unmask. */
	ecam_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	cap = ecam_read(1, PCI_CAPABILITY_LIST, 1);
	report(!pci_msix_notify(&td.msix, 0), "MSI-X off: raise refused (INTx fallback)");
	ecam_write(1, cap + 2, 0x8000, 2);
	gsi0 = td.msix.vec[0].gsi;
	report(gsi0 >= VM_GSI_MSI_BASE, "vector 0 has GSI %u", gsi0);
	fake_vm_mmio_write(vm, bar1 + 0, 0xfee01000, 4);
	fake_vm_mmio_write(vm, bar1 + 4, 0, 4);
	fake_vm_mmio_write(vm, bar1 + 8, 0x4041, 4);
	report(fake_mmio_read(vm, bar1 + 12, 4) == 1, "vector 0 masked at reset");
	report(!fake_vm_route(vm, gsi0, &addr, &data), "no route while masked");
	report(pci_msix_notify(&td.msix, 0) && !fake_vm_wait_irq(vm, gsi0, 0),
	       "masked: not sent");
	v = fake_mmio_read(vm, bar1 + PCI_MSIX_PBA_AT, 4);
	report(v == 1, "PBA bit 0 set (0x%x)", v);
	fake_vm_mmio_write(vm, bar1 + 12, 0, 4);
	report(fake_vm_route(vm, gsi0, &addr, &data) && addr == 0xfee01000 && data == 0x4041,
	       "unmasked: GSI %u routed to 0x%x/0x%x", gsi0, addr, data);
	report(fake_vm_wait_irq(vm, gsi0, 100), "the pending message was sent on unmask");
	report(fake_mmio_read(vm, bar1 + PCI_MSIX_PBA_AT, 4) == 0, "PBA bit cleared");
	report(pci_msix_notify(&td.msix, 0) && fake_vm_wait_irq(vm, gsi0, 100),
	       "unmasked: a raise is sent through the irqfd");
	ecam_write(1, cap + 2, 0xc000, 2);
	pci_msix_notify(&td.msix, 0);
	report(!fake_vm_wait_irq(vm, gsi0, 0) &&
	       fake_mmio_read(vm, bar1 + PCI_MSIX_PBA_AT, 4) == 1,
	       "function mask: left pending");
	ecam_write(1, cap + 2, 0x8000, 2);
	report(fake_vm_wait_irq(vm, gsi0, 100), "function unmask sends it");
	report((ecam_read(1, cap + 2, 2) & 0x7ff) == 3, "table size is read-only");
	fake_vm_mmio_write(vm, bar1 + 16, 0x12345678, 4);
	fake_vm_mmio_write(vm, bar1 + 28, 0, 4);
	pci_msix_notify(&td.msix, 1);
	report(!fake_vm_wait_irq(vm, td.msix.vec[1].gsi, 0), "a message not for the LAPIC is dropped");
	fake_vm_mmio_write(vm, bar1 + 3, 0xff, 1);
	fake_vm_mmio_write(vm, bar1 + 0x7f0, 0xffffffff, 4);
	report(fake_mmio_read(vm, bar1, 4) == 0xfee01000, "odd-size and out-of-table writes ignored");

	pci_host_del_dev(h, &td.pd);
	report(ecam_read(1, 0, 4) == 0xffffffff, "unplugged slot reads all ones");
	report(fake_mmio_read(vm, MEM32 + 0x8010, 4) == 0xffffffff, "its BARs no longer decode");
	pci_msix_destroy(&td.msix);
out:
	pci_host_destroy(h);
	fake_vm_destroy(vm);
	return report_summary();
}
