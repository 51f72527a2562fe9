//! dac's benchmark harness: `cargo bench -p dac-tests [-- FILTER]`.
//!
//! Each case runs in its own child process (this binary re-executed with `--case NAME`), so the
//! peak resident memory it reports (VmHWM) belongs to that case alone. A case is timed over
//! several iterations after a warm-up; the median and minimum wall time and the median CPU time
//! (user + system, all threads) are printed. Numbers are reported, never asserted: speed is
//! measured here, not in tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dac_engine::package::{self, ReadOptions};
use dac_engine::source::{self, BuildOptions};

mod common;

/// A benchmark: `prepare` does the untimed setup and returns the timed work.
struct Case {
    name: &'static str,
    iterations: usize,
    prepare: fn(&Path) -> Box<dyn Fn() -> Output>,
}

/// What a timed run made: a size to print, and the result itself, dropped after the clock
/// stops (freeing a model is not part of reading or building it).
struct Output {
    size: usize,
    _keep: Box<dyn std::any::Any>,
}

impl From<usize> for Output {
    fn from(size: usize) -> Self {
        Output {
            size,
            _keep: Box::new(()),
        }
    }
}

const MASTER: &str = "corpus/dacpac/microsoft__vscode-mssql/170_master.dacpac";
const ADVENTURE_WORKS: &str = "corpus/dacpac/ErikEJ__EFCorePowerTools/AdventureWorks.dacpac";
const WWI_SSDT: &str = "corpus/sqlproj/microsoft__sql-server-samples/samples/databases/wide-world-importers/wwi-ssdt/wwi-ssdt/WideWorldImporters.sqlproj";
const WWI_TRAINING: &str = "corpus/sqlproj/NowinskiK__ssdt-training/src/Compare/WideWorldImporters/WideWorldImporters.sqlproj";

const CASES: &[Case] = &[
    Case {
        name: "scan/170_master (bare unzip + quick-xml scan)",
        iterations: 20,
        prepare: |shared| {
            let path = shared.join(MASTER);
            Box::new(move || scan(&path).into())
        },
    },
    Case {
        name: "read/170_master",
        iterations: 20,
        prepare: |shared| {
            let path = shared.join(MASTER);
            Box::new(move || read(&path))
        },
    },
    Case {
        name: "scan/AdventureWorks (bare unzip + quick-xml scan)",
        iterations: 20,
        prepare: |shared| {
            let path = shared.join(ADVENTURE_WORKS);
            Box::new(move || scan(&path).into())
        },
    },
    Case {
        name: "read/AdventureWorks",
        iterations: 20,
        prepare: |shared| {
            let path = shared.join(ADVENTURE_WORKS);
            Box::new(move || read(&path))
        },
    },
    Case {
        name: "build/wwi-ssdt (336 files)",
        iterations: 10,
        prepare: |shared| {
            let path = shared.join(WWI_SSDT);
            Box::new(move || build(&path))
        },
    },
    Case {
        name: "build/ssdt-training WideWorldImporters",
        iterations: 10,
        prepare: |shared| {
            let path = shared.join(WWI_TRAINING);
            Box::new(move || build(&path))
        },
    },
    // One PostgreSQL source file of 1, 2 and 4 MB: the times should grow as the sizes do.
    Case {
        name: "build/postgres 1 MB of CREATE TABLE in one file",
        iterations: 3,
        prepare: |_| postgres_source(1),
    },
    Case {
        name: "build/postgres 2 MB of CREATE TABLE in one file",
        iterations: 3,
        prepare: |_| postgres_source(2),
    },
    Case {
        name: "build/postgres 4 MB of CREATE TABLE in one file",
        iterations: 3,
        prepare: |_| postgres_source(4),
    },
    Case {
        name: PIPELINE,
        iterations: 5,
        prepare: |_| {
            let dir = tempfile::tempdir().expect("temp dir");
            let current = dir.path().join("current.dacpac");
            let desired = dir.path().join("desired.dacpac");
            write_synthetic(&current, |_| false);
            write_synthetic(&desired, changed);
            Box::new(move || {
                let _keep = &dir;
                pipeline(&current, &desired)
            })
        },
    },
];

