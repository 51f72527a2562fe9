//! The rollout executor: start, next, resume, rollback.
//!
//! Every step of every target is written to the journal before it starts and after it ends.
//! An interrupted upgrade is settled by the target's own registry, which commits with the
//! upgrade: a target whose registration already matches the package is marked upgraded, never
//! upgraded again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::domains::distribute;
use super::health;
use super::journal::{
    self, Backup, DomainRecord, DomainState, Journal, LockGuard, PackageInfo, RolloutState, Step,
    Superseded, TargetRecord,
};
use super::spec::{self, Mode, Spec, TargetSpec};
use crate::compare::CompareOptions;
use crate::dialect::dialect_for;
use crate::driver::{Driver, PostgresDriver, Registry, SqliteDriver, Target};
use crate::model::{Dsp, Platform};
use crate::package::{self, Package, ReadOptions};
use crate::registry::{self, HistoryAction, HistoryEntry, HistoryStatus, Registration};
use crate::source::{self, BuildOptions};
use crate::upgrade::{self, InPlaceOptions, NoProgress, SideBySideOptions};
use crate::{Error, Result};

/// Where a rollout keeps its state, beside the rollout file `NAME.toml`: `NAME.journal.json`,
/// `NAME.lock` and the copies in `NAME.backups/`.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The journal.
    pub journal: PathBuf,
    /// The lock file.
    pub lock: PathBuf,
    /// The folder of SQLite copies.
    pub backups: PathBuf,
}

impl Paths {
    /// The paths of the rollout file `file`.
    pub fn of(file: &Path) -> Paths {
        let stem = file
            .file_stem()
            .map_or_else(|| "rollout".into(), |s| s.to_string_lossy().into_owned());
        let folder = file.parent().unwrap_or(Path::new(""));
        Paths {
            journal: folder.join(format!("{stem}.journal.json")),
            lock: folder.join(format!("{stem}.lock")),
            backups: folder.join(format!("{stem}.backups")),
        }
    }
}

/// Receives progress lines as the rollout goes.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// What a command did: the journal as it now stands, and notes for the user (a stale lock taken
/// over, a rollout superseded, nothing to do).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The journal after the command.
    pub journal: Journal,
    /// Notes.
    pub notes: Vec<String>,
}

/// The package(s) of a rollout: a .dacpac as it is, a project built once per platform.
struct Packages {
    by_platform: BTreeMap<&'static str, (Package, Registration)>,
    info: PackageInfo,
}

impl Packages {
    fn load(spec: &Spec) -> Result<Packages> {
        let path = &spec.package;
        if !path.exists() {
            return Err(Error::Invalid(format!(
                "{}: package {} not found",
                spec.file.display(),
                path.display()
            )));
        }
        let is_dacpac = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("dacpac"));
        let mut by_platform = BTreeMap::new();
        let mut platforms: Vec<Platform> =
            spec.targets.iter().map(|t| t.target.platform()).collect();
        platforms.sort_by_key(|p| p.as_str());
        platforms.dedup();
        if is_dacpac {
            if spec.name.is_some() || spec.version.is_some() {
                return Err(Error::Invalid(format!(
                    "{}: name and version apply to projects; {} keeps the name and version it was built with",
                    spec.file.display(),
                    path.display()
                )));
            }
            let package = package::read(path, &ReadOptions::default())?;
            let platform = package.model.platform();
            if let Some(other) = spec
                .targets
                .iter()
                .find(|t| t.target.platform() != platform)
            {
                return Err(Error::Invalid(format!(
                    "{}: the package is for {} but target {} is a {} database",
                    spec.file.display(),
                    platform.as_str(),
                    other.key(),
                    other.target.platform().as_str()
                )));
            }
            let registration = Registration::of(&package)?;
            by_platform.insert(platform.as_str(), (package, registration));
        } else {
            for platform in platforms {
                let options = BuildOptions {
                    platform: Dsp::from_short_name(platform.as_str()),
                    name: spec.name.clone(),
                    version: spec.version.clone(),
                    ..BuildOptions::default()
                };
                let package = source::build(path, &options)?;
                let registration = Registration::of(&package)?;
                by_platform.insert(platform.as_str(), (package, registration));
            }
        }
        let first = by_platform
            .values()
            .next()
            .map(|(_, r)| r.clone())
            .ok_or_else(|| Error::Invalid("no targets".into()))?;
        let info = PackageInfo {
            path: path.display().to_string(),
            name: first.name.clone(),
            version: first.version.clone(),
            model_hashes: by_platform
                .iter()
                .map(|(p, (_, r))| ((*p).to_string(), r.model_hash.clone()))
                .collect(),
        };
        Ok(Packages { by_platform, info })
    }

    fn for_target(&self, target: &Target) -> Result<&(Package, Registration)> {
        self.by_platform
            .get(target.platform().as_str())
            .ok_or_else(|| Error::Invalid(format!("no package for {target}")))
    }

    /// The registration is this package's.
    fn matches(&self, target: &Target, registration: Option<&Registration>) -> bool {
        let Ok((_, mine)) = self.for_target(target) else {
            return false;
        };
        registration.is_some_and(|r| {
            r.name.eq_ignore_ascii_case(&mine.name)
                && r.version == mine.version
                && r.model_hash == mine.model_hash
        })
    }
}

