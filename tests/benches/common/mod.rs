//! What the benchmark binaries share: timing the `dac` binary (or another tool) as a whole
//! process, with its CPU time and peak memory read from `/usr/bin/time` where that exists.

#![allow(dead_code)] // each bench binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The medians of a variant, kept for ratios between variants.
#[derive(Clone, Copy)]
pub struct Summary {
    pub median: Duration,
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Times an external command `iterations` times (after one warm-up run); returns the median or
/// why it could not be measured. `ok` judges an exit status and its standard output.
pub fn measure_command(
    label: &str,
    iterations: usize,
    program: &str,
    args: &[String],
    ok: fn(Option<i32>, &str) -> bool,
) -> Result<Summary, String> {
    measure_command_with(label, iterations, program, args, &[], ok)
}

/// [`measure_command`] with environment variables set for the command.
pub fn measure_command_with(
    label: &str,
    iterations: usize,
    program: &str,
    args: &[String],
    env: &[(&str, &str)],
    ok: fn(Option<i32>, &str) -> bool,
) -> Result<Summary, String> {
    measure_command_prepared(label, iterations, program, args, env, &|| Ok(()), ok)
}

/// [`measure_command_with`] with `before` run, untimed, before every run (a fresh copy of a
/// database file for a command that changes it).
pub fn measure_command_prepared(
    label: &str,
    iterations: usize,
    program: &str,
    args: &[String],
    env: &[(&str, &str)],
    before: &dyn Fn() -> Result<(), String>,
    ok: fn(Option<i32>, &str) -> bool,
) -> Result<Summary, String> {
    let time = Path::new("/usr/bin/time");
    let with_time = time.is_file();
    let mut totals = Vec::with_capacity(iterations);
    let mut cpus = Vec::with_capacity(iterations);
    let mut peak_kib = 0_u64;
    let mut size = 0;
    for i in 0..=iterations {
        before()?;
        let rss_file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        let mut cmd = if with_time {
            let mut c = Command::new(time);
            c.arg("-f")
                .arg("%U %S %M")
                .arg("-o")
                .arg(rss_file.path())
                .arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        let elapsed = start.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !ok(out.status.code(), &stdout) {
            return Err(format!(
                "{program} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
        size = stdout.len();
        // `/usr/bin/time` writes "USER SYSTEM MAXRSS" as its last line (after a note on a
        // non-zero exit status).
        let measured = std::fs::read_to_string(rss_file.path()).ok().and_then(|t| {
            let line = t.trim().lines().last()?.to_string();
            let mut fields = line.split_whitespace();
            let user: f64 = fields.next()?.parse().ok()?;
            let system: f64 = fields.next()?.parse().ok()?;
            let kib: u64 = fields.next()?.parse().ok()?;
            Some((Duration::from_secs_f64(user + system), kib))
        });
        if let Some((cpu, kib)) = measured {
            peak_kib = peak_kib.max(kib);
            if i > 0 {
                cpus.push(cpu);
            }
        }
        if i > 0 {
            totals.push(elapsed);
        }
    }
    let med = median(&mut totals);
    let (rss, cpu) = if with_time && !cpus.is_empty() {
        (
            format!("{:>7.1} MiB", peak_kib as f64 / 1024.0),
            format!("{:>8.0} ms", ms(median(&mut cpus))),
        )
    } else {
        ("    n/a    ".to_string(), "     n/a   ".to_string())
    };
    println!(
        "  {label:<62} median {:>9.1} ms  min {:>9.1} ms  cpu {cpu}  peak RSS {rss}  ({iterations} iterations, output {size} bytes)",
        ms(med),
        ms(totals[0]),
    );
    Ok(Summary { median: med })
}

/// The `dac` binary the whole-process variants run: `DAC_BIN`, or the workspace's release
/// build, built first when it is not there.
pub fn dac_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("DAC_BIN") {
        return Ok(PathBuf::from(path));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace")?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "dac-cli",
            "--bin",
            "dac",
        ])
        .current_dir(workspace)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release -p dac-cli: {status}"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    Ok(target.join("release").join("dac"))
}
