/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_ASM_DEFS_H
#define GUEST_X86_ASM_DEFS_H

/* Constants shared by start.S and C (no C declarations here). */

#define MAX_CPUS		32
#define KSTACK_SIZE		16384	/* per CPU, kernel */
#define USTACK_SIZE		16384	/* per CPU, ring 3 */
#define TRAMPOLINE_ADDR		0xf000	/* AP real-mode entry (SIPI vector 0x0f): clear of kestrel's boot data */

#define KERNEL_CS		0x08
#define KERNEL_DS		0x10
#define KERNEL_CS32		0x18
#define USER_DS			0x23	/* GDT slot 4, RPL 3 */
#define USER_CS			0x2b	/* GDT slot 5, RPL 3 */
#define TSS_SEL(cpu)		(0x30 + 16 * (cpu))

#endif /* GUEST_X86_ASM_DEFS_H */
