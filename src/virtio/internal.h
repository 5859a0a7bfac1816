/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to src/virtio/: what the transports share (common.c), the
 * virtio-mmio register layout and the transports' state.
 */
#ifndef KESTREL_VIRTIO_INTERNAL_H
#define KESTREL_VIRTIO_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/types.h>
#include <kestrel/vdpa.h>
#include <kestrel/virtio.h>

/* virtio 1.2 §4.2.2: QueueReset (VIRTIO_F_RING_RESET; never offered). */
#define VIRTIO_MMIO_QUEUE_RESET		0x0c0

/* "virt", little-endian (virtio 1.2 §4.2.2). */
#define VIRTIO_MMIO_MAGIC		0x74726976

/**
 * struct virtio_mmio_layout - the register window as a structure
 *
 * Never accessed through: it exists so the offsets the transport decodes
 * are checked against the spec at compile time (virtio 1.2 §4.2.2,
 * table "MMIO Device Register Layout").
 */
struct virtio_mmio_layout {
	le32 magic_value;		/* 0x000 R */
	le32 version;			/* 0x004 R */
	le32 device_id;			/* 0x008 R */
	le32 vendor_id;			/* 0x00c R */
	le32 device_features;		/* 0x010 R */
	le32 device_features_sel;	/* 0x014 W */
	le32 rsvd0[2];
	le32 driver_features;		/* 0x020 W */
	le32 driver_features_sel;	/* 0x024 W */
	le32 rsvd1[2];
	le32 queue_sel;			/* 0x030 W */
	le32 queue_num_max;		/* 0x034 R */
	le32 queue_num;			/* 0x038 W */
	le32 rsvd2[2];
	le32 queue_ready;		/* 0x044 RW */
	le32 rsvd3[2];
	le32 queue_notify;		/* 0x050 W */
	le32 rsvd4[3];
	le32 interrupt_status;		/* 0x060 R */
	le32 interrupt_ack;		/* 0x064 W */
	le32 rsvd5[2];
	le32 status;			/* 0x070 RW */
	le32 rsvd6[3];
	le32 queue_desc_low;		/* 0x080 W */
	le32 queue_desc_high;		/* 0x084 W */
	le32 rsvd7[2];
	le32 queue_driver_low;		/* 0x090 W */
	le32 queue_driver_high;		/* 0x094 W */
	le32 rsvd8[2];
	le32 queue_device_low;		/* 0x0a0 W */
	le32 queue_device_high;		/* 0x0a4 W */
	le32 rsvd9;
	le32 shm_sel;			/* 0x0ac W */
	le32 shm_len_low;		/* 0x0b0 R */
	le32 shm_len_high;		/* 0x0b4 R */
	le32 shm_base_low;		/* 0x0b8 R */
	le32 shm_base_high;		/* 0x0bc R */
	le32 queue_reset;		/* 0x0c0 RW */
	le32 rsvd10[14];
	le32 config_generation;		/* 0x0fc R */
	u8 config[];			/* 0x100 RW */
};

