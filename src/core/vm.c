// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM: KVM fds, guest RAM and memslots, the I/O bus, the vCPU table and
 * the run / pause / stop state machine. Locking is described on struct vm
 * (internal.h); the vCPU side of the protocol is in vcpu.c.
 */
#include <kestrel/vm.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kestrel/fault.h>
#include <kestrel/iobus.h>
#include <kestrel/log.h>
#include <kestrel/memory.h>
#include <kestrel/sandbox.h>

#include "internal.h"

struct address_space *vm_address_space(struct vm *vm)
{
	return vm->as;
}

struct iobus *vm_iobus(struct vm *vm)
{
	return vm->bus;
}

/*
 * A guest_memfd for the private region @r (docs/protected.md): MMAP so that
 * KVM backs the whole slot with it, without INIT_SHARED so that nothing but
 * the guest can read or write its pages.
 */
static int vm_create_guest_memfd(struct vm *vm, struct mem_region *r)
{
	struct kvm_create_guest_memfd g = { .size = r->size, .flags = GUEST_MEMFD_FLAG_MMAP };
	int flags, ret;

	flags = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) <= 0 || flags <= 0 ||
	    !(flags & GUEST_MEMFD_FLAG_MMAP))
		return -EOPNOTSUPP;
	ret = kvm_ioctl(vm->vm_fd, KVM_CREATE_GUEST_MEMFD, &g);
	if (ret < 0)
		return ret;
	r->fd = ret;
	r->fd_offset = 0;
	return 0;
}

int vm_register_ram(struct vm *vm, gpa_t gpa, u64 size, unsigned int flags)
{
	struct kvm_userspace_memory_region2 mr;
	struct mem_region *r;
	int ret;

	ret = address_space_add_ram(vm->as, gpa, size, flags, &r);
	if (ret)
		return ret;
	mr = (struct kvm_userspace_memory_region2){
		.slot = r->slot,
		.guest_phys_addr = r->gpa,
		.memory_size = r->size,
		.userspace_addr = (u64)(uintptr_t)r->hva,
		.flags = vm->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
	};
	/* On failure the region stays in the address space; the caller is
	 * building the VM and tears all of it down. */
	if (!(flags & MEM_F_PRIVATE)) {
		struct kvm_userspace_memory_region mr1 = {
			.slot = mr.slot, .guest_phys_addr = mr.guest_phys_addr,
			.memory_size = mr.memory_size, .userspace_addr = mr.userspace_addr,
			.flags = mr.flags,
		};

		ret = kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr1);
		return ret < 0 ? ret : 0;
	}
	ret = vm_create_guest_memfd(vm, r);
	if (ret)
		return ret;
	mr.flags = KVM_MEM_GUEST_MEMFD;
	mr.guest_memfd = (u32)r->fd;
	mr.guest_memfd_offset = r->fd_offset;
	ret = kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION2, &mr);
	if (ret < 0)
		return ret;
	vm->has_private = true;
	return 0;
}

/* A slot number the address space never hands out (it counts from 0). */
#define VM_BOOT_WINDOW_SLOT	511

#define SZ_2M	0x200000ULL

/*
 * The window in 2 MiB pages where the kernel gives them (MADV_HUGEPAGE on
 * a 2 MiB-aligned mapping, the slot rounded up to whole 2 MiB pages): the
 * fill takes a fault per 2 MiB instead of per 4 KiB, and KVM can map the
 * guest's reads with 2 MiB entries. The launch's cost on a PVM host is
 * mostly such faults (docs/protected.md). Returns the mapping, @size
 * rounded, or MAP_FAILED.
 */
static void *vm_boot_window_map(gpa_t gpa, u64 *size)
{
	u64 big = ALIGN_UP(*size, SZ_2M);
	u8 *p, *a;

	if (gpa % SZ_2M)
		return xmmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	p = xmmap(NULL, big + SZ_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	a = (u8 *)ALIGN_UP((uintptr_t)p, SZ_2M);
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + big, (size_t)(p + SZ_2M - a));
	/* Only advice: without it the window is the same, in 4 KiB pages. */
	madvise(a, big, MADV_HUGEPAGE);
	*size = big;
	return a;
}

