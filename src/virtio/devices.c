// SPDX-License-Identifier: GPL-2.0-only
/*
 * Devices from the command line: turn --net/--disk/--device/--console/--rng/--balloon
 * into vDPA management specs, check them at once (so a typo is a one-line
 * usage error before any VM exists), and at attach time create each device
 * and put it on its transport: the virtio-mmio window the machine chose
 * for it, or a slot of the PCI host bridge (docs/pci.md). Where the
 * windows are is the machine's business (src/arch/x86/machine.c), not the
 * transport's. Each device's transport is its transport= attribute, else
 * --transport, else the machine's default (virtio_devices_resolve_transport()). See include/kestrel/virtio.h for the accepted forms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel/fault.h>
#include <kestrel/log.h>
#include <kestrel/parse.h>
#include <linux/virtio_ids.h>

#include <kestrel/snapshot.h>
#include <kestrel/vdpa-dev.h>
#include <kestrel/vdpa.h>

#include "internal.h"

/* Longest spec we build (vdpa_mgmt_parse() refuses longer). */
#define VDEV_SPEC_MAX		1024

/**
 * struct virtio_dev_slot - one device of the list
 * @spec: management spec ("tap,path=tap0,mac=...")
 * @opt: the option it came from, for errors ("--net tap=tap0")
 * @vdpa: the device, once attached
 * @mmio: its transport, once attached on virtio-mmio
 * @pci: its transport, once attached on virtio-pci
 * @label: the caller's name for it (the API's drive or interface id), or NULL
 * @transport: the transport= it was given, or VIRTIO_TRANSPORT_AUTO
 * @packed: the packed= it was given (1 on, 0 off), or -1
 */
struct virtio_dev_slot {
	char *spec;
	char *opt;
	char *label;
	struct vdpa_device *vdpa;
	struct virtio_mmio *mmio;
	struct virtio_pci *pci;
	enum virtio_transport transport;
	int packed;
};

/**
 * struct virtio_devices - what the command line asked for
 * @max: entries of @slots (the machine's virtio-mmio slots)
 * @nr: entries of @slots in use
 * @nr_attached: entries of @slots attached, counting from 0
 * @console_virtio: --console virtio was given
 * @transport: --transport, for devices without transport= (AUTO: none given)
 * @packed: --packed, for devices without packed= (1 on, 0 off, -1 none given)
 * @slots: devices, in command-line order
 */
struct virtio_devices {
	unsigned int max;
	unsigned int nr;
	unsigned int nr_attached;
	bool console_virtio;
	enum virtio_transport transport;
	int packed;
	struct virtio_dev_slot slots[];
};

int virtio_devices_create(unsigned int max, struct virtio_devices **out)
{
	*out = xzalloc(sizeof(**out) + (size_t)max * sizeof((*out)->slots[0]));
	if (!*out)
		return -ENOMEM;
	(*out)->max = max;
	(*out)->packed = -1;
	return 0;
}

/* Record @spec after checking it parses; errors name @opt and @val. */
static int vdev_add_spec(struct virtio_devices *devs, const char *opt,
			 const char *val, const char *spec)
{
	struct virtio_dev_slot *slot;
	_Alignas(max_align_t) u8 config[VDPA_CONFIG_MAX];
	struct vdpa_mgmt_dev *mdev;
	char what[96];
	int ret;

	snprintf(what, sizeof(what), "--%s%s%.64s", opt, val ? " " : "",
		 val ? val : "");
	if (devs->nr == devs->max) {
		pr_err("%s: at most %u virtio devices", what, devs->max);
		return -E2BIG;
	}
	ret = vdpa_mgmt_parse(spec, &mdev, config, sizeof(config));
	if (ret) {
		pr_err("%s: not a valid device (see the line above)", what);
		return -EINVAL;
	}
	slot = &devs->slots[devs->nr];
	slot->packed = -1;
	slot->spec = xstrdup(spec);
	slot->opt = xstrdup(what);
	if (!slot->spec || !slot->opt) {
		free(slot->spec);
		free(slot->opt);
		slot->spec = slot->opt = NULL;
		pr_err("%s: out of memory", what);
		return -ENOMEM;
	}
	devs->nr++;
	return 0;
}

