//! The ways in DBAs already know, through the binary on real SQLite files: publish profiles
//! (the corpus's four load; properties map to dac's options; the command line wins; what dac
//! does not implement is named), the target from `DAC_TARGET` or `--target-env`, shell
//! completions and the man page.

use std::path::{Path, PathBuf};

use crate::util::{build_sqlite_schema, dac, dac_env, root};

/// v1 of a small app: customers with a fax column v2 drops, and an archive table v2 lacks.
const V1: &str = "
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, fax TEXT);
CREATE TABLE archive (id INTEGER PRIMARY KEY, note TEXT);
";

/// v2: no fax, an email; no archive.
const V2: &str = "
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
";

/// A SQLite database at v1 holding a customer with a fax (so dropping fax loses data).
fn v1_database(dir: &Path) -> (String, String) {
    let v1 = build_sqlite_schema(dir, "1.0.0", V1);
    let v2 = build_sqlite_schema(dir, "2.0.0", V2);
    let db = dir.join("app.db").display().to_string();
    dac(dir, &["upgrade", "--in-place", &v1, "--target", &db]).expect_code(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO customers (id, name, fax) VALUES (1, 'a', '555')",
        [],
    )
    .unwrap();
    (db, v2)
}

/// A publish profile with these properties (name, value).
fn profile(dir: &Path, name: &str, properties: &[(&str, &str)], variables: &str) -> String {
    let props: String = properties
        .iter()
        .map(|(n, v)| format!("    <{n}>{v}</{n}>\n"))
        .collect();
    let text = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Project ToolsVersion=\"Current\" xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\">\n  <PropertyGroup>\n{props}  </PropertyGroup>\n  <ItemGroup>{variables}</ItemGroup>\n</Project>\n"
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The corpus's publish profiles, in `../shared` beside the repository.
fn corpus_profile(path: &str) -> Option<PathBuf> {
    let shared = root().join("../shared/corpus/sqlproj");
    if !shared.is_dir() {
        eprintln!("*** NOT RUN: the corpus publish profiles need ../shared ***");
        assert!(
            std::env::var_os("DAC_REQUIRE_SHARED").is_none(),
            "../shared is required"
        );
        return None;
    }
    let path = shared.join(path);
    assert!(path.exists(), "{} is gone from the corpus", path.display());
    Some(path)
}

#[test]
fn corpus_profiles_load_or_name_what_dac_does_not_implement() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v2) = v1_database(dir.path());
    // (profile, the properties dac does not implement in it)
    let cases: [(&str, &[&str]); 4] = [
        (
            "maciejw__dacpac-data-migrations/Database/Database/Database.publish.xml",
            &[],
        ),
        (
            "NowinskiK__ssdt-training/src/Variables/ContosoRetailDW/Deployment/ContosoRetailDW-DEV.publish.xml",
            &[],
        ),
        (
            "microsoft__sql-server-samples/samples/databases/wide-world-importers/wwi-dw-ssdt/wwi-dw-ssdt/WideWorldImportersDW.publish.xml",
            &["CreateNewDatabase=True"],
        ),
        (
            "NowinskiK__ssdt-training/src/Compare/WideWorldImporters/WideWorldImportersNew.publish.xml",
            &["AllowIncompatiblePlatform=True"],
        ),
    ];
    for (path, unsupported) in cases {
        let Some(path) = corpus_profile(path) else {
            return;
        };
        let path = path.display().to_string();
        // The command line's --target overrides the profile's SQL Server connection.
        let args = ["script", v2.as_str(), "--target", &db, "--profile", &path];
        let run = dac(dir.path(), &args);
        if unsupported.is_empty() {
            run.expect_code(0);
            assert!(run.stdout.contains("customers"), "{}", run.stdout);
            continue;
        }
        run.expect_code(1);
        let line = run.stderr.lines().next().unwrap_or_default();
        let named = line
            .split("dac does not implement ")
            .nth(1)
            .and_then(|rest| rest.split(" (").next())
            .unwrap_or_default();
        assert_eq!(named, unsupported.join(", "), "{}", run.stderr);
        // With the opt-in, each is a warning naming it, and the script is written.
        let mut args = args.to_vec();
        args.push("--profile-ignore-unsupported");
        let run = dac(dir.path(), &args);
        run.expect_code(0);
        for property in unsupported {
            assert!(
                run.stderr
                    .contains(&format!("dac does not implement {property}; ignored")),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn profile_properties_map_to_options_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v2) = v1_database(dir.path());
    let keep = profile(
        dir.path(),
        "keep.publish.xml",
        &[
            ("TargetConnectionString", &db),
            ("DropObjectsNotInSource", "False"),
            ("BlockOnPossibleDataLoss", "True"),
            ("ProfileVersionNumber", "1"),
        ],
        "",
    );
    // The target comes from the profile; archive is kept (DropObjectsNotInSource=False).
    let run = dac(dir.path(), &["script", &v2, "--profile", &keep]);
    run.expect_code(0);
    assert!(!run.stdout.contains("archive"), "{}", run.stdout);
    // The command line overrides the profile.
    let run = dac(
        dir.path(),
        &[
            "script",
            &v2,
            "--profile",
            &keep,
            "--drop-objects-not-in-source=true",
        ],
    );
    run.expect_code(0);
    assert!(run.stdout.contains("archive"), "{}", run.stdout);
    // BlockOnPossibleDataLoss=True: the upgrade that drops a fax in use is refused (exit 3).
    dac(
        dir.path(),
        &["upgrade", "--in-place", &v2, "--profile", &keep],
    )
    .expect_code(3);
    // BlockOnPossibleDataLoss=False lets it through, on the profile's target.
    let lossy = profile(
        dir.path(),
        "lossy.publish.xml",
        &[
            ("TargetConnectionString", &db),
            ("BlockOnPossibleDataLoss", "False"),
            ("DropObjectsNotInSource", "True"),
        ],
        "<SqlCmdVariable Include=\"Env\"><Value>DEV</Value></SqlCmdVariable>",
    );
    dac(
        dir.path(),
        &["upgrade", "--in-place", &v2, "--profile", &lossy],
    )
    .expect_code(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let archives: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'archive'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(archives, 0);
    // A property dac does not know is an error naming it; a bad value names the property.
    let odd = profile(
        dir.path(),
        "odd.publish.xml",
        &[("ScriptDatabaseCompatibility", "True"), ("Foo", "1")],
        "",
    );
    let run = dac(
        dir.path(),
        &["deploy-report", &v2, "--target", &db, "--profile", &odd],
    );
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("ScriptDatabaseCompatibility=True, Foo=1"),
        "{}",
        run.stderr
    );
    let bad = profile(
        dir.path(),
        "bad.publish.xml",
        &[("IgnoreWhitespace", "maybe")],
        "",
    );
    let run = dac(
        dir.path(),
        &["script", &v2, "--target", &db, "--profile", &bad],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("IgnoreWhitespace"), "{}", run.stderr);
}

#[test]
fn the_target_from_dac_target_or_target_env_and_passwords_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_sqlite_schema(dir.path(), "1.0.0", V1);
    let db = dir.path().join("env.db").display().to_string();
    // DAC_TARGET when --target is not given.
    dac_env(
        dir.path(),
        &["upgrade", "--in-place", &v1],
        &[("DAC_TARGET", &db)],
    )
    .expect_code(0);
    assert!(Path::new(&db).exists());
    // --target-env NAME reads the named variable (and wins over DAC_TARGET).
    let run = dac_env(
        dir.path(),
        &["drift-report", "--target-env", "APP_DB", "--format", "text"],
        &[("APP_DB", &db), ("DAC_TARGET", "elsewhere.db")],
    );
    run.expect_code(0);
    // Nothing given: the error says where a target comes from.
    let run = dac(dir.path(), &["drift-report"]);
    run.expect_code(1);
    assert!(run.stderr.contains("DAC_TARGET"), "{}", run.stderr);
    let run = dac(
        dir.path(),
        &["drift-report", "--target-env", "NOT_SET_HERE"],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("NOT_SET_HERE"), "{}", run.stderr);
    // A connection that fails never shows its password.
    let secret = "postgres://app:s3cr3t-pw@127.0.0.1:1/app?connect_timeout=2";
    let run = dac_env(dir.path(), &["drift-report"], &[("DAC_TARGET", secret)]);
    run.expect_code(1);
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
    assert!(!run.stdout.contains("s3cr3t"), "{}", run.stdout);
}

