//! The live schema as a model: catalog rows (one set-based query per kind, `queries/*.sql`)
//! are rendered as T-SQL DDL, one bracket-quoted batch per object, and built by the project
//! builder (`source::build_tsql_text`), so a database and a project holding the same DDL give
//! the same model by construction. Everything here after the queries is a pure function of the
//! rows ([`Catalog`]), tested offline on fixture rows (`fixtures/sqlserver/`).
//!
//! Choices that keep the model equal to a project's: implicit defaults are left out of the DDL
//! (`datetime2` for `datetime2(7)`, `decimal` for `decimal(18,0)`, sequence bounds of the type,
//! `IDENTITY` seed and increment 1), system-named constraints are written without a name, and
//! owners and default schemas that are `dbo` are not written. Database options come from
//! `sys.databases` directly. Objects of other kinds, and any DDL the builder cannot read back,
//! become opaque objects, each reported in [`Inspection::notes`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use super::quote;
use crate::Result;
use crate::model::kind;
use crate::model::kind::prop;
use crate::model::{Dsp, Element, Model, ObjectName, Reference, Value};
use crate::plan::DEFINITION;
use crate::source::build_tsql_catalog;

/// Catalog queries by result-set name, in the order they run.
pub const QUERIES: &[(&str, &str)] = &[
    ("server", include_str!("queries/server.sql")),
    ("database", include_str!("queries/database.sql")),
    ("schemas", include_str!("queries/schemas.sql")),
    ("tables", include_str!("queries/tables.sql")),
    ("columns", include_str!("queries/columns.sql")),
    ("indexes", include_str!("queries/indexes.sql")),
    ("index_columns", include_str!("queries/index_columns.sql")),
    (
        "check_constraints",
        include_str!("queries/check_constraints.sql"),
    ),
    ("foreign_keys", include_str!("queries/foreign_keys.sql")),
    ("modules", include_str!("queries/modules.sql")),
    ("sequences", include_str!("queries/sequences.sql")),
    ("synonyms", include_str!("queries/synonyms.sql")),
    ("types", include_str!("queries/types.sql")),
    ("principals", include_str!("queries/principals.sql")),
    ("permissions", include_str!("queries/permissions.sql")),
    (
        "extended_properties",
        include_str!("queries/extended_properties.sql"),
    ),
    ("other_objects", include_str!("queries/other_objects.sql")),
];

/// One result set: column names and rows of text (NULL as `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ResultSet {
    /// Column names, as the query aliases them.
    pub columns: Vec<String>,
    /// Rows, values as text (`1`/`0` for bits).
    pub rows: Vec<Vec<Option<String>>>,
}

/// The rows of every catalog query, by query name (see [`QUERIES`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Catalog {
    /// Result sets by query name; a missing set counts as empty.
    pub sets: BTreeMap<String, ResultSet>,
}

/// What an inspection found.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The model.
    pub model: Model,
    /// Objects kept as opaque objects or inspected only in part, one line each.
    pub notes: Vec<String>,
    /// The DDL the model was built from (for diagnostics).
    pub ddl: String,
}

/// A row with named access.
#[derive(Clone, Copy)]
struct Rec<'a> {
    index: &'a HashMap<String, usize>,
    row: &'a [Option<String>],
}

impl<'a> Rec<'a> {
    fn get(&self, column: &str) -> Option<&'a str> {
        self.index
            .get(column)
            .and_then(|&i| self.row.get(i))
            .and_then(|v| v.as_deref())
    }

    fn text(&self, column: &str) -> &'a str {
        self.get(column).unwrap_or("")
    }

    fn flag(&self, column: &str) -> bool {
        matches!(
            self.get(column).map(str::trim),
            Some("1" | "true" | "True" | "TRUE")
        )
    }

    fn int(&self, column: &str) -> Option<i64> {
        self.get(column).and_then(|v| v.trim().parse().ok())
    }
}

struct Set {
    index: HashMap<String, usize>,
    rows: Vec<Vec<Option<String>>>,
}

impl Set {
    fn of(catalog: &Catalog, name: &str) -> Set {
        let set = catalog.sets.get(name).cloned().unwrap_or_default();
        Set {
            index: set
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i))
                .collect(),
            rows: set.rows,
        }
    }

    fn iter(&self) -> impl Iterator<Item = Rec<'_>> {
        self.rows.iter().map(|row| Rec {
            index: &self.index,
            row,
        })
    }
}

