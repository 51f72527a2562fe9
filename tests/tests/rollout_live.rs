//! Rollouts over real databases: 20 SQLite files and 10 PostgreSQL databases of the throwaway
//! server. A package whose health probe fails on databases of domain 2 stops the rollout there;
//! a rollback restores every upgraded target (schema, rows, per-table checksums, registration),
//! and leaves the targets it never reached alone. A fixed package supersedes a stuck rollout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dac_engine::compare::{CompareOptions, compare};
use dac_engine::driver::{self, Target};
use dac_engine::model::{Dsp, Model};
use dac_engine::registry::{HistoryAction, HistoryStatus};
use dac_engine::rollout::{
    self, StartOptions,
    journal::{DomainState, RolloutState, TargetState},
};
use dac_engine::source::{self, BuildOptions};
use dac_engine::upgrade::{self, InPlaceOptions};
use dac_tests::postgres::server;
use dac_tests::workspace_root;
use sha2::{Digest, Sha256};

fn project(version: &str) -> PathBuf {
    workspace_root()
        .join("fixtures/rollout")
        .join(format!("shop-v{version}"))
}

/// Deploys shop v1 and its rows; `free` adds an item with price 0 (which v2's post-deploy
/// script mishandles).
fn prepare(target: &Target, free: bool) {
    let package = source::build(
        &project("1"),
        &BuildOptions {
            platform: Dsp::from_short_name(target.platform().as_str()),
            name: Some("shop".into()),
            version: Some("1.0.0".into()),
            ..BuildOptions::default()
        },
    )
    .unwrap();
    let mut driver = driver::connect(target, true).unwrap();
    upgrade::in_place(driver.as_mut(), &package, &InPlaceOptions::default()).unwrap();
    driver
        .execute(
            "INSERT INTO items (id, name, price_cents) VALUES (1, 'apple', 120), (2, 'pear', 95)",
        )
        .unwrap();
    driver
        .execute("INSERT INTO orders (id, item_id, qty) VALUES (1, 1, 3), (2, 2, 1), (3, 1, 7)")
        .unwrap();
    if free {
        driver
            .execute("INSERT INTO items (id, name, price_cents) VALUES (3, 'sample', 0)")
            .unwrap();
    }
}

/// Everything a rollback must give back: schema, per-table row counts and checksums, version.
#[derive(Debug, PartialEq)]
struct Snapshot {
    tables: BTreeMap<String, (usize, String)>,
    version: Option<String>,
}

fn snapshot(target: &Target) -> (Snapshot, Model) {
    let mut driver = driver::connect(target, false).unwrap();
    let model = driver.inspect().unwrap();
    let mut tables = BTreeMap::new();
    for table in ["items", "orders", "stock"] {
        let Ok(rows) = driver.query(&format!("SELECT * FROM {table} ORDER BY 1")) else {
            continue;
        };
        let mut hash = Sha256::new();
        for row in &rows {
            for value in row {
                hash.update(value.as_deref().unwrap_or("\u{0}NULL").as_bytes());
                hash.update([0x1f]);
            }
            hash.update([0x1e]);
        }
        let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        tables.insert(table.to_string(), (rows.len(), hex));
    }
    let version = driver.read_registration().unwrap().map(|r| r.version);
    (Snapshot { tables, version }, model)
}

fn same_schema(a: &Model, b: &Model) -> bool {
    compare(a, b, &CompareOptions::default()).is_empty()
}

fn history(target: &Target) -> Vec<(HistoryAction, Option<String>)> {
    let mut driver = driver::connect(target, false).unwrap();
    driver
        .history()
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.version_after))
        .collect()
}

fn write_rollout(dir: &Path, version: &str, targets: &[Target], extra: &str) -> PathBuf {
    write_rollout_modes(dir, version, targets, extra, |_| false)
}

fn write_rollout_modes(
    dir: &Path,
    version: &str,
    targets: &[Target],
    extra: &str,
    side_by_side: impl Fn(usize) -> bool,
) -> PathBuf {
    let list: Vec<String> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let url = match t {
                Target::Sqlite { path } => format!("sqlite:{}", path.display()),
                Target::Postgres { url } => url.clone(),
                Target::SqlServer { conn } => conn.clone(),
            };
            let mode = if side_by_side(i) {
                "side-by-side"
            } else {
                "in-place"
            };
            format!("{{ url = {url:?}, mode = \"{mode}\" }}")
        })
        .collect();
    let text = format!(
        r#"package = {package:?}
name = "shop"
version = "{version_full}"
domains = 5
concurrency = 3
targets = [{targets}]
{extra}
[health]
no_drift = true
[[health.probe]]
name = "every item has stock"
sql = "SELECT count(*) FROM items WHERE id NOT IN (SELECT item_id FROM stock)"
expect = 0
"#,
        package = project(version).display().to_string(),
        version_full = if version.contains('.') {
            format!("{version}.0")
        } else {
            format!("{version}.0.0")
        },
        targets = list.join(", "),
    );
    let file = dir.join("fleet.toml");
    std::fs::write(&file, text).unwrap();
    file
}

