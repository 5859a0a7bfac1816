// SPDX-License-Identifier: GPL-2.0-only
/*
 * Debug-exit port: how test guests end a run with a result. A write of v
 * stops the VM with status (v << 1) | 1, so a status is always odd and can
 * never be mistaken for kestrel's own 0 (clean reset) or 2 (bad arguments).
 */
#include <kestrel/hw.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/compiler.h>
#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/vm.h>

#define DEBUGEXIT_NR_PORTS	4

struct debugexit {
	struct io_dev dev;
	struct vm *vm;
	u16 port;
	bool registered;
};

static int debugexit_read(struct io_dev *dev, u64 offset, void *data,
			  unsigned int len)
{
	memset(data, 0, len);
	return 0;
}

static int debugexit_write(struct io_dev *dev, u64 offset, const void *data,
			   unsigned int len)
{
	struct debugexit *d = container_of(dev, struct debugexit, dev);
	u32 v = 0;

	if (offset != 0) {
		pr_warn_ratelimited("debug-exit: write at port %#x+%u ignored",
				    d->port, (unsigned int)offset);
		return 0;
	}
	memcpy(&v, data, MIN(len, sizeof(v)));
	vm_request_stop(d->vm, VM_STOP_EXIT, (int)((v << 1) | 1));
	return 0;
}

static const struct io_ops debugexit_ops = {
	.read = debugexit_read,
	.write = debugexit_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = true,
};

int debugexit_create(struct vm *vm, u16 port, struct debugexit **out)
{
	struct debugexit *d;
	int ret;

	d = xzalloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dev.ops = &debugexit_ops;
	d->dev.name = "debug-exit";
	d->vm = vm;
	d->port = port;
	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, port,
			     DEBUGEXIT_NR_PORTS, &d->dev);
	if (ret)
		goto err_destroy;
	d->registered = true;
	*out = d;
	return 0;

err_destroy:
	debugexit_destroy(d);
	return ret;
}

void debugexit_destroy(struct debugexit *d)
{
	if (!d)
		return;
	if (d->registered)
		iobus_unregister(vm_iobus(d->vm), IO_SPACE_PIO, d->port);
	free(d);
}
