//! `dac rollout` on real SQLite files: processes killed at injected points and after varying
//! delays resume to a consistent end with nothing upgraded twice; rollbacks interrupted and run
//! again; manual mode; the lock; exit codes and messages for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Run, root};

/// Runs `dac` with extra environment variables.
fn dac_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_dac"))
        .args(args)
        .env_remove("DAC_FAULT")
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run dac");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn dac(dir: &Path, args: &[&str]) -> Run {
    dac_env(dir, args, &[])
}

fn project(version: &str) -> String {
    root()
        .join("fixtures/rollout")
        .join(format!("shop-v{version}"))
        .display()
        .to_string()
}

fn sql(db: &Path, statement: &str) {
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

/// `n` databases at shop 1.0.0 with rows; those in `free` hold a free item (which v2's
/// post-deploy script mishandles, failing the health probe).
fn fleet(dir: &Path, n: usize, free: &[usize]) -> Vec<PathBuf> {
    let mut dbs = Vec::new();
    for i in 0..n {
        let db = dir.join(format!("shop{i:02}.db"));
        let target = format!("sqlite:{}", db.display());
        dac(
            dir,
            &[
                "upgrade",
                &project("1"),
                "--target",
                &target,
                "--in-place",
                "--name",
                "shop",
                "--version",
                "1.0.0",
            ],
        )
        .expect_code(0);
        sql(
            &db,
            "INSERT INTO items VALUES (1, 'apple', 120), (2, 'pear', 95); INSERT INTO orders VALUES (1, 1, 3), (2, 2, 1);",
        );
        if free.contains(&i) {
            sql(&db, "INSERT INTO items VALUES (3, 'sample', 0);");
        }
        dbs.push(db);
    }
    dbs
}

fn rollout_file(dir: &Path, version: &str, targets: &[String], extra: &str) -> String {
    let list: Vec<String> = targets.iter().map(|t| format!("{t:?}")).collect();
    let text = format!(
        r#"package = {package:?}
name = "shop"
version = "{version}.0.0"
domains = 5
concurrency = 2
targets = [{list}]
{extra}
[health]
no_drift = true
[[health.probe]]
name = "every item has stock"
sql = "SELECT count(*) FROM items WHERE id NOT IN (SELECT item_id FROM stock)"
expect = 0
"#,
        package = project(version),
        list = list.join(", "),
    );
    let file = dir.join("fleet.toml");
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

fn sqlite_targets(dbs: &[PathBuf]) -> Vec<String> {
    dbs.iter()
        .map(|db| format!("sqlite:{}", db.display()))
        .collect()
}

fn status_json(dir: &Path, file: &str) -> serde_json::Value {
    let run = dac(dir, &["rollout", "status", file, "--format", "json"]);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

fn one(db: &Path, query: &str) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(query, [], |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                other => format!("{other:?}"),
            })
        })
        .unwrap()
}

/// (action, version_after) of every successful history row.
fn history(db: &Path) -> Vec<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT action, version_after FROM _dac_history WHERE status = 'success' ORDER BY action_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every database at 2.0.0, upgraded exactly once; the journal says done.
fn assert_done_once(dir: &Path, file: &str, dbs: &[PathBuf]) {
    for db in dbs {
        assert_eq!(
            one(db, "SELECT version FROM _dac_registry"),
            "2.0.0",
            "{}",
            db.display()
        );
        assert_eq!(
            history(db),
            [
                ("deploy".to_string(), Some("1.0.0".to_string())),
                ("upgrade".to_string(), Some("2.0.0".to_string()))
            ],
            "{}: upgraded once",
            db.display()
        );
        assert_eq!(one(db, "SELECT count(*) FROM stock"), "2");
    }
    let locks: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".dac-lock"))
        .collect();
    assert!(
        locks.is_empty(),
        "lock files left beside the databases: {locks:?}"
    );
    let status = status_json(dir, file);
    assert_eq!(status["journal"]["state"], "done", "{status:#}");
    for t in status["journal"]["targets"].as_array().unwrap() {
        assert_eq!(t["step"], "healthy", "{t:#}");
        assert_eq!(t["version_now"], "2.0.0");
    }
}

