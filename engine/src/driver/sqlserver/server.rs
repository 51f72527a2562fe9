//! SQL Server databases as whole objects for side-by-side upgrades ([`Server`]). Server-level
//! statements run on a session in `master`, since a database cannot be renamed or dropped from
//! a session inside it. The T-SQL is in [`super::server_sql`] (pure, golden-tested).
//!
//! * **Read-only**: `ALTER DATABASE ... SET READ_ONLY WITH ROLLBACK IMMEDIATE`. This does not
//!   wait: the open transactions of every other session in the database are rolled back and
//!   those sessions are disconnected; new sessions can connect and read, none can write. So on
//!   SQL Server, holding writers off ([`Server::hold_writers`]) is this read-only switch itself:
//!   stronger than a lock (open sessions are ended, not made to wait).
//! * **Seal / rename**: `SINGLE_USER WITH ROLLBACK IMMEDIATE` (again rolling back and
//!   disconnecting other sessions), `MODIFY NAME`, `MULTI_USER`, in one batch from `master`.
//! * **Copy**: `INSERT ... SELECT` between the two databases with three-part names, on the
//!   server (no rows cross the network), `IDENTITY_INSERT` where the table has an identity
//!   column; identity columns are reseeded and sequences restarted after the original's
//!   position.
//! * **Journal**: a database-level extended property `dac.journal` on the database that holds
//!   it: it survives a crash and follows the database through renames (inspection leaves it
//!   out). A read-only holder is made writable for the write and read-only again.
//! * **Change marker**: per table, the row count and `CHECKSUM_AGG(BINARY_CHECKSUM(*))` (a full
//!   read of every table, at the switch and before a rollback).
//! * **Registration**: msdb keys registrations on database names, so after each rename the
//!   msdb registration (if any) follows its database ([`super::server_sql::msdb_follow_rename`]).

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::config::{ConnectionConfig, with_database};
use super::{Cell, SqlServerDriver, literal, server_sql};
use crate::driver::server::{
    CaughtUp, ChangeCapture, Copier, DatabaseCopyState, Moved, Server, TableCopy, WriteMark,
    WriterHold,
};
use crate::driver::{Driver, RestoreSteps, Snapshot, SnapshotPlace};
use crate::model::{ObjectName, Platform};
use crate::{Error, Result};

/// SQL Server's limit on a database name, in characters.
const NAME_MAX: usize = 128;

/// The server side of a SQL Server target.
pub struct SqlServerServer {
    /// The connection string as given (the password stays inside).
    conn: String,
    admin: SqlServerDriver,
    database: String,
    lock_held: bool,
    msdb: Option<bool>,
    /// Whether the server is Azure SQL Database (probed once, see [`SqlServerServer::azure`]).
    azure: Option<bool>,
}

impl std::fmt::Debug for SqlServerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqlServerServer({})", self.database)
    }
}

/// `prefix` cut so `prefix + suffix` fits a database name.
fn fit(prefix: &str, suffix: &str) -> String {
    let room = NAME_MAX.saturating_sub(suffix.chars().count());
    let prefix: String = prefix.chars().take(room).collect();
    format!("{prefix}{suffix}")
}

fn rows_of(sets: Vec<super::Fetched>) -> Vec<Vec<Cell>> {
    sets.into_iter()
        .next()
        .map(|(_, rows)| rows)
        .unwrap_or_default()
}

fn text(cell: Option<&Cell>) -> Option<String> {
    match cell {
        Some(Cell::Text(t)) => Some(t.clone()),
        _ => None,
    }
}

impl SqlServerServer {
    /// Connects to the server of a connection string through `master`.
    pub fn connect(conn: &str) -> Result<SqlServerServer> {
        let config = ConnectionConfig::parse(conn)?;
        let database = config.database.clone().ok_or_else(|| {
            Error::Invalid(
                "the SQL Server connection string names no Database to upgrade side by side".into(),
            )
        })?;
        let admin = SqlServerDriver::connect(&with_database(conn, "master"))?;
        Ok(SqlServerServer {
            conn: conn.to_string(),
            admin,
            database,
            lock_held: false,
            msdb: None,
            azure: None,
        })
    }

