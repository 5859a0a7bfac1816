// SPDX-License-Identifier: GPL-2.0-only
/*
 * The endpoint table: one row per method and path of Firecracker's API
 * definition, with the state it may be called in and its handler; the
 * request handler around it; and --config-file, applied through the same
 * handlers. Answers follow the definition: 204 for a successful PUT or
 * PATCH, 200 with a JSON body for a GET, 400 with {"fault_message": ...}
 * for anything wrong, including a call in the wrong state, an endpoint
 * kestrel does not implement, and an unknown method or path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/vdpa-dev.h>
#include <kestrel/version.h>
#include <kestrel/virtio.h>

#include "internal.h"

/**
 * enum route_when - the instance states a row may be called in
 */
enum route_when {
	ANY_STATE,
	PRE_BOOT,	/* "Not started" only */
	POST_BOOT,	/* "Running" or "Paused" */
};

/**
 * struct route - one method + path
 * @method: API_OTHER matches every method (rows of unimplemented paths)
 * @path: the path, or its prefix up to "{id}" when @has_id
 * @has_id: the path ends in one id segment (drives/{drive_id}, ...)
 * @when: states it is allowed in
 * @handler: fills @resp (200) or returns 0 (204) or a negative errno with
 *	     @err filled (400); NULL for an unimplemented endpoint
 * @metric: name in the metrics group of @method (NAME_count, NAME_fails)
 * @missing: for unimplemented endpoints, what the fault message names
 */
struct route {
	enum api_method method;
	const char *path;
	bool has_id;
	enum route_when when;
	int (*handler)(struct api *api, const char *id, const json_t *body,
		       struct api_response *resp, char *err, size_t errlen);
	const char *metric;
	const char *missing;
};

static const char *const state_names[] = {
	[API_STATE_NOT_STARTED] = "Not started",
	[API_STATE_RUNNING] = "Running",
	[API_STATE_PAUSED] = "Paused",
};

/* @obj becomes the 200 body (reference taken). */
static int respond_json(struct api_response *resp, json_t *obj, char *err,
			size_t errlen)
{
	resp->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!resp->body) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	resp->status = 200;
	return 0;
}

/* ---- GET ------------------------------------------------------------------------- */

static int h_get_instance(struct api *api, const char *id, const json_t *body,
			  struct api_response *resp, char *err, size_t errlen)
{
	return respond_json(resp, json_pack("{s:s, s:s, s:s, s:s}",
					    "id", api->instance_id,
					    "state", state_names[api->state],
					    "vmm_version", API_FIRECRACKER_VERSION,
					    "app_name", "kestrel"), err, errlen);
}

static int h_get_version(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	return respond_json(resp, json_pack("{s:s, s:s}",
					    "firecracker_version", API_FIRECRACKER_VERSION,
					    "kestrel_version", KESTREL_VERSION), err, errlen);
}

static int h_get_machine(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	return respond_json(resp, vmconfig_machine_json(&api->cfg), err, errlen);
}

static json_t *logger_json(const struct api *api)
{
	static const char *const levels[] = {
		[LOG_ERR] = "Error", [LOG_WARN] = "Warning", [LOG_INFO] = "Info",
		[LOG_DEBUG] = "Debug",
	};
	const struct api_logger_config *lc = &api->logger;

	if (!api->logger_set)
		return json_null();
	return json_pack("{s:o, s:s, s:b, s:b}",
			 "log_path", lc->path ? json_string(lc->path) : json_null(),
			 "level", lc->off ? "Off" : levels[lc->level],
			 "show_level", lc->show_level, "show_log_origin", lc->show_origin);
}

static int h_get_vm_config(struct api *api, const char *id, const json_t *body,
			   struct api_response *resp, char *err, size_t errlen)
{
	const struct api_metrics *m = &api->metrics;

	return respond_json(resp, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:n, s:n}",
		"boot-source", vmconfig_boot_json(&api->cfg),
		"drives", vmconfig_drives_json(&api->cfg),
		"machine-config", vmconfig_machine_json(&api->cfg),
		"network-interfaces", vmconfig_nets_json(&api->cfg),
		"logger", logger_json(api),
		"metrics", m->path ? json_pack("{s:s}", "metrics_path", m->path) : json_null(),
		"entropy", api->cfg.entropy ? json_object() : json_null(),
		"balloon", vmconfig_balloon_json(&api->cfg),
		"vsock", vmconfig_vsock_json(&api->cfg),
		"mmds-config", "cpu-config"), err, errlen);
}

/* ---- PUT / PATCH -------------------------------------------------------------------- */

static int h_put_machine(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	return vmconfig_set_machine(&api->cfg, body, false, err, errlen);
}

static int h_patch_machine(struct api *api, const char *id, const json_t *body,
			   struct api_response *resp, char *err, size_t errlen)
{
	return vmconfig_set_machine(&api->cfg, body, true, err, errlen);
}

