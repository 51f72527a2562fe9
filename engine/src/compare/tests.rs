//! Table-driven tests of compare over models made with the builders.

use super::*;
use crate::model::build::testing::{self, name, table_rename};
use crate::model::kind::prop;
use crate::model::{Dsp, Element, Model, Reference, kind};

fn column(table: &[&str], col: &str, ty: &str, nullable: bool) -> Element {
    testing::column(&name(table), col, ty, nullable)
}

fn table(parts: &[&str], columns: Vec<Element>) -> Element {
    let mut el = Element::new(kind::TABLE).named(name(parts));
    for c in columns {
        el.push_child(kind::rel::COLUMNS, c);
    }
    el.with_ref(kind::rel::SCHEMA, Reference::built_in(name(&parts[..1])))
}

/// The table `parts` with the one column `col`.
fn single_column_table(parts: &[&str], col: &str, ty: &str, nullable: bool) -> Element {
    table(parts, vec![column(parts, col, ty, nullable)])
}

fn model(elements: Vec<Element>) -> Model {
    let mut m = Model::empty(Dsp::default_sqlserver());
    m.elements = elements;
    m
}

fn actions(diff: &Diff) -> Vec<String> {
    diff.changes
        .iter()
        .map(|c| format!("{} {} {}", c.action.as_str(), c.kind, c.name))
        .collect()
}

#[test]
fn same_model_has_no_differences() {
    let m = model(vec![single_column_table(&["dbo", "T"], "a", "int", false)]);
    assert!(compare(&m, &m, &CompareOptions::default()).is_empty());
}

