/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the Firecracker-compatible API: the configuration model and its
 * validation (vmconfig.c), the endpoint table (routes.c), the HTTP server
 * and the VMM mailbox (server.c), Firecracker's log line format
 * (logger.c) and metrics object (metrics.c), the flags (fcmain.c).
 */
#ifndef KESTREL_API_INTERNAL_H
#define KESTREL_API_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include <kestrel/api.h>
#include <kestrel/compiler.h>
#include <kestrel/log.h>
#include <kestrel/virtio.h>

#define API_ERR_MAX	512	/* bytes of a fault_message */

/* ---- vmconfig.c: JSON checks and the model ---------------------------------- */

/**
 * enum json_kind - what a field's value must be (null always means absent)
 */
enum json_kind {
	JK_STRING,
	JK_BOOL,
	JK_UINT,	/* integer from 0 to INT64_MAX */
	JK_OBJECT,
	JK_ARRAY,
};

/**
 * struct json_field - one field an object may hold
 * @name: its key
 * @kind: the type its value must have
 * @required: absent or null is an error
 */
struct json_field {
	const char *name;
	enum json_kind kind;
	bool required;
};

/*
 * json_check_object() - @obj is an object whose keys are all in @fields
 * with the right types, and whose required fields are there. @what names
 * the object in the message. Return: 0 or -EINVAL with @err filled.
 */
int json_check_object(const json_t *obj, const char *what,
		      const struct json_field *fields, size_t nr_fields,
		      char *err, size_t errlen);
/* The value of @key if it is a string (NULL when absent or null). */
const char *json_get_str(const json_t *obj, const char *key);
bool json_get_bool(const json_t *obj, const char *key, bool dflt);
u64 json_get_uint(const json_t *obj, const char *key, u64 dflt);

/* [A-Za-z0-9_]{1,API_ID_MAX}: drive and interface ids (Firecracker's rule) */
bool api_id_is_valid(const char *id);

void vmconfig_init(struct vmconfig *cfg);
void vmconfig_release(struct vmconfig *cfg);

/*
 * Each vmconfig_set_*() validates one request body and, only if all of it
 * is valid, applies it. @path_id is the id from the URL (NULL from the
 * config file: the body's own id is used). Return: 0, -EINVAL (bad value),
 * -EOPNOTSUPP (valid but not implemented by kestrel), -ENOSPC (too many),
 * -ENOMEM; @err holds the fault message.
 */
int vmconfig_set_machine(struct vmconfig *cfg, const json_t *body, bool patch,
			 char *err, size_t errlen);
int vmconfig_set_boot(struct vmconfig *cfg, const json_t *body, char *err,
		      size_t errlen);
int vmconfig_set_drive(struct vmconfig *cfg, const char *path_id,
		       const json_t *body, char *err, size_t errlen);
int vmconfig_set_net(struct vmconfig *cfg, const char *path_id,
		     const json_t *body, char *err, size_t errlen);
int vmconfig_set_entropy(struct vmconfig *cfg, const json_t *body, char *err,
			 size_t errlen);
/* A Vsock body (guest_cid, uds_path; vsock_id accepted and ignored). */
int vmconfig_set_vsock(struct vmconfig *cfg, const json_t *body, char *err, size_t errlen);
/* GET /vm/config's "vsock": the body PUT, or null. */
json_t *vmconfig_vsock_json(const struct vmconfig *cfg);
/*
 * vmconfig_check_drive_patch() - a PartialDrive for a running guest: on
 * success @out is a copy of the drive whose path_on_host is the new one
 * (NULL: unchanged) and whose rate_limiter holds the buckets the body
 * names (@set); free it with vmconfig_drive_release(). 1 if the body
 * changes nothing.
 */
int vmconfig_check_drive_patch(const struct vmconfig *cfg, const char *path_id,
			       const json_t *body, struct vmconfig_drive *out,
			       char *err, size_t errlen);
/* vmconfig_apply_drive_patch() - take @d's changes once the VMM made them; frees @d */
void vmconfig_apply_drive_patch(struct vmconfig *cfg, struct vmconfig_drive *d);
void vmconfig_drive_release(struct vmconfig_drive *d);
/*
 * vmconfig_check_net_patch() - a PartialNetworkInterface: its rate
 * limiters into @rx and @tx (the buckets named are @set). 1 if the body
 * changes nothing.
 */
int vmconfig_check_net_patch(const struct vmconfig *cfg, const char *path_id,
			     const json_t *body, struct vmconfig_rate_limiter *rx,
			     struct vmconfig_rate_limiter *tx, char *err, size_t errlen);
/* vmconfig_apply_net_patch() - take the buckets set in @rx and @tx into @id */
void vmconfig_apply_net_patch(struct vmconfig *cfg, const char *id,
			      const struct vmconfig_rate_limiter *rx,
			      const struct vmconfig_rate_limiter *tx);
