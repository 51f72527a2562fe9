//! The registry in a SQLite database: tables `_dac_registry` (one row) and `_dac_history`,
//! written on the driver's connection, so inside the upgrade's transaction when one is open.

use rusqlite::{OptionalExtension, params};

use super::{SqliteDriver, driver_error};
use crate::Result;
use crate::driver::Registry;
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};

const CREATE: &str = include_str!("queries/registry_create.sql");

impl SqliteDriver {
    fn registry_exists(&self) -> Result<bool> {
        let sql =
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_dac_registry'";
        let n: i64 = self
            .conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(n > 0)
    }

    fn ensure_registry(&self) -> Result<()> {
        self.conn
            .execute_batch(CREATE)
            .map_err(|e| driver_error(&e, Some(CREATE)))?;
        // A registry made before dac recorded durations gets the column.
        if !self.history_has_duration()? {
            let sql = "ALTER TABLE \"_dac_history\" ADD COLUMN \"duration_ms\" INTEGER";
            self.conn
                .execute_batch(sql)
                .map_err(|e| driver_error(&e, Some(sql)))?;
        }
        Ok(())
    }

    fn history_has_duration(&self) -> Result<bool> {
        let sql =
            "SELECT count(*) FROM pragma_table_info('_dac_history') WHERE name = 'duration_ms'";
        let n: i64 = self
            .conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(n > 0)
    }
}

impl Registry for SqliteDriver {
    fn read_registration(&mut self) -> Result<Option<Registration>> {
        if !self.registry_exists()? {
            return Ok(None);
        }
        let sql = "SELECT name, version, definition, model_hash, registered_by, registered_at FROM \"_dac_registry\" WHERE id = 1";
        self.conn
            .query_row(sql, [], |r| {
                Ok(Registration {
                    name: r.get(0)?,
                    version: r.get(1)?,
                    definition: r.get(2)?,
                    model_hash: r.get(3)?,
                    registered_by: r.get(4)?,
                    registered_at: r.get(5)?,
                })
            })
            .optional()
            .map_err(|e| driver_error(&e, Some(sql)))
    }

    fn write_registration(&mut self, registration: &Registration) -> Result<()> {
        self.ensure_registry()?;
        let sql = "INSERT OR REPLACE INTO \"_dac_registry\" (id, name, version, definition, model_hash, registered_by, registered_at) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)";
        self.conn
            .execute(
                sql,
                params![
                    registration.name,
                    registration.version,
                    registration.definition,
                    registration.model_hash,
                    registration.registered_by,
                    registration.registered_at
                ],
            )
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(())
    }

    fn delete_registration(&mut self) -> Result<()> {
        if !self.registry_exists()? {
            return Ok(());
        }
        let sql = "DELETE FROM \"_dac_registry\"";
        self.conn
            .execute(sql, [])
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(())
    }

    fn append_history(&mut self, entry: &HistoryEntry) -> Result<()> {
        self.ensure_registry()?;
        let sql = "INSERT INTO \"_dac_history\" (action, status, name, version_before, version_after, at, by, message, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        self.conn
            .execute(
                sql,
                params![
                    entry.action.as_str(),
                    entry.status.as_str(),
                    entry.name,
                    entry.version_before,
                    entry.version_after,
                    entry.at,
                    entry.by,
                    entry.message,
                    entry.duration_ms.and_then(|ms| i64::try_from(ms).ok())
                ],
            )
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(())
    }

    fn history(&mut self) -> Result<Vec<HistoryEntry>> {
        if !self.registry_exists()? {
            return Ok(Vec::new());
        }
        let sql = if self.history_has_duration()? {
            "SELECT action, status, name, version_before, version_after, at, by, message, duration_ms FROM \"_dac_history\" ORDER BY action_id"
        } else {
            "SELECT action, status, name, version_before, version_after, at, by, message, NULL FROM \"_dac_history\" ORDER BY action_id"
        };
        let mut statement = self
            .conn
            .prepare(sql)
            .map_err(|e| driver_error(&e, Some(sql)))?;
        let rows = statement
            .query_map([], |r| {
                let action: String = r.get(0)?;
                let status: String = r.get(1)?;
                let entry = HistoryEntry {
                    action: HistoryAction::Deploy,
                    status: HistoryStatus::Success,
                    name: r.get(2)?,
                    version_before: r.get(3)?,
                    version_after: r.get(4)?,
                    at: r.get(5)?,
                    by: r.get(6)?,
                    message: r.get(7)?,
                    duration_ms: r
                        .get::<_, Option<i64>>(8)?
                        .and_then(|ms| u64::try_from(ms).ok()),
                };
                // The stored names are read outside rusqlite's row type so an unknown one
                // is dac's error naming it, not a conversion failure.
                Ok((action, status, entry))
            })
            .map_err(|e| driver_error(&e, Some(sql)))?;
        rows.map(|row| {
            let (action, status, entry) = row.map_err(|e| driver_error(&e, Some(sql)))?;
            Ok(HistoryEntry {
                action: HistoryAction::read(&action)?,
                status: HistoryStatus::read(&status)?,
                ..entry
            })
        })
        .collect()
    }
}
