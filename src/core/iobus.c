// SPDX-License-Identifier: GPL-2.0-only
/*
 * The I/O bus: per address space, a sorted array of claimed ranges.
 *
 * Locking: one rwlock per bus. Dispatch takes it for reading around the
 * lookup *and* the device call, so iobus_unregister() (write side) returns
 * only once no vCPU is inside the device any more: after it, the device may
 * be freed. The price: a device handler must not register or unregister
 * ranges on the bus that called it (that would wait for itself).
 * glibc's default rwlock prefers readers, so concurrent vCPUs never wait
 * for each other on the hot path.
 */
#include <kestrel/iobus.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/log.h>

#define PIO_SPACE_END		0x10000ULL	/* 16-bit port numbers */

struct io_range {
	u64 base;
	u64 len;
	struct io_dev *dev;
};

struct io_map {
	struct io_range *ranges;	/* ascending base, non-overlapping */
	unsigned int nr, cap;
};

struct iobus {
	pthread_rwlock_t lock;
	struct io_map maps[2];		/* indexed by enum io_space */
};

int iobus_create(struct iobus **out)
{
	struct iobus *bus = xzalloc(sizeof(*bus));

	if (!bus)
		return -ENOMEM;
	pthread_rwlock_init(&bus->lock, NULL);
	*out = bus;
	return 0;
}

void iobus_destroy(struct iobus *bus)
{
	if (!bus)
		return;
	for (unsigned int i = 0; i < ARRAY_SIZE(bus->maps); i++)
		free(bus->maps[i].ranges);
	pthread_rwlock_destroy(&bus->lock);
	free(bus);
}

static bool is_access_size(unsigned int n)
{
	return n == 1 || n == 2 || n == 4 || n == 8;
}

static bool ops_are_valid(const struct io_ops *ops)
{
	return ops && (ops->read || ops->write) &&
	       is_access_size(ops->min_access) && is_access_size(ops->max_access) &&
	       ops->min_access <= ops->max_access;
}

/* Index of the first range whose last byte is >= addr (nr if none). */
static unsigned int map_lower_bound(const struct io_map *m, u64 addr)
{
	unsigned int lo = 0, hi = m->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct io_range *r = &m->ranges[mid];

		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool space_is_valid(enum io_space space)
{
	return space == IO_SPACE_PIO || space == IO_SPACE_MMIO;
}

int iobus_register(struct iobus *bus, enum io_space space, u64 base, u64 len,
		   struct io_dev *dev)
{
	struct io_map *m;
	unsigned int pos;
	u64 last;
	int ret = 0;

	if (!space_is_valid(space) || !dev || !ops_are_valid(dev->ops))
		return -EINVAL;
	if (!len || base + (len - 1) < base)
		return -EINVAL;
	last = base + (len - 1);
	if (space == IO_SPACE_PIO && last >= PIO_SPACE_END)
		return -EINVAL;

	pthread_rwlock_wrlock(&bus->lock);
	m = &bus->maps[space];
	pos = map_lower_bound(m, base);
	if (pos < m->nr && m->ranges[pos].base <= last) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (m->nr == m->cap) {
		unsigned int cap = m->cap ? m->cap * 2 : 16;
		struct io_range *n = xcalloc(cap, sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		if (m->nr)
			memcpy(n, m->ranges, m->nr * sizeof(*n));
		free(m->ranges);
		m->ranges = n;
		m->cap = cap;
	}
	memmove(&m->ranges[pos + 1], &m->ranges[pos],
		(m->nr - pos) * sizeof(m->ranges[0]));
	m->ranges[pos] = (struct io_range){ .base = base, .len = len, .dev = dev };
	m->nr++;
out_unlock:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int iobus_unregister(struct iobus *bus, enum io_space space, u64 base)
{
	struct io_map *m;
	unsigned int pos;
	int ret = -ENOENT;

	if (!space_is_valid(space))
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	m = &bus->maps[space];
	pos = map_lower_bound(m, base);
	if (pos < m->nr && m->ranges[pos].base == base) {
		memmove(&m->ranges[pos], &m->ranges[pos + 1],
			(m->nr - pos - 1) * sizeof(m->ranges[0]));
		m->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

/* Whether @dev accepts a @len-byte access at @offset of a @range_len range. */
static bool access_is_allowed(const struct io_ops *ops, u64 offset, u64 range_len,
			      unsigned int len, bool is_write)
{
	if (!is_access_size(len) || len < ops->min_access || len > ops->max_access)
		return false;
	if (!ops->unaligned && !IS_ALIGNED(offset, len))
		return false;
	if (len > range_len || offset > range_len - len)
		return false;
	return is_write ? ops->write != NULL : ops->read != NULL;
}

int iobus_dispatch(struct iobus *bus, enum io_space space, u64 addr, void *data,
		   unsigned int len, bool is_write)
{
	const struct io_range *r;
	const struct io_map *m;
	struct io_dev *dev;
	unsigned int pos;
	u64 offset;
	int ret;

	if (!is_write)
		memset(data, 0xff, len);
	if (!space_is_valid(space))
		return -EINVAL;

	pthread_rwlock_rdlock(&bus->lock);
	m = &bus->maps[space];
	pos = map_lower_bound(m, addr);
	if (pos == m->nr || m->ranges[pos].base > addr) {
		ret = -ENOENT;
		goto out_unlock;
	}
	r = &m->ranges[pos];
	dev = r->dev;
	offset = addr - r->base;
	if (!access_is_allowed(dev->ops, offset, r->len, len, is_write)) {
		pr_warn_ratelimited("%s: %u-byte %s at %s 0x%llx (+0x%llx) breaks its access rules",
				    dev->name ? dev->name : "device", len,
				    is_write ? "write" : "read",
				    space == IO_SPACE_PIO ? "port" : "address",
				    (unsigned long long)addr, (unsigned long long)offset);
		ret = -EINVAL;
		goto out_unlock;
	}
	if (is_write) {
		ret = dev->ops->write(dev, offset, data, len);
	} else {
		ret = dev->ops->read(dev, offset, data, len);
		if (ret)
			memset(data, 0xff, len);
	}
	if (ret) {
		pr_warn_ratelimited("%s: %s at +0x%llx failed: %d",
				    dev->name ? dev->name : "device",
				    is_write ? "write" : "read",
				    (unsigned long long)offset, ret);
		ret = 0;	/* handled: the device saw the access */
	}
out_unlock:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}
