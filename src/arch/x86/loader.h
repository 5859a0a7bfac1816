/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to the x86 loaders (boot.c, bzimage.c, pvh.c, multiboot.c, elf.c,
 * e820.c, acpi.c, aml.c, mptable.c): wire layouts and the loader context.
 */
#ifndef KESTREL_ARCH_X86_LOADER_H
#define KESTREL_ARCH_X86_LOADER_H

#include <kestrel/boot.h>
#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/memory.h>
#include <kestrel/types.h>

#include "boot.h"

/* ---- e820 (Linux boot protocol; also the Multiboot / PVH memory maps) ---- */
#define E820_RAM		1
#define E820_RESERVED		2
#define E820_ACPI		3
#define E820_MAX		128	/* boot_params holds 128 */

struct e820_entry {
	le64 addr;
	le64 size;
	le32 type;
} __packed;
_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry is 20 bytes");

/* ---- Linux boot protocol: setup header and zero page (boot.rst, bootparam.h) ---- */
#define SETUP_HDR_MAGIC		0x53726448	/* "HdrS" */
#define SETUP_BOOT_FLAG		0xaa55
#define LOADFLAG_LOADED_HIGH	(1u << 0)
#define LOADFLAG_KEEP_SEGMENTS	(1u << 6)
#define LOADFLAG_CAN_USE_HEAP	(1u << 7)
#define XLF_KERNEL_64		(1u << 0)
#define XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)

struct setup_header {
	u8 setup_sects;
	le16 root_flags;
	le32 syssize;
	le16 ram_size;
	le16 vid_mode;
	le16 root_dev;
	le16 boot_flag;
	le16 jump;
	le32 header;
	le16 version;
	le32 realmode_swtch;
	le16 start_sys_seg;
	le16 kernel_version;
	u8 type_of_loader;
	u8 loadflags;
	le16 setup_move_size;
	le32 code32_start;
	le32 ramdisk_image;
	le32 ramdisk_size;
	le32 bootsect_kludge;
	le16 heap_end_ptr;
	u8 ext_loader_ver;
	u8 ext_loader_type;
	le32 cmd_line_ptr;
	le32 initrd_addr_max;
	le32 kernel_alignment;
	u8 relocatable_kernel;
	u8 min_alignment;
	le16 xloadflags;
	le32 cmdline_size;
	le32 hardware_subarch;
	le64 hardware_subarch_data;
	le32 payload_offset;
	le32 payload_length;
	le64 setup_data;
	le64 pref_address;
	le32 init_size;
	le32 handover_offset;
	le32 kernel_info_offset;
} __packed;
_Static_assert(sizeof(struct setup_header) == 0x26c - 0x1f1, "setup_header spans 0x1f1..0x26c");

struct boot_params {
	u8 screen_info[0x40];		/* 0x000 */
	u8 apm_bios_info[0x14];		/* 0x040 */
	u8 _pad2[4];			/* 0x054 */
	le64 tboot_addr;		/* 0x058 */
	u8 ist_info[0x10];		/* 0x060 */
	le64 acpi_rsdp_addr;		/* 0x070 */
	u8 _pad3[8];			/* 0x078 */
	u8 hd0_info[16];		/* 0x080 */
	u8 hd1_info[16];		/* 0x090 */
	u8 sys_desc_table[0x10];	/* 0x0a0 */
	u8 olpc_ofw_header[0x10];	/* 0x0b0 */
	le32 ext_ramdisk_image;		/* 0x0c0 */
	le32 ext_ramdisk_size;		/* 0x0c4 */
	le32 ext_cmd_line_ptr;		/* 0x0c8 */
	u8 _pad4[112];			/* 0x0cc */
	le32 cc_blob_address;		/* 0x13c */
	u8 edid_info[0x80];		/* 0x140 */
	u8 efi_info[0x20];		/* 0x1c0 */
	le32 alt_mem_k;			/* 0x1e0 */
	le32 scratch;			/* 0x1e4 */
	u8 e820_entries;		/* 0x1e8 */
	u8 eddbuf_entries;		/* 0x1e9 */
	u8 edd_mbr_sig_buf_entries;	/* 0x1ea */
	u8 kbd_status;			/* 0x1eb */
	u8 secure_boot;			/* 0x1ec */
	u8 _pad5[2];			/* 0x1ed */
	u8 sentinel;			/* 0x1ef */
	u8 _pad6[1];			/* 0x1f0 */
	struct setup_header hdr;	/* 0x1f1 */
	u8 _pad7[0x290 - 0x26c];	/* 0x26c */
	le32 edd_mbr_sig_buffer[16];	/* 0x290 */
	struct e820_entry e820_table[E820_MAX]; /* 0x2d0 */
	u8 _pad8[48];			/* 0xcd0 */
	u8 eddbuf[6 * 0x52];		/* 0xd00 */
	u8 _pad9[276];			/* 0xeec */
} __packed;
_Static_assert(sizeof(struct boot_params) == 4096, "zero page is 4 KiB");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x70, "acpi_rsdp_addr");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0xc0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct boot_params, hdr) == 0x1f1, "hdr");
_Static_assert(offsetof(struct boot_params, hdr.header) == 0x202, "HdrS");
_Static_assert(offsetof(struct boot_params, hdr.code32_start) == 0x214, "code32_start");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, hdr.xloadflags) == 0x236, "xloadflags");
_Static_assert(offsetof(struct boot_params, hdr.pref_address) == 0x258, "pref_address");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");

