//! The one place the compare and plan flags ([`PlanningFlags`]) become the engine's options,
//! for every command that plans: `script`, `deploy-report` and `upgrade` in either mode see
//! the same options for the same flags, so a reviewed preview is what runs.

use anyhow::{Context, Result, bail};
use dac_engine::compare::{self, CompareOptions, TextRules};
use dac_engine::model::Platform;
use dac_engine::package::Package;
use dac_engine::plan::{HazardKind, PlanOptions};
use dac_engine::upgrade::{self, InPlaceOptions, SideBySideOptions};

use crate::args::{CompareFlags, ConnectionText, PlanningFlags, TargetFlag};
use crate::profile::Profile;
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
        drop_objects_not_in_source: flags.drop_objects_not_in_source.unwrap_or(true),
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
        block_on: block_on(flags)?,
        leave_out_uncreatable: flags.leave_out_uncreatable,
        lock_wait: None,
    })
}

/// The hazard kinds `--block-on` and `--block-on-rebuild` refuse; an unknown name is an error
/// listing the known ones.
pub fn block_on(flags: &PlanningFlags) -> Result<Vec<HazardKind>> {
    let mut kinds = Vec::new();
    if flags.block_on_rebuild {
        kinds.push(HazardKind::TableRebuild);
    }
    for name in &flags.block_on {
        let name = name.trim();
        let kind = HazardKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name))
            .with_context(|| {
                let known: Vec<&str> = HazardKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "--block-on: unknown hazard {name:?}; known: {}",
                    known.join(", ")
                )
            })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
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
        leave_out_uncreatable: flags.leave_out_uncreatable,
        ..SideBySideOptions::default()
    })
}

/// The compare and plan flags given on the command line (and a profile), by name.
pub fn given(flags: &PlanningFlags) -> Vec<&'static str> {
    let compare = &flags.compare;
    [
        (compare.ignore_column_order, "--ignore-column-order"),
        (compare.ignore_whitespace, "--ignore-whitespace"),
        (compare.ignore_comments, "--ignore-comments"),
        (compare.ignore_keyword_case, "--ignore-keyword-case"),
        (
            compare.drop_objects_not_in_source.is_some(),
            "--drop-objects-not-in-source",
        ),
        (!compare.do_not_drop.is_empty(), "--do-not-drop"),
        (!compare.exclude_types.is_empty(), "--exclude-type"),
        (!compare.include.is_empty(), "--include"),
        (!compare.exclude.is_empty(), "--exclude"),
        (
            compare.accept_checksum_mismatch,
            "--accept-checksum-mismatch",
        ),
        (flags.allow_data_loss, "--allow-data-loss"),
        (flags.smart_defaults, "--smart-defaults"),
        (flags.rebuild_for_column_order, "--rebuild-for-column-order"),
        (flags.block_on_rebuild, "--block-on-rebuild"),
        (!flags.block_on.is_empty(), "--block-on"),
        (!flags.variables.is_empty(), "--variable"),
        (flags.profile.is_some(), "--profile"),
        (
            !flags.properties_under.is_empty() || !flags.properties_over.is_empty(),
            "publish properties",
        ),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect()
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
            compare.drop_objects_not_in_source == Some(false),
            "--drop-objects-not-in-source=false",
        ),
        (flags.smart_defaults, "--smart-defaults"),
        // The new database takes the package's order anyway.
        (flags.rebuild_for_column_order, "--rebuild-for-column-order"),
        // It runs no upgrade script: the policy has no plan to judge.
        (flags.block_on_rebuild, "--block-on-rebuild"),
        (!flags.block_on.is_empty(), "--block-on"),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect()
}

/// How dac takes a publish profile property: the README's table is this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Support {
    /// Mapped to a dac option, both values.
    Mapped,
    /// Only this value is what dac does; the other is not implemented.
    OnlyWhen(bool),
    /// Read and not needed: it changes nothing dac does.
    Accepted,
}

