//! The catch-up of an early copy by Change Tracking. Where the original has Change Tracking on,
//! tracks every user table (so each has a primary key) and allows snapshot isolation, its rows
//! are copied while writers still write, from a mark taken before the copy (the current Change
//! Tracking version), and each pass merges the keys `CHANGETABLE(CHANGES ...)` names since the
//! table's last pass, each from the row the original holds now (`server_sql::change_tracking_*`).
//! Anywhere else rows are copied with writers held, and the report says why. dac changes no
//! option of the original: enabling Change Tracking or snapshot isolation is the owner's call.
//!
//! Sessions: `READ_ONLY WITH ROLLBACK IMMEDIATE` (the writer hold) disconnects every session in
//! the original, so the mark keeps none there: it connects through `master` when it reads, and
//! each catch-up runs on a copier's session (in the new database until its batch `USE`s the
//! original).

use super::config::with_database;
use super::{Cell, SqlServerDriver, server_sql};
use crate::driver::server::{CaughtUp, TableCopy, WriteMark, WrittenSince};
use crate::model::ObjectName;
use crate::{Error, Result};

/// What a catch-up's mark looks like: `ct:<Change Tracking version>`.
const SINCE: &str = "ct:";

/// The first value of the first row of the first result set.
fn first(sets: Vec<super::Fetched>, column: usize) -> Option<String> {
    sets.into_iter()
        .next()
        .and_then(|(_, rows)| rows.into_iter().next())
        .and_then(|row| row.into_iter().nth(column))
        .and_then(|cell| match cell {
            Cell::Text(t) => Some(t),
            _ => None,
        })
}

/// The rows of the last result set (a batch that `USE`s a database first may return an empty
/// set before its `SELECT`'s).
fn last_rows(sets: Vec<super::Fetched>) -> Vec<Vec<Cell>> {
    sets.into_iter()
        .last()
        .map(|(_, rows)| rows)
        .unwrap_or_default()
}

fn number(text: Option<String>) -> u64 {
    text.and_then(|t| t.trim().parse().ok()).unwrap_or(0)
}

/// The choice, from what the original says of itself: `Ok(method)` where an early copy can be
/// caught up by Change Tracking, `Err(why not)` where rows are copied with writers held.
pub fn choose(
    database_tracked: bool,
    untracked_tables: u64,
    snapshot_allowed: bool,
) -> std::result::Result<String, String> {
    if !database_tracked {
        return Err("Change Tracking is off for the database (ALTER DATABASE ... SET CHANGE_TRACKING = ON, and ENABLE CHANGE_TRACKING on each table, would let dac copy early and catch up)".into());
    }
    if untracked_tables > 0 {
        return Err(format!(
            "Change Tracking is on for the database but not for {untracked_tables} of its tables (a table without a primary key cannot be tracked)"
        ));
    }
    if !snapshot_allowed {
        return Err("Change Tracking is on, but the database does not allow snapshot isolation, which its catch-up reads under (ALTER DATABASE ... SET ALLOW_SNAPSHOT_ISOLATION ON)".into());
    }
    Ok("Change Tracking: each pass merges the keys CHANGETABLE names since the table's last pass, from the rows the original holds now".into())
}

/// The object names in the first column of a batch's last result set (bracketed, as the
/// catalog queries return them).
fn names_in_first_column(results: Vec<super::Fetched>) -> Vec<ObjectName> {
    last_rows(results)
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .filter_map(|cell| match cell {
            Cell::Text(t) => ObjectName::parse(&t).ok(),
            _ => None,
        })
        .collect()
}

/// Asks the original `database` (through `admin`, a session in `master`) whether its early copy
/// can be caught up by Change Tracking: see [`choose`].
pub(super) fn readiness(
    admin: &mut SqlServerDriver,
    database: &str,
) -> Result<std::result::Result<String, String>> {
    let tables = names_in_first_column(admin.fetch(&server_sql::user_tables(database))?);
    let state = admin.fetch(&server_sql::change_tracking_state(database, &tables))?;
    let row = last_rows(state).into_iter().next().unwrap_or_default();
    let value = |i: usize| match row.get(i) {
        Some(Cell::Text(t)) => number(Some(t.clone())),
        _ => 0,
    };
    let (tracked, untracked) = (value(0) == 1, value(1));
    let snapshot = number(first(
        admin.fetch(&server_sql::snapshot_isolation_state(database))?,
        0,
    )) == 1;
    Ok(choose(tracked, untracked, snapshot))
}

/// The mark of an early copy caught up by Change Tracking.
pub(super) struct ChangeTrackingMark {
    /// The connection string (in memory only, never in output).
    conn: String,
    database: String,
    version: u64,
    schema: Option<String>,
}

impl ChangeTrackingMark {
    /// Takes the mark before the copy: lets the new database `temporary` take snapshot
    /// transactions, reads the original's Change Tracking version and its schema state.
    pub(super) fn take(conn: &str, database: &str, temporary: &str) -> Result<Self> {
        let mut session = SqlServerDriver::connect(&with_database(conn, "master"))?;
        let version = number(first(
            last_rows_set(session.fetch(&server_sql::change_tracking_mark(database, temporary))?),
            0,
        ));
        let schema = schema(&mut session, database)?;
        Ok(ChangeTrackingMark {
            conn: conn.to_string(),
            database: database.to_string(),
            version,
            schema,
        })
    }
}

/// The last result set alone, as a list of one.
fn last_rows_set(sets: Vec<super::Fetched>) -> Vec<super::Fetched> {
    sets.into_iter().last().into_iter().collect()
}

fn schema(session: &mut SqlServerDriver, database: &str) -> Result<Option<String>> {
    let row = last_rows(session.fetch(&server_sql::schema_state(database))?)
        .into_iter()
        .next()
        .unwrap_or_default();
    Ok(Some(format!("{row:?}")))
}

impl WriteMark for ChangeTrackingMark {
    fn written(&mut self, copied: &[(ObjectName, u64)]) -> Result<WrittenSince> {
        let mut session = SqlServerDriver::connect(&with_database(&self.conn, "master"))?;
        if schema(&mut session, &self.database)? != self.schema {
            return Ok(WrittenSince::Schema(
                "its schema changed (sys.objects)".into(),
            ));
        }
        let tables: Vec<ObjectName> = copied.iter().map(|(t, _)| t.clone()).collect();
        let written = names_in_first_column(session.fetch(
            &server_sql::change_tracking_written(&self.database, &tables, self.version),
        )?);
        if written.is_empty() {
            return Ok(WrittenSince::Nothing);
        }
        let names: Vec<String> = written.iter().map(ToString::to_string).collect();
        Ok(WrittenSince::Rows {
            why: format!(
                "{} table(s) written while copied (Change Tracking): {}",
                written.len(),
                names.join(", ")
            ),
            tables: Some(written),
        })
    }

    fn since(&self) -> String {
        format!("{SINCE}{}", self.version)
    }
}

/// One table's catch-up on `session` (a copier's): the keys Change Tracking names since `since`
/// (`ct:<version>`) merged from `from` into `to`. The merge's row count is every row it
/// inserted, updated or deleted (reported as upserted).
pub(super) fn catch_up(
    session: &mut SqlServerDriver,
    (from, to): (&str, &str),
    table: &TableCopy,
    identity: bool,
    since: &str,
) -> Result<CaughtUp> {
    let version = since
        .strip_prefix(SINCE)
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{}: no Change Tracking mark to catch up from ({since:?})",
                table.source
            ))
        })?;
    // As the copy does: columns no INSERT may name are left to the server.
    let unwritable: Vec<String> =
        last_rows(session.fetch(&server_sql::unwritable_columns(to, table))?)
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .filter_map(|cell| match cell {
                Cell::Text(t) => Some(t),
                _ => None,
            })
            .collect();
    let mut writable = table.clone();
    writable.columns.retain(|(_, d)| !unwritable.contains(d));
    let sql = server_sql::change_tracking_catch_up(from, to, &writable, version, identity);
    let row = last_rows(
        session
            .fetch(&sql)
            .map_err(|e| e.in_context(&format!("catching up {}: ", table.source)))?,
    )
    .into_iter()
    .next()
    .unwrap_or_default();
    crate::fault::point("copy.catch-up");
    let value = |i: usize| match row.get(i) {
        Some(Cell::Text(t)) => Some(t.clone()),
        _ => None,
    };
    Ok(CaughtUp {
        upserted: number(value(1)),
        deleted: 0,
        next: format!("{SINCE}{}", number(value(0)).max(version)),
        merged_whole: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_tracking_is_chosen_only_where_the_database_its_tables_and_snapshots_allow_it() {
        let why = |r: std::result::Result<String, String>| r.unwrap_err();
        assert!(why(choose(false, 0, true)).contains("Change Tracking is off"));
        assert!(why(choose(true, 2, true)).contains("not for 2 of its tables"));
        assert!(why(choose(true, 0, false)).contains("snapshot isolation"));
        assert!(
            choose(true, 0, true)
                .expect("chosen")
                .starts_with("Change Tracking")
        );
    }
}
