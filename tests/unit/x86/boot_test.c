// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 guest loaders against a plain address space (no /dev/kvm): crafted
 * bzImages (64-bit and real mode), Multiboot ELF32/ELF64/a.out kludge with
 * modules, PVH ELF; the bytes and boot data they leave in guest RAM and the
 * entry state; and every malformed image getting its error, not a crash.
 * Also the boot benchmark's null kernel, built by mk-nullkernel.sh.
 *
 * KESTREL_WRITE_SEEDS=DIR writes the crafted good images to DIR (the fuzz
 * corpus seeds in tests/fuzz/corpus/x86_loader were made this way).
 */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kestrel/boot.h>
#include <kestrel/memory.h>
#include <kestrel/types.h>
#include <kestrel/x86/layout.h>

#include "../../../src/arch/x86/boot.h"
#include "../../../src/arch/x86/loader.h"
#include "../test.h"

#define RAM_SIZE	(64ULL << 20)
#define IMG_MAX		(256 * 1024)

static u8 img[IMG_MAX];
static char err[256];

static struct address_space *as_new(u64 size)
{
	struct address_space *as;

	if (address_space_create(&as) || address_space_add_ram(as, 0, size, MEM_F_NORESERVE, NULL)) {
		printf("cannot create the address space\n");
		exit(1);
	}
	return as;
}

static u32 rd32(struct address_space *as, u64 gpa)
{
	u32 v = 0xdeadbeef;

	address_space_read(as, gpa, &v, 4);
	return v;
}

static u64 rd64(struct address_space *as, u64 gpa)
{
	u64 v = 0;

	address_space_read(as, gpa, &v, 8);
	return v;
}

static bool ram_equals(struct address_space *as, u64 gpa, const void *p, size_t n)
{
	u8 *buf = malloc(n ? n : 1);
	bool eq = buf && !address_space_read(as, gpa, buf, n) && !memcmp(buf, p, n);

	free(buf);
	return eq;
}

static void rd_str(struct address_space *as, u64 gpa, char *buf, size_t n)
{
	memset(buf, 0, n);
	address_space_read(as, gpa, buf, n - 1);
}

