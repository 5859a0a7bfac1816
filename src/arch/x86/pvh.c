// SPDX-License-Identifier: GPL-2.0-only
/*
 * PVH loader: an ELF (ELF32 or ELF64, e.g. Linux's vmlinux) carrying the Xen
 * note XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen"), whose descriptor is
 * the 32-bit physical entry point (4 or 8 bytes). Segments load at p_paddr.
 *
 * Entry (xen/include/public/arch-x86/hvm/start_info.h): 32-bit protected
 * mode, paging off, flat CS/DS, TR a 32-bit busy TSS, EBX = hvm_start_info
 * (version 1: command line, modules, RSDP, memory map). Module 0 is the
 * initrd when there is one (that is where Linux looks), then cfg->modules;
 * modules are page-aligned and follow the kernel. Like Multiboot's, the
 * start_info, memmap, module list, strings and command line share one area
 * placed where the image left room, reserved (with page 0) in the memmap. The command line gets the
 * virtio_mmio.device= arguments like a bzImage's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define XEN_ELFNOTE_PHYS32_ENTRY	18
#define HVM_START_MAGIC			0x336ec578

struct hvm_start_info {
	le32 magic;
	le32 version;
	le32 flags;
	le32 nr_modules;
	le64 modlist_paddr;
	le64 cmdline_paddr;
	le64 rsdp_paddr;
	le64 memmap_paddr;
	le32 memmap_entries;
	le32 reserved;
} __packed;
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");

struct hvm_modlist_entry {
	le64 paddr, size, cmdline_paddr, reserved;
} __packed;
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");

struct hvm_memmap_table_entry {
	le64 addr, size;
	le32 type, reserved;
} __packed;
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry");

static int pvh_entry_note(const void *img, size_t size, u64 *entry)
{
	const void *desc;
	u32 descsz;
	int ret;

	ret = x86_elf_find_note(img, size, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc, &descsz);
	if (ret)
		return ret;
	if (descsz == 4) {
		u32 v;

		memcpy(&v, desc, 4);
		*entry = v;
	} else if (descsz == 8) {
		memcpy(entry, desc, 8);
	} else {
		return -EINVAL;
	}
	return 0;
}

bool x86_pvh_detect(const void *img, size_t size)
{
	u64 entry;
	int ret = pvh_entry_note(img, size, &entry);

	/* -EINVAL: the note is there but malformed; the loader says so. */
	return ret == 0 || ret == -EINVAL;
}

static int pvh_add_modules(struct x86_loader *l, struct x86_info_area *a,
			   struct hvm_start_info *si)
{
	const struct boot_config *cfg = l->cfg;
	unsigned int i, first = cfg->initrd_size ? 1 : 0, n = cfg->nr_modules + first;
	u64 next = ALIGN_UP(x86_loader_highest_claim_below(l, l->low_ram_end), 4096);
	long list;
	int ret;

	if (!n)
		return 0;
	list = x86_info_alloc(a, (size_t)n * sizeof(struct hvm_modlist_entry), 8);
	if (list < 0)
		return x86_loader_fail(l, -E2BIG, "%u modules do not fit in the start_info area", n);
	for (i = 0; i < n; i++) {
		bool is_initrd = first && i == 0;
		const struct boot_module *mod = is_initrd ? NULL : &cfg->modules[i - first];
		const void *data = is_initrd ? cfg->initrd : mod->data;
		size_t size = is_initrd ? cfg->initrd_size : mod->size;
		struct hvm_modlist_entry m = { 0 };

		if (mod && mod->cmdline) {
			size_t slen = strlen(mod->cmdline);
			long s = x86_info_alloc(a, slen + 1, 1);

			if (s < 0)
				return x86_loader_fail(l, -E2BIG,
						       "module %u: command lines do not fit in the start_info area",
						       i);
			memcpy(a->buf + s, mod->cmdline, slen + 1);
			m.cmdline_paddr = x86_info_gpa(a, s);
		}
		if (next > l->low_ram_end || size > l->low_ram_end - next)
			return x86_loader_fail(l, -ENOSPC,
					       "%s (%zu bytes) does not fit in RAM after 0x%llx",
					       is_initrd ? "initrd" : "module", size,
					       (unsigned long long)next);
		ret = x86_loader_claim(l, next, size, is_initrd ? "initrd" : "module");
		if (!ret)
			ret = x86_loader_write(l, next, data, size, "module");
		if (ret)
			return ret;
		m.paddr = next;
		m.size = size;
		memcpy(a->buf + list + i * sizeof(m), &m, sizeof(m));
		next = ALIGN_UP(next + size, 4096);
	}
	si->nr_modules = n;
	si->modlist_paddr = x86_info_gpa(a, list);
	return 0;
}

