//! The live schema as a model, in the shape `source::generic` gives the same DDL: one catalog
//! query per kind of object (never one per table), rows turned into elements here.

use std::collections::HashMap;

use super::{PostgresDriver, empty_model};
use crate::Result;
use crate::model::kind::prop;
use crate::model::kind::{self, rel};
use crate::model::{Element, Model, ObjectName, Platform, Reference, Value};
use crate::source::generic::{
    self,
    types::{collation_name, type_specifier},
};

const TABLES: &str = include_str!("queries/tables.sql");
const COLUMNS: &str = include_str!("queries/columns.sql");
const CONSTRAINTS: &str = include_str!("queries/constraints.sql");
const INDEXES: &str = include_str!("queries/indexes.sql");
const INDEX_COLUMNS: &str = include_str!("queries/index_columns.sql");
const VIEWS: &str = include_str!("queries/views.sql");
const SEQUENCES: &str = include_str!("queries/sequences.sql");
const ROUTINES: &str = include_str!("queries/routines.sql");
const TRIGGERS: &str = include_str!("queries/triggers.sql");
const TYPES: &str = include_str!("queries/types.sql");
const SCHEMAS: &str = include_str!("queries/schemas.sql");
const EXTENSIONS: &str = include_str!("queries/extensions.sql");
const COMMENTS: &str = include_str!("queries/comments.sql");
const POLICIES: &str = include_str!("queries/policies.sql");
const COLLATIONS: &str = include_str!("queries/collations.sql");

/// Record separator inside a column (`schema<RS>name`).
const RS: char = '\u{1e}';
/// List separator inside a column.
const US: char = '\u{1f}';

type Row = Vec<Option<String>>;

/// Column `i` of a row as text ("" for NULL or a missing column).
fn col(row: &Row, i: usize) -> &str {
    row.get(i).and_then(|v| v.as_deref()).unwrap_or("")
}

fn opt(row: &Row, i: usize) -> Option<&str> {
    row.get(i)
        .and_then(|v| v.as_deref())
        .filter(|s| !s.is_empty())
}

/// A boolean column (`t` from the wire, `true` from a `::text` cast).
fn flag(row: &Row, i: usize) -> bool {
    matches!(col(row, i), "t" | "true")
}

fn list(text: Option<&str>) -> Vec<String> {
    text.map(|t| t.split(US).map(str::to_string).collect())
        .unwrap_or_default()
}

fn script(text: &str) -> Value {
    Value::Script(crate::model::Script {
        text: text.to_string(),
        quoted_identifiers: None,
        ansi_nulls: None,
    })
}

fn schema_ref(schema: &str) -> Reference {
    let name = ObjectName::new([schema.to_string()]);
    if schema == "public" {
        Reference::built_in(name)
    } else {
        Reference::to(name)
    }
}

/// `"schema"."name"` as PostgreSQL needs it in DDL.
fn qualified(schema: &str, name: &str) -> String {
    format!(
        "{}.{}",
        super::quote_ident(schema),
        super::quote_ident(name)
    )
}

/// Inspects the connected database.
pub(super) fn inspect(driver: &mut PostgresDriver) -> Result<Model> {
    let mut out: Vec<Element> = Vec::new();
    for row in driver.simple(SCHEMAS)? {
        out.push(Element::new(kind::SCHEMA).named(ObjectName::new([col(&row, 0)])));
    }
    for row in driver.simple(EXTENSIONS)? {
        let name = col(&row, 0);
        let def = format!(
            "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
            super::quote_ident(name),
            super::quote_ident(col(&row, 1))
        );
        out.push(
            Element::new("PgExtension")
                .named(ObjectName::new([name]))
                .with_script(prop::DEFINITION, def),
        );
    }
    collations(driver, &mut out)?;
    types(driver, &mut out)?;
    tables(driver, &mut out)?;
    constraints(driver, &mut out)?;
    indexes(driver, &mut out)?;
    views(driver, &mut out)?;
    sequences(driver, &mut out)?;
    routines(driver, &mut out)?;
    triggers(driver, &mut out)?;
    policies(driver, &mut out)?;
    comments(driver, &mut out)?;
    generic::finish(Platform::Postgres, &mut out);
    let mut model = empty_model();
    model.elements = out;
    model.sort_elements();
    Ok(model)
}

