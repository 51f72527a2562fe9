//! The side-by-side upgrade, its rollback, and the journal that makes both crash-safe.
//!
//! 1. Validate (platform, application, drift, data loss) before touching anything.
//! 2. Create the new database under a temporary name and deploy the desired schema into it
//!    (without the indexes, foreign keys and triggers that would slow the copy or fire on it)
//!    while the original stays writable.
//! 3. Copy table by table (several at a time where the platform allows) and build each table's
//!    indexes once its rows are in, while writers still write; then mark the original
//!    read-only, hold its writers off and ask the [`WriteMark`](crate::driver::WriteMark)
//!    taken before the copy whether anything was written to the copied tables since: if so,
//!    copy those tables again, with writers held (where the mark cannot tell which, or a
//!    pre-deployment script ran over the copy, drop the new database and do it all again); if
//!    the schema changed, fail (the plan is for the schema read before). (Where the platform
//!    has no mark, or with `copy_early` off, writers are held before the copy.) Then foreign keys
//!    (which re-check the data), triggers, generators, the post-deployment script and the
//!    registry, in the new database.
//! 4. Switch: end the original's sessions, rename it with a suffix (version and time), give the
//!    new database the original name, restore read-only if the original was.
//! 5. Where the platform allows, check the foreign keys the original held, added unchecked in
//!    step 3, with writers back in ([`SideBySideJournal::checks_after_switch`]).
//!
//! Every step is preceded by a journal write ([`SideBySideJournal`], kept by the [`Server`]: a file beside
//! a SQLite database, a database setting on PostgreSQL). Before the switch, any failure (or the
//! next run after a crash) undoes everything: the new database is dropped and the original made
//! writable again, exactly as it was. From the switch on, the next run completes it.

mod copy;
mod fill;
mod journal;
mod prepare;
mod recovery;
mod rollback;
pub mod transfer_plan;

use std::time::Instant;

use super::LOCK_WAIT;
use super::in_place::validate;
use crate::compare::{CompareOptions, Diff};
use crate::dialect::dialect_for;
use crate::driver::{Driver, Moved, Server, Target, WrittenSince, connect_server, with_lock};
use crate::fault;
use crate::model::ObjectName;
use crate::package::Package;
use crate::plan::{self, Plan, PlanOptions};
use crate::registry::{self, HistoryAction, HistoryEntry, HistoryStatus, Registration};
use crate::report::transfer::{EarlyCopy, TableTransfer, TransferReport};
use crate::script::Script;
use crate::{Error, Result};
use fill::{Fill, deploy_schema, hold_writers};
use journal::save;
pub use journal::{LaterCheck, Phase, SideBySideJournal, journal};
use prepare::{
    create_scripts, foreign_keys_to_check_later, refuse_lost_rows, unused_retained_name,
};
pub use recovery::recover;
use recovery::{check_after_switch, recover_locked, switch, undo};
pub use rollback::rollback;
use transfer_plan::plan_transfer;

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
}

