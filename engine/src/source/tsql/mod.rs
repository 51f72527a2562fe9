//! A T-SQL DDL parser that produces DacFx-shaped model elements.
//!
//! Batches come from [`crate::source::sqlcmd`]; each is tokenized with sqlparser's MsSql
//! tokenizer and parsed by our own recursive descent. Declarative objects (tables, indexes,
//! sequences, types, security) are parsed fully; procedure, function, view and trigger headers
//! are parsed and their bodies kept verbatim as DacFx keeps them. Objects the engine does not
//! model (partition functions, full-text indexes, security policies...) become opaque elements
//! with the DacFx type name and their statement text. Anything else is an [`Error::Sql`] at
//! the original file, line and column.

pub mod check;
mod cursor;
mod misc;
mod module;
mod resolve;
mod table;

use sqlparser::dialect::MsSqlDialect;
use sqlparser::tokenizer::Token;

use crate::error::Result;
use crate::model::kind;
use crate::model::refactor::RefactorOperation;
use crate::model::{Annotation, Element, Entry, ObjectName, Reference, Script, Value};
use crate::source::renamed::{self, Anchor};
use crate::source::sqlcmd::Batch;

use crate::model::kind::prop;
use cursor::{Cursor, Tok};
pub use resolve::Unresolved;

/// Schemas (and principals) that exist in every database: referenced as built-ins.
const BUILT_IN_SCHEMAS: &[&str] = &[
    "dbo",
    "sys",
    "guest",
    "INFORMATION_SCHEMA",
    "db_owner",
    "db_accessadmin",
    "db_securityadmin",
    "db_ddladmin",
    "db_backupoperator",
    "db_datareader",
    "db_datawriter",
    "db_denydatareader",
    "db_denydatawriter",
    "public",
];

/// Built-in scalar types (lower case, as DacFx names them).
const BUILT_IN_TYPES: &[&str] = &[
    "bigint",
    "binary",
    "bit",
    "char",
    "date",
    "datetime",
    "datetime2",
    "datetimeoffset",
    "decimal",
    "float",
    "geography",
    "geometry",
    "hierarchyid",
    "image",
    "int",
    "money",
    "nchar",
    "ntext",
    "numeric",
    "nvarchar",
    "real",
    "rowversion",
    "smalldatetime",
    "smallint",
    "smallmoney",
    "sql_variant",
    "sysname",
    "text",
    "time",
    "timestamp",
    "tinyint",
    "uniqueidentifier",
    "varbinary",
    "varchar",
    "xml",
    "json",
    "vector",
];

/// Builds model elements from T-SQL batches.
#[derive(Debug)]
pub struct TsqlBuilder {
    elements: Vec<Element>,
    next_disambiguator: u64,
    /// Whether some permission is granted on the database itself (it then references the
    /// database options element by disambiguator 1, as DacFx does).
    database_secured: bool,
    /// `ALTER DATABASE ... SET option = value` pairs, in order.
    database_set: Vec<(String, String)>,
    /// Named definitions of the current batch, where `-- @renamed` comments can attach.
    anchors: Vec<Anchor>,
    /// Renames declared by `-- @renamed from=OLD` comments, as refactor operations.
    refactor_operations: Vec<RefactorOperation>,
    /// Where each element of `elements` was declared (same index), for errors about it.
    origins: Vec<resolve::Origin>,
    /// Where the statement being parsed starts.
    statement_origin: resolve::Origin,
    /// Columns of an alias type with no NULL or NOT NULL of their own: nullable as the type
    /// says, known once every type is read.
    nullability_from_type: Vec<ObjectName>,
    /// The file and line each top-level object was created at, by kind and name.
    made: std::collections::HashMap<(String, String), String>,
}

/// The first disambiguator of inline-constraint annotations: 1 is the database options element;
/// DacFx numbers annotations after it.
const FIRST_DISAMBIGUATOR: u64 = 3;

