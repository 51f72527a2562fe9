//! dac's live-database benchmarks: `cargo bench -p dac-tests --bench live [-- FILTER]`.
//!
//! Like `bench.rs`, each case runs in its own child process (this binary re-executed with
//! `--case NAME`). A case does its expensive setup once (a throwaway PostgreSQL server with two
//! databases, a SQLite file of a million rows), then runs each *variant* in a process of its own
//! (`--variant NAME ARGS...`), so the peak resident memory (VmHWM) it prints is the variant's. A
//! variant's closure does its own untimed per-iteration setup (a fresh copy of a database file)
//! and returns the time of the work alone; it runs once to warm up, then `iterations` times, and
//! the median and minimum are printed with the median of each phase. External tools (migra) are
//! timed as child processes, their peak memory read from `/usr/bin/time -f %M` where that exists.
//!
//! Numbers are reported, never asserted; a variant checks its result (a non-empty plan, the rows
//! still there) so that a broken case fails instead of timing nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dac_engine::compare::{CompareOptions, compare};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::{Driver, PostgresDriver, SqliteDriver};
use dac_engine::model::{Model, Platform};
use dac_engine::plan::{PlanOptions, plan};
use dac_engine::script::{Script, render};
use dac_engine::upgrade;
use dac_tests::conformance::model_of;

mod common;
use common::{Summary, dac_binary, measure_command, measure_command_with, median, ms};

/// A benchmark case: runs its setup and its variants, printing one line per variant.
struct Case {
    name: &'static str,
    run: fn(),
}

const CASES: &[Case] = &[
    Case {
        name: "postgres/2000 tables (DAC_BENCH_PG_TABLES), 10% changed: inspect + diff, `dac script`/`dac compare` processes, and migra",
        run: postgres_case,
    },
    Case {
        name: "sqlite/1M-row table rebuild (add CHECK): dac vs bare SQL",
        run: sqlite_case,
    },
    Case {
        name: "postgres/largest real schema: `dac compare` live vs package (cold, cached), live vs live, and migra",
        run: real_schema_case,
    },
];

/// A measured variant, run in a process of its own (`--variant NAME ARGS...`) so its peak memory
/// is its own; a case's process keeps the shared setup (server, files) alive meanwhile.
struct Variant {
    name: &'static str,
    run: fn(&[String]) -> Summary,
}

const PG_BUILT: &str = "dac connect+inspect+compare+plan+render (package as built)";
const PG_CANONICAL: &str = "dac connect+inspect+canonicalize+compare+plan+render";
const PG_LIVE_VS_LIVE: &str = "dac live vs live (inspect both, compare, plan, render)";
const PG_LIVE_VS_LIVE_PARALLEL: &str = "dac live vs live, the two inspections in parallel threads";
const SQLITE_DAC: &str = "dac open+inspect+compare+plan+render+upgrade::execute";
const SQLITE_BARE: &str = "bare BEGIN; CREATE; INSERT SELECT; DROP; RENAME; COMMIT";

const VARIANTS: &[Variant] = &[
    Variant {
        name: PG_BUILT,
        run: pg_built,
    },
    Variant {
        name: PG_CANONICAL,
        run: pg_canonical,
    },
    Variant {
        name: PG_LIVE_VS_LIVE,
        run: pg_live_vs_live,
    },
    Variant {
        name: PG_LIVE_VS_LIVE_PARALLEL,
        run: pg_live_vs_live_parallel,
    },
    Variant {
        name: SQLITE_DAC,
        run: sqlite_dac,
    },
    Variant {
        name: SQLITE_BARE,
        run: sqlite_bare,
    },
];

/// The line a variant's process prints for its case's process: the median in nanoseconds.
const MEDIAN_TAG: &str = "@median ";

