//! Risky, not only destructive, changes: what an in-place upgrade makes the database do while
//! writers wait. A table rewritten by a column's new type, an index built on a table that is
//! there (writes blocked while it builds), a constraint that reads every row under a lock. Each
//! is a hazard naming its object, with what the platform offers instead, so a reviewer sees it
//! and a policy (`--block-on`) can refuse it. Which changes rewrite or block is the platform's
//! ([`Capabilities`]).

use std::collections::HashSet;

use super::{Capabilities, ColumnChange, Hazard, HazardKind, Plan, StepKind};
use crate::model::view::{self, ColumnView, DataType};
use crate::model::{Model, ObjectName, Platform, kind};

/// Adds the plan's risky-change hazards, after its steps are known. Only objects on tables the
/// database has and the plan neither creates nor rebuilds count: a new or rebuilt table holds
/// no reader or writer yet.
pub(super) fn add_risk_hazards(
    plan: &mut Plan,
    current: &Model,
    caps: Capabilities,
    case_sensitive: bool,
) {
    let fresh: HashSet<String> = plan
        .steps
        .iter()
        .filter(|s| matches!(s.kind, StepKind::CreateTable | StepKind::RebuildTable))
        .map(|s| s.name.key(case_sensitive))
        .collect();
    // One pass over the model: a lookup per step would make planning quadratic.
    let tables: HashSet<String> = current
        .elements
        .iter()
        .filter(|e| e.kind == kind::TABLE)
        .filter_map(|e| e.name.as_ref().map(|n| n.key(case_sensitive)))
        .collect();
    let existing = |table: &ObjectName| {
        let key = table.key(case_sensitive);
        !fresh.contains(&key) && tables.contains(&key)
    };
    let platform = current.platform();
    let mut hazards = Vec::new();
    for step in &plan.steps {
        match step.kind {
            StepKind::AlterTable if existing(&step.name) => {
                for change in &step.columns {
                    if let ColumnChange::Alter {
                        current, desired, ..
                    } = change
                    {
                        column_risks(&step.name, current, desired, platform, caps, &mut hazards);
                    }
                }
            }
            StepKind::CreateIndex => {
                let Some(desired) = &step.desired else {
                    continue;
                };
                let Some(table) = view::owner(desired).filter(|t| existing(t)) else {
                    continue;
                };
                hazards.push(index_build(&step.name, table, caps));
            }
            StepKind::AddConstraint | StepKind::AddForeignKey => {
                let Some(desired) = &step.desired else {
                    continue;
                };
                let Some(table) = view::owner(desired).filter(|t| existing(t)) else {
                    continue;
                };
                match desired.kind.as_str() {
                    kind::PRIMARY_KEY | kind::UNIQUE => {
                        let mut hazard = index_build(&step.name, table, caps);
                        // An unnamed key carries its table's name: say what it is.
                        if step.name == *table {
                            let what = if desired.kind == kind::PRIMARY_KEY {
                                "primary key"
                            } else {
                                "unique key"
                            };
                            hazard.message = hazard.message.replacen(
                                &format!("building {table}"),
                                &format!("building the {what} of {table}"),
                                1,
                            );
                        }
                        hazards.push(hazard);
                    }
                    kind::CHECK | kind::FOREIGN_KEY => hazards.push(Hazard {
                        kind: HazardKind::TableScan,
                        object: step.name.clone(),
                        table: Some(table.clone()),
                        message: format!(
                            "adding {} checks every row of {table} while it holds a lock that blocks writes{}",
                            step.name,
                            if caps.validate_constraints_later && desired.kind == kind::FOREIGN_KEY {
                                "; the rows can be checked later instead (NOT VALID, then VALIDATE CONSTRAINT), as a side-by-side upgrade does"
                            } else {
                                ""
                            }
                        ),
                    }),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    plan.hazards.extend(hazards);
}

fn index_build(index: &ObjectName, table: &ObjectName, caps: Capabilities) -> Hazard {
    let instead = caps
        .online_index_build
        .map(|how| format!("; {how} does not"))
        .unwrap_or_default();
    Hazard {
        kind: HazardKind::BlockingIndexBuild,
        object: index.clone(),
        table: Some(table.clone()),
        message: format!("building {index} blocks writes to {table} while it builds{instead}"),
    }
}

fn column_risks(
    table: &ObjectName,
    current: &crate::model::Element,
    desired: &crate::model::Element,
    platform: Platform,
    caps: Capabilities,
    hazards: &mut Vec<Hazard>,
) {
    let (old, new) = (ColumnView(current), ColumnView(desired));
    let types = (
        old.data_type().map(|t| t.with_implied(platform)),
        new.data_type().map(|t| t.with_implied(platform)),
    );
    if let (Some(a), Some(b)) = &types
        && a != b
        && caps.type_change_rewrites_table
        && !keeps_storage(a, b)
    {
        hazards.push(Hazard {
            kind: HazardKind::TableRewrite,
            object: desired.name_or_empty(),
            table: Some(table.clone()),
            message: format!(
                "changing the type of column {} of {table} rewrites the whole table, with reads and writes blocked while it runs",
                new.name()
            ),
        });
    }
    if old.is_nullable() && !new.is_nullable() {
        hazards.push(Hazard {
            kind: HazardKind::TableScan,
            object: desired.name_or_empty(),
            table: Some(table.clone()),
            message: format!(
                "making column {} of {table} NOT NULL reads every row while it holds a lock that blocks writes",
                new.name()
            ),
        });
    }
}

/// Type changes the platforms make without rewriting the rows: a longer (or unbounded)
/// variable-length string, `varchar` to `text`, a wider `numeric` of the same scale.
fn keeps_storage(from: &DataType, to: &DataType) -> bool {
    let (a, b) = (from.base(), to.base());
    if from.array_dimensions != to.array_dimensions {
        return false;
    }
    const VARYING: &[&str] = &[
        "varchar",
        "character varying",
        "nvarchar",
        "varbinary",
        "text",
    ];
    if VARYING.contains(&a.as_str()) && VARYING.contains(&b.as_str()) {
        let same_kind =
            a == b || (a != "nvarchar" && b != "nvarchar" && a != "varbinary" && b != "varbinary");
        let longer = to.is_max
            || b == "text"
            || to.length.is_none()
            || matches!((from.length, to.length), (Some(x), Some(y)) if y >= x);
        let keeps_max = !from.is_max || to.is_max;
        return same_kind && longer && keeps_max;
    }
    if a == b && (a == "numeric" || a == "decimal") {
        return from.scale == to.scale
            && matches!((from.precision, to.precision), (Some(x), Some(y)) if y >= x);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, length: Option<i64>, precision: Option<i64>, scale: Option<i64>) -> DataType {
        DataType {
            name: ObjectName::new([name]),
            built_in: true,
            length,
            precision,
            scale,
            is_max: false,
            array_dimensions: 0,
        }
    }

    #[test]
    fn only_widening_a_varying_string_or_a_numeric_keeps_the_rows_as_they_are() {
        let varchar = |n| t("character varying", Some(n), None, None);
        assert!(keeps_storage(&varchar(20), &varchar(40)));
        assert!(keeps_storage(&varchar(20), &t("text", None, None, None)));
        assert!(!keeps_storage(&varchar(40), &varchar(20)));
        let numeric = |p, s| t("numeric", None, Some(p), Some(s));
        assert!(keeps_storage(&numeric(10, 2), &numeric(12, 2)));
        assert!(!keeps_storage(&numeric(10, 2), &numeric(12, 3)));
        assert!(!keeps_storage(
            &t("integer", None, None, None),
            &t("bigint", None, None, None)
        ));
        assert!(!keeps_storage(
            &t("char", Some(2), None, None),
            &t("char", Some(4), None, None)
        ));
    }
}