impl Default for SideBySideOptions {
    fn default() -> Self {
        SideBySideOptions {
            allow_data_loss: false,
            allow_drift: false,
            compare: CompareOptions::default(),
            variables: Vec::new(),
            parallelism: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            copy_early: true,
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
    /// Nothing to do: the database is registered at this package and matches it (no new
    /// database was made; the report lists no tables).
    pub up_to_date: bool,
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
}

/// Upgrades the database of `target` to `package` side by side. See the module documentation.
pub fn side_by_side(
    target: &Target,
    package: &Package,
    options: &SideBySideOptions,
    progress: &dyn Progress,
) -> Result<SideBySideOutcome> {
    let mut server = connect_server(target)?;
    with_lock(server.as_mut(), LOCK_WAIT, |server| {
        let recovered = recover_locked(server)?;
        let mut outcome = run(server, package, options, progress)?;
        outcome.recovered = recovered;
        Ok(outcome)
    })
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
    super::execute_locked(driver, script, before_commit)
}

fn run(
    server: &mut dyn Server,
    package: &Package,
    options: &SideBySideOptions,
    progress: &dyn Progress,
) -> Result<SideBySideOutcome> {
    let started = Instant::now();
    let database = server.database().to_string();
    if !server.exists(&database)? {
        return Err(Error::Invalid(format!(
            "{database} does not exist: a side-by-side upgrade starts from an existing database (use --in-place to deploy a new one)"
        )));
    }
    let metadata = package.metadata.clone().unwrap_or_default();
    progress.step("validating");
    let mut original = server.open(&database)?;
    let (registration, allowed_drift) = validate(original.as_mut(), package, options.allow_drift)?;
    let (live, desired, diff) = super::live_diff(original.as_mut(), package, &options.compare)?;
    let dialect = dialect_for(desired.platform());
    let plan = plan::plan(
        &diff,
        &live,
        &desired,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            ..PlanOptions::default()
        },
    );
    let new_registration = Registration::of(package)?;
    if plan.is_empty()
        && registration.as_ref().is_some_and(|r| {
            r.name == new_registration.name
                && r.version == new_registration.version
                && r.model_hash == new_registration.model_hash
        })
    {
        // Copying everything into an identical database would only orphan the retained
        // original of the last upgrade.
        let mut report = TransferReport::new(Vec::new());
        report.database = database;
        report.application = metadata.name;
        report.version_before = Some(new_registration.version.clone());
        report.version_after = new_registration.version;
        report.total_ms = millis(started.elapsed());
        return Ok(SideBySideOutcome {
            report,
            plan,
            drift: allowed_drift,
            recovered: None,
            up_to_date: true,
        });
    }
    let registered_model = match &registration {
        Some(registered) => Some(registered.package()?.model),
        None => None,
    };
    let mut transfers = plan_transfer(registered_model.as_ref(), &live, &desired, &diff);
    if !options.allow_data_loss {
        refuse_lost_rows(original.as_mut(), &transfers)?;
    }
    // Largest tables first, so that the last copy to finish is a small one.
    let mut sizes = Vec::with_capacity(transfers.len());
    for transfer in &transfers {
        sizes.push(match &transfer.copy {
            Some(copy) => original.estimated_size(&copy.source)?.unwrap_or(0),
            None => 0,
        });
    }
    let history = original.history()?;
    let version_before = registration.as_ref().map(|r| r.version.clone());
    let (marked, later) = foreign_keys_to_check_later(&live, &desired, &diff, &transfers, package);
    let scripts = create_scripts(
        marked.as_ref().unwrap_or(&desired),
        package,
        &options.variables,
    )?;
    drop(original);

    let temporary = server.temporary_name();
    if server.exists(&temporary)? {
        server.drop_database(&temporary)?;
    }
    let mut journal = SideBySideJournal {
        format: 1,
        target: database.clone(),
        phase: Phase::Preparing,
        temporary: temporary.clone(),
        retained: unused_retained_name(server, version_before.as_deref().unwrap_or("0"))?,
        original_read_only: server.is_read_only(&database)?,
        application: metadata.name.clone(),
        version_before: version_before.clone(),
        version_after: new_registration.version.clone(),
        started_at: registry::now_utc(),
        marker: None,
        discard: None,
        keep_discarded: false,
        checks_after_switch: later,
    };
    progress.step(&format!("creating {temporary}"));
    server.create_database(&temporary)?;
    fault::point("sbs.created");
    if let Err(err) = save(server, &journal) {
        let _ = server.drop_database(&temporary);
        return Err(err);
    }
    fault::point("sbs.journal");

    let mut hold = None;
    let mut window = None;
    let mut copy_ms = 0;
    let mut parallelism = 1;
    let mut early_copy = EarlyCopy::Off;
    let mut early_copy_note = None;
    let prepared = (|| -> Result<()> {
        deploy_schema(server, &temporary, &scripts, progress)?;
        journal.phase = Phase::Copying;
        save(server, &journal)?;
        fault::point("sbs.copying");
        let mark = if options.copy_early {
            server.mark_writes(&database)?
        } else {
            None
        };
        let fill = Fill {
            from: &database,
            to: &temporary,
            parallelism: options.parallelism,
            sizes: &sizes,
            scripts: &scripts,
            progress,
        };
        if let Some(mark) = mark {
            // Rows are copied while writers still write; once they are held, a copy nothing
            // was written to since is kept, and the window is the check and the switch.
            progress.step(&format!("copying {database} before holding writers off"));
            let copiers = fill.connect_copiers(server, &transfers)?;
            parallelism = copiers.len();
            copy_ms = fill.copy_and_index(server, copiers, &mut transfers)?;
            hold = Some(hold_writers(server, &database, progress)?);
            window = Some(Instant::now());
            fault::point("sbs.held");
            let copied: Vec<(ObjectName, u64)> = transfers
                .iter()
                .filter_map(|t| t.copy.as_ref().map(|c| (c.source.clone(), t.report.rows)))
                .collect();
            progress.step(&format!(
                "looking for writes to {database} since the copy began"
            ));
            let written = match mark.written(&copied)? {
                // The plan was made for the schema read before the copy.
                WrittenSince::Schema(what) => {
                    return Err(Error::Invalid(format!(
                        "the schema of {database} changed while its rows were copied ({what}): the upgrade was planned for the schema it had before; run it again"
                    )));
                }
                WrittenSince::Rows { why, tables } => {
                    progress.step(&format!("{why}: copying again with writers held"));
                    Some((why, tables))
                }
                WrittenSince::Nothing => None,
            };
            fault::point("sbs.checked");
            early_copy_note = written.as_ref().map(|(why, _)| why.clone());
            early_copy = match written {
                None => EarlyCopy::Kept,
                // A pre-deployment script ran over every copied table: it cannot be run
                // again over some.
                Some((_, Some(tables))) if !fill.has_predeploy() => {
                    fill.recopy_written_tables(server, &mut transfers, &tables)?;
                    EarlyCopy::Partly
                }
                Some(_) => {
                    copy_ms = fill.refill_fresh_database(server, &journal, &mut transfers)?;
                    EarlyCopy::Discarded
                }
            };
        } else {
            // Connected before writers are held: connecting is no part of the read-only window.
            let copiers = fill.connect_copiers(server, &transfers)?;
            parallelism = copiers.len();
            hold = Some(hold_writers(server, &database, progress)?);
            window = Some(Instant::now());
            fault::point("sbs.held");
            copy_ms = fill.copy_and_index(server, copiers, &mut transfers)?;
        }
        progress.step("generators, triggers, foreign keys and registry");
        server.continue_generators(&database, &temporary)?;
        fault::point("sbs.generators");
        let mut new = server.open(&temporary)?;
        let mut entry = HistoryEntry::now(
            HistoryAction::SideBySide,
            HistoryStatus::Success,
            &metadata.name,
        );
        entry.version_before = version_before.clone();
        entry.version_after = Some(new_registration.version.clone());
        let copied: u64 = transfers.iter().map(|t| t.report.rows).sum();
        entry.message = format!(
            "side by side: {} tables, {copied} rows copied; original retained as {}",
            transfers.iter().filter(|t| t.report.copied).count(),
            journal.retained
        );
        run_script(new.as_mut(), &scripts.after, &mut |driver| {
            driver.write_registration(&new_registration)?;
            for old in &history {
                driver.append_history(old)?;
            }
            driver.append_history(&entry)
        })?;
        drop(new);
        fault::point("sbs.finalized");
        Ok(())
    })();
    if let Err(err) = prepared {
        let undone = undo(server, &journal, hold.take(), &format!("failed: {err}"));
        return match undone {
            Ok(()) => Err(err),
            Err(undo_err) => Err(Error::Invalid(format!(
                "{err}\nand undoing it failed too: {undo_err}; the next dac run against {database} finishes undoing it from the journal"
            ))),
        };
    }

    progress.step(&format!("switching {temporary} to {database}"));
    if let Some(hold) = hold.take()
        && let Err(err) = hold.seal()
    {
        let _ = undo(server, &journal, None, &format!("failed: {err}"));
        return Err(err);
    }
    fault::point("sbs.sealed");
    journal.phase = Phase::Switching;
    save(server, &journal)?;
    fault::point("sbs.switching");
    let read_only_window_ms = switch(server, &mut journal, window.as_ref())?;
    let checked = check_after_switch(server, &mut journal, progress);

    let mut report = TransferReport::new(transfers.into_iter().map(|t| t.report).collect());
    report.database = database;
    report.application = metadata.name;
    report.version_before = version_before;
    report.version_after = new_registration.version;
    report.retained = journal.retained;
    report.read_only_window_ms = read_only_window_ms;
    report.copy_ms = copy_ms;
    report.total_ms = millis(started.elapsed());
    report.parallelism = parallelism;
    report.checked_after_switch = checked;
    report.early_copy = early_copy;
    report.early_copy_note = early_copy_note;
    Ok(SideBySideOutcome {
        report,
        plan,
        drift: allowed_drift,
        recovered: None,
        up_to_date: false,
    })
}