/* Whether either bucket of @rl limits (size and refill_time both non-zero). */
bool vmconfig_rate_limiter_limits(const struct vmconfig_rate_limiter *rl);
/* The buckets set in @src replace those of @dst. */
void vmconfig_rate_limiter_update(struct vmconfig_rate_limiter *dst,
				  const struct vmconfig_rate_limiter *src);

/* PUT /balloon: a Balloon body (amount_mib at most mem_size_mib). */
int vmconfig_set_balloon(struct vmconfig *cfg, const json_t *body, char *err,
			 size_t errlen);
/* PATCH /balloon: a BalloonUpdate into @amount_mib; nothing applied. */
int vmconfig_check_balloon_patch(const struct vmconfig *cfg, const json_t *body,
				 u32 *amount_mib, char *err, size_t errlen);
/*
 * PATCH /balloon/statistics: a BalloonStatsUpdate into @interval_s; once
 * @booted, statistics stay on (a non-zero interval) or off.
 */
int vmconfig_check_balloon_stats_patch(const struct vmconfig *cfg, const json_t *body,
				       bool booted, u32 *interval_s, char *err, size_t errlen);

json_t *vmconfig_machine_json(const struct vmconfig *cfg);
json_t *vmconfig_balloon_json(const struct vmconfig *cfg);
json_t *vmconfig_boot_json(const struct vmconfig *cfg);
json_t *vmconfig_drives_json(const struct vmconfig *cfg);
json_t *vmconfig_nets_json(const struct vmconfig *cfg);

/* ---- logger.c -------------------------------------------------------------- */

/**
 * struct api_logger_config - PUT /logger, --level/--log-path/--show-*
 * @path: log_path (NULL: stderr)
 * @level: threshold
 * @off: level "Off": nothing is logged
 * @show_level: print the level in each line
 * @show_origin: print file:line in each line
 */
struct api_logger_config {
	char *path;
	enum log_level level;
	bool off;
	bool show_level;
	bool show_origin;
};

/* Parse a Logger body into @lc (its strings are copies). */
int api_logger_parse(const json_t *body, struct api_logger_config *lc,
		     char *err, size_t errlen);
/* Parse a level name (case-insensitive Error, Warning, Info, Debug, Trace, Off). */
int api_logger_parse_level(const char *s, struct api_logger_config *lc);
/*
 * Route every pr_*() line to @lc->path (a file or named pipe, opened for
 * appending) in Firecracker's format, tagged with @instance_id.
 */
int api_logger_apply(const struct api_logger_config *lc, const char *instance_id,
		     char *err, size_t errlen);
void api_logger_config_release(struct api_logger_config *lc);
/* Back to plain stderr; closes the log file. */
void api_logger_close(void);

/* ---- metrics.c ------------------------------------------------------------- */

/**
 * struct api_metrics - where and how often metrics go
 * @fd: metrics_path opened for writing, -1 until PUT /metrics
 * @path: its name
 * @startup_us: process start to API socket ready (api_server)
 * @startup_cpu_us: CPU time to the same point
 */
struct api_metrics {
	int fd;
	char *path;
	u64 startup_us;
	u64 startup_cpu_us;
};

struct api;

int api_metrics_open(struct api_metrics *m, const char *path, char *err,
		     size_t errlen);
/* One JSON object (a line) with every counter; counters since the last flush. */
int api_metrics_flush(struct api *api);
void api_metrics_close(struct api_metrics *m);

/* ---- routes.c: the request handler ------------------------------------------- */

enum api_state {
	API_STATE_NOT_STARTED,
	API_STATE_RUNNING,
	API_STATE_PAUSED,
};

enum api_method {
	API_GET,
	API_PUT,
	API_PATCH,
	API_OTHER,
};

/**
 * struct api_response - what one request gets
 * @status: 200, 204 or 400
 * @body: NUL-terminated JSON (malloc'd) or NULL (204)
 */
struct api_response {
	int status;
	char *body;
};

/**
 * struct api_counter - requests and failures of one endpoint since the
 * last metrics flush
 */
struct api_counter {
	u64 count;
	u64 fails;
};

#define API_MAX_ROUTES	48

struct api_mailbox;

/**
 * struct api - the control plane's state; every field belongs to the API
 * thread (before it starts, to the thread applying --config-file)
 * @cfg: the VM configuration model
 * @state: Firecracker's instance state
 * @instance_id: --id
 * @vmm: what builds and runs the VM, or NULL
 * @mbox: when set, VMM ops are run on the VMM thread through it
 * @logger: the logger configuration in force (for GET /vm/config)
 * @logger_set: PUT /logger or --log-path was applied
 * @metrics: the metrics sink
 * @counters: per route row (routes[] in routes.c)
 * @api_fails: requests that matched no route or failed before one
 */
struct api {
	struct vmconfig cfg;
	enum api_state state;
	char instance_id[API_INSTANCE_ID_MAX + 1];
	struct api_vmm *vmm;
	struct api_mailbox *mbox;
	struct api_logger_config logger;
	bool logger_set;
	struct api_metrics metrics;
	struct api_counter counters[API_MAX_ROUTES];
	u64 api_fails;
};

