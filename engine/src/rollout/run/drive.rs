//! Walking the domains: each domain's targets upgraded `concurrency` at a time, then its health
//! checks, then the next domain (or a pause, or a stop when it failed).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{Run, millis};
use crate::package::Package;
use crate::registry;
use crate::rollout::health;
use crate::rollout::journal::{
    Change, DomainState, Journal, RolloutState, TargetRecord, TargetState,
};
use crate::rollout::spec::{self, TargetSpec};
use crate::upgrade;
use crate::upgrade::InPlaceOptions;
use crate::{Error, Result};

/// The targets of one `each`, queued by server, with how many of each server are being worked on.
struct Slots {
    /// Per server, its targets not yet started, as (order, position).
    queues: Vec<VecDeque<(usize, usize)>>,
    /// Per server, how many are being worked on.
    active: Vec<usize>,
    /// Targets not yet started.
    waiting: usize,
    /// The most of one server worked on at once.
    peak: usize,
    failure: Option<Error>,
}

impl Slots {
    fn new(items: &[usize], servers: &[String]) -> Slots {
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut queues: Vec<VecDeque<(usize, usize)>> = Vec::new();
        for (order, (&item, server)) in items.iter().zip(servers).enumerate() {
            let q = *index.entry(server.as_str()).or_insert_with(|| {
                queues.push(VecDeque::new());
                queues.len() - 1
            });
            queues[q].push_back((order, item));
        }
        Slots {
            active: vec![0; queues.len()],
            queues,
            waiting: items.len(),
            peak: 0,
            failure: None,
        }
    }

    /// The earliest target whose server is below `cap`, taken: (its server's queue, position).
    fn take(&mut self, cap: usize) -> Option<(usize, usize)> {
        let q = (0..self.queues.len())
            .filter(|&q| self.active[q] < cap)
            .filter_map(|q| self.queues[q].front().map(|&(order, _)| (order, q)))
            .min()?
            .1;
        let (_, item) = self.queues[q].pop_front()?;
        self.active[q] += 1;
        self.waiting -= 1;
        self.peak = self.peak.max(self.active[q]);
        Some((q, item))
    }
}