impl Default for TsqlBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TsqlBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        TsqlBuilder {
            elements: Vec::new(),
            next_disambiguator: FIRST_DISAMBIGUATOR,
            database_secured: false,
            database_set: Vec::new(),
            anchors: Vec::new(),
            refactor_operations: Vec::new(),
            origins: Vec::new(),
            statement_origin: resolve::Origin::default(),
            nullability_from_type: Vec::new(),
            made: std::collections::HashMap::new(),
        }
    }

    /// Parses every statement of a batch.
    pub fn add_batch(&mut self, batch: &Batch) -> Result<()> {
        if batch.is_blank() {
            return Ok(());
        }
        let toks = cursor::tokenize(batch)?;
        let mut c = Cursor::new(&toks, batch);
        c.skip_semicolons();
        self.anchors.clear();
        while !c.at_end() {
            let (start, made) = (c.pos, self.elements.len());
            self.statement(&mut c, &toks)?;
            self.refuse_duplicates(made, &c, start)?;
            c.skip_semicolons();
        }
        let comments = renamed::rename_comments(&batch.text, &MsSqlDialect {});
        self.refactor_operations
            .extend(renamed::operations(&self.anchors, &comments, false));
        self.anchors.clear();
        Ok(())
    }

    /// Refuses a statement that made an object already made (same kind and name, as written):
    /// DacFx's SQL71508, where a script would otherwise create it twice.
    fn refuse_duplicates(&mut self, made: usize, c: &Cursor, start: usize) -> Result<()> {
        let site = || {
            let (line, column) = c.position(start);
            let (file, line, _) = c.batch.locate(line, column);
            format!("{}:{line}", file.display())
        };
        for idx in made..self.elements.len() {
            let element = &self.elements[idx];
            let Some(name) = &element.name else { continue };
            let key = (element.kind.as_str().to_string(), name.key(true));
            if let Some(first) = self.made.get(&key) {
                return Err(c.error_at(
                    start,
                    format!(
                        "{} {name} is already created at {first}: an object is created once",
                        element.kind
                    ),
                ));
            }
            self.made.insert(key, site());
        }
        Ok(())
    }

    /// Renames declared with `-- @renamed from=OLD` (sqldef's annotation), as `Rename Refactor`
    /// operations in declaration order.
    pub fn refactor_operations(&self) -> &[RefactorOperation] {
        &self.refactor_operations
    }

    /// Records that a definition of `kind` named `name` starts at token `idx`.
    fn anchor(&mut self, c: &Cursor, idx: usize, kind: &str, name: &ObjectName) {
        let (line, column) = c.position(idx);
        self.anchors.push(Anchor {
            line,
            column,
            kind: kind.to_string(),
            name: name.clone(),
        });
    }

    /// Whether a permission was granted on the database (so the database options element
    /// needs `Disambiguator="1"`).
    pub fn database_secured(&self) -> bool {
        self.database_secured
    }

    /// `ALTER DATABASE ... SET` options seen (upper-case option, value text).
    pub fn database_set_options(&self) -> &[(String, String)] {
        &self.database_set
    }

    /// The elements built, with relationships in DacFx order, references as written.
    pub fn finish(mut self) -> Vec<Element> {
        for element in &mut self.elements {
            sort_relationships(element);
        }
        self.elements
    }

    /// The elements of a whole project, with every reference resolved as DacFx's build resolves
    /// them (see [`resolve`]): spelled as the object was declared, external when it names
    /// another database, server or a login; one that names nothing in the project is an
    /// [`crate::error::Error::Sql`] at the declaration, or kept (`Unresolved::Keep`).
    pub fn finish_resolved(
        mut self,
        case_sensitive: bool,
        unresolved: Unresolved,
    ) -> Result<Vec<Element>> {
        resolve::resolve(
            &mut self.elements,
            &self.origins,
            case_sensitive,
            unresolved,
        )?;
        resolve::nullability_from_alias_types(&mut self.elements, &self.nullability_from_type);
        Ok(self.finish())
    }

    /// Appends what `later` built from the files after this builder's, giving what one builder
    /// reading all of them gives: `later`'s annotation disambiguators are numbered on after
    /// this one's. `Err(())` when `later` creates an object this builder created; the caller
    /// then builds the files in one sequence, which reports it where it is.
    pub(crate) fn append(&mut self, mut later: TsqlBuilder) -> std::result::Result<(), ()> {
        if later.made.keys().any(|key| self.made.contains_key(key)) {
            return Err(());
        }
        let offset = self.next_disambiguator - FIRST_DISAMBIGUATOR;
        if offset > 0 {
            for element in &mut later.elements {
                renumber_disambiguators(element, offset);
            }
        }
        self.next_disambiguator = later.next_disambiguator + offset;
        self.elements.append(&mut later.elements);
        self.origins.append(&mut later.origins);
        self.made.extend(later.made);
        self.database_secured |= later.database_secured;
        self.database_set.append(&mut later.database_set);
        self.refactor_operations
            .append(&mut later.refactor_operations);
        self.nullability_from_type
            .append(&mut later.nullability_from_type);
        Ok(())
    }

    fn disambiguator(&mut self) -> String {
        let d = self.next_disambiguator;
        self.next_disambiguator += 1;
        d.to_string()
    }

    fn push(&mut self, element: Element) {
        self.elements.push(element);
        self.origins.push(self.statement_origin.clone());
    }

    fn statement(&mut self, c: &mut Cursor, toks: &[Tok]) -> Result<()> {
        let start = c.pos;
        let (line, column) = c.position(start);
        self.statement_origin = resolve::Origin::at(c.batch, line, column);
        if c.eat_kw("CREATE") {
            if c.eat_kws(&["OR", "ALTER"]) {
                return self.create_module(c, start, toks);
            }
            return self.create(c, start, toks);
        }
        if c.eat_kw("ALTER") {
            if c.eat_kw("TABLE") {
                return self.alter_table(c);
            }
            if c.eat_kw("ROLE") {
                return self.alter_role(c);
            }
            if c.is_kw("DATABASE") && !c.is_kws(&["DATABASE", "SCOPED"]) {
                c.pos += 1;
                return self.alter_database(c, start);
            }
            return Err(not_a_declaration(c, start));
        }
        if c.is_kw("GRANT") || c.is_kw("DENY") || c.is_kw("REVOKE") {
            return self.permission(c);
        }
        if c.eat_kw("EXEC") || c.eat_kw("EXECUTE") {
            return self.exec(c);
        }
        if c.eat_kw("SET") {
            // SET ANSI_NULLS / QUOTED_IDENTIFIER / NOCOUNT ...: session settings, not objects.
            let known = [
                "ANSI_NULLS",
                "QUOTED_IDENTIFIER",
                "ANSI_PADDING",
                "ANSI_WARNINGS",
                "ARITHABORT",
                "CONCAT_NULL_YIELDS_NULL",
                "NUMERIC_ROUNDABORT",
                "NOCOUNT",
                "XACT_ABORT",
            ];
            if !known.iter().any(|k| c.is_kw(k)) {
                return Err(c.expected("a SET option such as ANSI_NULLS or QUOTED_IDENTIFIER"));
            }
            c.pos += 1;
            if !(c.eat_kw("ON") || c.eat_kw("OFF")) {
                return Err(c.expected("ON or OFF"));
            }
            return Ok(());
        }
        Err(c.expected(
            "a CREATE, ALTER, GRANT, DENY, REVOKE or EXEC sp_addextendedproperty statement",
        ))
    }

    fn create(&mut self, c: &mut Cursor, start: usize, toks: &[Tok]) -> Result<()> {
        if c.eat_kw("TABLE") {
            return self.create_table(c);
        }
        if c.is_kw("UNIQUE")
            || c.is_kw("CLUSTERED")
            || c.is_kw("NONCLUSTERED")
            || c.is_kw("INDEX")
            || c.is_kw("COLUMNSTORE")
        {
            return self.create_index(c);
        }
        if c.is_kws(&["PRIMARY", "XML", "INDEX"]) || c.is_kws(&["XML", "INDEX"]) {
            return self.opaque_statement(c, start, "SqlXmlIndex");
        }
        if c.is_kws(&["SPATIAL", "INDEX"]) {
            return self.opaque_statement(c, start, "SqlSpatialIndex");
        }
        if c.is_kw("PROCEDURE")
            || c.is_kw("PROC")
            || c.is_kw("FUNCTION")
            || c.is_kw("VIEW")
            || c.is_kw("TRIGGER")
        {
            return self.create_module(c, start, toks);
        }
        if c.eat_kw("SEQUENCE") {
            return self.create_sequence(c);
        }
        if c.eat_kw("SCHEMA") {
            return self.create_schema(c);
        }
        if c.eat_kw("ROLE") {
            return self.create_role(c);
        }
        if c.eat_kw("USER") {
            return self.create_user(c);
        }
        if c.eat_kw("TYPE") {
            return self.create_type(c);
        }
        if c.eat_kw("SYNONYM") {
            return self.create_synonym(c);
        }
        let opaque: &[(&[&str], &str)] = &[
            (&["PARTITION", "FUNCTION"], "SqlPartitionFunction"),
            (&["PARTITION", "SCHEME"], "SqlPartitionScheme"),
            (&["FULLTEXT", "INDEX"], "SqlFullTextIndex"),
            (&["FULLTEXT", "CATALOG"], "SqlFullTextCatalog"),
            (&["FULLTEXT", "STOPLIST"], "SqlFullTextStopList"),
            (&["SECURITY", "POLICY"], "SqlSecurityPolicy"),
            (&["LOGIN"], "SqlLogin"),
            (&["ASSEMBLY"], "SqlAssembly"),
            (&["CERTIFICATE"], "SqlCertificate"),
            (&["ASYMMETRIC", "KEY"], "SqlAsymmetricKey"),
            (&["SYMMETRIC", "KEY"], "SqlSymmetricKey"),
            (&["MASTER", "KEY"], "SqlMasterKey"),
            (&["COLUMN", "MASTER", "KEY"], "SqlColumnMasterKey"),
            (&["COLUMN", "ENCRYPTION", "KEY"], "SqlColumnEncryptionKey"),
            (&["XML", "SCHEMA", "COLLECTION"], "SqlXmlSchemaCollection"),
            (&["STATISTICS"], "SqlStatistic"),
            (&["EXTERNAL", "DATA", "SOURCE"], "SqlExternalDataSource"),
            (&["EXTERNAL", "FILE", "FORMAT"], "SqlExternalFileFormat"),
            (&["EXTERNAL", "TABLE"], "SqlExternalTable"),
            (&["EXTERNAL", "STREAM"], "SqlExternalStream"),
            (&["EXTERNAL", "STREAMING", "JOB"], "SqlExternalStreamingJob"),
            (&["APPLICATION", "ROLE"], "SqlApplicationRole"),
            (&["QUEUE"], "SqlQueue"),
            (&["SERVICE"], "SqlService"),
            (&["CONTRACT"], "SqlContract"),
            (&["MESSAGE", "TYPE"], "SqlMessageType"),
            (&["ROUTE"], "SqlRoute"),
            (&["AGGREGATE"], "SqlAggregate"),
            (&["RULE"], "SqlRule"),
            (&["DEFAULT"], "SqlDefault"),
            (&["EVENT", "NOTIFICATION"], "SqlEventNotification"),
            (
                &["DATABASE", "AUDIT", "SPECIFICATION"],
                "SqlDatabaseAuditSpecification",
            ),
            (
                &["DATABASE", "SCOPED", "CREDENTIAL"],
                "SqlDatabaseCredential",
            ),
            (
                &["DATABASE", "ENCRYPTION", "KEY"],
                "SqlDatabaseEncryptionKey",
            ),
            (&["SEARCH", "PROPERTY", "LIST"], "SqlSearchPropertyList"),
            (&["SELECTIVE", "XML", "INDEX"], "SqlSelectiveXmlIndex"),
            (&["REMOTE", "SERVICE", "BINDING"], "SqlRemoteServiceBinding"),
            (&["BROKER", "PRIORITY"], "SqlBrokerPriority"),
        ];
        for (words, kind) in opaque {
            if c.is_kws(words) {
                return self.opaque_statement(c, start, kind);
            }
        }
        Err(c.expected("an object type after CREATE"))
    }
}

