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
//!    step 3, with writers back in ([`Journal::checks_after_switch`]).
//!
//! Every step is preceded by a journal write ([`Journal`], kept by the [`Server`]: a file beside
//! a SQLite database, a database setting on PostgreSQL). Before the switch, any failure (or the
//! next run after a crash) undoes everything: the new database is dropped and the original made
//! writable again, exactly as it was. From the switch on, the next run completes it.

pub mod transfer_plan;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::LOCK_WAIT;
use super::in_place::validate;
use crate::compare::{CompareOptions, Diff};
use crate::dialect::dialect_for;
use crate::driver::{
    Copier, Driver, Moved, Server, TableCopy, Target, WriterHold, WrittenSince, connect_server,
};
use crate::fault;
use crate::model::{Model, ObjectName, Value, kind};
use crate::package::Package;
use crate::plan::{self, Plan, PlanOptions, StepKind};
use crate::registry::{self, HistoryAction, HistoryEntry, HistoryStatus, Registration};
use crate::report::transfer::{
    CheckedAfterSwitch, EarlyCopy, TableTransfer, TransferCase, TransferReport,
};
use crate::script::{self, Batch, Script};
use crate::{Error, Result};
use transfer_plan::{PlannedTransfer, plan_transfer};

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

/// Where a side-by-side run is; the journal's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The new database exists and is being built; the original is untouched.
    Preparing,
    /// The original is (being made) read-only and its rows are being copied.
    Copying,
    /// The new database is complete: the switch is under way and is completed, not undone.
    Switching,
    /// Done; the journal stays as the record a rollback needs.
    Done,
    /// A rollback is under way and is completed, not undone.
    RollingBack,
}

/// The journal of a side-by-side upgrade of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Journal format.
    pub format: u32,
    /// The target database (file path or name).
    pub target: String,
    /// The phase.
    pub phase: Phase,
    /// The new database's temporary name.
    pub temporary: String,
    /// The name the original keeps.
    pub retained: String,
    /// Whether the original was read-only before the upgrade.
    pub original_read_only: bool,
    /// Application name.
    pub application: String,
    /// Version before.
    pub version_before: Option<String>,
    /// Version after.
    pub version_after: String,
    /// When the upgrade started (UTC).
    pub started_at: String,
    /// The new database's change marker right after the switch.
    pub marker: Option<String>,
    /// Rollback: where the upgraded database goes.
    pub discard: Option<String>,
    /// Rollback: keep the upgraded database (it took writes and the rollback was forced).
    pub keep_discarded: bool,
    /// Foreign keys added to the new database without checking its rows, checked after the
    /// switch with writers back in; kept until they pass, so the next run checks what an
    /// interrupted one did not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks_after_switch: Vec<LaterCheck>,
}

/// A constraint added unchecked and checked after the switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaterCheck {
    /// The constraint.
    pub name: String,
    /// The statement that checks it.
    pub statement: String,
}

fn save(server: &mut dyn Server, journal: &Journal) -> Result<()> {
    let holder = holder(server, journal)?;
    save_in(server, journal, &holder)
}

/// Saves the journal in `holder` (where the server keeps it in a database).
fn save_in(server: &mut dyn Server, journal: &Journal, holder: &str) -> Result<()> {
    let text = serde_json::to_string(journal)
        .map_err(|e| Error::Invalid(format!("cannot write the journal: {e}")))?;
    server.save_journal(holder, &text)
}

/// The database that carries the journal where the server keeps it in a database.
fn holder(server: &mut dyn Server, journal: &Journal) -> Result<String> {
    Ok(match journal.phase {
        Phase::RollingBack if server.exists(&journal.retained)? => journal.retained.clone(),
        _ if server.exists(&journal.temporary)? => journal.temporary.clone(),
        _ => journal.target.clone(),
    })
}

fn load(server: &mut dyn Server) -> Result<Option<Journal>> {
    let Some(text) = server.load_journal()? else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Invalid(format!(
            "the side-by-side journal of {} cannot be read ({e}); it holds: {text}",
            server.database()
        ))
    })
}