fn quiet() -> &'static (dyn Fn(&str) + Sync) {
    &|_| {}
}

/// The scenario on any fleet of 10 or more targets in 5 domains: v2 is stuck at domain 2, the
/// rollback restores domains 0 to 2 exactly and never touches domains 3 and 4.
fn stuck_then_rolled_back(dir: &Path, targets: &[Target], side_by_side: impl Fn(usize) -> bool) {
    let domains = rollout::domains::distribute(targets.len(), 5);
    for (d, members) in domains.iter().enumerate() {
        for (k, &i) in members.iter().enumerate() {
            // One database of domain 2 holds a free item.
            prepare(&targets[i], d == 2 && k == members.len() - 1);
        }
    }
    let before: Vec<(Snapshot, Model)> = targets.iter().map(snapshot).collect();
    let file = write_rollout_modes(dir, "2", targets, "", &side_by_side);
    let outcome = rollout::start(&file, &StartOptions::default(), quiet()).unwrap();
    let journal = &outcome.journal;
    assert_eq!(journal.state, RolloutState::Stuck);
    let states: Vec<DomainState> = journal.domains.iter().map(|d| d.state).collect();
    assert_eq!(
        states,
        [
            DomainState::Healthy,
            DomainState::Healthy,
            DomainState::Failed,
            DomainState::Pending,
            DomainState::Pending
        ]
    );
    let failing = *domains[2].last().unwrap();
    let unhealthy: Vec<usize> = journal
        .targets
        .iter()
        .filter(|t| t.state == TargetState::Unhealthy)
        .map(|t| t.index)
        .collect();
    assert_eq!(unhealthy, [failing]);
    let check = journal.targets[failing]
        .health
        .iter()
        .find(|c| !c.ok)
        .unwrap();
    assert_eq!(check.check, "probe every item has stock");
    for (d, members) in domains.iter().enumerate() {
        for &i in members {
            let (now, _) = snapshot(&targets[i]);
            let expected = if d <= 2 { "2.0.0" } else { "1.0.0" };
            assert_eq!(now.version.as_deref(), Some(expected), "{}", targets[i]);
        }
    }
    // Status says in advance what can be rolled back: domains 0 to 2.
    let status = rollout::status(&file).unwrap();
    let can: Vec<bool> = status
        .journal
        .targets
        .iter()
        .map(|t| rollout::report::can_roll_back(&status.journal, t).0)
        .collect();
    let expected: Vec<bool> = (0..targets.len())
        .map(|i| domains[..3].iter().flatten().any(|&j| j == i))
        .collect();
    assert_eq!(can, expected);
    // A stuck rollout does not go on.
    let err = rollout::resume(&file, quiet()).unwrap_err();
    assert!(err.to_string().contains("stuck at domain 2"), "{err}");

    let outcome = rollout::rollback(&file, quiet()).unwrap();
    assert_eq!(outcome.journal.state, RolloutState::RolledBack);
    for (i, target) in targets.iter().enumerate() {
        let (now, model) = snapshot(target);
        assert_eq!(now, before[i].0, "{target}");
        assert!(
            same_schema(&model, &before[i].1),
            "{target}: schema differs"
        );
        let actions: Vec<HistoryAction> = history(target).into_iter().map(|(a, _)| a).collect();
        let reached = domains[..3].iter().flatten().any(|&j| j == i);
        if reached && side_by_side(i) {
            // The retained original is back, with its own history and a rollback row.
            assert_eq!(actions.first(), Some(&HistoryAction::Deploy), "{target}");
            assert_eq!(actions.last(), Some(&HistoryAction::Rollback), "{target}");
            assert!(
                !actions.contains(&HistoryAction::Upgrade),
                "{target}: {actions:?}"
            );
        } else if reached {
            assert_eq!(
                actions,
                [
                    HistoryAction::Deploy,
                    HistoryAction::Upgrade,
                    HistoryAction::Rollback
                ],
                "{target}"
            );
        } else {
            assert_eq!(actions, [HistoryAction::Deploy], "{target}");
        }
    }
}

#[test]
fn twenty_sqlite_databases_stop_at_domain_2_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let targets: Vec<Target> = (0..20)
        .map(|i| Target::Sqlite {
            path: dir.path().join(format!("shop{i:02}.db")),
        })
        .collect();
    stuck_then_rolled_back(dir.path(), &targets, |_| false);
}

