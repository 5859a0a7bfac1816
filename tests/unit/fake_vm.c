// SPDX-License-Identifier: GPL-2.0-only
/*
 * The real VM over a fake /dev/kvm (see fake_vm.h). The fake hands out
 * memfds as its KVM, VM and vCPU fds (so close() and the kvm_run mmap work
 * on them), knows them again by inode, and answers the ioctls src/core and
 * src/arch/x86 issue the way KVM would for a VM that never runs guest code:
 * no CPUID entries or MSRs to filter, a vCPU whose KVM_RUN reports HLT.
 * Everything it keeps is under fake_lock.
 */
#include "fake_vm.h"

#include <kestrel/x86/layout.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <kestrel/snapshot.h>

const struct boot_pci fake_vm_pci = {
	.ecam_base = X86_PCI_ECAM_GPA, .io_base = X86_PCI_IO_BASE,
	.io_size = X86_PCI_IO_SIZE, .mmio32_base = X86_PCI_MMIO32_BASE,
	.mmio32_size = X86_PCI_MMIO32_SIZE, .mmio64_base = 0x100000000ULL,
	.mmio64_size = 0x100000000ULL, .intx_gsi0 = X86_PCI_INTX_GSI0,
	.nr_intx = X86_PCI_NR_INTX,
};

/* The link's --wrap targets (FAKE_VM_LDFLAGS) and the originals they reach. */
int __wrap_open(const char *path, int flags, ...);
int __real_open(const char *path, int flags, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
int __real_ioctl(int fd, unsigned long req, ...);
void __wrap_vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status);
void __real_vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status);

/* kvm_run and the PIO data page after it, as KVM_GET_VCPU_MMAP_SIZE says */
#define FAKE_RUN_SIZE	(2 * 4096)
#define FAKE_MAX_VMS	8
#define FAKE_MAX_FDS	64

struct fake_ioeventfd {
	bool used;
	enum io_space space;
	u64 addr;
	unsigned int len;
	u64 datamatch;
	bool match_data;
	int fd;
};

struct fake_irqfd {
	bool used;
	u32 gsi;
	int fd;
};

/* What KVM keeps for one VM fd, and what the tests read back. */
struct fake_kvm {
	bool used;
	struct vm *vm;			/* once vm_create() returned it */
	struct fake_ioeventfd ioev[FAKE_VM_MAX_EVENTFDS];
	struct fake_irqfd irqfd[FAKE_VM_MAX_EVENTFDS];
	bool irq_level[FAKE_VM_NR_GSIS];
	unsigned int irq_edges[FAKE_VM_NR_GSIS];
	unsigned int irq_calls[FAKE_VM_NR_GSIS];
	unsigned int stops;
	/* Split irqchip: the MSIs sent and the GSI routes in force. */
	unsigned int msis;
	struct kvm_msi last_msi;
	struct kvm_irq_routing_entry routes[FAKE_VM_NR_GSIS];
	bool routed[FAKE_VM_NR_GSIS];
	int fail_ioeventfd_after;	/* -1: never */
	int create_vcpu_err;
};

enum fake_fd_kind { FAKE_FD_KVM, FAKE_FD_VM, FAKE_FD_VCPU };

static const char *const fake_fd_names[] = {
	[FAKE_FD_KVM] = "/dev/kvm", [FAKE_FD_VM] = "VM", [FAKE_FD_VCPU] = "vCPU",
};
static const char *const fake_memfd_names[] = {
	[FAKE_FD_KVM] = "fake-kvm", [FAKE_FD_VM] = "fake-kvm-vm",
	[FAKE_FD_VCPU] = "fake-kvm-vcpu",
};