#define VMMIO_CHECK(field, off)						\
	_Static_assert(offsetof(struct virtio_mmio_layout, field) == (off), \
		       "virtio-mmio register " #field)
VMMIO_CHECK(magic_value, VIRTIO_MMIO_MAGIC_VALUE);
VMMIO_CHECK(version, VIRTIO_MMIO_VERSION);
VMMIO_CHECK(device_id, VIRTIO_MMIO_DEVICE_ID);
VMMIO_CHECK(vendor_id, VIRTIO_MMIO_VENDOR_ID);
VMMIO_CHECK(device_features, VIRTIO_MMIO_DEVICE_FEATURES);
VMMIO_CHECK(device_features_sel, VIRTIO_MMIO_DEVICE_FEATURES_SEL);
VMMIO_CHECK(driver_features, VIRTIO_MMIO_DRIVER_FEATURES);
VMMIO_CHECK(driver_features_sel, VIRTIO_MMIO_DRIVER_FEATURES_SEL);
VMMIO_CHECK(queue_sel, VIRTIO_MMIO_QUEUE_SEL);
VMMIO_CHECK(queue_num_max, VIRTIO_MMIO_QUEUE_NUM_MAX);
VMMIO_CHECK(queue_num, VIRTIO_MMIO_QUEUE_NUM);
VMMIO_CHECK(queue_ready, VIRTIO_MMIO_QUEUE_READY);
VMMIO_CHECK(queue_notify, VIRTIO_MMIO_QUEUE_NOTIFY);
VMMIO_CHECK(interrupt_status, VIRTIO_MMIO_INTERRUPT_STATUS);
VMMIO_CHECK(interrupt_ack, VIRTIO_MMIO_INTERRUPT_ACK);
VMMIO_CHECK(status, VIRTIO_MMIO_STATUS);
VMMIO_CHECK(queue_desc_low, VIRTIO_MMIO_QUEUE_DESC_LOW);
VMMIO_CHECK(queue_desc_high, VIRTIO_MMIO_QUEUE_DESC_HIGH);
VMMIO_CHECK(queue_driver_low, VIRTIO_MMIO_QUEUE_AVAIL_LOW);
VMMIO_CHECK(queue_driver_high, VIRTIO_MMIO_QUEUE_AVAIL_HIGH);
VMMIO_CHECK(queue_device_low, VIRTIO_MMIO_QUEUE_USED_LOW);
VMMIO_CHECK(queue_device_high, VIRTIO_MMIO_QUEUE_USED_HIGH);
VMMIO_CHECK(shm_sel, VIRTIO_MMIO_SHM_SEL);
VMMIO_CHECK(shm_len_low, VIRTIO_MMIO_SHM_LEN_LOW);
VMMIO_CHECK(shm_len_high, VIRTIO_MMIO_SHM_LEN_HIGH);
VMMIO_CHECK(shm_base_low, VIRTIO_MMIO_SHM_BASE_LOW);
VMMIO_CHECK(shm_base_high, VIRTIO_MMIO_SHM_BASE_HIGH);
VMMIO_CHECK(queue_reset, VIRTIO_MMIO_QUEUE_RESET);
VMMIO_CHECK(config_generation, VIRTIO_MMIO_CONFIG_GENERATION);
VMMIO_CHECK(config, VIRTIO_MMIO_CONFIG);
#undef VMMIO_CHECK

/*
 * Feature bits the transports carry (virtio 1.2 §6): every device-type
 * bit (0..23) and the reserved ones they implement. Masked out: packed
 * rings unless the device was given packed=on (virtio_core_set_packed():
 * off by default, so a guest and a snapshot see what they always saw),
 * NOTIFICATION_DATA (the notify write would
 * carry more than the index and miss the ioeventfd datamatch), RING_RESET
 * (queue reset is not implemented), SR-IOV and admin queues.
 */
#define VIRTIO_TRANSPORT_FEATURES					\
	(((1ULL << 24) - 1) |						\
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |			\
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) |				\
	 (1ULL << VIRTIO_F_VERSION_1) |					\
	 (1ULL << VIRTIO_F_ACCESS_PLATFORM) |				\
	 (1ULL << VIRTIO_F_IN_ORDER) |					\
	 (1ULL << VIRTIO_F_ORDER_PLATFORM))

/* Largest split ring (virtio 1.2 §2.7). */
#define VIRTIO_QUEUE_NUM_MAX	32768

/* vDPA queue indexes are 16-bit. */
#define VIRTIO_NVQS_MAX		65536u

/**
 * struct virtio_vq - what the driver wrote for one queue (transport lock)
 * @num: queue size
 * @desc: descriptor area
 * @driver: driver area
 * @device: device area
 * @ready: enabled as the driver reads it: set only once the device
 *	accepted the queue
 * @kickfd: the ioeventfd of the queue's notification (create..destroy)
 * @ioeventfd_on: @kickfd is registered with the VM (by the transport)
 * @kick_relay: the device has no set_vq_kickfd: the relay thread turns
 *	@kickfd into vdpa_kick_vq() calls
 */
struct virtio_vq {
	u32 num;
	u64 desc;
	u64 driver;
	u64 device;
	bool ready;
	int kickfd;
	bool ioeventfd_on;
	bool kick_relay;
};

/**
 * struct virtio_core - the state every transport has (common.c), embedded
 *	in the transport and covered by its lock
 * @vm: the VM
 * @vdpa: the device
 * @name: the transport's name, for logs
 * @nvqs: queues of the device
 * @vqs: per-queue state
 * @offered: features offered to the driver (device's, transport-filtered)
 * @drv_features: driver features, staged until FEATURES_OK
 * @mapped: identity IOTLB entries installed, one per RAM region and ASID
 * @nr_maps: RAM regions mapped (for teardown)
 * @maps: [@nr_maps] gpa/size pairs mapped (dma_map style)
 * @used_set_map: the device got the map through set_map
 * @relay_epfd: epoll fd of the kick relay thread, or -1
 * @relay_stopfd: eventfd that stops the relay thread, or -1
 * @relay: the relay thread (valid when @relay_started)
 * @relay_started: the relay thread runs
 * @rl: rate limit of guest-triggered log lines
 * @stats_rl: rate limit of the per-queue counters logged at reset and exit
 */
