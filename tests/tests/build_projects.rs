//! Builds every SQL project of the shared corpus and compares WideWorldImporters with the real
//! DacFx package built from (an earlier commit of) the same project.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dac_engine::model::{Element, Entry, Model, Value};
use dac_engine::source::{BuildOptions, build};

const PROJECTS: &[&str] = &[
    "NowinskiK__ssdt-training/src/Compare/WideWorldImporters/WideWorldImporters.sqlproj",
    "NowinskiK__ssdt-training/src/Variables/CRM/CRM.sqlproj",
    "NowinskiK__ssdt-training/src/Variables/ContosoRetailDW/ContosoRetailDW.sqlproj",
    "maciejw__dacpac-data-migrations/Database/Database/Database.sqlproj",
    "microsoft__DacFx/samples/SdkStyleDatabaseProject/sample.sqlproj",
    "microsoft__sql-server-samples/samples/databases/wide-world-importers/wwi-dw-ssdt/wwi-dw-ssdt/WideWorldImportersDW.sqlproj",
    "microsoft__sql-server-samples/samples/databases/wide-world-importers/wwi-ssdt/wwi-ssdt/WideWorldImporters.sqlproj",
    "rr-wfm__MSBuild.Sdk.SqlProj/test/TestProjectWithPrePost/TestProjectWithPrePost.csproj",
];

