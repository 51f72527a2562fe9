//! The renderings of `dac info`, `dac compare` and `dac drift-report`, pinned on small models
//! made with the builders.

use std::path::Path;

use super::{CompareReport, DriftReport, InfoReport};
use crate::compare::{self, CompareOptions, Diff};
use crate::model::build::testing::{column, name, table_rename};
use crate::model::kind::prop;
use crate::model::refactor::RefactorLog;
use crate::model::{Dsp, Element, Model, Reference, kind};
use crate::package::{DacMetadata, Origin, Package};
use crate::registry::Registration;

fn table(parts: &[&str], columns: &[(&str, &str)]) -> Element {
    let table = name(parts);
    let mut el = Element::new(kind::TABLE).named(table.clone());
    for (col, ty) in columns {
        el.push_child(kind::rel::COLUMNS, column(&table, col, ty, true));
    }
    el.with_ref(kind::rel::SCHEMA, Reference::built_in(name(&parts[..1])))
}

fn procedure(body: &str) -> Element {
    Element::new(kind::PROCEDURE)
        .named(name(&["dbo", "Totals"]))
        .with_script(prop::BODY_SCRIPT, body)
}

fn model(elements: Vec<Element>) -> Model {
    let mut m = Model::empty(Dsp::default_sqlserver());
    m.elements = elements;
    m
}

/// Accounts altered (a column's type), Ledger renamed to Journal, Audit created, Totals'
/// body changed, Legacy only in the current schema (kept, or dropped when `drop` is set).
fn diff(drop: bool) -> Diff {
    let current = model(vec![
        table(&["dbo", "Accounts"], &[("id", "int"), ("balance", "int")]),
        table(&["dbo", "Ledger"], &[("id", "int")]),
        table(&["dbo", "Legacy"], &[]),
        procedure("BEGIN\n  SELECT 1\nEND\n"),
    ]);
    let desired = model(vec![
        table(
            &["dbo", "Accounts"],
            &[("id", "int"), ("balance", "bigint")],
        ),
        table(&["dbo", "Audit"], &[("at", "datetime2")]),
        table(&["dbo", "Journal"], &[("id", "int")]),
        procedure("BEGIN\n  SELECT 2\nEND\n"),
    ]);
    let options = CompareOptions {
        drop_objects_not_in_source: drop,
        renames: vec![table_rename(&["dbo", "Ledger"], &["dbo", "Journal"])],
        ..CompareOptions::default()
    };
    compare::compare(&current, &desired, &options)
}

fn no_diff() -> Diff {
    let m = model(vec![table(&["dbo", "Accounts"], &[("id", "int")])]);
    compare::compare(&m, &m, &CompareOptions::default())
}

fn registration() -> Registration {
    Registration {
        name: "finance".into(),
        version: "1.2.0".into(),
        definition: Vec::new(),
        model_hash: "AB".into(),
        registered_by: "ops".into(),
        registered_at: "2026-01-02T03:04:05Z".into(),
    }
}

fn package() -> Package {
    let mut model = model(vec![
        table(&["dbo", "Accounts"], &[("id", "int")]),
        table(&["dbo", "Audit"], &[]),
        Element::new("SqlXmlIndex").named(name(&["dbo", "Accounts", "ix_doc"])),
    ]);
    model.collation_case_sensitive = true;
    Package {
        metadata: Some(DacMetadata {
            name: "finance".into(),
            version: "1.2.0".into(),
            description: None,
        }),
        origin: Some(Origin {
            product_name: "dac, Version=0.1.0".into(),
            product_version: "0.1.0".into(),
            ..Origin::default()
        }),
        model,
        predeploy: Some("SELECT 1;".into()),
        postdeploy: None,
        refactor_log: Some(RefactorLog {
            version: "1.0".into(),
            operations: Vec::new(),
        }),
    }
}

fn info() -> InfoReport {
    InfoReport::of(&package(), Path::new("finance.dacpac"))
}

#[test]
fn info_text_lists_particulars_then_counts_with_opaque_kinds_marked() {
    assert_eq!(
        info().text(),
        "\
package   finance.dacpac
name      finance
version   1.2.0
platform  sqlserver (Sql160)
producer  dac, Version=0.1.0 (0.1.0)
scripts   predeploy: yes, postdeploy: no, refactor operations: 0
elements  3 top-level
       2  SqlTable
       1  SqlXmlIndex  (opaque)
1 opaque objects are kept and compared by definition, not modelled
"
    );
}

#[test]
fn info_json_has_sorted_keys_and_a_final_newline() {
    assert_eq!(
        info().json(),
        r#"{
  "collation_case_sensitive": true,
  "dsp": "Sql160",
  "dsp_name": "Microsoft.Data.Tools.Schema.Sql.Sql160DatabaseSchemaProvider",
  "elements": {
    "SqlTable": 2,
    "SqlXmlIndex": 1
  },
  "format_version": 1,
  "name": "finance",
  "opaque": {
    "SqlXmlIndex": 1
  },
  "platform": "sqlserver",
  "producer": "dac, Version=0.1.0 0.1.0",
  "refactor_operations": 0,
  "schema_version": "2.9",
  "scripts": {
    "postdeploy": false,
    "predeploy": true
  },
  "version": "1.2.0"
}
"#
    );
}