/// The error for an ALTER that changes an object rather than completing a declaration. DacFx
/// refuses these too (SQL70001, "This statement is not recognized in this context"): a project
/// says what the database is, and the upgrade works out the ALTERs.
fn not_a_declaration(c: &Cursor, alter: usize) -> crate::error::Error {
    let mut words = Vec::new();
    for tok in &c.toks[alter..] {
        match &tok.token {
            Token::Word(w) if w.quote_style.is_none() && words.len() < 4 => {
                words.push(w.value.to_ascii_uppercase())
            }
            _ => break,
        }
    }
    let statement = match words.get(1).map(String::as_str) {
        Some("DATABASE") if words.get(2).is_some_and(|w| w == "SCOPED") => words.join(" "),
        _ => words.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
    };
    let hint = match words.get(1).map(String::as_str) {
        Some(module @ ("VIEW" | "PROCEDURE" | "PROC" | "FUNCTION" | "TRIGGER")) => {
            format!("; declare the object with CREATE {module} (or CREATE OR ALTER {module})")
        }
        Some("DATABASE") => {
            "; database-scoped settings belong in the project's properties or a post-deployment script".to_string()
        }
        _ => String::new(),
    };
    c.error_at(
        alter,
        format!(
            "{statement} does not belong in a project: a project holds CREATE statements (and the ALTER TABLE ... ADD, ALTER ROLE ... ADD MEMBER and ALTER DATABASE ... SET that complete them), as DacFx requires (SQL70001){hint}"
        ),
    )
}

