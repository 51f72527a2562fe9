//! The server-level T-SQL of the SQL Server [`Server`](crate::driver::Server), which handles the
//! databases of a side-by-side upgrade as whole objects, as pure functions (golden-tested
//! offline): create the new database, make the old one read-only, copy each table's rows
//! server-side between the two databases, swap the names, drop.
//!
//! `ALTER DATABASE ... SET READ_ONLY WITH ROLLBACK IMMEDIATE` does not wait for other sessions:
//! it rolls back their open transactions at once and disconnects them from the database, so no
//! write can land in the old database after its rows were copied. Renaming needs the database
//! to itself as well, so [`rename_database`] takes it to SINGLE_USER (again rolling back and
//! disconnecting other sessions) and back to MULTI_USER under its new name.

use super::{literal, quote, quote_name};
use crate::driver::server::TableCopy;

/// `CREATE DATABASE [name]` (files where the server puts them by default), with the original's
/// collation when given.
pub fn create_database(name: &str) -> String {
    format!("CREATE DATABASE {};", quote(name))
}

/// `CREATE DATABASE [name] COLLATE collation`; a collation name that is not a plain word is
/// left out rather than spliced into the statement.
pub fn create_database_collated(name: &str, collation: Option<&str>) -> String {
    match collation
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
    {
        Some(collation) => format!("CREATE DATABASE {} COLLATE {collation};", quote(name)),
        None => create_database(name),
    }
}

/// Drops a database, first disconnecting every other session (their open transactions roll
/// back); each string is one batch.
pub fn drop_database(name: &str) -> Vec<String> {
    let q = quote(name);
    vec![
        format!(
            "IF DB_ID({lit}) IS NOT NULL ALTER DATABASE {q} SET SINGLE_USER WITH ROLLBACK IMMEDIATE;",
            lit = literal(name)
        ),
        format!("DROP DATABASE IF EXISTS {q};"),
    ]
}

/// Makes a database read-only or writable and lets every session in again; other sessions'
/// open transactions are rolled back and they are disconnected (`WITH ROLLBACK IMMEDIATE`).
pub fn set_read_only(name: &str, read_only: bool) -> String {
    let q = quote(name);
    let mode = if read_only { "READ_ONLY" } else { "READ_WRITE" };
    format!(
        "ALTER DATABASE {q} SET MULTI_USER WITH ROLLBACK IMMEDIATE;\nALTER DATABASE {q} SET {mode} WITH ROLLBACK IMMEDIATE;"
    )
}

/// Ends every other session of a database and keeps new ones out but one (`SINGLE_USER WITH
/// ROLLBACK IMMEDIATE`: their open transactions roll back).
pub fn seal(name: &str) -> String {
    format!(
        "ALTER DATABASE {} SET SINGLE_USER WITH ROLLBACK IMMEDIATE;",
        quote(name)
    )
}

/// Lets sessions in again after [`seal`].
pub fn unseal(name: &str) -> String {
    format!(
        "ALTER DATABASE {} SET MULTI_USER WITH ROLLBACK IMMEDIATE;",
        quote(name)
    )
}

/// Renames a database, in one batch run from `master`: SINGLE_USER (other sessions rolled
/// back and disconnected, so the rename gets the database to itself), `MODIFY NAME`, MULTI_USER
/// under the new name.
pub fn rename_database(from: &str, to: &str) -> String {
    format!(
        "ALTER DATABASE {f} SET SINGLE_USER WITH ROLLBACK IMMEDIATE;\nALTER DATABASE {f} MODIFY NAME = {t};\nALTER DATABASE {t} SET MULTI_USER;",
        f = quote(from),
        t = quote(to)
    )
}

/// The engine edition (`5`: Azure SQL Database, which has no cross-database queries, so a
/// side-by-side upgrade copies the whole database with [`azure_copy_database`]).
pub const ENGINE_EDITION: &str =
    "SELECT CONVERT(int, SERVERPROPERTY('EngineEdition')) AS engine_edition;";

/// The engine edition of Azure SQL Database.
pub const AZURE_SQL_DATABASE: &str = "5";

/// Azure SQL Database: starts a transactionally consistent copy of database `from` as `to`, on
/// the server, from `master` (the statement returns once the copy exists, in state `COPYING`;
/// [`azure_copy_state`] polls it).
pub fn azure_copy_database(from: &str, to: &str) -> String {
    format!("CREATE DATABASE {} AS COPY OF {};", quote(to), quote(from))
}

