// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PONG test device (docs/pong.md): enumerate, enable, sense, ping-pong
 * over many rounds including the 999999999 wrap, a completion interrupt
 * per command, and the documented status of every bad request.
 */
#include "guest.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/pong.h"
#include "x86/processor.h"

#include <kestrel/x86/layout.h>

#define PONG_VEC	0x45
#define ROUNDS		200

static volatile u32 irqs;
static u16 base;

static void pong_irq(struct ex_regs *regs)
{
	irqs++;
	outb(base + PONG_REG_ISR, PONG_ISR_DONE);
}

static void test_enumerate(void)
{
	report(base == X86_PONG_PORT, "found at port %#x by its ID", base);
	report(inb(base + PONG_REG_VERSION) == PONG_VERSION, "version %u",
	       inb(base + PONG_REG_VERSION));
	report(inw(base + PONG_REG_ID + 2) == (PONG_ID >> 16),
	       "ID reads the same in halves");
	report(inb(base + PONG_REG_CTRL) == 0 && inb(base + PONG_REG_ISR) == 0,
	       "disabled, nothing pending at power-on");
}

static void test_disabled(void)
{
	u8 b;

	report(pong_cmd(base, PONG_CMD_SENSE_ID) == PONG_ST_DISABLED,
	       "SENSE ID while disabled: DISABLED");
	pong_write_data(base, "000000001", 9);
	report(pong_cmd(base, PONG_CMD_PING) == PONG_ST_DISABLED,
	       "PING while disabled: DISABLED");
	report(inb(base + PONG_REG_REQ_LEN) == 0, "the request was consumed");
	b = inb(base + PONG_REG_DATA);
	report(b == 0xff && pong_status(base) == PONG_ST_NO_DATA,
	       "DATA read with nothing to read: 0xff, NO_DATA");
	outb(base + PONG_REG_ISR, 0xff);
}

static void test_sense(void)
{
	struct pong_sense_id id;
	unsigned int before = irqs;

	outb(base + PONG_REG_CTRL, PONG_CTRL_ENABLE | PONG_CTRL_IRQ_ENABLE);
	report(inb(base + PONG_REG_CTRL) == (PONG_CTRL_ENABLE | PONG_CTRL_IRQ_ENABLE),
	       "enabled with interrupts");
	report(pong_cmd(base, PONG_CMD_SENSE_ID) == PONG_ST_OK, "SENSE ID: OK");
	report(apic_wait_count(&irqs, before + 1, 100) && irqs == before + 1,
	       "SENSE ID: completion interrupt");
	report(inb(base + PONG_REG_RESP_LEN) == sizeof(id), "SENSE ID: %u bytes",
	       inb(base + PONG_REG_RESP_LEN));
	report(pong_read_data(base, &id, sizeof(id)) == PONG_ST_OK, "SENSE ID: read");
	report(id.reserved == 0xff, "sense: first byte 0xff");
	report(id.cu_type == PONG_CU_TYPE, "sense: control-unit type %#x", id.cu_type);
	report(id.cu_model == PONG_CU_MODEL && id.dev_type == PONG_DEV_TYPE &&
	       id.dev_model == PONG_DEV_MODEL, "sense: models and device type");
}

static void test_ping(void)
{
	static const u32 starts[] = { 0, 9, 99, 123456789, 999999981 };
	unsigned int bad = 0, rounds = 0, before = irqs;
	u32 ans = 0;
	int st;

	for (unsigned int s = 0; s < ARRAY_SIZE(starts); s++) {
		u32 n = starts[s];

		for (unsigned int r = 0; r < ROUNDS / ARRAY_SIZE(starts); r++) {
			st = pong_ping(base, n, &ans);
			rounds++;
			apic_wait_count(&irqs, before + rounds, 100);
			if (st != PONG_ST_OK || ans != (n + 1) % 1000000000u) {
				if (!bad++)
					report_info("ping %09u: status %d, answer %09u",
						    n, st, ans);
			}
			n = ans + 1 > 999999999u ? 0 : ans + 1;	/* ping back n + 2 */
		}
	}
	report(!bad, "%u rounds of ping-pong", rounds);
	report(irqs == before + rounds, "one completion interrupt per PING (%u)",
	       irqs - before);

	st = pong_ping(base, 999999999, &ans);
	report(st == PONG_ST_OK && ans == 0, "999999999 + 1 wraps to 000000000");
	st = pong_ping(base, 999999998, &ans);
	report(st == PONG_ST_OK && ans == 999999999, "999999998 + 1 = 999999999");
	apic_wait_count(&irqs, irqs + 1, 100);
}

