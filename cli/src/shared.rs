//! What every command shares: exit codes, targets, SQLCMD variables, driver warnings. Imports
//! no command module.

use anyhow::{Result, bail};
use dac_engine::driver::{Driver, Target};
use dac_engine::package::Package;

/// Success, or no differences.
pub const EXIT_OK: u8 = 0;
/// Any error.
pub const EXIT_ERROR: u8 = 1;
/// Differences or drift found.
pub const EXIT_DIFFERENCES: u8 = 2;
/// Refused by a safety policy (data loss, drift).
pub const EXIT_REFUSED: u8 = 3;

/// A live database from its connection string.
pub fn target(text: &str) -> Result<Target> {
    Ok(Target::parse(text)?)
}

/// Prints what the driver had to warn about (a registration kept in a fallback place, objects
/// inspected only in part) on stderr.
pub fn print_warnings(driver: &mut dyn Driver) {
    for warning in driver.take_warnings() {
        eprintln!("warning: {warning}");
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

/// Values for the SQLCMD variables a package declares: those given, and an empty value for
/// declared ones that were not (as DacFx's header lists them).
pub fn variable_values(
    package: Option<&Package>,
    given: &[(String, String)],
) -> Vec<(String, String)> {
    let mut values = given.to_vec();
    if let Some(package) = package {
        for name in package.model.sqlcmd_variables() {
            if !values.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                values.push((name.to_string(), String::new()));
            }
        }
    }
    values
}
