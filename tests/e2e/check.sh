#!/bin/sh
# kestrel boots stock Linux: the nested end-to-end test (issue 6).
#
#   host ── qemu-system-x86_64 -accel tcg -cpu EPYC   (AMD SVM + NPT emulated)
#            └─ L1: Debian kernel, insmod kvm kvm-amd → a real /dev/kvm
#                └─ static kestrel (this tree) run --net sim --disk IMG ...
#                    └─ L2: unmodified Debian kernel + busybox /init (l2-init.sh)
#
# L2's /init writes the boot timer, checks its vCPUs, loads Linux's own
# virtio_mmio/virtio_net/virtio_blk modules, loops frames through the net
# simulator, reads and writes the disk, checks the ACPI PM timer and sleep
# states, suspends to RAM (S3) and is woken by the RTC, then reboots (or
# powers off through S5); L1 judges kestrel's exit status, its boot-timer and
# S3 lines and the disk image, and prints E2E-CHECK markers that run-l1.py
# turns into a report (see tests/e2e/README.md).
#
# Exit 0 pass, 1 fail, 77 skip (only when it cannot run: no QEMU, no inputs).
# Variables:
#   B             build dir (build); the log goes to $B/e2e/logs/
#   E2E_MATRIX    quick (make check: generic L2, bzImage, 1 vCPU, net+blk, one S3;
#                 through the Firecracker API with --config-file, ending with
#                 SendCtrlAltDel; and through the API's PUT calls with the root
#                 disk as a drive and net through a TAP; net+blk on
#                 virtio-pci with MSI-X; a snapshot and restore; and a balloon
#                 the API inflates to half of L2's memory, kestrel's RSS checked;
#                 vsock; net+blk on packed virtqueues, virtio-pci; net with 2
#                 queue pairs, virtio-pci, ethtool -L's request) |
#                 full (make check-e2e: generic+cloud x bzImage+PVH x 1+2 vCPUs,
#                 each suspended to RAM, the three API cases, the snapshot case,
#                 generic+cloud x 1+2 vCPUs with net+blk on virtio-pci, and free
#                 page reporting from a Linux L2, and vsock from a Linux L2, and
#                 net+blk on packed virtqueues over both transports)
#   E2E_CASES     a case file instead ("<name> <gen|cloud> <bzimage|pvh> <vcpus> <net,blk,tap,balloon,vsock|none>
#                 [run|fc|fcput|snap] [<L2 words, comma-separated: e2es3=N, e2eexit=poweroff, e2eroot=1,
#                 e2etransport=pci, e2epacked=1, e2emq=N, e2esnap=1, e2eballoon=MIB, e2ereport=MIB>]")
#   E2E_KESTREL   a static kestrel to test instead of building one
#   E2E_L1_FLAVOUR gen (default) | cloud   E2E_CPU  EPYC   E2E_L1_MEM  2G
#   E2E_L2_MEM    --memory for L2 (256M)  E2E_L2_TIMEOUT  per L2 boot, s (100)
#   E2E_TIMEOUT   the whole QEMU run, s (default from the number of cases)
#   E2E_VERBOSE=1 L2 kernel messages on (no "quiet")
#   E2E_KESTREL_ARGS extra words for `kestrel run`, comma-separated
#   E2E_NO_ACPI=1 skip the host-side ACPI check (tests/e2e/acpi-check.py)
#   KESTREL_E2E_CACHE  downloaded inputs (scripts/fetch-e2e-inputs.sh)
set -eu
cd "$(dirname "$0")/../.."
B=${B:-build}
MATRIX=${E2E_MATRIX:-quick}
OUT=$B/e2e
QEMU=${QEMU:-qemu-system-x86_64}
L1F=${E2E_L1_FLAVOUR:-gen}
mkdir -p "$OUT/logs"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

command -v "$QEMU" >/dev/null || skip "no $QEMU (apt-get install qemu-system-x86)"
for t in cpio python3 gzip; do
	command -v $t >/dev/null || skip "no $t (scripts/setup.sh installs it)"
done
command -v modinfo >/dev/null || [ -x /sbin/modinfo ] || skip "no modinfo (apt-get install kmod)"

# -- inputs: Debian kernels + busybox, cached --------------------------------
if ! scripts/fetch-e2e-inputs.sh > "$OUT/fetch.log" 2>&1; then
	cat "$OUT/fetch.log"
	skip "could not fetch the Debian kernels / busybox-static (no archive access and no cache)"
