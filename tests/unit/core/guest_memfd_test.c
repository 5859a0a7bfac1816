// SPDX-License-Identifier: GPL-2.0-only
/*
 * What this host's KVM does with guest_memfd, the backing of protected
 * guests' private memory (docs/protected.md). Raw ioctls, no kestrel code:
 *
 *  - KVM_CAP_GUEST_MEMFD and KVM_CAP_GUEST_MEMFD_FLAGS (MMAP wanted);
 *  - a guest_memfd made with GUEST_MEMFD_FLAG_MMAP but not INIT_SHARED:
 *    read()/pread() fail, and the VMM's own mmap of it faults (SIGBUS);
 *    process_vm_readv() and /proc/self/mem fail on that mapping too;
 *  - it backs a memslot (KVM_SET_USER_MEMORY_REGION2 + KVM_MEM_GUEST_MEMFD)
 *    whose userspace_addr is a separate anonymous mapping; a real-mode
 *    snippet (CPL 0) writes a byte there and reads it back. Where that
 *    write lands tells the kind of host: natively executed guest code
 *    (VMX/SVM) writes the guest_memfd and the anonymous mapping stays as
 *    it was; code run by KVM's instruction emulator (PVM's supervisor mode)
 *    writes the anonymous mapping. With a PROT_NONE userspace_addr the
 *    emulated access exits to userspace as MMIO instead.
 *
 * The last facts are printed, not asserted (they differ by host); what
 * kestrel's protected mode relies on is asserted. Skips (77) without
 * /dev/kvm or guest_memfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <kestrel/types.h>

#include "../test.h"

#define SLOT_SIZE	0x10000ul
#define CODE_GPA	0x1000ul	/* in slot 0 (ordinary memory) */
#define GMEM_GPA	0x10000ul	/* slot 1 (guest_memfd) */
#define OUT_PORT	0x10
#define ANON_MARK	0x33
#define GUEST_BYTE	0x5a

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, sig);
}

/* Signal number a read of @p raised, 0 if it read (into *@v). */
static int probe_read(const volatile u8 *p, u8 *v)
{
	struct sigaction sa = { .sa_handler = on_fault }, obus, osegv;
	int sig;

	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	sig = sigsetjmp(fault_jmp, 1);
	if (!sig)
		*v = *p;
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
	return sig;
}

/*
 * Real mode at CODE_GPA: mov ax, GMEM_GPA >> 4; mov ds, ax;
 * mov byte [0], GUEST_BYTE; mov al, [0]; out OUT_PORT, al; hlt.
 */
static const u8 code[] = {
	0xb8, (GMEM_GPA >> 4) & 0xff, GMEM_GPA >> 12, 0x8e, 0xd8,
	0xc6, 0x06, 0x00, 0x00, GUEST_BYTE, 0xa0, 0x00, 0x00,
	0xe6, OUT_PORT, 0xf4,
};

struct probe_vm {
	int vm, gmem, vcpu;
	u8 *low, *anon;
	struct kvm_run *run;
	size_t run_size;
};

static void probe_vm_destroy(struct probe_vm *p)
{
	if (p->run && p->run != MAP_FAILED)
		munmap(p->run, p->run_size);
	if (p->anon && p->anon != MAP_FAILED)
		munmap(p->anon, SLOT_SIZE);
	if (p->low && p->low != MAP_FAILED)
		munmap(p->low, SLOT_SIZE);
	for (int *fd = &p->vm; fd <= &p->vcpu; fd++)
		if (*fd >= 0)
			close(*fd);
}

