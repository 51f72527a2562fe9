//! The dependency graph that orders a plan's steps: what each object's definition refers to,
//! from the model's relationships (column types, foreign keys, index columns, owners, schemas,
//! body dependencies) and from its text (defaults, checks, index expressions, generated
//! columns, view queries, routine bodies and signatures, trigger and policy definitions,
//! domains and types): a token naming a function and followed by `(`, or naming a type,
//! sequence, collation, table or view of the models.
//!
//! Names are looked up in a [`NameIndex`] (leaf name -> objects), so scanning is linear in the
//! text. Matching ignores case: a superset of the collation's matches, and an extra edge only
//! orders two steps that could run in either order.
//!
//! Edges are *hard* where the platform checks the reference when the object is created (column
//! types, expressions, view queries, SQL-language function bodies, structured references) and
//! *soft* where it resolves names at run time (procedure, trigger and procedural function
//! bodies): a cycle of soft edges is broken quietly, a cycle of hard ones is a hazard.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::model::kind::{prop, rel};
use crate::model::symbol::WordBuildHasher;
use crate::model::{Element, Model, ObjectName, Value, kind};

use super::{Owned, Step, StepKind};

/// What kind of name an object is, deciding where a token can refer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Tables and views: named by view queries and routine bodies.
    Relation,
    /// Functions and procedures: called as `name(`.
    Routine,
    /// Types, domains, sequences and collations: named anywhere.
    Type,
    /// Schemas (structured references only).
    Schema,
}

/// The class of a top-level kind, `None` for sub-objects and kinds nothing refers to.
pub(crate) fn class_of(object_kind: &str) -> Option<Class> {
    Some(match object_kind {
        kind::TABLE | kind::VIEW => Class::Relation,
        kind::SCALAR_FUNCTION | kind::INLINE_TVF | kind::MULTI_TVF | kind::PROCEDURE => {
            Class::Routine
        }
        kind::USER_DEFINED_DATA_TYPE
        | kind::TABLE_TYPE
        | kind::XML_SCHEMA_COLLECTION
        | kind::SEQUENCE
        | "PgEnumType"
        | "PgCompositeType"
        | "PgRangeType"
        | "PgType"
        | "PgDomain"
        | "PgCollation" => Class::Type,
        kind::SCHEMA => Class::Schema,
        _ => return None,
    })
}

/// Whether references from an element's text are resolved when it is created.
fn is_hard(element: &Element) -> bool {
    match element.kind.as_str() {
        kind::PROCEDURE | kind::DML_TRIGGER => false,
        kind::SCALAR_FUNCTION | kind::INLINE_TVF | kind::MULTI_TVF => element
            .text_prop(prop::LANGUAGE)
            .is_some_and(|l| l.eq_ignore_ascii_case("sql")),
        _ => true,
    }
}

/// Whether an element's text may name tables and views (queries and bodies).
fn names_relations(element: &Element) -> bool {
    matches!(
        element.kind.as_str(),
        kind::VIEW
            | kind::SCALAR_FUNCTION
            | kind::INLINE_TVF
            | kind::MULTI_TVF
            | kind::PROCEDURE
            | kind::DML_TRIGGER
            | "PgPolicy"
    ) || (!kind::is_modelled(&element.kind) && element.text_prop(super::DEFINITION).is_some())
}

/// Key of a name for the graph: lower-cased, bracketed.
pub(crate) fn key(name: &ObjectName) -> String {
    name.key(false)
}

/// Top-level objects of one or more models by lower-cased leaf name.
pub(crate) struct NameIndex {
    by_leaf: HashMap<String, Vec<(String, Class)>, WordBuildHasher>,
    known: HashSet<String, WordBuildHasher>,
    /// The extensions of the models: a type an extension makes (`ExternalSource="Extensions"`)
    /// does not say which, so a reference to one stands for each of them.
    extensions: Vec<String>,
}

impl NameIndex {
    pub(crate) fn new(models: &[&Model]) -> Self {
        let mut index = NameIndex {
            by_leaf: HashMap::default(),
            known: HashSet::default(),
            extensions: Vec::new(),
        };
        for model in models {
            for element in &model.elements {
                if element.kind == "PgExtension"
                    && let Some(name) = &element.name
                    && !index.extensions.contains(&key(name))
                {
                    index.extensions.push(key(name));
                }
                let (Some(class), Some(name)) = (class_of(&element.kind), &element.name) else {
                    continue;
                };
                let full = key(name);
                if index.known.insert(full.clone()) {
                    index
                        .by_leaf
                        .entry(name.leaf().to_lowercase())
                        .or_default()
                        .push((full, class));
                }
            }
        }
        index
    }

