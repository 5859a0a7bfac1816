// SPDX-License-Identifier: GPL-2.0-only
/*
 * The small platform devices through the I/O bus: debug-exit's status
 * (v << 1) | 1, the i8042's reset line (0xfe and the output port) and the
 * probe answers, its keyboard (the commands Linux's atkbd sends, scan code
 * translation, Ctrl+Alt+Del and IRQ 1), the boot timer's bench-sink
 * registers, and the CPU hot-plug port.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <kestrel/hw.h>
#include <kestrel/x86/layout.h>

#include "../test.h"
#include "../fake_vm.h"

static void test_debugexit(void)
{
	static const struct {
		u32 v;
		unsigned int len;
		int status;
	} cases[] = {
		{ 0, 1, 1 }, { 1, 1, 3 }, { 38, 1, 77 }, { 0x1234, 2, 0x2469 },
		{ 0x100000, 4, 0x200001 },
	};
	struct debugexit *d = NULL;
	struct vm *vm;
	u32 v;

	report_prefix_push("debug-exit");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) ||
		    debugexit_create(vm, X86_DEBUG_EXIT_PORT, &d)) {
			report(false, "create");
			fake_vm_destroy(vm);
			break;
		}
		fake_vm_pio_write(vm, X86_DEBUG_EXIT_PORT, cases[i].v, cases[i].len);
		check_eq(vm_stop_reason(vm), VM_STOP_EXIT);
		check_eq(vm_stop_status(vm), cases[i].status);
		report_checks("%u-byte write of %#x: exit status %#x", cases[i].len, cases[i].v,
			      vm_stop_status(vm));
		debugexit_destroy(d);
		fake_vm_destroy(vm);
	}

	if (!fake_vm_create(FAKE_VM_MIN_RAM, &vm) &&
	    !debugexit_create(vm, X86_DEBUG_EXIT_PORT, &d)) {
		check_eq(fake_vm_pio_read(vm, X86_DEBUG_EXIT_PORT, &v, 4), 0);
		check_eq(v, 0);
		report_checks("reads return 0");
		fake_outb(vm, X86_DEBUG_EXIT_PORT + 1, 5);
		report_eq(fake_vm_stops(vm), 0, "a write at port+1 does not stop the VM");
		report_err(debugexit_create(vm, X86_DEBUG_EXIT_PORT, &(struct debugexit *){ 0 }),
			   -EEXIST, "a second device on the port: -EEXIST");
		debugexit_destroy(d);
		report_eq(fake_inb(vm, X86_DEBUG_EXIT_PORT), 0xff, "destroy releases the port");
	} else {
		report(false, "create");
	}
	debugexit_destroy(NULL);
	fake_vm_destroy(vm);
	report_prefix_pop();
}

#define KBD_IRQ	X86_I8042_KBD_IRQ
#define AUX_IRQ	X86_I8042_AUX_IRQ

static u8 i8042_status(struct vm *vm)
{
	return fake_inb(vm, X86_I8042_CMD_PORT);
}

static void test_i8042(void)
{
	struct i8042 *i = NULL;
	struct vm *vm;
	u8 ctr;

	report_prefix_push("i8042");
	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) || i8042_create(vm, &i)) {
		report(false, "create");
		goto out;
	}
	report_eq((i8042_status(vm) & I8042_STATUS_OBF), 0, "nothing to read at start");
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_SELF_TEST);
	report_eq((i8042_status(vm) & (I8042_STATUS_OBF | I8042_STATUS_CMD)),
		  (I8042_STATUS_OBF | I8042_STATUS_CMD),
		  "self-test: output full, last write a command");
	report_eq(fake_inb(vm, X86_I8042_DATA_PORT), 0x55, "self-test answers 0x55");
	report(i8042_status(vm) & I8042_STATUS_SYS, "system flag set after self-test");
	report(i8042_status(vm) & I8042_STATUS_UNLOCKED, "keyboard not locked (no Keylock warning)");
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_KBD_TEST);
	report_eq(fake_inb(vm, X86_I8042_DATA_PORT), 0x00, "keyboard interface test: 0x00");

	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_WRITE_CTR);
	fake_outb(vm, X86_I8042_DATA_PORT, 0x47);
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_READ_CTR);
	ctr = fake_inb(vm, X86_I8042_DATA_PORT);
	report_eq(ctr, 0x47, "configuration byte written and read back (%#x)", ctr);

	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_KBD_LOOP);
	fake_outb(vm, X86_I8042_DATA_PORT, 0xab);
	report(fake_vm_irq_level(vm, KBD_IRQ), "keyboard loopback raises IRQ 1 (KBDINT on)");
	report_eq(fake_inb(vm, X86_I8042_DATA_PORT), 0xab, "and echoes the byte");
	report(!fake_vm_irq_level(vm, KBD_IRQ), "IRQ 1 drops once read");

	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_WRITE_CTR);
	fake_outb(vm, X86_I8042_DATA_PORT, 0x47 | 0x02);
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_AUX_LOOP);
	fake_outb(vm, X86_I8042_DATA_PORT, 0x5a);
	report(i8042_status(vm) & I8042_STATUS_AUXDATA, "aux loopback: status says aux data");
	report(fake_vm_irq_level(vm, AUX_IRQ), "and raises IRQ 12");
	check_eq(fake_inb(vm, X86_I8042_DATA_PORT), 0x5a);
	check_false(fake_vm_irq_level(vm, AUX_IRQ));
	report_checks("read back, IRQ 12 drops");

	for (int k = 0; k < 20; k++)
		fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_SELF_TEST);
	for (int k = 0; k < 20; k++)
		fake_inb(vm, X86_I8042_DATA_PORT);
	report_eq((i8042_status(vm) & I8042_STATUS_OBF), 0, "20 answers queued: bounded, drained");

	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_WRITE_OUTPORT);
	fake_outb(vm, X86_I8042_DATA_PORT, 0x03);
	report_eq(fake_vm_stops(vm), 0, "output port with bit 0 set: no reset");
	fake_outb(vm, X86_I8042_CMD_PORT, 0xff);
	report_eq(fake_vm_stops(vm), 0, "command 0xff (pulse nothing): no reset");
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_PULSE_RESET);
	report_eq(vm_stop_reason(vm), VM_STOP_RESET, "0xfe: VM_STOP_RESET");
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_PULSE_RESET);
	report_eq(fake_vm_stops(vm), 1, "a second 0xfe asks only once");
	i8042_destroy(i);
	fake_vm_destroy(vm);

	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) || i8042_create(vm, &i)) {
		report(false, "re-create");
		goto out;
	}
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_WRITE_OUTPORT);
	fake_outb(vm, X86_I8042_DATA_PORT, 0x02);
	report_eq(vm_stop_reason(vm), VM_STOP_RESET,
		  "output port written with bit 0 clear: VM_STOP_RESET");
	i8042_destroy(i);
	report_eq(fake_inb(vm, X86_I8042_CMD_PORT), 0xff, "destroy releases the ports");
out:
	i8042_destroy(NULL);
	fake_vm_destroy(vm);
	report_prefix_pop();
}

/* What Linux's i8042 leaves in the CTR once the keyboard port is up. */
static void kbd_setup(struct vm *vm, bool xlate)
{
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_WRITE_CTR);
	fake_outb(vm, X86_I8042_DATA_PORT, I8042_CTR_SYS | I8042_CTR_KBDINT | I8042_CTR_AUXDIS |
			       (xlate ? I8042_CTR_XLATE : 0));
}

