// SPDX-License-Identifier: GPL-2.0-only
/* I/O bus: registration rules, overlaps, access-size rules, dispatch. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <kestrel/iobus.h>

#include "../test.h"

struct fake_dev {
	struct io_dev io;
	u64 last_offset;
	unsigned int last_len;
	u8 reg[16];
	unsigned int reads, writes;
};

static struct fake_dev *to_fake(struct io_dev *d)
{
	return container_of(d, struct fake_dev, io);
}

static int fake_read(struct io_dev *d, u64 offset, void *data, unsigned int len)
{
	struct fake_dev *f = to_fake(d);

	__atomic_add_fetch(&f->reads, 1, __ATOMIC_RELAXED);
	f->last_offset = offset;
	f->last_len = len;
	/* Ranges may be larger than the register file: reads past it are 0. */
	if (offset + len > sizeof(f->reg))
		memset(data, 0, len);
	else
		memcpy(data, &f->reg[offset], len);
	return 0;
}

static int fake_write(struct io_dev *d, u64 offset, const void *data, unsigned int len)
{
	struct fake_dev *f = to_fake(d);

	f->writes++;
	f->last_offset = offset;
	f->last_len = len;
	if (offset + len <= sizeof(f->reg))
		memcpy(&f->reg[offset], data, len);
	return 0;
}

static int failing_read(struct io_dev *d, u64 offset, void *data, unsigned int len)
{
	memset(data, 0x12, len);
	return -EIO;
}

static const struct io_ops ops_4only = {
	.read = fake_read, .write = fake_write, .min_access = 4, .max_access = 4,
};
static const struct io_ops ops_any = {
	.read = fake_read, .write = fake_write, .min_access = 1, .max_access = 8,
	.unaligned = true,
};
static const struct io_ops ops_wo = { .write = fake_write, .min_access = 1, .max_access = 4 };
static const struct io_ops ops_fail = { .read = failing_read, .min_access = 1, .max_access = 4 };
static const struct io_ops ops_bad_size = { .read = fake_read, .min_access = 3, .max_access = 4 };
static const struct io_ops ops_bad_order = { .read = fake_read, .min_access = 4, .max_access = 2 };
static const struct io_ops ops_none = { .min_access = 1, .max_access = 4 };

