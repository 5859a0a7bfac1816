// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI tables, AML and the MP table: checksums, the MADT lists every vCPU,
 * the DSDT every virtio-mmio device with its window and interrupt, the MP
 * table every processor; the FADT's PM blocks, timer, SCI and FACS are the
 * PM block's (docs/acpi-pm.md), the DSDT's \_S0/\_S3/\_S5 give its SLP_TYP
 * values; and ACPICA's disassembler (iasl -d, Debian acpica-tools) reads
 * every table kestrel dumps without an error and sees the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kestrel/boot.h>
#include <kestrel/hw.h>
#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

#include "../../../src/arch/x86/boot.h"
#include "../../../src/arch/x86/loader.h"
#include "../test.h"

static struct x86_acpi_blob blob;

static const struct x86_acpi_table *find(const char *sig)
{
	unsigned int i;

	for (i = 0; i < blob.nr_tables; i++)
		if (!strcmp(blob.tables[i].sig, sig))
			return &blob.tables[i];
	return NULL;
}

static u32 get32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, 4);
	return v;
}

static u16 get16(const u8 *p)
{
	u16 v;

	memcpy(&v, p, 2);
	return v;
}

static u64 get64(const u8 *p)
{
	u64 v;

	memcpy(&v, p, 8);
	return v;
}

/* occurrences of @needle (n bytes) in [p, p + len) */
static unsigned int count_bytes(const u8 *p, size_t len, const void *needle, size_t n)
{
	unsigned int c = 0;
	size_t i;

	for (i = 0; i + n <= len; i++)
		if (!memcmp(p + i, needle, n))
			c++;
	return c;
}

static void make_devs(struct boot_mmio_dev *d, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		d[i] = (struct boot_mmio_dev){ X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_SIZE,
					       X86_VIRTIO_MMIO_SIZE,
					       X86_VIRTIO_MMIO_IRQ0 + i % X86_VIRTIO_MMIO_NR_IRQS };
}