impl Run<'_> {
    /// Changes the rollout's state, domains' heads or events (never a target: see
    /// [`Run::update_target`]), and logs the change: a line the size of the domain list.
    pub(super) fn update<T>(&self, f: impl FnOnce(&mut Journal) -> T) -> Result<T> {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if store.db().is_some() {
            // Several workers change the head: read, change and write it under its row lock.
            return store.update_head(&mut journal, f);
        }
        drop(store);
        let first_event = journal.events.len();
        let value = f(&mut journal);
        let change = journal.head_change(first_event);
        self.append(&mut journal, change)?;
        Ok(value)
    }

    /// Changes one target's record and logs it: a line the size of one record, whatever the
    /// fleet's size.
    pub(super) fn update_target<T>(
        &self,
        position: usize,
        f: impl FnOnce(&mut TargetRecord) -> T,
    ) -> Result<T> {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let value = f(&mut journal.targets[position]);
        let change = Change::Target {
            position,
            record: Box::new(journal.targets[position].clone()),
        };
        self.append(&mut journal, change)?;
        Ok(value)
    }

    fn append(&self, journal: &mut Journal, change: Change) -> Result<()> {
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(journal, change)
    }

    /// Writes a fresh snapshot and empties the log: at domain boundaries, so the log never
    /// holds more than a domain's steps.
    pub(super) fn compact(&self) -> Result<()> {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        // The store's lock too, so no line is appended between the snapshot and the emptying.
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.save(&mut journal)
    }

    pub(super) fn record(&self, index: usize) -> TargetRecord {
        let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        journal.targets[index].clone()
    }

    /// The rollout's id, which names the copies it keeps.
    pub(super) fn rollout_id(&self) -> String {
        self.journal
            .lock()
            .map(|j| j.id.clone())
            .unwrap_or_default()
    }

    pub(super) fn target(&self, record: &TargetRecord) -> Result<&TargetSpec> {
        self.targets.get(&record.target).copied().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: target {} of the rollout journal is no longer in the rollout file",
                self.spec.file.display(),
                record.target
            ))
        })
    }

    pub(super) fn say(&self, line: &str) {
        (self.say)(line);
    }

    /// Runs `f` on each target of `items` (positions in the journal) in domain `domain`: the
    /// domain's concurrency at a time, and at most `max_per_server` at once on one server, in
    /// order as far as the caps allow. The first error stops the others from starting new items
    /// and is returned; else the most targets of one server worked on at once.
    pub(super) fn each(
        &self,
        domain: usize,
        items: &[usize],
        f: impl Fn(usize) -> Result<()> + Sync,
    ) -> Result<usize> {
        let mut servers = Vec::with_capacity(items.len());
        for &item in items {
            let record = self.record(item);
            servers.push(self.target(&record)?.target.server());
        }
        let slots = Mutex::new(Slots::new(items, &servers));
        let freed = Condvar::new();
        let cap = self.spec.max_per_server.unwrap_or(usize::MAX);
        let workers = self
            .spec
            .concurrency_of(domain)
            .clamp(1, items.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
                        let (queue, item) = loop {
                            if guard.failure.is_some() || guard.waiting == 0 {
                                return;
                            }
                            if let Some(next) = guard.take(cap) {
                                break next;
                            }
                            guard = freed.wait(guard).unwrap_or_else(|e| e.into_inner());
                        };
                        drop(guard);
                        let result = f(item);
                        let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
                        guard.active[queue] -= 1;
                        if let Err(e) = result {
                            guard.failure.get_or_insert(e);
                        }
                        freed.notify_all();
                    }
                });
            }
        });
        let slots = slots.into_inner().unwrap_or_else(|e| e.into_inner());
        match slots.failure {
            Some(e) => Err(e),
            None => Ok(slots.peak),
        }
    }

    pub(super) fn in_place_options(&self, package: &Package) -> InPlaceOptions {
        InPlaceOptions {
            allow_data_loss: self.spec.allow_data_loss,
            allow_drift: self.spec.allow_drift,
            smart_defaults: self.spec.smart_defaults,
            compare: upgrade::compare_options(package.model.platform()),
            variables: package.variable_values(&self.spec.variables),
            rebuild_for_column_order: false,
            block_on: Vec::new(),
            // A fleet rollout deploys whole packages, or stops.
            leave_out_uncreatable: false,
            lock_wait: Some(self.spec.timeouts.lock),
        }
    }

    /// Walks domains until the rollout is done or stuck, or (`one`) after one domain.
    pub(super) fn drive(&self, one: bool) -> Result<()> {
        loop {
            let current = self
                .journal
                .lock()
                .map(|j| j.current_domain())
                .ok()
                .flatten();
            let Some(domain) = current else {
                self.update(|j| {
                    j.state = RolloutState::Done;
                    j.event("every domain upgraded and healthy");
                })?;
                self.compact()?;
                self.say("rollout done: every domain upgraded and healthy");
                return Ok(());
            };
            self.update(|j| j.state = RolloutState::Running)?;
            let healthy = self.run_domain(domain)?;
            if !healthy {
                self.update(|j| {
                    j.state = RolloutState::Stuck;
                    j.event(format!("stuck: domain {domain} failed"));
                })?;
                self.compact()?;
                return Ok(());
            }
            let more = self
                .journal
                .lock()
                .map(|j| j.current_domain().is_some())
                .unwrap_or(false);
            if one || !more {
                self.update(|j| {
                    if more {
                        j.state = RolloutState::Paused;
                        j.event(format!(
                            "paused after domain {domain}: `dac rollout next` walks the next one"
                        ));
                    } else {
                        j.state = RolloutState::Done;
                        j.event("every domain upgraded and healthy");
                    }
                })?;
                self.compact()?;
                if !more {
                    self.say("rollout done: every domain upgraded and healthy");
                }
                return Ok(());
            }
        }
    }

    /// Upgrades and checks one domain; whether it is healthy.
    fn run_domain(&self, domain: usize) -> Result<bool> {
        let (members, n_domains) = {
            let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            (
                journal.domains[domain].targets.clone(),
                journal.domains.len(),
            )
        };
        let started = Instant::now();
        self.update(|j| {
            let d = &mut j.domains[domain];
            if d.started_at.is_none() {
                d.started_at = Some(registry::now_utc());
            }
            d.state = DomainState::Upgrading;
        })?;
        self.say(&format!(
            "domain {domain} of {n_domains}: upgrading {} target(s)",
            members.len()
        ));
        let peak = self.each(domain, &members, |i| self.upgrade_target(i))?;
        self.check_domain(domain, &members, started, Some(peak))
    }

    /// The health gate of domain `domain`, once every one of its targets is settled: its
    /// checks on every upgraded target, then the domain marked healthy or failed; whether it is
    /// healthy. `peak` is the most targets of one server this process upgraded at once.
    pub(super) fn check_domain(
        &self,
        domain: usize,
        members: &[usize],
        started: Instant,
        peak: Option<usize>,
    ) -> Result<bool> {
        self.update(|j| j.domains[domain].state = DomainState::Checking)?;
        let health = &self.spec.health;
        if health.wait_seconds > 0.0 {
            self.say(&format!(
                "domain {domain}: waiting {}s before the health checks",
                health.wait_seconds
            ));
            std::thread::sleep(Duration::from_secs_f64(health.wait_seconds));
        }
        let folder = spec::folder_of(&self.spec.file);
        let version = self.packages.info.version.clone();
        self.each(domain, members, |i| {
            let record = self.record(i);
            if !(record.state.is_upgraded() || record.state == TargetState::Current) {
                return Ok(());
            }
            let target = self.target(&record)?;
            let results = health::check(health, target, domain, &version, &folder);
            let ok = results.iter().all(|r| r.ok);
            for r in results.iter().filter(|r| !r.ok) {
                self.say(&format!(
                    "  {} UNHEALTHY: {}: {}",
                    record.target, r.check, r.detail
                ));
            }
            self.update_target(i, |t| {
                t.health = results;
                if t.state.is_upgraded() {
                    t.state = if ok {
                        TargetState::Healthy
                    } else {
                        TargetState::Unhealthy
                    };
                }
            })
        })?;
        crate::fault::point("rollout.after-checks");
        let (healthy, failures) = {
            let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            let mut failures = Vec::new();
            for &i in members {
                let t = &journal.targets[i];
                if t.state == TargetState::Failed {
                    failures.push(format!(
                        "{}: upgrade failed: {}",
                        t.target,
                        t.error.as_deref().unwrap_or("")
                    ));
                }
                for r in t.health.iter().filter(|r| !r.ok) {
                    failures.push(format!("{}: {} failed: {}", t.target, r.check, r.detail));
                }
            }
            (failures.is_empty(), failures)
        };
        let ms = millis(started.elapsed());
        self.update(|j| {
            let d = &mut j.domains[domain];
            d.state = if healthy {
                DomainState::Healthy
            } else {
                DomainState::Failed
            };
            d.finished_at = Some(registry::now_utc());
            d.duration_ms = Some(d.duration_ms.unwrap_or(0) + ms);
            if let Some(peak) = peak {
                d.peak_per_server = Some(d.peak_per_server.unwrap_or(0).max(peak));
            }
            if healthy {
                j.event(format!("domain {domain} healthy"));
            } else {
                j.event(format!(
                    "domain {domain} failed:\n  {}",
                    failures.join("\n  ")
                ));
            }
        })?;
        self.compact()?;
        if healthy {
            self.say(&format!("domain {domain}: healthy"));
        } else {
            self.say(&format!(
                "domain {domain}: FAILED ({} problem(s))",
                failures.len()
            ));
        }
        Ok(healthy)
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn slots_take_targets_in_order_as_far_as_the_server_cap_allows() {
        let servers: Vec<String> = ["a:5432", "a:5432", "b:5432", "a:5432"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        let mut slots = Slots::new(&[10, 11, 12, 13], &servers);
        assert_eq!(slots.take(1), Some((0, 10)));
        // Server a is at its cap: the next target of b goes first.
        assert_eq!(slots.take(1), Some((1, 12)));
        assert_eq!(slots.take(1), None);
        slots.active[0] -= 1;
        assert_eq!(slots.take(1), Some((0, 11)));
        slots.active[0] -= 1;
        assert_eq!(slots.take(2), Some((0, 13)));
        assert_eq!(slots.waiting, 0);
        assert_eq!(slots.peak, 1);
    }
}
