/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_FAULT_H
#define KESTREL_FAULT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Fault injection for creation paths. Every allocation, every KVM ioctl and
 * every fd, mapping or thread made while building a VM, a vCPU or a device
 * goes through one of the x*() wrappers below (or kvm_ioctl()); each call
 * is one "injection point". A test arms the Nth point to fail, runs a
 * creation path, and checks that it failed cleanly and left nothing behind;
 * then N + 1, until a run passes every point (tests/unit/core/fault_test.c).
 * Unarmed (the default), a wrapper costs one relaxed atomic load.
 *
 * This lives in util: the vDPA library (iotlb, vringh, vdpa) uses it too
 * and must not depend on core. Undo paths (close, munmap, free, *_del) are
 * never injection points: teardown must not fail artificially.
 */

/**
 * fault_inject_arm() - make the @nth injection point from now fail
 * @nth: 1-based; 0 disarms and stops counting
 *
 * The counter restarts at 0. Only one point fails per arming.
 */
void fault_inject_arm(unsigned long nth);

/** fault_inject_count() - injection points passed since the last arming */
unsigned long fault_inject_count(void);

/** fault_inject_fired() - whether the armed point was reached and failed */
bool fault_inject_fired(void);

/**
 * fault_inject_hit() - count one injection point
 * Return: true if this point must fail (the caller then fails as the real
 * operation would: NULL for allocations, -ENOMEM/-EIO for syscalls).
 */
bool fault_inject_hit(void);

/**
 * xzalloc() - calloc(1, @size) that is an injection point
 * Return: zeroed memory, or NULL (allocation failed or was made to fail).
 */
void *xzalloc(size_t size);

/**
 * xcalloc() - calloc(@n, @size) that is an injection point
 * Return: zeroed memory, or NULL on overflow or failure.
 */
void *xcalloc(size_t n, size_t size);

/**
 * xmalloc() - malloc(@size) that is an injection point
 * Return: uninitialised memory, or NULL.
 */
void *xmalloc(size_t size);

/**
 * xstrdup() - strdup(@s) that is an injection point
 * Return: a copy to free(), or NULL.
 */
char *xstrdup(const char *s);

/**
 * kvm_ioctl() - ioctl(@fd, @req, @arg) that is an injection point
 *
 * Return: the ioctl's non-negative result, or a negative errno (an injected
 * failure returns -EIO).
 */
int kvm_ioctl(int fd, unsigned long req, void *arg);

/**
 * xopen() - open(@path, @flags, @mode) that is an injection point
 * Return: the fd, or a negative errno (injected: -EMFILE).
 */
int xopen(const char *path, int flags, mode_t mode);

/**
 * xeventfd() - eventfd(@initval, @flags) that is an injection point
 * Return: the fd, or a negative errno (injected: -EMFILE).
 */
int xeventfd(unsigned int initval, int flags);

/**
 * xepoll_create1() - epoll_create1(@flags) that is an injection point
 * Return: the fd, or a negative errno (injected: -EMFILE).
 */
int xepoll_create1(int flags);

/**
 * xtimerfd_create() - timerfd_create(@clockid, @flags) that is an injection point
 * Return: the fd, or a negative errno (injected: -EMFILE).
 */
int xtimerfd_create(int clockid, int flags);

/**
 * xmemfd_create() - memfd_create(@name, @flags) that is an injection point
 * Return: the fd, or a negative errno (injected: -EMFILE).
 */
int xmemfd_create(const char *name, unsigned int flags);

/**
 * xmmap() - mmap() that is an injection point
 *
 * Same arguments and return as mmap(2) so call sites stay idiomatic:
 * MAP_FAILED with errno set (injected: ENOMEM).
 */
void *xmmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

/**
 * xpthread_create() - pthread_create() that is an injection point
 *
 * Return: 0, or a NEGATIVE errno (unlike pthread_create(); injected:
 * -EAGAIN), so callers can propagate it as it is.
 */
int xpthread_create(pthread_t *thread, const pthread_attr_t *attr,
		    void *(*fn)(void *), void *arg);

#endif /* KESTREL_FAULT_H */
