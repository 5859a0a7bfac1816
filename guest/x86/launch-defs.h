/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_LAUNCH_DEFS_H
#define GUEST_X86_LAUNCH_DEFS_H

/*
 * Constants the launch stub's assembly (launch-entry.S) shares with its C
 * (launch.c), in a form the assembler takes. launch.c checks each one
 * against include/kestrel/launch.h and include/kestrel/x86/layout.h.
 */

/* The stub's own GDT (launch-entry.S). */
#define LS_KERNEL_CS		0x08
#define LS_KERNEL_DS		0x10
#define LS_USER_DS		0x1b	/* slot 3, RPL 3 */
#define LS_USER_CS		0x23	/* slot 4, RPL 3 */
#define LS_TSS_SEL		0x28	/* slots 5 and 6 */
#define LS_KSTACK_SIZE		0x4000

/* Guest-physical layout (layout.h). */
#define LS_LAUNCH_AREA		0x4000000	/* X86_LAUNCH_AREA_GPA: struct launch_info */
#define LS_STACK_TOP		0x4020000	/* X86_LAUNCH_STACK_TOP */
#define LS_PAYLOAD		0x4200000	/* X86_LAUNCH_PAYLOAD_GPA */
#define LS_WINDOW		0xd1000000	/* X86_BOOT_WINDOW_GPA */
#define LS_WINDOW_MAX		0x0e000000	/* X86_BOOT_WINDOW_MAX */
#define LS_RAM_32BIT_END	0xc0000000	/* X86_RAM_32BIT_END */
#define LS_HIGH_RAM_START	0x100000000	/* X86_HIGH_RAM_START */
#define LS_LAUNCH_PORT		0x518		/* X86_LAUNCH_PORT */
#define LS_DEBUG_EXIT_PORT	0xf4		/* X86_DEBUG_EXIT_PORT */
#define LS_I8042_CMD_PORT	0x64		/* X86_I8042_CMD_PORT */

/* launch.h */
#define LS_PORT_DONE		0x4c444f4e	/* LAUNCH_PORT_DONE */
#define LS_F_SUPERVISOR		4		/* LAUNCH_F_SUPERVISOR */
#define LS_GATE_OUT8		1
#define LS_GATE_OUT16		2
#define LS_GATE_OUT32		3
#define LS_GATE_IN8		4
#define LS_GATE_IN16		5
#define LS_GATE_IN32		6
#define LS_GATE_READ64		7

/* CPU state the stub starts the 64-bit part with. */
#define LS_CR0			0x80000033	/* PG | NE | ET | MP | PE */
#define LS_CR4			0x620		/* OSXMMEXCPT | OSFXSR | PAE: SSE in ring 3 */
#define LS_EFER_LME		0x100

#endif /* GUEST_X86_LAUNCH_DEFS_H */
