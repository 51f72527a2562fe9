//! SQLite databases as whole objects for side-by-side upgrades: a database is a file; the new
//! one is built beside it (`<file>.dac-new`), the original is renamed with its `-wal`/`-shm`
//! companions, and the journal is a file beside the target (`<file>.dac-journal`), written
//! atomically (temporary file, fsync, rename, fsync of the directory).
//!
//! Holding writers off: a connection holds `BEGIN IMMEDIATE` (SQLite's RESERVED lock, or the
//! WAL write lock), so writers in every process wait (busy timeout) or fail, and readers keep
//! reading. SQLite has no server that could end other processes' connections: a connection
//! opened before the switch keeps the file it opened (now the retained original), so
//! applications reopen the database after a side-by-side upgrade; `dac rollback` notices when
//! the retained original took writes that way.
//!
//! Catch-up of an early copy: change-log triggers in the original (`capture.rs`) record the
//! keys each write touches, for every process that writes; a pass carries only those rows.
//! Where a table has no capture (it could not be made, or the table has no primary key), a
//! pass merges it with its copy, in one transaction per table: rows whose key is gone deleted,
//! rows missing or different inserted or updated. That merge's bound: it reads both copies of
//! the table whole, through their key indexes, and writes only the difference.
//!
//! The capture's objects are dropped with writers held, on the hold's own connection (opened
//! before the original was marked read-only), inside its transaction: committed when the hold
//! is sealed, so no write can fall between the last delta and the drop; rolled back with the
//! hold, and dropped again by the undo, when the run fails.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, SqliteDriver, capture, driver_error, lock_file, quote};
use crate::driver::server::{
    CaughtUp, ChangeCapture, Copier, Moved, Server, TableCopy, WriteMark, WriterHold, WrittenSince,
};
use crate::driver::{Driver, RestoreSteps, Snapshot, SnapshotPlace};
use crate::model::{ObjectName, Platform};
use crate::{Error, Result};

/// SQLite's side of [`Server`]: the target file and the directory it lives in.
pub struct SqliteServer {
    path: PathBuf,
    database: String,
    /// Connections holding the write lock of sealed databases, by path.
    sealed: HashMap<PathBuf, Connection>,
    /// The held upgrade lock (the same sidecar file the driver locks).
    lock: Option<File>,
    /// Write permission bits this process took away, to give back exactly those.
    write_bits: HashMap<PathBuf, u32>,
    /// The connection that made the original's change capture, kept to hold writers off and
    /// to drop the capture under that hold.
    capture: Option<(PathBuf, Arc<Mutex<Held>>)>,
}

/// A read-write connection to the original, opened before it is marked read-only, that holds
/// its writers off (`BEGIN IMMEDIATE`) and may drop the change capture in that transaction.
struct Held {
    conn: Connection,
    /// The hold's transaction dropped the capture: a seal commits it, a release rolls it back.
    commit_on_seal: bool,
}

impl std::fmt::Debug for SqliteServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteServer({})", self.path.display())
    }
}

fn io_error(what: &str, path: &Path, err: &std::io::Error) -> Error {
    Error::Driver {
        backend: "sqlite",
        code: None,
        message: format!("{what} {}: {err}", path.display()),
        statement: None,
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The companion files SQLite keeps beside a database.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Removes a database this run created and could deploy nothing to: the file, its journals and
/// its `.dac-lock` (no other run can be waiting on the lock of a database that did not exist).
pub(crate) fn remove_database(path: &Path) -> Result<()> {
    SqliteServer::new(path).drop_database(&path.to_string_lossy())?;
    let lock = with_suffix(path, ".dac-lock");
    match fs::remove_file(&lock) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("cannot remove", &lock, &e)),
    }
}

fn raw_open(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags).map_err(|e| Error::Driver {
        backend: "sqlite",
        code: None,
        message: format!("{}: {e}", path.display()),
        statement: None,
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| driver_error(&e, None))?;
    Ok(conn)
}

fn read_write() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

