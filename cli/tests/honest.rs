//! What dac says is what works: refusal hints name the option that helps, failures leave
//! nothing behind, registrations match their databases, notes go to stderr, `-o -` is stdout.

use std::path::Path;

use crate::util::{build_sqlite_schema, dac};

fn upgrade(dir: &Path, package: &str, target: &str, extra: &[&str]) -> crate::util::Run {
    let mut args = vec!["upgrade", package, "--target", target, "--in-place"];
    args.extend_from_slice(extra);
    dac(dir, &args)
}

const V1: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY);\n";
const V2_NOT_NULL: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT NOT NULL);\n";

#[test]
fn a_not_null_refusal_names_smart_defaults_which_works() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_sqlite_schema(dir.path(), "1.0.0", V1);
    let v2 = build_sqlite_schema(dir.path(), "2.0.0", V2_NOT_NULL);
    let db = dir.path().join("app.db");
    let target = format!("sqlite:{}", db.display());
    upgrade(dir.path(), &v1, &target, &[]).expect_code(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("INSERT INTO t VALUES (1)").unwrap();
    drop(conn);
    let refused = upgrade(dir.path(), &v2, &target, &[]);
    refused.expect_code(3);
    assert!(
        refused.stderr.contains("--smart-defaults"),
        "{}",
        refused.stderr
    );
    // Allowing data loss does not fill the rows: still refused, with the same hint, rather
    // than a raw NOT NULL failure.
    let still = upgrade(dir.path(), &v2, &target, &["--allow-data-loss"]);
    still.expect_code(3);
    assert!(
        still.stderr.contains("--smart-defaults"),
        "{}",
        still.stderr
    );
    upgrade(dir.path(), &v2, &target, &["--smart-defaults"]).expect_code(0);
}

