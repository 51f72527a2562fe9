//! The SQLite driver (rusqlite, SQLite compiled in).
//!
//! * **Inspection** ([`inspect`]) parses the CREATE text SQLite keeps in `sqlite_schema` with the
//!   same parser the project builder uses, then cross-checks the result against the catalog
//!   pragmas; see that module for why.
//! * **Transactions.** [`Driver::begin`] is `BEGIN IMMEDIATE`: the write lock is taken at once, so
//!   a concurrent writer makes the upgrade wait (busy timeout) or fail before any statement ran,
//!   never half-way through it.
//! * **Upgrade lock.** An exclusive OS file lock (`flock`/`LockFileEx` through
//!   [`std::fs::File::try_lock`]) on a sidecar file `<database>.dac-lock`. It is independent of
//!   SQLite's own locks, so it holds across the whole upgrade, the foreign-keys-off window outside
//!   the transaction included, and the OS releases it when a process dies (no stale locks). The
//!   database file itself is never opened a second time: closing another descriptor of it would
//!   drop SQLite's POSIX locks. The sidecar file is removed when the lock is released (on Unix):
//!   removed while still held, and a run that gets the lock checks that the path still names the
//!   file it locked, trying again on a new one if not, so a run waiting on a removed file never
//!   holds "the" lock beside another.
//! * **Foreign keys** are enforced on the connection (`PRAGMA foreign_keys = ON` at open), switched
//!   off only around table rebuilds, and checked with `PRAGMA foreign_key_check` before commit.

mod capture;
mod copy;
pub mod inspect;
mod registry;
mod server;

pub use server::SqliteServer;
pub(crate) use server::remove_database;

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{Driver, ServerInfo, Timeouts, Waited};
use crate::model::{Model, ObjectName, Platform};
use crate::{Error, Result};

/// The backend name in [`Error::Driver`].
const BACKEND: &str = "sqlite";

/// How long a statement waits for another connection's write lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to one SQLite database file.
pub struct SqliteDriver {
    conn: Connection,
    path: PathBuf,
    /// The held upgrade lock (the open sidecar file), if any.
    lock: Option<File>,
    /// The limits set with [`Driver::set_timeouts`], if any.
    timeouts: Option<Timeouts>,
}

impl std::fmt::Debug for SqliteDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDriver")
            .field("path", &self.path)
            .field("locked", &self.lock.is_some())
            .finish()
    }
}

impl SqliteDriver {
    /// Opens a database file; with `create`, a missing file is created (empty database),
    /// otherwise a missing file is an error.
    pub fn open(path: &Path, create: bool) -> Result<SqliteDriver> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        } else if !is_memory(path) && !path.exists() {
            return Err(Error::Driver {
                backend: BACKEND,
                code: None,
                message: format!("{}: no such database file", path.display()),
                statement: None,
            });
        }
        let conn = Connection::open_with_flags(path, flags).map_err(|e| Error::Driver {
            backend: BACKEND,
            code: code_of(&e),
            message: format!("{}: {}", path.display(), message_of(&e)),
            statement: None,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| driver_error(&e, None))?;
        let mut driver = SqliteDriver {
            conn,
            path: path.to_path_buf(),
            lock: None,
            timeouts: None,
        };
        driver.set_foreign_keys(true)?;
        Ok(driver)
    }

    /// A failed statement's error: where in `sql` it failed, and which limit it ran into.
    fn failed(&self, e: &rusqlite::Error, sql: &str) -> Error {
        let code = e.sqlite_error_code();
        let timeouts = self.timeouts.unwrap_or_default();
        match e {
            rusqlite::Error::SqlInputError {
                sql: tail, offset, ..
            } => {
                // The offset is within the statement being prepared: the tail of `sql`.
                let base = sql.len().saturating_sub(tail.len());
                let at = base + usize::try_from(*offset).unwrap_or(0);
                let (line, column) = line_column(sql, at);
                Error::Driver {
                    backend: BACKEND,
                    code: code_of(e),
                    message: format!("{} (at line {line}, column {column})", message_of(e)),
                    statement: Some(sql.to_string()),
                }
            }
            _ if self.timeouts.is_some() && code == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                Error::Driver {
                    backend: BACKEND,
                    code: code_of(e),
                    message: format!(
                        "waited longer than the lock timeout ({} s) for another connection's lock on the database file (SQLite does not say whose); the upgrade was undone (--lock-timeout sets the wait): {}",
                        timeouts.lock.as_secs_f64(),
                        message_of(e)
                    ),
                    statement: Some(sql.to_string()),
                }
            }
            _ if code == Some(rusqlite::ErrorCode::OperationInterrupted)
                && timeouts.command.is_some() =>
            {
                Error::Driver {
                    backend: BACKEND,
                    code: code_of(e),
                    message: format!(
                        "ran longer than the command timeout ({} s); the upgrade was undone (--command-timeout sets the limit)",
                        timeouts.command.unwrap_or_default().as_secs_f64()
                    ),
                    statement: Some(sql.to_string()),
                }
            }
            _ => driver_error(e, Some(sql)),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sidecar file whose OS lock is the upgrade lock.
    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_os_string();
        name.push(".dac-lock");
        PathBuf::from(name)
    }

    fn set_foreign_keys(&mut self, on: bool) -> Result<()> {
        let statement = if on {
            "PRAGMA foreign_keys = ON"
        } else {
            "PRAGMA foreign_keys = OFF"
        };
        if !self.conn.is_autocommit() {
            return Err(Error::Driver {
                backend: BACKEND,
                code: None,
                message: "foreign keys cannot be switched inside a transaction".into(),
                statement: Some(statement.into()),
            });
        }
        self.conn
            .execute_batch(statement)
            .map_err(|e| driver_error(&e, Some(statement)))?;
        let now: i64 = self
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .map_err(|e| driver_error(&e, Some("PRAGMA foreign_keys")))?;
        if (now == 1) != on {
            return Err(Error::Driver {
                backend: BACKEND,
                code: None,
                message: format!(
                    "foreign keys are still {}",
                    if now == 1 { "on" } else { "off" }
                ),
                statement: Some(statement.into()),
            });
        }
        Ok(())
    }

    /// Runs a statement with a fixed SQL text and collects its rows.
    pub(crate) fn rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| driver_error(&e, Some(sql)))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(|e| driver_error(&e, Some(sql)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| driver_error(&e, Some(sql)))? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                let value = row.get_ref(i).map_err(|e| driver_error(&e, Some(sql)))?;
                values.push(text_of(value));
            }
            out.push(values);
        }
        Ok(out)
    }
}

