//! The PostgreSQL driver against a real server: all-or-nothing upgrades, the upgrade lock, and
//! the psqldef, migra and pgschema conformance suites run as semantic oracles.
//!
//! Per conformance case, in a fresh database: apply `current` directly; inspect must equal the
//! canonicalised `current`; insert a row into tables the change does not touch; plan
//! current -> desired (data loss allowed, objects not in source dropped unless the case says
//! otherwise), render and execute it; inspect must equal the canonicalised `desired` and a
//! second plan must be empty; go back to `current` the same way; the rows must have survived.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dac_engine::compare::{CompareOptions, Diff, compare};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::{Driver, PostgresDriver};
use dac_engine::model::{Dsp, Model, Platform, kind};
use dac_engine::plan::{PlanOptions, plan};
use dac_engine::script::render;
use dac_engine::source::generic::{finish, parse_source};
use dac_engine::{Error, upgrade};
use dac_tests::postgres::server;
use dac_tests::shared_dir;
use yaml_rust2::Yaml;

/// Known failures: `suite<TAB>case<TAB>reason` per line.
const KNOWN_FAILURES: &str = include_str!("postgres_known_failures.tsv");

/// Roles the cases expect on the server (roles are per server, not per database): made once
/// before the cases run, so cases never race to create them.
static ROLES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Names after `CREATE ROLE` in a case's SQL.
fn created_roles(sql: &str) -> Vec<String> {
    let lower = sql.to_ascii_lowercase();
    lower
        .match_indices("create role ")
        .filter_map(|(i, m)| {
            let rest = &sql[i + m.len()..];
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then(|| name.to_ascii_lowercase())
        })
        .collect()
}

/// Worker threads (each with its own connections).
const WORKERS: usize = 3;

fn model_of(sql: &str) -> Result<Model, String> {
    // The case's SQL is applied as it stands; the model is its schema (seed data is data).
    let mut elements = parse_source(Platform::Postgres, sql, Path::new("case.sql"), 1)
        .map_err(|e| format!("parse: {e}"))?
        .elements;
    finish(Platform::Postgres, &mut elements);
    let mut model = Model::empty(Dsp::from_short_name("postgres").expect("dsp"));
    model.collation_case_sensitive = true;
    model.elements = elements;
    model.sort_elements();
    Ok(model)
}

fn options(drop: bool) -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: drop,
        // PostgreSQL appends added columns; their order is not part of the schema here.
        ignore_column_order: true,
        ..CompareOptions::default()
    }
}

