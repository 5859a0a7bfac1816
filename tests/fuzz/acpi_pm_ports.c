// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: guest port I/O against the ACPI PM block, with power
 * button presses and RTC alarms from outside mixed in, on a fake VM. Each
 * input is a list of 4-byte operations { op, offset, value lo, value hi }:
 *   op % 5 == 0  write the value at offset % 12, width 1 << (op / 5 % 3)
 *   op % 5 == 1  read at offset % 12, width 1 << (op / 5 % 3)
 *   op % 5 == 2  acpi_pm_power_button()
 *   op % 5 == 3  the RTC's alarm signal
 *   op % 5 == 4  write the value to the FACS's waking vector
 * A fresh device per input (the VM is shared: an S5 stops it for good, an
 * S3 then finds it stopping). Besides not crashing, hanging or leaking:
 * the SCI is high exactly when an enabled event's status is set, SCI_EN
 * always reads 1, SLP_EN always 0, and the timer has 24 bits.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <kestrel/hw.h>
#include <kestrel/log.h>
#include <kestrel/x86/layout.h>

#include "../unit/fake_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PORT	X86_ACPI_PM_PORT
#define EVENTS	(ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC)

static struct vm *vm;

static u32 rd(u16 port, unsigned int len)
{
	u32 v = 0;

	fake_vm_pio_read(vm, port, &v, len);
	return v;
}

static void check(void)
{
	u32 sts = rd(PORT + ACPI_PM1_STS, 2), en = rd(PORT + ACPI_PM1_EN, 2);
	bool sci = fake_vm_irq_level(vm, X86_ACPI_SCI_IRQ);
	u32 cnt = rd(PORT + ACPI_PM1_CNT, 2);

	/* The device's thread may set TMR_STS meanwhile: judge a stable view. */
	if (rd(PORT + ACPI_PM1_STS, 2) == sts && sci != !!(sts & en & EVENTS))
		__builtin_trap();
	if (!(cnt & ACPI_PM1_CNT_SCI_EN) || (cnt & ACPI_PM1_CNT_SLP_EN))
		__builtin_trap();
	if (rd(PORT + ACPI_PM_TMR, 4) > 0xffffff)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acpi_pm *pm;

	if (!vm) {
		log_level_set(LOG_ERR);
		if (fake_vm_create(FAKE_VM_MIN_RAM, &vm))
			return 0;
	}
	if (acpi_pm_create(vm, PORT, X86_ACPI_SCI_IRQ, X86_ACPI_FACS_GPA, &pm))
		return 0;
	for (size_t k = 0; k + 4 <= size; k += 4) {
		u8 op = data[k], off = data[k + 1] % ACPI_PM_NR_PORTS;
		unsigned int len = 1u << (op / 5 % 3);
		u32 val = data[k + 2] | (u32)data[k + 3] << 8;

		if (off + len > ACPI_PM_NR_PORTS)
			off = (u8)(ACPI_PM_NR_PORTS - len);
		switch (op % 5) {
		case 0:
			fake_vm_pio_write(vm, PORT + off, val, len);
			break;
		case 1:
			rd(PORT + off, len);
			break;
		case 2:
			acpi_pm_power_button(pm);
			break;
		case 3: {
			struct hw_signal *s = acpi_pm_rtc_input(pm);

			s->ops->raise(s);
			break;
		}
		default:
			memcpy((u8 *)fake_vm_ram(vm) + X86_ACPI_FACS_GPA + ACPI_FACS_WAKING_VECTOR,
			       &val, sizeof(val));
			break;
		}
		check();
	}
	acpi_pm_destroy(pm);
	return 0;
}
