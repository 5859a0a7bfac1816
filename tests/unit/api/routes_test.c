// SPDX-License-Identifier: GPL-2.0-only
/*
 * src/api/routes.c: every endpoint's status codes and state rules, the
 * unimplemented ones, hostile paths and bodies, the metrics object, the
 * logger's line format and --config-file (which must give the same errors
 * as the API), all in-process against a fake VMM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/api/internal.h"
#include "../test.h"
#include "files.h"
#include "fake_vmm.h"

static char dir[] = "/tmp/kestrel-routes-XXXXXX";
static char disk[160], disk2[160], metrics_path[160], log_path[160];

/* One request; Return: the status; @out gets the body (or ""). */
static int req(struct api *api, enum api_method m, const char *path,
	       const char *body, char *out, size_t outlen)
{
	struct api_response r;

	api_handle(api, m, path, body, body ? strlen(body) : 0, &r);
	snprintf(out, outlen, "%s", r.body ? r.body : "");
	free(r.body);
	return r.status;
}

static bool fault_names(const char *body, const char *what)
{
	json_t *j = json_loads(body, 0, NULL);
	const char *m = json_string_value(json_object_get(j, "fault_message"));
	bool ok = m && strstr(m, what);

	json_decref(j);
	return ok;
}

static const char *state_of(struct api *api)
{
	static char state[32];
	char body[512];
	json_t *j;

	req(api, API_GET, "/", NULL, body, sizeof(body));
	j = json_loads(body, 0, NULL);
	snprintf(state, sizeof(state), "%s", json_string_value(json_object_get(j, "state")));
	json_decref(j);
	return state;
}

