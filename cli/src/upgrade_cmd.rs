//! `dac upgrade` (in place or side by side), `dac rollback` and `dac recover`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::{self, Target};
use dac_engine::endpoint::{LoadOptions, load_package};
use dac_engine::package::Package;
use dac_engine::registry::HistoryAction;
use dac_engine::report::plan_file::ReviewedPlan;
use dac_engine::upgrade;

use crate::args::{CopyMethodArg, RecoverArgs, RollbackArgs, TransferFormat, UpgradeArgs};
use crate::output::{errln, out_data, out_text, outln};
use crate::planning;
use crate::progress_display::ProgressDisplay;
use crate::shared::{EXIT_OK, apply_timeouts, print_warnings, target_of, timeouts, write_output};

/// `dac upgrade`.
pub fn upgrade(args: UpgradeArgs) -> Result<u8> {
    if args.plan.is_some() {
        return upgrade_with_plan(&args);
    }
    if !args.in_place && !args.side_by_side {
        bail!("choose how to upgrade: --in-place or --side-by-side");
    }
    check_mode(&args)?;
    let target = target_of(&args.target)?;
    if args.side_by_side && args.timeouts.command_timeout.is_some() {
        bail!(
            "--command-timeout applies to in-place upgrades; a side-by-side upgrade holds writers with its own bounded waits"
        );
    }
    let package = upgrade_package(&args, &target)?;
    if args.side_by_side {
        return upgrade_side_by_side(&args, &target, &package);
    }
    upgrade_in_place(&args, &target, &package)
}

/// Options the chosen mode does not use are an error naming them and the mode: an option given
/// and silently ignored would run something other than what was asked for.
fn check_mode(args: &UpgradeArgs) -> Result<()> {
    let (mode, why, unused) = if args.side_by_side {
        let mut unused = planning::not_side_by_side(&args.planning);
        if args.show_script {
            unused.push("--show-script");
        }
        (
            "--side-by-side",
            "it builds the whole package in a new database and runs no upgrade script",
            unused,
        )
    } else {
        let unused = [
            (args.report.is_some(), "--report"),
            (
                args.format == Some(TransferFormat::Markdown),
                "--format markdown",
            ),
            (args.parallel.is_some(), "--parallel"),
            (args.no_early_copy, "--no-early-copy"),
            (args.copy_method.is_some(), "--copy-method"),
            (args.quiet, "--quiet"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name))
        .collect::<Vec<_>>();
        (
            "--in-place",
            "they are for the copy and the data transfer report of --side-by-side",
            unused,
        )
    };
    if unused.is_empty() {
        return Ok(());
    }
    let verb = if unused.len() == 1 { "does" } else { "do" };
    bail!(
        "{} {verb} not apply to {mode} upgrades: {why}",
        unused.join(", ")
    )
}

/// `dac upgrade --in-place`.
fn upgrade_in_place(args: &UpgradeArgs, target: &Target, package: &Package) -> Result<u8> {
    let lock_wait = timeouts(args.timeouts).lock;
    let recovery_waited = recover_quietly(target, lock_wait)?;
    let (mut driver, created) =
        driver::connect_creating(target).with_context(|| format!("connecting to {target}"))?;
    if let Err(err) = apply_timeouts(driver.as_mut(), args.timeouts) {
        return Err(discard(created, driver, err));
    }
    let mut options = match planning::in_place_options(&args.planning, args.allow_drift, package) {
        Ok(options) => options,
        Err(err) => return Err(discard(created, driver, err)),
    };
    options.lock_wait = Some(lock_wait);
    let progress = ProgressDisplay::on_terminal();
    let outcome = upgrade::in_place_with_progress(driver.as_mut(), package, &options, &progress);
    progress.finish();
    print_warnings(driver.as_mut());
    let mut outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            let err = anyhow::Error::from(err).context(format!("upgrading {target}"));
            return Err(discard(created, driver, err));
        }
    };
    if outcome.waited.is_none() {
        outcome.waited = recovery_waited;
    }
    print_in_place(&outcome, target, package, args.show_script)
}

