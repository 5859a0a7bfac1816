/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * PCI (docs/pci.md): one host bridge with bus 0, configuration mechanism
 * #1 (ports 0xcf8/0xcfc) and ECAM, the windows BARs are placed in, legacy
 * INTx lines, and MSI-X (src/pci/msix.c).
 *
 * A device embeds a struct pci_dev, fills its configuration space with
 * pci_dev_init(), pci_dev_add_bar() and pci_dev_add_cap(), and plugs it
 * into the host with pci_host_add_dev(), which places its BARs (kestrel is
 * the firmware) and gives it an INTx line. The guest may move, size or
 * switch off the BARs; the host decodes the windows itself and sends each
 * access that falls into an enabled BAR to the device's bar_read/bar_write
 * ops, and tells the device when a BAR moves (ioeventfds follow).
 *
 * Every configuration write is hostile: only bits the device declared
 * writable (pci_dev.wmask) change, BARs take only their size's address
 * bits, and nothing the guest writes makes the host fail.
 */
#ifndef KESTREL_PCI_H
#define KESTREL_PCI_H

#include <pthread.h>
#include <stdbool.h>

#include <kestrel/boot.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/types.h>

struct vm;
struct snap_writer;

/** PCI_SLOTS - device numbers of bus 0 (one function each) */
#define PCI_SLOTS		32
/** PCI_CFG_SIZE - configuration bytes of a function (PCIe: 4 KiB, ECAM) */
#define PCI_CFG_SIZE		4096
/** PCI_NR_BARS - BARs of a type-0 header */
#define PCI_NR_BARS		6

/* pci_dev_add_bar() flags */
#define PCI_BAR_F_IO		(1u << 0)	/* I/O space (else memory) */
#define PCI_BAR_F_MEM64		(1u << 1)	/* 64-bit memory BAR (takes two) */
#define PCI_BAR_F_PREFETCH	(1u << 2)	/* prefetchable memory */

struct pci_dev;
struct pci_host;

/**
 * struct pci_dev_ops - what a device does (called with the host's
 *	configuration lock held for config-side calls, from vCPU threads)
 * @bar_read: (optional) a guest read of @len bytes at @off of BAR @bar;
 *	fill @data (little-endian). Unset: reads of all ones.
 * @bar_write: (optional) a guest write
 * @bar_moved: (optional) BAR @bar now decodes at @addr (@on), or no longer
 *	decodes (@on false): move ioeventfds. Called with the config lock
 *	held; never from inside @bar_read or @bar_write.
 * @config_written: (optional) the guest wrote @len bytes at @off (already
 *	applied through the write mask), for capabilities with side effects
 *	(MSI-X control, virtio's PCI configuration access window)
 * @config_read: (optional) before a read of @len bytes at @off is served
 *	from the configuration image: refresh what it covers
 */
struct pci_dev_ops {
	int (*bar_read)(struct pci_dev *pd, unsigned int bar, u64 off, void *data,
			unsigned int len);
	int (*bar_write)(struct pci_dev *pd, unsigned int bar, u64 off, const void *data,
			 unsigned int len);
	void (*bar_moved)(struct pci_dev *pd, unsigned int bar, u64 addr, bool on);
	void (*config_written)(struct pci_dev *pd, u32 off, unsigned int len);
	void (*config_read)(struct pci_dev *pd, u32 off, unsigned int len);
};

/**
 * struct pci_bar - one BAR as the device declared it
 * @size: bytes (a power of two, at least 16 for memory, 4 for I/O); 0: unused
 * @flags: PCI_BAR_F_*
 * @addr: the address the guest (or the host's placement) wrote
 * @mapped: the BAR decodes now (its space is on in COMMAND, @addr valid)
 * @mapped_addr: where it decodes when @mapped
 */
struct pci_bar {
	u64 size;
	unsigned int flags;
	u64 addr;
	bool mapped;
	u64 mapped_addr;
};

/**
 * struct pci_dev - one function on bus 0 (embed it; container_of back)
 * @ops: the device's ops
 * @name: for log lines ("virtio-pci 00:03.0")
 * @host: the host it is plugged into (NULL before pci_host_add_dev())
 * @slot: device number on bus 0
 * @gsi: the GSI of its INTx line (INTA# after the slot's swizzle)
 * @cfg: the configuration space image (config lock)
 * @wmask: per byte of @cfg, the bits the guest may change
 * @w1cmask: per byte of @cfg, the bits a guest write of 1 clears
 * @bars: the BARs
 * @cap_last: offset of the last capability in the list (0: none)
 * @cap_end: first free byte for the next capability
 * @intx: the INTx line is asserted (host's INTx lock)
 * @rl: rate limit of guest-triggered log lines
 */
