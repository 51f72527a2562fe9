//! The `Model`: one value type for the schema of a database application, on every platform.
//!
//! It mirrors DacFx's model.xml: a flat list of top-level [`Element`]s, each with a DacFx type name
//! (`SqlTable`, `SqlIndex`, ...), an optional multipart name, typed [`Property`] values, named
//! [`Relationship`]s (references to other elements, or nested elements such as columns) and
//! annotations. SQLite and PostgreSQL models use the same vocabulary with a DSP of our own, so
//! compare, plan and script see one shape. Kinds the engine understands are listed in [`kind`];
//! every other element is an *opaque object*: kept, written back and compared whole.
//!
//! This module is pure: no IO, no parsing of files, no SQL dialect knowledge.

pub mod build;
pub mod kind;
mod name;
pub mod refactor;
pub(crate) mod symbol;
pub mod view;

pub use name::{NameError, ObjectName};
pub use symbol::Symbol;

use std::collections::BTreeMap;

/// The platform a model targets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Microsoft SQL Server and Azure SQL (every DacFx DSP).
    SqlServer,
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Platform {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::SqlServer => "sqlserver",
            Platform::Sqlite => "sqlite",
            Platform::Postgres => "postgres",
        }
    }
}

/// A database schema provider: DacFx's `DspName`, e.g.
/// `Microsoft.Data.Tools.Schema.Sql.Sql160DatabaseSchemaProvider`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dsp(String);

const SQLSERVER_DSP_PREFIX: &str = "Microsoft.Data.Tools.Schema.Sql.";
const DSP_SUFFIX: &str = "DatabaseSchemaProvider";
/// Our own DSP for SQLite packages.
pub const SQLITE_DSP: &str = "Dac.Schema.Sqlite.SqliteDatabaseSchemaProvider";
/// Our own DSP for PostgreSQL packages.
pub const POSTGRES_DSP: &str = "Dac.Schema.Postgres.PostgresDatabaseSchemaProvider";

impl Dsp {
    /// A DSP from its full name as found in model.xml (any text is kept).
    pub fn from_full_name(name: impl Into<String>) -> Self {
        Dsp(name.into())
    }

    /// A DSP from a short name: `Sql160`, `SqlAzureV12`, `sqlite`, `postgres`, or a full name.
    pub fn from_short_name(short: &str) -> Option<Self> {
        match short.to_ascii_lowercase().as_str() {
            "sqlite" => return Some(Dsp(SQLITE_DSP.into())),
            "postgres" | "postgresql" => return Some(Dsp(POSTGRES_DSP.into())),
            "sqlserver" => return Some(Dsp::default_sqlserver()),
            _ => {}
        }
        if short.contains('.') {
            return Some(Dsp(short.to_string()));
        }
        let known = [
            "Sql90",
            "Sql100",
            "Sql110",
            "Sql120",
            "Sql130",
            "Sql140",
            "Sql150",
            "Sql160",
            "Sql170",
            "SqlAzure",
            "SqlAzureV12",
            "SqlDw",
            "SqlServerless",
            "SqlDwUnified",
            "SqlDbFabric",
        ];
        known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(short))
            .map(|k| Dsp(format!("{SQLSERVER_DSP_PREFIX}{k}{DSP_SUFFIX}")))
    }

    /// The DSP `dac build` uses for SQL Server when a project names none.
    pub fn default_sqlserver() -> Self {
        Dsp(format!("{SQLSERVER_DSP_PREFIX}Sql160{DSP_SUFFIX}"))
    }

    /// The full name, as written to model.xml.
    pub fn full_name(&self) -> &str {
        &self.0
    }

    /// The short name: `Sql160`, `SqlAzureV12`, `Sqlite`, `Postgres`.
    pub fn short_name(&self) -> &str {
        match self.platform() {
            Platform::Sqlite => "Sqlite",
            Platform::Postgres => "Postgres",
            Platform::SqlServer => {
                let name = self.0.rsplit('.').next().unwrap_or(&self.0);
                name.strip_suffix(DSP_SUFFIX).unwrap_or(name)
            }
        }
    }

    /// The platform of this DSP; any DSP that is not ours is SQL Server's.
    pub fn platform(&self) -> Platform {
        match self.0.as_str() {
            SQLITE_DSP => Platform::Sqlite,
            POSTGRES_DSP => Platform::Postgres,
            _ => Platform::SqlServer,
        }
    }
}

