//! `dac register`, `dac unregister`, `dac drift-report` and `dac extract`: a live database's
//! registration, its drift from it, and its schema as a package.

use std::path::Path;

use anyhow::{Context, Result, bail};

use dac_engine::driver::{self, Locked};
use dac_engine::endpoint::{LoadOptions, load_package};
use dac_engine::package::{self, Package};
use dac_engine::registry::Registration;
use dac_engine::report::{DriftReport, HistoryReport};
use dac_engine::upgrade;

use crate::args::{
    DeployFormat, DriftReportArgs, ExtractArgs, OutcomeFormat, RegisterArgs, ReportFormat,
    ReportTargetArgs, UnregisterArgs,
};
use crate::output::{errln, out_data, out_text, outln};
use crate::shared::{
    EXIT_DIFFERENCES, EXIT_OK, apply_timeouts, is_stdout, print_warnings, target_of, timeouts,
    write_output,
};

/// `dac extract`.
pub fn extract(args: ExtractArgs) -> Result<u8> {
    let target = target_of(&args.target)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    let registration = driver.read_registration()?;
    let mut model = driver
        .inspect()
        .with_context(|| format!("inspecting {target}"))?;
    print_warnings(driver.as_mut());
    model.sort_elements();
    let name = args
        .name
        .or_else(|| registration.as_ref().map(|r| r.name.clone()))
        .unwrap_or_else(|| {
            let db = target.database_name();
            Path::new(&db)
                .file_stem()
                .map_or(db.clone(), |s| s.to_string_lossy().into_owned())
        });
    let version = args
        .version
        .or_else(|| registration.as_ref().map(|r| r.version.clone()))
        .unwrap_or_else(|| "1.0.0.0".into());
    let n_elements = model.elements.len();
    let package = Package::of_model(model, &name, &version);
    if is_stdout(&args.output) && args.outcome.format == OutcomeFormat::Json {
        bail!("--format json and -o - both want standard output: write the package to a file");
    }
    let line = format!(
        "extracted {target} ({name} {version}, {n_elements} top-level elements) -> {}",
        args.output.display()
    );
    // With `-o -` standard output is the package; the summary goes beside it.
    if is_stdout(&args.output) {
        write_output(&args.output, &package::to_bytes(&package)?)?;
        errln!("{line}");
    } else {
        package::write(&package, &args.output)?;
        outln!("{line}");
    }
    crate::output::outcome(&serde_json::json!({
        "format_version": 1,
        "command": "extract",
        "target": target.to_string(),
        "output": args.output.display().to_string(),
        "name": name,
        "version": version,
        "platform": target.platform().as_str(),
        "elements": n_elements,
    }));
    Ok(EXIT_OK)
}

/// `dac history`.
pub fn history(args: ReportTargetArgs) -> Result<u8> {
    let target = target_of(&args.target)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    let registration = driver.read_registration()?;
    let entries = driver.history()?;
    print_warnings(driver.as_mut());
    let report = HistoryReport::of(&target.to_string(), registration.as_ref(), entries);
    let rendered = match args.format {
        ReportFormat::Text => report.text(),
        ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        ReportFormat::Markdown => report.markdown(),
    };
    emit(args.output.as_deref(), &rendered)?;
    Ok(EXIT_OK)
}

/// `dac status`: exit 2 when the database drifted or a run was interrupted.
pub fn status(args: ReportTargetArgs) -> Result<u8> {
    let target = target_of(&args.target)?;
    let report = upgrade::status(&target).with_context(|| format!("reading {target}"))?;
    let rendered = match args.format {
        ReportFormat::Text => report.text(),
        ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        ReportFormat::Markdown => report.markdown(),
    };
    emit(args.output.as_deref(), &rendered)?;
    Ok(if report.needs_attention() {
        EXIT_DIFFERENCES
    } else {
        EXIT_OK
    })
}

/// A rendered report, to `-o FILE` or standard output.
fn emit(output: Option<&Path>, rendered: &str) -> Result<()> {
    match output {
        Some(path) => write_output(path, rendered.as_bytes()),
        None => {
            out_text(rendered);
            Ok(())
        }
    }
}