/// Runs `resume` (or `start` when the killed run left no journal) until the rollout is done.
fn finish(dir: &Path, file: &str) -> Vec<Run> {
    let mut runs = Vec::new();
    for _ in 0..3 {
        let journal = dir.join("fleet.journal.json");
        let run = if journal.exists() {
            dac(dir, &["rollout", "resume", file])
        } else {
            dac(dir, &["rollout", "start", file])
        };
        let code = run.code;
        runs.push(run);
        if code == 0 {
            return runs;
        }
    }
    let last = runs.last().unwrap();
    panic!(
        "rollout did not finish\n--- stdout\n{}\n--- stderr\n{}",
        last.stdout, last.stderr
    );
}

#[test]
fn killed_at_injected_points_resumes_without_upgrading_twice() {
    for (point, visit) in [
        ("rollout.after-backup", 2),
        ("rollout.after-upgrade", 1),
        ("rollout.after-upgrade", 4),
        ("rollout.after-target", 3),
        ("rollout.after-checks", 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let dbs = fleet(dir.path(), 6, &[]);
        let file = rollout_file(dir.path(), "2", &sqlite_targets(&dbs), "");
        let fault = format!("{point}@{visit}");
        let killed = dac_env(
            dir.path(),
            &["rollout", "start", &file],
            &[("DAC_FAULT", &fault)],
        );
        assert!(
            killed.code != 0 && killed.code != 3,
            "{fault}: the process should have died\n{}{}",
            killed.stdout,
            killed.stderr
        );
        assert!(
            killed
                .stderr
                .contains(&format!("fault injected at {point}")),
            "{}",
            killed.stderr
        );
        // The dead process's lock is still there; status shows it, resume takes it over.
        let status = dac(dir.path(), &["rollout", "status", &file]);
        status.expect_code(0);
        assert!(
            status.stdout.contains("no longer running"),
            "{fault}: {}",
            status.stdout
        );
        let runs = finish(dir.path(), &file);
        assert!(
            runs[0].stdout.contains("took over the lock"),
            "{fault}: {}",
            runs[0].stdout
        );
        if point == "rollout.after-upgrade" {
            assert!(
                runs[0].stdout.contains("the journal was behind"),
                "{fault}: {}",
                runs[0].stdout
            );
        }
        assert_done_once(dir.path(), &file, &dbs);
    }
}

/// `n` databases at shop 1.0.0, copies of one deployed by `dac upgrade` (as `fleet` makes them).
fn copied_fleet(dir: &Path, n: usize) -> Vec<PathBuf> {
    let template = fleet(dir, 1, &[]).remove(0);
    let mut dbs = vec![template.clone()];
    for i in 1..n {
        let db = dir.join(format!("shop{i:04}.db"));
        std::fs::copy(&template, &db).unwrap();
        dbs.push(db);
    }
    dbs
}

/// A rollout file with no copies kept and no health checks: the journal and the upgrades only.
fn bare_rollout_file(dir: &Path, dbs: &[PathBuf], extra: &str) -> String {
    let list: Vec<String> = sqlite_targets(dbs)
        .iter()
        .map(|t| format!("{t:?}"))
        .collect();
    let text = format!(
        "package = {:?}\nname = \"shop\"\nversion = \"2.0.0\"\nbackup = false\ntargets = [{}]\n{extra}\n",
        project("2"),
        list.join(", ")
    );
    let file = dir.join("fleet.toml");
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

/// 1,000 targets, killed three times in one rollout: with half a journal log line written (the
/// torn line is ignored: its step had not gone on), after an upgrade committed but before the
/// journal was told (the registry settles it), and after a domain's checks; each time resumed.
/// Every database ends upgraded exactly once, and the finished journal's log is empty.
#[test]
fn a_thousand_targets_killed_three_times_resume_without_upgrading_twice() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = copied_fleet(dir.path(), 1000);
    let file = bare_rollout_file(dir.path(), &dbs, "domains = 5\nconcurrency = 4");
    let log = dir.path().join("fleet.journal.log");
    let kills = [
        ("start", "rollout.log-line-torn@1500"),
        ("resume", "rollout.after-upgrade@300"),
        ("resume", "rollout.after-checks@1"),
    ];
    for (command, fault) in kills {
        let killed = dac_env(
            dir.path(),
            &["rollout", command, &file],
            &[("DAC_FAULT", fault)],
        );
        assert!(
            killed.code != 0 && killed.stderr.contains("fault injected"),
            "{fault}: the process should have died\n{}{}",
            killed.stdout,
            killed.stderr
        );
        if fault.starts_with("rollout.log-line-torn") {
            let bytes = std::fs::read(&log).unwrap();
            assert_ne!(
                bytes.last(),
                Some(&b'\n'),
                "{fault}: a torn last line is left"
            );
        }
        let status = status_json(dir.path(), &file);
        let targets = status["journal"]["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 1000);
        assert!(
            targets.iter().any(|t| t["step"] == "pending"),
            "{fault}: the kill came mid-rollout"
        );
    }
    let runs = finish(dir.path(), &file);
    assert!(
        runs[0].stdout.contains("took over the lock"),
        "{}",
        runs[0].stdout
    );
    assert_done_once(dir.path(), &file, &dbs);
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        0,
        "compacted when done"
    );
}

/// `max_per_server` caps the targets of one server worked on at once, whatever the concurrency
/// (every SQLite file counts as the one local server); the journal records the peak per domain.
/// A concurrency per domain ramps up: domain 0 one at a time.
#[test]
fn max_per_server_caps_upgrades_on_one_server() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = copied_fleet(dir.path(), 24);
    let file = bare_rollout_file(
        dir.path(),
        &dbs,
        "domains = 3\nconcurrency = [1, 8]\nmax_per_server = 2",
    );
    dac(dir.path(), &["rollout", "start", &file]).expect_code(0);
    let status = status_json(dir.path(), &file);
    let peaks: Vec<u64> = status["journal"]["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["peak_per_server"].as_u64().unwrap())
        .collect();
    assert_eq!(peaks[0], 1, "domain 0 runs one at a time: {peaks:?}");
    assert!(
        peaks[1..].iter().all(|&p| (1..=2).contains(&p)),
        "at most 2 at once on the local server at concurrency 8: {peaks:?}"
    );
    let report = dac(dir.path(), &["rollout", "report", &file]);
    report.expect_code(0);
    assert!(report.stdout.contains("at most"), "{}", report.stdout);
}

/// `status --live` reads each target's registration from the target, beside what the journal
/// says: a target changed by hand behind the rollout's back shows both.
#[test]
fn status_live_reads_each_targets_registration() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = copied_fleet(dir.path(), 3);
    let file = bare_rollout_file(dir.path(), &dbs, "domains = 3\nmanual = true");
    dac(dir.path(), &["rollout", "start", &file]).expect_code(0);
    sql(&dbs[2], "UPDATE _dac_registry SET version = '1.5.0'");
    let run = dac(dir.path(), &["rollout", "status", &file, "--live"]);
    run.expect_code(0);
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("live: "))
        .collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(
        lines[0].ends_with("live: registered shop 2.0.0"),
        "{}",
        run.stdout
    );
    assert!(
        lines[1].ends_with("live: registered shop 1.0.0"),
        "{}",
        run.stdout
    );
    assert!(
        lines[2].ends_with("live: registered shop 1.5.0 (the journal says 1.0.0)"),
        "{}",
        run.stdout
    );
    let plain = dac(dir.path(), &["rollout", "status", &file]);
    assert!(!plain.stdout.contains("live: "), "{}", plain.stdout);
    let json = dac(
        dir.path(),
        &["rollout", "status", &file, "--live", "--format", "json"],
    );
    json.expect_code(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["live"][0]["version"], "2.0.0", "{value:#}");
    assert_eq!(value["live"][2]["registered"], "shop 1.5.0", "{value:#}");
}

