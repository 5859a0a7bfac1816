// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the x86 guest loaders on hostile images. Byte 0 chooses
 * options (bit 0 an initrd, bit 1 two Multiboot modules, bit 2 real-mode
 * bzImage entry, bit 3 two virtio-mmio devices, bits 4-5 vCPU count); the
 * rest is the kernel image, handed to x86_load_guest() on a 32 MiB address
 * space. Any return is fine; a crash, a sanitizer report, or success without
 * a sane entry state is a bug. Seeds: tests/fuzz/corpus/x86_loader (made by
 * KESTREL_WRITE_SEEDS=DIR build/tests/unit/x86/boot_test).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/log.h>
#include <kestrel/memory.h>
#include <kestrel/x86/layout.h>

#include "../../src/arch/x86/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)
#define RAM		(32ULL << 20)

static struct address_space *as;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char initrd[] = "fuzz initrd";
	static const struct boot_module mods[2] = {
		{ "module zero", 11, "mod0 arg" },
		{ "m1", 2, NULL },
	};
	static const struct boot_mmio_dev devs[2] = {
		{ X86_VIRTIO_MMIO_BASE, X86_VIRTIO_MMIO_SIZE, X86_VIRTIO_MMIO_IRQ0 },
		{ X86_VIRTIO_MMIO_BASE + X86_VIRTIO_MMIO_SIZE, X86_VIRTIO_MMIO_SIZE,
		  X86_VIRTIO_MMIO_IRQ0 + 1 },
	};
	struct x86_boot_options opts = { 0 };
	struct boot_config cfg = { 0 };
	struct x86_boot_entry e;
	char err[256];
	u8 *kernel;
	int ret;

	if (!as) {
		log_level_set(LOG_ERR);
		CHECK(address_space_create(&as) == 0);
		CHECK(address_space_add_ram(as, 0, RAM, MEM_F_NORESERVE, NULL) == 0);
	}
	if (size < 1)
		return 0;
	/* an exact-size copy, so reads past the image trip ASan */
	kernel = malloc(size - 1 ? size - 1 : 1);
	CHECK(kernel);
	memcpy(kernel, data + 1, size - 1);
	cfg.kernel = kernel;
	cfg.kernel_size = size - 1;
	cfg.cmdline = "console=ttyS0";
	cfg.kernel_path = "/boot/fuzz";
	cfg.nr_cpus = 1 + ((data[0] >> 4) & 3) * 3;
	if (data[0] & 1) {
		cfg.initrd = initrd;
		cfg.initrd_size = sizeof(initrd);
	}
	if (data[0] & 2) {
		cfg.modules = mods;
		cfg.nr_modules = 2;
	}
	opts.bzimage_real_mode = data[0] & 4;
	if (data[0] & 8) {
		cfg.mmio_devs = devs;
		cfg.nr_mmio_devs = 2;
	}
	err[0] = 'x';
	ret = x86_load_guest_opts(as, &cfg, &opts, &e, err, sizeof(err));
	if (ret) {
		CHECK(ret < 0 && err[0] && strlen(err) < sizeof(err));
	} else {
		CHECK(e.format != NULL);
		CHECK(e.mode == X86_BOOT_REAL16 || e.mode == X86_BOOT_PROT32 ||
		      e.mode == X86_BOOT_LONG64);
		CHECK(e.mode == X86_BOOT_REAL16 || e.rip < (1ULL << 32));
		CHECK(e.kernel_start <= e.kernel_end && e.kernel_end <= RAM);
		/* boot data (Multiboot, PVH) in RAM, out of page 0 and the BIOS area */
		CHECK(!e.data_end || (e.data_start >= 0x1000 && e.data_end <= RAM &&
				      (e.data_end <= 0x9fc00 || e.data_start >= 0x100000)));
	}
	free(kernel);
	return 0;
}
