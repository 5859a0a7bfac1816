// SPDX-License-Identifier: GPL-2.0-only
/*
 * A small vsnprintf: %d %i %u %x %X %o %c %s %p %%, flags '-' '0' '#', a field
 * width (number or '*'), length modifiers hh h l ll z. Enough for tests.
 */
#include "guest.h"

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_char(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_char(o, c);
}

static void out_str(struct out *o, const char *s, int width, bool left)
{
	int n = (int)strlen(s);

	if (!left)
		out_pad(o, ' ', width - n);
	while (*s)
		out_char(o, *s++);
	if (left)
		out_pad(o, ' ', width - n);
}

static void out_num(struct out *o, u64 v, bool neg, unsigned int base,
		    bool upper, int width, bool zero, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, len;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + (neg ? 1 : 0);
	if (!left && !zero)
		out_pad(o, ' ', width - len);
	if (neg)
		out_char(o, '-');
	if (!left && zero)
		out_pad(o, '0', width - len);
	while (n)
		out_char(o, tmp[--n]);
	if (left)
		out_pad(o, ' ', width - len);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size };

	for (; *fmt; fmt++) {
		bool left = false, zero = false, is_signed = false, alt = false;
		int width = 0, lng = 0;
		unsigned int base = 10;
		bool upper = false;
		u64 v;

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '#')
				alt = true;
			else if (*fmt == '0')
				zero = true;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		for (;; fmt++) {
			if (*fmt == 'l' || *fmt == 'z')
				lng++;
			else if (*fmt != 'h')
				break;
		}
		switch (*fmt) {
		case '\0':
			goto done;
		case '%':
			out_char(&o, '%');
			continue;
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			continue;
		case 's': {
			const char *s = va_arg(ap, const char *);

			out_str(&o, s ? s : "(null)", width, left);
			continue;
		}
		case 'p':
			v = (u64)(uintptr_t)va_arg(ap, void *);
			out_str(&o, "0x", 0, false);
			out_num(&o, v, false, 16, false, 0, false, false);
			continue;
		case 'd':
		case 'i':
			is_signed = true;
			break;
		case 'u':
			break;
		case 'x':
			base = 16;
			break;
		case 'X':
			base = 16;
			upper = true;
			break;
		case 'o':
			base = 8;
			break;
		default:
			out_char(&o, '%');
			out_char(&o, *fmt);
			continue;
		}
		if (alt && base == 16)
			out_str(&o, "0x", 0, false);
		if (is_signed) {
			s64 sv = lng ? va_arg(ap, s64) : va_arg(ap, int);

			out_num(&o, sv < 0 ? -(u64)sv : (u64)sv, sv < 0, base,
				upper, width, zero, left);
		} else {
			v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned int);
			out_num(&o, v, false, base, upper, width, zero, left);
		}
	}
done:
	if (size)
		buf[MIN(o.len, size - 1)] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, MIN((size_t)n, sizeof(buf) - 1));
	return n;
}

void puts(const char *s)
{
	console_write(s, strlen(s));
}
