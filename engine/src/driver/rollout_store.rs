//! Where a rollout's journal lives when several `dac rollout` workers drive it together: a
//! database (`journal = "postgres://..."` in the rollout file). The trait speaks in the JSON
//! documents the rollout layer defines (a journal's head, one record per target), so drivers
//! never see the rollout's types and the rollout never sees SQL.
//!
//! Workers claim a domain's unsettled targets (the database's row locks decide who gets which),
//! keep their claims alive with heartbeats, and take over the claims of a worker whose heartbeat
//! is older than the rollout's timeout. One worker at a time holds a rollout's health gate.

use std::time::Duration;

use super::Target;
use crate::{Error, Result};

/// A rollout as a journal database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRollout {
    /// The rollout's id.
    pub id: String,
    /// The journal without its targets (JSON).
    pub head: String,
    /// Every target's record (JSON), in rollout order.
    pub targets: Vec<String>,
}

/// A target of a new rollout, as it is first stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTarget {
    /// Its record (JSON).
    pub record: String,
    /// Its upgrade domain.
    pub domain: usize,
    /// Its upgrade is over (nothing to claim).
    pub settled: bool,
}

/// `max_per_server` across workers: at most `per_server` live claims on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCap {
    /// Live claims allowed on one server.
    pub per_server: usize,
    /// Each target's server (`host:port`), by position; a position not here is a server of
    /// its own.
    pub server_of: std::collections::BTreeMap<usize, String>,
}

/// A target a worker claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Its position in the rollout.
    pub position: usize,
    /// Its record as stored when claimed (another worker may have left it midway).
    pub record: String,
    /// The worker whose claim had gone stale, when it was taken over.
    pub taken_from: Option<String>,
}

/// A claim on a target not yet settled.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveClaim {
    /// The target's position.
    pub position: usize,
    /// The worker.
    pub worker: String,
    /// Seconds since its last heartbeat.
    pub age_seconds: f64,
}

/// A rollout journal kept in a database.
pub trait RolloutStore: Send {
    /// The database, for messages (no password).
    fn describe(&self) -> String;

    /// Waits for the exclusive right to create or replace rollouts named `name` (held by this
    /// session until [`RolloutStore::unlock`]).
    fn lock(&mut self, name: &str) -> Result<()>;

    /// Gives up what [`RolloutStore::lock`] took.
    fn unlock(&mut self, name: &str) -> Result<()>;

    /// The current rollout named `name` (the one created last), if any.
    fn read(&mut self, name: &str) -> Result<Option<StoredRollout>>;

    /// Stores a new rollout of `name`, which becomes its current one; earlier ones are kept.
    fn create(&mut self, name: &str, id: &str, head: &str, targets: &[NewTarget]) -> Result<()>;

    /// The head of rollout `id`.
    fn read_head(&mut self, id: &str) -> Result<String>;

    /// Changes the head of rollout `id`: `change` gets the stored head and returns the new one,
    /// under a row lock, so concurrent workers never overwrite each other's changes.
    fn update_head(
        &mut self,
        id: &str,
        change: &mut dyn FnMut(&str) -> Result<String>,
    ) -> Result<()>;

    /// Writes one target's record. With `worker`, only while that worker holds the target's
    /// claim, or the target is settled: a worker whose claim was taken over is refused.
    fn write_target(
        &mut self,
        id: &str,
        position: usize,
        record: &str,
        settled: bool,
        worker: Option<&str>,
    ) -> Result<()>;

    /// The records of domain `domain`'s targets, by position.
    fn read_domain(&mut self, id: &str, domain: usize) -> Result<Vec<(usize, String)>>;

    /// Claims at most `limit` unsettled targets of domain `domain` for `worker`: unclaimed ones,
    /// and ones whose claim had no heartbeat for `stale`; rows another worker is claiming at the
    /// same moment are skipped, never waited for. With `cap`, no server ends up with more than
    /// its cap of live claims, counting every worker's (claims are then made one at a time).
    fn claim(
        &mut self,
        id: &str,
        domain: usize,
        worker: &str,
        limit: usize,
        stale: Duration,
        cap: Option<&ServerCap>,
    ) -> Result<Vec<Claim>>;

    /// How many targets of domain `domain` are not settled.
    fn unsettled(&mut self, id: &str, domain: usize) -> Result<usize>;

    /// Keeps `worker`'s claims on `positions` (and the gate, with `gate`) alive.
    fn heartbeat(&mut self, id: &str, worker: &str, positions: &[usize], gate: bool) -> Result<()>;

    /// Takes rollout `id`'s health gate for `worker`, when no one holds it or its holder's
    /// heartbeat is older than `stale`; the holder it took over from, if any.
    fn take_gate(
        &mut self,
        id: &str,
        worker: &str,
        stale: Duration,
    ) -> Result<Option<Option<String>>>;

    /// Gives the gate back.
    fn release_gate(&mut self, id: &str, worker: &str) -> Result<()>;

    /// Claims on unsettled targets with their heartbeat's age.
    fn live_claims(&mut self, id: &str) -> Result<Vec<LiveClaim>>;
}

/// Whether `target` can hold rollout journals: `None` when it can, else why not.
pub fn journal_refusal(target: &Target) -> Option<String> {
    match target {
        Target::Postgres { .. } => None,
        other => Some(format!(
            "journal = {other}: a journal database is a PostgreSQL database (postgres://...)"
        )),
    }
}

/// Opens the journal database `target` (tables are created on first use).
pub fn open_rollout_store(target: &Target) -> Result<Box<dyn RolloutStore>> {
    match target {
        Target::Postgres { url } => Ok(Box::new(super::postgres::PostgresRolloutStore::open(url)?)),
        other => Err(Error::Invalid(
            journal_refusal(other).unwrap_or_else(|| format!("journal = {other}: not supported")),
        )),
    }
}
