// SPDX-License-Identifier: GPL-2.0-only
/*
 * ELF32/ELF64 program-header loading and note lookup for the Multiboot and
 * PVH loaders. Every header field is untrusted: tables and segments are
 * bounds-checked against the file, destinations are claimed in RAM (no
 * wrap, no overlap with boot data or each other).
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "loader.h"

#define ELF_MAX_PHDRS	128

struct elf_phdr_any {
	u32 type;
	u64 offset, vaddr, paddr, filesz, memsz, align;
};

bool x86_elf_is_elf(const void *img, size_t size)
{
	return size >= SELFMAG && !memcmp(img, ELFMAG, SELFMAG);
}

/* Header facts, validated; no phdr is looked at beyond the table's bounds. */
struct elf_hdr_any {
	bool is64;
	u16 type, machine;
	u64 entry, phoff;
	u16 phentsize, phnum;
};

static int elf_read_hdr(const void *img, size_t size, struct elf_hdr_any *h)
{
	const u8 *id = img;

	if (!x86_elf_is_elf(img, size) || size < EI_NIDENT)
		return -ENOEXEC;
	if (id[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	if (id[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr e;

		if (size < sizeof(e))
			return -ENOEXEC;
		memcpy(&e, img, sizeof(e));
		*h = (struct elf_hdr_any){ false, e.e_type, e.e_machine, e.e_entry,
					   e.e_phoff, e.e_phentsize, e.e_phnum };
		if (h->phnum && h->phentsize != sizeof(Elf32_Phdr))
			return -ENOEXEC;
	} else if (id[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr e;

		if (size < sizeof(e))
			return -ENOEXEC;
		memcpy(&e, img, sizeof(e));
		*h = (struct elf_hdr_any){ true, e.e_type, e.e_machine, e.e_entry,
					   e.e_phoff, e.e_phentsize, e.e_phnum };
		if (h->phnum && h->phentsize != sizeof(Elf64_Phdr))
			return -ENOEXEC;
	} else {
		return -ENOEXEC;
	}
	if (h->phnum > ELF_MAX_PHDRS || h->phoff > size ||
	    (u64)h->phnum * h->phentsize > size - h->phoff)
		return -ENOEXEC;
	return 0;
}

static void elf_phdr(const void *img, const struct elf_hdr_any *h, unsigned int i,
		     struct elf_phdr_any *p)
{
	const u8 *at = (const u8 *)img + h->phoff + (u64)i * h->phentsize;

	if (h->is64) {
		Elf64_Phdr ph;

		memcpy(&ph, at, sizeof(ph));
		*p = (struct elf_phdr_any){ ph.p_type, ph.p_offset, ph.p_vaddr, ph.p_paddr,
					    ph.p_filesz, ph.p_memsz, ph.p_align };
	} else {
		Elf32_Phdr ph;

		memcpy(&ph, at, sizeof(ph));
		*p = (struct elf_phdr_any){ ph.p_type, ph.p_offset, ph.p_vaddr, ph.p_paddr,
					    ph.p_filesz, ph.p_memsz, ph.p_align };
	}
}

int x86_elf_parse(struct x86_loader *l, const void *img, size_t size,
		  struct x86_elf_info *info)
{
	struct elf_hdr_any h;

	if (elf_read_hdr(img, size, &h))
		return x86_loader_fail(l, -ENOEXEC,
				       "malformed ELF header (class, byte order or program header table)");
	if (h.type != ET_EXEC && h.type != ET_DYN)
		return x86_loader_fail(l, -ENOEXEC, "ELF type %u is not an executable", h.type);
	if (h.machine != EM_386 && h.machine != EM_X86_64)
		return x86_loader_fail(l, -ENOEXEC, "ELF machine %u is not x86", h.machine);
	memset(info, 0, sizeof(*info));
	info->is64 = h.is64;
	info->machine = h.machine;
	info->entry = h.entry;
	return 0;
}

/*
 * Load every PT_LOAD segment at its physical address (p_paddr), zero-filling
 * p_memsz beyond p_filesz. Everything must lie below @limit.
 */
int x86_elf_load(struct x86_loader *l, const void *img, size_t size, u64 limit,
		 struct x86_elf_info *info)
{
	struct elf_hdr_any h;
	unsigned int i, loaded = 0;
	int ret;

	if (elf_read_hdr(img, size, &h))
		return x86_loader_fail(l, -ENOEXEC, "malformed ELF program header table");
	info->lowest = ~0ULL;
	info->highest = 0;
	info->entry_paddr = info->entry;
	for (i = 0; i < h.phnum; i++) {
		struct elf_phdr_any p;

		elf_phdr(img, &h, i, &p);
		if (p.type != PT_LOAD || !p.memsz)
			continue;
		if (p.filesz > p.memsz)
			return x86_loader_fail(l, -ENOEXEC,
					       "ELF segment %u: p_filesz 0x%llx > p_memsz 0x%llx",
					       i, (unsigned long long)p.filesz,
					       (unsigned long long)p.memsz);
		if (p.offset > size || p.filesz > size - p.offset)
			return x86_loader_fail(l, -ENOEXEC,
					       "ELF segment %u: file bytes 0x%llx+0x%llx beyond the 0x%zx-byte image",
					       i, (unsigned long long)p.offset,
					       (unsigned long long)p.filesz, size);
		if (p.paddr + p.memsz < p.paddr || p.paddr + p.memsz > limit)
			return x86_loader_fail(l, -ENOEXEC,
					       "ELF segment %u: 0x%llx+0x%llx is beyond 0x%llx",
					       i, (unsigned long long)p.paddr,
					       (unsigned long long)p.memsz,
					       (unsigned long long)limit);
		ret = x86_loader_claim(l, p.paddr, p.memsz, "ELF segment");
		if (ret)
			return ret;
		ret = x86_loader_write(l, p.paddr, (const u8 *)img + p.offset, p.filesz,
				       "ELF segment");
		if (!ret)
			ret = x86_loader_zero(l, p.paddr + p.filesz, p.memsz - p.filesz,
					      "ELF bss");
		if (ret)
			return ret;
		/* An entry given as a virtual address becomes physical. */
		if (info->entry >= p.vaddr && info->entry - p.vaddr < p.memsz)
			info->entry_paddr = info->entry - p.vaddr + p.paddr;
		info->lowest = MIN(info->lowest, p.paddr);
		info->highest = MAX(info->highest, p.paddr + p.memsz);
		loaded++;
	}
	if (!loaded)
		return x86_loader_fail(l, -ENOEXEC, "ELF image has no loadable segment");
	return 0;
}

/* Find note (@name, @type) in the PT_NOTE segments; 0, or -ENOENT. */
int x86_elf_find_note(const void *img, size_t size, const char *name, u32 type,
		      const void **desc, u32 *descsz)
{
	size_t want_namesz = strlen(name) + 1;
	struct elf_hdr_any h;
	unsigned int i;

	if (elf_read_hdr(img, size, &h))
		return -ENOEXEC;
	for (i = 0; i < h.phnum; i++) {
		struct elf_phdr_any p;
		u64 off, end, align;

		elf_phdr(img, &h, i, &p);
		if (p.type != PT_NOTE)
			continue;
		if (p.offset > size || p.filesz > size - p.offset)
			continue;
		align = p.align == 8 ? 8 : 4;
		off = p.offset;
		end = p.offset + p.filesz;
		while (end - off >= 12) {
			u32 nh[3];
			u64 name_off, desc_off, next;

			memcpy(nh, (const u8 *)img + off, sizeof(nh));
			name_off = off + 12;
			desc_off = name_off + ALIGN_UP((u64)nh[0], align);
			next = desc_off + ALIGN_UP((u64)nh[1], align);
			if (desc_off > end || nh[1] > end - desc_off)
				break;
			if (nh[2] == type && nh[0] == want_namesz &&
			    !memcmp((const u8 *)img + name_off, name, want_namesz)) {
				*desc = (const u8 *)img + desc_off;
				*descsz = nh[1];
				return 0;
			}
			if (next > end)
				break;
			off = next;
		}
	}
	return -ENOENT;
}
