//! The in-place upgrade: validate, plan against the live schema, refuse what the user has not
//! allowed, then pre-deploy script, steps, post-deploy script and registration in one
//! transaction. The deployment scripts run even when the schema is up to date.

use std::time::Instant;

use super::{LOCK_WAIT, NoProgress, Progress, execute_locked};
use crate::compare::{self, CompareOptions, Diff};
use crate::dialect::dialect_for;
use crate::driver::{Driver, Locked, Waited};
use crate::model::{Model, Platform};
use crate::package::Package;
use crate::plan::{self, HazardKind, Plan, PlanOptions};
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};
use crate::script::{self, Script};
use crate::{Error, Result};

/// What the user allows.
#[derive(Debug, Clone, Default)]
pub struct InPlaceOptions {
    /// Go ahead even when steps could lose data in tables that hold rows.
    pub allow_data_loss: bool,
    /// Go ahead even when the database drifted from its registered definition.
    pub allow_drift: bool,
    /// Give new NOT NULL columns a default for existing rows.
    pub smart_defaults: bool,
    /// Comparison options (renames from the package's refactor log are added).
    pub compare: CompareOptions,
    /// SQLCMD variable values for the pre- and post-deployment scripts.
    pub variables: Vec<(String, String)>,
    /// Rebuild tables whose columns are in another order than the package's, where the
    /// platform would keep their order (and report it).
    pub rebuild_for_column_order: bool,
    /// Hazards that refuse the upgrade when the plan has them (`--block-on`,
    /// `--block-on-rebuild`).
    pub block_on: Vec<HazardKind>,
    /// Deploy without the objects dac cannot create (the outcome's script lists them) instead
    /// of refusing.
    pub leave_out_uncreatable: bool,
    /// How long to wait for another run's upgrade lock (`None`: [`LOCK_WAIT`]).
    pub lock_wait: Option<std::time::Duration>,
}

/// What an in-place upgrade did.
#[derive(Debug, Clone)]
pub struct InPlaceOutcome {
    /// Deploy (first time) or upgrade.
    pub action: HistoryAction,
    /// Schema and registration already matched the package: nothing changed but what the
    /// package's pre- and post-deployment scripts do, which run on every upgrade (as
    /// SqlPackage runs them on every publish).
    pub up_to_date: bool,
    /// Registered version before, if any.
    pub version_before: Option<String>,
    /// Version after.
    pub version_after: String,
    /// The executed plan.
    pub plan: Plan,
    /// The executed script.
    pub script: Script,
    /// Drift that the user allowed the upgrade to override.
    pub drift: Option<Diff>,
    /// Whom the upgrade waited behind for the upgrade lock, if it waited: a second run that then
    /// finds the database up to date says why.
    pub waited: Option<Waited>,
}

/// The drift of a registered database: compare(registered definition, live schema).
/// `None` when the database is not registered.
pub fn drift(driver: &mut dyn Driver) -> Result<Option<(Registration, Diff)>> {
    let Some(registration) = driver.read_registration()? else {
        return Ok(None);
    };
    let (diff, _) = drift_of(driver, &registration)?;
    Ok(Some((registration, diff)))
}

/// The drift of the database behind `driver`, registered as `registration`, with the live
/// schema it inspected (an upgrade plans against it rather than inspect again).
fn drift_of(driver: &mut dyn Driver, registration: &Registration) -> Result<(Diff, Model)> {
    let registered = registration.package()?;
    let registered_model = driver.canonicalize(&registered.model)?;
    let live = driver.inspect()?;
    let options = compare_options(registered_model.platform());
    let diff = compare::compare(&registered_model, &live, &options);
    Ok((diff, live))
}

/// How an upgrade compares a live schema with a package, and a drift report a live schema with
/// its registered definition: column order only where `platform` keeps it, objects not in the
/// package dropped.
pub fn compare_options(platform: Platform) -> CompareOptions {
    let caps = dialect_for(platform).capabilities();
    CompareOptions {
        ignore_column_order: !caps.column_order_significant,
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    }
}