static void write_seed(const char *name, const void *p, size_t n)
{
	const char *dir = getenv("KESTREL_WRITE_SEEDS");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f) {
		/* byte 0 is the fuzzer's option byte: initrd + modules + devices */
		fputc(0x0b, f);
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

/* ---- bzImage ------------------------------------------------------------ */

struct bz_opts {
	u16 version;
	u8 setup_sects;
	u8 loadflags;
	u16 xloadflags;
	u8 relocatable;
	u32 kernel_alignment;
	u64 pref_address;
	u32 code32_start;
	u32 init_size;
	u32 cmdline_size;
	u32 initrd_addr_max;
	size_t payload;
	u32 syssize;		/* 0: computed */
};

static const struct bz_opts bz_default = {
	.version = 0x020f, .setup_sects = 4, .loadflags = LOADFLAG_LOADED_HIGH,
	.xloadflags = XLF_KERNEL_64, .relocatable = 1, .kernel_alignment = 0x200000,
	.pref_address = 0x1000000, .code32_start = 0x100000, .init_size = 0x100000,
	.cmdline_size = 2047, .initrd_addr_max = 0x7fffffff, .payload = 8192,
};

static size_t mk_bzimage(const struct bz_opts *o)
{
	size_t setup = ((o->setup_sects ? o->setup_sects : 4) + 1) * 512, i;
	struct setup_header h = { 0 };

	memset(img, 0, setup + o->payload);
	for (i = 0; i < o->payload; i++)
		img[setup + i] = (u8)(i * 7 + 3);
	for (i = 0x26c; i < setup; i++)
		img[i] = 0x90;			/* "setup code" the loader must not touch */
	h.setup_sects = o->setup_sects;
	h.syssize = o->syssize ? o->syssize : (o->payload + 15) / 16;
	h.boot_flag = SETUP_BOOT_FLAG;
	h.jump = 0xeb | ((0x26c - 0x202) << 8);
	h.header = SETUP_HDR_MAGIC;
	h.version = o->version;
	h.loadflags = o->loadflags;
	h.code32_start = o->code32_start;
	h.initrd_addr_max = o->initrd_addr_max;
	h.kernel_alignment = o->kernel_alignment;
	h.relocatable_kernel = o->relocatable;
	h.xloadflags = o->xloadflags;
	h.cmdline_size = o->cmdline_size;
	h.pref_address = o->pref_address;
	h.init_size = o->init_size;
	h.vid_mode = 0xffff;
	memcpy(img + 0x1f1, &h, sizeof(h));
	return setup + o->payload;
}

static const struct boot_mmio_dev devs[2] = {
	{ X86_VIRTIO_MMIO_BASE, 0x1000, X86_VIRTIO_MMIO_IRQ0 },
	{ X86_VIRTIO_MMIO_BASE + 0x1000, 0x1000, X86_VIRTIO_MMIO_IRQ0 + 1 },
};

static int load(struct address_space *as, struct boot_config *cfg, struct x86_boot_entry *e)
{
	return x86_load_guest(as, cfg, e, err, sizeof(err));
}

static void test_bzimage_64(void)
{
	static u8 initrd[100000];
	struct address_space *as = as_new(RAM_SIZE);
	struct boot_config cfg = { 0 };
	struct x86_boot_entry e;
	struct boot_params bp;
	char cmdline[512];
	size_t n = mk_bzimage(&bz_default), i;
	u32 rd_addr;
	int ret;

	report_prefix_push("bzImage 64-bit");
	write_seed("bzimage64", img, n);
	for (i = 0; i < sizeof(initrd); i++)
		initrd[i] = (u8)(i ^ 0x5a);
	cfg = (struct boot_config){ .kernel = img, .kernel_size = n, .initrd = initrd,
				    .initrd_size = sizeof(initrd), .cmdline = "console=ttyS0",
				    .nr_cpus = 2, .mmio_devs = devs, .nr_mmio_devs = 2 };
	ret = load(as, &cfg, &e);
	if (!report(ret == 0, "loads (%s)", err))
		goto out;
	report(e.mode == X86_BOOT_LONG64 && !strcmp(e.format, "bzImage"), "64-bit entry");
	report(e.rip == 0x1000000 + 0x200, "rip = pref_address + 0x200 (0x%llx)",
	       (unsigned long long)e.rip);
	report(e.rsi == X86_BOOT_ZERO_PAGE_GPA, "rsi = zero page");
	report(e.cs_sel == 0x10 && e.ds_sel == 0x18, "__BOOT_CS/__BOOT_DS selectors");
	report(e.cr3 == X86_BOOT_PML4_GPA && (e.cr4 & 0x20) && (e.efer & 0x500) == 0x500 &&
	       (e.cr0 & 0x80000001) == 0x80000001, "paging state");
	report(ram_equals(as, 0x1000000, img + 5 * 512, 8192), "kernel bytes at 16 MiB");
	report(rd64(as, X86_BOOT_PML4_GPA) == (X86_BOOT_PML4_GPA + 0x1000 + 3) &&
	       rd64(as, X86_BOOT_PML4_GPA + 0x2000 + 8 * 3) == ((3ULL << 21) | 0x83) &&
	       rd64(as, X86_BOOT_PML4_GPA + 0x2000 + 8 * 2047) == ((2047ULL << 21) | 0x83),
	       "identity page tables map 0-4 GiB");
	report(rd64(as, X86_BOOT_GDT_GPA + 0x10) == 0x00af9b000000ffffULL &&
	       rd64(as, X86_BOOT_GDT_GPA + 0x18) == 0x00cf93000000ffffULL, "GDT code64/data");

	address_space_read(as, X86_BOOT_ZERO_PAGE_GPA, &bp, sizeof(bp));
	report(bp.hdr.type_of_loader == 0xff, "type_of_loader 0xff");
	report(bp.hdr.cmd_line_ptr == X86_BOOT_CMDLINE_GPA, "cmd_line_ptr");
	report(bp.hdr.code32_start == 0x1000000, "code32_start = load address");
	report(bp.acpi_rsdp_addr == X86_BOOT_ACPI_GPA, "acpi_rsdp_addr");
	rd_addr = bp.hdr.ramdisk_image;
	report(bp.hdr.ramdisk_size == sizeof(initrd) && rd_addr % 4096 == 0 &&
	       rd_addr + sizeof(initrd) <= RAM_SIZE && rd_addr + sizeof(initrd) > RAM_SIZE - 4096 - sizeof(initrd),
	       "initrd page aligned, as high as possible (0x%x)", rd_addr);
	report(ram_equals(as, rd_addr, initrd, sizeof(initrd)), "initrd bytes");
	report(bp.e820_entries == 4, "e820: %u entries", bp.e820_entries);
	report(bp.e820_table[0].addr == 0 && bp.e820_table[0].size == 0x9fc00 &&
	       bp.e820_table[0].type == E820_RAM, "e820: low 639 KiB RAM");
	report(bp.e820_table[1].addr == 0x9fc00 && bp.e820_table[1].type == E820_RESERVED &&
	       bp.e820_table[2].addr == 0xe0000 && bp.e820_table[2].size == 0x20000 &&
	       bp.e820_table[2].type == E820_RESERVED, "e820: EBDA and BIOS area reserved");
	report(bp.e820_table[3].addr == 0x100000 && bp.e820_table[3].size == RAM_SIZE - 0x100000 &&
	       bp.e820_table[3].type == E820_RAM, "e820: RAM above 1 MiB");
	rd_str(as, X86_BOOT_CMDLINE_GPA, cmdline, sizeof(cmdline));
	report(!strcmp(cmdline, "console=ttyS0 virtio_mmio.device=4K@0xd0001000:10 "
		       "virtio_mmio.device=4K@0xd0002000:11"), "command line: '%s'", cmdline);
	report(!memcmp(img + 0x26c, "\x90\x90", 2), "image buffer untouched");
out:
	address_space_destroy(as);
	report_prefix_pop();
}

static void test_bzimage_real(void)
{
	struct address_space *as = as_new(RAM_SIZE);
	struct x86_boot_options opts = { .bzimage_real_mode = true };
	struct bz_opts o = bz_default;
	struct boot_config cfg = { 0 };
	struct x86_boot_entry e;
	size_t n;
	int ret;

	report_prefix_push("bzImage real mode");
	o.xloadflags = 0;
	o.relocatable = 0;
	n = mk_bzimage(&o);
	write_seed("bzimage_real", img, n);
	cfg = (struct boot_config){ .kernel = img, .kernel_size = n, .cmdline = "quiet",
				    .nr_cpus = 1 };
	ret = load(as, &cfg, &e);
	if (report(ret == 0, "loads (%s)", err)) {
		report(e.mode == X86_BOOT_REAL16, "real-mode entry");
		report(e.cs_sel == 0x1020 && e.cs_base == 0x10200 && e.rip == 0 &&
		       e.ds_sel == 0x1000 && e.ds_base == 0x10000 && e.rsp == 0xe000,
		       "cs = seg + 0x20, ip 0, ds = ss = seg, sp = heap end");
		report(ram_equals(as, 0x10000, img, 0x1f1) &&
		       ram_equals(as, 0x10000 + 0x26c, img + 0x26c, 5 * 512 - 0x26c),
		       "setup code at 0x10000");
		report(ram_equals(as, 0x100000, img + 5 * 512, 8192), "kernel at code32_start");
		report((rd32(as, 0x10210) & 0xff) == 0xff, "type_of_loader in the setup segment");
		report(((rd32(as, 0x10210) >> 8) & 0x81) == 0x81, "loadflags LOADED_HIGH | CAN_USE_HEAP");
		report((rd32(as, 0x10224) & 0xffff) == 0xde00, "heap_end_ptr");
		report(rd32(as, 0x10228) == X86_BOOT_CMDLINE_GPA, "cmd_line_ptr");
		report(rd32(as, 0) == 0xf000ff00, "IVT points at an IRET stub");
	}
	address_space_destroy(as);

	/* a 64-bit-capable kernel entered in real mode when asked */
	as = as_new(RAM_SIZE);
	n = mk_bzimage(&bz_default);
	cfg.kernel_size = n;
	ret = x86_load_guest_opts(as, &cfg, &opts, &e, err, sizeof(err));
	report(ret == 0 && e.mode == X86_BOOT_REAL16, "64-bit kernel, real mode chosen");
	address_space_destroy(as);
	report_prefix_pop();
}

struct bad_case {
	const char *name;
	int expect;
	const char *needle;	/* in the error message */
};

static void expect_fail(struct address_space *as, struct boot_config *cfg,
			const struct bad_case *c)
{
	struct x86_boot_entry e;
	int ret = load(as, cfg, &e);

	report(ret == c->expect && strstr(err, c->needle),
	       "%s: %d (%s)", c->name, ret, err);
}

static void test_bzimage_bad(void)
{
	static u8 big_initrd[1];
	struct address_space *as = as_new(RAM_SIZE);
	struct boot_config cfg = { .nr_cpus = 1 };
	struct bz_opts o;
	char longcmd[3000];

	report_prefix_push("bzImage malformed");
#define BAD(field, val, exp, needle) do {					\
		o = bz_default; o.field = (val);				\
		cfg.kernel = img; cfg.kernel_size = mk_bzimage(&o);		\
		expect_fail(as, &cfg, &(struct bad_case){ #field "=" #val, exp, needle }); \
	} while (0)
	BAD(version, 0x0201, -ENOEXEC, "too old");
	BAD(loadflags, 0, -ENOEXEC, "zImage");
	BAD(setup_sects, 200, -ENOEXEC, "setup_sects");
	BAD(syssize, 0x10000, -ENOEXEC, "truncated");
	BAD(kernel_alignment, 0x3000, -ENOEXEC, "kernel_alignment");
	BAD(init_size, 0x10000000, -ENOSPC, "does not fit");
#undef BAD
	o = bz_default;
	o.relocatable = 0;
	o.code32_start = 0x8000;
	cfg.kernel_size = mk_bzimage(&o);
	expect_fail(as, &cfg, &(struct bad_case){ "code32_start in boot data", -ENOEXEC, "overlaps boot data" });
	o.code32_start = 0xfffff000;
	cfg.kernel_size = mk_bzimage(&o);
	expect_fail(as, &cfg, &(struct bad_case){ "code32_start beyond RAM", -ENOSPC, "does not fit in RAM" });

	/* setup larger than the file */
	o = bz_default;
	o.setup_sects = 60;
	o.payload = 512;
	cfg.kernel_size = mk_bzimage(&o) - 40 * 512;
	expect_fail(as, &cfg, &(struct bad_case){ "setup beyond the file", -ENOEXEC, "truncated" });
	/* truncated: header present, payload cut */
	cfg.kernel_size = mk_bzimage(&bz_default) - 4096;
	expect_fail(as, &cfg, &(struct bad_case){ "payload cut", -ENOEXEC, "syssize" });
	cfg.kernel_size = 0x204;
	expect_fail(as, &cfg, &(struct bad_case){ "cut in the header", -ENOEXEC, "not a bzImage" });

	/* command line longer than cmdline_size */
	o = bz_default;
	o.cmdline_size = 20;
	cfg.kernel_size = mk_bzimage(&o);
	cfg.cmdline = "console=ttyS0 root=/dev/vda";
	expect_fail(as, &cfg, &(struct bad_case){ "cmdline > cmdline_size", -EINVAL, "too long" });
	/* ... or only with the virtio_mmio.device= arguments */
	cfg.cmdline = "console=ttyS0";
	cfg.mmio_devs = devs;
	cfg.nr_mmio_devs = 1;
	expect_fail(as, &cfg, &(struct bad_case){ "cmdline + devices", -EINVAL, "virtio_mmio" });
	cfg.nr_mmio_devs = 0;
	/* protocol < 2.06: 255 bytes */
	o = bz_default;
	o.version = 0x0205;
	cfg.kernel_size = mk_bzimage(&o);
	memset(longcmd, 'a', 300);
	longcmd[300] = '\0';
	cfg.cmdline = longcmd;
	expect_fail(as, &cfg, &(struct bad_case){ "old protocol, 300-byte cmdline", -EINVAL, "255" });
	memset(longcmd, 'a', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = '\0';
	cfg.kernel_size = mk_bzimage(&bz_default);
	expect_fail(as, &cfg, &(struct bad_case){ "cmdline > 2047", -EINVAL, "too long" });
	cfg.cmdline = NULL;

	/* initrd larger than RAM (the bytes are never read) */
	cfg.initrd = big_initrd;
	cfg.initrd_size = RAM_SIZE;
	expect_fail(as, &cfg, &(struct bad_case){ "initrd > RAM", -ENOSPC, "initrd" });
	/* initrd below initrd_addr_max would collide with the kernel */
	o = bz_default;
	o.initrd_addr_max = 0x1100000 - 1;
	cfg.kernel_size = mk_bzimage(&o);
	cfg.initrd_size = 0x100000;
	expect_fail(as, &cfg, &(struct bad_case){ "initrd_addr_max below the kernel", -ENOSPC, "initrd" });
	cfg.initrd = NULL;
	cfg.initrd_size = 0;

	address_space_destroy(as);
	report_prefix_pop();
}

/* ---- ELF / Multiboot / PVH ---------------------------------------------- */

struct elf_opts {
	bool is64;
	u64 paddr, vaddr, entry;
	u64 filesz, memsz;
	const void *code;	/* at file offset 0x1000 */
	size_t codelen;
	u32 note_type;		/* 0: no PT_NOTE */
	u32 note_descsz;
	u64 note_desc;
	u64 p_offset;		/* 0: 0x1000 */
	u16 phnum_extra;	/* claim more phdrs than there are */
	u64 load2_paddr;	/* second PT_LOAD (0 = none) */
};

static size_t mk_elf(const struct elf_opts *o)
{
	size_t off_code = 0x1000, n = off_code + o->codelen;
	u16 phnum = 1 + (o->note_type ? 1 : 0) + (o->load2_paddr ? 1 : 0);
	u64 p_offset = o->p_offset ? o->p_offset : off_code;
	u8 note[32] = { 0 };
	u32 nh[3] = { 4, o->note_descsz, o->note_type };

	memset(img, 0, n);
	memcpy(img + off_code, o->code, o->codelen);
	memcpy(note, nh, 12);
	memcpy(note + 12, "Xen", 4);
	memcpy(note + 16, &o->note_desc, 8);
	memcpy(img + 0x800, note, sizeof(note));
	if (o->is64) {
		Elf64_Ehdr eh = { .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = 1,
				  .e_entry = o->entry, .e_phoff = sizeof(eh),
				  .e_ehsize = sizeof(eh), .e_phentsize = sizeof(Elf64_Phdr),
				  .e_phnum = phnum + o->phnum_extra };
		Elf64_Phdr ph[3] = { { .p_type = PT_LOAD, .p_offset = p_offset,
				       .p_vaddr = o->vaddr, .p_paddr = o->paddr,
				       .p_filesz = o->filesz, .p_memsz = o->memsz } };
		unsigned int i = 1;

		if (o->note_type)
			ph[i++] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x800,
						.p_filesz = 16 + ALIGN_UP(o->note_descsz, 4u),
						.p_align = 4 };
		if (o->load2_paddr)
			ph[i++] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off_code,
						.p_paddr = o->load2_paddr, .p_filesz = 16,
						.p_memsz = 16 };
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = 1;
		memcpy(img, &eh, sizeof(eh));
		memcpy(img + sizeof(eh), ph, sizeof(ph));
	} else {
		Elf32_Ehdr eh = { .e_type = ET_EXEC, .e_machine = EM_386, .e_version = 1,
				  .e_entry = o->entry, .e_phoff = sizeof(eh),
				  .e_ehsize = sizeof(eh), .e_phentsize = sizeof(Elf32_Phdr),
				  .e_phnum = phnum + o->phnum_extra };
		Elf32_Phdr ph[3] = { { .p_type = PT_LOAD, .p_offset = p_offset,
				       .p_vaddr = o->vaddr, .p_paddr = o->paddr,
				       .p_filesz = o->filesz, .p_memsz = o->memsz } };
		unsigned int i = 1;

		if (o->note_type)
			ph[i++] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = 0x800,
						.p_filesz = 16 + ALIGN_UP(o->note_descsz, 4u),
						.p_align = 4 };
		if (o->load2_paddr)
			ph[i++] = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = off_code,
						.p_paddr = o->load2_paddr, .p_filesz = 16,
						.p_memsz = 16 };
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = 1;
		memcpy(img, &eh, sizeof(eh));
		memcpy(img + sizeof(eh), ph, sizeof(ph));
	}
	return n;
}

