// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPU hot-plug test port: lets a guest test prove that a vCPU created while
 * the VM runs sees the same CPUID as the first ones. A read returns the
 * number of vCPUs; a write of any value creates and starts one more (its
 * APIC ID is the previous count), which the guest then wakes with
 * INIT-SIPI-SIPI. A guest can ask for more vCPUs than the host allows: the
 * failure is logged (rate-limited) and the count simply does not grow.
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

#define CPUHOTPLUG_NR_PORTS	4

struct cpuhotplug {
	struct io_dev dev;
	struct vm *vm;
	u16 port;
	bool registered;
};

static int cpuhotplug_read(struct io_dev *dev, u64 offset, void *data,
			   unsigned int len)
{
	struct cpuhotplug *c = container_of(dev, struct cpuhotplug, dev);
	u32 n = offset ? 0 : vm_nr_vcpus(c->vm);

	memset(data, 0, len);
	memcpy(data, &n, MIN(len, sizeof(n)));
	return 0;
}

static int cpuhotplug_write(struct io_dev *dev, u64 offset, const void *data,
			    unsigned int len)
{
	struct cpuhotplug *c = container_of(dev, struct cpuhotplug, dev);
	struct vcpu *vcpu;
	int ret;

	if (offset)
		return 0;
	ret = vm_add_vcpu(c->vm, &vcpu);
	if (ret)
		pr_warn_ratelimited("cpu-hotplug: cannot add a vCPU: %s",
				    ret == -EPERM ? "the guest is protected: its vCPU state is sealed (docs/protected.md)" :
				    strerror(-ret));
	return 0;
}

static const struct io_ops cpuhotplug_ops = {
	.read = cpuhotplug_read,
	.write = cpuhotplug_write,
	.min_access = 1,
	.max_access = 4,
	.unaligned = true,
};

int cpuhotplug_create(struct vm *vm, u16 port, struct cpuhotplug **out)
{
	struct cpuhotplug *c;
	int ret;

	c = xzalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->dev.ops = &cpuhotplug_ops;
	c->dev.name = "cpu-hotplug";
	c->vm = vm;
	c->port = port;
	ret = iobus_register(vm_iobus(vm), IO_SPACE_PIO, port,
			     CPUHOTPLUG_NR_PORTS, &c->dev);
	if (ret)
		goto err_destroy;
	c->registered = true;
	*out = c;
	return 0;

err_destroy:
	cpuhotplug_destroy(c);
	return ret;
}

void cpuhotplug_destroy(struct cpuhotplug *c)
{
	if (!c)
		return;
	if (c->registered)
		iobus_unregister(vm_iobus(c->vm), IO_SPACE_PIO, c->port);
	free(c);
}
