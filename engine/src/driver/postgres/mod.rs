//! PostgreSQL: a synchronous connection (the `postgres` crate; settings, environment and
//! password file as libpq's in `conninfo.rs`, TLS through rustls in `tls.rs`), catalog inspection
//! with a few set-based queries (`queries/*.sql`), statements with SQLSTATE errors, transactions,
//! the upgrade lock as a session advisory lock, and [`PostgresDriver::canonicalize`], which turns a
//! desired model into what the server would show for it.

mod blockers;
mod connect;
mod conninfo;
mod copy;
mod inspect;
mod logical;
mod names;
mod registry;
mod rollout_store;
mod server;
mod tls;

pub use rollout_store::PostgresRolloutStore;
pub use server::PostgresServer;

pub(crate) use conninfo::{checked as check_connection_string, database_of, server_of};

use std::time::{Duration, Instant};

use postgres::{Client, SimpleQueryMessage};

use connect::Settings;

use super::canonical_cache;
use super::scratch::{creation_script, scratch_name};
use super::{Driver, ServerInfo, Timeouts, Waited};
use crate::dialect::dialect_for;
use crate::model::{Dsp, Model, ObjectName, Platform};
use crate::{Error, Result};

/// A connection to one PostgreSQL database.
pub struct PostgresDriver {
    client: Client,
    config: Settings,
    database: String,
    /// The session holding the upgrade lock, while it is held.
    lock_session: Option<Box<PostgresDriver>>,
    warnings: Vec<String>,
    /// The limits set with [`Driver::set_timeouts`], if any.
    timeouts: Option<Timeouts>,
    /// Who blocks the open transaction, watched while it is open (with a lock timeout only).
    watch: Option<blockers::BlockerWatch>,
}

impl std::fmt::Debug for PostgresDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the config: it holds the password.
        write!(f, "PostgresDriver({})", self.database)
    }
}

impl PostgresDriver {
    /// Connects to `postgres://user:pass@host:port/db?param=value` (or a libpq key-value
    /// string), with the `PG*` environment variables and the password file for what it leaves
    /// out, as libpq does; TLS as its `sslmode` says.
    pub fn connect(url: &str) -> Result<Self> {
        Self::with_config(Self::parse_config(url)?)
    }

    fn parse_config(url: &str) -> Result<Settings> {
        Settings::from_string(url)
    }

    fn with_config(config: Settings) -> Result<Self> {
        let database = config
            .get_dbname()
            .map(str::to_string)
            .or_else(|| config.get_user().map(str::to_string))
            .unwrap_or_default();
        let client = config.connect().map_err(|failure| {
            let (code, reason) = match failure {
                connect::Failure::Postgres(e) => {
                    (e.code().map(|c| c.code().to_string()), describe(&e))
                }
                connect::Failure::TimedOut(limit) => (
                    None,
                    format!(
                        "no session within {} s (connect_timeout)",
                        limit.as_secs_f64()
                    ),
                ),
            };
            let mut message = format!("cannot connect to database {database}: {reason}");
            for warning in &config.warnings {
                message.push_str(&format!("; note: {warning}"));
            }
            Error::Driver {
                backend: "postgres",
                code,
                message,
                statement: None,
            }
        })?;
        let warnings = config.warnings.clone();
        Ok(PostgresDriver {
            client,
            config,
            database,
            lock_session: None,
            warnings,
            timeouts: None,
            watch: None,
        })
    }

    /// A new session to the database under this driver's name, with the same timeouts.
    fn reconnect(&mut self) -> Result<()> {
        let fresh = PostgresDriver::with_config(self.config.clone())?;
        self.client = fresh.client;
        self.watch = None;
        if let Some(timeouts) = self.timeouts {
            self.execute(&timeout_settings(timeouts))?;
        }
        Ok(())
    }

    /// The database this driver is connected to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// A second connection to another database of the same server, with the same credentials.
    pub fn connect_sibling(&self, database: &str) -> Result<PostgresDriver> {
        let mut config = self.config.clone();
        config.dbname(database);
        Self::with_config(config)
    }

