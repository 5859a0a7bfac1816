/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vDPA bus: devices with a virtio datapath behind a small control
 * interface, and the management devices that create them.
 *
 * Providers (src/vdpa/sim/, real devices) embed a struct vdpa_device, fill a
 * static const struct vdpa_config_ops and call vdpa_register_device().
 * Consumers (the virtio transports, the vhost-user server, tests) never call
 * the ops directly for anything that carries state: they call the vdpa_*()
 * wrappers below, which take the device lock, keep the virtio status state
 * machine right (virtio 1.2 §2.1, §3.1) and check optional ops.
 *
 * Locking. vdpa_device.lock (the "bus lock") serialises every wrapper except
 * vdpa_kick_vq(), vdpa_get_vq_stats() and vdpa_needs_reset(), which are hot
 * or read-only paths. Ops are always called with the bus lock held except
 * kick_vq and get_vq_stats, which a device must make safe to call from any
 * thread. A device never takes the bus lock itself: its worker reports
 * trouble through vdpa_device_error(), which only uses the separate cb_lock.
 */
#ifndef KESTREL_VDPA_H
#define KESTREL_VDPA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <kestrel/compiler.h>
#include <kestrel/log.h>
#include <kestrel/types.h>

struct iotlb;
struct vdpa_device;
struct vdpa_mgmt_dev;

/** VDPA_NAME_MAX - room for a device name including the NUL ("vdpa0") */
#define VDPA_NAME_MAX		32

/* Access a device may make through a mapping (same values as VHOST_ACCESS_*). */
#define VDPA_MAP_READ		0x1	/* device reads: driver -> device buffers */
#define VDPA_MAP_WRITE		0x2	/* device writes: device -> driver buffers */
#define VDPA_MAP_RW		(VDPA_MAP_READ | VDPA_MAP_WRITE)

/**
 * struct vdpa_callback - what a device calls to interrupt its driver
 * @fn: called (from the device's worker thread) when the device has used
 *	buffers of a queue, or changed its config space / status; NULL means
 *	"no interrupt wanted". Must not call back into the bus for the same
 *	device. For kestrel's guests it writes an irqfd, for vhost-user the
 *	front-end's call eventfd.
 * @private: handed to @fn unchanged
 */
struct vdpa_callback {
	void (*fn)(void *private);
	void *private;
};

/**
 * vdpa_callback_call() - invoke @cb if it is set
 * @cb: the callback (may have a NULL @fn)
 */
static inline void vdpa_callback_call(const struct vdpa_callback *cb)
{
	if (cb->fn)
		cb->fn(cb->private);
}

/**
 * struct vdpa_vq_state_split - split-ring queue state
 * @avail_index: the next avail ring index the device will read
 */
struct vdpa_vq_state_split {
	u16 avail_index;
};

/**
 * struct vdpa_vq_state_packed - packed-ring queue state
 * @last_avail_counter: driver ring wrap counter the device expects next
 * @last_avail_idx: next descriptor index the device will read (15 bits)
 * @last_used_counter: device ring wrap counter of the next used slot
 * @last_used_idx: next descriptor index the device will write (15 bits)
 */
struct vdpa_vq_state_packed {
	u16 last_avail_counter:1;
	u16 last_avail_idx:15;
	u16 last_used_counter:1;
	u16 last_used_idx:15;
};

/**
 * struct vdpa_vq_state - the position of a virtqueue, for vhost-user
 *	SET/GET_VRING_BASE and migration
 * @split: valid when VIRTIO_F_RING_PACKED was not negotiated
 * @packed: valid when VIRTIO_F_RING_PACKED was negotiated
 */
struct vdpa_vq_state {
	union {
		struct vdpa_vq_state_split split;
		struct vdpa_vq_state_packed packed;
	};
};

/**
 * struct vdpa_iova_range - the IOVA window a device can map
 * @first: lowest usable IOVA
 * @last: highest usable IOVA (inclusive, so the window may end at U64_MAX)
 */
struct vdpa_iova_range {
	u64 first;
	u64 last;
};

/**
 * struct vdpa_vq_stats - per-queue counters kept by the device, since the
 *	last reset
 * @packets: requests / frames completed
 * @bytes: payload bytes moved (frame bytes for net, data bytes for blk)
 * @drops: frames dropped (net: no or too small RX buffers, filtered)
 * @errors: malformed requests and ring errors
 * @kicks: notifications received
 * @notifies: interrupts raised for this queue
 */
struct vdpa_vq_stats {
	u64 packets;
	u64 bytes;
	u64 drops;
	u64 errors;
	u64 kicks;
	u64 notifies;
};