/* Read what is waiting at the data port, as Linux's interrupt handler does:
 * one byte per raised IRQ 1. Returns the bytes read. */
static unsigned int kbd_read(struct vm *vm, u8 *buf, unsigned int max)
{
	unsigned int n = 0;

	while (n < max && (i8042_status(vm) & I8042_STATUS_OBF))
		buf[n++] = fake_inb(vm, X86_I8042_DATA_PORT);
	return n;
}

/* Write @len bytes to the keyboard; what it answered must be @want. */
static bool kbd_cmd(struct vm *vm, const u8 *cmd, unsigned int len, const u8 *want,
		    unsigned int nwant)
{
	u8 got[PS2KBD_BUF_SIZE + 1];
	unsigned int n = 0;

	for (unsigned int k = 0; k < len; k++) {
		fake_outb(vm, X86_I8042_DATA_PORT, cmd[k]);
		n += kbd_read(vm, got + n, sizeof(got) - n);
	}
	check_eq(n, nwant);
	return check_mem(got, want, n < nwant ? n : nwant);
}

#define KBD_CMD(vm, c, w, ...)	\
	(kbd_cmd(vm, c, sizeof(c), w, sizeof(w)), report_checks(__VA_ARGS__))

static void test_i8042_kbd_probe(void)
{
	struct i8042 *i = NULL;
	struct vm *vm;

	report_prefix_push("i8042 keyboard");
	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) || i8042_create(vm, &i)) {
		report(false, "create");
		goto out;
	}
	kbd_setup(vm, false);
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_RESET }), ((u8[]){ PS2KBD_ACK, PS2KBD_BAT_OK }),
		"0xff reset: ACK, self-test passed (0xaa)");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_GET_ID }), ((u8[]){ PS2KBD_ACK, 0xab, 0x83 }),
		"0xf2 get ID: ACK 0xab 0x83 (MF2 keyboard)");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_DISABLE }), ((u8[]){ PS2KBD_ACK }), "0xf5 disable: ACK");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_SET_LEDS, 0x02 }), ((u8[]){ PS2KBD_ACK, PS2KBD_ACK }),
		"0xed set LEDs + byte: ACK, ACK");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_TYPEMATIC, 0x00 }), ((u8[]){ PS2KBD_ACK, PS2KBD_ACK }),
		"0xf3 typematic + byte: ACK, ACK");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_SCANSET, 0 }), ((u8[]){ PS2KBD_ACK, PS2KBD_ACK, 2 }),
		"0xf0 0: ACK, ACK, set 2");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_SCANSET, 3, PS2KBD_CMD_SCANSET, 0 }),
		((u8[]){ PS2KBD_ACK, PS2KBD_ACK, PS2KBD_ACK, PS2KBD_ACK, 3 }),
		"0xf0 3 selects set 3, read back");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_SCANSET, 7 }), ((u8[]){ PS2KBD_ACK, PS2KBD_NAK }),
		"0xf0 with set 7: resend");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_ENABLE }), ((u8[]){ PS2KBD_ACK }), "0xf4 enable: ACK");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_ECHO }), ((u8[]){ PS2KBD_CMD_ECHO }), "0xee echo: 0xee");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_RESEND }), ((u8[]){ PS2KBD_CMD_ECHO }),
		"0xfe resend: the last byte again");
	KBD_CMD(vm, ((u8[]){ 0xe8, 0xea, 0x42 }), ((u8[]){ PS2KBD_NAK, PS2KBD_NAK, PS2KBD_NAK }),
		"unknown commands (0xe8, 0xea, 0x42): resend");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_SET_LEDS, PS2KBD_CMD_GET_ID }),
		((u8[]){ PS2KBD_ACK, PS2KBD_ACK, 0xab, 0x83 }),
		"a command in place of the LED byte is a new command");
	KBD_CMD(vm, ((u8[]){ 0xf6, 0xfa }), ((u8[]){ PS2KBD_ACK, PS2KBD_ACK }),
		"0xf6 defaults, 0xfa (set 3 all keys): ACK");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_SCANSET, 0 }), ((u8[]){ PS2KBD_ACK, PS2KBD_ACK, 2 }),
		"defaults restore set 2");

	kbd_setup(vm, true);
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_GET_ID }), ((u8[]){ PS2KBD_ACK, 0xab, 0x41 }),
		"translated: get ID reads 0xab 0x41, as on a PC");
	KBD_CMD(vm, ((u8[]){ PS2KBD_CMD_RESET }), ((u8[]){ PS2KBD_ACK, PS2KBD_BAT_OK }),
		"translated: ACK and 0xaa pass unchanged");

	/* Linux writes the keyboard while its port is still disabled (i8042.kbdreset). */
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_KBD_DISABLE);
	fake_outb(vm, X86_I8042_DATA_PORT, PS2KBD_CMD_ECHO);
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_READ_CTR);
	report_false(fake_inb(vm, X86_I8042_DATA_PORT) & I8042_CTR_KBDDIS,
		     "a byte sent to the keyboard enables its port again");
	report_eq(fake_inb(vm, X86_I8042_DATA_PORT), PS2KBD_CMD_ECHO, "and its answer arrives");
	for (int k = 0; k < 40; k++)
		fake_outb(vm, X86_I8042_DATA_PORT, 0x42);
	report_eq(kbd_read(vm, (u8[64]){ 0 }, 64), PS2KBD_BUF_SIZE,
		  "40 unanswered commands: the keyboard keeps %u answers", PS2KBD_BUF_SIZE);
	report_eq(fake_vm_stops(vm), 0, "no keyboard byte resets the machine");
	i8042_destroy(i);
