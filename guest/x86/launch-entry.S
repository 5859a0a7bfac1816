/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The launch stub's supervisor part (docs/protected.md, guest/x86/launch.c):
 * everything the stub does at CPL 0, which on PVM hosts runs in KVM's
 * instruction emulator at a fraction of a microsecond per instruction.
 * So it is as short as it can be: the page tables, GDT, IDT and TSS are
 * static data, complete at link time (guest/x86/launch.lds splits the
 * addresses the descriptors hold); the start-up is some twenty
 * instructions from Multiboot's 32-bit entry to ring 3, and the only
 * other supervisor code is the #UD handler: the end of a ring-3 part, and
 * the payload's gate. Nothing here prints on the way to the payload.
 *
 * Ring 3 (native everywhere) does the launch's work: launch_user() in
 * launch.c. Its end is the ud2 at launch_user_done; the #UD handler then
 * tells kestrel (LS_PORT_DONE on the launch port, or a refusal through
 * debug-exit), and once kestrel has sealed the guest and runs the vCPU
 * again, enters the payload the same way, in ring 3 (or at CPL 0 with
 * LAUNCH_F_SUPERVISOR). The payload's end is the same ud2; its result is
 * the guest's exit code.
 */
#include "launch-defs.h"

#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000002	/* want a memory map */

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

/* ---- page tables: 0-4 GiB identity, 2 MiB pages, user-accessible ---------- */
/*
 * Write-back below 3 GiB and over the boot window; the rest of the hole
 * above 3 GiB uncached (what the gate's reads reach).
 */
	.section .data.pagetables, "aw"
	.balign 4096
launch_pml4:
	.quad launch_pdpt + 0x7
	.fill 511, 8, 0
launch_pdpt:
	.quad launch_pd + 0x0000 + 0x7
	.quad launch_pd + 0x1000 + 0x7
	.quad launch_pd + 0x2000 + 0x7
	.quad launch_pd + 0x3000 + 0x7
	.fill 508, 8, 0
launch_pd:
	.set i, 0
	.rept 2048
	.if ((i << 21) >= LS_RAM_32BIT_END) && (((i << 21) < LS_WINDOW) || ((i << 21) >= LS_WINDOW + LS_WINDOW_MAX))
	.quad (i << 21) | 0x9f		/* present, writable, user, PWT, PCD, 2 MiB */
	.else
	.quad (i << 21) | 0x87		/* present, writable, user, 2 MiB */
	.endif
	.set i, i + 1
	.endr

/* ---- GDT, TSS, IDT ------------------------------------------------------- */
	.section .data.desc, "aw"
	.balign 16
launch_gdt:
	.quad 0				/* null */
	.quad 0x00af9b000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf93000000ffff	/* 0x10 kernel data */
	.quad 0x00cff3000000ffff	/* 0x18 user data, DPL 3 */
	.quad 0x00affb000000ffff	/* 0x20 user code, 64-bit, DPL 3 */
	/* 0x28: the 64-bit TSS, available, limit 103 (Intel SDM vol. 3 §8.2.3) */
	.word 103
	.word launch_tss_b0
	.byte launch_tss_b2
	.byte 0x89
	.byte 0
	.byte launch_tss_b3
	.long 0
	.long 0
launch_gdt_end:

	.balign 8
	.word 0, 0, 0
launch_gdt_desc:
	.word launch_gdt_end - launch_gdt - 1
	.quad launch_gdt

	.balign 16
	.globl launch_tss
launch_tss:
	.long 0
	.quad launch_kstack_top		/* RSP0: where ring 3's exceptions land */
	.fill 2, 8, 0
	.quad 0
	.fill 7, 8, 0
	.quad 0
	.word 0
	.word 104			/* no I/O bitmap */

/*
 * Exceptions 0-31: #UD to launch_ud, every other one to its stub in
 * launch_vectors (16 bytes each), which reports it and ends the guest.
 * The gates' address halves come from launch.lds.
 */
.macro gate lo, hi
	.word \lo
	.word LS_KERNEL_CS
	.word 0x8e00			/* present interrupt gate, DPL 0 */
	.word \hi
	.long 0
	.long 0
.endm
	.balign 16
launch_idt:
	.set v, 0
	.rept 32
	.if v == 6
	gate launch_ud_lo, launch_ud_hi
	.else
	gate (launch_vec_lo+16*v), launch_vec_hi
	.endif
	.set v, v + 1
	.endr
launch_idt_end:
	.balign 8
	.word 0, 0, 0
launch_idt_desc:
	.word launch_idt_end - launch_idt - 1
	.quad launch_idt

/* What the #UD handler needs across the seal: shared, and nothing secret. */
	.data
	.balign 8
	.globl launch_phase, launch_flags
launch_phase:
	.quad 0			/* 0: the launch runs in ring 3; 1: the payload */
launch_flags:
	.quad 0			/* the window's LAUNCH_F_*, from launch_user() */

/* ---- entry: Multiboot, 32-bit protected mode, EBX = the info --------------- */
	.section .text.entry, "ax"
	.code32
	.globl launch_start32
launch_start32:
	lgdt	launch_gdt_desc
	mov	$launch_pml4, %eax
	mov	%eax, %cr3
	mov	$LS_CR4, %eax
	mov	%eax, %cr4
	mov	$0xc0000080, %ecx	/* EFER */
	mov	$LS_EFER_LME, %eax
	xor	%edx, %edx
	wrmsr
	mov	$LS_CR0, %eax
	mov	%eax, %cr0
	ljmp	$LS_KERNEL_CS, $launch_start64

	.code64