static int h_put_boot(struct api *api, const char *id, const json_t *body,
		      struct api_response *resp, char *err, size_t errlen)
{
	return vmconfig_set_boot(&api->cfg, body, err, errlen);
}

static int h_put_drive(struct api *api, const char *id, const json_t *body,
		       struct api_response *resp, char *err, size_t errlen)
{
	return vmconfig_set_drive(&api->cfg, id, body, err, errlen);
}

/* Give a running device the buckets set in @rl (PATCH drives, interfaces). */
static int patch_rate_limiter(struct api *api, enum api_limiter which, const char *id,
			      const struct vmconfig_rate_limiter *rl, char *err,
			      size_t errlen)
{
	struct api_vmm_req req;
	int ret;

	if (!rl->bandwidth.set && !rl->ops.set)
		return 0;
	req = (struct api_vmm_req){ .op = API_VMM_SET_RATE_LIMITER, .limiter = which,
				    .id = id, .rl = rl };
	ret = api_vmm_call(api, &req);
	if (ret)
		snprintf(err, errlen, "%s %s: %.400s", which == API_LIMIT_DRIVE ? "drive" :
			 "interface", id, req.err);
	return ret;
}

static int h_patch_drive(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	struct vmconfig_drive d;
	struct api_vmm_req req;
	int ret;

	ret = vmconfig_check_drive_patch(&api->cfg, id, body, &d, err, errlen);
	if (ret)
		return ret < 0 ? ret : 0;	/* 1: nothing to change */
	if (d.path_on_host) {
		req = (struct api_vmm_req){ .op = API_VMM_UPDATE_DRIVE, .drive = &d };
		ret = api_vmm_call(api, &req);
		if (ret)
			snprintf(err, errlen, "drive %s: %.400s", d.id, req.err);
	}
	/* After the file: a refused file leaves the limiter as it was too. */
	if (!ret)
		ret = patch_rate_limiter(api, API_LIMIT_DRIVE, d.id, &d.rate_limiter,
					 err, errlen);
	if (ret) {
		vmconfig_drive_release(&d);
		return ret;
	}
	vmconfig_apply_drive_patch(&api->cfg, &d);
	return 0;
}

static int h_put_net(struct api *api, const char *id, const json_t *body,
		     struct api_response *resp, char *err, size_t errlen)
{
	return vmconfig_set_net(&api->cfg, id, body, err, errlen);
}

static int h_patch_net(struct api *api, const char *id, const json_t *body,
		       struct api_response *resp, char *err, size_t errlen)
{
	struct vmconfig_rate_limiter rx, tx;
	int ret;

	ret = vmconfig_check_net_patch(&api->cfg, id, body, &rx, &tx, err, errlen);
	if (ret)
		return ret < 0 ? ret : 0;	/* 1: nothing to change */
	ret = patch_rate_limiter(api, API_LIMIT_NET_RX, id, &rx, err, errlen);
	if (!ret)
		ret = patch_rate_limiter(api, API_LIMIT_NET_TX, id, &tx, err, errlen);
	if (ret)
		return ret;
	vmconfig_apply_net_patch(&api->cfg, id, &rx, &tx);
	return 0;
}

static int h_put_entropy(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	return vmconfig_set_entropy(&api->cfg, body, err, errlen);
}

static int h_put_vsock(struct api *api, const char *id, const json_t *body,
		       struct api_response *resp, char *err, size_t errlen)
{
	return vmconfig_set_vsock(&api->cfg, body, err, errlen);
}

/* ---- balloon (docs/balloon.md) ------------------------------------------------------- */

static int h_put_balloon(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	return vmconfig_set_balloon(&api->cfg, body, err, errlen);
}

static int h_get_balloon(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	if (!api->cfg.balloon.set) {
		snprintf(err, errlen, "balloon: no balloon device is configured");
		return -EINVAL;
	}
	return respond_json(resp, vmconfig_balloon_json(&api->cfg), err, errlen);
}

/* Hand @b to the running balloon (a VMM op); before boot only the model changes. */
static int update_balloon(struct api *api, const struct vmconfig_balloon *b, bool target,
			  const char *what, char *err, size_t errlen)
{
	struct api_vmm_req req = { .op = API_VMM_UPDATE_BALLOON, .balloon = b,
				   .balloon_target = target, .balloon_interval = !target };
	int ret;

	if (api->state == API_STATE_NOT_STARTED)
		return 0;
	ret = api_vmm_call(api, &req);
	if (ret)
		snprintf(err, errlen, "%s: %.400s", what, req.err);
	return ret;
}

static int h_patch_balloon(struct api *api, const char *id, const json_t *body,
			   struct api_response *resp, char *err, size_t errlen)
{
	struct vmconfig_balloon b = api->cfg.balloon;
	int ret;

