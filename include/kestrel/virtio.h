/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Virtio transports: how kestrel's own guests reach vDPA devices (the role
 * Linux's virtio_vdpa plays), and the CLI glue that creates devices and
 * puts them on the machine.
 *
 * virtio-mmio (virtio 1.2 §4.2, the modern "version 2" layout only) turns
 * guest register accesses into vdpa_*() bus calls. The fast paths never
 * exit to userspace:
 *  - QueueNotify is an ioeventfd per queue (datamatch = queue index), handed
 *    to the device with vdpa_set_vq_kickfd();
 *  - used-buffer and configuration-change interrupts go through one irqfd
 *    per device; the transport keeps InterruptStatus for the guest to read
 *    and acknowledge.
 *
 * Interrupt trigger mode. KVM's irqfd pulses its GSI (edge). virtio-mmio's
 * interrupt is level in spirit, but a driver that reads InterruptStatus,
 * acknowledges what it saw and then processes the rings (Linux's
 * vm_interrupt(), the guest test library) loses nothing with an edge: a
 * change after the read sets the bit again and pulses again. The machine
 * gives its devices lines that are edge and active high by default (x86:
 * ISA lines 10..15), more devices than lines share them: every handler
 * checks its own InterruptStatus.
 */
#ifndef KESTREL_VIRTIO_H
#define KESTREL_VIRTIO_H

#include <stdbool.h>

#include <kestrel/boot.h>
#include <kestrel/types.h>

struct vm;
struct vdpa_device;
struct virtio_mmio;

/** VIRTIO_MMIO_REGION_SIZE - bytes of one virtio-mmio register window */
#define VIRTIO_MMIO_REGION_SIZE		0x1000

/** VIRTIO_MMIO_VERSION_MODERN - the only layout offered (virtio 1.2 §4.2.2) */
#define VIRTIO_MMIO_VERSION_MODERN	2

/**
 * virtio_mmio_create() - expose a vDPA device to @vm as virtio-mmio
 * @vm: the VM (its MMIO bus, ioeventfds, irqfds and RAM)
 * @vdpa: a registered vDPA device offering VIRTIO_F_VERSION_1; the
 *	transport becomes its only driver until destroyed
 * @base: guest-physical base of the register window (page aligned)
 * @irq: the GSI its interrupts raise
 * @out: the new transport
 *
 * Resets the device, maps every RAM region of @vm identity (GPA -> kestrel's
 * mapping, read/write) into each of the device's address spaces, registers
 * one ioeventfd per queue and the irqfd, then claims the window.
 *
 * Return: 0; -EINVAL (bad base, device without VERSION_1 or queues);
 * -EEXIST (window taken); -ENOMEM; -errno from KVM or the device. Nothing
 * is left behind on failure.
 */
int virtio_mmio_create(struct vm *vm, struct vdpa_device *vdpa, u64 base,
		       u32 irq, struct virtio_mmio **out);

/**
 * virtio_mmio_destroy() - take the device off the machine
 * @vm_mmio: the transport; may be NULL or half-built
 *
 * Releases the window, resets the device (so its workers stop touching
 * guest memory), removes the identity mappings, the ioeventfds and the
 * irqfd. The vDPA device itself stays registered.
 */
void virtio_mmio_destroy(struct virtio_mmio *vm_mmio);

/**
 * virtio_mmio_set_packed() - offer packed virtqueues to the driver, or not
 * @vm_mmio: the transport, before a driver began (device status 0)
 * @on: offer VIRTIO_F_RING_PACKED (virtio 1.2 §2.8) when the device has it;
 *	off (the default) offers split rings only
 *
 * Return: 0, -EOPNOTSUPP if @on and the device has no packed rings,
 * -EBUSY if a driver is already at work.
 */
int virtio_mmio_set_packed(struct virtio_mmio *vm_mmio, bool on);

/**
 * virtio_mmio_boot_dev() - describe a transport for the guest loader
 * @vm_mmio: the transport
 * @out: filled with base, size and GSI (ACPI DSDT, virtio_mmio.device=)
 */
void virtio_mmio_boot_dev(const struct virtio_mmio *vm_mmio,
			  struct boot_mmio_dev *out);

/**
 * virtio_mmio_vdpa() - the device behind a transport
 * @vm_mmio: the transport
 *
 * Return: the vDPA device given to virtio_mmio_create().
 */
struct vdpa_device *virtio_mmio_vdpa(const struct virtio_mmio *vm_mmio);

