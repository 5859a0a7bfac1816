/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to src/virtio/: the virtio-mmio register layout and the
 * transport's state.
 */
#ifndef KESTREL_VIRTIO_INTERNAL_H
#define KESTREL_VIRTIO_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <linux/virtio_mmio.h>

#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/types.h>
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

/**
 * struct virtio_mmio_vq - what the driver wrote for one queue (vm_mmio.lock)
 * @num: QueueNum
 * @desc: QueueDescLow/High
 * @driver: QueueDriverLow/High
 * @device: QueueDeviceLow/High
 * @ready: QueueReady as the driver reads it: set only once the device
 *	accepted the queue
 * @kickfd: the ioeventfd bound to QueueNotify == index (create..destroy)
 * @ioeventfd_on: @kickfd is registered with the VM
 * @kick_relay: the device has no set_vq_kickfd: the relay thread turns
 *	@kickfd into vdpa_kick_vq() calls
 */
struct virtio_mmio_vq {
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
 * struct virtio_mmio - one virtio-mmio transport
 * @iodev: the bus part (container_of back)
 * @vm: the VM
 * @vdpa: the device
 * @base: guest-physical base of the window
 * @irq: GSI
 * @name: "virtio-mmio@0x...", for logs and @iodev
 * @lock: serialises register accesses (vCPU threads) and create/destroy
 * @nvqs: queues of the device (at most 65536)
 * @vqs: per-queue state
 * @offered: features offered to the driver (device's, transport-filtered)
 * @dev_features_sel: DeviceFeaturesSel
 * @drv_features_sel: DriverFeaturesSel
 * @drv_features: DriverFeatures words, staged until FEATURES_OK
 * @queue_sel: QueueSel (any u32 the driver wrote)
 * @shm_sel: SHMSel
 * @isr: InterruptStatus; set by device callbacks from any thread, cleared
 *	by InterruptACK and reset (atomic builtins, no lock)
 * @irqfd: eventfd bound to @irq
 * @irqfd_on: @irqfd registered with the VM
 * @mapped: identity IOTLB entries installed, one per RAM region and ASID
 * @nr_maps: RAM regions mapped (for teardown)
 * @maps: [@nr_maps] gpa/size pairs mapped (dma_map style)
 * @used_set_map: the device got the map through set_map
 * @registered: the window is claimed on the VM's bus
 * @relay_epfd: epoll fd of the kick relay thread, or -1
 * @relay_stopfd: eventfd that stops the relay thread, or -1
 * @relay: the relay thread (valid when @relay_started)
 * @relay_started: the relay thread runs
 * @rl: rate limit of guest-triggered log lines
 * @stats_rl: rate limit of the per-queue counters logged at reset and exit
 */
struct virtio_mmio {
	struct io_dev iodev;
	struct vm *vm;
	struct vdpa_device *vdpa;
	u64 base;
	u32 irq;
	char name[48];
	pthread_mutex_t lock;

	u32 nvqs;
	struct virtio_mmio_vq *vqs;
	u64 offered;
	u32 dev_features_sel;
	u32 drv_features_sel;
	u64 drv_features;
	u32 queue_sel;
	u32 shm_sel;

	u32 isr;
	int irqfd;
	bool irqfd_on;

	bool mapped;
	unsigned int nr_maps;
	struct vmmio_map { u64 gpa; u64 size; void *hva; } *maps;
	bool used_set_map;
	bool registered;

	int relay_epfd;
	int relay_stopfd;
	pthread_t relay;
	bool relay_started;

	struct ratelimit rl;
	struct ratelimit stats_rl;
};

#endif /* KESTREL_VIRTIO_INTERNAL_H */
