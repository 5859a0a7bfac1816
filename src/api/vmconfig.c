// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM configuration model and its validation, shared by the API
 * endpoints and --config-file. Field names, required fields, ranges and
 * messages follow Firecracker's API definition (swagger/firecracker.yaml:
 * MachineConfiguration, BootSource, Drive, NetworkInterface, RateLimiter,
 * TokenBucket, Vsock, EntropyDevice). Everything here is hostile input:
 * a body is checked whole before the model changes at all.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kestrel/parse.h>
#include <kestrel/vdpa.h>

#include "internal.h"

#define DEFAULT_VCPUS		1
#define DEFAULT_MEM_MIB		128	/* Firecracker's default */
#define MAX_MEM_MIB		(1ULL << 20)	/* 1 TiB, kestrel's RAM limit */
#define MIN_MTU			68
#define MAX_MTU			65535
#define PARTUUID_MAX		64
/* A protected machine's shared low RAM (X86_PRIVATE_RAM_START, docs/protected.md). */
#define PROTECTED_MIN_MEM_MIB	64

/* ---- JSON checks ----------------------------------------------------------- */

static const char *const kind_names[] = {
	[JK_STRING] = "a string", [JK_BOOL] = "a boolean",
	[JK_UINT] = "a non-negative integer", [JK_OBJECT] = "an object",
	[JK_ARRAY] = "an array",
};

static bool json_is_kind(const json_t *v, enum json_kind kind)
{
	switch (kind) {
	case JK_STRING: return json_is_string(v);
	case JK_BOOL: return json_is_boolean(v);
	case JK_UINT: return json_is_integer(v) && json_integer_value(v) >= 0;
	case JK_OBJECT: return json_is_object(v);
	case JK_ARRAY: return json_is_array(v);
	}
	return false;
}

int json_check_object(const json_t *obj, const char *what,
		      const struct json_field *fields, size_t nr_fields,
		      char *err, size_t errlen)
{
	const char *key;
	json_t *val;

	if (!json_is_object(obj))
		return parse_fail(err, errlen, "%s: expected a JSON object", what);
	json_object_foreach((json_t *)obj, key, val) {
		size_t i;

		for (i = 0; i < nr_fields; i++)
			if (!strcmp(key, fields[i].name))
				break;
		if (i == nr_fields)
			return parse_fail(err, errlen, "%s: unknown field '%.64s'", what, key);
		if (json_is_null(val))
			continue;	/* as absent; required ones caught below */
		if (!json_is_kind(val, fields[i].kind))
			return parse_fail(err, errlen, "%s: '%s' must be %s", what, key,
				    kind_names[fields[i].kind]);
	}
	for (size_t i = 0; i < nr_fields; i++) {
		val = json_object_get(obj, fields[i].name);
		if (fields[i].required && (!val || json_is_null(val)))
			return parse_fail(err, errlen, "%s: missing required field '%s'",
				    what, fields[i].name);
	}
	return 0;
}

const char *json_get_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

bool json_get_bool(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

u64 json_get_uint(const json_t *obj, const char *key, u64 dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ?
		(u64)json_integer_value(v) : dflt;
}

bool api_id_is_valid(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++)
		if (!isalnum((unsigned char)id[n]) && id[n] != '_')
			return false;
	return n >= 1 && n <= API_ID_MAX;
}

/* A host path: non-empty, shorter than PATH_MAX (NULs jansson refuses). */
static int check_path(const char *what, const char *field, const char *p,
		      char *err, size_t errlen)
{
	size_t n = strlen(p);

	if (!n || n >= PATH_MAX)
		return parse_fail(err, errlen, "%s: '%s' must be a path of 1 to %d bytes",
			    what, field, PATH_MAX - 1);
	return 0;
}

/* A drive's file: what the block device takes (VDPA_PATH_MAX), said at PUT. */
static int check_drive_path(const char *what, const char *p, char *err, size_t errlen)
{
	if (p && strlen(p) >= VDPA_PATH_MAX)
		return parse_fail(err, errlen, "%s: 'path_on_host' is %zu bytes; kestrel's block device takes paths of at most %d",
			    what, strlen(p), VDPA_PATH_MAX - 1);
	return 0;
}

/*
 * Firecracker opens the files of a request when it arrives, so a wrong
 * path is a 400 of that request and not a failed InstanceStart. @mode is
 * O_RDONLY or O_RDWR.
 */
