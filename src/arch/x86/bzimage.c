// SPDX-License-Identifier: GPL-2.0-only
/*
 * Linux bzImage loader (Documentation/arch/x86/boot.rst).
 *
 * Boot protocol 2.02 or later is required (earlier kernels want the command
 * line in the setup segment and a low-loaded zImage); the kernel must be
 * LOADED_HIGH. Kernels that advertise XLF_KERNEL_64 (protocol 2.12+) enter at
 * their 64-bit entry, load address + 0x200, with RSI = zero page. Everything
 * else — and any bzImage when x86_boot_options.bzimage_real_mode is set —
 * enters the real-mode setup code at (seg + 0x20):0 with DS = ES = SS = seg.
 * kestrel has no BIOS, so the real-mode path only suits setup code that needs
 * no BIOS services (such as the boot benchmark's null kernel); an IVT of IRET
 * stubs makes stray BIOS calls return instead of running off into zeroes.
 *
 * Version-dependent fields: cmdline_size from 2.06 (else 255),
 * initrd_addr_max from 2.03 (else 0x37ffffff), relocatable_kernel and
 * kernel_alignment from 2.05, pref_address and init_size from 2.10,
 * acpi_rsdp_addr (zero page, not header) consumed from 2.14.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define BZ_MIN_VERSION		0x0202
#define BZ_SETUP_SECTS_MAX	64
#define BZ_REALMODE_SEG		(X86_BOOT_REALMODE_GPA >> 4)
#define BZ_HEAP_END		0xe000		/* offset in the setup segment */
#define BZ_IRET_STUB_GPA	0xfff00ULL	/* f000:ff00 */
#define BZ_LOADER_TYPE		0xff		/* "undefined" boot loader */

bool x86_bzimage_detect(const void *img, size_t size)
{
	const u8 *p = img;
	u32 magic;
	u16 flag;

	if (size < 0x206)
		return false;
	memcpy(&flag, p + 0x1fe, 2);
	memcpy(&magic, p + 0x202, 4);
	return flag == SETUP_BOOT_FLAG && magic == SETUP_HDR_MAGIC;
}

static bool is_power_of_2(u64 v)
{
	return v && !(v & (v - 1));
}

/* Where the protected-mode kernel goes, and how many bytes it needs there. */
static int bz_place_kernel(struct x86_loader *l, const struct setup_header *h,
			   size_t payload, u64 *load, u64 *need)
{
	u16 ver = h->version;
	u64 start, align;

	*need = payload;
	if (ver >= 0x020a && h->init_size > *need)
		*need = h->init_size;

	if (ver >= 0x0205 && h->relocatable_kernel) {
		align = h->kernel_alignment;
		if (!is_power_of_2(align) || align > (1ULL << 30))
			return x86_loader_fail(l, -ENOEXEC,
					       "bzImage: bad kernel_alignment 0x%llx",
					       (unsigned long long)align);
		start = ver >= 0x020a && h->pref_address ? h->pref_address : h->code32_start;
		if (start < X86_BOOT_KERNEL_GPA)
			start = X86_BOOT_KERNEL_GPA;
		*load = ALIGN_UP(start, align);
		/* Too little RAM at the preferred address: as low as it may go. */
		if (*load < start || *load + *need > l->low_ram_end || *load + *need < *load)
			*load = ALIGN_UP(X86_BOOT_KERNEL_GPA, align);
	} else {
		*load = h->code32_start ? h->code32_start : X86_BOOT_KERNEL_GPA;
	}
	return x86_loader_claim(l, *load, *need, "kernel");
}

/* Highest page-aligned spot below min(initrd_addr_max, RAM) above everything else. */
static int bz_place_initrd(struct x86_loader *l, u64 addr_max, u64 *addr)
{
	size_t size = l->cfg->initrd_size;
	u64 top = MIN(addr_max + 1, l->low_ram_end);
	u64 floor = x86_loader_highest_claim_below(l, l->low_ram_end);
	int ret;

	*addr = 0;
	if (!size)
		return 0;
	if (size > top || ALIGN_DOWN(top - size, 4096) < floor)
		return x86_loader_fail(l, -ENOSPC,
				       "initrd of %zu bytes does not fit in RAM between 0x%llx and 0x%llx (initrd_addr_max)",
				       size, (unsigned long long)floor,
				       (unsigned long long)top);
	*addr = ALIGN_DOWN(top - size, 4096);
	ret = x86_loader_claim(l, *addr, size, "initrd");
	if (!ret)
		ret = x86_loader_write(l, *addr, l->cfg->initrd, size, "initrd");
	return ret;
}

static int bz_enter_real(struct x86_loader *l, const u8 *img, size_t setup_size,
			 struct setup_header *h, size_t hdr_len, struct x86_boot_entry *e)
{
	u8 iret = 0xcf;
	le32 ivt[256];
	unsigned int i;
	int ret;

	ret = x86_loader_claim(l, X86_BOOT_REALMODE_GPA, 0x10000, "real-mode setup segment");
	if (ret)
		return ret;
	ret = x86_loader_write(l, X86_BOOT_REALMODE_GPA, img, setup_size, "setup code");
	if (ret)
		return ret;
	h->loadflags |= LOADFLAG_CAN_USE_HEAP;
	h->heap_end_ptr = BZ_HEAP_END - 0x200;
	/* Only the bytes the kernel's header has: beyond them is setup code. */
	ret = x86_loader_write(l, X86_BOOT_REALMODE_GPA + 0x1f1, h, hdr_len, "setup header");
	if (ret)
		return ret;

	for (i = 0; i < ARRAY_SIZE(ivt); i++)
		ivt[i] = (0xf000u << 16) | (BZ_IRET_STUB_GPA & 0xffff);
	ret = x86_loader_write(l, 0, ivt, sizeof(ivt), "IVT");
	if (!ret)
		ret = x86_loader_write(l, BZ_IRET_STUB_GPA, &iret, 1, "IRET stub");
	if (ret)
		return ret;

	e->mode = X86_BOOT_REAL16;
	e->format = "bzImage-real";
	e->cs_sel = BZ_REALMODE_SEG + 0x20;
	e->cs_base = (u64)e->cs_sel << 4;
	e->rip = 0;
	e->ds_sel = BZ_REALMODE_SEG;
	e->ds_base = X86_BOOT_REALMODE_GPA;
	e->rsp = BZ_HEAP_END;
	e->rflags = 0x2;
	return 0;
}

static int bz_enter_64(struct x86_loader *l, const struct setup_header *h,
		       u64 load, struct x86_boot_entry *e)
{
	struct boot_params *bp;
	int ret;

	bp = xzalloc(sizeof(*bp));
	if (!bp)
		return x86_loader_fail(l, -ENOMEM, "out of memory for the zero page");
	bp->hdr = *h;
	bp->acpi_rsdp_addr = l->rsdp_gpa;
	/* Everything lies below 4 GiB: ext_ramdisk_image / ext_cmd_line_ptr stay 0. */
	bp->e820_entries = l->nr_e820;
	memcpy(bp->e820_table, l->e820, l->nr_e820 * sizeof(l->e820[0]));
	ret = x86_loader_write(l, X86_BOOT_ZERO_PAGE_GPA, bp, sizeof(*bp), "zero page");
	free(bp);
	if (ret)
		return ret;
	ret = x86_entry_long64(l, e);
	if (ret)
		return ret;
	e->format = "bzImage";
	e->rip = load + 0x200;
	e->rsi = X86_BOOT_ZERO_PAGE_GPA;
	return 0;
}

