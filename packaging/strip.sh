# Sourced by packaging/install.sh and crates/capi/install.sh.
# install_stripped SRC DEST MODE: installs SRC as DEST without its debug info and symbol table;
# the debug info goes to $DEBUGDIR/<name>.debug, which DEST names in its .gnu_debuglink, and
# the split DWARF of the release profile (split-debuginfo = "packed": SRC.dwp) to
# $DEBUGDIR/<name>.dwp.
install_stripped() {
	_name=$(basename "$2")
	_dest=$(cd "$(dirname "$2")" && pwd)/$_name
	mkdir -p "$DEBUGDIR"
	objcopy --only-keep-debug "$1" "$DEBUGDIR/$_name.debug"
	if [ -f "$1.dwp" ]; then
		cp "$1.dwp" "$DEBUGDIR/$_name.dwp"
	fi
	install -m "$3" "$1" "$_dest"
	strip --strip-unneeded "$_dest"
	(cd "$DEBUGDIR" && objcopy --add-gnu-debuglink="$_name.debug" "$_dest")
}
