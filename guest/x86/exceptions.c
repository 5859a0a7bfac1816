// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exceptions through registered handlers: #DE, #UD, #GP and #PF, each
 * handler checking what the CPU pushed and resuming after the faulting
 * instruction. (No #BP: int3 cannot be emulated on PVM hosts.)
 */
#include "guest.h"
#include "x86/desc.h"
#include "x86/processor.h"

static volatile unsigned int hits;
static volatile u64 seen_error, seen_cr2, seen_rip;
static volatile u64 resume_rip;

static void resume_handler(struct ex_regs *regs)
{
	hits++;
	seen_error = regs->error_code;
	seen_rip = regs->rip;
	seen_cr2 = read_cr2();
	regs->rip = resume_rip;
}

/*
 * Each probe records the address after the faulting instruction in
 * resume_rip and the faulting instruction's own address in @fault_rip.
 */
static u64 probe_de(void)
{
	u64 at;

	__asm__ __volatile__("leaq 2f(%%rip), %%rax\n\t"
			     "movq %%rax, resume_rip(%%rip)\n\t"
			     "leaq 1f(%%rip), %0\n\t"
			     "xorl %%ecx, %%ecx\n\t"
			     "movl $1, %%eax\n\t"
			     "xorl %%edx, %%edx\n"
			     "1:\tdivl %%ecx\n"
			     "2:"
			     : "=&r"(at) : : "rax", "rcx", "rdx", "memory");
	return at;
}

static u64 probe_ud(void)
{
	u64 at;

	__asm__ __volatile__("leaq 2f(%%rip), %%rax\n\t"
			     "movq %%rax, resume_rip(%%rip)\n\t"
			     "leaq 1f(%%rip), %0\n"
			     "1:\tud2\n"
			     "2:"
			     : "=&r"(at) : : "rax", "memory");
	return at;
}

static u64 probe_gp(void)
{
	u64 at;

	/* A non-canonical address: #GP(0). */
	__asm__ __volatile__("leaq 2f(%%rip), %%rax\n\t"
			     "movq %%rax, resume_rip(%%rip)\n\t"
			     "leaq 1f(%%rip), %0\n\t"
			     "movabsq $0x8000000000000000, %%rcx\n"
			     "1:\tmovq (%%rcx), %%rax\n"
			     "2:"
			     : "=&r"(at) : : "rax", "rcx", "memory");
	return at;
}

static u64 probe_pf(u64 addr, bool write)
{
	u64 at;

	if (write)
		__asm__ __volatile__("leaq 2f(%%rip), %%rax\n\t"
				     "movq %%rax, resume_rip(%%rip)\n\t"
				     "leaq 1f(%%rip), %0\n"
				     "1:\tmovl %%eax, (%1)\n"
				     "2:"
				     : "=&r"(at) : "r"(addr) : "rax", "memory");
	else
		__asm__ __volatile__("leaq 2f(%%rip), %%rax\n\t"
				     "movq %%rax, resume_rip(%%rip)\n\t"
				     "leaq 1f(%%rip), %0\n"
				     "1:\tmovl (%1), %%eax\n"
				     "2:"
				     : "=&r"(at) : "r"(addr) : "rax", "memory");
	return at;
}

static void check(const char *name, u8 vec, u64 (*probe)(void), bool has_err,
		  u64 want_err)
{
	unsigned int before = hits;
	u64 at;

	handle_exception(vec, resume_handler);
	at = probe();
	handle_exception(vec, NULL);
	report(hits == before + 1, "%s: handler ran once", name);
	report(seen_rip == at, "%s: saved RIP is the faulting instruction", name);
	if (has_err)
		report(seen_error == want_err, "%s: error code %#lx", name, seen_error);
}

static u64 probe_pf_read(void)
{
	return probe_pf(0x100000000ul + 0x1234, false);
}

static u64 probe_pf_write(void)
{
	return probe_pf(0x100000000ul + 0x5678, true);
}

int main(void)
{
	report_prefix_push("exceptions");
	check("#DE", DE_VECTOR, probe_de, false, 0);
	check("#UD", UD_VECTOR, probe_ud, false, 0);
	check("#GP", GP_VECTOR, probe_gp, true, 0);
	check("#PF read", PF_VECTOR, probe_pf_read, true, 0x0);
	report(seen_cr2 == 0x100001234ul, "#PF read: CR2 %#lx", seen_cr2);
	check("#PF write", PF_VECTOR, probe_pf_write, true, 0x2);
	report(seen_cr2 == 0x100005678ul, "#PF write: CR2 %#lx", seen_cr2);

	/* The same vector again, through the fix-up path with no handler. */
	last_exception_vector = -1;
	__asm__ __volatile__("leaq 1f(%%rip), %%rax\n\t"
			     "movq %%rax, exception_fixup_rip(%%rip)\n\t"
			     "ud2\n1:" : : : "rax", "memory");
	report(last_exception_vector == UD_VECTOR, "fix-up path catches #UD");
	report_prefix_pop();
	return report_summary();
}