	ret = vmconfig_check_balloon_patch(&api->cfg, body, &b.amount_mib, err, errlen);
	if (!ret)
		ret = update_balloon(api, &b, true, "balloon", err, errlen);
	if (!ret)
		api->cfg.balloon.amount_mib = b.amount_mib;
	return ret;
}

static int h_patch_balloon_stats(struct api *api, const char *id, const json_t *body,
				 struct api_response *resp, char *err, size_t errlen)
{
	struct vmconfig_balloon b = api->cfg.balloon;
	int ret;

	ret = vmconfig_check_balloon_stats_patch(&api->cfg, body,
						 api->state != API_STATE_NOT_STARTED,
						 &b.stats_polling_interval_s, err, errlen);
	if (!ret)
		ret = update_balloon(api, &b, false, "balloon/statistics", err, errlen);
	if (!ret)
		api->cfg.balloon.stats_polling_interval_s = b.stats_polling_interval_s;
	return ret;
}

/* BalloonStats' names of the statistics, by enum vdpa_balloon_stat. */
static const char *const balloon_stat_names[VDPA_BALLOON_NR_STATS] = {
	[VDPA_BALLOON_SWAP_IN] = "swap_in",
	[VDPA_BALLOON_SWAP_OUT] = "swap_out",
	[VDPA_BALLOON_MAJOR_FAULTS] = "major_faults",
	[VDPA_BALLOON_MINOR_FAULTS] = "minor_faults",
	[VDPA_BALLOON_FREE_MEMORY] = "free_memory",
	[VDPA_BALLOON_TOTAL_MEMORY] = "total_memory",
	[VDPA_BALLOON_AVAILABLE_MEMORY] = "available_memory",
	[VDPA_BALLOON_DISK_CACHES] = "disk_caches",
	[VDPA_BALLOON_HUGETLB_ALLOCATIONS] = "hugetlb_allocations",
	[VDPA_BALLOON_HUGETLB_FAILURES] = "hugetlb_failures",
	[VDPA_BALLOON_OOM_KILL] = "oom_kill",
	[VDPA_BALLOON_ALLOC_STALL] = "alloc_stall",
	[VDPA_BALLOON_ASYNC_SCAN] = "async_scan",
	[VDPA_BALLOON_DIRECT_SCAN] = "direct_scan",
	[VDPA_BALLOON_ASYNC_RECLAIM] = "async_reclaim",
	[VDPA_BALLOON_DIRECT_RECLAIM] = "direct_reclaim",
};

static int h_get_balloon_stats(struct api *api, const char *id, const json_t *body,
			       struct api_response *resp, char *err, size_t errlen)
{
	struct vdpa_balloon_info info;
	json_t *o;

	if (!api->cfg.balloon.set) {
		snprintf(err, errlen, "balloon/statistics: no balloon device is configured");
		return -EINVAL;
	}
	if (!api->cfg.balloon.stats_polling_interval_s) {
		snprintf(err, errlen, "balloon/statistics: statistics were not enabled when the "
			 "balloon was configured (stats_polling_interval_s 0)");
		return -EINVAL;
	}
	if (api->state == API_STATE_NOT_STARTED || !api->vmm || !api->vmm->ops->get_balloon ||
	    api->vmm->ops->get_balloon(api->vmm, &info)) {
		snprintf(err, errlen, "balloon/statistics: the balloon device is not running");
		return -EINVAL;
	}
	/* 256 pages of 4 KiB a MiB. */
	o = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)info.target_pages,
		      "actual_pages", (json_int_t)info.actual_pages,
		      "target_mib", (json_int_t)(info.target_pages / 256),
		      "actual_mib", (json_int_t)(info.actual_pages / 256));
	for (unsigned int i = 0; o && i < VDPA_BALLOON_NR_STATS; i++)
		if (info.stats_valid & (1U << i))
			json_object_set_new(o, balloon_stat_names[i],
					    json_integer((json_int_t)MIN(info.stats[i],
									 (u64)INT64_MAX)));
	return respond_json(resp, o, err, errlen);
}

static int h_put_logger(struct api *api, const char *id, const json_t *body,
			struct api_response *resp, char *err, size_t errlen)
{
	struct api_logger_config lc;
	int ret;

	ret = api_logger_parse(body, &lc, err, errlen);
	if (!ret)
		ret = api_logger_apply(&lc, api->instance_id, err, errlen);
	if (ret) {
		api_logger_config_release(&lc);
		return ret;
	}
	api_logger_config_release(&api->logger);
	api->logger = lc;
	api->logger_set = true;
	return 0;
}

static const struct json_field metrics_fields[] = {
	{ "metrics_path", JK_STRING, true },
};

