//! `dac compare`, `dac script`, `dac deploy-report`: everything that compares two schemas.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use dac_engine::compare::{self, CompareOptions, TextRules};
use dac_engine::dialect::dialect_for;
use dac_engine::package::Package;
use dac_engine::plan::{self, Plan, PlanOptions};
use dac_engine::report;
use dac_engine::script;

use crate::args::{
    CompareArgs, CompareFlags, DeployFormat, DeployReportArgs, PlanFlags, ReportFormat, ScriptArgs,
};
use crate::commands::load_package;
use crate::{EXIT_DIFFERENCES, EXIT_OK};

/// Compare options from flags, with the platform's defaults (column order only counts where
/// the platform keeps it).
fn compare_options(flags: &CompareFlags, desired: &Package) -> CompareOptions {
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
            .refactor_log
            .as_ref()
            .map(compare::renames_from_refactor_log)
            .unwrap_or_default(),
    }
}

fn load_pair(current: &Path, desired: &Path, flags: &CompareFlags) -> Result<(Package, Package)> {
    let current_package = load_package(current, flags.accept_checksum_mismatch)
        .with_context(|| format!("loading {}", current.display()))?;
    let desired_package = load_package(desired, flags.accept_checksum_mismatch)
        .with_context(|| format!("loading {}", desired.display()))?;
    if current_package.model.platform() != desired_package.model.platform() {
        bail!(
            "{} is a {} schema but {} is a {} schema: a package deploys only to its own platform",
            current.display(),
            current_package.model.platform().as_str(),
            desired.display(),
            desired_package.model.platform().as_str()
        );
    }
    Ok((current_package, desired_package))
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
                "current": args.current.display().to_string(),
                "desired": args.desired.display().to_string(),
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
                args.current.display(),
                args.desired.display(),
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

fn plan_options(flags: &PlanFlags, desired: &Package) -> PlanOptions {
    PlanOptions {
        block_on_possible_data_loss: !flags.allow_data_loss,
        smart_defaults: flags.smart_defaults,
        predeploy: desired.predeploy.clone(),
        postdeploy: desired.postdeploy.clone(),
        refactor_log: desired.refactor_log.clone(),
    }
}

fn make_plan(
    target: &Path,
    package: &Path,
    compare_flags: &CompareFlags,
    plan_flags: &PlanFlags,
) -> Result<(Package, compare::Diff, Plan)> {
    let (current, desired) = load_pair(target, package, compare_flags)?;
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
    Ok((desired, diff, plan))
}

/// `dac script`.
pub fn script(args: ScriptArgs) -> Result<u8> {
    let (desired, _, plan) = make_plan(&args.target, &args.package, &args.compare, &args.plan)?;
    let dialect = dialect_for(desired.model.platform());
    let text = script::render(&plan, dialect).text(dialect);
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
    let (_, diff, plan) = make_plan(&args.target, &args.package, &args.compare, &args.plan)?;
    let report = report::deploy_report(
        &args.target.display().to_string(),
        &args.package.display().to_string(),
        &diff,
        &plan,
    );
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