/// The whole model of one database application (model.xml's `DataSchemaModel`).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The schema provider the model was made for.
    pub dsp: Dsp,
    /// `FileFormatVersion` (1.2 in every package seen).
    pub file_format_version: String,
    /// `SchemaVersion` of the model (2.4 .. 3.5 seen).
    pub schema_version: String,
    /// `CollationLcid`.
    pub collation_lcid: String,
    /// `CollationCaseSensitive`: whether names differing only in case are different objects.
    pub collation_case_sensitive: bool,
    /// The `Header` (SQLCMD variables, references, ANSI settings); `None` when absent.
    pub header: Option<Vec<CustomData>>,
    /// Top-level elements in document order.
    pub elements: Vec<Element>,
    /// Annotations directly under `Model` (allowed by the format, rare).
    pub annotations: Vec<Annotation>,
}

impl Model {
    /// An empty model for a DSP, with the attributes DacFx writes today.
    pub fn empty(dsp: Dsp) -> Self {
        Model {
            dsp,
            file_format_version: "1.2".into(),
            schema_version: "2.9".into(),
            collation_lcid: "1033".into(),
            collation_case_sensitive: false,
            header: None,
            elements: Vec::new(),
            annotations: Vec::new(),
        }
    }

    /// The platform of the model.
    pub fn platform(&self) -> Platform {
        self.dsp.platform()
    }

    /// Count of top-level elements by DacFx type name.
    pub fn counts_by_kind(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for element in &self.elements {
            *counts.entry(element.kind.as_str()).or_insert(0) += 1;
        }
        counts
    }

    /// Count of top-level opaque objects (kinds the engine keeps but does not model) by type.
    pub fn opaque_counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = self.counts_by_kind();
        counts.retain(|kind, _| !kind::is_modelled(kind));
        counts
    }

    /// The first top-level element of a kind with a name (matched by the model's case rule).
    pub fn find(&self, kind: &str, name: &ObjectName) -> Option<&Element> {
        self.elements.iter().find(|e| {
            e.kind == kind
                && e.name
                    .as_ref()
                    .is_some_and(|n| n.matches(name, self.collation_case_sensitive))
        })
    }

    /// The first top-level element that repeats an earlier one's kind, name (by the model's
    /// case rule) and disambiguator, after that earlier one: a model holds each object once,
    /// or a script would create it twice. PostgreSQL's overloaded functions share a name and
    /// differ by their `Arguments`.
    pub fn first_duplicate(&self) -> Option<(&Element, &Element)> {
        let mut seen = std::collections::HashMap::with_capacity(self.elements.len());
        for element in &self.elements {
            let Some(name) = &element.name else { continue };
            let key = (
                element.kind.as_str(),
                name.key(self.collation_case_sensitive),
                element.disambiguator.as_deref(),
                element.text_prop(kind::prop::ARGUMENTS),
            );
            if let Some(first) = seen.insert(key, element) {
                return Some((first, element));
            }
        }
        None
    }

    /// Top-level elements of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements.iter().filter(move |e| e.kind == kind)
    }

    /// Sorts top-level elements as DacFx writes them: unnamed first, then by name ignoring case.
    /// The sort is stable, so elements with equal names keep their relative order.
    pub fn sort_elements(&mut self) {
        self.elements.sort_by_cached_key(|e| match &e.name {
            None => (0, String::new()),
            Some(name) => (1, name.to_string().to_lowercase()),
        });
    }

    /// Names of the SQLCMD variables the model declares (header `SqlCmdVariables`).
    pub fn sqlcmd_variables(&self) -> Vec<&str> {
        self.header
            .iter()
            .flatten()
            .filter(|c| c.category == "SqlCmdVariables")
            .flat_map(|c| &c.metadata)
            .map(|m| m.name.as_str())
            .collect()
    }

    /// The header metadata value of a `CustomData` category/type, e.g. ("AnsiNulls", None, "AnsiNulls").
    pub fn header_value(&self, category: &str, name: &str) -> Option<&str> {
        self.header
            .as_ref()?
            .iter()
            .filter(|c| c.category == category)
            .flat_map(|c| &c.metadata)
            .find(|m| m.name == name)
            .and_then(|m| m.value.as_deref())
    }
}

