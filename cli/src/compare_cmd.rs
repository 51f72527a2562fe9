//! `dac compare`, `dac script`, `dac deploy-report`: everything that compares two schemas.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use dac_engine::compare::{self, CompareOptions, TextRules};
use dac_engine::dialect::dialect_for;
use dac_engine::driver::{self, Driver, Target};
use dac_engine::model::Model;
use dac_engine::package::Package;
use dac_engine::plan::{self, Plan, PlanOptions};
use dac_engine::report;
use dac_engine::script;

use crate::args::{
    CompareArgs, CompareFlags, DeployFormat, DeployReportArgs, PlanFlags, ReportFormat, ScriptArgs,
};
use crate::commands::load_package_for;
use crate::{EXIT_DIFFERENCES, EXIT_OK};

/// Compare options from flags, with the platform's defaults (column order only counts where
/// the platform keeps it).
fn compare_options(flags: &CompareFlags, desired: &Side) -> CompareOptions {
    let dialect = dialect_for(desired.model.platform());
    CompareOptions {
        ignore_column_order: flags.ignore_column_order
            || !dialect.capabilities().column_order_significant,
        text: TextRules {
            ignore_whitespace: flags.ignore_whitespace,
            ignore_comments: flags.ignore_comments,
            ignore_case: flags.ignore_keyword_case,
        },
        drop_objects_not_in_source: flags.drop_objects_not_in_source,
        do_not_drop: flags.do_not_drop.iter().cloned().collect(),
        exclude_kinds: flags.exclude_types.iter().cloned().collect(),
        include: flags.include.clone(),
        exclude: flags.exclude.clone(),
        renames: desired
            .package
            .as_ref()
            .and_then(|p| p.refactor_log.as_ref())
            .map(compare::renames_from_refactor_log)
            .unwrap_or_default(),
    }
}

/// One side of a comparison: its model, its refactor log and scripts when it is a package, and
/// how to show it (connection strings without passwords).
pub struct Side {
    /// The schema.
    pub model: Model,
    /// The package, when the side is a package or project.
    pub package: Option<Package>,
    /// The connection, when the side is a live database.
    pub driver: Option<Box<dyn Driver>>,
    /// How to name it in output.
    pub display: String,
}

/// Loads a package, project or live database (a connection string); plain folders of `.sql`
/// files are built for `platform` when given.
pub fn load_side(
    arg: &str,
    accept_checksum_mismatch: bool,
    platform: Option<dac_engine::model::Platform>,
) -> Result<Side> {
    if let Ok(target) = Target::parse(arg) {
        let mut driver =
            driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
        let model = driver
            .inspect()
            .with_context(|| format!("inspecting {target}"))?;
        return Ok(Side {
            model,
            package: None,
            driver: Some(driver),
            display: target.to_string(),
        });
    }
    let path = Path::new(arg);
    let package = load_package_for(path, accept_checksum_mismatch, platform)
        .with_context(|| format!("loading {}", path.display()))?;
    Ok(Side {
        model: package.model.clone(),
        package: Some(package),
        driver: None,
        display: path.display().to_string(),
    })
}

fn load_pair(current: &str, desired: &str, flags: &CompareFlags) -> Result<(Side, Side)> {
    let mut current = load_side(current, flags.accept_checksum_mismatch, None)?;
    let platform = current.model.platform();
    let mut desired = load_side(desired, flags.accept_checksum_mismatch, Some(platform))?;
    if current.model.platform() != desired.model.platform() {
        bail!(
            "{} is a {} schema but {} is a {} schema: a package deploys only to its own platform",
            current.display,
            current.model.platform().as_str(),
            desired.display,
            desired.model.platform().as_str()
        );
    }
    // A package compared with a live database is first put in that server's own spelling.
    if desired.driver.is_none()
        && let Some(driver) = current.driver.as_mut()
    {
        desired.model = driver.canonicalize(&desired.model).with_context(|| {
            format!("canonicalising {} on {}", desired.display, current.display)
        })?;
    }
    Ok((current, desired))
}

