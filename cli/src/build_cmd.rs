//! `dac build` and `dac info`: packages from projects, and what a package holds.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dac_engine::endpoint::{LoadOptions, load_package};
use dac_engine::model::Dsp;
use dac_engine::package::{self, Package};
use dac_engine::source::{self, BuildOptions};

use crate::args::{BuildArgs, InfoArgs, InfoFormat};
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
    let package = source::build(&args.project, &options)?;
    let output = match args.output {
        Some(path) => path,
        None => PathBuf::from(format!("{}.dacpac", package_name(&package, &args.project))),
    };
    package::write(&package, &output)?;
    let n_elements = package.model.elements.len();
    println!(
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
    let model = &package.model;
    let (name, version) = package
        .metadata
        .as_ref()
        .map(|m| (Some(m.name.as_str()), Some(m.version.as_str())))
        .unwrap_or((None, None));
    let elements = model.counts_by_kind();
    let opaque = model.opaque_counts();
    let out = std::io::stdout();
    let mut out = out.lock();
    match args.format {
        InfoFormat::Json => {
            let value = serde_json::json!({
                "format_version": 1,
                "name": name,
                "version": version,
                "platform": model.platform(),
                "dsp": model.dsp.short_name(),
                "dsp_name": model.dsp.full_name(),
                "schema_version": model.schema_version,
                "collation_case_sensitive": model.collation_case_sensitive,
                "producer": package.origin.as_ref().map(|o| format!("{} {}", o.product_name, o.product_version)),
                "elements": elements,
                "opaque": opaque,
                "scripts": {
                    "predeploy": package.predeploy.is_some(),
                    "postdeploy": package.postdeploy.is_some(),
                },
                "refactor_operations": package.refactor_log.as_ref().map_or(0, |l| l.operations.len()),
            });
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        InfoFormat::Text => {
            writeln!(out, "package   {}", args.package.display())?;
            writeln!(out, "name      {}", name.unwrap_or("(no DacMetadata.xml)"))?;
            writeln!(out, "version   {}", version.unwrap_or("-"))?;
            writeln!(
                out,
                "platform  {} ({})",
                model.platform().as_str(),
                model.dsp.short_name()
            )?;
            if let Some(origin) = &package.origin {
                writeln!(
                    out,
                    "producer  {} ({})",
                    origin.product_name, origin.product_version
                )?;
            }
            writeln!(
                out,
                "scripts   predeploy: {}, postdeploy: {}, refactor operations: {}",
                yes_no(package.predeploy.is_some()),
                yes_no(package.postdeploy.is_some()),
                package
                    .refactor_log
                    .as_ref()
                    .map_or(0, |l| l.operations.len())
            )?;
            let total: usize = elements.values().sum();
            writeln!(out, "elements  {total} top-level")?;
            for (kind, count) in &elements {
                let mark = if opaque.contains_key(kind) {
                    "  (opaque)"
                } else {
                    ""
                };
                writeln!(out, "  {count:>6}  {kind}{mark}")?;
            }
            if !opaque.is_empty() {
                let n_opaque: usize = opaque.values().sum();
                writeln!(
                    out,
                    "{n_opaque} opaque objects are kept and compared by definition, not modelled"
                )?;
            }
        }
    }
    Ok(EXIT_OK)
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