    /// The desired model as the server shows it: its CREATE script (a plan from the empty model)
    /// is applied to a scratch database of this server, which is inspected and dropped. Catalog
    /// spelling (`pg_get_viewdef`, `pg_get_expr`, generated names) then matches [`Driver::inspect`]
    /// of a live database, so the two compare equal when the schemas are the same.
    pub fn canonicalize(&mut self, desired: &Model) -> Result<Model> {
        let key = if canonical_cache::is_on() {
            canonical_cache::key(desired, &self.server_identity()?)
        } else {
            None
        };
        if let Some(model) = key.as_deref().and_then(canonical_cache::get) {
            return Ok(model);
        }
        let model = self.canonicalize_in_scratch(desired)?;
        if let Some(key) = &key {
            canonical_cache::put(key, &model);
        }
        Ok(model)
    }

    /// What a canonical model depends on besides itself: the server's version and the
    /// extensions (and versions) it would create.
    fn server_identity(&mut self) -> Result<String> {
        Ok(self
            .scalar(
                "SELECT version() || chr(10) || coalesce((SELECT string_agg(name || ' ' || coalesce(default_version, ''), ',' ORDER BY name) FROM pg_available_extensions), '')",
            )?
            .unwrap_or_default())
    }

    fn canonicalize_in_scratch(&mut self, desired: &Model) -> Result<Model> {
        let scratch = scratch_name();
        let quoted = quote_ident(&scratch);
        // The database may make sessions read-only by default (a side-by-side upgrade of a
        // read-only original); creating the scratch database is not a write to it.
        self.execute("SET default_transaction_read_only = off")?;
        let created = self.execute(&format!("CREATE DATABASE {quoted} TEMPLATE template0"));
        if let Err(err) = created {
            self.execute("RESET default_transaction_read_only")?;
            return Err(err);
        }
        let result = self.build_in(&scratch, desired);
        let dropped = self.execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"));
        self.execute("RESET default_transaction_read_only")?;
        let model = result?;
        dropped?;
        Ok(model)
    }

    fn build_in(&self, scratch: &str, desired: &Model) -> Result<Model> {
        let mut driver = self.connect_sibling(scratch)?;
        let script = creation_script(desired, Platform::Postgres);
        driver.begin()?;
        for batch in &script.batches {
            for statement in &batch.statements {
                if let Err(err) = driver.execute(statement) {
                    let _ = driver.rollback();
                    return Err(err);
                }
            }
        }
        driver.commit()?;
        driver.inspect()
    }