/// What an in-place upgrade did, on stdout; its notes on stderr.
fn print_in_place(
    outcome: &upgrade::InPlaceOutcome,
    target: &Target,
    package: &Package,
    show_script: bool,
) -> Result<u8> {
    let name = package.metadata.as_ref().map_or("", |m| m.name.as_str());
    let scripts = scripts_ran(&outcome.plan);
    let waited = outcome.waited.as_ref();
    let script_text = outcome.script.text(dialect_for(package.model.platform()));
    crate::output::outcome(&serde_json::json!({
        "format_version": 1,
        "command": "upgrade",
        "mode": "in-place",
        "target": target.to_string(),
        "application": name,
        "action": outcome.action.as_str(),
        "up_to_date": outcome.up_to_date,
        "version_before": outcome.version_before,
        "version_after": outcome.version_after,
        "steps": outcome.plan.steps.iter().map(|s| serde_json::json!({
            "step": s.kind.as_str(),
            "type": s.object_kind,
            "name": s.name.to_string(),
        })).collect::<Vec<_>>(),
        "statements": outcome.script.n_statements(),
        "deployment_scripts": outcome.plan.deployment_scripts(),
        "hazards": outcome.plan.hazards.iter().map(|h| serde_json::json!({
            "kind": h.kind.as_str(),
            "object": h.object.to_string(),
            "message": h.message,
        })).collect::<Vec<_>>(),
        "drift_overridden": outcome.drift.as_ref().map(|d| dac_engine::report::changes(d)
            .into_iter()
            .map(|c| format!("{} {} {}", c.action, c.kind, c.name))
            .collect::<Vec<_>>()),
        "script": show_script.then_some(&script_text),
        "waited_behind": waited.map(ToString::to_string),
    }));
    if outcome.up_to_date && scripts.is_empty() {
        outln!(
            "{target} is up to date: {name} {} (nothing to do){}",
            outcome.version_after,
            waited_note(waited)
        );
        return Ok(EXIT_OK);
    }
    if let Some(waited) = waited {
        errln!("note: {waited}");
    }
    if show_script && !crate::output::is_machine_output() {
        out_data(&script_text);
    }
    if outcome.up_to_date {
        outln!(
            "{target} is up to date: {name} {} (schema unchanged){}; ran {scripts} in one transaction",
            outcome.version_after,
            waited_note(waited)
        );
        return Ok(EXIT_OK);
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
    if !scripts.is_empty() {
        outln!("  ran {scripts} in the upgrade's transaction");
    }
    // Notes go to stderr, as in every mode: stdout stays the result.
    for hazard in &outcome.plan.hazards {
        errln!("  note: {}", hazard.message);
    }
    for left_out in &outcome.script.uncreatable {
        errln!(
            "  warning: left out ({}): {left_out}",
            dac_engine::script::LEAVE_OUT_UNCREATABLE_FLAG
        );
    }
    if let Some(drift) = &outcome.drift {
        errln!("  drift overridden:\n{}", upgrade::describe_drift(drift));
    }
    Ok(EXIT_OK)
}

/// Why a run found nothing to do, when it waited for another run's lock: that run did it.
fn waited_note(waited: Option<&driver::Waited>) -> String {
    waited.map_or(String::new(), |waited| {
        format!(", after another run finished: {waited}")
    })
}

/// "the pre-deployment and post-deployment scripts", or "" when the plan runs none.
fn scripts_ran(plan: &dac_engine::plan::Plan) -> String {
    scripts_phrase(&plan.deployment_scripts())
}

/// The package's deployment scripts, as [`scripts_ran`] says them.
fn package_scripts(package: &Package) -> String {
    let mut names = Vec::new();
    if package.predeploy.is_some() {
        names.push("pre-deployment");
    }
    if package.postdeploy.is_some() {
        names.push("post-deployment");
    }
    scripts_phrase(&names)
}

fn scripts_phrase(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("the {one} script"),
        many => format!("the {} scripts", many.join(" and ")),
    }
}

/// A refused or failed first deployment leaves no empty database behind.
fn discard(
    created: Option<driver::CreatedDatabase>,
    driver: Box<dyn driver::Driver>,
    err: anyhow::Error,
) -> anyhow::Error {
    match created.map(|created| created.remove(driver)) {
        Some(Err(removal)) => err.context(format!(
            "and the database it created could not be removed: {removal}"
        )),
        _ => err,
    }
}

