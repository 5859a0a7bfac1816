/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_LOG_H
#define KESTREL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

#include <kestrel/compiler.h>

/*
 * Logging. Only log.c and main.c write to stdout/stderr directly; every other
 * subsystem goes through these. Messages go to stderr with a "kestrel: "
 * prefix (stdout belongs to the guest console). Messages a guest or a peer
 * can trigger must use the _ratelimited forms.
 */
enum log_level {
	LOG_ERR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/** log_level_set() - drop messages less important than @level */
void log_level_set(enum log_level level);

/** log_level_get() - the current threshold */
enum log_level log_level_get(void);

/** log_print() - emit one message at @level (use the pr_* macros) */
void log_print(enum log_level level, const char *fmt, ...) __printf(2, 3);

/**
 * log_print_at() - log_print() naming the source line it comes from
 * @file: __FILE__ of the caller (kept by pointer: a string literal)
 * @line: __LINE__
 */
void log_print_at(enum log_level level, const char *file, int line,
		  const char *fmt, ...) __printf(4, 5);

/**
 * log_err_vline() - log @fmt at LOG_ERR as exactly one line
 * @prefix: put before the message ("" for none)
 * @fmt: the message; newlines and carriage returns in the result (hostile
 *	text it quotes) become '?'
 * @ap: its arguments
 */
void log_err_vline(const char *prefix, const char *fmt, va_list ap) __printf(2, 0);

/**
 * log_set_sink() - hand every message that passes the threshold to @sink
 * instead of writing it to stderr
 * @sink: gets the level, the origin (@file NULL when unknown) and the
 *	  formatted message (ending in a newline); called from any thread,
 *	  so it must be thread-safe. NULL restores stderr.
 */
void log_set_sink(void (*sink)(enum log_level level, const char *file, int line,
			       const char *msg));

/**
 * struct ratelimit - at most @burst messages per @interval_ms
 * @interval_ms: window length
 * @burst: messages allowed per window
 * @begin_ms: start of the current window (CLOCK_MONOTONIC)
 * @printed: messages printed in the current window
 * @missed: messages suppressed in the current window
 *
 * Not locked: a lost update costs one message too many or too few.
 */
struct ratelimit {
	unsigned int interval_ms;
	unsigned int burst;
	unsigned long long begin_ms;
	unsigned int printed;
	unsigned int missed;
};

#define RATELIMIT_INIT { .interval_ms = 5000, .burst = 10 }

/** ratelimit_allow() - true if one more message may be printed now */
bool ratelimit_allow(struct ratelimit *rl);

#define __pr(level, fmt, ...)						\
	log_print_at(level, __FILE__, __LINE__, fmt "\n", ##__VA_ARGS__)
#define pr_err(fmt, ...)	__pr(LOG_ERR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)	__pr(LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)	__pr(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)						\
	do {								\
		if (log_level_get() >= LOG_DEBUG)			\
			__pr(LOG_DEBUG, fmt, ##__VA_ARGS__);		\
	} while (0)

#define __pr_ratelimited(level, fmt, ...)				\
	do {								\
		static struct ratelimit __rl = RATELIMIT_INIT;		\
		if (ratelimit_allow(&__rl))				\
			__pr(level, fmt, ##__VA_ARGS__);		\
	} while (0)

#define pr_err_ratelimited(fmt, ...)  __pr_ratelimited(LOG_ERR, fmt, ##__VA_ARGS__)
#define pr_warn_ratelimited(fmt, ...) __pr_ratelimited(LOG_WARN, fmt, ##__VA_ARGS__)

#endif /* KESTREL_LOG_H */
