// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI tables (ACPI 6.5): RSDP -> XSDT -> { FADT -> FACS, DSDT; MADT }.
 *
 * The FADT describes a PC's fixed hardware (§4.8), not a hardware-reduced
 * platform: the PM1a event and control blocks and the 24-bit PM timer of
 * kestrel's PM block (src/hw/acpi-pm.c, docs/acpi-pm.md) at
 * X86_ACPI_PM_PORT, the SCI on ISA IRQ 9, no SMM (SMI_CMD 0: ACPI mode from
 * power-on), the fixed power button, the CMOS RTC's century byte. The FACS
 * sits at a fixed place, X86_ACPI_FACS_GPA, right after the RSDP, because
 * the PM block reads its waking vector there. The DSDT's \_S0, \_S3 and
 * \_S5 give the SLP_TYP values the PM block implements. The reset register
 * is the i8042 command port (write 0xfe), which kestrel's i8042 turns into
 * a reset.
 *
 * The MADT lists one enabled Local APIC per vCPU (processor UID = APIC ID =
 * 0..n-1), says PCAT_COMPAT only when there is a PIC (the in-kernel
 * irqchip), the IOAPIC at X86_IOAPIC_GPA (ID n, GSI base 0), the ISA IRQ0 ->
 * GSI 2 override, the SCI's override (IRQ 9 -> GSI 9, level, active high,
 * as a PC's firmware gives it) and LINT1 as NMI. The DSDT has COM1
 * (PNP0501), the i8042's keyboard (PNP0303: ports 0x60 and 0x64, IRQ 1) and
 * one LNRO0005 device per virtio-mmio window: _HID "LNRO0005", _UID n, _CRS
 * with Memory32Fixed(base, size) and an Extended Interrupt, edge-triggered,
 * active high. Edge, not level: kestrel raises device interrupts through
 * irqfds, which pulse the line; a level-triggered IOAPIC pin fed by pulses
 * without a resample eventfd loses interrupts that arrive while Remote IRR
 * is set. Edge is also what Linux assumes for the same device given by
 * virtio_mmio.device= (an ISA IRQ, edge/high by default). Lines used by more
 * than one device (IRQ numbers wrap, see layout.h) are marked Shared.
 *
 * With PCI (boot_config.pci), the XSDT also lists an MCFG for the ECAM
 * range, the DSDT has the PNP0A08 root bridge PCI0 (acpi_dsdt_pci()), and
 * the FADT no longer says MSI is unsupported.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kestrel/hw.h>
#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#include "loader.h"

#define ACPI_OEM_ID		"KESTRL"
/* _PRT entries for device numbers 1..31 of bus 0 (0 is the host bridge). */
#define PCI_PRT_SLOTS		32
#define ACPI_OEM_TABLE_ID	"KESTREL "
#define ACPI_CREATOR_ID		"KSTL"

struct acpi_header {
	char signature[4];
	le32 length;
	u8 revision;
	u8 checksum;
	char oem_id[6];
	char oem_table_id[8];
	le32 oem_revision;
	char creator_id[4];
	le32 creator_revision;
} __packed;
_Static_assert(sizeof(struct acpi_header) == 36, "ACPI SDT header");

struct acpi_rsdp {
	char signature[8];
	u8 checksum;		/* first 20 bytes */
	char oem_id[6];
	u8 revision;
	le32 rsdt_address;
	le32 length;
	le64 xsdt_address;
	u8 extended_checksum;	/* all 36 bytes */
	u8 reserved[3];
} __packed;
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

struct acpi_gas {
	u8 space_id;
	u8 bit_width;
	u8 bit_offset;
	u8 access_size;
	le64 address;
} __packed;
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");

struct acpi_fadt {
	struct acpi_header h;
	le32 firmware_ctrl;
	le32 dsdt;
	u8 reserved0;
	u8 preferred_pm_profile;
	le16 sci_int;
	le32 smi_cmd;
	u8 acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	le32 pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	le32 pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	u8 pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	u8 gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	le16 p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	u8 duty_offset, duty_width, day_alrm, mon_alrm, century;
	le16 iapc_boot_arch;
	u8 reserved1;
	le32 flags;
	struct acpi_gas reset_reg;
	u8 reset_value;
	le16 arm_boot_arch;
	u8 minor_revision;
	le64 x_firmware_ctrl;
	le64 x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	le64 hypervisor_vendor_id;
} __packed;
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT (ACPI 6.5)");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");