static void test_register(void)
{
	struct fake_dev a = { .io = { &ops_any, "a" } }, b = { .io = { &ops_any, "b" } };
	struct fake_dev bad1 = { .io = { &ops_bad_size, "x" } }, bad2 = { .io = { &ops_bad_order, "y" } };
	struct fake_dev bad3 = { .io = { &ops_none, "z" } };
	struct iobus *bus;

	report_prefix_push("register");
	if (!report_eq(iobus_create(&bus), 0, "create"))
		return;
	report_err(iobus_register(bus, IO_SPACE_PIO, 0x100, 0, &a.io), -EINVAL, "empty range");
	report_err(iobus_register(bus, IO_SPACE_MMIO, UINT64_MAX, 2, &a.io), -EINVAL,
		   "wrapping range");
	report_eq(iobus_register(bus, IO_SPACE_MMIO, UINT64_MAX, 1, &a.io), 0,
		  "range ending at 2^64");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0xfff0, 0x20, &a.io), -EINVAL,
		   "ports past 0xffff");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0x100, 8, &bad1.io), -EINVAL,
		   "access size 3 rejected");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0x100, 8, &bad2.io), -EINVAL,
		   "min > max rejected");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0x100, 8, &bad3.io), -EINVAL,
		   "no handlers rejected");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0x100, 8, NULL), -EINVAL,
		   "no device rejected");
	report_err(iobus_register(bus, 7, 0x100, 8, &a.io), -EINVAL, "bad space rejected");
	report_eq(iobus_register(bus, IO_SPACE_PIO, 0x100, 8, &a.io), 0, "claim 0x100-0x107");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0x104, 1, &b.io), -EEXIST, "overlap inside");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0xf0, 0x11, &b.io), -EEXIST,
		   "overlap at start");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0x107, 4, &b.io), -EEXIST, "overlap at end");
	report_err(iobus_register(bus, IO_SPACE_PIO, 0xf0, 0x200, &b.io), -EEXIST,
		   "overlap around");
	report_eq(iobus_register(bus, IO_SPACE_PIO, 0x108, 4, &b.io), 0, "adjacent after");
	report_eq(iobus_register(bus, IO_SPACE_PIO, 0xf8, 8, &b.io), 0, "adjacent before");
	report_eq(iobus_register(bus, IO_SPACE_MMIO, 0x100, 8, &b.io), 0,
		  "same range in the other space");
	report_err(iobus_unregister(bus, IO_SPACE_PIO, 0x101), -ENOENT,
		   "unregister needs the base");
	report_eq(iobus_unregister(bus, IO_SPACE_PIO, 0x100), 0, "unregister");
	report_err(iobus_unregister(bus, IO_SPACE_PIO, 0x100), -ENOENT, "unregister twice");
	report_eq(iobus_register(bus, IO_SPACE_PIO, 0x100, 8, &a.io), 0,
		  "claim again after unregister");
	/* Many ranges: the array grows and stays sorted. */
	for (unsigned int i = 0; i < 100; i++)
		if (iobus_register(bus, IO_SPACE_MMIO, 0x10000 + i * 0x1000, 0x1000, &a.io))
			report(false, "register range %u", i);
	{
		u32 v = 0;
		int hits = 0;

		for (unsigned int i = 0; i < 100; i++)
			hits += iobus_dispatch(bus, IO_SPACE_MMIO, 0x10000 + i * 0x1000 + 0xffc,
					       &v, 4, false) == 0;
		report_eq(hits, 100, "100 ranges all reachable");
	}
	iobus_destroy(bus);
	iobus_destroy(NULL);
	report_prefix_pop();
}

