//! The compare and plan options every planning command shares, on real SQLite files: filters
//! take what a table owns with it and refuse to cut a change off from what it needs,
//! `--do-not-drop` protects what it names (element types and SqlPackage's names), `upgrade`
//! takes the options `script` does and runs the script `script` previews, and an option a mode
//! does not use is an error naming both.

use std::path::Path;

use crate::util::{Run, dac};

/// v1 of a small ledger: customers, accounts owned by them (an index, an unnamed primary key
/// and foreign key), and an archive table v2 no longer has.
const V1: &str = "
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, fax TEXT);
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    balance INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accounts_customer ON accounts (customer_id);
CREATE TABLE archive (id INTEGER PRIMARY KEY, note TEXT);
";

/// v2: customers lose fax and gain email; a new currencies table, which accounts now refer
/// to (with a check, so SQLite rebuilds accounts); accounts lose their index; no archive.
const V2: &str = "
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE currencies (code TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '');
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    currency TEXT NOT NULL DEFAULT 'EUR' REFERENCES currencies (code),
    balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0)
);
";

/// Builds `sql` as the ledger at `version` into `DIR/ledger-VERSION.dacpac`.
fn package(dir: &Path, version: &str, sql: &str) -> String {
    crate::util::build_sqlite_app(dir, "ledger", version, sql)
}

/// A database at v1 with rows in every table; returns v2's package and the target.
fn ledger_at_v1(dir: &Path) -> (String, String) {
    let v1 = package(dir, "1.0.0", V1);
    let v2 = package(dir, "2.0.0", V2);
    let db = dir.join("ledger.db");
    let target = format!("sqlite:{}", db.display());
    dac(dir, &["upgrade", &v1, "--target", &target, "--in-place"]).expect_code(0);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "INSERT INTO customers VALUES (1, 'Ada', NULL);
             INSERT INTO accounts VALUES (1, 1, 10);
             INSERT INTO archive VALUES (1, 'kept');",
        )
        .unwrap();
    (v2, target)
}