static int check_file(const char *what, const char *field, const char *p,
		      int mode, bool allow_blockdev, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	ret = check_path(what, field, p, err, errlen);
	if (ret)
		return ret;
	fd = open(p, mode | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return parse_fail(err, errlen, "%s: cannot open %s '%.256s': %s", what,
			    field, p, strerror(errno));
	ret = fstat(fd, &st);
	close(fd);
	if (ret)
		return parse_fail(err, errlen, "%s: cannot stat %s '%.256s'", what, field, p);
	if (!S_ISREG(st.st_mode) && !(allow_blockdev && S_ISBLK(st.st_mode)))
		return parse_fail(err, errlen, "%s: %s '%.256s' is not a regular file%s",
			    what, field, p, allow_blockdev ? " or block device" : "");
	return 0;
}

static int dup_str(char **dst, const char *src, char *err, size_t errlen)
{
	char *s = NULL;

	if (src) {
		s = strdup(src);
		if (!s) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	free(*dst);
	*dst = s;
	return 0;
}

/* ---- rate limiters ------------------------------------------------------------ */

static const struct json_field bucket_fields[] = {
	{ "size", JK_UINT, true },
	{ "one_time_burst", JK_UINT, false },
	{ "refill_time", JK_UINT, true },
};

static const struct json_field limiter_fields[] = {
	{ "bandwidth", JK_OBJECT, false },
	{ "ops", JK_OBJECT, false },
};

static int parse_bucket(const json_t *o, const char *what,
			struct vmconfig_bucket *b, char *err, size_t errlen)
{
	int ret;

	*b = (struct vmconfig_bucket){ 0 };
	if (!o || json_is_null(o))
		return 0;
	ret = json_check_object(o, what, bucket_fields, ARRAY_SIZE(bucket_fields),
				err, errlen);
	if (ret)
		return ret;
	b->size = json_get_uint(o, "size", 0);
	b->one_time_burst = json_get_uint(o, "one_time_burst", 0);
	b->refill_time_ms = json_get_uint(o, "refill_time", 0);
	b->set = true;
	return 0;
}

static bool bucket_limits(const struct vmconfig_bucket *b)
{
	/* Firecracker: a bucket of size 0 or refill_time 0 does not limit. */
	return b->size && b->refill_time_ms;
}

bool vmconfig_rate_limiter_limits(const struct vmconfig_rate_limiter *rl)
{
	return bucket_limits(&rl->bandwidth) || bucket_limits(&rl->ops);
}

/*
 * A RateLimiter (@o may be absent or null); the buckets it names get
 * their @set flag. The drive and net devices enforce them; a device that
 * does not (@enforced false: entropy) refuses one that would limit rather
 * than silently ignore it. An empty one (Kata always sends {}) is fine.
 */
static int parse_rate_limiter(const json_t *o, const char *what, bool enforced,
			      struct vmconfig_rate_limiter *rl, char *err,
			      size_t errlen)
{
	char sub[96];
	int ret;

	*rl = (struct vmconfig_rate_limiter){ 0 };
	if (!o || json_is_null(o))
		return 0;
	ret = json_check_object(o, what, limiter_fields, ARRAY_SIZE(limiter_fields),
				err, errlen);
	if (ret)
		return ret;
	snprintf(sub, sizeof(sub), "%s.bandwidth", what);
	ret = parse_bucket(json_object_get(o, "bandwidth"), sub, &rl->bandwidth,
			   err, errlen);
	if (ret)
		return ret;
	snprintf(sub, sizeof(sub), "%s.ops", what);
	ret = parse_bucket(json_object_get(o, "ops"), sub, &rl->ops, err, errlen);
	if (ret)
		return ret;
	if (!enforced && vmconfig_rate_limiter_limits(rl)) {
		snprintf(err, errlen, "%s: kestrel's entropy device does not enforce rate "
			 "limiters (only an empty limiter or buckets of size 0 are accepted)", what);
		return -EOPNOTSUPP;
	}
	return 0;
}

void vmconfig_rate_limiter_update(struct vmconfig_rate_limiter *dst,
				  const struct vmconfig_rate_limiter *src)
{
	if (src->bandwidth.set)
		dst->bandwidth = src->bandwidth;
	if (src->ops.set)
		dst->ops = src->ops;
}

static bool rate_limiter_is_set(const struct vmconfig_rate_limiter *rl)
{
	return rl->bandwidth.set || rl->ops.set;
}

static json_t *bucket_json(const struct vmconfig_bucket *b)
{
	if (!bucket_limits(b))
		return json_null();
	return json_pack("{s:I, s:I, s:I}", "size", (json_int_t)b->size,
			 "one_time_burst", (json_int_t)b->one_time_burst,
			 "refill_time", (json_int_t)b->refill_time_ms);
}

/* GET /vm/config: null when it does not limit, as Firecracker. */
static json_t *rate_limiter_json(const struct vmconfig_rate_limiter *rl)
{
	if (!vmconfig_rate_limiter_limits(rl))
		return json_null();
	return json_pack("{s:o, s:o}", "bandwidth", bucket_json(&rl->bandwidth),
			 "ops", bucket_json(&rl->ops));
}

/* ---- the model ------------------------------------------------------------------ */

void vmconfig_init(struct vmconfig *cfg)
{
	*cfg = (struct vmconfig){
		.machine = { .vcpu_count = DEFAULT_VCPUS, .mem_size_mib = DEFAULT_MEM_MIB },
	};
}

void vmconfig_drive_release(struct vmconfig_drive *d)
{
	free(d->path_on_host);
	free(d->partuuid);
	d->path_on_host = NULL;
	d->partuuid = NULL;
}

void vmconfig_release(struct vmconfig *cfg)
{
	free(cfg->boot.kernel_image_path);
	free(cfg->boot.initrd_path);
	free(cfg->boot.boot_args);
	for (unsigned int i = 0; i < cfg->nr_drives; i++)
		vmconfig_drive_release(&cfg->drives[i]);
	vmconfig_init(cfg);
}

/* ---- machine-config ------------------------------------------------------------- */

static const struct json_field machine_fields[] = {
	{ "vcpu_count", JK_UINT, true },
	{ "mem_size_mib", JK_UINT, true },
	{ "smt", JK_BOOL, false },
	{ "track_dirty_pages", JK_BOOL, false },
	{ "cpu_template", JK_STRING, false },
	{ "huge_pages", JK_STRING, false },
	{ "kestrel_protected", JK_BOOL, false },	/* kestrel's own, docs/api.md */
};

/* Firecracker's CpuTemplate and huge_pages enums: known but not supported. */
static int check_enum_none(const char *what, const char *field, const char *v,
			   const char *const *known, char *err, size_t errlen)
{
	if (!v || !strcmp(v, "None"))
		return 0;
	for (; *known; known++)
		if (!strcmp(v, *known)) {
			snprintf(err, errlen, "%s: %s '%s' is not supported by kestrel (only None)",
				 what, field, v);
			return -EOPNOTSUPP;
		}
	return parse_fail(err, errlen, "%s: invalid %s '%.32s'", what, field, v);
}

int vmconfig_set_machine(struct vmconfig *cfg, const json_t *body, bool patch,
			 char *err, size_t errlen)
{
	static const char *const templates[] = { "C3", "T2", "T2S", "T2CL", "T2A",
						 "V1N1", NULL };
	static const char *const huge[] = { "Transparent", "2M", NULL };
	struct json_field fields[ARRAY_SIZE(machine_fields)];
	struct vmconfig_machine m = patch ? cfg->machine : (struct vmconfig_machine){ 0 };
	const char *what = "machine-config";
	u64 vcpus;
	int ret;

	memcpy(fields, machine_fields, sizeof(fields));
	for (size_t i = 0; patch && i < ARRAY_SIZE(fields); i++)
		fields[i].required = false;
	ret = json_check_object(body, what, fields, ARRAY_SIZE(fields), err, errlen);
	if (ret)
		return ret;
	if (patch && !json_object_size(body))
		return parse_fail(err, errlen, "%s: empty PATCH request", what);

	vcpus = json_get_uint(body, "vcpu_count", m.vcpu_count);
	if (vcpus < 1 || vcpus > VMCONFIG_MAX_VCPUS)
		return parse_fail(err, errlen, "%s: vcpu_count must be from 1 to %d",
			    what, VMCONFIG_MAX_VCPUS);
	m.vcpu_count = (unsigned int)vcpus;
	m.mem_size_mib = json_get_uint(body, "mem_size_mib", m.mem_size_mib);
	if (m.mem_size_mib < 1 || m.mem_size_mib > MAX_MEM_MIB)
		return parse_fail(err, errlen, "%s: mem_size_mib must be from 1 to %llu",
			    what, MAX_MEM_MIB);
	m.smt = json_get_bool(body, "smt", patch ? m.smt : false);
	if (m.smt && m.vcpu_count > 1 && m.vcpu_count % 2)
		return parse_fail(err, errlen, "%s: with smt, vcpu_count must be 1 or even", what);
	m.protected = json_get_bool(body, "kestrel_protected", patch ? m.protected : false);
	if (m.protected && m.mem_size_mib <= PROTECTED_MIN_MEM_MIB)
		return parse_fail(err, errlen, "%s: kestrel_protected keeps the first %d MiB shared, "
			    "so mem_size_mib must be above it (expected mem_size_mib 256)",
			    what, PROTECTED_MIN_MEM_MIB);
	if (json_get_bool(body, "track_dirty_pages", false)) {
		snprintf(err, errlen, "%s: track_dirty_pages is for snapshots, which kestrel "
			 "does not implement", what);
		return -EOPNOTSUPP;
	}
	ret = check_enum_none(what, "cpu_template", json_get_str(body, "cpu_template"),
			      templates, err, errlen);
	if (!ret)
		ret = check_enum_none(what, "huge_pages", json_get_str(body, "huge_pages"),
				      huge, err, errlen);
	if (ret)
		return ret;
	cfg->machine = m;
	return 0;
}

json_t *vmconfig_machine_json(const struct vmconfig *cfg)
{
	return json_pack("{s:I, s:I, s:b, s:b, s:s, s:b}",
			 "vcpu_count", (json_int_t)cfg->machine.vcpu_count,
			 "mem_size_mib", (json_int_t)cfg->machine.mem_size_mib,
			 "smt", cfg->machine.smt, "track_dirty_pages", 0,
			 "huge_pages", "None", "kestrel_protected", cfg->machine.protected);
}

/* ---- boot-source ---------------------------------------------------------------- */

static const struct json_field boot_fields[] = {
	{ "kernel_image_path", JK_STRING, true },
	{ "initrd_path", JK_STRING, false },
	{ "boot_args", JK_STRING, false },
};

int vmconfig_set_boot(struct vmconfig *cfg, const json_t *body, char *err,
		      size_t errlen)
{
	const char *what = "boot-source", *kernel, *initrd, *args;
	struct vmconfig_boot b = { 0 };
	int ret;

	ret = json_check_object(body, what, boot_fields, ARRAY_SIZE(boot_fields),
				err, errlen);
	if (ret)
		return ret;
	kernel = json_get_str(body, "kernel_image_path");
	initrd = json_get_str(body, "initrd_path");
	args = json_get_str(body, "boot_args");
	ret = check_file(what, "kernel_image_path", kernel, O_RDONLY, false, err, errlen);
	if (!ret && initrd)
		ret = check_file(what, "initrd_path", initrd, O_RDONLY, false, err, errlen);
	if (ret)
		return ret;
	if (args && strlen(args) > VMCONFIG_CMDLINE_MAX)
		return parse_fail(err, errlen, "%s: boot_args longer than %d bytes", what,
			    VMCONFIG_CMDLINE_MAX);
	ret = dup_str(&b.kernel_image_path, kernel, err, errlen);
	if (!ret)
		ret = dup_str(&b.initrd_path, initrd, err, errlen);
	if (!ret)
		ret = dup_str(&b.boot_args, args, err, errlen);
	if (ret)
		goto err_free;
	free(cfg->boot.kernel_image_path);
	free(cfg->boot.initrd_path);
	free(cfg->boot.boot_args);
	cfg->boot = b;
	return 0;

err_free:
	free(b.kernel_image_path);
	free(b.initrd_path);
	free(b.boot_args);
	return ret;
}

static json_t *json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *vmconfig_boot_json(const struct vmconfig *cfg)
{
	if (!cfg->boot.kernel_image_path)
		return json_null();
	return json_pack("{s:s, s:o, s:o}",
			 "kernel_image_path", cfg->boot.kernel_image_path,
			 "initrd_path", json_str_or_null(cfg->boot.initrd_path),
			 "boot_args", json_str_or_null(cfg->boot.boot_args));
}

/* ---- drives --------------------------------------------------------------------- */

static const struct json_field drive_fields[] = {
	{ "drive_id", JK_STRING, true },
	{ "path_on_host", JK_STRING, false },	/* required unless "socket" */
	{ "is_root_device", JK_BOOL, true },
	{ "is_read_only", JK_BOOL, false },
	{ "partuuid", JK_STRING, false },
	{ "cache_type", JK_STRING, false },
	{ "io_engine", JK_STRING, false },
	{ "rate_limiter", JK_OBJECT, false },
	{ "socket", JK_STRING, false },
};

/*
 * The id in the URL and in the body must agree (Firecracker: "The id from
 * the path does not match the id from the body!"); both must be valid.
 * Return: the id to use, or NULL with @err filled.
 */
static const char *check_ids(const char *what, const char *field,
			     const char *path_id, const json_t *body, char *err,
			     size_t errlen)
{
	const char *id = json_get_str(body, field);

	if (!api_id_is_valid(id)) {
		parse_fail(err, errlen, "%s: invalid %s (expected 1 to %d characters from [A-Za-z0-9_])",
		     what, field, API_ID_MAX);
		return NULL;
	}
	if (path_id && strcmp(path_id, id)) {
		parse_fail(err, errlen, "%s: the id from the path does not match %s in the body",
		     what, field);
		return NULL;
	}
	return id;
}

static int find_drive(const struct vmconfig *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->nr_drives; i++)
		if (!strcmp(cfg->drives[i].id, id))
			return (int)i;
	return -1;
}

static bool partuuid_is_valid(const char *p)
{
	size_t n = 0;

	/* It goes into root=PARTUUID=...: no spaces, no second argument. */
	for (; p[n]; n++)
		if (!isxdigit((unsigned char)p[n]) && p[n] != '-')
			return false;
	return n >= 1 && n <= PARTUUID_MAX;
}

int vmconfig_set_drive(struct vmconfig *cfg, const char *path_id,
		       const json_t *body, char *err, size_t errlen)
{
	const char *what = "drives", *id, *path, *partuuid, *cache, *engine;
	struct vmconfig_drive d = { 0 };
	int ret, idx;

	ret = json_check_object(body, what, drive_fields, ARRAY_SIZE(drive_fields),
				err, errlen);
	if (ret)
		return ret;
	id = check_ids(what, "drive_id", path_id, body, err, errlen);
	if (!id)
		return -EINVAL;
	if (json_get_str(body, "socket")) {
		snprintf(err, errlen, "drive %s: vhost-user block devices (socket) are not "
			 "implemented by kestrel", id);
		return -EOPNOTSUPP;
	}
	snprintf(d.id, sizeof(d.id), "%s", id);
	d.is_root_device = json_get_bool(body, "is_root_device", false);
	d.is_read_only = json_get_bool(body, "is_read_only", false);
	path = json_get_str(body, "path_on_host");
	if (!path)
		return parse_fail(err, errlen, "drive %s: missing required field 'path_on_host'", id);
	partuuid = json_get_str(body, "partuuid");
	if (partuuid && !partuuid_is_valid(partuuid))
		return parse_fail(err, errlen, "drive %s: invalid partuuid (expected up to %d hex digits and '-')",
			    id, PARTUUID_MAX);
	cache = json_get_str(body, "cache_type");
	if (cache && strcmp(cache, "Unsafe") && strcmp(cache, "Writeback"))
		return parse_fail(err, errlen, "drive %s: cache_type must be Unsafe or Writeback", id);
	d.cache_writeback = cache && !strcmp(cache, "Writeback");
	engine = json_get_str(body, "io_engine");
	if (engine && strcmp(engine, "Sync") && strcmp(engine, "Async"))
		return parse_fail(err, errlen, "drive %s: io_engine must be Sync or Async", id);
	ret = parse_rate_limiter(json_object_get(body, "rate_limiter"),
				 "drive rate_limiter", true, &d.rate_limiter, err, errlen);
	if (ret)
		return ret;
	/* Last: the file is opened only for a body valid in every other way. */
	ret = check_drive_path(what, path, err, errlen);
	if (!ret)
		ret = check_file(what, "path_on_host", path, d.is_read_only ? O_RDONLY : O_RDWR,
				 true, err, errlen);
	if (ret)
		return ret;

	idx = find_drive(cfg, id);
	for (unsigned int i = 0; d.is_root_device && i < cfg->nr_drives; i++)
		if (cfg->drives[i].is_root_device && (int)i != idx)
			return parse_fail(err, errlen, "drive %s: a root block device already exists (%s)",
				    id, cfg->drives[i].id);
	if (idx < 0 && cfg->nr_drives == VMCONFIG_MAX_DRIVES) {
		snprintf(err, errlen, "drive %s: at most %d drives", id, VMCONFIG_MAX_DRIVES);
		return -ENOSPC;
	}
	ret = dup_str(&d.path_on_host, path, err, errlen);
	if (!ret)
		ret = dup_str(&d.partuuid, d.is_root_device ? partuuid : NULL, err, errlen);
	if (ret) {
		vmconfig_drive_release(&d);
		return ret;
	}

	/* Replace in place, or append; then the root device moves to the front. */
	if (idx >= 0)
		vmconfig_drive_release(&cfg->drives[idx]);
	else
		idx = (int)cfg->nr_drives++;
	cfg->drives[idx] = d;
	if (d.is_root_device && idx > 0) {
		memmove(&cfg->drives[1], &cfg->drives[0], idx * sizeof(d));
		cfg->drives[0] = d;
	}
	return 0;
}

static const struct json_field drive_patch_fields[] = {
	{ "drive_id", JK_STRING, true },
	{ "path_on_host", JK_STRING, false },
	{ "rate_limiter", JK_OBJECT, false },
};

int vmconfig_check_drive_patch(const struct vmconfig *cfg, const char *path_id,
			       const json_t *body, struct vmconfig_drive *out,
			       char *err, size_t errlen)
{
	const char *what = "drives", *id, *path;
	struct vmconfig_rate_limiter rl;
	int ret, idx;

	ret = json_check_object(body, what, drive_patch_fields,
				ARRAY_SIZE(drive_patch_fields), err, errlen);
	if (ret)
		return ret;
	id = check_ids(what, "drive_id", path_id, body, err, errlen);
	if (!id)
		return -EINVAL;
	idx = find_drive(cfg, id);
	if (idx < 0)
		return parse_fail(err, errlen, "drive %s: no such drive", id);
	ret = parse_rate_limiter(json_object_get(body, "rate_limiter"),
				 "drive rate_limiter", true, &rl, err, errlen);
	if (ret)
		return ret;
	path = json_get_str(body, "path_on_host");
	if (!path && !rate_limiter_is_set(&rl))
		return 1;
	if (path) {
		ret = check_drive_path(what, path, err, errlen);
		if (!ret)
			ret = check_file(what, "path_on_host", path,
					 cfg->drives[idx].is_read_only ? O_RDONLY : O_RDWR, true,
					 err, errlen);
		if (ret)
			return ret;
	}
	*out = cfg->drives[idx];
	out->path_on_host = NULL;
	out->partuuid = NULL;
	out->rate_limiter = rl;
	ret = dup_str(&out->path_on_host, path, err, errlen);
	if (!ret)
		ret = dup_str(&out->partuuid, cfg->drives[idx].partuuid, err, errlen);
	if (ret)
		vmconfig_drive_release(out);
	return ret;
}

void vmconfig_apply_drive_patch(struct vmconfig *cfg, struct vmconfig_drive *d)
{
	int idx = find_drive(cfg, d->id);

	if (idx < 0) {
		vmconfig_drive_release(d);
		return;
	}
	if (d->path_on_host) {
		free(cfg->drives[idx].path_on_host);
		cfg->drives[idx].path_on_host = d->path_on_host;
		d->path_on_host = NULL;
	}
	vmconfig_rate_limiter_update(&cfg->drives[idx].rate_limiter, &d->rate_limiter);
	vmconfig_drive_release(d);
}

json_t *vmconfig_drives_json(const struct vmconfig *cfg)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && i < cfg->nr_drives; i++) {
		const struct vmconfig_drive *d = &cfg->drives[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:b, s:o, s:s, s:s, s:o}",
			"drive_id", d->id, "path_on_host", d->path_on_host,
			"is_root_device", d->is_root_device, "is_read_only", d->is_read_only,
			"partuuid", json_str_or_null(d->partuuid),
			"cache_type", d->cache_writeback ? "Writeback" : "Unsafe",
			"io_engine", "Async", "rate_limiter", rate_limiter_json(&d->rate_limiter)));
	}
	return a;
}