/// `N'text'` with quotes doubled.
fn literal(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

fn two_part(schema: &str, name: &str) -> String {
    format!("{}.{}", quote(schema), quote(name))
}

/// The DSP for a server: Azure SQL Database, else `Sql<major>0` (2016 = 13 ... 2025 = 17).
pub fn dsp_for(major_version: Option<i64>, engine_edition: Option<i64>) -> Dsp {
    if engine_edition == Some(5) {
        return Dsp::from_short_name("SqlAzureV12").unwrap_or_else(Dsp::default_sqlserver);
    }
    match major_version {
        Some(v @ 9..=17) => {
            Dsp::from_short_name(&format!("Sql{v}0")).unwrap_or_else(Dsp::default_sqlserver)
        }
        _ => Dsp::default_sqlserver(),
    }
}

/// A column's data type as DDL, with implicit defaults left out.
fn type_ddl(r: Rec<'_>) -> String {
    let name = r.text("type_name");
    if let Some(schema) = r.get("type_schema") {
        return two_part(schema, name);
    }
    let lower = name.to_ascii_lowercase();
    let max_length = r.int("max_length").unwrap_or(0);
    let precision = r.int("precision").unwrap_or(0);
    let scale = r.int("scale").unwrap_or(0);
    let length = |bytes_per_char: i64| -> String {
        if max_length == -1 {
            format!("{lower}(max)")
        } else {
            let n = max_length / bytes_per_char;
            format!("{lower}({n})")
        }
    };
    match lower.as_str() {
        "varchar" | "char" | "varbinary" | "binary" => length(1),
        "nvarchar" | "nchar" => length(2),
        "decimal" | "numeric" => {
            if precision == 18 && scale == 0 {
                lower
            } else {
                format!("{lower}({precision}, {scale})")
            }
        }
        "datetime2" | "time" | "datetimeoffset" => {
            if scale == 7 {
                lower
            } else {
                format!("{lower}({scale})")
            }
        }
        "float" => {
            if precision == 53 {
                lower
            } else {
                format!("float({precision})")
            }
        }
        "geography" | "geometry" | "hierarchyid" => lower,
        _ => lower,
    }
}

/// `(bounds)` of the integer types, for leaving sequence defaults out.
fn integer_bounds(type_name: &str) -> Option<(&'static str, &'static str)> {
    Some(match type_name {
        "tinyint" => ("0", "255"),
        "smallint" => ("-32768", "32767"),
        "int" => ("-2147483648", "2147483647"),
        "bigint" => ("-9223372036854775808", "9223372036854775807"),
        _ => return None,
    })
}

/// One object's DDL, with what it is for notes and fallbacks.
struct Batch {
    /// DacFx kind the object becomes if its DDL cannot be read back.
    kind: String,
    name: ObjectName,
    text: String,
}

/// Builds the model for a catalog. Fails only where the builder fails on the whole of the
/// DDL after each object was checked alone, which would be a bug.
pub fn model_from_catalog(catalog: &Catalog) -> Result<Inspection> {
    let server = Set::of(catalog, "server");
    let (major, edition) = server.iter().next().map_or((None, None), |r| {
        (r.int("major_version"), r.int("engine_edition"))
    });
    let dsp = dsp_for(major, edition);
    let mut notes = Vec::new();
    let mut batches = Vec::new();
    let mut opaque = Vec::new();

    schemas(catalog, &mut batches);
    types(catalog, &mut batches, &mut notes);
    tables(catalog, &mut batches, &mut notes);
    indexes(catalog, &mut batches);
    modules(catalog, &mut batches, &mut notes);
    sequences(catalog, &mut batches);
    synonyms(catalog, &mut batches);
    principals(catalog, &mut batches, &mut opaque, &mut notes);
    permissions(catalog, &mut batches, &mut notes);
    extended_properties(catalog, &mut batches, &mut notes);
    other_objects(catalog, &mut opaque, &mut notes);

    // Each object alone first: DDL the builder cannot read back becomes an opaque object
    // (with the text as its definition) instead of failing the whole inspection.
    let file = Path::new("(live database)");
    let mut good = Vec::new();
    let database = Set::of(catalog, "database")
        .iter()
        .next()
        .map(database_options);
    let case_sensitive = database.as_ref().is_some_and(|(_, cs, _)| *cs);
    for batch in batches {
        match build_tsql_catalog(&batch.text, file, &dsp, case_sensitive) {
            Ok(_) => good.push(batch),
            Err(err) => {
                notes.push(format!(
                    "{} {} is kept as an opaque object: its definition could not be read back ({err})",
                    batch.kind, batch.name
                ));
                opaque.push(
                    Element::new(&batch.kind)
                        .named(batch.name.clone())
                        .with_script(DEFINITION, batch.text.clone()),
                );
            }
        }
    }
    let mut ddl = String::new();
    for batch in &good {
        ddl.push_str(&batch.text);
        ddl.push_str("\nGO\n");
    }
    let mut model = build_tsql_catalog(&ddl, file, &dsp, case_sensitive)?;
    model.elements.retain(|e| e.kind != kind::DATABASE_OPTIONS);
    if let Some((options, case_sensitive, lcid)) = database {
        model.collation_case_sensitive = case_sensitive;
        if let Some(lcid) = lcid {
            model.collation_lcid = lcid;
        }
        model.elements.push(options);
    }
    model.elements.extend(opaque);
    model.sort_elements();
    Ok(Inspection { model, notes, ddl })
}

fn schemas(catalog: &Catalog, out: &mut Vec<Batch>) {
    for r in Set::of(catalog, "schemas").iter() {
        let name = r.text("schema_name");
        let mut text = format!("CREATE SCHEMA {}", quote(name));
        if let Some(owner) = r.get("owner_name").filter(|o| *o != "dbo") {
            write!(text, " AUTHORIZATION {}", quote(owner)).ok();
        }
        out.push(Batch {
            kind: kind::SCHEMA.into(),
            name: ObjectName::new([name.to_string()]),
            text,
        });
    }
}

/// Column definitions of a table or table type.
struct ColumnSet<'a> {
    by_object: BTreeMap<i64, Vec<Rec<'a>>>,
}

impl<'a> ColumnSet<'a> {
    fn new(set: &'a Set) -> Self {
        let mut by_object: BTreeMap<i64, Vec<Rec<'a>>> = BTreeMap::new();
        for r in set.iter() {
            by_object
                .entry(r.int("object_id").unwrap_or(0))
                .or_default()
                .push(r);
        }
        ColumnSet { by_object }
    }

    fn name(&self, object_id: i64, column_id: Option<i64>) -> Option<&'a str> {
        let id = column_id?;
        self.by_object
            .get(&object_id)?
            .iter()
            .find(|r| r.int("column_id") == Some(id))
            .map(|r| r.text("column_name"))
    }
}

fn column_ddl(r: Rec<'_>, table_type: bool) -> String {
    let mut text = format!("    {}", quote(r.text("column_name")));
    if r.flag("is_computed") {
        write!(text, " AS {}", r.text("computed_definition")).ok();
        if r.flag("is_persisted") {
            text.push_str(" PERSISTED");
            if !r.flag("is_nullable") {
                text.push_str(" NOT NULL");
            }
        }
        return text;
    }
    write!(text, " {}", type_ddl(r)).ok();
    if let Some(collation) = r.get("collation_name") {
        write!(text, " COLLATE {collation}").ok();
    }
    if r.flag("is_sparse") {
        text.push_str(" SPARSE");
    }
    if r.flag("is_identity") {
        let seed = r.get("identity_seed").unwrap_or("1");
        let increment = r.get("identity_increment").unwrap_or("1");
        if seed == "1" && increment == "1" {
            text.push_str(" IDENTITY");
        } else {
            write!(text, " IDENTITY({seed}, {increment})").ok();
        }
    }
    if r.flag("is_rowguidcol") {
        text.push_str(" ROWGUIDCOL");
    }
    if !r.flag("is_nullable") {
        text.push_str(" NOT NULL");
    } else if table_type || r.get("type_schema").is_some() {
        // A column of an alias type says NULL: left out, the type's NOT NULL would apply.
        text.push_str(" NULL");
    }
    if let Some(definition) = r.get("default_definition") {
        if !table_type && !r.flag("default_is_system_named") {
            write!(text, " CONSTRAINT {}", quote(r.text("default_name"))).ok();
        }
        write!(text, " DEFAULT {definition}").ok();
    }
    text
}

/// Keys of an index: `([a] ASC, [b] DESC)`, included columns and all columns (columnstore).
struct IndexColumns {
    keys: Vec<String>,
    included: Vec<String>,
}

fn index_columns(catalog: &Catalog) -> BTreeMap<(i64, i64), IndexColumns> {
    let mut out: BTreeMap<(i64, i64), IndexColumns> = BTreeMap::new();
    for r in Set::of(catalog, "index_columns").iter() {
        let key = (
            r.int("object_id").unwrap_or(0),
            r.int("index_id").unwrap_or(0),
        );
        let entry = out.entry(key).or_insert_with(|| IndexColumns {
            keys: Vec::new(),
            included: Vec::new(),
        });
        let name = quote(r.text("column_name"));
        if r.flag("is_included_column") || r.int("key_ordinal") == Some(0) {
            entry.included.push(name);
        } else if r.flag("is_descending_key") {
            entry.keys.push(format!("{name} DESC"));
        } else {
            entry.keys.push(name);
        }
    }
    out
}