/// Sorts relationships by name, recursively (DacFx writes them in that order).
fn sort_relationships(element: &mut Element) {
    element.relationships.sort_by(|a, b| a.name.cmp(&b.name));
    for rel in &mut element.relationships {
        for entry in &mut rel.entries {
            if let Entry::Element(child) = entry {
                sort_relationships(child);
            }
        }
    }
}

/// A schema-qualified name: one part gets `dbo`, three or four parts keep the last two.
fn qualify(mut parts: Vec<String>) -> ObjectName {
    match parts.len() {
        0 => ObjectName::default(),
        1 => ObjectName::new(["dbo".to_string(), parts.remove(0)]),
        2 => ObjectName::new(parts),
        n => ObjectName::new(parts.split_off(n - 2)),
    }
}

/// Reference to an object named with one to four parts: in this database for up to two, else
/// in another database or on another server, where the name keeps every part (`[OtherDB].[dbo].[T]`)
/// and the reference is external, as DacFx records it.
fn object_ref(parts: Vec<String>) -> Reference {
    if parts.len() > 2 {
        // `[OtherDB]..[T]` names the default schema of that database.
        let parts = parts
            .into_iter()
            .map(|p| if p.is_empty() { "dbo".to_string() } else { p });
        Reference::external(ObjectName::new(parts))
    } else {
        Reference::to(qualify(parts))
    }
}

