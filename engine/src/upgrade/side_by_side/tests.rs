//! Offline tests of the side-by-side upgrade's pure parts: the data transfer plan, the
//! preparation (create script split, foreign keys checked later, rows left behind) and the
//! recovery rule. Models are built from SQL, as the project builder builds them.

use std::path::Path;

use super::prepare::{create_scripts, foreign_keys_to_check_later, refuse_lost_rows};
use super::recovery::{Recovery, recovery_for};
use super::transfer_plan::{PlannedTransfer, plan_transfer};
use super::{LaterCheck, Phase};
use crate::Error;
use crate::compare::{CompareOptions, Diff, compare};
use crate::driver::{Driver, SqliteDriver};
use crate::model::kind::prop;
use crate::model::{Dsp, Model, ObjectName, Platform, kind};
use crate::package::Package;
use crate::plan::StepKind;
use crate::report::transfer::TransferCase;
use crate::script::Script;
use crate::source::generic::{finish, parse_batch};

fn model(platform: Platform, sql: &str) -> Model {
    let mut elements = parse_batch(platform, sql, Path::new("x.sql"), 1).expect("parse");
    finish(platform, &mut elements);
    let mut model = Model::empty(Dsp::from_short_name(platform.as_str()).expect("dsp"));
    model.elements = elements;
    model.sort_elements();
    model
}

fn sqlite(sql: &str) -> Model {
    model(Platform::Sqlite, sql)
}

fn postgres(sql: &str) -> Model {
    model(Platform::Postgres, sql)
}

fn diff(live: &Model, desired: &Model) -> Diff {
    compare(live, desired, &CompareOptions::default())
}

fn package(model: Model) -> Package {
    Package {
        metadata: None,
        origin: None,
        model,
        predeploy: None,
        postdeploy: None,
        refactor_log: None,
    }
}

/// The planned transfer of `table`.
fn transfer<'a>(transfers: &'a [PlannedTransfer], table: &str) -> &'a PlannedTransfer {
    transfers
        .iter()
        .find(|t| t.report.name.contains(table))
        .unwrap_or_else(|| panic!("no transfer of {table}: {transfers:#?}"))
}

/// The transfers planned between SQLite schemas given as SQL: the registered, the live and
/// the desired.
fn sqlite_transfers(registered: &str, live: &str, desired: &str) -> Vec<PlannedTransfer> {
    let (registered, live, desired) = (sqlite(registered), sqlite(live), sqlite(desired));
    plan_transfer(Some(&registered), &live, &desired, &diff(&live, &desired))
}

fn name(parts: &[&str]) -> ObjectName {
    ObjectName::new(parts.iter().copied())
}

// --- the data transfer plan -------------------------------------------------------------------

#[test]
fn a_table_registered_live_and_desired_is_copied() {
    let schema = "CREATE TABLE t (id integer PRIMARY KEY, note text)";
    let transfers = sqlite_transfers(schema, schema, schema);
    assert_eq!(transfers.len(), 1);
    let t = transfer(&transfers, "t");
    assert_eq!(t.report.case, TransferCase::Unchanged);
    assert!(t.report.copied);
    let copy = t.copy.as_ref().expect("a copy");
    assert_eq!(copy.source, copy.destination);
    assert_eq!(
        copy.columns,
        [("id".into(), "id".into()), ("note".into(), "note".into())]
    );
    assert!(copy.same_types && copy.converted.is_empty());
}

#[test]
fn a_table_not_in_all_three_schemas_is_not_copied_and_its_report_says_why() {
    let t = "CREATE TABLE t (id integer PRIMARY KEY)";
    let t_n = "CREATE TABLE t (id integer PRIMARY KEY); CREATE TABLE n (id integer PRIMARY KEY)";
    let t_u = "CREATE TABLE t (id integer PRIMARY KEY); CREATE TABLE u (id integer PRIMARY KEY)";
    let t_old =
        "CREATE TABLE t (id integer PRIMARY KEY); CREATE TABLE old (id integer PRIMARY KEY)";
    for (registered, live, desired, table, case, reason) in [
        // Only desired.
        (
            t,
            t,
            t_n,
            "[n]",
            TransferCase::New,
            "new in the package: created empty",
        ),
        // Live and desired, not registered.
        (
            t,
            t_u,
            t_u,
            "[u]",
            TransferCase::Unregistered,
            "in the live database and the package but not in the registered definition: created, not copied",
        ),
        // Registered and live, not desired.
        (
            t_old,
            t_old,
            t,
            "[old]",
            TransferCase::Dropped,
            "in the registered definition but not in the package: not created, rows not copied",
        ),
    ] {
        let transfers = sqlite_transfers(registered, live, desired);
        let not_copied = transfer(&transfers, table);
        assert_eq!(not_copied.report.case, case, "{table}");
        assert!(
            not_copied.copy.is_none() && !not_copied.report.copied,
            "{table}"
        );
        assert_eq!(not_copied.report.reason.as_deref(), Some(reason), "{table}");
        // The table in all three schemas is copied.
        assert!(transfer(&transfers, "[t]").copy.is_some(), "{table}");
    }
}

