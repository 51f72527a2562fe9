//! Planning decisions that need no dialect: which changes lose data, and where step kinds fall
//! in execution order. Plans rendered for each platform are tested in `script`.

use crate::model::ObjectName;
use crate::plan::{StepKind, kinds_for};

fn name(parts: &[&str]) -> ObjectName {
    ObjectName::new(parts.iter().copied())
}

#[test]
fn narrowing_is_data_loss_and_widening_is_not() {
    use crate::model::view::DataType;
    use crate::plan::tables::loses_data;
    let t = |n: &str, len: Option<i64>| DataType {
        name: name(&[n]),
        built_in: true,
        length: len,
        precision: None,
        scale: None,
        is_max: false,
        array_dimensions: 0,
    };
    assert!(loses_data(
        &t("nvarchar", Some(50)),
        &t("nvarchar", Some(10))
    ));
    assert!(!loses_data(
        &t("nvarchar", Some(10)),
        &t("nvarchar", Some(50))
    ));
    assert!(!loses_data(&t("int", None), &t("bigint", None)));
    assert!(loses_data(&t("bigint", None), &t("int", None)));
    assert!(loses_data(&t("nvarchar", Some(10)), &t("int", None)));
    assert!(!loses_data(
        &t("varchar", Some(10)),
        &t("nvarchar", Some(10))
    ));
}

#[test]
fn postgres_types_and_extensions_come_before_tables() {
    assert_eq!(
        kinds_for("PgEnumType"),
        (StepKind::CreateType, StepKind::DropType)
    );
    assert_eq!(
        kinds_for("PgDomain"),
        (StepKind::CreateType, StepKind::DropType)
    );
    let (create, drop) = kinds_for("PgExtension");
    assert!(create < StepKind::CreateType && drop > StepKind::DropTable);
}

// ---------------------------------------------------------------- the dependency graph

use crate::compare::{CompareOptions, compare};
use crate::model::build::testing::table;
use crate::model::kind::prop;
use crate::model::{Dsp, Element, Model, Reference, kind};
use crate::plan::{Capabilities, HazardKind, Plan, PlanOptions, create_all, plan};

/// PostgreSQL's capabilities.
fn postgres() -> Capabilities {
    Capabilities::POSTGRES
}

fn model(elements: Vec<Element>) -> Model {
    let mut m = Model::empty(Dsp::from_short_name("postgres").unwrap());
    m.elements = elements;
    m
}

fn column(table: &ObjectName, col: &str, type_name: ObjectName, built_in: bool) -> Element {
    let reference = if built_in {
        Reference::built_in(type_name)
    } else {
        Reference::to(type_name)
    };
    Element::new(kind::SIMPLE_COLUMN)
        .named(table.child(col))
        .with_child(
            kind::rel::TYPE_SPECIFIER,
            Element::new(kind::TYPE_SPECIFIER).with_ref(kind::rel::TYPE, reference),
        )
}

fn function(n: &ObjectName, language: &str, body: &str) -> Element {
    Element::new(kind::SCALAR_FUNCTION)
        .named(n.clone())
        .with_text(prop::LANGUAGE, language)
        .with_text(prop::ARGUMENTS, "")
        .with_script(
            prop::DEFINITION_SCRIPT,
            format!("CREATE FUNCTION {n}() RETURNS integer LANGUAGE {language} AS $$ {body} $$"),
        )
}

fn view(n: &ObjectName, query: &str) -> Element {
    Element::new(kind::VIEW)
        .named(n.clone())
        .with_script(prop::QUERY_SCRIPT, query)
}

fn enum_type(n: &ObjectName, values: &str) -> Element {
    Element::new("PgEnumType").named(n.clone()).with_script(
        crate::plan::DEFINITION,
        format!("CREATE TYPE {n} AS ENUM ({values})"),
    )
}

fn planned(current: &Model, desired: &Model) -> Plan {
    let diff = compare(
        current,
        desired,
        &CompareOptions {
            ignore_column_order: true,
            drop_objects_not_in_source: true,
            ..CompareOptions::default()
        },
    );
    plan(&diff, current, desired, postgres(), &PlanOptions::default())
}

fn steps(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| format!("{} {}", s.kind.as_str(), s.name))
        .collect()
}

fn position(plan: &Plan, kind: StepKind, object: &ObjectName) -> usize {
    plan.steps
        .iter()
        .position(|s| s.kind == kind && &s.name == object)
        .unwrap_or_else(|| panic!("no {kind:?} {object} in {:?}", steps(plan)))
}