    fn driver(&self, name: &str) -> Result<SqlServerDriver> {
        SqlServerDriver::connect(&with_database(&self.conn, name))
    }

    fn run(&mut self, sql: &str) -> Result<()> {
        self.admin.run_batch(sql, None)
    }

    /// The databases carrying this target's journal, with the journal's text.
    fn own_journals(&mut self) -> Result<Vec<(String, String)>> {
        let candidates: Vec<String> = rows_of(
            self.admin
                .fetch(&server_sql::journal_candidates(&self.database))?,
        )
        .into_iter()
        .filter_map(|r| text(r.first()))
        .collect();
        let mut out = Vec::new();
        let azure = self.azure()?;
        for database in candidates {
            let sets = if azure {
                self.driver(&database)
                    .and_then(|mut d| d.fetch(&server_sql::azure_journal_read()))
            } else {
                self.admin.fetch(&server_sql::journal_read(&database))
            };
            let Ok(sets) = sets else {
                continue; // not accessible to this login: not ours
            };
            let Some(journal) = rows_of(sets)
                .into_iter()
                .next()
                .and_then(|r| text(r.first()))
            else {
                continue;
            };
            let target = serde_json::from_str::<serde_json::Value>(&journal)
                .ok()
                .and_then(|v| v.get("target").and_then(|t| t.as_str()).map(str::to_string));
            if target.as_deref() == Some(self.database.as_str()) {
                out.push((database, journal));
            }
        }
        Ok(out)
    }

    /// Runs a statement against a database that may be read-only (made writable for it and
    /// read-only again after): `from_master` from `master`, or on Azure SQL Database (no
    /// cross-database names) `inside` in a session of the database.
    fn write_into(&mut self, database: &str, from_master: &str, inside: &str) -> Result<()> {
        let read_only = self.is_read_only(database)?;
        if read_only {
            self.set_read_only(database, false)?;
        }
        let result = if self.azure()? {
            self.driver(database)
                .and_then(|mut d| d.run_batch(inside, None))
        } else {
            self.run(from_master)
        };
        if read_only {
            self.set_read_only(database, true)?;
        }
        result
    }

    /// Whether the server is Azure SQL Database (`SERVERPROPERTY('EngineEdition') = 5`):
    /// no cross-database queries, no `SINGLE_USER` (probed once).
    fn azure(&mut self) -> Result<bool> {
        if let Some(azure) = self.azure {
            return Ok(azure);
        }
        let edition = self.admin.scalar(server_sql::ENGINE_EDITION)?;
        let azure = edition.as_deref() == Some(server_sql::AZURE_SQL_DATABASE);
        self.azure = Some(azure);
        Ok(azure)
    }

    /// Whether msdb's DAC registry is readable here (probed once).
    fn msdb_usable(&mut self) -> bool {
        if let Some(usable) = self.msdb {
            return usable;
        }
        let usable = self
            .admin
            .fetch(super::registry::MSDB_PROBE)
            .is_ok_and(|sets| {
                rows_of(sets)
                    .first()
                    .and_then(|r| text(r.first()))
                    .is_some_and(|t| t == "1")
            });
        self.msdb = Some(usable);
        usable
    }
}

impl Server for SqlServerServer {
    fn platform(&self) -> Platform {
        Platform::SqlServer
    }

    fn database(&self) -> &str {
        &self.database
    }

    fn suffixed_name(&self, suffix: &str) -> String {
        fit(&self.database, suffix)
    }

