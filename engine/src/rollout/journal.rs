//! The journal: a JSON snapshot beside the rollout file saying where every target is, an
//! append-only log of the changes made since it was written, and the lock file that lets one
//! mutating `dac rollout` at a time act on it.
//!
//! Every step of a target is one line appended to the log (`NAME.journal.log`) and synced before
//! the step goes on, so a step costs the same whatever the fleet's size. The snapshot
//! (`NAME.journal.json`) is rewritten atomically (temporary file, fsync, rename, fsync of the
//! folder) only at domain boundaries and when a command starts, and then the log is emptied.
//! Reading is the snapshot plus the log's lines newer than it (each line carries the rollout's id
//! and a sequence number, so lines already in the snapshot, or left by a superseded rollout, are
//! passed over). A last line without its newline was torn by a kill while being written: it was
//! never acknowledged (its step had not gone on), so it is ignored, and the next command's
//! snapshot drops it.
//!
//! The journal never holds a password: targets are named by their redacted connection string,
//! and a resumed rollout finds each target's connection string again in the rollout file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spec::Mode;
use crate::driver::Snapshot;
use crate::registry::{HistoryEntry, now_utc};
use crate::{Error, Result};

/// The journal's shape version: 2 is a snapshot plus a log of changes.
pub const FORMAT_VERSION: u32 = 2;
/// Journals written by older dac as one document rewritten after every step (no log) are read
/// as they are and written back as format 2.
const ONE_DOCUMENT_FORMAT: u32 = 1;

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutState {
    /// Domains are being upgraded (or a `dac` doing so was stopped: `resume` goes on).
    Running,
    /// Manual mode, between domains: `next` walks the next one.
    Paused,
    /// A domain failed; nothing more is upgraded. Roll back, or start a fixed package.
    Stuck,
    /// Every domain upgraded and healthy.
    Done,
    /// Upgraded targets are being returned to their previous version.
    RollingBack,
    /// Every upgraded target was returned to its previous version.
    RolledBack,
}

impl RolloutState {
    /// As shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Paused => "paused",
            RolloutState::Stuck => "stuck",
            RolloutState::Done => "done",
            RolloutState::RollingBack => "rolling-back",
            RolloutState::RolledBack => "rolled-back",
        }
    }

    /// Finished: nothing more to do on this rollout.
    pub fn is_final(self) -> bool {
        matches!(self, RolloutState::Done | RolloutState::RolledBack)
    }
}

/// Where a domain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DomainState {
    /// Not started.
    Pending,
    /// Its targets are being upgraded.
    Upgrading,
    /// Upgraded; health checks running (or waiting).
    Checking,
    /// Every target upgraded and healthy.
    Healthy,
    /// A target failed to upgrade or a health check failed.
    Failed,
    /// Its upgraded targets were rolled back.
    RolledBack,
}

impl DomainState {
    /// As shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::Pending => "pending",
            DomainState::Upgrading => "upgrading",
            DomainState::Checking => "checking",
            DomainState::Healthy => "healthy",
            DomainState::Failed => "failed",
            DomainState::RolledBack => "rolled-back",
        }
    }
}

/// Where a target stands. A state is written before its step starts and after it ends, so an
/// interrupted step is visible; the target's registry settles whether an interrupted upgrade
/// committed. (Serialized as the journal's `step`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetState {
    /// Not touched yet.
    Pending,
    /// Its copy is being made.
    BackingUp,
    /// Copy made; not upgraded yet.
    BackedUp,
    /// The upgrade is running (or was interrupted: the registry tells whether it committed).
    Upgrading,
    /// Upgraded; not checked yet.
    Upgraded,
    /// Upgraded and healthy.
    Healthy,
    /// Upgraded, and a health check failed.
    Unhealthy,
    /// The upgrade failed or was refused; the database is as it was.
    Failed,
    /// Already at the package's version: nothing done.
    Current,
    /// Being returned to its previous version.
    RollingBack,
    /// Returned to its previous version.
    RolledBack,
}

