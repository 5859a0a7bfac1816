/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The built-in default guest (guest/x86/default.c, a Multiboot ELF),
 * embedded so that "kestrel run" works with no files at all. The Makefile
 * passes its path in DEFAULT_GUEST.
 */
	.section .rodata.default_guest, "a"
	.balign 16
	.globl kestrel_default_guest
kestrel_default_guest:
	.incbin DEFAULT_GUEST
	.globl kestrel_default_guest_end
kestrel_default_guest_end:
	.byte 0

	.section .note.GNU-stack, "", @progbits
