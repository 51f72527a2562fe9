//! The rollout executor: the commands (start, next, resume, status here; rollback in
//! [`rollback`]), the package and journal they share, and the state of one command ([`Run`]),
//! which walks domains in `drive` and takes each target through its upgrade in
//! `target_upgrade`.
//!
//! Every step of every target is written to the journal before it starts and after it ends.
//! An interrupted upgrade is settled by the target's own registry, which commits with the
//! upgrade: a target whose registration already matches the package is marked upgraded, never
//! upgraded again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::domains::distribute;
use super::journal::{
    self, DomainRecord, DomainState, Journal, LockGuard, PackageInfo, RolloutState, Superseded,
    TargetRecord,
};
use super::spec::{self, Spec, TargetSpec};
use crate::driver::{Driver, Target};
use crate::endpoint::{LoadOptions, ProjectBuild, is_package_file, load_package};
use crate::model::Platform;
use crate::package::Package;
use crate::registry::{self, Registration};
use crate::{Error, Result};

mod drive;
mod rollback;
mod store;
mod target_upgrade;
mod workers;

use store::Store;

pub use rollback::rollback;

/// Where a rollout keeps its state, beside the rollout file `NAME.toml`: `NAME.journal.json`
/// (the journal's snapshot) with `NAME.journal.log` (its changes since), `NAME.lock` and the
/// snapshots kept as files in `NAME.backups/`.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The journal's snapshot.
    pub journal: PathBuf,
    /// The journal's log of changes since its snapshot.
    pub log: PathBuf,
    /// The lock file.
    pub lock: PathBuf,
    /// The folder of snapshots kept as files.
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
            log: folder.join(format!("{stem}.journal.log")),
            lock: folder.join(format!("{stem}.lock")),
            backups: folder.join(format!("{stem}.backups")),
        }
    }
}

/// Where a rollout says what it does as it goes, a line at a time.
pub type Say<'a> = &'a (dyn Fn(&str) + Sync);

/// What a command did: the journal as it now stands, and notes for the user (a stale lock taken
/// over, a rollout superseded, nothing to do).
#[derive(Debug, Clone)]
pub struct RolloutOutcome {
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
        let mut by_platform = BTreeMap::new();
        let mut platforms: Vec<Platform> =
            spec.targets.iter().map(|t| t.target.platform()).collect();
        platforms.sort_by_key(|p| p.as_str());
        platforms.dedup();
        let options = LoadOptions {
            projects: ProjectBuild::ForPlatform,
            name: spec.name.clone(),
            version: spec.version.clone(),
            ..LoadOptions::default()
        };
        if is_package_file(path) {
            let package = load_package(path, &options).map_err(|err| match err {
                Error::NameAndVersionOnPackage { .. } => {
                    Error::Invalid(format!("{}: {err}", spec.file.display()))
                }
                err => err,
            })?;
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
                let options = LoadOptions {
                    platform: Some(platform),
                    ..options.clone()
                };
                let package = load_package(path, &options)?;
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
    /// Where the journal is kept, written under the `journal` lock.
    store: Mutex<Store>,
    /// This process as one of several workers sharing a journal database.
    worker: Option<workers::Worker>,
    say: Say<'a>,
    /// Targets by journal key.
    targets: BTreeMap<String, &'a TargetSpec>,
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
            targets.push(TargetRecord::pending(
                i,
                t.key(),
                t.target.platform().as_str().to_string(),
                t.mode,
                d,
            ));
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
            .map(|(index, targets)| DomainRecord::pending(index, targets))
            .collect(),
        targets,
        events: Vec::new(),
        log_seq: 0,
    }
}

/// Options of `dac rollout start`.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Walk one domain per `next`, whatever the file says.
    pub manual: bool,
    /// This worker's name, when several share a journal database (default: host and pid).
    pub worker: Option<String>,
}

/// Checks every target before anything changes: reachable, and not registered to another
/// application. All problems are reported together.
fn preflight(spec: &Spec, packages: &Packages) -> Result<Vec<Option<Registration>>> {
    let problems: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let found: Mutex<Vec<Option<Registration>>> = Mutex::new(vec![None; spec.targets.len()]);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let readers = spec
            .concurrency
            .min(spec.max_per_server.unwrap_or(usize::MAX))
            .clamp(1, 8);
        for _ in 0..readers {
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
    Err(Error::TargetsNotReady {
        file: spec.file.clone(),
        problems,
    })
}

fn load_spec_and_packages(file: &Path) -> Result<(Spec, Packages)> {
    let spec = spec::load(file)?;
    let packages = Packages::load(&spec)?;
    Ok((spec, packages))
}

/// The state of one command over `journal`, which was just saved (so a file journal's log is
/// empty) in `store`; `worker` when it is one of the workers of a journal database.
fn run_with<'a>(
    spec: &'a Spec,
    packages: &'a Packages,
    journal: Journal,
    mut store: Store,
    worker: Option<workers::Worker>,
    say: Say<'a>,
) -> Result<Run<'a>> {
    let paths = Paths::of(&spec.file);
    if let Some(w) = &worker {
        store.set_worker(&w.id);
    }
    Ok(Run {
        spec,
        packages,
        paths,
        journal: Mutex::new(journal),
        store: Mutex::new(store),
        worker,
        say,
        targets: spec.targets.iter().map(|t| (t.key(), t)).collect(),
    })
}

