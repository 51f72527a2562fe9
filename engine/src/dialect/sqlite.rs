//! SQLite: `"quoted"` names in schema `main`, types as declared, and tables rebuilt by SQLite's
//! documented 12-step procedure wherever ALTER TABLE cannot do the change.

use super::{
    Capabilities, Dialect, ScriptFrame, copy_lists, generic_type, standard_constraint_clause,
    standard_create_table, whole_statement,
};
use crate::model::kind::prop;
use crate::model::view::{self, ColumnView, DataType, TableView};
use crate::model::{Element, Entry, ObjectName, Platform, Value, kind};
use crate::plan::{Guard, Step, TableDefinition};

/// The SQLite dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sqlite;

/// The schema every SQLite object lives in.
const MAIN: &str = "main";

/// Switches SQLite's legacy ALTER TABLE RENAME on (per connection, allowed in a transaction).
pub const LEGACY_ALTER_ON: &str = "PRAGMA legacy_alter_table = ON";
/// Switches it back off.
pub const LEGACY_ALTER_OFF: &str = "PRAGMA legacy_alter_table = OFF";

impl Dialect for Sqlite {
    fn platform(&self) -> Platform {
        Platform::Sqlite
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::SQLITE
    }

    fn quote_name(&self, name: &ObjectName) -> String {
        // Objects of the main database are written unqualified: CREATE INDEX and REFERENCES
        // do not accept a schema on the table.
        let parts: Vec<&str> = match name.parts().first() {
            Some(first) if first.eq_ignore_ascii_case(MAIN) && name.parts().len() > 1 => {
                name.parts().iter().skip(1).collect()
            }
            _ => name.parts().iter().collect(),
        };
        parts
            .iter()
            .map(|p| self.quote_ident(p))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn render_type(&self, data_type: &DataType) -> String {
        generic_type(data_type.name.leaf(), data_type)
    }

    fn identity_clause(&self, _seed: &str, _increment: &str) -> String {
        // SQLite's rowid alias (INTEGER PRIMARY KEY) is its identity; AUTOINCREMENT is written
        // with the primary key.
        String::new()
    }

    fn column_definition(&self, column: ColumnView<'_>, default: Option<&Element>) -> String {
        let mut text = self.column_name_and_type(column);
        if let Some(expression) = column.computed_expression() {
            let storage = if column.is_persisted() {
                "STORED"
            } else {
                "VIRTUAL"
            };
            text.push_str(&format!(" GENERATED ALWAYS AS ({expression}) {storage}"));
        }
        text.push_str(&self.collate_clause(column));
        if column.is_identity() {
            // AUTOINCREMENT exists only on a column declared INTEGER PRIMARY KEY; its key's
            // conflict clause comes with it (put on the column by `create_table`).
            text.push_str(" PRIMARY KEY");
            if let Some(action) = column.0.text_prop(prop::ON_CONFLICT) {
                text.push_str(&format!(" ON CONFLICT {action}"));
            }
            text.push_str(" AUTOINCREMENT");
        }
        let mut tail = self.not_null_and_default(column, default);
        if let Some(action) = column.0.text_prop(prop::NOT_NULL_ON_CONFLICT) {
            tail = tail.replacen(" NOT NULL", &format!(" NOT NULL ON CONFLICT {action}"), 1);
        }
        text.push_str(&tail);
        text
    }

    fn create_table(&self, definition: &TableDefinition, name: Option<&ObjectName>) -> String {
        // The primary key of an AUTOINCREMENT column is written with the column.
        let table = TableView(&definition.table);
        let mut definition = definition.clone();
        let mut inline_conflicts = Vec::new();
        definition.constraints.retain(|c| {
            let columns = view::key_columns(c);
            let inline = c.kind == kind::PRIMARY_KEY
                && columns.len() == 1
                && table
                    .column(columns[0].column.leaf())
                    .is_some_and(|col| col.is_identity());
            if inline && let Some(action) = c.text_prop(prop::ON_CONFLICT) {
                inline_conflicts.push((columns[0].column.leaf().to_string(), action.to_string()));
            }
            !inline
        });
        for (leaf, action) in inline_conflicts {
            let column = definition
                .table
                .relationships
                .iter_mut()
                .filter(|r| r.name == kind::rel::COLUMNS)
                .flat_map(|r| r.entries.iter_mut())
                .find_map(|entry| match entry {
                    Entry::Element(c) if c.name.as_ref().is_some_and(|n| n.leaf() == leaf) => {
                        Some(c)
                    }
                    _ => None,
                });
            if let Some(column) = column {
                column.set_prop(prop::ON_CONFLICT, Value::Text(action));
            }
        }
        standard_create_table(self, &definition, name)
    }

    fn constraint_clause(&self, constraint: &Element) -> Option<String> {
        let mut clause = standard_constraint_clause(self, constraint)?;
        if constraint.kind == kind::PRIMARY_KEY
            && constraint.bool_prop(prop::IS_AUTO_INCREMENT) == Some(true)
        {
            clause = clause.replacen(')', " AUTOINCREMENT)", 1);
        }
        if let Some(action) = constraint.text_prop(prop::ON_CONFLICT) {
            clause.push_str(&format!(" ON CONFLICT {action}"));
        }
        if constraint.kind == kind::FOREIGN_KEY
            && constraint.bool_prop(prop::IS_DEFERRABLE) == Some(true)
        {
            clause.push_str(" DEFERRABLE");
            if constraint.bool_prop(prop::IS_INITIALLY_DEFERRED) == Some(true) {
                clause.push_str(" INITIALLY DEFERRED");
            }
        }
        Some(clause)
    }

    fn table_options(&self, table: &Element) -> String {
        let mut options = Vec::new();
        if table.bool_prop(prop::IS_WITHOUT_ROW_ID) == Some(true) {
            options.push("WITHOUT ROWID");
        }
        if table.bool_prop(prop::IS_STRICT) == Some(true) {
            options.push("STRICT");
        }
        if options.is_empty() {
            String::new()
        } else {
            format!(" {}", options.join(", "))
        }
    }

    fn script_opening(&self, frame: &ScriptFrame<'_>) -> String {
        // The sqlite3 shell goes on after a failed statement and would run the COMMIT: `.bail
        // on` makes it stop at the first error, and the open transaction dies with the
        // connection. A client that does not know dot-commands fails on that first line.
        let mut out = String::from("-- dac upgrade script for SQLite\n.bail on\n");
        if frame.foreign_keys_off {
            out.push_str("PRAGMA foreign_keys = OFF;\n");
        }
        out.push_str("BEGIN;\n");
        out
    }

    fn script_closing(&self, frame: &ScriptFrame<'_>) -> String {
        let mut out = String::new();
        if frame.foreign_keys_off {
            // PRAGMA foreign_key_check only lists violations; the shell would commit them.
            // A CHECK on a temporary table makes them an error, as the row guard does.
            out.push('\n');
            for statement in [
                format!(
                    "CREATE TEMP TABLE \"_dac_foreign_key_check\" (\"violations\" INTEGER CONSTRAINT {} CHECK (\"violations\" = 0))",
                    self.quote_ident(
                        "foreign keys are violated after the table rebuild (PRAGMA foreign_key_check lists the rows); the upgrade stops"
                    )
                ),
                "INSERT INTO \"_dac_foreign_key_check\" SELECT count(*) FROM pragma_foreign_key_check".to_string(),
                "DROP TABLE \"_dac_foreign_key_check\"".to_string(),
            ] {
                out.push_str(&statement);
                out.push_str(";\n");
            }
        }
        out.push_str("COMMIT;\n");
        if frame.foreign_keys_off {
            out.push_str("PRAGMA foreign_keys = ON;\n");
        }
        out
    }

    fn guard(&self, guard: &Guard) -> Vec<String> {
        // SQLite has no procedural RAISE outside triggers: a CHECK on a temporary table whose
        // constraint name carries the message makes the statement fail when rows exist.
        let constraint = format!(
            "rows were detected in {}; the upgrade stops because data loss might occur: {}",
            guard.table, guard.message
        );
        vec![
            format!(
                "CREATE TEMP TABLE IF NOT EXISTS \"_dac_guard\" (\"rows\" INTEGER CONSTRAINT {} CHECK (\"rows\" = 0))",
                self.quote_ident(&constraint)
            ),
            format!(
                "INSERT INTO \"_dac_guard\" SELECT EXISTS (SELECT 1 FROM {})",
                self.quote_name(&guard.table)
            ),
            "DROP TABLE \"_dac_guard\"".to_string(),
        ]
    }

    fn rebuild_table(&self, step: &Step) -> Vec<String> {
        let Some(definition) = &step.table else {
            return Vec::new();
        };
        let temp = ObjectName::new([MAIN.to_string(), format!("_dac_new_{}", step.name.leaf())]);
        let mut out = vec![self.create_table(definition, Some(&temp))];
        let (to, from) = copy_lists(self, step);
        if !step.copy.is_empty() {
            out.push(format!(
                "INSERT INTO {} ({to}) SELECT {from} FROM {}",
                self.quote_name(&temp),
                self.quote_name(&step.name)
            ));
        }
        out.push(format!("DROP TABLE {}", self.quote_name(&step.name)));
        // Since 3.26 RENAME re-checks every view and trigger of the schema, and fails on one that
        // refers to an object dropped earlier in the script (a view over a view being
        // recreated). Nothing refers to the new table's temporary name, so the legacy rename,
        // which rewrites and checks nothing, is what the 12-step procedure needs.
        out.push(LEGACY_ALTER_ON.to_string());
        out.push(format!(
            "ALTER TABLE {} RENAME TO {}",
            self.quote_name(&temp),
            self.quote_ident(step.name.leaf())
        ));
        out.push(LEGACY_ALTER_OFF.to_string());
        out.extend(self.recreate_dependents(step));
        out
    }

    fn alter_column(
        &self,
        table: &ObjectName,
        current: &Element,
        _desired: &Element,
    ) -> Vec<String> {
        // Unreachable by construction: the planner rebuilds SQLite tables instead.
        vec![format!(
            "-- SQLite cannot alter the column {} of {table} in place",
            current.name_or_empty()
        )]
    }

    fn rename(&self, step: &Step) -> Vec<String> {
        let Some(from) = &step.renamed_from else {
            return Vec::new();
        };
        match step.object_kind.as_str() {
            kind::TABLE => vec![format!(
                "ALTER TABLE {} RENAME TO {}",
                self.quote_name(from),
                self.quote_ident(step.name.leaf())
            )],
            kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN => {
                let table = from.parent().unwrap_or_default();
                vec![format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    self.quote_name(&table),
                    self.quote_ident(from.leaf()),
                    self.quote_ident(step.name.leaf())
                )]
            }
            _ => {
                let mut out = Vec::new();
                if let Some(current) = &step.current {
                    out.extend(self.drop_object_or_index(current));
                }
                if let Some(desired) = &step.desired {
                    if desired.kind == kind::INDEX {
                        out.extend(self.create_index(desired));
                    } else {
                        out.extend(self.create_programmable(desired, false));
                    }
                }
                out
            }
        }
    }

