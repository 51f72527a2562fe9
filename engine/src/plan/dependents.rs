//! Objects taken down and put back around a change that would break them: views over a table
//! that is rebuilt (every platform), and where [`super::Capabilities::dependents_hold_columns`]
//! says objects hold the columns and types they use (PostgreSQL), views, materialized views,
//! SQL functions, triggers and policies over a column whose type changes or that is dropped,
//! or over a type that is replaced. Found through the dependency graph, transitively (a view
//! over a view over the table), dropped before the change and re-created after it.

use std::collections::{HashMap, HashSet, VecDeque};

use super::graph::{self, NameIndex};
use super::{Planner, Step, kinds_for};
use crate::compare::{Action, Change};
use crate::model::kind::prop;
use crate::model::symbol::WordBuildHasher;
use crate::model::{Element, Model, ObjectName, kind, view};

/// Who refers to what in the current model, for the objects a change can break.
pub(super) struct Dependents<'a> {
    /// Object key -> current elements whose definitions name it.
    by_target: HashMap<String, Vec<&'a Element>, WordBuildHasher>,
    /// Desired elements by kind and key, for the re-creates.
    desired: HashMap<(String, String), &'a Element, WordBuildHasher>,
}

/// Kinds that can be taken down and put back.
fn refreshable(object_kind: &str) -> bool {
    matches!(
        object_kind,
        kind::VIEW
            | kind::SCALAR_FUNCTION
            | kind::INLINE_TVF
            | kind::MULTI_TVF
            | kind::DML_TRIGGER
            | "PgPolicy"
    )
}

impl<'a> Dependents<'a> {
    pub(super) fn new(current: &'a Model, desired: &'a Model) -> Self {
        let index = NameIndex::new(&[current]);
        let mut by_target: HashMap<String, Vec<&'a Element>, WordBuildHasher> = HashMap::default();
        let mut refs = Vec::new();
        for element in &current.elements {
            // Tables carry a type's dependents on to their views; constraints, defaults and
            // indexes keep a function from being dropped.
            let wanted = refreshable(&element.kind)
                || matches!(
                    element.kind.as_str(),
                    kind::TABLE | kind::CHECK | kind::DEFAULT | kind::INDEX
                );
            if !wanted || element.name.is_none() && element.kind == kind::TABLE {
                continue;
            }
            refs.clear();
            index.references(element, &mut refs);
            let own = element.name.as_ref().map(graph::key);
            let mut seen: HashSet<&str> = HashSet::new();
            for (target, _) in &refs {
                if Some(target) == own.as_ref() || !seen.insert(target) {
                    continue;
                }
                by_target.entry(target.clone()).or_default().push(element);
            }
        }
        let mut wanted_desired = HashMap::default();
        for element in &desired.elements {
            if (refreshable(&element.kind) || element.kind == kind::INDEX)
                && let Some(name) = &element.name
            {
                wanted_desired.insert((element.kind.to_string(), graph::key(name)), element);
            }
        }
        Dependents {
            by_target,
            desired: wanted_desired,
        }
    }
}