struct fake_fd {
	bool used;
	int fd;
	dev_t dev;			/* fd numbers are reused after close(): */
	ino_t ino;			/* the memfd's inode says it is still ours */
	enum fake_fd_kind kind;
	struct fake_kvm *kvm;		/* NULL for /dev/kvm before KVM_CREATE_VM */
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
/* fake_lock: */
static struct fake_kvm fake_vms[FAKE_MAX_VMS];
static struct fake_fd fake_fds[FAKE_MAX_FDS];
static struct fake_kvm *fake_just_created;	/* by the vm_create() running */

/* ---- fds ---------------------------------------------------------------- */

static bool fake_fd_is_live(const struct fake_fd *f)
{
	struct stat st;

	return !fstat(f->fd, &st) && st.st_dev == f->dev && st.st_ino == f->ino;
}

/* Caller holds fake_lock. Return: the fd's entry, or NULL if not ours */
static struct fake_fd *fake_fd_find(int fd)
{
	for (unsigned int i = 0; i < FAKE_MAX_FDS; i++) {
		struct fake_fd *f = &fake_fds[i];

		if (!f->used || f->fd != fd)
			continue;
		if (fake_fd_is_live(f))
			return f;
		f->used = false;	/* closed, and the number reused */
	}
	return NULL;
}

/* Caller holds fake_lock. Return: a new fd or -errno */
static int fake_fd_new(enum fake_fd_kind kind, struct fake_kvm *kvm, off_t size)
{
	struct stat st;
	int fd;

	for (unsigned int i = 0; i < FAKE_MAX_FDS; i++) {
		struct fake_fd *f = &fake_fds[i];

		if (f->used && fake_fd_is_live(f))
			continue;
		fd = memfd_create(fake_memfd_names[kind], MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if ((size && ftruncate(fd, size)) || fstat(fd, &st)) {
			int err = -errno;

			close(fd);
			return err;
		}
		*f = (struct fake_fd){ true, fd, st.st_dev, st.st_ino, kind, kvm };
		return fd;
	}
	return -EMFILE;
}

/* ---- the VM fd: interrupts and doorbells ----------------------------------- */

static int fake_irq_line(struct fake_kvm *k, const struct kvm_irq_level *irq)
{
	if (irq->irq >= FAKE_VM_NR_GSIS)
		return -EINVAL;
	k->irq_calls[irq->irq]++;
	if (k->irq_level[irq->irq] != !!irq->level)
		k->irq_edges[irq->irq]++;
	k->irq_level[irq->irq] = !!irq->level;
	return 0;
}

static int fake_signal_msi(struct fake_kvm *k, const struct kvm_msi *msi)
{
	k->msis++;
	k->last_msi = *msi;
	return 1;	/* delivered */
}

static int fake_gsi_routing(struct fake_kvm *k, const struct kvm_irq_routing *r)
{
	memset(k->routed, 0, sizeof(k->routed));
	for (u32 i = 0; i < r->nr; i++) {
		if (r->entries[i].gsi >= FAKE_VM_NR_GSIS ||
		    (r->entries[i].type != KVM_IRQ_ROUTING_MSI &&
		     r->entries[i].type != KVM_IRQ_ROUTING_IRQCHIP))
			return -EINVAL;
		if (r->entries[i].type == KVM_IRQ_ROUTING_IRQCHIP)
			continue;	/* the in-kernel irqchip's pins (not recorded) */
		k->routes[r->entries[i].gsi] = r->entries[i];
		k->routed[r->entries[i].gsi] = true;
	}
	return 0;
}

static int fake_ioeventfd(struct fake_kvm *k, const struct kvm_ioeventfd *ev)
{
	enum io_space space = ev->flags & KVM_IOEVENTFD_FLAG_PIO ? IO_SPACE_PIO :
								  IO_SPACE_MMIO;
	bool match = ev->flags & KVM_IOEVENTFD_FLAG_DATAMATCH;

	if (ev->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
		for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
			struct fake_ioeventfd *e = &k->ioev[i];

			if (e->used && e->space == space && e->addr == ev->addr &&
			    e->len == ev->len && e->datamatch == ev->datamatch &&
			    e->match_data == match && e->fd == ev->fd) {
				e->used = false;
				return 0;
			}
		}
		return -ENOENT;
	}
	if (k->fail_ioeventfd_after == 0)
		return -ENOSPC;
	if (k->fail_ioeventfd_after > 0)
		k->fail_ioeventfd_after--;
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		struct fake_ioeventfd *e = &k->ioev[i];

		if (e->used && e->space == space && e->addr == ev->addr &&
		    (!e->match_data || !match || e->datamatch == ev->datamatch))
			return -EEXIST;	/* as KVM does */
	}
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		if (!k->ioev[i].used) {
			k->ioev[i] = (struct fake_ioeventfd){ true, space, ev->addr,
							      ev->len, ev->datamatch,
							      match, ev->fd };
			return 0;
		}
	}
	return -ENOSPC;
}

