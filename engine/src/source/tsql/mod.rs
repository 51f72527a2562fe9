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
mod table;

use sqlparser::tokenizer::Token;

use crate::error::Result;
use crate::model::kind;
use crate::model::refactor::RefactorOperation;
use crate::model::{Annotation, Element, Entry, ObjectName, Reference, Script, Value};
use crate::source::sqlcmd::Batch;

use crate::model::kind::prop;
use cursor::{Cursor, Tok};

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
    /// The file and line each top-level object was created at, by kind and name.
    made: std::collections::HashMap<(String, String), String>,
}

/// Where a named definition (table, column, constraint, index) starts in a batch.
#[derive(Debug, Clone)]
struct Anchor {
    line: u64,
    column: u64,
    kind: String,
    name: ObjectName,
}

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
            // 1 is the database options element; DacFx numbers annotations after it.
            next_disambiguator: 3,
            database_secured: false,
            database_set: Vec::new(),
            anchors: Vec::new(),
            refactor_operations: Vec::new(),
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
        for comment in cursor::rename_comments(batch) {
            // The comment renames the last definition that starts before it on its line.
            let anchor = self
                .anchors
                .iter()
                .filter(|a| a.line == comment.line && a.column < comment.column)
                .max_by_key(|a| a.column);
            if let Some(anchor) = anchor {
                let operation = rename_operation(&anchor.kind, &anchor.name, &comment.from);
                self.refactor_operations.push(operation);
            }
        }
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

    /// The elements built, with relationships in DacFx order.
    pub fn finish(mut self) -> Vec<Element> {
        for element in &mut self.elements {
            sort_relationships(element);
        }
        self.elements
    }

    fn disambiguator(&mut self) -> String {
        let d = self.next_disambiguator;
        self.next_disambiguator += 1;
        d.to_string()
    }

    fn push(&mut self, element: Element) {
        self.elements.push(element);
    }

    fn statement(&mut self, c: &mut Cursor, toks: &[Tok]) -> Result<()> {
        let start = c.pos;
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
            if c.eat_kw("DATABASE") {
                return self.alter_database(c, start);
            }
            return Err(c.expected("TABLE, ROLE or DATABASE after ALTER"));
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

/// A `Rename Refactor` operation for `name` (of DacFx type `kind`) whose old name is `from`: a
/// leaf, or a schema-qualified name for schema-scoped objects. The key is a GUID derived from
/// the names, so building the same source twice gives the same log.
fn rename_operation(kind: &str, name: &ObjectName, from: &str) -> RefactorOperation {
    let from_parts: Vec<&str> = from.split('.').collect();
    let mut old = name.clone();
    let n = old.parts().len();
    let m = from_parts.len().min(n);
    for (i, part) in from_parts[from_parts.len() - m..].iter().enumerate() {
        old = old.with_part(n - m + i, part);
    }
    let mut properties = vec![
        ("ElementName".to_string(), old.to_string()),
        ("ElementType".to_string(), kind.to_string()),
    ];
    if matches!(
        kind,
        kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN | kind::INDEX
    ) && let Some(parent) = old.parent()
    {
        properties.push(("ParentElementName".to_string(), parent.to_string()));
        properties.push(("ParentElementType".to_string(), kind::TABLE.to_string()));
    }
    let new_leaf = ObjectName::new([name.leaf()]).to_string();
    properties.push(("NewName".to_string(), new_leaf.clone()));
    RefactorOperation {
        name: "Rename Refactor".to_string(),
        key: guid_from(&format!("{kind}|{old}|{new_leaf}")),
        change_date_time: None,
        properties,
    }
}

/// A GUID-shaped key (version 5 layout) from the SHA-256 of `text`.
fn guid_from(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
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

fn inline_annotation(kind: &str, disambiguator: String) -> Annotation {
    Annotation::Inline {
        kind: kind.into(),
        name: None,
        disambiguator: Some(disambiguator),
        properties: Vec::new(),
    }
}

/// Parses a data type into a `SqlTypeSpecifier` (or `SqlXmlTypeSpecifier`).
fn data_type(c: &mut Cursor) -> Result<Element> {
    let start = c.pos;
    let parts = c.object_name()?;
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