/// Upgrades (or first deploys) the database behind `driver` to `package`, in place.
pub fn in_place(
    driver: &mut dyn Driver,
    package: &Package,
    options: &InPlaceOptions,
) -> Result<InPlaceOutcome> {
    in_place_with_progress(driver, package, options, &NoProgress)
}

/// [`in_place`], telling `progress` each step as it runs.
pub fn in_place_with_progress(
    driver: &mut dyn Driver,
    package: &Package,
    options: &InPlaceOptions,
    progress: &dyn Progress,
) -> Result<InPlaceOutcome> {
    let started = Instant::now();
    let mut locked = Locked::take(driver, options.lock_wait.unwrap_or(LOCK_WAIT))?;
    let waited = locked.waited().cloned();
    progress.step("validating and planning");
    let result = in_place_locked(&mut *locked, package, options, started, progress);
    let released = locked.release();
    let mut outcome = crate::Error::after_cleanup(result, "releasing the upgrade lock", released)?;
    outcome.waited = waited;
    Ok(outcome)
}

fn in_place_locked(
    driver: &mut dyn Driver,
    package: &Package,
    options: &InPlaceOptions,
    started: Instant,
    progress: &dyn Progress,
) -> Result<InPlaceOutcome> {
    let prepared = prepare(driver, package, options)?;
    if prepared.up_to_date && prepared.script.batches.is_empty() {
        return Ok(prepared.into_outcome());
    }
    refuse_unrunnable(&prepared.plan)?;
    refuse_hazards(&prepared.plan, &options.block_on)?;
    prepared
        .script
        .refuse_uncreatable(options.leave_out_uncreatable)?;
    refuse_data_loss(
        driver,
        &prepared.plan,
        &prepared.live,
        options.allow_data_loss,
    )?;
    let message = notes(
        options.allow_data_loss,
        prepared.allowed_drift.as_ref(),
        prepared.up_to_date,
    );
    apply(
        driver,
        package,
        &prepared,
        &prepared.script,
        message,
        started,
        progress,
    )?;
    Ok(prepared.into_outcome())
}

/// Everything an in-place upgrade decides before it changes anything: what it validated,
/// the live schema it planned against, the plan and its script.
pub(super) struct Prepared {
    /// The registration found (none for an unregistered database).
    pub registration: Option<Registration>,
    /// Drift the user allowed the upgrade to override.
    pub allowed_drift: Option<Diff>,
    /// The live schema as inspected.
    pub live: Model,
    /// Deploy (first time) or upgrade.
    pub action: HistoryAction,
    /// The registration the upgrade writes.
    pub new_registration: Registration,
    /// Schema and registration already match the package.
    pub up_to_date: bool,
    pub plan: Plan,
    pub script: Script,
}

impl Prepared {
    pub(super) fn into_outcome(self) -> InPlaceOutcome {
        InPlaceOutcome {
            action: self.action,
            up_to_date: self.up_to_date,
            version_before: self.registration.map(|r| r.version),
            version_after: self.new_registration.version,
            plan: self.plan,
            script: self.script,
            drift: self.allowed_drift,
            waited: None,
        }
    }
}

