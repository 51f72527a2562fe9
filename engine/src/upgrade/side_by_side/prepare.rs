//! Step 1 of a side-by-side upgrade, before anything is touched: validation, the plan, the
//! data transfer, the rows it would leave behind, the create script split at the copy, the
//! foreign keys that can be checked after the switch, and the name the original keeps.

use std::time::Instant;

use super::copy::IndexBuild;
use super::journal::stamp;
use super::transfer_plan::{PlannedTransfer, plan_transfer};
use super::{LaterCheck, Progress, SideBySideOptions, SideBySideOutcome, millis};
use crate::compare::Diff;
use crate::dialect::dialect_for;
use crate::driver::{Driver, Server};
use crate::model::kind::prop;
use crate::model::{Element, Model, ObjectName, Value, kind};
use crate::package::Package;
use crate::plan::{self, Plan, PlanOptions, StepKind};
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};
use crate::report::transfer::{TransferCase, TransferReport};
use crate::script::{self, Script};
use crate::upgrade::in_place::validate;
use crate::upgrade::live_diff;
use crate::{Error, Result};

/// What step 1 decided, for the steps after it.
pub(super) struct Planned {
    /// The database upgraded.
    pub(super) database: String,
    /// The package's application name.
    pub(super) application: String,
    /// The changes from the live schema to the package.
    pub(super) plan: Plan,
    /// Drift that the user allowed the upgrade to override.
    pub(super) allowed_drift: Option<Diff>,
    /// The registered version before the upgrade.
    pub(super) version_before: Option<String>,
    /// The registration the new database gets.
    pub(super) registration: Registration,
    /// The data transfer, table by table (the copy fills in the reports' rows).
    pub(super) transfers: Vec<PlannedTransfer>,
    /// Each transfer's estimated size, to copy the largest first.
    pub(super) sizes: Vec<u64>,
    /// The original's history, carried over into the new database.
    pub(super) history: Vec<HistoryEntry>,
    /// Foreign keys added unchecked, checked after the switch (moved into the journal).
    pub(super) checks_after_switch: Vec<LaterCheck>,
    /// The create script, split at the copy.
    pub(super) scripts: Scripts,
}

/// Step 1's answer.
pub(super) enum Validated {
    /// Nothing to do: the database is registered at this package and matches it.
    UpToDate(Box<SideBySideOutcome>),
    /// An upgrade to run.
    Planned(Box<Planned>),
}

/// A side-by-side upgrade builds the whole package in a new database: options that keep
/// objects the package lacks, or leave some of its objects out, cannot hold there.
fn refuse_partial_compare(options: &crate::compare::CompareOptions) -> Result<()> {
    let partial = [
        (!options.include.is_empty(), "include filters"),
        (!options.exclude.is_empty(), "exclude filters"),
        (!options.exclude_kinds.is_empty(), "excluded object types"),
        (!options.do_not_drop.is_empty(), "object types not to drop"),
        (
            !options.drop_objects_not_in_source,
            "keeping objects not in the package",
        ),
    ];
    match partial.iter().find(|(given, _)| *given) {
        Some((_, what)) => Err(Error::Invalid(format!(
            "a side-by-side upgrade builds the whole package in a new database: {what} cannot apply to it"
        ))),
        None => Ok(()),
    }
}