struct pci_dev {
	const struct pci_dev_ops *ops;
	char name[40];
	struct pci_host *host;
	unsigned int slot;
	u32 gsi;
	u8 cfg[PCI_CFG_SIZE];
	u8 wmask[PCI_CFG_SIZE];
	u8 w1cmask[PCI_CFG_SIZE];
	struct pci_bar bars[PCI_NR_BARS];
	u8 cap_last;
	u8 cap_end;
	bool intx;
	struct ratelimit rl;
};

/**
 * pci_dev_init() - a type-0 header: IDs, class, INTA#, no BAR, no capability
 * @pd: the device (zeroed by the caller or not: all of it is set)
 * @ops: its ops
 * @vendor: vendor ID
 * @device: device ID
 * @class: class code (base << 16 | sub << 8 | prog-if)
 * @revision: revision ID
 * @subsys_vendor: subsystem vendor ID
 * @subsys: subsystem ID
 */
void pci_dev_init(struct pci_dev *pd, const struct pci_dev_ops *ops, u16 vendor,
		  u16 device, u32 class, u8 revision, u16 subsys_vendor, u16 subsys);

/**
 * pci_dev_add_bar() - declare BAR @bar
 * @pd: the device, before pci_host_add_dev()
 * @bar: 0..5 (a 64-bit BAR also takes @bar + 1)
 * @size: a power of two (memory: at least 4 KiB here, so BARs never share a page)
 * @flags: PCI_BAR_F_*
 * Return: 0 or -EINVAL.
 */
int pci_dev_add_bar(struct pci_dev *pd, unsigned int bar, u64 size, unsigned int flags);

/**
 * pci_dev_add_cap() - append a capability to the list
 * @pd: the device, before pci_host_add_dev()
 * @id: capability ID
 * @body: the bytes after ID and next pointer, @len of them (read-only to
 *	the guest unless the caller sets @pd->wmask afterwards)
 * @len: bytes at @body
 * @off: where the capability (its ID byte) went
 * Return: 0 or -ENOSPC (the 256-byte conventional space is full).
 */
int pci_dev_add_cap(struct pci_dev *pd, u8 id, const void *body, unsigned int len, u8 *off);

/** pci_dev_cfg_read() - @len (1, 2, 4) bytes of @pd's configuration image at @off */
u32 pci_dev_cfg_read(const struct pci_dev *pd, u32 off, unsigned int len);

/** pci_dev_cfg_set() - set @len bytes at @off of the image (device side: no mask) */
void pci_dev_cfg_set(struct pci_dev *pd, u32 off, u32 val, unsigned int len);

/**
 * pci_dev_set_intx() - drive @pd's INTx line (any thread)
 * @pd: a plugged-in device
 * @level: asserted or not; lines shared by several devices stay asserted
 *	while any of them asserts (the line is active low, as ACPI's _PRT
 *	describes it: idle high)
 */
void pci_dev_set_intx(struct pci_dev *pd, bool level);

/**
 * pci_dev_bus_master() - may @pd touch guest memory (COMMAND.BME)?
 */
bool pci_dev_bus_master(const struct pci_dev *pd);

/** PCI_ECAM_BUS_SIZE - ECAM bytes of one bus (32 devices x 8 functions x 4 KiB) */
#define PCI_ECAM_BUS_SIZE	0x100000ULL

/**
 * pci_host_create() - the host bridge (00:00.0) and its decoders on @vm
 * @vm: the VM
 * @cfg: its windows (struct boot_pci: the same facts the guest's tables give)
 * @out: the host
 *
 * Claims ports 0xcf8..0xcff, the ECAM range and the three windows on
 * @vm's bus, and sets the INTx lines idle (high).
 * Return: 0, -EINVAL (a window is empty or wraps), -EEXIST, -ENOMEM.
 */
int pci_host_create(struct vm *vm, const struct boot_pci *cfg, struct pci_host **out);

/**
 * pci_host_destroy() - release the decoders; @h may be NULL or half-built.
 *	Devices must have been removed first.
 */
void pci_host_destroy(struct pci_host *h);

