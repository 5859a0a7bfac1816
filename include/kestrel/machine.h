/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_MACHINE_H
#define KESTREL_MACHINE_H

#include <stdbool.h>
#include <stddef.h>

#include <kestrel/types.h>

/*
 * The machine "kestrel run" boots, built in one ordered sequence: the VM
 * and its RAM, the virtio devices on the windows and interrupts the
 * machine chooses for them, the guest image and its boot tables, the
 * platform devices (UART, i8042, debug-exit, PONG, boot timer, CPU
 * hot-plug port, ACPI PM block, RTC), the vCPUs and the thread that turns
 * SIGINT/SIGTERM into a stop. Each step that fails undoes the ones before it, so a failed
 * machine_create() leaves nothing behind (tests/unit/core/fault_test.c
 * fails every step in turn).
 *
 * Implemented by the architecture (x86: src/arch/x86/machine.c), which
 * owns the layout: where virtio-mmio windows go and which GSIs they raise.
 * Errors are logged, one line each, naming the option of "kestrel run"
 * that the failing part of the configuration came from.
 */

struct boot_module;
struct machine;
struct snap_key;
struct snap_reader;
struct vdev_override;
struct virtio_devices;
struct vm;

/**
 * struct machine_config - what machine_create() builds
 * @ram_size: guest RAM in bytes (4 KiB aligned, at least 1 MiB)
 * @nr_cpus: vCPUs the guest starts with (1 to vm_max_vcpus())
 * @kernel: the guest image (bzImage, PVH ELF or Multiboot v1; untrusted
 *	bytes), or NULL for the built-in test guest
 * @kernel_size: bytes at @kernel
 * @kernel_name: where @kernel came from, for error lines (a path)
 * @initrd: initial ramdisk bytes, or NULL
 * @initrd_size: bytes at @initrd
 * @cmdline: kernel command line, or NULL
 * @modules: Multiboot modules, @nr_modules of them
 * @nr_modules: entries of @modules
 * @devs: virtio devices to attach, in slot order, or NULL for none. Made
 *	by machine_devices_create(); owned by the caller, and must outlive
 *	the machine (machine_destroy() detaches them, the list stays).
 * @console_in: fd the UART reads (not closed), -1 for none
 * @console_out: fd the UART writes (not closed), -1 to discard
 * @irqchip: enum vm_irqchip (default VM_IRQCHIP_SPLIT)
 * @pit: an in-kernel PIT (only with VM_IRQCHIP_KERNEL)
 * @testdev: QEMU's pc-testdev (docs/testdev.md)
 * @protected: private RAM in guest_memfd (struct vm_config, docs/protected.md)
 * @measured: with @protected, the measured launch (docs/protected.md):
 *	kestrel's launch stub boots, @kernel (a payload, or a sealed image of
 *	one), @cmdline and @initrd go into the boot window, the stub copies
 *	and checks them in private RAM, then the window is removed and the
 *	guest sealed. No @modules.
 * @expect_measurement: with @measured, 32 bytes the stub must find, or NULL
 * @image_key: with @measured, the 32-byte key of a sealed @kernel, or NULL
 * @payload_supervisor: with @measured, the stub enters the payload at CPL 0
 *	(LAUNCH_F_SUPERVISOR: for VMX/SVM hosts) instead of ring 3
 * @vcpu_thread_name: see struct vm_config; NULL for the default
 * @stop_on_signals: SIGINT and SIGTERM stop the VM (VM_STOP_USER), and
 *	SIGPWR presses the guest's ACPI power button (docs/acpi-pm.md).
 *	machine_create() then blocks the three in the calling thread before
 *	it creates any thread (every thread inherits the mask), a thread of
 *	its own takes them with sigwait(); they stay blocked afterwards.
 *	With @snapshot_dir, SIGUSR1 too: it writes a snapshot there.
 * @snapshot_dir: SIGUSR1 pauses the VM, writes a snapshot into this
 *	existing directory and stops the VM (VM_STOP_SNAPSHOT); if writing
 *	fails, the error is logged and the VM runs on. NULL: no snapshots.
 * @snapshot_key: encrypt snapshots with it, or NULL
 * @snapshot_diff: snapshots are diffs against @restore (a full plain
 *	snapshot): KVM logs the pages the guest writes, and only those are
 *	written (docs/snapshot.md). Needs @restore, no virtio device, no key.
 * @restore: build the machine for this snapshot instead of booting: no
 *	guest image is loaded, and RAM, vCPUs and devices take the saved
 *	state before anything runs (the other fields must describe the
 *	saved machine: see machine_config_from_snapshot())
 * @overrides: with @restore, host paths and TAP names of the saved virtio
 *	devices to replace (read by machine_config_from_snapshot()), or NULL
 * @nr_overrides: entries of @overrides
  *
 * The images are only read during machine_create(); @devs and the fds
 * are used until machine_destroy().
 */
struct machine_config {
	u64 ram_size;
	unsigned int nr_cpus;
	const void *kernel;
	size_t kernel_size;
	const char *kernel_name;
	const void *initrd;
	size_t initrd_size;
	const char *cmdline;
	const struct boot_module *modules;
	unsigned int nr_modules;
	struct virtio_devices *devs;
	int console_in;
	int console_out;
	unsigned int irqchip;
	bool pit;
	bool testdev;
	bool protected;
	bool measured;
	const u8 *expect_measurement;
	const u8 *image_key;
	bool payload_supervisor;
	const char *vcpu_thread_name;
	bool stop_on_signals;
	const char *snapshot_dir;
	const struct snap_key *snapshot_key;
	bool snapshot_diff;
	struct snap_reader *restore;
	struct vdev_override *overrides;
	unsigned int nr_overrides;
};

