//! The side-by-side method for a server that cannot copy rows from one database into another
//! (Azure SQL Database has no cross-database queries), or where the user asks for it
//! (`--copy-method database`):
//!
//! 1. journal (`database_copy: copying`), then hold the original's writers off (SQL Server:
//!    `READ_ONLY WITH ROLLBACK IMMEDIATE`);
//! 2. copy the whole database on the server ([`Server::copy_database`]: Azure's
//!    `CREATE DATABASE .. AS COPY OF`, transactionally consistent; SQLite's `VACUUM INTO`) and
//!    poll it until it is online, failing with the copy's own error text;
//! 3. journal (`upgrading`), then run the plan in place on the copy (the in-place upgrade's
//!    prepare and apply: one transaction with the registration and a history row), counting
//!    each table's rows before and after; journal (`upgraded`);
//! 4. the switch of names, as for every side-by-side run (`switch_to_new_database`).
//!
//! Every step before the switch is undone by the one recovery rule (the copy dropped, the
//! original writable again); from the switch on it is completed. Writers are held from before
//! the copy to the switch: what they wrote to the original after the copy could not be carried
//! into the upgraded copy.

use std::time::{Duration, Instant};

use super::journal::{DatabaseCopyStep, Phase, SideBySideJournal, save};
use super::prepare::{Planned, unused_retained_name};
use super::recovery::undo_failed_run;
use super::transfer_plan::PlannedTransfer;
use super::{CopyMethod, Progress, SideBySideOptions, SideBySideOutcome, millis};
use crate::driver::{DatabaseCopyState, Driver, Server};
use crate::fault;
use crate::model::ObjectName;
use crate::package::Package;
use crate::registry::{self, HistoryAction};
use crate::report::transfer::{TableTransfer, TransferCase};
use crate::upgrade::in_place::{self, InPlaceOptions};
use crate::{Error, Result};

/// How often a copy still running on the server is asked where it stands.
const COPY_POLL: Duration = Duration::from_secs(2);

/// Why the whole database is copied (for the report), or `None` to copy table by table.
pub(super) fn chosen(server: &mut dyn Server, method: CopyMethod) -> Result<Option<String>> {
    let only = server.whole_database_copy_only()?;
    let statement = server.database_copy_statement();
    let copied_with = |why: &str| match statement {
        Some(statement) => format!("{why}; the database was copied with {statement}"),
        None => why.to_string(),
    };
    match (method, only) {
        (CopyMethod::Auto | CopyMethod::Database, Some(why)) => Ok(Some(copied_with(&why))),
        (CopyMethod::Tables, Some(why)) => Err(Error::Invalid(format!(
            "--copy-method tables cannot run here: {why} (use --copy-method database)"
        ))),
        (CopyMethod::Auto | CopyMethod::Tables, None) => Ok(None),
        (CopyMethod::Database, None) => match statement {
            Some(_) => Ok(Some(copied_with("asked for (--copy-method database)"))),
            None => Err(Error::Invalid(format!(
                "--copy-method database: {} cannot copy a whole database on the server",
                server.platform().as_str()
            ))),
        },
    }
}