#[test]
fn a_changed_table_copies_the_columns_whose_names_match_converting_types() {
    let before = "CREATE TABLE t (id integer PRIMARY KEY, amount integer, gone text)";
    let desired = "CREATE TABLE t (id integer PRIMARY KEY, amount real, added text)";
    let transfers = sqlite_transfers(before, before, desired);
    let t = transfer(&transfers, "t");
    assert_eq!(t.report.case, TransferCase::Changed);
    assert!(t.report.copied);
    assert_eq!(t.report.columns_dropped, ["gone"]);
    assert_eq!(t.report.columns_added, ["added"]);
    assert_eq!(t.report.columns_converted, ["amount"]);
    let copy = t.copy.as_ref().expect("a copy");
    assert_eq!(
        copy.columns,
        [
            ("id".into(), "id".into()),
            ("amount".into(), "amount".into())
        ]
    );
    assert!(!copy.same_types);
    assert_eq!(copy.converted.len(), 1);
    assert_eq!(copy.converted[0].0, "amount");
}

#[test]
fn a_copied_table_is_caught_up_by_its_primary_key_where_both_sides_have_the_same_one() {
    let live = "CREATE TABLE k (a integer, b text, v text, PRIMARY KEY (a, b)); \
                CREATE TABLE heap (v text); \
                CREATE TABLE moved (id integer PRIMARY KEY, code text NOT NULL)";
    let desired = "CREATE TABLE k (a integer, b text, v text, PRIMARY KEY (a, b)); \
                   CREATE TABLE heap (v text); \
                   CREATE TABLE moved (id integer, code text NOT NULL PRIMARY KEY)";
    let transfers = sqlite_transfers(live, live, desired);
    let key = |table: &str| {
        transfer(&transfers, table)
            .copy
            .as_ref()
            .expect("a copy")
            .key
            .clone()
    };
    assert_eq!(key("[k]"), ["a", "b"]);
    // No primary key: copied again when written to.
    assert!(key("[heap]").is_empty());
    // Another primary key in the package: the original's rows need not be unique by it.
    assert!(key("[moved]").is_empty());
    let postgres_live = "CREATE TABLE p (id bigint PRIMARY KEY, v integer)";
    let postgres_desired = "CREATE TABLE p (id bigint PRIMARY KEY, v bigint)";
    let (live, desired) = (postgres(postgres_live), postgres(postgres_desired));
    let transfers = plan_transfer(Some(&live), &live, &desired, &diff(&live, &desired));
    let copy = transfer(&transfers, "[p]").copy.as_ref().expect("a copy");
    assert_eq!(copy.key, ["id"], "a type conversion keeps the key");
    assert!(!copy.same_types);
}

// --- the create script, split at the copy ----------------------------------------------------

const SHOP: &str = "CREATE TABLE p (id integer PRIMARY KEY);
CREATE TABLE c (id integer PRIMARY KEY, p_id integer CONSTRAINT fk_c_p REFERENCES p (id));
CREATE INDEX ix_c ON c (p_id);";

fn steps(script: &Script) -> Vec<Option<StepKind>> {
    script.batches.iter().map(|b| b.step).collect()
}

#[test]
fn create_scripts_keep_indexes_foreign_keys_triggers_and_scripts_out_of_the_copy() {
    let desired = postgres(&format!(
        "{SHOP}
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER tr_c BEFORE INSERT ON c FOR EACH ROW EXECUTE FUNCTION touch();"
    ));
    let mut package = package(desired.clone());
    package.predeploy = Some("UPDATE c SET p_id = p_id;".into());
    package.postdeploy = Some("SELECT 1;".into());
    let scripts = create_scripts(&desired, None, &package, &[], false).expect("scripts");

    let before_copy = steps(&scripts.before_copy);
    assert!(
        before_copy.contains(&Some(StepKind::CreateTable)),
        "{before_copy:?}"
    );
    for late in [
        StepKind::PreDeploy,
        StepKind::CreateIndex,
        StepKind::CreateTrigger,
        StepKind::AddForeignKey,
        StepKind::RecordRefactorLog,
        StepKind::PostDeploy,
    ] {
        assert!(
            !before_copy.contains(&Some(late)),
            "{late:?} in {before_copy:?}"
        );
    }
    assert_eq!(steps(&scripts.predeploy), [Some(StepKind::PreDeploy)]);
    assert_eq!(scripts.indexes.len(), 1);
    assert_eq!(scripts.indexes[0].table, Some(name(&["public", "c"])));
    assert!(
        scripts.indexes[0]
            .batch
            .statements
            .iter()
            .any(|s| s.contains("ix_c"))
    );
    // Foreign keys last: they check what the post-deployment script added too.
    let after = steps(&scripts.after);
    assert_eq!(
        after,
        [
            Some(StepKind::CreateTrigger),
            Some(StepKind::PostDeploy),
            Some(StepKind::AddForeignKey)
        ],
        "{after:?}"
    );
    assert!(!scripts.after.foreign_keys_off);
}

