/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host unit-test vocabulary, shared with the guest tests:
 * report(cond, fmt, ...) records one check; report_skip() records a skip;
 * report_prefix_push()/pop() nest names; report_summary() prints the tally
 * and returns the exit status (0 pass, 1 fail, 77 all skipped).
 *
 * Host tests also compare values, so that a failure says what it saw:
 *
 *	report_eq(v, 0x1000, "lookup");
 *	FAIL: iotlb: lookup -- v == 0x1000: got 8192 (0x2000), expected 4096 (0x1000)
 *
 * report_eq/ne/lt/le/gt/ge(a, b, fmt, ...) compare integers (or pointers)
 * with C's own conversions (both sides are converted to the type of
 * "0 ? a : b" first, so "u32 v == -1" means what it means in C); signed
 * values print signed. report_err() is report_eq() that also names negative
 * errnos (-22 (-EINVAL)); report_ptr(), report_null(), report_nonnull()
 * compare pointers; report_str() compares strings (NULL only equals NULL);
 * report_contains() looks for a substring; report_mem() compares bytes and
 * names the first that differs; report_true()/report_false() print the
 * expression that was not. Each evaluates its arguments once.
 *
 * A compound condition is a list of check_*() clauses (the same names
 * without "report_" and without the message) closed by one
 * report_checks(fmt, ...): one PASS or FAIL line, the FAIL line naming
 * every clause that failed, with its values, after " -- " and separated by
 * "; ". Clauses run in order and all of them run; each returns whether it
 * held, so a clause that is only safe after another is guarded by it:
 *
 *	if (check_nonnull(p))
 *		check_eq(p->len, 32);
 *	report_checks("map stops at the region boundary");
 *
 * and steps that only make sense in turn keep C's short-circuit with &&
 * (the FAIL line then names the first step that failed):
 *
 *	if (check_eq(vdrv_map(&d, 0), 0) && check_eq(vdrv_vq_setup(&d, 0, 64), 0))
 *		check_eq(vdrv_driver_ok(&d), 0);
 *	if (!report_checks("bring-up"))
 *		return report_summary();
 *
 * The check state is per test program and not locked: report from one
 * thread. report_summary() fails a test that left clauses unreported.
 */
#ifndef KESTREL_TEST_H
#define KESTREL_TEST_H

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kestrel/compiler.h>

static unsigned int test_passes, test_failures, test_skips;
static char test_prefix[256];
/* Where reports go; NULL is stdout (report_test captures it). */
static FILE *test_out;

/* Clauses since the last report_checks(), and what the failing ones said. */
static unsigned int test_nr_checks, test_nr_check_fails;
static char test_check_detail[2048];

/* Threads of this process whose name begins with @prefix (/proc/self/task). */
static inline unsigned int test_count_threads(const char *prefix)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	unsigned int n = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		char path[300], comm[32] = "";
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, comm, sizeof(comm) - 1) > 0 &&
		    !strncmp(comm, prefix, strlen(prefix)))
			n++;
		close(fd);
	}
	closedir(dir);
	return n;
}

static inline FILE *test_stream(void)
{
	return test_out ? test_out : stdout;
}

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

/* One "TAG: prefix message" line; @detail (may be NULL) follows " -- ". */
static inline __printf(3, 0) void test_vline(const char *tag, const char *detail,
					     const char *fmt, va_list ap)
{
	FILE *f = test_stream();

	fprintf(f, "%s: %s", tag, test_prefix);
	vfprintf(f, fmt, ap);
	if (detail && detail[0])
		fprintf(f, " -- %s", detail);
	fputc('\n', f);
}

/* One PASS/FAIL line; a FAIL carries @detail. */
static inline __printf(3, 0) bool test_vreport(bool pass, const char *detail,
					       const char *fmt, va_list ap)
{
	test_vline(pass ? "PASS" : "FAIL", pass ? NULL : detail, fmt, ap);
	if (pass)
		test_passes++;
	else
		test_failures++;
	return pass;
}

static inline __printf(2, 3) bool report(bool pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pass = test_vreport(pass, NULL, fmt, ap);
	va_end(ap);
	return pass;
}

static inline __printf(1, 2) void report_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	test_vline("SKIP", NULL, fmt, ap);
	va_end(ap);
	test_skips++;
}