    fn lock(&mut self, wait: Duration) -> Result<Option<crate::driver::Waited>> {
        if self.lock_held {
            return Ok(None);
        }
        // The driver's lock of the same database (in master), so in-place and side-by-side
        // runs exclude each other.
        let started = std::time::Instant::now();
        let result = self
            .admin
            .scalar(&super::lock_statement(&self.database, wait))?
            .and_then(|r| r.parse::<i64>().ok())
            .unwrap_or(-999);
        if result >= 0 {
            self.lock_held = true;
            return Ok((result == 1).then(|| crate::driver::Waited {
                waited: started.elapsed(),
                behind: "another dac run".into(),
            }));
        }
        Err(Error::Blocked {
            reason: format!(
                "another dac run holds the upgrade lock of database {} (waited {} s); try again when it has finished",
                self.database,
                wait.as_secs_f64()
            ),
        })
    }

    fn unlock(&mut self) -> Result<()> {
        if self.lock_held {
            self.lock_held = false;
            self.run(&super::unlock_statement(&self.database))?;
        }
        Ok(())
    }

    fn exists(&mut self, name: &str) -> Result<bool> {
        let found = self.admin.scalar(&format!(
            "SELECT CASE WHEN DB_ID({}) IS NULL THEN 0 ELSE 1 END",
            literal(name)
        ))?;
        Ok(found.as_deref() == Some("1"))
    }

    fn create_database(&mut self, name: &str) -> Result<()> {
        // The new database keeps the original's collation.
        let collation = self.admin.scalar(&format!(
            "SELECT CONVERT(nvarchar(128), DATABASEPROPERTYEX({}, 'Collation'))",
            literal(&self.database)
        ))?;
        self.run(&server_sql::create_database_collated(
            name,
            collation.as_deref(),
        ))
    }

    fn drop_database(&mut self, name: &str) -> Result<()> {
        let existed = self.exists(name)?;
        if self.azure()? {
            self.run(&server_sql::azure_drop_database(name))?;
            return Ok(());
        }
        for statement in server_sql::drop_database(name) {
            self.run(&statement)?;
        }
        if existed && self.msdb_usable() {
            self.run(&server_sql::msdb_forget(name))?;
        }
        Ok(())
    }

    fn rename_database(&mut self, from: &str, to: &str) -> Result<()> {
        if self.azure()? {
            // No msdb on Azure SQL Database: the registration is inside the database.
            return self.run(&server_sql::azure_rename_database(from, to));
        }
        self.run(&server_sql::rename_database(from, to))?;
        if self.msdb_usable() {
            self.run(&server_sql::msdb_follow_rename(from, to))
                .map_err(|e| {
                    e.in_context(&format!(
                        "the msdb registration of {from} could not follow its rename to {to}: "
                    ))
                })?;
        }
        Ok(())
    }

    fn open(&mut self, name: &str) -> Result<Box<dyn Driver>> {
        Ok(Box::new(self.driver(name)?))
    }

    fn is_read_only(&mut self, name: &str) -> Result<bool> {
        let found = self.admin.scalar(&format!(
            "SELECT CONVERT(int, is_read_only) FROM sys.databases WHERE name = {}",
            literal(name)
        ))?;
        Ok(found.as_deref() == Some("1"))
    }

    fn set_read_only(&mut self, name: &str, read_only: bool) -> Result<()> {
        if self.azure()? {
            return self.run(&server_sql::azure_set_read_only(name, read_only));
        }
        self.run(&server_sql::set_read_only(name, read_only))
    }

    fn hold_writers(&mut self, name: &str) -> Result<Box<dyn WriterHold>> {
        // READ_ONLY WITH ROLLBACK IMMEDIATE already ended every writer (the upgrade sets it
        // just before); make sure of it, and hold on to a master session for the seal.
        if !self.is_read_only(name)? {
            self.set_read_only(name, true)?;
        }
        Ok(Box::new(SqlServerHold {
            admin: SqlServerDriver::connect(&with_database(&self.conn, "master"))?,
            database: name.to_string(),
            azure: self.azure()?,
        }))
    }

