//! compare(current, desired, options) -> [`Diff`]: what differs between two models.
//!
//! One algorithm for every platform and every element kind, opaque objects included: top-level
//! elements are matched by identity (kind + name, or a derived signature for unnamed elements such
//! as inline constraints), then compared by definition. Relationships that a producer derives by
//! binding names (body dependencies, view output columns) and annotations are not part of an
//! element's definition, so two producers of one schema compare equal.
//!
//! Pure: no IO, and it cannot fail on user data.

pub mod normalize;
mod object_types;

use std::collections::{BTreeSet, HashMap};

use globset::{GlobBuilder, GlobMatcher};
use similar::TextDiff;

use crate::model::kind::prop;
use crate::model::refactor::RefactorLog;
use crate::model::symbol::WordBuildHasher;
use crate::model::view::owner;
use crate::model::{Element, Entry, Model, ObjectName, Platform, Reference, Value, kind, view};
pub use normalize::TextRules;
pub use object_types::object_types;

/// What to compare and how.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Columns in another order are not a difference.
    pub ignore_column_order: bool,
    /// How bodies and expressions are normalised.
    pub text: TextRules,
    /// Objects only in the current model are to be dropped (DacFx `DropObjectsNotInSource`, off by
    /// default); when off they are reported as kept.
    pub drop_objects_not_in_source: bool,
    /// Kinds never dropped (DacFx `DoNotDropObjectTypes`): neither as objects not in source nor
    /// as a kept table's constraints, indexes and triggers the package no longer has
    /// ([`object_types`] reads SqlPackage's names).
    pub do_not_drop: BTreeSet<String>,
    /// Kinds left out of the comparison altogether (DacFx `ExcludeObjectTypes`), with what they
    /// own (a table's constraints, indexes and triggers).
    pub exclude_kinds: BTreeSet<String>,
    /// Only names matching one of these globs (`schema.name`, case-insensitive) are compared; a
    /// table's constraints, indexes and triggers go with it.
    pub include: Vec<String>,
    /// Names matching one of these globs are not compared, with what they own.
    pub exclude: Vec<String>,
    /// Renames to treat as renames rather than drop and create.
    pub renames: Vec<Rename>,
}

/// An element renamed or moved to another schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// Element kind (DacFx type name).
    pub kind: String,
    /// Name in the current model.
    pub from: ObjectName,
    /// Name in the desired model.
    pub to: ObjectName,
}

/// Renames recorded in a refactor log (`Rename Refactor`, `Move Schema`), in log order.
/// Chained renames (a -> b, b -> c) are folded to a -> c.
pub fn renames_from_refactor_log(log: &RefactorLog) -> Vec<Rename> {
    let mut renames: Vec<Rename> = Vec::new();
    for op in &log.operations {
        let (Some(element), Some(kind)) = (
            op.property(prop::ELEMENT_NAME),
            op.property(prop::ELEMENT_TYPE),
        ) else {
            continue;
        };
        let Ok(from) = ObjectName::parse(element) else {
            continue;
        };
        let mut to = from.clone();
        if let Some(new_name) = op.property(prop::NEW_NAME) {
            let leaf = ObjectName::parse(new_name)
                .ok()
                .and_then(|n| n.parts().last().map(str::to_string))
                .unwrap_or_else(|| new_name.to_string());
            if let Some(last) = to.parts().len().checked_sub(1) {
                to = to.with_part(last, &leaf);
            }
        }
        if let Some(new_schema) = op.property(prop::NEW_SCHEMA) {
            let schema = ObjectName::parse(new_schema)
                .ok()
                .and_then(|n| n.parts().first().map(str::to_string))
                .unwrap_or_else(|| new_schema.to_string());
            to = to.with_part(0, &schema);
        }
        if let Some(prev) = renames
            .iter_mut()
            .find(|r| r.kind == kind && r.to.matches(&from, false))
        {
            prev.to = to;
        } else {
            renames.push(Rename {
                kind: kind.to_string(),
                from,
                to,
            });
        }
    }
    renames
}

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Only in the desired model.
    Create,
    /// In both, with a different definition.
    Alter,
    /// Renamed (and possibly also altered).
    Rename,
    /// Only in the current model, and to be dropped.
    Drop,
    /// Only in the current model, kept because dropping objects not in source is off.
    Keep,
}

impl Action {
    /// Lower-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Alter => "alter",
            Action::Rename => "rename",
            Action::Drop => "drop",
            Action::Keep => "keep",
        }
    }
}

/// One difference in the definition of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// Where: `IsNullable`, `Columns[Name].TypeSpecifier.Length`, `BodyScript`.
    pub path: String,
    /// Value in the current model (`None`: absent).
    pub current: Option<String>,
    /// Value in the desired model (`None`: absent).
    pub desired: Option<String>,
    /// For bodies and scripts: a unified line diff.
    pub text_diff: Option<String>,
}