/// The publish profile properties dac implements, with the option each becomes. Any other
/// property is not implemented: an error naming it, or with `--profile-ignore-unsupported` a
/// warning naming it.
const PROFILE_PROPERTIES: &[(&str, Support)] = &[
    ("TargetConnectionString", Support::Mapped),
    ("TargetDatabaseName", Support::Mapped),
    ("BlockOnPossibleDataLoss", Support::Mapped),
    ("DropObjectsNotInSource", Support::Mapped),
    ("GenerateSmartDefaults", Support::Mapped),
    ("AllowTableRecreation", Support::Mapped),
    ("IgnoreColumnOrder", Support::Mapped),
    ("IgnoreWhitespace", Support::Mapped),
    ("IgnoreComments", Support::Mapped),
    ("IgnoreKeywordCasing", Support::Mapped),
    ("DoNotDropObjectTypes", Support::Mapped),
    ("ExcludeObjectTypes", Support::Mapped),
    ("BlockWhenDriftDetected", Support::Mapped),
    ("CommandTimeout", Support::Mapped),
    ("RegisterDataTierApplication", Support::OnlyWhen(true)),
    ("CreateNewDatabase", Support::OnlyWhen(false)),
    ("AllowIncompatiblePlatform", Support::OnlyWhen(false)),
    ("IncludeCompositeObjects", Support::Accepted),
    ("DeployScriptFileName", Support::Accepted),
    ("ProfileVersionNumber", Support::Accepted),
];

/// What a publish profile says beyond [`PlanningFlags`].
#[derive(Debug, Default)]
pub struct FromProfile {
    /// `BlockWhenDriftDetected`, where the profile sets it (an upgrade's `--allow-drift` is
    /// its negation).
    pub block_when_drift_detected: Option<bool>,
    /// `CommandTimeout` in seconds, where the profile sets it (0: no limit); an upgrade's
    /// `--command-timeout`.
    pub command_timeout: Option<std::time::Duration>,
}

fn profile_bool(name: &str, value: &str) -> Result<bool> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        bail!("{name}={value:?}: expected True or False")
    }
}

