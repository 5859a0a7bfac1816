/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_LANDLOCK_H
#define KESTREL_LANDLOCK_H

#include <stdbool.h>

/*
 * Landlock: confine the process to the paths it was configured with
 * (docs/landlock.md). A caller collects the paths with landlock_allow()
 * and calls landlock_apply() once, on the main thread, before the first
 * other thread exists: a Landlock domain holds for the thread that
 * enforces it and the threads it creates afterwards, so applying it first
 * covers every vCPU, device worker and API thread. From then on no thread
 * can open a path outside the set, execute anything, create or remove
 * files outside the directories allowed to, bind or connect a TCP socket,
 * connect to an abstract Unix socket or signal a process outside the
 * domain (each as far as the kernel's Landlock ABI goes). Files already
 * open stay usable.
 */

/* What a path is allowed (LANDLOCK_ALLOW_* bits). */
#define LANDLOCK_ALLOW_READ	(1u << 0)	/* open files for reading */
#define LANDLOCK_ALLOW_WRITE	(1u << 1)	/* open files for writing, truncate them */
#define LANDLOCK_ALLOW_DEVICE	(1u << 2)	/* ioctl() on character and block devices */
#define LANDLOCK_ALLOW_CREATE	(1u << 3)	/* a directory: create regular files and FIFOs in it */
#define LANDLOCK_ALLOW_REMOVE	(1u << 4)	/* a directory: unlink files in it */
#define LANDLOCK_ALLOW_SOCKET	(1u << 5)	/* a directory: bind Unix sockets in it */
#define LANDLOCK_ALLOW_LIST	(1u << 6)	/* a directory: read its entries (and fsync it) */
#define LANDLOCK_ALLOW_RW	(LANDLOCK_ALLOW_READ | LANDLOCK_ALLOW_WRITE)

/** LANDLOCK_MAX_RULES - paths one set may allow */
#define LANDLOCK_MAX_RULES	32

struct landlock;

/**
 * landlock_create() - an empty set: applied as is, nothing may be opened
 * @out: the set, for landlock_destroy()
 *
 * Return: 0 or -ENOMEM.
 */
int landlock_create(struct landlock **out);

/**
 * landlock_allow() - allow @path (a file, or a directory and all beneath it)
 * @ll: the set
 * @path: resolved now, following symlinks; a path that does not exist is
 *	left out (whatever would open it later fails as it would anyway)
 * @allow: LANDLOCK_ALLOW_* bits; the directory-only ones are dropped for a
 *	file
 *
 * Return: 0, -E2BIG (more than %LANDLOCK_MAX_RULES paths), or the -errno
 * of resolving @path for anything but its absence.
 */
int landlock_allow(struct landlock *ll, const char *path, unsigned int allow);

/**
 * landlock_allow_file() - landlock_allow() shaped as vdpa_mgmt_files()'s callback
 * @path: a file a device opens
 * @write: whether it opens it for writing
 * @ll: the set (struct landlock *)
 *
 * Allows reading @path, writing it if @write, and device ioctls on it (a
 * block device's size, the TUN clone device).
 *
 * Return: what landlock_allow() returns.
 */
int landlock_allow_file(const char *path, bool write, void *ll);

/**
 * landlock_allow_socket() - allow binding and removing the Unix socket @path
 * @path: a socket a device listens on (it need not exist yet)
 * @ll: the set (struct landlock *); shaped as vdpa_mgmt_sockets()'s callback
 *
 * Allows making sockets in @path's directory and removing files there.
 * Connecting to a Unix socket by path is not a right Landlock governs on
 * the kernels kestrel runs on (docs/landlock.md).
 *
 * Return: what landlock_allow() returns.
 */
int landlock_allow_socket(const char *path, void *ll);

/**
 * landlock_apply() - enforce @ll on the calling thread and its future threads
 * @ll: the set; it can be destroyed afterwards
 *
 * Sets no_new_privs (Landlock needs it, and kestrel executes nothing).
 * Uses every access right the running kernel's Landlock ABI knows. Where
 * the kernel has no Landlock (too old, or disabled), logs one line saying
 * the process is not confined and returns 0: the sandbox then rests on
 * seccomp and the jail.
 *
 * Return: 0, or -errno (the process is then unconfined: callers stop).
 */
int landlock_apply(struct landlock *ll);

/** landlock_destroy() - free @ll (NULL is fine); an applied domain stays */
void landlock_destroy(struct landlock *ll);

/**
 * landlock_abi_version() - the running kernel's Landlock ABI
 * Return: 1 or more, or 0 where the kernel has no Landlock.
 */
int landlock_abi_version(void);

#endif /* KESTREL_LANDLOCK_H */
