// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ACPI fixed hardware a PC's south bridge has and firmware describes
 * in the FADT: the PM1a event block (status and enable), the PM1a control
 * block and the PM timer, in ICH9's layout at the base port. docs/acpi-pm.md
 * is the specification; ACPI 6.5 §4.8 defines the registers.
 *
 * PM1_STS / PM1_EN. TMR_STS is set when the timer's bit 23 changes, RTC_STS
 * when the RTC raises an alarm interrupt (rtc_connect_alarm()), PWRBTN_STS
 * when the power button is pressed (acpi_pm_power_button()), WAK_STS when
 * the machine wakes from S3. Status bits are cleared by writing 1s. The SCI
 * is a level: high while an enabled status bit is set.
 *
 * PM1_CNT. SCI_EN always reads 1 (no SMM: the machine is in ACPI mode from
 * power-on, so the FADT's SMI_CMD is 0). Writing SLP_EN enters the state
 * SLP_TYP names: S5 stops the VM (VM_STOP_POWEROFF, exit status 0); S3
 * hands over to this device's thread, which plays the firmware: it puts
 * the vCPUs to sleep (vm_sleep()), waits for a wake event (RTC_STS with
 * RTC_EN, or the power button), sets WAK_STS and restarts the machine at
 * the FACS waking vector in real mode (vm_wake()). Guest memory and the
 * other devices keep their state. Any other SLP_TYP is no sleep state: it
 * sets WAK_STS at once, so an OS waiting for it goes on.
 *
 * PM_TMR. 3.579545 MHz, 24 bits, from CLOCK_MONOTONIC since the device was
 * created; it keeps counting through S3.
 *
 * Registers are a 12-byte file: any access of 1 to 4 bytes at any offset
 * reads or writes those bytes (ACPICA uses the widths the FADT gives, other
 * code may not).
 *
 * Locking: pm->lock protects everything below it. vCPU threads (register
 * accesses), the RTC's thread (its alarm) and this device's thread take
 * it; the thread drops it before it calls vm_sleep()/vm_wake(), which wait
 * for the vCPU threads. Lock order: the RTC's lock, then pm->lock.
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
#include <kestrel/memory.h>
#include <kestrel/sandbox.h>
#include <kestrel/snapshot.h>
#include <kestrel/vm.h>

#define NS_PER_SEC		1000000000LL
#define PM_TMR_MSB_SHIFT	(ACPI_PM_TIMER_BITS - 1)
#define PM_TMR_MASK		((1u << ACPI_PM_TIMER_BITS) - 1)

/* Status bits that raise the SCI when enabled (§4.8.3.1: not WAK_STS). */
#define PM1_SCI_EVENTS	(ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | \
			 ACPI_PM1_SLPBTN | ACPI_PM1_RTC)
#define PM1_EN_MASK	PM1_SCI_EVENTS
#define PM1_STS_MASK	(PM1_SCI_EVENTS | ACPI_PM1_WAK)
#define PM1_CNT_KEPT	(ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_TYP)

_Static_assert(ACPI_PM_TMR + ACPI_PM_TMR_LEN == ACPI_PM_NR_PORTS, "PM register file");
_Static_assert(ACPI_PM1_CNT + ACPI_PM1_CNT_LEN <= ACPI_PM_TMR, "PM1_CNT before PM_TMR");

enum pm_state {
	PM_AWAKE,		/* S0 */
	PM_SLEEP_REQUESTED,	/* SLP_EN written for S3; the thread acts */
	PM_ASLEEP,		/* vCPUs asleep, waiting for a wake event */
};

struct acpi_pm {
	struct io_dev dev;
	struct hw_signal rtc_input;
	struct vm *vm;
	u16 port;
	u32 sci;
	u64 facs_gpa;
	struct timespec t0;	/* the timer's zero, CLOCK_MONOTONIC */
	bool registered;
	pthread_mutex_t lock;
	struct ratelimit rl;