/// Steps 1 to 4 of the module documentation, after step 1 of every side-by-side run
/// (validation and plan, in `planned`).
pub(super) fn upgrade_a_copy(
    server: &mut dyn Server,
    planned: Box<Planned>,
    package: &Package,
    options: &SideBySideOptions,
    progress: &dyn Progress,
    why: &str,
) -> Result<SideBySideOutcome> {
    let started = Instant::now();
    let database = planned.database.clone();
    let temporary = server.temporary_name();
    if server.exists(&temporary)? {
        server.drop_database(&temporary)?;
    }
    let mut journal = SideBySideJournal {
        format: 1,
        target: database.clone(),
        // Writers are held from the start: undone like a copy.
        phase: Phase::Copying,
        temporary: temporary.clone(),
        retained: unused_retained_name(server, planned.version_before.as_deref().unwrap_or("0"))?,
        original_read_only: server.is_read_only(&database)?,
        application: planned.application.clone(),
        version_before: planned.version_before.clone(),
        version_after: planned.registration.version.clone(),
        started_at: registry::now_utc(),
        marker: None,
        discard: None,
        keep_discarded: false,
        // The in-place upgrade of the copy checks its foreign keys itself.
        checks_after_switch: Vec::new(),
        catch_up: None,
        change_stream: None,
        database_copy: Some(DatabaseCopyStep::Copying),
    };
    save(server, &journal)?;
    fault::point("dbcopy.journal");
    progress.step(&format!("holding writers off {database}"));
    let hold = match server.hold_writers(&database) {
        Ok(hold) => hold,
        Err(err) => return Err(undo_failed_run(server, &journal, err)),
    };
    let window = Instant::now();
    fault::point("dbcopy.held");
    let upgraded =
        match copy_and_upgrade(server, &mut journal, package, options, progress, &planned) {
            Ok(upgraded) => upgraded,
            Err(err) => {
                // A failed release means the session is gone, and its hold with it.
                let _ = hold.release();
                return Err(undo_failed_run(server, &journal, err));
            }
        };
    let switched = super::switch_to_new_database(server, &mut journal, hold, window, progress)?;
    let mut planned = *planned;
    let mut report =
        super::switched_report(&mut planned, journal, &switched, upgraded.tables, started);
    report.copy_ms = upgraded.copy_ms;
    report.parallelism = 1;
    report.copy_method = Some(why.to_string());
    report.window_reason = Some(
        "writers held from before the copy of the whole database to the switch: the copy is upgraded in place, so a write to the original after the copy could not be carried over".into(),
    );
    Ok(SideBySideOutcome {
        report,
        plan: upgraded.plan,
        drift: planned.allowed_drift,
        recovered: None,
        up_to_date: false,
        left_out: upgraded.left_out,
        waited: None,
    })
}

/// What copying and upgrading the copy did.
struct Upgraded {
    tables: Vec<TableTransfer>,
    copy_ms: u64,
    plan: crate::plan::Plan,
    left_out: Vec<String>,
}

/// Steps 2 and 3: the copy, online, then upgraded in place, each step journalled first.
fn copy_and_upgrade(
    server: &mut dyn Server,
    journal: &mut SideBySideJournal,
    package: &Package,
    options: &SideBySideOptions,
    progress: &dyn Progress,
    planned: &Planned,
) -> Result<Upgraded> {
    let copy_started = Instant::now();
    progress.step(&format!(
        "copying {} as {}",
        journal.target, journal.temporary
    ));
    server.copy_database(&journal.target, &journal.temporary)?;
    fault::point("dbcopy.started");
    wait_until_online(server, &journal.temporary, progress)?;
    let copy_ms = millis(copy_started.elapsed());
    fault::point("dbcopy.online");
    journal.database_copy = Some(DatabaseCopyStep::Upgrading);
    // Where the journal lives in a database it moves into the copy here, which exists now.
    save(server, journal)?;
    fault::point("dbcopy.upgrading");
    // A copy of a read-only database may be read-only too.
    if server.is_read_only(&journal.temporary)? {
        server.set_read_only(&journal.temporary, false)?;
    }
    let mut copy = server.open(&journal.temporary)?;
    let sources: Vec<Option<ObjectName>> = planned.transfers.iter().map(source_of).collect();
    let before = count_each(copy.as_mut(), &sources);
    progress.step(&format!("upgrading {} in place", journal.temporary));
    let in_place_options = InPlaceOptions {
        allow_data_loss: options.allow_data_loss,
        allow_drift: options.allow_drift,
        compare: options.compare.clone(),
        variables: options.variables.clone(),
        leave_out_uncreatable: options.leave_out_uncreatable,
        ..InPlaceOptions::default()
    };
    let mut prepared = in_place::prepare(copy.as_mut(), package, &in_place_options)?;
    in_place::refuse_unrunnable(&prepared.plan)?;
    let left_out = prepared
        .script
        .refuse_uncreatable(options.leave_out_uncreatable)?;
    in_place::refuse_data_loss(
        copy.as_mut(),
        &prepared.plan,
        &prepared.live,
        options.allow_data_loss,
    )?;
    prepared.action = HistoryAction::SideBySide;
    let message = format!(
        "side by side: the whole database copied and upgraded in place{}",
        match in_place::notes(
            options.allow_data_loss,
            prepared.allowed_drift.as_ref(),
            false
        ) {
            notes if notes.is_empty() => String::new(),
            notes => format!("; {notes}"),
        }
    );
    in_place::apply(
        copy.as_mut(),
        package,
        &prepared,
        &prepared.script,
        message,
        copy_started,
        progress,
    )?;
    fault::point("dbcopy.upgraded");
    let destinations: Vec<Option<ObjectName>> =
        planned.transfers.iter().map(destination_of).collect();
    let after = count_each(copy.as_mut(), &destinations);
    drop(copy);
    let tables = planned
        .transfers
        .iter()
        .zip(before.iter().zip(&after))
        .map(|(transfer, (before, after))| table_report(transfer, *before, *after))
        .collect();
    journal.database_copy = Some(DatabaseCopyStep::Upgraded);
    save(server, journal)?;
    fault::point("dbcopy.journalled");
    Ok(Upgraded {
        tables,
        copy_ms,
        left_out,
        plan: prepared.plan,
    })
}