/// `status` reads a file journal whose rollout file was removed since (only a rollout file can
/// name a journal database, so without one the journal beside it is the journal).
#[test]
fn status_reads_the_journal_of_a_rollout_file_removed_since() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = copied_fleet(dir.path(), 2);
    let file = bare_rollout_file(dir.path(), &dbs, "domains = 2\nmanual = true");
    dac(dir.path(), &["rollout", "start", &file]).expect_code(0);
    let before = status_json(dir.path(), &file);
    std::fs::remove_file(dir.path().join(&file)).unwrap();
    let after = status_json(dir.path(), &file);
    assert!(before["journal"]["targets"].is_array(), "{before:#}");
    assert_eq!(before["journal"], after["journal"], "{after:#}");
}

/// A health command that runs too long is killed at `health.command_timeout_seconds`: the domain
/// fails, and the report shows what the command printed.
#[test]
fn a_health_command_past_its_timeout_fails_the_domain_with_its_output_reported() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = copied_fleet(dir.path(), 2);
    let file = bare_rollout_file(
        dir.path(),
        &dbs,
        "domains = 1\n[health]\ncommand = \"echo checking $DAC_TARGET_NAME; case $DAC_TARGET_NAME in *0001.db) sleep 60;; esac\"\ncommand_timeout_seconds = 0.5",
    );
    let run = dac(dir.path(), &["rollout", "start", &file]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("still running after 0.5 s"),
        "{}",
        run.stderr
    );
    let report = dac(
        dir.path(),
        &["rollout", "report", &file, "--format", "text"],
    );
    report.expect_code(0);
    for db in &dbs {
        assert!(
            report
                .stdout
                .contains(&format!("checking sqlite:{}", db.display())),
            "{}",
            report.stdout
        );
    }
    assert!(report.stdout.contains("FAIL command"), "{}", report.stdout);
}

