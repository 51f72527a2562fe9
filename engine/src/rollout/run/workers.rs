//! Several `dac rollout` workers driving one rollout through a journal database: no
//! coordinator, only the database. Each worker claims unsettled targets of the current domain
//! (row locks, skipping rows another worker is claiming), upgrades them as a lone rollout would,
//! and heartbeats its claims from a thread of its own. A worker whose heartbeat is older than
//! `heartbeat_timeout_seconds` is dead: its claimed targets are claimed again by a live worker,
//! which settles an interrupted step by the target's registry as `resume` does, so nothing is
//! upgraded twice. Once every target of the domain is settled, one worker takes the health gate
//! (also heartbeated, also taken over when its holder dies), checks the domain and marks it; the
//! next domain starts only then.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{
    Packages, RolloutOutcome, Run, Say, StartOptions, Store, new_journal, preflight, rollout_name,
    run_with, same_package, store_of,
};
use crate::driver::rollout_store::ServerCap;
use crate::registry;
use crate::rollout::journal::{DomainState, Journal, RolloutState, Superseded, host_name};
use crate::rollout::spec::Spec;
use crate::{Error, Result};

/// This process as one worker of a shared rollout.
pub(super) struct Worker {
    /// Its name: `--worker NAME`, or host and pid.
    pub(super) id: String,
    /// The targets it is working on (what its heartbeat keeps claimed).
    active: Mutex<BTreeSet<usize>>,
    /// It holds the health gate.
    gate: AtomicBool,
    /// Why its heartbeat failed, if it did: it stops taking work.
    lost: Mutex<Option<String>>,
}

impl Worker {
    pub(super) fn new(name: Option<&str>) -> Worker {
        Worker {
            id: name.map_or_else(
                || format!("{}:{}", host_name(), std::process::id()),
                str::to_string,
            ),
            active: Mutex::new(BTreeSet::new()),
            gate: AtomicBool::new(false),
            lost: Mutex::new(None),
        }
    }

    fn check(&self) -> Result<()> {
        match self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            Some(reason) => Err(Error::Blocked {
                reason: format!("worker {}: its heartbeat failed: {reason}", self.id),
            }),
            None => Ok(()),
        }
    }

    /// Heartbeats this worker's claims (and the gate while it holds it) until `stop`, on a
    /// session of its own so a long statement of the worker never delays it.
    fn beat(&self, mut store: Store, id: &str, timeout: Duration, stop: &AtomicBool) {
        let every = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        let step = every.min(Duration::from_millis(50));
        let mut last = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(step);
            if last.elapsed() < every {
                continue;
            }
            last = Instant::now();
            let positions: Vec<usize> = self
                .active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied()
                .collect();
            let gate = self.gate.load(Ordering::SeqCst);
            if positions.is_empty() && !gate {
                continue;
            }
            let Some(db) = store.db() else { return };
            if let Err(e) = db.heartbeat(id, &self.id, &positions, gate) {
                *self.lost.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(crate::driver::redact(&e.to_string()));
                return;
            }
        }
    }
}

/// `--worker` names one of several workers of a journal database: with a file journal it is an
/// error, never ignored.
pub(super) fn no_worker_name(spec: &Spec, worker: Option<&str>) -> Result<()> {
    match worker {
        Some(name) => Err(Error::Invalid(format!(
            "{}: --worker {name}: workers share a rollout through a journal database (`journal = \"postgres://...\"` in the rollout file); this rollout's journal is the file beside it",
            spec.file.display()
        ))),
        None => Ok(()),
    }
}

