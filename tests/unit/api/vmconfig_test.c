// SPDX-License-Identifier: GPL-2.0-only
/*
 * src/api/vmconfig.c: every body of the configuration endpoints, good and
 * bad, against the model. A bad body must change nothing and name what
 * is wrong; a good one must land in the model as Firecracker would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/api/internal.h"
#include "../test.h"
#include "files.h"

static char dir[] = "/tmp/kestrel-vmconfig-XXXXXX";
static char disk_a[128], disk_b[128], kernel[128];

/* 100 bytes of a path name, for paths past what a block device takes */
#define P10	"aaaaaaaaaa"
#define P100	P10 P10 P10 P10 P10 P10 P10 P10 P10 P10

enum section { MACHINE, PATCH_MACHINE, BOOT, DRIVE, NET, ENTROPY, VSOCK };

static int apply(struct vmconfig *cfg, enum section s, const char *id,
		 const char *text, char *err)
{
	json_error_t jerr;
	json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	int ret = -EBADMSG;

	err[0] = '\0';
	if (!body) {
		snprintf(err, API_ERR_MAX, "test JSON: %s", jerr.text);
		return ret;
	}
	switch (s) {
	case MACHINE: ret = vmconfig_set_machine(cfg, body, false, err, API_ERR_MAX); break;
	case PATCH_MACHINE: ret = vmconfig_set_machine(cfg, body, true, err, API_ERR_MAX); break;
	case BOOT: ret = vmconfig_set_boot(cfg, body, err, API_ERR_MAX); break;
	case DRIVE: ret = vmconfig_set_drive(cfg, id, body, err, API_ERR_MAX); break;
	case NET: ret = vmconfig_set_net(cfg, id, body, err, API_ERR_MAX); break;
	case ENTROPY: ret = vmconfig_set_entropy(cfg, body, err, API_ERR_MAX); break;
	case VSOCK: ret = vmconfig_set_vsock(cfg, body, err, API_ERR_MAX); break;
	}
	json_decref(body);
	return ret;
}

struct bad_case {
	enum section s;
	const char *id;
	const char *body;
	int ret;
	const char *names;	/* the fault message must contain it */
};