/// A table whose default, check and expression index call functions: the functions first,
/// though kind order puts tables before routines; dropped in the reverse order.
#[test]
fn functions_called_by_defaults_checks_and_indexes_are_created_first_and_dropped_last() {
    let t = name(&["public", "items"]);
    let (f_default, f_check, f_index) = (
        name(&["public", "new_id"]),
        name(&["public", "is_valid"]),
        name(&["public", "norm"]),
    );
    let int = name(&["integer"]);
    let default = Element::new(kind::DEFAULT)
        .named(name(&["public", "df_items_id"]))
        .with_script(prop::DEFAULT_EXPRESSION_SCRIPT, "public.new_id()")
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(t.clone()))
        .with_ref(kind::rel::FOR_COLUMN, Reference::to(t.child("id")));
    let check = Element::new(kind::CHECK)
        .named(name(&["public", "ck_items"]))
        .with_script(prop::CHECK_EXPRESSION_SCRIPT, "is_valid (id)")
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(t.clone()));
    let index = Element::new(kind::INDEX)
        .named(t.child("ix_norm"))
        .with_child(
            kind::rel::COLUMN_SPECIFICATIONS,
            Element::new(kind::INDEXED_COLUMN).with_script(prop::EXPRESSION_SCRIPT, "norm(id)"),
        )
        .with_ref(kind::rel::INDEXED_OBJECT, Reference::to(t.clone()));
    let desired = model(vec![
        table(&t, vec![column(&t, "id", int.clone(), true)]),
        default,
        check,
        index,
        function(&f_default, "plpgsql", "BEGIN RETURN 1; END"),
        function(&f_check, "sql", "SELECT 1"),
        function(&f_index, "sql", "SELECT 1"),
    ]);
    let created = create_all(&desired, postgres(), &PlanOptions::default());
    assert!(created.hazards.is_empty(), "{:?}", created.hazards);
    let table_at = position(&created, StepKind::CreateTable, &t);
    for f in [&f_default, &f_check] {
        assert!(
            position(&created, StepKind::CreateProgrammable, f) < table_at,
            "{:?}",
            steps(&created)
        );
    }
    assert!(
        position(&created, StepKind::CreateProgrammable, &f_index)
            < position(&created, StepKind::CreateIndex, &t.child("ix_norm"))
    );
    // Dropping everything: the table (with its default and check) before the functions.
    let dropped = planned(&desired, &model(vec![]));
    let table_at = position(&dropped, StepKind::DropTable, &t);
    for f in [&f_default, &f_check] {
        assert!(
            position(&dropped, StepKind::DropProgrammable, f) > table_at,
            "{:?}",
            steps(&dropped)
        );
    }
}

/// Domains over types over domains, in any order in the model: each after what it names.
#[test]
fn types_are_created_after_the_types_they_name() {
    let base = name(&["public", "base_text"]);
    let derived = name(&["public", "derived_text"]);
    let domain = |n: &ObjectName, over: &str| {
        Element::new("PgDomain").named(n.clone()).with_script(
            crate::plan::DEFINITION,
            format!("CREATE DOMAIN {n} AS {over}"),
        )
    };
    let desired = model(vec![
        domain(&derived, "public.base_text CHECK (length(VALUE) > 1)"),
        domain(&base, "text"),
    ]);
    let created = create_all(&desired, postgres(), &PlanOptions::default());
    assert_eq!(
        steps(&created),
        vec![
            format!("CreateType {base}"),
            format!("CreateType {derived}")
        ]
    );
    let dropped = planned(&desired, &model(vec![]));
    assert_eq!(
        steps(&dropped),
        vec![format!("DropType {derived}"), format!("DropType {base}")]
    );
}

/// Views that name each other cannot be created in any order: a hazard naming both, which
/// upgrades refuse. Procedural functions that call each other resolve names when they run:
/// no hazard.
#[test]
fn a_cycle_of_hard_dependencies_is_a_hazard_naming_its_objects() {
    let (a, b) = (name(&["public", "va"]), name(&["public", "vb"]));
    let desired = model(vec![
        view(&a, "SELECT * FROM public.vb"),
        view(&b, "SELECT * FROM public.va"),
    ]);
    let created = create_all(&desired, postgres(), &PlanOptions::default());
    let cycles: Vec<_> = created.cycles().collect();
    assert_eq!(cycles.len(), 1, "{:?}", created.hazards);
    assert_eq!(cycles[0].kind, HazardKind::DependencyCycle);
    assert!(
        cycles[0].message.contains(&a.to_string()),
        "{}",
        cycles[0].message
    );
    assert!(
        cycles[0].message.contains(&b.to_string()),
        "{}",
        cycles[0].message
    );
    assert_eq!(created.steps.len(), 2, "the plan stays total");

    let (f, g) = (name(&["public", "f"]), name(&["public", "g"]));
    let desired = model(vec![
        function(&f, "plpgsql", "BEGIN RETURN public.g(); END"),
        function(&g, "plpgsql", "BEGIN RETURN public.f(); END"),
    ]);
    let created = create_all(&desired, postgres(), &PlanOptions::default());
    assert!(created.hazards.is_empty(), "{:?}", created.hazards);
    assert_eq!(created.steps.len(), 2);
}

