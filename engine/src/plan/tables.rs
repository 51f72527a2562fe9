//! Planning table changes: create, drop, alter in place, or rebuild where the platform cannot
//! alter, with the hazards each brings.

use std::collections::{BTreeSet, HashMap};

use super::dependents::Disruption;
use super::{
    ColumnChange, ColumnCopy, HazardKind, Planner, Step, StepKind, TableDefinition, TableFate,
    is_inline_constraint,
};
use crate::compare::normalize::canonical_expression;
use crate::compare::{Action, Change};
use crate::model::kind::prop;
use crate::model::symbol::WordBuildHasher;
use crate::model::view::{ColumnView, DataType, TableView};
use crate::model::{Element, ObjectName, kind, view};

impl Planner<'_> {
    pub(super) fn table(&mut self, change: &Change, changes: &[&Change]) {
        match change.action {
            Action::Create => {
                let Some(desired) = &change.desired else {
                    return;
                };
                let mut step = Step::new(StepKind::CreateTable, kind::TABLE, change.name.clone());
                step.table = Some(self.definition(desired, true));
                step.desired = Some(desired.clone());
                self.plan.steps.push(step);
                self.set_fate(&change.name, TableFate::Created);
            }
            Action::Drop => {
                let Some(current) = &change.current else {
                    return;
                };
                let message = format!(
                    "the table {} is being dropped, data loss could occur",
                    change.name
                );
                self.hazard(
                    HazardKind::DataLoss,
                    &change.name,
                    Some(&change.name),
                    message.clone(),
                );
                let mut step = Step::new(StepKind::DropTable, kind::TABLE, change.name.clone());
                step.guard = self.guard(&change.name, &message);
                step.current = Some(current.clone());
                self.plan.steps.push(step);
                self.set_fate(&change.name, TableFate::Dropped);
                // What still names it (a view over a table replaced by a view) is put back.
                let at = self.plan.steps.len() - 1;
                self.refresh_around(at, Disruption::Replaced(&change.name), changes);
            }
            Action::Keep => {}
            Action::Rename => {
                let mut step = Step::new(StepKind::Rename, kind::TABLE, change.name.clone());
                step.renamed_from = change.renamed_from.clone();
                step.current = change.current.clone();
                step.desired = change.desired.clone();
                self.plan.steps.push(step);
                if !change.details.is_empty() {
                    self.alter_table(change, changes);
                }
            }
            Action::Alter => self.alter_table(change, changes),
        }
    }

    /// Tables in both models whose columns are in another order, which the diff left out
    /// (the comparison ignored order): reported, as the table keeps its order.
    pub(super) fn report_column_order_kept(&mut self) {
        if self.caps.column_order_significant {
            return;
        }
        let case_sensitive = self.case_sensitive;
        let current_tables: HashMap<String, &Element> = self
            .current
            .elements
            .iter()
            .filter(|e| e.kind == kind::TABLE)
            .map(|e| (e.name_or_empty().key(case_sensitive), e))
            .collect();
        let key = |c: ColumnView| {
            if case_sensitive {
                c.name().to_string()
            } else {
                c.name().to_lowercase()
            }
        };
        let desired = self.desired;
        for table in desired.elements.iter().filter(|e| e.kind == kind::TABLE) {
            let name = table.name_or_empty();
            if self.fate(&name).is_some()
                || self
                    .plan
                    .hazards
                    .iter()
                    .any(|h| h.kind == HazardKind::ColumnOrder && h.object == name)
            {
                continue;
            }
            let Some(current) = current_tables.get(&name.key(case_sensitive)) else {
                continue;
            };
            let current_keys: Vec<String> = TableView(current).columns().map(key).collect();
            let desired_keys: Vec<String> = TableView(table).columns().map(key).collect();
            if let Some(order) = column_order_change(&current_keys, &desired_keys) {
                self.column_order_kept(&name, &order);
            }
        }
    }

    fn column_order_kept(&mut self, table: &ObjectName, order: &str) {
        self.hazard(
            HazardKind::ColumnOrder,
            table,
            Some(table),
            format!(
                "{order} in {table}: the table keeps its order and new columns go at the end (rebuild for column order to match the package)"
            ),
        );
    }

    /// A table whose partition membership or bound is all that changes is detached from its
    /// partitioned table and attached to the new one (or with its new bound), keeping its
    /// rows; the server checks them against the bound. A partition's columns are its parent's:
    /// they are not compared here. Returns whether the change was planned so.
    fn attach_or_detach(&mut self, change: &Change, current: &Element, desired: &Element) -> bool {
        let membership = |e: &Element| {
            (
                e.reference_name(kind::rel::PARTITION_OF).cloned(),
                e.text_prop(prop::PARTITION_BOUND).map(str::to_string),
            )
        };
        let (was, will) = (membership(current), membership(desired));
        if was == will {
            return false;
        }
        let partition_detail =
            |path: &str| path.starts_with(kind::rel::PARTITION_OF) || path == prop::PARTITION_BOUND;
        if change
            .details
            .iter()
            .any(|d| !partition_detail(&d.path) && !d.path.starts_with(kind::rel::COLUMNS))
        {
            return false;
        }
        if was.0.is_some() {
            let mut step = Step::new(StepKind::DetachPartition, kind::TABLE, change.name.clone());
            step.current = Some(current.clone());
            self.plan.steps.push(step);
        }
        if will.0.is_some() {
            let mut step = Step::new(StepKind::AttachPartition, kind::TABLE, change.name.clone());
            step.desired = Some(desired.clone());
            self.plan.steps.push(step);
        }
        true
    }

    fn set_fate(&mut self, table: &ObjectName, fate: TableFate) {
        self.handled_tables
            .insert(table.key(self.case_sensitive), fate);
    }

    /// The desired table with the constraints written inside its CREATE TABLE.
    fn definition(&self, table: &Element, desired: bool) -> TableDefinition {
        let owned = if desired {
            &self.desired_owned
        } else {
            &self.current_owned
        };
        let constraints = owned
            .of(&table.name_or_empty())
            .iter()
            .filter(|e| is_inline_constraint(&e.kind, self.caps))
            .map(|e| (*e).clone())
            .collect();
        TableDefinition {
            table: table.clone(),
            constraints,
        }
    }

    fn alter_table(&mut self, change: &Change, changes: &[&Change]) {
        let (Some(current), Some(desired)) = (&change.current, &change.desired) else {
            return;
        };
        let name = &change.name;
        if self.attach_or_detach(change, current, desired) {
            return;
        }
        let caps = self.caps;
        let current_table = TableView(current);
        let desired_table = TableView(desired);
        let mut reasons: Vec<String> = Vec::new();
        let mut column_changes = Vec::new();
        let mut loss: Vec<String> = Vec::new();
        let mut copy = Vec::new();
        let case_sensitive = self.case_sensitive;
        let key = |c: &ColumnView| {
            if case_sensitive {
                c.name().to_string()
            } else {
                c.name().to_lowercase()
            }
        };
        // Renamed columns (renamed by earlier steps) answer to their new names.
        let renamed: Vec<(String, String)> = changes
            .iter()
            .filter(|c| {
                c.action == Action::Rename
                    && matches!(c.kind.as_str(), kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN)
                    && c.name
                        .parent()
                        .is_some_and(|t| t.matches(name, case_sensitive))
            })
            .filter_map(|c| {
                let from = c.renamed_from.as_ref()?.leaf();
                let to = c.name.leaf();
                Some(if case_sensitive {
                    (from.to_string(), to.to_string())
                } else {
                    (from.to_lowercase(), to.to_lowercase())
                })
            })
            .collect();
        let cur_key = |c: &ColumnView| {
            let k = key(c);
            renamed
                .iter()
                .find(|(from, _)| *from == k)
                .map_or(k, |(_, to)| to.clone())
        };
        let current_cols: Vec<ColumnView> = current_table.columns().collect();
        let desired_cols: Vec<ColumnView> = desired_table.columns().collect();
        // Every column's key, made once: the columns are matched pairwise.
        let current_keys: Vec<String> = current_cols.iter().map(&cur_key).collect();
        let desired_keys: Vec<String> = desired_cols.iter().map(&key).collect();
        let current_constrained = self.constrained_columns(&current.name_or_empty(), false);

        let mut smart_defaults: Vec<Element> = Vec::new();
        for (col, col_key) in desired_cols.iter().zip(&desired_keys) {
            let old = current_keys.iter().position(|k| k == col_key);
            let Some(old) = old.map(|idx| &current_cols[idx]) else {
                let mut default = self.column_default(&desired.name_or_empty(), col.name());
                if !col.is_nullable()
                    && default.is_none()
                    && col.computed_expression().is_none()
                    && !col.is_identity()
                {
                    let message = format!(
                        "the column {} must be added, but the column has no default value and does not allow NULL values; it fails when {name} holds rows",
                        col.0.name_or_empty()
                    );
                    let smart = self
                        .options
                        .smart_defaults
                        .then(|| col.data_type().and_then(|t| smart_default(&t)))
                        .flatten();
                    if let Some(value) = smart {
                        // Existing rows get a type-appropriate value: a temporary default the
                        // column is added with, dropped once the column is filled (SQLite's
                        // rebuild copies the value instead).
                        let temporary = smart_default_constraint(name, col.name(), value);
                        if caps.alter_constraints {
                            default = Some(temporary.clone());
                            smart_defaults.push(temporary);
                        } else {
                            copy.push(ColumnCopy {
                                from: String::new(),
                                to: col.name().to_string(),
                                value: Some(value.to_string()),
                            });
                        }
                    } else {
                        self.hazard(
                            HazardKind::NotNullWithoutDefault,
                            &col.0.name_or_empty(),
                            Some(name),
                            message.clone(),
                        );
                        loss.push(message);
                    }
                    if !caps.alter_constraints {
                        reasons.push(format!(
                            "the platform cannot add the NOT NULL column {} without a default",
                            col.name()
                        ));
                    }
                }
                if !caps.alter_constraints
                    && (col
                        .computed_expression()
                        .is_some_and(|_| col.is_persisted())
                        || self.is_key_column(&desired.name_or_empty(), col.name()))
                {
                    reasons.push(format!(
                        "the platform cannot add the column {} in place",
                        col.name()
                    ));
                }
                column_changes.push(ColumnChange::Add {
                    column: col.0.clone(),
                    default,
                });
                continue;
            };
            copy.push(ColumnCopy {
                from: if col_key == &key(old) {
                    old.name().to_string()
                } else {
                    col.name().to_string()
                },
                to: col.name().to_string(),
                value: None,
            });
            let mut altered = false;
            let platform = self.desired.platform();
            let (old_type, new_type) = (
                old.data_type().map(|t| t.with_implied(platform)),
                col.data_type().map(|t| t.with_implied(platform)),
            );
            if old_type != new_type {
                altered = true;
                if !caps.alter_column_type {
                    reasons.push(format!("the type of column {} changes", col.name()));
                }
                if let (Some(a), Some(b)) = (&old_type, &new_type)
                    && loses_data(a, b)
                {
                    let message = format!(
                        "the type for column {} in table {name} is currently {} but is being changed to {}; data loss could occur",
                        col.name(),
                        describe_type(a),
                        describe_type(b)
                    );
                    self.hazard(
                        HazardKind::DataLoss,
                        &col.0.name_or_empty(),
                        Some(name),
                        message.clone(),
                    );
                    loss.push(message);
                }
            }
            let mut fill_nulls = None;
            if old.is_nullable() != col.is_nullable() {
                altered = true;
                if !caps.alter_column_nullability {
                    reasons.push(format!("the nullability of column {} changes", col.name()));
                }
                // Smart defaults fill the NULLs first, with the column's default where it has
                // one (as DacFx does), so the change cannot fail on them.
                if !col.is_nullable()
                    && caps.alter_column_nullability
                    && self.options.smart_defaults
                {
                    fill_nulls = self
                        .column_default(&desired.name_or_empty(), col.name())
                        .and_then(|d| {
                            d.text_prop(prop::DEFAULT_EXPRESSION_SCRIPT)
                                .map(str::to_string)
                        })
                        .or_else(|| {
                            col.data_type()
                                .and_then(|t| smart_default(&t))
                                .map(str::to_string)
                        });
                }
                if !col.is_nullable() && fill_nulls.is_none() {
                    let message = format!(
                        "the column {} on table {name} must be changed from NULL to NOT NULL; it fails when the column holds NULLs",
                        col.name()
                    );
                    self.hazard(
                        HazardKind::NotNullWithoutDefault,
                        &col.0.name_or_empty(),
                        Some(name),
                        message.clone(),
                    );
                    loss.push(message);
                }
            }
            let identity = |c: &ColumnView| {
                (
                    c.identity(),
                    c.0.text_prop(prop::IDENTITY_GENERATION).map(str::to_string),
                    c.0.text_prop(prop::IDENTITY_OPTIONS).map(str::to_string),
                )
            };
            if identity(old) != identity(col) {
                if caps.alter_identity_in_place && col.computed_expression().is_none() {
                    altered = true;
                } else {
                    reasons.push(format!("the identity of column {} changes", col.name()));
                }
            }
            let canonical = |c: &ColumnView| c.computed_expression().map(canonical_expression);
            if canonical(old) != canonical(col)
                || old.is_persisted() != col.is_persisted()
                || old.0.kind != col.0.kind
            {
                reasons.push(format!(
                    "the computed definition of column {} changes",
                    col.name()
                ));
            }
            if old.0.prop(prop::STATISTICS_TARGET) != col.0.prop(prop::STATISTICS_TARGET) {
                altered = true;
            }
            if old.collation() != col.collation() {
                altered = true;
                if !caps.alter_column_type {
                    reasons.push(format!("the collation of column {} changes", col.name()));
                }
            }
            if altered {
                column_changes.push(ColumnChange::Alter {
                    current: old.0.clone(),
                    desired: col.0.clone(),
                    fill_nulls,
                });
            }
        }
        for (col, col_key) in current_cols.iter().zip(&current_keys) {
            if desired_keys.contains(col_key) {
                continue;
            }
            let message = format!(
                "the column {} is being dropped, data loss could occur",
                col.0.name_or_empty()
            );
            self.hazard(
                HazardKind::DataLoss,
                &col.0.name_or_empty(),
                Some(name),
                message.clone(),
            );
            loss.push(message);
            if !caps.drop_column
                || (!caps.alter_constraints
                    && current_constrained.contains(&col.name().to_lowercase()))
            {
                reasons.push(format!(
                    "the platform cannot drop the column {} in place",
                    col.name()
                ));
            }
            column_changes.push(ColumnChange::Drop {
                column: col.0.clone(),
            });
        }
        // Kept only when the table is not rebuilt for another reason (a rebuild takes the
        // package's order anyway).
        let mut order_kept = None;
        if let Some(order) = column_order_change(&current_keys, &desired_keys) {
            if caps.column_order_significant || self.options.rebuild_for_column_order {
                reasons.push(order);
            } else {
                order_kept = Some(order);
            }
        }
        for detail in &change.details {
            if !detail.path.starts_with(kind::rel::COLUMNS) {
                reasons.push(format!("the table property {} changes", detail.path));
            }
        }
        if !caps.alter_constraints {
            for other in changes {
                let owner = other
                    .desired
                    .as_ref()
                    .or(other.current.as_ref())
                    .and_then(view::owner);
                if owner.is_some_and(|o| o.matches(name, self.case_sensitive))
                    && is_inline_constraint(&other.kind, caps)
                    && other.action != Action::Keep
                {
                    reasons.push(format!(
                        "the platform cannot alter the constraint {} {} in place",
                        other.kind, other.name
                    ));
                }
            }
        }
        let guard_message = loss.join("; ");
        if reasons.is_empty()
            && let Some(order) = &order_kept
        {
            self.column_order_kept(name, order);
        }
        if reasons.is_empty() {
            if column_changes.is_empty() {
                return;
            }
            for temporary in smart_defaults {
                let mut drop = Step::new(
                    StepKind::DropSmartDefault,
                    kind::DEFAULT,
                    temporary.name_or_empty(),
                );
                drop.reason = Some("the smart default only filled existing rows".into());
                drop.current = Some(temporary);
                self.plan.steps.push(drop);
            }
            // Columns retyped or dropped: what holds them is taken down around the change.
            let held: Vec<String> = column_changes
                .iter()
                .filter_map(|c| match c {
                    ColumnChange::Drop { column } => Some(column),
                    ColumnChange::Alter {
                        current, desired, ..
                    } if ColumnView(current)
                        .data_type()
                        .map(|t| t.with_implied(self.desired.platform()))
                        != ColumnView(desired)
                            .data_type()
                            .map(|t| t.with_implied(self.desired.platform()))
                        || ColumnView(current).collation() != ColumnView(desired).collation() =>
                    {
                        Some(current)
                    }
                    _ => None,
                })
                .map(|c| ColumnView(c).name().to_lowercase())
                .collect();
            let mut step = Step::new(StepKind::AlterTable, kind::TABLE, name.clone());
            step.columns = column_changes;
            step.current = Some(current.clone());
            step.desired = Some(desired.clone());
            if !loss.is_empty() {
                step.guard = self.guard(name, &guard_message);
            }
            self.plan.steps.push(step);
            if !held.is_empty() {
                let at = self.plan.steps.len() - 1;
                self.refresh_around(at, Disruption::Columns(name, held), changes);
            }
            return;
        }
        dedup(&mut reasons);
        let reason = reasons.join("; ");
        self.hazard(
            HazardKind::TableRebuild,
            name,
            Some(name),
            format!("the table {name} is rebuilt: {reason}"),
        );
        let mut step = Step::new(StepKind::RebuildTable, kind::TABLE, name.clone());
        let mut table = self.definition(desired, true);
        let kept = self.kept_owned(name, changes);
        let is_rebuilt_with = |e: &&Element| {
            matches!(
                e.kind.as_str(),
                kind::INDEX | kind::COLUMN_STORE_INDEX | kind::DML_TRIGGER
            )
        };
        table.constraints.extend(
            kept.iter()
                .filter(|e| is_inline_constraint(&e.kind, self.caps))
                .cloned(),
        );
        step.table = Some(table);
        step.current = Some(current.clone());
        step.desired = Some(desired.clone());
        step.copy = copy;
        step.reason = Some(reason);
        step.dependents = self
            .desired_owned
            .of(name)
            .iter()
            .copied()
            .chain(kept.iter())
            .filter(is_rebuilt_with)
            .cloned()
            .collect();
        if !loss.is_empty() {
            step.guard = self.guard(name, &guard_message);
        }
        self.plan.steps.push(step);
        self.set_fate(name, TableFate::Rebuilt);
        let at = self.plan.steps.len() - 1;
        self.refresh_around(at, Disruption::Rebuilt(name), changes);
        self.refresh_dependents(name, changes);
    }

    /// What the current table owns that the package lacks and the diff keeps (`--do-not-drop`):
    /// a rebuild puts it back, or the new table would lose it silently.
    fn kept_owned(&self, table: &ObjectName, changes: &[&Change]) -> Vec<Element> {
        let identity = |e: &Element| {
            crate::compare::identity(e, self.case_sensitive, crate::compare::TextRules::default())
        };
        let wanted: BTreeSet<String> = self
            .desired_owned
            .of(table)
            .iter()
            .map(|e| identity(e))
            .collect();
        let dropped: BTreeSet<String> = changes
            .iter()
            .filter(|c| c.action == Action::Drop)
            .filter_map(|c| c.current.as_ref().map(identity))
            .collect();
        self.current_owned
            .of(table)
            .iter()
            .map(|e| identity(e))
            .zip(self.current_owned.of(table))
            .filter(|(id, _)| !wanted.contains(id) && !dropped.contains(id))
            .map(|(_, e)| (*e).clone())
            .collect()
    }

    /// Foreign keys that must be taken down and put back around a rebuild (views and other
    /// dependents: [`Planner::refresh_around`]).
    fn refresh_dependents(&mut self, table: &ObjectName, changes: &[&Change]) {
        let changing: BTreeSet<String> = changes
            .iter()
            .map(|c| format!("{}|{}", c.kind, c.name.key(self.case_sensitive)))
            .collect();
        let mut foreign_keys = Vec::new();
        for (current, desired) in self.pairs() {
            let element = &desired;
            let id = format!(
                "{}|{}",
                element.kind,
                element.name_or_empty().key(self.case_sensitive)
            );
            if changing.contains(&id) {
                continue;
            }
            if element.kind == kind::FOREIGN_KEY
                && !self.caps.foreign_keys_inline_only
                && element
                    .reference_name(kind::rel::FOREIGN_TABLE)
                    .is_some_and(|t| t.matches(table, self.case_sensitive))
                && !view::owner(element).is_some_and(|o| o.matches(table, self.case_sensitive))
            {
                foreign_keys.push((current.clone(), desired.clone()));
            }
        }
        let re_added = format!("re-added around the rebuild of {table}");
        for (current, desired) in foreign_keys {
            self.drop_and_recreate(
                (StepKind::DropForeignKey, StepKind::AddForeignKey),
                current,
                desired,
                &re_added,
            );
        }
        // The rebuilt table's own foreign keys go with the old table where they are not inline.
        if !self.caps.foreign_keys_inline_only {
            let own: Vec<Element> = self
                .desired_owned
                .of(table)
                .iter()
                .filter(|e| e.kind == kind::FOREIGN_KEY)
                .map(|e| (*e).clone())
                .collect();
            for fk in own {
                let id = format!(
                    "{}|{}",
                    fk.kind,
                    fk.name_or_empty().key(self.case_sensitive)
                );
                if changing.contains(&id) {
                    continue;
                }
                let mut add = Step::new(
                    StepKind::AddForeignKey,
                    kind::FOREIGN_KEY,
                    fk.name_or_empty(),
                );
                add.desired = Some(fk);
                add.reason = Some(format!("re-added after the rebuild of {table}"));
                self.plan.steps.push(add);
            }
        }
    }

    /// A drop of `current` and a create of `desired` (an unchanged object taken down and put
    /// back around a rebuild), both saying why.
    fn drop_and_recreate(
        &mut self,
        (drop_kind, create_kind): (StepKind, StepKind),
        current: Element,
        desired: Element,
        reason: &str,
    ) {
        let name = desired.name_or_empty();
        let mut drop = Step::new(drop_kind, &desired.kind, name.clone());
        drop.current = Some(current);
        drop.reason = Some(reason.to_string());
        self.plan.steps.push(drop);
        let mut create = Step::new(create_kind, &desired.kind, name);
        create.desired = Some(desired);
        create.reason = Some(reason.to_string());
        self.plan.steps.push(create);
    }

    /// Unchanged objects present in both models, as (current, desired) pairs.
    fn pairs(&self) -> Vec<(&Element, &Element)> {
        // Current sub-objects by kind and name, the first met where one appears twice: one
        // lookup per desired sub-object instead of a scan of them all.
        let mut current: HashMap<(&str, &ObjectName), &Element, WordBuildHasher> =
            HashMap::default();
        for element in self.current_owned.by_table.values().flatten() {
            if let Some(name) = &element.name {
                current
                    .entry((element.kind.as_str(), name))
                    .or_insert(element);
            }
        }
        let mut out = Vec::new();
        for desired_list in self.desired_owned.by_table.values() {
            for desired in desired_list {
                if let Some(name) = &desired.name
                    && let Some(current) = current.get(&(desired.kind.as_str(), name))
                {
                    out.push((*current, *desired));
                }
            }
        }
        // Views are not owned by a table: pair them by name.
        out.extend(self.views.iter().copied());
        out
    }

    fn column_default(&self, table: &ObjectName, column: &str) -> Option<Element> {
        self.desired_owned
            .of(table)
            .iter()
            .find(|e| {
                e.kind == kind::DEFAULT
                    && e.reference_name(kind::rel::FOR_COLUMN)
                        .is_some_and(|c| c.leaf().eq_ignore_ascii_case(column))
            })
            .map(|e| (*e).clone())
    }

    fn is_key_column(&self, table: &ObjectName, column: &str) -> bool {
        self.desired_owned.of(table).iter().any(|e| {
            matches!(
                e.kind.as_str(),
                kind::PRIMARY_KEY | kind::UNIQUE | kind::FOREIGN_KEY
            ) && constraint_columns(e)
                .iter()
                .any(|c| c.eq_ignore_ascii_case(column))
        })
    }

    /// Lower-cased names of columns used by the table's constraints and indexes.
    fn constrained_columns(&self, table: &ObjectName, desired: bool) -> BTreeSet<String> {
        let owned = if desired {
            &self.desired_owned
        } else {
            &self.current_owned
        };
        owned
            .of(table)
            .iter()
            .flat_map(|e| constraint_columns(e))
            .map(|c| c.to_lowercase())
            .collect()
    }
}

