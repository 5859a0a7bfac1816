// SPDX-License-Identifier: GPL-2.0-only
/*
 * The MC146818 RTC through its ports: the time the host clock gives, in
 * BCD and binary, 24- and 12-hour form; setting it (SET held and released);
 * the update-in-progress window; CMOS RAM; the alarm, update-ended and
 * periodic interrupts on IRQ 8 and their clearing by reading register C.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kestrel/hw.h>
#include <kestrel/log.h>
#include <kestrel/snapshot.h>

#include "../test.h"
#include "../fake_vm.h"

#define PORT	0x70
#define IRQ	8

static u8 rd(struct vm *vm, u8 idx)
{
	fake_outb(vm, PORT, idx);
	return fake_inb(vm, PORT + 1);
}

static void wr(struct vm *vm, u8 idx, u8 v)
{
	fake_outb(vm, PORT, idx);
	fake_outb(vm, PORT + 1, v);
}

static int bcd(u8 v)
{
	return (v >> 4) * 10 + (v & 15);
}

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000;
}

/* Wait up to @ms for the IRQ line to go high. */
static bool wait_irq(struct vm *vm, unsigned int ms)
{
	u64 end = now_ms() + ms;

	while (now_ms() < end) {
		if (fake_vm_irq_level(vm, IRQ))
			return true;
		usleep(2000);
	}
	return false;
}

static void test_time(struct vm *vm)
{
	time_t host = time(NULL);
	struct tm tm;
	int sec, min, hour, day, mon, year, cent;
	long diff;

	/* Read a consistent set: wait out UIP as Linux does. */
	while (rd(vm, RTC_REG_A) & RTC_A_UIP)
		;
	sec = bcd(rd(vm, RTC_REG_SECONDS));
	min = bcd(rd(vm, RTC_REG_MINUTES));
	hour = bcd(rd(vm, RTC_REG_HOURS));
	day = bcd(rd(vm, RTC_REG_DAY));
	mon = bcd(rd(vm, RTC_REG_MONTH));
	year = bcd(rd(vm, RTC_REG_YEAR));
	cent = bcd(rd(vm, RTC_REG_CENTURY));
	tm = (struct tm){ .tm_sec = sec, .tm_min = min, .tm_hour = hour,
			  .tm_mday = day, .tm_mon = mon - 1,
			  .tm_year = cent * 100 + year - 1900 };
	diff = (long)(timegm(&tm) - host);
	report(diff >= 0 && diff <= 2, "BCD time is the host's UTC time (off by %ld s)",
	       diff);
	report(rd(vm, RTC_REG_D) == RTC_D_VRT, "register D: valid RAM and time");
	report((rd(vm, RTC_REG_A) & 0x7f) == 0x26 && rd(vm, RTC_REG_B) == RTC_B_24H,
	       "power-on A %#x, B %#x", rd(vm, RTC_REG_A), rd(vm, RTC_REG_B));

	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_DM);
	report(rd(vm, RTC_REG_SECONDS) < 60 && rd(vm, RTC_REG_MONTH) >= 1 &&
	       rd(vm, RTC_REG_MONTH) <= 12 && rd(vm, RTC_REG_CENTURY) == 20,
	       "binary mode: century %u", rd(vm, RTC_REG_CENTURY));
	wr(vm, RTC_REG_B, RTC_B_DM);	/* 12-hour, binary */
	report((rd(vm, RTC_REG_HOURS) & 0x7f) >= 1 && (rd(vm, RTC_REG_HOURS) & 0x7f) <= 12,
	       "12-hour mode: hour %#x", rd(vm, RTC_REG_HOURS));
	wr(vm, RTC_REG_B, RTC_B_24H);
}

