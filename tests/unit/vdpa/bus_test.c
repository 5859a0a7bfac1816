// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bus: ops-table validation at registration, names, the status state
 * machine and the argument checks of the wrappers, optional ops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kestrel/vdpa.h>

#include "../test.h"
#include "driver.h"

/* ---- a minimal fake device: only the mandatory ops -------------------- */

struct fake {
	struct vdpa_device vdpa;
	u8 status;
	u64 features;
	bool ready[2];
	int freed;
};

static struct fake *to_fake(struct vdpa_device *v)
{
	return container_of(v, struct fake, vdpa);
}

static int fake_set_vq_address(struct vdpa_device *v, u16 i, u64 a, u64 b, u64 c) { return 0; }
static int fake_set_vq_num(struct vdpa_device *v, u16 i, u32 n) { return 0; }
static void fake_kick_vq(struct vdpa_device *v, u16 i) { }
static void fake_set_vq_cb(struct vdpa_device *v, u16 i, const struct vdpa_callback *cb) { }
static int fake_set_vq_ready(struct vdpa_device *v, u16 i, bool r) { to_fake(v)->ready[i] = r; return 0; }
static bool fake_get_vq_ready(struct vdpa_device *v, u16 i) { return to_fake(v)->ready[i]; }
static int fake_set_vq_state(struct vdpa_device *v, u16 i, const struct vdpa_vq_state *s) { return 0; }
static int fake_get_vq_state(struct vdpa_device *v, u16 i, struct vdpa_vq_state *s) { return 0; }
static u32 fake_get_vq_num_max(struct vdpa_device *v) { return 256; }
static u32 fake_get_vq_align(struct vdpa_device *v) { return 64; }
static u64 fake_get_device_features(struct vdpa_device *v) { return (1ULL << VIRTIO_F_VERSION_1) | 1; }
static int fake_set_driver_features(struct vdpa_device *v, u64 f) { to_fake(v)->features = f; return 0; }
static u64 fake_get_driver_features(struct vdpa_device *v) { return to_fake(v)->features; }
static void fake_set_config_cb(struct vdpa_device *v, const struct vdpa_callback *cb) { }
static u8 fake_get_status(struct vdpa_device *v) { return to_fake(v)->status; }
static void fake_set_status(struct vdpa_device *v, u8 s) { to_fake(v)->status = s; }
static int fake_reset(struct vdpa_device *v) { to_fake(v)->status = 0; to_fake(v)->features = 0; return 0; }
static size_t fake_get_config_size(struct vdpa_device *v) { return 8; }
static void fake_get_config(struct vdpa_device *v, unsigned int o, void *b, unsigned int l) { memset(b, 0x5a, l); }
static void fake_set_config(struct vdpa_device *v, unsigned int o, const void *b, unsigned int l) { }
static u32 fake_get_device_id(struct vdpa_device *v) { return 42; }
static u32 fake_get_vendor_id(struct vdpa_device *v) { return 7; }
static void fake_free(struct vdpa_device *v) { to_fake(v)->freed++; }
static int fake_suspend(struct vdpa_device *v) { return 0; }
static int fake_dma_map(struct vdpa_device *v, u32 as, u64 i, u64 s, void *h, u32 p) { return 0; }

static const struct vdpa_config_ops fake_ops = {
	.set_vq_address = fake_set_vq_address,
	.set_vq_num = fake_set_vq_num,
	.kick_vq = fake_kick_vq,
	.set_vq_cb = fake_set_vq_cb,
	.set_vq_ready = fake_set_vq_ready,
	.get_vq_ready = fake_get_vq_ready,
	.set_vq_state = fake_set_vq_state,
	.get_vq_state = fake_get_vq_state,
	.get_vq_num_max = fake_get_vq_num_max,
	.get_vq_align = fake_get_vq_align,
	.get_device_features = fake_get_device_features,
	.set_driver_features = fake_set_driver_features,
	.get_driver_features = fake_get_driver_features,
	.set_config_cb = fake_set_config_cb,
	.get_status = fake_get_status,
	.set_status = fake_set_status,
	.reset = fake_reset,
	.get_config_size = fake_get_config_size,
	.get_config = fake_get_config,
	.set_config = fake_set_config,
	.get_device_id = fake_get_device_id,
	.get_vendor_id = fake_get_vendor_id,
	.free = fake_free,
};

