/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_X86_LAYOUT_H
#define KESTREL_X86_LAYOUT_H

/*
 * The x86 machine's guest-physical and port layout: one place for every
 * fixed address, so loaders, ACPI tables and devices agree.
 *
 *   0x0000_0000 .. RAM_32BIT_END   RAM (low part; first 1 MiB holds boot data)
 *   0xc000_0000 .. 0xcfff_ffff     PCI 32-bit MMIO window (BARs, docs/pci.md)
 *   0xd000_0000                    boot timer (MMIO, 4 KiB; bench-sink registers
 *                                  at +0x08..0x1f, see include/kestrel/hw.h)
 *   0xd000_1000 + n * 0x1000       virtio-mmio device n (n = 0..31), IRQ 10 + n % 6
 *   0xe000_0000 .. 0xe00f_ffff     PCI ECAM, bus 0 (ACPI MCFG; e820 reserved)
 *   0xfec0_0000                    IOAPIC
 *   0xfee0_0000                    LAPIC
 *   4 GiB ..                       RAM above what fits below the hole
 *   above RAM, 1 GiB aligned       PCI 64-bit MMIO window (X86_PCI_MMIO64_SIZE)
 */

#define X86_RAM_32BIT_END	0xc0000000ULL	/* 3 GiB: RAM below the MMIO hole */
#define X86_HIGH_RAM_START	0x100000000ULL	/* 4 GiB */
/*
 * Protected guests (docs/protected.md): RAM below this is ordinary (boot
 * data, the image, supervisor code and data, page tables, virtio rings and
 * buffers: what kestrel and its devices may reach); all RAM from here up is
 * private (guest_memfd). --protected needs more RAM than this.
 */
#define X86_PRIVATE_RAM_START	0x4000000ULL	/* 64 MiB */

/*
 * The measured launch (docs/protected.md, include/kestrel/launch.h): the
 * boot window, ordinary memory in a slot of its own outside RAM, removed
 * before the seal; the launch stub's port; and where the stub puts things
 * in private RAM: its launch area (struct launch_info, the ring-3 stack,
 * the command line), then the payload, linked at X86_LAUNCH_PAYLOAD_GPA
 * and entered at its first byte.
 */
#define X86_BOOT_WINDOW_GPA	0xd1000000ULL
#define X86_BOOT_WINDOW_MAX	0x0e000000ULL	/* 224 MiB, up to 0xdf000000 */
#define X86_LAUNCH_PORT		0x518		/* 4 ports: LAUNCH_PORT_DONE */
#define X86_LAUNCH_AREA_GPA	X86_PRIVATE_RAM_START
#define X86_LAUNCH_STACK_TOP	(X86_LAUNCH_AREA_GPA + 0x20000ULL)
#define X86_LAUNCH_CMDLINE_GPA	X86_LAUNCH_STACK_TOP
#define X86_LAUNCH_CMDLINE_MAX	0x10000ULL
#define X86_LAUNCH_PAYLOAD_GPA	(X86_PRIVATE_RAM_START + 0x200000ULL)

#define X86_BOOT_TIMER_GPA	0xd0000000ULL
#define X86_BOOT_TIMER_SIZE	0x1000ULL
#define X86_BOOT_TIMER_MAGIC	123		/* byte written at userspace start */
/* The exit-cost benchmark's sink: BOOTTIMER_REG_SINK of the boot timer. */
#define X86_BENCH_SINK_GPA	(X86_BOOT_TIMER_GPA + 0x08)

#define X86_VIRTIO_MMIO_BASE	0xd0001000ULL
#define X86_VIRTIO_MMIO_SIZE	0x1000ULL
#define X86_VIRTIO_MMIO_MAX	32

#define X86_IOAPIC_GPA		0xfec00000ULL
#define X86_IOAPIC_PINS		24
#define X86_LAPIC_GPA		0xfee00000ULL

/*
 * PCI (docs/pci.md): one host bridge, bus 0. Its 64-bit window starts at
 * the first 1 GiB boundary above RAM (machine.c computes it). INTx lines:
 * INTA# of slot s is GSI X86_PCI_INTX_GSI0 + s % X86_PCI_NR_INTX (INTB#..
 * INTD# follow), level and active low as the DSDT's _PRT says.
 */
#define X86_PCI_ECAM_GPA	0xe0000000ULL
#define X86_PCI_MMIO32_BASE	0xc0000000ULL
#define X86_PCI_MMIO32_SIZE	0x10000000ULL
#define X86_PCI_MMIO64_SIZE	0x1000000000ULL	/* 64 GiB */
#define X86_PCI_MMIO64_ALIGN	0x40000000ULL
#define X86_PCI_IO_BASE		0xc000
#define X86_PCI_IO_SIZE		0x4000
#define X86_PCI_INTX_GSI0	16
#define X86_PCI_NR_INTX		8

/* Port I/O and interrupt lines (GSIs). */
#define X86_COM1_PORT		0x3f8
#define X86_COM1_IRQ		4
#define X86_I8042_DATA_PORT	0x60
#define X86_I8042_CMD_PORT	0x64
#define X86_I8042_KBD_IRQ	1		/* the keyboard behind port 1 */
#define X86_I8042_AUX_IRQ	12
#define X86_DEBUG_EXIT_PORT	0xf4
#define X86_PONG_PORT		0x520		/* 16 ports */
#define X86_PONG_IRQ		5
#define X86_RTC_PORT		0x70		/* index 0x70, data 0x71 */
#define X86_RTC_IRQ		8
#define X86_CPU_HOTPLUG_PORT	0x514		/* test device: add a vCPU */
/*
 * ACPI fixed hardware (docs/acpi-pm.md): ICH9's PM block (PM1a_EVT at +0,
 * PM1a_CNT at +4, PM_TMR at +8), the SCI (level, active high: the MADT
 * overrides ISA IRQ 9 so) and the FACS, right after the RSDP in the
 * firmware area the e820 map reserves.
 */
#define X86_ACPI_PM_PORT	0x600		/* 12 ports */
#define X86_ACPI_SCI_IRQ	9
#define X86_ACPI_FACS_GPA	0xe0040ULL
/*
 * virtio-mmio device n raises X86_VIRTIO_MMIO_IRQ0 + n % X86_VIRTIO_MMIO_NR_IRQS:
 * ISA lines 10..15 default to edge/active-high, which is what irqfd gives.
 * Devices past the sixth share a line (src/arch/x86/machine.c places them).
 */
#define X86_VIRTIO_MMIO_IRQ0	10
#define X86_VIRTIO_MMIO_NR_IRQS	6

#endif /* KESTREL_X86_LAYOUT_H */
