// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ACPI PM block through its ports, on the fake VM: power-on values;
 * the PM timer's rate, width and byte lanes; TMR_STS and its SCI at the
 * timer's bit-23 change; the power button; the RTC's alarm setting RTC_STS
 * (through the real RTC); SCI_EN that stays set; SLP_TYP values that are
 * no sleep state; S5 stopping the VM as a power-off; and S3 with the vCPU
 * threads running: asleep until the RTC alarm (or the power button) wakes
 * the machine with WAK_STS set, twice, and what a bad or missing waking
 * vector does.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kestrel/hw.h>
#include <kestrel/log.h>
#include <kestrel/snapshot.h>
#include <kestrel/vcpu.h>

#include "../test.h"
#include "../fake_vm.h"

#define PM_PORT		0x600
#define SCI		9
#define RTC_PORT	0x70
#define RTC_IRQ		8
#define FACS_GPA	0xe0040
#define WAKE_VECTOR	0x9a10	/* CS:IP 09a1:0000 */

#define PM1_STS		(PM_PORT + ACPI_PM1_STS)
#define PM1_EN		(PM_PORT + ACPI_PM1_EN)
#define PM1_CNT		(PM_PORT + ACPI_PM1_CNT)
#define PM_TMR		(PM_PORT + ACPI_PM_TMR)
#define SLP(typ)	((u32)(typ) << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SLP_EN)

/* A machine: the fake VM with vCPU 0, the PM block and the RTC wired to it. */
struct bench {
	struct vm *vm;
	struct acpi_pm *pm;
	struct rtc *rtc;
	pthread_t runner;
	bool running;
	enum vm_stop_reason reason;
};

static u32 rd(struct vm *vm, u16 port, unsigned int len)
{
	u32 v = 0;

	fake_vm_pio_read(vm, port, &v, len);
	return v;
}

static void wr(struct vm *vm, u16 port, u32 v, unsigned int len)
{
	fake_vm_pio_write(vm, port, v, len);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* Poll @cond for up to @ms. */
#define wait_for(cond, ms) ({						\
	u64 __end = now_ns() + (u64)(ms) * 1000000ULL;			\
	bool __ok;							\
	while (!(__ok = (cond)) && now_ns() < __end)			\
		usleep(1000);						\
	__ok;								\
})

static int bench_create(struct bench *b)
{
	int ret;

	memset(b, 0, sizeof(*b));
	ret = fake_vm_create(FAKE_VM_MIN_RAM, &b->vm);
	if (!ret)
		ret = acpi_pm_create(b->vm, PM_PORT, SCI, FACS_GPA, &b->pm);
	if (!ret)
		ret = rtc_create(b->vm, RTC_PORT, RTC_IRQ, &b->rtc);
	if (!ret)
		rtc_connect_alarm(b->rtc, acpi_pm_rtc_input(b->pm));
	return ret;
}

static void *bench_run(void *arg)
{
	struct bench *b = arg;

	b->reason = vm_run(b->vm);
	return NULL;
}

/* vCPU threads running, as when a guest writes SLP_EN. */
static void bench_start(struct bench *b)
{
	b->running = !pthread_create(&b->runner, NULL, bench_run, b);
}

static void bench_destroy(struct bench *b)
{
	if (b->running) {
		vm_request_stop(b->vm, VM_STOP_USER, 0);
		pthread_join(b->runner, NULL);
	}
	rtc_destroy(b->rtc);
	acpi_pm_destroy(b->pm);
	fake_vm_destroy(b->vm);
}

static void rtc_wr(struct vm *vm, u8 idx, u8 v)
{
	fake_outb(vm, RTC_PORT, idx);
	fake_outb(vm, RTC_PORT + 1, v);
}

static u8 rtc_rd(struct vm *vm, u8 idx)
{
	fake_outb(vm, RTC_PORT, idx);
	return fake_inb(vm, RTC_PORT + 1);
}

