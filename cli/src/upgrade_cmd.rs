//! `dac upgrade` (in place or side by side), `dac rollback` and `dac recover`.

use anyhow::{Context, Result, bail};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::{self, Target};
use dac_engine::endpoint::{LoadOptions, load_package};
use dac_engine::package::Package;
use dac_engine::registry::HistoryAction;
use dac_engine::upgrade::{self, InPlaceOptions, SideBySideOptions};

use crate::args::{RollbackArgs, TargetArgs, TransferFormat, UpgradeArgs};
use crate::output::{errln, out_data, out_text, outln};
use crate::progress_display::ProgressDisplay;
use crate::shared::{EXIT_OK, parse_variables, print_warnings, target};

/// `dac upgrade`.
pub fn upgrade(args: UpgradeArgs) -> Result<u8> {
    if !args.in_place && !args.side_by_side {
        bail!("choose how to upgrade: --in-place or --side-by-side");
    }
    let target = target(&args.target)?;
    let package = upgrade_package(&args, &target)?;
    if args.side_by_side {
        return upgrade_side_by_side(&args, &target, &package);
    }
    upgrade_in_place(&args, &target, &package)
}

/// `dac upgrade --in-place`.
fn upgrade_in_place(args: &UpgradeArgs, target: &Target, package: &Package) -> Result<u8> {
    recover_quietly(target)?;
    let mut driver =
        driver::connect(target, true).with_context(|| format!("connecting to {target}"))?;
    let options = InPlaceOptions {
        allow_data_loss: args.allow_data_loss,
        allow_drift: args.allow_drift,
        smart_defaults: args.smart_defaults,
        compare: upgrade::compare_options(package.model.platform()),
        variables: package.variable_values(&parse_variables(&args.variables)?),
    };
    let outcome = upgrade::in_place(driver.as_mut(), package, &options);
    print_warnings(driver.as_mut());
    let outcome = outcome.with_context(|| format!("upgrading {target}"))?;
    let name = package.metadata.as_ref().map_or("", |m| m.name.as_str());
    if outcome.up_to_date {
        outln!(
            "{target} is up to date: {name} {} (nothing to do)",
            outcome.version_after
        );
        return Ok(EXIT_OK);
    }
    if args.show_script {
        out_data(&outcome.script.text(dialect_for(package.model.platform())));
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
    outln!(
        "{verb} {target}: {name} {} -> {} ({n_steps} steps, {} statements, one transaction)",
        outcome
            .version_before
            .as_deref()
            .unwrap_or("(unregistered)"),
        outcome.version_after,
        outcome.script.n_statements()
    );
    for hazard in &outcome.plan.hazards {
        outln!("  note: {}", hazard.message);
    }
    if let Some(drift) = &outcome.drift {
        outln!("  drift overridden:\n{}", upgrade::describe_drift(drift));
    }
    Ok(EXIT_OK)
}

/// The package an upgrade deploys, with --name/--version applied to projects.
fn upgrade_package(args: &UpgradeArgs, target: &Target) -> Result<Package> {
    let options = LoadOptions {
        platform: Some(target.platform()),
        name: args.name.clone(),
        version: args.version.clone(),
        ..LoadOptions::default()
    };
    match load_package(&args.package, &options) {
        Err(dac_engine::Error::NameAndVersionOnPackage { .. }) => bail!(
            "--name and --version apply to projects; a package keeps the name and version it was built with"
        ),
        loaded => Ok(loaded?),
    }
}

/// `dac upgrade --side-by-side`.
fn upgrade_side_by_side(args: &UpgradeArgs, target: &Target, package: &Package) -> Result<u8> {
    let mut options = SideBySideOptions {
        allow_data_loss: args.allow_data_loss,
        allow_drift: args.allow_drift,
        compare: upgrade::compare_options(package.model.platform()),
        variables: package.variable_values(&parse_variables(&args.variables)?),
        copy_early: !args.no_early_copy,
        ..SideBySideOptions::default()
    };
    if let Some(n) = args.parallel {
        options.parallelism = n.max(1);
    }
    let progress = ProgressDisplay::new(args.quiet);
    let result = upgrade::side_by_side(target, package, &options, &progress);
    progress.finish();
    let outcome = result.with_context(|| format!("upgrading {target} side by side"))?;
    // With --format json, stdout is the report alone (for jq and the like); the lines around
    // it go to stderr.
    let json = matches!(args.format, TransferFormat::Json);
    let aside = |line: String| {
        if json {
            errln!("{line}");
        } else {
            outln!("{line}");
        }
    };
    if let Some(recovered) = &outcome.recovered {
        aside(format!("first: {recovered}"));
    }
    let mut report = outcome.report;
    report.database = target.to_string();
    if outcome.up_to_date {
        aside(format!(
            "{target} is up to date: {} {} (nothing to do)",
            report.application, report.version_after
        ));
        // A script reading the JSON gets a report, of nothing copied.
        if json {
            out_data(&report.json());
        }
        return Ok(EXIT_OK);
    }
    let text = match args.format {
        TransferFormat::Text => report.text(),
        TransferFormat::Json => report.json(),
        TransferFormat::Markdown => report.markdown(),
    };
    if let Some(path) = &args.report {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        out_data(&text);
    } else {
        out_text(&text);
    }
    // Rebuild notes describe an in-place plan; here only possible data loss matters.
    for hazard in outcome.plan.data_loss() {
        aside(format!("  note: {}", hazard.message));
    }
    if let Some(drift) = &outcome.drift {
        aside(format!(
            "  drift overridden:\n{}",
            upgrade::describe_drift(drift)
        ));
    }
    Ok(EXIT_OK)
}

/// `dac rollback`.
pub fn rollback(args: RollbackArgs) -> Result<u8> {
    let target = target(&args.target)?;
    let outcome =
        upgrade::rollback(&target, args.force).with_context(|| format!("rolling back {target}"))?;
    if let Some(recovered) = &outcome.recovered {
        outln!("first: {recovered}");
    }
    outln!(
        "rolled back {target}: {} -> {}",
        outcome.from_version,
        outcome.version.as_deref().unwrap_or("(unregistered)")
    );
    if let Some(kept) = &outcome.kept_upgraded {
        outln!("  the upgraded database took writes and is kept as {kept}");
    }
    Ok(EXIT_OK)
}

/// `dac recover`.
pub fn recover(args: TargetArgs) -> Result<u8> {
    let target = target(&args.target)?;
    match upgrade::recover(&target).with_context(|| format!("recovering {target}"))? {
        Some(what) => outln!("{what}"),
        None => outln!("{target}: nothing to recover"),
    }
    Ok(EXIT_OK)
}

/// Before an in-place upgrade: finish or undo an interrupted side-by-side run, saying so.
fn recover_quietly(target: &Target) -> Result<()> {
    if let Some(what) = upgrade::recover(target).with_context(|| format!("recovering {target}"))? {
        outln!("first: {what}");
    }
    Ok(())
}