/// A folder with one `schema.sql` of `mib` MiB of tables, as pg_dump writes them (a table, its
/// key and an index, a foreign key to the table before), built for PostgreSQL.
fn postgres_source(mib: usize) -> Box<dyn Fn() -> Output> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sql = String::with_capacity(mib << 20);
    let mut idx = 0;
    while sql.len() < mib << 20 {
        sql.push_str(&format!(
            "CREATE TABLE public.t{idx} (\n    id bigint NOT NULL,\n    parent_id bigint,\n    name text,\n    created_at timestamp without time zone DEFAULT now() NOT NULL,\n    CONSTRAINT t{idx}_pkey PRIMARY KEY (id)\n);\n\nCREATE INDEX t{idx}_name ON public.t{idx} USING btree (name);\n\n"
        ));
        if idx > 0 {
            sql.push_str(&format!(
                "ALTER TABLE ONLY public.t{idx}\n    ADD CONSTRAINT t{idx}_parent FOREIGN KEY (parent_id) REFERENCES public.t{}(id);\n\n",
                idx - 1
            ));
        }
        idx += 1;
    }
    std::fs::write(dir.path().join("schema.sql"), sql).expect("write schema.sql");
    let options = BuildOptions {
        platform: dac_engine::model::Dsp::from_short_name("postgres"),
        ..BuildOptions::default()
    };
    Box::new(move || {
        let package = source::build(dir.path(), &options).expect("generated source builds");
        Output {
            size: package.model.elements.len(),
            _keep: Box::new(package),
        }
    })
}

/// The synthetic cases' library pipeline; [`COMMANDS`] runs the same work as users do.
const PIPELINE: &str = "synthetic/pipeline: read both, compare, plan, render (library calls)";
/// The commands users run on the synthetic schema, each a whole `dac` process.
const COMMANDS: &str = "synthetic/commands: dac info, compare, script, deploy-report, build, script and upgrade against SQLite";