fn collations(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(COLLATIONS)? {
        let (schema, name) = (col(&row, 0), col(&row, 1));
        let literal = |t: &str| format!("'{}'", t.replace('\'', "''"));
        let mut options = match col(&row, 2) {
            "i" => vec![
                "provider = icu".to_string(),
                format!("locale = {}", literal(col(&row, 5))),
            ],
            _ => vec![
                "provider = libc".to_string(),
                format!("lc_collate = {}", literal(col(&row, 3))),
                format!("lc_ctype = {}", literal(col(&row, 4))),
            ],
        };
        if !flag(&row, 6) {
            options.push("deterministic = false".into());
        }
        let def = format!(
            "CREATE COLLATION {} ({})",
            qualified(schema, name),
            options.join(", ")
        );
        out.push(
            Element::new("PgCollation")
                .named(ObjectName::new([schema, name]))
                .with_script(prop::DEFINITION, def),
        );
    }
    Ok(())
}

fn types(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(TYPES)? {
        let (schema, name) = (col(&row, 0), col(&row, 1));
        let full = qualified(schema, name);
        let body = col(&row, 3);
        let (kind, def) = match col(&row, 2) {
            "e" => ("PgEnumType", format!("CREATE TYPE {full} AS ENUM ({body})")),
            "c" => ("PgCompositeType", format!("CREATE TYPE {full} AS ({body})")),
            "r" => (
                "PgRangeType",
                format!("CREATE TYPE {full} AS RANGE ({body})"),
            ),
            _ => {
                let mut def = format!("CREATE DOMAIN {full} AS {body}");
                if let Some(collation) = opt(&row, 6) {
                    def.push_str(&format!(" COLLATE {collation}"));
                }
                if let Some(default) = opt(&row, 5) {
                    def.push_str(&format!(" DEFAULT {default}"));
                }
                if flag(&row, 4) {
                    def.push_str(" NOT NULL");
                }
                if let Some(checks) = opt(&row, 7) {
                    def.push(' ');
                    def.push_str(checks);
                }
                ("PgDomain", def)
            }
        };
        out.push(
            Element::new(kind)
                .named(ObjectName::new([schema, name]))
                .with_script(prop::DEFINITION, def),
        );
    }
    Ok(())
}

