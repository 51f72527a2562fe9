//! Where an extended property hangs. Its name says the host's kind only loosely (`SqlColumn`,
//! `SqlConstraint`, `SqlTableBase`) and its `Host` reference leaves out what a script needs (a
//! constraint's table, whether a column belongs to a table or a view), so the host is resolved
//! against the model it belongs to, as a chain of (kind, name) from the outermost level down.

use std::collections::HashMap;

use crate::model::symbol::WordBuildHasher;
use crate::model::{Element, Model, ObjectName, kind, view};

/// Top-level elements of one model by name (every kind).
pub(crate) struct ByName<'a> {
    elements: HashMap<String, Vec<&'a Element>, WordBuildHasher>,
    case_sensitive: bool,
}

impl<'a> ByName<'a> {
    pub(crate) fn new(model: &'a Model) -> Self {
        let mut elements: HashMap<String, Vec<&'a Element>, WordBuildHasher> = HashMap::default();
        for element in &model.elements {
            if let Some(name) = &element.name {
                elements
                    .entry(name.key(model.collation_case_sensitive))
                    .or_default()
                    .push(element);
            }
        }
        ByName {
            elements,
            case_sensitive: model.collation_case_sensitive,
        }
    }

    /// The element named `name` whose kind is one of `kinds` (any kind when `kinds` is empty).
    fn find(&self, name: &ObjectName, kinds: &[&str]) -> Option<&'a Element> {
        self.elements
            .get(&name.key(self.case_sensitive))?
            .iter()
            .find(|e| kinds.is_empty() || kinds.contains(&e.kind.as_str()))
            .copied()
    }
}

const RELATIONS: &[&str] = &[kind::TABLE, kind::VIEW, kind::TABLE_TYPE];
const ROUTINES: &[&str] = &[
    kind::PROCEDURE,
    kind::SCALAR_FUNCTION,
    kind::INLINE_TVF,
    kind::MULTI_TVF,
];
const TYPES: &[&str] = &[kind::USER_DEFINED_DATA_TYPE, kind::TABLE_TYPE];

/// The host of extended property `property` as (kind, name) levels from the outermost
/// (`[("SqlSchema", "dbo"), ("SqlTable", "T"), ("SqlSimpleColumn", "c")]`); empty for the
/// database itself; `None` when the host is not in `index`'s model.
pub(crate) fn host_chain(index: &ByName<'_>, property: &Element) -> Option<Vec<(String, String)>> {
    let host_kind = property.name.as_ref()?.first().to_string();
    let Some(host) = property.reference_name("Host") else {
        return (host_kind == kind::DATABASE_OPTIONS).then(Vec::new);
    };
    let parts: Vec<&str> = host.parts().iter().collect();
    let level = |kind: &str, name: &str| (kind.to_string(), name.to_string());
    match (host_kind.as_str(), parts.as_slice()) {
        (kind::DATABASE_OPTIONS, _) => Some(Vec::new()),
        // One-part hosts: schemas, filegroups, principals, database DDL triggers.
        (_, &[name]) => Some(vec![level(&host_kind, name)]),
        // A column, index or parameter: its table, view, type or routine decides the level.
        ("SqlColumn" | "SqlIndexBase" | "SqlSubroutineParameter", &[schema, owner, name]) => {
            let kinds: &[&str] = if host_kind == "SqlSubroutineParameter" {
                ROUTINES
            } else {
                RELATIONS
            };
            let owner_element = index.find(&ObjectName::new([schema, owner]), kinds)?;
            Some(vec![
                level(kind::SCHEMA, schema),
                level(&owner_element.kind, owner),
                level(&host_kind, name),
            ])
        }
        // A constraint or trigger is named in its schema; its table is the level above it.
        ("SqlConstraint" | "SqlDmlTrigger", &[schema, name]) => {
            let element = index.find(host, &[])?;
            let table = view::owner(element)?;
            let table_kind = index
                .find(table, RELATIONS)
                .map_or(kind::TABLE, |t| t.kind.as_str());
            Some(vec![
                level(kind::SCHEMA, schema),
                level(table_kind, table.leaf()),
                level(&element.kind, name),
            ])
        }
        (_, &[schema, name]) => {
            let kinds: &[&str] = match host_kind.as_str() {
                kind::USER_DEFINED_DATA_TYPE => TYPES,
                "SqlTableBase" => &[kind::TABLE],
                "SqlFunction" => ROUTINES,
                _ => &[],
            };
            let element = index.find(host, kinds)?;
            Some(vec![
                level(kind::SCHEMA, schema),
                level(&element.kind, name),
            ])
        }
        _ => None,
    }
}