fn key_constraint_ddl(r: Rec<'_>, columns: Option<&IndexColumns>, table_type: bool) -> String {
    let mut text = String::from("    ");
    if !table_type && !r.flag("is_system_named") {
        write!(text, "CONSTRAINT {} ", quote(r.text("index_name"))).ok();
    }
    let clustered = r.int("index_type") == Some(1);
    if r.flag("is_primary_key") {
        text.push_str("PRIMARY KEY");
        if !clustered {
            text.push_str(" NONCLUSTERED");
        }
    } else {
        text.push_str("UNIQUE");
        if clustered {
            text.push_str(" CLUSTERED");
        }
    }
    let keys = columns.map(|c| c.keys.join(", ")).unwrap_or_default();
    write!(text, " ({keys})").ok();
    if r.flag("ignore_dup_key") {
        text.push_str(" WITH (IGNORE_DUP_KEY = ON)");
    }
    text
}

fn check_ddl(r: Rec<'_>, table_type: bool) -> String {
    let mut text = String::from("    ");
    if !table_type && !r.flag("is_system_named") {
        write!(text, "CONSTRAINT {} ", quote(r.text("constraint_name"))).ok();
    }
    write!(text, "CHECK").ok();
    if r.flag("is_not_for_replication") {
        text.push_str(" NOT FOR REPLICATION");
    }
    write!(text, " {}", r.text("definition")).ok();
    text
}

fn types(catalog: &Catalog, out: &mut Vec<Batch>, notes: &mut Vec<String>) {
    let columns_set = Set::of(catalog, "columns");
    let columns = ColumnSet::new(&columns_set);
    let indexes_set = Set::of(catalog, "indexes");
    let index_cols = index_columns(catalog);
    let checks = Set::of(catalog, "check_constraints");
    for r in Set::of(catalog, "types").iter() {
        let schema = r.text("schema_name");
        let name = r.text("type_name");
        let object_name = ObjectName::new([schema.to_string(), name.to_string()]);
        if r.flag("is_table_type") {
            let id = r.int("type_table_object_id").unwrap_or(0);
            let mut lines: Vec<String> = columns
                .by_object
                .get(&id)
                .map(|cols| cols.iter().map(|c| column_ddl(*c, true)).collect())
                .unwrap_or_default();
            for i in indexes_set
                .iter()
                .filter(|i| i.int("object_id") == Some(id))
            {
                let cols = index_cols.get(&(id, i.int("index_id").unwrap_or(0)));
                if i.flag("is_primary_key") || i.flag("is_unique_constraint") {
                    lines.push(key_constraint_ddl(i, cols, true));
                } else {
                    let kind = if i.int("index_type") == Some(1) {
                        "CLUSTERED"
                    } else {
                        "NONCLUSTERED"
                    };
                    let unique = if i.flag("is_unique") { "UNIQUE " } else { "" };
                    lines.push(format!(
                        "    INDEX {} {unique}{kind} ({})",
                        quote(i.text("index_name")),
                        cols.map(|c| c.keys.join(", ")).unwrap_or_default()
                    ));
                }
            }
            for c in checks.iter().filter(|c| c.int("object_id") == Some(id)) {
                lines.push(check_ddl(c, true));
            }
            if lines.is_empty() {
                notes.push(format!(
                    "table type {object_name} has no columns in the catalog rows"
                ));
            }
            out.push(Batch {
                kind: kind::TABLE_TYPE.into(),
                name: object_name,
                text: format!(
                    "CREATE TYPE {} AS TABLE (\n{}\n)",
                    two_part(schema, name),
                    lines.join(",\n")
                ),
            });
        } else {
            let base = Rec {
                index: r.index,
                row: r.row,
            };
            // The base type's spelling rules are those of a column of that type.
            let mut spelled = HashMap::new();
            spelled.insert("type_name".to_string(), 0);
            spelled.insert("max_length".to_string(), 1);
            spelled.insert("precision".to_string(), 2);
            spelled.insert("scale".to_string(), 3);
            let row = vec![
                base.get("base_type_name").map(str::to_string),
                base.get("max_length").map(str::to_string),
                base.get("precision").map(str::to_string),
                base.get("scale").map(str::to_string),
            ];
            let type_text = type_ddl(Rec {
                index: &spelled,
                row: &row,
            });
            let mut text = format!("CREATE TYPE {} FROM {type_text}", two_part(schema, name));
            if !r.flag("is_nullable") {
                text.push_str(" NOT NULL");
            }
            out.push(Batch {
                kind: kind::USER_DEFINED_DATA_TYPE.into(),
                name: object_name,
                text,
            });
        }
    }
}

