//! Server-level operations: databases as whole objects, for side-by-side upgrades.
//!
//! A side-by-side upgrade creates, copies, renames and drops whole databases and keeps a
//! journal that outlives the process. [`Server`] is that vocabulary; each platform implements it
//! in its driver module (SQLite: database files; PostgreSQL: databases of one server). The
//! orchestration (`upgrade::side_by_side`) stays platform-neutral. Snapshots (a whole copy kept
//! before an in-place upgrade, for a rollout's rollback) are made and restored here too.

use std::time::Duration;

use crate::Result;
use crate::driver::Driver;
use crate::driver::snapshot::{RestoreSteps, Snapshot, SnapshotPlace};
use crate::model::{ObjectName, Platform};

/// One table to copy from the original database into the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table in the original database.
    pub source: ObjectName,
    /// The table in the new database.
    pub destination: ObjectName,
    /// Column pairs (source column, destination column); generated columns are left out.
    pub columns: Vec<(String, String)>,
    /// Every copied column keeps its type, so rows can move in the platform's binary format.
    pub same_types: bool,
    /// Destination columns whose type changed, with the new type's name: rows whose value does
    /// not convert fail the copy (SQLite would otherwise store them unconverted).
    pub converted: Vec<(String, String)>,
    /// The destination columns of the table's primary key, where the source's rows are unique
    /// by the columns they come from (its own primary key); empty: no key, so rows written
    /// after a copy cannot be matched and a written table is copied again.
    pub key: Vec<String>,
}

/// What one catch-up of a table moved (see [`Copier::catch_up`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaughtUp {
    /// Rows inserted or updated in the new database.
    pub upserted: u64,
    /// Rows deleted from the new database.
    pub deleted: u64,
    /// The mark the table's next catch-up starts from.
    pub next: String,
    /// The table was merged whole with its copy instead of caught up from its change stream
    /// (which missed a write, or could not be applied), for the report.
    pub merged_whole: bool,
}

/// Rows and bytes moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Rows.
    pub rows: u64,
    /// Bytes streamed (0 where the copy runs inside the database engine).
    pub bytes: u64,
}

/// Copies tables from one database into another; one per worker thread.
pub trait Copier: Send {
    /// Copies one table, streaming in batches; `progress` is called with the rows and bytes
    /// moved since its last call. Returns the totals.
    fn copy_table(&mut self, table: &TableCopy, progress: &mut dyn FnMut(Moved)) -> Result<Moved>;

    /// Runs one statement in the new database on the copier's session, outside any
    /// transaction of its own: the index builds after the copy, one per copier at a time.
    fn execute(&mut self, statement: &str) -> Result<()>;

    /// Says how many sessions, this one among them, build indexes at the same time, so a
    /// platform that splits one build over workers of its own can stop doing so when the
    /// sessions already keep the cores busy.
    fn build_alongside(&mut self, _sessions: usize) -> Result<()> {
        Ok(())
    }

    /// Empties a table of the new database, to copy it again.
    fn clear(&mut self, table: &ObjectName) -> Result<()>;

    /// Brings a table of the new database, copied before, up to what the original holds now,
    /// keyed by `table.key` (never empty here): the rows written since `since` (a mark of the
    /// platform's, from [`WriteMark::since`] or the previous catch-up) inserted or updated,
    /// the rows gone from the original deleted, with the copy's type conversions. Errs toward
    /// carrying a row again, never toward missing one. Runs while writers write (a pass) or
    /// with them held (the last delta).
    fn catch_up(&mut self, table: &TableCopy, _since: &str) -> Result<CaughtUp> {
        Err(crate::Error::Invalid(format!(
            "{}: this platform cannot bring a copied table up to date",
            table.source
        )))
    }

    /// Makes everything copied durable and closes the connections.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Writers held off a database while its data is copied; readers keep reading.
pub trait WriterHold: Send {
    /// Lets writers back in (the upgrade failed or was undone).
    fn release(self: Box<Self>) -> Result<()>;

    /// Ends every other session and keeps new ones out, then lets go, so the database can be
    /// renamed with nothing written after the copy.
    fn seal(self: Box<Self>) -> Result<()>;
}

/// A mark set on a database before its rows are copied with writers still writing: once
/// writers are held, it tells whether the copy is still what the database holds.
pub trait WriteMark: Send {
    /// With writers held: what was written since the mark to the copied tables (source table,
    /// rows copied), or to the schema. A platform that cannot tell table from table answers
    /// for the whole database; it may err towards a write, never away from one.
    fn written(&mut self, copied: &[(ObjectName, u64)]) -> Result<WrittenSince>;

