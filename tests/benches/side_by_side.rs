//! Side-by-side upgrades of a database of a million rows, against the ways to move the same
//! rows by hand: `cargo bench -p dac-tests --bench side_by_side [-- FILTER]` (filters match case
//! names; `side-by-side` matches both).
//!
//! * PostgreSQL (the throwaway server of `dac_tests::postgres`, or `DAC_TEST_POSTGRES_URL`): a
//!   database of three tables (1,000,000 rows, one table of 900,000) deployed at v1, upgraded to
//!   v2 (a new table, a new nullable column, a new index) by `upgrade::side_by_side`, the engine
//!   call behind `dac upgrade --side-by-side`: with the copy made with writers held
//!   (`--no-early-copy`; one copier and two), with the early copy (the default) kept, and with
//!   a row of customers written meanwhile (customers caught up by key: on PostgreSQL found by
//!   row version or logical decoding, on SQLite by change-log triggers).
//!   Against the same
//!   data: `pg_dump -a | psql` into a database holding the v2 schema, and a binary `COPY ... TO
//!   STDOUT | COPY ... FROM STDIN` pipe of two `psql` per table (the practical floor), into the
//!   v2 schema and into the v2 tables without their secondary indexes and foreign keys (what
//!   dac copies into before it builds those).
//! * SQLite: the same shape and dac's three ways in a file, against `ATTACH` + `INSERT INTO new.t SELECT ... FROM
//!   old.t` per table in one transaction (through rusqlite), into the v2 schema and into the v2
//!   tables without their secondary indexes.
//!
//! * Under live writes: the same early-copy upgrade while a client on its own connection writes
//!   to `orders` (updates and inserts in turns) at each rate of `DAC_SBS_WRITE_RATES` (writes a
//!   second, default `50,500`) until writers are held off: the copy is caught up in passes and
//!   only the last delta is applied with writers held; the row shows the passes, the last delta's
//!   rows and the writes made.
//!
//! `DAC_SBS_LOGICAL=1` runs the PostgreSQL case on a server of its own with `wal_level =
//! logical`, so the early copy is caught up by logical decoding (a replication slot) rather than
//! by row versions; compare the two rows under live writes.
//!
//! `DAC_SBS_ROWS` sets the rows in all (default 1,000,000; `4000000` for the 4M-row comparison;
//! a few thousand to check that the bench runs, e.g. `DAC_SBS_ROWS=5000 DAC_SBS_RUNS=1
//! DAC_SBS_BASELINES=0 cargo test -p dac-tests --bench side_by_side -- --bench`).
//!
//! Each measurement runs `DAC_SBS_RUNS` times (default 3), the variants taking turns so that
//! load from other processes falls on all of them; the median is printed, with the minimum and
//! the load average. dac's rows come from its data transfer report (`read_only_window_ms`,
//! `copy_ms`, `total_ms`, as `--format json` prints them) and its progress steps, timed here, give
//! the phases. Untimed per-run setup: a fresh copy of the v1 database (`CREATE DATABASE ...
//! TEMPLATE`, a file copy for SQLite). Numbers are reported, never asserted; every run checks
//! that the rows arrived.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dac_engine::driver::{Driver, Moved, PostgresDriver, SqliteDriver, Target};
use dac_engine::model::Dsp;
use dac_engine::package::Package;
use dac_engine::report::transfer::{EarlyCopy, TableTransfer, TransferReport};
use dac_engine::source::{self, BuildOptions};
use dac_engine::upgrade::{self, InPlaceOptions, Progress, SideBySideOptions};

struct Case {
    name: &'static str,
    run: fn(),
}

const CASES: &[Case] = &[
    Case {
        name: "postgres side-by-side upgrade, 1M rows (~200 MB): dac vs pg_dump|psql vs COPY pipe",
        run: postgres_case,
    },
    Case {
        name: "sqlite side-by-side upgrade, 1M rows: dac vs ATTACH + INSERT SELECT",
        run: sqlite_case,
    },
];

/// Writes during an early copy, ending where they began (SQLite does not even touch the file
/// for an update to the same value): the copy is made again.
const NO_CHANGE: &str = "UPDATE customers SET city = city || '!' WHERE id = 1; \
UPDATE customers SET city = substr(city, 1, length(city) - 1) WHERE id = 1";

