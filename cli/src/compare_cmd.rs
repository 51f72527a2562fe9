//! `dac compare`, `dac script`, `dac deploy-report`: everything that compares two schemas.

use std::path::Path;

use anyhow::{Context, Result};
use dac_engine::compare::{self, CompareOptions, TextRules};
use dac_engine::dialect::dialect_for;
use dac_engine::endpoint::{LoadedEndpoint, load_current_and_desired};
use dac_engine::plan::{self, Plan, PlanOptions};
use dac_engine::report;
use dac_engine::script;

use crate::args::{
    CompareArgs, CompareFlags, DeployFormat, DeployReportArgs, PlanFlags, ReportFormat, ScriptArgs,
};
use crate::output::{out_data, out_text};
use crate::shared::{EXIT_DIFFERENCES, EXIT_OK, parse_variables};

/// Compare options from flags, with the platform's defaults (column order only counts where
/// the platform keeps it).
fn compare_options(flags: &CompareFlags, desired: &LoadedEndpoint) -> CompareOptions {
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

/// `dac compare`.
pub fn compare(args: CompareArgs) -> Result<u8> {
    let (current, desired) = load_current_and_desired(
        &args.current,
        &args.desired,
        args.compare.accept_checksum_mismatch,
    )?;
    let options = compare_options(&args.compare, &desired);
    let diff = compare::compare(&current.model, &desired.model, &options);
    let report = report::CompareReport::of(&current.display, &desired.display, &diff);
    match args.format {
        ReportFormat::Json => out_data(&report.json()),
        ReportFormat::Text => out_text(&report.text()),
        ReportFormat::Markdown => out_text(&report.markdown()),
    }
    Ok(if diff.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    })
}

fn plan_options(flags: &PlanFlags, desired: &LoadedEndpoint) -> PlanOptions {
    PlanOptions {
        block_on_possible_data_loss: !flags.allow_data_loss,
        smart_defaults: flags.smart_defaults,
        ..desired
            .package
            .as_ref()
            .map_or_else(PlanOptions::default, PlanOptions::for_package)
    }
}

fn make_plan(
    target: &str,
    package: &Path,
    compare_flags: &CompareFlags,
    plan_flags: &PlanFlags,
) -> Result<(LoadedEndpoint, LoadedEndpoint, compare::Diff, Plan)> {
    let (current, desired) = load_current_and_desired(
        target,
        &package.display().to_string(),
        compare_flags.accept_checksum_mismatch,
    )?;
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
    let given = parse_variables(&args.plan.variables)?;
    let variables = match &desired.package {
        Some(package) => package.variable_values(&given),
        None => given,
    };
    let text = script::render(&plan, dialect)
        .with_variables(dialect, &variables)?
        .text(dialect);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => out_data(&text),
    }
    Ok(EXIT_OK)
}

/// `dac deploy-report`.
pub fn deploy_report(args: DeployReportArgs) -> Result<u8> {
    let (current, desired, diff, plan) =
        make_plan(&args.target, &args.package, &args.compare, &args.plan)?;
    let report = report::deploy_report(&current.display, &desired.display, &diff, &plan);
    match args.format {
        DeployFormat::Xml => out_data(&report::deploy_report_xml(&report)),
        DeployFormat::Json => out_data(&(serde_json::to_string_pretty(&report)? + "\n")),
        DeployFormat::Text => out_text(&report::deploy_report_text(&report)),
        DeployFormat::Markdown => out_text(&report::deploy_report_markdown(&report)),
    }
    Ok(if plan.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    })
}
