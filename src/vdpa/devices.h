/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to src/vdpa/: the management devices of the real devices, and
 * what they share.
 */
#ifndef KESTREL_VDPA_DEVICES_H
#define KESTREL_VDPA_DEVICES_H

#include <kestrel/vdpa.h>

/*
 * epoll data for a backend fd a device adds to the simulator worker's epoll
 * set: a queue index no device has, so the worker only wakes and runs a
 * pass (sim.c skips events whose index is >= nvqs).
 */
#define VDPADEV_EV_BACKEND	0xffffULL

extern struct vdpa_mgmt_dev vdpa_tap_mgmt_dev;
extern struct vdpa_mgmt_dev vdpa_file_blk_mgmt_dev;
extern struct vdpa_mgmt_dev vdpa_console_mgmt_dev;
extern struct vdpa_mgmt_dev vdpa_rng_mgmt_dev;

#endif /* KESTREL_VDPA_DEVICES_H */