fn describe(diff: &Diff) -> String {
    diff.differences()
        .take(4)
        .map(|c| {
            let details: Vec<String> = c
                .details
                .iter()
                .take(2)
                .map(|d| {
                    format!(
                        "{}: {:?} -> {:?}",
                        d.path,
                        d.current
                            .as_deref()
                            .map(|s| s.chars().take(80).collect::<String>()),
                        d.desired
                            .as_deref()
                            .map(|s| s.chars().take(80).collect::<String>())
                    )
                })
                .collect();
            format!(
                "{} {} {} [{}]",
                c.action.as_str(),
                c.kind,
                c.name,
                details.join("; ")
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Plans, renders and executes live -> target; returns an error naming the stage.
fn migrate(driver: &mut PostgresDriver, target: &Model, drop: bool) -> Result<(), String> {
    let live = driver.inspect().map_err(|e| format!("inspect: {e}"))?;
    let diff = compare(&live, target, &options(drop));
    let dialect = dialect_for(Platform::Postgres);
    let planned = plan(
        &diff,
        &live,
        target,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            ..PlanOptions::default()
        },
    );
    let script = render(&planned, dialect);
    upgrade::execute(driver, &script).map_err(|e| format!("upgrade: {}", first_line(&e)))?;
    let after = driver.inspect().map_err(|e| format!("inspect: {e}"))?;
    let again = compare(&after, target, &options(drop));
    if !again.is_empty() {
        return Err(format!("not converged: {}", describe(&again)));
    }
    let replan = plan(
        &again,
        &after,
        target,
        dialect.capabilities(),
        &PlanOptions::default(),
    );
    if !replan.is_empty() {
        return Err("second plan is not empty".into());
    }
    Ok(())
}

fn first_line(e: &Error) -> String {
    let text = e.to_string();
    let mut lines = text.lines();
    let head = lines.next().unwrap_or("").to_string();
    let stmt = text
        .find("in statement: ")
        .map(|i| text[i..].chars().take(160).collect::<String>())
        .unwrap_or_default();
    format!("{head} {stmt}").replace('\n', " ")
}

struct Case {
    suite: &'static str,
    name: String,
    current: String,
    desired: String,
    drop: bool,
}

enum Outcome {
    Pass,
    Fail(String),
}

fn run_case(case: &Case) -> Outcome {
    let server = server();
    let url = server.create_database(&case.name);
    let result = run_case_in(&url, case);
    server.drop_database(&url);
    match result {
        Ok(()) => Outcome::Pass,
        Err(e) => Outcome::Fail(e),
    }
}

fn run_case_in(url: &str, case: &Case) -> Result<(), String> {
    let mut driver = PostgresDriver::connect(url).map_err(|e| e.to_string())?;
    driver
        .execute("SET statement_timeout = '30s'")
        .map_err(|e| e.to_string())?;
    let current = model_of(&case.current).map_err(|e| format!("current {e}"))?;
    let desired = model_of(&case.desired).map_err(|e| format!("desired {e}"))?;
    if !case.current.trim().is_empty() {
        driver
            .execute(&case.current)
            .map_err(|e| format!("apply current: {}", first_line(&e)))?;
    }
    let canon_current = driver
        .canonicalize(&current)
        .map_err(|e| format!("canonicalize current: {}", first_line(&e)))?;
    let canon_desired = driver
        .canonicalize(&desired)
        .map_err(|e| format!("canonicalize desired: {}", first_line(&e)))?;
    let live = driver.inspect().map_err(|e| format!("inspect: {e}"))?;
    let diff = compare(&live, &canon_current, &options(true));
    if !diff.is_empty() {
        return Err(format!("inspect != canonical current: {}", describe(&diff)));
    }
    // Rows in tables the change leaves alone.
    let mut filled = Vec::new();
    for table in live.of_kind(kind::TABLE) {
        let name = table.name_or_empty();
        let same = canon_desired.find(kind::TABLE, &name) == Some(table);
        if !same || table.prop("PartitionBy").is_some() {
            continue;
        }
        let quoted = format!(
            "\"{}\".\"{}\"",
            name.first().replace('"', "\"\""),
            name.leaf().replace('"', "\"\"")
        );
        if driver
            .execute(&format!("INSERT INTO {quoted} DEFAULT VALUES"))
            .is_ok()
        {
            filled.push(quoted);
        }
    }
    migrate(&mut driver, &canon_desired, case.drop).map_err(|e| format!("forward: {e}"))?;
    migrate(&mut driver, &canon_current, case.drop).map_err(|e| format!("back: {e}"))?;
    for table in filled {
        let rows = driver
            .query(&format!("SELECT count(*) FROM {table}"))
            .map_err(|e| format!("count {table}: {e}"))?;
        let n = rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        if n == "0" {
            return Err(format!("rows of {table} were lost"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- suites

fn version_ok(min: Option<&str>, major: u32) -> bool {
    min.and_then(|m| m.split('.').next())
        .and_then(|m| m.parse::<u32>().ok())
        .is_none_or(|m| m <= major)
}

/// psqldef cases, and the names of those not applicable here (with why).
fn psqldef_cases(shared: &Path, major: u32) -> (Vec<Case>, Vec<(String, String)>) {
    let dir = shared.join("conformance/sqldef/cmd/psqldef");
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for (_, name, case) in
        dac_tests::conformance::sqldef_documents(&dir).unwrap_or_else(|e| panic!("{e}"))
    {
        if !version_ok(case["min_version"].as_str(), major) {
            skipped.push((name, "min_version above the server's".into()));
            continue;
        }
        if case["flavor"].as_str() == Some("pgvector") {
            skipped.push((name, "needs pgvector".into()));
            continue;
        }
        if case["error"].as_str().is_some() {
            skipped.push((name, "expects psqldef's own error".into()));
            continue;
        }
        if let Yaml::Array(roles) = &case["managed_roles"] {
            ROLES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(roles.iter().filter_map(|r| r.as_str().map(str::to_string)));
        }
        cases.push(Case {
            suite: "psqldef",
            name,
            current: case["current"].as_str().unwrap_or("").to_string(),
            desired: case["desired"].as_str().unwrap_or("").to_string(),
            drop: case["enable_drop"].as_bool().unwrap_or(true),
        });
    }
    (cases, skipped)
}

fn migra_cases(shared: &Path) -> Vec<Case> {
    let dir = shared.join("conformance/migra/tests/FIXTURES");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "generated_added")
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let read =
                |f: &str| std::fs::read_to_string(dir.join(&name).join(f)).unwrap_or_default();
            Case {
                suite: "migra",
                current: read("a.sql"),
                desired: read("b.sql"),
                name,
                drop: true,
            }
        })
        .collect()
}

fn pgschema_cases(shared: &Path) -> Vec<Case> {
    let dir = shared.join("conformance/pgschema/testdata/diff");
    let mut out = Vec::new();
    let mut categories: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    categories.sort();
    for category in categories {
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&category)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("new.sql").is_file())
            .collect();
        cases.sort();
        for case in cases {
            let read = |f: &str| std::fs::read_to_string(case.join(f)).unwrap_or_default();
            let setup = read("setup.sql");
            let name = format!(
                "{}/{}",
                category.file_name().unwrap_or_default().to_string_lossy(),
                case.file_name().unwrap_or_default().to_string_lossy()
            );
            out.push(Case {
                suite: "pgschema",
                name,
                current: format!("{setup}\n{}", read("old.sql")),
                desired: format!("{setup}\n{}", read("new.sql")),
                drop: true,
            });
        }
    }
    out
}

fn run_all(cases: Vec<Case>) -> BTreeMap<(String, String), Outcome> {
    let queue = Mutex::new(cases);
    let results = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let Some(case) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                        break;
                    };
                    let outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(&case)))
                            .unwrap_or_else(|_| Outcome::Fail("panicked".into()));
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert((case.suite.to_string(), case.name.clone()), outcome);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

fn known_failures() -> BTreeMap<(String, String), String> {
    KNOWN_FAILURES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.splitn(3, '\t');
            Some((
                (it.next()?.to_string(), it.next()?.to_string()),
                it.next().unwrap_or("").to_string(),
            ))
        })
        .collect()
}

