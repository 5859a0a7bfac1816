// SPDX-License-Identifier: GPL-2.0-only
/*
 * Registration of the real devices' management types (tap, file-blk,
 * console, rng) beside the simulators'.
 */
#include <errno.h>

#include <kestrel/vdpa-dev.h>

#include "devices.h"

int vdpa_devices_register(void)
{
	struct vdpa_mgmt_dev *types[] = {
		&vdpa_tap_mgmt_dev,
		&vdpa_file_blk_mgmt_dev,
		&vdpa_console_mgmt_dev,
		&vdpa_rng_mgmt_dev,
	};

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		int ret = vdpa_mgmt_dev_register(types[i]);

		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
}