/// The package an upgrade deploys, with --name/--version applied to projects.
fn upgrade_package(args: &UpgradeArgs, target: &Target) -> Result<Package> {
    let path = args
        .package
        .as_deref()
        .context("name the package (.dacpac) or project to deploy")?;
    package_for_target(
        path,
        target,
        args.name.clone(),
        args.version.clone(),
        args.planning.compare.accept_checksum_mismatch,
    )
}

/// The package at `path` for `target`'s platform, with --name/--version applied to projects.
pub fn package_for_target(
    path: &Path,
    target: &Target,
    name: Option<String>,
    version: Option<String>,
    accept_checksum_mismatch: bool,
) -> Result<Package> {
    let options = LoadOptions {
        platform: Some(target.platform()),
        name,
        version,
        accept_checksum_mismatch,
        ..LoadOptions::default()
    };
    match load_package(path, &options) {
        Err(dac_engine::Error::NameAndVersionOnPackage { .. }) => bail!(
            "--name and --version apply to projects; a package keeps the name and version it was built with"
        ),
        loaded => Ok(loaded?),
    }
}

/// `dac upgrade --plan FILE`: runs a reviewed plan in place. Planning options were fixed when
/// the plan was made, so giving them again is an error rather than something silently unused.
fn upgrade_with_plan(args: &UpgradeArgs) -> Result<u8> {
    let plan_path = args.plan.as_deref().expect("called with --plan");
    let mut unused = planning::given(&args.planning);
    for (given, name) in [
        (args.allow_drift, "--allow-drift"),
        (args.report.is_some(), "--report"),
        (
            args.format == Some(TransferFormat::Markdown),
            "--format markdown",
        ),
        (args.parallel.is_some(), "--parallel"),
        (args.no_early_copy, "--no-early-copy"),
        (args.copy_method.is_some(), "--copy-method"),
        (args.quiet, "--quiet"),
    ] {
        if given {
            unused.push(name);
        }
    }
    if !unused.is_empty() {
        bail!(
            "{} cannot be given with --plan: the plan fixed its options when it was made (make it again with them)",
            unused.join(", ")
        );
    }
    let text = std::fs::read_to_string(plan_path)
        .with_context(|| format!("reading the plan {}", plan_path.display()))?;
    let reviewed = ReviewedPlan::from_json(&text)
        .with_context(|| format!("reading the plan {}", plan_path.display()))?;
    let target = target_of(&args.target)?;
    let package_path = match (&args.package, &reviewed.package_path) {
        (Some(path), _) => path.clone(),
        (None, Some(path)) => PathBuf::from(path),
        (None, None) => bail!(
            "the plan does not say where its package is: name the package (.dacpac) after `upgrade`"
        ),
    };
    let package = package_for_target(
        &package_path,
        &target,
        args.name.clone(),
        args.version.clone(),
        false,
    )?;
    let lock_wait = timeouts(args.timeouts).lock;
    recover_quietly(&target, lock_wait)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    apply_timeouts(driver.as_mut(), args.timeouts)?;
    let outcome = upgrade::apply_plan(driver.as_mut(), &package, &reviewed);
    print_warnings(driver.as_mut());
    let outcome = outcome
        .with_context(|| format!("upgrading {target} with the plan {}", plan_path.display()))?;
    print_in_place(&outcome, &target, &package, args.show_script)
}

