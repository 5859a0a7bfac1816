// SPDX-License-Identifier: GPL-2.0-only
/*
 * Injection points for creation paths (include/kestrel/fault.h). In util so
 * that every subsystem, the vDPA library included, can use it.
 */
#include <kestrel/fault.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/timerfd.h>

/* 0 = disarmed. All three are touched from any thread. */
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
	return calloc(1, size ? size : 1);
}

void *xcalloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	if (fault_inject_hit())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *xmalloc(size_t size)
{
	if (fault_inject_hit())
		return NULL;
	return malloc(size ? size : 1);
}

char *xstrdup(const char *s)
{
	if (fault_inject_hit())
		return NULL;
	return strdup(s);
}

int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	if (fault_inject_hit())
		return -EIO;
	ret = ioctl(fd, req, arg);
	return ret < 0 ? -errno : ret;
}

int xopen(const char *path, int flags, mode_t mode)
{
	int fd;

	if (fault_inject_hit())
		return -EMFILE;
	fd = open(path, flags, mode);
	return fd < 0 ? -errno : fd;
}

int xeventfd(unsigned int initval, int flags)
{
	int fd;

	if (fault_inject_hit())
		return -EMFILE;
	fd = eventfd(initval, flags);
	return fd < 0 ? -errno : fd;
}

int xepoll_create1(int flags)
{
	int fd;

	if (fault_inject_hit())
		return -EMFILE;
	fd = epoll_create1(flags);
	return fd < 0 ? -errno : fd;
}

int xtimerfd_create(int clockid, int flags)
{
	int fd;

	if (fault_inject_hit())
		return -EMFILE;
	fd = timerfd_create(clockid, flags);
	return fd < 0 ? -errno : fd;
}

int xmemfd_create(const char *name, unsigned int flags)
{
	int fd;

	if (fault_inject_hit())
		return -EMFILE;
	fd = memfd_create(name, flags);
	return fd < 0 ? -errno : fd;
}

void *xmmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (fault_inject_hit()) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return mmap(addr, len, prot, flags, fd, off);
}

int xpthread_create(pthread_t *thread, const pthread_attr_t *attr,
		    void *(*fn)(void *), void *arg)
{
	if (fault_inject_hit())
		return -EAGAIN;
	return -pthread_create(thread, attr, fn, arg);
}
