/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_SMP_H
#define GUEST_X86_SMP_H

/*
 * SMP: bring-up of the application processors (INIT-SIPI-SIPI through a
 * real-mode trampoline), CPU numbering (CPU n has APIC ID n), and running
 * a function on another CPU. Idle APs halt with interrupts on; on_cpu()
 * wakes them with an IPI, so waiting CPUs cost no emulated cycles.
 */
#include "guest.h"
#include "x86/asm-defs.h"

struct spinlock {
	volatile u32 v;
};

static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))
		while (READ_ONCE(l->v))
			__asm__ __volatile__("pause");
}

static inline void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
}

/* This CPU's number (its APIC ID, from CPUID leaf 1). */
unsigned int smp_id(void);
/* CPUs brought up and checked in. */
unsigned int cpu_count(void);
/* CPUs the machine says it has (before bring-up: kestrel's port or MADT). */
unsigned int cpu_count_expected(void);
bool cpu_online(unsigned int cpu);

/* Bring up every AP; returns how many CPUs are online. */
unsigned int smp_init(void);

/**
 * smp_boot_cpu() - INIT-SIPI-SIPI one APIC ID (e.g. a hot-added vCPU) and
 * wait (bounded) for it to check in. Return: true if it did.
 */
bool smp_boot_cpu(unsigned int apic_id);

/*
 * smp_forget_aps() - count every AP offline again, as after a platform reset
 * of the processors (an ACPI S3 wake puts them back in wait-for-INIT), so
 * that smp_boot_cpu() starts them afresh. Requests posted to them stay in
 * their mailboxes and run once they are up.
 */
void smp_forget_aps(void);

/* Run @fn(@arg) on @cpu and wait for it to return. */
void on_cpu(unsigned int cpu, void (*fn)(void *), void *arg);
/* Same, without waiting. */
void on_cpu_async(unsigned int cpu, void (*fn)(void *), void *arg);

#endif /* GUEST_X86_SMP_H */