#define FADT_F_WBINVD		(1u << 0)
#define FADT_F_PROC_C1		(1u << 2)
#define FADT_F_PWR_BUTTON	(1u << 4)	/* set: no fixed power button */
#define FADT_F_SLP_BUTTON	(1u << 5)	/* set: no fixed sleep button */
#define FADT_F_RESET_REG_SUP	(1u << 10)
#define FADT_F_HW_REDUCED_ACPI	(1u << 20)
#define FADT_BOOT_VGA_NOT_PRESENT	(1u << 2)
#define FADT_BOOT_MSI_NOT_SUPPORTED	(1u << 3)
#define FADT_P_LVL2_NONE	101	/* a latency above 100 us: no C2 */
#define FADT_P_LVL3_NONE	1001	/* above 1000 us: no C3 */
#define ACPI_GAS_SYSTEM_IO	1
#define ACPI_GAS_ACCESS_BYTE	1
#define ACPI_GAS_ACCESS_WORD	2
#define ACPI_GAS_ACCESS_DWORD	3

/* §5.2.10: no checksum; 64-byte aligned. */
struct acpi_facs {
	char signature[4];
	le32 length;
	le32 hardware_signature;
	le32 firmware_waking_vector;
	le32 global_lock;
	le32 flags;
	le64 x_firmware_waking_vector;
	u8 version;
	u8 reserved0[3];
	le32 ospm_flags;
	u8 reserved1[24];
} __packed;
_Static_assert(sizeof(struct acpi_facs) == ACPI_FACS_LEN, "FACS");
_Static_assert(offsetof(struct acpi_facs, firmware_waking_vector) == ACPI_FACS_WAKING_VECTOR,
	       "FACS waking vector, as the PM block reads it");
_Static_assert(offsetof(struct acpi_facs, x_firmware_waking_vector) == ACPI_FACS_X_WAKING_VECTOR,
	       "FACS X waking vector");

/* The FACS right after the RSDP (layout.h): the PM block reads it there. */
#define ACPI_FACS_OFFSET	0x40
_Static_assert(X86_ACPI_FACS_GPA == X86_BOOT_ACPI_GPA + ACPI_FACS_OFFSET,
	       "the FACS where the PM block looks for it");
_Static_assert(ACPI_FACS_OFFSET % 64 == 0, "FACS alignment");

/* MADT interrupt source override flags (§5.2.12.5): polarity, trigger. */
#define MADT_ISO_ACTIVE_HIGH	0x1
#define MADT_ISO_LEVEL		(0x3 << 2)

struct acpi_madt {
	struct acpi_header h;
	le32 lapic_address;
	le32 flags;
} __packed;
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");

#define MADT_PCAT_COMPAT	(1u << 0)
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_NMI		4

struct madt_lapic {
	u8 type, length, processor_uid, apic_id;
	le32 flags;
} __packed;
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT Local APIC");

struct madt_ioapic {
	u8 type, length, ioapic_id, reserved;
	le32 address;
	le32 gsi_base;
} __packed;
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");

struct madt_iso {
	u8 type, length, bus, source;
	le32 gsi;
	le16 flags;
} __packed;
_Static_assert(sizeof(struct madt_iso) == 10, "MADT interrupt source override");

struct madt_lapic_nmi {
	u8 type, length, processor_uid;
	le16 flags;
	u8 lint;
} __packed;
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT Local APIC NMI");