static int h_put_metrics(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	int ret;

	ret = json_check_object(body, "metrics", metrics_fields,
				ARRAY_SIZE(metrics_fields), err, errlen);
	if (ret)
		return ret;
	return api_metrics_open(&api->metrics, json_get_str(body, "metrics_path"),
				err, errlen);
}

/* Run a VMM op that needs a booted VM; @state is the state after it. */
static int vm_op(struct api *api, enum api_vmm_op op, enum api_state state,
		 const char *what, char *err, size_t errlen)
{
	struct api_vmm_req req = { .op = op };
	int ret;

	if (api->state == API_STATE_NOT_STARTED) {
		snprintf(err, errlen, "%s: the microVM is not running", what);
		return -EINVAL;
	}
	ret = api_vmm_call(api, &req);
	if (ret) {
		snprintf(err, errlen, "%s: %.400s", what, req.err);
		return ret;
	}
	api->state = state;
	return 0;
}

int api_instance_start(struct api *api, char *err, size_t errlen)
{
	struct api_vmm_req req = { .op = API_VMM_START, .cfg = &api->cfg };
	int ret;

	if (api->state != API_STATE_NOT_STARTED) {
		snprintf(err, errlen, "InstanceStart: the microVM is already running");
		return -EINVAL;
	}
	ret = api_vmm_call(api, &req);
	if (ret) {
		snprintf(err, errlen, "InstanceStart: %.480s", req.err);
		return ret;
	}
	api->state = API_STATE_RUNNING;
	pr_info("the microVM is running (%u vCPUs, %llu MiB, %u drives, %u interfaces)",
		api->cfg.machine.vcpu_count, (unsigned long long)api->cfg.machine.mem_size_mib,
		api->cfg.nr_drives, api->cfg.nr_nets);
	return 0;
}

static const struct json_field action_fields[] = {
	{ "action_type", JK_STRING, true },
};

static int h_put_actions(struct api *api, const char *id, const json_t *body,
			 struct api_response *resp, char *err, size_t errlen)
{
	const char *action;
	int ret;

	ret = json_check_object(body, "actions", action_fields,
				ARRAY_SIZE(action_fields), err, errlen);
	if (ret)
		return ret;
	action = json_get_str(body, "action_type");
	if (!strcmp(action, "InstanceStart"))
		return api_instance_start(api, err, errlen);
	if (!strcmp(action, "SendCtrlAltDel"))
		return vm_op(api, API_VMM_CTRL_ALT_DEL, api->state, action, err, errlen);
	if (!strcmp(action, "FlushMetrics")) {
		ret = api_metrics_flush(api);
		if (ret == -ENOENT)
			snprintf(err, errlen, "FlushMetrics: the metrics system is not initialized "
				 "(PUT /metrics first)");
		else if (ret)
			snprintf(err, errlen, "FlushMetrics: cannot write the metrics: %s",
				 strerror(-ret));
		return ret;
	}
	snprintf(err, errlen, "actions: invalid action_type '%.32s' (expected InstanceStart, "
		 "SendCtrlAltDel or FlushMetrics)", action);
	return -EINVAL;
}

static const struct json_field vm_fields[] = {
	{ "state", JK_STRING, true },
};

static int h_patch_vm(struct api *api, const char *id, const json_t *body,
		      struct api_response *resp, char *err, size_t errlen)
{
	const char *state;
	int ret;

	ret = json_check_object(body, "vm", vm_fields, ARRAY_SIZE(vm_fields), err, errlen);
	if (ret)
		return ret;
	state = json_get_str(body, "state");
	if (!strcmp(state, "Paused"))
		return vm_op(api, API_VMM_PAUSE, API_STATE_PAUSED, "Paused", err, errlen);
	if (!strcmp(state, "Resumed"))
		return vm_op(api, API_VMM_RESUME, API_STATE_RUNNING, "Resumed", err, errlen);
	snprintf(err, errlen, "vm: invalid state '%.32s' (expected Paused or Resumed)", state);
	return -EINVAL;
}

/* ---- snapshots (docs/snapshot.md) ------------------------------------------------------ */

static const struct json_field snapshot_create_fields[] = {
	{ "snapshot_type", JK_STRING, false },
	{ "snapshot_path", JK_STRING, true },
	{ "mem_file_path", JK_STRING, true },
	{ "version", JK_STRING, false },
};

static int h_put_snapshot_create(struct api *api, const char *id, const json_t *body,
				 struct api_response *resp, char *err, size_t errlen)
{
	struct api_vmm_req req = { .op = API_VMM_SNAPSHOT_CREATE };
	const char *type;
	int ret;

