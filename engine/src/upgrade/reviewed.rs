//! Reviewed plans: an in-place upgrade made in two halves. [`make_plan`] plans against the live
//! database and records the steps, their SQL, the hazards and fingerprints of what the plan was
//! made from; a reviewer reads it; [`apply_plan`] runs exactly that SQL, after checking every
//! fingerprint again with the lock held, and refuses when anything it was made from changed.
//!
//! The fingerprints are the package's model hash, the registration's (name, version, model hash)
//! and the hash of the live schema as inspected (its model.xml rendering, as a registration's).
//! Rows are not fingerprinted: the data-loss check runs again when the plan is applied.

use super::in_place::{Prepared, apply, notes, prepare, refuse_data_loss};
use super::{InPlaceOptions, InPlaceOutcome, LOCK_WAIT};
use crate::driver::{Driver, with_lock};
use crate::package::Package;
use crate::registry::{self, Registration};
use crate::report::plan_file::{
    Fingerprint, PLAN_FORMAT, PlannedHazard, PlannedScript, PlannedStep, ReviewedPlan,
    short_hash as short,
};
use crate::{Error, Result};

/// Plans the in-place upgrade of the database behind `driver` to `package`, with the lock
/// held, and records it; changes nothing. A plan no order of steps can run is refused here.
pub fn make_plan(
    driver: &mut dyn Driver,
    package: &Package,
    options: &InPlaceOptions,
) -> Result<ReviewedPlan> {
    with_lock(driver, LOCK_WAIT, |driver| {
        let prepared = prepare(driver, package, options)?;
        super::refuse_unrunnable(&prepared.plan)?;
        super::in_place::refuse_hazards(&prepared.plan, &options.block_on)?;
        prepared
            .script
            .refuse_uncreatable(options.leave_out_uncreatable)?;
        Ok(record(package, &prepared, options))
    })
}

