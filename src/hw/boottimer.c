// SPDX-License-Identifier: GPL-2.0-only
/*
 * Boot timer: the guest's init writes X86_BOOT_TIMER_MAGIC to an MMIO page
 * when userspace is reached, and kestrel logs how long that took since its
 * own process started. The start is taken by a constructor, before main()
 * and before any VM set-up, so the figure covers everything kestrel does
 * (only the dynamic loader's work before constructors is missed).
 */
#include <kestrel/hw.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/snapshot.h>
#include <kestrel/vm.h>
#include <kestrel/x86/layout.h>

struct boottimer {
	struct io_dev dev;
	struct vm *vm;
	u64 gpa;
	bool registered;
	bool reported;		/* first magic write logged; atomic flag */
	/* Bench sink: relaxed atomics, a benchmark runs on one vCPU. */
	u64 sink_count;
	u64 sink_start_ns;
};

static u64 process_start_ns;

static u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

__attribute__((constructor)) static void boottimer_note_start(void)
{
	process_start_ns = monotonic_ns();
}

u64 boottimer_process_start_ns(void)
{
	return process_start_ns;
}

static bool is_sink_reg(u64 offset)
{
	return offset >= BOOTTIMER_REG_SINK && offset < BOOTTIMER_REG_STOP + 8;
}

static int boottimer_read(struct io_dev *dev, u64 offset, void *data,
			  unsigned int len)
{
	struct boottimer *t = container_of(dev, struct boottimer, dev);
	u64 v, shift;

	memset(data, 0, len);
	if (offset < BOOTTIMER_REG_SINK || offset >= BOOTTIMER_REG_SINK + 8)
		return 0;
	/* Little-endian bytes of the count from @offset (may cross the end). */
	v = __atomic_load_n(&t->sink_count, __ATOMIC_RELAXED);
	shift = 8 * (offset - BOOTTIMER_REG_SINK);
	v >>= shift;
	memcpy(data, &v, MIN((u64)len, 8 - (offset - BOOTTIMER_REG_SINK)));
	return 0;
}

/* The exit-cost benchmark's registers; see include/kestrel/hw.h. */
static void boottimer_sink_write(struct boottimer *t, u64 offset)
{
	u64 now, n, ns;

	switch (offset) {
	case BOOTTIMER_REG_SINK:
		__atomic_fetch_add(&t->sink_count, 1, __ATOMIC_RELAXED);
		return;
	case BOOTTIMER_REG_START:
		__atomic_store_n(&t->sink_count, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&t->sink_start_ns, monotonic_ns(), __ATOMIC_RELAXED);
		return;
	case BOOTTIMER_REG_STOP:
		now = monotonic_ns();
		n = __atomic_load_n(&t->sink_count, __ATOMIC_RELAXED) + 1;
		ns = now - __atomic_load_n(&t->sink_start_ns, __ATOMIC_RELAXED);
		/* Guest-triggered, but a benchmark guest logs once per run. */
		__pr_ratelimited(LOG_INFO,
				 "bench-sink: EXIT-COST-MARKER exits=%llu ns_per_exit=%llu.%llu",
				 (unsigned long long)n, (unsigned long long)(ns / n),
				 (unsigned long long)(ns % n * 10 / n));
		return;
	}
}

static int boottimer_write(struct io_dev *dev, u64 offset, const void *data,
			   unsigned int len)
{
	struct boottimer *t = container_of(dev, struct boottimer, dev);
	u64 us;

	if (is_sink_reg(offset)) {
		boottimer_sink_write(t, offset);
		return 0;
	}
	if (*(const u8 *)data != X86_BOOT_TIMER_MAGIC)
		return 0;
	/* Several vCPUs may race here: only the first one reports. */
	if (__atomic_exchange_n(&t->reported, true, __ATOMIC_RELAXED))
		return 0;
	us = (monotonic_ns() - process_start_ns) / 1000;
	pr_info("guest userspace reached after %llu.%03llu ms",
		(unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
	pr_info("boot-timer: BOOT-TIMER-MARKER ms=%llu.%03llu",
		(unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
	return 0;
}

static const struct io_ops boottimer_ops = {
	.read = boottimer_read,
	.write = boottimer_write,
	.min_access = 1,
	.max_access = 8,
	.unaligned = true,
};

/*
 * The SNAP_SEC_BOOTTIMER payload: whether userspace was reported, the
 * bench sink's count and the ns since its START (the restored sink times
 * on from there).
 */
struct boottimer_snap {
	u8 reported;
	u8 pad[7];
	u64 sink_count;
	u64 sink_elapsed_ns;
};

int boottimer_snapshot_save(struct boottimer *t, struct snap_writer *w)
{
	struct boottimer_snap st = {
		.reported = __atomic_load_n(&t->reported, __ATOMIC_RELAXED),
		.sink_count = __atomic_load_n(&t->sink_count, __ATOMIC_RELAXED),
	};
	u64 start = __atomic_load_n(&t->sink_start_ns, __ATOMIC_RELAXED);

	st.sink_elapsed_ns = start ? monotonic_ns() - start : 0;
	return snap_write_section(w, SNAP_SEC_BOOTTIMER, 0, &st, sizeof(st));
}

int boottimer_snapshot_restore(struct boottimer *t, struct snap_reader *r)
{
	const struct boottimer_snap *st;
	const void *data;
	size_t len;
	u64 now = monotonic_ns();

	if (snap_read_section(r, SNAP_SEC_BOOTTIMER, 0, &data, &len) || len != sizeof(*st))
		return -EINVAL;
	st = data;
	if (st->reported > 1 || st->sink_elapsed_ns >= now)
		return -EINVAL;
	__atomic_store_n(&t->reported, st->reported, __ATOMIC_RELAXED);
	__atomic_store_n(&t->sink_count, st->sink_count, __ATOMIC_RELAXED);
	__atomic_store_n(&t->sink_start_ns, st->sink_elapsed_ns ? now - st->sink_elapsed_ns : 0,
			 __ATOMIC_RELAXED);
	return 0;
}

int boottimer_create(struct vm *vm, u64 gpa, struct boottimer **out)
{
	struct boottimer *t;
	int ret;

	t = xzalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->dev.ops = &boottimer_ops;
	t->dev.name = "boot-timer";
	t->vm = vm;
	t->gpa = gpa;
	ret = iobus_register(vm_iobus(vm), IO_SPACE_MMIO, gpa,
			     X86_BOOT_TIMER_SIZE, &t->dev);
	if (ret)
		goto err_destroy;
	t->registered = true;
	*out = t;
	return 0;

err_destroy:
	boottimer_destroy(t);
	return ret;
}

void boottimer_destroy(struct boottimer *t)
{
	if (!t)
		return;
	if (t->registered)
		iobus_unregister(vm_iobus(t->vm), IO_SPACE_MMIO, t->gpa);
	free(t);
}
