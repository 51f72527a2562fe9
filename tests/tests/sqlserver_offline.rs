//! SQL Server without a server: what can be proven offline.
//!
//! - Catalog rows (written by hand under `fixtures/sqlserver/<case>/catalog.json`, in the shape
//!   dac's catalog queries return for a database made from `schema.sql`) map to the same model
//!   the project builder gives for `schema.sql`: the diff is empty both ways.
//! - Database options come from `sys.databases` as DacFx names them.
//! - Golden scripts of the T-SQL the driver issues for msdb registration, the upgrade lock and
//!   the side-by-side steps; every such statement passes the T-SQL syntax check where the
//!   checker knows the statement.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dac_engine::compare::{self, CompareOptions};
use dac_engine::driver::sqlserver::inspect::{Catalog, model_from_catalog};
use dac_engine::driver::sqlserver::{registry, server_sql};
use dac_engine::model::{Dsp, ObjectName, Value, kind};
use dac_engine::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};
use dac_engine::source::{self, BuildOptions};

fn fixture_dirs() -> Vec<PathBuf> {
    let root = dac_tests::workspace_root().join("fixtures/sqlserver");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("catalog.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn catalog(dir: &Path) -> Catalog {
    let text = std::fs::read_to_string(dir.join("catalog.json")).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn options() -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: true,
        // The project builder has no database to read options from; they are checked apart.
        exclude_kinds: BTreeSet::from([kind::DATABASE_OPTIONS.to_string()]),
        ..CompareOptions::default()
    }
}