/* ---- network-interfaces ------------------------------------------------------------ */

static const struct json_field net_fields[] = {
	{ "iface_id", JK_STRING, true },
	{ "host_dev_name", JK_STRING, true },
	{ "guest_mac", JK_STRING, false },
	{ "mtu", JK_UINT, false },
	{ "rx_rate_limiter", JK_OBJECT, false },
	{ "tx_rate_limiter", JK_OBJECT, false },
	{ "allow_mmds_requests", JK_BOOL, false },	/* older clients */
};

static int parse_mac(const char *s, u8 mac[6])
{
	unsigned int b[6];
	int n = 0;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &n) != 6 || n != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]))
			return -EINVAL;
		mac[i] = (u8)b[i];
	}
	return 0;
}

/* Linux's dev_valid_name(): 1..15 bytes, no '/', ':' or white space, not . or .. */
static bool ifname_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= 16 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) ||
		    !isprint((unsigned char)*s))
			return false;
	return true;
}

static int find_net(const struct vmconfig *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		if (!strcmp(cfg->nets[i].id, id))
			return (int)i;
	return -1;
}

int vmconfig_set_net(struct vmconfig *cfg, const char *path_id,
		     const json_t *body, char *err, size_t errlen)
{
	const char *what = "network-interfaces", *id, *dev, *mac;
	struct vmconfig_net n = { 0 };
	int ret, idx;
	u64 mtu;

	ret = json_check_object(body, what, net_fields, ARRAY_SIZE(net_fields),
				err, errlen);
	if (ret)
		return ret;
	id = check_ids(what, "iface_id", path_id, body, err, errlen);
	if (!id)
		return -EINVAL;
	snprintf(n.id, sizeof(n.id), "%s", id);
	dev = json_get_str(body, "host_dev_name");
	if (!ifname_is_valid(dev))
		return parse_fail(err, errlen, "interface %s: host_dev_name must be a TAP interface name "
			    "of 1 to 15 bytes", id);
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "%s", dev);
	mac = json_get_str(body, "guest_mac");
	if (mac) {
		if (parse_mac(mac, n.guest_mac))
			return parse_fail(err, errlen, "interface %s: invalid guest_mac (expected xx:xx:xx:xx:xx:xx)",
				    id);
		n.has_mac = true;
	}
	mtu = json_get_uint(body, "mtu", 0);
	if (json_object_get(body, "mtu") && !json_is_null(json_object_get(body, "mtu")) &&
	    (mtu < MIN_MTU || mtu > MAX_MTU))
		return parse_fail(err, errlen, "interface %s: mtu must be from %d to %d", id,
			    MIN_MTU, MAX_MTU);
	n.mtu = (unsigned int)mtu;
	if (json_get_bool(body, "allow_mmds_requests", false)) {
		snprintf(err, errlen, "interface %s: MMDS (allow_mmds_requests) is not "
			 "implemented by kestrel", id);
		return -EOPNOTSUPP;
	}
	ret = parse_rate_limiter(json_object_get(body, "rx_rate_limiter"),
				 "rx_rate_limiter", true, &n.rx_rate_limiter, err, errlen);
	if (!ret)
		ret = parse_rate_limiter(json_object_get(body, "tx_rate_limiter"),
					 "tx_rate_limiter", true, &n.tx_rate_limiter, err, errlen);
	if (ret)
		return ret;

	idx = find_net(cfg, id);
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		if ((int)i == idx)
			continue;
		if (!strcmp(cfg->nets[i].host_dev_name, n.host_dev_name))
			return parse_fail(err, errlen, "interface %s: host_dev_name %s is already in use",
				    id, n.host_dev_name);
		if (n.has_mac && cfg->nets[i].has_mac &&
		    !memcmp(cfg->nets[i].guest_mac, n.guest_mac, 6))
			return parse_fail(err, errlen, "interface %s: guest_mac %s is already in use",
				    id, mac);
	}
	if (idx < 0) {
		if (cfg->nr_nets == VMCONFIG_MAX_NETS) {
			snprintf(err, errlen, "interface %s: at most %d network interfaces",
				 id, VMCONFIG_MAX_NETS);
			return -ENOSPC;
		}
		idx = (int)cfg->nr_nets++;
	}
	cfg->nets[idx] = n;
	return 0;
}