/* The end of the field at @s: its first single ',' (",," is a comma), or NUL. */
static const char *vdev_field_end(const char *s)
{
	while (*s && (*s != ',' || s[1] == ','))
		s += *s == ',' ? 2 : 1;
	return s;
}

/* Append ",key=value..." from @attrs to @spec, renaming ifname= to path=. */
static int vdev_append_attrs(char *spec, size_t len, const char *attrs)
{
	size_t off = strlen(spec);

	while (attrs && *attrs) {
		const char *end = vdev_field_end(attrs);
		size_t n = (size_t)(end - attrs);
		int w;

		if (n >= 7 && !strncmp(attrs, "ifname=", 7))
			w = snprintf(spec + off, len - off, ",path=%.*s",
				     (int)(n - 7), attrs + 7);
		else
			w = snprintf(spec + off, len - off, ",%.*s", (int)n, attrs);
		if (w < 0 || (size_t)w >= len - off)
			return -E2BIG;
		off += (size_t)w;
		attrs = *end ? end + 1 : end;
	}
	return 0;
}

static int vdev_parse_net(struct virtio_devices *devs, const char *val)
{
	char spec[VDEV_SPEC_MAX + 1];
	const char *rest;
	int ret;

	if (!strcmp(val, "sim") || !strncmp(val, "sim,", 4)) {
		snprintf(spec, sizeof(spec), "net");
		rest = val[3] ? val + 4 : NULL;
	} else if (!strncmp(val, "tap=", 4) && val[4] && (val[4] != ',' || val[5] == ',')) {
		const char *comma = vdev_field_end(val + 4);

		snprintf(spec, sizeof(spec), "tap,path=%.*s",
			 (int)(comma - (val + 4)), val + 4);
		rest = *comma ? comma + 1 : NULL;
	} else {
		pr_err("--net %.64s: accepted forms: sim[,mac=M][,mtu=N][,max_vqp=N] or tap=IFNAME[,mac=M][,mtu=N][,max_vqp=N]",
		       val);
		return -EINVAL;
	}
	ret = vdev_append_attrs(spec, sizeof(spec), rest);
	if (ret) {
		pr_err("--net: value too long (at most %d characters)", VDEV_SPEC_MAX);
		return -EINVAL;
	}
	return vdev_add_spec(devs, "net", val, spec);
}

static int vdev_parse_disk(struct virtio_devices *devs, const char *val)
{
	char spec[VDEV_SPEC_MAX + 1];
	/* PATH stays escaped (",," for a comma): the spec uses the same form. */
	const char *comma = vdev_field_end(val);
	size_t off;
	int w;

	if (comma == val) {
		pr_err("--disk: accepted form PATH[,ro][,serial=S] (a comma in PATH is written ,,)");
		return -EINVAL;
	}
	w = snprintf(spec, sizeof(spec), "file-blk,path=%.*s",
		     (int)(comma - val), val);
	if (w < 0 || (size_t)w >= sizeof(spec))
		goto too_long;
	off = (size_t)w;
	while (*comma) {
		const char *opt = comma + 1;
		size_t n;

		comma = strchrnul(opt, ',');
		n = (size_t)(comma - opt);
		if (n == 2 && !strncmp(opt, "ro", 2)) {
			w = snprintf(spec + off, sizeof(spec) - off, ",ro=on");
		} else if ((n > 3 && !strncmp(opt, "ro=", 3)) ||
			   (n > 7 && !strncmp(opt, "serial=", 7))) {
			w = snprintf(spec + off, sizeof(spec) - off, ",%.*s",
				     (int)n, opt);
		} else {
			pr_err("--disk %.64s: unknown option '%.*s'; accepted form PATH[,ro][,serial=S]",
			       val, (int)MIN(n, (size_t)32), opt);
			return -EINVAL;
		}
		if (w < 0 || (size_t)w >= sizeof(spec) - off)
			goto too_long;
		off += (size_t)w;
	}
	return vdev_add_spec(devs, "disk", val, spec);

too_long:
	pr_err("--disk: value too long (at most %d characters)", VDEV_SPEC_MAX);
	return -EINVAL;
}