#[test]
fn conformance() {
    let Some(shared) = shared_dir("postgres conformance") else {
        return;
    };
    let server = server();
    let started = Instant::now();
    let (mut cases, skipped) = psqldef_cases(&shared, server.major);
    cases.extend(migra_cases(&shared));
    cases.extend(pgschema_cases(&shared));
    if let Ok(only) = std::env::var("DAC_PG_CASES") {
        cases.retain(|c| only.split(',').any(|o| c.name.contains(o)));
    }
    let total: BTreeMap<&str, usize> = cases.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.suite).or_default() += 1;
        m
    });
    // Roles are per server: made once for the fixtures that grant to them.
    {
        let mut roles = ROLES.lock().unwrap_or_else(|e| e.into_inner()).clone();
        roles.extend([
            "schemainspect_test_role".to_string(),
            "postgres".to_string(),
        ]);
        for case in &cases {
            roles.extend(created_roles(&case.current));
            roles.extend(created_roles(&case.desired));
        }
        let url = server.create_database("roles");
        if let Ok(mut d) = PostgresDriver::connect(&url) {
            for role in roles {
                let role = format!("\"{}\"", role.replace('"', "\"\""));
                let _ = d.execute(&format!(
                    "DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
                ));
            }
        }
        server.drop_database(&url);
    }
    let results = run_all(cases);
    let known = known_failures();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let mut report = String::new();
    for suite in ["psqldef", "migra", "pgschema"] {
        let n = total.get(suite).copied().unwrap_or(0);
        let passed = results
            .iter()
            .filter(|((s, _), o)| s == suite && matches!(o, Outcome::Pass))
            .count();
        dac_tests::summary(&format!("conformance {suite}: {passed}/{n} passed"));
        if suite == "psqldef" {
            println!(
                "conformance psqldef: {} not applicable (version, pgvector, psqldef errors)",
                skipped.len()
            );
        }
    }
    for ((suite, name), outcome) in &results {
        let key = (suite.clone(), name.clone());
        match (outcome, known.get(&key)) {
            (Outcome::Fail(why), None) => {
                unexpected.push(format!("{suite}\t{name}\t{why}"));
            }
            (Outcome::Pass, Some(_)) => fixed.push(format!("{suite}\t{name}")),
            (Outcome::Fail(why), Some(_)) => {
                report.push_str(&format!("{suite}\t{name}\t{why}\n"));
            }
            _ => {}
        }
    }
    if let Ok(path) = std::env::var("DAC_PG_FAILURES_OUT") {
        let all: Vec<String> = results
            .iter()
            .filter_map(|((s, n), o)| match o {
                Outcome::Fail(why) => Some(format!("{s}\t{n}\t{}", why.replace(['\t', '\n'], " "))),
                Outcome::Pass => None,
            })
            .collect();
        let _ = std::fs::write(path, all.join("\n") + "\n");
    }
    println!("postgres conformance took {:.0?}", started.elapsed());
    let filtered = std::env::var("DAC_PG_CASES").is_ok();
    assert!(
        unexpected.is_empty(),
        "{} cases failed that are not known failures:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    if !filtered {
        assert!(
            fixed.is_empty(),
            "known failures now pass (remove them from postgres_known_failures.tsv):\n{}",
            fixed.join("\n")
        );
    }
}