    /// Where a table's first [`Copier::catch_up`] starts from: whatever was written after this
    /// may be missing from the first copy.
    fn since(&self) -> String {
        String::new()
    }

    /// Whether anything may have been written to the database since the last call (the first:
    /// since the mark); `true` where the platform cannot tell without looking at the tables.
    fn may_have_changed(&mut self) -> Result<bool> {
        Ok(true)
    }

    /// Where the mark reads a change stream (PostgreSQL: a logical replication slot): takes
    /// what the stream holds now and gives, per table of `tables` (in order), what its next
    /// [`Copier::catch_up`] starts from (the rows changed since the previous call). Every
    /// change committed before this call is in it. `None`: the catch-up starts from the
    /// previous catch-up's mark instead.
    fn read_changes(&mut self, _tables: &[&TableCopy]) -> Result<Option<Vec<String>>> {
        Ok(None)
    }

    /// How the mark finds writes, where that is not what [`Server::change_capture`] said (the
    /// stream chosen could not be opened), for the report.
    fn method(&self) -> Option<String> {
        None
    }
}

/// How a platform finds what was written to a database while it was copied (see
/// [`Server::change_capture`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeCapture {
    /// The change stream to open (PostgreSQL: the logical replication slot's name), journalled
    /// before it is opened so that a crash never leaves it behind; `None`: no stream, the
    /// platform's other means (row versions, a merge).
    pub stream: Option<String>,
    /// The method and why it was chosen, for the report.
    pub method: String,
}

/// What a [`WriteMark`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrittenSince {
    /// Nothing: the copy is what the database holds.
    Nothing,
    /// Rows: the copy must be made again, of the tables written to where the platform can tell
    /// which, else of every table.
    Rows {
        /// What was written, for the report.
        why: String,
        /// The source tables written to; `None` where the platform cannot tell.
        tables: Option<Vec<ObjectName>>,
    },
    /// The schema (what changed): the upgrade was planned for another schema.
    Schema(String),
}

/// Where a whole-database copy ([`Server::copy_database`]) stands.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseCopyState {
    /// Still copying (the percentage where the platform tells it).
    Copying(Option<f64>),
    /// Done: the copy is online and transactionally consistent with its source as of the copy.
    Online,
    /// The copy failed: the platform's error text.
    Failed(String),
}

/// A database server (or, for SQLite, the directory of database files) seen as a whole.
pub trait Server: Send {
    /// The platform.
    fn platform(&self) -> Platform;

    /// The database the target names: a file path for SQLite, a database name for PostgreSQL.
    fn database(&self) -> &str;

    /// The target's name with `suffix` appended, cut short where the platform limits the
    /// length of a database name.
    fn suffixed_name(&self, suffix: &str) -> String;

    /// The name the new database is built under before it takes the target's name
    /// (`<target>__dac_new`).
    fn temporary_name(&self) -> String {
        self.suffixed_name("__dac_new")
    }

    /// The name the original keeps after the switch: the target's name with the application
    /// version and the time (`stamp`, `YYYYMMDDhhmmss`), as `<target>__v<version>_<stamp>`.
    fn retained_name(&self, version: &str, stamp: &str) -> String {
        self.suffixed_name(&retained_suffix(version, stamp))
    }

    /// Takes the target's upgrade lock for the whole run (waits up to `wait`, then refuses
    /// naming the other run), so two runs never work on one target at once.
    fn lock(&mut self, wait: std::time::Duration) -> Result<Option<super::Waited>>;

    /// Releases the upgrade lock.
    fn unlock(&mut self) -> Result<()>;

    /// Whether a database exists.
    fn exists(&mut self, name: &str) -> Result<bool>;

    /// Creates an empty database.
    fn create_database(&mut self, name: &str) -> Result<()>;

    /// Drops a database (ending its sessions first); a missing one is not an error.
    fn drop_database(&mut self, name: &str) -> Result<()>;

    /// Renames a database; nobody may be connected to it.
    fn rename_database(&mut self, from: &str, to: &str) -> Result<()>;

    /// Connects to one database.
    fn open(&mut self, name: &str) -> Result<Box<dyn Driver>>;

    /// Whether the database is marked read-only (for every new session).
    fn is_read_only(&mut self, name: &str) -> Result<bool>;

    /// Marks the database read-only or writable, and lets sessions in again (after a seal).
    fn set_read_only(&mut self, name: &str, read_only: bool) -> Result<()>;

    /// Holds writers off the database: writers in open sessions wait, new sessions cannot
    /// write, readers keep reading.
    fn hold_writers(&mut self, name: &str) -> Result<Box<dyn WriterHold>>;