#[test]
fn info_of_a_package_without_metadata_origin_or_opaque_objects() {
    let mut bare = package();
    bare.metadata = None;
    bare.origin = None;
    bare.model.elements.pop();
    let report = InfoReport::of(&bare, Path::new("bare.dacpac"));
    assert_eq!(
        report.text(),
        "\
package   bare.dacpac
name      (no DacMetadata.xml)
version   -
platform  sqlserver (Sql160)
scripts   predeploy: yes, postdeploy: no, refactor operations: 0
elements  2 top-level
       2  SqlTable
"
    );
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["name"], serde_json::Value::Null);
    assert_eq!(json["version"], serde_json::Value::Null);
    assert_eq!(json["producer"], serde_json::Value::Null);
    assert!(json["opaque"].as_object().unwrap().is_empty());
}

#[test]
fn compare_text_shows_details_body_diffs_and_renames() {
    let diff = diff(false);
    assert_eq!(
        CompareReport::of("v1.dacpac", "v2.dacpac", &diff).text(),
        "\
alter   SqlProcedure                     [dbo].[Totals]
        BodyScript:
          --- current
          +++ desired
          @@ -1,3 +1,3 @@
           BEGIN
          -  SELECT 1
          +  SELECT 2
           END
alter   SqlTable                         [dbo].[Accounts]
        Columns[balance].TypeSpecifier.Type: [int] -> [bigint]
create  SqlTable                         [dbo].[Audit]
rename  SqlTable                         [dbo].[Journal] (from [dbo].[Ledger])
keep    SqlTable                         [dbo].[Legacy]
"
    );
}

/// The markdown table of the five objects `diff` changes, in report order: `change_column`
/// heads the column of `changes`, the word the report gives each object's change.
fn markdown_table(change_column: &str, changes: [&str; 5]) -> String {
    let objects = [
        ("SqlProcedure", "[dbo].[Totals]"),
        ("SqlTable", "[dbo].[Accounts]"),
        ("SqlTable", "[dbo].[Audit]"),
        ("SqlTable", "[dbo].[Journal]"),
        ("SqlTable", "[dbo].[Legacy]"),
    ];
    let rows = changes
        .iter()
        .zip(objects)
        .map(|(change, (kind, name))| format!("| {change} | {kind} | `{name}` |\n"));
    format!("| {change_column} | type | object |\n|---|---|---|\n") + &rows.collect::<String>()
}

/// The JSON of Totals' altered body and Accounts' altered column type: two entries of an array
/// of changes, as both the compare and the drift reports list them.
macro_rules! altered_totals_and_accounts_json {
    () => {
        r#"    {
      "action": "alter",
      "details": [
        {
          "current": "BEGIN\n  SELECT 1\nEND\n",
          "desired": "BEGIN\n  SELECT 2\nEND\n",
          "diff": "--- current\n+++ desired\n@@ -1,3 +1,3 @@\n BEGIN\n-  SELECT 1\n+  SELECT 2\n END\n",
          "path": "BodyScript"
        }
      ],
      "name": "[dbo].[Totals]",
      "type": "SqlProcedure"
    },
    {
      "action": "alter",
      "details": [
        {
          "current": "[int]",
          "desired": "[bigint]",
          "path": "Columns[balance].TypeSpecifier.Type"
        }
      ],
      "name": "[dbo].[Accounts]",
      "type": "SqlTable"
    },"#
    };
}

/// The JSON of Ledger renamed to Journal, an entry of an array of changes.
macro_rules! renamed_journal_json {
    () => {
        r#"    {
      "action": "rename",
      "details": [],
      "name": "[dbo].[Journal]",
      "renamed_from": "[dbo].[Ledger]",
      "type": "SqlTable"
    }"#
    };
}

#[test]
fn compare_json_counts_differences_and_lists_every_change() {
    let diff = diff(false);
    assert_eq!(
        CompareReport::of("v1.dacpac", "v2.dacpac", &diff).json(),
        concat!(
            r#"{
  "changes": [
"#,
            altered_totals_and_accounts_json!(),
            r#"
    {
      "action": "create",
      "details": [],
      "name": "[dbo].[Audit]",
      "type": "SqlTable"
    },
"#,
            renamed_journal_json!(),
            r#",
    {
      "action": "keep",
      "details": [],
      "name": "[dbo].[Legacy]",
      "type": "SqlTable"
    }
  ],
  "current": "v1.dacpac",
  "desired": "v2.dacpac",
  "differences": 4,
  "format_version": 1
}
"#
        )
    );
}

#[test]
fn compare_markdown_is_a_count_and_a_table() {
    let diff = diff(false);
    assert_eq!(
        CompareReport::of("v1.dacpac", "v2.dacpac", &diff).markdown(),
        "\
## Schema comparison

`v1.dacpac` → `v2.dacpac`: 4 differences.

"
        .to_string()
            + &markdown_table("action", ["alter", "alter", "create", "rename", "keep"])
    );
}