/**
 * struct vdpa_config_ops - what a vDPA device implements
 *
 * Every op not marked (optional) is mandatory; vdpa_register_device()
 * rejects a table that lacks one, or that has only half of a pair
 * (dma_map/dma_unmap, suspend/resume, get_vq_group/set_group_asid), or DMA
 * ops without get_iova_range. Queue indexes reaching an op are always
 * < vdpa->nvqs, ASIDs < vdpa->nas and groups < vdpa->ngroups: the
 * wrappers check them. Ops that can fail return 0 or a negative errno.
 *
 * Virtqueue ops:
 *
 * @set_vq_address: record the IOVAs of a queue's descriptor area
 *	(@desc_area), driver area (@driver_area, the avail ring) and device
 *	area (@device_area, the used ring). Return 0 or -EINVAL (alignment).
 * @set_vq_num: record the queue size @num chosen by the driver (the bus
 *	has checked it against get_vq_num_max/min and, for split rings, that
 *	it is a power of two). Return 0 or -errno.
 * @kick_vq: driver notification for queue @idx. Called without the bus
 *	lock from any thread; must be cheap (wake a worker). A kick while the
 *	device is suspended is remembered and acted on by resume.
 * @set_vq_kickfd: (optional) let eventfd @fd wake the device's worker
 *	directly for queue @idx (an ioeventfd, a vhost-user kick fd), so no
 *	thread has to turn it into kick_vq calls. The device keeps its own
 *	duplicate of @fd; the caller keeps its copy. @fd == -1 detaches.
 *	Reset detaches. Return 0 or -errno.
 * @set_vq_cb: install the used-buffer callback of queue @idx (copied).
 *	Reset clears it.
 * @set_vq_ready: enable (@ready true) or disable queue @idx. Enabling
 *	(re)starts the ring walker from the recorded address, size and state;
 *	disabling stops it and keeps the state for get_vq_state. Return 0 or
 *	-errno (e.g. -EINVAL when the ring cannot be set up).
 * @get_vq_ready: whether queue @idx is enabled
 * @set_vq_state: set the position of queue @idx (split: next avail index;
 *	the used index restarts at the same value). Return 0 or -errno.
 * @get_vq_state: read the position of queue @idx into @state; meaningful
 *	when the queue is disabled or the device is suspended. Return 0/-errno.
 * @get_vq_stats: (optional) copy the counters of queue @idx into @stats.
 *	Called without the bus lock. Return 0 or -errno.
 * @get_vq_group: (optional) the virtqueue group of queue @idx; groups are
 *	what set_group_asid binds to an address space. Absent: group 0.
 * @get_vq_num_max: the largest queue size the device supports
 * @get_vq_num_min: (optional) the smallest queue size; absent: 1
 * @get_vq_size: (optional) the current size of queue @idx
 * @set_vq_inflight: (optional) record the requests queue @idx takes and
 *	completes in @region (@size bytes, struct vdpa_inflight_split or, for
 *	a packed ring, struct vdpa_inflight_packed), so a
 *	later instance of the device can resubmit the ones it had not
 *	completed (vhost-user's INFLIGHT_SHMFD); NULL stops recording. Set
 *	before the queue is enabled; enabling recovers from the region (see
 *	struct vdpa_inflight_split). Reset drops it. Only a device registered
 *	with vdpa_device_attr.inflight has it working. Return 0, -EOPNOTSUPP
 *	(this device does not record), -EINVAL (@size too small for the
 *	queue) or -errno. A region too small for the layout the queue starts
 *	with makes the queue fail to start.
 *
 * Device ops:
 *
 * @get_vq_align: required ring alignment in bytes (a power of two)
 * @get_device_features: the virtio feature bits the device offers
 * @set_driver_features: record the feature bits the driver accepted (the
 *	bus has checked they are a subset of the offered ones and that
 *	FEATURES_OK is not set yet). Return 0 or -errno.
 * @get_driver_features: the feature bits recorded by set_driver_features
 * @set_config_cb: install the config-change callback (copied). Survives
 *	reset.
 * @get_status: the device status byte (virtio 1.2 §2.1), without the
 *	NEEDS_RESET bit the bus adds on its own (see vdpa_device_error())
 * @set_status: write the device status byte; the bus has checked the
 *	transition and routes 0 to @reset instead. A device refuses a feature
 *	set by not keeping FEATURES_OK (virtio 1.2 §3.1.1 step 5); it starts
 *	its datapath on DRIVER_OK.
 * @reset: return the device to its initial state: status 0, features 0,
 *	every queue disabled and unconfigured, queue callbacks and kick fds
 *	dropped, generation bumped. Mappings (the IOTLBs) are kept. Return 0
 *	or -errno.
 * @get_config_size: size in bytes of the config space, including fields
 *	that depend on features
 * @get_config: copy @len bytes at @offset of the config space to @buf
 *	(the bus has checked the range against get_config_size)
 * @set_config: write @len bytes from @buf at @offset of the config space
 *	(range checked by the bus; read-only fields are ignored)
 * @get_generation: (optional) config generation counter (virtio 1.2
 *	§2.5.1); absent: 0
 * @get_device_id: virtio device id (1 net, 2 blk, ...)
 * @get_vendor_id: virtio vendor id
 * @suspend: (optional, with @resume) stop processing descriptors: when it
 *	returns no ring or buffer is touched any more, and get_vq_state is
 *	exact. Config space and status still answer. Return 0 or -errno.
 * @resume: (optional, with @suspend) continue after suspend, acting on
 *	kicks that arrived meanwhile. Return 0 or -errno.
 * @set_group_asid: (optional, with @get_vq_group) bind virtqueue group
 *	@group to address space @asid. Return 0 or -errno.
 * @get_iova_range: (optional, mandatory with any DMA op) the IOVA window
 *	the device can map
 * @get_dev_state: (optional, with @set_dev_state) copy into @buf (@size
 *	bytes, at most VDPA_DEV_STATE_MAX) what the driver set in the device
 *	that neither config space, the status byte nor a queue's position
 *	holds: what it commanded through a control queue (a net device's
 *	MAC, receive filter and queue pairs), in a layout of the device's
 *	own that begins with its version. Called with FEATURES_OK set.
 *	Return its length (0: nothing to keep), -ENOSPC or -errno.
 * @set_dev_state: (optional, with @get_dev_state) load @len bytes that
 *	@get_dev_state of a device of the same type and creation arguments
 *	wrote (a snapshot restored). Hostile: bounded and checked as the
 *	driver's own commands are. Called with FEATURES_OK set, the
 *	negotiated features deciding what the state may hold. Return 0,
 *	-EBADMSG (truncated, or a length its version does not have),
 *	-EPROTONOSUPPORT (a version this device does not know), -EINVAL
 *	(a value the driver could not have set: out of range, or for a
 *	feature not negotiated) or -errno (the backend could not follow);
 *	on failure the device keeps the state it had.
 *
 * DMA ops (pick either style, or both):
 *
 * @set_map: (optional) replace every mapping of address space @asid with
 *	a copy of the entries of @iotlb (the caller keeps @iotlb).
 *	Return 0 or -errno.
 * @dma_map: (optional, with @dma_unmap) map [@iova, @iova + @size) of
 *	address space @asid to host memory at @hva with @perm (VDPA_MAP_*).
 *	The bus has checked @size != 0, no wrap, the IOVA window and @perm.
 *	Return 0, -EEXIST on overlap, or -errno.
 * @dma_unmap: (optional, with @dma_map) unmap exactly [@iova, @iova +
 *	@size) of address space @asid (mappings straddling an end keep their
 *	outer parts; nothing mapped is not an error). Return 0 or -errno.
 *	The caller quiesces the device (suspend) first if buffers in flight
 *	may live in the range.
 *
 * Lifecycle:
 *
 * @free: release the device (it embeds the vdpa_device). Called by
 *	vdpa_unregister_device(), or directly by a provider whose registration
 *	failed. Must accept a half-built device.
 */
struct vdpa_config_ops {
	/* Virtqueue ops */
	int (*set_vq_address)(struct vdpa_device *vdpa, u16 idx, u64 desc_area,
			      u64 driver_area, u64 device_area);
	int (*set_vq_num)(struct vdpa_device *vdpa, u16 idx, u32 num);
	void (*kick_vq)(struct vdpa_device *vdpa, u16 idx);
	int (*set_vq_kickfd)(struct vdpa_device *vdpa, u16 idx, int fd);
	void (*set_vq_cb)(struct vdpa_device *vdpa, u16 idx,
			  const struct vdpa_callback *cb);
	int (*set_vq_ready)(struct vdpa_device *vdpa, u16 idx, bool ready);
	bool (*get_vq_ready)(struct vdpa_device *vdpa, u16 idx);
	int (*set_vq_state)(struct vdpa_device *vdpa, u16 idx,
			    const struct vdpa_vq_state *state);
	int (*get_vq_state)(struct vdpa_device *vdpa, u16 idx,
			    struct vdpa_vq_state *state);
	int (*get_vq_stats)(struct vdpa_device *vdpa, u16 idx,
			    struct vdpa_vq_stats *stats);
	u32 (*get_vq_group)(struct vdpa_device *vdpa, u16 idx);
	u32 (*get_vq_num_max)(struct vdpa_device *vdpa);
	u32 (*get_vq_num_min)(struct vdpa_device *vdpa);
	u32 (*get_vq_size)(struct vdpa_device *vdpa, u16 idx);
	int (*set_vq_inflight)(struct vdpa_device *vdpa, u16 idx, void *region,
			       size_t size);

	/* Device ops */
	u32 (*get_vq_align)(struct vdpa_device *vdpa);
	u64 (*get_device_features)(struct vdpa_device *vdpa);
	int (*set_driver_features)(struct vdpa_device *vdpa, u64 features);
	u64 (*get_driver_features)(struct vdpa_device *vdpa);
	void (*set_config_cb)(struct vdpa_device *vdpa,
			      const struct vdpa_callback *cb);
	u8 (*get_status)(struct vdpa_device *vdpa);
	void (*set_status)(struct vdpa_device *vdpa, u8 status);
	int (*reset)(struct vdpa_device *vdpa);
	size_t (*get_config_size)(struct vdpa_device *vdpa);
	void (*get_config)(struct vdpa_device *vdpa, unsigned int offset,
			   void *buf, unsigned int len);
	void (*set_config)(struct vdpa_device *vdpa, unsigned int offset,
			   const void *buf, unsigned int len);
	u32 (*get_generation)(struct vdpa_device *vdpa);
	u32 (*get_device_id)(struct vdpa_device *vdpa);
	u32 (*get_vendor_id)(struct vdpa_device *vdpa);
	int (*suspend)(struct vdpa_device *vdpa);
	int (*resume)(struct vdpa_device *vdpa);
	int (*set_group_asid)(struct vdpa_device *vdpa, u32 group, u32 asid);
	struct vdpa_iova_range (*get_iova_range)(struct vdpa_device *vdpa);
	ssize_t (*get_dev_state)(struct vdpa_device *vdpa, void *buf, size_t size);
	int (*set_dev_state)(struct vdpa_device *vdpa, const void *buf, size_t len);

