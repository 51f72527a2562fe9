//! References resolved once the whole project is read, as DacFx's model build resolves them.
//!
//! A package names what an element uses by the used element's name as declared, and
//! `package::read` refuses a reference that names nothing in the model, so a build must never
//! write one. Each reference the parser made is therefore, in order:
//! - the name of an element of the project, spelled exactly as written: kept;
//! - the name of one under the model's collation (`items` for a table declared `Items`): spelled
//!   as declared;
//! - a login (server-level, never in a database's model): external, `UnresolvedEntity`;
//! - anything else: an error at the statement that made it, as DacFx's SQL71501.
//!
//! References to other databases or servers (three- and four-part names) are made external by
//! the parser itself, which sees how many parts were written.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::model::kind::prop;
use crate::model::{Element, Entry, ObjectName, Reference, Value, kind};
use crate::source::sqlcmd::Batch;

/// Where a statement starts in its source file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    file: PathBuf,
    line: u64,
    column: u64,
}

impl Origin {
    /// The source position of a 1-based line and column of `batch`.
    pub(crate) fn at(batch: &Batch, line: u64, column: u64) -> Origin {
        let (file, line, column) = batch.locate(line, column);
        Origin { file, line, column }
    }
}

/// What a reference that names nothing in the project becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unresolved {
    /// An error at the statement that made it (a project build).
    Refuse,
    /// Kept as written (DDL rendered from a catalog, checked one object at a time).
    Keep,
}

/// Resolves the references of `elements` (declared at `origins`, same index) in place.
pub(super) fn resolve(
    elements: &mut [Element],
    origins: &[Origin],
    case_sensitive: bool,
    unresolved: Unresolved,
) -> Result<()> {
    let mut declared = Declared::default();
    for element in elements.iter() {
        declared.add(element, case_sensitive);
    }
    if add_view_columns(elements, &declared, case_sensitive) {
        declared = Declared::default();
        for element in elements.iter() {
            declared.add(element, case_sensitive);
        }
    }
    for (idx, element) in elements.iter_mut().enumerate() {
        let origin = origins.get(idx).cloned().unwrap_or_default();
        let top = describe(element);
        let context = Context {
            declared: &declared,
            case_sensitive,
            unresolved,
            origin: &origin,
            top: &top,
        };
        resolve_element(element, &context)?;
    }
    Ok(())
}

/// A view's output columns are elements of the view in a package (`SqlComputedColumn`s in its
/// `Columns`, which compare does not weigh), but the builder keeps the view's query as text: the
/// columns an index on the view names are added here, so its references name elements. Says
/// whether any was added.
fn add_view_columns(elements: &mut [Element], declared: &Declared, case_sensitive: bool) -> bool {
    fn names(element: &Element, out: &mut Vec<ObjectName>) {
        for rel in &element.relationships {
            for entry in &rel.entries {
                match entry {
                    Entry::Reference(r) if r.external_source.is_none() => {
                        out.extend(r.name.clone());
                    }
                    Entry::Element(child) => names(child, out),
                    _ => {}
                }
            }
        }
    }
    let mut referenced = Vec::new();
    for element in elements.iter() {
        names(element, &mut referenced);
    }
    let views: HashMap<String, usize> = elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == kind::VIEW)
        .filter_map(|(i, e)| Some((e.name.as_ref()?.key(case_sensitive), i)))
        .collect();
    let mut added = HashSet::new();
    for name in referenced {
        if name.parts().len() < 3 || declared.has(&name, case_sensitive) {
            continue;
        }
        let Some(parent) = name.parent() else {
            continue;
        };
        let Some(&idx) = views.get(&parent.key(case_sensitive)) else {
            continue;
        };
        let view = &mut elements[idx];
        let column = view.name_or_empty().child(name.leaf());
        if added.insert(column.key(case_sensitive)) {
            view.push_child(
                kind::rel::COLUMNS,
                Element::new(kind::COMPUTED_COLUMN).named(column),
            );
        }
    }
    !added.is_empty()
}

/// Every name the project declares, at any depth (columns and parameters are referenced too).
#[derive(Default)]
struct Declared {
    exact: HashSet<ObjectName>,
    /// Collation key -> the name as first declared.
    by_key: HashMap<String, ObjectName>,
}

impl Declared {
    fn has(&self, name: &ObjectName, case_sensitive: bool) -> bool {
        self.exact.contains(name) || self.by_key.contains_key(&name.key(case_sensitive))
    }

    fn add(&mut self, element: &Element, case_sensitive: bool) {
        if let Some(name) = &element.name {
            self.exact.insert(name.clone());
            self.by_key
                .entry(name.key(case_sensitive))
                .or_insert_with(|| name.clone());
        }
        for rel in &element.relationships {
            for entry in &rel.entries {
                if let Entry::Element(child) = entry {
                    self.add(child, case_sensitive);
                }
            }
        }
    }
}

/// What resolving one top-level element needs.
struct Context<'a> {
    declared: &'a Declared,
    case_sensitive: bool,
    unresolved: Unresolved,
    origin: &'a Origin,
    /// The top-level element, described for messages.
    top: &'a str,
}