static int vdev_parse_device(struct virtio_devices *devs, const char *val)
{
	char spec[VDEV_SPEC_MAX + 1];
	const char *type, *end;

	if (strncmp(val, "vdpa,type=", 10) || !val[10] || val[10] == ',') {
		pr_err("--device %.64s: accepted form vdpa,type=TYPE[,key=value]... (types: net, blk, tap, file-blk, console, rng, balloon, vsock)",
		       val);
		return -EINVAL;
	}
	type = val + 10;
	end = strchrnul(type, ',');
	snprintf(spec, sizeof(spec), "%.*s", (int)MIN((size_t)(end - type), (size_t)64),
		 type);
	if (vdev_append_attrs(spec, sizeof(spec), *end ? end + 1 : NULL)) {
		pr_err("--device: value too long (at most %d characters)",
		       VDEV_SPEC_MAX);
		return -EINVAL;
	}
	return vdev_add_spec(devs, "device", val, spec);
}

/* Whether the fields of @val include "@key=...". */
static bool vdev_has_field(const char *val, const char *key)
{
	size_t n = strlen(key);

	for (const char *f = val; *f;) {
		const char *end = vdev_field_end(f);

		if ((size_t)(end - f) > n && !strncmp(f, key, n) && f[n] == '=')
			return true;
		f = *end ? end + 1 : end;
	}
	return false;
}

/* --vsock cid=N,uds=PATH[,max_conns=M]: the vsock type's own attributes. */
static int vdev_parse_vsock(struct virtio_devices *devs, const char *val)
{
	char spec[VDEV_SPEC_MAX + 1] = "vsock";

	/* Both are required: say so now, not when the machine is built. */
	if (!vdev_has_field(val, "cid") || !vdev_has_field(val, "uds")) {
		pr_err("--vsock %.64s: accepted form cid=N,uds=PATH[,max_conns=M] (N from 3)", val);
		return -EINVAL;
	}
	if (vdev_append_attrs(spec, sizeof(spec), val)) {
		pr_err("--vsock: value too long (at most %d characters)", VDEV_SPEC_MAX);
		return -EINVAL;
	}
	return vdev_add_spec(devs, "vsock", val, spec);
}

/* --balloon amount_mib=N,...: the balloon type's own attributes. */
static int vdev_parse_balloon(struct virtio_devices *devs, const char *val)
{
	char spec[VDEV_SPEC_MAX + 1];

	snprintf(spec, sizeof(spec), "balloon");
	if (vdev_append_attrs(spec, sizeof(spec), val)) {
		pr_err("--balloon: value too long (at most %d characters)", VDEV_SPEC_MAX);
		return -EINVAL;
	}
	return vdev_add_spec(devs, "balloon", val, spec);
}

static int __virtio_devices_parse_arg(struct virtio_devices *devs, const char *opt,
				      const char *val);

static int vdev_parse_transport(const char *opt, const char *val, size_t len,
				enum virtio_transport *t)
{
	if (len == 4 && !strncmp(val, "mmio", 4))
		*t = VIRTIO_TRANSPORT_MMIO;
	else if (len == 3 && !strncmp(val, "pci", 3))
		*t = VIRTIO_TRANSPORT_PCI;
	else {
		pr_err("%s: transport '%.*s': accepted values mmio or pci", opt,
		       (int)MIN(len, (size_t)16), val);
		return -EINVAL;
	}
	return 0;
}

static int vdev_parse_packed(const char *opt, const char *val, size_t len, int *packed)
{
	char word[8];
	bool on;

	if (len >= sizeof(word) || (memcpy(word, val, len), word[len] = '\0',
				     parse_bool(word, &on))) {
		pr_err("%s: packed '%.*s': accepted values on or off", opt,
		       (int)MIN(len, (size_t)16), val);
		return -EINVAL;
	}
	*packed = on;
	return 0;
}

/*
 * The transport's own fields of a device value, which the device type
 * never sees: transport=T and packed=on|off.
 */
struct vdev_transport_opts {
	enum virtio_transport transport;
	int packed;
};

/*
 * Copy @val into @out without its transport=T and packed=B fields (the
 * last of each wins into *@t). Return: 0, -EINVAL (a bad value, logged
 * naming @opt) or -E2BIG.
 */
