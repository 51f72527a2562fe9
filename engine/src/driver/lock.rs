//! The upgrade lock as a guard: taken once, released once, and released on every early return.
//!
//! One lock per target database excludes every command that changes it (upgrades in either
//! mode, rollback, recover, register, unregister, a rollout's steps): the [`Driver`] and the
//! [`Server`] of one target take the same lock on every platform (SQLite: the OS lock of
//! `<db>.dac-lock`; PostgreSQL: a session advisory lock in the maintenance database keyed by the
//! target's name; SQL Server: an application lock in `master` named after the target), from
//! before validation to the end of the command.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::{Driver, Server};
use crate::Result;

/// A connection that can take dac's exclusive upgrade lock of its database: a [`Driver`] (one
/// database) or a [`Server`] (whole databases, for side-by-side upgrades).
pub trait UpgradeLock {
    /// Takes the lock, waiting up to `wait`; says whom it waited behind, if it waited.
    fn take_lock(&mut self, wait: Duration) -> Result<Option<Waited>>;
    /// Releases it.
    fn release_lock(&mut self) -> Result<()>;
}

impl UpgradeLock for dyn Driver + '_ {
    fn take_lock(&mut self, wait: Duration) -> Result<Option<Waited>> {
        self.lock(wait)
    }
    fn release_lock(&mut self) -> Result<()> {
        self.unlock()
    }
}

impl UpgradeLock for dyn Server + '_ {
    fn take_lock(&mut self, wait: Duration) -> Result<Option<Waited>> {
        self.lock(wait)
    }
    fn release_lock(&mut self) -> Result<()> {
        self.unlock()
    }
}

/// A lock taken after waiting for another run of dac to let it go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waited {
    /// How long it waited.
    pub waited: Duration,
    /// The run it waited behind, as the platform names it (process, host, session).
    pub behind: String,
}

impl std::fmt::Display for Waited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "waited {:.1} s for the upgrade lock held by {}",
            self.waited.as_secs_f64(),
            self.behind
        )
    }
}

/// The upgrade lock, held: derefs to the connection that holds it. [`Locked::release`] releases
/// it and reports a failure to do so; dropping it without that (an early return on an error)
/// releases it too, and the first error is the one reported.
pub struct Locked<'a, C: UpgradeLock + ?Sized> {
    holder: &'a mut C,
    held: bool,
    waited: Option<Waited>,
}

impl<'a, C: UpgradeLock + ?Sized> Locked<'a, C> {
    /// Takes the lock of `holder`, waiting up to `wait`.
    pub fn take(holder: &'a mut C, wait: Duration) -> Result<Self> {
        let waited = holder.take_lock(wait)?;
        Ok(Locked {
            holder,
            held: true,
            waited,
        })
    }

    /// Whom the lock was waited for before it was taken, if anyone.
    pub fn waited(&self) -> Option<&Waited> {
        self.waited.as_ref()
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
