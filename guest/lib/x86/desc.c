// SPDX-License-Identifier: GPL-2.0-only
/*
 * IDT, TSS and the C side of interrupt dispatch. The GDT itself is static
 * data in start.S; only the per-CPU TSS descriptors are filled in here.
 */
#include "x86/desc.h"
#include "x86/apic.h"
#include "x86/processor.h"

struct idt_entry {
	u16 offset0;
	u16 selector;
	u8 ist;
	u8 type_attr;
	u16 offset1;
	u32 offset2;
	u32 reserved;
} __attribute__((packed));

struct tss64 {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap_base;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_entry) == 16, "IDT gate");
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS");

extern char isr_stubs[];		/* start.S: 256 stubs, 16 bytes apart */
extern u64 gdt_tss[];
extern char user_exit[];
void user_return(u64 result) __noreturn;

static struct idt_entry idt[256] __aligned(16);
static struct tss64 tss[MAX_CPUS] __aligned(16);
static handler_fn handlers[256];
static bool handler_is_irq[256];

volatile u64 exception_fixup_rip;
volatile int last_exception_vector = -1;
volatile u64 last_exception_error;

static void idt_set_gate(unsigned int vec, void *fn, unsigned int dpl)
{
	u64 addr = (u64)fn;

	idt[vec] = (struct idt_entry){
		.offset0 = (u16)addr,
		.selector = KERNEL_CS,
		.type_attr = (u8)(0x8e | (dpl << 5)),	/* present interrupt gate */
		.offset1 = (u16)(addr >> 16),
		.offset2 = (u32)(addr >> 32),
	};
}

void idt_setup(void)
{
	for (unsigned int v = 0; v < 256; v++)
		idt_set_gate(v, isr_stubs + 16 * v, 0);
}

u64 *tss_rsp0_slot(unsigned int cpu)
{
	/* Unaligned by the TSS layout; only start.S stores through it. */
	return (u64 *)((u8 *)&tss[cpu] + offsetof(struct tss64, rsp));
}

void cpu_load_descriptors(unsigned int cpu)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (u64)idt };
	u64 base = (u64)&tss[cpu];
	u64 *d = &gdt_tss[2 * cpu];

	tss[cpu].iomap_base = sizeof(struct tss64);	/* no I/O bitmap */
	d[0] = (sizeof(struct tss64) - 1) | ((base & 0xffffff) << 16) |
	       (0x89ull << 40) | (((base >> 24) & 0xff) << 56);
	d[1] = base >> 32;
	__asm__ __volatile__("lidt %0" : : "m"(idtr));
	__asm__ __volatile__("ltr %w0" : : "r"(TSS_SEL(cpu)));
}

handler_fn handle_exception(u8 vec, handler_fn fn)
{
	handler_fn old = handlers[vec];

	handlers[vec] = fn;
	handler_is_irq[vec] = false;
	return old;
}

handler_fn handle_irq(u8 vec, handler_fn fn)
{
	handler_fn old = handlers[vec];

	handlers[vec] = fn;
	handler_is_irq[vec] = true;
	return old;
}

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO",
	"#TS", "#NP", "#SS", "#GP", "#PF", "15", "#MF", "#AC", "#MC", "#XM",
	"#VE", "#CP",
};

void do_interrupt(struct ex_regs *regs);

void do_interrupt(struct ex_regs *regs)
{
	u8 vec = (u8)regs->vector;
	handler_fn fn = handlers[vec];

	/* The end of run_in_user(): see start.S. */
	if (vec == UD_VECTOR && (regs->cs & 3) == 3 && regs->rip == (u64)user_exit)
		user_return(regs->rax);
	if (fn) {
		fn(regs);
		if (handler_is_irq[vec])
			apic_eoi();
		return;
	}
	if (vec < 32 && exception_fixup_rip) {
		last_exception_vector = vec;
		last_exception_error = regs->error_code;
		regs->rip = exception_fixup_rip;
		exception_fixup_rip = 0;
		return;
	}
	if (vec == SPURIOUS_VECTOR)
		return;
	printf("FAIL: unexpected %s %u (error %#lx) at rip %#lx, cr2 %#lx\n",
	       vec < 32 && exception_names[vec] ? exception_names[vec] : "vector",
	       vec, regs->error_code, regs->rip, read_cr2());
	guest_exit(1);
}
