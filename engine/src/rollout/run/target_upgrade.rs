//! One target's upgrade: a snapshot first (in place) unless the rollout keeps none, then the
//! upgrade, each step written to the journal before it starts and after it ends.

use std::time::Instant;

use super::{Run, millis, open};
use crate::Result;
use crate::driver::{SnapshotPlace, Target};
use crate::registry;
use crate::rollout::journal::{Backup, TargetRecord, TargetState};
use crate::rollout::spec::{Mode, TargetSpec};
use crate::upgrade::{self, NoProgress, SideBySideOptions};

impl Run<'_> {
    /// Takes one target through copy and upgrade, from whatever step the journal has it in.
    pub(super) fn upgrade_target(&self, index: usize) -> Result<()> {
        let record = self.record(index);
        if !matches!(
            record.state,
            TargetState::Pending
                | TargetState::BackingUp
                | TargetState::BackedUp
                | TargetState::Upgrading
        ) {
            return Ok(());
        }
        let target = self.target(&record)?;
        let started = Instant::now();
        let registration = match open(&target.target).and_then(|mut d| d.read_registration()) {
            Ok(r) => r,
            Err(e) => return self.fail(index, &format!("cannot read its registry: {e}")),
        };
        if self.packages.matches(&target.target, registration.as_ref()) {
            if record.state != TargetState::Pending {
                // A process killed while holding the upgrade lock may have left its lock file
                // beside a SQLite database: taking the lock and letting go removes it. Held by
                // a live run, it is that run's to remove.
                if let Ok(mut driver) = open(&target.target)
                    && driver.lock(std::time::Duration::ZERO).is_ok()
                {
                    let _ = driver.unlock();
                }
            }
            let version = self.packages.info.version.clone();
            let (step, note) = if record.state == TargetState::Pending {
                (
                    TargetState::Current,
                    format!("already at {version}: nothing to do"),
                )
            } else {
                (
                    TargetState::Upgraded,
                    format!(
                        "the journal was behind: the registry shows {version}, so the upgrade had committed; not upgraded again"
                    ),
                )
            };
            self.say(&format!("  {}: {note}", record.target));
            return self.update_target(index, |t| {
                t.state = step;
                t.version_now = Some(version);
                t.finished_at = Some(registry::now_utc());
                t.notes.push(note);
            });
        }
        if record.state == TargetState::Pending {
            self.update_target(index, |t| {
                t.started_at = Some(registry::now_utc());
                t.version_before = registration.as_ref().map(|r| r.version.clone());
                t.hash_before = registration.as_ref().map(|r| r.model_hash.clone());
                t.version_now = t.version_before.clone();
            })?;
        }
        if target.mode == Mode::SideBySide {
            return self.upgrade_side_by_side(index, &record, target, started);
        }
        let needs_copy = self.spec.backup
            && (matches!(record.state, TargetState::Pending | TargetState::BackingUp)
                || record.backup.is_none());
        if needs_copy {
            self.update_target(index, |t| t.state = TargetState::BackingUp)?;
            let copy_started = Instant::now();
            let id = self.rollout_id();
            match self.snapshot(index, &target.target, &id) {
                Ok(backup) => {
                    crate::fault::point("rollout.after-backup");
                    let ms = millis(copy_started.elapsed());
                    self.update_target(index, |t| {
                        t.state = TargetState::BackedUp;
                        t.backup = Some(backup);
                        t.backup_ms = Some(ms);
                    })?;
                }
                Err(e) => {
                    return self.fail(
                        index,
                        &format!("cannot keep a copy before upgrading (a rollback needs it): {e}"),
                    );
                }
            }
        }
        self.update_target(index, |t| t.state = TargetState::Upgrading)?;
        let (package, _) = self.packages.for_target(&target.target)?;
        let options = self.in_place_options(package);
        let upgrade_started = Instant::now();
        let result = open(&target.target).and_then(|mut driver| {
            driver.set_timeouts(self.spec.timeouts)?;
            upgrade::in_place(driver.as_mut(), package, &options)
        });
        let upgrade_ms = millis(upgrade_started.elapsed());
        crate::fault::point("rollout.after-upgrade");
        match result {
            Ok(outcome) => {
                let line = format!(
                    "  {}: {} -> {} ({} ms, upgrade {} ms)",
                    record.target,
                    outcome
                        .version_before
                        .as_deref()
                        .unwrap_or("(unregistered)"),
                    outcome.version_after,
                    millis(started.elapsed()),
                    upgrade_ms
                );
                self.update_target(index, |t| {
                    t.state = TargetState::Upgraded;
                    t.version_now = Some(outcome.version_after.clone());
                    t.upgrade_ms = Some(upgrade_ms);
                    t.finished_at = Some(registry::now_utc());
                    if outcome.up_to_date {
                        let scripts = outcome.plan.deployment_scripts();
                        t.notes.push(if scripts.is_empty() {
                            "schema already matched; registration unchanged".into()
                        } else {
                            format!(
                                "schema already matched; registration unchanged; ran the {} scripts",
                                scripts.join(" and ")
                            )
                        });
                    }
                })?;
                self.say(&line);
            }
            Err(e) => {
                self.update_target(index, |t| t.upgrade_ms = Some(upgrade_ms))?;
                self.fail(index, &e.to_string())?;
            }
        }
        crate::fault::point("rollout.after-target");
        Ok(())
    }

    /// A side-by-side upgrade: the original is retained under another name, which is what a
    /// rollback switches back to; no copy of our own is needed. An interrupted one is finished
    /// or undone by the next call (the upgrade's own journal), then run.
    fn upgrade_side_by_side(
        &self,
        index: usize,
        record: &TargetRecord,
        target: &TargetSpec,
        started: Instant,
    ) -> Result<()> {
        self.update_target(index, |t| {
            t.state = TargetState::Upgrading;
            // Known once it switched; until then the upgrade's own journal names it.
            t.backup = Some(Backup::SideBySide {
                retained: "(named by the side-by-side journal)".into(),
            });
        })?;
        let (package, _) = self.packages.for_target(&target.target)?;
        let in_place = self.in_place_options(package);
        let options = SideBySideOptions {
            allow_data_loss: in_place.allow_data_loss,
            allow_drift: in_place.allow_drift,
            compare: in_place.compare,
            variables: in_place.variables,
            lock_wait: self.spec.timeouts.lock,
            ..SideBySideOptions::default()
        };
        let result = upgrade::side_by_side(&target.target, package, &options, &NoProgress);
        crate::fault::point("rollout.after-upgrade");
        match result {
            Ok(outcome) => {
                let report = &outcome.report;
                let line = format!(
                    "  {}: {} -> {} side by side ({} ms, read-only {} ms; original kept as {})",
                    record.target,
                    report.version_before.as_deref().unwrap_or("(unregistered)"),
                    report.version_after,
                    millis(started.elapsed()),
                    report.read_only_window_ms,
                    report.retained
                );
                self.update_target(index, |t| {
                    t.state = TargetState::Upgraded;
                    t.version_now = Some(report.version_after.clone());
                    t.backup = Some(Backup::SideBySide {
                        retained: report.retained.clone(),
                    });
                    t.upgrade_ms = Some(report.read_only_window_ms);
                    t.finished_at = Some(registry::now_utc());
                    if let Some(recovered) = &outcome.recovered {
                        t.notes.push(recovered.clone());
                    }
                })?;
                self.say(&line);
            }
            Err(e) => self.fail(index, &e.to_string())?,
        }
        crate::fault::point("rollout.after-target");
        Ok(())
    }

    fn fail(&self, index: usize, message: &str) -> Result<()> {
        let message = crate::driver::redact(message);
        self.say(&format!(
            "  {}: FAILED: {message}",
            self.record(index).target
        ));
        self.update_target(index, |t| {
            t.state = TargetState::Failed;
            t.error = Some(message.clone());
            t.finished_at = Some(registry::now_utc());
        })
    }

    /// Takes the snapshot a rollback restores (replacing a partial one left by an interrupted
    /// run); file copies go to the rollout's backups folder.
    fn snapshot(&self, index: usize, target: &Target, id: &str) -> Result<Backup> {
        let folder = self.paths.backups.join(id);
        let place = SnapshotPlace {
            id,
            folder: &folder,
            file_prefix: &format!("{index:04}-"),
        };
        let mut server = crate::driver::connect_server(target)?;
        server
            .snapshot(&place, self.spec.timeouts.lock)
            .map(Backup::Snapshot)
    }
}
