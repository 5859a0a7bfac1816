/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_VM_H
#define KESTREL_VM_H

#include <stddef.h>

#include <kestrel/iobus.h>
#include <kestrel/types.h>

/*
 * The VM as devices see it. The full lifecycle API (creation, vCPUs, run,
 * pause/resume/stop, teardown) is declared below the device-facing part.
 */

struct vm;
struct address_space;

/**
 * enum vm_stop_reason - why the VM stopped running
 * @VM_STOP_NONE: still running
 * @VM_STOP_EXIT: the guest asked to exit with a status (debug-exit port)
 * @VM_STOP_RESET: the guest reset the machine (i8042, KVM system event);
 *		   kestrel exits 0
 * @VM_STOP_POWEROFF: the guest powered off (KVM system event, ACPI)
 * @VM_STOP_ERROR: a vCPU hit an error (internal error, failed emulation)
 * @VM_STOP_USER: the host asked it to stop (signal, API)
 * @VM_STOP_HOST_ERROR: kestrel could not run it (a vCPU thread did not start)
 * @VM_STOP_SNAPSHOT: a snapshot of it was written and it stops there
 *		      (docs/snapshot.md); kestrel exits 0
 */
enum vm_stop_reason {
	VM_STOP_NONE,
	VM_STOP_EXIT,
	VM_STOP_RESET,
	VM_STOP_POWEROFF,
	VM_STOP_ERROR,
	VM_STOP_USER,
	VM_STOP_HOST_ERROR,
	VM_STOP_SNAPSHOT,
};

/** vm_address_space() - the guest RAM of @vm */
struct address_space *vm_address_space(struct vm *vm);

/** vm_iobus() - the PIO/MMIO bus of @vm */
struct iobus *vm_iobus(struct vm *vm);

/**
 * vm_set_irq_line() - drive interrupt line @gsi of the in-kernel irqchip
 * Return: 0 or a negative errno from KVM_IRQ_LINE.
 */
int vm_set_irq_line(struct vm *vm, u32 gsi, bool level);

/**
 * vm_irq_line_has_polarity() - does the interrupt controller apply an
 *	entry's polarity to vm_set_irq_line()'s level?
 *
 * x86: kestrel's userspace IOAPIC does (an active-low line is asserted by
 * driving it low); KVM's in-kernel IOAPIC does not (assert is level 1
 * whatever the polarity).
 * Return: true if it does.
 */
bool vm_irq_line_has_polarity(struct vm *vm);

/**
 * vm_ioeventfd_add() - make guest writes of @len bytes at @addr signal @fd
 * in the kernel, with no exit to userspace
 * @match_data: only writes of @datamatch signal (else any value)
 * Return: 0 or a negative errno.
 */
int vm_ioeventfd_add(struct vm *vm, enum io_space space, u64 addr,
		     unsigned int len, u64 datamatch, bool match_data, int fd);

/** vm_ioeventfd_del() - undo vm_ioeventfd_add() with the same arguments */
int vm_ioeventfd_del(struct vm *vm, enum io_space space, u64 addr,
		     unsigned int len, u64 datamatch, bool match_data, int fd);

/**
 * vm_irqfd_add() - make a write to eventfd @fd raise (edge) interrupt @gsi
 * in the kernel
 * Return: 0 or a negative errno.
 */
int vm_irqfd_add(struct vm *vm, u32 gsi, int fd);

/** vm_irqfd_del() - undo vm_irqfd_add() */
int vm_irqfd_del(struct vm *vm, u32 gsi, int fd);

/*
 * MSI routes (src/core/irqroute.c). GSIs below VM_GSI_MSI_BASE are the
 * interrupt controller's pins; from there up, VM_GSI_MSI_MAX GSIs are
 * handed to MSI sources, each routed to a message of its own, so an
 * irqfd bound to one raises that message in the kernel.
 */
#define VM_GSI_MSI_BASE		24
#define VM_GSI_MSI_MAX		1000

/**
 * vm_msi_route_add() - reserve a GSI for an MSI source
 * @vm: the VM
 * @gsi: the GSI, with no route yet (an irqfd bound to it raises nothing
 *	until vm_msi_route_set() gives it a message)
 * Return: 0; -ENOSPC (all VM_GSI_MSI_MAX in use); -ENODEV.
 */
