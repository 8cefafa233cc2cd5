//! `packaging/install.sh`: into a temporary PREFIX (and a DESTDIR staging of another PREFIX) from
//! this build's binaries: every file where it belongs, binaries and library stripped with their
//! debug info kept aside, a unit whose paths are the PREFIX's, man pages that name only installed
//! pages; every library's pkg-config file resolving, in a DESTDIR staging, to flags that
//! compile and link a program; and `systemd-analyze verify` on the installed unit where
//! systemd is present.
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "../../../tests/support/prereq.rs"]
mod prereq;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{profile_dir, repo_root};

fn main() {
    prereq::run(vec![
        prereq::needs(
            "install_sh_installs_stripped_files_whose_paths_match_the_prefix",
            needs_binutils,
            install_sh_installs_stripped_files_whose_paths_match_the_prefix,
        ),
        prereq::needs(
            "pkg_config_resolves_every_library_installed_into_a_destdir",
            needs_pkg_config_and_cc,
            pkg_config_resolves_every_library_installed_into_a_destdir,
        ),
        prereq::needs(
            "the_installed_unit_passes_systemd_analyze_verify",
            needs_systemd_analyze,
            the_installed_unit_passes_systemd_analyze_verify,
        ),
    ]);
}

fn needs_binutils() -> Option<String> {
    prereq::missing(&[(
        ["objcopy", "strip", "readelf"].iter().all(|t| prereq::has_command(t)),
        "objcopy, strip and readelf (apt-get install binutils)",
    )])
}

fn needs_pkg_config_and_cc() -> Option<String> {
    needs_binutils().or_else(|| {
        prereq::missing(&[
            (prereq::has_command("pkg-config"), "pkg-config (apt-get install pkg-config)"),
            (prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)"),
        ])
    })
}

fn needs_systemd_analyze() -> Option<String> {
    needs_binutils().or_else(|| {
        prereq::missing(&[(
            prereq::has_command("systemd-analyze"),
            "systemd-analyze (apt-get install systemd)",
        )])
    })
}

/// A temporary directory removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!("quorumd-install-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Temp(dir)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds the three artefacts of this profile (cheap when they are up to date).
fn build() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "quorumd-capi", "-p", "quorumd", "-p", "quorumtool"])
            .args(["-p", "quorumd-libcmap", "-p", "quorumd-libvotequorum", "-p", "quorumd-libcfg"])
            .args(["-p", "quorumd-libcorosync_common", "-p", "quorumd-libcpg"])
            .current_dir(repo_root());
        if profile_dir().ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().expect("run cargo build").success(), "cargo build failed");
    });
}