impl TargetState {
    /// As shown.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Pending => "pending",
            TargetState::BackingUp => "backing-up",
            TargetState::BackedUp => "backed-up",
            TargetState::Upgrading => "upgrading",
            TargetState::Upgraded => "upgraded",
            TargetState::Healthy => "healthy",
            TargetState::Unhealthy => "unhealthy",
            TargetState::Failed => "failed",
            TargetState::Current => "current",
            TargetState::RollingBack => "rolling-back",
            TargetState::RolledBack => "rolled-back",
        }
    }

    /// The rollout changed this target's schema (or may have, for an interrupted upgrade).
    pub fn is_upgraded(self) -> bool {
        matches!(
            self,
            TargetState::Upgraded
                | TargetState::Healthy
                | TargetState::Unhealthy
                | TargetState::RollingBack
        )
    }
}

/// The package a rollout deploys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInfo {
    /// The package file or project folder, as resolved.
    pub path: String,
    /// Application name.
    pub name: String,
    /// Version deployed.
    pub version: String,
    /// SHA-256 of its model.xml (as the registry records it), per platform built for.
    pub model_hashes: std::collections::BTreeMap<String, String>,
}

/// How a target can be returned to its previous version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "BackupRecord", into = "BackupRecord")]
pub enum Backup {
    /// A snapshot taken before its in-place upgrade, which a restore puts back.
    Snapshot(Snapshot),
    /// The original database retained by a side-by-side upgrade (`upgrade::rollback`
    /// switches back to it).
    SideBySide {
        /// Where the original now lives.
        retained: String,
    },
}

impl Backup {
    /// Where the copy is, for reports.
    pub fn describe(&self) -> String {
        match self {
            Backup::Snapshot(snapshot) => snapshot.describe(),
            Backup::SideBySide { retained } => {
                format!("original retained by the side-by-side upgrade: {retained}")
            }
        }
    }
}

/// [`Backup`] as journals hold it: one object tagged by `kind`, the snapshot's kinds and
/// `side-by-side`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum BackupRecord {
    Snapshot(Snapshot),
    SideBySide(RetainedOriginal),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename = "side-by-side")]
struct RetainedOriginal {
    retained: String,
}

impl From<BackupRecord> for Backup {
    fn from(record: BackupRecord) -> Backup {
        match record {
            BackupRecord::Snapshot(snapshot) => Backup::Snapshot(snapshot),
            BackupRecord::SideBySide(RetainedOriginal { retained }) => {
                Backup::SideBySide { retained }
            }
        }
    }
}

impl From<Backup> for BackupRecord {
    fn from(backup: Backup) -> BackupRecord {
        match backup {
            Backup::Snapshot(snapshot) => BackupRecord::Snapshot(snapshot),
            Backup::SideBySide { retained } => {
                BackupRecord::SideBySide(RetainedOriginal { retained })
            }
        }
    }
}

/// The result of one health check on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `probe NAME`, `no drift`, `command`.
    pub check: String,
    /// Passed.
    pub ok: bool,
    /// What was found, when it failed (or what was run).
    pub detail: String,
    /// How long it took.
    pub ms: u64,
    /// What a health command printed (its last lines, passwords redacted).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

/// One target in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// Position in rollout order.
    pub index: usize,
    /// Redacted connection string: the target's name in the journal.
    pub target: String,
    /// `sqlite`, `postgres`.
    pub platform: String,
    /// Upgrade mode.
    pub mode: Mode,
    /// Its upgrade domain.
    pub domain: usize,
    /// Where it stands.
    #[serde(rename = "step")]
    pub state: TargetState,
    /// Registered version before the rollout touched it (none: unregistered).
    pub version_before: Option<String>,
    /// Registered model hash before (to recognise a finished rollback).
    pub hash_before: Option<String>,
    /// Registered version now, as far as the rollout knows.
    pub version_now: Option<String>,
    /// What a rollback restores.
    pub backup: Option<Backup>,
    /// Time taken by the copy, in milliseconds.
    pub backup_ms: Option<u64>,
    /// Time the upgrade took, in milliseconds: in place, its transaction (writers wait for it,
    /// there is no read-only window); side by side, its read-only window.
    pub upgrade_ms: Option<u64>,
    /// When the rollout started on it.
    pub started_at: Option<String>,
    /// When it reached its last step.
    pub finished_at: Option<String>,
    /// Health check results.
    pub health: Vec<CheckResult>,
    /// Why it failed.
    pub error: Option<String>,
    /// Notes (journal behind the registry, rollback details).
    pub notes: Vec<String>,
    /// During a rollback from a copy: the history rows written since the copy was taken, which
    /// the restored copy lacks. Kept from before the restore until the rollback is recorded, so
    /// a rollback killed in between still writes them, once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carry_history: Vec<HistoryEntry>,
    /// The worker that claimed it last (journal databases, where several workers share a
    /// rollout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