static void test_lifecycle(void)
{
	struct fake_vmm f;
	struct api *api;
	char b[1024], body[512];
	int st;

	fake_vmm_init(&f);
	api_create(&f.vmm, "vm1", &api);
	report(!strcmp(state_of(api), "Not started"), "GET /: Not started");
	st = req(api, API_GET, "/version", NULL, b, sizeof(b));
	report(st == 200 && strstr(b, "\"firecracker_version\":\"" API_FIRECRACKER_VERSION "\""),
	       "GET /version: %s", b);
	report(req(api, API_PATCH, "/vm", "{\"state\": \"Paused\"}", b, sizeof(b)) == 400 &&
	       fault_names(b, "before starting"), "PATCH /vm before boot: 400");
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", b, sizeof(b)) == 400 &&
	       fault_names(b, "not running") && !f.ctrl_alt_dels,
	       "SendCtrlAltDel before boot: 400, the VMM is not asked");
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"is_read_only\": false}", disk);
	report(req(api, API_PUT, "/drives/rootfs", body, b, sizeof(b)) == 204, "PUT /drives/rootfs");
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}", disk2);
	report(req(api, API_PATCH, "/drives/rootfs", body, b, sizeof(b)) == 400 &&
	       fault_names(b, "before starting"), "PATCH /drives before boot: 400");
	report(req(api, API_PUT, "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}",
		   b, sizeof(b)) == 204 && !b[0], "PUT /machine-config: 204, no body");
	report(req(api, API_PUT, "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
		   "\"host_dev_name\": \"tap0\", \"rx_rate_limiter\": {\"ops\": {\"size\": 100, "
		   "\"refill_time\": 100}}}", b, sizeof(b)) == 204,
	       "PUT /network-interfaces with a limiting rx_rate_limiter: 204");
	report(req(api, API_PATCH, "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
		   "\"tx_rate_limiter\": {}}", b, sizeof(b)) == 400 &&
	       fault_names(b, "before starting"), "PATCH /network-interfaces before boot: 400");

	f.fail_next = -EIO;
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"InstanceStart\"}", b, sizeof(b)) == 400 &&
	       fault_names(b, "fake start failure") && !strcmp(state_of(api), "Not started"),
	       "a failed InstanceStart: 400 with the VMM's reason, still Not started");
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"InstanceStart\"}", b, sizeof(b)) == 204 &&
	       f.starts == 1 && f.start_vcpus == 2 && !strcmp(state_of(api), "Running"),
	       "InstanceStart: 204, the VMM got the model, Running");
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"InstanceStart\"}", b, sizeof(b)) == 400 &&
	       f.starts == 1, "a second InstanceStart: 400");

	static const char *const pre_boot[][2] = {
		{ "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}" },
		{ "/boot-source", "{\"kernel_image_path\": \"/x\"}" },
		{ "/drives/x", "{\"drive_id\": \"x\", \"path_on_host\": \"/x\", \"is_root_device\": false}" },
		{ "/network-interfaces/x", "{\"iface_id\": \"x\", \"host_dev_name\": \"t\"}" },
		{ "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}" },
		{ "/entropy", "{}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(pre_boot); i++)
		report(req(api, API_PUT, pre_boot[i][0], pre_boot[i][1], b, sizeof(b)) == 400 &&
		       fault_names(b, "after starting"), "PUT %s after boot: 400", pre_boot[i][0]);
	report(req(api, API_PATCH, "/machine-config", "{\"vcpu_count\": 1}", b, sizeof(b)) == 400,
	       "PATCH /machine-config after boot: 400");

	report(req(api, API_PATCH, "/vm", "{\"state\": \"Paused\"}", b, sizeof(b)) == 204 &&
	       f.pauses == 1 && !strcmp(state_of(api), "Paused"), "PATCH /vm Paused: Paused");
	report(req(api, API_PATCH, "/vm", "{\"state\": \"Resumed\"}", b, sizeof(b)) == 204 &&
	       f.resumes == 1 && !strcmp(state_of(api), "Running"), "PATCH /vm Resumed: Running");
	f.fail_next = -EBUSY;
	report(req(api, API_PATCH, "/vm", "{\"state\": \"Paused\"}", b, sizeof(b)) == 400 &&
	       !strcmp(state_of(api), "Running"), "a failed pause leaves it Running");
	report(req(api, API_PATCH, "/vm", "{\"state\": \"Stopped\"}", b, sizeof(b)) == 400 &&
	       fault_names(b, "Paused or Resumed"), "PATCH /vm with another state: 400");
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", b, sizeof(b)) == 204 &&
	       f.ctrl_alt_dels == 1, "SendCtrlAltDel after boot: 204, it reaches the VMM");
	f.fail_next = -EBUSY;
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", b, sizeof(b)) == 400 &&
	       fault_names(b, "keyboard buffer is full") && !strcmp(state_of(api), "Running"),
	       "keys the guest has not read: 400 saying so, still Running");
	f.fail_next = -EAGAIN;
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", b, sizeof(b)) == 400 &&
	       fault_names(b, "disabled its keyboard"), "a disabled keyboard: 400 saying so");
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"Reboot\"}", b, sizeof(b)) == 400 &&
	       fault_names(b, "action_type"), "an unknown action: 400");

	report(req(api, API_PATCH, "/drives/rootfs", body, b, sizeof(b)) == 204 &&
	       f.drive_updates == 1 && !strcmp(f.last_drive_path, disk2),
	       "PATCH /drives after boot: the VMM swaps the backing file");
	req(api, API_GET, "/vm/config", NULL, b, sizeof(b));
	report(strstr(b, disk2) != NULL, "and GET /vm/config shows the new path");
	f.fail_next = -EIO;
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}", disk);
	report(req(api, API_PATCH, "/drives/rootfs", body, b, sizeof(b)) == 400 &&
	       fault_names(b, "fake update failure"), "a failed swap: 400 with the reason");
	req(api, API_GET, "/vm/config", NULL, b, sizeof(b));
	report(strstr(b, disk2) != NULL, "and the model keeps the old path");
	report(req(api, API_PATCH, "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": "
		   "{\"bandwidth\": {\"size\": 1048576, \"refill_time\": 1000}}}", b, sizeof(b)) == 204 &&
	       f.limiter_updates == 1 && f.last_limiter == API_LIMIT_DRIVE &&
	       !strcmp(f.last_limiter_id, "rootfs") && f.last_rl.bandwidth.set &&
	       f.last_rl.bandwidth.size == 1048576 && !f.last_rl.ops.set &&
	       f.drive_updates == 1, "PATCH /drives with a rate_limiter: the VMM sets the bandwidth bucket only");
	req(api, API_GET, "/vm/config", NULL, b, sizeof(b));
	report(strstr(b, "\"size\":1048576") != NULL, "and GET /vm/config shows it: %.200s", b);
	report(req(api, API_PATCH, "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
		   "\"tx_rate_limiter\": {\"ops\": {\"size\": 7, \"refill_time\": 10}}}",
		   b, sizeof(b)) == 204 && f.limiter_updates == 2 &&
	       f.last_limiter == API_LIMIT_NET_TX && !strcmp(f.last_limiter_id, "eth0") &&
	       f.last_rl.ops.size == 7, "PATCH /network-interfaces: the VMM sets the tx limiter");
	f.fail_next = -ENOENT;
	report(req(api, API_PATCH, "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
		   "\"rx_rate_limiter\": {\"ops\": {\"size\": 9, \"refill_time\": 10}}}",
		   b, sizeof(b)) == 400 && fault_names(b, "fake limiter failure"),
	       "a failed limiter update: 400 with the reason");
	req(api, API_GET, "/vm/config", NULL, b, sizeof(b));
	report(strstr(b, "\"size\":100") && !strstr(b, "\"size\":9,"),
	       "and the model keeps the old limiter");
	report(req(api, API_PATCH, "/network-interfaces/eth9", "{\"iface_id\": \"eth9\", "
		   "\"rx_rate_limiter\": {}}", b, sizeof(b)) == 400 &&
	       fault_names(b, "no such network interface") && f.limiter_updates == 2,
	       "PATCH of an unknown interface: 400, the VMM is not asked");
	report(req(api, API_PATCH, "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
		   "\"tx_rate_limiter\": {\"ops\": {\"size\": 7}}}", b, sizeof(b)) == 400 &&
	       fault_names(b, "refill_time") && f.limiter_updates == 2,
	       "a bad bucket: 400 naming the field");
	report(req(api, API_GET, "/machine-config", NULL, b, sizeof(b)) == 200,
	       "GET /machine-config after boot: 200");
	api_destroy(api);

	api_create(NULL, "vm2", &api);
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"InstanceStart\"}", b, sizeof(b)) == 400 &&
	       fault_names(b, "machine builder"), "without a VMM, InstanceStart says why: %s", b);
	api_destroy(api);
}

