//! The live SQLite schema as a [`Model`].
//!
//! **Why the stored text is canonical.** SQLite keeps the CREATE statement of every table, index,
//! view and trigger in `sqlite_schema.sql`, exactly as it was executed (only the leading keywords
//! are normalised, `IF NOT EXISTS` is dropped, and ALTER TABLE ADD/DROP/RENAME rewrite the text in
//! place). Everything a model holds is in that text: declared types as written, defaults, CHECK
//! and generated-column expressions, collations, constraint names, `AUTOINCREMENT`, deferrability,
//! `WITHOUT ROWID`/`STRICT`, view queries and trigger bodies. The pragmas lose most of it (no CHECK
//! constraints, no constraint names, no collations, no AUTOINCREMENT, defaults only as text).
//! Parsing the stored text with [`crate::source::generic::parse_batch`], the parser the project
//! builder uses, gives the builder's shape by construction, so `compare(inspect(db), build(sql))`
//! is empty for the DDL that made the database.
//!
//! **What the pragmas are for.** A few set-based queries (`pragma_table_xinfo`,
//! `pragma_index_list`/`pragma_index_xinfo`, `pragma_foreign_key_list` joined to `sqlite_schema`
//! as table-valued functions) read what SQLite itself made of that text, and the parsed model is
//! checked against them: column names and order, primary-key columns, explicit indexes (columns
//! and uniqueness), unique constraints and foreign keys per table. A disagreement means our parser
//! read the text differently from SQLite, and inspection fails naming the object rather than
//! producing a model that would plan wrong changes.
//!
//! Left out: SQLite's internal objects (`sqlite_%`), auto-indexes (they belong to constraints),
//! the shadow tables of virtual tables, and dac's own objects (`_dac_%`).

use std::collections::BTreeMap;
use std::path::Path;

use super::{BACKEND, SqliteDriver};
use crate::model::kind::prop;
use crate::model::{Element, Model, Platform, kind, view};
use crate::source::generic;
use crate::{Error, Result};

const OBJECTS: &str = include_str!("queries/objects.sql");
const COLUMNS: &str = include_str!("queries/columns.sql");
const INDEXES: &str = include_str!("queries/indexes.sql");
const FOREIGN_KEYS: &str = include_str!("queries/foreign_keys.sql");

/// The live schema of the driver's database.
pub fn inspect(driver: &SqliteDriver) -> Result<Model> {
    let objects = driver.rows(OBJECTS)?;
    let mut elements = Vec::new();
    for row in &objects {
        let (Some(Some(object_type)), Some(Some(name)), Some(Some(sql))) =
            (row.first(), row.get(1), row.get(3))
        else {
            continue;
        };
        let label = format!(
            "{}:sqlite_schema({object_type} {name})",
            driver.path().display()
        );
        elements.extend(generic::parse_batch(
            Platform::Sqlite,
            sql,
            Path::new(&label),
            1,
        )?);
    }
    let model = generic::into_model(Platform::Sqlite, elements);
    cross_check(driver, &model)?;
    Ok(model)
}

/// What the catalog says about one table.
#[derive(Default, Debug)]
struct Catalog {
    columns: Vec<String>,
    /// Primary-key columns in key order.
    primary_key: Vec<(i64, String)>,
    /// Explicit indexes: name -> (unique, column names; `None` for expressions).
    indexes: BTreeMap<String, (bool, Vec<Option<String>>)>,
    /// Column sets of UNIQUE constraints (auto-indexes with origin `u`).
    unique: Vec<Vec<String>>,
    /// Foreign keys: id -> (parent table, child columns).
    foreign_keys: BTreeMap<i64, (String, Vec<String>)>,
}

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

