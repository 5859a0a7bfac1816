// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI S5 (soft off) on kestrel: the FADT's PM1a control block and the
 * DSDT's \_S5, found from the RSDP as an OS finds them; then SLP_TYP and
 * SLP_TYP | SLP_EN. kestrel must end with exit status 0 (unittests.cfg's
 * "expect = 0"), and say so on its log (the host check). A failed check
 * ends the run through the debug-exit port instead (status 3), and so
 * does an S5 that did not stop the machine.
 */
#include "guest.h"
#include "x86/acpi.h"
#include "x86/apic.h"
#include "x86/processor.h"

#include <kestrel/hw.h>

static volatile u32 never;

int main(void)
{
	const struct acpi_header *fadt = acpi_find_table("FACP"), *dsdt = NULL;
	int s5 = -1, s3 = -1;
	u16 pm1_cnt = 0;

	if (fadt) {
		pm1_cnt = (u16)*(const u32 *)((const u8 *)fadt + FADT_PM1A_CNT_BLK);
		dsdt = acpi_dsdt(fadt);
	}
	if (dsdt) {
		s5 = acpi_sleep_type(dsdt, 5);
		s3 = acpi_sleep_type(dsdt, 3);
	}
	report(fadt && pm1_cnt, "FADT: PM1a_CNT_BLK %#x", pm1_cnt);
	report(s5 >= 0 && s5 != s3, "DSDT: \\_S5 SLP_TYP %d (\\_S3 %d)", s5, s3);
	if (!fadt || !pm1_cnt || s5 < 0 || s5 == s3)
		return report_summary();

	printf("entering S5: kestrel should exit with status 0\n");
	acpi_enter_sleep(pm1_cnt, s5);
	apic_wait_count(&never, 1, 2000);
	report(false, "the machine is still on 2 s after SLP_EN with \\_S5");
	return report_summary();
}