fi
CACHE=$(sed -n 's/^cache: //p' "$OUT/fetch.log")

# -- the cases ----------------------------------------------------------------
CASES=$OUT/cases-$MATRIX
if [ -n "${E2E_CASES:-}" ]; then
	[ "$E2E_CASES" -ef "$CASES" ] || cp "$E2E_CASES" "$CASES"
else
	case $MATRIX in
	quick) printf '%s\n' "gen-bzimage-1 gen bzimage 1 net,blk run e2es3=1" "gen-fc-cad gen bzimage 1 none fc" \
		"gen-fc-put gen bzimage 1 blk,tap fcput e2eroot=1" \
		"gen-pci-1 gen bzimage 1 net,blk run e2etransport=pci" "gen-snap gen bzimage 1 net,blk snap e2esnap=1" \
		"gen-fc-balloon gen bzimage 1 balloon fcput e2eballoon=128" "gen-vsock gen bzimage 1 vsock run" \
		"gen-packed-pci gen bzimage 1 net,blk run e2etransport=pci,e2epacked=1" \
		"gen-mq-pci gen bzimage 1 net run e2etransport=pci,e2emq=2" > "$CASES" ;;
	full)
		# Every matrix case suspends to RAM (ACPI S3); the 2-vCPU ones twice,
		# and they end with poweroff -f (S5) instead of reboot -f.
		printf '%s\n' "gen-fc-cad gen bzimage 1 none fc" "gen-fc-put gen bzimage 1 blk,tap fcput e2eroot=1" \
			"gen-snap gen bzimage 1 net,blk snap e2esnap=1" "gen-fc-balloon gen bzimage 1 balloon fcput e2eballoon=128" \
			"gen-fc-report gen bzimage 1 balloon fcput e2ereport=128" \
			"gen-vsock gen bzimage 1 vsock run" \
			"gen-packed-pci gen bzimage 1 net,blk run e2etransport=pci,e2epacked=1" \
			"gen-packed-mmio gen bzimage 1 net,blk run e2epacked=1" \
			"gen-mq-pci gen bzimage 1 net run e2etransport=pci,e2emq=2" > "$CASES"
		for fl in gen cloud; do for kind in bzimage pvh; do for n in 1 2; do
			words=e2es3=1
			[ $n = 2 ] && words=e2es3=2,e2eexit=poweroff
			echo "$fl-$kind-$n $fl $kind $n net,blk run $words" >> "$CASES"
		done; done; done
		# virtio-pci (docs/pci.md): net + blk with MSI-X, 1 and 2 vCPUs.
		for fl in gen cloud; do for n in 1 2; do
			echo "$fl-pci-$n $fl bzimage $n net,blk run e2etransport=pci" >> "$CASES"
		done; done ;;
	*) fail "E2E_MATRIX must be quick or full" ;;
	esac
fi
NCASES=$(grep -c . "$CASES")
L2T=${E2E_L2_TIMEOUT:-100}
# L1 boot + each case once, plus one retry's worth of slack
TIMEOUT=${E2E_TIMEOUT:-$((120 + NCASES * 60 + L2T * 2))}

# -- a static kestrel ----------------------------------------------------------
if [ -n "${E2E_KESTREL:-}" ]; then
	KESTREL=$E2E_KESTREL
else
	[ -f src/main.c ] || fail "kestrel cannot be built yet (no src/main.c): the nested boot needs the kestrel binary"
	KESTREL=$OUT/static/kestrel
	# Same sources as $B/kestrel, linked static so it runs in L1's bare initramfs.
	${MAKE:-make} --no-print-directory -s -j"$(nproc)" B="$OUT/static" LDFLAGS="-static -pthread" "$KESTREL" \
		> "$OUT/static-build.log" 2>&1 || { tail -n 30 "$OUT/static-build.log"; fail "static kestrel build failed (log $OUT/static-build.log)"; }
fi
if readelf -l "$KESTREL" 2>/dev/null | grep -q 'program interpreter'; then
	fail "$KESTREL is dynamically linked: L1 has no libc (link with -static)"
fi

