//! CREATE TABLE, table types' bodies, constraints, CREATE INDEX and ALTER TABLE.

use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::{
    TsqlBuilder, data_type, filegroup_ref, inline_annotation, qualify, schema_ref, script,
};
use crate::error::Result;
use crate::model::kind;
use crate::model::kind::prop;
use crate::model::{Annotation, Element, ObjectName, Reference};

/// Keywords that end a column's DEFAULT or computed expression.
const COLUMN_OPTION_WORDS: &[&str] = &[
    "NOT",
    "NULL",
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "FOREIGN",
    "CHECK",
    "DEFAULT",
    "IDENTITY",
    "COLLATE",
    "ROWGUIDCOL",
    "SPARSE",
    "PERSISTED",
    "WITH",
    "INDEX",
    "GENERATED",
    "HIDDEN",
    "MASKED",
    "FILESTREAM",
    "ENCRYPTED",
];

fn stop_at_column_option(c: &Cursor) -> bool {
    COLUMN_OPTION_WORDS.iter().any(|k| c.is_kw(k))
}

/// Where constraints of a table body go: a table (top-level elements) or a table type
/// (nested in the type's `Constraints`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Table,
    TableType,
}

/// A constraint parsed in a table body, with the column it was declared on.
struct Parsed {
    element: Element,
    named: bool,
    column: Option<usize>,
}

impl TsqlBuilder {
    pub(super) fn create_table(&mut self, c: &mut Cursor) -> Result<()> {
        let name_at = c.pos;
        let parts = c.object_name()?;
        if parts.last().is_some_and(|p| p.starts_with('#')) {
            return Err(c.error_at(name_at, "temporary tables cannot be part of a model"));
        }
        let name = qualify(parts);
        if c.is_kw("AS") && (c.is_kw_at(1, "NODE") || c.is_kw_at(1, "EDGE")) {
            return Err(c.error("graph tables (AS NODE / AS EDGE) are not supported yet"));
        }
        let mut table = Element::new(kind::TABLE).named(name.clone());
        self.anchor(c, name_at, kind::TABLE, &name);
        let (columns, constraints) = self.table_body(c, &name, Owner::Table)?;
        let mut props_front: Vec<(&str, crate::model::Value)> = Vec::new();
        // Storage and options after the body, in any order.
        loop {
            if c.eat_kw("ON") {
                let fg = c.ident()?;
                if c.is(&Token::LParen) {
                    c.pos += 1;
                    let column = c.ident()?;
                    c.expect(&Token::RParen, "`)`")?;
                    table.push_ref("PartitionScheme", Reference::to(ObjectName::new([fg])));
                    table.push_ref("PartitionColumn", Reference::to(name.child(column)));
                } else if !fg.eq_ignore_ascii_case("default") {
                    table.push_ref("Filegroup", filegroup_ref(&fg));
                }
            } else if c.eat_kw("TEXTIMAGE_ON") {
                let fg = c.ident()?;
                table.push_ref("FilegroupForTextImage", filegroup_ref(&fg));
            } else if c.eat_kw("FILESTREAM_ON") {
                let fg = c.ident()?;
                table.push_ref("FileStreamFilegroup", filegroup_ref(&fg));
            } else if c.eat_kw("WITH") {
                c.expect(&Token::LParen, "`(` after WITH")?;
                loop {
                    let option_at = c.pos;
                    let option = c.ident()?.to_ascii_uppercase();
                    c.expect(&Token::Eq, "`=`")?;
                    match option.as_str() {
                        "LEDGER" => {
                            if !c.eat_kw("OFF") {
                                // Dropping it would deploy an ordinary, updatable table.
                                return Err(c.error_at(
                                    option_at,
                                    "ledger tables (LEDGER = ON) are not supported yet: the table would be created without its ledger",
                                ));
                            }
                        }
                        "SYSTEM_VERSIONING" => {
                            let on = c.eat_kw("ON");
                            if !on {
                                c.expect_kw("OFF")?;
                            }
                            if c.eat(&Token::LParen) {
                                loop {
                                    let sub = c.ident()?.to_ascii_uppercase();
                                    c.expect(&Token::Eq, "`=`")?;
                                    if sub == "HISTORY_TABLE" {
                                        let history_at = c.pos;
                                        let history = c.object_name()?;
                                        if history.len() > 2 {
                                            return Err(c.error_at(
                                                history_at,
                                                "a temporal table's history table is in the same database: name it with at most two parts",
                                            ));
                                        }
                                        let history = qualify(history);
                                        table.push_ref(
                                            "TemporalSystemVersioningHistoryTable",
                                            Reference::to(history),
                                        );
                                    } else {
                                        c.expression(&|_| false)?;
                                    }
                                    if !c.eat(&Token::Comma) {
                                        break;
                                    }
                                }
                                c.expect(&Token::RParen, "`)`")?;
                            }
                            if on {
                                props_front.push(("RetentionUnit", crate::model::Value::Int(-1)));
                            }
                        }
                        "MEMORY_OPTIMIZED" => {
                            if c.eat_kw("ON") {
                                table.set_prop(
                                    prop::IS_MEMORY_OPTIMIZED,
                                    crate::model::Value::Bool(true),
                                );
                            } else {
                                c.expect_kw("OFF")?;
                            }
                        }
                        "DURABILITY" => {
                            if c.eat_kw("SCHEMA_ONLY") {
                                table.set_prop(prop::DURABILITY, crate::model::Value::Int(1));
                            } else {
                                c.expect_kw("SCHEMA_AND_DATA")?;
                            }
                        }
                        "DATA_COMPRESSION" => {
                            let value = c.ident()?.to_ascii_uppercase();
                            let code = match value.as_str() {
                                "NONE" => 0,
                                "ROW" => 1,
                                "PAGE" => 2,
                                "COLUMNSTORE" => 3,
                                "COLUMNSTORE_ARCHIVE" => 4,
                                _ => {
                                    return Err(c.error_at(c.pos - 1, "expected NONE, ROW or PAGE"));
                                }
                            };
                            let option = Element::new("SqlDataCompressionOption")
                                .with_int(prop::COMPRESSION_LEVEL, code)
                                .with_int(prop::PARTITION_NUMBER, 1);
                            table.push_child("DataCompressionOptions", option);
                        }
                        _ => {
                            c.expression(&|_| false)?;
                        }
                    }
                    if !c.eat(&Token::Comma) {
                        break;
                    }
                }
                c.expect(&Token::RParen, "`)`")?;
            } else {
                break;
            }
        }
        for (prop, value) in props_front {
            table.set_prop(prop, value);
        }
        table.set_prop(prop::IS_ANSI_NULLS_ON, crate::model::Value::Bool(true));
        // Move IsAnsiNullsOn after RetentionUnit but before memory options, as DacFx does.
        let mut cols_el = Vec::new();
        for (mut col, _) in columns {
            col.annotations
                .sort_by_key(|a| matches!(a, Annotation::Attached { .. }));
            cols_el.push(col);
        }
        for col in cols_el {
            table.push_child(kind::rel::COLUMNS, col);
        }
        table.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        self.attach_constraints(&mut table, constraints, Owner::Table);
        self.push(table);
        Ok(())
    }