fn record(package: &Package, prepared: &Prepared, options: &InPlaceOptions) -> ReviewedPlan {
    let fingerprint = |r: &Registration| Fingerprint {
        name: r.name.clone(),
        version: r.version.clone(),
        model_hash: r.model_hash.clone(),
    };
    ReviewedPlan {
        format: PLAN_FORMAT,
        made_at: registry::now_utc(),
        made_by: registry::current_user(),
        platform: package.model.platform(),
        package: fingerprint(&prepared.new_registration),
        package_path: None,
        registration: prepared.registration.as_ref().map(fingerprint),
        live_schema: registry::model_hash(&prepared.live),
        allow_data_loss: options.allow_data_loss,
        allow_drift: options.allow_drift,
        up_to_date: prepared.up_to_date,
        action: prepared.action.as_str().to_string(),
        steps: prepared
            .plan
            .steps
            .iter()
            .map(|s| PlannedStep {
                kind: s.kind.as_str().to_string(),
                object_kind: s.object_kind.clone(),
                object: s.name.to_string(),
                reason: s.reason.clone(),
            })
            .collect(),
        hazards: prepared
            .plan
            .hazards
            .iter()
            .map(|h| PlannedHazard {
                kind: h.kind.as_str().to_string(),
                object: h.object.to_string(),
                table: h.table.as_ref().map(ToString::to_string),
                message: h.message.clone(),
            })
            .collect(),
        script: PlannedScript::of(&prepared.script),
        left_out: prepared
            .script
            .uncreatable
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

/// Runs a reviewed plan: with the lock held, checks that the package, the registration and the
/// live schema are the ones the plan was made from, checks the rows again for data loss, then
/// runs the plan's SQL (not a new plan's) in one transaction with the registration.
pub fn apply_plan(
    driver: &mut dyn Driver,
    package: &Package,
    reviewed: &ReviewedPlan,
) -> Result<InPlaceOutcome> {
    let script = reviewed.script()?;
    let hazards = reviewed.plan()?;
    let options = InPlaceOptions {
        allow_data_loss: reviewed.allow_data_loss,
        allow_drift: reviewed.allow_drift,
        ..InPlaceOptions::default()
    };
    let started = std::time::Instant::now();
    with_lock(driver, LOCK_WAIT, |driver| {
        // Drift is allowed here because it is a change since the plan was made (the plan
        // refused it unless allowed): the fingerprints below name it as one.
        let (registration, allowed_drift, inspected) =
            super::in_place::validate(driver, package, true)?;
        let live = match inspected {
            Some(live) => live,
            None => driver.inspect()?,
        };
        let new_registration = Registration::of(package)?;
        let changed = changes_since(reviewed, &new_registration, registration.as_ref(), &live);
        if !changed.is_empty() {
            return Err(Error::Blocked {
                reason: format!(
                    "the plan was made from something that has changed; make the plan again:\n  {}",
                    changed.join("\n  ")
                ),
            });
        }
        refuse_data_loss(driver, &hazards, &live, reviewed.allow_data_loss)?;
        let prepared = Prepared {
            registration,
            allowed_drift,
            live,
            action: registry::HistoryAction::parse(&reviewed.action).ok_or_else(|| {
                Error::Blocked {
                    reason: format!(
                        "the plan file cannot be used: unknown action {:?}",
                        reviewed.action
                    ),
                }
            })?,
            new_registration,
            up_to_date: reviewed.up_to_date,
            plan: hazards.clone(),
            script,
        };
        let mut message = notes(
            options.allow_data_loss,
            prepared.allowed_drift.as_ref(),
            prepared.up_to_date,
        );
        let reviewed_note = format!(
            "reviewed plan made {} by {}",
            reviewed.made_at, reviewed.made_by
        );
        message = if message.is_empty() {
            reviewed_note
        } else {
            format!("{reviewed_note}; {message}")
        };
        apply(
            driver,
            package,
            &prepared,
            &prepared.script,
            message,
            started,
            &super::NoProgress,
        )?;
        Ok(prepared.into_outcome())
    })
}

/// What differs between what the plan was made from and what is there now, one line each.
fn changes_since(
    reviewed: &ReviewedPlan,
    package: &Registration,
    registration: Option<&Registration>,
    live: &crate::model::Model,
) -> Vec<String> {
    let mut changed = Vec::new();
    if reviewed.platform != live.platform() {
        changed.push(format!(
            "platform: the plan is for {} but the target is {}",
            reviewed.platform.as_str(),
            live.platform().as_str()
        ));
    }
    let same = |f: &Fingerprint, r: &Registration| {
        f.name == r.name && f.version == r.version && f.model_hash == r.model_hash
    };
    if !same(&reviewed.package, package) {
        changed.push(format!(
            "package: the plan was made for {} {} (model {}), this is {} {} (model {})",
            reviewed.package.name,
            reviewed.package.version,
            short(&reviewed.package.model_hash),
            package.name,
            package.version,
            short(&package.model_hash)
        ));
    }
    match (&reviewed.registration, registration) {
        (None, None) => {}
        (Some(f), Some(r)) if same(f, r) => {}
        (was, now) => changed.push(format!(
            "registration: {} when the plan was made, {} now",
            describe(was.as_ref().map(|f| (&f.name, &f.version))),
            describe(now.map(|r| (&r.name, &r.version)))
        )),
    }
    let live_hash = registry::model_hash(live);
    if live_hash != reviewed.live_schema {
        changed.push(format!(
            "live schema: it was {} when the plan was made and is {} now (run `dac compare` or `dac drift-report` to see how)",
            short(&reviewed.live_schema),
            short(&live_hash)
        ));
    }
    changed
}

fn describe(registration: Option<(&String, &String)>) -> String {
    match registration {
        Some((name, version)) => format!("{name} {version}"),
        None => "not registered".to_string(),
    }
}