/* A Multiboot header + some "code"; with the kludge, addresses for load at @at. */
static size_t mk_mb_code(u8 *buf, u32 flags, u32 at)
{
	u32 h[8] = { 0x1badb002, flags, -(0x1badb002u + flags), at, at, 0, 0, at + 32 };
	size_t i;

	memcpy(buf, h, sizeof(h));
	for (i = 32; i < 4096; i++)
		buf[i] = (u8)i;
	return 4096;
}

static const struct boot_module mods[2] = {
	{ "module-one-bytes", 16, "mod1 arg=1" },
	{ "second", 6, NULL },
};

/* ---- memory maps: the Multiboot mmap and the PVH memmap, read back ---- */

struct map_entry {
	u64 addr, len;
	u32 type;
};
#define MAP_MAX	32

/* Multiboot mmap: entries of "size" (of the rest) + addr + len + type. */
static unsigned int read_mb_mmap(struct address_space *as, u64 gpa, u32 len,
				 struct map_entry *m)
{
	unsigned int n = 0;
	u32 off = 0;

	while (off + 24 <= len && n < MAP_MAX) {
		m[n].addr = rd64(as, gpa + off + 4);
		m[n].len = rd64(as, gpa + off + 12);
		m[n].type = rd32(as, gpa + off + 20);
		n++;
		off += rd32(as, gpa + off) + 4;
	}
	return n;
}