    /// Adds the constraints of a table body: top-level elements for tables, nested ones for
    /// table types, with inline-constraint annotations as DacFx writes them.
    fn attach_constraints(&mut self, owner: &mut Element, constraints: Vec<Parsed>, kind: Owner) {
        for parsed in constraints {
            let mut element = parsed.element;
            let d = self.disambiguator();
            let target: &mut Element = match parsed.column {
                Some(idx) => owner
                    .relationship_mut(kind::rel::COLUMNS)
                    .entries
                    .get_mut(idx)
                    .and_then(|e| match e {
                        crate::model::Entry::Element(el) => Some(el),
                        _ => None,
                    })
                    .expect("column index is valid"),
                None => owner,
            };
            if parsed.named {
                target.annotations.push(inline_annotation(
                    "SqlInlineConstraintAnnotation",
                    d.clone(),
                ));
                element
                    .annotations
                    .push(Annotation::Attached { disambiguator: d });
            } else {
                element.annotations.push(inline_annotation(
                    "SqlInlineConstraintAnnotation",
                    d.clone(),
                ));
                target
                    .annotations
                    .push(Annotation::Attached { disambiguator: d });
            }
            match kind {
                Owner::Table => self.push(element),
                Owner::TableType => owner.push_child("Constraints", element),
            }
        }
    }

    /// `( column | constraint | index | period , ... )` of a table or table type.
    #[allow(clippy::type_complexity)]
    fn table_body(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        owner: Owner,
    ) -> Result<(Vec<(Element, ())>, Vec<Parsed>)> {
        c.expect(&Token::LParen, "`(` and the column list")?;
        let mut columns: Vec<(Element, ())> = Vec::new();
        let mut constraints = Vec::new();
        let starts_table_constraint = |c: &Cursor| {
            c.is_kw("CONSTRAINT")
                || c.is_kw("PRIMARY")
                || c.is_kw("UNIQUE")
                || c.is_kw("FOREIGN")
                || c.is_kw("CHECK")
        };
        loop {
            if c.is(&Token::RParen) {
                break; // trailing comma, as SSDT tolerates
            }
            let at = c.pos;
            if starts_table_constraint(c) {
                let p = self.table_constraint(c, table, owner, None)?;
                if let Some(name) = &p.element.name {
                    self.anchor(c, at, &p.element.kind, name);
                }
                constraints.push(p);
                // SQL Server (and DacFx) take table constraints one after another without a
                // comma between them.
                if starts_table_constraint(c) {
                    continue;
                }
            } else if c.eat_kws(&["PERIOD", "FOR", "SYSTEM_TIME"]) {
                c.skip_group()?;
            } else if c.is_kw("INDEX") {
                let index = self.inline_index(c, table, owner)?;
                if let Some(name) = &index.name {
                    self.anchor(c, at, &index.kind, name);
                }
                match owner {
                    Owner::Table => self.push(index),
                    Owner::TableType => constraints.push(Parsed {
                        element: index,
                        named: true,
                        column: None,
                    }),
                }
            } else {
                let (column, mut cons) = self.column(c, table, owner, columns.len())?;
                if let Some(name) = &column.name {
                    self.anchor(c, at, &column.kind, name);
                }
                columns.push((column, ()));
                constraints.append(&mut cons);
            }
            if !c.eat(&Token::Comma) {
                break;
            }
        }
        c.expect(&Token::RParen, "`,` or `)` in the column list")?;
        Ok((columns, constraints))
    }