static void test_hostile(void)
{
	static const char *const unimplemented[][3] = {
		{ "PUT", "/mmds", "MMDS" }, { "GET", "/mmds", "MMDS" },
		{ "PATCH", "/mmds", "MMDS" }, { "PUT", "/mmds/config", "MMDS" },
		{ "PATCH", "/balloon/hinting/start", "hinting" },
		{ "GET", "/balloon/hinting/status", "hinting" },
		{ "PUT", "/cpu-config", "cpu-config" }, { "PUT", "/pmem/p0", "pmem" },
		{ "PUT", "/hotplug/memory", "hot-plug" }, { "PUT", "/serial", "serial" },
	};
	static const struct {
		enum api_method m;
		const char *path, *body, *names;
	} bad[] = {
		{ API_GET, "/nope", NULL, "Invalid request method and/or path" },
		{ API_OTHER, "/", NULL, "Invalid request method and/or path" },
		{ API_PUT, "/", "{}", "method not allowed" },
		{ API_GET, "/boot-source", NULL, "method not allowed" },
		{ API_PUT, "/drives/", "{}", "Invalid request" },
		{ API_PUT, "/drives/../../etc/passwd", "{}", "Invalid request" },
		{ API_PUT, "/drives/a/b", "{}", "Invalid request" },
		{ API_PUT, "/drives/a%2Fb", "{\"drive_id\": \"a%2Fb\", \"path_on_host\": \"/x\", \"is_root_device\": false}", "drive_id" },
		{ API_PUT, "/machine-config/", "{}", "Invalid request" },
		{ API_PUT, "//machine-config", "{}", "Invalid request" },
		{ API_PUT, "/machine-config", NULL, "needs a JSON body" },
		{ API_PUT, "/machine-config", "{\"vcpu_count\": 1,", "malformed JSON" },
		{ API_PUT, "/machine-config", "{\"vcpu_count\": 1} trailing", "malformed JSON" },
		{ API_PUT, "/machine-config", "\"just a string\"", "malformed JSON" },
		{ API_PUT, "/machine-config", "[]", "expected a JSON object" },
		{ API_PUT, "/machine-config", "{\"a\":1, \"a\":2}", "duplicate" },
		{ API_PUT, "/machine-config", "{\"vcpu_count\": \"\\u0000\"}", "malformed JSON" },
		{ API_PUT, "/machine-config", "{\"vcpu_count\": 1e400, \"mem_size_mib\": 1}", "malformed JSON" },
		{ API_PUT, "/machine-config", "{\"vcpu_count\": 99999999999999999999999, \"mem_size_mib\": 1}", "malformed JSON" },
		{ API_PUT, "/actions", "{\"action_type\": null}", "action_type" },
		{ API_PUT, "/actions", "{\"action_type\": \"FlushMetrics\"}", "not initialized" },
		{ API_PUT, "/logger", "{\"level\": \"Loud\"}", "level" },
		{ API_PUT, "/logger", "{\"module\": \"api_server\"}", "module" },
		{ API_PUT, "/metrics", "{}", "metrics_path" },
		{ API_PUT, "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v.sock\", \"vsock_id\": \"root\"}", "guest_cid" },
	};
	struct fake_vmm f;
	struct api *api;
	char b[1024], raw[64] = "{\"vcpu_count\": 1, \"mem_size_mib\": 1";
	struct api_response r;
	int ok = 0;

	fake_vmm_init(&f);
	api_create(&f.vmm, "vm3", &api);
	for (size_t i = 0; i < ARRAY_SIZE(unimplemented); i++) {
		enum api_method m = !strcmp(unimplemented[i][0], "GET") ? API_GET :
				    !strcmp(unimplemented[i][0], "PUT") ? API_PUT : API_PATCH;
		int st = req(api, m, unimplemented[i][1], "{}", b, sizeof(b));

		report(st == 400 && fault_names(b, unimplemented[i][2]) &&
		       fault_names(b, "not implemented"), "%s %s: 400 naming %s",
		       unimplemented[i][0], unimplemented[i][1], unimplemented[i][2]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		report(req(api, bad[i].m, bad[i].path, bad[i].body, b, sizeof(b)) == 400 &&
		       fault_names(b, bad[i].names), "%s: 400 %s", bad[i].path, b);

	/* A NUL inside the body and bytes that are not UTF-8. */
	raw[20] = '\0';
	api_handle(api, API_PUT, "/machine-config", raw, 40, &r);
	report(r.status == 400, "a body with a NUL byte: 400");
	free(r.body);
	api_handle(api, API_PUT, "/machine-config", "{\"\xff\xfe\": 1}", 8, &r);
	report(r.status == 400, "a body that is not UTF-8: 400");
	free(r.body);
	api_handle(api, API_GET, "/\x01\xff\n\"", NULL, 0, &r);
	report(r.status == 400 && r.body && json_loads(r.body, 0, NULL),
	       "a hostile path still gets a valid JSON fault: %s", r.body);
	free(r.body);

	for (int i = 0; i < 1000; i++)
		ok += req(api, API_PUT, "/machine-config",
			  "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", b, sizeof(b)) == 204 &&
		      req(api, API_GET, "/machine-config", NULL, b, sizeof(b)) == 200;
	report(ok == 1000, "1000 PUT + GET pairs in a row: %d answered right", ok);
	report(!strcmp(state_of(api), "Not started") && !f.starts,
	       "after all of it: still Not started, the VMM untouched");
	api_destroy(api);
}

static void test_metrics_and_logger(void)
{
	struct fake_vmm f;
	struct api *api;
	char b[1024], body[512], line[8192];
	json_t *m;
	ssize_t n;
	int fd;

	fake_vmm_init(&f);
	api_create(&f.vmm, "vm4", &api);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", metrics_path);
	report(req(api, API_PUT, "/metrics", body, b, sizeof(b)) == 204, "PUT /metrics");
	report(req(api, API_PUT, "/metrics", body, b, sizeof(b)) == 400 &&
	       fault_names(b, "already"), "a second PUT /metrics: 400 (as Firecracker)");
	req(api, API_PUT, "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 1}", b, sizeof(b));
	req(api, API_GET, "/machine-config", NULL, b, sizeof(b));
	req(api, API_PUT, "/actions", "{\"action_type\": \"InstanceStart\"}", b, sizeof(b));
	report(req(api, API_PUT, "/actions", "{\"action_type\": \"FlushMetrics\"}", b, sizeof(b)) == 204,
	       "FlushMetrics");
	fd = open(metrics_path, O_RDONLY);
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	line[n > 0 ? n : 0] = '\0';
	report(n > 0 && line[n - 1] == '\n' && strchr(line, '\n') == line + n - 1,
	       "one JSON object on one line");
	m = json_loads(line, 0, NULL);
	report(json_integer_value(json_object_get(json_object_get(m, "put_api_requests"),
						  "machine_cfg_fails")) == 1 &&
	       json_integer_value(json_object_get(json_object_get(m, "put_api_requests"),
						  "actions_count")) == 2 &&
	       json_integer_value(json_object_get(json_object_get(m, "get_api_requests"),
						  "machine_cfg_count")) == 1 &&
	       json_integer_value(json_object_get(json_object_get(m, "vcpu"), "exit_io_out")) == 42 &&
	       json_integer_value(json_object_get(json_object_get(m, "block"), "request_count")) == 7 &&
	       json_integer_value(json_object_get(json_object_get(m, "block"),
						  "rate_limiter_throttled_events")) == 3 &&
	       json_integer_value(json_object_get(json_object_get(m, "net"),
						  "tx_rate_limiter_throttled")) == 5 &&
	       json_integer_value(json_object_get(json_object_get(m, "balloon"),
						  "inflate_count")) == 256 &&
	       json_object_get(m, "utc_timestamp_ms") && json_object_get(m, "net") &&
	       json_object_get(m, "vsock"),
	       "API, vCPU-exit, block, net, balloon and vsock groups with the counts: %.300s", line);
	json_decref(m);
	api_metrics_flush(api);
	fd = open(metrics_path, O_RDONLY);
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	line[n > 0 ? n : 0] = '\0';
	m = json_loads(strchr(line, '\n') + 1, 0, NULL);
	report(m && json_integer_value(json_object_get(json_object_get(m, "put_api_requests"),
						       "actions_count")) == 0 &&
	       json_integer_value(json_object_get(json_object_get(m, "vcpu"), "exit_io_out")) == 0,
	       "the next flush counts only what came since");
	json_decref(m);

	snprintf(body, sizeof(body), "{\"log_path\": \"%s\", \"level\": \"debug\", "
		 "\"show_level\": true, \"show_log_origin\": true}", log_path);
	report(req(api, API_PUT, "/logger", body, b, sizeof(b)) == 204, "PUT /logger");
	pr_info("hello\nfrom the test");
	api_logger_close();
	fd = open(log_path, O_RDONLY);
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	line[n > 0 ? n : 0] = '\0';
	report(n > 30 && line[4] == '-' && line[10] == 'T' && line[19] == '.' && line[29] == ' ' &&
	       strstr(line, " [vm4:main:INFO:tests/unit/api/routes_test.c:") &&
	       strstr(line, "] hello?from the test\n"),
	       "Firecracker's line format, one line: %s", line);
	req(api, API_GET, "/vm/config", NULL, b, sizeof(b));
	report(strstr(b, "\"level\":\"Debug\"") && strstr(b, metrics_path),
	       "GET /vm/config shows logger and metrics");
	log_level_set(LOG_INFO);
	api_destroy(api);
}

static int config(struct api *api, const char *text, char *err)
{
	return api_load_config(api, text, strlen(text), err, API_ERR_MAX);
}

static void test_config_file(void)
{
	struct fake_vmm f;
	struct api *api;
	char err[API_ERR_MAX], doc[2048], b[1024];

	fake_vmm_init(&f);
	api_create(&f.vmm, "vm5", &api);
	/* The same bad body both ways: the same message. */
	req(api, API_PUT, "/machine-config", "{\"vcpu_count\": 40, \"mem_size_mib\": 128}", b, sizeof(b));
	config(api, "{\"machine-config\": {\"vcpu_count\": 40, \"mem_size_mib\": 128}}", err);
	json_t *j = json_loads(b, 0, NULL);
	report(strstr(err, json_string_value(json_object_get(j, "fault_message"))) != NULL,
	       "config file and API give the same error: '%s'", err);
	json_decref(j);
	report(config(api, "{\"machine-config\": {}, \"bogus\": {}}", err) == -EINVAL &&
	       strstr(err, "bogus"), "an unknown section: %s", err);
	report(config(api, "{\"machine-config\": ", err) == -EINVAL && strstr(err, "malformed"),
	       "malformed JSON: %s", err);
	report(config(api, "{\"drives\": {}}", err) == -EINVAL && strstr(err, "array"),
	       "drives must be an array");
	report(config(api, "{\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"}}", err) == 0 &&
	       api->cfg.vsock && api->cfg.vsock_cid == 3, "the vsock section: %s", err);
	report(config(api, "{\"vsock\": {\"guest_cid\": 1, \"uds_path\": \"/v\"}}", err) == -EINVAL &&
	       strstr(err, "guest_cid"), "a bad vsock section: %s", err);
	report(config(api, "{\"balloon\": {\"amount_mib\": 100000, \"deflate_on_oom\": true}}",
		      err) == -EINVAL && strstr(err, "balloon: amount_mib 100000 is more than"),
	       "a balloon larger than the guest: %s", err);
	report(config(api, "{\"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": true, "
		      "\"free_page_hinting\": true}}", err) == -EOPNOTSUPP &&
	       strstr(err, "free_page_hinting"), "free page hinting: %s", err);
	report(!config(api, "{\"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": true, "
		       "\"stats_polling_interval_s\": 2}}", err) && api->cfg.balloon.set &&
	       api->cfg.balloon.amount_mib == 1 && api->cfg.balloon.stats_polling_interval_s == 2,
	       "a balloon section is applied: %s", err);
	report(config(api, "{\"mmds-config\": {\"network_interfaces\": [\"eth0\"]}}", err) ==
	       -EOPNOTSUPP && strstr(err, "mmds"), "MMDS reachable from an interface: refused");
	snprintf(doc, sizeof(doc),
		 "{\"boot-source\": null, \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\","
		 " \"is_root_device\": true, \"partuuid\": null, \"is_read_only\": false,"
		 " \"cache_type\": \"Unsafe\", \"rate_limiter\": null}, {\"drive_id\": \"bad id\","
		 " \"path_on_host\": \"%s\", \"is_root_device\": false}],"
		 " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": true,"
		 " \"track_dirty_pages\": false}}", disk, disk);
	report(config(api, doc, err) == -EINVAL && strstr(err, "drives[1]"),
	       "an error names the array element: %s", err);
	/* flintlock's document (testdata/vm_config.json), with our files. */
	snprintf(doc, sizeof(doc),
		 "{\"boot-source\": null, \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\","
		 " \"is_root_device\": true, \"partuuid\": null, \"is_read_only\": false,"
		 " \"cache_type\": \"Unsafe\", \"rate_limiter\": null}],"
		 " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": true,"
		 " \"track_dirty_pages\": false}, \"balloon\": null, \"network-interfaces\": [],"
		 " \"vsock\": null, \"logger\": null, \"metrics\": null, \"mmds-config\": {\"version\": \"V1\"}}",
		 disk);
	report(!config(api, doc, err) && api->cfg.nr_drives == 1 && api->cfg.machine.vcpu_count == 2 &&
	       api->cfg.machine.smt, "flintlock's document is accepted: %s", err);
	report(!api_instance_start(api, err, sizeof(err)) && f.starts == 1 &&
	       !strcmp(state_of(api), "Running"), "and boots; GET / says Running");
	api_destroy(api);
}

/* The snapshot bodies are checked before any VMM is asked (docs/api.md). */
static void test_snapshot(void)
{
	static const struct {
		const char *path, *body, *names;
	} bad[] = {
		{ "/snapshot/load", "{\"snapshot_path\": \"/s\"}", "one of mem_file_path" },
		{ "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
		  "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/m\"}}",
		  "one of mem_file_path" },
		{ "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_backend\": "
		  "{\"backend_type\": \"Uffd\", \"backend_path\": \"/u\"}}", "Uffd" },
		{ "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
		  "\"network_overrides\": [{\"iface_id\": \"eth0\"}]}", "host_dev_name" },
		{ "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
		  "\"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": "
		  "\"a_name_too_long_for_linux\"}]}", "at most 15" },
		{ "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
		  "\"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"t\"}, "
		  "{\"iface_id\": \"eth0\", \"host_dev_name\": \"u\"}]}", "given twice" },
		{ "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
		  "\"enable_diff_snapshots\": true}", "diff snapshots" },
		{ "/snapshot/load", "{\"mem_file_path\": \"/m\"}", "snapshot_path" },
		{ "/snapshot/load", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
		  "\"bogus\": 1}", "bogus" },
		{ "/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
		  "before starting" },
	};
	struct api *api;
	char b[1024];

	api_create(NULL, "vm5", &api);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int code = req(api, API_PUT, bad[i].path, bad[i].body, b, sizeof(b));

		report(code == 400 && fault_names(b, bad[i].names), "PUT %s %s: 400 naming '%s': %s",
		       bad[i].path, bad[i].body, bad[i].names, b);
	}
	api_destroy(api);
}