#[test]
fn completions_and_man_page_generate() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = dac(dir.path(), &["completions", shell]);
        run.expect_code(0);
        assert!(run.stdout.contains("upgrade"), "{shell}: {}", run.stdout);
    }
    let run = dac(dir.path(), &["man"]);
    run.expect_code(0);
    assert!(run.stdout.contains(".TH"), "{}", run.stdout);
    assert!(run.stdout.contains("upgrade"));
    assert!(
        run.stdout.contains("\\-\\-profile"),
        "the subcommands' pages"
    );
}

#[test]
fn sqlpackage_command_lines_run_through_the_same_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v2) = v1_database(dir.path());
    let d = dir.path();
    let tcs = format!("/TargetConnectionString:{db}");
    let sf = format!("/SourceFile:{v2}");
    // Script, short forms: SqlPackage keeps what the package lacks unless told.
    let out = d.join("keep.sql").display().to_string();
    dac(
        d,
        &[
            "sqlpackage",
            "/a:Script",
            &sf,
            &format!("/tcs:{db}"),
            &format!("/op:{out}"),
        ],
    )
    .expect_code(0);
    let script = std::fs::read_to_string(&out).unwrap();
    assert!(
        script.contains("customers") && !script.contains("archive"),
        "{script}"
    );
    let out = d.join("drop.sql").display().to_string();
    dac(
        d,
        &[
            "sqlpackage",
            "/Action:Script",
            &sf,
            &tcs,
            &format!("/OutputPath:{out}"),
            "/p:DropObjectsNotInSource=True",
        ],
    )
    .expect_code(0);
    assert!(std::fs::read_to_string(&out).unwrap().contains("archive"));
    // DeployReport: SqlPackage's exit code 0 with changes; dac's 2 when asked.
    let report = d.join("report.xml").display().to_string();
    let args = [
        "sqlpackage",
        "/Action:DeployReport",
        &sf,
        &tcs,
        &format!("/OutputPath:{report}"),
    ];
    dac(d, &args).expect_code(0);
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("<DeploymentReport")
    );
    let mut with_codes = args.to_vec();
    with_codes.push("--dac-exit-codes");
    dac(d, &with_codes).expect_code(2);
    // Publish refused for data loss: SqlPackage's 1 (dac's 3 when asked).
    let publish = ["sqlpackage", "/Action:Publish", &sf, &tcs];
    let run = dac(d, &publish);
    run.expect_code(1);
    let mut with_codes = publish.to_vec();
    with_codes.push("--dac-exit-codes");
    dac(d, &with_codes).expect_code(3);
    // What dac cannot do is an error naming it.
    let run = dac(
        d,
        &[
            "sqlpackage",
            "/Action:Publish",
            &sf,
            &tcs,
            "/Diagnostics:True",
        ],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("/Diagnostics"), "{}", run.stderr);
    let run = dac(
        d,
        &[
            "sqlpackage",
            "/Action:Publish",
            &sf,
            &tcs,
            "/p:VerifyDeployment=False",
        ],
    );
    run.expect_code(1);
    assert!(
        run.stderr.contains("VerifyDeployment=False"),
        "{}",
        run.stderr
    );
    let run = dac(d, &["sqlpackage", "/Action:Export", &sf, &tcs]);
    run.expect_code(1);
    assert!(run.stderr.contains("Export"), "{}", run.stderr);
    // Publish, as the DacFx docs write it, with a data-loss property and a variable: upgraded.
    let script = d.join("publish.sql").display().to_string();
    dac(
        d,
        &[
            "sqlpackage",
            "/Action:Publish",
            &sf,
            &tcs,
            "/p:BlockOnPossibleDataLoss=false",
            "/p:CommandTimeout=600",
            "/v:Env=prod",
            &format!("/DeployScriptPath:{script}"),
        ],
    )
    .expect_code(0);
    assert!(Path::new(&script).exists());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let email: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('customers') WHERE name = 'email'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(email, 1);
    // DriftReport and Extract of the published database.
    let drift = d.join("drift.xml").display().to_string();
    dac(
        d,
        &[
            "sqlpackage",
            "/a:DriftReport",
            &tcs,
            &format!("/op:{drift}"),
        ],
    )
    .expect_code(0);
    assert!(std::fs::read_to_string(&drift).unwrap().contains("<"));
    let extracted = d.join("extracted.dacpac").display().to_string();
    dac(
        d,
        &[
            "sqlpackage",
            "/Action:Extract",
            &format!("/SourceConnectionString:{db}"),
            &format!("/TargetFile:{extracted}"),
        ],
    )
    .expect_code(0);
    assert!(Path::new(&extracted).exists());
}