	ret = json_check_object(body, "snapshot/create", snapshot_create_fields,
				ARRAY_SIZE(snapshot_create_fields), err, errlen);
	if (ret)
		return ret;
	type = json_get_str(body, "snapshot_type");
	if (type && !strcmp(type, "Diff")) {
		snprintf(err, errlen, "snapshot/create: Diff snapshots are not implemented yet "
			 "(expected snapshot_type Full)");
		return -EOPNOTSUPP;
	}
	if (type && strcmp(type, "Full")) {
		snprintf(err, errlen, "snapshot/create: invalid snapshot_type '%.32s' "
			 "(expected Full or Diff)", type);
		return -EINVAL;
	}
	if (api->state != API_STATE_PAUSED) {
		snprintf(err, errlen, "snapshot/create: the microVM must be paused first "
			 "(PATCH /vm {\"state\": \"Paused\"})");
		return -EINVAL;
	}
	req.snapshot_path = json_get_str(body, "snapshot_path");
	req.mem_path = json_get_str(body, "mem_file_path");
	ret = api_vmm_call(api, &req);
	if (ret)
		snprintf(err, errlen, "snapshot/create: %.400s", req.err);
	return ret;
}

static const struct json_field snapshot_load_fields[] = {
	{ "snapshot_path", JK_STRING, true },
	{ "mem_file_path", JK_STRING, false },
	{ "mem_backend", JK_OBJECT, false },
	{ "enable_diff_snapshots", JK_BOOL, false },
	{ "track_dirty_pages", JK_BOOL, false },
	{ "resume_vm", JK_BOOL, false },
	{ "network_overrides", JK_ARRAY, false },
};

static const struct json_field mem_backend_fields[] = {
	{ "backend_type", JK_STRING, true },
	{ "backend_path", JK_STRING, true },
};

static const struct json_field network_override_fields[] = {
	{ "iface_id", JK_STRING, true },
	{ "host_dev_name", JK_STRING, true },
};

/*
 * Firecracker's NetworkOverride list: the saved interface @iface_id is
 * created on the TAP @host_dev_name (matched by the id its PUT
 * /network-interfaces gave it, saved with the snapshot).
 */
static int network_overrides(const json_t *list, struct vdev_override *out,
			     unsigned int *nr, char *err, size_t errlen)
{
	const json_t *e;
	size_t i;
	int ret;

	if (json_array_size(list) > VMCONFIG_MAX_NETS) {
		snprintf(err, errlen, "snapshot/load: at most %u network_overrides",
			 VMCONFIG_MAX_NETS);
		return -EINVAL;
	}
	json_array_foreach(list, i, e) {
		const char *id, *dev;

		ret = json_check_object(e, "network_overrides[]", network_override_fields,
					ARRAY_SIZE(network_override_fields), err, errlen);
		if (ret)
			return ret;
		id = json_get_str(e, "iface_id");
		dev = json_get_str(e, "host_dev_name");
		if (!*id || !*dev || strlen(dev) >= 16) {
			snprintf(err, errlen, "snapshot/load: network_overrides[%zu]: iface_id and "
				 "host_dev_name must be non-empty, host_dev_name at most 15 bytes", i);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(out[j].from, id)) {
				snprintf(err, errlen, "snapshot/load: network_overrides: iface_id "
					 "'%.64s' given twice", id);
				return -EINVAL;
			}
		}
		out[i] = (struct vdev_override){ .tap = true, .by_label = true, .from = id,
						 .to = dev };
	}
	*nr = (unsigned int)i;
	return 0;
}

static int h_put_snapshot_load(struct api *api, const char *id, const json_t *body,
			       struct api_response *resp, char *err, size_t errlen)
{
	struct api_vmm_req req = { .op = API_VMM_SNAPSHOT_LOAD };
	const json_t *backend, *overrides;
	int ret;

	ret = json_check_object(body, "snapshot/load", snapshot_load_fields,
				ARRAY_SIZE(snapshot_load_fields), err, errlen);
	if (ret)
		return ret;
	backend = json_object_get(body, "mem_backend");
	if (backend && json_is_null(backend))
		backend = NULL;
	req.mem_path = json_get_str(body, "mem_file_path");
	if (!!backend == !!req.mem_path) {
		snprintf(err, errlen, "snapshot/load: give one of mem_file_path and mem_backend");
		return -EINVAL;
	}
	if (backend) {
		const char *type;

		ret = json_check_object(backend, "mem_backend", mem_backend_fields,
					ARRAY_SIZE(mem_backend_fields), err, errlen);
		if (ret)
			return ret;
		type = json_get_str(backend, "backend_type");
		if (!type) {
			snprintf(err, errlen, "snapshot/load: mem_backend needs backend_type");
			return -EINVAL;
		}
		if (strcmp(type, "File")) {
			snprintf(err, errlen, "snapshot/load: mem_backend type '%.32s' is not "
				 "implemented (expected File)", type);
			return strcmp(type, "Uffd") ? -EINVAL : -EOPNOTSUPP;
		}
		req.mem_path = json_get_str(backend, "backend_path");
	}
	overrides = json_object_get(body, "network_overrides");
	if (overrides && !json_is_null(overrides)) {
		ret = network_overrides(overrides, req.overrides, &req.nr_overrides, err, errlen);
		if (ret)
			return ret;
	}
	if (json_get_bool(body, "enable_diff_snapshots", false) ||
	    json_get_bool(body, "track_dirty_pages", false)) {
		snprintf(err, errlen, "snapshot/load: diff snapshots (dirty page tracking) are "
			 "not implemented yet");
		return -EOPNOTSUPP;
	}
	req.snapshot_path = json_get_str(body, "snapshot_path");
	req.resume = json_get_bool(body, "resume_vm", false);
	ret = api_vmm_call(api, &req);
	if (ret) {
		snprintf(err, errlen, "snapshot/load: %.400s", req.err);
		return ret;
	}
	api->state = req.resume ? API_STATE_RUNNING : API_STATE_PAUSED;
	pr_info("the microVM is restored from '%.200s' (%s)", req.snapshot_path,
		req.resume ? "running" : "paused");
	return 0;
}