    /// Ends every session of a database and keeps new ones out (before a rename).
    fn seal(&mut self, name: &str) -> Result<()>;

    /// Lets sessions into a database again after [`Server::seal`].
    fn unseal(&mut self, name: &str) -> Result<()>;

    /// Marks a database before a copy made while writers still write (see [`WriteMark`]),
    /// opening the change stream `stream` first where one was chosen ([`Server::change_capture`]);
    /// `None` where the platform cannot tell afterwards what was written, and rows are copied
    /// with writers held.
    fn mark_writes(
        &mut self,
        _name: &str,
        _stream: Option<&str>,
    ) -> Result<Option<Box<dyn WriteMark>>> {
        Ok(None)
    }

    /// How writes made during an early copy of database `name` will be found: the change
    /// stream [`Server::mark_writes`] is then given (opened there, before the copy), and why.
    fn change_capture(&mut self, _name: &str) -> Result<ChangeCapture> {
        Ok(ChangeCapture::default())
    }

    /// Closes a change stream [`Server::mark_writes`] opened (named in the journal); one
    /// that is gone is not an error. On every path: an abandoned stream may hold resources of
    /// the server forever (PostgreSQL: a slot keeps all WAL since it was made).
    fn drop_change_stream(&mut self, _stream: &str) -> Result<()> {
        Ok(())
    }

    /// Why rows cannot be copied table by table from one database into another on this server
    /// (no cross-database queries), so a side-by-side upgrade copies the whole database
    /// ([`Server::copy_database`]) and upgrades the copy in place; `None` where they can.
    fn whole_database_copy_only(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    /// How [`Server::copy_database`] copies (`VACUUM INTO`, `CREATE DATABASE AS COPY OF`), for
    /// the report; `None` where the platform cannot copy a whole database.
    fn database_copy_statement(&self) -> Option<&'static str> {
        None
    }

    /// Starts a transactionally consistent copy of the whole database `from` as `to` (which
    /// must not exist), on the server; [`Server::database_copy_state`] says when it is done.
    fn copy_database(&mut self, from: &str, _to: &str) -> Result<()> {
        Err(crate::Error::Invalid(format!(
            "{from}: {} cannot copy a whole database on the server",
            self.platform().as_str()
        )))
    }

    /// Where the copy started by [`Server::copy_database`] into `name` stands.
    fn database_copy_state(&mut self, _name: &str) -> Result<DatabaseCopyState> {
        Ok(DatabaseCopyState::Online)
    }

    /// A copier from `from` into `to`.
    fn copier(&mut self, from: &str, to: &str) -> Result<Box<dyn Copier>>;

    /// How many copiers may write into one database at a time (copying tables, then building
    /// indexes).
    fn max_parallel_copies(&self) -> usize;

    /// After the copy: identity columns and sequences of `to` continue after the copied rows
    /// (and where `from` had the same sequence, from its position).
    fn continue_generators(&mut self, from: &str, to: &str) -> Result<()>;

    /// A token that changes whenever the database takes a write; compared before a rollback
    /// to see whether the new database took writes since the switch.
    fn change_marker(&mut self, name: &str) -> Result<String>;

    /// The side-by-side journal of the target, if any (text as saved).
    fn load_journal(&mut self) -> Result<Option<String>>;

    /// Saves the journal durably. `holder` is the database that carries it where the journal
    /// lives in the server (PostgreSQL); SQLite keeps it in a file beside the target.
    fn save_journal(&mut self, holder: &str, text: &str) -> Result<()>;

    /// Removes the journal.
    fn clear_journal(&mut self) -> Result<()>;

    /// Takes a snapshot of the target database, replacing a partial one an interrupted call
    /// left, under the upgrade lock (waiting up to `wait`) where the platform copies with
    /// sessions open; refused where the platform keeps none.
    fn snapshot(&mut self, place: &SnapshotPlace, wait: Duration) -> Result<Snapshot>;

    /// Puts `snapshot` back in place of the target database, with `steps` run before (which may
    /// call it off) and after (under the upgrade lock, waiting up to `wait`).
    fn restore(
        &mut self,
        snapshot: &Snapshot,
        wait: Duration,
        steps: &mut dyn RestoreSteps,
    ) -> Result<()>;
}

/// The suffix that names a retained original on a database server: `__v<version>_<stamp>`,
/// the version's characters other than ASCII letters and digits as `_`.
fn retained_suffix(version: &str, stamp: &str) -> String {
    let version: String = version
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("__v{version}_{stamp}")
}
