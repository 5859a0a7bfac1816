/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vhost-user server: exports one vDPA device on a Unix socket so that
 * another VMM or a DPDK application (the "front-end") drives it, the role
 * Linux's vhost_vdpa plays for vhost ioctls.
 *
 * One server serves one device to one front-end at a time. When the
 * front-end disconnects (or misbehaves and is disconnected) the device is
 * reset, its mappings removed and every fd of the session closed; the next
 * front-end to connect gets a fresh device. Nothing a peer sends makes the
 * server exit. Each connection is logged as it comes and goes (with the
 * queue counters, vhost_user_server_log_stats()), at most 10 connections
 * in 5 s: a peer that connects in a loop cannot flood the log.
 *
 * Threads: vhost_user_server_run() runs the message loop in the calling
 * thread. The device's own worker threads move the data; they only call
 * back into the server through the call-eventfd callback, which touches no
 * server state but a per-ring fd that changes only while the device has no
 * callback installed for that ring.
 */
#ifndef KESTREL_VHOST_USER_H
#define KESTREL_VHOST_USER_H

#include <stdbool.h>

#include <kestrel/types.h>

struct vdpa_device;
struct vhost_user_server;

/**
 * struct vhost_user_server_opts - knobs of a server
 * @iommu: offer VIRTIO_F_ACCESS_PLATFORM when the device does, so the
 *	front-end may use the IOTLB message path (off: the bit is hidden)
 * @max_mem_slots: regions the front-end may add with ADD_MEM_REG
 *	(0: VHOST_USER_SERVER_MEM_SLOTS)
 * @once: vhost_user_server_run() returns after the first front-end that
 *	sent a message disconnected (tests; a bare connect, as another
 *	server's check for a live socket, does not count)
 * @msg_timeout_ms: a message must arrive (and a reply leave) whole within
 *	this long of its first byte, or the front-end is dropped
 *	(0: VHOST_USER_SERVER_MSG_TIMEOUT_MS)
 * @landlock: vhost_user_serve() confines the process with Landlock before
 *	the device exists: the socket's directory (to replace and remove
 *	the socket) and the files the device opens (docs/landlock.md)
 * @ready: (optional) vhost_user_serve() calls it once the device exists and
 *	the socket listens, before the first front-end is served (tests)
 * @ready_arg: passed to @ready
 */
struct vhost_user_server_opts {
	bool iommu;
	unsigned int max_mem_slots;
	bool once;
	unsigned int msg_timeout_ms;
	bool landlock;
	void (*ready)(void *arg);
	void *ready_arg;
};

/** VHOST_USER_SERVER_MSG_TIMEOUT_MS - default whole-message deadline */
#define VHOST_USER_SERVER_MSG_TIMEOUT_MS	5000

/** VHOST_USER_SERVER_MEM_SLOTS - default and upper bound of memory regions */
#define VHOST_USER_SERVER_MEM_SLOTS	64

/**
 * vhost_user_server_create() - listen on @path for a front-end of @vdpa
 * @path: Unix socket path; a stale socket there (nothing answers a
 *	connect) is replaced, a live one or another file is refused
 * @vdpa: a registered device; the server resets it and owns its
 *	configuration until destroyed (the caller keeps the device itself)
 * @opts: options, or NULL for the defaults
 * @out: the new server
 *
 * Return: 0, -EINVAL (path too long, device with neither set_map nor
 * dma_map), -EADDRINUSE (a server answers on @path), -ENOTSOCK (@path
 * exists and is not a socket), -errno. Nothing is logged: the caller
 * names the option.
 */
int vhost_user_server_create(const char *path, struct vdpa_device *vdpa,
			     const struct vhost_user_server_opts *opts,
			     struct vhost_user_server **out);

/**
 * vhost_user_server_run() - serve front-ends until stopped
 * @s: the server
 *
 * Accepts one front-end at a time and handles its messages; returns when
 * vhost_user_server_stop() is called (or, with @opts.once, when the first
 * front-end left).
 *
 * Return: 0, or -errno if the listening socket or the event loop failed.
 */
int vhost_user_server_run(struct vhost_user_server *s);

/**
 * vhost_user_server_stop() - make vhost_user_server_run() return
 * @s: the server
 *
 * Async-signal-safe: one write to an eventfd.
 */
void vhost_user_server_stop(struct vhost_user_server *s);

/**
 * vhost_user_server_destroy() - disconnect, reset the device, free
 * @s: the server (NULL is accepted); not running
 *
 * Removes the socket file, if @path is still the one it bound.
 */
void vhost_user_server_destroy(struct vhost_user_server *s);

/**
 * vhost_user_server_log_stats() - log the device's per-queue counters
 * @s: the server
 *
 * One pr_info line per queue with any traffic: "vq N: packets=... bytes=...
 * drops=... errors=... kicks=... notifies=...". Peer tests parse these.
 */
void vhost_user_server_log_stats(struct vhost_user_server *s);

/**
 * vhost_user_server_connections() - front-ends accepted so far
 * @s: the server
 *
 * Return: the count (tests use it to wait for a reconnect).
 */
unsigned int vhost_user_server_connections(struct vhost_user_server *s);

/**
 * vhost_user_serve() - `kestrel vhost-user` after its options: create a
 *	device and serve it until SIGINT/SIGTERM
 * @path: --socket PATH, the Unix socket to listen on
 * @spec: --device TYPE[,attr=value...], a vdpa_mgmt_parse() spec (hostile)
 * @opts: server options (--iommu, --mem-slots, --once, --landlock), or NULL
 *
 * The device types must be registered (src/main.c does it). Installs
 * handlers for SIGINT and SIGTERM that stop the server, and ignores
 * SIGPIPE. The device is deleted before it returns.
 *
 * Return: 0 once stopped (or, with @opts->once, once the front-end left);
 * -EINVAL for a @spec or @path that does not work (a bad argument);
 * another negative errno when the host failed. Each failure is logged,
 * naming the option.
 */
int vhost_user_serve(const char *path, const char *spec,
		     const struct vhost_user_server_opts *opts);

#endif /* KESTREL_VHOST_USER_H */