/// The rollout's name in a journal database: the rollout file's stem, the same for every worker
/// whatever folder it keeps the file in.
fn rollout_name(file: &Path) -> String {
    file.file_stem()
        .map_or_else(|| "rollout".into(), |s| s.to_string_lossy().into_owned())
}

/// The store of a rollout file's journal: its database, or the file beside it.
fn store_of(file: &Path, journal: Option<&Target>) -> Result<Store> {
    match journal {
        Some(target) => Store::database(target, &rollout_name(file)),
        None => Ok(Store::file(Paths::of(file).journal)),
    }
}

fn take_lock(
    paths: &Paths,
    command: &str,
    notes: &mut Vec<String>,
    say: Say<'_>,
) -> Result<LockGuard> {
    let guard = journal::lock(&paths.lock, command)?;
    if let Some(message) = &guard.took_over {
        say(&format!("note: {message}"));
        notes.push(message.clone());
    }
    Ok(guard)
}

/// `dac rollout start`: a new rollout of the file's package; replaces a finished or stuck one
/// (saying what it supersedes), refuses while another is in say.
pub fn start(file: &Path, options: &StartOptions, say: Say<'_>) -> Result<RolloutOutcome> {
    let (spec, packages) = load_spec_and_packages(file)?;
    if spec.journal.is_some() {
        return workers::start_shared(&spec, &packages, options, say);
    }
    workers::no_worker_name(&spec, options.worker.as_deref())?;
    let paths = Paths::of(file);
    let mut notes = Vec::new();
    let _guard = take_lock(&paths, "start", &mut notes, say)?;
    let old = Journal::load(&paths.journal)?;
    if let Some(old) = &old
        && !matches!(
            old.state,
            RolloutState::Stuck | RolloutState::Done | RolloutState::RolledBack
        )
    {
        return Err(Error::RolloutInProgress {
            id: old.id.clone(),
            application: old.package.name.clone(),
            version: old.package.version.clone(),
            state: old.state.as_str().to_string(),
            journal: paths.journal.clone(),
        });
    }
    // Every target is checked before the old journal is put aside: a refused start leaves
    // everything as it was.
    let registrations = preflight(&spec, &packages)?;
    let supersedes = match old {
        None => None,
        Some(old) => Some(keep_superseded(old, &paths, say, &mut notes)?),
    };
    let manual = options.manual || spec.manual;
    let mut journal = new_journal(&spec, &packages, manual, &registrations, supersedes);
    let mut store = Store::file(paths.journal.clone());
    store.create(&mut journal)?;
    say(&format!(
        "rollout {}: {} {} over {} target(s) in {} domain(s)",
        journal.id,
        packages.info.name,
        packages.info.version,
        journal.targets.len(),
        journal.domains.len()
    ));
    let run = run_with(&spec, &packages, journal, store, None, say)?;
    run.drive(manual)?;
    Ok(RolloutOutcome {
        journal: run.journal.into_inner().unwrap_or_else(|e| e.into_inner()),
        notes,
    })
}

/// Keeps a replaced rollout's journal whole beside the new one (snapshot and log in one
/// document); what the new journal says it supersedes.
fn keep_superseded(
    mut old: Journal,
    paths: &Paths,
    say: Say<'_>,
    notes: &mut Vec<String>,
) -> Result<Superseded> {
    let kept = paths.journal.with_file_name(format!(
        "{}.{}.json",
        paths
            .journal
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
        old.id
    ));
    // Kept whole (snapshot and log in one document); the new snapshot below replaces the
    // old one and empties the log.
    old.save_alone(&kept)?;
    let note = format!(
        "supersedes rollout {} ({} {}, {}); its journal is kept as {}",
        old.id,
        old.package.name,
        old.package.version,
        old.state.as_str(),
        kept.display()
    );
    say(&note);
    notes.push(note);
    Ok(Superseded {
        id: old.id,
        state: old.state,
        version: old.package.version,
        journal: kept.display().to_string(),
    })
}

