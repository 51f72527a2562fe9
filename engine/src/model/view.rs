//! Typed, read-only views over elements of the kinds the engine models (tables, columns, keys,
//! indexes...). The element stays the source of truth; a view only interprets it.

use super::{Element, Entry, ObjectName, kind};
use crate::model::kind::prop;

/// A column's or parameter's data type (`SqlTypeSpecifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataType {
    /// The referenced type: `[int]`, `[dbo].[Phone]`, `[character varying]`.
    pub name: ObjectName,
    /// Whether it is a platform built-in.
    pub built_in: bool,
    /// `Length`.
    pub length: Option<i64>,
    /// `Precision`.
    pub precision: Option<i64>,
    /// `Scale`.
    pub scale: Option<i64>,
    /// `IsMax` (`nvarchar(max)`).
    pub is_max: bool,
    /// Array dimensions (PostgreSQL).
    pub array_dimensions: i64,
}

impl DataType {
    /// Reads a type specifier element.
    pub fn from_specifier(spec: &Element) -> Option<DataType> {
        let reference = spec.references(kind::rel::TYPE).next()?;
        Some(DataType {
            name: reference.name.clone()?,
            built_in: reference.is_built_in(),
            length: spec.int_prop(prop::LENGTH),
            precision: spec.int_prop(prop::PRECISION),
            scale: spec.int_prop(prop::SCALE),
            is_max: spec.bool_prop(prop::IS_MAX).unwrap_or(false),
            array_dimensions: spec.int_prop(prop::ARRAY_DIMENSIONS).unwrap_or(0),
        })
    }

    /// The type with the length, precision and scale it leaves out written in, as
    /// [`implied_type_property`] says: equal values for equal types (`datetime2` and
    /// `datetime2(7)`).
    pub fn with_implied(mut self, platform: super::Platform) -> DataType {
        if !self.built_in || self.is_max {
            return self;
        }
        let base = self.base();
        let implied = |property: &str| match implied_type_property(platform, &base, property) {
            Some(super::Value::Int(v)) => Some(v),
            _ => None,
        };
        self.length = self.length.or_else(|| implied(prop::LENGTH));
        self.precision = self.precision.or_else(|| implied(prop::PRECISION));
        self.scale = self.scale.or_else(|| implied(prop::SCALE));
        self
    }

    /// The type's own (last) name, lower-cased: `nvarchar`, `integer`.
    pub fn base(&self) -> String {
        self.name.leaf().to_lowercase()
    }
}

/// The length, precision or scale a built-in type has on `platform` when a definition leaves it
/// out: on SQL Server `datetime2` is `datetime2(7)`, `decimal` is `decimal(18,0)`, `numeric(10)`
/// is `numeric(10,0)`, `float` is `float(53)` and `varchar` in a column is `varchar(1)`, and
/// DacFx writes either form. PostgreSQL's and SQLite's sources spell each type one way already,
/// and a type modifier they leave out means "unconstrained", which no written value equals.
pub fn implied_type_property(
    platform: super::Platform,
    type_name: &str,
    property: &str,
) -> Option<super::Value> {
    if platform != super::Platform::SqlServer {
        return None;
    }
    let type_name = type_name.to_ascii_lowercase();
    let value = match (type_name.as_str(), property) {
        ("datetime2" | "time" | "datetimeoffset", prop::SCALE) => 7,
        ("decimal" | "numeric", prop::PRECISION) => 18,
        ("decimal" | "numeric", prop::SCALE) => 0,
        ("float", prop::PRECISION) => 53,
        ("char" | "varchar" | "nchar" | "nvarchar" | "binary" | "varbinary", prop::LENGTH) => 1,
        _ => return None,
    };
    Some(super::Value::Int(value))
}

/// A table (`SqlTable`) or table type (`SqlTableType`).
#[derive(Debug, Clone, Copy)]
pub struct TableView<'a>(pub &'a Element);

impl<'a> TableView<'a> {
    /// The table's name.
    pub fn name(&self) -> ObjectName {
        self.0.name_or_empty()
    }

    /// Columns in order.
    pub fn columns(&self) -> impl Iterator<Item = ColumnView<'a>> + 'a {
        self.0.children(kind::rel::COLUMNS).map(ColumnView)
    }

    /// A column by (case-insensitive) name.
    pub fn column(&self, name: &str) -> Option<ColumnView<'a>> {
        self.columns().find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// A column of a table, view or table type.
#[derive(Debug, Clone, Copy)]
pub struct ColumnView<'a>(pub &'a Element);