fn int(row: &[Option<String>], i: usize) -> i64 {
    row.get(i)
        .cloned()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn catalog(driver: &SqliteDriver) -> Result<BTreeMap<String, Catalog>> {
    let mut tables: BTreeMap<String, Catalog> = BTreeMap::new();
    for row in driver.rows(COLUMNS)? {
        let t = tables.entry(lower(&text(&row, 0))).or_default();
        t.columns.push(text(&row, 2));
        let pk = int(&row, 5);
        if pk > 0 {
            t.primary_key.push((pk, text(&row, 2)));
        }
    }
    for row in driver.rows(INDEXES)? {
        let t = tables.entry(lower(&text(&row, 0))).or_default();
        let index = text(&row, 1);
        let column = row.get(6).cloned().flatten();
        match text(&row, 3).as_str() {
            "c" => {
                let entry = t
                    .indexes
                    .entry(lower(&index))
                    .or_insert((int(&row, 2) == 1, Vec::new()));
                entry.1.push(column);
            }
            "u" => {
                // Rows come ordered by index then seqno: a new index starts at seqno 0.
                if int(&row, 5) == 0 || t.unique.is_empty() {
                    t.unique.push(Vec::new());
                }
                if let Some(last) = t.unique.last_mut() {
                    last.push(column.unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    for row in driver.rows(FOREIGN_KEYS)? {
        let t = tables.entry(lower(&text(&row, 0))).or_default();
        let entry = t
            .foreign_keys
            .entry(int(&row, 1))
            .or_insert((text(&row, 3), Vec::new()));
        entry.1.push(text(&row, 4));
    }
    for t in tables.values_mut() {
        t.primary_key.sort();
    }
    Ok(tables)
}

fn mismatch(table: &str, what: &str, parsed: String, catalog: String) -> Error {
    Error::Driver {
        backend: BACKEND,
        code: None,
        message: format!(
            "inspect: the stored definition of [main].[{table}] was read differently from SQLite's catalog ({what}: parsed {parsed}, catalog {catalog})"
        ),
        statement: None,
    }
}

/// A mismatch unless the parsed names are the catalog's.
fn same_names(table: &str, what: &str, parsed: &[String], catalog: &[String]) -> Result<()> {
    if parsed == catalog {
        Ok(())
    } else {
        Err(mismatch(table, what, names(parsed), names(catalog)))
    }
}

fn names(columns: &[String]) -> String {
    format!("({})", columns.join(", "))
}

fn key_names(element: &Element) -> Vec<String> {
    view::key_columns(element)
        .iter()
        .map(|c| lower(c.column.leaf()))
        .collect()
}

/// Checks the parsed model against what SQLite made of the same text.
fn cross_check(driver: &SqliteDriver, model: &Model) -> Result<()> {
    let catalog = catalog(driver)?;
    let mut owned: BTreeMap<String, Vec<&Element>> = BTreeMap::new();
    for element in &model.elements {
        if let Some(owner) = view::owner(element) {
            owned.entry(lower(owner.leaf())).or_default().push(element);
        }
    }
    for table in model.of_kind(kind::TABLE) {
        let name = table.name_or_empty();
        let key = lower(name.leaf());
        let Some(cat) = catalog.get(&key) else {
            return Err(mismatch(
                name.leaf(),
                "table",
                "a table".into(),
                "no such table".into(),
            ));
        };
        let parsed: Vec<String> = table
            .children(kind::rel::COLUMNS)
            .map(|c| lower(c.name_or_empty().leaf()))
            .collect();
        let listed: Vec<String> = cat.columns.iter().map(|c| lower(c)).collect();
        same_names(name.leaf(), "columns", &parsed, &listed)?;
        let subs = owned.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        let of = |k: &'static str| subs.iter().filter(move |e| e.kind == k);
        let mut pk: Vec<String> = of(kind::PRIMARY_KEY).flat_map(|e| key_names(e)).collect();
        let mut listed_pk: Vec<String> = cat.primary_key.iter().map(|(_, c)| lower(c)).collect();
        pk.sort();
        listed_pk.sort();
        same_names(name.leaf(), "primary key", &pk, &listed_pk)?;
        for (index_name, (unique, columns)) in &cat.indexes {
            let parsed = of(kind::INDEX).find(|e| lower(e.name_or_empty().leaf()) == *index_name);
            let Some(parsed) = parsed else {
                return Err(mismatch(
                    name.leaf(),
                    "indexes",
                    "nothing".into(),
                    format!("index {index_name}"),
                ));
            };
            let parsed_unique = parsed.bool_prop(prop::IS_UNIQUE).unwrap_or(false);
            let parsed_count = parsed.children(kind::rel::COLUMN_SPECIFICATIONS).count();
            if parsed_unique != *unique || parsed_count != columns.len() {
                return Err(mismatch(
                    name.leaf(),
                    &format!("index {index_name}"),
                    format!("unique {parsed_unique}, {parsed_count} column(s)"),
                    format!("unique {unique}, {} column(s)", columns.len()),
                ));
            }
        }
        for columns in &cat.unique {
            let mut want: Vec<String> = columns.iter().map(|c| lower(c)).collect();
            want.sort();
            let found = of(kind::UNIQUE).chain(of(kind::PRIMARY_KEY)).any(|e| {
                let mut have = key_names(e);
                have.sort();
                have == want
            });
            if !found {
                return Err(mismatch(
                    name.leaf(),
                    "unique constraints",
                    "none".into(),
                    format!("UNIQUE {}", names(&want)),
                ));
            }
        }
        let parsed_fks = of(kind::FOREIGN_KEY).count();
        if parsed_fks != cat.foreign_keys.len() {
            let listed: Vec<String> = cat
                .foreign_keys
                .values()
                .map(|(parent, cols)| format!("{} -> {parent}", names(cols)))
                .collect();
            return Err(mismatch(
                name.leaf(),
                "foreign keys",
                parsed_fks.to_string(),
                listed.join(", "),
            ));
        }
    }
    Ok(())
}