/* What the start_info area must hold beyond the stack: an upper bound. */
static size_t pvh_info_bytes(const struct x86_loader *l, size_t cmdline_len)
{
	const struct boot_config *cfg = l->cfg;
	/* x86_info_area_claim() splits at most two RAM entries: +3, and slack */
	size_t n = sizeof(struct hvm_start_info) +
		   (l->nr_e820 + 4) * sizeof(struct hvm_memmap_table_entry) +
		   (cfg->nr_modules + 1) * (sizeof(struct hvm_modlist_entry) + 1) +
		   cmdline_len + 1 + 64;

	return n + x86_loader_module_strings(cfg);
}

int x86_pvh_load(struct x86_loader *l, struct x86_boot_entry *e)
{
	const void *img = l->cfg->kernel;
	size_t size = l->cfg->kernel_size, cmdline_len;
	struct hvm_start_info si = { 0 };
	struct x86_info_area a = { 0 };
	struct x86_elf_info info;
	long si_off, map_off, cmd_off;
	char *cmdline;
	unsigned int i;
	u64 entry;
	int ret;

	if (pvh_entry_note(img, size, &entry))
		return x86_loader_fail(l, -ENOEXEC,
				       "PVH: XEN_ELFNOTE_PHYS32_ENTRY descriptor is not 4 or 8 bytes");
	ret = x86_elf_parse(l, img, size, &info);
	if (!ret)
		ret = x86_elf_load(l, img, size, 1ULL << 32, &info);
	if (ret)
		return ret;
	if (entry < info.lowest || entry >= info.highest)
		return x86_loader_fail(l, -ENOEXEC,
				       "PVH entry 0x%llx is outside the loaded image [0x%llx-0x%llx)",
				       (unsigned long long)entry,
				       (unsigned long long)info.lowest,
				       (unsigned long long)info.highest);
	e->kernel_start = info.lowest;
	e->kernel_end = info.highest;

	ret = x86_loader_cmdline(l, NULL, true, X86_BOOT_CMDLINE_MAX - 1, &cmdline, &cmdline_len);
	if (ret)
		return ret;
	/* Like Multiboot's: where the image left room, reserved in the memmap. */
	ret = x86_info_area_claim(l, &a, pvh_info_bytes(l, cmdline_len), "PVH start_info");
	if (ret)
		goto out;
	si_off = x86_info_alloc(&a, sizeof(si), 8);
	map_off = x86_info_alloc(&a, l->nr_e820 * sizeof(struct hvm_memmap_table_entry), 8);
	cmd_off = x86_info_alloc(&a, cmdline_len + 1, 1);
	if (si_off < 0 || map_off < 0 || cmd_off < 0) {
		ret = x86_loader_fail(l, -E2BIG, "the memory map or command line do not fit in the start_info area");
		goto out;
	}
	for (i = 0; i < l->nr_e820; i++) {
		struct hvm_memmap_table_entry m = {
			.addr = l->e820[i].addr,
			.size = l->e820[i].size,
			.type = l->e820[i].type,
		};

		memcpy(a.buf + map_off + i * sizeof(m), &m, sizeof(m));
	}
	memcpy(a.buf + cmd_off, cmdline, cmdline_len + 1);
	si.magic = HVM_START_MAGIC;
	si.version = 1;
	si.cmdline_paddr = x86_info_gpa(&a, cmd_off);
	si.rsdp_paddr = l->rsdp_gpa;
	si.memmap_paddr = x86_info_gpa(&a, map_off);
	si.memmap_entries = l->nr_e820;

	ret = pvh_add_modules(l, &a, &si);
	if (ret)
		goto out;
	memcpy(a.buf + si_off, &si, sizeof(si));
	ret = x86_info_area_write(l, &a, "PVH start_info");
	if (ret)
		goto out;

	x86_entry_prot32_info(e, &a, si_off);
	e->format = "PVH";
	e->rip = entry;
out:
	x86_info_area_release(&a);
	free(cmdline);
	return ret;
}