/* Bodies that must be refused, leaving the model as it was. */
static void test_bad_bodies(void)
{
	static const struct bad_case cases[] = {
		{ MACHINE, NULL, "{\"vcpu_count\": 1}", -EINVAL, "mem_size_mib" },
		{ MACHINE, NULL, "{\"vcpu_count\": 0, \"mem_size_mib\": 128}", -EINVAL, "vcpu_count" },
		{ MACHINE, NULL, "{\"vcpu_count\": 33, \"mem_size_mib\": 128}", -EINVAL, "vcpu_count" },
		{ MACHINE, NULL, "{\"vcpu_count\": -1, \"mem_size_mib\": 128}", -EINVAL, "vcpu_count" },
		{ MACHINE, NULL, "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}", -EINVAL, "vcpu_count" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1.5, \"mem_size_mib\": 128}", -EINVAL, "vcpu_count" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 0}", -EINVAL, "mem_size_mib" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 99999999999999}", -EINVAL, "mem_size_mib" },
		{ MACHINE, NULL, "{\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true}", -EINVAL, "smt" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": 1}", -EINVAL, "smt" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"ht_enabled\": false}", -EINVAL, "ht_enabled" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"T2\"}", -EOPNOTSUPP, "cpu_template" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"Bogus\"}", -EINVAL, "cpu_template" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"2M\"}", -EOPNOTSUPP, "huge_pages" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": true}", -EOPNOTSUPP, "track_dirty_pages" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"kestrel_protected\": true}", -EINVAL, "kestrel_protected" },
		{ MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 256, \"kestrel_protected\": 1}", -EINVAL, "kestrel_protected" },
		{ PATCH_MACHINE, NULL, "{\"mem_size_mib\": 32, \"kestrel_protected\": true}", -EINVAL, "mem_size_mib" },
		{ MACHINE, NULL, "[1, 2]", -EINVAL, "object" },
		{ PATCH_MACHINE, NULL, "{}", -EINVAL, "empty" },
		{ BOOT, NULL, "{}", -EINVAL, "kernel_image_path" },
		{ BOOT, NULL, "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}", -EINVAL, "/nonexistent/vmlinux" },
		{ BOOT, NULL, "{\"kernel_image_path\": \"/\"}", -EINVAL, "regular file" },
		{ BOOT, NULL, "{\"kernel_image_path\": \"\"}", -EINVAL, "kernel_image_path" },
		{ BOOT, NULL, "{\"kernel_image_path\": 5}", -EINVAL, "kernel_image_path" },
		{ DRIVE, "rootfs", "{\"drive_id\": \"other\", \"path_on_host\": \"/dev/null\", \"is_root_device\": true}", -EINVAL, "does not match" },
		{ DRIVE, "../etc", "{\"drive_id\": \"../etc\", \"path_on_host\": \"/x\", \"is_root_device\": false}", -EINVAL, "drive_id" },
		{ DRIVE, "a-b", "{\"drive_id\": \"a-b\", \"path_on_host\": \"/x\", \"is_root_device\": false}", -EINVAL, "[A-Za-z0-9_]" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/nonexistent\", \"is_root_device\": false}", -EINVAL, "/nonexistent" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"is_root_device\": false}", -EINVAL, "path_on_host" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/" P100 P100 P100 "\", \"is_root_device\": false}", -EINVAL, "at most 255" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/x\"}", -EINVAL, "is_root_device" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, \"socket\": \"/s\"}", -EOPNOTSUPP, "vhost-user" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": -1, \"refill_time\": 100}}}", -EINVAL, "non-negative" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100, \"extra\": 1}}}", -EINVAL, "extra" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, \"rate_limiter\": {\"iops\": {}}}", -EINVAL, "iops" },
		{ DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": 1000}}}", -EINVAL, "refill_time" },
		{ NET, "eth0", "{\"iface_id\": \"eth0\"}", -EINVAL, "host_dev_name" },
		{ NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap/../x\"}", -EINVAL, "host_dev_name" },
		{ NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"a-name-far-too-long\"}", -EINVAL, "host_dev_name" },
		{ NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:00:00:00\"}", -EINVAL, "guest_mac" },
		{ NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:00:00:00:0g\"}", -EINVAL, "guest_mac" },
		{ NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 67}", -EINVAL, "mtu" },
		{ NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"allow_mmds_requests\": true}", -EOPNOTSUPP, "MMDS" },
		{ NET, "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}", -EINVAL, "already in use" },
		{ NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"tx_rate_limiter\": {\"ops\": {\"refill_time\": 100}}}", -EINVAL, "size" },
		{ ENTROPY, NULL, "{\"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 1000}}}", -EOPNOTSUPP, "does not enforce" },
		{ ENTROPY, NULL, "{\"bogus\": 1}", -EINVAL, "bogus" },
		{ VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\", \"bogus\": 1}", -EINVAL, "bogus" },
		{ VSOCK, NULL, "{\"guest_cid\": 4294967295, \"uds_path\": \"/tmp/v.sock\"}", -EINVAL, "guest_cid" },
		{ VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": \"\"}", -EINVAL, "uds_path" },
		{ VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": \"/tmp/a-socket-path-far-too-long-for-a-unix-socket-address-with-room-for-its-port-suffix-added/v.sock\"}", -EINVAL, "at most 95" },
		{ VSOCK, NULL, "{\"guest_cid\": \"3\", \"uds_path\": \"/tmp/v.sock\"}", -EINVAL, "guest_cid" },
		{ VSOCK, NULL, "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v.sock\"}", -EINVAL, "guest_cid" },
		{ VSOCK, NULL, "{\"uds_path\": \"/tmp/v.sock\"}", -EINVAL, "guest_cid" },
	};
	struct vmconfig cfg, before;
	char err[API_ERR_MAX];

	vmconfig_init(&cfg);
	report(!apply(&cfg, NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}", err),
	       "an interface to collide with: %s", err);
	before = cfg;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bad_case *c = &cases[i];
		int ret = apply(&cfg, c->s, c->id, c->body, err);

		report(ret == c->ret && strstr(err, c->names) &&
		       !memcmp(&cfg, &before, sizeof(cfg)),
		       "refused %.60s: %d '%s'", c->body, ret, err);
	}
	vmconfig_release(&cfg);
}

