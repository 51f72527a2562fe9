//! The planning options on a real PostgreSQL server, where constraints and indexes have names of
//! their own: an in-place upgrade with filters changes only what they keep, with what it owns;
//! `Tables` not to be dropped keeps a table with its primary key; a kept change that needs a
//! left-out table the database lacks is refused before anything runs.

use std::path::Path;

use dac_engine::compare::{self, CompareOptions};
use dac_engine::driver::{Driver, PostgresDriver};
use dac_engine::model::{Model, Platform};
use dac_engine::package::Package;
use dac_engine::source::generic::{into_model, parse_batch};
use dac_engine::upgrade::{self, InPlaceOptions};
use dac_tests::postgres::server;

const V1: &str = "
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, fax text);
CREATE TABLE accounts (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    balance integer NOT NULL DEFAULT 0
);
CREATE INDEX accounts_customer ON accounts (customer_id);
CREATE TABLE archive (id integer PRIMARY KEY, note text);
";

const V2: &str = "
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE currencies (code text PRIMARY KEY, name text NOT NULL DEFAULT '');
CREATE TABLE accounts (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    currency text NOT NULL DEFAULT 'EUR' REFERENCES currencies (code),
    balance integer NOT NULL DEFAULT 0 CHECK (balance >= 0)
);
";

fn model_of(sql: &str) -> Model {
    let elements = parse_batch(Platform::Postgres, sql, Path::new("ledger.sql"), 1)
        .unwrap_or_else(|e| panic!("parse: {e}"));
    into_model(Platform::Postgres, elements)
}

fn options(include: &[&str], do_not_drop: &[&str]) -> InPlaceOptions {
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    InPlaceOptions {
        allow_data_loss: true,
        compare: CompareOptions {
            include: names(include),
            do_not_drop: compare::object_types("--do-not-drop", &names(do_not_drop)).unwrap(),
            ..upgrade::compare_options(Platform::Postgres)
        },
        ..InPlaceOptions::default()
    }
}

fn rows(driver: &mut PostgresDriver, sql: &str) -> Vec<String> {
    driver
        .query(sql)
        .unwrap()
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(Option::unwrap_or_default)
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect()
}

#[test]
fn filters_and_do_not_drop_change_only_what_they_keep() {
    let url = server().create_database("options");
    let mut driver = PostgresDriver::connect(&url).unwrap();
    driver.execute(V1).unwrap();
    let v2 = Package::of_model(model_of(V2), "ledger", "2.0.0");

    // accounts without currencies, which the database lacks: refused, naming both.
    let err = upgrade::in_place(&mut driver, &v2, &options(&["public.acc*"], &[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[public].[accounts]") && err.contains("[public].[currencies]"),
        "{err}"
    );

    upgrade::in_place(
        &mut driver,
        &v2,
        &options(&["public.cust*", "public.arch*"], &["Tables"]),
    )
    .unwrap();
    let columns = |driver: &mut PostgresDriver, table: &str| {
        rows(
            driver,
            &format!(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        )
    };
    assert_eq!(columns(&mut driver, "customers"), ["id", "name", "email"]);
    assert_eq!(
        columns(&mut driver, "accounts"),
        ["id", "customer_id", "balance"]
    );
    assert!(columns(&mut driver, "currencies").is_empty());
    // The table not to be dropped keeps its primary key; accounts, left out, keeps its index
    // and constraints.
    assert_eq!(
        rows(
            &mut driver,
            "SELECT conrelid::regclass::text || ':' || contype::text FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1"
        ),
        ["accounts:f", "accounts:p", "archive:p", "customers:p"]
    );
    assert_eq!(
        rows(
            &mut driver,
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'accounts_customer'"
        ),
        ["accounts_customer"]
    );
    drop(driver);
    server().drop_database(&url);
}

/// Issue 17 item 7, for real: a statement of the upgrade kills its own connection
/// (`pg_terminate_backend(pg_backend_pid())` in the pre-deployment script), so the statement
/// fails and so does the rollback after it. The error is the statement's, and the failed
/// cleanup is a note after it; the database is unchanged.
#[test]
fn a_failed_statement_is_reported_before_the_cleanups_that_failed_after_it() {
    let url = server().create_database("cleanup");
    let mut driver = PostgresDriver::connect(&url).unwrap();
    driver.execute(V1).unwrap();
    let mut v2 = Package::of_model(model_of(V2), "ledger", "2.0.0");
    v2.predeploy = Some("SELECT pg_terminate_backend(pg_backend_pid())".into());
    let err = upgrade::in_place(&mut driver, &v2, &options(&[], &[]))
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = err.lines().collect();
    // The client sees the killed session as the server's message or as a closed connection,
    // as the race between the two goes; either way the first error is the statement's.
    assert!(
        lines[0].contains("step PreDeploy")
            && (lines[0].contains("terminat") || lines[0].contains("connection closed"))
            && lines[1].contains("pg_terminate_backend"),
        "the first line is the statement's error: {err}"
    );
    let rollback = err
        .find("note: rolling back the transaction failed too")
        .unwrap_or_else(|| panic!("no rollback note: {err}"));
    assert!(rollback > 0, "{err}");
    // The upgrade lock lives on a session of its own (in the maintenance database), so it is
    // released normally: no note claims otherwise.
    assert!(!err.contains("releasing the upgrade lock failed"), "{err}");
    // Nothing of v2 was applied.
    let mut fresh = PostgresDriver::connect(&url).unwrap();
    assert_eq!(
        rows(
            &mut fresh,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'currencies'"
        ),
        ["0"]
    );
    drop(fresh);
    server().drop_database(&url);
}
