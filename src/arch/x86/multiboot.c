// SPDX-License-Identifier: GPL-2.0-only
/*
 * Multiboot v1 loader (Multiboot Specification 0.6.96).
 *
 * The header is searched in the first 8 KiB, 4-byte aligned (§3.1.1). With
 * flag bit 16 the a.out-kludge address fields say what to load; otherwise the
 * image must be ELF32 or ELF64 (ELF64 as GRUB accepts it: segments and entry
 * below 4 GiB), loaded by physical address. Header flags: bit 0 (page-align
 * modules) and bit 1 (memory info) are always honoured; bit 2 (video mode) is
 * accepted but no video information is given; any other bit in 0-15 is a
 * requirement kestrel cannot meet, so the image is refused (§3.1.2).
 *
 * The image may load anywhere in RAM from 0x1000 up, below 1 MiB included,
 * except the EBDA/ACPI/MP area 0x9fc00-0xfffff: kestrel's boot data moves
 * out of its way instead (boot.h). Only page 0 (IVT, BDA, GDT) is fixed.
 *
 * Entry (§3.2): 32-bit protected mode, flat CS/DS, paging off, IF clear,
 * EAX = 0x2BADB002, EBX = the multiboot_info, ESP the top of a 4 KiB stack
 * (the spec leaves ESP undefined). The info, its strings, memory map and
 * module list and the stack share one page-aligned area at the lowest
 * address the image left free (0x1000 for an image at 1 MiB). The info has
 * mem_lower/mem_upper, the command line "PATH ARGS" (the image's path first,
 * as GRUB and QEMU pass it), modules (cfg->modules, each with its own
 * string, then cfg->initrd as a last module with an empty string), the
 * memory map (page 0 and the info area reserved, like the EBDA/ACPI/MP
 * area) and the boot loader name. Modules are page-aligned and placed after
 * the kernel (or the info area, if that is higher).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define MB_HEADER_MAGIC		0x1badb002
#define MB_BOOT_MAGIC		0x2badb002
#define MB_SEARCH		8192
#define MB_FLAG_PAGE_ALIGN	(1u << 0)
#define MB_FLAG_MEMORY_INFO	(1u << 1)
#define MB_FLAG_VIDEO		(1u << 2)
#define MB_FLAG_AOUT_KLUDGE	(1u << 16)
#define MB_FLAGS_SUPPORTED	(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO)

#define MB_INFO_MEMORY		(1u << 0)
#define MB_INFO_CMDLINE		(1u << 2)
#define MB_INFO_MODS		(1u << 3)
#define MB_INFO_MMAP		(1u << 6)
#define MB_INFO_LOADER_NAME	(1u << 9)
#define MB_LOADER_NAME		"kestrel"

struct mb_header {
	le32 magic, flags, checksum;
	le32 header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
} __packed;
_Static_assert(sizeof(struct mb_header) == 32, "multiboot header");

struct mb_info {
	le32 flags;
	le32 mem_lower, mem_upper;
	le32 boot_device;
	le32 cmdline;
	le32 mods_count, mods_addr;
	le32 syms[4];
	le32 mmap_length, mmap_addr;
	le32 drives_length, drives_addr;
	le32 config_table;
	le32 boot_loader_name;
	le32 apm_table;
	le32 vbe_control_info, vbe_mode_info;
	le16 vbe_mode, vbe_interface_seg, vbe_interface_off, vbe_interface_len;
	le64 framebuffer_addr;
	le32 framebuffer_pitch, framebuffer_width, framebuffer_height;
	u8 framebuffer_bpp, framebuffer_type;
	u8 color_info[6];
} __packed;
_Static_assert(sizeof(struct mb_info) == 116, "multiboot_info");
_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "mmap_length");
_Static_assert(offsetof(struct mb_info, boot_loader_name) == 64, "boot_loader_name");

struct mb_module {
	le32 mod_start, mod_end, string, reserved;
} __packed;
_Static_assert(sizeof(struct mb_module) == 16, "multiboot module");

struct mb_mmap_entry {
	le32 size;		/* of the rest: 20 */
	le64 addr, len;
	le32 type;
} __packed;
_Static_assert(sizeof(struct mb_mmap_entry) == 24, "multiboot mmap entry");

