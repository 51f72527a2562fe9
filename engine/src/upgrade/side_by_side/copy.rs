//! The copy engine: tables copied over several sessions, largest first, and each table's
//! indexes built as soon as its rows are in.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::transfer_plan::PlannedTransfer;
use super::{Progress, millis};
use crate::driver::{Copier, Moved, Server, TableCopy};
use crate::fault;
use crate::model::ObjectName;
use crate::script::Batch;
use crate::{Error, Result};

/// The copiers from `from` into `to`: `parallelism` of them, at most what the platform allows
/// and no more than `jobs`.
pub(super) fn open_copiers(
    server: &mut dyn Server,
    from: &str,
    to: &str,
    parallelism: usize,
    jobs: usize,
) -> Result<Vec<Box<dyn Copier>>> {
    let workers = parallelism
        .clamp(1, server.max_parallel_copies().max(1))
        .min(jobs)
        .max(1);
    (0..workers).map(|_| server.copier(from, to)).collect()
}

/// Makes the copies durable and closes the copiers' sessions.
pub(super) fn finish_copiers(copiers: Vec<Box<dyn Copier>>) -> Result<()> {
    let mut finished = Ok(());
    for copier in copiers {
        let result = copier.finish();
        if finished.is_ok() {
            finished = result;
        }
    }
    finished
}

/// An index to build after the copy, and the table whose rows it waits for.
pub(super) struct IndexBuild {
    /// The indexed table (`None`: unknown, built once every copy is done).
    pub(super) table: Option<ObjectName>,
    /// The statements.
    pub(super) batch: Batch,
}

/// Work handed to the copiers: copies first (largest first), then index builds whose table's
/// rows are in.
struct Queue {
    copies: VecDeque<usize>,
    builds: VecDeque<usize>,
    /// Builds waiting for a copy: (table, build); no table: for every copy.
    waiting: Vec<(Option<ObjectName>, usize)>,
    copies_running: usize,
    failed: bool,
    copies_done: Option<Instant>,
}

enum Job {
    Copy(usize),
    Build(usize),
}

impl Queue {
    /// Every copy queued; a build waits for the copy into its table (for every copy where its
    /// table is unknown), or is queued at once where nothing is copied into it.
    fn new(copies: &[(usize, TableCopy)], indexes: &[IndexBuild]) -> Queue {
        let mut queue = Queue {
            copies: (0..copies.len()).collect(),
            builds: VecDeque::new(),
            waiting: Vec::new(),
            copies_running: 0,
            failed: false,
            copies_done: copies.is_empty().then(Instant::now),
        };
        for (build, index) in indexes.iter().enumerate() {
            match &index.table {
                Some(table) if copies.iter().any(|(_, c)| &c.destination == table) => {
                    queue.waiting.push((Some(table.clone()), build));
                }
                None if !copies.is_empty() => queue.waiting.push((None, build)),
                _ => queue.builds.push_back(build),
            }
        }
        queue
    }

    /// The next job: a copy, else a ready build, else (while copies run, which may make builds
    /// ready) a wait. `None` after a failure or once nothing is left.
    fn next_job(queue: &Mutex<Queue>, wake: &Condvar) -> Option<Job> {
        let mut q = lock(queue);
        loop {
            if q.failed {
                return None;
            }
            if let Some(copy) = q.copies.pop_front() {
                q.copies_running += 1;
                return Some(Job::Copy(copy));
            }
            if let Some(build) = q.builds.pop_front() {
                return Some(Job::Build(build));
            }
            if q.copies_running == 0 {
                return None;
            }
            q = wake.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Books the end of the copy into `destination`: the builds waiting for it become ready,
    /// and those waiting for every copy once it was the last.
    fn copy_finished(&mut self, destination: &ObjectName, failed: bool) {
        self.copies_running -= 1;
        if failed {
            self.failed = true;
        }
        let all_copied = self.copies.is_empty() && self.copies_running == 0;
        let waiting = std::mem::take(&mut self.waiting);
        let (ready, still): (Vec<_>, Vec<_>) =
            waiting.into_iter().partition(|(table, _)| match table {
                Some(table) => table == destination,
                None => all_copied,
            });
        self.waiting = still;
        self.builds
            .extend(ready.into_iter().map(|(_, build)| build));
        if all_copied {
            self.copies_done.get_or_insert_with(Instant::now);
        }
    }
}

/// A mutex's guard; a panicked holder leaves nothing half-written here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the copiers share while they work.
struct SharedWork<'a> {
    queue: Mutex<Queue>,
    /// Wakes copiers waiting for builds to become ready.
    wake: Condvar,
    /// Finished copies: (index in `copies`, result, milliseconds).
    copied: Mutex<Vec<(usize, Result<Moved>, u64)>>,
    build_errors: Mutex<Vec<Error>>,
    /// (transfer, copy), largest first.
    copies: &'a [(usize, TableCopy)],
    indexes: &'a [IndexBuild],
    progress: &'a dyn Progress,
}

impl SharedWork<'_> {
    /// One copier's loop: jobs until none is left.
    fn work(&self, copier: &mut dyn Copier) {
        while let Some(job) = Queue::next_job(&self.queue, &self.wake) {
            match job {
                Job::Copy(copy) => self.copy(copier, copy),
                Job::Build(build) => self.build(copier, build),
            }
        }
    }

