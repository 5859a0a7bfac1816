# Helpers for the peer tests (sourced, not run: not executable).
# Each test: exit 0 pass, 1 fail, 77 skip (with the reason printed).
B=${B:-build}
KESTREL=${KESTREL:-$B/kestrel}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -n "${SRV_LOG:-}" ] && [ -f "$SRV_LOG" ] && tail -20 "$SRV_LOG" | sed 's/^/  server| /'; exit 1; }
pass() { echo "PASS: $*"; }

need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (scripts/setup.sh installs it)"; }

# start_server DIR ARGS... : kestrel vhost-user on DIR/vu.sock, pinned to CPU 1 when there are 2.
# With SERVER_BIN set, that program instead of "kestrel vhost-user" (it
# takes --socket PATH and ARGS the same way).
start_server() {
	local dir=$1; shift
	local cmd=("$KESTREL" vhost-user)
	[ -n "${SERVER_BIN:-}" ] && cmd=("$SERVER_BIN")
	[ -x "${cmd[0]}" ] || fail "${cmd[0]} not built (make ${cmd[0]})"
	SOCK=$dir/vu.sock SRV_LOG=$dir/server.log
	local pin=(); [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null && pin=(taskset -c 1)
	"${pin[@]}" "${cmd[@]}" --socket "$SOCK" "$@" >"$SRV_LOG" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.05; done
	fail "server did not create $SOCK"
}

stop_server() {
	[ -n "${SRV_PID:-}" ] || return 0
	kill -INT "$SRV_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$SRV_PID" 2>/dev/null && { kill -KILL "$SRV_PID"; fail "server ignored SIGINT"; }
	wait "$SRV_PID"; SRV_RC=$?
	SRV_PID=
}

# vq_stat N FIELD [NTH] : FIELD of queue N in the NTH stats dump (default: last).
vq_stat() {
	awk -v q="vq $1:" -v f="$2" -v nth="${3:-0}" '
		/front-end gone/ { dump++ }
		index($0, q) { for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2 && kv[1] == f) v[dump] = kv[2] }
		END { k = nth ? nth : dump; print (k in v) ? v[k] : 0 }' "$SRV_LOG"
}

# testpmd DIR TAG NAME SECS ARGS... : DPDK testpmd with a net_virtio_user port
# on $SOCK for SECS seconds, 64-byte frames; its output in DIR/NAME.log.
# VU_EXTRA: more net_virtio_user arguments (",packed_vq=1"); QUEUES: its
# queue pairs (default 1).
testpmd() {
	local dir=$1 tag=$2 name=$3 secs=$4; shift 4
	timeout -s INT "$secs" dpdk-testpmd -l 0,1 --main-lcore 1 --no-huge -m 1024 --no-pci \
		--file-prefix="$tag-$name" --vdev "net_virtio_user0,path=$SOCK,queues=${QUEUES:-1}${VU_EXTRA:-}" -- \
		--nb-cores=1 --txpkts=64 "$@" >"$dir/$name.log" 2>&1
}

# testpmd_acc LOG FIELD : the accumulated counter testpmd prints at exit
testpmd_acc() {
	sed -n '/Accumulated forward statistics/,$p' "$1" | grep -o "$2: *[0-9]*" | head -1 | grep -o '[0-9]*$'
}

