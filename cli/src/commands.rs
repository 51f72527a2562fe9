//! Runs a parsed command against the engine and renders its result.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use dac_engine::model::Dsp;
use dac_engine::package::{self, Package, ReadOptions};
use dac_engine::source::{self, BuildOptions};

use crate::EXIT_OK;
use crate::args::{BuildArgs, Cli, Command, InfoArgs, InfoFormat};

/// Runs one command; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Build(args) => build(args),
        Command::Info(args) => info(args),
        Command::Compare(args) => crate::compare_cmd::compare(args),
        Command::Script(args) => crate::compare_cmd::script(args),
        Command::DeployReport(args) => crate::compare_cmd::deploy_report(args),
        Command::Upgrade(args) => crate::live::upgrade(args),
        Command::Extract(args) => crate::live::extract(args),
        Command::Register(args) => crate::live::register(args),
        Command::Unregister(args) => crate::live::unregister(args),
        Command::DriftReport(args) => crate::live::drift_report(args),
        Command::Rollback(args) => crate::side_by_side_cmd::rollback(args),
        Command::Recover(args) => crate::side_by_side_cmd::recover(args),
    }
}

fn build(args: BuildArgs) -> Result<u8> {
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

/// `NAME=VALUE` pairs from the command line.
pub fn parse_variables(pairs: &[String]) -> Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
            _ => bail!("--variable {pair:?}: expected NAME=VALUE"),
        })
        .collect()
}

/// Values for the SQLCMD variables a package declares: those given, and an empty value for
/// declared ones that were not (as DacFx's header lists them).
pub fn variable_values(
    package: Option<&Package>,
    given: &[(String, String)],
) -> Vec<(String, String)> {
    let mut values = given.to_vec();
    if let Some(package) = package {
        for name in package.model.sqlcmd_variables() {
            if !values.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                values.push((name.to_string(), String::new()));
            }
        }
    }
    values
}

/// Loads a package file, or builds a project when PATH is not a .dacpac; a plain folder of
/// `.sql` files is built for `platform` (the target's) when given.
pub fn load_package_for(
    path: &Path,
    accept_checksum_mismatch: bool,
    platform: Option<dac_engine::model::Platform>,
) -> Result<Package> {
    if let Some(platform) = platform
        && is_plain_folder(path)
    {
        let options = BuildOptions {
            platform: Dsp::from_short_name(platform.as_str()),
            ..BuildOptions::default()
        };
        return Ok(source::build(path, &options)?);
    }
    load_package(path, accept_checksum_mismatch)
}

/// A folder of `.sql` files with no project file in it.
fn is_plain_folder(path: &Path) -> bool {
    path.is_dir()
        && std::fs::read_dir(path).is_ok_and(|entries| {
            !entries.flatten().any(|e| {
                e.path().extension().is_some_and(|x| {
                    x.eq_ignore_ascii_case("sqlproj") || x.eq_ignore_ascii_case("csproj")
                })
            })
        })
}

/// Loads a package file, or builds a project when PATH is not a .dacpac.
pub fn load_package(path: &Path, accept_checksum_mismatch: bool) -> Result<Package> {
    let is_package = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dacpac"));
    if is_package {
        let options = ReadOptions {
            accept_checksum_mismatch,
            ..ReadOptions::default()
        };
        Ok(package::read(path, &options)?)
    } else {
        Ok(source::build(path, &BuildOptions::default())?)
    }
}

fn info(args: InfoArgs) -> Result<u8> {
    let package = load_package(&args.package, args.accept_checksum_mismatch)?;
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