/// One changed object.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What happens.
    pub action: Action,
    /// DacFx type name.
    pub kind: String,
    /// The object's name (desired name for renames and creates), or a description for unnamed
    /// elements such as `[dbo].[T]` for an inline primary key.
    pub name: ObjectName,
    /// The object in the current model.
    pub current: Option<Element>,
    /// The object in the desired model.
    pub desired: Option<Element>,
    /// For renames: the current name.
    pub renamed_from: Option<ObjectName>,
    /// What differs, for alters and renames.
    pub details: Vec<Detail>,
}

/// The differences between two models.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diff {
    /// Changes, in a stable order: by kind then name.
    pub changes: Vec<Change>,
    /// Objects of the desired model that the filters (`include`, `exclude`, `exclude_kinds`)
    /// left out although the current model does not have them as the desired one does: a kept
    /// change that needs one of them cannot be planned (`plan::check_filters`). By kind, name.
    pub left_out: Vec<(String, ObjectName)>,
}

impl Diff {
    /// No differences (kept objects are not differences).
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(|c| c.action == Action::Keep)
    }

    /// Changes other than kept objects.
    pub fn differences(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action != Action::Keep)
    }
}

/// Relationships a producer derives by binding names; not part of a definition.
const DERIVED_RELATIONSHIPS: &[&str] = &[
    "BodyDependencies",
    "QueryDependencies",
    "ExpressionDependencies",
    "CheckExpressionDependencies",
    "DynamicObjects",
    "FilterDependencies",
    "ParameterDependencies",
];

/// Relationships derived for some kinds only (view and inline-function output columns).
fn is_derived(owner_kind: &str, rel: &str) -> bool {
    DERIVED_RELATIONSHIPS.contains(&rel)
        || (rel == kind::rel::COLUMNS && matches!(owner_kind, kind::VIEW | kind::INLINE_TVF))
}

/// Value a property has when a producer omits it (DacFx omits defaults).
fn default_value(owner_kind: &str, property: &str) -> Option<Value> {
    Some(match (owner_kind, property) {
        (_, prop::IS_NULLABLE) => Value::Bool(true),
        (_, prop::IS_ASCENDING) => Value::Bool(true),
        // A primary key is clustered unless it says otherwise, in a table type too.
        (kind::PRIMARY_KEY | kind::TABLE_TYPE_PRIMARY_KEY, prop::IS_CLUSTERED) => Value::Bool(true),
        // CREATE SEQUENCE counts up by one unless told otherwise.
        (kind::SEQUENCE, prop::INCREMENT) => Value::Int(1),
        (_, prop::IS_CLUSTERED) => Value::Bool(false),
        (_, prop::IS_ANSI_NULLS_ON) => Value::Bool(true),
        (_, "IsQuotedIdentifierOn") => Value::Bool(true),
        (_, prop::IS_UNIQUE)
        | (_, prop::IS_IDENTITY)
        | (_, prop::IS_PERSISTED)
        | (_, prop::IS_MAX) => Value::Bool(false),
        (_, prop::IS_OUTPUT)
        | (_, prop::IS_READ_ONLY)
        | (_, prop::IS_SCHEMA_BOUND)
        | (_, prop::IS_ROW_GUID_COLUMN) => Value::Bool(false),
        (_, prop::ON_DELETE_ACTION) | (_, prop::ON_UPDATE_ACTION) => Value::Int(0),
        // SSDT writes the server default language as an empty value; extracts omit it.
        (kind::DATABASE_OPTIONS, prop::DEFAULT_LANGUAGE | prop::DEFAULT_FULL_TEXT_LANGUAGE) => {
            Value::Text(String::new())
        }
        _ => return None,
    })
}

/// What `element` means by leaving `property` out: the producer's default for its kind, or for a
/// type (a type specifier, an alias type) the length, precision or scale its built-in type
/// implies on `platform` (`datetime2` and `datetime2(7)` are one type).
fn implied_value(element: &Element, platform: Platform, property: &str) -> Option<Value> {
    if matches!(
        element.kind.as_str(),
        kind::TYPE_SPECIFIER | kind::USER_DEFINED_DATA_TYPE
    ) && let Some(reference) = element.references(kind::rel::TYPE).next()
        && reference.is_built_in()
        && let Some(name) = &reference.name
        && let Some(value) = view::implied_type_property(platform, name.leaf(), property)
    {
        return Some(value);
    }
    default_value(&element.kind, property)
}

/// Compares two models.
pub fn compare(current: &Model, desired: &Model, options: &CompareOptions) -> Diff {
    // Large models are indexed, and their elements compared, on two threads.
    let parallel =
        current.elements.len() + desired.elements.len() >= 2 * crate::parallel::MIN_ELEMENTS;
    compare_on(current, desired, options, parallel)
}