	/* DMA ops */
	int (*set_map)(struct vdpa_device *vdpa, u32 asid,
		       struct iotlb *iotlb);
	int (*dma_map)(struct vdpa_device *vdpa, u32 asid, u64 iova, u64 size,
		       void *hva, u32 perm);
	int (*dma_unmap)(struct vdpa_device *vdpa, u32 asid, u64 iova,
			 u64 size);

	/* Lifecycle */
	void (*free)(struct vdpa_device *vdpa);
};

/**
 * struct vdpa_device - the bus's part of a vDPA device (embedded)
 * @config: the device's ops table (set by vdpa_register_device())
 * @name: unique bus name, "vdpa<N>" unless the creator chose one
 * @nvqs: number of virtqueues
 * @ngroups: number of virtqueue groups (>= 1)
 * @nas: number of address spaces (>= 1), each with its own IOTLB
 * @inflight: records requests in flight (vdpa_set_vq_inflight())
 * @mdev: the management device that created it, or NULL
 * @lock: the bus lock; serialises the wrappers (see the file comment)
 * @suspended: vdpa_suspend() succeeded and no resume/reset since (@lock)
 * @cb_lock: protects @config_cb, so vdpa_device_error() can use it from
 *	the device's worker without the bus lock
 * @config_cb: config-change callback, as last given to vdpa_set_config_cb()
 * @needs_reset: set by vdpa_device_error(), cleared by reset; read and
 *	written with __atomic builtins from any thread
 * @error_count: number of vdpa_device_error() calls (atomic)
 * @err_rl: rate limit of vdpa_device_error() log lines
 * @registered: on the bus list (bus list lock)
 * @next: bus list link (bus list lock)
 */
struct vdpa_device {
	const struct vdpa_config_ops *config;
	char name[VDPA_NAME_MAX];
	u32 nvqs;
	u32 ngroups;
	u32 nas;
	bool inflight;
	struct vdpa_mgmt_dev *mdev;

	pthread_mutex_t lock;
	bool suspended;

	pthread_mutex_t cb_lock;
	struct vdpa_callback config_cb;

	unsigned int needs_reset;
	u64 error_count;
	struct ratelimit err_rl;

	bool registered;
	struct vdpa_device *next;
};

/**
 * struct vdpa_device_attr - the shape of a device, given at registration
 * @name: bus name, or NULL/"" for the next free "vdpa<N>"
 * @nvqs: number of virtqueues (1..65535)
 * @ngroups: number of virtqueue groups (0 means 1)
 * @nas: number of address spaces (0 means 1)
 * @inflight: the device records the requests it has in flight in a region
 *	given with vdpa_set_vq_inflight() (needs the set_vq_inflight op)
 */
struct vdpa_device_attr {
	const char *name;
	u32 nvqs;
	u32 ngroups;
	u32 nas;
	bool inflight;
};

/* ---- providers ------------------------------------------------------- */

/**
 * vdpa_register_device() - validate @ops and put @vdpa on the bus
 * @vdpa: the embedded base of a fully built device (zeroed before the
 *	provider filled its own part)
 * @ops: the device's ops table (static const, never changed at run time)
 * @attr: queue, group and address-space counts, optional name
 *
 * On failure nothing is registered and the provider still owns @vdpa
 * (and frees it through its own free path).
 *
 * Return: 0, -EINVAL (incomplete or inconsistent @ops, bad counts or name),
 * -EEXIST (name taken), or -errno.
 */
int vdpa_register_device(struct vdpa_device *vdpa,
			 const struct vdpa_config_ops *ops,
			 const struct vdpa_device_attr *attr);

/**
 * vdpa_unregister_device() - take @vdpa off the bus and free it
 * @vdpa: a registered device; gone when this returns (ops->free)
 *
 * The device is reset first, so its worker no longer touches memory.
 */
void vdpa_unregister_device(struct vdpa_device *vdpa);

/**
 * vdpa_ops_validate() - check an ops table as registration would
 * @ops: the table
 * @nas: number of address spaces the device will have
 * @ngroups: number of virtqueue groups
 *
 * Return: 0 or -EINVAL (the reason is logged).
 */
int vdpa_ops_validate(const struct vdpa_config_ops *ops, u32 nas, u32 ngroups);

/**
 * vdpa_device_error() - the device found the driver (or peer) misbehaving
 * @vdpa: the device
 * @fmt: printf format of the reason, logged rate-limited with the name
 *
 * Sets DEVICE_NEEDS_RESET in the status the bus reports, raises the config
 * callback (virtio 1.2 §2.1.2: the device notifies a config change), and
 * makes vdpa_needs_reset() true so the datapath stops touching the rings.
 * Only a reset clears it. Callable from any thread without the bus lock;
 * never blocks on the bus lock.
 */
void vdpa_device_error(struct vdpa_device *vdpa, const char *fmt, ...)
	__printf(2, 3) __cold;

/**
 * vdpa_needs_reset() - whether vdpa_device_error() was called since reset
 * @vdpa: the device
 *
 * Return: true while the datapath must stay stopped.
 */
static inline bool vdpa_needs_reset(const struct vdpa_device *vdpa)
{
	return __atomic_load_n(&vdpa->needs_reset, __ATOMIC_ACQUIRE) != 0;
}

/* ---- consumers: bus wrappers ------------------------------------------
 *
 * All return 0 or a negative errno unless documented otherwise:
 * -EINVAL bad argument, -EBUSY wrong state for the request (e.g. queue
 * setup after DRIVER_OK), -EOPNOTSUPP optional op missing, -EIO the device
 * needs a reset.
 */

/**
 * vdpa_find_device() - look a registered device up by name
 * @name: bus name
 *
 * Return: the device or NULL. The caller must not use it past its
 * unregistration.
 */
struct vdpa_device *vdpa_find_device(const char *name);

/**
 * vdpa_for_each_device() - call @fn for each registered device
 * @fn: called with the bus list lock held; must not (un)register devices;
 *	a non-zero return stops the walk and is returned
 * @opaque: passed to @fn
 *
 * Return: 0 or the first non-zero value returned by @fn.
 */
int vdpa_for_each_device(int (*fn)(struct vdpa_device *vdpa, void *opaque),
			 void *opaque);

/** vdpa_get_device_id() - virtio device id; Return: the id */
u32 vdpa_get_device_id(struct vdpa_device *vdpa);

/** vdpa_get_vendor_id() - virtio vendor id; Return: the id */
u32 vdpa_get_vendor_id(struct vdpa_device *vdpa);

/**
 * vdpa_get_status() - the status byte a driver reads
 * @vdpa: the device
 *
 * Return: the device's status, with VIRTIO_CONFIG_S_NEEDS_RESET added
 * while vdpa_needs_reset().
 */
u8 vdpa_get_status(struct vdpa_device *vdpa);

/**
 * vdpa_set_status() - a driver writes the status byte
 * @vdpa: the device
 * @status: new status; 0 resets the device (vdpa_reset())
 *
 * Enforces virtio 1.2 §3.1.1: bits are only ever added (clearing any bit
 * other than by writing 0 is -EINVAL); NEEDS_RESET cannot be written;
 * DRIVER needs ACKNOWLEDGE; FEATURES_OK needs DRIVER; DRIVER_OK needs
 * FEATURES_OK. Setting FEATURES_OK succeeds even when the device refuses
 * the features: the driver must read the status back (the bit is then
 * clear, virtio 1.2 §3.1.1 step 6) — see vdpa_features_ok().
 *
 * Return: 0, -EINVAL (forbidden transition), -errno from reset.
 */
int vdpa_set_status(struct vdpa_device *vdpa, u8 status);

/**
 * vdpa_reset() - reset the device (status 0)
 * @vdpa: the device
 *
 * Clears status, features, NEEDS_RESET, suspension and all queue state
 * including queue callbacks and kick fds. Keeps the config callback and the
 * mappings.
 *
 * Return: 0 or -errno from the device.
 */
int vdpa_reset(struct vdpa_device *vdpa);