/// `YYYYMMDDhhmmss` (UTC) for retained names.
fn stamp() -> String {
    registry::now_utc()
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

/// `server.retained_name(version, stamp)`, or with `_2`, `_3`, ... after the stamp while a
/// database of that name exists (two upgrades from one version within a second). The journal
/// keeps the name, so a taken one would fail the switch's (or a forced rollback's) rename in
/// this run and in every run after it.
fn unused_retained_name(server: &mut dyn Server, version: &str) -> Result<String> {
    let stamp = stamp();
    let mut name = server.retained_name(version, &stamp);
    let mut n = 1;
    while server.exists(&name)? {
        n += 1;
        name = server.retained_name(version, &format!("{stamp}_{n}"));
    }
    Ok(name)
}

/// Refuses a transfer that leaves rows behind: tables not created and columns not carried
/// over, where the live table holds rows.
fn refuse_lost_rows(driver: &mut dyn Driver, transfers: &[PlannedTransfer]) -> Result<()> {
    let mut lost = Vec::new();
    for transfer in transfers {
        let report = &transfer.report;
        let table = match (&transfer.copy, report.case) {
            (None, TransferCase::Dropped | TransferCase::LiveOnly | TransferCase::Unregistered) => {
                ObjectName::parse(&report.name).ok()
            }
            (Some(copy), _) if !report.columns_dropped.is_empty() => Some(copy.source.clone()),
            _ => None,
        };
        let Some(table) = table else { continue };
        if !driver.has_rows(&table)? {
            continue;
        }
        if transfer.copy.is_some() {
            lost.push(format!(
                "  {}: columns {} are not in the package",
                report.name,
                report.columns_dropped.join(", ")
            ));
        } else {
            lost.push(format!(
                "  {} ({}): {}",
                report.name,
                report.case.as_str(),
                report.reason.as_deref().unwrap_or("rows not copied")
            ));
        }
    }
    if lost.is_empty() {
        return Ok(());
    }
    Err(Error::Blocked {
        reason: format!(
            "the side-by-side upgrade would leave rows behind in the original:\n{}\npass --allow-data-loss to go ahead",
            lost.join("\n")
        ),
    })
}

/// Upgrades the database of `target` to `package` side by side. See the module documentation.
pub fn side_by_side(
    target: &Target,
    package: &Package,
    options: &SideBySideOptions,
    progress: &dyn Progress,
) -> Result<SideBySideOutcome> {
    let mut server = connect_server(target)?;
    server.lock(LOCK_WAIT)?;
    let result = recover_locked(server.as_mut()).and_then(|recovered| {
        let mut outcome = run(server.as_mut(), package, options, progress)?;
        outcome.recovered = recovered;
        Ok(outcome)
    });
    let unlocked = server.unlock();
    result.and_then(|outcome| unlocked.map(|()| outcome))
}

/// Finishes or undoes an interrupted side-by-side upgrade or rollback of `target`, from its
/// journal. Says what it did, or `None` when there was nothing to do.
pub fn recover(target: &Target) -> Result<Option<String>> {
    let mut server = connect_server(target)?;
    server.lock(LOCK_WAIT)?;
    let result = recover_locked(server.as_mut());
    let unlocked = server.unlock();
    result.and_then(|recovered| unlocked.map(|()| recovered))
}

/// The journal of `target`'s last side-by-side upgrade, if any (for `status`-like commands).
pub fn journal(target: &Target) -> Result<Option<Journal>> {
    let mut server = connect_server(target)?;
    load(server.as_mut())
}

fn recover_locked(server: &mut dyn Server) -> Result<Option<String>> {
    let Some(mut journal) = load(server)? else {
        let temporary = server.temporary_name();
        if server.exists(&temporary)? {
            // Created by a run that died before it wrote its journal: nothing else was touched.
            server.drop_database(&temporary)?;
            return Ok(Some(format!(
                "removed {temporary}, left by a side-by-side upgrade interrupted before it began"
            )));
        }
        return Ok(None);
    };
    match journal.phase {
        Phase::Preparing | Phase::Copying => {
            undo(
                server,
                &journal,
                None,
                "interrupted; undone by the next run",
            )?;
            Ok(Some(format!(
                "undid an interrupted side-by-side upgrade of {} to {} {} (the original is as it was)",
                journal.target, journal.application, journal.version_after
            )))
        }
        Phase::Switching => {
            switch(server, &mut journal, None)?;
            let checks = checks_note(&check_after_switch(server, &mut journal, &NoProgress));
            Ok(Some(format!(
                "completed an interrupted side-by-side upgrade of {} to {} {} (original retained as {}){checks}",
                journal.target, journal.application, journal.version_after, journal.retained
            )))
        }
        Phase::RollingBack => {
            finish_rollback(server, &journal)?;
            Ok(Some(format!(
                "completed an interrupted rollback of {}",
                journal.target
            )))
        }
        Phase::Done => {
            // A rollback that died before it wrote its journal may have left the database
            // refusing sessions.
            if server.exists(&journal.target)? {
                server.unseal(&journal.target)?;
            }
            if journal.checks_after_switch.is_empty() {
                return Ok(None);
            }
            let checks = check_after_switch(server, &mut journal, &NoProgress);
            Ok(Some(format!(
                "finished the side-by-side upgrade of {} to {} {}{}",
                journal.target,
                journal.application,
                journal.version_after,
                checks_note(&checks)
            )))
        }
    }
}

/// Undoes a run that did not reach the switch: writers back in, read-only as it was, the new
/// database dropped, the failure recorded in the original's history.
fn undo(
    server: &mut dyn Server,
    journal: &Journal,
    hold: Option<Box<dyn crate::driver::WriterHold>>,
    why: &str,
) -> Result<()> {
    if let Some(hold) = hold {
        // A failed release means the session is gone, and its locks with it.
        let _ = hold.release();
    }
    let exists = server.exists(&journal.target)?;
    if exists {
        if journal.phase >= Phase::Copying {
            // Writable for the history entry; read-only again after it if it was. The
            // journal goes last, so a crash here is undone again by the next run.
            server.set_read_only(&journal.target, false)?;
        } else {
            server.unseal(&journal.target)?;
        }
        if let Ok(mut original) = server.open(&journal.target) {
            let mut entry = HistoryEntry::now(
                HistoryAction::SideBySide,
                HistoryStatus::Fail,
                &journal.application,
            );
            entry.version_before = journal.version_before.clone();
            entry.version_after = Some(journal.version_after.clone());
            entry.message = why.to_string();
            let _ = original.append_history(&entry);
        }
        if journal.original_read_only {
            server.set_read_only(&journal.target, true)?;
        }
    }
    fault::point("sbs.undone");
    server.drop_database(&journal.temporary)?;
    server.clear_journal()?;
    Ok(())
}

/// Renames and flags of the switch; safe to run again from any point (recovery).
fn switch(server: &mut dyn Server, journal: &mut Journal, window: Option<&Instant>) -> Result<u64> {
    if server.exists(&journal.temporary)? {
        if server.exists(&journal.target)? {
            server.rename_database(&journal.target, &journal.retained)?;
            fault::point("sbs.renamed-original");
        }
        server.rename_database(&journal.temporary, &journal.target)?;
        fault::point("sbs.renamed-new");
    }
    server.set_read_only(&journal.target, journal.original_read_only)?;
    let window_ms = window.map_or(0, |w| millis(w.elapsed()));
    fault::point("sbs.new-open");
    if server.exists(&journal.retained)? {
        server.set_read_only(&journal.retained, true)?;
    }
    journal.marker = Some(server.change_marker(&journal.target)?);
    journal.phase = Phase::Done;
    save(server, journal)?;
    fault::point("sbs.done");
    Ok(window_ms)
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The create script of `desired`, split at the copy.
struct Scripts {
    /// What the rows go into: tables without their indexes, foreign keys and triggers.
    before_copy: Script,
    /// The pre-deployment script, run after the copy in the new database holding the copied
    /// rows (the original must stay untouched, so it cannot run there); may be empty.
    predeploy: Script,
    /// Index builds, spread over the copiers' sessions.
    indexes: Vec<IndexBuild>,
    /// Triggers, the refactor log, the post-deployment script, then foreign keys.
    after: Script,
}

fn create_scripts(
    desired: &Model,
    package: &Package,
    variables: &[(String, String)],
) -> Result<Scripts> {
    let dialect = dialect_for(desired.platform());
    let plan = plan::create_all(
        desired,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            smart_defaults: false,
            predeploy: package.predeploy.clone(),
            postdeploy: package.postdeploy.clone(),
            refactor_log: package.refactor_log.clone(),
        },
    );
    let script = script::render(&plan, dialect).with_variables(dialect, variables)?;
    let part = |keep: &dyn Fn(Option<StepKind>) -> bool| {
        let mut part = script.clone();
        part.batches.retain(|b| keep(b.step));
        part
    };
    let before_copy = part(&|step| {
        !matches!(
            step,
            Some(
                StepKind::PreDeploy
                    | StepKind::CreateIndex
                    | StepKind::CreateTrigger
                    | StepKind::AddForeignKey
                    | StepKind::RecordRefactorLog
                    | StepKind::PostDeploy
            )
        )
    });
    let predeploy = part(&|step| step == Some(StepKind::PreDeploy));
    // Batches are the plan's steps, in order.
    let indexed_tables = plan
        .steps
        .iter()
        .filter(|step| step.kind == StepKind::CreateIndex)
        .map(|step| {
            step.desired
                .as_ref()
                .and_then(|index| index.reference_name(kind::rel::INDEXED_OBJECT))
                .cloned()
        });
    let indexes = part(&|step| step == Some(StepKind::CreateIndex))
        .batches
        .into_iter()
        .zip(indexed_tables)
        .map(|(batch, table)| IndexBuild { table, batch })
        .collect();
    let mut after = part(&|step| {
        matches!(
            step,
            Some(
                StepKind::CreateTrigger
                    | StepKind::AddForeignKey
                    | StepKind::RecordRefactorLog
                    | StepKind::PostDeploy
            )
        )
    });
    // Foreign keys last: they check the copied rows and whatever the scripts added (reference
    // rows a post-deployment script seeds, say). SQLite declares them with the table, so its
    // check runs before the commit instead.
    after
        .batches
        .sort_by_key(|b| b.step == Some(StepKind::AddForeignKey));
    after.foreign_keys_off = dialect.capabilities().foreign_keys_inline_only;
    Ok(Scripts {
        before_copy,
        predeploy,
        indexes,
        after,
    })
}

/// The foreign keys of `desired` whose check can wait until after the switch, and `desired`
/// with them marked unchecked (`IsNotValid`). A foreign key qualifies where the platform can
/// check it later and nothing can have broken it: the original held it, checked, with the
/// same definition; both its tables are copied whole without type conversions; and no
/// pre-deployment script runs on the copied rows before it is added.
fn foreign_keys_to_check_later(
    live: &Model,
    desired: &Model,
    diff: &Diff,
    transfers: &[PlannedTransfer],
    package: &Package,
) -> (Option<Model>, Vec<LaterCheck>) {
    let dialect = dialect_for(desired.platform());
    if !dialect.capabilities().validate_constraints_later || package.predeploy.is_some() {
        return (None, Vec::new());
    }
    let copied_whole = |table: Option<&ObjectName>| {
        table.is_some_and(|table| {
            transfers.iter().any(|t| {
                t.copy
                    .as_ref()
                    .is_some_and(|c| &c.destination == table && c.converted.is_empty())
            })
        })
    };
    let changed: std::collections::HashSet<&ObjectName> = diff
        .differences()
        .filter(|c| c.kind == kind::FOREIGN_KEY)
        .map(|c| &c.name)
        .collect();
    let mut marked = desired.clone();
    let mut checks = Vec::new();
    for key in marked
        .elements
        .iter_mut()
        .filter(|e| e.kind == kind::FOREIGN_KEY)
    {
        let Some(name) = key.name.clone() else {
            continue;
        };
        let held = live
            .find(kind::FOREIGN_KEY, &name)
            .is_some_and(|k| k.bool_prop("IsNotValid") != Some(true));
        let table = key.reference_name(kind::rel::DEFINING_TABLE).cloned();
        if !held
            || changed.contains(&name)
            || key.bool_prop("IsNotValid") == Some(true)
            || !copied_whole(table.as_ref())
            || !copied_whole(key.reference_name(kind::rel::FOREIGN_TABLE))
        {
            continue;
        }
        let Some(statement) = table.and_then(|t| dialect.validate_constraint(&t, name.leaf()))
        else {
            continue;
        };
        key.set_prop("IsNotValid", Value::Bool(true));
        checks.push(LaterCheck {
            name: name.to_string(),
            statement,
        });
    }
    if checks.is_empty() {
        (None, checks)
    } else {
        (Some(marked), checks)
    }
}

/// Runs a script's statements in one transaction, then `before_commit`.
fn run_script(
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
    let mut journal = Journal {
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
            let copiers = fill.copiers(server, &transfers)?;
            parallelism = copiers.len();
            copy_ms = fill.run(server, copiers, &mut transfers)?;
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
                Some((_, Some(tables))) if !fill.predeploy() => {
                    fill.again(server, &mut transfers, &tables)?;
                    EarlyCopy::Partly
                }
                Some(_) => {
                    copy_ms = fill.anew(server, &journal, &mut transfers)?;
                    EarlyCopy::Discarded
                }
            };
        } else {
            // Connected before writers are held: connecting is no part of the read-only window.
            let copiers = fill.copiers(server, &transfers)?;
            parallelism = copiers.len();
            hold = Some(hold_writers(server, &database, progress)?);
            window = Some(Instant::now());
            fault::point("sbs.held");
            copy_ms = fill.run(server, copiers, &mut transfers)?;
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

/// Deploys the desired schema, without the indexes and keys built after the copy, into the
/// new database.
fn deploy_schema(
    server: &mut dyn Server,
    temporary: &str,
    scripts: &Scripts,
    progress: &dyn Progress,
) -> Result<()> {
    progress.step(&format!("deploying the schema into {temporary}"));
    let mut new = server.open(temporary)?;
    run_script(new.as_mut(), &scripts.before_copy, &mut |_| Ok(()))?;
    drop(new);
    fault::point("sbs.schema");
    Ok(())
}

/// Marks the original read-only and holds its writers off.
fn hold_writers(
    server: &mut dyn Server,
    database: &str,
    progress: &dyn Progress,
) -> Result<Box<dyn WriterHold>> {
    progress.step(&format!("holding writers off {database}"));
    server.set_read_only(database, true)?;
    fault::point("sbs.read-only");
    server.hold_writers(database)
}

/// Filling the new database: the rows, the pre-deployment script, the indexes and keys.
struct Fill<'a> {
    from: &'a str,
    to: &'a str,
    parallelism: usize,
    sizes: &'a [u64],
    scripts: &'a Scripts,
    progress: &'a dyn Progress,
}

impl Fill<'_> {
    /// The copiers, connected.
    fn copiers(
        &self,
        server: &mut dyn Server,
        transfers: &[PlannedTransfer],
    ) -> Result<Vec<Box<dyn Copier>>> {
        let jobs = transfers
            .iter()
            .filter(|t| t.copy.is_some())
            .count()
            .max(self.scripts.indexes.len());
        open_copiers(server, self.from, self.to, self.parallelism, jobs)
    }

    /// Copies the rows and builds what waits for them; returns the copy's milliseconds.
    fn run(
        &self,
        server: &mut dyn Server,
        mut copiers: Vec<Box<dyn Copier>>,
        transfers: &mut [PlannedTransfer],
    ) -> Result<u64> {
        let started = Instant::now();
        // The pre-deployment script runs on the copied rows before any index exists; without
        // one, a table's indexes are built as soon as its rows are in.
        let predeploy = self.predeploy();
        let indexes = &self.scripts.indexes;
        let during_copy: &[IndexBuild] = if predeploy { &[] } else { indexes };
        let copied = copy_and_build(
            &mut copiers,
            transfers,
            self.sizes,
            during_copy,
            self.progress,
        )?;
        let copy_ms = millis(copied.duration_since(started));
        fault::point("sbs.copied");
        self.progress
            .step("indexes and keys that wait for the rows");
        if predeploy {
            let mut new = server.open(self.to)?;
            run_script(new.as_mut(), &self.scripts.predeploy, &mut |_| Ok(()))?;
            drop(new);
            copy_and_build(&mut copiers, &mut [], &[], indexes, self.progress)?;
        }
        fault::point("sbs.indexed");
        finish_copiers(copiers)?;
        Ok(copy_ms)
    }

    /// Whether the package has a pre-deployment script (run over the copied rows).
    fn predeploy(&self) -> bool {
        !self.scripts.predeploy.batches.is_empty()
    }

    /// Drops the new database and fills a new one under its name: schema, rows, indexes.
    /// Returns the copy's milliseconds.
    fn anew(
        &self,
        server: &mut dyn Server,
        journal: &Journal,
        transfers: &mut [PlannedTransfer],
    ) -> Result<u64> {
        // The journal leaves the new database before it is dropped.
        save_in(server, journal, self.from)?;
        server.drop_database(self.to)?;
        fault::point("sbs.discarded");
        server.create_database(self.to)?;
        save(server, journal)?;
        deploy_schema(server, self.to, self.scripts, self.progress)?;
        let copiers = self.copiers(server, transfers)?;
        self.run(server, copiers, transfers)
    }

    /// Copies again, into the emptied tables (their indexes kept), the tables whose sources
    /// are `sources`.
    fn again(
        &self,
        server: &mut dyn Server,
        transfers: &mut [PlannedTransfer],
        sources: &[ObjectName],
    ) -> Result<()> {
        let again: Vec<usize> = (0..transfers.len())
            .filter(|&i| {
                transfers[i]
                    .copy
                    .as_ref()
                    .is_some_and(|c| sources.contains(&c.source))
            })
            .collect();
        let mut subset: Vec<PlannedTransfer> =
            again.iter().map(|&i| transfers[i].clone()).collect();
        let sizes: Vec<u64> = again
            .iter()
            .map(|&i| self.sizes.get(i).copied().unwrap_or(0))
            .collect();
        let mut copiers = open_copiers(server, self.from, self.to, self.parallelism, subset.len())?;
        for transfer in &subset {
            if let (Some(copy), Some(copier)) = (&transfer.copy, copiers.first_mut()) {
                copier.clear(&copy.destination)?;
            }
        }
        fault::point("sbs.cleared");
        copy_and_build(&mut copiers, &mut subset, &sizes, &[], self.progress)?;
        fault::point("sbs.copied-again");
        finish_copiers(copiers)?;
        for (i, transfer) in again.into_iter().zip(subset) {
            transfers[i].report = transfer.report;
        }
        Ok(())
    }
}

