// SPDX-License-Identifier: GPL-2.0-only
/*
 * The floor for the exit-cost benchmark: the same ring-3 loop of MMIO
 * writes as guest/x86/exitbench.c, run by nothing but raw KVM ioctls and
 * an exit handler that counts. No kestrel code is linked.
 *
 * The vCPU starts directly in 64-bit mode at CPL 3 (KVM_SET_SREGS with a
 * GDT, a TSS and 2 MiB identity page tables built here in guest memory),
 * so the loop runs natively under PVM exactly like kestrel's guest does.
 * Timing matches kestrel's bench sink (src/hw/boottimer.c): from the exit
 * for the START write to the exit for the STOP write, divided by the exits
 * after START (SINK writes + the STOP write).
 *
 *   exit_floor [-n N] [--no-irqchip]
 *
 * Prints "exit-floor: exits=N ns_per_exit=X.Y"; exits 0, or 1 with a
 * reason if KVM or the guest misbehaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <kestrel/hw.h>
#include <kestrel/x86/layout.h>

#define MEM_SIZE	(2ULL << 20)
#define GDT_GPA		0x0500ULL
#define TSS_GPA		0x0800ULL
#define PML4_GPA	0x1000ULL
#define PDPT_GPA	0x2000ULL
#define PD0_GPA		0x3000ULL	/* 0 .. 1 GiB */
#define PD3_GPA		0x4000ULL	/* 3 .. 4 GiB: the sink page */
#define CODE_GPA	0x10000ULL

#define PTE_P		0x01ULL
#define PTE_W		0x02ULL
#define PTE_U		0x04ULL
#define PTE_PS		0x80ULL
#define PTE_PCD		0x10ULL

#define SEL_KCODE	0x08
#define SEL_KDATA	0x10
#define SEL_UDATA	(0x18 | 3)
#define SEL_UCODE	(0x20 | 3)
#define SEL_TSS		0x28

#define SINK_BASE	X86_BOOT_TIMER_GPA

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

static int die(const char *what)
{
	fprintf(stderr, "exit_floor: %s: %s\n", what, strerror(errno));
	return 1;
}

/*
 * The guest, 64-bit, CPL 3; rcx = N on entry:
 *	mov  $SINK_BASE, %ebx		(zero-extends)
 *	movl $1, START(%rbx)
 * 1:	movl %ecx, SINK(%rbx)
 *	dec  %rcx
 *	jnz  1b
 *	movl $1, STOP(%rbx)
 *	jmp  .				(never reached: the host stops at STOP)
 */
static const u8 guest_code[] = {
	0xbb, (u8)SINK_BASE, (u8)(SINK_BASE >> 8), (u8)(SINK_BASE >> 16),
	(u8)(SINK_BASE >> 24),					/* mov $imm32, %ebx */
	0xc7, 0x43, BOOTTIMER_REG_START, 0x01, 0x00, 0x00, 0x00, /* movl $1, d8(%rbx) */
	0x89, 0x4b, BOOTTIMER_REG_SINK,				/* mov %ecx, d8(%rbx) */
	0x48, 0xff, 0xc9,					/* dec %rcx */
	0x75, 0xf8,						/* jnz -8 */
	0xc7, 0x43, BOOTTIMER_REG_STOP, 0x01, 0x00, 0x00, 0x00,	/* movl $1, d8(%rbx) */
	0xeb, 0xfe,						/* jmp . */
};

static void seg(struct kvm_segment *s, u16 sel, u8 type, u8 dpl, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = dpl, .s = 1, .l = code64, .db = !code64, .g = 1,
	};
}

static void build_memory(u8 *mem)
{
	u64 *gdt = (u64 *)(mem + GDT_GPA);
	u64 *pml4 = (u64 *)(mem + PML4_GPA), *pdpt = (u64 *)(mem + PDPT_GPA);
	u64 *pd0 = (u64 *)(mem + PD0_GPA), *pd3 = (u64 *)(mem + PD3_GPA);
	u64 flags = PTE_P | PTE_W | PTE_U;

	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL;		/* kernel code64 */
	gdt[2] = 0x00cf93000000ffffULL;		/* kernel data */
	gdt[3] = 0x00cff3000000ffffULL;		/* user data, DPL 3 */
	gdt[4] = 0x00affb000000ffffULL;		/* user code64, DPL 3 */
	/* 64-bit available TSS (marked busy by SREGS below), limit 0x67. */
	gdt[5] = 0x0000890000000067ULL | ((TSS_GPA & 0xffffff) << 16) |
		 ((TSS_GPA >> 24 & 0xff) << 56);
	gdt[6] = TSS_GPA >> 32;

	pml4[0] = PDPT_GPA | flags;
	pdpt[0] = PD0_GPA | flags;
	pdpt[3] = PD3_GPA | flags;
	pd0[0] = 0 | flags | PTE_PS;
	pd3[(SINK_BASE >> 21) & 511] = (SINK_BASE & ~((1ULL << 21) - 1)) | flags |
					PTE_PS | PTE_PCD;
	memcpy(mem + CODE_GPA, guest_code, sizeof(guest_code));
}