static void check_tables(unsigned int nr_cpus, unsigned int nr_devs)
{
	struct boot_mmio_dev devs[X86_VIRTIO_MMIO_MAX];
	struct boot_config cfg = { .nr_cpus = nr_cpus, .mmio_devs = devs, .nr_mmio_devs = nr_devs };
	const struct x86_acpi_table *rsdp, *xsdt, *fadt, *madt, *dsdt, *facs;
	unsigned int i, lapics = 0, ioapics = 0, isos = 0, scis = 0;
	const u8 *d = blob.data, *p, *end;
	char err[128] = "";
	bool sums = true;

	report_prefix_push("tables");
	make_devs(devs, nr_devs);
	if (!report_eq(x86_acpi_build(&cfg, X86_BOOT_ACPI_GPA, &blob, err, sizeof(err)), 0,
		       "%u vCPUs, %u devices: built (%s)", nr_cpus, nr_devs, err))
		goto out;
	rsdp = find("RSDP");
	xsdt = find("XSDT");
	fadt = find("FACP");
	madt = find("APIC");
	dsdt = find("DSDT");
	facs = find("FACS");
	if (check_nonnull(rsdp))
		check_eq(rsdp->offset, 0);
	if (check_nonnull(facs))
		check_eq(X86_BOOT_ACPI_GPA + facs->offset, X86_ACPI_FACS_GPA);
	check_nonnull(xsdt);
	check_nonnull(fadt);
	check_nonnull(madt);
	check_nonnull(dsdt);
	if (!report_checks("RSDP first, the FACS at %#llx, then XSDT, FACP, APIC, DSDT",
			   (unsigned long long)X86_ACPI_FACS_GPA))
		goto out;
	check_mem(d, "RSD PTR ", 8);
	check_eq(x86_acpi_checksum(d, 20), 0);
	check_eq(x86_acpi_checksum(d, 36), 0);
	check_eq(d[15], 2);
	report_checks("RSDP signature, both checksums, rev 2");
	report_eq(get64(d + 24), X86_BOOT_ACPI_GPA + xsdt->offset, "RSDP -> XSDT");
	for (i = 1; i < blob.nr_tables; i++) {
		const struct x86_acpi_table *t = &blob.tables[i];

		if (get32(d + t->offset + 4) != t->length ||
		    (t != facs && x86_acpi_checksum(d + t->offset, t->length) != 0))
			sums = false;
	}
	report(sums, "every table's length and checksum (the FACS has none)");
	p = d + facs->offset;
	check_mem(p, "FACS", 4);
	check_eq(get32(p + 4), 64);
	check_eq(facs->offset % 64, 0);
	check_eq(get32(p + ACPI_FACS_WAKING_VECTOR), 0);
	check_eq(get32(p + 16), 0);	/* global lock free */
	check_eq(get32(p + 20), 0);	/* no S4BIOS, no 64-bit wake */
	check_eq(get64(p + ACPI_FACS_X_WAKING_VECTOR), 0);
	check_eq(p[32], 2);
	report_checks("FACS: 64 bytes, 64-aligned, version 2, vectors 0, lock free, no 64-bit wake");
	check_eq(get32(d + xsdt->offset + 4), 36 + 16);
	check_eq(get64(d + xsdt->offset + 36), X86_BOOT_ACPI_GPA + fadt->offset);
	check_eq(get64(d + xsdt->offset + 44), X86_BOOT_ACPI_GPA + madt->offset);
	report_checks("XSDT -> FADT, MADT");
	p = d + fadt->offset;
	check_eq(get64(p + 140), X86_BOOT_ACPI_GPA + dsdt->offset);
	check_eq(get32(p + 36), X86_ACPI_FACS_GPA);	/* FIRMWARE_CTRL */
	check_eq(get64(p + 132), 0);			/* X_FIRMWARE_CTRL */
	check_false(get32(p + 112) & (1u << 20));	/* HW_REDUCED_ACPI */
	check_eq(p[8], 6);
	report_checks("FADT rev 6, not HW-reduced, X_DSDT -> DSDT, FIRMWARE_CTRL -> FACS");
	check_eq(get16(p + 46), X86_ACPI_SCI_IRQ);
	check_eq(get32(p + 48), 0);			/* SMI_CMD: no SMM */
	check_eq(get32(p + 56), X86_ACPI_PM_PORT + ACPI_PM1_STS);
	check_eq(get32(p + 60), 0);			/* no PM1b */
	check_eq(get32(p + 64), X86_ACPI_PM_PORT + ACPI_PM1_CNT);
	check_eq(get32(p + 76), X86_ACPI_PM_PORT + ACPI_PM_TMR);
	check_eq(get32(p + 80), 0);			/* no GPE0 */
	check_eq(p[88], 4);
	check_eq(p[89], 2);
	check_eq(p[91], 4);
	check_false(get32(p + 112) & (1u << 8));	/* TMR_VAL_EXT: 24 bits */
	check_false(get32(p + 112) & (1u << 4));	/* PWR_BUTTON: the fixed one */
	check_false(get32(p + 112) & (1u << 6));	/* FIX_RTC: RTC_STS in PM1 */
	check_eq(p[108], RTC_REG_CENTURY);
	check_false(get16(p + 109) & (1u << 5));	/* CMOS RTC present */
	report_checks("FADT: SCI 9, SMI_CMD 0, PM1a_EVT/CNT and PM_TMR at %#x/%#x/%#x, 24-bit timer, fixed power button, century %#x",
		      X86_ACPI_PM_PORT + ACPI_PM1_STS, X86_ACPI_PM_PORT + ACPI_PM1_CNT,
		      X86_ACPI_PM_PORT + ACPI_PM_TMR, RTC_REG_CENTURY);
	/* X_PM1a_EVT_BLK 148, X_PM1a_CNT_BLK 172, X_PM_TMR_BLK 208: the same ports */
	check_eq(p[148], 1);
	check_eq(p[149], 32);
	check_eq(get64(p + 152), X86_ACPI_PM_PORT + ACPI_PM1_STS);
	check_eq(p[172], 1);
	check_eq(p[173], 16);
	check_eq(get64(p + 176), X86_ACPI_PM_PORT + ACPI_PM1_CNT);
	check_eq(p[208], 1);
	check_eq(p[209], 32);
	check_eq(get64(p + 212), X86_ACPI_PM_PORT + ACPI_PM_TMR);
	report_checks("FADT: the X_ Generic Addresses name the same System I/O blocks");
	check_eq(d[fadt->offset + 116], 1);
	check_eq(get64(d + fadt->offset + 120), X86_I8042_CMD_PORT);
	check_eq(d[fadt->offset + 128], 0xfe);
	report_checks("reset register: 0xfe to port 0x64");

	p = d + madt->offset + 44;
	end = d + madt->offset + madt->length;
	report_eq(get32(d + madt->offset + 36), X86_LAPIC_GPA, "MADT LAPIC address");
	report_eq(get32(d + madt->offset + 40), 0, "MADT: no PCAT_COMPAT without a PIC");
	while (p + 2 <= end && p[1] >= 2) {
		if (p[0] == 0 && p[2] == lapics && p[3] == lapics && (get32(p + 4) & 1))
			lapics++;
		if (p[0] == 1 && p[2] == nr_cpus && get32(p + 4) == X86_IOAPIC_GPA &&
		    get32(p + 8) == 0)
			ioapics++;
		if (p[0] == 2 && p[3] == 0 && get32(p + 4) == 2)
			isos++;
		if (p[0] == 2 && p[2] == 0 && p[3] == X86_ACPI_SCI_IRQ &&
		    get32(p + 4) == X86_ACPI_SCI_IRQ && get16(p + 8) == 0x000d)
			scis++;
		p += p[1];
	}
	report_eq(p, end, "MADT entries walk to the end");
	report_eq(lapics, nr_cpus, "MADT: %u enabled Local APICs, UID = APIC ID = 0..n-1", lapics);
	check_eq(ioapics, 1);
	check_eq(isos, 1);
	check_eq(scis, 1);
	report_checks("MADT: IOAPIC at GSI 0, IRQ0 -> GSI2 override, SCI IRQ9 -> GSI9 level/high");
	{
		/* Name (_Sx_, Package (4) { typ, typ, 0, 0 }) */
		static const u8 s0[] = { 0x08, '_', 'S', '0', '_', 0x12, 0x06, 4, 0, 0, 0, 0 };
		static const u8 s3[] = { 0x08, '_', 'S', '3', '_', 0x12, 0x08, 4,
					 0x0a, ACPI_SLP_TYP_S3, 0x0a, ACPI_SLP_TYP_S3, 0, 0 };
		static const u8 s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 4,
					 0x0a, ACPI_SLP_TYP_S5, 0x0a, ACPI_SLP_TYP_S5, 0, 0 };

		check_eq(count_bytes(d + dsdt->offset, dsdt->length, s0, sizeof(s0)), 1);
		check_eq(count_bytes(d + dsdt->offset, dsdt->length, s3, sizeof(s3)), 1);
		check_eq(count_bytes(d + dsdt->offset, dsdt->length, s5, sizeof(s5)), 1);
		report_checks("DSDT: \\_S0 {0}, \\_S3 {%u}, \\_S5 {%u}, the PM block's SLP_TYP values",
			      ACPI_SLP_TYP_S3, ACPI_SLP_TYP_S5);
	}

	report_eq(count_bytes(d + dsdt->offset, dsdt->length, "LNRO0005", 9), nr_devs,
		  "DSDT: %u LNRO0005 devices", nr_devs);
	for (i = 0; i < nr_devs; i++) {
		u8 mem[12] = { 0x86, 9, 0, 1 }, irq[9] = { 0x89, 6, 0, 0x03, 1 };

		if (nr_devs > X86_VIRTIO_MMIO_NR_IRQS)	/* make_devs() wraps IRQs */
			irq[3] |= 0x08;	/* Shared */

		memcpy(mem + 4, &devs[i].base, 4);
		memcpy(mem + 8, &(u32){ devs[i].size }, 4);
		memcpy(irq + 5, &devs[i].irq, 4);
		if (!count_bytes(d + dsdt->offset, dsdt->length, mem, 12) ||
		    !count_bytes(d + dsdt->offset, dsdt->length, irq, 9))
			break;
	}
	report_eq(i, nr_devs, "DSDT: every device's Memory32Fixed and edge interrupt");
	{
		/* IO(0x60, 1), IO(0x64, 1), IRQNoFlags(1): what maps IRQ 1 for i8042 */
		static const u8 kbd[] = { 0x47, 1, 0x60, 0, 0x60, 0, 1, 1,
					  0x47, 1, 0x64, 0, 0x64, 0, 1, 1, 0x22, 0x02, 0x00 };
		u32 hid = aml_eisaid("PNP0303");

		check_eq(count_bytes(d + dsdt->offset, dsdt->length, &hid, 4), 1);
		check_eq(count_bytes(d + dsdt->offset, dsdt->length, kbd, sizeof(kbd)), 1);
		report_checks("DSDT: the keyboard (PNP0303) on ports 0x60/0x64, IRQ 1");
	}