static const struct json_field net_patch_fields[] = {
	{ "iface_id", JK_STRING, true },
	{ "rx_rate_limiter", JK_OBJECT, false },
	{ "tx_rate_limiter", JK_OBJECT, false },
};

int vmconfig_check_net_patch(const struct vmconfig *cfg, const char *path_id,
			     const json_t *body, struct vmconfig_rate_limiter *rx,
			     struct vmconfig_rate_limiter *tx, char *err, size_t errlen)
{
	const char *what = "network-interfaces", *id;
	int ret;

	ret = json_check_object(body, what, net_patch_fields,
				ARRAY_SIZE(net_patch_fields), err, errlen);
	if (ret)
		return ret;
	id = check_ids(what, "iface_id", path_id, body, err, errlen);
	if (!id)
		return -EINVAL;
	if (find_net(cfg, id) < 0)
		return parse_fail(err, errlen, "interface %s: no such network interface", id);
	ret = parse_rate_limiter(json_object_get(body, "rx_rate_limiter"),
				 "rx_rate_limiter", true, rx, err, errlen);
	if (!ret)
		ret = parse_rate_limiter(json_object_get(body, "tx_rate_limiter"),
					 "tx_rate_limiter", true, tx, err, errlen);
	if (ret)
		return ret;
	return rate_limiter_is_set(rx) || rate_limiter_is_set(tx) ? 0 : 1;
}