/// Rows in all (`DAC_SBS_ROWS`, default 1,000,000; `4000000` for the 4M-row measurement, a few
/// thousand for a quick check that the bench runs): 8% customers, 2% products, 90% orders.
fn total_rows() -> i64 {
    std::env::var("DAC_SBS_ROWS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .filter(|&n: &i64| n >= 100)
        .unwrap_or(1_000_000)
}

fn customers() -> i64 {
    total_rows() * 8 / 100
}

fn products() -> i64 {
    total_rows() * 2 / 100
}

fn orders() -> i64 {
    total_rows() - customers() - products()
}

/// Writes a second of the client that writes throughout the copy (`DAC_SBS_WRITE_RATES`,
/// comma-separated, default `50,500`; `0` or empty: no writer rows).
fn write_rates() -> Vec<u32> {
    std::env::var("DAC_SBS_WRITE_RATES")
        .unwrap_or_else(|_| "50,500".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .filter(|&r| r > 0)
        .collect()
}

fn runs() -> usize {
    std::env::var("DAC_SBS_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// Whether to measure the baselines too (`DAC_SBS_BASELINES=0` measures dac alone).
fn baselines() -> bool {
    std::env::var("DAC_SBS_BASELINES").map_or(true, |v| v != "0")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time of this process and of its waited-for children (user + system, from
/// `/proc/self/stat`, in clock ticks of 10 ms).
fn cpu_ms() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses: state is field 3; utime, stime,
    // cutime, cstime are fields 14 to 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    if fields.len() < 4 {
        return (0.0, 0.0);
    }
    (
        (fields[0] + fields[1]) * 10.0,
        (fields[2] + fields[3]) * 10.0,
    )
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// The samples of one measured row, in milliseconds, by column.
#[derive(Default)]
struct Row {
    columns: BTreeMap<&'static str, Vec<f64>>,
    loads: Vec<String>,
}

impl Row {
    fn add(&mut self, column: &'static str, value: f64) {
        self.columns.entry(column).or_default().push(value);
    }

    fn median(&self, column: &str) -> Option<f64> {
        let mut values = self.columns.get(column)?.clone();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    }

    fn min(&self, column: &str) -> Option<f64> {
        self.columns
            .get(column)?
            .iter()
            .copied()
            .min_by(f64::total_cmp)
    }
}

/// Rows by label, in the order they were first measured.
#[derive(Default)]
struct Table {
    order: Vec<String>,
    rows: BTreeMap<String, Row>,
}

impl Table {
    fn row(&mut self, label: &str) -> &mut Row {
        if !self.rows.contains_key(label) {
            self.order.push(label.to_string());
        }
        self.rows.entry(label.to_string()).or_default()
    }

    /// Prints the table; ratios are against the median total of `floor`.
    fn print(&self, floor: &str) {
        let floor_ms = self.rows.get(floor).and_then(|r| r.median("total"));
        println!(
            "  {:<60} {:>8} {:>8} {:>8} {:>8} {:>9} {:>11} {:>8}",
            "variant (median of runs; ms)",
            "total",
            "copy",
            "window",
            "min tot",
            "÷ floor",
            "window÷copy",
            "cpu"
        );
        for label in &self.order {
            let row = &self.rows[label];
            let cell = |c: &str| row.median(c).map_or("-".to_string(), |v| format!("{v:.0}"));
            // dac's copy against the floor; a baseline's total.
            let floor_ratio = match (row.median("copy").or(row.median("total")), floor_ms) {
                (Some(v), Some(f)) if f > 0.0 => format!("{:.2}", v / f),
                _ => "-".into(),
            };
            let window_ratio = match (row.median("window"), row.median("copy")) {
                (Some(w), Some(c)) if c > 0.0 => format!("{:.2}", w / c),
                _ => "-".into(),
            };
            println!(
                "  {label:<60} {:>8} {:>8} {:>8} {:>8} {:>9} {:>11} {:>8}",
                cell("total"),
                cell("copy"),
                cell("window"),
                row.min("total").map_or("-".into(), |v| format!("{v:.0}")),
                floor_ratio,
                window_ratio,
                cell("cpu"),
            );
            let phases: Vec<String> = row
                .columns
                .keys()
                .filter(|k| !matches!(**k, "total" | "copy" | "window" | "cpu"))
                .map(|k| format!("{k} {:.0}", row.median(k).unwrap_or(0.0)))
                .collect();
            if !phases.is_empty() {
                println!(
                    "      phases (median ms; catch-up counts as named): {}",
                    phases.join(", ")
                );
            }
            println!("      load average at each run: {}", row.loads.join(" | "));
        }
        println!("  ÷ floor: dac's copy (a baseline's total) over the median total of: {floor}");
        println!(
            "  cpu: CPU time of the client side (dac's process for the whole upgrade; pg_dump, psql and the shell for a pipe), not the server's"
        );
    }
}

/// A client writing to `orders` of the original at a steady rate on its own connection (an
/// update of an existing order and an insert of a new one, in turns) until writers are held
/// off (then it stops, as a held client would wait).
struct RateWriter {
    rate: u32,
    stop: AtomicBool,
    writes: AtomicU64,
}

impl RateWriter {
    fn new(rate: u32) -> Arc<RateWriter> {
        Arc::new(RateWriter {
            rate,
            stop: AtomicBool::new(false),
            writes: AtomicU64::new(0),
        })
    }

    /// Writes at the rate until stopped; a write cut off by the hold or the switch ends it.
    fn run(&self, target: &Target) {
        let Ok(mut driver) = dac_engine::driver::connect(target, false) else {
            return;
        };
        let interval = Duration::from_secs_f64(1.0 / f64::from(self.rate));
        let mut next = Instant::now();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut i: i64 = 0;
        while !self.stop.load(Ordering::SeqCst) {
            i += 1;
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let statement = if i % 2 == 0 {
                let id = 1 + (seed >> 33) as i64 % orders();
                format!("UPDATE orders SET qty = qty + 1 WHERE id = {id}")
            } else {
                format!(
                    "INSERT INTO orders (id, customer_id, product_id, qty, amount, status, note, created_at) \
                     VALUES ({}, 1, 1, 1, 1.00, 'new', 'written during the upgrade', '2026-01-01 00:00:00')",
                    orders() + i
                )
            };
            if driver.execute(&statement).is_err() {
                return;
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            next += interval;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
}

/// Times dac's progress steps: each step lasts until the next one. The process's CPU time is
/// noted at each step too.
struct Steps {
    started: Instant,
    marks: Mutex<Vec<(String, Instant, f64)>>,
    /// A statement run against the original once the first copy is done (before writers are
    /// held when the copy is early), once.
    write_after_copy: Mutex<Option<(Target, &'static str)>>,
    /// A writer stopped as writers are held off.
    writer: Option<Arc<RateWriter>>,
}

impl Steps {
    fn new() -> Steps {
        Steps {
            started: Instant::now(),
            marks: Mutex::new(Vec::new()),
            write_after_copy: Mutex::new(None),
            writer: None,
        }
    }

    /// Steps that write `statement` to the original `target` once its rows are copied.
    fn writing(target: &Target, statement: &'static str) -> Steps {
        let steps = Steps::new();
        *steps.write_after_copy.lock().expect("lock") = Some((target.clone(), statement));
        steps
    }

    fn mark(&self, text: &str) {
        if let Ok(mut marks) = self.marks.lock() {
            marks.push((text.to_string(), Instant::now(), cpu_ms().0));
        }
    }

    /// (step, ms, cpu ms) in order, the last step running until `end`.
    fn phases(&self, end: Instant, end_cpu: f64) -> Vec<(String, f64, f64)> {
        let marks = self.marks.lock().map(|m| m.clone()).unwrap_or_default();
        let mut out = Vec::new();
        let mut previous: Option<(String, Instant, f64)> = None;
        for (text, at, cpu) in marks {
            if let Some((p, p_at, p_cpu)) = previous {
                out.push((p, ms(at - p_at), cpu - p_cpu));
            } else {
                out.push(("start".into(), ms(at - self.started), 0.0));
            }
            previous = Some((text, at, cpu));
        }
        if let Some((p, p_at, p_cpu)) = previous {
            out.push((p, ms(end - p_at), end_cpu - p_cpu));
        }
        out
    }
}

impl Progress for Steps {
    fn step(&self, text: &str) {
        self.mark(text);
        if text.starts_with("holding writers off")
            && let Some(writer) = &self.writer
        {
            writer.stop.store(true, Ordering::SeqCst);
        }
        if text.starts_with("indexes and keys")
            && let Some((target, statement)) = self.write_after_copy.lock().expect("lock").take()
        {
            dac_engine::driver::connect(&target, false)
                .and_then(|mut original| original.execute(statement))
                .expect("a write during the copy");
        }
    }

    fn copy_started(&self, tables: usize) {
        self.mark(&format!("copy ({tables} tables)"));
    }

    fn moved(&self, _table: &str, _moved: Moved) {}

    fn table_done(&self, _table: &TableTransfer) {}
}

/// Short, stable phase names (database names left out) for the table.
fn phase_name(step: &str) -> &'static str {
    let first = step.split_whitespace().next().unwrap_or("");
    match first {
        "start" => "connect+lock",
        "validating" => "validate+plan",
        "creating" => "create db",
        "deploying" => "schema",
        "holding" => "read-only+hold",
        // The copy step runs until the copies and the index builds that overlap them end;
        // the `copy` column is the report's, until the last copy ends.
        "copy" => "copy+indexes",
        "indexes" => "after copy",
        "looking" => "write check",
        "catch-up" => "catch-up passes",
        "last" => "last delta",
        "generators," => "finalize",
        "checking" => "FK checks after switch",
        "switching" => "switch",
        _ => "other",
    }
}

/// Adds one dac run's numbers to its row.
fn add_dac_run(row: &mut Row, report: &TransferReport, steps: &Steps, end: Instant, cpu: f64) {
    row.add("total", report.total_ms as f64);
    row.add("cpu", cpu);
    row.add("copy", report.copy_ms as f64);
    row.add("window", report.read_only_window_ms as f64);
    let mut phases: BTreeMap<&'static str, f64> = BTreeMap::new();
    for (step, ms, cpu) in steps.phases(end, cpu_ms().0) {
        let name = phase_name(&step);
        *phases.entry(name).or_default() += ms;
        if name == "copy+indexes" {
            *phases.entry("copy+indexes cpu").or_default() += cpu;
        }
    }
    for (name, ms) in phases {
        row.add(name, ms);
    }
    if !report.catch_up.is_empty() {
        let passes = report.catch_up.iter().filter(|p| !p.held).count();
        row.add("passes (count)", passes as f64);
        let delta = report
            .catch_up
            .iter()
            .filter(|p| p.held)
            .map(|p| p.rows())
            .sum::<u64>();
        row.add("last delta (rows)", delta as f64);
    }
    row.loads.push(load());
}

/// A side-by-side upgrade (early copy, `parallelism` copiers) while a [`RateWriter`] writes to
/// the original at `rate` writes a second: the report, the steps, when it ended, its CPU time
/// and the writes made.
fn upgrade_with_writer(
    target: &Target,
    v2: &Package,
    parallelism: usize,
    rate: u32,
) -> (TransferReport, Steps, Instant, f64, u64) {
    let writer = RateWriter::new(rate);
    let mut steps = Steps::new();
    steps.writer = Some(Arc::clone(&writer));
    let cpu = cpu_ms().0;
    let outcome = std::thread::scope(|scope| {
        let running = Arc::clone(&writer);
        scope.spawn(move || running.run(target));
        let outcome = upgrade::side_by_side(target, v2, &sbs_options(parallelism, true), &steps);
        writer.stop.store(true, Ordering::SeqCst);
        outcome
    })
    .expect("side-by-side upgrade with a writer");
    let end = Instant::now();
    let cpu = cpu_ms().0 - cpu;
    let writes = writer.writes.load(Ordering::SeqCst);
    (outcome.report, steps, end, cpu, writes)
}

/// Builds a package from one SQL file.
fn package(dir: &Path, platform: &str, version: &str, sql: &str) -> Package {
    let folder = dir.join(format!("project-{platform}-{version}"));
    std::fs::create_dir_all(&folder).expect("project folder");
    std::fs::write(folder.join("schema.sql"), sql).expect("schema.sql");
    source::build(
        &folder,
        &BuildOptions {
            platform: Some(Dsp::from_short_name(platform).expect("dsp")),
            name: Some("shop".into()),
            version: Some(version.into()),
            ..BuildOptions::default()
        },
    )
    .expect("build the package")
}

fn deploy(driver: &mut dyn Driver, package: &Package) {
    upgrade::in_place(
        driver,
        package,
        &InPlaceOptions {
            allow_data_loss: false,
            allow_drift: false,
            smart_defaults: false,
            compare: dac_engine::compare::CompareOptions {
                drop_objects_not_in_source: true,
                ..Default::default()
            },
            variables: Vec::new(),
            rebuild_for_column_order: false,
            block_on: Vec::new(),
            leave_out_uncreatable: false,
            lock_wait: None,
        },
    )
    .expect("deploy");
}

fn sbs_options(parallelism: usize, copy_early: bool) -> SideBySideOptions {
    SideBySideOptions {
        allow_data_loss: true,
        parallelism,
        copy_early,
        compare: dac_engine::compare::CompareOptions {
            drop_objects_not_in_source: true,
            ignore_column_order: true,
            ..Default::default()
        },
        ..SideBySideOptions::default()
    }
}

/// Runs a bash pipeline (`pipefail`), timed; panics when it fails. Returns the time and the
/// CPU time of the clients (bash and what it ran).
fn timed_shell(script: &str) -> (Duration, f64) {
    let cpu = cpu_ms().1;
    let start = Instant::now();
    let out = Command::new("bash")
        .args(["-c", &format!("set -eo pipefail; {script}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("sh");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, cpu_ms().1 - cpu)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const PG_V1: &str = "CREATE TABLE public.customers (
  id integer NOT NULL,
  name varchar(100) NOT NULL,
  email varchar(200) NOT NULL,
  city varchar(100),
  created_at timestamp NOT NULL,
  CONSTRAINT customers_pkey PRIMARY KEY (id)
);
CREATE TABLE public.products (
  id integer NOT NULL,
  sku varchar(40) NOT NULL,
  title varchar(200) NOT NULL,
  price numeric(12,2) NOT NULL,
  CONSTRAINT products_pkey PRIMARY KEY (id)
);
CREATE TABLE public.orders (
  id bigint NOT NULL,
  customer_id integer NOT NULL,
  product_id integer NOT NULL,
  qty integer NOT NULL,
  amount numeric(12,2) NOT NULL,
  status varchar(20) NOT NULL,
  note text,
  created_at timestamp NOT NULL,
  CONSTRAINT orders_pkey PRIMARY KEY (id),
  CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id) REFERENCES public.customers (id),
  CONSTRAINT orders_product_fkey FOREIGN KEY (product_id) REFERENCES public.products (id)
);
CREATE INDEX orders_customer_idx ON public.orders (customer_id);
";

/// v2: a new nullable column, a new index, a new table.
fn pg_v2() -> String {
    PG_V1.replace(
        "  note text,\n",
        "  note text,\n  discount numeric(12,2),\n",
    ) + "CREATE INDEX orders_created_idx ON public.orders (created_at);
CREATE TABLE public.shipments (
  id bigint NOT NULL,
  order_id bigint NOT NULL,
  shipped_at timestamp,
  CONSTRAINT shipments_pkey PRIMARY KEY (id),
  CONSTRAINT shipments_order_fkey FOREIGN KEY (order_id) REFERENCES public.orders (id)
);
"
}

const PG_FILL: &str = "
INSERT INTO customers SELECT i, 'customer ' || i, 'customer' || i || '@example.com',
  (ARRAY['Oslo', 'Lima', 'Perth', 'Quito', 'Accra'])[1 + i % 5], timestamp '2020-01-01' + i * interval '1 minute'
  FROM generate_series(1, $CUSTOMERS) i;
INSERT INTO products SELECT i, 'SKU-' || lpad(i::text, 8, '0'), 'product number ' || i || ' ' || md5(i::text), (i % 997) * 1.25
  FROM generate_series(1, $PRODUCTS) i;
INSERT INTO orders SELECT i, 1 + i % $CUSTOMERS, 1 + i % $PRODUCTS, 1 + i % 7, (i % 10007) * 0.37,
  (ARRAY['new', 'paid', 'shipped', 'delivered'])[1 + i % 4],
  'order ' || i || ': ' || md5(i::text) || md5((i + 1)::text) || md5((i + 2)::text),
  timestamp '2021-01-01' + i * interval '7 seconds'
  FROM generate_series(1, $ORDERS) i;
";

/// Columns copied per table (the v1 columns; v2 adds `orders.discount`, left NULL).
const PG_COPY: &[(&str, &str)] = &[
    ("customers", "id, name, email, city, created_at"),
    ("products", "id, sku, title, price"),
    (
        "orders",
        "id, customer_id, product_id, qty, amount, status, note, created_at",
    ),
];

/// What dac builds after the copy, as one would by hand after (b): the v2 secondary indexes and
/// foreign keys.
const PG_AFTER_COPY: &str = "CREATE INDEX orders_customer_idx ON orders (customer_id); \
CREATE INDEX orders_created_idx ON orders (created_at); \
ALTER TABLE orders ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id) REFERENCES customers (id); \
ALTER TABLE orders ADD CONSTRAINT orders_product_fkey FOREIGN KEY (product_id) REFERENCES products (id); \
ALTER TABLE shipments ADD CONSTRAINT shipments_order_fkey FOREIGN KEY (order_id) REFERENCES orders (id)";

/// The PostgreSQL client tools of the server's version, else those on PATH.
fn pg_tool(name: &str) -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let tool = e.path().join("bin").join(name);
            tool.is_file().then_some((version, tool))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map_or_else(|| PathBuf::from(name), |(_, tool)| tool)
}

fn quote_sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

struct Pg {
    server: &'static dac_tests::postgres::Server,
    admin: PostgresDriver,
}

impl Pg {
    fn exec(&mut self, sql: &str) {
        self.admin
            .execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn drop_like(&mut self, prefix: &str) {
        let rows = self
            .admin
            .query(&format!(
                "SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'"
            ))
            .expect("list databases");
        for name in rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
        {
            self.exec(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }

    fn fresh(&mut self, name: &str, template: &str) -> String {
        self.drop_like(name);
        self.exec(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        ));
        // The copy is written back before the timed work starts.
        self.exec("CHECKPOINT");
        self.server.url(name)
    }

    fn count(&self, url: &str, table: &str) -> i64 {
        let mut driver = PostgresDriver::connect(url).expect("connect");
        driver
            .query(&format!("SELECT count(*) FROM {table}"))
            .expect("count")[0][0]
            .as_deref()
            .unwrap_or("0")
            .parse()
            .expect("count")
    }

    fn check_rows(&self, url: &str) {
        for (table, rows) in [
            ("customers", customers()),
            ("products", products()),
            ("orders", orders()),
        ] {
            assert_eq!(self.count(url, table), rows, "rows of {table} in {url}");
        }
    }
}

/// The server the PostgreSQL case runs on: with `DAC_SBS_LOGICAL=1`, one of the bench's own
/// with `wal_level = logical` (the catch-up by logical decoding); else the shared one
/// (`wal_level = replica`: the catch-up by row versions).
fn postgres_server() -> &'static dac_tests::postgres::Server {
    static LOGICAL: std::sync::OnceLock<dac_tests::postgres::Server> = std::sync::OnceLock::new();
    if std::env::var("DAC_SBS_LOGICAL").is_ok_and(|v| v == "1") {
        LOGICAL.get_or_init(dac_tests::postgres::start_logical)
    } else {
        dac_tests::postgres::server()
    }
}

fn postgres_case() {
    let server = postgres_server();
    let admin = PostgresDriver::connect(&server.url("postgres")).expect("connect");
    let mut pg = Pg { server, admin };
    let dir = tempfile::tempdir().expect("temp dir");
    let v1 = package(dir.path(), "postgres", "1.0.0", PG_V1);
    let v2_sql = pg_v2();
    let v2 = package(dir.path(), "postgres", "2.0.0", &v2_sql);

    // The v1 database with its rows, the template of every dac run and the source of every
    // baseline; the empty v2 schema (as dac deploys it), and the same without the secondary
    // indexes and foreign keys.
    let setup = Instant::now();
    pg.drop_like("sbs_");
    pg.exec("CREATE DATABASE sbs_base TEMPLATE template0");
    let base_url = server.url("sbs_base");
    {
        let mut driver = PostgresDriver::connect(&base_url).expect("connect");
        deploy(&mut driver, &v1);
        let fill = PG_FILL
            .replace("$CUSTOMERS", &customers().to_string())
            .replace("$PRODUCTS", &products().to_string())
            .replace("$ORDERS", &orders().to_string());
        driver.execute(&fill).expect("fill");
        driver.execute("VACUUM (FREEZE, ANALYZE)").expect("vacuum");
    }
    pg.exec("CREATE DATABASE sbs_v2 TEMPLATE template0");
    {
        let mut driver = PostgresDriver::connect(&server.url("sbs_v2")).expect("connect");
        deploy(&mut driver, &v2);
    }
    pg.exec("CREATE DATABASE sbs_v2_bare TEMPLATE sbs_v2");
    {
        let mut driver = PostgresDriver::connect(&server.url("sbs_v2_bare")).expect("connect");
        driver
            .execute(
                "ALTER TABLE orders DROP CONSTRAINT orders_customer_fkey, DROP CONSTRAINT orders_product_fkey; \
                 ALTER TABLE shipments DROP CONSTRAINT shipments_order_fkey; \
                 DROP INDEX orders_customer_idx, orders_created_idx",
            )
            .expect("bare v2");
    }
    let sizes = PostgresDriver::connect(&base_url)
        .expect("connect")
        .query(
            "SELECT pg_size_pretty(sum(pg_table_size(c.oid))), pg_size_pretty(pg_database_size(current_database())) \
             FROM pg_class c WHERE c.relname IN ('customers', 'products', 'orders')",
        )
        .expect("sizes");
    println!(
        "  PostgreSQL {}; {} + {} + {} rows; tables {} (with TOAST), database {} with indexes; setup {:.1} s",
        server.version,
        customers(),
        products(),
        orders(),
        sizes[0][0].as_deref().unwrap_or("?"),
        sizes[0][1].as_deref().unwrap_or("?"),
        setup.elapsed().as_secs_f64()
    );
    let psql = pg_tool("psql");
    let pg_dump = pg_tool("pg_dump");
    println!(
        "  tools: {} and {}; {} runs each, taking turns; load average before: {}",
        psql.display(),
        pg_dump.display(),
        runs(),
        load()
    );

    let mut table = Table::default();
    const DAC_1: &str = "dac, 1 copier, --no-early-copy (copy with writers held)";
    const DAC_2: &str = "dac, 2 copiers, --no-early-copy (copy with writers held)";
    const DAC_EARLY: &str = "dac, 2 copiers, early copy (default), kept";
    const DAC_REDONE: &str = "dac, 2 copiers, early copy, a customer written: caught up";
    const DUMP: &str = "(a) pg_dump -a | psql, into the v2 schema";
    const PIPE: &str = "(b) psql COPY binary pipe per table, into the v2 tables";
    const PIPE_BUILT: &str = "(c) (b), then CREATE INDEX and ADD FOREIGN KEY by hand";
    for _ in 0..runs() {
        for (label, parallelism, early, write) in [
            (DAC_1, 1, false, false),
            (DAC_2, 2, false, false),
            (DAC_EARLY, 2, true, false),
            (DAC_REDONE, 2, true, true),
        ] {
            let url = pg.fresh("sbs_work", "sbs_base");
            let target = Target::parse(&url).expect("target");
            let steps = if write {
                Steps::writing(&target, NO_CHANGE)
            } else {
                Steps::new()
            };
            let cpu = cpu_ms().0;
            let outcome =
                upgrade::side_by_side(&target, &v2, &sbs_options(parallelism, early), &steps)
                    .expect("side-by-side upgrade");
            let expected = match (early, write) {
                (false, _) => EarlyCopy::Off,
                (true, false) => EarlyCopy::Kept,
                // The written table alone, by key.
                (true, true) => EarlyCopy::CaughtUp,
            };
            assert_eq!(outcome.report.early_copy, expected, "{label}");
            let end = Instant::now();
            let cpu = cpu_ms().0 - cpu;
            assert_eq!(
                outcome.report.rows_copied,
                (customers() + products() + orders()) as u64
            );
            pg.check_rows(&url);
            add_dac_run(table.row(label), &outcome.report, &steps, end, cpu);
            pg.drop_like("sbs_work");
        }
        for rate in write_rates() {
            let url = pg.fresh("sbs_work", "sbs_base");
            let target = Target::parse(&url).expect("target");
            let (report, steps, end, cpu, writes) = upgrade_with_writer(&target, &v2, 2, rate);
            // Every row arrived, and what the writer added before the hold.
            assert!(pg.count(&url, "orders") >= orders(), "rows of orders");
            assert_eq!(
                pg.count(&url, "orders"),
                pg.count(&pg.server.url(&report.retained), "orders"),
                "the new orders are the retained original's"
            );
            let label = format!("dac, 2 copiers, early copy, a writer at {rate}/s: caught up");
            let row = table.row(&label);
            add_dac_run(row, &report, &steps, end, cpu);
            row.add("writes (count)", writes as f64);
            pg.drop_like("sbs_work");
        }

        if !baselines() {
            continue;
        }
        let url = pg.fresh("sbs_dump", "sbs_v2");
        let (elapsed, cpu) = timed_shell(&format!(
            "{} -a -N _dac {} | {} -X -q -v ON_ERROR_STOP=1 {}",
            quote_sh(&pg_dump.to_string_lossy()),
            quote_sh(&base_url),
            quote_sh(&psql.to_string_lossy()),
            quote_sh(&url)
        ));
        pg.check_rows(&url);
        let row = table.row(DUMP);
        row.add("total", ms(elapsed));
        row.add("cpu", cpu);
        row.loads.push(load());
        pg.drop_like("sbs_dump");

        let url = pg.fresh("sbs_pipe", "sbs_v2_bare");
        let script: Vec<String> = PG_COPY
            .iter()
            .map(|(t, columns)| {
                format!(
                    "{psql} -X -q {from} -c {out} | {psql} -X -q -v ON_ERROR_STOP=1 {to} -c {into}",
                    psql = quote_sh(&psql.to_string_lossy()),
                    from = quote_sh(&base_url),
                    to = quote_sh(&url),
                    out = quote_sh(&format!("COPY {t} ({columns}) TO STDOUT (FORMAT binary)")),
                    into = quote_sh(&format!("COPY {t} ({columns}) FROM STDIN (FORMAT binary)")),
                )
            })
            .collect();
        let (copied, cpu) = timed_shell(&script.join("; "));
        pg.check_rows(&url);
        let (built, _) = timed_shell(&format!(
            "{} -X -q -v ON_ERROR_STOP=1 {} -c {}",
            quote_sh(&psql.to_string_lossy()),
            quote_sh(&url),
            quote_sh(PG_AFTER_COPY)
        ));
        let row = table.row(PIPE);
        row.add("total", ms(copied));
        row.add("cpu", cpu);
        row.loads.push(load());
        let row = table.row(PIPE_BUILT);
        row.add("total", ms(copied + built));
        row.add("indexes+FKs", ms(built));
        row.loads.push(load());
        pg.drop_like("sbs_pipe");
    }
    table.print(PIPE);
    pg.drop_like("sbs_");
}

// ---------------------------------------------------------------------------------------------
// SQLite

const SQLITE_V1: &str = "CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  city TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE products (
  id INTEGER PRIMARY KEY,
  sku TEXT NOT NULL,
  title TEXT NOT NULL,
  price REAL NOT NULL
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers (id),
  product_id INTEGER NOT NULL REFERENCES products (id),
  qty INTEGER NOT NULL,
  amount REAL NOT NULL,
  status TEXT NOT NULL,
  note TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
";

fn sqlite_v2() -> String {
    SQLITE_V1.replace("  note TEXT,\n", "  note TEXT,\n  discount REAL,\n")
        + "CREATE INDEX orders_created_idx ON orders (created_at);
CREATE TABLE shipments (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders (id),
  shipped_at TEXT
);
"
}

const SQLITE_FILL: &str = "
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $CUSTOMERS)
INSERT INTO customers SELECT i, 'customer ' || i, 'customer' || i || '@example.com',
  CASE i % 5 WHEN 0 THEN 'Oslo' WHEN 1 THEN 'Lima' WHEN 2 THEN 'Perth' WHEN 3 THEN 'Quito' ELSE 'Accra' END,
  datetime('2020-01-01', '+' || i || ' minutes') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $PRODUCTS)
INSERT INTO products SELECT i, printf('SKU-%08d', i), 'product number ' || i || ' ' || hex(randomblob(16)), (i % 997) * 1.25 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ORDERS)
INSERT INTO orders SELECT i, 1 + i % $CUSTOMERS, 1 + i % $PRODUCTS, 1 + i % 7, (i % 10007) * 0.37,
  CASE i % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'delivered' END,
  'order ' || i || ': ' || hex(randomblob(24)) || lower(hex(randomblob(24))),
  datetime('2021-01-01', '+' || (i * 7) || ' seconds') FROM n;
";

const SQLITE_COPY: &[(&str, &str)] = &[
    ("customers", "id, name, email, city, created_at"),
    ("products", "id, sku, title, price"),
    (
        "orders",
        "id, customer_id, product_id, qty, amount, status, note, created_at",
    ),
];

fn remove_db(path: &Path) {
    for suffix in [
        "",
        "-journal",
        "-wal",
        "-shm",
        ".dac-lock",
        ".dac-journal",
        ".dac-new",
    ] {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Removes every file in `dir` whose name starts with `stem` (the work file, its retained
/// original and companions).
fn remove_all(dir: &Path, stem: &str) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(stem) {
            let path = entry.path();
            // A retained original is read-only; its directory entry can go all the same.
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn sqlite_rows(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open");
    for (table, rows) in [
        ("customers", customers()),
        ("products", products()),
        ("orders", orders()),
    ] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, rows, "rows of {table} in {}", path.display());
    }
}

/// Copies a file and syncs it, so the timed work does not pay for the copy's write-back.
fn copy_synced(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy");
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .expect("sync");
}

fn sqlite_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let v1 = package(dir.path(), "sqlite", "1.0.0", SQLITE_V1);
    let v2_sql = sqlite_v2();
    let v2 = package(dir.path(), "sqlite", "2.0.0", &v2_sql);
    let setup = Instant::now();
    let base = dir.path().join("base.db");
    {
        let mut driver = SqliteDriver::open(&base, true).expect("create");
        deploy(&mut driver, &v1);
    }
    {
        let conn = rusqlite::Connection::open(&base).expect("open");
        let fill = SQLITE_FILL
            .replace("$CUSTOMERS", &customers().to_string())
            .replace("$PRODUCTS", &products().to_string())
            .replace("$ORDERS", &orders().to_string());
        conn.execute_batch(&format!("BEGIN; {fill} COMMIT;"))
            .expect("fill");
    }
    // The v2 schema, and the same without secondary indexes (what dac copies into).
    let v2_db = dir.path().join("v2.db");
    {
        let mut driver = SqliteDriver::open(&v2_db, true).expect("create");
        deploy(&mut driver, &v2);
    }
    let v2_bare = dir.path().join("v2bare.db");
    copy_synced(&v2_db, &v2_bare);
    rusqlite::Connection::open(&v2_bare)
        .and_then(|c| {
            c.execute_batch("DROP INDEX orders_customer_idx; DROP INDEX orders_created_idx")
        })
        .expect("bare v2");
    let size = std::fs::metadata(&base).map(|m| m.len()).unwrap_or(0);
    println!(
        "  SQLite {}; {} + {} + {} rows, {:.0} MB file; setup {:.1} s; {} runs each, taking turns; load average before: {}",
        rusqlite::version(),
        customers(),
        products(),
        orders(),
        size as f64 / 1e6,
        setup.elapsed().as_secs_f64(),
        runs(),
        load()
    );

    let mut table = Table::default();
    const DAC: &str = "dac, --no-early-copy (copy with writers held)";
    const DAC_EARLY: &str = "dac, early copy (default), kept";
    const DAC_REDONE: &str = "dac, early copy, a customer written: caught up from the change log";
    const INTO_SCHEMA: &str = "(a) ATTACH + INSERT SELECT per table, into the v2 schema";
    const FLOOR: &str = "(b) ATTACH + INSERT SELECT per table, into the v2 tables";
    const FLOOR_BUILT: &str = "(c) (b), then CREATE INDEX and foreign_key_check";
    let work = dir.path().join("work.db");
    let copy = dir.path().join("copy.db");
    for _ in 0..runs() {
        for (label, early, write) in [
            (DAC, false, false),
            (DAC_EARLY, true, false),
            (DAC_REDONE, true, true),
        ] {
            remove_all(dir.path(), "work");
            copy_synced(&base, &work);
            let target = Target::Sqlite { path: work.clone() };
            let steps = if write {
                Steps::writing(&target, NO_CHANGE)
            } else {
                Steps::new()
            };
            let cpu = cpu_ms().0;
            let outcome = upgrade::side_by_side(&target, &v2, &sbs_options(1, early), &steps)
                .expect("side by side");
            let end = Instant::now();
            let cpu = cpu_ms().0 - cpu;
            assert_eq!(
                outcome.report.rows_copied,
                (customers() + products() + orders()) as u64
            );
            assert_eq!(
                outcome.report.early_copy == EarlyCopy::CaughtUp,
                write,
                "{label}"
            );
            sqlite_rows(&work);
            add_dac_run(table.row(label), &outcome.report, &steps, end, cpu);
            remove_all(dir.path(), "work");
        }
        for rate in write_rates() {
            remove_all(dir.path(), "work");
            copy_synced(&base, &work);
            // Concurrent writers on SQLite mean WAL: in rollback-journal mode dac's own reads
            // of the original (its inspection) fail with "database is locked" under this writer.
            rusqlite::Connection::open(&work)
                .and_then(|c| c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())))
                .expect("WAL");
            let target = Target::Sqlite { path: work.clone() };
            let (report, steps, end, cpu, writes) = upgrade_with_writer(&target, &v2, 1, rate);
            let orders_in = |path: &Path| -> i64 {
                rusqlite::Connection::open(path)
                    .and_then(|c| c.query_row("SELECT count(*) FROM orders", [], |r| r.get(0)))
                    .expect("count")
            };
            assert!(orders_in(&work) >= orders(), "rows of orders");
            let label = format!("dac, early copy, a writer at {rate}/s: caught up");
            let row = table.row(&label);
            add_dac_run(row, &report, &steps, end, cpu);
            row.add("writes (count)", writes as f64);
            remove_all(dir.path(), "work");
        }

        if !baselines() {
            continue;
        }
        for (label, schema) in [(INTO_SCHEMA, &v2_db), (FLOOR, &v2_bare)] {
            remove_db(&copy);
            copy_synced(schema, &copy);
            let start = Instant::now();
            let conn = rusqlite::Connection::open(&copy).expect("open");
            let mut sql = format!(
                "ATTACH DATABASE '{}' AS old; BEGIN;",
                base.to_string_lossy().replace('\'', "''")
            );
            for (t, columns) in SQLITE_COPY {
                sql.push_str(&format!(
                    " INSERT INTO main.{t} ({columns}) SELECT {columns} FROM old.{t};"
                ));
            }
            sql.push_str(" COMMIT; DETACH DATABASE old;");
            conn.execute_batch(&sql).expect("insert select");
            let copied = start.elapsed();
            let row = table.row(label);
            row.add("total", ms(copied));
            row.loads.push(load());
            if label == FLOOR {
                // What dac does after the copy: the secondary indexes, and the foreign-key
                // check (SQLite declares foreign keys with the table).
                let start = Instant::now();
                conn.execute_batch(
                    "BEGIN; CREATE INDEX orders_customer_idx ON orders (customer_id); \
                     CREATE INDEX orders_created_idx ON orders (created_at); COMMIT;",
                )
                .expect("indexes");
                let violations = conn
                    .prepare("PRAGMA foreign_key_check")
                    .and_then(|mut st| st.query_map([], |_| Ok(())).map(Iterator::count))
                    .expect("foreign_key_check");
                assert_eq!(violations, 0, "foreign keys violated");
                let built = start.elapsed();
                let row = table.row(FLOOR_BUILT);
                row.add("total", ms(copied + built));
                row.add("indexes+FK check", ms(built));
                row.loads.push(load());
            }
            drop(conn);
            sqlite_rows(&copy);
        }
    }
    remove_db(&copy);
    table.print(FLOOR);
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(idx) = args.iter().position(|a| a == "--case") {
        let name = &args[idx + 1];
        let case = CASES.iter().find(|c| c.name == name).expect("known case");
        (case.run)();
        return;
    }
    // `cargo bench` passes `--bench`; anything else is a name filter. Run as a test
    // (`cargo test --benches` or `--all-targets`), the heavy cases are skipped.
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "side_by_side: benchmarks run under `cargo bench -p dac-tests --bench side_by_side`; skipped"
        );
        return;
    }
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with("--")).collect();
    let exe = std::env::current_exe().expect("current exe");
    for case in CASES {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f.as_str())) {
            continue;
        }
        println!("{}", case.name);
        // A process per case: each PostgreSQL case gets its own throwaway server.
        let status = Command::new(&exe)
            .args(["--case", case.name])
            .status()
            .expect("re-run bench binary");
        if !status.success() {
            eprintln!("{}: failed ({status})", case.name);
        }
    }
}
