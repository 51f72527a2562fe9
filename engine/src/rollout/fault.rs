//! Fault injection for crash tests: `DAC_FAULT=NAME:N` aborts the process the Nth time (from 1)
//! it reaches the point `NAME`, as a `kill -9` would stop it there. Points: `rollout.after-backup`
//! (copy made, journal not yet told), `rollout.after-upgrade` (upgrade committed, journal not
//! yet told), `rollout.after-target` (journal written), `rollout.after-checks` (checks run,
//! domain not yet marked), `rollout.after-restore` (a rollback's restore done, journal not yet
//! told). Unset, it costs one environment look-up.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static FAULT: OnceLock<Option<(String, u64)>> = OnceLock::new();
static REACHED: AtomicU64 = AtomicU64::new(0);

/// Aborts the process here when `DAC_FAULT` names this point and this is its Nth visit.
pub fn point(name: &str) {
    let fault = FAULT.get_or_init(|| {
        let text = std::env::var("DAC_FAULT").ok()?;
        let (point, n) = text.rsplit_once(':')?;
        Some((point.to_string(), n.trim().parse().ok()?))
    });
    if let Some((point, n)) = fault
        && point == name
        && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n
    {
        eprintln!("DAC_FAULT: aborting at {name} (visit {n})");
        std::process::abort();
    }
}