/** vdpa_get_device_features() - feature bits offered; Return: the bits */
u64 vdpa_get_device_features(struct vdpa_device *vdpa);

/** vdpa_get_driver_features() - feature bits accepted; Return: the bits */
u64 vdpa_get_driver_features(struct vdpa_device *vdpa);

/**
 * vdpa_set_features() - record the features the driver accepts
 * @vdpa: the device
 * @features: must be a subset of vdpa_get_device_features()
 *
 * Return: 0, -EINVAL (not offered), -EBUSY (FEATURES_OK already set).
 */
int vdpa_set_features(struct vdpa_device *vdpa, u64 features);

/**
 * vdpa_features_ok() - set FEATURES_OK and tell whether the device kept it
 * @vdpa: the device, with ACKNOWLEDGE and DRIVER set
 *
 * Return: 0 when the device accepted the features, -ENOTSUP when it
 * refused them (FEATURES_OK did not stick), or -errno from
 * vdpa_set_status().
 */
int vdpa_features_ok(struct vdpa_device *vdpa);

/**
 * vdpa_get_config() - read the device's config space
 * @vdpa: the device
 * @offset: byte offset
 * @buf: destination
 * @len: bytes to read
 *
 * Return: 0 or -EINVAL when [@offset, @offset + @len) is outside the config
 * space (checked without overflow).
 */
int vdpa_get_config(struct vdpa_device *vdpa, unsigned int offset,
		    void *buf, unsigned int len);

/**
 * vdpa_set_config() - write the device's config space
 * @vdpa: the device
 * @offset: byte offset
 * @buf: source
 * @len: bytes to write
 *
 * Return: 0 or -EINVAL when the range is outside the config space.
 */
int vdpa_set_config(struct vdpa_device *vdpa, unsigned int offset,
		    const void *buf, unsigned int len);

/** vdpa_get_config_size() - size of the config space; Return: bytes */
size_t vdpa_get_config_size(struct vdpa_device *vdpa);

/** vdpa_get_generation() - config generation; Return: the counter */
u32 vdpa_get_generation(struct vdpa_device *vdpa);

/**
 * vdpa_set_config_cb() - install the config-change callback
 * @vdpa: the device
 * @cb: copied; NULL or a NULL @fn removes it
 *
 * Also raised by vdpa_device_error(). Survives reset.
 */
void vdpa_set_config_cb(struct vdpa_device *vdpa,
			const struct vdpa_callback *cb);

/** vdpa_get_vq_num_max() - largest queue size; Return: the size */
u32 vdpa_get_vq_num_max(struct vdpa_device *vdpa);

/** vdpa_get_vq_num_min() - smallest queue size; Return: the size (>= 1) */
u32 vdpa_get_vq_num_min(struct vdpa_device *vdpa);

/** vdpa_get_vq_align() - ring alignment; Return: bytes */
u32 vdpa_get_vq_align(struct vdpa_device *vdpa);

/*
 * Queue setup: vdpa_set_vq_address(), vdpa_set_vq_num() and
 * vdpa_set_vq_state() are -EBUSY while the queue is ready, and after
 * DRIVER_OK unless the device is suspended (virtio 1.2 §3.1.1: queues are
 * configured before DRIVER_OK; the suspended case serves vhost-user's
 * stop/restart). vdpa_set_vq_ready() is also allowed after DRIVER_OK (a
 * vhost-user front-end enables rings late).
 */

/**
 * vdpa_set_vq_address() - set the ring areas of a queue
 * @vdpa: the device
 * @idx: queue index
 * @desc_area: IOVA of the descriptor table (16-byte aligned)
 * @driver_area: IOVA of the avail ring (2-byte aligned)
 * @device_area: IOVA of the used ring (4-byte aligned)
 *
 * Return: 0, -EINVAL (index, alignment), -EBUSY (see above).
 */
int vdpa_set_vq_address(struct vdpa_device *vdpa, u16 idx, u64 desc_area,
			u64 driver_area, u64 device_area);

/**
 * vdpa_set_vq_num() - set the size of a queue
 * @vdpa: the device
 * @idx: queue index
 * @num: between vdpa_get_vq_num_min() and vdpa_get_vq_num_max(); a power
 *	of two unless VIRTIO_F_RING_PACKED was negotiated
 *
 * Return: 0, -EINVAL, -EBUSY.
 */
int vdpa_set_vq_num(struct vdpa_device *vdpa, u16 idx, u32 num);

/**
 * vdpa_set_vq_ready() - enable or disable a queue
 * @vdpa: the device
 * @idx: queue index
 * @ready: enable?
 *
 * Return: 0, -EINVAL, -EIO (enabling while NEEDS_RESET), -errno from the
 * device.
 */
int vdpa_set_vq_ready(struct vdpa_device *vdpa, u16 idx, bool ready);

/** vdpa_get_vq_ready() - whether queue @idx is enabled; Return: bool */
bool vdpa_get_vq_ready(struct vdpa_device *vdpa, u16 idx);

/**
 * vdpa_set_vq_state() - set the position of a queue
 * @vdpa: the device
 * @idx: queue index
 * @state: new position
 *
 * Return: 0, -EINVAL, -EBUSY.
 */
int vdpa_set_vq_state(struct vdpa_device *vdpa, u16 idx,
		      const struct vdpa_vq_state *state);

/**
 * vdpa_get_vq_state() - read the position of a queue
 * @vdpa: the device
 * @idx: queue index
 * @state: filled in
 *
 * Return: 0 or -EINVAL.
 */
int vdpa_get_vq_state(struct vdpa_device *vdpa, u16 idx,
		      struct vdpa_vq_state *state);

/*
 * Requests in flight, kept where they outlive the device (vhost-user's
 * INFLIGHT_SHMFD, QEMU docs/interop/vhost-user.rst "Inflight I/O
 * tracking"): a region per queue, in memory the front-end keeps, so a
 * restarted back-end finds the requests its previous instance took and did
 * not complete. Native byte order (both ends share a host). The layout
 * follows the ring's: struct vdpa_inflight_split here, struct
 * vdpa_inflight_packed (below) for a packed ring; which one a region holds
 * is decided when its queue starts, by VIRTIO_F_RING_PACKED.
 *
 * Split. The device writes, in this order:
 *  taking a chain:   desc[head].counter = counter++, then desc[head].inflight = 1
 *  completing n:     for each: desc[id].next = last_batch_head,
 *                    last_batch_head = id; then the used ring (elements and
 *                    idx); then desc[id].inflight = 0 for each; then
 *                    used_idx = the used ring's idx
 * so whatever instant it dies at, on restart (vdpa_inflight_recover()):
 *  - used_idx != the used ring's idx: it died after publishing a batch of
 *    (idx - used_idx) chains but before its bookkeeping: the batch, which
 *    the driver has seen completed, is walked from last_batch_head along
 *    next and its entries are no longer in flight;
 *  - every entry still in flight is resubmitted, in counter order, before
 *    anything new is taken from the avail ring;
 *  - the avail ring is read again from the used ring's idx + the number in
 *    flight: every chain taken was either published or is in flight.
 * The region is the front-end's memory: every field is hostile when read
 * back, and a region that does not add up is refused, never trusted.
 */
#define VDPA_INFLIGHT_VERSION	1
/* Each queue's region starts on this boundary (vdpa_inflight_queue_size()). */
#define VDPA_INFLIGHT_ALIGN	64

/** struct vdpa_inflight_desc - the state of one head (DescStateSplit) */
struct vdpa_inflight_desc {
	u8 inflight;		/* 1 while the chain at this head is taken */
	u8 padding[5];
	u16 next;		/* the batch list: the head published before */
	u64 counter;		/* when it was taken (monotonic per queue) */
};

