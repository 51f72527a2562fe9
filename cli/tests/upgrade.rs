//! `dac upgrade --in-place`, `drift-report`, `register`, `unregister`, `extract` on SQLite.

use std::path::Path;

use crate::util::{Run, build_finance, build_sqlite_schema, dac, root};

/// Writes to the database behind dac's back, as an application or a DBA would.
fn sql(db: &Path, statement: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(statement).unwrap();
}

fn upgrade(dir: &Path, package: &str, db: &Path, extra: &[&str]) -> Run {
    let target = format!("sqlite:{}", db.display());
    let mut args = vec![
        "upgrade",
        package,
        "--target",
        target.as_str(),
        "--in-place",
    ];
    args.extend_from_slice(extra);
    dac(dir, &args)
}

#[test]
fn upgrade_in_place_refuses_data_loss_then_upgrades_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_finance(dir.path(), "1.0.0", "finance-v1");
    let v2 = build_finance(dir.path(), "2.0.0", "finance-v2");
    let db = dir.path().join("finance.db");
    let run = upgrade(dir.path(), &v1, &db, &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("deployed"), "{}", run.stdout);
    sql(
        &db,
        "INSERT INTO customers (id, name, fax) VALUES (1, 'Ada', '555'); INSERT INTO accounts (id, customer_id, balance_cents) VALUES (1, 1, -5);",
    );
    // Live targets stand on either side of compare, script and deploy-report.
    let target = format!("sqlite:{}", db.display());
    dac(dir.path(), &["compare", &target, &v1]).expect_code(0);
    dac(dir.path(), &["compare", &target, &v2]).expect_code(2);
    let report = dac(
        dir.path(),
        &[
            "deploy-report",
            &v2,
            "--target",
            &target,
            "--format",
            "json",
        ],
    );
    report.expect_code(2);
    let json: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(json["summary"]["data_loss"], 1, "{}", report.stdout);
    assert!(json["current"].as_str().unwrap().starts_with("sqlite:"));
    let script = dac(dir.path(), &["script", &v2, "--target", &target]);
    script.expect_code(0);
    assert!(
        script
            .stdout
            .contains("ALTER TABLE \"customers\" DROP COLUMN \"fax\""),
        "{}",
        script.stdout
    );
    // Dropping customers.fax would lose data: refused, exit 3, nothing changed.
    let run = upgrade(dir.path(), &v2, &db, &[]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("[main].[customers].[fax]"),
        "{}",
        run.stderr
    );
    let drift = dac(
        dir.path(),
        &[
            "drift-report",
            "--target",
            &format!("sqlite:{}", db.display()),
            "--format",
            "json",
        ],
    );
    drift.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&drift.stdout).unwrap();
    assert_eq!(json["registered"]["version"], "1.0.0");
    // Allowed: upgraded, the pre-deploy script fixed the negative balance, rows kept.
    let run = upgrade(dir.path(), &v2, &db, &["--allow-data-loss"]);
    run.expect_code(0);
    assert!(run.stdout.contains("1.0.0 -> 2.0.0"), "{}", run.stdout);
    let run = upgrade(dir.path(), &v2, &db, &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("up to date"), "{}", run.stdout);
    let extract = dir.path().join("extracted.dacpac");
    dac(
        dir.path(),
        &[
            "extract",
            "--target",
            &format!("sqlite:{}", db.display()),
            "-o",
            extract.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    // The extracted schema is the package's schema.
    dac(dir.path(), &["compare", extract.to_str().unwrap(), &v2]).expect_code(0);
}

#[test]
fn drift_blocks_upgrades_until_allowed_and_reports_in_xml() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_finance(dir.path(), "1.0.0", "finance-v1");
    let v2 = build_finance(dir.path(), "2.0.0", "finance-v2");
    let db = dir.path().join("finance.db");
    let target = format!("sqlite:{}", db.display());
    upgrade(dir.path(), &v1, &db, &[]).expect_code(0);
    sql(
        &db,
        "CREATE TABLE audit (x INTEGER); CREATE INDEX ix_memo ON entries (memo);",
    );
    let report = dac(dir.path(), &["drift-report", "--target", &target]);
    report.expect_code(2);
    assert!(
        report
            .stdout
            .contains("http://schemas.microsoft.com/sqlserver/dac/DriftReport/2012/02")
    );
    assert!(
        report.stdout.contains("<Object Name=\"[main].[audit]\""),
        "{}",
        report.stdout
    );
    assert!(
        report.stdout.contains("[main].[entries].[ix_memo]"),
        "{}",
        report.stdout
    );
    let run = upgrade(dir.path(), &v2, &db, &["--allow-data-loss"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("drifted") && run.stderr.contains("[main].[audit]"),
        "{}",
        run.stderr
    );
    let run = upgrade(
        dir.path(),
        &v2,
        &db,
        &["--allow-data-loss", "--allow-drift"],
    );
    run.expect_code(0);
    // A note, on stderr as every note.
    assert!(run.stderr.contains("drift overridden"), "{}", run.stderr);
    assert!(!run.stdout.contains("drift overridden"), "{}", run.stdout);
}

#[test]
fn register_and_unregister() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plain.db");
    sql(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
    );
    let target = format!("sqlite:{}", db.display());
    dac(dir.path(), &["drift-report", "--target", &target]).expect_code(1);
    dac(
        dir.path(),
        &[
            "register",
            "--target",
            &target,
            "--name",
            "plain",
            "--version",
            "0.1",
        ],
    )
    .expect_code(0);
    let report = dac(
        dir.path(),
        &["drift-report", "--target", &target, "--format", "text"],
    );
    report.expect_code(0);
    assert!(
        report.stdout.contains("no drift from plain 0.1"),
        "{}",
        report.stdout
    );
    dac(dir.path(), &["unregister", "--target", &target]).expect_code(0);
    dac(dir.path(), &["drift-report", "--target", &target]).expect_code(1);
    dac(dir.path(), &["unregister", "--target", &target]).expect_code(1);
}