/* A VM with slot 0 ordinary, slot 1 guest_memfd over @anon_prot memory. */
static int probe_vm_create(int kvm, int anon_prot, struct probe_vm *p)
{
	struct kvm_create_guest_memfd g = { .size = SLOT_SIZE, .flags = GUEST_MEMFD_FLAG_MMAP };
	struct kvm_userspace_memory_region2 r0 = {
		.slot = 0, .memory_size = SLOT_SIZE,
	}, r1 = {
		.slot = 1, .flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = GMEM_GPA,
		.memory_size = SLOT_SIZE,
	};
	struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 2 };
	struct kvm_sregs sregs;

	*p = (struct probe_vm){ .vm = -1, .gmem = -1, .vcpu = -1 };
	p->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (p->vm < 0)
		return -errno;
	p->gmem = ioctl(p->vm, KVM_CREATE_GUEST_MEMFD, &g);
	if (p->gmem < 0)
		return -errno;
	p->low = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	p->anon = mmap(NULL, SLOT_SIZE, anon_prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->low == MAP_FAILED || p->anon == MAP_FAILED)
		return -ENOMEM;
	memcpy(p->low + CODE_GPA, code, sizeof(code));
	if (anon_prot & PROT_WRITE)
		p->anon[0] = ANON_MARK;
	r0.userspace_addr = (u64)(uintptr_t)p->low;
	r1.userspace_addr = (u64)(uintptr_t)p->anon;
	r1.guest_memfd = (u32)p->gmem;
	if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION2, &r0) < 0 ||
	    ioctl(p->vm, KVM_SET_USER_MEMORY_REGION2, &r1) < 0)
		return -errno;
	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
	if (p->vcpu < 0)
		return -errno;
	p->run_size = (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	p->run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
	if (p->run == MAP_FAILED)
		return -errno;
	if (ioctl(p->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	if (ioctl(p->vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(p->vcpu, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void test_fd_and_mapping(int kvm)
{
	struct probe_vm p;
	struct iovec local, remote;
	u8 buf[16], v = 0;
	volatile u8 *map;
	int ret, memfd;

	ret = probe_vm_create(kvm, PROT_READ | PROT_WRITE, &p);
	if (!report_err(ret, 0, "a guest_memfd (MMAP, not INIT_SHARED) backs a memslot")) {
		probe_vm_destroy(&p);
		return;
	}
	report_eq(read(p.gmem, buf, sizeof(buf)), -1, "read() of the guest_memfd fails");
	report_eq(pread(p.gmem, buf, sizeof(buf), 0), -1, "pread() of the guest_memfd fails");
	map = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, p.gmem, 0);
	if (report_ne((void *)map, MAP_FAILED, "the VMM can mmap() it")) {
		report_eq(probe_read(map, &v), SIGBUS, "reading through that mapping raises SIGBUS");
		local = (struct iovec){ buf, sizeof(buf) };
		remote = (struct iovec){ (void *)map, sizeof(buf) };
		report_eq(process_vm_readv(getpid(), &local, 1, &remote, 1, 0), -1,
			  "process_vm_readv() of that mapping fails");
		memfd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
		if (memfd >= 0) {
			report_eq(pread(memfd, buf, sizeof(buf), (off_t)(uintptr_t)map), -1,
				  "/proc/self/mem at that mapping fails");
			close(memfd);
		}
		munmap((void *)map, SLOT_SIZE);
	}
	probe_vm_destroy(&p);
}

/* Run the snippet; the byte it read back, or -1 with *@exit set. */
static int run_snippet(struct probe_vm *p, u32 *exit)
{
	for (int i = 0; i < 4; i++) {
		if (ioctl(p->vcpu, KVM_RUN, 0) < 0 && errno != EINTR)
			return -1;
		*exit = p->run->exit_reason;
		if (*exit == KVM_EXIT_IO && p->run->io.port == OUT_PORT)
			return ((u8 *)p->run)[p->run->io.data_offset];
		if (*exit != KVM_EXIT_IO)
			return -1;
	}
	return -1;
}

static void test_supervisor_access(int kvm)
{
	struct probe_vm p;
	u32 exit = 0;
	int ret, got;

	ret = probe_vm_create(kvm, PROT_READ | PROT_WRITE, &p);
	if (report_err(ret, 0, "VM with an anonymous userspace_addr")) {
		got = run_snippet(&p, &exit);
		report_eq(got, GUEST_BYTE, "CPL 0 code reads back what it wrote (exit %u)", exit);
		printf("INFO: CPL 0 (real mode) accesses go to %s: the anonymous mapping holds 0x%02x\n",
		       p.anon[0] == GUEST_BYTE ? "userspace_addr (KVM's emulator: PVM-like host)"
					       : "the guest_memfd (native execution)",
		       p.anon[0]);
	}
	probe_vm_destroy(&p);

	ret = probe_vm_create(kvm, PROT_NONE, &p);
	if (report_err(ret, 0, "VM with a PROT_NONE userspace_addr")) {
		got = run_snippet(&p, &exit);
		if (got < 0)
			printf("INFO: with PROT_NONE behind the slot, CPL 0 access exits (reason %u%s)\n",
			       exit, exit == KVM_EXIT_MMIO ? ", MMIO" : "");
		else
			printf("INFO: with PROT_NONE behind the slot, CPL 0 access works (native)\n");
		report(got == GUEST_BYTE || exit == KVM_EXIT_MMIO,
		       "CPL 0 access either works or exits as MMIO, never reads kestrel's memory");
	}
	probe_vm_destroy(&p);
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int flags;

	report_prefix_push("guest_memfd");
	if (kvm < 0) {
		report_skip("no /dev/kvm: %s", strerror(errno));
		return report_summary();
	}
	flags = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) <= 0 || flags < 0 ||
	    !(flags & GUEST_MEMFD_FLAG_MMAP)) {
		report_skip("KVM lacks guest_memfd with GUEST_MEMFD_FLAG_MMAP");
		close(kvm);
		return report_summary();
	}
	printf("INFO: KVM_CAP_GUEST_MEMFD_FLAGS 0x%x, KVM_CAP_MEMORY_ATTRIBUTES 0x%x, "
	       "KVM_CAP_VM_TYPES 0x%x\n", flags,
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES),
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES));
	test_fd_and_mapping(kvm);
	test_supervisor_access(kvm);
	close(kvm);
	report_prefix_pop();
	return report_summary();
}