/// Step 1: validates the original (platform, application, drift, data loss) and plans the
/// upgrade, reading the original only.
pub(super) fn validate_and_plan(
    server: &mut dyn Server,
    package: &Package,
    options: &SideBySideOptions,
    progress: &dyn Progress,
    started: Instant,
) -> Result<Validated> {
    let database = server.database().to_string();
    refuse_partial_compare(&options.compare)?;
    if !server.exists(&database)? {
        return Err(Error::Invalid(format!(
            "{database} does not exist: a side-by-side upgrade starts from an existing database (use --in-place to deploy a new one)"
        )));
    }
    let metadata = package.metadata.clone().unwrap_or_default();
    progress.step("validating");
    let mut original = server.open(&database)?;
    let (registration, allowed_drift, inspected) =
        validate(original.as_mut(), package, options.allow_drift)?;
    let (live, desired, diff) = live_diff(original.as_mut(), inspected, package, &options.compare)?;
    let dialect = dialect_for(desired.platform());
    let plan = plan::plan(
        &diff,
        &live,
        &desired,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            ..PlanOptions::default()
        },
    );
    let new_registration = Registration::of(package)?;
    if plan.is_empty()
        && registration.as_ref().is_some_and(|r| {
            r.name == new_registration.name
                && r.version == new_registration.version
                && r.model_hash == new_registration.model_hash
        })
    {
        // Copying everything into an identical database would only orphan the retained
        // original of the last upgrade. The deployment scripts still run, as on every
        // upgrade: on the original, in one transaction.
        let scripts_plan = plan::plan(
            &diff,
            &live,
            &desired,
            dialect.capabilities(),
            &PlanOptions {
                predeploy: package.predeploy.clone(),
                postdeploy: package.postdeploy.clone(),
                ..PlanOptions::default()
            },
        );
        if !scripts_plan.steps.is_empty() {
            let script = script::render(&scripts_plan, dialect)
                .with_variables(dialect, &options.variables)?;
            let mut entry = HistoryEntry::now(
                HistoryAction::Upgrade,
                HistoryStatus::Success,
                &metadata.name,
            );
            entry.version_before = Some(new_registration.version.clone());
            entry.version_after = Some(new_registration.version.clone());
            entry.message = "schema up to date; the deployment scripts ran".into();
            super::run_script(original.as_mut(), &script, &mut |driver| {
                driver.append_history(&entry)
            })?;
        }
        let mut report = TransferReport::new(Vec::new());
        report.database = database;
        report.application = metadata.name;
        report.version_before = Some(new_registration.version.clone());
        report.version_after = new_registration.version;
        report.total_ms = millis(started.elapsed());
        return Ok(Validated::UpToDate(Box::new(SideBySideOutcome {
            report,
            plan: scripts_plan,
            drift: allowed_drift,
            recovered: None,
            up_to_date: true,
            left_out: Vec::new(),
            waited: None,
        })));
    }
    let registered_model = match &registration {
        Some(registered) => Some(registered.package()?.model),
        None => None,
    };
    let transfers = plan_transfer(registered_model.as_ref(), &live, &desired, &diff);
    if !options.allow_data_loss {
        refuse_lost_rows(original.as_mut(), &transfers)?;
    }
    // Largest tables first, so that the last copy to finish is a small one.
    let mut sizes = Vec::with_capacity(transfers.len());
    for transfer in &transfers {
        sizes.push(match &transfer.copy {
            Some(copy) => original.estimated_size(&copy.source)?.unwrap_or(0),
            None => 0,
        });
    }
    let history = original.history()?;
    let version_before = registration.as_ref().map(|r| r.version.clone());
    let (marked, later) = foreign_keys_to_check_later(&live, &desired, &diff, &transfers, package);
    let with_marks = marked.as_ref().unwrap_or(&desired);
    let created = without_checks_before_predeploy(&diff, with_marks, package);
    let scripts = create_scripts(
        with_marks,
        created.as_ref(),
        package,
        &options.variables,
        options.leave_out_uncreatable,
    )?;
    Ok(Validated::Planned(Box::new(Planned {
        database,
        application: metadata.name,
        plan,
        allowed_drift,
        version_before,
        registration: new_registration,
        transfers,
        sizes,
        history,
        checks_after_switch: later,
        scripts,
    })))
}

/// `server.retained_name(version, stamp)`, or with `_2`, `_3`, ... after the stamp while a
/// database of that name exists (two upgrades from one version within a second). The journal
/// keeps the name, so a taken one would fail the switch's (or a forced rollback's) rename in
/// this run and in every run after it.
pub(super) fn unused_retained_name(server: &mut dyn Server, version: &str) -> Result<String> {
    let stamp = stamp();
    let mut name = server.retained_name(version, &stamp);
    let mut n = 1;
    while server.exists(&name)? {
        n += 1;
        name = server.retained_name(version, &format!("{stamp}_{n}"));
    }
    Ok(name)
}

/// Refuses a transfer that leaves rows behind: tables not created and columns not carried
/// over, where the live table holds rows.
pub(super) fn refuse_lost_rows(
    driver: &mut dyn Driver,
    transfers: &[PlannedTransfer],
) -> Result<()> {
    let mut lost = Vec::new();
    for transfer in transfers {
        let report = &transfer.report;
        let table = match (&transfer.copy, report.case) {
            (None, TransferCase::Dropped | TransferCase::LiveOnly | TransferCase::Unregistered) => {
                ObjectName::parse(&report.name).ok()
            }
            (Some(copy), _) if !report.columns_dropped.is_empty() => Some(copy.source.clone()),
            _ => None,
        };
        let Some(table) = table else { continue };
        if !driver.has_rows(&table)? {
            continue;
        }
        if transfer.copy.is_some() {
            lost.push(format!(
                "  {}: columns {} are not in the package",
                report.name,
                report.columns_dropped.join(", ")
            ));
        } else {
            lost.push(format!(
                "  {} ({}): {}",
                report.name,
                report.case.as_str(),
                report.reason.as_deref().unwrap_or("rows not copied")
            ));
        }
    }
    if lost.is_empty() {
        return Ok(());
    }
    Err(Error::Blocked {
        reason: format!(
            "the side-by-side upgrade would leave rows behind in the original:\n{}\npass --allow-data-loss to go ahead",
            lost.join("\n")
        ),
    })
}

