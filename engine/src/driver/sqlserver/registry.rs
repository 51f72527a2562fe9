//! Registration on SQL Server, where SQL Server's own DAC tooling keeps it: msdb's
//! `sysdac_instances_internal` (one row per registered database, `instance_name` = the
//! database's name, `type_name`/`type_version` = application and version, `type_stream` = the
//! definition: our package bytes) and `sysdac_history_internal`, written through the
//! `msdb.dbo.sp_sysdac_*` procedures and read through the `msdb.dbo.sysdac_instances` view, so
//! SSMS lists the application and its version.
//!
//! Where the login may not write there (not a DAC creator: sysadmin or dbcreator; no msdb, as on
//! Azure SQL Database), the registration goes to an in-database registry instead (schema
//! `[_dac]`, the shape the PostgreSQL driver uses) and the driver warns once.
//!
//! The statements are pure functions ([`Statement`]) so their text is golden-tested offline.

use std::fmt;

use super::{Cell, RegistryPlace, SqlServerDriver};
use crate::driver::Registry;
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus, Registration, model_hash};
use crate::{Error, Result};

/// A statement parameter (`@P1`, `@P2`, ... in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// `nvarchar`.
    Text(String),
    /// `varbinary`.
    Bytes(Vec<u8>),
    /// `int`.
    Int(i32),
    /// NULL.
    Null,
}

/// A parameterised statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The T-SQL text with `@P1...` placeholders.
    pub sql: String,
    /// The parameter values.
    pub params: Vec<Param>,
}

impl fmt::Display for Statement {
    /// The text, then one `-- @Pn = value` line per parameter (byte strings shortened).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.sql)?;
        for (i, p) in self.params.iter().enumerate() {
            let shown = match p {
                Param::Text(t) => super::literal(t),
                Param::Int(n) => n.to_string(),
                Param::Null => "NULL".into(),
                Param::Bytes(b) => format!(
                    "0x{}... ({} bytes)",
                    super::hex_upper(&b[..b.len().min(8)]),
                    b.len()
                ),
            };
            writeln!(f, "-- @P{} = {shown}", i + 1)?;
        }
        Ok(())
    }
}

/// Whether this login may register in msdb: selects `dac_creator` (1 or 0). Fails on servers
/// without msdb's DAC objects (Azure SQL Database).
pub const MSDB_PROBE: &str = "SELECT CONVERT(int, msdb.dbo.fn_sysdac_is_dac_creator()) AS dac_creator, CONVERT(int, HAS_PERMS_BY_NAME(N'msdb.dbo.sp_sysdac_add_instance', N'OBJECT', N'EXECUTE')) AS can_add, CONVERT(int, HAS_PERMS_BY_NAME(N'msdb.dbo.sp_sysdac_add_history_entry', N'OBJECT', N'EXECUTE')) AS can_log, SUSER_SNAME() AS login_name;";

/// The registration of the current database, as msdb's `sysdac_instances` view shows it
/// (`instance_id` and `type_stream` are visible to sysadmin and the database owner only).
pub const MSDB_READ: &str = "SELECT CONVERT(nvarchar(36), i.instance_id) AS instance_id, i.type_name, i.type_version, i.description, i.type_stream, CONVERT(nvarchar(33), i.date_created, 126) AS date_created, i.created_by FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = DB_NAME();";

/// The `description` stored with a registration: where the model hash and the dac user go.
pub fn description(registration: &Registration) -> String {
    format!(
        "registered by dac; model-hash={}; by={}; at={}",
        registration.model_hash, registration.registered_by, registration.registered_at
    )
}