void vmconfig_apply_net_patch(struct vmconfig *cfg, const char *id,
			      const struct vmconfig_rate_limiter *rx,
			      const struct vmconfig_rate_limiter *tx)
{
	int idx = find_net(cfg, id);

	if (idx < 0)
		return;
	vmconfig_rate_limiter_update(&cfg->nets[idx].rx_rate_limiter, rx);
	vmconfig_rate_limiter_update(&cfg->nets[idx].tx_rate_limiter, tx);
}

json_t *vmconfig_nets_json(const struct vmconfig *cfg)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && i < cfg->nr_nets; i++) {
		const struct vmconfig_net *n = &cfg->nets[i];
		char mac[18];
		json_t *o;

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 n->guest_mac[0], n->guest_mac[1], n->guest_mac[2],
			 n->guest_mac[3], n->guest_mac[4], n->guest_mac[5]);
		o = json_pack("{s:s, s:s, s:o, s:o, s:o}", "iface_id", n->id,
			      "host_dev_name", n->host_dev_name,
			      "guest_mac", n->has_mac ? json_string(mac) : json_null(),
			      "rx_rate_limiter", rate_limiter_json(&n->rx_rate_limiter),
			      "tx_rate_limiter", rate_limiter_json(&n->tx_rate_limiter));
		if (o && n->mtu)
			json_object_set_new(o, "mtu", json_integer(n->mtu));
		json_array_append_new(a, o);
	}
	return a;
}

