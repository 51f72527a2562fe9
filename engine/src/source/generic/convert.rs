//! sqlparser statements to model elements.

use std::collections::{HashMap, HashSet};

use sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, ArgMode, ColumnDef, ColumnOption,
    CommentObject, ConstraintCharacteristics, CreateFunctionBody, DataType, DeferrableInitial,
    Expr, FunctionReturnType, GeneratedAs, GeneratedExpressionMode, GrantObjects, GranteeName,
    GranteesType, Ident, IndexColumn, OrderBySort, Privileges, ReferentialAction, SchemaName,
    SequenceOptions, Statement, TableConstraint, TriggerEvent, TriggerPeriod,
    UserDefinedTypeRepresentation,
};
use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use super::StmtError;
use super::names::{default_schema, fold, parts, pg_object_name, schema_and_name};
use super::types::{parse_type_text, specifier_for};
use crate::model::kind::prop;
use crate::model::kind::{self, rel};
use crate::model::{Element, Entry, ObjectName, Platform, Reference, Value};

type Res = std::result::Result<(), StmtError>;

/// Conversion state for one batch.
pub(crate) struct Ctx {
    pub platform: Platform,
    out: Vec<Element>,
    next_disambiguator: u64,
    /// Lower-cased `schema.name` of constraint and index names taken in this batch.
    used_names: HashSet<String>,
    /// Function attributes stripped before parsing (`COST 10 LEAKPROOF`).
    pub pending_attributes: Option<String>,
    /// SQLite `(WITHOUT ROWID, STRICT)` stripped before parsing.
    pub pending_table_options: Option<(bool, bool)>,
    /// SQLite table constraints' `ON CONFLICT` actions, by the constraint's position (sqlparser
    /// does not parse the clause after a table constraint; it is taken out before parsing).
    pub pending_constraint_conflicts: Vec<Option<String>>,
    /// Where each table of this batch was created, by name key.
    tables_made: HashMap<String, Location>,
    /// Lines of the file before this batch (locations are the batch's).
    pub line_offset: u64,
    /// Where tables were last seen in `out`, by name key (see `find_table`).
    table_at: std::cell::RefCell<HashMap<String, usize>>,
    /// PostgreSQL trigger arguments stripped before parsing, as string literals.
    pub pending_trigger_args: Option<Vec<String>>,
    /// The statement being converted is a PostgreSQL `CREATE PROCEDURE`, read as a function
    /// (sqlparser 0.63 reads procedures only with a `BEGIN ... END` body).
    pub pending_procedure: bool,
    /// A PostgreSQL routine with a SQL-standard body (`BEGIN ATOMIC ... END`, which sqlparser
    /// 0.63 cannot read): its whole statement and its body, kept as written.
    pub pending_atomic: Option<(String, String)>,
    /// Where unqualified names go (`SET search_path`, `set_config('search_path', ...)`).
    pub search_path: SearchPath,
    /// An unqualified name met while the search path was empty (an error after the statement).
    pub unqualified: Option<String>,
    /// Data statements kept for the post-deployment script, in source order.
    pub seed: Vec<Seed>,
    /// Messages about statements that were read but change nothing (psql meta-commands, ...).
    pub notes: Vec<String>,
    /// Where the statement being converted starts (positions of seed data).
    pub stmt_start: sqlparser::tokenizer::Location,
    /// The data rows of the `COPY ... FROM stdin` being converted.
    pub copy_rows: Option<Vec<String>>,
    /// The options of each sequence made in this batch, by lower-cased name, for ALTER SEQUENCE.
    sequences: std::collections::HashMap<String, SeqOptions>,
}

/// Where unqualified PostgreSQL names resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchPath {
    /// The server's default (`"$user", public`): unqualified names go to `public` (`main` in
    /// SQLite).
    Default,
    /// The first schema of a `SET search_path` list (other than `$user`).
    First(String),
    /// `set_config('search_path', '', false)` as pg_dump writes it: every name must be qualified.
    Empty,
}

/// A data statement of a schema source, kept for the package's post-deployment script.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The statement to run (re-runnable: see [`Ctx::insert`]).
    pub sql: String,
    /// The table it writes to (its rows are kept unique by a key), if any.
    pub table: Option<ObjectName>,
    /// Position of the statement in the batch (line, column), 1-based.
    pub at: (u64, u64),
}

/// Columns of a table being built, with its constraints.
struct TableParts {
    name: ObjectName,
    columns: Vec<Element>,
    extra: Vec<Element>,
    pk_columns: Vec<String>,
}

impl Ctx {
    pub fn new(platform: Platform) -> Self {
        Ctx {
            platform,
            out: Vec::new(),
            next_disambiguator: 1,
            used_names: HashSet::new(),
            pending_attributes: None,
            pending_table_options: None,
            pending_constraint_conflicts: Vec::new(),
            tables_made: HashMap::new(),
            line_offset: 0,
            table_at: std::cell::RefCell::new(HashMap::new()),
            pending_trigger_args: None,
            pending_procedure: false,
            pending_atomic: None,
            search_path: SearchPath::Default,
            unqualified: None,
            seed: Vec::new(),
            notes: Vec::new(),
            sequences: std::collections::HashMap::new(),
            stmt_start: sqlparser::tokenizer::Location { line: 1, column: 1 },
            copy_rows: None,
        }
    }

    /// The schema of unqualified names under the current search path.
    pub fn default_schema(&mut self, written: &str) -> String {
        match &self.search_path {
            SearchPath::Default => default_schema(self.platform).to_string(),
            SearchPath::First(s) => s.clone(),
            SearchPath::Empty => {
                if self.unqualified.is_none() {
                    self.unqualified = Some(written.to_string());
                }
                default_schema(self.platform).to_string()
            }
        }
    }

    /// Takes the elements and whatever else the batch produced.
    /// How many top-level elements were made so far.
    pub fn element_count(&self) -> usize {
        self.out.len()
    }

    /// The top-level elements made since there were `count`.
    pub fn elements_since(&self, count: usize) -> &[Element] {
        self.out.get(count..).unwrap_or(&[])
    }

    pub fn into_parts(self) -> (Vec<Element>, Vec<Seed>, Vec<String>) {
        let mut out = self.out;
        finish(self.platform, &mut out);
        (out, self.seed, self.notes)
    }

    fn pg(&self) -> bool {
        self.platform == Platform::Postgres
    }