/// Reference to a schema or principal: built-ins for `dbo`, `sys`, fixed roles.
fn principal_ref(name: &str) -> Reference {
    if BUILT_IN_SCHEMAS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
    {
        Reference::built_in(ObjectName::new([builtin_case(name)]))
    } else {
        Reference::to(ObjectName::new([name]))
    }
}

fn builtin_case(name: &str) -> String {
    BUILT_IN_SCHEMAS
        .iter()
        .find(|s| s.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |s| s.to_string())
}

/// The `Schema` relationship reference for a qualified name.
fn schema_ref(name: &ObjectName) -> Reference {
    principal_ref(name.first())
}

/// Reference to a filegroup (`[PRIMARY]` is built in).
fn filegroup_ref(name: &str) -> Reference {
    if name.eq_ignore_ascii_case("PRIMARY") {
        Reference::built_in(ObjectName::new(["PRIMARY"]))
    } else {
        Reference::to(ObjectName::new([name]))
    }
}

/// A script value as DacFx writes scripts from project builds.
fn script(text: &str) -> Value {
    Value::Script(Script {
        text: text.to_string(),
        quoted_identifiers: Some(true),
        ansi_nulls: Some(true),
    })
}

/// Adds `offset` to the annotation disambiguators [`TsqlBuilder::disambiguator`] gave in
/// `element` and the elements it holds (not the database options element's 1).
fn renumber_disambiguators(element: &mut Element, offset: u64) {
    let shift = |d: &mut String| {
        if let Ok(n) = d.parse::<u64>()
            && n >= FIRST_DISAMBIGUATOR
        {
            *d = (n + offset).to_string();
        }
    };
    let shift_annotation = |annotation: &mut Annotation| match annotation {
        Annotation::Inline {
            disambiguator: Some(d),
            ..
        }
        | Annotation::Attached { disambiguator: d } => shift(d),
        Annotation::Inline { .. } => {}
    };
    element.annotations.iter_mut().for_each(shift_annotation);
    for relationship in &mut element.relationships {
        for entry in &mut relationship.entries {
            match entry {
                Entry::Element(nested) => renumber_disambiguators(nested, offset),
                Entry::Annotation(annotation) => shift_annotation(annotation),
                Entry::Reference(_) | Entry::Empty => {}
            }
        }
    }
}

