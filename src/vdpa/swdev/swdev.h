/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The software-device core (private to src/vdpa/): everything a vDPA device
 * implemented in this process shares, whatever it does with its queues.
 * It owns queue bookkeeping, address spaces and their IOTLBs, the status
 * byte, suspend/resume, the worker thread and the one vdpa_config_ops table
 * every software device uses; and swdev_vq_service(), the one loop that
 * drains a queue (kicks off, budget, chain, re-arm on empty, retry on
 * -ENOMEM, NEEDS_RESET on a ring error, batched completion, interrupt).
 * A device type supplies a struct swdev_attr and chain handlers.
 *
 * Threads and locks. Each simulated device has one worker thread, or
 * several (swdev_attr.nworkers: net runs one per queue pair), each serving
 * the queues swdev_attr.get_vq_worker gives it. A worker sleeps in epoll on
 * its control eventfd and its queues' kick eventfds; when woken it takes
 * its own lock (worker 0's is swdev.lock) and, if the device runs
 * (DRIVER_OK, not suspended, not NEEDS_RESET), calls the device's work
 * function for itself. Every op that changes device state takes every
 * worker's lock, in worker order (swdev_lock()), so no pass sees a
 * half-applied change, and a mapping removed under the locks has no
 * request in flight (requests never outlive one locked pass). Workers run
 * their passes in parallel: state two workers share is changed only under
 * every lock. kick_vq takes no lock: it only writes a control eventfd.
 */
#ifndef KESTREL_VDPA_SWDEV_H
#define KESTREL_VDPA_SWDEV_H

#include <pthread.h>
#include <string.h>
#include <sys/uio.h>

#include <kestrel/iotlb.h>
#include <kestrel/sandbox.h>
#include <kestrel/vdpa.h>
#include <kestrel/vringh.h>

#include "limiter.h"

#define SWDEV_VQ_NUM_MAX	1024
#define SWDEV_VQ_ALIGN	4096
#define SWDEV_CONFIG_MAX	256
#define SWDEV_IOV_INLINE	16
/* Chains a worker pass takes from one queue before it yields. */
#define SWDEV_BUDGET		256
/* Completions staged before one used-index update at most (swdev_vq_service()). */
#define SWDEV_BURST		64

/* Worker threads a device may have (struct swdev_attr.nworkers). */
#define SWDEV_WORKERS_MAX	8

/* Rate limits a device may have (struct swdev_attr.limits). */
#define SWDEV_LIMITS_MAX	2
/*
 * A throttled queue is looked at again no sooner than this: at most a
 * thousand wake-ups a second, and no throughput lost, since a bucket's
 * refill time is at least 1 ms (it holds a millisecond's tokens).
 */
#define SWDEV_THROTTLE_MIN_NS	1000000ULL

/*
 * epoll data for a backend fd a device adds to the worker's epoll set
 * (swdev.epfd): a queue index no device has, so the worker only wakes and
 * runs a pass.
 */
#define SWDEV_EV_BACKEND	0xffffULL

/* Features every simulator offers (virtio 1.2 §6). */
#define SWDEV_FEATURES					\
	((1ULL << 32) /* VIRTIO_F_VERSION_1 */ |		\
	 (1ULL << 33) /* VIRTIO_F_ACCESS_PLATFORM */ |		\
	 (1ULL << 29) /* VIRTIO_RING_F_EVENT_IDX */ |		\
	 (1ULL << 28) /* VIRTIO_RING_F_INDIRECT_DESC */ |	\
	 (1ULL << 34) /* VIRTIO_F_RING_PACKED */)

/**
 * struct swdev_vq - one virtqueue of a simulated device (swdev.lock)
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
 * @last_avail: saved position (set_vq_state, or when the queue stopped);
 *	packed: ring offset with the wrap counter in bit 15 (vringh's encoding)
 * @last_used: saved used position
 * @has_state: @last_avail/@last_used were saved since the reset (else the
 *	ring starts where vringh_init_iotlb() puts it)
 * @inflight: where the queue records its requests in flight (a region of
 *	the front-end's memory, vdpa_set_vq_inflight()), or NULL
 * @inflight_packed: the same region, for a packed ring (@pinflight set)
 * @inflight_size: its bytes
 * @inflight_counter: the counter the next chain taken gets
 * @inflight_recover: the queue started with a region: the next pass reads
 *	it back (swdev_vq_inflight_recover()) before it takes anything
 * @resubmit: split: heads a previous instance had in flight, oldest first
 * @pinflight: packed, with a region: the device's own copy of the
 *	region's lists and the chains to resubmit (inflight_packed.c), set
 *	when the queue starts
 * @nresubmit: entries in @resubmit (packed: chains in @pinflight)
 * @resubmit_pos: the next one to take (@nresubmit: none left)
 * @cb: used-buffer callback
 * @kickfd: the device's duplicate of the kick eventfd, or -1
 * @kick_gen: bumped when @kickfd changes; stamps epoll events
 * @stats: counters (@stats.kicks is atomic and lock-free)
 * @used: completions staged by swdev_vq_stage(), published in bursts
 * @nused: entries staged in @used
 * @worker: the worker serving this queue (set at init, read-only after)
 */
struct swdev_pinflight;

struct swdev_vq {
	struct vringh vring;
	struct vringh_iov riov;
	struct vringh_iov wiov;
	struct iovec rstore[SWDEV_IOV_INLINE];
	struct iovec wstore[SWDEV_IOV_INLINE];
	u64 desc_area;
	u64 driver_area;
	u64 device_area;
	u32 num;
	bool ready;
	bool started;
	u16 last_avail;
	u16 last_used;
	bool has_state;
	union {
		struct vdpa_inflight_split *inflight;
		struct vdpa_inflight_packed *inflight_packed;
	};
	size_t inflight_size;
	u64 inflight_counter;
	bool inflight_recover;
	u16 *resubmit;
	struct swdev_pinflight *pinflight;
	u32 nresubmit;
	u32 resubmit_pos;
	struct vdpa_callback cb;
	int kickfd;
	u32 kick_gen;
	struct vdpa_vq_stats stats;
	struct vringh_used_elem used[SWDEV_BURST];
	unsigned int nused;
	u32 worker;
};

struct swdev;

/**
 * struct swdev_worker - one worker thread of a device
 * @sw: its device
 * @id: its index in swdev.workers
 * @lock: the lock its passes hold: &swdev.lock for worker 0, else
 *	&@own_lock
 * @own_lock: the lock of workers 1 and up
 * @thread: the thread
 * @started: @thread was created
 * @epfd: its epoll fd (worker 0's is also swdev.epfd)
 * @ctlfd: control eventfd (kicks, requeue, stop)
 * @timerfd: wakes it when a throttled queue has tokens again; -1 until a
 *	limit is first set
 * @timer_at: when @timerfd fires (CLOCK_MONOTONIC ns), 0: disarmed
 *	(under @lock)
 * @polling: it is spinning now (written by the worker under @lock; work
 *	functions then leave kicks disabled)
 */
struct swdev_worker {
	struct swdev *sw;
	u32 id;
	pthread_mutex_t *lock;
	pthread_mutex_t own_lock;
	pthread_t thread;
	bool started;
	int epfd;
	int ctlfd;
	int timerfd;
	u64 timer_at;
	bool polling;
};

/**
 * struct swdev_attr - what a device type adds to the core
 * @device_id: virtio device id
 * @nvqs: queues
 * @ngroups: virtqueue groups
 * @nas: address spaces
 * @config_size: bytes of config space
 * @features: feature bits offered (core bits included by the type)
 * @burst: completions swdev_vq_service() publishes at once, 1..SWDEV_BURST
 *	(0: SWDEV_BURST). A burst as large as the requests the driver keeps
 *	in flight means it sees none completed until the ring runs dry, so it
 *	cannot refill while the pass goes on: a type whose drivers keep few
 *	(blk, at queue depth 32) wants fewer.
 * @work: process the queues (swdev.lock held, device running). Return
 *	true when the budget ran out and another pass is needed at once.
 *	Devices with one worker only; else @work_on
 * @work_on: process the queues of worker @worker (its lock held, device
 *	running); return as @work. Devices with @nworkers > 1
 * @nworkers: worker threads, 1..SWDEV_WORKERS_MAX (0: 1)
 * @get_vq_worker: worker serving queue @idx, below @nworkers; NULL:
 *	worker 0
 * @reset: device-specific reset (swdev.lock held); may be NULL
 * @update_config: refresh swdev.config from device state (lock held)
 * @write_config: the driver wrote @len bytes at @offset of the config
 *	space (lock held; bounds already checked against @config_size); NULL:
 *	writes are ignored
 * @get_vq_group: group of queue @idx; NULL: everything in group 0
 * @save_state: (optional, with @load_state) write the type's own state
 *	for a snapshot into @buf, at most @size bytes (every lock held;
 *	struct vdpa_config_ops.get_dev_state says what and how). NULL: the
 *	type keeps none
 * @load_state: (optional) load what @save_state wrote, hostile (every
 *	lock held; struct vdpa_config_ops.set_dev_state); every worker takes
 *	a pass after it succeeded
 * @free: free the device-specific part; may be NULL
 * @seccomp: the worker's thread kind, whose filter it installs before its
 *	first pass (0: SECCOMP_THREAD_DEV_SIM, no host resource)
 * @nlimits: rate limits the device has, at most SWDEV_LIMITS_MAX
 * @limits: which public limit each is (swdev.limiter[i] is @limits[i])
 * @inflight: the queues record their requests in flight when given a
 *	region (vdpa_set_vq_inflight(); split or packed rings). For a type whose
 *	requests must neither be lost nor repeated across a restart of the
 *	device (blk); every completion must go through swdev_vq_publish().
 */
struct swdev_attr {
	u32 device_id;
	u32 nvqs;
	u32 ngroups;
	u32 nas;
	size_t config_size;
	u64 features;
	u32 burst;
	bool (*work)(struct swdev *sw);
	bool (*work_on)(struct swdev *sw, u32 worker);
	u32 nworkers;
	u32 (*get_vq_worker)(struct swdev *sw, u16 idx);
	void (*reset)(struct swdev *sw);
	void (*update_config)(struct swdev *sw);
	void (*write_config)(struct swdev *sw, unsigned int offset, const void *buf,
			     unsigned int len);
	u32 (*get_vq_group)(struct swdev *sw, u16 idx);
	ssize_t (*save_state)(struct swdev *sw, void *buf, size_t size);
	int (*load_state)(struct swdev *sw, const void *buf, size_t len);
	void (*free)(struct swdev *sw);
	enum seccomp_thread seccomp;
	u32 nlimits;
	enum vdpa_limit limits[SWDEV_LIMITS_MAX];
	bool inflight;
};

/**
 * struct swdev - a simulated device
 * @vdpa: the bus part (must stay first: the sims are freed through it)
 * @attr: device type description (copied at create)
 * @lock: worker 0's lock, the first of the device's locks; everything
 *	below is under all of them (swdev_lock()) unless noted
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
 * @epfd: worker 0's epoll fd, where a one-worker device adds its
 *	backend fds
 * @stop: tells the workers to exit (atomic)
 * @workers: @attr.nworkers workers
 * @poll: busy-poll mode (poll=on), set at creation, read-only after
 * @lock_waiters: threads waiting in swdev_lock() (atomic); a spinning
 *	worker steps aside for them
 * @limiter: the rate limits of @attr.limits (swdev_limit()); shared by
 *	every worker, so also under @limit_lock
 * @limit_lock: serialises the workers' use of @limiter
 */
struct swdev {
	struct vdpa_device vdpa;
	struct swdev_attr attr;
	pthread_mutex_t lock;
	struct swdev_vq *vqs;
	struct iotlb **iotlb;
	u32 *group_asid;
	u64 features;
	u8 status;
	u32 generation;
	bool running;
	bool pending_kick;
	struct vdpa_callback config_cb;
	u8 config[SWDEV_CONFIG_MAX];
	int epfd;
	unsigned int stop;
	struct swdev_worker workers[SWDEV_WORKERS_MAX];
	bool poll;
	unsigned int lock_waiters;
	struct swdev_limiter limiter[SWDEV_LIMITS_MAX];
	pthread_mutex_t limit_lock;
};

/* Workers of @sw (swdev_attr.nworkers, 0 meaning 1). */
static inline u32 swdev_nworkers(const struct swdev *sw)
{
	return sw->attr.nworkers ? sw->attr.nworkers : 1;
}

/**
 * swdev_lock_from() - take the locks of workers @first and up, in order
 * @sw: the device
 * @first: 0 from an op; 1 from worker 0's pass, which holds swdev.lock
 *	and needs every queue still (a control queue changing what every
 *	worker reads)
 *
 * Like pthread_mutex_lock(), but a busy-polling worker, which re-takes its
 * lock at once after every pass, sees the waiter and lets it in.
 */
static inline void swdev_lock_from(struct swdev *sw, u32 first)
{
	__atomic_add_fetch(&sw->lock_waiters, 1, __ATOMIC_RELAXED);
	for (u32 i = first; i < swdev_nworkers(sw); i++)
		pthread_mutex_lock(sw->workers[i].lock);
	__atomic_sub_fetch(&sw->lock_waiters, 1, __ATOMIC_RELAXED);
}

/** swdev_unlock_from() - undo swdev_lock_from(@sw, @first) */
static inline void swdev_unlock_from(struct swdev *sw, u32 first)
{
	for (u32 i = swdev_nworkers(sw); i-- > first;)
		pthread_mutex_unlock(sw->workers[i].lock);
}

/**
 * swdev_lock() - take every worker's lock from an op (not a worker)
 * @sw: the device
 *
 * With one worker that is @sw->lock alone, which a one-worker device may
 * release with pthread_mutex_unlock(); else release with swdev_unlock().
 */
static inline void swdev_lock(struct swdev *sw)
{
	swdev_lock_from(sw, 0);
}

/** swdev_unlock() - release what swdev_lock() took */
static inline void swdev_unlock(struct swdev *sw)
{
	swdev_unlock_from(sw, 0);
}

static inline struct swdev *to_swdev(struct vdpa_device *vdpa)
{
	return container_of(vdpa, struct swdev, vdpa);
}

/**
 * swdev_init() - build the core of a simulated device
 * @sw: zeroed memory (embedded at offset 0 of the device's own struct)
 * @attr: the type description
 *
 * Does not register. On failure swdev_destroy() cleans up.
 *
 * Return: 0 or -errno.
 */
int swdev_init(struct swdev *sw, const struct swdev_attr *attr);

/**
 * swdev_register() - put an initialised device on the bus, start worker
 * @sw: the device
 * @name: bus name or NULL/""
 *
 * Return: 0 or -errno (the caller then calls swdev_destroy()).
 */
int swdev_register(struct swdev *sw, const char *name);

/**
 * swdev_destroy() - stop the worker and free everything (half-built ok)
 * @sw: the device, not registered (or being freed by the bus)
 */
void swdev_destroy(struct swdev *sw);

/** swdev_has_feature() - whether feature bit @bit was negotiated */
static inline bool swdev_has_feature(const struct swdev *sw,
				       unsigned int bit)
{
	return sw->features & (1ULL << bit);
}

/**
 * swdev_vq_error() - report a ring error of queue @vq (NEEDS_RESET)
 * @sw: the device
 * @vq: the queue
 * @err: the negative errno from vringh
 */
void swdev_vq_error(struct swdev *sw, struct swdev_vq *vq, int err);

/**
 * swdev_vq_rearm() - ring @vq looked empty: re-arm its kicks
 * @sw: the device (lock held)
 * @vq: the queue
 *
 * Enables driver notifications, then checks for chains that raced with
 * that. While the worker spins in poll mode no kicks are wanted, so nothing
 * is re-armed.
 * Return: true if chains arrived meanwhile (notifications are disabled again
 * and the caller looks once more), false to end the pass (kicks re-armed,
 * spinning, or a ring error already reported with swdev_vq_error()).
 */
bool swdev_vq_rearm(struct swdev *sw, struct swdev_vq *vq);

/**
 * swdev_vq_notify() - interrupt the driver if the ring asks for it
 * @sw: the device
 * @vq: the queue, after completions
 */
void swdev_vq_notify(struct swdev *sw, struct swdev_vq *vq);

/**
 * swdev_config_changed() - tell the driver the config space changed
 *	(virtio 1.2 §2.5.1); call without swdev.lock held
 * @sw: the device
 */
void swdev_config_changed(struct swdev *sw);

/**
 * swdev_schedule() - wake every worker for another pass
 * @sw: the device
 */
void swdev_schedule(struct swdev *sw);

/**
 * swdev_schedule_vq() - wake the worker of queue @vq for another pass
 * @sw: the device
 * @vq: the queue
 */
void swdev_schedule_vq(struct swdev *sw, struct swdev_vq *vq);

/**
 * swdev_vq_epfd() - the epoll fd of the worker serving @vq, where a
 *	backend fd that feeds @vq belongs (with SWDEV_EV_BACKEND data)
 * @sw: the device
 * @vq: the queue
 *
 * Return: the fd.
 */
static inline int swdev_vq_epfd(const struct swdev *sw,
				const struct swdev_vq *vq)
{
	return sw->workers[vq->worker].epfd;
}

/**
 * swdev_copy_guarded() - memcpy() that a vanished page does not end
 * @dst: destination
 * @src: source
 * @n: bytes
 *
 * For a work function copying between guest memory and a mapping of a
 * file that may shrink under it (file-blk's image): a page past the
 * file's new end raises SIGBUS, which here ends the copy instead of the
 * process or the pass (the caller still ends what it holds). Only on a
 * worker, inside a pass; costs a sigsetjmp() without the signal mask.
 *
 * Return: 0, or -EFAULT: a page of @src or @dst vanished (the copy is
 * partial).
 */
int swdev_copy_guarded(void *dst, const void *src, size_t n);

/** swdev_now_ns() - CLOCK_MONOTONIC now, in ns; Return: the time */
u64 swdev_now_ns(void);

/**
 * swdev_timerfd_at() - arm timerfd @fd to fire once at @at_ns
 * @fd: a CLOCK_MONOTONIC timerfd
 * @at_ns: when (CLOCK_MONOTONIC ns, absolute)
 *
 * Return: 0 or -errno.
 */
int swdev_timerfd_at(int fd, u64 at_ns);

/**
 * __swdev_limit() - swdev_limit() for a limit that is on
 * @sw: the device (lock held)
 * @l: the limiter
 * @bytes: as swdev_limit()
 */
bool __swdev_limit(struct swdev *sw, struct swdev_limiter *l, u64 bytes);

/**
 * swdev_limit() - may one request of @bytes go now?
 * @sw: the device (lock held)
 * @slot: index into @sw->limiter
 * @bytes: its data bytes (0: it moves none; only an operation is taken)
 *
 * When it may not, nothing is taken, the worker's timer is set for when
 * the tokens are due, and the handler returns SWDEV_STALL: the chain goes
 * back to the ring, the queue's kicks stay off, and the timer brings the
 * worker back. A handler asks before it does anything the driver can see.
 *
 * Return: true: go (the tokens are taken); false: throttled.
 */
static __always_inline bool swdev_limit(struct swdev *sw, unsigned int slot,
					u64 bytes)
{
	struct swdev_limiter *l = &sw->limiter[slot];

	if (likely(!l->on))
		return true;
	return __swdev_limit(sw, l, bytes);
}

/* Which buffers of a chain a handler wants (swdev_vq_service()). */
#define SWDEV_CHAIN_IN		0x1	/* device-readable: in @vq->riov */
#define SWDEV_CHAIN_OUT		0x2	/* device-writable: in @vq->wiov */

/**
 * enum swdev_verdict - what a chain handler did with its chain
 * @SWDEV_USED: served; complete it with the used length the handler set
 * @SWDEV_HELD: the handler completes the chain itself: later (asynchronous
 *	I/O), or already, staged with swdev_vq_stage() or swdev_vq_stage_n()
 *	(a frame spread over several chains); the loop goes on
 * @SWDEV_STALL: it cannot be served now (the backend is full or empty):
 *	the chain goes back to the ring and the pass over this queue ends.
 *	Whatever unblocks the backend must wake the worker (a backend fd in
 *	the epoll set, or swdev_schedule()). Also the way out after the
 *	handler reported an error itself (of another queue, or of this one
 *	in its own words).
 * @SWDEV_RETRY: the chain is not used, but the handler consumed other
 *	work (it dropped a backend frame no chain can take): the chain goes
 *	back to the ring and the loop goes on, within its budget
 *
 * A negative errno instead says the chain itself is malformed for this
 * device (e.g. -EACCES, a buffer of the wrong direction): the queue's ring
 * error is reported with swdev_vq_error() and the device needs a reset.
 */
enum swdev_verdict {
	SWDEV_USED = 0,
	SWDEV_HELD = 1,
	SWDEV_STALL = 2,
	SWDEV_RETRY = 3,
};

/**
 * typedef swdev_chain_fn - serve one chain of a queue
 * @sw: the device (lock held, running)
 * @vq: the queue; the chain's buffers are in @vq->riov / @vq->wiov
 * @head: the chain's head, for SWDEV_HELD completions
 * @len: out: bytes written into the chain's device-writable buffers
 *
 * Return: an enum swdev_verdict or a negative errno (see there).
 */
typedef int (*swdev_chain_fn)(struct swdev *sw, struct swdev_vq *vq, u16 head,
			      u32 *len);

/**
 * swdev_vq_publish_inflight() - swdev_vq_publish() of a queue that records
 *	its requests in flight (the order of writes: struct vdpa_inflight_split)
 * @sw: the device (lock held)
 * @vq: the queue, with @vq->inflight
 * @used: heads and used lengths
 * @n: entries in @used
 *
 * Return: as swdev_vq_publish().
 */
bool swdev_vq_publish_inflight(struct swdev *sw, struct swdev_vq *vq,
			       const struct vringh_used_elem *used, unsigned int n);

/* Packed rings (inflight_packed.c; the order of writes: struct vdpa_inflight_packed). */
bool swdev_vq_publish_inflight_packed(struct swdev *sw, struct swdev_vq *vq,
				      const struct vringh_used_elem *used, unsigned int n);
bool swdev_vq_inflight_take_packed(struct swdev *sw, struct swdev_vq *vq, u16 id);
void swdev_vq_inflight_untake_packed(struct swdev_vq *vq, u16 id);
int swdev_vq_getdesc_resubmit_packed(struct swdev_vq *vq, struct vringh_iov *riov,
				     struct vringh_iov *wiov, u16 *head);
bool swdev_vq_inflight_recover_packed(struct swdev *sw, struct swdev_vq *vq);
void swdev_vq_inflight_free_packed(struct swdev_vq *vq);
/* At queue start: the device's copy, for a region big enough (-EINVAL, -ENOMEM). */
int swdev_vq_inflight_start_packed(struct swdev_vq *vq);

/**
 * swdev_vq_inflight_take() - record that the chain at @head was taken
 * @sw: the device (lock held)
 * @vq: the queue, with @vq->inflight
 * @head: the chain's head (< the queue size: vringh checked it); packed:
 *	its buffer ID, the chain taken last
 *
 * Return: true; false after reporting a ring error (packed: the chain
 * could not be recorded).
 */
static inline bool swdev_vq_inflight_take(struct swdev *sw, struct swdev_vq *vq,
					  u16 head)
{
	struct vdpa_inflight_desc *d;

	if (vq->pinflight)
		return swdev_vq_inflight_take_packed(sw, vq, head);
	d = &vq->inflight->desc[head];
	/* The counter first: an entry in flight always has its own. */
	WRITE_ONCE(d->counter, vq->inflight_counter++);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(d->inflight, 1);
	return true;
}

/* Undo swdev_vq_inflight_take() of the chain given back last (vringh_abandon()). */
static inline void swdev_vq_inflight_untake(struct swdev_vq *vq, u16 head)
{
	if (vq->pinflight)
		swdev_vq_inflight_untake_packed(vq, head);
	else
		WRITE_ONCE(vq->inflight->desc[head].inflight, 0);
}

/* Walk the chain a previous instance had in flight next in line again. */
static inline int swdev_vq_getdesc_resubmit(struct swdev_vq *vq, struct vringh_iov *riov,
					    struct vringh_iov *wiov, u16 *head)
{
	if (vq->pinflight)
		return swdev_vq_getdesc_resubmit_packed(vq, riov, wiov, head);
	*head = vq->resubmit[vq->resubmit_pos];
	return vringh_getdesc_at(&vq->vring, *head, riov, wiov);
}

/**
 * swdev_vq_inflight_recover() - read the region back once the queue started
 * @sw: the device (lock held, worker)
 * @vq: the queue
 *
 * Reconciles the region with the used ring, queues the heads still in
 * flight for resubmission and moves the avail position to where the
 * previous instance stopped taking (include/kestrel/vdpa.h).
 *
 * Return: true, or false after reporting the region refused (NEEDS_RESET).
 */
bool swdev_vq_inflight_recover(struct swdev *sw, struct swdev_vq *vq);

/**
 * swdev_vq_publish() - return @n chains to the driver, one used-index update
 * @sw: the device (lock held)
 * @vq: the queue
 * @used: heads and used lengths
 * @n: entries in @used (0: nothing happens)
 *
 * Return: true, or false after reporting a ring error (the device needs reset).
 */
static inline bool swdev_vq_publish(struct swdev *sw, struct swdev_vq *vq,
				    const struct vringh_used_elem *used,
				    unsigned int n)
{
	int ret;

	if (unlikely(vq->inflight) && n)
		return swdev_vq_publish_inflight(sw, vq, used, n);
	ret = n ? vringh_complete_multi(&vq->vring, used, n) : 0;
	if (unlikely(ret)) {
		swdev_vq_error(sw, vq, ret);
		return false;
	}
	return true;
}

/* Completions a pass publishes with one used-index update (swdev_attr.burst). */
static inline unsigned int swdev_burst(const struct swdev *sw)
{
	return sw->attr.burst ? sw->attr.burst : SWDEV_BURST;
}

/**
 * swdev_vq_flush() - publish the completions staged in @vq->used
 * @sw: the device (lock held)
 * @vq: the queue
 * @n: staged entries; set to 0
 *
 * Return: as swdev_vq_publish().
 */
static inline bool swdev_vq_flush(struct swdev *sw, struct swdev_vq *vq,
				  unsigned int *n)
{
	bool ok = swdev_vq_publish(sw, vq, vq->used, *n);

	*n = 0;
	return ok;
}

/**
 * swdev_vq_complete() - publish chains, then interrupt if the ring asks
 * @sw: the device (lock held)
 * @vq: the queue
 * @used: heads and used lengths
 * @n: entries in @used
 *
 * How a pass over a queue ends: swdev_vq_service() ends with it, and a
 * handler that held chains (SWDEV_HELD) completes them with it once their
 * I/O is done, still in the same pass. Chains are published even when the
 * device already needs a reset (they were served); the driver is then not
 * interrupted.
 *
 * Return: true, or false when the device needs a reset.
 */
bool swdev_vq_complete(struct swdev *sw, struct swdev_vq *vq,
		       const struct vringh_used_elem *used, unsigned int n);

/**
 * swdev_vq_stage() - stage the completion of one chain of @vq
 * @sw: the device (lock held)
 * @vq: the queue
 * @head: the chain's head
 * @len: bytes written into its device-writable buffers
 *
 * Publishes the burst once swdev_burst() entries are staged; whatever is left
 * goes out with swdev_vq_flush() (swdev_vq_service() does at its end).
 *
 * Return: as swdev_vq_flush().
 */
static inline bool swdev_vq_stage(struct swdev *sw, struct swdev_vq *vq,
				  u16 head, u32 len)
{
	vq->used[vq->nused].id = head;
	vq->used[vq->nused].len = len;
	if (unlikely(++vq->nused == swdev_burst(sw)))
		return swdev_vq_flush(sw, vq, &vq->nused);
	return true;
}

/**
 * swdev_vq_stage_n() - stage completions the driver must see together
 * @sw: the device (lock held)
 * @vq: the queue
 * @elems: the completions, in ring order
 * @n: entries (at most the ring size)
 *
 * They are published with one used-index update, after everything staged
 * before them: the driver never sees part of them (e.g. the buffers of one
 * merged frame, virtio 1.2 §5.1.6.4).
 *
 * Return: as swdev_vq_flush().
 */
static inline bool swdev_vq_stage_n(struct swdev *sw, struct swdev_vq *vq,
				    const struct vringh_used_elem *elems,
				    unsigned int n)
{
	if (vq->nused + n <= swdev_burst(sw)) {
		memcpy(&vq->used[vq->nused], elems, n * sizeof(*elems));
		vq->nused += n;
		if (vq->nused == swdev_burst(sw))
			return swdev_vq_flush(sw, vq, &vq->nused);
		return true;
	}
	if (!swdev_vq_flush(sw, vq, &vq->nused))
		return false;
	return swdev_vq_publish(sw, vq, elems, n);
}

/**
 * swdev_vq_service() - drain one queue through a chain handler
 * @sw: the device (lock held, running)
 * @vq: the queue; nothing happens unless it is started
 * @want: SWDEV_CHAIN_IN and/or SWDEV_CHAIN_OUT: the buffers to collect;
 *	a chain with buffers of a direction not wanted is a ring error
 *	(-EACCES from vringh)
 * @fn: the handler, called once per chain
 *
 * The one drain loop of every software device. Kicks are off while it runs
 * (virtio 1.2 §2.7.10); it takes at most SWDEV_BUDGET chains; an empty ring
 * re-arms kicks with the race check of swdev_vq_rearm(); -ENOMEM from the
 * ring walker (no memory for a long chain now) ends the pass and asks for
 * another; any ring error, or a negative handler verdict, is reported with
 * swdev_vq_error() and stops the queue until reset. Completions are
 * published @sw->attr.burst at a time with one used-index update (so chains
 * complete in the order they were made available, as VIRTIO_F_IN_ORDER
 * promises), and the driver is interrupted once at the end if the ring asks
 * for it (EVENT_IDX decides).
 *
 * Inline, so each caller's handler is called directly, not through a
 * pointer: this is every device's hot loop.
 *
 * Return: true when the budget ran out (or memory was short) and another
 * pass is needed at once; false when the queue is drained, stalled or
 * broken.
 */
static __always_inline bool swdev_vq_service(struct swdev *sw,
					     struct swdev_vq *vq,
					     unsigned int want,
					     swdev_chain_fn fn)
{
	struct vringh_iov *riov = (want & SWDEV_CHAIN_IN) ? &vq->riov : NULL;
	struct vringh_iov *wiov = (want & SWDEV_CHAIN_OUT) ? &vq->wiov : NULL;
	unsigned int budget = SWDEV_BUDGET, n;
	bool more = false;
	int ret;

	if (!vq->started)
		return false;
	if (unlikely(vq->inflight_recover) && !swdev_vq_inflight_recover(sw, vq))
		return false;
	vringh_notify_disable(&vq->vring);
	while (likely(!vdpa_needs_reset(&sw->vdpa))) {
		/* Chains a previous instance had in flight go first. */
		bool resubmit = unlikely(vq->resubmit_pos < vq->nresubmit);
		u32 len = 0;
		u16 head;

		if (unlikely(!budget--)) {
			more = true;
			break;
		}
		if (resubmit)
			ret = swdev_vq_getdesc_resubmit(vq, riov, wiov, &head);
		else
			ret = vringh_getdesc(&vq->vring, riov, wiov, &head);
		if (ret == 0) {
			if (swdev_vq_rearm(sw, vq))
				continue;
			break;
		}
		if (unlikely(ret < 0)) {
			if (ret == -ENOMEM)
				more = true;
			else
				swdev_vq_error(sw, vq, ret);
			break;
		}
		if (resubmit) {
			vq->resubmit_pos++;	/* in flight already */
		} else if (unlikely(vq->inflight) &&
			   unlikely(!swdev_vq_inflight_take(sw, vq, head))) {
			vringh_abandon(&vq->vring, 1);
			break;
		}
		ret = fn(sw, vq, head, &len);
		if (likely(ret == SWDEV_USED)) {
			if (!swdev_vq_stage(sw, vq, head, len))
				break;
			continue;
		}
		if (ret == SWDEV_HELD)
			continue;
		if (resubmit) {
			vq->resubmit_pos--;	/* not from the avail ring */
		} else {
			vringh_abandon(&vq->vring, 1);
			if (unlikely(vq->inflight))
				swdev_vq_inflight_untake(vq, head);
		}
		if (ret == SWDEV_RETRY)
			continue;
		if (ret != SWDEV_STALL)
			swdev_vq_error(sw, vq, ret);
		break;
	}
	/* Chains served before a ring error are still completed. */
	n = vq->nused;
	vq->nused = 0;
	return swdev_vq_complete(sw, vq, vq->used, n) && more;
}

/* The "poll" attribute every type on the core may offer (swdev.poll). */
#define SWDEV_ATTR_POLL(type, field)					\
	VDPA_ATTR_BOOL(type, field, "poll",				\
		       "busy-poll the rings instead of sleeping until a kick (costs a core)")

/*
 * The six attributes of a struct vdpa_rate_limit at @field of @type, keys
 * prefixed with @pfx ("" or "rx_", "tx_"; a string literal).
 */
#define SWDEV_ATTR_BUCKET_SIZE(type, field, k, unit, h)			\
	{ .key = (k), .form = k "=<" unit ">", .help = (h),		\
	  .parse = vdpa_attr_parse_size, .offset = offsetof(type, field), \
	  .size = sizeof(u64), .max = UINT64_MAX }
#define SWDEV_ATTR_BUCKET_UINT(type, field, k, unit, h)			\
	{ .key = (k), .form = k "=<" unit ">", .help = (h),		\
	  .parse = vdpa_attr_parse_uint, .offset = offsetof(type, field), \
	  .size = sizeof(u64), .min = 1, .max = UINT64_MAX }
#define SWDEV_ATTRS_LIMIT(type, field, pfx, what)				\
	SWDEV_ATTR_BUCKET_SIZE(type, field.bw.size, pfx "bw_size",		\
		"bytes, optional K/M/G/T suffix, e.g. 10M",			\
		what ": bytes bucket size (with " pfx "bw_refill_ms)"),	\
	SWDEV_ATTR_BUCKET_SIZE(type, field.bw.one_time_burst, pfx "bw_burst", \
		"bytes, optional K/M/G/T suffix",				\
		what ": extra bytes allowed once"),				\
	SWDEV_ATTR_BUCKET_UINT(type, field.bw.refill_ms, pfx "bw_refill_ms", \
		"milliseconds, 1 or more",					\
		what ": ms to refill " pfx "bw_size bytes"),				\
	SWDEV_ATTR_BUCKET_UINT(type, field.ops.size, pfx "ops_size",	\
		"operations, 1 or more",					\
		what ": operations bucket size (with " pfx "ops_refill_ms)"), \
	SWDEV_ATTR_BUCKET_UINT(type, field.ops.one_time_burst, pfx "ops_burst", \
		"operations, 1 or more",					\
		what ": extra operations allowed once"),			\
	SWDEV_ATTR_BUCKET_UINT(type, field.ops.refill_ms, pfx "ops_refill_ms", \
		"milliseconds, 1 or more",					\
		what ": ms to refill " pfx "ops_size operations")

/**
 * swdev_set_limit() - set the rate limit in slot @slot (see
 *	vdpa_set_rate_limit(), which calls it)
 * @sw: the device (lock not held)
 * @slot: index into @sw->limiter, below @sw->attr.nlimits
 * @bw: new bytes bucket, or NULL: unchanged
 * @ops: new operations bucket, or NULL: unchanged
 *
 * Return: 0 or -errno (no timer).
 */
int swdev_set_limit(struct swdev *sw, unsigned int slot,
		    const struct vdpa_bucket *bw, const struct vdpa_bucket *ops);

/**
 * swdev_set_limits() - swdev_set_limit() of every slot from a creation
 *	config; limits all zero are skipped (no timer made)
 * @sw: the device
 * @rl: @sw->attr.nlimits limits, in slot order
 *
 * Return: 0 or -errno.
 */
int swdev_set_limits(struct swdev *sw, const struct vdpa_rate_limit *rl);

#endif /* KESTREL_VDPA_SWDEV_H */
