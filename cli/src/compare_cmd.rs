//! `dac compare`, `dac script`, `dac deploy-report`: everything that compares two schemas.

use std::path::Path;

use anyhow::Result;
use dac_engine::compare::{self, CompareOptions};
use dac_engine::dialect::dialect_for;
use dac_engine::endpoint::{LoadedEndpoint, load_current_and_desired};
use dac_engine::plan::{self, Plan};
use dac_engine::report;
use dac_engine::report::plan_file::PlannedScript;
use dac_engine::script;

use crate::args::{
    CompareArgs, CompareFlags, DeployFormat, DeployReportArgs, PlanningFlags, ReportFormat,
    ScriptArgs, ScriptFormat,
};
use crate::output::{errln, out_data, out_text};
use crate::planning;
use crate::shared::{EXIT_DIFFERENCES, EXIT_OK, connection, keep_until_exit, write_output};

/// Compare options from flags, with the renames of the desired package's refactor log.
fn compare_options(flags: &CompareFlags, desired: &LoadedEndpoint) -> Result<CompareOptions> {
    Ok(CompareOptions {
        renames: desired
            .package
            .as_ref()
            .and_then(|p| p.refactor_log.as_ref())
            .map(compare::renames_from_refactor_log)
            .unwrap_or_default(),
        ..planning::compare_options(flags, desired.model.platform())?
    })
}

/// `dac compare`.
pub fn compare(args: CompareArgs) -> Result<u8> {
    let (current, desired) = load_current_and_desired(
        &args.current,
        &args.desired,
        args.compare.accept_checksum_mismatch,
    )?;
    let options = compare_options(&args.compare, &desired)?;
    let diff = compare::compare(&current.model, &desired.model, &options);
    let report = report::CompareReport::of(&current.display, &desired.display, &diff);
    match args.format {
        ReportFormat::Json => out_data(&report.json()),
        ReportFormat::Text => out_text(&report.text()),
        ReportFormat::Markdown => out_text(&report.markdown()),
    }
    let code = if diff.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    };
    keep_until_exit((current, desired, diff));
    Ok(code)
}

fn make_plan(
    target: &str,
    package: &Path,
    flags: &PlanningFlags,
) -> Result<(LoadedEndpoint, LoadedEndpoint, compare::Diff, Plan)> {
    let (current, desired) = load_current_and_desired(
        target,
        &package.display().to_string(),
        flags.compare.accept_checksum_mismatch,
    )?;
    let mut options = compare_options(&flags.compare, &desired)?;
    // Rebuilding for column order needs the order compared.
    options.ignore_column_order &= !flags.rebuild_for_column_order;
    let diff = compare::compare(&current.model, &desired.model, &options);
    let plan_options = planning::plan_options(flags, desired.package.as_ref());
    plan::check_filters(&diff, &current.model, &desired.model, &plan_options)?;
    let dialect = dialect_for(desired.model.platform());
    let plan = plan::plan(
        &diff,
        &current.model,
        &desired.model,
        dialect.capabilities(),
        &plan_options,
    );
    Ok((current, desired, diff, plan))
}

/// `dac script`.
pub fn script(args: ScriptArgs) -> Result<u8> {
    let (current, desired, diff, plan) =
        make_plan(&connection(&args.target)?, &args.package, &args.planning)?;
    // A script that cannot run is refused, as an upgrade refuses it.
    dac_engine::upgrade::refuse_unrunnable(&plan)?;
    dac_engine::upgrade::refuse_hazards(&plan, &planning::block_on(&args.planning)?)?;
    let dialect = dialect_for(desired.model.platform());
    let variables = planning::variables(&args.planning, desired.package.as_ref())?;
    let rendered = script::render(&plan, dialect).with_variables(dialect, &variables)?;
    for warning in rendered.refuse_uncreatable(args.planning.leave_out_uncreatable)? {
        errln!("warning: {warning}");
    }
    let text = match args.format {
        ScriptFormat::Sql => rendered.text(dialect),
        ScriptFormat::Json => {
            let value = serde_json::json!({
                "format_version": 1,
                "command": "script",
                "platform": rendered.platform.as_str(),
                "current": current.display,
                "desired": desired.display,
                "script": PlannedScript::of(&rendered),
            });
            serde_json::to_string_pretty(&value)? + "\n"
        }
    };
    match &args.output {
        Some(path) => write_output(path, text.as_bytes())?,
        None => out_data(&text),
    }
    keep_until_exit((current, desired, diff, plan));
    Ok(EXIT_OK)
}

/// `dac deploy-report`.
pub fn deploy_report(args: DeployReportArgs) -> Result<u8> {
    let (current, desired, diff, plan) =
        make_plan(&connection(&args.target)?, &args.package, &args.planning)?;
    let blocked = planning::block_on(&args.planning)?;
    // The script an upgrade would run, for the objects it would leave out.
    let rendered = script::render(&plan, dialect_for(desired.model.platform()));
    let report = report::deploy_report(&current.display, &desired.display, &diff, &plan)
        .with_uncreatable(&rendered);
    let (text, human) = match args.format {
        DeployFormat::Xml => (report::deploy_report_xml(&report), false),
        DeployFormat::Json => (serde_json::to_string_pretty(&report)? + "\n", false),
        DeployFormat::Text => (report::deploy_report_text(&report), true),
        DeployFormat::Markdown => (report::deploy_report_markdown(&report), true),
    };
    match &args.output {
        Some(path) => write_output(path, text.as_bytes())?,
        None if human => out_text(&text),
        None => out_data(&text),
    }
    // The report is written either way; a policy the plan breaks makes the exit code say so.
    let refused = dac_engine::upgrade::refuse_hazards(&plan, &blocked).and_then(|()| {
        rendered
            .refuse_uncreatable(args.planning.leave_out_uncreatable)
            .map(|warnings| {
                for warning in warnings {
                    errln!("warning: {warning}");
                }
            })
    });
    let code = if let Err(err) = refused {
        crate::output::errln!("refused: {err}");
        crate::shared::EXIT_REFUSED
    } else if plan.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    };
    keep_until_exit((current, desired, diff, plan));
    Ok(code)
}
