// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: guest register write sequences against virtio-mmio
 * over the net simulator, with a fake VM. Each input is a list of 6-byte
 * operations { op, slot, value (le32) }:
 *   op % 4 == 0  32-bit register write at slot * 4
 *   op % 4 == 1  32-bit register read at slot * 4
 *   op % 4 == 2  config space access of 1, 2 or 4 bytes (op bit 2: write)
 *   op % 4 == 3  store value into guest RAM at slot * 64 (rings, buffers)
 * so the fuzzer can negotiate, lay out rings and kick them. Packed rings
 * are offered (packed=on) where the device has them, so the driver may
 * take either layout. Every input ends with a reset; the VMM must neither
 * crash nor leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <kestrel/log.h>
#include <kestrel/vdpa.h>
#include <kestrel/virtio.h>

#include "../unit/fake_vm.h"

/* The device behind the transport; tests/fuzz/virtio_balloon.c sets another. */
#ifndef FUZZ_DEVICE_SPEC
#define FUZZ_DEVICE_SPEC	"net,mac=52:54:00:00:00:01"
#endif

#define BASE	0xd0001000ULL
#define RAM	(1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm *vm;
static u8 *ram;

static int setup(void)
{
	struct vdpa_device *vdpa;
	struct virtio_mmio *m;

	log_level_set(LOG_ERR);
	if (fake_vm_create(RAM, &vm) || vdpa_register_types() ||
	    vdpa_mgmt_dev_add(FUZZ_DEVICE_SPEC, &vdpa) ||
	    virtio_mmio_create(vm, vdpa, BASE, 10, &m))
		return -1;
	/* -EOPNOTSUPP for a device without packed rings: split only then. */
	virtio_mmio_set_packed(m, true);
	ram = fake_vm_ram(vm);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready)
		ready = setup() ? -1 : 1;
	if (ready < 0)
		return 0;
	for (size_t i = 0; i + 6 <= size; i += 6) {
		u8 op = data[i], slot = data[i + 1];
		u32 val;

		memcpy(&val, data + i + 2, 4);
		switch (op % 4) {
		case 0:
			fake_vm_mmio_write(vm, BASE + slot * 4u, val, 4);
			break;
		case 1:
			fake_mmio_read(vm, BASE + slot * 4u, 4);
			break;
		case 2: {
			unsigned int len = 1u << ((op >> 3) % 3);
			u64 addr = BASE + 0x100 + (slot & ~(len - 1));

			if (op & 4)
				fake_vm_mmio_write(vm, addr, val, len);
			else
				fake_mmio_read(vm, addr, len);
			break;
		}
		default:
			memcpy(ram + slot * 64u + (op >> 2) % 16 * 4, &val, 4);
			break;
		}
	}
	fake_vm_mmio_write(vm, BASE + 0x70, 0, 4);	/* Status = 0 */
	return 0;
}
