//! A database's state at a glance (`dac status`): its registration, its drift from it, what the
//! last side-by-side upgrade left (a retained original, an interrupted run) and its last action.

use super::{Phase, drift, journal};
use crate::Result;
use crate::driver::{self, Target, connect_server};
use crate::report::{FORMAT_VERSION, RegisteredApplication, StatusReport};

/// The state of `target`, read without changing anything (an interrupted run is reported, not
/// recovered).
pub fn status(target: &Target) -> Result<StatusReport> {
    let journal = journal(target)?;
    let interrupted = journal
        .as_ref()
        .filter(|j| j.phase != Phase::Done)
        .map(|j| {
            serde_json::to_value(j.phase)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        });
    let retained_original = match journal.as_ref().filter(|j| j.phase == Phase::Done) {
        Some(j) if connect_server(target)?.exists(&j.retained)? => Some(j.retained.clone()),
        _ => None,
    };
    let mut driver = driver::connect(target, false)?;
    let drifted = drift(driver.as_mut())?;
    let registration = drifted
        .as_ref()
        .map(|(registration, _)| RegisteredApplication::of(registration));
    let drift = drifted.map(|(_, diff)| {
        crate::report::changes(&diff)
            .into_iter()
            .map(|c| format!("{} {} {}", c.action, c.kind, c.name))
            .collect()
    });
    let last = driver.history()?.pop();
    Ok(StatusReport {
        format_version: FORMAT_VERSION,
        target: target.to_string(),
        registration,
        drift,
        retained_original,
        interrupted,
        last,
    })
}
