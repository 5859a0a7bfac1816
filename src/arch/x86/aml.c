// SPDX-License-Identifier: GPL-2.0-only
/*
 * A small AML encoder (ACPI 6.5 §20, "ACPI Machine Language Specification")
 * for kestrel's DSDT: scopes, devices, names, integers, strings, buffers,
 * packages and the few resource descriptors (§6.4) virtio-mmio and the UART need. Writes
 * into a caller's fixed buffer; running out of room sets @overflow and
 * aml_finish() reports it, so builders need no error checks per call.
 */
#include <errno.h>
#include <string.h>

#include "loader.h"

#define AML_NAME_OP		0x08
#define AML_BYTE_PREFIX		0x0a
#define AML_WORD_PREFIX		0x0b
#define AML_DWORD_PREFIX	0x0c
#define AML_STRING_PREFIX	0x0d
#define AML_QWORD_PREFIX	0x0e
#define AML_SCOPE_OP		0x10
#define AML_BUFFER_OP		0x11
#define AML_PACKAGE_OP		0x12
#define AML_EXT_OP_PREFIX	0x5b
#define AML_DEVICE_OP		0x82	/* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR		0x5c

void aml_init(struct aml *a, u8 *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, u8 b)
{
	aml_bytes(a, &b, 1);
}

/* PkgLength (§20.2.4) is written when the package ends, in front of it. */
void aml_pkg_begin(struct aml *a)
{
	if (a->depth == AML_MAX_NEST) {
		a->overflow = true;
		return;
	}
	a->pkg_start[a->depth++] = a->len;
}

void aml_pkg_end(struct aml *a)
{
	u8 enc[4];
	size_t start, body, total;
	unsigned int n, i;

	if (!a->depth) {
		a->overflow = true;
		return;
	}
	start = a->pkg_start[--a->depth];
	if (a->overflow)
		return;
	body = a->len - start;
	/* The length counts its own bytes: 1 byte up to 63, else 4 bits + 8 per extra byte. */
	if (body + 1 <= 0x3f) {
		n = 1;
		enc[0] = body + 1;
	} else {
		for (n = 2; n <= 4; n++)
			if (body + n < (1ULL << (4 + 8 * (n - 1))))
				break;
		if (n > 4) {
			a->overflow = true;
			return;
		}
		total = body + n;
		enc[0] = ((n - 1) << 6) | (total & 0xf);
		for (i = 1; i < n; i++)
			enc[i] = total >> (4 + 8 * (i - 1));
	}
	if (n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memmove(a->buf + start + n, a->buf + start, body);
	memcpy(a->buf + start, enc, n);
	a->len += n;
}

/* NameSeg (§20.2.2): four characters, padded with '_'. */
void aml_nameseg(struct aml *a, const char *seg)
{
	char s[4] = { '_', '_', '_', '_' };
	size_t n = strnlen(seg, 4);

	memcpy(s, seg, n);
	aml_bytes(a, s, 4);
}

void aml_integer(struct aml *a, u64 v)
{
	if (v <= 1) {
		aml_byte(a, v);			/* ZeroOp / OneOp */
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, v);
	} else if (v <= 0xffff) {
		le16 w = cpu_to_le16(v);

		aml_byte(a, AML_WORD_PREFIX);
		aml_bytes(a, &w, 2);
	} else if (v <= 0xffffffff) {
		le32 d = cpu_to_le32(v);

		aml_byte(a, AML_DWORD_PREFIX);
		aml_bytes(a, &d, 4);
	} else {
		le64 q = cpu_to_le64(v);

		aml_byte(a, AML_QWORD_PREFIX);
		aml_bytes(a, &q, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

/* Scope (\NAME) { ... }: @path is a single root-relative NameSeg such as "_SB_". */
void aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_pkg_begin(a);
	aml_byte(a, AML_ROOT_CHAR);
	aml_nameseg(a, path);
}

void aml_device_begin(struct aml *a, const char *seg)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	aml_pkg_begin(a);
	aml_nameseg(a, seg);
}

/* Name (SEG, <object>): the caller emits the object next. */
void aml_name_begin(struct aml *a, const char *seg)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, seg);
}

void aml_buffer(struct aml *a, const struct aml *contents)
{
	if (contents->overflow) {
		a->overflow = true;
		return;
	}
	aml_byte(a, AML_BUFFER_OP);
	aml_pkg_begin(a);
	aml_integer(a, contents->len);
	aml_bytes(a, contents->buf, contents->len);
	aml_pkg_end(a);
}