int vm_msi_route_add(struct vm *vm, u32 *gsi);

/**
 * vm_msi_route_set() - route @gsi to the message (@addr, @data), or remove
 *	its route (@valid false); installs the table only when it changed
 * Return: 0; -EINVAL (not a GSI of vm_msi_route_add()); -errno from
 * KVM_SET_GSI_ROUTING.
 */
int vm_msi_route_set(struct vm *vm, u32 gsi, bool valid, u64 addr, u32 data);

/** vm_msi_route_del() - give back a GSI of vm_msi_route_add() (unbind its irqfd first) */
void vm_msi_route_del(struct vm *vm, u32 gsi);

/**
 * vm_signal_msi() - raise the message (@addr, @data) once, now
 * Return: 0 or a negative errno from KVM_SIGNAL_MSI.
 */
int vm_signal_msi(struct vm *vm, u64 addr, u32 data);

/**
 * vm_request_stop() - stop every vCPU and record why
 * @status: exit status for VM_STOP_EXIT
 *
 * Safe from any thread, including a vCPU thread inside an exit handler.
 * The first request wins; later ones are ignored.
 */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status);


/* ---- lifecycle (main.c, tests, the hot-plug device) ----------------------- */

struct vcpu;
struct boot_config;

/*
 * Exit statuses of every kestrel subcommand (vm_exit_status() maps the stop
 * reason of "kestrel run" to these). Odd statuses belong to the guest: the
 * debug-exit port gives (v << 1) | 1. Even ones are kestrel's own, so the
 * two never collide.
 */
#define VM_EXIT_OK		0	/* reset or power-off */
#define VM_EXIT_USAGE		2	/* bad command line (one-line error) */
#define VM_EXIT_HOST_ERROR	4	/* kestrel could not build or run the VM */
#define VM_EXIT_GUEST_ERROR	6	/* triple fault, internal/emulation error,
					 * failed entry, crash event, unknown exit */
#define VM_EXIT_INTERRUPTED	130	/* SIGINT/SIGTERM (VM_STOP_USER) */

/**
 * VM_MAX_VCPUS - the most vCPUs a kestrel VM has, whatever KVM allows
 *
 * The x86 boot tables give vCPUs xAPIC IDs 0..253 and the IOAPIC the next
 * one; 255 is the broadcast ID. More would need x2APIC routing they do not
 * describe. vm_max_vcpus() never exceeds it.
 */
#define VM_MAX_VCPUS		254

/**
 * struct vm_exit_stats - exits a VM's vCPUs handled in userspace, summed
 * @io_in: port reads
 * @io_out: port writes
 * @mmio_read: MMIO reads
 * @mmio_write: MMIO writes
 */
struct vm_exit_stats {
	u64 io_in;
	u64 io_out;
	u64 mmio_read;
	u64 mmio_write;
};

/**
 * vm_get_exit_stats() - the exit counters of every vCPU so far, summed
 * @vm: the VM (any thread; the counts are read without stopping anyone)
 * @out: the sums
 */
void vm_get_exit_stats(struct vm *vm, struct vm_exit_stats *out);

/**
 * enum vm_irqchip - where a VM's interrupt controllers are emulated
 * @VM_IRQCHIP_SPLIT: local APICs in the kernel, the I/O APIC in kestrel, no
 *	PIC (the default: a VM so built is destroyed in ~0.2 ms instead of
 *	~15 ms, see docs/irqchip.md)
 * @VM_IRQCHIP_KERNEL: everything in the kernel (PIC, IOAPIC, LAPICs), for
 *	guests that program the 8259 PIC or the 8254 PIT
 */
enum vm_irqchip {
	VM_IRQCHIP_SPLIT = 0,
	VM_IRQCHIP_KERNEL,
};

