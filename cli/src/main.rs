//! The `dac` binary: arguments -> engine -> rendered output and an exit code.
//!
//! Exit codes, the same for every command: 0 success / no differences, 1 error,
//! 2 differences or drift found, 3 refused by a safety policy.

mod args;
mod build_cmd;
mod commands;
mod compare_cmd;
mod output;
mod progress_display;
mod registry_cmd;
mod rollout_cmd;
mod shared;
mod upgrade_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::output::errln;
use crate::shared::{EXIT_ERROR, EXIT_OK, EXIT_REFUSED};

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr.
            let code = if err.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_OK
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_refusal(&err) {
                errln!("{err:#}");
                return ExitCode::from(EXIT_REFUSED);
            }
            errln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// A safety policy said no (data loss, drift): exit 3, not 1.
fn is_refusal(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<dac_engine::Error>()
            .is_some_and(dac_engine::Error::is_refusal)
    })
}