/// The create script of `desired`, split at the copy.
pub(super) struct Scripts {
    /// What the rows go into: tables without their indexes, foreign keys and triggers.
    pub(super) before_copy: Script,
    /// The pre-deployment script, run after the copy in the new database holding the copied
    /// rows (the original must stay untouched, so it cannot run there); may be empty.
    pub(super) predeploy: Script,
    /// Index builds, spread over the copiers' sessions.
    pub(super) indexes: Vec<IndexBuild>,
    /// The CHECK constraints left out of the tables the rows go into (see
    /// [`without_checks_before_predeploy`]), triggers, the refactor log, the post-deployment
    /// script, then foreign keys.
    pub(super) after: Script,
    /// Warnings for the objects left out because dac cannot create them.
    pub(super) left_out: Vec<String>,
}

/// `desired` without the CHECK constraints the original does not hold as they are (new or
/// changed), when the package has a pre-deployment script; `None` otherwise. An in-place upgrade
/// runs the pre-deployment script before it adds a constraint, so rows the script fixes are
/// accepted; the side-by-side upgrade copies the rows into tables created without those
/// constraints, runs the script over them and only then adds the constraints (as it adds
/// foreign keys after the copy), so both modes accept what either accepts. Where a CHECK cannot
/// be added to a table (SQLite), adding it is the platform's table rebuild, which re-checks
/// every row as the rows move into the rebuilt table.
pub(super) fn without_checks_before_predeploy(
    diff: &Diff,
    desired: &Model,
    package: &Package,
) -> Option<Model> {
    // Without a pre-deployment script nothing runs before the constraints could be added.
    package.predeploy.as_ref()?;
    let new_checks: Vec<&Element> = diff
        .differences()
        .filter(|c| c.kind == kind::CHECK)
        .filter_map(|c| c.desired.as_ref())
        .collect();
    if new_checks.is_empty() {
        return None;
    }
    let mut created = desired.clone();
    created
        .elements
        .retain(|e| !(e.kind == kind::CHECK && new_checks.contains(&e)));
    Some(created)
}

/// `desired` without its triggers: the script that adds checks after the pre-deployment script
/// runs before the triggers are created.
fn without_triggers(model: &Model) -> Model {
    let mut model = model.clone();
    model.elements.retain(|e| e.kind != kind::DML_TRIGGER);
    model
}