/**
 * struct vm_config - what vm_create() builds
 * @ram_size: bytes of guest RAM (page aligned, non-zero); the architecture
 *	      lays it out (x86: below X86_RAM_32BIT_END, the rest from 4 GiB)
 * @mem_flags: MEM_F_* for the RAM
 * @irqchip: where the interrupt controllers live (enum vm_irqchip)
 * @pit: an in-kernel 8254 PIT too (needs VM_IRQCHIP_KERNEL)
 * @protected: back the RAM the architecture calls private with guest_memfd,
 *	       which kestrel cannot read (docs/protected.md; x86: all RAM from
 *	       X86_PRIVATE_RAM_START)
 * @vcpu_thread_name: the vCPU threads' name before their id, NULL for
 *	"vcpu" ("vcpu0"); the Firecracker-compatible mode gives "fc_vcpu "
 *	because orchestrators find the threads to pin by that name
 * @dirty_log: KVM logs the pages the guest writes (vm_dirty_log_get()),
 *	for diff snapshots
 * @restore: the snapshot this VM is built to restore, or NULL: the
 *	architecture takes from it what the guest saw and KVM would
 *	otherwise be asked for (x86: the CPUID table, SNAP_SEC_CPUID)
 */
struct vm_config {
	u64 ram_size;
	unsigned int mem_flags;
	unsigned int irqchip;
	bool pit;
	bool protected;
	const char *vcpu_thread_name;
	bool dirty_log;
	struct snap_reader *restore;
};

/**
 * vm_create() - open /dev/kvm, create the VM, its RAM and in-kernel devices
 * @cfg: sizes and flags
 * @out: the new VM (no vCPUs yet)
 *
 * RAM is registered as memslots before the architecture creates its
 * interrupt controllers (each memslot change is slow once they exist).
 *
 * Return: 0; -ENOENT/-EACCES if /dev/kvm cannot be opened; -ENOSYS if the
 * KVM API is unusable; -EINVAL for a bad @cfg; -ENOMEM; or another negative
 * errno from KVM. Nothing is left behind on failure.
 */
int vm_create(const struct vm_config *cfg, struct vm **out);

/**
 * vm_destroy() - free the VM: its vCPUs, RAM, bus and KVM fds
 * @vm: may be NULL or half-built; its vCPU threads must not be running
 *	(vm_run() has returned, or was never called). Devices must have been
 *	destroyed first (they unregister from the bus).
 */
void vm_destroy(struct vm *vm);

/**
 * vm_load_guest() - load a guest image and boot data into RAM
 * @vm: a VM without vCPUs (vCPU 0 starts at the loaded entry when created)
 * @cfg: images (untrusted bytes) and machine facts
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 *
 * Return: 0, or the loader's negative errno (-ENOEXEC not a loadable
 * image, -ENOSPC/-E2BIG does not fit in RAM, -EINVAL bad configuration).
 */
int vm_load_guest(struct vm *vm, const struct boot_config *cfg, char *err,
		  size_t errlen);

/**
 * vm_max_vcpus() - the most vCPUs this VM can have (KVM_CAP_MAX_VCPUS,
 * bounded by VM_MAX_VCPUS)
 */
unsigned int vm_max_vcpus(struct vm *vm);

/** vm_nr_vcpus() - vCPUs created so far */
unsigned int vm_nr_vcpus(struct vm *vm);

/**
 * vm_add_vcpu() - create the next vCPU (id = vm_nr_vcpus())
 * @vm: the VM, running or not
 * @out: the new vCPU (owned by @vm), may be NULL
 *
 * Safe from any thread, including a vCPU thread in an exit handler (it is
 * created on the VMM thread, vm_call_vmm()). If the
 * VM is running the vCPU's thread starts at once; vCPU 0 starts at the
 * loaded boot entry, the others wait for INIT/SIPI from the guest.
 *
 * Return: 0; -ENOSPC past vm_max_vcpus(); -ESHUTDOWN once a stop was
 * requested; -ENOMEM; another negative errno from KVM or pthread_create.
 */
int vm_add_vcpu(struct vm *vm, struct vcpu **out);