#[test]
fn ten_postgres_databases_in_place_and_side_by_side_stop_at_domain_2_and_roll_back() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let targets: Vec<Target> = (0..10)
        .map(|i| Target::Postgres {
            url: server.create_database(&format!("rollout{i}")),
        })
        .collect();
    // Odd targets are upgraded side by side.
    stuck_then_rolled_back(dir.path(), &targets, |i| i % 2 == 1);
    // The copies were renamed back into place: none is left behind.
    let mut driver = driver::connect(&targets[0], false).unwrap();
    let left = driver
        // This test's own databases: other tests of this binary share the server.
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'dac\\_t\\_rollout%\\_dacbak\\_%'",
        )
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    for t in &targets {
        if let Target::Postgres { url } = t {
            server.drop_database(url);
        }
    }
}

#[test]
fn a_fixed_package_supersedes_a_stuck_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let targets: Vec<Target> = (0..10)
        .map(|i| Target::Sqlite {
            path: dir.path().join(format!("s{i}.db")),
        })
        .collect();
    for (i, t) in targets.iter().enumerate() {
        prepare(t, i == 5);
    }
    let file = write_rollout(dir.path(), "2", &targets, "");
    let stuck = rollout::start(&file, &StartOptions::default(), quiet()).unwrap();
    assert_eq!(stuck.journal.state, RolloutState::Stuck);
    let file = write_rollout(dir.path(), "2.1", &targets, "");
    let fixed = rollout::start(&file, &StartOptions::default(), quiet()).unwrap();
    assert_eq!(fixed.journal.state, RolloutState::Done);
    let superseded = fixed.journal.supersedes.as_ref().unwrap();
    assert_eq!(superseded.id, stuck.journal.id);
    assert_eq!(superseded.state, RolloutState::Stuck);
    assert!(Path::new(&superseded.journal).is_file());
    assert!(
        fixed.notes.iter().any(|n| n.contains("supersedes")),
        "{:?}",
        fixed.notes
    );
    for (i, t) in targets.iter().enumerate() {
        let versions: Vec<Option<String>> = history(t)
            .into_iter()
            .filter(|(a, _)| *a == HistoryAction::Upgrade)
            .map(|(_, v)| v)
            .collect();
        // Domains 0 to 2 went 1 -> 2 -> 2.1, the others 1 -> 2.1 directly.
        let expected: Vec<Option<String>> = if i < 6 {
            vec![Some("2.0.0".into()), Some("2.1.0".into())]
        } else {
            vec![Some("2.1.0".into())]
        };
        assert_eq!(versions, expected, "{t}");
        assert_eq!(
            fixed.journal.targets[i].version_before.as_deref(),
            Some(if i < 6 { "2.0.0" } else { "1.0.0" })
        );
    }
    // Rolled back, the targets return to where this rollout found them.
    let back = rollout::rollback(&file, quiet()).unwrap();
    assert_eq!(back.journal.state, RolloutState::RolledBack);
    for (i, t) in targets.iter().enumerate() {
        let (now, _) = snapshot(t);
        assert_eq!(
            now.version.as_deref(),
            Some(if i < 6 { "2.0.0" } else { "1.0.0" }),
            "{t}"
        );
    }
}

/// The actions of the successful history rows.
fn succeeded(target: &Target) -> Vec<HistoryAction> {
    let mut driver = driver::connect(target, false).unwrap();
    driver
        .history()
        .unwrap()
        .into_iter()
        .filter(|e| e.status == HistoryStatus::Success)
        .map(|e| e.action)
        .collect()
}

