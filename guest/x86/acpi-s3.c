// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI S3 on kestrel as an OS does it (docs/acpi-pm.md). The tables come
 * from the RSDP, as an OS finds them: the FADT is not hardware-reduced and
 * gives the PM1a event and control blocks, the PM timer and the FACS; the
 * DSDT's \_S3 gives SLP_TYP. Then twice, each time at another waking vector:
 * fill memory with a pattern, put the real-mode trampoline at the vector,
 * set an RTC alarm 2 s ahead with RTC_EN on, write SLP_TYP and then
 * SLP_TYP | SLP_EN. Back in long mode through the trampoline, check the
 * CS:IP it was started at (vector >> 4 : vector & 0xf), WAK_STS and RTC_STS,
 * the memory and the stack; with 2 vCPUs, that the AP was put back to wait
 * for INIT: a request posted to it runs only once INIT-SIPI restarts it.
 */
#include "guest.h"
#include "x86/acpi.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/processor.h"
#include "x86/smp.h"

#include <kestrel/hw.h>
#include <kestrel/x86/layout.h>

/* Waking vectors: a segment and an offset each, in pages nothing else uses. */
static const u32 vectors[] = { 0xe008, 0xd00c };

#define PATTERN_WORDS	(32 * 1024 / 8)

static u16 pm1_evt, pm1_cnt, pm_tmr;
static int slp_typ = -1;
static struct acpi_facs *facs;
static u64 pattern[PATTERN_WORDS];
static volatile u32 never, ap_ran;

static u64 mix(u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static void pattern_fill(u64 seed)
{
	for (unsigned int i = 0; i < PATTERN_WORDS; i++)
		pattern[i] = mix(seed + i);
}

static unsigned int pattern_bad(u64 seed)
{
	unsigned int bad = 0;

	for (unsigned int i = 0; i < PATTERN_WORDS; i++)
		bad += pattern[i] != mix(seed + i);
	return bad;
}

static u8 rtc_rd(u8 idx)
{
	outb(X86_RTC_PORT, idx);
	return inb(X86_RTC_PORT + 1);
}

static void rtc_wr(u8 idx, u8 v)
{
	outb(X86_RTC_PORT, idx);
	outb(X86_RTC_PORT + 1, v);
}

/* An alarm @s seconds ahead (BCD, 24-hour: kestrel's power-on mode). */
static void rtc_alarm_in(unsigned int s)
{
	unsigned int sec;

	while (rtc_rd(RTC_REG_A) & RTC_A_UIP)
		;
	sec = rtc_rd(RTC_REG_SECONDS);
	sec = ((sec >> 4) * 10 + (sec & 15) + s) % 60;
	rtc_wr(RTC_REG_SECONDS_ALARM, (u8)((sec / 10) << 4 | sec % 10));
	rtc_wr(RTC_REG_MINUTES_ALARM, 0xff);	/* don't care */
	rtc_wr(RTC_REG_HOURS_ALARM, 0xff);
	rtc_rd(RTC_REG_C);
	rtc_wr(RTC_REG_B, RTC_B_24H | RTC_B_AIE);
}

static void rtc_alarm_off(void)
{
	rtc_wr(RTC_REG_B, RTC_B_24H);
	rtc_rd(RTC_REG_C);
}

static bool find_tables(void)
{
	const struct acpi_header *fadt = acpi_find_table("FACP"), *dsdt;
	const u8 *f = (const u8 *)fadt;
	u32 flags;

	report_prefix_push("tables");
	if (!acpi_rsdp() || !fadt) {
		report(false, "RSDP and FADT found (RSDP %p)", acpi_rsdp());
		report_prefix_pop();
		return false;
	}
	flags = *(const u32 *)(f + FADT_FLAGS);
	pm1_evt = (u16)*(const u32 *)(f + FADT_PM1A_EVT_BLK);
	pm1_cnt = (u16)*(const u32 *)(f + FADT_PM1A_CNT_BLK);
	pm_tmr = (u16)*(const u32 *)(f + FADT_PM_TMR_BLK);
	report(!(flags & FADT_F_HW_REDUCED) && !*(const u32 *)(f + FADT_SMI_CMD),
	       "FADT: not hardware-reduced, no SMI_CMD (flags %#x)", flags);
	report(pm1_evt && pm1_cnt && pm_tmr && f[FADT_PM1_EVT_LEN] == 4 &&
	       f[FADT_PM1_CNT_LEN] == 2 && f[FADT_PM_TMR_LEN] == 4,
	       "FADT: PM1a_EVT %#x, PM1a_CNT %#x, PM_TMR %#x, lengths 4/2/4",
	       pm1_evt, pm1_cnt, pm_tmr);
	report_info("SCI_INT %u", *(const u16 *)(f + FADT_SCI_INT));
	facs = acpi_facs(fadt);
	report(facs && facs->length >= 64 && !((uintptr_t)facs & 63),
	       "FACS at %p, %u bytes, 64-byte aligned", facs, facs ? facs->length : 0);
	dsdt = acpi_dsdt(fadt);
	if (dsdt)
		slp_typ = acpi_sleep_type(dsdt, 3);
	report(slp_typ >= 0, "DSDT \\_S3: SLP_TYP %d", slp_typ);
	report_prefix_pop();
	return facs && slp_typ >= 0 && pm1_evt && pm1_cnt && pm_tmr;
}

static void test_fixed_hw(u32 tmr_ext)
{
	u32 t0, t1;

	report_prefix_push("PM1");
	report(inw(pm1_cnt) & ACPI_PM1_CNT_SCI_EN, "SCI_EN set: in ACPI mode from power-on");
	t0 = inl(pm_tmr);
	apic_wait_count(&never, 1, 10);		/* >= 10 ms of LAPIC timer */
	t1 = inl(pm_tmr);
	report(!tmr_ext && t0 <= 0xffffff && t1 <= 0xffffff,
	       "PM timer: 24 bits (TMR_VAL_EXT clear): %#x, %#x", t0, t1);
	report(((t1 - t0) & 0xffffff) >= ACPI_PM_TIMER_HZ / 100 * 95 / 100 &&
	       ((t1 - t0) & 0xffffff) < ACPI_PM_TIMER_HZ,
	       "PM timer: %u ticks in >= 10 ms of LAPIC timer (3.58 MHz gives 35795)",
	       (t1 - t0) & 0xffffff);
	report_prefix_pop();
}

/* The function posted to the AP while it should be waiting for INIT. */
static void ap_mark(void *arg)
{
	__atomic_add_fetch(&ap_ran, 1, __ATOMIC_RELEASE);
}

/*
 * Suspend. Return: true when it comes back from S3 (through the trampoline),
 * false if the sleep never happened.
 */
static bool suspend(u32 vector)
{
	acpi_wake_install(facs, vector);
	outw(pm1_evt + ACPI_PM1_STS, 0xffff);	/* clear every status, WAK_STS too */
	outw(pm1_evt + ACPI_PM1_EN, ACPI_PM1_RTC);	/* the alarm may wake us */
	rtc_alarm_in(2);
	if (acpi_wake_save())
		return true;
	acpi_enter_sleep(pm1_cnt, slp_typ);
	apic_wait_count(&never, 1, 5000);
	return false;
}

static void round_trip(unsigned int round, u32 vector, bool smp)
{
	volatile u64 canary = 0x5a5a0000c0ffee00ull + round;
	u64 seed = 0x1234567ull * round;
	u16 sts, cs, ip;

	report_prefix_push(round == 1 ? "S3 1" : "S3 2");
	pattern_fill(seed);
	ap_ran = 0;
	if (!suspend(vector)) {
		report(false, "asleep and back within 5 s (PM1_STS %#x)", inw(pm1_evt));
		report_prefix_pop();
		return;
	}
	/* A reset CPU: descriptor tables and the LAPIC are its own again. */
	cpu_load_descriptors(0);
	apic_setup();
	sts = inw(pm1_evt + ACPI_PM1_STS);
	acpi_wake_seen(vector, &cs, &ip);
	report(cs == vector >> 4 && ip == (vector & 0xf),
	       "woken in real mode at %04x:%04x (vector %#x)", cs, ip, vector);
	report((sts & ACPI_PM1_WAK) && (sts & ACPI_PM1_RTC),
	       "WAK_STS and RTC_STS set (PM1_STS %#x)", sts);
	report(inw(pm1_cnt) & ACPI_PM1_CNT_SCI_EN, "SCI_EN still set");
	report(!pattern_bad(seed) && canary == 0x5a5a0000c0ffee00ull + round,
	       "memory survived: %u of %u words differ, stack canary %s",
	       pattern_bad(seed), PATTERN_WORDS,
	       canary == 0x5a5a0000c0ffee00ull + round ? "intact" : "changed");
	rtc_alarm_off();
	outw(pm1_evt + ACPI_PM1_EN, 0);
	outw(pm1_evt + ACPI_PM1_STS, 0xffff);
	report(!(inw(pm1_evt + ACPI_PM1_STS) & (ACPI_PM1_WAK | ACPI_PM1_RTC)),
	       "WAK_STS and RTC_STS cleared by writing 1s");
	if (smp) {
		on_cpu_async(1, ap_mark, NULL);
		apic_wait_count(&ap_ran, 1, 100);
		report(!ap_ran, "the AP waits for INIT: a request posted to it does not run");
		smp_forget_aps();
		report(smp_boot_cpu(1), "INIT-SIPI starts the AP again");
		apic_wait_count(&ap_ran, 1, 1000);
		report(ap_ran == 1, "and then it runs the request (%u)", ap_ran);
	}
	report_prefix_pop();
}

int main(void)
{
	const struct acpi_header *fadt;
	bool smp;

	smp = smp_init() > 1;
	report_info("%u CPU(s)", cpu_count());
	if (!find_tables())
		return report_summary();
	fadt = acpi_find_table("FACP");
	test_fixed_hw(*(const u32 *)((const u8 *)fadt + FADT_FLAGS) & FADT_F_TMR_VAL_EXT);
	for (unsigned int i = 0; i < ARRAY_SIZE(vectors); i++)
		round_trip(i + 1, vectors[i], smp);
	return report_summary();
}
