//! Snapshot tests of upgrade scripts for representative changes on SQL Server, SQLite and
//! PostgreSQL. Both sides of every change are built from SQL text with `source::build` on a
//! temporary folder, so the snapshots show the whole pipeline: parse, compare, plan, render.
//!
//! Snapshots live in `tests/tests/snapshots/` and are committed. A missing or changed snapshot
//! fails the test (insta does not write snapshots when `CI` is set; locally it writes `.snap.new`
//! files for review with `cargo insta review`, and the test still fails).

use dac_engine::compare::{CompareOptions, Rename, compare};
use dac_engine::dialect::{Dialect, dialect_for};
use dac_engine::model::{Dsp, Model, ObjectName, Platform};
use dac_engine::plan::{self, PlanOptions};
use dac_engine::script;
use dac_engine::source::{BuildOptions, build};

const PLATFORMS: [Platform; 3] = [Platform::SqlServer, Platform::Sqlite, Platform::Postgres];

/// Builds a model from SQL text; `{s}` stands for the platform's default schema prefix and
/// `{go}` for a batch separator (`GO` on SQL Server, where `CREATE VIEW` starts a batch).
fn model(platform: Platform, sql: &str) -> Model {
    let dir = tempfile::tempdir().unwrap();
    let prefix = match platform {
        Platform::SqlServer => "dbo.",
        Platform::Sqlite => "",
        Platform::Postgres => "public.",
    };
    let go = if platform == Platform::SqlServer {
        "GO"
    } else {
        ""
    };
    let sql = sql.replace("{s}", prefix).replace("{go}", go);
    std::fs::write(dir.path().join("schema.sql"), &sql).unwrap();
    let options = BuildOptions {
        platform: Dsp::from_short_name(platform.as_str()),
        name: Some("snap".into()),
        ..BuildOptions::default()
    };
    build(dir.path(), &options)
        .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", platform.as_str()))
        .model
}

/// Operations, hazards and the script of one change on one platform.
fn render(platform: Platform, current: &str, desired: &str, renames: &[(&str, &str)]) -> String {
    let current = model(platform, current);
    let desired = model(platform, desired);
    let dialect: &dyn Dialect = dialect_for(platform);
    let caps = dialect.capabilities();
    let schema = match platform {
        Platform::SqlServer => "dbo",
        Platform::Sqlite => "main",
        Platform::Postgres => "public",
    };
    let name = |table: &str| ObjectName::new([schema, table]);
    let options = CompareOptions {
        ignore_column_order: !caps.column_order_significant,
        // Show drops (views, foreign keys) rather than keeping what the project left out.
        drop_objects_not_in_source: true,
        renames: renames
            .iter()
            .map(|(from, to)| Rename {
                kind: "SqlTable".into(),
                from: name(from),
                to: name(to),
            })
            .collect(),
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    let plan = plan::plan(&diff, &current, &desired, caps, &PlanOptions::default());
    let mut out = String::new();
    for step in &plan.steps {
        out.push_str(&format!(
            "step: {} {} {}\n",
            step.kind.as_str(),
            step.object_kind,
            step.name
        ));
    }
    for hazard in &plan.hazards {
        out.push_str(&format!(
            "hazard: {} {}\n",
            hazard.kind.as_str(),
            hazard.object
        ));
    }
    out.push('\n');
    out.push_str(
        &script::render(&plan, dialect)
            .text(dialect)
            .replace(env!("CARGO_PKG_VERSION"), "[version]"),
    );
    out
}

/// One change rendered on every platform, as one snapshot.
fn snapshot(name: &str, current: &str, desired: &str, renames: &[(&str, &str)]) {
    let mut out = String::new();
    for platform in PLATFORMS {
        out.push_str(&format!("===== {}\n", platform.as_str()));
        out.push_str(&render(platform, current, desired, renames));
        out.push('\n');
    }
    insta::assert_snapshot!(name, out);
}

const ITEMS: &str = "CREATE TABLE {s}items (
    id INT NOT NULL,
    name VARCHAR(50) NULL,
    qty INT NOT NULL
);";