int x86_bzimage_load(struct x86_loader *l, struct x86_boot_entry *e)
{
	const u8 *img = l->cfg->kernel;
	size_t size = l->cfg->kernel_size, hdr_len, setup_size, payload, cmdline_len;
	struct setup_header h;
	char *cmdline;
	u64 load = 0, need = 0, initrd, addr_max;
	unsigned int setup_sects;
	bool want64;
	int ret;

	/* The header ends at 0x202 + the jump's displacement byte (boot.rst). */
	hdr_len = MIN((size_t)0x202 + img[0x201], sizeof(h) + 0x1f1) - 0x1f1;
	hdr_len = MIN(hdr_len, size - 0x1f1);
	memset(&h, 0, sizeof(h));
	memcpy(&h, img + 0x1f1, hdr_len);

	if (h.version < BZ_MIN_VERSION)
		return x86_loader_fail(l, -ENOEXEC,
				       "bzImage boot protocol %u.%02u is too old (kestrel needs 2.02 or later)",
				       h.version >> 8, h.version & 0xff);
	if (hdr_len < offsetof(struct setup_header, initrd_addr_max))
		return x86_loader_fail(l, -ENOEXEC, "bzImage setup header is truncated (%zu bytes)",
				       hdr_len);
	if (!(h.loadflags & LOADFLAG_LOADED_HIGH))
		return x86_loader_fail(l, -ENOEXEC,
				       "zImage (not LOADED_HIGH) kernels are not supported");
	setup_sects = h.setup_sects ? h.setup_sects : 4;
	if (setup_sects > BZ_SETUP_SECTS_MAX)
		return x86_loader_fail(l, -ENOEXEC, "bzImage: bad setup_sects %u (at most %u)",
				       setup_sects, BZ_SETUP_SECTS_MAX);
	setup_size = (setup_sects + 1) * 512;
	if (setup_size >= size)
		return x86_loader_fail(l, -ENOEXEC,
				       "bzImage truncated: %zu bytes of setup but the image has %zu",
				       setup_size, size);
	payload = size - setup_size;
	if (h.version >= 0x0204 && (u64)h.syssize * 16 > payload + 15)
		return x86_loader_fail(l, -ENOEXEC,
				       "bzImage truncated: syssize says 0x%llx bytes of kernel, the image has 0x%zx",
				       (unsigned long long)h.syssize * 16, payload);

	want64 = h.version >= 0x020c && (h.xloadflags & XLF_KERNEL_64) &&
		 !l->opts->bzimage_real_mode;

	/* boot.rst's fixed low-memory slots (boot.h), before the kernel's place */
	ret = x86_loader_claim(l, X86_BOOT_PAGE0_END, X86_BOOT_REALMODE_GPA - X86_BOOT_PAGE0_END,
			       "boot data (zero page, boot stack, page tables)");
	if (!ret)
		ret = x86_loader_claim(l, X86_BOOT_CMDLINE_GPA, X86_BOOT_CMDLINE_MAX,
				       "command line");
	if (!ret)
		ret = x86_loader_zero(l, X86_BOOT_PAGE0_END,
				      X86_BOOT_REALMODE_GPA - X86_BOOT_PAGE0_END, "boot data");
	if (ret)
		return ret;
	ret = bz_place_kernel(l, &h, payload, &load, &need);
	if (ret)
		return ret;
	ret = x86_loader_write(l, load, img + setup_size, payload, "kernel");
	if (ret)
		return ret;
	e->kernel_start = load;
	e->kernel_end = load + need;

	addr_max = h.version >= 0x0203 ? h.initrd_addr_max : 0x37ffffff;
	ret = bz_place_initrd(l, addr_max, &initrd);
	if (ret)
		return ret;
	ret = x86_loader_cmdline(l, NULL, true, h.version >= 0x0206 ? h.cmdline_size : 255,
				 &cmdline, &cmdline_len);
	if (ret)
		return ret;
	ret = x86_loader_write(l, X86_BOOT_CMDLINE_GPA, cmdline, cmdline_len + 1, "command line");
	free(cmdline);
	if (ret)
		return ret;

	h.type_of_loader = BZ_LOADER_TYPE;
	h.code32_start = load;
	h.ramdisk_image = initrd;
	h.ramdisk_size = l->cfg->initrd_size;
	h.cmd_line_ptr = X86_BOOT_CMDLINE_GPA;
	if (want64)
		return bz_enter_64(l, &h, load, e);
	return bz_enter_real(l, img, setup_size, &h, hdr_len, e);
}