static int vdev_take_transport(const char *opt, const char *val, char *out, size_t len,
			       struct vdev_transport_opts *t)
{
	size_t off = 0;

	*t = (struct vdev_transport_opts){ .transport = VIRTIO_TRANSPORT_AUTO, .packed = -1 };
	while (*val) {
		const char *end = vdev_field_end(val);
		size_t n = (size_t)(end - val);

		if (n > 10 && !strncmp(val, "transport=", 10)) {
			if (vdev_parse_transport(opt, val + 10, n - 10, &t->transport))
				return -EINVAL;
		} else if (n > 7 && !strncmp(val, "packed=", 7)) {
			if (vdev_parse_packed(opt, val + 7, n - 7, &t->packed))
				return -EINVAL;
		} else {
			if (off + n + 2 > len)
				return -E2BIG;
			if (off)
				out[off++] = ',';
			memcpy(out + off, val, n);
			off += n;
		}
		val = *end ? end + 1 : end;
	}
	out[off] = '\0';
	return 0;
}

int virtio_devices_parse_arg(struct virtio_devices *devs, const char *opt,
			     const char *val)
{
	char clean[VDEV_SPEC_MAX + 1];
	struct vdev_transport_opts t;
	unsigned int before;
	int ret;

	while (*opt == '-')
		opt++;
	if (!strcmp(opt, "transport")) {
		if (!val || vdev_parse_transport("--transport", val, strlen(val), &t.transport))
			return -EINVAL;
		devs->transport = t.transport;
		return 0;
	}
	if (!strcmp(opt, "packed")) {
		if (!val || vdev_parse_packed("--packed", val, strlen(val), &devs->packed))
			return -EINVAL;
		return 0;
	}
	if (val && strcmp(opt, "console") && strcmp(opt, "rng")) {
		ret = vdev_take_transport(opt, val, clean, sizeof(clean), &t);
		if (ret == -E2BIG)
			pr_err("--%s: value too long (at most %d characters)", opt, VDEV_SPEC_MAX);
		if (ret)
			return -EINVAL;
		before = devs->nr;
		ret = __virtio_devices_parse_arg(devs, opt, clean);
		if (!ret && devs->nr > before) {
			devs->slots[devs->nr - 1].transport = t.transport;
			devs->slots[devs->nr - 1].packed = t.packed;
		}
		return ret;
	}
	return __virtio_devices_parse_arg(devs, opt, val);
}

/* One device option, without transport= in its value. */
static int __virtio_devices_parse_arg(struct virtio_devices *devs, const char *opt,
				      const char *val)
{
	if (!strcmp(opt, "rng")) {
		if (val && *val) {
			pr_err("--rng takes no value");
			return -EINVAL;
		}
		return vdev_add_spec(devs, "rng", NULL, "rng");
	}
	if (strcmp(opt, "net") && strcmp(opt, "disk") && strcmp(opt, "device") &&
	    strcmp(opt, "console") && strcmp(opt, "balloon") && strcmp(opt, "vsock"))
		return -ENOENT;
	if (!val || !*val) {
		pr_err("--%s needs a value", opt);
		return -EINVAL;
	}
	if (!strcmp(opt, "net"))
		return vdev_parse_net(devs, val);
	if (!strcmp(opt, "disk"))
		return vdev_parse_disk(devs, val);
	if (!strcmp(opt, "device"))
		return vdev_parse_device(devs, val);
	if (!strcmp(opt, "balloon"))
		return vdev_parse_balloon(devs, val);
	if (!strcmp(opt, "vsock"))
		return vdev_parse_vsock(devs, val);

	if (!strcmp(val, "serial"))
		return 0;
	if (strcmp(val, "virtio")) {
		pr_err("--console %.32s: accepted forms serial or virtio", val);
		return -EINVAL;
	}
	if (devs->console_virtio) {
		pr_err("--console virtio given twice: stdin/stdout have one console");
		return -EINVAL;
	}
	devs->console_virtio = true;
	return vdev_add_spec(devs, "console", val, "console");
}

bool virtio_devices_console_is_virtio(const struct virtio_devices *devs)
{
	return devs->console_virtio;
}