fn items_with(extra: &str) -> String {
    format!("{ITEMS}\n{{go}}\n{extra}")
}

#[test]
fn create_table_with_keys_defaults_and_checks() {
    snapshot(
        "create_table",
        "",
        "CREATE TABLE {s}orders (
    id INT NOT NULL,
    code VARCHAR(20) NOT NULL,
    qty INT NOT NULL DEFAULT 1,
    price DECIMAL(10, 2) NULL,
    CONSTRAINT pk_orders PRIMARY KEY (id),
    CONSTRAINT uq_orders_code UNIQUE (code),
    CONSTRAINT ck_orders_qty CHECK (qty > 0)
);",
        &[],
    );
}

#[test]
fn add_nullable_column() {
    snapshot(
        "add_nullable_column",
        ITEMS,
        "CREATE TABLE {s}items (
    id INT NOT NULL,
    name VARCHAR(50) NULL,
    qty INT NOT NULL,
    note VARCHAR(200) NULL
);",
        &[],
    );
}

#[test]
fn add_not_null_column_with_default() {
    snapshot(
        "add_not_null_column_with_default",
        ITEMS,
        "CREATE TABLE {s}items (
    id INT NOT NULL,
    name VARCHAR(50) NULL,
    qty INT NOT NULL,
    status INT NOT NULL DEFAULT 0
);",
        &[],
    );
}

#[test]
fn drop_column_is_guarded() {
    snapshot(
        "drop_column",
        ITEMS,
        "CREATE TABLE {s}items (
    id INT NOT NULL,
    qty INT NOT NULL
);",
        &[],
    );
}

#[test]
fn type_widening() {
    snapshot(
        "type_widening",
        ITEMS,
        "CREATE TABLE {s}items (
    id INT NOT NULL,
    name VARCHAR(200) NULL,
    qty BIGINT NOT NULL
);",
        &[],
    );
}

#[test]
fn type_narrowing() {
    snapshot(
        "type_narrowing",
        ITEMS,
        "CREATE TABLE {s}items (
    id INT NOT NULL,
    name VARCHAR(10) NULL,
    qty SMALLINT NOT NULL
);",
        &[],
    );
}

#[test]
fn nullability_change() {
    snapshot(
        "nullability_change",
        ITEMS,
        "CREATE TABLE {s}items (
    id INT NOT NULL,
    name VARCHAR(50) NOT NULL,
    qty INT NULL
);",
        &[],
    );
}

const INDEXES: &str = "CREATE UNIQUE INDEX ix_items_name ON {s}items (name);
CREATE INDEX ix_items_qty_filtered ON {s}items (qty) WHERE qty > 0;
CREATE INDEX ix_items_id_desc ON {s}items (id DESC, qty);";

#[test]
fn add_indexes() {
    snapshot("add_indexes", ITEMS, &items_with(INDEXES), &[]);
}

#[test]
fn drop_indexes() {
    snapshot("drop_indexes", &items_with(INDEXES), ITEMS, &[]);
}

const PARENT: &str = "CREATE TABLE {s}parents (
    id INT NOT NULL,
    CONSTRAINT pk_parents PRIMARY KEY (id)
);
CREATE TABLE {s}children (
    id INT NOT NULL,
    parent_id INT NULL,
    CONSTRAINT pk_children PRIMARY KEY (id)
);";

const CHILD_FK: &str = "CREATE TABLE {s}parents (
    id INT NOT NULL,
    CONSTRAINT pk_parents PRIMARY KEY (id)
);
CREATE TABLE {s}children (
    id INT NOT NULL,
    parent_id INT NULL,
    CONSTRAINT pk_children PRIMARY KEY (id),
    CONSTRAINT fk_children_parents FOREIGN KEY (parent_id) REFERENCES {s}parents (id) ON DELETE CASCADE
);";

#[test]
fn add_foreign_key() {
    snapshot("add_foreign_key", PARENT, CHILD_FK, &[]);
}

#[test]
fn drop_foreign_key() {
    snapshot("drop_foreign_key", CHILD_FK, PARENT, &[]);
}

