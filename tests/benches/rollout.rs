//! Rollout benchmark: `cargo bench -p dac-tests --bench rollout`.
//!
//! **Fleet scale** (first): tiny SQLite databases (shop 1.0.0, two rows) rolled out to 2.0.0 in
//! place, 5 domains, concurrency 2, no copies and no checks, at each size of
//! `DAC_ROLLOUT_FLEET` (comma-separated, default `100`; e.g. `100,1000,10000`), each size in a
//! process of its own so its peak memory (VmHWM) is its own. Printed per size: the total, the
//! cost per target, the journal's size, the time of `status` (read + render) on the finished
//! journal, and the peak memory. `DAC_ROLLOUT_FLEET_CHECKED=1` adds the same sizes with a copy
//! kept of each database and a SQL probe. A journal rewritten whole after every step makes the
//! cost per target grow with the fleet; the append-only log keeps it flat. Then `status` and
//! the report at 10,000 targets, on a journal written directly (snapshot and log), timed.
//!
//! **Workers** (`cargo bench -p dac-tests --bench rollout workers`, and in the default run):
//! `DAC_ROLLOUT_WORKERS_TARGETS` (default 1,000) tiny SQLite databases rolled out by three
//! `dac rollout start --worker` processes sharing a PostgreSQL journal (the throwaway server of
//! `dac_tests::postgres`), 5 domains, concurrency 2 per worker, no copies, no checks. Printed:
//! the total, the cost per target, and how many targets each worker upgraded.
//!
//! 100 SQLite databases at shop 1.0.0 (`fixtures/rollout/shop-v1`, 200 items and 400 orders
//! each) are rolled out to shop 2.0.0 in place in 5 upgrade domains, through the same
//! `dac_engine::rollout::start` the CLI runs (journal written after every step, a copy of each
//! database kept before its upgrade, health checks between domains). Each variant gets a fresh
//! set of databases (untimed: one deployed database copied 100 times). Printed: the total wall
//! time, and per target the median, 95th percentile and maximum of the copy and of the upgrade
//! (its read-only window), from the journal. Numbers are reported, never asserted; the run
//! checks that every database ended at 2.0.0 so a broken rollout fails instead of timing nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dac_engine::driver::{self, Target};
use dac_engine::model::Dsp;
use dac_engine::rollout::{self, StartOptions, journal::RolloutState};
use dac_engine::source::{self, BuildOptions};
use dac_engine::upgrade::{self, InPlaceOptions};
use dac_tests::workspace_root;

const DATABASES: usize = 100;

struct Variant {
    name: &'static str,
    concurrency: usize,
    backup: bool,
    health: bool,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "concurrency 1, copies kept, health checks (no drift + probe)",
        concurrency: 1,
        backup: true,
        health: true,
    },
    Variant {
        name: "concurrency 2, copies kept, health checks (no drift + probe)",
        concurrency: 2,
        backup: true,
        health: true,
    },
    Variant {
        name: "concurrency 2, no copies, no health checks (upgrades and journal only)",
        concurrency: 2,
        backup: false,
        health: false,
    },
];

fn project(version: &str) -> PathBuf {
    workspace_root()
        .join("fixtures/rollout")
        .join(format!("shop-v{version}"))
}

