// SPDX-License-Identifier: GPL-2.0-only
#include <kestrel/fault.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>

/* 0 = disarmed. Both counters are touched from any thread. */
static atomic_ulong fault_target;
static atomic_ulong fault_count;
static atomic_bool fault_fired;

void fault_inject_arm(unsigned long nth)
{
	atomic_store(&fault_count, 0);
	atomic_store(&fault_fired, false);
	atomic_store(&fault_target, nth);
}

unsigned long fault_inject_count(void)
{
	return atomic_load(&fault_count);
}

bool fault_inject_fired(void)
{
	return atomic_load(&fault_fired);
}

bool fault_inject_hit(void)
{
	unsigned long target = atomic_load_explicit(&fault_target,
						    memory_order_relaxed);

	if (__builtin_expect(target == 0, 1))
		return false;
	if (atomic_fetch_add(&fault_count, 1) + 1 != target)
		return false;
	atomic_store(&fault_fired, true);
	return true;
}

void *xzalloc(size_t size)
{
	if (fault_inject_hit())
		return NULL;
	return calloc(1, size);
}

void *xcalloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	if (fault_inject_hit())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	if (fault_inject_hit())
		return -EIO;
	ret = ioctl(fd, req, arg);
	return ret < 0 ? -errno : ret;
}