/// The copiers from `from` into `to`: `parallelism` of them, at most what the platform allows
/// and no more than `jobs`.
fn open_copiers(
    server: &mut dyn Server,
    from: &str,
    to: &str,
    parallelism: usize,
    jobs: usize,
) -> Result<Vec<Box<dyn Copier>>> {
    let workers = parallelism
        .clamp(1, server.max_parallel_copies().max(1))
        .min(jobs)
        .max(1);
    (0..workers).map(|_| server.copier(from, to)).collect()
}

/// Makes the copies durable and closes the copiers' sessions.
fn finish_copiers(copiers: Vec<Box<dyn Copier>>) -> Result<()> {
    let mut finished = Ok(());
    for copier in copiers {
        let result = copier.finish();
        if finished.is_ok() {
            finished = result;
        }
    }
    finished
}

/// An index to build after the copy, and the table whose rows it waits for.
struct IndexBuild {
    /// The indexed table (`None`: unknown, built once every copy is done).
    table: Option<ObjectName>,
    /// The statements.
    batch: Batch,
}

/// Work handed to the copiers: copies first (largest first), then index builds whose table's
/// rows are in.
struct Queue {
    copies: std::collections::VecDeque<usize>,
    builds: std::collections::VecDeque<usize>,
    /// Builds waiting for a copy: (table, build); no table: for every copy.
    waiting: Vec<(Option<ObjectName>, usize)>,
    copies_running: usize,
    failed: bool,
    copies_done: Option<Instant>,
}

