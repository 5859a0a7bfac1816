#!/bin/bash
# Install what a fresh Debian 12 machine lacks to build and test kestrel.
#
#   scripts/setup.sh [build|test]   install what GROUP needs (default: test)
#   scripts/setup.sh --list GROUP   print GROUP's packages, one a line
#
# Groups nest: "build" is what compiling kestrel, its guests, unit tests and
# benchmark binaries needs (`make`, `make run`); "test" is "build" plus what
# the test suite and the benchmarks run (`make check`, `make bench`): clang
# for the fuzzers, QEMU and DPDK peers, the nested harness. So `make run` on a
# fresh machine does not pull QEMU and DPDK.
#
# Idempotent and quick when everything is present (one dpkg-query call):
# apt-get runs only when a package is missing, `apt-get update` once first.
# Installing needs root; without it the missing packages are named.
# tests/build/packages.py checks that every header and library the build
# uses comes from a package in the group of the target that uses it.
set -euo pipefail

BUILD_PACKAGES=(
	# compiler, linker, make, libc headers and the static libc kestrel links
	gcc make binutils libc6-dev pkg-config
	# the seccomp filters, compiled to BPF at build time (src/sandbox/seccomp-gen.c)
	libseccomp-dev
	# async block I/O (src/vdpa/file-blk.c), linked statically
	liburing-dev
	# the Firecracker-compatible API (src/api): HTTP (evhttp) and JSON, static
	libevent-dev libjansson-dev
	# snapshot checksums and encryption at rest (src/snapshot): libcrypto, static
	libssl-dev
)

TEST_PACKAGES=(
	# fuzzing and sanitizers (libFuzzer runtime ships with clang's rt)
	clang libclang-rt-14-dev llvm
	# benchmarks and leak checks
	valgrind python3
	# curl --unix-socket drives the Firecracker-compatible API in tests
	curl
	# libkestrel-vdpa's man pages rendered and looked up (tests/build/library.sh)
	groff-base man-db
	# ACPI tables checked by a third-party disassembler
	acpica-tools
	# real vhost-user peers: DPDK testpmd (virtio_user, vhost PMDs), QEMU + firmware
	dpdk dpdk-dev librte-net-vhost23 librte-net-virtio23 librte-mempool-ring23
	qemu-system-x86 qemu-system-common qemu-utils seabios ipxe-qemu
	# nested end-to-end harness and guest images
	cpio kmod xz-utils zstd lz4 procps iproute2
	# the root-drive case's ext4 image (mkfs.ext4 -d)
	e2fsprogs
	# make check-fresh: a new Debian 12 chroot
	debootstrap
)

group_packages() {
	case $1 in
	build) printf '%s\n' "${BUILD_PACKAGES[@]}" ;;
	test) printf '%s\n' "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" ;;
	*) echo "setup: unknown group '$1' (expected build or test)" >&2; return 2 ;;
	esac
}

if [[ ${1:-} == --list ]]; then
	group_packages "${2:-test}"
	exit
fi
group=${1:-test}
group_packages "$group" >/dev/null || exit
mapfile -t packages < <(group_packages "$group")

if ! command -v dpkg-query >/dev/null; then
	echo "setup: not a Debian system (no dpkg-query); install the equivalent of: ${packages[*]}" >&2
	exit 0
fi

# One query for all: "name status" for the installed ones, errors for the rest.
declare -A installed=()
while read -r name status; do
	[[ $status == 'install ok installed' ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for p in "${packages[@]}"; do
	[[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "setup: missing packages: ${missing[*]} (run as root to install: sudo scripts/setup.sh $group)" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi
