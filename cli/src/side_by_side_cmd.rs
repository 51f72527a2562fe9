//! `dac upgrade --side-by-side`, `dac rollback` and `dac recover`: the commands over whole
//! databases, with progress on a terminal and the data transfer report.

use std::io::IsTerminal;
use std::sync::Mutex;

use anyhow::{Context, Result};
use dac_engine::driver::{Moved, Target};
use dac_engine::package::Package;
use dac_engine::report::transfer::TableTransfer;
use dac_engine::upgrade::{self, Progress, SideBySideOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::EXIT_OK;
use crate::args::{RollbackArgs, TargetArgs, TransferFormat, UpgradeArgs};

/// Progress as a bar on a terminal, as plain lines otherwise, or nothing.
struct Shown {
    bar: Option<ProgressBar>,
    plain: bool,
    tables: Mutex<(usize, usize)>,
}

impl Shown {
    fn new(quiet: bool) -> Shown {
        let terminal = std::io::stderr().is_terminal();
        Shown {
            bar: None,
            plain: !quiet && !terminal,
            tables: Mutex::new((0, 0)),
        }
        .with_bar(!quiet && terminal)
    }

    fn with_bar(mut self, on: bool) -> Shown {
        if on {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} {msg} [{pos} rows, {prefix}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            self.bar = Some(bar);
        }
        self
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Shown {
    fn step(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_string());
        } else if self.plain {
            eprintln!("dac: {text}");
        }
    }

    fn copy_started(&self, tables: usize) {
        if let Ok(mut t) = self.tables.lock() {
            *t = (0, tables);
        }
        self.step(&format!("copying {tables} tables"));
    }

    fn moved(&self, _table: &str, moved: Moved) {
        if let Some(bar) = &self.bar {
            bar.inc(moved.rows);
            if moved.bytes > 0 {
                let total = bar.prefix().parse::<f64>().unwrap_or(0.0);
                #[allow(clippy::cast_precision_loss)]
                let mib = total + moved.bytes as f64 / 1_048_576.0;
                bar.set_prefix(format!("{mib:.1} MiB"));
            }
        }
    }

    fn table_done(&self, table: &TableTransfer) {
        let (done, total) = self
            .tables
            .lock()
            .map(|mut t| {
                t.0 += 1;
                *t
            })
            .unwrap_or((0, 0));
        if let Some(bar) = &self.bar {
            bar.set_message(format!("copied {done}/{total} tables ({})", table.name));
        } else if self.plain {
            eprintln!(
                "dac: copied {done}/{total} {}: {} rows in {} ms",
                table.name, table.rows, table.ms
            );
        }
    }
}

/// `dac upgrade --side-by-side`.
pub fn upgrade(args: &UpgradeArgs, target: &Target, package: &Package) -> Result<u8> {
    let mut options = SideBySideOptions {
        allow_data_loss: args.allow_data_loss,
        allow_drift: args.allow_drift,
        compare: crate::live::upgrade_compare_options(package),
        variables: crate::commands::variable_values(
            Some(package),
            &crate::commands::parse_variables(&args.variables)?,
        ),
        copy_early: !args.no_early_copy,
        ..SideBySideOptions::default()
    };
    if let Some(n) = args.parallel {
        options.parallelism = n.max(1);
    }
    let shown = Shown::new(args.quiet);
    let result = upgrade::side_by_side(target, package, &options, &shown);
    shown.finish();
    let outcome = result.with_context(|| format!("upgrading {target} side by side"))?;
    // With --format json, stdout is the report alone (for jq and the like); the lines around
    // it go to stderr.
    let json = matches!(args.format, TransferFormat::Json);
    let aside = |line: String| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    if let Some(recovered) = &outcome.recovered {
        aside(format!("first: {recovered}"));
    }
    let mut report = outcome.report;
    report.database = target.to_string();
    if outcome.up_to_date {
        aside(format!(
            "{target} is up to date: {} {} (nothing to do)",
            report.application, report.version_after
        ));
        // A script reading the JSON gets a report, of nothing copied.
        if json {
            print!("{}", report.json());
        }
        return Ok(EXIT_OK);
    }
    let text = match args.format {
        TransferFormat::Text => report.text(),
        TransferFormat::Json => report.json(),
        TransferFormat::Markdown => report.markdown(),
    };
    if let Some(path) = &args.report {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{text}");
    // Rebuild notes describe an in-place plan; here only possible data loss matters.
    for hazard in outcome.plan.data_loss() {
        aside(format!("  note: {}", hazard.message));
    }
    if let Some(drift) = &outcome.drift {
        aside(format!(
            "  drift overridden:\n{}",
            upgrade::describe_drift(drift)
        ));
    }
    Ok(EXIT_OK)
}

/// `dac rollback`.
pub fn rollback(args: RollbackArgs) -> Result<u8> {
    let target = Target::parse(&args.target)?;
    let outcome =
        upgrade::rollback(&target, args.force).with_context(|| format!("rolling back {target}"))?;
    if let Some(recovered) = &outcome.recovered {
        println!("first: {recovered}");
    }
    println!(
        "rolled back {target}: {} -> {}",
        outcome.from_version,
        outcome.version.as_deref().unwrap_or("(unregistered)")
    );
    if let Some(kept) = &outcome.kept_upgraded {
        println!("  the upgraded database took writes and is kept as {kept}");
    }
    Ok(EXIT_OK)
}

/// `dac recover`.
pub fn recover(args: TargetArgs) -> Result<u8> {
    let target = Target::parse(&args.target)?;
    match upgrade::recover(&target).with_context(|| format!("recovering {target}"))? {
        Some(what) => println!("{what}"),
        None => println!("{target}: nothing to recover"),
    }
    Ok(EXIT_OK)
}

/// Before an in-place upgrade: finish or undo an interrupted side-by-side run, saying so.
pub fn recover_quietly(target: &Target) -> Result<()> {
    if let Some(what) = upgrade::recover(target).with_context(|| format!("recovering {target}"))? {
        println!("first: {what}");
    }
    Ok(())
}