/** struct vdpa_inflight_split - one queue's region (QueueRegionSplit) */
struct vdpa_inflight_split {
	u64 features;		/* 0 */
	u16 version;		/* VDPA_INFLIGHT_VERSION; 0: never used */
	u16 desc_num;		/* entries of @desc: the queue size */
	u16 last_batch_head;	/* the head published last */
	u16 used_idx;		/* the used ring's idx after the last batch */
	struct vdpa_inflight_desc desc[];
};

_Static_assert(sizeof(struct vdpa_inflight_desc) == 16 &&
	       offsetof(struct vdpa_inflight_desc, next) == 6 &&
	       offsetof(struct vdpa_inflight_desc, counter) == 8,
	       "DescStateSplit");
_Static_assert(sizeof(struct vdpa_inflight_split) == 16 &&
	       offsetof(struct vdpa_inflight_split, used_idx) == 14,
	       "QueueRegionSplit header");

/**
 * vdpa_inflight_queue_size() - bytes of one queue's region
 * @num: queue size (entries of desc[])
 *
 * Return: the header and @num entries, rounded up to VDPA_INFLIGHT_ALIGN.
 */
size_t vdpa_inflight_queue_size(u32 num);

/**
 * vdpa_inflight_recover() - check a queue's region and work out what was
 *	in flight
 * @r: the region (hostile: every field is read once and checked)
 * @size: its bytes
 * @num: the queue size
 * @used_idx: the used ring's idx as it is in memory
 * @heads: out, at least @num entries: the heads to resubmit, oldest first
 * @nheads: out: how many
 * @counter: out: the counter the next chain taken gets
 *
 * A region of version 0 is new: it is initialised for a queue of @num (no
 * head in flight). Otherwise a region whose version, desc_num (must be
 * @num), last batch (longer than the queue, or a head out of range),
 * inflight bytes (0 or 1) or counters (two alike, or one that cannot be
 * followed) are wrong is refused. The region is then brought up to date
 * (the last-batch rule above: entries and used_idx written).
 *
 * Return: 0, -EINVAL (refused; nothing written), -ENOMEM.
 */
int vdpa_inflight_recover(struct vdpa_inflight_split *r, size_t size, u16 num,
			  u16 used_idx, u16 *heads, u32 *nheads, u64 *counter);

/*
 * Packed (QueueRegionPacked). A packed ring's descriptors are overwritten
 * by used ones out of order, so the region keeps a copy of each chain's
 * ring descriptors: desc[] is a pool of entries, the free ones on a list
 * (free_head, along next; the end is desc_num). Writes, in this order:
 *  taking a chain of n:  its entries from old_free_head on (next): each
 *                    gets a descriptor's addr/len/flags/id, free_head
 *                    moves past them; the first one (the head entry) gets
 *                    num = n, last = its last entry, counter = counter++,
 *                    inflight = 1; then old_free_head = free_head (the
 *                    take is done)
 *  completing some:  for each: desc[last].next = free_head, free_head =
 *                    its head entry (the chain back on the free list);
 *                    used_idx/used_wrap_counter moved past them; the used
 *                    descriptors (the first one's flags last: the driver
 *                    sees the batch at once); inflight = 0 for each head
 *                    entry; then old_free_head, old_used_wrap_counter and
 *                    old_used_idx = the new values (the batch is done)
 * so whatever instant it dies at, on restart
 * (vdpa_inflight_packed_recover()):
 *  - used_idx/used_wrap_counter != old_used_idx/old_used_wrap_counter: it
 *    died inside a batch. The ring descriptor at old_used_idx says whether
 *    the driver was shown it: still available in the lap of
 *    old_used_wrap_counter, it was not (the batch is rolled back: free_head,
 *    used_idx, used_wrap_counter = the old ones); used in that lap, it was
 *    (the old values = the new ones);
 *  - free_head = old_free_head (a take cut short is undone: its chain is
 *    still in the ring, where the avail position will find it again);
 *  - every entry on the free list is not in flight; every other head
 *    entry with inflight = 1 is resubmitted from its copy, in counter
 *    order, before anything new is taken;
 *  - the avail ring is read again from the used position plus the ring
 *    descriptors of the chains in flight (each chain taken was either
 *    used or is in flight).
 * Entries neither free nor in a chain in flight (none in a region this
 * device wrote) go back on the free list, which is rebuilt in index order.
 */

/** struct vdpa_inflight_pdesc - one entry of a packed region (DescStatePacked) */
struct vdpa_inflight_pdesc {
	u8 inflight;		/* head entry: 1 while its chain is taken */
	u8 padding;
	u16 next;		/* the next entry: of the free list, or the chain */
	u16 last;		/* head entry: the chain's last entry */
	u16 num;		/* head entry: the chain's ring descriptors */
	u64 counter;		/* head entry: when it was taken */
	u16 id;			/* the ring descriptor's buffer ID */
	u16 flags;		/* ... its flags */
	u32 len;		/* ... its length */
	u64 addr;		/* ... its address */
};

/** struct vdpa_inflight_packed - one packed queue's region (QueueRegionPacked) */
struct vdpa_inflight_packed {
	u64 features;		/* 0 */
	u16 version;		/* VDPA_INFLIGHT_VERSION; 0: never used */
	u16 desc_num;		/* entries of @desc: the queue size */
	u16 free_head;		/* the first free entry (desc_num: none) */
	u16 old_free_head;	/* ... when the last take or batch was done */
	u16 used_idx;		/* the used position (a ring offset) */
	u16 old_used_idx;	/* ... when the last batch was done */
	u8 used_wrap_counter;	/* its wrap counter */
	u8 old_used_wrap_counter;
	u8 padding[7];
	struct vdpa_inflight_pdesc desc[];
};

_Static_assert(sizeof(struct vdpa_inflight_pdesc) == 32 &&
	       offsetof(struct vdpa_inflight_pdesc, next) == 2 &&
	       offsetof(struct vdpa_inflight_pdesc, counter) == 8 &&
	       offsetof(struct vdpa_inflight_pdesc, id) == 16 &&
	       offsetof(struct vdpa_inflight_pdesc, addr) == 24,
	       "DescStatePacked");
_Static_assert(sizeof(struct vdpa_inflight_packed) == 32 &&
	       offsetof(struct vdpa_inflight_packed, used_idx) == 16 &&
	       offsetof(struct vdpa_inflight_packed, used_wrap_counter) == 20 &&
	       offsetof(struct vdpa_inflight_packed, desc) == 32,
	       "QueueRegionPacked header");

/**
 * vdpa_inflight_packed_set_used() - store a packed region's four used fields at once
 * @r: the region
 * @used_idx: used_idx
 * @old_used_idx: old_used_idx
 * @wrap: used_wrap_counter
 * @old_wrap: old_used_wrap_counter
 *
 * They share one aligned 64-bit word (with two padding bytes, written 0):
 * a device that dies never leaves a position with the other's wrap counter.
 */
static inline void vdpa_inflight_packed_set_used(struct vdpa_inflight_packed *r,
						 u16 used_idx, u16 old_used_idx,
						 u8 wrap, u8 old_wrap)
{
	typedef u64 __attribute__((may_alias)) word_t;
	u8 b[8] = { 0 };
	word_t w;

	__builtin_memcpy(&b[0], &used_idx, 2);
	__builtin_memcpy(&b[2], &old_used_idx, 2);
	b[4] = wrap;
	b[5] = old_wrap;
	__builtin_memcpy(&w, b, sizeof(w));
	__atomic_store_n((word_t *)&r->used_idx, w, __ATOMIC_RELEASE);
}

/**
 * vdpa_inflight_packed_queue_size() - bytes of one packed queue's region
 * @num: queue size (entries of desc[])
 *
 * Return: the header and @num entries, rounded up to VDPA_INFLIGHT_ALIGN
 * (never less than vdpa_inflight_queue_size(@num)).
 */
size_t vdpa_inflight_packed_queue_size(u32 num);

