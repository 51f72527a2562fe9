use std::time::Duration;

use super::*;
use crate::compare::{CompareOptions, compare};
use crate::driver::Registry;
use crate::model::{Dsp, kind};
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus};
use crate::source::generic::{finish, parse_batch};

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.db");
    (dir, path)
}

/// A new database file in a temporary directory, opened; the directory lives as long as the guard.
fn new_db() -> (tempfile::TempDir, SqliteDriver) {
    let (dir, path) = temp_db();
    let db = SqliteDriver::open(&path, true).expect("open");
    (dir, db)
}

fn built(sql: &str) -> Model {
    let mut elements = parse_batch(Platform::Sqlite, sql, Path::new("x.sql"), 1).expect("parse");
    finish(Platform::Sqlite, &mut elements);
    let mut model = Model::empty(Dsp::from_short_name("sqlite").expect("dsp"));
    model.elements = elements;
    model.sort_elements();
    model
}

const SCHEMA: &str = "CREATE TABLE p (id INTEGER PRIMARY KEY AUTOINCREMENT, name varchar(20) NOT NULL DEFAULT 'x' UNIQUE);
CREATE TABLE c (id integer, p_id integer REFERENCES p(id) ON DELETE CASCADE, CHECK (id > 0), PRIMARY KEY (id)) WITHOUT ROWID;
CREATE INDEX ix_c ON c (p_id DESC);
CREATE VIEW v AS SELECT id FROM p;
CREATE TRIGGER tr AFTER INSERT ON p BEGIN INSERT INTO c VALUES (new.id, new.id); END;";

#[test]
fn inspect_matches_build_of_the_same_ddl() {
    let (_dir, mut db) = new_db();
    db.execute(SCHEMA).expect("schema");
    let live = db.inspect().expect("inspect");
    let diff = compare(&live, &built(SCHEMA), &CompareOptions::default());
    assert!(diff.is_empty(), "{:#?}", diff.changes);
    assert_eq!(live.of_kind(kind::TABLE).count(), 2);
    // dac's own objects and SQLite's are left out.
    db.execute("CREATE TABLE _dac_x (a)").expect("dac table");
    let again = db.inspect().expect("inspect");
    assert!(compare(&again, &live, &CompareOptions::default()).is_empty());
}

#[test]
fn inspect_keeps_a_virtual_table_and_leaves_out_its_shadow_tables() {
    let (_dir, mut db) = new_db();
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE VIRTUAL TABLE docs USING fts5(body);",
    )
    .expect("schema");
    let shadows = db
        .rows("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'")
        .expect("shadow tables");
    assert!(
        !shadows.is_empty(),
        "fts5 made no shadow tables to leave out"
    );
    let live = db.inspect().expect("inspect");
    let names: Vec<String> = live
        .elements
        .iter()
        .map(|e| e.name_or_empty().to_string())
        .collect();
    assert!(names.contains(&"[main].[docs]".to_string()), "{names:?}");
    assert!(names.contains(&"[main].[t]".to_string()), "{names:?}");
    assert!(
        names.iter().all(|n| !n.starts_with("[main].[docs_")),
        "shadow tables inspected: {names:?}"
    );
}

#[test]
fn open_without_create_refuses_a_missing_file() {
    let (_dir, path) = temp_db();
    let err = SqliteDriver::open(&path, false).expect_err("missing file");
    assert!(err.to_string().contains("no such database file"), "{err}");
}

