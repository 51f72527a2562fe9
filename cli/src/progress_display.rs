//! Progress of an upgrade: a bar on a terminal, plain lines otherwise (side by side), or
//! nothing.

use std::io::IsTerminal;
use std::sync::Mutex;

use dac_engine::driver::Moved;
use dac_engine::report::transfer::TableTransfer;
use dac_engine::upgrade::Progress;
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::errln;

/// Progress as a bar on a terminal, as plain lines otherwise, or nothing.
pub struct ProgressDisplay {
    bar: Option<ProgressBar>,
    plain: bool,
    tables: Mutex<(usize, usize)>,
}

impl ProgressDisplay {
    /// Nothing when `quiet`; else a bar on a terminal, plain lines on stderr otherwise.
    pub fn new(quiet: bool) -> ProgressDisplay {
        let terminal = std::io::stderr().is_terminal();
        ProgressDisplay {
            bar: None,
            plain: !quiet && !terminal,
            tables: Mutex::new((0, 0)),
        }
        .with_bar(
            !quiet && terminal,
            "{spinner} {elapsed_precise} {msg} [{pos} rows, {prefix}]",
        )
    }

    /// A bar on a terminal, nothing otherwise: for steps whose outcome line says it all
    /// (an in-place upgrade), so logs and pipes get no step lines.
    pub fn on_terminal() -> ProgressDisplay {
        ProgressDisplay {
            bar: None,
            plain: false,
            tables: Mutex::new((0, 0)),
        }
        .with_bar(
            std::io::stderr().is_terminal(),
            "{spinner} {elapsed_precise} {msg}",
        )
    }

    fn with_bar(mut self, on: bool, template: &str) -> ProgressDisplay {
        if on {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            self.bar = Some(bar);
        }
        self
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for ProgressDisplay {
    fn step(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_string());
        } else if self.plain {
            errln!("dac: {text}");
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
            errln!(
                "dac: copied {done}/{total} {}: {} rows in {} ms",
                table.name,
                table.rows,
                table.ms
            );
        }
    }
}
