/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest start-up: Multiboot v1 entry in 32-bit protected mode, the switch to
 * long mode, the AP trampoline, the ACPI S3 waking vector, interrupt entry
 * stubs and the way back from ring 3.
 *
 * Supervisor code is emulated one instruction at a time on PVM hosts, so
 * everything that can be computed at build time is: the page tables (4 GiB
 * identity map with 2 MiB pages) and the GDT are static data.
 */
#include "asm-defs.h"

#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000002	/* want a memory map */

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

/* ---- page tables: identity map of the first 4 GiB, user-accessible ------- */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + 0x7
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + 0x7
	.quad pd + 0x1000 + 0x7
	.quad pd + 0x2000 + 0x7
	.quad pd + 0x3000 + 0x7
	.fill 508, 8, 0
pd:
	/* present, writable, user, 2 MiB page; cache-disabled above 3 GiB */
	.set i, 0
	.rept 1536
	.quad (i << 21) | 0x87
	.set i, i + 1
	.endr
	.rept 512
	.quad (i << 21) | 0x9f
	.set i, i + 1
	.endr

/* ---- GDT: see desc.h for the selectors ------------------------------------ */
	.section .data.gdt, "aw"
	.balign 16
	.globl gdt
gdt:
	.quad 0				/* null */
	.quad 0x00af9b000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf93000000ffff	/* 0x10 kernel data */
	.quad 0x00cf9b000000ffff	/* 0x18 kernel code, 32-bit */
	.quad 0x00cff3000000ffff	/* 0x20 user data, DPL 3 */
	.quad 0x00affb000000ffff	/* 0x28 user code, 64-bit, DPL 3 */
	.globl gdt_tss
gdt_tss:
	.fill MAX_CPUS * 2, 8, 0	/* 0x30 + 16n: TSS of CPU n (desc.c) */
gdt_end:
	.balign 8
	.globl mb_magic, mb_info
mb_magic:
	.long 0
mb_info:
	.long 0
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

/* ---- BSP entry (32-bit protected mode, EAX = magic, EBX = info) ---------- */
	.section .text.entry, "ax"
	.code32
	.globl _start32
_start32:
	cli
	mov	%ebx, mb_info
	mov	%eax, mb_magic
	lgdt	gdt_desc
	/* Same path as the APs from here. */
	jmp	enter_long_mode

/* From 32-bit protected mode with the GDT loaded: paging on, long mode. */
.macro long_mode_on
	mov	$KERNEL_DS, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%cr4, %eax
	or	$0x20, %eax		/* PAE */
	mov	%eax, %cr4
	mov	$pml4, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	or	$0x100, %eax
	wrmsr
	mov	%cr0, %eax
	or	$0x80000001, %eax	/* PG | PE */
	mov	%eax, %cr0
.endm

/* In 64-bit mode: the data segments null, as long mode wants them. */
.macro null_data_segments
	xor	%eax, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
.endm

	.globl enter_long_mode
enter_long_mode:
	long_mode_on
	ljmp	$KERNEL_CS, $start64

	.code64
start64:
	null_data_segments
	/* This CPU's stack from its APIC ID (CPUID.1:EBX[31:24]). */
	mov	$1, %eax
	cpuid
	shr	$24, %ebx
	cmp	$MAX_CPUS, %ebx
	jae	park
	mov	%rbx, %rdi		/* argument: cpu number */
	inc	%rbx
	imul	$KSTACK_SIZE, %rbx
	lea	kstacks(%rbx), %rsp
	xor	%ebp, %ebp
	test	%edi, %edi
	jnz	1f
	/* BSP: clear .bss (one emulated instruction) and go to C. */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	call	guest_start
	jmp	park
1:	call	ap_start
park:
	cli
	hlt
	jmp	park

/* ---- AP trampoline: copied to TRAMPOLINE_ADDR, entered in real mode ------- */
	.code16
	.globl trampoline_start, trampoline_end
trampoline_start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	lgdtl	tramp_gdt_desc - trampoline_start
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$KERNEL_CS32, $ap_start32
	.balign 8
tramp_gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
trampoline_end:

	.code32
ap_start32:
	jmp	enter_long_mode

/*
 * ---- ACPI S3 waking vector: copied below 1 MiB (acpi_wake_install()) ------
 * The firmware enters it in real mode at CS:IP = vector >> 4 : vector & 0xf
 * (ACPI 6.5 §5.2.10), every register otherwise at its reset value. It finds
 * where it runs, notes the CS and IP it got (wake_seen_cs/_ip, in its copy),
 * and goes to long mode, to wake64, which returns a second time from the
 * acpi_wake_save() that saved the context. Its stack is the top of the 4 KiB
 * page the vector's segment starts in: the copy's own page.
 */
	.code16
	.globl wake_start, wake_end, wake_seen_cs, wake_seen_ip
wake_start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	mov	%ax, %ss
	mov	$0x1000, %sp
	call	1f
1:	pop	%bx
	sub	$(1b - wake_start), %bx		/* IP of wake_start */
	mov	%ax, wake_seen_cs - wake_start(%bx)
	mov	%bx, wake_seen_ip - wake_start(%bx)
	lgdtl	wake_gdt_desc - wake_start(%bx)
	mov	%cr0, %eax
	and	$0x9fffffff, %eax		/* CD, NW: set by the reset */
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$KERNEL_CS32, $wake_start32
	.balign 8