static inline __printf(1, 2) void report_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	test_vline("INFO", NULL, fmt, ap);
	va_end(ap);
}

/* ---- clauses -------------------------------------------------------------- */

/* Append one failing clause's text to the detail of the next report_checks(). */
static inline __printf(1, 2) void test_check_note(const char *fmt, ...)
{
	size_t n = strlen(test_check_detail), room = sizeof(test_check_detail) - n;
	va_list ap;
	int w;

	if (room <= 4)
		return;	/* already cut with "..." */
	if (n) {
		snprintf(test_check_detail + n, room, "; ");
		n += 2;
		room -= 2;
	}
	va_start(ap, fmt);
	w = vsnprintf(test_check_detail + n, room, fmt, ap);
	va_end(ap);
	if (w >= 0 && (size_t)w >= room)
		memcpy(test_check_detail + sizeof(test_check_detail) - 4, "...", 4);
}

/* Count one clause; Return: @pass */
static inline bool test_check_done(bool pass)
{
	test_nr_checks++;
	if (!pass)
		test_nr_check_fails++;
	return pass;
}

enum test_val_kind { TEST_VAL_U, TEST_VAL_S, TEST_VAL_PTR };

/* A compared value as it is printed: its bits and how to read them. */
struct test_val {
	unsigned long long v;
	enum test_val_kind kind;
};

struct test_val_str {
	char s[80];
};

/* After the usual arithmetic conversions only these can be signed. */
#define test_is_signed(x) _Generic((x), int: 1, long: 1, long long: 1, default: 0)
/* 5 is GCC's and clang's pointer_type_class */
#define test_val(x) ((struct test_val){					\
	.v = (unsigned long long)(x),					\
	.kind = __builtin_classify_type(x) == 5 ? TEST_VAL_PTR :	\
		test_is_signed(x) ? TEST_VAL_S : TEST_VAL_U,		\
})

/* "-22", "4096 (0x1000)", "0x7f0012345000", "NULL"; errno names if @err */
static inline struct test_val_str test_val_str(struct test_val v, bool err)
{
	struct test_val_str s;
	long long sv = (long long)v.v;
	const char *name;

	switch (v.kind) {
	case TEST_VAL_PTR:
		if (!v.v)
			snprintf(s.s, sizeof(s.s), "NULL");
		else
			snprintf(s.s, sizeof(s.s), "%#llx", v.v);
		break;
	case TEST_VAL_S:
	case TEST_VAL_U:
		if (v.kind == TEST_VAL_S && sv < 0) {
			name = err && sv > -4096 ? strerrorname_np((int)-sv) : NULL;
			if (name)
				snprintf(s.s, sizeof(s.s), "%lld (-%s)", sv, name);
			else
				snprintf(s.s, sizeof(s.s), "%lld", sv);
		} else if (v.v < 10) {
			snprintf(s.s, sizeof(s.s), "%llu", v.v);
		} else {
			snprintf(s.s, sizeof(s.s), "%llu (%#llx)", v.v, v.v);
		}
		break;
	}
	return s;
}

static inline bool test_check_cmp(bool pass, const char *ea, const char *op,
				  const char *eb, struct test_val a,
				  struct test_val b, bool err)
{
	if (!pass)
		test_check_note("%s %s %s: got %s, expected %s%s%s", ea, op, eb,
				test_val_str(a, err).s,
				strcmp(op, "==") ? op : "", strcmp(op, "==") ? " " : "",
				test_val_str(b, err).s);
	return test_check_done(pass);
}

/*
 * Both sides in the type C compares them in, each evaluated once. A
 * statement expression, so that a clause is usable as a condition. The
 * public macros stringify their own arguments (@ea, @eb): one level
 * further down they would already be macro-expanded.
 */
#define test_cmp(a, op, b, ea, eb, err) ({				\
	__typeof__(0 ? (a) : (b)) test_a_ = (a), test_b_ = (b);	\
	bool test_pass_ = test_a_ op test_b_;				\
									\
	test_check_cmp(test_pass_, ea, #op, eb, test_val(test_a_),	\
		       test_val(test_b_), err);				\
	test_pass_;							\
})