fn tables(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    let mut by_oid: HashMap<String, usize> = HashMap::new();
    let mut tables: Vec<Element> = Vec::new();
    for row in driver.simple(TABLES)? {
        let name = ObjectName::new([col(&row, 1), col(&row, 2)]);
        let mut table = Element::new(kind::TABLE).named(name.clone());
        if col(&row, 4) == "u" {
            table.set_prop(prop::IS_UNLOGGED, Value::Bool(true));
        }
        if let Some(parents) = opt(&row, 9) {
            let names: Vec<String> = parents
                .split(US)
                .map(|p| {
                    let mut it = p.split(RS);
                    let s = it.next().unwrap_or_default();
                    let t = it.next().unwrap_or_default();
                    ObjectName::new([s, t]).to_string()
                })
                .collect();
            table.set_prop(prop::INHERITS, Value::Text(names.join(", ")));
        }
        if let Some(by) = opt(&row, 6) {
            table.set_prop(
                prop::PARTITION_BY,
                Value::Text(generic::partition::canonical(by)),
            );
        }
        if let Some(bound) = opt(&row, 7) {
            table.set_prop(
                prop::PARTITION_BOUND,
                Value::Text(generic::partition::canonical(bound)),
            );
        }
        if let Some(options) = opt(&row, 5) {
            table.set_prop(prop::OPTIONS, Value::Text(format!("WITH ({options})")));
        }
        if flag(&row, 10) {
            table.set_prop(prop::IS_ROW_LEVEL_SECURITY_ENABLED, Value::Bool(true));
        }
        if let Some(parent) = opt(&row, 8) {
            let mut it = parent.split(RS);
            let s = it.next().unwrap_or_default();
            let t = it.next().unwrap_or_default();
            table.push_ref("PartitionOf", Reference::to(ObjectName::new([s, t])));
        }
        by_oid.insert(col(&row, 0).to_string(), tables.len());
        tables.push(table);
    }
    let mut extra: Vec<Element> = Vec::new();
    let mut columns: Vec<Vec<Element>> = vec![Vec::new(); tables.len()];
    for row in driver.simple(COLUMNS)? {
        let Some(&idx) = by_oid.get(col(&row, 0)) else {
            continue;
        };
        if !flag(&row, 12) {
            // Inherited from a parent or partitioned table: declared there.
            continue;
        }
        let table_name = tables[idx].name_or_empty();
        let schema = table_name.first().to_string();
        let col_name = table_name.child(col(&row, 1));
        let mut el = Element::new(kind::SIMPLE_COLUMN).named(col_name.clone());
        if let Some(collation) = opt(&row, 10) {
            el.set_prop(
                prop::COLLATION,
                Value::Text(collation_name(opt(&row, 14), collation)),
            );
        }
        match col(&row, 8) {
            "a" | "d" => {
                el.set_prop(prop::IS_IDENTITY, Value::Bool(true));
                let how = if col(&row, 8) == "a" {
                    "Always"
                } else {
                    "ByDefault"
                };
                el.set_prop(prop::IDENTITY_GENERATION, Value::Text(how.into()));
                if let Some(seq) = opt(&row, 13) {
                    let mut it = seq.split(US);
                    let start = it.next().unwrap_or("1");
                    let inc = it.next().unwrap_or("1");
                    let number = |t: Option<&str>| t.and_then(|t| t.parse::<i128>().ok());
                    let (min, max, cache) =
                        (number(it.next()), number(it.next()), number(it.next()));
                    let cycle = it.next() == Some("true");
                    let type_name = it.next().unwrap_or("bigint");
                    if let Some(options) = crate::model::view::sequence_options_text(
                        type_name,
                        inc.parse().unwrap_or(1),
                        min,
                        max,
                        cache,
                        cycle,
                    ) {
                        el.set_prop(prop::IDENTITY_OPTIONS, Value::Text(options));
                    }
                    if start != "1" {
                        el.set_prop(prop::IDENTITY_SEED, Value::from_attribute(start));
                    }
                    if inc != "1" {
                        el.set_prop(prop::IDENTITY_INCREMENT, Value::from_attribute(inc));
                    }
                }
            }
            _ => {}
        }
        let generated = col(&row, 9) == "s";
        if generated {
            el.kind = kind::COMPUTED_COLUMN.into();
            el.set_prop(prop::EXPRESSION_SCRIPT, script(col(&row, 11)));
            el.set_prop(prop::IS_PERSISTED, Value::Bool(true));
        }
        if flag(&row, 7) {
            el.set_prop(prop::IS_NULLABLE, Value::Bool(false));
        }
        if let Some(target) = opt(&row, 15) {
            el.set_prop(prop::STATISTICS_TARGET, Value::from_attribute(target));
        }
        el.push_child(rel::TYPE_SPECIFIER, column_type(&row, &schema));
        if !generated && let Some(default) = opt(&row, 11) {
            let mut d =
                Element::new(kind::DEFAULT).with(prop::DEFAULT_EXPRESSION_SCRIPT, script(default));
            d.push_ref(rel::DEFINING_TABLE, Reference::to(table_name.clone()));
            d.push_ref(rel::FOR_COLUMN, Reference::to(col_name));
            extra.push(d);
        }
        columns[idx].push(el);
    }
    for (mut table, cols) in tables.into_iter().zip(columns) {
        let schema = table.name_or_empty().first().to_string();
        // Keep the builder's order: columns, then PartitionOf, then Schema.
        let partition_of = table
            .relationships
            .iter()
            .position(|r| r.name == "PartitionOf")
            .map(|i| table.relationships.remove(i));
        for c in cols {
            table.push_child(rel::COLUMNS, c);
        }
        if let Some(p) = partition_of {
            table.relationships.push(p);
        }
        table.push_ref(rel::SCHEMA, schema_ref(&schema));
        out.push(table);
    }
    out.extend(extra);
    Ok(())
}

/// A column's type specifier: built-in types in `format_type` spelling, user types qualified.
fn column_type(row: &Row, default_schema: &str) -> Element {
    let formatted = col(row, 2);
    let is_array = flag(row, 5);
    let dims: usize = col(row, 6).parse::<usize>().unwrap_or(0).max(1);
    let (type_schema, type_name) = (col(row, 3), col(row, 4));
    let mut text = if type_schema == "pg_catalog" {
        formatted.trim_end_matches("[]").to_string()
    } else {
        // A user or extension type, qualified; its modifiers (`vector(3)`) from `format_type`.
        let mut text = qualified(type_schema, type_name);
        let args = generic::types::parse_type_text(Platform::Postgres, formatted).args;
        if !args.is_empty() {
            text.push_str(&format!("({})", args.join(",")));
        }
        text
    };
    if is_array {
        text.push_str(&"[]".repeat(dims));
    }
    type_specifier(Platform::Postgres, &text, default_schema)
}

