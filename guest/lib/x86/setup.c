// SPDX-License-Identifier: GPL-2.0-only
/* From start.S to main(): descriptors, interrupt controllers, console. */
#include "guest.h"
#include "x86/apic.h"
#include "x86/desc.h"
#include "x86/processor.h"

int main(void);
void guest_start(void);
void console_init(void);

void guest_start(void)
{
	console_init();
	idt_setup();
	cpu_load_descriptors(0);
	/* The 8259s stay masked: devices are routed through the IOAPIC. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	apic_setup();
	apic_wait_setup();
	main();
	report_summary();
}