// ---------------------------------------------------------------- all or nothing, lock

#[test]
fn failing_statement_leaves_schema_and_data_as_before() {
    let server = server();
    let url = server.create_database("atomic");
    let mut driver = PostgresDriver::connect(&url).unwrap();
    driver
        .execute(
            "CREATE TABLE t (id integer PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a')",
        )
        .unwrap();
    let before = driver.inspect().unwrap();
    let desired = model_of(
        "CREATE TABLE t (id integer PRIMARY KEY, name text, extra integer); \
         CREATE TABLE u (id integer PRIMARY KEY);",
    )
    .unwrap();
    let desired = driver.canonicalize(&desired).unwrap();
    let diff = compare(&before, &desired, &options(true));
    let dialect = dialect_for(Platform::Postgres);
    let planned = plan(
        &diff,
        &before,
        &desired,
        dialect.capabilities(),
        &PlanOptions::default(),
    );
    let mut script = render(&planned, dialect);
    assert!(script.n_statements() >= 2, "{script:?}");
    // A statement that fails after the others have run.
    let last = script.batches.last_mut().unwrap();
    last.statements
        .push("INSERT INTO t VALUES (1, 'duplicate')".into());
    let err = upgrade::execute(&mut driver, &script).unwrap_err();
    match &err {
        Error::Driver {
            backend,
            code,
            statement,
            ..
        } => {
            assert_eq!(*backend, "postgres");
            assert_eq!(code.as_deref(), Some("23505"), "{err}");
            assert!(statement.as_deref().unwrap_or("").contains("duplicate"));
        }
        other => panic!("expected a driver error, got {other}"),
    }
    let after = driver.inspect().unwrap();
    let diff = compare(&before, &after, &options(true));
    assert!(diff.is_empty(), "{}", describe(&diff));
    let rows = driver.query("SELECT id, name FROM t ORDER BY id").unwrap();
    assert_eq!(rows, vec![vec![Some("1".into()), Some("a".into())]]);
    // The lock was released: a correct script now goes through.
    let script = render(&planned, dialect);
    upgrade::execute(&mut driver, &script).unwrap();
    let done = driver.inspect().unwrap();
    assert!(compare(&done, &desired, &options(true)).is_empty());
    drop(driver);
    server.drop_database(&url);
}