fn key_spec(column: ObjectName) -> Element {
    Element::new(kind::INDEXED_COLUMN).with_ref(rel::COLUMN, Reference::to(column))
}

fn constraints(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(CONSTRAINTS)? {
        let table = ObjectName::new([col(&row, 0), col(&row, 1)]);
        let name = ObjectName::new([col(&row, 0), col(&row, 2)]);
        let columns = list(opt(&row, 8));
        let kind = match col(&row, 3) {
            "p" => kind::PRIMARY_KEY,
            "u" => kind::UNIQUE,
            "f" => kind::FOREIGN_KEY,
            "c" => kind::CHECK,
            _ => "PgExcludeConstraint",
        };
        let mut el = Element::new(kind);
        match col(&row, 3) {
            "p" | "u" => {
                for c in &columns {
                    el.push_child(rel::COLUMN_SPECIFICATIONS, key_spec(table.child(c.clone())));
                }
                for inc in list(opt(&row, 18)) {
                    el.push_ref(rel::INCLUDED_COLUMNS, Reference::to(table.child(inc)));
                }
                el.push_ref(rel::DEFINING_TABLE, Reference::to(table.clone()));
                characteristics(&mut el, &row);
                if flag(&row, 17) {
                    el.set_prop(prop::NULLS_NOT_DISTINCT, Value::Bool(true));
                }
            }
            "f" => {
                let foreign = ObjectName::new([col(&row, 9), col(&row, 10)]);
                for (prop, i) in [(prop::ON_DELETE_ACTION, 13), (prop::ON_UPDATE_ACTION, 12)] {
                    // DacFx's numbers, as the source builder writes them.
                    let number = match col(&row, i) {
                        "c" => 1,
                        "n" => 2,
                        "d" => 3,
                        "r" => 4,
                        _ => continue,
                    };
                    el.set_prop(prop, Value::Int(number));
                }
                match col(&row, 14) {
                    "f" => el.set_prop(prop::MATCH_KIND, Value::Text("MATCH FULL".into())),
                    "p" => el.set_prop(prop::MATCH_KIND, Value::Text("MATCH PARTIAL".into())),
                    _ => {}
                }
                characteristics(&mut el, &row);
                if !flag(&row, 6) {
                    el.set_prop(prop::IS_NOT_VALID, Value::Bool(true));
                }
                for c in &columns {
                    el.push_ref(rel::COLUMNS, Reference::to(table.child(c.clone())));
                }
                el.push_ref(rel::DEFINING_TABLE, Reference::to(table.clone()));
                for c in list(opt(&row, 11)) {
                    el.push_ref(rel::FOREIGN_COLUMNS, Reference::to(foreign.child(c)));
                }
                el.push_ref(rel::FOREIGN_TABLE, Reference::to(foreign));
            }
            "c" => {
                el.set_prop(
                    prop::CHECK_EXPRESSION_SCRIPT,
                    script(&strip_parens(col(&row, 15))),
                );
                if flag(&row, 7) {
                    el.set_prop(prop::IS_NO_INHERIT, Value::Bool(true));
                }
                if !flag(&row, 6) {
                    el.set_prop(prop::IS_NOT_VALID, Value::Bool(true));
                }
                el.push_ref(rel::DEFINING_TABLE, Reference::to(table.clone()));
            }
            _ => {
                let def = format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} {}",
                    qualified(col(&row, 0), col(&row, 1)),
                    super::quote_ident(col(&row, 2)),
                    col(&row, 16)
                );
                el.set_prop(prop::DEFINITION, script(&def));
                el.push_ref(rel::DEFINING_TABLE, Reference::to(table.clone()));
            }
        }
        out.push(el.named(name));
    }
    Ok(())
}

