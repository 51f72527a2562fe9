//! Copies of a whole database, kept by a rollout before an in-place upgrade so it can be undone:
//! the snapshots of [`crate::driver::SqliteServer`], files in the folder the caller names.

use std::path::Path;
use std::time::Duration;

use rusqlite::MAIN_DB;

use super::{SqliteDriver, driver_error};
use crate::driver::{Driver, RestoreSteps, Server, Snapshot, SnapshotPlace, with_lock};
use crate::model::Platform;
use crate::{Error, Result};

/// Copies the database at `path` into `place` under the upgrade lock of `server` (its own), so
/// no upgrade runs during the copy; a copy is complete once it has its final name.
pub(super) fn snapshot(
    server: &mut dyn Server,
    path: &Path,
    place: &SnapshotPlace,
    wait: Duration,
) -> Result<Snapshot> {
    std::fs::create_dir_all(place.folder).map_err(|source| Error::Io {
        path: place.folder.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
    let copy = place.folder.join(format!("{}{name}", place.file_prefix));
    let partial = place
        .folder
        .join(format!("{}{name}.partial", place.file_prefix));
    for stale in [&copy, &partial] {
        remove_if_present(stale)?;
    }
    let mut driver = SqliteDriver::open(path, false)?;
    with_lock(server, wait, |_| driver.copy_to(&partial))?;
    std::fs::rename(&partial, &copy).map_err(|source| Error::Io {
        path: copy.clone(),
        source,
    })?;
    Ok(Snapshot::SqliteCopy {
        path: copy.display().to_string(),
    })
}

fn remove_if_present(file: &Path) -> Result<()> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: file.to_path_buf(),
            source,
        }),
    }
}

/// Restores the database at `path` from its copy, holding the upgrade lock of `server` from the
/// check before to the record after, so no upgrade slips in between; the record is made also
/// when the check finds the copy already back (an earlier restore died before recording).
pub(super) fn restore(
    server: &mut dyn Server,
    path: &Path,
    snapshot: &Snapshot,
    wait: Duration,
    steps: &mut dyn RestoreSteps,
) -> Result<()> {
    let Snapshot::SqliteCopy { path: copy } = snapshot else {
        return Err(snapshot.not_for(Platform::Sqlite));
    };
    let mut driver = SqliteDriver::open(path, false)?;
    with_lock(server, wait, |_| {
        if steps.should_restore(Ok(&mut driver))? {
            driver.restore_from(Path::new(copy))?;
            crate::fault::point("snapshot.restored");
        }
        steps.after_restore(&mut driver)
    })
}

impl SqliteDriver {
    /// Writes a consistent copy of the database to `dest`, which must not exist (`VACUUM INTO`:
    /// one read transaction, so writers carry on in WAL mode and wait in rollback-journal mode).
    pub fn copy_to(&mut self, dest: &Path) -> Result<()> {
        let Some(text) = dest.to_str() else {
            return Err(Error::Invalid(format!(
                "{}: a copy's path must be UTF-8",
                dest.display()
            )));
        };
        self.execute(&format!("VACUUM INTO '{}'", text.replace('\'', "''")))
    }

    /// Replaces the whole database, page by page, with the copy at `src` (SQLite's online backup
    /// API, under the database's own locks, so other connections see the old or the restored
    /// database, never a mix). The caller holds the upgrade lock.
    pub fn restore_from(&mut self, src: &Path) -> Result<()> {
        if !src.is_file() {
            return Err(Error::Driver {
                backend: super::BACKEND,
                code: None,
                message: format!("{}: no such copy to restore from", src.display()),
                statement: None,
            });
        }
        self.conn
            .restore(MAIN_DB, src, None::<fn(rusqlite::backup::Progress)>)
            .map_err(|e| driver_error(&e, None))
    }
}