/// [`compare`], on two threads or on one.
fn compare_on(current: &Model, desired: &Model, options: &CompareOptions, parallel: bool) -> Diff {
    let platform = desired.platform();
    let case_sensitive = desired.collation_case_sensitive;
    // A renamed table keeps its constraints and the foreign keys that reference it: references
    // in the current model follow the renames before anything is matched, and constraints named
    // after the old table (PostgreSQL's generated names) are renamed with it.
    let tables = table_renames(current, desired, options);
    let followed;
    let (current, renames) = if tables.is_empty() {
        (current, std::borrow::Cow::Borrowed(&options.renames))
    } else {
        let mut renames = options.renames.clone();
        renames.extend(renamed_with_their_table(
            current,
            desired,
            &tables,
            case_sensitive,
        ));
        followed = follow_table_renames(current, &tables, case_sensitive);
        (&followed, std::borrow::Cow::Owned(renames))
    };
    let filter = Filter::new(options);
    let ((index_current, out_current), (index_desired, out_desired)) = if parallel {
        crate::parallel::join(
            || index(current, case_sensitive, options, &filter),
            || index(desired, case_sensitive, options, &filter),
        )
    } else {
        (
            index(current, case_sensitive, options, &filter),
            index(desired, case_sensitive, options, &filter),
        )
    };
    let left_out = left_out_changes(&out_current, &out_desired, options, desired.platform());

    // Renames: the current identity that becomes a desired identity.
    let mut renamed: HashMap<String, (String, &Rename)> = HashMap::new();
    for rename in renames.iter() {
        let from = format!("{}|{}", rename.kind, rename.from.key(case_sensitive));
        let to = format!("{}|{}", rename.kind, rename.to.key(case_sensitive));
        if index_current.contains_key(&from)
            && !index_current.contains_key(&to)
            && index_desired.contains_key(&to)
        {
            renamed.insert(to, (from, rename));
        }
    }
    let renamed_sources: BTreeSet<&String> = renamed.values().map(|(from, _)| from).collect();

    // Changes with where they came from (0: desired elements, 1: current elements, 2: column
    // renames) and the identity: the indexes are hash maps, so the final order is made by the
    // sort below, not by the order the loops visit them.
    let desired_change = |identity: &str, desired_el: &Element| -> Option<Change> {
        if let Some((from, rename)) = renamed.get(identity) {
            let current_el = index_current[from];
            let mut details = Vec::new();
            diff_element("", current_el, desired_el, options, platform, &mut details);
            return Some(Change {
                action: Action::Rename,
                kind: desired_el.kind.to_string(),
                name: rename.to.clone(),
                current: Some(current_el.clone()),
                desired: Some(desired_el.clone()),
                renamed_from: Some(rename.from.clone()),
                details,
            });
        }
        match index_current.get(identity) {
            None => Some(Change {
                action: Action::Create,
                kind: desired_el.kind.to_string(),
                name: display_name(desired_el),
                current: None,
                desired: Some(desired_el.clone()),
                renamed_from: None,
                details: Vec::new(),
            }),
            Some(current_el) => {
                let mut details = Vec::new();
                diff_element("", current_el, desired_el, options, platform, &mut details);
                (!details.is_empty()).then(|| Change {
                    action: Action::Alter,
                    kind: desired_el.kind.to_string(),
                    name: display_name(desired_el),
                    current: Some((*current_el).clone()),
                    desired: Some(desired_el.clone()),
                    renamed_from: None,
                    details,
                })
            }
        }
    };
    /// The changes of some desired elements, with where they came from and their identity.
    fn desired_changes<'i>(
        part: &[(&'i String, &&Element)],
        change: &(impl Fn(&str, &Element) -> Option<Change> + Sync),
    ) -> Vec<(Change, u8, &'i str)> {
        part.iter()
            .filter_map(|(identity, el)| change(identity, el).map(|c| (c, 0, identity.as_str())))
            .collect()
    }
    let desired_elements: Vec<(&String, &&Element)> = index_desired.iter().collect();
    let mut changes = if parallel {
        let (first, second) = desired_elements.split_at(desired_elements.len() / 2);
        let (mut changes, more) = crate::parallel::join(
            || desired_changes(first, &desired_change),
            || desired_changes(second, &desired_change),
        );
        changes.extend(more);
        changes
    } else {
        desired_changes(&desired_elements, &desired_change)
    };
    for (identity, current_el) in &index_current {
        if index_desired.contains_key(identity) || renamed_sources.contains(identity) {
            continue;
        }
        let change = Change {
            action: fate(
                current_el,
                &index_current,
                &index_desired,
                options,
                case_sensitive,
            ),
            kind: current_el.kind.to_string(),
            name: display_name(current_el),
            current: Some((*current_el).clone()),
            desired: None,
            renamed_from: None,
            details: Vec::new(),
        };
        changes.push((change, 1, identity));
    }
    // Column renames keep their order: the sort is stable.
    changes.extend(
        column_renames(current, desired, options, case_sensitive)
            .into_iter()
            .map(|change| (change, 2, "")),
    );
    // By kind, name and action; ties as the changes were found, desired elements first, each
    // group in identity order.
    changes.sort_by(|(a, a_from, a_id), (b, b_from, b_id)| {
        (&a.kind, &a.name, a.action, a_from, a_id).cmp(&(&b.kind, &b.name, b.action, b_from, b_id))
    });
    Diff {
        changes: changes.into_iter().map(|(change, _, _)| change).collect(),
        left_out,
    }
}

/// What happens to an object only in the current model. Constraints, indexes and triggers of
/// a table (or view) the package has belong to its definition: they go when the package no
/// longer has them, as DacFx does, unless their kind is not to be dropped. Those of a table
/// the package does not have share its fate, so a kept table keeps its primary key. Anything
/// else goes only when objects not in source are dropped and its kind may be.
fn fate(
    element: &Element,
    current: &Index<'_>,
    desired: &Index<'_>,
    options: &CompareOptions,
    case_sensitive: bool,
) -> Action {
    let droppable =
        |kind: &str| options.drop_objects_not_in_source && !options.do_not_drop.contains(kind);
    // The kind of the table or view of this name in `index`.
    let relation = |index: &Index<'_>, name: &ObjectName| -> Option<String> {
        let key = name.key(case_sensitive);
        [kind::TABLE, kind::VIEW].iter().find_map(|k| {
            index
                .get(&format!("{k}|{key}"))
                .map(|el| el.kind.to_string())
        })
    };
    let to_action = |drop: bool| if drop { Action::Drop } else { Action::Keep };
    let Some(owner_name) = owner(element) else {
        return to_action(droppable(&element.kind));
    };
    if relation(desired, owner_name).is_some() {
        return to_action(!options.do_not_drop.contains(element.kind.as_str()));
    }
    match relation(current, owner_name) {
        Some(owner_kind) => to_action(droppable(&owner_kind)),
        None => to_action(droppable(&element.kind)),
    }
}