/* What the listed devices' specs name, through @walk (files or sockets). */
struct vdev_walk {
	int (*file_fn)(const char *path, bool write, void *opaque);
	int (*socket_fn)(const char *path, void *opaque);
	void *opaque;
};

static int vdev_walk(const struct virtio_devices *devs, const struct vdev_walk *w)
{
	for (unsigned int n = 0; n < devs->nr; n++) {
		_Alignas(max_align_t) u8 config[VDPA_CONFIG_MAX];
		struct vdpa_mgmt_dev *mdev;
		int ret;

		/* Checked when it was added: parsing again says nothing. */
		ret = vdpa_mgmt_parse(devs->slots[n].spec, &mdev, config, sizeof(config));
		if (!ret && w->file_fn)
			ret = vdpa_mgmt_files(mdev, config, w->file_fn, w->opaque);
		if (!ret && w->socket_fn)
			ret = vdpa_mgmt_sockets(mdev, config, w->socket_fn, w->opaque);
		if (ret)
			return ret;
	}
	return 0;
}

int virtio_devices_for_each_file(const struct virtio_devices *devs,
				 int (*fn)(const char *path, bool write, void *opaque),
				 void *opaque)
{
	return vdev_walk(devs, &(struct vdev_walk){ .file_fn = fn, .opaque = opaque });
}

int virtio_devices_for_each_socket(const struct virtio_devices *devs,
				   int (*fn)(const char *path, void *opaque), void *opaque)
{
	return vdev_walk(devs, &(struct vdev_walk){ .socket_fn = fn, .opaque = opaque });
}

unsigned int virtio_devices_count(const struct virtio_devices *devs)
{
	return devs->nr;
}

void virtio_devices_resolve_transport(struct virtio_devices *devs, bool linux_guest)
{
	for (unsigned int n = 0; n < devs->nr; n++) {
		struct virtio_dev_slot *slot = &devs->slots[n];

		if (slot->transport != VIRTIO_TRANSPORT_AUTO)
			continue;
		if (devs->transport != VIRTIO_TRANSPORT_AUTO)
			slot->transport = devs->transport;
		else
			slot->transport = linux_guest ? VIRTIO_TRANSPORT_PCI : VIRTIO_TRANSPORT_MMIO;
	}
}

unsigned int virtio_devices_count_mmio(const struct virtio_devices *devs)
{
	unsigned int count = 0;

	for (unsigned int n = 0; n < devs->nr; n++)
		count += devs->slots[n].transport != VIRTIO_TRANSPORT_PCI;
	return count;
}

bool virtio_devices_have_pci(const struct virtio_devices *devs)
{
	return virtio_devices_count_mmio(devs) != devs->nr;
}

/* The slot's packed=, else --packed, else off, on its transport. */
static int vdev_set_packed(const struct virtio_devices *devs, struct virtio_dev_slot *slot)
{
	bool on = (slot->packed >= 0 ? slot->packed : devs->packed) > 0;
	int ret;

	if (!on)
		return 0;
	ret = slot->pci ? virtio_pci_set_packed(slot->pci, true) :
			  virtio_mmio_set_packed(slot->mmio, true);
	if (ret == -EOPNOTSUPP)
		pr_err("%s: packed=on: %s has no packed virtqueues", slot->opt, slot->vdpa->name);
	else if (ret)
		pr_err("%s: packed=on: %s", slot->opt, strerror(-ret));
	return ret ? -EINVAL : 0;
}