static int fake_irqfd(struct fake_kvm *k, const struct kvm_irqfd *irqfd)
{
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++) {
		struct fake_irqfd *q = &k->irqfd[i];

		if (irqfd->flags & KVM_IRQFD_FLAG_DEASSIGN) {
			if (q->used && q->gsi == irqfd->gsi && q->fd == (int)irqfd->fd) {
				q->used = false;
				return 0;
			}
		} else if (!q->used) {
			*q = (struct fake_irqfd){ true, irqfd->gsi, (int)irqfd->fd };
			return 0;
		}
	}
	return irqfd->flags & KVM_IRQFD_FLAG_DEASSIGN ? -ENOENT : -ENOSPC;
}

/* ---- the ioctls ------------------------------------------------------------ */

static int fake_kvm_ioctl(struct fake_fd *f, unsigned long req, void *arg)
{
	switch (req) {
	case KVM_GET_API_VERSION:
		return KVM_API_VERSION;
	case KVM_CHECK_EXTENSION:
		switch ((long)arg) {
		case KVM_CAP_USER_MEMORY:
		case KVM_CAP_IMMEDIATE_EXIT:
			return 1;
		case KVM_CAP_MAX_VCPUS:
		case KVM_CAP_NR_VCPUS:
			return FAKE_VM_MAX_VCPUS;
		}
		return 0;	/* the optional ones: not there */
	case KVM_GET_VCPU_MMAP_SIZE:
		return FAKE_RUN_SIZE;
	case KVM_GET_SUPPORTED_CPUID:
		((struct kvm_cpuid2 *)arg)->nent = 0;
		return 0;
	case KVM_GET_MSR_INDEX_LIST:
		((struct kvm_msr_list *)arg)->nmsrs = 0;
		return 0;
	case KVM_CREATE_VM:
		for (unsigned int i = 0; i < FAKE_MAX_VMS; i++) {
			struct fake_kvm *k = &fake_vms[i];
			int fd;

			if (k->used)
				continue;
			fd = fake_fd_new(FAKE_FD_VM, k, 0);
			if (fd < 0)
				return fd;
			*k = (struct fake_kvm){ .used = true, .fail_ioeventfd_after = -1 };
			f->kvm = k;
			fake_just_created = k;
			return fd;
		}
		return -ENOMEM;
	}
	return -ENOTTY;
}

static int fake_vm_ioctl(struct fake_fd *f, unsigned long req, void *arg)
{
	switch (req) {
	case KVM_SET_USER_MEMORY_REGION:
	case KVM_SET_TSS_ADDR:
	case KVM_SET_IDENTITY_MAP_ADDR:
	case KVM_CREATE_IRQCHIP:
	case KVM_CREATE_PIT2:
	case KVM_ENABLE_CAP:
		return 0;
	case KVM_CREATE_VCPU:
		if (f->kvm->create_vcpu_err)
			return f->kvm->create_vcpu_err;
		return fake_fd_new(FAKE_FD_VCPU, f->kvm, FAKE_RUN_SIZE);
	case KVM_IRQ_LINE:
		return fake_irq_line(f->kvm, arg);
	case KVM_SIGNAL_MSI:
		return fake_signal_msi(f->kvm, arg);
	case KVM_SET_GSI_ROUTING:
		return fake_gsi_routing(f->kvm, arg);
	case KVM_IOEVENTFD:
		return fake_ioeventfd(f->kvm, arg);
	case KVM_IRQFD:
		return fake_irqfd(f->kvm, arg);
	}
	return -ENOTTY;
}

static int fake_vcpu_ioctl(struct fake_fd *f, unsigned long req, void *arg)
{
	struct kvm_run run;

	switch (req) {
	case KVM_SET_CPUID2:
	case KVM_SET_LAPIC:
	case KVM_SET_MP_STATE:
	case KVM_SET_REGS:
	case KVM_SET_SREGS:
	case KVM_SET_FPU:
	case KVM_SET_VCPU_EVENTS:
		return 0;
	case KVM_SET_MSRS:
		return (int)((struct kvm_msrs *)arg)->nmsrs;
	case KVM_GET_LAPIC:
	case KVM_GET_REGS:
	case KVM_GET_SREGS:
		memset(arg, 0, _IOC_SIZE(req));
		return 0;
	case KVM_RUN:
		/* A vCPU that halts at once: it waits for the VM's requests. */
		if (pread(f->fd, &run, sizeof(run), 0) != sizeof(run))
			return -EIO;
		if (run.immediate_exit)
			return -EINTR;
		run.exit_reason = KVM_EXIT_HLT;
		if (pwrite(f->fd, &run.exit_reason, sizeof(run.exit_reason),
			   offsetof(struct kvm_run, exit_reason)) != sizeof(run.exit_reason))
			return -EIO;
		return 0;
	}
	return -ENOTTY;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	struct fake_fd *f;
	void *arg;
	va_list ap;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);

	pthread_mutex_lock(&fake_lock);
	f = fake_fd_find(fd);
	if (!f) {
		pthread_mutex_unlock(&fake_lock);
		return __real_ioctl(fd, req, arg);
	}
	switch (f->kind) {
	case FAKE_FD_KVM:
		ret = fake_kvm_ioctl(f, req, arg);
		break;
	case FAKE_FD_VM:
		ret = fake_vm_ioctl(f, req, arg);
		break;
	default:
		ret = fake_vcpu_ioctl(f, req, arg);
		break;
	}
	if (ret == -ENOTTY)
		fprintf(stderr, "fake_vm: no fake for ioctl %#lx on a %s fd\n", req,
			fake_fd_names[f->kind]);
	pthread_mutex_unlock(&fake_lock);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (strcmp(path, "/dev/kvm"))
		return __real_open(path, flags, mode);
	pthread_mutex_lock(&fake_lock);
	fd = fake_fd_new(FAKE_FD_KVM, NULL, 0);
	pthread_mutex_unlock(&fake_lock);
	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	return fd;
}