/// A fixed sequence of pseudo-random kill delays (an LCG), so a failure can be replayed.
fn delays(n: usize) -> Vec<u64> {
    let mut state: u64 = 0x5eed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % 1800
        })
        .collect()
}

#[test]
fn killed_after_varying_delays_resumes_to_a_consistent_end() {
    for delay in delays(6) {
        let dir = tempfile::tempdir().unwrap();
        let dbs = fleet(dir.path(), 10, &[]);
        let file = rollout_file(dir.path(), "2", &sqlite_targets(&dbs), "");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dac"))
            .args(["rollout", "start", &file])
            .env_remove("DAC_FAULT")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        finish(dir.path(), &file);
        assert_done_once(dir.path(), &file, &dbs);
    }
}

/// Kill points inside a rollback, in the order a target passes them: the journal says it is
/// rolling back; the copy is back but its history is not carried over yet; the upgrade's rows are
/// carried but not the rollback row; everything is written but the journal is behind.
const ROLLBACK_KILL_POINTS: [(&str, u64); 5] = [
    ("rollout.rolling-back", 2),
    ("snapshot.restored", 1),
    ("snapshot.restored", 2),
    ("rollout.carried-history", 2),
    ("rollout.after-restore", 2),
];

#[test]
fn a_rollback_killed_mid_way_finishes_when_run_again() {
    for (point, visit) in ROLLBACK_KILL_POINTS {
        let fault = format!("{point}@{visit}");
        let dir = tempfile::tempdir().unwrap();
        let dbs = fleet(dir.path(), 4, &[]);
        let before: Vec<String> = dbs
            .iter()
            .map(|db| {
                one(
                    db,
                    "SELECT group_concat(id || ':' || name || ':' || price_cents, ',') FROM items",
                )
            })
            .collect();
        let file = rollout_file(dir.path(), "2", &sqlite_targets(&dbs), "");
        dac(dir.path(), &["rollout", "start", &file]).expect_code(0);
        let status = dac(dir.path(), &["rollout", "status", &file]);
        assert!(
            status.stdout.contains("4 can be rolled back"),
            "{}",
            status.stdout
        );
        let killed = dac_env(
            dir.path(),
            &["rollout", "rollback", &file],
            &[("DAC_FAULT", &fault)],
        );
        assert!(killed.code != 0, "{fault}: {}", killed.stdout);
        assert!(
            killed
                .stderr
                .contains(&format!("fault injected at {point}")),
            "{fault}: {}",
            killed.stderr
        );
        assert_eq!(
            status_json(dir.path(), &file)["journal"]["state"],
            "rolling-back",
            "{fault}"
        );
        let again = dac(dir.path(), &["rollout", "rollback", &file]);
        again.expect_code(0);
        for (db, items) in dbs.iter().zip(&before) {
            assert_eq!(one(db, "SELECT version FROM _dac_registry"), "1.0.0");
            let tables = one(
                db,
                "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name)",
            );
            assert_eq!(tables, "items,orders", "{fault}: {}", db.display());
            assert_eq!(
                &one(
                    db,
                    "SELECT group_concat(id || ':' || name || ':' || price_cents, ',') FROM items"
                ),
                items
            );
            // Every row exactly once: the upgrade carried over from before the restore, and
            // one rollback.
            let actions: Vec<String> = history(db).into_iter().map(|(a, _)| a).collect();
            assert_eq!(
                actions,
                ["deploy", "upgrade", "rollback"],
                "{fault}: {}",
                db.display()
            );
        }
        assert_eq!(
            status_json(dir.path(), &file)["journal"]["state"],
            "rolled-back",
            "{fault}"
        );
    }
}

