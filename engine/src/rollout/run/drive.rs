//! Walking the domains: each domain's targets upgraded `concurrency` at a time, then its health
//! checks, then the next domain (or a pause, or a stop when it failed).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Run, millis};
use crate::package::Package;
use crate::registry;
use crate::rollout::health;
use crate::rollout::journal::{DomainState, Journal, RolloutState, TargetRecord, TargetState};
use crate::rollout::spec::{self, TargetSpec};
use crate::upgrade;
use crate::upgrade::InPlaceOptions;
use crate::{Error, Result};

impl Run<'_> {
    pub(super) fn update<T>(&self, f: impl FnOnce(&mut Journal) -> T) -> Result<T> {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let value = f(&mut journal);
        journal.save(&self.paths.journal)?;
        Ok(value)
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

    /// Runs `f` on each item, `concurrency` at a time; the first error stops the others from
    /// starting new items and is returned.
    pub(super) fn each(
        &self,
        items: &[usize],
        f: impl Fn(usize) -> Result<()> + Sync,
    ) -> Result<()> {
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        let workers = self.spec.concurrency.clamp(1, items.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                            break;
                        }
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&item) = items.get(k) else { break };
                        if let Err(e) = f(item) {
                            let mut slot = failure.lock().unwrap_or_else(|e| e.into_inner());
                            slot.get_or_insert(e);
                        }
                    }
                });
            }
        });
        match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
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
        self.each(&members, |i| self.upgrade_target(i))?;
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
        self.each(&members, |i| {
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
            self.update(|j| {
                let t = &mut j.targets[i];
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
            for &i in &members {
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
            if healthy {
                j.event(format!("domain {domain} healthy"));
            } else {
                j.event(format!(
                    "domain {domain} failed:\n  {}",
                    failures.join("\n  ")
                ));
            }
        })?;
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