    fn column(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        owner: Owner,
        index: usize,
    ) -> Result<(Element, Vec<Parsed>)> {
        let col_name = c.ident()?;
        let name = table.child(&col_name);
        let mut constraints = Vec::new();
        let (simple, computed) = match owner {
            Owner::Table => (kind::SIMPLE_COLUMN, kind::COMPUTED_COLUMN),
            Owner::TableType => (kind::TABLE_TYPE_COLUMN, kind::TABLE_TYPE_COMPUTED_COLUMN),
        };
        let mut col;
        let mut type_spec = None;
        if c.eat_kw("AS") {
            let (a, b) = c.expression(&stop_at_column_option)?;
            col = Element::new(computed)
                .named(name.clone())
                .with(prop::EXPRESSION_SCRIPT, script(c.text(a, b)));
        } else {
            col = Element::new(simple).named(name.clone());
            type_spec = Some(data_type(c)?);
        }
        let mut collation = None;
        let mut not_null = false;
        // Whether NULL or NOT NULL was written (or implied by a primary key): else an alias
        // type's nullability decides.
        let mut nullability_written = false;
        let mut identity: Option<(String, String)> = None;
        let mut identity_nfr = false;
        let mut rowguid = false;
        let mut sparse = false;
        let mut filestream = false;
        let mut persisted = false;
        let mut generated = None;
        let mut hidden = false;
        let mut masking = None;
        loop {
            let constraint_name = if c.eat_kw("CONSTRAINT") {
                Some(c.ident()?)
            } else {
                None
            };
            if c.is_kw("DEFAULT") {
                c.pos += 1;
                let (a, b) = c.expression(&stop_at_column_option)?;
                let text = c.text(a, b);
                let mut el = Element::new(match owner {
                    Owner::Table => kind::DEFAULT,
                    Owner::TableType => kind::TABLE_TYPE_DEFAULT,
                })
                .with(prop::DEFAULT_EXPRESSION_SCRIPT, script(text));
                el = named(el, table, constraint_name.as_deref());
                if owner == Owner::Table {
                    el.push_ref(kind::rel::DEFINING_TABLE, Reference::to(table.clone()));
                    for seq in next_value_for(c, a, b) {
                        el.push_ref("ExpressionDependencies", Reference::to(seq));
                    }
                }
                el.push_ref(kind::rel::FOR_COLUMN, Reference::to(name.clone()));
                c.eat_kws(&["WITH", "VALUES"]);
                constraints.push(Parsed {
                    element: el,
                    named: constraint_name.is_some(),
                    column: Some(index),
                });
                continue;
            }
            if c.is_kw("PRIMARY")
                || c.is_kw("UNIQUE")
                || c.is_kw("REFERENCES")
                || c.is_kw("FOREIGN")
                || c.is_kw("CHECK")
            {
                let mut p =
                    self.column_constraint(c, table, owner, &col_name, constraint_name.as_deref())?;
                if p.element.kind == kind::PRIMARY_KEY
                    || p.element.kind == kind::TABLE_TYPE_PRIMARY_KEY
                {
                    not_null = true;
                    nullability_written = true;
                }
                p.column = Some(index);
                constraints.push(p);
                continue;
            }
            // `CONSTRAINT name [NOT] NULL`: SQL Server accepts a name on nullability and keeps
            // none (DacFx neither).
            if constraint_name.is_some() && !(c.is_kws(&["NOT", "NULL"]) || c.is_kw("NULL")) {
                return Err(c.expected(
                    "DEFAULT, PRIMARY KEY, UNIQUE, FOREIGN KEY, CHECK, NULL or NOT NULL after the constraint name",
                ));
            }
            if c.eat_kws(&["NOT", "NULL"]) {
                not_null = true;
                nullability_written = true;
            } else if c.eat_kw("NULL") {
                not_null = false;
                nullability_written = true;
            } else if c.is_kw("NOT") && !c.is_kws(&["NOT", "FOR"]) {
                c.pos += 1;
                return Err(c.expected("NULL or FOR REPLICATION after NOT"));
            } else if c.eat_kw("COLLATE") {
                collation = Some(c.ident()?);
            } else if c.eat_kw("IDENTITY") {
                let mut seed_inc = ("1".to_string(), "1".to_string());
                if c.eat(&Token::LParen) {
                    seed_inc.0 = c.number()?;
                    c.expect(&Token::Comma, "`,`")?;
                    seed_inc.1 = c.number()?;
                    c.expect(&Token::RParen, "`)`")?;
                }
                identity = Some(seed_inc);
            } else if c.eat_kws(&["NOT", "FOR", "REPLICATION"]) {
                identity_nfr = true;
            } else if c.eat_kw("ROWGUIDCOL") {
                rowguid = true;
            } else if c.eat_kw("SPARSE") {
                sparse = true;
            } else if c.eat_kw("FILESTREAM") {
                filestream = true;
            } else if c.eat_kw("PERSISTED") {
                persisted = true;
            } else if c.eat_kws(&["GENERATED", "ALWAYS", "AS", "ROW"]) {
                if c.eat_kw("START") {
                    generated = Some(1);
                } else {
                    c.expect_kw("END")?;
                    generated = Some(2);
                }
            } else if c.eat_kws(&["GENERATED", "ALWAYS", "AS"]) {
                // TRANSACTION_ID / SEQUENCE_NUMBER START|END (ledger tables).
                let what = c.ident()?.to_ascii_uppercase();
                let end = c.eat_kw("END");
                if !end {
                    c.expect_kw("START")?;
                }
                generated = Some(match (what.as_str(), end) {
                    ("TRANSACTION_ID", false) => 7,
                    ("TRANSACTION_ID", true) => 8,
                    ("SEQUENCE_NUMBER", false) => 9,
                    _ => 10,
                });
            } else if c.eat_kw("HIDDEN") {
                hidden = true;
            } else if c.eat_kws(&["MASKED", "WITH"]) {
                c.expect(&Token::LParen, "`(`")?;
                c.expect_kw("FUNCTION")?;
                c.expect(&Token::Eq, "`=`")?;
                masking = Some(
                    c.string()
                        .ok_or_else(|| c.expected("a masking function string"))?,
                );
                c.expect(&Token::RParen, "`)`")?;
            } else if c.is_kw("ENCRYPTED") && c.is_kw_at(1, "WITH") {
                // Dropping it would deploy the column in plaintext.
                return Err(c.error(
                    "Always Encrypted columns (ENCRYPTED WITH) are not supported yet: the column would be created unencrypted",
                ));
            } else if c.is_kw("INDEX") {
                let index = self.column_index(c, table, &col_name)?;
                self.push(index);
            } else {
                break;
            }
        }
        if let Some(collation) = collation {
            col.set_prop(prop::COLLATION, crate::model::Value::Text(collation));
        }
        if type_spec.is_none() {
            if persisted {
                col.set_prop(prop::IS_PERSISTED, crate::model::Value::Bool(true));
                if not_null {
                    col.set_prop(
                        prop::IS_PERSISTED_NULLABLE,
                        crate::model::Value::Bool(false),
                    );
                }
            }
        } else if not_null && owner == Owner::Table {
            col.set_prop(prop::IS_NULLABLE, crate::model::Value::Bool(false));
        } else if !not_null && owner == Owner::TableType {
            col.set_prop(prop::IS_NULLABLE, crate::model::Value::Bool(true));
        }
        if let Some((seed, inc)) = identity {
            col.set_prop(prop::IS_IDENTITY, crate::model::Value::Bool(true));
            if seed != "1" {
                col.set_prop(
                    prop::IDENTITY_SEED,
                    crate::model::Value::from_attribute(&seed),
                );
            }
            if inc != "1" {
                col.set_prop(
                    prop::IDENTITY_INCREMENT,
                    crate::model::Value::from_attribute(&inc),
                );
            }
            if identity_nfr {
                col.set_prop(
                    prop::IDENTITY_IS_NOT_FOR_REPLICATION,
                    crate::model::Value::Bool(true),
                );
            }
        }
        if rowguid {
            col.set_prop(prop::IS_ROW_GUID_COLUMN, crate::model::Value::Bool(true));
        }
        if sparse {
            col.set_prop(prop::IS_SPARSE, crate::model::Value::Bool(true));
        }
        if filestream {
            col.set_prop(prop::IS_FILE_STREAM, crate::model::Value::Bool(true));
        }
        if let Some(g) = generated {
            col.set_prop(prop::GENERATED_ALWAYS_TYPE, crate::model::Value::Int(g));
        }
        if hidden {
            col.set_prop(prop::IS_HIDDEN, crate::model::Value::Bool(true));
        }
        if let Some(m) = masking {
            col.set_prop(prop::MASKING_FUNCTION, crate::model::Value::Text(m));
        }
        if let Some(spec) = type_spec {
            let alias_type = spec.references(kind::rel::TYPE).any(|r| !r.is_built_in());
            if alias_type && !nullability_written {
                self.nullability_from_type.push(name.clone());
            }
            col.push_child(kind::rel::TYPE_SPECIFIER, spec);
        }
        Ok((col, constraints))
    }