#[test]
fn errors_name_the_statement_and_position() {
    let (_dir, mut db) = new_db();
    let sql = "CREATE TABLE a (x);\nCREATE TABLE b (y,, z);";
    let err = db.execute(sql).expect_err("syntax error");
    match err {
        Error::Driver {
            backend,
            message,
            statement,
            ..
        } => {
            assert_eq!(backend, "sqlite");
            assert!(message.contains("line 2"), "{message}");
            assert_eq!(statement.as_deref(), Some(sql));
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn query_has_rows_and_server_info() {
    let (_dir, mut db) = new_db();
    db.execute("CREATE TABLE t (a, b); INSERT INTO t VALUES (1, NULL), ('x', X'0A')")
        .expect("data");
    let t = ObjectName::new(["main", "t"]);
    assert!(db.has_rows(&t).expect("has rows"));
    let rows = db
        .query("SELECT a, b FROM t ORDER BY rowid")
        .expect("query");
    assert_eq!(
        rows,
        vec![
            vec![Some("1".into()), None],
            vec![Some("x".into()), Some("X'0A'".into())]
        ]
    );
    db.execute("DELETE FROM t").expect("delete");
    assert!(!db.has_rows(&t).expect("has rows"));
    assert!(db.server_info().expect("info").version.starts_with('3'));
}

#[test]
fn foreign_key_check_names_the_tables() {
    let (_dir, mut db) = new_db();
    db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p_id REFERENCES p(id))")
        .expect("schema");
    db.check_foreign_keys().expect("no violations");
    db.foreign_keys_off().expect("off");
    db.execute("INSERT INTO c VALUES (7)").expect("orphan");
    let err = db.check_foreign_keys().expect_err("violation");
    assert!(err.to_string().contains("c -> p"), "{err}");
    db.foreign_keys_on().expect("on");
    assert!(db.execute("INSERT INTO c VALUES (8)").is_err());
    // The switch refuses to run inside a transaction, where SQLite would ignore it.
    db.begin().expect("begin");
    assert!(db.foreign_keys_off().is_err());
    db.rollback().expect("rollback");
}

#[test]
fn second_lock_waits_then_is_refused() {
    let (_dir, path) = temp_db();
    let mut a = SqliteDriver::open(&path, true).expect("open a");
    let mut b = SqliteDriver::open(&path, false).expect("open b");
    a.lock(Duration::ZERO).expect("lock a");
    let started = std::time::Instant::now();
    let err = b
        .lock(Duration::from_millis(200))
        .expect_err("b is refused");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(matches!(err, Error::Blocked { .. }), "{err}");
    assert!(err.to_string().contains("another dac run"), "{err}");
    a.unlock().expect("unlock a");
    b.lock(Duration::ZERO).expect("lock b after a released it");
    b.unlock().expect("unlock b");
}

#[test]
fn a_history_written_before_durations_reads_and_gains_the_column() {
    let (_dir, mut driver) = new_db();
    // The registry as dac wrote it before it recorded durations.
    driver
        .conn
        .execute_batch(
            "CREATE TABLE \"_dac_registry\" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, definition BLOB NOT NULL, model_hash TEXT NOT NULL, registered_by TEXT NOT NULL, registered_at TEXT NOT NULL);
             CREATE TABLE \"_dac_history\" (action_id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, status TEXT NOT NULL, name TEXT NOT NULL, version_before TEXT, version_after TEXT, at TEXT NOT NULL, by TEXT NOT NULL, message TEXT NOT NULL);
             INSERT INTO \"_dac_history\" (action, status, name, version_after, at, by, message) VALUES ('deploy', 'success', 'app', '1.0.0', '2026-01-01T00:00:00Z', 'ops', '');",
        )
        .unwrap();
    let old = driver.history().unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].duration_ms, None);
    let mut entry = HistoryEntry::now(HistoryAction::Upgrade, HistoryStatus::Success, "app");
    entry.duration_ms = Some(42);
    driver.append_history(&entry).unwrap();
    let both = driver.history().unwrap();
    assert_eq!(both[0].duration_ms, None);
    assert_eq!(both[1].duration_ms, Some(42));
}

#[test]
fn a_history_row_with_an_action_dac_does_not_know_is_an_error_naming_it() {
    let (_dir, mut driver) = new_db();
    let entry = HistoryEntry::now(HistoryAction::Upgrade, HistoryStatus::Success, "app");
    driver.append_history(&entry).unwrap();
    driver
        .conn
        .execute_batch("UPDATE \"_dac_history\" SET action = 'migrate'")
        .unwrap();
    let error = driver.history().unwrap_err().to_string();
    assert!(error.contains("\"migrate\""), "{error}");
    driver
        .conn
        .execute_batch("UPDATE \"_dac_history\" SET action = 'upgrade', status = 'partial'")
        .unwrap();
    let error = driver.history().unwrap_err().to_string();
    assert!(error.contains("\"partial\""), "{error}");
}