enum Job {
    Copy(usize),
    Build(usize),
}

/// A mutex's guard; a panicked holder leaves nothing half-written here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Copies the planned tables, largest (by `sizes`, per transfer) first, and builds `indexes`,
/// over the copiers: a table's indexes are built as soon as its rows are in, while other
/// tables still copy. Stops handing out work after the first failure. Returns when the last
/// copy finished.
fn copy_and_build(
    copiers: &mut [Box<dyn Copier>],
    transfers: &mut [PlannedTransfer],
    sizes: &[u64],
    indexes: &[IndexBuild],
    progress: &dyn Progress,
) -> Result<Instant> {
    let mut copies: Vec<(usize, TableCopy)> = transfers
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.copy.clone().map(|c| (i, c)))
        .collect();
    copies.sort_by_key(|(i, _)| std::cmp::Reverse(sizes.get(*i).copied().unwrap_or(0)));
    if !copies.is_empty() {
        progress.copy_started(copies.len());
    }
    if !indexes.is_empty() {
        let sessions = copiers.len().min(indexes.len());
        for copier in copiers.iter_mut() {
            copier.build_alongside(sessions)?;
        }
    }
    let mut queue = Queue {
        copies: (0..copies.len()).collect(),
        builds: std::collections::VecDeque::new(),
        waiting: Vec::new(),
        copies_running: 0,
        failed: false,
        copies_done: copies.is_empty().then(Instant::now),
    };
    for (build, index) in indexes.iter().enumerate() {
        match &index.table {
            Some(table) if copies.iter().any(|(_, c)| &c.destination == table) => {
                queue.waiting.push((Some(table.clone()), build));
            }
            None if !copies.is_empty() => queue.waiting.push((None, build)),
            _ => queue.builds.push_back(build),
        }
    }
    let queue = Mutex::new(queue);
    let wake = std::sync::Condvar::new();
    let copied = Mutex::new(Vec::new());
    let build_errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for copier in copiers.iter_mut() {
            let (queue, wake, copied, build_errors, copies) =
                (&queue, &wake, &copied, &build_errors, &copies);
            scope.spawn(move || {
                loop {
                    let job = {
                        let mut q = lock(queue);
                        loop {
                            if q.failed {
                                break None;
                            }
                            if let Some(copy) = q.copies.pop_front() {
                                q.copies_running += 1;
                                break Some(Job::Copy(copy));
                            }
                            if let Some(build) = q.builds.pop_front() {
                                break Some(Job::Build(build));
                            }
                            if q.copies_running == 0 {
                                break None;
                            }
                            q = wake.wait(q).unwrap_or_else(PoisonError::into_inner);
                        }
                    };
                    let Some(job) = job else { break };
                    match job {
                        Job::Copy(job) => {
                            let (_, copy) = &copies[job];
                            fault::point("copy.table");
                            let name = copy.destination.to_string();
                            let started = Instant::now();
                            let result =
                                copier.copy_table(copy, &mut |moved| progress.moved(&name, moved));
                            let ms = millis(started.elapsed());
                            let mut q = lock(queue);
                            q.copies_running -= 1;
                            if result.is_err() {
                                q.failed = true;
                            }
                            let waiting = std::mem::take(&mut q.waiting);
                            let (ready, still): (Vec<_>, Vec<_>) =
                                waiting.into_iter().partition(|(table, _)| match table {
                                    Some(table) => table == &copy.destination,
                                    None => q.copies.is_empty() && q.copies_running == 0,
                                });
                            q.waiting = still;
                            q.builds.extend(ready.into_iter().map(|(_, build)| build));
                            if q.copies.is_empty() && q.copies_running == 0 {
                                q.copies_done.get_or_insert_with(Instant::now);
                            }
                            drop(q);
                            wake.notify_all();
                            lock(copied).push((job, result, ms));
                        }
                        Job::Build(build) => {
                            let batch = &indexes[build].batch;
                            let result = batch.statements.iter().try_for_each(|statement| {
                                copier.execute(statement).map_err(|err| {
                                    err.in_context(&format!("step {}: ", batch.comment))
                                })
                            });
                            if let Err(err) = result {
                                lock(queue).failed = true;
                                wake.notify_all();
                                lock(build_errors).push(err);
                            }
                        }
                    }
                }
            });
        }
    });
    let mut first_error = None;
    for (job, result, ms) in copied.into_inner().unwrap_or_else(PoisonError::into_inner) {
        let report = &mut transfers[copies[job].0].report;
        match result {
            Ok(moved) => {
                report.rows = moved.rows;
                report.bytes = moved.bytes;
                report.ms = ms;
                progress.table_done(report);
            }
            Err(err) => {
                if first_error.is_none() {
                    first_error = Some(Error::Invalid(format!(
                        "copying the rows of {} failed: {err}",
                        report.name
                    )));
                }
            }
        }
    }
    if let Some(err) = first_error.or_else(|| {
        build_errors
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .next()
    }) {
        return Err(err);
    }
    Ok(queue
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .copies_done
        .unwrap_or_else(Instant::now))
}