/**
 * machine_config_from_snapshot() - fill the machine fields of @cfg
 *	(RAM, vCPUs, irqchip, PIT, testdev, virtio devices) from an open
 *	snapshot
 * @r: the snapshot
 * @cfg: the configuration; other fields are left alone. The snapshot's
 *	virtio devices are recorded in @cfg->devs (an empty list from
 *	machine_devices_create(); NULL is an error if it has any).
 *
 * Return: 0, or -EINVAL (logged) if the snapshot has no usable machine
 * section or saved a machine this kestrel cannot rebuild, -ENOENT (logged)
 * if an entry of @cfg->overrides matched no saved device.
 */
int machine_config_from_snapshot(struct snap_reader *r, struct machine_config *cfg);

/**
 * machine_snapshot() - pause @m, write a snapshot of it into @dir
 * @m: a running machine (any thread but a vCPU's)
 * @dir: an existing directory
 * @key: encrypt with it, or NULL
 *
 * Virtio devices are suspended (vdpa_suspend()) while it is written. On
 * success the VM stops (VM_STOP_SNAPSHOT) with its devices still
 * suspended; on failure both are resumed.
 * Return: 0; -EPERM for a protected guest (docs/protected.md: never
 * snapshotted; it keeps running); -EOPNOTSUPP if a device cannot be
 * suspended; another negative errno (logged).
 */
int machine_snapshot(struct machine *m, const char *dir, const struct snap_key *key);

/**
 * machine_snapshot_files() - write a snapshot of a paused machine into two
 *	named files (Firecracker's PUT /snapshot/create)
 * @m: a machine paused by the caller (vm_pause()); it stays paused
 * @state_path: the state file
 * @mem_path: the memory file
 * @key: encrypt with it, or NULL
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 *
 * Its virtio devices are suspended while it is written, then resumed.
 * Return: 0; -EPERM for a protected guest (@err says so); -EOPNOTSUPP if
 * a device cannot be suspended; another negative errno.
 */
int machine_snapshot_files(struct machine *m, const char *state_path, const char *mem_path,
			   const struct snap_key *key, char *err, size_t errlen);

/**
 * machine_devices_create() - an empty virtio device list with room for
 *	each virtio-mmio slot of the machine
 * @out: the list, for virtio_devices_parse_arg() and then
 *	&machine_config.devs; free it with virtio_devices_destroy()
 *
 * Return: 0 or -ENOMEM (logged).
 */
int machine_devices_create(struct virtio_devices **out);

/**
 * machine_create() - build the machine described by @cfg, ready to run
 * @cfg: the configuration (see struct machine_config for what it lends)
 * @out: the machine
 *
 * Return: 0; -EINVAL when @cfg cannot work here (more vCPUs than KVM
 * allows, a device whose file or interface does not open, an image that
 * does not load or does not fit in RAM): a bad argument, logged naming
 * it; any other negative errno when the host failed (logged). Nothing is
 * left behind on failure.
 */
int machine_create(const struct machine_config *cfg, struct machine **out);

/**
 * machine_run() - run the guest until it stops
 * @m: a machine from machine_create(); runs once
 *
 * Return: the process exit status for how it stopped: VM_EXIT_OK,
 * VM_EXIT_GUEST_ERROR, VM_EXIT_INTERRUPTED, VM_EXIT_HOST_ERROR or the
 * guest's debug-exit status (vm_exit_status()).
 */
int machine_run(struct machine *m);

/**
 * machine_vm() - the VM inside @m
 * @m: the machine
 *
 * For callers that add devices of their own before machine_run(), e.g.
 * benchmarks; they remove them again before machine_destroy().
 *
 * Return: the VM, owned by @m.
 */
struct vm *machine_vm(struct machine *m);

/**
 * machine_send_ctrl_alt_del() - press Ctrl+Alt+Del on the machine's keyboard
 * @m: a machine from machine_create(), running or not (not destroyed)
 *
 * Safe from any thread while the vCPUs run (x86: i8042_send_ctrl_alt_del()).
 * A guest whose init handles the keys (Linux: ctrl-alt-del, SIGINT to
 * init) reboots or powers off cleanly.
 *
 * Return: 0; -EBUSY if the guest has not read the keys of an earlier
 * press; -EAGAIN if the guest disabled its keyboard; -ENODEV if the
 * machine has no keyboard.
 */
int machine_send_ctrl_alt_del(struct machine *m);

/**
 * machine_destroy() - tear the machine down, the reverse of its creation
 * @m: may be NULL; not running (machine_run() returned or was never
 *	called)
 *
 * Stops the signal thread, destroys the platform devices, detaches the
 * virtio devices (they hold ioeventfds, irqfds and RAM mappings) and
 * destroys the VM.
 */
void machine_destroy(struct machine *m);

/**
 * machine_dump_tables() - write the firmware tables a guest of @cfg would
 *	get into @dir, creating nothing (see boot_tables_dump())
 * @cfg: only @nr_cpus, @irqchip and @devs count; the devices get the same
 *	windows and interrupts machine_create() would give them
 * @dir: an existing directory
 *
 * Return: 0; -EINVAL for a @cfg the machine cannot hold (logged); or the
 * negative errno of boot_tables_dump() (not logged).
 */
int machine_dump_tables(const struct machine_config *cfg, const char *dir);

#endif /* KESTREL_MACHINE_H */
