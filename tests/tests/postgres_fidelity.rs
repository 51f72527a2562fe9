//! PostgreSQL fidelity on a real server: types with modifiers, extension types, `"char"` and the
//! `reg*` family, trigger arguments and schema-qualified collations.
//!
//! Per schema, in a fresh database: execute the DDL; inspecting the database must compare
//! empty with building the same DDL; the built model must survive a package write and read
//! (the reference check); deploying the built model into an empty database
//! (`Driver::canonicalize`, which renders every statement through the dialect) must give the
//! same database again.

use std::path::Path;

use dac_engine::compare::{CompareOptions, compare};
use dac_engine::driver::{Driver, PostgresDriver};
use dac_engine::model::{Model, Platform};
use dac_engine::package::{self, Package, ReadOptions};
use dac_engine::source::generic::{into_model, parse_batch};
use dac_tests::conformance::describe as describe_diff;
use dac_tests::postgres::server;

fn model_of(sql: &str) -> Model {
    let elements = parse_batch(Platform::Postgres, sql, Path::new("case.sql"), 1)
        .unwrap_or_else(|e| panic!("parse: {e}"));
    into_model(Platform::Postgres, elements)
}

fn options() -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    }
}

/// The whole round trip for `sql`; returns the built model.
fn round_trip(slug: &str, sql: &str) -> Model {
    round_trip_with(slug, sql, true).0
}

/// The round trip; `direct` compares inspection with the built model itself, else (programmable
/// objects, whose text the server rewrites) only with the built model deployed. Returns the
/// built and the deployed model.
fn round_trip_with(slug: &str, sql: &str, direct: bool) -> (Model, Model) {
    let server = server();
    let url = server.create_database(slug);
    let mut driver = PostgresDriver::connect(&url).unwrap();
    driver
        .execute(sql)
        .unwrap_or_else(|e| panic!("execute: {e}"));
    let live = driver.inspect().unwrap();
    let built = model_of(sql);
    if direct {
        let diff = compare(&live, &built, &options());
        assert!(
            diff.is_empty(),
            "inspect != build:\n{}",
            describe_diff(&diff)
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fidelity.dacpac");
    package::write(
        &Package::of_model(built.clone(), "fidelity", "1.0.0"),
        &path,
    )
    .unwrap();
    let read = package::read(&path, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("the built package does not load: {e}"));
    let diff = compare(&read.model, &built, &options());
    assert!(diff.is_empty(), "read != build:\n{}", describe_diff(&diff));

    let deployed = driver
        .canonicalize(&built)
        .unwrap_or_else(|e| panic!("deploying the built model: {e}"));
    let diff = compare(&live, &deployed, &options());
    assert!(
        diff.is_empty(),
        "inspect != deployed:\n{}",
        describe_diff(&diff)
    );
    drop(driver);
    server.drop_database(&url);
    (built, deployed)
}

#[test]
fn types_with_modifiers_round_trip() {
    round_trip(
        "types_modifiers",
        "CREATE TABLE events (
            id bigint PRIMARY KEY,
            created_at timestamp(6) NOT NULL,
            created_tz timestamp(3) with time zone,
            plain_ts timestamp,
            tstz timestamptz(2),
            at_time time(3) with time zone,
            at_time_plain time(0),
            at_timetz timetz,
            span interval,
            span_p interval(2),
            span_ds interval day to second(3),
            span_y interval year,
            span_ym interval year to month,
            span_s interval second(4),
            span_hm interval hour to minute,
            amount numeric(10,2),
            ratio decimal(5),
            bits bit varying(5),
            vbits varbit,
            flag bit,
            flags bit(3),
            label character varying(20),
            code char(4),
            f float,
            f4 float(10),
            f8 float(40),
            stamps timestamp(6)[],
            stamps2 timestamp(6) without time zone[][],
            spans interval day to second(3)[],
            amounts numeric(10,2)[],
            labels varchar(20)[]
        );
        CREATE TABLE aliases (
            a varchar, b int4, c int, d int8, e bool, f float8, g timestamptz, h decimal,
            i int2, j float4, k timetz, l bpchar(3), m character varying(7)
        );",
    );
}

#[test]
fn catalog_types_round_trip() {
    round_trip(
        "types_catalog",
        "CREATE TABLE catalog_refs (
            kind \"char\" NOT NULL,
            kinds \"char\"[],
            rel regclass,
            typ regtype,
            proc regproc,
            procs regprocedure,
            o oid,
            n name,
            ns regnamespace
        );",
    );
}