    /// The top-level object a structured reference names: itself, or the object owning the
    /// sub-object it names (a column names its table).
    fn resolve(&self, name: &ObjectName) -> Option<String> {
        let mut name = name.clone();
        loop {
            let k = key(&name);
            if self.known.contains(&k) {
                return Some(k);
            }
            name = name.parent()?;
        }
    }

    /// Every object `element` (with its nested elements) refers to, with whether the reference
    /// is hard, in no particular order; may repeat.
    pub(crate) fn references(&self, element: &Element, out: &mut Vec<(String, bool)>) {
        let hard = is_hard(element);
        let relations = names_relations(element);
        self.collect(element, hard, relations, false, out);
    }

    /// [`NameIndex::references`] of what `element` holds as it is now, with a type an extension
    /// makes standing for each extension: none may go before `element` gives the type up.
    /// (Extensions are created early by kind, so what needs one needs no edge.)
    pub(crate) fn held_references(&self, element: &Element, out: &mut Vec<(String, bool)>) {
        let hard = is_hard(element);
        let relations = names_relations(element);
        self.collect(element, hard, relations, true, out);
    }

    /// Every object a script's text names (tables and views, routines, types), as
    /// [`NameIndex::references`] finds them in definitions.
    pub(crate) fn text_references(&self, text: &str, out: &mut Vec<(String, bool)>) {
        self.scan(text, true, true, out);
    }

    fn collect(
        &self,
        element: &Element,
        hard: bool,
        relations: bool,
        extension_types: bool,
        out: &mut Vec<(String, bool)>,
    ) {
        for property in &element.properties {
            let text = match &property.value {
                Value::Text(t) => t.as_str(),
                Value::Script(s) => s.text.as_str(),
                _ => continue,
            };
            // Inherited tables are named by a list.
            let relations = relations || property.name.as_str() == prop::INHERITS;
            self.scan(text, hard, relations, out);
        }
        for relationship in &element.relationships {
            // A sequence owned by a column is made before its table and owned after it.
            if relationship.name.as_str() == "OwnedBy" {
                continue;
            }
            for entry in &relationship.entries {
                match entry {
                    crate::model::Entry::Reference(r)
                        if extension_types
                            && r.external_source.as_deref() == Some(crate::model::EXTENSIONS) =>
                    {
                        out.extend(self.extensions.iter().map(|e| (e.clone(), false)));
                    }
                    crate::model::Entry::Reference(r) if !r.is_built_in() => {
                        if let Some(target) = r.name.as_ref().and_then(|n| self.resolve(n)) {
                            out.push((target, hard || relationship.name.as_str() == rel::SCHEMA));
                        }
                    }
                    crate::model::Entry::Element(child) => {
                        self.collect(child, hard, relations, extension_types, out)
                    }
                    _ => {}
                }
            }
        }
    }