fn constraint_columns(element: &Element) -> Vec<String> {
    let mut out: Vec<String> = view::key_columns(element)
        .into_iter()
        .map(|k| k.column.leaf().to_string())
        .collect();
    for rel in [
        kind::rel::COLUMNS,
        kind::rel::FOR_COLUMN,
        kind::rel::INCLUDED_COLUMNS,
    ] {
        out.extend(
            view::referenced_names(element, rel)
                .iter()
                .map(|n| n.leaf().to_string()),
        );
    }
    out
}

/// A value every row can take for a new NOT NULL column of a type (DacFx's smart defaults):
/// zero, an empty string, the first of January 1900, the nil UUID.
pub(crate) fn smart_default(data_type: &DataType) -> Option<&'static str> {
    let base = data_type.base();
    if data_type.array_dimensions > 0 {
        return Some("'{}'");
    }
    let value = match base.as_str() {
        "bit" | "tinyint" | "smallint" | "int" | "integer" | "bigint" | "decimal" | "numeric"
        | "money" | "smallmoney" | "float" | "real" | "double precision" | "int2" | "int4"
        | "int8" | "float4" | "float8" => "0",
        "boolean" | "bool" => "false",
        "char" | "varchar" | "nchar" | "nvarchar" | "text" | "ntext" | "character"
        | "character varying" | "xml" | "citext" | "json" | "sysname" => {
            if base == "json" {
                "'{}'"
            } else {
                "''"
            }
        }
        "jsonb" => "'{}'",
        "date" => "'1900-01-01'",
        "datetime"
        | "datetime2"
        | "smalldatetime"
        | "timestamp"
        | "timestamp without time zone" => "'1900-01-01 00:00:00'",
        "datetimeoffset" | "timestamp with time zone" | "timestamptz" => "'1900-01-01 00:00:00+00'",
        "time" | "time without time zone" => "'00:00:00'",
        "uniqueidentifier" | "uuid" => "'00000000-0000-0000-0000-000000000000'",
        "binary" | "varbinary" | "image" => "0x",
        "bytea" => "''",
        other => {
            // SQLite declared types follow its affinity rules.
            let upper = other.to_ascii_uppercase();
            if upper.contains("INT")
                || upper.contains("REAL")
                || upper.contains("FLOA")
                || upper.contains("DOUB")
                || upper.contains("NUM")
                || upper.contains("DEC")
                || upper.contains("BOOL")
            {
                "0"
            } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
                "''"
            } else if upper.contains("BLOB") {
                "X''"
            } else {
                return None;
            }
        }
    };
    Some(value)
}