	/* Under lock. */
	u16 sts, en, cnt;
	u32 tmr_epoch;		/* timer >> 23 when TMR_STS was last brought up to date */
	bool sci_level;
	enum pm_state state;
	/* The firmware thread, from the first S3 request or TMR_EN. */
	pthread_t thread;
	bool thread_running;
	bool stopping;
	int kick_fd;		/* eventfd: something for the thread to look at */
	int timer_fd;		/* CLOCK_MONOTONIC: the timer's next bit-23 change */
};

/* ---- the PM timer -------------------------------------------------------- */

/* Ticks since t0 (64 bits: no wrap for 160 000 years). */
static u64 pm_ticks(const struct acpi_pm *pm)
{
	struct timespec now;
	s64 sec, nsec;

	clock_gettime(CLOCK_MONOTONIC, &now);
	sec = now.tv_sec - pm->t0.tv_sec;
	nsec = now.tv_nsec - pm->t0.tv_nsec;
	if (nsec < 0) {
		sec--;
		nsec += NS_PER_SEC;
	}
	return (u64)sec * ACPI_PM_TIMER_HZ + (u64)nsec * ACPI_PM_TIMER_HZ / NS_PER_SEC;
}

/* TMR_STS: set once bit 23 has changed since the last look. Lock held. */
static void pm_update_tmr_sts(struct acpi_pm *pm)
{
	u32 epoch = (u32)(pm_ticks(pm) >> PM_TMR_MSB_SHIFT);

	if (epoch != pm->tmr_epoch)
		pm->sts |= ACPI_PM1_TMR;
	pm->tmr_epoch = epoch;
}

