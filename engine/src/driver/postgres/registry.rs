//! The registry in a PostgreSQL database: schema `_dac` with tables `registry` (one row) and
//! `history`, written on the driver's connection, so inside the upgrade's transaction when one
//! is open. Inspection leaves the `_dac` schema out.

use super::{PostgresDriver, driver_error};
use crate::Result;
use crate::driver::{Driver, Registry};
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration};

const CREATE: &str = include_str!("queries/registry_create.sql");

impl PostgresDriver {
    fn registry_exists(&mut self) -> Result<bool> {
        let sql = "SELECT to_regclass('\"_dac\".\"registry\"') IS NOT NULL";
        let row = self
            .client
            .query_one(sql, &[])
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(row.get::<_, bool>(0))
    }

    fn ensure_registry(&mut self) -> Result<()> {
        if self.registry_exists()? {
            return Ok(());
        }
        self.client
            .batch_execute(CREATE)
            .map_err(|e| driver_error(&e, Some(CREATE)))
    }
}

impl Registry for PostgresDriver {
    fn read_registration(&mut self) -> Result<Option<Registration>> {
        if !self.registry_exists()? {
            return Ok(None);
        }
        let sql = "SELECT name, version, definition, model_hash, registered_by, registered_at FROM \"_dac\".\"registry\" WHERE id = 1";
        let row = self
            .client
            .query_opt(sql, &[])
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(row.map(|r| Registration {
            name: r.get(0),
            version: r.get(1),
            definition: r.get(2),
            model_hash: r.get(3),
            registered_by: r.get(4),
            registered_at: r.get(5),
        }))
    }

    fn write_registration(&mut self, registration: &Registration) -> Result<()> {
        self.ensure_registry()?;
        let sql = "INSERT INTO \"_dac\".\"registry\" (id, name, version, definition, model_hash, registered_by, registered_at) VALUES (1, $1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, version = EXCLUDED.version, definition = EXCLUDED.definition, model_hash = EXCLUDED.model_hash, registered_by = EXCLUDED.registered_by, registered_at = EXCLUDED.registered_at";
        self.client
            .execute(
                sql,
                &[
                    &registration.name,
                    &registration.version,
                    &registration.definition,
                    &registration.model_hash,
                    &registration.registered_by,
                    &registration.registered_at,
                ],
            )
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(())
    }

    fn delete_registration(&mut self) -> Result<()> {
        if !self.registry_exists()? {
            return Ok(());
        }
        let sql = "DELETE FROM \"_dac\".\"registry\"";
        self.client
            .execute(sql, &[])
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(())
    }

    fn append_history(&mut self, entry: &HistoryEntry) -> Result<()> {
        self.ensure_registry()?;
        let sql = "INSERT INTO \"_dac\".\"history\" (action, status, name, version_before, version_after, at, by, message, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let duration = entry.duration_ms.and_then(|ms| i64::try_from(ms).ok());
        self.client
            .execute(
                sql,
                &[
                    &entry.action.as_str(),
                    &entry.status.as_str(),
                    &entry.name,
                    &entry.version_before,
                    &entry.version_after,
                    &entry.at,
                    &entry.by,
                    &entry.message,
                    &duration,
                ],
            )
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(())
    }

    fn history(&mut self) -> Result<Vec<HistoryEntry>> {
        if !self.registry_exists()? {
            return Ok(Vec::new());
        }
        // Through the row's JSON, so a registry made before dac recorded durations reads too.
        let sql = "SELECT action, status, name, version_before, version_after, at, by, message, (to_jsonb(h) ->> 'duration_ms')::bigint FROM \"_dac\".\"history\" AS h ORDER BY action_id";
        let rows = self
            .client
            .query(sql, &[])
            .map_err(|e| driver_error(&e, Some(sql)))?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    action: HistoryAction::read(r.get(0))?,
                    status: HistoryStatus::read(r.get(1))?,
                    name: r.get(2),
                    version_before: r.get(3),
                    version_after: r.get(4),
                    at: r.get(5),
                    by: r.get(6),
                    message: r.get(7),
                    duration_ms: r
                        .get::<_, Option<i64>>(8)
                        .and_then(|ms| u64::try_from(ms).ok()),
                })
            })
            .collect()
    }
}

impl PostgresDriver {
    /// Connects to the database of `url`; with `create`, a database that does not exist is
    /// created first, from the server's `postgres` maintenance database.
    pub fn connect_or_create(url: &str, create: bool) -> Result<PostgresDriver> {
        match PostgresDriver::connect(url) {
            Err(crate::Error::Driver {
                code: Some(code), ..
            }) if create && code == "3D000" => {
                let config = PostgresDriver::parse_config(url)?;
                let database = config.get_dbname().unwrap_or_default().to_string();
                let mut maintenance = config.clone();
                maintenance.dbname("postgres");
                let mut admin = PostgresDriver::with_config(maintenance)?;
                admin.execute(&format!(
                    "CREATE DATABASE {}",
                    super::quote_ident(&database)
                ))?;
                PostgresDriver::with_config(config)
            }
            other => other,
        }
    }
}
