//! `dac rollout rollback`: every upgraded target returned to the version it had before the
//! rollout, from its snapshot or the original its side-by-side upgrade retained, newest domain
//! first.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use super::{
    Paths, RolloutOutcome, Run, Say, Store, existing_in, load_spec_and_packages, millis, open,
    run_with, same_package, store_of, take_lock, workers,
};
use crate::driver::{Driver, RestoreSteps, Target};
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};
use crate::rollout::journal::{Backup, DomainState, RolloutState, TargetRecord, TargetState};
use crate::upgrade;
use crate::{Error, Result};

/// `dac rollout rollback`: returns every upgraded target to its previous version (newest
/// first) and leaves the others alone.
pub fn rollback(file: &Path, say: Say<'_>) -> Result<RolloutOutcome> {
    let (spec, packages) = load_spec_and_packages(file)?;
    let mut notes = Vec::new();
    let (_guard, mut store) = if spec.journal.is_some() {
        let mut store = store_of(file, spec.journal.as_ref())?;
        workers::hold_for_rollback(&mut store, &spec)?;
        (None, store)
    } else {
        let paths = Paths::of(file);
        let guard = take_lock(&paths, "rollback", &mut notes, say)?;
        (Some(guard), Store::file(paths.journal))
    };
    let mut journal = existing_in(&mut store)?;
    same_package(&journal, &packages, file)?;
    if journal.state == RolloutState::RolledBack {
        let note = format!("rollout {} is already rolled back", journal.id);
        say(&note);
        notes.push(note);
        return Ok(RolloutOutcome { journal, notes });
    }
    store.begin(&mut journal, |j| {
        j.state = RolloutState::RollingBack;
        j.event("dac rollout rollback");
    })?;
    let run = run_with(&spec, &packages, journal, store, None, say)?;
    say("rolling back upgraded targets, newest first");
    let mut failures = Vec::new();
    // One domain at a time, newest first; inside a domain, `concurrency` at a time.
    let domains: Vec<(usize, Vec<usize>)> = {
        let j = run.journal.lock().unwrap_or_else(|e| e.into_inner());
        j.domains
            .iter()
            .rev()
            .map(|d| (d.index, d.targets.clone()))
            .collect()
    };
    for (domain, members) in domains {
        let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
        run.each(domain, &members, |i| {
            if let Err(e) = run.rollback_target(i) {
                errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(crate::driver::redact(&e.to_string()));
            }
            Ok(())
        })?;
        failures.extend(errors.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
    run.update(|j| {
        for d in &mut j.domains {
            if d.targets
                .iter()
                .any(|&i| j.targets[i].state == TargetState::RolledBack)
            {
                d.state = DomainState::RolledBack;
            }
        }
        if failures.is_empty() {
            j.state = RolloutState::RolledBack;
            j.event("rolled back");
        } else {
            j.event(format!("rollback incomplete:\n  {}", failures.join("\n  ")));
        }
    })?;
    run.compact()?;
    let journal = run.journal.into_inner().unwrap_or_else(|e| e.into_inner());
    if !failures.is_empty() {
        let rolled_back = journal
            .targets
            .iter()
            .filter(|t| t.state == TargetState::RolledBack)
            .map(|t| t.target.clone())
            .collect();
        return Err(Error::RollbackIncomplete {
            failures,
            rolled_back,
        });
    }
    say("rollback done");
    Ok(RolloutOutcome { journal, notes })
}

impl Run<'_> {
    /// Returns one target to the version it had before the rollout, from its copy.
    pub(super) fn rollback_target(&self, index: usize) -> Result<()> {
        let record = self.record(index);
        let target = self.target(&record)?;
        let interrupted = matches!(
            record.state,
            TargetState::BackingUp | TargetState::BackedUp | TargetState::Upgrading
        );
        // A PostgreSQL target may be missing here (a rollback interrupted between dropping it
        // and renaming its copy back): `restore` handles that.
        let registration = open(&target.target).and_then(|mut d| d.read_registration());
        if interrupted {
            // Did the interrupted upgrade commit? The registry says.
            let registration = registration.as_ref().map_err(clone_error)?;
            if !self.packages.matches(&target.target, registration.as_ref()) {
                let note = "interrupted before its upgrade committed: nothing to undo";
                self.say(&format!("  {}: {note}", record.target));
                return self.update_target(index, |t| {
                    t.state = TargetState::Pending;
                    t.notes.push(note.into());
                });
            }
        } else if !record.state.is_upgraded() {
            return Ok(());
        }
        if let Ok(registration) = &registration
            && record.state != TargetState::RollingBack
            && !self.packages.matches(&target.target, registration.as_ref())
            && same_as_before(&record, registration.as_ref())
        {
            let note =
                "found at its previous version already (rolled back by hand?): nothing to restore";
            self.say(&format!("  {}: {note}", record.target));
            return self.update_target(index, |t| {
                t.state = TargetState::RolledBack;
                t.version_now = t.version_before.clone();
                t.notes.push(note.into());
            });
        }
        let Some(backup) = record.backup.clone() else {
            let message =
                "no copy was kept (backup = false): roll it back by deploying the previous package";
            self.update_target(index, |t| t.error = Some(message.into()))?;
            return Err(Error::NoCopyKept {
                target: record.target.clone(),
            });
        };
        self.update_target(index, |t| t.state = TargetState::RollingBack)?;
        crate::fault::point("rollout.rolling-back");
        let started = Instant::now();
        let id = self.rollout_id();
        let result = self.restore(&record, &target.target, &backup, &id);
        if let Err(e) = result {
            let message = crate::driver::redact(&e.to_string());
            self.say(&format!("  {}: rollback FAILED: {message}", record.target));
            self.update_target(index, |t| t.error = Some(format!("rollback: {message}")))?;
            return Err(e);
        }
        crate::fault::point("rollout.after-restore");
        let ms = millis(started.elapsed());
        let line = format!(
            "  {}: rolled back to {} ({ms} ms)",
            record.target,
            record.version_before.as_deref().unwrap_or("(unregistered)")
        );
        self.update_target(index, |t| {
            t.state = TargetState::RolledBack;
            t.version_now = t.version_before.clone();
            t.error = None;
            t.carry_history.clear();
            t.notes
                .push(format!("rolled back from {} ({ms} ms)", backup.describe()));
        })?;
        self.say(&line);
        Ok(())
    }

    /// Restores the copy, unless the registry shows the restore already happened; refuses when
    /// the target was changed since the rollout upgraded it.
    fn restore(
        &self,
        record: &TargetRecord,
        target: &Target,
        backup: &Backup,
        id: &str,
    ) -> Result<()> {
        let version = &self.packages.info.version;
        match backup {
            Backup::Snapshot(snapshot) if snapshot.platform() == target.platform() => {
                let mut steps = RestoreChecks {
                    run: self,
                    record,
                    target,
                    version,
                    id,
                    history: record.carry_history.clone(),
                };
                crate::driver::connect_server(target)?.restore(
                    snapshot,
                    self.spec.timeouts.lock,
                    &mut steps,
                )
            }
            Backup::Snapshot(_) => Err(Error::Invalid(format!(
                "{}: the journal's copy ({}) does not fit this target",
                record.target,
                backup.describe()
            ))),
            Backup::SideBySide { .. } => {
                let registration = open(target)?.read_registration()?;
                if record.state == TargetState::RollingBack
                    && same_as_before(record, registration.as_ref())
                {
                    return Ok(());
                }
                self.check_unchanged(record, target, registration.as_ref())?;
                upgrade::rollback(target, false, self.spec.timeouts.lock).map(|_| ())
            }
        }
    }

    fn check_unchanged(
        &self,
        record: &TargetRecord,
        target: &Target,
        registration: Option<&Registration>,
    ) -> Result<()> {
        if self.packages.matches(target, registration) {
            return Ok(());
        }
        Err(Error::ChangedSinceUpgrade {
            target: record.target.clone(),
            registered_now: registration.map(|r| format!("{} {}", r.name, r.version)),
        })
    }
}

/// What a rollback checks and records around restoring a target's snapshot.
struct RestoreChecks<'r, 'a> {
    run: &'r Run<'a>,
    record: &'r TargetRecord,
    target: &'r Target,
    version: &'r str,
    id: &'r str,
    /// The history rows the restored database lacks, carried over to it: read before the
    /// restore, or from the journal when an earlier rollback restored the copy and died.
    history: Vec<HistoryEntry>,
}

impl RestoreSteps for RestoreChecks<'_, '_> {
    fn should_restore(&mut self, found: Result<&mut dyn Driver>) -> Result<bool> {
        let driver = match found {
            Ok(driver) => driver,
            // An earlier rollback dropped the database and stopped before putting the copy
            // back: the copy goes back now, with no newer history to carry.
            Err(_) if self.record.state == TargetState::RollingBack => return Ok(true),
            Err(e) => return Err(e),
        };
        let registration = driver.read_registration()?;
        if self.record.state == TargetState::RollingBack
            && same_as_before(self.record, registration.as_ref())
        {
            return Ok(false);
        }
        self.run
            .check_unchanged(self.record, self.target, registration.as_ref())?;
        // Journaled before the restore replaces them: a rollback killed after the restore
        // finds them there.
        self.history = written_since_copy(driver.history()?, self.record);
        let (index, history) = (self.record.index, self.history.clone());
        self.run
            .update_target(index, |t| t.carry_history = history)?;
        Ok(true)
    }

    fn after_restore(&mut self, restored: &mut dyn Driver) -> Result<()> {
        carry_history(restored, &self.history, self.record, self.version, self.id)
    }
}

/// The rows of `history` a copy taken before the rollout's upgrade may lack: those after the
/// last success that left the version the copy has (all of them when there is none). Rows the
/// copy has too are skipped when carried, so a few too many do no harm.
fn written_since_copy(mut history: Vec<HistoryEntry>, record: &TargetRecord) -> Vec<HistoryEntry> {
    let start = history
        .iter()
        .rposition(|e| {
            e.status == HistoryStatus::Success && e.version_after == record.version_before
        })
        .map_or(0, |last| last + 1);
    history.split_off(start)
}

/// After a restore the history is the copy's: the rows written since (the upgrade) are added
/// back, then a rollback row. Each row is written once however often this runs, since a
/// rollback killed midway runs it again.
fn carry_history(
    driver: &mut dyn Driver,
    carried: &[HistoryEntry],
    record: &TargetRecord,
    version: &str,
    id: &str,
) -> Result<()> {
    let now = driver.history()?;
    for entry in carried.iter().filter(|e| !now.contains(e)) {
        driver.append_history(entry)?;
    }
    crate::fault::point("rollout.carried-history");
    let message = format!("rollout {id}: restored the copy taken before the upgrade");
    if now
        .iter()
        .any(|e| e.action == HistoryAction::Rollback && e.message == message)
    {
        return Ok(());
    }
    let name = now
        .iter()
        .chain(carried)
        .rev()
        .find(|e| e.status == HistoryStatus::Success)
        .map(|e| e.name.clone())
        .unwrap_or_default();
    let mut entry = HistoryEntry::now(HistoryAction::Rollback, HistoryStatus::Success, &name);
    entry.version_before = Some(version.to_string());
    entry.version_after = record.version_before.clone();
    entry.message = message;
    driver.append_history(&entry)
}

/// The registration is the one the target had before the rollout touched it.
fn same_as_before(record: &TargetRecord, registration: Option<&Registration>) -> bool {
    match (registration, &record.hash_before) {
        (Some(r), Some(before)) => {
            &r.model_hash == before && record.version_before.as_deref() == Some(r.version.as_str())
        }
        (None, None) => true,
        _ => false,
    }
}

/// Errors are not `Clone`; a borrowed one is passed on by its message.
fn clone_error(e: &Error) -> Error {
    Error::Invalid(e.to_string())
}