/// The names of the database's tables and indexes (`type:name`), in order.
fn schema(target: &str) -> Vec<String> {
    let path = target.strip_prefix("sqlite:").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type || ':' || name FROM sqlite_schema WHERE name NOT LIKE '\\_dac%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn columns(target: &str, table: &str) -> Vec<String> {
    let path = target.strip_prefix("sqlite:").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn script(dir: &Path, v2: &str, target: &str, extra: &[&str]) -> Run {
    let mut args = vec!["script", v2, "--target", target];
    args.extend_from_slice(extra);
    dac(dir, &args)
}

/// What a script ran in place printed (`--show-script`), without the result lines.
fn shown_script(run: &Run) -> String {
    let start = run.stdout.find("-- dac upgrade script").expect("a script");
    let end = run.stdout.rfind("\nupgraded ").expect("the result line");
    run.stdout[start..=end].to_string()
}

#[test]
fn include_takes_what_a_table_owns_and_refuses_to_cut_a_change_off() {
    let dir = tempfile::tempdir().unwrap();
    let (v2, target) = ledger_at_v1(dir.path());
    // customers alone: nothing of currencies (its unnamed primary key and default were kept
    // before, giving `ALTER TABLE "currencies" ADD PRIMARY KEY`), nothing of accounts (its
    // unnamed check and foreign key rebuilt it before).
    let run = script(
        dir.path(),
        &v2,
        &target,
        &["--include", "main.cust*", "--allow-data-loss"],
    );
    run.expect_code(0);
    for absent in ["currencies", "accounts", "archive"] {
        assert!(!run.stdout.contains(absent), "{absent}:\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains("ALTER TABLE \"customers\" DROP COLUMN \"fax\""),
        "{}",
        run.stdout
    );
    // The script is valid: it runs in the sqlite3 shell, and changes customers only.
    let path = target.strip_prefix("sqlite:").unwrap();
    let mut shell = std::process::Command::new("sqlite3")
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("the sqlite3 shell (Debian package sqlite3) runs the script");
    std::io::Write::write_all(shell.stdin.as_mut().unwrap(), run.stdout.as_bytes()).unwrap();
    assert!(
        shell.wait().unwrap().success(),
        "sqlite3 refused the script"
    );
    assert_eq!(columns(&target, "customers"), ["id", "name", "email"]);
    assert_eq!(
        columns(&target, "accounts"),
        ["id", "customer_id", "balance"]
    );
    assert_eq!(
        schema(&target),
        [
            "index:accounts_customer",
            "table:accounts",
            "table:archive",
            "table:customers"
        ]
    );
    // accounts without currencies, which the target lacks: an error naming both.
    let run = script(dir.path(), &v2, &target, &["--include", "main.acc*"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("[main].[accounts]") && run.stderr.contains("[main].[currencies]"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // --exclude closes over ownership the same way: the index goes with its table.
    let run = script(
        dir.path(),
        &v2,
        &target,
        &["--exclude", "main.acc*", "--exclude", "main.curr*"],
    );
    run.expect_code(0);
    assert!(!run.stdout.contains("accounts"), "{}", run.stdout);
    // A glob that does not compile is an error, not a filter that matches nothing.
    script(dir.path(), &v2, &target, &["--include", "main.[cust"]).expect_code(1);
}

#[test]
fn do_not_drop_protects_what_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let (v2, target) = ledger_at_v1(dir.path());
    let plain = script(dir.path(), &v2, &target, &[]);
    plain.expect_code(0);
    assert!(
        plain.stdout.contains("DROP TABLE \"archive\""),
        "{}",
        plain.stdout
    );
    // The index of a table the package keeps: by element type and by SqlPackage's name.
    for name in ["SqlIndex", "Indexes", "indexes"] {
        let run = script(
            dir.path(),
            &v2,
            &target,
            &[
                "--include",
                "main.acc*",
                "--include",
                "main.curr*",
                "--do-not-drop",
                name,
            ],
        );
        run.expect_code(0);
        assert!(
            run.stdout.contains("CREATE INDEX \"accounts_customer\""),
            "{name}: the rebuilt table gets its kept index back\n{}",
            run.stdout
        );
        assert!(
            !run.stdout.contains("DROP INDEX"),
            "{name}:\n{}",
            run.stdout
        );
    }
    // A table not in the package is kept with everything it owns, its primary key too, and
    // no comment of a script names nothing.
    for name in ["SqlTable", "Tables"] {
        let run = script(dir.path(), &v2, &target, &["--do-not-drop", name]);
        run.expect_code(0);
        assert!(!run.stdout.contains("archive"), "{name}:\n{}", run.stdout);
        assert!(
            !run.stdout.contains("  in place") && !run.stdout.contains("constraint  "),
            "{name}:\n{}",
            run.stdout
        );
    }
    // The accounts' currency is not in the new currencies table.
    let path = target.strip_prefix("sqlite:").unwrap();
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch("DELETE FROM accounts")
        .unwrap();
    let run = dac(
        dir.path(),
        &[
            "upgrade",
            &v2,
            "--target",
            &target,
            "--in-place",
            "--allow-data-loss",
            "--do-not-drop",
            "Tables",
        ],
    );
    run.expect_code(0);
    assert!(schema(&target).contains(&"table:archive".to_string()));
    let archive_sql: String = rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'archive'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(archive_sql.contains("PRIMARY KEY"), "{archive_sql}");
    // Unknown names are an error listing the valid ones.
    let run = script(dir.path(), &v2, &target, &["--do-not-drop", "Bogus"]);
    run.expect_code(1);
    for valid in [
        "Indexes",
        "Tables",
        "XmlSchemaCollections",
        "SqlIndex",
        "SqlTable",
    ] {
        assert!(run.stderr.contains(valid), "{valid}: {}", run.stderr);
    }
    assert!(run.stderr.contains("\"Bogus\""), "{}", run.stderr);
    script(dir.path(), &v2, &target, &["--exclude-type", "Bogus"]).expect_code(1);
}

#[test]
fn upgrade_takes_the_options_script_takes_and_runs_what_it_previews() {
    let dir = tempfile::tempdir().unwrap();
    let (v2, target) = ledger_at_v1(dir.path());
    let options = [
        "--include",
        "main.cust*",
        "--include",
        "main.arch*",
        "--do-not-drop",
        "Tables",
        "--ignore-whitespace",
        "--allow-data-loss",
    ];
    let preview = script(dir.path(), &v2, &target, &options);
    preview.expect_code(0);
    let mut args = vec![
        "upgrade",
        &v2,
        "--target",
        &target,
        "--in-place",
        "--show-script",
    ];
    args.extend_from_slice(&options);
    let run = dac(dir.path(), &args);
    run.expect_code(0);
    assert_eq!(shown_script(&run), preview.stdout);
    assert_eq!(columns(&target, "customers"), ["id", "name", "email"]);
    assert!(schema(&target).contains(&"table:archive".to_string()));
    assert!(!schema(&target).contains(&"table:currencies".to_string()));
    // Without the filters the upgrade needs nothing the preview would not show either.
    let deploy_report = dac(
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
    deploy_report.expect_code(2);
}

#[test]
fn an_option_a_mode_does_not_use_is_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (v2, target) = ledger_at_v1(dir.path());
    let before = schema(&target);
    for (mode, extra, named) in [
        // In place has a JSON outcome, but no Markdown transfer report.
        (
            "--in-place",
            vec!["--format", "markdown"],
            "--format markdown",
        ),
        ("--in-place", vec!["--report", "r.md"], "--report"),
        ("--in-place", vec!["--parallel", "2"], "--parallel"),
        ("--in-place", vec!["--no-early-copy"], "--no-early-copy"),
        (
            "--in-place",
            vec!["--copy-method", "database"],
            "--copy-method",
        ),
        (
            "--side-by-side",
            vec!["--include", "main.cust*"],
            "--include",
        ),
        (
            "--side-by-side",
            vec!["--do-not-drop", "Tables"],
            "--do-not-drop",
        ),
        (
            "--side-by-side",
            vec!["--exclude-type", "Indexes"],
            "--exclude-type",
        ),
        (
            "--side-by-side",
            vec!["--drop-objects-not-in-source=false"],
            "--drop-objects-not-in-source=false",
        ),
        ("--side-by-side", vec!["--show-script"], "--show-script"),
        (
            "--side-by-side",
            vec!["--smart-defaults"],
            "--smart-defaults",
        ),
    ] {
        let mut args = vec![
            "upgrade",
            &v2,
            "--target",
            &target,
            mode,
            "--allow-data-loss",
        ];
        args.extend_from_slice(&extra);
        let run = dac(dir.path(), &args);
        run.expect_code(1);
        assert!(
            run.stderr.contains(named) && run.stderr.contains(mode),
            "{mode} {extra:?}: {}",
            run.stderr
        );
    }
    assert_eq!(schema(&target), before, "nothing ran");
    assert!(!dir.path().join("r.md").exists());
}