#[test]
fn manual_rollouts_walk_one_domain_per_next_and_report_in_three_formats() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = fleet(dir.path(), 7, &[]);
    let file = rollout_file(dir.path(), "2", &sqlite_targets(&dbs), "");
    let run = dac(dir.path(), &["rollout", "start", &file, "--manual"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("paused before domain 1 of 5"),
        "{}",
        run.stdout
    );
    let status = status_json(dir.path(), &file);
    assert_eq!(status["journal"]["state"], "paused");
    let sizes: Vec<usize> = status["journal"]["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["targets"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [2, 2, 1, 1, 1]);
    assert_eq!(status["journal"]["domains"][0]["state"], "healthy");
    assert_eq!(status["journal"]["domains"][1]["state"], "pending");
    // Domain 1's databases are untouched until `next`.
    assert_eq!(one(&dbs[2], "SELECT version FROM _dac_registry"), "1.0.0");
    for _ in 0..4 {
        dac(dir.path(), &["rollout", "next", &file]).expect_code(0);
    }
    assert_done_once(dir.path(), &file, &dbs);
    let run = dac(dir.path(), &["rollout", "next", &file]);
    run.expect_code(0);
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
    let markdown = dac(dir.path(), &["rollout", "report", &file]);
    markdown.expect_code(0);
    assert!(
        markdown
            .stdout
            .contains("| target | step | version | copy | upgrade | health | rollback |"),
        "{}",
        markdown.stdout
    );
    assert!(markdown.stdout.contains("✓ probe every item has stock"));
    let text = dac(
        dir.path(),
        &["rollout", "report", &file, "--format", "text"],
    );
    text.expect_code(0);
    assert!(
        text.stdout.contains("mode in-place, copy ") && !text.stdout.contains("read-only"),
        "an in-place upgrade claims no read-only window:\n{}",
        text.stdout
    );
    assert!(text.stdout.contains("ok   no drift"), "{}", text.stdout);
}

#[test]
fn a_failing_domain_is_stuck_with_exit_3_naming_targets_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = fleet(dir.path(), 5, &[1]);
    let file = rollout_file(dir.path(), "2", &sqlite_targets(&dbs), "");
    let run = dac(dir.path(), &["rollout", "start", &file]);
    run.expect_code(3);
    assert!(run.stderr.contains("stuck at domain 1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("shop01.db") && run.stderr.contains("probe every item has stock"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("shop00.db"), "{}", run.stderr);
    // Domains after the failing one were not touched.
    for db in &dbs[2..] {
        assert_eq!(one(db, "SELECT version FROM _dac_registry"), "1.0.0");
    }
    dac(dir.path(), &["rollout", "resume", &file]).expect_code(3);
    let status = dac(dir.path(), &["rollout", "status", &file]);
    assert!(status.stdout.contains("stuck"), "{}", status.stdout);
    assert!(
        status.stdout.contains("2 can be rolled back"),
        "{}",
        status.stdout
    );
    // A fixed package supersedes it, but only once every target can be reached: a refused
    // start leaves the stuck rollout as it was.
    let moved = dir.path().join("moved.db");
    std::fs::rename(&dbs[4], &moved).unwrap();
    let fixed = rollout_file(dir.path(), "2.1", &sqlite_targets(&dbs), "");
    let run = dac(dir.path(), &["rollout", "start", &fixed]);
    run.expect_code(1);
    assert!(run.stderr.contains("shop04.db"), "{}", run.stderr);
    assert_eq!(status_json(dir.path(), &fixed)["journal"]["state"], "stuck");
    std::fs::rename(&moved, &dbs[4]).unwrap();
    let run = dac(dir.path(), &["rollout", "start", &fixed]);
    run.expect_code(0);
    assert!(run.stdout.contains("supersedes rollout"), "{}", run.stdout);
    for db in &dbs {
        assert_eq!(one(db, "SELECT version FROM _dac_registry"), "2.1.0.0");
    }
}

#[test]
fn side_by_side_and_in_place_targets_roll_out_and_back_together() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = fleet(dir.path(), 4, &[]);
    let targets: Vec<String> = dbs
        .iter()
        .enumerate()
        .map(|(i, db)| {
            let mode = if i % 2 == 0 {
                "in-place"
            } else {
                "side-by-side"
            };
            format!(
                "{{ url = {:?}, mode = \"{mode}\" }}",
                format!("sqlite:{}", db.display())
            )
        })
        .collect();
    let text = format!(
        "package = {:?}\nname = \"shop\"\nversion = \"2.0.0\"\ndomains = 2\ntargets = [{}]\n[health]\nno_drift = true\n",
        project("2"),
        targets.join(", ")
    );
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    let run = dac(dir.path(), &["rollout", "start", &file]);
    run.expect_code(0);
    assert!(run.stdout.contains("side by side"), "{}", run.stdout);
    let status = status_json(dir.path(), &file);
    for (i, t) in status["journal"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(t["step"], "healthy", "{t:#}");
        let kind = if i % 2 == 0 {
            "sqlite-copy"
        } else {
            "side-by-side"
        };
        assert_eq!(t["backup"]["kind"], kind, "{t:#}");
        assert_eq!(status["rollback"][i]["can_roll_back"], true);
    }
    for db in &dbs {
        assert_eq!(one(db, "SELECT version FROM _dac_registry"), "2.0.0");
        assert_eq!(one(db, "SELECT count(*) FROM stock"), "2");
    }
    dac(dir.path(), &["rollout", "rollback", &file]).expect_code(0);
    for db in &dbs {
        assert_eq!(one(db, "SELECT version FROM _dac_registry"), "1.0.0");
        assert_eq!(
            one(db, "SELECT group_concat(name, ',') FROM items"),
            "apple,pear"
        );
        assert_eq!(
            one(
                db,
                "SELECT count(*) FROM sqlite_schema WHERE name = 'stock'"
            ),
            "0"
        );
    }
}

#[test]
fn a_live_lock_refuses_a_second_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let dbs = fleet(dir.path(), 2, &[]);
    let file = rollout_file(dir.path(), "2", &sqlite_targets(&dbs), "");
    // This test process holds the lock, as a running `dac rollout` would.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let lock = serde_json::json!({
        "pid": std::process::id(),
        "host": host,
        "since": "2026-01-01T00:00:00Z",
        "command": "start",
        "process_start": null,
    });
    std::fs::write(dir.path().join("fleet.lock"), lock.to_string()).unwrap();
    // `--worker` is for workers sharing a journal database: with the file journal it is an
    // error, never ignored.
    let run = dac(dir.path(), &["rollout", "start", &file, "--worker", "w1"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("--worker w1: workers share a rollout through a journal database"),
        "{}",
        run.stderr
    );
    let run = dac(dir.path(), &["rollout", "start", &file]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("another dac rollout holds")
            && run.stderr.contains(&format!("pid {}", std::process::id())),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("fleet.journal.json").exists());
    std::fs::remove_file(dir.path().join("fleet.lock")).unwrap();
    dac(dir.path(), &["rollout", "start", &file]).expect_code(0);
    assert!(
        !dir.path().join("fleet.lock").exists(),
        "the lock is released"
    );
}

