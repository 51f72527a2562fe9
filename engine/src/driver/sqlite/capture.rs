//! Change capture for the catch-up of an early copy: SQLite has no change stream another
//! process could read, but triggers stored in the database fire for every connection of every
//! process that writes. Before the copy, each ordinary table of the original gets a log table
//! (`_dac_capture:<table>`: a sequence number and the table's primary-key columns, untyped so a
//! value is kept as stored) and `AFTER INSERT/UPDATE/DELETE` triggers that record the keys a
//! write touches (an update: the old key and the new one). A table without a primary key logs
//! only that it was written. Each catch-up then carries only the logged keys: the row re-read
//! from the original by key (so the copy's conversions apply and a key logged twice is
//! harmless) written again, or deleted where the original no longer has it.
//!
//! Every object is named `_dac_capture:...` (dac's own `_dac_` prefix, left out of inspection
//! and of the copy). They are made in one transaction, journalled before (the change stream of
//! the side-by-side journal), and dropped on every path: under the writer hold, in its
//! transaction (committed when the hold is sealed), or by the undo and `dac recover`.
//!
//! What triggers do not see: a row deleted by `REPLACE` on a conflict of another unique
//! constraint (delete triggers fire for those only under `recursive_triggers`), and blobs
//! written through the incremental blob API. A catch-up that found logged keys therefore
//! compares the row counts of the two copies, and merges the table whole where they differ or
//! where the logged rows do not go in (a unique value the unseen delete freed).

use rusqlite::{Connection, OptionalExtension};

use super::{driver_error, quote};
use crate::Result;
use crate::driver::server::{CaughtUp, TableCopy};

/// A catch-up's column lists: the new table's columns, and the original's as `dac_src.<c>`,
/// in the same order.
pub(super) fn catch_up_columns(table: &TableCopy) -> (Vec<String>, Vec<String>) {
    let destinations = table.columns.iter().map(|(_, d)| quote(d)).collect();
    let sources = table
        .columns
        .iter()
        .map(|(s, _)| format!("dac_src.{}", quote(s)))
        .collect();
    (destinations, sources)
}

/// The change stream's name in the side-by-side journal.
pub(super) const STREAM: &str = "_dac_capture";

/// What every capture object's name starts with.
const PREFIX: &str = "_dac_capture:";

/// The log's sequence column.
const SEQ: &str = "_dac_seq";

/// The start of a table's catch-up from its log: `log:<last sequence number carried>`.
const SINCE: &str = "log:";

/// The mark a first catch-up over a captured table starts from.
pub(super) fn first_since() -> String {
    format!("{SINCE}0")
}

/// The log table of `table`.
fn log_table(table: &str) -> String {
    format!("{PREFIX}{table}")
}

fn run(conn: &Connection, sql: &str) -> Result<()> {
    conn.execute_batch(sql)
        .map_err(|e| driver_error(&e, Some(sql)))
}

fn strings(conn: &Connection, sql: &str, param: &str) -> Result<Vec<String>> {
    let mut statement = conn.prepare(sql).map_err(|e| driver_error(&e, Some(sql)))?;
    let rows = statement
        .query_map([param], |r| r.get::<_, String>(0))
        .map_err(|e| driver_error(&e, Some(sql)))?;
    rows.collect::<rusqlite::Result<Vec<String>>>()
        .map_err(|e| driver_error(&e, Some(sql)))
}

/// Makes the log tables and triggers on every ordinary table of `conn`'s main database, in one
/// transaction (waiting for writers through the busy timeout); returns how many tables are
/// captured.
pub(super) fn create(conn: &Connection) -> Result<usize> {
    let tables = strings(
        conn,
        "SELECT name FROM pragma_table_list WHERE schema = ?1 AND type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_dac\\_%' ESCAPE '\\' \
         ORDER BY name",
        "main",
    )?;
    run(conn, "BEGIN IMMEDIATE")?;
    let made = (|| -> Result<()> {
        for table in &tables {
            let keys = strings(
                conn,
                "SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk",
                table,
            )?;
            // A key column named like the log's own column: logged as a table without a key.
            let keys = if keys.iter().any(|k| k.eq_ignore_ascii_case(SEQ)) {
                Vec::new()
            } else {
                keys
            };
            run(conn, &create_statements(table, &keys))?;
        }
        Ok(())
    })();
    match made {
        Ok(()) => {
            run(conn, "COMMIT")?;
            crate::fault::point("capture.made");
            Ok(tables.len())
        }
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(err)
        }
    }
}

