//! Live SQLite: the sqldef `sqlite3def` conformance cases run through dac's plan, script and
//! upgrade on real database files, plus all-or-nothing upgrades and the upgrade lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use dac_engine::Error;
use dac_engine::compare::{CompareOptions, compare};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::{Driver, SqliteDriver};
use dac_engine::model::Platform;
use dac_engine::plan::{PlanOptions, plan};
use dac_engine::script::{Batch, render};
use dac_engine::upgrade;
use dac_tests::conformance::{Case, Outcome, describe, model_of, run_case, sqldef_cases};

/// Cases known to fail, with the reason. The test fails when one of them passes (remove it) or
/// when a case not listed here fails.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn fresh(dir: &Path, n: usize) -> SqliteDriver {
    SqliteDriver::open(&dir.join(format!("case{n}.db")), true).expect("open sqlite database")
}

#[test]
fn sqlite3def_conformance_on_real_sqlite() {
    let Some(shared) = dac_tests::shared_dir("sqlite live conformance") else {
        return;
    };
    let cases = sqldef_cases(&shared.join("conformance/sqldef/cmd/sqlite3def")).expect("cases");
    let dir = tempfile::tempdir().expect("temp dir");
    let known: BTreeMap<&str, &str> = KNOWN_FAILURES.iter().copied().collect();
    let mut passed = 0;
    let mut total = Outcome::default();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let mut driver = fresh(dir.path(), n);
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(&mut driver, case)))
                .unwrap_or_else(|_| Err("PANIC".into()));
        if let Ok(outcome) = &result {
            total.statements += outcome.statements;
            total.tables_with_rows += outcome.tables_with_rows;
        }
        match (&result, known.get(case.name.as_str())) {
            (Ok(_), None) => passed += 1,
            (Ok(_), Some(_)) => {
                passed += 1;
                fixed.push(case.name.clone());
            }
            (Err(e), None) => {
                println!("FAIL {}: {e}\n", case.name);
                unexpected.push(case.name.clone());
            }
            (Err(e), Some(reason)) => {
                let first = e.lines().next().unwrap_or("");
                println!("known failure {} ({reason}): {first}", case.name);
            }
        }
    }
    dac_tests::summary(&format!(
        "conformance sqlite3def: {passed}/{} passed",
        cases.len()
    ));
    println!(
        "  {} statements run; rows kept through both upgrades in {} tables",
        total.statements, total.tables_with_rows
    );
    assert!(total.statements >= 150 && total.tables_with_rows >= 20);
    assert_eq!(cases.len(), 65, "number of sqlite3def cases changed");
    assert!(unexpected.is_empty(), "unexpected failures: {unexpected:?}");
    assert!(fixed.is_empty(), "known failures that pass now: {fixed:?}");
}

/// dac's own live cases: changes that need SQLite's table rebuild, with dependants.
const OWN_CASES: &[(&str, &str, &str)] = &[
    (
        "RebuildReferencedTableKeepsChildRows",
        "CREATE TABLE p (id INTEGER PRIMARY KEY, name text);
CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p(id) ON DELETE CASCADE);
CREATE TABLE k (a integer);",
        "CREATE TABLE p (id INTEGER PRIMARY KEY, name varchar(10) NOT NULL DEFAULT 'n');
CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p(id) ON DELETE CASCADE);
CREATE TABLE k (a integer);",
    ),
    (
        "RebuildWithIndexViewTrigger",
        "CREATE TABLE t (a integer, b text, c real);
CREATE INDEX ix_t_b ON t (b);
CREATE UNIQUE INDEX ux_t_a ON t (a) WHERE a > 0;
CREATE VIEW v AS SELECT a, b FROM t;
CREATE TABLE log (m text);
CREATE TRIGGER tr_t AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.b); END;",
        "CREATE TABLE t (a integer NOT NULL, b text COLLATE NOCASE, c real CHECK (c >= 0));
