/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_APIC_H
#define GUEST_X86_APIC_H

/* xAPIC (MMIO) and IOAPIC access. */
#include "guest.h"

#define APIC_BASE	0xfee00000ul
#define APIC_ID		0x020
#define APIC_VERSION	0x030
#define APIC_TPR	0x080
#define APIC_EOI	0x0b0
#define APIC_SVR	0x0f0
#define APIC_ISR	0x100
#define APIC_IRR	0x200
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define APIC_LVT_TIMER	0x320
#define APIC_LVT_LINT0	0x350
#define APIC_LVT_LINT1	0x360
#define APIC_LVT_ERROR	0x370
#define APIC_TMICT	0x380
#define APIC_TMCCT	0x390
#define APIC_TDCR	0x3e0

#define APIC_SVR_ENABLE		(1u << 8)
#define APIC_LVT_MASKED		(1u << 16)
#define APIC_TIMER_PERIODIC	(1u << 17)
#define APIC_ICR_FIXED		0x000
#define APIC_ICR_INIT		0x500
#define APIC_ICR_STARTUP	0x600
#define APIC_ICR_BUSY		(1u << 12)
#define APIC_ICR_ASSERT		(1u << 14)
#define APIC_ICR_LEVEL		(1u << 15)
#define APIC_DEST_SELF		(1u << 18)
#define APIC_DEST_ALL_BUT_SELF	(3u << 18)

/**
 * apic_wait_count() - halt until *@p >= @val, at most ~@ms milliseconds
 *
 * Halts (no emulated spinning) between checks; woken by an IPI_WAKE_VECTOR
 * IPI or a 1 ms LAPIC timer tick (which it owns while waiting).
 * Returns with interrupts disabled. Return: true if the count was reached.
 */
bool apic_wait_count(volatile u32 *p, u32 val, unsigned int ms);

/*
 * irq_window() - let pending interrupts in: halt with interrupts on until
 * the first one (or a 50 us timer tick). On PVM hosts a bare "sti; nop; cli"
 * is not enough: the emulator only injects at a halt or an exit.
 */
void irq_window(void);
void apic_wait_setup(void);

#define IOAPIC_BASE	0xfec00000ul

u32 apic_read(unsigned int reg);
void apic_write(unsigned int reg, u32 v);
u32 apic_id(void);
void apic_eoi(void);
/* Enable this CPU's LAPIC: software enable, LINT0/LINT1/timer masked. */
void apic_setup(void);
/* Send an IPI: @icr_lo holds vector, delivery mode and shorthand. */
void apic_icr_write(u32 icr_lo, u32 dest);
void apic_self_ipi(u8 vec);

/* Route IOAPIC pin @pin to @vec on APIC @dest (fixed, physical). */
void ioapic_route(unsigned int pin, u8 vec, bool level, u8 dest);
void ioapic_mask(unsigned int pin);
u32 ioapic_read(unsigned int reg);
void ioapic_write(unsigned int reg, u32 v);

#endif /* GUEST_X86_APIC_H */