/// One `CustomData` block of the model header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomData {
    /// `Category`, e.g. `AnsiNulls`, `Reference`, `SqlCmdVariables`.
    pub category: String,
    /// `Type`, e.g. `Assembly`, `SqlSchema`, `SqlCmdVariable`.
    pub kind: Option<String>,
    /// `Metadata Name= Value=` pairs in order.
    pub metadata: Vec<Metadata>,
}

/// One `Metadata` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// `Name`.
    pub name: String,
    /// `Value`; `None` when the attribute is absent (DacFx writes `<Metadata Name="AssemblySymbolsName" />`).
    pub value: Option<String>,
}

/// An object or sub-object of the model (`<Element Type= Name= Disambiguator=>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// DacFx type name, e.g. `SqlTable`; see [`kind`].
    pub kind: Symbol,
    /// Multipart name; unnamed elements (inline constraints, options, type specifiers) have none.
    pub name: Option<ObjectName>,
    /// Identifies unnamed elements for references and annotations.
    pub disambiguator: Option<String>,
    /// Properties in document order.
    pub properties: Vec<Property>,
    /// Relationships in document order.
    pub relationships: Vec<Relationship>,
    /// Annotations and attached annotations, in document order.
    pub annotations: Vec<Annotation>,
}

/// A named property value.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Property name, e.g. `IsNullable`.
    pub name: Symbol,
    /// The value.
    pub value: Value,
}

/// A typed property value. Reading keeps the text exactly: `Bool` only for `True`/`False`, `Int`
/// only where the number prints back as it was written; everything else stays `Text`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `True` / `False`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Any other attribute value.
    Text(String),
    /// A script held in a `<Value>` child (bodies, expressions), with its parse settings.
    Script(Script),
    /// A property written with neither a `Value` attribute nor a `<Value>` child
    /// (`<Property Name="IsAnsiNullsOn" />`, seen in tSQLt's package).
    Absent,
}

impl Value {
    /// Types attribute text as [`Value`] without losing anything.
    pub fn from_attribute(text: &str) -> Value {
        match text {
            "True" => Value::Bool(true),
            "False" => Value::Bool(false),
            _ => match text.parse::<i64>() {
                // Only text that prints back the same (no `+`, no leading zeros, no `-0`).
                Ok(n) if is_canonical_int(text) => Value::Int(n),
                _ => Value::Text(text.to_string()),
            },
        }
    }

    /// The value as attribute text (`None` for scripts, which are written as `<Value>`).
    pub fn attribute_text(&self) -> Option<String> {
        match self {
            Value::Bool(true) => Some("True".into()),
            Value::Bool(false) => Some("False".into()),
            Value::Int(n) => Some(n.to_string()),
            Value::Text(text) => Some(text.clone()),
            Value::Script(_) | Value::Absent => None,
        }
    }

    /// Text of a text or script value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            Value::Script(script) => Some(&script.text),
            _ => None,
        }
    }
}

/// Script text kept in a `<Value>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The text, verbatim.
    pub text: String,
    /// `QuotedIdentifiers` attribute, when present.
    pub quoted_identifiers: Option<bool>,
    /// `AnsiNulls` attribute, when present.
    pub ansi_nulls: Option<bool>,
}

