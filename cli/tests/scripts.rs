//! Scripts `dac script` writes, run with the platform's own client (`sqlite3`) as a DBA would:
//! the first error stops the script and leaves the database as it was. PostgreSQL's `psql` is
//! proved in the `tests` crate, which has a throwaway server.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{build_sqlite_schema, dac};

/// Runs `sqlite3 DB < script`, as the user did; fails loudly where the shell is missing.
fn sqlite3(db: &Path, script: &str) -> (i32, String) {
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("NOT RUN: the sqlite3 shell is needed (apt-get install sqlite3): {e}")
        });
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The schema as SQLite stores it, and every row of `users`.
fn state(db: &Path) -> (Vec<String>, Vec<String>) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut schema = conn
        .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    let schema: Vec<String> = schema
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut rows = conn.prepare("SELECT * FROM users ORDER BY id").unwrap();
    let n = rows.column_count();
    let rows: Vec<String> = rows
        .query_map([], |r| {
            let values: Vec<String> = (0..n)
                .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                .collect();
            Ok(values.join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (schema, rows)
}

const V1: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, fax TEXT);\n";

#[test]
fn a_sqlite_script_stops_at_a_failed_guard_in_the_sqlite3_shell() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_sqlite_schema(dir.path(), "1.0.0", V1);
    let db = dir.path().join("d.db");
    let target = format!("sqlite:{}", db.display());
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &target, "--in-place"],
    )
    .expect_code(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("INSERT INTO users VALUES (1, 'Ada', '555')")
        .unwrap();
    drop(conn);
    let before = state(&db);

    // v2 drops fax, which holds data: the guard fails and the shell must not COMMIT.
    let v2 = build_sqlite_schema(
        dir.path(),
        "2.0.0",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);\n",
    );
    let script = dac(dir.path(), &["script", &v2, "--target", &target]);
    script.expect_code(0);
    assert!(
        script.stdout.contains("DROP COLUMN \"fax\""),
        "{}",
        script.stdout
    );
    let (code, stderr) = sqlite3(&db, &script.stdout);
    assert_ne!(code, 0, "sqlite3 went on after the failed guard: {stderr}");
    assert!(stderr.contains("rows were detected"), "{stderr}");
    assert_eq!(state(&db), before, "the failed script changed the database");

    // A script with nothing to refuse applies with the same client.
    let v3 = build_sqlite_schema(
        dir.path(),
        "3.0.0",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, fax TEXT, email TEXT);\n",
    );
    let script = dac(dir.path(), &["script", &v3, "--target", &target]);
    script.expect_code(0);
    let (code, stderr) = sqlite3(&db, &script.stdout);
    assert_eq!(code, 0, "{stderr}\n{}", script.stdout);
    let (_, rows) = state(&db);
    assert_eq!(rows, ["Integer(1)|Text(\"Ada\")|Text(\"555\")|Null"]);
}

#[test]
fn a_sqlite_rebuild_script_stops_at_violated_foreign_keys_in_the_sqlite3_shell() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_sqlite_schema(
        dir.path(),
        "1.0.0",
        "CREATE TABLE teams (id INTEGER PRIMARY KEY);\nCREATE TABLE users (id INTEGER PRIMARY KEY, team_id INTEGER);\n",
    );
    let db = dir.path().join("d.db");
    let target = format!("sqlite:{}", db.display());
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &target, "--in-place"],
    )
    .expect_code(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("INSERT INTO users VALUES (1, 42)")
        .unwrap();
    drop(conn);
    let before = state(&db);
    // A foreign key SQLite can only add by rebuilding the table; user 1's team does not exist.
    let v2 = build_sqlite_schema(
        dir.path(),
        "2.0.0",
        "CREATE TABLE teams (id INTEGER PRIMARY KEY);\nCREATE TABLE users (id INTEGER PRIMARY KEY, team_id INTEGER REFERENCES teams (id));\n",
    );
    let script = dac(dir.path(), &["script", &v2, "--target", &target]);
    script.expect_code(0);
    assert!(
        script.stdout.contains("PRAGMA foreign_keys = OFF"),
        "{}",
        script.stdout
    );
    let (code, stderr) = sqlite3(&db, &script.stdout);
    assert_ne!(code, 0, "sqlite3 committed violated foreign keys: {stderr}");
    assert!(stderr.contains("foreign keys are violated"), "{stderr}");
    assert_eq!(state(&db), before, "the failed script changed the database");
}
