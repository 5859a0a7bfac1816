/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to src/vdpa/: the management device of every built-in type,
 * gathered in one table by types.c.
 */
#ifndef KESTREL_VDPA_DEVICES_H
#define KESTREL_VDPA_DEVICES_H

#include <kestrel/vdpa.h>

extern struct vdpa_mgmt_dev vdpa_net_mgmt_dev;
extern struct vdpa_mgmt_dev blk_ram_mgmt_dev;
extern struct vdpa_mgmt_dev vdpa_tap_mgmt_dev;
extern struct vdpa_mgmt_dev blk_file_mgmt_dev;
extern struct vdpa_mgmt_dev vdpa_console_mgmt_dev;
extern struct vdpa_mgmt_dev vdpa_rng_mgmt_dev;
extern struct vdpa_mgmt_dev vdpa_balloon_mgmt_dev;
extern struct vdpa_mgmt_dev vdpa_vsock_mgmt_dev;

#endif /* KESTREL_VDPA_DEVICES_H */
