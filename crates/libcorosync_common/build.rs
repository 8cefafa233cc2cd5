//! Link like Corosync's library: SONAME `libcorosync_common.so.4` and the version script `libcorosync_common.map`.
#![allow(clippy::disallowed_methods)]

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=libcorosync_common.map");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libcorosync_common.map");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcorosync_common.so.4");
    }
}
