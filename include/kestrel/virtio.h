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
 * change after the read sets the bit again and pulses again. kestrel uses
 * ISA lines 10..15 (edge, active high by default, see x86/layout.h), so the
 * lines may be shared: every handler checks its own InterruptStatus.
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

/* ---- devices from the command line ---------------------------------------
 *
 * main.c hands every device option to virtio_devices_parse_arg(), then,
 * after vm_create() and before vm_load_guest(), calls
 * virtio_devices_attach() and passes virtio_devices_boot_list() to the
 * loader. Accepted forms (each one device, in command-line order, on
 * virtio-mmio slots 0, 1, ...):
 *
 *   --net sim[,mac=M][,mtu=N]           net simulator (TX looped to RX)
 *   --net tap=IFNAME[,mac=M][,mtu=N]    net over an existing or new TAP
 *   --disk PATH[,ro][,serial=S]         blk over a file or block device
 *   --device vdpa,type=TYPE[,key=value]...   any management type: net, blk
 *                                       (simulators), tap, file-blk,
 *                                       console, rng; attributes as in
 *                                       vdpa_mgmt_parse(), plus ifname=
 *                                       for tap (an alias of path=)
 *   --console serial|virtio             virtio: a virtio-console on
 *                                       stdin/stdout (the UART then must
 *                                       not read stdin)
 *   --rng                               entropy from getrandom()
 */

struct virtio_devices;

/**
 * virtio_devices_create() - an empty device list
 * @out: the list
 *
 * Return: 0 or -ENOMEM.
 */
int virtio_devices_create(struct virtio_devices **out);

/**
 * virtio_devices_parse_arg() - take one device option from the CLI
 * @devs: the list
 * @opt: the option name, with or without leading dashes ("--net", "disk")
 * @val: its value (NULL for --rng; hostile)
 *
 * Only records the device; nothing is opened until attach. Errors are one
 * log line naming the option and its accepted form.
 *
 * Return: 0; -ENOENT (@opt is not a device option: not handled);
 * -EINVAL (bad value); -E2BIG (more devices than virtio-mmio slots).
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
 *
 * Registers the built-in management types, creates each vDPA device from
 * its spec, and puts it on virtio-mmio slot n (x86: base
 * X86_VIRTIO_MMIO_BASE + n * 0x1000, GSI 10 + n % 6).
 *
 * Return: 0 or -errno (logged, naming the device); on failure the devices
 * already attached stay until virtio_devices_destroy().
 */
int virtio_devices_attach(struct virtio_devices *devs, struct vm *vm);

/**
 * virtio_devices_plan() - where each listed device will sit, without
 *	creating anything
 * @devs: the list
 * @out: filled with each device's window and GSI, in list order
 * @max: entries of @out
 *
 * The same placement virtio_devices_attach() uses; for describing a machine
 * before (or without) building it, e.g. `kestrel acpi-dump`.
 * Return: the number of entries filled.
 */
unsigned int virtio_devices_plan(const struct virtio_devices *devs,
				 struct boot_mmio_dev *out, unsigned int max);

/**
 * virtio_devices_boot_list() - the attached devices, for struct boot_config
 * @devs: the list
 * @nr: set to the number of entries
 *
 * Return: the array (owned by @devs), or NULL when there is none.
 */
const struct boot_mmio_dev *virtio_devices_boot_list(const struct virtio_devices *devs,
						     unsigned int *nr);

/**
 * virtio_devices_destroy() - detach and free every device, then the list
 * @devs: may be NULL; call before vm_destroy()
 */
void virtio_devices_destroy(struct virtio_devices *devs);

#endif /* KESTREL_VIRTIO_H */