/// Registers (or re-registers) the current database: `sp_sysdac_add_instance` the first time,
/// `sp_sysdac_update_instance` after, keyed on `instance_name = DB_NAME()` as SSMS does.
pub fn msdb_write(registration: &Registration) -> Statement {
    let sql = "DECLARE @db sysname = DB_NAME();
DECLARE @id uniqueidentifier = (SELECT i.instance_id FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = @db);
IF @id IS NULL
BEGIN
    SET @id = NEWID();
    EXEC msdb.dbo.sp_sysdac_add_instance @type_name = @P1, @instance_id = @id, @instance_name = @db, @type_version = @P2, @description = @P3, @type_stream = @P4;
END
ELSE
    EXEC msdb.dbo.sp_sysdac_update_instance @type_name = @P1, @instance_id = @id, @instance_name = @db, @type_version = @P2, @description = @P3, @type_stream = @P4;
SELECT CONVERT(nvarchar(36), @id) AS instance_id;";
    Statement {
        sql: sql.into(),
        params: vec![
            Param::Text(registration.name.clone()),
            Param::Text(registration.version.clone()),
            Param::Text(description(registration)),
            Param::Bytes(registration.definition.clone()),
        ],
    }
}

/// Removes the current database's registration (`sp_sysdac_delete_instance`); the history
/// stays, as SSMS keeps it.
pub fn msdb_delete() -> Statement {
    Statement {
        sql: "DECLARE @id uniqueidentifier = (SELECT i.instance_id FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = DB_NAME());
IF @id IS NOT NULL
    EXEC msdb.dbo.sp_sysdac_delete_instance @instance_id = @id;
SELECT CONVERT(nvarchar(36), @id) AS instance_id;"
            .into(),
        params: Vec::new(),
    }
}

/// `sysdac_history_internal.action_type` for an action (0 deploy, 3 register, 13 upgrade,
/// 14 unregister).
pub fn action_type(action: HistoryAction) -> i32 {
    match action {
        HistoryAction::Deploy => 0,
        HistoryAction::Register => 3,
        HistoryAction::Unregister => 14,
        HistoryAction::Upgrade | HistoryAction::SideBySide | HistoryAction::Rollback => 13,
    }
}

/// `sysdac_history_internal.action_status` (2 success, 3 fail, 4 rollback).
pub fn action_status(status: HistoryStatus) -> i32 {
    match status {
        HistoryStatus::Success => 2,
        HistoryStatus::Fail => 3,
        HistoryStatus::Rollback => 4,
    }
}

/// The `comments` of a history row: the entry as JSON, which dac reads back.
pub fn history_comments(entry: &HistoryEntry) -> String {
    serde_json::json!({ "dac": {
        "action": entry.action.as_str(),
        "status": entry.status.as_str(),
        "name": entry.name,
        "version_before": entry.version_before,
        "version_after": entry.version_after,
        "at": entry.at,
        "by": entry.by,
        "message": entry.message,
        "duration_ms": entry.duration_ms,
    }})
    .to_string()
}

/// Appends a history row with `sp_sysdac_add_history_entry` (the procedure allocates the
/// `action_id`); `instance_id` is the registration's, or the one given (after an unregister),
/// or a new one (a failed first deployment).
pub fn msdb_history(entry: &HistoryEntry, instance_id: Option<&str>) -> Statement {
    let sql = "DECLARE @db sysname = DB_NAME();
DECLARE @id uniqueidentifier = (SELECT i.instance_id FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = @db);
IF @id IS NULL SET @id = ISNULL(TRY_CONVERT(uniqueidentifier, @P1), NEWID());
EXEC msdb.dbo.sp_sysdac_add_history_entry @sequence_id = 0, @instance_id = @id, @action_type = @P2, @action_status = @P3, @dac_object_type = 0, @required = 1, @dac_object_name_pretran = @db, @dac_object_name_posttran = @db, @sqlscript = N'', @payload = NULL, @comments = @P4, @error_string = @P5;";
    Statement {
        sql: sql.into(),
        params: vec![
            instance_id.map_or(Param::Null, |id| Param::Text(id.to_string())),
            Param::Int(action_type(entry.action)),
            Param::Int(action_status(entry.status)),
            Param::Text(history_comments(entry)),
            Param::Text(if entry.status == HistoryStatus::Fail {
                entry.message.clone()
            } else {
                String::new()
            }),
        ],
    }
}