static unsigned int read_pvh_memmap(struct address_space *as, u64 gpa, u32 nr,
				    struct map_entry *m)
{
	unsigned int i;

	for (i = 0; i < nr && i < MAP_MAX; i++) {
		m[i].addr = rd64(as, gpa + 24 * i);
		m[i].len = rd64(as, gpa + 24 * i + 8);
		m[i].type = rd32(as, gpa + 24 * i + 16);
	}
	return i;
}

/* The type of the entry holding all of [a, a + n), or 0 if no one entry does. */
static u32 map_type(const struct map_entry *m, unsigned int nr, u64 a, u64 n)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (m[i].addr <= a && a + n <= m[i].addr + m[i].len)
			return m[i].type;
	return 0;
}

/*
 * The kernel's ranges: its segments when a test says (an image split around
 * the EBDA), else [kernel_start, kernel_end).
 */
static u64 kernel_segs[2][2];
static unsigned int nr_kernel_segs;

static unsigned int kernel_ranges(const struct x86_boot_entry *e, u64 (*r)[2])
{
	if (nr_kernel_segs) {
		memcpy(r, kernel_segs, sizeof(kernel_segs));
		return nr_kernel_segs;
	}
	r[0][0] = e->kernel_start;
	r[0][1] = e->kernel_end;
	return 1;
}

/*
 * What every kestrel memory map for Multiboot / PVH promises: sorted,
 * non-empty, non-overlapping entries; page 0, the boot data area and the
 * EBDA/ACPI/MP area reserved; the kernel's bytes and @nr_extra more ranges
 * (modules) in available RAM.
 */
static void check_map(const struct map_entry *m, unsigned int nr, const struct x86_boot_entry *e,
		      const u64 (*extra)[2], unsigned int nr_extra)
{
	u64 kr[2][2];
	unsigned int nk = kernel_ranges(e, kr);
	bool sorted = nr > 0;
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (!m[i].len || (i && m[i - 1].addr + m[i - 1].len > m[i].addr))
			sorted = false;
	report(sorted, "memory map: %u entries, sorted, none overlapping another", nr);
	report(map_type(m, nr, 0, 0x1000) == E820_RESERVED, "memory map: page 0 (IVT, BDA, GDT) reserved");
	report(e->data_start >= 0x1000 && e->data_end > e->data_start &&
	       map_type(m, nr, e->data_start, e->data_end - e->data_start) == E820_RESERVED,
	       "memory map: boot data area [0x%llx-0x%llx) reserved",
	       (unsigned long long)e->data_start, (unsigned long long)e->data_end);
	report(map_type(m, nr, 0x9fc00, 0x400) == E820_RESERVED &&
	       map_type(m, nr, 0xe0000, 0x20000) == E820_RESERVED &&
	       !map_type(m, nr, 0xa0000, 0x1000), "memory map: EBDA, ACPI and MP tables reserved, VGA hole absent");
	for (i = 0; i < nk; i++)
		report(map_type(m, nr, kr[i][0], kr[i][1] - kr[i][0]) == E820_RAM,
		       "memory map: the kernel [0x%llx-0x%llx) is in available RAM",
		       (unsigned long long)kr[i][0], (unsigned long long)kr[i][1]);
	for (i = 0; i < nr_extra; i++)
		report(map_type(m, nr, extra[i][0], extra[i][1] - extra[i][0]) == E820_RAM,
		       "memory map: module %u [0x%llx-0x%llx) is in available RAM", i,
		       (unsigned long long)extra[i][0], (unsigned long long)extra[i][1]);
}

static bool in_data(const struct x86_boot_entry *e, u64 gpa, u64 len)
{
	return gpa >= e->data_start && gpa + len <= e->data_end;
}

static bool overlaps(u64 a0, u64 a1, u64 b0, u64 b1)
{
	return a0 < b1 && b0 < a1;
}

static bool overlaps_kernel(const struct x86_boot_entry *e, u64 a0, u64 a1)
{
	u64 kr[2][2];
	unsigned int i, nk = kernel_ranges(e, kr);

	for (i = 0; i < nk; i++)
		if (overlaps(a0, a1, kr[i][0], kr[i][1]))
			return true;
	return false;
}

/*
 * The Multiboot info @e points at: flags, memory sizes, "@cmdline_want",
 * the memory map, @nr_mods modules with their strings (then the initrd if
 * @initrd), all of the info inside the reserved boot data area, which
 * overlaps neither the kernel nor a module.
 */
