// SPDX-License-Identifier: GPL-2.0-only
/*
 * Supervisor code touching private RAM (docs/protected.md). On a host
 * where it runs in KVM's instruction emulator (PVM), the emulator can only
 * reach guest memory through kestrel's mapping, which private RAM lacks:
 * kestrel stops the VM as crashed (status 6) naming the access, and reads
 * nothing of kestrel's. Where supervisor code runs natively (VMX/SVM) the
 * read gives what ring 3 wrote and the test skips; anything else fails. Run with --protected.
 */
#include "guest.h"
#include "x86/usermode.h"

#include <kestrel/x86/layout.h>

static u64 user_fill(void *arg)
{
	*(volatile u64 *)X86_PRIVATE_RAM_START = 0x1122334455667788ull;
	return 0;
}

int main(void)
{
	u64 v;

	report_prefix_push("protected-emulated");
	run_in_user(user_fill, NULL);
	v = *(volatile u64 *)X86_PRIVATE_RAM_START;
	if (v == 0x1122334455667788ull)
		report_skip("supervisor code reaches private RAM natively on this host");
	else
		report(false, "supervisor read of private RAM neither stopped the VM nor "
		       "read the value (%#lx)", v);
	report_prefix_pop();
	return report_summary();
}
