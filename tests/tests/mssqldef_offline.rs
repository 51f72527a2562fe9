//! sqldef's mssqldef migration cases, offline: `current` and `desired` are built as SQL Server
//! projects, written as packages and read back (a build dac cannot load is a failure), compared,
//! planned and rendered, and each case checks that
//! (a) every rendered statement passes the T-SQL syntax check,
//! (b) the operations (create/alter/drop/rename of which object) agree with the case's `up`,
//! (c) `desired` against itself gives an empty diff and an empty plan.
//! Cases with `error:` must fail to build or plan. Known failures are listed with a reason; the
//! test fails when an unlisted case fails or a listed case passes, so the list only shrinks.

use std::collections::BTreeMap;
use std::path::Path;

use dac_engine::dialect::SqlServer;
use dac_engine::model::{kind, view};
use dac_engine::plan::{Plan, StepKind};
use dac_engine::script;
use dac_engine::source::tsql::check::check_statement;
use dac_tests::mssqldef::{Case, build, load_cases, plan_between};

/// Cases known to fail, each with the reason.
const KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "UseStatement",
        "USE is not allowed in a SQL Server project (SSDT rejects it too: SQL70001)",
    ),
    (
        "DropColumnSkipped",
        "columns belong to their table's definition: DacFx drops them whatever DropObjectsNotInSource says",
    ),
    (
        "DropIndexSkipped",
        "indexes of a kept table belong to its definition: DacFx drops them whatever DropObjectsNotInSource says",
    ),
];

/// (operation, object kind, lower-case leaf name).
type Op = (String, String, String);

/// An operation with the lower-case leaf name of the table it belongs to (constraints, indexes).
type Owned = (Op, Option<String>);

fn owned(op: Op, owner: Option<&str>) -> Owned {
    (op, owner.map(|o| unquote(o).to_lowercase()))
}

fn op(action: &str, object: &str, name: &str) -> Op {
    (
        action.to_string(),
        object.to_string(),
        unquote(name).to_lowercase(),
    )
}

fn unquote(name: &str) -> String {
    let name = name.trim().trim_end_matches([';', ',']);
    let leaf = name.rsplit('.').next().unwrap_or(name);
    leaf.trim_matches(|c| matches!(c, '[' | ']' | '"' | '\'' | '`'))
        .to_string()
}

/// Object kinds at the granularity both sides express.
fn object_word(dacfx_kind: &str) -> &'static str {
    match dacfx_kind {
        kind::TABLE => "table",
        kind::VIEW => "view",
        kind::DML_TRIGGER => "trigger",
        kind::INDEX | "SqlColumnStoreIndex" => "index",
        kind::PROCEDURE => "procedure",
        kind::SCALAR_FUNCTION | kind::INLINE_TVF | kind::MULTI_TVF => "function",
        kind::PRIMARY_KEY | kind::UNIQUE | kind::FOREIGN_KEY | kind::CHECK | kind::DEFAULT => {
            "constraint"
        }
        kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN => "column",
        _ => "other",
    }
}

