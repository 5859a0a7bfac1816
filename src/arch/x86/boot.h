/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_ARCH_X86_BOOT_H
#define KESTREL_ARCH_X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>

#include <kestrel/boot.h>
#include <kestrel/types.h>

struct address_space;

/*
 * x86 guest loaders: Linux bzImage (boot protocol 2.02+), PVH ELF, Multiboot
 * v1 (ELF32, ELF64, a.out kludge). x86_load_guest() detects the format,
 * writes the image and all boot data into guest RAM and describes the CPU
 * state the boot vCPU must start in; x86_boot_setup_vcpu() applies it.
 *
 * Boot memory map (guest-physical; fixed slots first, then what moves):
 *
 *   0x00000 - 0x00fff  page 0, kestrel's for every format: real-mode IVT and
 *                      BDA (IVT of IRET stubs, real mode only), GDT at 0x500:
 *                      0x08 flat code32, 0x10 code64, 0x18 flat data,
 *                      0x20 32-bit TSS (base 0, limit 0x67)
 *   0x9fc00 - 0x9ffff  EBDA (reserved in e820)
 *   0xa0000 - 0xdffff  legacy VGA / option ROM hole (not RAM in e820)
 *   0xe0000 - 0xeffff  ACPI: RSDP at 0xe0000, then XSDT, FADT, MADT, DSDT
 *   0xf0000 - 0xfffff  MP floating pointer (0xf0000) and configuration table
 *
 * Linux bzImage (fixed, as boot.rst's sample layout):
 *   0x01000 - 0x06fff  unused
 *   0x07000 - 0x07fff  zero page (struct boot_params), 64-bit entry
 *   0x08000 - 0x08fff  boot stack (RSP = 0x8ff0)
 *   0x09000 - 0x0efff  identity page tables: PML4 0x9000, PDPT 0xa000,
 *                      4 PDs 0xb000.. mapping 0-4 GiB with 2 MiB pages
 *   0x10000 - 0x1ffff  real-mode setup segment (bzImage real-mode entry:
 *                      CS:IP = 0x1020:0, DS = ES = SS = 0x1000, SP = 0xe000,
 *                      heap_end_ptr = 0xde00, per boot.rst's sample setup)
 *   0x20000 - 0x2ffff  kernel command line (NUL included, 64 KiB at most)
 *   0x100000 ..        the kernel; the initrd as high as possible below
 *                      initrd_addr_max
 *
 * Multiboot v1 and PVH (the image first, boot data out of its way):
 *   the image          where its ELF p_paddr or a.out-kludge load_addr say,
 *                      anywhere in RAM from 0x1000 up outside the fixed slots
 *                      above (below 1 MiB included)
 *   boot data area     one page-aligned block at the lowest free address from
 *                      0x1000 up once the image is placed (0x1000 for an
 *                      image at 1 MiB): a 4 KiB boot stack, then the
 *                      Multiboot info / PVH hvm_start_info, memory map,
 *                      module list, module strings and the command line
 *   modules            page aligned, after the highest thing placed so far
 *
 * e820 (also the Multiboot mmap and the PVH memmap) comes from the address
 * space's regions: RAM, except 0x9fc00-0xfffff which is reserved (EBDA,
 * ACPI, MP table; 0xa0000-0xdffff is left as a hole, i.e. not RAM). The
 * Multiboot and PVH maps also mark page 0 and the boot data area reserved.
 */

#define X86_BOOT_GDT_GPA	0x500ULL
#define X86_BOOT_PAGE0_END	0x1000ULL	/* images load from here up */
#define X86_BOOT_STACK_SIZE	0x1000ULL	/* in the Multiboot/PVH boot data area */
#define X86_BOOT_ZERO_PAGE_GPA	0x7000ULL
#define X86_BOOT_STACK_TOP	0x8ff0ULL
#define X86_BOOT_PML4_GPA	0x9000ULL
#define X86_BOOT_PGTABLE_END	0xf000ULL
#define X86_BOOT_REALMODE_GPA	0x10000ULL
#define X86_BOOT_CMDLINE_GPA	0x20000ULL
#define X86_BOOT_CMDLINE_MAX	0x10000ULL
#define X86_BOOT_EBDA_GPA	0x9fc00ULL
#define X86_BOOT_ACPI_GPA	0xe0000ULL
#define X86_BOOT_ACPI_SIZE	0x10000ULL
#define X86_BOOT_MPTABLE_GPA	0xf0000ULL
#define X86_BOOT_MPTABLE_SIZE	0x10000ULL
#define X86_BOOT_KERNEL_GPA	0x100000ULL

/* GDT selectors (the Linux 64-bit boot protocol wants __BOOT_CS 0x10, __BOOT_DS 0x18) */
#define X86_BOOT_SEL_CODE32	0x08
#define X86_BOOT_SEL_CODE64	0x10
#define X86_BOOT_SEL_DATA	0x18
#define X86_BOOT_SEL_TSS	0x20

/** enum x86_boot_mode - the CPU mode the boot vCPU starts in */
enum x86_boot_mode {
	X86_BOOT_REAL16,	/* real mode, CS:IP = cs_sel:rip, segments base = sel << 4 */
	X86_BOOT_PROT32,	/* 32-bit protected mode, flat, paging off */
	X86_BOOT_LONG64,	/* 64-bit mode, identity-mapped 0-4 GiB */
};