/// `dac upgrade --side-by-side`.
fn upgrade_side_by_side(args: &UpgradeArgs, target: &Target, package: &Package) -> Result<u8> {
    let mut options = planning::side_by_side_options(&args.planning, args.allow_drift, package)?;
    options.copy_early = !args.no_early_copy;
    options.copy_method = match args.copy_method {
        None | Some(CopyMethodArg::Auto) => upgrade::CopyMethod::Auto,
        Some(CopyMethodArg::Tables) => upgrade::CopyMethod::Tables,
        Some(CopyMethodArg::Database) => upgrade::CopyMethod::Database,
    };
    options.lock_wait = timeouts(args.timeouts).lock;
    if let Some(n) = args.parallel {
        options.parallelism = n.max(1);
    }
    let progress = ProgressDisplay::new(args.quiet);
    let result = upgrade::side_by_side(target, package, &options, &progress);
    progress.finish();
    let outcome = result.with_context(|| format!("upgrading {target} side by side"))?;
    // With --format json, stdout is the report alone (for jq and the like); the lines around
    // it go to stderr.
    let format = args.format.unwrap_or(TransferFormat::Text);
    let json = matches!(format, TransferFormat::Json);
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
    let waited = waited_note(outcome.waited.as_ref());
    if outcome.up_to_date {
        let scripts = scripts_ran(&outcome.plan);
        aside(if scripts.is_empty() {
            format!(
                "{target} is up to date: {} {} (nothing to do){waited}",
                report.application, report.version_after
            )
        } else {
            format!(
                "{target} is up to date: {} {} (schema unchanged, nothing copied){waited}; ran {scripts} in one transaction",
                report.application, report.version_after
            )
        });
        // A script reading the JSON gets a report, of nothing copied.
        if json {
            out_data(&report.json());
        }
        return Ok(EXIT_OK);
    }
    if let Some(waited) = &outcome.waited {
        errln!("note: {waited}");
    }
    let text = match format {
        TransferFormat::Text => report.text(),
        TransferFormat::Json => report.json(),
        TransferFormat::Markdown => report.markdown(),
    };
    if let Some(path) = &args.report {
        write_output(path, text.as_bytes())?;
    }
    if json {
        out_data(&text);
    } else {
        out_text(&text);
    }
    let scripts = package_scripts(package);
    if !scripts.is_empty() {
        aside(format!("  ran {scripts} in the new database"));
    }
    // Rebuild notes describe an in-place plan; here only possible data loss matters.
    for hazard in outcome.plan.data_loss() {
        errln!("  note: {}", hazard.message);
    }
    for warning in &outcome.left_out {
        errln!("  warning: {warning}");
    }
    if let Some(drift) = &outcome.drift {
        errln!("  drift overridden:\n{}", upgrade::describe_drift(drift));
    }
    Ok(EXIT_OK)
}

/// `dac rollback`.
pub fn rollback(args: RollbackArgs) -> Result<u8> {
    let target = target_of(&args.target)?;
    if args.timeouts.command_timeout.is_some() {
        bail!(command_timeout_unused("rollback"));
    }
    let outcome = upgrade::rollback(&target, args.force, timeouts(args.timeouts).lock)
        .with_context(|| format!("rolling back {target}"))?;
    if let Some(waited) = &outcome.waited {
        errln!("note: {waited}");
    }
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
    crate::output::outcome(&serde_json::json!({
        "format_version": 1,
        "command": "rollback",
        "target": target.to_string(),
        "version_before": outcome.from_version,
        "version_after": outcome.version,
        "upgraded_database_kept_as": outcome.kept_upgraded,
        "recovered_first": outcome.recovered,
    }));
    Ok(EXIT_OK)
}

/// `dac recover`.
pub fn recover(args: RecoverArgs) -> Result<u8> {
    let target = target_of(&args.target)?;
    if args.timeouts.command_timeout.is_some() {
        bail!(command_timeout_unused("recover"));
    }
    let (recovered, waited) = upgrade::recover(&target, timeouts(args.timeouts).lock)
        .with_context(|| format!("recovering {target}"))?;
    if let Some(waited) = &waited {
        errln!("note: {waited}");
    }
    match &recovered {
        Some(what) => outln!("{what}"),
        None => outln!("{target}: nothing to recover"),
    }
    crate::output::outcome(&serde_json::json!({
        "format_version": 1,
        "command": "recover",
        "target": target.to_string(),
        "recovered": recovered,
    }));
    Ok(EXIT_OK)
}

/// Before an in-place upgrade: finish or undo an interrupted side-by-side run, saying so; whom
/// it waited behind for the upgrade lock, if it waited.
fn recover_quietly(
    target: &Target,
    lock_wait: std::time::Duration,
) -> Result<Option<driver::Waited>> {
    let (what, waited) =
        upgrade::recover(target, lock_wait).with_context(|| format!("recovering {target}"))?;
    if let Some(what) = what {
        outln!("first: {what}");
    }
    Ok(waited)
}

/// Why `--command-timeout` is refused by a command that runs no statements of the user's.
fn command_timeout_unused(command: &str) -> String {
    format!(
        "--command-timeout does not apply to {command}: it switches and drops whole databases, with bounded waits of its own; --lock-timeout bounds the wait for another run's upgrade lock"
    )
}