int api_create(struct api_vmm *vmm, const char *instance_id, struct api **out);
void api_destroy(struct api *api);

/*
 * api_handle() - answer one request (any bytes in @path and @body)
 * @body: @len bytes, not NUL-terminated; may be NULL when @len is 0
 * @resp: filled; free @resp->body
 */
void api_handle(struct api *api, enum api_method method, const char *path,
		const char *body, size_t len, struct api_response *resp);

/*
 * api_load_config() - apply a --config-file document through the same
 * handlers as the endpoints; does not start the VM. Return: 0 or a
 * negative errno with @err filled (naming the section).
 */
int api_load_config(struct api *api, const char *text, size_t len, char *err,
		    size_t errlen);

/* api_instance_start() - InstanceStart: checks, then the VMM's start op */
int api_instance_start(struct api *api, char *err, size_t errlen);

/* Metrics JSON for the per-route counters (metrics.c calls it). */
void api_routes_metrics(struct api *api, json_t *root);

/* ---- server.c: the socket, the API thread, the VMM mailbox ---------------------- */

/**
 * enum api_vmm_op - what the API thread asks of the VMM thread
 */
enum api_vmm_op {
	API_VMM_START,
	API_VMM_PAUSE,
	API_VMM_RESUME,
	API_VMM_CTRL_ALT_DEL,
	API_VMM_UPDATE_DRIVE,
	API_VMM_SET_RATE_LIMITER,
	API_VMM_SNAPSHOT_CREATE,
	API_VMM_SNAPSHOT_LOAD,
	API_VMM_UPDATE_BALLOON,
};

/**
 * struct api_vmm_req - one request in the mailbox
 * @op: which op
 * @cfg: for API_VMM_START
 * @drive: for API_VMM_UPDATE_DRIVE
 * @limiter: for API_VMM_SET_RATE_LIMITER: which one
 * @id: its drive or interface
 * @rl: its new buckets
 * @snapshot_path: for API_VMM_SNAPSHOT_*: the state file
 * @mem_path: the memory file
 * @resume: for API_VMM_SNAPSHOT_LOAD: start the vCPUs
 * @overrides: for API_VMM_SNAPSHOT_LOAD: the network_overrides
 * @nr_overrides: entries of @overrides in use
 * @balloon: for API_VMM_UPDATE_BALLOON: the new target and interval
 * @balloon_target: the target changes
 * @balloon_interval: the interval changes
 * @err: the op's fault message
 * @ret: its result
 */
struct api_vmm_req {
	enum api_vmm_op op;
	const struct vmconfig *cfg;
	const struct vmconfig_drive *drive;
	enum api_limiter limiter;
	const char *id;
	const struct vmconfig_rate_limiter *rl;
	const char *snapshot_path;
	const char *mem_path;
	bool resume;
	struct vdev_override overrides[VMCONFIG_MAX_NETS];
	unsigned int nr_overrides;
	const struct vmconfig_balloon *balloon;
	bool balloon_target;
	bool balloon_interval;
	char err[API_ERR_MAX];
	int ret;
};

/*
 * api_vmm_call() - run @req's op on the VMM thread (through api->mbox) or,
 * without a mailbox, right here; -ENOSYS without a VMM.
 */
int api_vmm_call(struct api *api, struct api_vmm_req *req);

int api_mailbox_create(struct api_mailbox **out);
void api_mailbox_destroy(struct api_mailbox *mb);
/* The eventfd the VMM thread polls; readable when a request waits. */
int api_mailbox_fd(const struct api_mailbox *mb);
/*
 * On the VMM thread: run the waiting request (if any) and answer it.
 * Return: true when it started the VM.
 */
bool api_mailbox_serve(struct api_mailbox *mb, struct api_vmm *vmm);
/* The VMM thread serves no more: the waiting and later requests fail. */
void api_mailbox_shutdown(struct api_mailbox *mb);

struct api_server;

/*
 * api_server_listen() - bind and listen on @path (which must not exist):
 * the first thing kestrel does, so clients can connect (they queue) while
 * the rest is set up. Return: the socket, or -errno (nothing to undo).
 */
int api_server_listen(const char *path);
/*
 * api_server_create_on() - the server on @listen_fd, which api_server_listen()
 * bound to @path; it owns both from here on, even on failure (the socket
 * closed, @path unlinked).
 */
int api_server_create_on(struct api *api, const char *path, int listen_fd,
			 struct api_server **out);
/* api_server_listen() and api_server_create_on() together. */
int api_server_create(struct api *api, const char *path, struct api_server **out);
/* Start the "fc_api" thread serving requests. */
int api_server_start(struct api_server *s);
/* Stop and join the thread, close and unlink the socket; NULL ok. */
void api_server_destroy(struct api_server *s);

/* Process start to now, in µs (monotonic), and CPU µs used so far. */
u64 api_uptime_us(void);
u64 api_cpu_us(void);

#endif /* KESTREL_API_INTERNAL_H */
