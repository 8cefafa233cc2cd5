//! Link like Corosync's library: SONAME `libcmap.so.4` and the version script `libcmap.map`.
#![allow(clippy::disallowed_methods)]

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=libcmap.map");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libcmap.map");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcmap.so.4");
    }
}