/**
 * struct x86_boot_entry - the boot vCPU's initial state
 * @mode: CPU mode
 * @format: what was loaded ("bzImage", "bzImage-real", "PVH", "Multiboot")
 * @rip: entry point (offset in CS for real mode)
 * @rsp: stack pointer (0 = leave as reset)
 * @rsi: RSI (Linux 64-bit: boot_params)
 * @rbx: RBX (Multiboot: info; PVH: hvm_start_info)
 * @rax: RAX (Multiboot: 0x2BADB002)
 * @rflags: RFLAGS (bit 1 always set; IF clear)
 * @cs_sel: code selector
 * @cs_base: code segment base (real mode: cs_sel << 4; else 0)
 * @ds_sel: selector for DS, ES, FS, GS and SS
 * @ds_base: their base
 * @cr0: CR0
 * @cr3: CR3 (page tables, long mode only)
 * @cr4: CR4
 * @efer: EFER
 * @gdt_base: GDTR base (0 with @gdt_limit 0 = leave the reset GDTR)
 * @gdt_limit: GDTR limit
 * @kernel_start: lowest guest-physical byte of the loaded image
 * @kernel_end: one past its highest byte (including bss / init_size)
 * @data_start: Multiboot / PVH: the boot data area (0 for bzImage)
 * @data_end: one past its last byte
 */
struct x86_boot_entry {
	enum x86_boot_mode mode;
	const char *format;
	u64 rip, rsp, rsi, rbx, rax, rflags;
	u16 cs_sel;
	u64 cs_base;
	u16 ds_sel;
	u64 ds_base;
	u64 cr0, cr3, cr4, efer;
	u64 gdt_base;
	u16 gdt_limit;
	u64 kernel_start, kernel_end;
	u64 data_start, data_end;
};

/**
 * struct x86_boot_options - loader choices beyond struct boot_config
 * @bzimage_real_mode: enter a bzImage through its real-mode setup code even
 *		       when it has a 64-bit entry (there is no BIOS: only
 *		       setup code that needs no BIOS services can run)
 */
struct x86_boot_options {
	bool bzimage_real_mode;
};

/**
 * x86_load_guest() - load a guest image and its boot data into guest RAM
 * @as: guest RAM (RAM must start at 0 and cover at least 1 MiB)
 * @cfg: images and machine facts; every image byte is untrusted
 * @entry: filled with the boot vCPU's initial state on success
 * @err: one-line reason on failure (may be NULL)
 * @errlen: bytes at @err
 *
 * Detects a Linux bzImage, a Multiboot v1 image, or an ELF with a PVH note
 * (in that order), loads it with its command line, initrd/modules, e820 /
 * memory map, ACPI tables (RSDP/XSDT/FADT/MADT/DSDT) and MP table, and
 * describes the entry state. For bzImage and PVH the command line gets
 * "virtio_mmio.device=SIZE@BASE:IRQ" appended per @cfg->mmio_devs entry; a
 * Multiboot kernel's begins with @cfg->kernel_path, as GRUB and QEMU pass it.
 *
 * Return: 0; -ENOEXEC for an unrecognised or malformed image (including one
 * that asks for page 0 or the EBDA/ACPI/MP area, or bzImage boot data's place); -EINVAL for a bad configuration (no or
 * too many CPUs, command line too long, bad device window); -ENOSPC when the
 * image, initrd, modules or boot data do not fit in RAM; -E2BIG when the
 * memory map has too many entries; -EFAULT if RAM is missing
 * where boot data must go; -ENOMEM. @err says which, in one line.
 */
int x86_load_guest(struct address_space *as, const struct boot_config *cfg,
		   struct x86_boot_entry *entry, char *err, size_t errlen);

/**
 * x86_load_guest_opts() - x86_load_guest() with @opts (may be NULL)
 */
int x86_load_guest_opts(struct address_space *as, const struct boot_config *cfg,
			const struct x86_boot_options *opts,
			struct x86_boot_entry *entry, char *err, size_t errlen);

/**
 * x86_boot_setup_vcpu() - put the boot vCPU in the state @entry describes
 * @vcpu_fd: a fresh KVM vCPU fd
 * @entry: from x86_load_guest()
 *
 * Uses KVM_GET_SREGS/KVM_SET_SREGS, KVM_SET_REGS and KVM_SET_FPU.
 * Return: 0 or a negative errno from the first failing ioctl.
 */
int x86_boot_setup_vcpu(int vcpu_fd, const struct x86_boot_entry *entry);

/**
 * x86_acpi_dump() - write the ACPI tables kestrel would give @cfg's guest
 * @cfg: machine facts (nr_cpus, mmio_devs); images are not looked at
 * @dir: existing directory; each table goes to @dir/<SIG>.dat (RSDP.dat,
 *	 XSDT.dat, FACP.dat, APIC.dat, DSDT.dat), ready for "iasl -d";
 *	 whatever has that name already is removed and a new file created
 *	 (a symlink is never followed, a FIFO never opened)
 *
 * Return: 0 or a negative errno (-EINVAL for a bad @cfg, or from open/write).
 */
int x86_acpi_dump(const struct boot_config *cfg, const char *dir);

#endif /* KESTREL_ARCH_X86_BOOT_H */