/* PUT/GET/PATCH /balloon and /balloon/statistics, before and after boot. */
static void test_balloon(void)
{
	struct fake_vmm f;
	struct api *api;
	char b[1024];
	json_t *j;

	fake_vmm_init(&f);
	api_create(&f.vmm, "vmb", &api);
	report(req(api, API_GET, "/balloon", NULL, b, sizeof(b)) == 400 &&
	       fault_names(b, "no balloon"), "GET /balloon without one: 400");
	report(req(api, API_PATCH, "/balloon", "{\"amount_mib\": 1}", b, sizeof(b)) == 400 &&
	       fault_names(b, "no balloon"), "PATCH /balloon without one: 400");
	report(req(api, API_PUT, "/balloon", "{\"amount_mib\": 64}", b, sizeof(b)) == 400 &&
	       fault_names(b, "deflate_on_oom"), "deflate_on_oom is required: %s", b);
	report(req(api, API_PUT, "/balloon", "{\"amount_mib\": 129, \"deflate_on_oom\": false}",
		   b, sizeof(b)) == 400 && fault_names(b, "mem_size_mib 128"),
	       "more than the guest's 128 MiB: 400 %s", b);
	report(req(api, API_PUT, "/balloon", "{\"amount_mib\": -1, \"deflate_on_oom\": false}",
		   b, sizeof(b)) == 400, "a negative amount_mib: 400");
	report(req(api, API_PUT, "/balloon", "{\"amount_mib\": 8, \"deflate_on_oom\": true, "
		   "\"stats_polling_interval_s\": 100000}", b, sizeof(b)) == 400 &&
	       fault_names(b, "at most 86400"), "an interval over a day: 400");
	report(req(api, API_PUT, "/balloon", "{\"amount_mib\": 8, \"deflate_on_oom\": true, "
		   "\"bogus\": 1}", b, sizeof(b)) == 400 && fault_names(b, "bogus"),
	       "an unknown field: 400");
	report(req(api, API_PUT, "/balloon", "{\"amount_mib\": 64, \"deflate_on_oom\": true, "
		   "\"stats_polling_interval_s\": 1, \"free_page_reporting\": true}", b,
		   sizeof(b)) == 204 && api->cfg.balloon.set, "PUT /balloon: 204");
	report(req(api, API_GET, "/balloon", NULL, b, sizeof(b)) == 200 &&
	       strstr(b, "\"amount_mib\":64") && strstr(b, "\"deflate_on_oom\":true") &&
	       strstr(b, "\"stats_polling_interval_s\":1") &&
	       strstr(b, "\"free_page_reporting\":true"), "GET /balloon: %s", b);
	report(req(api, API_GET, "/balloon/statistics", NULL, b, sizeof(b)) == 400 &&
	       fault_names(b, "not running"), "GET /balloon/statistics before boot: 400");
	report(req(api, API_PATCH, "/balloon", "{\"amount_mib\": 32}", b, sizeof(b)) == 204 &&
	       api->cfg.balloon.amount_mib == 32 && !f.balloon_updates,
	       "PATCH /balloon before boot changes the model only");
	report(req(api, API_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\": 0}", b,
		   sizeof(b)) == 204 && req(api, API_PATCH, "/balloon/statistics",
		   "{\"stats_polling_interval_s\": 2}", b, sizeof(b)) == 204 &&
	       api->cfg.balloon.stats_polling_interval_s == 2,
	       "PATCH /balloon/statistics before boot: any interval");
	report(req(api, API_GET, "/vm/config", NULL, b, sizeof(b)) == 200 &&
	       strstr(b, "\"balloon\":{\"amount_mib\":32"), "GET /vm/config has the balloon");

	report(!api_instance_start(api, b, sizeof(b)), "InstanceStart");
	report(req(api, API_PUT, "/balloon", "{\"amount_mib\": 8, \"deflate_on_oom\": true}", b,
		   sizeof(b)) == 400 && fault_names(b, "after starting"), "PUT /balloon after boot: 400");
	report(req(api, API_PATCH, "/balloon", "{\"amount_mib\": 100}", b, sizeof(b)) == 204 &&
	       f.balloon_updates == 1 && f.last_balloon_target && !f.last_balloon_interval &&
	       f.last_balloon.amount_mib == 100 && api->cfg.balloon.amount_mib == 100,
	       "PATCH /balloon after boot: the VMM sets the target");
	report(req(api, API_PATCH, "/balloon", "{\"amount_mib\": 200}", b, sizeof(b)) == 400 &&
	       f.balloon_updates == 1 && api->cfg.balloon.amount_mib == 100,
	       "more than the guest's memory: 400, nothing asked");
	f.fail_next = -ENODEV;
	report(req(api, API_PATCH, "/balloon", "{\"amount_mib\": 10}", b, sizeof(b)) == 400 &&
	       fault_names(b, "fake balloon failure") && api->cfg.balloon.amount_mib == 100,
	       "a VMM failure: 400 with its reason, the model unchanged");
	report(req(api, API_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\": 0}",
		   b, sizeof(b)) == 400 && fault_names(b, "cannot be turned on or off"),
	       "statistics cannot be turned off after boot");
	report(req(api, API_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\": 5}",
		   b, sizeof(b)) == 204 && f.balloon_updates == 2 && f.last_balloon_interval &&
	       f.last_balloon.stats_polling_interval_s == 5, "PATCH /balloon/statistics after boot");
	report(req(api, API_GET, "/balloon/statistics", NULL, b, sizeof(b)) == 200, "GET statistics");
	j = json_loads(b, 0, NULL);
	report(json_integer_value(json_object_get(j, "target_pages")) == 100 * 256 &&
	       json_integer_value(json_object_get(j, "target_mib")) == 100 &&
	       json_integer_value(json_object_get(j, "actual_mib")) == 50 &&
	       json_integer_value(json_object_get(j, "free_memory")) == 1 << 20 &&
	       !json_object_get(j, "swap_in"), "BalloonStats: %s", b);
	json_decref(j);
	api_destroy(api);

	/* Statistics off at boot: GET and PATCH statistics are 400s. */
	fake_vmm_init(&f);
	api_create(&f.vmm, "vmc", &api);
	req(api, API_PUT, "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": false}", b, sizeof(b));
	api_instance_start(api, b, sizeof(b));
	report(req(api, API_GET, "/balloon/statistics", NULL, b, sizeof(b)) == 400 &&
	       fault_names(b, "not enabled"), "statistics off: GET 400");
	report(req(api, API_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\": 1}", b,
		   sizeof(b)) == 400 && fault_names(b, "cannot be turned on"),
	       "statistics off: PATCH 400");
	api_destroy(api);
}

int main(void)
{
	if (!mkdtemp(dir) || make_file(disk, sizeof(disk), dir, "disk.img", 1 << 20) ||
	    make_file(disk2, sizeof(disk2), dir, "disk2.img", 2 << 20)) {
		report(false, "test files in %s", dir);
		return report_summary();
	}
	snprintf(metrics_path, sizeof(metrics_path), "%s/metrics", dir);
	snprintf(log_path, sizeof(log_path), "%s/log", dir);
	test_lifecycle();
	test_hostile();
	test_snapshot();
	test_balloon();
	test_metrics_and_logger();
	test_config_file();
	unlink(disk);
	unlink(disk2);
	unlink(metrics_path);
	unlink(log_path);
	rmdir(dir);
	return report_summary();
}
