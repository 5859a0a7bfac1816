// SPDX-License-Identifier: GPL-2.0-only
/*
 * Management devices: factories that create vDPA devices by type from a
 * spec such as "net,mac=52:54:00:12:34:56,mtu=1500,max_vqp=1" or
 * "blk,capacity=8M,ro=on". Specs come from the command line or an API
 * request, so they are hostile: every rejection is one log line naming the
 * attribute and the form it accepts. A value holding a comma doubles it
 * ("path=/img/a,,b.raw" is the file "/img/a,b.raw"); vdpa_mgmt_escape()
 * writes that form.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kestrel/log.h>
#include <kestrel/parse.h>
#include <kestrel/vdpa.h>

/* Longest spec accepted; longer input is refused before parsing. */
#define VDPA_SPEC_MAX		1024

static pthread_mutex_t mgmt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vdpa_mgmt_dev *mgmt_list;	/* mgmt_lock */

/* ---- registry --------------------------------------------------------- */

/* Caller holds mgmt_lock. */
static struct vdpa_mgmt_dev *__vdpa_mgmt_find(const char *type)
{
	for (struct vdpa_mgmt_dev *m = mgmt_list; m; m = m->next)
		if (!strcmp(m->type, type))
			return m;
	return NULL;
}

int vdpa_mgmt_dev_register(struct vdpa_mgmt_dev *mdev)
{
	int ret = 0;

	if (!mdev || !mdev->type || !mdev->type[0] || !mdev->dev_add ||
	    mdev->nattrs > VDPA_ATTR_MAX || (mdev->nattrs && !mdev->attrs) ||
	    mdev->config_size < sizeof(struct vdpa_dev_args) ||
	    mdev->config_size > VDPA_CONFIG_MAX)
		return -EINVAL;
	for (unsigned int i = 0; i < mdev->nattrs; i++) {
		const struct vdpa_attr *a = &mdev->attrs[i];

		if (!a->key || !a->form || !a->parse ||
		    a->offset + a->size > mdev->config_size)
			return -EINVAL;
	}
	pthread_mutex_lock(&mgmt_lock);
	if (__vdpa_mgmt_find(mdev->type)) {
		ret = -EEXIST;
	} else {
		mdev->next = mgmt_list;
		mgmt_list = mdev;
	}
	pthread_mutex_unlock(&mgmt_lock);
	return ret;
}

