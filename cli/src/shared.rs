//! What every command shares: exit codes, targets, SQLCMD variables, driver warnings. Imports
//! no command module.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use dac_engine::driver::{Driver, Target, Timeouts};

use crate::args::{ConnectionText, TargetFlag, TimeoutFlags};

use crate::output::errln;

/// Success, or no differences.
pub const EXIT_OK: u8 = 0;
/// Any error.
pub const EXIT_ERROR: u8 = 1;
/// Differences or drift found.
pub const EXIT_DIFFERENCES: u8 = 2;
/// Refused by a safety policy (data loss, drift).
pub const EXIT_REFUSED: u8 = 3;

/// The environment variable holding the connection string when no `--target` is given.
pub const TARGET_VARIABLE: &str = "DAC_TARGET";

/// The connection string of `flag`: `--target`, else the variable `--target-env` names, else
/// the publish profile's, else `$DAC_TARGET`. Errors name variables, never their values.
pub fn connection(flag: &TargetFlag) -> Result<ConnectionText> {
    if let Some(text) = &flag.target {
        return Ok(text.clone());
    }
    let from_variable = |name: &str| -> Result<Option<ConnectionText>> {
        match std::env::var(name) {
            Ok(text) if text.trim().is_empty() => bail!("environment variable {name} is empty"),
            Ok(text) => Ok(Some(text.parse()?)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                bail!("environment variable {name} is not valid UTF-8")
            }
        }
    };
    if let Some(name) = &flag.target_env {
        return from_variable(name)?
            .with_context(|| format!("--target-env {name}: the variable is not set"));
    }
    if let Some(text) = &flag.from_profile {
        return Ok(text.clone());
    }
    from_variable(TARGET_VARIABLE)?.with_context(|| {
        format!("no target: give --target, --target-env NAME, or set {TARGET_VARIABLE}")
    })
}

/// Keeps `value` until the process exits, which follows the command at once: the system
/// takes a large model's memory back in one go, where freeing it allocation by allocation
/// costs a good part of what reading it did.
pub fn keep_until_exit<T>(value: T) {
    std::mem::forget(value);
}

/// A live database from its connection string.
pub fn target(text: &str) -> Result<Target> {
    Ok(Target::parse(text)?)
}

/// The live database of `flag` (see [`connection`]).
pub fn target_of(flag: &TargetFlag) -> Result<Target> {
    target(&connection(flag)?)
}

/// Prints what the driver had to warn about (a registration kept in a fallback place, objects
/// inspected only in part) on stderr.
pub fn print_warnings(driver: &mut dyn Driver) {
    for warning in driver.take_warnings() {
        errln!("warning: {warning}");
    }
}

/// `NAME=VALUE` pairs from the command line.
pub fn parse_variables(pairs: &[String]) -> Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
            _ => bail!("--variable {pair:?}: expected NAME=VALUE"),
        })
        .collect()
}

/// Whether an output path means standard output (`-o -`).
pub fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes what the user asked for to `path`, or to standard output for `-`.
pub fn write_output(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    if is_stdout(path) {
        crate::output::out_bytes(bytes);
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// A duration as people write it: `5s`, `500ms`, `2m`, or a number of seconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 5s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use ms, s, m or h)"
            ));
        }
    };
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(format!("{text:?}: a timeout is longer than 0"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The timeouts of the flags, the lock timeout's default filled in.
pub fn timeouts(flags: TimeoutFlags) -> Timeouts {
    Timeouts {
        lock: flags.lock_timeout.unwrap_or(Timeouts::DEFAULT_LOCK),
        command: flags.command_timeout,
    }
}

/// Bounds a driver's lock waits and statements by the flags.
pub fn apply_timeouts(driver: &mut dyn Driver, flags: TimeoutFlags) -> Result<()> {
    driver
        .set_timeouts(timeouts(flags))
        .context("setting the lock and command timeouts")
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_as_people_write_them() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