/* Arm timer_fd for the next bit-23 change while TMR_EN is on. Lock held. */
static void pm_arm_timer(struct acpi_pm *pm)
{
	struct itimerspec its = { 0 };

	if (pm->en & ACPI_PM1_TMR) {
		u64 next = (u64)(pm->tmr_epoch + 1) << PM_TMR_MSB_SHIFT;
		u64 rem = next % ACPI_PM_TIMER_HZ;
		s64 sec = (s64)(next / ACPI_PM_TIMER_HZ) + pm->t0.tv_sec;
		s64 nsec = (s64)((rem * NS_PER_SEC + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ) +
			   pm->t0.tv_nsec;

		if (nsec >= NS_PER_SEC) {
			sec++;
			nsec -= NS_PER_SEC;
		}
		its.it_value.tv_sec = sec;
		its.it_value.tv_nsec = nsec;
	}
	timerfd_settime(pm->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- SCI and the thread ------------------------------------------------- */

/* Drive the SCI from the status and enables. Lock held. */
static void pm_update_sci(struct acpi_pm *pm)
{
	bool level = pm->sts & pm->en & PM1_SCI_EVENTS;

	if (level != pm->sci_level) {
		pm->sci_level = level;
		vm_set_irq_line(pm->vm, pm->sci, level);
	}
}

/* What ends S3 (§4.8.3.1.1): the power button always, the RTC if enabled. */
static bool pm_wake_pending(const struct acpi_pm *pm)
{
	return (pm->sts & ACPI_PM1_PWRBTN) || (pm->sts & pm->en & ACPI_PM1_RTC);
}

static void pm_kick(struct acpi_pm *pm)
{
	if (pm->thread_running)
		eventfd_write(pm->kick_fd, 1);
}

static void *pm_thread(void *arg);

/* Its fds and thread, on the VMM thread (vm_call_vmm(), as rtc.c). */
static int pm_start_thread(void *arg)
{
	struct acpi_pm *pm = arg;
	int ret;

	pm->kick_fd = xeventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pm->kick_fd < 0) {
		ret = pm->kick_fd;
		goto err;
	}
	pm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pm->timer_fd < 0) {
		ret = -errno;
		goto err_close_kick;
	}
	ret = xpthread_create(&pm->thread, NULL, pm_thread, pm);
	if (ret)
		goto err_close_timer;
	return 0;

err_close_timer:
	close(pm->timer_fd);
err_close_kick:
	close(pm->kick_fd);
err:
	pm->kick_fd = pm->timer_fd = -1;
	return ret;
}

/* Start the thread the first time it is needed. Lock held. Return: 0 or -errno */
static int pm_need_thread(struct acpi_pm *pm)
{
	int ret;

	if (pm->thread_running)
		return 0;
	ret = vm_call_vmm(pm->vm, pm_start_thread, pm);
	if (ret) {
		if (ratelimit_allow(&pm->rl))
			pr_err("acpi-pm: cannot start its thread, no S3 and no timer interrupt: %s",
			       strerror(-ret));
		return ret;
	}
	pm->thread_running = true;
	return 0;
}

/* The thread's S3 entry: the vCPUs sleep until a wake event. */
static void pm_enter_s3(struct acpi_pm *pm)
{
	int ret = vm_sleep(pm->vm);

	pthread_mutex_lock(&pm->lock);
	if (ret) {
		/* -ESHUTDOWN: the VM is stopping; nothing to sleep for. */
		pm->state = PM_AWAKE;
	} else {
		pm->state = PM_ASLEEP;
		if (ratelimit_allow(&pm->rl))
			pr_info("acpi-pm: the guest entered S3 (suspend to RAM)");
		/* An event that came while the vCPUs were stopping wakes at once. */
		if (pm_wake_pending(pm))
			pm_kick(pm);
	}
	pthread_mutex_unlock(&pm->lock);
}

/*
 * The thread's wake: what firmware does on the resume path. Only the 16-bit
 * waking vector is supported (the FACS says no 64-bit wake; a 32-bit
 * protected-mode wake through X_Firmware_Waking_Vector is not offered
 * either, and a guest that asks for it is stopped). A zero vector means
 * the OS left nothing to resume: firmware then boots afresh, here a reset.
 */
static void pm_wake(struct acpi_pm *pm, const char *why)
{
	struct address_space *as = vm_address_space(pm->vm);
	le32 vector = 0;
	le64 xvector = 0;
	int ret;

	if (address_space_read(as, pm->facs_gpa + ACPI_FACS_WAKING_VECTOR, &vector,
			       sizeof(vector)) ||
	    address_space_read(as, pm->facs_gpa + ACPI_FACS_X_WAKING_VECTOR, &xvector,
			       sizeof(xvector))) {
		pr_err("acpi-pm: no FACS at %#llx: cannot wake the guest",
		       (unsigned long long)pm->facs_gpa);
		vm_request_stop(pm->vm, VM_STOP_HOST_ERROR, 0);
		return;
	}
	if (xvector) {
		pr_err("acpi-pm: the guest set X_Firmware_Waking_Vector (%#llx): kestrel wakes only through the 16-bit Firmware_Waking_Vector",
		       (unsigned long long)le64_to_cpu(xvector));
		vm_request_stop(pm->vm, VM_STOP_ERROR, 0);
		return;
	}
	if (!vector) {
		pr_info("acpi-pm: woken from S3 (%s) with no waking vector: reset", why);
		vm_request_stop(pm->vm, VM_STOP_RESET, 0);
		return;
	}
	/*
	 * S0 from here: once vm_wake() lets the vCPUs go, a guest that
	 * suspends again at once must find SLP_EN taken, not dropped as
	 * "already on its way down".
	 */
	pthread_mutex_lock(&pm->lock);
	pm->sts |= ACPI_PM1_WAK;
	pm->state = PM_AWAKE;
	pthread_mutex_unlock(&pm->lock);

	ret = vm_wake(pm->vm, le32_to_cpu(vector));
	if (ret == -EINVAL) {
		pr_err("acpi-pm: waking vector %#x is not a real-mode address",
		       le32_to_cpu(vector));
		vm_request_stop(pm->vm, VM_STOP_ERROR, 0);
		return;
	}
	if (ret && ret != -ESHUTDOWN) {
		pr_err("acpi-pm: cannot wake the vCPUs: %s", strerror(-ret));
		vm_request_stop(pm->vm, VM_STOP_HOST_ERROR, 0);
		return;
	}
	pthread_mutex_lock(&pm->lock);
	if (!ret && ratelimit_allow(&pm->rl))
		pr_info("acpi-pm: woken from S3 (%s), vCPU 0 at %04x:%04x", why,
			le32_to_cpu(vector) >> 4, le32_to_cpu(vector) & 0xf);
	pthread_mutex_unlock(&pm->lock);
}

/* Empty a non-blocking eventfd or timerfd. */
static void pm_drain(int fd)
{
	u64 n;

	while (read(fd, &n, sizeof(n)) == sizeof(n))
		;
}

static void *pm_thread(void *arg)
{
	struct acpi_pm *pm = arg;
	struct pollfd fds[2] = {
		{ .fd = pm->kick_fd, .events = POLLIN },
		{ .fd = pm->timer_fd, .events = POLLIN },
	};

	pthread_setname_np(pthread_self(), "acpi-pm");
	seccomp_thread_enter(SECCOMP_THREAD_ACPI_PM);

	for (;;) {
		enum { NOTHING, SLEEP, WAKE } todo = NOTHING;
		const char *why = NULL;

		if (poll(fds, ARRAY_SIZE(fds), -1) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&pm->lock);
		/* What to do is read from the state: the counts do not matter. */
		pm_drain(pm->kick_fd);
		pm_drain(pm->timer_fd);
		if (pm->stopping) {
			pthread_mutex_unlock(&pm->lock);
			break;
		}
		pm_update_tmr_sts(pm);
		pm_update_sci(pm);
		pm_arm_timer(pm);
		if (pm->state == PM_SLEEP_REQUESTED) {
			todo = SLEEP;
		} else if (pm->state == PM_ASLEEP && pm_wake_pending(pm)) {
			todo = WAKE;
			why = pm->sts & ACPI_PM1_PWRBTN ? "power button" : "RTC alarm";
		}
		pthread_mutex_unlock(&pm->lock);

		if (todo == SLEEP)
			pm_enter_s3(pm);
		else if (todo == WAKE)
			pm_wake(pm, why);
	}
	return NULL;
}

/* ---- events from outside ------------------------------------------------- */

/* Set status bits from a hardware event; wake a sleeping machine. Lock held. */
static void pm_event(struct acpi_pm *pm, u16 sts)
{
	pm->sts |= sts;
	pm_update_sci(pm);
	if (pm->state != PM_AWAKE && pm_wake_pending(pm))
		pm_kick(pm);
}

static void pm_rtc_raise(struct hw_signal *s)
{
	struct acpi_pm *pm = container_of(s, struct acpi_pm, rtc_input);

	pthread_mutex_lock(&pm->lock);
	pm_event(pm, ACPI_PM1_RTC);
	pthread_mutex_unlock(&pm->lock);
}

static const struct hw_signal_ops pm_rtc_ops = {
	.raise = pm_rtc_raise,
};

struct hw_signal *acpi_pm_rtc_input(struct acpi_pm *pm)
{
	return &pm->rtc_input;
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm_event(pm, ACPI_PM1_PWRBTN);
	pthread_mutex_unlock(&pm->lock);
}

/* ---- registers ------------------------------------------------------------ */

/* SLP_EN was written with @typ. Lock held. */
static void pm_sleep(struct acpi_pm *pm, unsigned int typ)
{
	switch (typ) {
	case ACPI_SLP_TYP_S5:
		pr_info("acpi-pm: the guest entered S5 (soft off)");
		vm_request_stop(pm->vm, VM_STOP_POWEROFF, 0);
		return;
	case ACPI_SLP_TYP_S3:
		if (pm->state != PM_AWAKE)
			return;		/* already on its way down */
		if (vm_is_protected(pm->vm)) {
			/* Waking sets the vCPUs' state, which is sealed. */
			if (ratelimit_allow(&pm->rl))
				pr_warn("acpi-pm: S3 refused: the guest is protected and kestrel cannot restart its vCPUs (docs/protected.md)");
			break;
		}
		if (!pm_need_thread(pm)) {
			pm->state = PM_SLEEP_REQUESTED;
			pm_kick(pm);
			return;
		}
		break;		/* no firmware thread: the sleep ends at once */
	case ACPI_SLP_TYP_S0:
		break;
	default:
		if (ratelimit_allow(&pm->rl))
			pr_warn("acpi-pm: SLP_TYP %u is no sleep state here (S3 is %u, S5 %u): ignored",
				typ, ACPI_SLP_TYP_S3, ACPI_SLP_TYP_S5);
		break;
	}
	/* No sleep happened: an OS polling WAK_STS (ACPICA does) goes on. */
	pm->sts |= ACPI_PM1_WAK;
}

/* The register file as the guest reads it now. Lock held. */
static void pm_regs(struct acpi_pm *pm, u8 regs[ACPI_PM_NR_PORTS])
{
	u32 tmr = (u32)pm_ticks(pm) & PM_TMR_MASK;
	u16 cnt = pm->cnt | ACPI_PM1_CNT_SCI_EN;

	pm_update_tmr_sts(pm);
	memset(regs, 0, ACPI_PM_NR_PORTS);
	memcpy(regs + ACPI_PM1_STS, &(le16){ cpu_to_le16(pm->sts) }, 2);
	memcpy(regs + ACPI_PM1_EN, &(le16){ cpu_to_le16(pm->en) }, 2);
	memcpy(regs + ACPI_PM1_CNT, &(le16){ cpu_to_le16(cnt) }, 2);
	memcpy(regs + ACPI_PM_TMR, &(le32){ cpu_to_le32(tmr) }, 4);
}

static int pm_io_read(struct io_dev *dev, u64 offset, void *data, unsigned int len)
{
	struct acpi_pm *pm = container_of(dev, struct acpi_pm, dev);
	u8 regs[ACPI_PM_NR_PORTS];

	pthread_mutex_lock(&pm->lock);
	pm_regs(pm, regs);
	pm_update_sci(pm);	/* TMR_STS may have come up */
	pthread_mutex_unlock(&pm->lock);
	/* The bus keeps @offset + @len inside the range. */
	memcpy(data, regs + offset, len);
	return 0;
}

static int pm_io_write(struct io_dev *dev, u64 offset, const void *data, unsigned int len)
{
	struct acpi_pm *pm = container_of(dev, struct acpi_pm, dev);
	const u8 *in = data;
	bool tmr_en_was, slp_en = false;

	pthread_mutex_lock(&pm->lock);
	tmr_en_was = pm->en & ACPI_PM1_TMR;
	for (unsigned int i = 0; i < len; i++) {
		unsigned int at = (unsigned int)offset + i, shift = (at & 1) * 8;
		u16 v = (u16)(in[i] << shift), lane = (u16)(0xff << shift);

		switch (at & ~1u) {
		case ACPI_PM1_STS:
			if (v & ACPI_PM1_TMR)
				pm_update_tmr_sts(pm);	/* restart the bit-23 watch */
			pm->sts &= ~(v & PM1_STS_MASK);
			break;
		case ACPI_PM1_EN:
			pm->en = (pm->en & ~lane) | (v & PM1_EN_MASK);
			break;
		case ACPI_PM1_CNT:
			pm->cnt = (pm->cnt & ~lane) | (v & PM1_CNT_KEPT);
			slp_en |= v & ACPI_PM1_CNT_SLP_EN;
			break;
		default:
			break;	/* reserved, and the read-only timer */
		}
	}
	if (!tmr_en_was && (pm->en & ACPI_PM1_TMR) && !pm_need_thread(pm))
		pm_kick(pm);	/* the thread arms the timer */
	else if (tmr_en_was && !(pm->en & ACPI_PM1_TMR))
		pm_kick(pm);	/* and disarms it */
	pm_update_sci(pm);
	if (slp_en)
		pm_sleep(pm, (pm->cnt & ACPI_PM1_CNT_SLP_TYP) >> ACPI_PM1_CNT_SLP_TYP_SHIFT);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

static const struct io_ops pm_io_ops = {
	.read = pm_io_read,
	.write = pm_io_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = true,
};

/* ---- snapshots (docs/snapshot.md) ------------------------------------------ */

/*
 * The SNAP_SEC_ACPI_PM payload: PM1_STS, PM1_EN, PM1_CNT as stored, the
 * timer's ticks since its zero (64 bits) and the bit-23 epoch TMR_STS was
 * last brought up to date at.
 */
struct acpi_pm_snap {
	u16 sts, en, cnt;
	u16 pad;
	u32 tmr_epoch;
	u32 pad2;
	u64 ticks;
};

int acpi_pm_snapshot_save(struct acpi_pm *pm, struct snap_writer *w)
{
	struct acpi_pm_snap st = { 0 };

	pthread_mutex_lock(&pm->lock);
	if (pm->state != PM_AWAKE) {
		pthread_mutex_unlock(&pm->lock);
		pr_err("acpi-pm: the guest is in S3: no snapshot until it wakes");
		return -EBUSY;
	}
	st.sts = pm->sts;
	st.en = pm->en;
	st.cnt = pm->cnt;
	st.tmr_epoch = pm->tmr_epoch;
	st.ticks = pm_ticks(pm);
	pthread_mutex_unlock(&pm->lock);
	return snap_write_section(w, SNAP_SEC_ACPI_PM, 0, &st, sizeof(st));
}

/* More ticks than 600 years give: refused. */
#define PM_SNAP_TICKS_MAX	(1ULL << 56)

int acpi_pm_snapshot_restore(struct acpi_pm *pm, struct snap_reader *r)
{
	const struct acpi_pm_snap *st;
	struct timespec now;
	const void *data;
	size_t len;
	s64 sec, nsec;

	if (snap_read_section(r, SNAP_SEC_ACPI_PM, 0, &data, &len) || len != sizeof(*st))
		return -EINVAL;
	st = data;
	if ((st->sts & ~PM1_STS_MASK) || (st->en & ~PM1_EN_MASK) ||
	    (st->cnt & ~PM1_CNT_KEPT) || st->ticks > PM_SNAP_TICKS_MAX ||
	    st->tmr_epoch > (u32)(st->ticks >> PM_TMR_MSB_SHIFT))
		return -EINVAL;
	/* The timer's zero moves back so that it reads the saved ticks now. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	sec = now.tv_sec - (s64)(st->ticks / ACPI_PM_TIMER_HZ);
	nsec = now.tv_nsec - (s64)((st->ticks % ACPI_PM_TIMER_HZ) * NS_PER_SEC / ACPI_PM_TIMER_HZ);
	if (nsec < 0) {
		sec--;
		nsec += NS_PER_SEC;
	}
	pthread_mutex_lock(&pm->lock);
	pm->t0.tv_sec = (time_t)sec;
	pm->t0.tv_nsec = nsec;
	pm->sts = st->sts;
	pm->en = st->en;
	pm->cnt = st->cnt;
	pm->tmr_epoch = st->tmr_epoch;
	pm_update_sci(pm);
	if ((pm->en & ACPI_PM1_TMR) && !pm_need_thread(pm))
		pm_kick(pm);	/* the thread arms the timer */
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

int acpi_pm_create(struct vm *vm, u16 port, u32 sci, u64 facs_gpa,
		   struct acpi_pm **out)
{
	struct acpi_pm *pm;
	int ret;

	pm = xzalloc(sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	pm->dev.ops = &pm_io_ops;
	pm->dev.name = "acpi-pm";
	pm->rtc_input.ops = &pm_rtc_ops;
	pm->rtc_input.name = "acpi-pm RTC alarm";
	pm->vm = vm;
	pm->port = port;
	pm->sci = sci;
	pm->facs_gpa = facs_gpa;
	pm->rl = (struct ratelimit)RATELIMIT_INIT;
	pm->kick_fd = pm->timer_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &pm->t0);
	pthread_mutex_init(&pm->lock, NULL);
	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, port, ACPI_PM_NR_PORTS, &pm->dev);
	if (ret)
		goto err_destroy;
	pm->registered = true;
	*out = pm;
	return 0;

err_destroy:
	acpi_pm_destroy(pm);
	return ret;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	if (pm->registered)
		iobus_unregister(vm_iobus(pm->vm), IO_SPACE_PIO, pm->port);
	if (pm->thread_running) {
		pthread_mutex_lock(&pm->lock);
		pm->stopping = true;
		pm_kick(pm);
		pthread_mutex_unlock(&pm->lock);
		pthread_join(pm->thread, NULL);
		close(pm->kick_fd);
		close(pm->timer_fd);
	}
	if (pm->sci_level)
		vm_set_irq_line(pm->vm, pm->sci, false);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