static void test_set(struct vm *vm)
{
	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_SET);
	wr(vm, RTC_REG_CENTURY, 0x20);
	wr(vm, RTC_REG_YEAR, 0x31);
	wr(vm, RTC_REG_MONTH, 0x12);
	wr(vm, RTC_REG_DAY, 0x31);
	wr(vm, RTC_REG_HOURS, 0x23);
	wr(vm, RTC_REG_MINUTES, 0x59);
	wr(vm, RTC_REG_SECONDS, 0x58);
	usleep(1200 * 1000);
	report(rd(vm, RTC_REG_SECONDS) == 0x58,
	       "the clock stands still while SET is on");
	report(!(rd(vm, RTC_REG_A) & RTC_A_UIP), "no update cycle while SET is on");
	wr(vm, RTC_REG_B, RTC_B_24H);
	usleep(2500 * 1000);
	report(rd(vm, RTC_REG_YEAR) == 0x32 && rd(vm, RTC_REG_MONTH) == 0x01 &&
	       rd(vm, RTC_REG_DAY) == 0x01 && rd(vm, RTC_REG_HOURS) == 0x00,
	       "released, it runs on into 2032-01-01: %02x-%02x-%02x %02x:%02x",
	       rd(vm, RTC_REG_YEAR), rd(vm, RTC_REG_MONTH), rd(vm, RTC_REG_DAY),
	       rd(vm, RTC_REG_HOURS), rd(vm, RTC_REG_MINUTES));
	report(rd(vm, RTC_REG_WEEKDAY) == 5, "2032-01-01 is a Thursday (5): %u",
	       rd(vm, RTC_REG_WEEKDAY));
	wr(vm, RTC_REG_SECONDS, 0x7a);	/* not BCD */
	wr(vm, RTC_REG_MONTH, 0x13);
	report(rd(vm, RTC_REG_MONTH) == 0x01, "bad BCD and out-of-range values are ignored");
}

/* Sleep until @before_ns ahead of the host's next second boundary. */
static void sleep_to_boundary(long before_ns)
{
	struct timespec ts;
	long left;

	clock_gettime(CLOCK_REALTIME, &ts);
	left = 1000000000L - ts.tv_nsec - before_ns;
	if (left < 0)
		left += 1000000000L;
	usleep((useconds_t)(left / 1000));
}

/* Poll register A for 2 ms around the next second boundary. */
static unsigned int uip_seen_at_boundary(struct vm *vm, unsigned int *polls)
{
	unsigned int seen = 0;
	u64 end;

	sleep_to_boundary(1000000);
	end = now_ms() + 2;
	while (now_ms() <= end) {
		(*polls)++;
		seen += !!(rd(vm, RTC_REG_A) & RTC_A_UIP);
	}
	return seen;
}

static void test_uip(struct vm *vm)
{
	unsigned int seen = 0, polls = 0;

	for (int i = 0; i < 2; i++)
		seen += uip_seen_at_boundary(vm, &polls);
	report(seen > 0 && seen < polls,
	       "UIP seen in %u of %u polls around two second boundaries", seen, polls);
	wr(vm, RTC_REG_A, 0x06);	/* divider off */
	seen = polls = 0;
	seen = uip_seen_at_boundary(vm, &polls);
	report(seen == 0, "no UIP with the oscillator off (%u polls)", polls);
	wr(vm, RTC_REG_A, 0x26);
}

static void test_ram(struct vm *vm)
{
	wr(vm, 0x40, 0xa5);
	wr(vm, 0x7f, 0x5a);
	report(rd(vm, 0x40) == 0xa5 && rd(vm, 0x7f) == 0x5a, "CMOS RAM reads back");
	fake_outb(vm, PORT, 0x80 | 0x40);	/* NMI mask bit set */
	report(fake_inb(vm, PORT + 1) == 0xa5, "the NMI-mask bit is ignored");
	report(fake_inb(vm, PORT) == 0xff, "the index port reads 0xff");
	wr(vm, RTC_REG_D, 0);
	report(rd(vm, RTC_REG_D) == RTC_D_VRT, "register D is read-only");
}

static void test_interrupts(struct vm *vm)
{
	u8 c, sec;

	report(rd(vm, RTC_REG_C) == 0 && !fake_vm_irq_level(vm, IRQ),
	       "nothing pending at first");
	/* Alarm two seconds ahead, minutes and hours "don't care". */
	while (rd(vm, RTC_REG_A) & RTC_A_UIP)
		;
	sec = (u8)((bcd(rd(vm, RTC_REG_SECONDS)) + 2) % 60);
	wr(vm, RTC_REG_SECONDS_ALARM, (u8)((sec / 10) << 4 | sec % 10));
	wr(vm, RTC_REG_MINUTES_ALARM, 0xff);
	wr(vm, RTC_REG_HOURS_ALARM, 0xc0);
	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_AIE);
	report(wait_irq(vm, 4000), "the alarm raises IRQ 8");
	c = rd(vm, RTC_REG_C);
	report((c & (RTC_C_IRQF | RTC_C_AF)) == (RTC_C_IRQF | RTC_C_AF),
	       "register C: IRQF and AF (%#x)", c);
	report(!fake_vm_irq_level(vm, IRQ) && rd(vm, RTC_REG_C) == 0,
	       "reading C lowers the line and clears the flags");

	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
	report(wait_irq(vm, 1500) && (rd(vm, RTC_REG_C) & RTC_C_UF),
	       "update-ended interrupt within a second");
	report(wait_irq(vm, 1500) && (rd(vm, RTC_REG_C) & RTC_C_UF),
	       "and again the next second");

	wr(vm, RTC_REG_B, RTC_B_24H);
	rd(vm, RTC_REG_C);
	wr(vm, RTC_REG_A, 0x20 | 0x0f);	/* 2 Hz */
	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
	report(wait_irq(vm, 1000) && (rd(vm, RTC_REG_C) & RTC_C_PF),
	       "periodic interrupt at 2 Hz");
	wr(vm, RTC_REG_B, RTC_B_24H);
	usleep(600 * 1000);
	rd(vm, RTC_REG_C);
	usleep(700 * 1000);
	report(!fake_vm_irq_level(vm, IRQ), "disabled: no more interrupts");
	wr(vm, RTC_REG_A, 0x26);
}