int virtio_devices_attach(struct virtio_devices *devs, struct vm *vm,
			  const struct boot_mmio_dev *place, struct pci_host *host)
{
	unsigned int k = 0;
	int ret;

	/* The mmio windows are handed out in list order, skipping PCI devices. */
	for (unsigned int n = 0; n < devs->nr_attached; n++)
		k += devs->slots[n].transport != VIRTIO_TRANSPORT_PCI;
	for (unsigned int n = devs->nr_attached; n < devs->nr; n++) {
		struct virtio_dev_slot *slot = &devs->slots[n];
		bool pci = slot->transport == VIRTIO_TRANSPORT_PCI;

		ret = vdpa_mgmt_dev_add(slot->spec, &slot->vdpa);
		if (ret) {
			pr_err("%s: cannot create the device: %s", slot->opt,
			       strerror(-ret));
			return ret;
		}
		if (pci && !host) {
			pr_err("%s: transport=pci: the machine has no PCI host bridge", slot->opt);
			return -EINVAL;
		}
		if (pci) {
			ret = virtio_pci_create(host, slot->vdpa, &slot->pci);
			if (ret) {
				pr_err("%s: cannot attach it to virtio-pci: %s", slot->opt,
				       strerror(-ret));
				return ret;
			}
			devs->nr_attached = n + 1;
			ret = vdev_set_packed(devs, slot);
			if (ret)
				return ret;
			pr_info("%s: %s on virtio-pci 00:%02x.0", slot->opt, slot->vdpa->name,
				virtio_pci_slot(slot->pci));
			continue;
		}
		ret = virtio_mmio_create(vm, slot->vdpa, place[k].base, place[k].irq, &slot->mmio);
		if (ret) {
			pr_err("%s: cannot attach it to virtio-mmio slot %u: %s",
			       slot->opt, k, strerror(-ret));
			return ret;
		}
		devs->nr_attached = n + 1;
		ret = vdev_set_packed(devs, slot);
		if (ret)
			return ret;
		pr_info("%s: %s on virtio-mmio 0x%llx, GSI %u", slot->opt,
			slot->vdpa->name, (unsigned long long)place[k].base, place[k].irq);
		k++;
	}
	return 0;
}

void virtio_devices_detach(struct virtio_devices *devs)
{
	for (unsigned int n = devs->nr; n-- > 0;) {
		struct virtio_dev_slot *slot = &devs->slots[n];

		virtio_mmio_destroy(slot->mmio);
		virtio_pci_destroy(slot->pci);
		if (slot->vdpa)
			vdpa_mgmt_dev_del(slot->vdpa);
		slot->mmio = NULL;
		slot->pci = NULL;
		slot->vdpa = NULL;
	}
	devs->nr_attached = 0;
}

void virtio_devices_destroy(struct virtio_devices *devs)
{
	if (!devs)
		return;
	virtio_devices_detach(devs);
	for (unsigned int n = 0; n < devs->nr; n++) {
		free(devs->slots[n].spec);
		free(devs->slots[n].opt);
		free(devs->slots[n].label);
	}
	free(devs);
}

/* ---- snapshots (docs/snapshot.md) --------------------------------------------- */

int virtio_devices_suspend(struct virtio_devices *devs)
{
	for (unsigned int n = 0; n < devs->nr_attached; n++) {
		struct vdpa_device *vdpa = devs->slots[n].vdpa;
		int ret;

		if (!vdpa_can_suspend(vdpa)) {
			pr_err("%s: %s cannot be suspended", devs->slots[n].opt, vdpa->name);
			ret = -EOPNOTSUPP;
		} else {
			ret = vdpa_suspend(vdpa);
		}
		if (ret) {
			while (n-- > 0)
				vdpa_resume(devs->slots[n].vdpa);
			return ret;
		}
	}
	return 0;
}

void virtio_devices_resume(struct virtio_devices *devs)
{
	for (unsigned int n = 0; n < devs->nr_attached; n++)
		vdpa_resume(devs->slots[n].vdpa);
}

/*
 * The spec a device is restored from: its own, but a balloon's with the
 * target it has now (the host may have changed it since creation), so the
 * restored guest keeps its balloon where it was (docs/balloon.md).
 */
static int vdev_saved_spec(const struct virtio_dev_slot *slot, char *out, size_t len)
{
	struct vdpa_balloon_info info;
	const char *f = strchr(slot->spec, ',');
	size_t off;
	int w;

	if (vdpa_get_device_id(slot->vdpa) != VIRTIO_ID_BALLOON ||
	    vdpa_balloon_get_info(slot->vdpa, &info))
		return snprintf(out, len, "%s", slot->spec) < (int)len ? 0 : -E2BIG;
	off = (size_t)snprintf(out, len, "balloon");
	while (f && *f) {
		const char *end = vdev_field_end(++f);

		if (strncmp(f, "amount_mib=", 11)) {
			w = snprintf(out + off, len - off, ",%.*s", (int)(end - f), f);
			if (w < 0 || (size_t)w >= len - off)
				return -E2BIG;
			off += (size_t)w;
		}
		f = end;
	}
	/* 256 pages of 4 KiB a MiB: the target is always set in whole MiB. */
	w = snprintf(out + off, len - off, ",amount_mib=%u", info.target_pages / 256);
	return w < 0 || (size_t)w >= len - off ? -E2BIG : 0;
}