/* ---- virtio-pci (src/virtio/pci.c, docs/pci.md) ---------------------------
 *
 * The modern interface only (virtio 1.2 §4.1): vendor 0x1af4, device
 * 0x1040 + type, revision 1; common, notify, ISR, device and PCI-config
 * capabilities; a notification ioeventfd per queue; MSI-X with one vector
 * per queue plus one for configuration changes, INTx through the ISR when
 * the driver does not enable MSI-X.
 */

struct pci_host;
struct virtio_pci;

/**
 * virtio_pci_create() - expose a vDPA device as a virtio-pci function
 * @host: the PCI host bridge (its VM's RAM, ioeventfds and GSIs are used)
 * @vdpa: a registered vDPA device offering VIRTIO_F_VERSION_1 (at most
 *	1024 queues); the transport becomes its only driver until destroyed
 * @out: the new transport
 *
 * Resets the device, maps guest RAM identity into its address spaces,
 * builds the function (BARs, capabilities, MSI-X vectors with their GSIs
 * and irqfds) and plugs it into the first free slot, BARs placed.
 * Return: 0; -EINVAL; -ENOSPC (no slot or window room); -ENOMEM; -errno
 * from KVM or the device. Nothing is left behind on failure.
 */
int virtio_pci_create(struct pci_host *host, struct vdpa_device *vdpa, struct virtio_pci **out);

/**
 * virtio_pci_destroy() - unplug the function, reset the device, release
 *	ioeventfds, irqfds, GSIs and mappings; @vp may be NULL or half-built.
 *	The vDPA device stays registered.
 */
void virtio_pci_destroy(struct virtio_pci *vp);

/**
 * virtio_pci_set_packed() - virtio_mmio_set_packed() for virtio-pci
 * @vp: the transport, before a driver began (device status 0)
 * @on: offer VIRTIO_F_RING_PACKED when the device has it (default off)
 *
 * Return: 0, -EOPNOTSUPP if @on and the device has no packed rings, -EBUSY.
 */
int virtio_pci_set_packed(struct virtio_pci *vp, bool on);

/** virtio_pci_slot() - the device number on bus 0 @vp was plugged into */
unsigned int virtio_pci_slot(const struct virtio_pci *vp);

/* ---- devices from the command line ---------------------------------------
 *
 * With the vDPA device types registered (main.c does it before any
 * subcommand), main.c hands every device option to
 * virtio_devices_parse_arg(); the
 * machine builder (include/kestrel/machine.h) chooses a window and an
 * interrupt for each, calls virtio_devices_attach() after vm_create() and
 * describes the same windows to the loader. Accepted forms (each one
 * device, in command-line order, on virtio-mmio slots 0, 1, ...):
 *
 *   --net sim[,mac=M][,mtu=N]           net simulator (TX looped to RX)
 *   --net tap=IFNAME[,mac=M][,mtu=N]    net over an existing or new TAP
 *   --disk PATH[,ro][,serial=S]         blk over a file or block device
 *   --device vdpa,type=TYPE[,key=value]...   any management type: net, blk
 *                                       (simulators), tap, file-blk,
 *                                       console, rng, balloon; attributes as in
 *                                       vdpa_mgmt_parse(), plus ifname=
 *                                       for tap (an alias of path=)
 *   --console serial|virtio             virtio: a virtio-console on
 *                                       stdin/stdout (the UART then must
 *                                       not read stdin)
 *   --rng                               entropy from getrandom()
 *   --vsock cid=N,uds=PATH[,max_conns=M]  virtio-vsock to Unix sockets
 *                                       (docs/vsock.md)
 *   --balloon amount_mib=N[,deflate_on_oom=on][,stats_polling_interval_s=S]
 *            [,free_page_reporting=on]  a virtio-balloon (docs/balloon.md)
 *   --transport mmio|pci                the transport of every device
 *                                       without transport=
 *   --packed on|off                     packed virtqueues offered to every
 *                                       device without packed=
 *
 * --net, --disk, --device, --balloon and --vsock also take
 * transport=mmio|pci (docs/pci.md); a device given neither is on
 * virtio-pci when the kernel is Linux (boot_image_is_linux()) and on
 * virtio-mmio otherwise. They take packed=on|off too: on offers the
 * driver VIRTIO_F_RING_PACKED (virtio 1.2 §2.8; attach fails if the
 * device has no packed rings), off (the default) offers split rings only
 * (docs/virtio.md).
 *
 * A comma inside PATH or any value is doubled ("--disk /img/a,,b,ro" is
 * the file "/img/a,b", read-only), as vdpa_mgmt_parse() reads it.
 */