/// `; checked N foreign keys ...` for a recovery message.
fn checks_note(checks: &[CheckedAfterSwitch]) -> String {
    if checks.is_empty() {
        return String::new();
    }
    let failed: Vec<String> = checks
        .iter()
        .filter_map(|c| c.error.as_ref().map(|e| format!("{}: {e}", c.name)))
        .collect();
    if failed.is_empty() {
        format!(
            "; checked the {} foreign keys left to check after the switch",
            checks.len()
        )
    } else {
        format!(
            "; {} of {} foreign keys left to check after the switch are NOT YET CHECKED (enforced for new rows; checked again by the next run): {}",
            failed.len(),
            checks.len(),
            failed.join("; ")
        )
    }
}

/// Checks the foreign keys the journal holds unchecked, in the database now under the target's
/// name, with writers back in. What fails stays unchecked (still enforced for new rows) and in
/// the journal, for the next run to check again; the upgrade itself is done either way.
fn check_after_switch(
    server: &mut dyn Server,
    journal: &mut Journal,
    progress: &dyn Progress,
) -> Vec<CheckedAfterSwitch> {
    if journal.checks_after_switch.is_empty() {
        return Vec::new();
    }
    progress.step(&format!(
        "checking {} foreign keys of {} (writers allowed)",
        journal.checks_after_switch.len(),
        journal.target
    ));
    let mut checked = Vec::new();
    let mut pending = Vec::new();
    let mut database = server.open(&journal.target);
    for check in &journal.checks_after_switch {
        fault::point("sbs.check");
        let started = Instant::now();
        let result = match &mut database {
            Ok(database) => database.execute(&check.statement),
            Err(err) => Err(Error::Invalid(err.to_string())),
        };
        if result.is_err() {
            pending.push(check.clone());
        }
        checked.push(CheckedAfterSwitch {
            name: check.name.clone(),
            ms: millis(started.elapsed()),
            error: result.err().map(|e| e.to_string()),
        });
    }
    drop(database);
    journal.checks_after_switch = pending;
    if let Err(err) = save(server, journal) {
        // The checks stay listed; checking a checked constraint again changes nothing.
        for check in &mut checked {
            check.error.get_or_insert_with(|| {
                format!("checked, but the journal could not record it ({err}); the next run checks it again")
            });
        }
    }
    checked
}