/* An alarm every second (every field "don't care"), its interrupt on. */
static void rtc_alarm_every_second(struct vm *vm, bool on)
{
	rtc_wr(vm, RTC_REG_SECONDS_ALARM, 0xff);
	rtc_wr(vm, RTC_REG_MINUTES_ALARM, 0xff);
	rtc_wr(vm, RTC_REG_HOURS_ALARM, 0xff);
	rtc_wr(vm, RTC_REG_B, RTC_B_24H | (on ? RTC_B_AIE : 0));
	rtc_rd(vm, RTC_REG_C);
}

static void test_power_on(struct vm *vm)
{
	report_prefix_push("power-on");
	check_eq(rd(vm, PM1_STS, 2), 0);
	check_eq(rd(vm, PM1_EN, 2), 0);
	check_eq(rd(vm, PM1_CNT, 2), ACPI_PM1_CNT_SCI_EN);
	check_eq(rd(vm, PM_PORT + 6, 2), 0);
	check_false(fake_vm_irq_level(vm, SCI));
	report_checks("PM1_STS 0, PM1_EN 0, PM1_CNT SCI_EN, reserved 0, SCI low");
	wr(vm, PM1_EN, 0xffff, 2);
	report_eq(rd(vm, PM1_EN, 2), ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN |
		  ACPI_PM1_SLPBTN | ACPI_PM1_RTC, "PM1_EN keeps only TMR, GBL, PWRBTN, SLPBTN, RTC");
	wr(vm, PM1_EN, 0, 2);
	wr(vm, PM1_CNT, 0, 2);
	report_eq(rd(vm, PM1_CNT, 2), ACPI_PM1_CNT_SCI_EN, "SCI_EN cannot be cleared (no SMM)");
	report_eq(fake_vm_stops(vm), 0, "no stop");
	report_prefix_pop();
}

static void test_timer(struct vm *vm)
{
	u32 t1, t2, b0, b1, b2, b3, d;
	u64 n1, n2;
	double hz;
	bool in_range = true;

	report_prefix_push("PM timer");
	n1 = now_ns();
	t1 = rd(vm, PM_TMR, 4);
	usleep(200 * 1000);
	t2 = rd(vm, PM_TMR, 4);
	n2 = now_ns();
	hz = (double)((t2 - t1) & 0xffffff) * 1e9 / (double)(n2 - n1);
	report(hz > ACPI_PM_TIMER_HZ * 0.99 && hz < ACPI_PM_TIMER_HZ * 1.01,
	       "counts at %.0f Hz (want %u)", hz, ACPI_PM_TIMER_HZ);
	for (int i = 0; i < 1000; i++)
		in_range &= rd(vm, PM_TMR, 4) <= 0xffffff;
	report(in_range, "24 bits: bits 24-31 read 0");
	t1 = rd(vm, PM_TMR, 4);
	b0 = rd(vm, PM_TMR, 1);
	b1 = rd(vm, PM_TMR + 1, 1);
	b2 = rd(vm, PM_TMR + 2, 1);
	b3 = rd(vm, PM_TMR + 3, 1);
	t2 = rd(vm, PM_TMR, 4);
	d = ((b2 << 16 | b1 << 8) - (t1 & 0xffff00)) & 0xffffff;
	report(b3 == 0 && d < 0x10000 && b0 < 0x100,
	       "byte reads are lanes of the same counter (%#x: %02x %02x %02x %02x, then %#x)",
	       t1, b3, b2, b1, b0, t2);
	wr(vm, PM_TMR, 0, 4);
	report(((rd(vm, PM_TMR, 4) - t2) & 0xffffff) < ACPI_PM_TIMER_HZ && t2 > 0x1000,
	       "writes do not reset it");
	report_prefix_pop();
}