/// The log table of `table` and its three triggers, recording `keys` (none: only that the table
/// was written).
fn create_statements(table: &str, keys: &[String]) -> String {
    let log = quote(&log_table(table));
    let columns: Vec<String> = keys.iter().map(|k| quote(k)).collect();
    let values = |row: &str| -> String {
        if keys.is_empty() {
            "(NULL)".into()
        } else {
            let values: Vec<String> = columns.iter().map(|c| format!("{row}.{c}")).collect();
            format!("({})", values.join(", "))
        }
    };
    let into = if keys.is_empty() {
        format!("INSERT INTO {log} ({})", quote(SEQ))
    } else {
        format!("INSERT INTO {log} ({})", columns.join(", "))
    };
    let trigger = |event: &str, rows: &str| {
        format!(
            "CREATE TRIGGER {} AFTER {event} ON {} BEGIN {into} VALUES {rows}; END;\n",
            quote(&format!("{PREFIX}{table}:{}", event.to_ascii_lowercase())),
            quote(table)
        )
    };
    let mut sql = format!(
        "CREATE TABLE {log} ({} INTEGER PRIMARY KEY{});\n",
        quote(SEQ),
        columns.iter().map(|c| format!(", {c}")).collect::<String>()
    );
    sql.push_str(&trigger("INSERT", &values("NEW")));
    sql.push_str(&trigger(
        "UPDATE",
        &format!("{}, {}", values("OLD"), values("NEW")),
    ));
    sql.push_str(&trigger("DELETE", &values("OLD")));
    sql
}

/// The capture objects of `conn`'s main database (triggers first), as `DROP` statements; empty
/// where there are none.
pub(super) fn drop_statements(conn: &Connection) -> Result<String> {
    let sql = "SELECT type, name FROM main.sqlite_schema WHERE name LIKE ?1 ESCAPE '\\' \
               AND type IN ('trigger', 'table') ORDER BY type = 'table', name";
    let mut statement = conn.prepare(sql).map_err(|e| driver_error(&e, Some(sql)))?;
    let pattern = format!("{}%", PREFIX.replace('_', "\\_"));
    let objects = statement
        .query_map([pattern], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(|e| driver_error(&e, Some(sql)))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| driver_error(&e, Some(sql)))?;
    Ok(objects
        .iter()
        .map(|(kind, name)| {
            let kind = if kind == "trigger" {
                "TRIGGER"
            } else {
                "TABLE"
            };
            format!("DROP {kind} IF EXISTS main.{};\n", quote(name))
        })
        .collect())
}

/// Whether `table` (a table of the original) was written since its capture began; `None` where
/// it has no capture.
pub(super) fn written(conn: &Connection, table: &str) -> Result<Option<bool>> {
    let log = log_table(table);
    let exists = strings(
        conn,
        "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name = ?1",
        &log,
    )?;
    if exists.is_empty() {
        return Ok(None);
    }
    let sql = format!("SELECT EXISTS (SELECT 1 FROM main.{})", quote(&log));
    conn.query_row(&sql, [], |r| r.get::<_, bool>(0))
        .map(Some)
        .map_err(|e| driver_error(&e, Some(&sql)))
}

/// How one table's catch-up reads its log: pairs of (log column, source column, destination
/// column), one per key column.
struct Logged {
    log: String,
    keys: Vec<(String, String, String)>,
}

/// The log of `table` in the attached original (`src`) where a catch-up from `since` can use
/// it: the log exists and records exactly the source columns of the copy's key.
fn logged(conn: &Connection, table: &TableCopy, since: &str) -> Result<Option<(Logged, i64)>> {
    let Some(from) = since
        .strip_prefix(SINCE)
        .and_then(|s| s.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    let log = log_table(table.source.leaf());
    let columns = strings(
        conn,
        "SELECT name FROM pragma_table_info(?1, 'src') ORDER BY cid",
        &log,
    )?;
    if columns.is_empty() {
        return Ok(None);
    }
    let mut keys = Vec::new();
    for column in columns.iter().filter(|c| !c.eq_ignore_ascii_case(SEQ)) {
        let Some((source, destination)) = table
            .columns
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(column))
        else {
            return Ok(None);
        };
        if !table.key.contains(destination) {
            return Ok(None);
        }
        keys.push((column.clone(), source.clone(), destination.clone()));
    }
    if keys.is_empty() || keys.len() != table.key.len() {
        return Ok(None);
    }
    Ok(Some((Logged { log, keys }, from)))
}

