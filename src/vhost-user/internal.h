/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-user server internals (private to src/vhost-user/ and its tests).
 *
 * How vhost-user drives the vDPA status state machine. vhost-user has no
 * device status of its own unless the STATUS protocol feature is
 * negotiated, and even then front-ends write bits in orders a virtio device
 * refuses (QEMU adds FEATURES_OK alone, DPDK never writes DRIVER_OK without
 * STATUS). So the server drives the device itself, the way vhost_vdpa does
 * for the kernel, and keeps the front-end's status byte only as a shadow:
 *
 *   SET_FEATURES     reset if FEATURES_OK is set with other features, then
 *                    ACKNOWLEDGE|DRIVER, vdpa_set_features(), FEATURES_OK
 *   ring messages    recorded in a per-ring shadow (struct vhost_user_vring)
 *   a ring is live   when it has size, addresses, a kick (fd or "polled"),
 *                    is enabled (SET_VRING_ENABLE, or implicitly without
 *                    PROTOCOL_FEATURES), was not stopped by GET_VRING_BASE,
 *                    and memory is mapped; vhost_user_dev_commit() then
 *                    programs it (num, address, base, callback, kick fd)
 *                    and enables it; the first live ring sets DRIVER_OK
 *   ring changes     after DRIVER_OK the device is suspended around the
 *                    reprogramming (vdpa requires it); a device without
 *                    suspend is reset and reprogrammed from the shadow
 *   GET_VRING_BASE   disables the ring on the device and reads its state
 *   SET_STATUS 0,    reset the device; shadows stay, rings stay stopped
 *   RESET_DEVICE     until the front-end configures them again
 *   SET_INFLIGHT_FD  (blk) region checked and mapped while no ring runs;
 *                    each ring programmed afterwards records in it (in
 *                    its layout, split or packed), and reads it back when
 *                    it starts (inflight.c)
 *   disconnect       reset, unmap all memory, close every fd
 *
 * Kicks are never lost: the device reads its kick fd itself, a ring that
 * goes live is kicked once (a kick written before it was live is then acted
 * on), and enabling a ring or DRIVER_OK makes the device scan its rings.
 */
#ifndef KESTREL_VHOST_USER_INTERNAL_H
#define KESTREL_VHOST_USER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <kestrel/iotlb.h>
#include <kestrel/log.h>
#include <kestrel/vdpa.h>
#include <kestrel/vhost-user.h>

#include "protocol.h"

/* Largest ring vhost-user lets a split ring have (virtio 1.2 §2.7). */
#define VHOST_USER_VRING_MAX	32768

/**
 * struct vhost_user_region - one mapped region of the front-end's memory
 * @gpa: guest physical address of the first byte
 * @size: bytes
 * @uva: the front-end's user address of the first byte
 * @mmap_offset: offset of the region in its fd
 * @mmap_base: what mmap() returned (covers @mmap_offset + @size bytes)
 * @mmap_len: length passed to mmap()
 * @hva: our address of the first byte (@mmap_base + @mmap_offset)
 * @file_dev: device of the file it maps (st_dev)
 * @file_ino: inode of the file it maps (st_ino)
 * @refs: ADD_MEM_REGs of it not yet removed: QEMU sends the same region
 *	once per queue pair of a multiqueue net device (a vhost_dev each)
 */
struct vhost_user_region {
	u64 gpa;
	u64 size;
	u64 uva;
	u64 mmap_offset;
	void *mmap_base;
	size_t mmap_len;
	u8 *hva;
	dev_t file_dev;
	ino_t file_ino;
	unsigned int refs;
};

/**
 * struct vhost_user_vring - the server's shadow of one ring
 * @dev: back pointer (for the call callback)
 * @num: size from SET_VRING_NUM (0: not set)
 * @desc: descriptor table address as sent (front-end UVA, or IOVA)
 * @avail: avail ring address as sent
 * @used: used ring address as sent
 * @has_addr: SET_VRING_ADDR was received
 * @base: next avail index (SET_VRING_BASE, or read back on stop)
 * @kickfd: kick eventfd, or -1
 * @kick_set: SET_VRING_KICK was received (possibly "no fd": polled)
 * @callfd: call eventfd, or -1; written by the device's worker through
 *	vhost_user_vring_call(); changed only while no callback is installed
 * @errfd: error eventfd, or -1
 * @enabled: SET_VRING_ENABLE state (or implicit, see internal.h top)
 * @stopped: GET_VRING_BASE stopped the ring; cleared by reconfiguration
 * @base_dirty: @base came from SET_VRING_BASE and is not programmed yet
 * @dev_ready: the ring is enabled on the device
 * @dirty: shadow changed since the ring was last programmed
 * @dev_desc: descriptor address as programmed (GPA or IOVA)
 * @dev_avail: avail address as programmed
 * @dev_used: used address as programmed
 * @kick_watched: @kickfd is in the server loop's epoll (device without
 *	set_vq_kickfd: the loop turns kicks into vdpa_kick_vq())
 * @stats: device counters of this connection saved before each reset (a
 *	reset clears the device's own)
 */