/// Azure SQL Database: where the copy `name` stands, run in `master`: `state_desc` (`COPYING`,
/// `ONLINE`, ...), `percent_complete`, `error_code` and `error_desc` (the copy's failure, 0 and
/// NULL while none); no row once a failed copy is gone.
pub fn azure_copy_state(name: &str) -> String {
    format!(
        "SELECT d.state_desc, CONVERT(nvarchar(40), c.percent_complete) AS percent_complete, c.error_code, c.error_desc FROM sys.databases AS d LEFT JOIN sys.dm_database_copies AS c ON c.database_id = d.database_id WHERE d.name = {};",
        literal(name)
    )
}

/// Azure SQL Database: renames a database from `master`. Azure has no `SINGLE_USER`: the
/// original is already read-only with every writer's session rolled back, and the new
/// database has had no session but dac's.
pub fn azure_rename_database(from: &str, to: &str) -> String {
    format!(
        "ALTER DATABASE {} MODIFY NAME = {};",
        quote(from),
        quote(to)
    )
}

/// Azure SQL Database: drops a database (a copy still `COPYING` is cancelled), from `master`.
pub fn azure_drop_database(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {};", quote(name))
}

/// Azure SQL Database: makes a database read-only or writable, rolling back and disconnecting
/// the other sessions' open transactions (`WITH ROLLBACK IMMEDIATE`); Azure has no
/// `SINGLE_USER`, so there is no `MULTI_USER` to return to.
pub fn azure_set_read_only(name: &str, read_only: bool) -> String {
    let mode = if read_only { "READ_ONLY" } else { "READ_WRITE" };
    format!(
        "ALTER DATABASE {} SET {mode} WITH ROLLBACK IMMEDIATE;",
        quote(name)
    )
}

/// `[database].[schema].[table]`.
fn three_part(database: &str, table: &crate::model::ObjectName) -> String {
    format!("{}.{}", quote(database), quote_name(table))
}

/// Empties a table of the new database, to copy it again.
pub fn clear_table(target: &str, table: &crate::model::ObjectName) -> String {
    format!("TRUNCATE TABLE {};", three_part(target, table))
}

/// Copies a table's rows from database `source` to `target` on the server, in one batch:
/// `INSERT ... SELECT` with three-part names (values convert where a column's type changed, and
/// a value that does not convert fails the copy), identity values kept with IDENTITY_INSERT when
/// `identity`; selects the number of rows copied.
pub fn copy_table(source: &str, target: &str, copy: &TableCopy, identity: bool) -> String {
    let to = three_part(target, &copy.destination);
    let from = three_part(source, &copy.source);
    let sources = copy
        .columns
        .iter()
        .map(|(s, _)| quote(s))
        .collect::<Vec<_>>()
        .join(", ");
    let destinations = copy
        .columns
        .iter()
        .map(|(_, d)| quote(d))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::from("DECLARE @rows bigint;\n");
    if identity {
        out.push_str(&format!("SET IDENTITY_INSERT {to} ON;\n"));
    }
    out.push_str(&format!(
        "INSERT INTO {to} WITH (TABLOCK) ({destinations})\nSELECT {sources}\nFROM {from};\nSET @rows = ROWCOUNT_BIG();\n"
    ));
    if identity {
        out.push_str(&format!("SET IDENTITY_INSERT {to} OFF;\n"));
    }
    out.push_str("SELECT @rows AS rows_copied;");
    out
}

/// Whether the destination table has an identity column among the copied ones: selects 1 or 0.
pub fn has_identity(target: &str, copy: &TableCopy) -> String {
    let names = copy
        .columns
        .iter()
        .map(|(_, d)| literal(d))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM {db}.sys.identity_columns AS c WHERE c.object_id = OBJECT_ID({table}) AND c.name IN ({names})) THEN 1 ELSE 0 END;",
        db = quote(target),
        table = literal(&three_part(target, &copy.destination)),
    )
}

