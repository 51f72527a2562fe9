//! sqlfluff's `tsql` dialect as a T-SQL grammar independent of dac's own check
//! (`source/tsql/check.rs`, written with the writer and sharing its blind spots): every batch
//! dac writes for SQL Server in the tests is parsed by sqlfluff, and a batch it cannot parse
//! fails the suite unless it is on the reviewed list of sqlfluff's own gaps
//! (`tsql_sqlfluff_known_gaps.tsv`: a text the batch holds, and why sqlfluff is wrong there).
//!
//! Batches: the SQL Server T-SQL of the golden snapshots (upgrade scripts, registration,
//! side-by-side), every corpus package deployed from empty, the corpus's version chains
//! upgraded step by step, and the driver's catalog queries. sqlfluff parses ~15 batches a second, so the corpus deploys are
//! sampled deterministically (every Nth distinct batch, N in the headline); everything else is
//! parsed whole. sqlfluff is installed by `scripts/test.sh` into `target/sqlfluff-venv`
//! (version pinned in `sqlfluff.version`); without it this test fails, naming the command.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dac_engine::compare;
use dac_engine::dialect::{Dialect, SqlServer};
use dac_engine::package::{Package, read};
use dac_engine::plan::{self, PlanOptions};
use dac_engine::script;

/// The sqlfluff version `scripts/test.sh` installs.
const VERSION: &str = include_str!("sqlfluff.version");
/// Batches sqlfluff cannot parse because of its own grammar: `text<TAB>reason` per line.
const KNOWN_GAPS: &str = include_str!("tsql_sqlfluff_known_gaps.tsv");
/// About how many corpus batches to parse (sqlfluff is slow; the rest are sampled out).
const CORPUS_BUDGET: usize = 1200;
/// sqlfluff processes run side by side.
const PROCESSES: usize = 2;

fn sqlfluff() -> PathBuf {
    let path = dac_tests::workspace_root().join("target/sqlfluff-venv/bin/sqlfluff");
    let version = Command::new(&path).arg("--version").output();
    match version {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains(VERSION.trim()) => path,
        other => panic!(
            "NOT RUN: sqlfluff {} is needed at {} ({other:?}); `bash scripts/test.sh` installs it, or: python3 -m venv target/sqlfluff-venv && target/sqlfluff-venv/bin/pip install sqlfluff=={}",
            VERSION.trim(),
            path.display(),
            VERSION.trim()
        ),
    }
}

/// The SQL Server batches of the golden snapshots: each snapshot's T-SQL split at `GO`,
/// without SQLCMD commands (`:setvar`, `:on error exit`: sqlcmd's, not T-SQL).
fn snapshot_batches(out: &mut Vec<(String, String)>) {
    let dir = dac_tests::workspace_root().join("tests/tests/snapshots");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        // After insta's header.
        let body = text.splitn(3, "---\n").nth(2).unwrap_or("");
        let tsql = if name.starts_with("scripts__") {
            match body.split("===== ").find(|s| s.starts_with("sqlserver")) {
                Some(section) => section,
                None => continue,
            }
        } else if name.starts_with("sqlserver_offline__") {
            body
        } else {
            // corpus_deploy snapshots are the corpus deploys below, parsed there.
            continue;
        };
        for (i, batch) in tsql.split("\nGO\n").enumerate() {
            let batch: String = batch
                .lines()
                .filter(|l| {
                    !l.starts_with(':')
                        && !l.starts_with("step: ")
                        && !l.starts_with("hazard: ")
                        && !l.starts_with("sqlserver")
                })
                .collect::<Vec<_>>()
                .join("\n");
            if !batch.trim().is_empty() {
                out.push((format!("{name} batch {}", i + 1), batch));
            }
        }
    }
}

/// The statements of `plan`'s script; not those of objects the plan refuses to create (an
/// index whose package leaves its table empty: the script is never run).
fn statements(plan: &plan::Plan, origin: &str, out: &mut Vec<(String, String)>) {
    let script = script::render(plan, &SqlServer);
    let blocked: Vec<String> = plan.blockers().map(|h| h.object.to_string()).collect();
    for (batch, step) in script.batches.iter().zip(&plan.steps) {
        if blocked.contains(&step.name.to_string()) {
            continue;
        }
        for statement in &batch.statements {
            out.push((format!("{origin}: {}", batch.comment), statement.clone()));
        }
    }
}