#[test]
fn a_second_upgrade_waits_then_is_refused() {
    let server = server();
    let url = server.create_database("lock");
    let mut first = PostgresDriver::connect(&url).unwrap();
    let mut second = PostgresDriver::connect(&url).unwrap();
    first.lock(Duration::from_secs(1)).unwrap();
    let started = Instant::now();
    let err = second.lock(Duration::from_millis(600)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(matches!(err, Error::Blocked { .. }), "{err}");
    assert!(err.to_string().contains("another dac run"), "{err}");
    // A whole upgrade is refused the same way while the lock is held.
    let script = render(&Default::default(), dialect_for(Platform::Postgres));
    let err = upgrade::execute(&mut second, &script).unwrap_err();
    assert!(matches!(err, Error::Blocked { .. }), "{err}");
    first.unlock().unwrap();
    second.lock(Duration::from_secs(1)).unwrap();
    second.unlock().unwrap();
    drop((first, second));
    server.drop_database(&url);
}

#[test]
fn errors_name_sqlstate_and_position() {
    let server = server();
    let url = server.create_database("errors");
    let mut driver = PostgresDriver::connect(&url).unwrap();
    let err = driver.execute("SELECT * FROM no_such_table").unwrap_err();
    match &err {
        Error::Driver { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("42P01"));
            assert!(message.contains("at character 15"), "{message}");
        }
        other => panic!("{other}"),
    }
    let info = driver.server_info().unwrap();
    assert!(info.version.starts_with("PostgreSQL "), "{info:?}");
    let am = dac_engine::model::ObjectName::new(["pg_catalog", "pg_am"]);
    assert!(driver.has_rows(&am).unwrap());
    driver
        .execute("CREATE TABLE empty_one (id integer)")
        .unwrap();
    let empty = dac_engine::model::ObjectName::new(["public", "empty_one"]);
    assert!(!driver.has_rows(&empty).unwrap());
    drop(driver);
    server.drop_database(&url);
}

/// Plain DDL inspects to exactly what the source builder makes of it, without
/// canonicalisation.
#[test]
fn inspect_has_the_source_shape() {
    let sql = "CREATE SCHEMA app;
        CREATE TABLE app.customers (
            id serial PRIMARY KEY,
            email varchar(200) NOT NULL UNIQUE,
            score numeric(10, 2),
            tags text[],
            created timestamp with time zone NOT NULL,
            CONSTRAINT score_positive CHECK (score > 0.5)
        );
        CREATE TABLE app.orders (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id integer NOT NULL REFERENCES app.customers (id) ON DELETE CASCADE,
            note text
        );
        CREATE INDEX orders_customer ON app.orders (customer_id DESC);
        CREATE UNIQUE INDEX customers_email_lower ON app.customers USING btree (email) WHERE score IS NOT NULL;
        CREATE SEQUENCE app.counter INCREMENT BY 5 START WITH 10;
        COMMENT ON TABLE app.orders IS 'Orders placed';";
    let server = server();
    let url = server.create_database("shape");
    let mut driver = PostgresDriver::connect(&url).unwrap();
    driver.execute(sql).unwrap();
    let live = driver.inspect().unwrap();
    let built = model_of(sql).unwrap();
    let diff = compare(&live, &built, &options(true));
    assert!(diff.is_empty(), "{}", describe(&diff));
    drop(driver);
    server.drop_database(&url);
}