/// The create script of `desired` (tables as `created` has them, when given: without the
/// checks added after the pre-deployment script), split at the copy.
pub(super) fn create_scripts(
    desired: &Model,
    created: Option<&Model>,
    package: &Package,
    variables: &[(String, String)],
    leave_out_uncreatable: bool,
) -> Result<Scripts> {
    let dialect = dialect_for(desired.platform());
    let checks = match created {
        Some(created) => {
            let (from, to) = (without_triggers(created), without_triggers(desired));
            let diff = crate::compare::compare(
                &from,
                &to,
                &crate::compare::CompareOptions {
                    drop_objects_not_in_source: true,
                    ..crate::compare::CompareOptions::default()
                },
            );
            let plan = plan::plan(
                &diff,
                &from,
                &to,
                dialect.capabilities(),
                &PlanOptions {
                    block_on_possible_data_loss: false,
                    ..PlanOptions::default()
                },
            );
            crate::upgrade::in_place::refuse_unrunnable(&plan)?;
            script::render(&plan, dialect)
        }
        None => script::render(&plan::Plan::default(), dialect),
    };
    let desired = created.unwrap_or(desired);
    let plan = plan::create_all(
        desired,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            smart_defaults: false,
            predeploy: package.predeploy.clone(),
            postdeploy: package.postdeploy.clone(),
            refactor_log: package.refactor_log.clone(),
            rebuild_for_column_order: false,
        },
    );
    crate::upgrade::in_place::refuse_unrunnable(&plan)?;
    let script = script::render(&plan, dialect).with_variables(dialect, variables)?;
    let left_out = script.refuse_uncreatable(leave_out_uncreatable)?;
    let part = |keep: &dyn Fn(Option<StepKind>) -> bool| {
        let mut part = script.clone();
        part.batches.retain(|b| keep(b.step));
        part
    };
    let before_copy = part(&|step| {
        !matches!(
            step,
            Some(
                StepKind::PreDeploy
                    | StepKind::CreateIndex
                    | StepKind::CreateTrigger
                    | StepKind::AddForeignKey
                    | StepKind::RecordRefactorLog
                    | StepKind::PostDeploy
            )
        )
    });
    let predeploy = part(&|step| step == Some(StepKind::PreDeploy));
    // Batches are the plan's steps, in order.
    let indexed_tables = plan
        .steps
        .iter()
        .filter(|step| step.kind == StepKind::CreateIndex)
        .map(|step| {
            step.desired
                .as_ref()
                .and_then(|index| index.reference_name(kind::rel::INDEXED_OBJECT))
                .cloned()
        });
    let indexes = part(&|step| step == Some(StepKind::CreateIndex))
        .batches
        .into_iter()
        .zip(indexed_tables)
        .map(|(batch, table)| IndexBuild { table, batch })
        .collect();
    let mut after = part(&|step| {
        matches!(
            step,
            Some(
                StepKind::CreateTrigger
                    | StepKind::AddForeignKey
                    | StepKind::RecordRefactorLog
                    | StepKind::PostDeploy
            )
        )
    });
    // Foreign keys last: they check the copied rows and whatever the scripts added (reference
    // rows a post-deployment script seeds, say). SQLite declares them with the table, so its
    // check runs before the commit instead.
    // The checks left out of the tables come first, as an in-place upgrade adds them before
    // triggers and the post-deployment script; SQLite's rebuilds among them need foreign keys
    // off, and their check waits for the end, after the post-deployment script seeds
    // reference rows.
    after.batches.splice(0..0, checks.batches);
    after
        .batches
        .sort_by_key(|b| b.step == Some(StepKind::AddForeignKey));
    after.foreign_keys_off = dialect.capabilities().foreign_keys_inline_only;
    Ok(Scripts {
        before_copy,
        predeploy,
        indexes,
        after,
        left_out,
    })
}

/// The foreign keys of `desired` whose check can wait until after the switch, and `desired`
/// with them marked unchecked (`IsNotValid`). A foreign key qualifies where the platform can
/// check it later and nothing can have broken it: the original held it, checked, with the
/// same definition; both its tables are copied whole without type conversions; and no
/// pre-deployment script runs on the copied rows before it is added.
pub(super) fn foreign_keys_to_check_later(
    live: &Model,
    desired: &Model,
    diff: &Diff,
    transfers: &[PlannedTransfer],
    package: &Package,
) -> (Option<Model>, Vec<LaterCheck>) {
    let dialect = dialect_for(desired.platform());
    if !dialect.capabilities().validate_constraints_later || package.predeploy.is_some() {
        return (None, Vec::new());
    }
    let copied_whole = |table: Option<&ObjectName>| {
        table.is_some_and(|table| {
            transfers.iter().any(|t| {
                t.copy
                    .as_ref()
                    .is_some_and(|c| &c.destination == table && c.converted.is_empty())
            })
        })
    };
    let changed: std::collections::HashSet<&ObjectName> = diff
        .differences()
        .filter(|c| c.kind == kind::FOREIGN_KEY)
        .map(|c| &c.name)
        .collect();
    let mut marked = desired.clone();
    let mut checks = Vec::new();
    for key in marked
        .elements
        .iter_mut()
        .filter(|e| e.kind == kind::FOREIGN_KEY)
    {
        let Some(name) = key.name.clone() else {
            continue;
        };
        let held = live
            .find(kind::FOREIGN_KEY, &name)
            .is_some_and(|k| k.bool_prop(prop::IS_NOT_VALID) != Some(true));
        let table = key.reference_name(kind::rel::DEFINING_TABLE).cloned();
        if !held
            || changed.contains(&name)
            || key.bool_prop(prop::IS_NOT_VALID) == Some(true)
            || !copied_whole(table.as_ref())
            || !copied_whole(key.reference_name(kind::rel::FOREIGN_TABLE))
        {
            continue;
        }
        let Some(statement) = table.and_then(|t| dialect.validate_constraint(&t, name.leaf()))
        else {
            continue;
        };
        key.set_prop(prop::IS_NOT_VALID, Value::Bool(true));
        checks.push(LaterCheck {
            name: name.to_string(),
            statement,
        });
    }
    if checks.is_empty() {
        (None, checks)
    } else {
        (Some(marked), checks)
    }
}
