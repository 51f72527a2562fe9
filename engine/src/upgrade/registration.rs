//! Registering and unregistering a database, each with its history entry, under the upgrade
//! lock and in one transaction.

use std::time::Duration;

use crate::Result;
use crate::driver::{Driver, with_lock};
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};

/// What differs between the database behind `driver` and `package` (empty when it matches):
/// registering a package the database does not match would record a definition it does not
/// have, and the next upgrade would be planned from it.
pub fn registration_differences(
    driver: &mut dyn Driver,
    package: &crate::package::Package,
) -> Result<crate::compare::Diff> {
    let live = driver.inspect()?;
    let desired = driver.canonicalize(&package.model)?;
    let options = super::compare_options(desired.platform());
    Ok(crate::compare::compare(&desired, &live, &options))
}

/// Registers the database behind `driver` as `registration` (replacing any registration it
/// had) and records that in its history, under the upgrade lock (waiting up to `lock_wait`;
/// a caller that validated under the lock already holds it).
pub fn register(
    driver: &mut dyn Driver,
    registration: &Registration,
    lock_wait: Duration,
) -> Result<()> {
    with_lock(driver, lock_wait, |driver| {
        let before = driver.read_registration()?;
        let mut entry = HistoryEntry::now(
            HistoryAction::Register,
            HistoryStatus::Success,
            &registration.name,
        );
        entry.version_before = before.map(|r| r.version);
        entry.version_after = Some(registration.version.clone());
        driver.begin()?;
        driver.write_registration(registration)?;
        driver.append_history(&entry)?;
        driver.commit()
    })
}

/// Removes the registration of the database behind `driver`, keeping its history (with an
/// entry saying so), under the upgrade lock (waiting up to `lock_wait`); returns the
/// registration removed, `None` when it was not registered.
pub fn unregister(driver: &mut dyn Driver, lock_wait: Duration) -> Result<Option<Registration>> {
    with_lock(driver, lock_wait, |driver| {
        let Some(registration) = driver.read_registration()? else {
            return Ok(None);
        };
        let mut entry = HistoryEntry::now(
            HistoryAction::Unregister,
            HistoryStatus::Success,
            &registration.name,
        );
        entry.version_before = Some(registration.version.clone());
        driver.begin()?;
        driver.delete_registration()?;
        driver.append_history(&entry)?;
        driver.commit()?;
        Ok(Some(registration))
    })
}