static void test_registration(void)
{
	struct vdpa_device_attr attr = { .name = "fake0", .nvqs = 2 };
	struct vdpa_config_ops ops;
	struct fake a = { 0 }, b = { 0 };

	report_prefix_push("register");
	ops = fake_ops;
	ops.get_status = NULL;
	report_err(vdpa_register_device(&a.vdpa, &ops, &attr), -EINVAL,
		   "missing mandatory op rejected");
	ops = fake_ops;
	ops.free = NULL;
	report_err(vdpa_register_device(&a.vdpa, &ops, &attr), -EINVAL, "missing free rejected");
	ops = fake_ops;
	ops.dma_map = fake_dma_map;
	report_err(vdpa_register_device(&a.vdpa, &ops, &attr), -EINVAL,
		   "dma_map without dma_unmap rejected");
	ops = fake_ops;
	ops.suspend = fake_suspend;
	report_err(vdpa_register_device(&a.vdpa, &ops, &attr), -EINVAL,
		   "suspend without resume rejected");
	report_err(vdpa_ops_validate(&fake_ops, 2, 1), -EINVAL,
		   "two address spaces without DMA ops rejected");
	attr.nvqs = 0;
	report_err(vdpa_register_device(&a.vdpa, &fake_ops, &attr), -EINVAL,
		   "zero queues rejected");
	attr.nvqs = 2;
	attr.name = "bad name";
	report_err(vdpa_register_device(&a.vdpa, &fake_ops, &attr), -EINVAL, "bad name rejected");
	attr.name = "fake0";
	report_eq(vdpa_register_device(&a.vdpa, &fake_ops, &attr), 0, "complete table accepted");
	report_err(vdpa_register_device(&b.vdpa, &fake_ops, &attr), -EEXIST,
		   "duplicate name rejected");
	attr.name = NULL;
	check_eq(vdpa_register_device(&b.vdpa, &fake_ops, &attr), 0);
	check_eq(strncmp(b.vdpa.name, "vdpa", 4), 0);
	report_checks("automatic name %s", b.vdpa.name);
	report_eq(vdpa_find_device("fake0"), &a.vdpa, "found by name");

	/* Optional ops absent. */
	report_err(vdpa_suspend(&a.vdpa), -EOPNOTSUPP, "suspend: -EOPNOTSUPP");
	report_err(vdpa_dma_map(&a.vdpa, 0, 0, 4096, &a, VDPA_MAP_RW), -EOPNOTSUPP,
		   "dma_map: -EOPNOTSUPP");
	report_err(vdpa_set_vq_kickfd(&a.vdpa, 0, -1), -EOPNOTSUPP, "set_vq_kickfd: -EOPNOTSUPP");
	report_err(vdpa_get_vq_stats(&a.vdpa, 0, &(struct vdpa_vq_stats){ 0 }), -EOPNOTSUPP,
		   "get_vq_stats: -EOPNOTSUPP");
	report_err(vdpa_set_group_asid(&a.vdpa, 0, 0), -EOPNOTSUPP, "set_group_asid: -EOPNOTSUPP");
	check_eq(vdpa_get_generation(&a.vdpa), 0);
	check_eq(vdpa_get_vq_num_min(&a.vdpa), 1);
	report_checks("defaults for absent getters");

	vdpa_unregister_device(&a.vdpa);
	vdpa_unregister_device(&b.vdpa);
	check_eq(a.freed, 1);
	check_eq(b.freed, 1);
	report_checks("unregister frees through ops->free");
	report_eq(vdpa_find_device("fake0"), NULL, "gone from the bus");
	report_prefix_pop();
}