/// Operations a sqldef `up` text performs.
fn expected_ops(up: &str) -> Vec<Owned> {
    let mut out = Vec::new();
    for line in up.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        let is = |i: usize, w: &str| upper.get(i).is_some_and(|u| u == w);
        let word = |i: usize| words.get(i).copied().unwrap_or("");
        if is(0, "CREATE") {
            // CREATE [UNIQUE] [CLUSTERED|NONCLUSTERED] [COLUMNSTORE] INDEX name ON t
            if let Some(i) = upper.iter().position(|u| u == "INDEX") {
                let on = upper.iter().position(|u| u == "ON").map(|j| word(j + 1));
                out.push(owned(op("create", "index", word(i + 1)), on));
            } else if is(1, "TABLE") {
                out.push(owned(
                    op("create", "table", word(2).trim_end_matches('(')),
                    None,
                ));
            } else if is(1, "VIEW") {
                out.push(owned(op("create", "view", word(2)), None));
            } else if is(1, "TRIGGER") {
                out.push(owned(op("create", "trigger", word(2)), None));
            } else if is(1, "PROCEDURE") || is(1, "PROC") {
                out.push(owned(op("create", "procedure", word(2)), None));
            } else if is(1, "FUNCTION") {
                out.push(owned(op("create", "function", word(2)), None));
            }
        } else if is(0, "ALTER") && is(1, "TABLE") {
            let table = word(2);
            if is(3, "ADD") && (is(4, "CONSTRAINT")) {
                out.push(owned(op("create", "constraint", word(5)), Some(table)));
            } else if is(3, "ADD")
                && ["PRIMARY", "UNIQUE", "CHECK", "DEFAULT", "FOREIGN"]
                    .iter()
                    .any(|k| is(4, k))
            {
                out.push(owned(op("create", "constraint", table), Some(table)));
            } else if is(3, "DROP") && is(4, "CONSTRAINT") {
                out.push(owned(op("drop", "constraint", word(5)), Some(table)));
            } else {
                out.push(owned(op("alter", "table", table), None));
            }
        } else if is(0, "DROP") {
            let what = upper.get(1).map(String::as_str).unwrap_or("");
            let object = match what {
                "TABLE" => "table",
                "VIEW" => "view",
                "INDEX" => "index",
                "TRIGGER" => "trigger",
                "PROCEDURE" | "PROC" => "procedure",
                "FUNCTION" => "function",
                _ => "other",
            };
            let on = if is(3, "ON") { Some(word(4)) } else { None };
            out.push(owned(op("drop", object, word(2)), on));
        } else if (is(0, "EXEC") || is(0, "EXECUTE"))
            && upper.get(1).is_some_and(|u| u.starts_with("SP_RENAME"))
        {
            let args: Vec<&str> = line
                .split_once("sp_rename")
                .map_or("", |(_, rest)| rest)
                .split(',')
                .collect();
            let new_name = args.get(1).copied().unwrap_or("");
            let object = match args.get(2).map(|a| unquote(a).to_ascii_uppercase()) {
                Some(t) if t == "COLUMN" => "column",
                _ => "object",
            };
            out.push(owned(op("rename", object, new_name), None));
        }
        // `-- Skipped: ...` lines are statements sqldef does not run.
    }
    out
}

/// Operations a plan performs, and the tables it rebuilds.
fn actual_ops(plan: &Plan) -> (Vec<Owned>, Vec<String>) {
    let mut out = Vec::new();
    let mut rebuilt = Vec::new();
    for step in &plan.steps {
        if step.kind == StepKind::RebuildTable {
            rebuilt.push(step.name.leaf().to_lowercase());
        }
        let owner = step
            .desired
            .as_ref()
            .or(step.current.as_ref())
            .and_then(view::owner)
            .map(|o| o.leaf().to_string());
        let object = object_word(&step.object_kind);
        let name = step.name.leaf();
        let entry = match step.kind {
            StepKind::CreateTable => op("create", "table", name),
            StepKind::DropTable => op("drop", "table", name),
            StepKind::AlterTable | StepKind::RebuildTable => op("alter", "table", name),
            StepKind::AddConstraint | StepKind::AddForeignKey => op("create", "constraint", name),
            StepKind::DropConstraint | StepKind::DropForeignKey => op("drop", "constraint", name),
            StepKind::CreateIndex => op("create", "index", name),
            StepKind::DropIndex => op("drop", "index", name),
            StepKind::CreateProgrammable | StepKind::CreateTrigger => op(
                if step.current.is_some() {
                    "alter"
                } else {
                    "create"
                },
                object,
                name,
            ),
            StepKind::DropProgrammable | StepKind::DropTrigger => op("drop", object, name),
            StepKind::Rename => op(
                "rename",
                if object == "column" {
                    "column"
                } else {
                    "object"
                },
                name,
            ),
            StepKind::PreDeploy | StepKind::PostDeploy | StepKind::RecordRefactorLog => continue,
            other if other.is_drop() => op("drop", object, name),
            _ => op("create", object, name),
        };
        out.push(owned(entry, owner.as_deref()));
    }
    (out, rebuilt)
}