    /// Names in `text`: `name(` for routines; types anywhere; tables and views where
    /// `relations`. A name qualified as `schema.name` matches that object first.
    fn scan(&self, text: &str, hard: bool, relations: bool, out: &mut Vec<(String, bool)>) {
        let bytes = text.as_bytes();
        let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
        let mut i = 0;
        let mut previous: Option<(usize, usize)> = None;
        while i < bytes.len() {
            if !is_word(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_word(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            // Qualifier: the word before a `.` (with quotes or brackets around either).
            let qualifier = previous.filter(|&(_, end)| {
                text[end..start]
                    .trim_matches(|c: char| c == '"' || c == ']' || c == '[' || c == '`')
                    == "."
            });
            previous = Some((start, i));
            let Some(candidates) = self.by_leaf.get(&word.to_lowercase()) else {
                continue;
            };
            let mut after = i;
            while after < bytes.len()
                && (bytes[after].is_ascii_whitespace()
                    || matches!(bytes[after], b'"' | b']' | b'`'))
            {
                after += 1;
            }
            let called = bytes.get(after) == Some(&b'(');
            let wanted = |class: Class| match class {
                Class::Routine => called || relations,
                Class::Type => true,
                Class::Relation => relations,
                Class::Schema => false,
            };
            let qualified = qualifier
                .map(|(s, e)| key(&ObjectName::new([text[s..e].to_string(), word.to_string()])));
            let exact = qualified
                .as_ref()
                .and_then(|q| candidates.iter().find(|(k, _)| k == q));
            match exact {
                Some((k, class)) => {
                    if wanted(*class) {
                        out.push((k.clone(), hard));
                    }
                }
                None => {
                    for (k, class) in candidates {
                        if wanted(*class) {
                            out.push((k.clone(), hard));
                        }
                    }
                }
            }
        }
    }
}

/// An object's key, and whether the reference to it is hard.
type Named = (String, bool);

/// Everything a step's object refers to as it is wanted (`needs`) and as it is now (`holds`).
fn step_references(
    index: &NameIndex,
    step: &Step,
    current_owned: &Owned<'_>,
) -> (Vec<Named>, Vec<Named>) {
    let mut needs = Vec::new();
    let mut holds = Vec::new();
    if let Some(desired) = &step.desired {
        index.references(desired, &mut needs);
    }
    if let Some(table) = &step.table {
        for constraint in &table.constraints {
            index.references(constraint, &mut needs);
        }
    }
    for change in &step.columns {
        if let super::ColumnChange::Add {
            default: Some(d), ..
        } = change
        {
            index.references(d, &mut needs);
        }
    }
    for dependent in &step.dependents {
        index.references(dependent, &mut needs);
    }
    if let Some(current) = &step.current {
        index.held_references(current, &mut holds);
    }
    // A dropped table takes its constraints, defaults, indexes and triggers with it.
    if step.kind == StepKind::DropTable {
        for owned in current_owned.of(&step.name) {
            index.references(owned, &mut holds);
        }
    }
    (needs, holds)
}

/// Steps the graph leaves where kind order puts them.
fn outside_graph(kind: StepKind) -> bool {
    matches!(
        kind,
        StepKind::PreDeploy
            | StepKind::Rename
            | StepKind::RecordRefactorLog
            | StepKind::PostDeploy
            | StepKind::DropSmartDefault
    )
}

/// A cycle of hard dependencies: the objects in it, in step order.
pub(crate) type Cycle = Vec<ObjectName>;

/// Orders `steps` (already in kind order) by their dependencies, kind order breaking ties;
/// `extra` are edges (before, after) between positions of `steps`. Returns the cycles found
/// among hard dependencies (each broken at its first step so the plan stays total).
pub(crate) fn sort(
    steps: &mut Vec<Step>,
    index: &NameIndex,
    current_owned: &Owned<'_>,
    extra: &[(usize, usize)],
) -> Vec<Cycle> {
    let n = steps.len();
    // Which steps make (desired) and take away (current) each object.
    let mut makes: HashMap<String, Vec<usize>, WordBuildHasher> = HashMap::default();
    let mut takes: HashMap<String, Vec<usize>, WordBuildHasher> = HashMap::default();
    let mut by_name: HashMap<String, Vec<usize>, WordBuildHasher> = HashMap::default();
    for (i, step) in steps.iter().enumerate() {
        if outside_graph(step.kind) {
            continue;
        }
        let k = key(&step.name);
        // Nothing names a constraint in its definition, and an unnamed one carries its
        // table's name: it must not stand for the table.
        if !is_constraint(&step.object_kind) {
            if step.desired.is_some() && !step.kind.is_drop() {
                makes.entry(k.clone()).or_default().push(i);
            }
            if step.current.is_some() {
                takes.entry(k.clone()).or_default().push(i);
            }
        }
        by_name.entry(k).or_default().push(i);
    }
    // An object exists from the step that creates it; later alters of it (a sequence owned
    // by its column once the column exists) do not stand for it.
    for made in makes.values_mut() {
        if made.iter().any(|&i| steps[i].current.is_none()) {
            made.retain(|&i| steps[i].current.is_none());
        }
    }
    let mut edges: Vec<(usize, usize, bool)> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if outside_graph(step.kind) {
            continue;
        }
        let own = key(&step.name);
        let (needs, holds) = step_references(index, step, current_owned);
        for (target, hard) in &needs {
            if *target == own {
                continue;
            }
            for &p in makes.get(target).into_iter().flatten() {
                if p != i {
                    edges.push((p, i, *hard));
                }
            }
        }
        // A reference given up (dropped, or no longer made) goes before what it named is
        // dropped or replaced.
        if step.kind.is_drop() || step.desired.is_some() {
            for (target, hard) in &holds {
                if *target == own || needs.iter().any(|(t, _)| t == target) {
                    continue;
                }
                for &d in takes.get(target).into_iter().flatten() {
                    if d != i {
                        edges.push((i, d, *hard));
                    }
                }
            }
        }
    }
    // Steps on one object keep their kind order (drop before create).
    for list in by_name.values() {
        for pair in list.windows(2) {
            edges.push((pair[0], pair[1], true));
        }
    }
    edges.extend(extra.iter().map(|&(a, b)| (a, b, true)));
    edges.sort_unstable();
    edges.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);