out:
	report_prefix_pop();
}

/* With the in-kernel irqchip there is a PIC, and the MADT says so. */
static void check_pcat(void)
{
	struct boot_config cfg = { .nr_cpus = 1, .legacy_pic = true };
	const struct x86_acpi_table *madt;

	if (report_eq(x86_acpi_build(&cfg, X86_BOOT_ACPI_GPA, &blob, NULL, 0), 0,
		      "tables with a PIC") && report_nonnull(madt = find("APIC"), "MADT"))
		report_eq(get32(blob.data + madt->offset + 40), 1, "MADT: PCAT_COMPAT with a PIC");
}

static void check_aml(void)
{
	u8 buf[8192];
	struct aml a;
	unsigned int i;

	report_prefix_push("AML");
	report_eq(aml_eisaid("PNP0501"), 0x0105d041, "EISAID(PNP0501)");
	aml_init(&a, buf, sizeof(buf));
	aml_pkg_begin(&a);
	for (i = 0; i < 62; i++)
		aml_byte(&a, 0xaa);
	aml_pkg_end(&a);
	check_eq(a.len, 63);
	check_eq(buf[0], 63);
	report_checks("PkgLength 1 byte up to 63");
	aml_init(&a, buf, sizeof(buf));
	aml_pkg_begin(&a);
	for (i = 0; i < 63; i++)
		aml_byte(&a, 0xaa);
	aml_pkg_end(&a);
	check_eq(a.len, 65);
	check_eq(buf[0], (0x40 | (65 & 0xf)));
	check_eq(buf[1], 65 >> 4);
	report_checks("PkgLength 2 bytes from 64");
	aml_init(&a, buf, sizeof(buf));
	aml_pkg_begin(&a);
	for (i = 0; i < 5000; i++)
		aml_byte(&a, 0xaa);
	aml_pkg_end(&a);
	check_eq(a.len, 5003);
	check_eq((buf[0] >> 6), 2);
	check_eq(((buf[0] & 0xf) | buf[1] << 4 | buf[2] << 12), 5003);
	report_checks("PkgLength 3 bytes");
	aml_init(&a, buf, 16);
	for (i = 0; i < 20; i++)
		aml_byte(&a, 1);
	check_err(aml_finish(&a), -ENOSPC);
	check_le(a.len, 16);
	report_checks("overflow reported, not written");
	report_prefix_pop();
}