/// `dac compare`.
pub fn compare(args: CompareArgs) -> Result<u8> {
    let (current, desired) = load_pair(&args.current, &args.desired, &args.compare)?;
    let options = compare_options(&args.compare, &desired);
    let diff = compare::compare(&current.model, &desired.model, &options);
    let changes = report::changes(&diff);
    let out = std::io::stdout();
    let mut out = out.lock();
    match args.format {
        ReportFormat::Json => {
            let value = serde_json::json!({
                "format_version": report::FORMAT_VERSION,
                "current": current.display,
                "desired": desired.display,
                "differences": diff.differences().count(),
                "changes": changes,
            });
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            if diff.is_empty() {
                writeln!(out, "no differences")?;
            }
            for change in &changes {
                let from = change
                    .renamed_from
                    .as_ref()
                    .map(|f| format!(" (from {f})"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<7} {:<32} {}{from}",
                    change.action, change.kind, change.name
                )?;
                for detail in &change.details {
                    match &detail.diff {
                        Some(diff) => {
                            writeln!(out, "        {}:", detail.path)?;
                            for line in diff.lines() {
                                writeln!(out, "          {line}")?;
                            }
                        }
                        None => writeln!(
                            out,
                            "        {}: {} -> {}",
                            detail.path,
                            detail.current.as_deref().unwrap_or("(none)"),
                            detail.desired.as_deref().unwrap_or("(none)")
                        )?,
                    }
                }
            }
        }
        ReportFormat::Markdown => {
            writeln!(out, "## Schema comparison\n")?;
            writeln!(
                out,
                "`{}` → `{}`: {} differences.\n",
                current.display,
                desired.display,
                diff.differences().count()
            )?;
            if !changes.is_empty() {
                writeln!(out, "| action | type | object |\n|---|---|---|")?;
                for change in &changes {
                    writeln!(
                        out,
                        "| {} | {} | `{}` |",
                        change.action, change.kind, change.name
                    )?;
                }
            }
        }
    }
    Ok(if diff.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    })
}

fn plan_options(flags: &PlanFlags, desired: &Side) -> PlanOptions {
    let package = desired.package.as_ref();
    PlanOptions {
        block_on_possible_data_loss: !flags.allow_data_loss,
        smart_defaults: flags.smart_defaults,
        predeploy: package.and_then(|p| p.predeploy.clone()),
        postdeploy: package.and_then(|p| p.postdeploy.clone()),
        refactor_log: package.and_then(|p| p.refactor_log.clone()),
    }
}

fn make_plan(
    target: &str,
    package: &Path,
    compare_flags: &CompareFlags,
    plan_flags: &PlanFlags,
) -> Result<(Side, Side, compare::Diff, Plan)> {
    let (current, desired) = load_pair(target, &package.display().to_string(), compare_flags)?;
    let options = compare_options(compare_flags, &desired);
    let diff = compare::compare(&current.model, &desired.model, &options);
    let dialect = dialect_for(desired.model.platform());
    let plan = plan::plan(
        &diff,
        &current.model,
        &desired.model,
        dialect.capabilities(),
        &plan_options(plan_flags, &desired),
    );
    Ok((current, desired, diff, plan))
}

/// `dac script`.
pub fn script(args: ScriptArgs) -> Result<u8> {
    let (_, desired, _, plan) = make_plan(&args.target, &args.package, &args.compare, &args.plan)?;
    let dialect = dialect_for(desired.model.platform());
    let given = crate::commands::parse_variables(&args.plan.variables)?;
    let variables = crate::commands::variable_values(desired.package.as_ref(), &given);
    let text = script::render(&plan, dialect)
        .with_variables(dialect, &variables)?
        .text(dialect);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(EXIT_OK)
}

/// `dac deploy-report`.
pub fn deploy_report(args: DeployReportArgs) -> Result<u8> {
    let (current, desired, diff, plan) =
        make_plan(&args.target, &args.package, &args.compare, &args.plan)?;
    let report = report::deploy_report(&current.display, &desired.display, &diff, &plan);
    let text = match args.format {
        DeployFormat::Xml => report::deploy_report_xml(&report),
        DeployFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        DeployFormat::Text => report::deploy_report_text(&report),
        DeployFormat::Markdown => report::deploy_report_markdown(&report),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(if plan.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    })
}