#[test]
fn a_failing_post_deploy_script_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_finance(dir.path(), "1.0.0", "finance-v1");
    let db = dir.path().join("finance.db");
    upgrade(dir.path(), &v1, &db, &[]).expect_code(0);
    sql(
        &db,
        "INSERT INTO customers (id, name, fax) VALUES (1, 'Ada', '555');",
    );
    // v2 with a post-deploy script that fails.
    let project = dir.path().join("broken-v2");
    std::fs::create_dir(&project).unwrap();
    for entry in std::fs::read_dir(root().join("fixtures/projects/finance-v2")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, project.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        project.join("postdeploy.sql"),
        "INSERT INTO no_such_table VALUES (1);\n",
    )
    .unwrap();
    let target = format!("sqlite:{}", db.display());
    let run = dac(
        dir.path(),
        &[
            "upgrade",
            project.to_str().unwrap(),
            "--target",
            &target,
            "--in-place",
            "--allow-data-loss",
            "--name",
            "finance",
            "--version",
            "2.0.0",
        ],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("no_such_table"), "{}", run.stderr);
    // Schema, data and registration as before (a failure row is added to the history only).
    let extract = dir.path().join("after.dacpac");
    dac(
        dir.path(),
        &[
            "extract",
            "--target",
            &target,
            "-o",
            extract.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    dac(dir.path(), &["compare", extract.to_str().unwrap(), &v1]).expect_code(0);
    let report = dac(
        dir.path(),
        &["drift-report", "--target", &target, "--format", "json"],
    );
    report.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(json["registered"]["version"], "1.0.0");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let fax: String = conn
        .query_row("SELECT fax FROM customers WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        fax, "555",
        "the dropped column and its data are still there"
    );
    let history: Vec<(String, String)> = conn
        .prepare("SELECT action, status FROM _dac_history ORDER BY action_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        history,
        [
            ("deploy".to_string(), "success".to_string()),
            ("upgrade".to_string(), "fail".to_string())
        ]
    );
}

#[test]
fn side_by_side_upgrade_reports_the_transfer_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_finance(dir.path(), "1.0.0", "finance-v1");
    let v2 = build_finance(dir.path(), "2.0.0", "finance-v2");
    let db = dir.path().join("finance.db");
    let target = format!("sqlite:{}", db.display());
    upgrade(dir.path(), &v1, &db, &[]).expect_code(0);
    sql(
        &db,
        "INSERT INTO customers (id, name, email, fax) VALUES (1, 'Ada', 'ada@example.org', '555');
         INSERT INTO accounts (id, customer_id, currency, balance_cents) VALUES (1, 1, 'EUR', 5);",
    );
    // fax holds a value: refused, nothing created.
    let side_by_side = |extra: &[&str]| {
        let mut args = vec![
            "upgrade",
            v2.as_str(),
            "--target",
            target.as_str(),
            "--side-by-side",
        ];
        args.extend_from_slice(extra);
        dac(dir.path(), &args)
    };
    let refused = side_by_side(&[]);
    refused.expect_code(3);
    assert!(refused.stderr.contains("fax"), "{}", refused.stderr);
    assert!(!dir.path().join("finance.db.dac-new").exists());
    // Allowed: the report names each table's case; JSON to a file.
    let report = dir.path().join("transfer.json");
    let run = side_by_side(&[
        "--allow-data-loss",
        "--format",
        "json",
        "--report",
        report.to_str().unwrap(),
    ]);
    run.expect_code(0);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let tables = json["tables"].as_array().unwrap();
    let case = |name: &str| {
        tables
            .iter()
            .find(|t| t["name"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("{name} in {json}"))
    };
    assert_eq!(case("currencies")["case"], "new");
    assert_eq!(case("customers")["case"], "changed");
    assert_eq!(case("customers")["rows"], 1);
    assert_eq!(case("customers")["columns_dropped"][0], "fax");
    assert_eq!(case("accounts")["copied"], true);
    assert!(json["read_only_window_ms"].is_u64());
    // Nothing was written during the copy: the early copy was kept.
    assert_eq!(json["early_copy"], "kept", "{json}");
    // Post-deployment seeds, foreign keys checked after them.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let seeded: i64 = conn
        .query_row("SELECT count(*) FROM currencies", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seeded, 3);
    drop(conn);
    let rollback = dac(dir.path(), &["rollback", "--target", &target]);
    rollback.expect_code(0);
    assert!(
        rollback.stdout.contains("2.0.0 -> 1.0.0"),
        "{}",
        rollback.stdout
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let fax: String = conn
        .query_row("SELECT fax FROM customers WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fax, "555", "the original is back, fax and all");
    drop(conn);
    dac(dir.path(), &["rollback", "--target", &target]).expect_code(1);
    dac(dir.path(), &["recover", "--target", &target]).expect_code(0);
    // Again, copying with writers held.
    let held = side_by_side(&["--allow-data-loss", "--format", "json", "--no-early-copy"]);
    held.expect_code(0);
    let json: serde_json::Value =
        serde_json::from_str(&held.stdout).unwrap_or_else(|e| panic!("{e}: {}", held.stdout));
    assert_eq!(json["early_copy"], "off", "{json}");
    assert!(
        !held.stderr.contains("before holding writers off"),
        "{}",
        held.stderr
    );
    // Again, the whole database copied and upgraded in place (Azure SQL Database's method).
    dac(dir.path(), &["rollback", "--target", &target]).expect_code(0);
    let whole = side_by_side(&["--allow-data-loss", "--copy-method", "database"]);
    whole.expect_code(0);
    assert!(
        whole.stdout.contains(
            "method: asked for (--copy-method database); the database was copied with VACUUM INTO"
        ),
        "{}",
        whole.stdout
    );
    assert!(
        whole
            .stdout
            .contains("the copy's rows: 1 before the in-place upgrade, 1 after"),
        "{}",
        whole.stdout
    );
    // Up to date: with --format json, stdout is still a report (of nothing copied).
    let again = side_by_side(&["--format", "json"]);
    again.expect_code(0);
    let json: serde_json::Value =
        serde_json::from_str(&again.stdout).unwrap_or_else(|e| panic!("{e}: {}", again.stdout));
    assert_eq!(json["tables_copied"], 0, "{json}");
    assert!(again.stderr.contains("is up to date"), "{}", again.stderr);
    let both = dac(
        dir.path(),
        &[
            "upgrade",
            &v2,
            "--target",
            &target,
            "--in-place",
            "--side-by-side",
        ],
    );
    both.expect_code(1);
}

/// SqlPackage runs the deployment scripts on every publish (reference data, permissions,
/// changed `-v` values): so does an upgrade whose schema is already up to date, in one
/// transaction, and it says so.
#[test]
fn deployment_scripts_run_on_every_upgrade_in_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("app");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("schema.sql"),
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, phase TEXT NOT NULL);\n",
    )
    .unwrap();
    std::fs::write(
        project.join("predeploy.sql"),
        // Before the first deployment there is no table of the schema to write to.
        "CREATE TEMP TABLE IF NOT EXISTS pre_ran (at TEXT);\nINSERT INTO pre_ran VALUES ('pre');\n",
    )
    .unwrap();
    std::fs::write(
        project.join("postdeploy.sql"),
        "INSERT INTO runs (phase) SELECT at FROM pre_ran;\nDELETE FROM pre_ran;\nINSERT INTO runs (phase) VALUES ('post $(Env)');\n",
    )
    .unwrap();
    let db = dir.path().join("app.db");
    let run_with = |env: &str| {
        let variable = format!("Env={env}");
        upgrade(
            dir.path(),
            project.to_str().unwrap(),
            &db,
            &["--name", "app", "--version", "1.0.0", "-v", &variable],
        )
    };
    let phases = || -> Vec<String> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.prepare("SELECT phase FROM runs ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let first = run_with("test");
    first.expect_code(0);
    assert!(
        first.stdout.contains(
            "ran the pre-deployment and post-deployment scripts in the upgrade's transaction"
        ),
        "{}",
        first.stdout
    );
    assert_eq!(phases(), ["pre", "post test"]);

    // Nothing to change in the schema: the scripts still run, with today's variable values.
    let again = run_with("prod");
    again.expect_code(0);
    assert!(
        again.stdout.contains("is up to date")
            && again
                .stdout
                .contains("ran the pre-deployment and post-deployment scripts in one transaction"),
        "{}",
        again.stdout
    );
    assert_eq!(phases(), ["pre", "post test", "pre", "post prod"]);

    // A failing post-deployment script undoes the pre-deployment script of the same run.
    std::fs::write(
        project.join("postdeploy.sql"),
        "INSERT INTO runs (phase) SELECT at FROM pre_ran;\nINSERT INTO runs (phase) VALUES (NULL);\n",
    )
    .unwrap();
    let failed = run_with("prod");
    failed.expect_code(1);
    assert!(failed.stderr.contains("NOT NULL"), "{}", failed.stderr);
    assert_eq!(phases(), ["pre", "post test", "pre", "post prod"]);

    // Side by side with nothing to copy, the scripts run too (on the database itself).
    std::fs::write(
        project.join("postdeploy.sql"),
        "INSERT INTO runs (phase) SELECT at FROM pre_ran;\nINSERT INTO runs (phase) VALUES ('post side');\n",
    )
    .unwrap();
    let target = format!("sqlite:{}", db.display());
    let side = dac(
        dir.path(),
        &[
            "upgrade",
            project.to_str().unwrap(),
            "--target",
            &target,
            "--side-by-side",
            "--name",
            "app",
            "--version",
            "1.0.0",
            "-v",
            "Env=x",
        ],
    );
    side.expect_code(0);
    assert!(
        side.stdout.contains("is up to date")
            && side
                .stdout
                .contains("ran the pre-deployment and post-deployment scripts in one transaction"),
        "{}",
        side.stdout
    );
    assert_eq!(
        phases(),
        ["pre", "post test", "pre", "post prod", "pre", "post side"]
    );
}

/// `-- @renamed from=OLD` in a SQLite source renames the column in place: the rows stay, and
/// nothing is dropped (so nothing is refused as data loss).
#[test]
fn renamed_annotations_keep_the_data_of_a_sqlite_column() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_sqlite_schema(
        dir.path(),
        "1.0.0",
        "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  user_name TEXT NOT NULL\n);\n",
    );
    let v2 = build_sqlite_schema(
        dir.path(),
        "2.0.0",
        "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  login TEXT NOT NULL -- @renamed from=user_name\n);\n",
    );
    let info = dac(dir.path(), &["info", &v2]);
    info.expect_code(0);
    assert!(
        info.stdout.contains("refactor operations: 1"),
        "{}",
        info.stdout
    );
    let db = dir.path().join("app.db");
    upgrade(dir.path(), &v1, &db, &[]).expect_code(0);
    sql(&db, "INSERT INTO users (id, user_name) VALUES (1, 'ada');");
    let run = upgrade(dir.path(), &v2, &db, &[]);
    run.expect_code(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let login: String = conn
        .query_row("SELECT login FROM users WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(login, "ada");
    // The renames are done: the same package again has nothing to do.
    upgrade(dir.path(), &v2, &db, &[]).expect_code(0);
    let target = format!("sqlite:{}", db.display());
    dac(dir.path(), &["compare", &target, &v2]).expect_code(0);
}

/// A renamed SQLite table (`-- @renamed from=OLD`) with an unnamed primary key another table's
/// foreign key references, and an unnamed CHECK: renamed in place (SQLite moves the foreign
/// key with it), nothing dropped or rebuilt, the rows kept.
#[test]
fn renamed_annotations_keep_a_sqlite_table_with_its_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_sqlite_schema(
        dir.path(),
        "1.0.0",
        "CREATE TABLE customers (\n  id INTEGER PRIMARY KEY,\n  name TEXT NOT NULL CHECK (length(name) > 0)\n);\nCREATE TABLE orders (\n  id INTEGER PRIMARY KEY,\n  customer_id INTEGER NOT NULL REFERENCES customers (id)\n);\n",
    );
    let v2 = build_sqlite_schema(
        dir.path(),
        "2.0.0",
        "CREATE TABLE clients ( -- @renamed from=customers\n  id INTEGER PRIMARY KEY,\n  name TEXT NOT NULL CHECK (length(name) > 0)\n);\nCREATE TABLE orders (\n  id INTEGER PRIMARY KEY,\n  customer_id INTEGER NOT NULL REFERENCES clients (id)\n);\n",
    );
    let db = dir.path().join("app.db");
    upgrade(dir.path(), &v1, &db, &[]).expect_code(0);
    sql(
        &db,
        "INSERT INTO customers VALUES (1, 'ada'); INSERT INTO orders VALUES (10, 1);",
    );
    let target = format!("sqlite:{}", db.display());
    let script = dac(dir.path(), &["script", &v2, "--target", &target]);
    script.expect_code(0);
    for recreated in ["cannot drop", "ADD CHECK", "ADD PRIMARY KEY", "_dac_new_"] {
        assert!(
            !script.stdout.contains(recreated),
            "the rename re-creates what it should keep ({recreated}):\n{}",
            script.stdout
        );
    }
    upgrade(dir.path(), &v2, &db, &[]).expect_code(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let row: (i64, String) = conn
        .query_row("SELECT id, name FROM clients", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(row, (1, "ada".to_string()));
    let orders: i64 = conn
        .query_row(
            "SELECT count(*) FROM orders WHERE customer_id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orders, 1);
    dac(dir.path(), &["compare", &target, &v2]).expect_code(0);
}

/// Another connection holds SQLite's write lock: `--lock-timeout` bounds the wait, the upgrade
/// is undone and says which limit it ran into.
#[test]
fn a_sqlite_upgrade_behind_a_write_lock_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_finance(dir.path(), "1.0.0", "finance-v1");
    let v2 = build_finance(dir.path(), "2.0.0", "finance-v2");
    let db = dir.path().join("finance.db");
    upgrade(dir.path(), &v1, &db, &[]).expect_code(0);
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let run = upgrade(
        dir.path(),
        &v2,
        &db,
        &["--allow-data-loss", "--lock-timeout", "1s"],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("lock timeout (1 s)"), "{}", run.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "waited {:?}",
        started.elapsed()
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    let target = format!("sqlite:{}", db.display());
    dac(dir.path(), &["compare", &target, &v1]).expect_code(0);
    upgrade(
        dir.path(),
        &v2,
        &db,
        &["--allow-data-loss", "--lock-timeout", "1s"],
    )
    .expect_code(0);
}

/// SQLite adds a column at the end: an upgrade to a package that declares it between others
/// says so and keeps the order; `--rebuild-for-column-order` rebuilds the table in the
/// package's order, with its rows.
#[test]
fn column_order_is_reported_and_rebuilt_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let schema = |columns: &str| format!("CREATE TABLE t (id INTEGER PRIMARY KEY, {columns});");
    let p1 = build_sqlite_schema(dir.path(), "1.0.0", &schema("a TEXT, b TEXT"));
    let p2 = build_sqlite_schema(dir.path(), "2.0.0", &schema("a TEXT, c TEXT, b TEXT"));
    let order = |db: &Path| {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('t')")
            .unwrap();
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        names.join(",")
    };
    for (rebuild, expected) in [(false, "id,a,b,c"), (true, "id,a,c,b")] {
        let db = dir.path().join(format!("order-{rebuild}.db"));
        upgrade(dir.path(), &p1, &db, &[]).expect_code(0);
        sql(&db, "INSERT INTO t (id, a, b) VALUES (1, 'x', 'y');");
        let extra: &[&str] = if rebuild {
            &["--rebuild-for-column-order"]
        } else {
            &[]
        };
        let run = upgrade(dir.path(), &p2, &db, extra);
        run.expect_code(0);
        assert_eq!(order(&db), expected, "{}", run.stdout);
        let said = run.stdout.contains("column order") || run.stderr.contains("column order");
        assert!(said, "the order is named: {}{}", run.stdout, run.stderr);
        let conn = rusqlite::Connection::open(&db).unwrap();
        let row: (String, String) = conn
            .query_row("SELECT a, b FROM t WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(row, ("x".into(), "y".into()));
    }
    let side = dac(
        dir.path(),
        &[
            "upgrade",
            &p2,
            "--target",
            "sqlite:x.db",
            "--side-by-side",
            "--rebuild-for-column-order",
        ],
    );
    assert_ne!(side.code, 0, "{}", side.stderr);
    assert!(
        side.stderr.contains("--rebuild-for-column-order"),
        "{}",
        side.stderr
    );
}