struct virtio_devices;

/**
 * virtio_devices_create() - an empty device list
 * @max: the most devices it takes (the machine's virtio-mmio slots)
 * @out: the list
 *
 * Return: 0 or -ENOMEM.
 */
int virtio_devices_create(unsigned int max, struct virtio_devices **out);

/**
 * virtio_devices_parse_arg() - take one device option from the CLI
 * @devs: the list
 * @opt: the option name, with or without leading dashes ("--net", "disk")
 * @val: its value (NULL for --rng; hostile)
 *
 * Only records the device; nothing is opened until attach. Errors are one
 * log line naming the option and its accepted form (or that memory ran
 * out).
 *
 * Return: 0; -ENOENT (@opt is not a device option: not handled, nothing
 * logged); -EINVAL (bad value); -E2BIG (more devices than the list takes);
 * -ENOMEM.
 */
int virtio_devices_parse_arg(struct virtio_devices *devs, const char *opt,
			     const char *val);

/**
 * virtio_devices_console_is_virtio() - whether --console virtio was given
 * @devs: the list
 *
 * Return: true if stdin/stdout belong to a virtio-console.
 */
bool virtio_devices_console_is_virtio(const struct virtio_devices *devs);

/**
 * virtio_devices_for_each_file() - the host files the listed devices open
 * @devs: the list, before it is attached
 * @fn: called with each path and whether it is opened for writing (see
 *	vdpa_mgmt_files()); a non-zero return stops the walk
 * @opaque: passed to @fn
 *
 * For a sandbox set up before the devices exist (include/kestrel/landlock.h).
 *
 * Return: 0 or the first non-zero return of @fn (or of re-parsing a spec).
 */
int virtio_devices_for_each_file(const struct virtio_devices *devs,
				 int (*fn)(const char *path, bool write, void *opaque),
				 void *opaque);

/**
 * virtio_devices_for_each_socket() - the Unix sockets the listed devices bind
 * @devs: the list, before it is attached
 * @fn: called with each socket's path (see vdpa_mgmt_sockets()); a non-zero
 *	return stops the walk
 * @opaque: passed to @fn
 *
 * Return: 0 or the first non-zero return of @fn (or of re-parsing a spec).
 */
int virtio_devices_for_each_socket(const struct virtio_devices *devs,
				   int (*fn)(const char *path, void *opaque), void *opaque);

/**
 * virtio_devices_count() - devices recorded so far
 * @devs: the list
 *
 * Return: the count.
 */
unsigned int virtio_devices_count(const struct virtio_devices *devs);

/**
 * virtio_devices_attach() - create every recorded device and its transport
 * @devs: the list
 * @vm: the VM, before its guest is loaded
 * @place: where each virtio-mmio device goes, virtio_devices_count_mmio()
 *	entries in list order: @place[k].base and .irq for the k-th device on
 *	virtio-mmio (.size at least VIRTIO_MMIO_REGION_SIZE), chosen by the machine
 * @host: the PCI host bridge virtio-pci devices plug into (NULL: none)
 *
 * Creates each vDPA device from its spec and puts it on its transport
 * (virtio_devices_resolve_transport() first). Called again after a
 * failure, it goes on with the first device not attached.
 *
 * Return: 0 or -errno (logged, naming the device); on failure the devices
 * already attached stay until virtio_devices_detach().
 */
int virtio_devices_attach(struct virtio_devices *devs, struct vm *vm,
			  const struct boot_mmio_dev *place, struct pci_host *host);

/**
 * enum virtio_transport - how a device reaches the guest
 * @VIRTIO_TRANSPORT_AUTO: not chosen yet (the machine's default applies)
 * @VIRTIO_TRANSPORT_MMIO: virtio-mmio, described in the DSDT
 * @VIRTIO_TRANSPORT_PCI: virtio-pci on the PCI host bridge
 */
enum virtio_transport {
	VIRTIO_TRANSPORT_AUTO,
	VIRTIO_TRANSPORT_MMIO,
	VIRTIO_TRANSPORT_PCI,
};

/**
 * virtio_devices_resolve_transport() - give every device without
 *	transport= the one --transport named, else pci for a Linux guest
 *	(@linux_guest) and mmio for any other (kestrel's own test guests)
 * @devs: the list, before it is placed and attached
 * @linux_guest: the kernel boots through a Linux boot protocol
 */
