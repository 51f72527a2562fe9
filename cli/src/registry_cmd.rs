//! `dac register`, `dac unregister`, `dac drift-report` and `dac extract`: a live database's
//! registration, its drift from it, and its schema as a package.

use std::path::Path;

use anyhow::{Context, Result, bail};

use dac_engine::driver;
use dac_engine::endpoint::{LoadOptions, load_package};
use dac_engine::package::{self, Package};
use dac_engine::registry::Registration;
use dac_engine::report::DriftReport;
use dac_engine::upgrade;

use crate::args::{DeployFormat, DriftReportArgs, ExtractArgs, RegisterArgs, TargetArgs};
use crate::output::{out_data, out_text, outln};
use crate::shared::{EXIT_DIFFERENCES, EXIT_OK, print_warnings, target};

/// `dac extract`.
pub fn extract(args: ExtractArgs) -> Result<u8> {
    let target = target(&args.target)?;
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
    package::write(&package, &args.output)?;
    outln!(
        "extracted {target} ({name} {version}, {n_elements} top-level elements) -> {}",
        args.output.display()
    );
    Ok(EXIT_OK)
}

/// `dac register`.
pub fn register(args: RegisterArgs) -> Result<u8> {
    let target = target(&args.target)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
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
    let registration = Registration::of(&package)?;
    let written = upgrade::register(driver.as_mut(), &registration);
    print_warnings(driver.as_mut());
    written?;
    outln!(
        "registered {target} as {} {}",
        registration.name,
        registration.version
    );
    Ok(EXIT_OK)
}

/// `dac unregister`.
pub fn unregister(args: TargetArgs) -> Result<u8> {
    let target = target(&args.target)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    let registration = match upgrade::unregister(driver.as_mut()) {
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
    Ok(EXIT_OK)
}

/// `dac drift-report`.
pub fn drift_report(args: DriftReportArgs) -> Result<u8> {
    let target = target(&args.target)?;
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
    match args.format {
        DeployFormat::Xml => out_data(&report.xml()),
        DeployFormat::Json => out_data(&report.json()),
        DeployFormat::Text => out_text(&report.text()),
        DeployFormat::Markdown => out_text(&report.markdown()),
    }
    Ok(if diff.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    })
}
