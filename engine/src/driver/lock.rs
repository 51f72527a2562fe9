//! The upgrade lock as a guard: taken once, released once, and released on every early return.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::{Driver, Server};
use crate::Result;

/// A connection that can take dac's exclusive upgrade lock of its database: a [`Driver`] (one
/// database) or a [`Server`] (whole databases, for side-by-side upgrades).
pub trait UpgradeLock {
    /// Takes the lock, waiting up to `wait`.
    fn take_lock(&mut self, wait: Duration) -> Result<()>;
    /// Releases it.
    fn release_lock(&mut self) -> Result<()>;
}

impl UpgradeLock for dyn Driver + '_ {
    fn take_lock(&mut self, wait: Duration) -> Result<()> {
        self.lock(wait)
    }
    fn release_lock(&mut self) -> Result<()> {
        self.unlock()
    }
}

impl UpgradeLock for dyn Server + '_ {
    fn take_lock(&mut self, wait: Duration) -> Result<()> {
        self.lock(wait)
    }
    fn release_lock(&mut self) -> Result<()> {
        self.unlock()
    }
}

/// The upgrade lock, held: derefs to the connection that holds it. [`Locked::release`] releases
/// it and reports a failure to do so; dropping it without that (an early return on an error)
/// releases it too, and the first error is the one reported.
pub struct Locked<'a, C: UpgradeLock + ?Sized> {
    holder: &'a mut C,
    held: bool,
}

impl<'a, C: UpgradeLock + ?Sized> Locked<'a, C> {
    /// Takes the lock of `holder`, waiting up to `wait`.
    pub fn take(holder: &'a mut C, wait: Duration) -> Result<Self> {
        holder.take_lock(wait)?;
        Ok(Locked { holder, held: true })
    }

    /// Releases the lock.
    pub fn release(mut self) -> Result<()> {
        self.held = false;
        self.holder.release_lock()
    }
}

impl<C: UpgradeLock + ?Sized> Deref for Locked<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.holder
    }
}

impl<C: UpgradeLock + ?Sized> DerefMut for Locked<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.holder
    }
}

impl<C: UpgradeLock + ?Sized> Drop for Locked<'_, C> {
    fn drop(&mut self) {
        if self.held {
            // An error is already on its way out; it is the one to report.
            let _ = self.holder.release_lock();
        }
    }
}

/// Runs `work` holding the upgrade lock of `holder`: the lock is released whatever `work`
/// returns; `work`'s error is the error, and a failure to release then is a note after it.
pub fn with_lock<C: UpgradeLock + ?Sized, T>(
    holder: &mut C,
    wait: Duration,
    work: impl FnOnce(&mut C) -> Result<T>,
) -> Result<T> {
    let mut locked = Locked::take(holder, wait)?;
    let result = work(&mut locked);
    let released = locked.release();
    crate::Error::after_cleanup(result, "releasing the upgrade lock", released)
}
