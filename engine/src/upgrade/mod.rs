//! Upgrades: running a rendered script against a live database, all or nothing.
//!
//! No SQL text here: statements come from `script`, and everything platform-specific
//! (transactions, foreign-key switches, locks) goes through the [`Driver`].

mod in_place;
mod registration;
mod reviewed;
mod side_by_side;
mod status;

use std::time::Duration;

use crate::driver::{Driver, with_lock};
use crate::script::Script;
use crate::{Error, Result};

pub use crate::report::describe_drift;
pub use in_place::compare_options;
pub use in_place::{
    InPlaceOptions, InPlaceOutcome, drift, in_place, in_place_with_progress, refuse_hazards,
    refuse_unrunnable,
};
pub use registration::{register, registration_differences, unregister};
pub use reviewed::{apply_plan, make_plan};
pub use side_by_side::transfer_plan;
pub use side_by_side::{
    CatchUpStep, CopyMethod, DatabaseCopyStep, LAST_DELTA_ROWS, LaterCheck, MAX_PASSES, NoProgress,
    Phase, Progress, RollbackOutcome, SideBySideJournal, SideBySideOptions, SideBySideOutcome,
    journal, recover, rollback, side_by_side,
};
pub use status::status;

/// How long a second run waits for the upgrade lock before it is refused.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Executes a script in one transaction: every statement, or none of them.
///
/// Takes the upgrade lock first. Where the script rebuilds SQLite tables, foreign keys are
/// switched off around the transaction and checked before the commit. On any failure the
/// transaction is rolled back and the error names the step and statement that failed.
pub fn execute(driver: &mut dyn Driver, script: &Script) -> Result<()> {
    with_lock(driver, LOCK_WAIT, |driver| {
        execute_locked(driver, script, &mut |_| Ok(()), &NoProgress)
    })
}

/// Executes a script with the lock already held; `before_commit` runs inside the transaction
/// after the last statement (the registry is written there, so it commits with the schema).
fn execute_locked(
    driver: &mut dyn Driver,
    script: &Script,
    before_commit: &mut dyn FnMut(&mut dyn Driver) -> Result<()>,
    progress: &dyn Progress,
) -> Result<()> {
    crate::fault::point("inplace.locked");
    if script.foreign_keys_off {
        driver.foreign_keys_off()?;
    }
    let result = run_in_transaction(driver, script, before_commit, progress);
    crate::fault::point("inplace.finished");
    if script.foreign_keys_off {
        let restored = driver.foreign_keys_on();
        return Error::after_cleanup(result, "switching foreign keys back on", restored);
    }
    result
}

fn run_in_transaction(
    driver: &mut dyn Driver,
    script: &Script,
    before_commit: &mut dyn FnMut(&mut dyn Driver) -> Result<()>,
    progress: &dyn Progress,
) -> Result<()> {
    driver.begin()?;
    crate::fault::point("inplace.begun");
    let mut run = |driver: &mut dyn Driver| -> Result<()> {
        let n = script.batches.len();
        for (i, batch) in script.batches.iter().enumerate() {
            progress.step(&format!("step {} of {n}: {}", i + 1, batch.comment));
            for statement in &batch.statements {
                crate::fault::point("inplace.statement");
                driver
                    .execute(statement)
                    .map_err(|err| err.in_context(&format!("step {}: ", batch.comment)))?;
            }
        }
        if script.foreign_keys_off {
            driver.check_foreign_keys()?;
        }
        before_commit(driver)?;
        crate::fault::point("inplace.before-commit");
        Ok(())
    };
    match run(driver) {
        Ok(()) => {
            driver.commit()?;
            crate::fault::point("inplace.committed");
            Ok(())
        }
        Err(err) => {
            // The original error explains what happened; a failed rollback (a dropped
            // connection) is a note after it.
            match driver.rollback() {
                Ok(()) => Err(err),
                Err(failure) => {
                    Err(err.with_cleanup_failure("rolling back the transaction", failure))
                }
            }
        }
    }
}

/// The live schema, the package's model as this server shows it, and the diff between them
/// (renames from the package's refactor log added to `options`); the live schema is `inspected`
/// when the caller already inspected it.
fn live_diff(
    driver: &mut dyn Driver,
    inspected: Option<crate::model::Model>,
    package: &crate::package::Package,
    options: &crate::compare::CompareOptions,
) -> Result<(
    crate::model::Model,
    crate::model::Model,
    crate::compare::Diff,
)> {
    let live = match inspected {
        Some(live) => live,
        None => driver.inspect()?,
    };
    let desired = driver.canonicalize(&package.model)?;
    let mut options = options.clone();
    if let Some(log) = &package.refactor_log {
        options
            .renames
            .extend(crate::compare::renames_from_refactor_log(log));
    }
    let diff = crate::compare::compare(&live, &desired, &options);
    Ok((live, desired, diff))
}
