// SPDX-License-Identifier: GPL-2.0-only
/*
 * tests/unit/test.h itself: a deliberately failing comparison must print
 * the expression and both values, a compound check must name each failing
 * clause and only those, each helper evaluates its arguments once, and the
 * verdicts are C's own. Each case runs with the report stream captured
 * into memory and the tally saved, so that its PASS or FAIL line is
 * compared here and does not count; only the comparisons below count, and
 * they use plain report().
 */
#include <errno.h>
#include <stdint.h>

#include <kestrel/types.h>

#include "../test.h"

static char *cap_buf;
static size_t cap_len;
static unsigned int saved_passes, saved_failures;

static void capture_begin(void)
{
	saved_passes = test_passes;
	saved_failures = test_failures;
	test_out = open_memstream(&cap_buf, &cap_len);
	if (!test_out) {
		perror("open_memstream");
		exit(1);
	}
}

/* Stop capturing; Return: the captured text (the caller frees it) */
static char *capture_end(unsigned int *passes, unsigned int *failures)
{
	fclose(test_out);
	test_out = NULL;
	*passes = test_passes - saved_passes;
	*failures = test_failures - saved_failures;
	test_passes = saved_passes;
	test_failures = saved_failures;
	return cap_buf;
}

/* The captured output is exactly @want, and one line of the expected verdict. */
static void expect(const char *what, bool pass, const char *want)
{
	unsigned int passes, failures;
	char *got = capture_end(&passes, &failures);
	bool ok = !strcmp(got, want) && passes == (pass ? 1u : 0u) &&
		  failures == (pass ? 0u : 1u);

	report(ok, "%s", what);
	if (!ok)
		report_info("got \"%s\" (%u pass, %u fail), expected \"%s\"", got,
			    passes, failures, want);
	free(got);
}

static int calls;

static int count_call(int v)
{
	calls++;
	return v;
}

static void test_integers(void)
{
	int neg = -22;
	u32 big = 0xffffffff;
	u64 addr = 0x2000;
	unsigned int n = 2;

	report_prefix_push("int");

	capture_begin();
	report_eq(n, 3, "two is not three");
	expect("unsigned ==: both values", false,
	       "FAIL: int: two is not three -- n == 3: got 2, expected 3\n");

	capture_begin();
	report_eq(addr, 0x1000, "lookup at %s", "0x1000");
	expect("values from 10 on also in hex; message arguments", false,
	       "FAIL: int: lookup at 0x1000 -- addr == 0x1000: got 8192 (0x2000), expected 4096 (0x1000)\n");

	capture_begin();
	report_eq(neg, 0, "negative");
	expect("signed values print signed", false,
	       "FAIL: int: negative -- neg == 0: got -22, expected 0\n");

	capture_begin();
	report_err(neg, -EEXIST, "errno");
	expect("report_err() names errnos", false,
	       "FAIL: int: errno -- neg == -EEXIST: got -22 (-EINVAL), expected -17 (-EEXIST)\n");

	capture_begin();
	check_err(neg, -ENOENT);
	report_checks("clause");
	expect("clauses keep their macros unexpanded too", false,
	       "FAIL: int: clause -- neg == -ENOENT: got -22 (-EINVAL), expected -2 (-ENOENT)\n");

	capture_begin();
	report_ne(n, 2, "ne");
	expect("other operators: \"expected <op> value\"", false,
	       "FAIL: int: ne -- n != 2: got 2, expected != 2\n");

	capture_begin();
	report_lt(n, 1, "lt");
	expect("lt", false, "FAIL: int: lt -- n < 1: got 2, expected < 1\n");

	capture_begin();
	report_eq(n, 2, "equal");
	expect("a passing comparison prints only the message", true,
	       "PASS: int: equal\n");

	capture_begin();
	report_eq(big, -1, "C's conversions");
	expect("u32 0xffffffff == -1 holds, as in C", true,
	       "PASS: int: C's conversions\n");

	capture_begin();
	report_ge(big, 0, "ge");
	expect("ge", true, "PASS: int: ge\n");

	calls = 0;
	capture_begin();
	report_eq(count_call(1), count_call(2), "once");
	expect("a failing comparison", false,
	       "FAIL: int: once -- count_call(1) == count_call(2): got 1, expected 2\n");
	report(calls == 2, "evaluates each side once (%d calls)", calls);

	report_prefix_pop();
}

