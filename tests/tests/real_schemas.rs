//! Real application schemas (`../shared/real-schemas/postgres/<app>/v1.sql`, `v2.sql`: a Rails
//! `structure.sql`, pg_dump output, a hand-written schema) against a real PostgreSQL 15.
//!
//! Per app and version, in fresh databases of the test server:
//! * `apply`: `psql -X -v ON_ERROR_STOP=1 -f vN.sql` succeeds;
//! * `build`: a package built from a folder holding the file (`source::build`, postgres) compares
//!   empty with the inspected database through `dac compare`'s path
//!   (`endpoint::load_current_and_desired`);
//! * `extract`: inspect, write a `.dacpac`, read it back, compare with the database: empty;
//! * `upgrade`: v1 applied, one row put in every table that takes one, `upgrade::in_place` to the
//!   v2 package; compare with a database made from v2 directly: empty by dac's compare and by a
//!   normalised `pg_dump -s` diff.
//!
//! `build` and `upgrade` run twice: with the file itself (`file`) and with `pg_dump -s` of the
//! database the file made (`pgdump`). Cases that still fail are listed in
//! `real_schema_known_failures.tsv` (`case<TAB>step<TAB>reason`); a listed case that passes fails
//! the suite, so the list only shrinks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use dac_engine::compare::{CompareOptions, Diff, compare};
use dac_engine::driver::{self, Driver, Target};
use dac_engine::endpoint::load_current_and_desired;
use dac_engine::model::{Dsp, Model, Platform};
use dac_engine::package::{self, Package, ReadOptions};
use dac_engine::source::{self, BuildOptions};
use dac_engine::upgrade::{self, InPlaceOptions};
use dac_tests::postgres::psql_query;
use dac_tests::postgres::server;
use dac_tests::shared_dir;

const KNOWN_FAILURES: &str = include_str!("real_schema_known_failures.tsv");

fn options() -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: true,
        ..upgrade::compare_options(Platform::Postgres)
    }
}