# flowgen_check DIR TAG : 5 s of testpmd flowgen against a server whose
# device loops every frame back (the net type's loop mode): its TX count
# must match what the device consumed, and every consumed frame must be
# either delivered to RX or counted as dropped (the device drops, and
# counts, a frame when the front-end has no RX buffer posted at that
# moment, as a NIC does): none may vanish. Reads the first stats dump.
flowgen_check() {
	local dir=$1 tag=$2 tx rx d dev_tx dev_rx dev_drop
	testpmd "$dir" "$tag" flowgen 6 --forward-mode=flowgen --stats-period 1 </dev/null
	tx=$(testpmd_acc "$dir/flowgen.log" TX-packets); rx=$(testpmd_acc "$dir/flowgen.log" RX-packets)
	[ -n "$tx" ] && [ -n "$rx" ] || { tail -20 "$dir/flowgen.log"; fail "testpmd printed no totals"; }
	sleep 0.3
	dev_tx=$(vq_stat 1 packets 1); dev_rx=$(vq_stat 0 packets 1); dev_drop=$(vq_stat 0 drops 1)
	echo "flowgen: front-end TX=$tx RX=$rx; device consumed=$dev_tx delivered=$dev_rx dropped=$dev_drop"
	[ "$tx" -gt 100000 ] || fail "only $tx frames sent"
	# Frames still in a ring when testpmd stopped: at most one ring (256).
	d=$((tx - dev_tx)); [ ${d#-} -le 256 ] || fail "front-end sent $tx, device consumed $dev_tx"
	[ $((dev_rx + dev_drop)) -eq "$dev_tx" ] || fail "device consumed $dev_tx but delivered $dev_rx and dropped $dev_drop"
	# Drops happen only when the front-end falls behind in draining RX (its
	# share depends on scheduling on this shared host): most must get through.
	[ $((dev_drop * 2)) -le "$dev_tx" ] || fail "device dropped $dev_drop of $dev_tx frames (over half)"
	d=$((dev_rx - rx)); [ "$d" -ge 0 ] && [ "$d" -le 256 ] || fail "device delivered $dev_rx, front-end received $rx"
	[ "$(vq_stat 1 errors 1)" = 0 ] && [ "$(vq_stat 0 errors 1)" = 0 ] || fail "errors in the device"
	pass "flowgen: $tx frames out, $rx back, counts match"
}

# What the SeaBIOS blk tests need, and the start of their boot sectors
# (DIR/mbr.S begins with it): segments and stack set up, "KVU start" said.
need_boot_sector() {
	need qemu-system-x86_64
	need gcc
	need ld
	ACCEL=${ACCEL:-tcg}
}
BOOT_SECTOR_HEAD='	.code16
	.globl _start
_start:	cli
	xor %ax,%ax
	mov %ax,%ds
	mov %ax,%ss
	mov $0x7c00,%sp
	sti
	cld
	mov $msg_start,%si
	call puts'

# The end of the boot sectors of the SeaBIOS blk tests (appended to their
# DIR/mbr.S): the int13 error exit, puts (SI: a NUL-terminated string to the
# debugcon port 0x402) and the boot signature.
BOOT_SECTOR_TAIL='err:	mov $msg_err,%si
	call puts
	mov $1,%al
	out %al,$0xf4			/* qemu exits with 3 */
	hlt
puts:	mov $0x402,%dx
2:	lodsb
	test %al,%al
	jz 3f
	out %al,%dx
	jmp 2b
3:	ret
msg_err: .asciz "KVU int13 error\n"
	.org 510
	.byte 0x55,0xaa'

# boot_sector DIR : DIR/mbr.S (16-bit, linked at 0x7c00) with BOOT_SECTOR_TAIL
# assembled onto a 1 MiB disk DIR/boot.img; skips where gcc cannot build
# 32-bit objects.
boot_sector() {
	local dir=$1
	echo "$BOOT_SECTOR_TAIL" >>"$dir/mbr.S"
	gcc -m32 -c -x assembler-with-cpp "$dir/mbr.S" -o "$dir/mbr.o" 2>"$dir/as.log" &&
		ld -m elf_i386 -Ttext 0x7c00 --oformat binary -e _start "$dir/mbr.o" -o "$dir/mbr.bin" ||
		skip "cannot build a 16-bit boot sector here: $(head -1 "$dir/as.log")"
	truncate -s 1M "$dir/boot.img"
	dd if="$dir/mbr.bin" of="$dir/boot.img" conv=notrunc status=none
}

# qemu_blk DIR SECS CHARDEV_OPTS : QEMU (q35, $ACCEL) boots DIR/boot.img from
# IDE with vhost-user-blk-pci on $SOCK (-chardev socket,...CHARDEV_OPTS) as
# BIOS drive 0x81, the guest's debugcon in DIR/debugcon.log, for at most
# SECS seconds; its exit status is the guest's isa-debug-exit code.
qemu_blk() {
	local dir=$1 secs=$2 opts=$3 cpu=()
	[ "$ACCEL" = kvm ] && cpu=(-cpu host)
	timeout -s TERM "$secs" qemu-system-x86_64 -machine q35,accel="$ACCEL",memory-backend=mem "${cpu[@]}" \
		-m 128M -smp 1 -object memory-backend-memfd,id=mem,size=128M,share=on \
		-drive file="$dir/boot.img",format=raw,if=none,id=b0 -device ide-hd,drive=b0,bus=ide.0,bootindex=1 \
		-chardev socket,id=c1,path="$SOCK$opts" -device vhost-user-blk-pci,chardev=c1,num-queues=1,bootindex=2 \
		-nodefaults -no-user-config -display none -no-reboot \
		-chardev file,id=dbg,path="$dir/debugcon.log" -device isa-debugcon,iobase=0x402,chardev=dbg \
		-device isa-debug-exit,iobase=0xf4,iosize=4 >"$dir/qemu.out" 2>"$dir/qemu.err" </dev/null
}