/* ---- the table ------------------------------------------------------------------------ */

#define UNIMPLEMENTED(p, id, m, what) \
	{ API_OTHER, p, id, ANY_STATE, NULL, m, what }

static const struct route routes[] = {
	{ API_GET, "/", false, ANY_STATE, h_get_instance, "instance_info" },
	{ API_GET, "/version", false, ANY_STATE, h_get_version, "vmm_version" },
	{ API_GET, "/vm/config", false, ANY_STATE, h_get_vm_config, "vm_config" },
	{ API_GET, "/machine-config", false, ANY_STATE, h_get_machine, "machine_cfg" },
	{ API_PUT, "/machine-config", false, PRE_BOOT, h_put_machine, "machine_cfg" },
	{ API_PATCH, "/machine-config", false, PRE_BOOT, h_patch_machine, "machine_cfg" },
	{ API_PUT, "/boot-source", false, PRE_BOOT, h_put_boot, "boot_source" },
	{ API_PUT, "/drives/", true, PRE_BOOT, h_put_drive, "drive" },
	{ API_PATCH, "/drives/", true, POST_BOOT, h_patch_drive, "drive" },
	{ API_PUT, "/network-interfaces/", true, PRE_BOOT, h_put_net, "network" },
	{ API_PATCH, "/network-interfaces/", true, POST_BOOT, h_patch_net, "network" },
	{ API_PUT, "/vsock", false, PRE_BOOT, h_put_vsock, "vsock" },
	{ API_PUT, "/entropy", false, PRE_BOOT, h_put_entropy, "entropy" },
	{ API_PUT, "/logger", false, ANY_STATE, h_put_logger, "logger" },
	{ API_PUT, "/metrics", false, ANY_STATE, h_put_metrics, "metrics" },
	{ API_PUT, "/actions", false, ANY_STATE, h_put_actions, "actions" },
	{ API_PATCH, "/vm", false, POST_BOOT, h_patch_vm, "vm" },
	UNIMPLEMENTED("/mmds", false, "mmds", "MMDS (the microVM metadata service)"),
	UNIMPLEMENTED("/mmds/config", false, "mmds", "MMDS (the microVM metadata service)"),
	{ API_GET, "/balloon", false, ANY_STATE, h_get_balloon, "balloon" },
	{ API_PUT, "/balloon", false, PRE_BOOT, h_put_balloon, "balloon" },
	{ API_PATCH, "/balloon", false, ANY_STATE, h_patch_balloon, "balloon" },
	{ API_GET, "/balloon/statistics", false, ANY_STATE, h_get_balloon_stats, "balloon" },
	{ API_PATCH, "/balloon/statistics", false, ANY_STATE, h_patch_balloon_stats, "balloon" },
	UNIMPLEMENTED("/balloon/hinting/start", false, "balloon",
		      "the balloon's free page hinting"),
	UNIMPLEMENTED("/balloon/hinting/status", false, "balloon",
		      "the balloon's free page hinting"),
	UNIMPLEMENTED("/balloon/hinting/stop", false, "balloon",
		      "the balloon's free page hinting"),
	{ API_PUT, "/snapshot/create", false, POST_BOOT, h_put_snapshot_create, "snapshot" },
	{ API_PUT, "/snapshot/load", false, PRE_BOOT, h_put_snapshot_load, "snapshot" },
	UNIMPLEMENTED("/cpu-config", false, "cpu_cfg", "custom CPU templates (cpu-config)"),
	UNIMPLEMENTED("/pmem/", true, "pmem", "virtio-pmem devices"),
	UNIMPLEMENTED("/hotplug/memory", false, "hotplug_memory", "memory hot-plug"),
	UNIMPLEMENTED("/serial", false, "serial", "serial console configuration"),
};
_Static_assert(ARRAY_SIZE(routes) <= API_MAX_ROUTES, "api counters");