/// Switches `target` back to the original retained by its last side-by-side upgrade. Refused
/// when the upgraded database took writes since the switch, unless `force` (it is then kept
/// under another name, never dropped).
pub fn rollback(target: &Target, force: bool) -> Result<RollbackOutcome> {
    let mut server = connect_server(target)?;
    server.lock(LOCK_WAIT)?;
    let result = recover_locked(server.as_mut())
        .and_then(|recovered| rollback_locked(server.as_mut(), force, recovered));
    let unlocked = server.unlock();
    result.and_then(|outcome| unlocked.map(|()| outcome))
}

fn rollback_locked(
    server: &mut dyn Server,
    force: bool,
    recovered: Option<String>,
) -> Result<RollbackOutcome> {
    let database = server.database().to_string();
    let Some(mut journal) = load(server)? else {
        return Err(Error::Invalid(format!(
            "{database} has no side-by-side upgrade to roll back (dac keeps the original of the last side-by-side upgrade until a rollback)"
        )));
    };
    if !server.exists(&journal.retained)? {
        return Err(Error::Invalid(format!(
            "the original retained by the last side-by-side upgrade of {database}, {}, no longer exists",
            journal.retained
        )));
    }
    let kept_name = unused_retained_name(server, &format!("{}_upgraded", journal.version_after))?;
    server.seal(&database)?;
    let marker = match server.change_marker(&database) {
        Ok(marker) => marker,
        Err(err) => {
            let _ = server.unseal(&database);
            return Err(err);
        }
    };
    let took_writes = journal.marker.as_deref() != Some(marker.as_str());
    if took_writes && !force {
        server.unseal(&database)?;
        return Err(Error::Blocked {
            reason: format!(
                "{database} took writes since the side-by-side upgrade to {} switched to it; rolling back to {} would leave them behind.\npass --force to roll back anyway (the upgraded database is then kept as {kept_name}, not dropped)",
                journal.version_after, journal.retained
            ),
        });
    }
    journal.phase = Phase::RollingBack;
    journal.keep_discarded = took_writes;
    journal.discard = Some(if took_writes {
        kept_name
    } else {
        server.temporary_name()
    });
    save(server, &journal)?;
    fault::point("rollback.started");
    finish_rollback(server, &journal)?;
    Ok(RollbackOutcome {
        database,
        version: journal.version_before.clone(),
        from_version: journal.version_after.clone(),
        kept_upgraded: journal
            .keep_discarded
            .then(|| journal.discard.clone().unwrap_or_default()),
        recovered,
    })
}

