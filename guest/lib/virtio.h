/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

/*
 * A small guest-side virtio driver (virtio 1.2): the device status state
 * machine, feature negotiation, split (§2.7) and packed (§2.8) virtqueues
 * in guest memory (direct and indirect chains, EVENT_IDX and the packed
 * event suppression structures), completion by polling or interrupt,
 * config space, and the NEEDS_RESET / config-change path. The transports
 * are virtio-mmio v2 (virtio-mmio.c) and virtio-pci modern (virtio-pci.c,
 * MSI-X or INTx); virtio_probe() finds devices on both and the functions
 * below work on either. Ring code (virtio.c) knows nothing of them.
 *
 * Guest memory is identity mapped, so a pointer is its guest-physical
 * address. Everything here runs in ring 0 or ring 3 except the waits
 * (they halt) and the interrupt set-up.
 */
#include "guest.h"

/* Device IDs (virtio 1.2 §5). */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_RNG		4

/* Device status (virtio 1.2 §2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

/* Reserved feature bits (virtio 1.2 §6). */
#define VIRTIO_RING_F_INDIRECT_DESC	28
#define VIRTIO_RING_F_EVENT_IDX		29
#define VIRTIO_F_VERSION_1		32
#define VIRTIO_F_ACCESS_PLATFORM	33
#define VIRTIO_F_RING_PACKED		34
#define BIT_ULL(n)			(1ULL << (n))

/* Split virtqueue layout (virtio 1.2 §2.7). */
#define VRING_DESC_F_NEXT		1
#define VRING_DESC_F_WRITE		2
#define VRING_DESC_F_INDIRECT		4
#define VRING_AVAIL_F_NO_INTERRUPT	1
#define VRING_USED_F_NO_NOTIFY		1

struct vring_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct vring_avail {
	u16 flags;
	u16 idx;
	u16 ring[];	/* then used_event (EVENT_IDX) */
};

struct vring_used_elem {
	u32 id;
	u32 len;
};

struct vring_used {
	u16 flags;
	u16 idx;
	struct vring_used_elem ring[];	/* then avail_event (EVENT_IDX) */
};

/* Packed virtqueue layout (virtio 1.2 §2.8.13): flags as above, plus these. */
#define VRING_PACKED_DESC_F_AVAIL	(1u << 7)
#define VRING_PACKED_DESC_F_USED	(1u << 15)
#define VRING_PACKED_EVENT_FLAG_ENABLE	0
#define VRING_PACKED_EVENT_FLAG_DISABLE	1
#define VRING_PACKED_EVENT_FLAG_DESC	2
#define VRING_PACKED_EVENT_WRAP		(1u << 15)	/* in off_wrap */

struct vring_packed_desc {
	u64 addr;
	u32 len;
	u16 id;
	u16 flags;
};

/* The driver and device event suppression areas (§2.8.10). */
struct vring_packed_event {
	u16 off_wrap;
	u16 flags;
};

_Static_assert(sizeof(struct vring_desc) == 16, "virtq_desc is 16 bytes");
_Static_assert(sizeof(struct vring_packed_desc) == 16, "pvirtq_desc is 16 bytes");
_Static_assert(sizeof(struct vring_packed_event) == 4, "pvirtq_event_suppress is 4 bytes");
_Static_assert(sizeof(struct vring_used_elem) == 8, "virtq_used_elem is 8 bytes");

/* Interrupt causes (virtio-mmio InterruptStatus). */
#define VIRTIO_INT_VRING	1
#define VIRTIO_INT_CONFIG	2

/* Largest queue this driver sets up; indirect tables hold this many too. */
#define VIRTQ_MAX		256
#define VIRTQ_INDIRECT_MAX	16

/**
 * struct virtio_device - one device found on the machine
 * @base: its virtio-mmio register window (virtio-pci: the common configuration)
 * @slot: virtio-mmio slot number (virtio-pci: device number on bus 0)
 * @irq: the GSI it raises (virtio-pci: its INTx line)
 * @id: DeviceID
 * @host_features: what the device offers
 * @features: what was negotiated (valid after virtio_negotiate())
 * @vring_irqs: interrupts that said "used buffer" (counted by the handler)
 * @config_irqs: interrupts that said "configuration change"
 * @irqs: every interrupt taken for this device
 * @pci: the device is on virtio-pci (the fields below are its)
 * @isr: address of the ISR status byte
 * @device_cfg: address of the device configuration
 * @notify: address of the notifications (queue n at @notify + n * @notify_mult)
 * @notify_mult: notify_off_multiplier
 * @msix_table: address of the MSI-X table, 0 without MSI-X
 * @msix_nr: MSI-X vectors
 * @msix_on: interrupts come as MSI-X (set by virtio_irq_enable())
 * @irq_on: virtio_irq_enable() was called
 * @num_queues: queues the device has
 */