/// A new rollout's journal, with what preflight found registered on each target.
fn new_journal(
    spec: &Spec,
    packages: &Packages,
    manual: bool,
    registrations: &[Option<Registration>],
    supersedes: Option<Superseded>,
) -> Journal {
    let mut journal = journal_for(spec, packages, manual);
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
    journal
}

fn existing_in(store: &mut Store) -> Result<Journal> {
    store.load()?.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: no rollout journal here; start one with `dac rollout start`",
            store.describe()
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
    Error::RolloutStuck {
        id: journal.id.clone(),
        domain: journal
            .domains
            .iter()
            .find(|d| d.state == DomainState::Failed)
            .map(|d| d.index),
    }
}

/// `dac rollout next` (`one` true) and `dac rollout resume` (`one` false: go on as the rollout
/// would have, finishing an interrupted step first; a manual rollout finishes its domain).
fn continue_rollout(
    file: &Path,
    one: bool,
    command: &str,
    worker: Option<&str>,
    say: Say<'_>,
) -> Result<RolloutOutcome> {
    let (spec, packages) = load_spec_and_packages(file)?;
    let mut notes = Vec::new();
    let (guard, mut store, worker) = if spec.journal.is_some() {
        // Workers share the journal database: no lock file, each claims its targets.
        let store = store_of(file, spec.journal.as_ref())?;
        (None, store, Some(workers::Worker::new(worker)))
    } else {
        workers::no_worker_name(&spec, worker)?;
        let paths = Paths::of(file);
        let guard = take_lock(&paths, command, &mut notes, say)?;
        (Some(guard), Store::file(paths.journal), None)
    };
    let mut journal = existing_in(&mut store)?;
    same_package(&journal, &packages, file)?;
    match journal.state {
        RolloutState::Stuck => return Err(stuck_error(&journal)),
        RolloutState::Done | RolloutState::RolledBack => {
            let note = format!(
                "rollout {} is {}: nothing to do",
                journal.id,
                journal.state.as_str()
            );
            say(&note);
            notes.push(note);
            return Ok(RolloutOutcome { journal, notes });
        }
        RolloutState::RollingBack => {
            if command == "next" || worker.is_some() {
                return Err(Error::RolloutRollingBack {
                    id: journal.id.clone(),
                });
            }
            drop(guard);
            return rollback(file, say).map(|mut o| {
                o.notes.splice(0..0, notes);
                o
            });
        }
        RolloutState::Paused if !one => {
            let note = format!(
                "rollout {} is paused between domains (manual): `dac rollout next` walks the next one",
                journal.id
            );
            say(&note);
            notes.push(note);
            return Ok(RolloutOutcome { journal, notes });
        }
        RolloutState::Running | RolloutState::Paused => {}
    }
    let joined = match &worker {
        Some(w) => format!("dac rollout {command} (worker {})", w.id),
        None => format!("dac rollout {command}"),
    };
    // A file journal gets a fresh snapshot: the log starts empty (dropping a line torn by a
    // kill).
    store.begin(&mut journal, |j| {
        if one && j.state == RolloutState::Paused {
            j.state = RolloutState::Running;
        }
        j.event(joined);
    })?;
    let one = one || journal.manual;
    let shared = worker.is_some();
    let run = run_with(&spec, &packages, journal, store, worker, say)?;
    if shared {
        run.drive_shared(one)?;
    } else {
        run.drive(one)?;
    }
    drop(guard);
    Ok(RolloutOutcome {
        journal: run.journal.into_inner().unwrap_or_else(|e| e.into_inner()),
        notes,
    })
}

/// `dac rollout next`: upgrades and checks the next domain.
pub fn next(file: &Path, say: Say<'_>) -> Result<RolloutOutcome> {
    continue_rollout(file, true, "next", None, say)
}

/// `dac rollout resume`: goes on after an interruption without upgrading anything twice.
pub fn resume(file: &Path, say: Say<'_>) -> Result<RolloutOutcome> {
    continue_rollout(file, false, "resume", None, say)
}

/// `dac rollout resume --worker NAME`: as [`resume`], as the named worker of a rollout whose
/// journal is a database (several workers drive it together).
pub fn resume_as(file: &Path, worker: Option<&str>, say: Say<'_>) -> Result<RolloutOutcome> {
    continue_rollout(file, false, "resume", worker, say)
}

