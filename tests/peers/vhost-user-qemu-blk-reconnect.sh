#!/bin/bash
# QEMU's vhost-user-blk-pci with -chardev ...,reconnect=1 against a kestrel
# server that is killed (SIGKILL) twice in the middle of the guest's I/O
# and started again. The guest is SeaBIOS's virtio-blk driver: a 512-byte
# boot sector writes NW 4 KiB blocks, each with its own pattern, one after
# the other (int13 AH=43h), and reports on the debugcon port. QEMU
# reconnects to each new server, hands back the inflight region it got
# with GET_INFLIGHT_FD (SET_INFLIGHT_FD) and sets the ring up again.
# Pass: every write returned without an error, the host's image holds all
# NW patterns, and each restarted server was given the inflight region.
# SeaBIOS keeps one request in flight, so this is the real peer's protocol
# (message layouts, order, QEMU's ring restart at the used index), not
# out-of-order recovery: tests/unit/vhost-user/inflight_test covers that.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/peers/lib.sh
need_boot_sector
need flock
need python3
NW=${NW:-3000}

DIR=$(mktemp -d /tmp/kestrel-peer-qblkrc.XXXXXX)
QPID=
cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null
	[ -n "${SRV_PID:-}" ] && kill -KILL "$SRV_PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

echo "$BOOT_SECTOR_HEAD" >"$DIR/mbr.S"
cat >>"$DIR/mbr.S" <<ASM
	xor %bp,%bp			/* write number i */
next:	mov \$0x1000,%ax		/* pattern of write i at 1000:0000 */
	mov %ax,%es
	xor %di,%di
	mov \$4096,%cx
	mov %bp,%bx
1:	mov %cl,%al
	xor %ch,%al
	xor %bl,%al
	xor %bh,%al
	stosb
	loop 1b
	mov %bp,%ax			/* LBA 1000 + 8 * i */
	shl \$3,%ax
	add \$1000,%ax
	mov %ax,dap_w+8
	mov \$0x4300,%ax		/* extended write, drive 0x81 */
	mov \$0x81,%dl
	mov \$dap_w,%si
	int \$0x13
	jc err
	inc %bp
	cmp \$$NW,%bp
	jb next
	mov \$msg_ok,%si
	call puts
	mov \$0,%al
	out %al,\$0xf4			/* qemu exits with 1 */
	hlt
	.align 4
dap_w:	.byte 16,0
	.word 8,0,0x1000		/* 8 sectors from 1000:0000 */
	.long 0,0			/* LBA, set per write */
msg_start: .asciz "KVU start\n"
msg_ok:	.asciz "KVU writes done\n"
ASM
boot_sector "$DIR"
truncate -s 64M "$DIR/disk.img"

# Has the guest's write number $1 reached the image?
written() {
	[ -n "$(dd if="$DIR/disk.img" bs=512 skip=$((1000 + 8 * $1)) count=1 status=none | tr -d '\0' | head -c 1)" ]
}

# Kill the server once write $1 is on disk, then start a new one.
kill_restart() {
	local n=$1
	for _ in $(seq 1200); do written "$n" && break; kill -0 "$QPID" 2>/dev/null || return 1; sleep 0.05; done
	written "$n" || fail "the guest's write $n never reached the image"
	kill -KILL "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
	mv "$DIR/server.log" "$DIR/server-$n.log"
	# The dead server's io_uring lets go of the image's lock a little later.
	for _ in $(seq 200); do flock -n -x "$DIR/disk.img" true && break; sleep 0.05; done
	start_server "$DIR" -v --device "file-blk,path=$DIR/disk.img"
	echo "killed the server after the guest's write $n reached the image; started a new one"
}

start_server "$DIR" -v --device "file-blk,path=$DIR/disk.img"
qemu_blk "$DIR" 240 ",reconnect=1" &
QPID=$!
kill_restart $((NW / 5)) && kill_restart $((NW / 2))
wait "$QPID"
QRC=$?
QPID=
stop_server
grep -a KVU "$DIR/debugcon.log" | sed 's/^/  guest| /'
[ "$QRC" = 1 ] || { tail -5 "$DIR/qemu.err"; fail "qemu rc=$QRC (1 = every write done, 3 = int13 error)"; }
grep -aq "KVU writes done" "$DIR/debugcon.log" || fail "no report from the guest"
for log in "$DIR"/server-*.log; do
	grep -q "GET_INFLIGHT_FD\|SET_INFLIGHT_FD" "$log" ||
		{ SRV_LOG=$log; fail "QEMU did not use the inflight region with $(basename "$log")"; }
done
n=0
for log in "$DIR"/server-$((NW / 2)).log "$DIR"/server.log; do
	grep -q "SET_INFLIGHT_FD" "$log" ||
		{ SRV_LOG=$log; fail "QEMU did not hand the inflight region back to a restarted server"; }
	n=$((n + 1))
done
grep -h "resubmitting" "$DIR"/server*.log | sed 's/^/  server| /'
# Write i's pattern: byte j is c ^ (c >> 8) ^ i ^ (i >> 8) (low byte), c = 4096 - j.
python3 - "$DIR/disk.img" "$NW" <<'PY' || fail "the image does not hold every write's pattern"
import sys
nw = int(sys.argv[2])
bad = []
with open(sys.argv[1], 'rb') as f:
    for i in range(nw):
        f.seek((1000 + 8 * i) * 512)
        got = f.read(4096)
        want = bytes(((4096 - j) & 0xff) ^ ((4096 - j) >> 8) ^ (i & 0xff) ^ (i >> 8)
                     for j in range(4096))
        if got != want:
            bad.append(i)
if bad:
    print("  writes missing or wrong: %d, first %s" % (len(bad), bad[:5]))
sys.exit(1 if bad else 0)
PY
pass "QEMU reconnected to $n restarted servers with the inflight region; all $NW writes are on disk"