const VIEW_V1: &str = "CREATE VIEW {s}big_items AS SELECT id, qty FROM {s}items WHERE qty > 10;";
const VIEW_V2: &str =
    "CREATE VIEW {s}big_items AS SELECT id, name, qty FROM {s}items WHERE qty > 100;";

#[test]
fn create_view() {
    snapshot("create_view", ITEMS, &items_with(VIEW_V1), &[]);
}

#[test]
fn alter_view() {
    snapshot(
        "alter_view",
        &items_with(VIEW_V1),
        &items_with(VIEW_V2),
        &[],
    );
}

#[test]
fn drop_view() {
    snapshot("drop_view", &items_with(VIEW_V1), ITEMS, &[]);
}

/// SQL Server rebuilds on a new column order; SQLite rebuilds for any column type change;
/// PostgreSQL does not compare column order.
#[test]
fn table_rebuild() {
    snapshot(
        "table_rebuild",
        &items_with("CREATE INDEX ix_items_qty ON {s}items (qty);"),
        "CREATE TABLE {s}items (
    qty INT NOT NULL,
    id INT NOT NULL,
    name VARCHAR(80) NULL
);
CREATE INDEX ix_items_qty ON {s}items (qty);",
        &[],
    );
}

#[test]
fn rename_table() {
    snapshot(
        "rename_table",
        ITEMS,
        "CREATE TABLE {s}products (
    id INT NOT NULL,
    name VARCHAR(50) NULL,
    qty INT NOT NULL
);",
        &[("items", "products")],
    );
}

/// Names holding `]`, `"`, `'` and `;` are quoted by each dialect.
#[test]
fn hostile_names() {
    let mut out = String::new();
    for platform in PLATFORMS {
        let (table, column, extra) = match platform {
            Platform::SqlServer => ("[dbo].[we]]ird\"na'me;x]", "[c]]ol\"x'y;z]", "[n]]e\"w';]"),
            _ => (
                "\"we]ird\"\"na'me;x\"",
                "\"c]ol\"\"x'y;z\"",
                "\"n]e\"\"w';\"",
            ),
        };
        let current = format!("CREATE TABLE {table} ({column} INT NOT NULL);");
        let desired = format!(
            "CREATE TABLE {table} ({column} INT NOT NULL, {extra} VARCHAR(10) NULL);\nCREATE INDEX {extra} ON {table} ({extra});"
        );
        out.push_str(&format!("===== {}\n", platform.as_str()));
        out.push_str(&render(platform, "", &current, &[]));
        out.push_str(&render(platform, &current, &desired, &[]));
        out.push('\n');
    }
    insta::assert_snapshot!("hostile_names", out);
}

