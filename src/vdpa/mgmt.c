// SPDX-License-Identifier: GPL-2.0-only
/*
 * Management devices: factories that create vDPA devices by type from a
 * spec such as "net,mac=52:54:00:12:34:56,mtu=1500,max_vqp=1" or
 * "blk,capacity=8M,ro=on". Specs come from the command line or an API
 * request, so they are hostile: every rejection is one log line naming the
 * attribute and the form it accepts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kestrel/log.h>
#include <kestrel/vdpa.h>

#include "sim/internal.h"

/* Longest spec accepted; longer input is refused before parsing. */
#define VDPA_SPEC_MAX		1024

static pthread_mutex_t mgmt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vdpa_mgmt_dev *mgmt_list;	/* mgmt_lock */

/**
 * struct vdpa_attr_desc - how one attribute is spelled
 * @key: the attribute name
 * @bit: its VDPA_ATTR_* bit
 * @form: the accepted form, quoted in errors
 */
struct vdpa_attr_desc {
	const char *key;
	u32 bit;
	const char *form;
};

static const struct vdpa_attr_desc vdpa_attrs[] = {
	{ "name",     VDPA_ATTR_NAME,     "name=<1..31 of [A-Za-z0-9._-]>" },
	{ "mac",      VDPA_ATTR_MAC,
	  "mac=<six hex bytes, unicast and not zero, e.g. 52:54:00:12:34:56>" },
	{ "mtu",      VDPA_ATTR_MTU,      "mtu=<68..65535>" },
	{ "max_vqp",  VDPA_ATTR_MAX_VQP,  "max_vqp=<1..limit of the type>" },
	{ "capacity", VDPA_ATTR_CAPACITY,
	  "capacity=<bytes, optional K/M/G/T suffix, multiple of 512, e.g. 8M>" },
	{ "ro",       VDPA_ATTR_RO,       "ro=<on|off|yes|no|true|false|1|0>" },
	{ "path",     VDPA_ATTR_PATH,     "path=<1..255 characters>" },
	{ "serial",   VDPA_ATTR_SERIAL,   "serial=<1..20 printable characters>" },
	{ "poll",     VDPA_ATTR_POLL,     "poll=<on|off|yes|no|true|false|1|0>" },
	{ "mode",     VDPA_ATTR_MODE,     "mode=<loop|sink|gen>" },
	{ "gen_len",  VDPA_ATTR_GEN_LEN,  "gen_len=<14..65535>" },
};

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
	    !mdev->dev_del)
		return -EINVAL;
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