static void check_mptable(unsigned int nr_cpus)
{
	static u8 buf[0x10000];
	unsigned int cpus = 0, i, n;
	size_t len;
	u8 *t, *p;

	report_prefix_push("MP table");
	if (!report_eq(x86_mptable_build(nr_cpus, X86_BOOT_MPTABLE_GPA, buf, sizeof(buf), &len), 0,
		       "%u vCPUs: built", nr_cpus))
		goto out;
	check_mem(buf, "_MP_", 4);
	check_eq(x86_acpi_checksum(buf, 16), 0);
	check_eq(get32(buf + 4), X86_BOOT_MPTABLE_GPA + 16);
	check_eq(buf[9], 4);
	report_checks("floating pointer, checksum, spec 1.4");
	t = buf + 16;
	n = t[34] | t[35] << 8;
	check_mem(t, "PCMP", 4);
	check_eq(x86_acpi_checksum(t, t[4] | t[5] << 8), 0);
	report_checks("configuration table checksum");
	p = t + 44;
	for (i = 0; i < n; i++) {
		if (p[0] == 0) {
			if (p[1] == cpus && (p[3] & 1) && !!(p[3] & 2) == (cpus == 0))
				cpus++;
			p += 20;
		} else {
			p += 8;
		}
	}
	report_eq(cpus, nr_cpus, "%u processors, vCPU 0 the BSP", cpus);
	report_eq((size_t)(p - buf), len, "entry count matches the length");
	report_err(x86_mptable_build(255, 0, buf, sizeof(buf), &len), -EINVAL, "255 vCPUs refused");
out:
	report_prefix_pop();
}