/* Offset of a valid header in the first 8 KiB, or -1. */
static long mb_find_header(const void *img, size_t size)
{
	size_t off, end = MIN(size, (size_t)MB_SEARCH);

	for (off = 0; off + 12 <= end; off += 4) {
		le32 w[3];

		memcpy(w, (const u8 *)img + off, sizeof(w));
		if (w[0] == MB_HEADER_MAGIC && (u32)(w[0] + w[1] + w[2]) == 0)
			return off;
	}
	return -1;
}

bool x86_multiboot_detect(const void *img, size_t size)
{
	return mb_find_header(img, size) >= 0;
}

static int mb_load_aout(struct x86_loader *l, const struct mb_header *h, size_t hdr_off,
			u64 *entry, u64 *end)
{
	const u8 *img = l->cfg->kernel;
	size_t size = l->cfg->kernel_size;
	u64 load_off, load_size, mem_end;
	int ret;

	if (hdr_off + sizeof(*h) > size)
		return x86_loader_fail(l, -ENOEXEC, "Multiboot a.out-kludge header is truncated");
	if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > hdr_off)
		return x86_loader_fail(l, -ENOEXEC,
				       "Multiboot: load_addr 0x%x and header_addr 0x%x do not match the header's file offset 0x%zx",
				       h->load_addr, h->header_addr, hdr_off);
	load_off = hdr_off - (h->header_addr - h->load_addr);
	if (!h->load_end_addr) {
		load_size = size - load_off;
	} else {
		if (h->load_end_addr <= h->load_addr)
			return x86_loader_fail(l, -ENOEXEC,
					       "Multiboot: load_end_addr 0x%x is not above load_addr 0x%x",
					       h->load_end_addr, h->load_addr);
		load_size = (u64)h->load_end_addr - h->load_addr;
		if (load_size > size - load_off)
			return x86_loader_fail(l, -ENOEXEC,
					       "Multiboot: load_end_addr 0x%x is beyond the 0x%zx-byte image",
					       h->load_end_addr, size);
	}
	mem_end = h->load_addr + load_size;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < mem_end)
			return x86_loader_fail(l, -ENOEXEC,
					       "Multiboot: bss_end_addr 0x%x is below the loaded end 0x%llx",
					       h->bss_end_addr, (unsigned long long)mem_end);
		mem_end = h->bss_end_addr;
	}
	if (h->entry_addr < h->load_addr || h->entry_addr >= mem_end)
		return x86_loader_fail(l, -ENOEXEC,
				       "Multiboot: entry_addr 0x%x is outside the image [0x%x-0x%llx)",
				       h->entry_addr, h->load_addr, (unsigned long long)mem_end);
	ret = x86_loader_claim(l, h->load_addr, mem_end - h->load_addr, "kernel");
	if (!ret)
		ret = x86_loader_write(l, h->load_addr, img + load_off, load_size, "kernel");
	if (!ret)
		ret = x86_loader_zero(l, h->load_addr + load_size,
				      mem_end - h->load_addr - load_size, "kernel bss");
	*entry = h->entry_addr;
	*end = mem_end;
	return ret;
}

static int mb_load_elf(struct x86_loader *l, u64 *entry, u64 *start, u64 *end)
{
	struct x86_elf_info info;
	int ret;

	ret = x86_elf_parse(l, l->cfg->kernel, l->cfg->kernel_size, &info);
	if (ret)
		return ret;
	ret = x86_elf_load(l, l->cfg->kernel, l->cfg->kernel_size, 1ULL << 32, &info);
	if (ret)
		return ret;
	if (info.entry_paddr >> 32)
		return x86_loader_fail(l, -ENOEXEC,
				       "Multiboot: ELF entry 0x%llx is not a 32-bit address",
				       (unsigned long long)info.entry_paddr);
	*entry = info.entry_paddr;
	*start = info.lowest;
	*end = info.highest;
	return 0;
}

