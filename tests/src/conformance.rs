//! Live conformance: one sqldef-style case (`current`, `desired`) run against a real database
//! through any [`Driver`].
//!
//! [`run_case`] applies `current` directly, checks that inspection gives what the builder gives,
//! puts a row into every table the change leaves alone, upgrades to `desired` and back to
//! `current` with dac's own plan and script, checking after each upgrade that the live schema
//! compares empty with the source, that a second plan is empty, and at the end that the rows are
//! still there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dac_engine::compare::{CompareOptions, Diff, compare};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::Driver;
use dac_engine::model::{Model, ObjectName, Platform, kind, view};
use dac_engine::plan::{PlanOptions, plan};
use dac_engine::script::render;
use dac_engine::source::generic::{into_model, parse_batch};
use dac_engine::upgrade;
use yaml_rust2::{Yaml, YamlLoader};

/// One sqldef test case.
#[derive(Debug, Clone)]
pub struct Case {
    /// `file.yml:Name`.
    pub name: String,
    /// Schema the database starts with (may be empty).
    pub current: String,
    /// Schema to upgrade to.
    pub desired: String,
    /// Whether objects missing from the source are dropped (sqldef `enable_drop`, default true).
    pub enable_drop: bool,
}

/// Every case of every `tests*.yml` in a sqldef command folder, in file then case order, as
/// (file name, case name, the case's YAML): the one reader of sqldef's case files.
pub fn sqldef_documents(dir: &Path) -> Result<Vec<(String, String, Yaml)>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("tests") && name.ends_with(".yml")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let docs =
            YamlLoader::load_from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let Some(Yaml::Hash(cases)) = docs.into_iter().next() else {
            continue;
        };
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (name, case) in cases {
            out.push((
                file_name.clone(),
                name.as_str().unwrap_or("?").to_string(),
                case,
            ));
        }
    }
    Ok(out)
}

/// The cases of every `tests*.yml` in a sqldef command folder, in file then case order.
pub fn sqldef_cases(dir: &Path) -> Result<Vec<Case>, String> {
    Ok(sqldef_documents(dir)?
        .into_iter()
        .map(|(file_name, name, case)| Case {
            name: format!("{file_name}:{name}"),
            current: case["current"].as_str().unwrap_or("").to_string(),
            desired: case["desired"].as_str().unwrap_or("").to_string(),
            enable_drop: case["enable_drop"].as_bool().unwrap_or(true),
        })
        .collect())
}