/// The history rows dac wrote for the current database, oldest first: those of its msdb
/// registration (which follows the database through side-by-side renames), or, when it has none
/// (unregistered), those written under its name.
pub const MSDB_HISTORY: &str = "DECLARE @id uniqueidentifier = (SELECT i.instance_id FROM msdb.dbo.sysdac_instances AS i WHERE i.instance_name = DB_NAME());
SELECT h.comments FROM msdb.dbo.sysdac_history_internal AS h
 WHERE (h.instance_id = @id OR (@id IS NULL AND h.dac_object_name_pretran = DB_NAME()))
   AND h.comments LIKE '{\"dac\":%'
 ORDER BY h.action_id, h.sequence_id;";

/// Creates the in-database registry (schema `[_dac]`) when missing.
pub const LOCAL_CREATE: &str = "IF SCHEMA_ID(N'_dac') IS NULL EXEC (N'CREATE SCHEMA [_dac]');
IF OBJECT_ID(N'[_dac].[registry]', N'U') IS NULL
    CREATE TABLE [_dac].[registry] (
        [id] int NOT NULL CONSTRAINT [PK_dac_registry] PRIMARY KEY CONSTRAINT [CK_dac_registry_one] CHECK ([id] = 1),
        [name] nvarchar(4000) NOT NULL,
        [version] nvarchar(4000) NOT NULL,
        [definition] varbinary(max) NOT NULL,
        [model_hash] nvarchar(64) NOT NULL,
        [registered_by] nvarchar(4000) NOT NULL,
        [registered_at] nvarchar(64) NOT NULL);
IF OBJECT_ID(N'[_dac].[history]', N'U') IS NULL
    CREATE TABLE [_dac].[history] (
        [action_id] bigint IDENTITY(1, 1) NOT NULL CONSTRAINT [PK_dac_history] PRIMARY KEY,
        [action] nvarchar(32) NOT NULL,
        [status] nvarchar(16) NOT NULL,
        [name] nvarchar(4000) NOT NULL,
        [version_before] nvarchar(4000) NULL,
        [version_after] nvarchar(4000) NULL,
        [at] nvarchar(64) NOT NULL,
        [by] nvarchar(4000) NOT NULL,
        [message] nvarchar(max) NOT NULL,
        [duration_ms] bigint NULL);
IF COL_LENGTH(N'_dac.history', N'duration_ms') IS NULL
    ALTER TABLE [_dac].[history] ADD [duration_ms] bigint NULL;";

/// Whether the in-database registry exists: selects 1 or 0.
pub const LOCAL_EXISTS: &str =
    "SELECT CASE WHEN OBJECT_ID(N'[_dac].[registry]', N'U') IS NULL THEN 0 ELSE 1 END;";

/// Reads the in-database registration.
pub const LOCAL_READ: &str = "SELECT [name], [version], [definition], [model_hash], [registered_by], [registered_at] FROM [_dac].[registry] WHERE [id] = 1;";

/// Writes (replaces) the in-database registration.
pub fn local_write(registration: &Registration) -> Statement {
    Statement {
        sql: "DELETE FROM [_dac].[registry];
INSERT INTO [_dac].[registry] ([id], [name], [version], [definition], [model_hash], [registered_by], [registered_at])
VALUES (1, @P1, @P2, @P3, @P4, @P5, @P6);"
            .into(),
        params: vec![
            Param::Text(registration.name.clone()),
            Param::Text(registration.version.clone()),
            Param::Bytes(registration.definition.clone()),
            Param::Text(registration.model_hash.clone()),
            Param::Text(registration.registered_by.clone()),
            Param::Text(registration.registered_at.clone()),
        ],
    }
}

