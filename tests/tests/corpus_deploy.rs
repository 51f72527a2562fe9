//! Every corpus package deployed from empty on SQL Server, offline: the script creates every
//! element of the package, or leaves out only what it names as uncreatable, and then a
//! deployment refuses (exit 3) unless told to leave those out. No script holds a
//! `-- dac cannot create` comment. Golden T-SQL for one package of each object kind dac writes
//! from DacFx's model properties (alias and table types, extended properties, XML schema
//! collections and indexes, permissions, users and role members).

use std::collections::BTreeMap;
use std::path::PathBuf;

use dac_engine::dialect::{Dialect, SqlServer};
use dac_engine::package::{Package, read};
use dac_engine::plan::{self, PlanOptions};
use dac_engine::script::{self, Script};

/// A corpus package's path under `corpus/dacpac`, as INVENTORY.md names it.
fn key(shared: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(shared.join("corpus/dacpac"))
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn deploy_from_empty(package: &Package) -> Script {
    let plan = plan::create_all(
        &package.model,
        SqlServer.capabilities(),
        &PlanOptions::for_package(package),
    );
    script::render(&plan, &SqlServer)
}

fn corpus() -> Option<(PathBuf, Vec<PathBuf>)> {
    let shared = dac_tests::shared_dir("corpus deploy")?;
    let files = dac_tests::corpus_dacpacs(&shared);
    assert_eq!(files.len(), 29, "corpus should hold 29 dacpacs");
    Some((shared, files))
}

#[test]
fn every_corpus_package_deploys_from_empty_or_names_what_it_cannot_create() {
    let Some((shared, files)) = corpus() else {
        return;
    };
    let (mut whole, mut refused, mut statements, mut left_out) = (0, 0, 0, 0);
    let mut left_out_kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_reason: BTreeMap<String, String> = BTreeMap::new();
    for path in &files {
        let name = key(&shared, path);
        let package = read(path, &Default::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let script = deploy_from_empty(&package);
        let text = script.text(&SqlServer);
        assert!(
            !text.contains("-- dac cannot create"),
            "{name}: a script leaves an object as a comment"
        );
        // Every step writes statements, or is named as left out.
        let empty: Vec<&str> = script
            .batches
            .iter()
            .filter(|b| b.step.is_some() && b.statements.is_empty())
            .map(|b| b.comment.as_str())
            .collect();
        assert_eq!(
            empty.len(),
            script.uncreatable.len(),
            "{name}: steps without statements that are not named as left out: {empty:?}"
        );
        statements += script.n_statements();
        match script.refuse_uncreatable(false) {
            Ok(warnings) => {
                assert!(warnings.is_empty(), "{name}");
                whole += 1;
            }
            Err(err) => {
                // Refused, exit 3, naming each object and why.
                assert!(
                    matches!(err, dac_engine::Error::Blocked { .. }),
                    "{name}: {err}"
                );
                let message = err.to_string();
                for object in &script.uncreatable {
                    assert!(
                        message.contains(&object.to_string()),
                        "{name}: the refusal does not name {object}"
                    );
                    *left_out_kinds.entry(object.kind.clone()).or_default() += 1;
                    first_reason
                        .entry(object.kind.clone())
                        .or_insert_with(|| format!("{name}: {object}"));
                }
                assert!(
                    message.contains(script::LEAVE_OUT_UNCREATABLE_FLAG),
                    "{message}"
                );
                let warnings = script.refuse_uncreatable(true).unwrap();
                assert_eq!(warnings.len(), script.uncreatable.len(), "{name}");
                left_out += script.uncreatable.len();
                refused += 1;
            }
        }
    }
    // Kinds dac writes from DacFx's properties are never left out (msdb's XML schema
    // collections are: its package holds no schema text for them).
    let kinds: Vec<&str> = left_out_kinds.keys().map(String::as_str).collect();
    for kind in [
        "SqlUserDefinedDataType",
        "SqlTableType",
        "SqlXmlIndex",
        "SqlPermissionStatement",
        "SqlDatabaseOptions",
    ] {
        assert!(
            !kinds.contains(&kind),
            "{kind} is left out: {}",
            first_reason[kind]
        );
    }
    dac_tests::summary(&format!(
        "corpus deploy (SQL Server, from empty): {whole}/{} packages scripted whole, {refused} refused naming {left_out} objects dac cannot create ({}); {statements} statements, no `-- dac cannot create` comments",
        files.len(),
        left_out_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    assert_eq!(whole + refused, files.len());
}

/// The statements of the first `limit` steps of `kind` in `script`, for a snapshot.
fn statements_of(script: &Script, kind: &str, limit: usize) -> String {
    let mut out = String::new();
    for batch in script
        .batches
        .iter()
        .filter(|b| b.comment.split(' ').nth(1) == Some(kind))
        .take(limit)
    {
        out.push_str(&format!("-- {}\n", batch.comment));
        for statement in &batch.statements {
            out.push_str(statement);
            out.push('\n');
        }
    }
    assert!(!out.is_empty(), "no {kind} step");
    out
}

fn package(shared: &std::path::Path, name: &str) -> Package {
    let path = shared.join("corpus/dacpac").join(name);
    read(&path, &Default::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn golden_tsql_of_each_object_kind_from_dacfx_properties() {
    let Some((shared, _)) = corpus() else {
        return;
    };
    let adventure_works = deploy_from_empty(&package(
        &shared,
        "ErikEJ__EFCorePowerTools/AdventureWorks.dacpac",
    ));
    let wide_world = deploy_from_empty(&package(
        &shared,
        "NowinskiK__ssdt-training/WideWorldImporters_20200807_20-39-11.dacpac",
    ));
    let northwind = deploy_from_empty(&package(
        &shared,
        "ErikEJ__EFCorePowerTools/NorthwindProcedures.dacpac",
    ));
    insta::assert_snapshot!(
        "alias_types_adventure_works",
        statements_of(&adventure_works, "SqlUserDefinedDataType", 6)
    );
    insta::assert_snapshot!(
        "table_types_wide_world_importers",
        statements_of(&wide_world, "SqlTableType", 4)
    );
    // One property per level type AdventureWorks uses (database, schema, table, column, view,
    // procedure, parameter, function, index, constraint, trigger, XML schema collection).
    let mut by_level: BTreeMap<String, String> = BTreeMap::new();
    for batch in adventure_works
        .batches
        .iter()
        .filter(|b| b.comment.split(' ').nth(1) == Some("SqlExtendedProperty"))
    {
        let Some(statement) = batch.statements.first() else {
            continue;
        };
        let levels: Vec<&str> = statement
            .split("type = N'")
            .skip(1)
            .map(|s| s.split('\'').next().unwrap_or(""))
            .collect();
        by_level
            .entry(levels.join("/"))
            .or_insert_with(|| format!("-- {}\n{statement}\n", batch.comment));
    }
    insta::assert_snapshot!(
        "extended_properties_adventure_works",
        by_level.into_values().collect::<String>()
    );
    insta::assert_snapshot!(
        "xml_indexes_adventure_works",
        statements_of(&adventure_works, "SqlXmlIndex", 5)
    );
    // The smallest schema collection AdventureWorks has, whole.
    let smallest = adventure_works
        .batches
        .iter()
        .filter(|b| b.comment.split(' ').nth(1) == Some("SqlXmlSchemaCollection"))
        .min_by_key(|b| b.statements.iter().map(String::len).sum::<usize>())
        .expect("AdventureWorks has XML schema collections");
    insta::assert_snapshot!(
        "xml_schema_collection_adventure_works",
        format!(
            "-- {}\n{}",
            smallest.comment,
            smallest.statements.join("\n")
        )
    );
    insta::assert_snapshot!(
        "permissions_and_users_northwind",
        format!(
            "{}{}",
            statements_of(&northwind, "SqlUser", 3),
            statements_of(&northwind, "SqlPermissionStatement", 5)
        )
    );
}
