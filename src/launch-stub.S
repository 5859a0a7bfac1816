/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The measured launch's stub (guest/x86/launch.c, a Multiboot ELF),
 * embedded so that a protected guest's launch needs nothing kestrel does
 * not carry (docs/protected.md). The Makefile passes its path in
 * LAUNCH_STUB.
 */
	.section .rodata.launch_stub, "a"
	.balign 16
	.globl kestrel_launch_stub
kestrel_launch_stub:
	.incbin LAUNCH_STUB
	.globl kestrel_launch_stub_end
kestrel_launch_stub_end:
	.byte 0

	.section .note.GNU-stack, "", @progbits