out:
	fake_vm_destroy(vm);
	report_prefix_pop();
}

static const u8 cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53 };
static const u8 cad_set2[] = { 0x14, 0x11, 0xe0, 0x71 };
static const u8 cad_set3[] = { 0x11, 0x19, 0x64 };

/* Press Ctrl+Alt+Del, read it back byte by byte, each with its IRQ 1 edge. */
static void check_cad(struct vm *vm, struct i8042 *i, const u8 *want, unsigned int len,
		      const char *what)
{
	unsigned int edges = fake_vm_irq_edges(vm, KBD_IRQ), n = 0;
	u8 got[8];

	check_eq(i8042_send_ctrl_alt_del(i), 0);
	check_true(fake_vm_irq_level(vm, KBD_IRQ));
	while (n < sizeof(got) && fake_vm_irq_level(vm, KBD_IRQ))
		got[n++] = fake_inb(vm, X86_I8042_DATA_PORT);
	check_eq(n, len);
	check_mem(got, want, n < len ? n : len);
	check_eq(fake_vm_irq_edges(vm, KBD_IRQ) - edges, 2 * len);
	check_false(i8042_status(vm) & I8042_STATUS_OBF);
	report_checks("Ctrl+Alt+Del %s: %u bytes, one IRQ 1 edge each", what, n);
}

