//! The shipped `dac` binary, for suites that run it as a user would (the fault proofs, the
//! scripts run with the platforms' own clients, lock timeouts).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The `dac` binary of this build (`target/<profile>/dac`), built first when it is missing or
/// older than the sources (`cargo test -p dac-tests` alone does not build other crates' binaries;
/// `cargo test --workspace` does, so this is a no-op there).
pub fn dac_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable");
        // target/<profile>/deps/<test>-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable lives in target/<profile>/deps")
            .to_path_buf();
        let bin = profile_dir.join(format!("dac{}", std::env::consts::EXE_SUFFIX));
        let root = crate::workspace_root();
        let newest = [
            "engine/src",
            "cli/src",
            "engine/Cargo.toml",
            "cli/Cargo.toml",
        ]
        .iter()
        .filter_map(|p| newest_mtime(&root.join(p)))
        .chain(newest_mtime(&root.join("Cargo.lock")))
        .max();
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
        if built.is_none() || newest.is_some_and(|n| built.is_some_and(|b| b < n)) {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.current_dir(&root)
                .args(["build", "-p", "dac-cli", "--bin", "dac", "--target-dir"])
                .arg(profile_dir.parent().expect("target directory"));
            match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => {}
                Some("release") => {
                    cmd.arg("--release");
                }
                Some(other) => {
                    cmd.args(["--profile", other]);
                }
            }
            let status = cmd.status().expect("run cargo build");
            assert!(status.success(), "cargo build -p dac-cli failed: {status}");
        }
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}

fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter_map(|e| newest_mtime(&e.path()))
        .max()
}