fn tables(catalog: &Catalog, out: &mut Vec<Batch>, notes: &mut Vec<String>) {
    let columns_set = Set::of(catalog, "columns");
    let columns = ColumnSet::new(&columns_set);
    let indexes_set = Set::of(catalog, "indexes");
    let index_cols = index_columns(catalog);
    let checks = Set::of(catalog, "check_constraints");
    let fks = Set::of(catalog, "foreign_keys");
    for t in Set::of(catalog, "tables").iter() {
        let id = t.int("object_id").unwrap_or(0);
        let schema = t.text("schema_name");
        let name = t.text("table_name");
        let object_name = ObjectName::new([schema.to_string(), name.to_string()]);
        if t.int("temporal_type").unwrap_or(0) != 0 {
            notes.push(format!(
                "table {object_name} is system-versioned: its period and history table are not inspected"
            ));
        }
        if t.flag("is_memory_optimized") {
            notes.push(format!(
                "table {object_name} is memory-optimized: its MEMORY_OPTIMIZED and DURABILITY options are not inspected"
            ));
        }
        let mut lines: Vec<String> = columns
            .by_object
            .get(&id)
            .map(|cols| cols.iter().map(|c| column_ddl(*c, false)).collect())
            .unwrap_or_default();
        for i in indexes_set.iter().filter(|i| {
            i.int("object_id") == Some(id)
                && (i.flag("is_primary_key") || i.flag("is_unique_constraint"))
        }) {
            let cols = index_cols.get(&(id, i.int("index_id").unwrap_or(0)));
            lines.push(key_constraint_ddl(i, cols, false));
        }
        for c in checks.iter().filter(|c| c.int("object_id") == Some(id)) {
            lines.push(check_ddl(c, false));
        }
        // Foreign keys: one row per column pair, grouped by constraint in row order.
        let mut groups: Vec<(i64, Vec<Rec<'_>>)> = Vec::new();
        for f in fks.iter().filter(|f| f.int("object_id") == Some(id)) {
            let cid = f.int("constraint_id").unwrap_or(0);
            match groups.iter_mut().find(|(g, _)| *g == cid) {
                Some((_, rows)) => rows.push(f),
                None => groups.push((cid, vec![f])),
            }
        }
        for (_, rows) in &groups {
            let first = rows[0];
            let mut text = String::from("    ");
            if !first.flag("is_system_named") {
                write!(text, "CONSTRAINT {} ", quote(first.text("constraint_name"))).ok();
            }
            let local: Vec<String> = rows.iter().map(|r| quote(r.text("column_name"))).collect();
            let remote: Vec<String> = rows
                .iter()
                .map(|r| quote(r.text("referenced_column")))
                .collect();
            write!(
                text,
                "FOREIGN KEY ({}) REFERENCES {} ({})",
                local.join(", "),
                two_part(
                    first.text("referenced_schema"),
                    first.text("referenced_table")
                ),
                remote.join(", ")
            )
            .ok();
            for (column, verb) in [
                ("delete_referential_action", "DELETE"),
                ("update_referential_action", "UPDATE"),
            ] {
                let action = match first.int(column) {
                    Some(1) => "CASCADE",
                    Some(2) => "SET NULL",
                    Some(3) => "SET DEFAULT",
                    _ => continue,
                };
                write!(text, " ON {verb} {action}").ok();
            }
            if first.flag("is_not_for_replication") {
                text.push_str(" NOT FOR REPLICATION");
            }
            lines.push(text);
        }
        let _ = columns.name(id, None);
        out.push(Batch {
            kind: kind::TABLE.into(),
            name: object_name,
            text: format!(
                "CREATE TABLE {} (\n{}\n)",
                two_part(schema, name),
                lines.join(",\n")
            ),
        });
        // Constraints switched off keep their definition; say so.
        for c in checks
            .iter()
            .filter(|c| c.int("object_id") == Some(id) && c.flag("is_disabled"))
        {
            notes.push(format!(
                "check constraint {} on {} is disabled (NOCHECK); it is inspected as enabled",
                c.text("constraint_name"),
                two_part(schema, name)
            ));
        }
        for (_, rows) in &groups {
            if rows[0].flag("is_disabled") {
                notes.push(format!(
                    "foreign key {} on {} is disabled (NOCHECK); it is inspected as enabled",
                    rows[0].text("constraint_name"),
                    two_part(schema, name)
                ));
            }
        }
    }
}

fn indexes(catalog: &Catalog, out: &mut Vec<Batch>) {
    // Indexes of tables and of indexed views.
    let mut tables: HashMap<i64, (String, String)> = Set::of(catalog, "tables")
        .iter()
        .map(|t| {
            (
                t.int("object_id").unwrap_or(0),
                (
                    t.text("schema_name").to_string(),
                    t.text("table_name").to_string(),
                ),
            )
        })
        .collect();
    for m in Set::of(catalog, "modules")
        .iter()
        .filter(|m| m.text("object_type").trim() == "V")
    {
        tables.insert(
            m.int("object_id").unwrap_or(0),
            (
                m.text("schema_name").to_string(),
                m.text("object_name").to_string(),
            ),
        );
    }
    let index_cols = index_columns(catalog);
    for i in Set::of(catalog, "indexes").iter() {
        if i.flag("is_primary_key") || i.flag("is_unique_constraint") {
            continue;
        }
        let id = i.int("object_id").unwrap_or(0);
        let Some((schema, table)) = tables.get(&id) else {
            continue; // table types' indexes are part of the type
        };
        let name = i.text("index_name");
        let cols = index_cols.get(&(id, i.int("index_id").unwrap_or(0)));
        let index_type = i.int("index_type").unwrap_or(2);
        let on = two_part(schema, table);
        let (kind_name, text) = if matches!(index_type, 5 | 6) {
            let all: Vec<String> = cols
                .map(|c| c.keys.iter().chain(&c.included).cloned().collect())
                .unwrap_or_default();
            if index_type == 5 {
                (
                    kind::COLUMN_STORE_INDEX,
                    format!("CREATE CLUSTERED COLUMNSTORE INDEX {} ON {on}", quote(name)),
                )
            } else {
                (
                    kind::COLUMN_STORE_INDEX,
                    format!(
                        "CREATE NONCLUSTERED COLUMNSTORE INDEX {} ON {on} ({})",
                        quote(name),
                        all.join(", ")
                    ),
                )
            }
        } else {
            let mut text = String::from("CREATE ");
            if i.flag("is_unique") {
                text.push_str("UNIQUE ");
            }
            if index_type == 1 {
                text.push_str("CLUSTERED ");
            }
            write!(
                text,
                "INDEX {} ON {on} ({})",
                quote(name),
                cols.map(|c| c.keys.join(", ")).unwrap_or_default()
            )
            .ok();
            if let Some(c) = cols.filter(|c| !c.included.is_empty()) {
                write!(text, " INCLUDE ({})", c.included.join(", ")).ok();
            }
            if i.flag("has_filter")
                && let Some(filter) = i.get("filter_definition")
            {
                write!(text, " WHERE {filter}").ok();
            }
            if i.flag("ignore_dup_key") {
                text.push_str(" WITH (IGNORE_DUP_KEY = ON)");
            }
            (kind::INDEX, text)
        };
        out.push(Batch {
            kind: kind_name.into(),
            name: ObjectName::new([schema.clone(), table.clone(), name.to_string()]),
            text,
        });
    }
}

fn modules(catalog: &Catalog, out: &mut Vec<Batch>, notes: &mut Vec<String>) {
    for m in Set::of(catalog, "modules").iter() {
        let schema = m.text("schema_name");
        let name = m.text("object_name");
        let object_name = ObjectName::new([schema.to_string(), name.to_string()]);
        let kind_name = match m.text("object_type").trim() {
            "V" => kind::VIEW,
            "P" => kind::PROCEDURE,
            "FN" => kind::SCALAR_FUNCTION,
            "IF" => kind::INLINE_TVF,
            "TF" => kind::MULTI_TVF,
            _ => kind::DML_TRIGGER,
        };
        let Some(definition) = m.get("definition") else {
            notes.push(format!(
                "{kind_name} {object_name} has no readable definition (WITH ENCRYPTION, or no VIEW DEFINITION permission); kept as an opaque object"
            ));
            out.push(Batch {
                kind: kind_name.into(),
                name: object_name,
                // Not valid DDL: becomes an opaque object with this text.
                text: format!("-- definition of {schema}.{name} is not readable\nENCRYPTED"),
            });
            continue;
        };
        if !m.flag("uses_ansi_nulls") || !m.flag("uses_quoted_identifier") {
            notes.push(format!(
                "{kind_name} {object_name} was created with ANSI_NULLS or QUOTED_IDENTIFIER off; inspected as on"
            ));
        }
        if m.flag("trigger_is_disabled") {
            notes.push(format!(
                "trigger {object_name} is disabled; inspected as enabled"
            ));
        }
        out.push(Batch {
            kind: kind_name.into(),
            name: object_name,
            text: definition.trim().to_string(),
        });
    }
}

fn sequences(catalog: &Catalog, out: &mut Vec<Batch>) {
    for s in Set::of(catalog, "sequences").iter() {
        let schema = s.text("schema_name");
        let name = s.text("sequence_name");
        let type_name = s.text("type_name").to_ascii_lowercase();
        let mut text = format!("CREATE SEQUENCE {}", two_part(schema, name));
        let bounds = if s.get("type_schema").is_none() {
            integer_bounds(&type_name)
        } else {
            None
        };
        if s.get("type_schema").is_some() || type_name != "bigint" {
            write!(text, " AS {}", type_ddl(s)).ok();
        }
        let increment = s.text("increment");
        let ascending = !increment.starts_with('-');
        let (min, max) = (s.text("minimum_value"), s.text("maximum_value"));
        let default_start = if ascending { min } else { max };
        if s.text("start_value") != default_start {
            write!(text, " START WITH {}", s.text("start_value")).ok();
        }
        if increment != "1" {
            write!(text, " INCREMENT BY {increment}").ok();
        }
        if bounds.is_none_or(|(lo, _)| lo != min) {
            write!(text, " MINVALUE {min}").ok();
        }
        if bounds.is_none_or(|(_, hi)| hi != max) {
            write!(text, " MAXVALUE {max}").ok();
        }
        if s.flag("is_cycling") {
            text.push_str(" CYCLE");
        }
        if !s.flag("is_cached") {
            text.push_str(" NO CACHE");
        } else if let Some(size) = s.get("cache_size") {
            write!(text, " CACHE {size}").ok();
        }
        out.push(Batch {
            kind: kind::SEQUENCE.into(),
            name: ObjectName::new([schema.to_string(), name.to_string()]),
            text,
        });
    }
}

fn synonyms(catalog: &Catalog, out: &mut Vec<Batch>) {
    for s in Set::of(catalog, "synonyms").iter() {
        let schema = s.text("schema_name");
        let name = s.text("synonym_name");
        out.push(Batch {
            kind: kind::SYNONYM.into(),
            name: ObjectName::new([schema.to_string(), name.to_string()]),
            text: format!(
                "CREATE SYNONYM {} FOR {}",
                two_part(schema, name),
                s.text("base_object_name")
            ),
        });
    }
}

fn principals(
    catalog: &Catalog,
    out: &mut Vec<Batch>,
    opaque: &mut Vec<Element>,
    notes: &mut Vec<String>,
) {
    for p in Set::of(catalog, "principals").iter() {
        if p.text("row_kind") == "member" {
            let role = p.text("role_name");
            let member = p.text("member_name");
            out.push(Batch {
                kind: kind::ROLE_MEMBERSHIP.into(),
                name: ObjectName::new([role.to_string(), member.to_string()]),
                text: format!("ALTER ROLE {} ADD MEMBER {}", quote(role), quote(member)),
            });
            continue;
        }
        let name = p.text("principal_name");
        let object_name = ObjectName::new([name.to_string()]);
        let default_schema = p
            .get("default_schema_name")
            .filter(|s| *s != "dbo")
            .map(|s| format!(" WITH DEFAULT_SCHEMA = {}", quote(s)))
            .unwrap_or_default();
        let text = match p.text("principal_type").trim() {
            "R" => {
                let mut text = format!("CREATE ROLE {}", quote(name));
                if let Some(owner) = p.get("owner_name").filter(|o| *o != "dbo") {
                    write!(text, " AUTHORIZATION {}", quote(owner)).ok();
                }
                text
            }
            "S" | "U" | "G" => match (p.get("login_name"), p.int("authentication_type")) {
                (Some(login), _) => format!(
                    "CREATE USER {} FOR LOGIN {}{default_schema}",
                    quote(name),
                    quote(login)
                ),
                (None, Some(0)) | (None, None) => {
                    format!("CREATE USER {} WITHOUT LOGIN{default_schema}", quote(name))
                }
                (None, _) => {
                    notes.push(format!(
                        "user {name} is a contained database user (its password is not readable); kept as an opaque object"
                    ));
                    opaque.push(Element::new(kind::USER).named(object_name));
                    continue;
                }
            },
            "E" | "X" => format!(
                "CREATE USER {} FROM EXTERNAL PROVIDER{default_schema}",
                quote(name)
            ),
            other => {
                notes.push(format!(
                    "principal {name} of type {other} (certificate or key user) is kept as an opaque object"
                ));
                opaque.push(Element::new(kind::USER).named(object_name));
                continue;
            }
        };
        let kind_name = if p.text("principal_type").trim() == "R" {
            kind::ROLE
        } else {
            kind::USER
        };
        out.push(Batch {
            kind: kind_name.into(),
            name: object_name,
            text,
        });
    }
}

fn permissions(catalog: &Catalog, out: &mut Vec<Batch>, notes: &mut Vec<String>) {
    for p in Set::of(catalog, "permissions").iter() {
        let permission = p.text("permission_name");
        if !matches!(p.int("class"), Some(0 | 1 | 3)) {
            notes.push(format!(
                "permission {permission} of {} on a {} securable is not modelled by dac; left out",
                p.text("grantee_name"),
                p.get("class_desc").unwrap_or("other")
            ));
            continue;
        }
        let grantee = quote(p.text("grantee_name"));
        let on = match p.int("class") {
            Some(1) => {
                let mut on = format!(
                    " ON {}",
                    two_part(p.text("securable_schema"), p.text("securable_name"))
                );
                if let Some(column) = p.get("column_name") {
                    write!(on, " ({})", quote(column)).ok();
                }
                on
            }
            Some(3) => format!(" ON SCHEMA::{}", quote(p.text("securable_schema"))),
            _ => String::new(),
        };
        let (verb, suffix) = match p.text("state").trim() {
            "D" => ("DENY", ""),
            "W" => ("GRANT", " WITH GRANT OPTION"),
            _ => ("GRANT", ""),
        };
        out.push(Batch {
            kind: kind::PERMISSION.into(),
            name: ObjectName::new([format!("{verb} {permission}{on} TO {grantee}")]),
            text: format!("{verb} {permission}{on} TO {grantee}{suffix}"),
        });
    }
}

fn extended_properties(catalog: &Catalog, out: &mut Vec<Batch>, notes: &mut Vec<String>) {
    for e in Set::of(catalog, "extended_properties").iter() {
        if !matches!(e.int("class"), Some(0 | 1 | 3)) {
            notes.push(format!(
                "extended property {} on a {} is not modelled by dac; left out",
                e.text("property_name"),
                e.get("class_desc").unwrap_or("securable of another class")
            ));
            continue;
        }
        let mut levels: Vec<(&str, String)> = Vec::new();
        match e.int("class") {
            Some(3) => levels.push(("SCHEMA", e.text("schema_name").to_string())),
            Some(1) => {
                let schema = e.text("schema_name").to_string();
                let object = e.text("object_name").to_string();
                let object_type = e.text("object_type").trim().to_string();
                levels.push(("SCHEMA", schema.clone()));
                let level1 = match object_type.as_str() {
                    "U" => "TABLE",
                    "V" => "VIEW",
                    "P" => "PROCEDURE",
                    "FN" | "IF" | "TF" => "FUNCTION",
                    "SO" => "SEQUENCE",
                    "SN" => "SYNONYM",
                    "TR" | "PK" | "UQ" | "F" | "C" | "D" => "TABLE",
                    other => {
                        notes.push(format!(
                            "extended property {} on {schema}.{object} (object type {other}) is not modelled by dac; left out",
                            e.text("property_name")
                        ));
                        continue;
                    }
                };
                if level1 == "TABLE" && object_type != "U" {
                    // A trigger or constraint: level 1 is its table, level 2 the object.
                    levels.push(("TABLE", e.text("parent_name").to_string()));
                    let level2 = if object_type == "TR" {
                        "TRIGGER"
                    } else {
                        "CONSTRAINT"
                    };
                    levels.push((level2, object));
                } else {
                    levels.push((level1, object));
                    if let Some(column) = e.get("column_name") {
                        levels.push(("COLUMN", column.to_string()));
                    }
                }
            }
            _ => {}
        }
        let name = e.text("property_name");
        let mut text = format!(
            "EXEC sp_addextendedproperty @name = {}, @value = {}",
            literal(name),
            e.get("property_value")
                .map_or_else(|| "NULL".to_string(), literal)
        );
        for (i, (level_type, level_name)) in levels.iter().enumerate() {
            write!(
                text,
                ", @level{i}type = {}, @level{i}name = {}",
                literal(level_type),
                literal(level_name)
            )
            .ok();
        }
        let mut parts: Vec<String> = levels.iter().map(|(_, n)| n.clone()).collect();
        parts.push(name.to_string());
        out.push(Batch {
            kind: kind::EXTENDED_PROPERTY.into(),
            name: ObjectName::new(parts),
            text,
        });
    }
}

/// DacFx type names of catalog kinds the inspection keeps opaque.
fn opaque_kind(source: &str, object_type: &str, type_desc: &str) -> String {
    match (source, object_type.trim()) {
        ("ddl trigger", _) => "SqlDatabaseDdlTrigger".into(),
        ("partition function", _) => "SqlPartitionFunction".into(),
        ("partition scheme", _) => "SqlPartitionScheme".into(),
        ("xml schema collection", _) => "SqlXmlSchemaCollection".into(),
        ("assembly", _) => "SqlAssembly".into(),
        ("fulltext catalog", _) => "SqlFullTextCatalog".into(),
        ("index", "3") => "SqlXmlIndex".into(),
        ("index", _) => "SqlSpatialIndex".into(),
        (_, "SQ") => "SqlQueue".into(),
        (_, "AF") => "SqlAggregate".into(),
        (_, "R") => "SqlRule".into(),
        (_, "SP") => "SqlSecurityPolicy".into(),
        (_, "FS" | "FT") => "SqlClrFunction".into(),
        (_, "PC") => "SqlClrProcedure".into(),
        (_, "TA") => "SqlClrDmlTrigger".into(),
        (_, "ET") => "SqlExternalTable".into(),
        _ => {
            // SERVICE_QUEUE -> SqlServiceQueue
            let mut name = String::from("Sql");
            for word in type_desc.split('_') {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    name.push(first.to_ascii_uppercase());
                    name.extend(chars.map(|c| c.to_ascii_lowercase()));
                }
            }
            name
        }
    }
}

