// SPDX-License-Identifier: GPL-2.0-only
/*
 * Firecracker's metrics: one JSON object per flush, on one line, written
 * to metrics_path (a file or a named pipe). Counters are what happened
 * since the previous flush, as in Firecracker, so a reader sums them.
 * Flushed every API_METRICS_PERIOD_S by the thread that owns struct api,
 * on FlushMetrics, and once at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int api_metrics_open(struct api_metrics *m, const char *path, char *err,
		     size_t errlen)
{
	int fd;

	if (m->fd >= 0) {
		snprintf(err, errlen, "metrics: the metrics system is already initialized");
		return -EALREADY;
	}
	if (!*path || strlen(path) >= 4096) {
		snprintf(err, errlen, "metrics: metrics_path must be a path of 1 to 4095 bytes");
		return -EINVAL;
	}
	/* As the log: a pipe needs its reader first; never block on it. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "metrics: cannot open metrics_path '%.256s': %s",
			 path, strerror(errno));
		return -errno;
	}
	m->path = strdup(path);
	if (!m->path) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->fd = fd;
	return 0;
}

void api_metrics_close(struct api_metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	free(m->path);
	m->path = NULL;
}

/* Set @root[@group][@key] to @v (objects created on the way). */
static void set_u64(json_t *root, const char *group, const char *key, u64 v)
{
	json_t *g = json_object_get(root, group);

	if (!g) {
		g = json_object();
		if (!g || json_object_set_new(root, group, g))
			return;
	}
	json_object_set_new(g, key, json_integer((json_int_t)v));
}

/* The VMM's counters are totals; a flush reports what changed since the last. */
static void vmm_metrics(struct api *api, json_t *root)
{
	static struct api_vmm_stats last;
	struct api_vmm_stats now = { 0 };
	static const struct {
		const char *group, *key;
		size_t off;
	} map[] = {
#define M(g, k, f) { g, k, offsetof(struct api_vmm_stats, f) }
		M("vcpu", "exit_io_in", vcpu_exit_io_in),
		M("vcpu", "exit_io_out", vcpu_exit_io_out),
		M("vcpu", "exit_mmio_read", vcpu_exit_mmio_read),
		M("vcpu", "exit_mmio_write", vcpu_exit_mmio_write),
		M("block", "request_count", block_requests),
		M("block", "request_bytes", block_bytes),
		M("net", "rx_packets_count", net_rx_packets),
		M("net", "rx_bytes_count", net_rx_bytes),
		M("net", "tx_packets_count", net_tx_packets),
		M("net", "tx_bytes_count", net_tx_bytes),
		/* Firecracker's names for the rate limiters' throttle events. */
		M("block", "rate_limiter_throttled_events", block_throttled),
		M("net", "rx_rate_limiter_throttled", net_rx_throttled),
		M("net", "tx_rate_limiter_throttled", net_tx_throttled),
		/* Firecracker's balloon group, and kestrel's own figures in it. */
		M("balloon", "inflate_count", balloon_inflated_pages),
		M("balloon", "deflate_count", balloon_deflated_pages),
		M("balloon", "stats_updates_count", balloon_stats_updates),
		M("balloon", "refused_pfns", balloon_refused_pfns),
		M("balloon", "released_bytes", balloon_released_bytes),
		M("balloon", "reported_bytes", balloon_reported_bytes),
		/* Firecracker's vsock names, where kestrel counts the same thing */
		M("vsock", "rx_queue_event_count", vsock_rx_kicks),
		M("vsock", "tx_queue_event_count", vsock_tx_kicks),
		M("vsock", "rx_packets_count", vsock.rx_packets),
		M("vsock", "rx_bytes_count", vsock.rx_bytes),
		M("vsock", "tx_packets_count", vsock.tx_packets),
		M("vsock", "tx_bytes_count", vsock.tx_bytes),
		M("vsock", "conns_added", vsock.conns_added),
		M("vsock", "conns_killed", vsock.conns_killed),
		M("vsock", "conns_removed", vsock.conns_removed),
		M("vsock", "conn_event_fails", vsock.conn_event_fails),
		M("vsock", "tx_flush_fails", vsock.tx_flush_fails),
		M("vsock", "tx_write_fails", vsock.tx_write_fails),
		M("vsock", "rx_read_fails", vsock.rx_read_fails),
#undef M
	};

	if (api->vmm && api->vmm->ops->get_stats && api->state != API_STATE_NOT_STARTED)
		api->vmm->ops->get_stats(api->vmm, &now);
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		u64 v = *(u64 *)((char *)&now + map[i].off);
		u64 was = *(u64 *)((char *)&last + map[i].off);

		set_u64(root, map[i].group, map[i].key, v >= was ? v - was : v);
	}
	last = now;
}

int api_metrics_flush(struct api *api)
{
	struct api_metrics *m = &api->metrics;
	struct timespec now;
	json_t *root;
	char *line;
	size_t n;
	int ret = 0;

	if (m->fd < 0)
		return -ENOENT;
	root = json_object();
	if (!root)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &now);
	json_object_set_new(root, "utc_timestamp_ms",
			    json_integer((json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
	set_u64(root, "api_server", "process_startup_time_us", m->startup_us);
	set_u64(root, "api_server", "process_startup_time_cpu_us", m->startup_cpu_us);
	set_u64(root, "api_server", "sync_response_fails", api->api_fails);
	api->api_fails = 0;
	api_routes_metrics(api, root);
	vmm_metrics(api, root);

	line = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!line)
		return -ENOMEM;
	n = strlen(line);
	line[n] = '\n';	/* json_dumps's NUL becomes the line's end */
	if (write(m->fd, line, n + 1) != (ssize_t)(n + 1))
		ret = -EIO;	/* a full pipe: this flush is lost */
	free(line);
	return ret;
}