/* ---- entropy, vsock ----------------------------------------------------------------- */

static const struct json_field entropy_fields[] = {
	{ "rate_limiter", JK_OBJECT, false },
};

int vmconfig_set_entropy(struct vmconfig *cfg, const json_t *body, char *err,
			 size_t errlen)
{
	struct vmconfig_rate_limiter rl;
	int ret;

	ret = json_check_object(body, "entropy", entropy_fields,
				ARRAY_SIZE(entropy_fields), err, errlen);
	if (!ret)
		ret = parse_rate_limiter(json_object_get(body, "rate_limiter"),
					 "entropy rate_limiter", false, &rl, err, errlen);
	if (ret)
		return ret;
	cfg->entropy = true;
	return 0;
}

static const struct json_field vsock_fields[] = {
	{ "guest_cid", JK_UINT, true },
	{ "uds_path", JK_STRING, true },
	{ "vsock_id", JK_STRING, false },	/* deprecated, still sent */
};

int vmconfig_set_vsock(struct vmconfig *cfg, const json_t *body, char *err, size_t errlen)
{
	const char *uds;
	int ret;

	ret = json_check_object(body, "vsock", vsock_fields, ARRAY_SIZE(vsock_fields),
				err, errlen);
	if (ret)
		return ret;
	if (json_get_uint(body, "guest_cid", 0) < 3 ||
	    json_get_uint(body, "guest_cid", 0) >= UINT32_MAX)
		return parse_fail(err, errlen, "vsock: guest_cid must be from 3 to %u", UINT32_MAX - 1);
	uds = json_get_str(body, "uds_path");
	ret = check_path("vsock", "uds_path", uds, err, errlen);
	if (ret)
		return ret;
	/* A socket address holds 107 bytes, and PATH_<port> must fit too. */
	if (strlen(uds) > VDPA_VSOCK_UDS_MAX)
		return parse_fail(err, errlen, "vsock: uds_path must be at most %d bytes (a Unix socket address, with room for _<port>)",
			    VDPA_VSOCK_UDS_MAX);
	cfg->vsock = true;
	cfg->vsock_cid = (u32)json_get_uint(body, "guest_cid", 0);
	snprintf(cfg->vsock_uds, sizeof(cfg->vsock_uds), "%s", uds);
	return 0;
}

