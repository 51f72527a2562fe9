//! Snapshots: a copy of a whole database taken before an in-place upgrade, which a rollback
//! puts back so the database is exactly as it was before. Each platform makes and restores them
//! its own way ([`super::Server::snapshot`], [`super::Server::restore`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Driver;
use crate::model::Platform;
use crate::{Error, Result};

/// A snapshot, as a rollout journal records it (the serialized form is the journal's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Snapshot {
    /// A SQLite copy (`VACUUM INTO`), restored with the online backup API.
    SqliteCopy {
        /// The copy.
        path: String,
    },
    /// A PostgreSQL database made with `CREATE DATABASE copy TEMPLATE db`, renamed back.
    PostgresTemplate {
        /// The copy's database name.
        database: String,
    },
}

impl Snapshot {
    /// The platform whose databases it can replace.
    pub fn platform(&self) -> Platform {
        match self {
            Snapshot::SqliteCopy { .. } => Platform::Sqlite,
            Snapshot::PostgresTemplate { .. } => Platform::Postgres,
        }
    }

    /// Where the copy is, for reports.
    pub fn describe(&self) -> String {
        match self {
            Snapshot::SqliteCopy { path } => format!("copy {path}"),
            Snapshot::PostgresTemplate { database } => format!("copy database {database}"),
        }
    }

    /// The error of a server handed another platform's snapshot.
    pub(crate) fn not_for(&self, platform: Platform) -> Error {
        Error::Invalid(format!(
            "{} is not a snapshot of a {} database",
            self.describe(),
            platform.as_str()
        ))
    }
}

/// Where a snapshot is kept and what tells it apart from others.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotPlace<'a> {
    /// What the snapshot is taken for (a rollout's id): a copy kept on the server is named after
    /// it, so a second rollout does not take the first one's copy for its own.
    pub id: &'a str,
    /// The folder of a copy kept as a file (created when missing).
    pub folder: &'a Path,
    /// Put before a file copy's name, so targets with the same file name keep apart.
    pub file_prefix: &'a str,
}

/// What a restore does on the database around putting a snapshot back: the caller checks the
/// database is still the one the snapshot should replace, and records the restore afterwards.
pub trait RestoreSteps {
    /// Before the restore, on the database as it is; or, where an earlier restore was
    /// interrupted between dropping the database and putting the snapshot back, the error that
    /// says the database does not exist. `false`: nothing to restore (it already was).
    fn should_restore(&mut self, found: Result<&mut dyn Driver>) -> Result<bool>;

    /// After the restore, on the restored database, under the upgrade lock; also when
    /// `should_restore` found it already restored, because the call that restored it may have
    /// died before this step: what it records must therefore be recorded once however often
    /// it runs.
    fn after_restore(&mut self, restored: &mut dyn Driver) -> Result<()>;
}