impl TargetRecord {
    /// A target the rollout has not touched yet: nothing known but where it is and its domain.
    pub fn pending(
        index: usize,
        target: String,
        platform: String,
        mode: Mode,
        domain: usize,
    ) -> Self {
        TargetRecord {
            index,
            target,
            platform,
            mode,
            domain,
            state: TargetState::Pending,
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
            carry_history: Vec::new(),
            worker: None,
        }
    }
}

impl TargetState {
    /// Its upgrade is over (upgraded, failed, already current, or later): nothing left for a
    /// worker to claim.
    pub fn is_settled(self) -> bool {
        !matches!(
            self,
            TargetState::Pending
                | TargetState::BackingUp
                | TargetState::BackedUp
                | TargetState::Upgrading
        )
    }
}

/// One upgrade domain in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRecord {
    /// Its number, from 0.
    pub index: usize,
    /// Its targets (indexes into `targets`).
    pub targets: Vec<usize>,
    /// Where it is.
    pub state: DomainState,
    /// When its upgrades started.
    pub started_at: Option<String>,
    /// When it was found healthy or failed.
    pub finished_at: Option<String>,
    /// Wall time of upgrades and checks, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The most targets of one server upgraded at once (what `max_per_server` caps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_per_server: Option<usize>,
}

impl DomainRecord {
    /// Domain `index` of `targets`, pending: not started yet.
    pub fn pending(index: usize, targets: Vec<usize>) -> Self {
        DomainRecord {
            index,
            targets,
            state: DomainState::Pending,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            peak_per_server: None,
        }
    }
}

/// A rollout this one replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Superseded {
    /// Its id.
    pub id: String,
    /// Its state when it was replaced.
    pub state: RolloutState,
    /// The version it deployed.
    pub version: String,
    /// Where its journal was kept.
    pub journal: String,
}

/// Something that happened, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When (UTC).
    pub at: String,
    /// What.
    pub message: String,
}

/// The journal of one rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The rollout's id (its start time and process).
    pub id: String,
    /// The rollout file.
    pub rollout_file: String,
    /// What is deployed.
    pub package: PackageInfo,
    /// Walk one domain per `dac rollout next`.
    pub manual: bool,
    /// Where it stands.
    pub state: RolloutState,
    /// When it started.
    pub created_at: String,
    /// When the journal was last written.
    pub updated_at: String,
    /// The rollout it replaced, if any.
    pub supersedes: Option<Superseded>,
    /// A copy of each in-place target is kept before it is upgraded (what a rollback restores).
    pub keeps_copies: bool,
    /// The upgrade domains.
    pub domains: Vec<DomainRecord>,
    /// The targets, in rollout order.
    pub targets: Vec<TargetRecord>,
    /// What happened, oldest first.
    pub events: Vec<Event>,
    /// The sequence number of the last log line this snapshot includes.
    #[serde(default)]
    pub log_seq: u64,
}

/// The changing part of a domain, as a log line holds it (its targets never change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainHead {
    /// Where it is.
    pub state: DomainState,
    /// When its upgrades started.
    pub started_at: Option<String>,
    /// When it was found healthy or failed.
    pub finished_at: Option<String>,
    /// Wall time of upgrades and checks, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The most targets of one server upgraded at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_per_server: Option<usize>,
}