/// A rollback of a shared rollout: the rollout's lock in the journal database (held by this
/// session until it ends), refused while a worker still works on a target.
pub(super) fn hold_for_rollback(store: &mut Store, spec: &Spec) -> Result<()> {
    let name = rollout_name(&spec.file);
    let shown = store.describe();
    let Some(db) = store.db() else {
        return Ok(());
    };
    db.lock(&name)?;
    let Some(stored) = db.read(&name)? else {
        return Ok(());
    };
    let limit = spec.heartbeat_timeout.as_secs_f64();
    let live: Vec<String> = db
        .live_claims(&stored.id)?
        .into_iter()
        .filter(|c| c.age_seconds < limit)
        .map(|c| format!("target {} (worker {})", c.position, c.worker))
        .collect();
    if live.is_empty() {
        return Ok(());
    }
    Err(Error::Blocked {
        reason: format!(
            "journal {shown}: workers are still upgrading {}; stop them, or wait until their heartbeats are {limit} s old, before rolling back",
            live.join(", ")
        ),
    })
}

/// `dac rollout start` with a journal database: creates the rollout (checking every target
/// first, keeping a finished or stuck one it replaces), or joins the one in progress as one more
/// worker; then works on it.
pub(super) fn start_shared(
    spec: &Spec,
    packages: &Packages,
    options: &StartOptions,
    say: Say<'_>,
) -> Result<RolloutOutcome> {
    let file = &spec.file;
    let worker = Worker::new(options.worker.as_deref());
    let mut store = store_of(file, spec.journal.as_ref())?;
    let name = rollout_name(file);
    let mut notes = Vec::new();
    let manual = options.manual || spec.manual;
    if let Some(db) = store.db() {
        db.lock(&name)?;
    }
    let found = create_or_join(spec, packages, &mut store, &worker, manual, say, &mut notes);
    let unlocked = store.db().map_or(Ok(()), |db| db.unlock(&name));
    let mut journal = found?;
    unlocked?;
    let joined = format!("dac rollout start (worker {})", worker.id);
    store.begin(&mut journal, |j| j.event(joined))?;
    let one = manual || journal.manual;
    let run = run_with(spec, packages, journal, store, Some(worker), say)?;
    run.drive_shared(one)?;
    Ok(RolloutOutcome {
        journal: run.journal.into_inner().unwrap_or_else(|e| e.into_inner()),
        notes,
    })
}

fn create_or_join(
    spec: &Spec,
    packages: &Packages,
    store: &mut Store,
    worker: &Worker,
    manual: bool,
    say: Say<'_>,
    notes: &mut Vec<String>,
) -> Result<Journal> {
    let old = store.load()?;
    if let Some(old) = old.as_ref().filter(|o| {
        !matches!(
            o.state,
            RolloutState::Stuck | RolloutState::Done | RolloutState::RolledBack
        )
    }) {
        same_package(old, packages, &spec.file)?;
        let note = format!(
            "joins rollout {} ({}) as worker {}",
            old.id,
            old.state.as_str(),
            worker.id
        );
        say(&note);
        notes.push(note);
        return Ok(old.clone());
    }
    let registrations = preflight(spec, packages)?;
    let supersedes = old.map(|old| {
        let note = format!(
            "supersedes rollout {} ({} {}, {}); its journal is kept in {}",
            old.id,
            old.package.name,
            old.package.version,
            old.state.as_str(),
            store.describe()
        );
        say(&note);
        notes.push(note);
        Superseded {
            id: old.id.clone(),
            state: old.state,
            version: old.package.version.clone(),
            journal: format!("{}, rollout {}", store.describe(), old.id),
        }
    });
    let mut journal = new_journal(spec, packages, manual, &registrations, supersedes);
    store.create(&mut journal)?;
    say(&format!(
        "rollout {}: {} {} over {} target(s) in {} domain(s), journal {}, worker {}",
        journal.id,
        packages.info.name,
        packages.info.version,
        journal.targets.len(),
        journal.domains.len(),
        store.describe(),
        worker.id
    ));
    Ok(journal)
}

/// What a worker does after a health gate.
enum AfterGate {
    /// Goes on (the next domain, or another worker already settled this one).
    Continue,
    /// Stops: the rollout is done, stuck or paused.
    Stop,
}

