#!/bin/bash
# QEMU vhost-user-blk-pci driven by SeaBIOS's virtio-blk driver, no kernel.
# A 512-byte boot sector on an IDE disk (BIOS drive 0x80) writes a 4 KiB
# pattern to kestrel's file-backed blk device (drive 0x81) with int13 AH=43h,
# reads it back into another buffer with AH=42h, compares, and reports on
# the debugcon port; QEMU exits through isa-debug-exit. Pass: the pattern
# came back, the server saw the requests on its queue, and after the server
# exits the host's image file holds the pattern at LBA 100.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/peers/lib.sh
need_boot_sector

DIR=$(mktemp -d /tmp/kestrel-peer-qblk.XXXXXX)
cleanup() { stop_server 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

echo "$BOOT_SECTOR_HEAD" >"$DIR/mbr.S"
cat >>"$DIR/mbr.S" <<'ASM'
	mov $0x1000,%ax			/* pattern at 1000:0000, 4 KiB */
	mov %ax,%es
	xor %di,%di
	mov $4096,%cx
1:	mov %cl,%al
	xor %ch,%al
	xor $0x5a,%al
	stosb
	loop 1b
	mov $0x4300,%ax			/* extended write, drive 0x81 */
	mov $0x81,%dl
	mov $dap_w,%si
	int $0x13
	jc err
	mov $0x4200,%ax			/* extended read into 2000:0000 */
	mov $0x81,%dl
	mov $dap_r,%si
	int $0x13
	jc err
	push %ds
	mov $0x1000,%ax
	mov %ax,%ds
	mov $0x2000,%ax
	mov %ax,%es
	xor %si,%si
	xor %di,%di
	mov $4096,%cx
	repe cmpsb
	pop %ds
	jne bad
	mov $msg_ok,%si
	call puts
	mov $0,%al
	out %al,$0xf4			/* qemu exits with 1 */
	hlt
bad:	mov $msg_bad,%si
	call puts
	mov $2,%al
	out %al,$0xf4
	hlt
	.align 4
dap_w:	.byte 16,0
	.word 8,0,0x1000		/* 8 sectors from 1000:0000 */
	.long 100,0			/* LBA 100 */
dap_r:	.byte 16,0
	.word 8,0,0x2000
	.long 100,0
msg_start: .asciz "KVU start\n"
msg_ok:	.asciz "KVU readback ok\n"
msg_bad: .asciz "KVU readback MISMATCH\n"
ASM
boot_sector "$DIR"

truncate -s 64M "$DIR/disk.img"
start_server "$DIR" --device "file-blk,path=$DIR/disk.img"
qemu_blk "$DIR" 60 ""
QRC=$?
sleep 0.3
stop_server
grep -a KVU "$DIR/debugcon.log" | sed 's/^/  guest| /'
[ "$SRV_RC" = 0 ] || fail "server exited with $SRV_RC"
[ "$QRC" = 1 ] || { cat "$DIR/qemu.err" | tail -5; fail "qemu rc=$QRC (1 = readback ok, 3 = int13 error, 5 = mismatch)"; }
grep -aq "KVU readback ok" "$DIR/debugcon.log" || fail "no readback report from the guest"
reqs=$(vq_stat 0 packets 1)
echo "device completed $reqs requests"
[ "$reqs" -ge 2 ] || fail "the server's queue saw $reqs requests"
# The boot sector's pattern: byte i is c ^ (c >> 8) ^ 0x5a (low byte) with c = 4096 - i.
python3 - "$DIR/disk.img" <<'PY' || fail "the image file does not hold the guest's pattern at LBA 100"
import sys
with open(sys.argv[1], 'rb') as f:
    f.seek(100 * 512)
    got = f.read(4096)
want = bytes(((4096 - i) & 0xff) ^ ((4096 - i) >> 8) ^ 0x5a for i in range(4096))
sys.exit(0 if got == want else 1)
PY
pass "SeaBIOS wrote and read back 4 KiB through kestrel's blk device; the host file holds it"