/// `(expr)` -> `expr` when the parentheses enclose the whole text.
fn strip_parens(text: &str) -> String {
    let t = text.trim();
    if t.starts_with('(') && t.ends_with(')') {
        let inner = &t[1..t.len() - 1];
        let mut depth = 0i32;
        let mut in_quote = false;
        for c in inner.chars() {
            match c {
                '\'' => in_quote = !in_quote,
                '(' if !in_quote => depth += 1,
                ')' if !in_quote => {
                    depth -= 1;
                    if depth < 0 {
                        return t.to_string();
                    }
                }
                _ => {}
            }
        }
        if depth == 0 {
            return inner.to_string();
        }
    }
    t.to_string()
}

fn characteristics(el: &mut Element, row: &Row) {
    if flag(row, 4) {
        el.set_prop(prop::IS_DEFERRABLE, Value::Bool(true));
    }
    if flag(row, 5) {
        el.set_prop(prop::IS_INITIALLY_DEFERRED, Value::Bool(true));
    }
}

fn indexes(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    let mut specs: HashMap<String, Vec<Row>> = HashMap::new();
    for row in driver.simple(INDEX_COLUMNS)? {
        specs.entry(col(&row, 0).to_string()).or_default().push(row);
    }
    for row in driver.simple(INDEXES)? {
        let table = ObjectName::new([col(&row, 1), col(&row, 2)]);
        let mut el = Element::new(kind::INDEX).named(table.child(col(&row, 3)));
        if flag(&row, 4) {
            el.set_prop(prop::IS_UNIQUE, Value::Bool(true));
        }
        let method = col(&row, 5);
        if method != "btree" {
            el.set_prop(prop::INDEX_METHOD, Value::Text(method.to_string()));
        }
        if let Some(pred) = opt(&row, 6) {
            el.set_prop(prop::FILTER_PREDICATE, script(&strip_parens(pred)));
        }
        if flag(&row, 7) {
            el.set_prop(prop::NULLS_NOT_DISTINCT, Value::Bool(true));
        }
        if let Some(with) = opt(&row, 8) {
            el.set_prop(prop::WITH_OPTIONS, Value::Text(with.to_string()));
        }
        let targets: Vec<String> = specs
            .get(col(&row, 0))
            .into_iter()
            .flatten()
            .filter_map(|r| Some(format!("{}={}", col(r, 1), opt(r, 7)?)))
            .collect();
        if !targets.is_empty() {
            el.set_prop(prop::STATISTICS_TARGETS, Value::Text(targets.join(",")));
        }
        for spec_row in specs.get(col(&row, 0)).into_iter().flatten() {
            let mut spec = Element::new(kind::INDEXED_COLUMN);
            match opt(spec_row, 2) {
                Some(column) => spec.push_ref(rel::COLUMN, Reference::to(table.child(column))),
                None => spec.set_prop(prop::EXPRESSION_SCRIPT, script(col(spec_row, 3))),
            }
            let option: i64 = col(spec_row, 4).parse().unwrap_or(0);
            let desc = option & 1 != 0;
            let nulls_first = option & 2 != 0;
            if desc {
                spec.set_prop(prop::IS_ASCENDING, Value::Bool(false));
            }
            if nulls_first != desc {
                spec.set_prop(prop::NULLS_FIRST, Value::Bool(nulls_first));
            }
            if let Some(class) = opt(spec_row, 5) {
                let mut it = class.split(RS);
                let s = it.next().unwrap_or_default();
                let n = it.next().unwrap_or_default();
                let text = if s == "pg_catalog" {
                    n.to_string()
                } else {
                    format!("{s}.{n}")
                };
                spec.set_prop(prop::OPERATOR_CLASS, Value::Text(text));
            }
            if let Some(collation) = opt(spec_row, 6) {
                let (schema, name) = collation.split_once(RS).unwrap_or(("", collation));
                spec.set_prop(
                    prop::COLLATION,
                    Value::Text(collation_name(Some(schema), name)),
                );
            }
            el.push_child(rel::COLUMN_SPECIFICATIONS, spec);
        }
        for inc in list(opt(&row, 9)) {
            el.push_ref(rel::INCLUDED_COLUMNS, Reference::to(table.child(inc)));
        }
        el.push_ref(rel::INDEXED_OBJECT, Reference::to(table));
        out.push(el);
    }
    Ok(())
}