struct vhost_user_vring {
	struct vhost_user_dev *dev;
	u32 num;
	u64 desc;
	u64 avail;
	u64 used;
	bool has_addr;
	u32 base;	/* split: avail index; packed: SET_VRING_BASE's encoding */
	int kickfd;
	bool kick_set;
	int callfd;
	int errfd;
	bool enabled;
	bool stopped;
	bool base_dirty;
	bool dev_ready;
	bool dirty;
	u64 dev_desc;
	u64 dev_avail;
	u64 dev_used;
	bool kick_watched;
	struct vdpa_vq_stats stats;
};

/**
 * struct vhost_user_dev - one device served to one front-end at a time
 * @vdpa: the device
 * @name: log prefix ("vhost-user vdpa0")
 * @opts: server options
 * @connfd: the front-end's socket, or -1 (fuzzers point it at a socketpair)
 * @backend_fd: backend channel socket, or -1
 * @nvrings: rings the front-end may address (the device's queue count)
 * @vrings: @nvrings shadows
 * @owner: SET_OWNER was received
 * @features: virtio features from SET_FEATURES (vhost-user bits included)
 * @features_set: SET_FEATURES was received
 * @features_ok: the device kept FEATURES_OK
 * @protocol_features: negotiated protocol features
 * @status: the front-end's status byte (STATUS protocol feature)
 * @regions: mapped regions, sorted by nothing (few)
 * @nregions: entries used in @regions
 * @max_regions: allocated entries (opts.max_mem_slots)
 * @gpa_tlb: GPA -> our address, rebuilt from @regions
 * @iommu_tlb: IOVA -> our address, from IOTLB_MSG updates
 * @mapped_iommu: which table the device holds (for commits)
 * @mapped: the device holds a table at all
 * @notify_fd: eventfd the device's config callback writes (loop watches)
 * @stop_fd: the server's stop eventfd, which also ends a message being
 *	read or written (-1: none, e.g. in the fuzzer)
 * @loop_epfd: the server loop's epoll, for kick fds the device cannot
 *	take (-1: none, e.g. in the fuzzer)
 * @iotlb_batch: between IOTLB BATCH_BEGIN and BATCH_END: defer pushes
 * @rl: rate limit of peer-triggered log lines
 * @msgs: messages handled on this connection
 * @reply_fd: an fd the next reply carries (GET_INFLIGHT_FD), then closed
 * @inflight: the region of SET_INFLIGHT_FD as mapped, or NULL
 * @inflight_map: its mapping (page-aligned below @inflight)
 * @inflight_map_len: bytes mapped
 * @inflight_queues: queue regions in it
 * @inflight_qsize: the queue size they are for (the ring layout, known
 *	when a ring is programmed, gives each one's bytes)
 * @inflight_len: bytes of the region from @inflight
 */
struct vhost_user_dev {
	struct vdpa_device *vdpa;
	char name[48];
	struct vhost_user_server_opts opts;
	int connfd;
	int backend_fd;
	u32 nvrings;
	struct vhost_user_vring *vrings;
	bool owner;
	u64 features;
	bool features_set;
	bool features_ok;
	u64 protocol_features;
	u8 status;
	struct vhost_user_region *regions;
	unsigned int nregions;
	unsigned int max_regions;
	struct iotlb *gpa_tlb;
	struct iotlb *iommu_tlb;
	bool mapped_iommu;
	bool mapped;
	int notify_fd;
	int stop_fd;
	int loop_epfd;
	bool iotlb_batch;
	struct ratelimit rl;
	u64 msgs;
	int reply_fd;
	u8 *inflight;
	void *inflight_map;
	size_t inflight_map_len;
	u32 inflight_queues;
	u16 inflight_qsize;
	size_t inflight_len;
};