/// What `dac rollout status` shows: the journal and who holds the lock.
#[derive(Debug, Clone)]
pub struct Status {
    /// The journal.
    pub journal: Journal,
    /// The lock, with whether its holder is alive.
    pub lock: Option<(journal::LockInfo, Option<bool>)>,
    /// With `--live`: each target's registration as read from it now, by journal position.
    pub live: Option<Vec<LiveRegistration>>,
    /// A journal database shared by workers: where it is and who works on what now.
    pub shared: Option<SharedJournal>,
}

/// A journal database, as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SharedJournal {
    /// The database (no password) and the rollout's name in it.
    pub journal: String,
    /// Claims on targets not yet settled, with their heartbeat's age.
    pub claims: Vec<WorkerClaim>,
    /// How old a heartbeat may be before its worker counts as dead, in seconds.
    pub heartbeat_timeout_seconds: f64,
}

/// A worker's claim on a target, as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkerClaim {
    /// The target's name in the journal.
    pub target: String,
    /// The worker.
    pub worker: String,
    /// Seconds since its last heartbeat.
    pub heartbeat_age_seconds: f64,
}

/// A target's registration read from the target itself (`dac rollout status --live`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LiveRegistration {
    /// The target's name in the journal.
    pub target: String,
    /// `NAME VERSION` registered now; `None` when it is not registered (or could not be read).
    pub registered: Option<String>,
    /// The registered version, for comparing with the journal.
    pub version: Option<String>,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// `dac rollout status`: reads the journal and the lock; changes nothing.
pub fn status(file: &Path) -> Result<Status> {
    let paths = Paths::of(file);
    // A rollout file removed since leaves its file journal readable, as before journal
    // databases: only the rollout file can name one.
    let (database, heartbeat_timeout) = if file.exists() || !paths.journal.exists() {
        spec::journal_of(file)?
    } else {
        (None, spec::default_heartbeat_timeout())
    };
    let mut store = store_of(file, database.as_ref())?;
    let journal = existing_in(&mut store)?;
    let shown = store.describe();
    let shared = match store.db() {
        None => None,
        Some(db) => Some(SharedJournal {
            journal: shown,
            claims: db
                .live_claims(&journal.id)?
                .into_iter()
                .map(|c| WorkerClaim {
                    target: journal
                        .targets
                        .get(c.position)
                        .map_or_else(|| format!("#{}", c.position), |t| t.target.clone()),
                    worker: c.worker,
                    heartbeat_age_seconds: c.age_seconds,
                })
                .collect(),
            heartbeat_timeout_seconds: heartbeat_timeout.as_secs_f64(),
        }),
    };
    let lock = match database {
        // Workers share a journal database: no lock file.
        Some(_) => None,
        None => journal::read_lock(&paths.lock)?.map(|l| {
            let alive = l.alive();
            (l, alive)
        }),
    };
    Ok(Status {
        journal,
        lock,
        live: None,
        shared,
    })
}

/// `dac rollout status --live`: the status, and each target's registration read from the target
/// now (the rollout file gives the connection strings the journal leaves out), at most 8 at once
/// and at most `max_per_server` at once on one server. Changes nothing.
pub fn status_live(file: &Path) -> Result<Status> {
    let mut status = status(file)?;
    let spec = spec::load(file)?;
    let by_key: BTreeMap<String, &TargetSpec> = spec.targets.iter().map(|t| (t.key(), t)).collect();
    let records = &status.journal.targets;
    let live: Mutex<Vec<Option<LiveRegistration>>> = Mutex::new(vec![None; records.len()]);
    let next = AtomicUsize::new(0);
    let readers = spec
        .max_per_server
        .unwrap_or(usize::MAX)
        .min(8)
        .clamp(1, records.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..readers {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(record) = records.get(k) else { break };
                    let read = match by_key.get(&record.target) {
                        None => Err("no longer in the rollout file".to_string()),
                        Some(t) => open(&t.target)
                            .and_then(|mut d| d.read_registration())
                            .map_err(|e| crate::driver::redact(&e.to_string())),
                    };
                    let entry = LiveRegistration {
                        target: record.target.clone(),
                        registered: read
                            .as_ref()
                            .ok()
                            .and_then(|r| r.as_ref().map(|r| format!("{} {}", r.name, r.version))),
                        version: read
                            .as_ref()
                            .ok()
                            .and_then(|r| r.as_ref().map(|r| r.version.clone())),
                        error: read.err(),
                    };
                    live.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(entry);
                }
            });
        }
    });
    status.live = Some(
        live.into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .flatten()
            .collect(),
    );
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sit_beside_the_rollout_file() {
        let paths = Paths::of(Path::new("/f/fleet.toml"));
        assert_eq!(paths.journal, Path::new("/f/fleet.journal.json"));
        assert_eq!(paths.lock, Path::new("/f/fleet.lock"));
    }
}
