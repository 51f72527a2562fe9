//! `dac build` and `dac info`: packages from projects, and what a package holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dac_engine::endpoint::{LoadOptions, load_package};
use dac_engine::model::Dsp;
use dac_engine::package::{self, Package};
use dac_engine::report::InfoReport;
use dac_engine::source::{self, BuildOptions};

use crate::args::{BuildArgs, InfoArgs, InfoFormat};
use crate::output::{errln, out_data, out_text, outln};
use crate::shared::{EXIT_OK, parse_variables};

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
    let (package, notes) = source::build_with_notes(&args.project, &options)?;
    for note in &notes {
        errln!("warning: {note}");
    }
    let output = match args.output {
        Some(path) => path,
        None => default_output(&package_name(&package, &args.project)),
    };
    package::write(&package, &output)?;
    let n_elements = package.model.elements.len();
    outln!(
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
    );
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
    Ok(EXIT_OK)
}