/* Does @path name @r? Sets *@id to the id segment of has_id rows. */
static bool route_matches(const struct route *r, const char *path, const char **id)
{
	size_t n = strlen(r->path);

	if (!r->has_id)
		return !strcmp(path, r->path);
	if (strncmp(path, r->path, n) || !path[n] || strchr(path + n, '/'))
		return false;
	*id = path + n;
	return true;
}

/* Fault messages are JSON strings: printable ASCII only. */
static void respond_fault(struct api_response *resp, const char *msg)
{
	char clean[API_ERR_MAX];
	json_t *obj;
	size_t i;

	for (i = 0; msg[i] && i < sizeof(clean) - 1; i++)
		clean[i] = (unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] > 0x7e ?
			   '?' : msg[i];
	clean[i] = '\0';
	resp->status = 400;
	obj = json_pack("{s:s}", "fault_message", clean);
	resp->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
}

static const char *const method_names[] = {
	[API_GET] = "GET", [API_PUT] = "PUT", [API_PATCH] = "PATCH", [API_OTHER] = "OTHER",
};

void api_handle(struct api *api, enum api_method method, const char *path,
		const char *body, size_t len, struct api_response *resp)
{
	const struct route *r = NULL;
	char err[API_ERR_MAX] = "";
	const char *id = NULL;
	bool path_known = false;
	json_t *doc = NULL;
	json_error_t jerr;
	int ret;

	*resp = (struct api_response){ .status = 204 };
	for (size_t i = 0; i < ARRAY_SIZE(routes) && !r; i++) {
		if (!route_matches(&routes[i], path, &id))
			continue;
		path_known = true;
		if (routes[i].method == method || routes[i].method == API_OTHER)
			r = &routes[i];
	}
	if (!r) {
		snprintf(err, sizeof(err), "Invalid request method and/or path: %s %.128s%s",
			 method_names[method], path, path_known ? " (method not allowed)" : "");
		api->api_fails++;
		goto out_fault;
	}
	api->counters[r - routes].count++;
	if (!r->handler) {
		snprintf(err, sizeof(err), "%s %.128s: %s is not implemented by kestrel",
			 method_names[method], path, r->missing);
		goto out_fail;
	}
	if (r->when == PRE_BOOT && api->state != API_STATE_NOT_STARTED) {
		snprintf(err, sizeof(err), "The requested operation is not supported after "
			 "starting the microVM.");
		goto out_fail;
	}
	if (r->when == POST_BOOT && api->state == API_STATE_NOT_STARTED) {
		snprintf(err, sizeof(err), "The requested operation is not supported before "
			 "starting the microVM.");
		goto out_fail;
	}
	if (method != API_GET) {
		if (!len) {
			snprintf(err, sizeof(err), "%s %.128s: the request needs a JSON body",
				 method_names[method], path);
			goto out_fail;
		}
		/* Duplicate keys are refused, as Firecracker's serde does. */
		doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!doc) {
			snprintf(err, sizeof(err), "malformed JSON body: %.200s (line %d, column %d)",
				 jerr.text, jerr.line, jerr.column);
			goto out_fail;
		}
	}
	ret = r->handler(api, id, doc, resp, err, sizeof(err));
	json_decref(doc);
	if (!ret)
		return;
	if (!err[0])
		snprintf(err, sizeof(err), "%s", strerror(-ret));
out_fail:
	api->counters[r - routes].fails++;
out_fault:
	pr_warn_ratelimited("API: %s %.64s: 400 %s", method_names[method], path, err);
	free(resp->body);
	respond_fault(resp, err);
}

void api_routes_metrics(struct api *api, json_t *root)
{
	static const char *const groups[] = {
		[API_GET] = "get_api_requests", [API_PUT] = "put_api_requests",
		[API_PATCH] = "patch_api_requests", [API_OTHER] = "other_api_requests",
	};

	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const struct route *r = &routes[i];
		struct api_counter *c = &api->counters[i];
		json_t *g = json_object_get(root, groups[r->method]);
		char key[64];

		if (!g) {
			g = json_object();
			json_object_set_new(root, groups[r->method], g);
		}
		/* Rows sharing a name (balloon/...) add up. */
		snprintf(key, sizeof(key), "%s_count", r->metric);
		json_object_set_new(g, key, json_integer(c->count +
			json_integer_value(json_object_get(g, key))));
		if (r->method != API_GET) {
			snprintf(key, sizeof(key), "%s_fails", r->metric);
			json_object_set_new(g, key, json_integer(c->fails +
				json_integer_value(json_object_get(g, key))));
		}
		*c = (struct api_counter){ 0 };
	}
}

/* ---- --config-file ----------------------------------------------------------------------- */

