//! Link like Corosync's library: SONAME `libcpg.so.4` and the version script `libcpg.map`.
#![allow(clippy::disallowed_methods)]

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=libcpg.map");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libcpg.map");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcpg.so.4");
    }
}