/// Names of the tables in a SQLite database, sorted.
fn tables(db: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_dac%' ESCAPE '\\' ORDER BY name")
        .unwrap();
    stmt.query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_reviewed_plan_runs_exactly_as_shown_and_is_refused_once_anything_it_was_made_from_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v2) = v1_database(dir.path());
    let plan = dir.path().join("plan.json").display().to_string();

    // Dropping fax loses data: the plan records the user's allowance, and the rows are checked
    // again when it runs.
    dac(dir.path(), &["plan", &v2, "--target", &db, "-o", &plan]).expect_code(0);
    let refused = dac(dir.path(), &["upgrade", "--plan", &plan, "--target", &db]);
    refused.expect_code(3);
    assert!(
        refused.stderr.contains("[main].[customers].[fax]"),
        "{}",
        refused.stderr
    );

    dac(
        dir.path(),
        &[
            "plan",
            &v2,
            "--target",
            &db,
            "--allow-data-loss",
            "-o",
            &plan,
        ],
    )
    .expect_code(0);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(json["format"], 1);
    assert_eq!(json["registration"]["version"], "1.0.0");
    assert_eq!(json["allow_data_loss"], true);
    assert!(json["live_schema"].as_str().unwrap().len() == 64);

    // Shown for a reviewer: the hazard, the steps, the SQL.
    let text = dac(dir.path(), &["plan", "show", &plan]);
    text.expect_code(0);
    assert!(
        text.stdout.contains("DataLoss [main].[customers].[fax]"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("DropTable SqlTable [main].[archive]"),
        "{}",
        text.stdout
    );
    let markdown = dac(dir.path(), &["plan", "show", &plan, "--format", "markdown"]);
    assert!(
        markdown.stdout.contains("| live schema (sqlite) |"),
        "{}",
        markdown.stdout
    );
    assert!(markdown.stdout.contains("```sql"), "{}", markdown.stdout);
    let sql = dac(dir.path(), &["plan", "show", &plan, "--format", "sql"]);
    assert!(
        sql.stdout.contains("DROP TABLE \"archive\""),
        "{}",
        sql.stdout
    );

    // Options are fixed by the plan: giving them again is an error, not silently unused.
    let with_options = dac(
        dir.path(),
        &[
            "upgrade",
            "--plan",
            &plan,
            "--target",
            &db,
            "--smart-defaults",
        ],
    );
    with_options.expect_code(1);
    assert!(
        with_options
            .stderr
            .contains("--smart-defaults cannot be given with --plan")
    );

    // Another package than the plan's is refused, naming it.
    let v3 = build_sqlite_schema(dir.path(), "3.0.0", V2);
    let other = dac(
        dir.path(),
        &["upgrade", v3.as_str(), "--plan", &plan, "--target", &db],
    );
    other.expect_code(3);
    assert!(
        other
            .stderr
            .contains("package: the plan was made for app 2.0.0"),
        "{}",
        other.stderr
    );

    // A change to the live schema after the plan was made is refused, naming it; nothing ran.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("CREATE TABLE hotfix (id INTEGER PRIMARY KEY)", [])
        .unwrap();
    let changed = dac(dir.path(), &["upgrade", "--plan", &plan, "--target", &db]);
    changed.expect_code(3);
    assert!(
        changed.stderr.contains("live schema: it was"),
        "{}",
        changed.stderr
    );
    assert_eq!(tables(&db), ["archive", "customers", "hotfix"]);
    conn.execute("DROP TABLE hotfix", []).unwrap();
    drop(conn);

    // Back as it was: the plan runs, from the package path it recorded, and says so in history.
    let ran = dac(dir.path(), &["upgrade", "--plan", &plan, "--target", &db]);
    ran.expect_code(0);
    assert!(ran.stdout.contains("app 1.0.0 -> 2.0.0"), "{}", ran.stdout);
    assert_eq!(tables(&db), ["customers"]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let message: String = conn
        .query_row(
            "SELECT message FROM _dac_history ORDER BY rowid DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(message.starts_with("reviewed plan made "), "{message}");
    dac(dir.path(), &["compare", &v2, &db]).expect_code(0);

    // Run twice, the plan is stale: the registration moved on.
    let again = dac(dir.path(), &["upgrade", "--plan", &plan, "--target", &db]);
    again.expect_code(3);
    assert!(
        again
            .stderr
            .contains("registration: app 1.0.0 when the plan was made, app 2.0.0 now"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_plan_applied_by_hand_with_sqlite3_is_then_registered() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v2) = v1_database(dir.path());
    let plan = dir.path().join("plan.json").display().to_string();
    dac(
        dir.path(),
        &[
            "plan",
            &v2,
            "--target",
            &db,
            "--allow-data-loss",
            "-o",
            &plan,
        ],
    )
    .expect_code(0);
    let sql = dir.path().join("plan.sql");
    dac(
        dir.path(),
        &[
            "plan",
            "show",
            &plan,
            "--format",
            "sql",
            "-o",
            sql.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let status = std::process::Command::new("sqlite3")
        .arg(&db)
        .stdin(std::fs::File::open(&sql).unwrap())
        .status()
        .expect("the sqlite3 shell must be installed (scripts/test.sh installs it)");
    assert!(status.success());
    assert_eq!(tables(&db), ["customers"]);
    dac(dir.path(), &["register", &v2, "--target", &db]).expect_code(0);
    dac(
        dir.path(),
        &["drift-report", "--target", &db, "--format", "text"],
    )
    .expect_code(0);
}

#[test]
fn history_and_status_say_what_dac_did_and_what_needs_attention() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v2) = v1_database(dir.path());
    dac(
        dir.path(),
        &[
            "upgrade",
            "--in-place",
            &v2,
            "--target",
            &db,
            "--allow-data-loss",
        ],
    )
    .expect_code(0);

    let history = dac(
        dir.path(),
        &["history", "--target", &db, "--format", "json"],
    );
    history.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["registration"]["version"], "2.0.0");
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", history.stdout);
    assert_eq!(entries[0]["action"], "deploy");
    assert_eq!(entries[1]["action"], "upgrade");
    assert_eq!(entries[1]["version_before"], "1.0.0");
    assert_eq!(entries[1]["version_after"], "2.0.0");
    assert!(entries[1]["duration_ms"].is_u64(), "{}", history.stdout);
    let text = dac(dir.path(), &["history", "--target", &db]);
    assert!(
        text.stdout
            .contains("upgrade      success  app 1.0.0 -> 2.0.0"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("data loss allowed by"),
        "{}",
        text.stdout
    );
    let markdown = dac(
        dir.path(),
        &["history", "--target", &db, "--format", "markdown"],
    );
    assert!(
        markdown.stdout.contains("| when (UTC) | action |"),
        "{}",
        markdown.stdout
    );

    // Registered and as registered: exit 0.
    let status = dac(dir.path(), &["status", "--target", &db]);
    status.expect_code(0);
    assert!(
        status.stdout.contains("registered:         app 2.0.0"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("drift:              none"),
        "{}",
        status.stdout
    );

    // Drifted: exit 2, and the change named.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("CREATE TABLE hotfix (id INTEGER PRIMARY KEY)", [])
        .unwrap();
    let drifted = dac(dir.path(), &["status", "--target", &db, "--format", "json"]);
    drifted.expect_code(2);
    let json: serde_json::Value = serde_json::from_str(&drifted.stdout).unwrap();
    let drift: Vec<&str> = json["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        drift.contains(&"create SqlTable [main].[hotfix]"),
        "{drift:?}"
    );
    conn.execute("DROP TABLE hotfix", []).unwrap();
    drop(conn);

    // A side-by-side upgrade retains the original: status names it for `dac rollback`.
    let v3 = build_sqlite_schema(
        dir.path(),
        "3.0.0",
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, phone TEXT);\n",
    );
    dac(
        dir.path(),
        &["upgrade", "--side-by-side", "-q", &v3, "--target", &db],
    )
    .expect_code(0);
    let after = dac(dir.path(), &["status", "--target", &db, "--format", "json"]);
    after.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    let retained = json["retained_original"].as_str().unwrap();
    assert!(
        dir.path().join(retained).exists() || std::path::Path::new(retained).exists(),
        "{retained}"
    );
    assert_eq!(json["interrupted"], serde_json::Value::Null);
    assert_eq!(json["last"]["action"], "side-by-side");

    // Not registered at all.
    let empty = dir.path().join("empty.db").display().to_string();
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute("CREATE TABLE t (a)", [])
        .unwrap();
    let unregistered = dac(dir.path(), &["status", "--target", &empty]);
    unregistered.expect_code(0);
    assert!(
        unregistered.stdout.contains("not registered"),
        "{}",
        unregistered.stdout
    );
}

#[test]
fn status_reports_an_interrupted_side_by_side_run_without_recovering_it() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v2) = v1_database(dir.path());
    let killed = dac_env(
        dir.path(),
        &[
            "upgrade",
            "--side-by-side",
            "-q",
            &v2,
            "--target",
            &db,
            "--allow-data-loss",
        ],
        &[("DAC_FAULT", "sbs.generators")],
    );
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    let status = dac(dir.path(), &["status", "--target", &db]);
    status.expect_code(2);
    assert!(
        status
            .stdout
            .contains("interrupted run:    copying (dac recover)"),
        "{}",
        status.stdout
    );
    // Reporting changed nothing: the run is still there for recover to finish or undo.
    let again = dac(dir.path(), &["status", "--target", &db]);
    again.expect_code(2);
    dac(dir.path(), &["recover", "--target", &db]).expect_code(0);
    dac(dir.path(), &["status", "--target", &db]).expect_code(0);
}

/// One run's stdout as JSON, or the test fails naming the command.
#[track_caller]
fn json_of(dir: &Path, args: &[&str], code: i32) -> serde_json::Value {
    let run = dac(dir, args);
    run.expect_code(code);
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| {
        panic!(
            "dac {}: stdout is not JSON ({err}):\n{}\n--- stderr\n{}",
            args.join(" "),
            run.stdout,
            run.stderr
        )
    })
}