struct virtio_device {
	u64 base;
	unsigned int slot;
	u32 irq;
	u32 id;
	u64 host_features;
	u64 features;
	volatile u32 vring_irqs;
	volatile u32 config_irqs;
	volatile u32 irqs;
	bool pci;
	u64 isr;
	u64 device_cfg;
	u64 notify;
	u32 notify_mult;
	u64 msix_table;
	u16 msix_nr;
	bool msix_on;
	bool irq_on;
	u16 num_queues;
};

/**
 * struct virtqueue - a split or packed ring and the driver's view of it
 * @vdev: its device
 * @index: queue index
 * @num: entries
 * @packed: VIRTIO_F_RING_PACKED negotiated: @pdesc, @driver_event and
 *	@device_event are the three areas, else @desc, @avail and @used
 * @desc, @avail, @used: the split ring's areas (guest memory)
 * @pdesc: the packed descriptor ring (same memory as @desc)
 * @driver_event: the packed driver event suppression area (@avail's memory)
 * @device_event: the packed device event suppression area (@used's memory)
 * @free_head: split: first free descriptor; packed: first free buffer ID
 * @num_free: descriptors free
 * @last_used: split: used entries consumed so far; packed: the ring slot
 *	the device's next used descriptor goes to
 * @avail_idx: split: the driver's copy of avail->idx; packed: the ring slot
 *	the next chain goes to
 * @kicked_idx: split: avail_idx at the last notification decision; packed:
 *	descriptors made available since then
 * @avail_wrap: packed: the driver's ring wrap counter (§2.8.1)
 * @used_wrap: packed: the wrap counter @last_used is in
 * @event_idx: VIRTIO_RING_F_EVENT_IDX negotiated
 * @indirect: VIRTIO_RING_F_INDIRECT_DESC negotiated
 * @kicks: notifications written (for tests)
 * @cookie: per head (packed: per buffer ID), what virtqueue_get() returns
 * @ndesc: per head (packed: per buffer ID), descriptors of the chain in the ring
 * @next_id: packed: the free buffer ID list (next after each)
 * @itable: per head (packed: per buffer ID), its indirect table
 *	(VIRTQ_INDIRECT_MAX entries of 16 bytes)
 */
struct virtqueue {
	struct virtio_device *vdev;
	u16 index;
	u16 num;
	bool packed;
	union {
		struct vring_desc *desc;
		struct vring_packed_desc *pdesc;
	};
	union {
		struct vring_avail *avail;
		struct vring_packed_event *driver_event;
	};
	union {
		struct vring_used *used;
		struct vring_packed_event *device_event;
	};
	u16 free_head;
	u16 num_free;
	u16 last_used;
	u16 avail_idx;
	u16 kicked_idx;
	bool avail_wrap;
	bool used_wrap;
	bool event_idx;
	bool indirect;
	u32 kicks;
	void *cookie[VIRTQ_MAX];
	u16 ndesc[VIRTQ_MAX];
	u16 next_id[VIRTQ_MAX];
	void *itable[VIRTQ_MAX];
};

/** struct virtq_buf - one buffer of a chain: device-readable unless @write */
struct virtq_buf {
	void *addr;
	u32 len;
	bool write;
};

/* ---- memory ------------------------------------------------------------- */

/* Zeroed memory from a static pool (never freed); NULL when exhausted. */
void *virtio_alloc(size_t size, size_t align);

/* ---- transport: virtio-mmio (virtio-mmio.c) ------------------------------ */

/* Register offsets (virtio 1.2 §4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE		0x000
#define VIRTIO_MMIO_VERSION		0x004
#define VIRTIO_MMIO_DEVICE_ID		0x008
#define VIRTIO_MMIO_VENDOR_ID		0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL	0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL	0x024
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_READY		0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS		0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW	0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH	0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW	0x0a0
#define VIRTIO_MMIO_QUEUE_USED_HIGH	0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc
#define VIRTIO_MMIO_CONFIG		0x100

#define VIRTIO_MMIO_MAGIC		0x74726976	/* "virt" */

