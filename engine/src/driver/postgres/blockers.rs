//! Who blocks an upgrade: while a transaction with a lock timeout is open, a second session
//! asks the server every 100 ms which sessions the upgrade's session waits for
//! (`pg_blocking_pids`). When a statement then fails on the lock timeout, the error names them:
//! once it has failed, the server no longer knows what it waited for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::connect::Settings;

/// How often the watcher asks.
const POLL: Duration = Duration::from_millis(100);

/// A running watcher of one session.
pub(super) struct BlockerWatch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl BlockerWatch {
    /// Starts watching the session with backend `pid` from a session of its own. `None` when
    /// that session cannot be opened: the upgrade goes on, its errors just name no blocker.
    pub(super) fn start(settings: &Settings, pid: i32) -> Option<BlockerWatch> {
        let mut client = settings.connect().ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop_flag, seen_list) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = std::thread::spawn(move || {
            let query = include_str!("queries/blockers.sql");
            while !stop_flag.load(Ordering::Relaxed) {
                if let Ok(rows) = client.query(query, &[&pid]) {
                    let found: Vec<String> = rows
                        .iter()
                        .map(|r| {
                            let (pid, app, user, state): (String, String, String, String) =
                                (r.get(0), r.get(1), r.get(2), r.get(3));
                            format!(
                                "pid {pid} (application_name {app}, user {user}, state {state})"
                            )
                        })
                        .collect();
                    if !found.is_empty() {
                        *seen_list.lock().unwrap_or_else(|e| e.into_inner()) = found;
                    }
                }
                std::thread::sleep(POLL);
            }
        });
        Some(BlockerWatch {
            stop,
            seen,
            thread: Some(thread),
        })
    }

    /// The sessions last seen blocking the watched one.
    pub(super) fn blockers(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for BlockerWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
