// SPDX-License-Identifier: GPL-2.0-only
/*
 * The measured launch's test payload (docs/protected.md): a flat image
 * (guest/x86/payload.lds) the launch stub copies into private RAM, checks
 * and enters in ring 3. It checks what the stub promises and prints what
 * the host side compares:
 *  - it runs from private RAM, called with a struct launch_info;
 *  - "payload: measurement HEX", the stub's value, for the host to compare
 *    with the one kestrel printed;
 *  - its command line arrived ("payload: cmdline '...'"), and the initrd,
 *    if any, holds the bytes the test wrote (their sum is printed);
 *  - the boot window is gone: its first bytes read as no memory (all ones),
 *    through the gate and natively in ring 3 (no mapping of it survives);
 *  - its data survive in private RAM (a pattern written and read back).
 * Port I/O and MMIO go through the stub's gate (struct launch_info): on
 * PVM ring 3 may not do port I/O, and an instruction that exits to KVM
 * cannot sit in private RAM.
 * "wait" on the command line: it waits for a byte on COM1 first (the
 * host searches kestrel's memory meanwhile, scripts/launch-scan.py).
 * "reset" on the command line: it resets the machine through the i8042
 * instead of exiting (for --reboot: the stub runs, and measures, again).
 */
#include "guest.h"

#define LAUNCH_FORMATS_ONLY
#include <kestrel/launch.h>
#include <kestrel/x86/layout.h>

u64 payload_main(const struct launch_info *info);

static u64 (*gate)(u64 op, u64 addr, u64 value);

/* The console and the way out, through the stub's gate. */
void console_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		gate(LAUNCH_GATE_OUT8, 0x3f8, (u8)s[i]);
}

void guest_exit(int code)
{
	gate(LAUNCH_GATE_OUT8, 0xf4, (u8)code);
	for (;;)
		;
}

/*
 * A native ring-3 load of @addr, by code in the last page of shared RAM:
 * an access that exits to KVM must not be fetched from private RAM. Where
 * nothing is mapped it exits to kestrel as MMIO (all ones); a mapping KVM
 * kept from the stub's copy would read the zeroed window instead.
 */
#define PROBE_GPA	(X86_PRIVATE_RAM_START - 0x1000)

static u64 native_read64(u64 addr)
{
	static const u8 load[] = { 0x48, 0x8b, 0x07, 0xc3 };	/* mov (%rdi), %rax; ret */

	memcpy((void *)PROBE_GPA, load, sizeof(load));
	return ((u64 (*)(u64))PROBE_GPA)(addr);
}

static u8 scratch[4096];
static volatile u32 mul = 131;

static bool has_word(const char *s, const char *w)
{
	size_t n = strlen(w);

	for (; *s; s++)
		if ((s[0] != ' ') && !memcmp(s, w, n) && (s[n] == ' ' || !s[n]))
			return true;
	return false;
}

__attribute__((section(".text.payload_entry")))
u64 payload_main(const struct launch_info *info)
{
	const char *cmdline = (const char *)info->cmdline;
	u64 sum = 0, bad = 0, w0, w1, n0;

	gate = (u64 (*)(u64, u64, u64))info->gate;

	report_prefix_push("payload");
	report(info->magic == LAUNCH_INFO_MAGIC, "called with the launch info");
	report((u64)&payload_main == X86_LAUNCH_PAYLOAD_GPA &&
	       (u64)&payload_main >= X86_PRIVATE_RAM_START,
	       "runs from private RAM at %#lx", (u64)&payload_main);
	printf("payload: measurement ");
	for (unsigned int i = 0; i < 32; i++)
		printf("%02x", info->measurement[i]);
	printf("\npayload: cmdline '%s'\n", cmdline);
	for (u64 i = 0; i < info->initrd_len; i++)
		sum += ((const u8 *)info->initrd)[i];
	printf("payload: initrd %lu bytes, sum %lu\n", info->initrd_len, sum);
	w0 = gate(LAUNCH_GATE_READ64, info->window, 0);
	w1 = gate(LAUNCH_GATE_READ64, info->window + 8, 0);
	report(w0 == ~0ull && w1 == ~0ull,
	       "the boot window at %#lx is gone (reads %#lx)", info->window, w0);
	n0 = native_read64(info->window);
	report(n0 == ~0ull, "the boot window is gone natively too (reads %#lx)", n0);
	for (unsigned int i = 0; i < sizeof(scratch); i++)
		scratch[i] = (u8)(i * mul);
	for (unsigned int i = 0; i < sizeof(scratch); i++)
		bad += scratch[i] != (u8)(i * mul);
	report(!bad && info->free_start <= info->ram_end,
	       "its data in private RAM read back (%lu differ)", bad);
	if (has_word(cmdline, "wait")) {
		/* The host searches kestrel's memory meanwhile (launch-scan.py). */
		printf("payload: waiting for the host\n");
		while (!(gate(LAUNCH_GATE_IN8, 0x3fd, 0) & 1))
			;
		gate(LAUNCH_GATE_IN8, 0x3f8, 0);
		printf("payload: the host is done\n");
	}
	if (has_word(cmdline, "reset")) {
		printf("payload: resetting through the i8042\n");
		gate(LAUNCH_GATE_OUT8, 0x64, 0xfe);
		for (;;)
			;
	}
	report_prefix_pop();
	return report_summary();
}
