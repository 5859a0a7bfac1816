/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_IOBUS_H
#define KESTREL_IOBUS_H

#include <kestrel/types.h>

/*
 * The I/O bus: port-I/O and MMIO ranges claimed by devices, and dispatch of
 * vCPU exits to them. Access-size rules live here, not in every device: an
 * access the device's ops do not accept never reaches the device (a read
 * returns all ones, a write is dropped, and a rate-limited warning is
 * logged). Accesses to unclaimed addresses behave the same way, silently.
 */

enum io_space {
	IO_SPACE_PIO,
	IO_SPACE_MMIO,
};

struct io_dev;

/**
 * struct io_ops - what a device does with accesses to its range
 * @read: fill @data (@len bytes, little-endian) for an access at @offset
 *	  from the range base; return 0 or a negative errno (logged, the
 *	  guest reads all ones)
 * @write: consume @len bytes at @offset; return 0 or a negative errno
 * @min_access: smallest access size accepted (1, 2, 4 or 8)
 * @max_access: largest access size accepted
 * @unaligned: whether accesses not aligned to their size are accepted
 *
 * Called from vCPU threads, possibly several at once: the device locks.
 */
struct io_ops {
	int (*read)(struct io_dev *dev, u64 offset, void *data, unsigned int len);
	int (*write)(struct io_dev *dev, u64 offset, const void *data,
		     unsigned int len);
	u8 min_access;
	u8 max_access;
	bool unaligned;
};

/**
 * struct io_dev - embedded in a device; container_of() back to it
 * @ops: the device's const ops
 * @name: for log messages
 */
struct io_dev {
	const struct io_ops *ops;
	const char *name;
};

struct iobus;

/** iobus_create() - an empty bus; Return: 0 or -ENOMEM */
int iobus_create(struct iobus **out);

/** iobus_destroy() - free @bus (devices are not touched); @bus may be NULL */
void iobus_destroy(struct iobus *bus);

/**
 * iobus_register() - claim [@base, @base + @len) in @space for @dev
 * Return: 0; -EINVAL for an empty or wrapping range or bad ops;
 * -EEXIST if it overlaps a claimed range; -ENOMEM.
 */
int iobus_register(struct iobus *bus, enum io_space space, u64 base, u64 len,
		   struct io_dev *dev);

/**
 * iobus_unregister() - release the range that starts at @base
 * Return: 0, or -ENOENT if no range starts there.
 */
int iobus_unregister(struct iobus *bus, enum io_space space, u64 base);

/**
 * iobus_dispatch() - deliver one access to the device that claims @addr
 * @data: @len bytes; filled for reads
 *
 * Return: 0 if a device handled it; -ENOENT if nothing claims @addr (reads
 * then return all ones); -EINVAL if the access broke the device's size or
 * alignment rules (reads return all ones).
 */
int iobus_dispatch(struct iobus *bus, enum io_space space, u64 addr, void *data,
		   unsigned int len, bool is_write);

#endif /* KESTREL_IOBUS_H */