struct cad_thread {
	struct i8042 *i;
	unsigned int presses;
};

static void *cad_presser(void *arg)
{
	struct cad_thread *t = arg;

	for (unsigned int n = 0; n < t->presses;) {
		int ret = i8042_send_ctrl_alt_del(t->i);

		if (!ret)
			n++;
		else if (ret != -EBUSY)
			return NULL;
	}
	return NULL;
}

static void test_i8042_ctrl_alt_del(void)
{
	struct cad_thread t = { .presses = 200 };
	struct i8042 *i = NULL;
	unsigned int n, bad = 0;
	pthread_t thread;
	struct vm *vm;
	u8 b;

	report_prefix_push("i8042 Ctrl+Alt+Del");
	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) || i8042_create(vm, &i)) {
		report(false, "create");
		goto out;
	}
	/* At power-on the port is disabled: the keys wait in the keyboard. */
	check_eq(i8042_send_ctrl_alt_del(i), 0);
	check_false(i8042_status(vm) & I8042_STATUS_OBF);
	check_false(fake_vm_irq_level(vm, KBD_IRQ));
	report_checks("before the guest enables the port: queued, no byte, no IRQ");
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_KBD_ENABLE);
	check_true(i8042_status(vm) & I8042_STATUS_OBF);
	check_false(fake_vm_irq_level(vm, KBD_IRQ));
	check_eq(fake_inb(vm, X86_I8042_DATA_PORT), 0x1d);
	report_checks("port enabled, KBDINT off: the guest polls 0x1d (set 1: translation is on)");
	kbd_read(vm, (u8[8]){ 0 }, 8);

	kbd_setup(vm, true);
	check_cad(vm, i, cad_set1, sizeof(cad_set1), "translated (set 2 -> set 1)");
	kbd_setup(vm, false);
	check_cad(vm, i, cad_set2, sizeof(cad_set2), "untranslated (set 2)");
	fake_outb(vm, X86_I8042_DATA_PORT, PS2KBD_CMD_SCANSET);
	fake_outb(vm, X86_I8042_DATA_PORT, 1);
	kbd_read(vm, (u8[8]){ 0 }, 8);
	check_cad(vm, i, cad_set1, sizeof(cad_set1), "in set 1");
	fake_outb(vm, X86_I8042_DATA_PORT, PS2KBD_CMD_SCANSET);
	fake_outb(vm, X86_I8042_DATA_PORT, 3);
	kbd_read(vm, (u8[8]){ 0 }, 8);
	check_cad(vm, i, cad_set3, sizeof(cad_set3), "in set 3");
	fake_outb(vm, X86_I8042_DATA_PORT, PS2KBD_CMD_RESET);
	kbd_read(vm, (u8[8]){ 0 }, 8);

	/* A guest that never reads: the keyboard's buffer fills, all or nothing. */
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_KBD_DISABLE);
	for (n = 0; n < 10 && !i8042_send_ctrl_alt_del(i); n++)
		;
	report_eq(n, PS2KBD_BUF_SIZE / sizeof(cad_set2), "%u presses fill the buffer", n);
	report_err(i8042_send_ctrl_alt_del(i), -EBUSY, "the next one: -EBUSY, nothing queued");
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_KBD_ENABLE);
	report_eq(kbd_read(vm, (u8[32]){ 0 }, 32), PS2KBD_BUF_SIZE,
		  "the guest reads every byte of the four");
	report_err(i8042_send_ctrl_alt_del(i), 0, "then there is room again");
	kbd_read(vm, (u8[8]){ 0 }, 8);

	fake_outb(vm, X86_I8042_DATA_PORT, PS2KBD_CMD_DISABLE);
	kbd_read(vm, (u8[8]){ 0 }, 8);
	report_err(i8042_send_ctrl_alt_del(i), -EAGAIN, "scanning disabled (0xf5): -EAGAIN");
	fake_outb(vm, X86_I8042_DATA_PORT, PS2KBD_CMD_ENABLE);
	kbd_read(vm, (u8[8]){ 0 }, 8);
	kbd_setup(vm, true);
	check_cad(vm, i, cad_set1, sizeof(cad_set1), "after 0xf4 enable");

	/* The API thread presses while the vCPU reads: the sequences never mix. */
	t.i = i;
	if (pthread_create(&thread, NULL, cad_presser, &t)) {
		report(false, "pthread_create");
		goto out_destroy;
	}
	for (n = 0; n < t.presses * sizeof(cad_set1);) {
		if (!(i8042_status(vm) & I8042_STATUS_OBF))
			continue;
		b = fake_inb(vm, X86_I8042_DATA_PORT);
		bad += b != cad_set1[n % sizeof(cad_set1)];
		n++;
	}
	pthread_join(thread, NULL);
	report_eq(bad, 0, "%u presses from another thread read back in order", t.presses);
	report_eq(fake_vm_stops(vm), 0, "nothing stops the VM");
	check_eq(i8042_send_ctrl_alt_del(i), 0);
	check_true(fake_vm_irq_level(vm, KBD_IRQ));
	i8042_destroy(i);
	i = NULL;
	report_false(fake_vm_irq_level(vm, KBD_IRQ), "destroy lowers the IRQ 1 it raised");