/// The statements of one catch-up from a log, between sequence numbers `from` (exclusive) and
/// `to` (inclusive): the logged rows the original no longer has deleted (counted), the others
/// deleted too, then inserted again as the original holds them (counted). Deleting every
/// logged row before inserting lets writes that swapped unique values between rows land
/// without a transient conflict.
fn apply_statements(table: &TableCopy, logged: &Logged, from: i64, to: i64) -> [String; 3] {
    let log = format!("src.{}", quote(&logged.log));
    let source = format!("src.{}", quote(table.source.leaf()));
    let destination = format!("main.{}", quote(table.destination.leaf()));
    let range = format!("{} > {from} AND {} <= {to}", quote(SEQ), quote(SEQ));
    let log_columns: Vec<String> = logged.keys.iter().map(|(l, _, _)| quote(l)).collect();
    let destination_keys: Vec<String> = logged.keys.iter().map(|(_, _, d)| quote(d)).collect();
    let in_source = logged
        .keys
        .iter()
        .map(|(l, s, _)| format!("dac_src.{} = dac_log.{}", quote(s), quote(l)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let delete = |gone: bool| {
        format!(
            "DELETE FROM {destination} WHERE ({}) IN (SELECT {} FROM {log} AS dac_log WHERE {range} \
             AND {}EXISTS (SELECT 1 FROM {source} AS dac_src WHERE {in_source}))",
            destination_keys.join(", "),
            log_columns
                .iter()
                .map(|c| format!("dac_log.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            if gone { "NOT " } else { "" }
        )
    };
    let found = logged
        .keys
        .iter()
        .map(|(l, s, _)| format!("dac_src.{} = dac_keys.{}", quote(s), quote(l)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let (destinations, sources) = catch_up_columns(table);
    // The logged keys drive the join (CROSS JOIN keeps them outside): each finds its row
    // through the original's key index.
    let insert = format!(
        "INSERT INTO {destination} ({}) SELECT {} FROM (SELECT DISTINCT {} FROM {log} WHERE {range}) \
         AS dac_keys CROSS JOIN {source} AS dac_src ON {found}",
        destinations.join(", "),
        sources.join(", "),
        log_columns.join(", "),
    );
    [delete(true), delete(false), insert]
}

/// A catch-up from the log, in the copier's open transaction (`conn`: the new database with the
/// original attached as `src`): `None` where the table has no usable log (the caller merges).
/// `after_upsert` checks the copy's conversions. Returns what moved, and whether the two copies'
/// row counts now differ (a write the triggers did not see; the caller merges).
pub(super) fn apply(
    conn: &Connection,
    table: &TableCopy,
    since: &str,
    after_upsert: &dyn Fn(&str) -> Result<()>,
) -> Result<Option<(CaughtUp, bool)>> {
    let Some((logged, from)) = logged(conn, table, since)? else {
        return Ok(None);
    };
    let last = format!("SELECT max({}) FROM src.{}", quote(SEQ), quote(&logged.log));
    let to: Option<i64> = conn
        .query_row(&last, [], |r| r.get(0))
        .optional()
        .map_err(|e| driver_error(&e, Some(&last)))?
        .flatten();
    let to = to.unwrap_or(from).max(from);
    let mut caught = CaughtUp {
        next: format!("{SINCE}{to}"),
        ..CaughtUp::default()
    };
    if to == from {
        return Ok(Some((caught, false)));
    }
    let [gone, rewritten, insert] = apply_statements(table, &logged, from, to);
    caught.deleted = conn
        .execute(&gone, [])
        .map_err(|e| driver_error(&e, Some(&gone)))? as u64;
    crate::fault::point("copy.catch-up");
    conn.execute(&rewritten, [])
        .map_err(|e| driver_error(&e, Some(&rewritten)))?;
    caught.upserted = conn
        .execute(&insert, [])
        .map_err(|e| driver_error(&e, Some(&insert)))? as u64;
    if caught.upserted > 0 {
        after_upsert(&insert)?;
    }
    let counts = format!(
        "SELECT (SELECT count(*) FROM src.{}) <> (SELECT count(*) FROM main.{})",
        quote(table.source.leaf()),
        quote(table.destination.leaf())
    );
    let differ: bool = conn
        .query_row(&counts, [], |r| r.get(0))
        .map_err(|e| driver_error(&e, Some(&counts)))?;
    Ok(Some((caught, differ)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectName;

    #[test]
    fn capture_objects_are_quoted_and_prefixed() {
        let sql = create_statements("order \"lines\"", &["id".into(), "line no".into()]);
        assert!(sql.contains("CREATE TABLE \"_dac_capture:order \"\"lines\"\"\" (\"_dac_seq\" INTEGER PRIMARY KEY, \"id\", \"line no\")"), "{sql}");
        assert!(sql.contains("CREATE TRIGGER \"_dac_capture:order \"\"lines\"\":update\" AFTER UPDATE ON \"order \"\"lines\"\"\" BEGIN INSERT INTO \"_dac_capture:order \"\"lines\"\"\" (\"id\", \"line no\") VALUES (OLD.\"id\", OLD.\"line no\"), (NEW.\"id\", NEW.\"line no\"); END;"), "{sql}");
        let keyless = create_statements("t", &[]);
        assert!(
            keyless.contains("INSERT INTO \"_dac_capture:t\" (\"_dac_seq\") VALUES (NULL);"),
            "{keyless}"
        );
    }

    /// Real triggers in a real file: every write is logged, the catch-up carries exactly the
    /// logged rows (a delete, an update that moves a key, an insert), and nothing is left once
    /// the capture is dropped.
    #[test]
    fn a_catch_up_from_the_log_carries_the_written_rows_and_the_drop_leaves_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let original = dir.path().join("a.db");
        let new = dir.path().join("b.db");
        let conn = Connection::open(&original).expect("open");
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE k (x TEXT);
             INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )
        .expect("schema");
        assert_eq!(create(&conn).expect("capture"), 2);
        let copy = Connection::open(&new).expect("open");
        copy.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )
        .expect("copy");
        conn.execute_batch(
            "DELETE FROM t WHERE id = 1; UPDATE t SET id = 20 WHERE id = 2; INSERT INTO t VALUES (4, 'd'); \
             UPDATE t SET v = 'C' WHERE id = 3; INSERT INTO k VALUES ('x');",
        )
        .expect("writes");
        assert_eq!(written(&conn, "t").expect("t"), Some(true));
        assert_eq!(written(&conn, "k").expect("k"), Some(true));
        assert_eq!(written(&conn, "none").expect("none"), None);
        copy.execute_batch(&format!("ATTACH DATABASE '{}' AS src", original.display()))
            .expect("attach");
        let table = TableCopy {
            source: ObjectName::new(["t"]),
            destination: ObjectName::new(["t"]),
            columns: vec![("id".into(), "id".into()), ("v".into(), "v".into())],
            same_types: true,
            converted: Vec::new(),
            key: vec!["id".into()],
        };
        let (caught, differ) = apply(&copy, &table, &first_since(), &|_| Ok(()))
            .expect("apply")
            .expect("a log");
        assert!(!differ);
        assert_eq!(caught.deleted, 2, "1, and 2 moved to 20");
        assert_eq!(caught.upserted, 3, "20, 3, 4");
        let rows: Vec<(i64, String)> = copy
            .prepare("SELECT id, v FROM main.t ORDER BY id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(
            rows,
            vec![(3, "C".into()), (4, "d".into()), (20, "b".into())]
        );
        // Nothing new since: nothing moves.
        let (again, _) = apply(&copy, &table, &caught.next, &|_| Ok(()))
            .expect("apply")
            .expect("a log");
        assert_eq!((again.upserted, again.deleted), (0, 0));
        copy.execute_batch("DETACH DATABASE src").expect("detach");
        let drops = drop_statements(&conn).expect("drops");
        assert!(drops.starts_with("DROP TRIGGER"), "{drops}");
        conn.execute_batch(&drops).expect("drop");
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_dac\\_capture%' ESCAPE '\\'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(left, 0);
        assert_eq!(drop_statements(&conn).expect("drops"), "");
    }
}
