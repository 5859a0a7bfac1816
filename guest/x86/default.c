// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest kestrel boots when no --kernel is given: it greets, exercises
 * the platform devices, says what it did, and powers off through the i8042
 * reset line (kestrel exits 0). If something it tried did not work it
 * exits through the debug-exit port with a failure instead (status 3).
 */
#include "guest.h"
#include "x86/apic.h"
#include "x86/pong.h"
#include "x86/processor.h"
#include "x86/smp.h"

#include <kestrel/x86/layout.h>

static unsigned int problems;

static void step(bool ok, const char *what)
{
	printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
	if (!ok)
		problems++;
}

static bool uart_loopback(void)
{
	const u16 com = X86_COM1_PORT;
	bool ok;

	for (int i = 0; i < 64 && (inb(com + 5) & 0x01); i++)
		inb(com);			/* drop typed-ahead input */
	outb(com + 4, 0x10 | 0x03);		/* MCR: loopback, DTR, RTS */
	outb(com, 'k');
	ok = (inb(com + 5) & 0x01) && inb(com) == 'k';
	ok = ok && (inb(com + 6) & 0x30) == 0x30;	/* CTS, DSR follow RTS, DTR */
	outb(com + 4, 0x03);
	return ok;
}

static void pong_round(void)
{
	u16 base = pong_probe();
	struct pong_sense_id id;
	u32 ans = 0;
	bool ok;

	if (!base) {
		step(false, "PONG device: not found");
		return;
	}
	outb(base + PONG_REG_CTRL, PONG_CTRL_ENABLE);
	ok = pong_cmd(base, PONG_CMD_SENSE_ID) == PONG_ST_OK &&
	     pong_read_data(base, &id, sizeof(id)) == PONG_ST_OK &&
	     id.cu_type == PONG_CU_TYPE;
	ok = ok && pong_ping(base, 41, &ans) == PONG_ST_OK && ans == 42;
	outb(base + PONG_REG_CMD, PONG_CMD_RESET);
	printf("  PONG at port %#x: control unit %#x, ping 000000041 -> %09u\n", base,
	       id.cu_type, ans);
	step(ok, "PONG device: enumerate, enable, sense, ping-pong");
}

int main(void)
{
	struct cpuid_regs r = cpuid(0);
	char vendor[13];
	unsigned int cpus;

	memcpy(vendor, &r.b, 4);
	memcpy(vendor + 4, &r.d, 4);
	memcpy(vendor + 8, &r.c, 4);
	vendor[12] = '\0';

	printf("\nHello from kestrel's built-in guest.\n");
	printf("  running in 64-bit mode on a %s CPU (APIC ID %u)\n", vendor, apic_id());
	step(uart_loopback(), "16550 UART: console out, loopback in");
	pong_round();
	mmio_write8(X86_BOOT_TIMER_GPA, X86_BOOT_TIMER_MAGIC);
	step(true, "boot timer: marked \"userspace reached\"");
	cpus = cpu_count_expected();
	printf("  the machine has %u vCPU%s\n", cpus, cpus == 1 ? "" : "s");
	step(cpus >= 1, "vCPU count read from the CPU hot-plug port");
	if (problems) {
		printf("%u step(s) failed; exiting through the debug-exit port.\n", problems);
		guest_exit(1);
	}
	printf("All done: powering off through the i8042 reset line.\n");
	outb(X86_I8042_CMD_PORT, 0xfe);
	guest_exit(0);
}
