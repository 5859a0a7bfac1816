// SPDX-License-Identifier: GPL-2.0-only
/*
 * AP bring-up and cross-CPU calls.
 *
 * Waiting never spins in ring 0 (every spin would be emulated): a waiting
 * CPU halts in apic_wait_count(), and is woken by an IPI from the CPU it
 * waits for or by a LAPIC timer tick that bounds the wait.
 */
#include "x86/smp.h"
#include "x86/acpi.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/processor.h"

#include <kestrel/x86/layout.h>

#define BRINGUP_TIMEOUT_MS	3000

struct mailbox {
	void (*volatile fn)(void *);
	void *volatile arg;
	volatile u32 requester;
	u32 posted;			/* calls posted; only the poster writes it */
	volatile u32 done;		/* calls finished; only the owner writes it */
};

extern char trampoline_start[], trampoline_end[];

static struct mailbox mailboxes[MAX_CPUS];
static volatile bool online[MAX_CPUS];
static volatile u32 nr_online = 1;

unsigned int smp_id(void)
{
	return cpuid(1).b >> 24;
}

unsigned int cpu_count(void)
{
	return READ_ONCE(nr_online);
}

bool cpu_online(unsigned int cpu)
{
	return cpu == 0 || (cpu < MAX_CPUS && online[cpu]);
}

/* ---- how many CPUs: kestrel's hot-plug port, else the ACPI MADT ---------- */

static unsigned int madt_count_cpus(void)
{
	const struct acpi_header *madt = acpi_find_table("APIC");
	unsigned int n = 0;

	if (!madt || madt->length > 65536)
		return 0;
	for (u32 off = sizeof(*madt) + 8; off + 2 <= madt->length;) {
		const u8 *e = (const u8 *)madt + off;

		if (e[1] < 2)
			break;
		if (e[0] == 0 && e[1] >= 8 && (e[4] & 1))
			n++;
		else if (e[0] == 9 && e[1] >= 16 && (e[8] & 1))
			n++;
		off += e[1];
	}
	return n;
}

unsigned int cpu_count_expected(void)
{
	u32 n = inl(X86_CPU_HOTPLUG_PORT);

	if (n >= 1 && n <= MAX_CPUS)
		return n;
	n = madt_count_cpus();
	return n ? MIN(n, MAX_CPUS) : 1;
}

/* ---- bring-up -------------------------------------------------------------- */

void ap_start(unsigned int cpu);

static void ap_idle(unsigned int cpu)
{
	struct mailbox *m = &mailboxes[cpu];

	for (;;) {
		void (*fn)(void *);

		irq_disable();
		fn = m->fn;
		if (!fn) {
			safe_halt();
			continue;
		}
		fn(m->arg);
		m->fn = NULL;
		__atomic_add_fetch(&m->done, 1, __ATOMIC_RELEASE);
		apic_icr_write(APIC_ICR_FIXED | IPI_WAKE_VECTOR, m->requester);
	}
}

void ap_start(unsigned int cpu)
{
	cpu_load_descriptors(cpu);
	apic_setup();
	online[cpu] = true;
	__atomic_add_fetch(&nr_online, 1, __ATOMIC_RELEASE);
	apic_icr_write(APIC_ICR_FIXED | IPI_WAKE_VECTOR, 0);
	ap_idle(cpu);
}

static void trampoline_install(void)
{
	memcpy(phys_ptr(TRAMPOLINE_ADDR), trampoline_start,
	       (size_t)(trampoline_end - trampoline_start));
}

unsigned int smp_init(void)
{
	unsigned int want = cpu_count_expected();

	if (want <= 1)
		return 1;
	trampoline_install();
	apic_icr_write(APIC_DEST_ALL_BUT_SELF | APIC_ICR_INIT | APIC_ICR_ASSERT |
		       APIC_ICR_LEVEL, 0);
	apic_icr_write(APIC_DEST_ALL_BUT_SELF | APIC_ICR_STARTUP |
		       (TRAMPOLINE_ADDR >> 12), 0);
	if (!apic_wait_count(&nr_online, want, BRINGUP_TIMEOUT_MS / 2))
		/* A second SIPI, as the MP spec asks, for a slow AP. */
		apic_icr_write(APIC_DEST_ALL_BUT_SELF | APIC_ICR_STARTUP |
			       (TRAMPOLINE_ADDR >> 12), 0);
	apic_wait_count(&nr_online, want, BRINGUP_TIMEOUT_MS / 2);
	return cpu_count();
}

void smp_forget_aps(void)
{
	for (unsigned int i = 1; i < MAX_CPUS; i++)
		online[i] = false;
	WRITE_ONCE(nr_online, 1);
}

bool smp_boot_cpu(unsigned int id)
{
	u32 want = cpu_count() + 1;

	if (id >= MAX_CPUS || online[id])
		return false;
	trampoline_install();
	apic_icr_write(APIC_ICR_INIT | APIC_ICR_ASSERT | APIC_ICR_LEVEL, id);
	apic_icr_write(APIC_ICR_STARTUP | (TRAMPOLINE_ADDR >> 12), id);
	if (!apic_wait_count(&nr_online, want, BRINGUP_TIMEOUT_MS / 2))
		apic_icr_write(APIC_ICR_STARTUP | (TRAMPOLINE_ADDR >> 12), id);
	apic_wait_count(&nr_online, want, BRINGUP_TIMEOUT_MS / 2);
	return online[id];
}

/* Post @fn to @cpu's mailbox; returns the done count that means "finished". */
static u32 mailbox_post(unsigned int cpu, void (*fn)(void *), void *arg)
{
	struct mailbox *m = &mailboxes[cpu];

	while (READ_ONCE(m->fn))
		apic_wait_count(&m->done, m->done + 1, 1);
	m->arg = arg;
	m->requester = smp_id();
	m->posted++;
	__atomic_store_n(&m->fn, fn, __ATOMIC_RELEASE);
	apic_icr_write(APIC_ICR_FIXED | IPI_WAKE_VECTOR, cpu);
	return m->posted;
}

void on_cpu_async(unsigned int cpu, void (*fn)(void *), void *arg)
{
	if (cpu == smp_id())
		fn(arg);
	else if (cpu_online(cpu))
		mailbox_post(cpu, fn, arg);
}

void on_cpu(unsigned int cpu, void (*fn)(void *), void *arg)
{
	u32 ticket;

	if (cpu == smp_id()) {
		fn(arg);
		return;
	}
	if (!cpu_online(cpu))
		return;
	ticket = mailbox_post(cpu, fn, arg);
	while (!apic_wait_count(&mailboxes[cpu].done, ticket, 1000))
		;	/* a CPU that never answers: the run's timeout ends it */
}