/// Tables in the synthetic schema: 10,000, or `DAC_BENCH_TABLES` (e.g. 100000).
fn synthetic_tables() -> usize {
    std::env::var("DAC_BENCH_TABLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

/// Procedures beside them: one for every five tables.
fn synthetic_procedures() -> usize {
    synthetic_tables() / 5
}

/// The synthetic desired version changes one table and procedure in ten.
fn changed(idx: usize) -> bool {
    idx.is_multiple_of(10)
}

fn write_synthetic(path: &Path, changed: fn(usize) -> bool) {
    let model =
        dac_tests::synthetic::sqlserver_model(synthetic_tables(), synthetic_procedures(), changed);
    let package = package::Package {
        metadata: Some(package::DacMetadata {
            name: "Synthetic".into(),
            version: "1.0.0.0".into(),
            description: None,
        }),
        origin: None,
        model,
        predeploy: None,
        postdeploy: None,
        refactor_log: None,
    };
    package::write(&package, path).expect("write synthetic package");
}

/// A SQL Server project folder of the synthetic schema's desired version, one file per table
/// or procedure as SSDT lays them out, for `dac build`.
fn write_tsql_project(dir: &Path) {
    let (tables, procedures) = (dir.join("Tables"), dir.join("Procedures"));
    std::fs::create_dir_all(&tables).expect("project folder");
    std::fs::create_dir_all(&procedures).expect("project folder");
    for idx in 0..synthetic_tables() {
        let change = changed(idx);
        let mut columns: Vec<String> = (0..if change { 11 } else { 10 })
            .map(|col| {
                let ty = match col {
                    0 => "int NOT NULL",
                    1 => "int NULL",
                    2 if change => "nvarchar(200) NULL",
                    2..=5 => "nvarchar(100) NULL",
                    6 => "datetime2 NULL",
                    _ => "decimal(18, 2) NULL",
                };
                format!("    [C{col}] {ty}")
            })
            .collect();
        columns.push(format!("    CONSTRAINT [PK_T{idx:05}] PRIMARY KEY ([C0])"));
        let mut sql = format!(
            "CREATE TABLE [dbo].[T{idx:05}] (\n{}\n);\nGO\nCREATE INDEX [IX1] ON [dbo].[T{idx:05}] ([C1]);\nGO\nCREATE INDEX [IX2] ON [dbo].[T{idx:05}] ([C3]);\nGO\n",
            columns.join(",\n")
        );
        if idx > 0 {
            sql.push_str(&format!(
                "ALTER TABLE [dbo].[T{idx:05}] ADD CONSTRAINT [FK_T{idx:05}] FOREIGN KEY ([C1]) REFERENCES [dbo].[T{:05}] ([C0]);\nGO\n",
                idx - 1
            ));
        }
        std::fs::write(tables.join(format!("T{idx:05}.sql")), sql).expect("write table");
    }
    for idx in 0..synthetic_procedures() {
        let table = idx % synthetic_tables().max(1);
        let body = if changed(idx) {
            format!(
                "BEGIN\n    SET NOCOUNT ON;\n    SELECT C0, C1, C2 FROM [dbo].[T{table:05}] WHERE C1 > 0;\nEND"
            )
        } else {
            format!("BEGIN\n    SELECT C0, C1 FROM [dbo].[T{table:05}];\nEND")
        };
        std::fs::write(
            procedures.join(format!("P{idx:05}.sql")),
            format!("CREATE PROCEDURE [dbo].[P{idx:05}]\nAS\n{body}\nGO\n"),
        )
        .expect("write procedure");
    }
}

/// A plain folder of SQLite DDL for the synthetic tables (no procedures: SQLite has none);
/// `changed` tables gain a column in the desired version.
fn write_sqlite_project(dir: &Path, desired: bool) {
    std::fs::create_dir_all(dir).expect("project folder");
    for idx in 0..synthetic_tables() {
        let mut columns: Vec<String> = (0..10)
            .map(|col| {
                let ty = match col {
                    0 => "INTEGER NOT NULL",
                    1 => "INTEGER",
                    2..=5 => "TEXT",
                    6 => "TEXT",
                    _ => "NUMERIC",
                };
                format!("    \"C{col}\" {ty}")
            })
            .collect();
        if desired && changed(idx) {
            columns.push("    \"C10\" NUMERIC".into());
        }
        columns.push(format!(
            "    CONSTRAINT \"PK_T{idx:05}\" PRIMARY KEY (\"C0\")"
        ));
        if idx > 0 {
            columns.push(format!(
                "    CONSTRAINT \"FK_T{idx:05}\" FOREIGN KEY (\"C1\") REFERENCES \"T{:05}\" (\"C0\")",
                idx - 1
            ));
        }
        let sql = format!(
            "CREATE TABLE \"T{idx:05}\" (\n{}\n);\nCREATE INDEX \"IX1_T{idx:05}\" ON \"T{idx:05}\" (\"C1\");\nCREATE INDEX \"IX2_T{idx:05}\" ON \"T{idx:05}\" (\"C3\");\n",
            columns.join(",\n")
        );
        std::fs::write(dir.join(format!("T{idx:05}.sql")), sql).expect("write table");
    }
}

/// Whether a command's exit status and standard output are what it should give.
type Judge = fn(Option<i32>, &str) -> bool;

/// Runs `dac` for setup, failing loudly.
fn dac_setup(dac: &Path, args: &[&str]) {
    let out = Command::new(dac)
        .args(args)
        .output()
        .expect("run dac for setup");
    assert!(
        out.status.success(),
        "dac {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The commands users run on the synthetic schema, each timed as a whole process (wall, CPU,
/// peak RSS from `/usr/bin/time`), to set beside [`PIPELINE`]'s library phases.
fn commands_case() {
    use common::{measure_command, measure_command_prepared};
    let dac = match common::dac_binary() {
        Ok(dac) => dac,
        Err(why) => {
            println!("  NOT RUN: {why}");
            return;
        }
    };
    let dac_text = dac.display().to_string();
    let iterations = std::env::var("DAC_BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if synthetic_tables() > 10_000 { 1 } else { 3 });
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let started = Instant::now();
    write_synthetic(&dir.path().join("big1.dacpac"), |_| false);
    write_synthetic(&dir.path().join("big2.dacpac"), changed);
    write_tsql_project(&dir.path().join("project"));
    write_sqlite_project(&dir.path().join("sqlite1"), false);
    write_sqlite_project(&dir.path().join("sqlite2"), true);
    for (folder, package, version) in [
        ("sqlite1", "sqlite1.dacpac", "1.0.0.0"),
        ("sqlite2", "sqlite2.dacpac", "2.0.0.0"),
    ] {
        let (folder, package) = (path(folder), path(package));
        dac_setup(
            &dac,
            &[
                "build",
                &folder,
                "--platform",
                "sqlite",
                "--name",
                "Synthetic",
                "--version",
                version,
                "-o",
                &package,
            ],
        );
    }
    let base_db = path("base.db");
    dac_setup(
        &dac,
        &[
            "upgrade",
            &path("sqlite1.dacpac"),
            "--target",
            &format!("sqlite:{base_db}"),
            "--in-place",
        ],
    );
    println!(
        "  setup (packages, projects, a SQLite database of {} tables): {:.1} s",
        synthetic_tables(),
        started.elapsed().as_secs_f64()
    );
    let ok: Judge = |code, _| matches!(code, Some(0));
    let ok_or_differences: Judge = |code, _| matches!(code, Some(0 | 2));
    let runs: [(&str, Vec<String>, Judge); 6] = [
        (
            "dac info big1.dacpac",
            vec!["info".into(), path("big1.dacpac")],
            ok,
        ),
        (
            "dac compare big1.dacpac big2.dacpac",
            vec!["compare".into(), path("big1.dacpac"), path("big2.dacpac")],
            ok_or_differences,
        ),
        (
            "dac script big2.dacpac --target big1.dacpac -o out.sql",
            vec![
                "script".into(),
                path("big2.dacpac"),
                "--target".into(),
                path("big1.dacpac"),
                "-o".into(),
                path("out.sql"),
            ],
            ok,
        ),
        (
            "dac deploy-report big2.dacpac --target big1.dacpac",
            vec![
                "deploy-report".into(),
                path("big2.dacpac"),
                "--target".into(),
                path("big1.dacpac"),
            ],
            ok_or_differences,
        ),
        (
            "dac script sqlite2.dacpac --target sqlite:DB -o out.sql",
            vec![
                "script".into(),
                path("sqlite2.dacpac"),
                "--target".into(),
                format!("sqlite:{base_db}"),
                "-o".into(),
                path("sqlite-out.sql"),
            ],
            ok,
        ),
        (
            "dac build project --platform sqlserver -o built.dacpac",
            vec![
                "build".into(),
                path("project"),
                "--platform".into(),
                "sqlserver".into(),
                "-o".into(),
                path("built.dacpac"),
            ],
            ok,
        ),
    ];
    for (label, args, ok) in runs {
        if let Err(why) = measure_command(label, iterations, &dac_text, &args, ok) {
            println!("  {label}: FAILED: {why}");
        }
    }
    let work_db = path("work.db");
    let fresh = || {
        for suffix in ["", ".dac-lock", ".dac-journal"] {
            let _ = std::fs::remove_file(format!("{work_db}{suffix}"));
        }
        std::fs::copy(&base_db, &work_db)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let label = "dac upgrade sqlite2.dacpac --target sqlite:DB --in-place";
    let args = vec![
        "upgrade".into(),
        path("sqlite2.dacpac"),
        "--target".into(),
        format!("sqlite:{work_db}"),
        "--in-place".into(),
    ];
    if let Err(why) = measure_command_prepared(label, iterations, &dac_text, &args, &[], &fresh, ok)
    {
        println!("  {label}: FAILED: {why}");
    }
}

fn pipeline(current: &Path, desired: &Path) -> Output {
    use dac_engine::{compare, dialect, plan, script};
    // DAC_BENCH_PHASES=1 prints where the time goes.
    let phases = std::env::var_os("DAC_BENCH_PHASES").is_some();
    let mut clock = Instant::now();
    let mut lap = |what: &str| {
        if phases {
            eprintln!(
                "  {what}: {:.1} ms (peak RSS so far {:.0} MiB)",
                clock.elapsed().as_secs_f64() * 1e3,
                peak_rss_kib() as f64 / 1024.0
            );
        }
        clock = Instant::now();
    };
    let (current, desired) = std::thread::scope(|s| {
        let current = s.spawn(|| package::read(current, &ReadOptions::default()));
        let desired = package::read(desired, &ReadOptions::default()).expect("read desired");
        (
            current.join().expect("thread").expect("read current"),
            desired,
        )
    });
    lap("read both (in parallel)");
    let diff = compare::compare(
        &current.model,
        &desired.model,
        &compare::CompareOptions::default(),
    );
    lap("compare");
    let dialect = dialect::dialect_for(desired.model.platform());
    let plan = plan::plan(
        &diff,
        &current.model,
        &desired.model,
        dialect.capabilities(),
        &plan::PlanOptions::default(),
    );
    lap("plan");
    let script = script::render(&plan, dialect);
    let n = script.text(dialect).len();
    lap("render");
    Output {
        size: n,
        _keep: Box::new((current, desired, diff, plan, script)),
    }
}

fn read(path: &Path) -> Output {
    let package = package::read(path, &ReadOptions::default()).expect("corpus package reads");
    Output {
        size: package.model.elements.len(),
        _keep: Box::new(package),
    }
}

fn build(path: &Path) -> Output {
    let package = source::build(path, &BuildOptions::default()).expect("corpus project builds");
    Output {
        size: package.model.elements.len(),
        _keep: Box::new(package),
    }
}

/// The floor: open the zip, inflate model.xml and visit every XML event, building nothing.
fn scan(path: &Path) -> usize {
    use std::io::Read;
    let file = std::fs::File::open(path).expect("open");
    let mut zip = zip::ZipArchive::new(file).expect("zip");
    let mut bytes = Vec::new();
    zip.by_name("model.xml")
        .expect("model.xml")
        .read_to_end(&mut bytes)
        .expect("inflate");
    let mut reader = quick_xml::Reader::from_reader(bytes.as_slice());
    let mut buf = Vec::new();
    let mut n_elements = 0;
    loop {
        match reader.read_event_into(&mut buf).expect("xml") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.name().as_ref() == "Element" =>
            {
                n_elements += 1
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    n_elements
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

/// CPU time (user + system, every thread) this process has used so far, from /proc/self/stat
/// (clock ticks of 10 ms). On a loaded machine it says more about the work than wall time does.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            let rest = &s[s.rfind(')')? + 2..];
            let mut fields = rest.split_whitespace().skip(11);
            let utime: u64 = fields.next()?.parse().ok()?;
            let stime: u64 = fields.next()?.parse().ok()?;
            Some(utime + stime)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn run_case(case: &Case, shared: &Path) {
    let run = (case.prepare)(shared);
    let size = run().size; // warm-up
    // DAC_BENCH_ITERATIONS overrides the count (0 runs the warm-up only, e.g. under callgrind).
    let iterations = std::env::var("DAC_BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(case.iterations);
    let mut runs: Vec<(Duration, Duration)> = (0..iterations)
        .map(|_| {
            let (start, cpu) = (Instant::now(), cpu_time());
            let output = std::hint::black_box(run());
            let elapsed = (start.elapsed(), cpu_time().saturating_sub(cpu));
            drop(output);
            elapsed
        })
        .collect();
    if runs.is_empty() {
        return;
    }
    let median = |runs: &mut Vec<(Duration, Duration)>, cpu: bool| {
        runs.sort_by_key(|&(wall, used)| if cpu { used } else { wall });
        runs[runs.len() / 2]
    };
    let cpu = median(&mut runs, true).1;
    let wall = median(&mut runs, false).0;
    println!(
        "{:<52} median {:>9.2} ms  min {:>9.2} ms  cpu {:>8.0} ms  peak RSS {:>7.1} MiB  ({iterations} iterations, result size {size})",
        case.name,
        wall.as_secs_f64() * 1e3,
        runs[0].0.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3,
        peak_rss_kib() as f64 / 1024.0,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `--write-synthetic DIR` writes the synthetic inputs (big1.dacpac, big2.dacpac, project/,
    // and the SQLite folders sqlite1/ and sqlite2/) for profiling a command by hand.
    if let Some(idx) = args.iter().position(|a| a == "--write-synthetic") {
        let dir = Path::new(&args[idx + 1]);
        std::fs::create_dir_all(dir).expect("output folder");
        write_synthetic(&dir.join("big1.dacpac"), |_| false);
        write_synthetic(&dir.join("big2.dacpac"), changed);
        write_tsql_project(&dir.join("project"));
        write_sqlite_project(&dir.join("sqlite1"), false);
        write_sqlite_project(&dir.join("sqlite2"), true);
        return;
    }
    let Some(shared) = dac_tests::shared_dir("benchmarks") else {
        return;
    };
    if let Some(idx) = args.iter().position(|a| a == "--case") {
        let name = &args[idx + 1];
        if name == COMMANDS {
            commands_case();
            return;
        }
        let case = CASES.iter().find(|c| c.name == name).expect("known case");
        run_case(case, &shared);
        return;
    }
    // `cargo bench` passes `--bench`; anything else is a name filter.
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with("--")).collect();
    let exe: PathBuf = std::env::current_exe().expect("current exe");
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    if wanted(PIPELINE) || wanted(COMMANDS) {
        println!(
            "synthetic schema: {} tables (10 columns, a key, 2 indexes, a foreign key each) and {} procedures, 10% changed (DAC_BENCH_TABLES sets the tables)",
            synthetic_tables(),
            synthetic_procedures()
        );
    }
    let names = CASES.iter().map(|c| c.name).chain([COMMANDS]);
    for name in names {
        if !wanted(name) {
            continue;
        }
        if name == COMMANDS {
            println!("{name}");
        }
        let status = Command::new(&exe)
            .args(["--case", name])
            .status()
            .expect("re-run bench binary");
        if !status.success() {
            eprintln!("{name}: failed ({status})");
        }
    }
}