#[test]
fn compare_of_equal_schemas() {
    let diff = no_diff();
    let report = CompareReport::of("v1.dacpac", "v1.dacpac", &diff);
    assert_eq!(report.text(), "no differences\n");
    assert_eq!(
        report.json(),
        r#"{
  "changes": [],
  "current": "v1.dacpac",
  "desired": "v1.dacpac",
  "differences": 0,
  "format_version": 1
}
"#
    );
    assert_eq!(
        report.markdown(),
        "## Schema comparison\n\n`v1.dacpac` → `v1.dacpac`: 0 differences.\n\n"
    );
}

#[test]
fn drift_xml_sorts_changes_into_additions_removals_and_modifications() {
    let (registration, diff) = (registration(), diff(true));
    let report = DriftReport::of("sqlite:fin.db", &registration, &diff);
    assert!(report.drifted());
    assert_eq!(
        report.xml(),
        r#"<?xml version="1.0" encoding="utf-8"?>
<DriftReport xmlns="http://schemas.microsoft.com/sqlserver/dac/DriftReport/2012/02">
  <Additions>
    <Object Name="[dbo].[Audit]" Parent="[dbo]" Type="SqlTable" />
  </Additions>
  <Removals>
    <Object Name="[dbo].[Legacy]" Parent="[dbo]" Type="SqlTable" />
  </Removals>
  <Modifications>
    <Object Name="[dbo].[Totals]" Parent="[dbo]" Type="SqlProcedure" />
    <Object Name="[dbo].[Accounts]" Parent="[dbo]" Type="SqlTable" />
    <Object Name="[dbo].[Journal]" Parent="[dbo]" Type="SqlTable" />
  </Modifications>
</DriftReport>
"#
    );
}

#[test]
fn drift_xml_escapes_names() {
    let current = model(vec![]);
    let desired = model(vec![table(&["dbo", "R&D \"<x>\""], &[])]);
    let diff = compare::compare(&current, &desired, &CompareOptions::default());
    let registration = registration();
    let xml = DriftReport::of("sqlite:fin.db", &registration, &diff).xml();
    assert!(
        xml.contains(
            r#"<Object Name="[dbo].[R&amp;D &quot;&lt;x&gt;&quot;]" Parent="[dbo]" Type="SqlTable" />"#
        ),
        "{xml}"
    );
}

#[test]
fn drift_json_has_the_registration_and_the_changes_by_section() {
    let (registration, diff) = (registration(), diff(true));
    assert_eq!(
        DriftReport::of("sqlite:fin.db", &registration, &diff).json(),
        concat!(
            r#"{
  "additions": [
    {
      "action": "create",
      "details": [],
      "name": "[dbo].[Audit]",
      "type": "SqlTable"
    }
  ],
  "drifted": true,
  "format_version": 1,
  "modifications": [
"#,
            altered_totals_and_accounts_json!(),
            "\n",
            renamed_journal_json!(),
            r#"
  ],
  "registered": {
    "name": "finance",
    "registered_at": "2026-01-02T03:04:05Z",
    "version": "1.2.0"
  },
  "removals": [
    {
      "action": "drop",
      "details": [],
      "name": "[dbo].[Legacy]",
      "type": "SqlTable"
    }
  ],
  "target": "sqlite:fin.db"
}
"#
        )
    );
}

#[test]
fn drift_text_and_markdown_list_the_changed_objects() {
    let (registration, diff) = (registration(), diff(true));
    let report = DriftReport::of("sqlite:fin.db", &registration, &diff);
    assert_eq!(
        report.text(),
        "\
sqlite:fin.db drifted from finance 1.2.0:
  ~ modified SqlProcedure [dbo].[Totals]
  ~ modified SqlTable [dbo].[Accounts]
  + added SqlTable [dbo].[Audit]
  ~ modified SqlTable [dbo].[Journal]
  - removed SqlTable [dbo].[Legacy]
"
    );
    assert_eq!(
        report.markdown(),
        "\
## Drift report

`sqlite:fin.db` against its registered definition **finance 1.2.0**: **5 objects changed outside the package.**

"
        .to_string()
            + &markdown_table("change", ["modified", "modified", "added", "modified", "removed"])
    );
}

#[test]
fn no_drift_in_every_format() {
    let (registration, diff) = (registration(), no_diff());
    let report = DriftReport::of("sqlite:fin.db", &registration, &diff);
    assert!(!report.drifted());
    assert_eq!(
        report.xml(),
        r#"<?xml version="1.0" encoding="utf-8"?>
<DriftReport xmlns="http://schemas.microsoft.com/sqlserver/dac/DriftReport/2012/02">
  <Additions />
  <Removals />
  <Modifications />
</DriftReport>
"#
    );
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["drifted"], false);
    assert_eq!(json["registered"]["version"], "1.2.0");
    assert!(json["additions"].as_array().unwrap().is_empty());
    assert_eq!(
        report.text(),
        "sqlite:fin.db: no drift from finance 1.2.0\n"
    );
    assert_eq!(
        report.markdown(),
        "## Drift report\n\n`sqlite:fin.db` against its registered definition **finance 1.2.0**: no drift.\n"
    );
}