#[test]
fn catalog_rows_map_to_the_model_the_project_builder_gives() {
    let dirs = fixture_dirs();
    assert!(!dirs.is_empty(), "no fixtures under fixtures/sqlserver");
    let mut elements = 0;
    for dir in &dirs {
        let project = tempfile::tempdir().unwrap();
        std::fs::copy(dir.join("schema.sql"), project.path().join("schema.sql")).unwrap();
        let built = source::build(
            project.path(),
            &BuildOptions {
                platform: Dsp::from_short_name("Sql160"),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{}: build: {e}", dir.display()))
        .model;
        let inspection = model_from_catalog(&catalog(dir))
            .unwrap_or_else(|e| panic!("{}: inspect: {e}", dir.display()));
        assert!(
            inspection.notes.is_empty(),
            "{}: {:?}\n{}",
            dir.display(),
            inspection.notes,
            inspection.ddl
        );
        for (from, to, label) in [
            (&inspection.model, &built, "inspected -> built"),
            (&built, &inspection.model, "built -> inspected"),
        ] {
            let diff = compare::compare(from, to, &options());
            assert!(
                diff.is_empty(),
                "{} ({label}):\n  {}\nDDL from the catalog rows:\n{}",
                dir.display(),
                dac_tests::conformance::describe(&diff),
                inspection.ddl
            );
        }
        let count = |m: &dac_engine::model::Model| {
            m.elements
                .iter()
                .filter(|e| e.kind != kind::DATABASE_OPTIONS)
                .count()
        };
        assert_eq!(count(&inspection.model), count(&built), "{}", dir.display());
        // The DSP follows the server's major version (15 = SQL Server 2019 -> Sql150).
        let rows = catalog(dir);
        let server = &rows.sets["server"];
        let major = server
            .columns
            .iter()
            .position(|c| c == "major_version")
            .unwrap();
        let major = server.rows[0][major].clone().unwrap();
        assert_eq!(
            inspection.model.dsp.short_name(),
            format!("Sql{major}0"),
            "{}",
            dir.display()
        );
        elements += count(&built);
    }
    dac_tests::summary(&format!(
        "sqlserver offline: catalog rows of {} fixture databases map to the project builder's model ({elements} top-level elements, empty diff both ways)",
        dirs.len()
    ));
}

#[test]
fn database_options_come_from_sys_databases() {
    let dir = dac_tests::workspace_root().join("fixtures/sqlserver/shop");
    let mut catalog = catalog(&dir);
    let model = model_from_catalog(&catalog).unwrap().model;
    let options = model
        .elements
        .iter()
        .find(|e| e.kind == kind::DATABASE_OPTIONS)
        .expect("a SqlDatabaseOptions element");
    assert_eq!(
        options.prop("Collation"),
        Some(&Value::Text("SQL_Latin1_General_CP1_CI_AS".into()))
    );
    assert_eq!(options.prop("CompatibilityMode"), Some(&Value::Int(160)));
    // ANSI_NULLS is off at database level in a fresh database, and DacFx's default is off too.
    assert_eq!(options.prop("IsAnsiNullsOn"), None);
    assert_eq!(
        options.prop("IsQuotedIdentifierOn"),
        Some(&Value::Bool(false))
    );
    assert!(!model.collation_case_sensitive);

    // A case-sensitive, SIMPLE-recovery, RCSI database.
    let set = catalog.sets.get_mut("database").unwrap();
    let col = |name: &str| set.columns.iter().position(|c| c == name).unwrap();
    let (collation, recovery, rcsi) = (
        col("collation_name"),
        col("recovery_model"),
        col("is_read_committed_snapshot_on"),
    );
    set.rows[0][collation] = Some("Latin1_General_100_CS_AS_SC_UTF8".into());
    set.rows[0][recovery] = Some("3".into());
    set.rows[0][rcsi] = Some("1".into());
    let model = model_from_catalog(&catalog).unwrap().model;
    let options = model
        .elements
        .iter()
        .find(|e| e.kind == kind::DATABASE_OPTIONS)
        .unwrap();
    assert!(model.collation_case_sensitive);
    assert_eq!(options.prop("RecoveryMode"), Some(&Value::Int(1)));
    assert_eq!(
        options.prop("IsReadCommittedSnapshot"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn unknown_catalog_kinds_become_reported_opaque_objects() {
    let dir = dac_tests::workspace_root().join("fixtures/sqlserver/shop");
    let mut catalog = catalog(&dir);
    let other = catalog.sets.get_mut("other_objects").unwrap();
    for row in [
        ["object", "SQ", "SERVICE_QUEUE", "dbo", "Inbox", ""],
        [
            "partition function",
            "",
            "PARTITION_FUNCTION",
            "",
            "pfYears",
            "",
        ],
        ["index", "3", "XML", "Sales", "PXML_Notes", "Orders"],
    ] {
        other.rows.push(
            row.iter()
                .map(|v| (!v.is_empty()).then(|| v.to_string()))
                .collect(),
        );
    }
    // A grant on a type and a property on an index: reported, not modelled.
    let push = |catalog: &mut Catalog, set: &str, values: &[(&str, &str)]| {
        let set = catalog.sets.get_mut(set).unwrap();
        let mut row = vec![None; set.columns.len()];
        for (column, value) in values {
            let i = set.columns.iter().position(|c| c == column).unwrap();
            row[i] = Some(value.to_string());
        }
        set.rows.push(row);
    };
    push(
        &mut catalog,
        "permissions",
        &[
            ("class", "6"),
            ("state", "G"),
            ("permission_name", "REFERENCES"),
            ("grantee_name", "Clerks"),
        ],
    );
    push(
        &mut catalog,
        "extended_properties",
        &[
            ("class", "7"),
            ("property_name", "MS_Description"),
            ("property_value", "lookup by mail"),
        ],
    );
    let inspection = model_from_catalog(&catalog).unwrap();
    let opaque = inspection.model.opaque_counts();
    assert_eq!(opaque.get("SqlQueue"), Some(&1), "{opaque:?}");
    assert_eq!(opaque.get("SqlPartitionFunction"), Some(&1), "{opaque:?}");
    assert_eq!(opaque.get("SqlXmlIndex"), Some(&1), "{opaque:?}");
    assert_eq!(inspection.notes.len(), 5, "{:?}", inspection.notes);
    assert!(
        inspection.notes.iter().any(|n| n.contains("REFERENCES")),
        "{:?}",
        inspection.notes
    );
    assert!(
        inspection.notes[2].contains("[Sales].[Orders].[PXML_Notes]")
            || inspection.notes.iter().any(|n| n.contains("PXML_Notes")),
        "{:?}",
        inspection.notes
    );
}

fn registration() -> Registration {
    Registration {
        name: "Shop".into(),
        version: "2.1.0".into(),
        definition: b"PK\x03\x04\x14\x00\x00\x00 (package bytes)".to_vec(),
        model_hash: "3F2A9C".into(),
        registered_by: "ops".into(),
        registered_at: "2026-11-26T12:00:00Z".into(),
    }
}

fn entry() -> HistoryEntry {
    HistoryEntry {
        action: HistoryAction::Upgrade,
        status: HistoryStatus::Success,
        name: "Shop".into(),
        version_before: Some("2.0.0".into()),
        version_after: Some("2.1.0".into()),
        at: "2026-11-26T12:00:05Z".into(),
        by: "ops".into(),
        message: "data loss allowed by ops".into(),
        duration_ms: Some(1234),
    }
}

#[test]
fn golden_registration_statements() {
    let reg = registration();
    let mut out = String::new();
    for (title, text) in [
        (
            "probe: may this login register in msdb?",
            registry::MSDB_PROBE.to_string(),
        ),
        ("read the registration", registry::MSDB_READ.to_string()),
        (
            "register (add or update)",
            registry::msdb_write(&reg).to_string(),
        ),
        (
            "history row",
            registry::msdb_history(&entry(), Some("6F9619FF-8B86-D011-B42D-00C04FC964FF"))
                .to_string(),
        ),
        ("unregister", registry::msdb_delete().to_string()),
        ("read the history", registry::MSDB_HISTORY.to_string()),
        (
            "fallback: create the in-database registry",
            registry::LOCAL_CREATE.to_string(),
        ),
        (
            "fallback: register",
            registry::local_write(&reg).to_string(),
        ),
        (
            "fallback: history row",
            registry::local_history(&entry()).to_string(),
        ),
        (
            "upgrade lock",
            dac_engine::driver::sqlserver::lock_statement(
                "Shop",
                std::time::Duration::from_secs(10),
            ),
        ),
        (
            "upgrade unlock",
            dac_engine::driver::sqlserver::unlock_statement("Shop"),
        ),
        (
            "transaction",
            [
                dac_engine::driver::sqlserver::BEGIN,
                dac_engine::driver::sqlserver::COMMIT,
                dac_engine::driver::sqlserver::ROLLBACK,
            ]
            .join("\n"),
        ),
    ] {
        out.push_str(&format!("-- {title}\n{}\nGO\n\n", text.trim_end()));
    }
    insta::assert_snapshot!("sqlserver_registration", out);
}

#[test]
fn golden_side_by_side_statements() {
    let table =
        |schema: &str, name: &str, columns: &[&str]| side_by_side_copy(schema, name, columns);
    let orders = table("Sales", "Orders", &["OrderId", "CustomerId", "Quantity"]);
    let customers = table("Sales", "Customers", &["CustomerId", "Name"]);
    let mut out = String::new();
    let mut step = |title: &str, batches: Vec<String>| {
        out.push_str(&format!("-- {title}\n"));
        for b in batches {
            out.push_str(b.trim_end());
            out.push_str("\nGO\n");
        }
        out.push('\n');
    };
    step(
        "create the new database (the original's collation)",
        vec![server_sql::create_database_collated(
            "Shop__dac_new",
            Some("SQL_Latin1_General_CP1_CI_AS"),
        )],
    );
    step(
        "journal on the new database",
        vec![server_sql::journal_write(
            "Shop__dac_new",
            r#"{"format":1,"target":"Shop","phase":"copying"}"#,
        )],
    );
    step(
        "freeze the original (other sessions rolled back and disconnected)",
        vec![server_sql::set_read_only("Shop", true)],
    );
    step(
        "which columns take their values from the server, and is there an identity column?",
        vec![
            server_sql::unwritable_columns("Shop__dac_new", &customers),
            server_sql::has_identity("Shop__dac_new", &customers),
        ],
    );
    step(
        "copy rows, identity values kept",
        vec![server_sql::copy_table(
            "Shop",
            "Shop__dac_new",
            &customers,
            true,
        )],
    );
    step(
        "copy rows",
        vec![server_sql::copy_table(
            "Shop",
            "Shop__dac_new",
            &orders,
            false,
        )],
    );
    step(
        "continue identities and sequences after the original's position",
        vec![
            server_sql::IDENTITY_STATE.to_string(),
            server_sql::reseed(&ObjectName::new(["Sales", "Customers"]), "1042"),
            server_sql::SEQUENCE_STATE.to_string(),
            server_sql::restart_sequence(&ObjectName::new(["Sales", "OrderNumbers"]), "2001"),
        ],
    );
    step("seal the original", vec![server_sql::seal("Shop")]);
    step(
        "switch: keep the original under another name, its msdb registration following it",
        vec![
            server_sql::rename_database("Shop", "Shop__v1_0_0_20261126120000"),
            server_sql::msdb_follow_rename("Shop", "Shop__v1_0_0_20261126120000"),
        ],
    );
    step(
        "switch: the new database takes the name",
        vec![
            server_sql::rename_database("Shop__dac_new", "Shop"),
            server_sql::msdb_follow_rename("Shop__dac_new", "Shop"),
        ],
    );
    step(
        "open the upgraded database, keep the original read-only",
        vec![
            server_sql::set_read_only("Shop", false),
            server_sql::set_read_only("Shop__v1_0_0_20261126120000", true),
        ],
    );
    step(
        "change marker (compared before a rollback)",
        vec![
            server_sql::user_tables("Shop"),
            server_sql::table_fingerprints(
                "Shop",
                &["[Sales].[Customers]".into(), "[Sales].[Orders]".into()],
            ),
        ],
    );
    step(
        "find, read and clear the journal",
        vec![
            server_sql::journal_candidates("Shop"),
            server_sql::journal_read("Shop"),
            server_sql::journal_clear("Shop"),
        ],
    );
    step(
        "check a copy",
        vec![server_sql::count_rows("Shop", "Shop__dac_new", &orders)],
    );
    step(
        "drop a database, and its msdb registration (the history stays)",
        server_sql::drop_database("Shop__dac_new")
            .into_iter()
            .chain([server_sql::msdb_forget("Shop__dac_new")])
            .collect(),
    );
    insta::assert_snapshot!("sqlserver_side_by_side", out);
}

/// The catch-up of an early copy by Change Tracking, pinned: every statement the SQL Server
/// side-by-side sends on that path (whether the source and its tables are tracked and it allows
/// snapshot isolation, the mark, the schema check, the written tables, the columns and identity
/// of a pass), and one pass of a table with an identity key and a converted column, and of one
/// with a composite key whose every column is in the key. Live, the path is unproven (no SQL
/// Server here).
#[test]
fn sqlserver_change_tracking_catch_up_is_pinned() {
    let mut orders = side_by_side_copy(
        "Sales",
        "Orders",
        &["OrderId", "CustomerId", "Quantity", "UnitPrice"],
    );
    orders.key = vec!["OrderId".into()];
    orders.same_types = false;
    orders.converted = vec![("Quantity".into(), "bigint".into())];
    let mut tags = side_by_side_copy("Sales", "Order]Tags", &["OrderId", "Tag"]);
    tags.key = vec!["OrderId".into(), "Tag".into()];
    let mut out = String::new();
    for (title, sql) in [
        (
            "is the source tracked, and every copied table",
            server_sql::change_tracking_state(
                "Shop",
                &[orders.source.clone(), tags.source.clone()],
            ),
        ),
        (
            "the user tables the check covers (every one must be tracked)",
            server_sql::user_tables("Shop"),
        ),
        (
            "does the source allow snapshot isolation (each catch-up reads under it)",
            server_sql::snapshot_isolation_state("Shop"),
        ),
        (
            "the mark, before the copy",
            server_sql::change_tracking_mark("Shop", "Shop__dac_new"),
        ),
        (
            "the schema, at the mark and again with writers held",
            server_sql::schema_state("Shop"),
        ),
        (
            "which copied tables were written since the mark, with writers held",
            server_sql::change_tracking_written(
                "Shop",
                &[orders.source.clone(), tags.source.clone()],
                1042,
            ),
        ),
        (
            "the columns a catch-up leaves to the server, and whether it inserts identity values",
            format!(
                "{}\n{}",
                server_sql::unwritable_columns("Shop__dac_new", &orders),
                server_sql::has_identity("Shop__dac_new", &orders)
            ),
        ),
        (
            "a pass over Orders (identity key, a converted column)",
            server_sql::change_tracking_catch_up("Shop", "Shop__dac_new", &orders, 1042, true),
        ),
        (
            "a pass over Order]Tags (every column in the key)",
            server_sql::change_tracking_catch_up("Shop", "Shop__dac_new", &tags, 7, false),
        ),
    ] {
        // One batch each, so sqlfluff parses each statement on its own (`tsql_sqlfluff.rs`).
        out.push_str(&format!("-- {title}\n{sql}\nGO\n"));
    }
    insta::assert_snapshot!("sqlserver_change_tracking_catch_up", out);
}

/// Every statement of the Azure SQL Database side-by-side method (no cross-database queries:
/// the whole database copied, the copy upgraded in place, the names switched), in the order
/// the upgrade, its rollback and its recovery send them; one batch each (sqlfluff parses them,
/// `tsql_sqlfluff.rs`). The in-place upgrade of the copy is the in-place script pinned above.
#[test]
fn sqlserver_azure_database_copy_is_pinned() {
    let journal = r#"{"format":1,"target":"Shop","phase":"copying","database_copy":"copying"}"#;
    let tables = [
        "[Sales].[Orders]".to_string(),
        "[dbo].[Order]]Tags]".to_string(),
    ];
    let mut out = String::new();
    for (title, sql) in [
        (
            "is the server Azure SQL Database (EngineEdition 5)",
            server_sql::ENGINE_EDITION.to_string(),
        ),
        (
            "the journal, in a session of the original (no cross-database names)",
            server_sql::azure_journal_write(journal),
        ),
        (
            "1. the original read-only, its writers rolled back",
            server_sql::azure_set_read_only("Shop", true),
        ),
        (
            "2. the transactionally consistent copy, from master",
            server_sql::azure_copy_database("Shop", "Shop__dac_new"),
        ),
        (
            "2. polled until ONLINE (or the copy's error)",
            server_sql::azure_copy_state("Shop__dac_new"),
        ),
        (
            "the journal read, in a session of each candidate",
            server_sql::azure_journal_read(),
        ),
        (
            "3. a copy of a read-only database made writable for the upgrade",
            server_sql::azure_set_read_only("Shop__dac_new", false),
        ),
        (
            "4. the switch: the original keeps a retained name",
            server_sql::azure_rename_database("Shop", "Shop__v1_0_0_20261206120000"),
        ),
        (
            "4. the switch: the upgraded copy takes the original's",
            server_sql::azure_rename_database("Shop__dac_new", "Shop"),
        ),
        (
            "4. the new one read-write",
            server_sql::azure_set_read_only("Shop", false),
        ),
        (
            "the change marker (before a rollback), in a session of the database",
            server_sql::azure_user_tables(),
        ),
        (
            "the change marker's fingerprints",
            server_sql::azure_table_fingerprints(&tables),
        ),
        (
            "5. rollback before the switch: the copy dropped (a copy still COPYING is cancelled)",
            server_sql::azure_drop_database("Shop__dac_new"),
        ),
        ("5. the journal cleared", server_sql::azure_journal_clear()),
    ] {
        out.push_str(&format!("-- {title}\n{sql}\nGO\n"));
    }
    insta::assert_snapshot!("sqlserver_azure_database_copy", out);
}

fn side_by_side_copy(schema: &str, name: &str, columns: &[&str]) -> dac_engine::driver::TableCopy {
    let table = ObjectName::new([schema, name]);
    dac_engine::driver::TableCopy {
        source: table.clone(),
        destination: table,
        columns: columns
            .iter()
            .map(|c| (c.to_string(), c.to_string()))
            .collect(),
        same_types: true,
        converted: Vec::new(),
        key: Vec::new(),
    }
}