fn inline_annotation(kind: &str, disambiguator: String) -> Annotation {
    Annotation::Inline {
        kind: kind.into(),
        name: None,
        disambiguator: Some(disambiguator),
        properties: Vec::new(),
    }
}

/// T-SQL's synonyms of built-in types (ISO spellings), longest first: what each means.
const TYPE_SYNONYMS: &[(&[&str], &str)] = &[
    (&["NATIONAL", "CHARACTER", "VARYING"], "nvarchar"),
    (&["NATIONAL", "CHAR", "VARYING"], "nvarchar"),
    (&["CHARACTER", "VARYING"], "varchar"),
    (&["CHAR", "VARYING"], "varchar"),
    (&["NCHAR", "VARYING"], "nvarchar"),
    (&["BINARY", "VARYING"], "varbinary"),
    (&["DOUBLE", "PRECISION"], "float"),
    (&["NATIONAL", "CHARACTER"], "nchar"),
    (&["NATIONAL", "CHAR"], "nchar"),
    (&["NATIONAL", "TEXT"], "ntext"),
    (&["CHARACTER"], "char"),
    (&["INTEGER"], "int"),
    (&["DEC"], "decimal"),
];

/// The built-in type a synonym at the cursor means, consuming it. Only unquoted words: `[integer]`
/// names a type of that name, as in SQL Server.
fn type_synonym(c: &mut Cursor) -> Option<&'static str> {
    if matches!(c.peek_at(1), Some(Token::Period)) {
        return None;
    }
    let (words, meaning) = TYPE_SYNONYMS.iter().find(|(words, _)| c.is_kws(words))?;
    c.pos += words.len();
    Some(meaning)
}