/// `;`-separated values of a list property (`DoNotDropObjectTypes`).
fn profile_list(value: &str) -> Vec<String> {
    value
        .split([';', ','])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// `connection` with its database made `database` (`TargetDatabaseName`): a URL's path, or a
/// `key=value;` string's `Database`/`Initial Catalog`.
pub fn with_database(connection: &str, database: &str) -> Result<String> {
    if let Some((scheme, rest)) = connection.split_once("://") {
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let authority = before_query.split('/').next().unwrap_or(before_query);
        let mut out = format!("{scheme}://{authority}/{database}");
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        return Ok(out);
    }
    if connection.contains('=') {
        let mut parts: Vec<&str> = connection
            .split(';')
            .filter(|part| {
                let key = part.split('=').next().unwrap_or("").trim();
                !part.trim().is_empty()
                    && !key.eq_ignore_ascii_case("database")
                    && !key.eq_ignore_ascii_case("initial catalog")
            })
            .collect();
        let database = format!("Database={database}");
        parts.push(&database);
        return Ok(parts.join(";"));
    }
    bail!(
        "TargetDatabaseName applies to a server's connection string, not to {}",
        dac_engine::driver::redact(connection)
    )
}

/// Applies `--profile` to `flags` and `target`, where the command line did not say otherwise
/// (as SqlPackage: the command line overrides the profile): a flag the command line set keeps
/// its value, a connection given by `--target`/`--target-env` wins over the profile's, a
/// `-v NAME=...` wins over the profile's value of NAME. Properties dac does not implement are
/// an error naming them, or warnings with `--profile-ignore-unsupported`.
pub fn apply_profile(flags: &mut PlanningFlags, target: &mut TargetFlag) -> Result<FromProfile> {
    let profile = match &flags.profile {
        Some(path) => Some(Profile::load(path)?),
        None if flags.properties_under.is_empty() && flags.properties_over.is_empty() => {
            return Ok(FromProfile::default());
        }
        None => None,
    };
    let shown = match &flags.profile {
        Some(path) => format!("profile {}", path.display()),
        None => "publish properties".to_string(),
    };
    let profile = profile.unwrap_or_default();
    // Under the profile's, the profile's, then over them: the last of a name wins.
    let mut properties: Vec<(String, String)> = Vec::new();
    for (name, value) in flags
        .properties_under
        .iter()
        .chain(&profile.properties)
        .chain(&flags.properties_over)
    {
        properties.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        properties.push((name.clone(), value.clone()));
    }
    let mut out = FromProfile::default();
    let mut unsupported = Vec::new();
    let mut connection_string = None;
    let mut database = None;
    for (name, value) in &properties {
        let Some(&(known, support)) = PROFILE_PROPERTIES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
        else {
            unsupported.push(format!("{name}={value}"));
            continue;
        };
        let context = || shown.clone();
        match support {
            Support::Accepted => continue,
            Support::OnlyWhen(implemented) => {
                if profile_bool(known, value).with_context(context)? != implemented {
                    unsupported.push(format!("{known}={value}"));
                }
                continue;
            }
            Support::Mapped => {}
        }
        let compare = &mut flags.compare;
        match known {
            "TargetConnectionString" => connection_string = Some(value.clone()),
            "TargetDatabaseName" => database = Some(value.clone()),
            "DoNotDropObjectTypes" if compare.do_not_drop.is_empty() => {
                compare.do_not_drop = profile_list(value);
            }
            "ExcludeObjectTypes" if compare.exclude_types.is_empty() => {
                compare.exclude_types = profile_list(value);
            }
            "DoNotDropObjectTypes" | "ExcludeObjectTypes" => {}
            "CommandTimeout" => {
                let seconds: u64 = value.trim().parse().with_context(|| {
                    format!("{shown}: CommandTimeout={value:?}: expected a number of seconds")
                })?;
                out.command_timeout =
                    (seconds > 0).then(|| std::time::Duration::from_secs(seconds));
            }
            _ => {
                let on = profile_bool(known, value).with_context(context)?;
                match known {
                    "BlockOnPossibleDataLoss" => flags.allow_data_loss |= !on,
                    "DropObjectsNotInSource" => {
                        compare.drop_objects_not_in_source.get_or_insert(on);
                    }
                    "GenerateSmartDefaults" => flags.smart_defaults |= on,
                    "AllowTableRecreation" => flags.block_on_rebuild |= !on,
                    "IgnoreColumnOrder" => {
                        // DacFx's False rebuilds for order; the command line's either flag wins.
                        if !compare.ignore_column_order && !flags.rebuild_for_column_order {
                            compare.ignore_column_order = on;
                            flags.rebuild_for_column_order = !on;
                        }
                    }
                    "IgnoreWhitespace" => compare.ignore_whitespace |= on,
                    "IgnoreComments" => compare.ignore_comments |= on,
                    "IgnoreKeywordCasing" => compare.ignore_keyword_case |= on,
                    "BlockWhenDriftDetected" => out.block_when_drift_detected = Some(on),
                    other => unreachable!("profile property {other} has no mapping"),
                }
            }
        }
    }
    if !unsupported.is_empty() {
        if !flags.profile_ignore_unsupported {
            bail!(
                "{shown}: dac does not implement {} (give --profile-ignore-unsupported to go on without them)",
                unsupported.join(", ")
            );
        }
        for property in &unsupported {
            crate::output::errln!("warning: {shown}: dac does not implement {property}; ignored");
        }
    }
    // Command-line -v values first: `variables` takes the first value of a name.
    for (name, value) in &profile.variables {
        let given = flags.variables.iter().any(|pair| {
            pair.split_once('=')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
        });
        if !given {
            flags.variables.push(format!("{name}={value}"));
        }
    }
    if let Some(connection) = connection_string {
        let connection = match &database {
            Some(database) => {
                with_database(&connection, database).with_context(|| format!("profile {shown}"))?
            }
            None => connection,
        };
        target.from_profile = Some(connection.parse::<ConnectionText>()?);
    } else if database.is_some() && target.target.is_none() && target.target_env.is_none() {
        // A database name alone names no server: the target comes from DAC_TARGET or nowhere.
        crate::output::errln!(
            "warning: {shown}: TargetDatabaseName without TargetConnectionString is not used"
        );
    }
    Ok(out)
}

#[cfg(test)]
mod profile_tests {
    use super::with_database;

    #[test]
    fn database_names_replace_the_connections() {
        assert_eq!(
            with_database(
                "Data Source=.;Initial Catalog=Old;Integrated Security=True",
                "New"
            )
            .unwrap(),
            "Data Source=.;Integrated Security=True;Database=New"
        );
        assert_eq!(
            with_database("postgres://u@h:5432/old?sslmode=require", "new").unwrap(),
            "postgres://u@h:5432/new?sslmode=require"
        );
        assert!(with_database("app.db", "x").is_err());
    }
}