    let mut successors: Vec<Vec<(usize, bool)>> = vec![Vec::new(); n];
    let mut hard_in = vec![0usize; n];
    let mut soft_in = vec![0usize; n];
    for &(a, b, hard) in &edges {
        successors[a].push((b, hard));
        if hard {
            hard_in[b] += 1;
        } else {
            soft_in[b] += 1;
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n)
        .filter(|&i| hard_in[i] == 0 && soft_in[i] == 0)
        .map(Reverse)
        .collect();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut cycles = Vec::new();
    while order.len() < n {
        let next = match ready.pop() {
            Some(Reverse(i)) => i,
            None => {
                // A cycle: break a soft edge where one is, else report the hard cycle.
                let remaining = (0..n).filter(|&i| !placed[i]);
                let pick = match remaining.clone().find(|&i| hard_in[i] == 0) {
                    Some(i) => i,
                    None => {
                        let cycle = hard_cycle(&successors, &placed, &hard_in);
                        let first = cycle.iter().copied().min().unwrap_or(0);
                        let mut members = cycle;
                        members.sort_unstable();
                        cycles.push(members.iter().map(|&i| steps[i].name.clone()).collect());
                        first
                    }
                };
                hard_in[pick] = 0;
                soft_in[pick] = 0;
                pick
            }
        };
        if placed[next] {
            continue;
        }
        placed[next] = true;
        order.push(next);
        for &(s, hard) in &successors[next] {
            if placed[s] {
                continue;
            }
            if hard {
                hard_in[s] = hard_in[s].saturating_sub(1);
            } else {
                soft_in[s] = soft_in[s].saturating_sub(1);
            }
            if hard_in[s] == 0 && soft_in[s] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    let mut taken: Vec<Option<Step>> = steps.drain(..).map(Some).collect();
    for i in order {
        if let Some(step) = taken[i].take() {
            steps.push(step);
        }
    }
    cycles
}

/// The steps of one cycle of hard edges among the unplaced steps (every unplaced step has an
/// unplaced hard predecessor, so walking backwards from any of them meets a step twice).
fn hard_cycle(successors: &[Vec<(usize, bool)>], placed: &[bool], hard_in: &[usize]) -> Vec<usize> {
    let n = successors.len();
    let mut predecessor = vec![usize::MAX; n];
    for (a, list) in successors.iter().enumerate() {
        if placed[a] {
            continue;
        }
        for &(b, hard) in list {
            if hard && !placed[b] && predecessor[b] == usize::MAX {
                predecessor[b] = a;
            }
        }
    }
    let Some(start) = (0..n).find(|&i| !placed[i] && hard_in[i] > 0) else {
        return Vec::new();
    };
    let mut seen = vec![false; n];
    let mut at = start;
    while !seen[at] && predecessor[at] != usize::MAX {
        seen[at] = true;
        at = predecessor[at];
    }
    let mut cycle = vec![at];
    let mut walk = predecessor[at];
    while walk != at && walk != usize::MAX && cycle.len() <= n {
        cycle.push(walk);
        walk = predecessor[walk];
    }
    cycle
}

/// Table constraints and defaults: owned by a table, never named by another definition.
fn is_constraint(object_kind: &str) -> bool {
    matches!(
        object_kind,
        kind::PRIMARY_KEY | kind::UNIQUE | kind::FOREIGN_KEY | kind::CHECK | kind::DEFAULT
    )
}