json_t *vmconfig_vsock_json(const struct vmconfig *cfg)
{
	if (!cfg->vsock)
		return json_null();
	return json_pack("{s:I, s:s}", "guest_cid", (json_int_t)cfg->vsock_cid,
			 "uds_path", cfg->vsock_uds);
}

/* ---- balloon (docs/balloon.md) --------------------------------------------------------- */

/* A day: the statistics interval's bound (the device's stats_polling_interval_s). */
#define BALLOON_MAX_INTERVAL_S	86400

static const struct json_field balloon_fields[] = {
	{ "amount_mib", JK_UINT, true },
	{ "deflate_on_oom", JK_BOOL, true },
	{ "stats_polling_interval_s", JK_UINT, false },
	{ "free_page_hinting", JK_BOOL, false },
	{ "free_page_reporting", JK_BOOL, false },
};

/* Firecracker's rule: a balloon no larger than the guest's memory. */
static int check_amount(const struct vmconfig *cfg, const char *what, u64 mib, char *err,
			size_t errlen)
{
	if (mib > cfg->machine.mem_size_mib)
		return parse_fail(err, errlen, "%s: amount_mib %llu is more than the guest's memory "
			    "(mem_size_mib %llu)", what, (unsigned long long)mib,
			    (unsigned long long)cfg->machine.mem_size_mib);
	return 0;
}

