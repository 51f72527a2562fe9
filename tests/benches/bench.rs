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
        name: "pipeline/10k tables + 2k procedures, 10% changed (read both, compare, plan, render)",
        iterations: 5,
        prepare: |_| {
            let dir = tempfile::tempdir().expect("temp dir");
            let current = dir.path().join("current.dacpac");
            let desired = dir.path().join("desired.dacpac");
            write_synthetic(&current, |_| false);
            write_synthetic(&desired, |idx| idx % 10 == 0);
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

fn write_synthetic(path: &Path, changed: fn(usize) -> bool) {
    let model = dac_tests::synthetic::sqlserver_model(10_000, 2_000, changed);
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
    let Some(shared) = dac_tests::shared_dir("benchmarks") else {
        return;
    };
    if let Some(idx) = args.iter().position(|a| a == "--case") {
        let name = &args[idx + 1];
        let case = CASES.iter().find(|c| c.name == name).expect("known case");
        run_case(case, &shared);
        return;
    }
    // `cargo bench` passes `--bench`; anything else is a name filter.
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with("--")).collect();
    let exe: PathBuf = std::env::current_exe().expect("current exe");
    for case in CASES {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f.as_str())) {
            continue;
        }
        let status = Command::new(&exe)
            .args(["--case", case.name])
            .status()
            .expect("re-run bench binary");
        if !status.success() {
            eprintln!("{}: failed ({status})", case.name);
        }
    }
}
