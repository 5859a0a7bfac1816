// SPDX-License-Identifier: GPL-2.0-only
#include <kestrel/log.h>

#include <stdarg.h>
#include <stdio.h>

static enum log_level log_threshold = LOG_INFO;
static void (*log_sink)(enum log_level level, const char *file, int line,
			const char *msg);

void log_level_set(enum log_level level)
{
	log_threshold = level;
}

enum log_level log_level_get(void)
{
	return log_threshold;
}

void log_set_sink(void (*sink)(enum log_level level, const char *file, int line,
			       const char *msg))
{
	__atomic_store_n(&log_sink, sink, __ATOMIC_RELEASE);
}

static void log_vprint(enum log_level level, const char *file, int line,
		       const char *fmt, va_list ap)
{
	static const char *const names[] = {
		[LOG_ERR] = "error: ", [LOG_WARN] = "warning: ",
		[LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	void (*sink)(enum log_level, const char *, int, const char *);
	char buf[1024];
	int n;

	if (level > log_threshold)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	sink = __atomic_load_n(&log_sink, __ATOMIC_ACQUIRE);
	if (sink) {
		sink(level, file, line, buf);
		return;
	}
	/* One write per message so lines from different threads do not mix. */
	fprintf(stderr, "kestrel: %s%s", names[level], buf);
}

void log_print(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_print_at(enum log_level level, const char *file, int line,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(level, file, line, fmt, ap);
	va_end(ap);
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void log_err_vline(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = '?';
	log_print(LOG_ERR, "%s%s\n", prefix, buf);
}

bool ratelimit_allow(struct ratelimit *rl)
{
	unsigned long long now = now_ms();

	if (!rl->begin_ms || now - rl->begin_ms >= rl->interval_ms) {
		if (rl->missed)
			log_print(LOG_WARN, "%u messages suppressed\n", rl->missed);
		rl->begin_ms = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->missed++;
	return false;
}
