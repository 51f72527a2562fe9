//! Which tables' rows move in a side-by-side upgrade, and how: a pure function of the registered
//! definition, the live schema and the desired schema (the DAC data-transfer rules).

use std::collections::HashSet;

use crate::compare::{Action, Diff};
use crate::driver::TableCopy;
use crate::model::kind::prop;
use crate::model::view::{ColumnView, TableView, key_columns, owner};
use crate::model::{Model, ObjectName, kind};
use crate::report::transfer::{TableTransfer, TransferCase};

/// One table of the transfer: what the report will say, and the copy to run (if any).
#[derive(Debug, Clone)]
pub struct PlannedTransfer {
    /// The report row (rows are filled in by the copy).
    pub report: TableTransfer,
    /// The copy, for tables whose rows move.
    pub copy: Option<TableCopy>,
}

fn key(name: &ObjectName, case_sensitive: bool) -> String {
    name.key(case_sensitive)
}

/// Whether a column can be written (generated columns are computed by the database).
fn writable(column: &ColumnView<'_>) -> bool {
    column.computed_expression().is_none()
        && column.0.kind != kind::COMPUTED_COLUMN
        && !column.0.bool_prop(prop::IS_GENERATED).unwrap_or(false)
}

/// The columns (leaf names) of `table`'s primary key in `model`, if it has one.
fn primary_key(model: &Model, table: &ObjectName, cs: bool) -> Option<Vec<String>> {
    let wanted = key(table, cs);
    model
        .of_kind(kind::PRIMARY_KEY)
        .find(|pk| owner(pk).is_some_and(|t| key(t, cs) == wanted))
        .map(|pk| {
            key_columns(pk)
                .into_iter()
                .map(|c| c.column.leaf().to_string())
                .collect()
        })
}