/// One deployed database with rows, to copy.
fn template(dir: &Path) -> PathBuf {
    let path = dir.join("template.db");
    let target = Target::Sqlite { path: path.clone() };
    let package = source::build(
        &project("1"),
        &BuildOptions {
            platform: Dsp::from_short_name("sqlite"),
            name: Some("shop".into()),
            version: Some("1.0.0".into()),
            ..BuildOptions::default()
        },
    )
    .expect("build shop v1");
    let mut driver = driver::connect(&target, true).expect("create template");
    upgrade::in_place(driver.as_mut(), &package, &InPlaceOptions::default()).expect("deploy v1");
    let items: Vec<String> = (1..=200)
        .map(|i| format!("({i}, 'item {i}', {})", 100 + i))
        .collect();
    driver
        .execute(&format!("INSERT INTO items VALUES {}", items.join(", ")))
        .expect("items");
    let orders: Vec<String> = (1..=400)
        .map(|i| format!("({i}, {}, {})", 1 + i % 200, 1 + i % 7))
        .collect();
    driver
        .execute(&format!("INSERT INTO orders VALUES {}", orders.join(", ")))
        .expect("orders");
    path
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

fn describe(values: &mut [u64]) -> String {
    values.sort_unstable();
    format!(
        "median {} ms, p95 {} ms, max {} ms",
        percentile(values, 0.5),
        percentile(values, 0.95),
        values.last().copied().unwrap_or(0)
    )
}

fn run(n: usize, variant: &Variant, template: &Path, root: &Path) -> Duration {
    let dir = root.join(format!("variant{n}"));
    std::fs::create_dir_all(&dir).expect("variant dir");
    let mut targets = Vec::new();
    for i in 0..DATABASES {
        let db = dir.join(format!("shop{i:03}.db"));
        std::fs::copy(template, &db).expect("copy template");
        targets.push(format!("{:?}", format!("sqlite:{}", db.display())));
    }
    let health = if variant.health {
        "[health]\nno_drift = true\n[[health.probe]]\nname = \"every item has stock\"\nsql = \"SELECT count(*) FROM items WHERE id NOT IN (SELECT item_id FROM stock)\"\nexpect = 0\n"
    } else {
        ""
    };
    let text = format!(
        "package = {:?}\nname = \"shop\"\nversion = \"2.0.0\"\ndomains = 5\nconcurrency = {}\nbackup = {}\ntargets = [{}]\n{health}",
        project("2").display().to_string(),
        variant.concurrency,
        variant.backup,
        targets.join(", ")
    );
    let file = dir.join("fleet.toml");
    std::fs::write(&file, text).expect("rollout file");
    let started = Instant::now();
    let outcome = rollout::start(&file, &StartOptions::default(), &|_| {}).expect("rollout runs");
    let total = started.elapsed();
    let journal = outcome.journal;
    assert_eq!(journal.state, RolloutState::Done, "the rollout finished");
    assert!(
        journal
            .targets
            .iter()
            .all(|t| t.version_now.as_deref() == Some("2.0.0"))
    );
    let mut copies: Vec<u64> = journal.targets.iter().filter_map(|t| t.backup_ms).collect();
    let mut upgrades: Vec<u64> = journal
        .targets
        .iter()
        .filter_map(|t| t.upgrade_ms)
        .collect();
    let mut checks: Vec<u64> = journal
        .targets
        .iter()
        .map(|t| t.health.iter().map(|c| c.ms).sum())
        .collect();
    let domains: Vec<String> = journal
        .domains
        .iter()
        .map(|d| format!("{}", d.duration_ms.unwrap_or(0)))
        .collect();
    println!("  {}", variant.name);
    println!(
        "    total {:.2} s for {DATABASES} databases = {:.1} ms per target (wall); domains {} ms",
        total.as_secs_f64(),
        total.as_secs_f64() * 1000.0 / DATABASES as f64,
        domains.join(" / ")
    );
    if !copies.is_empty() {
        println!("    copy (VACUUM INTO)           {}", describe(&mut copies));
    }
    println!(
        "    upgrade (read-only window)   {}",
        describe(&mut upgrades)
    );
    if variant.health {
        println!("    health checks                {}", describe(&mut checks));
    }
    total
}

/// One fleet-scale run, in this process: the line of the table.
fn fleet_run(n: usize, checked: bool) -> String {
    let root = tempfile::Builder::new()
        .prefix("dac-rollout-fleet-")
        .tempdir()
        .expect("temp dir");
    let dir = root.path();
    let template = tiny_template(dir);
    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        let db = dir.join(format!("t{i:05}.db"));
        std::fs::copy(&template, &db).expect("copy template");
        targets.push(format!("{:?}", format!("sqlite:{}", db.display())));
    }
    let health = if checked {
        "[health]\n[[health.probe]]\nname = \"items\"\nsql = \"SELECT count(*) FROM items\"\nexpect = 2\n"
    } else {
        ""
    };
    let text = format!(
        "package = {:?}\nname = \"shop\"\nversion = \"2.0.0\"\ndomains = 5\nconcurrency = 2\nbackup = {checked}\ntargets = [{}]\n{health}",
        project("2").display().to_string(),
        targets.join(", ")
    );
    let file = dir.join("fleet.toml");
    std::fs::write(&file, text).expect("rollout file");
    let started = Instant::now();
    let outcome = rollout::start(&file, &StartOptions::default(), &|_| {}).expect("rollout runs");
    let total = started.elapsed();
    assert_eq!(
        outcome.journal.state,
        RolloutState::Done,
        "the rollout finished"
    );
    assert!(
        outcome
            .journal
            .targets
            .iter()
            .all(|t| t.version_now.as_deref() == Some("2.0.0"))
    );
    drop(outcome);
    let journal_bytes = std::fs::metadata(dir.join("fleet.journal.json")).map_or(0, |m| m.len());
    let status_started = Instant::now();
    let status = rollout::status(&file).expect("status");
    let shown = rollout::report::render(&status, rollout::report::Format::Text, false);
    let status_time = status_started.elapsed();
    assert!(shown.contains("done"));
    format!(
        "{n:>7} | {:>9.2} s | {:>8.2} ms | {:>8.1} KB | {:>8.1} ms | {:>7.1} MB",
        total.as_secs_f64(),
        total.as_secs_f64() * 1000.0 / n as f64,
        journal_bytes as f64 / 1024.0,
        status_time.as_secs_f64() * 1000.0,
        peak_memory_kb() as f64 / 1024.0
    )
}

