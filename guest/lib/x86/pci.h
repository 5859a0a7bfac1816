/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_PCI_H
#define GUEST_X86_PCI_H

/*
 * PCI configuration space of bus 0 through configuration mechanism #1
 * (ports 0xcf8/0xcfc): what kestrel's host bridge decodes (docs/pci.md).
 * Accesses of any size at the offset they name: the data port's byte is
 * (reg & 3). Works from ring 0 (port I/O).
 */
#include "guest.h"

#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_CLASS_REVISION	0x08
#define PCI_HEADER_TYPE		0x0e
#define PCI_BAR0		0x10
#define PCI_CAP_PTR		0x34
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d

#define PCI_COMMAND_IO		0x1
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST	0x10

#define PCI_CAP_ID_MSIX		0x11
#define PCI_CAP_ID_VNDR		0x09

u32 pci_cfg_read(unsigned int dev, unsigned int reg, unsigned int len);
void pci_cfg_write(unsigned int dev, unsigned int reg, u32 val, unsigned int len);

/* The first capability @id of @dev at or after list entry @from (0: from the start), or 0. */
unsigned int pci_find_cap(unsigned int dev, u8 id, unsigned int from);

/* BAR @bar's address (64-bit BARs take @bar + 1 too); 0 if unused. */
u64 pci_bar_addr(unsigned int dev, unsigned int bar);

/* BAR @bar's size by the all-ones probe (decoding off meanwhile, restored). */
u64 pci_bar_size(unsigned int dev, unsigned int bar);

#endif /* GUEST_X86_PCI_H */
