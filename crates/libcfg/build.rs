//! Link like Corosync's library: SONAME `libcfg.so.7` and the version script `libcfg.map`.
#![allow(clippy::disallowed_methods)]

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=libcfg.map");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libcfg.map");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcfg.so.7");
    }
}