fn resolve_element(element: &mut Element, cx: &Context) -> Result<()> {
    for rel in &mut element.relationships {
        for entry in &mut rel.entries {
            match entry {
                Entry::Reference(reference) => {
                    let Err(name) =
                        resolve_reference(reference, &rel.name, cx.declared, cx.case_sensitive)
                    else {
                        continue;
                    };
                    if cx.unresolved == Unresolved::Keep {
                        continue;
                    }
                    // A column of a table that is missing too: name the table.
                    let mut missing = (name, noun(&rel.name));
                    while let Some(parent) = missing.0.parent()
                        && parent.parts().len() >= 2
                        && !cx.declared.has(&parent, cx.case_sensitive)
                    {
                        missing = (parent, "the table");
                    }
                    return Err(unresolved(cx, &rel.name, missing.1, &missing.0));
                }
                Entry::Element(child) => resolve_element(child, cx)?,
                _ => {}
            }
        }
    }
    Ok(())
}

/// Resolves one reference; `Err` gives the name nothing in the project declares.
fn resolve_reference(
    reference: &mut Reference,
    relationship: &str,
    declared: &Declared,
    case_sensitive: bool,
) -> std::result::Result<(), ObjectName> {
    let Some(name) = &reference.name else {
        return Ok(()); // by disambiguator: the database options element, added by the caller
    };
    if reference.external_source.is_some() || declared.exact.contains(name) {
        return Ok(());
    }
    if let Some(as_declared) = declared.by_key.get(&name.key(case_sensitive)) {
        reference.name = Some(as_declared.clone());
        return Ok(());
    }
    if relationship == LOGIN {
        *reference = Reference::external(name.clone());
        return Ok(());
    }
    Err(name.clone())
}

/// A user's `Login` relationship: logins are server-level objects.
const LOGIN: &str = "Login";

fn describe(element: &Element) -> String {
    match &element.name {
        Some(name) => format!("{} {name}", element.kind),
        None => format!("an unnamed {}", element.kind),
    }
}

/// What a relationship names, for the message.
fn noun(relationship: &str) -> &'static str {
    match relationship {
        kind::rel::SCHEMA | "DefaultSchema" => "the schema",
        kind::rel::FOREIGN_TABLE => "the table",
        "TemporalSystemVersioningHistoryTable" => "the history table",
        kind::rel::DEFINING_TABLE | kind::rel::INDEXED_OBJECT | kind::rel::PARENT => "the table",
        kind::rel::COLUMNS
        | kind::rel::FOREIGN_COLUMNS
        | kind::rel::COLUMN
        | kind::rel::FOR_COLUMN
        | kind::rel::INCLUDED_COLUMNS => "the column",
        kind::rel::TYPE => "the type",
        "Authorizer" | "Member" | "Role" | "Grantee" | "Grantor" => "the principal",
        "Filegroup" | "FilegroupForTextImage" | "FileStreamFilegroup" => "the filegroup",
        _ => "the object",
    }
}

fn unresolved(cx: &Context, relationship: &str, noun: &str, name: &ObjectName) -> Error {
    Error::Sql {
        file: cx.origin.file.clone(),
        line: cx.origin.line,
        column: cx.origin.column,
        message: format!(
            "{} refers to {noun} {name} (through {relationship}), which is not defined in the project: an unresolved reference (DacFx's SQL71501)",
            cx.top
        ),
    }
}

/// A column of an alias type declared `NOT NULL` (`CREATE TYPE Phone FROM varchar(20) NOT NULL`)
/// is NOT NULL unless it says NULL itself, as SQL Server makes it: `columns` are those that say
/// neither, by name. Runs after [`resolve`], so type references are spelled as declared.
pub(super) fn nullability_from_alias_types(elements: &mut [Element], columns: &[ObjectName]) {
    if columns.is_empty() {
        return;
    }
    let not_null_types: HashSet<ObjectName> = elements
        .iter()
        .filter(|e| {
            e.kind == kind::USER_DEFINED_DATA_TYPE && e.bool_prop(prop::IS_NULLABLE) == Some(false)
        })
        .filter_map(|e| e.name.clone())
        .collect();
    if not_null_types.is_empty() {
        return;
    }
    let columns: HashSet<&ObjectName> = columns.iter().collect();
    for element in elements.iter_mut() {
        if !matches!(element.kind.as_str(), kind::TABLE | kind::TABLE_TYPE) {
            continue;
        }
        for rel in &mut element.relationships {
            if rel.name != kind::rel::COLUMNS {
                continue;
            }
            for entry in &mut rel.entries {
                let Entry::Element(column) = entry else {
                    continue;
                };
                if !column.name.as_ref().is_some_and(|n| columns.contains(n)) {
                    continue;
                }
                let not_null = column
                    .children(kind::rel::TYPE_SPECIFIER)
                    .flat_map(|spec| spec.references(kind::rel::TYPE))
                    .any(|r| r.name.as_ref().is_some_and(|n| not_null_types.contains(n)));
                if not_null {
                    column.set_prop(prop::IS_NULLABLE, Value::Bool(false));
                }
            }
        }
    }
}
