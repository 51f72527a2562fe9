//! The side-by-side upgrade, its rollback, and the journal that makes both crash-safe.
//!
//! 1. Validate (platform, application, drift, data loss) before touching anything.
//! 2. Create the new database under a temporary name and deploy the desired schema into it
//!    (without the indexes, foreign keys and triggers that would slow the copy or fire on it)
//!    while the original stays writable.
//! 3. Copy table by table (several at a time where the platform allows) and build each table's
//!    indexes once its rows are in, while writers still write. Then catch up, still while
//!    writers write: pass after pass, each table with a primary key gets the rows written since
//!    its last pass ([`Copier::catch_up`](crate::driver::Copier::catch_up): PostgreSQL by
//!    logical decoding where the server has it, else by row version and key, SQLite by a keyed
//!    merge), until a pass carries at most
//!    [`LAST_DELTA_ROWS`] rows (refused, writers never held, after [`MAX_PASSES`] passes that
//!    carry more). Then mark the original read-only, hold its writers off and ask the
//!    [`WriteMark`](crate::driver::WriteMark) taken before the copy whether anything was
//!    written since: if so, apply the last delta to the written tables with a key and copy
//!    those without one again, with writers held (where a pre-deployment script ran over the
//!    copy, drop the new database and do it all again); if the schema changed, fail (the plan
//!    is for the schema read before). Every pass is journalled before it runs. (Where the
//!    platform has no mark, or with `copy_early` off, writers are held before the copy.) Then
//!    foreign keys (which re-check the data), triggers, generators, the post-deployment script
//!    and the registry, in the new database.
//! 4. Switch: end the original's sessions, rename it with a suffix (version and time), give the
//!    new database the original name, restore read-only if the original was.
//! 5. Where the platform allows, check the foreign keys the original held, added unchecked in
//!    step 3, with writers back in ([`SideBySideJournal::checks_after_switch`]).
//!
//! A change stream the mark opens before the copy ([`Server::change_capture`]: PostgreSQL's
//! logical replication slot) is journalled before it is opened and closed on every path: after
//! the last delta, by the undo of a failed run, and by recovery whatever the phase.
//!
//! Every step is preceded by a journal write ([`SideBySideJournal`], kept by the [`Server`]: a
//! file beside a SQLite database, a database setting on PostgreSQL). Before the switch, any
//! failure (or the next run after a crash) undoes everything: the new database is dropped and
//! the original made writable again, exactly as it was. From the switch on, the next run
//! completes it.
//!
//! `run` takes the steps in order: `prepare::validate_and_plan` (1), `create_new_database` and
//! `fill::fill_new_database` (2 and 3, over the copy engine in `copy`), `switch_to_new_database`
//! (4 and 5). `recovery` holds the journal's one recovery rule, the undo and the switch;
//! `rollback` switches back; `transfer_plan` decides which rows move.

mod copy;
mod database_copy;
mod fill;
mod journal;
mod prepare;
mod recovery;
mod rollback;
#[cfg(test)]
mod tests;
pub mod transfer_plan;

use std::time::Instant;

use super::LOCK_WAIT;
use crate::Result;
use crate::compare::{CompareOptions, Diff};
use crate::driver::{Driver, Locked, Moved, Server, Target, Waited, WriterHold, connect_server};
use crate::fault;
use crate::package::Package;
use crate::plan::Plan;
use crate::registry;
use crate::report::transfer::{CheckedAfterSwitch, TableTransfer, TransferReport};
use crate::script::Script;
use fill::fill_new_database;
pub use fill::{LAST_DELTA_ROWS, MAX_PASSES};
use journal::save;
pub use journal::{CatchUpStep, DatabaseCopyStep, LaterCheck, Phase, SideBySideJournal, journal};
use prepare::{Planned, Validated, unused_retained_name, validate_and_plan};
pub use recovery::recover;
use recovery::{check_after_switch, recover_locked, switch, undo, undo_failed_run};
pub use rollback::rollback;

/// What the user allows and asks for.
#[derive(Debug, Clone)]
pub struct SideBySideOptions {
    /// Go ahead even when tables or columns holding rows are not carried over.
    pub allow_data_loss: bool,
    /// Go ahead even when the database drifted from its registered definition.
    pub allow_drift: bool,
    /// Comparison options (renames from the package's refactor log are added).
    pub compare: CompareOptions,
    /// SQLCMD variable values for the pre- and post-deployment scripts.
    pub variables: Vec<(String, String)>,
    /// Tables copied at a time (bounded by what the platform allows).
    pub parallelism: usize,
    /// Copy the rows before holding writers off, where the platform can tell afterwards
    /// whether anything was written to the copied tables meanwhile: kept if nothing was, made
    /// again with writers held if something was.
    pub copy_early: bool,
    /// A catch-up pass carrying at most this many rows ends the passes made while writers
    /// write ([`LAST_DELTA_ROWS`] by default).
    pub last_delta_rows: u64,
    /// Passes made while writers write before the run is refused ([`MAX_PASSES`] by default).
    pub max_passes: u32,
    /// Deploy without the objects dac cannot create (the outcome lists them) instead of
    /// refusing.
    pub leave_out_uncreatable: bool,
    /// How long to wait for another run's upgrade lock.
    pub lock_wait: std::time::Duration,
    /// How the rows reach the new database.
    pub copy_method: CopyMethod,
}