/**
 * struct vdpa_inflight_chain - a packed chain to resubmit
 * @entry: its head entry in the region's desc[]
 * @last: its last entry
 * @ndesc: its ring descriptors
 * @id: its buffer ID (the last descriptor's, virtio 1.2 §2.8.6)
 * @first: where its descriptors start in vdpa_inflight_packed_recovery.descs
 */
struct vdpa_inflight_chain {
	u16 entry;
	u16 last;
	u16 ndesc;
	u16 id;
	u32 first;
};

/**
 * struct vdpa_inflight_packed_recovery - what a packed region says
 * @chains: in: room for the queue size; out: the chains in flight, oldest first
 * @descs: in: room for the queue size; out: their ring descriptors (copies)
 * @next: in: room for the queue size; out: each entry's next as the
 *	region now has it (free list and chains)
 * @nchains: out: entries of @chains
 * @free_head: out: the first free entry (the queue size: none)
 * @last_avail: out: where taking resumes (vringh_set_state()'s encoding:
 *	ring offset, wrap counter in bit 15)
 * @last_used: out: the used position, encoded the same way
 * @counter: out: the counter the next chain taken gets
 */
struct vdpa_inflight_packed_recovery {
	struct vdpa_inflight_chain *chains;
	struct vdpa_inflight_pdesc *descs;
	u16 *next;
	u32 nchains;
	u16 free_head;
	u16 last_avail;
	u16 last_used;
	u64 counter;
};

struct vringh;

/**
 * vdpa_inflight_packed_recover() - check a packed queue's region and work
 *	out what was in flight
 * @r: the region (hostile: every field is read once and checked)
 * @size: its bytes
 * @num: the queue size
 * @vrh: the ring, initialised (its position is the region's for a new
 *	region; the descriptor at old_used_idx decides a batch cut short), or
 *	NULL to check the region alone (a batch cut short is then taken as
 *	not shown to the driver, and nothing is written)
 * @out: the arrays to fill, and the results
 *
 * A region of version 0 is new: it is initialised for a queue of @num at
 * @vrh's used position, every entry free. Otherwise a region whose
 * version, desc_num (must be @num), heads or positions (out of range),
 * wrap counters (0 or 1), free list (a loop, an entry out of range),
 * inflight bytes (0 or 1), chains (a length of 0 or past the queue, an
 * entry out of range, free or in two chains, a last entry that is not the
 * end, NEXT flags that do not end with the chain, two with one buffer ID),
 * counters (two alike, or one that cannot be followed) or, for a batch
 * cut short, the ring descriptor at old_used_idx (neither available nor
 * used in that lap) are wrong is refused. The region is then brought in
 * line (the rules above: positions, inflight bytes, the free list).
 *
 * Return: 0, -EINVAL (refused; nothing written), -ENOMEM, or an error of
 * @vrh's ring.
 */
int vdpa_inflight_packed_recover(struct vdpa_inflight_packed *r, size_t size,
				 u16 num, struct vringh *vrh,
				 struct vdpa_inflight_packed_recovery *out);

/**
 * vdpa_set_vq_inflight() - record queue @idx's requests in @region
 * @vdpa: the device
 * @idx: queue index
 * @region: the queue's region (struct vdpa_inflight_split, or for a packed
 *	ring struct vdpa_inflight_packed), or NULL: stop
 * @size: its bytes
 *
 * Allowed when queue setup is (see above). The region must stay mapped
 * until it is replaced, the device is reset or the queue is given NULL.
 *
 * Return: 0, -EOPNOTSUPP (the device does not record), -EINVAL, -EBUSY.
 */
int vdpa_set_vq_inflight(struct vdpa_device *vdpa, u16 idx, void *region,
			 size_t size);

/** vdpa_has_inflight() - whether vdpa_set_vq_inflight() records; Return: bool */
bool vdpa_has_inflight(const struct vdpa_device *vdpa);

/**
 * vdpa_set_vq_cb() - install the used-buffer callback of a queue
 * @vdpa: the device
 * @idx: queue index
 * @cb: copied; NULL removes it
 *
 * Return: 0 or -EINVAL.
 */
int vdpa_set_vq_cb(struct vdpa_device *vdpa, u16 idx,
		   const struct vdpa_callback *cb);

/**
 * vdpa_set_vq_kickfd() - let an eventfd wake the device for a queue
 * @vdpa: the device
 * @idx: queue index
 * @fd: eventfd (the device duplicates it), or -1 to detach
 *
 * Return: 0, -EINVAL, -EOPNOTSUPP (the consumer then has to call
 * vdpa_kick_vq() itself when @fd fires), -errno.
 */
int vdpa_set_vq_kickfd(struct vdpa_device *vdpa, u16 idx, int fd);

/**
 * vdpa_kick_vq() - driver notification
 * @vdpa: the device
 * @idx: queue index (out of range: ignored)
 *
 * Lock-free hot path: no bus lock is taken.
 */
void vdpa_kick_vq(struct vdpa_device *vdpa, u16 idx);

/**
 * vdpa_get_vq_stats() - read the counters of a queue
 * @vdpa: the device
 * @idx: queue index
 * @stats: filled in
 *
 * Return: 0, -EINVAL, -EOPNOTSUPP.
 */
int vdpa_get_vq_stats(struct vdpa_device *vdpa, u16 idx,
		      struct vdpa_vq_stats *stats);

/**
 * vdpa_get_vq_group() - the group of a queue
 * @vdpa: the device
 * @idx: queue index (< nvqs)
 *
 * Return: the group (0 when the device has no groups).
 */
u32 vdpa_get_vq_group(struct vdpa_device *vdpa, u16 idx);

/**
 * vdpa_set_group_asid() - bind a virtqueue group to an address space
 * @vdpa: the device
 * @group: < vdpa->ngroups
 * @asid: < vdpa->nas
 *
 * Return: 0, -EINVAL, -EBUSY (after DRIVER_OK), -EOPNOTSUPP.
 */
int vdpa_set_group_asid(struct vdpa_device *vdpa, u32 group, u32 asid);

/**
 * vdpa_suspend() - stop the datapath, keeping state (vhost-user
 *	GET_VRING_BASE, migration)
 * @vdpa: the device
 *
 * Return: 0, -EOPNOTSUPP, -errno.
 */
int vdpa_suspend(struct vdpa_device *vdpa);

/**
 * vdpa_resume() - restart the datapath after vdpa_suspend()
 * @vdpa: the device
 *
 * Return: 0, -EOPNOTSUPP, -EINVAL (not suspended), -errno.
 */
int vdpa_resume(struct vdpa_device *vdpa);

/** vdpa_can_suspend() - whether the device supports suspend/resume */
bool vdpa_can_suspend(const struct vdpa_device *vdpa);

/** VDPA_DEV_STATE_MAX - the most bytes a device's own state takes (get_dev_state) */
#define VDPA_DEV_STATE_MAX	4096

/**
 * vdpa_get_dev_state() - what the driver set in the device beyond config
 *	space, status and queue positions (its control queue's commands), to
 *	keep in a snapshot
 * @vdpa: the device, suspended (or not yet running)
 * @buf: where it goes
 * @size: bytes at @buf (VDPA_DEV_STATE_MAX holds any device's)
 *
 * Return: its length; 0 when there is nothing to keep (the device has no
 * such state, or FEATURES_OK is not set: it is still in its reset state);
 * -ENOSPC (@size too small) or -errno.
 */
ssize_t vdpa_get_dev_state(struct vdpa_device *vdpa, void *buf, size_t size);

/**
 * vdpa_set_dev_state() - load what vdpa_get_dev_state() gave, into a new
 *	device of the same type and creation arguments
 * @vdpa: the device, its features negotiated (FEATURES_OK) as they were
 * @buf: the state (hostile: a snapshot file)
 * @len: its bytes, 1..VDPA_DEV_STATE_MAX
 *
 * Return: 0; -EOPNOTSUPP (the device keeps no such state); -EBUSY
 * (FEATURES_OK not set); -EBADMSG, -EPROTONOSUPPORT, -EINVAL as
 * struct vdpa_config_ops.set_dev_state says; -errno. On failure the
 * device keeps the state it had.
 */