/**
 * vm_call_vmm() - run @fn on the thread inside vm_run(), the VMM thread
 * @vm: the VM
 * @fn: what to run; its return value is returned
 * @arg: its argument
 *
 * Threads are created only by the VMM thread once the guest runs: a vCPU
 * thread that must start one (a hot-plugged vCPU, a device's timer thread
 * started by a register write) asks here. The caller waits until @fn has
 * run; it may hold its own device lock, which @fn must not take. Before
 * vm_run(), after it, and on the VMM thread itself @fn runs directly
 * (docs/sandbox.md, "who creates threads").
 *
 * Return: @fn's return value; -ESHUTDOWN if the VM is stopping and the
 * VMM thread no longer takes calls (@fn did not run).
 */
int vm_call_vmm(struct vm *vm, int (*fn)(void *arg), void *arg);

/** vm_vcpu() - vCPU @id, or NULL */
struct vcpu *vm_vcpu(struct vm *vm, unsigned int id);

/**
 * vm_run() - start every vCPU thread and wait until the VM stops
 * @vm: the VM, with at least one vCPU
 *
 * Returns once a stop was requested and every vCPU thread (including ones
 * added while running) has been joined. Called once per VM.
 *
 * Return: why it stopped (never VM_STOP_NONE); a failure to start a thread
 * is reported as VM_STOP_HOST_ERROR with a log line.
 */
enum vm_stop_reason vm_run(struct vm *vm);

/**
 * vm_stop_status() - the status given with the winning vm_request_stop()
 * Return: the VM_STOP_EXIT status; 0 for other reasons.
 */
int vm_stop_status(struct vm *vm);

/** vm_stop_reason() - VM_STOP_NONE while running, else why it stopped */
enum vm_stop_reason vm_stop_reason(struct vm *vm);

/**
 * vm_pause() - get every vCPU out of KVM_RUN and hold it
 *
 * Returns when each vCPU thread is parked outside KVM_RUN, with the
 * instruction of its last exit completed by KVM (so its registers are
 * final and may be read or written). Paused vCPUs still honour a stop. Must not be called from a vCPU thread. Pauses do
 * not nest: one vm_resume() ends any number of vm_pause() calls.
 *
 * Return: 0, or -ESHUTDOWN if the VM is stopping (nothing to pause).
 */
int vm_pause(struct vm *vm);

/** vm_resume() - let paused vCPUs run again (not sleeping ones: vm_wake()) */
void vm_resume(struct vm *vm);

/**
 * vm_sleep() - stop every vCPU until vm_wake(), as a platform entering a
 *	sleep state (ACPI S3) stops its processors
 * @vm: the VM
 *
 * Returns when each vCPU thread is parked, as vm_pause() does. Sleep and
 * pause are independent: vm_resume() does not wake a sleeping VM, and a VM
 * can be paused and asleep at once. Sleeping vCPUs still honour a stop; a
 * vCPU added while asleep parks at once. Must not be called from a vCPU
 * thread.
 *
 * Return: 0; -ESHUTDOWN if the VM is stopping; -EALREADY if it is asleep.
 */
int vm_sleep(struct vm *vm);

/**
 * vm_wake() - end a sleep: every vCPU back to its power-on state, then
 *	running again (unless the VM is also paused)
 * @vm: a VM in vm_sleep()
 * @entry: where vCPU 0 starts, in the architecture's reset mode. x86: a
 *	real-mode address below 1 MiB, CS = @entry >> 4, IP = @entry & 0xf
 *	(the form of the ACPI 16-bit waking vector); the other vCPUs wait for
 *	INIT-SIPI, as at power-on.
 *
 * Guest memory and devices keep their state. Must not be called from a
 * vCPU thread.
 *
 * Return: 0; -EALREADY if @vm is not asleep; -EINVAL if vCPU 0 cannot
 * start at @entry (nothing changed: still asleep); -ESHUTDOWN if the VM is
 * stopping; another negative errno from KVM, the vCPUs' state then being
 * undefined and still asleep (the caller stops the VM).
 */
int vm_wake(struct vm *vm, u64 entry);

/** vm_is_asleep() - between vm_sleep() and vm_wake() */
bool vm_is_asleep(struct vm *vm);

/**
 * vm_is_protected() - whether some of @vm's RAM is private (guest_memfd)
 * @vm: the VM
 *
 * A protected guest (docs/protected.md) is sealed once built: kestrel
 * neither reads nor sets its vCPUs' state, so it takes no hot-plugged vCPU
 * and no S3 (waking restarts the vCPUs from a state kestrel sets).
 */