int vm_boot_window_add(struct vm *vm, gpa_t gpa, u64 size, void **hva)
{
	struct kvm_userspace_memory_region mr = {
		.slot = VM_BOOT_WINDOW_SLOT, .guest_phys_addr = gpa,
	};
	u64 written = size;
	void *p;
	int ret;

	if (vm->window_hva || !size || size % 4096 || gpa % 4096)
		return -EINVAL;
	p = vm_boot_window_map(gpa, &size);
	if (p == MAP_FAILED)
		return -errno;
	mr.memory_size = size;
	mr.userspace_addr = (u64)(uintptr_t)p;
	ret = kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr);
	if (ret < 0) {
		munmap(p, size);
		return ret;
	}
	vm->window_hva = p;
	vm->window_gpa = gpa;
	vm->window_size = size;
	vm->window_written = written;
	*hva = p;
	return 0;
}

int vm_boot_window_remove(struct vm *vm)
{
	struct kvm_userspace_memory_region mr = {
		.slot = VM_BOOT_WINDOW_SLOT, .guest_phys_addr = vm->window_gpa,
	};
	int ret = 0;

	if (!vm->window_hva)
		return 0;
	/*
	 * Zero first: whatever happens next, the key and image are gone. Not
	 * the rounding to 2 MiB after them, which kestrel never wrote (the
	 * stub writes only the header): zeroing it would only fault it in
	 * where the pages are small.
	 */
	explicit_bzero(vm->window_hva, vm->window_written);
	/* Not an injection point: undo paths must not fail artificially. */
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		ret = -errno;
	munmap(vm->window_hva, vm->window_size);
	vm->window_hva = NULL;
	return ret;
}

bool vm_gpa_is_private(struct vm *vm, gpa_t gpa)
{
	unsigned int n = address_space_nr_regions(vm->as);

	if (!vm->has_private)
		return false;
	for (unsigned int i = 0; i < n; i++) {
		const struct mem_region *r = address_space_region(vm->as, i);

		if ((r->flags & MEM_F_PRIVATE) && gpa >= r->gpa && gpa - r->gpa < r->size)
			return true;
	}
	return false;
}

static int kvm_check_cap(struct vm *vm, long cap)
{
	int ret = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap);

	return ret < 0 ? 0 : ret;
}

