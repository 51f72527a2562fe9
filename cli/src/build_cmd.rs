//! `dac build` and `dac info`: packages from projects, and what a package holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use dac_engine::endpoint::{LoadOptions, load_package};
use dac_engine::model::Dsp;
use dac_engine::package::{self, Package};
use dac_engine::report::InfoReport;
use dac_engine::source::{self, BuildOptions};

use crate::args::{BuildArgs, InfoArgs, InfoFormat, OutcomeFormat};
use crate::output::{errln, out_data, out_text, outln};
use crate::shared::{EXIT_OK, is_stdout, keep_until_exit, parse_variables, write_output};

/// `dac build`.
pub fn build(args: BuildArgs) -> Result<u8> {
    let platform = match &args.platform {
        Some(text) => Some(Dsp::from_short_name(text).with_context(|| {
            format!(
                "unknown platform {text:?}: use sqlserver, a DSP such as Sql160, sqlite or postgres"
            )
        })?),
        None => None,
    };
    let variables: BTreeMap<String, String> =
        parse_variables(&args.variables)?.into_iter().collect();
    let options = BuildOptions {
        platform,
        name: args.name.clone(),
        version: args.version.clone(),
        variables,
    };
    if options.platform.is_none() && source::is_plain_folder(&args.project)? {
        bail!(
            "{} is a folder of .sql files, which does not say its platform: pass --platform sqlite, --platform postgres or --platform sqlserver (a project file says SQL Server by its DSP)",
            args.project.display()
        );
    }
    let (package, notes) = source::build_with_notes(&args.project, &options)?;
    for note in &notes {
        errln!("warning: {note}");
    }
    let output = match args.output {
        Some(path) => path,
        None => default_output(&package_name(&package, &args.project)),
    };
    let to_stdout = is_stdout(&output);
    if to_stdout && args.outcome.format == OutcomeFormat::Json {
        bail!("--format json and -o - both want standard output: write the package to a file");
    }
    if to_stdout {
        write_output(&output, &package::to_bytes(&package)?)?;
    } else {
        package::write(&package, &output)?;
    }
    let n_elements = package.model.elements.len();
    // With `-o -` standard output is the package; the summary goes beside it.
    let say = |line: String| {
        if to_stdout {
            errln!("{line}");
        } else {
            outln!("{line}");
        }
    };
    say(format!(
        "built {} ({} {}, {}, {n_elements} top-level elements) -> {}",
        args.project.display(),
        package_name(&package, &args.project),
        package
            .metadata
            .as_ref()
            .map(|m| m.version.as_str())
            .unwrap_or(""),
        package.model.dsp.short_name(),
        output.display()
    ));
    let metadata = package.metadata.clone().unwrap_or_default();
    crate::output::outcome(&serde_json::json!({
        "format_version": 1,
        "command": "build",
        "project": args.project.display().to_string(),
        "output": output.display().to_string(),
        "name": package_name(&package, &args.project),
        "version": metadata.version,
        "platform": package.model.platform().as_str(),
        "dsp": package.model.dsp.short_name(),
        "elements": n_elements,
        "warnings": notes,
    }));
    keep_until_exit(package);
    Ok(EXIT_OK)
}

/// `NAME.dacpac` in the current folder, whatever the name holds: a project's `<Name>` may be a
/// path (`..\\..\\x`, `/etc/x`), and only its last part names the file.
fn default_output(name: &str) -> PathBuf {
    let file_name = name
        .rsplit(['/', '\\'])
        .find(|part| !part.is_empty() && *part != "." && *part != "..")
        .unwrap_or("package");
    PathBuf::from(format!("{file_name}.dacpac"))
}

fn package_name(package: &Package, fallback: &Path) -> String {
    package
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            fallback
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "package".into())
        })
}

/// `dac info`.
pub fn info(args: InfoArgs) -> Result<u8> {
    let options = LoadOptions {
        accept_checksum_mismatch: args.accept_checksum_mismatch,
        ..LoadOptions::default()
    };
    let package = load_package(&args.package, &options)?;
    let report = InfoReport::of(&package, &args.package);
    match args.format {
        InfoFormat::Json => out_data(&report.json()),
        InfoFormat::Text => out_text(&report.text()),
    }
    keep_until_exit(package);
    Ok(EXIT_OK)
}

/// `dac completions SHELL`.
pub fn completions(args: &crate::args::CompletionsArgs) -> Result<u8> {
    use clap::CommandFactory;
    let mut command = crate::args::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "dac", &mut out);
    crate::shared::write_output(std::path::Path::new("-"), &out)?;
    Ok(crate::shared::EXIT_OK)
}

/// `dac man`: the man page of dac and its commands, one roff document.
pub fn man() -> Result<u8> {
    use clap::CommandFactory;
    let command = crate::args::Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("dac-{}", sub.get_name());
        let sub = sub.clone().bin_name(format!("dac {}", sub.get_name()));
        clap_mangen::Man::new(sub).title(name).render(&mut out)?;
    }
    crate::shared::write_output(std::path::Path::new("-"), &out)?;
    Ok(crate::shared::EXIT_OK)
}