/* SNAP_SEC_VIRTIO_STATE: what the driver set in the device (its control queue), if any. */
static int vdev_state_save(struct virtio_dev_slot *slot, struct snap_writer *w, unsigned int n)
{
	u8 buf[VDPA_DEV_STATE_MAX];
	ssize_t len = vdpa_get_dev_state(slot->vdpa, buf, sizeof(buf));

	if (len <= 0)
		return (int)len;
	return snap_write_section(w, SNAP_SEC_VIRTIO_STATE, n, buf, (size_t)len);
}

int virtio_devices_snapshot_save(struct virtio_devices *devs, struct snap_writer *w)
{
	char spec[VDEV_SPEC_MAX + 64];
	int ret = 0;

	if (virtio_devices_have_pci(devs))
		return -EOPNOTSUPP;	/* machine.c says why before it gets here */

	for (unsigned int n = 0; !ret && n < devs->nr_attached; n++) {
		struct virtio_dev_slot *slot = &devs->slots[n];

		ret = vdev_saved_spec(slot, spec, sizeof(spec));
		if (!ret)
			ret = snap_write_section(w, SNAP_SEC_VIRTIO_DEV, n, spec, strlen(spec) + 1);
		if (!ret && slot->label)
			ret = snap_write_section(w, SNAP_SEC_VIRTIO_LABEL, n, slot->label,
						 strlen(slot->label) + 1);
		if (!ret)
			ret = virtio_mmio_snapshot_save(slot->mmio, w, n);
		if (!ret)
			ret = vdev_state_save(slot, w, n);
	}
	return ret;
}

int virtio_devices_set_label(struct virtio_devices *devs, const char *label)
{
	struct virtio_dev_slot *slot;

	if (!devs->nr)
		return -EINVAL;
	slot = &devs->slots[devs->nr - 1];
	free(slot->label);
	slot->label = xstrdup(label);
	return slot->label ? 0 : -ENOMEM;
}

/* A saved string section: NUL-terminated, no NUL inside, at most 4 KiB. */
static const char *vdev_saved_string(struct snap_reader *r, u32 type, unsigned int n,
				     bool *bad)
{
	const char *s;
	const void *data;
	size_t len;

	*bad = false;
	if (snap_read_section(r, type, n, &data, &len))
		return NULL;
	s = data;
	if (!len || len > 4096 || s[len - 1] || strlen(s) != len - 1) {
		*bad = true;
		return NULL;
	}
	return s;
}

/*
 * @spec with its path= value replaced by @o->to (escaped) into @out, if
 * @o applies to it: the device kind matches and its path (unescaped) or
 * @label is @o->from. Return: 1 rewritten, 0 not this device, -E2BIG.
 */
static int vdev_override_spec(const char *spec, const char *label,
			      const struct vdev_override *o, char *out, size_t len)
{
	const char *type_end = vdev_field_end(spec), *f, *end;
	char val[VDEV_SPEC_MAX + 1], esc[VDEV_SPEC_MAX + 1];
	bool tap = (size_t)(type_end - spec) == 3 && !strncmp(spec, "tap", 3);
	size_t n;

	if (tap != o->tap)
		return 0;
	for (f = *type_end ? type_end + 1 : type_end; *f; f = *end ? end + 1 : end) {
		end = vdev_field_end(f);
		if (strncmp(f, "path=", 5))
			continue;
		n = 0;
		for (const char *c = f + 5; c < end; c += *c == ',' ? 2 : 1)
			val[n++] = *c;
		val[n] = '\0';
		if (strcmp(o->by_label ? (label ? label : "") : val, o->from))
			return 0;
		if (vdpa_mgmt_escape(o->to, esc, sizeof(esc)))
			return -E2BIG;
		n = (size_t)snprintf(out, len, "%.*s%s%s", (int)(f + 5 - spec), spec, esc, end);
		return n < len ? 1 : -E2BIG;
	}
	return 0;
}

