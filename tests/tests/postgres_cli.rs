//! The `dac` binary against a real PostgreSQL server, as a user runs it: scripts `dac script`
//! writes run with plain `psql`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use dac_tests::binary::dac_binary;
use dac_tests::postgres::{client, dump_schema, psql_query, server};

/// A finished run: exit code and output.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn of(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn dac(dir: &Path, args: &[&str]) -> Run {
    Run::of(
        Command::new(dac_binary())
            .args(args)
            .current_dir(dir)
            .env_remove("DAC_FAULT")
            .stdin(Stdio::null())
            .output()
            .expect("run dac"),
    )
}

/// Builds a PostgreSQL package of application `app` from one schema file.
fn build(dir: &Path, version: &str, schema: &str) -> String {
    let folder = dir.join(format!("src-{version}"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("schema.sql"), schema).unwrap();
    let out = dir.join(format!("app-{version}.dacpac"));
    dac(
        dir,
        &[
            "build",
            folder.to_str().unwrap(),
            "--platform",
            "postgres",
            "--name",
            "app",
            "--version",
            version,
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    out.to_str().unwrap().to_string()
}

/// `psql URL < script`: no options, as a DBA runs a script someone handed over.
fn psql_stdin(url: &str, script: &str) -> Run {
    let mut child = Command::new(client("psql"))
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    Run::of(child.wait_with_output().unwrap())
}

/// `pg_dump -s` without the random key of its `\restrict` lines.
fn schema(url: &str) -> String {
    dump_schema(url)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One query's rows, `|`-separated, through psql; a failure fails the test.
fn query(url: &str, sql: &str) -> String {
    psql_query(url, sql).unwrap_or_else(|err| panic!("{sql}: {err}"))
}

#[test]
fn a_postgres_script_stops_at_a_failed_guard_in_plain_psql() {
    let url = server().create_database("psql_guard");
    let dir = tempfile::tempdir().unwrap();
    let v1 = build(
        dir.path(),
        "1.0.0",
        "CREATE TABLE users (id integer PRIMARY KEY, name text, fax text);\n",
    );
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    query(&url, "INSERT INTO users VALUES (1, 'Ada', '555')");
    let before = schema(&url);

    // v2 drops fax, which holds data: the guard fails; what follows it must not run.
    let v2 = build(
        dir.path(),
        "2.0.0",
        "CREATE TABLE users (id integer PRIMARY KEY, name text, email text);\n",
    );
    let script = dac(dir.path(), &["script", &v2, "--target", &url]);
    script.expect_code(0);
    let run = psql_stdin(&url, &script.stdout);
    assert_ne!(
        run.code, 0,
        "psql went on after the failed guard: {}",
        run.stderr
    );
    assert!(run.stderr.contains("rows were detected"), "{}", run.stderr);
    assert!(
        !run.stdout.contains("COMMIT") && !run.stdout.contains("ROLLBACK"),
        "psql reached the end of the script:\n{}",
        run.stdout
    );
    assert_eq!(schema(&url), before, "the schema changed");
    assert_eq!(query(&url, "SELECT id, name, fax FROM users"), "1|Ada|555");

    // A script with nothing to refuse applies with the same client.
    let v3 = build(
        dir.path(),
        "3.0.0",
        "CREATE TABLE users (id integer PRIMARY KEY, name text, fax text, email text);\n",
    );
    let script = dac(dir.path(), &["script", &v3, "--target", &url]);
    script.expect_code(0);
    psql_stdin(&url, &script.stdout).expect_code(0);
    assert_eq!(
        query(&url, "SELECT id, name, fax, email FROM users"),
        "1|Ada|555|"
    );
    server().drop_database(&url);
}

/// `-- @renamed from=OLD` in a PostgreSQL source renames the column in place (unquoted old
/// names fold to lower case, as the server folds them): the rows stay, nothing is refused.
#[test]
fn renamed_annotations_keep_the_data_of_a_postgres_column() {
    let url = server().create_database("pg_renamed");
    let dir = tempfile::tempdir().unwrap();
    let v1 = build(
        dir.path(),
        "1.0.0",
        "CREATE TABLE users (\n  id integer PRIMARY KEY,\n  user_name text NOT NULL\n);\nCREATE INDEX users_name ON users (user_name);\n",
    );
    let v2 = build(
        dir.path(),
        "2.0.0",
        "CREATE TABLE users (\n  id integer PRIMARY KEY,\n  Login text NOT NULL -- @renamed from=User_Name\n);\nCREATE INDEX users_name ON users (login);\n",
    );
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    query(&url, "INSERT INTO users VALUES (1, 'ada')");
    let run = dac(
        dir.path(),
        &["upgrade", &v2, "--target", &url, "--in-place"],
    );
    run.expect_code(0);
    assert_eq!(query(&url, "SELECT id, login FROM users"), "1|ada");
    dac(dir.path(), &["compare", &url, &v2]).expect_code(0);
    server().drop_database(&url);
}

/// Another session holds a lock on the table an upgrade alters: with `--lock-timeout 1s` the
/// upgrade gives up instead of waiting forever (and making every reader queue behind it), undoes
/// itself and names the session that held the lock. Timing is not asserted tightly: only that
/// it ends, with the blocker named, the schema unchanged and readers served.
#[test]
fn an_in_place_upgrade_behind_a_lock_times_out_naming_the_blocker() {
    let url = server().create_database("lock_timeout");
    let dir = tempfile::tempdir().unwrap();
    let v1 = build(
        dir.path(),
        "1.0.0",
        "CREATE TABLE users (id integer PRIMARY KEY, name text);\n",
    );
    let v2 = build(
        dir.path(),
        "2.0.0",
        "CREATE TABLE users (id integer PRIMARY KEY, name text, email text);\n",
    );
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    query(&url, "INSERT INTO users VALUES (1, 'Ada')");
    let before = schema(&url);

    // The blocker: an open transaction that read the table (ACCESS SHARE, which ALTER TABLE's
    // ACCESS EXCLUSIVE waits for), as an application or a forgotten psql session would.
    let mut blocker = Command::new(client("psql"))
        .args(["-X", "-q", "-d", &url])
        .env("PGAPPNAME", "reporting-job")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run psql");
    let mut blocker_in = blocker.stdin.take().unwrap();
    blocker_in
        .write_all(b"BEGIN;\nSELECT count(*) FROM users;\n")
        .unwrap();
    blocker_in.flush().unwrap();
    let started = std::time::Instant::now();
    let blocker_pid = loop {
        let pid = query(
            &url,
            "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid WHERE a.application_name = 'reporting-job' AND l.relation = 'users'::regclass AND l.granted",
        );
        if !pid.is_empty() {
            break pid;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the blocking session never took its lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };

    // A reader that comes while the upgrade waits queues behind it; it must be served.
    let reader_url = url.clone();
    let reader = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let started = std::time::Instant::now();
        let out = Command::new(client("psql"))
            .args(["-X", "-q", "-A", "-t", "-d", &reader_url, "-c"])
            .arg("SELECT count(*) FROM users")
            .env("PGOPTIONS", "-c statement_timeout=60000")
            .output()
            .expect("run psql");
        (out, started.elapsed())
    });
    let run = dac(
        dir.path(),
        &[
            "upgrade",
            &v2,
            "--target",
            &url,
            "--in-place",
            "--lock-timeout",
            "1s",
        ],
    );
    let (read, waited) = reader.join().unwrap();
    assert!(
        read.status.success() && String::from_utf8_lossy(&read.stdout).trim() == "1",
        "the reader was not served: {}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert!(
        waited < std::time::Duration::from_secs(30),
        "the reader waited {waited:?}"
    );
    assert_ne!(run.code, 0, "the upgrade went through a held lock");
    assert!(run.stderr.contains("lock timeout"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("pid {blocker_pid}")) && run.stderr.contains("reporting-job"),
        "the blocker (pid {blocker_pid}, reporting-job) is not named:\n{}",
        run.stderr
    );
    assert_eq!(
        schema(&url),
        before,
        "the timed-out upgrade changed the schema"
    );
    assert_eq!(
        query(&url, "SELECT version FROM _dac.registry"),
        "1.0.0",
        "the registration moved"
    );

    // Once the blocker is gone the same upgrade goes through.
    drop(blocker_in);
    let _ = blocker.wait();
    dac(
        dir.path(),
        &[
            "upgrade",
            &v2,
            "--target",
            &url,
            "--in-place",
            "--lock-timeout",
            "1s",
        ],
    )
    .expect_code(0);
    server().drop_database(&url);
}

/// A reviewed plan on PostgreSQL: made, shown as SQL that plain psql runs, refused once the live
/// schema changed, and run exactly as made once it is back as it was.
#[test]
fn a_reviewed_plan_on_postgres_runs_as_made_or_is_refused_naming_the_change() {
    let url = server().create_database("reviewed_plan");
    let dir = tempfile::tempdir().unwrap();
    let v1 = build(
        dir.path(),
        "1.0.0",
        "CREATE TABLE orders (\n  id integer PRIMARY KEY,\n  total numeric(10,2) NOT NULL\n);\n",
    );
    let v2 = build(
        dir.path(),
        "2.0.0",
        "CREATE TABLE orders (\n  id integer PRIMARY KEY,\n  total numeric(10,2) NOT NULL,\n  note text\n);\nCREATE INDEX orders_total ON orders (total);\n",
    );
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    query(&url, "INSERT INTO orders VALUES (1, 9.50)");
    let plan = dir.path().join("plan.json").display().to_string();
    dac(dir.path(), &["plan", &v2, "--target", &url, "-o", &plan]).expect_code(0);
    let shown = dac(dir.path(), &["plan", "show", &plan, "--format", "sql"]);
    shown.expect_code(0);
    assert!(
        shown.stdout.contains("CREATE INDEX \"orders_total\""),
        "{}",
        shown.stdout
    );

    query(&url, "ALTER TABLE orders ADD COLUMN hotfix integer");
    let refused = dac(dir.path(), &["upgrade", "--plan", &plan, "--target", &url]);
    refused.expect_code(3);
    assert!(
        refused.stderr.contains("live schema: it was"),
        "{}",
        refused.stderr
    );
    assert!(!schema(&url).contains("orders_total"));

    query(&url, "ALTER TABLE orders DROP COLUMN hotfix");
    dac(dir.path(), &["upgrade", "--plan", &plan, "--target", &url]).expect_code(0);
    assert_eq!(query(&url, "SELECT id, total, note FROM orders"), "1|9.50|");
    dac(dir.path(), &["compare", &url, &v2]).expect_code(0);
    // The history says a reviewed plan ran, and how long it took.
    let history = dac(
        dir.path(),
        &["history", "--target", &url, "--format", "json"],
    );
    history.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let last = json["entries"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .starts_with("reviewed plan made "),
        "{last}"
    );
    assert!(last["duration_ms"].is_u64(), "{last}");
    dac(dir.path(), &["status", "--target", &url]).expect_code(0);
    server().drop_database(&url);
}

/// Risky, not only destructive, changes on a real server: a type change that rewrites the
/// table, an index built on a table that is there, a CHECK that reads every row. Each is a
/// hazard in the deploy report (a widening that does not rewrite is not), and `--block-on`
/// refuses the upgrade (exit 3) with nothing changed.
#[test]
fn risky_postgres_changes_are_hazards_a_policy_can_refuse() {
    let url = server().create_database("risky_changes");
    let dir = tempfile::tempdir().unwrap();
    let v1 = build(
        dir.path(),
        "1.0.0",
        "CREATE TABLE orders (\n  id integer PRIMARY KEY,\n  qty integer NOT NULL,\n  code varchar(10) NOT NULL,\n  total numeric(10,2) NOT NULL\n);\n",
    );
    let v2 = build(
        dir.path(),
        "2.0.0",
        "CREATE TABLE orders (\n  id integer PRIMARY KEY,\n  qty bigint NOT NULL,\n  code varchar(20) NOT NULL,\n  total numeric(12,2) NOT NULL,\n  CONSTRAINT qty_positive CHECK (qty > 0)\n);\nCREATE INDEX orders_total ON orders (total);\n",
    );
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    query(&url, "INSERT INTO orders VALUES (1, 3, 'a', 9.50)");
    let report = dac(
        dir.path(),
        &["deploy-report", &v2, "--target", &url, "--format", "json"],
    );
    report.expect_code(2);
    let json: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    let alerts: Vec<(String, String)> = json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |kind: &str, text: &str| alerts.iter().any(|(k, m)| k == kind && m.contains(text));
    assert!(
        has("TableRewrite", "column qty of [public].[orders] rewrites"),
        "{alerts:?}"
    );
    assert!(
        !has("TableRewrite", "column code"),
        "varchar(10) -> varchar(20) does not rewrite: {alerts:?}"
    );
    assert!(
        !has("TableRewrite", "column total"),
        "numeric(10,2) -> numeric(12,2) does not rewrite: {alerts:?}"
    );
    assert!(
        has("BlockingIndexBuild", "CREATE INDEX CONCURRENTLY"),
        "{alerts:?}"
    );
    assert!(
        has("TableScan", "checks every row of [public].[orders]"),
        "{alerts:?}"
    );

    let before = schema(&url);
    let refused = dac(
        dir.path(),
        &[
            "upgrade",
            &v2,
            "--target",
            &url,
            "--in-place",
            "--block-on",
            "TableRewrite,BlockingIndexBuild",
        ],
    );
    refused.expect_code(3);
    assert!(
        refused
            .stderr
            .contains("TableRewrite: changing the type of column qty"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(
            "BlockingIndexBuild: building [public].[orders].[orders_total] blocks writes"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(schema(&url), before, "nothing ran");
    dac(
        dir.path(),
        &["upgrade", &v2, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    assert_eq!(
        query(&url, "SELECT id, qty, code, total FROM orders"),
        "1|3|a|9.50"
    );
    server().drop_database(&url);
}

/// A statement that runs longer than `--command-timeout` (a pre-deployment script that sleeps)
/// fails the upgrade cleanly: the error says which limit, and nothing of the upgrade is left.
#[test]
fn an_in_place_upgrade_past_the_command_timeout_is_undone() {
    let url = server().create_database("command_timeout");
    let dir = tempfile::tempdir().unwrap();
    let v1 = build(
        dir.path(),
        "1.0.0",
        "CREATE TABLE users (id integer PRIMARY KEY, name text);\n",
    );
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    let before = schema(&url);
    let folder = dir.path().join("src-slow");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("schema.sql"),
        "CREATE TABLE users (id integer PRIMARY KEY, name text, email text);\n",
    )
    .unwrap();
    std::fs::write(folder.join("predeploy.sql"), "SELECT pg_sleep(30);\n").unwrap();
    let run = dac(
        dir.path(),
        &[
            "upgrade",
            folder.to_str().unwrap(),
            "--name",
            "app",
            "--version",
            "2.0.0",
            "--target",
            &url,
            "--in-place",
            "--command-timeout",
            "500ms",
        ],
    );
    assert_ne!(run.code, 0, "the upgrade outlived its command timeout");
    assert!(
        run.stderr.contains("command timeout"),
        "the error does not say which limit:\n{}",
        run.stderr
    );
    assert_eq!(
        schema(&url),
        before,
        "the timed-out upgrade changed the schema"
    );
    assert_eq!(
        query(&url, "SELECT version FROM _dac.registry"),
        "1.0.0",
        "the registration moved"
    );
    server().drop_database(&url);
}

/// `dac rollback` and `dac recover` take `--lock-timeout` (the wait for another run's upgrade
/// lock) and refuse `--command-timeout` with a reason, never ignore it.
#[test]
fn rollback_and_recover_take_the_lock_timeout() {
    let url = server().create_database("rollback_timeouts");
    let dir = tempfile::tempdir().unwrap();
    let v1 = build(
        dir.path(),
        "1.0.0",
        "CREATE TABLE users (id integer PRIMARY KEY);\n",
    );
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    let run = dac(
        dir.path(),
        &["recover", "--target", &url, "--lock-timeout", "2s"],
    );
    run.expect_code(0);
    let run = dac(
        dir.path(),
        &["rollback", "--target", &url, "--lock-timeout", "2s"],
    );
    assert!(
        run.stderr.contains("no side-by-side upgrade to roll back"),
        "{}",
        run.stderr
    );
    for command in ["recover", "rollback"] {
        let run = dac(
            dir.path(),
            &[command, "--target", &url, "--command-timeout", "2s"],
        );
        assert_ne!(run.code, 0, "{command}");
        assert!(
            run.stderr.contains("--command-timeout does not apply"),
            "{command}: {}",
            run.stderr
        );
    }
    server().drop_database(&url);
}

/// A failed or refused first deployment leaves nothing behind on PostgreSQL either: the database
/// dac created for it is dropped, and an existing empty database is left as it was (no registry
/// schema, no tables).
#[test]
fn a_failed_first_deployment_leaves_nothing_behind_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("bad");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("schema.sql"),
        "CREATE TABLE users (id integer PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("postdeploy.sql"),
        "INSERT INTO nowhere VALUES (1);\n",
    )
    .unwrap();
    let deploy = |url: &str| {
        dac(
            dir.path(),
            &[
                "upgrade",
                folder.to_str().unwrap(),
                "--target",
                url,
                "--in-place",
                "--name",
                "app",
                "--version",
                "1.0.0",
            ],
        )
    };
    // A SQL Server package: refused for a PostgreSQL target.
    let sqlserver = dir.path().join("mssql");
    std::fs::create_dir(&sqlserver).unwrap();
    std::fs::write(
        sqlserver.join("schema.sql"),
        "CREATE TABLE dbo.t (id int);\n",
    )
    .unwrap();
    let mssql = dir.path().join("mssql.dacpac");
    dac(
        dir.path(),
        &[
            "build",
            sqlserver.to_str().unwrap(),
            "--platform",
            "sqlserver",
            "-o",
            mssql.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let refuse = |url: &str| {
        dac(
            dir.path(),
            &[
                "upgrade",
                mssql.to_str().unwrap(),
                "--target",
                url,
                "--in-place",
            ],
        )
    };
    let exists = |name: &str| {
        query(
            &server().url("postgres"),
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
        ) == "1"
    };

    // A database dac creates for the deployment.
    let name = format!("dac_t_first_deploy_{}", std::process::id());
    let url = server().url(&name);
    assert!(!exists(&name));
    deploy(&url).expect_code(1);
    assert!(!exists(&name), "the failed first deployment left {name}");
    refuse(&url).expect_code(3);
    assert!(!exists(&name), "the refused first deployment left {name}");

    // An existing empty database.
    let url = server().create_database("first_deploy_empty");
    deploy(&url).expect_code(1);
    refuse(&url).expect_code(3);
    assert_eq!(
        query(
            &url,
            "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public')"
        ),
        "0",
        "a schema was left in the empty database"
    );
    assert_eq!(
        query(
            &url,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        ),
        "0",
        "a table was left in the empty database"
    );
    server().drop_database(&url);
}

/// A renamed table (`-- @renamed from=OLD`) whose primary key another table's foreign key
/// references, with a CHECK and an index: renamed in place, its constraints (named by the
/// server after the old table) renamed with it, the foreign key left alone, the rows kept.
#[test]
fn renamed_annotations_keep_a_postgres_table_with_its_constraints() {
    let url = server().create_database("pg_renamed_table");
    let dir = tempfile::tempdir().unwrap();
    let v1 = build(
        dir.path(),
        "1.0.0",
        "CREATE TABLE customers (\n  id integer PRIMARY KEY,\n  name text NOT NULL CHECK (length(name) > 0)\n);\nCREATE INDEX customers_name_idx ON customers (name);\nCREATE TABLE orders (\n  id integer PRIMARY KEY,\n  customer_id integer NOT NULL REFERENCES customers (id)\n);\n",
    );
    let v2 = build(
        dir.path(),
        "2.0.0",
        "CREATE TABLE clients ( -- @renamed from=customers\n  id integer PRIMARY KEY,\n  name text NOT NULL CHECK (length(name) > 0)\n);\nCREATE INDEX clients_name_idx ON clients (name);\nCREATE TABLE orders (\n  id integer PRIMARY KEY,\n  customer_id integer NOT NULL REFERENCES clients (id)\n);\n",
    );
    dac(
        dir.path(),
        &["upgrade", &v1, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    query(&url, "INSERT INTO customers VALUES (1, 'ada')");
    query(&url, "INSERT INTO orders VALUES (10, 1)");
    let script = dac(dir.path(), &["script", &v2, "--target", &url]);
    script.expect_code(0);
    for dropped in [
        "DROP CONSTRAINT",
        "DROP TABLE",
        "ADD CONSTRAINT",
        "CREATE TABLE",
    ] {
        assert!(
            !script.stdout.contains(dropped),
            "the rename re-creates what it should keep ({dropped}):\n{}",
            script.stdout
        );
    }
    dac(
        dir.path(),
        &["upgrade", &v2, "--target", &url, "--in-place"],
    )
    .expect_code(0);
    assert_eq!(query(&url, "SELECT id, name FROM clients"), "1|ada");
    assert_eq!(query(&url, "SELECT id, customer_id FROM orders"), "10|1");
    dac(dir.path(), &["compare", &url, &v2]).expect_code(0);
    server().drop_database(&url);
}
