//! Rollouts: one package over many databases, in upgrade domains, with health gates between
//! them, a journal that survives the process, and rollback.
//!
//! * [`spec`]: the rollout file (TOML): package, targets (listed, from a file or a command), mode
//!   per target, domains, concurrency, health checks.
//! * [`domains`]: targets cut into consecutive, evenly sized upgrade domains.
//! * [`journal`]: the journal beside the rollout file (a JSON snapshot written atomically at
//!   domain boundaries, and a log with one synced line per target step) and the lock file that
//!   admits one mutating command at a time.
//! * `run`: [`start`], [`next`], [`resume`], [`rollback`], [`status`]. Before an in-place target
//!   is upgraded, a snapshot is kept (the driver's [`crate::driver::Server::snapshot`]: a file
//!   copy for SQLite, a template copy for PostgreSQL), so a rollback returns it to exactly the
//!   state it had before its upgrade. Writes made to it after the snapshot are lost by a
//!   rollback, which the report says.
//! * With `journal = "postgres://..."` the journal lives in that database instead
//!   ([`crate::driver::RolloutStore`]), and several `dac rollout start`/`resume` processes
//!   (workers) drive the rollout together: they claim targets, heartbeat, take over a dead
//!   worker's targets, and one of them runs each domain's health gate.
//! * [`health`]: SQL probes, "no drift", a command.
//! * [`report`]: status and reports as text, JSON and Markdown.
//!
//! Upgrades go through [`crate::upgrade::in_place`] and [`crate::upgrade::side_by_side`] (whose
//! retained original is what a rollback of a side-by-side target switches back to, with
//! [`crate::upgrade::rollback`]); databases are reached only through drivers.
//!
//! Fault points for crash tests ([`crate::fault`], `DAC_FAULT=POINT[@N]`):
//! `rollout.after-backup` (copy made, journal not yet told), `rollout.after-upgrade` (upgrade
//! committed, journal not yet told), `rollout.after-target` (journal written),
//! `rollout.after-checks` (checks run, domain not yet marked), `rollout.after-restore` (a
//! rollback's restore done, journal not yet told), `rollout.log-line-torn` (half a journal log
//! line written and synced).

pub mod domains;
pub mod health;
pub mod journal;
pub mod report;
mod run;
pub mod spec;

pub use run::{
    LiveRegistration, Paths, RolloutOutcome, Say, SharedJournal, StartOptions, Status, WorkerClaim,
    next, resume, resume_as, rollback, start, status, status_live,
};
