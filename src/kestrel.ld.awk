# Derives kestrel's linker script ($(B)/gen/kestrel.ld) from ld's default
# (read on stdin after src/startup.order). For peak RSS (docs/design.md,
# "Peak RSS"): the kernel maps a 64 KiB block of the file around every page
# fault on it, so what runs or is read at start-up should sit together.
#  - the archive members src/startup.order lists go first in .text, and
#    .fini before it;
#  - libcrypto's read-only data goes after everyone else's: its .rodata in
#    an output section of its own after .eh_frame (.rodata.crypto: merged strings are
#    merged per output section, so they no longer interleave with the
#    strings the rest of kestrel reads), its .data.rel.ro last in that
#    section, each starting and (.rodata.crypto) ending on a 64 KiB
#    boundary so that no fault-around block holds both. libcrypto is
#    used only by snapshots.
NR == FNR {
	if ($0 !~ /^#/ && NF)
		m[n++] = $1
	next
}
# .fini (one call at exit) before .plt and .text, not after .text, where
# it would take a block of cold libc text with it.
/^  \.plt +: / && !fini_done {
	print "  .fini           :"
	print "  {"
	print "    KEEP (*(SORT_NONE(.fini)))"
	print "  }"
	fini_done = 1
}
/^  \.fini +:$/ {
	skip = 4
}
skip > 0 {
	skip--
	next
}
/\*\(\.text\.unlikely / && !text_done {
	for (i = 0; i < n; i++)
		print "    *" m[i] "(.text .text.*)"
	text_done = 1
}
/^  \.rodata +: \{ \*\(\.rodata \.rodata\.\* \.gnu\.linkonce\.r\.\*\) \}$/ {
	print "  .rodata         : { EXCLUDE_FILE(*libcrypto.a:*) *(.rodata .rodata.* .gnu.linkonce.r.*) }"
	rodata_done = 1
	next
}
# After .eh_frame and co.: libgcc reads the first word of .eh_frame at
# start-up, which then shares a block with the hot end of .rodata.
/^  \/\* Adjust the address for the data segment\./ && rodata_done && !crypto_done {
	print "  .rodata.crypto  ALIGN(0x10000) : { *(.rodata .rodata.*) . = ALIGN(0x10000); }"
	crypto_done = 1
}
/^  \.data\.rel\.ro : \{/ {
	print "  .data.rel.ro : { EXCLUDE_FILE(*libcrypto.a:*) *(.data.rel.ro.local* .gnu.linkonce.d.rel.ro.local.*) EXCLUDE_FILE(*libcrypto.a:*) *(.data.rel.ro .data.rel.ro.* .gnu.linkonce.d.rel.ro.*) . = ALIGN(0x10000); *(.data.rel.ro.local* .data.rel.ro .data.rel.ro.*) }"
	relro_done = 1
	next
}
{ print }
END {
	if (!text_done || !fini_done || !rodata_done || !crypto_done || !relro_done) {
		print "kestrel.ld.awk: ld's default script has changed shape" > "/dev/stderr"
		exit 1
	}
}
