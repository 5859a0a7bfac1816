/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host unit-test vocabulary, shared with the guest tests:
 * report(cond, fmt, ...) records one check; report_skip() records a skip;
 * report_prefix_push()/pop() nest names; report_summary() prints the tally
 * and returns the exit status (0 pass, 1 fail, 77 all skipped).
 */
#ifndef KESTREL_TEST_H
#define KESTREL_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/compiler.h>

static unsigned int test_passes, test_failures, test_skips;
static char test_prefix[256];

static inline void report_prefix_push(const char *p)
{
	size_t n = strlen(test_prefix);

	snprintf(test_prefix + n, sizeof(test_prefix) - n, "%s: ", p);
}

static inline void report_prefix_pop(void)
{
	size_t n = strlen(test_prefix);

	if (n < 2)
		return;
	n -= 2;	/* drop the ": " of the last element */
	while (n > 0 && !(test_prefix[n - 1] == ' ' && test_prefix[n - 2] == ':'))
		n--;
	test_prefix[n] = '\0';
}

static inline __printf(2, 3) bool report(bool pass, const char *fmt, ...)
{
	va_list ap;

	printf("%s: %s", pass ? "PASS" : "FAIL", test_prefix);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (pass)
		test_passes++;
	else
		test_failures++;
	return pass;
}

static inline __printf(1, 2) void report_skip(const char *fmt, ...)
{
	va_list ap;

	printf("SKIP: %s", test_prefix);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	test_skips++;
}

static inline __printf(1, 2) void report_info(const char *fmt, ...)
{
	va_list ap;

	printf("INFO: %s", test_prefix);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/** report_summary() - print the tally; Return: 0 pass, 1 fail, 77 skipped */
static inline int report_summary(void)
{
	printf("SUMMARY: %u tests, %u unexpected failures, %u skipped\n",
	       test_passes + test_failures, test_failures, test_skips);
	fflush(stdout);
	if (test_failures)
		return 1;
	if (!test_passes && test_skips)
		return 77;
	return 0;
}

#endif /* KESTREL_TEST_H */