u8 x86_acpi_checksum(const void *buf, size_t len)
{
	const u8 *p = buf;
	u8 sum = 0;

	while (len--)
		sum += *p++;
	return (u8)-sum;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, u32 len, u8 rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Reserve @len bytes in @blob, 16-byte aligned; record a table. */
static u8 *acpi_alloc(struct x86_acpi_blob *b, const char *sig, u32 len, u32 *off)
{
	u32 at = ALIGN_UP(b->size, 16u);
	struct x86_acpi_table *t;

	if (at > sizeof(b->data) || len > sizeof(b->data) - at ||
	    b->nr_tables == X86_ACPI_MAX_TABLES)
		return NULL;
	t = &b->tables[b->nr_tables++];
	memcpy(t->sig, sig, 4);
	t->sig[4] = '\0';
	t->offset = at;
	t->length = len;
	b->size = at + len;
	*off = at;
	return b->data + at;
}

static void acpi_seal(u8 *table)
{
	struct acpi_header *h = (struct acpi_header *)table;

	h->checksum = 0;
	h->checksum = x86_acpi_checksum(table, h->length);
}

/* Name (\@name, Package (4) { @slp_typ, @slp_typ, 0, 0 }) at the root. */
static void acpi_sleep_package(struct aml *a, const char *name, u8 slp_typ)
{
	aml_name_begin(a, name);
	aml_package_begin(a, 4);
	aml_integer(a, slp_typ);
	aml_integer(a, slp_typ);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_pkg_end(a);
}

/*
 * The PCI root bridge (docs/pci.md): PNP0A08 (PCI Express) compatible with
 * PNP0A03, segment 0, bus 0; _CRS gives the bus range, CONFIG_ADDRESS/DATA,
 * the I/O window, the 32-bit window and the 64-bit window above RAM; _PRT
 * routes INTA#..INTD# of every slot straight to IOAPIC GSIs (source 0:
 * level-triggered, active low, ACPI 6.5 §6.2.13), swizzled by slot as the
 * host bridge drives them (src/pci/pci.c).
 */
static void acpi_dsdt_pci(struct aml *a, const struct boot_pci *pci)
{
	u8 res[160];
	struct aml r;

	aml_device_begin(a, "PCI0");
	aml_name_begin(a, "_HID");
	aml_integer(a, aml_eisaid("PNP0A08"));
	aml_name_begin(a, "_CID");
	aml_integer(a, aml_eisaid("PNP0A03"));
	aml_name_begin(a, "_UID");
	aml_integer(a, 0);
	aml_name_begin(a, "_SEG");
	aml_integer(a, 0);
	aml_name_begin(a, "_BBN");
	aml_integer(a, 0);
	aml_init(&r, res, sizeof(res));
	aml_res_word_bus(&r, 0, 0);
	aml_res_io(&r, 0xcf8, 8);
	aml_res_word_io(&r, pci->io_base, (u16)(pci->io_base + pci->io_size - 1));
	aml_res_dword_mem(&r, (u32)pci->mmio32_base,
			  (u32)(pci->mmio32_base + pci->mmio32_size - 1));
	if (pci->mmio64_size)
		aml_res_qword_mem(&r, pci->mmio64_base, pci->mmio64_base + pci->mmio64_size - 1);
	aml_res_end(&r);
	aml_name_begin(a, "_CRS");
	aml_buffer(a, &r);

	aml_name_begin(a, "_PRT");
	aml_package_begin(a, (PCI_PRT_SLOTS - 1) * 4);
	for (unsigned int slot = 1; slot < PCI_PRT_SLOTS; slot++) {
		for (unsigned int pin = 0; pin < 4; pin++) {
			aml_package_begin(a, 4);
			aml_integer(a, (u64)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, pci->intx_gsi0 + (slot + pin) % pci->nr_intx);
			aml_pkg_end(a);
		}
	}
	aml_pkg_end(a);
	aml_pkg_end(a);	/* Device */
}

static int acpi_build_dsdt(const struct boot_config *cfg, struct x86_acpi_blob *b, u32 *off)
{
	u8 *scratch = xmalloc(sizeof(b->data)), res[64];
	struct aml a, r;
	unsigned int i;
	u8 *t;
	int ret;

	if (!scratch)
		return -ENOMEM;
	aml_init(&a, scratch, sizeof(b->data));
	aml_bytes(&a, &(struct acpi_header){ 0 }, sizeof(struct acpi_header));
	/* §7.4.2: { PM1a_CNT.SLP_TYP, PM1b_CNT.SLP_TYP, reserved, reserved } */
	acpi_sleep_package(&a, "_S0_", ACPI_SLP_TYP_S0);
	acpi_sleep_package(&a, "_S3_", ACPI_SLP_TYP_S3);
	acpi_sleep_package(&a, "_S5_", ACPI_SLP_TYP_S5);
	aml_scope_begin(&a, "_SB_");

	aml_device_begin(&a, "COM1");
	aml_name_begin(&a, "_HID");
	aml_integer(&a, aml_eisaid("PNP0501"));
	aml_name_begin(&a, "_UID");
	aml_integer(&a, 0);
	aml_init(&r, res, sizeof(res));
	aml_res_io(&r, X86_COM1_PORT, 8);
	aml_res_irq_noflags(&r, X86_COM1_IRQ);
	aml_res_end(&r);
	aml_name_begin(&a, "_CRS");
	aml_buffer(&a, &r);
	aml_pkg_end(&a);

	/*
	 * The i8042's keyboard, with its ports and IRQ 1, which Linux's i8042
	 * reads by PNP. (On the hardware-reduced platform kestrel described
	 * before its ACPI PM block, Linux had no legacy IRQs and this _CRS was
	 * the only way to IRQ 1; now ISA IRQs are set up from the MADT and an
	 * i8042.nopnp kernel finds IRQ 1 too.)
	 */
	aml_device_begin(&a, "PS2K");
	aml_name_begin(&a, "_HID");
	aml_integer(&a, aml_eisaid("PNP0303"));
	aml_init(&r, res, sizeof(res));
	aml_res_io(&r, X86_I8042_DATA_PORT, 1);
	aml_res_io(&r, X86_I8042_CMD_PORT, 1);
	aml_res_irq_noflags(&r, X86_I8042_KBD_IRQ);
	aml_res_end(&r);
	aml_name_begin(&a, "_CRS");
	aml_buffer(&a, &r);
	aml_pkg_end(&a);

	for (i = 0; i < cfg->nr_mmio_devs; i++) {
		const struct boot_mmio_dev *d = &cfg->mmio_devs[i];
		bool shared = false;
		unsigned int j;
		char seg[5];

		/* IRQs wrap (layout.h): a line two devices use is marked Shared */
		for (j = 0; j < cfg->nr_mmio_devs; j++)
			if (j != i && cfg->mmio_devs[j].irq == d->irq)
				shared = true;

		snprintf(seg, sizeof(seg), "VR%02X", i & 0xff);
		aml_device_begin(&a, seg);
		aml_name_begin(&a, "_HID");
		aml_string(&a, "LNRO0005");
		aml_name_begin(&a, "_UID");
		aml_integer(&a, i);
		aml_init(&r, res, sizeof(res));
		aml_res_mem32_fixed(&r, true, d->base, d->size);
		aml_res_ext_irq(&r, d->irq, true, false, shared);
		aml_res_end(&r);
		aml_name_begin(&a, "_CRS");
		aml_buffer(&a, &r);
		aml_pkg_end(&a);
	}
	if (cfg->pci)
		acpi_dsdt_pci(&a, cfg->pci);
	aml_pkg_end(&a);	/* Scope */
	ret = aml_finish(&a);
	if (!ret) {
		t = acpi_alloc(b, "DSDT", a.len, off);
		if (!t) {
			ret = -ENOSPC;
		} else {
			memcpy(t, scratch, a.len);
			acpi_header_init((struct acpi_header *)t, "DSDT", a.len, 2);
			acpi_seal(t);
		}
	}
	free(scratch);
	return ret;
}

static int acpi_build_madt(const struct boot_config *cfg, struct x86_acpi_blob *b, u32 *off)
{
	u32 len = sizeof(struct acpi_madt) + cfg->nr_cpus * sizeof(struct madt_lapic) +
		  sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_iso) +
		  sizeof(struct madt_lapic_nmi);
	u8 *t = acpi_alloc(b, "APIC", len, off), *p;
	struct acpi_madt madt = { 0 };
	unsigned int i;

	if (!t)
		return -ENOSPC;
	acpi_header_init(&madt.h, "APIC", len, 5);
	madt.lapic_address = X86_LAPIC_GPA;
	/*
	 * PCAT_COMPAT only with a PIC: Linux (since 6.10, and 6.1.y) trusts
	 * the flag and skips probe_8259A(), which would otherwise read the
	 * mask back from port 0x21 and find nothing there.
	 */
	madt.flags = cfg->legacy_pic ? MADT_PCAT_COMPAT : 0;
	memcpy(t, &madt, sizeof(madt));
	p = t + sizeof(madt);
	for (i = 0; i < cfg->nr_cpus; i++) {
		struct madt_lapic e = { MADT_LAPIC, sizeof(e), i, i, 1 /* enabled */ };

		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	{
		struct madt_ioapic io = { MADT_IOAPIC, sizeof(io), cfg->nr_cpus, 0,
					  X86_IOAPIC_GPA, 0 };
		struct madt_iso iso = { MADT_ISO, sizeof(iso), 0 /* ISA */, 0, 2, 0 };
		struct madt_iso sci = { MADT_ISO, sizeof(sci), 0, X86_ACPI_SCI_IRQ,
					X86_ACPI_SCI_IRQ, MADT_ISO_ACTIVE_HIGH | MADT_ISO_LEVEL };
		/* all processors, active high (01), edge (01 << 2), LINT1 */
		struct madt_lapic_nmi nmi = { MADT_LAPIC_NMI, sizeof(nmi), 0xff, 0x5, 1 };

		memcpy(p, &io, sizeof(io));
		p += sizeof(io);
		memcpy(p, &iso, sizeof(iso));
		p += sizeof(iso);
		memcpy(p, &sci, sizeof(sci));
		p += sizeof(sci);
		memcpy(p, &nmi, sizeof(nmi));
	}
	acpi_seal(t);
	return 0;
}

/* MCFG (PCI Firmware 3.2 §4.1.2): one ECAM allocation, segment 0, bus 0. */
struct acpi_mcfg {
	struct acpi_header h;
	u8 reserved[8];
	le64 base;
	le16 segment;
	u8 start_bus;
	u8 end_bus;
	u8 reserved1[4];
} __packed;
_Static_assert(sizeof(struct acpi_mcfg) == 60, "MCFG with one allocation");

static int acpi_build_mcfg(const struct boot_pci *pci, struct x86_acpi_blob *b, u32 *off)
{
	u8 *t = acpi_alloc(b, "MCFG", sizeof(struct acpi_mcfg), off);
	struct acpi_mcfg m = { 0 };

	if (!t)
		return -ENOSPC;
	acpi_header_init(&m.h, "MCFG", sizeof(m), 1);
	m.base = pci->ecam_base;
	m.segment = 0;
	m.start_bus = 0;
	m.end_bus = 0;
	memcpy(t, &m, sizeof(m));
	acpi_seal(t);
	return 0;
}

/* A System I/O Generic Address of @bits at @port. */
static struct acpi_gas acpi_gas_io(u16 port, u8 bits, u8 access)
{
	return (struct acpi_gas){ ACPI_GAS_SYSTEM_IO, bits, 0, access, port };
}

static int acpi_build_fadt(const struct boot_config *cfg, struct x86_acpi_blob *b, u64 dsdt_gpa,
			   u64 facs_gpa, u32 *off)
{
	u8 *t = acpi_alloc(b, "FACP", sizeof(struct acpi_fadt), off);
	struct acpi_fadt f = { 0 };
	const u16 pm = X86_ACPI_PM_PORT;

	if (!t)
		return -ENOSPC;
	acpi_header_init(&f.h, "FACP", sizeof(f), 6);
	f.minor_revision = 5;
	f.firmware_ctrl = facs_gpa;	/* below 4 GiB: X_FIRMWARE_CTRL stays 0 */
	f.sci_int = X86_ACPI_SCI_IRQ;
	/* SMI_CMD, ACPI_ENABLE, ACPI_DISABLE 0: no SMM, always in ACPI mode */
	f.pm1a_evt_blk = pm + ACPI_PM1_STS;
	f.pm1a_cnt_blk = pm + ACPI_PM1_CNT;
	f.pm_tmr_blk = pm + ACPI_PM_TMR;
	f.pm1_evt_len = ACPI_PM1_EVT_LEN;
	f.pm1_cnt_len = ACPI_PM1_CNT_LEN;
	f.pm_tmr_len = ACPI_PM_TMR_LEN;
	f.p_lvl2_lat = FADT_P_LVL2_NONE;
	f.p_lvl3_lat = FADT_P_LVL3_NONE;
	f.century = RTC_REG_CENTURY;
	/* No PWR_BUTTON flag: the power button is PM1's fixed one. */
	f.flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP;
	/* With PCI, MSI(-X) works (src/pci/msix.c); without it, there is none. */
	f.iapc_boot_arch = FADT_BOOT_VGA_NOT_PRESENT |
			   (cfg->pci ? 0 : FADT_BOOT_MSI_NOT_SUPPORTED);
	f.reset_reg = acpi_gas_io(X86_I8042_CMD_PORT, 8, ACPI_GAS_ACCESS_BYTE);
	f.reset_value = 0xfe;
	f.x_dsdt = dsdt_gpa;
	f.x_pm1a_evt_blk = acpi_gas_io(f.pm1a_evt_blk, ACPI_PM1_EVT_LEN * 8, ACPI_GAS_ACCESS_WORD);
	f.x_pm1a_cnt_blk = acpi_gas_io(f.pm1a_cnt_blk, ACPI_PM1_CNT_LEN * 8, ACPI_GAS_ACCESS_WORD);
	f.x_pm_tmr_blk = acpi_gas_io(f.pm_tmr_blk, ACPI_PM_TMR_LEN * 8, ACPI_GAS_ACCESS_DWORD);
	memcpy(t, &f, sizeof(f));
	acpi_seal(t);
	return 0;
}

/*
 * The FACS at ACPI_FACS_OFFSET. Its hardware signature changes with the
 * machine's configuration (vCPUs, virtio devices), as §5.2.10 asks, so an
 * OS can tell a resume from S4 on different hardware.
 */
static int acpi_build_facs(const struct boot_config *cfg, struct x86_acpi_blob *b)
{
	struct acpi_facs facs = { .length = sizeof(facs), .version = 2 };
	u32 hash = 2166136261u;		/* FNV-1a */
	u32 off = ALIGN_UP(b->size, 64u);
	struct x86_acpi_table *t;

	if (off != ACPI_FACS_OFFSET || b->nr_tables == X86_ACPI_MAX_TABLES)
		return -ENOSPC;
	hash = (hash ^ cfg->nr_cpus) * 16777619u;
	for (unsigned int i = 0; i < cfg->nr_mmio_devs; i++) {
		hash = (hash ^ (u32)cfg->mmio_devs[i].base) * 16777619u;
		hash = (hash ^ cfg->mmio_devs[i].irq) * 16777619u;
	}
	memcpy(facs.signature, "FACS", 4);
	/* 7-bit bytes: iasl reads these as a table header's OEM ID and warns otherwise */
	facs.hardware_signature = hash & 0x7f7f7f7fu;
	t = &b->tables[b->nr_tables++];
	memcpy(t->sig, "FACS", 5);
	t->offset = off;
	t->length = sizeof(facs);
	memcpy(b->data + off, &facs, sizeof(facs));
	b->size = off + sizeof(facs);
	return 0;
}

/*
 * Build every table into @blob as if it were loaded at @base (all pointers
 * are guest-physical). The RSDP is first, at @base itself.
 */
int x86_acpi_build(const struct boot_config *cfg, u64 base, struct x86_acpi_blob *b,
		   char *err, size_t errlen)
{
	u32 rsdp_off, xsdt_off, fadt_off, madt_off, dsdt_off, mcfg_off = 0, xsdt_len;
	struct acpi_rsdp rsdp = { 0 };
	struct acpi_header xsdt = { 0 };
	le64 entries[3];
	unsigned int nr_entries = cfg->pci ? 3 : 2;
	int ret;

	if (cfg->nr_cpus < 1 || cfg->nr_cpus > VM_MAX_VCPUS ||
	    cfg->nr_mmio_devs > X86_VIRTIO_MMIO_MAX || (cfg->nr_mmio_devs && !cfg->mmio_devs)) {
		if (err && errlen)
			snprintf(err, errlen, "ACPI: bad configuration (%u vCPUs, %u devices)",
				 cfg->nr_cpus, cfg->nr_mmio_devs);
		return -EINVAL;
	}
	memset(b->tables, 0, sizeof(b->tables));
	b->size = 0;
	b->nr_tables = 0;
	if (!acpi_alloc(b, "RSDP", sizeof(rsdp), &rsdp_off))
		return -ENOSPC;
	if (acpi_build_facs(cfg, b))
		return -ENOSPC;
	xsdt_len = sizeof(xsdt) + nr_entries * sizeof(entries[0]);
	if (!acpi_alloc(b, "XSDT", xsdt_len, &xsdt_off))
		return -ENOSPC;
	ret = acpi_build_dsdt(cfg, b, &dsdt_off);
	if (!ret)
		ret = acpi_build_fadt(cfg, b, base + dsdt_off, base + ACPI_FACS_OFFSET, &fadt_off);
	if (!ret)
		ret = acpi_build_madt(cfg, b, &madt_off);
	if (!ret && cfg->pci)
		ret = acpi_build_mcfg(cfg->pci, b, &mcfg_off);
	if (ret == -ENOMEM) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory for the ACPI tables");
		return ret;
	}
	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "ACPI tables do not fit in 0x%llx bytes",
				 (unsigned long long)sizeof(b->data));
		return ret;
	}

	acpi_header_init(&xsdt, "XSDT", xsdt_len, 1);
	entries[0] = base + fadt_off;
	entries[1] = base + madt_off;
	entries[2] = base + mcfg_off;
	memcpy(b->data + xsdt_off, &xsdt, sizeof(xsdt));
	memcpy(b->data + xsdt_off + sizeof(xsdt), entries, nr_entries * sizeof(entries[0]));
	acpi_seal(b->data + xsdt_off);

	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, ACPI_OEM_ID, 6);
	rsdp.revision = 2;
	rsdp.length = sizeof(rsdp);
	rsdp.xsdt_address = base + xsdt_off;
	rsdp.checksum = x86_acpi_checksum(&rsdp, 20);
	rsdp.extended_checksum = x86_acpi_checksum(&rsdp, sizeof(rsdp));
	memcpy(b->data + rsdp_off, &rsdp, sizeof(rsdp));
	return 0;
}

