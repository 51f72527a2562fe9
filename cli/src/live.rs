//! Commands that act on live databases: upgrade, extract, register, unregister, drift-report.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use dac_engine::compare::{Action, CompareOptions, Diff};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::{self, Target};
use dac_engine::package::{self, DacMetadata, Package};
use dac_engine::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};
use dac_engine::upgrade::{self, InPlaceOptions};

use crate::args::{
    DeployFormat, DriftReportArgs, ExtractArgs, RegisterArgs, TargetArgs, UpgradeArgs,
};
use crate::commands::load_package_for;
use crate::{EXIT_DIFFERENCES, EXIT_OK};

fn target(text: &str) -> Result<Target> {
    Ok(Target::parse(text)?)
}

/// Prints what the driver had to warn about (a registration kept in a fallback place, objects
/// inspected only in part) on stderr.
fn print_warnings(driver: &mut dyn driver::Driver) {
    for warning in driver.take_warnings() {
        eprintln!("warning: {warning}");
    }
}

/// `dac upgrade`.
pub fn upgrade(args: UpgradeArgs) -> Result<u8> {
    if !args.in_place && !args.side_by_side {
        bail!("choose how to upgrade: --in-place or --side-by-side");
    }
    let target = target(&args.target)?;
    let package = upgrade_package(&args, &target)?;
    if args.side_by_side {
        return crate::side_by_side_cmd::upgrade(&args, &target, &package);
    }
    crate::side_by_side_cmd::recover_quietly(&target)?;
    let mut driver =
        driver::connect(&target, true).with_context(|| format!("connecting to {target}"))?;
    let options = InPlaceOptions {
        allow_data_loss: args.allow_data_loss,
        allow_drift: args.allow_drift,
        smart_defaults: args.smart_defaults,
        compare: upgrade_compare_options(&package),
        variables: crate::commands::variable_values(
            Some(&package),
            &crate::commands::parse_variables(&args.variables)?,
        ),
    };
    let outcome = upgrade::in_place(driver.as_mut(), &package, &options);
    print_warnings(driver.as_mut());
    let outcome = outcome.with_context(|| format!("upgrading {target}"))?;
    let name = package.metadata.as_ref().map_or("", |m| m.name.as_str());
    if outcome.up_to_date {
        println!(
            "{target} is up to date: {name} {} (nothing to do)",
            outcome.version_after
        );
        return Ok(EXIT_OK);
    }
    if args.show_script {
        print!(
            "{}",
            outcome.script.text(dialect_for(package.model.platform()))
        );
    }
    let n_steps = outcome
        .plan
        .steps
        .iter()
        .filter(|s| {
            !matches!(
                s.kind,
                dac_engine::plan::StepKind::PreDeploy | dac_engine::plan::StepKind::PostDeploy
            )
        })
        .count();
    let verb = match outcome.action {
        HistoryAction::Deploy => "deployed",
        _ => "upgraded",
    };
    println!(
        "{verb} {target}: {name} {} -> {} ({n_steps} steps, {} statements, one transaction)",
        outcome
            .version_before
            .as_deref()
            .unwrap_or("(unregistered)"),
        outcome.version_after,
        outcome.script.n_statements()
    );
    for hazard in &outcome.plan.hazards {
        println!("  note: {}", hazard.message);
    }
    if let Some(drift) = &outcome.drift {
        println!("  drift overridden:\n{}", upgrade::describe_drift(drift));
    }
    Ok(EXIT_OK)
}

/// The package an upgrade deploys, with --name/--version applied to projects.
fn upgrade_package(args: &UpgradeArgs, target: &Target) -> Result<Package> {
    let mut package = load_package_for(&args.package, false, Some(target.platform()))?;
    if args.name.is_some() || args.version.is_some() {
        if args
            .package
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("dacpac"))
        {
            bail!(
                "--name and --version apply to projects; a package keeps the name and version it was built with"
            );
        }
        let metadata = package.metadata.get_or_insert_with(DacMetadata::default);
        if let Some(name) = &args.name {
            metadata.name = name.clone();
        }
        if let Some(version) = &args.version {
            metadata.version = version.clone();
        }
    }
    Ok(package)
}