static void check_multiboot_mods(struct address_space *as, const struct x86_boot_entry *e,
				 const char *cmdline_want, const struct boot_module *m,
				 unsigned int nr_mods, const void *initrd, size_t initrd_size)
{
	u32 info = e->rbx, flags, mmap, mlen, mods_addr, i, nr = nr_mods + (initrd ? 1 : 0);
	struct map_entry map[MAP_MAX];
	u64 ranges[16][2];
	char s[128];

	report(e->mode == X86_BOOT_PROT32 && e->rax == 0x2badb002 && e->cs_sel == 0x08 &&
	       e->ds_sel == 0x18 && (e->cr0 & 0x80000001) == 1, "32-bit entry, EAX magic");
	report(in_data(e, info, 116) && e->rsp > e->data_start && e->rsp <= e->data_end,
	       "info (0x%x) and stack (0x%llx) in the boot data area", info,
	       (unsigned long long)e->rsp);
	report(!overlaps_kernel(e, e->data_start, e->data_end),
	       "boot data area [0x%llx-0x%llx) clear of the kernel [0x%llx-0x%llx)",
	       (unsigned long long)e->data_start, (unsigned long long)e->data_end,
	       (unsigned long long)e->kernel_start, (unsigned long long)e->kernel_end);
	flags = rd32(as, info);
	report((flags & 0x245) == 0x245 && !!(flags & 8) == (nr > 0),
	       "info flags mem|cmdline|mmap|name%s (0x%x)", nr ? "|mods" : "", flags);
	report(rd32(as, info + 4) == 639 && rd32(as, info + 8) == (RAM_SIZE - 0x100000) / 1024,
	       "mem_lower/mem_upper");
	rd_str(as, rd32(as, info + 16), s, sizeof(s));
	report(!strcmp(s, cmdline_want) && in_data(e, rd32(as, info + 16), strlen(s) + 1),
	       "cmdline '%s'", s);
	rd_str(as, rd32(as, info + 64), s, sizeof(s));
	report(!strcmp(s, "kestrel"), "boot loader name");
	mlen = rd32(as, info + 44);
	mmap = rd32(as, info + 48);
	report(in_data(e, mmap, mlen) && mlen % 24 == 0, "memory map inside the boot data area");
	report(rd32(as, info + 20) == nr, "%u modules", nr);
	mods_addr = rd32(as, info + 24);
	for (i = 0; i < nr && i < ARRAY_SIZE(ranges); i++) {
		u32 start = rd32(as, mods_addr + 16 * i), end = rd32(as, mods_addr + 16 * i + 4);
		u32 str = rd32(as, mods_addr + 16 * i + 8);
		const void *data = i < nr_mods ? m[i].data : initrd;
		size_t size = i < nr_mods ? m[i].size : initrd_size;
		const char *want = i < nr_mods && m[i].cmdline ? m[i].cmdline : "";

		rd_str(as, str, s, sizeof(s));
		report(start % 4096 == 0 && end - start == size && ram_equals(as, start, data, size) &&
		       !overlaps_kernel(e, start, end) &&
		       !overlaps(start, end, e->data_start, e->data_end) &&
		       (!i || start >= ranges[i - 1][1]) &&
		       !strcmp(s, want) && in_data(e, str, strlen(s) + 1),
		       "module %u at 0x%x, string '%s'", i, start, s);
		ranges[i][0] = start;
		ranges[i][1] = end;
	}
	check_map(map, read_mb_mmap(as, mmap, mlen, map), e, ranges, MIN(nr, ARRAY_SIZE(ranges)));
}

static void check_multiboot(struct address_space *as, const struct x86_boot_entry *e,
			    const char *cmdline_want)
{
	static const char initrd[] = "initrd!";

	check_multiboot_mods(as, e, cmdline_want, mods, 2, initrd, sizeof(initrd));
}

static void test_multiboot(void)
{
	static const char initrd[] = "initrd!";
	struct address_space *as = as_new(RAM_SIZE);
	struct boot_config cfg = { .nr_cpus = 1, .modules = mods, .nr_modules = 2,
				   .initrd = initrd, .initrd_size = sizeof(initrd),
				   .kernel_path = "/boot/kernel.elf",
				   .cmdline = "mb args", .mmio_devs = devs, .nr_mmio_devs = 1 };
	struct x86_boot_entry e;
	u8 code[4096];
	size_t n;
	int ret;

	report_prefix_push("Multiboot");
	mk_mb_code(code, 0x3, 0);
	n = mk_elf(&(struct elf_opts){ .paddr = 0x100000, .vaddr = 0x100000, .entry = 0x100020,
				       .filesz = 4096, .memsz = 0x3000, .code = code,
				       .codelen = 4096 });
	write_seed("multiboot_elf32", img, n);
	cfg.kernel = img;
	cfg.kernel_size = n;
	ret = load(as, &cfg, &e);
	if (report(ret == 0, "ELF32 loads (%s)", err)) {
		report(e.rip == 0x100020 && e.kernel_start == 0x100000 && e.kernel_end == 0x103000,
		       "entry and extent");
		report(ram_equals(as, 0x100000, code, 4096) && rd64(as, 0x102ff8) == 0, "segment + bss");
		report(e.data_start == 0x1000, "kernel at 1 MiB: boot data at 0x1000 (0x%llx)",
		       (unsigned long long)e.data_start);
		check_multiboot(as, &e, "/boot/kernel.elf mb args");
	}
	address_space_destroy(as);

	as = as_new(RAM_SIZE);
	n = mk_elf(&(struct elf_opts){ .is64 = true, .paddr = 0x200000,
				       .vaddr = 0xffffffff80200000ULL,
				       .entry = 0xffffffff80200020ULL, .filesz = 4096,
				       .memsz = 4096, .code = code, .codelen = 4096 });
	write_seed("multiboot_elf64", img, n);
	cfg.kernel_size = n;
	ret = load(as, &cfg, &e);
	if (report(ret == 0, "ELF64 loads (%s)", err)) {
		report(e.rip == 0x200020, "virtual entry translated to physical");
		report(ram_equals(as, 0x200000, code, 4096), "segment at p_paddr");
		check_multiboot(as, &e, "/boot/kernel.elf mb args");
	}
	address_space_destroy(as);

	as = as_new(RAM_SIZE);
	n = mk_mb_code(img, 0x10003, 0x300000);
	write_seed("multiboot_aout", img, n);
	cfg.kernel_size = n;
	ret = load(as, &cfg, &e);
	if (report(ret == 0, "a.out kludge loads (%s)", err)) {
		report(e.rip == 0x300020 && ram_equals(as, 0x300000, img, n), "a.out bytes and entry");
		check_multiboot(as, &e, "/boot/kernel.elf mb args");
	}
	address_space_destroy(as);

	/* the command line as GRUB and QEMU build it: path alone, or path + args */
	as = as_new(RAM_SIZE);
	cfg.cmdline = NULL;
	ret = load(as, &cfg, &e);
	report(ret == 0 && (rd_str(as, rd32(as, e.rbx + 16), (char *)code, 64),
			    !strcmp((char *)code, "/boot/kernel.elf")),
	       "no arguments: the command line is the path alone");
	cfg.kernel_path = NULL;
	cfg.cmdline = "only args";
	ret = load(as, &cfg, &e);
	report(ret == 0 && (rd_str(as, rd32(as, e.rbx + 16), (char *)code, 64),
			    !strcmp((char *)code, "only args")),
	       "no path given: the arguments alone");
	address_space_destroy(as);
	report_prefix_pop();
}

