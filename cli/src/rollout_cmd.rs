//! `dac rollout`: one package over many databases, domain by domain (engine: `rollout`).
//!
//! Exit codes: 0 done, paused or nothing to do; 3 stuck (a domain failed its upgrades or health
//! checks) or refused (another rollout holds the lock, one is in progress); 1 any error.

use anyhow::Result;
use dac_engine::rollout::{self, journal::RolloutState, report};

use crate::args::{RolloutArgs, RolloutCommand, RolloutFormat};
use crate::output::{errln, out_data, out_text, outln};
use crate::shared::{EXIT_OK, EXIT_REFUSED};

impl From<RolloutFormat> for report::Format {
    fn from(format: RolloutFormat) -> Self {
        match format {
            RolloutFormat::Text => report::Format::Text,
            RolloutFormat::Json => report::Format::Json,
            RolloutFormat::Markdown => report::Format::Markdown,
        }
    }
}

/// The engine's error, naming the rollout file once: most of them start with it already.
fn naming_the_file<T>(result: dac_engine::Result<T>, file: &std::path::Path) -> Result<T> {
    result.map_err(|e| {
        if e.to_string().contains(&file.display().to_string()) {
            anyhow::Error::new(e)
        } else {
            anyhow::Error::new(e).context(format!("rollout {}", file.display()))
        }
    })
}

fn print_line(line: &str) {
    outln!("{line}");
}

/// Runs `dac rollout ...`; returns the exit code.
pub fn run(args: RolloutArgs) -> Result<u8> {
    let progress: &(dyn Fn(&str) + Sync) = &print_line;
    let (file, outcome) = match args.command {
        RolloutCommand::Start {
            file,
            manual,
            worker,
        } => {
            let options = rollout::StartOptions { manual, worker };
            let outcome = rollout::start(&file, &options, progress);
            (file, outcome)
        }
        RolloutCommand::Next { file } => {
            let outcome = rollout::next(&file, progress);
            (file, outcome)
        }
        RolloutCommand::Resume { file, worker } => {
            let outcome = rollout::resume_as(&file, worker.as_deref(), progress);
            (file, outcome)
        }
        RolloutCommand::Rollback { file } => {
            let outcome = rollout::rollback(&file, progress);
            (file, outcome)
        }
        RolloutCommand::Status { file, format, live } => return show(&file, format, false, live),
        RolloutCommand::Report { file, format } => return show(&file, format, true, false),
    };
    let outcome = naming_the_file(outcome, &file)?;
    let journal = &outcome.journal;
    match journal.state {
        RolloutState::Stuck => {
            let failed = journal
                .domains
                .iter()
                .find(|d| d.state == rollout::journal::DomainState::Failed)
                .map_or(0, |d| d.index);
            let mut lines = Vec::new();
            for &i in &journal.domains[failed].targets {
                let t = &journal.targets[i];
                if let Some(e) = &t.error {
                    lines.push(format!("  {}: upgrade failed: {e}", t.target));
                }
                for c in t.health.iter().filter(|c| !c.ok) {
                    lines.push(format!("  {}: {}: {}", t.target, c.check, c.detail));
                }
            }
            errln!(
                "refused: rollout {} is stuck at domain {failed}; these targets and checks failed:\n{}\n`dac rollout rollback {}` undoes the upgraded targets, or start a fixed package",
                journal.id,
                lines.join("\n"),
                file.display()
            );
            Ok(EXIT_REFUSED)
        }
        RolloutState::Paused => {
            let next = journal.current_domain().unwrap_or(0);
            outln!(
                "paused before domain {next} of {}: `dac rollout next {}` walks it",
                journal.domains.len(),
                file.display()
            );
            Ok(EXIT_OK)
        }
        _ => Ok(EXIT_OK),
    }
}

fn show(file: &std::path::Path, format: RolloutFormat, detail: bool, live: bool) -> Result<u8> {
    let status = if live {
        rollout::status_live(file)
    } else {
        rollout::status(file)
    };
    let status = naming_the_file(status, file)?;
    let text = report::render(&status, format.into(), detail);
    match format {
        RolloutFormat::Json => out_data(&text),
        RolloutFormat::Text | RolloutFormat::Markdown => out_text(&text),
    }
    Ok(EXIT_OK)
}