    /// PRIMARY KEY / UNIQUE / REFERENCES / CHECK declared on a column.
    fn column_constraint(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        owner: Owner,
        column: &str,
        name: Option<&str>,
    ) -> Result<Parsed> {
        if c.is_kw("PRIMARY") || c.is_kw("UNIQUE") {
            return self.key_constraint(c, table, owner, name, Some(column));
        }
        if c.eat_kw("FOREIGN") {
            c.expect_kw("KEY")?;
        }
        if c.is_kw("REFERENCES") {
            let el = self.references(c, table, name, vec![column.to_string()])?;
            return Ok(Parsed {
                element: el,
                named: name.is_some(),
                column: None,
            });
        }
        self.check_constraint(c, table, owner, name)
    }

    /// A table-level constraint (`CONSTRAINT name` optional).
    fn table_constraint(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        owner: Owner,
        _column: Option<usize>,
    ) -> Result<Parsed> {
        let name = if c.eat_kw("CONSTRAINT") {
            Some(c.ident()?)
        } else {
            None
        };
        let name = name.as_deref();
        if c.is_kw("PRIMARY") || c.is_kw("UNIQUE") {
            return self.key_constraint(c, table, owner, name, None);
        }
        if c.eat_kws(&["FOREIGN", "KEY"]) {
            let columns = ident_list(c)?;
            let el = self.references(c, table, name, columns)?;
            return Ok(Parsed {
                element: el,
                named: name.is_some(),
                column: None,
            });
        }
        if c.is_kw("CHECK") {
            return self.check_constraint(c, table, owner, name);
        }
        if c.eat_kw("DEFAULT") {
            // ALTER TABLE ... ADD CONSTRAINT x DEFAULT expr FOR column
            let (a, b) = c.expression(&|c| c.is_kw("FOR"))?;
            let text = c.text(a, b);
            c.expect_kw("FOR")?;
            let column = c.ident()?;
            let mut el = named(
                Element::new(kind::DEFAULT).with(prop::DEFAULT_EXPRESSION_SCRIPT, script(text)),
                table,
                name,
            );
            el.push_ref(kind::rel::DEFINING_TABLE, Reference::to(table.clone()));
            for seq in next_value_for(c, a, b) {
                el.push_ref("ExpressionDependencies", Reference::to(seq));
            }
            el.push_ref(kind::rel::FOR_COLUMN, Reference::to(table.child(column)));
            c.eat_kws(&["WITH", "VALUES"]);
            return Ok(Parsed {
                element: el,
                named: name.is_some(),
                column: None,
            });
        }
        Err(c.expected("PRIMARY KEY, UNIQUE, FOREIGN KEY, CHECK or DEFAULT"))
    }