fn views(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(VIEWS)? {
        let name = ObjectName::new([col(&row, 0), col(&row, 1)]);
        let query = col(&row, 3).trim().trim_end_matches(';').trim();
        let mut el = Element::new(kind::VIEW)
            .named(name.clone())
            .with(prop::QUERY_SCRIPT, script(query));
        if col(&row, 2) == "m" {
            el.set_prop(prop::IS_MATERIALIZED, Value::Bool(true));
            if !flag(&row, 4) {
                el.set_prop(prop::WITH_NO_DATA, Value::Bool(true));
            }
        }
        if let Some(options) = opt(&row, 5) {
            el.set_prop(prop::OPTIONS, Value::Text(format!("WITH ({options})")));
        }
        el.push_ref(rel::SCHEMA, schema_ref(name.first()));
        out.push(el);
    }
    Ok(())
}

fn sequences(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(SEQUENCES)? {
        let schema = col(&row, 0);
        let mut el = Element::new(kind::SEQUENCE).named(ObjectName::new([schema, col(&row, 1)]));
        let ty = col(&row, 2);
        let (type_min, type_max): (i128, i128) = match ty {
            "smallint" => (i16::MIN.into(), i16::MAX.into()),
            "integer" => (i32::MIN.into(), i32::MAX.into()),
            _ => (i64::MIN.into(), i64::MAX.into()),
        };
        let num = |i: usize| col(&row, i).parse::<i128>().unwrap_or(0);
        let increment = num(4);
        let ascending = increment > 0;
        let dmin = if ascending { 1 } else { type_min };
        let dmax = if ascending { type_max } else { -1 };
        let (minv, maxv) = (num(5), num(6));
        let dstart = if ascending { minv } else { maxv };
        for (prop, value, default) in [
            (prop::START_VALUE, num(3), dstart),
            (prop::INCREMENT, increment, 1),
            (prop::MIN_VALUE, minv, dmin),
            ("MaxValue", maxv, dmax),
            (prop::CACHE_SIZE, num(7), 1),
        ] {
            if value != default {
                el.set_prop(prop, Value::from_attribute(&value.to_string()));
            }
        }
        if flag(&row, 8) {
            el.set_prop(prop::IS_CYCLING, Value::Bool(true));
        }
        el.push_child(
            rel::TYPE_SPECIFIER,
            type_specifier(Platform::Postgres, ty, schema),
        );
        if let Some(owner) = opt(&row, 9) {
            let parts: Vec<&str> = owner.split(RS).collect();
            el.push_ref("OwnedBy", Reference::to(ObjectName::new(parts)));
        }
        el.push_ref(rel::SCHEMA, schema_ref(schema));
        out.push(el);
    }
    Ok(())
}

fn routines(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(ROUTINES)? {
        let schema = col(&row, 0);
        let name = ObjectName::new([schema, col(&row, 1)]);
        let definition = col(&row, 3).trim().to_string();
        let el = if col(&row, 2) == "p" {
            Element::new(kind::PROCEDURE)
                .named(name)
                .with_text(prop::ARGUMENTS, col(&row, 4))
                .with(prop::DEFINITION_SCRIPT, script(&definition))
                .with_ref(rel::SCHEMA, schema_ref(schema))
        } else {
            let kind = if flag(&row, 8) {
                kind::MULTI_TVF
            } else {
                kind::SCALAR_FUNCTION
            };
            let mut el = Element::new(kind)
                .named(name)
                .with_text(prop::RETURN_TYPE, col(&row, 5))
                .with_text(prop::LANGUAGE, col(&row, 6))
                .with_text(prop::ARGUMENTS, col(&row, 4))
                .with(prop::DEFINITION_SCRIPT, script(&definition));
            el.push_child(
                rel::FUNCTION_BODY,
                Element::new(kind::FUNCTION_IMPLEMENTATION)
                    .with(prop::BODY_SCRIPT, script(col(&row, 7))),
            );
            el.push_ref(rel::SCHEMA, schema_ref(schema));
            el
        };
        out.push(el);
    }
    Ok(())
}

