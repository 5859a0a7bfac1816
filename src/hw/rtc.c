// SPDX-License-Identifier: GPL-2.0-only
/*
 * MC146818 CMOS real-time clock at ports 0x70 (index) and 0x71 (data), as
 * a PC has it: Linux reads the wall-clock time from it at boot, and test
 * kernels use its alarm as a wake source. docs/rtc.md is the specification.
 *
 * Time. The clock is the host's CLOCK_REALTIME plus an offset in whole
 * seconds the guest changes by writing the time registers; registers are
 * computed from it when read, in BCD or binary and 12- or 24-hour form as
 * register B says. While register B's SET bit is on the clock stands still
 * at what the guest wrote; clearing it starts it again from there.
 *
 * Update cycle. Register A's UIP bit reads 1 during the last 244 us before
 * each second boundary (the window in which a real chip may change the time
 * registers), so a guest that waits for UIP to clear, as Linux does, reads
 * a time that does not change under it. It is 0 while the oscillator is
 * off (divider bits of register A not 010) or SET is on.
 *
 * Interrupts (IRQ 8, line raised when register C's IRQF becomes set, lowered
 * when the guest reads C): the alarm (AIE, when hours/minutes/seconds match
 * the alarm registers; a value with both top bits set matches anything),
 * update-ended (UIE, each second) and periodic (PIE, at the rate of register
 * A's low bits). Their timer thread exists only while one of them is enabled,
 * so a guest that only reads the time costs no thread. An alarm interrupt
 * also raises the signal rtc_connect_alarm() gave (the PM block's RTC_STS,
 * the wake source of S3), under r->lock.
 *
 * Port 0x70's bit 7 (the NMI mask on a PC) is accepted and ignored. The 114
 * bytes of CMOS RAM after the clock read back what was written; byte 0x32
 * holds the century (in the data mode of register B), as the FADT says.
 *
 * Locking: r->lock protects everything below it; vCPU threads and the timer
 * thread take it.
 */
#include <kestrel/hw.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/sandbox.h>
#include <kestrel/snapshot.h>
#include <kestrel/vm.h>

#define RTC_NR_REGS		128
#define RTC_UIP_NS		244000		/* update cycle before a second */
#define RTC_DV_RUNNING		0x20		/* register A: 32.768 kHz time base */
#define RTC_DV_MASK		0x70
#define RTC_RATE_MASK		0x0f
#define NS_PER_SEC		1000000000LL

struct rtc {
	struct io_dev dev;
	struct vm *vm;
	u16 port;
	u32 irq;
	bool registered;
	pthread_mutex_t lock;
	struct ratelimit rl;

	/* Under lock. */
	u8 index;
	u8 cmos[RTC_NR_REGS];	/* A..D and RAM; the time bytes are computed */
	s64 offset;		/* guest seconds - host seconds */
	struct tm held;		/* the time while SET is on */
	bool irq_level;
	struct hw_signal *alarm_out;	/* rtc_connect_alarm() */
	/* The timer thread, while an interrupt is enabled. */
	pthread_t thread;
	bool thread_running;
	int tick_fd;		/* CLOCK_REALTIME, each second boundary */
	int periodic_fd;	/* CLOCK_MONOTONIC, the periodic rate */
	int stop_fd;
};

/* ---- time and register encoding ----------------------------------------- */

static u8 to_bcd(unsigned int v)
{
	return (u8)((v / 10) << 4 | (v % 10));
}

static int from_bcd(u8 v)
{
	if ((v & 0x0f) > 9 || (v >> 4) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0x0f);
}

static bool rtc_binary(const struct rtc *r)
{
	return r->cmos[RTC_REG_B] & RTC_B_DM;
}

static u8 rtc_encode(const struct rtc *r, unsigned int v)
{
	return rtc_binary(r) ? (u8)v : to_bcd(v);
}

static int rtc_decode(const struct rtc *r, u8 v)
{
	return rtc_binary(r) ? v : from_bcd(v);
}

static u8 rtc_encode_hour(const struct rtc *r, unsigned int hour)
{
	unsigned int h12;

	if (r->cmos[RTC_REG_B] & RTC_B_24H)
		return rtc_encode(r, hour);
	h12 = hour % 12 ? hour % 12 : 12;
	return rtc_encode(r, h12) | (hour >= 12 ? 0x80 : 0);
}

