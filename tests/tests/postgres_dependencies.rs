//! Dependencies drive the plan, against a real PostgreSQL: objects are created after what
//! their definitions use (functions called by defaults, checks, expression indexes and
//! generated columns; types named by domains), dropped before what they used, and the views,
//! materialized views, functions and policies over a column whose type changes or that is
//! dropped, or over an enum that changes, are dropped before the change and re-created after
//! it, with the rows kept.

use std::path::Path;

use dac_engine::compare::{CompareOptions, compare};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::{Driver, PostgresDriver};
use dac_engine::model::{Dsp, Model, Platform};
use dac_engine::plan::{PlanOptions, plan};
use dac_engine::script::render;
use dac_engine::source::generic::{finish, parse_batch};
use dac_engine::upgrade;
use dac_tests::postgres::server;

fn model_of(sql: &str) -> Model {
    let mut elements =
        parse_batch(Platform::Postgres, sql, Path::new("case.sql"), 1).expect("parse");
    finish(Platform::Postgres, &mut elements);
    let mut model = Model::empty(Dsp::from_short_name("postgres").expect("dsp"));
    model.collation_case_sensitive = true;
    model.elements = elements;
    model.sort_elements();
    model
}

fn options() -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: true,
        ignore_column_order: true,
        ..CompareOptions::default()
    }
}

/// Plans live -> `sql` (canonicalised by the driver), runs it and checks that nothing is left
/// to do. Returns the steps as `Kind name` lines.
fn upgrade_to(driver: &mut PostgresDriver, sql: &str) -> Vec<String> {
    let target = driver
        .canonicalize(&model_of(sql))
        .unwrap_or_else(|e| panic!("the CREATE script of the model does not apply: {e}"));
    let live = driver.inspect().expect("inspect");
    let diff = compare(&live, &target, &options());
    let dialect = dialect_for(Platform::Postgres);
    let planned = plan(
        &diff,
        &live,
        &target,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            ..PlanOptions::default()
        },
    );
    assert_eq!(planned.cycles().count(), 0, "{:?}", planned.hazards);
    let script = render(&planned, dialect);
    upgrade::execute(driver, &script).unwrap_or_else(|e| panic!("{e}\n{}", script.text(dialect)));
    let after = driver.inspect().expect("inspect");
    let again = compare(&after, &target, &options());
    assert!(again.is_empty(), "not converged: {again:?}");
    planned
        .steps
        .iter()
        .map(|s| format!("{} {}", s.kind.as_str(), s.name))
        .collect()
}

fn value(driver: &mut PostgresDriver, sql: &str) -> String {
    let rows = driver.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default()
}

fn database(slug: &str) -> (String, PostgresDriver) {
    let url = server().create_database(slug);
    let driver = PostgresDriver::connect(&url).expect("connect");
    (url, driver)
}

fn position(steps: &[String], step: &str) -> usize {
    steps
        .iter()
        .position(|s| s == step)
        .unwrap_or_else(|| panic!("no {step} in {steps:#?}"))
}

