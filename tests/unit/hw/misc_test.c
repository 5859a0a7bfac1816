// SPDX-License-Identifier: GPL-2.0-only
/*
 * The small platform devices through the I/O bus: debug-exit's status
 * (v << 1) | 1, the i8042's reset line (0xfe and the output port) and the
 * probe answers, the boot timer's bench-sink registers, and the CPU
 * hot-plug port.
 */
#include <errno.h>
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

#define KBD_IRQ	1
#define AUX_IRQ	12

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
	test_boottimer();
	test_cpuhotplug();
	return report_summary();
}