/**
 * pci_host_add_dev() - plug @pd into a free slot and place its BARs
 * @h: the host
 * @pd: the device (pci_dev_init() done)
 * @name: its name in log lines (the slot is appended)
 *
 * BARs are placed in declaration order, each aligned to its size: I/O in
 * the I/O window, memory in the 32-bit window (64-bit BARs too, so guests
 * that map only the low 4 GiB reach them). COMMAND is left 0: the guest
 * enables decoding.
 * Return: 0; -ENOSPC (no slot, or a window is full).
 */
int pci_host_add_dev(struct pci_host *h, struct pci_dev *pd, const char *name);

/** pci_host_del_dev() - unplug @pd (its BARs stop decoding); NULL-safe */
void pci_host_del_dev(struct pci_host *h, struct pci_dev *pd);

/** pci_host_vm() - the VM of @h */
struct vm *pci_host_vm(const struct pci_host *h);

/* ---- MSI-X (src/pci/msix.c) ---------------------------------------------- */

/** PCI_MSIX_MAX_VECTORS - the most vectors one function gets here */
#define PCI_MSIX_MAX_VECTORS	64

/**
 * struct pci_msix_vector - one table entry and its delivery
 * @addr: Message Address (low | high << 32)
 * @data: Message Data
 * @ctrl: Vector Control (bit 0: masked)
 * @gsi: the GSI routed to this vector's message
 * @irqfd: eventfd bound to @gsi
 * @routed: @gsi's route holds @addr/@data
 */
struct pci_msix_vector {
	u64 addr;
	u32 data;
	u32 ctrl;
	u32 gsi;
	int irqfd;
	bool routed;
};

/**
 * struct pci_msix - an MSI-X capability, its table and PBA in one BAR
 * @pd: the function
 * @vm: its VM
 * @cap: offset of the capability in configuration space
 * @bar: the BAR holding table (at 0) and PBA (at PCI_MSIX_PBA_AT)
 * @nr: vectors
 * @lock: the table, mask state and pending bits (vCPU and device threads)
 * @enabled: Message Control's MSI-X Enable
 * @fn_masked: Message Control's Function Mask
 * @pending: the PBA, one bit per vector
 * @vec: the vectors
 */
struct pci_msix {
	struct pci_dev *pd;
	struct vm *vm;
	u8 cap;
	unsigned int bar;
	unsigned int nr;
	pthread_mutex_t lock;
	bool enabled;
	bool fn_masked;
	u64 pending;
	struct pci_msix_vector vec[PCI_MSIX_MAX_VECTORS];
};

/** PCI_MSIX_PBA_AT - where the PBA starts in the MSI-X BAR */
#define PCI_MSIX_PBA_AT	0x800
/** PCI_MSIX_BAR_SIZE - bytes of the MSI-X BAR */
#define PCI_MSIX_BAR_SIZE	0x1000

/**
 * pci_msix_init() - add an MSI-X capability with @nr vectors in BAR @bar
 *	(declared by the caller, at least PCI_MSIX_BAR_SIZE) and one GSI and
 *	irqfd per vector
 * @m: the state (embedded in the device)
 * @pd: the function, before pci_host_add_dev()
 * @vm: its VM
 * @bar: the BAR
 * @nr: vectors, 1..PCI_MSIX_MAX_VECTORS
 * Return: 0 or a negative errno; pci_msix_destroy() undoes a failed one.
 */
int pci_msix_init(struct pci_msix *m, struct pci_dev *pd, struct vm *vm, unsigned int bar,
		  unsigned int nr);

/** pci_msix_destroy() - unbind the irqfds, give back the GSIs (half-built too) */
void pci_msix_destroy(struct pci_msix *m);

/**
 * pci_msix_notify() - raise vector @v (any thread)
 * Return: true if it was sent or left pending (masked); false if MSI-X
 * is off or @v is not a vector (the caller may fall back to INTx).
 */
bool pci_msix_notify(struct pci_msix *m, unsigned int v);

/** pci_msix_enabled() - MSI-X Enable is set */
bool pci_msix_enabled(struct pci_msix *m);

/** pci_msix_config_written() - the device's config_written op forwards here */
void pci_msix_config_written(struct pci_msix *m, u32 off, unsigned int len);

/** pci_msix_bar_read() - a read of the MSI-X BAR */
int pci_msix_bar_read(struct pci_msix *m, u64 off, void *data, unsigned int len);

/** pci_msix_bar_write() - a write to the MSI-X BAR */
int pci_msix_bar_write(struct pci_msix *m, u64 off, const void *data, unsigned int len);

/** pci_msix_reset() - back to power-on: disabled, every vector masked, nothing pending */
void pci_msix_reset(struct pci_msix *m);

#endif /* KESTREL_PCI_H */