const FUNCTIONS_FIRST: &str = "
CREATE TABLE public.items (
    id integer DEFAULT public.new_id() NOT NULL,
    name text CHECK (public.is_valid_name(name)),
    doubled integer GENERATED ALWAYS AS (public.double_value(id)) STORED,
    CONSTRAINT items_positive CHECK (public.is_positive(id))
);
CREATE INDEX items_norm ON public.items (public.norm(name));
CREATE INDEX items_active ON public.items (id) WHERE public.is_valid_name(name);
CREATE FUNCTION public.new_id() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RETURN 7; END $$;
CREATE FUNCTION public.is_valid_name(n text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT length(n) > 1 $$;
CREATE FUNCTION public.is_positive(n integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT n > 0 $$;
CREATE FUNCTION public.double_value(n integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT n * 2 $$;
CREATE FUNCTION public.norm(n text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(n) $$;
CREATE DOMAIN public.email AS public.short_text CHECK (public.is_valid_name(VALUE));
CREATE DOMAIN public.short_text AS text CHECK (length(VALUE) < 100);
";

/// Defaults, checks, generated columns, indexes and domains that call functions, in a model
/// that lists the table first: deployed into an empty database, used, and dropped again.
#[test]
fn functions_come_before_the_tables_and_domains_that_call_them() {
    let (url, mut driver) = database("deps_functions_first");
    let steps = upgrade_to(&mut driver, FUNCTIONS_FIRST);
    let table = position(&steps, "CreateTable [public].[items]");
    for f in ["new_id", "is_valid_name", "is_positive", "double_value"] {
        assert!(position(&steps, &format!("CreateProgrammable [public].[{f}]")) < table);
    }
    assert!(
        position(&steps, "CreateType [public].[short_text]")
            < position(&steps, "CreateType [public].[email]")
    );
    driver
        .execute("INSERT INTO public.items (name) VALUES ('Ab')")
        .expect("insert");
    assert_eq!(value(&mut driver, "SELECT id::text FROM public.items"), "7");
    assert_eq!(
        value(&mut driver, "SELECT doubled::text FROM public.items"),
        "14"
    );
    assert!(
        driver
            .execute("INSERT INTO public.items (name) VALUES ('x')")
            .is_err(),
        "the check calling a function holds"
    );
    // And back to nothing: the table before the functions it calls.
    let steps = upgrade_to(&mut driver, "");
    assert!(
        position(&steps, "DropTable [public].[items]")
            < position(&steps, "DropProgrammable [public].[is_positive]")
    );
    drop(driver);
    server().drop_database(&url);
}

const VIEWS_V1: &str = "
CREATE TABLE public.products (id integer PRIMARY KEY, price integer, category text, note text);
CREATE VIEW public.cheap AS SELECT id, price, category FROM public.products WHERE price < 10;
CREATE VIEW public.cheap_ids AS SELECT id FROM public.cheap;
CREATE MATERIALIZED VIEW public.totals AS SELECT category, sum(price) AS total FROM public.products GROUP BY category;
CREATE UNIQUE INDEX totals_category ON public.totals (category);
CREATE FUNCTION public.cheapest() RETURNS bigint LANGUAGE sql AS $$ SELECT min(price)::bigint FROM public.products $$;
ALTER TABLE public.products ENABLE ROW LEVEL SECURITY;
CREATE POLICY cheap_only ON public.products USING (price < 100);
";

/// `price` becomes bigint, `note` is dropped: the views over the table (and the view over the
/// view), the materialized view with its index, the function whose body holds `price` and the
/// policy on it are dropped before the ALTER and re-created after it, with their rows.
const VIEWS_V2: &str = "
CREATE TABLE public.products (id integer PRIMARY KEY, price bigint, category text);
CREATE VIEW public.cheap AS SELECT id, price, category FROM public.products WHERE price < 10;
CREATE VIEW public.cheap_ids AS SELECT id FROM public.cheap;
CREATE MATERIALIZED VIEW public.totals AS SELECT category, sum(price) AS total FROM public.products GROUP BY category;
CREATE UNIQUE INDEX totals_category ON public.totals (category);
CREATE FUNCTION public.cheapest() RETURNS bigint LANGUAGE sql AS $$ SELECT min(price)::bigint FROM public.products $$;
ALTER TABLE public.products ENABLE ROW LEVEL SECURITY;
CREATE POLICY cheap_only ON public.products USING (price < 100);
";

#[test]
fn views_functions_and_policies_over_a_changed_column_are_taken_down_and_put_back() {
    let (url, mut driver) = database("deps_views_column");
    upgrade_to(&mut driver, VIEWS_V1);
    driver
        .execute("INSERT INTO public.products VALUES (1, 5, 'a', 'x'), (2, 50, 'a', 'y')")
        .expect("insert");
    driver
        .execute("REFRESH MATERIALIZED VIEW public.totals")
        .expect("refresh");
    let steps = upgrade_to(&mut driver, VIEWS_V2);
    let alter = position(&steps, "AlterTable [public].[products]");
    for (drop, create) in [
        (
            "DropProgrammable [public].[cheap]",
            "CreateProgrammable [public].[cheap]",
        ),
        (
            "DropProgrammable [public].[cheap_ids]",
            "CreateProgrammable [public].[cheap_ids]",
        ),
        (
            "DropProgrammable [public].[totals]",
            "CreateProgrammable [public].[totals]",
        ),
        (
            "DropOther [public].[products].[cheap_only]",
            "CreateOther [public].[products].[cheap_only]",
        ),
    ] {
        assert!(position(&steps, drop) < alter, "{steps:#?}");
        assert!(position(&steps, create) > alter, "{steps:#?}");
    }
    assert!(position(&steps, "CreateIndex [public].[totals].[totals_category]") > alter);
    assert_eq!(
        value(&mut driver, "SELECT count(*)::text FROM public.cheap_ids"),
        "1"
    );
    assert_eq!(
        value(&mut driver, "SELECT total::text FROM public.totals"),
        "55",
        "the materialized view is populated again"
    );
    // And back: the column comes back, its type goes back.
    upgrade_to(&mut driver, VIEWS_V1);
    assert_eq!(
        value(&mut driver, "SELECT count(*)::text FROM public.products"),
        "2"
    );
    drop(driver);
    server().drop_database(&url);
}

const ENUM_V1: &str = "
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.people (id integer PRIMARY KEY, m public.mood NOT NULL DEFAULT 'ok');
CREATE VIEW public.happy_people AS SELECT id, m FROM public.people WHERE m = 'happy';
CREATE FUNCTION public.describe(x public.mood) RETURNS text LANGUAGE sql AS $$ SELECT x::text $$;
";

/// `ok` removed, `ecstatic` added.
const ENUM_V2: &str = "
CREATE TYPE public.mood AS ENUM ('sad', 'happy', 'ecstatic');
CREATE TABLE public.people (id integer PRIMARY KEY, m public.mood NOT NULL DEFAULT 'sad');
CREATE VIEW public.happy_people AS SELECT id, m FROM public.people WHERE m = 'happy';
CREATE FUNCTION public.describe(x public.mood) RETURNS text LANGUAGE sql AS $$ SELECT x::text $$;
";

/// Neither the enum nor the view: the column becomes text.
const ENUM_V3: &str = "
CREATE TABLE public.people (id integer PRIMARY KEY, m text NOT NULL DEFAULT 'sad');
";

#[test]
fn an_enum_changes_and_goes_under_a_column_a_view_and_a_function() {
    let (url, mut driver) = database("deps_enum");
    upgrade_to(&mut driver, ENUM_V1);
    driver
        .execute("INSERT INTO public.people VALUES (1, 'happy'), (2, 'sad')")
        .expect("insert");
    let steps = upgrade_to(&mut driver, ENUM_V2);
    let replace = position(&steps, "CreateType [public].[mood]");
    assert!(position(&steps, "DropProgrammable [public].[happy_people]") < replace);
    assert!(position(&steps, "CreateProgrammable [public].[happy_people]") > replace);
    assert!(position(&steps, "DropProgrammable [public].[describe]") < replace);
    assert!(position(&steps, "CreateProgrammable [public].[describe]") > replace);
    assert_eq!(
        value(
            &mut driver,
            "SELECT count(*)::text FROM public.happy_people"
        ),
        "1"
    );
    assert_eq!(
        value(&mut driver, "SELECT public.describe('ecstatic')"),
        "ecstatic"
    );
    let steps = upgrade_to(&mut driver, ENUM_V3);
    assert!(
        position(&steps, "AlterTable [public].[people]")
            < position(&steps, "DropType [public].[mood]")
    );
    assert_eq!(
        value(&mut driver, "SELECT m FROM public.people WHERE id = 1"),
        "happy"
    );
    // And back to the enum, with the view and the function.
    upgrade_to(&mut driver, ENUM_V2);
    assert_eq!(
        value(
            &mut driver,
            "SELECT count(*)::text FROM public.happy_people"
        ),
        "1"
    );
    drop(driver);
    server().drop_database(&url);
}

// ------------------------------------------------ pg_dump's forms, statistics, column order

/// pg_dump writes a serial column as a table, a separate sequence, `ALTER SEQUENCE ... OWNED BY`
/// and `ALTER TABLE ONLY ... SET DEFAULT nextval(...)`. Deployed, the sequence is owned by the
/// column (it goes with the table), whatever its name; so is one that comes with a column added
/// later. `SET STATISTICS` of columns and index columns is deployed, changed and reset.
#[test]
fn owned_sequences_and_statistics_targets_deploy_and_upgrade() {
    let (_url, mut driver) = database("pg_owned_stats");
    let v1 = "
CREATE TABLE public.posts (id bigint NOT NULL, body text);
CREATE SEQUENCE public.post_ids START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
ALTER SEQUENCE public.post_ids OWNED BY public.posts.id;
ALTER TABLE ONLY public.posts ALTER COLUMN id SET DEFAULT nextval('public.post_ids'::regclass);
ALTER TABLE ONLY public.posts ALTER COLUMN body SET STATISTICS 1000;
CREATE INDEX posts_lower ON public.posts (lower(body));
ALTER INDEX public.posts_lower ALTER COLUMN 1 SET STATISTICS 3000;
";
    upgrade_to(&mut driver, v1);
    let owner = "SELECT pg_get_serial_sequence('public.posts', 'id')";
    assert_eq!(value(&mut driver, owner), "public.post_ids");
    let stats = |d: &mut PostgresDriver, rel: &str, att: &str| {
        value(
            d,
            &format!(
                "SELECT coalesce(attstattarget, -1)::text FROM pg_attribute WHERE attrelid = '{rel}'::regclass AND attname = '{att}'"
            ),
        )
    };
    assert_eq!(stats(&mut driver, "public.posts", "body"), "1000");
    assert_eq!(stats(&mut driver, "public.posts_lower", "lower"), "3000");

    let v2 = "
CREATE TABLE public.posts (id bigint NOT NULL, body text, seq_no integer NOT NULL);
CREATE SEQUENCE public.post_ids START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
ALTER SEQUENCE public.post_ids OWNED BY public.posts.id;
ALTER TABLE ONLY public.posts ALTER COLUMN id SET DEFAULT nextval('public.post_ids'::regclass);
CREATE SEQUENCE public.post_seq_numbers AS integer;
ALTER SEQUENCE public.post_seq_numbers OWNED BY public.posts.seq_no;
ALTER TABLE ONLY public.posts ALTER COLUMN seq_no SET DEFAULT nextval('public.post_seq_numbers'::regclass);
ALTER TABLE ONLY public.posts ALTER COLUMN body SET STATISTICS 200;
CREATE INDEX posts_lower ON public.posts (lower(body));
";
    driver
        .execute("INSERT INTO public.posts (body) VALUES ('a'), ('b')")
        .expect("rows");
    upgrade_to(&mut driver, v2);
    assert_eq!(
        value(
            &mut driver,
            "SELECT pg_get_serial_sequence('public.posts', 'seq_no')"
        ),
        "public.post_seq_numbers"
    );
    assert_eq!(value(&mut driver, owner), "public.post_ids");
    assert_eq!(stats(&mut driver, "public.posts", "body"), "200");
    assert_eq!(stats(&mut driver, "public.posts_lower", "lower"), "-1");
    assert_eq!(
        value(&mut driver, "SELECT count(*)::text FROM public.posts"),
        "2"
    );
}

/// PostgreSQL adds a column at the end. Where the package declares it between others, the
/// plan reports the order it keeps; asked to rebuild for column order, the table is rebuilt
/// with its rows, its serial sequence still owned, its identity continuing after the copied
/// values, and the foreign key that references it put back.
#[test]
fn column_order_is_reported_or_rebuilt_on_request() {
    use dac_engine::package::Package;
    use dac_engine::plan::HazardKind;
    use dac_engine::upgrade::InPlaceOptions;
    let (_url, mut driver) = database("pg_column_order");
    let v1 = "
CREATE TABLE public.authors (id serial PRIMARY KEY, code integer GENERATED BY DEFAULT AS IDENTITY UNIQUE, name text);
CREATE TABLE public.books (id serial PRIMARY KEY, author_id integer REFERENCES public.authors (id));
";
    upgrade_to(&mut driver, v1);
    driver
        .execute("INSERT INTO public.authors (name) VALUES ('a'), ('b'), ('c'); INSERT INTO public.books (author_id) VALUES (3)")
        .expect("rows");
    let v2 = "
CREATE TABLE public.authors (id serial PRIMARY KEY, email text, code integer GENERATED BY DEFAULT AS IDENTITY UNIQUE, name text);
CREATE TABLE public.books (id serial PRIMARY KEY, author_id integer REFERENCES public.authors (id));
";
    let package = |sql: &str| Package::of_model(model_of(sql), "order", "2.0.0");
    let run = |driver: &mut PostgresDriver, rebuild: bool| {
        upgrade::in_place(
            driver,
            &package(v2),
            &InPlaceOptions {
                allow_drift: true,
                compare: upgrade::compare_options(Platform::Postgres),
                rebuild_for_column_order: rebuild,
                ..InPlaceOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("upgrade: {e}"))
    };
    let columns = "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.authors'::regclass AND attnum > 0 AND NOT attisdropped";
    let kept = run(&mut driver, false);
    assert!(
        kept.plan
            .hazards
            .iter()
            .any(|h| h.kind == HazardKind::ColumnOrder && h.object.to_string().contains("authors")),
        "{:?}",
        kept.plan.hazards
    );
    assert_eq!(value(&mut driver, columns), "id,code,name,email");
    let rebuilt = run(&mut driver, true);
    assert!(
        rebuilt
            .plan
            .steps
            .iter()
            .any(|s| s.kind.as_str() == "RebuildTable"),
        "{:?}",
        rebuilt.plan.steps
    );
    assert_eq!(value(&mut driver, columns), "id,email,code,name");
    assert_eq!(
        value(
            &mut driver,
            "SELECT pg_get_serial_sequence('public.authors', 'id')"
        ),
        "public.authors_id_seq"
    );
    // New rows continue after the copied ones: neither the serial nor the identity restarts.
    driver
        .execute("INSERT INTO public.authors (name) VALUES ('d')")
        .expect("a new row after the rebuild");
    assert_eq!(
        value(
            &mut driver,
            "SELECT id::text || '/' || code::text FROM public.authors WHERE name = 'd'"
        ),
        "4/4"
    );
    assert_eq!(
        value(
            &mut driver,
            "SELECT count(*)::text FROM public.books b JOIN public.authors a ON a.id = b.author_id"
        ),
        "1"
    );
    let fk = "SELECT count(*)::text FROM pg_constraint WHERE conrelid = 'public.books'::regclass AND contype = 'f'";
    assert_eq!(value(&mut driver, fk), "1");
}