/// Parses a data type into a `SqlTypeSpecifier` (or `SqlXmlTypeSpecifier`).
fn data_type(c: &mut Cursor) -> Result<Element> {
    let start = c.pos;
    let parts = match type_synonym(c) {
        Some(meaning) => vec![meaning.to_string()],
        None => c.object_name()?,
    };
    let builtin = match parts.as_slice() {
        [one] => BUILT_IN_TYPES
            .iter()
            .find(|t| t.eq_ignore_ascii_case(one))
            .map(|t| ObjectName::new([*t])),
        [schema, one]
            if schema.eq_ignore_ascii_case("sys")
                && BUILT_IN_TYPES.iter().any(|t| t.eq_ignore_ascii_case(one)) =>
        {
            let lower = one.to_ascii_lowercase();
            if matches!(lower.as_str(), "geography" | "geometry" | "hierarchyid") {
                Some(ObjectName::new(["sys".to_string(), lower]))
            } else {
                Some(ObjectName::new([lower]))
            }
        }
        _ => None,
    };
    let type_ref = match &builtin {
        Some(name) => Reference::built_in(name.clone()),
        None => {
            if parts.iter().any(String::is_empty) {
                return Err(c.error_at(start, "expected a data type name"));
            }
            Reference::to(qualify(parts.clone()))
        }
    };
    let base = builtin
        .as_ref()
        .map(|n| n.leaf().to_string())
        .unwrap_or_default();
    let mut spec = Element::new(kind::TYPE_SPECIFIER);
    if c.is(&Token::LParen) {
        let open = c.pos;
        c.pos += 1;
        if base == "xml" {
            let document = c.eat_kw("DOCUMENT");
            if !document {
                c.eat_kw("CONTENT");
            }
            let collection = qualify(c.object_name()?);
            c.expect(&Token::RParen, "`)`")?;
            let mut spec = Element::new(kind::XML_TYPE_SPECIFIER);
            if document {
                spec = spec.with_bool(prop::IS_XML_DOCUMENT, true);
            }
            return Ok(spec
                .with_ref("Type", type_ref)
                .with_ref("XmlSchemaCollection", Reference::to(collection)));
        }
        if c.eat_kw("MAX") {
            spec = spec.with_bool(prop::IS_MAX, true);
        } else {
            let first = c.number()?;
            let second = if c.eat(&Token::Comma) {
                Some(c.number()?)
            } else {
                None
            };
            let int = |s: &str, c: &Cursor| {
                s.parse::<i64>()
                    .map_err(|_| c.error_at(open + 1, format!("expected an integer, found {s}")))
            };
            match base.as_str() {
                "decimal" | "numeric" => {
                    let p = int(&first, c)?;
                    if let Some(s) = &second {
                        spec = spec.with_int(prop::SCALE, int(s, c)?);
                    }
                    spec = spec.with_int(prop::PRECISION, p);
                }
                "datetime2" | "time" | "datetimeoffset" => {
                    spec = spec.with_int(prop::SCALE, int(&first, c)?);
                }
                "float" | "real" => {
                    spec = spec.with_int(prop::PRECISION, int(&first, c)?);
                }
                _ => {
                    spec = spec.with_int(prop::LENGTH, int(&first, c)?);
                    if let Some(s) = &second {
                        spec = spec.with_int(prop::SCALE, int(s, c)?);
                    }
                }
            }
        }
        c.expect(&Token::RParen, "`)` after the type length")?;
    }
    Ok(spec.with_ref("Type", type_ref))
}

/// Skips to the end of the current statement: the next top-level `;` or the end of the batch.
fn skip_statement(c: &mut Cursor) {
    let mut depth = 0usize;
    while let Some(t) = c.peek() {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::SemiColon if depth == 0 => break,
            _ => {}
        }
        c.pos += 1;
    }
}

#[cfg(test)]
mod tests;
