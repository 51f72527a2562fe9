//! Two-way fork-join on scoped threads, for the passes over whole models that split in two
//! independent halves (reading a package and hashing it, indexing two models, comparing two
//! halves of one). Results are the same as running both closures one after the other; only the
//! wall time differs.

use std::sync::Mutex;

/// Models with fewer top-level elements than this are compared and planned on one thread: the
/// work is over before a second thread would have started.
pub(crate) const MIN_ELEMENTS: usize = 2_000;

/// Runs `a` on a new thread and `b` on this one, and returns both results. When no thread can
/// be started, `a` runs here after `b`. A panic in either closure is resumed here.
pub(crate) fn join<A, B, FA, FB>(a: FA, b: FB) -> (A, B)
where
    A: Send,
    FA: FnOnce() -> A + Send,
    FB: FnOnce() -> B,
{
    // The closure is handed over through a slot, so that it is still here to run if the
    // thread cannot be started.
    let slot = Mutex::new(Some(a));
    let take = || slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("dac-worker".into())
            .spawn_scoped(s, || take().map(|a| a()));
        let b = b();
        let a = match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        };
        match a {
            Some(a) => (a, b),
            // Not started, so still in the slot.
            None => match take() {
                Some(a) => (a(), b),
                None => unreachable!("the closure ran on the worker or is still in its slot"),
            },
        }
    })
}

/// Threads to split independent work over: the machine's, or 1 when it cannot say.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Splits `items` into at most `chunks` contiguous runs and maps each with `f` on its own
/// thread (the first on this one), returning the results in the items' order: the same as
/// `f` over the runs one after the other; only the wall time differs. A run whose thread cannot
/// be started runs here; a panic is resumed here.
pub(crate) fn map_chunks<T, R, F>(items: &[T], chunks: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&[T]) -> R + Sync,
{
    let size = items.len().div_ceil(chunks.max(1)).max(1);
    let mut runs = items.chunks(size);
    let Some(first) = runs.next() else {
        return Vec::new();
    };
    let f = &f;
    std::thread::scope(|s| {
        let spawned: Vec<_> = runs
            .map(|run| {
                let handle = std::thread::Builder::new()
                    .name("dac-worker".into())
                    .spawn_scoped(s, move || f(run));
                (run, handle)
            })
            .collect();
        let mut results = vec![f(first)];
        for (run, handle) in spawned {
            results.push(match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => f(run),
            });
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_both_results() {
        let data: Vec<u64> = (1..=1000).collect();
        let (left, right) = data.split_at(500);
        let (a, b) = join(|| left.iter().sum::<u64>(), || right.iter().sum::<u64>());
        assert_eq!(a + b, 500_500);
    }

    #[test]
    fn maps_chunks_in_order() {
        let data: Vec<u64> = (1..=10).collect();
        for chunks in [0, 1, 3, 4, 10, 20] {
            let runs = map_chunks(&data, chunks, |run| run.to_vec());
            assert_eq!(runs.concat(), data, "{chunks} chunks");
            assert!(runs.len() <= chunks.max(1), "{chunks} chunks");
        }
        assert!(map_chunks(&[] as &[u64], 4, |run| run.len()).is_empty());
    }

    #[test]
    fn resumes_a_panic() {
        let caught = std::panic::catch_unwind(|| join(|| panic!("worker"), || 1));
        assert!(caught.is_err());
    }
}
