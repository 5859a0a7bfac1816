// SPDX-License-Identifier: GPL-2.0-only
/*
 * Firecracker's log line format, for every pr_*() message once the logger
 * is configured (PUT /logger, --log-path, --level, --show-level,
 * --show-log-origin):
 *
 *   2024-05-01T10:20:30.123456789 [ID:THREAD:LEVEL:FILE:LINE] message
 *
 * where ":LEVEL" appears with show_level and ":FILE:LINE" with
 * show_log_origin; THREAD is "main" for the process's first thread, else
 * the thread's name ("fc_api", "fc_vcpu 0", ...). The time is local, with
 * nanoseconds, as Firecracker prints it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/**
 * struct api_logger - the configuration the sink formats with
 * @lock: guards every field and serialises writes
 * @fd: the log file, or 2
 * @instance_id: --id
 * @show_level: print the level
 * @show_origin: print file:line
 * @off: print nothing
 */
static struct api_logger {
	pthread_mutex_t lock;
	int fd;
	char instance_id[API_INSTANCE_ID_MAX + 1];
	bool show_level;
	bool show_origin;
	bool off;
} logger = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static const char *const level_names[] = {
	[LOG_ERR] = "ERROR", [LOG_WARN] = "WARN", [LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

static void logger_sink(enum log_level level, const char *file, int line,
			const char *msg)
{
	char out[1400], thread[32] = "main", ts[40], tag[128];
	struct timespec now;
	struct tm tm;
	size_t n;
	int len;

	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (gettid() != getpid())
		pthread_getname_np(pthread_self(), thread, sizeof(thread));

	pthread_mutex_lock(&logger.lock);
	if (logger.off)
		goto out_unlock;
	tag[0] = '\0';
	if (logger.show_level)
		snprintf(tag, sizeof(tag), ":%s", level_names[level]);
	if (logger.show_origin && file) {
		n = strlen(tag);
		snprintf(tag + n, sizeof(tag) - n, ":%s:%d", file, line);
	}
	len = snprintf(out, sizeof(out), "%s.%09ld [%s:%s%s] %s", ts, now.tv_nsec,
		       logger.instance_id, thread, tag, msg);
	if (len < 0)
		goto out_unlock;
	n = MIN((size_t)len, sizeof(out) - 1);
	/* Untrusted bytes may be in @msg: one line, no control characters. */
	for (size_t i = 0; i + 1 < n; i++)
		if ((unsigned char)out[i] < 0x20 && out[i] != '\t')
			out[i] = '?';
	out[n - 1] = '\n';
	/* One write per line; a full pipe loses the line, never blocks us. */
	if (write(logger.fd, out, n) < 0) {
		/* nothing to report it to */
	}
out_unlock:
	pthread_mutex_unlock(&logger.lock);
}

int api_logger_parse_level(const char *s, struct api_logger_config *lc)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{ "Error", LOG_ERR }, { "Warning", LOG_WARN }, { "Warn", LOG_WARN },
		{ "Info", LOG_INFO }, { "Debug", LOG_DEBUG }, { "Trace", LOG_DEBUG },
	};

	lc->off = !strcasecmp(s, "Off");
	if (lc->off)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (!strcasecmp(s, levels[i].name)) {
			lc->level = levels[i].level;
			return 0;
		}
	return -EINVAL;
}

static const struct json_field logger_fields[] = {
	{ "log_path", JK_STRING, false },
	{ "level", JK_STRING, false },
	{ "show_level", JK_BOOL, false },
	{ "show_log_origin", JK_BOOL, false },
	{ "module", JK_STRING, false },
};

int api_logger_parse(const json_t *body, struct api_logger_config *lc,
		     char *err, size_t errlen)
{
	const char *level, *path, *module;
	int ret;

	*lc = (struct api_logger_config){ .level = LOG_INFO };
	ret = json_check_object(body, "logger", logger_fields,
				ARRAY_SIZE(logger_fields), err, errlen);
	if (ret)
		return ret;
	level = json_get_str(body, "level");
	if (level && api_logger_parse_level(level, lc)) {
		snprintf(err, errlen, "logger: invalid level '%.32s' (expected Error, Warning, "
			 "Info, Debug, Trace or Off)", level);
		return -EINVAL;
	}
	module = json_get_str(body, "module");
	if (module) {
		snprintf(err, errlen, "logger: filtering by module is not supported by kestrel");
		return -EOPNOTSUPP;
	}
	lc->show_level = json_get_bool(body, "show_level", false);
	lc->show_origin = json_get_bool(body, "show_log_origin", false);
	path = json_get_str(body, "log_path");
	if (path) {
		if (!*path || strlen(path) >= 4096) {
			snprintf(err, errlen, "logger: log_path must be a path of 1 to 4095 bytes");
			return -EINVAL;
		}
		lc->path = strdup(path);
		if (!lc->path) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

void api_logger_config_release(struct api_logger_config *lc)
{
	free(lc->path);
	lc->path = NULL;
}

int api_logger_apply(const struct api_logger_config *lc, const char *instance_id,
		     char *err, size_t errlen)
{
	int fd = STDERR_FILENO, old;

	if (lc->path) {
		/*
		 * A named pipe blocks an open for writing until a reader
		 * comes; clients create the reader first. O_NONBLOCK fails at
		 * once (ENXIO) when there is none, rather than hanging.
		 */
		fd = open(lc->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK,
			  0600);
		if (fd < 0) {
			snprintf(err, errlen, "logger: cannot open log_path '%.256s': %s",
				 lc->path, strerror(errno));
			return -errno;
		}
	}
	pthread_mutex_lock(&logger.lock);
	old = logger.fd;
	logger.fd = fd;
	snprintf(logger.instance_id, sizeof(logger.instance_id), "%s", instance_id);
	logger.show_level = lc->show_level;
	logger.show_origin = lc->show_origin;
	logger.off = lc->off;
	pthread_mutex_unlock(&logger.lock);
	if (old > STDERR_FILENO)
		close(old);
	log_level_set(lc->level);
	log_set_sink(logger_sink);
	return 0;
}

void api_logger_close(void)
{
	log_set_sink(NULL);
	pthread_mutex_lock(&logger.lock);
	if (logger.fd > STDERR_FILENO)
		close(logger.fd);
	logger.fd = -1;
	pthread_mutex_unlock(&logger.lock);
}