/* Images anywhere from 0x1000 up: kestrel's boot data moves out of the way. */
static void test_multiboot_placement(void)
{
	static const struct {
		const char *name;
		u64 paddr, memsz, load2;
	} cases[] = {
		{ "ELF linked at 0x1000", 0x1000, 0x3000, 0 },
		{ "ELF at 0x1000 filling low RAM", 0x1000, 0x9f000 - 0x1000, 0 },
		{ "ELF at 0x1000 and at 1 MiB", 0x1000, 0x1000, 0x100000 },
		{ "ELF at 0x8000 (the old boot stack)", 0x8000, 0x10000, 0 },
		{ "ELF at 0x20000 (the old command line)", 0x20000, 0x20000, 0 },
		{ "ELF linked at 0x100000", 0x100000, 0x4000, 0 },
	};
	static const char initrd[] = "initrd!";
	struct boot_config cfg = { .nr_cpus = 1, .modules = mods, .nr_modules = 2,
				   .initrd = initrd, .initrd_size = sizeof(initrd),
				   .kernel_path = "/boot/low.elf", .cmdline = "x=1" };
	struct x86_boot_entry e;
	u8 code[4096];
	unsigned int i;

	report_prefix_push("Multiboot placement");
	mk_mb_code(code, 0x3, 0);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct address_space *as = as_new(RAM_SIZE);
		size_t n = mk_elf(&(struct elf_opts){ .paddr = cases[i].paddr,
						      .vaddr = cases[i].paddr,
						      .entry = cases[i].paddr + 0x20, .filesz = 4096,
						      .memsz = cases[i].memsz, .code = code,
						      .codelen = 4096,
						      .load2_paddr = cases[i].load2 });

		report_prefix_push(cases[i].name);
		if (cases[i].paddr == 0x1000 && !cases[i].load2 && cases[i].memsz == 0x3000)
			write_seed("multiboot_low", img, n);
		cfg.kernel = img;
		cfg.kernel_size = n;
		nr_kernel_segs = cases[i].load2 ? 2 : 0;
		kernel_segs[0][0] = cases[i].paddr;
		kernel_segs[0][1] = cases[i].paddr + cases[i].memsz;
		kernel_segs[1][0] = cases[i].load2;
		kernel_segs[1][1] = cases[i].load2 + 16;
		if (report(load(as, &cfg, &e) == 0, "loads (%s)", err)) {
			report(e.rip == cases[i].paddr + 0x20 &&
			       ram_equals(as, cases[i].paddr, code, 4096), "image bytes and entry in place");
			report(e.data_end <= 0x9fc00 || e.data_start >= 0x100000,
			       "boot data [0x%llx-0x%llx) outside the EBDA and VGA/BIOS hole",
			       (unsigned long long)e.data_start, (unsigned long long)e.data_end);
			check_multiboot(as, &e, "/boot/low.elf x=1");
		}
		nr_kernel_segs = 0;
		report_prefix_pop();
		address_space_destroy(as);
	}
	report_prefix_pop();
}

/* N modules, each with its own string (or none), and the initrd last. */
static void test_multiboot_modules(void)
{
	static const char initrd[] = "the initrd";
	static char data[8][64], strs[8][32];
	struct boot_module m[8];
	struct address_space *as = as_new(RAM_SIZE);
	struct boot_config cfg = { .nr_cpus = 1, .kernel_path = "/k", .modules = m };
	struct x86_boot_entry e;
	unsigned int i;
	u8 code[4096];

	report_prefix_push("Multiboot modules");
	for (i = 0; i < ARRAY_SIZE(m); i++) {
		memset(data[i], 'a' + i, sizeof(data[i]));
		snprintf(strs[i], sizeof(strs[i]), "/mods/m%u.bin arg=%u", i, i * 11);
		m[i] = (struct boot_module){ data[i], 1 + i * 7, i == 5 ? NULL : strs[i] };
	}
	mk_mb_code(code, 0x3, 0);
	cfg.kernel = img;
	cfg.kernel_size = mk_elf(&(struct elf_opts){ .paddr = 0x100000, .vaddr = 0x100000,
						     .entry = 0x100020, .filesz = 4096,
						     .memsz = 4096, .code = code, .codelen = 4096 });
	cfg.nr_modules = 8;
	if (report(load(as, &cfg, &e) == 0, "8 modules load (%s)", err))
		check_multiboot_mods(as, &e, "/k", m, 8, NULL, 0);
	cfg.nr_modules = 1;
	cfg.initrd = initrd;
	cfg.initrd_size = sizeof(initrd);
	if (report(load(as, &cfg, &e) == 0, "1 module + initrd load (%s)", err))
		check_multiboot_mods(as, &e, "/k", m, 1, initrd, sizeof(initrd));
	address_space_destroy(as);
	report_prefix_pop();
}

static void test_multiboot_bad(void)
{
	struct address_space *as = as_new(RAM_SIZE);
	struct boot_config cfg = { .nr_cpus = 1, .kernel = img };
	u8 code[4096];
	u32 *h;

	report_prefix_push("Multiboot malformed");
	mk_mb_code(code, 0x3, 0);
#define ELF_BAD(name, exp, needle, ...) do {					\
		struct elf_opts eo = { .code = code, .codelen = 4096, .paddr = 0x100000, \
				       .entry = 0x100020, .filesz = 4096, .memsz = 4096 }; \
		__VA_ARGS__;							\
		cfg.kernel_size = mk_elf(&eo);					\
		expect_fail(as, &cfg, &(struct bad_case){ name, exp, needle }); \
	} while (0)
	ELF_BAD("p_offset+p_filesz beyond file", -ENOEXEC, "beyond the", eo.p_offset = 0x1800);
	ELF_BAD("p_filesz > p_memsz", -ENOEXEC, "p_filesz", eo.memsz = 100);
	ELF_BAD("p_paddr+p_memsz wraps", -ENOEXEC, "beyond", eo.paddr = 0xfffff000, eo.memsz = 0x2000);
	ELF_BAD("64-bit p_paddr wraps", -ENOEXEC, "beyond", eo.is64 = true,
		eo.paddr = 0xfffffffffffff000ULL, eo.memsz = 0x2000);
	ELF_BAD("segment beyond RAM", -ENOSPC, "does not fit in RAM", eo.paddr = 0x8000000);
	ELF_BAD("segment in page 0", -ENOEXEC, "overlaps boot data (IVT, BDA, GDT)", eo.paddr = 0x800);
	ELF_BAD("segment over the EBDA", -ENOEXEC, "overlaps EBDA", eo.paddr = 0x9f000);
	ELF_BAD("segment over ACPI", -ENOEXEC, "overlaps EBDA", eo.paddr = 0xe0000);
	ELF_BAD("overlapping segments", -ENOEXEC, "overlaps ELF segment", eo.load2_paddr = 0x100800);
	ELF_BAD("phdr table beyond file", -ENOEXEC, "malformed ELF", eo.phnum_extra = 2000);
	ELF_BAD("ELF64 entry above 4 GiB", -ENOEXEC, "32-bit", eo.is64 = true,
		eo.entry = 0x100000000ULL);
