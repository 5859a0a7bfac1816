// SPDX-License-Identifier: GPL-2.0-only
/*
 * PONG (docs/pong.md) driven through the I/O bus as a guest would: found
 * by probing, enabled, sensed (control-unit type 0xc0ca), ping-pong
 * including the 999999999 wrap, every error status, the completion
 * interrupt raised and acknowledged, RESET, and hostile accesses.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kestrel/hw.h>
#include <kestrel/x86/layout.h>

#include "../test.h"
#include "../fake_vm.h"

#define BASE	X86_PONG_PORT
#define IRQ	X86_PONG_IRQ

static struct vm *vm;

static u8 reg(unsigned int r)
{
	return fake_inb(vm, BASE + r);
}

static void cmd(u8 c)
{
	fake_outb(vm, BASE + PONG_REG_CMD, c);
}

static void send(const char *s)
{
	for (; *s; s++)
		fake_outb(vm, BASE + PONG_REG_DATA, (u8)*s);
}

/* Read @n response bytes into @buf (NUL-terminated). */
static void recv(char *buf, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		buf[i] = (char)reg(PONG_REG_DATA);
	buf[n] = '\0';
}

static void ack(void)
{
	fake_outb(vm, BASE + PONG_REG_ISR, PONG_ISR_DONE);
}

/* PING @in; true if the answer is @want with status OK and DONE set. */
static bool ping(const char *in, const char *want)
{
	char out[PONG_DIGITS + 1];
	bool ok;

	send(in);
	cmd(PONG_CMD_PING);
	ok = reg(PONG_REG_STATUS) == PONG_ST_OK && (reg(PONG_REG_ISR) & PONG_ISR_DONE) &&
	     reg(PONG_REG_RESP_LEN) == PONG_DIGITS;
	recv(out, PONG_DIGITS);
	ack();
	return ok && !strcmp(out, want) && reg(PONG_REG_RESP_LEN) == 0;
}

static void test_enumerate(void)
{
	u16 found = 0;
	u32 v;

	report_prefix_push("enumerate");
	for (u16 port = 0x500; port <= 0x5f0 && !found; port += 0x10) {
		if (!fake_vm_pio_read(vm, port, &v, 4) && v == PONG_ID)
			found = port;
		else if (port < BASE && v != 0xffffffff)
			report(false, "empty port %#x reads %#x", port, v);
	}
	report_eq(found, BASE, "found by its ID at %#x", found);
	report_eq(reg(PONG_REG_VERSION), PONG_VERSION, "version %u", PONG_VERSION);
	check_eq(reg(PONG_REG_ID), 'P');
	check_eq(reg(PONG_REG_ID + 3), 'G');
	report_checks("ID bytes read P..G in port order");
	check_eq(reg(PONG_REG_CTRL), 0);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_OK);
	check_eq(reg(PONG_REG_ISR), 0);
	report_checks("power-on state: disabled, OK, no interrupt");
	report(!fake_vm_irq_level(vm, IRQ), "line low at power-on");
	report_prefix_pop();
}

static void test_disabled(void)
{
	report_prefix_push("disabled");
	cmd(PONG_CMD_SENSE_ID);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_DISABLED, "SENSE_ID before enable: DISABLED");
	report(reg(PONG_REG_ISR) & PONG_ISR_DONE, "and still completes (ISR.DONE)");
	report(!fake_vm_irq_level(vm, IRQ), "no interrupt with IRQ_ENABLE clear");
	report_eq(reg(PONG_REG_RESP_LEN), 0, "no response");
	send("000000001");
	cmd(PONG_CMD_PING);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_DISABLED);
	check_eq(reg(PONG_REG_REQ_LEN), 0);
	report_checks("PING before enable: DISABLED, request consumed");
	ack();
	report_eq(reg(PONG_REG_ISR), 0, "ISR acknowledged by writing 1s");
	report_prefix_pop();
}

static void test_enable_and_irq(void)
{
	report_prefix_push("irq");
	fake_outb(vm, BASE + PONG_REG_CTRL, 0xff);
	report_eq(reg(PONG_REG_CTRL), PONG_CTRL_MASK, "CTRL keeps only its two bits");
	fake_outb(vm, BASE + PONG_REG_CTRL, PONG_CTRL_ENABLE);
	cmd(PONG_CMD_SENSE_ID);
	report(!fake_vm_irq_level(vm, IRQ), "DONE without IRQ_ENABLE: line low");
	fake_outb(vm, BASE + PONG_REG_CTRL, PONG_CTRL_ENABLE | PONG_CTRL_IRQ_ENABLE);
	report(fake_vm_irq_level(vm, IRQ), "setting IRQ_ENABLE with DONE pending raises it");
	ack();
	report(!fake_vm_irq_level(vm, IRQ), "acknowledging DONE lowers it");
	cmd(0x7f);
	report(fake_vm_irq_level(vm, IRQ), "a failed command interrupts too");
	fake_outb(vm, BASE + PONG_REG_ISR, 0);
	report(fake_vm_irq_level(vm, IRQ), "writing 0 to ISR acknowledges nothing");
	fake_outb(vm, BASE + PONG_REG_CTRL, PONG_CTRL_ENABLE);
	report(!fake_vm_irq_level(vm, IRQ), "clearing IRQ_ENABLE lowers it");
	fake_outb(vm, BASE + PONG_REG_CTRL, PONG_CTRL_ENABLE | PONG_CTRL_IRQ_ENABLE);
	ack();
	report(!fake_vm_irq_level(vm, IRQ), "low after the ack");
	report_prefix_pop();
}

