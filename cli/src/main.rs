//! The `dac` binary: arguments -> engine -> rendered output and an exit code.
//!
//! Exit codes, the same for every command: 0 success / no differences, 1 error,
//! 2 differences or drift found, 3 refused by a safety policy.

mod args;
mod build_cmd;
mod commands;
mod compare_cmd;
mod output;
mod plan_cmd;
mod planning;
mod profile;
mod progress_display;
mod registry_cmd;
mod rollout_cmd;
mod shared;
mod sqlpackage_cmd;
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
    // Canonical models of packages are kept between runs (see the README's "Caches").
    let cache_home = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")));
    dac_engine::driver::canonical_cache::enable(
        cache_home.map(|c| c.join("dac").join("canonical")),
    );
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_refusal(&err) {
                errln!("{}", message(&err));
                return ExitCode::from(EXIT_REFUSED);
            }
            errln!("error: {}", message(&err));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The error and its causes, each said once: a message that already ends with its cause's
/// text (`file: No such file or directory`) does not get it again.
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A safety policy said no (data loss, drift): exit 3, not 1.
fn is_refusal(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<dac_engine::Error>()
            .is_some_and(dac_engine::Error::is_refusal)
    })
}