/* Caller holds fake_lock. */
static struct fake_kvm *fake_kvm_of(struct vm *vm)
{
	for (unsigned int i = 0; i < FAKE_MAX_VMS; i++)
		if (fake_vms[i].used && fake_vms[i].vm == vm)
			return &fake_vms[i];
	return NULL;
}

void __wrap_vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
	struct fake_kvm *k;

	pthread_mutex_lock(&fake_lock);
	k = fake_kvm_of(vm);
	if (k)
		k->stops++;
	pthread_mutex_unlock(&fake_lock);
	__real_vm_request_stop(vm, reason, status);
}

/* ---- the VM ---------------------------------------------------------------- */

/* Caller holds fake_lock. */
static void fake_kvm_release(struct fake_kvm *k)
{
	for (unsigned int i = 0; i < FAKE_MAX_FDS; i++)
		if (fake_fds[i].kvm == k)
			fake_fds[i].used = false;
	k->used = false;
}

/* Caller holds fake_lock: the state of a VM that came from fake_vm_create() */
static struct fake_kvm *fake_kvm_get(struct vm *vm)
{
	struct fake_kvm *k = fake_kvm_of(vm);

	if (!k) {
		fprintf(stderr, "fake_vm: %p does not come from fake_vm_create()\n",
			(void *)vm);
		abort();
	}
	return k;
}

static int __fake_vm_create(u64 ram_size, unsigned int irqchip, struct vm **out);

int fake_vm_create(u64 ram_size, struct vm **out)
{
	return __fake_vm_create(ram_size, VM_IRQCHIP_KERNEL, out);
}

int fake_vm_create_split(u64 ram_size, struct vm **out)
{
	return __fake_vm_create(ram_size, VM_IRQCHIP_SPLIT, out);
}

static int __fake_vm_create(u64 ram_size, unsigned int irqchip, struct vm **out)
{
	/*
	 * The in-kernel irqchip: device lines then arrive as KVM_IRQ_LINE,
	 * which the fake records per GSI (the userspace IOAPIC of the split
	 * irqchip would turn them into MSIs of masked pins).
	 */
	struct vm_config cfg = { .ram_size = ram_size, .irqchip = irqchip };
	struct fake_kvm *k;
	struct vm *vm;
	int ret;

	*out = NULL;
	pthread_mutex_lock(&fake_lock);
	fake_just_created = NULL;
	pthread_mutex_unlock(&fake_lock);
	ret = vm_create(&cfg, &vm);

	pthread_mutex_lock(&fake_lock);
	k = fake_just_created;
	fake_just_created = NULL;
	if (k && ret)
		fake_kvm_release(k);	/* vm_create() closed its fds */
	else if (k)
		k->vm = vm;
	pthread_mutex_unlock(&fake_lock);
	if (ret)
		return ret;
	if (!k) {
		fprintf(stderr, "fake_vm: vm_create() did not reach the fake /dev/kvm "
			"(link with $(FAKE_VM_LDFLAGS))\n");
		abort();
	}
	ret = vm_add_vcpu(vm, NULL);
	if (ret) {
		fake_vm_destroy(vm);
		return ret;
	}
	*out = vm;
	return 0;
}

