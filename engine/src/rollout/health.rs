//! Health checks of one upgraded target: SQL probes with expected results, "no drift from the
//! definition just registered", and a command.

use std::path::Path;
use std::time::Instant;

use super::journal::CheckResult;
use super::spec::{Health, TargetSpec};
use crate::driver::{self, redact};
use crate::upgrade;

/// Runs every configured check on one target; a target that cannot be reached fails a
/// `connect` check instead.
pub fn check(
    health: &Health,
    target: &TargetSpec,
    domain: usize,
    version: &str,
    folder: &Path,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    if !health.probes.is_empty() || health.no_drift {
        let started = Instant::now();
        match driver::connect(&target.target, false) {
            Err(e) => results.push(CheckResult {
                check: "connect".into(),
                ok: false,
                detail: e.to_string(),
                ms: elapsed(started),
            }),
            Ok(mut driver) => {
                for probe in &health.probes {
                    let started = Instant::now();
                    let (ok, detail) = match driver.query(&probe.sql) {
                        Ok(rows) => match probe.expect.mismatch(&rows) {
                            None => (true, String::new()),
                            Some(why) => (false, why),
                        },
                        Err(e) => (false, e.to_string()),
                    };
                    results.push(CheckResult {
                        check: format!("probe {}", probe.name),
                        ok,
                        detail,
                        ms: elapsed(started),
                    });
                }
                if health.no_drift {
                    let started = Instant::now();
                    let (ok, detail) = match upgrade::drift(driver.as_mut()) {
                        Ok(Some((_, diff))) if diff.is_empty() => (true, String::new()),
                        Ok(Some((registration, diff))) => (
                            false,
                            format!(
                                "drifted from {} {}:\n{}",
                                registration.name,
                                registration.version,
                                upgrade::describe_drift(&diff)
                            ),
                        ),
                        Ok(None) => (false, "not registered".into()),
                        Err(e) => (false, e.to_string()),
                    };
                    results.push(CheckResult {
                        check: "no drift".into(),
                        ok,
                        detail,
                        ms: elapsed(started),
                    });
                }
            }
        }
    }
    if let Some(command) = &health.command {
        results.push(run_command(command, target, domain, version, folder));
    }
    results
}

fn run_command(
    command: &str,
    target: &TargetSpec,
    domain: usize,
    version: &str,
    folder: &Path,
) -> CheckResult {
    let started = Instant::now();
    let connection = target.target.connection_string();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(folder)
        .env("DAC_TARGET", connection)
        .env("DAC_TARGET_NAME", target.key())
        .env("DAC_DOMAIN", domain.to_string())
        .env("DAC_VERSION", version)
        .stdin(std::process::Stdio::null())
        .output();
    let (ok, detail) = match output {
        Err(e) => (false, format!("cannot run sh: {e}")),
        Ok(out) if out.status.success() => (true, String::new()),
        Ok(out) => {
            let text = String::from_utf8_lossy(if out.stderr.is_empty() {
                &out.stdout
            } else {
                &out.stderr
            })
            .into_owned();
            let last = text.lines().rev().find(|l| !l.trim().is_empty());
            (
                false,
                format!(
                    "{} ({}){}",
                    command,
                    out.status,
                    last.map(|l| format!(": {}", redact(l.trim())))
                        .unwrap_or_default()
                ),
            )
        }
    };
    CheckResult {
        check: "command".into(),
        ok,
        detail,
        ms: elapsed(started),
    }
}

fn elapsed(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