#define check_eq(a, b)		test_cmp(a, ==, b, #a, #b, false)
#define check_ne(a, b)		test_cmp(a, !=, b, #a, #b, false)
#define check_lt(a, b)		test_cmp(a, <, b, #a, #b, false)
#define check_le(a, b)		test_cmp(a, <=, b, #a, #b, false)
#define check_gt(a, b)		test_cmp(a, >, b, #a, #b, false)
#define check_ge(a, b)		test_cmp(a, >=, b, #a, #b, false)
/* check_eq() that names negative values as errnos */
#define check_err(a, b)		test_cmp(a, ==, b, #a, #b, true)

static inline bool test_check_ptr(const void *a, const void *b, const char *ea,
				  const char *eb, bool want_equal)
{
	bool pass = (a == b) == want_equal;

	if (!pass)
		test_check_note("%s %s %s: got %s, expected %s%s", ea,
				want_equal ? "==" : "!=", eb,
				test_val_str(test_val(a), false).s,
				want_equal ? "" : "!= ",
				test_val_str(test_val(b), false).s);
	return test_check_done(pass);
}

/*
 * Clauses that guard others yield their verdict from the caller's own
 * value rather than through the helper, so that the compiler sees what a
 * guard proves (out-parameters written, a pointer non-NULL).
 */
#define check_ptr(a, b)		test_check_ptr((a), (b), #a, #b, true)
#define check_null(p) ({						\
	const void *test_p_ = (p);					\
									\
	test_check_ptr(test_p_, NULL, #p, "NULL", true);		\
	test_p_ == NULL;						\
})
#define check_nonnull(p) ({						\
	const void *test_p_ = (p);					\
									\
	test_check_ptr(test_p_, NULL, #p, "NULL", false);		\
	test_p_ != NULL;						\
})

static inline bool test_check_bool(bool v, bool want, const char *e)
{
	if (v != want)
		test_check_note("%s: got %s, expected %s", e, v ? "true" : "false",
				want ? "true" : "false");
	return test_check_done(v == want);
}

#define check_true(x) ({						\
	bool test_v_ = (x);						\
									\
	test_check_bool(test_v_, true, #x);				\
	test_v_;							\
})
#define check_false(x) ({						\
	bool test_v_ = (x);						\
									\
	test_check_bool(test_v_, false, #x);				\
	!test_v_;							\
})