/// SQL Server objects written from their model properties (not from kept text), created and
/// then changed: a memory-optimized table type with a hash index, a table type with a check and
/// a default, an alias type, a role member, a permission, extended properties on a table, a
/// column and a constraint. The change updates one property in place
/// (`sp_updateextendedproperty`), drops another, revokes the permission and drops the member.
#[test]
fn sqlserver_types_properties_permissions_and_members() {
    let desired = "CREATE TYPE dbo.Code FROM nvarchar(10) NOT NULL
GO
CREATE TYPE dbo.Ids AS TABLE (
    id INT NOT NULL,
    INDEX ix_id NONCLUSTERED HASH (id) WITH (BUCKET_COUNT = 64)
) WITH (MEMORY_OPTIMIZED = ON)
GO
CREATE TYPE dbo.Lines AS TABLE (
    line INT NOT NULL PRIMARY KEY,
    qty INT NULL DEFAULT (1),
    note NVARCHAR(20) NULL,
    CHECK (qty > 0)
)
GO
CREATE TABLE dbo.items (id INT NOT NULL CONSTRAINT pk_items PRIMARY KEY, code dbo.Code)
GO
CREATE ROLE readers
GO
CREATE USER app WITHOUT LOGIN
GO
ALTER ROLE readers ADD MEMBER app
GO
GRANT SELECT ON dbo.items TO readers
GO
EXEC sp_addextendedproperty @name = N'MS_Description', @value = N'Items for sale', @level0type = N'SCHEMA', @level0name = N'dbo', @level1type = N'TABLE', @level1name = N'items'
GO
EXEC sp_addextendedproperty @name = N'MS_Description', @value = N'Item code', @level0type = N'SCHEMA', @level0name = N'dbo', @level1type = N'TABLE', @level1name = N'items', @level2type = N'COLUMN', @level2name = N'code'
GO
EXEC sp_addextendedproperty @name = N'MS_Description', @value = N'The key', @level0type = N'SCHEMA', @level0name = N'dbo', @level1type = N'TABLE', @level1name = N'items', @level2type = N'CONSTRAINT', @level2name = N'pk_items'
";
    let changed = "CREATE TYPE dbo.Code FROM nvarchar(10) NOT NULL
GO
CREATE TABLE dbo.items (id INT NOT NULL CONSTRAINT pk_items PRIMARY KEY, code dbo.Code)
GO
CREATE ROLE readers
GO
CREATE USER app WITHOUT LOGIN
GO
EXEC sp_addextendedproperty @name = N'MS_Description', @value = N'Items we sell', @level0type = N'SCHEMA', @level0name = N'dbo', @level1type = N'TABLE', @level1name = N'items'
GO
EXEC sp_addextendedproperty @name = N'MS_Description', @value = N'The key', @level0type = N'SCHEMA', @level0name = N'dbo', @level1type = N'TABLE', @level1name = N'items', @level2type = N'CONSTRAINT', @level2name = N'pk_items'
";
    let out = format!(
        "===== create\n{}\n===== change\n{}",
        render(Platform::SqlServer, "", desired, &[]),
        render(Platform::SqlServer, desired, changed, &[])
    );
    insta::assert_snapshot!("sqlserver_types_properties_permissions_and_members", out);
}

/// A SQL Server table rebuilt (a new column order: ALTER cannot) is a new table: the extended
/// properties of the old one and its columns go with it. Each the package gives is added again
/// after the rebuild (`sp_addextendedproperty`: the unchanged one on the table, the changed one
/// on `qty` added rather than updated, the new one on `id`), and the one the package drops (on
/// `name`) is not dropped after the table is gone. sqlfluff parses the batches
/// (`tsql_sqlfluff.rs`, the `sqlserver` section).
#[test]
fn sqlserver_properties_are_added_again_after_a_rebuild() {
    let property = |value: &str, column: Option<&str>| {
        let column = column
            .map(|c| format!(", @level2type = N'COLUMN', @level2name = N'{c}'"))
            .unwrap_or_default();
        format!(
            "EXEC sp_addextendedproperty @name = N'MS_Description', @value = N'{value}', @level0type = N'SCHEMA', @level0name = N'dbo', @level1type = N'TABLE', @level1name = N'items'{column}\nGO\n"
        )
    };
    let current = format!(
        "{ITEMS}\nGO\n{}{}{}",
        property("Items for sale", None),
        property("Display name", Some("name")),
        property("Units", Some("qty"))
    );
    let desired = format!(
        "CREATE TABLE dbo.items (
    qty INT NOT NULL,
    id INT NOT NULL,
    name VARCHAR(50) NULL
);
GO
{}{}{}",
        property("Items for sale", None),
        property("Units in stock", Some("qty")),
        property("The key", Some("id"))
    );
    let out = render(Platform::SqlServer, &current, &desired, &[]);
    assert!(
        out.contains("step: RebuildTable SqlTable [dbo].[items]"),
        "{out}"
    );
    assert!(!out.contains("sp_dropextendedproperty"), "{out}");
    assert!(!out.contains("sp_updateextendedproperty"), "{out}");
    assert_eq!(
        out.matches("EXEC sys.sp_addextendedproperty").count(),
        3,
        "{out}"
    );
    let rebuilt_at = out
        .find("CREATE TABLE [dbo].[")
        .unwrap_or_else(|| panic!("the new table: {out}"));
    let first_property = out.find("sp_addextendedproperty").expect("a property");
    assert!(
        rebuilt_at < first_property,
        "properties after the rebuild: {out}"
    );
    insta::assert_snapshot!(
        "sqlserver_properties_are_added_again_after_a_rebuild",
        format!("===== sqlserver\n{out}")
    );
}