static int rtc_save(void *r, struct snap_writer *w)
{
	return rtc_snapshot_save(r, w);
}

/*
 * A snapshot restored into a new RTC: CMOS RAM, the data mode, the time
 * the guest set, the alarm registers and the periodic interrupt at the
 * saved rate.
 */
static void test_snapshot(struct vm *vm, struct rtc **rp)
{
	struct snap_reader *snap;
	char dir[64];

	report_prefix_push("snapshot");
	wr(vm, 0x40, 0x5a);
	wr(vm, RTC_REG_SECONDS_ALARM, 0x33);
	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_DM | RTC_B_SET);
	wr(vm, RTC_REG_YEAR, 5);
	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_DM);
	wr(vm, RTC_REG_A, 0x2f);	/* 2 Hz */
	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_DM | RTC_B_PIE);
	rd(vm, RTC_REG_C);
	snap = fake_vm_snapshot(vm, rtc_save, *rp, dir);
	if (!report(snap, "written and read back")) {
		report_prefix_pop();
		return;
	}
	rtc_destroy(*rp);
	*rp = NULL;
	if (!report_eq(rtc_create(vm, PORT, IRQ, rp), 0, "a new RTC")) {
		fake_vm_snapshot_remove(snap, dir);
		report_prefix_pop();
		return;
	}
	report_eq(rtc_snapshot_restore(*rp, snap), 0, "restored");
	report_eq(rd(vm, 0x40), 0x5a, "CMOS RAM");
	report_eq(rd(vm, RTC_REG_SECONDS_ALARM), 0x33, "alarm seconds");
	report_eq(rd(vm, RTC_REG_A) & 0x7f, 0x2f, "register A: divider and rate");
	report_eq(rd(vm, RTC_REG_B), RTC_B_24H | RTC_B_DM | RTC_B_PIE, "register B");
	report_eq(rd(vm, RTC_REG_YEAR), 5, "the year the guest set, in binary");
	report(wait_irq(vm, 1500) && (rd(vm, RTC_REG_C) & RTC_C_PF),
	       "the periodic interrupt runs on");
	wr(vm, RTC_REG_B, RTC_B_24H);
	wr(vm, RTC_REG_A, 0x26);
	rd(vm, RTC_REG_C);
	fake_vm_snapshot_remove(snap, dir);
	report_prefix_pop();
}

int main(void)
{
	struct rtc *r = NULL;
	struct vm *vm = NULL;

	log_level_set(LOG_ERR);
	report_prefix_push("rtc");
	if (fake_vm_create(FAKE_VM_MIN_RAM, &vm) || rtc_create(vm, PORT, IRQ, &r)) {
		report(false, "create");
		return report_summary();
	}
	report(rtc_create(vm, PORT, IRQ, &(struct rtc *){ 0 }) == -EEXIST,
	       "a second RTC on the ports: -EEXIST");
	test_time(vm);
	test_ram(vm);
	test_uip(vm);
	test_interrupts(vm);
	test_set(vm);
	test_snapshot(vm, &r);
	/* Leave the line raised: destroy must lower it. */
	wr(vm, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
	wait_irq(vm, 1500);
	rtc_destroy(r);
	report(!fake_vm_irq_level(vm, IRQ), "destroy lowers a raised line");
	report(fake_inb(vm, PORT + 1) == 0xff, "destroy releases the ports");
	rtc_destroy(NULL);
	fake_vm_destroy(vm);
	report_prefix_pop();
	return report_summary();
}