#[test]
fn create_scripts_without_a_predeploy_script_have_an_empty_one() {
    let desired = postgres(SHOP);
    let scripts =
        create_scripts(&desired, None, &package(desired.clone()), &[], false).expect("scripts");
    assert!(scripts.predeploy.batches.is_empty());
}

#[test]
fn create_scripts_on_sqlite_declare_foreign_keys_with_the_table_and_check_them_before_the_commit() {
    let desired = sqlite(
        "CREATE TABLE p (id integer PRIMARY KEY);
         CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p (id));
         CREATE INDEX ix_c ON c (p_id);",
    );
    let scripts =
        create_scripts(&desired, None, &package(desired.clone()), &[], false).expect("scripts");
    assert!(!steps(&scripts.after).contains(&Some(StepKind::AddForeignKey)));
    assert!(scripts.after.foreign_keys_off);
    assert_eq!(scripts.indexes.len(), 1);
}

// --- foreign keys checked after the switch ---------------------------------------------------

fn later_checks(
    live: &Model,
    desired: &Model,
    package: &Package,
) -> (Option<Model>, Vec<LaterCheck>) {
    let diff = diff(live, desired);
    let transfers = plan_transfer(Some(live), live, desired, &diff);
    foreign_keys_to_check_later(live, desired, &diff, &transfers, package)
}

#[test]
fn a_held_unchanged_foreign_key_over_whole_copies_is_checked_after_the_switch() {
    let (live, desired) = (postgres(SHOP), postgres(SHOP));
    let (marked, checks) = later_checks(&live, &desired, &package(desired.clone()));
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].name, name(&["public", "fk_c_p"]).to_string());
    assert_eq!(
        checks[0].statement,
        r#"ALTER TABLE "public"."c" VALIDATE CONSTRAINT "fk_c_p""#
    );
    let marked = marked.expect("the desired model, marked");
    let key = marked
        .find(kind::FOREIGN_KEY, &name(&["public", "fk_c_p"]))
        .expect("the key");
    assert_eq!(key.bool_prop(prop::IS_NOT_VALID), Some(true));
}

#[test]
fn no_foreign_key_waits_where_a_predeploy_script_runs_over_the_copy() {
    let (live, desired) = (postgres(SHOP), postgres(SHOP));
    let mut package = package(desired.clone());
    package.predeploy = Some("SELECT 1;".into());
    assert_eq!(later_checks(&live, &desired, &package), (None, Vec::new()));
}

#[test]
fn no_foreign_key_waits_where_the_platform_cannot_check_one_later() {
    let schema = "CREATE TABLE p (id integer PRIMARY KEY);
        CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p (id));";
    let (live, desired) = (sqlite(schema), sqlite(schema));
    assert_eq!(
        later_checks(&live, &desired, &package(desired.clone())),
        (None, Vec::new())
    );
}

#[test]
fn a_new_foreign_key_is_checked_before_the_switch() {
    let live = postgres(
        "CREATE TABLE p (id integer PRIMARY KEY);
         CREATE TABLE c (id integer PRIMARY KEY, p_id integer);",
    );
    let desired = postgres(SHOP);
    assert_eq!(
        later_checks(&live, &desired, &package(desired.clone())),
        (None, Vec::new())
    );
}

#[test]
fn a_foreign_key_over_a_converted_table_is_checked_before_the_switch() {
    let live = postgres(SHOP);
    let desired = postgres(
        "CREATE TABLE p (id integer PRIMARY KEY);
         CREATE TABLE c (id bigint PRIMARY KEY, p_id integer CONSTRAINT fk_c_p REFERENCES p (id));
         CREATE INDEX ix_c ON c (p_id);",
    );
    assert_eq!(
        later_checks(&live, &desired, &package(desired.clone())),
        (None, Vec::new())
    );
}

#[test]
fn a_foreign_key_the_original_holds_unchecked_is_checked_before_the_switch() {
    let mut live = postgres(SHOP);
    for key in live
        .elements
        .iter_mut()
        .filter(|e| e.kind == kind::FOREIGN_KEY)
    {
        key.set_prop(prop::IS_NOT_VALID, crate::model::Value::Bool(true));
    }
    let desired = postgres(SHOP);
    let (_, checks) = later_checks(&live, &desired, &package(desired.clone()));
    assert!(checks.is_empty(), "{checks:?}");
}