    fn create_programmable(&self, element: &Element, _replace: bool) -> Vec<String> {
        if let Some(definition) = whole_statement(element) {
            return vec![definition.to_string()];
        }
        match (element.kind.as_str(), element.text_prop(prop::QUERY_SCRIPT)) {
            (kind::VIEW, Some(query)) => vec![format!(
                "CREATE VIEW {} AS {query}",
                self.quote_name(&element.name_or_empty())
            )],
            _ => vec![format!(
                "-- dac cannot create {}: no definition is known",
                element.label()
            )],
        }
    }

    fn add_default(&self, default: &Element) -> Vec<String> {
        vec![format!("-- SQLite cannot add {} in place", default.label())]
    }

    fn drop_constraint(&self, constraint: &Element) -> Vec<String> {
        vec![format!(
            "-- SQLite cannot drop {} in place",
            constraint.label()
        )]
    }

    fn drop_index(&self, index: &Element) -> Vec<String> {
        vec![format!(
            "DROP INDEX {}",
            self.quote_ident(index.name_or_empty().leaf())
        )]
    }
}

impl Sqlite {
    fn drop_object_or_index(&self, element: &Element) -> Vec<String> {
        if element.kind == kind::INDEX {
            self.drop_index(element)
        } else {
            self.drop_object(element)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::source::generic::parse_batch;

    fn parsed(sql: &str) -> Vec<Element> {
        parse_batch(Platform::Sqlite, sql, Path::new("t.sql"), 1).expect("parse")
    }

    #[test]
    fn rebuild_renames_with_legacy_alter_table() {
        let elements = parsed("CREATE TABLE t (a integer);");
        let table = elements
            .iter()
            .find(|e| e.kind == kind::TABLE)
            .expect("table");
        let mut step = Step::new(
            crate::plan::StepKind::RebuildTable,
            kind::TABLE,
            table.name_or_empty(),
        );
        step.table = Some(TableDefinition {
            table: table.clone(),
            constraints: Vec::new(),
        });
        let out = Sqlite.rebuild_table(&step);
        let rename = out
            .iter()
            .position(|s| s.starts_with("ALTER TABLE \"_dac_new_t\" RENAME TO \"t\""))
            .expect("rename");
        assert_eq!(out[rename - 1], LEGACY_ALTER_ON);
        assert_eq!(out[rename + 1], LEGACY_ALTER_OFF);
    }

    #[test]
    fn foreign_key_clause_keeps_actions_and_deferrability() {
        let elements = parsed(
            "CREATE TABLE c (x integer, y integer, FOREIGN KEY (x, y) REFERENCES p (x, y) \
             ON DELETE SET NULL ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED);",
        );
        let fk = elements
            .iter()
            .find(|e| e.kind == kind::FOREIGN_KEY)
            .expect("fk");
        assert_eq!(
            Sqlite.constraint_clause(fk).as_deref(),
            Some(
                "FOREIGN KEY (\"x\", \"y\") REFERENCES \"p\" (\"x\", \"y\") ON DELETE SET NULL \
                 ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED"
            )
        );
    }
}