#[test]
fn a_failed_first_deployment_leaves_no_database_file_and_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("bad");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("schema.sql"), V1).unwrap();
    std::fs::write(
        folder.join("postdeploy.sql"),
        "INSERT INTO nowhere VALUES (1);\n",
    )
    .unwrap();
    let db = dir.path().join("new.db");
    let target = format!("sqlite:{}", db.display());
    let run = dac(
        dir.path(),
        &[
            "upgrade",
            folder.to_str().unwrap(),
            "--target",
            &target,
            "--in-place",
            "--name",
            "app",
            "--version",
            "1.0.0",
        ],
    );
    run.expect_code(1);
    // A refused one too: a SQL Server package for a SQLite target.
    let sqlserver = dir.path().join("mssql");
    std::fs::create_dir(&sqlserver).unwrap();
    std::fs::write(
        sqlserver.join("schema.sql"),
        "CREATE TABLE dbo.t (id int);\n",
    )
    .unwrap();
    let package = dir.path().join("mssql.dacpac");
    dac(
        dir.path(),
        &[
            "build",
            sqlserver.to_str().unwrap(),
            "--platform",
            "sqlserver",
            "-o",
            package.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    upgrade(dir.path(), package.to_str().unwrap(), &target, &[]).expect_code(3);
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("new.db"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn register_refuses_a_package_the_database_does_not_match_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_sqlite_schema(dir.path(), "1.0.0", V1);
    let v2 = build_sqlite_schema(dir.path(), "2.0.0", V2_NOT_NULL);
    let db = dir.path().join("app.db");
    let target = format!("sqlite:{}", db.display());
    upgrade(dir.path(), &v1, &target, &[]).expect_code(0);
    let refused = dac(dir.path(), &["register", "--target", &target, &v2]);
    refused.expect_code(3);
    assert!(
        refused.stderr.contains("[main].[t]") && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    let report = dac(
        dir.path(),
        &["drift-report", "--target", &target, "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(
        json["registered"]["version"], "1.0.0",
        "the registration moved"
    );
    // A matching package registers; a forced one shows what differs.
    dac(dir.path(), &["register", "--target", &target, &v1]).expect_code(0);
    let forced = dac(
        dir.path(),
        &["register", "--target", &target, &v2, "--force"],
    );
    forced.expect_code(0);
    assert!(forced.stderr.contains("[main].[t]"), "{}", forced.stderr);
}

#[test]
fn building_a_plain_folder_without_a_platform_fails_and_suggests_one() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("schema");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("schema.sql"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);\n",
    )
    .unwrap();
    let run = dac(
        dir.path(),
        &["build", folder.to_str().unwrap(), "-o", "x.dacpac"],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("--platform sqlite"), "{}", run.stderr);
    assert!(!dir.path().join("x.dacpac").exists());
}

#[test]
fn a_missing_file_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = dac(dir.path(), &["info", "nope.dacpac"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn notes_go_to_stderr_and_dash_output_is_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_sqlite_schema(dir.path(), "1.0.0", V1);
    // A rebuild of t (SQLite cannot add the key in place): a note.
    let v2 = build_sqlite_schema(
        dir.path(),
        "2.0.0",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT NOT NULL DEFAULT 'x');\n",
    );
    let db = dir.path().join("app.db");
    let target = format!("sqlite:{}", db.display());
    upgrade(dir.path(), &v1, &target, &[]).expect_code(0);
    let script = dac(dir.path(), &["script", &v2, "--target", &target, "-o", "-"]);
    script.expect_code(0);
    assert!(
        script.stdout.contains("-- dac upgrade script for SQLite"),
        "{}",
        script.stdout
    );
    assert!(
        !dir.path().join("-").exists(),
        "`-o -` wrote a file named -"
    );
    let run = upgrade(dir.path(), &v2, &target, &[]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("note:"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains("note:"), "{}", run.stdout);
    // A package on stdout: the bytes of a zip, the summary on stderr.
    let folder = dir.path().join("src-1.0.0");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dac"))
        .args([
            "build",
            folder.to_str().unwrap(),
            "--platform",
            "sqlite",
            "-o",
            "-",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"PK"), "not a package on stdout");
    assert!(String::from_utf8_lossy(&out.stderr).contains("built"));
    assert!(
        !dir.path().join("-").exists(),
        "`-o -` wrote a file named -"
    );
}

/// A SQL Server package with objects dac cannot create (AdventureWorks' full-text catalog and
/// indexes, its database DDL trigger) is refused by name with exit 3; with
/// `--leave-out-uncreatable` the script is written and each object left out is a warning on
/// stderr. No script holds a `-- dac cannot create` comment.
#[test]
fn uncreatable_objects_refuse_the_script_unless_left_out_by_name() {
    let Some((package, empty)) = adventureworks_and_empty() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("aw.sql").display().to_string();
    let args = ["script", &package, "--target", &empty, "-o", &out];
    let refused = dac(dir.path(), &args);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    for object in [
        "SqlFullTextCatalog [AW2008FullTextCatalog]",
        "SqlFullTextIndex [HumanResources].[JobCandidate]",
        "SqlDatabaseDdlTrigger [ddlDatabaseTriggerLog]",
        "--leave-out-uncreatable",
    ] {
        assert!(
            refused.stderr.contains(object),
            "{object}: {}",
            refused.stderr
        );
    }
    assert!(!Path::new(&out).exists(), "a refused script was written");
    let mut args = args.to_vec();
    args.push("--leave-out-uncreatable");
    let written = dac(dir.path(), &args);
    assert_eq!(written.code, 0, "{}", written.stderr);
    assert_eq!(
        written.stderr.matches("warning: left out").count(),
        6,
        "{}",
        written.stderr
    );
    let script = std::fs::read_to_string(&out).unwrap();
    assert!(!script.contains("-- dac cannot create"));
    assert!(script.contains("CREATE TYPE [dbo].[Name] FROM NVARCHAR (50) NULL;"));
}

/// AdventureWorks and an empty package from the corpus (paths), or `None` after saying loudly
/// that the test did not run (an error where `DAC_REQUIRE_SHARED` asks for `../shared`).
fn adventureworks_and_empty() -> Option<(String, String)> {
    let corpus = crate::util::root().join("../shared/corpus/dacpac");
    if !corpus.is_dir() {
        eprintln!("*** NOT RUN: the corpus packages need ../shared ***");
        assert!(
            std::env::var_os("DAC_REQUIRE_SHARED").is_none(),
            "../shared is required"
        );
        return None;
    }
    let package = corpus.join("ErikEJ__EFCorePowerTools/AdventureWorks.dacpac");
    let empty = corpus.join("Herdo__SSDTLifecycleExtension/TestDatabase_Empty.dacpac");
    Some((package.display().to_string(), empty.display().to_string()))
}

/// `dac deploy-report` names each object of the package dac cannot create, with why, in every
/// format (XML: SqlPackage's `UnsupportedObject` alerts): written either way, exit 3 unless
/// `--leave-out-uncreatable` lets the script through (then each is a warning too).
#[test]
fn the_deploy_report_names_the_objects_dac_cannot_create() {
    let Some((package, empty)) = adventureworks_and_empty() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let objects = [
        "SqlFullTextCatalog [AW2008FullTextCatalog]: ",
        "SqlFullTextIndex [HumanResources].[JobCandidate]: ",
        "SqlDatabaseDdlTrigger [ddlDatabaseTriggerLog]: ",
    ];
    let report = |format: &str, leave_out: bool| {
        let mut args = vec![
            "deploy-report",
            &package,
            "--target",
            &empty,
            "--format",
            format,
        ];
        if leave_out {
            args.push("--leave-out-uncreatable");
        }
        dac(dir.path(), &args)
    };
    let refused = report("text", false);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--leave-out-uncreatable"),
        "{}",
        refused.stderr
    );
    let allowed = report("text", true);
    assert_eq!(
        allowed.code, 2,
        "differences, nothing refused: {}",
        allowed.stderr
    );
    assert_eq!(
        allowed.stderr.matches("warning: left out").count(),
        6,
        "{}",
        allowed.stderr
    );
    for run in [&refused, &allowed] {
        assert!(
            run.stdout.contains("not created, dac cannot create them"),
            "{}",
            run.stdout
        );
        for object in objects {
            assert!(run.stdout.contains(object), "{object}: {}", run.stdout);
        }
    }
    let json = report("json", true);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let not_created = value["not_created"].as_array().expect("not_created");
    assert_eq!(not_created.len(), 6, "{value}");
    assert!(
        not_created
            .iter()
            .all(|o| o["reason"].as_str().is_some_and(|r| !r.is_empty())),
        "each with why: {value}"
    );
    let xml = report("xml", true);
    assert!(
        xml.stdout.contains("<Alert Name=\"UnsupportedObject\">"),
        "{}",
        xml.stdout
    );
    assert!(
        xml.stdout
            .contains("SqlFullTextIndex [HumanResources].[JobCandidate]: "),
        "{}",
        xml.stdout
    );
    let markdown = report("markdown", true);
    assert!(
        markdown.stdout.contains("> [!CAUTION]"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown.stdout.contains("SqlDatabaseDdlTrigger"),
        "{}",
        markdown.stdout
    );
}