fn run(conn: &Connection, sql: &str) -> Result<()> {
    conn.execute_batch(sql)
        .map_err(|e| driver_error(&e, Some(sql)))
}

fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Writes `text` to `path` atomically and durably.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = with_suffix(path, ".tmp");
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_directory(path)
    };
    write().map_err(|e| io_error("cannot write", path, &e))
}

fn sync_directory(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

impl SqliteServer {
    /// The server side of a SQLite target.
    pub fn new(path: &Path) -> SqliteServer {
        SqliteServer {
            path: path.to_path_buf(),
            database: path.to_string_lossy().into_owned(),
            sealed: HashMap::new(),
            lock: None,
            write_bits: HashMap::new(),
            capture: None,
        }
    }

    /// Drops the change capture's objects from the target, on the connection that made them if
    /// this process has it (inside the writer hold's transaction when one is open), else on a
    /// connection of its own; a target without them (or without a file) is left as it is.
    fn drop_capture(&mut self) -> Result<()> {
        if let Some((path, shared)) = self.capture.take()
            && path == self.path
        {
            let mut held = shared.lock().unwrap_or_else(PoisonError::into_inner);
            let drops = capture::drop_statements(&held.conn)?;
            if drops.is_empty() {
                return Ok(());
            }
            if held.conn.is_autocommit() {
                return run(&held.conn, &format!("BEGIN IMMEDIATE; {drops} COMMIT"));
            }
            run(&held.conn, &drops)?;
            held.commit_on_seal = true;
            crate::fault::point("capture.dropped");
            return Ok(());
        }
        if !self.path.exists() {
            return Ok(());
        }
        let conn = raw_open(&self.path, read_write())?;
        let drops = capture::drop_statements(&conn)?;
        if drops.is_empty() {
            return Ok(());
        }
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| driver_error(&e, None))?;
        let dropped = run(&conn, &format!("BEGIN IMMEDIATE; {drops} COMMIT"));
        if dropped.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        dropped
    }

    fn journal_path(&self) -> PathBuf {
        with_suffix(&self.path, ".dac-journal")
    }
}

impl Server for SqliteServer {
    fn platform(&self) -> Platform {
        Platform::Sqlite
    }

    fn database(&self) -> &str {
        &self.database
    }

    fn suffixed_name(&self, suffix: &str) -> String {
        with_suffix(&self.path, suffix)
            .to_string_lossy()
            .into_owned()
    }

    /// The database file's name with `.dac-new` appended.
    fn temporary_name(&self) -> String {
        self.suffixed_name(".dac-new")
    }

    /// `<stem>.v<version>-<stamp><extension>` beside the database file.
    fn retained_name(&self, version: &str, stamp: &str) -> String {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let extension = self
            .path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let version: String = version
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.path
            .with_file_name(format!("{stem}.v{version}-{stamp}{extension}"))
            .to_string_lossy()
            .into_owned()
    }

    fn lock(&mut self, wait: Duration) -> Result<Option<crate::driver::Waited>> {
        if self.lock.is_some() {
            return Ok(None);
        }
        let lock_path = with_suffix(&self.path, ".dac-lock");
        let (file, waited) = lock_file(&self.path, &lock_path, wait)?;
        self.lock = Some(file);
        Ok(waited)
    }

    fn unlock(&mut self) -> Result<()> {
        if let Some(file) = self.lock.take() {
            super::unlock_file(file, &with_suffix(&self.path, ".dac-lock"))?;
        }
        Ok(())
    }

    fn exists(&mut self, name: &str) -> Result<bool> {
        Ok(Path::new(name).exists())
    }