/**
 * struct config_section - one key of a --config-file document
 * @name: the key
 * @handler: the PUT handler of its endpoint; NULL: not implemented
 * @is_array: its value is an array of bodies (drives, network-interfaces)
 * @id_field: for arrays, the id each element carries
 */
struct config_section {
	const char *name;
	int (*handler)(struct api *api, const char *id, const json_t *body,
		       struct api_response *resp, char *err, size_t errlen);
	bool is_array;
	const char *id_field;
};

/* In Firecracker's order: the logger first, so what follows is logged. */
static const struct config_section sections[] = {
	{ "logger", h_put_logger },
	{ "metrics", h_put_metrics },
	{ "machine-config", h_put_machine },
	{ "boot-source", h_put_boot },
	{ "drives", h_put_drive, true, "drive_id" },
	{ "network-interfaces", h_put_net, true, "iface_id" },
	{ "vsock", h_put_vsock },
	{ "entropy", h_put_entropy },
	{ "mmds-config" },
	{ "balloon", h_put_balloon },
	{ "cpu-config" },
	{ "pmem" },
	{ "memory-hotplug" },
	{ "serial" },
};

/*
 * flintlock always writes "mmds-config": {"version": "V1"} and lists
 * network_interfaces only when one may reach MMDS. With none, MMDS is
 * unreachable, so kestrel (which has no MMDS) loses nothing by going on.
 */
static bool mmds_config_is_inert(const json_t *v)
{
	json_t *ifs = json_object_get(v, "network_interfaces");

	return json_is_object(v) && (!ifs || json_is_null(ifs) ||
				     (json_is_array(ifs) && !json_array_size(ifs)));
}

static int apply_section(struct api *api, const struct config_section *s,
			 const json_t *v, char *err, size_t errlen)
{
	struct api_response resp = { 0 };
	char sub[API_ERR_MAX];
	size_t i;
	json_t *e;
	int ret;

	if (!s->handler) {
		if (!strcmp(s->name, "mmds-config") && mmds_config_is_inert(v)) {
			pr_info("config file: mmds-config ignored: kestrel has no MMDS and no "
				"interface forwards to it");
			return 0;
		}
		snprintf(err, errlen, "%s is not implemented by kestrel", s->name);
		return -EOPNOTSUPP;
	}
	if (!s->is_array)
		return s->handler(api, NULL, v, &resp, err, errlen);
	if (!json_is_array(v)) {
		snprintf(err, errlen, "%s must be an array", s->name);
		return -EINVAL;
	}
	json_array_foreach(v, i, e) {
		ret = s->handler(api, json_get_str(e, s->id_field), e, &resp, sub,
				 sizeof(sub));
		if (ret) {
			snprintf(err, errlen, "%s[%zu]: %.400s", s->name, i, sub);
			return ret;
		}
	}
	return 0;
}

int api_load_config(struct api *api, const char *text, size_t len, char *err,
		    size_t errlen)
{
	char msg[API_ERR_MAX] = "";
	json_error_t jerr;
	const char *key;
	json_t *doc, *v;
	int ret = 0;

	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		snprintf(err, errlen, "config file: malformed JSON: %.200s (line %d, column %d)",
			 jerr.text, jerr.line, jerr.column);
		return -EINVAL;
	}
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "config file: expected a JSON object");
		ret = -EINVAL;
		goto out_put;
	}
	/* Every key known before anything is applied. */
	json_object_foreach(doc, key, v) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(sections); i++)
			if (!strcmp(key, sections[i].name))
				break;
		if (i == ARRAY_SIZE(sections)) {
			snprintf(err, errlen, "config file: unknown section '%.64s'", key);
			ret = -EINVAL;
			goto out_put;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		v = json_object_get(doc, sections[i].name);
		if (!v || json_is_null(v))
			continue;
		ret = apply_section(api, &sections[i], v, msg, sizeof(msg));
		if (ret) {
			snprintf(err, errlen, "config file: %.480s", msg);
			goto out_put;
		}
	}
out_put:
	json_decref(doc);
	return ret;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

int api_create(struct api_vmm *vmm, const char *instance_id, struct api **out)
{
	struct api *api = calloc(1, sizeof(*api));

	if (!api)
		return -ENOMEM;
	/*
	 * jansson seeds its hash function on first use from /dev/urandom:
	 * here, during set-up, not on the API thread, whose filter opens no
	 * such file (docs/sandbox.md).
	 */
	json_object_seed(0);
	vmconfig_init(&api->cfg);
	api->vmm = vmm;
	api->metrics.fd = -1;
	snprintf(api->instance_id, sizeof(api->instance_id), "%s", instance_id);
	*out = api;
	return 0;
}

void api_destroy(struct api *api)
{
	if (!api)
		return;
	api_metrics_close(&api->metrics);
	api_logger_config_release(&api->logger);
	vmconfig_release(&api->cfg);
	free(api);
}