static void test_bad_requests(void)
{
	char ans[9];

	pong_write_data(base, "12345678", 8);
	report(pong_cmd(base, PONG_CMD_PING) == PONG_ST_BAD_LENGTH,
	       "8 digits: BAD_LENGTH");
	pong_write_data(base, "1234567890", 10);
	report(pong_cmd(base, PONG_CMD_PING) == PONG_ST_BAD_LENGTH,
	       "10 digits: BAD_LENGTH");
	report(pong_cmd(base, PONG_CMD_PING) == PONG_ST_BAD_LENGTH,
	       "empty request: BAD_LENGTH");
	for (int i = 0; i < 40; i++)
		outb(base + PONG_REG_DATA, '7');
	report(inb(base + PONG_REG_REQ_LEN) == PONG_REQ_MAX + 1,
	       "overlong request is counted, not stored");
	report(pong_cmd(base, PONG_CMD_PING) == PONG_ST_BAD_LENGTH,
	       "40 bytes: BAD_LENGTH");
	pong_write_data(base, "12345x789", 9);
	report(pong_cmd(base, PONG_CMD_PING) == PONG_ST_BAD_DIGIT,
	       "non-digit: BAD_DIGIT");
	pong_write_data(base, "-12345678", 9);
	report(pong_cmd(base, PONG_CMD_PING) == PONG_ST_BAD_DIGIT,
	       "sign: BAD_DIGIT");
	report(inb(base + PONG_REG_RESP_LEN) == 0, "failed PING leaves no response");
	report(pong_read_data(base, ans, 1) == PONG_ST_NO_DATA,
	       "read after failed PING: NO_DATA");
	report(pong_cmd(base, 0x77) == PONG_ST_BAD_CMD, "unknown command: BAD_CMD");
	report(pong_cmd(base, 0x00) == PONG_ST_BAD_CMD, "command 0: BAD_CMD");

	/* Reading past the answer. */
	pong_write_data(base, "000000041", 9);
	pong_cmd(base, PONG_CMD_PING);
	report(pong_read_data(base, ans, 9) == PONG_ST_OK && !memcmp(ans, "000000042", 9),
	       "41 -> 42");
	report(pong_read_data(base, ans, 1) == PONG_ST_NO_DATA,
	       "reading past the answer: NO_DATA");

	/* Writes to read-only registers change nothing. */
	outl(base + PONG_REG_ID, 0);
	outb(base + PONG_REG_VERSION, 9);
	report(inl(base + PONG_REG_ID) == PONG_ID &&
	       inb(base + PONG_REG_VERSION) == PONG_VERSION, "read-only registers hold");
	irq_window();
	outb(base + PONG_REG_ISR, PONG_ISR_DONE);
}

static void test_irq_off_and_reset(void)
{
	unsigned int before = irqs;
	u32 ans;

	outb(base + PONG_REG_CTRL, PONG_CTRL_ENABLE);
	pong_ping(base, 5, &ans);
	report(!apic_wait_count(&irqs, before + 1, 5), "no interrupt with IRQ_ENABLE clear");
	report(inb(base + PONG_REG_ISR) & PONG_ISR_DONE, "ISR still shows DONE");
	outb(base + PONG_REG_ISR, PONG_ISR_DONE);
	report(!(inb(base + PONG_REG_ISR) & PONG_ISR_DONE), "ISR acknowledged");

	outb(base + PONG_REG_CMD, PONG_CMD_RESET);
	report(inb(base + PONG_REG_CTRL) == 0 && inb(base + PONG_REG_ISR) == 0 &&
	       pong_status(base) == PONG_ST_OK, "RESET: back to power-on state");
	report(pong_cmd(base, PONG_CMD_PING) == PONG_ST_DISABLED, "RESET disables");
}

int main(void)
{
	report_prefix_push("pong");
	base = pong_probe();
	if (!base) {
		report_skip("no PONG device found on ports %#x-%#x", PONG_PROBE_FIRST,
			    PONG_PROBE_LAST + 0xf);
		return report_summary();
	}
	handle_irq(PONG_VEC, pong_irq);
	ioapic_route(X86_PONG_IRQ, PONG_VEC, false, (u8)apic_id());
	test_enumerate();
	test_disabled();
	test_sense();
	test_ping();
	test_bad_requests();
	test_irq_off_and_reset();
	report_prefix_pop();
	return report_summary();
}
