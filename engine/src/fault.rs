//! Fault injection for the crash-safety proofs: named points in the upgrade code where the
//! process can be made to die, exactly as a `kill -9` or a power cut would kill it.
//!
//! `DAC_FAULT=<point>` aborts the process (no destructors, no rollback, no cleanup) the first
//! time it reaches `<point>`; `DAC_FAULT=<point>@<n>` at the n-th time (1-based), for points
//! inside loops such as a table copy. `DAC_FAULT=<point>=wait:<file>` instead creates `<file>`
//! and waits until something deletes it, so a test can do something (stop the server, write to
//! the original) while dac stands at that point. Several plans, separated by commas, act each
//! at its own point (a wait, then an abort further on). Unset, a point costs one relaxed
//! atomic load.
//!
//! Hand-written rather than a fail-point crate: the proof needs an abort (a panic would unwind
//! and run rollbacks the real crash never runs), and the points must be in the shipped binary,
//! not a test build, so the binary under test is the binary users run.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::time::Duration;

struct Plan {
    point: String,
    nth: u64,
    wait_file: Option<String>,
}

fn plans() -> &'static [Plan] {
    static PLANS: OnceLock<Vec<Plan>> = OnceLock::new();
    PLANS.get_or_init(|| {
        let Ok(text) = std::env::var("DAC_FAULT") else {
            return Vec::new();
        };
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|text| {
                let (spec, wait_file) = match text.split_once("=wait:") {
                    Some((spec, file)) => (spec, Some(file.to_string())),
                    None => (text, None),
                };
                let (point, nth) = match spec.split_once('@') {
                    Some((point, n)) => (point, n.parse().unwrap_or(1)),
                    None => (spec, 1),
                };
                Plan {
                    point: point.to_string(),
                    nth: nth.max(1),
                    wait_file,
                }
            })
            .collect()
    })
}

/// Whether `DAC_FAULT` names the point `name` (for a point that needs its code split in two to
/// be reached, such as a line half written).
pub fn armed(name: &str) -> bool {
    plans().iter().any(|p| p.point == name)
}

/// A fault point. Does nothing unless `DAC_FAULT` names it.
pub fn point(name: &str) {
    let plans = plans();
    if plans.is_empty() || !plans.iter().any(|p| p.point == name) {
        return;
    }
    static HITS: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let hits = {
        let mut map = HITS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = map.entry(name.to_string()).or_insert(0);
        *count += 1;
        *count
    };
    let Some(plan) = plans.iter().find(|p| p.point == name && p.nth == hits) else {
        return;
    };
    match &plan.wait_file {
        Some(file) => {
            // Not eprintln!: a closed stderr must not turn a fault point into a panic.
            let _ = writeln!(
                std::io::stderr(),
                "dac: fault point {name}: waiting for {file} to be removed"
            );
            let _ = std::fs::write(file, name);
            while std::path::Path::new(file).exists() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        None => {
            let _ = writeln!(std::io::stderr(), "dac: fault injected at {name}: aborting");
            std::process::abort();
        }
    }
}