static void test_machine(void)
{
	struct vmconfig cfg;
	char err[API_ERR_MAX];
	json_t *j;

	vmconfig_init(&cfg);
	report(cfg.machine.vcpu_count == 1 && cfg.machine.mem_size_mib == 128,
	       "defaults are Firecracker's: 1 vCPU, 128 MiB");
	report(!apply(&cfg, MACHINE, NULL, "{\"vcpu_count\": 2, \"mem_size_mib\": 512, \"smt\": true,"
		      " \"cpu_template\": \"None\", \"track_dirty_pages\": false, \"huge_pages\": null}", err) &&
	       cfg.machine.vcpu_count == 2 && cfg.machine.mem_size_mib == 512 && cfg.machine.smt,
	       "PUT sets every field: %s", err);
	report(!apply(&cfg, PATCH_MACHINE, NULL, "{\"mem_size_mib\": 1024}", err) &&
	       cfg.machine.vcpu_count == 2 && cfg.machine.mem_size_mib == 1024 && cfg.machine.smt,
	       "PATCH keeps what it does not name");
	report(!apply(&cfg, MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", err) &&
	       !cfg.machine.smt, "PUT resets smt to its default");
	report(apply(&cfg, PATCH_MACHINE, NULL, "{\"vcpu_count\": 3, \"smt\": true}", err) == -EINVAL &&
	       cfg.machine.vcpu_count == 1, "a bad PATCH changes nothing");
	j = vmconfig_machine_json(&cfg);
	report(json_integer_value(json_object_get(j, "vcpu_count")) == 1 &&
	       json_integer_value(json_object_get(j, "mem_size_mib")) == 64 &&
	       json_is_false(json_object_get(j, "kestrel_protected")),
	       "GET /machine-config shows the model");
	json_decref(j);

	/* kestrel's extension: a protected machine (docs/protected.md). */
	report(!cfg.machine.protected, "not protected unless asked");
	report(!apply(&cfg, MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 256,"
		      " \"kestrel_protected\": true}", err) &&
	       cfg.machine.protected && cfg.machine.mem_size_mib == 256,
	       "PUT kestrel_protected sets it: %s", err);
	report(apply(&cfg, PATCH_MACHINE, NULL, "{\"mem_size_mib\": 64}", err) == -EINVAL &&
	       strstr(err, "kestrel_protected") && cfg.machine.mem_size_mib == 256,
	       "PATCH cannot shrink a protected machine's RAM to its shared part: %s", err);
	report(!apply(&cfg, PATCH_MACHINE, NULL, "{\"vcpu_count\": 2}", err) &&
	       cfg.machine.protected, "PATCH keeps kestrel_protected: %s", err);
	j = vmconfig_machine_json(&cfg);
	report(json_is_true(json_object_get(j, "kestrel_protected")),
	       "GET /machine-config shows kestrel_protected");
	json_decref(j);
	report(!apply(&cfg, MACHINE, NULL, "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", err) &&
	       !cfg.machine.protected, "PUT without it resets it: %s", err);
	vmconfig_release(&cfg);
}

static void test_drives(void)
{
	struct vmconfig cfg;
	char err[API_ERR_MAX], body[512];
	struct vmconfig_drive d;
	json_t *patch;

	vmconfig_init(&cfg);
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false, \"is_read_only\": true, \"cache_type\": \"Writeback\", "
		 "\"io_engine\": \"Async\", \"rate_limiter\": {}}", disk_b);
	report(!apply(&cfg, DRIVE, "data", body, err), "a data drive: %s", err);
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"partuuid\": \"0eaa91a0-01\", "
		 "\"rate_limiter\": {\"bandwidth\": {\"size\": 0, \"refill_time\": 0}}}", disk_a);
	report(!apply(&cfg, DRIVE, "rootfs", body, err), "a root drive after it: %s", err);
	report(!vmconfig_rate_limiter_limits(&cfg.drives[0].rate_limiter),
	       "buckets of size 0 do not limit");
	report(cfg.nr_drives == 2 && !strcmp(cfg.drives[0].id, "rootfs") &&
	       !strcmp(cfg.drives[1].id, "data") && cfg.drives[1].is_read_only &&
	       cfg.drives[1].cache_writeback && !strcmp(cfg.drives[0].partuuid, "0eaa91a0-01"),
	       "the root device goes first, as Firecracker orders them");
	snprintf(body, sizeof(body), "{\"drive_id\": \"other\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true}", disk_b);
	report(apply(&cfg, DRIVE, "other", body, err) == -EINVAL && strstr(err, "root") &&
	       cfg.nr_drives == 2, "a second root device is refused: %s", err);
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"partuuid\": \"x y root=/dev/sdb\"}", disk_a);
	report(apply(&cfg, DRIVE, "rootfs", body, err) == -EINVAL && strstr(err, "partuuid"),
	       "a partuuid that would add kernel arguments is refused");
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}", disk_a);
	report(!apply(&cfg, DRIVE, "data", body, err) && cfg.nr_drives == 2 &&
	       !strcmp(cfg.drives[1].path_on_host, disk_a) && !cfg.drives[1].is_read_only,
	       "PUT of an existing id updates it in place");
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}", disk_a);
	report(!apply(&cfg, DRIVE, "rootfs", body, err) && !cfg.drives[0].partuuid,
	       "a drive that stops being root keeps no partuuid");
	for (int i = 0; i < VMCONFIG_MAX_DRIVES; i++) {
		snprintf(body, sizeof(body), "{\"drive_id\": \"d%d\", \"path_on_host\": \"%s\", "
			 "\"is_root_device\": false}", i, disk_a);
		apply(&cfg, DRIVE, NULL, body, err);
	}
	report(cfg.nr_drives == VMCONFIG_MAX_DRIVES && strstr(err, "at most"),
	       "at most %d drives: %s", VMCONFIG_MAX_DRIVES, err);

	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, "
		 "\"one_time_burst\": 4096, \"refill_time\": 1000}, \"ops\": {\"size\": 100, "
		 "\"refill_time\": 1000}}}", disk_a);
	report(!apply(&cfg, DRIVE, "data", body, err) &&
	       cfg.drives[1].rate_limiter.bandwidth.size == 1048576 &&
	       cfg.drives[1].rate_limiter.bandwidth.one_time_burst == 4096 &&
	       cfg.drives[1].rate_limiter.bandwidth.refill_time_ms == 1000 &&
	       cfg.drives[1].rate_limiter.ops.size == 100 &&
	       vmconfig_rate_limiter_limits(&cfg.drives[1].rate_limiter),
	       "a limiting rate_limiter is accepted and kept: %s", err);

	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\"}", disk_b);
	patch = json_loads(body, 0, NULL);
	report(!vmconfig_check_drive_patch(&cfg, "data", patch, &d, err, sizeof(err)) &&
	       !strcmp(d.path_on_host, disk_b) && !d.rate_limiter.bandwidth.set &&
	       !d.rate_limiter.ops.set, "a PATCH with a new path_on_host is checked");
	vmconfig_apply_drive_patch(&cfg, &d);
	report(!strcmp(cfg.drives[1].path_on_host, disk_b) &&
	       cfg.drives[1].rate_limiter.ops.size == 100,
	       "and then taken into the model, the limiter as it was");
	json_decref(patch);
	patch = json_loads("{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": "
			   "{\"size\": 5, \"refill_time\": 10}}}", 0, NULL);
	report(!vmconfig_check_drive_patch(&cfg, "data", patch, &d, err, sizeof(err)) &&
	       !d.path_on_host && d.rate_limiter.ops.set && !d.rate_limiter.bandwidth.set,
	       "a PATCH of the ops bucket alone: %s", err);
	vmconfig_apply_drive_patch(&cfg, &d);
	report(!strcmp(cfg.drives[1].path_on_host, disk_b) &&
	       cfg.drives[1].rate_limiter.ops.size == 5 &&
	       cfg.drives[1].rate_limiter.bandwidth.size == 1048576,
	       "changes that bucket only, as Firecracker");
	json_decref(patch);
	patch = json_loads("{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": {\"size\": 5}}}",
			   0, NULL);
	report(vmconfig_check_drive_patch(&cfg, "data", patch, &d, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "refill_time"), "a PATCH with a bad bucket is refused: %s", err);
	json_decref(patch);
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\"}", disk_b);
	patch = json_loads(body, 0, NULL);
	report(vmconfig_check_drive_patch(&cfg, "nope", patch, &d, err, sizeof(err)) == -EINVAL,
	       "a PATCH of another id than the body's is refused");
	json_decref(patch);
	patch = json_loads("{\"drive_id\": \"data\"}", 0, NULL);
	report(vmconfig_check_drive_patch(&cfg, "data", patch, &d, err, sizeof(err)) == 1,
	       "a PATCH that changes nothing says so");
	json_decref(patch);
	patch = json_loads("{\"drive_id\": \"gone\", \"path_on_host\": \"/dev/null\"}", 0, NULL);
	report(vmconfig_check_drive_patch(&cfg, "gone", patch, &d, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "no such drive"), "a PATCH of an unknown drive is refused");
	json_decref(patch);

	json_t *j = vmconfig_drives_json(&cfg);
	report(json_array_size(j) == VMCONFIG_MAX_DRIVES &&
	       !strcmp(json_string_value(json_object_get(json_array_get(j, 0), "drive_id")), "rootfs"),
	       "GET /vm/config lists the drives in order");
	json_decref(j);
	vmconfig_release(&cfg);
}