#[test]
fn every_command_speaks_json_on_stdout_with_notes_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = d.join("src");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("schema.sql"), V1).unwrap();
    let v1 = d.join("v1.dacpac").display().to_string();
    let build = json_of(
        d,
        &[
            "build",
            folder.to_str().unwrap(),
            "--platform",
            "sqlite",
            "--name",
            "app",
            "--version",
            "1.0.0",
            "-o",
            &v1,
            "--format",
            "json",
        ],
        0,
    );
    assert_eq!(
        (build["command"].as_str(), build["elements"].as_u64()),
        (Some("build"), Some(4))
    );
    let v2 = build_sqlite_schema(d, "2.0.0", V2);
    let db = d.join("app.db").display().to_string();

    let upgrade = json_of(
        d,
        &[
            "upgrade",
            "--in-place",
            &v1,
            "--target",
            &db,
            "--format",
            "json",
        ],
        0,
    );
    assert_eq!(upgrade["action"], "deploy");
    assert_eq!(upgrade["version_after"], "1.0.0");
    let info = json_of(d, &["info", &v1, "--format", "json"], 0);
    assert!(info.is_object());
    let compare = json_of(d, &["compare", &db, &v2, "--format", "json"], 2);
    assert!(compare.is_object());
    let script = json_of(
        d,
        &[
            "script",
            &v2,
            "--target",
            &db,
            "--format",
            "json",
            "--allow-data-loss",
        ],
        0,
    );
    assert_eq!(script["command"], "script");
    assert!(!script["script"]["batches"].as_array().unwrap().is_empty());
    let report = json_of(
        d,
        &["deploy-report", &v2, "--target", &db, "--format", "json"],
        2,
    );
    assert!(report.is_object());
    let plan = json_of(d, &["plan", &v2, "--target", &db], 0);
    assert_eq!(plan["format"], 1);
    let drift = json_of(d, &["drift-report", "--target", &db, "--format", "json"], 0);
    assert!(drift.is_object());
    let history = json_of(d, &["history", "--target", &db, "--format", "json"], 0);
    assert_eq!(history["entries"].as_array().unwrap().len(), 1);
    let status = json_of(d, &["status", "--target", &db, "--format", "json"], 0);
    assert_eq!(status["registration"]["version"], "1.0.0");
    let extract = d.join("extracted.dacpac").display().to_string();
    let extracted = json_of(
        d,
        &[
            "extract", "--target", &db, "-o", &extract, "--format", "json",
        ],
        0,
    );
    assert_eq!(extracted["command"], "extract");
    let unregister = json_of(d, &["unregister", "--target", &db, "--format", "json"], 0);
    assert_eq!(unregister["version"], "1.0.0");
    let register = json_of(
        d,
        &["register", &v1, "--target", &db, "--format", "json"],
        0,
    );
    assert_eq!(register["definition"], "package");
    let side = json_of(
        d,
        &[
            "upgrade",
            "--side-by-side",
            "-q",
            &v2,
            "--target",
            &db,
            "--format",
            "json",
            "--allow-data-loss",
        ],
        0,
    );
    assert!(side.is_object());
    let rollback = json_of(d, &["rollback", "--target", &db, "--format", "json"], 0);
    assert_eq!(
        (
            rollback["version_before"].as_str(),
            rollback["version_after"].as_str()
        ),
        (Some("2.0.0"), Some("1.0.0"))
    );
    let recover = json_of(d, &["recover", "--target", &db, "--format", "json"], 0);
    assert_eq!(recover["recovered"], serde_json::Value::Null);

    // stdout cannot be both the package and the JSON.
    let both = dac(
        d,
        &["extract", "--target", &db, "-o", "-", "--format", "json"],
    );
    both.expect_code(1);
    assert!(
        both.stderr.contains("both want standard output"),
        "{}",
        both.stderr
    );
}