    fn prefix(&self) -> &'static str {
        if self.pg() { "Pg" } else { "Sqlite" }
    }

    fn ident(&self, ident: &Ident) -> String {
        fold(self.platform, ident)
    }

    pub fn object(&mut self, name: &ast::ObjectName) -> ObjectName {
        let mut p = parts(self.platform, name);
        let leaf = p.pop().unwrap_or_default();
        let schema = match p.pop() {
            Some(schema) => schema,
            None => self.default_schema(&leaf),
        };
        ObjectName::new([schema, leaf])
    }

    fn disambiguate(&mut self, el: &mut Element) {
        el.disambiguator = Some(self.next_disambiguator.to_string());
        self.next_disambiguator += 1;
    }

    fn schema_ref(&self, schema: &str) -> Reference {
        let name = ObjectName::new([schema.to_string()]);
        if schema == default_schema(self.platform)
            || matches!(schema, "pg_catalog" | "information_schema" | "temp")
        {
            Reference::built_in(name)
        } else {
            Reference::to(name)
        }
    }

    /// An extension's definition as inspection spells it (the schema it lands in named:
    /// the default schema unless `SCHEMA` says otherwise); `VERSION` and `CASCADE` are kept.
    fn extension_definition(&self, name: &str, ce: &ast::CreateExtension) -> String {
        let schema = ce.schema.as_ref().map_or_else(
            || default_schema(self.platform).to_string(),
            |s| self.ident(s),
        );
        let mut def = format!(
            "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
            quote_ident_pg(name),
            quote_ident_pg(&schema)
        );
        if let Some(version) = &ce.version {
            def.push_str(&format!(" VERSION {}", quote_ident_pg(&version.value)));
        }
        if ce.cascade {
            def.push_str(" CASCADE");
        }
        def
    }

    /// Adds an opaque element: `kind`, optional name, the statement as `Definition`.
    pub fn opaque(&mut self, kind: &str, name: Option<ObjectName>, definition: String) {
        let mut el = Element::new(kind).with_script(prop::DEFINITION, definition);
        match name {
            Some(name) => el.name = Some(name),
            None => self.disambiguate(&mut el),
        }
        self.out.push(el);
    }

    fn generic_opaque(&mut self, statement: &Statement) {
        let kind = format!("{}Statement", self.prefix());
        self.opaque(&kind, None, statement.to_string());
    }

    /// A constraint or index name: the written one, PostgreSQL's generated one, or none.
    fn constraint_name(
        &mut self,
        schema: &str,
        explicit: Option<&Ident>,
        table: &str,
        columns: Option<&str>,
        label: &str,
    ) -> Option<ObjectName> {
        let leaf = match explicit {
            Some(ident) => self.ident(ident),
            None if self.pg() => {
                let mut candidate = pg_object_name(table, columns, label);
                let mut n = 0;
                while self
                    .used_names
                    .contains(&format!("{schema}.{candidate}").to_lowercase())
                {
                    n += 1;
                    candidate = pg_object_name(table, columns, &format!("{label}{n}"));
                }
                candidate
            }
            None => return None,
        };
        self.used_names
            .insert(format!("{schema}.{leaf}").to_lowercase());
        Some(ObjectName::new([schema.to_string(), leaf]))
    }

    fn named_or_disambiguated(&mut self, mut el: Element, name: Option<ObjectName>) -> Element {
        match name {
            Some(name) => el.name = Some(name),
            None => self.disambiguate(&mut el),
        }
        el
    }

    /// Converts one parsed statement.
    pub fn statement(&mut self, statement: Statement, text: &str, with_data: Option<bool>) -> Res {
        match statement {
            Statement::CreateTable(ct) => self.table(ct),
            Statement::CreateIndex(ci) => self.index(ci),
            Statement::CreateView(cv) => self.view(cv, with_data),
            Statement::CreateTrigger(ct) => self.trigger(ct),
            Statement::CreateFunction(cf) => self.function(cf),
            Statement::CreateProcedure { ref name, .. } => {
                let name = self.object(name);
                let mut el = Element::new(kind::PROCEDURE)
                    .named(name.clone())
                    .with_script(prop::BODY_SCRIPT, statement.to_string());
                el.push_ref(rel::SCHEMA, self.schema_ref(name.first()));
                self.out.push(el);
                Ok(())
            }
            Statement::CreateSchema {
                ref schema_name, ..
            } => {
                let (name, auth) = match schema_name {
                    SchemaName::Simple(n) => (parts(self.platform, n).join("."), None),
                    SchemaName::UnnamedAuthorization(a) => (self.ident(a), Some(self.ident(a))),
                    SchemaName::NamedAuthorization(n, a) => {
                        (parts(self.platform, n).join("."), Some(self.ident(a)))
                    }
                };
                let mut el = Element::new(kind::SCHEMA).named(ObjectName::new([name]));
                if let Some(auth) = auth {
                    el.set_prop(prop::AUTHORIZATION, Value::Text(auth));
                }
                self.out.push(el);
                Ok(())
            }
            Statement::CreateType {
                ref name,
                ref representation,
            } => {
                let kind = match representation {
                    Some(UserDefinedTypeRepresentation::Enum { .. }) => "PgEnumType",
                    Some(UserDefinedTypeRepresentation::Composite { .. }) => "PgCompositeType",
                    Some(UserDefinedTypeRepresentation::Range { .. }) => "PgRangeType",
                    _ => "PgType",
                };
                let name = self.object(name);
                self.opaque(kind, Some(name), statement.to_string());
                Ok(())
            }
            Statement::CreateDomain(ref cd) => {
                // The statement as written: sqlparser 0.63 prints `NOT NULL` as `IS NOT NULL`.
                let name = self.object(&cd.name);
                self.opaque("PgDomain", Some(name), text.to_string());
                Ok(())
            }
            Statement::CreateExtension(ref ce) => {
                let name = self.ident(&ce.name);
                self.opaque(
                    "PgExtension",
                    Some(ObjectName::new([name.clone()])),
                    self.extension_definition(&name, ce),
                );
                Ok(())
            }
            Statement::CreatePolicy(ref cp) => {
                let table = self.object(&cp.table_name);
                let name = table.child(self.ident(&cp.name));
                self.opaque("PgPolicy", Some(name), statement.to_string());
                Ok(())
            }
            Statement::CreateRole(ref cr) => {
                let names = cr.names.iter().map(|n| parts(self.platform, n).join("."));
                let name = ObjectName::new(names.collect::<Vec<_>>());
                self.opaque("PgRole", Some(name), statement.to_string());
                Ok(())
            }
            Statement::CreateCollation(ref cc) => {
                let name = self.object(&cc.name);
                self.opaque("PgCollation", Some(name), statement.to_string());
                Ok(())
            }
            Statement::CreateVirtualTable { ref name, .. } => {
                let name = self.object(name);
                self.opaque("SqliteVirtualTable", Some(name), statement.to_string());
                Ok(())
            }
            Statement::Comment {
                object_type,
                object_name,
                comment,
                ..
            } => {
                self.comment(object_type, &object_name, comment);
                Ok(())
            }
            Statement::Grant(ref g) => {
                self.grant(g);
                Ok(())
            }
            Statement::Revoke(_) => {
                self.opaque("PgRevoke", None, statement.to_string());
                Ok(())
            }
            Statement::AlterTable(at) => self.alter_table(at),
            Statement::Insert(ins) if self.pg() => super::psql::insert(self, ins, self.stmt_start),
            Statement::Query(ref q) if self.pg() => {
                if super::psql::setval(self, q, self.stmt_start)? {
                    Ok(())
                } else {
                    Err(data_statement("this SELECT"))
                }
            }
            Statement::Update { .. }
            | Statement::Delete(_)
            | Statement::Merge { .. }
            | Statement::Truncate { .. }
            | Statement::Copy { .. }
                if self.pg() =>
            {
                Err(data_statement(
                    &statement
                        .to_string()
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_uppercase(),
                ))
            }
            Statement::Drop {
                object_type,
                if_exists,
                ref names,
                ..
            } if self.pg() => self.drop(object_type, if_exists, names),
            Statement::Set(_) | Statement::Pragma { .. } | Statement::Commit { .. } => Ok(()),
            Statement::StartTransaction { .. } | Statement::Rollback { .. } => Ok(()),
            other => {
                let _ = text;
                self.generic_opaque(&other);
                Ok(())
            }
        }
    }

    // ---------------------------------------------------------------- tables

    fn table(&mut self, ct: ast::CreateTable) -> Res {
        let name = self.object(&ct.name);
        let key = name.key(super::collation_case_sensitive(self.platform));
        // A table this file already made (and did not drop): the database would refuse the
        // statement, or skip it under IF NOT EXISTS. The map keeps the search to such names.
        if let Some(&first) = self.tables_made.get(&key)
            && self.find_table(&name).is_some()
        {
            if ct.if_not_exists {
                return Ok(());
            }
            return Err(StmtError::At(
                self.stmt_start,
                format!(
                    "table {name} is already created at line {}: a table is created once",
                    first.line + self.line_offset
                ),
            ));
        }
        self.tables_made.insert(key.clone(), self.stmt_start);
        if ct.query.is_some() || ct.like.is_some() || ct.clone.is_some() {
            let kind = format!("{}TableAs", self.prefix());
            self.opaque(&kind, Some(name), Statement::CreateTable(ct).to_string());
            return Ok(());
        }
        let mut parts = TableParts {
            name: name.clone(),
            columns: Vec::new(),
            extra: Vec::new(),
            pk_columns: Vec::new(),
        };
        for col in &ct.columns {
            let column = self.column(&mut parts, col)?;
            parts.columns.push(column);
        }
        let conflicts = std::mem::take(&mut self.pending_constraint_conflicts);
        for (ordinal, constraint) in ct.constraints.iter().enumerate() {
            let before = parts.extra.len();
            self.table_constraint(&mut parts, constraint, false);
            if let Some(Some(action)) = conflicts.get(ordinal) {
                match parts.extra.get_mut(before) {
                    Some(key) if matches!(key.kind.as_str(), kind::PRIMARY_KEY | kind::UNIQUE) => {
                        key.set_prop(prop::ON_CONFLICT, Value::Text(action.clone()));
                    }
                    _ => {
                        return Err(StmtError::At(
                            self.stmt_start,
                            format!(
                                "ON CONFLICT {action} follows a constraint that is not a PRIMARY KEY or UNIQUE"
                            ),
                        ));
                    }
                }
            }
        }
        if self.pg() {
            for col in &mut parts.columns {
                if parts
                    .pk_columns
                    .iter()
                    .any(|c| c == col.name_or_empty().leaf())
                {
                    col.set_prop(prop::IS_NULLABLE, Value::Bool(false));
                }
            }
        }
        let mut table = Element::new(kind::TABLE).named(name.clone());
        let (without_rowid, strict) = self.pending_table_options.take().unwrap_or_default();
        if ct.without_rowid || without_rowid {
            table.set_prop(prop::IS_WITHOUT_ROW_ID, Value::Bool(true));
        }
        if ct.strict || strict {
            table.set_prop(prop::IS_STRICT, Value::Bool(true));
        }
        if ct.unlogged {
            table.set_prop(prop::IS_UNLOGGED, Value::Bool(true));
        }
        if ct.temporary {
            table.set_prop(prop::IS_TEMPORARY, Value::Bool(true));
        }
        if let Some(inherits) = &ct.inherits {
            let list: Vec<String> = inherits
                .iter()
                .map(|n| self.object(n).to_string())
                .collect();
            table.set_prop(prop::INHERITS, Value::Text(list.join(", ")));
        }
        if let Some(by) = &ct.partition_by {
            table.set_prop(
                prop::PARTITION_BY,
                Value::Text(super::partition::canonical(&by.to_string())),
            );
        }
        if let Some(for_values) = &ct.for_values {
            table.set_prop(
                prop::PARTITION_BOUND,
                Value::Text(super::partition::canonical(&for_values.to_string())),
            );
        }
        if !matches!(ct.table_options, ast::CreateTableOptions::None) {
            table.set_prop(prop::OPTIONS, Value::Text(ct.table_options.to_string()));
        }
        for col in parts.columns {
            table.push_child(rel::COLUMNS, col);
        }
        if let Some(parent) = &ct.partition_of {
            table.push_ref("PartitionOf", Reference::to(self.object(parent)));
        }
        table.push_ref(rel::SCHEMA, self.schema_ref(name.first()));
        self.table_at.borrow_mut().insert(key, self.out.len());
        self.out.push(table);
        self.out.extend(parts.extra);
        Ok(())
    }

    /// A column element; its inline constraints and default go to `parts.extra`.
    fn column(
        &mut self,
        parts: &mut TableParts,
        col: &ColumnDef,
    ) -> std::result::Result<Element, StmtError> {
        let col_leaf = self.ident(&col.name);
        let col_name = parts.name.child(col_leaf.clone());
        let schema = parts.name.first().to_string();
        let table_leaf = parts.name.leaf().to_string();
        let ty = match col.data_type {
            DataType::Unspecified => None,
            ref dt => Some(parse_type_text(self.platform, &dt.to_string())),
        };
        let mut el = Element::new(kind::SIMPLE_COLUMN).named(col_name.clone());
        let mut not_null = false;
        let mut unmodelled = Vec::new();
        let mut defaults = Vec::new();
        let mut computed: Option<(String, bool)> = None;
        // What a following `ON CONFLICT` (SQLite) belongs to: the NOT NULL, or the key just made.
        let mut conflict_target: Option<Option<usize>> = None;
        for opt in &col.options {
            if let ColumnOption::OnConflict(action) = &opt.option {
                let action = format!("{action:?}").to_ascii_uppercase();
                match conflict_target.take() {
                    Some(None) => el.set_prop(prop::NOT_NULL_ON_CONFLICT, Value::Text(action)),
                    Some(Some(key)) => {
                        parts.extra[key].set_prop(prop::ON_CONFLICT, Value::Text(action));
                    }
                    None => {
                        return Err(StmtError::At(
                            self.stmt_start,
                            format!(
                                "ON CONFLICT {action} of column {} follows neither PRIMARY KEY, UNIQUE nor NOT NULL",
                                col.name
                            ),
                        ));
                    }
                }
                continue;
            }
            conflict_target = match &opt.option {
                ColumnOption::NotNull => Some(None),
                ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_) => {
                    Some(Some(parts.extra.len()))
                }
                _ => None,
            };
            match &opt.option {
                ColumnOption::Null => {}
                ColumnOption::NotNull => not_null = true,
                ColumnOption::Default(expr) => defaults.push(expr.to_string()),
                ColumnOption::PrimaryKey(pk) => {
                    let explicit = opt.name.as_ref().or(pk.name.as_ref());
                    let name = self.constraint_name(&schema, explicit, &table_leaf, None, "pkey");
                    let mut c = Element::new(kind::PRIMARY_KEY);
                    c.push_child(rel::COLUMN_SPECIFICATIONS, spec_for_column(&col_name));
                    c.push_ref(rel::DEFINING_TABLE, Reference::to(parts.name.clone()));
                    characteristics(&mut c, pk.characteristics.as_ref());
                    parts.pk_columns.push(col_leaf.clone());
                    let c = self.named_or_disambiguated(c, name);
                    parts.extra.push(c);
                }
                ColumnOption::Unique(u) => {
                    let explicit = opt.name.as_ref().or(u.name.as_ref());
                    let name =
                        self.constraint_name(&schema, explicit, &table_leaf, Some(&col_leaf), "key");
                    let mut c = Element::new(kind::UNIQUE);
                    c.push_child(rel::COLUMN_SPECIFICATIONS, spec_for_column(&col_name));
                    c.push_ref(rel::DEFINING_TABLE, Reference::to(parts.name.clone()));
                    characteristics(&mut c, u.characteristics.as_ref());
                    if matches!(u.nulls_distinct, ast::NullsDistinctOption::NotDistinct) {
                        c.set_prop(prop::NULLS_NOT_DISTINCT, Value::Bool(true));
                    }
                    let c = self.named_or_disambiguated(c, name);
                    parts.extra.push(c);
                }
                ColumnOption::ForeignKey(fk) => {
                    let explicit = opt.name.clone().or(fk.name.clone());
                    let mut fk = fk.clone();
                    fk.name = explicit;
                    if fk.columns.is_empty() {
                        fk.columns = vec![col.name.clone()];
                    }
                    self.foreign_key(parts, &fk, false);
                }
                ColumnOption::Check(ck) => {
                    let mut ck = ck.clone();
                    ck.name = opt.name.clone().or(ck.name);
                    self.check(parts, &ck, false);
                }
                ColumnOption::Collation(n) => {
                    el.set_prop(prop::COLLATION, Value::Text(self.collation(n)));
                }
                ColumnOption::Generated {
                    generated_as,
                    sequence_options,
                    generation_expr,
                    generation_expr_mode,
                    ..
                } => match generation_expr {
                    Some(expr) => {
                        let persisted = *generation_expr_mode
                            == Some(GeneratedExpressionMode::Stored)
                            || *generated_as == GeneratedAs::ExpStored;
                        computed = Some((expr.to_string(), persisted));
                    }
                    None => {
                        el.set_prop(prop::IS_IDENTITY, Value::Bool(true));
                        let how = match generated_as {
                            GeneratedAs::Always => "Always",
                            _ => "ByDefault",
                        };
                        el.set_prop(prop::IDENTITY_GENERATION, Value::Text(how.into()));
                        let number = |e: &ast::Expr| {
                            e.to_string().replace(' ', "").parse::<i128>().ok()
                        };
                        let (mut increment, mut min, mut max, mut cache, mut cycle) =
                            (1, None, None, None, false);
                        for o in sequence_options.iter().flatten() {
                            match o {
                                SequenceOptions::StartWith(e, _) => {
                                    el.set_prop(prop::IDENTITY_SEED, Value::from_attribute(&e.to_string()))
                                }
                                SequenceOptions::IncrementBy(e, _) => {
                                    increment = number(e).unwrap_or(1);
                                    el.set_prop(
                                        prop::IDENTITY_INCREMENT,
                                        Value::from_attribute(&e.to_string()),
                                    )
                                }
                                SequenceOptions::MinValue(Some(e)) if number(e).is_some() => {
                                    min = number(e)
                                }
                                SequenceOptions::MaxValue(Some(e)) if number(e).is_some() => {
                                    max = number(e)
                                }
                                SequenceOptions::MinValue(None) | SequenceOptions::MaxValue(None) => {}
                                SequenceOptions::Cache(e) if number(e).is_some() => cache = number(e),
                                SequenceOptions::Cycle(no) => cycle = !*no,
                                other => unmodelled.push(other.to_string()),
                            }
                        }
                        let type_name = ty
                            .as_ref()
                            .and_then(|t| t.name.last())
                            .map(|n| n.to_ascii_lowercase())
                            .unwrap_or_default();
                        if let Some(options) = crate::model::view::sequence_options_text(
                            &type_name, increment, min, max, cache, cycle,
                        ) {
                            el.set_prop(prop::IDENTITY_OPTIONS, Value::Text(options));
                        }
                        if self.pg() {
                            not_null = true;
                        }
                    }
                },
                ColumnOption::DialectSpecific(tokens)
                    if tokens.iter().any(|t| {
                        matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case("AUTOINCREMENT"))
                    }) =>
                {
                    el.set_prop(prop::IS_IDENTITY, Value::Bool(true));
                }
                ColumnOption::Identity(_) => el.set_prop(prop::IS_IDENTITY, Value::Bool(true)),
                other => unmodelled.push(other.to_string()),
            }
        }
        let serial = ty.as_ref().is_some_and(|t| t.serial);
        if serial {
            not_null = true;
            let seq_leaf = pg_object_name(&table_leaf, Some(&col_leaf), "seq");
            let seq_name = ObjectName::new([schema.clone(), seq_leaf.clone()]);
            let qualified = if schema == "public" {
                quote_pg(&seq_leaf)
            } else {
                format!("{}.{}", quote_pg(&schema), quote_pg(&seq_leaf))
            };
            defaults.push(format!(
                "nextval('{}'::regclass)",
                qualified.replace('\'', "''")
            ));
            let mut seq = Element::new(kind::SEQUENCE).named(seq_name);
            if let Some(t) = &ty {
                let mut plain = t.clone();
                plain.serial = false;
                seq.push_child(
                    rel::TYPE_SPECIFIER,
                    specifier_for(self.platform, &plain, &schema),
                );
            }
            seq.push_ref("OwnedBy", Reference::to(col_name.clone()));
            seq.push_ref(rel::SCHEMA, self.schema_ref(&schema));
            parts.extra.push(seq);
        }
        if let Some((expr, persisted)) = &computed {
            el.kind = kind::COMPUTED_COLUMN.into();
            el.set_prop(prop::EXPRESSION_SCRIPT, script(expr));
            if *persisted {
                el.set_prop(prop::IS_PERSISTED, Value::Bool(true));
            }
        }
        if not_null {
            el.set_prop(prop::IS_NULLABLE, Value::Bool(false));
        }
        if !unmodelled.is_empty() {
            el.set_prop(prop::OPTIONS, Value::Text(unmodelled.join(" ")));
        }
        if let Some(ty) = &ty {
            el.push_child(
                rel::TYPE_SPECIFIER,
                specifier_for(self.platform, ty, &schema),
            );
        }
        for expr in defaults {
            let d = self.default_constraint(&parts.name, &col_name, &expr);
            parts.extra.push(d);
        }
        Ok(el)
    }

    fn default_constraint(
        &mut self,
        table: &ObjectName,
        column: &ObjectName,
        expr: &str,
    ) -> Element {
        let mut d = Element::new(kind::DEFAULT).with(prop::DEFAULT_EXPRESSION_SCRIPT, script(expr));
        d.push_ref(rel::DEFINING_TABLE, Reference::to(table.clone()));
        d.push_ref(rel::FOR_COLUMN, Reference::to(column.clone()));
        self.disambiguate(&mut d);
        d
    }

    fn key_specs(&self, table: &ObjectName, cols: &[IndexColumn]) -> Vec<Element> {
        cols.iter().map(|c| self.key_spec(table, c)).collect()
    }

    /// A primary key or unique constraint (`kind`) of `table`: its key columns, the columns it
    /// includes and its characteristics (deferrable, ...).
    fn key_constraint(
        &self,
        kind: &str,
        table: &ObjectName,
        columns: &[IndexColumn],
        include: &[Ident],
        constraint_characteristics: Option<&ConstraintCharacteristics>,
    ) -> Element {
        let mut c = Element::new(kind);
        for spec in self.key_specs(table, columns) {
            c.push_child(rel::COLUMN_SPECIFICATIONS, spec);
        }
        for inc in include {
            c.push_ref(
                rel::INCLUDED_COLUMNS,
                Reference::to(table.child(self.ident(inc))),
            );
        }
        c.push_ref(rel::DEFINING_TABLE, Reference::to(table.clone()));
        characteristics(&mut c, constraint_characteristics);
        c
    }

    fn key_spec(&self, table: &ObjectName, col: &IndexColumn) -> Element {
        let mut spec = Element::new(kind::INDEXED_COLUMN);
        let mut expr = &col.column.expr;
        let mut collation = None;
        if self.pg()
            && let Expr::Collate {
                expr: inner,
                collation: name,
            } = expr
        {
            // `col COLLATE "C"`: the key is the column (or expression), the collation a property.
            expr = inner.as_ref();
            while let Expr::Nested(nested) = expr {
                expr = nested.as_ref();
            }
            collation = Some(self.collation(name));
        }
        match expr {
            Expr::Identifier(id) => {
                spec.push_ref(rel::COLUMN, Reference::to(table.child(self.ident(id))))
            }
            other => spec.set_prop(prop::EXPRESSION_SCRIPT, script(&other.to_string())),
        }
        if let Some(collation) = collation {
            spec.set_prop(prop::COLLATION, Value::Text(collation));
        }
        match &col.column.options.sort {
            Some(OrderBySort::Desc) => spec.set_prop(prop::IS_ASCENDING, Value::Bool(false)),
            Some(OrderBySort::Using(op)) => {
                spec.set_prop(prop::SORT_OPERATOR, Value::Text(op.to_string()))
            }
            _ => {}
        }
        if let Some(nulls_first) = col.column.options.nulls_first {
            spec.set_prop(prop::NULLS_FIRST, Value::Bool(nulls_first));
        }
        if let Some(class) = &col.operator_class {
            spec.set_prop(
                prop::OPERATOR_CLASS,
                Value::Text(parts_text(self.platform, class)),
            );
        }
        spec
    }

    /// A `COLLATE` name as the `Collation` property (PostgreSQL: bare on the default search
    /// path, else quoted and qualified; see `types::collation_name`).
    fn collation(&self, name: &ast::ObjectName) -> String {
        let parts = parts(self.platform, name);
        match (self.pg(), parts.as_slice()) {
            (true, [schema, leaf]) => super::types::collation_name(Some(schema), leaf),
            _ => parts.join("."),
        }
    }

    /// Column names for PostgreSQL's generated names (`expr` for expressions).
    fn index_column_names(&self, cols: &[IndexColumn]) -> String {
        cols.iter()
            .map(|c| match &c.column.expr {
                Expr::Identifier(id) => self.ident(id),
                _ => "expr".to_string(),
            })
            .collect::<Vec<_>>()
            .join("_")
    }

    fn table_constraint(
        &mut self,
        parts: &mut TableParts,
        constraint: &TableConstraint,
        not_valid: bool,
    ) {
        let schema = parts.name.first().to_string();
        let table_leaf = parts.name.leaf().to_string();
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                let name =
                    self.constraint_name(&schema, pk.name.as_ref(), &table_leaf, None, "pkey");
                let c = self.key_constraint(
                    kind::PRIMARY_KEY,
                    &parts.name,
                    &pk.columns,
                    &pk.include,
                    pk.characteristics.as_ref(),
                );
                for col in &pk.columns {
                    if let Expr::Identifier(id) = &col.column.expr {
                        parts.pk_columns.push(self.ident(id));
                    }
                }
                let c = self.named_or_disambiguated(c, name);
                parts.extra.push(c);
            }
            TableConstraint::Unique(u) => {
                let cols = self.index_column_names(&u.columns);
                let name =
                    self.constraint_name(&schema, u.name.as_ref(), &table_leaf, Some(&cols), "key");
                let mut c = self.key_constraint(
                    kind::UNIQUE,
                    &parts.name,
                    &u.columns,
                    &u.include,
                    u.characteristics.as_ref(),
                );
                if matches!(u.nulls_distinct, ast::NullsDistinctOption::NotDistinct) {
                    c.set_prop(prop::NULLS_NOT_DISTINCT, Value::Bool(true));
                }
                let c = self.named_or_disambiguated(c, name);
                parts.extra.push(c);
            }
            TableConstraint::ForeignKey(fk) => self.foreign_key(parts, fk, not_valid),
            TableConstraint::Check(ck) => self.check(parts, ck, not_valid),
            TableConstraint::PrimaryKeyUsingIndex(c) | TableConstraint::UniqueUsingIndex(c) => {
                // The index becomes the constraint's index: take its columns and drop it.
                let index_name = parts.name.child(self.ident(&c.index_name));
                let cs = super::collation_case_sensitive(self.platform);
                let found = self.out.iter().position(|e| {
                    e.kind == kind::INDEX
                        && e.name.as_ref().is_some_and(|n| n.matches(&index_name, cs))
                });
                let Some(found) = found else {
                    let kind = format!("{}TableConstraint", self.prefix());
                    let mut el =
                        Element::new(kind).with_script(prop::DEFINITION, constraint.to_string());
                    el.push_ref(rel::DEFINING_TABLE, Reference::to(parts.name.clone()));
                    self.disambiguate(&mut el);
                    parts.extra.push(el);
                    return;
                };
                let index = self.out.remove(found);
                let is_pk = matches!(constraint, TableConstraint::PrimaryKeyUsingIndex(_));
                let explicit = c.name.as_ref().unwrap_or(&c.index_name);
                let name = self.constraint_name(&schema, Some(explicit), &table_leaf, None, "");
                let mut el = Element::new(if is_pk {
                    kind::PRIMARY_KEY
                } else {
                    kind::UNIQUE
                });
                for spec in index.children(rel::COLUMN_SPECIFICATIONS) {
                    if is_pk && let Some(col) = spec.reference_name(rel::COLUMN) {
                        parts.pk_columns.push(col.leaf().to_string());
                    }
                    el.push_child(rel::COLUMN_SPECIFICATIONS, spec.clone());
                }
                el.push_ref(rel::DEFINING_TABLE, Reference::to(parts.name.clone()));
                characteristics(&mut el, c.characteristics.as_ref());
                let el = self.named_or_disambiguated(el, name);
                parts.extra.push(el);
            }
            TableConstraint::Exclude(ex) => {
                let cols = ex
                    .elements
                    .iter()
                    .map(|e| match &e.column.column.expr {
                        Expr::Identifier(id) => self.ident(id),
                        _ => "expr".into(),
                    })
                    .collect::<Vec<_>>()
                    .join("_");
                let name = self.constraint_name(
                    &schema,
                    ex.name.as_ref(),
                    &table_leaf,
                    Some(&cols),
                    "excl",
                );
                // Runnable as it stands: the constraint added to its table.
                let definition = format!(
                    "ALTER TABLE {} ADD {constraint}",
                    quote_name_pg(&parts.name)
                );
                let mut c =
                    Element::new("PgExcludeConstraint").with_script(prop::DEFINITION, definition);
                c.push_ref(rel::DEFINING_TABLE, Reference::to(parts.name.clone()));
                let c = self.named_or_disambiguated(c, name);
                parts.extra.push(c);
            }
            other => {
                let kind = format!("{}TableConstraint", self.prefix());
                let mut c = Element::new(kind).with_script(prop::DEFINITION, other.to_string());
                c.push_ref(rel::DEFINING_TABLE, Reference::to(parts.name.clone()));
                self.disambiguate(&mut c);
                parts.extra.push(c);
            }
        }
    }

    fn foreign_key(
        &mut self,
        parts: &mut TableParts,
        fk: &ast::ForeignKeyConstraint,
        not_valid: bool,
    ) {
        let schema = parts.name.first().to_string();
        let table_leaf = parts.name.leaf().to_string();
        let cols: Vec<String> = fk.columns.iter().map(|c| self.ident(c)).collect();
        let name = self.constraint_name(
            &schema,
            fk.name.as_ref(),
            &table_leaf,
            Some(&cols.join("_")),
            "fkey",
        );
        let foreign = self.object(&fk.foreign_table);
        let mut c = Element::new(kind::FOREIGN_KEY);
        for (prop, action) in [
            ("OnDeleteAction", &fk.on_delete),
            ("OnUpdateAction", &fk.on_update),
        ] {
            // DacFx's numbers (model::view::ReferentialAction); NO ACTION is the default.
            let number = match action {
                Some(ReferentialAction::Cascade) => 1,
                Some(ReferentialAction::SetNull) => 2,
                Some(ReferentialAction::SetDefault) => 3,
                Some(ReferentialAction::Restrict) => 4,
                _ => continue,
            };
            c.set_prop(prop, Value::Int(number));
        }
        if let Some(m) = &fk.match_kind {
            let text = m.to_string();
            if !text.eq_ignore_ascii_case("MATCH SIMPLE") {
                c.set_prop(prop::MATCH_KIND, Value::Text(text));
            }
        }
        characteristics(&mut c, fk.characteristics.as_ref());
        if not_valid {
            c.set_prop(prop::IS_NOT_VALID, Value::Bool(true));
        }
        for col in &cols {
            c.push_ref(rel::COLUMNS, Reference::to(parts.name.child(col.clone())));
        }
        c.push_ref(rel::DEFINING_TABLE, Reference::to(parts.name.clone()));
        for col in &fk.referred_columns {
            c.push_ref(
                rel::FOREIGN_COLUMNS,
                Reference::to(foreign.child(self.ident(col))),
            );
        }
        c.push_ref(rel::FOREIGN_TABLE, Reference::to(foreign));
        let c = self.named_or_disambiguated(c, name);
        parts.extra.push(c);
    }

    fn check(&mut self, parts: &mut TableParts, ck: &ast::CheckConstraint, not_valid: bool) {
        let schema = parts.name.first().to_string();
        let table_leaf = parts.name.leaf().to_string();
        // PostgreSQL names an unnamed check after its column when it references exactly one.
        let mut vars: Vec<String> = Vec::new();
        let _ = ast::visit_expressions(&ck.expr, |e: &Expr| {
            if let Expr::Identifier(id) = e {
                let name = self.ident(id);
                if !vars.contains(&name) {
                    vars.push(name);
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        let col = (vars.len() == 1).then(|| vars[0].clone());
        let name = self.constraint_name(
            &schema,
            ck.name.as_ref(),
            &table_leaf,
            col.as_deref(),
            "check",
        );
        let mut c = Element::new(kind::CHECK)
            .with(prop::CHECK_EXPRESSION_SCRIPT, script(&ck.expr.to_string()));
        if ck.no_inherit {
            c.set_prop(prop::IS_NO_INHERIT, Value::Bool(true));
        }
        if not_valid {
            c.set_prop(prop::IS_NOT_VALID, Value::Bool(true));
        }
        c.push_ref(rel::DEFINING_TABLE, Reference::to(parts.name.clone()));
        let c = self.named_or_disambiguated(c, name);
        parts.extra.push(c);
    }

    // ---------------------------------------------------------------- other objects

    fn index(&mut self, ci: ast::CreateIndex) -> Res {
        let table = self.object(&ci.table_name);
        let schema = table.first().to_string();
        let cols = self.index_column_names(&ci.columns);
        let leaf = match &ci.name {
            Some(n) => {
                let (_, leaf) = schema_and_name(self.platform, n);
                self.used_names
                    .insert(format!("{schema}.{leaf}").to_lowercase());
                leaf
            }
            None => {
                let generated =
                    self.constraint_name(&schema, None, table.leaf(), Some(&cols), "idx");
                generated.map(|n| n.leaf().to_string()).unwrap_or_default()
            }
        };
        let mut el = Element::new(kind::INDEX).named(table.child(leaf));
        if ci.unique {
            el.set_prop(prop::IS_UNIQUE, Value::Bool(true));
        }
        if let Some(using) = &ci.using {
            let method = using.to_string().to_lowercase();
            if method != "btree" {
                el.set_prop(prop::INDEX_METHOD, Value::Text(method));
            }
        }
        if let Some(pred) = &ci.predicate {
            el.set_prop(prop::FILTER_PREDICATE, script(&pred.to_string()));
        }
        if ci.nulls_distinct == Some(false) {
            el.set_prop(prop::NULLS_NOT_DISTINCT, Value::Bool(true));
        }
        if !ci.with.is_empty() {
            let with: Vec<String> = ci.with.iter().map(ToString::to_string).collect();
            el.set_prop(prop::WITH_OPTIONS, Value::Text(with.join(", ")));
        }
        for spec in self.key_specs(&table, &ci.columns) {
            el.push_child(rel::COLUMN_SPECIFICATIONS, spec);
        }
        for inc in &ci.include {
            el.push_ref(
                rel::INCLUDED_COLUMNS,
                Reference::to(table.child(self.ident(inc))),
            );
        }
        el.push_ref(rel::INDEXED_OBJECT, Reference::to(table));
        self.out.push(el);
        Ok(())
    }

    fn view(&mut self, cv: ast::CreateView, with_data: Option<bool>) -> Res {
        let name = self.object(&cv.name);
        let mut el = Element::new(kind::VIEW)
            .named(name.clone())
            .with(prop::QUERY_SCRIPT, script(&cv.query.to_string()));
        if cv.materialized {
            el.set_prop(prop::IS_MATERIALIZED, Value::Bool(true));
        }
        if with_data == Some(false) {
            el.set_prop(prop::WITH_NO_DATA, Value::Bool(true));
        }
        if cv.temporary {
            el.set_prop(prop::IS_TEMPORARY, Value::Bool(true));
        }
        if !cv.columns.is_empty() {
            let cols: Vec<String> = cv.columns.iter().map(|c| self.ident(&c.name)).collect();
            el.set_prop(prop::COLUMN_NAMES, Value::Text(cols.join(", ")));
        }
        if !matches!(cv.options, ast::CreateTableOptions::None) {
            el.set_prop(prop::OPTIONS, Value::Text(cv.options.to_string()));
        }
        el.push_ref(rel::SCHEMA, self.schema_ref(name.first()));
        self.out.push(el);
        Ok(())
    }

    fn trigger(&mut self, mut ct: ast::CreateTrigger) -> Res {
        ct.or_replace = false;
        let table = self.object(&ct.table_name);
        let (_, leaf) = schema_and_name(self.platform, &ct.name);
        let name = if self.pg() {
            table.child(leaf)
        } else {
            ObjectName::new([table.first().to_string(), leaf])
        };
        let mut el = Element::new(kind::DML_TRIGGER).named(name);
        let mut definition = Statement::CreateTrigger(ct.clone()).to_string();
        if let Some(args) = self.pending_trigger_args.take() {
            // The call is the end of a PostgreSQL trigger: `EXECUTE FUNCTION f()`.
            match definition.strip_suffix("()") {
                Some(head) => definition = format!("{head}({})", args.join(", ")),
                None => {
                    return Err(StmtError::Parse(format!(
                        "trigger arguments: expected the trigger to end with its function call: {definition}"
                    )));
                }
            }
        }
        el.set_prop(prop::BODY_SCRIPT, script(&definition));
        if let Some(period) = &ct.period {
            let timing = match period {
                TriggerPeriod::Before => "Before",
                TriggerPeriod::After | TriggerPeriod::For => "After",
                TriggerPeriod::InsteadOf => "InsteadOf",
            };
            el.set_prop(prop::TRIGGER_TIMING, Value::Text(timing.into()));
        }
        for event in &ct.events {
            let prop = match event {
                TriggerEvent::Insert => "IsInsertTrigger",
                TriggerEvent::Update(_) => "IsUpdateTrigger",
                TriggerEvent::Delete => "IsDeleteTrigger",
                TriggerEvent::Truncate => "IsTruncateTrigger",
            };
            el.set_prop(prop, Value::Bool(true));
        }
        el.push_ref(rel::PARENT, Reference::to(table));
        self.out.push(el);
        Ok(())
    }

    fn function(&mut self, mut cf: ast::CreateFunction) -> Res {
        cf.or_replace = false;
        let name = self.object(&cf.name);
        let schema = name.first().to_string();
        let procedure = std::mem::take(&mut self.pending_procedure);
        let kind = match &cf.return_type {
            _ if procedure => kind::PROCEDURE,
            Some(FunctionReturnType::SetOf(_)) => kind::MULTI_TVF,
            Some(FunctionReturnType::DataType(DataType::Table(_))) => kind::MULTI_TVF,
            _ => kind::SCALAR_FUNCTION,
        };
        let mut el = Element::new(kind).named(name.clone());
        if let Some(rt) = &cf.return_type {
            el.set_prop(prop::RETURN_TYPE, Value::Text(rt.to_string()));
        }
        if let Some(lang) = &cf.language {
            el.set_prop(prop::LANGUAGE, Value::Text(lang.value.to_lowercase()));
        }
        let mut signature = Vec::new();
        for (idx, arg) in cf.args.iter().flatten().enumerate() {
            let leaf = match &arg.name {
                Some(n) => self.ident(n),
                None => format!("${}", idx + 1),
            };
            let ty = parse_type_text(self.platform, &arg.data_type.to_string());
            let mut p = Element::new(kind::PARAMETER).named(name.child(leaf));
            match arg.mode {
                Some(ArgMode::Out) => p.set_prop(prop::IS_OUTPUT, Value::Bool(true)),
                Some(ArgMode::InOut) => p.set_prop(prop::MODE, Value::Text("InOut".into())),
                Some(ArgMode::Variadic) => p.set_prop(prop::MODE, Value::Text("Variadic".into())),
                _ => {}
            }
            if !matches!(arg.mode, Some(ArgMode::Out)) {
                signature.push(type_display(&ty));
            }
            if let Some(d) = &arg.default_expr {
                p.set_prop(prop::DEFAULT_EXPRESSION_SCRIPT, script(&d.to_string()));
            }
            p.push_child(
                rel::TYPE_SPECIFIER,
                specifier_for(self.platform, &ty, &schema),
            );
            el.push_child(rel::PARAMETERS, p);
        }
        el.set_prop(prop::ARGUMENTS, Value::Text(signature.join(", ")));
        if let Some(attributes) = self.pending_attributes.take() {
            el.set_prop(prop::ATTRIBUTES, Value::Text(attributes));
        }
        let body = match &cf.function_body {
            Some(CreateFunctionBody::AsBeforeOptions { body, .. })
            | Some(CreateFunctionBody::AsAfterOptions(body)) => body_text(body),
            Some(CreateFunctionBody::Return(e)) | Some(CreateFunctionBody::AsReturnExpr(e)) => {
                format!("RETURN {e}")
            }
            Some(CreateFunctionBody::AsBeginEnd(b)) => b.to_string(),
            Some(CreateFunctionBody::AsReturnSelect(s)) => format!("RETURN {s}"),
            None => String::new(),
        };
        let (definition, body) = match self.pending_atomic.take() {
            Some((statement, atomic)) => (statement, atomic),
            None => (Statement::CreateFunction(cf).to_string(), body),
        };
        let definition = if procedure {
            definition.replacen("CREATE FUNCTION", "CREATE PROCEDURE", 1)
        } else {
            definition
        };
        el.set_prop(prop::DEFINITION_SCRIPT, script(&definition));
        if !procedure {
            let imp =
                Element::new(kind::FUNCTION_IMPLEMENTATION).with(prop::BODY_SCRIPT, script(&body));
            el.push_child(rel::FUNCTION_BODY, imp);
        }
        el.push_ref(rel::SCHEMA, self.schema_ref(&schema));
        self.out.push(el);
        Ok(())
    }

    fn comment(
        &mut self,
        object_type: CommentObject,
        name: &ast::ObjectName,
        comment: Option<String>,
    ) {
        let Some(comment) = comment else {
            return;
        };
        let raw = parts(self.platform, name);
        let (class, host) = match object_type {
            CommentObject::Column => {
                let mut p = raw.clone();
                if p.len() == 2 {
                    let schema = self.default_schema(&p.join("."));
                    p.insert(0, schema);
                }
                ("SqlColumn", ObjectName::new(p))
            }
            CommentObject::Schema => ("SqlSchema", ObjectName::new(raw)),
            CommentObject::Database => ("SqlDatabase", ObjectName::new(raw)),
            CommentObject::Role | CommentObject::User => ("SqlRole", ObjectName::new(raw)),
            CommentObject::Extension => ("PgExtension", ObjectName::new(raw)),
            other => {
                let class = match other {
                    CommentObject::Table => "SqlTable",
                    CommentObject::View | CommentObject::MaterializedView => "SqlView",
                    CommentObject::Index => "SqlIndex",
                    CommentObject::Function | CommentObject::Procedure => "SqlSubroutine",
                    CommentObject::Sequence => "SqlSequence",
                    CommentObject::Type | CommentObject::Domain => "SqlType",
                    _ => "SqlObject",
                };
                (class, self.object(name))
            }
        };
        let mut name_parts = vec![class.to_string()];
        name_parts.extend(host.parts().to_vec());
        name_parts.push("MS_Description".into());
        let mut el = Element::new(kind::EXTENDED_PROPERTY)
            .named(ObjectName::new(name_parts))
            .with(
                prop::VALUE,
                script(&format!("'{}'", comment.replace('\'', "''"))),
            );
        el.push_ref("Host", Reference::to(host));
        self.out.push(el);
    }

    fn grant(&mut self, g: &ast::Grant) {
        let perms: Vec<String> = match &g.privileges {
            Privileges::All { .. } => vec!["ALL".into()],
            Privileges::Actions(actions) => actions
                .iter()
                .map(|a| a.to_string().to_uppercase())
                .collect(),
        };
        let (class, objects): (&str, Vec<ObjectName>) = match &g.objects {
            Some(GrantObjects::Tables(t)) => ("Object", t.iter().map(|n| self.object(n)).collect()),
            Some(GrantObjects::Views(t)) => ("Object", t.iter().map(|n| self.object(n)).collect()),
            Some(GrantObjects::Sequences(t)) => {
                ("Sequence", t.iter().map(|n| self.object(n)).collect())
            }
            Some(GrantObjects::Schemas(s)) => (
                "Schema",
                s.iter()
                    .map(|n| ObjectName::new(parts(self.platform, n)))
                    .collect(),
            ),
            _ => {
                let def = Statement::Grant(g.clone()).to_string();
                self.opaque("PgGrant", None, def);
                return;
            }
        };
        for grantee in &g.grantees {
            let who = match (&grantee.grantee_type, &grantee.name) {
                (GranteesType::Public, _) => "public".to_string(),
                (_, Some(GranteeName::ObjectName(n))) => parts(self.platform, n).join("."),
                (_, Some(other)) => other.to_string(),
                (_, None) => grantee.to_string(),
            };
            for object in &objects {
                for perm in &perms {
                    let mut name_parts = vec![format!("Grant.{perm}.{class}"), who.clone()];
                    name_parts.extend(object.parts().to_vec());
                    let mut el = Element::new(kind::PERMISSION)
                        .named(ObjectName::new(name_parts))
                        .with_text(prop::PERMISSION, perm.clone())
                        .with_text(prop::GRANTEE, who.clone());
                    if g.with_grant_option {
                        el.set_prop(prop::WITH_GRANT_OPTION, Value::Bool(true));
                    }
                    el.push_ref("SecuredObject", Reference::to(object.clone()));
                    self.out.push(el);
                }
            }
        }
    }

    /// `DROP kind [IF EXISTS] names`: what applying it after the statements before it gives.
    /// An object this batch made is removed with what depends on it (a table's indexes,
    /// constraints, defaults, triggers and owned sequences); one it did not make is nothing to
    /// drop with `IF EXISTS`, and an error without (the server refuses it too).
    fn drop(
        &mut self,
        object_type: ast::ObjectType,
        if_exists: bool,
        names: &[ast::ObjectName],
    ) -> Res {
        use ast::ObjectType as O;
        let kinds: &[&str] = match object_type {
            O::Table => &[kind::TABLE],
            O::View | O::MaterializedView => &[kind::VIEW],
            O::Index => &[kind::INDEX],
            O::Sequence => &[kind::SEQUENCE],
            O::Schema => &[kind::SCHEMA],
            O::Type => &[
                "PgEnumType",
                "PgCompositeType",
                "PgRangeType",
                "PgType",
                "PgDomain",
            ],
            O::Collation => &["PgCollation"],
            O::Role | O::User => &["PgRole"],
            other => {
                return Err(StmtError::Parse(format!(
                    "DROP {other} is not supported in a PostgreSQL source"
                )));
            }
        };
        let cs = super::collation_case_sensitive(self.platform);
        for raw in names {
            let name = if object_type == O::Schema || matches!(object_type, O::Role | O::User) {
                ObjectName::new(parts(self.platform, raw))
            } else {
                self.object(raw)
            };
            let found = self.out.iter().position(|e| {
                kinds.contains(&e.kind.as_str())
                    && e.name.as_ref().is_some_and(|n| {
                        if object_type == O::Index {
                            // Index names are `[schema].[table].[index]`; DROP names `schema.index`.
                            n.parts().len() == 3
                                && ObjectName::new([n.first().to_string(), n.leaf().to_string()])
                                    .matches(&name, cs)
                        } else {
                            n.matches(&name, cs)
                        }
                    })
            });
            match found {
                Some(i) => {
                    let el = self.out.remove(i);
                    if let Some(gone) = el.name.as_ref() {
                        self.drop_dependents(gone);
                    }
                }
                None if if_exists => self.notes.push(format!(
                    "DROP {object_type} IF EXISTS {name}: not created before it, nothing to drop"
                )),
                None => {
                    return Err(StmtError::Parse(format!(
                        "DROP {object_type} {name}: no such object is created before it in this file (applying the file to an empty database fails here; write IF EXISTS)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Removes what goes with a dropped object: elements named under it, referring to it as
    /// their table, or (sequences) owned by one of its columns.
    fn drop_dependents(&mut self, gone: &ObjectName) {
        let cs = super::collation_case_sensitive(self.platform);
        let under = |n: &ObjectName| {
            n.parent().is_some_and(|p| {
                p.matches(gone, cs) || p.parent().is_some_and(|pp| pp.matches(gone, cs))
            })
        };
        self.out.retain(|e| {
            let named_under = e.name.as_ref().is_some_and(&under);
            let of_table = [rel::DEFINING_TABLE, rel::INDEXED_OBJECT, rel::PARENT]
                .iter()
                .any(|r| e.reference_name(r).is_some_and(|n| n.matches(gone, cs)));
            let owned = e.kind == kind::SEQUENCE && e.reference_name("OwnedBy").is_some_and(&under);
            let default_of =
                e.kind == kind::DEFAULT && e.reference_name(rel::FOR_COLUMN).is_some_and(&under);
            !(named_under || of_table || owned || default_of)
        });
    }

    /// `SET STATISTICS n` of a column of a table of this batch.
    pub fn column_statistics(
        &mut self,
        table: &ast::ObjectName,
        column: &Ident,
        value: &str,
        if_exists: bool,
    ) -> Res {
        let name = self.object(table);
        let leaf = self.ident(column);
        let Some(i) = self.find_table(&name) else {
            if if_exists {
                self.notes.push(format!(
                    "ALTER TABLE IF EXISTS {name}: not created before it, nothing to change"
                ));
                return Ok(());
            }
            return Err(StmtError::Parse(format!(
                "ALTER TABLE {name} ALTER COLUMN {leaf} SET STATISTICS: the table is not created before it in this file"
            )));
        };
        let Some(col) = column_mut(&mut self.out[i], &leaf) else {
            return Err(StmtError::Parse(format!(
                "ALTER TABLE {name}: no column {leaf}"
            )));
        };
        col.properties.retain(|p| p.name != prop::STATISTICS_TARGET);
        if value != "-1" {
            col.set_prop(prop::STATISTICS_TARGET, Value::from_attribute(value));
        }
        Ok(())
    }

    /// `ALTER INDEX i ALTER COLUMN n SET STATISTICS v` of an index of this batch: the index's
    /// `StatisticsTargets` (`n=v` pairs, in column order).
    pub fn index_statistics(
        &mut self,
        index: &ast::ObjectName,
        number: &str,
        value: &str,
        if_exists: bool,
    ) -> Res {
        let name = self.object(index);
        let cs = super::collation_case_sensitive(self.platform);
        let found = self.out.iter().position(|e| {
            e.kind == kind::INDEX
                && e.name.as_ref().is_some_and(|n| {
                    n.parts().len() == 3
                        && ObjectName::new([n.first().to_string(), n.leaf().to_string()])
                            .matches(&name, cs)
                })
        });
        let Some(i) = found else {
            if if_exists {
                self.notes.push(format!(
                    "ALTER INDEX IF EXISTS {name}: not created before it, nothing to change"
                ));
                return Ok(());
            }
            return Err(StmtError::Parse(format!(
                "ALTER INDEX {name} ALTER COLUMN {number} SET STATISTICS: the index is not created before it in this file"
            )));
        };
        let el = &mut self.out[i];
        let mut pairs: Vec<(u32, String)> = match el.prop(prop::STATISTICS_TARGETS) {
            Some(Value::Text(t)) => t
                .split(',')
                .filter_map(|p| p.split_once('='))
                .filter_map(|(n, v)| Some((n.trim().parse().ok()?, v.trim().to_string())))
                .collect(),
            _ => Vec::new(),
        };
        let n: u32 = number.parse().unwrap_or(0);
        pairs.retain(|(k, _)| *k != n);
        if value != "-1" {
            pairs.push((n, value.to_string()));
        }
        pairs.sort();
        el.properties.retain(|p| p.name != prop::STATISTICS_TARGETS);
        if !pairs.is_empty() {
            let text = pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            el.set_prop(prop::STATISTICS_TARGETS, Value::Text(text));
        }
        Ok(())
    }

    /// A constraint of `table` named `leaf` (in the table's schema), if this batch made it.
    fn find_constraint(&self, table: &ObjectName, leaf: &str) -> Option<usize> {
        let cs = super::collation_case_sensitive(self.platform);
        let name = ObjectName::new([table.first().to_string(), leaf.to_string()]);
        self.out.iter().position(|e| {
            e.name.as_ref().is_some_and(|n| n.matches(&name, cs))
                && e.reference_name(rel::DEFINING_TABLE)
                    .is_some_and(|t| t.matches(table, cs))
        })
    }

    /// The position of the table `name` in `out`. Positions are remembered by name and
    /// checked before use (elements move when others are removed); a search of every
    /// statement's table through all of `out` made large sources quadratic.
    fn find_table(&self, name: &ObjectName) -> Option<usize> {
        let cs = super::collation_case_sensitive(self.platform);
        let is_it = |e: &Element| {
            e.kind == kind::TABLE && e.name.as_ref().is_some_and(|n| n.matches(name, cs))
        };
        let key = name.key(cs);
        if let Some(&at) = self.table_at.borrow().get(&key)
            && self.out.get(at).is_some_and(is_it)
        {
            return Some(at);
        }
        let found = self.out.iter().position(is_it)?;
        self.table_at.borrow_mut().insert(key, found);
        Some(found)
    }

    fn alter_table(&mut self, at: ast::AlterTable) -> Res {
        let name = self.object(&at.name);
        let table_idx = self.find_table(&name);
        if table_idx.is_none() && self.pg() {
            if at.if_exists {
                self.notes.push(format!(
                    "ALTER TABLE IF EXISTS {name}: not created before it, nothing to change"
                ));
                return Ok(());
            }
            // Removing something from a table this file has not made: the server refuses it.
            let removes = at.operations.iter().find(|op| {
                matches!(
                    op,
                    AlterTableOperation::DropConstraint { .. }
                        | AlterTableOperation::DropColumn { .. }
                        | AlterTableOperation::AlterColumn {
                            op: AlterColumnOperation::DropDefault
                                | AlterColumnOperation::DropNotNull,
                            ..
                        }
                )
            });
            if let Some(op) = removes {
                return Err(StmtError::Parse(format!(
                    "ALTER TABLE {name} {op}: the table is not created before it in this file (applying the file to an empty database fails here; write ALTER TABLE IF EXISTS)"
                )));
            }
        }
        let mut rest = Vec::new();
        for op in &at.operations {
            let mut parts = TableParts {
                name: table_idx
                    .and_then(|i| self.out[i].name.clone())
                    .unwrap_or_else(|| name.clone()),
                columns: Vec::new(),
                extra: Vec::new(),
                pk_columns: Vec::new(),
            };
            match op {
                AlterTableOperation::OwnerTo { .. } => {}
                AlterTableOperation::DropConstraint {
                    if_exists, name: c, ..
                } if table_idx.is_some() && self.pg() => {
                    let leaf = self.ident(c);
                    match self.find_constraint(&parts.name, &leaf) {
                        Some(i) => {
                            self.out.remove(i);
                        }
                        None if *if_exists => self.notes.push(format!(
                            "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {leaf}: not created before it, nothing to drop",
                            parts.name
                        )),
                        None => {
                            return Err(StmtError::Parse(format!(
                                "ALTER TABLE {} DROP CONSTRAINT {leaf}: no such constraint is created before it in this file",
                                parts.name
                            )));
                        }
                    }
                }
                AlterTableOperation::AddConstraint {
                    constraint,
                    not_valid,
                } => {
                    self.table_constraint(&mut parts, constraint, *not_valid);
                }
                AlterTableOperation::AddColumn { column_def, .. } => {
                    let col = self.column(&mut parts, column_def)?;
                    parts.columns.push(col);
                }
                AlterTableOperation::DropColumn { column_names, .. } if table_idx.is_some() => {
                    let leaves: Vec<String> = column_names.iter().map(|c| self.ident(c)).collect();
                    if let Some(i) = table_idx {
                        for r in self.out[i]
                            .relationships
                            .iter_mut()
                            .filter(|r| r.name == rel::COLUMNS)
                        {
                            r.entries.retain(|e| match e {
                                Entry::Element(c) => !leaves
                                    .iter()
                                    .any(|l| c.name.as_ref().is_some_and(|n| n.leaf() == l)),
                                _ => true,
                            });
                        }
                    }
                }
                AlterTableOperation::EnableRowLevelSecurity if table_idx.is_some() => {
                    if let Some(i) = table_idx {
                        self.out[i]
                            .set_prop(prop::IS_ROW_LEVEL_SECURITY_ENABLED, Value::Bool(true));
                    }
                }
                AlterTableOperation::AlterColumn {
                    column_name,
                    op: col_op,
                } if table_idx.is_some() => {
                    let col = parts.name.child(self.ident(column_name));
                    if !self.alter_column(table_idx.unwrap_or_default(), &parts.name, &col, col_op)
                    {
                        rest.push(op.to_string());
                    }
                }
                other => rest.push(other.to_string()),
            }
            if let Some(i) = table_idx.filter(|_| self.pg()) {
                for col in &parts.pk_columns {
                    if let Some(c) = column_mut(&mut self.out[i], col) {
                        c.set_prop(prop::IS_NULLABLE, Value::Bool(false));
                    }
                }
            }
            for col in parts.columns {
                match table_idx {
                    Some(i) => self.out[i].push_child(rel::COLUMNS, col),
                    None => self.out.push(col),
                }
            }
            self.out.extend(parts.extra);
        }
        if !rest.is_empty() {
            let kind = format!("{}AlterTable", self.prefix());
            let def = format!("ALTER TABLE {} {}", at.name, rest.join(", "));
            self.opaque(&kind, None, def);
        }
        Ok(())
    }

    /// Folds `ALTER COLUMN` into a table of this batch; false when not foldable.
    fn alter_column(
        &mut self,
        table_idx: usize,
        table: &ObjectName,
        col: &ObjectName,
        op: &AlterColumnOperation,
    ) -> bool {
        let leaf = col.leaf().to_string();
        if column_mut(&mut self.out[table_idx], &leaf).is_none() {
            return false;
        }
        let cs = super::collation_case_sensitive(self.platform);
        let is_default_of = |e: &Element| {
            e.kind == kind::DEFAULT
                && e.reference_name(rel::FOR_COLUMN)
                    .is_some_and(|n| n.matches(col, cs))
        };
        match op {
            AlterColumnOperation::SetNotNull | AlterColumnOperation::DropNotNull => {
                let c = column_mut(&mut self.out[table_idx], &leaf).expect("checked above");
                if matches!(op, AlterColumnOperation::SetNotNull) {
                    c.set_prop(prop::IS_NULLABLE, Value::Bool(false));
                } else {
                    c.properties.retain(|p| p.name != "IsNullable");
                }
            }
            AlterColumnOperation::SetDefault { value } => {
                self.out.retain(|e| !is_default_of(e));
                let d = self.default_constraint(table, col, &value.to_string());
                self.out.push(d);
            }
            AlterColumnOperation::DropDefault => self.out.retain(|e| !is_default_of(e)),
            AlterColumnOperation::SetDataType {
                data_type,
                using: None,
                ..
            } => {
                let ty = parse_type_text(self.platform, &data_type.to_string());
                let spec = specifier_for(self.platform, &ty, table.first());
                let c = column_mut(&mut self.out[table_idx], &leaf).expect("checked above");
                c.relationships.retain(|r| r.name != rel::TYPE_SPECIFIER);
                c.push_child(rel::TYPE_SPECIFIER, spec);
            }
            _ => return false,
        }
        true
    }
}

/// The options of a sequence as written (`None`: the default), merged by `ALTER SEQUENCE`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqOptions {
    ty: Option<String>,
    increment: Option<String>,
    /// `Some(None)`: `NO MINVALUE`.
    min: Option<Option<String>>,
    max: Option<Option<String>>,
    start: Option<String>,
    cache: Option<String>,
    cycle: Option<bool>,
    /// `Some(None)`: `OWNED BY NONE`.
    owned: Option<Option<ast::ObjectName>>,
}

impl SeqOptions {
    fn merge(&mut self, other: SeqOptions) {
        macro_rules! take {
            ($($f:ident),*) => { $(if other.$f.is_some() { self.$f = other.$f; })* };
        }
        take!(ty, increment, min, max, start, cache, cycle, owned);
    }
}

/// Reads sequence options up to the end of the statement. `alter`: also `RESTART [WITH n]`
/// (returned as a note: the current value is data, not part of the model) and `OWNER TO`.
fn sequence_options(
    p: &mut Parser,
    what: &str,
    alter: bool,
) -> std::result::Result<(SeqOptions, Vec<String>), StmtError> {
    let mut o = SeqOptions::default();
    let mut notes = Vec::new();
    loop {
        if p.parse_keyword(Keyword::AS) {
            o.ty = Some(p.parse_data_type()?.to_string());
        } else if p.parse_keyword(Keyword::INCREMENT) {
            let _ = p.parse_keyword(Keyword::BY);
            o.increment = Some(signed(p)?);
        } else if p.parse_keywords(&[Keyword::NO, Keyword::MINVALUE]) {
            o.min = Some(None);
        } else if p.parse_keywords(&[Keyword::NO, Keyword::MAXVALUE]) {
            o.max = Some(None);
        } else if p.parse_keywords(&[Keyword::NO, Keyword::CYCLE]) {
            o.cycle = Some(false);
        } else if p.parse_keyword(Keyword::MINVALUE) {
            o.min = Some(Some(signed(p)?));
        } else if p.parse_keyword(Keyword::MAXVALUE) {
            o.max = Some(Some(signed(p)?));
        } else if p.parse_keyword(Keyword::START) {
            let _ = p.parse_keyword(Keyword::WITH);
            o.start = Some(signed(p)?);
        } else if p.parse_keyword(Keyword::CACHE) {
            o.cache = Some(signed(p)?);
        } else if p.parse_keyword(Keyword::CYCLE) {
            o.cycle = Some(true);
        } else if p.parse_keywords(&[Keyword::OWNED, Keyword::BY]) {
            o.owned = Some(if p.parse_keyword(Keyword::NONE) {
                None
            } else {
                Some(p.parse_object_name(false)?)
            });
        } else if alter && p.parse_keyword(Keyword::RESTART) {
            let with = if p.parse_keyword(Keyword::WITH)
                || matches!(p.peek_token().token, Token::Number(..) | Token::Minus)
            {
                format!(" WITH {}", signed(p)?)
            } else {
                String::new()
            };
            notes.push(format!(
                "RESTART{with} sets the current value, which is data: not part of the model"
            ));
        } else if alter && p.parse_keywords(&[Keyword::OWNER, Keyword::TO]) {
            // Ownership is not modelled (as `ALTER TABLE ... OWNER TO`).
            let _ = p.parse_identifier()?;
        } else {
            break;
        }
    }
    let next = p.peek_token();
    if next.token != Token::EOF {
        return Err(StmtError::At(
            next.span.start,
            format!("unexpected {} in {what}", next.token),
        ));
    }
    Ok((o, notes))
}

/// Parses PostgreSQL `CREATE SEQUENCE` itself: sqlparser 0.63 insists on one option order.
pub(crate) fn sequence(ctx: &mut Ctx, dialect: &dyn Dialect, tokens: Vec<TokenWithSpan>) -> Res {
    let mut p = Parser::new(dialect).with_tokens_with_locations(tokens);
    p.expect_keyword(Keyword::CREATE)?;
    let _ = p.parse_one_of_keywords(&[Keyword::TEMP, Keyword::TEMPORARY, Keyword::UNLOGGED]);
    p.expect_keyword(Keyword::SEQUENCE)?;
    let _ = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let raw_name = p.parse_object_name(false)?;
    let name = ctx.object(&raw_name);
    let (options, _) = sequence_options(&mut p, "CREATE SEQUENCE", false)?;
    let el = sequence_element(ctx, &name, &options);
    ctx.sequences
        .insert(name.to_string().to_lowercase(), options);
    ctx.out.push(el);
    Ok(())
}

/// `ALTER SEQUENCE [IF EXISTS] name options`, as pg_dump writes it (`OWNED BY t.c`, `OWNER TO`)
/// or with any option `CREATE SEQUENCE` takes, folded into a sequence of this batch.
pub(crate) fn alter_sequence(
    ctx: &mut Ctx,
    dialect: &dyn Dialect,
    tokens: Vec<TokenWithSpan>,
) -> Res {
    let mut p = Parser::new(dialect).with_tokens_with_locations(tokens);
    p.expect_keyword(Keyword::ALTER)?;
    p.expect_keyword(Keyword::SEQUENCE)?;
    let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let at = p.peek_token().span.start;
    let raw_name = p.parse_object_name(false)?;
    let name = ctx.object(&raw_name);
    let next = p.peek_token();
    if p.parse_keyword(Keyword::RENAME)
        || p.parse_keywords(&[Keyword::SET, Keyword::SCHEMA])
        || p.parse_keywords(&[Keyword::SET, Keyword::LOGGED])
        || p.parse_keywords(&[Keyword::SET, Keyword::UNLOGGED])
    {
        return Err(StmtError::At(
            next.span.start,
            format!(
                "ALTER SEQUENCE ... {} is not supported in a source: write the sequence as it should be",
                next.token
            ),
        ));
    }
    let (options, notes) = sequence_options(&mut p, "ALTER SEQUENCE", true)?;
    let cs = super::collation_case_sensitive(ctx.platform);
    let found = ctx.out.iter().position(|e| {
        e.kind == kind::SEQUENCE && e.name.as_ref().is_some_and(|n| n.matches(&name, cs))
    });
    let Some(found) = found else {
        if if_exists {
            ctx.notes.push(format!(
                "ALTER SEQUENCE IF EXISTS {name}: no such sequence, nothing to do"
            ));
            return Ok(());
        }
        return Err(StmtError::At(
            at,
            format!(
                "ALTER SEQUENCE {name}: no sequence of that name is created before it in this file"
            ),
        ));
    };
    for note in notes {
        ctx.notes.push(format!("ALTER SEQUENCE {name}: {note}"));
    }
    let key = name.to_string().to_lowercase();
    let mut merged = ctx.sequences.get(&key).cloned().unwrap_or_default();
    let owned_before = ctx.out[found].reference_name("OwnedBy").cloned();
    let only_owner = options.ty.is_none()
        && options.increment.is_none()
        && options.min.is_none()
        && options.max.is_none()
        && options.start.is_none()
        && options.cache.is_none()
        && options.cycle.is_none();
    merged.merge(options.clone());
    let name = ctx.out[found].name.clone().unwrap_or(name);
    let mut el = if only_owner && !ctx.sequences.contains_key(&key) {
        // A serial column's sequence: keep it, change only its owner.
        let mut el = ctx.out[found].clone();
        el.relationships.retain(|r| r.name != "OwnedBy");
        el
    } else {
        let mut el = sequence_element(ctx, &name, &merged);
        el.relationships.retain(|r| r.name != "OwnedBy");
        el
    };
    let owner = match &options.owned {
        Some(Some(owner)) => Some(owned_by(ctx, owner)),
        Some(None) => None,
        None => owned_before,
    };
    if let Some(owner) = owner {
        let pos = el
            .relationships
            .iter()
            .position(|r| r.name == rel::SCHEMA)
            .unwrap_or(el.relationships.len());
        el.relationships.insert(
            pos,
            crate::model::Relationship {
                name: "OwnedBy".into(),
                entries: vec![Entry::Reference(Reference::to(owner))],
            },
        );
    }
    ctx.sequences.insert(key, merged);
    ctx.out[found] = el;
    Ok(())
}

/// Data changes other than seed data are not a schema.
fn data_statement(what: &str) -> StmtError {
    StmtError::Parse(format!(
        "{what} changes data, not the schema: dac keeps INSERT, COPY ... FROM stdin and setval(...) of a schema file as the package's post-deployment script; put other data changes in postdeploy.sql"
    ))
}

/// The column named by `OWNED BY`: `table.column` or `schema.table.column`.
fn owned_by(ctx: &mut Ctx, owner: &ast::ObjectName) -> ObjectName {
    let p = parts(ctx.platform, owner);
    match p.len() {
        0..=2 => {
            let mut q = vec![ctx.default_schema(&p.join("."))];
            q.extend(p);
            ObjectName::new(q)
        }
        _ => ObjectName::new(p[p.len() - 3..].to_vec()),
    }
}

/// A `SqlSequence` from its options: properties only where they differ from the defaults.
fn sequence_element(ctx: &mut Ctx, name: &ObjectName, o: &SeqOptions) -> Element {
    let schema = name.first().to_string();
    let ty = o.ty.clone().unwrap_or_else(|| "bigint".to_string());
    let parsed = parse_type_text(ctx.platform, &ty);
    let (type_min, type_max): (i128, i128) = match parsed.name.first().map(String::as_str) {
        Some("smallint") => (i16::MIN.into(), i16::MAX.into()),
        Some("integer") => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    let num = |s: Option<&String>| s.and_then(|t| t.parse::<i128>().ok());
    let increment = num(o.increment.as_ref()).unwrap_or(1);
    let ascending = increment > 0;
    let dmin = if ascending { 1 } else { type_min };
    let dmax = if ascending { type_max } else { -1 };
    let minv = num(o.min.as_ref().and_then(Option::as_ref)).unwrap_or(dmin);
    let maxv = num(o.max.as_ref().and_then(Option::as_ref)).unwrap_or(dmax);
    let dstart = if ascending { minv } else { maxv };
    let mut el = Element::new(kind::SEQUENCE).named(name.clone());
    for (prop, value, default) in [
        ("StartValue", num(o.start.as_ref()), dstart),
        ("Increment", Some(increment), 1),
        ("MinValue", Some(minv), dmin),
        ("MaxValue", Some(maxv), dmax),
        ("CacheSize", num(o.cache.as_ref()), 1),
    ] {
        if let Some(v) = value
            && v != default
        {
            el.set_prop(prop, Value::from_attribute(&v.to_string()));
        }
    }
    if o.cycle == Some(true) {
        el.set_prop(prop::IS_CYCLING, Value::Bool(true));
    }
    el.push_child(
        rel::TYPE_SPECIFIER,
        specifier_for(ctx.platform, &parsed, &schema),
    );
    if let Some(Some(owner)) = &o.owned {
        let col = owned_by(ctx, owner);
        el.push_ref("OwnedBy", Reference::to(col));
    }
    el.push_ref(rel::SCHEMA, ctx.schema_ref(&schema));
    el
}

fn signed(p: &mut Parser) -> std::result::Result<String, sqlparser::parser::ParserError> {
    let neg = p.consume_token(&Token::Minus);
    if !neg {
        let _ = p.consume_token(&Token::Plus);
    }
    let v = p.parse_number_value()?.value.to_string();
    Ok(if neg { format!("-{v}") } else { v })
}

/// Merges what only a whole model can settle; call it after collecting every batch:
/// folds top-level columns (`ALTER TABLE ... ADD COLUMN` in another file) into their tables,
/// fills `ForeignColumns` of foreign keys that name no columns from the referenced table's
/// primary key, and renumbers disambiguators of unnamed top-level elements from 1.
pub fn finish(platform: Platform, elements: &mut Vec<Element>) {
    let cs = super::collation_case_sensitive(platform);
    if platform == Platform::Postgres {
        add_used_schemas(elements, cs);
    }
    // Columns added to tables defined elsewhere, moved into the first table of their name in
    // one pass (a search and a removal per element would make large sources quadratic).
    let mut tables: HashMap<String, usize> = HashMap::new();
    for (idx, e) in elements.iter().enumerate() {
        if e.kind == kind::TABLE
            && let Some(name) = &e.name
        {
            tables.entry(name.key(cs)).or_insert(idx);
        }
    }
    let mut kept = Vec::with_capacity(elements.len());
    let mut new_index = vec![usize::MAX; elements.len()];
    let mut moved = Vec::new();
    for (idx, el) in std::mem::take(elements).into_iter().enumerate() {
        let is_col = matches!(
            el.kind.as_str(),
            kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN
        );
        let table = is_col
            .then(|| el.name.as_ref().and_then(ObjectName::parent))
            .flatten()
            .and_then(|parent| tables.get(&parent.key(cs)).copied());
        match table {
            Some(table) => moved.push((table, el)),
            None => {
                new_index[idx] = kept.len();
                kept.push(el);
            }
        }
    }
    for (table, column) in moved {
        kept[new_index[table]].push_child(rel::COLUMNS, column);
    }
    *elements = kept;
    // Foreign keys to a primary key.
    let pks: Vec<(ObjectName, Vec<String>)> = elements
        .iter()
        .filter(|e| e.kind == kind::PRIMARY_KEY)
        .filter_map(|e| {
            let table = e.reference_name(rel::DEFINING_TABLE)?.clone();
            let cols = e
                .children(rel::COLUMN_SPECIFICATIONS)
                .filter_map(|s| s.reference_name(rel::COLUMN).map(|n| n.leaf().to_string()))
                .collect();
            Some((table, cols))
        })
        .collect();
    for fk in elements.iter_mut().filter(|e| e.kind == kind::FOREIGN_KEY) {
        if fk.relationship(rel::FOREIGN_COLUMNS).is_some() {
            continue;
        }
        let Some(foreign) = fk.reference_name(rel::FOREIGN_TABLE).cloned() else {
            continue;
        };
        if let Some((_, cols)) = pks.iter().find(|(t, _)| t.matches(&foreign, cs)) {
            let refs: Vec<Entry> = cols
                .iter()
                .map(|c| Entry::Reference(Reference::to(foreign.child(c.clone()))))
                .collect();
            // Keep DacFx's relationship order: Columns, DefiningTable, ForeignColumns, ForeignTable.
            let pos = fk
                .relationships
                .iter()
                .position(|r| r.name == rel::FOREIGN_TABLE)
                .unwrap_or(fk.relationships.len());
            fk.relationships.insert(
                pos,
                crate::model::Relationship {
                    name: rel::FOREIGN_COLUMNS.into(),
                    entries: refs,
                },
            );
        }
    }
    extension_types(cs, elements);
    let mut next = 1;
    for el in elements.iter_mut() {
        if el.name.is_none() {
            el.disambiguator = Some(next.to_string());
            next += 1;
        }
    }
}

/// `ExternalSource` of a type an extension makes: the model has no element for it.
pub const EXTENSION_SOURCE: &str = crate::model::EXTENSIONS;

/// Marks the type references that no element of the model defines as made by an extension
/// ([`EXTENSION_SOURCE`]), when the model creates an extension: the package then loads (the
/// reference is external, like a built-in) and the type is spelt as referenced (`"ext"."ltree"`).
/// Recomputed on every call, so a type defined in another batch of the same model is internal
/// again once the batches are combined. Without an extension an undefined type stays an internal
/// reference, which reading the package reports.
fn extension_types(cs: bool, elements: &mut [Element]) {
    if !elements.iter().any(|e| e.kind.as_str() == "PgExtension") {
        return;
    }
    let defined: HashSet<String> = elements
        .iter()
        .filter_map(|e| e.name.as_ref())
        .map(|n| n.key(cs))
        .collect();
    fn mark(el: &mut Element, defined: &HashSet<String>, cs: bool) {
        let is_spec = el.kind == kind::TYPE_SPECIFIER;
        for relationship in &mut el.relationships {
            let is_type = is_spec && relationship.name == rel::TYPE;
            for entry in &mut relationship.entries {
                match entry {
                    Entry::Reference(r) if is_type => {
                        let ours = r.external_source.is_none()
                            || r.external_source.as_deref() == Some(EXTENSION_SOURCE);
                        if let (true, Some(name)) = (ours, &r.name) {
                            r.external_source =
                                (!defined.contains(&name.key(cs))).then(|| EXTENSION_SOURCE.into());
                        }
                    }
                    Entry::Element(child) => mark(child, defined, cs),
                    _ => {}
                }
            }
        }
    }
    for el in elements.iter_mut() {
        mark(el, &defined, cs);
    }
}

fn column_mut<'a>(table: &'a mut Element, leaf: &str) -> Option<&'a mut Element> {
    table
        .relationships
        .iter_mut()
        .filter(|r| r.name == rel::COLUMNS)
        .flat_map(|r| r.entries.iter_mut())
        .find_map(|e| match e {
            Entry::Element(c) if c.name.as_ref().is_some_and(|n| n.leaf() == leaf) => Some(c),
            _ => None,
        })
}

fn spec_for_column(column: &ObjectName) -> Element {
    Element::new(kind::INDEXED_COLUMN).with_ref(rel::COLUMN, Reference::to(column.clone()))
}

fn characteristics(el: &mut Element, c: Option<&ConstraintCharacteristics>) {
    let Some(c) = c else {
        return;
    };
    if c.deferrable == Some(true) {
        el.set_prop(prop::IS_DEFERRABLE, Value::Bool(true));
    }
    if c.initially == Some(DeferrableInitial::Deferred) {
        el.set_prop(prop::IS_INITIALLY_DEFERRED, Value::Bool(true));
    }
    if c.enforced == Some(false) {
        el.set_prop(prop::IS_NOT_ENFORCED, Value::Bool(true));
    }
}

fn script(text: &str) -> Value {
    Value::Script(crate::model::Script {
        text: text.to_string(),
        quoted_identifiers: None,
        ansi_nulls: None,
    })
}

/// Object name parts joined with `.` (collations, operator classes).
fn parts_text(platform: Platform, name: &ast::ObjectName) -> String {
    parts(platform, name).join(".")
}

fn quote_pg(ident: &str) -> String {
    let plain = ident
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !ident.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        ident.to_string()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

/// `"name"`, always quoted, for PostgreSQL DDL.
fn quote_ident_pg(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// `"schema"."name"` for PostgreSQL DDL.
fn quote_name_pg(name: &ObjectName) -> String {
    name.parts()
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// The canonical type as PostgreSQL prints it in a signature.
fn type_display(ty: &super::types::TypeText) -> String {
    let mut out = ty.name.join(".");
    if ty.array_dims > 0 {
        out.push_str(&"[]".repeat(ty.array_dims as usize));
    }
    out
}

/// A function body: the contents of a dollar-quoted or quoted string, else the expression.
fn body_text(body: &Expr) -> String {
    match body {
        Expr::Value(v) => match &v.value {
            ast::Value::DollarQuotedString(d) => d.value.clone(),
            ast::Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// `ALTER TABLE|INDEX [IF EXISTS] [ONLY] parent ATTACH PARTITION child`, the head pg_dump
/// writes for both: where the parent starts, the parent, where the child starts, the child.
fn attach_head(
    p: &mut Parser,
    object: Keyword,
) -> Result<
    (
        Location,
        sqlparser::ast::ObjectName,
        Location,
        sqlparser::ast::ObjectName,
    ),
    StmtError,
> {
    p.expect_keyword(Keyword::ALTER)?;
    p.expect_keyword(object)?;
    let _ = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let _ = p.parse_keyword(Keyword::ONLY);
    let parent_at = p.peek_token().span.start;
    let parent_raw = p.parse_object_name(false)?;
    if !p.parse_keywords(&[Keyword::ATTACH, Keyword::PARTITION]) {
        let next = p.peek_token();
        return Err(StmtError::At(
            next.span.start,
            format!("ALTER {object} {parent_raw}: only one ATTACH PARTITION is supported here"),
        ));
    }
    let child_at = p.peek_token().span.start;
    let child_raw = p.parse_object_name(false)?;
    Ok((parent_at, parent_raw, child_at, child_raw))
}

/// pg_dump's `ALTER TABLE [IF EXISTS] [ONLY] parent ATTACH PARTITION child FOR VALUES ... |
/// DEFAULT` (sqlparser 0.63 does not parse it): the child, created before it in this file as a
/// plain table, becomes a partition as `CREATE TABLE child PARTITION OF parent` builds it — its
/// columns are the parent's (a column that differs from the parent's is an error naming it).
pub(crate) fn attach_partition(
    ctx: &mut Ctx,
    dialect: &dyn Dialect,
    tokens: Vec<TokenWithSpan>,
) -> Res {
    let start = tokens
        .iter()
        .find(|t| !super::is_trivia(&t.token))
        .map(|t| t.span.start)
        .unwrap_or(Location::of(1, 1));
    let mut p = Parser::new(dialect).with_tokens_with_locations(tokens);
    let (_, parent_raw, child_at, child_raw) = attach_head(&mut p, Keyword::TABLE)?;
    let parent = ctx.object(&parent_raw);
    let child = ctx.object(&child_raw);
    // The bound: the rest of the statement.
    let mut bound_text = String::new();
    loop {
        let t = p.next_token();
        match t.token {
            Token::EOF | Token::SemiColon => break,
            other => {
                bound_text.push_str(&other.to_string());
                bound_text.push(' ');
            }
        }
    }
    let bound = super::partition::canonical(&bound_text);
    if !(bound.starts_with("FOR VALUES") || bound == "DEFAULT") {
        return Err(StmtError::At(
            child_at,
            format!(
                "ALTER TABLE {parent} ATTACH PARTITION {child}: expected FOR VALUES ... or DEFAULT, found `{bound}`"
            ),
        ));
    }
    let cs = super::collation_case_sensitive(ctx.platform);
    let find = |ctx: &Ctx, name: &ObjectName| {
        ctx.out.iter().position(|e| {
            e.kind == kind::TABLE && e.name.as_ref().is_some_and(|n| n.matches(name, cs))
        })
    };
    let (Some(pi), Some(ci)) = (find(ctx, &parent), find(ctx, &child)) else {
        return Err(StmtError::At(
            start,
            format!(
                "ALTER TABLE {parent} ATTACH PARTITION {child}: both tables must be created before it in this file"
            ),
        ));
    };
    let column_sig = |e: &Element| {
        (
            e.name_or_empty().leaf().to_lowercase(),
            format!("{:?}", e.children(rel::TYPE_SPECIFIER).collect::<Vec<_>>()),
            e.bool_prop(prop::IS_NULLABLE),
        )
    };
    // The columns are the root's: a sub-partitioned parent may be attached already.
    let mut root = pi;
    for _ in 0..32 {
        let Some(up) = ctx.out[root].reference_name("PartitionOf").cloned() else {
            break;
        };
        match find(ctx, &up) {
            Some(i) => root = i,
            None => break,
        }
    }
    let root_name = ctx.out[root].name_or_empty();
    let parent_cols: Vec<_> = ctx.out[root]
        .children(rel::COLUMNS)
        .map(column_sig)
        .collect();
    for c in ctx.out[ci].children(rel::COLUMNS) {
        let sig = column_sig(c);
        if !parent_cols.contains(&sig) {
            return Err(StmtError::At(
                child_at,
                format!(
                    "ALTER TABLE {parent} ATTACH PARTITION {child}: column {} differs from the parent's (type or NOT NULL) or is not in it; a partition's columns are its parent's",
                    c.name_or_empty()
                ),
            ));
        }
    }
    // Defaults the child repeats from the parent go with its columns; others are an error.
    let default_of = |ctx: &Ctx, table: &ObjectName, column: &str| {
        ctx.out.iter().position(|e| {
            e.kind == kind::DEFAULT
                && e.reference_name(rel::DEFINING_TABLE)
                    .is_some_and(|t| t.matches(table, cs))
                && e.reference_name(rel::FOR_COLUMN)
                    .is_some_and(|c| c.leaf().eq_ignore_ascii_case(column))
        })
    };
    let child_cols: Vec<String> = ctx.out[ci]
        .children(rel::COLUMNS)
        .map(|c| c.name_or_empty().leaf().to_string())
        .collect();
    for column in &child_cols {
        if let Some(d) = default_of(ctx, &child, column) {
            let same = default_of(ctx, &root_name, column).is_some_and(|pd| {
                ctx.out[pd].prop(prop::DEFAULT_EXPRESSION_SCRIPT)
                    == ctx.out[d].prop(prop::DEFAULT_EXPRESSION_SCRIPT)
            });
            if !same {
                return Err(StmtError::At(
                    child_at,
                    format!(
                        "ALTER TABLE {parent} ATTACH PARTITION {child}: the default of column {column} differs from the parent's; a per-partition default is not supported"
                    ),
                ));
            }
            ctx.out.remove(d);
        }
    }
    // Check constraints the child repeats from the parent (pg_dump writes them in the child's
    // CREATE TABLE) are the parent's, inherited.
    let checks_of = |ctx: &Ctx, table: &ObjectName| -> Vec<usize> {
        (0..ctx.out.len())
            .filter(|&i| {
                ctx.out[i].kind == kind::CHECK
                    && ctx.out[i]
                        .reference_name(rel::DEFINING_TABLE)
                        .is_some_and(|t| t.matches(table, cs))
            })
            .collect()
    };
    let parent_checks: Vec<(String, Option<Value>)> = checks_of(ctx, &root_name)
        .into_iter()
        .map(|i| {
            (
                ctx.out[i].name_or_empty().leaf().to_lowercase(),
                ctx.out[i].prop(prop::CHECK_EXPRESSION_SCRIPT).cloned(),
            )
        })
        .collect();
    let mut inherited: Vec<usize> = checks_of(ctx, &child)
        .into_iter()
        .filter(|&i| {
            parent_checks.contains(&(
                ctx.out[i].name_or_empty().leaf().to_lowercase(),
                ctx.out[i].prop(prop::CHECK_EXPRESSION_SCRIPT).cloned(),
            ))
        })
        .collect();
    inherited.sort_unstable();
    for i in inherited.into_iter().rev() {
        ctx.out.remove(i);
    }
    let ci = find(ctx, &child).unwrap_or(ci);
    let parent_name = ctx.out[find(ctx, &parent).unwrap_or(pi)].name_or_empty();
    let table = &mut ctx.out[ci];
    table.relationships.retain(|r| r.name != rel::COLUMNS);
    let schema_at = table
        .relationships
        .iter()
        .position(|r| r.name == rel::SCHEMA)
        .unwrap_or(table.relationships.len());
    table.push_ref("PartitionOf", Reference::to(parent_name));
    let last = table.relationships.pop();
    if let Some(last) = last {
        table.relationships.insert(schema_at, last);
    }
    table.set_prop(prop::PARTITION_BOUND, Value::Text(bound));
    Ok(())
}

/// pg_dump's `ALTER INDEX parent ATTACH PARTITION child`: the child index (or the key
/// constraint it backs) is the parent's on that partition, which the parent's index implies;
/// it is not an element of its own, as when the index is created on the partitioned table.
pub(crate) fn attach_index(
    ctx: &mut Ctx,
    dialect: &dyn Dialect,
    tokens: Vec<TokenWithSpan>,
) -> Res {
    let mut p = Parser::new(dialect).with_tokens_with_locations(tokens);
    let (parent_at, parent_raw, child_at, child_raw) = attach_head(&mut p, Keyword::INDEX)?;
    let parent = ctx.object(&parent_raw);
    let child = ctx.object(&child_raw);
    let cs = super::collation_case_sensitive(ctx.platform);
    // An index is [schema].[table].[name]; a key constraint [schema].[name].
    let is = |e: &Element, name: &ObjectName| {
        let Some(n) = e.name.as_ref() else {
            return false;
        };
        let parts: Vec<&str> = n.parts().into_iter().collect();
        let leaf_ok = |a: &str, b: &str| {
            if cs {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        match e.kind.as_str() {
            kind::INDEX => {
                parts.len() == 3
                    && leaf_ok(parts[0], name.first())
                    && leaf_ok(parts[2], name.leaf())
            }
            kind::PRIMARY_KEY | kind::UNIQUE => n.matches(name, cs),
            _ => false,
        }
    };
    if !ctx.out.iter().any(|e| is(e, &parent)) {
        return Err(StmtError::At(
            parent_at,
            format!(
                "ALTER INDEX {parent} ATTACH PARTITION {child}: no index or key {parent} is created before it in this file"
            ),
        ));
    }
    let Some(ci) = ctx.out.iter().position(|e| is(e, &child)) else {
        return Err(StmtError::At(
            child_at,
            format!(
                "ALTER INDEX {parent} ATTACH PARTITION {child}: no index or key {child} is created before it in this file"
            ),
        ));
    };
    ctx.out.remove(ci);
    Ok(())
}

/// A schema that objects are created in but that no `CREATE SCHEMA` of the source makes (a
/// file for a database whose schemas exist, as psqldef and pg_dump of one schema assume) is
/// made with them: a deploy creates it if it is missing, and a drop of objects not in the
/// source never takes it while the source uses it.
fn add_used_schemas(elements: &mut Vec<Element>, cs: bool) {
    let declared: Vec<ObjectName> = elements
        .iter()
        .filter(|e| e.kind == kind::SCHEMA)
        .filter_map(|e| e.name.clone())
        .collect();
    let mut used: Vec<ObjectName> = Vec::new();
    for element in elements.iter() {
        for relationship in element
            .relationships
            .iter()
            .filter(|r| r.name == rel::SCHEMA)
        {
            for entry in &relationship.entries {
                if let Entry::Reference(r) = entry
                    && !r.is_built_in()
                    && let Some(name) = &r.name
                    && !declared.iter().any(|d| d.matches(name, cs))
                    && !used.iter().any(|u| u.matches(name, cs))
                {
                    used.push(name.clone());
                }
            }
        }
    }
    elements.extend(
        used.into_iter()
            .map(|name| Element::new(kind::SCHEMA).named(name)),
    );
}
