#!/bin/sh
# Installs quorumd: the daemon (PREFIX/sbin) and quorumtool (PREFIX/bin), stripped;
# libquorum.so.5 with its headers and pkg-config file (crates/capi/install.sh); the other
# drop-in libraries libcmap.so.4, libvotequorum.so.8, libcfg.so.7, libcpg.so.4 and
# libcorosync_common.so.4 (Corosync's file names and symlinks) with cmap.h, votequorum.h, cfg.h
# and cpg.h and their pkg-config files (libcmap.pc, libvotequorum.pc, libcfg.pc, libcpg.pc,
# libcorosync_common.pc); the systemd
# unit with this PREFIX's paths (PREFIX/lib/systemd/system); the man pages quorumd(8) and
# quorumtool(1); the example configuration (PREFIX/share/doc/quorumd).
#
# The debug info stays out of what is installed: each binary's is kept beside the build as
# DEBUGDIR/<name>.debug (objcopy --only-keep-debug), and the installed file names it with a
# .gnu_debuglink, so a debugger finds it once it is copied to /usr/lib/debug.
#
# Usage: packaging/install.sh PREFIX
#   DESTDIR=dir   stage under dir, as with make install (the files still name PREFIX's paths)
#   QUORUMD_BUILT=dir   install the binaries already built in dir instead of cargo build --release
#   DEBUGDIR=dir  where the separate debug files go (default: the build dir's debug-files/)
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 PREFIX" >&2
	exit 2
fi
PREFIX=${1%/}
case $PREFIX in
	/*) ;;
	*) echo "$0: PREFIX must be an absolute path, not $PREFIX" >&2; exit 2 ;;
esac
DESTDIR=${DESTDIR:-}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in
	/*) ;;
	*) target=$root/$target ;;
esac
if [ -z "${QUORUMD_BUILT:-}" ]; then
	cargo build --release --manifest-path "$root/Cargo.toml" -p quorumd -p quorumtool -p quorumd-capi \
		-p quorumd-libcmap -p quorumd-libvotequorum -p quorumd-libcfg -p quorumd-libcorosync_common \
		-p quorumd-libcpg
	QUORUMD_BUILT=$target/release
fi
export QUORUMD_BUILT
DEBUGDIR=${DEBUGDIR:-$QUORUMD_BUILT/debug-files}
export DEBUGDIR
. "$root/packaging/strip.sh"

sbindir=$PREFIX/sbin
bindir=$PREFIX/bin
mandir=$PREFIX/share/man
unitdir=$PREFIX/lib/systemd/system
docdir=$PREFIX/share/doc/quorumd

"$root/crates/capi/install.sh" "$PREFIX"
# The other drop-in libraries, laid out as Corosync's: NAME.so.MAJOR.0.0, NAME.so.MAJOR and
# NAME.so symlinks, the header beside quorum.h (corotypes.h came with libquorum).
libdir=${LIBDIR:-$PREFIX/lib}
for lib in cmap:4 votequorum:8 cfg:7 cpg:4 corosync_common:4; do
	name=${lib%:*}
	major=${lib#*:}
	install_stripped "$QUORUMD_BUILT/lib$name.so" "$DESTDIR$libdir/lib$name.so.$major.0.0" 0755
	ln -sfn "lib$name.so.$major.0.0" "$DESTDIR$libdir/lib$name.so.$major"
	ln -sfn "lib$name.so.$major" "$DESTDIR$libdir/lib$name.so"
	if [ -f "$root/crates/lib$name/include/corosync/$name.h" ]; then
		install -m 0644 "$root/crates/lib$name/include/corosync/$name.h" "$DESTDIR$PREFIX/include/corosync/"
	fi
	sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$libdir|g" "$root/crates/lib$name/lib$name.pc.in" \
		> "$DESTDIR$libdir/pkgconfig/lib$name.pc"
done
install -d "$DESTDIR$sbindir" "$DESTDIR$bindir" "$DESTDIR$mandir/man8" "$DESTDIR$mandir/man1" \
	"$DESTDIR$unitdir" "$DESTDIR$docdir"
install_stripped "$QUORUMD_BUILT/quorumd" "$DESTDIR$sbindir/quorumd" 0755
install_stripped "$QUORUMD_BUILT/quorumtool" "$DESTDIR$bindir/quorumtool" 0755
"$QUORUMD_BUILT/quorumd" man "$DESTDIR$mandir/man8" >/dev/null
"$QUORUMD_BUILT/quorumtool" man "$DESTDIR$mandir/man1" >/dev/null
sed -e "s|@SBINDIR@|$sbindir|g" "$root/packaging/quorumd.service.in" > "$DESTDIR$unitdir/quorumd.service"
chmod 0644 "$DESTDIR$unitdir/quorumd.service"
install -m 0644 "$root/packaging/corosync.conf.example" "$DESTDIR$docdir/corosync.conf.example"
echo "installed quorumd, quorumtool, libquorum.so.5, libcmap.so.4, libvotequorum.so.8, libcfg.so.7, libcpg.so.4, libcorosync_common.so.4, headers, man pages and quorumd.service under $DESTDIR$PREFIX"
echo "debug info: $DEBUGDIR"