    fn key_constraint(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        owner: Owner,
        name: Option<&str>,
        column: Option<&str>,
    ) -> Result<Parsed> {
        let primary = if c.eat_kws(&["PRIMARY", "KEY"]) {
            true
        } else {
            c.expect_kw("UNIQUE")?;
            false
        };
        let kind_name = match (owner, primary) {
            (Owner::Table, true) => kind::PRIMARY_KEY,
            (Owner::Table, false) => kind::UNIQUE,
            (Owner::TableType, true) => kind::TABLE_TYPE_PRIMARY_KEY,
            (Owner::TableType, false) => kind::TABLE_TYPE_UNIQUE,
        };
        let mut clustered = None;
        if c.eat_kw("CLUSTERED") {
            clustered = Some(true);
        } else if c.eat_kw("NONCLUSTERED") {
            clustered = Some(false);
        }
        let hash = c.eat_kw("HASH");
        let mut el = named(Element::new(kind_name), table, name);
        let default_clustered = primary;
        let is_clustered = clustered.unwrap_or(default_clustered);
        match owner {
            Owner::Table => {
                if is_clustered != default_clustered {
                    el.set_prop(prop::IS_CLUSTERED, crate::model::Value::Bool(is_clustered));
                }
            }
            Owner::TableType => {
                if clustered.is_some() || !default_clustered {
                    el.set_prop(prop::IS_CLUSTERED, crate::model::Value::Bool(is_clustered));
                }
            }
        }
        let spec_kind = match owner {
            Owner::Table => kind::INDEXED_COLUMN,
            Owner::TableType => "SqlTableTypeIndexedColumnSpecification",
        };
        let specs = if c.is(&Token::LParen) {
            indexed_columns(c, table, spec_kind)?
        } else {
            let column = column.ok_or_else(|| c.expected("`(` and the key columns"))?;
            vec![column_spec(spec_kind, table.child(column), true)]
        };
        for spec in specs {
            el.push_child(kind::rel::COLUMN_SPECIFICATIONS, spec);
        }
        if hash {
            el.set_prop(prop::IS_HASH, crate::model::Value::Bool(true));
        }
        self.index_options(c, &mut el)?;
        if owner == Owner::Table {
            el.push_ref(kind::rel::DEFINING_TABLE, Reference::to(table.clone()));
        }
        Ok(Parsed {
            element: el,
            named: name.is_some(),
            column: None,
        })
    }

    /// `WITH (...)` and `ON fg` after a key or index.
    fn index_options(&mut self, c: &mut Cursor, el: &mut Element) -> Result<()> {
        loop {
            if c.is_kw("WITH") && c.peek_at(1) == Some(&Token::LParen) {
                c.pos += 2;
                loop {
                    let option = c.ident()?.to_ascii_uppercase();
                    let value = if c.eat(&Token::Eq) {
                        let (a, b) = c.expression(&|_| false)?;
                        c.text(a, b).to_string()
                    } else {
                        String::new()
                    };
                    let on = value.eq_ignore_ascii_case("ON");
                    match option.as_str() {
                        "FILLFACTOR" => el.set_prop(
                            prop::FILL_FACTOR,
                            crate::model::Value::from_attribute(&value),
                        ),
                        "PAD_INDEX" if on => {
                            el.set_prop(prop::DO_PAD_INDEX, crate::model::Value::Bool(true))
                        }
                        "IGNORE_DUP_KEY" if on => el.set_prop(
                            prop::DO_IGNORE_DUPLICATE_KEY,
                            crate::model::Value::Bool(true),
                        ),
                        "STATISTICS_NORECOMPUTE" if on => el.set_prop(
                            prop::IS_STATISTICS_NO_RECOMPUTE,
                            crate::model::Value::Bool(true),
                        ),
                        "ALLOW_ROW_LOCKS" if !on => {
                            el.set_prop(prop::DISALLOW_ROW_LOCKS, crate::model::Value::Bool(true))
                        }
                        "ALLOW_PAGE_LOCKS" if !on => {
                            el.set_prop(prop::DISALLOW_PAGE_LOCKS, crate::model::Value::Bool(true))
                        }
                        "STATISTICS_INCREMENTAL" if on => {
                            el.set_prop(prop::IS_INCREMENTAL, crate::model::Value::Bool(true))
                        }
                        "DATA_COMPRESSION" => {
                            let code = match value.to_ascii_uppercase().as_str() {
                                "ROW" => 1,
                                "PAGE" => 2,
                                "COLUMNSTORE" => 3,
                                "COLUMNSTORE_ARCHIVE" => 4,
                                _ => 0,
                            };
                            if code != 0 {
                                el.push_child(
                                    "DataCompressionOptions",
                                    Element::new("SqlDataCompressionOption")
                                        .with_int(prop::COMPRESSION_LEVEL, code)
                                        .with_int(prop::PARTITION_NUMBER, 1),
                                );
                            }
                        }
                        "BUCKET_COUNT" => el.set_prop(
                            prop::BUCKET_COUNT,
                            crate::model::Value::from_attribute(&value),
                        ),
                        // Build-time only options (SORT_IN_TEMPDB, ONLINE, DROP_EXISTING,
                        // MAXDOP, RESUMABLE...) are not part of the model.
                        _ => {}
                    }
                    if !c.eat(&Token::Comma) {
                        break;
                    }
                }
                c.expect(&Token::RParen, "`)` after the index options")?;
            } else if c.is_kw("ON") && !c.is_kw_at(1, "DELETE") && !c.is_kw_at(1, "UPDATE") {
                c.pos += 1;
                let fg = c.ident()?;
                if c.is(&Token::LParen) {
                    c.pos += 1;
                    let column = c.ident()?;
                    c.expect(&Token::RParen, "`)`")?;
                    el.push_ref("PartitionScheme", Reference::to(ObjectName::new([fg])));
                    if let Some(table) = el
                        .reference_name(kind::rel::DEFINING_TABLE)
                        .or_else(|| el.reference_name(kind::rel::INDEXED_OBJECT))
                        .cloned()
                    {
                        el.push_ref("PartitionColumn", Reference::to(table.child(column)));
                    }
                } else if !fg.eq_ignore_ascii_case("default") {
                    el.push_ref("Filegroup", filegroup_ref(&fg));
                }
            } else if c.eat_kw("FILESTREAM_ON") {
                let fg = c.ident()?;
                el.push_ref("FileStreamFilegroup", filegroup_ref(&fg));
            } else {
                return Ok(());
            }
        }
    }

    fn references(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        name: Option<&str>,
        columns: Vec<String>,
    ) -> Result<Element> {
        c.expect_kw("REFERENCES")?;
        let foreign_at = c.pos;
        let foreign = c.object_name()?;
        if foreign.len() > 2 {
            return Err(c.error_at(
                foreign_at,
                "a foreign key references a table of this database: SQL Server has no cross-database foreign keys",
            ));
        }
        let foreign = qualify(foreign);
        let foreign_columns = if c.is(&Token::LParen) {
            ident_list(c)?
        } else {
            Vec::new()
        };
        let mut el = named(Element::new(kind::FOREIGN_KEY), table, name);
        loop {
            if c.eat_kws(&["ON", "DELETE"]) {
                let action = referential_action(c)?;
                if action != 0 {
                    el.set_prop(prop::ON_DELETE_ACTION, crate::model::Value::Int(action));
                }
            } else if c.eat_kws(&["ON", "UPDATE"]) {
                let action = referential_action(c)?;
                if action != 0 {
                    el.set_prop(prop::ON_UPDATE_ACTION, crate::model::Value::Int(action));
                }
            } else if c.eat_kws(&["NOT", "FOR", "REPLICATION"]) {
                el.set_prop(
                    prop::IS_NOT_FOR_REPLICATION,
                    crate::model::Value::Bool(true),
                );
            } else {
                break;
            }
        }
        for col in columns {
            el.push_ref(kind::rel::COLUMNS, Reference::to(table.child(col)));
        }
        el.push_ref(kind::rel::DEFINING_TABLE, Reference::to(table.clone()));
        for col in foreign_columns {
            el.push_ref(
                kind::rel::FOREIGN_COLUMNS,
                Reference::to(foreign.child(col)),
            );
        }
        el.push_ref(kind::rel::FOREIGN_TABLE, Reference::to(foreign));
        Ok(el)
    }

    fn check_constraint(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        owner: Owner,
        name: Option<&str>,
    ) -> Result<Parsed> {
        c.expect_kw("CHECK")?;
        let nfr = c.eat_kws(&["NOT", "FOR", "REPLICATION"]);
        if !c.is(&Token::LParen) {
            return Err(c.expected("`(` and the check expression"));
        }
        let text = c.skip_group()?;
        let mut el = named(
            Element::new(match owner {
                Owner::Table => kind::CHECK,
                Owner::TableType => kind::TABLE_TYPE_CHECK,
            })
            .with(prop::CHECK_EXPRESSION_SCRIPT, script(text)),
            table,
            name,
        );
        if nfr {
            el.set_prop(
                prop::IS_NOT_FOR_REPLICATION,
                crate::model::Value::Bool(true),
            );
        }
        if owner == Owner::Table {
            el.push_ref(kind::rel::DEFINING_TABLE, Reference::to(table.clone()));
        }
        Ok(Parsed {
            element: el,
            named: name.is_some(),
            column: None,
        })
    }

    /// `INDEX name [UNIQUE] [CLUSTERED|NONCLUSTERED] [HASH] (cols) ...` in a table body.
    fn inline_index(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        owner: Owner,
    ) -> Result<Element> {
        c.expect_kw("INDEX")?;
        let name = c.ident()?;
        let unique = c.eat_kw("UNIQUE");
        let clustered = if c.eat_kw("CLUSTERED") {
            true
        } else {
            c.eat_kw("NONCLUSTERED");
            false
        };
        let hash = c.eat_kw("HASH");
        let columnstore = c.eat_kw("COLUMNSTORE");
        let kind_name = match (owner, columnstore) {
            (Owner::TableType, _) => kind::TABLE_TYPE_INDEX,
            (_, true) => "SqlColumnStoreIndex",
            _ => kind::INDEX,
        };
        let mut el = Element::new(kind_name).named(table.child(name));
        if unique {
            el.set_prop(prop::IS_UNIQUE, crate::model::Value::Bool(true));
        }
        if clustered {
            el.set_prop(prop::IS_CLUSTERED, crate::model::Value::Bool(true));
        }
        if hash {
            el.set_prop(prop::IS_HASH, crate::model::Value::Bool(true));
        }
        if c.is(&Token::LParen) {
            let spec_kind = if owner == Owner::TableType {
                "SqlTableTypeIndexedColumnSpecification"
            } else {
                kind::INDEXED_COLUMN
            };
            for spec in indexed_columns(c, table, spec_kind)? {
                el.push_child(kind::rel::COLUMN_SPECIFICATIONS, spec);
            }
        }
        if c.eat_kw("INCLUDE") {
            for col in ident_list(c)? {
                el.push_ref(kind::rel::INCLUDED_COLUMNS, Reference::to(table.child(col)));
            }
        }
        if c.eat_kw("WHERE") {
            let (a, b) = c.expression(&|c| c.is_kw("WITH") || c.is_kw("ON"))?;
            el.set_prop(prop::FILTER_PREDICATE, script(c.text(a, b)));
        }
        if owner == Owner::Table {
            el.push_ref(kind::rel::INDEXED_OBJECT, Reference::to(table.clone()));
        }
        self.index_options(c, &mut el)?;
        Ok(el)
    }

