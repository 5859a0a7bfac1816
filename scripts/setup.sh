#!/bin/bash
# Install what a fresh Debian 12 machine lacks to build and test kestrel.
# Idempotent and quick when everything is present: apt-get runs only when a
# package is missing, and then `apt-get update` runs once first.
set -euo pipefail

PACKAGES=(
	# build
	gcc make binutils libc6-dev pkg-config
	# fuzzing and sanitizers (libFuzzer runtime ships with clang's rt)
	clang libclang-rt-14-dev llvm
	# benchmarks and leak checks
	valgrind python3
	# async block I/O
	liburing-dev
	# Firecracker-compatible API: HTTP (evhttp), JSON; curl drives it in tests
	libevent-dev libjansson-dev curl
	# ACPI tables checked by a third-party disassembler
	acpica-tools
	# real vhost-user peers: DPDK testpmd (virtio_user, vhost PMDs), QEMU + firmware
	dpdk dpdk-dev librte-net-vhost23 librte-net-virtio23 librte-mempool-ring23
	qemu-system-x86 qemu-system-common qemu-utils seabios ipxe-qemu
	# nested end-to-end harness and guest images
	cpio kmod xz-utils zstd lz4 procps iproute2
)

missing=()
for p in "${PACKAGES[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "setup: missing packages: ${missing[*]} (run as root to install)" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi
