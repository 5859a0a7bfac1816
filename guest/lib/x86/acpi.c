// SPDX-License-Identifier: GPL-2.0-only
/* Finding ACPI tables the way an OS does (see acpi.h). */
#include "x86/acpi.h"
#include "x86/processor.h"

#define LOW_4G		0x100000000ull

static u8 sum(const void *p, u32 len)
{
	const u8 *b = p;
	u8 s = 0;

	while (len--)
		s += *b++;
	return s;
}

/* ACPI 6.5 §5.2.5.1: the first KiB of the EBDA, then the BIOS area, 16-byte steps. */
const void *acpi_rsdp(void)
{
	u64 ebda = (u64)(*(volatile u16 *)phys_ptr(0x40e)) << 4;
	static const u64 sig = 0x2052545020445352ull;	/* "RSD PTR " */

	if (ebda >= 0x80000 && ebda < 0xa0000)
		for (u64 a = ebda; a < ebda + 1024; a += 16)
			if (*(const u64 *)phys_ptr(a) == sig && !sum(phys_ptr(a), 20))
				return phys_ptr(a);
	for (u64 a = 0xe0000; a < 0x100000; a += 16)
		if (*(const u64 *)phys_ptr(a) == sig && !sum(phys_ptr(a), 20))
			return phys_ptr(a);
	return NULL;
}

static const struct acpi_header *table_at(u64 addr)
{
	const struct acpi_header *t;

	if (!addr || addr >= LOW_4G)
		return NULL;
	t = phys_ptr(addr);
	return t->length >= sizeof(*t) && t->length < (1u << 20) ? t : NULL;
}

const struct acpi_header *acpi_find_table(const char *sig)
{
	const u8 *rsdp = acpi_rsdp();
	const struct acpi_header *root, *t;
	unsigned int entry_size;

	if (!rsdp)
		return NULL;
	if (rsdp[15] >= 2 && *(const u64 *)(rsdp + 24)) {
		root = table_at(*(const u64 *)(rsdp + 24));
		entry_size = 8;
	} else {
		root = table_at(*(const u32 *)(rsdp + 16));
		entry_size = 4;
	}
	if (!root)
		return NULL;
	for (u32 off = sizeof(*root); off + entry_size <= root->length; off += entry_size) {
		const u8 *e = (const u8 *)root + off;

		t = table_at(entry_size == 8 ? *(const u64 *)e : *(const u32 *)e);
		if (t && !memcmp(t->sig, sig, 4))
			return t;
	}
	return NULL;
}

static u64 fadt_pointer(const struct acpi_header *fadt, u32 off32, u32 off64)
{
	const u8 *f = (const u8 *)fadt;

	/* The 64-bit field wins when the table has it and it is set (§5.2.9). */
	if (fadt->length >= off64 + 8 && *(const u64 *)(f + off64))
		return *(const u64 *)(f + off64);
	return *(const u32 *)(f + off32);
}

struct acpi_facs *acpi_facs(const struct acpi_header *fadt)
{
	u64 a = fadt_pointer(fadt, FADT_FIRMWARE_CTRL, FADT_X_FIRMWARE_CTRL);
	struct acpi_facs *facs;

	if (!a || a >= LOW_4G)
		return NULL;
	facs = phys_ptr(a);
	return !memcmp(facs->sig, "FACS", 4) ? facs : NULL;
}

const struct acpi_header *acpi_dsdt(const struct acpi_header *fadt)
{
	const struct acpi_header *d = table_at(fadt_pointer(fadt, FADT_DSDT, FADT_X_DSDT));

	return d && !memcmp(d->sig, "DSDT", 4) ? d : NULL;
}

/* One AML integer constant (§20.2.3) at @p: its value, or -1. */
static int aml_const(const u8 *p, const u8 *end)
{
	if (p >= end)
		return -1;
	switch (p[0]) {
	case 0x00:		/* ZeroOp */
		return 0;
	case 0x01:		/* OneOp */
		return 1;
	case 0x0a:		/* BytePrefix */
		return p + 1 < end ? p[1] : -1;
	}
	return -1;
}

int acpi_sleep_type(const struct acpi_header *dsdt, unsigned int state)
{
	const u8 *p = (const u8 *)dsdt + sizeof(*dsdt), *end = (const u8 *)dsdt + dsdt->length;
	char name[4] = { '_', 'S', (char)('0' + state), '_' };

	/* NameOp, NameSeg (with or without the root prefix), PackageOp */
	for (; p + 8 < end; p++) {
		const u8 *q = p + 1;
		unsigned int len_bytes;

		if (p[0] != 0x08)
			continue;
		if (*q == '\\')
			q++;
		if (memcmp(q, name, 4) || q[4] != 0x12)
			continue;
		q += 5;
		len_bytes = 1 + (*q >> 6);	/* PkgLength, §20.2.4 */
		q += len_bytes;
		if (q >= end || *q < 1)		/* NumElements */
			return -1;
		return aml_const(q + 1, end);
	}
	return -1;
}

#define PM1_CNT_SLP_TYP		(7u << 10)	/* ACPI 6.5 §4.8.3.2.1 */
#define PM1_CNT_SLP_EN		(1u << 13)

void acpi_enter_sleep(u16 pm1_cnt, int slp_typ)
{
	u16 cnt = inw(pm1_cnt) & ~(PM1_CNT_SLP_TYP | PM1_CNT_SLP_EN);

	cnt |= (u16)((slp_typ & 7) << 10);
	outw(pm1_cnt, cnt);
	outw(pm1_cnt, cnt | PM1_CNT_SLP_EN);
}

/* ---- the S3 waking vector ------------------------------------------------ */

extern char wake_start[], wake_end[], wake_seen_cs[], wake_seen_ip[];

void acpi_wake_install(struct acpi_facs *facs, u32 vector)
{
	memcpy(phys_ptr(vector), wake_start, (size_t)(wake_end - wake_start));
	facs->x_waking_vector = 0;
	WRITE_ONCE(facs->waking_vector, vector);
}

void acpi_wake_seen(u32 vector, u16 *cs, u16 *ip)
{
	*cs = *(volatile u16 *)phys_ptr(vector + (u32)(wake_seen_cs - wake_start));
	*ip = *(volatile u16 *)phys_ptr(vector + (u32)(wake_seen_ip - wake_start));
}