/// One change, as one line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// The whole record of the target at this position in `targets`.
    Target {
        /// Position in the journal's `targets`.
        position: usize,
        /// Its record now.
        record: Box<TargetRecord>,
    },
    /// The rollout's state, every domain's head, and the events added.
    Head {
        /// The rollout's state.
        state: RolloutState,
        /// Every domain's head, in order.
        domains: Vec<DomainHead>,
        /// Events added since the previous change.
        events: Vec<Event>,
    },
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LogLine {
    /// One more than the line before it.
    seq: u64,
    /// The rollout's id: lines of another rollout are not this one's.
    rollout: String,
    /// When (UTC).
    at: String,
    change: Change,
}

/// How a gap in the log's sequence is reported.
const GAP: &str = ": lines are missing";

/// The log beside a journal snapshot `NAME.journal.json`: `NAME.journal.log`.
pub fn log_path(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("log")
}

/// The open log of a journal, appended to one synced line per change.
#[derive(Debug)]
pub struct JournalLog {
    path: PathBuf,
    file: std::fs::File,
}

impl JournalLog {
    /// Opens (creating) the log beside the snapshot `snapshot` for appending. Call it after
    /// [`Journal::save`], which leaves the log empty, so no torn line is ever written after.
    pub fn open(snapshot: &Path) -> Result<JournalLog> {
        let path = log_path(snapshot);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        Ok(JournalLog { path, file })
    }

    /// Appends `change`, already made to `journal` in memory, to the log, synced: when this
    /// returns, the change survives a kill.
    pub fn append(&mut self, journal: &mut Journal, change: Change) -> Result<()> {
        let line = LogLine {
            seq: journal.log_seq + 1,
            rollout: journal.id.clone(),
            at: now_utc(),
            change,
        };
        let mut bytes =
            serde_json::to_vec(&line).map_err(|e| Error::Invalid(format!("journal: {e}")))?;
        bytes.push(b'\n');
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        if crate::fault::armed("rollout.log-line-torn") {
            // The crash proof of a torn line: half of it written, then the process dies.
            let half = bytes.len() / 2;
            self.file.write_all(&bytes[..half]).map_err(io)?;
            self.file.sync_data().map_err(io)?;
            crate::fault::point("rollout.log-line-torn");
            self.file.write_all(&bytes[half..]).map_err(io)?;
        } else {
            self.file.write_all(&bytes).map_err(io)?;
        }
        self.file.sync_data().map_err(io)?;
        journal.log_seq = line.seq;
        journal.updated_at = line.at;
        Ok(())
    }
}

impl Journal {
    /// The change that records `journal`'s state, domain heads and the events from `first_event`.
    pub fn head_change(&self, first_event: usize) -> Change {
        Change::Head {
            state: self.state,
            domains: self
                .domains
                .iter()
                .map(|d| DomainHead {
                    state: d.state,
                    started_at: d.started_at.clone(),
                    finished_at: d.finished_at.clone(),
                    duration_ms: d.duration_ms,
                    peak_per_server: d.peak_per_server,
                })
                .collect(),
            events: self.events.get(first_event..).unwrap_or_default().to_vec(),
        }
    }

    /// Applies one log line (already known to be this rollout's and newer than the snapshot).
    fn apply(&mut self, line: LogLine) {
        self.log_seq = line.seq;
        self.updated_at = line.at;
        match line.change {
            Change::Target { position, record } => {
                if let Some(slot) = self.targets.get_mut(position) {
                    *slot = *record;
                }
            }
            Change::Head {
                state,
                domains,
                events,
            } => {
                self.state = state;
                for (d, head) in self.domains.iter_mut().zip(domains) {
                    d.state = head.state;
                    d.started_at = head.started_at;
                    d.finished_at = head.finished_at;
                    d.duration_ms = head.duration_ms;
                    d.peak_per_server = head.peak_per_server;
                }
                self.events.extend(events);
            }
        }
    }