static unsigned int mb_nr_modules(const struct boot_config *cfg)
{
	return cfg->nr_modules + (cfg->initrd_size ? 1 : 0);
}

/* What the info area must hold beyond the stack: an upper bound. */
static size_t mb_info_bytes(const struct x86_loader *l, size_t cmdline_len)
{
	const struct boot_config *cfg = l->cfg;
	/* x86_info_area_claim() splits at most two RAM entries: +3, and slack */
	size_t n = sizeof(struct mb_info) + (l->nr_e820 + 4) * sizeof(struct mb_mmap_entry) +
		   sizeof(MB_LOADER_NAME) + mb_nr_modules(cfg) * (sizeof(struct mb_module) + 1) +
		   cmdline_len + 1 + 64;

	return n + x86_loader_module_strings(cfg);
}

/* Copy @len bytes of @s plus a NUL into the area; its guest address, or 0. */
static u32 mb_info_str(struct x86_info_area *a, const char *s, size_t len)
{
	long off = x86_info_alloc(a, len + 1, 1);

	if (off < 0)
		return 0;
	memcpy(a->buf + off, s, len);
	a->buf[off + len] = '\0';
	return x86_info_gpa(a, off);
}

/*
 * Modules (cfg->modules, then the initrd as a last module with an empty
 * string), page aligned after the highest thing placed so far; each
 * module's string is its own (§3.3: "mods_addr ... string").
 */
static int mb_add_modules(struct x86_loader *l, struct x86_info_area *a, struct mb_info *info)
{
	const struct boot_config *cfg = l->cfg;
	unsigned int i, n = mb_nr_modules(cfg);
	u64 next = ALIGN_UP(x86_loader_highest_claim_below(l, l->low_ram_end), 4096);
	long list;
	int ret;

	if (!n)
		return 0;
	list = x86_info_alloc(a, (size_t)n * sizeof(struct mb_module), 16);
	if (list < 0)
		return x86_loader_fail(l, -E2BIG, "%u modules do not fit in the boot info area", n);
	for (i = 0; i < n; i++) {
		bool is_initrd = i == cfg->nr_modules;
		const void *data = is_initrd ? cfg->initrd : cfg->modules[i].data;
		size_t size = is_initrd ? cfg->initrd_size : cfg->modules[i].size;
		const char *str = is_initrd ? NULL : cfg->modules[i].cmdline;
		struct mb_module m = { 0 };

		m.string = mb_info_str(a, str ? str : "", str ? strlen(str) : 0);
		if (!m.string)
			return x86_loader_fail(l, -E2BIG,
					       "module %u: its string does not fit in the %zu-byte boot info area",
					       i, a->size);
		if (next > l->low_ram_end || size > l->low_ram_end - next)
			return x86_loader_fail(l, -ENOSPC,
					       "module %u (%zu bytes) does not fit in RAM after 0x%llx",
					       i, size, (unsigned long long)next);
		ret = x86_loader_claim(l, next, size, is_initrd ? "initrd module" : "module");
		if (!ret)
			ret = x86_loader_write(l, next, data, size, "module");
		if (ret)
			return ret;
		m.mod_start = next;
		m.mod_end = next + size;
		memcpy(a->buf + list + i * sizeof(m), &m, sizeof(m));
		next = ALIGN_UP(next + size, 4096);
	}
	info->flags |= MB_INFO_MODS;
	info->mods_count = n;
	info->mods_addr = x86_info_gpa(a, list);
	return 0;
}

