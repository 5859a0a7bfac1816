#!/bin/bash
# libkestrel-vdpa as a user gets it: `make install` into a temporary
# DESTDIR, examples/vdpa-serve.c built outside the tree against the
# installed library with `pkg-config --cflags --libs kestrel-vdpa`, and
# that program (not kestrel) serving a net device over vhost-user to DPDK
# testpmd's net_virtio_user: frames flow both ways and none vanish
# (flowgen_check in lib.sh).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/peers/lib.sh
. tests/build/lib-install.sh
need dpdk-testpmd
need pkg-config
[ "$(nproc)" -ge 2 ] || skip "testpmd needs 2 CPUs"

DIR=$(mktemp -d /tmp/kestrel-peer-lib.XXXXXX)
TAG=$(basename "$DIR")
cleanup() { stop_server 2>/dev/null; rm -rf "$DIR" /var/run/dpdk/"$TAG"-*; }
trap cleanup EXIT

lib_install "$DIR" || fail "installing the library or building against it"
readelf -d "$SERVE" | grep -q 'NEEDED.*libkestrel-vdpa\.so\.0' ||
	fail "$SERVE does not link libkestrel-vdpa.so.0: $(readelf -d "$SERVE" | grep NEEDED)"
pass "vdpa-serve built out of the tree with: $LIB_FLAGS"

SERVER_BIN=$SERVE start_server "$DIR" --device net,mac=52:54:00:00:00:02
flowgen_check "$DIR" "$TAG"
stop_server
[ "$SRV_RC" = 0 ] || fail "vdpa-serve exited with $SRV_RC"
grep -q '^1 front-end(s) served' "$SRV_LOG" || fail "vdpa-serve did not count the front-end"
pass "vdpa-serve stopped on SIGINT after serving testpmd"
exit 0