int virtio_devices_from_snapshot(struct virtio_devices *devs, struct snap_reader *r,
				 struct vdev_override *overrides, unsigned int nr_overrides)
{
	char buf[VDEV_SPEC_MAX + 1];

	for (unsigned int n = 0;; n++) {
		const char *spec, *label;
		bool bad, bad_label;
		int ret;

		spec = vdev_saved_string(r, SNAP_SEC_VIRTIO_DEV, n, &bad);
		label = vdev_saved_string(r, SNAP_SEC_VIRTIO_LABEL, n, &bad_label);
		if (bad || bad_label) {
			pr_err("snapshot: virtio device %u: not a device spec or label", n);
			return -EINVAL;
		}
		if (!spec)
			break;
		for (unsigned int i = 0; i < nr_overrides; i++) {
			ret = vdev_override_spec(spec, label, &overrides[i], buf, sizeof(buf));
			if (ret < 0) {
				pr_err("snapshot: virtio device %u: the new path %.64s is too long",
				       n, overrides[i].to);
				return ret;
			}
			if (ret) {
				overrides[i].used = true;
				spec = buf;
				break;
			}
		}
		if (!strncmp(spec, "console", 7) && (spec[7] == ',' || !spec[7]))
			devs->console_virtio = true;
		/* Named in log lines as the equivalent option: --device SPEC. */
		ret = vdev_add_spec(devs, "device", spec, spec);
		/* Only virtio-mmio devices are ever saved (docs/pci.md). */
		if (!ret)
			devs->slots[devs->nr - 1].transport = VIRTIO_TRANSPORT_MMIO;
		if (!ret && label)
			ret = virtio_devices_set_label(devs, label);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; i < nr_overrides; i++) {
		if (!overrides[i].used) {
			pr_err("snapshot: no saved %s %s %.256s to override",
			       overrides[i].tap ? "TAP interface" : "disk",
			       overrides[i].by_label ? "with id" : "at", overrides[i].from);
			return -ENOENT;
		}
	}
	return 0;
}

/* Why vdpa_set_dev_state() refused a saved state. */
static const char *vdev_state_refusal(int err)
{
	switch (err) {
	case -EBADMSG:
		return "truncated, or not the length of its version";
	case -EPROTONOSUPPORT:
		return "a version this kestrel does not know";
	case -EINVAL:
		return "a value its driver could not have set";
	case -EBUSY:
		return "its driver had not negotiated features";
	case -EOPNOTSUPP:
		return "this device keeps no such state";
	default:
		return strerror(-err);
	}
}

/*
 * After the transport, whose replay negotiated the features the state
 * depends on. A snapshot without the section (written before devices
 * kept one, or of a device with nothing to keep) leaves the device as
 * reset made it.
 */
static int vdev_state_restore(struct virtio_dev_slot *slot, struct snap_reader *r,
			      unsigned int n, char *err, size_t errlen)
{
	const void *data;
	size_t len;
	int ret;

	if (snap_read_section(r, SNAP_SEC_VIRTIO_STATE, n, &data, &len))
		return 0;
	ret = vdpa_set_dev_state(slot->vdpa, data, len);
	if (ret)
		snprintf(err, errlen, "virtio device %u (%s): its saved device state is refused: %s",
			 n, slot->vdpa->name, vdev_state_refusal(ret));
	return ret;
}

int virtio_devices_snapshot_restore(struct virtio_devices *devs, struct snap_reader *r,
				    char *err, size_t errlen)
{
	int ret = 0;

	for (unsigned int n = 0; !ret && n < devs->nr_attached; n++) {
		if (!devs->slots[n].mmio) {
			snprintf(err, errlen, "virtio device %u is not on virtio-mmio: not restorable", n);
			return -EINVAL;
		}
		ret = virtio_mmio_snapshot_restore(devs->slots[n].mmio, r, n, err, errlen);
		if (!ret)
			ret = vdev_state_restore(&devs->slots[n], r, n, err, errlen);
	}
	return ret;
}