/// This process's peak resident memory (VmHWM), in KB; 0 where /proc cannot tell.
fn peak_memory_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// shop 1.0.0 deployed with two items: a tiny database to copy.
fn tiny_template(dir: &Path) -> PathBuf {
    let path = dir.join("template.db");
    let target = Target::Sqlite { path: path.clone() };
    let package = source::build(
        &project("1"),
        &BuildOptions {
            platform: Dsp::from_short_name("sqlite"),
            name: Some("shop".into()),
            version: Some("1.0.0".into()),
            ..BuildOptions::default()
        },
    )
    .expect("build shop v1");
    let mut driver = driver::connect(&target, true).expect("create template");
    upgrade::in_place(driver.as_mut(), &package, &InPlaceOptions::default()).expect("deploy v1");
    driver
        .execute("INSERT INTO items VALUES (1, 'apple', 120), (2, 'pear', 95)")
        .expect("items");
    path
}

/// `status` and `report` on a journal of `n` targets without running `n` upgrades: a snapshot
/// whose first four domains are done and a log holding the fifth's steps (four lines a target),
/// as a rollout killed at its last domain leaves them.
fn status_at_scale(n: usize) {
    use dac_engine::rollout::journal::{
        Change, CheckResult, DomainRecord, DomainState, FORMAT_VERSION, Journal, JournalLog,
        PackageInfo, TargetRecord, TargetState,
    };
    use dac_engine::rollout::report::{self, Format};
    use dac_engine::rollout::spec::Mode;
    // In memory when the machine has /dev/shm: this times reading, and 8,000 synced appends
    // on a disk would only slow the setup down.
    let shm = Path::new("/dev/shm");
    let mut builder = tempfile::Builder::new();
    builder.prefix("dac-rollout-status-");
    let root = if shm.is_dir() {
        builder.tempdir_in(shm)
    } else {
        builder.tempdir()
    }
    .expect("temp dir");
    let file = root.path().join("fleet.toml");
    let paths = rollout::Paths::of(&file);
    let domains = rollout::domains::distribute(n, 5);
    let record = |position: usize, domain: usize, state: TargetState| TargetRecord {
        index: position,
        target: format!("sqlite:/srv/tenants/t{position:05}.db"),
        platform: "sqlite".into(),
        mode: Mode::InPlace,
        domain,
        state,
        version_before: Some("1.0.0".into()),
        hash_before: Some("A".repeat(64)),
        version_now: Some(
            if state == TargetState::Pending {
                "1.0.0"
            } else {
                "2.0.0"
            }
            .into(),
        ),
        backup: None,
        backup_ms: None,
        upgrade_ms: Some(12),
        started_at: Some("2026-12-06T08:00:00Z".into()),
        finished_at: Some("2026-12-06T08:00:01Z".into()),
        health: vec![CheckResult {
            check: "probe items".into(),
            ok: true,
            detail: String::new(),
            ms: 1,
            output: String::new(),
        }],
        error: None,
        notes: Vec::new(),
        carry_history: Vec::new(),
        worker: None,
    };
    let mut targets = Vec::with_capacity(n);
    for (d, members) in domains.iter().enumerate() {
        for &i in members {
            let state = if d < 4 {
                TargetState::Healthy
            } else {
                TargetState::Pending
            };
            targets.push(record(i, d, state));
        }
    }
    let mut journal = Journal {
        format_version: FORMAT_VERSION,
        id: "bench".into(),
        rollout_file: file.display().to_string(),
        package: PackageInfo {
            path: "shop-v2".into(),
            name: "shop".into(),
            version: "2.0.0".into(),
            model_hashes: Default::default(),
        },
        manual: false,
        state: RolloutState::Running,
        created_at: String::new(),
        updated_at: String::new(),
        supersedes: None,
        keeps_copies: false,
        domains: domains
            .iter()
            .enumerate()
            .map(|(d, members)| {
                let mut domain = DomainRecord::pending(d, members.clone());
                if d < 4 {
                    domain.state = DomainState::Healthy;
                }
                domain
            })
            .collect(),
        targets,
        events: Vec::new(),
        log_seq: 0,
    };
    journal.save(&paths.journal).expect("snapshot");
    let mut log = JournalLog::open(&paths.journal).expect("log");
    let mut lines = 0;
    for &i in &domains[4] {
        for state in [
            TargetState::Pending,
            TargetState::Upgrading,
            TargetState::Upgraded,
            TargetState::Healthy,
        ] {
            journal.targets[i] = record(i, 4, state);
            let change = Change::Target {
                position: i,
                record: Box::new(journal.targets[i].clone()),
            };
            log.append(&mut journal, change).expect("append");
            lines += 1;
        }
    }
    let snapshot_kb = std::fs::metadata(&paths.journal).map_or(0, |m| m.len()) as f64 / 1024.0;
    let log_kb = std::fs::metadata(&paths.log).map_or(0, |m| m.len()) as f64 / 1024.0;
    let started = Instant::now();
    let status = rollout::status(&file).expect("status");
    let read = started.elapsed();
    assert_eq!(status.journal.targets, journal.targets);
    let mut rendered = Vec::new();
    for format in [Format::Text, Format::Json, Format::Markdown] {
        let started = Instant::now();
        let text = report::render(&status, format, true);
        rendered.push(format!(
            "{:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        ));
        assert!(text.len() > n);
    }
    println!(
        "rollout/status: {n} targets, snapshot {snapshot_kb:.0} KB + log of {lines} lines ({log_kb:.0} KB): read {:.1} ms; report text {}, json {}, markdown {}",
        read.as_secs_f64() * 1000.0,
        rendered[0],
        rendered[1],
        rendered[2]
    );
}

/// The fleet-scale table: each size in a child process of this benchmark.
fn fleet_table() {
    let sizes: Vec<usize> = std::env::var("DAC_ROLLOUT_FLEET")
        .unwrap_or_else(|_| "100".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("DAC_ROLLOUT_FLEET: sizes like 100,1000")
        })
        .collect();
    let mut kinds = vec![false];
    if std::env::var("DAC_ROLLOUT_FLEET_CHECKED").is_ok_and(|v| v == "1") {
        kinds.push(true);
    }
    let exe = std::env::current_exe().expect("bench executable");
    for checked in kinds {
        println!(
            "rollout/fleet: tiny SQLite databases, 5 domains, concurrency 2, {}",
            if checked {
                "a copy kept of each and a SQL probe"
            } else {
                "no copies, no checks"
            }
        );
        println!("targets |     total |  per target |  journal |   status |    peak");
        for &n in &sizes {
            let out = std::process::Command::new(&exe)
                .env("DAC_ROLLOUT_FLEET_ONE", format!("{n},{checked}"))
                .output()
                .expect("run one size");
            assert!(
                out.status.success(),
                "size {n} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
}

/// `n` tiny databases rolled out by three worker processes sharing a PostgreSQL journal.
fn workers_run(n: usize) {
    let server = dac_tests::postgres::server();
    let journal = server.create_database("benchjournal");
    let root = tempfile::Builder::new()
        .prefix("dac-rollout-workers-")
        .tempdir()
        .expect("temp dir");
    let dir = root.path();
    let template = tiny_template(dir);
    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        let db = dir.join(format!("t{i:05}.db"));
        std::fs::copy(&template, &db).expect("copy template");
        targets.push(format!("{:?}", format!("sqlite:{}", db.display())));
    }
    let text = format!(
        "package = {:?}\nname = \"shop\"\nversion = \"2.0.0\"\ndomains = 5\nconcurrency = 2\nbackup = false\njournal = {journal:?}\ntargets = [{}]\n",
        project("2").display().to_string(),
        targets.join(", ")
    );
    let file = dir.join("fleet.toml");
    std::fs::write(&file, text).expect("rollout file");
    // Found (or built) before the clock starts.
    let dac = dac_tests::binary::dac_binary();
    let started = Instant::now();
    let workers: Vec<_> = ["w1", "w2", "w3"]
        .iter()
        .map(|name| {
            std::process::Command::new(dac)
                .args(["rollout", "start"])
                .arg(&file)
                .args(["--worker", name])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start a worker")
        })
        .collect();
    for worker in workers {
        let out = worker.wait_with_output().expect("wait for a worker");
        assert!(
            out.status.success(),
            "a worker failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let total = started.elapsed();
    let status = rollout::status(&file).expect("status");
    assert_eq!(
        status.journal.state,
        RolloutState::Done,
        "the rollout finished"
    );
    let mut by_worker = std::collections::BTreeMap::new();
    for t in &status.journal.targets {
        assert_eq!(t.version_now.as_deref(), Some("2.0.0"), "{}", t.target);
        *by_worker
            .entry(t.worker.clone().unwrap_or_default())
            .or_insert(0usize) += 1;
    }
    println!(
        "rollout/workers: {n} tiny SQLite databases, 3 workers sharing a PostgreSQL journal, 5 domains, concurrency 2 each, no copies, no checks"
    );
    println!(
        "{n:>7} | {:>9.2} s | {:>8.2} ms per target | targets per worker {by_worker:?}",
        total.as_secs_f64(),
        total.as_secs_f64() * 1000.0 / n as f64
    );
    server.drop_database(&journal);
}

fn main() {
    if let Ok(one) = std::env::var("DAC_ROLLOUT_FLEET_ONE") {
        let (n, checked) = one.split_once(',').expect("N,CHECKED");
        println!("{}", fleet_run(n.parse().expect("size"), checked == "true"));
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with("--")).collect();
    if filters.is_empty() || filters.iter().any(|f| f.as_str() == "fleet") {
        fleet_table();
        status_at_scale(10_000);
    }
    if filters.is_empty() || filters.iter().any(|f| f.as_str() == "workers") {
        let n = std::env::var("DAC_ROLLOUT_WORKERS_TARGETS").map_or(1000, |v| {
            v.parse().expect("DAC_ROLLOUT_WORKERS_TARGETS: a number")
        });
        workers_run(n);
    }
    if filters
        .iter()
        .any(|f| f.as_str() == "fleet" || f.as_str() == "workers")
    {
        return;
    }
    let root = tempfile::Builder::new()
        .prefix("dac-rollout-bench-")
        .tempdir()
        .expect("temp dir");
    let template = template(root.path());
    println!(
        "rollout/{DATABASES} SQLite databases, shop 1.0.0 -> 2.0.0 in place, 5 domains (200 items, 400 orders each)"
    );
    for (n, variant) in VARIANTS.iter().enumerate() {
        if !filters.is_empty() && !filters.iter().any(|f| variant.name.contains(f.as_str())) {
            continue;
        }
        run(n, variant, &template, root.path());
    }
}