/* Whether iasl's disassembly @dir/@sig.dsl has a line holding @text. */
static bool dsl_has(const char *dir, const char *sig, const char *text)
{
	char path[512], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.dsl", dir, sig);
	f = fopen(path, "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, text);
	if (f)
		fclose(f);
	return found;
}

static void check_iasl(unsigned int nr_cpus, unsigned int nr_devs)
{
	struct boot_mmio_dev devs[X86_VIRTIO_MMIO_MAX];
	struct boot_config cfg = { .nr_cpus = nr_cpus, .mmio_devs = devs, .nr_mmio_devs = nr_devs };
	/*
	 * Not RSDP.dat: iasl (20200925 in Debian 12) rejects any file whose
	 * first bytes are not an SDT header, and the RSDP has none; its
	 * checksums are checked above.
	 */
	static const char *const sigs[] = { "XSDT", "FACP", "FACS", "APIC", "DSDT" };
	char dir[] = "/tmp/kestrel-acpi.XXXXXX", cmd[1024], line[512];
	unsigned int i, lnro = 0, lapic = 0, bases = 0, kbd = 0;
	FILE *f;

	report_prefix_push("iasl");
	if (system("command -v iasl >/dev/null 2>&1")) {
		report_skip("iasl not installed (Debian: acpica-tools)");
		goto out;
	}
	make_devs(devs, nr_devs);
	if (!mkdtemp(dir) || x86_acpi_dump(&cfg, dir)) {
		report(false, "x86_acpi_dump to %s", dir);
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		int ret;

		snprintf(cmd, sizeof(cmd),
			 "cd %s && iasl -d %s.dat > %s.log 2>&1 && ! grep -qiE '(^|[^a-z])(error|warning)' %s.log",
			 dir, sigs[i], sigs[i], sigs[i]);
		ret = system(cmd);
		report_eq(ret, 0, "%u vCPUs, %u devices: iasl -d %s.dat is clean", nr_cpus,
			  nr_devs, sigs[i]);
		if (ret) {
			snprintf(cmd, sizeof(cmd), "cat %s/%s.log", dir, sigs[i]);
			if (system(cmd))
				report_info("no log");
		}
	}
	snprintf(cmd, sizeof(cmd), "%s/APIC.dsl", dir);
	f = fopen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "Subtable Type : 00 [Processor Local APIC]"))
			lapic++;
	if (f)
		fclose(f);
	report_eq(lapic, nr_cpus, "iasl sees %u Local APICs", lapic);
	snprintf(cmd, sizeof(cmd), "%s/DSDT.dsl", dir);
	f = fopen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strstr(line, "\"LNRO0005\""))
			lnro++;
		if (strstr(line, "EisaId (\"PNP0303\")"))
			kbd++;
		for (i = 0; i < nr_devs; i++) {
			char want[32];

			snprintf(want, sizeof(want), "0x%08llX", (unsigned long long)devs[i].base);
			if (strstr(line, want))
				bases++;
		}
	}
	if (f)
		fclose(f);
	check_eq(lnro, nr_devs);
	check_eq(bases, nr_devs);
	report_checks("iasl sees %u LNRO0005 devices, %u bases", lnro, bases);
	check_true(dsl_has(dir, "FACP", "PM1A Event Block Address : 00000600"));
	check_true(dsl_has(dir, "FACP", "PM1A Control Block Address : 00000604"));
	check_true(dsl_has(dir, "FACP", "PM Timer Block Address : 00000608"));
	check_true(dsl_has(dir, "FACP", "SCI Interrupt : 0009"));
	check_true(dsl_has(dir, "FACP", "SMI Command Port : 00000000"));
	check_true(dsl_has(dir, "FACP", "FACS Address : 000E0040"));
	check_true(dsl_has(dir, "FACP", "Hardware Reduced (V5) : 0"));
	check_true(dsl_has(dir, "FACP", "32-bit PM Timer (V1) : 0"));
	check_true(dsl_has(dir, "FACP", "Control Method Power Button (V1) : 0"));
	check_true(dsl_has(dir, "FACS", "32 Firmware Waking Vector : 00000000"));
	check_true(dsl_has(dir, "DSDT", "Name (_S3, Package (0x04)"));
	check_true(dsl_has(dir, "DSDT", "Name (_S5, Package (0x04)"));
	check_true(dsl_has(dir, "APIC", "Source : 09"));
	check_true(dsl_has(dir, "APIC", "Flags (decoded below) : 000D"));
	report_checks("iasl sees the PM blocks at 0x600/0x604/0x608, SCI 9 (level, high), no SMM, the FACS, \\_S3, \\_S5");
	report_eq(kbd, 1, "iasl sees the keyboard (PNP0303)");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		report_info("could not remove %s", dir);
out:
	report_prefix_pop();
}