fn triggers(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(TRIGGERS)? {
        let table = ObjectName::new([col(&row, 0), col(&row, 1)]);
        let mut el = Element::new(kind::DML_TRIGGER)
            .named(table.child(col(&row, 2)))
            .with(prop::BODY_SCRIPT, script(col(&row, 3)));
        let tgtype: i64 = col(&row, 4).parse().unwrap_or(0);
        let timing = if tgtype & 64 != 0 {
            "InsteadOf"
        } else if tgtype & 2 != 0 {
            "Before"
        } else {
            "After"
        };
        el.set_prop(prop::TRIGGER_TIMING, Value::Text(timing.into()));
        for (bit, prop) in [
            (4, prop::IS_INSERT_TRIGGER),
            (16, prop::IS_UPDATE_TRIGGER),
            (8, prop::IS_DELETE_TRIGGER),
            (32, "IsTruncateTrigger"),
        ] {
            if tgtype & bit != 0 {
                el.set_prop(prop, Value::Bool(true));
            }
        }
        el.push_ref(rel::PARENT, Reference::to(table));
        out.push(el);
    }
    Ok(())
}

fn policies(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(POLICIES)? {
        let table = ObjectName::new([col(&row, 0), col(&row, 1)]);
        let command = match col(&row, 4) {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let mut def = format!(
            "CREATE POLICY {} ON {} AS {} FOR {command} TO {}",
            super::quote_ident(col(&row, 2)),
            qualified(col(&row, 0), col(&row, 1)),
            if flag(&row, 3) {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            opt(&row, 5).unwrap_or("PUBLIC"),
        );
        if let Some(using) = opt(&row, 6) {
            def.push_str(&format!(" USING ({using})"));
        }
        if let Some(check) = opt(&row, 7) {
            def.push_str(&format!(" WITH CHECK ({check})"));
        }
        out.push(
            Element::new("PgPolicy")
                .named(table.child(col(&row, 2)))
                .with_script(prop::DEFINITION, def),
        );
    }
    Ok(())
}

fn comments(driver: &mut PostgresDriver, out: &mut Vec<Element>) -> Result<()> {
    for row in driver.simple(COMMENTS)? {
        let class = col(&row, 0);
        let mut host_parts: Vec<String> = Vec::new();
        if let Some(schema) = opt(&row, 1) {
            host_parts.push(schema.to_string());
        }
        host_parts.push(col(&row, 2).to_string());
        if let Some(column) = opt(&row, 3) {
            host_parts.push(column.to_string());
        }
        let host = ObjectName::new(host_parts);
        let mut name_parts = vec![class.to_string()];
        name_parts.extend(host.parts().to_vec());
        name_parts.push("MS_Description".into());
        let text = col(&row, 4);
        let mut el = Element::new(kind::EXTENDED_PROPERTY)
            .named(ObjectName::new(name_parts))
            .with(
                prop::VALUE,
                script(&format!("'{}'", text.replace('\'', "''"))),
            );
        el.push_ref("Host", Reference::to(host));
        out.push(el);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_enclosing_parentheses() {
        assert_eq!(strip_parens("(a > 0)"), "a > 0");
        assert_eq!(strip_parens("(a > 0) AND (b > 0)"), "(a > 0) AND (b > 0)");
        assert_eq!(strip_parens("((a))"), "(a)");
        assert_eq!(strip_parens("a"), "a");
    }

    #[test]
    fn array_columns_keep_their_dimensions() {
        let row: Row = vec![
            None,
            None,
            Some("integer[]".into()),
            Some("pg_catalog".into()),
            Some("int4".into()),
            Some("t".into()),
            Some("2".into()),
        ];
        let spec = column_type(&row, "public");
        assert_eq!(spec.int_prop(prop::ARRAY_DIMENSIONS), Some(2));
        assert_eq!(
            spec.reference_name(rel::TYPE).unwrap().to_string(),
            "[integer]"
        );
    }

    /// An extension type keeps its modifiers: `vector(3)` is the schema's `vector` with 3.
    #[test]
    fn extension_types_keep_their_modifiers() {
        let row: Row = vec![
            None,
            None,
            Some("ext.vector(3)[]".into()),
            Some("ext".into()),
            Some("vector".into()),
            Some("t".into()),
            Some("0".into()),
        ];
        let spec = column_type(&row, "public");
        assert_eq!(
            spec,
            type_specifier(Platform::Postgres, "ext.vector(3)[]", "public")
        );
        assert_eq!(spec.int_prop(prop::PRECISION), Some(3));
        assert_eq!(spec.int_prop(prop::ARRAY_DIMENSIONS), Some(1));
    }
}
