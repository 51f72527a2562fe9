//! The `dac` binary against a real PostgreSQL server, as a user runs it: scripts `dac script`
//! writes run with plain `psql`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use dac_tests::binary::dac_binary;
use dac_tests::postgres::{client, dump_schema, server};

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

/// One query's rows, `|`-separated, through psql.
fn query(url: &str, sql: &str) -> String {
    let out = Command::new(client("psql"))
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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