/// Destination columns no `INSERT` may name (`rowversion`, `GENERATED ALWAYS` period and ledger
/// columns, computed ones): the copy leaves them to the server. Selects their names.
pub fn unwritable_columns(target: &str, copy: &TableCopy) -> String {
    format!(
        "SELECT c.name FROM {db}.sys.columns AS c JOIN {db}.sys.types AS t ON t.user_type_id = c.system_type_id WHERE c.object_id = OBJECT_ID({table}) AND (t.name = N'timestamp' OR c.generated_always_type <> 0 OR c.is_computed = 1);",
        db = quote(target),
        table = literal(&three_part(target, &copy.destination)),
    )
}

/// Identity columns of a database with their current value (`schema`, `table`, `current`,
/// `increment`), run inside that database.
pub const IDENTITY_STATE: &str = "SELECT OBJECT_SCHEMA_NAME(c.object_id) AS schema_name, OBJECT_NAME(c.object_id) AS table_name, CONVERT(nvarchar(40), IDENT_CURRENT(QUOTENAME(OBJECT_SCHEMA_NAME(c.object_id)) + N'.' + QUOTENAME(OBJECT_NAME(c.object_id)))) AS current_value, CONVERT(nvarchar(40), c.increment_value) AS increment_value FROM sys.identity_columns AS c JOIN sys.tables AS t ON t.object_id = c.object_id WHERE t.is_ms_shipped = 0;";

/// Sequences of a database and the value they last gave (`NULL` when never used), run inside it.
pub const SEQUENCE_STATE: &str = "SELECT SCHEMA_NAME(s.schema_id) AS schema_name, s.name, CONVERT(nvarchar(40), s.last_used_value) AS last_used_value, CONVERT(nvarchar(40), s.increment) AS increment FROM sys.sequences AS s;";

/// Makes an identity column continue after `value` (run inside the database).
pub fn reseed(table: &crate::model::ObjectName, value: &str) -> String {
    format!(
        "DBCC CHECKIDENT ({}, RESEED, {value}) WITH NO_INFOMSGS;",
        literal(&quote_name(table))
    )
}

/// Makes a sequence continue after `value` (run inside the database).
pub fn restart_sequence(sequence: &crate::model::ObjectName, next: &str) -> String {
    format!(
        "ALTER SEQUENCE {} RESTART WITH {next};",
        quote_name(sequence)
    )
}

/// msdb keys a registration on the name its database had when it was registered; after a
/// rename the registration follows the database (`sp_sysdac_update_instance` with the new
/// `instance_name`), so the retained original keeps its registration and the upgraded database
/// gets the one written into it while it was being built.
pub fn msdb_follow_rename(from: &str, to: &str) -> String {
    format!(
        "DECLARE @id uniqueidentifier, @type_name sysname, @type_version nvarchar(64), @description nvarchar(4000), @type_stream varbinary(max);
SELECT @id = i.instance_id, @type_name = i.type_name, @type_version = i.type_version, @description = i.description, @type_stream = i.type_stream
  FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = {from};
IF @id IS NOT NULL AND @type_stream IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = {to})
    EXEC msdb.dbo.sp_sysdac_update_instance @type_name = @type_name, @instance_id = @id, @instance_name = {to}, @type_version = @type_version, @description = @description, @type_stream = @type_stream;",
        from = literal(from),
        to = literal(to)
    )
}

/// Removes the msdb registration of a database that is being dropped (its history stays), so
/// SSMS does not list an application whose database is gone.
pub fn msdb_forget(name: &str) -> String {
    format!(
        "DECLARE @id uniqueidentifier = (SELECT i.instance_id FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = {});\nIF @id IS NOT NULL\n    EXEC msdb.dbo.sp_sysdac_delete_instance @instance_id = @id;",
        literal(name)
    )
}

/// The extended property that carries the side-by-side journal on a database: it survives a
/// crash and follows the database through renames. Inspection leaves it out.
pub const JOURNAL_PROPERTY: &str = "dac.journal";

/// Candidate journal holders of a target: the target and the databases named after it
/// (`name__...`), online.
pub fn journal_candidates(target: &str) -> String {
    let escaped = target
        .replace('[', "[[]")
        .replace('%', "[%]")
        .replace('_', "[_]");
    format!(
        "SELECT d.name FROM sys.databases AS d WHERE d.state = 0 AND (d.name = {} OR d.name LIKE {}) ORDER BY d.name;",
        literal(target),
        literal(&format!("{escaped}[_][_]%"))
    )
}

/// `[database].` before a catalog name, run from `master`; Azure SQL Database has no
/// cross-database names, so there the statement runs in a session of the database itself,
/// unqualified (the `azure_*` forms).
fn qualifier(database: &str) -> String {
    format!("{}.", quote(database))
}

