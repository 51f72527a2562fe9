//! The server-level T-SQL of a side-by-side upgrade on SQL Server, as pure functions (golden-
//! tested offline): create the new database, make the old one read-only, copy each table's rows
//! server-side between the two databases, swap the names, drop.
//!
//! `ALTER DATABASE ... SET READ_ONLY WITH ROLLBACK IMMEDIATE` does not wait for other sessions:
//! it rolls back their open transactions at once and disconnects them from the database, so no
//! write can land in the old database after its rows were copied. Renaming needs the database
//! to itself as well, so [`rename_database`] takes it to SINGLE_USER (again rolling back and
//! disconnecting other sessions) and back to MULTI_USER under its new name.

use super::{quote, quote_name};
use crate::model::ObjectName;

/// `CREATE DATABASE [name]` (files where the server puts them by default).
pub fn create_database(name: &str) -> String {
    format!("CREATE DATABASE {};", quote(name))
}

/// Drops a database, first disconnecting every other session (their open transactions roll
/// back); each string is one batch.
pub fn drop_database(name: &str) -> Vec<String> {
    let q = quote(name);
    vec![
        format!(
            "IF DB_ID({lit}) IS NOT NULL ALTER DATABASE {q} SET SINGLE_USER WITH ROLLBACK IMMEDIATE;",
            lit = super::literal(name)
        ),
        format!("DROP DATABASE IF EXISTS {q};"),
    ]
}

/// Makes a database read-only; other sessions' open transactions are rolled back and they are
/// disconnected (`WITH ROLLBACK IMMEDIATE`).
pub fn set_read_only(name: &str) -> String {
    format!(
        "ALTER DATABASE {} SET READ_ONLY WITH ROLLBACK IMMEDIATE;",
        quote(name)
    )
}

/// Makes a database writable again (after a failed or rolled-back switch).
pub fn set_read_write(name: &str) -> String {
    format!(
        "ALTER DATABASE {} SET READ_WRITE WITH ROLLBACK IMMEDIATE;",
        quote(name)
    )
}

/// Renames a database: SINGLE_USER (other sessions rolled back and disconnected), `MODIFY
/// NAME`, MULTI_USER under the new name; each string is one batch, run from another database
/// (`master`).
pub fn rename_database(from: &str, to: &str) -> Vec<String> {
    vec![
        format!(
            "ALTER DATABASE {} SET SINGLE_USER WITH ROLLBACK IMMEDIATE;",
            quote(from)
        ),
        format!(
            "ALTER DATABASE {} MODIFY NAME = {};",
            quote(from),
            quote(to)
        ),
        format!("ALTER DATABASE {} SET MULTI_USER;", quote(to)),
    ]
}

/// A table to copy: its name and the columns both versions have that take values
/// (computed and rowversion columns left out), and whether the target has an identity column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// Schema-qualified table name (the same in both databases).
    pub table: ObjectName,
    /// Columns to copy, in target order.
    pub columns: Vec<String>,
    /// The target table has an IDENTITY column among `columns`: its values are kept.
    pub identity: bool,
}

/// `[database].[schema].[table]`.
fn three_part(database: &str, table: &ObjectName) -> String {
    format!("{}.{}", quote(database), quote_name(table))
}

/// Copies a table's rows from `source` to `target` on the server, in one batch:
/// `INSERT ... SELECT` with three-part names, identity values kept with IDENTITY_INSERT.
pub fn copy_table(source: &str, target: &str, copy: &TableCopy) -> String {
    let to = three_part(target, &copy.table);
    let from = three_part(source, &copy.table);
    let columns = copy
        .columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::new();
    if copy.identity {
        out.push_str(&format!("SET IDENTITY_INSERT {to} ON;\n"));
    }
    out.push_str(&format!(
        "INSERT INTO {to} WITH (TABLOCK) ({columns})\nSELECT {columns}\nFROM {from};\n"
    ));
    if copy.identity {
        out.push_str(&format!("SET IDENTITY_INSERT {to} OFF;\n"));
    }
    out
}

/// Row counts of a table in both databases (`source_rows`, `target_rows`), to check a copy.
pub fn count_rows(source: &str, target: &str, table: &ObjectName) -> String {
    format!(
        "SELECT (SELECT COUNT_BIG(*) FROM {}) AS source_rows, (SELECT COUNT_BIG(*) FROM {}) AS target_rows;",
        three_part(source, table),
        three_part(target, table)
    )
}

/// Moves the msdb registration to the upgraded database after the swap, as DacFx's
/// side-by-side upgrade does: msdb keys registrations on the name a database had when it was
/// registered, so the original's row (`instance_name = name`) is deleted and the upgraded
/// database's row (registered as `staged_name`) takes over its id and name
/// (`sp_sysdac_upgrade_instance`).
pub fn msdb_upgrade_instance(name: &str, staged_name: &str) -> String {
    format!(
        "DECLARE @original uniqueidentifier = (SELECT i.instance_id FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = {name_lit});\nDECLARE @upgraded uniqueidentifier = (SELECT i.instance_id FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = {staged_lit});\nIF @original IS NOT NULL AND @upgraded IS NOT NULL\n    EXEC msdb.dbo.sp_sysdac_upgrade_instance @source_instance_id = @upgraded, @instance_id = @original, @instance_name = {name_lit}, @database_name = {name_lit};",
        name_lit = super::literal(name),
        staged_lit = super::literal(staged_name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bracketed_and_escaped() {
        assert_eq!(create_database("a]b"), "CREATE DATABASE [a]]b];");
        assert_eq!(
            rename_database("Shop", "Shop_old")[1],
            "ALTER DATABASE [Shop] MODIFY NAME = [Shop_old];"
        );
        let sql = copy_table(
            "old",
            "new",
            &TableCopy {
                table: ObjectName::new(["dbo", "T]"]),
                columns: vec!["id".into()],
                identity: true,
            },
        );
        assert!(sql.contains("[new].[dbo].[T]]]"), "{sql}");
    }
}