fn describe(diff: &Diff) -> String {
    let n = diff.differences().count();
    let first: Vec<String> = diff
        .differences()
        .take(3)
        .map(|c| {
            let details: Vec<String> = c
                .details
                .iter()
                .take(2)
                .map(|d| {
                    let cut = |s: &Option<String>| {
                        s.as_deref().map(|s| s.chars().take(80).collect::<String>())
                    };
                    format!("{}: {:?} -> {:?}", d.path, cut(&d.current), cut(&d.desired))
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
        .collect();
    format!("{n} differences, first: {}", first.join(" | "))
}

fn psql_file(url: &str, file: &Path) -> Result<(), String> {
    let out = Command::new(dac_tests::postgres::client("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(file)
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn pg_dump(url: &str) -> Result<String, String> {
    dac_tests::postgres::dump_schema(url)
}

/// `pg_dump -s` output without comments, blank lines, `SET`/`set_config` and psql
/// meta-commands, as a sorted list of statements (pg_dump orders by dependencies and names, and
/// an upgraded database may differ in object ids only).
fn normalised(dump: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut cur = String::new();
    for line in dump.lines() {
        let t = line.trim_end();
        if t.is_empty() || t.starts_with("--") || t.starts_with('\\') {
            continue;
        }
        cur.push_str(t.trim_start());
        cur.push(' ');
        if t.ends_with(';') {
            let s = cur.trim().to_string();
            cur.clear();
            if s.starts_with("SET ") || s.contains("set_config(") {
                continue;
            }
            statements.push(s);
        }
    }
    statements.sort();
    statements
}

fn build(folder: &Path) -> Result<Package, String> {
    let options = BuildOptions {
        platform: Some(Dsp::from_short_name("postgres").expect("dsp")),
        ..BuildOptions::default()
    };
    source::build_with_notes(folder, &options)
        .map(|(package, _notes)| package)
        .map_err(|e| format!("build: {e}"))
}

fn connect(url: &str) -> Result<Box<dyn Driver>, String> {
    let target = Target::parse(url).map_err(|e| e.to_string())?;
    driver::connect(&target, false).map_err(|e| format!("connect: {e}"))
}

fn inspect(url: &str) -> Result<Model, String> {
    connect(url)?.inspect().map_err(|e| format!("inspect: {e}"))
}

/// A folder holding one schema file.
fn folder_with(name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(name), text).expect("write schema");
    dir
}

/// Step `build`: the package built from `folder` compares empty with the database.
fn step_build(url: &str, folder: &Path) -> Result<(), String> {
    let folder_text = folder.to_string_lossy().into_owned();
    let (current, desired) =
        load_current_and_desired(url, &folder_text, false).map_err(|e| e.to_string())?;
    let diff = compare(&current.model, &desired.model, &options());
    if diff.is_empty() {
        Ok(())
    } else {
        Err(format!("compare with the database: {}", describe(&diff)))
    }
}

/// Step `extract`: inspect, write, read, compare with the database.
fn step_extract(url: &str) -> Result<(), String> {
    let model = inspect(url)?;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("x.dacpac");
    package::write(&Package::of_model(model, "x", "1.0.0.0"), &path)
        .map_err(|e| format!("write: {e}"))?;
    let back = package::read(&path, &ReadOptions::default()).map_err(|e| format!("read: {e}"))?;
    let live = inspect(url)?;
    let diff = compare(&live, &back.model, &options());
    if diff.is_empty() {
        Ok(())
    } else {
        Err(format!("extracted package: {}", describe(&diff)))
    }
}

/// One row in every table that takes one: columns with defaults keep them, other NOT NULL
/// columns get a literal of their type; tables are retried until no more succeed, so parents
/// come before children. Returns (seeded, tables).
fn seed_rows(url: &str) -> Result<(usize, usize), String> {
    let sql = r#"
DO $seed$
DECLARE r record; stmt text; seeded text[] := '{}'; progress boolean := true; total int;
BEGIN
  SELECT count(*) INTO total FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg_toast%';
  WHILE progress LOOP
    progress := false;
    FOR r IN SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac')
               AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 2 LOOP
      CONTINUE WHEN r.name = ANY (seeded);
      SELECT CASE WHEN count(*) = 0 THEN format('INSERT INTO %s DEFAULT VALUES', r.name)
             ELSE format('INSERT INTO %s (%s) VALUES (%s)', r.name,
                  string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
                  string_agg(CASE
                    WHEN t.typcategory = 'A' THEN '''{}'''
                    WHEN t.typtype = 'e' THEN quote_literal((SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder LIMIT 1))
                    WHEN t.typcategory = 'N' THEN '1'
                    WHEN t.typname = 'bool' THEN 'true'
                    WHEN t.typcategory = 'D' THEN 'now()'
                    WHEN t.typname = 'interval' THEN '''1 day'''
                    WHEN t.typname = 'bytea' THEN '''\x00'''
                    WHEN t.typname IN ('json', 'jsonb') THEN '''{}'''
                    WHEN t.typname = 'uuid' THEN '''00000000-0000-0000-0000-000000000001'''
                    WHEN t.typname IN ('inet', 'cidr') THEN '''127.0.0.1'''
                    WHEN t.typname = 'tsvector' THEN ''''''
                    ELSE '''X''' END || '::' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum))
             END INTO stmt
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
         AND a.attidentity = '' AND a.attgenerated = ''
         AND NOT EXISTS (SELECT 1 FROM pg_attrdef d WHERE d.adrelid = r.oid AND d.adnum = a.attnum);
      BEGIN
        EXECUTE stmt;
        seeded := seeded || r.name;
        progress := true;
      EXCEPTION WHEN others THEN NULL;
      END;
    END LOOP;
  END LOOP;
  PERFORM set_config('dac.seeded', cardinality(seeded) || ' ' || total, false);
END
$seed$;
SELECT current_setting('dac.seeded');
"#;
    let out = psql_query(url, sql)?;
    let mut nums = out
        .split_whitespace()
        .filter_map(|n| n.parse::<usize>().ok());
    match (nums.next(), nums.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(format!("seeding said {out:?}")),
    }
}

/// Step `upgrade`: v1 (from `v1_folder`'s source applied with psql), rows, in-place to the v2
/// package; equal to `v2_url` by dac's compare and by `pg_dump -s`.
fn step_upgrade(
    slug: &str,
    v1_file: &Path,
    v2_folder: &Path,
    v2_url: &str,
    seeded: &mut Vec<String>,
) -> Result<(), String> {
    let url = server().create_database(slug);
    let result = (|| {
        psql_file(&url, v1_file)?;
        let (rows, tables) = seed_rows(&url)?;
        seeded.push(format!("{slug}: {rows} of {tables} tables seeded"));
        let package = build(v2_folder)?;
        let mut driver = connect(&url)?;
        let options = InPlaceOptions {
            allow_data_loss: true,
            allow_drift: true,
            smart_defaults: true,
            compare: upgrade::compare_options(Platform::Postgres),
            variables: Vec::new(),
            // v2 declares some new columns between others: pg_dump (the oracle) sees order.
            rebuild_for_column_order: true,
            block_on: Vec::new(),
            leave_out_uncreatable: false,
            lock_wait: None,
        };
        upgrade::in_place(driver.as_mut(), &package, &options)
            .map_err(|e| format!("in_place: {e}"))?;
        drop(driver);
        let upgraded = inspect(&url)?;
        let direct = inspect(v2_url)?;
        let diff = compare(&direct, &upgraded, &options_without_registry());
        if !diff.is_empty() {
            return Err(format!("upgraded vs v2: {}", describe(&diff)));
        }
        let a = normalised(&pg_dump(&url)?);
        let b = normalised(&pg_dump(v2_url)?);
        if a != b {
            let only_up: Vec<&String> = a.iter().filter(|s| !b.contains(s)).take(2).collect();
            let only_v2: Vec<&String> = b.iter().filter(|s| !a.contains(s)).take(2).collect();
            return Err(format!(
                "pg_dump -s differs: upgraded only {only_up:?}; v2 only {only_v2:?}"
            ));
        }
        Ok(())
    })();
    server().drop_database(&url);
    result
}

fn options_without_registry() -> CompareOptions {
    options()
}

struct Outcome {
    results: BTreeMap<(String, String), Result<(), String>>,
}

impl Outcome {
    fn record(&mut self, case: &str, step: &str, result: Result<(), String>) -> bool {
        let ok = result.is_ok();
        self.results
            .insert((case.to_string(), step.to_string()), result);
        ok
    }
}

#[test]
fn real_schemas() {
    let Some(shared) = shared_dir("real_schemas") else {
        return;
    };
    let root = shared.join("real-schemas/postgres");
    if !root.is_dir() {
        let message = format!("NOT RUN: real_schemas needs {}", root.display());
        if std::env::var_os("DAC_REQUIRE_SHARED").is_some() {
            panic!("{message}");
        }
        eprintln!("\n*** {message} ***\n");
        return;
    }
    let only = std::env::var("DAC_REAL_SCHEMA").ok();
    let mut apps: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("real-schemas dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("v1.sql").is_file() && p.join("v2.sql").is_file())
        .filter(|p| only.as_deref().is_none_or(|o| p.ends_with(o)))
        .collect();
    apps.sort();
    let mut out = Outcome {
        results: BTreeMap::new(),
    };
    let mut seeded = Vec::new();
    for app_dir in &apps {
        let app = app_dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut urls = BTreeMap::new();
        let mut dumps = BTreeMap::new();
        for v in ["v1", "v2"] {
            let file = app_dir.join(format!("{v}.sql"));
            let url = server().create_database(&format!("rs_{app}_{v}"));
            if !out.record(&format!("{app}/{v}"), "apply", psql_file(&url, &file)) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("schema file");
            let dir = folder_with(&format!("{v}.sql"), &text);
            out.record(
                &format!("{app}/{v}/file"),
                "build",
                step_build(&url, dir.path()),
            );
            match pg_dump(&url) {
                Ok(dump) => {
                    let dir = folder_with("schema.sql", &dump);
                    out.record(
                        &format!("{app}/{v}/pgdump"),
                        "build",
                        step_build(&url, dir.path()),
                    );
                    dumps.insert(v, dump);
                }
                Err(e) => {
                    out.record(&format!("{app}/{v}/pgdump"), "build", Err(e));
                }
            }
            out.record(&format!("{app}/{v}"), "extract", step_extract(&url));
            urls.insert(v, url);
        }
        if let (Some(_), Some(v2_url)) = (urls.get("v1"), urls.get("v2")) {
            let v2_text = std::fs::read_to_string(app_dir.join("v2.sql")).expect("v2");
            let v2_dir = folder_with("v2.sql", &v2_text);
            let r = step_upgrade(
                &format!("rs_{app}_up_file"),
                &app_dir.join("v1.sql"),
                v2_dir.path(),
                v2_url,
                &mut seeded,
            );
            out.record(&format!("{app}/file"), "upgrade", r);
            if let (Some(d1), Some(d2)) = (dumps.get("v1"), dumps.get("v2")) {
                let d1_dir = folder_with("v1.sql", d1);
                let d2_dir = folder_with("schema.sql", d2);
                let r = step_upgrade(
                    &format!("rs_{app}_up_dump"),
                    &d1_dir.path().join("v1.sql"),
                    d2_dir.path(),
                    v2_url,
                    &mut seeded,
                );
                out.record(&format!("{app}/pgdump"), "upgrade", r);
            }
        }
        for url in urls.values() {
            server().drop_database(url);
        }
    }

    // Known failures: case<TAB>step<TAB>reason.
    let known: BTreeMap<(String, String), String> = KNOWN_FAILURES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some((
                (f.next()?.to_string(), f.next()?.to_string()),
                f.next().unwrap_or("").to_string(),
            ))
        })
        .collect();
    let total = out.results.len();
    let passed = out.results.values().filter(|r| r.is_ok()).count();
    let mut unexpected = Vec::new();
    for ((case, step), result) in &out.results {
        let listed = known.contains_key(&(case.clone(), step.clone()));
        match result {
            Ok(()) if listed => unexpected.push(format!(
                "{case} {step}: passes now; remove it from real_schema_known_failures.tsv"
            )),
            Err(e) if !listed => unexpected.push(format!("{case} {step}: {e}")),
            Err(e) => println!("known failure {case} {step}: {e}"),
            Ok(()) => println!("pass {case} {step}"),
        }
    }
    for line in &seeded {
        println!("{line}");
    }
    dac_tests::summary(&format!(
        "real schemas: {passed} of {total} steps pass ({} known failures listed; {})",
        known.len(),
        seeded.join("; ")
    ));
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}
