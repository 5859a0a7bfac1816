// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one table of built-in device types. A new type adds its management
 * device here and nowhere else.
 */
#include <errno.h>

#include <kestrel/vdpa.h>

#include "devices.h"

static struct vdpa_mgmt_dev *const vdpa_types[] = {
	&vdpa_net_mgmt_dev,
	&blk_ram_mgmt_dev,
	&vdpa_tap_mgmt_dev,
	&blk_file_mgmt_dev,
	&vdpa_console_mgmt_dev,
	&vdpa_rng_mgmt_dev,
	&vdpa_balloon_mgmt_dev,
	&vdpa_vsock_mgmt_dev,
};

int vdpa_register_types(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(vdpa_types); i++) {
		int ret = vdpa_mgmt_dev_register(vdpa_types[i]);

		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
}
