/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to src/core and the architecture's hooks (src/arch/<arch>/):
 * struct vm, struct vcpu and the hooks common code calls.
 */
#ifndef KESTREL_CORE_INTERNAL_H
#define KESTREL_CORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <linux/kvm.h>

#include <kestrel/boot.h>
#include <kestrel/memory.h>
#include <kestrel/vcpu.h>
#include <kestrel/vm.h>

#include <arch/kvm-arch.h>

/**
 * struct vm - one virtual machine
 *
 * Set at creation, then read-only: kvm_fd, vm_fd, run_size, max_vcpus, as,
 * bus, arch. Everything under "lock" is protected by @lock; @cond is
 * broadcast whenever any of it changes.
 */
struct vm {
	int kvm_fd;			/* /dev/kvm */
	int vm_fd;			/* KVM_CREATE_VM */
	size_t run_size;		/* KVM_GET_VCPU_MMAP_SIZE */
	unsigned int max_vcpus;
	struct address_space *as;
	struct iobus *bus;
	const char *vcpu_thread_name;	/* vm_config.vcpu_thread_name */
	bool has_private;		/* some RAM is MEM_F_PRIVATE (guest_memfd) */
	bool dirty_log;			/* vm_config.dirty_log */
	/* vm_boot_window_add(): the measured launch's window (docs/protected.md) */
	void *window_hva;
	u64 window_gpa, window_size;
	u64 window_written;		/* the bytes asked for: what gets zeroed */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* lock: */
	struct vcpu **vcpus;		/* max_vcpus slots, the first nr_vcpus used */
	unsigned int nr_vcpus;
	unsigned int nr_threads;	/* vCPU threads started (joined in vm_run) */
	unsigned int nr_parked;		/* threads parked by a pause */
	bool running;			/* vm_run() started the threads */
	bool pause;			/* vm_pause() in effect */
	bool asleep;			/* between vm_sleep() and vm_wake() */
	enum vm_stop_reason stop_reason;
	int stop_status;
	pthread_t vmm_thread;		/* the caller of vm_run(), while running */
	bool serving;			/* vm_run() takes vm_call_vmm() calls */
	struct vm_call *call;		/* the call waiting for the VMM thread */

	/*
	 * Lock-free mirror of "pause || asleep || stop_reason != NONE", read
	 * by vCPU threads after every KVM_RUN; set before the kick (vcpu.c).
	 */
	atomic_bool request;

	struct vm_routes *routes;	/* the GSI routing table (irqroute.c) */
	struct vm_arch arch;
};

/**
 * struct vcpu - one virtual CPU; owned by its thread while vm_run() runs
 */
struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;				/* KVM_CREATE_VCPU */
	struct kvm_run *run;		/* mmap of @fd, vm->run_size bytes */
	pthread_t thread;
	bool thread_started;		/* vm->lock */
	/* Written by the vCPU thread only, read with relaxed atomics. */
	struct vm_exit_stats stats;
	struct vcpu_arch arch;
};

/**
 * struct vm_call - one vm_call_vmm() request, on its caller's stack
 * @fn: what the VMM thread runs
 * @arg: its argument
 * @ret: what @fn returned
 * @done: @fn has run (vm->lock)
 */
struct vm_call {
	int (*fn)(void *arg);
	void *arg;
	int ret;
	bool done;
};

/* core/vm.c */
int vm_register_ram(struct vm *vm, gpa_t gpa, u64 size, unsigned int flags);
/* vm_gpa_is_private() - does @gpa lie in MEM_F_PRIVATE RAM? */
bool vm_gpa_is_private(struct vm *vm, gpa_t gpa);
void vm_kick_all(struct vm *vm);

/* core/irqroute.c */
int vm_routes_create(struct vm *vm);
void vm_routes_destroy(struct vm *vm);
/*
 * vm_gsi_routes_set_pins() - replace the interrupt controller's routes
 * (GSIs below VM_GSI_MSI_BASE) with @nr entries and install the table.
 * Return: 0, -EINVAL (too many), or -errno from KVM_SET_GSI_ROUTING.
 */
int vm_gsi_routes_set_pins(struct vm *vm, const struct kvm_irq_routing_entry *e,
			   unsigned int nr);
/*
 * vm_gsi_routes_init_pins() - record the routes KVM set up by itself (the
 * in-kernel irqchip's defaults) without installing anything, so the first
 * MSI route keeps them.
 */
void vm_gsi_routes_init_pins(struct vm *vm, const struct kvm_irq_routing_entry *e,
			     unsigned int nr);

/* core/vcpu.c */
int vcpu_create(struct vm *vm, unsigned int id, struct vcpu **out);
void vcpu_destroy(struct vcpu *vcpu);
int vcpu_start_thread(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
int vcpu_signal_setup(void);

/*
 * Architecture hooks. Exactly one create and one destroy per object;
 * destroy accepts what a failed create left behind.
 */

/*
 * vm_arch_create() - lay out RAM (vm_register_ram()), then irqchip & co.
 */
int vm_arch_create(struct vm *vm, const struct vm_config *cfg);
void vm_arch_destroy(struct vm *vm);
/* vm_arch_load_guest() - run the loader; remember the boot entry */
int vm_arch_load_guest(struct vm *vm, const struct boot_config *cfg, char *err,
		       size_t errlen);

/* vcpu_arch_precreate() - may vCPU @id be created? (0 or -errno) */
int vcpu_arch_precreate(struct vm *vm, unsigned int id);
/* vcpu_arch_create() - CPUID, MSRs, boot state of a fresh KVM vCPU */
int vcpu_arch_create(struct vcpu *vcpu);
void vcpu_arch_destroy(struct vcpu *vcpu);
/*
 * vcpu_arch_reset() - back to the power-on state (registers, local APIC,
 * pending events), vCPU 0 starting at @entry (vm_wake()), the others
 * waiting for the guest to start them. Called with the vCPU parked.
 * Return: 0; -EINVAL if vCPU 0 cannot start at @entry (nothing changed);
 * another negative errno from KVM (the vCPU's state is then undefined).
 */
int vcpu_arch_reset(struct vcpu *vcpu, u64 entry);
/* vcpu_arch_dump_state() - registers and instruction bytes, at LOG_ERR */
void vcpu_arch_dump_state(struct vcpu *vcpu);
/*
 * vcpu_arch_handle_exit() - an exit reason common code does not know
 * (x86: KVM_EXIT_IOAPIC_EOI of the split irqchip); Return: true if handled
 */
bool vcpu_arch_handle_exit(struct vcpu *vcpu);
/* vm_arch_set_irq_line() - drive interrupt line @gsi (vm_set_irq_line()) */
int vm_arch_set_irq_line(struct vm *vm, u32 gsi, bool level);
/* vm_arch_irq_line_has_polarity() - vm_irq_line_has_polarity() */
bool vm_arch_irq_line_has_polarity(struct vm *vm);

/*
 * Snapshot hooks (core/snapshot.c), with every vCPU parked or not yet
 * started: save appends sections, restore reads them back into KVM,
 * writing a one-line reason into @err on failure.
 */
struct snap_writer;
struct snap_reader;
int vm_arch_snapshot_save(struct vm *vm, struct snap_writer *w);
int vm_arch_snapshot_restore(struct vm *vm, struct snap_reader *r, char *err, size_t errlen);
int vcpu_arch_snapshot_save(struct vcpu *vcpu, struct snap_writer *w);
int vcpu_arch_snapshot_restore(struct vcpu *vcpu, struct snap_reader *r, char *err,
			       size_t errlen);

#endif /* KESTREL_CORE_INTERNAL_H */
