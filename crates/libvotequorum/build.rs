//! Link like Corosync's library: SONAME `libvotequorum.so.8`, version script
//! `libvotequorum.map`.
#![allow(clippy::disallowed_methods)]

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=libvotequorum.map");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libvotequorum.map");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvotequorum.so.8");
    }
}