/// The temporary default a smart default is added with.
fn smart_default_constraint(table: &ObjectName, column: &str, value: &str) -> Element {
    Element::new(kind::DEFAULT)
        .named(ObjectName::new([
            table.first().to_string(),
            format!("DF_dac_smart_{}_{column}", table.leaf()),
        ]))
        .with_script(prop::DEFAULT_EXPRESSION_SCRIPT, value)
        .with_ref(
            kind::rel::DEFINING_TABLE,
            crate::model::Reference::to(table.clone()),
        )
        .with_ref(
            kind::rel::FOR_COLUMN,
            crate::model::Reference::to(table.child(column)),
        )
}

/// "the column order changes" when the columns both lists hold are in another order, or a
/// new column is not at the end (what an in-place ADD COLUMN cannot give).
fn column_order_change(current_keys: &[String], desired_keys: &[String]) -> Option<String> {
    let common_current: Vec<&String> = current_keys
        .iter()
        .filter(|k| desired_keys.contains(k))
        .collect();
    let common_desired: Vec<&String> = desired_keys
        .iter()
        .filter(|k| current_keys.contains(k))
        .collect();
    let appended_only = desired_keys
        .iter()
        .take(common_desired.len())
        .collect::<Vec<_>>()
        == common_desired;
    (common_current != common_desired || !appended_only)
        .then(|| "the column order changes".to_string())
}