/// A column retyped under a view: the view is dropped before the ALTER and re-created after
/// it; a view over that view too (transitively); a view over another table is left alone.
#[test]
fn views_over_a_retyped_column_are_dropped_before_and_recreated_after() {
    let t = name(&["public", "t"]);
    let other = name(&["public", "other"]);
    let (v, vv, w) = (
        name(&["public", "v"]),
        name(&["public", "v_over_v"]),
        name(&["public", "w"]),
    );
    let with_type = |ty: &str| {
        model(vec![
            table(&t, vec![column(&t, "a", name(&[ty]), true)]),
            table(&other, vec![column(&other, "b", name(&["integer"]), true)]),
            view(&v, "SELECT a FROM public.t"),
            view(&vv, "SELECT a FROM public.v"),
            view(&w, "SELECT b FROM public.other"),
        ])
    };
    let plan = planned(&with_type("integer"), &with_type("bigint"));
    let alter = position(&plan, StepKind::AlterTable, &t);
    for x in [&v, &vv] {
        assert!(position(&plan, StepKind::DropProgrammable, x) < alter);
        assert!(position(&plan, StepKind::CreateProgrammable, x) > alter);
    }
    // The outer view goes first and comes back last.
    assert!(
        position(&plan, StepKind::DropProgrammable, &vv)
            < position(&plan, StepKind::DropProgrammable, &v)
    );
    assert!(
        position(&plan, StepKind::CreateProgrammable, &vv)
            > position(&plan, StepKind::CreateProgrammable, &v)
    );
    assert!(
        !plan.steps.iter().any(|s| s.name == w),
        "{:?}",
        steps(&plan)
    );
    // Only a nullability change: nothing is taken down.
    let mut nullable = with_type("integer");
    let mut not_null = with_type("integer");
    not_null.elements[0] = table(
        &t,
        vec![column(&t, "a", name(&["integer"]), true).with_bool(prop::IS_NULLABLE, false)],
    );
    nullable.elements[0] = table(&t, vec![column(&t, "a", name(&["integer"]), true)]);
    let plan = planned(&nullable, &not_null);
    assert_eq!(steps(&plan), vec![format!("AlterTable {t}")]);
}

/// An enum replaced (a value removed) under a column and a view over that column, and a
/// function taking the enum: the view and the function are taken down around the type's
/// replacement.
#[test]
fn dependents_of_a_replaced_enum_are_taken_down_around_it() {
    let e = name(&["public", "mood"]);
    let t = name(&["public", "people"]);
    let v = name(&["public", "happy_people"]);
    let f = name(&["public", "describe"]);
    let with_values = |values: &str| {
        model(vec![
            enum_type(&e, values),
            table(&t, vec![column(&t, "m", e.clone(), false)]),
            view(&v, "SELECT m FROM public.people"),
            Element::new(kind::SCALAR_FUNCTION)
                .named(f.clone())
                .with_text(prop::LANGUAGE, "sql")
                .with_text(prop::ARGUMENTS, "public.mood")
                .with_script(
                    prop::DEFINITION_SCRIPT,
                    "CREATE FUNCTION public.describe(m public.mood) RETURNS text LANGUAGE sql AS $$ SELECT m::text $$",
                ),
        ])
    };
    let plan = planned(
        &with_values("'sad', 'ok', 'happy'"),
        &with_values("'sad', 'happy'"),
    );
    let replace = position(&plan, StepKind::CreateType, &e);
    assert!(plan.steps[replace].current.is_some(), "replaced in place");
    assert!(
        position(&plan, StepKind::DropProgrammable, &v) < replace,
        "{:?}",
        steps(&plan)
    );
    assert!(position(&plan, StepKind::CreateProgrammable, &v) > replace);
    assert!(position(&plan, StepKind::DropProgrammable, &f) < replace);
    assert!(position(&plan, StepKind::CreateProgrammable, &f) > replace);
    assert!(plan.hazards.is_empty(), "{:?}", plan.hazards);
}

