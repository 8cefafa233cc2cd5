//! The architecture's dependency rule, checked on every crate's manifest (README.md):
//! `proto ← {totem, votequorum} ← node ← {daemon, sim}` and `proto ← client ← {capi, tool}`;
//! the core crates never depend on a shell, and the client side never links the daemon.
#![allow(clippy::disallowed_methods)] // reads the manifests

use std::collections::BTreeMap;

/// Workspace crates each crate may depend on (normal dependencies; dev-dependencies are free).
const ALLOWED: &[(&str, &[&str])] = &[
    ("proto", &[]),
    ("totem", &["quorumd-proto"]),
    ("votequorum", &["quorumd-proto"]),
    ("cpg", &["quorumd-proto"]),
    ("crypto", &[]),
    ("config", &["quorumd-proto"]),
    ("cmap", &["quorumd-proto", "quorumd-config"]),
    (
        "node",
        &[
            "quorumd-proto",
            "quorumd-totem",
            "quorumd-votequorum",
            "quorumd-crypto",
            "quorumd-config",
            "quorumd-cmap",
            "quorumd-cpg",
        ],
    ),
    (
        "daemon",
        &[
            "quorumd-node",
            "quorumd-cmap",
            "quorumd-config",
            "quorumd-crypto",
            "quorumd-proto",
            "quorumd-totem",
            "quorumd-votequorum",
        ],
    ),
    ("sim", &["quorumd-node", "quorumd-config", "quorumd-proto", "quorumd-totem", "quorumd-votequorum"]),
    ("client", &["quorumd-proto"]),
    ("capi", &["quorumd-client", "quorumd-cabi", "quorumd-proto"]),
    // The drop-in C libraries: thin packages over the shared C-ABI crate.
    ("cabi", &["quorumd-client", "quorumd-proto"]),
    ("libcmap", &["quorumd-cabi"]),
    ("libvotequorum", &["quorumd-cabi"]),
    ("libcfg", &["quorumd-cabi"]),
    ("libcorosync_common", &["quorumd-cabi"]),
    // libcpg.so.4 also speaks CPG's chunked IPC through the client crate directly.
    ("libcpg", &["quorumd-client", "quorumd-cabi"]),
    // what-if runs the simulator (the protocol core, never the daemon shell) on the real config.
    (
        "tool",
        &[
            "quorumd-client",
            "quorumd-proto",
            "quorumd-config",
            "quorumd-sim",
            "quorumd-totem",
            "quorumd-votequorum",
        ],
    ),
];

/// The workspace crates named in a manifest's `[dependencies]` section.
fn workspace_deps(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_deps = t == "[dependencies]";
            continue;
        }
        if in_deps {
            if let Some(name) = t.split(['=', '.']).next().map(str::trim) {
                if name.starts_with("quorumd") {
                    out.push(name.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn dependencies_point_one_way() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(manifest) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else { continue };
        let rule = allowed.get(name.as_str()).unwrap_or_else(|| panic!("crates/{name} has no layering rule"));
        for dep in workspace_deps(&manifest) {
            assert!(rule.contains(&dep.as_str()), "crates/{name} must not depend on {dep}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "found only {checked} crates");
}

#[test]
fn the_rule_is_itself_checked() {
    let bad = "[dependencies]\nquorumd-node.workspace = true\n";
    assert_eq!(workspace_deps(bad), vec!["quorumd-node"]);
    assert!(!ALLOWED.iter().find(|(c, _)| *c == "client").unwrap().1.contains(&"quorumd-node"));
}
