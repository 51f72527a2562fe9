//! Plans and scripts for representative changes on every platform, from builder models.

use crate::compare::{CompareOptions, compare};
use crate::dialect::{Dialect, Postgres, SqlServer, Sqlite};
use crate::model::build::testing::{column, name, table};
use crate::model::kind::prop;
use crate::model::{Dsp, Element, Model, ObjectName, Reference, kind};
use crate::plan::{HazardKind, Plan, PlanOptions, StepKind, plan};
use crate::script::render;

fn primary_key(table: &ObjectName, name: &str, col: &str) -> Element {
    Element::new(kind::PRIMARY_KEY)
        .named(ObjectName::new([table.first(), name]))
        .with_child(
            kind::rel::COLUMN_SPECIFICATIONS,
            Element::new(kind::INDEXED_COLUMN)
                .with_ref(kind::rel::COLUMN, Reference::to(table.child(col))),
        )
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(table.clone()))
}

fn model(dsp: &str, elements: Vec<Element>) -> Model {
    let mut m = Model::empty(Dsp::from_short_name(dsp).unwrap());
    m.elements = elements;
    m
}

/// A model of `dsp` holding the one table `t`, its columns given as (name, type, nullable).
fn one_table(dsp: &str, t: &ObjectName, columns: &[(&str, &str, bool)]) -> Model {
    let columns = columns
        .iter()
        .map(|&(col, ty, nullable)| column(t, col, ty, nullable))
        .collect();
    model(dsp, vec![table(t, columns)])
}

fn step_kinds(plan: &Plan) -> Vec<StepKind> {
    plan.steps.iter().map(|s| s.kind).collect()
}

fn plan_for(
    dialect: &dyn Dialect,
    diff: &crate::compare::Diff,
    current: &Model,
    desired: &Model,
    options: &PlanOptions,
) -> Plan {
    plan(diff, current, desired, dialect.capabilities(), options)
}

fn script(dialect: &dyn Dialect, current: &Model, desired: &Model) -> (Plan, String) {
    let diff = compare(
        current,
        desired,
        &CompareOptions {
            ignore_column_order: !dialect.capabilities().column_order_significant,
            ..CompareOptions::default()
        },
    );
    let plan = plan_for(dialect, &diff, current, desired, &PlanOptions::default());
    let text = render(&plan, dialect).text(dialect);
    (plan, text)
}

#[test]
fn create_table_with_key_on_every_platform() {
    for (dsp, dialect, schema, expect) in [
        (
            "Sql160",
            &SqlServer as &dyn Dialect,
            "dbo",
            "CREATE TABLE [dbo].[T] (\n    [id] INT NOT NULL,\n    [note] NVARCHAR NULL,\n    CONSTRAINT [PK_T] PRIMARY KEY CLUSTERED ([id])\n)",
        ),
        (
            "sqlite",
            &Sqlite,
            "main",
            "CREATE TABLE \"T\" (\n    \"id\" int NOT NULL,\n    \"note\" nvarchar,\n    CONSTRAINT \"PK_T\" PRIMARY KEY (\"id\")\n)",
        ),
        (
            "postgres",
            &Postgres,
            "public",
            "CREATE TABLE \"public\".\"T\" (\n    \"id\" int NOT NULL,\n    \"note\" nvarchar,\n    CONSTRAINT \"PK_T\" PRIMARY KEY (\"id\")\n)",
        ),
    ] {
        let t = name(&[schema, "T"]);
        let desired = model(
            dsp,
            vec![
                table(
                    &t,
                    vec![
                        column(&t, "id", "int", false),
                        column(&t, "note", "nvarchar", true),
                    ],
                ),
                primary_key(&t, "PK_T", "id"),
            ],
        );
        let (plan, text) = script(dialect, &model(dsp, vec![]), &desired);
        let kinds = step_kinds(&plan);
        assert_eq!(kinds, vec![StepKind::CreateTable], "{dsp}");
        assert!(text.contains(expect), "{dsp}:\n{text}");
        assert!(
            text.contains(&format!("-- CreateTable SqlTable [{schema}].[T]")),
            "{text}"
        );
    }
}