static int check_interval(const char *what, u64 s, char *err, size_t errlen)
{
	if (s > BALLOON_MAX_INTERVAL_S)
		return parse_fail(err, errlen, "%s: stats_polling_interval_s must be at most %u",
			    what, BALLOON_MAX_INTERVAL_S);
	return 0;
}

int vmconfig_set_balloon(struct vmconfig *cfg, const json_t *body, char *err,
			 size_t errlen)
{
	struct vmconfig_balloon b = { .set = true };
	int ret;

	ret = json_check_object(body, "balloon", balloon_fields, ARRAY_SIZE(balloon_fields),
				err, errlen);
	if (ret)
		return ret;
	b.amount_mib = (u32)MIN(json_get_uint(body, "amount_mib", 0), (u64)UINT32_MAX);
	b.deflate_on_oom = json_get_bool(body, "deflate_on_oom", false);
	b.stats_polling_interval_s = (u32)MIN(json_get_uint(body, "stats_polling_interval_s", 0),
					      (u64)UINT32_MAX);
	b.free_page_reporting = json_get_bool(body, "free_page_reporting", false);
	ret = check_amount(cfg, "balloon", json_get_uint(body, "amount_mib", 0), err, errlen);
	if (!ret)
		ret = check_interval("balloon", json_get_uint(body, "stats_polling_interval_s", 0),
				     err, errlen);
	if (ret)
		return ret;
	if (json_get_bool(body, "free_page_hinting", false)) {
		parse_fail(err, errlen, "balloon: free_page_hinting is not implemented by kestrel "
		     "(free_page_reporting is)");
		return -EOPNOTSUPP;
	}
	cfg->balloon = b;
	return 0;
}

static const struct json_field balloon_update_fields[] = {
	{ "amount_mib", JK_UINT, true },
};

int vmconfig_check_balloon_patch(const struct vmconfig *cfg, const json_t *body,
				 u32 *amount_mib, char *err, size_t errlen)
{
	int ret;

	if (!cfg->balloon.set)
		return parse_fail(err, errlen, "balloon: no balloon device is configured (PUT /balloon "
			    "before boot)");
	ret = json_check_object(body, "balloon", balloon_update_fields,
				ARRAY_SIZE(balloon_update_fields), err, errlen);
	if (!ret)
		ret = check_amount(cfg, "balloon", json_get_uint(body, "amount_mib", 0), err,
				   errlen);
	if (ret)
		return ret;
	*amount_mib = (u32)json_get_uint(body, "amount_mib", 0);
	return 0;
}

static const struct json_field balloon_stats_fields[] = {
	{ "stats_polling_interval_s", JK_UINT, true },
};

int vmconfig_check_balloon_stats_patch(const struct vmconfig *cfg, const json_t *body,
				       bool booted, u32 *interval_s, char *err, size_t errlen)
{
	u64 s;
	int ret;

	if (!cfg->balloon.set)
		return parse_fail(err, errlen, "balloon/statistics: no balloon device is configured "
			    "(PUT /balloon before boot)");
	ret = json_check_object(body, "balloon/statistics", balloon_stats_fields,
				ARRAY_SIZE(balloon_stats_fields), err, errlen);
	if (ret)
		return ret;
	s = json_get_uint(body, "stats_polling_interval_s", 0);
	ret = check_interval("balloon/statistics", s, err, errlen);
	if (ret)
		return ret;
	/* The statsq exists or not from boot (virtio 1.2 §5.5.2). */
	if (booted && (!cfg->balloon.stats_polling_interval_s || !s))
		return parse_fail(err, errlen, "balloon/statistics: statistics cannot be turned on or "
			    "off after boot (they were %s at boot)",
			    cfg->balloon.stats_polling_interval_s ? "on" : "off");
	*interval_s = (u32)s;
	return 0;
}

json_t *vmconfig_balloon_json(const struct vmconfig *cfg)
{
	const struct vmconfig_balloon *b = &cfg->balloon;

	if (!b->set)
		return json_null();
	return json_pack("{s:I, s:b, s:I, s:b, s:b}", "amount_mib", (json_int_t)b->amount_mib,
			 "deflate_on_oom", b->deflate_on_oom, "stats_polling_interval_s",
			 (json_int_t)b->stats_polling_interval_s, "free_page_hinting", false,
			 "free_page_reporting", b->free_page_reporting);
}
