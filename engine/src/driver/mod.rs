//! Drivers: the only code that talks to databases.
//!
//! A [`Driver`] reports the server, inspects the live schema into a [`Model`] with a few
//! set-based catalog queries, executes statements (naming the failing statement), runs
//! transactions and takes the exclusive upgrade lock. Catalog queries live beside each driver.

pub mod canonical_cache;
mod lock;
mod percent;
mod postgres;
pub mod rollout_store;
mod scratch;
pub mod server;
mod snapshot;
pub mod sqlite;
pub mod sqlserver;
mod target;

pub use lock::{Locked, UpgradeLock, Waited, with_lock};
pub use postgres::{PostgresDriver, PostgresRolloutStore, PostgresServer};
pub use rollout_store::{RolloutStore, open_rollout_store};
pub use server::{
    CaughtUp, ChangeCapture, Copier, DatabaseCopyState, Moved, Server, TableCopy, WriteMark,
    WriterHold, WrittenSince,
};
pub use snapshot::{RestoreSteps, Snapshot, SnapshotPlace};
pub use sqlite::{SqliteDriver, SqliteServer};
pub use sqlserver::{SqlServerDriver, SqlServerServer};
pub use target::{Target, redact};

use crate::Result;
use crate::model::{Model, ObjectName, Platform};
use crate::registry::{HistoryEntry, Registration};

/// How long a statement of dac's may wait for a lock another session holds, and how long it
/// may run. An upgrade that waits behind another session also makes every session after it wait
/// (PostgreSQL queues new readers behind its lock request), so the wait is bounded by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest wait for one lock.
    pub lock: std::time::Duration,
    /// The longest run of one statement (`None`: no limit).
    pub command: Option<std::time::Duration>,
}

impl Timeouts {
    /// The lock timeout when none is given: a few seconds, as peers' defaults.
    pub const DEFAULT_LOCK: std::time::Duration = std::time::Duration::from_secs(5);
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            lock: Timeouts::DEFAULT_LOCK,
            command: None,
        }
    }
}

/// What the server says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The platform.
    pub platform: Platform,
    /// Version text, e.g. `3.54.1` or `PostgreSQL 15.18`.
    pub version: String,
}

/// The registration of the application deployed on a database, and the history of what was
/// done to it, kept in the database (or, for SQL Server, in msdb) beside the schema.
pub trait Registry {
    /// The application registered on this database, if any.
    fn read_registration(&mut self) -> Result<Option<Registration>>;

    /// Writes (replaces) the registration; inside the open transaction when there is one.
    fn write_registration(&mut self, registration: &Registration) -> Result<()>;

    /// Removes the registration (the history stays).
    fn delete_registration(&mut self) -> Result<()>;

    /// Appends a history row; inside the open transaction when there is one.
    fn append_history(&mut self, entry: &HistoryEntry) -> Result<()>;

    /// The history, oldest first.
    fn history(&mut self) -> Result<Vec<HistoryEntry>>;
}

/// A connection to one live database; it keeps the database's [`Registry`] too.
pub trait Driver: Registry {
    /// The platform.
    fn platform(&self) -> Platform;

    /// Server version.
    fn server_info(&mut self) -> Result<ServerInfo>;

    /// The live schema as a model, in the same shape the project builder gives the same DDL.
    fn inspect(&mut self) -> Result<Model>;

    /// Executes one statement (or a batch of statements for scripts); an error names the
    /// statement and the position in it.
    fn execute(&mut self, sql: &str) -> Result<()>;

    /// Bounds this session's lock waits and statement runs from now on. A statement that
    /// exceeds them fails (undoing the transaction), and the error says which limit and, where
    /// the platform can tell, which session held the lock.
    fn set_timeouts(&mut self, timeouts: Timeouts) -> Result<()>;

    /// Starts a transaction.
    fn begin(&mut self) -> Result<()>;

    /// Commits the transaction.
    fn commit(&mut self) -> Result<()>;

    /// Rolls the transaction back.
    fn rollback(&mut self) -> Result<()>;

    /// Takes the exclusive upgrade lock of this database (the lock its [`Server`] takes too):
    /// waits up to `wait`, then fails with a message naming the dac run that holds it. Says
    /// whom it waited behind, if it waited.
    fn lock(&mut self, wait: std::time::Duration) -> Result<Option<Waited>>;

    /// Releases the upgrade lock.
    fn unlock(&mut self) -> Result<()>;

    /// Whether a table holds at least one row.
    fn has_rows(&mut self, table: &ObjectName) -> Result<bool>;