int vdpa_set_dev_state(struct vdpa_device *vdpa, const void *buf, size_t len);

/**
 * vdpa_get_iova_range() - the IOVA window of the device
 * @vdpa: the device
 *
 * Return: the window; [0, U64_MAX] when the device does not say.
 */
struct vdpa_iova_range vdpa_get_iova_range(struct vdpa_device *vdpa);

/**
 * vdpa_dma_map() - map guest (or peer) memory into an address space
 * @vdpa: the device
 * @asid: address space (< vdpa->nas)
 * @iova: first IOVA
 * @size: bytes (> 0; @iova + @size - 1 must not wrap)
 * @hva: host address of the first byte
 * @perm: VDPA_MAP_READ and/or VDPA_MAP_WRITE
 *
 * Return: 0, -EINVAL, -ERANGE (outside the IOVA window), -EEXIST
 * (overlap), -EOPNOTSUPP (device has no dma_map; use vdpa_set_map()).
 */
int vdpa_dma_map(struct vdpa_device *vdpa, u32 asid, u64 iova, u64 size,
		 void *hva, u32 perm);

/**
 * vdpa_dma_unmap() - unmap exactly [@iova, @iova + @size)
 * @vdpa: the device
 * @asid: address space
 * @iova: first IOVA
 * @size: bytes
 *
 * Return: 0, -EINVAL, -EOPNOTSUPP.
 */
int vdpa_dma_unmap(struct vdpa_device *vdpa, u32 asid, u64 iova, u64 size);

/**
 * vdpa_set_map() - replace the whole mapping of an address space
 * @vdpa: the device
 * @asid: address space
 * @iotlb: entries to copy (the caller keeps it)
 *
 * Return: 0, -EINVAL, -EOPNOTSUPP (device has only dma_map/dma_unmap).
 */
int vdpa_set_map(struct vdpa_device *vdpa, u32 asid,
		 struct iotlb *iotlb);

/** vdpa_has_dma_map() - whether vdpa_dma_map() is supported */
bool vdpa_has_dma_map(const struct vdpa_device *vdpa);

/** vdpa_has_set_map() - whether vdpa_set_map() is supported */
bool vdpa_has_set_map(const struct vdpa_device *vdpa);

/* ---- management devices ----------------------------------------------- */

/*
 * A management device creates devices of one type from a spec such as
 * "net,mac=52:54:00:12:34:56,mtu=1500". The bus knows no type's options:
 * each type declares its attributes in a table of struct vdpa_attr, and
 * the parsed values land in the type's own config struct, which begins
 * with a struct vdpa_dev_args (the part every type shares).
 */

/** VDPA_ATTR_MAX - attributes one type may declare */
#define VDPA_ATTR_MAX		32

/** VDPA_PATH_MAX - room for a path attribute including the NUL */
#define VDPA_PATH_MAX		256

/**
 * struct vdpa_dev_args - what every type's config struct begins with
 * @name: bus name ("name=" attribute, accepted by every type), or ""
 * @given: bit i set when attribute i of the type's table was in the spec
 */
struct vdpa_dev_args {
	char name[VDPA_NAME_MAX];
	u32 given;
};

struct vdpa_attr;

/**
 * typedef vdpa_attr_parse_fn - parse one attribute value
 * @attr: its table entry (bounds, choices)
 * @val: the value text, non-empty
 * @dst: where it goes: the type's config struct + @attr->offset
 *
 * Return: 0, or -EINVAL (the caller logs @attr->form).
 */
typedef int (*vdpa_attr_parse_fn)(const struct vdpa_attr *attr,
				  const char *val, void *dst);

/**
 * struct vdpa_attr - one creation attribute of a device type
 * @key: its name in a spec ("mac")
 * @form: the accepted form, quoted in errors ("mtu=<68..65535>")
 * @help: one line for listings
 * @parse: the value parser (vdpa_attr_parse_*() or the type's own)
 * @offset: where the value goes in the type's config struct
 * @size: bytes there (strings: the buffer size including the NUL)
 * @min: lower bound of a number (sizes: also the required multiple)
 * @max: upper bound of a number or size
 * @choices: NULL-terminated words of a choice attribute; the value stored
 *	is the index, as u32
 */
struct vdpa_attr {
	const char *key;
	const char *form;
	const char *help;
	vdpa_attr_parse_fn parse;
	size_t offset;
	size_t size;
	u64 min;
	u64 max;
	const char *const *choices;
};

/*
 * Value parsers for struct vdpa_attr.parse. Numbers are decimal, bounded
 * by @min..@max and stored as @size bytes (1, 2, 4 or 8); sizes take
 * parse_size()'s suffixes and must be a non-zero multiple of @min (if set)
 * and at most @max; booleans are on|off|yes|no|true|false|1|0; strings
 * fit @size with their NUL; serials also have no space or control
 * character; MACs are six hex bytes, unicast and not zero.
 */
int vdpa_attr_parse_uint(const struct vdpa_attr *attr, const char *val, void *dst);
int vdpa_attr_parse_size(const struct vdpa_attr *attr, const char *val, void *dst);
int vdpa_attr_parse_bool(const struct vdpa_attr *attr, const char *val, void *dst);
int vdpa_attr_parse_string(const struct vdpa_attr *attr, const char *val, void *dst);
int vdpa_attr_parse_serial(const struct vdpa_attr *attr, const char *val, void *dst);
int vdpa_attr_parse_mac(const struct vdpa_attr *attr, const char *val, void *dst);
int vdpa_attr_parse_choice(const struct vdpa_attr *attr, const char *val, void *dst);

#define VDPA_STR_(x)		#x
#define VDPA_STR(x)		VDPA_STR_(x)

/*
 * Table entries: @type is the config struct, @field its member. Bounds
 * are quoted in the accepted form, so give them as plain numbers (or
 * macros that expand to one).
 */
#define VDPA_ATTR_UINT(type, field, k, lo, hi, h)			\
	{ .key = (k), .form = k "=<" VDPA_STR(lo) ".." VDPA_STR(hi) ">", .help = (h),	\
	  .parse = vdpa_attr_parse_uint, .offset = offsetof(type, field),	\
	  .size = sizeof(((type *)0)->field), .min = (lo), .max = (hi) }
#define VDPA_ATTR_SIZE(type, field, k, mult, hi, h)			\
	{ .key = (k),							\
	  .form = k "=<bytes, optional K/M/G/T suffix, multiple of " VDPA_STR(mult) ", e.g. 8M>", \
	  .help = (h), .parse = vdpa_attr_parse_size,			\
	  .offset = offsetof(type, field),				\
	  .size = sizeof(((type *)0)->field), .min = (mult), .max = (hi) }
#define VDPA_ATTR_BOOL(type, field, k, h)				\
	{ .key = (k), .form = k "=<on|off|yes|no|true|false|1|0>",	\
	  .help = (h), .parse = vdpa_attr_parse_bool,			\
	  .offset = offsetof(type, field), .size = sizeof(bool) }
#define VDPA_ATTR_STRING(type, field, k, f, h)				\
	{ .key = (k), .form = k "=" f, .help = (h),			\
	  .parse = vdpa_attr_parse_string, .offset = offsetof(type, field), \
	  .size = sizeof(((type *)0)->field) }
#define VDPA_ATTR_SERIAL(type, field, k, f, h)				\
	{ .key = (k), .form = k "=" f, .help = (h),			\
	  .parse = vdpa_attr_parse_serial, .offset = offsetof(type, field), \
	  .size = sizeof(((type *)0)->field) }
#define VDPA_ATTR_MAC(type, field, k, h)				\
	{ .key = (k),							\
	  .form = k "=<six hex bytes, unicast and not zero, e.g. 52:54:00:12:34:56>", \
	  .help = (h), .parse = vdpa_attr_parse_mac,			\
	  .offset = offsetof(type, field), .size = 6 }
