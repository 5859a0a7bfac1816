/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_DESC_H
#define GUEST_X86_DESC_H

/*
 * Descriptor tables: the GDT (kernel and user segments, one TSS per CPU)
 * and an IDT with all 256 vectors routed to C handlers.
 */
#include "guest.h"
#include "x86/asm-defs.h"

#define DE_VECTOR	0
#define DB_VECTOR	1
#define NMI_VECTOR	2
#define UD_VECTOR	6
#define DF_VECTOR	8
#define GP_VECTOR	13
#define PF_VECTOR	14

#define SPURIOUS_VECTOR		0xff
#define IPI_WAKE_VECTOR		0xf0

/* What every handler sees; field order is the push order in start.S. */
struct ex_regs {
	u64 rax, rcx, rdx, rbx, rbp, rsi, rdi;
	u64 r8, r9, r10, r11, r12, r13, r14, r15;
	u64 vector, error_code;
	u64 rip, cs, rflags, rsp, ss;
};

_Static_assert(sizeof(struct ex_regs) == 22 * 8, "ex_regs matches start.S");

typedef void (*handler_fn)(struct ex_regs *regs);

/**
 * handle_exception() - run @fn for exception @vec (0..31); NULL restores the
 * default, which reports an unexpected exception and fails the test.
 * Return: the previous handler.
 */
handler_fn handle_exception(u8 vec, handler_fn fn);

/**
 * handle_irq() - run @fn for interrupt @vec (32..255); the LAPIC gets its
 * EOI after @fn returns.
 */
handler_fn handle_irq(u8 vec, handler_fn fn);

/* Built by desc.c: the tables and one CPU's loading of them. */
void idt_setup(void);
void cpu_load_descriptors(unsigned int cpu);
u64 *tss_rsp0_slot(unsigned int cpu);

/*
 * exception_fixup_rip: if a test sets this to an address and an exception
 * with no registered handler hits, execution resumes there (once), and
 * last_exception_vector/last_exception_error say what it was.
 */
extern volatile u64 exception_fixup_rip;
extern volatile int last_exception_vector;
extern volatile u64 last_exception_error;

#endif /* GUEST_X86_DESC_H */