CREATE INDEX ix_t_b ON t (b DESC);
CREATE UNIQUE INDEX ux_t_a ON t (a) WHERE a > 0;
CREATE VIEW v AS SELECT a, b FROM t;
CREATE TABLE log (m text);
CREATE TRIGGER tr_t AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.b); END;",
    ),
    (
        "AutoincrementStrictWithoutRowid",
        "CREATE TABLE a (id integer PRIMARY KEY, v text);
CREATE TABLE b (k text PRIMARY KEY, v integer);",
        "CREATE TABLE a (id integer PRIMARY KEY AUTOINCREMENT, v text);
CREATE TABLE b (k text PRIMARY KEY, v integer) STRICT, WITHOUT ROWID;",
    ),
    (
        "GeneratedColumnsAndNamedConstraints",
        "CREATE TABLE g (a integer, b integer);",
        "CREATE TABLE g (a integer, b integer, s integer GENERATED ALWAYS AS (a + b) VIRTUAL,
  CONSTRAINT ck_g CHECK (a <> b), CONSTRAINT uq_g UNIQUE (a, b));",
    ),
    (
        "CompositeForeignKeyAddedAndDropped",
        "CREATE TABLE p (x integer, y integer, PRIMARY KEY (x, y));
CREATE TABLE c (x integer, y integer, z text);",
        "CREATE TABLE p (x integer, y integer, PRIMARY KEY (x, y));
CREATE TABLE c (x integer, y integer, z text, FOREIGN KEY (x, y) REFERENCES p (x, y) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED);",
    ),
    (
        "QuotedAndMixedCaseNames",
        "CREATE TABLE \"Order Items\" (\"Id\" integer PRIMARY KEY, \"Qty\" integer);",
        "CREATE TABLE \"Order Items\" (\"Id\" integer PRIMARY KEY, \"Qty\" integer DEFAULT 1, \"Note\" text);
CREATE INDEX \"ix Order\" ON \"Order Items\" (\"Qty\");",
    ),
    (
        "DropIndexedColumnAndChangeDefault",
        "CREATE TABLE t (a integer, b text DEFAULT 'x', c integer);
CREATE INDEX ix_t_c ON t (c);
CREATE TABLE u (k integer);",
        "CREATE TABLE t (a integer, b text DEFAULT 'y');
CREATE TABLE u (k integer, n integer NOT NULL DEFAULT 0);",
    ),
    (
        "OnConflictClausesReachTheLiveTable",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, b text UNIQUE, c text NOT NULL);
CREATE TABLE u (a text, b text, UNIQUE (a, b));",
        "CREATE TABLE t (id INTEGER PRIMARY KEY ON CONFLICT REPLACE, b text UNIQUE ON CONFLICT IGNORE, c text NOT NULL ON CONFLICT FAIL);
CREATE TABLE u (a text, b text, CONSTRAINT u_ab UNIQUE (a, b) ON CONFLICT REPLACE);
CREATE TABLE v (id integer PRIMARY KEY ON CONFLICT IGNORE AUTOINCREMENT, x text);",
    ),
    (
        "ExpressionIndexes",
        "CREATE TABLE t (a text, b text);
CREATE INDEX t_a ON t (a);",
        "CREATE TABLE t (a text, b text);
CREATE INDEX t_a ON t (lower(a));
CREATE INDEX t_ab ON t (b COLLATE NOCASE, lower(a) DESC, a || b);",
    ),
    (
        "ViewOverRebuiltTable",
        "CREATE TABLE t (a integer, b text);
CREATE VIEW v AS SELECT a FROM t;
CREATE VIEW w AS SELECT a FROM v;",
        "CREATE TABLE t (a integer PRIMARY KEY, b text NOT NULL);
CREATE VIEW v AS SELECT a, b FROM t;
CREATE VIEW w AS SELECT a FROM v;",
    ),
];