#undef ELF_BAD
	/* not ELF, no kludge */
	memset(img, 0, 8192);
	mk_mb_code(img + 64, 0x3, 0);
	cfg.kernel_size = 8192;
	expect_fail(as, &cfg, &(struct bad_case){ "neither ELF nor kludge", -ENOEXEC, "neither" });
	mk_mb_code(img, 0x8 | 0x3, 0);
	expect_fail(as, &cfg, &(struct bad_case){ "unsupported flag 3", -ENOEXEC, "requires" });
	/* a.out kludge address fields */
	h = (u32 *)img;
#define AOUT_BAD(name, exp, needle, i, v) do {					\
		mk_mb_code(img, 0x10003, 0x300000);				\
		h[i] = (v);							\
		h[2] = -(h[0] + h[1]);						\
		cfg.kernel_size = 4096;						\
		expect_fail(as, &cfg, &(struct bad_case){ name, exp, needle }); \
	} while (0)
	AOUT_BAD("load_addr > header_addr", -ENOEXEC, "header's file offset", 4, 0x300010);
	AOUT_BAD("load_end beyond file", -ENOEXEC, "beyond the", 5, 0x302000);
	AOUT_BAD("load_end below load", -ENOEXEC, "not above", 5, 0x2fffff);
	AOUT_BAD("bss_end below load end", -ENOEXEC, "bss_end_addr", 6, 0x300100);
	AOUT_BAD("entry outside", -ENOEXEC, "entry_addr", 7, 0x400000);
	AOUT_BAD("bss beyond RAM", -ENOSPC, "does not fit in RAM", 6, 0xf0000000);
#undef AOUT_BAD
	/* header cut short at the end of the file */
	mk_mb_code(img, 0x10003, 0x300000);
	cfg.kernel_size = 16;
	expect_fail(as, &cfg, &(struct bad_case){ "kludge header truncated", -ENOEXEC, "truncated" });

	/* modules that do not fit */
	{
		static const u8 byte;
		struct boot_module huge = { &byte, RAM_SIZE, "x" };

		mk_mb_code(img, 0x10003, 0x300000);
		cfg.kernel_size = 4096;
		cfg.modules = &huge;
		cfg.nr_modules = 1;
		expect_fail(as, &cfg, &(struct bad_case){ "module > RAM", -ENOSPC, "module 0" });
		cfg.nr_modules = 0;
	}
	address_space_destroy(as);
	report_prefix_pop();
}

static void test_pvh(void)
{
	static const char initrd[] = "pvh-initrd";
	struct address_space *as = as_new(RAM_SIZE);
	struct boot_config cfg = { .nr_cpus = 2, .modules = mods, .nr_modules = 1,
				   .initrd = initrd, .initrd_size = sizeof(initrd),
				   .cmdline = "console=hvc0", .mmio_devs = devs, .nr_mmio_devs = 1 };
	struct x86_boot_entry e;
	u8 code[4096];
	u64 si, ml, mm;
	char s[128];
	size_t n;
	int ret, i;

	report_prefix_push("PVH");
	memset(code, 0xcc, sizeof(code));
	for (i = 0; i < 2; i++) {
		bool is64 = i == 1;

		as = i ? as_new(RAM_SIZE) : as;
		n = mk_elf(&(struct elf_opts){ .is64 = is64, .paddr = 0x1000000,
					       .vaddr = 0xffffffff81000000ULL,
					       .entry = 0xffffffff81000000ULL, .filesz = 4096,
					       .memsz = 0x10000, .code = code, .codelen = 4096,
					       .note_type = 18, .note_descsz = is64 ? 8 : 4,
					       .note_desc = 0x1000040 });
		write_seed(is64 ? "pvh_elf64" : "pvh_elf32", img, n);
		cfg.kernel = img;
		cfg.kernel_size = n;
		ret = load(as, &cfg, &e);
		if (!report(ret == 0, "ELF%s loads (%s)", is64 ? "64" : "32", err))
			continue;
		report(e.mode == X86_BOOT_PROT32 && e.rip == 0x1000040 && !strcmp(e.format, "PVH"),
		       "32-bit entry at the note's address");
		si = e.rbx;
		report(rd32(as, si) == 0x336ec578 && rd32(as, si + 4) == 1, "start_info magic, version 1");
		report(rd64(as, si + 32) == X86_BOOT_ACPI_GPA, "rsdp_paddr");
		rd_str(as, rd64(as, si + 24), s, sizeof(s));
		report(!strcmp(s, "console=hvc0 virtio_mmio.device=4K@0xd0001000:10"), "cmdline '%s'", s);
		report(in_data(&e, si, 56) && in_data(&e, rd64(as, si + 24), strlen(s) + 1),
		       "start_info and command line in the boot data area");
		mm = rd64(as, si + 40);
		report(rd32(as, si + 12) == 2, "2 modules");
		ml = rd64(as, si + 16);
		{
			struct map_entry map[MAP_MAX];
			u64 r[2][2] = { { rd64(as, ml), rd64(as, ml) + rd64(as, ml + 8) },
					{ rd64(as, ml + 32), rd64(as, ml + 32) + rd64(as, ml + 40) } };

			report(in_data(&e, mm, 24 * rd32(as, si + 48)), "memmap in the boot data area");
			check_map(map, read_pvh_memmap(as, mm, rd32(as, si + 48), map), &e, r, 2);
		}
		report(rd64(as, ml + 8) == sizeof(initrd) &&
		       ram_equals(as, rd64(as, ml), initrd, sizeof(initrd)) &&
		       rd64(as, ml) >= 0x1010000 && rd64(as, ml) % 4096 == 0,
		       "module 0 is the initrd, after the kernel");
		rd_str(as, rd64(as, ml + 32 + 16), s, sizeof(s));
		report(ram_equals(as, rd64(as, ml + 32), mods[0].data, mods[0].size) &&
		       !strcmp(s, mods[0].cmdline), "module 1 with its string");
		report(ram_equals(as, 0x1000000, code, 4096), "segment at p_paddr");
		address_space_destroy(as);
	}

	as = as_new(RAM_SIZE);
	cfg.kernel_size = mk_elf(&(struct elf_opts){ .is64 = true, .paddr = 0x1000000,
				 .filesz = 4096, .memsz = 4096, .code = code, .codelen = 4096,
				 .note_type = 18, .note_descsz = 2, .note_desc = 0x1000000 });
	expect_fail(as, &cfg, &(struct bad_case){ "note of 2 bytes", -ENOEXEC, "4 or 8" });
	cfg.kernel_size = mk_elf(&(struct elf_opts){ .is64 = true, .paddr = 0x1000000,
				 .filesz = 4096, .memsz = 4096, .code = code, .codelen = 4096,
				 .note_type = 18, .note_descsz = 8, .note_desc = 0x5000000 });
	expect_fail(as, &cfg, &(struct bad_case){ "entry outside the image", -ENOEXEC, "outside" });
	cfg.kernel_size = mk_elf(&(struct elf_opts){ .is64 = true, .paddr = 0x1000000,
				 .filesz = 4096, .memsz = 4096, .code = code, .codelen = 4096,
				 .note_type = 17, .note_descsz = 8, .note_desc = 0x1000000 });
	expect_fail(as, &cfg, &(struct bad_case){ "ELF without notes we know", -ENOEXEC, "neither" });
	address_space_destroy(as);
	report_prefix_pop();
}