/// The desired objects the filters left out that the current model lacks or has otherwise.
fn left_out_changes(
    current: &[&Element],
    desired: &[&Element],
    options: &CompareOptions,
    platform: Platform,
) -> Vec<(String, ObjectName)> {
    if desired.is_empty() {
        return Vec::new();
    }
    let by_identity: HashMap<String, &Element> = current
        .iter()
        .map(|el| (identity(el, false, options.text), *el))
        .collect();
    let mut out: Vec<(String, ObjectName)> = desired
        .iter()
        .filter(|el| el.name.is_some())
        .filter(
            |el| match by_identity.get(&identity(el, false, options.text)) {
                None => true,
                Some(current_el) => {
                    let mut details = Vec::new();
                    diff_element("", current_el, el, options, platform, &mut details);
                    !details.is_empty()
                }
            },
        )
        .map(|el| (el.kind.to_string(), display_name(el)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Top-level elements by identity.
type Index<'a> = HashMap<String, &'a Element, WordBuildHasher>;

/// The table renames of `options` that apply: the current model has the old table and not the
/// new one, the desired model the new one.
fn table_renames(current: &Model, desired: &Model, options: &CompareOptions) -> Vec<Rename> {
    if options.renames.is_empty() {
        return Vec::new();
    }
    options
        .renames
        .iter()
        .filter(|r| {
            r.kind == kind::TABLE
                && current.find(kind::TABLE, &r.from).is_some()
                && current.find(kind::TABLE, &r.to).is_none()
                && desired.find(kind::TABLE, &r.to).is_some()
        })
        .cloned()
        .collect()
}

/// `name` with a renamed table's old name (or the table itself, for a column) replaced by the
/// new one; `None` when it names nothing renamed.
fn follow_rename(name: &ObjectName, tables: &[Rename], case_sensitive: bool) -> Option<ObjectName> {
    let parts = name.parts().to_vec();
    tables.iter().find_map(|r| {
        let from = r.from.parts().len();
        if parts.len() < from
            || !ObjectName::new(parts[..from].iter().cloned()).matches(&r.from, case_sensitive)
        {
            return None;
        }
        Some(ObjectName::new(
            r.to.parts()
                .to_vec()
                .into_iter()
                .chain(parts[from..].iter().cloned()),
        ))
    })
}

/// `current` with every reference to a renamed table or its columns naming the new table, so
/// the table's unnamed constraints, and other tables' foreign keys to it, match the desired
/// ones instead of being dropped and created again.
fn follow_table_renames(current: &Model, tables: &[Rename], case_sensitive: bool) -> Model {
    fn follow(element: &mut Element, tables: &[Rename], case_sensitive: bool) {
        for relationship in &mut element.relationships {
            for entry in &mut relationship.entries {
                match entry {
                    Entry::Reference(reference) => {
                        if let Some(name) = &reference.name
                            && let Some(new) = follow_rename(name, tables, case_sensitive)
                        {
                            reference.name = Some(new);
                        }
                    }
                    Entry::Element(nested) => follow(nested, tables, case_sensitive),
                    Entry::Annotation(_) | Entry::Empty => {}
                }
            }
        }
    }
    let mut model = current.clone();
    for element in &mut model.elements {
        follow(element, tables, case_sensitive);
    }
    model
}

/// The constraints and indexes of a renamed table named after it (`customers_pkey`, PostgreSQL's
/// generated names) whose new-table name (`clients_pkey`) the desired model has: renamed with
/// the table rather than dropped and created again.
fn renamed_with_their_table(
    current: &Model,
    desired: &Model,
    tables: &[Rename],
    case_sensitive: bool,
) -> Vec<Rename> {
    let fold = |text: &str| {
        if case_sensitive {
            text.to_string()
        } else {
            text.to_lowercase()
        }
    };
    let mut renames = Vec::new();
    for table in tables {
        let (old, new) = (table.from.leaf(), table.to.leaf());
        let prefix = fold(&format!("{old}_"));
        for element in &current.elements {
            if !matches!(
                element.kind.as_str(),
                kind::PRIMARY_KEY | kind::UNIQUE | kind::CHECK | kind::FOREIGN_KEY | kind::INDEX
            ) {
                continue;
            }
            let owner = element
                .reference_name(kind::rel::DEFINING_TABLE)
                .or_else(|| element.reference_name(kind::rel::INDEXED_OBJECT));
            let (Some(owner), Some(name)) = (owner, &element.name) else {
                continue;
            };
            let leaf = name.leaf();
            if !owner.matches(&table.from, case_sensitive) || !fold(leaf).starts_with(&prefix) {
                continue;
            }
            let Some(rest) = leaf.get(old.len()..) else {
                continue;
            };
            let last = name.parts().len() - 1;
            let candidate = name.with_part(last, &format!("{new}{rest}"));
            if desired.find(&element.kind, &candidate).is_some()
                && current.find(&element.kind, &candidate).is_none()
            {
                renames.push(Rename {
                    kind: element.kind.to_string(),
                    from: name.clone(),
                    to: candidate,
                });
            }
        }
    }
    renames
}

/// Whether a kind is a table column (renamed inside its table, not as a top-level object).
fn is_column_kind(kind: &str) -> bool {
    matches!(kind, kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN)
}

/// Column renames that apply: the desired table (named by the rename's new name) has the new
/// column and not the old one, and its current table (same name, or renamed to it) has the old
/// column and not the new one. The old name is read with the table's desired name, because
/// renames run in log order and the table's own rename comes first.
fn column_renames(
    current: &Model,
    desired: &Model,
    options: &CompareOptions,
    case_sensitive: bool,
) -> Vec<Change> {
    let mut out = Vec::new();
    for rename in options.renames.iter().filter(|r| is_column_kind(&r.kind)) {
        let Some(table_name) = renamed_column_table(rename, options, case_sensitive) else {
            continue;
        };
        let Some(desired_table) = desired.find(kind::TABLE, &table_name) else {
            continue;
        };
        let current_name = options
            .renames
            .iter()
            .find(|r| r.kind == kind::TABLE && r.to.matches(&table_name, case_sensitive))
            .map_or(table_name.clone(), |r| r.from.clone());
        let Some(current_table) = current.find(kind::TABLE, &current_name) else {
            continue;
        };
        let column = |table: &Element, leaf: &str| -> Option<Element> {
            table
                .children(kind::rel::COLUMNS)
                .find(|c| {
                    c.name.as_ref().is_some_and(|n| {
                        ObjectName::new([n.leaf()])
                            .matches(&ObjectName::new([leaf]), case_sensitive)
                    })
                })
                .cloned()
        };
        let (old_leaf, new_leaf) = (rename.from.leaf(), rename.to.leaf());
        let (Some(old), Some(new)) = (
            column(current_table, old_leaf),
            column(desired_table, new_leaf),
        ) else {
            continue;
        };
        if column(current_table, new_leaf).is_some() || column(desired_table, old_leaf).is_some() {
            continue;
        }
        let mut details = Vec::new();
        diff_element("", &old, &new, options, desired.platform(), &mut details);
        out.push(Change {
            action: Action::Rename,
            kind: new.kind.to_string(),
            name: table_name.child(new_leaf),
            current: Some(old),
            desired: Some(new),
            renamed_from: Some(table_name.child(old_leaf)),
            details,
        });
    }
    out
}

/// The desired name of the table of a renamed column: a log may name the column with its table's
/// old name when the column was renamed before the table.
fn renamed_column_table(
    rename: &Rename,
    options: &CompareOptions,
    case_sensitive: bool,
) -> Option<ObjectName> {
    let parent = rename.to.parent()?;
    Some(
        options
            .renames
            .iter()
            .find(|r| r.kind == kind::TABLE && r.from.matches(&parent, case_sensitive))
            .map_or(parent, |r| r.to.clone()),
    )
}

/// Lower-case old leaf -> new leaf of the columns of `table` renamed by `options`.
fn column_aliases(table: Option<&ObjectName>, options: &CompareOptions) -> Vec<(String, String)> {
    let Some(table) = table else {
        return Vec::new();
    };
    options
        .renames
        .iter()
        .filter(|r| is_column_kind(&r.kind))
        .filter(|r| {
            renamed_column_table(r, options, false).is_some_and(|p| p.matches(table, false))
        })
        .map(|r| (r.from.leaf().to_lowercase(), r.to.leaf().to_lowercase()))
        .collect()
}

/// Name shown for an element; unnamed elements show their owner.
fn display_name(element: &Element) -> ObjectName {
    if let Some(name) = &element.name {
        return name.clone();
    }
    for rel in [
        kind::rel::DEFINING_TABLE,
        kind::rel::INDEXED_OBJECT,
        kind::rel::PARENT,
    ] {
        if let Some(owner) = element.reference_name(rel) {
            return owner.clone();
        }
    }
    ObjectName::default()
}

/// The identity that matches an element across models.
pub fn identity(element: &Element, case_sensitive: bool, rules: TextRules) -> String {
    if let Some(name) = &element.name {
        let mut key = String::with_capacity(element.kind.len() + 1 + 32);
        key.push_str(&element.kind);
        key.push('|');
        name.push_key(&mut key, case_sensitive);
        return key;
    }
    let owner = |rel: &str| {
        element
            .reference_name(rel)
            .map(|n| n.key(case_sensitive))
            .unwrap_or_default()
    };
    let columns = |rel: &str| -> String {
        let mut names = Vec::new();
        for entry in element
            .relationship(rel)
            .into_iter()
            .flat_map(|r| &r.entries)
        {
            match entry {
                Entry::Reference(r) => names.push(ref_key(r, case_sensitive)),
                Entry::Element(spec) => {
                    if let Some(col) = spec.reference_name(kind::rel::COLUMN) {
                        names.push(col.key(case_sensitive));
                    }
                }
                Entry::Annotation(_) | Entry::Empty => {}
            }
        }
        names.join(",")
    };
    let signature = match element.kind.as_str() {
        kind::PRIMARY_KEY => owner(kind::rel::DEFINING_TABLE),
        kind::UNIQUE => format!(
            "{}({})",
            owner(kind::rel::DEFINING_TABLE),
            columns(kind::rel::COLUMN_SPECIFICATIONS)
        ),
        kind::FOREIGN_KEY => format!(
            "{}({})->{}({})",
            owner(kind::rel::DEFINING_TABLE),
            columns(kind::rel::COLUMNS),
            owner(kind::rel::FOREIGN_TABLE),
            columns(kind::rel::FOREIGN_COLUMNS)
        ),
        kind::DEFAULT => format!(
            "{}.{}",
            owner(kind::rel::DEFINING_TABLE),
            owner(kind::rel::FOR_COLUMN)
        ),
        kind::CHECK => format!(
            "{}:{}",
            owner(kind::rel::DEFINING_TABLE),
            normalize::normalize(
                &normalize::canonical_expression(
                    element
                        .text_prop(prop::CHECK_EXPRESSION_SCRIPT)
                        .unwrap_or("")
                ),
                TextRules {
                    ignore_whitespace: true,
                    ignore_comments: true,
                    ignore_case: !case_sensitive || rules.ignore_case,
                }
            )
        ),
        kind::INDEX => format!(
            "{}({})",
            owner(kind::rel::INDEXED_OBJECT),
            columns(kind::rel::COLUMN_SPECIFICATIONS)
        ),
        kind::DATABASE_OPTIONS => String::new(),
        _ => {
            // Fall back to the whole definition: equal definitions are the same object.
            format!("{:?}", element.properties)
        }
    };
    format!("{}|~{}", element.kind, signature)
}

fn ref_key(reference: &Reference, case_sensitive: bool) -> String {
    match &reference.name {
        Some(name) => name.key(case_sensitive),
        None => format!("#{}", reference.disambiguator.as_deref().unwrap_or("")),
    }
}

/// Checks the globs of an option (`--include`): one that does not compile would otherwise
/// match nothing, silently.
pub fn check_patterns(option: &str, patterns: &[String]) -> crate::Result<()> {
    for pattern in patterns {
        if let Err(e) = glob(pattern) {
            return Err(crate::Error::Invalid(format!(
                "{option} {pattern:?}: not a glob: {e}"
            )));
        }
    }
    Ok(())
}

fn glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher())
}

struct Filter {
    include: Vec<GlobMatcher>,
    exclude: Vec<GlobMatcher>,
}

impl Filter {
    fn new(options: &CompareOptions) -> Self {
        // Patterns were checked by `check_patterns`.
        let compile = |patterns: &[String]| patterns.iter().filter_map(|p| glob(p).ok()).collect();
        Filter {
            include: compile(&options.include),
            exclude: compile(&options.exclude),
        }
    }

    fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    fn admits(&self, name: &ObjectName) -> bool {
        let dotted = name.parts().join(".");
        (self.include.is_empty() || self.include.iter().any(|g| g.is_match(&dotted)))
            && !self.exclude.iter().any(|g| g.is_match(&dotted))
    }
}

/// Elements by identity; an identity seen before gets `#2`, `#3`... in model order. With them,
/// the elements the filters leave out: by name and kind, and a table's constraints, indexes
/// and triggers with their table, named or not, so a script never touches what a left-out
/// table owns.
fn index<'a>(
    model: &'a Model,
    case_sensitive: bool,
    options: &CompareOptions,
    filter: &Filter,
) -> (Index<'a>, Vec<&'a Element>) {
    let mut out = Index::with_capacity_and_hasher(model.elements.len(), WordBuildHasher::default());
    let mut left_out = Vec::new();
    let filtering = !filter.is_empty() || !options.exclude_kinds.is_empty();
    let admitted = |element: &Element| {
        !options.exclude_kinds.contains(element.kind.as_str())
            && element.name.as_ref().is_none_or(|n| filter.admits(n))
    };
    // Owners left out, by key: what they own goes with them.
    let left_out_owners: BTreeSet<String> = if filtering {
        model
            .elements
            .iter()
            .filter(|el| owner(el).is_none() && !admitted(el))
            .filter_map(|el| el.name.as_ref().map(|n| n.key(case_sensitive)))
            .collect()
    } else {
        BTreeSet::new()
    };
    for element in &model.elements {
        let keep = !filtering
            || match owner(element) {
                Some(owner_name) => {
                    !options.exclude_kinds.contains(element.kind.as_str())
                        && filter.admits(owner_name)
                        && !left_out_owners.contains(&owner_name.key(case_sensitive))
                }
                None => admitted(element),
            };
        if !keep {
            left_out.push(element);
            continue;
        }
        let base = identity(element, case_sensitive, options.text);
        // The first element of an identity (nearly all of them) takes it as it is.
        let base = match out.entry(base) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(element);
                continue;
            }
            std::collections::hash_map::Entry::Occupied(taken) => taken.key().clone(),
        };
        let mut key = base.clone();
        let mut n = 1;
        while out.contains_key(&key) {
            n += 1;
            key = format!("{base}#{n}");
        }
        out.insert(key, element);
    }
    (out, left_out)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Script(s) => s.text.clone(),
        other => other.attribute_text().unwrap_or_default(),
    }
}