impl Run<'_> {
    /// Works on the rollout as one of its workers until it is done, stuck, paused (manual, after
    /// a domain) or rolling back; then reads the whole journal back.
    pub(super) fn drive_shared(&self, one: bool) -> Result<()> {
        let Some(worker) = self.worker.as_ref() else {
            return self.drive(one);
        };
        let beat_store = super::store_of(&self.spec.file, self.spec.journal.as_ref())?;
        let id = self.rollout_id();
        let stop = AtomicBool::new(false);
        let result = std::thread::scope(|scope| {
            scope.spawn(|| worker.beat(beat_store, &id, self.spec.heartbeat_timeout, &stop));
            let result = self.work(worker, one);
            stop.store(true, Ordering::SeqCst);
            result
        });
        result?;
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fresh) = store.load()? {
            *journal = fresh;
        }
        Ok(())
    }

    fn work(&self, worker: &Worker, one: bool) -> Result<()> {
        let timeout = self.spec.heartbeat_timeout;
        let poll = (timeout / 10).clamp(Duration::from_millis(50), Duration::from_millis(250));
        let mut announced = None;
        // Every worker's claims count against a server's cap, not only this worker's.
        let cap = match self.spec.max_per_server {
            None => None,
            Some(per_server) => {
                let targets = self
                    .journal
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .targets
                    .clone();
                let mut server_of = std::collections::BTreeMap::new();
                for (position, record) in targets.iter().enumerate() {
                    server_of.insert(position, self.target(record)?.target.server());
                }
                Some(ServerCap {
                    per_server,
                    server_of,
                })
            }
        };
        loop {
            worker.check()?;
            let (state, current, n_domains, id) = {
                let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
                let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
                store.refresh_head(&mut journal)?;
                let current = journal.current_domain().map(|d| {
                    (
                        d,
                        journal.domains[d].state,
                        journal.domains[d].targets.len(),
                    )
                });
                (
                    journal.state,
                    current,
                    journal.domains.len(),
                    journal.id.clone(),
                )
            };
            if state != RolloutState::Running {
                return Ok(());
            }
            let Some((domain, domain_state, size)) = current else {
                self.finish()?;
                return Ok(());
            };
            match domain_state {
                DomainState::Failed => {
                    self.update(|j| {
                        if j.state == RolloutState::Running {
                            j.state = RolloutState::Stuck;
                            j.event(format!("stuck: domain {domain} failed"));
                        }
                    })?;
                    return Ok(());
                }
                DomainState::Pending => self.update(|j| {
                    let d = &mut j.domains[domain];
                    if d.state == DomainState::Pending {
                        d.state = DomainState::Upgrading;
                        d.started_at.get_or_insert_with(registry::now_utc);
                    }
                })?,
                _ => {}
            }
            if announced != Some(domain) {
                self.say(&format!(
                    "domain {domain} of {n_domains}: {size} target(s), worker {} claiming",
                    worker.id
                ));
                announced = Some(domain);
            }
            let claims = {
                let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
                let db = store
                    .db()
                    .ok_or_else(|| Error::Invalid("shared rollout without a database".into()))?;
                db.claim(
                    &id,
                    domain,
                    &worker.id,
                    self.spec.concurrency_of(domain),
                    timeout,
                    cap.as_ref(),
                )?
            };
            if !claims.is_empty() {
                let positions: Vec<usize> = claims.iter().map(|c| c.position).collect();
                {
                    let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
                    let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
                    for c in &claims {
                        store.install(&mut journal, c.position, &c.record)?;
                    }
                }
                worker
                    .active
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(positions.iter().copied());
                for c in &claims {
                    let me = worker.id.clone();
                    let taken = c.taken_from.clone();
                    let note = taken.as_ref().map(|from| {
                        format!(
                            "worker {me} took it over from worker {from}, whose heartbeat stopped"
                        )
                    });
                    if let Some(note) = &note {
                        let name = self.record(c.position).target;
                        self.say(&format!("  {name}: {note}"));
                        self.update(|j| j.event(format!("{name}: {note}")))?;
                    }
                    self.update_target(c.position, |t| {
                        t.worker = Some(me);
                        t.notes.extend(note);
                    })?;
                }
                let result = self.each(domain, &positions, |i| self.upgrade_target(i));
                let mut active = worker.active.lock().unwrap_or_else(|e| e.into_inner());
                for p in &positions {
                    active.remove(p);
                }
                drop(active);
                result?;
                continue;
            }
            let unsettled = {
                let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
                match store.db() {
                    Some(db) => db.unsettled(&id, domain)?,
                    None => 0,
                }
            };
            if unsettled > 0 {
                // Other workers hold them: wait for them to settle, or for their claims to go
                // stale.
                std::thread::sleep(poll);
                continue;
            }
            let gate = {
                let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
                match store.db() {
                    Some(db) => db.take_gate(&id, &worker.id, timeout)?,
                    None => Some(None),
                }
            };
            let Some(taken_from) = gate else {
                std::thread::sleep(poll);
                continue;
            };
            worker.gate.store(true, Ordering::SeqCst);
            let after = self.gate(domain, taken_from, one, &worker.id);
            worker.gate.store(false, Ordering::SeqCst);
            {
                let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(db) = store.db() {
                    db.release_gate(&id, &worker.id)?;
                }
            }
            match after? {
                AfterGate::Continue => {}
                AfterGate::Stop => return Ok(()),
            }
        }
    }

    /// Every domain healthy: the rollout is done (said once, by whichever worker sees it first).
    fn finish(&self) -> Result<()> {
        let finished = self.update(|j| {
            let done = j.state == RolloutState::Running && j.current_domain().is_none();
            if done {
                j.state = RolloutState::Done;
                j.event("every domain upgraded and healthy");
            }
            done
        })?;
        if finished {
            self.say("rollout done: every domain upgraded and healthy");
        }
        Ok(())
    }

    /// Domain `domain`'s health gate, held by this worker: unless another holder already marked
    /// the domain, its checks, then the domain healthy or failed, and the rollout stuck, paused
    /// (`one`) or done accordingly.
    fn gate(
        &self,
        domain: usize,
        taken_from: Option<String>,
        one: bool,
        me: &str,
    ) -> Result<AfterGate> {
        let members = {
            let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            store.refresh_head(&mut journal)?;
            if !matches!(
                journal.domains[domain].state,
                DomainState::Upgrading | DomainState::Checking
            ) || journal.state != RolloutState::Running
            {
                return Ok(AfterGate::Continue);
            }
            store.refresh_domain(&mut journal, domain)?;
            journal.domains[domain].targets.clone()
        };
        if let Some(from) = taken_from {
            let note = format!(
                "domain {domain}: worker {me} took over the health gate from worker {from}, whose heartbeat stopped"
            );
            self.say(&note);
            self.update(|j| j.event(note))?;
        }
        let healthy = self.check_domain(domain, &members, Instant::now(), None)?;
        if !healthy {
            self.update(|j| {
                j.state = RolloutState::Stuck;
                j.event(format!("stuck: domain {domain} failed"));
            })?;
            return Ok(AfterGate::Stop);
        }
        let more = self
            .journal
            .lock()
            .map(|j| j.current_domain().is_some())
            .unwrap_or(false);
        if !more {
            self.finish()?;
            return Ok(AfterGate::Stop);
        }
        if one {
            self.update(|j| {
                j.state = RolloutState::Paused;
                j.event(format!(
                    "paused after domain {domain}: `dac rollout next` walks the next one"
                ));
            })?;
            return Ok(AfterGate::Stop);
        }
        Ok(AfterGate::Continue)
    }
}
