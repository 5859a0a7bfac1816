// SPDX-License-Identifier: GPL-2.0-only
/*
 * Value parsers shared by the command line and the vDPA management specs
 * (include/kestrel/parse.h). Hand-rolled rather than strtoull(): that one
 * skips blanks, takes a sign and reports overflow through errno, three
 * ways for a hostile string to mean something else than it shows.
 */
#include <kestrel/parse.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <kestrel/compiler.h>

/* Digits of @s up to @end (exclusive) as a number; -EINVAL on overflow. */
static int parse_digits(const char *s, const char *end, u64 *out)
{
	u64 v = 0;

	if (s == end)
		return -EINVAL;
	for (; s < end; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int parse_u64(const char *s, u64 *out)
{
	return parse_digits(s, s + strlen(s), out);
}

int parse_uint(const char *s, unsigned int *out)
{
	u64 v;

	if (parse_u64(s, &v) || v > UINT_MAX)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int parse_size(const char *s, u64 *out)
{
	const char *end = s + strspn(s, "0123456789");
	unsigned int shift;
	u64 v;

	if (parse_digits(s, end, &v))
		return -EINVAL;
	switch (*end) {
	case '\0': shift = 0; break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -EINVAL;
	}
	if (shift) {
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end || v > (UINT64_MAX >> shift))
			return -EINVAL;
	}
	*out = v << shift;
	return 0;
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

int parse_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}
