// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shared value parsers: every accepted form of a size, the edges of
 * each type (the largest value that fits, the first that does not), and
 * the hostile forms strtoull() would have let through (blanks, signs, base
 * prefixes). A refused string must leave the output untouched.
 */
#include <kestrel/parse.h>

#include <errno.h>
#include <stdint.h>

#include "../test.h"

#define UNTOUCHED	0x5a5a5a5a5a5a5a5aULL

struct size_case {
	const char *s;
	bool ok;
	u64 v;
};

static const struct size_case size_cases[] = {
	{ "0", true, 0 },
	{ "4096", true, 4096 },
	{ "2k", true, 2048 },
	{ "2K", true, 2048 },
	{ "256M", true, 256ULL << 20 },
	{ "256m", true, 256ULL << 20 },
	{ "1G", true, 1ULL << 30 },
	{ "1GiB", true, 1ULL << 30 },
	{ "1GB", true, 1ULL << 30 },
	{ "1MiB", true, 1ULL << 20 },
	{ "3T", true, 3ULL << 40 },
	{ "16777215T", true, 16777215ULL << 40 },	/* the largest T that fits */
	{ "18446744073709551615", true, UINT64_MAX },
	{ "000000000000000000000000001K", true, 1024 },
	{ "16777216T", false, 0 },			/* overflows once shifted */
	{ "17179869184G", false, 0 },
	{ "18446744073709551616", false, 0 },		/* overflows the digits */
	{ "99999999999T", false, 0 },
	{ "", false, 0 },
	{ "K", false, 0 },
	{ "GiB", false, 0 },
	{ "1B", false, 0 },
	{ "1iB", false, 0 },
	{ "1Gib", false, 0 },
	{ "1GIB", false, 0 },
	{ "1KK", false, 0 },
	{ "1KiBx", false, 0 },
	{ "1P", false, 0 },
	{ "12X", false, 0 },
	{ "1.5G", false, 0 },
	{ "-1", false, 0 },
	{ "+1", false, 0 },
	{ " 1", false, 0 },
	{ "1 ", false, 0 },
	{ "0x10", false, 0 },
};

static void check_sizes(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(size_cases); i++) {
		const struct size_case *c = &size_cases[i];
		u64 v = UNTOUCHED;
		int ret = parse_size(c->s, &v);

		if (c->ok)
			report(!ret && v == c->v, "parse_size(\"%s\") = %llu (got %d, %llu)",
			       c->s, (unsigned long long)c->v, ret, (unsigned long long)v);
		else
			report(ret == -EINVAL && v == UNTOUCHED, "parse_size(\"%s\") refused (got %d)",
			       c->s, ret);
	}
}

static void check_numbers(void)
{
	static const char *const bad[] = { "", "12a", "a1", "-0", " 7", "7\n", "0x1", "1e3" };
	unsigned int n = 0x5a5a;
	u64 v = UNTOUCHED;

	report(!parse_u64("0", &v) && v == 0, "parse_u64(\"0\")");
	report(!parse_u64("18446744073709551615", &v) && v == UINT64_MAX,
	       "parse_u64 takes U64_MAX");
	v = UNTOUCHED;
	report(parse_u64("18446744073709551616", &v) == -EINVAL && v == UNTOUCHED,
	       "parse_u64 refuses U64_MAX + 1");
	report(parse_u64("99999999999999999999", &v) == -EINVAL && v == UNTOUCHED,
	       "parse_u64 refuses 20 nines");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		report(parse_u64(bad[i], &v) == -EINVAL && v == UNTOUCHED &&
		       parse_uint(bad[i], &n) == -EINVAL && n == 0x5a5a,
		       "parse_u64/parse_uint refuse \"%s\"", bad[i]);
	}
	report(!parse_uint("4294967295", &n) && n == UINT32_MAX, "parse_uint takes UINT_MAX");
	n = 0x5a5a;
	report(parse_uint("4294967296", &n) == -EINVAL && n == 0x5a5a,
	       "parse_uint refuses UINT_MAX + 1");
	report(!parse_uint("4096", &n) && n == 4096, "parse_uint(\"4096\")");
}

static void check_bools(void)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	static const char *const bad[] = { "", "ON", "True", "2", "y", "onn", " on", "of" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		bool b = false;

		report(!parse_bool(yes[i], &b) && b, "parse_bool(\"%s\") is true", yes[i]);
		b = true;
		report(!parse_bool(no[i], &b) && !b, "parse_bool(\"%s\") is false", no[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		bool b = true;

		report(parse_bool(bad[i], &b) == -EINVAL && b, "parse_bool refuses \"%s\"",
		       bad[i]);
	}
}

int main(void)
{
	check_sizes();
	check_numbers();
	check_bools();
	return report_summary();
}
