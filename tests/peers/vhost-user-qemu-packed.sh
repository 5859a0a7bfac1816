#!/bin/bash
# vhost-user-qemu-linux.sh with packed=on on QEMU's virtio-net-pci and
# vhost-user-blk-pci: Linux's drivers negotiate packed virtqueues (virtio
# 1.2 §2.8) with kestrel's vhost-user servers (the packed SET_VRING_BASE /
# GET_VRING_BASE encoding, the packed rings in vringh), send and receive
# frames and write and read back the disk. Pass: as that script, and both
# drivers' sysfs features have VIRTIO_F_RING_PACKED (bit 34) set.
# If the server stops offering packed rings, QEMU falls back to split
# rings and the check fails ("VIRTIO_F_RING_PACKED is 0, not 1").
KVL_PACKED=1 exec "$(dirname "$0")/vhost-user-qemu-linux.sh" "$@"