bool vm_is_protected(const struct vm *vm);

/**
 * vm_boot_window_add() - ordinary memory at @gpa for the measured launch
 *	(docs/protected.md), in a memory slot of its own, outside the address
 *	space: no device's IOTLB ever maps it
 * @vm: a VM that has not run yet
 * @gpa: where the guest sees it (4 KiB aligned, outside RAM)
 * @size: bytes (4 KiB aligned); with @gpa 2 MiB aligned the window is
 *	rounded up to whole 2 MiB pages (zeros after @size)
 * @hva: where kestrel writes it
 *
 * Return: 0, -EINVAL (a window exists, or bad alignment), or a negative
 * errno from mmap() or KVM_SET_USER_MEMORY_REGION.
 */
int vm_boot_window_add(struct vm *vm, gpa_t gpa, u64 size, void **hva);

/**
 * vm_boot_window_remove() - zero the boot window, delete its memory slot
 *	and unmap it; nothing if there is none. Called before the seal (the
 *	sealed lists forbid the slot ioctl); vm_destroy() zeroes and unmaps
 *	a window still there (closing the VM drops the slot).
 * @vm: the VM
 *
 * Return: 0, or a negative errno if KVM refused to delete the slot (the
 * window is zeroed and unmapped all the same).
 */
int vm_boot_window_remove(struct vm *vm);

/**
 * vm_run_launch() - run vCPU 0 on the calling thread until *@done
 * @vm: a VM whose vCPU threads have not started (before the seal)
 * @done: set by a device the guest writes to (on this thread)
 *
 * The measured launch's first phase (docs/protected.md): the stub copies
 * and checks the image while no other thread exists. The exit that set
 * @done is completed by vCPU 0's next KVM_RUN, on its own thread. A halt
 * before @done is an error: nothing could wake the vCPU.
 * Return: 0 when *@done; -ESHUTDOWN when the VM stopped first (a
 * debug-exit status, an error: vm_exit_status() says which).
 */
int vm_run_launch(struct vm *vm, const bool *done);

/**
 * vm_exit_status() - the process exit status for how @vm stopped
 * (the VM_EXIT_* table above, or the debug-exit status)
 */
int vm_exit_status(struct vm *vm);

/* ---- snapshots (docs/snapshot.md) -------------------------------------------- */

/**
 * vm_dirty_log_get() - the pages of RAM region @region (address_space
 *	order) the guest wrote since the last call (or since the VM was built),
 *	one bit per 4 KiB page; the log starts again empty
 * @vm: a VM built with &vm_config.dirty_log, paused
 * @region: index into its address space
 * @bitmap: (region size / 4 KiB) bits, rounded up to 64
 *
 * Only guest writes (and KVM's own) are logged, not kestrel's: devices
 * writing guest memory are not seen.
 *
 * Return: 0, -EINVAL without dirty logging or for a bad @region, or
 * KVM's negative errno.
 */
int vm_dirty_log_get(struct vm *vm, unsigned int region, u64 *bitmap);

struct snap_writer;
struct snap_reader;

/**
 * vm_snapshot_save() - add the VM's and every vCPU's state to @w
 * @vm: a paused VM (vm_pause()), or one whose vCPUs never ran
 * @w: the snapshot being written (its RAM is written at commit)
 *
 * Return: 0 or a negative errno from KVM or the writer.
 */
int vm_snapshot_save(struct vm *vm, struct snap_writer *w);

/**
 * vm_snapshot_restore() - load RAM, the VM's and every vCPU's state from @r
 * @vm: a VM built like the saved one (same RAM, vCPUs, irqchip) whose
 *	vCPUs have not run and whose RAM was never written
 * @r: an open snapshot
 * @err: one-line reason on failure
 * @errlen: bytes at @err
 *
 * Return: 0; -EINVAL if the snapshot does not fit @vm or KVM refuses a
 * saved value; another negative errno. The VM must not run on failure.
 */
int vm_snapshot_restore(struct vm *vm, struct snap_reader *r, char *err, size_t errlen);

#endif /* KESTREL_VM_H */