    fn seal(&mut self, name: &str) -> Result<()> {
        if self.azure()? {
            // No SINGLE_USER on Azure SQL Database: READ_ONLY WITH ROLLBACK IMMEDIATE ends
            // every writer's transaction and keeps new writes out.
            return self.set_read_only(name, true);
        }
        self.run(&server_sql::seal(name))
    }

    fn unseal(&mut self, name: &str) -> Result<()> {
        if self.azure()? {
            // Nothing to undo: `seal` made it read-only, which the upgrade sets back itself.
            return Ok(());
        }
        self.run(&server_sql::unseal(name))
    }

    fn whole_database_copy_only(&mut self) -> Result<Option<String>> {
        Ok(self.azure()?.then(|| {
            "Azure SQL Database (EngineEdition 5): no cross-database queries; the database was copied with CREATE DATABASE AS COPY OF".to_string()
        }))
    }

    fn database_copy_statement(&self) -> Option<&'static str> {
        // Only Azure SQL Database copies a database with one statement; SQL Server would need
        // BACKUP and RESTORE to files of the server's.
        (self.azure == Some(true)).then_some("CREATE DATABASE AS COPY OF")
    }

    fn copy_database(&mut self, from: &str, to: &str) -> Result<()> {
        if !self.azure()? {
            return Err(Error::Invalid(format!(
                "{from}: SQL Server copies a whole database on the server only on Azure SQL Database (CREATE DATABASE AS COPY OF); copy it table by table instead (--copy-method tables)"
            )));
        }
        self.run(&server_sql::azure_copy_database(from, to))
    }

    fn database_copy_state(&mut self, name: &str) -> Result<DatabaseCopyState> {
        let rows = rows_of(self.admin.fetch(&server_sql::azure_copy_state(name))?);
        let Some(row) = rows.into_iter().next() else {
            return Ok(DatabaseCopyState::Failed(format!(
                "the copy {name} is gone (Azure removes a copy that failed)"
            )));
        };
        let mut cells = row.into_iter().map(Cell::into_text);
        let state = cells.next().flatten().unwrap_or_default();
        let percent = cells.next().flatten().and_then(|p| p.parse::<f64>().ok());
        let code = cells.next().flatten().unwrap_or_default();
        let error = cells.next().flatten();
        if code != "0" && !code.is_empty() {
            return Ok(DatabaseCopyState::Failed(format!(
                "error {code}: {}",
                error.unwrap_or_default()
            )));
        }
        Ok(match state.as_str() {
            "ONLINE" => DatabaseCopyState::Online,
            "COPYING" => DatabaseCopyState::Copying(percent),
            other => DatabaseCopyState::Failed(format!(
                "the copy {name} is {other}{}",
                error.map(|e| format!(": {e}")).unwrap_or_default()
            )),
        })
    }

    fn change_capture(&mut self, name: &str) -> Result<ChangeCapture> {
        let method = super::change_tracking::readiness(&mut self.admin, name)?;
        Ok(ChangeCapture {
            stream: None,
            method: method.unwrap_or_else(|why| why),
        })
    }

    fn mark_writes(
        &mut self,
        name: &str,
        _stream: Option<&str>,
    ) -> Result<Option<Box<dyn WriteMark>>> {
        if super::change_tracking::readiness(&mut self.admin, name)?.is_err() {
            return Ok(None);
        }
        let temporary = self.temporary_name();
        Ok(Some(Box::new(
            super::change_tracking::ChangeTrackingMark::take(&self.conn, name, &temporary)?,
        )))
    }

    fn copier(&mut self, from: &str, to: &str) -> Result<Box<dyn Copier>> {
        Ok(Box::new(SqlServerCopier {
            session: SqlServerDriver::connect(&with_database(&self.conn, to))?,
            from: from.to_string(),
            to: to.to_string(),
        }))
    }

    fn max_parallel_copies(&self) -> usize {
        4
    }

    fn continue_generators(&mut self, from: &str, to: &str) -> Result<()> {
        let mut old = self.driver(from)?;
        let mut new = self.driver(to)?;
        // Identity columns: continue after the original's current value where it is ahead
        // (IDENTITY_INSERT already moved the seed past the largest copied value).
        let state = |driver: &mut SqlServerDriver, sql: &str| -> Result<Vec<Vec<Option<String>>>> {
            Ok(rows_of(driver.fetch(sql)?)
                .into_iter()
                .map(|r| r.into_iter().map(Cell::into_text).collect())
                .collect())
        };
        let old_ids = state(&mut old, server_sql::IDENTITY_STATE)?;
        let new_ids = state(&mut new, server_sql::IDENTITY_STATE)?;
        let mut statements = Vec::new();
        for row in &new_ids {
            let [Some(schema), Some(table), current, Some(increment)] = row.as_slice() else {
                continue;
            };
            let Some(before) = old_ids.iter().find(|r| {
                r.first().cloned().flatten().as_deref() == Some(schema.as_str())
                    && r.get(1).cloned().flatten().as_deref() == Some(table.as_str())
            }) else {
                continue;
            };
            let (Some(Ok(old_value)), now) = (
                before.get(2).cloned().flatten().map(|v| v.parse::<f64>()),
                current.as_deref().and_then(|v| v.parse::<f64>().ok()),
            ) else {
                continue;
            };
            let ascending = !increment.starts_with('-');
            let ahead = match now {
                None => true,
                Some(now) => {
                    if ascending {
                        old_value > now
                    } else {
                        old_value < now
                    }
                }
            };
            if ahead {
                let value = before.get(2).cloned().flatten().unwrap_or_default();
                statements.push(server_sql::reseed(
                    &ObjectName::new([schema.clone(), table.clone()]),
                    &value,
                ));
            }
        }
        // Sequences: continue after the value the original last gave.
        if let (Ok(old_seqs), Ok(new_seqs)) = (
            state(&mut old, server_sql::SEQUENCE_STATE),
            state(&mut new, server_sql::SEQUENCE_STATE),
        ) {
            for row in &new_seqs {
                let [Some(schema), Some(name), _, Some(increment)] = row.as_slice() else {
                    continue;
                };
                let Some(Some(last)) = old_seqs
                    .iter()
                    .find(|r| {
                        r.first().cloned().flatten().as_deref() == Some(schema.as_str())
                            && r.get(1).cloned().flatten().as_deref() == Some(name.as_str())
                    })
                    .map(|r| r.get(2).cloned().flatten())
                else {
                    continue;
                };
                let (Ok(last), Ok(step)) = (last.parse::<i128>(), increment.parse::<i128>()) else {
                    continue;
                };
                statements.push(server_sql::restart_sequence(
                    &ObjectName::new([schema.clone(), name.clone()]),
                    &(last + step).to_string(),
                ));
            }
        }
        for statement in statements {
            new.run_batch(&statement, None)?;
        }
        Ok(())
    }

    fn change_marker(&mut self, name: &str) -> Result<String> {
        // Azure SQL Database has no cross-database names: read in a session of the database.
        let azure = self.azure()?;
        let mut inside = if azure {
            Some(self.driver(name)?)
        } else {
            None
        };
        let session = inside.as_mut().unwrap_or(&mut self.admin);
        let tables_sql = if azure {
            server_sql::azure_user_tables()
        } else {
            server_sql::user_tables(name)
        };
        let tables: Vec<String> = rows_of(session.fetch(&tables_sql)?)
            .into_iter()
            .filter_map(|r| text(r.first()))
            .collect();
        let mut hasher = Sha256::new();
        for chunk in tables.chunks(100) {
            let sql = if azure {
                server_sql::azure_table_fingerprints(chunk)
            } else {
                server_sql::table_fingerprints(name, chunk)
            };
            for row in rows_of(session.fetch(&sql)?) {
                for cell in row {
                    hasher.update(cell.into_text().unwrap_or_default().as_bytes());
                    hasher.update([0x1f]);
                }
            }
        }
        let digest = hasher.finalize();
        Ok(format!(
            "{}/{}",
            tables.len(),
            digest
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
    }

    fn load_journal(&mut self) -> Result<Option<String>> {
        Ok(latest_journal(self.own_journals()?))
    }

    fn save_journal(&mut self, holder: &str, text: &str) -> Result<()> {
        if text.chars().count() > 3500 {
            return Err(Error::Invalid(format!(
                "the side-by-side journal is {} characters; SQL Server keeps at most 3500 in a database property",
                text.chars().count()
            )));
        }
        for (database, _) in self.own_journals()? {
            // The target held read-only (a whole-database copy is made and upgraded while it
            // is) is never made writable to clear an older journal: writes would land after
            // the copy. That journal stays, and loading takes the latest.
            if database != holder && !(database == self.database && self.is_read_only(&database)?) {
                self.write_into(
                    &database,
                    &server_sql::journal_clear(&database),
                    &server_sql::azure_journal_clear(),
                )?;
            }
        }
        self.write_into(
            holder,
            &server_sql::journal_write(holder, text),
            &server_sql::azure_journal_write(text),
        )
    }

    fn clear_journal(&mut self) -> Result<()> {
        for (database, _) in self.own_journals()? {
            self.write_into(
                &database,
                &server_sql::journal_clear(&database),
                &server_sql::azure_journal_clear(),
            )?;
        }
        Ok(())
    }

    fn snapshot(&mut self, _place: &SnapshotPlace, _wait: Duration) -> Result<Snapshot> {
        Err(Error::Invalid(format!(
            "{}: a rollout keeps no copy of a SQL Server database for an in-place rollback yet; roll SQL Server targets out side by side (mode = \"side-by-side\") or without backups",
            crate::driver::redact(&self.conn)
        )))
    }

    fn restore(
        &mut self,
        snapshot: &Snapshot,
        _wait: Duration,
        _steps: &mut dyn RestoreSteps,
    ) -> Result<()> {
        Err(snapshot.not_for(Platform::SqlServer))
    }
}

/// The journal of the latest step among those a target's databases carry: the latest run
/// (`started_at`), then the furthest phase and whole-database-copy step (an older step can stay
/// in a read-only original, see `save_journal`).
fn latest_journal(journals: Vec<(String, String)>) -> Option<String> {
    let rank = |text: &str| {
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let field = |name: &str| {
            value
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let phase = match field("phase").as_str() {
            "preparing" => 0,
            "copying" => 1,
            "switching" => 2,
            "done" => 3,
            "rolling-back" => 4,
            _ => 0,
        };
        let step = match field("database_copy").as_str() {
            "copying" => 1,
            "upgrading" => 2,
            "upgraded" => 3,
            _ => 0,
        };
        (field("started_at"), phase, step)
    };
    journals
        .into_iter()
        .map(|(_, text)| text)
        .max_by_key(|text| rank(text))
}

/// Writers held off: the database is read-only (other sessions were rolled back and
/// disconnected by `READ_ONLY WITH ROLLBACK IMMEDIATE`).
struct SqlServerHold {
    admin: SqlServerDriver,
    database: String,
    /// Azure SQL Database has no SINGLE_USER: the read-only switch already sealed it.
    azure: bool,
}

impl WriterHold for SqlServerHold {
    fn release(self: Box<Self>) -> Result<()> {
        // Undoing the read-only switch is the upgrade's (set_read_only); nothing else is held.
        Ok(())
    }

    fn seal(mut self: Box<Self>) -> Result<()> {
        if self.azure {
            return Ok(());
        }
        let sql = server_sql::seal(&self.database);
        self.admin.run_batch(&sql, None)
    }
}

/// Copies tables on the server, from a session in the new database.
struct SqlServerCopier {
    session: SqlServerDriver,
    from: String,
    to: String,
}

impl Copier for SqlServerCopier {
    fn copy_table(&mut self, table: &TableCopy, progress: &mut dyn FnMut(Moved)) -> Result<Moved> {
        // rowversion and GENERATED ALWAYS columns take their values from the server.
        let unwritable: Vec<String> = rows_of(
            self.session
                .fetch(&server_sql::unwritable_columns(&self.to, table))?,
        )
        .into_iter()
        .filter_map(|r| text(r.first()))
        .collect();
        let mut owned;
        let table = if unwritable.is_empty() {
            table
        } else {
            owned = table.clone();
            owned.columns.retain(|(_, d)| !unwritable.contains(d));
            &owned
        };
        if table.columns.is_empty() {
            return Ok(Moved::default());
        }
        let identity = self
            .session
            .scalar(&server_sql::has_identity(&self.to, table))?
            .as_deref()
            == Some("1");
        let sql = server_sql::copy_table(&self.from, &self.to, table, identity);
        let rows = self
            .session
            .scalar(&sql)
            .map_err(|e| e.in_context(&format!("copying {}: ", table.source)))?
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0);
        crate::fault::point("copy.mid-table");
        let moved = Moved { rows, bytes: 0 };
        progress(moved);
        Ok(moved)
    }

    fn execute(&mut self, statement: &str) -> Result<()> {
        Driver::execute(&mut self.session, statement)
    }

    fn clear(&mut self, table: &ObjectName) -> Result<()> {
        Driver::execute(&mut self.session, &server_sql::clear_table(&self.to, table))
    }

    fn catch_up(&mut self, table: &TableCopy, since: &str) -> Result<CaughtUp> {
        let identity = self
            .session
            .scalar(&server_sql::has_identity(&self.to, table))?
            .as_deref()
            == Some("1");
        super::change_tracking::catch_up(
            &mut self.session,
            (&self.from, &self.to),
            table,
            identity,
            since,
        )
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_journal_is_loaded() {
        let journal = |started: &str, phase: &str, step: Option<&str>| {
            let step = step
                .map(|s| format!(r#","database_copy":"{s}""#))
                .unwrap_or_default();
            format!(r#"{{"target":"Shop","started_at":"{started}","phase":"{phase}"{step}}}"#)
        };
        let stale = journal("2026-12-06T12:00:00Z", "copying", Some("copying"));
        let copy = journal("2026-12-06T12:00:00Z", "copying", Some("upgrading"));
        let pick = |list: &[(&str, &String)]| {
            latest_journal(
                list.iter()
                    .map(|(d, t)| (d.to_string(), (*t).clone()))
                    .collect(),
            )
        };
        assert_eq!(
            pick(&[("Shop", &stale), ("Shop__dac_new", &copy)]),
            Some(copy.clone())
        );
        let done = journal("2026-12-06T12:00:00Z", "done", Some("upgraded"));
        assert_eq!(
            pick(&[("Shop", &done), ("Shop__v1_x", &stale)]),
            Some(done.clone())
        );
        let next = journal("2026-12-07T08:00:00Z", "preparing", None);
        assert_eq!(
            pick(&[("Shop", &done), ("Shop__dac_new", &next)]),
            Some(next)
        );
        let rolling = journal("2026-12-06T12:00:00Z", "rolling-back", Some("upgraded"));
        assert_eq!(
            pick(&[("Shop", &done), ("Shop__v1_x", &rolling)]),
            Some(rolling)
        );
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn names_fit_sql_server_limits() {
        let long = "x".repeat(200);
        assert_eq!(fit(&long, "__dac_new").chars().count(), NAME_MAX);
        assert!(fit("Shop", "__dac_new") == "Shop__dac_new");
        assert!(super::super::lock_resource(&long).chars().count() <= 255);
        assert_eq!(
            super::super::lock_resource("Shop"),
            "dac upgrade lock: Shop"
        );
    }
}