#[test]
fn own_rebuild_cases_on_real_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    for (n, (name, current, desired)) in OWN_CASES.iter().enumerate() {
        let case = Case {
            name: (*name).to_string(),
            current: (*current).to_string(),
            desired: (*desired).to_string(),
            enable_drop: true,
        };
        if let Err(e) = run_case(&mut fresh(dir.path(), n), &case) {
            println!("FAIL {name}: {e}\n");
            failures.push(*name);
        }
    }
    assert!(failures.is_empty(), "failures: {failures:?}");
}

const SCHEMA: &str = "CREATE TABLE parent (id INTEGER PRIMARY KEY, name text NOT NULL);
CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent(id) ON DELETE CASCADE, note text);
CREATE INDEX ix_child_parent ON child (parent_id);";
const DATA: &str = "INSERT INTO parent VALUES (1, 'a'), (2, 'b');
INSERT INTO child VALUES (10, 1, 'x'), (11, 2, NULL);";

fn contents(driver: &mut SqliteDriver) -> Vec<Vec<Vec<Option<String>>>> {
    ["parent", "child"]
        .iter()
        .map(|t| {
            driver
                .query(&format!("SELECT * FROM \"{t}\" ORDER BY 1"))
                .expect("rows")
        })
        .collect()
}

/// A failing statement at the end of a script (after a table rebuild with foreign keys off)
/// leaves schema and data exactly as they were, and foreign keys enforced again.
#[test]
fn failed_upgrade_rolls_back_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = fresh(dir.path(), 0);
    db.execute(SCHEMA).expect("schema");
    db.execute(DATA).expect("data");
    let before_schema = db.inspect().expect("inspect");
    let before_rows = contents(&mut db);

    // The desired schema changes a column type (a rebuild of parent) and adds a table.
    let desired_sql = SCHEMA.replace("name text NOT NULL", "name varchar(40) NOT NULL")
        + "\nCREATE TABLE extra (a integer);";
    let desired = model_of(Platform::Sqlite, &desired_sql, "desired").expect("desired");
    let diff = compare(&before_schema, &desired, &CompareOptions::default());
    let dialect = dialect_for(Platform::Sqlite);
    let the_plan = plan(
        &diff,
        &before_schema,
        &desired,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            ..PlanOptions::default()
        },
    );
    let mut script = render(&the_plan, dialect);
    assert!(script.foreign_keys_off, "the plan rebuilds a table");
    script.batches.push(Batch {
        step: None,
        comment: "a statement that fails".into(),
        statements: vec!["INSERT INTO no_such_table VALUES (1)".into()],
    });
    let err = upgrade::execute(&mut db, &script).expect_err("the last statement fails");
    match &err {
        Error::Driver { statement, .. } => {
            assert_eq!(
                statement.as_deref(),
                Some("INSERT INTO no_such_table VALUES (1)")
            );
        }
        other => panic!("unexpected error {other}"),
    }
    let after_schema = db.inspect().expect("inspect");
    let drift = compare(&after_schema, &before_schema, &CompareOptions::default());
    assert!(drift.is_empty(), "schema changed: {}", describe(&drift));
    assert_eq!(contents(&mut db), before_rows);
    assert_eq!(
        db.query("PRAGMA foreign_keys").expect("pragma"),
        vec![vec![Some("1".into())]],
        "foreign keys are enforced again"
    );

    // Without the failing statement the same script succeeds and keeps the rows.
    script.batches.pop();
    upgrade::execute(&mut db, &script).expect("upgrade");
    let after = db.inspect().expect("inspect");
    let left = compare(&after, &desired, &CompareOptions::default());
    assert!(left.is_empty(), "{}", describe(&left));
    assert_eq!(contents(&mut db), before_rows);
}