/* ---- the loader context ---- */
#define X86_MAX_CLAIMS		64

struct x86_claim {
	u64 start, end;		/* [start, end) */
	const char *what;
};

struct x86_loader {
	struct address_space *as;
	const struct boot_config *cfg;
	const struct x86_boot_options *opts;
	char *err;
	size_t errlen;
	u64 low_ram_end;	/* end of the RAM contiguous from 0 (capped at 4 GiB) */
	u64 rsdp_gpa;		/* 0 until the ACPI tables are written */
	struct e820_entry e820[E820_MAX];
	unsigned int nr_e820;
	struct x86_claim claims[X86_MAX_CLAIMS];
	unsigned int nr_claims;
};

/* boot.c */
int x86_loader_fail(struct x86_loader *l, int err, const char *fmt, ...) __printf(3, 4);
int x86_loader_claim(struct x86_loader *l, u64 start, u64 size, const char *what);
int x86_loader_claim_free(struct x86_loader *l, u64 size, const char *what, u64 *gpa);
int x86_loader_write(struct x86_loader *l, u64 gpa, const void *buf, size_t len,
		     const char *what);
int x86_loader_zero(struct x86_loader *l, u64 gpa, u64 len, const char *what);
int x86_loader_cmdline(struct x86_loader *l, const char *argv0, bool add_mmio, size_t limit,
		       char **out, size_t *len);
u64 x86_loader_highest_claim_below(struct x86_loader *l, u64 limit);
void x86_entry_prot32(struct x86_boot_entry *e);
int x86_entry_long64(struct x86_loader *l, struct x86_boot_entry *e);

/*
 * The Multiboot info / PVH start_info area: a boot stack, then bump
 * allocation of the info, memory map, module list and strings, built on the
 * host and written once at @gpa, a page-aligned block claimed where the
 * image left room (x86_info_area_claim()).
 */
struct x86_info_area {
	u8 *buf;
	size_t size, used;
	u64 gpa;
	u64 stack_top;		/* initial ESP: the top of the stack page */
};

int x86_info_area_claim(struct x86_loader *l, struct x86_info_area *a, size_t payload,
			const char *what);
int x86_info_area_write(struct x86_loader *l, struct x86_info_area *a, const char *what);
void x86_info_area_release(struct x86_info_area *a);
size_t x86_loader_module_strings(const struct boot_config *cfg);
void x86_entry_prot32_info(struct x86_boot_entry *e, const struct x86_info_area *a,
			   long info_off);

/* Offset of @n fresh bytes aligned to @align, or -1 when the area is full. */
static inline long x86_info_alloc(struct x86_info_area *a, size_t n, size_t align)
{
	size_t off = ALIGN_UP(a->used, align);

	if (off > a->size || n > a->size - off)
		return -1;
	a->used = off + n;
	return off;
}