/// Validates, inspects, compares and plans, with the lock held; changes nothing.
pub(super) fn prepare(
    driver: &mut dyn Driver,
    package: &Package,
    options: &InPlaceOptions,
) -> Result<Prepared> {
    let (registration, allowed_drift, inspected) = validate(driver, package, options.allow_drift)?;
    let mut compare_options = options.compare.clone();
    if options.rebuild_for_column_order {
        compare_options.ignore_column_order = false;
    }
    let (live, desired, diff) = super::live_diff(driver, inspected, package, &compare_options)?;
    let dialect = dialect_for(desired.platform());
    let plan_options = PlanOptions {
        // Rows are checked below, before anything runs; the script's guards stay on unless
        // the user allowed data loss, as a second line of defence.
        block_on_possible_data_loss: !options.allow_data_loss,
        smart_defaults: options.smart_defaults,
        rebuild_for_column_order: options.rebuild_for_column_order,
        ..PlanOptions::for_package(package)
    };
    plan::check_filters(&diff, &live, &desired, &plan_options)?;
    let plan = plan::plan(
        &diff,
        &live,
        &desired,
        dialect.capabilities(),
        &plan_options,
    );
    let action = if registration.is_none() && live.elements.is_empty() {
        HistoryAction::Deploy
    } else {
        HistoryAction::Upgrade
    };
    let new_registration = Registration::of(package)?;
    let up_to_date = plan.is_empty()
        && registration.as_ref().is_some_and(|r| {
            r.name == new_registration.name
                && r.version == new_registration.version
                && r.model_hash == new_registration.model_hash
        });
    let script = script::render(&plan, dialect).with_variables(dialect, &options.variables)?;
    Ok(Prepared {
        registration,
        allowed_drift,
        live,
        action,
        new_registration,
        up_to_date,
        plan,
        script,
    })
}

/// Runs `script` (the prepared one, or a reviewed copy of it) in one transaction with the
/// registration and a history row (with the time taken since `started`), or records the failure
/// on its own.
pub(super) fn apply(
    driver: &mut dyn Driver,
    package: &Package,
    prepared: &Prepared,
    script: &Script,
    message: String,
    started: Instant,
    progress: &dyn Progress,
) -> Result<()> {
    let name = package.metadata.clone().unwrap_or_default().name;
    let version_before = prepared.registration.as_ref().map(|r| r.version.clone());
    let mut entry = HistoryEntry::now(prepared.action, HistoryStatus::Success, &name);
    entry.version_before = version_before.clone();
    entry.version_after = Some(prepared.new_registration.version.clone());
    entry.message = message;
    let result = execute_locked(
        driver,
        script,
        &mut |driver| {
            entry.took_since(started);
            driver.write_registration(&prepared.new_registration)?;
            driver.append_history(&entry)
        },
        progress,
    );
    if let Err(err) = result {
        // The transaction rolled back. A failed first deployment leaves the database as it
        // was, without a registry of dac's (a database dac created is dropped by the caller);
        // otherwise the failure is recorded on its own.
        let first = prepared.action == HistoryAction::Deploy
            && prepared.registration.is_none()
            && driver.history().map_or(true, |h| h.is_empty());
        if first {
            return Err(err);
        }
        let mut failed = HistoryEntry::now(prepared.action, HistoryStatus::Fail, &name);
        failed.version_before = version_before;
        failed.message = err.to_string();
        failed.took_since(started);
        let _ = driver.append_history(&failed);
        return Err(err);
    }
    Ok(())
}

/// Checks what must hold before anything is touched: the package's platform is the target's,
/// the database is registered to the same application (or not at all), and it has not drifted
/// from its registered definition unless the user allowed it. Returns the registration, the
/// drift that was allowed and, for a registered database, the live schema the drift check
/// inspected (the upgrade plans against it rather than inspect again).
pub(super) fn validate(
    driver: &mut dyn Driver,
    package: &Package,
    allow_drift: bool,
) -> Result<(Option<Registration>, Option<Diff>, Option<Model>)> {
    let metadata = package.metadata.clone().unwrap_or_default();
    if driver.platform() != package.model.platform() {
        return Err(Error::Blocked {
            reason: format!(
                "the package is for {} but the target is a {} database",
                package.model.platform().as_str(),
                driver.platform().as_str()
            ),
        });
    }
    let registration = driver.read_registration()?;
    let mut allowed_drift = None;
    let mut inspected = None;
    if let Some(registered) = &registration {
        if !registered.name.eq_ignore_ascii_case(&metadata.name) {
            return Err(Error::Blocked {
                reason: format!(
                    "the database is registered to application {:?} but the package is {:?}",
                    registered.name, metadata.name
                ),
            });
        }
        let (diff, live) = drift_of(driver, registered)?;
        inspected = Some(live);
        if !diff.is_empty() {
            if !allow_drift {
                return Err(Error::Blocked {
                    reason: format!(
                        "the database has drifted from its registered definition ({} {}):\n{}\nrun `dac drift-report` for details, or pass --allow-drift",
                        registered.name,
                        registered.version,
                        crate::report::describe_drift(&diff)
                    ),
                });
            }
            allowed_drift = Some(diff);
        }
    }
    Ok((registration, allowed_drift, inspected))
}