/// A foreign-key violation found before commit undoes the upgrade.
#[test]
fn foreign_key_violation_rolls_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = fresh(dir.path(), 0);
    db.execute(SCHEMA).expect("schema");
    db.execute(DATA).expect("data");
    let before = contents(&mut db);
    let mut script = render(&Default::default(), dialect_for(Platform::Sqlite));
    script.foreign_keys_off = true;
    script.batches.push(Batch {
        step: None,
        comment: "orphans".into(),
        statements: vec!["DELETE FROM parent WHERE id = 1".into()],
    });
    let err = upgrade::execute(&mut db, &script).expect_err("violation");
    assert!(err.to_string().contains("child -> parent"), "{err}");
    assert_eq!(contents(&mut db), before);
}

/// A second run against the same file waits for the lock, and is refused when it is not
/// released in time; an upgrade on the second connection is refused before changing anything.
#[test]
fn second_run_waits_for_or_is_refused_the_lock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("locked.db");
    let mut first = SqliteDriver::open(&path, true).expect("open");
    first.execute(SCHEMA).expect("schema");
    first.lock(Duration::ZERO).expect("first lock");

    let mut second = SqliteDriver::open(&path, false).expect("open second");
    let err = second
        .lock(Duration::from_millis(300))
        .expect_err("refused while held");
    assert!(matches!(err, Error::Blocked { .. }), "{err}");
    assert!(err.to_string().contains("another dac run"), "{err}");

    // Held by a thread that lets go after a while: the second run waits, then proceeds.
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        first.unlock().expect("unlock");
        first
    });
    let started = Instant::now();
    second
        .lock(Duration::from_secs(10))
        .expect("lock after waiting");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let mut first = holder.join().expect("holder thread");
    let err = first
        .lock(Duration::from_millis(100))
        .expect_err("now the first run is refused");
    assert!(matches!(err, Error::Blocked { .. }), "{err}");
    second.unlock().expect("unlock second");
    first.lock(Duration::ZERO).expect("free again");
    first.unlock().expect("unlock");
}

/// Env var that turns [`lock_holder_process`] into the other process of
/// [`lock_is_exclusive_across_processes`]: the database path.
const HOLDER_ENV: &str = "DAC_TEST_LOCK_HOLDER";

/// Not a test of its own: run by [`lock_is_exclusive_across_processes`] in a child process, it
/// takes the upgrade lock, says so on stdout and holds it for a while.
#[test]
fn lock_holder_process() {
    let Some(path) = std::env::var_os(HOLDER_ENV) else {
        return;
    };
    let mut db = SqliteDriver::open(Path::new(&path), false).expect("open");
    db.lock(Duration::ZERO).expect("child takes the lock");
    println!("LOCKED");
    use std::io::Write;
    std::io::stdout().flush().expect("flush");
    std::thread::sleep(Duration::from_millis(800));
    // Exiting releases the lock even without unlock (the OS drops it with the process).
}

/// Another process holding the lock: this one is refused, then gets it once that process ends.
#[test]
fn lock_is_exclusive_across_processes() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("shared.db");
    let mut db = SqliteDriver::open(&path, true).expect("open");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "lock_holder_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the holder");
    let stdout = child.stdout.take().expect("child stdout");
    // Keep the pipe open until the child is done: it writes test-harness output after LOCKED.
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let locked = lines.any(|line| line.contains("LOCKED"));
    assert!(locked, "the child took the lock");
    let err = db
        .lock(Duration::from_millis(100))
        .expect_err("refused while the child holds it");
    assert!(matches!(err, Error::Blocked { .. }), "{err}");
    db.lock(Duration::from_secs(20))
        .expect("granted once the child is gone");
    lines.for_each(drop);
    assert!(child.wait().expect("child").success());
    db.unlock().expect("unlock");
}

/// The case list helper is not empty-handed on a malformed folder.
#[test]
fn missing_case_folder_is_an_error() {
    let err = sqldef_cases(Path::new("/nonexistent/sqldef")).expect_err("no folder");
    assert!(err.contains("/nonexistent/sqldef"));
    let case = Case {
        name: "x".into(),
        current: String::new(),
        desired: "CREATE TABLE t (a integer);".into(),
        enable_drop: true,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    run_case(&mut fresh(dir.path(), 0), &case).expect("a trivial case runs");
}