static int vm_open_kvm(struct vm *vm)
{
	int ret;

	vm->kvm_fd = xopen("/dev/kvm", O_RDWR | O_CLOEXEC, 0);
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	ret = kvm_ioctl(vm->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (ret < 0)
		return ret;
	if (ret != KVM_API_VERSION) {
		pr_err("/dev/kvm speaks API version %d, kestrel needs %d",
		       ret, KVM_API_VERSION);
		return -ENOSYS;
	}
	if (!kvm_check_cap(vm, KVM_CAP_USER_MEMORY) ||
	    !kvm_check_cap(vm, KVM_CAP_IMMEDIATE_EXIT)) {
		pr_err("/dev/kvm lacks user memory or immediate exit");
		return -ENOSYS;
	}
	ret = kvm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (ret < 0)
		return ret;
	if ((size_t)ret < sizeof(struct kvm_run))
		return -ENOSYS;
	vm->run_size = (size_t)ret;

	ret = kvm_check_cap(vm, KVM_CAP_MAX_VCPUS);
	if (!ret)
		ret = kvm_check_cap(vm, KVM_CAP_NR_VCPUS);
	vm->max_vcpus = MIN(ret > 0 ? (unsigned int)ret : 4, (unsigned int)VM_MAX_VCPUS);
	return 0;
}

int vm_create(const struct vm_config *cfg, struct vm **out)
{
	struct vm *vm;
	int ret;

	if (!cfg->ram_size)
		return -EINVAL;
	ret = vcpu_signal_setup();
	if (ret)
		return ret;

	vm = xzalloc(sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);

	ret = vm_open_kvm(vm);
	if (ret)
		goto err_destroy;
	do {
		ret = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, NULL);
	} while (ret == -EINTR);
	if (ret < 0)
		goto err_destroy;
	vm->vm_fd = ret;

	ret = address_space_create(&vm->as);
	if (ret)
		goto err_destroy;
	ret = iobus_create(&vm->bus);
	if (ret)
		goto err_destroy;
	vm->vcpu_thread_name = cfg->vcpu_thread_name ? cfg->vcpu_thread_name : "vcpu";
	vm->dirty_log = cfg->dirty_log;
	ret = vm_routes_create(vm);
	if (ret)
		goto err_destroy;
	ret = vm_arch_create(vm, cfg);
	if (ret)
		goto err_destroy;
	vm->vcpus = xcalloc(vm->max_vcpus, sizeof(vm->vcpus[0]));
	if (!vm->vcpus) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	*out = vm;
	return 0;

err_destroy:
	vm_destroy(vm);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(vm->vcpus[i]);
	free(vm->vcpus);
	/* Only a test hook leaves it this late; closing the VM drops its slot
	 * (a sealed thread may not make the slot ioctl). */
	if (vm->window_hva) {
		explicit_bzero(vm->window_hva, vm->window_written);
		munmap(vm->window_hva, vm->window_size);
	}
	vm_arch_destroy(vm);
	vm_routes_destroy(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	iobus_destroy(vm->bus);
	address_space_destroy(vm->as);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

int vm_load_guest(struct vm *vm, const struct boot_config *cfg, char *err,
		  size_t errlen)
{
	if (vm->nr_vcpus) {
		if (err && errlen)
			err[0] = '\0';
		return -EBUSY;
	}
	return vm_arch_load_guest(vm, cfg, err, errlen);
}

unsigned int vm_max_vcpus(struct vm *vm)
{
	return vm->max_vcpus;
}

unsigned int vm_nr_vcpus(struct vm *vm)
{
	unsigned int n;

	pthread_mutex_lock(&vm->lock);
	n = vm->nr_vcpus;
	pthread_mutex_unlock(&vm->lock);
	return n;
}

struct vcpu *vm_vcpu(struct vm *vm, unsigned int id)
{
	struct vcpu *v = NULL;

	pthread_mutex_lock(&vm->lock);
	if (id < vm->nr_vcpus)
		v = vm->vcpus[id];
	pthread_mutex_unlock(&vm->lock);
	return v;
}

int vm_call_vmm(struct vm *vm, int (*fn)(void *arg), void *arg)
{
	struct vm_call c = { .fn = fn, .arg = arg };

	pthread_mutex_lock(&vm->lock);
	if (!vm->running || pthread_equal(vm->vmm_thread, pthread_self())) {
		pthread_mutex_unlock(&vm->lock);
		return fn(arg);
	}
	/* One call at a time; a stopping VMM thread takes no new ones. */
	while (vm->serving && vm->call)
		pthread_cond_wait(&vm->cond, &vm->lock);
	if (!vm->serving) {
		pthread_mutex_unlock(&vm->lock);
		return -ESHUTDOWN;
	}
	vm->call = &c;
	pthread_cond_broadcast(&vm->cond);
	/* A call taken is always run, even if a stop comes meanwhile. */
	while (!c.done)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	return c.ret;
}

/* Run the waiting call, if any, with vm->lock dropped. Caller holds it. */
static void vm_serve_call(struct vm *vm)
{
	struct vm_call *c = vm->call;

	vm->call = NULL;
	pthread_mutex_unlock(&vm->lock);
	c->ret = c->fn(c->arg);
	pthread_mutex_lock(&vm->lock);
	c->done = true;
	pthread_cond_broadcast(&vm->cond);
}

/**
 * struct vm_add_args - vm_add_vcpu() as a vm_call_vmm() call
 * @vm: the VM
 * @out: where the new vCPU goes, or NULL
 */
struct vm_add_args {
	struct vm *vm;
	struct vcpu **out;
};

static int __vm_add_vcpu(void *arg)
{
	struct vm_add_args *a = arg;
	struct vm *vm = a->vm;
	struct vcpu *v;
	int ret;

	pthread_mutex_lock(&vm->lock);
	if (vm->stop_reason != VM_STOP_NONE) {
		ret = -ESHUTDOWN;
		goto out_unlock;
	}
	if (vm->nr_vcpus >= vm->max_vcpus) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	/* Sealed: a new vCPU's first state would be kestrel's to choose. */
	if (vm->running && vm->has_private) {
		ret = -EPERM;
		goto out_unlock;
	}
	/*
	 * KVM cannot delete a vCPU: if a step after KVM_CREATE_VCPU fails,
	 * this id stays taken inside KVM and later adds fail with -EEXIST.
	 */
	ret = vcpu_create(vm, vm->nr_vcpus, &v);
	if (ret)
		goto out_unlock;
	if (vm->running) {
		ret = vcpu_start_thread(v);
		if (ret) {
			vcpu_destroy(v);
			goto out_unlock;
		}
	}
	vm->vcpus[vm->nr_vcpus++] = v;
	if (a->out)
		*a->out = v;
out_unlock:
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

bool vm_is_protected(const struct vm *vm)
{
	return vm->has_private;
}

int vm_add_vcpu(struct vm *vm, struct vcpu **out)
{
	struct vm_add_args a = { .vm = vm, .out = out };

	return vm_call_vmm(vm, __vm_add_vcpu, &a);
}

/* Caller holds vm->lock. */
void vm_kick_all(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i]->thread_started)
			vcpu_kick(vm->vcpus[i]);
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
	if (reason == VM_STOP_NONE)
		return;
	pthread_mutex_lock(&vm->lock);
	if (vm->stop_reason == VM_STOP_NONE) {
		vm->stop_reason = reason;
		vm->stop_status = reason == VM_STOP_EXIT ? status : 0;
		atomic_store(&vm->request, true);
		vm_kick_all(vm);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
}

enum vm_stop_reason vm_run(struct vm *vm)
{
	enum vm_stop_reason reason;
	unsigned int n;

	pthread_mutex_lock(&vm->lock);
	vm->running = true;
	vm->serving = true;
	vm->vmm_thread = pthread_self();
	if (!vm->nr_vcpus) {
		pr_err("vm: nothing to run (no vCPUs)");
		vm->stop_reason = VM_STOP_ERROR;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus && vm->stop_reason == VM_STOP_NONE; i++) {
		int ret = vcpu_start_thread(vm->vcpus[i]);

		if (ret) {
			pr_err("vcpu%u: cannot start its thread: %s", i,
			       strerror(-ret));
			vm->stop_reason = VM_STOP_HOST_ERROR;
			atomic_store(&vm->request, true);
			vm_kick_all(vm);
		}
	}
	/*
	 * The VMM thread's filter, now that the vCPU threads (each with its
	 * own) exist: they do not inherit it and pay for one filter on every
	 * exit, not two. Threads it starts from here on inherit it; its list
	 * holds theirs (docs/sandbox.md).
	 */
	seccomp_thread_enter(SECCOMP_THREAD_VMM);
	while (vm->stop_reason == VM_STOP_NONE || vm->call) {
		if (vm->call)
			vm_serve_call(vm);
		else
			pthread_cond_wait(&vm->cond, &vm->lock);
	}
	/* Callers waiting for a turn get -ESHUTDOWN: nothing runs after this. */
	vm->serving = false;
	pthread_cond_broadcast(&vm->cond);
	/* No vCPU can be added from here on: the table is final. */
	n = vm->nr_vcpus;
	reason = vm->stop_reason;
	pthread_mutex_unlock(&vm->lock);

	for (unsigned int i = 0; i < n; i++)
		if (vm->vcpus[i]->thread_started)
			pthread_join(vm->vcpus[i]->thread, NULL);

	pthread_mutex_lock(&vm->lock);
	for (unsigned int i = 0; i < n; i++)
		vm->vcpus[i]->thread_started = false;
	vm->nr_threads = 0;
	vm->running = false;
	pthread_mutex_unlock(&vm->lock);
	return reason;
}

/* Wait until every started vCPU thread is parked. Caller holds vm->lock. */
static int vm_wait_parked(struct vm *vm)
{
	while (vm->nr_parked < vm->nr_threads && vm->stop_reason == VM_STOP_NONE)
		pthread_cond_wait(&vm->cond, &vm->lock);
	return vm->stop_reason != VM_STOP_NONE ? -ESHUTDOWN : 0;
}

/* Caller holds vm->lock: what the vCPU threads must look at after KVM_RUN. */
static void vm_update_request(struct vm *vm)
{
	atomic_store(&vm->request, vm->pause || vm->asleep ||
				   vm->stop_reason != VM_STOP_NONE);
}

/*
 * Set @flag (vm->pause or vm->asleep), get every vCPU out of KVM_RUN and
 * wait until all are parked. Caller holds vm->lock.
 */
static int vm_park_all(struct vm *vm, bool *flag)
{
	if (vm->stop_reason != VM_STOP_NONE)
		return -ESHUTDOWN;
	*flag = true;
	vm_update_request(vm);
	vm_kick_all(vm);
	/* A vCPU halted outside KVM_RUN (no in-kernel LAPIC) waits on cond. */
	pthread_cond_broadcast(&vm->cond);
	return vm_wait_parked(vm);
}

int vm_pause(struct vm *vm)
{
	int ret;

	pthread_mutex_lock(&vm->lock);
	ret = vm_park_all(vm, &vm->pause);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause = false;
	vm_update_request(vm);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

int vm_sleep(struct vm *vm)
{
	int ret;

	pthread_mutex_lock(&vm->lock);
	if (vm->asleep && vm->stop_reason == VM_STOP_NONE)
		ret = -EALREADY;
	else
		ret = vm_park_all(vm, &vm->asleep);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vm_wake(struct vm *vm, u64 entry)
{
	int ret;

	pthread_mutex_lock(&vm->lock);
	if (!vm->asleep) {
		ret = -EALREADY;
		goto out_unlock;
	}
	/* A vCPU hot-added during the sleep may not have parked yet. */
	ret = vm_wait_parked(vm);
	/* vCPU 0 first: a bad @entry fails before anything is changed. */
	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vcpu_arch_reset(vm->vcpus[i], entry);
	if (ret)
		goto out_unlock;
	vm->asleep = false;
	vm_update_request(vm);
	pthread_cond_broadcast(&vm->cond);
out_unlock:
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

bool vm_is_asleep(struct vm *vm)
{
	bool asleep;

	pthread_mutex_lock(&vm->lock);
	asleep = vm->asleep;
	pthread_mutex_unlock(&vm->lock);
	return asleep;
}

enum vm_stop_reason vm_stop_reason(struct vm *vm)
{
	enum vm_stop_reason r;

	pthread_mutex_lock(&vm->lock);
	r = vm->stop_reason;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_stop_status(struct vm *vm)
{
	int s;

	pthread_mutex_lock(&vm->lock);
	s = vm->stop_status;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

int vm_exit_status(struct vm *vm)
{
	switch (vm_stop_reason(vm)) {
	case VM_STOP_EXIT:
		return vm_stop_status(vm);
	case VM_STOP_RESET:
	case VM_STOP_POWEROFF:
	case VM_STOP_SNAPSHOT:
		return VM_EXIT_OK;
	case VM_STOP_USER:
		return VM_EXIT_INTERRUPTED;
	case VM_STOP_ERROR:
		return VM_EXIT_GUEST_ERROR;
	case VM_STOP_HOST_ERROR:
		return VM_EXIT_HOST_ERROR;
	case VM_STOP_NONE:
		break;
	}
	return VM_EXIT_HOST_ERROR;
}

/* ---- interrupts and doorbells ------------------------------------------ */

int vm_set_irq_line(struct vm *vm, u32 gsi, bool level)
{
	return vm_arch_set_irq_line(vm, gsi, level);
}

bool vm_irq_line_has_polarity(struct vm *vm)
{
	return vm_arch_irq_line_has_polarity(vm);
}

static int vm_ioeventfd(struct vm *vm, enum io_space space, u64 addr,
			unsigned int len, u64 datamatch, bool match_data, int fd)
{
	struct kvm_ioeventfd ev = {
		.datamatch = match_data ? datamatch : 0,
		.addr = addr,
		.len = len,
		.fd = fd,
	};
	int ret;

	if (space != IO_SPACE_PIO && space != IO_SPACE_MMIO)
		return -EINVAL;
	if (match_data)
		ev.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (space == IO_SPACE_PIO)
		ev.flags |= KVM_IOEVENTFD_FLAG_PIO;
	ret = kvm_ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev);
	return ret < 0 ? ret : 0;
}

int vm_ioeventfd_add(struct vm *vm, enum io_space space, u64 addr,
		     unsigned int len, u64 datamatch, bool match_data, int fd)
{
	return vm_ioeventfd(vm, space, addr, len, datamatch, match_data, fd);
}

int vm_ioeventfd_del(struct vm *vm, enum io_space space, u64 addr,
		     unsigned int len, u64 datamatch, bool match_data, int fd)
{
	/* Not an injection point: undo paths must not fail artificially. */
	struct kvm_ioeventfd ev = {
		.datamatch = match_data ? datamatch : 0,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DEASSIGN |
			 (match_data ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
			 (space == IO_SPACE_PIO ? KVM_IOEVENTFD_FLAG_PIO : 0),
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -errno : 0;
}

int vm_irqfd_add(struct vm *vm, u32 gsi, int fd)
{
	struct kvm_irqfd irqfd = { .fd = (u32)fd, .gsi = gsi };
	int ret = kvm_ioctl(vm->vm_fd, KVM_IRQFD, &irqfd);

	return ret < 0 ? ret : 0;
}

int vm_irqfd_del(struct vm *vm, u32 gsi, int fd)
{
	struct kvm_irqfd irqfd = {
		.fd = (u32)fd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

void vm_get_exit_stats(struct vm *vm, struct vm_exit_stats *out)
{
	*out = (struct vm_exit_stats){ 0 };
	pthread_mutex_lock(&vm->lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		const struct vm_exit_stats *s = &vm->vcpus[i]->stats;

		out->io_in += __atomic_load_n(&s->io_in, __ATOMIC_RELAXED);
		out->io_out += __atomic_load_n(&s->io_out, __ATOMIC_RELAXED);
		out->mmio_read += __atomic_load_n(&s->mmio_read, __ATOMIC_RELAXED);
		out->mmio_write += __atomic_load_n(&s->mmio_write, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&vm->lock);
}
