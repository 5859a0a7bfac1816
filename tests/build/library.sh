#!/bin/bash
# libkestrel-vdpa installed and used as a user would (docs/library.md):
#  - `make install PREFIX=/usr DESTDIR=...` puts kestrel, the library (its
#    soname and the development link), the headers, kestrel-vdpa.pc and
#    the man pages where they belong;
#  - the library exports exactly the functions its installed headers
#    declare, each under the version node KESTREL_VDPA_0;
#  - each installed header compiles alone against the installed ones only
#    (so none includes a core, arch or other private header), C11, pedantic;
#  - every man page renders without a warning and man finds each name a
#    page documents;
#  - examples/vdpa-serve.c builds outside the tree with pkg-config's flags
#    and runs: a bad spec is refused with the attribute named, a good one
#    serves until SIGINT and removes its socket;
#  - `make uninstall` removes every file again.
# The same program serves DPDK in tests/peers/library-dpdk.sh.
# Exit 0 pass, 1 fail, 77 skip (no cc, pkg-config, nm, groff or man).
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
. tests/build/lib-install.sh
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
for t in cc make pkg-config nm readelf groff man; do
	command -v $t >/dev/null || { echo "SKIP: $t is not installed (scripts/setup.sh installs it)"; exit 77; }
done

W=$(mktemp -d /tmp/kestrel-lib.XXXXXX)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
lib_install "$W" || { echo "FAIL: installing, or building against the installed library"; exit 1; }
pass "installed; vdpa-serve built in $W/src with: $LIB_FLAGS"

# What went where.
L=$ROOT/usr/lib
for f in usr/bin/kestrel usr/lib/libkestrel-vdpa.so.0.1.0 usr/lib/pkgconfig/kestrel-vdpa.pc \
	usr/include/kestrel/vdpa.h usr/include/kestrel/vhost-user.h usr/share/man/man3/libkestrel-vdpa.3; do
	[[ -f $ROOT/$f ]] || fail "$f is not installed"
done
[[ $(readlink "$L/libkestrel-vdpa.so.0") == libkestrel-vdpa.so.0.1.0 &&
   $(readlink "$L/libkestrel-vdpa.so") == libkestrel-vdpa.so.0 ]] &&
	pass "libkestrel-vdpa.so -> .so.0 -> .so.0.1.0" ||
	fail "links: .so.0 -> $(readlink "$L/libkestrel-vdpa.so.0"), .so -> $(readlink "$L/libkestrel-vdpa.so")"
