//! Registering and unregistering a database, each with its history entry, under the upgrade
//! lock and in one transaction.

use super::LOCK_WAIT;
use crate::Result;
use crate::driver::{Driver, with_lock};
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};

/// Registers the database behind `driver` as `registration` (replacing any registration it
/// had) and records that in its history.
pub fn register(driver: &mut dyn Driver, registration: &Registration) -> Result<()> {
    let before = driver.read_registration()?;
    let mut entry = HistoryEntry::now(
        HistoryAction::Register,
        HistoryStatus::Success,
        &registration.name,
    );
    entry.version_before = before.map(|r| r.version);
    entry.version_after = Some(registration.version.clone());
    with_lock(driver, LOCK_WAIT, |driver| {
        driver.begin()?;
        driver.write_registration(registration)?;
        driver.append_history(&entry)?;
        driver.commit()
    })
}

/// Removes the registration of the database behind `driver`, keeping its history (with an
/// entry saying so); returns the registration removed, `None` when it was not registered.
pub fn unregister(driver: &mut dyn Driver) -> Result<Option<Registration>> {
    let Some(registration) = driver.read_registration()? else {
        return Ok(None);
    };
    let mut entry = HistoryEntry::now(
        HistoryAction::Unregister,
        HistoryStatus::Success,
        &registration.name,
    );
    entry.version_before = Some(registration.version.clone());
    with_lock(driver, LOCK_WAIT, |driver| {
        driver.begin()?;
        driver.delete_registration()?;
        driver.append_history(&entry)?;
        driver.commit()
    })?;
    Ok(Some(registration))
}
