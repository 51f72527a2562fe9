//! The one place the compare and plan flags ([`PlanningFlags`]) become the engine's options,
//! for every command that plans: `script`, `deploy-report` and `upgrade` in either mode see
//! the same options for the same flags, so a reviewed preview is what runs.

use anyhow::Result;
use dac_engine::compare::{self, CompareOptions, TextRules};
use dac_engine::model::Platform;
use dac_engine::package::Package;
use dac_engine::plan::PlanOptions;
use dac_engine::upgrade::{self, InPlaceOptions, SideBySideOptions};

use crate::args::{CompareFlags, PlanningFlags};
use crate::shared::parse_variables;

/// The compare options of `flags` on `platform`: an upgrade's own options
/// (`upgrade::compare_options`: column order only where the platform keeps it) with the flags
/// applied. Type names and globs are checked, so none is ignored for naming nothing.
pub fn compare_options(flags: &CompareFlags, platform: Platform) -> Result<CompareOptions> {
    compare::check_patterns("--include", &flags.include)?;
    compare::check_patterns("--exclude", &flags.exclude)?;
    let defaults = upgrade::compare_options(platform);
    Ok(CompareOptions {
        ignore_column_order: defaults.ignore_column_order || flags.ignore_column_order,
        text: TextRules {
            ignore_whitespace: flags.ignore_whitespace,
            ignore_comments: flags.ignore_comments,
            ignore_case: flags.ignore_keyword_case,
        },
        drop_objects_not_in_source: flags.drop_objects_not_in_source,
        do_not_drop: compare::object_types("--do-not-drop", &flags.do_not_drop)?,
        exclude_kinds: compare::object_types("--exclude-type", &flags.exclude_types)?,
        include: flags.include.clone(),
        exclude: flags.exclude.clone(),
        ..defaults
    })
}

/// The plan options of `flags`, with the package's scripts and refactor log.
pub fn plan_options(flags: &PlanningFlags, package: Option<&Package>) -> PlanOptions {
    PlanOptions {
        block_on_possible_data_loss: !flags.allow_data_loss,
        smart_defaults: flags.smart_defaults,
        rebuild_for_column_order: flags.rebuild_for_column_order,
        ..package.map_or_else(PlanOptions::default, PlanOptions::for_package)
    }
}

/// The SQLCMD variable values of `flags` for `package`'s scripts.
pub fn variables(
    flags: &PlanningFlags,
    package: Option<&Package>,
) -> Result<Vec<(String, String)>> {
    let given = parse_variables(&flags.variables)?;
    Ok(match package {
        Some(package) => package.variable_values(&given),
        None => given,
    })
}

/// An in-place upgrade's options: those of `dac script` for the same flags.
pub fn in_place_options(
    flags: &PlanningFlags,
    allow_drift: bool,
    package: &Package,
) -> Result<InPlaceOptions> {
    Ok(InPlaceOptions {
        allow_data_loss: flags.allow_data_loss,
        allow_drift,
        smart_defaults: flags.smart_defaults,
        compare: compare_options(&flags.compare, package.model.platform())?,
        variables: variables(flags, Some(package))?,
        rebuild_for_column_order: flags.rebuild_for_column_order,
    })
}

/// A side-by-side upgrade's options, after [`not_side_by_side`] found nothing it cannot do.
pub fn side_by_side_options(
    flags: &PlanningFlags,
    allow_drift: bool,
    package: &Package,
) -> Result<SideBySideOptions> {
    Ok(SideBySideOptions {
        allow_data_loss: flags.allow_data_loss,
        allow_drift,
        compare: compare_options(&flags.compare, package.model.platform())?,
        variables: variables(flags, Some(package))?,
        ..SideBySideOptions::default()
    })
}

/// The flags a side-by-side upgrade cannot honour: it builds the whole package in a new
/// database, so nothing the package lacks is kept there and nothing is left out of it; and it
/// has no smart defaults (`SideBySideOptions` has none to give).
pub fn not_side_by_side(flags: &PlanningFlags) -> Vec<&'static str> {
    let compare = &flags.compare;
    [
        (!compare.include.is_empty(), "--include"),
        (!compare.exclude.is_empty(), "--exclude"),
        (!compare.exclude_types.is_empty(), "--exclude-type"),
        (!compare.do_not_drop.is_empty(), "--do-not-drop"),
        (
            !compare.drop_objects_not_in_source,
            "--drop-objects-not-in-source=false",
        ),
        (flags.smart_defaults, "--smart-defaults"),
        // The new database takes the package's order anyway.
        (flags.rebuild_for_column_order, "--rebuild-for-column-order"),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect()
}