#[test]
fn create_alter_keep_and_drop() {
    let current = model(vec![
        single_column_table(&["dbo", "A"], "x", "int", true),
        table(&["dbo", "Old"], vec![]),
    ]);
    let desired = model(vec![
        single_column_table(&["dbo", "A"], "x", "bigint", true),
        table(&["dbo", "New"], vec![]),
    ]);
    let diff = compare(&current, &desired, &CompareOptions::default());
    assert_eq!(
        actions(&diff),
        vec![
            "alter SqlTable [dbo].[A]",
            "create SqlTable [dbo].[New]",
            "keep SqlTable [dbo].[Old]"
        ]
    );
    let detail = &diff.changes[0].details[0];
    assert_eq!(detail.path, "Columns[x].TypeSpecifier.Type");
    assert_eq!(detail.desired.as_deref(), Some("[bigint]"));

    let options = CompareOptions {
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    assert!(actions(&diff).contains(&"drop SqlTable [dbo].[Old]".to_string()));
    let options = CompareOptions {
        drop_objects_not_in_source: true,
        do_not_drop: [kind::TABLE.to_string()].into(),
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    assert!(actions(&diff).contains(&"keep SqlTable [dbo].[Old]".to_string()));
}

#[test]
fn names_match_by_the_collation_case_rule() {
    let current = model(vec![table(&["dbo", "orders"], vec![])]);
    let mut desired = model(vec![table(&["DBO", "Orders"], vec![])]);
    assert!(compare(&current, &desired, &CompareOptions::default()).is_empty());
    desired.collation_case_sensitive = true;
    let diff = compare(&current, &desired, &CompareOptions::default());
    assert_eq!(diff.differences().count(), 1);
}

#[test]
fn column_order_counts_unless_ignored() {
    let cols = |order: [&str; 2]| {
        order
            .iter()
            .map(|c| column(&["dbo", "T"], c, "int", true))
            .collect::<Vec<_>>()
    };
    let current = model(vec![table(&["dbo", "T"], cols(["a", "b"]))]);
    let desired = model(vec![table(&["dbo", "T"], cols(["b", "a"]))]);
    let diff = compare(&current, &desired, &CompareOptions::default());
    assert_eq!(diff.changes[0].details[0].path, "Columns order");
    let options = CompareOptions {
        ignore_column_order: true,
        ..CompareOptions::default()
    };
    assert!(compare(&current, &desired, &options).is_empty());
}

#[test]
fn bodies_compare_after_normalising_and_show_a_line_diff() {
    let proc = |body: &str| {
        Element::new(kind::PROCEDURE)
            .named(name(&["dbo", "P"]))
            .with_script(prop::BODY_SCRIPT, body)
    };
    let current = model(vec![proc("BEGIN\r\n  SELECT 1\r\nEND")]);
    let same = model(vec![proc("BEGIN\n  SELECT 1   \nEND\n")]);
    assert!(compare(&current, &same, &CompareOptions::default()).is_empty());
    let spaced = model(vec![proc("begin select 1 -- one\nend")]);
    assert!(!compare(&current, &spaced, &CompareOptions::default()).is_empty());
    let options = CompareOptions {
        text: TextRules {
            ignore_whitespace: true,
            ignore_comments: true,
            ignore_case: true,
        },
        ..CompareOptions::default()
    };
    assert!(compare(&current, &spaced, &options).is_empty());
    let changed = model(vec![proc("BEGIN\n  SELECT 2\nEND")]);
    let diff = compare(&current, &changed, &CompareOptions::default());
    let text = diff.changes[0].details[0].text_diff.as_deref().unwrap();
    assert!(
        text.contains("-  SELECT 1") && text.contains("+  SELECT 2"),
        "{text}"
    );
}

#[test]
fn derived_dependencies_and_annotations_are_not_definition() {
    let mut a = Element::new(kind::VIEW)
        .named(name(&["dbo", "V"]))
        .with_script(prop::QUERY_SCRIPT, "SELECT 1 AS x");
    let b = a.clone();
    a.push_ref("QueryDependencies", Reference::to(name(&["dbo", "T"])));
    a.annotations.push(crate::model::Annotation::Attached {
        disambiguator: "3".into(),
    });
    assert!(compare(&model(vec![a]), &model(vec![b]), &CompareOptions::default()).is_empty());
}

#[test]
fn unnamed_constraints_match_by_signature() {
    let pk = |table: &str| {
        Element::new(kind::PRIMARY_KEY).with_ref(
            kind::rel::DEFINING_TABLE,
            Reference::to(name(&["dbo", table])),
        )
    };
    let current = model(vec![pk("A")]);
    let desired = model(vec![pk("A"), pk("B")]);
    let diff = compare(&current, &desired, &CompareOptions::default());
    assert_eq!(
        actions(&diff),
        vec!["create SqlPrimaryKeyConstraint [dbo].[B]"]
    );
}

#[test]
fn sub_objects_of_a_kept_table_are_dropped_with_the_definition() {
    let index = Element::new(kind::INDEX)
        .named(name(&["dbo", "T", "IX"]))
        .with_ref(
            kind::rel::INDEXED_OBJECT,
            Reference::to(name(&["dbo", "T"])),
        );
    let current = model(vec![table(&["dbo", "T"], vec![]), index]);
    let desired = model(vec![table(&["dbo", "T"], vec![])]);
    let diff = compare(&current, &desired, &CompareOptions::default());
    assert_eq!(actions(&diff), vec!["drop SqlIndex [dbo].[T].[IX]"]);
}

#[test]
fn renames_come_from_the_refactor_log_and_fold_chains() {
    use crate::model::refactor::{RefactorLog, RefactorOperation};
    let op = |element: &str, new_name: &str| RefactorOperation {
        name: "Rename Refactor".into(),
        key: "k".into(),
        change_date_time: None,
        properties: vec![
            ("ElementName".into(), element.into()),
            ("ElementType".into(), "SqlTable".into()),
            ("NewName".into(), new_name.into()),
        ],
    };
    let log = RefactorLog {
        version: "1.0".into(),
        operations: vec![op("[dbo].[A]", "[B]"), op("[dbo].[B]", "C")],
    };
    let renames = renames_from_refactor_log(&log);
    assert_eq!(renames.len(), 1);
    assert_eq!(renames[0].to, name(&["dbo", "C"]));
    let current = model(vec![table(&["dbo", "A"], vec![])]);
    let desired = model(vec![table(&["dbo", "C"], vec![])]);
    let options = CompareOptions {
        renames,
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    assert_eq!(actions(&diff), vec!["rename SqlTable [dbo].[C]"]);
    assert_eq!(diff.changes[0].renamed_from, Some(name(&["dbo", "A"])));
}

#[test]
fn filters_exclude_kinds_and_names() {
    let current = model(vec![]);
    let desired = model(vec![
        table(&["dbo", "T"], vec![]),
        table(&["audit", "Log"], vec![]),
        Element::new(kind::ROLE).named(name(&["r"])),
    ]);
    let options = CompareOptions {
        exclude_kinds: [kind::ROLE.to_string()].into(),
        exclude: vec!["AUDIT.*".into()],
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    assert_eq!(actions(&diff), vec!["create SqlTable [dbo].[T]"]);
    let options = CompareOptions {
        include: vec!["audit.*".into()],
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    assert_eq!(actions(&diff), vec!["create SqlTable [audit].[Log]"]);
}

#[test]
fn producer_spellings_of_one_expression_and_default_options_compare_equal() {
    let t = ["dbo", "T"];
    let with_expressions = |computed: &str, default: &str, check: &str| {
        let mut computed_col = Element::new(kind::COMPUTED_COLUMN)
            .named(name(&["dbo", "T", "c"]))
            .with_script(prop::EXPRESSION_SCRIPT, computed);
        computed_col.set_prop(prop::IS_PERSISTED, Value::Bool(false));
        let mut tbl = single_column_table(&t, "a", "int", false);
        tbl.push_child(kind::rel::COLUMNS, computed_col);
        model(vec![
            tbl,
            Element::new(kind::DEFAULT)
                .with_script(prop::DEFAULT_EXPRESSION_SCRIPT, default)
                .with_ref(kind::rel::DEFINING_TABLE, Reference::to(name(&t)))
                .with_ref(
                    kind::rel::FOR_COLUMN,
                    Reference::to(name(&["dbo", "T", "a"])),
                ),
            Element::new(kind::CHECK)
                .named(name(&["dbo", "CK_T"]))
                .with_script(prop::CHECK_EXPRESSION_SCRIPT, check)
                .with_ref(kind::rel::DEFINING_TABLE, Reference::to(name(&t))),
        ])
    };
    let server = with_expressions(
        "(CONVERT([nvarchar](10),[a],0))",
        "((0))",
        "([a]>(0) AND [a] IS NOT NULL)",
    );
    let project = with_expressions(
        "convert([nvarchar](10),[a])",
        "0",
        "[a] > 0 and [a] is not null",
    );
    let diff = compare(&server, &project, &CompareOptions::default());
    assert!(diff.is_empty(), "{:?}", actions(&diff));
    // A real change of expression is still found.
    let changed = with_expressions(
        "convert([nvarchar](10),[a],1)",
        "1",
        "[a] >= 0 and [a] is not null",
    );
    let diff = compare(&server, &changed, &CompareOptions::default());
    assert_eq!(
        actions(&diff),
        [
            "alter SqlCheckConstraint [dbo].[CK_T]",
            "alter SqlDefaultConstraint [dbo].[T]",
            "alter SqlTable [dbo].[T]",
        ]
    );

    // Database options: an empty default language is the default; other values count.
    let options = |language: Option<&str>| {
        let mut el = Element::new(kind::DATABASE_OPTIONS);
        if let Some(language) = language {
            el.set_prop(prop::DEFAULT_LANGUAGE, Value::Text(language.into()));
        }
        model(vec![el])
    };
    assert!(
        compare(
            &options(Some("")),
            &options(None),
            &CompareOptions::default()
        )
        .is_empty()
    );
    assert!(
        !compare(
            &options(Some("French")),
            &options(None),
            &CompareOptions::default()
        )
        .is_empty()
    );
}

#[test]
fn column_renames_inside_a_renamed_table() {
    let current = model(vec![single_column_table(&["dbo", "old"], "a", "int", true)]);
    let desired = model(vec![single_column_table(&["dbo", "new"], "b", "int", true)]);
    let old_to_new = table_rename(&["dbo", "old"], &["dbo", "new"]);
    // The column named with its table's new name, or (renamed before the table) its old name.
    for table_part in ["new", "old"] {
        let options = CompareOptions {
            renames: vec![
                old_to_new.clone(),
                Rename {
                    kind: kind::SIMPLE_COLUMN.into(),
                    from: name(&["dbo", table_part, "a"]),
                    to: name(&["dbo", table_part, "b"]),
                },
            ],
            ..CompareOptions::default()
        };
        let diff = compare(&current, &desired, &options);
        let got: Vec<(Action, &str, String, Option<String>, usize)> = diff
            .changes
            .iter()
            .map(|c| {
                (
                    c.action,
                    c.kind.as_str(),
                    c.name.to_string(),
                    c.renamed_from.as_ref().map(|n| n.to_string()),
                    c.details.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Action::Rename,
                    kind::SIMPLE_COLUMN,
                    "[dbo].[new].[b]".to_string(),
                    Some("[dbo].[new].[a]".to_string()),
                    0
                ),
                (
                    Action::Rename,
                    kind::TABLE,
                    "[dbo].[new]".to_string(),
                    Some("[dbo].[old]".to_string()),
                    0
                ),
            ],
            "{table_part}"
        );
    }
    // Without the column rename, the column is a difference of the renamed table.
    let diff = compare(
        &current,
        &desired,
        &CompareOptions {
            renames: vec![old_to_new],
            ..CompareOptions::default()
        },
    );
    assert_eq!(diff.changes.len(), 1);
    assert!(!diff.changes[0].details.is_empty());
}

#[test]
fn two_threads_find_what_one_does() {
    // Enough tables for the parallel path, with creates, drops, alters and renames among them.
    let tables = |n: usize, changed: &dyn Fn(usize) -> bool| {
        model(
            (0..n)
                .map(|i| {
                    let t = format!("T{i:04}");
                    let ty = if changed(i) { "bigint" } else { "int" };
                    table(
                        &["dbo", &t],
                        vec![
                            column(&["dbo", &t], "Id", ty, false),
                            column(&["dbo", &t], "Name", "nvarchar", true),
                        ],
                    )
                })
                .collect(),
        )
    };
    let current = tables(1_500, &|_| false);
    let mut desired = tables(1_600, &|i| i % 7 == 0);
    desired.elements.remove(10);
    let options = CompareOptions {
        drop_objects_not_in_source: true,
        renames: vec![table_rename(&["dbo", "T0010"], &["dbo", "T1599"])],
        ..CompareOptions::default()
    };
    let one = compare_on(&current, &desired, &options, false);
    let two = compare_on(&current, &desired, &options, true);
    assert!(one.changes.len() > 300, "{}", one.changes.len());
    assert_eq!(one, two);
    assert_eq!(compare(&current, &desired, &options), one);
}

#[test]
fn repeated_identities_are_counted() {
    // Unnamed elements with the same definition share an identity: the second is `#2`, the
    // third `#3`, so a third copy is created and a missing one dropped.
    let grant = || Element::new("SqlPermissionStatement").with_text(prop::PERMISSION, "Select");
    let current = model(vec![grant(), grant()]);
    let desired = model(vec![grant(), grant(), grant()]);
    let options = CompareOptions {
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    };
    let created = compare(&current, &desired, &options);
    assert_eq!(created.changes.len(), 1);
    assert_eq!(created.changes[0].action, Action::Create);
    let dropped = compare(&desired, &current, &options);
    assert_eq!(dropped.changes.len(), 1);
    assert_eq!(dropped.changes[0].action, Action::Drop);
    assert!(compare(&current, &current, &options).is_empty());
}

/// An unnamed primary key and a named index of the table `parts`.
fn owned_by(parts: &[&str]) -> Vec<Element> {
    let pk = Element::new(kind::PRIMARY_KEY)
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(name(parts)));
    let mut index_name = parts.to_vec();
    let leaf = format!("IX_{}", parts[parts.len() - 1]);
    index_name[parts.len() - 1] = &leaf;
    let index = Element::new(kind::INDEX)
        .named(name(&index_name))
        .with_ref(kind::rel::INDEXED_OBJECT, Reference::to(name(parts)));
    vec![pk, index]
}

#[test]
fn filters_take_what_a_table_owns_with_it() {
    let current = model(vec![single_column_table(
        &["dbo", "Customers"],
        "Id",
        "int",
        false,
    )]);
    let mut desired_elements = vec![
        single_column_table(&["dbo", "Customers"], "Id", "int", false),
        single_column_table(&["dbo", "Currencies"], "Code", "char", false),
    ];
    desired_elements.extend(owned_by(&["dbo", "Currencies"]));
    let desired = model(desired_elements);
    let options = CompareOptions {
        include: vec!["dbo.Cust*".into()],
        ..CompareOptions::default()
    };
    let diff = compare(&current, &desired, &options);
    // Neither the unnamed key nor the index named IX_Currencies matches the glob by itself;
    // both go with their table.
    assert!(diff.is_empty(), "{:?}", actions(&diff));
    assert_eq!(
        diff.left_out
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>(),
        [
            "SqlIndex [dbo].[IX_Currencies]",
            "SqlTable [dbo].[Currencies]"
        ]
    );
    let options = CompareOptions {
        exclude_kinds: [kind::TABLE.to_string()].into(),
        ..CompareOptions::default()
    };
    assert!(compare(&current, &desired, &options).is_empty());
}

#[test]
fn what_a_table_owns_follows_its_fate_unless_its_kind_is_not_dropped() {
    let mut current_elements = vec![
        single_column_table(&["dbo", "Kept"], "Id", "int", false),
        single_column_table(&["dbo", "Gone"], "Id", "int", false),
    ];
    current_elements.extend(owned_by(&["dbo", "Kept"]));
    current_elements.extend(owned_by(&["dbo", "Gone"]));
    let current = model(current_elements);
    let desired = model(vec![single_column_table(
        &["dbo", "Kept"],
        "Id",
        "int",
        false,
    )]);
    let fates = |do_not_drop: &[&str]| {
        let options = CompareOptions {
            drop_objects_not_in_source: true,
            do_not_drop: do_not_drop.iter().map(|k| k.to_string()).collect(),
            ..CompareOptions::default()
        };
        actions(&compare(&current, &desired, &options))
    };
    // A table the package keeps loses what the package no longer has; a dropped table takes
    // what it owns along.
    assert_eq!(
        fates(&[]),
        [
            "drop SqlIndex [dbo].[IX_Gone]",
            "drop SqlIndex [dbo].[IX_Kept]",
            "drop SqlPrimaryKeyConstraint [dbo].[Gone]",
            "drop SqlPrimaryKeyConstraint [dbo].[Kept]",
            "drop SqlTable [dbo].[Gone]",
        ]
    );
    // Indexes not to be dropped stay on the kept table.
    assert!(fates(&[kind::INDEX]).contains(&"keep SqlIndex [dbo].[IX_Kept]".to_string()));
    // A table not to be dropped keeps its key and index.
    assert_eq!(
        fates(&[kind::TABLE]),
        [
            "keep SqlIndex [dbo].[IX_Gone]",
            "drop SqlIndex [dbo].[IX_Kept]",
            "keep SqlPrimaryKeyConstraint [dbo].[Gone]",
            "drop SqlPrimaryKeyConstraint [dbo].[Kept]",
            "keep SqlTable [dbo].[Gone]",
        ]
    );
}

/// A SQL Server model built from T-SQL.
fn tsql(sql: &str) -> Model {
    crate::source::build_tsql_text(
        sql,
        std::path::Path::new("t.sql"),
        &Dsp::default_sqlserver(),
    )
    .unwrap()
}

#[test]
fn sqlserver_types_compare_by_meaning() {
    let short = tsql(
        "CREATE TYPE dbo.Amount FROM DECIMAL NOT NULL
GO
CREATE TABLE dbo.T (a DATETIME2, b DECIMAL, c NUMERIC(10), d TIME, e DATETIMEOFFSET, f FLOAT, g VARCHAR, h NVARCHAR(MAX), i dbo.Amount)",
    );
    let long = tsql(
        "CREATE TYPE dbo.Amount FROM DECIMAL(18,0) NOT NULL
GO
CREATE TABLE dbo.T (a DATETIME2(7), b DECIMAL(18,0), c NUMERIC(10,0), d TIME(7), e DATETIMEOFFSET(7), f FLOAT(53), g VARCHAR(1), h NVARCHAR(MAX), i dbo.Amount)",
    );
    for (a, b) in [(&short, &long), (&long, &short)] {
        let diff = compare(a, b, &CompareOptions::default());
        assert!(diff.is_empty(), "{:#?}", diff.changes);
    }
    // Types that mean something else still differ.
    let other = tsql(
        "CREATE TYPE dbo.Amount FROM DECIMAL(18,2) NOT NULL
GO
CREATE TABLE dbo.T (a DATETIME2(3), b DECIMAL(18,2), c NUMERIC(12), d TIME(0), e DATETIMEOFFSET(7), f FLOAT(24), g VARCHAR(2), h NVARCHAR(4000), i dbo.Amount)",
    );
    let diff = compare(&short, &other, &CompareOptions::default());
    let paths: Vec<&str> = diff
        .changes
        .iter()
        .flat_map(|c| c.details.iter().map(|d| d.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            "Columns[a].TypeSpecifier.Scale",
            "Columns[b].TypeSpecifier.Scale",
            "Columns[c].TypeSpecifier.Precision",
            "Columns[d].TypeSpecifier.Scale",
            "Columns[f].TypeSpecifier.Precision",
            "Columns[g].TypeSpecifier.Length",
            "Columns[h].TypeSpecifier.IsMax",
            "Columns[h].TypeSpecifier.Length",
            "Scale",
        ],
        "{:#?}",
        diff.changes
    );
}

#[test]
fn omitted_type_modifiers_mean_unconstrained_on_postgres() {
    let numeric = |precision: Option<i64>| {
        let mut spec = Element::new(kind::TYPE_SPECIFIER)
            .with_ref(kind::rel::TYPE, Reference::built_in(name(&["numeric"])));
        if let Some(p) = precision {
            spec = spec.with_int(prop::PRECISION, p);
        }
        let col = Element::new(kind::SIMPLE_COLUMN)
            .named(name(&["public", "t", "n"]))
            .with_child(kind::rel::TYPE_SPECIFIER, spec);
        let mut m = Model::empty(Dsp::from_short_name("postgres").unwrap());
        m.elements = vec![table(&["public", "t"], vec![col])];
        m
    };
    let diff = compare(
        &numeric(None),
        &numeric(Some(18)),
        &CompareOptions::default(),
    );
    assert!(!diff.is_empty());
}