    /// `col type INDEX name [CLUSTERED|NONCLUSTERED]` on a column.
    fn column_index(
        &mut self,
        c: &mut Cursor,
        table: &ObjectName,
        column: &str,
    ) -> Result<Element> {
        c.expect_kw("INDEX")?;
        let name = c.ident()?;
        let clustered = if c.eat_kw("CLUSTERED") {
            true
        } else {
            c.eat_kw("NONCLUSTERED");
            false
        };
        let mut el = Element::new(kind::INDEX).named(table.child(name));
        if clustered {
            el.set_prop(prop::IS_CLUSTERED, crate::model::Value::Bool(true));
        }
        el.push_child(
            kind::rel::COLUMN_SPECIFICATIONS,
            column_spec(kind::INDEXED_COLUMN, table.child(column), true),
        );
        el.push_ref(kind::rel::INDEXED_OBJECT, Reference::to(table.clone()));
        self.index_options(c, &mut el)?;
        Ok(el)
    }

    /// `CREATE [UNIQUE] [CLUSTERED|NONCLUSTERED] [COLUMNSTORE] INDEX name ON t (cols) ...`.
    pub(super) fn create_index(&mut self, c: &mut Cursor) -> Result<()> {
        let unique = c.eat_kw("UNIQUE");
        let clustered = if c.eat_kw("CLUSTERED") {
            Some(true)
        } else if c.eat_kw("NONCLUSTERED") {
            Some(false)
        } else {
            None
        };
        let columnstore = c.eat_kw("COLUMNSTORE");
        c.expect_kw("INDEX")?;
        let name_at = c.pos;
        let index_name = c.ident()?;
        c.expect_kw("ON")?;
        let table = qualify(c.object_name()?);
        let mut el = Element::new(if columnstore {
            "SqlColumnStoreIndex"
        } else {
            kind::INDEX
        })
        .named(table.child(index_name));
        if unique {
            el.set_prop(prop::IS_UNIQUE, crate::model::Value::Bool(true));
        }
        if clustered == Some(true) {
            el.set_prop(prop::IS_CLUSTERED, crate::model::Value::Bool(true));
        }
        if c.is(&Token::LParen) {
            if columnstore {
                for col in ident_list(c)? {
                    el.push_child(
                        kind::rel::COLUMN_SPECIFICATIONS,
                        column_spec(kind::INDEXED_COLUMN, table.child(col), true),
                    );
                }
            } else {
                for spec in indexed_columns(c, &table, kind::INDEXED_COLUMN)? {
                    el.push_child(kind::rel::COLUMN_SPECIFICATIONS, spec);
                }
            }
        } else if !columnstore {
            return Err(c.expected("`(` and the index columns"));
        }
        if c.eat_kw("INCLUDE") {
            for col in ident_list(c)? {
                el.push_ref(kind::rel::INCLUDED_COLUMNS, Reference::to(table.child(col)));
            }
        }
        if c.eat_kw("WHERE") {
            let (a, b) = c.expression(&|c| c.is_kw("WITH") || c.is_kw("ON"))?;
            el.set_prop(prop::FILTER_PREDICATE, script(c.text(a, b)));
        }
        el.push_ref(kind::rel::INDEXED_OBJECT, Reference::to(table));
        self.index_options(c, &mut el)?;
        if let Some(name) = el.name.clone() {
            self.anchor(c, name_at, &el.kind.clone(), &name);
        }
        self.push(el);
        Ok(())
    }

    /// `ALTER TABLE t [WITH CHECK|NOCHECK] ADD ... | [NO]CHECK CONSTRAINT x`.
    pub(super) fn alter_table(&mut self, c: &mut Cursor) -> Result<()> {
        let table = qualify(c.object_name()?);
        let mut nocheck = false;
        if c.eat_kw("WITH") {
            if c.eat_kw("NOCHECK") {
                nocheck = true;
            } else {
                c.expect_kw("CHECK")?;
            }
        }
        if c.eat_kw("CHECK") || c.eat_kw("NOCHECK") {
            // Enabling or disabling constraint checking does not change the model.
            c.expect_kw("CONSTRAINT")?;
            if !c.eat_kw("ALL") {
                c.ident()?;
            }
            return Ok(());
        }
        c.expect_kw("ADD")?;
        loop {
            if c.is_kw("CONSTRAINT")
                || c.is_kw("PRIMARY")
                || c.is_kw("UNIQUE")
                || c.is_kw("FOREIGN")
                || c.is_kw("CHECK")
                || c.is_kw("DEFAULT")
            {
                let parsed = self.table_constraint(c, &table, Owner::Table, None)?;
                let mut element = parsed.element;
                if nocheck {
                    element.annotations.push(Annotation::Inline {
                        kind: "IsNotTrustedPropertyAnnotation".into(),
                        name: None,
                        disambiguator: None,
                        properties: Vec::new(),
                    });
                }
                self.push(element);
            } else if c.is_kw("PERIOD") {
                c.expect_kws(&["PERIOD", "FOR", "SYSTEM_TIME"])?;
                c.skip_group()?;
            } else {
                // A column added to a table created earlier in the project.
                let at = c.pos;
                let idx = self
                    .elements
                    .iter()
                    .position(|e| e.kind == kind::TABLE && e.name.as_ref().is_some_and(|n| n.matches(&table, false)))
                    .ok_or_else(|| c.error(format!("ALTER TABLE {table} ADD: the table is not defined before this statement")))?;
                let count = self.elements[idx].children(kind::rel::COLUMNS).count();
                let (column, constraints) = self.column(c, &table, Owner::Table, count)?;
                let _ = at;
                let mut owner =
                    std::mem::replace(&mut self.elements[idx], Element::new(kind::TABLE));
                owner.push_child(kind::rel::COLUMNS, column);
                self.attach_constraints(&mut owner, constraints, Owner::Table);
                self.elements[idx] = owner;
            }
            if !c.eat(&Token::Comma) {
                break;
            }
        }
        Ok(())
    }

    /// The body of `CREATE TYPE x AS TABLE (...)`.
    pub(super) fn table_type(&mut self, c: &mut Cursor, name: ObjectName) -> Result<()> {
        let mut el = Element::new(kind::TABLE_TYPE).named(name.clone());
        let (columns, constraints) = self.table_body(c, &name, Owner::TableType)?;
        for (col, _) in columns {
            el.push_child(kind::rel::COLUMNS, col);
        }
        if c.eat_kw("WITH") {
            c.expect(&Token::LParen, "`(`")?;
            loop {
                let option = c.ident()?.to_ascii_uppercase();
                c.expect(&Token::Eq, "`=`")?;
                let on = c.eat_kw("ON");
                if !on {
                    c.expect_kw("OFF")?;
                }
                if option == "MEMORY_OPTIMIZED" && on {
                    el.set_prop(prop::IS_MEMORY_OPTIMIZED, crate::model::Value::Bool(true));
                }
                if !c.eat(&Token::Comma) {
                    break;
                }
            }
            c.expect(&Token::RParen, "`)`")?;
        }
        el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        self.attach_constraints(&mut el, constraints, Owner::TableType);
        self.push(el);
        Ok(())
    }
}

fn named(el: Element, table: &ObjectName, name: Option<&str>) -> Element {
    match name {
        Some(n) => el.named(ObjectName::new([table.first().to_string(), n.to_string()])),
        None => el,
    }
}

fn referential_action(c: &mut Cursor) -> Result<i64> {
    if c.eat_kws(&["NO", "ACTION"]) {
        Ok(0)
    } else if c.eat_kw("CASCADE") {
        Ok(1)
    } else if c.eat_kws(&["SET", "NULL"]) {
        Ok(2)
    } else if c.eat_kws(&["SET", "DEFAULT"]) {
        Ok(3)
    } else {
        Err(c.expected("NO ACTION, CASCADE, SET NULL or SET DEFAULT"))
    }
}

/// `(a, b, c)`.
pub(super) fn ident_list(c: &mut Cursor) -> Result<Vec<String>> {
    c.expect(&Token::LParen, "`(` and a column list")?;
    let mut out = vec![c.ident()?];
    while c.eat(&Token::Comma) {
        out.push(c.ident()?);
    }
    c.expect(&Token::RParen, "`,` or `)` in the column list")?;
    Ok(out)
}

fn column_spec(spec_kind: &str, column: ObjectName, ascending: bool) -> Element {
    let mut spec = Element::new(spec_kind);
    if !ascending {
        spec = spec.with_bool(prop::IS_ASCENDING, false);
    }
    spec.with_ref(kind::rel::COLUMN, Reference::to(column))
}

/// `(a [ASC|DESC], ...)` as indexed column specifications.
fn indexed_columns(c: &mut Cursor, table: &ObjectName, spec_kind: &str) -> Result<Vec<Element>> {
    c.expect(&Token::LParen, "`(` and the key columns")?;
    let mut out = Vec::new();
    loop {
        let col = c.ident()?;
        let ascending = if c.eat_kw("DESC") {
            false
        } else {
            c.eat_kw("ASC");
            true
        };
        out.push(column_spec(spec_kind, table.child(col), ascending));
        if !c.eat(&Token::Comma) {
            break;
        }
    }
    c.expect(&Token::RParen, "`,` or `)` in the key columns")?;
    Ok(out)
}

/// Sequences named by `NEXT VALUE FOR x` in tokens `a..b`.
fn next_value_for(c: &Cursor, a: usize, b: usize) -> Vec<ObjectName> {
    let mut out = Vec::new();
    let mut probe = Cursor::new(&c.toks[..b], c.batch);
    probe.pos = a;
    while probe.pos < b {
        if probe.eat_kws(&["NEXT", "VALUE", "FOR"]) {
            if let Ok(parts) = probe.object_name() {
                out.push(qualify(parts));
            }
        } else {
            probe.pos += 1;
        }
    }
    out
}