/// Refuses a plan that cannot run: a cycle of dependencies (no order of its steps works), an
/// object whose package leaves its references empty ([`Plan::blockers`]).
pub fn refuse_unrunnable(plan: &Plan) -> Result<()> {
    let blockers: Vec<&str> = plan.blockers().map(|h| h.message.as_str()).collect();
    if blockers.is_empty() {
        return Ok(());
    }
    Err(Error::Blocked {
        reason: format!("the plan cannot run: {}", blockers.join("; ")),
    })
}

/// Refuses a plan with hazards of the kinds the user blocks, naming each.
pub fn refuse_hazards(plan: &Plan, blocked: &[HazardKind]) -> Result<()> {
    let found: Vec<String> = plan
        .hazards
        .iter()
        .filter(|h| blocked.contains(&h.kind))
        .map(|h| format!("  {}: {}", h.kind.as_str(), h.message))
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::Blocked {
        reason: format!(
            "the plan has hazards the policy blocks (--block-on):\n{}",
            found.join("\n")
        ),
    })
}

/// Refuses a plan whose data-loss hazards touch tables that hold rows (checked now, as DacFx
/// does, so an empty table never blocks). With data loss allowed, a new NOT NULL column
/// without a value for the existing rows is still refused: it cannot succeed.
pub(super) fn refuse_data_loss(
    driver: &mut dyn Driver,
    plan: &Plan,
    live: &Model,
    allow_data_loss: bool,
) -> Result<()> {
    let mut blocked = Vec::new();
    let (mut losing, mut not_null) = (false, false);
    for hazard in plan
        .data_loss()
        .filter(|h| !allow_data_loss || h.kind == HazardKind::NotNullWithoutDefault)
    {
        let Some(table) = &hazard.table else { continue };
        if live.find(crate::model::kind::TABLE, table).is_some() && driver.has_rows(table)? {
            blocked.push(format!("  {} ({})", hazard.message, hazard.object));
            match hazard.kind {
                HazardKind::NotNullWithoutDefault => not_null = true,
                _ => losing = true,
            }
        }
    }
    if blocked.is_empty() {
        return Ok(());
    }
    blocked.dedup();
    // Allowing data loss does not fill a new NOT NULL column: the rows would still be refused.
    let mut hints = Vec::new();
    if not_null {
        hints.push(
            "pass --smart-defaults to give the existing rows a value for the new NOT NULL columns (or give them a default in the package)",
        );
    }
    if losing {
        hints.push("pass --allow-data-loss to go ahead with the steps that lose data");
    }
    Err(Error::Blocked {
        reason: format!(
            "the upgrade could lose data in tables that hold rows:\n{}\n{}",
            blocked.join("\n"),
            hints.join("; ")
        ),
    })
}

pub(super) fn notes(allow_data_loss: bool, drift: Option<&Diff>, scripts_only: bool) -> String {
    let mut notes = Vec::new();
    if scripts_only {
        notes.push("schema up to date; the deployment scripts ran".to_string());
    }
    if allow_data_loss {
        notes.push(format!(
            "data loss allowed by {}",
            crate::registry::current_user()
        ));
    }
    if let Some(diff) = drift {
        notes.push(format!(
            "drift overridden ({} differences)",
            diff.differences().count()
        ));
    }
    notes.join("; ")
}