/* Return: 0..23, or -1 for a value the current mode cannot hold. */
static int rtc_decode_hour(const struct rtc *r, u8 v)
{
	int h;

	if (r->cmos[RTC_REG_B] & RTC_B_24H) {
		h = rtc_decode(r, v);
		return h >= 0 && h < 24 ? h : -1;
	}
	h = rtc_decode(r, v & 0x7f);
	if (h < 1 || h > 12)
		return -1;
	return (h % 12) + ((v & 0x80) ? 12 : 0);
}

static struct timespec host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* The guest's broken-down time now (held while SET is on). Lock held. */
static struct tm rtc_now(const struct rtc *r)
{
	struct tm tm;
	time_t t;

	if (r->cmos[RTC_REG_B] & RTC_B_SET)
		return r->held;
	t = (time_t)(host_now().tv_sec + r->offset);
	gmtime_r(&t, &tm);
	return tm;
}

static bool rtc_in_update(const struct rtc *r)
{
	if ((r->cmos[RTC_REG_A] & RTC_DV_MASK) != RTC_DV_RUNNING ||
	    (r->cmos[RTC_REG_B] & RTC_B_SET))
		return false;
	return host_now().tv_nsec >= NS_PER_SEC - RTC_UIP_NS;
}

static u8 rtc_read_reg(struct rtc *r, u8 idx)
{
	struct tm tm = rtc_now(r);

	switch (idx) {
	case RTC_REG_SECONDS:
		return rtc_encode(r, (unsigned int)MIN(tm.tm_sec, 59));
	case RTC_REG_MINUTES:
		return rtc_encode(r, (unsigned int)tm.tm_min);
	case RTC_REG_HOURS:
		return rtc_encode_hour(r, (unsigned int)tm.tm_hour);
	case RTC_REG_WEEKDAY:
		return rtc_encode(r, (unsigned int)tm.tm_wday + 1);
	case RTC_REG_DAY:
		return rtc_encode(r, (unsigned int)tm.tm_mday);
	case RTC_REG_MONTH:
		return rtc_encode(r, (unsigned int)tm.tm_mon + 1);
	case RTC_REG_YEAR:
		return rtc_encode(r, (unsigned int)(tm.tm_year + 1900) % 100);
	case RTC_REG_CENTURY:
		return rtc_encode(r, (unsigned int)(tm.tm_year + 1900) / 100);
	case RTC_REG_A:
		return (u8)(r->cmos[RTC_REG_A] | (rtc_in_update(r) ? RTC_A_UIP : 0));
	case RTC_REG_D:
		return RTC_D_VRT;
	default:
		return r->cmos[idx];
	}
}

/*
 * Store a time register written by the guest: into the held time while SET
 * is on, else into the running clock (a new offset). A value the mode
 * cannot hold is ignored. Lock held.
 */
static void rtc_write_time(struct rtc *r, u8 idx, u8 v)
{
	struct tm tm = rtc_now(r);
	int n = idx == RTC_REG_HOURS ? rtc_decode_hour(r, v) : rtc_decode(r, v);
	int year = tm.tm_year + 1900;
	time_t t;

	if (n < 0)
		goto bad;
	switch (idx) {
	case RTC_REG_SECONDS: if (n > 59) goto bad; tm.tm_sec = n; break;
	case RTC_REG_MINUTES: if (n > 59) goto bad; tm.tm_min = n; break;
	case RTC_REG_HOURS: tm.tm_hour = n; break;
	case RTC_REG_WEEKDAY: return;	/* derived from the date */
	case RTC_REG_DAY: if (n < 1 || n > 31) goto bad; tm.tm_mday = n; break;
	case RTC_REG_MONTH: if (n < 1 || n > 12) goto bad; tm.tm_mon = n - 1; break;
	case RTC_REG_YEAR: if (n > 99) goto bad; year = year / 100 * 100 + n; break;
	case RTC_REG_CENTURY: if (n < 19 || n > 99) goto bad; year = n * 100 + year % 100; break;
	}
	tm.tm_year = year - 1900;
	tm.tm_isdst = 0;
	t = timegm(&tm);
	if (t == (time_t)-1)
		goto bad;
	gmtime_r(&t, &tm);	/* normalised: Feb 31 becomes Mar 3, as a chip might */
	if (r->cmos[RTC_REG_B] & RTC_B_SET)
		r->held = tm;
	else
		r->offset = (s64)t - host_now().tv_sec;
	return;
bad:
	if (ratelimit_allow(&r->rl))
		pr_warn("rtc: register %#x: value %#x out of range, ignored", idx, v);
}