static inline u32 x86_info_gpa(const struct x86_info_area *a, long off)
{
	return a->gpa + off;
}

/* e820.c */
int x86_e820_build(struct x86_loader *l);
int x86_e820_reserve(struct x86_loader *l, u64 start, u64 end);

/* elf.c */
struct x86_elf_info {
	bool is64;
	u16 machine;
	u64 entry;		/* e_entry */
	u64 entry_paddr;	/* e_entry translated through the PT_LOAD holding it */
	u64 lowest, highest;	/* loaded physical range [lowest, highest) */
};
bool x86_elf_is_elf(const void *img, size_t size);
int x86_elf_parse(struct x86_loader *l, const void *img, size_t size,
		  struct x86_elf_info *info);
int x86_elf_load(struct x86_loader *l, const void *img, size_t size,
		 u64 limit, struct x86_elf_info *info);
int x86_elf_find_note(const void *img, size_t size, const char *name, u32 type,
		      const void **desc, u32 *descsz);

/* bzimage.c, pvh.c, multiboot.c */
bool x86_bzimage_detect(const void *img, size_t size);
int x86_bzimage_load(struct x86_loader *l, struct x86_boot_entry *e);
bool x86_multiboot_detect(const void *img, size_t size);
int x86_multiboot_load(struct x86_loader *l, struct x86_boot_entry *e);
bool x86_pvh_detect(const void *img, size_t size);
int x86_pvh_load(struct x86_loader *l, struct x86_boot_entry *e);

/* acpi.c */
struct x86_acpi_table {
	char sig[5];
	u32 offset;		/* in the built blob */
	u32 length;
};
#define X86_ACPI_MAX_TABLES	9

struct x86_acpi_blob {
	u8 data[X86_BOOT_ACPI_SIZE];
	u32 size;
	struct x86_acpi_table tables[X86_ACPI_MAX_TABLES];
	unsigned int nr_tables;
};
int x86_acpi_build(const struct boot_config *cfg, u64 base, struct x86_acpi_blob *blob,
		   char *err, size_t errlen);
int x86_acpi_write(struct x86_loader *l);
u8 x86_acpi_checksum(const void *buf, size_t len);

/* mptable.c */
int x86_mptable_build(unsigned int nr_cpus, u64 base, u8 *buf, size_t bufsize,
		      size_t *len);
int x86_mptable_write(struct x86_loader *l);

/* aml.c: a bounded AML byte builder */
#define AML_MAX_NEST	8

struct aml {
	u8 *buf;
	size_t cap, len;
	bool overflow;
	size_t pkg_start[AML_MAX_NEST];
	unsigned int depth;
};
void aml_init(struct aml *a, u8 *buf, size_t cap);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, u8 b);
void aml_pkg_begin(struct aml *a);
void aml_pkg_end(struct aml *a);
void aml_nameseg(struct aml *a, const char *seg);
void aml_integer(struct aml *a, u64 v);
void aml_string(struct aml *a, const char *s);
void aml_scope_begin(struct aml *a, const char *path);
void aml_device_begin(struct aml *a, const char *seg);
void aml_name_begin(struct aml *a, const char *seg);
void aml_buffer(struct aml *a, const struct aml *contents);
void aml_package_begin(struct aml *a, u8 nr_elements);
u32 aml_eisaid(const char *id);
void aml_res_mem32_fixed(struct aml *a, bool rw, u32 base, u32 size);
void aml_res_ext_irq(struct aml *a, u32 irq, bool edge, bool active_low, bool shared);
void aml_res_io(struct aml *a, u16 base, u8 len);
void aml_res_irq_noflags(struct aml *a, u8 irq);
void aml_res_end(struct aml *a);
void aml_res_word_bus(struct aml *a, u16 min, u16 max);
void aml_res_word_io(struct aml *a, u16 min, u16 max);
void aml_res_dword_mem(struct aml *a, u32 min, u32 max);
void aml_res_qword_mem(struct aml *a, u64 min, u64 max);
int aml_finish(struct aml *a);

#endif /* KESTREL_ARCH_X86_LOADER_H */
