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
need qemu-system-x86_64
need gcc
need ld
ACCEL=${ACCEL:-tcg}

DIR=$(mktemp -d /tmp/kestrel-peer-qblk.XXXXXX)
cleanup() { stop_server 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

cat >"$DIR/mbr.S" <<'ASM'
	.code16
	.globl _start
_start:	cli
	xor %ax,%ax
	mov %ax,%ds
	mov %ax,%ss
	mov $0x7c00,%sp
	sti
	cld
	mov $msg_start,%si
	call puts
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
err:	mov $msg_err,%si
	call puts
	mov $1,%al
	out %al,$0xf4
	hlt
puts:	mov $0x402,%dx
2:	lodsb
	test %al,%al
	jz 3f
	out %al,%dx
	jmp 2b
3:	ret
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
msg_err: .asciz "KVU int13 error\n"
	.org 510
	.byte 0x55,0xaa
ASM
gcc -m32 -c -x assembler-with-cpp "$DIR/mbr.S" -o "$DIR/mbr.o" 2>"$DIR/as.log" &&
	ld -m elf_i386 -Ttext 0x7c00 --oformat binary -e _start "$DIR/mbr.o" -o "$DIR/mbr.bin" ||
	skip "cannot build a 16-bit boot sector here: $(head -1 "$DIR/as.log")"
truncate -s 1M "$DIR/boot.img"
dd if="$DIR/mbr.bin" of="$DIR/boot.img" conv=notrunc status=none

truncate -s 64M "$DIR/disk.img"
start_server "$DIR" --device "file-blk,path=$DIR/disk.img"
CPU=(); [ "$ACCEL" = kvm ] && CPU=(-cpu host)
timeout -s TERM 60 qemu-system-x86_64 -machine q35,accel="$ACCEL",memory-backend=mem "${CPU[@]}" \
	-m 128M -smp 1 -object memory-backend-memfd,id=mem,size=128M,share=on \
	-drive file="$DIR/boot.img",format=raw,if=none,id=b0 -device ide-hd,drive=b0,bus=ide.0,bootindex=1 \
	-chardev socket,id=c1,path="$SOCK" -device vhost-user-blk-pci,chardev=c1,num-queues=1,bootindex=2 \
	-nodefaults -no-user-config -display none -no-reboot \
	-chardev file,id=dbg,path="$DIR/debugcon.log" -device isa-debugcon,iobase=0x402,chardev=dbg \
	-device isa-debug-exit,iobase=0xf4,iosize=4 >"$DIR/qemu.out" 2>"$DIR/qemu.err" </dev/null
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