fn join(prefix: &str, part: &str) -> String {
    if prefix.is_empty() {
        part.to_string()
    } else {
        format!("{prefix}.{part}")
    }
}

/// Appends the definition differences of two elements (same identity) to `out`.
pub fn diff_element(
    path: &str,
    current: &Element,
    desired: &Element,
    options: &CompareOptions,
    platform: Platform,
    out: &mut Vec<Detail>,
) {
    // Fast path: most elements of two versions of a model are identical, and structural
    // equality is far cheaper than the normalising comparison below.
    if current == desired {
        return;
    }
    if current.kind != desired.kind {
        out.push(Detail {
            path: join(path, "kind"),
            current: Some(current.kind.to_string()),
            desired: Some(desired.kind.to_string()),
            text_diff: None,
        });
        return;
    }
    let owner = desired.kind.as_str();
    // Properties: absent means the producer's default.
    let mut names: Vec<&str> = current
        .properties
        .iter()
        .chain(&desired.properties)
        .map(|p| p.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let a = current
            .prop(name)
            .cloned()
            .or_else(|| implied_value(current, platform, name));
        let b = desired
            .prop(name)
            .cloned()
            .or_else(|| implied_value(desired, platform, name));
        let same = match (&a, &b) {
            (Some(x), Some(y)) if is_expression_property(name) => {
                expressions_equal(x, y, options.text)
            }
            (Some(x), Some(y)) => values_equal(x, y, options.text),
            (None, None) => true,
            _ => false,
        };
        if !same {
            let is_script =
                matches!(a, Some(Value::Script(_))) || matches!(b, Some(Value::Script(_)));
            let a_text = a.as_ref().map(value_text);
            let b_text = b.as_ref().map(value_text);
            let text_diff = is_script.then(|| {
                let a = a_text.as_deref().unwrap_or("");
                let b = b_text.as_deref().unwrap_or("");
                TextDiff::from_lines(a, b)
                    .unified_diff()
                    .context_radius(2)
                    .header("current", "desired")
                    .to_string()
            });
            out.push(Detail {
                path: join(path, name),
                current: a_text,
                desired: b_text,
                text_diff,
            });
        }
    }
    // Relationships.
    let mut rels: Vec<&str> = current
        .relationships
        .iter()
        .chain(&desired.relationships)
        .map(|r| r.name.as_str())
        .filter(|r| !is_derived(owner, r))
        .collect();
    rels.sort_unstable();
    rels.dedup();
    for rel in rels {
        let a: Vec<&Entry> = current
            .relationship(rel)
            .map(|r| r.entries.iter().collect())
            .unwrap_or_default();
        let b: Vec<&Entry> = desired
            .relationship(rel)
            .map(|r| r.entries.iter().collect())
            .unwrap_or_default();
        let aliases = if rel == kind::rel::COLUMNS && desired.kind == kind::TABLE {
            column_aliases(desired.name.as_ref(), options)
        } else {
            Vec::new()
        };
        diff_entries(
            &join(path, rel),
            rel,
            (&a, &b),
            &aliases,
            options,
            platform,
            out,
        );
    }
}