/// How an upgrade compares the live schema with the package.
pub fn upgrade_compare_options(package: &Package) -> CompareOptions {
    let caps = dialect_for(package.model.platform()).capabilities();
    CompareOptions {
        ignore_column_order: !caps.column_order_significant,
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    }
}

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
    let package = Package {
        metadata: Some(DacMetadata {
            name: name.clone(),
            version: version.clone(),
            description: None,
        }),
        origin: None,
        model,
        predeploy: None,
        postdeploy: None,
        refactor_log: None,
    };
    package::write(&package, &args.output)?;
    println!(
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
        Some(path) => load_package_for(path, false, Some(target.platform()))?,
        None => {
            let (Some(name), Some(version)) = (&args.name, &args.version) else {
                bail!(
                    "give a PACKAGE to register, or --name and --version to register the live schema"
                );
            };
            let mut model = driver.inspect()?;
            model.sort_elements();
            Package {
                metadata: Some(DacMetadata {
                    name: name.clone(),
                    version: version.clone(),
                    description: None,
                }),
                origin: None,
                model,
                predeploy: None,
                postdeploy: None,
                refactor_log: None,
            }
        }
    };
    let registration = Registration::of(&package)?;
    let before = driver.read_registration()?;
    let mut entry = HistoryEntry::now(
        HistoryAction::Register,
        HistoryStatus::Success,
        &registration.name,
    );
    entry.version_before = before.map(|r| r.version);
    entry.version_after = Some(registration.version.clone());
    driver.lock(upgrade::LOCK_WAIT)?;
    let written = (|| {
        driver.begin()?;
        driver.write_registration(&registration)?;
        driver.append_history(&entry)?;
        driver.commit()
    })();
    driver.unlock()?;
    print_warnings(driver.as_mut());
    written?;
    println!(
        "registered {target} as {} {}",
        registration.name, registration.version
    );
    Ok(EXIT_OK)
}

/// `dac unregister`.
pub fn unregister(args: TargetArgs) -> Result<u8> {
    let target = target(&args.target)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    let Some(registration) = driver.read_registration()? else {
        bail!("{target} is not registered");
    };
    let mut entry = HistoryEntry::now(
        HistoryAction::Unregister,
        HistoryStatus::Success,
        &registration.name,
    );
    entry.version_before = Some(registration.version.clone());
    driver.lock(upgrade::LOCK_WAIT)?;
    let written = (|| {
        driver.begin()?;
        driver.delete_registration()?;
        driver.append_history(&entry)?;
        driver.commit()
    })();
    driver.unlock()?;
    print_warnings(driver.as_mut());
    written?;
    println!(
        "unregistered {target} ({} {}); its history is kept",
        registration.name, registration.version
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
    let text = match args.format {
        DeployFormat::Xml => drift_xml(&diff),
        DeployFormat::Json => {
            let changes = dac_engine::report::changes(&diff);
            serde_json::to_string_pretty(&serde_json::json!({
                "format_version": dac_engine::report::FORMAT_VERSION,
                "target": target.to_string(),
                "registered": {"name": registration.name, "version": registration.version, "registered_at": registration.registered_at},
                "drifted": !diff.is_empty(),
                "additions": changes.iter().filter(|c| c.action == "create").collect::<Vec<_>>(),
                "removals": changes.iter().filter(|c| c.action == "drop" || c.action == "keep").collect::<Vec<_>>(),
                "modifications": changes.iter().filter(|c| c.action == "alter" || c.action == "rename").collect::<Vec<_>>(),
            }))? + "\n"
        }
        DeployFormat::Text => {
            if diff.is_empty() {
                format!(
                    "{target}: no drift from {} {}\n",
                    registration.name, registration.version
                )
            } else {
                format!(
                    "{target} drifted from {} {}:\n{}\n",
                    registration.name,
                    registration.version,
                    upgrade::describe_drift(&diff)
                )
            }
        }
        DeployFormat::Markdown => {
            let mut out = format!(
                "## Drift report\n\n`{target}` against its registered definition **{} {}**: ",
                registration.name, registration.version
            );
            if diff.is_empty() {
                out.push_str("no drift.\n");
            } else {
                out.push_str(&format!("**{} objects changed outside the package.**\n\n| change | type | object |\n|---|---|---|\n", diff.differences().count()));
                for c in diff.differences() {
                    let what = match c.action {
                        Action::Create => "added",
                        Action::Drop | Action::Keep => "removed",
                        _ => "modified",
                    };
                    out.push_str(&format!("| {what} | {} | `{}` |\n", c.kind, c.name));
                }
            }
            out
        }
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(if diff.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    })
}

/// DacFx's DriftReport XML: Additions, Removals, Modifications of `Object Name Parent Type`.
fn drift_xml(diff: &Diff) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<DriftReport xmlns=\"http://schemas.microsoft.com/sqlserver/dac/DriftReport/2012/02\">\n",
    );
    for (section, actions) in [
        ("Additions", &[Action::Create][..]),
        ("Removals", &[Action::Drop, Action::Keep][..]),
        ("Modifications", &[Action::Alter, Action::Rename][..]),
    ] {
        let items: Vec<_> = diff
            .changes
            .iter()
            .filter(|c| actions.contains(&c.action))
            .collect();
        if items.is_empty() {
            out.push_str(&format!("  <{section} />\n"));
            continue;
        }
        out.push_str(&format!("  <{section}>\n"));
        for c in items {
            let parent = c.name.parent().map(|p| p.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "    <Object Name=\"{}\" Parent=\"{}\" Type=\"{}\" />\n",
                escape(&c.name.to_string()),
                escape(&parent),
                escape(&c.kind)
            ));
        }
        out.push_str(&format!("  </{section}>\n"));
    }
    out.push_str("</DriftReport>\n");
    out
}