/// The renames of a rollback; safe to run again from any point (recovery).
fn finish_rollback(server: &mut dyn Server, journal: &Journal) -> Result<()> {
    let discard = journal
        .discard
        .clone()
        .unwrap_or_else(|| server.temporary_name());
    if server.exists(&journal.retained)? {
        if server.exists(&journal.target)? {
            server.rename_database(&journal.target, &discard)?;
            fault::point("rollback.renamed-upgraded");
        }
        server.rename_database(&journal.retained, &journal.target)?;
        fault::point("rollback.renamed-original");
    }
    // Writable for the history entry, then read-only again if the original was.
    server.set_read_only(&journal.target, false)?;
    let mut original = server.open(&journal.target)?;
    let mut entry = HistoryEntry::now(
        HistoryAction::Rollback,
        HistoryStatus::Success,
        &journal.application,
    );
    entry.version_before = Some(journal.version_after.clone());
    entry.version_after = journal.version_before.clone();
    entry.message = if journal.keep_discarded {
        format!("rolled back (forced); the upgraded database is kept as {discard}")
    } else {
        "rolled back; the upgraded database was dropped".into()
    };
    original.append_history(&entry)?;
    drop(original);
    server.set_read_only(&journal.target, journal.original_read_only)?;
    if journal.keep_discarded {
        if server.exists(&discard)? {
            server.set_read_only(&discard, true)?;
        }
    } else {
        server.drop_database(&discard)?;
    }
    fault::point("rollback.dropped");
    server.clear_journal()
}