#[test]
fn dropping_a_column_is_a_guarded_data_loss_hazard() {
    for (dsp, dialect, schema, guard) in [
        (
            "Sql160",
            &SqlServer as &dyn Dialect,
            "dbo",
            "IF EXISTS (SELECT TOP 1 1 FROM [dbo].[T])",
        ),
        (
            "sqlite",
            &Sqlite,
            "main",
            "INSERT INTO \"_dac_guard\" SELECT EXISTS (SELECT 1 FROM \"T\")",
        ),
        (
            "postgres",
            &Postgres,
            "public",
            "IF EXISTS (SELECT 1 FROM \"public\".\"T\")",
        ),
    ] {
        let t = name(&[schema, "T"]);
        let current = one_table(dsp, &t, &[("id", "int", false), ("fax", "text", true)]);
        let desired = one_table(dsp, &t, &[("id", "int", false)]);
        let (plan, text) = script(dialect, &current, &desired);
        assert_eq!(plan.steps.len(), 1, "{dsp}: {:?}", plan.steps);
        assert_eq!(plan.steps[0].kind, StepKind::AlterTable, "{dsp}");
        let hazard = &plan.hazards[0];
        assert_eq!(hazard.kind, HazardKind::DataLoss);
        assert_eq!(hazard.object, t.child("fax"));
        assert!(text.contains(guard), "{dsp}:\n{text}");
        assert!(text.contains("DROP COLUMN"), "{dsp}:\n{text}");
        // Without blocking, no guard.
        let diff = compare(&current, &desired, &CompareOptions::default());
        let options = PlanOptions {
            block_on_possible_data_loss: false,
            ..PlanOptions::default()
        };
        let unguarded = plan_text(dialect, &diff, &current, &desired, &options);
        assert!(!unguarded.contains(guard), "{dsp}:\n{unguarded}");
    }
}

/// A guard that fails must stop the platform's standard client before anything else runs, so
/// the open transaction dies with the connection: each client's stop-on-error switch comes
/// before the transaction and the guard. The live proofs run `sqlite3` and `psql` themselves;
/// sqlcmd is not on the test machines, so SQL Server's switch is checked here only.
#[test]
fn every_script_stops_its_client_at_the_first_error() {
    for (dsp, dialect, schema, stop, begin, guard) in [
        (
            "Sql160",
            &SqlServer as &dyn Dialect,
            "dbo",
            "\n:on error exit\n",
            "BEGIN TRANSACTION;",
            "RAISERROR",
        ),
        (
            "sqlite",
            &Sqlite,
            "main",
            "\n.bail on\n",
            "BEGIN;",
            "_dac_guard",
        ),
        (
            "postgres",
            &Postgres,
            "public",
            "\n\\set ON_ERROR_STOP on\n",
            "BEGIN;",
            "RAISE EXCEPTION",
        ),
    ] {
        let t = name(&[schema, "T"]);
        let current = one_table(dsp, &t, &[("id", "int", false), ("fax", "text", true)]);
        let desired = one_table(dsp, &t, &[("id", "int", false)]);
        let (_, text) = script(dialect, &current, &desired);
        let at = |what: &str| {
            text.find(what)
                .unwrap_or_else(|| panic!("{dsp}: no {what:?} in\n{text}"))
        };
        assert!(at(stop) < at(begin), "{dsp}:\n{text}");
        assert!(at(begin) < at(guard), "{dsp}:\n{text}");
    }
}

fn plan_text(
    dialect: &dyn Dialect,
    diff: &crate::compare::Diff,
    current: &Model,
    desired: &Model,
    options: &PlanOptions,
) -> String {
    let plan = plan_for(dialect, diff, current, desired, options);
    render(&plan, dialect).text(dialect)
}

#[test]
fn sqlite_rebuilds_where_alter_cannot_and_says_why() {
    let t = name(&["main", "accounts"]);
    let current = one_table(
        "sqlite",
        &t,
        &[("id", "INTEGER", false), ("balance", "INTEGER", true)],
    );
    let desired = one_table(
        "sqlite",
        &t,
        &[("id", "INTEGER", false), ("balance", "INTEGER", false)],
    );
    let (plan, text) = script(&Sqlite, &current, &desired);
    let step = plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::RebuildTable)
        .expect("rebuild");
    assert!(
        step.reason
            .as_deref()
            .unwrap()
            .contains("nullability of column balance"),
        "{:?}",
        step.reason
    );
    assert!(
        plan.hazards
            .iter()
            .any(|h| h.kind == HazardKind::TableRebuild)
    );
    for expected in [
        "PRAGMA foreign_keys = OFF;",
        "CREATE TABLE \"_dac_new_accounts\"",
        "INSERT INTO \"_dac_new_accounts\" (\"id\", \"balance\") SELECT \"id\", \"balance\" FROM \"accounts\"",
        "DROP TABLE \"accounts\"",
        "ALTER TABLE \"_dac_new_accounts\" RENAME TO \"accounts\"",
        "SELECT count(*) FROM pragma_foreign_key_check;",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
    // PostgreSQL alters the same change in place.
    let t = name(&["public", "accounts"]);
    let current = one_table(
        "postgres",
        &t,
        &[("id", "integer", false), ("balance", "integer", true)],
    );
    let desired = one_table(
        "postgres",
        &t,
        &[("id", "integer", false), ("balance", "integer", false)],
    );
    let (plan, text) = script(&Postgres, &current, &desired);
    assert_eq!(plan.steps[0].kind, StepKind::AlterTable);
    assert!(
        text.contains("ALTER TABLE \"public\".\"accounts\" ALTER COLUMN \"balance\" SET NOT NULL"),
        "{text}"
    );
}