/* Package (n) { ... }: the caller emits @nr_elements objects, then aml_pkg_end(). */
void aml_package_begin(struct aml *a, u8 nr_elements)
{
	aml_byte(a, AML_PACKAGE_OP);
	aml_pkg_begin(a);
	aml_byte(a, nr_elements);
}

/* EISAID("ABC1234") as the compressed 32-bit integer (§6.1.5). */
u32 aml_eisaid(const char *id)
{
	u32 v = ((u32)(id[0] - 0x40) << 26) | ((u32)(id[1] - 0x40) << 21) |
		((u32)(id[2] - 0x40) << 16);
	unsigned int i;

	for (i = 3; i < 7; i++) {
		char c = id[i];

		v |= (u32)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10) << (4 * (6 - i));
	}
	return __builtin_bswap32(v);
}

/* Fixed Location Memory Range descriptor, 32-bit (§6.4.3.4). */
void aml_res_mem32_fixed(struct aml *a, bool rw, u32 base, u32 size)
{
	u8 d[12] = { 0x86, 9, 0, rw };

	memcpy(d + 4, &base, 4);
	memcpy(d + 8, &size, 4);
	aml_bytes(a, d, sizeof(d));
}

/* Extended Interrupt descriptor with one interrupt, consumer (§6.4.3.6). */
void aml_res_ext_irq(struct aml *a, u32 irq, bool edge, bool active_low, bool shared)
{
	u8 d[9] = { 0x89, 6, 0, 0x01 | edge << 1 | active_low << 2 | shared << 3, 1 };

	memcpy(d + 5, &irq, 4);
	aml_bytes(a, d, sizeof(d));
}

/* I/O port descriptor, 16-bit decode, fixed base (§6.4.2.5). */
void aml_res_io(struct aml *a, u16 base, u8 len)
{
	u8 d[8] = { 0x47, 1, base & 0xff, base >> 8, base & 0xff, base >> 8, 1, len };

	aml_bytes(a, d, sizeof(d));
}

/* IRQ descriptor without flags: edge, active high, exclusive (§6.4.2.1). */
void aml_res_irq_noflags(struct aml *a, u8 irq)
{
	u16 mask = 1u << (irq & 15);
	u8 d[3] = { 0x22, mask & 0xff, mask >> 8 };

	aml_bytes(a, d, sizeof(d));
}

/*
 * Address space descriptors (§6.4.3.5), producer, minimum and maximum
 * fixed, positive decode, no translation: a root bridge's windows.
 */
#define AML_ADDR_FLAGS		0x0c	/* _MAF | _MIF, producer, _DEC positive */
#define AML_ADDR_MEM		0
#define AML_ADDR_IO		1
#define AML_ADDR_BUS		2

static void aml_res_addr(struct aml *a, u8 tag, u8 type, u8 type_flags, unsigned int width,
			 u64 min, u64 max)
{
	u8 d[3 + 3 + 5 * 8];
	u64 f[5] = { 0 /* granularity */, min, max, 0 /* translation */, max - min + 1 };
	u16 len = (u16)(3 + 5 * width);
	size_t n = 0;

	d[n++] = tag;
	d[n++] = (u8)len;
	d[n++] = (u8)(len >> 8);
	d[n++] = type;
	d[n++] = AML_ADDR_FLAGS;
	d[n++] = type_flags;
	for (unsigned int i = 0; i < 5; i++) {
		u64 v = f[i];

		memcpy(d + n, &v, width);	/* little-endian host */
		n += width;
	}
	aml_bytes(a, d, n);
}

void aml_res_word_bus(struct aml *a, u16 min, u16 max)
{
	aml_res_addr(a, 0x88, AML_ADDR_BUS, 0, 2, min, max);
}

/* I/O, entire range (_RNG 3). */
void aml_res_word_io(struct aml *a, u16 min, u16 max)
{
	aml_res_addr(a, 0x88, AML_ADDR_IO, 3, 2, min, max);
}

/* Memory, read/write, non-cacheable. */
void aml_res_dword_mem(struct aml *a, u32 min, u32 max)
{
	aml_res_addr(a, 0x87, AML_ADDR_MEM, 1, 4, min, max);
}

void aml_res_qword_mem(struct aml *a, u64 min, u64 max)
{
	aml_res_addr(a, 0x8a, AML_ADDR_MEM, 1, 8, min, max);
}

/* End Tag (§6.4.2.9); a zero checksum means "treat as correct". */
void aml_res_end(struct aml *a)
{
	static const u8 d[2] = { 0x79, 0 };

	aml_bytes(a, d, sizeof(d));
}

int aml_finish(struct aml *a)
{
	return a->overflow || a->depth ? -ENOSPC : 0;
}
