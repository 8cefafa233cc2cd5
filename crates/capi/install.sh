#!/bin/sh
# Builds libquorum.so.5 in release mode and installs it with Corosync's layout:
#   PREFIX/lib/libquorum.so.5.0.0, libquorum.so.5 -> libquorum.so.5.0.0,
#   libquorum.so -> libquorum.so.5, PREFIX/include/corosync/{quorum.h,corotypes.h},
#   PREFIX/lib/pkgconfig/libquorum.pc
# The library is installed stripped; its debug info goes to DEBUGDIR/libquorum.so.5.0.0.debug.
# Usage: crates/capi/install.sh PREFIX   (LIBDIR=... to override PREFIX/lib; DESTDIR for staging;
#   QUORUMD_BUILT=dir to install the library already built there instead of building it;
#   DEBUGDIR=dir for the debug file, default the build dir's debug-files/)
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 PREFIX" >&2
	exit 2
fi
PREFIX=$1
LIBDIR=${LIBDIR:-$PREFIX/lib}
DESTDIR=${DESTDIR:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in
	/*) ;;
	*) target=$root/$target ;;
esac

if [ -z "${QUORUMD_BUILT:-}" ]; then
	cargo build --release --manifest-path "$root/Cargo.toml" -p quorumd-capi
	QUORUMD_BUILT=$target/release
fi
DEBUGDIR=${DEBUGDIR:-$QUORUMD_BUILT/debug-files}
. "$root/packaging/strip.sh"

install -d "$DESTDIR$LIBDIR/pkgconfig" "$DESTDIR$PREFIX/include/corosync"
install_stripped "$QUORUMD_BUILT/libquorum.so" "$DESTDIR$LIBDIR/libquorum.so.5.0.0" 0755
ln -sfn libquorum.so.5.0.0 "$DESTDIR$LIBDIR/libquorum.so.5"
ln -sfn libquorum.so.5 "$DESTDIR$LIBDIR/libquorum.so"
install -m 0644 "$here/include/corosync/quorum.h" "$here/include/corosync/corotypes.h" \
	"$DESTDIR$PREFIX/include/corosync/"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$LIBDIR|g" "$here/libquorum.pc.in" \
	> "$DESTDIR$LIBDIR/pkgconfig/libquorum.pc"
echo "installed libquorum.so.5 into $DESTDIR$LIBDIR"