static void test_nets_and_more(void)
{
	struct vmconfig_rate_limiter rx, tx;
	struct vmconfig cfg;
	char err[API_ERR_MAX], body[512];
	json_t *j, *patch;

	vmconfig_init(&cfg);
	report(!apply(&cfg, NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
		      "\"guest_mac\": \"06:00:AC:10:00:02\", \"mtu\": 1500, \"rx_rate_limiter\": {}, "
		      "\"tx_rate_limiter\": null, \"allow_mmds_requests\": false}", err) &&
	       cfg.nr_nets == 1 && cfg.nets[0].guest_mac[2] == 0xac && cfg.nets[0].mtu == 1500,
	       "an interface with every field: %s", err);
	report(apply(&cfg, NET, "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
		     "\"guest_mac\": \"06:00:ac:10:00:02\"}", err) == -EINVAL && strstr(err, "guest_mac"),
	       "a MAC already in use is refused: %s", err);
	j = vmconfig_nets_json(&cfg);
	report(!strcmp(json_string_value(json_object_get(json_array_get(j, 0), "guest_mac")),
		       "06:00:ac:10:00:02"), "GET /vm/config shows the MAC");
	json_decref(j);
	report(!apply(&cfg, NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
		      "\"guest_mac\": \"06:00:AC:10:00:02\", \"tx_rate_limiter\": {\"ops\": "
		      "{\"size\": 1000, \"refill_time\": 100}}}", err) &&
	       cfg.nets[0].tx_rate_limiter.ops.size == 1000 &&
	       !vmconfig_rate_limiter_limits(&cfg.nets[0].rx_rate_limiter),
	       "an interface with a limiting tx_rate_limiter: %s", err);
	patch = json_loads("{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"bandwidth\": "
			   "{\"size\": 100, \"refill_time\": 10}}}", 0, NULL);
	report(!vmconfig_check_net_patch(&cfg, "eth0", patch, &rx, &tx, err, sizeof(err)) &&
	       rx.bandwidth.set && rx.bandwidth.size == 100 && !rx.ops.set &&
	       !tx.bandwidth.set && !tx.ops.set,
	       "PATCH of an interface's rx_rate_limiter is checked: %s", err);
	vmconfig_apply_net_patch(&cfg, "eth0", &rx, &tx);
	report(cfg.nets[0].rx_rate_limiter.bandwidth.size == 100 &&
	       cfg.nets[0].tx_rate_limiter.ops.size == 1000,
	       "and taken into the model, tx as it was");
	j = vmconfig_nets_json(&cfg);
	report(json_integer_value(json_object_get(json_object_get(json_object_get(
		       json_array_get(j, 0), "rx_rate_limiter"), "bandwidth"), "size")) == 100,
	       "GET /vm/config shows the limiter");
	json_decref(j);
	json_decref(patch);
	patch = json_loads("{\"iface_id\": \"eth0\"}", 0, NULL);
	report(vmconfig_check_net_patch(&cfg, "eth0", patch, &rx, &tx, err, sizeof(err)) == 1,
	       "a PATCH that changes nothing says so");
	json_decref(patch);
	report(!apply(&cfg, ENTROPY, NULL, "{}", err) && cfg.entropy, "PUT /entropy");
	report(!apply(&cfg, VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\", "
		      "\"vsock_id\": \"root\"}", err) && cfg.vsock && cfg.vsock_cid == 3 &&
	       !strcmp(cfg.vsock_uds, "/tmp/v.sock"),
	       "PUT /vsock (the deprecated vsock_id accepted): %s", err);
	report(!apply(&cfg, VSOCK, NULL, "{\"guest_cid\": 52, \"uds_path\": \"v.sock\"}", err) &&
	       cfg.vsock_cid == 52 && !strcmp(cfg.vsock_uds, "v.sock"),
	       "a second PUT /vsock replaces it (a relative path, as in a jail)");
	j = vmconfig_vsock_json(&cfg);
	report(json_integer_value(json_object_get(j, "guest_cid")) == 52 &&
	       !strcmp(json_string_value(json_object_get(j, "uds_path")), "v.sock"),
	       "GET /vm/config shows it");
	json_decref(j);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0\", "
		 "\"initrd_path\": null}", kernel);
	report(!apply(&cfg, BOOT, NULL, body, err) && !strcmp(cfg.boot.kernel_image_path, kernel) &&
	       !cfg.boot.initrd_path && !strcmp(cfg.boot.boot_args, "console=ttyS0"),
	       "PUT /boot-source: %s", err);
	vmconfig_release(&cfg);
}

static void test_ids(void)
{
	char long_id[API_ID_MAX + 2];

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	report(api_id_is_valid("rootfs") && api_id_is_valid("drive_0") && api_id_is_valid("A1"),
	       "ids from [A-Za-z0-9_]");
	report(!api_id_is_valid("") && !api_id_is_valid("a/b") && !api_id_is_valid("..") &&
	       !api_id_is_valid("a b") && !api_id_is_valid("a-b") && !api_id_is_valid(long_id),
	       "no empty, slash, dot, space, dash, or over %d characters", API_ID_MAX);
}

int main(void)
{
	if (!mkdtemp(dir) || make_file(disk_a, sizeof(disk_a), dir, "a.img", 1 << 20) ||
	    make_file(disk_b, sizeof(disk_b), dir, "b.img", 1 << 20) ||
	    make_file(kernel, sizeof(kernel), dir, "vmlinux", 4096)) {
		report(false, "test files in %s", dir);
		return report_summary();
	}
	test_ids();
	test_machine();
	test_drives();
	test_nets_and_more();
	test_bad_bodies();
	unlink(disk_a);
	unlink(disk_b);
	unlink(kernel);
	rmdir(dir);
	return report_summary();
}
