/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vDPA simulator core shared by sim/net.c and sim/blk.c (private to
 * src/vdpa/).
 *
 * Threads and locks. Each simulated device has one worker thread. It sleeps
 * in epoll on the control eventfd and the queues' kick eventfds; when woken
 * it takes vdpasim.lock and, if the device runs (DRIVER_OK, not suspended,
 * not NEEDS_RESET), calls the device's work function. Every op that changes
 * device state also takes vdpasim.lock, so a worker pass never sees a
 * half-applied change, and a mapping removed under the lock has no request
 * in flight (requests never outlive one locked pass). kick_vq takes no lock:
 * it only writes the control eventfd.
 */
#ifndef KESTREL_VDPA_SIM_INTERNAL_H
#define KESTREL_VDPA_SIM_INTERNAL_H

#include <pthread.h>
#include <sys/uio.h>

#include <kestrel/iotlb.h>
#include <kestrel/vdpa.h>
#include <kestrel/vringh.h>

#define VDPASIM_VQ_NUM_MAX	1024
#define VDPASIM_VQ_ALIGN	4096
#define VDPASIM_CONFIG_MAX	256
#define VDPASIM_IOV_INLINE	16
/* Chains a worker pass takes from one queue before it yields. */
#define VDPASIM_BUDGET		256

/* Features every simulator offers (virtio 1.2 §6). */
#define VDPASIM_FEATURES					\
	((1ULL << 32) /* VIRTIO_F_VERSION_1 */ |		\
	 (1ULL << 33) /* VIRTIO_F_ACCESS_PLATFORM */ |		\
	 (1ULL << 29) /* VIRTIO_RING_F_EVENT_IDX */ |		\
	 (1ULL << 28) /* VIRTIO_RING_F_INDIRECT_DESC */)

/**
 * struct vdpasim_vq - one virtqueue of a simulated device (vdpasim.lock)
 * @vring: the ring walker; valid while @started
 * @riov: device-readable buffers of the chain being processed
 * @wiov: device-writable buffers of the chain being processed
 * @rstore: inline storage of @riov
 * @wstore: inline storage of @wiov
 * @desc_area: descriptor table IOVA, as set by the driver
 * @driver_area: avail ring IOVA
 * @device_area: used ring IOVA
 * @num: queue size (0: not set)
 * @ready: enabled by the driver
 * @started: @vring initialised (ready and DRIVER_OK)
 * @last_avail: saved position (set_vq_state, or when the queue stopped)
 * @last_used: saved used position
 * @cb: used-buffer callback
 * @kickfd: the device's duplicate of the kick eventfd, or -1
 * @kick_gen: bumped when @kickfd changes; stamps epoll events
 * @stats: counters (@stats.kicks is atomic and lock-free)
 */
struct vdpasim_vq {
	struct vringh vring;
	struct vringh_iov riov;
	struct vringh_iov wiov;
	struct iovec rstore[VDPASIM_IOV_INLINE];
	struct iovec wstore[VDPASIM_IOV_INLINE];
	u64 desc_area;
	u64 driver_area;
	u64 device_area;
	u32 num;
	bool ready;
	bool started;
	u16 last_avail;
	u16 last_used;
	struct vdpa_callback cb;
	int kickfd;
	u32 kick_gen;
	struct vdpa_vq_stats stats;
};

struct vdpasim;

/**
 * struct vdpasim_dev_attr - what a device type adds to the core
 * @device_id: virtio device id
 * @nvqs: queues
 * @ngroups: virtqueue groups
 * @nas: address spaces
 * @config_size: bytes of config space
 * @features: feature bits offered (core bits included by the type)
 * @work: process the queues (vdpasim.lock held, device running). Return
 *	true when the budget ran out and another pass is needed at once.
 * @reset: device-specific reset (vdpasim.lock held); may be NULL
 * @update_config: refresh vdpasim.config from device state (lock held)
 * @get_vq_group: group of queue @idx; NULL: everything in group 0
 * @free: free the device-specific part; may be NULL
 */
struct vdpasim_dev_attr {
	u32 device_id;
	u32 nvqs;
	u32 ngroups;
	u32 nas;
	size_t config_size;
	u64 features;
	bool (*work)(struct vdpasim *sim);
	void (*reset)(struct vdpasim *sim);
	void (*update_config)(struct vdpasim *sim);
	u32 (*get_vq_group)(struct vdpasim *sim, u16 idx);
	void (*free)(struct vdpasim *sim);
};