/* TMR_STS comes up when bit 23 changes; with TMR_EN that is an SCI. */
static void test_timer_status(struct vm *vm)
{
	u32 t, left;
	u64 start, want_ns;
	bool sci;

	report_prefix_push("TMR_STS");
	wr(vm, PM1_STS, ACPI_PM1_TMR, 2);
	t = rd(vm, PM_TMR, 4);
	left = (1u << 23) - (t & ((1u << 23) - 1));
	start = now_ns();
	want_ns = (u64)left * 1000000000ULL / ACPI_PM_TIMER_HZ;
	if (want_ns > 50000000ULL)
		report_false(rd(vm, PM1_STS, 2) & ACPI_PM1_TMR,
			     "clear before the bit-23 change (%.2f s ahead)", want_ns / 1e9);
	wr(vm, PM1_EN, ACPI_PM1_TMR, 2);
	sci = wait_for(fake_vm_irq_level(vm, SCI), want_ns / 1000000 + 500);
	check_true(sci);
	check_true(rd(vm, PM1_STS, 2) & ACPI_PM1_TMR);
	check_ge(now_ns() - start + 20000000ULL, want_ns);
	report_checks("TMR_EN: the SCI at the change, %.3f s after, %.3f s predicted",
		      (now_ns() - start) / 1e9, want_ns / 1e9);
	wr(vm, PM1_STS, ACPI_PM1_TMR, 2);
	check_false(rd(vm, PM1_STS, 2) & ACPI_PM1_TMR);
	check_false(fake_vm_irq_level(vm, SCI));
	report_checks("writing 1 clears it and lowers the SCI");
	wr(vm, PM1_EN, 0, 2);
	report_prefix_pop();
}

static void test_events(struct bench *b)
{
	struct vm *vm = b->vm;
	bool got;

	report_prefix_push("events");
	acpi_pm_power_button(b->pm);
	check_eq(rd(vm, PM1_STS, 2) & ACPI_PM1_PWRBTN, ACPI_PM1_PWRBTN);
	check_false(fake_vm_irq_level(vm, SCI));
	report_checks("power button: PWRBTN_STS, no SCI while PWRBTN_EN is clear");
	wr(vm, PM1_EN + 1, ACPI_PM1_PWRBTN >> 8, 1);	/* the high byte alone */
	report_true(fake_vm_irq_level(vm, SCI), "PWRBTN_EN (a byte write): the SCI");
	wr(vm, PM1_STS, ACPI_PM1_PWRBTN | ACPI_PM1_WAK, 2);
	check_eq(rd(vm, PM1_STS, 2), 0);
	check_false(fake_vm_irq_level(vm, SCI));
	report_checks("cleared by writing 1: SCI low");
	wr(vm, PM1_EN, 0, 2);

	/* The RTC's update interrupt is not an alarm: no RTC_STS. */
	rtc_wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
	got = wait_for(fake_vm_irq_level(vm, RTC_IRQ), 1500);
	check_true(got);
	check_false(rd(vm, PM1_STS, 2) & ACPI_PM1_RTC);
	report_checks("an RTC update interrupt leaves RTC_STS clear");
	wr(vm, PM1_EN, ACPI_PM1_RTC, 2);
	rtc_alarm_every_second(vm, true);
	got = wait_for(rd(vm, PM1_STS, 2) & ACPI_PM1_RTC, 1500);
	check_true(got);
	check_true(fake_vm_irq_level(vm, SCI));
	report_checks("the RTC alarm (AIE) sets RTC_STS; RTC_EN makes it an SCI");
	rtc_alarm_every_second(vm, false);
	wr(vm, PM1_STS, ACPI_PM1_RTC, 2);
	wr(vm, PM1_EN, 0, 2);
	report_false(fake_vm_irq_level(vm, SCI), "RTC_STS cleared: SCI low");
	report_prefix_pop();
}

