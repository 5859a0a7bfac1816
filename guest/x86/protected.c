// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private memory of a protected guest (docs/protected.md), for the host
 * side in scripts/protected-check.py. Ring 3 (native on every host) fills
 * PAGES pages from X86_PRIVATE_RAM_START with a pattern computed at run
 * time (so it is not in this image), says so on the console and waits for
 * one byte on COM1: meanwhile the host looks for the pattern in kestrel's
 * memory. Then ring 3 reads it all back. Supervisor code never touches the
 * private range (on PVM it runs in KVM's emulator, which cannot reach it).
 *
 * Without --protected the same run puts the pattern in ordinary RAM, where
 * the host finds it: the control that shows the search works.
 */
#include "guest.h"
#include "x86/processor.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

#define PAGES		16
#define SECRET_BYTES	(PAGES * 4096ul)
#define COM1		0x3f8
#define COM1_LSR	(COM1 + 5)

/* byte i = (i * mul + 59) ^ (i >> 8) ^ 0xa5; mul (167) read at run time */
static volatile u64 secret_mul = 167;

static u64 user_fill(void *arg)
{
	u8 *p = (u8 *)X86_PRIVATE_RAM_START;
	u64 mul = secret_mul;

	for (u64 i = 0; i < SECRET_BYTES; i++)
		p[i] = (u8)((i * mul + 59) ^ (i >> 8) ^ 0xa5);
	return 0;
}

/* Number of bytes that differ from the pattern. */
static u64 user_check(void *arg)
{
	const volatile u8 *p = (const volatile u8 *)X86_PRIVATE_RAM_START;
	u64 mul = secret_mul, bad = 0;

	for (u64 i = 0; i < SECRET_BYTES; i++)
		bad += p[i] != (u8)((i * mul + 59) ^ (i >> 8) ^ 0xa5);
	return bad;
}

int main(void)
{
	u64 bad;

	report_prefix_push("protected");
	run_in_user(user_fill, NULL);
	printf("protected: secret in place, waiting for the host\n");
	while (!(inb(COM1_LSR) & 1))
		;
	(void)inb(COM1);
	bad = run_in_user(user_check, NULL);
	report(bad == 0, "ring 3 reads back all %lu bytes it wrote to private RAM (%lu differ)",
	       SECRET_BYTES, bad);
	report_prefix_pop();
	return report_summary();
}