#[test]
fn a_rebuild_policy_refuses_plans_that_rebuild_tables() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v1 = crate::util::build_finance(d, "1.0.0", "finance-v1");
    let v2 = crate::util::build_finance(d, "2.0.0", "finance-v2");
    let db = d.join("f.db").display().to_string();
    dac(d, &["upgrade", "--in-place", &v1, "--target", &db]).expect_code(0);
    let before = tables(&db);

    // finance v2 rebuilds [main].[accounts] on SQLite: each command that plans refuses it.
    for args in [
        vec![
            "upgrade",
            "--in-place",
            &v2,
            "--target",
            &db,
            "--allow-data-loss",
            "--block-on-rebuild",
        ],
        vec!["script", &v2, "--target", &db, "--block-on", "TableRebuild"],
        vec![
            "plan",
            &v2,
            "--target",
            &db,
            "--block-on",
            "tablerebuild,DataLoss",
        ],
    ] {
        let run = dac(d, &args);
        run.expect_code(3);
        assert!(
            run.stderr
                .contains("TableRebuild: the table [main].[accounts] is rebuilt"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // The deploy report is still written, and its exit code says the policy refused it.
    let report = dac(
        d,
        &[
            "deploy-report",
            &v2,
            "--target",
            &db,
            "--format",
            "json",
            "--block-on-rebuild",
        ],
    );
    report.expect_code(3);
    assert!(
        serde_json::from_str::<serde_json::Value>(&report.stdout).is_ok(),
        "{}",
        report.stdout
    );
    // A publish profile says it as DacFx does.
    let profile = profile(d, "norebuild", &[("AllowTableRecreation", "False")], "");
    let by_profile = dac(
        d,
        &[
            "upgrade",
            "--in-place",
            &v2,
            "--target",
            &db,
            "--allow-data-loss",
            "--profile",
            &profile,
        ],
    );
    by_profile.expect_code(3);
    assert_eq!(tables(&db), before, "nothing ran");
    // An unknown hazard is an error naming the ones there are.
    let bogus = dac(d, &["script", &v2, "--target", &db, "--block-on", "Bogus"]);
    bogus.expect_code(1);
    assert!(
        bogus
            .stderr
            .contains("unknown hazard \"Bogus\"; known: DataLoss"),
        "{}",
        bogus.stderr
    );
    // Side by side runs no upgrade script: the policy has nothing to judge there.
    let side = dac(
        d,
        &[
            "upgrade",
            "--side-by-side",
            &v2,
            "--target",
            &db,
            "--block-on-rebuild",
        ],
    );
    side.expect_code(1);
    assert!(
        side.stderr.contains("--block-on-rebuild"),
        "{}",
        side.stderr
    );
    // Without the policy it upgrades.
    dac(
        d,
        &[
            "upgrade",
            "--in-place",
            &v2,
            "--target",
            &db,
            "--allow-data-loss",
        ],
    )
    .expect_code(0);
}

#[test]
fn an_azure_access_token_comes_from_the_environment_and_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let v2 = build_sqlite_schema(dir.path(), "2.0.0", V2);
    let target = "Server=tcp:127.0.0.1,1;Database=Shop;Authentication=ActiveDirectoryAccessToken";
    let run = dac(dir.path(), &["drift-report", "--target", target]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("$DAC_SQLSERVER_ACCESS_TOKEN, which is not set"),
        "{}",
        run.stderr
    );
    // With the token set, dac goes on to connect (port 1 refuses) and never prints the token.
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-token-value";
    let run = dac_env(
        dir.path(),
        &["drift-report", "--target", target],
        &[("DAC_SQLSERVER_ACCESS_TOKEN", token)],
    );
    run.expect_code(1);
    assert!(!run.stderr.contains("not set"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("secret-token-value") && !run.stdout.contains("secret-token-value")
    );
    let interactive = dac(
        dir.path(),
        &[
            "script",
            &v2,
            "--target",
            "Server=h;Authentication=ActiveDirectoryInteractive",
        ],
    );
    interactive.expect_code(1);
    assert!(
        interactive
            .stderr
            .contains("Authentication=ActiveDirectoryInteractive is not supported"),
        "{}",
        interactive.stderr
    );
}

#[test]
fn compare_takes_a_profiles_compare_properties() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v2) = v1_database(dir.path());
    dac(dir.path(), &["compare", &db, &v2]).expect_code(2);
    let tables_out = profile(
        dir.path(),
        "notables",
        &[("ExcludeObjectTypes", "Tables")],
        "",
    );
    dac(dir.path(), &["compare", &db, &v2, "--profile", &tables_out]).expect_code(0);
    let unknown = profile(
        dir.path(),
        "unknown",
        &[("ScriptDatabaseCollation", "True")],
        "",
    );
    let run = dac(dir.path(), &["compare", &db, &v2, "--profile", &unknown]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("dac does not implement ScriptDatabaseCollation"),
        "{}",
        run.stderr
    );
}