/// Polls the copy until it is online; its failure, with the server's text, is an error.
fn wait_until_online(server: &mut dyn Server, name: &str, progress: &dyn Progress) -> Result<()> {
    let mut said = None;
    loop {
        match server.database_copy_state(name)? {
            DatabaseCopyState::Online => return Ok(()),
            DatabaseCopyState::Failed(text) => {
                return Err(Error::Invalid(format!(
                    "the copy of the database into {name} failed: {text}"
                )));
            }
            DatabaseCopyState::Copying(percent) => {
                let now = percent.map(|p| p.floor() as i64);
                if now != said {
                    said = now;
                    if let Some(p) = now {
                        progress.step(&format!("copying into {name}: {p}%"));
                    }
                }
                std::thread::sleep(COPY_POLL);
            }
        }
    }
}

/// The table the copy holds before the upgrade: the live table rows come from, or the live
/// table the upgrade drops.
fn source_of(transfer: &PlannedTransfer) -> Option<ObjectName> {
    match (&transfer.copy, transfer.report.case) {
        (Some(copy), _) => Some(copy.source.clone()),
        (None, TransferCase::Dropped | TransferCase::LiveOnly | TransferCase::Unregistered) => {
            ObjectName::parse(&transfer.report.name).ok()
        }
        (None, _) => None,
    }
}

/// The table the upgraded copy holds: the package's.
fn destination_of(transfer: &PlannedTransfer) -> Option<ObjectName> {
    match (&transfer.copy, transfer.report.case) {
        (Some(copy), _) => Some(copy.destination.clone()),
        (None, TransferCase::Dropped | TransferCase::LiveOnly) => None,
        (None, _) => ObjectName::parse(&transfer.report.name).ok(),
    }
}

/// Each table's row count (`None` where there is no table).
fn count_each(driver: &mut dyn Driver, tables: &[Option<ObjectName>]) -> Vec<Option<u64>> {
    tables
        .iter()
        .map(|table| table.as_ref().and_then(|t| driver.count_rows(t).ok()))
        .collect()
}

/// A table's row of the report: its rows are the copy's, counted before and after the
/// in-place upgrade.
fn table_report(
    transfer: &PlannedTransfer,
    before: Option<u64>,
    after: Option<u64>,
) -> TableTransfer {
    let mut row = transfer.report.clone();
    let (copied, rows, reason) = match (before, after) {
        (Some(before), Some(after)) => (
            true,
            after,
            format!("the copy's rows: {before} before the in-place upgrade, {after} after"),
        ),
        (Some(before), None) => (
            false,
            0,
            format!("{before} rows in the copy, dropped by the in-place upgrade"),
        ),
        (None, Some(after)) => (
            false,
            0,
            format!("created by the in-place upgrade ({after} rows)"),
        ),
        (None, None) => (false, 0, "not in the copy".to_string()),
    };
    row.copied = copied;
    row.rows = rows;
    row.reason = Some(reason);
    row
}