/// Runs a variant in a child process, passing its output through; its median, or `None` when it
/// failed (said on stderr).
fn variant(name: &str, args: &[&str]) -> Option<Summary> {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args(["--variant", name])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("re-run bench binary");
    let mut median = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        match line.strip_prefix(MEDIAN_TAG) {
            Some(nanos) => median = nanos.parse().ok().map(Duration::from_nanos),
            None => println!("{line}"),
        }
    }
    if !out.status.success() {
        eprintln!("  {name}: failed ({})", out.status);
        return None;
    }
    median.map(|median| Summary { median })
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// One timed run of a variant: the total, the size of its result (printed so a reader can see
/// the work was done) and the time of each phase.
struct Sample {
    total: Duration,
    size: usize,
    phases: Vec<(&'static str, Duration)>,
}

impl Sample {
    fn new(total: Duration, size: usize) -> Sample {
        Sample {
            total,
            size,
            phases: Vec::new(),
        }
    }
}

/// Splits a run into named phases.
struct Clock {
    start: Instant,
    lap: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl Clock {
    fn start() -> Clock {
        let now = Instant::now();
        Clock {
            start: now,
            lap: now,
            phases: Vec::new(),
        }
    }

    fn lap(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.phases.push((phase, now - self.lap));
        self.lap = now;
    }

    fn done(self, size: usize) -> Sample {
        Sample {
            total: self.start.elapsed(),
            size,
            phases: self.phases,
        }
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Warms up once, runs `iterations` times and prints median, minimum, peak RSS and phases.
fn measure(label: &str, iterations: usize, mut run: impl FnMut() -> Sample) -> Summary {
    let warm = run();
    let mut totals = Vec::with_capacity(iterations);
    let mut phases: Vec<(&'static str, Vec<Duration>)> = warm
        .phases
        .iter()
        .map(|(name, _)| (*name, Vec::new()))
        .collect();
    for _ in 0..iterations {
        let sample = std::hint::black_box(run());
        totals.push(sample.total);
        for ((_, all), (_, d)) in phases.iter_mut().zip(&sample.phases) {
            all.push(*d);
        }
    }
    let med = median(&mut totals);
    println!(
        "  {label:<62} median {:>9.1} ms  min {:>9.1} ms  peak RSS {:>7.1} MiB  ({iterations} iterations, result size {})",
        ms(med),
        ms(totals[0]),
        peak_rss_kib() as f64 / 1024.0,
        warm.size,
    );
    if !phases.is_empty() {
        let text: Vec<String> = phases
            .iter_mut()
            .map(|(name, all)| format!("{name} {:.1}", ms(median(all))))
            .collect();
        println!("      phases (median ms): {}", text.join(", "));
    }
    Summary { median: med }
}

/// Whether a program can be started at all.
fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: inspect + diff of 2,000 tables

/// Tables in the PostgreSQL case: 2,000, or `DAC_BENCH_PG_TABLES` (e.g. 10000).
fn pg_tables() -> usize {
    std::env::var("DAC_BENCH_PG_TABLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

/// The DDL of the PostgreSQL case: [`pg_tables`] tables of five columns, each with a primary key,
/// a foreign key to the table before it (the first to itself) and an index. With `changed`,
/// every tenth table differs: a new column, a column of another type, or an index on two
/// columns, in turn.
fn pg_schema(changed: bool) -> String {
    let mut sql = String::new();
    for i in 0..pg_tables() {
        let parent = i.saturating_sub(1);
        let change = if changed && i % 10 == 0 {
            i / 10 % 3
        } else {
            3
        };
        let amount = if change == 1 {
            "numeric(14,2)"
        } else {
            "numeric(12,2)"
        };
        let note = if change == 0 { ",\n  note text" } else { "" };
        sql.push_str(&format!(
            "CREATE TABLE public.t{i:04} (\n  id integer NOT NULL,\n  parent_id integer,\n  name varchar(100) NOT NULL,\n  amount {amount},\n  created_at timestamp NOT NULL{note},\n  CONSTRAINT t{i:04}_pkey PRIMARY KEY (id),\n  CONSTRAINT t{i:04}_parent_fkey FOREIGN KEY (parent_id) REFERENCES public.t{parent:04} (id)\n);\n"
        ));
        let columns = if change == 2 {
            "name, created_at"
        } else {
            "name"
        };
        sql.push_str(&format!(
            "CREATE INDEX t{i:04}_name_idx ON public.t{i:04} ({columns});\n"
        ));
    }
    sql
}

fn pg_options() -> CompareOptions {
    CompareOptions {
        drop_objects_not_in_source: true,
        // PostgreSQL appends added columns; their order is not part of the schema here.
        ignore_column_order: true,
        ..CompareOptions::default()
    }
}

/// compare + plan + render, as `dac upgrade` does after inspection.
fn diff_and_script(live: &Model, desired: &Model, options: &CompareOptions) -> (usize, Script) {
    let diff = compare(live, desired, options);
    let dialect = dialect_for(desired.platform());
    let planned = plan(
        &diff,
        live,
        desired,
        dialect.capabilities(),
        &PlanOptions::default(),
    );
    let script = render(&planned, dialect);
    (diff.differences().count(), script)
}

/// The server the table-count case runs on: above 2,000 tables one of the bench's own, whose
/// lock table holds a schema made in one transaction (a table takes about three locks, and
/// PostgreSQL's default lock table, `max_locks_per_transaction` 64 x `max_connections` 100,
/// holds 6,400: 10,000 tables fail with "out of shared memory", dac's deploy as the bench's).
fn schema_server() -> &'static dac_tests::postgres::Server {
    static OWN: std::sync::OnceLock<dac_tests::postgres::Server> = std::sync::OnceLock::new();
    if pg_tables() <= 2_000 {
        return dac_tests::postgres::server();
    }
    OWN.get_or_init(|| {
        let locks = (pg_tables() * 4 / 100).max(64);
        dac_tests::postgres::start_with(&[&format!("max_locks_per_transaction = {locks}")])
    })
}

fn postgres_case() {
    let server = schema_server();
    println!(
        "  PostgreSQL {} ({}); {} tables, 10% changed",
        server.version,
        if server.is_private() {
            "throwaway server"
        } else {
            "DAC_TEST_POSTGRES_URL"
        },
        pg_tables()
    );
    let current_sql = pg_schema(false);
    let desired_sql = pg_schema(true);
    let setup = Instant::now();
    let live_url = server.create_database("bench_live");
    let changed_url = server.create_database("bench_changed");
    for (url, sql) in [(&live_url, &current_sql), (&changed_url, &desired_sql)] {
        let mut driver = PostgresDriver::connect(url).expect("connect");
        if let Err(e) = driver.execute(sql) {
            // The error carries the whole schema as its statement: its first lines say enough.
            let text: String = e.to_string().chars().take(600).collect();
            panic!("create the bench schema: {text}");
        }
    }
    let desired = model_of(Platform::Postgres, &desired_sql, "desired.sql").expect("desired");
    println!(
        "  setup (two databases of {} tables): {:.1} s",
        pg_tables(),
        setup.elapsed().as_secs_f64()
    );
    let options = pg_options();

    // Sanity: the canonical diff names exactly the changed tables' objects.
    let mut driver = PostgresDriver::connect(&live_url).expect("connect");
    let canonical = driver.canonicalize(&desired).expect("canonicalize");
    let live = driver.inspect().expect("inspect");
    let (n_canonical, script) = diff_and_script(&live, &canonical, &options);
    let (n_raw, _) = diff_and_script(&live, &desired, &options);
    assert!(n_canonical > 0 && script.n_statements() > 0, "empty plan");
    println!(
        "  differences: {n_canonical} against the canonicalized package, {n_raw} against the package as built; {} statements",
        script.n_statements()
    );
    drop(driver);

    let dac = variant(PG_BUILT, &[&live_url]);
    variant(PG_CANONICAL, &[&live_url]);
    let live_vs_live = variant(PG_LIVE_VS_LIVE, &[&live_url, &changed_url]);
    let parallel = variant(PG_LIVE_VS_LIVE_PARALLEL, &[&live_url, &changed_url]);
    let commands = pg_commands(&desired_sql, &live_url, &changed_url);

    if !available("migra") {
        println!(
            "  migra: not measured (not installed; `pip install migra psycopg2-binary` puts it on PATH)"
        );
    } else {
        let sqlalchemy = |url: &str| url.replacen("postgres://", "postgresql+psycopg2://", 1);
        let args = vec![
            "--unsafe".to_string(),
            sqlalchemy(&live_url),
            sqlalchemy(&changed_url),
        ];
        // migra exits 2 when it found differences (0 when none).
        let ok: fn(Option<i32>, &str) -> bool = |code, out| code == Some(2) && !out.is_empty();
        match measure_command("migra --unsafe live changed", 3, "migra", &args, ok) {
            Ok(migra) => {
                for (what, dac) in [
                    ("package as built", dac),
                    ("live vs live", live_vs_live),
                    ("live vs live, parallel", parallel),
                    ("`dac script` process", commands.script),
                    ("`dac compare` live live process", commands.compare),
                ] {
                    if let Some(dac) = dac {
                        println!(
                            "  migra / dac ({what}): {:.1}x",
                            migra.median.as_secs_f64() / dac.median.as_secs_f64()
                        );
                    }
                }
            }
            Err(why) => println!("  migra: not measured ({why})"),
        }
    }
    server.drop_database(&live_url);
    server.drop_database(&changed_url);
}

/// The medians of the PostgreSQL case's whole `dac` processes, `None` where one failed.
struct PgCommands {
    script: Option<Summary>,
    compare: Option<Summary>,
}

/// The PostgreSQL case as users run it, each a whole `dac` process: `dac script` of the desired
/// package against the live database (connect, inspect, canonicalize, compare, plan, render) and
/// `dac compare` of the two live databases (what migra does).
fn pg_commands(desired_sql: &str, live_url: &str, changed_url: &str) -> PgCommands {
    let none = PgCommands {
        script: None,
        compare: None,
    };
    let dac = match dac_binary() {
        Ok(dac) => dac.display().to_string(),
        Err(why) => {
            println!("  dac processes: NOT RUN: {why}");
            return none;
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().join("desired");
    std::fs::create_dir_all(&project).expect("project folder");
    std::fs::write(project.join("schema.sql"), desired_sql).expect("write desired DDL");
    let package = dir.path().join("desired.dacpac").display().to_string();
    let built = Command::new(&dac)
        .args([
            "build",
            &project.display().to_string(),
            "--platform",
            "postgres",
        ])
        .args(["--name", "Bench", "--version", "2.0.0", "-o", &package])
        .output()
        .expect("run dac build");
    if !built.status.success() {
        println!(
            "  dac processes: NOT RUN: dac build failed: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        return none;
    }
    let out = dir.path().join("out.sql").display().to_string();
    let script_args: Vec<String> = ["script", &package, "--target", live_url, "-o", &out]
        .map(String::from)
        .to_vec();
    let ok: fn(Option<i32>, &str) -> bool = |code, _| code == Some(0);
    // Cold: the scratch database the package is canonicalized in is built every run.
    if let Err(why) = measure_command_with(
        "dac script (canonical cache off: scratch database every run)",
        3,
        &dac,
        &script_args,
        &[("DAC_CANONICAL_CACHE", "off")],
        ok,
    ) {
        println!("  dac script, cache off: FAILED: {why}");
    }
    // Cached: the canonical model the warm-up run stored (in a cache of the bench's own) is
    // reused, as a repeated run finds it.
    let cache = dir.path().join("canonical-cache").display().to_string();
    let script = measure_command_with(
        "dac script desired.dacpac --target postgres://live -o out.sql (cached)",
        3,
        &dac,
        &script_args,
        &[("DAC_CANONICAL_CACHE", &cache)],
        ok,
    );
    let compare_args: Vec<String> = ["compare", live_url, changed_url]
        .map(String::from)
        .to_vec();
    // `dac compare` exits 2 when it found differences.
    let differs: fn(Option<i32>, &str) -> bool = |code, out| code == Some(2) && !out.is_empty();
    let compare = measure_command(
        "dac compare postgres://live postgres://changed",
        3,
        &dac,
        &compare_args,
        differs,
    );
    for (what, result) in [("dac script", &script), ("dac compare", &compare)] {
        if let Err(why) = result {
            println!("  {what}: FAILED: {why}");
        }
    }
    PgCommands {
        script: script.ok(),
        compare: compare.ok(),
    }
}

/// The desired model of the PostgreSQL case, as the project builder makes it.
fn pg_desired() -> Model {
    model_of(Platform::Postgres, &pg_schema(true), "desired.sql").expect("desired")
}

/// Variant: connect, inspect, compare with the package as built, plan, render.
fn pg_built(args: &[String]) -> Summary {
    let desired = pg_desired();
    let options = pg_options();
    measure(PG_BUILT, 7, || {
        let mut clock = Clock::start();
        let mut driver = PostgresDriver::connect(&args[0]).expect("connect");
        clock.lap("connect");
        let live = driver.inspect().expect("inspect");
        clock.lap("inspect");
        let diff = compare(&live, &desired, &options);
        clock.lap("compare");
        let dialect = dialect_for(Platform::Postgres);
        let planned = plan(
            &diff,
            &live,
            &desired,
            dialect.capabilities(),
            &PlanOptions::default(),
        );
        let script = render(&planned, dialect);
        clock.lap("plan+render");
        clock.done(script.n_statements())
    })
}

/// Variant: the same with the package canonicalized first, as `dac upgrade` does.
fn pg_canonical(args: &[String]) -> Summary {
    let desired = pg_desired();
    let options = pg_options();
    measure(PG_CANONICAL, 3, || {
        let mut clock = Clock::start();
        let mut driver = PostgresDriver::connect(&args[0]).expect("connect");
        let live = driver.inspect().expect("inspect");
        clock.lap("connect+inspect");
        let canonical = driver.canonicalize(&desired).expect("canonicalize");
        clock.lap("canonicalize");
        let (_, script) = diff_and_script(&live, &canonical, &options);
        clock.lap("compare+plan+render");
        clock.done(script.n_statements())
    })
}

/// Inspects a database on a connection of its own.
fn pg_inspect(url: &str) -> Model {
    let mut driver = PostgresDriver::connect(url).expect("connect");
    driver.inspect().expect("inspect")
}

/// Variant: what migra does, two live databases inspected one after the other and compared.
fn pg_live_vs_live(args: &[String]) -> Summary {
    let options = pg_options();
    measure(PG_LIVE_VS_LIVE, 7, || {
        let mut clock = Clock::start();
        let live = pg_inspect(&args[0]);
        let target = pg_inspect(&args[1]);
        clock.lap("connect+inspect both");
        let (_, script) = diff_and_script(&live, &target, &options);
        clock.lap("compare+plan+render");
        clock.done(script.n_statements())
    })
}

/// Variant: the same with the two inspections on two threads (two server backends).
fn pg_live_vs_live_parallel(args: &[String]) -> Summary {
    let options = pg_options();
    measure(PG_LIVE_VS_LIVE_PARALLEL, 7, || {
        let mut clock = Clock::start();
        let (live, target) = std::thread::scope(|s| {
            let live = s.spawn(|| pg_inspect(&args[0]));
            let target = pg_inspect(&args[1]);
            (live.join().expect("inspect thread"), target)
        });
        clock.lap("connect+inspect both");
        let (_, script) = diff_and_script(&live, &target, &options);
        clock.lap("compare+plan+render");
        clock.done(script.n_statements())
    })
}

// ---------------------------------------------------------------------------------------------
// SQLite: a 1M-row table rebuild

/// Rows in the SQLite case's table.
const SQLITE_ROWS: i64 = 1_000_000;

const SQLITE_TABLE: &str = "CREATE TABLE items (\n  id INTEGER PRIMARY KEY,\n  name TEXT NOT NULL,\n  qty INTEGER NOT NULL,\n  price REAL NOT NULL\n)";

/// The same table with a CHECK constraint, which SQLite can only get by a rebuild.
const SQLITE_TABLE_CHECKED: &str = "CREATE TABLE items (\n  id INTEGER PRIMARY KEY,\n  name TEXT NOT NULL,\n  qty INTEGER NOT NULL,\n  price REAL NOT NULL,\n  CHECK (qty >= 0)\n)";

/// A fresh copy of `base` at `work` (the old copy, its journal and lock file removed first).
fn fresh_copy(base: &Path, work: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm", ".dac-lock"] {
        let mut name = work.as_os_str().to_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    std::fs::copy(base, work).expect("copy the database");
}

fn count_rows(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row("SELECT count(*) FROM items WHERE qty >= 0", [], |r| {
        r.get(0)
    })
    .expect("count")
}

fn sqlite_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = dir.path().join("base.db");
    {
        let conn = rusqlite::Connection::open(&base).expect("create");
        conn.execute_batch(&format!(
            "{SQLITE_TABLE};\nWITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SQLITE_ROWS}) \
             INSERT INTO items SELECT i, 'it' || i, i % 1000, i * 0.25 FROM n;"
        ))
        .expect("fill");
    }
    let size = std::fs::metadata(&base).map(|m| m.len()).unwrap_or(0);
    println!(
        "  {SQLITE_ROWS} rows, {:.1} MB file, SQLite {}",
        size as f64 / 1e6,
        rusqlite::version()
    );
    let base_arg = base.to_string_lossy().into_owned();
    let dac = variant(SQLITE_DAC, &[&base_arg]);
    let bare = variant(SQLITE_BARE, &[&base_arg]);
    if let (Some(dac), Some(bare)) = (dac, bare) {
        println!(
            "  dac / bare: {:.2}x",
            dac.median.as_secs_f64() / bare.median.as_secs_f64()
        );
    }
}

/// The working copy beside the base database of the SQLite case.
fn sqlite_work(base: &Path) -> PathBuf {
    base.with_file_name("work.db")
}

/// Variant: dac's whole upgrade of a fresh copy (the copy untimed).
fn sqlite_dac(args: &[String]) -> Summary {
    let base = PathBuf::from(&args[0]);
    let work = sqlite_work(&base);
    let desired = model_of(Platform::Sqlite, SQLITE_TABLE_CHECKED, "desired.sql").expect("model");
    let options = CompareOptions {
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    };
    measure(SQLITE_DAC, 5, || {
        fresh_copy(&base, &work);
        let mut clock = Clock::start();
        let mut driver = SqliteDriver::open(&work, false).expect("open");
        let live = driver.inspect().expect("inspect");
        let diff = compare(&live, &desired, &options);
        let dialect = dialect_for(Platform::Sqlite);
        let planned = plan(
            &diff,
            &live,
            &desired,
            dialect.capabilities(),
            &PlanOptions::default(),
        );
        let script = render(&planned, dialect);
        clock.lap("open+inspect+compare+plan+render");
        upgrade::execute(&mut driver, &script).expect("upgrade");
        clock.lap("execute");
        drop(driver);
        let sample = clock.done(script.n_statements());
        assert_eq!(count_rows(&work), SQLITE_ROWS, "rows lost by the rebuild");
        let mut check = SqliteDriver::open(&work, false).expect("open");
        let after = check.inspect().expect("inspect");
        assert!(
            compare(&after, &desired, &options).is_empty(),
            "the rebuild did not reach the desired schema"
        );
        sample
    })
}

/// Variant: the bare rebuild on a fresh copy, on a connection with SQLite's defaults.
fn sqlite_bare(args: &[String]) -> Summary {
    let base = PathBuf::from(&args[0]);
    let work = sqlite_work(&base);
    measure(SQLITE_BARE, 5, || {
        fresh_copy(&base, &work);
        let start = Instant::now();
        let conn = rusqlite::Connection::open(&work).expect("open");
        conn.execute_batch(&format!(
            "BEGIN;\n{};\nINSERT INTO items_new SELECT * FROM items;\nDROP TABLE items;\nALTER TABLE items_new RENAME TO items;\nCOMMIT;",
            SQLITE_TABLE_CHECKED.replacen("items", "items_new", 1)
        ))
        .expect("bare rebuild");
        drop(conn);
        let sample = Sample::new(start.elapsed(), 1);
        assert_eq!(count_rows(&work), SQLITE_ROWS, "rows lost by the rebuild");
        sample
    })
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(idx) = args.iter().position(|a| a == "--variant") {
        let name = &args[idx + 1];
        let variant = VARIANTS
            .iter()
            .find(|v| v.name == name)
            .expect("known variant");
        let summary = (variant.run)(&args[idx + 2..]);
        println!("{MEDIAN_TAG}{}", summary.median.as_nanos());
        return;
    }
    if let Some(idx) = args.iter().position(|a| a == "--case") {
        let name = &args[idx + 1];
        let case = CASES.iter().find(|c| c.name == name).expect("known case");
        (case.run)();
        return;
    }
    // `cargo bench` passes `--bench`; anything else is a name filter.
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with("--")).collect();
    let exe: PathBuf = std::env::current_exe().expect("current exe");
    for case in CASES {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f.as_str())) {
            continue;
        }
        println!("{}", case.name);
        let status = Command::new(&exe)
            .args(["--case", case.name])
            .status()
            .expect("re-run bench binary");
        if !status.success() {
            eprintln!("{}: failed ({status})", case.name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: the largest real application schema, compared as users run it

/// The real schema with the most tables under `../shared/real-schemas/postgres`, as (app, SQL).
fn largest_real_schema() -> Option<(String, String)> {
    let root = dac_tests::shared_dir("live bench")?.join("real-schemas/postgres");
    let mut best: Option<(usize, String, String)> = None;
    for entry in std::fs::read_dir(root).ok()?.filter_map(Result::ok) {
        let Ok(sql) = std::fs::read_to_string(entry.path().join("v2.sql")) else {
            continue;
        };
        let tables = sql.to_ascii_uppercase().matches("CREATE TABLE").count();
        if best.as_ref().is_none_or(|(n, _, _)| tables > *n) {
            best = Some((
                tables,
                entry.file_name().to_string_lossy().into_owned(),
                sql,
            ));
        }
    }
    best.map(|(_, app, sql)| (app, sql))
}

fn real_schema_case() {
    let Some((app, sql)) = largest_real_schema() else {
        println!("  NOT MEASURED: ../shared/real-schemas/postgres is missing");
        return;
    };
    let dac = match dac_binary() {
        Ok(dac) => dac,
        Err(why) => {
            println!("  NOT MEASURED: no dac binary ({why})");
            return;
        }
    };
    let server = dac_tests::postgres::server();
    let live = server.create_database("bench_real_live");
    let twin = server.create_database("bench_real_twin");
    for url in [&live, &twin] {
        let out = Command::new(dac_tests::postgres::client("psql"))
            .args([
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url.as_str(),
                "-c",
                &sql,
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let folder = tempfile::tempdir().expect("temp dir");
    std::fs::write(folder.path().join("schema.sql"), &sql).expect("write schema");
    let package = folder.path().join(format!("{app}.dacpac"));
    let built = Command::new(&dac)
        .args(["build", "--platform", "postgres", "-o"])
        .arg(&package)
        .arg(folder.path().join("schema.sql").parent().expect("folder"))
        .output()
        .expect("dac build");
    assert!(
        built.status.success(),
        "dac build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    println!(
        "  {app} v2 (PostgreSQL {}), `dac compare` as a whole process, each run from a new process",
        server.version
    );
    let cache = tempfile::tempdir().expect("cache dir");
    let dac_text = dac.to_string_lossy().into_owned();
    let package_text = package.to_string_lossy().into_owned();
    // dac compare exits 0 when the two are the same, as they are here.
    let same: fn(Option<i32>, &str) -> bool = |code, _| code == Some(0);
    let run = |label: &str, cache_setting: &str, args: Vec<String>| {
        let env = [("DAC_CANONICAL_CACHE", cache_setting)];
        measure_command_with(label, 5, &dac_text, &args, &env, same)
    };
    let live_vs_live = run(
        "dac compare live live",
        "off",
        vec!["compare".into(), live.clone(), twin.clone()],
    );
    let cold = run(
        "dac compare live package (scratch deploy, no cache)",
        "off",
        vec!["compare".into(), live.clone(), package_text.clone()],
    );
    let warm = run(
        "dac compare live package (canonical model cached)",
        &cache.path().to_string_lossy(),
        vec!["compare".into(), live.clone(), package_text.clone()],
    );
    if let (Ok(base), Ok(cold), Ok(warm)) = (&live_vs_live, &cold, &warm) {
        println!(
            "  live vs package / live vs live: {:.1}x cold, {:.1}x cached",
            cold.median.as_secs_f64() / base.median.as_secs_f64(),
            warm.median.as_secs_f64() / base.median.as_secs_f64()
        );
    }
    for result in [&live_vs_live, &cold, &warm] {
        if let Err(why) = result {
            println!("  dac: not measured ({why})");
        }
    }
    if available("migra") {
        let sqlalchemy = |url: &str| url.replacen("postgres://", "postgresql+psycopg2://", 1);
        let args = vec!["--unsafe".to_string(), sqlalchemy(&live), sqlalchemy(&twin)];
        let ok: fn(Option<i32>, &str) -> bool = |code, _| code == Some(0);
        match measure_command("migra --unsafe live live", 3, "migra", &args, ok) {
            Ok(migra) => {
                if let Ok(warm) = &warm {
                    println!(
                        "  migra / dac compare live package (cached): {:.1}x",
                        migra.median.as_secs_f64() / warm.median.as_secs_f64()
                    );
                }
            }
            Err(why) => println!("  migra: not measured ({why})"),
        }
    } else {
        println!(
            "  migra: not measured (not installed; `pip install migra psycopg2-binary` puts it on PATH)"
        );
    }
    server.drop_database(&live);
    server.drop_database(&twin);
}