struct virtio_core {
	struct vm *vm;
	struct vdpa_device *vdpa;
	const char *name;
	u32 nvqs;
	struct virtio_vq *vqs;
	u64 offered;
	u64 drv_features;

	bool mapped;
	unsigned int nr_maps;
	struct virtio_map { u64 gpa; u64 size; void *hva; } *maps;
	bool used_set_map;

	int relay_epfd;
	int relay_stopfd;
	pthread_t relay;
	bool relay_started;

	struct ratelimit rl;
	struct ratelimit stats_rl;
};

#define virtio_warn(c, fmt, ...)					\
	do {								\
		if (ratelimit_allow(&(c)->rl))				\
			pr_warn("%s: " fmt, (c)->name, ##__VA_ARGS__);	\
	} while (0)

/*
 * virtio_core_init() - check @vdpa (VERSION_1, 1..VIRTIO_NVQS_MAX queues),
 * reset it, map guest RAM into its address spaces and make one kick
 * eventfd per queue. On failure virtio_core_destroy() undoes what was done.
 */
int virtio_core_init(struct virtio_core *c, struct vm *vm, struct vdpa_device *vdpa,
		     const char *name, u64 transport_features);
/* virtio_core_destroy() - reset the device, unmap RAM, stop the relay, close the kick fds */
void virtio_core_destroy(struct virtio_core *c);
void virtio_core_queue_enable(struct virtio_core *c, u32 idx, const struct vdpa_callback *cb);
void virtio_core_queue_disable(struct virtio_core *c, u32 idx);
void virtio_core_reset(struct virtio_core *c);
bool virtio_core_write_status(struct virtio_core *c, u32 val);
void virtio_core_log_stats(struct virtio_core *c, const char *when);
u32 virtio_core_device_features(struct virtio_core *c, u32 sel);
void virtio_core_set_driver_features(struct virtio_core *c, u32 sel, u32 val);
/*
 * virtio_core_set_packed() - offer VIRTIO_F_RING_PACKED (@on) or not; only
 * before a driver has begun (status 0). Return: 0, -EOPNOTSUPP if the
 * device has no packed rings, -EBUSY if a driver is at work.
 */
int virtio_core_set_packed(struct virtio_core *c, bool on);
/* virtio_core_packed() - whether the driver negotiated packed rings (FEATURES_OK) */
bool virtio_core_packed(struct virtio_core *c);
/* virtio_core_queue_num_max() - the largest size queue @idx takes (0: no such queue) */
u32 virtio_core_queue_num_max(struct virtio_core *c, u32 idx);

/**
 * struct virtio_mmio - one virtio-mmio transport
 * @iodev: the bus part (container_of back)
 * @core: the shared state (common.c)
 * @base: guest-physical base of the window
 * @irq: GSI
 * @name: "virtio-mmio@0x...", for logs and @iodev
 * @lock: serialises register accesses (vCPU threads) and create/destroy
 * @dev_features_sel: DeviceFeaturesSel
 * @drv_features_sel: DriverFeaturesSel
 * @queue_sel: QueueSel (any u32 the driver wrote)
 * @shm_sel: SHMSel
 * @isr: InterruptStatus; set by device callbacks from any thread, cleared
 *	by InterruptACK and reset (atomic builtins, no lock)
 * @irqfd: eventfd bound to @irq
 * @irqfd_on: @irqfd registered with the VM
 * @registered: the window is claimed on the VM's bus
 */
struct virtio_mmio {
	struct io_dev iodev;
	struct virtio_core core;
	u64 base;
	u32 irq;
	char name[48];
	pthread_mutex_t lock;

	u32 dev_features_sel;
	u32 drv_features_sel;
	u32 queue_sel;
	u32 shm_sel;

	u32 isr;
	int irqfd;
	bool irqfd_on;
	bool registered;
};

#endif /* KESTREL_VIRTIO_INTERNAL_H */
