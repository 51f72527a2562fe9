//! The SQL Server driver against a real server, when `DAC_TEST_SQLSERVER` holds a connection
//! string to a login that may create databases, e.g.
//! `Server=tcp:localhost,1433;User Id=sa;Password=...;TrustServerCertificate=true`
//! (`docker run -e ACCEPT_EULA=Y -e MSSQL_SA_PASSWORD=... -p 1433:1433
//! mcr.microsoft.com/mssql/server:2022-latest`). Every test makes its own databases
//! (`dac_t_<pid>_...`) and drops them.
//!
//! Without it, each test says loudly that the live SQL Server tier did not run, writes that to
//! `target/dac-summary.txt`, and passes: no SQL Server can run where this project is built.
//!
//! - the fixture database: `fixtures/sqlserver/shop/schema.sql` deployed, inspected, compared
//!   with the model of the hand-written catalog rows (so the fixtures are checked against a
//!   real catalog);
//! - sqldef's mssqldef cases: apply `current`, inspect (must equal `current` as the server
//!   canonicalizes it), upgrade to `desired` (plan, render, execute in one transaction),
//!   inspect again (must equal `desired`);
//! - every corpus package: deployed in place into an empty database, extracted (inspected),
//!   compared with the package as the server canonicalizes it;
//! - in-place upgrade and registry: deploy v1 (registered), upgrade to v2, drift after a manual
//!   change, unregister, history;
//! - side by side: v1 with rows, upgraded side by side to v2 (rows, identity, registration
//!   carried over), a forced rollback after a write.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use dac_engine::compare::{CompareOptions, Diff, compare};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::sqlserver::config::with_database;
use dac_engine::driver::sqlserver::inspect::{Catalog, model_from_catalog};
use dac_engine::driver::sqlserver::server_sql;
use dac_engine::driver::{Driver, Registry, SqlServerDriver};
use dac_engine::model::{Model, Platform, kind};
use dac_engine::package::{self, DacMetadata, Package, ReadOptions};
use dac_engine::plan::{PlanOptions, plan};
use dac_engine::registry::HistoryAction;
use dac_engine::script::render;
use dac_engine::upgrade::{self, InPlaceOptions};
use dac_tests::conformance::{describe, model_of, tsql_batches};

/// The connection string, or `None` after saying loudly (stderr and the run's summary) that
/// this part of the live tier did not run.
fn server(test: &str) -> Option<String> {
    match std::env::var("DAC_TEST_SQLSERVER") {
        Ok(text) if !text.trim().is_empty() => Some(text),
        _ => {
            eprintln!(
                "\n*** NOT RUN: live SQL Server tier ({test}) did not run: DAC_TEST_SQLSERVER is not set ***\n"
            );
            // One line in the run's summary for the whole tier.
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                dac_tests::summary(
                    "NOT RUN: the live SQL Server tier did not run (fixture catalog, mssqldef conformance, corpus extract, in-place upgrade and registry, side-by-side upgrade and rollback): DAC_TEST_SQLSERVER is not set, no SQL Server on this machine; see README",
                );
            });
            None
        }
    }
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty database; returns its connection string.
fn fresh_database(base: &str, slug: &str) -> String {
    let n = DATABASES.fetch_add(1, Ordering::Relaxed);
    let name = format!("dac_t_{}_{n}_{slug}", std::process::id());
    let mut master = SqlServerDriver::connect(&with_database(base, "master"))
        .unwrap_or_else(|e| panic!("connecting to master: {e}"));
    for statement in server_sql::drop_database(&name) {
        master.execute(&statement).unwrap();
    }
    master
        .execute(&server_sql::create_database(&name))
        .unwrap_or_else(|e| panic!("creating {name}: {e}"));
    with_database(base, &name)
}

fn drop_database(base: &str, conn: &str) {
    let name = dac_engine::driver::sqlserver::config::ConnectionConfig::parse(conn)
        .ok()
        .and_then(|c| c.database)
        .unwrap_or_default();
    if let Ok(mut master) = SqlServerDriver::connect(&with_database(base, "master")) {
        for statement in server_sql::drop_database(&name) {
            let _ = master.execute(&statement);
        }
        // Registrations the test made in msdb go with their database.
        let _ = master.execute(&server_sql::msdb_forget(&name));
    }
}

fn options(drop: bool) -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: drop,
        ..CompareOptions::default()
    }
}

