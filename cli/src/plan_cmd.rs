//! `dac plan` (make a reviewed plan) and `dac plan show` (render one).

use anyhow::{Context, Result};
use dac_engine::dialect::dialect_for;
use dac_engine::driver;
use dac_engine::report::plan_file::{self, ReviewedPlan};
use dac_engine::upgrade;

use crate::args::{PlanArgs, PlanCommand, PlanFormat, PlanShowArgs};
use crate::output::{errln, out_data};
use crate::planning;
use crate::shared::{EXIT_OK, print_warnings, target_of, write_output};
use crate::upgrade_cmd::package_for_target;

/// `dac plan`.
pub fn plan(args: PlanArgs) -> Result<u8> {
    if let Some(PlanCommand::Show(show_args)) = args.command {
        return show(&show_args);
    }
    let path = args
        .package
        .as_deref()
        .context("name the package to plan")?;
    let target = target_of(&args.target)?;
    let package = package_for_target(
        path,
        &target,
        args.name.clone(),
        args.version.clone(),
        args.planning.compare.accept_checksum_mismatch,
    )?;
    let options = planning::in_place_options(&args.planning, args.allow_drift, &package)?;
    let mut driver =
        driver::connect(&target, false).with_context(|| format!("connecting to {target}"))?;
    let made = upgrade::make_plan(driver.as_mut(), &package, &options);
    print_warnings(driver.as_mut());
    let mut reviewed = made.with_context(|| format!("planning the upgrade of {target}"))?;
    reviewed.package_path = Some(
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
    );
    let json = serde_json::to_string_pretty(&reviewed)? + "\n";
    match &args.output {
        Some(out) => write_output(out, json.as_bytes())?,
        None => out_data(&json),
    }
    let statements: usize = reviewed
        .script
        .batches
        .iter()
        .map(|b| b.statements.len())
        .sum();
    errln!(
        "planned {} {} for {target}: {} steps, {statements} statements, {} hazards; review with `dac plan show FILE`, run with `dac upgrade --plan FILE`",
        reviewed.package.name,
        reviewed.package.version,
        reviewed.steps.len(),
        reviewed.hazards.len()
    );
    Ok(EXIT_OK)
}

/// `dac plan show FILE`.
fn show(args: &PlanShowArgs) -> Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading the plan {}", args.file.display()))?;
    let reviewed = ReviewedPlan::from_json(&text)
        .with_context(|| format!("reading the plan {}", args.file.display()))?;
    let sql = || -> Result<String> { Ok(reviewed.script()?.text(dialect_for(reviewed.platform))) };
    let rendered = match args.format {
        PlanFormat::Text => plan_file::plan_file_text(&reviewed),
        PlanFormat::Json => serde_json::to_string_pretty(&reviewed)? + "\n",
        PlanFormat::Markdown => plan_file::plan_file_markdown(&reviewed, &sql()?),
        PlanFormat::Sql => sql()?,
    };
    match &args.output {
        Some(out) => write_output(out, rendered.as_bytes())?,
        None => out_data(&rendered),
    }
    Ok(EXIT_OK)
}