static void test_sense(void)
{
	struct pong_sense_id id;
	unsigned int edges = fake_vm_irq_edges(vm, IRQ);
	u8 *b = (u8 *)&id;

	report_prefix_push("sense");
	cmd(PONG_CMD_SENSE_ID);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_OK, "status OK");
	check_true(fake_vm_irq_level(vm, IRQ));
	check_eq(fake_vm_irq_edges(vm, IRQ), edges + 1);
	report_checks("completion interrupt raised once");
	report_eq(reg(PONG_REG_RESP_LEN), sizeof(id), "8-byte record pending");
	for (unsigned int i = 0; i < sizeof(id); i++)
		b[i] = reg(PONG_REG_DATA);
	report_eq(id.reserved, 0xff, "reserved byte 0xff");
	report_eq(le16_to_cpu(id.cu_type), 0xc0ca, "control-unit type %#x",
		  le16_to_cpu(id.cu_type));
	check_eq(id.cu_model, PONG_CU_MODEL);
	check_eq(le16_to_cpu(id.dev_type), PONG_DEV_TYPE);
	check_eq(id.dev_model, PONG_DEV_MODEL);
	check_eq(id.pad, 0);
	report_checks("models, device type, pad");
	check_eq(reg(PONG_REG_DATA), 0xff);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_NO_DATA);
	report_checks("reading past the record: 0xff and NO_DATA");
	ack();
	report(!fake_vm_irq_level(vm, IRQ), "ack lowers the line");
	report_prefix_pop();
}

static void test_ping(void)
{
	char in[16], want[16];
	unsigned long n = 123456;
	unsigned int bad = 0, edges;
	u32 v;

	report_prefix_push("ping");
	report(ping("000000041", "000000042"), "41 -> 42 (leading zeros kept)");
	report(ping("000000000", "000000001"), "0 -> 1");
	report(ping("000000009", "000000010"), "carry into the next digit");
	report(ping("199999999", "200000000"), "carry through eight digits");
	report(ping("999999998", "999999999"), "999999998 -> 999999999");
	report(ping("999999999", "000000000"), "999999999 wraps to 000000000");

	/* 4-byte accesses: DATA is four ports wide. */
	memcpy(&v, "1234", 4);
	fake_vm_pio_write(vm, BASE + PONG_REG_DATA, v, 4);
	memcpy(&v, "5678", 4);
	fake_vm_pio_write(vm, BASE + PONG_REG_DATA, v, 4);
	fake_outb(vm, BASE + PONG_REG_DATA, '8');
	report_eq(reg(PONG_REG_REQ_LEN), 9, "two 4-byte and one 1-byte write: 9 bytes");
	cmd(PONG_CMD_PING);
	fake_vm_pio_read(vm, BASE + PONG_REG_DATA, &v, 4);
	memcpy(in, &v, 4);
	fake_vm_pio_read(vm, BASE + PONG_REG_DATA, &v, 4);
	memcpy(in + 4, &v, 4);
	in[8] = (char)reg(PONG_REG_DATA);
	in[9] = '\0';
	report_str(in, "123456789", "4-byte reads of the answer: %s", in);
	ack();

	edges = fake_vm_irq_edges(vm, IRQ);
	for (unsigned int round = 0; round < 1000; round++, n++) {
		snprintf(in, sizeof(in), "%09lu", n);
		snprintf(want, sizeof(want), "%09lu", n + 1);
		bad += !ping(in, want);
	}
	report_eq(bad, 0, "1000 rounds, each answered n + 1 (%u wrong)", bad);
	report_eq(fake_vm_irq_edges(vm, IRQ), edges + 2000,
		  "one interrupt raised and acknowledged per round");
	report_prefix_pop();
}