/// Appends an in-database history row.
pub fn local_history(entry: &HistoryEntry) -> Statement {
    let opt = |v: &Option<String>| v.clone().map_or(Param::Null, Param::Text);
    Statement {
        sql: "INSERT INTO [_dac].[history] ([action], [status], [name], [version_before], [version_after], [at], [by], [message], [duration_ms])
VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8, TRY_CONVERT(bigint, @P9));"
            .into(),
        params: vec![
            Param::Text(entry.action.as_str().into()),
            Param::Text(entry.status.as_str().into()),
            Param::Text(entry.name.clone()),
            opt(&entry.version_before),
            opt(&entry.version_after),
            Param::Text(entry.at.clone()),
            Param::Text(entry.by.clone()),
            Param::Text(entry.message.clone()),
            entry
                .duration_ms
                .map_or(Param::Null, |ms| Param::Text(ms.to_string())),
        ],
    }
}

/// The in-database history, oldest first; the duration through the row's JSON, so a registry
/// made before dac recorded durations reads too.
pub const LOCAL_HISTORY: &str = "SELECT [action], [status], [name], [version_before], [version_after], [at], [by], [message], JSON_VALUE((SELECT h.* FOR JSON PATH, WITHOUT_ARRAY_WRAPPER), N'$.duration_ms') FROM [_dac].[history] AS h ORDER BY [action_id];";

