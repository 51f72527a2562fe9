//! Support for dac's corpus, conformance and live-database suites.
//!
//! The corpus and conformance data live in `../shared` beside the repository (CI always has it).
//! Where it is absent, [`shared_dir`] says so loudly on stderr and the suites that need it return
//! early, so the rest of the suite still runs; set `DAC_REQUIRE_SHARED=1` (CI does) to make a missing
//! `../shared` a failure instead.

pub mod binary;
pub mod postgres;

use std::path::{Path, PathBuf};

pub mod conformance;
pub mod mssqldef;
pub mod synthetic;

/// Prints a suite's headline (`conformance psqldef: P/N passed`) and appends it to
/// `target/dac-summary.txt`, which `scripts/test.sh` prints after the run: cargo's test harness
/// hides the output of passing tests.
pub fn summary(line: &str) {
    use std::io::Write;
    println!("{line}");
    let path = workspace_root().join("target/dac-summary.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate lives in the workspace")
        .to_path_buf()
}

/// `../shared` (or `$DAC_SHARED_DIR`), or `None` after printing why a suite cannot run.
pub fn shared_dir(suite: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("DAC_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    if dir.join("corpus").is_dir() {
        return Some(dir);
    }
    let message = format!(
        "NOT RUN: suite `{suite}` needs the shared corpus at {} (set DAC_SHARED_DIR to point elsewhere)",
        dir.display()
    );
    if std::env::var_os("DAC_REQUIRE_SHARED").is_some() {
        panic!("{message}");
    }
    eprintln!("\n*** {message} ***\n");
    None
}

/// Every `.dacpac` under `corpus/dacpac`, sorted.
pub fn corpus_dacpacs(shared: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect(&shared.join("corpus/dacpac"), "dacpac", &mut out);
    out.sort();
    out
}

fn collect(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}