# -- ACPI tables through a third-party parser (host side, a second) ---------
acpi=skipped
if [ "${E2E_NO_ACPI:-0}" != 1 ]; then
	set +e
	B=$B python3 tests/e2e/acpi-check.py "${E2E_ACPI_KESTREL:-$KESTREL}" > "$OUT/acpi-check.log" 2>&1
	r=$?
	set -e
	case $r in
	0) acpi=PASS ;;
	77) acpi="skipped ($(grep -m1 SKIP "$OUT/acpi-check.log"))" ;;
	*) acpi=FAIL; grep -v '^PASS' "$OUT/acpi-check.log" ;;
	esac
	echo "e2e: ACPI tables (iasl): $acpi"
fi

# -- L2 payloads, L1 initramfs --------------------------------------------------
${CC:-cc} -static -O2 -Wall -o "$OUT/l2-net" tests/e2e/l2-net.c || fail "cannot build tests/e2e/l2-net.c static (libc6-dev?)"
${CC:-cc} -static -O2 -Wall -o "$OUT/l1-fcapi" tests/e2e/l1-fcapi.c || fail "cannot build tests/e2e/l1-fcapi.c static (libc6-dev?)"
# both ends of the vsock case: L2's AF_VSOCK and L1's Unix sockets
${CC:-cc} -static -O2 -Wall -o "$OUT/l2-vsock" tests/e2e/l2-vsock.c || fail "cannot build tests/e2e/l2-vsock.c static (libc6-dev?)"
for fl in $(awk '!/^#/ && NF {print $2}' "$CASES" | sort -u); do
	# and the root disk when a case of that flavour boots from one (e2eroot=1)
	rootfs=
	if awk -v f="$fl" '$2 == f && $7 ~ /(^|,)e2eroot=1(,|$)/' "$CASES" | grep -q .; then
		command -v mkfs.ext4 >/dev/null || [ -x /sbin/mkfs.ext4 ] ||
			fail "no mkfs.ext4 for the root disk of the e2eroot=1 cases (scripts/setup.sh installs e2fsprogs)"
		rootfs=$OUT/rootfs-$fl.ext4.gz
	fi
	PATH=$PATH:/sbin:/usr/sbin tests/e2e/mk-l2-initramfs.sh "$CACHE/$fl" "$CACHE/bb/bin/busybox" \
		"$OUT/l2-net" "$OUT/initrd-$fl.cpio.gz" $rootfs >/dev/null
done
tests/e2e/mk-l1-initramfs.sh "$OUT/l1-initrd-$MATRIX.cpio" "$CACHE" "$L1F" "$KESTREL" "$CASES" "$OUT"

# -- boot L1 -----------------------------------------------------------------
L1K=$(ls "$CACHE/$L1F"/boot/vmlinuz-* | head -1)
LOG=$OUT/logs/$(date +%Y%m%d-%H%M%S)-$MATRIX.log
ln -sf "$(basename "$LOG")" "$OUT/logs/latest-$MATRIX.log"
APPEND="console=ttyS0 panic=-1 tsc=reliable no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
APPEND="$APPEND l2timeout=$L2T l2mem=${E2E_L2_MEM:-256M} l2verbose=${E2E_VERBOSE:-0}"
[ -n "${E2E_KESTREL_ARGS:-}" ] && APPEND="$APPEND kestrelargs=$E2E_KESTREL_ARGS"
echo "e2e: $NCASES case(s) ($MATRIX), L1 $(basename "$L1K") under TCG -cpu ${E2E_CPU:-EPYC}, timeout ${TIMEOUT}s, log $LOG"
set +e
# -smp 1: with 2 MTTCG vCPUs the generic L1 kernel can hang for good (a TCG
# flaw with cross-page code patching; L2 may still have several vCPUs).
python3 tests/e2e/run-l1.py --cases "$CASES" --log "$LOG" --timeout "$TIMEOUT" -- \
	"$QEMU" -accel tcg,thread=multi -M pc -cpu "${E2E_CPU:-EPYC}" -smp 1 -m "${E2E_L1_MEM:-2G}" \
	-nodefaults -no-user-config -display none -serial stdio -monitor none -nic none -no-reboot \
	-kernel "$L1K" -initrd "$OUT/l1-initrd-$MATRIX.cpio" -append "$APPEND"
r=$?
set -e
echo "e2e: ACPI tables (iasl): $acpi (log $OUT/acpi-check.log)"
[ "$acpi" = FAIL ] && r=1
[ $r = 0 ] && echo "PASS: nested boot ($NCASES case(s))" || echo "FAIL: nested boot; console log: $LOG"
exit $r