static void test_no_sleep_states(struct vm *vm)
{
	report_prefix_push("PM1_CNT");
	wr(vm, PM1_CNT, (u32)ACPI_SLP_TYP_S3 << ACPI_PM1_CNT_SLP_TYP_SHIFT, 2);
	check_eq(rd(vm, PM1_CNT, 2), ACPI_PM1_CNT_SCI_EN | ACPI_SLP_TYP_S3 << 10);
	check_false(vm_is_asleep(vm));
	report_checks("SLP_TYP alone reads back and does nothing");
	for (unsigned int typ = 0; typ < 8; typ++) {
		if (typ == ACPI_SLP_TYP_S3 || typ == ACPI_SLP_TYP_S5)
			continue;
		wr(vm, PM1_CNT, SLP(typ), 2);
		check_eq(rd(vm, PM1_STS, 2) & ACPI_PM1_WAK, ACPI_PM1_WAK);
		check_eq(rd(vm, PM1_CNT, 2) & ACPI_PM1_CNT_SLP_EN, 0);
		wr(vm, PM1_STS, ACPI_PM1_WAK, 2);
	}
	check_eq(fake_vm_stops(vm), 0);
	report_checks("SLP_EN with SLP_TYP 0-4, 6: no sleep, WAK_STS at once, SLP_EN reads 0");
	report_prefix_pop();
}

static void test_s5(void)
{
	struct bench b;

	report_prefix_push("S5");
	if (!report_eq(bench_create(&b), 0, "VM, PM block, RTC"))
		goto out;
	/* The high byte alone holds SLP_TYP and SLP_EN. */
	wr(b.vm, PM1_CNT + 1, SLP(ACPI_SLP_TYP_S5) >> 8, 1);
	check_eq(fake_vm_stops(b.vm), 1);
	check_eq(vm_stop_reason(b.vm), VM_STOP_POWEROFF);
	check_eq(vm_exit_status(b.vm), VM_EXIT_OK);
	report_checks("SLP_TYP 7 + SLP_EN: power-off, exit status 0");
out:
	bench_destroy(&b);
	report_prefix_pop();
}

static void set_facs(struct vm *vm, u32 vector, u64 xvector)
{
	u8 *facs = (u8 *)fake_vm_ram(vm) + FACS_GPA;

	memset(facs, 0, ACPI_FACS_LEN);
	memcpy(facs, "FACS", 4);
	facs[4] = ACPI_FACS_LEN;
	memcpy(facs + ACPI_FACS_WAKING_VECTOR, &vector, 4);
	memcpy(facs + ACPI_FACS_X_WAKING_VECTOR, &xvector, 8);
}

/* Write S3 | SLP_EN and wait until the vCPUs are asleep. */
static bool enter_s3(struct vm *vm)
{
	wr(vm, PM1_STS, 0xffff, 2);
	wr(vm, PM1_CNT, SLP(ACPI_SLP_TYP_S3), 2);
	return wait_for(vm_is_asleep(vm), 2000);
}