/// sqldef schema files put several CREATE statements in one batch; SQL Server projects (and
/// the server) need CREATE VIEW/TRIGGER/... alone in theirs, so every statement that starts a
/// line with CREATE starts a new `GO` batch.
pub fn tsql_batches(sql: &str) -> String {
    let mut out = String::new();
    for line in sql.lines() {
        let starts_create = line
            .get(..7)
            .is_some_and(|head| head.eq_ignore_ascii_case("create "));
        if starts_create && !out.trim().is_empty() {
            out.push_str("GO\n");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The model the project builder gives for `sql`.
pub fn model_of(platform: Platform, sql: &str, label: &str) -> Result<Model, String> {
    if platform == Platform::SqlServer {
        return dac_engine::source::build_tsql_text(
            &tsql_batches(sql),
            Path::new(label),
            &dac_engine::model::Dsp::default_sqlserver(),
        )
        .map_err(|e| e.to_string());
    }
    let elements = parse_batch(platform, sql, Path::new(label), 1).map_err(|e| e.to_string())?;
    Ok(into_model(platform, elements))
}

/// A diff as one line per change, for failure messages.
pub fn describe(diff: &Diff) -> String {
    diff.differences()
        .map(|c| {
            let details: Vec<String> = c
                .details
                .iter()
                .map(|d| {
                    format!(
                        "{}: {} -> {}",
                        d.path,
                        d.current.as_deref().unwrap_or("-"),
                        d.desired.as_deref().unwrap_or("-")
                    )
                })
                .collect();
            format!(
                "{} {} {} [{}]",
                c.action.as_str(),
                c.kind,
                c.name,
                details.join("; ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// The options `dac` uses: objects missing from the source dropped unless the case says not,
/// column order compared only where the platform keeps it.
fn options(case: &Case, platform: Platform) -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: case.enable_drop,
        ignore_column_order: !dialect_for(platform)
            .capabilities()
            .column_order_significant,
        ..CompareOptions::default()
    }
}

/// Plans `live -> desired`, renders and runs it; returns the number of statements run.
fn upgrade_to(
    driver: &mut dyn Driver,
    desired: &Model,
    options: &CompareOptions,
    step: &str,
) -> Result<usize, String> {
    let current = driver
        .inspect()
        .map_err(|e| format!("{step}: inspect: {e}"))?;
    let diff = compare(&current, desired, options);
    let dialect = dialect_for(desired.platform());
    let plan_options = PlanOptions {
        block_on_possible_data_loss: false,
        ..PlanOptions::default()
    };
    let the_plan = plan(
        &diff,
        &current,
        desired,
        dialect.capabilities(),
        &plan_options,
    );
    let script = render(&the_plan, dialect);
    let text = script.text(dialect);
    upgrade::execute(driver, &script)
        .map_err(|e| format!("{step}: upgrade failed: {e}\n{text}"))?;
    let after = driver
        .inspect()
        .map_err(|e| format!("{step}: inspect after upgrade: {e}"))?;
    let left = compare(&after, desired, options);
    if !left.is_empty() {
        return Err(format!(
            "{step}: live schema differs from the source after the upgrade:\n  {}\nscript:\n{text}",
            describe(&left)
        ));
    }
    let again = plan(
        &left,
        &after,
        desired,
        dialect.capabilities(),
        &plan_options,
    );
    if !again.is_empty() {
        return Err(format!(
            "{step}: a second plan is not empty\nscript:\n{text}"
        ));
    }
    Ok(script.n_statements())
}

/// Tables of `model` that no change of `diff` touches (neither the table nor anything it owns).
fn untouched_tables(model: &Model, diffs: &[&Diff]) -> Vec<ObjectName> {
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for diff in diffs {
        for change in diff.differences() {
            for element in [&change.current, &change.desired].into_iter().flatten() {
                if let Some(owner) = view::owner(element) {
                    touched.insert(owner.key(false));
                }
            }
            touched.insert(change.name.key(false));
        }
    }
    model
        .of_kind(kind::TABLE)
        .filter_map(|t| t.name.clone())
        .filter(|n| !touched.contains(&n.key(false)))
        .collect()
}

fn quote(name: &ObjectName) -> String {
    name.parts()
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// A literal a column of this declared type takes.
fn sample_value(type_name: Option<&str>, n: usize) -> String {
    let t = type_name.unwrap_or("").to_ascii_lowercase();
    if t.contains("int") || t.contains("serial") {
        n.to_string()
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        format!("'v{n}'")
    } else if t.contains("real") || t.contains("floa") || t.contains("doub") || t.contains("num") {
        format!("{n}.5")
    } else if t.contains("bool") {
        "true".into()
    } else if t.contains("date") || t.contains("time") {
        "'2020-01-02 03:04:05'".into()
    } else {
        n.to_string()
    }
}

/// Inserts one row into each table (skipping tables that refuse it); returns the tables
/// that took a row.
fn insert_rows(driver: &mut dyn Driver, model: &Model, tables: &[ObjectName]) -> Vec<ObjectName> {
    let mut filled = Vec::new();
    for name in tables {
        let Some(table) = model.find(kind::TABLE, name) else {
            continue;
        };
        let columns: Vec<_> = view::TableView(table)
            .columns()
            .filter(|c| c.computed_expression().is_none())
            .collect();
        if columns.is_empty() {
            continue;
        }
        let names: Vec<String> = columns
            .iter()
            .map(|c| format!("\"{}\"", c.name().replace('"', "\"\"")))
            .collect();
        let values: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| sample_value(c.data_type().map(|t| t.base()).as_deref(), 700 + i))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote(name),
            names.join(", "),
            values.join(", ")
        );
        if driver.execute(&sql).is_ok() {
            filled.push(name.clone());
        }
    }
    filled
}

type Snapshot = BTreeMap<String, Vec<Vec<Option<String>>>>;

fn snapshot(driver: &mut dyn Driver, tables: &[ObjectName]) -> Result<Snapshot, String> {
    let mut out = BTreeMap::new();
    for name in tables {
        let mut rows = driver
            .query(&format!("SELECT * FROM {}", quote(name)))
            .map_err(|e| format!("reading {name}: {e}"))?;
        rows.sort();
        out.insert(name.to_string(), rows);
    }
    Ok(out)
}

/// What a passing case did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Statements run by the two upgrades.
    pub statements: usize,
    /// Tables that held a row through both upgrades.
    pub tables_with_rows: usize,
}

/// Runs one case on an empty database; `Err` says which step failed and why.
pub fn run_case(driver: &mut dyn Driver, case: &Case) -> Result<Outcome, String> {
    let platform = driver.platform();
    let current = model_of(platform, &case.current, &format!("{}.current", case.name))
        .map_err(|e| format!("build current: {e}"))?;
    let desired = model_of(platform, &case.desired, &format!("{}.desired", case.name))
        .map_err(|e| format!("build desired: {e}"))?;
    let options = options(case, platform);

    if !case.current.trim().is_empty() {
        driver
            .execute(&case.current)
            .map_err(|e| format!("apply current: {e}"))?;
    }
    let live = driver
        .inspect()
        .map_err(|e| format!("inspect current: {e}"))?;
    let drift = compare(&live, &current, &CompareOptions::default());
    if !drift.is_empty() {
        return Err(format!(
            "inspect current: live schema differs from the build of the same DDL:\n  {}",
            describe(&drift)
        ));
    }

    // Rows in the tables neither direction changes.
    let forward = compare(&live, &desired, &options);
    let backward = compare(&desired, &live, &options);
    let untouched = untouched_tables(&live, &[&forward, &backward]);
    let filled = insert_rows(driver, &live, &untouched);
    let before = snapshot(driver, &filled)?;

    let forward = upgrade_to(driver, &desired, &options, "current -> desired")?;
    let backward = upgrade_to(driver, &current, &options, "desired -> current")?;

    let after = snapshot(driver, &filled)?;
    if before != after {
        return Err(format!(
            "rows of untouched tables changed:\n  before {before:?}\n  after  {after:?}"
        ));
    }
    Ok(Outcome {
        statements: forward + backward,
        tables_with_rows: filled.len(),
    })
}