fn upgrade_to(driver: &mut SqlServerDriver, desired: &Model, drop: bool) -> Result<(), String> {
    let live = driver.inspect().map_err(|e| format!("inspect: {e}"))?;
    let desired = driver
        .canonicalize(desired)
        .map_err(|e| format!("canonicalize: {e}"))?;
    let diff = compare(&live, &desired, &options(drop));
    let dialect = dialect_for(Platform::SqlServer);
    let planned = plan(
        &diff,
        &live,
        &desired,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            ..PlanOptions::default()
        },
    );
    let script = render(&planned, dialect);
    upgrade::execute(driver, &script)
        .map_err(|e| format!("upgrade: {e}\n{}", script.text(dialect)))?;
    let after = driver
        .inspect()
        .map_err(|e| format!("inspect after: {e}"))?;
    let left: Diff = compare(&after, &desired, &options(drop));
    if !left.is_empty() {
        return Err(format!(
            "the database differs from the source after the upgrade:\n  {}\n{}",
            describe(&left),
            script.text(dialect)
        ));
    }
    Ok(())
}

#[test]
fn fixture_rows_match_a_real_catalog() {
    let Some(base) = server("fixture catalog") else {
        return;
    };
    let root = dac_tests::workspace_root().join("fixtures/sqlserver");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("catalog.json").is_file())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    for dir in &dirs {
        let conn = fresh_database(&base, "fixture");
        let result = (|| -> Result<(), String> {
            let mut driver = SqlServerDriver::connect(&conn).map_err(|e| e.to_string())?;
            let ddl = std::fs::read_to_string(dir.join("schema.sql")).map_err(|e| e.to_string())?;
            driver.execute(&ddl).map_err(|e| format!("deploy: {e}"))?;
            let live = driver.inspect().map_err(|e| format!("inspect: {e}"))?;
            let rows: Catalog = serde_json::from_str(
                &std::fs::read_to_string(dir.join("catalog.json")).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
            let fixture = model_from_catalog(&rows).map_err(|e| e.to_string())?.model;
            let mut opts = options(true);
            opts.exclude_kinds = BTreeSet::from([kind::DATABASE_OPTIONS.to_string()]);
            let diff = compare(&live, &fixture, &opts);
            if !diff.is_empty() {
                return Err(format!(
                    "the live catalog differs from catalog.json:\n  {}",
                    describe(&diff)
                ));
            }
            Ok(())
        })();
        drop_database(&base, &conn);
        if let Err(e) = result {
            failures.push(format!("{}: {e}", dir.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    dac_tests::summary(&format!(
        "sqlserver live: the hand-written catalog rows of {} fixtures match a real SQL Server catalog",
        dirs.len()
    ));
}

#[test]
fn mssqldef_conformance() {
    let Some(base) = server("mssqldef conformance") else {
        return;
    };
    let Some(shared) = dac_tests::shared_dir("sqlserver live mssqldef") else {
        return;
    };
    let documents =
        dac_tests::conformance::sqldef_documents(&shared.join("conformance/sqldef/mssqldef"))
            .unwrap_or_else(|e| panic!("{e}"));
    let (mut passed, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for (_, name, case) in &documents {
        let text = |field: &str| case[field].as_str().unwrap_or("").to_string();
        if case["error"].as_str().is_some() {
            skipped += 1;
            continue;
        }
        let (current_sql, desired_sql) = (text("current"), text("desired"));
        let drop = case["enable_drop"].as_bool().unwrap_or(true);
        let (Ok(current), Ok(desired)) = (
            model_of(Platform::SqlServer, &current_sql, name),
            model_of(Platform::SqlServer, &desired_sql, name),
        ) else {
            // Cases the project builder refuses are the offline suite's business.
            skipped += 1;
            continue;
        };
        let conn = fresh_database(&base, "case");
        let result = (|| -> Result<(), String> {
            let mut driver = SqlServerDriver::connect(&conn).map_err(|e| e.to_string())?;
            if !current_sql.trim().is_empty() {
                driver
                    .execute(&tsql_batches(&current_sql))
                    .map_err(|e| format!("apply current: {e}"))?;
            }
            let live = driver.inspect().map_err(|e| format!("inspect: {e}"))?;
            let canonical = driver
                .canonicalize(&current)
                .map_err(|e| format!("canonicalize current: {e}"))?;
            let diff = compare(&live, &canonical, &options(true));
            if !diff.is_empty() {
                return Err(format!(
                    "inspect current differs from its build:\n  {}",
                    describe(&diff)
                ));
            }
            upgrade_to(&mut driver, &desired, drop)
        })();
        drop_database(&base, &conn);
        match result {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    let total = passed + failures.len();
    dac_tests::summary(&format!(
        "conformance mssqldef (live SQL Server): {passed}/{total} passed ({skipped} error or unbuildable cases skipped)"
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn corpus_packages_deploy_and_extract() {
    let Some(base) = server("corpus extract") else {
        return;
    };
    let Some(shared) = dac_tests::shared_dir("sqlserver live corpus") else {
        return;
    };
    let mut passed = 0;
    let mut failures = Vec::new();
    let paths = dac_tests::corpus_dacpacs(&shared);
    for path in &paths {
        let label = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(mut package) = package::read(path, &ReadOptions::default()) else {
            failures.push(format!("{label}: unreadable"));
            continue;
        };
        if package.metadata.is_none() {
            package.metadata = Some(DacMetadata {
                name: label.clone(),
                version: "1.0.0.0".into(),
                description: None,
            });
        }
        let conn = fresh_database(&base, "corpus");
        let result = (|| -> Result<(), String> {
            let mut driver = SqlServerDriver::connect(&conn).map_err(|e| e.to_string())?;
            let deploy = InPlaceOptions {
                allow_data_loss: true,
                compare: options(true),
                ..InPlaceOptions::default()
            };
            upgrade::in_place(&mut driver, &package, &deploy)
                .map_err(|e| format!("deploy: {e}"))?;
            let extracted = driver.inspect().map_err(|e| format!("extract: {e}"))?;
            let canonical = driver
                .canonicalize(&package.model)
                .map_err(|e| format!("canonicalize: {e}"))?;
            let diff = compare(&extracted, &canonical, &options(true));
            if !diff.is_empty() {
                return Err(format!(
                    "extract differs from the package:\n  {}",
                    describe(&diff)
                ));
            }
            Ok(())
        })();
        drop_database(&base, &conn);
        match result {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
    dac_tests::summary(&format!(
        "corpus on live SQL Server: {passed}/{} packages deployed and extracted equal",
        paths.len()
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn shop_package(version: &str, extra: &str) -> Package {
    let dir = dac_tests::workspace_root().join("fixtures/sqlserver/shop");
    let ddl = std::fs::read_to_string(dir.join("schema.sql")).unwrap() + extra;
    let model = dac_engine::source::build_tsql_text(
        &ddl,
        Path::new("schema.sql"),
        &dac_engine::model::Dsp::default_sqlserver(),
    )
    .unwrap();
    Package {
        metadata: Some(DacMetadata {
            name: "Shop".into(),
            version: version.into(),
            description: None,
        }),
        origin: None,
        model,
        predeploy: None,
        postdeploy: None,
        refactor_log: None,
    }
}

#[test]
fn in_place_upgrade_and_registry() {
    let Some(base) = server("in-place upgrade and registry") else {
        return;
    };
    let conn = fresh_database(&base, "registry");
    let result = (|| -> Result<Vec<String>, String> {
        let mut driver = SqlServerDriver::connect(&conn).map_err(|e| e.to_string())?;
        let v1 = shop_package("1.0.0", "");
        let v2 = shop_package(
            "2.0.0",
            "\nGO\nCREATE TABLE [Sales].[Returns] ([ReturnId] INT NOT NULL PRIMARY KEY, [OrderId] BIGINT NOT NULL);\nGO\n",
        );
        let options = InPlaceOptions {
            compare: options(true),
            ..InPlaceOptions::default()
        };
        let first = upgrade::in_place(&mut driver, &v1, &options).map_err(|e| e.to_string())?;
        assert_eq!(first.action, HistoryAction::Deploy);
        let registration = driver
            .read_registration()
            .map_err(|e| e.to_string())?
            .ok_or("v1 is not registered")?;
        assert_eq!(
            (registration.name.as_str(), registration.version.as_str()),
            ("Shop", "1.0.0")
        );
        let (_, drift) = upgrade::drift(&mut driver)
            .map_err(|e| e.to_string())?
            .ok_or("no registration for drift")?;
        assert!(
            drift.is_empty(),
            "drift right after deploy:\n  {}",
            describe(&drift)
        );
        let second = upgrade::in_place(&mut driver, &v2, &options).map_err(|e| e.to_string())?;
        assert_eq!(second.action, HistoryAction::Upgrade);
        assert_eq!(
            driver
                .read_registration()
                .map_err(|e| e.to_string())?
                .map(|r| r.version),
            Some("2.0.0".into())
        );
        driver
            .execute("CREATE TABLE [dbo].[Outside] ([x] int)")
            .map_err(|e| e.to_string())?;
        let (_, drift) = upgrade::drift(&mut driver)
            .map_err(|e| e.to_string())?
            .ok_or("no registration for drift")?;
        assert!(!drift.is_empty(), "a table made outside dac is not drift");
        let refused = upgrade::in_place(&mut driver, &v2, &options);
        assert!(matches!(refused, Err(dac_engine::Error::Blocked { .. })));
        let history = driver.history().map_err(|e| e.to_string())?;
        assert!(history.len() >= 2, "{history:?}");
        driver.delete_registration().map_err(|e| e.to_string())?;
        assert!(
            driver
                .read_registration()
                .map_err(|e| e.to_string())?
                .is_none()
        );
        Ok(driver.take_warnings())
    })();
    drop_database(&base, &conn);
    let warnings = result.unwrap_or_else(|e| panic!("{e}"));
    let place = if warnings.iter().any(|w| w.contains("[_dac]")) {
        "in-database fallback registry"
    } else {
        "msdb"
    };
    dac_tests::summary(&format!(
        "sqlserver live: in-place deploy, upgrade, drift, unregister passed (registration in {place})"
    ));
}

#[test]
fn side_by_side_upgrade_and_rollback() {
    let Some(base) = server("side-by-side upgrade and rollback") else {
        return;
    };
    let conn = fresh_database(&base, "sbs");
    let target = dac_engine::driver::Target::parse(&conn).unwrap();
    let result = (|| -> Result<(), String> {
        let mut driver = SqlServerDriver::connect(&conn).map_err(|e| e.to_string())?;
        let v1 = shop_package("1.0.0", "");
        let v2 = shop_package(
            "2.0.0",
            "\nGO\nCREATE TABLE [Sales].[Returns] ([ReturnId] INT NOT NULL PRIMARY KEY);\nGO\n",
        );
        let in_place = InPlaceOptions {
            compare: options(true),
            ..InPlaceOptions::default()
        };
        upgrade::in_place(&mut driver, &v1, &in_place).map_err(|e| e.to_string())?;
        driver
            .execute("INSERT INTO [Sales].[Customers] ([Name], [Email]) VALUES (N'Ada', 'ada@example.com'), (N'Bob', NULL);\nINSERT INTO [Sales].[Orders] ([OrderId], [CustomerId], [OrderedAt], [Quantity], [UnitPrice]) VALUES (1, 1, SYSUTCDATETIME(), 2, 9.5);")
            .map_err(|e| e.to_string())?;
        drop(driver);
        let sbs = upgrade::SideBySideOptions {
            compare: options(true),
            ..upgrade::SideBySideOptions::default()
        };
        let outcome = upgrade::side_by_side(&target, &v2, &sbs, &upgrade::NoProgress)
            .map_err(|e| format!("side by side: {e}"))?;
        let mut driver = SqlServerDriver::connect(&conn).map_err(|e| e.to_string())?;
        let rows = driver
            .query("SELECT COUNT(*) FROM [Sales].[Customers]")
            .map_err(|e| e.to_string())?;
        assert_eq!(rows, vec![vec![Some("2".to_string())]]);
        assert_eq!(
            driver
                .read_registration()
                .map_err(|e| e.to_string())?
                .map(|r| r.version),
            Some("2.0.0".into())
        );
        // The identity continues after the copied rows.
        driver
            .execute("INSERT INTO [Sales].[Customers] ([Name]) VALUES (N'Cy')")
            .map_err(|e| e.to_string())?;
        let ids = driver
            .query("SELECT MAX([CustomerId]) FROM [Sales].[Customers]")
            .map_err(|e| e.to_string())?;
        assert_eq!(ids, vec![vec![Some("3".to_string())]]);
        drop(driver);
        // It took a write: a rollback is refused unless forced.
        assert!(upgrade::rollback(&target, false, upgrade::LOCK_WAIT).is_err());
        let rolled = upgrade::rollback(&target, true, upgrade::LOCK_WAIT)
            .map_err(|e| format!("rollback: {e}"))?;
        let mut driver = SqlServerDriver::connect(&conn).map_err(|e| e.to_string())?;
        assert_eq!(
            driver
                .read_registration()
                .map_err(|e| e.to_string())?
                .map(|r| r.version),
            Some("1.0.0".into())
        );
        drop(driver);
        for name in [outcome.report.retained.clone()]
            .into_iter()
            .chain(rolled.kept_upgraded)
        {
            drop_database(&base, &with_database(&base, &name));
        }
        Ok(())
    })();
    drop_database(&base, &conn);
    result.unwrap_or_else(|e| panic!("{e}"));
    dac_tests::summary(
        "sqlserver live: side-by-side upgrade (rows, identity, registration) and forced rollback passed",
    );
}
