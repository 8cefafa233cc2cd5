#!/bin/sh
# Installs quorumd: the daemon and quorumtool (PREFIX/sbin, PREFIX/bin), libquorum.so.5 with its
# headers and pkg-config file (crates/capi/install.sh), the systemd unit and the man pages
# generated from the command-line definitions.
# Usage: packaging/install.sh PREFIX   (DESTDIR for staging, as with make install)
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 PREFIX" >&2
	exit 2
fi
PREFIX=$1
DESTDIR=${DESTDIR:-}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

"$root/crates/capi/install.sh" "$PREFIX"
cargo build --release --manifest-path "$root/Cargo.toml" -p quorumd -p quorumtool
install -d "$DESTDIR$PREFIX/sbin" "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/share/man/man8" \
	"$DESTDIR$PREFIX/share/man/man1" "$DESTDIR$PREFIX/lib/systemd/system"
install -m 0755 "$target/release/quorumd" "$DESTDIR$PREFIX/sbin/quorumd"
install -m 0755 "$target/release/quorumtool" "$DESTDIR$PREFIX/bin/quorumtool"
"$target/release/quorumd" man "$DESTDIR$PREFIX/share/man/man8"
"$target/release/quorumtool" man "$DESTDIR$PREFIX/share/man/man1"
sed "s|/usr/local/bin/quorumd|$PREFIX/sbin/quorumd|g" "$root/packaging/quorumd.service" \
	> "$DESTDIR$PREFIX/lib/systemd/system/quorumd.service"
echo "installed quorumd, quorumtool, libquorum.so.5, headers, man pages and quorumd.service under $DESTDIR$PREFIX"
