//! The copy engine: tables copied over several sessions, largest first, and each table's
//! indexes built as soon as its rows are in.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::transfer_plan::PlannedTransfer;
use super::{Progress, millis};
use crate::driver::{Copier, Server, TableCopy};
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
    copies: std::collections::VecDeque<usize>,
    builds: std::collections::VecDeque<usize>,
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

/// A mutex's guard; a panicked holder leaves nothing half-written here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
    let mut queue = Queue {
        copies: (0..copies.len()).collect(),
        builds: std::collections::VecDeque::new(),
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
    let queue = Mutex::new(queue);
    let wake = std::sync::Condvar::new();
    let copied = Mutex::new(Vec::new());
    let build_errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for copier in copiers.iter_mut() {
            let (queue, wake, copied, build_errors, copies) =
                (&queue, &wake, &copied, &build_errors, &copies);
            scope.spawn(move || {
                loop {
                    let job = {
                        let mut q = lock(queue);
                        loop {
                            if q.failed {
                                break None;
                            }
                            if let Some(copy) = q.copies.pop_front() {
                                q.copies_running += 1;
                                break Some(Job::Copy(copy));
                            }
                            if let Some(build) = q.builds.pop_front() {
                                break Some(Job::Build(build));
                            }
                            if q.copies_running == 0 {
                                break None;
                            }
                            q = wake.wait(q).unwrap_or_else(PoisonError::into_inner);
                        }
                    };
                    let Some(job) = job else { break };
                    match job {
                        Job::Copy(job) => {
                            let (_, copy) = &copies[job];
                            fault::point("copy.table");
                            let name = copy.destination.to_string();
                            let started = Instant::now();
                            let result =
                                copier.copy_table(copy, &mut |moved| progress.moved(&name, moved));
                            let ms = millis(started.elapsed());
                            let mut q = lock(queue);
                            q.copies_running -= 1;
                            if result.is_err() {
                                q.failed = true;
                            }
                            let waiting = std::mem::take(&mut q.waiting);
                            let (ready, still): (Vec<_>, Vec<_>) =
                                waiting.into_iter().partition(|(table, _)| match table {
                                    Some(table) => table == &copy.destination,
                                    None => q.copies.is_empty() && q.copies_running == 0,
                                });
                            q.waiting = still;
                            q.builds.extend(ready.into_iter().map(|(_, build)| build));
                            if q.copies.is_empty() && q.copies_running == 0 {
                                q.copies_done.get_or_insert_with(Instant::now);
                            }
                            drop(q);
                            wake.notify_all();
                            lock(copied).push((job, result, ms));
                        }
                        Job::Build(build) => {
                            let batch = &indexes[build].batch;
                            let result = batch.statements.iter().try_for_each(|statement| {
                                copier.execute(statement).map_err(|err| {
                                    err.in_context(&format!("step {}: ", batch.comment))
                                })
                            });
                            if let Err(err) = result {
                                lock(queue).failed = true;
                                wake.notify_all();
                                lock(build_errors).push(err);
                            }
                        }
                    }
                }
            });
        }
    });
    let mut first_error = None;
    for (job, result, ms) in copied.into_inner().unwrap_or_else(PoisonError::into_inner) {
        let report = &mut transfers[copies[job].0].report;
        match result {
            Ok(moved) => {
                report.rows = moved.rows;
                report.bytes = moved.bytes;
                report.ms = ms;
                progress.table_done(report);
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
        build_errors
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .next()
    }) {
        return Err(err);
    }
    Ok(queue
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .copies_done
        .unwrap_or_else(Instant::now))
}
