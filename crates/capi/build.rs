//! Link `libquorum.so` like Corosync's: SONAME `libquorum.so.5`, and the ten functions under
//! the symbol version `COROSYNC_QUORUM_1.0` (`libquorum.map`).
#![allow(clippy::disallowed_methods)]

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=libquorum.map");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libquorum.map");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libquorum.so.5");
    }
}