/// Runs the shipped `dac` (with `DAC_FAULT` when given): exit code (-1 when killed by a
/// signal), stdout and stderr.
fn dac(args: &[&str], fault: Option<&str>) -> (i32, String, String) {
    let mut command = std::process::Command::new(dac_tests::binary::dac_binary());
    command.args(args).env_remove("DAC_FAULT");
    if let Some(fault) = fault {
        command.env("DAC_FAULT", fault);
    }
    let out = command.output().expect("run dac");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `dac` with a fault that must kill it there.
fn killed_at(args: &[&str], fault: &str) {
    let (code, out, err) = dac(args, Some(fault));
    let point = fault.split('@').next().unwrap_or(fault);
    assert!(
        code != 0 && err.contains(&format!("fault injected at {point}")),
        "{fault}: the process should have died (exit {code})\n{out}{err}"
    );
}

/// Runs `dac` to success.
fn succeeds(args: &[&str]) -> String {
    let (code, out, err) = dac(args, None);
    assert_eq!(code, 0, "dac {args:?}\n{out}{err}");
    out
}

/// Eight PostgreSQL databases of one server, half upgraded in place (a template copy kept
/// first), half side by side, at most 2 at once on the server: the rollout is killed twice
/// (after an upgrade committed but before the journal was told; after a copy was made) and
/// resumed to the end, every database upgraded exactly once; then the rollback is killed twice
/// (a target marked rolling back; a copy restored but its history not carried) and run again,
/// every database back exactly as it was.
#[test]
fn postgres_fleet_killed_mid_rollout_and_mid_rollback_ends_consistent() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let targets: Vec<Target> = (0..8)
        .map(|i| Target::Postgres {
            url: server.create_database(&format!("fleetkill{i}")),
        })
        .collect();
    for t in &targets {
        prepare(t, false);
    }
    let before: Vec<(Snapshot, Model)> = targets.iter().map(snapshot).collect();
    let side_by_side = |i: usize| i % 2 == 1;
    let file = write_rollout_modes(
        dir.path(),
        "2",
        &targets,
        "max_per_server = 2",
        side_by_side,
    );
    let file = file.to_str().unwrap();
    killed_at(&["rollout", "start", file], "rollout.after-upgrade@3");
    killed_at(&["rollout", "resume", file], "rollout.after-backup@2");
    let resumed = succeeds(&["rollout", "resume", file]);
    assert!(resumed.contains("took over the lock"), "{resumed}");
    let status = rollout::status(Path::new(file)).unwrap();
    assert_eq!(status.journal.state, RolloutState::Done);
    for d in &status.journal.domains {
        let peak = d.peak_per_server.unwrap();
        assert!(
            (1..=2).contains(&peak),
            "domain {}: {peak} at once",
            d.index
        );
    }
    for t in &targets {
        let (now, _) = snapshot(t);
        assert_eq!(now.version.as_deref(), Some("2.0.0"), "{t}");
        // An interrupted side-by-side upgrade undone by the next run leaves a failed row: only
        // successful ones count.
        let upgrades = succeeded(t)
            .into_iter()
            .filter(|a| matches!(a, HistoryAction::Upgrade | HistoryAction::SideBySide))
            .count();
        assert_eq!(upgrades, 1, "{t}: upgraded once: {:?}", succeeded(t));
    }

    killed_at(&["rollout", "rollback", file], "rollout.rolling-back@2");
    killed_at(&["rollout", "rollback", file], "snapshot.restored@1");
    succeeds(&["rollout", "rollback", file]);
    let status = rollout::status(Path::new(file)).unwrap();
    assert_eq!(status.journal.state, RolloutState::RolledBack);
    for (i, t) in targets.iter().enumerate() {
        let (now, model) = snapshot(t);
        assert_eq!(now, before[i].0, "{t}");
        assert!(same_schema(&model, &before[i].1), "{t}: schema differs");
        let actions = succeeded(t);
        assert_eq!(actions.first(), Some(&HistoryAction::Deploy), "{t}");
        assert_eq!(
            actions.last(),
            Some(&HistoryAction::Rollback),
            "{t}: {actions:?}"
        );
        let rollbacks = actions
            .iter()
            .filter(|a| **a == HistoryAction::Rollback)
            .count();
        assert_eq!(rollbacks, 1, "{t}: rolled back once: {actions:?}");
    }
    for t in &targets {
        if let Target::Postgres { url } = t {
            server.drop_database(url);
        }
    }
}

/// A rollout file whose journal is the database `journal` of the throwaway server, with a
/// short heartbeat timeout so a killed worker's targets are taken over quickly.
fn write_shared_rollout(dir: &Path, targets: &[Target], journal: &str, extra: &str) -> PathBuf {
    write_rollout(
        dir,
        "2",
        targets,
        &format!("journal = {journal:?}\nheartbeat_timeout_seconds = 2\n{extra}"),
    )
}

/// A password the journal database's URL carries (the throwaway server trusts local
/// connections, so it is never checked): it must appear nowhere.
const PASSWORD: &str = "s3cret-journal";

/// `url` with [`PASSWORD`] as its password.
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    match rest.split_once('@') {
        Some((user, host)) if !user.contains(':') => format!("{scheme}://{user}:{PASSWORD}@{host}"),
        _ => url.to_string(),
    }
}

/// Starts the shipped `dac` as a worker (not waited for).
fn spawn_worker(file: &str, name: &str, fault: Option<&str>) -> std::process::Child {
    let mut command = std::process::Command::new(dac_tests::binary::dac_binary());
    command
        .args(["rollout", "start", file, "--worker", name])
        .env_remove("DAC_FAULT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(fault) = fault {
        command.env("DAC_FAULT", fault);
    }
    command.spawn().expect("start a dac worker")
}

