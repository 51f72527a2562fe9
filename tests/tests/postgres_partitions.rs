//! PostgreSQL declarative partitioning and extension-owned objects on a real server.
//!
//! Partitioned tables, their partitions (range, list, hash, default, sub-partitioned), bounds,
//! inherited columns, keys and indexes: building the DDL and inspecting the database made from
//! it compare empty; the built model survives a package write and read; deploying it into an
//! empty database gives the same database; pg_dump's form (`CREATE TABLE` + `ATTACH PARTITION`,
//! `CREATE INDEX ... ON ONLY` + `ALTER INDEX ... ATTACH PARTITION`) builds the same model; and
//! `pg_dump -s` of the live database builds and compares empty.
//!
//! Extension-owned objects (`pg_depend.deptype = 'e'`) belong to their extension: inspection
//! has none of them, and it compares empty with building the `CREATE EXTENSION` statements.

use std::path::Path;

use dac_engine::compare::{CompareOptions, compare};
use dac_engine::driver::{Driver, PostgresDriver};
use dac_engine::model::{Model, Platform};
use dac_engine::package::{self, Package, ReadOptions};
use dac_engine::source::generic::{into_model, parse_source};
use dac_tests::conformance::describe as describe_diff;
use dac_tests::postgres::server;

fn model_of(sql: &str) -> Model {
    let parsed = parse_source(Platform::Postgres, sql, Path::new("case.sql"), 1)
        .unwrap_or_else(|e| panic!("parse: {e}"));
    into_model(Platform::Postgres, parsed.elements)
}

fn options() -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    }
}

fn assert_same(current: &Model, desired: &Model, what: &str) {
    let diff = compare(current, desired, &options());
    assert!(diff.is_empty(), "{what}:\n{}", describe_diff(&diff));
}

fn pg_dump(url: &str) -> String {
    dac_tests::postgres::dump_schema(url).unwrap_or_else(|e| panic!("pg_dump: {e}"))
}

const PARTITIONS: &str = "
CREATE TABLE measurements (
    city_id integer NOT NULL,
    logdate date NOT NULL,
    peak integer DEFAULT 0,
    note text,
    PRIMARY KEY (city_id, logdate),
    CHECK (peak >= 0)
) PARTITION BY RANGE (logdate);
CREATE TABLE measurements_2024 PARTITION OF measurements
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurements_2025 PARTITION OF measurements
    FOR VALUES FROM ('2025-01-01') TO (MAXVALUE);
CREATE TABLE measurements_old PARTITION OF measurements DEFAULT;
CREATE INDEX measurements_peak ON measurements (peak);
CREATE UNIQUE INDEX measurements_city_logdate ON measurements (city_id, logdate);