soname=$(readelf -d "$L/libkestrel-vdpa.so.0.1.0" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[[ $soname == libkestrel-vdpa.so.0 ]] && pass "soname $soname" || fail "soname '$soname'"
readelf -d "$SERVE" | grep -q 'NEEDED.*\[libkestrel-vdpa\.so\.0\]' && pass "vdpa-serve needs libkestrel-vdpa.so.0" ||
	fail "vdpa-serve's NEEDED: $(readelf -d "$SERVE" | grep NEEDED | tr -s ' ')"
"$ROOT/usr/bin/kestrel" --version >"$W/version" 2>&1 && grep -q 0.1.0 "$W/version" &&
	pass "the installed kestrel runs: $(head -1 "$W/version")" || fail "installed kestrel --version: $(cat "$W/version")"

# Each header alone, against the installed headers only.
inc=$ROOT/usr/include
hdrs=("$inc"/kestrel/*.h)
bad=0
for h in "${hdrs[@]}"; do
	n=kestrel/${h##*/}
	if ! echo "#include <$n>" | cc -std=c11 -pedantic -Wall -Wextra -Werror -I"$inc" \
		-x c -c -o /dev/null - >"$W/hdr.log" 2>&1; then
		fail "<$n> does not compile alone against the installed headers: $(head -3 "$W/hdr.log")"
		bad=1
	fi
done
((bad)) || pass "${#hdrs[@]} headers each compile alone (C11, pedantic) against the installed ones only"

# Exports: the functions the headers declare (gcc's -aux-info lists every
# prototype with its file; inline ones are "static"), nothing more.
printf '#include <%s>\n' "${hdrs[@]#"$inc"/}" >"$W/all.c"
cc -std=gnu11 -I"$inc" -aux-info "$W/all.aux" -c -o /dev/null "$W/all.c" ||
	fail "cc -aux-info over the installed headers"
grep -F "$inc/kestrel/" "$W/all.aux" | grep -v '\*/ static ' |
	sed -E 's|^/\*[^*]*\*/ ||; s| \(.*||; s|.*[ *]||' | sort -u >"$W/declared"
nm -D --defined-only "$L/libkestrel-vdpa.so.0.1.0" | awk '$3 != "KESTREL_VDPA_0" { print $3 }' |
	sort >"$W/exported"
unversioned=$(grep -vc '@@KESTREL_VDPA_0$' "$W/exported")
sed -i 's/@.*//' "$W/exported"
if cmp -s "$W/declared" "$W/exported" && [[ $unversioned == 0 ]]; then
	pass "exports exactly the $(wc -l <"$W/declared") functions the headers declare, all @@KESTREL_VDPA_0"
else
	extra=$(comm -13 "$W/declared" "$W/exported" | head -10 | tr '\n' ' ')
	missing=$(comm -23 "$W/declared" "$W/exported" | head -10 | tr '\n' ' ')
	[[ -n $extra ]] && fail "exported but no installed header declares it: $extra"
	[[ -n $missing ]] && fail "declared by an installed header but not exported: $missing"
	[[ $unversioned == 0 ]] || fail "$unversioned exports without the version node KESTREL_VDPA_0"
fi
[[ $(wc -l <"$W/declared") -gt 100 ]] || fail "only $(wc -l <"$W/declared") declarations found: the -aux-info parse broke"
nm -D --defined-only "$L/libkestrel-vdpa.so.0.1.0" | grep -qE ' (swdev_|blk_|net_dev_|fault_|seccomp_)' &&
	fail "internal symbols exported: $(nm -D --defined-only "$L/libkestrel-vdpa.so.0.1.0" | grep -E ' (swdev_|blk_|net_dev_|fault_|seccomp_)' | head -3)"

# Man pages: no groff warning; every name a page's NAME line lists is found.
man3=$ROOT/usr/share/man/man3
bad=0
for p in "$man3"/*.3; do
	grep -q '^\.so ' "$p" && continue
	out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$p" 2>&1)
	[[ -z $out ]] || { fail "${p##*/}: $out"; bad=1; }
	for name in $(sed -n '/^\.SH NAME/{n;p;q}' "$p" | sed 's/ \\-.*//; s/,/ /g'); do
		MANPAGER=cat MANWIDTH=80 man -M "$ROOT/usr/share/man" 3 "$name" 2>/dev/null |
			grep -q "$name" || { fail "man 3 $name finds no page"; bad=1; }
	done
done
((bad)) || pass "$(ls "$man3" | wc -l) man pages: no warnings, every name found by man"

# The program: a bad spec, then a good one until SIGINT.
"$SERVE" --socket "$W/s" --device net,mtu=5 >"$W/bad.out" 2>"$W/bad.err"
rc=$?
[[ $rc == 1 ]] && grep -q "attribute 'mtu'.*mtu=<68..65535>" "$W/bad.err" && [[ ! -e $W/s ]] &&
	pass "a bad spec: exit 1, '$(head -1 "$W/bad.err")'" || fail "bad spec: exit $rc, $(cat "$W/bad.err")"
"$SERVE" --socket "$W/s" --device blk,capacity=1M >"$W/out" 2>"$W/err" &
pid=$!
for ((i = 0; i < 100; i++)); do [[ -S $W/s ]] && break; sleep 0.05; done
[[ -S $W/s ]] && grep -q 'virtio device 2' "$W/out" && pass "serves a blk device: $(head -1 "$W/out")" ||
	fail "no socket: $(cat "$W/out" "$W/err")"
kill -INT "$pid"
wait "$pid"; rc=$?; pid=
[[ $rc == 0 && ! -e $W/s ]] && pass "SIGINT: exit 0, socket removed" || fail "SIGINT: exit $rc, socket $(ls "$W/s" 2>&1)"

make -s --no-print-directory SETUP=0 B="$B" uninstall DESTDIR="$ROOT" PREFIX=/usr
left=$(find "$ROOT" ! -type d | head -5)
[[ -z $left ]] && pass "make uninstall removes every file" || fail "left after uninstall: $left"

((fails)) && { echo "FAIL: $fails check(s)"; exit 1; }
exit 0
