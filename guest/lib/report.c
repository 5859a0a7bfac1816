// SPDX-License-Identifier: GPL-2.0-only
/*
 * report(): one PASS/FAIL/SKIP line per check, with the current prefix
 * stack, counted for report_summary(). Counters are updated under a lock
 * so APs may report too (the console already serializes lines).
 */
#include "guest.h"
#include "x86/smp.h"

#define PREFIX_MAX	128

static char prefix[PREFIX_MAX];
static unsigned int tests, failures, skipped;
static struct spinlock report_lock;

void report_prefix_push(const char *p)
{
	size_t len = strlen(prefix), add = strlen(p);

	if (len + add + 3 > sizeof(prefix))
		return;
	memcpy(prefix + len, p, add);
	memcpy(prefix + len + add, ": ", 3);
}

void report_prefix_pop(void)
{
	size_t len = strlen(prefix);

	if (len < 2)
		return;
	len -= 2;			/* the trailing ": " */
	while (len && !(prefix[len - 1] == ' ' && len >= 2 && prefix[len - 2] == ':'))
		len--;
	prefix[len] = '\0';
}

static void report_line(const char *tag, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	printf("%s: %s%s\n", tag, prefix, msg);
}

void report(bool pass, const char *fmt, ...)
{
	va_list ap;

	spin_lock(&report_lock);
	tests++;
	if (!pass)
		failures++;
	va_start(ap, fmt);
	report_line(pass ? "PASS" : "FAIL", fmt, ap);
	va_end(ap);
	spin_unlock(&report_lock);
}

void report_skip(const char *fmt, ...)
{
	va_list ap;

	spin_lock(&report_lock);
	tests++;
	skipped++;
	va_start(ap, fmt);
	report_line("SKIP", fmt, ap);
	va_end(ap);
	spin_unlock(&report_lock);
}

void report_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line("INFO", fmt, ap);
	va_end(ap);
}

int report_summary(void)
{
	spin_lock(&report_lock);
	printf("SUMMARY: %u tests, %u unexpected failures, %u skipped\n",
	       tests, failures, skipped);
	if (failures)
		guest_exit(1);
	if (tests == skipped)
		guest_exit(38);		/* kestrel status 77: skip */
	guest_exit(0);
}
