//! Health checks of one upgraded target: SQL probes with expected results, "no drift from the
//! definition just registered", and a command.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
                output: String::new(),
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
                        output: String::new(),
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
                        output: String::new(),
                    });
                }
            }
        }
    }
    if let Some(command) = &health.command {
        results.push(run_command(
            command,
            health.command_timeout,
            target,
            domain,
            version,
            folder,
        ));
    }
    results
}

/// The most of a health command's output kept for the report: its last lines, up to this many
/// bytes.
const OUTPUT_KEPT: usize = 4000;

fn run_command(
    command: &str,
    timeout: Duration,
    target: &TargetSpec,
    domain: usize,
    version: &str,
    folder: &Path,
) -> CheckResult {
    let started = Instant::now();
    let connection = target.target.connection_string();
    let mut process = Command::new("sh");
    process
        .arg("-c")
        .arg(command)
        .current_dir(folder)
        .env("DAC_TARGET", connection)
        .env("DAC_TARGET_NAME", target.key())
        .env("DAC_DOMAIN", domain.to_string())
        .env("DAC_VERSION", version)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so a timeout kills what it started too.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut process, 0);
    let mut child = match process.spawn() {
        Ok(child) => child,
        Err(e) => return result(false, format!("cannot run sh: {e}"), String::new(), started),
    };
    let readers = [
        child.stdout.take().map(|out| read_all(Box::new(out))),
        child.stderr.take().map(|err| read_all(Box::new(err))),
    ];
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(&mut child);
                break Err(format!(
                    "{command}: still running after {} s (health.command_timeout_seconds): killed",
                    timeout.as_secs_f64()
                ));
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                kill_group(&mut child);
                break Err(format!("{command}: cannot wait for it: {e}"));
            }
        }
    };
    // What it printed, stdout then stderr; a reader still blocked (a process that escaped the
    // group holds the pipe) is given up after a moment.
    let mut output = String::new();
    for reader in readers.into_iter().flatten() {
        if let Ok(bytes) = reader.recv_timeout(Duration::from_secs(2)) {
            output.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    let output = tail(&redact(&output));
    match status {
        Ok(status) if status.success() => result(true, String::new(), output, started),
        Ok(status) => {
            let last = output.lines().rev().find(|l| !l.trim().is_empty());
            let detail = format!(
                "{} ({}){}",
                command,
                status,
                last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
            );
            result(false, detail, output, started)
        }
        Err(detail) => result(false, detail, output, started),
    }
}

fn result(ok: bool, detail: String, output: String, started: Instant) -> CheckResult {
    CheckResult {
        check: "command".into(),
        ok,
        detail,
        ms: elapsed(started),
        output,
    }
}

/// Reads a pipe to its end on a thread of its own (so a full pipe never stalls the command).
fn read_all(mut pipe: Box<dyn Read + Send>) -> mpsc::Receiver<Vec<u8>> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = send.send(bytes);
    });
    receive
}

/// Kills the command and everything in its process group.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // `kill` rather than a libc call: this crate has no unsafe code.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last lines of `text`, at most [`OUTPUT_KEPT`] bytes.
fn tail(text: &str) -> String {
    let text = text.trim_end();
    if text.len() <= OUTPUT_KEPT {
        return text.to_string();
    }
    let mut start = text.len() - OUTPUT_KEPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let start = text[start..].find('\n').map_or(start, |n| start + n + 1);
    format!("(earlier output cut)\n{}", &text[start..])
}

fn elapsed(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Target;
    use crate::rollout::spec::Mode;

    fn command_check(command: &str, timeout: Duration) -> CheckResult {
        let health = Health {
            command: Some(command.into()),
            command_timeout: timeout,
            ..Health::default()
        };
        let target = TargetSpec {
            target: Target::parse("postgres://app:s3cret@db1:5432/shop").unwrap(),
            mode: Mode::InPlace,
        };
        let folder = std::env::temp_dir();
        let mut results = check(&health, &target, 0, "2.0.0", &folder);
        assert_eq!(results.len(), 1);
        results.remove(0)
    }

    #[test]
    fn a_health_command_that_outruns_its_timeout_is_killed_and_its_output_kept() {
        // The command and the process it started are killed; what they printed is kept.
        let result = command_check(
            "echo checking $DAC_TARGET_NAME; sleep 60 & echo started; sleep 60",
            Duration::from_millis(300),
        );
        assert!(!result.ok);
        assert!(
            result.detail.contains("still running after 0.3 s") && result.detail.contains("killed"),
            "{}",
            result.detail
        );
        assert!(
            result
                .output
                .contains("checking postgres://app:***@db1:5432/shop"),
            "{}",
            result.output
        );
        assert!(result.output.contains("started"), "{}", result.output);
        // A command that passes keeps its output too, passwords redacted.
        let result = command_check(
            "echo $DAC_TARGET; echo to stderr >&2",
            Duration::from_secs(30),
        );
        assert!(result.ok, "{}", result.detail);
        assert_eq!(result.output, "postgres://app:***@db1:5432/shop\nto stderr");
        // A failing one names its last line.
        let result = command_check(
            "echo first; echo last words; exit 3",
            Duration::from_secs(30),
        );
        assert!(!result.ok);
        assert!(result.detail.ends_with(": last words"), "{}", result.detail);
    }

    #[test]
    fn long_output_keeps_its_last_lines() {
        let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let kept = tail(&text);
        assert!(kept.len() <= OUTPUT_KEPT + 40, "{}", kept.len());
        assert!(kept.starts_with("(earlier output cut)\nline "), "{kept}");
        assert!(kept.ends_with("line 1999"), "{kept}");
    }
}