void fake_vm_destroy(struct vm *vm)
{
	struct fake_kvm *k;

	if (!vm)
		return;
	pthread_mutex_lock(&fake_lock);
	k = fake_kvm_get(vm);
	pthread_mutex_unlock(&fake_lock);
	vm_destroy(vm);
	pthread_mutex_lock(&fake_lock);
	fake_kvm_release(k);
	pthread_mutex_unlock(&fake_lock);
}

void *fake_vm_ram(struct vm *vm)
{
	const struct mem_region *r = address_space_region(vm_address_space(vm), 0);

	return r && r->gpa == 0 ? r->hva : NULL;
}

struct snap_reader *fake_vm_snapshot(struct vm *vm, int (*save)(void *dev, struct snap_writer *w),
				     void *dev, char *dir)
{
	struct snap_reader *r = NULL;
	struct snap_writer *w;
	char err[256] = "";
	int ret;

	snprintf(dir, 64, "/tmp/kestrel-fake-snap.XXXXXX");
	if (!mkdtemp(dir)) {
		printf("fake_vm_snapshot: mkdtemp: %s\n", strerror(errno));
		return NULL;
	}
	ret = snap_writer_create(&w);
	if (!ret)
		ret = save(dev, w);
	if (!ret)
		ret = snap_writer_commit(w, dir, NULL, vm_address_space(vm), err, sizeof(err));
	snap_writer_destroy(w);
	if (!ret)
		ret = snap_reader_open(dir, NULL, &r, err, sizeof(err));
	if (ret)
		printf("fake_vm_snapshot: %s\n", err[0] ? err : strerror(-ret));
	return r;
}

void fake_vm_snapshot_remove(struct snap_reader *r, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	snap_reader_destroy(r);
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	if (rmdir(dir))
		printf("fake_vm_snapshot_remove: cannot remove %s: %s\n", dir, strerror(errno));
}

/* ---- guest accesses -------------------------------------------------------- */

/* The eventfd a store of @len bytes @val at @addr signals, or -1 */
static int fake_ioeventfd_hit(struct vm *vm, enum io_space space, u64 addr,
			      u64 val, unsigned int len)
{
	struct fake_kvm *k;
	int fd = -1;

	pthread_mutex_lock(&fake_lock);
	k = fake_kvm_get(vm);
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS && fd < 0; i++) {
		struct fake_ioeventfd *e = &k->ioev[i];

		if (e->used && e->space == space && e->addr == addr &&
		    e->len == len && (!e->match_data || e->datamatch == val))
			fd = e->fd;
	}
	pthread_mutex_unlock(&fake_lock);
	return fd;
}

static int fake_vm_store(struct vm *vm, enum io_space space, u64 addr, u64 val,
			 unsigned int len)
{
	u8 buf[8];
	u64 v = 0;
	int fd;

	if (len > sizeof(buf))
		return -EINVAL;
	memcpy(buf, &val, len);
	memcpy(&v, buf, len);	/* the bytes the guest stored */
	fd = fake_ioeventfd_hit(vm, space, addr, v, len);
	if (fd >= 0)
		return eventfd_write(fd, 1) ? -errno : 0;
	return iobus_dispatch(vm_iobus(vm), space, addr, buf, len, true);
}

static int fake_vm_load(struct vm *vm, enum io_space space, u64 addr, u64 *val,
			unsigned int len)
{
	u8 buf[8] = { 0 };
	int ret;

	if (len > sizeof(buf))
		return -EINVAL;
	ret = iobus_dispatch(vm_iobus(vm), space, addr, buf, len, false);
	*val = 0;
	memcpy(val, buf, len);
	return ret;
}

int fake_vm_pio_write(struct vm *vm, u16 port, u32 val, unsigned int len)
{
	return fake_vm_store(vm, IO_SPACE_PIO, port, val, len);
}

int fake_vm_pio_read(struct vm *vm, u16 port, u32 *val, unsigned int len)
{
	u64 v;
	int ret;

	if (len > sizeof(*val))
		return -EINVAL;
	ret = fake_vm_load(vm, IO_SPACE_PIO, port, &v, len);
	*val = (u32)v;
	return ret;
}

int fake_vm_mmio_write(struct vm *vm, u64 gpa, u64 val, unsigned int len)
{
	return fake_vm_store(vm, IO_SPACE_MMIO, gpa, val, len);
}

int fake_vm_mmio_read(struct vm *vm, u64 gpa, u64 *val, unsigned int len)
{
	return fake_vm_load(vm, IO_SPACE_MMIO, gpa, val, len);
}