    fn copy(&self, copier: &mut dyn Copier, job: usize) {
        let (_, copy) = &self.copies[job];
        fault::point("copy.table");
        let name = copy.destination.to_string();
        let started = Instant::now();
        let result = copier.copy_table(copy, &mut |moved| self.progress.moved(&name, moved));
        let ms = millis(started.elapsed());
        lock(&self.queue).copy_finished(&copy.destination, result.is_err());
        self.wake.notify_all();
        lock(&self.copied).push((job, result, ms));
    }

    fn build(&self, copier: &mut dyn Copier, build: usize) {
        let batch = &self.indexes[build].batch;
        let result = batch.statements.iter().try_for_each(|statement| {
            copier
                .execute(statement)
                .map_err(|err| err.in_context(&format!("step {}: ", batch.comment)))
        });
        if let Err(err) = result {
            lock(&self.queue).failed = true;
            self.wake.notify_all();
            lock(&self.build_errors).push(err);
        }
    }

    /// Puts the copies' rows, bytes and times in their transfers' reports; the first copy's
    /// error, else the first build's, else when the last copy finished.
    fn finish(self, transfers: &mut [PlannedTransfer]) -> Result<Instant> {
        let mut first_error = None;
        for (job, result, ms) in self
            .copied
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            let report = &mut transfers[self.copies[job].0].report;
            match result {
                Ok(moved) => {
                    report.rows = moved.rows;
                    report.bytes = moved.bytes;
                    report.ms = ms;
                    self.progress.table_done(report);
                }
                Err(err) => {
                    if first_error.is_none() {
                        first_error = Some(Error::CopyFailed {
                            table: report.name.clone(),
                            cause: Box::new(err),
                        });
                    }
                }
            }
        }
        if let Some(err) = first_error.or_else(|| {
            self.build_errors
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .into_iter()
                .next()
        }) {
            return Err(err);
        }
        Ok(self
            .queue
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .copies_done
            .unwrap_or_else(Instant::now))
    }
}

/// Copies the planned tables, largest (by `sizes`, per transfer) first, and builds `indexes`,
/// over the copiers: a table's indexes are built as soon as its rows are in, while other
/// tables still copy. Stops handing out work after the first failure. Returns when the last
/// copy finished.
pub(super) fn copy_and_build(
    copiers: &mut [Box<dyn Copier>],
    transfers: &mut [PlannedTransfer],
    sizes: &[u64],
    indexes: &[IndexBuild],
    progress: &dyn Progress,
) -> Result<Instant> {
    let mut copies: Vec<(usize, TableCopy)> = transfers
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.copy.clone().map(|c| (i, c)))
        .collect();
    copies.sort_by_key(|(i, _)| std::cmp::Reverse(sizes.get(*i).copied().unwrap_or(0)));
    if !copies.is_empty() {
        progress.copy_started(copies.len());
    }
    if !indexes.is_empty() {
        let sessions = copiers.len().min(indexes.len());
        for copier in copiers.iter_mut() {
            copier.build_alongside(sessions)?;
        }
    }
    let shared = SharedWork {
        queue: Mutex::new(Queue::new(&copies, indexes)),
        wake: Condvar::new(),
        copied: Mutex::new(Vec::new()),
        build_errors: Mutex::new(Vec::new()),
        copies: &copies,
        indexes,
        progress,
    };
    std::thread::scope(|scope| {
        for copier in copiers.iter_mut() {
            let shared = &shared;
            scope.spawn(move || shared.work(copier.as_mut()));
        }
    });
    shared.finish(transfers)
}