    /// Replays the log at `path` over this snapshot: its lines newer than the snapshot, in
    /// order. A last line without its newline (torn by a kill) is ignored; any other line that
    /// cannot be read is an error naming it.
    fn replay(&mut self, path: &Path) -> Result<()> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let complete = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(last) => &bytes[..=last],
            None => return Ok(()),
        };
        for (n, line) in complete.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let line: LogLine = serde_json::from_slice(line).map_err(|e| {
                Error::Invalid(format!(
                    "{}:{}: not a rollout journal log line: {e}",
                    path.display(),
                    n + 1
                ))
            })?;
            if line.rollout != self.id || line.seq <= self.log_seq {
                continue;
            }
            if line.seq != self.log_seq + 1 {
                return Err(Error::Invalid(format!(
                    "{}:{}: log line {} follows line {}{GAP}",
                    path.display(),
                    n + 1,
                    line.seq,
                    self.log_seq
                )));
            }
            self.apply(line);
        }
        Ok(())
    }

    /// Records an event.
    pub fn event(&mut self, message: impl Into<String>) {
        self.events.push(Event {
            at: now_utc(),
            message: message.into(),
        });
    }

    /// The first domain not yet healthy, if any.
    pub fn current_domain(&self) -> Option<usize> {
        self.domains
            .iter()
            .find(|d| d.state != DomainState::Healthy)
            .map(|d| d.index)
    }

    /// Reads a journal: the snapshot at `path` and the log beside it; `None` when there is no
    /// snapshot.
    pub fn load(path: &Path) -> Result<Option<Journal>> {
        // A reader (`status`) racing a running rollout's compaction can read the old snapshot
        // and then the new log, whose lines follow the new snapshot: read both again.
        let mut attempts = 0;
        loop {
            let Some(mut journal) = Journal::load_snapshot(path)? else {
                return Ok(None);
            };
            match journal.replay(&log_path(path)) {
                Ok(()) => return Ok(Some(journal)),
                Err(Error::Invalid(message)) if message.ends_with(GAP) && attempts < 5 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads a snapshot alone (a kept journal of a superseded rollout has no log).
    fn load_snapshot(path: &Path) -> Result<Option<Journal>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let journal: Journal = serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!("{}: not a rollout journal: {e}", path.display()))
        })?;
        if journal.format_version != FORMAT_VERSION && journal.format_version != ONE_DOCUMENT_FORMAT
        {
            return Err(Error::Invalid(format!(
                "{}: journal format {} (this dac reads {ONE_DOCUMENT_FORMAT} and {FORMAT_VERSION})",
                path.display(),
                journal.format_version
            )));
        }
        Ok(Some(journal))
    }

    /// Writes the whole journal as the snapshot at `path` atomically (a temporary file beside
    /// it, fsync, rename, fsync of the folder), then empties its log: a reader sees the old
    /// snapshot or the new one, never a torn one, and log lines the new one already holds are
    /// passed over by their sequence numbers if a kill comes before the log is emptied.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        self.updated_at = now_utc();
        self.format_version = FORMAT_VERSION;
        let bytes =
            serde_json::to_vec(self).map_err(|e| Error::Invalid(format!("journal: {e}")))?;
        write_atomically(path, &bytes)?;
        let log = log_path(path);
        match std::fs::OpenOptions::new().write(true).open(&log) {
            Ok(file) => file
                .set_len(0)
                .and_then(|()| file.sync_all())
                .map_err(|source| Error::Io { path: log, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { path: log, source }),
        }
    }

    /// Writes the whole journal to `path` as a document with no log (a superseded rollout's
    /// kept journal).
    pub fn save_alone(&mut self, path: &Path) -> Result<()> {
        self.format_version = FORMAT_VERSION;
        let bytes =
            serde_json::to_vec(self).map_err(|e| Error::Invalid(format!("journal: {e}")))?;
        write_atomically(path, &bytes)
    }
}