/// Properties holding an expression (not a body): compared by [`normalize::canonical_expression`].
fn is_expression_property(property: &str) -> bool {
    matches!(
        property,
        prop::EXPRESSION_SCRIPT
            | prop::DEFAULT_EXPRESSION_SCRIPT
            | prop::CHECK_EXPRESSION_SCRIPT
            | prop::FILTER_PREDICATE
    )
}

/// Expressions are equal when their canonical forms are (after the usual normalisation, so
/// case-folding options still apply to the rest of the text).
fn expressions_equal(a: &Value, b: &Value, rules: TextRules) -> bool {
    let canonical =
        |v: &Value| normalize::normalize(&normalize::canonical_expression(&value_text(v)), rules);
    values_equal(a, b, rules) || canonical(a) == canonical(b)
}

fn values_equal(a: &Value, b: &Value, rules: TextRules) -> bool {
    match (a, b) {
        (Value::Script(_), _) | (_, Value::Script(_)) | (Value::Text(_), Value::Text(_)) => {
            normalize::normalize(&value_text(a), rules)
                == normalize::normalize(&value_text(b), rules)
        }
        _ => a == b,
    }
}

fn entry_label(entry: &Entry) -> String {
    match entry {
        Entry::Reference(r) => match &r.name {
            Some(n) => n.to_string(),
            None => format!("#{}", r.disambiguator.as_deref().unwrap_or("")),
        },
        Entry::Element(e) => e
            .name
            .as_ref()
            .map(|n| n.leaf().to_string())
            .unwrap_or_else(|| e.kind.to_string()),
        Entry::Annotation(_) => "annotation".into(),
        Entry::Empty => "(empty)".into(),
    }
}