static void test_general(void)
{
	struct address_space *as = as_new(RAM_SIZE), *small;
	struct boot_config cfg = { .nr_cpus = 1, .kernel = img };
	struct x86_boot_entry e;
	size_t n;

	report_prefix_push("general");
	memset(img, 0x41, 4096);
	cfg.kernel_size = 4096;
	expect_fail(as, &cfg, &(struct bad_case){ "garbage", -ENOEXEC, "not a bzImage" });
	cfg.kernel_size = 0;
	expect_fail(as, &cfg, &(struct bad_case){ "empty", -ENOEXEC, "empty" });
	memcpy(img, ELFMAG "\x09", 5);
	cfg.kernel_size = 100;
	expect_fail(as, &cfg, &(struct bad_case){ "ELF with bad class", -ENOEXEC, "malformed ELF" });
	n = mk_bzimage(&bz_default);
	cfg.kernel_size = n;
	cfg.nr_cpus = 0;
	expect_fail(as, &cfg, &(struct bad_case){ "0 vCPUs", -EINVAL, "vCPUs" });
	cfg.nr_cpus = 255;
	expect_fail(as, &cfg, &(struct bad_case){ "255 vCPUs", -EINVAL, "vCPUs" });
	cfg.nr_cpus = 1;
	cfg.mmio_devs = &(struct boot_mmio_dev){ 0xfffff000, 0x2000, 5 };
	cfg.nr_mmio_devs = 1;
	expect_fail(as, &cfg, &(struct bad_case){ "device window past 4 GiB", -EINVAL, "virtio-mmio" });
	cfg.nr_mmio_devs = 0;
	small = as_new(0x100000);
	expect_fail(small, &cfg, &(struct bad_case){ "1 MiB of RAM", -EFAULT, "at least 2 MiB" });
	address_space_destroy(small);
	report(load(as, &cfg, &e) == 0 && e.mode == X86_BOOT_LONG64, "still loads after all that");

	/* RAM in two regions: below 3 GiB is 64 MiB, plus 16 MiB at 4 GiB */
	if (address_space_add_ram(as, X86_HIGH_RAM_START, 16 << 20, MEM_F_NORESERVE, NULL) == 0) {
		struct boot_params bp;

		report(load(as, &cfg, &e) == 0, "loads with high RAM");
		address_space_read(as, X86_BOOT_ZERO_PAGE_GPA, &bp, sizeof(bp));
		report(bp.e820_entries == 5 && bp.e820_table[4].addr == X86_HIGH_RAM_START &&
		       bp.e820_table[4].size == 16 << 20 && bp.e820_table[4].type == E820_RAM,
		       "e820 lists RAM above 4 GiB, the MMIO hole is absent");
	}
	address_space_destroy(as);
	report_prefix_pop();
}

static void test_nullkernel(void)
{
	static const char *const scripts[] = {
		"../shared/peers/boot/mk-nullkernel.sh",
		"/work/shared/peers/boot/mk-nullkernel.sh",
	};
	const char *script = getenv("KESTREL_NULLKERNEL_SCRIPT");
	char dir[] = "/tmp/kestrel-nullkernel.XXXXXX", cmd[1024], path[512];
	struct boot_config cfg = { .nr_cpus = 1 };
	struct address_space *as;
	struct x86_boot_entry e;
	unsigned int i;
	size_t n;
	FILE *f;
	int ret;

	report_prefix_push("null kernel");
	for (i = 0; !script && i < ARRAY_SIZE(scripts); i++)
		if (!access(scripts[i], R_OK))
			script = scripts[i];
	if (!script || system("command -v as >/dev/null && command -v ld >/dev/null && "
			      "command -v objcopy >/dev/null")) {
		report_skip("mk-nullkernel.sh or binutils (as, ld, objcopy) not found");
		goto out;
	}
	if (!mkdtemp(dir)) {
		report(false, "mkdtemp");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/null.bzImage", dir);
	snprintf(cmd, sizeof(cmd), "OUT=%s sh %s >/dev/null", path, script);
	ret = system(cmd);
	f = ret ? NULL : fopen(path, "rb");
	if (!report(f != NULL, "mk-nullkernel.sh builds the image"))
		goto out_rm;
	n = fread(img, 1, sizeof(img), f);
	fclose(f);
	write_seed("nullkernel", img, n);
	as = as_new(RAM_SIZE);
	cfg.kernel = img;
	cfg.kernel_size = n;
	ret = load(as, &cfg, &e);
	report(ret == 0, "loads (%s)", err);
	report(ret == 0 && e.mode == X86_BOOT_REAL16 && e.cs_sel == 0x1020 && e.rip == 0,
	       "real-mode entry at the setup segment");
	report(ram_equals(as, 0x1026c, img + 0x26c, 0x800 - 0x26c), "setup code in place");
	report(ram_equals(as, 0x100000, img + 0x800, n - 0x800), "payload at 1 MiB");
	address_space_destroy(as);
out_rm:
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		report_info("could not remove %s", dir);
out:
	report_prefix_pop();
}

int main(void)
{
	test_bzimage_64();
	test_bzimage_real();
	test_bzimage_bad();
	test_multiboot();
	test_multiboot_placement();
	test_multiboot_modules();
	test_multiboot_bad();
	test_pvh();
	test_general();
	test_nullkernel();
	return report_summary();
}
