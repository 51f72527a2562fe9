use crate::model::kind::prop;
use std::path::Path;

use super::*;
use crate::model::kind::{self, rel};
use crate::model::{Element, ObjectName};

fn pg(sql: &str) -> Vec<Element> {
    parse_batch(Platform::Postgres, sql, Path::new("t.sql"), 1).expect("parses")
}

fn lite(sql: &str) -> Vec<Element> {
    parse_batch(Platform::Sqlite, sql, Path::new("t.sql"), 1).expect("parses")
}

fn find<'a>(els: &'a [Element], kind: &str, name: &str) -> &'a Element {
    els.iter()
        .find(|e| e.kind == kind && e.name.as_ref().is_some_and(|n| n.to_string() == name))
        .unwrap_or_else(|| panic!("no {kind} {name} in {:#?}", names(els)))
}

fn names(els: &[Element]) -> Vec<String> {
    els.iter()
        .map(|e| format!("{} {}", e.kind, e.name_or_empty()))
        .collect()
}

fn of_kind<'a>(els: &'a [Element], kind: &'a str) -> Vec<&'a Element> {
    els.iter().filter(|e| e.kind == kind).collect()
}

fn column<'a>(table: &'a Element, leaf: &str) -> &'a Element {
    table
        .children(rel::COLUMNS)
        .find(|c| c.name_or_empty().leaf() == leaf)
        .unwrap_or_else(|| panic!("no column {leaf}"))
}

fn col_type(col: &Element) -> String {
    col.children(rel::TYPE_SPECIFIER)
        .next()
        .and_then(|s| s.reference_name(rel::TYPE))
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The column's type specifier.
fn type_spec(col: &Element) -> &Element {
    col.children(rel::TYPE_SPECIFIER).next().unwrap()
}

fn refs(el: &Element, rel_name: &str) -> Vec<String> {
    el.references(rel_name)
        .filter_map(|r| r.name.as_ref())
        .map(ToString::to_string)
        .collect()
}

fn spec_columns(el: &Element) -> Vec<String> {
    el.children(rel::COLUMN_SPECIFICATIONS)
        .flat_map(|s| refs(s, rel::COLUMN))
        .collect()
}

#[test]
fn postgres_table_columns_types_and_generated_constraint_names() {
    let els = pg("CREATE TABLE Users (
        id serial PRIMARY KEY,
        \"Email\" varchar(255) NOT NULL UNIQUE,
        age int4 CHECK (age > 0),
        score numeric(10, 2) DEFAULT 0,
        created timestamptz DEFAULT now(),
        tags text[],
        org_id bigint REFERENCES orgs ON DELETE CASCADE,
        flag bool COLLATE \"C\"
    );");
    let t = find(&els, kind::TABLE, "[public].[users]");
    assert!(t.references(rel::SCHEMA).next().unwrap().is_built_in());
    let id = column(t, "id");
    assert_eq!(col_type(id), "[integer]");
    assert_eq!(id.bool_prop(prop::IS_NULLABLE), Some(false));
    let email = column(t, "Email");
    assert_eq!(col_type(email), "[character varying]");
    assert_eq!(type_spec(email).int_prop(prop::LENGTH), Some(255));
    assert_eq!(email.bool_prop(prop::IS_NULLABLE), Some(false));
    let age = column(t, "age");
    assert_eq!(col_type(age), "[integer]");
    assert_eq!(
        age.prop(prop::IS_NULLABLE),
        None,
        "nullable columns carry no IsNullable"
    );
    assert_eq!(col_type(column(t, "created")), "[timestamp with time zone]");
    let tags = column(t, "tags");
    assert_eq!(type_spec(tags).int_prop(prop::ARRAY_DIMENSIONS), Some(1));
    assert_eq!(column(t, "flag").text_prop(prop::COLLATION), Some("C"));

    let pk = find(&els, kind::PRIMARY_KEY, "[public].[users_pkey]");
    assert_eq!(spec_columns(pk), ["[public].[users].[id]"]);
    assert_eq!(refs(pk, rel::DEFINING_TABLE), ["[public].[users]"]);
    let uq = find(&els, kind::UNIQUE, "[public].[users_Email_key]");
    assert_eq!(spec_columns(uq), ["[public].[users].[Email]"]);
    let ck = find(&els, kind::CHECK, "[public].[users_age_check]");
    assert_eq!(ck.text_prop(prop::CHECK_EXPRESSION_SCRIPT), Some("age > 0"));
    let fk = find(&els, kind::FOREIGN_KEY, "[public].[users_org_id_fkey]");
    assert_eq!(
        fk.int_prop(prop::ON_DELETE_ACTION),
        Some(1),
        "DacFx: 1 = CASCADE"
    );
    assert_eq!(refs(fk, rel::FOREIGN_TABLE), ["[public].[orgs]"]);
    assert_eq!(refs(fk, rel::COLUMNS), ["[public].[users].[org_id]"]);

    // serial: a sequence owned by the column and a nextval default.
    let seq = find(&els, kind::SEQUENCE, "[public].[users_id_seq]");
    assert_eq!(refs(seq, "OwnedBy"), ["[public].[users].[id]"]);
    let defaults = of_kind(&els, kind::DEFAULT);
    let texts: Vec<&str> = defaults
        .iter()
        .map(|d| d.text_prop(prop::DEFAULT_EXPRESSION_SCRIPT).unwrap())
        .collect();
    assert!(
        texts.contains(&"nextval('users_id_seq'::regclass)"),
        "{texts:?}"
    );
    assert!(texts.contains(&"now()"));
    assert!(texts.contains(&"0"));
    for d in defaults {
        assert!(d.name.is_none() && d.disambiguator.is_some());
        assert_eq!(refs(d, rel::DEFINING_TABLE), ["[public].[users]"]);
    }
}

#[test]
fn postgres_table_level_constraints_identity_and_generated_columns() {
    let els = pg("CREATE TABLE app.orders (
        id bigint GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 5),
        a int, b int,
        total numeric GENERATED ALWAYS AS (a * b) STORED,
        CONSTRAINT orders_pk PRIMARY KEY (id),
        UNIQUE (a, b DESC),
        CHECK (a < b),
        FOREIGN KEY (a, b) REFERENCES app.other (x, y) ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED
    );");
    let t = find(&els, kind::TABLE, "[app].[orders]");
    assert_eq!(refs(t, rel::SCHEMA), ["[app]"]);
    assert!(!t.references(rel::SCHEMA).next().unwrap().is_built_in());
    let id = column(t, "id");
    assert_eq!(id.bool_prop(prop::IS_IDENTITY), Some(true));
    assert_eq!(id.text_prop(prop::IDENTITY_GENERATION), Some("Always"));
    assert_eq!(id.int_prop(prop::IDENTITY_SEED), Some(10));
    assert_eq!(id.int_prop(prop::IDENTITY_INCREMENT), Some(5));
    assert_eq!(id.bool_prop(prop::IS_NULLABLE), Some(false));
    let total = column(t, "total");
    assert_eq!(total.kind, kind::COMPUTED_COLUMN);
    assert_eq!(total.text_prop(prop::EXPRESSION_SCRIPT), Some("a * b"));
    assert_eq!(total.bool_prop(prop::IS_PERSISTED), Some(true));
    find(&els, kind::PRIMARY_KEY, "[app].[orders_pk]");
    let uq = find(&els, kind::UNIQUE, "[app].[orders_a_b_key]");
    let specs: Vec<&Element> = uq.children(rel::COLUMN_SPECIFICATIONS).collect();
    assert_eq!(specs[0].prop(prop::IS_ASCENDING), None);
    assert_eq!(specs[1].bool_prop(prop::IS_ASCENDING), Some(false));
    find(&els, kind::CHECK, "[app].[orders_check]");
    let fk = find(&els, kind::FOREIGN_KEY, "[app].[orders_a_b_fkey]");
    assert_eq!(
        fk.int_prop(prop::ON_UPDATE_ACTION),
        Some(2),
        "DacFx: 2 = SET NULL"
    );
    assert_eq!(fk.bool_prop(prop::IS_DEFERRABLE), Some(true));
    assert_eq!(fk.bool_prop(prop::IS_INITIALLY_DEFERRED), Some(true));
    assert_eq!(
        refs(fk, rel::FOREIGN_COLUMNS),
        ["[app].[other].[x]", "[app].[other].[y]"]
    );
}