#define VDPA_ATTR_CHOICE(type, field, k, f, words, h)			\
	{ .key = (k), .form = k "=" f, .help = (h),			\
	  .parse = vdpa_attr_parse_choice, .offset = offsetof(type, field), \
	  .size = sizeof(u32), .choices = (words) }

/**
 * vdpa_attr_given() - whether attribute @key of @mdev was in the spec
 * @mdev: the management device
 * @args: the parsed config's common part
 * @key: the attribute name
 */
bool vdpa_attr_given(const struct vdpa_mgmt_dev *mdev,
		     const struct vdpa_dev_args *args, const char *key);

/**
 * struct vdpa_mgmt_dev - a factory of vDPA devices of one type
 * @type: the word that starts a spec ("net", "blk"); unique
 * @description: one line for listings
 * @device_id: virtio device id of what it creates
 * @attrs: the attributes it accepts besides "name" (at most VDPA_ATTR_MAX)
 * @nattrs: entries in @attrs
 * @config_size: bytes of its config struct (a struct vdpa_dev_args first)
 * @defaults: a config struct of @config_size bytes the parser starts from
 *	(NULL: all zero)
 * @dev_add: create and register a device from @config (the type's own
 *	struct); store it in @out. Return 0 or -errno (log the reason).
 * @dev_del: unregister and free a device it created; NULL: the bus's
 *	vdpa_unregister_device()
 * @files: (optional) the host files a device made from @config opens, for
 *	a sandbox that must allow them before the device exists: @fn with
 *	each path and whether it is opened for writing; the first non-zero
 *	return of @fn is returned. NULL: the type opens no file.
 * @sockets: (optional) the Unix sockets a device made from @config binds:
 *	@fn with each path (a sandbox allows making and removing sockets in
 *	its directory); the first non-zero return of @fn is returned. NULL:
 *	the type binds none.
 * @next: registry link (registry lock)
 */
struct vdpa_mgmt_dev {
	const char *type;
	const char *description;
	u32 device_id;
	const struct vdpa_attr *attrs;
	unsigned int nattrs;
	size_t config_size;
	const void *defaults;
	int (*dev_add)(struct vdpa_mgmt_dev *mdev, const void *config,
		       struct vdpa_device **out);
	void (*dev_del)(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdpa);
	int (*files)(const void *config,
		     int (*fn)(const char *path, bool write, void *opaque), void *opaque);
	int (*sockets)(const void *config, int (*fn)(const char *path, void *opaque),
		       void *opaque);
	struct vdpa_mgmt_dev *next;
};

/** VDPA_CONFIG_MAX - largest config struct a type may have */
#define VDPA_CONFIG_MAX		1024

/**
 * vdpa_register_types() - make every built-in device type creatable
 *
 * The types are listed in one table (src/vdpa/types.c). Idempotent.
 *
 * Return: 0 or -errno.
 */
int vdpa_register_types(void);

/**
 * vdpa_mgmt_dev_register() - make a device type creatable
 * @mdev: static description; must stay valid until unregistered
 *
 * Return: 0, -EINVAL (incomplete), -EEXIST (type taken).
 */
int vdpa_mgmt_dev_register(struct vdpa_mgmt_dev *mdev);

/** vdpa_mgmt_dev_unregister() - remove a type (its devices stay) */
void vdpa_mgmt_dev_unregister(struct vdpa_mgmt_dev *mdev);

/**
 * vdpa_mgmt_find() - a registered management device by type
 * @type: "net", "blk", ...
 *
 * Return: the management device or NULL.
 */
struct vdpa_mgmt_dev *vdpa_mgmt_find(const char *type);

/**
 * vdpa_mgmt_for_each() - call @fn for each registered management device
 * @fn: non-zero return stops the walk and is returned
 * @opaque: passed to @fn
 *
 * Return: 0 or the first non-zero return of @fn.
 */
int vdpa_mgmt_for_each(int (*fn)(struct vdpa_mgmt_dev *mdev, void *opaque),
		       void *opaque);

/**
 * vdpa_mgmt_parse() - parse a device spec without creating anything
 * @spec: "type[,key=value]..." e.g. "net,mac=52:54:00:12:34:56,mtu=1500";
 *	a comma inside a value is doubled ("path=/img/a,,b" is "/img/a,b"),
 *	an '=' in a value needs nothing (the first '=' ends the key)
 * @mdev_out: the management device named by the type
 * @config: out: the type's config struct, parsed over its defaults
 * @size: bytes at @config (VDPA_CONFIG_MAX always suffices)
 *
 * Hostile input: every error is logged as one line naming the attribute
 * and the accepted form.
 *
 * Return: 0, -EINVAL (syntax, unknown type or attribute, bad value,
 * attribute not accepted by the type, repeated attribute), -ENODEV (no
 * such type), -ENOSPC (@size too small for the type's config).
 */
int vdpa_mgmt_parse(const char *spec, struct vdpa_mgmt_dev **mdev_out,
		    void *config, size_t size);

/**
 * vdpa_mgmt_escape() - a value as it goes into a spec: each ',' doubled
 * @val: the value (a path, say)
 * @buf: out: the escaped value, NUL-terminated
 * @len: bytes at @buf
 *
 * Return: 0 or -E2BIG (@buf too small).
 */
int vdpa_mgmt_escape(const char *val, char *buf, size_t len);

/**
 * vdpa_mgmt_dev_add() - create a device from a spec
 * @spec: see vdpa_mgmt_parse()
 * @out: the new, registered device
 *
 * Return: 0, the errors of vdpa_mgmt_parse(), or -errno of the creation.
 */
int vdpa_mgmt_dev_add(const char *spec, struct vdpa_device **out);

/**
 * vdpa_mgmt_dev_add_config() - create a device from a parsed spec
 * @mdev: what vdpa_mgmt_parse() found
 * @config: what vdpa_mgmt_parse() filled
 * @out: the new, registered device
 *
 * For callers that look at the spec between parsing and creation (which
 * files it names: vdpa_mgmt_files()).
 *
 * Return: 0, -EEXIST (the name is taken), or -errno of the creation.
 */
int vdpa_mgmt_dev_add_config(struct vdpa_mgmt_dev *mdev, const void *config,
			     struct vdpa_device **out);

/**
 * vdpa_mgmt_files() - the host files a device of a parsed spec would open
 * @mdev: what vdpa_mgmt_parse() found
 * @config: what vdpa_mgmt_parse() filled
 * @fn: called with each path and whether it is opened for writing; a
 *	non-zero return stops the walk
 * @opaque: passed to @fn
 *
 * Return: 0 or the first non-zero return of @fn.
 */
int vdpa_mgmt_files(const struct vdpa_mgmt_dev *mdev, const void *config,
		    int (*fn)(const char *path, bool write, void *opaque), void *opaque);

/**
 * vdpa_mgmt_sockets() - the Unix sockets a device of a parsed spec would bind
 * @mdev: what vdpa_mgmt_parse() found
 * @config: what vdpa_mgmt_parse() filled
 * @fn: called with each socket's path; a non-zero return stops the walk
 * @opaque: passed to @fn
 *
 * Return: 0 or the first non-zero return of @fn.
 */
int vdpa_mgmt_sockets(const struct vdpa_mgmt_dev *mdev, const void *config,
		      int (*fn)(const char *path, void *opaque), void *opaque);

/**
 * vdpa_mgmt_dev_del() - destroy a device created by vdpa_mgmt_dev_add()
 * @vdpa: the device; gone on return
 *
 * Return: 0 or -EINVAL (not created by a management device).
 */
int vdpa_mgmt_dev_del(struct vdpa_device *vdpa);

/**
 * vdpa_mgmt_dev_del_by_name() - destroy a device by bus name
 * @name: bus name
 *
 * Return: 0, -ENODEV, -EINVAL.
 */
int vdpa_mgmt_dev_del_by_name(const char *name);

#endif /* KESTREL_VDPA_H */