#[test]
fn sqlserver_rebuilds_on_column_order_with_tmp_ms_xx() {
    let t = name(&["dbo", "T"]);
    let current = model(
        "Sql160",
        vec![
            table(
                &t,
                vec![column(&t, "a", "int", false), column(&t, "b", "int", true)],
            ),
            primary_key(&t, "PK_T", "a"),
        ],
    );
    let desired = model(
        "Sql160",
        vec![
            table(
                &t,
                vec![column(&t, "b", "int", true), column(&t, "a", "int", false)],
            ),
            primary_key(&t, "PK_T", "a"),
        ],
    );
    let (plan, text) = script(&SqlServer, &current, &desired);
    assert_eq!(plan.steps[0].kind, StepKind::RebuildTable);
    for expected in [
        "CREATE TABLE [dbo].[tmp_ms_xx_T]",
        "CONSTRAINT [tmp_ms_xx_constraint_PK_T] PRIMARY KEY CLUSTERED ([a])",
        "INSERT INTO [dbo].[tmp_ms_xx_T] ([b], [a])",
        "DROP TABLE [dbo].[T]",
        "EXECUTE sp_rename N'[dbo].[tmp_ms_xx_T]', N'T'",
        "EXECUTE sp_rename N'[dbo].[tmp_ms_xx_constraint_PK_T]', N'PK_T', N'OBJECT'",
        "BEGIN TRANSACTION;",
        "COMMIT TRANSACTION;",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
}

#[test]
fn hostile_names_are_quoted_by_each_dialect() {
    let weird = "we]ird\"na'me;";
    for (dsp, dialect, schema, quoted) in [
        (
            "Sql160",
            &SqlServer as &dyn Dialect,
            "dbo",
            "[we]]ird\"na'me;]",
        ),
        ("sqlite", &Sqlite, "main", "\"we]ird\"\"na'me;\""),
        ("postgres", &Postgres, "public", "\"we]ird\"\"na'me;\""),
    ] {
        let t = name(&[schema, weird]);
        let desired = model(dsp, vec![table(&t, vec![column(&t, weird, "int", true)])]);
        let (_, text) = script(dialect, &model(dsp, vec![]), &desired);
        assert!(
            text.contains(&format!("CREATE TABLE {}", dialect.quote_name(&t))),
            "{text}"
        );
        assert!(text.contains(quoted), "{dsp}: {text}");
    }
}

#[test]
fn steps_follow_dependency_order() {
    let t = name(&["dbo", "T"]);
    let view = |n: &str, body: &str| {
        Element::new(kind::VIEW)
            .named(name(&["dbo", n]))
            .with_script(prop::QUERY_SCRIPT, body)
    };
    let desired = model(
        "Sql160",
        vec![
            view("V2", "SELECT x FROM [dbo].[V1]"),
            view("V1", "SELECT a AS x FROM [dbo].[T]"),
            table(&t, vec![column(&t, "a", "int", true)]),
            Element::new(kind::SCHEMA).named(name(&["s"])),
        ],
    );
    let (plan, _) = script(&SqlServer, &model("Sql160", vec![]), &desired);
    let order: Vec<String> = plan
        .steps
        .iter()
        .map(|s| format!("{} {}", s.kind.as_str(), s.name))
        .collect();
    assert_eq!(
        order,
        vec![
            "CreateSchema [s]",
            "CreateTable [dbo].[T]",
            "CreateProgrammable [dbo].[V1]",
            "CreateProgrammable [dbo].[V2]",
        ]
    );
}

#[test]
fn a_default_added_with_its_column_is_added_once() {
    // The Herdo corpus step: NOT NULL columns added with named and unnamed defaults.
    let t = name(&["dbo", "T"]);
    let default = |constraint: Option<&str>, col: &str| {
        let mut el = Element::new(kind::DEFAULT)
            .with_script(prop::DEFAULT_EXPRESSION_SCRIPT, "''")
            .with_ref(kind::rel::DEFINING_TABLE, Reference::to(t.clone()))
            .with_ref(kind::rel::FOR_COLUMN, Reference::to(t.child(col)));
        if let Some(constraint) = constraint {
            el = el.named(name(&["dbo", constraint]));
        }
        el
    };
    let current = one_table("Sql160", &t, &[("id", "int", false)]);
    let desired = model(
        "Sql160",
        vec![
            table(
                &t,
                vec![
                    column(&t, "id", "int", false),
                    column(&t, "a", "nvarchar", false),
                    column(&t, "b", "nvarchar", false),
                ],
            ),
            default(None, "a"),
            default(Some("DF_b"), "b"),
        ],
    );
    let (plan, text) = script(&SqlServer, &current, &desired);
    let kinds = step_kinds(&plan);
    assert_eq!(kinds, [StepKind::AlterTable], "{text}");
    assert!(plan.hazards.is_empty(), "{:?}", plan.hazards);
    assert_eq!(text.matches("DEFAULT").count(), 2, "{text}");
    assert!(
        text.contains("ADD [b] NVARCHAR CONSTRAINT [DF_b] DEFAULT '' NOT NULL"),
        "{text}"
    );
    // A default added to an existing column is still its own step.
    let mut later = desired.clone();
    let mut current_with_columns = desired.clone();
    current_with_columns.elements.truncate(1);
    later.elements.truncate(2);
    let (plan, _) = script(&SqlServer, &current_with_columns, &later);
    let kinds = step_kinds(&plan);
    assert_eq!(kinds, [StepKind::AddConstraint]);
}

#[test]
fn column_rename_is_a_rename_step_then_an_alter() {
    use crate::compare::Rename;
    use crate::model::refactor::{RefactorLog, RefactorOperation};
    let t = name(&["dbo", "users"]);
    let current = one_table(
        "Sql160",
        &t,
        &[("id", "int", false), ("username", "int", true)],
    );
    let desired = one_table(
        "Sql160",
        &t,
        &[("id", "int", false), ("user_name", "bigint", true)],
    );
    let options = CompareOptions {
        renames: vec![Rename {
            kind: kind::SIMPLE_COLUMN.into(),
            from: t.child("username"),
            to: t.child("user_name"),
        }],
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    let rename = diff
        .changes
        .iter()
        .find(|c| c.kind == kind::SIMPLE_COLUMN)
        .expect("a column rename");
    assert_eq!(rename.action, crate::compare::Action::Rename);
    assert_eq!(rename.renamed_from, Some(t.child("username")));
    let key = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let log = RefactorLog {
        version: "1.0".into(),
        operations: vec![RefactorOperation {
            name: "Rename Refactor".into(),
            key: key.into(),
            change_date_time: None,
            properties: vec![
                ("ElementName".into(), "[dbo].[users].[username]".into()),
                ("ElementType".into(), kind::SIMPLE_COLUMN.into()),
                ("NewName".into(), "[user_name]".into()),
            ],
        }],
    };
    let plan_options = PlanOptions {
        refactor_log: Some(log),
        ..PlanOptions::default()
    };
    let p = plan_for(&SqlServer, &diff, &current, &desired, &plan_options);
    let kinds = step_kinds(&p);
    assert_eq!(
        kinds,
        vec![
            StepKind::Rename,
            StepKind::AlterTable,
            StepKind::RecordRefactorLog
        ]
    );
    // The alter changes the renamed column's type; nothing is dropped or added.
    let alter = &p.steps[1];
    assert_eq!(alter.columns.len(), 1);
    assert!(matches!(
        &alter.columns[0],
        crate::plan::ColumnChange::Alter { desired, .. } if desired.name == Some(t.child("user_name"))
    ));
    let text = render(&p, &SqlServer).text(&SqlServer);
    assert!(
        text.contains("EXECUTE sp_rename @objname = N'[dbo].[users].[username]', @newname = N'user_name', @objtype = N'COLUMN'"),
        "{text}"
    );
    assert!(
        text.contains("CREATE TABLE [dbo].[__RefactorLog]"),
        "{text}"
    );
    assert!(text.contains(&format!("VALUES ('{key}')")), "{text}");
    for batch in render(&p, &SqlServer).batches {
        for statement in batch.statements {
            crate::source::tsql::check::check_statement(&statement).unwrap();
        }
    }
    // Other platforms keep no refactor log.
    let sqlite = render(&p, &Sqlite);
    let record = sqlite
        .batches
        .iter()
        .find(|b| b.step == Some(StepKind::RecordRefactorLog))
        .unwrap();
    assert!(record.statements.is_empty());
    // Without the refactor log, no record step; keys that are not GUIDs are not recorded.
    let p = plan_for(
        &SqlServer,
        &diff,
        &current,
        &desired,
        &PlanOptions::default(),
    );
    assert!(
        p.steps
            .iter()
            .all(|s| s.kind != StepKind::RecordRefactorLog)
    );
    let mut step = crate::plan::Step::new(StepKind::RecordRefactorLog, "RefactorLog", name(&["x"]));
    step.refactor_keys = vec!["not-a-guid".into()];
    let mut out = Vec::new();
    SqlServer.render_step(&step, &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn default_of_an_added_column_is_added_once() {
    let t = name(&["dbo", "items"]);
    let current = one_table("Sql160", &t, &[("id", "int", true)]);
    let default = Element::new(kind::DEFAULT)
        .with(
            "DefaultExpressionScript",
            crate::model::Value::Text("1".into()),
        )
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(t.clone()))
        .with_ref(kind::rel::FOR_COLUMN, Reference::to(t.child("flag")));
    let desired = model(
        "Sql160",
        vec![
            table(
                &t,
                vec![
                    column(&t, "id", "int", true),
                    column(&t, "flag", "bit", false),
                ],
            ),
            default,
        ],
    );
    let (p, text) = script(&SqlServer, &current, &desired);
    let kinds = step_kinds(&p);
    assert_eq!(kinds, vec![StepKind::AlterTable], "{text}");
    assert_eq!(text.matches("DEFAULT 1").count(), 1, "{text}");
}

#[test]
fn columnstore_index_is_created_and_dropped_as_an_index() {
    let t = name(&["dbo", "v"]);
    let base = table(
        &t,
        vec![column(&t, "a", "int", true), column(&t, "b", "int", true)],
    );
    let index = Element::new(kind::COLUMN_STORE_INDEX)
        .named(t.child("cs"))
        .with_child(
            kind::rel::COLUMN_SPECIFICATIONS,
            Element::new(kind::INDEXED_COLUMN)
                .with_ref(kind::rel::COLUMN, Reference::to(t.child("a"))),
        )
        .with_child(
            kind::rel::COLUMN_SPECIFICATIONS,
            Element::new(kind::INDEXED_COLUMN)
                .with_ref(kind::rel::COLUMN, Reference::to(t.child("b"))),
        )
        .with_ref(kind::rel::INDEXED_OBJECT, Reference::to(t.clone()));
    let without = model("Sql160", vec![base.clone()]);
    let with = model("Sql160", vec![base, index]);
    let (p, text) = script(&SqlServer, &without, &with);
    assert_eq!(p.steps[0].kind, StepKind::CreateIndex, "{text}");
    assert!(
        text.contains("CREATE NONCLUSTERED COLUMNSTORE INDEX [cs] ON [dbo].[v] ([a], [b])"),
        "{text}"
    );
    let (p, text) = script(&SqlServer, &with, &without);
    assert_eq!(p.steps[0].kind, StepKind::DropIndex, "{text}");
    assert!(text.contains("DROP INDEX [cs] ON [dbo].[v]"), "{text}");
}

#[test]
fn foreign_keys_of_dropped_postgres_tables_are_dropped_first() {
    let p = name(&["public", "p"]);
    let c = name(&["public", "c"]);
    let fk = Element::new(kind::FOREIGN_KEY)
        .named(name(&["public", "c_p_fkey"]))
        .with_ref(kind::rel::COLUMNS, Reference::to(c.child("p")))
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(c.clone()))
        .with_ref(kind::rel::FOREIGN_TABLE, Reference::to(p.clone()));
    let current = model(
        "postgres",
        vec![
            table(&p, vec![column(&p, "id", "integer", false)]),
            table(&c, vec![column(&c, "p", "integer", true)]),
            fk,
        ],
    );
    let desired = model("postgres", vec![]);
    let options = CompareOptions {
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    let plan = plan_for(
        &Postgres,
        &diff,
        &current,
        &desired,
        &PlanOptions::default(),
    );
    let kinds = step_kinds(&plan);
    assert_eq!(
        kinds,
        vec![
            StepKind::DropForeignKey,
            StepKind::DropTable,
            StepKind::DropTable
        ]
    );
}

#[test]
fn inheriting_tables_are_created_after_their_parents() {
    let parent = name(&["public", "z_base"]);
    let child = name(&["public", "a_child"]);
    let child_table = table(&child, vec![column(&child, "x", "integer", true)])
        .with_text(prop::INHERITS, parent.to_string());
    let desired = model(
        "postgres",
        vec![
            child_table,
            table(&parent, vec![column(&parent, "id", "integer", true)]),
        ],
    );
    let (plan, _) = script(&Postgres, &model("postgres", vec![]), &desired);
    let names: Vec<String> = plan.steps.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, vec![parent.to_string(), child.to_string()]);
}

#[test]
fn indexes_on_new_views_come_after_the_views() {
    let v = name(&["public", "mv"]);
    let view = Element::new(kind::VIEW)
        .named(v.clone())
        .with_script(prop::QUERY_SCRIPT, "SELECT 1 AS id")
        .with_bool(prop::IS_MATERIALIZED, true);
    let index = Element::new(kind::INDEX)
        .named(v.child("mv_id"))
        .with_child(
            kind::rel::COLUMN_SPECIFICATIONS,
            Element::new(kind::INDEXED_COLUMN)
                .with_ref(kind::rel::COLUMN, Reference::to(v.child("id"))),
        )
        .with_ref(kind::rel::INDEXED_OBJECT, Reference::to(v.clone()));
    let desired = model("postgres", vec![view, index]);
    let (plan, _) = script(&Postgres, &model("postgres", vec![]), &desired);
    let kinds = step_kinds(&plan);
    assert_eq!(
        kinds,
        vec![StepKind::CreateProgrammable, StepKind::CreateIndex]
    );
}

#[test]
fn smart_defaults_fill_new_not_null_columns_for_existing_rows() {
    for (dsp, dialect, schema, expect) in [
        (
            "Sql160",
            &SqlServer as &dyn Dialect,
            "dbo",
            vec![
                "ALTER TABLE [dbo].[T] ADD [n] INT CONSTRAINT [DF_dac_smart_T_n] DEFAULT 0 NOT NULL",
                "ALTER TABLE [dbo].[T] DROP CONSTRAINT [DF_dac_smart_T_n]",
            ],
        ),
        (
            "postgres",
            &Postgres,
            "public",
            vec![
                "ALTER TABLE \"public\".\"T\" ADD \"n\" int NOT NULL DEFAULT 0",
                "ALTER TABLE \"public\".\"T\" ALTER COLUMN \"n\" DROP DEFAULT",
            ],
        ),
        (
            "sqlite",
            &Sqlite,
            "main",
            vec!["INSERT INTO \"_dac_new_T\" (\"id\", \"n\") SELECT \"id\", 0 FROM \"T\""],
        ),
    ] {
        let t = name(&[schema, "T"]);
        let current = one_table(dsp, &t, &[("id", "int", false)]);
        let desired = one_table(dsp, &t, &[("id", "int", false), ("n", "int", false)]);
        let diff = compare(&current, &desired, &CompareOptions::default());
        let without = plan_for(dialect, &diff, &current, &desired, &PlanOptions::default());
        assert!(
            without
                .hazards
                .iter()
                .any(|h| h.kind == HazardKind::NotNullWithoutDefault),
            "{dsp}"
        );
        let options = PlanOptions {
            smart_defaults: true,
            ..PlanOptions::default()
        };
        let with = plan_for(dialect, &diff, &current, &desired, &options);
        assert!(
            !with
                .hazards
                .iter()
                .any(|h| h.kind == HazardKind::NotNullWithoutDefault),
            "{dsp}: {:?}",
            with.hazards
        );
        let text = render(&with, dialect).text(dialect);
        let mut last = 0;
        for statement in &expect {
            let at = text[last..]
                .find(statement)
                .unwrap_or_else(|| panic!("{dsp}: missing or out of order {statement}:\n{text}"));
            last += at + statement.len();
        }
    }
}

/// A column becoming NOT NULL over rows that hold NULL: without smart defaults a data-loss
/// hazard (the server would refuse the change); with them, the NULLs are filled first.
#[test]
fn smart_defaults_fill_nulls_before_a_column_becomes_not_null() {
    for (dsp, dialect, schema, expect) in [
        (
            "Sql160",
            &SqlServer as &dyn Dialect,
            "dbo",
            vec![
                "UPDATE [dbo].[T] SET [n] = '' WHERE [n] IS NULL",
                "ALTER TABLE [dbo].[T] ALTER COLUMN [n] NVARCHAR NOT NULL",
            ],
        ),
        (
            "postgres",
            &Postgres,
            "public",
            vec![
                "UPDATE \"public\".\"T\" SET \"n\" = '' WHERE \"n\" IS NULL",
                "ALTER TABLE \"public\".\"T\" ALTER COLUMN \"n\" SET NOT NULL",
            ],
        ),
    ] {
        let t = name(&[schema, "T"]);
        let ty = if dsp == "postgres" {
            "text"
        } else {
            "nvarchar"
        };
        let current = one_table(dsp, &t, &[("id", "int", false), ("n", ty, true)]);
        let desired = one_table(dsp, &t, &[("id", "int", false), ("n", ty, false)]);
        let diff = compare(&current, &desired, &CompareOptions::default());
        let without = plan_for(dialect, &diff, &current, &desired, &PlanOptions::default());
        assert!(
            without
                .hazards
                .iter()
                .any(|h| h.kind == HazardKind::NotNullWithoutDefault),
            "{dsp}"
        );
        assert!(!render(&without, dialect).text(dialect).contains("UPDATE"));
        let options = PlanOptions {
            smart_defaults: true,
            ..PlanOptions::default()
        };
        let with = plan_for(dialect, &diff, &current, &desired, &options);
        // Nothing can fail on the rows; making the column NOT NULL still reads them all.
        assert!(
            with.hazards.iter().all(|h| h.kind == HazardKind::TableScan),
            "{dsp}: {:?}",
            with.hazards
        );
        let text = render(&with, dialect).text(dialect);
        let mut last = 0;
        for statement in &expect {
            let at = text[last..]
                .find(statement)
                .unwrap_or_else(|| panic!("{dsp}: missing or out of order {statement}:\n{text}"));
            last += at + statement.len();
        }
    }
}

#[test]
fn rebuilds_refresh_the_views_and_foreign_keys_around_them() {
    let t = name(&["dbo", "T"]);
    let u = name(&["dbo", "U"]);
    let w = name(&["dbo", "W"]);
    let foreign_key = |fk: &str, from: &ObjectName, to: &ObjectName| {
        Element::new(kind::FOREIGN_KEY)
            .named(name(&["dbo", fk]))
            .with_ref(kind::rel::COLUMNS, Reference::to(from.child("t")))
            .with_ref(kind::rel::DEFINING_TABLE, Reference::to(from.clone()))
            .with_ref(kind::rel::FOREIGN_COLUMNS, Reference::to(to.child("a")))
            .with_ref(kind::rel::FOREIGN_TABLE, Reference::to(to.clone()))
    };
    let models = |columns: [&str; 2]| {
        model(
            "Sql160",
            vec![
                table(
                    &t,
                    columns
                        .iter()
                        .map(|c| column(&t, c, "int", *c == "b"))
                        .collect(),
                ),
                primary_key(&t, "PK_T", "a"),
                table(&u, vec![column(&u, "t", "int", true)]),
                table(&w, vec![column(&w, "a", "int", false)]),
                primary_key(&w, "PK_W", "a"),
                foreign_key("FK_U_T", &u, &t),
                foreign_key("FK_U_W", &u, &w),
                Element::new(kind::VIEW)
                    .named(name(&["dbo", "V"]))
                    .with_script(prop::QUERY_SCRIPT, "SELECT a FROM [dbo].[T]"),
                Element::new(kind::VIEW)
                    .named(name(&["dbo", "X"]))
                    .with_script(prop::QUERY_SCRIPT, "SELECT a FROM [dbo].[W]"),
            ],
        )
    };
    // A new column order rebuilds T; U, W and the views stay as they are.
    let (plan, _) = script(&SqlServer, &models(["a", "b"]), &models(["b", "a"]));
    let around = |what: &str| -> Vec<(StepKind, String)> {
        plan.steps
            .iter()
            .filter(|s| s.reason.as_deref() == Some(what))
            .map(|s| (s.kind, s.name.to_string()))
            .collect()
    };
    let views = around("refreshed around the rebuild of [dbo].[T]");
    assert_eq!(views.len(), 2, "{views:?}");
    assert!(views.iter().all(|(_, n)| n == "[dbo].[V]"), "{views:?}");
    let keys = around("re-added around the rebuild of [dbo].[T]");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|(_, n)| n == "[dbo].[FK_U_T]"), "{keys:?}");
}

