// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: guest configuration-space and BAR accesses against the
 * PCI host bridge with a virtio-pci function (net simulator) plugged in,
 * over a fake VM. Each input is a list of 7-byte operations
 * { op, a, b, value (le32) }:
 *   op % 6 == 0  CONFIG_ADDRESS (0xcf8) = value
 *   op % 6 == 1  CONFIG_DATA: 1, 2 or 4 bytes at 0xcfc + (a & 3), read or
 *                write (op bit 3), any alignment
 *   op % 6 == 2  ECAM: 1, 2 or 4 bytes at (a % 4) << 15 | b << 4 | (op >> 4),
 *                read or write
 *   op % 6 == 3  the 32-bit window: 1, 2, 4 or 8 bytes at a << 8 | b
 *                (BARs: MSI-X table, common configuration, ISR, notify)
 *   op % 6 == 4  the I/O window, 1, 2 or 4 bytes
 *   op % 6 == 5  store value into guest RAM at (a << 8 | b) * 4 (rings)
 * so it can size and move BARs, enable decoding and MSI-X, program vectors
 * and drive the device. Every input ends with the device reset through
 * its common configuration and BARs put back; the VMM must neither crash
 * nor leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <kestrel/log.h>
#include <kestrel/pci.h>
#include <kestrel/vdpa.h>
#include <kestrel/virtio.h>
#include <kestrel/x86/layout.h>

#include "../unit/fake_vm.h"

#define RAM	(1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm *vm;
static u8 *ram;
static u32 saved_cfg[64];

static void cfg_write(unsigned int dev, unsigned int reg, u32 v)
{
	fake_vm_pio_write(vm, 0xcf8, 0x80000000u | dev << 11 | reg, 4);
	fake_vm_pio_write(vm, 0xcfc, v, 4);
}

static u32 cfg_read(unsigned int dev, unsigned int reg)
{
	u32 v = 0;

	fake_vm_pio_write(vm, 0xcf8, 0x80000000u | dev << 11 | reg, 4);
	fake_vm_pio_read(vm, 0xcfc, &v, 4);
	return v;
}

static int setup(void)
{
	struct vdpa_device *vdpa;
	struct virtio_pci *vp;
	struct pci_host *h;

	log_level_set(LOG_ERR);
	if (fake_vm_create(RAM, &vm) || vdpa_register_types() ||
	    vdpa_mgmt_dev_add("net,mac=52:54:00:00:00:01", &vdpa) ||
	    pci_host_create(vm, &fake_vm_pci, &h) || virtio_pci_create(h, vdpa, &vp))
		return -1;
	ram = fake_vm_ram(vm);
	for (unsigned int i = 0; i < 64; i++)
		saved_cfg[i] = cfg_read(1, 4 * i);
	return 0;
}

static unsigned int op_len(u8 op, unsigned int max_shift)
{
	return 1u << ((op >> 4) % (max_shift + 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	u64 bar2;

	if (!ready)
		ready = setup() ? -1 : 1;
	if (ready < 0)
		return 0;
	for (size_t i = 0; i + 7 <= size; i += 7) {
		u8 op = data[i], a = data[i + 1], b = data[i + 2];
		bool wr = op & 8;
		u32 val, v32;
		u64 v64;

		memcpy(&val, data + i + 3, 4);
		switch (op % 6) {
		case 0:
			fake_vm_pio_write(vm, 0xcf8, val, 4);
			break;
		case 1: {
			unsigned int len = op_len(op, 2);
			u16 port = (u16)(0xcfc + (a & 3));

			if (wr)
				fake_vm_pio_write(vm, port, val, len);
			else
				fake_vm_pio_read(vm, port, &v32, len);
			break;
		}
		case 2: {
			unsigned int len = 1u << (a >> 6 & 1 ? 2 : (b & 1));
			u64 addr = X86_PCI_ECAM_GPA + ((u64)(a % 4) << 15) + ((u64)b << 4) +
				   (op >> 4);

			if (wr)
				fake_vm_mmio_write(vm, addr, val, len);
			else
				fake_vm_mmio_read(vm, addr, &v64, len);
			break;
		}
		case 3: {
			unsigned int len = op_len(op, 3);
			u64 addr = X86_PCI_MMIO32_BASE + ((u64)a << 8 | b);

			if (wr)
				fake_vm_mmio_write(vm, addr, val, len);
			else
				fake_vm_mmio_read(vm, addr, &v64, len);
			break;
		}
		case 4: {
			unsigned int len = op_len(op, 2);
			u16 port = (u16)(X86_PCI_IO_BASE + (a << 8 | b) % X86_PCI_IO_SIZE);

			if (wr)
				fake_vm_pio_write(vm, port, val, len);
			else
				fake_vm_pio_read(vm, port, &v32, len);
			break;
		}
		default:
			memcpy(ram + ((u32)(a << 8 | b) * 4) % (RAM - 4), &val, 4);
			break;
		}
	}
	/* Reset the device where its BAR is now, then put configuration space back. */
	cfg_write(1, 0x04, 0x6);
	bar2 = (cfg_read(1, 0x18) & ~0xfu) | (u64)cfg_read(1, 0x1c) << 32;
	fake_vm_mmio_write(vm, bar2 + 0x14, 0, 1);
	for (unsigned int r = 1; r < 16; r++)
		cfg_write(1, 4 * r, saved_cfg[r]);
	return 0;
}
