//! Synthetic models for benchmarks: many tables and procedures in DacFx's shapes.

use dac_engine::model::{Dsp, Element, Model, ObjectName, Reference, kind};

/// A SQL Server model of `n_tables` tables (10 columns, a primary key, 2 indexes and 1 foreign
/// key each) and `n_procedures` procedures. Where `changed(i)` holds for a table or procedure,
/// it differs from the unchanged version: a widened column and a new column for tables, a new
/// body for procedures.
pub fn sqlserver_model(
    n_tables: usize,
    n_procedures: usize,
    changed: impl Fn(usize) -> bool,
) -> Model {
    let mut model = Model::empty(Dsp::from_short_name("Sql160").expect("known dsp"));
    let dbo = ObjectName::new(["dbo"]);
    for idx in 0..n_tables {
        let table = ObjectName::new(["dbo".to_string(), format!("T{idx:05}")]);
        let change = changed(idx);
        let mut el = Element::new(kind::TABLE).named(table.clone());
        let n_columns = if change { 11 } else { 10 };
        for col in 0..n_columns {
            let (ty, length) = match col {
                0 | 1 => ("int", None),
                2 if change => ("nvarchar", Some(200)),
                2..=5 => ("nvarchar", Some(100)),
                6 => ("datetime2", None),
                _ => ("decimal", None),
            };
            let mut spec = Element::new(kind::TYPE_SPECIFIER);
            if let Some(length) = length {
                spec = spec.with_int("Length", length);
            }
            if ty == "decimal" {
                spec = spec.with_int("Precision", 18).with_int("Scale", 2);
            }
            let spec = spec.with_ref(kind::rel::TYPE, Reference::built_in(ObjectName::new([ty])));
            let mut column =
                Element::new(kind::SIMPLE_COLUMN).named(table.child(format!("C{col}")));
            if col == 0 {
                column = column.with_bool("IsNullable", false);
            }
            el.push_child(
                kind::rel::COLUMNS,
                column.with_child(kind::rel::TYPE_SPECIFIER, spec),
            );
        }
        el.push_ref(kind::rel::SCHEMA, Reference::built_in(dbo.clone()));
        model.elements.push(el);
        let key_spec = |col: &str| {
            Element::new(kind::INDEXED_COLUMN)
                .with_ref(kind::rel::COLUMN, Reference::to(table.child(col)))
        };
        model.elements.push(
            Element::new(kind::PRIMARY_KEY)
                .named(ObjectName::new([
                    "dbo".to_string(),
                    format!("PK_T{idx:05}"),
                ]))
                .with_child(kind::rel::COLUMN_SPECIFICATIONS, key_spec("C0"))
                .with_ref(kind::rel::DEFINING_TABLE, Reference::to(table.clone())),
        );
        for (ix, col) in [("IX1", "C1"), ("IX2", "C3")] {
            model.elements.push(
                Element::new(kind::INDEX)
                    .named(table.child(ix))
                    .with_child(kind::rel::COLUMN_SPECIFICATIONS, key_spec(col))
                    .with_ref(kind::rel::INDEXED_OBJECT, Reference::to(table.clone())),
            );
        }
        if idx > 0 {
            let parent = ObjectName::new(["dbo".to_string(), format!("T{:05}", idx - 1)]);
            model.elements.push(
                Element::new(kind::FOREIGN_KEY)
                    .named(ObjectName::new([
                        "dbo".to_string(),
                        format!("FK_T{idx:05}"),
                    ]))
                    .with_ref(kind::rel::COLUMNS, Reference::to(table.child("C1")))
                    .with_ref(kind::rel::DEFINING_TABLE, Reference::to(table.clone()))
                    .with_ref(
                        kind::rel::FOREIGN_COLUMNS,
                        Reference::to(parent.child("C0")),
                    )
                    .with_ref(kind::rel::FOREIGN_TABLE, Reference::to(parent)),
            );
        }
    }
    for idx in 0..n_procedures {
        let body = if changed(idx) {
            format!(
                "\nBEGIN\n    SET NOCOUNT ON;\n    SELECT C0, C1, C2 FROM [dbo].[T{:05}] WHERE C1 > 0;\nEND",
                idx % n_tables.max(1)
            )
        } else {
            format!(
                "\nBEGIN\n    SELECT C0, C1 FROM [dbo].[T{:05}];\nEND",
                idx % n_tables.max(1)
            )
        };
        model.elements.push(
            Element::new(kind::PROCEDURE)
                .named(ObjectName::new(["dbo".to_string(), format!("P{idx:05}")]))
                .with_script("BodyScript", body)
                .with_ref(kind::rel::SCHEMA, Reference::built_in(dbo.clone())),
        );
    }
    model.sort_elements();
    model
}