/// Writes `bytes` to `path` through a temporary file, fsync and rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(folder) = path.parent() {
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        // Makes the rename itself durable; not every platform can open a folder.
        if let Ok(dir) = std::fs::File::open(folder) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// Who holds a rollout's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When it was taken (UTC).
    pub since: String,
    /// The command (`start`, `next`, `resume`, `rollback`).
    pub command: String,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat`), so that a pid
    /// reused by another process is not taken for the holder.
    pub process_start: Option<u64>,
}

impl LockInfo {
    /// Whether the holder is still running: `Some(false)` only when it is certainly gone (same
    /// host, and no process with its pid and start time); `None` when it cannot be told (another
    /// host).
    pub fn alive(&self) -> Option<bool> {
        if self.host != host_name() {
            return None;
        }
        match (process_start(self.pid), self.process_start) {
            (None, _) => Some(false),
            (Some(now), Some(then)) => Some(now == then),
            (Some(_), None) => Some(true),
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        format!(
            "pid {} on {} since {} (dac rollout {})",
            self.pid, self.host, self.since, self.command
        )
    }
}

/// The held lock of a rollout: removed when dropped. A process that dies leaves the file; the
/// next one finds its pid gone and takes the lock over, saying so.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    /// Set when a stale lock was taken over: what it said.
    pub took_over: Option<String>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a lock file; `None` when there is none.
pub fn read_lock(path: &Path) -> Result<Option<LockInfo>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(serde_json::from_str(&text).ok().or(Some(LockInfo {
            pid: 0,
            host: "(unreadable lock file)".into(),
            since: String::new(),
            command: String::new(),
            process_start: None,
        }))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Takes the lock of a rollout: refused (`Error::Blocked`) while a live process holds it; a lock
/// left by a process that is gone is taken over.
pub fn lock(path: &Path, command: &str) -> Result<LockGuard> {
    let me = LockInfo {
        pid: std::process::id(),
        host: host_name(),
        since: now_utc(),
        command: command.to_string(),
        process_start: process_start(std::process::id()),
    };
    let bytes = serde_json::to_vec_pretty(&me).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut took_over = None;
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(mut file) => {
                let written = file.write_all(&bytes).and_then(|()| file.sync_all());
                if let Err(source) = written {
                    let _ = std::fs::remove_file(path);
                    return Err(Error::Io {
                        path: path.to_path_buf(),
                        source,
                    });
                }
                return Ok(LockGuard {
                    path: path.to_path_buf(),
                    took_over,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = read_lock(path)?;
                let Some(holder) = holder else { continue };
                match holder.alive() {
                    Some(false) if took_over.is_none() => {
                        took_over = Some(format!(
                            "took over the lock {} left by {}, which is no longer running",
                            path.display(),
                            holder.describe()
                        ));
                        let _ = std::fs::remove_file(path);
                    }
                    Some(_) | None => {
                        let hint = if holder.alive().is_none() {
                            " (on another host: remove the lock file by hand if that process is gone)"
                        } else {
                            ""
                        };
                        return Err(Error::Blocked {
                            reason: format!(
                                "another dac rollout holds {}: {}{hint}",
                                path.display(),
                                holder.describe()
                            ),
                        });
                    }
                }
            }
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    Err(Error::Blocked {
        reason: format!(
            "another dac rollout took {} at the same time",
            path.display()
        ),
    })
}

/// This machine's name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// A process's start time (field 22 of `/proc/PID/stat`); `None` when there is no such process.
/// Without `/proc` this says "not running" only for our own pid's absence, so elsewhere a lock
/// is never taken over automatically.
fn process_start(pid: u32) -> Option<u64> {
    if !Path::new("/proc/self/stat").exists() {
        // No /proc: cannot tell; treat every holder as alive.
        return Some(0);
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    let start = after.split_whitespace().nth(19)?.parse().ok()?;
    // A zombie is gone for our purposes.
    let state = after.split_whitespace().next()?;
    (state != "Z").then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::spec::Mode;

    #[test]
    fn journals_are_written_atomically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal.json");
        assert_eq!(Journal::load(&path).unwrap(), None);
        let mut journal = Journal {
            format_version: FORMAT_VERSION,
            id: "r1".into(),
            rollout_file: "r.toml".into(),
            package: PackageInfo {
                path: "p".into(),
                name: "app".into(),
                version: "2".into(),
                model_hashes: [("sqlite".to_string(), "AB".to_string())].into(),
            },
            manual: false,
            state: RolloutState::Running,
            created_at: now_utc(),
            updated_at: String::new(),
            supersedes: None,
            keeps_copies: true,
            domains: Vec::new(),
            targets: Vec::new(),
            events: Vec::new(),
            log_seq: 0,
        };
        journal.event("started");
        journal.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap().unwrap(), journal);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        std::fs::write(&path, "{ not json").unwrap();
        let err = Journal::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a rollout journal"), "{err}");
    }

    fn target(position: usize) -> TargetRecord {
        TargetRecord {
            version_before: Some("1".into()),
            version_now: Some("1".into()),
            ..TargetRecord::pending(
                position,
                format!("sqlite:t{position}.db"),
                "sqlite".into(),
                Mode::InPlace,
                0,
            )
        }
    }

    fn two_targets(id: &str) -> Journal {
        Journal {
            format_version: FORMAT_VERSION,
            id: id.into(),
            rollout_file: "r.toml".into(),
            package: PackageInfo {
                path: "p".into(),
                name: "app".into(),
                version: "2".into(),
                model_hashes: Default::default(),
            },
            manual: false,
            state: RolloutState::Running,
            created_at: now_utc(),
            updated_at: String::new(),
            supersedes: None,
            keeps_copies: false,
            domains: vec![DomainRecord::pending(0, vec![0, 1])],
            targets: vec![target(0), target(1)],
            events: Vec::new(),
            log_seq: 0,
        }
    }

    fn upgrade(journal: &mut Journal, log: &mut JournalLog, position: usize) {
        journal.targets[position].state = TargetState::Upgraded;
        journal.targets[position].version_now = Some("2".into());
        let change = Change::Target {
            position,
            record: Box::new(journal.targets[position].clone()),
        };
        log.append(journal, change).unwrap();
    }

    #[test]
    fn the_log_replays_over_the_snapshot_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal.json");
        let mut journal = two_targets("r1");
        journal.save(&path).unwrap();
        let mut log = JournalLog::open(&path).unwrap();
        upgrade(&mut journal, &mut log, 1);
        journal.state = RolloutState::Done;
        journal.domains[0].state = DomainState::Healthy;
        journal.event("done");
        let head = journal.head_change(0);
        log.append(&mut journal, head).unwrap();
        let read = Journal::load(&path).unwrap().unwrap();
        assert_eq!(read.targets, journal.targets);
        assert_eq!(read.state, RolloutState::Done);
        assert_eq!(read.domains, journal.domains);
        assert_eq!(read.events, journal.events);
        assert_eq!(read.log_seq, 2);
        // A kill while a line was being written leaves part of it: never acknowledged, ignored.
        let log_file = log_path(&path);
        let whole = std::fs::read(&log_file).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(br#"{"seq":3,"rollout":"r1","at":"x","change":{"tar"#);
        std::fs::write(&log_file, &torn).unwrap();
        assert_eq!(Journal::load(&path).unwrap().unwrap().log_seq, 2);
        // A damaged line before the last is an error naming the log and the line.
        let mut damaged = b"{ not a line\n".to_vec();
        damaged.extend_from_slice(&whole);
        std::fs::write(&log_file, &damaged).unwrap();
        let err = Journal::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("r.journal.log:1: not a rollout journal log line"),
            "{err}"
        );
        // A snapshot empties the log; lines it already holds (a kill between the two) and lines
        // of another rollout are passed over.
        std::fs::write(&log_file, &whole).unwrap();
        let mut read = Journal::load(&path).unwrap().unwrap();
        read.save(&path).unwrap();
        assert_eq!(std::fs::metadata(&log_file).unwrap().len(), 0);
        std::fs::write(&log_file, &whole).unwrap();
        assert_eq!(Journal::load(&path).unwrap().unwrap(), read);
        let mut other = two_targets("r2");
        other.save(&path).unwrap();
        std::fs::write(&log_file, &whole).unwrap();
        assert_eq!(
            Journal::load(&path).unwrap().unwrap().targets[1].state,
            TargetState::Pending
        );
        // A gap in the sequence means lost lines: an error, never a silent skip.
        let mut journal = two_targets("r3");
        journal.save(&path).unwrap();
        let mut log = JournalLog::open(&path).unwrap();
        upgrade(&mut journal, &mut log, 0);
        upgrade(&mut journal, &mut log, 1);
        let text = std::fs::read_to_string(&log_file).unwrap();
        let second = text.lines().nth(1).unwrap().to_string() + "\n";
        std::fs::write(&log_file, second).unwrap();
        let err = Journal::load(&path).unwrap_err().to_string();
        assert!(err.contains("lines are missing"), "{err}");
    }

    #[test]
    fn a_one_document_journal_of_format_1_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal.json");
        let mut value = serde_json::to_value(two_targets("old")).unwrap();
        let object = value.as_object_mut().unwrap();
        object.remove("log_seq");
        object.insert("format_version".into(), 1.into());
        std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
        let mut read = Journal::load(&path).unwrap().unwrap();
        assert_eq!(read.format_version, 1);
        assert_eq!(read.targets, two_targets("old").targets);
        read.save(&path).unwrap();
        assert_eq!(
            Journal::load(&path).unwrap().unwrap().format_version,
            FORMAT_VERSION
        );
        value["format_version"] = 9.into();
        std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
        let err = Journal::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("journal format 9 (this dac reads 1 and 2)"),
            "{err}"
        );
    }

    #[test]
    fn backups_keep_the_journal_shape() {
        let shapes = [
            (
                Backup::Snapshot(Snapshot::SqliteCopy {
                    path: "/f/0000-a.db".into(),
                }),
                r#"{"kind":"sqlite-copy","path":"/f/0000-a.db"}"#,
            ),
            (
                Backup::Snapshot(Snapshot::PostgresTemplate {
                    database: "a_dacbak_0011".into(),
                }),
                r#"{"kind":"postgres-template","database":"a_dacbak_0011"}"#,
            ),
            (
                Backup::SideBySide {
                    retained: "a__v1".into(),
                },
                r#"{"kind":"side-by-side","retained":"a__v1"}"#,
            ),
        ];
        for (backup, json) in shapes {
            assert_eq!(serde_json::to_string(&backup).unwrap(), json);
            assert_eq!(serde_json::from_str::<Backup>(json).unwrap(), backup);
        }
        assert!(serde_json::from_str::<Backup>(r#"{"kind":"tape","path":"x"}"#).is_err());
    }

    #[test]
    fn a_live_lock_refuses_and_a_dead_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.lock");
        let guard = lock(&path, "start").unwrap();
        assert!(guard.took_over.is_none());
        let held = read_lock(&path).unwrap().unwrap();
        assert_eq!(held.pid, std::process::id());
        assert_eq!(held.alive(), Some(true));
        let err = lock(&path, "resume").unwrap_err();
        assert!(matches!(err, Error::Blocked { .. }), "{err}");
        drop(guard);
        assert!(!path.exists());
        // A lock left by a process that has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = LockInfo {
            pid,
            host: host_name(),
            since: now_utc(),
            command: "start".into(),
            process_start: Some(1),
        };
        std::fs::write(&path, serde_json::to_vec(&dead).unwrap()).unwrap();
        assert_eq!(dead.alive(), Some(false));
        let guard = lock(&path, "resume").unwrap();
        let message = guard.took_over.clone().unwrap();
        assert!(message.contains(&format!("pid {pid}")), "{message}");
        // A lock from another host is never taken over.
        drop(guard);
        let remote = LockInfo {
            host: "elsewhere.example".into(),
            ..dead
        };
        std::fs::write(&path, serde_json::to_vec(&remote).unwrap()).unwrap();
        let err = lock(&path, "resume").unwrap_err().to_string();
        assert!(err.contains("another host"), "{err}");
    }
}