/// Reads the journal property of a database.
pub fn journal_read(database: &str) -> String {
    journal_read_in(&qualifier(database))
}

/// Azure SQL Database: [`journal_read`] in a session of the database.
pub fn azure_journal_read() -> String {
    journal_read_in("")
}

fn journal_read_in(db: &str) -> String {
    format!(
        "SELECT CONVERT(nvarchar(4000), ep.value) AS journal FROM {db}sys.extended_properties AS ep WHERE ep.class = 0 AND ep.name = {};",
        literal(JOURNAL_PROPERTY)
    )
}

/// Writes (adds or replaces) the journal property of a database.
pub fn journal_write(database: &str, text: &str) -> String {
    journal_write_in(&qualifier(database), text)
}

/// Azure SQL Database: [`journal_write`] in a session of the database.
pub fn azure_journal_write(text: &str) -> String {
    journal_write_in("", text)
}

fn journal_write_in(db: &str, text: &str) -> String {
    format!(
        "IF EXISTS (SELECT 1 FROM {db}sys.extended_properties AS ep WHERE ep.class = 0 AND ep.name = {name})
    EXEC {db}sys.sp_updateextendedproperty @name = {name}, @value = {value};
ELSE
    EXEC {db}sys.sp_addextendedproperty @name = {name}, @value = {value};",
        name = literal(JOURNAL_PROPERTY),
        value = literal(text)
    )
}

/// Removes the journal property of a database.
pub fn journal_clear(database: &str) -> String {
    journal_clear_in(&qualifier(database))
}

/// Azure SQL Database: [`journal_clear`] in a session of the database.
pub fn azure_journal_clear() -> String {
    journal_clear_in("")
}

fn journal_clear_in(db: &str) -> String {
    format!(
        "IF EXISTS (SELECT 1 FROM {db}sys.extended_properties AS ep WHERE ep.class = 0 AND ep.name = {name})
    EXEC {db}sys.sp_dropextendedproperty @name = {name};",
        name = literal(JOURNAL_PROPERTY)
    )
}

/// The user tables of a database, bracket-quoted (`[schema].[table]`), for the change marker.
pub fn user_tables(database: &str) -> String {
    user_tables_in(&qualifier(database))
}

/// Azure SQL Database: [`user_tables`] in a session of the database.
pub fn azure_user_tables() -> String {
    user_tables_in("")
}

fn user_tables_in(db: &str) -> String {
    format!(
        "SELECT QUOTENAME(s.name) + N'.' + QUOTENAME(t.name) FROM {db}sys.tables AS t JOIN {db}sys.schemas AS s ON s.schema_id = t.schema_id WHERE t.is_ms_shipped = 0 AND s.name <> N'_dac' ORDER BY 1;"
    )
}

/// Row count and checksum of every row of each table (one row per table): the change marker
/// compares these before a rollback. `tables` are bracket-quoted two-part names.
pub fn table_fingerprints(database: &str, tables: &[String]) -> String {
    table_fingerprints_in(&qualifier(database), tables)
}

/// Azure SQL Database: [`table_fingerprints`] in a session of the database.
pub fn azure_table_fingerprints(tables: &[String]) -> String {
    table_fingerprints_in("", tables)
}

fn table_fingerprints_in(db: &str, tables: &[String]) -> String {
    let parts: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "SELECT {lit} AS table_name, COUNT_BIG(*) AS row_count, CHECKSUM_AGG(BINARY_CHECKSUM(*)) AS checksum FROM {db}{t}",
                lit = literal(t)
            )
        })
        .collect();
    format!("{};", parts.join("\nUNION ALL\n"))
}

/// Row counts of a table in both databases (`source_rows`, `target_rows`), to check a copy.
pub fn count_rows(source: &str, target: &str, copy: &TableCopy) -> String {
    format!(
        "SELECT (SELECT COUNT_BIG(*) FROM {}) AS source_rows, (SELECT COUNT_BIG(*) FROM {}) AS target_rows;",
        three_part(source, &copy.source),
        three_part(target, &copy.destination)
    )
}