/// Both sides at one granularity: constraints of tables created or dropped in the same
/// migration are part of that CREATE or DROP (sqldef writes foreign keys inside CREATE TABLE,
/// DacFx adds them after), and a rebuilt table (dac's copy into a new table) brings its own
/// constraints and indexes. Sorted, with repeated `alter table x` counted once (sqldef writes one
/// ALTER per column).
fn normalise(expected: Vec<Owned>, actual: Vec<Owned>, rebuilt: &[String]) -> (Vec<Op>, Vec<Op>) {
    let whole: Vec<String> = expected
        .iter()
        .chain(&actual)
        .filter(|((action, object, _), _)| object == "table" && action != "alter")
        .map(|((_, _, name), _)| name.clone())
        .collect();
    let keep = |(op, owner): &Owned| {
        let Some(owner) = owner else { return true };
        let subsumed = (op.1 == "constraint" && whole.contains(owner))
            || (matches!(op.1.as_str(), "constraint" | "index") && rebuilt.contains(owner));
        !subsumed
    };
    let project = |ops: Vec<Owned>| {
        let mut ops: Vec<Op> = ops.into_iter().filter(keep).map(|(op, _)| op).collect();
        ops.sort();
        ops.dedup_by(|a, b| a == b && a.0 == "alter" && a.1 == "table");
        ops
    };
    (project(expected), project(actual))
}

/// Runs one case; `Err` says why it failed.
fn run_case(case: &Case, root: &Path) -> Result<(), String> {
    let current = build(&root.join("current"), &case.current);
    let desired = build(&root.join("desired"), &case.desired);
    if case.error.is_some() {
        return match (current, desired) {
            (Ok(_), Ok(_)) => Err("expected an error, but build and plan succeeded".into()),
            _ => Ok(()),
        };
    }
    let current = current.map_err(|e| format!("build current: {e}"))?;
    let desired = desired.map_err(|e| format!("build desired: {e}"))?;

    // (a) every rendered statement parses.
    let (_, forward) = plan_between(&current, &desired, case.enable_drop);
    let rendered = script::render(&forward, &SqlServer);
    // MSSQLDEF_SHOW=<case> prints the case's statements, for looking into one case.
    if std::env::var("MSSQLDEF_SHOW").is_ok_and(|n| n == case.name) {
        for batch in &rendered.batches {
            println!("-- {}", batch.comment);
            for statement in &batch.statements {
                println!("{statement};");
            }
        }
    }
    for batch in &rendered.batches {
        for statement in &batch.statements {
            check_statement(statement)
                .map_err(|e| format!("(a) {}: {e}\n{statement}", batch.comment))?;
        }
    }
    // (b) the operations agree with `up`.
    if let Some(up) = &case.up {
        let (actual, rebuilt) = actual_ops(&forward);
        let (expected, actual) = normalise(expected_ops(up), actual, &rebuilt);
        if expected != actual {
            return Err(format!(
                "(b) operations differ\n  expected {expected:?}\n  actual   {actual:?}"
            ));
        }
    }
    // (c) desired against itself is empty.
    let (diff_empty, same) = plan_between(&desired, &desired, true);
    if !diff_empty || !same.is_empty() {
        let steps: Vec<String> = same
            .steps
            .iter()
            .map(|s| format!("{} {}", s.kind.as_str(), s.name))
            .collect();
        return Err(format!(
            "(c) desired against itself is not empty: {steps:?}"
        ));
    }
    Ok(())
}

#[test]
fn mssqldef_offline_conformance() {
    let Some(shared) = dac_tests::shared_dir("mssqldef offline") else {
        return;
    };
    let cases = load_cases(&shared.join("conformance/sqldef/cmd/mssqldef"));
    assert!(!cases.is_empty(), "no mssqldef cases found");
    let known: BTreeMap<&str, &str> = KNOWN_FAILURES.iter().copied().collect();
    let mut passed = 0;
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    for case in &cases {
        let root = tempfile::tempdir().expect("temp dir");
        let result = std::panic::catch_unwind(|| run_case(case, root.path()))
            .unwrap_or_else(|_| Err("PANIC".into()));
        match (&result, known.get(case.name.as_str())) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(_)) => {
                passed += 1;
                now_passing.push(case.name.clone());
            }
            (Err(e), None) => unexpected.push(format!("{}: {e}", case.name)),
            (Err(e), Some(reason)) => println!("  known failure {}: {reason}\n    {e}", case.name),
        }
    }
    dac_tests::summary(&format!(
        "conformance mssqldef-offline: {passed}/{} passed",
        cases.len()
    ));
    for name in known.keys() {
        assert!(
            cases.iter().any(|c| c.name == *name),
            "known failure {name} is not a case"
        );
    }
    assert!(
        unexpected.is_empty(),
        "{} unexpected failures:\n{}",
        unexpected.len(),
        unexpected.join("\n\n")
    );
    assert!(
        now_passing.is_empty(),
        "known failures now pass; remove them from KNOWN_FAILURES: {now_passing:?}"
    );
}