static void test_dispatch(void)
{
	struct fake_dev four = { .io = { &ops_4only, "four" } };
	struct fake_dev any = { .io = { &ops_any, "any" } };
	struct fake_dev wo = { .io = { &ops_wo, "wo" } };
	struct fake_dev fail = { .io = { &ops_fail, "fail" } };
	struct iobus *bus;
	u64 v;

	report_prefix_push("dispatch");
	if (iobus_create(&bus) ||
	    iobus_register(bus, IO_SPACE_MMIO, 0x1000, 16, &four.io) ||
	    iobus_register(bus, IO_SPACE_MMIO, 0x2000, 16, &any.io) ||
	    iobus_register(bus, IO_SPACE_PIO, 0x60, 4, &wo.io) ||
	    iobus_register(bus, IO_SPACE_PIO, 0x70, 4, &fail.io)) {
		report(false, "setup");
		return;
	}
	v = 0x11223344;
	check_eq(iobus_dispatch(bus, IO_SPACE_MMIO, 0x1004, &v, 4, true), 0);
	check_eq(four.last_offset, 4);
	check_eq(four.last_len, 4);
	report_checks("4-byte write reaches offset 4");
	v = 0;
	check_eq(iobus_dispatch(bus, IO_SPACE_MMIO, 0x1004, &v, 4, false), 0);
	check_eq(v, 0x11223344);
	report_checks("4-byte read back");
	four.writes = 0;
	check_err(iobus_dispatch(bus, IO_SPACE_MMIO, 0x1004, &v, 2, true), -EINVAL);
	check_eq(four.writes, 0);
	report_checks("2-byte write to a 4-only device dropped");
	v = 0;
	check_err(iobus_dispatch(bus, IO_SPACE_MMIO, 0x1004, &v, 8, false), -EINVAL);
	check_eq(v, UINT64_MAX);
	report_checks("8-byte read of a 4-only device gives all ones");
	v = 0;
	check_err(iobus_dispatch(bus, IO_SPACE_MMIO, 0x1002, &v, 4, false), -EINVAL);
	check_eq((u32)v, UINT32_MAX);
	report_checks("unaligned access refused");
	report_err(iobus_dispatch(bus, IO_SPACE_MMIO, 0x200e, &v, 4, false), -EINVAL,
		   "access running past the range end refused");
	check_eq(iobus_dispatch(bus, IO_SPACE_MMIO, 0x2003, &v, 4, true), 0);
	check_eq(any.last_offset, 3);
	report_checks("unaligned access allowed when the device says so");
	report_err(iobus_dispatch(bus, IO_SPACE_MMIO, 0x2000, &v, 3, false), -EINVAL,
		   "3-byte access refused");
	v = 0;
	check_err(iobus_dispatch(bus, IO_SPACE_MMIO, 0x3000, &v, 4, false), -ENOENT);
	check_eq((u32)v, UINT32_MAX);
	report_checks("unclaimed read gives all ones");
	report_err(iobus_dispatch(bus, IO_SPACE_MMIO, 0xfff, &v, 4, true), -ENOENT,
		   "address just below a range is unclaimed");
	report_err(iobus_dispatch(bus, IO_SPACE_MMIO, 0x1010, &v, 4, true), -ENOENT,
		   "address just past a range is unclaimed");
	report_err(iobus_dispatch(bus, IO_SPACE_PIO, 0x1004, &v, 4, true), -ENOENT,
		   "MMIO ranges are not ports");
	v = 0;
	check_err(iobus_dispatch(bus, IO_SPACE_PIO, 0x60, &v, 1, false), -EINVAL);
	check_eq((u8)v, 0xff);
	report_checks("read of a write-only device gives all ones");
	check_eq(iobus_dispatch(bus, IO_SPACE_PIO, 0x61, &v, 1, true), 0);
	check_eq(wo.writes, 1);
	report_checks("write-only device takes writes");
	v = 0;
	check_eq(iobus_dispatch(bus, IO_SPACE_PIO, 0x70, &v, 2, false), 0);
	check_eq((u16)v, 0xffff);
	report_checks("a failing read handler gives all ones");
	iobus_destroy(bus);
	report_prefix_pop();
}

struct reader_arg {
	struct iobus *bus;
	unsigned int hits;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;

	for (unsigned int i = 0; i < 20000; i++) {
		u32 v;

		if (iobus_dispatch(a->bus, IO_SPACE_MMIO, 0x1000, &v, 4, false) == 0)
			a->hits++;
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct fake_dev d = { .io = { &ops_any, "d" } }, e = { .io = { &ops_any, "e" } };
	struct reader_arg args[2];
	pthread_t t[2];
	struct iobus *bus;
	bool ok = true;

	report_prefix_push("concurrent");
	if (iobus_create(&bus) || iobus_register(bus, IO_SPACE_MMIO, 0x1000, 16, &d.io)) {
		report(false, "setup");
		return;
	}
	for (int i = 0; i < 2; i++) {
		args[i] = (struct reader_arg){ .bus = bus };
		pthread_create(&t[i], NULL, reader, &args[i]);
	}
	/* Registration while vCPU-like readers dispatch. */
	for (unsigned int i = 0; i < 2000; i++) {
		ok &= iobus_register(bus, IO_SPACE_MMIO, 0x100000 + i * 16, 16, &e.io) == 0;
		if (i % 2)
			ok &= iobus_unregister(bus, IO_SPACE_MMIO, 0x100000 + (i - 1) * 16) == 0;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	report(ok, "registrations while dispatching all succeeded");
	check_eq(args[0].hits, 20000);
	check_eq(args[1].hits, 20000);
	check_eq(d.reads, 40000);
	report_checks("every concurrent read reached the device");
	iobus_destroy(bus);
	report_prefix_pop();
}

int main(void)
{
	test_register();
	test_dispatch();
	test_concurrent();
	return report_summary();
}