#[test]
fn sqlserver_creates_synonyms_with_every_part_and_users_for_logins() {
    let synonym = Element::new(kind::SYNONYM)
        .named(ObjectName::new(["dbo", "Remote"]))
        .with_script(prop::FOR_OBJECT_SCRIPT, "[Srv].[OtherDB].[dbo].[T]")
        .with_ref(
            "ForObject",
            Reference::external(ObjectName::new(["Srv", "OtherDB", "dbo", "T"])),
        );
    assert_eq!(
        SqlServer.create_other(&synonym),
        vec!["CREATE SYNONYM [dbo].[Remote] FOR [Srv].[OtherDB].[dbo].[T]"]
    );
    let user = Element::new(kind::USER)
        .named(ObjectName::new(["app"]))
        .with_ref("Login", Reference::external(ObjectName::new(["app_login"])))
        .with_ref("DefaultSchema", Reference::to(ObjectName::new(["Sales"])));
    assert_eq!(
        SqlServer.create_other(&user),
        vec!["CREATE USER [app] FOR LOGIN [app_login] WITH DEFAULT_SCHEMA = [Sales]"]
    );
    let without = Element::new(kind::USER)
        .named(ObjectName::new(["svc"]))
        .with_bool(prop::IS_WITHOUT_LOGIN, true);
    assert_eq!(
        SqlServer.create_other(&without),
        vec!["CREATE USER [svc] WITHOUT LOGIN"]
    );
}