/* @s quoted and escaped, at most about 60 characters of it */
static inline struct test_val_str test_str_quote(const char *s)
{
	struct test_val_str q;
	size_t n = 0;

	if (!s) {
		snprintf(q.s, sizeof(q.s), "NULL");
		return q;
	}
	q.s[n++] = '"';
	for (; *s && n < sizeof(q.s) - 8; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			n += snprintf(q.s + n, sizeof(q.s) - n, "\\%c", c);
		else if (c == '\n')
			n += snprintf(q.s + n, sizeof(q.s) - n, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			n += snprintf(q.s + n, sizeof(q.s) - n, "\\x%02x", c);
		else
			q.s[n++] = (char)c;
	}
	snprintf(q.s + n, sizeof(q.s) - n, *s ? "\"..." : "\"");
	return q;
}

static inline bool test_check_str(const char *a, const char *b, const char *ea,
				  const char *eb)
{
	bool pass = a && b ? !strcmp(a, b) : a == b;

	if (!pass)
		test_check_note("%s == %s: got %s, expected %s", ea, eb,
				test_str_quote(a).s, test_str_quote(b).s);
	return test_check_done(pass);
}

static inline bool test_check_contains(const char *hay, const char *needle,
				       const char *eh, const char *en)
{
	bool pass = hay && needle && strstr(hay, needle);

	if (!pass)
		test_check_note("%s contains %s: got %s, expected it to contain %s",
				eh, en, test_str_quote(hay).s,
				test_str_quote(needle).s);
	return test_check_done(pass);
}

/* check_str(): strcmp() == 0; check_contains(): strstr() != NULL */
#define check_str(a, b)		test_check_str((a), (b), #a, #b)
#define check_contains(h, n)	test_check_contains((h), (n), #h, #n)

static inline bool test_check_mem(const void *a, const void *b, size_t len,
				  const char *ea, const char *eb)
{
	const unsigned char *pa = a, *pb = b;
	size_t i;

	if (!len || (pa && pb && !memcmp(pa, pb, len)))
		return test_check_done(true);
	if (!pa || !pb) {
		test_check_note("%s == %s (%zu bytes): got %s, expected %s", ea, eb,
				len, pa ? "memory" : "NULL", pb ? "memory" : "NULL");
		return test_check_done(false);
	}
	for (i = 0; pa[i] == pb[i]; i++)
		;
	test_check_note("%s == %s (%zu bytes): byte %zu differs: got %#04x, expected %#04x",
			ea, eb, len, i, pa[i], pb[i]);
	return test_check_done(false);
}

/* check_mem(): memcmp() == 0 over @len bytes */
#define check_mem(a, b, len)	test_check_mem((a), (b), (len), #a, #b)

/**
 * report_checks() - report the clauses since the last one as one test
 * Return: whether every clause held. Without any clause it fails: a test
 * that cannot fail is a defect.
 */
static inline __printf(1, 2) bool report_checks(const char *fmt, ...)
{
	bool pass = test_nr_checks && !test_nr_check_fails;
	va_list ap;

	if (!test_nr_checks)
		test_check_note("no check_*() before report_checks()");
	va_start(ap, fmt);
	test_vreport(pass, test_check_detail, fmt, ap);
	va_end(ap);
	test_nr_checks = 0;
	test_nr_check_fails = 0;
	test_check_detail[0] = '\0';
	return pass;
}

/*
 * One clause, one report (the clause first, then the message's arguments).
 * Spelt out rather than built on check_*(), for the stringification.
 */
#define report_eq(a, b, ...)	(test_cmp(a, ==, b, #a, #b, false), report_checks(__VA_ARGS__))
#define report_ne(a, b, ...)	(test_cmp(a, !=, b, #a, #b, false), report_checks(__VA_ARGS__))
#define report_lt(a, b, ...)	(test_cmp(a, <, b, #a, #b, false), report_checks(__VA_ARGS__))
#define report_le(a, b, ...)	(test_cmp(a, <=, b, #a, #b, false), report_checks(__VA_ARGS__))
#define report_gt(a, b, ...)	(test_cmp(a, >, b, #a, #b, false), report_checks(__VA_ARGS__))
#define report_ge(a, b, ...)	(test_cmp(a, >=, b, #a, #b, false), report_checks(__VA_ARGS__))
#define report_err(a, b, ...)	(test_cmp(a, ==, b, #a, #b, true), report_checks(__VA_ARGS__))
#define report_ptr(a, b, ...)	(test_check_ptr((a), (b), #a, #b, true), report_checks(__VA_ARGS__))
#define report_null(p, ...)	(test_check_ptr((p), NULL, #p, "NULL", true), report_checks(__VA_ARGS__))
#define report_nonnull(p, ...)	(test_check_ptr((p), NULL, #p, "NULL", false), report_checks(__VA_ARGS__))
#define report_true(x, ...)	(test_check_bool(!!(x), true, #x), report_checks(__VA_ARGS__))
#define report_false(x, ...)	(test_check_bool(!!(x), false, #x), report_checks(__VA_ARGS__))
#define report_str(a, b, ...)	(test_check_str((a), (b), #a, #b), report_checks(__VA_ARGS__))
#define report_contains(h, n, ...) \
	(test_check_contains((h), (n), #h, #n), report_checks(__VA_ARGS__))
#define report_mem(a, b, len, ...) \
	(test_check_mem((a), (b), (len), #a, #b), report_checks(__VA_ARGS__))

/** report_summary() - print the tally; Return: 0 pass, 1 fail, 77 skipped */
static inline int report_summary(void)
{
	if (test_nr_checks) {
		test_nr_check_fails++;	/* a lost verdict is a failure */
		report_checks("%u check_*() clause(s) never reported", test_nr_checks);
	}
	fprintf(test_stream(), "SUMMARY: %u tests, %u unexpected failures, %u skipped\n",
		test_passes + test_failures, test_failures, test_skips);
	fflush(test_stream());
	if (test_failures)
		return 1;
	if (!test_passes && test_skips)
		return 77;
	return 0;
}

#endif /* KESTREL_TEST_H */