/// Whether `text`, already known to parse as an `i64`, is exactly how that number prints.
fn is_canonical_int(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !text.starts_with('+')
        && (!digits.starts_with('0') || (digits == "0" && digits.len() == text.len()))
}

/// A named relationship with its entries, e.g. `Columns`, `Schema`, `DefiningTable`.
#[derive(Debug, Clone, PartialEq)]
pub struct Relationship {
    /// Relationship name.
    pub name: Symbol,
    /// Entries in order.
    pub entries: Vec<Entry>,
}

/// One relationship entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A reference to an element elsewhere (or a built-in).
    Reference(Reference),
    /// A nested element owned by this one (a column, a type specifier...).
    Element(Element),
    /// An annotation standing alone in an entry.
    Annotation(Annotation),
    /// `<Entry />` with nothing in it: DacFx writes these in dependency lists (347 in the corpus).
    Empty,
}

impl Entry {
    /// The nested element, when this entry is one.
    pub fn element(&self) -> Option<&Element> {
        match self {
            Entry::Element(el) => Some(el),
            _ => None,
        }
    }
}

/// `<References Name= ExternalSource= Disambiguator=>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Name of the referenced element.
    pub name: Option<ObjectName>,
    /// `BuiltIns`, a referenced package, or `UnresolvedEntity`.
    pub external_source: Option<Symbol>,
    /// Disambiguator of an unnamed referenced element.
    pub disambiguator: Option<String>,
}

/// Source of built-in types, schemas and principals.
pub const BUILT_INS: &str = "BuiltIns";

/// Source DacFx writes for what lives outside the database: another database or server's
/// objects (`[OtherDB].[dbo].[T]`), server-level logins.
pub const UNRESOLVED_ENTITY: &str = "UnresolvedEntity";

/// `ExternalSource` of a type a PostgreSQL extension makes: the model has no element for it.
pub const EXTENSIONS: &str = "Extensions";

impl Reference {
    /// A reference to a named element of the model.
    pub fn to(name: ObjectName) -> Self {
        Reference {
            name: Some(name),
            external_source: None,
            disambiguator: None,
        }
    }

    /// A reference to a built-in (`[int]`, `[dbo]`, `[PRIMARY]`).
    pub fn built_in(name: ObjectName) -> Self {
        Reference {
            name: Some(name),
            external_source: Some(BUILT_INS.into()),
            disambiguator: None,
        }
    }

    /// A reference to something outside the database (`ExternalSource="UnresolvedEntity"`).
    pub fn external(name: ObjectName) -> Self {
        Reference {
            name: Some(name),
            external_source: Some(UNRESOLVED_ENTITY.into()),
            disambiguator: None,
        }
    }

    /// Whether this references a built-in.
    pub fn is_built_in(&self) -> bool {
        self.external_source.as_deref() == Some(BUILT_INS)
    }
}

/// An annotation on an element.
#[derive(Debug, Clone, PartialEq)]
pub enum Annotation {
    /// `<Annotation Type= Name= Disambiguator=>` with properties.
    Inline {
        /// `Type`, e.g. `SysCommentsObjectAnnotation`, `SqlInlineConstraintAnnotation`.
        kind: Symbol,
        /// `Name`, when present.
        name: Option<String>,
        /// `Disambiguator`, when present.
        disambiguator: Option<String>,
        /// Properties in order.
        properties: Vec<Property>,
    },
    /// `<AttachedAnnotation Disambiguator=>`: links this element to an annotation elsewhere.
    Attached {
        /// The annotation's disambiguator.
        disambiguator: String,
    },
}

impl Element {
    /// A new element with no name, properties or relationships.
    pub fn new(kind: impl Into<Symbol>) -> Self {
        Element {
            kind: kind.into(),
            name: None,
            disambiguator: None,
            properties: Vec::new(),
            relationships: Vec::new(),
            annotations: Vec::new(),
        }
    }

    /// The name, or an empty name for unnamed elements.
    pub fn name_or_empty(&self) -> ObjectName {
        self.name.clone().unwrap_or_default()
    }