out_destroy:
	i8042_destroy(i);
out:
	fake_vm_destroy(vm);
	report_prefix_pop();
}

static void test_boottimer(void)
{
	struct boottimer *t = NULL;
	struct vm *vm;
	u64 gpa = X86_BOOT_TIMER_GPA, v;

	report_prefix_push("boot-timer");
	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) || boottimer_create(vm, gpa, &t)) {
		report(false, "create");
		goto out;
	}
	report_gt(boottimer_process_start_ns(), 0, "process start time noted");
	check_eq(fake_vm_mmio_write(vm, gpa, X86_BOOT_TIMER_MAGIC, 1), 0);
	check_eq(fake_vm_mmio_write(vm, gpa, X86_BOOT_TIMER_MAGIC, 1), 0);
	report_checks("marker writes accepted (logged once)");
	check_eq(fake_vm_mmio_read(vm, gpa, &v, 8), 0);
	check_eq(v, 0);
	report_checks("the marker register reads 0");

	fake_vm_mmio_write(vm, gpa + BOOTTIMER_REG_START, 1, 4);
	for (int k = 0; k < 1000; k++)
		fake_vm_mmio_write(vm, gpa + BOOTTIMER_REG_SINK, X86_BOOT_TIMER_MAGIC, 4);
	check_eq(fake_vm_mmio_read(vm, X86_BENCH_SINK_GPA, &v, 4), 0);
	check_eq(v, 1000);
	report_checks("bench sink counts 1000 writes (%llu)", (unsigned long long)v);
	check_eq(fake_vm_mmio_read(vm, gpa + BOOTTIMER_REG_SINK + 1, &v, 1), 0);
	check_eq(v, 1000 >> 8);
	report_checks("an unaligned byte of the count");
	fake_vm_mmio_write(vm, gpa + BOOTTIMER_REG_STOP, 1, 4);
	check_eq(fake_vm_mmio_read(vm, X86_BENCH_SINK_GPA, &v, 8), 0);
	check_eq(v, 1000);
	report_checks("STOP keeps the count");
	fake_vm_mmio_write(vm, gpa + BOOTTIMER_REG_START, 1, 1);
	check_eq(fake_vm_mmio_read(vm, X86_BENCH_SINK_GPA, &v, 8), 0);
	check_eq(v, 0);
	report_checks("START resets it");
	check_eq(fake_vm_mmio_write(vm, gpa + X86_BOOT_TIMER_SIZE - 1, 0, 1), 0);
	check_eq(fake_vm_mmio_read(vm, gpa + X86_BOOT_TIMER_SIZE - 1, &v, 1), 0);
	report_checks("the last byte of the page");
	report_eq(fake_vm_stops(vm), 0, "nothing stops the VM");
	boottimer_destroy(t);
	report_err(fake_vm_mmio_read(vm, gpa, &v, 1), -ENOENT, "destroy releases the page");
