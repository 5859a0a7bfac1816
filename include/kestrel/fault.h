/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_FAULT_H
#define KESTREL_FAULT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Fault injection for creation paths. Every allocation and every KVM ioctl
 * made while building a VM, a vCPU or a device goes through xzalloc() /
 * kvm_ioctl(); each call is one "injection point". A test arms the Nth
 * point to fail, runs a creation path, and checks that it failed cleanly
 * and left nothing behind; then N + 1, until a run passes every point.
 * Unarmed (the default), the wrappers cost one relaxed atomic load.
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
 * kvm_ioctl() - ioctl(@fd, @req, @arg) that is an injection point
 *
 * Return: the ioctl's non-negative result, or a negative errno (an injected
 * failure returns -EIO).
 */
int kvm_ioctl(int fd, unsigned long req, void *arg);

#endif /* KESTREL_FAULT_H */