/* Log a peer-triggered problem, rate-limited per device. */
#define vu_warn(dev, fmt, ...)						\
	do {								\
		if (ratelimit_allow(&(dev)->rl))			\
			pr_warn("%s: " fmt, (dev)->name, ##__VA_ARGS__); \
	} while (0)

/*
 * Handler results beyond 0 / -errno: VHOST_USER_DISCONNECT asks the loop
 * to drop the front-end (framing broken, a reply we cannot give).
 */
#define VHOST_USER_DISCONNECT	(-10000)

/**
 * vhost_user_dev_init() - set up the per-device state (no connection)
 * @dev: zeroed
 * @vdpa: the device
 * @opts: options (copied)
 *
 * Return: 0 or -errno (half-built state is freed by vhost_user_dev_fini()).
 */
int vhost_user_dev_init(struct vhost_user_dev *dev, struct vdpa_device *vdpa,
			const struct vhost_user_server_opts *opts);

/** vhost_user_dev_fini() - free what vhost_user_dev_init() took */
void vhost_user_dev_fini(struct vhost_user_dev *dev);

/**
 * vhost_user_dev_disconnect() - end a session: reset the device, unmap
 *	memory, close every fd the front-end gave us (not @connfd)
 * @dev: the device
 */
void vhost_user_dev_disconnect(struct vhost_user_dev *dev);

/**
 * vhost_user_handle_msg() - validate and carry out one message
 * @dev: the device, with @connfd set for replies
 * @msg: header and payload (payload @msg->hdr.size bytes valid)
 * @fds: fds that came with it; every one is consumed (kept or closed)
 * @nfds: count
 *
 * Return: 0 (handled, replied if needed), or VHOST_USER_DISCONNECT.
 */
int vhost_user_handle_msg(struct vhost_user_dev *dev,
			  struct vhost_user_msg *msg, int *fds,
			  unsigned int nfds);

/**
 * vhost_user_dev_event() - the device raised its config callback (error or
 *	config change): signal error fds of live rings, tell the front-end
 * @dev: the device
 */
void vhost_user_dev_event(struct vhost_user_dev *dev);

/* epoll data of a kick fd watched by the loop: tag | ring index. */
#define VHOST_USER_EV_KICK	(1ULL << 32)

/**
 * vhost_user_dev_commit() - bring the device in line with the shadows:
 *	program and enable rings that became live, disable the others, set
 *	DRIVER_OK once a ring runs (see the top of this file)
 * @dev: the device
 *
 * Return: 0 or -errno (a ring that cannot be programmed stays off).
 */
int vhost_user_dev_commit(struct vhost_user_dev *dev);

/**
 * vhost_user_dev_get_stats() - counters of ring @idx for this connection
 * @dev: the device
 * @idx: ring index (< nvrings)
 * @st: filled in: saved counters plus the device's current ones
 */
void vhost_user_dev_get_stats(struct vhost_user_dev *dev, u32 idx,
			      struct vdpa_vq_stats *st);

/**
 * vhost_user_msg_deadline() - when a message begun now must be complete
 * @dev: the device (its opts.msg_timeout_ms)
 *
 * Return: the deadline in CLOCK_MONOTONIC milliseconds. A message is
 * timed from its first byte to its last, whatever the front-end trickles.
 */
u64 vhost_user_msg_deadline(const struct vhost_user_dev *dev);

/**
 * vhost_user_wait() - wait until @fd is ready for @events
 * @dev: the device (its @stop_fd)
 * @fd: the socket
 * @events: POLLIN or POLLOUT
 * @deadline: from vhost_user_msg_deadline()
 *
 * Return: 0 ready, -ETIMEDOUT the deadline passed, -ECANCELED the server is
 * stopping (a signal handler called vhost_user_server_stop()), -errno.
 */
int vhost_user_wait(const struct vhost_user_dev *dev, int fd, short events,
		    u64 deadline);

/* inflight.c: INFLIGHT_SHMFD (vhost-user.rst "Inflight I/O tracking") */
int vhost_user_get_inflight_fd(struct vhost_user_dev *dev,
			       struct vhost_user_msg *msg, int *fds);
int vhost_user_set_inflight_fd(struct vhost_user_dev *dev,
			       struct vhost_user_msg *msg, int *fds);
/* Ring @idx's region, or NULL (none set, the ring past its end, or packed). */
void *vhost_user_inflight_region(struct vhost_user_dev *dev, u32 idx,
				 size_t *size);
/* Unmap the region (disconnect). */
void vhost_user_inflight_clear(struct vhost_user_dev *dev);

/* mem.c */
int vhost_user_mem_add(struct vhost_user_dev *dev,
		       const struct vhost_user_mem_region *r, int fd);
/*
 * ADD_MEM_REG of a region mapped already, same addresses, size, offset
 * and file (QEMU's multiqueue net sends the guest's memory once per queue
 * pair, a vhost_dev each): take a reference, which REM_MEM_REG drops.
 * Return: 1 taken (@fd closed), 0 no such region (@fd untouched),
 * -EEXIST the same addresses on another file (@fd closed).
 */
int vhost_user_mem_ref(struct vhost_user_dev *dev,
		       const struct vhost_user_mem_region *r, int fd);
int vhost_user_mem_remove(struct vhost_user_dev *dev,
			  const struct vhost_user_mem_region *r);
void vhost_user_mem_clear(struct vhost_user_dev *dev);
int vhost_user_mem_uva_to_gpa(struct vhost_user_dev *dev, u64 uva, u64 len,
			      u64 *gpa);
int vhost_user_mem_uva_to_hva(struct vhost_user_dev *dev, u64 uva, u64 len,
			      void **hva);
int vhost_user_mem_commit(struct vhost_user_dev *dev);
void vhost_user_mem_unmap_device(struct vhost_user_dev *dev);

#endif /* KESTREL_VHOST_USER_INTERNAL_H */