/// Types that contrib extensions define: the extension is created before the table, the
/// column's type is resolved (the package loads), and it is qualified where the extension
/// lives in another schema.
#[test]
fn extension_types_round_trip() {
    round_trip(
        "types_extensions",
        "CREATE EXTENSION citext;
        CREATE EXTENSION hstore;
        CREATE SCHEMA ext;
        CREATE EXTENSION ltree SCHEMA ext;
        CREATE EXTENSION cube WITH SCHEMA ext;
        CREATE TABLE docs (
            email citext NOT NULL,
            emails citext[],
            attrs hstore,
            path ext.ltree,
            box ext.cube
        );",
    );
}

const TRIGGERS: &str = "CREATE TABLE users (id integer PRIMARY KEY, name text);
    CREATE FUNCTION check_func() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TRIGGER plain BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION check_func();
    CREATE TRIGGER with_args BEFORE INSERT ON users
        FOR EACH ROW EXECUTE FUNCTION check_func('3', 'x', 42, word);
    CREATE TRIGGER legacy AFTER UPDATE ON public.users
        FOR EACH STATEMENT EXECUTE PROCEDURE public.check_func('it''s');";

/// Trigger arguments are part of the trigger: they round-trip, and a changed one is a
/// difference.
#[test]
fn trigger_arguments_round_trip() {
    let (built, deployed) = round_trip_with("trigger_args", TRIGGERS, false);
    let changed_sql = TRIGGERS.replace("'x'", "'y'");
    let changed = model_of(&changed_sql);
    let diff = compare(&built, &changed, &options());
    let changes: Vec<String> = diff.differences().map(|c| c.name.to_string()).collect();
    assert_eq!(
        changes,
        ["[public].[users].[with_args]"],
        "{}",
        describe_diff(&diff)
    );
    // And against the database: the deployed change differs from what is there.
    let (_, changed_deployed) = round_trip_with("trigger_args_changed", &changed_sql, false);
    let diff = compare(&deployed, &changed_deployed, &options());
    let changes: Vec<String> = diff.differences().map(|c| c.name.to_string()).collect();
    assert_eq!(
        changes,
        ["[public].[users].[with_args]"],
        "{}",
        describe_diff(&diff)
    );
}

/// Collations by bare and schema-qualified names, in columns and index keys.
#[test]
fn qualified_collations_round_trip() {
    round_trip(
        "collations",
        "CREATE SCHEMA ext;
        CREATE COLLATION \"public\".\"mycoll\" (provider = libc, lc_collate = 'C', lc_ctype = 'C');
        CREATE COLLATION \"ext\".\"othercoll\"
            (provider = libc, lc_collate = 'POSIX', lc_ctype = 'POSIX');
        CREATE TABLE names (
            a text COLLATE \"C\",
            b text COLLATE \"pg_catalog\".\"C\",
            c text COLLATE pg_catalog.\"POSIX\",
            d varchar(10) COLLATE public.mycoll,
            e text COLLATE mycoll,
            f text COLLATE ext.othercoll,
            g text
        );
        CREATE INDEX names_g ON names (g COLLATE \"C\");
        CREATE INDEX names_ga ON names (g COLLATE pg_catalog.\"POSIX\" text_pattern_ops DESC, a);
        CREATE INDEX names_gb ON names (g COLLATE ext.othercoll);
        CREATE INDEX names_lower ON names ((lower(g)) COLLATE \"C\");",
    );
}
