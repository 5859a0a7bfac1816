// SPDX-License-Identifier: GPL-2.0-only
/* Configuration mechanism #1 on bus 0 (PCI Local Bus 3.0 §3.2.2.3.2). */
#include "x86/pci.h"
#include "x86/processor.h"

static void pci_select(unsigned int dev, unsigned int reg)
{
	outl(0xcf8, 0x80000000u | (dev & 31) << 11 | (reg & 0xfc));
}

u32 pci_cfg_read(unsigned int dev, unsigned int reg, unsigned int len)
{
	u16 port = (u16)(0xcfc + (reg & 3));

	pci_select(dev, reg);
	switch (len) {
	case 1:
		return inb(port);
	case 2:
		return inw(port);
	default:
		return inl(port);
	}
}

void pci_cfg_write(unsigned int dev, unsigned int reg, u32 val, unsigned int len)
{
	u16 port = (u16)(0xcfc + (reg & 3));

	pci_select(dev, reg);
	switch (len) {
	case 1:
		outb(port, (u8)val);
		break;
	case 2:
		outw(port, (u16)val);
		break;
	default:
		outl(port, val);
		break;
	}
}

unsigned int pci_find_cap(unsigned int dev, u8 id, unsigned int from)
{
	unsigned int p, n = 0;

	if (!(pci_cfg_read(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	p = from ? pci_cfg_read(dev, from + 1, 1) : pci_cfg_read(dev, PCI_CAP_PTR, 1);
	/* At most 48 capabilities fit in 192 bytes: a longer list loops. */
	while (p >= 0x40 && n++ < 48) {
		if (pci_cfg_read(dev, p, 1) == id)
			return p;
		p = pci_cfg_read(dev, p + 1, 1) & 0xfc;
	}
	return 0;
}

u64 pci_bar_addr(unsigned int dev, unsigned int bar)
{
	u32 lo = pci_cfg_read(dev, PCI_BAR0 + 4 * bar, 4);

	if (lo & 1)
		return lo & ~3u;
	if ((lo & 6) == 4)
		return (lo & ~0xfu) | (u64)pci_cfg_read(dev, PCI_BAR0 + 4 * (bar + 1), 4) << 32;
	return lo & ~0xfu;
}

u64 pci_bar_size(unsigned int dev, unsigned int bar)
{
	u16 cmd = (u16)pci_cfg_read(dev, PCI_COMMAND, 2);
	u32 lo = pci_cfg_read(dev, PCI_BAR0 + 4 * bar, 4), hi = 0, slo, shi = 0;
	bool is64 = !(lo & 1) && (lo & 6) == 4;
	u64 mask;

	pci_cfg_write(dev, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY), 2);
	pci_cfg_write(dev, PCI_BAR0 + 4 * bar, 0xffffffff, 4);
	slo = pci_cfg_read(dev, PCI_BAR0 + 4 * bar, 4);
	pci_cfg_write(dev, PCI_BAR0 + 4 * bar, lo, 4);
	if (is64) {
		hi = pci_cfg_read(dev, PCI_BAR0 + 4 * (bar + 1), 4);
		pci_cfg_write(dev, PCI_BAR0 + 4 * (bar + 1), 0xffffffff, 4);
		shi = pci_cfg_read(dev, PCI_BAR0 + 4 * (bar + 1), 4);
		pci_cfg_write(dev, PCI_BAR0 + 4 * (bar + 1), hi, 4);
	} else {
		shi = 0xffffffff;
	}
	pci_cfg_write(dev, PCI_COMMAND, cmd, 2);
	if (!slo)
		return 0;
	mask = (u64)shi << 32 | (slo & ((lo & 1) ? ~3u : ~0xfu));
	return ~mask + 1;
}