static void test_errors(void)
{
	report_prefix_push("errors");
	cmd(0x00);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_CMD, "command 0x00: BAD_CMD");
	cmd(0x04);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_CMD, "command 0x04: BAD_CMD");
	send("000000001");
	cmd(0xff);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_CMD);
	check_eq(reg(PONG_REG_REQ_LEN), 0);
	report_checks("command 0xff: BAD_CMD, request consumed");
	report(fake_vm_irq_level(vm, IRQ), "a failed command raises the interrupt");
	ack();

	cmd(PONG_CMD_PING);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_LENGTH, "empty PING: BAD_LENGTH");
	send("12345678");
	cmd(PONG_CMD_PING);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_LENGTH, "8 digits: BAD_LENGTH");
	send("1234567890");
	cmd(PONG_CMD_PING);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_LENGTH, "10 digits: BAD_LENGTH");
	for (int i = 0; i < 100; i++)
		fake_outb(vm, BASE + PONG_REG_DATA, '1');
	report_eq(reg(PONG_REG_REQ_LEN), PONG_REQ_MAX + 1, "REQ_LEN saturates at 17");
	cmd(PONG_CMD_PING);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_LENGTH);
	check_eq(reg(PONG_REG_RESP_LEN), 0);
	report_checks("100 bytes (FIFO overflow): BAD_LENGTH, no response");

	send("12345678a");
	cmd(PONG_CMD_PING);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_DIGIT, "'a': BAD_DIGIT");
	send("/00000000");
	cmd(PONG_CMD_PING);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_DIGIT, "'/' (below '0'): BAD_DIGIT");
	send("0000:0000");
	cmd(PONG_CMD_PING);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_DIGIT, "':' (above '9'): BAD_DIGIT");
	send("-00000001");
	cmd(PONG_CMD_PING);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_BAD_DIGIT);
	check_eq(reg(PONG_REG_RESP_LEN), 0);
	report_checks("a sign: BAD_DIGIT, no response");
	check_eq(reg(PONG_REG_DATA), 0xff);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_NO_DATA);
	report_checks("DATA read after a failed command: 0xff, NO_DATA");
	ack();
	report(ping("000000007", "000000008"), "the device works after all that");
	check_eq(reg(PONG_REG_DATA), 0xff);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_NO_DATA);
	report_checks("reading past the answer: NO_DATA");
	report_prefix_pop();
}

static void test_registers(void)
{
	u32 v;

	report_prefix_push("registers");
	fake_outb(vm, BASE + PONG_REG_ID, 0);
	fake_outb(vm, BASE + PONG_REG_VERSION, 7);
	fake_outb(vm, BASE + PONG_REG_STATUS, 0x42);
	fake_outb(vm, BASE + PONG_REG_RESP_LEN, 5);
	check_eq(fake_vm_pio_read(vm, BASE, &v, 4), 0);
	check_eq(v, PONG_ID);
	check_eq(reg(PONG_REG_VERSION), PONG_VERSION);
	check_eq(reg(PONG_REG_RESP_LEN), 0);
	report_checks("writes to read-only registers are ignored");
	check_eq(reg(PONG_REG_CMD), 0);
	check_eq(reg(PONG_REG_RSVD), 0);
	report_checks("CMD and the reserved port read 0");
	report_ne(fake_vm_pio_read(vm, BASE + 14, &v, 4), 0,
		  "a read crossing the end of the ports is refused");
	check_eq(fake_vm_pio_write(vm, BASE + 12, 0x01010101, 4), 0);
	check_ne(reg(PONG_REG_STATUS), PONG_ST_BUSY);
	report_checks("a 4-byte write over REQ_LEN..RSVD changes nothing it should not");
	report_prefix_pop();
}

static void test_reset(void)
{
	unsigned int edges;

	report_prefix_push("reset");
	send("000000001");
	cmd(PONG_CMD_PING);
	report(fake_vm_irq_level(vm, IRQ), "a completion pending");
	send("12");
	edges = fake_vm_irq_edges(vm, IRQ);
	cmd(PONG_CMD_RESET);
	check_eq(reg(PONG_REG_STATUS), PONG_ST_OK);
	check_eq(reg(PONG_REG_ISR), 0);
	check_eq(reg(PONG_REG_CTRL), 0);
	report_checks("RESET: OK, ISR 0, CTRL 0");
	check_eq(reg(PONG_REG_REQ_LEN), 0);
	check_eq(reg(PONG_REG_RESP_LEN), 0);
	report_checks("request and response emptied");
	check_false(fake_vm_irq_level(vm, IRQ));
	check_eq(fake_vm_irq_edges(vm, IRQ), edges + 1);
	report_checks("line lowered, no new interrupt");
	cmd(PONG_CMD_SENSE_ID);
	report_eq(reg(PONG_REG_STATUS), PONG_ST_DISABLED, "disabled again after RESET");
	ack();
	report_prefix_pop();
}

int main(void)
{
	struct pong *p = NULL, *dup = NULL;

	report_prefix_push("pong");
	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) || pong_create(vm, BASE, IRQ, &p)) {
		report(false, "create");
		return report_summary();
	}
	report_err(pong_create(vm, BASE + 8, IRQ, &dup), -EEXIST,
		   "a second device over the same ports: -EEXIST");
	test_enumerate();
	test_disabled();
	test_enable_and_irq();
	test_sense();
	test_ping();
	test_errors();
	test_registers();
	test_reset();

	fake_outb(vm, BASE + PONG_REG_CTRL, PONG_CTRL_ENABLE | PONG_CTRL_IRQ_ENABLE);
	cmd(PONG_CMD_SENSE_ID);
	report(fake_vm_irq_level(vm, IRQ), "line high before destroy");
	pong_destroy(p);
	report(!fake_vm_irq_level(vm, IRQ), "destroy lowers the line");
	report_eq(fake_inb(vm, BASE), 0xff, "and releases the ports");
	pong_destroy(NULL);
	fake_vm_destroy(vm);
	report_prefix_pop();
	return report_summary();
}