/// The destination's primary key columns, where every one is copied and the source's primary
/// key is exactly the columns they come from (so a row of the original finds its copy by
/// key); else empty.
fn catch_up_key(
    live: &Model,
    desired: &Model,
    source: &ObjectName,
    destination: &ObjectName,
    columns: &[(String, String)],
    cs: bool,
) -> Vec<String> {
    let (Some(wanted), Some(current)) = (
        primary_key(desired, destination, cs),
        primary_key(live, source, cs),
    ) else {
        return Vec::new();
    };
    let same = |a: &str, b: &str| {
        if cs {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    let mut from: Vec<&str> = Vec::new();
    for column in &wanted {
        match columns.iter().find(|(_, d)| same(d, column)) {
            Some((s, _)) => from.push(s),
            None => return Vec::new(),
        }
    }
    let matches =
        from.len() == current.len() && from.iter().all(|s| current.iter().any(|c| same(s, c)));
    if !matches || wanted.is_empty() {
        return Vec::new();
    }
    // As the copy names them.
    wanted
        .iter()
        .filter_map(|column| {
            columns
                .iter()
                .find(|(_, d)| same(d, column))
                .map(|(_, d)| d.clone())
        })
        .collect()
}

/// Plans the transfer. `registered` is the registered definition (the live schema stands in for
/// it when the database is not registered); `diff` is compare(live, desired), whose renames say
/// where a renamed table's or column's rows come from.
pub fn plan_transfer(
    registered: Option<&Model>,
    live: &Model,
    desired: &Model,
    diff: &Diff,
) -> Vec<PlannedTransfer> {
    let cs = desired.collation_case_sensitive;
    let registered_tables: Option<HashSet<String>> = registered.map(|model| {
        model
            .of_kind(kind::TABLE)
            .map(|t| key(&t.name_or_empty(), cs))
            .collect()
    });
    let is_registered = |name: &ObjectName| {
        registered_tables
            .as_ref()
            .is_none_or(|set| set.contains(&key(name, cs)))
    };
    // Renames: desired name -> live name, for tables and for columns.
    let mut table_renames = Vec::new();
    let mut column_renames = Vec::new();
    for change in &diff.changes {
        if change.action != Action::Rename {
            continue;
        }
        let Some(from) = &change.renamed_from else {
            continue;
        };
        if change.kind == kind::TABLE {
            table_renames.push((key(&change.name, cs), from.clone()));
        } else if change.kind == kind::SIMPLE_COLUMN {
            column_renames.push((key(&change.name, cs), from.leaf().to_string()));
        }
    }
    // Tables whose definition changes in any way (constraints included), by desired name.
    let mut altered = HashSet::new();
    for change in diff.differences() {
        altered.insert(key(&change.name, cs));
        if let Some(parent) = change.name.parent() {
            altered.insert(key(&parent, cs));
        }
    }
    let mut used_live = HashSet::new();
    let mut out = Vec::new();
    for table in desired.of_kind(kind::TABLE) {
        let wanted = TableView(table);
        let name = wanted.name();
        let source_name = table_renames
            .iter()
            .find(|(desired_key, _)| *desired_key == key(&name, cs))
            .map_or_else(|| name.clone(), |(_, from)| from.clone());
        let Some(current) = live.find(kind::TABLE, &source_name) else {
            let case = if registered_tables.is_some() && is_registered(&name) {
                (
                    TransferCase::Missing,
                    "registered but missing from the live database: created empty",
                )
            } else {
                (TransferCase::New, "new in the package: created empty")
            };
            out.push(PlannedTransfer {
                report: TableTransfer::new(&name, case.0, Some(case.1.into())),
                copy: None,
            });
            continue;
        };
        used_live.insert(key(&source_name, cs));
        if !is_registered(&source_name) {
            out.push(PlannedTransfer {
                report: TableTransfer::new(
                    &name,
                    TransferCase::Unregistered,
                    Some("in the live database and the package but not in the registered definition: created, not copied".into()),
                ),
                copy: None,
            });
            continue;
        }
        let current = TableView(current);
        let mut columns = Vec::new();
        let mut converted = Vec::new();
        let mut added = Vec::new();
        let mut same_types = true;
        let mut taken = HashSet::new();
        for column in wanted.columns() {
            if !writable(&column) {
                continue;
            }
            let column_key = key(&name.child(column.name()), cs);
            let source_column = column_renames
                .iter()
                .find(|(k, _)| *k == column_key)
                .map_or(column.name(), |(_, from)| from.as_str());
            let Some(old) = current.column(source_column).filter(writable) else {
                added.push(column.name().to_string());
                continue;
            };
            taken.insert(old.name().to_ascii_lowercase());
            let platform = desired.platform();
            if old.data_type().map(|t| t.with_implied(platform))
                != column.data_type().map(|t| t.with_implied(platform))
            {
                same_types = false;
                let declared = column
                    .data_type()
                    .map(|t| t.name.leaf().to_string())
                    .unwrap_or_default();
                converted.push((column.name().to_string(), declared));
            }
            columns.push((old.name().to_string(), column.name().to_string()));
        }
        let dropped: Vec<String> = current
            .columns()
            .filter(|c| writable(c) && !taken.contains(&c.name().to_ascii_lowercase()))
            .map(|c| c.name().to_string())
            .collect();
        let renamed = source_name.key(cs) != name.key(cs);
        let changed = renamed
            || altered.contains(&key(&name, cs))
            || !dropped.is_empty()
            || !added.is_empty()
            || !converted.is_empty()
            || columns.iter().any(|(s, d)| s != d);
        let mut report = TableTransfer::new(
            &name,
            if changed {
                TransferCase::Changed
            } else {
                TransferCase::Unchanged
            },
            None,
        );
        report.copied = true;
        report.columns_dropped = dropped;
        report.columns_added = added;
        report.columns_converted = converted.iter().map(|(c, _)| c.clone()).collect();
        if renamed {
            report.renamed_from = Some(source_name.to_string());
        }
        if columns.is_empty() {
            report.copied = false;
            report.reason = Some("no column in common: created empty".into());
            out.push(PlannedTransfer { report, copy: None });
            continue;
        }
        let key = catch_up_key(live, desired, &source_name, &name, &columns, cs);
        out.push(PlannedTransfer {
            report,
            copy: Some(TableCopy {
                source: source_name,
                destination: name,
                columns,
                same_types,
                converted,
                key,
            }),
        });
    }
    for table in live.of_kind(kind::TABLE) {
        let name = table.name_or_empty();
        if used_live.contains(&key(&name, cs)) {
            continue;
        }
        let (case, reason) = if registered_tables.is_some() && is_registered(&name) {
            (
                TransferCase::Dropped,
                "in the registered definition but not in the package: not created, rows not copied",
            )
        } else if registered_tables.is_some() {
            (
                TransferCase::LiveOnly,
                "only in the live database (added outside the package): not created, rows not copied",
            )
        } else {
            (
                TransferCase::Dropped,
                "not in the package: not created, rows not copied",
            )
        };
        out.push(PlannedTransfer {
            report: TableTransfer::new(&name, case, Some(reason.into())),
            copy: None,
        });
    }
    out
}