/// What a step changes that dependents may hold.
pub(super) enum Disruption<'c> {
    /// A table rebuilt (replaced by a new one).
    Rebuilt(&'c ObjectName),
    /// Columns of a table retyped or dropped (lower-cased names).
    Columns(&'c ObjectName, Vec<String>),
    /// A type (enum, domain, composite...) replaced.
    Type(&'c ObjectName),
    /// A table, view or function dropped, or a view or function replaced.
    Replaced(&'c ObjectName),
}

impl<'a> Planner<'a> {
    /// Takes the dependents of what the step at `step` changes down before it and puts them
    /// back after it.
    pub(super) fn refresh_around(
        &mut self,
        step: usize,
        disruption: Disruption<'_>,
        changes: &[&Change],
    ) {
        let hold = self.caps.dependents_hold_columns;
        if !hold && !matches!(disruption, Disruption::Rebuilt(_)) {
            return;
        }
        if self.dependents.is_none() {
            self.dependents = Some(Dependents::new(self.current, self.desired));
        }
        let (start, columns, through_tables) = match &disruption {
            Disruption::Rebuilt(t) => (graph::key(t), Vec::new(), false),
            Disruption::Columns(t, c) => (graph::key(t), c.clone(), false),
            Disruption::Type(t) => (graph::key(t), Vec::new(), true),
            Disruption::Replaced(t) => (graph::key(t), Vec::new(), false),
        };
        let whole = matches!(disruption, Disruption::Type(_) | Disruption::Replaced(_));
        let mut refreshed: Vec<&'a Element> = Vec::new();
        {
            let Some(dependents) = self.dependents.as_ref() else {
                return;
            };
            let mut seen: HashSet<String> = HashSet::new();
            let mut queue = VecDeque::from([(start.clone(), true)]);
            seen.insert(start.clone());
            while let Some((target, first)) = queue.pop_front() {
                for element in dependents.by_target.get(&target).into_iter().flatten() {
                    let Some(name) = &element.name else { continue };
                    let k = format!("{}|{}", element.kind, graph::key(name));
                    if seen.contains(&k) {
                        continue;
                    }
                    let take = match element.kind.as_str() {
                        kind::VIEW => true,
                        kind::TABLE => {
                            if through_tables && first {
                                seen.insert(k);
                                // Views over the table's columns of the type.
                                queue.push_back((graph::key(name), false));
                            }
                            continue;
                        }
                        kind::SCALAR_FUNCTION | kind::INLINE_TVF | kind::MULTI_TVF => {
                            hold && (first && whole || names_column(element, &columns))
                                && !dependents
                                    .by_target
                                    .get(&graph::key(name))
                                    .into_iter()
                                    .flatten()
                                    .any(|e| !refreshable(&e.kind))
                        }
                        kind::DML_TRIGGER | "PgPolicy" => {
                            hold && (!first || whole || names_column(element, &columns))
                                // What is on a dropped object goes with it; what is on a
                                // replaced one (a view PostgreSQL cannot replace in place
                                // is dropped and created) is put back.
                                && !(first
                                    && matches!(disruption, Disruption::Replaced(_))
                                    && view::owner(element).map(graph::key) == Some(start.clone())
                                    && !self.desired.elements.iter().any(|e| {
                                        e.kind == element.kind && e.name == element.name
                                    }))
                        }
                        _ => false,
                    };
                    if !take {
                        continue;
                    }
                    seen.insert(k);
                    refreshed.push(element);
                    queue.push_back((graph::key(name), false));
                }
            }
        }
        let reason = match &disruption {
            Disruption::Rebuilt(t) => format!("refreshed around the rebuild of {t}"),
            Disruption::Columns(t, _) => format!("refreshed around the change of {t}"),
            Disruption::Type(t) => format!("refreshed around the change of type {t}"),
            Disruption::Replaced(t) => format!("refreshed around the change of {t}"),
        };
        for current in refreshed {
            self.refresh_one(step, current, changes, &reason, hold);
        }
    }

    fn refresh_one(
        &mut self,
        step: usize,
        current: &'a Element,
        changes: &[&Change],
        reason: &str,
        hold: bool,
    ) {
        let name = current.name_or_empty();
        let key = graph::key(&name);
        let Some(dependents) = self.dependents.as_ref() else {
            return;
        };
        let Some(desired) = dependents
            .desired
            .get(&(current.kind.to_string(), key.clone()))
            .copied()
        else {
            // Not wanted any more: the diff drops it.
            return;
        };
        let (create_kind, drop_kind) = kinds_for(&current.kind);
        let changed = changes.iter().any(|c| {
            c.kind == current.kind
                && c.action != Action::Keep
                && (graph::key(&c.name) == key
                    || c.renamed_from
                        .as_ref()
                        .is_some_and(|r| graph::key(r) == key))
        });
        let on_owner = |s: &Step| graph::key(&s.name) == key && s.object_kind == current.kind;
        if changed {
            if !hold {
                return;
            }
            // The diff replaces it in place: it still has to be out of the way first.
            let dropped = self
                .plan
                .steps
                .iter()
                .any(|s| on_owner(s) && s.kind.is_drop());
            if !dropped {
                let mut drop = Step::new(drop_kind, &current.kind, name.clone());
                drop.current = Some(current.clone());
                drop.reason = Some(reason.to_string());
                self.plan.steps.push(drop);
                self.edges.push((self.plan.steps.len() - 1, step));
            }
            let creates: Vec<usize> = (0..self.plan.steps.len())
                .filter(|&i| on_owner(&self.plan.steps[i]) && !self.plan.steps[i].kind.is_drop())
                .collect();
            for i in creates {
                self.plan.steps[i].current = None;
                self.edges.push((step, i));
            }
            return;
        }
        // Already taken down around another change: around this one too.
        let id = (current.kind.to_string(), key.clone());
        if let Some(&(drop_at, create_at)) = self.refreshed.get(&id) {
            self.edges.push((drop_at, step));
            self.edges.push((step, create_at));
            return;
        }
        let mut drop = Step::new(drop_kind, &current.kind, name.clone());
        drop.current = Some(current.clone());
        drop.reason = Some(reason.to_string());
        self.plan.steps.push(drop);
        let drop_at = self.plan.steps.len() - 1;
        self.edges.push((drop_at, step));
        self.refreshed.insert(id, (drop_at, drop_at + 1));
        let mut create = Step::new(create_kind, &desired.kind, name.clone());
        create.desired = Some(desired.clone());
        create.reason = Some(reason.to_string());
        self.plan.steps.push(create);
        self.edges.push((step, self.plan.steps.len() - 1));
        // Indexes and triggers on a view go with it: put back after it.
        if current.kind == kind::VIEW {
            let owned: Vec<Element> = self
                .desired_owned
                .of(&name)
                .iter()
                .filter(|e| matches!(e.kind.as_str(), kind::INDEX | kind::DML_TRIGGER))
                .filter(|e| {
                    !changes.iter().any(|c| {
                        c.kind == e.kind
                            && e.name
                                .as_ref()
                                .is_some_and(|n| graph::key(n) == graph::key(&c.name))
                    })
                })
                .map(|e| (*e).clone())
                .collect();
            for element in owned {
                let (create_kind, _) = kinds_for(&element.kind);
                let mut again = Step::new(create_kind, &element.kind, element.name_or_empty());
                again.desired = Some(element);
                again.reason = Some(reason.to_string());
                self.plan.steps.push(again);
                self.edges.push((step, self.plan.steps.len() - 1));
            }
        }
    }
}

/// Whether an element's definition names one of `columns` (lower-cased).
fn names_column(element: &Element, columns: &[String]) -> bool {
    if columns.is_empty() {
        return false;
    }
    let text = super::definition_text(element).to_lowercase()
        + &element
            .text_prop(prop::DEFINITION_SCRIPT)
            .unwrap_or_default()
            .to_lowercase();
    columns.iter().any(|c| super::mentions(&text, c))
}