void virtio_devices_resolve_transport(struct virtio_devices *devs, bool linux_guest);

/** virtio_devices_count_mmio() - devices (resolved) that go on virtio-mmio */
unsigned int virtio_devices_count_mmio(const struct virtio_devices *devs);

/** virtio_devices_have_pci() - whether any device (resolved) is on virtio-pci */
bool virtio_devices_have_pci(const struct virtio_devices *devs);

/**
 * virtio_devices_detach() - take every attached device off its VM and
 *	delete it, keeping the list of what was asked for
 * @devs: the list, attached in full, in part or not at all; call before
 *	vm_destroy()
 */
void virtio_devices_detach(struct virtio_devices *devs);

/**
 * virtio_devices_destroy() - detach every device, then free the list
 * @devs: may be NULL; call before vm_destroy()
 */
void virtio_devices_destroy(struct virtio_devices *devs);

/* ---- snapshots (docs/snapshot.md) --------------------------------------------- */

struct snap_writer;
struct snap_reader;

/**
 * virtio_mmio_snapshot_save() - add the transport's registers and, for each
 *	ready queue, where its device restarts (SNAP_SEC_VIRTIO_MMIO)
 * @m: a transport whose device is suspended and whose vCPUs are paused
 * @w: the snapshot
 * @instance: its slot
 * Return: 0 or a negative errno.
 */
int virtio_mmio_snapshot_save(struct virtio_mmio *m, struct snap_writer *w, u32 instance);

/**
 * virtio_mmio_snapshot_restore() - bring a fresh transport and its device
 *	to the saved state, replaying the driver's writes
 * @m: a transport no driver has touched, guest RAM already restored
 * @r: the snapshot
 * @instance: its slot
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 * Return: 0 or -EINVAL.
 */
int virtio_mmio_snapshot_restore(struct virtio_mmio *m, struct snap_reader *r, u32 instance,
				 char *err, size_t errlen);

/**
 * virtio_devices_suspend() - suspend every attached device (vdpa_suspend())
 * @devs: the list
 * Return: 0; -EOPNOTSUPP if one cannot suspend (logged); another negative
 * errno. Nothing stays suspended on failure.
 */
int virtio_devices_suspend(struct virtio_devices *devs);

/** virtio_devices_resume() - undo virtio_devices_suspend() */
void virtio_devices_resume(struct virtio_devices *devs);

/**
 * virtio_devices_snapshot_save() - add each device's spec and transport
 *	state to @w (devices suspended, vCPUs paused)
 * Return: 0 or a negative errno.
 */
int virtio_devices_snapshot_save(struct virtio_devices *devs, struct snap_writer *w);

/**
 * virtio_devices_set_label() - give the device added last a name of the
 *	caller's (the API's drive or interface id), saved in snapshots and
 *	matched by a &struct vdev_override with @by_label
 * Return: 0, -EINVAL (no device yet) or -ENOMEM.
 */
int virtio_devices_set_label(struct virtio_devices *devs, const char *label);

/**
 * struct vdev_override - a saved device's host resource, replaced as the
 *	device is created again from a snapshot
 * @tap: a TAP device's interface name; else the path= of any other device
 *	(a disk's image)
 * @by_label: @from is the device's label (virtio_devices_set_label()), not
 *	its saved path
 * @from: the saved path or label (as the user wrote it, unescaped)
 * @to: the new path or interface name (unescaped)
 * @used: set once a device matched
 */
struct vdev_override {
	bool tap;
	bool by_label;
	const char *from;
	const char *to;
	bool used;
};

/**
 * virtio_devices_from_snapshot() - record the devices a snapshot saved, in
 *	their slots, as the command line would
 * @devs: an empty list
 * @r: the snapshot
 * @overrides: the host resources to replace (the first that matches a
 *	device applies), or NULL
 * @nr_overrides: entries of @overrides
 * Return: 0 or a negative errno (logged; -ENOENT if an override matched
 * no device).
 */
int virtio_devices_from_snapshot(struct virtio_devices *devs, struct snap_reader *r,
				 struct vdev_override *overrides, unsigned int nr_overrides);

/**
 * virtio_devices_snapshot_restore() - virtio_mmio_snapshot_restore() of
 *	every attached device
 * Return: 0 or -EINVAL with @err filled.
 */
int virtio_devices_snapshot_restore(struct virtio_devices *devs, struct snap_reader *r,
				    char *err, size_t errlen);

#endif /* KESTREL_VIRTIO_H */
