// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vDPA bus: device registration (with ops-table validation), the bus
 * list, and the locked wrappers that keep the virtio status state machine
 * (virtio 1.2 §2.1, §3.1.1) no matter which consumer drives the device.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>

#include <kestrel/log.h>
#include <kestrel/vdpa.h>

/* Status bits a driver may write (virtio 1.2 §2.1). */
#define VDPA_DRIVER_STATUS_BITS						\
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |		\
	 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK |	\
	 VIRTIO_CONFIG_S_FAILED)

/* Largest split-ring size (virtio 1.2 §2.7: Queue Size ≤ 32768). */
#define VDPA_VQ_NUM_LIMIT	32768u

static pthread_mutex_t bus_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vdpa_device *bus_list;	/* bus_list_lock */

/* ---- registration ----------------------------------------------------- */

#define VDPA_REQUIRE_OP(ops, op)					\
	do {								\
		if (!(ops)->op) {					\
			pr_err("vdpa: ops table lacks mandatory op " #op); \
			return -EINVAL;					\
		}							\
	} while (0)

#define VDPA_REQUIRE_PAIR(ops, a, b)					\
	do {								\
		if (!(ops)->a != !(ops)->b) {				\
			pr_err("vdpa: ops " #a " and " #b		\
			       " must be provided together");		\
			return -EINVAL;					\
		}							\
	} while (0)

int vdpa_ops_validate(const struct vdpa_config_ops *ops, u32 nas, u32 ngroups)
{
	if (!ops)
		return -EINVAL;

	VDPA_REQUIRE_OP(ops, set_vq_address);
	VDPA_REQUIRE_OP(ops, set_vq_num);
	VDPA_REQUIRE_OP(ops, kick_vq);
	VDPA_REQUIRE_OP(ops, set_vq_cb);
	VDPA_REQUIRE_OP(ops, set_vq_ready);
	VDPA_REQUIRE_OP(ops, get_vq_ready);
	VDPA_REQUIRE_OP(ops, set_vq_state);
	VDPA_REQUIRE_OP(ops, get_vq_state);
	VDPA_REQUIRE_OP(ops, get_vq_num_max);
	VDPA_REQUIRE_OP(ops, get_vq_align);
	VDPA_REQUIRE_OP(ops, get_device_features);
	VDPA_REQUIRE_OP(ops, set_driver_features);
	VDPA_REQUIRE_OP(ops, get_driver_features);
	VDPA_REQUIRE_OP(ops, set_config_cb);
	VDPA_REQUIRE_OP(ops, get_status);
	VDPA_REQUIRE_OP(ops, set_status);
	VDPA_REQUIRE_OP(ops, reset);
	VDPA_REQUIRE_OP(ops, get_config_size);
	VDPA_REQUIRE_OP(ops, get_config);
	VDPA_REQUIRE_OP(ops, set_config);
	VDPA_REQUIRE_OP(ops, get_device_id);
	VDPA_REQUIRE_OP(ops, get_vendor_id);
	VDPA_REQUIRE_OP(ops, free);

	VDPA_REQUIRE_PAIR(ops, dma_map, dma_unmap);
	VDPA_REQUIRE_PAIR(ops, suspend, resume);
	VDPA_REQUIRE_PAIR(ops, get_vq_group, set_group_asid);
	VDPA_REQUIRE_PAIR(ops, get_dev_state, set_dev_state);

	if ((ops->dma_map || ops->set_map) && !ops->get_iova_range) {
		pr_err("vdpa: DMA ops need get_iova_range");
		return -EINVAL;
	}
	/* A device with several address spaces must say how to fill them. */
	if (nas > 1 && !ops->dma_map && !ops->set_map) {
		pr_err("vdpa: %u address spaces but no DMA op", nas);
		return -EINVAL;
	}
	if ((nas > 1 || ngroups > 1) && !ops->set_group_asid) {
		pr_err("vdpa: groups/address spaces need set_group_asid");
		return -EINVAL;
	}
	return 0;
}

static bool vdpa_name_valid(const char *name)
{
	size_t len = strnlen(name, VDPA_NAME_MAX);

	if (len == 0 || len >= VDPA_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

/* Caller holds bus_list_lock. */
static struct vdpa_device *__vdpa_find_device(const char *name)
{
	for (struct vdpa_device *d = bus_list; d; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

int vdpa_register_device(struct vdpa_device *vdpa,
			 const struct vdpa_config_ops *ops,
			 const struct vdpa_device_attr *attr)
{
	u32 ngroups, nas;
	int ret;

	if (!vdpa || !attr)
		return -EINVAL;
	ngroups = attr->ngroups ? attr->ngroups : 1;
	nas = attr->nas ? attr->nas : 1;
	if (attr->nvqs == 0 || attr->nvqs > 0xffff) {
		pr_err("vdpa: bad queue count %u (1..65535)", attr->nvqs);
		return -EINVAL;
	}
	if (ngroups > attr->nvqs || nas > 64) {
		pr_err("vdpa: bad group/address-space count %u/%u", ngroups,
		       nas);
		return -EINVAL;
	}
	ret = vdpa_ops_validate(ops, nas, ngroups);
	if (ret)
		return ret;
	if (attr->inflight && !ops->set_vq_inflight) {
		pr_err("vdpa: records requests in flight without set_vq_inflight");
		return -EINVAL;
	}
	if (attr->name && attr->name[0] && !vdpa_name_valid(attr->name)) {
		pr_err("vdpa: bad device name (1..%d of [A-Za-z0-9._-])",
		       VDPA_NAME_MAX - 1);
		return -EINVAL;
	}

	vdpa->config = ops;
	vdpa->nvqs = attr->nvqs;
	vdpa->ngroups = ngroups;
	vdpa->nas = nas;
	vdpa->inflight = attr->inflight;
	vdpa->suspended = false;
	vdpa->config_cb = (struct vdpa_callback){ 0 };
	vdpa->needs_reset = 0;
	vdpa->error_count = 0;
	vdpa->err_rl = (struct ratelimit)RATELIMIT_INIT;

	pthread_mutex_lock(&bus_list_lock);
	if (attr->name && attr->name[0]) {
		if (__vdpa_find_device(attr->name)) {
			pthread_mutex_unlock(&bus_list_lock);
			pr_err("vdpa: device name '%s' already in use",
			       attr->name);
			return -EEXIST;
		}
		snprintf(vdpa->name, sizeof(vdpa->name), "%s", attr->name);
	} else {
		for (unsigned int n = 0;; n++) {
			snprintf(vdpa->name, sizeof(vdpa->name), "vdpa%u", n);
			if (!__vdpa_find_device(vdpa->name))
				break;
		}
	}
	pthread_mutex_init(&vdpa->lock, NULL);
	pthread_mutex_init(&vdpa->cb_lock, NULL);
	vdpa->registered = true;
	vdpa->next = bus_list;
	bus_list = vdpa;
	pthread_mutex_unlock(&bus_list_lock);
	pr_debug("%s: registered, %u queues, %u groups, %u address spaces",
		 vdpa->name, vdpa->nvqs, vdpa->ngroups, vdpa->nas);
	return 0;
}

void vdpa_unregister_device(struct vdpa_device *vdpa)
{
	if (!vdpa)
		return;
	pthread_mutex_lock(&bus_list_lock);
	for (struct vdpa_device **p = &bus_list; *p; p = &(*p)->next) {
		if (*p == vdpa) {
			*p = vdpa->next;
			break;
		}
	}
	vdpa->registered = false;
	vdpa->next = NULL;
	pthread_mutex_unlock(&bus_list_lock);

	/* Stop the datapath before the memory behind it goes. */
	pthread_mutex_lock(&vdpa->lock);
	vdpa->config->reset(vdpa);
	pthread_mutex_unlock(&vdpa->lock);

	pthread_mutex_destroy(&vdpa->cb_lock);
	pthread_mutex_destroy(&vdpa->lock);
	vdpa->config->free(vdpa);
}

struct vdpa_device *vdpa_find_device(const char *name)
{
	struct vdpa_device *d;

	if (!name)
		return NULL;
	pthread_mutex_lock(&bus_list_lock);
	d = __vdpa_find_device(name);
	pthread_mutex_unlock(&bus_list_lock);
	return d;
}

int vdpa_for_each_device(int (*fn)(struct vdpa_device *vdpa, void *opaque),
			 void *opaque)
{
	int ret = 0;

	pthread_mutex_lock(&bus_list_lock);
	for (struct vdpa_device *d = bus_list; d && !ret; d = d->next)
		ret = fn(d, opaque);
	pthread_mutex_unlock(&bus_list_lock);
	return ret;
}

/* ---- device errors ---------------------------------------------------- */

void vdpa_device_error(struct vdpa_device *vdpa, const char *fmt, ...)
{
	struct vdpa_callback cb;
	char why[192];
	va_list ap;
	bool first;

	first = !__atomic_exchange_n(&vdpa->needs_reset, 1, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&vdpa->error_count, 1, __ATOMIC_RELAXED);

	if (ratelimit_allow(&vdpa->err_rl)) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		pr_err("%s: %s; device needs reset", vdpa->name, why);
	}
	if (!first)
		return;
	/* virtio 1.2 §2.1.2: NEEDS_RESET is announced as a config change. */
	pthread_mutex_lock(&vdpa->cb_lock);
	cb = vdpa->config_cb;
	pthread_mutex_unlock(&vdpa->cb_lock);
	vdpa_callback_call(&cb);
}

/* ---- status, features, reset ------------------------------------------ */

static u8 __vdpa_get_status(struct vdpa_device *vdpa)
{
	u8 status = vdpa->config->get_status(vdpa);

	if (vdpa_needs_reset(vdpa))
		status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	return status;
}

/* Caller holds vdpa->lock. */
static int __vdpa_reset(struct vdpa_device *vdpa)
{
	int ret = vdpa->config->reset(vdpa);

	vdpa->suspended = false;
	__atomic_store_n(&vdpa->needs_reset, 0, __ATOMIC_RELEASE);
	return ret;
}

/* Caller holds vdpa->lock. */
static int __vdpa_set_status(struct vdpa_device *vdpa, u8 status)
{
	const struct vdpa_config_ops *ops = vdpa->config;
	u8 old, added;

	if (status == 0)
		return __vdpa_reset(vdpa);
	if (status & ~VDPA_DRIVER_STATUS_BITS)
		return -EINVAL;
	old = ops->get_status(vdpa) & VDPA_DRIVER_STATUS_BITS;
	/* virtio 1.2 §2.1.1: only a reset clears status bits. */
	if (old & ~status)
		return -EINVAL;
	added = status & ~old;
	if (!added)
		return 0;
	/* virtio 1.2 §3.1.1: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK. */
	if ((added & VIRTIO_CONFIG_S_DRIVER) &&
	    !(status & VIRTIO_CONFIG_S_ACKNOWLEDGE))
		return -EINVAL;
	if ((added & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(status & VIRTIO_CONFIG_S_DRIVER))
		return -EINVAL;
	/* DRIVER_OK only after FEATURES_OK was set *and kept*. */
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK))
		return -EINVAL;

	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		u64 drv = ops->get_driver_features(vdpa);
		u64 dev = ops->get_device_features(vdpa);

		/*
		 * kestrel's devices are modern only (virtio 1.2 §6.1: a
		 * device may fail FEATURES_OK without VERSION_1); a subset
		 * of the offer is guaranteed by vdpa_set_features() but
		 * checked again in case the device changed its offer.
		 */
		if (!(drv & (1ULL << VIRTIO_F_VERSION_1)) || (drv & ~dev))
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	ops->set_status(vdpa, status);
	return 0;
}

u8 vdpa_get_status(struct vdpa_device *vdpa)
{
	u8 status;

	pthread_mutex_lock(&vdpa->lock);
	status = __vdpa_get_status(vdpa);
	pthread_mutex_unlock(&vdpa->lock);
	return status;
}

int vdpa_set_status(struct vdpa_device *vdpa, u8 status)
{
	int ret;

	pthread_mutex_lock(&vdpa->lock);
	ret = __vdpa_set_status(vdpa, status);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_reset(struct vdpa_device *vdpa)
{
	int ret;

	pthread_mutex_lock(&vdpa->lock);
	ret = __vdpa_reset(vdpa);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_features_ok(struct vdpa_device *vdpa)
{
	u8 status;
	int ret;

	pthread_mutex_lock(&vdpa->lock);
	status = vdpa->config->get_status(vdpa);
	ret = __vdpa_set_status(vdpa, status | VIRTIO_CONFIG_S_FEATURES_OK);
	if (!ret && !(vdpa->config->get_status(vdpa) &
		      VIRTIO_CONFIG_S_FEATURES_OK))
		ret = -ENOTSUP;
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

u64 vdpa_get_device_features(struct vdpa_device *vdpa)
{
	u64 f;

	pthread_mutex_lock(&vdpa->lock);
	f = vdpa->config->get_device_features(vdpa);
	pthread_mutex_unlock(&vdpa->lock);
	return f;
}

u64 vdpa_get_driver_features(struct vdpa_device *vdpa)
{
	u64 f;

	pthread_mutex_lock(&vdpa->lock);
	f = vdpa->config->get_driver_features(vdpa);
	pthread_mutex_unlock(&vdpa->lock);
	return f;
}

int vdpa_set_features(struct vdpa_device *vdpa, u64 features)
{
	const struct vdpa_config_ops *ops = vdpa->config;
	int ret;

	pthread_mutex_lock(&vdpa->lock);
	/* virtio 1.2 §3.1.1: features are fixed once FEATURES_OK is set. */
	if (ops->get_status(vdpa) & VIRTIO_CONFIG_S_FEATURES_OK)
		ret = -EBUSY;
	else if (features & ~ops->get_device_features(vdpa))
		ret = -EINVAL;	/* §2.2.1: never accept what was not offered */
	else
		ret = ops->set_driver_features(vdpa, features);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

/* ---- config space ----------------------------------------------------- */

static bool vdpa_config_range_ok(struct vdpa_device *vdpa,
				 unsigned int offset, unsigned int len)
{
	size_t size = vdpa->config->get_config_size(vdpa);

	return offset <= size && len <= size - offset;
}

int vdpa_get_config(struct vdpa_device *vdpa, unsigned int offset,
		    void *buf, unsigned int len)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&vdpa->lock);
	if (vdpa_config_range_ok(vdpa, offset, len)) {
		vdpa->config->get_config(vdpa, offset, buf, len);
		ret = 0;
	}
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_set_config(struct vdpa_device *vdpa, unsigned int offset,
		    const void *buf, unsigned int len)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&vdpa->lock);
	if (vdpa_config_range_ok(vdpa, offset, len)) {
		vdpa->config->set_config(vdpa, offset, buf, len);
		ret = 0;
	}
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

size_t vdpa_get_config_size(struct vdpa_device *vdpa)
{
	size_t size;

	pthread_mutex_lock(&vdpa->lock);
	size = vdpa->config->get_config_size(vdpa);
	pthread_mutex_unlock(&vdpa->lock);
	return size;
}

u32 vdpa_get_generation(struct vdpa_device *vdpa)
{
	u32 gen = 0;

	pthread_mutex_lock(&vdpa->lock);
	if (vdpa->config->get_generation)
		gen = vdpa->config->get_generation(vdpa);
	pthread_mutex_unlock(&vdpa->lock);
	return gen;
}

void vdpa_set_config_cb(struct vdpa_device *vdpa,
			const struct vdpa_callback *cb)
{
	struct vdpa_callback none = { 0 };

	if (!cb)
		cb = &none;
	pthread_mutex_lock(&vdpa->lock);
	pthread_mutex_lock(&vdpa->cb_lock);
	vdpa->config_cb = *cb;
	pthread_mutex_unlock(&vdpa->cb_lock);
	vdpa->config->set_config_cb(vdpa, cb);
	pthread_mutex_unlock(&vdpa->lock);
}

u32 vdpa_get_device_id(struct vdpa_device *vdpa)
{
	return vdpa->config->get_device_id(vdpa);
}

u32 vdpa_get_vendor_id(struct vdpa_device *vdpa)
{
	return vdpa->config->get_vendor_id(vdpa);
}

/* ---- virtqueues ------------------------------------------------------- */

u32 vdpa_get_vq_num_max(struct vdpa_device *vdpa)
{
	return vdpa->config->get_vq_num_max(vdpa);
}

u32 vdpa_get_vq_num_min(struct vdpa_device *vdpa)
{
	u32 min = 1;

	if (vdpa->config->get_vq_num_min)
		min = vdpa->config->get_vq_num_min(vdpa);
	return min ? min : 1;
}

u32 vdpa_get_vq_align(struct vdpa_device *vdpa)
{
	return vdpa->config->get_vq_align(vdpa);
}

/*
 * May queue @idx be (re)configured now? Caller holds vdpa->lock.
 * virtio 1.2 §3.1.1 step 7 configures queues before DRIVER_OK; a suspended
 * device may have a *disabled* queue reconfigured (vhost-user restart).
 */
static int vdpa_vq_setup_allowed(struct vdpa_device *vdpa, u16 idx)
{
	if (idx >= vdpa->nvqs)
		return -EINVAL;
	if (vdpa->config->get_vq_ready(vdpa, idx))
		return -EBUSY;
	if ((vdpa->config->get_status(vdpa) & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !vdpa->suspended)
		return -EBUSY;
	return 0;
}

int vdpa_set_vq_address(struct vdpa_device *vdpa, u16 idx, u64 desc_area,
			u64 driver_area, u64 device_area)
{
	int ret;

	/* virtio 1.2 §2.7: descriptor table 16, avail 2, used 4 bytes. */
	if (!IS_ALIGNED(desc_area, 16) || !IS_ALIGNED(driver_area, 2) ||
	    !IS_ALIGNED(device_area, 4))
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa_vq_setup_allowed(vdpa, idx);
	if (!ret)
		ret = vdpa->config->set_vq_address(vdpa, idx, desc_area,
						   driver_area, device_area);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_set_vq_num(struct vdpa_device *vdpa, u16 idx, u32 num)
{
	const struct vdpa_config_ops *ops = vdpa->config;
	u32 min = vdpa_get_vq_num_min(vdpa);
	bool packed;
	int ret;

	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa_vq_setup_allowed(vdpa, idx);
	if (ret)
		goto out_unlock;
	packed = ops->get_driver_features(vdpa) & (1ULL << VIRTIO_F_RING_PACKED);
	if (num < min || num > ops->get_vq_num_max(vdpa) ||
	    num > VDPA_VQ_NUM_LIMIT || (!packed && (num & (num - 1)))) {
		ret = -EINVAL;
		goto out_unlock;
	}
	ret = ops->set_vq_num(vdpa, idx, num);
out_unlock:
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_set_vq_ready(struct vdpa_device *vdpa, u16 idx, bool ready)
{
	int ret;

	if (idx >= vdpa->nvqs)
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	if (ready && vdpa_needs_reset(vdpa))
		ret = -EIO;
	else
		ret = vdpa->config->set_vq_ready(vdpa, idx, ready);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

bool vdpa_get_vq_ready(struct vdpa_device *vdpa, u16 idx)
{
	bool ready;

	if (idx >= vdpa->nvqs)
		return false;
	pthread_mutex_lock(&vdpa->lock);
	ready = vdpa->config->get_vq_ready(vdpa, idx);
	pthread_mutex_unlock(&vdpa->lock);
	return ready;
}

int vdpa_set_vq_state(struct vdpa_device *vdpa, u16 idx,
		      const struct vdpa_vq_state *state)
{
	int ret;

	if (!state)
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa_vq_setup_allowed(vdpa, idx);
	if (!ret)
		ret = vdpa->config->set_vq_state(vdpa, idx, state);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_set_vq_inflight(struct vdpa_device *vdpa, u16 idx, void *region,
			 size_t size)
{
	int ret;

	if (!vdpa->inflight)
		return -EOPNOTSUPP;
	if (region && size < sizeof(struct vdpa_inflight_split))
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa_vq_setup_allowed(vdpa, idx);
	if (!ret)
		ret = vdpa->config->set_vq_inflight(vdpa, idx, region, size);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

bool vdpa_has_inflight(const struct vdpa_device *vdpa)
{
	return vdpa->inflight;
}

int vdpa_get_vq_state(struct vdpa_device *vdpa, u16 idx,
		      struct vdpa_vq_state *state)
{
	int ret;

	if (idx >= vdpa->nvqs || !state)
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa->config->get_vq_state(vdpa, idx, state);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_set_vq_cb(struct vdpa_device *vdpa, u16 idx,
		   const struct vdpa_callback *cb)
{
	struct vdpa_callback none = { 0 };

	if (idx >= vdpa->nvqs)
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	vdpa->config->set_vq_cb(vdpa, idx, cb ? cb : &none);
	pthread_mutex_unlock(&vdpa->lock);
	return 0;
}

int vdpa_set_vq_kickfd(struct vdpa_device *vdpa, u16 idx, int fd)
{
	int ret;

	if (!vdpa->config->set_vq_kickfd)
		return -EOPNOTSUPP;
	if (idx >= vdpa->nvqs || fd < -1)
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa->config->set_vq_kickfd(vdpa, idx, fd);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

void vdpa_kick_vq(struct vdpa_device *vdpa, u16 idx)
{
	if (likely(idx < vdpa->nvqs))
		vdpa->config->kick_vq(vdpa, idx);
}

int vdpa_get_vq_stats(struct vdpa_device *vdpa, u16 idx,
		      struct vdpa_vq_stats *stats)
{
	if (!vdpa->config->get_vq_stats)
		return -EOPNOTSUPP;
	if (idx >= vdpa->nvqs || !stats)
		return -EINVAL;
	return vdpa->config->get_vq_stats(vdpa, idx, stats);
}

u32 vdpa_get_vq_group(struct vdpa_device *vdpa, u16 idx)
{
	if (!vdpa->config->get_vq_group || idx >= vdpa->nvqs)
		return 0;
	return vdpa->config->get_vq_group(vdpa, idx);
}

int vdpa_set_group_asid(struct vdpa_device *vdpa, u32 group, u32 asid)
{
	int ret;

	if (!vdpa->config->set_group_asid)
		return -EOPNOTSUPP;
	if (group >= vdpa->ngroups || asid >= vdpa->nas)
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	if ((vdpa->config->get_status(vdpa) & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !vdpa->suspended)
		ret = -EBUSY;
	else
		ret = vdpa->config->set_group_asid(vdpa, group, asid);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

/* ---- suspend / resume ------------------------------------------------- */

bool vdpa_can_suspend(const struct vdpa_device *vdpa)
{
	return vdpa->config->suspend != NULL;
}

int vdpa_suspend(struct vdpa_device *vdpa)
{
	int ret = 0;

	if (!vdpa->config->suspend)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vdpa->lock);
	if (!vdpa->suspended) {
		ret = vdpa->config->suspend(vdpa);
		if (!ret)
			vdpa->suspended = true;
	}
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_resume(struct vdpa_device *vdpa)
{
	int ret;

	if (!vdpa->config->resume)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vdpa->lock);
	if (!vdpa->suspended) {
		ret = -EINVAL;
	} else {
		ret = vdpa->config->resume(vdpa);
		if (!ret)
			vdpa->suspended = false;
	}
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

ssize_t vdpa_get_dev_state(struct vdpa_device *vdpa, void *buf, size_t size)
{
	ssize_t ret = 0;

	if (!vdpa->config->get_dev_state)
		return 0;
	pthread_mutex_lock(&vdpa->lock);
	/* Before FEATURES_OK the driver has set nothing: the reset state. */
	if (vdpa->config->get_status(vdpa) & VIRTIO_CONFIG_S_FEATURES_OK)
		ret = vdpa->config->get_dev_state(vdpa, buf,
						  MIN(size, (size_t)VDPA_DEV_STATE_MAX));
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_set_dev_state(struct vdpa_device *vdpa, const void *buf, size_t len)
{
	int ret;

	if (!vdpa->config->set_dev_state)
		return -EOPNOTSUPP;
	if (!len || len > VDPA_DEV_STATE_MAX)
		return -EBADMSG;
	pthread_mutex_lock(&vdpa->lock);
	/* What the state may hold depends on the negotiated features. */
	if (!(vdpa->config->get_status(vdpa) & VIRTIO_CONFIG_S_FEATURES_OK))
		ret = -EBUSY;
	else
		ret = vdpa->config->set_dev_state(vdpa, buf, len);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

/* ---- DMA -------------------------------------------------------------- */

struct vdpa_iova_range vdpa_get_iova_range(struct vdpa_device *vdpa)
{
	struct vdpa_iova_range r = { .first = 0, .last = UINT64_MAX };

	if (vdpa->config->get_iova_range)
		r = vdpa->config->get_iova_range(vdpa);
	return r;
}

bool vdpa_has_dma_map(const struct vdpa_device *vdpa)
{
	return vdpa->config->dma_map != NULL;
}

bool vdpa_has_set_map(const struct vdpa_device *vdpa)
{
	return vdpa->config->set_map != NULL;
}

int vdpa_dma_map(struct vdpa_device *vdpa, u32 asid, u64 iova, u64 size,
		 void *hva, u32 perm)
{
	struct vdpa_iova_range range;
	u64 last;
	int ret;

	if (!vdpa->config->dma_map)
		return -EOPNOTSUPP;
	if (asid >= vdpa->nas || size == 0 || !hva)
		return -EINVAL;
	if (!perm || (perm & ~VDPA_MAP_RW))
		return -EINVAL;
	/* Inclusive ends: a mapping may reach U64_MAX without overflow. */
	if (iova > UINT64_MAX - (size - 1))
		return -EINVAL;
	if ((uintptr_t)hva > UINTPTR_MAX - (size - 1))
		return -EINVAL;
	last = iova + (size - 1);
	range = vdpa_get_iova_range(vdpa);
	if (iova < range.first || last > range.last)
		return -ERANGE;

	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa->config->dma_map(vdpa, asid, iova, size, hva, perm);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_dma_unmap(struct vdpa_device *vdpa, u32 asid, u64 iova, u64 size)
{
	int ret;

	if (!vdpa->config->dma_unmap)
		return -EOPNOTSUPP;
	if (asid >= vdpa->nas || size == 0 || iova > UINT64_MAX - (size - 1))
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa->config->dma_unmap(vdpa, asid, iova, size);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}

int vdpa_set_map(struct vdpa_device *vdpa, u32 asid,
		 struct iotlb *iotlb)
{
	int ret;

	if (!vdpa->config->set_map)
		return -EOPNOTSUPP;
	if (asid >= vdpa->nas || !iotlb)
		return -EINVAL;
	pthread_mutex_lock(&vdpa->lock);
	ret = vdpa->config->set_map(vdpa, asid, iotlb);
	pthread_mutex_unlock(&vdpa->lock);
	return ret;
}