/// Shared state of one command.
struct Run<'a> {
    spec: &'a Spec,
    packages: &'a Packages,
    paths: Paths,
    journal: Mutex<Journal>,
    progress: Progress<'a>,
    /// Targets by journal key.
    targets: BTreeMap<String, &'a TargetSpec>,
}

impl Run<'_> {
    fn update<T>(&self, f: impl FnOnce(&mut Journal) -> T) -> Result<T> {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let value = f(&mut journal);
        journal.save(&self.paths.journal)?;
        Ok(value)
    }

    fn record(&self, index: usize) -> TargetRecord {
        let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        journal.targets[index].clone()
    }

    fn target(&self, record: &TargetRecord) -> Result<&TargetSpec> {
        self.targets.get(&record.target).copied().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: target {} of the rollout journal is no longer in the rollout file",
                self.spec.file.display(),
                record.target
            ))
        })
    }

    fn say(&self, line: &str) {
        (self.progress)(line);
    }

    /// Runs `f` on each item, `concurrency` at a time; the first error stops the others from
    /// starting new items and is returned.
    fn each(&self, items: &[usize], f: impl Fn(usize) -> Result<()> + Sync) -> Result<()> {
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        let workers = self.spec.concurrency.clamp(1, items.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                            break;
                        }
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&item) = items.get(k) else { break };
                        if let Err(e) = f(item) {
                            let mut slot = failure.lock().unwrap_or_else(|e| e.into_inner());
                            slot.get_or_insert(e);
                        }
                    }
                });
            }
        });
        match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn in_place_options(&self, package: &Package) -> InPlaceOptions {
        let caps = dialect_for(package.model.platform()).capabilities();
        let mut variables = self.spec.variables.clone();
        for name in package.model.sqlcmd_variables() {
            if !variables.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                variables.push((name.to_string(), String::new()));
            }
        }
        InPlaceOptions {
            allow_data_loss: self.spec.allow_data_loss,
            allow_drift: self.spec.allow_drift,
            smart_defaults: self.spec.smart_defaults,
            compare: CompareOptions {
                ignore_column_order: !caps.column_order_significant,
                drop_objects_not_in_source: true,
                ..CompareOptions::default()
            },
            variables,
        }
    }

    /// Walks domains until the rollout is done or stuck, or (`one`) after one domain.
    fn drive(&self, one: bool) -> Result<()> {
        loop {
            let current = self
                .journal
                .lock()
                .map(|j| j.current_domain())
                .ok()
                .flatten();
            let Some(domain) = current else {
                self.update(|j| {
                    j.state = RolloutState::Done;
                    j.event("every domain upgraded and healthy");
                })?;
                self.say("rollout done: every domain upgraded and healthy");
                return Ok(());
            };
            self.update(|j| j.state = RolloutState::Running)?;
            let healthy = self.run_domain(domain)?;
            if !healthy {
                self.update(|j| {
                    j.state = RolloutState::Stuck;
                    j.event(format!("stuck: domain {domain} failed"));
                })?;
                return Ok(());
            }
            let more = self
                .journal
                .lock()
                .map(|j| j.current_domain().is_some())
                .unwrap_or(false);
            if one || !more {
                self.update(|j| {
                    if more {
                        j.state = RolloutState::Paused;
                        j.event(format!(
                            "paused after domain {domain}: `dac rollout next` walks the next one"
                        ));
                    } else {
                        j.state = RolloutState::Done;
                        j.event("every domain upgraded and healthy");
                    }
                })?;
                if !more {
                    self.say("rollout done: every domain upgraded and healthy");
                }
                return Ok(());
            }
        }
    }

    /// Upgrades and checks one domain; whether it is healthy.
    fn run_domain(&self, domain: usize) -> Result<bool> {
        let (members, n_domains) = {
            let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            (
                journal.domains[domain].targets.clone(),
                journal.domains.len(),
            )
        };
        let started = Instant::now();
        self.update(|j| {
            let d = &mut j.domains[domain];
            if d.started_at.is_none() {
                d.started_at = Some(registry::now_utc());
            }
            d.state = DomainState::Upgrading;
        })?;
        self.say(&format!(
            "domain {domain} of {n_domains}: upgrading {} target(s)",
            members.len()
        ));
        self.each(&members, |i| self.upgrade_target(i))?;
        self.update(|j| j.domains[domain].state = DomainState::Checking)?;
        let health = &self.spec.health;
        if health.wait_seconds > 0.0 {
            self.say(&format!(
                "domain {domain}: waiting {}s before the health checks",
                health.wait_seconds
            ));
            std::thread::sleep(Duration::from_secs_f64(health.wait_seconds));
        }
        let folder = spec::folder_of(&self.spec.file);
        let version = self.packages.info.version.clone();
        self.each(&members, |i| {
            let record = self.record(i);
            if !(record.step.is_upgraded() || record.step == Step::Current) {
                return Ok(());
            }
            let target = self.target(&record)?;
            let results = health::check(health, target, domain, &version, &folder);
            let ok = results.iter().all(|r| r.ok);
            for r in results.iter().filter(|r| !r.ok) {
                self.say(&format!(
                    "  {} UNHEALTHY: {}: {}",
                    record.target, r.check, r.detail
                ));
            }
            self.update(|j| {
                let t = &mut j.targets[i];
                t.health = results;
                if t.step.is_upgraded() {
                    t.step = if ok { Step::Healthy } else { Step::Unhealthy };
                }
            })
        })?;
        crate::fault::point("rollout.after-checks");
        let (healthy, failures) = {
            let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            let mut failures = Vec::new();
            for &i in &members {
                let t = &journal.targets[i];
                if t.step == Step::Failed {
                    failures.push(format!(
                        "{}: upgrade failed: {}",
                        t.target,
                        t.error.as_deref().unwrap_or("")
                    ));
                }
                for r in t.health.iter().filter(|r| !r.ok) {
                    failures.push(format!("{}: {} failed: {}", t.target, r.check, r.detail));
                }
            }
            (failures.is_empty(), failures)
        };
        let ms = millis(started.elapsed());
        self.update(|j| {
            let d = &mut j.domains[domain];
            d.state = if healthy {
                DomainState::Healthy
            } else {
                DomainState::Failed
            };
            d.finished_at = Some(registry::now_utc());
            d.duration_ms = Some(d.duration_ms.unwrap_or(0) + ms);
            if healthy {
                j.event(format!("domain {domain} healthy"));
            } else {
                j.event(format!(
                    "domain {domain} failed:\n  {}",
                    failures.join("\n  ")
                ));
            }
        })?;
        if healthy {
            self.say(&format!("domain {domain}: healthy"));
        } else {
            self.say(&format!(
                "domain {domain}: FAILED ({} problem(s))",
                failures.len()
            ));
        }
        Ok(healthy)
    }

    /// Takes one target through copy and upgrade, from whatever step the journal has it in.
    fn upgrade_target(&self, index: usize) -> Result<()> {
        let record = self.record(index);
        if !matches!(
            record.step,
            Step::Pending | Step::BackingUp | Step::BackedUp | Step::Upgrading
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
            let version = self.packages.info.version.clone();
            let (step, note) = if record.step == Step::Pending {
                (
                    Step::Current,
                    format!("already at {version}: nothing to do"),
                )
            } else {
                (
                    Step::Upgraded,
                    format!(
                        "the journal was behind: the registry shows {version}, so the upgrade had committed; not upgraded again"
                    ),
                )
            };
            self.say(&format!("  {}: {note}", record.target));
            return self.update(|j| {
                let t = &mut j.targets[index];
                t.step = step;
                t.version_now = Some(version);
                t.finished_at = Some(registry::now_utc());
                t.notes.push(note);
            });
        }
        if record.step == Step::Pending {
            self.update(|j| {
                let t = &mut j.targets[index];
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
            && (matches!(record.step, Step::Pending | Step::BackingUp) || record.backup.is_none());
        if needs_copy {
            self.update(|j| j.targets[index].step = Step::BackingUp)?;
            let copy_started = Instant::now();
            let id = self
                .journal
                .lock()
                .map(|j| j.id.clone())
                .unwrap_or_default();
            match self.copy(index, &target.target, &id) {
                Ok(backup) => {
                    crate::fault::point("rollout.after-backup");
                    let ms = millis(copy_started.elapsed());
                    self.update(|j| {
                        let t = &mut j.targets[index];
                        t.step = Step::BackedUp;
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
        self.update(|j| j.targets[index].step = Step::Upgrading)?;
        let (package, _) = self.packages.for_target(&target.target)?;
        let options = self.in_place_options(package);
        let upgrade_started = Instant::now();
        let result = open(&target.target)
            .and_then(|mut driver| upgrade::in_place(driver.as_mut(), package, &options));
        let upgrade_ms = millis(upgrade_started.elapsed());
        crate::fault::point("rollout.after-upgrade");
        match result {
            Ok(outcome) => {
                let line = format!(
                    "  {}: {} -> {} ({} ms, read-only {} ms)",
                    record.target,
                    outcome
                        .version_before
                        .as_deref()
                        .unwrap_or("(unregistered)"),
                    outcome.version_after,
                    millis(started.elapsed()),
                    upgrade_ms
                );
                self.update(|j| {
                    let t = &mut j.targets[index];
                    t.step = Step::Upgraded;
                    t.version_now = Some(outcome.version_after.clone());
                    t.upgrade_ms = Some(upgrade_ms);
                    t.finished_at = Some(registry::now_utc());
                    if outcome.up_to_date {
                        t.notes
                            .push("schema already matched; registration unchanged".into());
                    }
                })?;
                self.say(&line);
            }
            Err(e) => {
                self.update(|j| j.targets[index].upgrade_ms = Some(upgrade_ms))?;
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
        self.update(|j| {
            let t = &mut j.targets[index];
            t.step = Step::Upgrading;
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
                self.update(|j| {
                    let t = &mut j.targets[index];
                    t.step = Step::Upgraded;
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
        self.update(|j| {
            let t = &mut j.targets[index];
            t.step = Step::Failed;
            t.error = Some(message.clone());
            t.finished_at = Some(registry::now_utc());
        })
    }

    /// Makes the copy a rollback restores (replacing a partial one left by an interrupted run).
    fn copy(&self, index: usize, target: &Target, id: &str) -> Result<Backup> {
        match target {
            Target::Sqlite { path } => {
                let folder = self.paths.backups.join(id);
                std::fs::create_dir_all(&folder).map_err(|source| Error::Io {
                    path: folder.clone(),
                    source,
                })?;
                let name = path
                    .file_name()
                    .map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
                let copy = folder.join(format!("{index:04}-{name}"));
                let partial = folder.join(format!("{index:04}-{name}.partial"));
                for stale in [&copy, &partial] {
                    match std::fs::remove_file(stale) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => {
                            return Err(Error::Io {
                                path: stale.clone(),
                                source,
                            });
                        }
                    }
                }
                let mut driver = SqliteDriver::open(path, false)?;
                driver.lock(upgrade::LOCK_WAIT)?;
                let made = driver.copy_to(&partial);
                driver.unlock()?;
                made?;
                std::fs::rename(&partial, &copy).map_err(|source| Error::Io {
                    path: copy.clone(),
                    source,
                })?;
                Ok(Backup::SqliteCopy {
                    path: copy.display().to_string(),
                })
            }
            Target::Postgres { url } => {
                let driver = PostgresDriver::connect(url)?;
                let database = driver.database().to_string();
                let copy = postgres_copy_name(&database, id);
                let mut admin = driver.maintenance()?;
                // CREATE DATABASE ... TEMPLATE needs the database without sessions: ours too.
                drop(driver);
                admin.drop_database(&copy)?;
                admin.copy_database(&database, &copy)?;
                Ok(Backup::PostgresTemplate { database: copy })
            }
            Target::SqlServer { .. } => Err(Error::Invalid(format!(
                "{target}: a rollout keeps no copy of a SQL Server database for an in-place rollback yet; roll SQL Server targets out side by side (mode = \"side-by-side\") or without backups"
            ))),
        }
    }

    /// Returns one target to the version it had before the rollout, from its copy.
    fn rollback_target(&self, index: usize) -> Result<()> {
        let record = self.record(index);
        let target = self.target(&record)?;
        let interrupted = matches!(
            record.step,
            Step::BackingUp | Step::BackedUp | Step::Upgrading
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
                return self.update(|j| {
                    let t = &mut j.targets[index];
                    t.step = Step::Pending;
                    t.notes.push(note.into());
                });
            }
        } else if !record.step.is_upgraded() {
            return Ok(());
        }
        if let Ok(registration) = &registration
            && record.step != Step::RollingBack
            && !self.packages.matches(&target.target, registration.as_ref())
            && same_as_before(&record, registration.as_ref())
        {
            let note =
                "found at its previous version already (rolled back by hand?): nothing to restore";
            self.say(&format!("  {}: {note}", record.target));
            return self.update(|j| {
                let t = &mut j.targets[index];
                t.step = Step::RolledBack;
                t.version_now = t.version_before.clone();
                t.notes.push(note.into());
            });
        }
        let Some(backup) = record.backup.clone() else {
            let message =
                "no copy was kept (backup = false): roll it back by deploying the previous package";
            self.update(|j| j.targets[index].error = Some(message.into()))?;
            return Err(Error::Blocked {
                reason: format!("{}: {message}", record.target),
            });
        };
        self.update(|j| j.targets[index].step = Step::RollingBack)?;
        let started = Instant::now();
        let id = self
            .journal
            .lock()
            .map(|j| j.id.clone())
            .unwrap_or_default();
        let result = self.restore(&record, &target.target, &backup, &id);
        if let Err(e) = result {
            let message = crate::driver::redact(&e.to_string());
            self.say(&format!("  {}: rollback FAILED: {message}", record.target));
            self.update(|j| j.targets[index].error = Some(format!("rollback: {message}")))?;
            return Err(e);
        }
        crate::fault::point("rollout.after-restore");
        let ms = millis(started.elapsed());
        let line = format!(
            "  {}: rolled back to {} ({ms} ms)",
            record.target,
            record.version_before.as_deref().unwrap_or("(unregistered)")
        );
        self.update(|j| {
            let t = &mut j.targets[index];
            t.step = Step::RolledBack;
            t.version_now = t.version_before.clone();
            t.error = None;
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
        let restored = |registration: Option<&Registration>| same_as_before(record, registration);
        match (target, backup) {
            (Target::Sqlite { path }, Backup::SqliteCopy { path: copy }) => {
                let mut driver = SqliteDriver::open(path, false)?;
                driver.lock(upgrade::LOCK_WAIT)?;
                let result = (|| {
                    let registration = driver.read_registration()?;
                    if record.step == Step::RollingBack && restored(registration.as_ref()) {
                        return Ok(());
                    }
                    self.check_unchanged(record, target, registration.as_ref())?;
                    let history = driver.history()?;
                    driver.restore_from(Path::new(copy))?;
                    carry_history(&mut driver, &history, record, version, id)
                })();
                let unlocked = driver.unlock();
                result.and(unlocked)
            }
            (Target::Postgres { url }, Backup::PostgresTemplate { database: copy }) => {
                let config_holder = PostgresDriver::connect_or_create(url, false);
                let (history, database, mut admin) = match config_holder {
                    Ok(mut driver) => {
                        let registration = driver.read_registration()?;
                        if record.step == Step::RollingBack && restored(registration.as_ref()) {
                            return Ok(());
                        }
                        self.check_unchanged(record, target, registration.as_ref())?;
                        let history = driver.history()?;
                        let database = driver.database().to_string();
                        let admin = driver.maintenance()?;
                        (history, database, admin)
                    }
                    // Interrupted between dropping the database and renaming the copy.
                    Err(Error::Driver {
                        code: Some(code), ..
                    }) if code == "3D000" && record.step == Step::RollingBack => {
                        let admin = admin_for(url)?;
                        (Vec::new(), target.database_name(), admin)
                    }
                    Err(e) => return Err(e),
                };
                if !admin.database_exists(copy)? {
                    return Err(Error::Invalid(format!(
                        "the copy database {copy} is gone: it cannot be rolled back from it"
                    )));
                }
                admin.drop_database(&database)?;
                admin.rename_database(copy, &database)?;
                let mut driver = PostgresDriver::connect(url)?;
                driver.lock(upgrade::LOCK_WAIT)?;
                let result = carry_history(&mut driver, &history, record, version, id);
                let unlocked = driver.unlock();
                result.and(unlocked)
            }
            (_, Backup::SideBySide { .. }) => {
                let registration = open(target)?.read_registration()?;
                if record.step == Step::RollingBack && restored(registration.as_ref()) {
                    return Ok(());
                }
                self.check_unchanged(record, target, registration.as_ref())?;
                upgrade::rollback(target, false).map(|_| ())
            }
            _ => Err(Error::Invalid(format!(
                "{}: the journal's copy ({}) does not fit this target",
                record.target,
                backup.describe()
            ))),
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
        Err(Error::Blocked {
            reason: format!(
                "{} changed since this rollout upgraded it (registered now: {}); not rolled back",
                record.target,
                registration.map_or_else(
                    || "nothing".to_string(),
                    |r| format!("{} {}", r.name, r.version)
                )
            ),
        })
    }
}

/// After a restore the history is the copy's: the rows written since (the upgrade) are added
/// back, then a rollback row.
fn carry_history(
    driver: &mut dyn Driver,
    before: &[HistoryEntry],
    record: &TargetRecord,
    version: &str,
    id: &str,
) -> Result<()> {
    let now = driver.history()?;
    let common = now.iter().zip(before).take_while(|(a, b)| a == b).count();
    for entry in &before[common..] {
        driver.append_history(entry)?;
    }
    let name = before
        .iter()
        .rev()
        .find(|e| e.status == HistoryStatus::Success)
        .map(|e| e.name.clone())
        .unwrap_or_default();
    let mut entry = HistoryEntry::now(HistoryAction::Rollback, HistoryStatus::Success, &name);
    entry.version_before = Some(version.to_string());
    entry.version_after = record.version_before.clone();
    entry.message = format!("rollout {id}: restored the copy taken before the upgrade");
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

fn admin_for(url: &str) -> Result<PostgresDriver> {
    // The database is gone; reach the server through its maintenance database.
    let cut = url.find('?').unwrap_or(url.len());
    let (main, query) = url.split_at(cut);
    let base = main.rfind('/').map_or(main, |i| &main[..=i]);
    PostgresDriver::connect(&format!("{base}postgres{query}"))
}

/// `DB_dacbak_HASH`, within PostgreSQL's 63-byte names.
fn postgres_copy_name(database: &str, id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut keep = 63 - "_dacbak_".len() - hash.len();
    while !database.is_char_boundary(keep.min(database.len())) {
        keep -= 1;
    }
    format!("{}_dacbak_{hash}", &database[..keep.min(database.len())])
}

fn open(target: &Target) -> Result<Box<dyn Driver>> {
    crate::driver::connect(target, false)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn new_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stamp: String = registry::format_utc(secs)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{stamp}-{}", std::process::id())
}

fn journal_for(spec: &Spec, packages: &Packages, manual: bool) -> Journal {
    let domains = distribute(spec.targets.len(), spec.domains);
    let mut targets = Vec::new();
    for (d, members) in domains.iter().enumerate() {
        for &i in members {
            let t = &spec.targets[i];
            targets.push(TargetRecord {
                index: i,
                target: t.key(),
                platform: t.target.platform().as_str().to_string(),
                mode: t.mode,
                domain: d,
                step: Step::Pending,
                version_before: None,
                hash_before: None,
                version_now: None,
                backup: None,
                backup_ms: None,
                upgrade_ms: None,
                started_at: None,
                finished_at: None,
                health: Vec::new(),
                error: None,
                notes: Vec::new(),
            });
        }
    }
    let now = registry::now_utc();
    Journal {
        format_version: journal::FORMAT_VERSION,
        id: new_id(),
        rollout_file: spec.file.display().to_string(),
        package: packages.info.clone(),
        manual,
        state: RolloutState::Running,
        created_at: now.clone(),
        updated_at: now,
        supersedes: None,
        keeps_copies: spec.backup,
        domains: domains
            .into_iter()
            .enumerate()
            .map(|(index, targets)| DomainRecord {
                index,
                targets,
                state: DomainState::Pending,
                started_at: None,
                finished_at: None,
                duration_ms: None,
            })
            .collect(),
        targets,
        events: Vec::new(),
    }
}

/// Options of `dac rollout start`.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Walk one domain per `next`, whatever the file says.
    pub manual: bool,
}

/// Checks every target before anything changes: reachable, and not registered to another
/// application. All problems are reported together.
fn preflight(spec: &Spec, packages: &Packages) -> Result<Vec<Option<Registration>>> {
    let problems: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let found: Mutex<Vec<Option<Registration>>> = Mutex::new(vec![None; spec.targets.len()]);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..spec.concurrency.clamp(1, 8) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(t) = spec.targets.get(k) else { break };
                    let problem = match open(&t.target).and_then(|mut d| d.read_registration()) {
                        Err(e) => Some(format!(
                            "{}: {}",
                            t.key(),
                            crate::driver::redact(&e.to_string())
                        )),
                        Ok(Some(r)) if !r.name.eq_ignore_ascii_case(&packages.info.name) => {
                            Some(format!(
                                "{}: registered to application {:?}, the package is {:?}",
                                t.key(),
                                r.name,
                                packages.info.name
                            ))
                        }
                        Ok(registration) => {
                            found.lock().unwrap_or_else(|e| e.into_inner())[k] = registration;
                            None
                        }
                    };
                    if let Some(p) = problem {
                        problems.lock().unwrap_or_else(|e| e.into_inner()).push(p);
                    }
                }
            });
        }
    });
    let mut problems = problems.into_inner().unwrap_or_else(|e| e.into_inner());
    if problems.is_empty() {
        return Ok(found.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
    problems.sort();
    Err(Error::Invalid(format!(
        "{}: {} target(s) cannot be rolled out to; nothing was changed:\n  {}",
        spec.file.display(),
        problems.len(),
        problems.join("\n  ")
    )))
}

fn load_spec_and_packages(file: &Path) -> Result<(Spec, Packages)> {
    let spec = spec::load(file)?;
    let packages = Packages::load(&spec)?;
    Ok((spec, packages))
}

fn run_with<'a>(
    spec: &'a Spec,
    packages: &'a Packages,
    journal: Journal,
    progress: Progress<'a>,
) -> Run<'a> {
    Run {
        spec,
        packages,
        paths: Paths::of(&spec.file),
        journal: Mutex::new(journal),
        progress,
        targets: spec.targets.iter().map(|t| (t.key(), t)).collect(),
    }
}

fn take_lock(
    paths: &Paths,
    command: &str,
    notes: &mut Vec<String>,
    progress: Progress<'_>,
) -> Result<LockGuard> {
    let guard = journal::lock(&paths.lock, command)?;
    if let Some(message) = &guard.took_over {
        progress(&format!("note: {message}"));
        notes.push(message.clone());
    }
    Ok(guard)
}

/// `dac rollout start`: a new rollout of the file's package; replaces a finished or stuck one
/// (saying what it supersedes), refuses while another is in progress.
pub fn start(file: &Path, options: &StartOptions, progress: Progress<'_>) -> Result<Outcome> {
    let (spec, packages) = load_spec_and_packages(file)?;
    let paths = Paths::of(file);
    let mut notes = Vec::new();
    let _guard = take_lock(&paths, "start", &mut notes, progress)?;
    let old = Journal::load(&paths.journal)?;
    if let Some(old) = &old
        && !matches!(
            old.state,
            RolloutState::Stuck | RolloutState::Done | RolloutState::RolledBack
        )
    {
        return Err(Error::Blocked {
            reason: format!(
                "rollout {} of {} {} is {} ({}): go on with `dac rollout resume` or `dac rollout next`, or undo it with `dac rollout rollback`",
                old.id,
                old.package.name,
                old.package.version,
                old.state.as_str(),
                paths.journal.display()
            ),
        });
    }
    // Every target is checked before the old journal is put aside: a refused start leaves
    // everything as it was.
    let registrations = preflight(&spec, &packages)?;
    let mut supersedes = None;
    if let Some(old) = old {
        let kept = paths.journal.with_file_name(format!(
            "{}.{}.json",
            paths
                .journal
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
            old.id
        ));
        std::fs::rename(&paths.journal, &kept).map_err(|source| Error::Io {
            path: kept.clone(),
            source,
        })?;
        let note = format!(
            "supersedes rollout {} ({} {}, {}); its journal is kept as {}",
            old.id,
            old.package.name,
            old.package.version,
            old.state.as_str(),
            kept.display()
        );
        progress(&note);
        notes.push(note);
        supersedes = Some(Superseded {
            id: old.id,
            state: old.state,
            version: old.package.version,
            journal: kept.display().to_string(),
        });
    }
    let manual = options.manual || spec.manual;
    let mut journal = journal_for(&spec, &packages, manual);
    for t in &mut journal.targets {
        if let Some(r) = &registrations[t.index] {
            t.version_before = Some(r.version.clone());
            t.hash_before = Some(r.model_hash.clone());
            t.version_now = t.version_before.clone();
        }
    }
    journal.supersedes = supersedes;
    journal.keeps_copies = spec.backup;
    journal.event(format!(
        "started: {} {} over {} target(s) in {} domain(s){}",
        packages.info.name,
        packages.info.version,
        journal.targets.len(),
        journal.domains.len(),
        if manual { ", manual" } else { "" }
    ));
    journal.save(&paths.journal)?;
    progress(&format!(
        "rollout {}: {} {} over {} target(s) in {} domain(s)",
        journal.id,
        packages.info.name,
        packages.info.version,
        journal.targets.len(),
        journal.domains.len()
    ));
    let run = run_with(&spec, &packages, journal, progress);
    run.drive(manual)?;
    Ok(Outcome {
        journal: run.journal.into_inner().unwrap_or_else(|e| e.into_inner()),
        notes,
    })
}

fn existing(paths: &Paths) -> Result<Journal> {
    Journal::load(&paths.journal)?.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: no rollout journal here; start one with `dac rollout start`",
            paths.journal.display()
        ))
    })
}

fn same_package(journal: &Journal, packages: &Packages, file: &Path) -> Result<()> {
    if journal.package.model_hashes != packages.info.model_hashes
        || journal.package.version != packages.info.version
    {
        return Err(Error::Invalid(format!(
            "{}: the rollout file now deploys {} {} but rollout {} deploys {} {}; finish or roll back that one, or `dac rollout start` a new one once it is stuck",
            file.display(),
            packages.info.name,
            packages.info.version,
            journal.id,
            journal.package.name,
            journal.package.version
        )));
    }
    Ok(())
}

fn stuck_error(journal: &Journal) -> Error {
    let domain = journal
        .domains
        .iter()
        .find(|d| d.state == DomainState::Failed)
        .map_or_else(|| "?".to_string(), |d| d.index.to_string());
    Error::Blocked {
        reason: format!(
            "rollout {} is stuck at domain {domain}: `dac rollout rollback` undoes it, or `dac rollout start` a fixed package",
            journal.id
        ),
    }
}

/// `dac rollout next` (`one` true) and `dac rollout resume` (`one` false: go on as the rollout
/// would have, finishing an interrupted step first; a manual rollout finishes its domain).
fn go_on(file: &Path, one: bool, command: &str, progress: Progress<'_>) -> Result<Outcome> {
    let (spec, packages) = load_spec_and_packages(file)?;
    let paths = Paths::of(file);
    let mut notes = Vec::new();
    let _guard = take_lock(&paths, command, &mut notes, progress)?;
    let mut journal = existing(&paths)?;
    same_package(&journal, &packages, file)?;
    match journal.state {
        RolloutState::Stuck => return Err(stuck_error(&journal)),
        RolloutState::Done | RolloutState::RolledBack => {
            let note = format!(
                "rollout {} is {}: nothing to do",
                journal.id,
                journal.state.as_str()
            );
            progress(&note);
            notes.push(note);
            return Ok(Outcome { journal, notes });
        }
        RolloutState::RollingBack => {
            if command == "next" {
                return Err(Error::Blocked {
                    reason: format!(
                        "rollout {} is rolling back: finish with `dac rollout rollback`",
                        journal.id
                    ),
                });
            }
            drop(_guard);
            return rollback(file, progress).map(|mut o| {
                o.notes.splice(0..0, notes);
                o
            });
        }
        RolloutState::Paused if !one => {
            let note = format!(
                "rollout {} is paused between domains (manual): `dac rollout next` walks the next one",
                journal.id
            );
            progress(&note);
            notes.push(note);
            return Ok(Outcome { journal, notes });
        }
        RolloutState::Running | RolloutState::Paused => {}
    }
    journal.event(format!("dac rollout {command}"));
    let one = one || journal.manual;
    let run = run_with(&spec, &packages, journal, progress);
    run.drive(one)?;
    Ok(Outcome {
        journal: run.journal.into_inner().unwrap_or_else(|e| e.into_inner()),
        notes,
    })
}

/// `dac rollout next`: upgrades and checks the next domain.
pub fn next(file: &Path, progress: Progress<'_>) -> Result<Outcome> {
    go_on(file, true, "next", progress)
}

/// `dac rollout resume`: goes on after an interruption without upgrading anything twice.
pub fn resume(file: &Path, progress: Progress<'_>) -> Result<Outcome> {
    go_on(file, false, "resume", progress)
}

/// `dac rollout rollback`: returns every upgraded target to its previous version (newest
/// first) and leaves the others alone.
pub fn rollback(file: &Path, progress: Progress<'_>) -> Result<Outcome> {
    let (spec, packages) = load_spec_and_packages(file)?;
    let paths = Paths::of(file);
    let mut notes = Vec::new();
    let _guard = take_lock(&paths, "rollback", &mut notes, progress)?;
    let mut journal = existing(&paths)?;
    same_package(&journal, &packages, file)?;
    if journal.state == RolloutState::RolledBack {
        let note = format!("rollout {} is already rolled back", journal.id);
        progress(&note);
        notes.push(note);
        return Ok(Outcome { journal, notes });
    }
    journal.state = RolloutState::RollingBack;
    journal.event("dac rollout rollback");
    journal.save(&paths.journal)?;
    let run = run_with(&spec, &packages, journal, progress);
    progress("rolling back upgraded targets, newest first");
    let mut failures = Vec::new();
    // One domain at a time, newest first; inside a domain, `concurrency` at a time.
    let domains: Vec<Vec<usize>> = {
        let j = run.journal.lock().unwrap_or_else(|e| e.into_inner());
        j.domains.iter().rev().map(|d| d.targets.clone()).collect()
    };
    for members in domains {
        let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
        run.each(&members, |i| {
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
                .any(|&i| j.targets[i].step == Step::RolledBack)
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
    let journal = run.journal.into_inner().unwrap_or_else(|e| e.into_inner());
    if !failures.is_empty() {
        return Err(Error::Invalid(format!(
            "rollback of {} target(s) failed (the others are rolled back; run it again once fixed):\n  {}",
            failures.len(),
            failures.join("\n  ")
        )));
    }
    progress("rollback done");
    Ok(Outcome { journal, notes })
}

/// What `dac rollout status` shows: the journal and who holds the lock.
#[derive(Debug, Clone)]
pub struct Status {
    /// The journal.
    pub journal: Journal,
    /// The lock, with whether its holder is alive.
    pub lock: Option<(journal::LockInfo, Option<bool>)>,
}

/// `dac rollout status`: reads the journal and the lock; changes nothing.
pub fn status(file: &Path) -> Result<Status> {
    let paths = Paths::of(file);
    let journal = existing(&paths)?;
    let lock = journal::read_lock(&paths.lock)?.map(|l| {
        let alive = l.alive();
        (l, alive)
    });
    Ok(Status { journal, lock })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_fit_postgres() {
        let name = postgres_copy_name(&"x".repeat(80), "id");
        assert_eq!(name.len(), 63);
        assert!(name.contains("_dacbak_"));
        assert_eq!(
            postgres_copy_name("app", "id"),
            postgres_copy_name("app", "id")
        );
        assert_ne!(
            postgres_copy_name("app", "a"),
            postgres_copy_name("app", "b")
        );
        let paths = Paths::of(Path::new("/f/fleet.toml"));
        assert_eq!(paths.journal, Path::new("/f/fleet.journal.json"));
        assert_eq!(paths.lock, Path::new("/f/fleet.lock"));
    }
}
