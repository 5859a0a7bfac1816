# Sourced (not run: not executable) by the tests of libkestrel-vdpa as a
# user gets it: tests/build/library.sh and tests/peers/library-dpdk.sh.
#
# lib_install W : `make install PREFIX=/usr DESTDIR=W/root` of this tree,
# then examples/vdpa-serve.c copied to W/src and built there with nothing
# but what pkg-config says about the installed kestrel-vdpa (no path into
# the tree). Sets ROOT (the DESTDIR) and SERVE (the program). Returns
# non-zero, with the reason on stdout, if either step fails.
lib_install() {
	local w=$1 flags
	ROOT=$w/root SERVE=$w/src/vdpa-serve
	if ! make -s --no-print-directory SETUP=0 B="${B:-build}" install \
		DESTDIR="$ROOT" PREFIX=/usr >"$w/install.log" 2>&1; then
		echo "make install failed:"; tail -20 "$w/install.log"
		return 1
	fi
	mkdir -p "$w/src" && cp examples/vdpa-serve.c "$w/src/" || return 1
	# Only the installed .pc: PKG_CONFIG_LIBDIR replaces the default path;
	# the sysroot prefixes the -I and -L it gives with the DESTDIR.
	if ! flags=$(PKG_CONFIG_LIBDIR=$ROOT/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$ROOT \
		pkg-config --cflags --libs kestrel-vdpa 2>&1); then
		echo "pkg-config --cflags --libs kestrel-vdpa: $flags"
		return 1
	fi
	LIB_FLAGS=$flags
	# shellcheck disable=SC2086 # the flags are words
	if ! (cd "$w/src" && cc -std=gnu11 -O2 -Wall -Wextra -Werror -o vdpa-serve vdpa-serve.c \
		$flags -Wl,-rpath,"$ROOT/usr/lib") >"$w/cc.log" 2>&1; then
		echo "building examples/vdpa-serve.c against the installed library failed:"
		cat "$w/cc.log"
		return 1
	fi
}