static void test_state_machine(struct vdpa_device *v)
{
	const u8 A = VIRTIO_CONFIG_S_ACKNOWLEDGE, D = VIRTIO_CONFIG_S_DRIVER;
	const u8 F = VIRTIO_CONFIG_S_FEATURES_OK, O = VIRTIO_CONFIG_S_DRIVER_OK;
	u64 offered = vdpa_get_device_features(v);
	u64 v1 = 1ULL << VIRTIO_F_VERSION_1;
	u64 packed = 1ULL << VIRTIO_F_RING_PACKED;
	u32 gen = vdpa_get_generation(v);
	u8 cfg[16];

	report_prefix_push("status");
	check_eq(vdpa_reset(v), 0);
	check_eq(vdpa_get_status(v), 0);
	report_checks("reset: status 0");
	report_ne(vdpa_get_generation(v), gen, "reset bumps the generation");
	report_err(vdpa_set_status(v, D), -EINVAL, "DRIVER without ACKNOWLEDGE");
	report_eq(vdpa_set_status(v, A), 0, "ACKNOWLEDGE");
	report_err(vdpa_set_status(v, A | F), -EINVAL, "FEATURES_OK before DRIVER");
	report_eq(vdpa_set_status(v, A | D), 0, "DRIVER");
	report_err(vdpa_set_status(v, A | D | O), -EINVAL, "DRIVER_OK before FEATURES_OK");
	report_err(vdpa_set_status(v, D), -EINVAL, "clearing ACKNOWLEDGE");
	report_err(vdpa_set_status(v, A | D | VIRTIO_CONFIG_S_NEEDS_RESET), -EINVAL,
		   "driver cannot write NEEDS_RESET");
	report_err(vdpa_set_features(v, 1ULL << 62), -EINVAL, "feature not offered rejected");
	/* Split rings from here to the full set (sizes are powers of two). */
	check_eq(vdpa_set_features(v, offered & ~v1 & ~packed), 0);
	check_err(vdpa_features_ok(v), -ENOTSUP);
	check_eq((vdpa_get_status(v) & F), 0);
	report_checks("features without VERSION_1: FEATURES_OK not kept");
	report_err(vdpa_set_vq_num(v, 0, 100), -EINVAL, "queue size not a power of two");
	report_err(vdpa_set_vq_num(v, 0, 4096), -EINVAL, "queue size above max");
	report_err(vdpa_set_vq_address(v, 0, 8, 0, 0), -EINVAL, "misaligned descriptor table");
	report_err(vdpa_set_vq_num(v, 99, 64), -EINVAL, "queue index out of range");
	check_eq(vdpa_set_features(v, offered), 0);
	check_eq(vdpa_features_ok(v), 0);
	report_checks("full feature set: FEATURES_OK kept");
	report_eq(vdpa_set_vq_num(v, 0, 100), 0, "packed ring: queue size 100");
	report_eq(vdpa_get_driver_features(v), offered, "driver features read back");
	report_err(vdpa_set_features(v, v1), -EBUSY, "features after FEATURES_OK");
	report_eq(vdpa_set_vq_num(v, 0, 64), 0, "queue setup before DRIVER_OK");
	report_eq(vdpa_set_vq_ready(v, 0, true), 0, "queue ready");
	report_err(vdpa_set_vq_num(v, 0, 128), -EBUSY, "resize a ready queue");
	report_eq(vdpa_set_status(v, A | D | F | O), 0, "DRIVER_OK");
	report_err(vdpa_set_vq_num(v, 1, 64), -EBUSY, "queue setup after DRIVER_OK");
	report_err(vdpa_set_group_asid(v, 1, 1), -EBUSY, "ASID change after DRIVER_OK");
	check_eq(vdpa_suspend(v), 0);
	check_eq(vdpa_set_vq_num(v, 1, 64), 0);
	report_checks("suspended: disabled queue reconfigurable");
	report_eq(vdpa_resume(v), 0, "resume");
	report_eq(vdpa_get_config(v, 0, cfg, 12), 0, "config read");
	report_err(vdpa_get_config(v, 4, cfg, 9), -EINVAL, "config read past the end");
	report_err(vdpa_get_config(v, ~0u, cfg, 2), -EINVAL, "config offset + len overflow");
	report_err(vdpa_set_config(v, 20, cfg, 1), -EINVAL, "config write past the end");
	report_err(vdpa_dma_map(v, 0, 0x1000, 0, cfg, VDPA_MAP_RW), -EINVAL, "dma_map of size 0");
	report_err(vdpa_dma_map(v, 0, ~0ULL - 10, 100, cfg, VDPA_MAP_RW), -EINVAL,
		   "dma_map wrapping the IOVA space");
	report_err(vdpa_dma_map(v, 5, 0x1000, 16, cfg, VDPA_MAP_RW), -EINVAL,
		   "dma_map of a missing address space");
	report_err(vdpa_dma_map(v, 0, 0x1000, 16, cfg, 4), -EINVAL,
		   "dma_map with a bad permission");
	check_eq(vdpa_dma_map(v, 0, 0x1000, 16, cfg, VDPA_MAP_READ), 0);
	check_err(vdpa_dma_map(v, 0, 0x1008, 16, cfg, VDPA_MAP_READ), -EEXIST);
	report_checks("overlapping dma_map: -EEXIST");
	report_eq(vdpa_dma_unmap(v, 0, 0x1000, 16), 0, "dma_unmap");
	check_eq(vdpa_reset(v), 0);
	check_eq(vdpa_get_status(v), 0);
	check_eq(vdpa_get_driver_features(v), 0);
	check_false(vdpa_get_vq_ready(v, 0));
	report_checks("reset clears status, features and queues");
	report_prefix_pop();
}

int main(void)
{
	struct vdpa_device *net;

	log_level_set(LOG_ERR);
	test_registration();
	vdpa_register_types();
	if (report_eq(vdpa_mgmt_dev_add("net", &net), 0, "create net simulator")) {
		test_state_machine(net);
		vdpa_mgmt_dev_del(net);
	}
	return report_summary();
}