/**
 * struct vdpasim - a simulated device
 * @vdpa: the bus part (must stay first: the sims are freed through it)
 * @attr: device type description (copied at create)
 * @lock: device lock; everything below unless noted
 * @vqs: @attr.nvqs queues
 * @iotlb: one IOTLB per address space
 * @group_asid: address space of each group
 * @features: negotiated features
 * @status: device status byte (without NEEDS_RESET: the bus adds it)
 * @generation: config generation, bumped on reset
 * @running: false while suspended
 * @pending_kick: a kick arrived while suspended
 * @config_cb: config-change callback
 * @config: config space contents (little-endian), @attr.config_size bytes
 * @epfd: the worker's epoll fd
 * @ctlfd: control eventfd (kicks, requeue, stop)
 * @stop: tells the worker to exit (atomic)
 * @worker: worker thread
 * @worker_started: @worker was created
 * @poll: busy-poll mode (poll=on), set at creation, read-only after
 * @polling: the worker is spinning now (written by the worker under @lock;
 *	work functions then leave kicks disabled)
 * @lock_waiters: threads waiting in vdpasim_lock() (atomic); a spinning
 *	worker steps aside for them
 */
struct vdpasim {
	struct vdpa_device vdpa;
	struct vdpasim_dev_attr attr;
	pthread_mutex_t lock;
	struct vdpasim_vq *vqs;
	struct iotlb **iotlb;
	u32 *group_asid;
	u64 features;
	u8 status;
	u32 generation;
	bool running;
	bool pending_kick;
	struct vdpa_callback config_cb;
	u8 config[VDPASIM_CONFIG_MAX];
	int epfd;
	int ctlfd;
	unsigned int stop;
	pthread_t worker;
	bool worker_started;
	bool poll;
	bool polling;
	unsigned int lock_waiters;
};

/**
 * vdpasim_lock() - take @sim->lock from an op (not the worker)
 * @sim: the device
 *
 * Like pthread_mutex_lock(), but a busy-polling worker, which re-takes the
 * lock at once after every pass, sees the waiter and lets it in.
 */
static inline void vdpasim_lock(struct vdpasim *sim)
{
	__atomic_add_fetch(&sim->lock_waiters, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&sim->lock);
	__atomic_sub_fetch(&sim->lock_waiters, 1, __ATOMIC_RELAXED);
}

static inline struct vdpasim *vdpa_to_sim(struct vdpa_device *vdpa)
{
	return container_of(vdpa, struct vdpasim, vdpa);
}

/**
 * vdpasim_init() - build the core of a simulated device
 * @sim: zeroed memory (embedded at offset 0 of the device's own struct)
 * @attr: the type description
 *
 * Does not register. On failure vdpasim_destroy() cleans up.
 *
 * Return: 0 or -errno.
 */
int vdpasim_init(struct vdpasim *sim, const struct vdpasim_dev_attr *attr);

/**
 * vdpasim_register() - put an initialised device on the bus, start worker
 * @sim: the device
 * @name: bus name or NULL/""
 *
 * Return: 0 or -errno (the caller then calls vdpasim_destroy()).
 */
int vdpasim_register(struct vdpasim *sim, const char *name);

/**
 * vdpasim_destroy() - stop the worker and free everything (half-built ok)
 * @sim: the device, not registered (or being freed by the bus)
 */
void vdpasim_destroy(struct vdpasim *sim);

/** vdpasim_has_feature() - whether feature bit @bit was negotiated */
static inline bool vdpasim_has_feature(const struct vdpasim *sim,
				       unsigned int bit)
{
	return sim->features & (1ULL << bit);
}

/**
 * vdpasim_vq_error() - report a ring error of queue @vq (NEEDS_RESET)
 * @sim: the device
 * @vq: the queue
 * @err: the negative errno from vringh
 */
void vdpasim_vq_error(struct vdpasim *sim, struct vdpasim_vq *vq, int err);

/**
 * vdpasim_vq_rearm() - ring @vq looked empty: re-arm its kicks
 * @sim: the device (lock held)
 * @vq: the queue
 *
 * Enables driver notifications, then checks for chains that raced with
 * that. While the worker spins in poll mode no kicks are wanted, so nothing
 * is re-armed.
 * Return: true if chains arrived meanwhile (notifications are disabled again
 * and the caller looks once more), false to end the pass (kicks re-armed,
 * spinning, or a ring error already reported with vdpasim_vq_error()).
 */
bool vdpasim_vq_rearm(struct vdpasim *sim, struct vdpasim_vq *vq);

/**
 * vdpasim_vq_notify() - interrupt the driver if the ring asks for it
 * @sim: the device
 * @vq: the queue, after completions
 */
void vdpasim_vq_notify(struct vdpasim *sim, struct vdpasim_vq *vq);

/**
 * vdpasim_schedule() - wake the worker for another pass
 * @sim: the device
 */
void vdpasim_schedule(struct vdpasim *sim);

extern struct vdpa_mgmt_dev vdpasim_net_mgmt_dev;
extern struct vdpa_mgmt_dev vdpasim_blk_mgmt_dev;

#endif /* KESTREL_VDPA_SIM_INTERNAL_H */