impl<'a> ColumnView<'a> {
    /// The column's own name.
    pub fn name(&self) -> &'a str {
        self.0.name.as_ref().map(ObjectName::leaf).unwrap_or("")
    }

    /// The column's data type (none for computed columns).
    pub fn data_type(&self) -> Option<DataType> {
        self.0
            .children(kind::rel::TYPE_SPECIFIER)
            .next()
            .and_then(DataType::from_specifier)
    }

    /// Whether NULL is allowed (the default when the property is omitted).
    pub fn is_nullable(&self) -> bool {
        self.0.bool_prop(prop::IS_NULLABLE).unwrap_or(true)
    }

    /// Whether this is an identity column.
    pub fn is_identity(&self) -> bool {
        self.0.bool_prop(prop::IS_IDENTITY).unwrap_or(false)
    }

    /// Identity seed and increment as written (`1`, `1`) when the column is an identity.
    pub fn identity(&self) -> Option<(String, String)> {
        // Written as text or as a number; `1` when missing.
        let as_written = |name: &str| {
            self.0.text_prop(name).map_or_else(
                || self.0.int_prop(name).map_or("1".into(), |n| n.to_string()),
                str::to_string,
            )
        };
        self.is_identity().then(|| {
            (
                as_written(prop::IDENTITY_SEED),
                as_written(prop::IDENTITY_INCREMENT),
            )
        })
    }

    /// The expression of a computed column.
    pub fn computed_expression(&self) -> Option<&'a str> {
        (self.0.kind == kind::COMPUTED_COLUMN || self.0.kind == kind::TABLE_TYPE_COMPUTED_COLUMN)
            .then(|| self.0.text_prop(prop::EXPRESSION_SCRIPT))
            .flatten()
    }

    /// Whether a computed column is stored.
    pub fn is_persisted(&self) -> bool {
        self.0.bool_prop(prop::IS_PERSISTED).unwrap_or(false)
    }

    /// The column's collation, when set.
    pub fn collation(&self) -> Option<&'a str> {
        self.0.text_prop(prop::COLLATION)
    }
}

/// One column of a key or index, with its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumn {
    /// The column's full name.
    pub column: ObjectName,
    /// Descending order.
    pub descending: bool,
}

/// Columns of a key or index (`ColumnSpecifications`).
pub fn key_columns(element: &Element) -> Vec<KeyColumn> {
    element
        .children(kind::rel::COLUMN_SPECIFICATIONS)
        .filter_map(|spec| {
            Some(KeyColumn {
                column: spec.reference_name(kind::rel::COLUMN)?.clone(),
                descending: spec.bool_prop(prop::IS_ASCENDING) == Some(false),
            })
        })
        .collect()
}

/// Names referenced in a relationship, in order (foreign-key columns, included columns).
pub fn referenced_names(element: &Element, rel: &str) -> Vec<ObjectName> {
    element
        .relationship(rel)
        .into_iter()
        .flat_map(|r| &r.entries)
        .filter_map(|e| match e {
            Entry::Reference(r) => r.name.clone(),
            _ => None,
        })
        .collect()
}

/// The table (or view) that an element belongs to: `DefiningTable`, `IndexedObject`, `Parent`.
pub fn owner(element: &Element) -> Option<&ObjectName> {
    [
        kind::rel::DEFINING_TABLE,
        kind::rel::INDEXED_OBJECT,
        kind::rel::PARENT,
    ]
    .iter()
    .find_map(|rel| element.reference_name(rel))
}

/// Foreign-key referential action (`OnDeleteAction`/`OnUpdateAction`): DacFx's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferentialAction {
    /// 0: NO ACTION.
    NoAction,
    /// 1: CASCADE.
    Cascade,
    /// 2: SET NULL.
    SetNull,
    /// 3: SET DEFAULT.
    SetDefault,
    /// 4: RESTRICT (PostgreSQL/SQLite).
    Restrict,
}

impl ReferentialAction {
    /// From DacFx's number (absent = NO ACTION).
    pub fn from_property(value: Option<i64>) -> Self {
        match value {
            Some(1) => Self::Cascade,
            Some(2) => Self::SetNull,
            Some(3) => Self::SetDefault,
            Some(4) => Self::Restrict,
            _ => Self::NoAction,
        }
    }

    /// SQL words.
    pub fn sql(self) -> &'static str {
        match self {
            Self::NoAction => "NO ACTION",
            Self::Cascade => "CASCADE",
            Self::SetNull => "SET NULL",
            Self::SetDefault => "SET DEFAULT",
            Self::Restrict => "RESTRICT",
        }
    }
}

/// A PostgreSQL sequence's options other than its start and increment, as `IdentityOptions`
/// holds them: only what differs from the defaults for its type (`smallint`, `integer`,
/// `bigint`) and direction, in one order, so a source and the catalog spell them alike.
pub fn sequence_options_text(
    type_name: &str,
    increment: i128,
    min: Option<i128>,
    max: Option<i128>,
    cache: Option<i128>,
    cycle: bool,
) -> Option<String> {
    let type_max: i128 = match type_name {
        "smallint" | "int2" => i16::MAX.into(),
        "integer" | "int" | "int4" => i32::MAX.into(),
        _ => i64::MAX.into(),
    };
    let type_min = -type_max - 1;
    let (default_min, default_max) = if increment < 0 {
        (type_min, -1)
    } else {
        (1, type_max)
    };
    let mut parts = Vec::new();
    if let Some(min) = min.filter(|m| *m != default_min) {
        parts.push(format!("MINVALUE {min}"));
    }
    if let Some(max) = max.filter(|m| *m != default_max) {
        parts.push(format!("MAXVALUE {max}"));
    }
    if let Some(cache) = cache.filter(|c| *c != 1) {
        parts.push(format!("CACHE {cache}"));
    }
    if cycle {
        parts.push("CYCLE".to_string());
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}