CREATE TABLE cities (id integer, region text NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE cities_west PARTITION OF cities FOR VALUES IN ('west', 'north-west');
CREATE TABLE cities_east PARTITION OF cities FOR VALUES IN ('east')
    PARTITION BY HASH (id);
CREATE TABLE cities_east_0 PARTITION OF cities_east FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE cities_east_1 PARTITION OF cities_east FOR VALUES WITH (MODULUS 2, REMAINDER 1);

CREATE SCHEMA logs;
CREATE TABLE logs.events (id bigint, at date NOT NULL) PARTITION BY RANGE (at, id);
CREATE TABLE logs.events_a PARTITION OF logs.events
    FOR VALUES FROM (MINVALUE, MINVALUE) TO ('2024-06-01', 0);
CREATE INDEX events_at ON logs.events USING brin (at);
";

/// Build vs inspect, package round trip, deploy from empty, pg_dump's form, pg_dump of live.
#[test]
fn partitions_round_trip() {
    let server = server();
    let url = server.create_database("partitions");
    let mut driver = PostgresDriver::connect(&url).unwrap();
    driver
        .execute(PARTITIONS)
        .unwrap_or_else(|e| panic!("execute: {e}"));
    let live = driver.inspect().unwrap();
    let built = model_of(PARTITIONS);
    let partition = built
        .elements
        .iter()
        .find(|e| e.name_or_empty().to_string() == "[public].[measurements_2024]")
        .expect("the partition is an element");
    assert_eq!(
        partition
            .reference_name("PartitionOf")
            .map(|n| n.to_string()),
        Some("[public].[measurements]".to_string())
    );
    assert_eq!(
        partition.text_prop("PartitionBound"),
        Some("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")
    );
    assert_same(&live, &built, "inspect != build");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("partitions.dacpac");
    package::write(
        &Package::of_model(live.clone(), "partitions", "1.0.0"),
        &path,
    )
    .unwrap();
    let read = package::read(&path, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("the inspected package does not load: {e}"));
    assert_same(&read.model, &live, "read != inspect");

    let deployed = driver
        .canonicalize(&built)
        .unwrap_or_else(|e| panic!("deploying the built model: {e}"));
    assert_same(&live, &deployed, "inspect != deployed");

    let dump = pg_dump(&url);
    assert!(
        dump.contains("ATTACH PARTITION"),
        "pg_dump writes the ATTACH form:\n{dump}"
    );
    let dumped = model_of(&dump);
    assert_same(&live, &dumped, "inspect != build of pg_dump -s");
    drop(driver);
    server.drop_database(&url);
}

/// pg_dump's ATTACH form, written by hand, builds the same model as the PARTITION OF form.
#[test]
fn attach_form_builds_the_partition_of_model() {
    let attach = "
        CREATE TABLE m (id integer NOT NULL, d date NOT NULL, v text) PARTITION BY RANGE (d);
        CREATE TABLE m_2024 (id integer NOT NULL, d date NOT NULL, v text);
        ALTER TABLE ONLY m ATTACH PARTITION m_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE m_rest (id integer NOT NULL, d date NOT NULL, v text);
        ALTER TABLE ONLY public.m ATTACH PARTITION public.m_rest DEFAULT;
        CREATE INDEX m_v ON ONLY m (v);
        CREATE INDEX m_2024_v_idx ON m_2024 (v);
        ALTER INDEX m_v ATTACH PARTITION m_2024_v_idx;
        CREATE INDEX m_rest_v_idx ON public.m_rest USING btree (v);
        ALTER INDEX public.m_v ATTACH PARTITION public.m_rest_v_idx;";
    let of = "
        CREATE TABLE m (id integer NOT NULL, d date NOT NULL, v text) PARTITION BY RANGE (d);
        CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE m_rest PARTITION OF m DEFAULT;
        CREATE INDEX m_v ON m (v);";
    assert_same(&model_of(of), &model_of(attach), "PARTITION OF != ATTACH");
}

const EXTENSIONS: &str = "
CREATE EXTENSION cube;
CREATE EXTENSION hstore;
CREATE SCHEMA ext;
CREATE EXTENSION ltree SCHEMA ext;
CREATE EXTENSION pg_trgm;
CREATE EXTENSION citext;
";

const EXTENSION_TABLE: &str = "
CREATE TABLE owned_parent (id integer PRIMARY KEY);
CREATE TABLE owned (
    id serial PRIMARY KEY,
    code text UNIQUE,
    parent integer REFERENCES owned_parent (id),
    n integer CHECK (n > 0)
);
CREATE INDEX owned_n ON owned (n);
CREATE FUNCTION owned_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER owned_touch BEFORE INSERT ON owned FOR EACH ROW EXECUTE FUNCTION owned_trigger();
ALTER TABLE owned ENABLE ROW LEVEL SECURITY;
CREATE POLICY owned_all ON owned USING (true);
COMMENT ON TABLE owned IS 'the extension''s';
ALTER EXTENSION cube ADD TABLE owned_parent;
ALTER EXTENSION cube ADD TABLE owned;
ALTER EXTENSION cube ADD SEQUENCE owned_id_seq;
ALTER EXTENSION cube ADD FUNCTION owned_trigger();
";

/// No element of the inspection belongs to an extension; it compares empty with building the
/// `CREATE EXTENSION` statements.
#[test]
fn extension_owned_objects_are_not_inspected() {
    let server = server();
    let url = server.create_database("ext_owned");
    let mut driver = PostgresDriver::connect(&url).unwrap();
    driver
        .execute(EXTENSIONS)
        .unwrap_or_else(|e| panic!("execute: {e}"));
    // A table an extension owns (as pg_partman's part_config), with the objects on it that
    // inspection reads per table: keys, checks, foreign keys, indexes, triggers, policies and
    // a serial column's sequence.
    driver
        .execute(EXTENSION_TABLE)
        .unwrap_or_else(|e| panic!("execute: {e}"));
    let live = driver.inspect().unwrap();
    let kinds: Vec<String> = live
        .elements
        .iter()
        .map(|e| format!("{} {}", e.kind, e.name_or_empty()))
        .collect();
    let extensions = kinds.iter().filter(|k| k.contains("Extension")).count();
    assert_eq!(
        extensions, 5,
        "the five extensions are elements: {kinds:#?}"
    );
    // Only the extensions and the schema: no function, operator, type, comment or constraint.
    let others: Vec<&String> = kinds
        .iter()
        .filter(|k| !k.contains("Extension") && !k.contains("Schema"))
        .collect();
    assert!(others.is_empty(), "extension-owned elements: {others:#?}");
    assert_same(&live, &model_of(EXTENSIONS), "inspect != build");
    drop(driver);
    server.drop_database(&url);
}

/// Deploys `from`, fills it, upgrades to `to` through compare, plan and script, and checks the
/// database then compares empty with `to`; returns the row count of `table` after.
fn upgrade(slug: &str, from: &str, fill: &str, to: &str, table: &str) -> Result<i64, String> {
    use dac_engine::dialect::dialect_for;
    use dac_engine::plan::{PlanOptions, plan};
    use dac_engine::script::render;
    let server = server();
    let url = server.create_database(slug);
    let mut driver = PostgresDriver::connect(&url).unwrap();
    driver.execute(from).unwrap();
    driver.execute(fill).unwrap();
    let live = driver.inspect().unwrap();
    let desired = model_of(to);
    let diff = compare(&live, &desired, &options());
    let dialect = dialect_for(Platform::Postgres);
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
    dac_engine::upgrade::execute(&mut driver, &script).map_err(|e| e.to_string())?;
    let after = driver.inspect().unwrap();
    assert_same(&after, &desired, "after the upgrade != desired");
    let rows = driver
        .query(&format!("SELECT count(*)::text FROM {table}"))
        .unwrap();
    drop(driver);
    server.drop_database(&url);
    Ok(rows[0][0].clone().unwrap_or_default().parse().unwrap())
}

/// A changed bound detaches the partition and attaches it again with the new bound, keeping
/// its rows; a table that becomes a partition is attached, with its rows; a partition that
/// becomes a table of its own is detached, with its rows.
#[test]
fn changed_partition_bound_upgrades() {
    let v1 = "CREATE TABLE m (id int GENERATED ALWAYS AS IDENTITY, a int) PARTITION BY LIST (a);
        CREATE TABLE p PARTITION OF m FOR VALUES IN (1);
        CREATE TABLE q PARTITION OF m FOR VALUES IN (3);";
    let v2 = v1.replace("IN (1)", "IN (1, 2)");
    let fill = "INSERT INTO m (a) VALUES (1), (1), (3);";
    assert_eq!(upgrade("part_bound", v1, fill, &v2, "p"), Ok(2));
    let v0 = "CREATE TABLE m (id int GENERATED ALWAYS AS IDENTITY, a int) PARTITION BY LIST (a);
        CREATE TABLE p (id int NOT NULL, a int);
        CREATE TABLE q PARTITION OF m FOR VALUES IN (3);";
    assert_eq!(
        upgrade(
            "part_member",
            v0,
            "INSERT INTO p VALUES (1, 1), (2, 1);",
            v1,
            "m"
        ),
        Ok(2)
    );
    assert_eq!(
        upgrade("part_leaves", v1, fill, v0, "p"),
        Ok(2),
        "the detached partition keeps its rows"
    );
    // Rows outside the new bound: the server refuses the attach, and the upgrade with it.
    let err = upgrade("part_outside", v0, "INSERT INTO p VALUES (1, 5);", v1, "m").unwrap_err();
    assert!(err.contains("partition constraint"), "{err}");
}