#[test]
fn every_corpus_project_builds() {
    let Some(shared) = dac_tests::shared_dir("project builds") else {
        return;
    };
    let mut failures = Vec::new();
    for rel in PROJECTS {
        let path = shared.join("corpus/sqlproj").join(rel);
        let started = std::time::Instant::now();
        match build(&path, &BuildOptions::default()) {
            Ok(package) => {
                eprintln!(
                    "{rel}: {} elements in {:?}, pre {} / post {} bytes, {:?}",
                    package.model.elements.len(),
                    started.elapsed(),
                    package.predeploy.as_ref().map_or(0, String::len),
                    package.postdeploy.as_ref().map_or(0, String::len),
                    package.model.counts_by_kind()
                );
                assert!(package.model.elements.len() > 1, "{rel}: empty model");
            }
            Err(e) => failures.push(format!("{rel}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "projects failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn sdk_style_project_details() {
    let Some(shared) = dac_tests::shared_dir("project builds") else {
        return;
    };
    let path = shared.join("corpus/sqlproj").join(PROJECTS[7]);
    let package = build(&path, &BuildOptions::default()).unwrap();
    let tables: Vec<String> = package
        .model
        .of_kind("SqlTable")
        .map(|t| t.name_or_empty().to_string())
        .collect();
    assert_eq!(tables, ["[dbo].[MyTable]"]);
    let pre = package.predeploy.unwrap();
    assert!(pre.contains("Script1.sql"), "{pre}");
    assert!(!pre.contains(":r "), "{pre}");
    assert!(package.postdeploy.unwrap().contains("$(DbUserPassword)"));
    let log = package.refactor_log.unwrap();
    assert_eq!(log.operations.len(), 3);
    assert_eq!(package.model.dsp.short_name(), "Sql160");
}

/// A parsed XML element of model.xml.
#[derive(Debug, Default)]
struct Node {
    tag: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    fn elements<'a>(&'a self, rel: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children
            .iter()
            .filter(move |c| c.tag == "Relationship" && c.attr("Name") == Some(rel))
            .flat_map(|r| &r.children)
            .flat_map(|entry| &entry.children)
    }
}

fn read_model_xml(dacpac: &Path) -> Node {
    use quick_xml::events::Event;
    use std::io::Read;
    let file = std::fs::File::open(dacpac).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut text = String::new();
    zip.by_name("model.xml")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let event = reader.read_event().unwrap();
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let mut node = Node {
                    tag: e.local_name().as_ref().to_string(),
                    ..Node::default()
                };
                for a in e.attributes().flatten() {
                    node.attrs.insert(
                        a.key.local_name().as_ref().to_string(),
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned(),
                    );
                }
                if matches!(event, Event::Empty(_)) {
                    stack.last_mut().unwrap().children.push(node);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(node);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack.pop().unwrap()
}

/// Column facts compared: kind, type, Length/Precision/Scale/IsMax, nullability, identity...
type ColumnFacts = BTreeMap<String, String>;

fn dacpac_columns(table: &Node) -> BTreeMap<String, ColumnFacts> {
    let mut out = BTreeMap::new();
    for col in table.elements("Columns") {
        let mut facts = ColumnFacts::new();
        facts.insert("kind".into(), col.attr("Type").unwrap_or("").into());
        for prop in col.children.iter().filter(|c| c.tag == "Property") {
            if let Some(v) = prop.attr("Value") {
                facts.insert(prop.attr("Name").unwrap().into(), v.into());
            }
        }
        for spec in col.elements("TypeSpecifier") {
            for p in spec.children.iter().filter(|c| c.tag == "Property") {
                facts.insert(
                    p.attr("Name").unwrap().into(),
                    p.attr("Value").unwrap_or("").into(),
                );
            }
            for t in spec
                .children
                .iter()
                .filter(|c| c.tag == "Relationship")
                .flat_map(|r| &r.children)
                .flat_map(|e| &e.children)
            {
                facts.insert("type".into(), t.attr("Name").unwrap_or("").to_lowercase());
            }
        }
        out.insert(col.attr("Name").unwrap_or("").to_lowercase(), facts);
    }
    out
}

fn model_columns(table: &Element) -> BTreeMap<String, ColumnFacts> {
    let mut out = BTreeMap::new();
    for col in table.children("Columns") {
        let mut facts = ColumnFacts::new();
        facts.insert("kind".into(), col.kind.to_string());
        for p in &col.properties {
            if let Some(text) = p.value.attribute_text() {
                facts.insert(p.name.to_string(), text);
            }
        }
        for spec in col.children("TypeSpecifier") {
            for p in &spec.properties {
                if let Some(text) = p.value.attribute_text() {
                    facts.insert(p.name.to_string(), text);
                }
            }
            if let Some(t) = spec.reference_name("Type") {
                facts.insert("type".into(), t.to_string().to_lowercase());
            }
        }
        out.insert(col.name_or_empty().to_string().to_lowercase(), facts);
    }
    out
}

fn is_function(kind: &str) -> bool {
    matches!(
        kind,
        "SqlScalarFunction"
            | "SqlInlineTableValuedFunction"
            | "SqlMultiStatementTableValuedFunction"
    )
}

/// Prints column differences of tables and table types; returns how many columns differ.
fn compare_columns(xml_model: &Node, model: &Model, kind: &str) -> usize {
    let mut diffs = 0;
    for table in xml_model
        .children
        .iter()
        .filter(|e| e.attr("Type") == Some(kind))
    {
        let name = table.attr("Name").unwrap_or("");
        let Some(built) = model
            .of_kind(kind)
            .find(|t| t.name_or_empty().to_string().eq_ignore_ascii_case(name))
        else {
            continue;
        };
        let (want, got) = (dacpac_columns(table), model_columns(built));
        for (col, facts) in &want {
            match got.get(col) {
                None => {
                    diffs += 1;
                    eprintln!("  column {col}: only in the dacpac");
                }
                Some(g) if g != facts => {
                    diffs += 1;
                    let keys: BTreeSet<&String> = facts.keys().chain(g.keys()).collect();
                    for k in keys {
                        if facts.get(k) != g.get(k) {
                            eprintln!(
                                "  column {col}: {k}: dacpac {:?}, project {:?}",
                                facts.get(k),
                                g.get(k)
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        for col in got.keys().filter(|c| !want.contains_key(*c)) {
            diffs += 1;
            eprintln!("  column {col}: only in the project");
        }
    }
    diffs
}

#[test]
fn wide_world_importers_matches_the_dacfx_package() {
    let Some(shared) = dac_tests::shared_dir("project builds") else {
        return;
    };
    let project = shared.join("corpus/sqlproj").join(PROJECTS[0]);
    let dacpac: PathBuf = shared
        .join("corpus/dacpac/NowinskiK__ssdt-training/WideWorldImporters_20200807_20-39-11.dacpac");
    let package = build(&project, &BuildOptions::default()).unwrap();
    let model: &Model = &package.model;
    let root = read_model_xml(&dacpac);
    let xml_model = root
        .children
        .iter()
        .find(|n| n.tag == "DataSchemaModel")
        .and_then(|d| d.children.iter().find(|n| n.tag == "Model"))
        .expect("model.xml has a Model");

    let key = |kind: &str, name: &str| (kind.to_string(), name.to_lowercase());
    let expected: BTreeSet<(String, String)> = xml_model
        .children
        .iter()
        .filter(|e| e.tag == "Element")
        .map(|e| key(e.attr("Type").unwrap_or(""), e.attr("Name").unwrap_or("")))
        .collect();
    let actual: BTreeSet<(String, String)> = model
        .elements
        .iter()
        .map(|e| {
            key(
                &e.kind,
                &e.name.as_ref().map(|n| n.to_string()).unwrap_or_default(),
            )
        })
        .collect();

    // Every kind: print the differences.
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    eprintln!(
        "all kinds: {} expected, {} built; {} only in the dacpac, {} only in the project",
        expected.len(),
        actual.len(),
        missing.len(),
        extra.len()
    );
    for m in &missing {
        eprintln!("  only in the dacpac:  {} {}", m.0, m.1);
    }
    for x in &extra {
        eprintln!("  only in the project: {} {}", x.0, x.1);
    }

    // Required kinds: exact match.
    let required = [
        "SqlTable",
        "SqlProcedure",
        "SqlSequence",
        "SqlSchema",
        "SqlRole",
        "SqlTableType",
        "SqlView",
        "function",
    ];
    let pick = |set: &BTreeSet<(String, String)>, kind: &str| -> BTreeSet<String> {
        set.iter()
            .filter(|(k, _)| {
                if kind == "function" {
                    is_function(k)
                } else {
                    k == kind
                }
            })
            .map(|(_, n)| n.clone())
            .collect()
    };
    let mut summary = Vec::new();
    let mut mismatched = Vec::new();
    for kind in required {
        let (e, a) = (pick(&expected, kind), pick(&actual, kind));
        let common = e.intersection(&a).count();
        summary.push(format!("{common}/{} {kind}", e.len()));
        if e != a {
            mismatched.push(format!(
                "{kind}: only in the dacpac {:?}, only in the project {:?}",
                e.difference(&a).collect::<Vec<_>>(),
                a.difference(&e).collect::<Vec<_>>()
            ));
        }
    }
    dac_tests::summary(&format!("wwi: {}", summary.join(", ")));

    let table_diffs = compare_columns(xml_model, model, "SqlTable");
    let type_diffs = compare_columns(xml_model, model, "SqlTableType");
    eprintln!("wwi: {table_diffs} table columns and {type_diffs} table-type columns differ");

    // Sanity of a few shapes.
    let cities = model
        .of_kind("SqlTable")
        .find(|t| t.name_or_empty().to_string() == "[Application].[Cities]")
        .unwrap();
    assert_eq!(cities.prop("IsAnsiNullsOn"), Some(&Value::Bool(true)));
    assert!(
        cities
            .relationship("TemporalSystemVersioningHistoryTable")
            .is_some()
    );
    assert!(
        cities
            .relationship("Columns")
            .unwrap()
            .entries
            .iter()
            .all(|e| matches!(e, Entry::Element(_)))
    );
    assert!(
        mismatched.is_empty(),
        "required kinds differ:\n{}",
        mismatched.join("\n")
    );
}

#[test]
fn bad_input_reports_the_original_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("Tables")).unwrap();
    std::fs::write(
        root.join("P.sqlproj"),
        r#"<Project><PropertyGroup><Name>P</Name></PropertyGroup><ItemGroup>
<Build Include="Tables\T.sql" /><Build Include="Main.sql" />
<SqlCmdVariable Include="Env"><DefaultValue>dev</DefaultValue><Value>$(SqlCmdVar__1)</Value></SqlCmdVariable>
</ItemGroup></Project>"#,
    )
    .unwrap();
    std::fs::write(
        root.join("Tables/T.sql"),
        "CREATE TABLE [T_$(Env)] (a INT)\n",
    )
    .unwrap();
    std::fs::write(
        root.join("Main.sql"),
        "CREATE VIEW V AS SELECT 1 AS x\nGO\n:r Tables/Inc.sql\n",
    )
    .unwrap();
    std::fs::write(
        root.join("Tables/Inc.sql"),
        "\n\nCREATE TABLE U (a INT,, b INT)\n",
    )
    .unwrap();
    let err = build(root, &BuildOptions::default()).unwrap_err();
    match &err {
        dac_engine::Error::Sql {
            file, line, column, ..
        } => {
            assert!(file.ends_with("Tables/Inc.sql"), "{err}");
            assert_eq!((*line, *column), (3, 23), "{err}");
        }
        other => panic!("{other}"),
    }
    // Fix it; the variable default applies and can be overridden.
    std::fs::write(root.join("Tables/Inc.sql"), "CREATE TABLE U (a INT)\n").unwrap();
    let package = build(root, &BuildOptions::default()).unwrap();
    assert!(
        package
            .model
            .of_kind("SqlTable")
            .any(|t| t.name_or_empty().leaf() == "T_dev")
    );
    let mut options = BuildOptions::default();
    options.variables.insert("ENV".into(), "prod".into());
    let package = build(root, &options).unwrap();
    assert!(
        package
            .model
            .of_kind("SqlTable")
            .any(|t| t.name_or_empty().leaf() == "T_prod")
    );

    // Undefined variable and missing include.
    std::fs::write(
        root.join("Tables/Inc.sql"),
        "CREATE TABLE U (a INT DEFAULT $(Nope))\n",
    )
    .unwrap();
    let err = build(root, &BuildOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Inc.sql:1:31") && err.contains("$(Nope)"),
        "{err}"
    );
    std::fs::remove_file(root.join("Tables/Inc.sql")).unwrap();
    let err = build(root, &BuildOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Main.sql:3:1") && err.contains("Inc.sql"),
        "{err}"
    );
    // Missing build item.
    std::fs::remove_file(root.join("Tables/T.sql")).unwrap();
    let err = build(root, &BuildOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("T.sql"), "{err}");
}