#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("nope.toml");
    let run = dac(d, &["rollout", "start", missing.to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr.contains("nope.toml"), "{}", run.stderr);
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "package = [\ntargets = 3").unwrap();
    let run = dac(d, &["rollout", "start", bad.to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr.contains("bad.toml"), "{}", run.stderr);
    // A package that is not there.
    let file = d.join("nopkg.toml");
    std::fs::write(
        &file,
        "package = \"missing-v9\"\ntargets = [\"sqlite:a.db\"]\n",
    )
    .unwrap();
    let run = dac(d, &["rollout", "start", file.to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr.contains("missing-v9"), "{}", run.stderr);
    // Each error names the rollout file once, whether the engine named it or not.
    assert_eq!(
        run.stderr.matches("nopkg.toml").count(),
        1,
        "{}",
        run.stderr
    );
    let run = dac(d, &["rollout", "status", file.to_str().unwrap()]);
    run.expect_code(1);
    assert_eq!(
        run.stderr.matches("nopkg.toml").count(),
        1,
        "{}",
        run.stderr
    );
    let unknown = d.join("unknown.toml");
    std::fs::write(
        &unknown,
        "package = \"missing-v9\"\ntargets = [\"sqlite:a.db\"]\nmax_per_host = 3\n",
    )
    .unwrap();
    let run = dac(d, &["rollout", "start", unknown.to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("unknown field `max_per_host`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("unknown.toml").count(),
        1,
        "{}",
        run.stderr
    );
    // Unreachable targets: every one named, no password shown, nothing written.
    let dbs = fleet(d, 1, &[]);
    let mut targets = sqlite_targets(&dbs);
    targets.push(format!("sqlite:{}", d.join("absent.db").display()));
    targets.push("postgres://app:s3cr3t@127.0.0.1:1/app".into());
    let file = rollout_file(d, "2", &targets, "");
    let run = dac(d, &["rollout", "start", &file]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("absent.db")
            && run.stderr.contains("postgres://app:***@127.0.0.1:1/app"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("s3cr3t") && !run.stdout.contains("s3cr3t"));
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(!d.join("fleet.journal.json").exists());
    assert!(!d.join("absent.db").exists());
    assert_eq!(one(&dbs[0], "SELECT version FROM _dac_registry"), "1.0.0");
    // Status without a journal.
    dac(d, &["rollout", "status", &file]).expect_code(1);
}