launch_start64:
	lidt	launch_idt_desc
	mov	$LS_TSS_SEL, %eax
	ltr	%ax
	mov	$launch_kstack_top, %esp
	mov	%ebx, %r12d		/* the Multiboot info */
	/* CPU features for ring 3: CPUID.1:ECX, CPUID.(7,0):EBX << 32. */
	mov	$1, %eax
	cpuid
	mov	%ecx, %r13d
	mov	$7, %eax
	xor	%ecx, %ecx
	cpuid
	shl	$32, %rbx
	or	%rbx, %r13
	mov	%r12, %rdi
	mov	%r13, %rsi
	mov	$launch_user, %eax
	/* fall through */

/*
 * To ring 3 at launch_tramp, which calls RAX(RDI, RSI) on the private
 * stack. IOPL 3 (port I/O in ring 3 where the host allows it; PVM does
 * not), interrupts off.
 */
launch_to_user:
	pushq	$LS_USER_DS
	pushq	$LS_STACK_TOP
	pushq	$0x3002
	pushq	$LS_USER_CS
	pushq	$launch_tramp
	iretq

/*
 * Ring 3. Clears the caller-saved registers after the call, so that
 * nothing the callee left in them reaches the #UD that follows (the
 * callee-saved ones come back as they went in).
 */
launch_tramp:
	call	*%rax
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	.globl launch_user_done
launch_user_done:
	ud2

/*
 * The payload's gate (struct launch_info): uint64_t gate(op, addr, value)
 * is this ud2; launch_ud answers it at CPL 0 and returns past it.
 */
	.globl launch_gate
launch_gate:
	ud2
	ret

/* ---- #UD: [rsp] = rip, 8(rsp) = cs ------------------------------------------ */
	.globl launch_ud
launch_ud:
	testb	$3, 8(%rsp)
	jz	launch_ud_fault
	cmpq	$launch_gate, (%rsp)
	je	launch_gate_op
	cmpq	$launch_user_done, (%rsp)
	jne	launch_ud_fault
	mov	$launch_kstack_top, %esp	/* the frame is done with */
	cmpq	$0, launch_phase
	jne	launch_exit			/* the payload's result */
	movq	$1, launch_phase
	test	%eax, %eax
	jnz	launch_exit			/* a refusal: LAUNCH_REFUSE_* */
	/* kestrel zeroes and removes the window and seals before OUT completes. */
	mov	$LS_PORT_DONE, %eax
	mov	$LS_LAUNCH_PORT, %edx
	out	%eax, %dx
	mov	$LS_LAUNCH_AREA, %edi		/* struct launch_info */
	mov	$LS_PAYLOAD, %eax
	testq	$LS_F_SUPERVISOR, launch_flags
	jz	launch_to_user
	call	*%rax
	/* fall through */

/* The guest's end: debug-exit with AL; without one, the i8042 resets. */
launch_exit:
	out	%al, $LS_DEBUG_EXIT_PORT
	mov	$0xfe, %al
	out	%al, $LS_I8042_CMD_PORT
1:	cli
	hlt
	jmp	1b

launch_ud_fault:
	pushq	$0
	pushq	$6
	jmp	launch_fault_common

/* RDI op, RSI port or address, RDX value; the result in RAX. */
launch_gate_op:
	mov	%rdx, %rax
	mov	%esi, %edx
	cmp	$LS_GATE_OUT8, %rdi
	je	1f
	cmp	$LS_GATE_OUT16, %rdi
	je	2f
	cmp	$LS_GATE_OUT32, %rdi
	je	3f
	cmp	$LS_GATE_IN8, %rdi
	je	4f
	cmp	$LS_GATE_IN16, %rdi
	je	5f
	cmp	$LS_GATE_IN32, %rdi
	je	6f
	cmp	$LS_GATE_READ64, %rdi
	je	7f
8:	mov	$-1, %rax
	jmp	9f
1:	out	%al, %dx
	jmp	9f
2:	out	%ax, %dx
	jmp	9f
3:	out	%eax, %dx
	jmp	9f
4:	xor	%eax, %eax
	in	%dx, %al
	jmp	9f
5:	xor	%eax, %eax
	in	%dx, %ax
	jmp	9f
6:	in	%dx, %eax
	jmp	9f
	/* Only the hole below 4 GiB (mapped, not RAM): no way into RAM. */
7:	mov	$LS_RAM_32BIT_END, %eax
	cmp	%rax, %rsi
	jb	8b
	mov	$LS_HIGH_RAM_START - 8, %rax
	cmp	%rax, %rsi
	ja	8b
	mov	(%rsi), %rax
9:	addq	$2, (%rsp)
	iretq

/* ---- every other exception: report it, end the guest ----------------------- */
	.text
	.balign 512
	.globl launch_vectors
launch_vectors:
	.set v, 0
	.rept 32
	.balign 16
	.if (v != 8) && ((v < 10) || (v > 14)) && (v != 17) && (v != 21) && (v != 29) && (v != 30)
	pushq	$0
	.endif
	pushq	$v
	jmp	launch_fault_common
	.set v, v + 1
	.endr

/* [rsp] vector, error code, rip, cs, rflags, rsp, ss */
launch_fault_common:
	cmpq	$0, launch_faulting
	jne	1f				/* a fault in the fault path: just end */
	movq	$1, launch_faulting
	mov	%rsp, %rdi
	and	$-16, %rsp
	call	launch_fault
1:	mov	$1, %eax
	jmp	launch_exit

	.data
launch_faulting:
	.quad 0

/* ---- the stack exceptions and the CPL 0 payload run on --------------------- */
	.section .stacks, "aw", @nobits
	.balign 4096
launch_kstack:
	.skip LS_KSTACK_SIZE
	.globl launch_kstack_top
launch_kstack_top:

	.section .note.GNU-stack, "", @progbits