/* The PCI host bridge's tables: MCFG, the PNP0A08 root bridge, through iasl. */
static void check_pci_iasl(void)
{
	static const struct boot_pci pci = {
		.ecam_base = X86_PCI_ECAM_GPA, .io_base = X86_PCI_IO_BASE,
		.io_size = X86_PCI_IO_SIZE, .mmio32_base = X86_PCI_MMIO32_BASE,
		.mmio32_size = X86_PCI_MMIO32_SIZE, .mmio64_base = 0x140000000ULL,
		.mmio64_size = X86_PCI_MMIO64_SIZE, .intx_gsi0 = X86_PCI_INTX_GSI0,
		.nr_intx = X86_PCI_NR_INTX,
	};
	struct boot_config cfg = { .nr_cpus = 2, .pci = &pci };
	static const char *const sigs[] = { "XSDT", "FACP", "APIC", "DSDT", "MCFG" };
	char dir[] = "/tmp/kestrel-acpi.XXXXXX", cmd[1024];
	const struct x86_acpi_table *mcfg, *xsdt;
	int ret;

	report_prefix_push("pci");
	ret = x86_acpi_build(&cfg, X86_BOOT_ACPI_GPA, &blob, NULL, 0);
	report_eq(ret, 0, "tables with PCI build");
	mcfg = find("MCFG");
	xsdt = find("XSDT");
	if (!mcfg || !xsdt) {
		report(false, "MCFG and XSDT present");
		goto out;
	}
	report_eq(get32(blob.data + xsdt->offset + 4), 36 + 24, "XSDT lists FADT, MADT, MCFG");
	report_eq(get64(blob.data + xsdt->offset + 52), X86_BOOT_ACPI_GPA + mcfg->offset,
		  "XSDT -> MCFG");
	report_eq(get64(blob.data + mcfg->offset + 44), X86_PCI_ECAM_GPA, "MCFG base");
	report_eq(blob.data[mcfg->offset + 54] | blob.data[mcfg->offset + 55] << 8, 0,
		  "MCFG bus range 0..0");
	if (system("command -v iasl >/dev/null 2>&1")) {
		report_skip("iasl not installed (Debian: acpica-tools)");
		goto out;
	}
	if (!mkdtemp(dir) || x86_acpi_dump(&cfg, dir)) {
		report(false, "x86_acpi_dump to %s", dir);
		goto out;
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(sigs); i++) {
		snprintf(cmd, sizeof(cmd),
			 "cd %s && iasl -d %s.dat > %s.log 2>&1 && ! grep -qiE '(^|[^a-z])(error|warning)' %s.log",
			 dir, sigs[i], sigs[i], sigs[i]);
		ret = system(cmd);
		report_eq(ret, 0, "iasl -d %s.dat is clean", sigs[i]);
		if (ret) {
			snprintf(cmd, sizeof(cmd), "cat %s/%s.log", dir, sigs[i]);
			if (system(cmd))
				report_info("no log");
		}
	}
	snprintf(cmd, sizeof(cmd), "cd %s && iasl DSDT.dsl > recompile.log 2>&1", dir);
	report_eq(system(cmd), 0, "the disassembled DSDT recompiles");
	check_true(dsl_has(dir, "DSDT", "Name (_HID, EisaId (\"PNP0A08\")"));
	check_true(dsl_has(dir, "DSDT", "Name (_CID, EisaId (\"PNP0A03\")"));
	check_true(dsl_has(dir, "DSDT", "0xC000,             // Range Minimum"));
	check_true(dsl_has(dir, "DSDT", "0xC0000000,         // Range Minimum"));
	check_true(dsl_has(dir, "DSDT", "0x0000000140000000, // Range Minimum"));
	check_true(dsl_has(dir, "DSDT", "Name (_PRT, Package (0x7C)"));
	check_true(dsl_has(dir, "MCFG", "Base Address : 00000000E0000000"));
	check_true(!dsl_has(dir, "FACP", "No MSI (V4) : 1"));
	report_checks("iasl sees PNP0A08/PNP0A03, the I/O, 32- and 64-bit windows, 124 _PRT entries, the MCFG base, MSI allowed");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		report_info("could not remove %s", dir);
out:
	report_prefix_pop();
}

int main(void)
{
	check_tables(1, 0);
	check_tables(4, 3);
	check_tables(VM_MAX_VCPUS, X86_VIRTIO_MMIO_MAX);
	check_pcat();
	check_aml();
	check_mptable(1);
	check_mptable(VM_MAX_VCPUS);
	check_iasl(2, 3);
	check_iasl(64, X86_VIRTIO_MMIO_MAX);
	check_pci_iasl();
	return report_summary();
}
