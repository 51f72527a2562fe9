//! Parses the SQLite and PostgreSQL inputs of the sqldef and migra conformance suites with the
//! generic source parser and holds the parse rates to a floor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dac_engine::model::Platform;
use dac_engine::source::generic::parse_source;

/// Floors: the rates reached when the test was written (raise them when the parser improves).
/// sqlite3def: every input parses.
const SQLITE3DEF_FLOOR: (usize, usize) = (102, 102);
/// psqldef: failures are PostgreSQL 18 `WITHOUT OVERLAPS`/`PERIOD` (11), `money '1.00'` typed
/// literals (2), trigger function string arguments (1) and pgvector's `<+>` operator (1).
const PSQLDEF_FLOOR: (usize, usize) = (1370, 1385);
const MIGRA_FLOOR: (usize, usize) = (52, 52);

/// One SQL input: where it came from and its text.
struct Input {
    label: String,
    sql: String,
}

fn sqldef_inputs(dir: &Path) -> Vec<Input> {
    let mut out = Vec::new();
    for (file, name, case) in
        dac_tests::conformance::sqldef_documents(dir).unwrap_or_else(|e| panic!("{e}"))
    {
        for field in ["current", "desired"] {
            if let Some(sql) = case[field].as_str() {
                out.push(Input {
                    label: format!("{file}:{name}.{field}"),
                    sql: sql.to_string(),
                });
            }
        }
    }
    out
}

fn migra_inputs(dir: &Path) -> Vec<Input> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        for f in ["a.sql", "b.sql"] {
            if let Ok(sql) = std::fs::read_to_string(d.join(f)) {
                out.push(Input {
                    label: format!("{}/{f}", d.file_name().unwrap().to_string_lossy()),
                    sql,
                });
            }
        }
    }
    out
}

/// Parses every input; prints the rate and failures grouped by reason; returns (parsed, total).
fn run(suite: &str, platform: Platform, inputs: &[Input]) -> (usize, usize) {
    let mut parsed = 0;
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for input in inputs {
        let result = std::panic::catch_unwind(|| {
            parse_source(platform, &input.sql, Path::new(&input.label), 1).map(|p| p.elements)
        });
        match result {
            Ok(Ok(elements)) => {
                parsed += 1;
                for e in elements {
                    *kinds.entry(e.kind.into()).or_default() += 1;
                }
            }
            Ok(Err(e)) => {
                let text = e.to_string();
                let reason = match &e {
                    dac_engine::Error::Sql { message, .. } => message.chars().take(90).collect(),
                    _ => text.clone(),
                };
                reasons.entry(reason).or_default().push(text);
            }
            Err(_) => reasons
                .entry("PANIC".into())
                .or_default()
                .push(input.label.clone()),
        }
    }
    dac_tests::summary(&format!("parsed {suite}: {parsed}/{}", inputs.len()));
    println!("  element kinds: {kinds:?}");
    let mut sorted: Vec<_> = reasons.into_iter().collect();
    sorted.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    for (reason, examples) in &sorted {
        println!("  {:>4} x {reason}", examples.len());
        println!("         e.g. {}", examples[0]);
    }
    assert!(
        !sorted.iter().any(|(r, _)| r == "PANIC"),
        "{suite}: the parser panicked"
    );
    (parsed, inputs.len())
}

fn assert_floor(suite: &str, got: (usize, usize), floor: (usize, usize)) {
    assert_eq!(
        got.1, floor.1,
        "{suite}: number of inputs changed; update the floor"
    );
    assert!(
        got.0 >= floor.0,
        "{suite}: parse rate dropped from {}/{} to {}/{}",
        floor.0,
        floor.1,
        got.0,
        got.1
    );
}

#[test]
fn generic_sources_parse_conformance_inputs() {
    let Some(shared) = dac_tests::shared_dir("generic sources") else {
        return;
    };
    let conf = shared.join("conformance");
    let sqlite = run(
        "sqlite3def",
        Platform::Sqlite,
        &sqldef_inputs(&conf.join("sqldef/cmd/sqlite3def")),
    );
    let psql = run(
        "psqldef",
        Platform::Postgres,
        &sqldef_inputs(&conf.join("sqldef/cmd/psqldef")),
    );
    let migra = run(
        "migra",
        Platform::Postgres,
        &migra_inputs(&conf.join("migra/tests/FIXTURES")),
    );
    assert_floor("sqlite3def", sqlite, SQLITE3DEF_FLOOR);
    assert_floor("psqldef", psql, PSQLDEF_FLOOR);
    assert_floor("migra", migra, MIGRA_FLOOR);
}