    fn create_database(&mut self, name: &str) -> Result<()> {
        let path = Path::new(name);
        if path.exists() {
            return Err(io_error(
                "cannot create",
                path,
                &std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        let conn = raw_open(path, read_write() | OpenFlags::SQLITE_OPEN_CREATE)?;
        // Database-wide settings that are part of what the application sees.
        if let Ok(original) = raw_open(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY) {
            let read = |pragma: &str| -> Option<String> {
                original
                    .query_row(&format!("PRAGMA {pragma}"), [], |r| {
                        r.get::<_, rusqlite::types::Value>(0)
                    })
                    .ok()
                    .map(|v| match v {
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Text(t) => string_literal(&t),
                        _ => String::new(),
                    })
            };
            for pragma in [
                "encoding",
                "page_size",
                "auto_vacuum",
                "user_version",
                "application_id",
            ] {
                if let Some(value) = read(pragma).filter(|v| !v.is_empty()) {
                    run(&conn, &format!("PRAGMA {pragma} = {value}"))?;
                }
            }
        }
        // Materialize the file with its header.
        run(&conn, "VACUUM")?;
        drop(conn);
        File::open(path)
            .and_then(|f| f.sync_all())
            .and_then(|()| sync_directory(path))
            .map_err(|e| io_error("cannot sync", path, &e))
    }

    fn drop_database(&mut self, name: &str) -> Result<()> {
        let path = Path::new(name);
        self.sealed.remove(path);
        for file in std::iter::once(path.to_path_buf())
            .chain(COMPANIONS.iter().map(|c| with_suffix(path, c)))
        {
            match fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("cannot remove", &file, &e)),
            }
        }
        sync_directory(path).map_err(|e| io_error("cannot sync the directory of", path, &e))
    }

    fn rename_database(&mut self, from: &str, to: &str) -> Result<()> {
        let (from, to) = (Path::new(from), Path::new(to));
        if to.exists() {
            return Err(io_error(
                "cannot rename onto",
                to,
                &std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        // Companions first: a database file never appears under its new name without the
        // write-ahead log that holds part of its content.
        for companion in COMPANIONS {
            let source = with_suffix(from, companion);
            if source.exists() {
                fs::rename(&source, with_suffix(to, companion))
                    .map_err(|e| io_error("cannot rename", &source, &e))?;
            }
        }
        fs::rename(from, to).map_err(|e| io_error("cannot rename", from, &e))?;
        sync_directory(to).map_err(|e| io_error("cannot sync the directory of", to, &e))?;
        if let Some(conn) = self.sealed.remove(from) {
            self.sealed.insert(to.to_path_buf(), conn);
        }
        Ok(())
    }

    fn open(&mut self, name: &str) -> Result<Box<dyn Driver>> {
        Ok(Box::new(SqliteDriver::open(Path::new(name), false)?))
    }

    fn is_read_only(&mut self, name: &str) -> Result<bool> {
        let path = Path::new(name);
        let meta = fs::metadata(path).map_err(|e| io_error("cannot read", path, &e))?;
        Ok(meta.permissions().readonly())
    }

    fn set_read_only(&mut self, name: &str, read_only: bool) -> Result<()> {
        let path = Path::new(name);
        self.sealed.remove(path);
        let meta = fs::metadata(path).map_err(|e| io_error("cannot read", path, &e))?;
        let permissions = meta.permissions();
        if permissions.readonly() == read_only {
            return Ok(());
        }
        let changed = change_write_bits(path, permissions, read_only, &mut self.write_bits);
        fs::set_permissions(path, changed)
            .map_err(|e| io_error("cannot change permissions of", path, &e))
    }

    fn hold_writers(&mut self, name: &str) -> Result<Box<dyn WriterHold>> {
        let path = PathBuf::from(name);
        if let Some((captured, shared)) = &self.capture
            && *captured == path
        {
            let held = shared.lock().unwrap_or_else(PoisonError::into_inner);
            run(&held.conn, "BEGIN IMMEDIATE")?;
            drop(held);
            return Ok(Box::new(SqliteHold::Shared(Arc::clone(shared))));
        }
        let conn = raw_open(&path, read_write())?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| driver_error(&e, None))?;
        run(&conn, "BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteHold::Own(conn)))
    }

    fn seal(&mut self, name: &str) -> Result<()> {
        let path = PathBuf::from(name);
        let conn = raw_open(&path, read_write())?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| driver_error(&e, None))?;
        run(&conn, "BEGIN IMMEDIATE")?;
        self.sealed.insert(path, conn);
        Ok(())
    }

    fn unseal(&mut self, name: &str) -> Result<()> {
        if let Some(conn) = self.sealed.remove(Path::new(name)) {
            let _ = conn.execute_batch("ROLLBACK");
        }
        Ok(())
    }

    fn change_capture(&mut self, _name: &str) -> Result<ChangeCapture> {
        Ok(ChangeCapture {
            stream: Some(capture::STREAM.into()),
            method: "change-log triggers: each table's writes, from every process, record the keys they touch, and each pass carries only those rows (re-read from the original by key)".into(),
        })
    }

    fn mark_writes(
        &mut self,
        name: &str,
        stream: Option<&str>,
    ) -> Result<Option<Box<dyn WriteMark>>> {
        let mut method = None;
        let mut captured = false;
        if stream.is_some() {
            let path = PathBuf::from(name);
            let conn = raw_open(&path, read_write())?;
            conn.busy_timeout(Duration::from_secs(30))
                .map_err(|e| driver_error(&e, None))?;
            match capture::create(&conn) {
                Ok(_) => captured = true,
                Err(err) => {
                    method = Some(format!(
                        "a keyed merge of each table with its copy (reads both whole): the change-log triggers could not be made ({err})"
                    ));
                }
            }
            self.capture = Some((
                path,
                Arc::new(Mutex::new(Held {
                    conn,
                    commit_on_seal: false,
                })),
            ));
        }
        let conn = raw_open(
            Path::new(name),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let version = pragma(&conn, "data_version")?;
        let schema = pragma(&conn, "schema_version")?;
        Ok(Some(Box::new(SqliteWriteMark {
            conn,
            version,
            schema,
            last_seen: version,
            captured,
            method,
        })))
    }

    fn database_copy_statement(&self) -> Option<&'static str> {
        Some("VACUUM INTO")
    }

    /// `VACUUM INTO` from a read-only connection: one read transaction, so the copy is the
    /// database as of one commit (writers held off by [`Server::hold_writers`] do not block
    /// it); synced before it counts as done.
    fn copy_database(&mut self, from: &str, to: &str) -> Result<()> {
        let (from, to) = (Path::new(from), Path::new(to));
        if to.exists() {
            return Err(io_error(
                "cannot copy onto",
                to,
                &std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        let Some(destination) = to.to_str() else {
            return Err(Error::Invalid(format!(
                "{}: a copy's path must be UTF-8",
                to.display()
            )));
        };
        let conn = raw_open(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| driver_error(&e, None))?;
        run(
            &conn,
            &format!("VACUUM INTO {}", string_literal(destination)),
        )?;
        drop(conn);
        File::open(to)
            .and_then(|f| f.sync_all())
            .and_then(|()| sync_directory(to))
            .map_err(|e| io_error("cannot sync", to, &e))
    }

    fn drop_change_stream(&mut self, _stream: &str) -> Result<()> {
        self.drop_capture()
    }

    fn copier(&mut self, from: &str, to: &str) -> Result<Box<dyn Copier>> {
        let conn = raw_open(Path::new(to), read_write())?;
        // The new database is dropped if anything fails before the switch, so it needs no
        // rollback journal while it fills; `finish` makes it durable.
        run(
            &conn,
            "PRAGMA foreign_keys = OFF; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF",
        )?;
        // Read-only: the copy can never write the original.
        let uri = format!("file:{}?mode=ro", uri_path(Path::new(from)));
        run(
            &conn,
            &format!("ATTACH DATABASE {} AS src", string_literal(&uri)),
        )?;
        let wal = raw_open(Path::new(from), OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
                    .map_err(|e| driver_error(&e, None))
            })
            .is_ok_and(|mode| mode.eq_ignore_ascii_case("wal"));
        Ok(Box::new(SqliteCopier {
            conn,
            path: PathBuf::from(to),
            wal,
        }))
    }

    fn max_parallel_copies(&self) -> usize {
        // One writer per SQLite database.
        1
    }

    fn continue_generators(&mut self, from: &str, to: &str) -> Result<()> {
        let conn = raw_open(Path::new(to), read_write())?;
        let uri = format!("file:{}?mode=ro", uri_path(Path::new(from)));
        run(
            &conn,
            &format!("ATTACH DATABASE {} AS src", string_literal(&uri)),
        )?;
        let has = |schema: &str| -> Result<bool> {
            let sql = format!(
                "SELECT count(*) FROM {schema}.sqlite_schema WHERE name = 'sqlite_sequence'"
            );
            conn.query_row(&sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n > 0)
                .map_err(|e| driver_error(&e, Some(&sql)))
        };
        if has("main")? && has("src")? {
            // AUTOINCREMENT counters never go back, even past deleted rows.
            run(
                &conn,
                "BEGIN; \
                 CREATE TEMP TABLE dac_seq AS SELECT s.name, max(s.seq, coalesce(m.seq, 0)) AS seq \
                   FROM src.sqlite_sequence s LEFT JOIN main.sqlite_sequence m ON m.name = s.name \
                   WHERE s.name IN (SELECT name FROM main.sqlite_schema WHERE type = 'table'); \
                 DELETE FROM main.sqlite_sequence WHERE name IN (SELECT name FROM temp.dac_seq); \
                 INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM temp.dac_seq; \
                 DROP TABLE temp.dac_seq; COMMIT",
            )?;
        }
        Ok(())
    }

    fn change_marker(&mut self, name: &str) -> Result<String> {
        let path = Path::new(name);
        let stamp = |p: &Path| -> String {
            match fs::metadata(p) {
                Ok(meta) => {
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos());
                    format!("{}@{modified}", meta.len())
                }
                Err(_) => "-".into(),
            }
        };
        if !path.exists() {
            return Err(io_error(
                "cannot read",
                path,
                &std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        Ok(format!(
            "{} {}",
            stamp(path),
            stamp(&with_suffix(path, "-wal"))
        ))
    }

    fn load_journal(&mut self) -> Result<Option<String>> {
        let path = self.journal_path();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot read", &path, &e)),
        }
    }

    fn save_journal(&mut self, _holder: &str, text: &str) -> Result<()> {
        write_atomically(&self.journal_path(), text)
    }

    fn snapshot(&mut self, place: &SnapshotPlace, wait: Duration) -> Result<Snapshot> {
        let path = self.path.clone();
        super::copy::snapshot(self, &path, place, wait)
    }

    fn restore(
        &mut self,
        snapshot: &Snapshot,
        wait: Duration,
        steps: &mut dyn RestoreSteps,
    ) -> Result<()> {
        let path = self.path.clone();
        super::copy::restore(self, &path, snapshot, wait, steps)
    }

    fn clear_journal(&mut self) -> Result<()> {
        let path = self.journal_path();
        match fs::remove_file(&path) {
            Ok(()) => sync_directory(&path).map_err(|e| io_error("cannot sync", &path, &e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("cannot remove", &path, &e)),
        }
    }
}

/// Read-only is the absence of write permission. Making a file writable again gives back the
/// bits this process took (owner write only, after a crash).
#[cfg(unix)]
fn change_write_bits(
    path: &Path,
    mut permissions: fs::Permissions,
    read_only: bool,
    taken: &mut HashMap<PathBuf, u32>,
) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    let mode = permissions.mode();
    if read_only {
        taken.insert(path.to_path_buf(), mode & 0o222);
        permissions.set_mode(mode & !0o222);
    } else {
        let bits = taken.remove(path).unwrap_or(0o200);
        permissions.set_mode(mode | bits);
    }
    permissions
}

#[cfg(not(unix))]
fn change_write_bits(
    _path: &Path,
    mut permissions: fs::Permissions,
    read_only: bool,
    _taken: &mut HashMap<PathBuf, u32>,
) -> fs::Permissions {
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(read_only);
    permissions
}

/// A path for a `file:` URI (`?`, `#` and `%` escaped).
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

/// A writer hold: a connection of its own, or the change capture's (see [`Held`]).
enum SqliteHold {
    Own(Connection),
    Shared(Arc<Mutex<Held>>),
}

impl SqliteHold {
    /// Ends the hold's transaction: `commit` keeps what it wrote (the change capture dropped).
    fn end(&self, seal: bool) -> Result<()> {
        match self {
            SqliteHold::Own(conn) => run(conn, "ROLLBACK"),
            SqliteHold::Shared(shared) => {
                let mut held = shared.lock().unwrap_or_else(PoisonError::into_inner);
                let commit = seal && held.commit_on_seal;
                held.commit_on_seal = false;
                if held.conn.is_autocommit() {
                    return Ok(());
                }
                run(&held.conn, if commit { "COMMIT" } else { "ROLLBACK" })
            }
        }
    }
}

impl WriterHold for SqliteHold {
    fn release(self: Box<Self>) -> Result<()> {
        self.end(false)
    }

    fn seal(self: Box<Self>) -> Result<()> {
        // Nothing to end: SQLite has no sessions of its own. The lock is let go just before
        // the rename; connections opened earlier keep the original file.
        self.end(true)
    }
}

/// SQLite's `data_version` changes, for one connection, whenever another connection (of
/// this process or another) commits to the database: the whole file, not table by table.
/// `schema_version` changes with every schema change.
struct SqliteWriteMark {
    conn: Connection,
    version: i64,
    schema: i64,
    /// `data_version` at the last [`WriteMark::may_have_changed`].
    last_seen: i64,
    /// The change-log triggers were made before the mark: catch-ups read the logs.
    captured: bool,
    /// Why the catch-up merges instead, where the capture could not be made.
    method: Option<String>,
}

fn pragma(conn: &Connection, name: &str) -> Result<i64> {
    let sql = format!("PRAGMA {name}");
    conn.query_row(&sql, [], |r| r.get(0))
        .map_err(|e| driver_error(&e, Some(&sql)))
}

impl WriteMark for SqliteWriteMark {
    fn may_have_changed(&mut self) -> Result<bool> {
        let now = pragma(&self.conn, "data_version")?;
        let changed = now != self.last_seen;
        self.last_seen = now;
        Ok(changed)
    }

    fn written(&mut self, copied: &[(ObjectName, u64)]) -> Result<WrittenSince> {
        if pragma(&self.conn, "schema_version")? != self.schema {
            return Ok(WrittenSince::Schema(
                "its schema changed (schema_version)".into(),
            ));
        }
        if pragma(&self.conn, "data_version")? == self.version {
            return Ok(WrittenSince::Nothing);
        }
        if !self.captured {
            return Ok(WrittenSince::Rows {
                why: "the database took writes while it was copied".into(),
                tables: None,
            });
        }
        // Each table's log says whether it was written; a table without one counts as written.
        let mut tables = Vec::new();
        for (table, _) in copied {
            if capture::written(&self.conn, table.leaf())? != Some(false) {
                tables.push(table.clone());
            }
        }
        if tables.is_empty() {
            return Ok(WrittenSince::Nothing);
        }
        let names: Vec<String> = tables.iter().map(|t| t.leaf().to_string()).collect();
        Ok(WrittenSince::Rows {
            why: format!(
                "{} table(s) written while copied: {}",
                tables.len(),
                names.join(", ")
            ),
            tables: Some(tables),
        })
    }

    fn since(&self) -> String {
        if self.captured {
            capture::first_since()
        } else {
            String::new()
        }
    }

    fn method(&self) -> Option<String> {
        self.method.clone()
    }
}

struct SqliteCopier {
    conn: Connection,
    path: PathBuf,
    wal: bool,
}

/// SQLite type affinity of a declared type (section 3.1 of SQLite's datatype page), with the
/// storage classes a converted value may have.
fn allowed_storage(declared: &str) -> Option<&'static str> {
    let upper = declared.to_ascii_uppercase();
    if upper.contains("INT") {
        Some("'integer'")
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        Some("'text'")
    } else if upper.contains("BLOB") || upper.is_empty() {
        None
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        Some("'real'")
    } else {
        Some("'integer', 'real'")
    }
}

impl SqliteCopier {
    /// Fails where a converted column of the new table holds a value SQLite kept unconverted
    /// (`sql`: the statement that wrote them, for the error).
    fn check_converted(&self, table: &TableCopy, sql: &str) -> Result<()> {
        let destination = quote(table.destination.leaf());
        for (column, declared) in &table.converted {
            let Some(allowed) = allowed_storage(declared) else {
                continue;
            };
            let check = format!(
                "SELECT count(*) FROM main.{destination} WHERE {} IS NOT NULL AND typeof({}) NOT IN ({allowed})",
                quote(column),
                quote(column)
            );
            let bad: i64 = self
                .conn
                .query_row(&check, [], |r| r.get(0))
                .map_err(|e| driver_error(&e, Some(&check)))?;
            if bad > 0 {
                return Err(Error::Driver {
                    backend: "sqlite",
                    code: None,
                    message: format!(
                        "{bad} row(s) of {}.{column} do not convert to {declared}",
                        table.source.leaf()
                    ),
                    statement: Some(sql.to_string()),
                });
            }
        }
        Ok(())
    }

    /// [`Copier::catch_up`] of a table without a change log, as one transaction: a merge of the
    /// two tables by key (it reads both tables whole, through their key indexes, and writes only
    /// the difference): rows whose key is gone from the original deleted, rows different (`IS`,
    /// with the columns' affinities, so a converted value equals its original) deleted and,
    /// with the missing ones, inserted as the original holds them.
    fn merge(&mut self, table: &TableCopy) -> Result<CaughtUp> {
        let source = format!("src.{} AS dac_src", quote(table.source.leaf()));
        let destination = format!("main.{}", quote(table.destination.leaf()));
        let source_of = |destination: &str| {
            table
                .columns
                .iter()
                .find(|(_, d)| d == destination)
                .map(|(s, _)| format!("dac_src.{}", quote(s)))
        };
        let keys: Vec<(String, String)> = table
            .key
            .iter()
            .filter_map(|k| Some((source_of(k)?, format!("{destination}.{}", quote(k)))))
            .collect();
        if keys.is_empty() || keys.len() != table.key.len() {
            return Err(Error::Invalid(format!(
                "{}: no key among the copied columns to catch up by",
                table.source
            )));
        }
        let key_match = keys
            .iter()
            .map(|(s, d)| format!("{s} = {d}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let delete = format!(
            "DELETE FROM {destination} WHERE NOT EXISTS (SELECT 1 FROM {source} WHERE {key_match})"
        );
        // Found by key (through the new table's key index), then compared column by column.
        let same_row = std::iter::once(key_match.clone())
            .chain(
                table
                    .columns
                    .iter()
                    .map(|(s, d)| format!("{destination}.{} IS dac_src.{}", quote(d), quote(s))),
            )
            .collect::<Vec<_>>()
            .join(" AND ");
        // Rows that differ go first and come back as the original holds them, so values
        // swapped between rows of a unique column never meet.
        let differing = format!(
            "DELETE FROM {destination} WHERE EXISTS (SELECT 1 FROM {source} WHERE {key_match}) \
             AND NOT EXISTS (SELECT 1 FROM {source} WHERE {same_row})"
        );
        let (destinations, sources) = super::capture::catch_up_columns(table);
        let upsert = format!(
            "INSERT INTO {destination} ({}) SELECT {} FROM {source} \
             WHERE NOT EXISTS (SELECT 1 FROM {destination} WHERE {key_match})",
            destinations.join(", "),
            sources.join(", "),
        );
        run(&self.conn, "BEGIN")?;
        let merged = (|| -> Result<CaughtUp> {
            let deleted = self
                .conn
                .execute(&delete, [])
                .map_err(|e| driver_error(&e, Some(&delete)))?;
            crate::fault::point("copy.catch-up");
            self.conn
                .execute(&differing, [])
                .map_err(|e| driver_error(&e, Some(&differing)))?;
            let upserted = self
                .conn
                .execute(&upsert, [])
                .map_err(|e| driver_error(&e, Some(&upsert)))?;
            if upserted > 0 {
                self.check_converted(table, &upsert)?;
            }
            Ok(CaughtUp {
                upserted: upserted as u64,
                deleted: deleted as u64,
                next: String::new(),
                merged_whole: false,
            })
        })();
        match merged {
            Ok(caught) => {
                run(&self.conn, "COMMIT")?;
                Ok(caught)
            }
            Err(err) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(err)
            }
        }
    }
}

impl Copier for SqliteCopier {
    fn copy_table(&mut self, table: &TableCopy, progress: &mut dyn FnMut(Moved)) -> Result<Moved> {
        let source = quote(table.source.leaf());
        let destination = quote(table.destination.leaf());
        let sources: Vec<String> = table.columns.iter().map(|(s, _)| quote(s)).collect();
        let destinations: Vec<String> = table.columns.iter().map(|(_, d)| quote(d)).collect();
        let sql = format!(
            "INSERT INTO main.{destination} ({}) SELECT {} FROM src.{source}",
            destinations.join(", "),
            sources.join(", ")
        );
        // The progress handler is where a copy can be interrupted (fault proofs) mid-table.
        let _ = self.conn.progress_handler(
            100_000,
            Some(|| {
                crate::fault::point("copy.mid-table");
                false
            }),
        );
        run(&self.conn, "BEGIN")?;
        let result = self
            .conn
            .execute(&sql, [])
            .map_err(|e| driver_error(&e, Some(&sql)));
        let _ = self.conn.progress_handler(0, None::<fn() -> bool>);
        let rows = match result {
            Ok(rows) => rows as u64,
            Err(err) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(err);
            }
        };
        if let Err(err) = self.check_converted(table, &sql) {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(err);
        }
        run(&self.conn, "COMMIT")?;
        let moved = Moved { rows, bytes: 0 };
        progress(moved);
        Ok(moved)
    }

    fn execute(&mut self, statement: &str) -> Result<()> {
        run(&self.conn, statement)
    }

    fn clear(&mut self, table: &ObjectName) -> Result<()> {
        run(
            &self.conn,
            &format!("DELETE FROM main.{}", quote(table.leaf())),
        )
    }

    fn catch_up(&mut self, table: &TableCopy, since: &str) -> Result<CaughtUp> {
        run(&self.conn, "BEGIN")?;
        let applied = capture::apply(&self.conn, table, since, &|sql| {
            self.check_converted(table, sql)
        });
        let applied = match applied {
            Ok(applied) => {
                run(&self.conn, "COMMIT")?;
                applied
            }
            // A row that does not go in (a unique value freed by a delete the triggers did not
            // see): merged whole, from the same log position next time. A real failure (a
            // value that does not convert) fails the merge as well.
            Err(_) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                let merged = self.merge(table)?;
                return Ok(CaughtUp {
                    next: since.to_string(),
                    merged_whole: true,
                    ..merged
                });
            }
        };
        match applied {
            Some((caught, false)) => Ok(caught),
            // A write the triggers did not see (see `capture.rs`): merged whole; the log
            // position still moves on.
            Some((caught, true)) => {
                let merged = self.merge(table)?;
                Ok(CaughtUp {
                    upserted: caught.upserted + merged.upserted,
                    deleted: caught.deleted + merged.deleted,
                    next: caught.next,
                    merged_whole: true,
                })
            }
            // No capture at all (the method says so), or none this table's key can use.
            None => Ok(CaughtUp {
                merged_whole: !since.is_empty(),
                ..self.merge(table)?
            }),
        }
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let SqliteCopier { conn, path, wal } = *self;
        run(&conn, "DETACH DATABASE src")?;
        let mode = if wal { "WAL" } else { "DELETE" };
        run(&conn, &format!("PRAGMA journal_mode = {mode}"))?;
        drop(conn);
        File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_error("cannot sync", &path, &e))
    }
}