static void test_pointers_strings_bytes(void)
{
	static const u8 a[4] = { 1, 2, 3, 4 }, b[4] = { 1, 2, 9, 4 };
	const char *null = NULL, *s = "ELF";
	char buf[32];

	report_prefix_push("other");

	capture_begin();
	report_nonnull(null, "nonnull");
	expect("report_nonnull", false,
	       "FAIL: other: nonnull -- null != NULL: got NULL, expected != NULL\n");

	snprintf(buf, sizeof(buf), "%p", (const void *)s);
	capture_begin();
	report_null(s, "null");
	{
		char want[128];

		snprintf(want, sizeof(want),
			 "FAIL: other: null -- s == NULL: got %s, expected NULL\n", buf);
		expect("report_null prints the pointer", false, want);
	}

	capture_begin();
	report_ptr(a, a, "same");
	expect("report_ptr passes on the same pointer", true, "PASS: other: same\n");

	capture_begin();
	report_str(s, "bzImage", "format");
	expect("report_str quotes both", false,
	       "FAIL: other: format -- s == \"bzImage\": got \"ELF\", expected \"bzImage\"\n");

	capture_begin();
	report_str(null, "x", "null string");
	expect("report_str survives NULL", false,
	       "FAIL: other: null string -- null == \"x\": got NULL, expected \"x\"\n");

	capture_begin();
	report_str("a\"b\n", "ab", "escapes");
	expect("report_str escapes quotes and newlines", false,
	       "FAIL: other: escapes -- \"a\\\"b\\n\" == \"ab\": got \"a\\\"b\\n\", expected \"ab\"\n");

	capture_begin();
	report_contains(s, "PVH", "substring");
	expect("report_contains", false,
	       "FAIL: other: substring -- s contains \"PVH\": got \"ELF\", expected it to contain \"PVH\"\n");

	capture_begin();
	report_mem(a, b, sizeof(a), "bytes");
	expect("report_mem names the first differing byte", false,
	       "FAIL: other: bytes -- a == b (4 bytes): byte 2 differs: got 0x03, expected 0x09\n");

	capture_begin();
	report_mem(a, b, 2, "prefix");
	expect("report_mem compares only len bytes", true, "PASS: other: prefix\n");

	capture_begin();
	report_true(a[0] == 2, "true");
	expect("report_true", false, "FAIL: other: true -- a[0] == 2: got false, expected true\n");

	capture_begin();
	report_false(a[0] == 1, "false");
	expect("report_false", false, "FAIL: other: false -- a[0] == 1: got true, expected false\n");

	report_prefix_pop();
}

static void test_compound(void)
{
	const int *p = NULL;
	int x = 1, y = 2, z = 3;
	bool held;

	report_prefix_push("checks");

	capture_begin();
	check_eq(x, 1);
	check_eq(y, 5);
	check_true(z == 3);
	check_eq(z, 4);
	held = report_checks("three of four");
	expect("each failing clause named, in order, the passing ones not", false,
	       "FAIL: checks: three of four -- y == 5: got 2, expected 5; z == 4: got 3, expected 4\n");
	report(!held, "report_checks() returns the verdict");

	capture_begin();
	check_eq(x, 1);
	check_lt(y, z);
	held = report_checks("all hold");
	expect("all clauses holding: PASS", true, "PASS: checks: all hold\n");
	report(held, "and returns true");

	capture_begin();
	if (check_nonnull(p))
		check_eq(*p, 1);
	report_checks("guarded");
	expect("a guard keeps the dependent clause from running", false,
	       "FAIL: checks: guarded -- p != NULL: got NULL, expected != NULL\n");

	calls = 0;
	capture_begin();
	if (check_eq(count_call(1), 2) && check_eq(count_call(3), 3))
		check_eq(count_call(4), 4);
	report_checks("steps");
	expect("&& between clauses stops at the first that fails", false,
	       "FAIL: checks: steps -- count_call(1) == 2: got 1, expected 2\n");
	report(calls == 1, "and runs nothing after it (%d calls)", calls);

	capture_begin();
	report_checks("empty");
	expect("no clause at all is a failure", false,
	       "FAIL: checks: empty -- no check_*() before report_checks()\n");

	capture_begin();
	check_eq(x, 1);
	report_eq(y, 2, "merged");
	expect("a report_*() closes earlier clauses too", true, "PASS: checks: merged\n");

	capture_begin();
	for (int i = 0; i < 200; i++)
		check_eq(x, 2);
	report_checks("long");
	{
		unsigned int passes, failures;
		char *got = capture_end(&passes, &failures);
		size_t len = strlen(got);

		bool ok = failures == 1 && len < sizeof(test_check_detail) + 64 &&
			  len > 4 && !strcmp(got + len - 4, "...\n");

		report(ok, "a long detail is cut with \"...\" (%zu bytes)", len);
		if (!ok)
			report_info("got \"%s\" (%u fail)", got, failures);
		free(got);
	}

	held = !test_nr_checks && !test_nr_check_fails && !test_check_detail[0];
	report(held, "report_checks() leaves nothing pending");
	if (!held)
		report_info("%u clauses, %u failed, detail \"%s\"", test_nr_checks,
			    test_nr_check_fails, test_check_detail);

	report_prefix_pop();
}

static void test_summary(void)
{
	unsigned int passes, failures;
	static const char want[] = "FAIL: 1 check_*() clause(s) never reported\n";
	unsigned int skips = test_skips;
	int x = 1;
	char *got;
	bool ok;

	capture_begin();
	check_eq(x, 1);
	report_summary();
	got = capture_end(&passes, &failures);
	test_skips = skips;
	ok = failures == 1 && !strncmp(got, want, strlen(want));
	report(ok, "report_summary() fails clauses left unreported, even passing ones");
	if (!ok)
		report_info("got \"%s\" (%u fail)", got, failures);
	free(got);
}

int main(void)
{
	test_integers();
	test_pointers_strings_bytes();
	test_compound();
	test_summary();
	return report_summary();
}