    /// The table's size on disk in bytes, where the catalog tells it cheaply; orders copies
    /// largest first. `None` where the platform does not say.
    fn estimated_size(&mut self, _table: &ObjectName) -> Result<Option<u64>> {
        Ok(None)
    }

    /// How many rows a table holds (`COUNT(*)`, a full count): the rows a whole-database copy
    /// carried, for its report.
    fn count_rows(&mut self, table: &ObjectName) -> Result<u64> {
        let name = crate::dialect::dialect_for(self.platform()).quote_name(table);
        let rows = self.query(&format!("SELECT COUNT(*) FROM {name}"))?;
        let count = rows.first().and_then(|r| r.first()).cloned().flatten();
        count.and_then(|c| c.parse().ok()).ok_or_else(|| {
            crate::Error::Invalid(format!("{table}: the row count could not be read"))
        })
    }

    /// Runs a query and returns its rows as text (NULL as `None`); for probes and tests.
    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>>;

    /// Switches foreign-key enforcement off for a table rebuild, outside any transaction
    /// (SQLite's 12-step procedure); a no-op where rebuilds need no such switch.
    fn foreign_keys_off(&mut self) -> Result<()> {
        Ok(())
    }

    /// Switches foreign-key enforcement back on.
    fn foreign_keys_on(&mut self) -> Result<()> {
        Ok(())
    }

    /// Fails, naming the rows' tables, when foreign keys are violated (checked before commit
    /// after a rebuild with enforcement off).
    fn check_foreign_keys(&mut self) -> Result<()> {
        Ok(())
    }

    /// The desired model as this server would show it once deployed (defaults, expressions and
    /// definitions in the catalog's spelling), so comparing it with an inspection shows no
    /// phantom differences. The default is the model itself, for platforms whose inspection
    /// already gives source spelling.
    fn canonicalize(&mut self, desired: &Model) -> Result<Model> {
        Ok(desired.clone())
    }

    /// Warnings gathered since the last call (a registration kept in a fallback place, objects
    /// inspected only in part); callers print them.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Opens a driver for a target; with `create`, a database that does not exist is created.
pub fn connect(target: &Target, create: bool) -> Result<Box<dyn Driver>> {
    match target {
        Target::Sqlite { path } => Ok(Box::new(sqlite::SqliteDriver::open(path, create)?)),
        Target::Postgres { url } => Ok(Box::new(PostgresDriver::connect_or_create(url, create)?)),
        Target::SqlServer { conn } => {
            Ok(Box::new(SqlServerDriver::connect_or_create(conn, create)?))
        }
    }
}

/// A database [`connect_creating`] made: when nothing could be deployed to it (a refused or
/// failed first deployment), [`CreatedDatabase::remove`] leaves nothing behind.
#[derive(Debug)]
pub struct CreatedDatabase {
    target: Target,
}

impl CreatedDatabase {
    /// Closes `driver` and removes the database with everything that belongs to it (SQLite:
    /// the file, its journals and its `.dac-lock`).
    pub fn remove(self, driver: Box<dyn Driver>) -> Result<()> {
        drop(driver);
        match &self.target {
            Target::Sqlite { path } => sqlite::remove_database(path),
            _ => {
                let mut server = connect_server(&self.target)?;
                let name = server.database().to_string();
                server.drop_database(&name)
            }
        }
    }
}

/// Opens a driver for a target, creating the database when it does not exist, and says
/// whether it did.
pub fn connect_creating(target: &Target) -> Result<(Box<dyn Driver>, Option<CreatedDatabase>)> {
    let existed = match target {
        Target::Sqlite { path } => path.exists(),
        _ => match connect(target, false) {
            Ok(driver) => return Ok((driver, None)),
            // PostgreSQL's invalid_catalog_name, SQL Server's "cannot open database".
            Err(crate::Error::Driver {
                code: Some(code), ..
            }) if code == "3D000" || code == "4060" => false,
            Err(other) => return Err(other),
        },
    };
    let driver = connect(target, true)?;
    let created = (!existed).then(|| CreatedDatabase {
        target: target.clone(),
    });
    Ok((driver, created))
}

/// Opens the server side of a target, for operations on whole databases (side-by-side
/// upgrades, rollback, recovery).
pub fn connect_server(target: &Target) -> Result<Box<dyn Server>> {
    match target {
        Target::Sqlite { path } => Ok(Box::new(SqliteServer::new(path))),
        Target::Postgres { url } => Ok(Box::new(PostgresServer::connect(url)?)),
        Target::SqlServer { conn } => Ok(Box::new(SqlServerServer::connect(conn)?)),
    }
}