fn corpus_batches(
    shared: &Path,
    deploys: &mut Vec<(String, String)>,
    upgrades: &mut Vec<(String, String)>,
) {
    let load = |path: &Path| -> Package { read(path, &Default::default()).unwrap() };
    for path in dac_tests::corpus_dacpacs(shared) {
        let package = load(&path);
        let plan = plan::create_all(
            &package.model,
            SqlServer.capabilities(),
            &PlanOptions::for_package(&package),
        );
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        statements(&plan, &name, deploys);
    }
    // The corpus's version chains, step by step.
    let dacpacs = shared.join("corpus/dacpac");
    let chains: [&[&str]; 2] = [
        &[
            "maciejw__dacpac-data-migrations/000 Empty.dacpac",
            "maciejw__dacpac-data-migrations/001 App deployment.dacpac",
            "maciejw__dacpac-data-migrations/002 App upgrade.dacpac",
            "maciejw__dacpac-data-migrations/003 Db upgrade.dacpac",
            "maciejw__dacpac-data-migrations/004 App upgrade.dacpac",
            "maciejw__dacpac-data-migrations/005 Db upgrade.dacpac",
        ],
        &[
            "Herdo__SSDTLifecycleExtension/TestDatabase_Empty.dacpac",
            "Herdo__SSDTLifecycleExtension/TestDatabase_WithAuthorTable.dacpac",
            "Herdo__SSDTLifecycleExtension/TestDatabase_AuthorWithDefaultConstraints.dacpac",
            "Herdo__SSDTLifecycleExtension/TestDatabase_AuthorWithLessDefaultConstraints.dacpac",
            "Herdo__SSDTLifecycleExtension/TestDatabase_WithPreAndPostDeployment.dacpac",
        ],
    ];
    for chain in chains {
        for pair in chain.windows(2) {
            let (current, desired) = (load(&dacpacs.join(pair[0])), load(&dacpacs.join(pair[1])));
            let options = compare::CompareOptions {
                renames: desired
                    .refactor_log
                    .as_ref()
                    .map(compare::renames_from_refactor_log)
                    .unwrap_or_default(),
                ..dac_engine::upgrade::compare_options(dac_engine::model::Platform::SqlServer)
            };
            let diff = compare::compare(&current.model, &desired.model, &options);
            let plan = plan::plan(
                &diff,
                &current.model,
                &desired.model,
                SqlServer.capabilities(),
                &PlanOptions::for_package(&desired),
            );
            statements(&plan, &format!("{} -> {}", pair[0], pair[1]), upgrades);
        }
    }
}

/// The T-SQL of every mssqldef case dac scripts (current -> desired).
fn mssqldef_batches(shared: &Path, out: &mut Vec<(String, String)>) {
    let cases = dac_tests::mssqldef::load_cases(&shared.join("conformance/sqldef/cmd/mssqldef"));
    let dir = tempfile::tempdir().unwrap();
    for (i, case) in cases.iter().enumerate() {
        if case.error.is_some() {
            continue;
        }
        let root = dir.path().join(format!("case{i}"));
        let (Ok(current), Ok(desired)) = (
            dac_tests::mssqldef::build(&root.join("current"), &case.current),
            dac_tests::mssqldef::build(&root.join("desired"), &case.desired),
        ) else {
            // The conformance suite reports cases that do not build.
            continue;
        };
        let (_, plan) = dac_tests::mssqldef::plan_between(&current, &desired, case.enable_drop);
        statements(&plan, &format!("mssqldef {}", case.name), out);
    }
}

/// Whether sqlfluff parsed each file of `dir` whole: (file name, parsed).
/// The catalog queries the SQL Server driver sends (`engine/src/driver/sqlserver/queries`),
/// each file one batch.
fn catalog_query_batches(out: &mut Vec<(String, String)>) {
    let dir = dac_tests::workspace_root().join("engine/src/driver/sqlserver/queries");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no catalog queries in {}", dir.display());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        out.push((format!("catalog query {name}"), text));
    }
}