static void test_s3(void)
{
	struct bench b;
	bool asleep;

	report_prefix_push("S3");
	if (!report_eq(bench_create(&b), 0, "VM, PM block, RTC"))
		goto out;
	set_facs(b.vm, WAKE_VECTOR, 0);
	bench_start(&b);
	report_true(b.running, "vCPU threads running");
	for (int round = 1; round <= 2; round++) {
		asleep = enter_s3(b.vm);
		check_true(asleep);
		check_false(rd(b.vm, PM1_STS, 2) & ACPI_PM1_WAK);
		report_checks("round %d: SLP_TYP 5 + SLP_EN puts the vCPUs to sleep", round);
		if (!asleep)
			break;
		/* The RTC wakes it only with RTC_EN (§4.8.3.1.1). */
		rtc_alarm_every_second(b.vm, true);
		wait_for(rd(b.vm, PM1_STS, 2) & ACPI_PM1_RTC, 1500);
		usleep(50 * 1000);
		check_true(rd(b.vm, PM1_STS, 2) & ACPI_PM1_RTC);
		check_true(vm_is_asleep(b.vm));
		report_checks("round %d: an RTC alarm without RTC_EN does not wake it", round);
		wr(b.vm, PM1_EN, ACPI_PM1_RTC, 2);
		check_true(wait_for(!vm_is_asleep(b.vm), 2000));
		check_true(rd(b.vm, PM1_STS, 2) & ACPI_PM1_WAK);
		check_true(rd(b.vm, PM1_STS, 2) & ACPI_PM1_RTC);
		check_eq(fake_vm_stops(b.vm), 0);
		report_checks("round %d: RTC_EN + the alarm wake it: WAK_STS and RTC_STS set, still running",
			      round);
		rtc_alarm_every_second(b.vm, false);
		wr(b.vm, PM1_EN, 0, 2);
	}

	if (report_true(enter_s3(b.vm), "round 3: asleep")) {
		acpi_pm_power_button(b.pm);
		check_true(wait_for(!vm_is_asleep(b.vm), 2000));
		check_true(rd(b.vm, PM1_STS, 2) & ACPI_PM1_PWRBTN);
		check_true(rd(b.vm, PM1_STS, 2) & ACPI_PM1_WAK);
		report_checks("the power button wakes it, PWRBTN_EN clear or not");
	}
	wr(b.vm, PM1_STS, 0xffff, 2);
	wr(b.vm, PM1_EN, ACPI_PM1_PWRBTN, 2);
	acpi_pm_power_button(b.pm);
	wr(b.vm, PM1_CNT, SLP(ACPI_SLP_TYP_S3), 2);
	check_true(wait_for(rd(b.vm, PM1_STS, 2) & ACPI_PM1_WAK, 2000));
	check_false(vm_is_asleep(b.vm));
	report_checks("a wake event pending when the vCPUs stop wakes them at once");
	report_eq(fake_vm_stops(b.vm), 0, "the VM never stopped");
out:
	bench_destroy(&b);
	report_prefix_pop();
}

/* The last message logged (the sink runs on the PM block's thread). */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_log[256];

static void log_capture(enum log_level level, const char *file, int line, const char *msg)
{
	pthread_mutex_lock(&log_lock);
	snprintf(last_log, sizeof(last_log), "%s", msg);
	pthread_mutex_unlock(&log_lock);
}

static bool logged(const char *what)
{
	bool found;

	pthread_mutex_lock(&log_lock);
	found = strstr(last_log, what);
	pthread_mutex_unlock(&log_lock);
	return found;
}

/* What a wake does with a FACS that gives no usable 16-bit vector. */
static void test_s3_vectors(void)
{
	static const struct {
		u32 vector;
		u64 xvector;
		enum vm_stop_reason want;
		const char *line;
		const char *what;
	} cases[] = {
		{ 0, 0, VM_STOP_RESET, "no waking vector: reset",
		  "no waking vector: a reset (a fresh boot)" },
		{ 0x100000, 0, VM_STOP_ERROR, "waking vector 0x100000 is not a real-mode address",
		  "a vector at 1 MiB is no real-mode address: guest error" },
		{ WAKE_VECTOR, 0x100000, VM_STOP_ERROR, "X_Firmware_Waking_Vector (0x100000)",
		  "X_Firmware_Waking_Vector set: guest error" },
	};

	report_prefix_push("S3 wake");
	log_level_set(LOG_INFO);
	log_set_sink(log_capture);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bench b;

		if (bench_create(&b)) {
			report(false, "bench");
			bench_destroy(&b);
			break;
		}
		set_facs(b.vm, cases[i].vector, cases[i].xvector);
		bench_start(&b);
		if (enter_s3(b.vm)) {
			acpi_pm_power_button(b.pm);
			wait_for(vm_stop_reason(b.vm) != VM_STOP_NONE, 2000);
		}
		check_eq(vm_stop_reason(b.vm), cases[i].want);
		check_true(logged(cases[i].line));
		report_checks("%s, logged", cases[i].what);
		bench_destroy(&b);
	}
	log_set_sink(NULL);
	log_level_set(LOG_ERR);
	report_prefix_pop();
}

