// SPDX-License-Identifier: GPL-2.0-only
/*
 * Console on COM1, and the ways out of a test run. No LSR polling: the
 * UART kestrel (and QEMU) emulate is always ready to transmit, and every
 * port access is an exit we would rather not pay twice per byte.
 */
#include "guest.h"
#include "x86/processor.h"
#include "x86/smp.h"

#define COM1		0x3f8
#define DEBUG_EXIT	0xf4

static struct spinlock console_lock;

void console_init(void);

void console_init(void)
{
	outb(COM1 + 1, 0x00);		/* IER: polled */
	outb(COM1 + 3, 0x80);		/* DLAB */
	outb(COM1 + 0, 0x01);		/* 115200 */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);		/* 8N1 */
}

void console_write(const char *s, size_t len)
{
	spin_lock(&console_lock);
	for (size_t i = 0; i < len; i++)
		outb(COM1, (u8)s[i]);
	spin_unlock(&console_lock);
}

void guest_exit(int code)
{
	outb(DEBUG_EXIT, (u8)code);
	/* No debug-exit device: reset through the i8042 instead. */
	outb(0x64, 0xfe);
	for (;;)
		__asm__ __volatile__("cli; hlt");
}
