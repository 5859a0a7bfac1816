/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_PARSE_H
#define KESTREL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <kestrel/compiler.h>
#include <kestrel/types.h>

/*
 * Value parsers for command-line options and device attributes, one of
 * each for the whole program so that "--memory 1GiB" and "capacity=1GiB"
 * accept the same forms. The input is hostile: each parser takes the whole
 * string or nothing (no sign, no leading or trailing blanks, no base
 * prefixes), never overflows, and leaves *@out alone on failure. None of
 * them logs: the caller names the argument and its accepted form.
 */

/**
 * parse_u64() - a decimal number: one or more digits, nothing else
 * @s: the string
 * @out: its value
 *
 * Return: 0, or -EINVAL (empty, not all digits, or above U64_MAX).
 */
int parse_u64(const char *s, u64 *out);

/**
 * parse_uint() - parse_u64() for an unsigned int
 * @s: the string
 * @out: its value
 *
 * Return: 0, or -EINVAL (as parse_u64(), or above UINT_MAX).
 */
int parse_uint(const char *s, unsigned int *out);

/**
 * parse_size() - a byte count: digits with an optional binary suffix
 * @s: "4096", "2k", "256M", "1G", "1GiB", "1GB", "2T"
 * @out: bytes
 *
 * The suffix is K, M, G or T in either case (x 2^10, 2^20, 2^30, 2^40),
 * optionally followed by exactly "iB" or "B"; both mean the same binary
 * multiple. A bare "B" or "iB" without a multiplier is refused.
 *
 * Return: 0, or -EINVAL (any other form, or a value above U64_MAX).
 */
int parse_size(const char *s, u64 *out);

/**
 * parse_bool() - on|off, yes|no, true|false, 1|0 (lower case)
 * @s: the string
 * @out: its value
 *
 * Return: 0, or -EINVAL for anything else.
 */
int parse_bool(const char *s, bool *out);

/**
 * parse_fail() - say why a hostile input was refused, for the caller to print
 * @err: the buffer the message goes into
 * @errlen: its size (the message is cut to fit)
 * @fmt: printf format of the message
 *
 * For checkers that return their reason rather than log it (the API's
 * request bodies, snapshot files).
 * Return: -EINVAL.
 */
int parse_fail(char *err, size_t errlen, const char *fmt, ...) __printf(3, 4);

#endif /* KESTREL_PARSE_H */