u32 virtio_mmio_read(struct virtio_device *vdev, u32 off);
void virtio_mmio_write(struct virtio_device *vdev, u32 off, u32 val);

/**
 * virtio_probe() - find the virtio devices kestrel put on the machine
 *
 * virtio-mmio: reads MagicValue, Version (2) and DeviceID of each slot
 * from the first (layout.h) until one holds no device; DeviceID 0 slots
 * are skipped. virtio-pci: every function of bus 0 with vendor 0x1af4 and
 * device 0x1040..0x107f whose vendor capabilities name the common, notify,
 * ISR (and device) structures; memory decoding and bus mastering are
 * switched on. Done once; later calls return the same count.
 * Return: devices found.
 */
unsigned int virtio_probe(void);

/* The @nth (from 0) device with DeviceID @id, or NULL. */
struct virtio_device *virtio_find(u32 id, unsigned int nth);

u8 virtio_get_status(struct virtio_device *vdev);
void virtio_set_status(struct virtio_device *vdev, u8 status);
/* Writes 0 and waits (bounded) for Status to read 0. Return: true if so. */
bool virtio_reset(struct virtio_device *vdev);
bool virtio_needs_reset(struct virtio_device *vdev);

/**
 * virtio_negotiate() - reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK
 * @vdev: the device
 * @wanted: device-type and optional ring features the driver can use;
 *	VERSION_1 is always asked for and required
 *
 * The word "packed" on the test's command line (--cmdline packed) adds
 * VIRTIO_F_RING_PACKED to @wanted and requires it: a device that does not
 * offer it fails negotiation, so a packed test cannot pass on split rings.
 *
 * Return: 0; -1 if VERSION_1 (or a required RING_PACKED) is not offered
 * (FAILED is set) or FEATURES_OK did not stick (FAILED is set).
 * vdev->features holds the result.
 */
int virtio_negotiate(struct virtio_device *vdev, u64 wanted);

/**
 * virtqueue_setup() - allocate (first time) and hand queue @index to the device
 * @vq: the queue; its memory is kept across resets (zeroed again here)
 * @num: entries wanted (capped by QueueNumMax and VIRTQ_MAX; a split
 *	ring's is rounded down to a power of two, a packed ring's is kept)
 *
 * Return: 0; -1 if the queue does not exist, is already ready, or the
 * device refused it (QueueReady reads back 0).
 */
int virtqueue_setup(struct virtio_device *vdev, struct virtqueue *vq,
		    u16 index, u16 num);

/* Set DRIVER_OK. Return: true if Status reads it back without NEEDS_RESET. */
bool virtio_driver_ok(struct virtio_device *vdev);

/**
 * virtio_irq_enable() - take @vdev's interrupts
 *
 * Routes its GSI through the IOAPIC (edge) to a vector of its own on this
 * CPU; the handler reads InterruptStatus, acknowledges it and counts
 * vring_irqs / config_irqs. Interrupts are taken only while halted in a
 * wait (the library runs with IF clear).
 */
void virtio_irq_enable(struct virtio_device *vdev);

/*
 * Wait (halting, at most ~@ms) until *@counter moves past @old.
 * Return: true if it did.
 */
bool virtio_wait_counter(volatile u32 *counter, u32 old, unsigned int ms);

/* Config space (virtio 1.2 §2.5.1: retried until ConfigGeneration holds). */
u8 virtio_cread8(struct virtio_device *vdev, u32 off);
u16 virtio_cread16(struct virtio_device *vdev, u32 off);
u32 virtio_cread32(struct virtio_device *vdev, u32 off);
u64 virtio_cread64(struct virtio_device *vdev, u32 off);
void virtio_cread_bytes(struct virtio_device *vdev, u32 off, void *buf, u32 len);

/* Notify the device of queue @index (the transport's doorbell, a 16- or 32-bit write). */
void virtio_transport_notify(struct virtio_device *vdev, u16 index);

/* ---- transport: virtio-pci (virtio-pci.c) --------------------------------- */

/*
 * virtio_pci_use_intx() - make virtio_irq_enable() take INTx through the
 * ISR instead of MSI-X on devices found from now on (for the INTx tests)
 */