/// The entries of one relationship on both sides: (current, desired).
type EntryPair<'e, 'x> = (&'x [&'e Entry], &'x [&'e Entry]);

fn diff_entries(
    path: &str,
    rel: &str,
    (a, b): EntryPair<'_, '_>,
    aliases: &[(String, String)],
    options: &CompareOptions,
    platform: Platform,
    out: &mut Vec<Detail>,
) {
    let case_sensitive = false;
    let refs_a: Vec<String> = a
        .iter()
        .filter_map(|e| match e {
            Entry::Reference(r) => Some(ref_key(r, case_sensitive)),
            _ => None,
        })
        .collect();
    let refs_b: Vec<String> = b
        .iter()
        .filter_map(|e| match e {
            Entry::Reference(r) => Some(ref_key(r, case_sensitive)),
            _ => None,
        })
        .collect();
    if refs_a != refs_b {
        let show = |entries: &[&Entry]| {
            entries
                .iter()
                .filter(|e| matches!(e, Entry::Reference(_)))
                .map(|e| entry_label(e))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(Detail {
            path: path.to_string(),
            current: Some(show(a)),
            desired: Some(show(b)),
            text_diff: None,
        });
    }
    let elements_a: Vec<&Element> = a.iter().filter_map(|e| e.element()).collect();
    let elements_b: Vec<&Element> = b.iter().filter_map(|e| e.element()).collect();
    let named = elements_a
        .iter()
        .chain(&elements_b)
        .all(|e| e.name.is_some());
    if named {
        let key = |e: &Element| {
            e.name
                .as_ref()
                .map(|n| n.leaf().to_lowercase())
                .unwrap_or_default()
        };
        // Renamed columns of the current side answer to their new names.
        let key_a = |e: &Element| {
            let k = key(e);
            aliases
                .iter()
                .find(|(old, _)| *old == k)
                .map_or(k, |(_, new)| new.clone())
        };
        let order_a: Vec<String> = elements_a.iter().map(|e| key_a(e)).collect();
        let order_b: Vec<String> = elements_b.iter().map(|e| key(e)).collect();
        for el_b in &elements_b {
            let label = format!(
                "{path}[{}]",
                el_b.name.as_ref().map(|n| n.leaf()).unwrap_or("")
            );
            match elements_a.iter().find(|el_a| key_a(el_a) == key(el_b)) {
                Some(el_a) => diff_element(&label, el_a, el_b, options, platform, out),
                None => out.push(Detail {
                    path: label,
                    current: None,
                    desired: Some(describe(el_b)),
                    text_diff: None,
                }),
            }
        }
        for el_a in &elements_a {
            if !elements_b.iter().any(|el_b| key(el_b) == key_a(el_a)) {
                out.push(Detail {
                    path: format!(
                        "{path}[{}]",
                        el_a.name.as_ref().map(|n| n.leaf()).unwrap_or("")
                    ),
                    current: Some(describe(el_a)),
                    desired: None,
                    text_diff: None,
                });
            }
        }
        let common_a: Vec<&String> = order_a.iter().filter(|k| order_b.contains(k)).collect();
        let common_b: Vec<&String> = order_b.iter().filter(|k| order_a.contains(k)).collect();
        let ignore_order = options.ignore_column_order && rel == kind::rel::COLUMNS;
        if common_a != common_b && !ignore_order {
            out.push(Detail {
                path: format!("{path} order"),
                current: Some(order_a.join(", ")),
                desired: Some(order_b.join(", ")),
                text_diff: None,
            });
        }
    } else {
        for (idx, (el_a, el_b)) in elements_a.iter().zip(&elements_b).enumerate() {
            let label = if elements_a.len() == 1 && elements_b.len() == 1 {
                path.to_string()
            } else {
                format!("{path}[{idx}]")
            };
            diff_element(&label, el_a, el_b, options, platform, out);
        }
        if elements_a.len() != elements_b.len() {
            out.push(Detail {
                path: format!("{path} count"),
                current: Some(elements_a.len().to_string()),
                desired: Some(elements_b.len().to_string()),
                text_diff: None,
            });
        }
    }
}

fn describe(element: &Element) -> String {
    match &element.name {
        Some(name) => format!("{} {}", element.kind, name),
        None => element.kind.to_string(),
    }
}

#[cfg(test)]
mod tests;