    /// How messages and script comments name the element, never with an empty name: its kind,
    /// its name and the table it belongs to (`SqlIndex [main].[ix] on [main].[t]`), or what of
    /// these it has (`SqlPrimaryKeyConstraint on [main].[t]`).
    pub fn label(&self) -> String {
        let name = self.name.as_ref().filter(|n| !n.to_string().is_empty());
        match (name, view::owner(self)) {
            (Some(name), Some(owner)) => format!("{} {name} on {owner}", self.kind),
            (Some(name), None) => format!("{} {name}", self.kind),
            (None, Some(owner)) => format!("{} on {owner}", self.kind),
            (None, None) => format!("an unnamed {}", self.kind),
        }
    }

    /// A property's value.
    pub fn prop(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.value)
    }

    /// A boolean property (`None` when absent or not a boolean).
    pub fn bool_prop(&self, name: &str) -> Option<bool> {
        match self.prop(name)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// An integer property.
    pub fn int_prop(&self, name: &str) -> Option<i64> {
        match self.prop(name)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// A text or script property's text.
    pub fn text_prop(&self, name: &str) -> Option<&str> {
        self.prop(name)?.as_text()
    }

    /// Sets (replaces or appends) a property.
    pub fn set_prop(&mut self, name: &str, value: Value) {
        match self.properties.iter_mut().find(|p| p.name == name) {
            Some(p) => p.value = value,
            None => self.properties.push(Property {
                name: Symbol::new(name),
                value,
            }),
        }
    }

    /// A relationship by name.
    pub fn relationship(&self, name: &str) -> Option<&Relationship> {
        self.relationships.iter().find(|r| r.name == name)
    }

    /// The relationship by name, created empty at the end when missing.
    pub fn relationship_mut(&mut self, name: &str) -> &mut Relationship {
        let idx = match self.relationships.iter().position(|r| r.name == name) {
            Some(idx) => idx,
            None => {
                self.relationships.push(Relationship {
                    name: Symbol::new(name),
                    entries: Vec::new(),
                });
                self.relationships.len() - 1
            }
        };
        &mut self.relationships[idx]
    }

    /// The entries of a relationship, none when it is missing.
    fn entries<'a>(&'a self, rel: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.relationship(rel).into_iter().flat_map(|r| &r.entries)
    }

    /// References in a relationship.
    pub fn references<'a>(&'a self, rel: &str) -> impl Iterator<Item = &'a Reference> + 'a {
        self.entries(rel).filter_map(|e| match e {
            Entry::Reference(r) => Some(r),
            _ => None,
        })
    }

    /// The first referenced name in a relationship (`Schema`, `DefiningTable`, `Type`...).
    pub fn reference_name(&self, rel: &str) -> Option<&ObjectName> {
        self.references(rel).find_map(|r| r.name.as_ref())
    }

    /// Nested elements in a relationship (`Columns`, `TypeSpecifier`, `Parameters`...).
    pub fn children<'a>(&'a self, rel: &str) -> impl Iterator<Item = &'a Element> + 'a {
        self.entries(rel).filter_map(Entry::element)
    }

    /// Every reference this element and its nested elements make: its dependencies.
    pub fn dependencies(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        self.collect_dependencies(&mut out);
        out
    }

    fn collect_dependencies<'a>(&'a self, out: &mut Vec<&'a Reference>) {
        for rel in &self.relationships {
            for entry in &rel.entries {
                match entry {
                    Entry::Reference(r) => out.push(r),
                    Entry::Element(el) => el.collect_dependencies(out),
                    Entry::Annotation(_) | Entry::Empty => {}
                }
            }
        }
    }

    /// Count of this element and every element nested in it.
    pub fn count_all(&self) -> usize {
        1 + self
            .relationships
            .iter()
            .flat_map(|r| &r.entries)
            .map(|e| match e {
                Entry::Element(el) => el.count_all(),
                _ => 0,
            })
            .sum::<usize>()
    }
}