int x86_acpi_write(struct x86_loader *l)
{
	struct x86_acpi_blob *b = xmalloc(sizeof(*b));
	int ret;

	if (!b)
		return x86_loader_fail(l, -ENOMEM, "out of memory for ACPI tables");
	ret = x86_acpi_build(l->cfg, X86_BOOT_ACPI_GPA, b, l->err, l->errlen);
	if (!ret)
		ret = x86_loader_write(l, X86_BOOT_ACPI_GPA, b->data, b->size, "ACPI tables");
	if (!ret)
		l->rsdp_gpa = X86_BOOT_ACPI_GPA;
	free(b);
	return ret;
}

/*
 * Write one table as @dirfd/<SIG>.dat. Whatever has that name in the
 * directory (an older dump, or a symlink or FIFO someone planted) is
 * removed first and a new file created: never written through, never
 * opened, so the dump cannot overwrite another file or hang.
 */
static int acpi_write_file(int dirfd, const struct x86_acpi_table *t, const u8 *data)
{
	char name[16];
	size_t done = 0;
	int fd, ret = 0;

	snprintf(name, sizeof(name), "%.4s.dat", t->sig);
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0644);
	if (fd < 0)
		return -errno;
	while (done < t->length) {
		ssize_t n = write(fd, data + t->offset + done, t->length - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		done += n;
	}
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int x86_acpi_dump(const struct boot_config *cfg, const char *dir)
{
	struct x86_acpi_blob *b;
	unsigned int i;
	int dirfd, ret;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	b = malloc(sizeof(*b));
	if (!b) {
		close(dirfd);
		return -ENOMEM;
	}
	ret = x86_acpi_build(cfg, X86_BOOT_ACPI_GPA, b, NULL, 0);
	for (i = 0; !ret && i < b->nr_tables; i++)
		ret = acpi_write_file(dirfd, &b->tables[i], b->data);
	free(b);
	close(dirfd);
	return ret;
}

int boot_tables_dump(const struct boot_config *cfg, const char *dir)
{
	return x86_acpi_dump(cfg, dir);
}