static int pm_save(void *pm, struct snap_writer *w)
{
	return acpi_pm_snapshot_save(pm, w);
}

/*
 * A snapshot restored into a new PM block: enables, status (and so the
 * SCI), SLP_TYP and the timer, which counts on from its saved value.
 */
static void test_snapshot(struct bench *b)
{
	struct snap_reader *r;
	u32 t1, t2, delta;
	char dir[64];
	u16 cnt;

	report_prefix_push("snapshot");
	wr(b->vm, PM1_EN, ACPI_PM1_PWRBTN | ACPI_PM1_RTC, 2);
	acpi_pm_power_button(b->pm);
	wr(b->vm, PM1_CNT, (u32)ACPI_SLP_TYP_S3 << ACPI_PM1_CNT_SLP_TYP_SHIFT, 2);
	usleep(200 * 1000);	/* 700 000 ticks: a new block reads far less */
	t1 = rd(b->vm, PM_TMR, 4);
	r = fake_vm_snapshot(b->vm, pm_save, b->pm, dir);
	if (!report(r, "written and read back")) {
		report_prefix_pop();
		return;
	}
	rtc_connect_alarm(b->rtc, NULL);
	acpi_pm_destroy(b->pm);
	b->pm = NULL;
	report(!fake_vm_irq_level(b->vm, SCI), "the old block lowered the SCI");
	if (!report_eq(acpi_pm_create(b->vm, PM_PORT, SCI, FACS_GPA, &b->pm), 0, "a new block")) {
		fake_vm_snapshot_remove(r, dir);
		report_prefix_pop();
		return;
	}
	rtc_connect_alarm(b->rtc, acpi_pm_rtc_input(b->pm));
	report_eq(acpi_pm_snapshot_restore(b->pm, r), 0, "restored");
	t2 = rd(b->vm, PM_TMR, 4);
	delta = (t2 - t1) & ((1u << ACPI_PM_TIMER_BITS) - 1);
	report(delta < ACPI_PM_TIMER_HZ / 2, "the timer counts on: %#x after %#x", t2, t1);
	report_eq(rd(b->vm, PM1_EN, 2), ACPI_PM1_PWRBTN | ACPI_PM1_RTC, "PM1_EN");
	report(rd(b->vm, PM1_STS, 2) & ACPI_PM1_PWRBTN, "PWRBTN_STS still set");
	report(fake_vm_irq_level(b->vm, SCI), "and the SCI high again");
	cnt = (u16)rd(b->vm, PM1_CNT, 2);
	report_eq((cnt & ACPI_PM1_CNT_SLP_TYP) >> ACPI_PM1_CNT_SLP_TYP_SHIFT, ACPI_SLP_TYP_S3,
		  "SLP_TYP");
	wr(b->vm, PM1_STS, ACPI_PM1_PWRBTN, 2);
	report(!fake_vm_irq_level(b->vm, SCI), "clearing the status lowers it");
	wr(b->vm, PM1_EN, 0, 2);
	wr(b->vm, PM1_CNT, 0, 2);
	fake_vm_snapshot_remove(r, dir);
	report_prefix_pop();
}

int main(void)
{
	struct bench b;

	log_level_set(LOG_ERR);
	if (!report_eq(bench_create(&b), 0, "VM, PM block at %#x, RTC", PM_PORT)) {
		bench_destroy(&b);
		return report_summary();
	}
	test_power_on(b.vm);
	test_timer(b.vm);
	test_events(&b);
	test_no_sleep_states(b.vm);
	test_timer_status(b.vm);
	test_snapshot(&b);
	bench_destroy(&b);
	test_s5();
	test_s3();
	test_s3_vectors();
	return report_summary();
}
