#!/bin/sh
# Build the start-up benchmark's guest: a 6 KiB file in Linux bzImage format
# (boot protocol 2.15 header) whose 16-bit setup code, the first guest code a
# bzImage loader runs, only prints a marker on the 16550 at 0x3f8 and ends the
# VM. Booting it measures a VMM's own work (process start, VM and memory set-up,
# loading, vCPU start, exit, teardown) with no guest kernel work at all.
#
# How it ends the VM, in order: i8042 reset (0xfe to port 0x64: kestrel exits
# 0); then a write of 0 to the debug-exit port 0xf4 (QEMU's isa-debug-exit,
# which microvm lacks unless given -device isa-debug-exit,iobase=0xf4,iosize=4;
# kestrel's debug-exit would exit 1); then cli; hlt forever.
#
# Usage: bench/tools/mk-nullkernel.sh OUT [MARKER]     (needs as, ld, objcopy)
set -eu
OUT=${1:?usage: $0 OUT [MARKER]}
MARKER=${2:-GUEST-INIT-REACHED}
W=$(mktemp -d "${TMPDIR:-/tmp}/kestrel-null.XXXXXX")
trap 'rm -rf "$W"' EXIT
{
	cat <<'ASM'
	.code16
	.text
	.globl _start
_start:
	.org	0x1f1
	.byte	3		/* setup_sects: the boot sector + 3 sectors of setup */
	.word	0		/* root_flags */
	.long	0x100		/* syssize: the 4 KiB "kernel", in 16-byte units */
	.word	0		/* ram_size */
	.word	0xffff		/* vid_mode: normal */
	.word	0		/* root_dev */
	.word	0xaa55		/* boot_flag */
	jmp	setup		/* 0x200: where loaders enter (seg:0x200 or seg+0x20:0) */
	.ascii	"HdrS"
	.word	0x020f		/* protocol 2.15 */
	.long	0		/* realmode_swtch */
	.word	0x1000		/* start_sys_seg */
	.word	0		/* kernel_version */
	.byte	0		/* type_of_loader */
	.byte	1		/* loadflags: LOADED_HIGH */
	.word	0x8000		/* setup_move_size */
	.long	0x100000	/* code32_start */
	.long	0, 0		/* ramdisk_image, ramdisk_size */
	.long	0		/* bootsect_kludge */
	.word	0		/* heap_end_ptr */
	.byte	0, 0		/* ext_loader_ver, ext_loader_type */
	.long	0		/* cmd_line_ptr */
	.long	0x7fffffff	/* initrd_addr_max */
	.long	0x200000	/* kernel_alignment */
	.byte	0, 0		/* relocatable_kernel, min_alignment */
	.word	0		/* xloadflags */
	.long	2047		/* cmdline_size */
	.long	0		/* hardware_subarch */
	.quad	0		/* hardware_subarch_data */
	.long	0, 0		/* payload_offset, payload_length */
	.quad	0		/* setup_data */
	.quad	0x100000	/* pref_address */
	.long	0x1000		/* init_size */
	.long	0		/* handover_offset */
	.long	0		/* kernel_info_offset */
setup:
	cli
	movw	$0x3f8, %dx
ASM
	# one "movb $c, %al; outb %al, %dx" per marker byte: no data addressing,
	# so the code runs at whatever segment the loader chose
	printf '%s\n' "$MARKER" | od -An -tu1 -v | tr -s ' ' '\n' | grep . | while read -r c; do
		printf '\tmovb\t$%s, %%al\n\toutb\t%%al, %%dx\n' "$c"
	done
	cat <<'ASM'
	movb	$0xfe, %al	/* i8042: pulse the reset line */
	outb	%al, $0x64
	xorb	%al, %al	/* debug-exit port */
	outb	%al, $0xf4
1:	hlt
	jmp	1b
	.org	0x800		/* end of setup; then the 4 KiB "kernel" (hlt bytes) */
	.fill	4096, 1, 0xf4
ASM
} > "$W/null.S"
as --32 -o "$W/null.o" "$W/null.S"
ld -m elf_i386 -Ttext=0 -e _start -o "$W/null.elf" "$W/null.o"
objcopy -O binary -j .text "$W/null.elf" "$OUT"
echo "mk-nullkernel: $OUT ($(stat -c %s "$OUT") bytes, marker $MARKER)"