#[test]
fn foreign_key_without_columns_uses_referenced_primary_key() {
    let els = pg("CREATE TABLE p (k int PRIMARY KEY); CREATE TABLE c (pk int REFERENCES p);");
    let fk = find(&els, kind::FOREIGN_KEY, "[public].[c_pk_fkey]");
    assert_eq!(refs(fk, rel::FOREIGN_COLUMNS), ["[public].[p].[k]"]);
}

#[test]
fn postgres_generated_names_are_unique_in_batch() {
    let els = pg(
        "CREATE TABLE t (a int CHECK (a > 0), b int, CHECK (b > 0 AND a > 0), CHECK (a + b > 0));",
    );
    find(&els, kind::CHECK, "[public].[t_a_check]");
    find(&els, kind::CHECK, "[public].[t_check]");
    find(&els, kind::CHECK, "[public].[t_check1]");
}

#[test]
fn sqlite_table_names_types_and_unnamed_constraints() {
    let els = lite(
        "PRAGMA foreign_keys = ON;
        BEGIN;
        CREATE TABLE Users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name varchar(30) NOT NULL DEFAULT 'x',
            parent INTEGER REFERENCES Users(id) ON DELETE SET NULL,
            note,
            CONSTRAINT uq_name UNIQUE (name)
        ) WITHOUT ROWID, STRICT;
        COMMIT;",
    );
    assert_eq!(els.iter().filter(|e| e.kind == kind::TABLE).count(), 1);
    let t = find(&els, kind::TABLE, "[main].[Users]");
    assert_eq!(t.bool_prop(prop::IS_WITHOUT_ROW_ID), Some(true));
    assert_eq!(t.bool_prop(prop::IS_STRICT), Some(true));
    let id = column(t, "id");
    assert_eq!(col_type(id), "[INTEGER]");
    assert_eq!(id.bool_prop(prop::IS_IDENTITY), Some(true));
    assert_eq!(
        id.prop(prop::IS_NULLABLE),
        None,
        "SQLite keeps PK columns as declared"
    );
    let name = column(t, "name");
    assert_eq!(col_type(name), "[VARCHAR]");
    assert_eq!(type_spec(name).int_prop(prop::LENGTH), Some(30));
    assert!(
        column(t, "note")
            .relationship(rel::TYPE_SPECIFIER)
            .is_none()
    );
    let pk = of_kind(&els, kind::PRIMARY_KEY);
    assert_eq!(pk.len(), 1);
    assert!(pk[0].name.is_none() && pk[0].disambiguator.is_some());
    let fk = of_kind(&els, kind::FOREIGN_KEY);
    assert!(fk[0].name.is_none());
    assert_eq!(fk[0].int_prop(prop::ON_DELETE_ACTION), Some(2));
    find(&els, kind::UNIQUE, "[main].[uq_name]");
    let d = of_kind(&els, kind::DEFAULT);
    assert_eq!(d[0].text_prop(prop::DEFAULT_EXPRESSION_SCRIPT), Some("'x'"));
    // Disambiguators are unique.
    let mut dis: Vec<_> = els.iter().filter_map(|e| e.disambiguator.clone()).collect();
    let n = dis.len();
    dis.dedup();
    assert_eq!(dis.len(), n);
}

