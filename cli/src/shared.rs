//! What every command shares: exit codes, targets, SQLCMD variables, driver warnings. Imports
//! no command module.

use anyhow::{Result, bail};
use dac_engine::driver::{Driver, Target};

use crate::output::errln;

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