    fn simple(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let messages = self
            .client
            .simple_query(sql)
            .map_err(|e| driver_error(&e, Some(sql)))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Takes the session advisory lock `key` (SQL giving the key), waiting up to `wait`, then
    /// refusing with a message naming `database` and the session that holds it; says whom it
    /// waited behind, if it waited.
    fn advisory_lock(
        &mut self,
        key: &str,
        wait: Duration,
        database: &str,
    ) -> Result<Option<Waited>> {
        let started = Instant::now();
        let deadline = started + wait;
        let mut behind: Option<String> = None;
        loop {
            let got = self.scalar(&format!("SELECT pg_try_advisory_lock({key})"))?;
            if got.as_deref() == Some("t") {
                return Ok(behind.map(|behind| Waited {
                    waited: started.elapsed(),
                    behind,
                }));
            }
            if behind.is_none() {
                behind = Some(self.lock_holder(key));
            }
            if Instant::now() >= deadline {
                return Err(Error::Blocked {
                    reason: format!(
                        "another dac run holds the upgrade lock of database {database}: {}; waited {:.1} s (--lock-timeout sets the wait); try again when it has finished",
                        self.lock_holder(key),
                        wait.as_secs_f64()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The session holding the advisory lock `key`, as `pg_locks` and `pg_stat_activity` name it.
    fn lock_holder(&mut self, key: &str) -> String {
        let sql = include_str!("queries/lock_holder.sql").replace("$key", key);
        match self.simple(&sql) {
            Ok(rows) => {
                let holders: Vec<String> = rows
                    .into_iter()
                    .map(|row| {
                        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                        format!(
                            "pid {} (application_name {}, client {}, user {}, connected since {})",
                            cell(0),
                            cell(1),
                            cell(2),
                            cell(3),
                            cell(4)
                        )
                    })
                    .collect();
                if holders.is_empty() {
                    "a session that let go before it could be named".to_string()
                } else {
                    holders.join(", ")
                }
            }
            Err(err) => format!("a session that could not be named ({err})"),
        }
    }

    fn scalar(&mut self, sql: &str) -> Result<Option<String>> {
        Ok(self
            .simple(sql)?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .flatten())
    }
}

/// An empty PostgreSQL model (case-sensitive names).
pub(crate) fn empty_model() -> Model {
    let mut model =
        Model::empty(Dsp::from_short_name("postgres").expect("postgres is a known DSP"));
    model.collation_case_sensitive = true;
    model
}

fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The advisory-lock key of a database's upgrade lock, computed by the server from its name.
/// Advisory locks belong to the database of the session that takes them, so every command takes
/// it in the server's maintenance database (see [`maintenance_session`]): the target itself is
/// renamed, and its sessions ended, by side-by-side upgrades and rollbacks.
pub(super) fn lock_key(database: &str) -> String {
    format!(
        "hashtextextended({}, 0)",
        literal(&format!("dac upgrade lock: {database}"))
    )
}

/// A string literal.
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A session in the server's maintenance database (`postgres`, else `template1`), where
/// server-level statements run and the upgrade lock is taken.
pub(super) fn maintenance_session(config: &Settings) -> Result<PostgresDriver> {
    let mut last = None;
    for maintenance in ["postgres", "template1"] {
        let mut admin_config = config.clone();
        admin_config.dbname(maintenance);
        match PostgresDriver::with_config(admin_config) {
            Ok(admin) => return Ok(admin),
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or_else(|| Error::Invalid("no maintenance database".into())))
}

/// The server's message with SQLSTATE detail, hint and position.
fn describe(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(postgres::error::ErrorPosition::Original(pos)) = db.position() {
                text.push_str(&format!(" (at character {pos})"));
            }
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// The session settings of [`Timeouts`] (`0`: no limit, as PostgreSQL spells it).
pub(crate) fn timeout_settings(timeouts: Timeouts) -> String {
    format!(
        "SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms'",
        timeouts.lock.as_millis().max(1),
        timeouts.command.map_or(0, |c| c.as_millis().max(1))
    )
}

/// SQLSTATE of a lock wait cut short by `lock_timeout`.
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// SQLSTATE of a statement cancelled, among others by `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

impl PostgresDriver {
    /// A failed statement's error, saying which limit it ran into and who held the lock.
    fn timed_out(&self, err: &postgres::Error, sql: &str) -> Error {
        let mut error = driver_error(err, Some(sql));
        let (Some(timeouts), Error::Driver { code, message, .. }) = (self.timeouts, &mut error)
        else {
            return error;
        };
        match code.as_deref() {
            Some(LOCK_NOT_AVAILABLE) => {
                let blockers = self
                    .watch
                    .as_ref()
                    .map(blockers::BlockerWatch::blockers)
                    .unwrap_or_default();
                let by = if blockers.is_empty() {
                    "another session (it let go before it could be named)".to_string()
                } else {
                    blockers.join(", ")
                };
                *message = format!(
                    "waited longer than the lock timeout ({} s) for a lock held by {by}; the upgrade was undone (--lock-timeout sets the wait): {message}",
                    timeouts.lock.as_secs_f64()
                );
            }
            Some(QUERY_CANCELED) if message.contains("statement timeout") => {
                if let Some(limit) = timeouts.command {
                    *message = format!(
                        "ran longer than the command timeout ({} s); the upgrade was undone (--command-timeout sets the limit): {message}",
                        limit.as_secs_f64()
                    );
                }
            }
            _ => {}
        }
        error
    }
}

fn driver_error(err: &postgres::Error, statement: Option<&str>) -> Error {
    Error::Driver {
        backend: "postgres",
        code: err.code().map(|c| c.code().to_string()),
        message: describe(err),
        statement: statement.map(str::to_string),
    }
}

impl Driver for PostgresDriver {
    fn platform(&self) -> Platform {
        Platform::Postgres
    }

    fn canonicalize(&mut self, desired: &Model) -> Result<Model> {
        PostgresDriver::canonicalize(self, desired)
    }

    fn server_info(&mut self) -> Result<ServerInfo> {
        let version = self
            .scalar("SELECT current_setting('server_version')")?
            .unwrap_or_default();
        Ok(ServerInfo {
            platform: Platform::Postgres,
            version: format!("PostgreSQL {version}"),
        })
    }

    fn inspect(&mut self) -> Result<Model> {
        inspect::inspect(self)
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        match self.client.batch_execute(sql) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.timed_out(&e, sql)),
        }
    }

    fn set_timeouts(&mut self, timeouts: Timeouts) -> Result<()> {
        self.execute(&timeout_settings(timeouts))?;
        self.timeouts = Some(timeouts);
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        self.execute("BEGIN")?;
        if self.timeouts.is_some() {
            let pid = self
                .scalar("SELECT pg_backend_pid()")?
                .and_then(|p| p.parse().ok());
            self.watch = pid.and_then(|pid| blockers::BlockerWatch::start(&self.config, pid));
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let result = self.execute("COMMIT");
        self.watch = None;
        result
    }

    fn rollback(&mut self) -> Result<()> {
        let result = self.execute("ROLLBACK");
        self.watch = None;
        result
    }

    fn lock(&mut self, wait: Duration) -> Result<Option<Waited>> {
        if self.lock_session.is_some() {
            return Ok(None);
        }
        // A session of its own, in the maintenance database, as the side-by-side upgrade's
        // (PostgresServer::lock): one lock for every command that changes this database.
        let mut session = maintenance_session(&self.config)?;
        let database = self.database.clone();
        let waited = session.advisory_lock(&lock_key(&database), wait, &database)?;
        self.lock_session = Some(Box::new(session));
        // This session may be gone, or in another database by now: a side-by-side upgrade or
        // rollback that held the lock ended the sessions of the database and renamed it. Work on
        // the database now under the name.
        if let Err(err) = self.reconnect() {
            let _ = self.unlock();
            return Err(err);
        }
        Ok(waited)
    }

    fn unlock(&mut self) -> Result<()> {
        let Some(mut session) = self.lock_session.take() else {
            return Ok(());
        };
        session.scalar(&format!(
            "SELECT pg_advisory_unlock({})",
            lock_key(&self.database)
        ))?;
        Ok(())
    }

    fn has_rows(&mut self, table: &ObjectName) -> Result<bool> {
        let name = dialect_for(Platform::Postgres).quote_name(table);
        let found = self.scalar(&format!("SELECT EXISTS (SELECT 1 FROM {name})"))?;
        Ok(found.as_deref() == Some("t"))
    }

    fn estimated_size(&mut self, table: &ObjectName) -> Result<Option<u64>> {
        let name = dialect_for(Platform::Postgres).quote_name(table);
        let size = self.scalar(&format!(
            "SELECT pg_total_relation_size(to_regclass({}))",
            dialect_for(Platform::Postgres).string_literal(&name)
        ))?;
        Ok(size.and_then(|s| s.parse().ok()))
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        self.simple(sql)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_never_show_the_password() {
        let err = PostgresDriver::connect("postgres://u:s3cr3t@/db?port=notanumber")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn timeouts_are_session_settings() {
        let limits = Timeouts {
            lock: Duration::from_millis(1500),
            command: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            timeout_settings(limits),
            "SET lock_timeout = '1500ms'; SET statement_timeout = '60000ms'"
        );
        // No command timeout is PostgreSQL's 0; a zero lock wait would mean "no limit" too.
        let unbounded = Timeouts {
            lock: Duration::ZERO,
            command: None,
        };
        assert_eq!(
            timeout_settings(unbounded),
            "SET lock_timeout = '1ms'; SET statement_timeout = '0ms'"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