#[test]
fn indexes_on_both_platforms() {
    let els = pg("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON s.t USING gin (a, lower(b) DESC) INCLUDE (c) WHERE a > 1;
                  CREATE INDEX ON t (x);");
    let ix = find(&els, kind::INDEX, "[s].[t].[ix]");
    assert_eq!(ix.bool_prop(prop::IS_UNIQUE), Some(true));
    assert_eq!(ix.text_prop(prop::INDEX_METHOD), Some("gin"));
    assert_eq!(ix.text_prop(prop::FILTER_PREDICATE), Some("a > 1"));
    assert_eq!(refs(ix, rel::INDEXED_OBJECT), ["[s].[t]"]);
    assert_eq!(refs(ix, rel::INCLUDED_COLUMNS), ["[s].[t].[c]"]);
    let specs: Vec<&Element> = ix.children(rel::COLUMN_SPECIFICATIONS).collect();
    assert_eq!(refs(specs[0], rel::COLUMN), ["[s].[t].[a]"]);
    assert_eq!(
        specs[1].text_prop(prop::EXPRESSION_SCRIPT),
        Some("lower(b)")
    );
    assert_eq!(specs[1].bool_prop(prop::IS_ASCENDING), Some(false));
    find(&els, kind::INDEX, "[public].[t].[t_x_idx]");

    let els = lite(
        "CREATE INDEX IF NOT EXISTS \"Ix\" ON t (a COLLATE NOCASE, b DESC) WHERE b IS NOT NULL;",
    );
    let ix = find(&els, kind::INDEX, "[main].[t].[Ix]");
    assert_eq!(ix.prop(prop::IS_UNIQUE), None);
    assert_eq!(ix.text_prop(prop::FILTER_PREDICATE), Some("b IS NOT NULL"));
}

#[test]
fn views_triggers_and_materialized_views() {
    let els = pg("CREATE OR REPLACE VIEW v AS SELECT 1 AS one;
        CREATE MATERIALIZED VIEW mv AS SELECT * FROM t WITH NO DATA;
        CREATE TRIGGER trg BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();");
    let v = find(&els, kind::VIEW, "[public].[v]");
    assert_eq!(v.text_prop(prop::QUERY_SCRIPT), Some("SELECT 1 AS one"));
    let mv = find(&els, kind::VIEW, "[public].[mv]");
    assert_eq!(mv.bool_prop(prop::IS_MATERIALIZED), Some(true));
    assert_eq!(mv.bool_prop(prop::WITH_NO_DATA), Some(true));
    let trg = find(&els, kind::DML_TRIGGER, "[public].[t].[trg]");
    assert_eq!(trg.bool_prop(prop::IS_INSERT_TRIGGER), Some(true));
    assert_eq!(trg.bool_prop(prop::IS_UPDATE_TRIGGER), Some(true));
    assert_eq!(trg.text_prop(prop::TRIGGER_TIMING), Some("Before"));
    assert!(
        trg.text_prop(prop::BODY_SCRIPT)
            .unwrap()
            .starts_with("CREATE TRIGGER trg")
    );
    assert_eq!(refs(trg, rel::PARENT), ["[public].[t]"]);

    let els = lite(
        "CREATE TRIGGER IF NOT EXISTS tr AFTER DELETE ON t BEGIN
            DELETE FROM u WHERE u.id = old.id;
            UPDATE w SET n = CASE WHEN n > 0 THEN n - 1 ELSE 0 END;
        END;
        CREATE VIEW IF NOT EXISTS vv AS SELECT a FROM t;",
    );
    let tr = find(&els, kind::DML_TRIGGER, "[main].[tr]");
    assert_eq!(tr.bool_prop(prop::IS_DELETE_TRIGGER), Some(true));
    assert!(
        tr.text_prop(prop::BODY_SCRIPT)
            .unwrap()
            .contains("DELETE FROM u")
    );
    find(&els, kind::VIEW, "[main].[vv]");
}

#[test]
fn postgres_routines_sequences_schemas_types_and_extensions() {
    let els = pg("CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION bob;
        CREATE SEQUENCE app.s START WITH 100 INCREMENT BY 2 CACHE 10;
        CREATE TYPE mood AS ENUM ('sad', 'ok');
        CREATE DOMAIN posint AS integer NOT NULL CHECK (VALUE > 0);
        CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public;
        CREATE OR REPLACE FUNCTION app.add(a integer, b int4 DEFAULT 1) RETURNS integer
            LANGUAGE sql IMMUTABLE COST 5 AS $$ SELECT a + b $$;
        DO $$ BEGIN PERFORM 1; END $$;");
    let schema = find(&els, kind::SCHEMA, "[app]");
    assert_eq!(schema.text_prop(prop::AUTHORIZATION), Some("bob"));
    let s = find(&els, kind::SEQUENCE, "[app].[s]");
    assert_eq!(s.int_prop(prop::START_VALUE), Some(100));
    assert_eq!(s.int_prop(prop::INCREMENT), Some(2));
    assert_eq!(s.int_prop(prop::CACHE_SIZE), Some(10));
    assert_eq!(s.prop(prop::MIN_VALUE), None);
    let e = find(&els, "PgEnumType", "[public].[mood]");
    assert!(e.text_prop(prop::DEFINITION).unwrap().contains("'sad'"));
    find(&els, "PgDomain", "[public].[posint]");
    find(&els, "PgExtension", "[pgcrypto]");
    let f = find(&els, kind::SCALAR_FUNCTION, "[app].[add]");
    assert_eq!(f.text_prop(prop::ARGUMENTS), Some("integer, integer"));
    assert_eq!(f.text_prop(prop::LANGUAGE), Some("sql"));
    assert_eq!(f.text_prop(prop::ATTRIBUTES), Some("COST 5"));
    let params: Vec<&Element> = f.children(rel::PARAMETERS).collect();
    assert_eq!(params[1].name_or_empty().to_string(), "[app].[add].[b]");
    assert_eq!(
        params[1].text_prop(prop::DEFAULT_EXPRESSION_SCRIPT),
        Some("1")
    );
    let body = f.children(rel::FUNCTION_BODY).next().unwrap();
    assert_eq!(body.text_prop(prop::BODY_SCRIPT), Some(" SELECT a + b "));
    assert_eq!(of_kind(&els, "PgDoBlock").len(), 1);
}

#[test]
fn comments_grants_and_alter_table_fold_into_the_model() {
    let els = pg("CREATE TABLE t (a int);
        ALTER TABLE ONLY t ADD COLUMN b text NOT NULL;
        ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY (a);
        ALTER TABLE t ALTER COLUMN b SET DEFAULT 'x';
        ALTER TABLE t OWNER TO bob;
        ALTER TABLE t ENABLE ROW LEVEL SECURITY;
        COMMENT ON TABLE t IS 'It''s a table';
        COMMENT ON COLUMN t.a IS 'the a';
        GRANT SELECT, INSERT ON t TO reader WITH GRANT OPTION;");
    let t = find(&els, kind::TABLE, "[public].[t]");
    assert_eq!(column(t, "b").bool_prop(prop::IS_NULLABLE), Some(false));
    assert_eq!(column(t, "a").bool_prop(prop::IS_NULLABLE), Some(false));
    assert_eq!(t.bool_prop(prop::IS_ROW_LEVEL_SECURITY_ENABLED), Some(true));
    find(&els, kind::PRIMARY_KEY, "[public].[t_pk]");
    let d = of_kind(&els, kind::DEFAULT);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].text_prop(prop::DEFAULT_EXPRESSION_SCRIPT), Some("'x'"));
    let c = find(
        &els,
        kind::EXTENDED_PROPERTY,
        "[SqlTable].[public].[t].[MS_Description]",
    );
    assert_eq!(c.text_prop(prop::VALUE), Some("'It''s a table'"));
    assert_eq!(refs(c, "Host"), ["[public].[t]"]);
    find(
        &els,
        kind::EXTENDED_PROPERTY,
        "[SqlColumn].[public].[t].[a].[MS_Description]",
    );
    let g = find(
        &els,
        kind::PERMISSION,
        "[Grant.SELECT.Object].[reader].[public].[t]",
    );
    assert_eq!(g.bool_prop(prop::WITH_GRANT_OPTION), Some(true));
    find(
        &els,
        kind::PERMISSION,
        "[Grant.INSERT.Object].[reader].[public].[t]",
    );
    assert!(
        of_kind(&els, "PgAlterTable").is_empty(),
        "{:?}",
        names(&els)
    );
}

#[test]
fn columns_added_in_another_batch_merge_in_finish() {
    let mut all = pg("CREATE TABLE t (a int);");
    all.extend(pg("ALTER TABLE t ADD COLUMN b int;"));
    finish(Platform::Postgres, &mut all);
    let t = find(&all, kind::TABLE, "[public].[t]");
    column(t, "b");
    assert_eq!(all.len(), 1);
}

#[test]
fn weird_names_survive() {
    let els = pg(r#"CREATE TABLE "we]ird;""name'" ("col]1" int, "MiXed" int);"#);
    let t = find(&els, kind::TABLE, "[public].[we]]ird;\"name']");
    assert_eq!(t.name.as_ref().unwrap().leaf(), "we]ird;\"name'");
    column(t, "col]1");
    column(t, "MiXed");
    let els = lite(r#"CREATE TABLE [sq]]l;ite] ("a""b" int, `c'd` text);"#);
    let t = &els[0];
    assert_eq!(t.name.as_ref().unwrap().parts(), ["main", "sq]l;ite"]);
    column(t, "a\"b");
    column(t, "c'd");
    assert_eq!(
        ObjectName::parse(&t.name_or_empty().to_string()).unwrap(),
        t.name_or_empty()
    );
}

#[test]
fn unmodelled_statements_become_opaque_not_dropped() {
    let els = pg("CREATE POLICY p ON t USING (true);");
    find(&els, "PgPolicy", "[public].[t].[p]");
    let els = lite("CREATE VIRTUAL TABLE docs USING fts5(body);");
    find(&els, "SqliteVirtualTable", "[main].[docs]");
}

#[test]
fn errors_carry_original_file_line_and_column() {
    let sql = "CREATE TABLE ok (a int);\n\nCREATE TABLE bad (a int,, b int);";
    let err = parse_batch(Platform::Postgres, sql, Path::new("dir/f.sql"), 10).unwrap_err();
    match err {
        Error::Sql {
            file,
            line,
            column,
            message,
        } => {
            assert_eq!(file, Path::new("dir/f.sql"));
            assert_eq!(line, 12);
            assert_eq!(column, 25);
            assert!(message.contains("found: ,"), "{message}");
            assert!(!message.contains("Line:"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let err = parse_batch(
        Platform::Sqlite,
        "SELECT 'unterminated",
        Path::new("x.sql"),
        1,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Sql { line: 1, .. }), "{err:?}");
    let err = parse_batch(
        Platform::Sqlite,
        "CREATE TABLE t (a int) garbage;",
        Path::new("x.sql"),
        1,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Sql {
                line: 1,
                column: 24,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn comments_and_session_statements_are_ignored() {
    let els = pg(
        "-- header\n/* block */ SET search_path = public; BEGIN; SELECT pg_catalog.set_config('search_path', '', false); COMMIT;",
    );
    assert!(els.is_empty(), "{:?}", names(&els));
    assert!(collation_case_sensitive(Platform::Postgres));
    assert!(!collation_case_sensitive(Platform::Sqlite));
}

#[test]
fn primary_key_using_index_takes_the_index_and_drop_column_folds() {
    let els = pg("CREATE TABLE t (a int, b int);
        CREATE UNIQUE INDEX t_idx ON t (a);
        ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_idx;
        ALTER TABLE t DROP COLUMN b;
        CREATE COLLATION c1 FROM \"C\";");
    assert!(of_kind(&els, kind::INDEX).is_empty(), "{:?}", names(&els));
    let pk = find(&els, kind::PRIMARY_KEY, "[public].[t_pkey]");
    assert_eq!(spec_columns(pk), ["[public].[t].[a]"]);
    let t = find(&els, kind::TABLE, "[public].[t]");
    assert_eq!(t.children(rel::COLUMNS).count(), 1);
    assert_eq!(column(t, "a").bool_prop(prop::IS_NULLABLE), Some(false));
    find(&els, "PgCollation", "[public].[c1]");
}

#[test]
fn sqlite_string_literal_names_are_identifiers() {
    let els = parse_batch(
        Platform::Sqlite,
        "CREATE TABLE 'bigdata' ('data' integer, b text DEFAULT 'x', CHECK (b <> 'y'));",
        Path::new("t.sql"),
        1,
    )
    .expect("parse");
    let table = els.iter().find(|e| e.kind == kind::TABLE).expect("table");
    assert_eq!(table.name_or_empty().to_string(), "[main].[bigdata]");
    let cols: Vec<String> = table
        .children(rel::COLUMNS)
        .map(|c| c.name_or_empty().to_string())
        .collect();
    assert_eq!(cols, ["[main].[bigdata].[data]", "[main].[bigdata].[b]"]);
    let check = els.iter().find(|e| e.kind == kind::CHECK).expect("check");
    assert!(
        check
            .text_prop(prop::CHECK_EXPRESSION_SCRIPT)
            .is_some_and(|t| t.contains("'y'"))
    );
}

#[test]
fn postgres_opaque_definitions_are_runnable() {
    let els = pg("CREATE DOMAIN email AS text NOT NULL CHECK (VALUE <> '');
        CREATE TABLE r (c int4range, CONSTRAINT no_overlap EXCLUDE USING gist (c WITH &&));");
    let d = find(&els, "PgDomain", "[public].[email]");
    let def = d.text_prop(prop::DEFINITION).unwrap();
    assert!(
        def.contains("NOT NULL") && !def.contains("IS NOT NULL"),
        "{def}"
    );
    let x = find(&els, "PgExcludeConstraint", "[public].[no_overlap]");
    assert_eq!(
        x.text_prop(prop::DEFINITION),
        Some(
            "ALTER TABLE \"public\".\"r\" ADD CONSTRAINT no_overlap EXCLUDE USING gist (c WITH &&)"
        )
    );
}

/// A type no element defines is an extension's when the model creates one; a type defined in
/// another batch is internal again once the batches are combined.
#[test]
fn extension_types_are_external_references() {
    fn type_source(els: &[Element], table: &str, col: &str) -> Option<String> {
        let t = find(els, kind::TABLE, table);
        let spec = type_spec(column(t, col));
        let r = spec.references(rel::TYPE).next().unwrap();
        r.external_source.as_deref().map(str::to_string)
    }
    let els = pg("CREATE EXTENSION citext; CREATE SCHEMA ext; \
                  CREATE EXTENSION ltree SCHEMA ext; \
                  CREATE TABLE t (a citext, b ext.ltree[], c mood, d integer)");
    let ext = Some(convert::EXTENSION_SOURCE.to_string());
    assert_eq!(type_source(&els, "[public].[t]", "a"), ext);
    assert_eq!(type_source(&els, "[public].[t]", "b"), ext);
    assert_eq!(
        type_source(&els, "[public].[t]", "d").as_deref(),
        Some("BuiltIns")
    );
    let ext_def = find(&els, "PgExtension", "[ltree]");
    assert_eq!(
        ext_def.text_prop(prop::DEFINITION).map(str::trim),
        Some("CREATE EXTENSION IF NOT EXISTS \"ltree\" WITH SCHEMA \"ext\"")
    );
    // `mood` comes from another file of the project.
    let mut all = els;
    all.extend(pg("CREATE TYPE mood AS ENUM ('ok')"));
    finish(Platform::Postgres, &mut all);
    assert_eq!(type_source(&all, "[public].[t]", "c"), None);
    assert_eq!(type_source(&all, "[public].[t]", "a"), ext);
    // Without an extension an undefined type stays an internal reference.
    let els = pg("CREATE TABLE t (a citext)");
    assert_eq!(type_source(&els, "[public].[t]", "a"), None);
}

/// `EXECUTE FUNCTION f('3', x, 42)` keeps its arguments as `pg_get_triggerdef` prints them.
#[test]
fn trigger_arguments_are_kept() {
    let els = pg("CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW \
                  EXECUTE PROCEDURE f('3', Word, 42, 'it''s')");
    let body = find(&els, kind::DML_TRIGGER, "[public].[a].[t]")
        .text_prop(prop::BODY_SCRIPT)
        .unwrap()
        .to_string();
    assert!(
        body.ends_with("EXECUTE PROCEDURE f('3', 'word', '42', 'it''s')"),
        "{body}"
    );
    let other = pg("CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW \
                    EXECUTE PROCEDURE f('3', Word, 43, 'it''s')");
    assert_ne!(els, other);
}

/// `COLLATE` in columns and index keys, bare or schema-qualified.
#[test]
fn collations_bare_or_qualified() {
    let els = pg(
        "CREATE TABLE t (a text COLLATE \"pg_catalog\".\"C\", b text COLLATE ext.coll, \
                  c text COLLATE public.mine); \
                  CREATE INDEX t_a ON t (a COLLATE ext.coll DESC)",
    );
    let t = find(&els, kind::TABLE, "[public].[t]");
    let coll = |c: &str| column(t, c).text_prop(prop::COLLATION).map(str::to_string);
    assert_eq!(coll("a").as_deref(), Some("C"));
    assert_eq!(coll("b").as_deref(), Some("\"ext\".\"coll\""));
    assert_eq!(coll("c").as_deref(), Some("mine"));
    let index = find(&els, kind::INDEX, "[public].[t].[t_a]");
    let key = index.children(rel::COLUMN_SPECIFICATIONS).next().unwrap();
    assert_eq!(
        key.reference_name(rel::COLUMN).map(ToString::to_string),
        Some("[public].[t].[a]".to_string())
    );
    assert_eq!(key.text_prop(prop::COLLATION), Some("\"ext\".\"coll\""));
    assert_eq!(key.bool_prop(prop::IS_ASCENDING), Some(false));
}

fn pg_full(sql: &str) -> Parsed {
    parse_source(Platform::Postgres, sql, Path::new("t.sql"), 1).expect("parses")
}

fn pg_err(sql: &str) -> String {
    parse_source(Platform::Postgres, sql, Path::new("t.sql"), 1)
        .unwrap_err()
        .to_string()
}

fn defaults_of(els: &[Element]) -> Vec<String> {
    of_kind(els, kind::DEFAULT)
        .iter()
        .map(|d| {
            d.text_prop(prop::DEFAULT_EXPRESSION_SCRIPT)
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn alter_sequence_owned_by_and_options_fold_into_the_sequence() {
    let els = pg("CREATE TABLE public.t (id integer NOT NULL);
        CREATE SEQUENCE public.t_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
        ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id;
        ALTER SEQUENCE public.t_id_seq INCREMENT BY 5 CYCLE OWNER TO bob;");
    let seq = find(&els, kind::SEQUENCE, "[public].[t_id_seq]");
    assert_eq!(
        seq.reference_name("OwnedBy")
            .map(ToString::to_string)
            .as_deref(),
        Some("[public].[t].[id]")
    );
    let inc = format!("{:?}", seq.prop("Increment").expect("Increment"));
    assert!(inc.contains('5'), "{inc}");
    assert_eq!(seq.bool_prop(prop::IS_CYCLING), Some(true));
    // The same shape as a serial column's sequence.
    let serial = pg("CREATE TABLE public.t (id serial);");
    let s2 = find(&serial, kind::SEQUENCE, "[public].[t_id_seq]");
    let plain = pg("CREATE TABLE public.t (id integer NOT NULL);
        CREATE SEQUENCE public.t_id_seq AS integer;
        ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id;");
    assert_eq!(find(&plain, kind::SEQUENCE, "[public].[t_id_seq]"), s2);
    // A sequence the file does not make is an error with its position.
    let err = pg_err("ALTER SEQUENCE nope OWNED BY t.id;");
    assert!(
        err.contains("t.sql:1:16") && err.contains("no sequence"),
        "{err}"
    );
    assert!(pg_err("CREATE SEQUENCE s; ALTER SEQUENCE s RENAME TO x;").contains("not supported"));
}

#[test]
fn alter_table_only_constraints_and_defaults_fold_into_the_table() {
    let els = pg("CREATE TABLE public.p (id integer NOT NULL);
        CREATE TABLE public.c (id integer NOT NULL, p_id integer, n integer);
        CREATE SEQUENCE public.c_id_seq AS integer;
        ALTER TABLE ONLY public.c ALTER COLUMN id SET DEFAULT nextval('public.c_id_seq'::regclass);
        ALTER TABLE ONLY public.p ADD CONSTRAINT p_pkey PRIMARY KEY (id);
        ALTER TABLE ONLY public.c ADD CONSTRAINT c_pkey PRIMARY KEY (id);
        ALTER TABLE ONLY public.c ADD CONSTRAINT c_n_key UNIQUE (n);
        ALTER TABLE ONLY public.c ADD CONSTRAINT c_n_check CHECK (n > 0);
        ALTER TABLE ONLY public.c ADD CONSTRAINT fk FOREIGN KEY (p_id) REFERENCES public.p(id);");
    find(&els, kind::PRIMARY_KEY, "[public].[p_pkey]");
    find(&els, kind::UNIQUE, "[public].[c_n_key]");
    find(&els, kind::FOREIGN_KEY, "[public].[fk]");
    assert_eq!(of_kind(&els, kind::CHECK).len(), 1);
    assert_eq!(defaults_of(&els), ["nextval('public.c_id_seq'::REGCLASS)"]);
    assert!(of_kind(&els, "PgAlterTable").is_empty());
}

#[test]
fn psql_meta_commands_are_notes_or_errors() {
    let parsed = pg_full("\\restrict abc123\nCREATE TABLE t (a int);\n\\unrestrict abc123\n");
    assert_eq!(of_kind(&parsed.elements, kind::TABLE).len(), 1);
    assert_eq!(parsed.notes.len(), 2, "{:?}", parsed.notes);
    assert!(
        parsed.notes[0].starts_with("t.sql:1:1: ") && parsed.notes[0].contains("\\restrict abc123")
    );
    assert!(parsed.notes[1].starts_with("t.sql:3:1: "));
    // A backslash inside a string or a dollar-quoted body is not a command.
    let parsed = pg_full(
        "CREATE TABLE t (a text DEFAULT '\\i x');\nCREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT '\\connect' $$;",
    );
    assert!(parsed.notes.is_empty());
    for cmd in ["\\i other.sql", "\\ir other.sql", "\\connect db", "\\c db"] {
        let err = pg_err(&format!("CREATE TABLE t (a int);\n{cmd}\n"));
        assert!(
            err.contains("t.sql:2:1") && err.contains("meta-command"),
            "{err}"
        );
    }
}

#[test]
fn search_path_decides_where_unqualified_names_go() {
    let els = pg(
        "CREATE SCHEMA app; SET search_path = app, public; CREATE TABLE t (a int);
        SET search_path TO \"$user\", public; CREATE TABLE u (a int);
        SELECT pg_catalog.set_config('search_path', 'app', false); CREATE TABLE v (a int);",
    );
    find(&els, kind::TABLE, "[app].[t]");
    find(&els, kind::TABLE, "[public].[u]");
    find(&els, kind::TABLE, "[app].[v]");
    // pg_dump's empty path: names must be qualified.
    let ok = pg(
        "SELECT pg_catalog.set_config('search_path', '', false); CREATE TABLE public.t (a int);",
    );
    find(&ok, kind::TABLE, "[public].[t]");
    let err =
        pg_err("SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE t (a int);");
    assert!(
        err.contains("t.sql:2:1") && err.contains("unqualified"),
        "{err}"
    );
}

#[test]
fn clean_prelude_gives_what_an_empty_database_would_have() {
    let prelude = "ALTER TABLE IF EXISTS ONLY public.t DROP CONSTRAINT IF EXISTS t_pkey;
        ALTER TABLE IF EXISTS public.t ALTER COLUMN id DROP DEFAULT;
        DROP SEQUENCE IF EXISTS public.t_id_seq;
        DROP TABLE IF EXISTS public.t;
        CREATE TABLE public.t (id integer NOT NULL, a int);
        CREATE SEQUENCE public.t_id_seq AS integer;
        ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id;
        ALTER TABLE ONLY public.t ALTER COLUMN id SET DEFAULT nextval('public.t_id_seq'::regclass);
        ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);";
    let parsed = pg_full(prelude);
    assert_eq!(
        defaults_of(&parsed.elements),
        ["nextval('public.t_id_seq'::REGCLASS)"]
    );
    find(&parsed.elements, kind::PRIMARY_KEY, "[public].[t_pkey]");
    find(&parsed.elements, kind::SEQUENCE, "[public].[t_id_seq]");
    assert_eq!(parsed.notes.len(), 4, "{:?}", parsed.notes);
    // A drop after the create removes it, with what belongs to the table.
    let els = pg(
        "CREATE TABLE t (id serial PRIMARY KEY); CREATE INDEX i ON t (id);
        ALTER TABLE t ALTER COLUMN id DROP DEFAULT; ALTER TABLE t DROP CONSTRAINT t_pkey;",
    );
    assert!(defaults_of(&els).is_empty());
    assert!(of_kind(&els, kind::PRIMARY_KEY).is_empty());
    let els = pg("CREATE TABLE t (id serial PRIMARY KEY); CREATE INDEX i ON t (id); DROP TABLE t;");
    assert!(els.is_empty(), "{:?}", names(&els));
    // Without IF EXISTS, dropping what is not there fails, as on the server.
    assert!(pg_err("DROP TABLE t;").contains("no such object"));
    assert!(pg_err("ALTER TABLE t ALTER COLUMN id DROP DEFAULT;").contains("IF EXISTS"));
}

#[test]
fn seed_data_becomes_a_rerunnable_post_deployment_script() {
    let parsed = pg_full(
        "CREATE TABLE public.t (id int PRIMARY KEY, s text);
        SET search_path TO app;
        INSERT INTO public.t VALUES (1, 'a');
        SET search_path TO DEFAULT;
        INSERT INTO t (id) VALUES (2) ON CONFLICT (id) DO UPDATE SET s = 'b';
        SELECT pg_catalog.setval('public.t_seq', 5, true);
        COPY public.t (id, s) FROM stdin;
3\tx\\ty
4\t\\N
\\.
",
    );
    let sql: Vec<&str> = parsed.seed.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(
        sql[0],
        "INSERT INTO \"public\".\"t\" VALUES (1, 'a') ON CONFLICT DO NOTHING;"
    );
    assert!(sql[1].contains("DO UPDATE SET s = 'b'") && !sql[1].contains("DO NOTHING"));
    assert_eq!(
        sql[2],
        "SELECT pg_catalog.setval('\"public\".\"t_seq\"', 5, true) FROM \"public\".\"t_seq\" WHERE NOT is_called;"
    );
    assert_eq!(
        sql[3],
        "INSERT INTO \"public\".\"t\" (\"id\", \"s\") VALUES\n('3', 'x\ty'),\n('4', NULL)\nON CONFLICT DO NOTHING;"
    );
    assert_eq!(parsed.seed[0].line, 3);
    // Other data changes are errors, and plain parse_batch refuses seed data.
    assert!(pg_err("UPDATE t SET s = 'x';").contains("postdeploy.sql"));
    assert!(pg_err("DELETE FROM t;").contains("t.sql:1:1"));
    assert!(
        parse_batch(
            Platform::Postgres,
            "INSERT INTO t VALUES (1);",
            Path::new("t.sql"),
            1
        )
        .is_err()
    );
}

#[test]
fn statements_dac_does_not_understand_stay_errors() {
    let err = pg_err("CREATE TABLE t (a int);\nALTER TABLE ONLY public.t FROBNICATE;");
    assert!(err.starts_with("t.sql:2:"), "{err}");
    let err = pg_err("COPY t FROM '/tmp/x';");
    assert!(err.contains("t.sql:1:") && err.contains("COPY"), "{err}");
}

#[test]
fn partition_keys_and_bounds_have_one_spelling() {
    use super::partition::canonical;
    assert_eq!(canonical("RANGE(logdate)"), "RANGE (logdate)");
    assert_eq!(canonical("range (LogDate)"), "RANGE (logdate)");
    assert_eq!(
        canonical("FOR VALUES WITH (modulus 2, remainder 0)"),
        "FOR VALUES WITH (MODULUS 2, REMAINDER 0)"
    );
    assert_eq!(
        canonical("FOR VALUES FROM (MINVALUE, '0') TO ('2024-06-01',5)"),
        "FOR VALUES FROM (MINVALUE, 0) TO ('2024-06-01', 5)"
    );
    assert_ne!(
        canonical("FOR VALUES IN ('a')"),
        canonical("FOR VALUES IN ('b')")
    );
}

#[test]
fn attach_partition_errors_name_the_tables_and_position() {
    let err = pg_err(
        "CREATE TABLE m (a int) PARTITION BY LIST (a);\nCREATE TABLE p (a int, extra text);\nALTER TABLE ONLY m ATTACH PARTITION p FOR VALUES IN (1);",
    );
    assert!(
        err.starts_with("t.sql:3:") && err.contains("[public].[p].[extra]"),
        "{err}"
    );
    let err = pg_err(
        "CREATE TABLE m (a int) PARTITION BY LIST (a);\nALTER TABLE m ATTACH PARTITION nope DEFAULT;",
    );
    assert!(
        err.starts_with("t.sql:2:") && err.contains("[public].[nope]"),
        "{err}"
    );
    let err = pg_err("CREATE INDEX i ON ONLY m (a);\nALTER INDEX i ATTACH PARTITION nope;");
    assert!(err.contains("[public].[nope]"), "{err}");
    let err = pg_err("ALTER TABLE m DETACH PARTITION p;");
    assert!(
        err.starts_with("t.sql:1:") && err.contains("DETACH"),
        "{err}"
    );
}

#[test]
fn attach_partition_makes_the_child_a_partition() {
    let els = pg(
        "CREATE TABLE m (a int DEFAULT 1, CHECK (a > 0)) PARTITION BY LIST (a);
        CREATE TABLE p (a int DEFAULT 1, CONSTRAINT m_a_check CHECK (a > 0));
        ALTER TABLE ONLY m ATTACH PARTITION p FOR VALUES IN (1, 2);",
    );
    let p = find(&els, kind::TABLE, "[public].[p]");
    assert_eq!(p.children(rel::COLUMNS).count(), 0);
    assert_eq!(
        p.reference_name("PartitionOf").map(|n| n.to_string()),
        Some("[public].[m]".into())
    );
    assert_eq!(
        p.text_prop(prop::PARTITION_BOUND),
        Some("FOR VALUES IN (1, 2)")
    );
    assert_eq!(of_kind(&els, kind::CHECK).len(), 1);
    assert_eq!(of_kind(&els, kind::DEFAULT).len(), 1);
}

/// pg_dump without `--no-owner` writes `ALTER <kind> ... OWNER TO role` after each object;
/// ownership is not modelled, whatever the kind (an operator's name is not a word).
#[test]
fn ownership_statements_of_every_kind_are_ignored() {
    let model = pg(
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ select 1 $$;\n\
         ALTER FUNCTION public.f() OWNER TO postgres;\n\
         CREATE OPERATOR public.~<< (FUNCTION = textregexeq, LEFTARG = text, RIGHTARG = text);\n\
         ALTER OPERATOR public.~<< (text, text) OWNER TO \"Some Role\";\n\
         ALTER TYPE public.t OWNER TO CURRENT_USER;\n",
    );
    let definitions: Vec<&str> = model
        .iter()
        .filter_map(|e| e.text_prop(crate::plan::DEFINITION))
        .collect();
    assert!(
        definitions.iter().all(|d| !d.contains("OWNER TO")),
        "{definitions:?}"
    );
    assert_eq!(definitions.len(), 1, "{definitions:?}");
}

fn renames(platform: Platform, sql: &str) -> Vec<(String, String, String)> {
    parse_source(platform, sql, Path::new("t.sql"), 1)
        .expect("parses")
        .refactor_operations
        .iter()
        .map(|o| {
            (
                o.property(prop::ELEMENT_TYPE).unwrap().to_string(),
                o.property(prop::ELEMENT_NAME).unwrap().to_string(),
                o.property(prop::NEW_NAME).unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn renamed_annotations_become_rename_operations_on_sqlite_and_postgres() {
    let sql = "CREATE TABLE Accounts ( -- @renamed from=Old_Accounts\n  id integer NOT NULL,\n  UserName text, -- @renamed from=User_Name\n  \"Mixed\" text, -- @renamed from=\"Was_Mixed\"\n  CONSTRAINT uq UNIQUE (id) -- @renamed from=old_uq\n);\nCREATE INDEX new_idx /* @renamed from=old_idx */ ON Accounts (id);\nCREATE VIEW v AS SELECT 1 AS one; -- @renamed from=old_v\n";
    let owned = |v: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        v.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    };
    // PostgreSQL folds unquoted names, the old ones too.
    assert_eq!(
        renames(Platform::Postgres, sql),
        owned(&[
            ("SqlTable", "[public].[old_accounts]", "[accounts]"),
            (
                "SqlSimpleColumn",
                "[public].[accounts].[user_name]",
                "[username]"
            ),
            (
                "SqlSimpleColumn",
                "[public].[accounts].[Was_Mixed]",
                "[Mixed]"
            ),
            ("SqlUniqueConstraint", "[public].[old_uq]", "[uq]"),
            ("SqlIndex", "[public].[accounts].[old_idx]", "[new_idx]"),
            ("SqlView", "[public].[old_v]", "[v]"),
        ])
    );
    // SQLite keeps names as written.
    assert_eq!(
        renames(Platform::Sqlite, sql),
        owned(&[
            ("SqlTable", "[main].[Old_Accounts]", "[Accounts]"),
            (
                "SqlSimpleColumn",
                "[main].[Accounts].[User_Name]",
                "[UserName]"
            ),
            (
                "SqlSimpleColumn",
                "[main].[Accounts].[Was_Mixed]",
                "[Mixed]"
            ),
            ("SqlUniqueConstraint", "[main].[old_uq]", "[uq]"),
            ("SqlIndex", "[main].[Accounts].[old_idx]", "[new_idx]"),
            ("SqlView", "[main].[old_v]", "[v]"),
        ])
    );
    // A comment without a definition before it on its line renames nothing.
    assert!(
        renames(
            Platform::Sqlite,
            "-- @renamed from=x\nCREATE TABLE t (a int);\n"
        )
        .is_empty()
    );
}