/* mmap (§3.3): the loader's e820, page 0 and the info area now reserved. */
static int mb_add_mmap(struct x86_loader *l, struct x86_info_area *a, struct mb_info *info)
{
	long off = x86_info_alloc(a, l->nr_e820 * sizeof(struct mb_mmap_entry), 8);
	unsigned int i;

	if (off < 0)
		return x86_loader_fail(l, -E2BIG, "the memory map does not fit in the boot info area");
	for (i = 0; i < l->nr_e820; i++) {
		struct mb_mmap_entry m = {
			.size = sizeof(m) - 4,
			.addr = l->e820[i].addr,
			.len = l->e820[i].size,
			.type = l->e820[i].type,
		};

		memcpy(a->buf + off + i * sizeof(m), &m, sizeof(m));
	}
	info->flags |= MB_INFO_MMAP;
	info->mmap_addr = x86_info_gpa(a, off);
	info->mmap_length = l->nr_e820 * sizeof(struct mb_mmap_entry);
	return 0;
}

int x86_multiboot_load(struct x86_loader *l, struct x86_boot_entry *e)
{
	long hdr_off = mb_find_header(l->cfg->kernel, l->cfg->kernel_size);
	struct x86_info_area a = { 0 };
	struct mb_header h = { 0 };
	struct mb_info info = { 0 };
	u64 entry = 0, start = 0, end = 0;
	size_t cmdline_len;
	char *cmdline;
	long info_off;
	int ret;

	memcpy(&h, (const u8 *)l->cfg->kernel + hdr_off,
	       MIN(sizeof(h), l->cfg->kernel_size - hdr_off));
	if (h.flags & 0xffff & ~MB_FLAGS_SUPPORTED)
		return x86_loader_fail(l, -ENOEXEC,
				       "Multiboot header requires features kestrel lacks (flags 0x%x)",
				       h.flags);
	if (h.flags & MB_FLAG_AOUT_KLUDGE) {
		start = h.load_addr;
		ret = mb_load_aout(l, &h, hdr_off, &entry, &end);
	} else if (x86_elf_is_elf(l->cfg->kernel, l->cfg->kernel_size)) {
		ret = mb_load_elf(l, &entry, &start, &end);
	} else {
		ret = x86_loader_fail(l, -ENOEXEC,
				      "Multiboot image is neither ELF nor has a.out-kludge addresses (flag 16)");
	}
	if (ret)
		return ret;
	e->kernel_start = start;
	e->kernel_end = end;

	/* "path args", as GRUB and QEMU give it */
	ret = x86_loader_cmdline(l, l->cfg->kernel_path, false, X86_BOOT_CMDLINE_MAX - 1,
				 &cmdline, &cmdline_len);
	if (ret)
		return ret;
	/* The image has its place: the boot data goes where it left room. */
	ret = x86_info_area_claim(l, &a, mb_info_bytes(l, cmdline_len), "Multiboot info");
	if (ret)
		goto out;
	info_off = x86_info_alloc(&a, sizeof(info), 16);
	info.flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_LOADER_NAME;
	info.mem_lower = X86_BOOT_EBDA_GPA / 1024;
	info.mem_upper = (l->low_ram_end - X86_BOOT_KERNEL_GPA) / 1024;
	info.cmdline = mb_info_str(&a, cmdline, cmdline_len);
	info.boot_loader_name = mb_info_str(&a, MB_LOADER_NAME, strlen(MB_LOADER_NAME));
	if (info_off < 0 || !info.cmdline || !info.boot_loader_name) {
		ret = x86_loader_fail(l, -E2BIG, "the command line does not fit in the boot info area");
		goto out;
	}
	ret = mb_add_mmap(l, &a, &info);
	if (!ret)
		ret = mb_add_modules(l, &a, &info);
	if (ret)
		goto out;
	memcpy(a.buf + info_off, &info, sizeof(info));
	ret = x86_info_area_write(l, &a, "Multiboot info");
	if (ret)
		goto out;

	x86_entry_prot32_info(e, &a, info_off);
	e->format = "Multiboot";
	e->rip = entry;
	e->rax = MB_BOOT_MAGIC;
out:
	x86_info_area_release(&a);
	free(cmdline);
	return ret;
}