/// A registration from msdb's row: `(instance_id, type_name, type_version, description,
/// type_stream, date_created, created_by)`. `Err` when the definition is hidden.
pub(crate) fn registration_from_msdb(row: &[Cell], database: &str) -> Result<Registration> {
    let text = |i: usize| match row.get(i) {
        Some(Cell::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let Some(Cell::Bytes(definition)) = row.get(4) else {
        return Err(Error::Driver {
            backend: "sqlserver",
            code: None,
            message: format!(
                "msdb holds a DAC registration for database {database}, but this login cannot read its definition (msdb shows it to sysadmin and the database owner only)"
            ),
            statement: None,
        });
    };
    let description = text(3);
    let model_hash_text = description
        .split(';')
        .find_map(|p| p.trim().strip_prefix("model-hash="))
        .map(str::to_string);
    let mut registration = Registration {
        name: text(1),
        version: text(2),
        definition: definition.clone(),
        model_hash: model_hash_text.unwrap_or_default(),
        registered_by: text(6),
        registered_at: text(5),
    };
    if registration.model_hash.is_empty() {
        // Registered by other tools: hash the model of the stored package when it is one.
        if let Ok(package) = registration.package() {
            registration.model_hash = model_hash(&package.model);
        }
    }
    Ok(registration)
}

/// A history entry from the JSON dac stored in `comments`.
pub fn history_from_comments(comments: &str) -> Option<HistoryEntry> {
    let value: serde_json::Value = serde_json::from_str(comments).ok()?;
    let dac = value.get("dac")?;
    let text = |k: &str| dac.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Some(HistoryEntry {
        action: HistoryAction::parse(&text("action")?)?,
        status: HistoryStatus::parse(&text("status")?)?,
        name: text("name").unwrap_or_default(),
        version_before: text("version_before"),
        version_after: text("version_after"),
        at: text("at").unwrap_or_default(),
        by: text("by").unwrap_or_default(),
        message: text("message").unwrap_or_default(),
        duration_ms: dac.get("duration_ms").and_then(serde_json::Value::as_u64),
    })
}

impl SqlServerDriver {
    /// Where the registration lives, found once per connection (outside any transaction:
    /// the probe may fail, and under XACT_ABORT a failure would doom the upgrade).
    pub(super) fn registry_place(&mut self) -> RegistryPlace {
        if let Some(place) = &self.registry {
            return place.clone();
        }
        let place = match self.fetch(MSDB_PROBE) {
            Ok(sets) => {
                let row = sets
                    .into_iter()
                    .next()
                    .and_then(|(_, rows)| rows.into_iter().next())
                    .unwrap_or_default();
                let flag = |i: usize| matches!(row.get(i), Some(Cell::Text(t)) if t == "1");
                let login = match row.get(3) {
                    Some(Cell::Text(t)) => t.clone(),
                    _ => "this login".into(),
                };
                if flag(0) && flag(1) && flag(2) {
                    RegistryPlace::Msdb
                } else {
                    RegistryPlace::InDatabase(format!(
                        "login {login} may not register data-tier applications in msdb (it needs to be sysadmin or a member of dbcreator)"
                    ))
                }
            }
            Err(err) => RegistryPlace::InDatabase(format!(
                "msdb's data-tier application registry is not available ({err})"
            )),
        };
        self.registry = Some(place.clone());
        place
    }

    fn warn_fallback(&mut self, reason: &str) {
        let line = format!(
            "{reason}; the registration is kept in the database itself (schema [_dac]) instead, where dac finds it but SSMS does not list it"
        );
        if !self.warnings.contains(&line) {
            self.warnings.push(line);
        }
    }

    fn local_exists(&mut self) -> Result<bool> {
        Ok(self.scalar(LOCAL_EXISTS)?.as_deref() == Some("1"))
    }

    /// The rows of the first result set `sql` returns (none without one).
    fn first_rows(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>> {
        Ok(self
            .fetch(sql)?
            .into_iter()
            .next()
            .map(|(_, rows)| rows)
            .unwrap_or_default())
    }

    /// Keeps the msdb instance id that `row` starts with, for the history entries.
    fn remember_msdb_instance(&mut self, row: Option<&Vec<Cell>>) {
        if let Some(Cell::Text(id)) = row.and_then(|r| r.first()) {
            self.msdb_instance = Some(id.clone());
        }
    }

    /// Runs an msdb statement that returns the registered instance's id, and keeps the id.
    fn run_in_msdb(&mut self, statement: &Statement) -> Result<()> {
        let rows = self.fetch_with(&statement.sql, &statement.params)?;
        self.remember_msdb_instance(rows.first());
        Ok(())
    }

    /// Runs `statement` on the in-database registry, created when missing, having warned that
    /// msdb is not used and why (`fallback_reason`).
    fn run_in_database(&mut self, fallback_reason: &str, statement: &Statement) -> Result<()> {
        self.warn_fallback(fallback_reason);
        self.run_batch(LOCAL_CREATE, None)?;
        self.fetch_with(&statement.sql, &statement.params)?;
        Ok(())
    }

    /// Deletes a registration kept in the database, if there is one.
    fn delete_local(&mut self) -> Result<()> {
        if self.local_exists()? {
            self.run_batch("DELETE FROM [_dac].[registry];", None)?;
        }
        Ok(())
    }

    fn read_local(&mut self) -> Result<Option<Registration>> {
        if !self.local_exists()? {
            return Ok(None);
        }
        let rows = self.first_rows(LOCAL_READ)?;
        Ok(rows.into_iter().next().map(|row| {
            let text = |i: usize| match row.get(i) {
                Some(Cell::Text(t)) => t.clone(),
                _ => String::new(),
            };
            Registration {
                name: text(0),
                version: text(1),
                definition: match row.get(2) {
                    Some(Cell::Bytes(b)) => b.clone(),
                    _ => Vec::new(),
                },
                model_hash: text(3),
                registered_by: text(4),
                registered_at: text(5),
            }
        }))
    }
}

impl Registry for SqlServerDriver {
    fn read_registration(&mut self) -> Result<Option<Registration>> {
        if self.registry_place() == RegistryPlace::Msdb {
            let rows = self.first_rows(MSDB_READ)?;
            if let Some(row) = rows.first() {
                self.remember_msdb_instance(Some(row));
                let database = self.database.clone();
                return registration_from_msdb(row, &database).map(Some);
            }
        }
        self.read_local()
    }

    fn write_registration(&mut self, registration: &Registration) -> Result<()> {
        match self.registry_place() {
            RegistryPlace::Msdb => {
                self.run_in_msdb(&msdb_write(registration))?;
                // A registration kept in the database earlier is superseded.
                self.delete_local()
            }
            RegistryPlace::InDatabase(reason) => {
                self.run_in_database(&reason, &local_write(registration))
            }
        }
    }

    fn delete_registration(&mut self) -> Result<()> {
        if self.registry_place() == RegistryPlace::Msdb {
            self.run_in_msdb(&msdb_delete())?;
        }
        self.delete_local()
    }

    fn append_history(&mut self, entry: &HistoryEntry) -> Result<()> {
        match self.registry_place() {
            RegistryPlace::Msdb => {
                let id = self.msdb_instance.clone();
                let statement = msdb_history(entry, id.as_deref());
                self.fetch_with(&statement.sql, &statement.params)?;
            }
            RegistryPlace::InDatabase(reason) => {
                self.run_in_database(&reason, &local_history(entry))?;
            }
        }
        Ok(())
    }

    fn history(&mut self) -> Result<Vec<HistoryEntry>> {
        let mut out = Vec::new();
        if self.registry_place() == RegistryPlace::Msdb
            && let Ok(rows) = self.first_rows(MSDB_HISTORY)
        {
            for row in rows {
                if let Some(Cell::Text(comments)) = row.first()
                    && let Some(entry) = history_from_comments(comments)
                {
                    out.push(entry);
                }
            }
        }
        if self.local_exists()? {
            for row in self.first_rows(LOCAL_HISTORY)? {
                let text = |i: usize| match row.get(i) {
                    Some(Cell::Text(t)) => Some(t.clone()),
                    _ => None,
                };
                out.push(HistoryEntry {
                    action: HistoryAction::read(&text(0).unwrap_or_default())?,
                    status: HistoryStatus::read(&text(1).unwrap_or_default())?,
                    name: text(2).unwrap_or_default(),
                    version_before: text(3),
                    version_after: text(4),
                    at: text(5).unwrap_or_default(),
                    by: text(6).unwrap_or_default(),
                    message: text(7).unwrap_or_default(),
                    duration_ms: text(8).and_then(|ms| ms.parse().ok()),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> Registration {
        Registration {
            name: "Shop".into(),
            version: "2.1.0".into(),
            definition: b"PK\x03\x04 package bytes".to_vec(),
            model_hash: "ABCDEF".into(),
            registered_by: "ops".into(),
            registered_at: "2026-11-26T12:00:00Z".into(),
        }
    }

    #[test]
    fn history_round_trips_through_comments() {
        let mut entry = HistoryEntry::now(HistoryAction::Upgrade, HistoryStatus::Success, "Shop");
        entry.version_before = Some("1.0".into());
        entry.version_after = Some("2.0".into());
        entry.message = "data loss allowed by ops".into();
        let back = history_from_comments(&history_comments(&entry)).unwrap();
        assert_eq!(back, entry);
        assert!(history_from_comments("written by SSMS").is_none());
    }

    #[test]
    fn msdb_registration_reads_back() {
        let reg = registration();
        let row = vec![
            Cell::Text("6F9619FF-8B86-D011-B42D-00C04FC964FF".into()),
            Cell::Text("Shop".into()),
            Cell::Text("2.1.0".into()),
            Cell::Text(description(&reg)),
            Cell::Bytes(reg.definition.clone()),
            Cell::Text("2026-11-26T12:00:01.123".into()),
            Cell::Text("sa".into()),
        ];
        let back = registration_from_msdb(&row, "Shop").unwrap();
        assert_eq!(back.name, "Shop");
        assert_eq!(back.version, "2.1.0");
        assert_eq!(back.definition, reg.definition);
        assert_eq!(back.model_hash, "ABCDEF");
        assert_eq!(back.registered_by, "sa");
        let mut hidden = row.clone();
        hidden[4] = Cell::Null;
        let err = registration_from_msdb(&hidden, "Shop")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read its definition"), "{err}");
    }

    #[test]
    fn action_codes_follow_msdb() {
        assert_eq!(action_type(HistoryAction::Deploy), 0);
        assert_eq!(action_type(HistoryAction::Register), 3);
        assert_eq!(action_type(HistoryAction::Upgrade), 13);
        assert_eq!(action_type(HistoryAction::Unregister), 14);
        assert_eq!(action_status(HistoryStatus::Success), 2);
        assert_eq!(action_status(HistoryStatus::Fail), 3);
        assert_eq!(action_status(HistoryStatus::Rollback), 4);
    }
}