fn dedup(reasons: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    reasons.retain(|r| seen.insert(r.clone()));
}

fn describe_type(t: &DataType) -> String {
    let mut text = t.name.leaf().to_uppercase();
    if t.is_max {
        text.push_str(" (MAX)");
    } else if let Some(len) = t.length {
        text.push_str(&format!(" ({len})"));
    } else if let (Some(p), Some(s)) = (t.precision, t.scale) {
        text.push_str(&format!(" ({p}, {s})"));
    }
    text
}

/// Whether changing a column from `current` to `desired` could lose data: narrowing, or a change
/// to a type that does not hold every value of the old one.
pub(crate) fn loses_data(current: &DataType, desired: &DataType) -> bool {
    let (a, b) = (current.base(), desired.base());
    if a == b || same_family(&a, &b) {
        if current.is_max && !desired.is_max {
            return true;
        }
        let shrinks = |x: Option<i64>, y: Option<i64>| {
            matches!((x, y), (Some(x), Some(y)) if y < x && y >= 0)
                || matches!((x, y), (None, Some(_)))
        };
        if a == b || widening(&a, &b) {
            return (!desired.is_max && shrinks(current.length, desired.length))
                || shrinks(current.precision, desired.precision)
                || shrinks(current.scale, desired.scale);
        }
    }
    !widening(&a, &b)
}

fn same_family(a: &str, b: &str) -> bool {
    let strings = [
        "char",
        "varchar",
        "nchar",
        "nvarchar",
        "character",
        "character varying",
        "text",
    ];
    strings.contains(&a) && strings.contains(&b)
}

/// Type changes that keep every value.
fn widening(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    const CHAINS: &[&[&str]] = &[
        &[
            "bit", "tinyint", "smallint", "int", "bigint", "decimal", "numeric",
        ],
        &["smallint", "integer", "bigint", "numeric"],
        &["real", "float", "double precision"],
        &["char", "varchar", "nvarchar"],
        &["nchar", "nvarchar"],
        &["character", "character varying", "text"],
        &["smalldatetime", "datetime", "datetime2", "datetimeoffset"],
        &["date", "datetime2"],
        &["timestamp without time zone", "timestamp with time zone"],
        &["json", "jsonb"],
    ];
    CHAINS.iter().any(|chain| {
        let pos = |t: &str| chain.iter().position(|c| *c == t);
        matches!((pos(from), pos(to)), (Some(x), Some(y)) if x < y)
    }) || (to == "text" && same_family(from, to))
}