static int setup_vcpu(int vcpu_fd, u64 n)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	seg(&sregs.cs, SEL_UCODE, 11, 3, true);
	seg(&sregs.ss, SEL_UDATA, 3, 3, false);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.tr = (struct kvm_segment){
		.base = TSS_GPA, .limit = 0x67, .selector = SEL_TSS, .type = 11,
		.present = 1,
	};
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = 7 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = 0x20;			/* PAE */
	sregs.cr0 = 0x80050033;			/* PG WP NE ET MP PE */
	sregs.efer = 0x500;			/* LME LMA */
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	regs.rip = CODE_GPA;
	regs.rcx = n;
	regs.rflags = 0x2;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct kvm_userspace_memory_region mr;
	struct kvm_run *run;
	bool irqchip = true;
	u64 n = 20000, count = 0, t0 = 0, t1;
	int kvm, vm, vcpu, run_size;
	u8 *mem;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--no-irqchip")) {
			irqchip = false;
		} else {
			fprintf(stderr, "usage: exit_floor [-n N] [--no-irqchip]\n");
			return 2;
		}
	}
	if (!n) {
		fprintf(stderr, "exit_floor: -n must be at least 1\n");
		return 2;
	}

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("exit-floor: SKIP: no usable /dev/kvm (%s)\n", strerror(errno));
		return 0;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return die("KVM_CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return die("mmap");
	build_memory(mem);
	mr = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (u64)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		return die("KVM_SET_USER_MEMORY_REGION");
	/* The same in-kernel devices as kestrel's machine (src/arch/x86/vm.c). */
	if (irqchip) {
		if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfeffd000UL) < 0)
			return die("KVM_SET_TSS_ADDR");
		if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
			return die("KVM_CREATE_IRQCHIP");
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return die("KVM_CREATE_VCPU");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		return die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return die("mmap kvm_run");
	errno = -setup_vcpu(vcpu, n);
	if (errno)
		return die("vCPU registers");

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return die("KVM_RUN");
		}
		if (run->exit_reason != KVM_EXIT_MMIO) {
			fprintf(stderr, "exit_floor: unexpected exit %u (count %llu)\n",
				run->exit_reason, (unsigned long long)count);
			return 1;
		}
		/* The whole handler: as little as an exit can cost. */
		switch (run->mmio.phys_addr - SINK_BASE) {
		case BOOTTIMER_REG_SINK:
			count++;
			continue;
		case BOOTTIMER_REG_START:
			count = 0;
			t0 = now_ns();
			continue;
		case BOOTTIMER_REG_STOP:
			break;
		default:
			fprintf(stderr, "exit_floor: MMIO at %#llx\n",
				(unsigned long long)run->mmio.phys_addr);
			return 1;
		}
		break;
	}
	t1 = now_ns();
	count++;		/* the STOP exit, as kestrel's sink counts it */
	{
		struct kvm_sregs sregs;

		/* The loop must have run at CPL 3 (natively under PVM). */
		if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
			return die("KVM_GET_SREGS");
		if ((sregs.cs.selector & 3) != 3 || sregs.ss.dpl != 3) {
			fprintf(stderr, "exit_floor: the loop ran at CS %#x, not CPL 3\n",
				sregs.cs.selector);
			return 1;
		}
	}
	if (count != n + 1) {
		fprintf(stderr, "exit_floor: %llu exits, expected %llu\n",
			(unsigned long long)count, (unsigned long long)n + 1);
		return 1;
	}
	printf("exit-floor: exits=%llu ns_per_exit=%llu.%llu\n",
	       (unsigned long long)count, (unsigned long long)((t1 - t0) / count),
	       (unsigned long long)((t1 - t0) % count * 10 / count));
	munmap(run, (size_t)run_size);
	close(vcpu);
	close(vm);
	munmap(mem, MEM_SIZE);
	close(kvm);
	return 0;
}
