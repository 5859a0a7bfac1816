/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_BOOT_H
#define KESTREL_BOOT_H

#include <stdbool.h>
#include <stddef.h>

#include <kestrel/types.h>

/*
 * What the CLI hands to an architecture's guest loader: the images as bytes
 * (read whole by main.c; every byte is untrusted) and the machine facts the
 * loader writes into boot data (CPU count for ACPI/MP tables, virtio-mmio
 * devices for the DSDT or the kernel command line).
 */

/**
 * struct boot_module - one Multiboot module
 * @data: module bytes
 * @size: bytes at @data
 * @cmdline: module string handed to the guest, or NULL
 */
struct boot_module {
	const void *data;
	size_t size;
	const char *cmdline;
};

/**
 * struct boot_mmio_dev - one virtio-mmio device the guest should find
 * @base: guest-physical base of its register page
 * @size: bytes of the register page
 * @irq: GSI it raises
 */
struct boot_mmio_dev {
	u64 base;
	u64 size;
	u32 irq;
};

/**
 * struct boot_pci - the PCI host bridge the guest should find (docs/pci.md)
 * @ecam_base: ECAM of bus 0 (1 MiB; MCFG, reserved in the memory map)
 * @io_base: I/O window
 * @io_size: its ports
 * @mmio32_base: 32-bit memory window
 * @mmio32_size: its bytes
 * @mmio64_base: 64-bit memory window
 * @mmio64_size: its bytes
 * @intx_gsi0: GSI of the first INTx line
 * @nr_intx: INTx lines
 */
struct boot_pci {
	u64 ecam_base;
	u16 io_base;
	u32 io_size;
	u64 mmio32_base;
	u64 mmio32_size;
	u64 mmio64_base;
	u64 mmio64_size;
	u32 intx_gsi0;
	unsigned int nr_intx;
};

/**
 * struct boot_config - everything a loader needs to place a guest
 * @kernel: the kernel image bytes (untrusted)
 * @kernel_size: bytes at @kernel
 * @kernel_path: the image's name as the user gave it, or NULL; a Multiboot
 *		 kernel's command line is "@kernel_path @cmdline" (GRUB and QEMU
 *		 pass the path first, and test kernels take argv[0] from it)
 * @initrd: initial ramdisk bytes, or NULL
 * @initrd_size: bytes at @initrd, 0 when there is none
 * @cmdline: kernel command line, or NULL
 * @modules: Multiboot modules, @nr_modules of them (may be NULL when 0)
 * @nr_modules: entries in @modules
 * @nr_cpus: vCPUs the VM starts with (for ACPI MADT / MP table)
 * @mmio_devs: virtio-mmio devices (for the ACPI DSDT or the command line)
 * @nr_mmio_devs: entries in @mmio_devs
 * @pci: the PCI host bridge (ACPI MCFG and a PNP0A08 root bridge in the
 *	DSDT), or NULL for a machine without PCI
 * @legacy_pic: the machine has a PC's dual 8259 PIC (x86: the in-kernel
 *	irqchip; the MADT then says PCAT_COMPAT, and a guest that trusts the
 *	flag programs the PIC without probing for it)
 */
struct boot_config {
	const void *kernel;
	size_t kernel_size;
	const char *kernel_path;
	const void *initrd;
	size_t initrd_size;
	const char *cmdline;
	const struct boot_module *modules;
	unsigned int nr_modules;
	unsigned int nr_cpus;
	const struct boot_mmio_dev *mmio_devs;
	unsigned int nr_mmio_devs;
	const struct boot_pci *pci;
	bool legacy_pic;
};

/**
 * boot_image_is_linux() - would @img boot through a Linux boot protocol
 *	(x86: a bzImage, or a PVH ELF that is not Multiboot)?
 * @img: the kernel image (untrusted), or NULL
 * @size: bytes at @img
 *
 * Implemented by the architecture. The machine gives such guests
 * virtio-pci by default (docs/pci.md). Return: true if so.
 */
bool boot_image_is_linux(const void *img, size_t size);

/**
 * boot_tables_dump() - write the firmware tables kestrel would give a guest
 *	booted with @cfg (ACPI on x86) into @dir, one file per table
 *	(<SIGNATURE>.dat), for inspection with a third-party disassembler
 * @cfg: machine facts (nr_cpus, mmio_devs); the image fields are ignored
 * @dir: an existing directory; a file of the same name there is replaced
 *	(removed, then created anew: links are never written through)
 *
 * Implemented by the architecture. Return: 0 or a negative errno.
 */
int boot_tables_dump(const struct boot_config *cfg, const char *dir);

#endif /* KESTREL_BOOT_H */