void vdpa_mgmt_dev_unregister(struct vdpa_mgmt_dev *mdev)
{
	pthread_mutex_lock(&mgmt_lock);
	for (struct vdpa_mgmt_dev **p = &mgmt_list; *p; p = &(*p)->next) {
		if (*p == mdev) {
			*p = mdev->next;
			mdev->next = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&mgmt_lock);
}

struct vdpa_mgmt_dev *vdpa_mgmt_find(const char *type)
{
	struct vdpa_mgmt_dev *m;

	if (!type)
		return NULL;
	pthread_mutex_lock(&mgmt_lock);
	m = __vdpa_mgmt_find(type);
	pthread_mutex_unlock(&mgmt_lock);
	return m;
}

int vdpa_mgmt_for_each(int (*fn)(struct vdpa_mgmt_dev *mdev, void *opaque),
		       void *opaque)
{
	int ret = 0;

	pthread_mutex_lock(&mgmt_lock);
	for (struct vdpa_mgmt_dev *m = mgmt_list; m && !ret; m = m->next)
		ret = fn(m, opaque);
	pthread_mutex_unlock(&mgmt_lock);
	return ret;
}

/* ---- value parsers (0 or -EINVAL; the caller logs) -------------------- */

static int parse_hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void store_uint(void *dst, size_t size, u64 v)
{
	switch (size) {
	case 1: *(u8 *)dst = (u8)v; break;
	case 2: *(u16 *)dst = (u16)v; break;
	case 4: *(u32 *)dst = (u32)v; break;
	default: *(u64 *)dst = v; break;
	}
}

int vdpa_attr_parse_uint(const struct vdpa_attr *attr, const char *val, void *dst)
{
	u64 v;

	if (parse_u64(val, &v) || v < attr->min || v > attr->max)
		return -EINVAL;
	store_uint(dst, attr->size, v);
	return 0;
}

int vdpa_attr_parse_size(const struct vdpa_attr *attr, const char *val, void *dst)
{
	u64 v;

	if (parse_size(val, &v) || v == 0 || v > attr->max ||
	    (attr->min && v % attr->min))
		return -EINVAL;
	store_uint(dst, attr->size, v);
	return 0;
}

int vdpa_attr_parse_bool(const struct vdpa_attr *attr, const char *val, void *dst)
{
	return parse_bool(val, dst);
}

int vdpa_attr_parse_string(const struct vdpa_attr *attr, const char *val, void *dst)
{
	if (strlen(val) >= attr->size)
		return -EINVAL;
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

int vdpa_attr_parse_serial(const struct vdpa_attr *attr, const char *val, void *dst)
{
	for (const char *c = val; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			return -EINVAL;
	return vdpa_attr_parse_string(attr, val, dst);
}

int vdpa_attr_parse_mac(const struct vdpa_attr *attr, const char *val, void *dst)
{
	u8 mac[6];
	bool zero = true;

	/* Exactly "xx:xx:xx:xx:xx:xx". */
	if (strlen(val) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = parse_hex_nibble(val[3 * i]);
		int lo = parse_hex_nibble(val[3 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (i < 5 && val[3 * i + 2] != ':')
			return -EINVAL;
		mac[i] = (u8)(hi << 4 | lo);
		if (mac[i])
			zero = false;
	}
	if (zero || (mac[0] & 1))	/* all-zero or multicast/broadcast */
		return -EINVAL;
	memcpy(dst, mac, sizeof(mac));
	return 0;
}

int vdpa_attr_parse_choice(const struct vdpa_attr *attr, const char *val, void *dst)
{
	for (u32 i = 0; attr->choices && attr->choices[i]; i++) {
		if (!strcmp(val, attr->choices[i])) {
			*(u32 *)dst = i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static int parse_name(const struct vdpa_attr *attr, const char *val, void *dst)
{
	for (const char *c = val; *c; c++)
		if (!is_name_char(*c))
			return -EINVAL;
	return vdpa_attr_parse_string(attr, val, dst);
}

/* Every type accepts it; the bus keeps it in struct vdpa_dev_args. */
static const struct vdpa_attr vdpa_attr_name = {
	.key = "name", .form = "name=<1..31 of [A-Za-z0-9._-]>",
	.help = "bus name (default vdpa<N>)", .parse = parse_name,
	.offset = offsetof(struct vdpa_dev_args, name),
	.size = VDPA_NAME_MAX,
};

/* Index of @key in @mdev's table, -1 for "name", -2 if unknown. */
static int vdpa_attr_index(const struct vdpa_mgmt_dev *mdev, const char *key)
{
	if (!strcmp(key, vdpa_attr_name.key))
		return -1;
	for (unsigned int i = 0; i < mdev->nattrs; i++)
		if (!strcmp(key, mdev->attrs[i].key))
			return (int)i;
	return -2;
}

bool vdpa_attr_given(const struct vdpa_mgmt_dev *mdev,
		     const struct vdpa_dev_args *args, const char *key)
{
	int i = vdpa_attr_index(mdev, key);

	if (i == -1)
		return args->name[0] != '\0';
	return i >= 0 && (args->given & (1u << i));
}

/* ---- spec parser ------------------------------------------------------ */

static void vdpa_mgmt_list_accepted(const struct vdpa_mgmt_dev *mdev,
				    char *buf, size_t len)
{
	int off = snprintf(buf, len, "%s", vdpa_attr_name.key);

	for (unsigned int i = 0; i < mdev->nattrs && off > 0 && (size_t)off < len; i++)
		off += snprintf(buf + off, len - (size_t)off, ", %s",
				mdev->attrs[i].key);
}

/* Parse one "key=value" of @mdev into @config; logs and returns -EINVAL. */
static int vdpa_mgmt_parse_attr(const struct vdpa_mgmt_dev *mdev, char *kv,
				void *config)
{
	struct vdpa_dev_args *args = config;
	const struct vdpa_attr *attr;
	char *eq = strchr(kv, '=');
	char accepted[256];
	bool given;
	int i;

	if (eq)
		*eq = '\0';
	i = vdpa_attr_index(mdev, kv);
	if (i == -2) {
		vdpa_mgmt_list_accepted(mdev, accepted, sizeof(accepted));
		pr_err("vdpa: unknown attribute '%.32s' for %s (accepted: %s)",
		       kv, mdev->type, accepted);
		return -EINVAL;
	}
	attr = i < 0 ? &vdpa_attr_name : &mdev->attrs[i];
	if (!eq || !eq[1]) {
		pr_err("vdpa: attribute '%s' needs a value: %s", attr->key,
		       attr->form);
		return -EINVAL;
	}
	given = i < 0 ? args->name[0] != '\0' : (args->given & (1u << i));
	if (given) {
		pr_err("vdpa: attribute '%s' given twice", attr->key);
		return -EINVAL;
	}
	if (attr->parse(attr, eq + 1, (u8 *)config + attr->offset)) {
		if (attr->parse == vdpa_attr_parse_size)
			pr_err("vdpa: bad value for attribute '%s' of %s: accepted form %s, at most %llu bytes",
			       attr->key, mdev->type, attr->form,
			       (unsigned long long)attr->max);
		else
			pr_err("vdpa: bad value for attribute '%s' of %s: accepted form %s",
			       attr->key, mdev->type, attr->form);
		return -EINVAL;
	}
	if (i >= 0)
		args->given |= 1u << i;
	return 0;
}

/*
 * The next comma-separated field of the spec at *@cur, unescaped in place
 * (",," is one literal comma), or NULL at the end. A single comma ends the
 * field: ",,," is a comma in the value and then the separator.
 */
static char *vdpa_spec_next(char **cur)
{
	char *start = *cur, *r = start, *w = start;

	if (!start)
		return NULL;
	while (*r && (*r != ',' || r[1] == ',')) {
		*w++ = *r;
		r += *r == ',' ? 2 : 1;
	}
	*cur = *r ? r + 1 : NULL;
	*w = '\0';
	return start;
}

int vdpa_mgmt_escape(const char *val, char *buf, size_t len)
{
	size_t off = 0;

	for (const char *c = val; *c; c++) {
		if (off + 1 + (*c == ',') >= len)
			return -E2BIG;
		if (*c == ',')
			buf[off++] = ',';
		buf[off++] = *c;
	}
	if (off >= len)
		return -E2BIG;
	buf[off] = '\0';
	return 0;
}

int vdpa_mgmt_parse(const char *spec, struct vdpa_mgmt_dev **mdev_out,
		    void *config, size_t size)
{
	struct vdpa_mgmt_dev *mdev;
	char buf[VDPA_SPEC_MAX + 1];
	char *type, *kv, *cur = buf;
	size_t len;
	int ret;

	if (!spec || !mdev_out || !config)
		return -EINVAL;
	len = strnlen(spec, sizeof(buf));
	if (len == 0 || len > VDPA_SPEC_MAX) {
		pr_err("vdpa: device spec must be 1..%d characters: type[,key=value]...",
		       VDPA_SPEC_MAX);
		return -EINVAL;
	}
	memcpy(buf, spec, len);
	buf[len] = '\0';
	type = vdpa_spec_next(&cur);
	if (!type[0])
		goto empty;
	mdev = vdpa_mgmt_find(type);
	if (!mdev) {
		pr_err("vdpa: unknown device type '%.32s' (see the list of management devices)",
		       type);
		return -ENODEV;
	}
	if (size < mdev->config_size)
		return -ENOSPC;
	if (mdev->defaults)
		memcpy(config, mdev->defaults, mdev->config_size);
	else
		memset(config, 0, mdev->config_size);
	memset(config, 0, sizeof(struct vdpa_dev_args));
	while ((kv = vdpa_spec_next(&cur))) {
		if (!kv[0])
			goto empty;
		ret = vdpa_mgmt_parse_attr(mdev, kv, config);
		if (ret)
			return ret;
	}
	*mdev_out = mdev;
	return 0;

empty:
	pr_err("vdpa: empty attribute in device spec: type[,key=value]... (a comma in a value is written ,,)");
	return -EINVAL;
}

/* ---- create / destroy ------------------------------------------------- */

int vdpa_mgmt_dev_add_config(struct vdpa_mgmt_dev *mdev, const void *config,
			     struct vdpa_device **out)
{
	const struct vdpa_dev_args *args = config;
	struct vdpa_device *vdpa;
	int ret;

	if (args->name[0] && vdpa_find_device(args->name)) {
		pr_err("vdpa: device name '%s' already in use", args->name);
		return -EEXIST;
	}
	ret = mdev->dev_add(mdev, config, &vdpa);
	if (ret)
		return ret;
	vdpa->mdev = mdev;
	*out = vdpa;
	return 0;
}

int vdpa_mgmt_dev_add(const char *spec, struct vdpa_device **out)
{
	_Alignas(max_align_t) u8 config[VDPA_CONFIG_MAX];
	struct vdpa_mgmt_dev *mdev;
	int ret;

	if (!out)
		return -EINVAL;
	ret = vdpa_mgmt_parse(spec, &mdev, config, sizeof(config));
	if (ret)
		return ret;
	return vdpa_mgmt_dev_add_config(mdev, config, out);
}

int vdpa_mgmt_files(const struct vdpa_mgmt_dev *mdev, const void *config,
		    int (*fn)(const char *path, bool write, void *opaque), void *opaque)
{
	return mdev->files ? mdev->files(config, fn, opaque) : 0;
}

int vdpa_mgmt_sockets(const struct vdpa_mgmt_dev *mdev, const void *config,
		      int (*fn)(const char *path, void *opaque), void *opaque)
{
	return mdev->sockets ? mdev->sockets(config, fn, opaque) : 0;
}

int vdpa_mgmt_dev_del(struct vdpa_device *vdpa)
{
	if (!vdpa || !vdpa->mdev)
		return -EINVAL;
	if (vdpa->mdev->dev_del)
		vdpa->mdev->dev_del(vdpa->mdev, vdpa);
	else
		vdpa_unregister_device(vdpa);
	return 0;
}

int vdpa_mgmt_dev_del_by_name(const char *name)
{
	struct vdpa_device *vdpa = vdpa_find_device(name);

	if (!vdpa)
		return -ENODEV;
	return vdpa_mgmt_dev_del(vdpa);
}