int vdpa_mgmt_register_builtin(void)
{
	struct vdpa_mgmt_dev *builtin[] = {
		&vdpasim_net_mgmt_dev,
		&vdpasim_blk_mgmt_dev,
	};

	for (size_t i = 0; i < ARRAY_SIZE(builtin); i++) {
		int ret = vdpa_mgmt_dev_register(builtin[i]);

		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
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

static int parse_u64(const char *s, u64 *out)
{
	u64 v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned int)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

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

static int parse_mac(const char *s, u8 mac[6])
{
	bool zero = true;

	/* Exactly "xx:xx:xx:xx:xx:xx". */
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = parse_hex_nibble(s[3 * i]);
		int lo = parse_hex_nibble(s[3 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (i < 5 && s[3 * i + 2] != ':')
			return -EINVAL;
		mac[i] = (u8)(hi << 4 | lo);
		if (mac[i])
			zero = false;
	}
	if (zero || (mac[0] & 1))	/* all-zero or multicast/broadcast */
		return -EINVAL;
	return 0;
}

static int parse_size(const char *s, u64 *out)
{
	char digits[24];
	size_t n = strspn(s, "0123456789");
	unsigned int shift = 0;
	u64 v;

	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (parse_u64(digits, &v))
		return -EINVAL;
	switch (s[n]) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (shift && s[n + 1] != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, no[i])) {
			*out = false;
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

/* ---- spec parser ------------------------------------------------------ */

static void vdpa_mgmt_list_accepted(const struct vdpa_mgmt_dev *mdev,
				    char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(vdpa_attrs); i++) {
		int n;

		if (vdpa_attrs[i].bit != VDPA_ATTR_NAME &&
		    !(mdev->attr_mask & vdpa_attrs[i].bit))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
			     vdpa_attrs[i].key);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

/* Parse one "key=value" of @mdev into @config; logs and returns -EINVAL. */
static int vdpa_mgmt_parse_attr(const struct vdpa_mgmt_dev *mdev, char *kv,
				struct vdpa_dev_config *config)
{
	const struct vdpa_attr_desc *desc = NULL;
	char *eq = strchr(kv, '=');
	const char *val;
	char accepted[160];
	u64 v;

	if (eq)
		*eq = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(vdpa_attrs); i++)
		if (!strcmp(kv, vdpa_attrs[i].key))
			desc = &vdpa_attrs[i];
	if (!desc || (desc->bit != VDPA_ATTR_NAME &&
		      !(mdev->attr_mask & desc->bit))) {
		vdpa_mgmt_list_accepted(mdev, accepted, sizeof(accepted));
		pr_err("vdpa: unknown attribute '%.32s' for %s (accepted: %s)",
		       kv, mdev->type, accepted);
		return -EINVAL;
	}
	if (!eq || !eq[1]) {
		pr_err("vdpa: attribute '%s' needs a value: %s", desc->key,
		       desc->form);
		return -EINVAL;
	}
	if (config->mask & desc->bit) {
		pr_err("vdpa: attribute '%s' given twice", desc->key);
		return -EINVAL;
	}
	val = eq + 1;

	switch (desc->bit) {
	case VDPA_ATTR_NAME:
		if (strlen(val) >= sizeof(config->name))
			goto bad_value;
		for (const char *c = val; *c; c++)
			if (!is_name_char(*c))
				goto bad_value;
		snprintf(config->name, sizeof(config->name), "%s", val);
		break;
	case VDPA_ATTR_MAC:
		if (parse_mac(val, config->mac))
			goto bad_value;
		break;
	case VDPA_ATTR_MTU:
		/* virtio 1.2 §5.1.4.1: mtu at least 68. */
		if (parse_u64(val, &v) || v < 68 || v > 65535)
			goto bad_value;
		config->mtu = (u16)v;
		break;
	case VDPA_ATTR_MAX_VQP:
		if (parse_u64(val, &v) || v < 1 || v > mdev->max_vqp) {
			pr_err("vdpa: bad value for attribute 'max_vqp' of %s: accepted form max_vqp=<1..%u>",
			       mdev->type, mdev->max_vqp);
			return -EINVAL;
		}
		config->max_vqp = (u32)v;
		break;
	case VDPA_ATTR_CAPACITY:
		if (parse_size(val, &v) || v == 0 || (v & 511) ||
		    v > mdev->max_capacity) {
			pr_err("vdpa: bad value for attribute 'capacity': %s, at most %llu bytes for %s",
			       desc->form,
			       (unsigned long long)mdev->max_capacity,
			       mdev->type);
			return -EINVAL;
		}
		config->capacity = v;
		break;
	case VDPA_ATTR_RO:
		if (parse_bool(val, &config->ro))
			goto bad_value;
		break;
	case VDPA_ATTR_POLL:
		if (parse_bool(val, &config->poll))
			goto bad_value;
		break;
	case VDPA_ATTR_MODE:
		if (!strcmp(val, "loop"))
			config->mode = VDPA_NET_MODE_LOOP;
		else if (!strcmp(val, "sink"))
			config->mode = VDPA_NET_MODE_SINK;
		else if (!strcmp(val, "gen"))
			config->mode = VDPA_NET_MODE_GEN;
		else
			goto bad_value;
		break;
	case VDPA_ATTR_GEN_LEN:
		/* An Ethernet header at least; 64 KiB payload at most. */
		if (parse_u64(val, &v) || v < 14 || v > 65535)
			goto bad_value;
		config->gen_len = (u32)v;
		break;
	case VDPA_ATTR_PATH:
		if (strlen(val) >= sizeof(config->path))
			goto bad_value;
		snprintf(config->path, sizeof(config->path), "%s", val);
		break;
	case VDPA_ATTR_SERIAL:
		if (strlen(val) >= sizeof(config->serial))
			goto bad_value;
		for (const char *c = val; *c; c++)
			if (*c < 0x21 || *c > 0x7e)
				goto bad_value;
		snprintf(config->serial, sizeof(config->serial), "%s", val);
		break;
	default:
		goto bad_value;
	}
	config->mask |= desc->bit;
	return 0;

bad_value:
	pr_err("vdpa: bad value for attribute '%s': accepted form %s",
	       desc->key, desc->form);
	return -EINVAL;
}

int vdpa_mgmt_parse(const char *spec, struct vdpa_mgmt_dev **mdev_out,
		    struct vdpa_dev_config *config)
{
	struct vdpa_mgmt_dev *mdev;
	char buf[VDPA_SPEC_MAX + 1];
	char *type, *kv, *save;
	size_t len;
	int ret;

	if (!spec || !mdev_out || !config)
		return -EINVAL;
	memset(config, 0, sizeof(*config));
	len = strnlen(spec, sizeof(buf));
	if (len == 0 || len > VDPA_SPEC_MAX) {
		pr_err("vdpa: device spec must be 1..%d characters: type[,key=value]...",
		       VDPA_SPEC_MAX);
		return -EINVAL;
	}
	memcpy(buf, spec, len);
	buf[len] = '\0';
	if (buf[len - 1] == ',' || strstr(buf, ",,") || buf[0] == ',') {
		pr_err("vdpa: empty attribute in device spec: type[,key=value]...");
		return -EINVAL;
	}

	type = strtok_r(buf, ",", &save);
	mdev = vdpa_mgmt_find(type);
	if (!mdev) {
		pr_err("vdpa: unknown device type '%.32s' (see the list of management devices)",
		       type);
		return -ENODEV;
	}
	while ((kv = strtok_r(NULL, ",", &save))) {
		ret = vdpa_mgmt_parse_attr(mdev, kv, config);
		if (ret)
			return ret;
	}
	*mdev_out = mdev;
	return 0;
}

/* ---- create / destroy ------------------------------------------------- */

int vdpa_mgmt_dev_add(const char *spec, struct vdpa_device **out)
{
	struct vdpa_dev_config config;
	struct vdpa_mgmt_dev *mdev;
	struct vdpa_device *vdpa;
	int ret;

	if (!out)
		return -EINVAL;
	ret = vdpa_mgmt_parse(spec, &mdev, &config);
	if (ret)
		return ret;
	if ((config.mask & VDPA_ATTR_NAME) && vdpa_find_device(config.name)) {
		pr_err("vdpa: device name '%s' already in use", config.name);
		return -EEXIST;
	}
	ret = mdev->dev_add(mdev, &config, &vdpa);
	if (ret)
		return ret;
	vdpa->mdev = mdev;
	*out = vdpa;
	return 0;
}

int vdpa_mgmt_dev_del(struct vdpa_device *vdpa)
{
	if (!vdpa || !vdpa->mdev)
		return -EINVAL;
	vdpa->mdev->dev_del(vdpa->mdev, vdpa);
	return 0;
}

int vdpa_mgmt_dev_del_by_name(const char *name)
{
	struct vdpa_device *vdpa = vdpa_find_device(name);

	if (!vdpa)
		return -ENODEV;
	return vdpa_mgmt_dev_del(vdpa);
}
