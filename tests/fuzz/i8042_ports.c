// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: guest port I/O against the i8042 and its keyboard,
 * with Ctrl+Alt+Del presses from the VMM mixed in, on a fake VM. Each
 * input is a list of 2-byte operations { op, value }:
 *   op % 5 == 0  write value to the command port (0x64)
 *   op % 5 == 1  write value to the data port (0x60): controller data or
 *                a keyboard command
 *   op % 5 == 2  read the data port
 *   op % 5 == 3  read the status port
 *   op % 5 == 4  i8042_send_ctrl_alt_del()
 * A fresh device per input. Besides not crashing or leaking, IRQ 1 must
 * be high exactly when a keyboard byte waits and the guest enabled the
 * keyboard interrupt, and IRQ 12 never without aux data.
 */
#include <stddef.h>
#include <stdint.h>

#include <kestrel/hw.h>
#include <kestrel/log.h>
#include <kestrel/x86/layout.h>

#include "../unit/fake_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm *vm;

static void check_irqs(struct i8042 *i, u8 ctr_kbdint)
{
	u8 st = fake_inb(vm, X86_I8042_CMD_PORT);
	bool kbd_byte = (st & I8042_STATUS_OBF) && !(st & I8042_STATUS_AUXDATA);

	if (fake_vm_irq_level(vm, X86_I8042_KBD_IRQ) != (kbd_byte && ctr_kbdint))
		__builtin_trap();
	if (fake_vm_irq_level(vm, X86_I8042_AUX_IRQ) && !(st & I8042_STATUS_AUXDATA))
		__builtin_trap();
	if (st & I8042_STATUS_IBF)
		__builtin_trap();
	(void)i;
}

/* The CTR, read the way a guest would, without disturbing the queue: only
 * when nothing waits (the READ_CTR answer is then the only byte). */
static int read_kbdint(void)
{
	u8 ctr;

	if (fake_inb(vm, X86_I8042_CMD_PORT) & I8042_STATUS_OBF)
		return -1;
	fake_outb(vm, X86_I8042_CMD_PORT, I8042_CMD_READ_CTR);
	ctr = fake_inb(vm, X86_I8042_DATA_PORT);
	return ctr & I8042_CTR_KBDINT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct i8042 *i;
	int kbdint;

	if (!vm) {
		log_level_set(LOG_ERR);
		if (fake_vm_create(FAKE_VM_MIN_RAM, &vm))
			return 0;
	}
	if (i8042_create(vm, &i))
		return 0;
	for (size_t k = 0; k + 2 <= size; k += 2) {
		u8 op = data[k], val = data[k + 1];

		switch (op % 5) {
		case 0:
			fake_outb(vm, X86_I8042_CMD_PORT, val);
			break;
		case 1:
			fake_outb(vm, X86_I8042_DATA_PORT, val);
			break;
		case 2:
			fake_inb(vm, X86_I8042_DATA_PORT);
			break;
		case 3:
			fake_inb(vm, X86_I8042_CMD_PORT);
			break;
		default:
			i8042_send_ctrl_alt_del(i);
			break;
		}
		kbdint = read_kbdint();
		if (kbdint >= 0)
			check_irqs(i, (u8)kbdint);
	}
	i8042_destroy(i);
	return 0;
}