fn other_objects(catalog: &Catalog, opaque: &mut Vec<Element>, notes: &mut Vec<String>) {
    for o in Set::of(catalog, "other_objects").iter() {
        let kind_name = opaque_kind(o.text("source"), o.text("object_type"), o.text("type_desc"));
        let mut parts = Vec::new();
        if let Some(schema) = o.get("schema_name") {
            parts.push(schema.to_string());
        }
        if let Some(parent) = o.get("parent_name") {
            parts.push(parent.to_string());
        }
        parts.push(o.text("object_name").to_string());
        let name = ObjectName::new(parts);
        notes.push(format!(
            "{kind_name} {name} ({}) is not modelled by dac: kept as an opaque object without a definition",
            o.text("type_desc")
        ));
        opaque.push(Element::new(&kind_name).named(name));
    }
}

/// The `SqlDatabaseOptions` element from `sys.databases`, with the property names and the
/// defaults the project builder uses; also whether names are case-sensitive and the LCID.
fn database_options(d: Rec<'_>) -> (Element, bool, Option<String>) {
    let mut el = Element::new(kind::DATABASE_OPTIONS);
    let collation = d.text("collation_name").to_string();
    let case_sensitive = collation.contains("_CS");
    el.set_prop(prop::COLLATION, Value::Text(collation));
    // (column, property, model default)
    for (column, property, default) in [
        ("is_ansi_null_default_on", "IsAnsiNullDefaultOn", false),
        ("is_ansi_nulls_on", "IsAnsiNullsOn", false),
        ("is_ansi_warnings_on", "IsAnsiWarningsOn", false),
        ("is_arithabort_on", "IsArithAbortOn", false),
        (
            "is_concat_null_yields_null_on",
            "IsConcatNullYieldsNullOn",
            false,
        ),
        ("is_numeric_roundabort_on", "IsNumericRoundAbortOn", false),
        ("is_ansi_padding_on", "IsAnsiPaddingOn", true),
        ("is_quoted_identifier_on", "IsQuotedIdentifierOn", true),
    ] {
        let on = d.flag(column);
        if on != default {
            el.set_prop(property, Value::Bool(on));
        }
    }
    if !d.flag("is_local_cursor_default") {
        el.set_prop(prop::IS_CURSOR_DEFAULT_SCOPE_GLOBAL, Value::Bool(true));
    }
    let page_verify = d.int("page_verify_option");
    el.set_prop(
        prop::IS_TORN_PAGE_PROTECTION_ON,
        Value::Bool(page_verify == Some(1)),
    );
    match d.int("recovery_model") {
        Some(3) => el.set_prop(prop::RECOVERY_MODE, Value::Int(1)),
        Some(2) => el.set_prop(prop::RECOVERY_MODE, Value::Int(2)),
        _ => {}
    }
    if d.flag("is_fulltext_enabled") {
        el.set_prop(prop::IS_FULL_TEXT_ENABLED, Value::Bool(true));
    }
    match page_verify {
        Some(0) => el.set_prop(prop::PAGE_VERIFY_MODE, Value::Int(0)),
        Some(1) => el.set_prop(prop::PAGE_VERIFY_MODE, Value::Int(1)),
        _ => {}
    }
    if let Some(level) = d.get("compatibility_level") {
        el.set_prop(prop::COMPATIBILITY_MODE, Value::from_attribute(level));
    }
    for (on, property) in [
        (
            d.int("snapshot_isolation_state") == Some(1),
            "IsAllowSnapshotIsolation",
        ),
        (
            d.flag("is_read_committed_snapshot_on"),
            "IsReadCommittedSnapshot",
        ),
        (d.flag("is_trustworthy_on"), "IsTrustworthyOn"),
        (d.flag("is_db_chaining_on"), "IsDBChainingOn"),
        (
            d.flag("is_auto_update_stats_async_on"),
            "IsAutoUpdateStatisticsAsyncOn",
        ),
        (d.flag("is_auto_close_on"), "IsAutoCloseOn"),
        (d.flag("is_auto_shrink_on"), "IsAutoShrinkOn"),
        (d.flag("is_recursive_triggers_on"), "IsRecursiveTriggersOn"),
        (
            d.flag("is_cursor_close_on_commit_on"),
            "IsCloseCursorOnCommitEnabled",
        ),
        (
            d.flag("is_parameterization_forced"),
            "IsParameterizationForced",
        ),
    ] {
        if on {
            el.set_prop(property, Value::Bool(true));
        }
    }
    for (column, property) in [
        ("is_auto_create_stats_on", "IsAutoCreateStatisticsOn"),
        ("is_auto_update_stats_on", "IsAutoUpdateStatisticsOn"),
    ] {
        if !d.flag(column) {
            el.set_prop(property, Value::Bool(false));
        }
    }
    if d.flag("is_broker_enabled") {
        el.set_prop(prop::SERVICE_BROKER_OPTION, Value::Int(1));
    }
    el.set_prop(prop::DEFAULT_LANGUAGE, Value::Text(String::new()));
    el.set_prop(prop::DEFAULT_FULL_TEXT_LANGUAGE, Value::Text(String::new()));
    let el = el.with_ref(
        "DefaultFilegroup",
        Reference::built_in(ObjectName::new(["PRIMARY"])),
    );
    (
        el,
        case_sensitive,
        d.get("collation_lcid").map(str::to_string),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(columns: &[&str], rows: &[&[Option<&str>]]) -> ResultSet {
        ResultSet {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
                .collect(),
        }
    }

    #[test]
    fn types_leave_implicit_defaults_out() {
        let index: HashMap<String, usize> = ["type_name", "max_length", "precision", "scale"]
            .iter()
            .enumerate()
            .map(|(i, c)| (c.to_string(), i))
            .collect();
        let spell = |t: &str, len: &str, p: &str, s: &str| {
            let row = vec![
                Some(t.to_string()),
                Some(len.to_string()),
                Some(p.to_string()),
                Some(s.to_string()),
            ];
            type_ddl(Rec {
                index: &index,
                row: &row,
            })
        };
        assert_eq!(spell("nvarchar", "100", "0", "0"), "nvarchar(50)");
        assert_eq!(spell("nvarchar", "-1", "0", "0"), "nvarchar(max)");
        assert_eq!(spell("varbinary", "16", "0", "0"), "varbinary(16)");
        assert_eq!(spell("decimal", "9", "18", "0"), "decimal");
        assert_eq!(spell("decimal", "9", "10", "2"), "decimal(10, 2)");
        assert_eq!(spell("datetime2", "8", "27", "7"), "datetime2");
        assert_eq!(spell("datetime2", "6", "23", "3"), "datetime2(3)");
        assert_eq!(spell("float", "8", "53", "0"), "float");
        assert_eq!(spell("float", "4", "24", "0"), "float(24)");
        assert_eq!(spell("int", "4", "10", "0"), "int");
    }

    #[test]
    fn dsp_follows_the_server() {
        assert_eq!(dsp_for(Some(16), Some(3)).short_name(), "Sql160");
        assert_eq!(dsp_for(Some(13), Some(2)).short_name(), "Sql130");
        assert_eq!(dsp_for(Some(12), Some(5)).short_name(), "SqlAzureV12");
        assert_eq!(dsp_for(None, None).short_name(), "Sql160");
    }

    #[test]
    fn unreadable_ddl_becomes_a_reported_opaque_object() {
        let mut catalog = Catalog::default();
        catalog.sets.insert(
            "modules".into(),
            set(
                &[
                    "object_id",
                    "schema_name",
                    "object_name",
                    "object_type",
                    "definition",
                    "uses_ansi_nulls",
                    "uses_quoted_identifier",
                    "trigger_is_disabled",
                ],
                &[&[
                    Some("5"),
                    Some("dbo"),
                    Some("Secret"),
                    Some("P "),
                    None,
                    Some("1"),
                    Some("1"),
                    None,
                ]],
            ),
        );
        let inspection = model_from_catalog(&catalog).unwrap();
        assert!(
            inspection.notes.iter().any(|n| n.contains("Secret")),
            "{:?}",
            inspection.notes
        );
        assert!(
            inspection
                .model
                .elements
                .iter()
                .any(|e| e.kind == kind::PROCEDURE)
        );
    }

    /// Every DDL shape the mapping writes is read back by the project builder (no object falls
    /// back to an opaque one): owners, logins, external users, table-type indexes and checks,
    /// properties on triggers and constraints.
    #[test]
    fn every_generated_shape_builds() {
        let mut catalog = Catalog::default();
        let mut put = |name: &str, columns: &[&str], rows: &[&[Option<&str>]]| {
            catalog.sets.insert(name.into(), set(columns, rows));
        };
        put(
            "schemas",
            &["schema_name", "owner_name"],
            &[&[Some("Ops"), Some("Operators")]],
        );
        put(
            "principals",
            &[
                "row_kind",
                "principal_name",
                "principal_type",
                "default_schema_name",
                "login_name",
                "authentication_type",
                "owner_name",
                "role_name",
                "member_name",
            ],
            &[
                &[
                    Some("principal"),
                    Some("Operators"),
                    Some("R"),
                    None,
                    None,
                    Some("0"),
                    Some("app"),
                    None,
                    None,
                ],
                &[
                    Some("principal"),
                    Some("app"),
                    Some("S"),
                    Some("Ops"),
                    Some("app_login"),
                    Some("1"),
                    None,
                    None,
                    None,
                ],
                &[
                    Some("principal"),
                    Some("CONTOSO\\ops"),
                    Some("G"),
                    Some("dbo"),
                    Some("CONTOSO\\ops"),
                    Some("3"),
                    None,
                    None,
                    None,
                ],
                &[
                    Some("principal"),
                    Some("aad-group"),
                    Some("X"),
                    Some("dbo"),
                    None,
                    Some("4"),
                    None,
                    None,
                    None,
                ],
            ],
        );
        put(
            "tables",
            &[
                "object_id",
                "schema_name",
                "table_name",
                "temporal_type",
                "is_memory_optimized",
            ],
            &[&[Some("10"), Some("Ops"), Some("Jobs"), Some("0"), Some("0")]],
        );
        put(
            "columns",
            &[
                "object_id",
                "column_id",
                "column_name",
                "type_name",
                "max_length",
                "precision",
                "scale",
                "is_nullable",
            ],
            &[
                &[
                    Some("10"),
                    Some("1"),
                    Some("Id"),
                    Some("int"),
                    Some("4"),
                    Some("10"),
                    Some("0"),
                    Some("0"),
                ],
                &[
                    Some("20"),
                    Some("1"),
                    Some("K"),
                    Some("int"),
                    Some("4"),
                    Some("10"),
                    Some("0"),
                    Some("0"),
                ],
                &[
                    Some("20"),
                    Some("2"),
                    Some("V"),
                    Some("nvarchar"),
                    Some("20"),
                    Some("0"),
                    Some("0"),
                    Some("1"),
                ],
            ],
        );
        put(
            "types",
            &[
                "schema_name",
                "type_name",
                "is_table_type",
                "max_length",
                "precision",
                "scale",
                "is_nullable",
                "type_table_object_id",
            ],
            &[&[
                Some("Ops"),
                Some("Pairs"),
                Some("1"),
                Some("-1"),
                Some("0"),
                Some("0"),
                Some("0"),
                Some("20"),
            ]],
        );
        put(
            "indexes",
            &[
                "object_id",
                "index_id",
                "index_name",
                "index_type",
                "is_unique",
                "is_primary_key",
                "is_unique_constraint",
                "has_filter",
                "filter_definition",
                "ignore_dup_key",
                "is_disabled",
                "is_system_named",
            ],
            &[
                &[
                    Some("10"),
                    Some("1"),
                    Some("PK_Jobs"),
                    Some("1"),
                    Some("1"),
                    Some("1"),
                    Some("0"),
                    Some("0"),
                    None,
                    Some("0"),
                    Some("0"),
                    Some("0"),
                ],
                &[
                    Some("20"),
                    Some("2"),
                    Some("IX_V"),
                    Some("2"),
                    Some("0"),
                    Some("0"),
                    Some("0"),
                    Some("0"),
                    None,
                    Some("0"),
                    Some("0"),
                    None,
                ],
            ],
        );
        put(
            "index_columns",
            &[
                "object_id",
                "index_id",
                "column_name",
                "key_ordinal",
                "is_descending_key",
                "is_included_column",
            ],
            &[
                &[
                    Some("10"),
                    Some("1"),
                    Some("Id"),
                    Some("1"),
                    Some("0"),
                    Some("0"),
                ],
                &[
                    Some("20"),
                    Some("2"),
                    Some("V"),
                    Some("1"),
                    Some("0"),
                    Some("0"),
                ],
            ],
        );
        put(
            "check_constraints",
            &[
                "object_id",
                "constraint_name",
                "definition",
                "is_system_named",
                "is_disabled",
                "is_not_trusted",
                "is_not_for_replication",
            ],
            &[&[
                Some("20"),
                Some("CK__TT_Pairs__K"),
                Some("([K]>(0))"),
                Some("1"),
                Some("0"),
                Some("0"),
                Some("0"),
            ]],
        );
        put(
            "modules",
            &[
                "object_id",
                "schema_name",
                "object_name",
                "object_type",
                "definition",
                "uses_ansi_nulls",
                "uses_quoted_identifier",
                "trigger_is_disabled",
            ],
            &[&[
                Some("30"),
                Some("Ops"),
                Some("Jobs_Touch"),
                Some("TR"),
                Some(
                    "CREATE TRIGGER [Ops].[Jobs_Touch] ON [Ops].[Jobs] AFTER UPDATE AS SET NOCOUNT ON;",
                ),
                Some("1"),
                Some("1"),
                Some("0"),
            ]],
        );
        put(
            "extended_properties",
            &[
                "class",
                "property_name",
                "property_value",
                "schema_name",
                "object_name",
                "object_type",
                "parent_name",
                "column_name",
            ],
            &[
                &[
                    Some("1"),
                    Some("Note"),
                    Some("touches"),
                    Some("Ops"),
                    Some("Jobs_Touch"),
                    Some("TR"),
                    Some("Jobs"),
                    None,
                ],
                &[
                    Some("1"),
                    Some("Note"),
                    Some("the key"),
                    Some("Ops"),
                    Some("PK_Jobs"),
                    Some("PK"),
                    Some("Jobs"),
                    None,
                ],
                &[
                    Some("0"),
                    Some("Team"),
                    Some("ops"),
                    None,
                    None,
                    None,
                    None,
                    None,
                ],
            ],
        );
        let inspection = model_from_catalog(&catalog).unwrap();
        assert!(
            inspection.notes.is_empty(),
            "{:?}\n{}",
            inspection.notes,
            inspection.ddl
        );
        let counts = inspection.model.counts_by_kind();
        assert_eq!(counts.get(kind::USER), Some(&3), "{counts:?}");
        assert_eq!(counts.get(kind::ROLE), Some(&1), "{counts:?}");
        assert_eq!(counts.get(kind::TABLE_TYPE), Some(&1), "{counts:?}");
        assert_eq!(counts.get(kind::EXTENDED_PROPERTY), Some(&3), "{counts:?}");
        assert_eq!(counts.get(kind::DML_TRIGGER), Some(&1), "{counts:?}");
    }

    #[test]
    fn names_with_brackets_are_escaped() {
        let mut catalog = Catalog::default();
        catalog.sets.insert(
            "tables".into(),
            set(
                &[
                    "object_id",
                    "schema_name",
                    "table_name",
                    "temporal_type",
                    "is_memory_optimized",
                ],
                &[&[
                    Some("7"),
                    Some("dbo"),
                    Some("odd]name"),
                    Some("0"),
                    Some("0"),
                ]],
            ),
        );
        catalog.sets.insert(
            "columns".into(),
            set(
                &[
                    "object_id",
                    "column_id",
                    "column_name",
                    "type_name",
                    "max_length",
                    "precision",
                    "scale",
                    "is_nullable",
                ],
                &[&[
                    Some("7"),
                    Some("1"),
                    Some("a]b"),
                    Some("int"),
                    Some("4"),
                    Some("10"),
                    Some("0"),
                    Some("0"),
                ]],
            ),
        );
        let inspection = model_from_catalog(&catalog).unwrap();
        assert!(inspection.ddl.contains("[odd]]name]"), "{}", inspection.ddl);
        let table = inspection
            .model
            .elements
            .iter()
            .find(|e| e.kind == kind::TABLE)
            .expect("the table");
        assert_eq!(table.name.as_ref().unwrap().leaf(), "odd]name");
    }
}
