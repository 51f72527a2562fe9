//! Recovery from the journal: undo before the switch, complete from it on; the switch itself
//! and the foreign-key checks after it.

use std::time::Instant;

use super::journal::{Phase, SideBySideJournal, load, save};
use super::{NoProgress, Progress, millis};
use crate::driver::{Locked, Server, Target, Waited, connect_server};
use crate::fault;
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus};
use crate::report::transfer::CheckedAfterSwitch;
use crate::{Error, Result};

/// Finishes or undoes an interrupted side-by-side upgrade or rollback of `target`, from its
/// journal. Says what it did, or `None` when there was nothing to do, and whom it waited
/// behind for the upgrade lock (up to `lock_wait`), if it waited.
pub fn recover(
    target: &Target,
    lock_wait: std::time::Duration,
) -> Result<(Option<String>, Option<Waited>)> {
    let mut server = connect_server(target)?;
    let mut locked = Locked::take(server.as_mut(), lock_wait)?;
    let waited = locked.waited().cloned();
    let what = recover_locked(&mut *locked)?;
    locked.release()?;
    Ok((what, waited))
}

/// What the next run does about a journal left in a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Recovery {
    /// The upgrade had not reached the switch: undo it, the original as it was.
    UndoUpgrade,
    /// The switch was under way: complete it.
    CompleteSwitch,
    /// A rollback was under way: complete it.
    CompleteRollback,
    /// The upgrade is done: let sessions back in, and check the foreign keys still left to
    /// check after the switch.
    FinishCheckingAfterSwitch,
}

/// The one recovery rule: before the `switching` phase an interrupted run is undone; from it
/// on, it is completed.
pub(super) fn recovery_for(phase: Phase) -> Recovery {
    match phase {
        Phase::Preparing | Phase::Copying => Recovery::UndoUpgrade,
        Phase::Switching => Recovery::CompleteSwitch,
        Phase::Done => Recovery::FinishCheckingAfterSwitch,
        Phase::RollingBack => Recovery::CompleteRollback,
    }
}

/// Recovers from the journal, with the lock held: see [`recovery_for`].
pub(super) fn recover_locked(server: &mut (dyn Server + '_)) -> Result<Option<String>> {
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
    // Whatever the phase: a stream the run opened is closed (it is gone by the switch, so this
    // only finds one a crash left). The undo closes it itself, once the original is writable
    // again (SQLite's stream is triggers in the original).
    if let Some(stream) = &journal.change_stream
        && recovery_for(journal.phase) != Recovery::UndoUpgrade
    {
        server.drop_change_stream(stream)?;
    }
    match recovery_for(journal.phase) {
        Recovery::UndoUpgrade => {
            undo(server, &journal, "interrupted; undone by the next run")?;
            let copy = journal
                .database_copy
                .map(|step| format!(", {}: dropped", step.describe()))
                .unwrap_or_default();
            Ok(Some(format!(
                "undid an interrupted side-by-side upgrade of {} to {} {}{copy} (the original is as it was)",
                journal.target, journal.application, journal.version_after
            )))
        }
        Recovery::CompleteSwitch => {
            switch(server, &mut journal, None)?;
            let checks = checks_note(&check_after_switch(server, &mut journal, &NoProgress));
            Ok(Some(format!(
                "completed an interrupted side-by-side upgrade of {} to {} {} (original retained as {}){checks}",
                journal.target, journal.application, journal.version_after, journal.retained
            )))
        }
        Recovery::CompleteRollback => {
            finish_rollback(server, &journal)?;
            Ok(Some(format!(
                "completed an interrupted rollback of {}",
                journal.target
            )))
        }
        Recovery::FinishCheckingAfterSwitch => {
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

/// Undoes a run that did not reach the switch (its writers already let back in): read-only as
/// it was, the new database dropped, the failure recorded in the original's history.
pub(super) fn undo(server: &mut dyn Server, journal: &SideBySideJournal, why: &str) -> Result<()> {
    let exists = server.exists(&journal.target)?;
    if exists {
        if journal.phase >= Phase::Copying {
            // Writable for the history entry; read-only again after it if it was. The
            // journal goes last, so a crash here is undone again by the next run.
            server.set_read_only(&journal.target, false)?;
        } else {
            server.unseal(&journal.target)?;
        }
        if let Some(stream) = &journal.change_stream {
            server.drop_change_stream(stream)?;
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
            entry.took_since_utc(&journal.started_at);
            let _ = original.append_history(&entry);
        }
        if journal.original_read_only {
            server.set_read_only(&journal.target, true)?;
        }
    }
    fault::point("sbs.undone");
    if let Some(stream) = journal.change_stream.as_ref().filter(|_| !exists) {
        server.drop_change_stream(stream)?;
    }
    server.drop_database(&journal.temporary)?;
    server.clear_journal()?;
    Ok(())
}

/// Undoes a run that failed with `err` before the switch; the error to report: `err`, or
/// `err` and the undo's failure (the next run then finishes the undo from the journal).
pub(super) fn undo_failed_run(
    server: &mut dyn Server,
    journal: &SideBySideJournal,
    err: Error,
) -> Error {
    match undo(server, journal, &format!("failed: {err}")) {
        Ok(()) => err,
        Err(undo_err) => Error::UndoFailed {
            database: journal.target.clone(),
            failure: Box::new(err),
            undo: Box::new(undo_err),
        },
    }
}

/// Renames and flags of the switch; safe to run again from any point (recovery).
pub(super) fn switch(
    server: &mut dyn Server,
    journal: &mut SideBySideJournal,
    window: Option<&Instant>,
) -> Result<u64> {
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

/// `; checked N foreign keys ...` for a recovery message.
pub(super) fn checks_note(checks: &[CheckedAfterSwitch]) -> String {
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
pub(super) fn check_after_switch(
    server: &mut dyn Server,
    journal: &mut SideBySideJournal,
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

/// The renames of a rollback; safe to run again from any point (recovery).
pub(super) fn finish_rollback(server: &mut dyn Server, journal: &SideBySideJournal) -> Result<()> {
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