fn is_memory(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.is_empty() || text == ":memory:" || text.starts_with("file::memory:")
}

/// A value as text: NULL is `None`, blobs are `X'hex'`.
fn text_of(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(format!(
            "X'{}'",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        )),
    }
}

fn code_of(err: &rusqlite::Error) -> Option<String> {
    match err {
        rusqlite::Error::SqliteFailure(e, _) | rusqlite::Error::SqlInputError { error: e, .. } => {
            Some(e.extended_code.to_string())
        }
        _ => None,
    }
}

fn message_of(err: &rusqlite::Error) -> String {
    match err {
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        rusqlite::Error::SqliteFailure(e, None) => e.to_string(),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

/// A rusqlite error as the engine's error, naming the statement.
pub(crate) fn driver_error(err: &rusqlite::Error, statement: Option<&str>) -> Error {
    Error::Driver {
        backend: BACKEND,
        code: code_of(err),
        message: message_of(err),
        statement: statement.map(str::to_string),
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Takes the OS lock of `lock_path`, the upgrade lock of the database at `path`, waiting up to
/// `wait`. The holder writes who it is into the file (process, host, command, since when), so a
/// run that waits, or gives up, can name it; says whom it waited behind, if it waited.
pub(crate) fn lock_file(
    path: &Path,
    lock_path: &Path,
    wait: Duration,
) -> Result<(File, Option<Waited>)> {
    let io = |source| Error::Io {
        path: lock_path.to_path_buf(),
        source,
    };
    let open = || {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(lock_path)
            .map_err(io)
    };
    let mut file = open()?;
    let started = Instant::now();
    let deadline = started + wait;
    let mut behind: Option<String> = None;
    loop {
        match file.try_lock() {
            Ok(()) if names_file(lock_path, &file) => {
                write_holder(&mut file).map_err(io)?;
                let waited = behind.map(|behind| Waited {
                    waited: started.elapsed(),
                    behind,
                });
                return Ok((file, waited));
            }
            // The holder removed the file as it let go: lock the file the path names now.
            Ok(()) => file = open()?,
            Err(TryLockError::WouldBlock) => {
                if behind.is_none() {
                    behind = Some(read_holder(lock_path));
                }
                if Instant::now() >= deadline {
                    return Err(Error::Blocked {
                        reason: format!(
                            "another dac run holds the upgrade lock of {} (lock file {}): {}; waited {:.1} s (--lock-timeout sets the wait)",
                            path.display(),
                            lock_path.display(),
                            read_holder(lock_path),
                            wait.as_secs_f64()
                        ),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
    }
}

/// Whether `path` names the open file `file` (not a file created after it was removed).
#[cfg(unix)]
fn names_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn names_file(_path: &Path, _file: &File) -> bool {
    true
}

/// Releases the upgrade lock held on `file`, the sidecar `lock_path`: on Unix the file is removed
/// first, while still held (see the module's note on why that is safe), so no lock file is left
/// beside the database.
pub(crate) fn unlock_file(file: File, lock_path: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: lock_path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    if names_file(lock_path, &file) {
        match std::fs::remove_file(lock_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(io(source)),
        }
    }
    file.unlock().map_err(io)
}

/// Writes who holds the lock into the lock file: never a password, only the process id, the
/// host, the program and its subcommand, and the time.
fn write_holder(file: &mut File) -> std::io::Result<()> {
    use std::io::{Seek, Write};
    let command = std::env::args()
        .take(2)
        .map(|arg| {
            Path::new(&arg)
                .file_name()
                .map_or(arg.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect::<Vec<_>>()
        .join(" ");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map_or_else(|| "an unknown host".to_string(), |h| h.trim().to_string());
    file.set_len(0)?;
    file.rewind()?;
    write!(
        file,
        "pid {} on {host} ({command}, since {})",
        std::process::id(),
        crate::registry::now_utc()
    )?;
    file.flush()
}

/// Who holds the lock, as the holder wrote it.
fn read_holder(lock_path: &Path) -> String {
    match std::fs::read_to_string(lock_path) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        _ => "a run that has not said who it is yet".to_string(),
    }
}

/// Quotes one identifier for SQLite.
fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl Driver for SqliteDriver {
    fn platform(&self) -> Platform {
        Platform::Sqlite
    }

    fn server_info(&mut self) -> Result<ServerInfo> {
        Ok(ServerInfo {
            platform: Platform::Sqlite,
            version: rusqlite::version().to_string(),
        })
    }

    fn inspect(&mut self) -> Result<Model> {
        inspect::inspect(self)
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        // SQLite has no statement timeout: the progress handler interrupts a statement that
        // runs past the command timeout.
        let command_timeout = self.timeouts.and_then(|t| t.command);
        if let Some(limit) = command_timeout {
            let deadline = Instant::now() + limit;
            self.conn
                .progress_handler(10_000, Some(move || Instant::now() > deadline))
                .map_err(|e| driver_error(&e, None))?;
        }
        let result = self.conn.execute_batch(sql);
        if command_timeout.is_some() {
            let _ = self.conn.progress_handler(0, None::<fn() -> bool>);
        }
        result.map_err(|e| self.failed(&e, sql))
    }

    fn set_timeouts(&mut self, timeouts: Timeouts) -> Result<()> {
        self.conn
            .busy_timeout(timeouts.lock)
            .map_err(|e| driver_error(&e, None))?;
        self.timeouts = Some(timeouts);
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        self.execute("BEGIN IMMEDIATE")
    }

    fn commit(&mut self) -> Result<()> {
        self.execute("COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        // A script that failed inside a table rebuild may have left the connection in legacy
        // RENAME mode (a connection setting, not undone by ROLLBACK).
        let reset = self.execute("PRAGMA legacy_alter_table = OFF");
        if !self.conn.is_autocommit() {
            // A failed statement can end the transaction itself (SQLITE_FULL, SQLITE_IOERR...).
            self.execute("ROLLBACK")?;
        }
        reset
    }

    fn lock(&mut self, wait: Duration) -> Result<Option<Waited>> {
        if self.lock.is_some() || is_memory(&self.path) {
            // Held already, or an in-memory database no other connection can see.
            return Ok(None);
        }
        let (file, waited) = lock_file(&self.path, &self.lock_path(), wait)?;
        self.lock = Some(file);
        // The file this connection opened may be another run's by now: a side-by-side upgrade
        // or rollback that held the lock renamed it away and put another in its place. Work on
        // the database now at the path.
        let reopened = SqliteDriver::open(&self.path, false).and_then(|mut fresh| {
            if let Some(timeouts) = self.timeouts {
                fresh.set_timeouts(timeouts)?;
            }
            Ok(fresh)
        });
        match reopened {
            Ok(fresh) => {
                self.conn = fresh.conn;
                Ok(waited)
            }
            Err(err) => {
                let _ = self.unlock();
                Err(err)
            }
        }
    }

    fn unlock(&mut self) -> Result<()> {
        if let Some(file) = self.lock.take() {
            unlock_file(file, &self.lock_path())?;
        }
        Ok(())
    }

    fn has_rows(&mut self, table: &ObjectName) -> Result<bool> {
        let name = table
            .parts()
            .iter()
            .map(quote)
            .collect::<Vec<_>>()
            .join(".");
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {name})");
        let rows = self.rows(&sql)?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .is_some_and(|v| v.as_deref() == Some("1")))
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        self.rows(sql)
    }

    fn foreign_keys_off(&mut self) -> Result<()> {
        self.set_foreign_keys(false)
    }

    fn foreign_keys_on(&mut self) -> Result<()> {
        self.set_foreign_keys(true)
    }

    fn check_foreign_keys(&mut self) -> Result<()> {
        let sql = include_str!("queries/foreign_key_check.sql");
        let rows = self.rows(sql)?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut pairs: Vec<String> = rows
            .iter()
            .map(|r| {
                let child = r.first().cloned().flatten().unwrap_or_default();
                let parent = r.get(2).cloned().flatten().unwrap_or_default();
                format!("{child} -> {parent}")
            })
            .collect();
        pairs.sort();
        pairs.dedup();
        Err(Error::Driver {
            backend: BACKEND,
            code: None,
            message: format!(
                "foreign keys violated: {} row(s) in {}",
                rows.len(),
                pairs.join(", ")
            ),
            statement: Some("PRAGMA foreign_key_check".into()),
        })
    }
}

#[cfg(test)]
mod tests;