/// Waits for a worker to end: its exit code and output.
fn finished(child: std::process::Child) -> (i32, String) {
    let out = child.wait_with_output().expect("wait for a dac worker");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// After a shared rollout: done, every domain healthy and marked in order, every target at 2.0.0
/// and upgraded exactly once (its registry's history), the journal agreeing.
fn every_target_upgraded_once(file: &Path, targets: &[Target]) -> rollout::Status {
    let status = rollout::status(file).unwrap();
    let journal = &status.journal;
    assert_eq!(journal.state, RolloutState::Done, "{:?}", journal.events);
    assert!(status.lock.is_none(), "a journal database has no lock file");
    let shown = rollout::report::render(&status, rollout::report::Format::Text, false);
    assert!(
        shown.contains("journal   ") && shown.contains("(shared by workers;"),
        "{shown}"
    );
    assert!(
        shown.contains("workers   none working on a target now"),
        "{shown}"
    );
    let healthy: Vec<usize> = journal
        .events
        .iter()
        .filter_map(|e| {
            e.message
                .strip_prefix("domain ")?
                .strip_suffix(" healthy")?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(healthy, [0, 1, 2, 3, 4], "domains in order, each once");
    for d in &journal.domains {
        assert_eq!(d.state, DomainState::Healthy, "domain {}", d.index);
    }
    for t in &journal.targets {
        assert_eq!(t.state, TargetState::Healthy, "{}: {:?}", t.target, t.notes);
        assert_eq!(t.version_now.as_deref(), Some("2.0.0"), "{}", t.target);
        assert!(t.worker.is_some(), "{}: no worker recorded", t.target);
    }
    for t in targets {
        let (now, _) = snapshot(t);
        assert_eq!(now.version.as_deref(), Some("2.0.0"), "{t}");
        let upgrades = succeeded(t)
            .into_iter()
            .filter(|a| matches!(a, HistoryAction::Upgrade | HistoryAction::SideBySide))
            .count();
        assert_eq!(upgrades, 1, "{t}: upgraded once: {:?}", succeeded(t));
    }
    status
}

/// Three `dac rollout start --worker` processes share one PostgreSQL journal over 15 SQLite
/// databases and 3 PostgreSQL ones: they claim targets among themselves, every target is
/// upgraded exactly once, each domain's health gate runs once, in order.
#[test]
fn three_workers_share_a_postgres_journal_and_upgrade_each_target_once() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let journal = with_password(&server.create_database("journal3"));
    let mut targets: Vec<Target> = (0..15)
        .map(|i| Target::Sqlite {
            path: dir.path().join(format!("shop{i:02}.db")),
        })
        .collect();
    for i in 0..3 {
        targets.push(Target::Postgres {
            url: server.create_database(&format!("workers{i}")),
        });
    }
    for t in &targets {
        prepare(t, false);
    }
    // No copies: kept template copies of the PostgreSQL targets would outlive the test. The cap
    // per server puts the claims of all three workers through the capped path.
    let file = write_shared_rollout(
        dir.path(),
        &targets,
        &journal,
        "backup = false\nmax_per_server = 2",
    );
    let file_text = file.to_str().unwrap();
    let workers: Vec<_> = ["w1", "w2", "w3"]
        .iter()
        .map(|name| spawn_worker(file_text, name, None))
        .collect();
    for child in workers {
        let (code, out) = finished(child);
        assert_eq!(code, 0, "{out}");
        assert!(!out.contains(PASSWORD), "{out}");
    }
    let status = every_target_upgraded_once(&file, &targets);
    let text = rollout::report::render(&status, rollout::report::Format::Json, true);
    assert!(text.contains("\"worker\""), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    let (code, report, err) = dac(&["rollout", "report", file_text], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        !report.contains(PASSWORD) && report.contains("postgres://"),
        "{report}"
    );
    let stored = dac_tests::postgres::psql_query(
        &journal,
        &format!(
            "SELECT (SELECT count(*) FROM dac_rollout_journal WHERE head LIKE '%{PASSWORD}%') + (SELECT count(*) FROM dac_rollout_target WHERE record LIKE '%{PASSWORD}%')"
        ),
    )
    .unwrap();
    assert_eq!(stored.trim(), "0", "the journal holds no password");
    // The tables live in the journal database, prefixed.
    let tables = dac_tests::postgres::psql_query(
        &journal,
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'dac_rollout_%'",
    )
    .unwrap();
    assert_eq!(tables.trim(), "dac_rollout_journal,dac_rollout_target");
    for t in targets.iter().chain([&Target::Postgres { url: journal }]) {
        if let Target::Postgres { url } = t {
            server.drop_database(url);
        }
    }
}

/// Three workers on one PostgreSQL journal over 15 SQLite databases. The victim starts first
/// (so it surely holds work) with `fault` making it stand at a point; once it stands, the other
/// two join and the victim is stopped with SIGKILL. They wait for its heartbeat to go stale,
/// take over what it held and finish. Returns the journal's status after the
/// consistency checks of [`every_target_upgraded_once`] and what the survivors printed.
fn victim_killed_at(slug: &str, point: &str) -> (rollout::Status, String) {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let journal = server.create_database(slug);
    let targets: Vec<Target> = (0..15)
        .map(|i| Target::Sqlite {
            path: dir.path().join(format!("shop{i:02}.db")),
        })
        .collect();
    for t in &targets {
        prepare(t, false);
    }
    let file = write_shared_rollout(dir.path(), &targets, &journal, "");
    let file_text = file.to_str().unwrap();
    let standing = dir.path().join("victim-standing");
    let fault = format!("{point}=wait:{}", standing.display());
    let mut victim = spawn_worker(file_text, "victim", Some(&fault));
    let mut waited = 0;
    while !standing.exists() {
        if let Ok(Some(status)) = victim.try_wait() {
            let (_, out) = finished(victim);
            panic!("the victim ended ({status}) before {point}:\n{out}");
        }
        waited += 1;
        assert!(waited < 6000, "the victim never reached {point}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let others: Vec<_> = ["w1", "w2"]
        .iter()
        .map(|name| spawn_worker(file_text, name, None))
        .collect();
    victim.kill().expect("SIGKILL the victim");
    let (code, _) = finished(victim);
    assert_eq!(code, -1, "killed by a signal");
    let mut said = String::new();
    for child in others {
        let (code, out) = finished(child);
        assert_eq!(code, 0, "{out}");
        said.push_str(&out);
    }
    let status = every_target_upgraded_once(&file, &targets);
    server.drop_database(&journal);
    (status, said)
}

/// The victim is killed mid-domain, right after its second upgrade committed and before the
/// journal was told: its targets are taken over, and the one it upgraded is settled by its
/// registry (the upgrade committed: not upgraded again).
#[test]
fn a_worker_killed_mid_domain_has_its_targets_taken_over() {
    let (status, said) = victim_killed_at("journalkill", "rollout.after-upgrade@2");
    assert!(
        said.contains("from worker victim, whose heartbeat stopped"),
        "{said}"
    );
    let taken = status
        .journal
        .targets
        .iter()
        .filter(|t| t.notes.iter().any(|n| n.contains("from worker victim")))
        .count();
    assert!(taken > 0, "no target was taken over");
    assert!(
        status
            .journal
            .targets
            .iter()
            .any(|t| t.notes.iter().any(|n| n.contains("the journal was behind"))),
        "the upgrade the victim committed was settled by the registry"
    );
}

/// The victim is killed holding domain 0's health gate, its checks run but the domain not yet
/// marked: another worker takes the gate over, checks the domain again and marks it, once.
#[test]
fn a_worker_killed_holding_the_health_gate_has_the_gate_taken_over() {
    let (status, said) = victim_killed_at("journalgate", "rollout.after-checks");
    assert!(
        said.contains("domain 0: worker w")
            && said.contains("took over the health gate from worker victim"),
        "{said}"
    );
    assert!(
        status.journal.events.iter().any(|e| e
            .message
            .contains("took over the health gate from worker victim")),
        "{:?}",
        status.journal.events
    );
}

/// The single-worker kill-and-resume proof on a PostgreSQL journal: killed after an upgrade
/// committed, killed after a copy was made, resumed to the end (the dead process's claims taken
/// over once stale), every database upgraded exactly once; then rolled back from the same
/// journal, every database as it was.
#[test]
fn a_postgres_journal_survives_kills_and_resume_then_rolls_back() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let journal = server.create_database("journalresume");
    let targets: Vec<Target> = (0..10)
        .map(|i| Target::Sqlite {
            path: dir.path().join(format!("shop{i:02}.db")),
        })
        .collect();
    for t in &targets {
        prepare(t, false);
    }
    let before: Vec<(Snapshot, Model)> = targets.iter().map(snapshot).collect();
    let file = write_shared_rollout(dir.path(), &targets, &journal, "");
    let file_text = file.to_str().unwrap();
    killed_at(&["rollout", "start", file_text], "rollout.after-upgrade@3");
    killed_at(&["rollout", "resume", file_text], "rollout.after-backup@2");
    let resumed = succeeds(&["rollout", "resume", file_text]);
    assert!(resumed.contains("whose heartbeat stopped"), "{resumed}");
    every_target_upgraded_once(&file, &targets);
    // The report reads the database journal as it reads a file one.
    let (code, report, err) = dac(&["rollout", "report", file_text], None);
    assert_eq!(code, 0, "{err}");
    assert!(report.contains("2.0.0"), "{report}");
    assert!(!report.contains("password"), "{report}");

    succeeds(&["rollout", "rollback", file_text]);
    let status = rollout::status(&file).unwrap();
    assert_eq!(status.journal.state, RolloutState::RolledBack);
    for (i, t) in targets.iter().enumerate() {
        let (now, model) = snapshot(t);
        assert_eq!(now, before[i].0, "{t}");
        assert!(same_schema(&model, &before[i].1), "{t}: schema differs");
    }
    server.drop_database(&journal);
}

/// Two sessions on a new journal database `name` of the throwaway server, and `n` targets in
/// rollout-store form (`{"n":i}`), target `i` in domain `domain_of(i)`.
fn two_stores(
    name: &str,
    n: usize,
    domain_of: impl Fn(usize) -> usize,
) -> (
    String,
    Box<dyn dac_engine::driver::rollout_store::RolloutStore>,
    Box<dyn dac_engine::driver::rollout_store::RolloutStore>,
    Vec<dac_engine::driver::rollout_store::NewTarget>,
) {
    let journal = server().create_database(name);
    let target = Target::Postgres {
        url: journal.clone(),
    };
    let a = driver::open_rollout_store(&target).unwrap();
    let b = driver::open_rollout_store(&target).unwrap();
    let targets = (0..n)
        .map(|i| dac_engine::driver::rollout_store::NewTarget {
            record: format!("{{\"n\":{i}}}"),
            domain: domain_of(i),
            settled: false,
        })
        .collect();
    (journal, a, b, targets)
}

/// `max_per_server` holds across workers: a claim counts every worker's live claims on a
/// server, so a second worker gets nothing on a server at its cap until a claim there settles.
#[test]
fn journal_database_claims_keep_each_servers_cap_across_workers() {
    use dac_engine::driver::rollout_store::{Claim, ServerCap};
    use std::time::Duration;
    let server = server();
    let (journal, mut a, mut b, targets) = two_stores("journalcap", 6, |_| 0);
    a.create("fleet", "r1", "{}", &targets).unwrap();
    // Targets 0-3 on one server, 4 and 5 on another; one upgrade at a time on each.
    let cap = ServerCap {
        per_server: 1,
        server_of: (0..6)
            .map(|i| (i, if i < 4 { "db1:5432" } else { "db2:5432" }.to_string()))
            .collect(),
    };
    let long = Duration::from_secs(30);
    let positions =
        |claims: Vec<Claim>| -> Vec<usize> { claims.iter().map(|c| c.position).collect() };
    assert_eq!(
        positions(a.claim("r1", 0, "w1", 10, long, Some(&cap)).unwrap()),
        [0, 4]
    );
    assert_eq!(
        positions(b.claim("r1", 0, "w2", 10, long, Some(&cap)).unwrap()),
        Vec::<usize>::new()
    );
    a.write_target("r1", 0, "{\"n\":0,\"done\":true}", true, Some("w1"))
        .unwrap();
    assert_eq!(
        positions(b.claim("r1", 0, "w2", 10, long, Some(&cap)).unwrap()),
        [1]
    );
    assert_eq!(
        positions(a.claim("r1", 0, "w1", 10, long, Some(&cap)).unwrap()),
        Vec::<usize>::new()
    );
    // Without the cap the same claim takes what is left.
    assert_eq!(
        positions(a.claim("r1", 0, "w1", 10, long, None).unwrap()),
        [2, 3, 5]
    );
    drop((a, b));
    server.drop_database(&journal);
}

/// The journal database's primitives on a real server: claims skip rows another session is
/// locking (never wait for them), fresh claims are left alone and stale ones taken over naming
/// their worker, a worker whose claim was taken over cannot write, one worker at a time holds
/// the health gate, and a new rollout of the same name becomes current with the old one kept.
#[test]
fn journal_database_claims_skip_locked_rows_and_take_over_stale_ones() {
    use std::time::Duration;
    let server = server();
    let (journal, mut a, mut b, targets) = two_stores("journalstore", 4, |i| i / 2);
    let target = Target::Postgres {
        url: journal.clone(),
    };
    a.lock("fleet").unwrap();
    a.create("fleet", "r1", "{\"head\":1}", &targets).unwrap();
    a.unlock("fleet").unwrap();
    let stored = b.read("fleet").unwrap().unwrap();
    assert_eq!((stored.id.as_str(), stored.targets.len()), ("r1", 4));
    let long = Duration::from_secs(30);
    let positions = |claims: &[dac_engine::driver::rollout_store::Claim]| -> Vec<usize> {
        claims.iter().map(|c| c.position).collect()
    };
    // Another session locks target 0's row: a claim skips it instead of waiting.
    let mut holder = driver::connect(&target, false).unwrap();
    holder.begin().unwrap();
    holder
        .query(r#"SELECT 1 FROM "dac_rollout_target" WHERE "position" = 0 FOR UPDATE"#)
        .unwrap();
    let claimed = a.claim("r1", 0, "w1", 10, long, None).unwrap();
    assert_eq!(positions(&claimed), [1]);
    holder.rollback().unwrap();
    let claimed = b.claim("r1", 0, "w2", 10, long, None).unwrap();
    assert_eq!(positions(&claimed), [0]);
    assert!(b.claim("r1", 0, "w2", 10, long, None).unwrap().is_empty());
    // Stale claims (a zero timeout makes every earlier heartbeat stale) are taken over.
    std::thread::sleep(Duration::from_millis(20));
    let taken = b.claim("r1", 0, "w2", 10, Duration::ZERO, None).unwrap();
    let from_w1 = taken.iter().find(|c| c.position == 1).unwrap();
    assert_eq!(from_w1.taken_from.as_deref(), Some("w1"));
    assert_eq!(from_w1.record, "{\"n\":1}");
    let refused = a
        .write_target("r1", 1, "{\"n\":1,\"late\":true}", true, Some("w1"))
        .unwrap_err();
    assert!(
        refused.to_string().contains("w1 no longer holds target 1"),
        "{refused}"
    );
    b.write_target("r1", 1, "{\"n\":1,\"done\":true}", true, Some("w2"))
        .unwrap();
    assert_eq!(b.unsettled("r1", 0).unwrap(), 1);
    assert_eq!(b.unsettled("r1", 1).unwrap(), 2);
    b.heartbeat("r1", "w2", &[0], false).unwrap();
    let live = a.live_claims("r1").unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!((live[0].position, live[0].worker.as_str()), (0, "w2"));
    // The health gate: one holder at a time, taken over when its heartbeat is stale.
    assert_eq!(a.take_gate("r1", "w1", long).unwrap(), Some(None));
    assert_eq!(b.take_gate("r1", "w2", long).unwrap(), None);
    a.heartbeat("r1", "w1", &[], true).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        b.take_gate("r1", "w2", Duration::ZERO).unwrap(),
        Some(Some("w1".to_string()))
    );
    b.release_gate("r1", "w2").unwrap();
    assert_eq!(a.take_gate("r1", "w1", long).unwrap(), Some(None));
    // The head changes under its row lock.
    a.update_head("r1", &mut |head| Ok(head.replace('1', "2")))
        .unwrap();
    assert_eq!(b.read_head("r1").unwrap(), "{\"head\":2}");
    // A new rollout of the same name is current; the old one's rows stay.
    a.create("fleet", "r2", "{}", &[]).unwrap();
    assert_eq!(b.read("fleet").unwrap().unwrap().id, "r2");
    assert_eq!(b.read_domain("r1", 0).unwrap().len(), 2);
    drop((a, b));
    server.drop_database(&journal);
}

/// A manual rollout on a journal database walks one domain per `next`, as with a journal file;
/// `resume` leaves it paused, and `status` reads where it stands from the database.
#[test]
fn a_manual_rollout_on_a_postgres_journal_walks_one_domain_per_next() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let journal = server.create_database("journalmanual");
    let targets: Vec<Target> = (0..5)
        .map(|i| Target::Sqlite {
            path: dir.path().join(format!("shop{i}.db")),
        })
        .collect();
    for t in &targets {
        prepare(t, false);
    }
    let file = write_shared_rollout(dir.path(), &targets, &journal, "manual = true");
    let outcome = rollout::start(&file, &StartOptions::default(), quiet()).unwrap();
    assert_eq!(outcome.journal.state, RolloutState::Paused);
    let healthy = |j: &dac_engine::rollout::journal::Journal| {
        j.domains
            .iter()
            .filter(|d| d.state == DomainState::Healthy)
            .count()
    };
    assert_eq!(healthy(&outcome.journal), 1);
    let outcome = rollout::resume(&file, quiet()).unwrap();
    assert!(
        outcome.notes[0].contains("paused between domains"),
        "{:?}",
        outcome.notes
    );
    for walked in 2..=4 {
        let outcome = rollout::next(&file, quiet()).unwrap();
        assert_eq!(outcome.journal.state, RolloutState::Paused);
        assert_eq!(healthy(&outcome.journal), walked);
    }
    let outcome = rollout::next(&file, quiet()).unwrap();
    assert_eq!(outcome.journal.state, RolloutState::Done);
    let status = rollout::status(&file).unwrap();
    assert_eq!(healthy(&status.journal), 5);
    for t in &targets {
        assert_eq!(snapshot(t).0.version.as_deref(), Some("2.0.0"), "{t}");
    }
    server.drop_database(&journal);
}