void virtio_pci_use_intx(bool intx);

/*
 * virtio_pci_msix_mask() / virtio_pci_msix_pending() - mask or unmask
 * MSI-X table entry @n of @vdev (0: configuration, 1: the queues), read its
 * pending bit; for the MSI-X tests.
 */
void virtio_pci_msix_mask(struct virtio_device *vdev, unsigned int n, bool masked);
bool virtio_pci_msix_pending(struct virtio_device *vdev, unsigned int n);

/* The transport's half of the generic functions above (virtio-mmio.c calls them). */
unsigned int virtio_pci_probe(struct virtio_device *devs, unsigned int max);
u8 virtio_pci_get_status(struct virtio_device *vdev);
void virtio_pci_set_status(struct virtio_device *vdev, u8 status);
u64 virtio_pci_device_features(struct virtio_device *vdev);
void virtio_pci_driver_features(struct virtio_device *vdev, u64 features);
int virtio_pci_queue_setup(struct virtio_device *vdev, struct virtqueue *vq, u16 index,
			   u16 *num);
void virtio_pci_irq_enable(struct virtio_device *vdev);
int virtio_pci_queue_enable(struct virtio_device *vdev, struct virtqueue *vq);
u32 virtio_pci_generation(struct virtio_device *vdev);
void virtio_pci_notify(struct virtio_device *vdev, u16 index);

/* ---- virtqueues (virtio.c) ------------------------------------------------ */

/* Reset the driver's ring state over memory already allocated for @num. */
void virtqueue_init(struct virtqueue *vq, u16 num, bool packed, bool event_idx, bool indirect);

/* The test's command line asks for packed rings ("packed"). */
bool virtio_cmdline_packed(void);

/**
 * virtqueue_add() - post one chain: @out readable buffers, then @in writable
 * @bufs: @out + @in buffers
 * @cookie: returned by virtqueue_get() for this chain (not NULL)
 *
 * Direct descriptors. Return: the head (packed: the buffer ID), or -1 when
 * the ring lacks room.
 */
int virtqueue_add(struct virtqueue *vq, const struct virtq_buf *bufs,
		  unsigned int out, unsigned int in, void *cookie);

/* Same through one indirect table (needs INDIRECT_DESC, at most
 * VIRTQ_INDIRECT_MAX buffers). Return: the head, or -1. */
int virtqueue_add_indirect(struct virtqueue *vq, const struct virtq_buf *bufs,
			   unsigned int out, unsigned int in, void *cookie);

/*
 * Split rings: make @head visible at avail slot avail_idx and bump
 * avail->idx (raw: tests use it to publish heads they built by hand).
 */
void virtqueue_publish(struct virtqueue *vq, u16 head);

/*
 * Packed rings: write @n descriptors from @d at the next slots, the first
 * one's flags last, with the AVAIL/USED bits of the driver's wrap counter
 * ORed into each flags field unless @raw (raw: tests build bad chains with
 * it). No buffer ID is taken: the caller's @d carry theirs.
 */
void virtqueue_packed_publish(struct virtqueue *vq, const struct vring_packed_desc *d,
			      unsigned int n, bool raw);

/* Notify the device if it asked for it (EVENT_IDX / NO_NOTIFY, packed: its event area). */
void virtqueue_kick(struct virtqueue *vq);
/* Notify unconditionally. */
void virtqueue_notify(struct virtqueue *vq);

/* The next completed chain's cookie (and bytes written in *@len), or NULL. */
void *virtqueue_get(struct virtqueue *vq, u32 *len);

/* Used entries the device has published that virtqueue_get() has not taken. */
u16 virtqueue_pending_used(struct virtqueue *vq);

/*
 * Wait (halting; interrupts when enabled, else a 1 ms poll) up to ~@ms
 * for a completion; then as virtqueue_get().
 */
void *virtqueue_wait(struct virtqueue *vq, u32 *len, unsigned int ms);

/* The same wait, without taking the entry. Return: true if one is there. */
bool virtqueue_wait_pending(struct virtqueue *vq, unsigned int ms);

/* Ask for an interrupt at the next used entry (EVENT_IDX or flags). */
void virtqueue_enable_cb(struct virtqueue *vq);

#endif /* GUEST_VIRTIO_H */