// --- rows left behind ------------------------------------------------------------------------

/// A SQLite database on a temporary file, with `sql` run in it.
fn sqlite_file(sql: &str) -> (tempfile::TempDir, SqliteDriver) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut driver = SqliteDriver::open(&dir.path().join("t.db"), true).expect("open");
    driver.execute(sql).expect("schema");
    (dir, driver)
}

#[test]
fn rows_of_tables_not_carried_over_are_refused() {
    let (_dir, mut driver) = sqlite_file(
        "CREATE TABLE t (id integer PRIMARY KEY);
         CREATE TABLE full (id integer PRIMARY KEY); INSERT INTO full VALUES (1);
         CREATE TABLE empty (id integer PRIMARY KEY);",
    );
    let live = driver.inspect().expect("inspect");
    let desired = sqlite("CREATE TABLE t (id integer PRIMARY KEY)");
    let transfers = plan_transfer(Some(&live), &live, &desired, &diff(&live, &desired));
    let Err(Error::Blocked { reason }) = refuse_lost_rows(&mut driver, &transfers) else {
        panic!("not refused");
    };
    assert!(reason.contains("would leave rows behind"), "{reason}");
    assert!(
        reason.contains("full") && reason.contains("(dropped)"),
        "{reason}"
    );
    assert!(!reason.contains("empty"), "{reason}");
    assert!(reason.contains("--allow-data-loss"), "{reason}");
}

#[test]
fn rows_of_columns_not_carried_over_are_refused() {
    let (_dir, mut driver) = sqlite_file(
        "CREATE TABLE t (id integer PRIMARY KEY, gone text); INSERT INTO t VALUES (1, 'x');",
    );
    let live = driver.inspect().expect("inspect");
    let desired = sqlite("CREATE TABLE t (id integer PRIMARY KEY)");
    let transfers = plan_transfer(Some(&live), &live, &desired, &diff(&live, &desired));
    let Err(Error::Blocked { reason }) = refuse_lost_rows(&mut driver, &transfers) else {
        panic!("not refused");
    };
    assert!(
        reason.contains("columns gone are not in the package"),
        "{reason}"
    );
}

#[test]
fn nothing_is_refused_where_no_rows_are_left_behind() {
    let (_dir, mut driver) = sqlite_file(
        "CREATE TABLE t (id integer PRIMARY KEY, gone text);
         CREATE TABLE empty (id integer PRIMARY KEY);",
    );
    let live = driver.inspect().expect("inspect");
    let desired = sqlite("CREATE TABLE t (id integer PRIMARY KEY)");
    let transfers = plan_transfer(Some(&live), &live, &desired, &diff(&live, &desired));
    refuse_lost_rows(&mut driver, &transfers).expect("nothing lost");
}

// --- recovery ---------------------------------------------------------------------------------

#[test]
fn an_upgrade_interrupted_before_the_switch_is_undone() {
    assert_eq!(recovery_for(Phase::Preparing), Recovery::UndoUpgrade);
    assert_eq!(recovery_for(Phase::Copying), Recovery::UndoUpgrade);
}

#[test]
fn an_upgrade_interrupted_from_the_switch_on_is_completed() {
    assert_eq!(recovery_for(Phase::Switching), Recovery::CompleteSwitch);
    assert_eq!(
        recovery_for(Phase::Done),
        Recovery::FinishCheckingAfterSwitch
    );
}

#[test]
fn an_interrupted_rollback_is_completed() {
    assert_eq!(recovery_for(Phase::RollingBack), Recovery::CompleteRollback);
}

#[test]
fn a_journal_records_a_whole_database_copy_and_older_journals_still_read() {
    let older = r#"{"format":1,"target":"shop.db","phase":"copying","temporary":"shop.db.dac-new","retained":"shop.v1-1.db","original_read_only":false,"application":"shop","version_before":"1","version_after":"2","started_at":"2026-01-01T00:00:00Z","marker":null,"discard":null,"keep_discarded":false}"#;
    let journal: super::SideBySideJournal = serde_json::from_str(older).expect("older journal");
    assert_eq!(journal.database_copy, None, "rows copied table by table");
    let mut whole = journal.clone();
    whole.database_copy = Some(super::DatabaseCopyStep::Upgrading);
    let text = serde_json::to_string(&whole).expect("json");
    assert!(text.contains(r#""database_copy":"upgrading""#), "{text}");
    let back: super::SideBySideJournal = serde_json::from_str(&text).expect("read back");
    assert_eq!(back, whole);
    assert!(
        !serde_json::to_string(&journal)
            .expect("json")
            .contains("database_copy"),
        "a table-by-table journal is written as before"
    );
}