/// How a side-by-side upgrade fills the new database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CopyMethod {
    /// Table by table where the server can copy rows between two databases, else the whole
    /// database ([`Server::whole_database_copy_only`]: Azure SQL Database).
    #[default]
    Auto,
    /// The package's schema built in a new database and the rows copied into it table by
    /// table, while writers write where the platform can catch up.
    Tables,
    /// The whole database copied on the server with writers held off, the copy upgraded in
    /// place ([`Server::copy_database`]).
    Database,
}

impl Default for SideBySideOptions {
    fn default() -> Self {
        SideBySideOptions {
            allow_data_loss: false,
            allow_drift: false,
            // The new database is the whole package: nothing it lacks is kept.
            compare: CompareOptions {
                drop_objects_not_in_source: true,
                ..CompareOptions::default()
            },
            variables: Vec::new(),
            parallelism: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            copy_early: true,
            last_delta_rows: LAST_DELTA_ROWS,
            max_passes: MAX_PASSES,
            leave_out_uncreatable: false,
            lock_wait: LOCK_WAIT,
            copy_method: CopyMethod::Auto,
        }
    }
}

/// Progress of a long run, for a progress bar or log lines. Every method has a do-nothing
/// default.
pub trait Progress: Sync {
    /// A step begins.
    fn step(&self, _text: &str) {}
    /// The copy begins: this many tables.
    fn copy_started(&self, _tables: usize) {}
    /// Rows or bytes moved for a table.
    fn moved(&self, _table: &str, _moved: Moved) {}
    /// A table is done.
    fn table_done(&self, _table: &TableTransfer) {}
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// What a side-by-side upgrade did.
#[derive(Debug, Clone)]
pub struct SideBySideOutcome {
    /// The data transfer report.
    pub report: TransferReport,
    /// The changes from the live schema to the package (for notes and hazards).
    pub plan: Plan,
    /// Drift that the user allowed the upgrade to override.
    pub drift: Option<Diff>,
    /// What the run first did about an interrupted earlier run, if anything.
    pub recovered: Option<String>,
    /// Objects of the package left out because dac cannot create them, one warning each
    /// (only with [`SideBySideOptions::leave_out_uncreatable`]).
    pub left_out: Vec<String>,
    /// Nothing to do: the database is registered at this package and matches it (no new
    /// database was made; the report lists no tables).
    pub up_to_date: bool,
    /// Whom the run waited behind for the upgrade lock, if it waited.
    pub waited: Option<Waited>,
}

/// What a rollback did.
#[derive(Debug, Clone)]
pub struct RollbackOutcome {
    /// The database, now the original again.
    pub database: String,
    /// Its version again.
    pub version: Option<String>,
    /// The version rolled back from.
    pub from_version: String,
    /// Where the upgraded database was kept (forced over writes), or `None` when it was dropped.
    pub kept_upgraded: Option<String>,
    /// What the run first did about an interrupted earlier run, if anything.
    pub recovered: Option<String>,
    /// Whom the run waited behind for the upgrade lock, if it waited.
    pub waited: Option<Waited>,
}

/// Upgrades the database of `target` to `package` side by side. See the module documentation.
pub fn side_by_side(
    target: &Target,
    package: &Package,
    options: &SideBySideOptions,
    progress: &dyn Progress,
) -> Result<SideBySideOutcome> {
    let mut server = connect_server(target)?;
    let mut locked = Locked::take(server.as_mut(), options.lock_wait)?;
    let waited = locked.waited().cloned();
    let recovered = recover_locked(&mut *locked)?;
    let mut outcome = run(&mut *locked, package, options, progress)?;
    locked.release()?;
    outcome.recovered = recovered;
    outcome.waited = waited;
    Ok(outcome)
}

pub(super) fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Runs a script's statements in one transaction, then `before_commit`.
pub(super) fn run_script(
    driver: &mut dyn Driver,
    script: &Script,
    before_commit: &mut dyn FnMut(&mut dyn Driver) -> Result<()>,
) -> Result<()> {
    super::execute_locked(driver, script, before_commit, &NoProgress)
}

/// The numbered steps of the module documentation, with the lock held and no journal left.
fn run(
    server: &mut dyn Server,
    package: &Package,
    options: &SideBySideOptions,
    progress: &dyn Progress,
) -> Result<SideBySideOutcome> {
    let started = Instant::now();
    let mut planned = match validate_and_plan(server, package, options, progress, started)? {
        Validated::UpToDate(outcome) => return Ok(*outcome),
        Validated::Planned(planned) => planned,
    };
    if let Some(why) = database_copy::chosen(server, options.copy_method)? {
        return database_copy::upgrade_a_copy(server, planned, package, options, progress, &why);
    }
    let mut journal = create_new_database(server, &mut planned, progress)?;
    let filled = match fill_new_database(server, &mut planned, &mut journal, options, progress) {
        Ok(filled) => filled,
        Err(err) => return Err(undo_failed_run(server, &journal, err)),
    };
    let switched =
        switch_to_new_database(server, &mut journal, filled.hold, filled.window, progress)?;

    let mut planned = *planned;
    let left_out = planned.scripts.left_out.clone();
    let tables = std::mem::take(&mut planned.transfers)
        .into_iter()
        .map(|t| t.report)
        .collect();
    let mut report = switched_report(&mut planned, journal, &switched, tables, started);
    report.copy_ms = filled.copy_ms;
    report.parallelism = filled.parallelism;
    report.early_copy = filled.early_copy;
    report.early_copy_note = filled.early_copy_note;
    report.catch_up = filled.passes;
    report.copied_again = filled.copied_again;
    report.window_reason = Some(filled.window_reason);
    report.catch_up_method = filled.catch_up_method;
    Ok(SideBySideOutcome {
        report,
        plan: planned.plan,
        drift: planned.allowed_drift,
        recovered: None,
        up_to_date: false,
        left_out,
        waited: None,
    })
}

/// The data transfer report of a run switched to its new database, with what every copy
/// method reports alike (the caller adds how it copied): `tables`, the run's names and
/// versions (taken from `planned`), the retained original, the window and the check.
fn switched_report(
    planned: &mut Planned,
    journal: SideBySideJournal,
    switched: &Switched,
    tables: Vec<TableTransfer>,
    started: Instant,
) -> TransferReport {
    let mut report = TransferReport::new(tables);
    report.database = std::mem::take(&mut planned.database);
    report.application = std::mem::take(&mut planned.application);
    report.version_before = planned.version_before.take();
    report.version_after = std::mem::take(&mut planned.registration.version);
    report.retained = journal.retained;
    report.read_only_window_ms = switched.read_only_window_ms;
    report.total_ms = millis(started.elapsed());
    report.checked_after_switch = switched.checked.clone();
    report
}

/// The start of step 2: the new database, empty, under the temporary name, and the journal
/// that says so (`fill_new_database` deploys the schema into it).
fn create_new_database(
    server: &mut dyn Server,
    planned: &mut Planned,
    progress: &dyn Progress,
) -> Result<SideBySideJournal> {
    let database = &planned.database;
    let temporary = server.temporary_name();
    if server.exists(&temporary)? {
        server.drop_database(&temporary)?;
    }
    let journal = SideBySideJournal {
        format: 1,
        target: database.clone(),
        phase: Phase::Preparing,
        temporary: temporary.clone(),
        retained: unused_retained_name(server, planned.version_before.as_deref().unwrap_or("0"))?,
        original_read_only: server.is_read_only(database)?,
        application: planned.application.clone(),
        version_before: planned.version_before.clone(),
        version_after: planned.registration.version.clone(),
        started_at: registry::now_utc(),
        marker: None,
        discard: None,
        keep_discarded: false,
        checks_after_switch: std::mem::take(&mut planned.checks_after_switch),
        catch_up: None,
        change_stream: None,
        database_copy: None,
    };
    progress.step(&format!("creating {temporary}"));
    server.create_database(&temporary)?;
    fault::point("sbs.created");
    if let Err(err) = save(server, &journal) {
        let _ = server.drop_database(&temporary);
        return Err(err);
    }
    fault::point("sbs.journal");
    Ok(journal)
}

/// What steps 4 and 5 measured and checked, for the report.
pub(super) struct Switched {
    pub(super) read_only_window_ms: u64,
    pub(super) checked: Vec<CheckedAfterSwitch>,
}

/// Steps 4 and 5: seals the original (undone if that fails), switches the names, then checks
/// the foreign keys left for after the switch.
pub(super) fn switch_to_new_database(
    server: &mut dyn Server,
    journal: &mut SideBySideJournal,
    hold: Box<dyn WriterHold>,
    window: Instant,
    progress: &dyn Progress,
) -> Result<Switched> {
    progress.step(&format!(
        "switching {} to {}",
        journal.temporary, journal.target
    ));
    if let Err(err) = hold.seal() {
        let _ = undo(server, journal, &format!("failed: {err}"));
        return Err(err);
    }
    fault::point("sbs.sealed");
    journal.phase = Phase::Switching;
    save(server, journal)?;
    fault::point("sbs.switching");
    let read_only_window_ms = switch(server, journal, Some(&window))?;
    let checked = check_after_switch(server, journal, progress);
    Ok(Switched {
        read_only_window_ms,
        checked,
    })
}
