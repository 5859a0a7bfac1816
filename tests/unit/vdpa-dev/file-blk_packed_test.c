// SPDX-License-Identifier: GPL-2.0-only
/*
 * file-blk_test.c over packed rings (virtio 1.2 §2.8): the same cases, the
 * in-process driver asking for VIRTIO_F_RING_PACKED (a device without it
 * fails the bring-up).
 */
#include "../vdpa/driver.h"

static void __attribute__((constructor)) packed_rings(void)
{
	vdrv_packed = true;
}

#include "file-blk_test.c"
