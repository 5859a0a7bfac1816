/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_ACPI_H
#define GUEST_X86_ACPI_H

/*
 * ACPI tables as an OS finds them: the RSDP in the EBDA or the BIOS area
 * (0xe0000-0xfffff), then the XSDT (or RSDT) and the tables it lists, the
 * FADT's FACS and DSDT, and the SLP_TYP values of the DSDT's \_Sx packages
 * (read from the AML bytes: enough for packages of integer constants, which
 * is what firmware writes there). Tables are used in place, read-only,
 * through the identity map; only what is below 4 GiB is followed.
 */
#include "guest.h"

struct acpi_header {
	char sig[4];
	u32 length;
	u8 revision, checksum;
	char oem[6], oem_table[8];
	u32 oem_rev, creator, creator_rev;
} __attribute__((packed));

/* The fields of the FADT (ACPI 6.5 §5.2.9) the tests need, by offset. */
#define FADT_FIRMWARE_CTRL	36
#define FADT_DSDT		40
#define FADT_SCI_INT		46
#define FADT_SMI_CMD		48
#define FADT_PM1A_EVT_BLK	56
#define FADT_PM1A_CNT_BLK	64
#define FADT_PM_TMR_BLK		76
#define FADT_PM1_EVT_LEN	88
#define FADT_PM1_CNT_LEN	89
#define FADT_PM_TMR_LEN		91
#define FADT_FLAGS		112
#define FADT_X_FIRMWARE_CTRL	132
#define FADT_X_DSDT		140
#define FADT_F_TMR_VAL_EXT	(1u << 8)
#define FADT_F_HW_REDUCED	(1u << 20)

/* The FACS (§5.2.10): no checksum, 64 bytes. */
struct acpi_facs {
	char sig[4];
	u32 length;
	u32 hardware_signature;
	u32 waking_vector;
	u32 global_lock;
	u32 flags;
	u64 x_waking_vector;
	u8 version;
	u8 reserved0[3];
	u32 ospm_flags;
	u8 reserved1[24];
} __attribute__((packed));

/* The RSDP, or NULL. */
const void *acpi_rsdp(void);

/* The first table with signature @sig ("FACP", "APIC", ...) the root table lists, or NULL. */
const struct acpi_header *acpi_find_table(const char *sig);

/* The FADT's FACS and DSDT, or NULL. */
struct acpi_facs *acpi_facs(const struct acpi_header *fadt);
const struct acpi_header *acpi_dsdt(const struct acpi_header *fadt);

/*
 * acpi_sleep_type() - the PM1a SLP_TYP of state \_S<@state> from the DSDT
 * Return: 0..7, or -1 when the DSDT has no such package.
 */
int acpi_sleep_type(const struct acpi_header *dsdt, unsigned int state);

/*
 * acpi_enter_sleep() - enter sleep state @slp_typ (from acpi_sleep_type())
 *	through the PM1a control block at port @pm1_cnt, as ACPICA does:
 *	SLP_TYP first, then SLP_TYP with SLP_EN. Returns once the writes are
 *	done; the machine stops some time after.
 */
void acpi_enter_sleep(u16 pm1_cnt, int slp_typ);

/* ---- S3: the waking vector and the way back to long mode (start.S) ------- */

/*
 * acpi_wake_save() - save this CPU's context, like setjmp()
 * Return: 0 now; 1 when the machine wakes from S3 through the trampoline
 * acpi_wake_install() placed, on the stack and with the callee-saved
 * registers of this call. The caller then reloads what a reset lost:
 * descriptor tables (cpu_load_descriptors()) and the LAPIC (apic_setup()).
 */
int acpi_wake_save(void) __attribute__((returns_twice));

/*
 * acpi_wake_install() - copy the real-mode trampoline to @vector (below
 * 1 MiB, in a 4 KiB page of its own that it also uses as its stack) and
 * make it the FACS's 16-bit waking vector
 */
void acpi_wake_install(struct acpi_facs *facs, u32 vector);

/* The CS and IP the trampoline at @vector was entered with (0:0xffff if never). */
void acpi_wake_seen(u32 vector, u16 *cs, u16 *ip);

#endif /* GUEST_X86_ACPI_H */
