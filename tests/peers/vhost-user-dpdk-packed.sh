#!/bin/bash
# vhost-user-dpdk.sh with packed virtqueues (virtio 1.2 §2.8): testpmd's
# net_virtio_user asks for them (packed_vq=1) and kestrel's server offers
# VIRTIO_F_RING_PACKED, so both the flowgen and the reconnect + io loop
# checks run over packed rings.
cd "$(dirname "$0")/../.." || exit 1
VU_EXTRA=",packed_vq=1" exec tests/peers/vhost-user-dpdk.sh