void fake_outb(struct vm *vm, u16 port, u8 val)
{
	fake_vm_pio_write(vm, port, val, 1);
}

u8 fake_inb(struct vm *vm, u16 port)
{
	u32 v;

	return fake_vm_pio_read(vm, port, &v, 1) ? 0xff : (u8)v;
}

u32 fake_mmio_read(struct vm *vm, u64 gpa, unsigned int len)
{
	u64 v;

	if (len > sizeof(u32) || fake_vm_mmio_read(vm, gpa, &v, len))
		return UINT32_MAX;
	return (u32)v;
}

/* ---- recorders ------------------------------------------------------------- */

/* @expr on @vm's fake state (k_), under the lock; Return: its value */
#define FAKE_LOCKED(vm, expr) ({						\
	struct fake_kvm *k_;						\
	__typeof__(expr) v_;						\
									\
	pthread_mutex_lock(&fake_lock);					\
	k_ = fake_kvm_get(vm);						\
	v_ = (expr);							\
	pthread_mutex_unlock(&fake_lock);				\
	v_;								\
})

unsigned int fake_vm_msis(struct vm *vm, u32 *addr, u32 *data)
{
	pthread_mutex_lock(&fake_lock);
	struct fake_kvm *k = fake_kvm_get(vm);
	unsigned int n = k->msis;

	if (addr)
		*addr = k->last_msi.address_lo;
	if (data)
		*data = k->last_msi.data;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

bool fake_vm_route(struct vm *vm, u32 gsi, u32 *addr, u32 *data)
{
	bool ok;

	pthread_mutex_lock(&fake_lock);
	struct fake_kvm *k = fake_kvm_get(vm);

	ok = gsi < FAKE_VM_NR_GSIS && k->routed[gsi];
	if (ok) {
		*addr = k->routes[gsi].u.msi.address_lo;
		*data = k->routes[gsi].u.msi.data;
	}
	pthread_mutex_unlock(&fake_lock);
	return ok;
}

bool fake_vm_irq_level(struct vm *vm, u32 gsi)
{
	return FAKE_LOCKED(vm, gsi < FAKE_VM_NR_GSIS && k_->irq_level[gsi]);
}

unsigned int fake_vm_irq_edges(struct vm *vm, u32 gsi)
{
	return FAKE_LOCKED(vm, gsi < FAKE_VM_NR_GSIS ? k_->irq_edges[gsi] : 0u);
}

unsigned int fake_vm_irq_calls(struct vm *vm, u32 gsi)
{
	return FAKE_LOCKED(vm, gsi < FAKE_VM_NR_GSIS ? k_->irq_calls[gsi] : 0u);
}

unsigned int fake_vm_stops(struct vm *vm)
{
	return FAKE_LOCKED(vm, k_->stops);
}

/* Caller holds fake_lock. */
static int fake_irqfd_of(const struct fake_kvm *k, u32 gsi)
{
	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++)
		if (k->irqfd[i].used && k->irqfd[i].gsi == gsi)
			return k->irqfd[i].fd;
	return -1;
}

int fake_vm_irqfd(struct vm *vm, u32 gsi)
{
	return FAKE_LOCKED(vm, fake_irqfd_of(k_, gsi));
}

bool fake_vm_wait_irq(struct vm *vm, u32 gsi, int timeout_ms)
{
	struct pollfd pfd = { .fd = fake_vm_irqfd(vm, gsi), .events = POLLIN };
	eventfd_t v;

	if (pfd.fd < 0 || poll(&pfd, 1, timeout_ms) <= 0)
		return false;
	return eventfd_read(pfd.fd, &v) == 0;
}

/* Caller holds fake_lock. */
static unsigned int fake_count(const struct fake_kvm *k, bool irqfds)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_VM_MAX_EVENTFDS; i++)
		n += irqfds ? k->irqfd[i].used : k->ioev[i].used;
	return n;
}

unsigned int fake_vm_nr_ioeventfds(struct vm *vm)
{
	return FAKE_LOCKED(vm, fake_count(k_, false));
}

unsigned int fake_vm_nr_irqfds(struct vm *vm)
{
	return FAKE_LOCKED(vm, fake_count(k_, true));
}

void fake_vm_fail_ioeventfd_after(struct vm *vm, int n)
{
	FAKE_LOCKED(vm, k_->fail_ioeventfd_after = n);
}

void fake_vm_fail_add_vcpu(struct vm *vm, int err)
{
	FAKE_LOCKED(vm, k_->create_vcpu_err = err);
}
