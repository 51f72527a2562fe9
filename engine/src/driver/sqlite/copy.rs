//! Copies of a whole database, kept by a rollout before an in-place upgrade so it can be undone.

use std::path::Path;

use rusqlite::MAIN_DB;

use super::{SqliteDriver, driver_error};
use crate::driver::Driver;
use crate::{Error, Result};

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