/// A column moved off an enum that is dropped: the ALTER runs before the DROP TYPE (kind order
/// alone puts drops first).
#[test]
fn a_type_is_dropped_after_the_columns_stop_using_it() {
    let e = name(&["public", "status"]);
    let t = name(&["public", "items"]);
    let current = model(vec![
        enum_type(&e, "'a', 'b'"),
        table(&t, vec![column(&t, "s", e.clone(), false)]),
    ]);
    let desired = model(vec![table(
        &t,
        vec![column(&t, "s", name(&["text"]), true)],
    )]);
    let plan = planned(&current, &desired);
    assert!(
        position(&plan, StepKind::AlterTable, &t) < position(&plan, StepKind::DropType, &e),
        "{:?}",
        steps(&plan)
    );
    // And back: the type is created before the column uses it.
    let plan = planned(&desired, &current);
    assert!(position(&plan, StepKind::CreateType, &e) < position(&plan, StepKind::AlterTable, &t));
}

/// pg_dump's form: a sequence owned by a column and named by its default. The sequence comes
/// first (the default needs it), its ownership after the table (`OWNED BY` needs the column),
/// whether the table is created with it or the column is added to a table that exists.
#[test]
fn a_sequence_is_owned_by_its_column_after_the_column_exists() {
    let t = name(&["public", "t"]);
    let seq = name(&["public", "t_ident_seq"]);
    let sequence = Element::new(kind::SEQUENCE)
        .named(seq.clone())
        .with_ref(kind::rel::OWNED_BY, Reference::to(t.child("id")));
    let default = Element::new(kind::DEFAULT)
        .named(name(&["public", "t_id_default"]))
        .with_script(
            prop::DEFAULT_EXPRESSION_SCRIPT,
            "nextval('public.t_ident_seq'::REGCLASS)",
        )
        .with_ref(kind::rel::DEFINING_TABLE, Reference::to(t.clone()))
        .with_ref(kind::rel::FOR_COLUMN, Reference::to(t.child("id")));
    let int = || name(&["integer"]);
    let with_id = model(vec![
        table(&t, vec![column(&t, "id", int(), true)]),
        sequence.clone(),
        default.clone(),
    ]);
    let without_id = model(vec![table(&t, vec![column(&t, "other", int(), true)])]);
    let with_both = model(vec![
        table(
            &t,
            vec![
                column(&t, "other", int(), true),
                column(&t, "id", int(), true),
            ],
        ),
        sequence,
        default,
    ]);
    for (current, desired, maker) in [
        (model(vec![]), with_id, StepKind::CreateTable),
        (without_id, with_both, StepKind::AlterTable),
    ] {
        let plan = planned(&current, &desired);
        let made: Vec<usize> = plan
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == StepKind::CreateSequence && s.name == seq)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(made.len(), 2, "{:?}", steps(&plan));
        let (create, own) = (&plan.steps[made[0]], &plan.steps[made[1]]);
        assert!(create.current.is_none());
        assert!(
            create
                .desired
                .as_ref()
                .unwrap()
                .reference_name(kind::rel::OWNED_BY)
                .is_none()
        );
        assert!(
            own.desired
                .as_ref()
                .unwrap()
                .reference_name(kind::rel::OWNED_BY)
                .is_some()
        );
        let table_at = position(&plan, maker, &t);
        assert!(
            made[0] < table_at && table_at < made[1],
            "{:?}",
            steps(&plan)
        );
    }
}

#[test]
fn an_index_with_empty_references_blocks_the_plan() {
    use crate::dialect::Dialect;
    use crate::model::{Dsp, Element, Entry, Model, Relationship, kind};
    use crate::plan::{HazardKind, PlanOptions, create_all};
    // As AzureDw_master's model.xml has it: `<Entry />` for the table and the columns.
    let empty = |rel: &str| Relationship {
        name: rel.into(),
        entries: vec![Entry::Empty],
    };
    let mut spec = Element::new(kind::INDEXED_COLUMN);
    spec.relationships.push(empty(kind::rel::COLUMN));
    let mut index = Element::new(kind::INDEX).named(name(&["dbo", "h", "IX_h"]));
    index.push_child(kind::rel::COLUMN_SPECIFICATIONS, spec);
    index.relationships.push(empty(kind::rel::INDEXED_OBJECT));
    let mut desired = Model::empty(Dsp::default_sqlserver());
    desired.elements.push(index);
    let plan = create_all(
        &desired,
        crate::dialect::SqlServer.capabilities(),
        &PlanOptions::default(),
    );
    let blockers: Vec<_> = plan.blockers().collect();
    assert_eq!(blockers.len(), 1, "{:?}", plan.hazards);
    assert_eq!(blockers[0].kind, HazardKind::EmptyReference);
    assert!(
        blockers[0].message.contains("[dbo].[h].[IX_h]") && blockers[0].message.contains("empty"),
        "{}",
        blockers[0].message
    );
    let refused = crate::upgrade::refuse_unrunnable(&plan).unwrap_err();
    assert!(refused.is_refusal(), "{refused}");
}