/// `dac register`.
pub fn register(args: RegisterArgs) -> Result<u8> {
    let target = target_of(&args.target)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    apply_timeouts(driver.as_mut(), args.timeouts)?;
    let lock_wait = timeouts(args.timeouts).lock;
    // The lock is held from the check of the database against the package to the end.
    let mut locked = Locked::take(driver.as_mut(), lock_wait)?;
    if let Some(waited) = locked.waited() {
        errln!("note: {waited}");
    }
    let driver = &mut *locked;
    let package = match &args.package {
        Some(path) => {
            let options = LoadOptions {
                platform: Some(target.platform()),
                ..LoadOptions::default()
            };
            load_package(path, &options)?
        }
        None => {
            let (Some(name), Some(version)) = (&args.name, &args.version) else {
                bail!(
                    "give a PACKAGE to register, or --name and --version to register the live schema"
                );
            };
            let mut model = driver.inspect()?;
            model.sort_elements();
            Package::of_model(model, name, version)
        }
    };
    let mut forced_over = Vec::new();
    if args.package.is_some() {
        let differences = upgrade::registration_differences(driver, &package)?;
        if !differences.is_empty() {
            let shown = upgrade::describe_drift(&differences);
            if !args.force {
                return Err(dac_engine::Error::Blocked {
                    reason: format!(
                        "the database does not match the package, so registering it would record a definition the database does not have:\n{shown}\nupgrade it to the package instead, or pass --force to register it anyway"
                    ),
                }
                .into());
            }
            crate::output::errln!(
                "registering anyway (--force); the database differs from the package:\n{shown}"
            );
            forced_over = dac_engine::report::changes(&differences)
                .into_iter()
                .map(|c| format!("{} {} {}", c.action, c.kind, c.name))
                .collect();
        }
    }
    let registration = Registration::of(&package)?;
    let written = upgrade::register(driver, &registration, lock_wait);
    print_warnings(driver);
    written?;
    locked.release()?;
    outln!(
        "registered {target} as {} {}",
        registration.name,
        registration.version
    );
    crate::output::outcome(&serde_json::json!({
        "format_version": 1,
        "command": "register",
        "target": target.to_string(),
        "name": registration.name,
        "version": registration.version,
        "model_hash": registration.model_hash,
        "definition": if args.package.is_some() { "package" } else { "live schema" },
        "forced_over_differences": forced_over,
    }));
    Ok(EXIT_OK)
}

/// `dac unregister`.
pub fn unregister(args: UnregisterArgs) -> Result<u8> {
    let target = target_of(&args.target)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    apply_timeouts(driver.as_mut(), args.timeouts)?;
    let registration = match upgrade::unregister(driver.as_mut(), timeouts(args.timeouts).lock) {
        Ok(None) => bail!("{target} is not registered"),
        Ok(Some(registration)) => {
            print_warnings(driver.as_mut());
            registration
        }
        Err(err) => {
            print_warnings(driver.as_mut());
            return Err(err.into());
        }
    };
    outln!(
        "unregistered {target} ({} {}); its history is kept",
        registration.name,
        registration.version
    );
    crate::output::outcome(&serde_json::json!({
        "format_version": 1,
        "command": "unregister",
        "target": target.to_string(),
        "name": registration.name,
        "version": registration.version,
    }));
    Ok(EXIT_OK)
}

/// `dac drift-report`.
pub fn drift_report(args: DriftReportArgs) -> Result<u8> {
    let target = target_of(&args.target)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    let drift = upgrade::drift(driver.as_mut());
    print_warnings(driver.as_mut());
    let Some((registration, diff)) = drift? else {
        bail!(
            "{target} is not registered: there is no definition to compare with (see `dac register`)"
        );
    };
    let shown = target.to_string();
    let report = DriftReport::of(&shown, &registration, &diff);
    let (text, human) = match args.format {
        DeployFormat::Xml => (report.xml(), false),
        DeployFormat::Json => (report.json(), false),
        DeployFormat::Text => (report.text(), true),
        DeployFormat::Markdown => (report.markdown(), true),
    };
    match &args.output {
        Some(path) => write_output(path, text.as_bytes())?,
        None if human => out_text(&text),
        None => out_data(&text),
    }
    Ok(if diff.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    })
}
