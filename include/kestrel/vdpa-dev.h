/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kestrel's real vDPA devices, beside the simulators of vdpa.h: they reach
 * the host (a TAP interface, a file or block device, file descriptors, the
 * kernel's entropy pool) instead of looping back.
 *
 * Management types (vdpa_mgmt_dev_add() specs), registered with the
 * others by vdpa_register_types():
 *
 *   tap,path=IFNAME[,mac=M][,mtu=N]     virtio-net over TAP interface IFNAME
 *                                       (created if missing; the interface
 *                                       name travels in the path attribute)
 *   file-blk,path=FILE[,ro=on][,serial=S]   virtio-blk over a regular file
 *                                       or block device, through io_uring;
 *                                       its size must be a non-zero
 *                                       multiple of 512
 *   console                             virtio-console, one port on
 *                                       stdin/stdout
 *   rng                                 virtio-entropy from getrandom()
 *
 * All of them run on the software-device core (one worker thread per
 * device, ring walking through the device IOTLB with vringh), so they get
 * the same hostile-ring handling, suspend/resume and address-space support.
 */
#ifndef KESTREL_VDPA_DEV_H
#define KESTREL_VDPA_DEV_H

#include <kestrel/vdpa.h>

/**
 * vdpa_console_create() - a virtio-console on the given descriptors
 * @name: bus name, or NULL for the next "vdpa<N>"
 * @in_fd: what the guest reads (its receiveq); duplicated; -1 for none
 * @out_fd: where the guest's output goes (transmitq); duplicated
 * @out: the new, registered device (free with vdpa_unregister_device())
 *
 * Return: 0 or -errno.
 */
int vdpa_console_create(const char *name, int in_fd, int out_fd,
			struct vdpa_device **out);

/**
 * vdpa_file_blk_replace() - give a running file-blk device a new backing
 *	file (an orchestrator's drive update)
 * @vdpa: a device of type file-blk
 * @path: the new file or block device, opened as the old one was (same
 *	ro); it may have another size
 *
 * The old file is closed once no request uses it; the driver gets a
 * config-change interrupt and reads the new capacity.
 *
 * Return: 0; -EINVAL (not a file-blk device, or the file is not a usable
 * disk); the errno of opening or locking @path.
 */
int vdpa_file_blk_replace(struct vdpa_device *vdpa, const char *path);

#endif /* KESTREL_VDPA_DEV_H */
