//! sqldef's mssqldef migration cases as SQL Server projects: read, built through a package's
//! bytes (a build dac cannot load is a failure) and planned, for the offline conformance suite
//! and the sqlfluff check of the T-SQL they give.

use std::path::Path;

use dac_engine::compare::{self, CompareOptions};
use dac_engine::dialect::{Dialect, SqlServer};
use dac_engine::model::Dsp;
use dac_engine::package::Package;
use dac_engine::plan::{self, Plan, PlanOptions};
use dac_engine::source::{self, BuildOptions};

/// One sqldef case.
pub struct Case {
    /// The case's name.
    pub name: String,
    /// The schema before.
    pub current: String,
    /// The schema wanted.
    pub desired: String,
    /// The statements sqldef gives for the change.
    pub up: Option<String>,
    /// The error sqldef expects instead.
    pub error: Option<String>,
    /// Whether drops are allowed.
    pub enable_drop: bool,
}

/// Every case of the mssqldef YAML files in `dir`.
pub fn load_cases(dir: &Path) -> Vec<Case> {
    crate::conformance::sqldef_documents(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(_, name, case)| {
            let text = |field: &str| case[field].as_str().map(str::to_string);
            Case {
                name,
                current: text("current").unwrap_or_default(),
                desired: text("desired").unwrap_or_default(),
                up: text("up"),
                error: text("error"),
                enable_drop: case["enable_drop"].as_bool().unwrap_or(true),
            }
        })
        .collect()
}

/// A case's SQL as a project file: as written, without `GO` between its statements (views and
/// triggers after tables, as sqldef's users write them). sqldef does not manage schemas: a case
/// that creates tables in a schema other than `dbo` runs on a database where the schema exists,
/// so the project declares it (a project that uses an undeclared schema does not build, as with
/// DacFx).
pub fn as_project_sql(sql: &str) -> String {
    let mut schemas: Vec<String> = Vec::new();
    for line in sql.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [create, table, name, ..] = words.as_slice() else {
            continue;
        };
        if !create.eq_ignore_ascii_case("CREATE") || !table.eq_ignore_ascii_case("TABLE") {
            continue;
        }
        if let Some((schema, _)) = name.split_once('.') {
            let schema = schema.trim_matches(|c| c == '[' || c == ']');
            if !schema.eq_ignore_ascii_case("dbo") && !schemas.iter().any(|s| s == schema) {
                schemas.push(schema.to_string());
            }
        }
    }
    let mut out = String::new();
    for schema in schemas {
        out.push_str(&format!("CREATE SCHEMA [{schema}]\nGO\n"));
    }
    out.push_str(sql);
    out
}

/// Builds `sql` as a SQL Server project in `dir`, then reads the package back from its bytes.
pub fn build(dir: &Path, sql: &str) -> Result<Package, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("schema.sql"), as_project_sql(sql)).map_err(|e| e.to_string())?;
    let options = BuildOptions {
        platform: Dsp::from_short_name("Sql160"),
        ..Default::default()
    };
    let built = source::build(dir, &options).map_err(|e| e.to_string())?;
    // What `dac build` writes must be what dac then reads: the package goes through its bytes.
    let bytes = dac_engine::package::to_bytes(&built).map_err(|e| e.to_string())?;
    let path = dir.join("built.dacpac");
    dac_engine::package::read_bytes(&bytes, &path, &Default::default())
        .map_err(|e| format!("the built package does not load: {e}"))
}

/// Whether `current` and `desired` compare equal, and the plan from one to the other.
pub fn plan_between(current: &Package, desired: &Package, enable_drop: bool) -> (bool, Plan) {
    let renames = desired
        .refactor_log
        .as_ref()
        .map(compare::renames_from_refactor_log)
        .unwrap_or_default();
    let options = CompareOptions {
        drop_objects_not_in_source: enable_drop,
        renames,
        ..Default::default()
    };
    let diff = compare::compare(&current.model, &desired.model, &options);
    let plan_options = PlanOptions {
        refactor_log: desired.refactor_log.clone(),
        ..Default::default()
    };
    let plan = plan::plan(
        &diff,
        &current.model,
        &desired.model,
        SqlServer.capabilities(),
        &plan_options,
    );
    (diff.is_empty(), plan)
}