wake_gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
wake_seen_cs:
	.word 0
wake_seen_ip:
	.word 0xffff
wake_end:

	.code32
wake_start32:
	long_mode_on
	ljmp	$KERNEL_CS, $wake64

	.code64
wake64:
	null_data_segments
	lgdt	gdt_desc			/* the 64-bit base */
	mov	wake_ctx + 0(%rip), %rbx
	mov	wake_ctx + 8(%rip), %rbp
	mov	wake_ctx + 16(%rip), %r12
	mov	wake_ctx + 24(%rip), %r13
	mov	wake_ctx + 32(%rip), %r14
	mov	wake_ctx + 40(%rip), %r15
	mov	wake_ctx + 56(%rip), %rsp
	pushq	wake_ctx + 64(%rip)
	popfq
	mov	$1, %eax
	jmp	*wake_ctx + 48(%rip)

/*
 * int acpi_wake_save(void): like setjmp(). Returns 0 now, and 1 when the
 * machine wakes from S3 through the copied wake_start.
 */
	.globl acpi_wake_save
acpi_wake_save:
	mov	%rbx, wake_ctx + 0(%rip)
	mov	%rbp, wake_ctx + 8(%rip)
	mov	%r12, wake_ctx + 16(%rip)
	mov	%r13, wake_ctx + 24(%rip)
	mov	%r14, wake_ctx + 32(%rip)
	mov	%r15, wake_ctx + 40(%rip)
	mov	(%rsp), %rax
	mov	%rax, wake_ctx + 48(%rip)	/* return address */
	lea	8(%rsp), %rax
	mov	%rax, wake_ctx + 56(%rip)	/* RSP after the return */
	pushfq
	popq	wake_ctx + 64(%rip)
	xor	%eax, %eax
	ret

	.data
	.balign 8
wake_ctx:
	.fill 9, 8, 0

/* ---- interrupt entry -------------------------------------------------------- */
	.code64
	.text
.macro isr_stub
	.balign 16
	.if (v == 8) || ((v >= 10) && (v <= 14)) || (v == 17) || (v == 21) || (v == 29) || (v == 30)
	.else
	pushq	$0
	.endif
	pushq	$v
	jmp	isr_common
.endm

	.balign 16
	.globl isr_stubs
isr_stubs:
	.set v, 0
	.rept 256
	isr_stub
	.set v, v + 1
	.endr

isr_common:
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%r11
	push	%r10
	push	%r9
	push	%r8
	push	%rdi
	push	%rsi
	push	%rbp
	push	%rbx
	push	%rdx
	push	%rcx
	push	%rax
	mov	%rsp, %rdi
	cld
	call	do_interrupt
	pop	%rax
	pop	%rcx
	pop	%rdx
	pop	%rbx
	pop	%rbp
	pop	%rsi
	pop	%rdi
	pop	%r8
	pop	%r9
	pop	%r10
	pop	%r11
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	add	$16, %rsp		/* vector, error code */
	iretq

/* ---- ring 3 ----------------------------------------------------------------- */
/*
 * u64 __run_in_user(u64 (*fn)(void *), void *arg, u64 user_rsp, u64 *rsp0,
 *		     unsigned int cpu)
 * Saves RFLAGS and the callee-saved registers on the kernel stack, records
 * that stack pointer for the way back (user_saved_rsp[cpu]) and in the
 * TSS's RSP0 (*rsp0, where exceptions and interrupts from ring 3 land),
 * and irets to user_entry at CPL 3.
 *
 * The way back is the ud2 at user_exit: the #UD lands in do_interrupt()
 * on the RSP0 stack, which recognises it and calls user_return(result).
 * (On PVM hosts `int $n` from ring 3 raises #UD itself and SYSCALL does
 * not reach a non-PVM-aware guest, so an exception is the portable way.)
 * user_return finds this CPU's saved stack and returns the result to
 * __run_in_user's caller.
 */
	.globl __run_in_user
__run_in_user:
	pushfq
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	/* 8 pushes + return address: RSP is 16-aligned, as RSP0 must be. */
	mov	%rsp, (%rcx)
	mov	%rsp, user_saved_rsp(,%r8,8)
	pushq	$USER_DS		/* ss */
	pushq	%rdx			/* rsp */
	pushq	$0x3002			/* rflags: IOPL 3, IF 0 */
	pushq	$USER_CS		/* cs */
	lea	user_entry(%rip), %rax
	pushq	%rax			/* rip */
	mov	%rdi, %rax
	mov	%rsi, %rdi
	xor	%ebp, %ebp
	iretq

user_entry:
	call	*%rax
	.globl user_exit
user_exit:
	ud2

	/* void user_return(u64 result): from do_interrupt(), at CPL 0. */
	.globl user_return
user_return:
	mov	%rdi, %r8
	mov	$1, %eax
	cpuid
	shr	$24, %ebx
	mov	user_saved_rsp(,%rbx,8), %rsp
	mov	%r8, %rax
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	popfq
	ret

	.bss
	.balign 8
user_saved_rsp:
	.skip MAX_CPUS * 8

/* ---- stacks: not part of .bss, never cleared ------------------------------ */
	.section .stacks, "aw", @nobits
	.balign 4096
	.globl kstacks, ustacks
kstacks:
	.skip MAX_CPUS * KSTACK_SIZE
ustacks:
	.skip MAX_CPUS * USTACK_SIZE