#[test]
fn sqlserver_columns_of_equal_types_are_not_altered_when_their_table_changes() {
    let tsql = |sql: &str| {
        crate::source::build_tsql_text(
            sql,
            std::path::Path::new("t.sql"),
            &Dsp::default_sqlserver(),
        )
        .unwrap()
    };
    let current = tsql("CREATE TABLE dbo.T (a DATETIME2 NOT NULL, b DECIMAL NULL)");
    let desired =
        tsql("CREATE TABLE dbo.T (a DATETIME2(7) NOT NULL, b DECIMAL(18,0) NULL, c INT NULL)");
    let (plan, text) = script(&SqlServer, &current, &desired);
    assert_eq!(step_kinds(&plan), vec![StepKind::AlterTable], "{text}");
    assert!(!text.contains("ALTER COLUMN"), "{text}");
    assert!(text.contains("ADD [c] INT NULL"), "{text}");
    assert!(plan.hazards.is_empty(), "{:?}", plan.hazards);
}

#[test]
fn sqlserver_drops_unnamed_constraints_through_a_statement_variable() {
    let t = ObjectName::new(["dbo", "Author"]);
    let unnamed_default = Element::new(kind::DEFAULT)
        .with_script(prop::DEFAULT_EXPRESSION_SCRIPT, "(0)")
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(t.clone()))
        .with_ref(kind::rel::FOR_COLUMN, Reference::to(t.child("Age")));
    let unnamed_key = Element::new(kind::PRIMARY_KEY)
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(t.clone()));
    for constraint in [unnamed_default, unnamed_key] {
        let statements = SqlServer.drop_constraint(&constraint);
        assert_eq!(statements.len(), 1);
        let sql = &statements[0];
        // EXECUTE (...) takes only literals and variables: no function call inside it.
        assert!(!sql.contains("EXECUTE ("), "{sql}");
        assert!(
            sql.contains("SET @statement = N'ALTER TABLE [dbo].[Author] DROP CONSTRAINT ' + QUOTENAME(@name);"),
            "{sql}"
        );
        assert!(sql.contains("EXECUTE sp_executesql @statement;"), "{sql}");
        crate::source::tsql::check::check_statement(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }
}

#[test]
fn sqlserver_finds_an_unnamed_check_by_the_expression_sql_server_stores() {
    let t = ObjectName::new(["dbo", "Lines"]);
    let check = Element::new(kind::CHECK)
        .with_script(prop::CHECK_EXPRESSION_SCRIPT, "Qty > 0")
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(t));
    let sql = &SqlServer.drop_constraint(&check)[0];
    // The server stores `([Qty]>(0))`: compared without spaces, brackets and parentheses.
    assert!(sql.contains("AND is_system_named = 1"), "{sql}");
    assert!(sql.contains("= N'qty>0'"), "{sql}");
    assert!(
        sql.contains("LOWER(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(definition, N' ', N''), CHAR(9), N''), CHAR(10), N''), CHAR(13), N''), N'(', N''), N')', N''), N'[', N''), N']', N''))"),
        "{sql}"
    );
    crate::source::tsql::check::check_statement(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
}
