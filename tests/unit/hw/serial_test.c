// SPDX-License-Identifier: GPL-2.0-only
/*
 * 16550A UART through the I/O bus: transmitted bytes reach out_fd (at a
 * newline, after the short idle delay, at destroy), LSR/IER/IIR/LCR/MCR/
 * MSR/SCR behave as a driver expects, the level interrupt follows IER and
 * the pending causes, input from a pipe arrives in the RX FIFO, loopback
 * and overrun.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kestrel/hw.h>
#include <kestrel/x86/layout.h>

#include "../test.h"
#include "../fake_vm.h"

#define BASE	X86_COM1_PORT
#define IRQ	X86_COM1_IRQ

static struct vm *vm;

static u8 rd(unsigned int r)
{
	return fake_inb(vm, BASE + r);
}

static void wr(unsigned int r, u8 v)
{
	fake_outb(vm, BASE + r, v);
}

static void tx(const char *s)
{
	for (; *s; s++)
		wr(UART_THR, (u8)*s);
}

/* Read what arrives on @fd within @ms into @buf (NUL-terminated). */
static size_t drain(int fd, char *buf, size_t size, int ms)
{
	size_t got = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (got + 1 < size && poll(&pfd, 1, ms) > 0) {
		ssize_t n = read(fd, buf + got, size - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		ms = 50;	/* then take whatever follows at once */
	}
	buf[got] = '\0';
	return got;
}

/* Wait up to 1 s for LSR.DR (input arrives on the UART's I/O thread). */
static bool wait_rx(void)
{
	for (int i = 0; i < 1000; i++) {
		if (rd(UART_LSR) & UART_LSR_DR)
			return true;
		usleep(1000);
	}
	return false;
}

static void test_output(int out_rd)
{
	char buf[256];
	struct timespec t0, t1;
	long ms;

	report_prefix_push("output");
	tx("hello\n");
	drain(out_rd, buf, sizeof(buf), 0);
	report_str(buf, "hello\n", "a line is written at its newline");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tx("prompt> ");
	drain(out_rd, buf, sizeof(buf), 1000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	report_str(buf, "prompt> ", "a partial line is flushed when idle");
	report_lt(ms, 500, "within %ld ms (promised ~20 ms)", ms);
	for (int i = 0; i < 5000; i++)
		wr(UART_THR, 'x');
	wr(UART_THR, '\n');
	report_gt(drain(out_rd, buf, sizeof(buf), 0), 0, "a long line is not held back");
	while (drain(out_rd, buf, sizeof(buf), 100) > 0)
		;
	report_prefix_pop();
}

static void test_registers(void)
{
	report_prefix_push("registers");
	report_eq((rd(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT)),
		  (UART_LSR_THRE | UART_LSR_TEMT), "LSR: transmitter empty");
	report_eq((rd(UART_LSR) & UART_LSR_DR), 0, "LSR: no data ready");
	wr(UART_SCR, 0x5a);
	report_eq(rd(UART_SCR), 0x5a, "SCR is scratch storage");
	wr(UART_LCR, UART_LCR_DLAB | 0x03);
	wr(UART_DLL, 0x0c);
	wr(UART_DLM, 0x00);
	check_eq(rd(UART_DLL), 0x0c);
	check_eq(rd(UART_DLM), 0);
	report_checks("DLAB: divisor latch 12 (9600 baud)");
	wr(UART_LCR, 0x03);
	report_eq(rd(UART_LCR), 0x03, "LCR 8N1 reads back");
	report_eq(rd(UART_IER), 0, "DLAB off: IER is separate from DLM");
	wr(UART_IER, 0xff);
	report_eq(rd(UART_IER), 0x0f, "IER keeps its four bits");
	wr(UART_IER, 0);
	rd(UART_IIR);
	report_eq(rd(UART_IIR), UART_IIR_NO_INT, "IIR: no interrupt pending");
	wr(UART_FCR, UART_FCR_ENABLE);
	report_eq((rd(UART_IIR) & UART_IIR_FIFO_ON), UART_IIR_FIFO_ON, "FIFO on shows in IIR");
	wr(UART_FCR, 0);
	report_eq((rd(UART_MSR) & (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)),
		  (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD), "MSR: far end ready");
	report_prefix_pop();
}

static void test_thr_irq(void)
{
	report_prefix_push("THRE interrupt");
	report(!fake_vm_irq_level(vm, IRQ), "line low with IER 0");
	wr(UART_IER, UART_IER_THRI);
	report(fake_vm_irq_level(vm, IRQ), "enabling THRI with THR empty raises it");
	report_eq(rd(UART_IIR), UART_IIR_THRI, "IIR says THRI");
	report(!fake_vm_irq_level(vm, IRQ), "reading IIR acknowledges it");
	report_eq(rd(UART_IIR), UART_IIR_NO_INT, "nothing pending afterwards");
	tx("\n");
	report(fake_vm_irq_level(vm, IRQ), "a THR write raises it again");
	wr(UART_IER, 0);
	report(!fake_vm_irq_level(vm, IRQ), "clearing IER lowers it");
	rd(UART_IIR);
	report_prefix_pop();
}

static void test_input(int in_wr)
{
	char got[8] = "";

	report_prefix_push("input");
	wr(UART_IER, UART_IER_RDI);
	report_eq(write(in_wr, "ok", 2), 2, "two bytes into the input pipe");
	report(wait_rx(), "LSR.DR set");
	for (int i = 0; i < 100 && !fake_vm_irq_level(vm, IRQ); i++)
		usleep(1000);
	report(fake_vm_irq_level(vm, IRQ), "RDI interrupt raised");
	report_eq(rd(UART_IIR), UART_IIR_RDI, "IIR says RDI");
	usleep(20000);		/* let both bytes land */
	got[0] = (char)rd(UART_RBR);
	got[1] = (char)rd(UART_RBR);
	report_str(got, "ok", "RBR reads them in order");
	report_eq((rd(UART_LSR) & UART_LSR_DR), 0, "DR clear once drained");
	report(!fake_vm_irq_level(vm, IRQ), "line low once drained");
	report_eq(rd(UART_RBR), 0, "RBR with nothing received reads 0");

	/* More than the 16-byte FIFO: the thread waits for room, nothing lost. */
	char big[40], back[41];
	unsigned int n = 0;

	for (unsigned int i = 0; i < sizeof(big); i++)
		big[i] = (char)('A' + i % 26);
	report_eq(write(in_wr, big, sizeof(big)), (ssize_t)sizeof(big), "40 bytes queued");
	while (n < sizeof(big) && wait_rx())
		back[n++] = (char)rd(UART_RBR);
	check_eq(n, sizeof(big));
	check_mem(back, big, sizeof(big));
	report_checks("all 40 read back in order through the 16-byte FIFO (%u)", n);
	wr(UART_IER, 0);
	report_prefix_pop();
}

static void test_loopback(void)
{
	report_prefix_push("loopback");
	wr(UART_MCR, UART_MCR_LOOP);
	rd(UART_MSR);
	report_eq((rd(UART_MSR) & 0xf0), 0, "MCR LOOP with no lines: MSR lines low");
	wr(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR | UART_MCR_OUT2);
	report_eq((rd(UART_MSR) & 0xf0), (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD),
		  "RTS/DTR/OUT2 loop back to CTS/DSR/DCD");
	wr(UART_THR, 0xa5);
	check_true(rd(UART_LSR) & UART_LSR_DR);
	check_eq(rd(UART_RBR), 0xa5);
	report_checks("a transmitted byte is received");
	for (int i = 0; i < 17; i++)
		wr(UART_THR, (u8)i);
	report(rd(UART_LSR) & UART_LSR_OE, "17 bytes overrun the FIFO: LSR.OE");
	report_eq((rd(UART_LSR) & UART_LSR_OE), 0, "OE clears when LSR is read");
	wr(UART_FCR, UART_FCR_CLEAR_RX);
	report_eq((rd(UART_LSR) & UART_LSR_DR), 0, "FCR clears the RX FIFO");
	wr(UART_MCR, 0);
	report_prefix_pop();
}

int main(void)
{
	struct serial *s = NULL, *dup = NULL;
	int in[2], out[2];
	char buf[64];

	report_prefix_push("serial");
	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) || pipe2(in, O_CLOEXEC) ||
	    pipe2(out, O_CLOEXEC) ||
	    serial_create(vm, BASE, IRQ, in[0], out[1], &s)) {
		report(false, "create");
		return report_summary();
	}
	report_err(serial_create(vm, BASE + 4, IRQ, -1, -1, &dup), -EEXIST,
		   "a second UART over the same ports: -EEXIST");
	test_output(out[0]);
	test_registers();
	test_thr_irq();
	test_input(in[1]);
	test_loopback();

	drain(out[0], buf, sizeof(buf), 50);	/* the THRE test's newline */
	tx("tail");
	wr(UART_IER, UART_IER_THRI);
	serial_destroy(s);
	drain(out[0], buf, sizeof(buf), 1000);
	report_str(buf, "tail", "destroy flushes what is left (%s)", buf);
	report(!fake_vm_irq_level(vm, IRQ), "destroy lowers the line");
	report_eq(fake_inb(vm, BASE + UART_LSR), 0xff, "and releases the ports");

	/* Input EOF ends input quietly; output -1 discards. */
	close(in[1]);
	report_eq(serial_create(vm, BASE, IRQ, in[0], -1, &s), 0, "re-create with a closed input");
	tx("discarded\n");
	usleep(20000);
	serial_destroy(s);
	report_eq(drain(out[0], buf, sizeof(buf), 50), 0, "out_fd -1 discards output");
	serial_destroy(NULL);
	close(in[0]);
	close(out[0]);
	close(out[1]);
	fake_vm_destroy(vm);
	report_prefix_pop();
	return report_summary();
}