/// Runs install.sh PREFIX with DESTDIR (may be empty); the debug files go to `debug`.
fn install(prefix: &Path, destdir: &str, debug: &Path) {
    build();
    let out = Command::new("sh")
        .arg(repo_root().join("packaging/install.sh"))
        .arg(prefix)
        .env("DESTDIR", destdir)
        .env("QUORUMD_BUILT", profile_dir())
        .env("DEBUGDIR", debug)
        .output()
        .expect("run install.sh");
    assert!(
        out.status.success(),
        "install.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sections(file: &Path) -> String {
    let out = Command::new("readelf").args(["-S", "-W"]).arg(file).output().unwrap();
    assert!(out.status.success(), "readelf {}", file.display());
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn install_sh_installs_stripped_files_whose_paths_match_the_prefix() {
    let tmp = Temp::new("prefix");
    let prefix = tmp.0.join("opt/quorumd");
    let debug = tmp.0.join("debug");
    install(&prefix, "", &debug);

    for f in [
        "sbin/quorumd",
        "bin/quorumtool",
        "lib/libquorum.so.5.0.0",
        "lib/libquorum.so.5",
        "lib/libquorum.so",
        "lib/pkgconfig/libquorum.pc",
        "include/corosync/quorum.h",
        "include/corosync/corotypes.h",
        "lib/libcmap.so.4.0.0",
        "lib/libcmap.so.4",
        "lib/libcmap.so",
        "include/corosync/cmap.h",
        "lib/libvotequorum.so.8.0.0",
        "lib/libvotequorum.so.8",
        "lib/libvotequorum.so",
        "include/corosync/votequorum.h",
        "lib/libcfg.so.7.0.0",
        "lib/libcfg.so.7",
        "lib/libcfg.so",
        "include/corosync/cfg.h",
        "lib/libcpg.so.4.0.0",
        "lib/libcpg.so.4",
        "lib/libcpg.so",
        "include/corosync/cpg.h",
        "lib/pkgconfig/libcpg.pc",
        "lib/libcorosync_common.so.4.0.0",
        "lib/libcorosync_common.so.4",
        "lib/libcorosync_common.so",
        "share/man/man8/quorumd.8",
        "share/man/man1/quorumtool.1",
        "lib/systemd/system/quorumd.service",
        "share/doc/quorumd/corosync.conf.example",
    ] {
        assert!(prefix.join(f).exists(), "{f} not installed");
    }
    // Stripped: no DWARF, no symbol table; the debug info is kept aside and named by a debuglink.
    for (installed, name) in [
        ("sbin/quorumd", "quorumd"),
        ("bin/quorumtool", "quorumtool"),
        ("lib/libquorum.so.5.0.0", "libquorum.so.5.0.0"),
        ("lib/libcmap.so.4.0.0", "libcmap.so.4.0.0"),
        ("lib/libvotequorum.so.8.0.0", "libvotequorum.so.8.0.0"),
        ("lib/libcfg.so.7.0.0", "libcfg.so.7.0.0"),
        ("lib/libcpg.so.4.0.0", "libcpg.so.4.0.0"),
        ("lib/libcorosync_common.so.4.0.0", "libcorosync_common.so.4.0.0"),
    ] {
        let s = sections(&prefix.join(installed));
        assert!(!s.contains(".debug_info"), "{installed} keeps its debug info:\n{s}");
        assert!(!s.contains(" .symtab "), "{installed} keeps its symbol table:\n{s}");
        assert!(s.contains(".gnu_debuglink"), "{installed} names no debug file:\n{s}");
        let kept = sections(&debug.join(format!("{name}.debug")));
        assert!(kept.contains(".debug_info"), "{name}.debug holds no debug info:\n{kept}");
        // libNAME.so.M.0.0 was built as libNAME.so.
        let built_name = match name.find(".so") {
            Some(i) => format!("{}.so", &name[..i]),
            None => name.to_string(),
        };
        let built = std::fs::metadata(profile_dir().join(built_name)).unwrap().len();
        let size = std::fs::metadata(prefix.join(installed)).unwrap().len();
        assert!(size < built / 2, "{installed}: {size} bytes installed of {built} built");
    }
    // The installed programs run.
    let version = Command::new(prefix.join("bin/quorumtool")).arg("--version").output().unwrap();
    assert!(version.status.success());
    let version = Command::new(prefix.join("sbin/quorumd")).arg("--version").output().unwrap();
    assert!(version.status.success());

    // The unit names this prefix's binary, and no other path of ours.
    let unit = std::fs::read_to_string(prefix.join("lib/systemd/system/quorumd.service")).unwrap();
    let sbin = prefix.join("sbin/quorumd");
    assert!(unit.contains(&format!("\nExecStart={} --config", sbin.display())), "{unit}");
    assert!(unit.contains(&format!("\nExecStartPre={} --check-config", sbin.display())), "{unit}");
    assert!(!unit.contains("/usr/local") && !unit.contains('@'), "{unit}");

    // Two man pages, and every page they name is one of them.
    let pages: Vec<String> = ["share/man/man8", "share/man/man1"]
        .iter()
        .flat_map(|d| std::fs::read_dir(prefix.join(d)).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(pages, vec!["quorumd.8".to_string(), "quorumtool.1".to_string()]);
    for page in ["share/man/man8/quorumd.8", "share/man/man1/quorumtool.1"] {
        let text = std::fs::read_to_string(prefix.join(page)).unwrap();
        for (i, _) in text.match_indices("\\fR(") {
            let start = text[..i].rfind("\\fB").unwrap() + 3;
            let named = format!("{}.{}", &text[start..i], &text[i + 4..i + 5]);
            assert!(pages.contains(&named), "{page} names {named}, which is not installed");
        }
        for section in ["FILES", "SIGNALS", "ENVIRONMENT", "\"EXIT STATUS\"", "\"SEE ALSO\""] {
            assert!(text.contains(&format!(".SH {section}\n")), "{page}: no {section}");
        }
        assert!(text.contains(".B QUORUMD_SOCKET") && text.contains(".B QUORUMD_LOG"), "{page}");
    }

    // Staged: the files land under DESTDIR, their contents name PREFIX alone.
    let stage = tmp.0.join("stage");
    install(Path::new("/opt/quorumd-staged"), stage.to_str().unwrap(), &debug);
    let staged = stage.join("opt/quorumd-staged");
    let unit = std::fs::read_to_string(staged.join("lib/systemd/system/quorumd.service")).unwrap();
    assert!(unit.contains("\nExecStart=/opt/quorumd-staged/sbin/quorumd --config"), "{unit}");
    assert!(!unit.contains(stage.to_str().unwrap()), "DESTDIR leaked into the unit:\n{unit}");
    let pc = std::fs::read_to_string(staged.join("lib/pkgconfig/libquorum.pc")).unwrap();
    assert!(pc.contains("/opt/quorumd-staged") && !pc.contains(stage.to_str().unwrap()), "{pc}");
    assert!(!Path::new("/opt/quorumd-staged").exists(), "installed outside DESTDIR");
}

fn the_installed_unit_passes_systemd_analyze_verify() {
    let tmp = Temp::new("verify");
    let prefix = tmp.0.join("usr");
    install(&prefix, "", &tmp.0.join("debug"));
    let unit = prefix.join("lib/systemd/system/quorumd.service");
    let mut verify = Command::new("systemd-analyze");
    verify.arg("verify");
    if prereq::has_command("man") {
        // Documentation=man:quorumd(8) is checked too: against the pages just installed.
        verify.env("MANPATH", prefix.join("share/man"));
    } else {
        verify.arg("--man=no");
    }
    let out = verify.arg(&unit).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Only what it says about our unit counts (a container's own units may draw remarks).
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("quorumd")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify {}:\n{text}", unit.display());
}

/// Staged into a DESTDIR, each library's `.pc` resolves (with the staging as pkg-config's
/// sysroot and only the staged files on its path) to the staged headers and library, and a C
/// program calling each library compiles and links with exactly those flags.
fn pkg_config_resolves_every_library_installed_into_a_destdir() {
    let tmp = Temp::new("pkgconfig");
    let stage = tmp.0.join("stage");
    install(Path::new("/opt/quorumd-pc"), stage.to_str().unwrap(), &tmp.0.join("debug"));
    let staged = stage.join("opt/quorumd-pc");
    let pkg_config = |args: &[&str]| {
        let out = Command::new("pkg-config")
            .args(args)
            // Only the staged files: Debian's own libcmap.pc and friends must not answer.
            .env("PKG_CONFIG_LIBDIR", staged.join("lib/pkgconfig"))
            .env_remove("PKG_CONFIG_PATH")
            .env("PKG_CONFIG_SYSROOT_DIR", &stage)
            .output()
            .expect("run pkg-config");
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(out.status.success(), "pkg-config {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        text
    };
    let program = tmp.0.join("uses.c");
    let calls = [
        ("libquorum", "quorum", "quorum_handle_t h; return (int)quorum_initialize(&h, NULL, NULL);"),
        ("libcmap", "cmap", "cmap_handle_t h; return (int)cmap_initialize(&h);"),
        (
            "libvotequorum",
            "votequorum",
            "votequorum_handle_t h; return (int)votequorum_initialize(&h, NULL);",
        ),
        ("libcfg", "cfg", "corosync_cfg_handle_t h; return (int)corosync_cfg_initialize(&h, NULL);"),
        ("libcpg", "cpg", "cpg_handle_t h; return (int)cpg_initialize(&h, NULL);"),
        ("libcorosync_common", "corotypes", "return cs_strerror(CS_OK) == NULL;"),
    ];
    for (pc, header, body) in calls {
        let libs = pkg_config(&["--libs", pc]);
        let flag = pc.strip_prefix("lib").unwrap();
        assert_eq!(libs, format!("-L{}/lib -l{flag}", staged.display()), "{pc}");
        let cflags = pkg_config(&["--cflags", pc]);
        assert_eq!(cflags, format!("-I{}/include", staged.display()), "{pc}");
        assert_eq!(pkg_config(&["--modversion", pc]), "3.1.7", "{pc}");
        let pc_text = std::fs::read_to_string(staged.join(format!("lib/pkgconfig/{pc}.pc"))).unwrap();
        assert!(!pc_text.contains(stage.to_str().unwrap()), "DESTDIR leaked into {pc}.pc:\n{pc_text}");

        std::fs::write(&program, format!("#include <corosync/{header}.h>\nint main(void) {{ {body} }}\n"))
            .unwrap();
        let exe = tmp.0.join(format!("uses-{pc}"));
        let out = Command::new("cc")
            .args(["-Wall", "-Werror", "-H"])
            .args(cflags.split_whitespace())
            .arg(&program)
            .arg("-o")
            .arg(&exe)
            .args(libs.split_whitespace())
            // The linker names every file it used.
            .arg("-Wl,-t")
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{pc}: cc failed:\n{stderr}");
        // The staged header and library were used, not Debian's (-H lists headers on stderr).
        let header_used = format!(". {}/include/corosync/{header}.h", staged.display());
        assert!(stderr.lines().any(|l| l == header_used), "{pc}: not the staged header:\n{stderr}");
        let lib_used = format!("{}/lib/{pc}.so", staged.display());
        assert!(
            stdout.contains(&lib_used) || stderr.contains(&lib_used),
            "{pc}: not {lib_used}:\n{stdout}{stderr}"
        );
    }
}