/// Change Tracking in `source`: one row, `database_tracked` (1 where the database has it on) and
/// `untracked_tables` (how many of `tables` it does not track). A side-by-side upgrade can
/// catch an early copy up by Change Tracking ([`change_tracking_catch_up`]) only where the
/// database is tracked and so is every copied table; elsewhere rows are copied with writers
/// held.
pub fn change_tracking_state(source: &str, tables: &[crate::model::ObjectName]) -> String {
    let values = if tables.is_empty() {
        "(NULL)".to_string()
    } else {
        tables
            .iter()
            .map(|t| format!("({})", literal(&three_part(source, t))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM sys.change_tracking_databases WHERE database_id = DB_ID({db})) THEN 1 ELSE 0 END AS database_tracked,\n\
         (SELECT COUNT(*) FROM (VALUES {values}) AS t (name)\n\
          WHERE NOT EXISTS (SELECT 1 FROM {quoted}.sys.change_tracking_tables AS c WHERE c.object_id = OBJECT_ID(t.name))) AS untracked_tables;",
        db = literal(source),
        quoted = quote(source),
    )
}

/// The mark a first catch-up starts from, taken before the copy: the source's current Change
/// Tracking version (`version`). The new database `target` allows snapshot isolation first:
/// each catch-up writes into it from a snapshot transaction, which every database it touches
/// must allow.
pub fn change_tracking_mark(source: &str, target: &str) -> String {
    format!(
        "ALTER DATABASE {} SET ALLOW_SNAPSHOT_ISOLATION ON;\nUSE {};\nSELECT CHANGE_TRACKING_CURRENT_VERSION() AS version;",
        quote(target),
        quote(source)
    )
}

/// One catch-up pass of a table by Change Tracking, run in `source` (CHANGETABLE reads the
/// current database) in one snapshot transaction (the source needs ALLOW_SNAPSHOT_ISOLATION, as
/// Change Tracking advises), keyed by `copy.key`: every key changed since version `since` is
/// merged into `target` from the row the source holds now (present: inserted or updated, with
/// the copy's conversions; gone: deleted), whatever the recorded operation, so a change is
/// never applied out of order. Refuses (error 50001) where cleanup passed `since` (the table is
/// then copied again). Selects `next_version` (the next pass's `since`) and `rows_merged`.
pub fn change_tracking_catch_up(
    source: &str,
    target: &str,
    copy: &TableCopy,
    since: u64,
    identity: bool,
) -> String {
    let to = three_part(target, &copy.destination);
    let from = quote_name(&copy.source);
    let source_of = |destination: &str| {
        copy.columns
            .iter()
            .find(|(_, d)| d == destination)
            .map_or_else(|| destination.to_string(), |(s, _)| s.clone())
    };
    let keys: Vec<(String, String)> = copy
        .key
        .iter()
        .map(|k| (quote(&source_of(k)), quote(k)))
        .collect();
    let present = keys.first().map_or_else(
        || "1 = 0".to_string(),
        |(s, _)| format!("s.{s} IS NOT NULL"),
    );
    let selected: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, (s, _))| format!("ct.{s} AS dac_key_{i}"))
        .chain(std::iter::once(format!(
            "CASE WHEN {present} THEN 1 ELSE 0 END AS dac_present"
        )))
        .chain(copy.columns.iter().map(|(s, _)| format!("s.{}", quote(s))))
        .collect();
    let join = keys
        .iter()
        .map(|(s, _)| format!("s.{s} = ct.{s}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let on = keys
        .iter()
        .enumerate()
        .map(|(i, (_, d))| format!("d.{d} = c.dac_key_{i}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let set: Vec<String> = copy
        .columns
        .iter()
        .filter(|(_, d)| !copy.key.contains(d))
        .map(|(s, d)| format!("d.{} = c.{}", quote(d), quote(s)))
        .collect();
    let destinations: Vec<String> = copy.columns.iter().map(|(_, d)| quote(d)).collect();
    let values: Vec<String> = copy
        .columns
        .iter()
        .map(|(s, _)| format!("c.{}", quote(s)))
        .collect();
    let mut out = format!(
        "USE {db};\nSET XACT_ABORT ON;\nSET TRANSACTION ISOLATION LEVEL SNAPSHOT;\nBEGIN TRANSACTION;\n\
         DECLARE @since bigint = {since}, @next bigint = CHANGE_TRACKING_CURRENT_VERSION(), @rows bigint;\n\
         IF @since < CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID({table}))\n\
         \x20   THROW 50001, {message}, 1;\n",
        db = quote(source),
        table = literal(&from),
        message = literal(&format!(
            "{}: Change Tracking was cleaned up past the last catch-up: copy the table again",
            copy.source
        )),
    );
    if identity {
        out.push_str(&format!("SET IDENTITY_INSERT {to} ON;\n"));
    }
    out.push_str(&format!(
        "MERGE {to} AS d\nUSING (\n    SELECT {}\n    FROM CHANGETABLE(CHANGES {from}, @since) AS ct\n    LEFT JOIN {from} AS s ON {join}\n) AS c\nON {on}\n\
         WHEN MATCHED AND c.dac_present = 0 THEN DELETE\n",
        selected.join(", ")
    ));
    if !set.is_empty() {
        out.push_str(&format!(
            "WHEN MATCHED THEN UPDATE SET {}\n",
            set.join(", ")
        ));
    }
    out.push_str(&format!(
        "WHEN NOT MATCHED BY TARGET AND c.dac_present = 1 THEN INSERT ({}) VALUES ({});\nSET @rows = @@ROWCOUNT;\n",
        destinations.join(", "),
        values.join(", ")
    ));
    if identity {
        out.push_str(&format!("SET IDENTITY_INSERT {to} OFF;\n"));
    }
    out.push_str("COMMIT TRANSACTION;\nSELECT @next AS next_version, @rows AS rows_merged;");
    out
}

/// Whether `source` allows snapshot isolation (`snapshot_allowed`: 1 where
/// `ALLOW_SNAPSHOT_ISOLATION` is on), which each Change Tracking catch-up reads the source under.
pub fn snapshot_isolation_state(source: &str) -> String {
    format!(
        "SELECT CASE WHEN snapshot_isolation_state = 1 THEN 1 ELSE 0 END AS snapshot_allowed FROM sys.databases WHERE name = {};",
        literal(source)
    )
}

/// The schema of `source` in one row (`objects`, `state`: a checksum over every user object's
/// id and last change): taken at the mark and again with writers held, a schema change during
/// an early copy fails the run.
pub fn schema_state(source: &str) -> String {
    format!(
        "SELECT COUNT_BIG(*) AS objects, CHECKSUM_AGG(CHECKSUM(o.object_id, o.modify_date)) AS state FROM {}.sys.objects AS o WHERE o.is_ms_shipped = 0;",
        quote(source)
    )
}

/// Which of `tables` Change Tracking saw written in `source` since version `since` (one
/// `table_name` row each, as `[schema].[table]`); run with writers held, for the last delta.
pub fn change_tracking_written(
    source: &str,
    tables: &[crate::model::ObjectName],
    since: u64,
) -> String {
    let parts: Vec<String> = tables
        .iter()
        .map(|t| {
            let name = quote_name(t);
            format!(
                "SELECT {} AS table_name FROM (SELECT TOP (1) 1 AS changed FROM CHANGETABLE(CHANGES {name}, {since}) AS ct) AS c",
                literal(&name)
            )
        })
        .collect();
    let select = if parts.is_empty() {
        "SELECT TOP (0) CAST(NULL AS nvarchar(300)) AS table_name".to_string()
    } else {
        parts.join("\nUNION ALL\n")
    };
    format!("USE {};\n{select};", quote(source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectName;

    #[test]
    fn names_are_bracketed_and_escaped() {
        assert_eq!(create_database("a]b"), "CREATE DATABASE [a]]b];");
        assert!(
            rename_database("Shop", "Shop_old")
                .contains("ALTER DATABASE [Shop] MODIFY NAME = [Shop_old];")
        );
        let copy = TableCopy {
            source: ObjectName::new(["dbo", "T]"]),
            destination: ObjectName::new(["dbo", "T]"]),
            columns: vec![("id".into(), "id".into())],
            same_types: true,
            converted: Vec::new(),
            key: Vec::new(),
        };
        let sql = copy_table("old", "new", &copy, true);
        assert!(sql.contains("[new].[dbo].[T]]]"), "{sql}");
        assert!(
            create_database_collated("x", Some("Latin1_General_CS_AS"))
                .ends_with("COLLATE Latin1_General_CS_AS;")
        );
        assert_eq!(
            create_database_collated("x", Some("bad; DROP")),
            "CREATE DATABASE [x];"
        );
        assert!(journal_candidates("a_b%").contains("N'a[_]b[%][_][_]%'"));
    }
}