fn parse_dir(sqlfluff: &Path, dir: &Path) -> std::process::Child {
    Command::new(sqlfluff)
        .args(["parse", "--dialect", "tsql", "--format", "json", "--nofail"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", sqlfluff.display()))
}

#[test]
fn sqlfluff_parses_every_batch_dac_writes_for_sql_server() {
    let sqlfluff = sqlfluff();
    let Some(shared) = dac_tests::shared_dir("tsql sqlfluff") else {
        return;
    };
    let mut whole: Vec<(String, String)> = Vec::new();
    snapshot_batches(&mut whole);
    let n_snapshot = whole.len();
    let (mut deploys, mut upgrades) = (Vec::new(), Vec::new());
    corpus_batches(&shared, &mut deploys, &mut upgrades);
    let n_upgrade = upgrades.len();
    whole.extend(upgrades);
    let n_before = whole.len();
    mssqldef_batches(&shared, &mut whole);
    let n_mssqldef = whole.len() - n_before;
    let n_before = whole.len();
    catalog_query_batches(&mut whole);
    let n_catalog = whole.len() - n_before;
    // Distinct corpus deploy batches, every Nth (by position, so the same ones each run).
    let mut seen = BTreeSet::new();
    deploys.retain(|(_, text)| seen.insert(text.clone()));
    let stride = deploys.len().div_ceil(CORPUS_BUDGET).max(1);
    let n_deploys = deploys.len();
    // Batches a known gap names are always parsed, so each gap on the list is checked.
    let gap_needles: Vec<&str> = KNOWN_GAPS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t').map(|(needle, _)| needle))
        .collect();
    let sampled: Vec<(String, String)> = deploys
        .into_iter()
        .enumerate()
        .filter(|(i, (_, text))| i % stride == 0 || gap_needles.iter().any(|n| text.contains(n)))
        .map(|(_, batch)| batch)
        .collect();
    let n_sampled = sampled.len();
    whole.extend(sampled);
    let mut seen = BTreeSet::new();
    whole.retain(|(_, text)| seen.insert(text.clone()));

    let dir = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..PROCESSES)
        .map(|i| {
            let d = dir.path().join(format!("part{i}"));
            std::fs::create_dir(&d).unwrap();
            // sqlfluff skips files over 20 kB unless told not to: every batch is parsed.
            std::fs::write(
                d.join(".sqlfluff"),
                "[sqlfluff]\ndialect = tsql\nlarge_file_skip_byte_limit = 0\n",
            )
            .unwrap();
            d
        })
        .collect();
    for (i, (_, text)) in whole.iter().enumerate() {
        std::fs::write(
            dirs[i % PROCESSES].join(format!("b{i:06}.sql")),
            format!("{text}\n"),
        )
        .unwrap();
    }
    let started = Instant::now();
    let children: Vec<_> = dirs.iter().map(|d| parse_dir(&sqlfluff, d)).collect();
    let mut parsed: Vec<Option<bool>> = vec![None; whole.len()];
    for child in children {
        let out = child.wait_with_output().unwrap();
        let files: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "sqlfluff's output is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        for file in files.as_array().expect("a list of files") {
            let path = file["filepath"].as_str().unwrap_or("");
            let index: usize = Path::new(path)
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.strip_prefix('b'))
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("unexpected file {path}"));
            let segments = &file["segments"];
            parsed[index] =
                Some(!segments.is_null() && !segments.to_string().contains("\"unparsable\""));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let gaps: Vec<(&str, &str)> = KNOWN_GAPS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once('\t')
                .unwrap_or_else(|| panic!("bad gap line: {l}"))
        })
        .collect();
    let (mut failures, mut known) = (Vec::new(), 0);
    let mut gaps_used = BTreeSet::new();
    for ((origin, text), ok) in whole.iter().zip(&parsed) {
        match ok {
            Some(true) => {}
            Some(false) => {
                let matching: Vec<&str> = gaps
                    .iter()
                    .filter(|(needle, _)| text.contains(needle))
                    .map(|(needle, _)| *needle)
                    .collect();
                if matching.is_empty() {
                    failures.push(format!("{origin}:\n{text}"));
                } else {
                    known += 1;
                    gaps_used.extend(matching);
                }
            }
            None => failures.push(format!("{origin}: sqlfluff did not report it\n{text}")),
        }
    }
    dac_tests::summary(&format!(
        "tsql sqlfluff {}: {} batches parsed ({n_snapshot} snapshot, {n_upgrade} corpus upgrade, {n_mssqldef} mssqldef, {n_catalog} catalog query, {n_sampled} of {n_deploys} distinct corpus deploy batches: every {stride}th and those a known gap names), {} unexplained failures, {known} known sqlfluff gaps, {seconds:.0} s on {PROCESSES} processes",
        VERSION.trim(),
        whole.len(),
        failures.len()
    ));
    assert!(
        failures.is_empty(),
        "sqlfluff cannot parse {} batches dac writes:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    for (needle, reason) in &gaps {
        assert!(
            gaps_used.contains(needle),
            "known gap {needle:?} ({reason}) no longer occurs: remove it from the list"
        );
    }
}