/* ---- interrupts ---------------------------------------------------------- */

/* Set @flags in register C and raise the line if they are enabled. Lock held. */
static void rtc_flag(struct rtc *r, u8 flags)
{
	u8 enabled = r->cmos[RTC_REG_B] & (RTC_B_PIE | RTC_B_AIE | RTC_B_UIE);

	/* The flag bits of C sit at the same positions as the enables of B. */
	r->cmos[RTC_REG_C] |= flags;
	/* An alarm interrupt also reaches the PM block (RTC_STS), as on a PC. */
	if ((flags & RTC_C_AF) && (enabled & RTC_B_AIE) && r->alarm_out)
		r->alarm_out->ops->raise(r->alarm_out);
	if ((r->cmos[RTC_REG_C] & enabled) && !(r->cmos[RTC_REG_C] & RTC_C_IRQF)) {
		r->cmos[RTC_REG_C] |= RTC_C_IRQF;
		if (!r->irq_level) {
			r->irq_level = true;
			vm_set_irq_line(r->vm, r->irq, true);
		}
	}
}

static bool rtc_alarm_matches(const struct rtc *r, const struct tm *tm)
{
	static const struct { u8 reg; int which; } fields[] = {
		{ RTC_REG_SECONDS_ALARM, 0 }, { RTC_REG_MINUTES_ALARM, 1 },
		{ RTC_REG_HOURS_ALARM, 2 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		u8 v = r->cmos[fields[i].reg];
		int want, now;

		if ((v & 0xc0) == 0xc0)
			continue;	/* "don't care" */
		now = fields[i].which == 0 ? tm->tm_sec :
		      fields[i].which == 1 ? tm->tm_min : tm->tm_hour;
		want = fields[i].which == 2 ? rtc_decode_hour(r, v) : rtc_decode(r, v);
		if (want != now)
			return false;
	}
	return true;
}

/* The second just ticked over. Lock held. */
static void rtc_second(struct rtc *r)
{
	struct tm tm;
	u8 flags = RTC_C_UF;

	if ((r->cmos[RTC_REG_A] & RTC_DV_MASK) != RTC_DV_RUNNING ||
	    (r->cmos[RTC_REG_B] & RTC_B_SET))
		return;
	tm = rtc_now(r);
	if (rtc_alarm_matches(r, &tm))
		flags |= RTC_C_AF;
	rtc_flag(r, flags);
}

/* Period of the periodic interrupt in ns, 0 if off (rate 0). */
static s64 rtc_period_ns(const struct rtc *r)
{
	unsigned int rate = r->cmos[RTC_REG_A] & RTC_RATE_MASK;

	if (!rate)
		return 0;
	if (rate <= 2)
		rate += 7;	/* rates 1 and 2 repeat 8 and 9 on a 32 kHz base */
	return NS_PER_SEC / (32768 >> (rate - 1));	/* rate 3: 8192 Hz ... 15: 2 Hz */
}

/* (Re)arm both timers from the registers. Lock held, thread running. */
static void rtc_arm(struct rtc *r)
{
	struct itimerspec tick = { .it_interval = { 1, 0 } };
	struct itimerspec per = { 0 };
	s64 period = rtc_period_ns(r);

	tick.it_value.tv_sec = host_now().tv_sec + 1;	/* next boundary */
	timerfd_settime(r->tick_fd, TFD_TIMER_ABSTIME, &tick, NULL);
	if ((r->cmos[RTC_REG_B] & RTC_B_PIE) && period) {
		per.it_interval.tv_sec = period / NS_PER_SEC;
		per.it_interval.tv_nsec = period % NS_PER_SEC;
		per.it_value = per.it_interval;
	}
	timerfd_settime(r->periodic_fd, 0, &per, NULL);
}

static void *rtc_thread(void *arg)
{
	struct rtc *r = arg;
	struct pollfd fds[3] = {
		{ .fd = r->stop_fd, .events = POLLIN },
		{ .fd = r->tick_fd, .events = POLLIN },
		{ .fd = r->periodic_fd, .events = POLLIN },
	};

	seccomp_thread_enter(SECCOMP_THREAD_RTC);
	for (;;) {
		u64 n;

		if (poll(fds, ARRAY_SIZE(fds), -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents)
			break;
		pthread_mutex_lock(&r->lock);
		if (fds[1].revents && read(r->tick_fd, &n, sizeof(n)) == sizeof(n))
			rtc_second(r);
		if (fds[2].revents && read(r->periodic_fd, &n, sizeof(n)) == sizeof(n))
			rtc_flag(r, RTC_C_PF);
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

/*
 * The timer fds and thread. On the VMM thread (vm_call_vmm()): the vCPU
 * thread whose register write needs them may not create threads.
 * Return: 0 or -errno, nothing left behind.
 */
static int rtc_start_thread(void *arg)
{
	struct rtc *r = arg;
	int ret;

	r->tick_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	r->periodic_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	r->stop_fd = xeventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ret = r->tick_fd < 0 || r->periodic_fd < 0 ? -errno : r->stop_fd;
	if (ret >= 0)
		ret = xpthread_create(&r->thread, NULL, rtc_thread, r);
	if (ret) {
		if (r->tick_fd >= 0)
			close(r->tick_fd);
		if (r->periodic_fd >= 0)
			close(r->periodic_fd);
		if (r->stop_fd >= 0)
			close(r->stop_fd);
		r->tick_fd = r->periodic_fd = r->stop_fd = -1;
	}
	return ret;
}

/* Start the timer thread the first time an interrupt is enabled. Lock held. */
static void rtc_need_timer(struct rtc *r)
{
	int ret;

	if (r->thread_running) {
		rtc_arm(r);
		return;
	}
	if (!(r->cmos[RTC_REG_B] & (RTC_B_PIE | RTC_B_AIE | RTC_B_UIE)))
		return;
	ret = vm_call_vmm(r->vm, rtc_start_thread, r);
	if (ret) {
		pr_err("rtc: cannot start its timer, no RTC interrupts: %s",
		       strerror(-ret));
		return;
	}
	r->thread_running = true;
	rtc_arm(r);
}

/* ---- ports --------------------------------------------------------------- */

static int rtc_io_read(struct io_dev *dev, u64 offset, void *data,
		       unsigned int len)
{
	struct rtc *r = container_of(dev, struct rtc, dev);
	u8 *out = data;

	pthread_mutex_lock(&r->lock);
	if (offset == 0) {
		/* The index port is write-only on a PC; reads float. */
		*out = 0xff;
	} else {
		*out = rtc_read_reg(r, r->index);
		if (r->index == RTC_REG_C) {
			r->cmos[RTC_REG_C] = 0;	/* read clears every flag */
			if (r->irq_level) {
				r->irq_level = false;
				vm_set_irq_line(r->vm, r->irq, false);
			}
		}
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int rtc_io_write(struct io_dev *dev, u64 offset, const void *data,
			unsigned int len)
{
	struct rtc *r = container_of(dev, struct rtc, dev);
	u8 v = *(const u8 *)data;
	u8 old;

	pthread_mutex_lock(&r->lock);
	if (offset == 0) {
		r->index = v & 0x7f;	/* bit 7: NMI mask, ignored */
		goto out;
	}
	switch (r->index) {
	case RTC_REG_SECONDS:
	case RTC_REG_MINUTES:
	case RTC_REG_HOURS:
	case RTC_REG_WEEKDAY:
	case RTC_REG_DAY:
	case RTC_REG_MONTH:
	case RTC_REG_YEAR:
	case RTC_REG_CENTURY:
		rtc_write_time(r, r->index, v);
		break;
	case RTC_REG_A:
		r->cmos[RTC_REG_A] = v & (u8)~RTC_A_UIP;
		if (r->thread_running)
			rtc_arm(r);
		break;
	case RTC_REG_B:
		old = r->cmos[RTC_REG_B];
		if ((v & RTC_B_SET) && !(old & RTC_B_SET))
			r->held = rtc_now(r);
		/* Setting SET ends any update-ended interrupt (the data sheet). */
		if (v & RTC_B_SET)
			v &= (u8)~RTC_B_UIE;
		r->cmos[RTC_REG_B] = v;
		if (!(v & RTC_B_SET) && (old & RTC_B_SET))
			r->offset = (s64)timegm(&r->held) - host_now().tv_sec;
		rtc_need_timer(r);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break;		/* read-only */
	default:
		r->cmos[r->index] = v;
		break;
	}
out:
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static const struct io_ops rtc_ops = {
	.read = rtc_io_read,
	.write = rtc_io_write,
	.min_access = 1,
	.max_access = 1,
};

void rtc_connect_alarm(struct rtc *r, struct hw_signal *s)
{
	pthread_mutex_lock(&r->lock);
	r->alarm_out = s;
	pthread_mutex_unlock(&r->lock);
}

/* ---- snapshots (docs/snapshot.md) ------------------------------------------ */

/*
 * The SNAP_SEC_RTC payload: the index, the 128 registers as stored (A..D
 * and RAM; the time bytes are computed), the clock's offset from the
 * host's CLOCK_REALTIME in seconds, the held time (while SET is on) in
 * seconds since the epoch, and the IRQ line.
 */
struct rtc_snap {
	u8 index;
	u8 irq_level;
	u8 pad[6];
	s64 offset;
	s64 held;
	u8 cmos[RTC_NR_REGS];
};

int rtc_snapshot_save(struct rtc *r, struct snap_writer *w)
{
	struct rtc_snap st = { 0 };
	struct tm held;

	pthread_mutex_lock(&r->lock);
	held = r->held;
	st.index = r->index;
	st.irq_level = r->irq_level;
	st.offset = r->offset;
	st.held = (s64)timegm(&held);
	memcpy(st.cmos, r->cmos, sizeof(st.cmos));
	pthread_mutex_unlock(&r->lock);
	return snap_write_section(w, SNAP_SEC_RTC, 0, &st, sizeof(st));
}

/* A century of seconds either way: what the time registers can hold. */
#define RTC_SNAP_SECONDS_MAX	(200LL * 366 * 86400)

int rtc_snapshot_restore(struct rtc *r, struct snap_reader *rd)
{
	const struct rtc_snap *st;
	const void *data;
	size_t len;
	time_t held;

	if (snap_read_section(rd, SNAP_SEC_RTC, 0, &data, &len) || len != sizeof(*st))
		return -EINVAL;
	st = data;
	if (st->index >= RTC_NR_REGS || st->irq_level > 1 ||
	    st->offset < -RTC_SNAP_SECONDS_MAX * 2 || st->offset > RTC_SNAP_SECONDS_MAX * 2 ||
	    st->held < -RTC_SNAP_SECONDS_MAX || st->held > RTC_SNAP_SECONDS_MAX * 2)
		return -EINVAL;
	held = (time_t)st->held;
	pthread_mutex_lock(&r->lock);
	r->index = st->index;
	memcpy(r->cmos, st->cmos, sizeof(r->cmos));
	r->cmos[RTC_REG_A] &= (u8)~RTC_A_UIP;	/* computed when read */
	r->offset = st->offset;
	gmtime_r(&held, &r->held);
	/* The line goes back up as the device had it (the irqchip has it too). */
	if (st->irq_level && !r->irq_level) {
		r->irq_level = true;
		vm_set_irq_line(r->vm, r->irq, true);
	}
	/* The interrupts the guest enabled run on, from the saved rate. */
	rtc_need_timer(r);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int rtc_create(struct vm *vm, u16 port, u32 irq, struct rtc **out)
{
	struct rtc *r;
	int ret;

	r = xzalloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->dev.ops = &rtc_ops;
	r->dev.name = "rtc";
	r->vm = vm;
	r->port = port;
	r->irq = irq;
	r->rl = (struct ratelimit)RATELIMIT_INIT;
	r->tick_fd = r->periodic_fd = r->stop_fd = -1;
	r->cmos[RTC_REG_A] = RTC_DV_RUNNING | 0x06;	/* 32 kHz, 1024 Hz rate */
	r->cmos[RTC_REG_B] = RTC_B_24H;
	pthread_mutex_init(&r->lock, NULL);
	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, port, RTC_NR_PORTS, &r->dev);
	if (ret)
		goto err_destroy;
	r->registered = true;
	*out = r;
	return 0;

err_destroy:
	rtc_destroy(r);
	return ret;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	if (r->registered)
		iobus_unregister(vm_iobus(r->vm), IO_SPACE_PIO, r->port);
	if (r->thread_running) {
		eventfd_write(r->stop_fd, 1);
		pthread_join(r->thread, NULL);
		close(r->tick_fd);
		close(r->periodic_fd);
		close(r->stop_fd);
	}
	if (r->irq_level)
		vm_set_irq_line(r->vm, r->irq, false);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