out:
	boottimer_destroy(NULL);
	fake_vm_destroy(vm);
	report_prefix_pop();
}

static void test_cpuhotplug(void)
{
	struct cpuhotplug *c = NULL;
	struct vm *vm;
	u32 v;

	report_prefix_push("cpu-hotplug");
	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) ||
	    cpuhotplug_create(vm, X86_CPU_HOTPLUG_PORT, &c)) {
		report(false, "create");
		goto out;
	}
	check_eq(fake_vm_pio_read(vm, X86_CPU_HOTPLUG_PORT, &v, 4), 0);
	check_eq(v, 1);
	report_checks("reads 1 vCPU");
	fake_vm_pio_write(vm, X86_CPU_HOTPLUG_PORT, 0, 4);
	check_eq(fake_vm_pio_read(vm, X86_CPU_HOTPLUG_PORT, &v, 4), 0);
	check_eq(v, 2);
	report_checks("a write adds one: 2");
	fake_vm_fail_add_vcpu(vm, -ENOSPC);
	fake_vm_pio_write(vm, X86_CPU_HOTPLUG_PORT, 0, 1);
	check_eq(fake_vm_pio_read(vm, X86_CPU_HOTPLUG_PORT, &v, 4), 0);
	check_eq(v, 2);
	report_checks("a failed add leaves the count unchanged");
	cpuhotplug_destroy(c);
out:
	cpuhotplug_destroy(NULL);
	fake_vm_destroy(vm);
	report_prefix_pop();
}

int main(void)
{
	test_debugexit();
	test_i8042();
	test_i8042_kbd_probe();
	test_i8042_ctrl_alt_del();
	test_boottimer();
	test_cpuhotplug();
	return report_summary();
}
