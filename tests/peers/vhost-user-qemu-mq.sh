#!/bin/bash
# Multiqueue net over vhost-user with a real Linux driver: QEMU (TCG)
# boots a Debian kernel whose virtio-net driver drives kestrel's net
# simulator with 2 queue pairs (max_vqp=2; QEMU queues=2, mq=on). QEMU
# keeps the control queue to itself: the guest's `ethtool -L eth0
# combined K` request (ETHTOOL_SCHANNELS, K = 2 then 1) reaches kestrel's
# server as SET_VRING_ENABLE on the second pair's rings. Each time frames
# steered to queue K-1 (XPS) must come back on it, and both pairs' device
# counters must show them; the rest as tests/peers/vhost-user-qemu-linux.sh.
KVL_MQ=2 exec "$(dirname "$0")/vhost-user-qemu-linux.sh" "$@"
