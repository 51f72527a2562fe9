//! SQL Server: tiberius over a current-thread tokio runtime (TLS by rustls, no OpenSSL),
//! behind the synchronous [`Driver`] trait.
//!
//! - Connection strings: ADO.NET or `sqlserver://` URLs ([`config`]); encryption on unless the
//!   string says otherwise; no command timeout unless the string sets one; passwords never
//!   printed.
//! - Inspection: set-based catalog queries (`queries/*.sql`) into a [`inspect::Catalog`],
//!   mapped to a model by a pure function ([`inspect::model_from_catalog`]).
//! - Execution: text is split into `GO` batches ([`batches`]), run one by one; an error names
//!   the batch and the script line. Transactions run with `XACT_ABORT ON`; the upgrade lock is
//!   `sp_getapplock` (session-owned, exclusive).
//! - Registration: msdb's DAC tables through `sp_sysdac_*` where the login may write there,
//!   else an in-database registry (schema `[_dac]`) with a warning ([`registry`]).
//! - Whole databases (side by side): the server-level T-SQL [`SqlServerServer`] runs, as pure
//!   functions ([`server_sql`]).

pub mod batches;
mod change_tracking;
pub mod config;
pub mod inspect;
pub mod registry;
mod server;
pub mod server_sql;

pub use server::SqlServerServer;

use std::time::Duration;

use tiberius::{AuthMethod, Client, ColumnData, EncryptionLevel, Query};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use super::scratch::{creation_script, scratch_name};
use super::{Driver, ServerInfo, Timeouts};
use crate::model::{Model, ObjectName, Platform, kind};
use crate::{Error, Result};
use config::{Authentication, ConnectionConfig, Encrypt};

/// `[name]` with `]` doubled.
pub fn quote(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// `[a].[b]` for a multipart name.
pub fn quote_name(name: &ObjectName) -> String {
    name.parts().iter().map(quote).collect::<Vec<_>>().join(".")
}

/// `N'text'` with quotes doubled.
pub fn literal(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Text(String),
    Bytes(Vec<u8>),
}

impl Cell {
    fn into_text(self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Text(t) => Some(t),
            Cell::Bytes(b) => Some(format!("0x{}", hex_upper(&b))),
        }
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn cell(data: ColumnData<'static>) -> Cell {
    match data {
        ColumnData::U8(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string())),
        ColumnData::I16(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string())),
        ColumnData::I32(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string())),
        ColumnData::I64(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string())),
        ColumnData::F32(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string())),
        ColumnData::F64(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string())),
        ColumnData::Bit(v) => {
            v.map_or(Cell::Null, |v| Cell::Text(if v { "1" } else { "0" }.into()))
        }
        ColumnData::String(v) => v.map_or(Cell::Null, |v| Cell::Text(v.into_owned())),
        ColumnData::Guid(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string().to_uppercase())),
        ColumnData::Binary(v) => v.map_or(Cell::Null, |v| Cell::Bytes(v.into_owned())),
        ColumnData::Numeric(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string())),
        ColumnData::Xml(v) => v.map_or(Cell::Null, |v| Cell::Text(v.to_string())),
        other => {
            // Dates and times: the catalog queries convert theirs to text; elsewhere (probes,
            // test snapshots) the debug form is enough to compare values.
            Cell::Text(format!("{other:?}"))
        }
    }
}

type Connection = Client<Compat<TcpStream>>;

/// One result set: column names and rows.
type Fetched = (Vec<String>, Vec<Vec<Cell>>);

/// Where the registration lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegistryPlace {
    /// msdb's DAC tables, as SQL Server's own tools keep them.
    Msdb,
    /// The in-database fallback (schema `[_dac]`), with why msdb could not be used.
    InDatabase(String),
}

/// A connection to one SQL Server database.
pub struct SqlServerDriver {
    runtime: tokio::runtime::Runtime,
    client: Connection,
    config: ConnectionConfig,
    database: String,
    locked: bool,
    registry: Option<RegistryPlace>,
    /// The msdb instance id of this database's registration, once seen.
    msdb_instance: Option<String>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for SqlServerDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the config's password.
        write!(
            f,
            "SqlServerDriver({} {})",
            self.config.address(),
            self.database
        )
    }
}

/// The server's error as an engine error: message, number, severity, state, line.
fn server_error(err: tiberius::error::Error, statement: Option<&str>, context: &str) -> Error {
    match err {
        tiberius::error::Error::Server(token) => {
            let mut message = format!(
                "{context}{} (error {}, severity {}, state {}, line {}",
                token.message(),
                token.code(),
                token.class(),
                token.state(),
                token.line()
            );
            if !token.procedure().is_empty() {
                message.push_str(&format!(", procedure {}", token.procedure()));
            }
            message.push(')');
            Error::Driver {
                backend: "sqlserver",
                code: Some(token.code().to_string()),
                message,
                statement: statement.map(str::to_string),
            }
        }
        other => Error::Driver {
            backend: "sqlserver",
            code: None,
            message: format!("{context}{other}"),
            statement: statement.map(str::to_string),
        },
    }
}

fn tiberius_config(config: &ConnectionConfig) -> Result<tiberius::Config> {
    let mut c = tiberius::Config::new();
    c.host(&config.host);
    c.port(config.port);
    if let Some(db) = &config.database {
        c.database(db);
    }
    c.application_name(&config.application_name);
    match (&config.authentication, &config.user) {
        (Authentication::AccessToken, _) => {
            let token = Authentication::access_token(|name| std::env::var(name).ok())?;
            c.authentication(AuthMethod::aad_token(token.expose()));
        }
        (Authentication::SqlPassword, Some(user)) => {
            c.authentication(AuthMethod::sql_server(user, config.password.expose()))
        }
        (Authentication::SqlPassword, None) => {
            return Err(Error::Invalid(
                "the SQL Server connection string has no User Id: give User Id and Password (SQL authentication)".into(),
            ));
        }
    }
    c.encryption(match config.encrypt {
        Encrypt::On => EncryptionLevel::Required,
        Encrypt::Strict => EncryptionLevel::Strict,
        Encrypt::Off => EncryptionLevel::Off,
    });
    if config.trust_server_certificate {
        c.trust_cert();
    }
    if let Some(host) = &config.host_name_in_certificate {
        c.hostname_in_certificate(host);
    }
    c.handshake_timeout(Some(config.connect_timeout));
    c.command_timeout(config.command_timeout);
    Ok(c)
}

async fn open(config: &ConnectionConfig) -> Result<Connection> {
    let mut tib = tiberius_config(config)?;
    let mut address = config.address();
    // Azure SQL may redirect once to another gateway.
    for _ in 0..2 {
        let fail = |what: String| Error::Driver {
            backend: "sqlserver",
            code: None,
            message: format!("cannot connect to SQL Server at {address}: {what}"),
            statement: None,
        };
        let tcp = match tokio::time::timeout(config.connect_timeout, TcpStream::connect(&address))
            .await
        {
            Err(_) => {
                return Err(fail(format!(
                    "no answer within {} s",
                    config.connect_timeout.as_secs()
                )));
            }
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Ok(Ok(tcp)) => tcp,
        };
        tcp.set_nodelay(true).ok();
        match Client::connect(tib.clone(), tcp.compat_write()).await {
            Ok(client) => return Ok(client),
            Err(tiberius::error::Error::Routing { host, port }) => {
                tib.host(&host);
                tib.port(port);
                address = format!("{host}:{port}");
            }
            Err(tiberius::error::Error::Server(token)) => {
                return Err(Error::Driver {
                    backend: "sqlserver",
                    code: Some(token.code().to_string()),
                    message: format!(
                        "cannot connect to SQL Server at {address}: {} (error {})",
                        token.message(),
                        token.code()
                    ),
                    statement: None,
                });
            }
            Err(other) => return Err(fail(other.to_string())),
        }
    }
    Err(Error::Driver {
        backend: "sqlserver",
        code: None,
        message: format!("cannot connect to SQL Server at {address}: redirected more than once"),
        statement: None,
    })
}

/// Session settings every dac connection uses (those SSMS and sqlcmd use), so filtered
/// indexes, indexed views and computed columns behave as in a deployment script.
const SESSION_SETTINGS: &str = "SET ANSI_NULLS, ANSI_PADDING, ANSI_WARNINGS, ARITHABORT, CONCAT_NULL_YIELDS_NULL, QUOTED_IDENTIFIER ON; SET NUMERIC_ROUNDABORT OFF;";

/// The upgrade lock's resource: one per target database, the same for the [`Driver`] and the
/// [`Server`](crate::driver::Server) of a target (applock resources hold 255 characters, so
/// long names are hashed).
pub fn lock_resource(database: &str) -> String {
    use sha2::{Digest, Sha256};
    let text = format!("dac upgrade lock: {database}");
    if text.chars().count() <= 255 {
        return text;
    }
    let digest = Sha256::digest(database.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("dac upgrade lock: {hex}")
}

/// `sp_getapplock` for the upgrade lock of `database`, waiting up to `wait`; selects the return
/// code (0 granted, 1 granted after waiting, -1 timeout, -2 cancelled, -3 deadlock, -999 error).
/// Application locks belong to a database, so the lock is taken in `master` (a system
/// procedure called through `master.sys` runs there) whichever database the session is in:
/// an in-place upgrade's session and a side-by-side upgrade's (which renames the target) take
/// the same lock.
pub fn lock_statement(database: &str, wait: Duration) -> String {
    format!(
        "DECLARE @result int;\nEXEC @result = master.sys.sp_getapplock @Resource = {}, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = {}, @DbPrincipal = N'public';\nSELECT @result AS result;",
        literal(&lock_resource(database)),
        wait.as_millis().min(i32::MAX as u128)
    )
}

/// How each statement of the session waits for a lock before it fails with error 1222
/// (which, under `XACT_ABORT`, undoes the transaction).
pub fn lock_timeout_statement(wait: Duration) -> String {
    format!(
        "SET LOCK_TIMEOUT {};",
        wait.as_millis().clamp(1, i32::MAX as u128)
    )
}

/// `sp_releaseapplock` for the upgrade lock of `database`.
pub fn unlock_statement(database: &str) -> String {
    format!(
        "EXEC master.sys.sp_releaseapplock @Resource = {}, @LockOwner = N'Session', @DbPrincipal = N'public';",
        literal(&lock_resource(database))
    )
}

/// Starts the upgrade's transaction: any run-time error rolls the whole of it back.
pub const BEGIN: &str = "SET XACT_ABORT ON; BEGIN TRANSACTION;";
/// Commits it.
pub const COMMIT: &str = "IF @@TRANCOUNT > 0 COMMIT TRANSACTION;";
/// Rolls it back (a no-op when XACT_ABORT already did).
pub const ROLLBACK: &str = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;";

impl SqlServerDriver {
    /// Connects with an ADO.NET connection string or a `sqlserver://` URL.
    pub fn connect(text: &str) -> Result<Self> {
        let config = ConnectionConfig::parse(text)?;
        Self::with_config(config)
    }

    /// Connects; with `create`, a database that does not exist (login error 4060, "cannot
    /// open database") is created first from `master` (the login needs CREATE DATABASE).
    /// An existing database is opened directly, so logins that cannot open `master` (contained
    /// users) still work.
    pub fn connect_or_create(text: &str, create: bool) -> Result<Self> {
        let config = ConnectionConfig::parse(text)?;
        match Self::with_config(config.clone()) {
            Err(Error::Driver {
                code: Some(code), ..
            }) if create && code == "4060" && config.database.is_some() => {
                let database = config.database.clone().unwrap_or_default();
                let mut master = config.clone();
                master.database = Some("master".into());
                let mut admin = Self::with_config(master)?;
                let exists = admin.scalar(&format!(
                    "SELECT CASE WHEN DB_ID({}) IS NULL THEN 0 ELSE 1 END",
                    literal(&database)
                ))?;
                if exists.as_deref() == Some("0") {
                    admin.run_batch(&server_sql::create_database(&database), None)?;
                }
                drop(admin);
                Self::with_config(config)
            }
            other => other,
        }
    }

    fn with_config(config: ConnectionConfig) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Driver {
                backend: "sqlserver",
                code: None,
                message: format!("cannot start the I/O runtime: {e}"),
                statement: None,
            })?;
        let client = runtime.block_on(open(&config))?;
        let mut driver = SqlServerDriver {
            runtime,
            client,
            database: config.database.clone().unwrap_or_default(),
            config,
            locked: false,
            registry: None,
            msdb_instance: None,
            warnings: Vec::new(),
        };
        driver.run_batch(SESSION_SETTINGS, None)?;
        if driver.database.is_empty() {
            driver.database = driver.scalar("SELECT DB_NAME()")?.unwrap_or_default();
        }
        // Where registrations go is found now, outside any transaction: the probe may fail, and
        // under XACT_ABORT a failure inside the upgrade's transaction would doom it.
        driver.registry_place();
        Ok(driver)
    }

    /// The database this driver is connected to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// A second connection to another database of the same server, with the same login.
    pub fn connect_sibling(&self, database: &str) -> Result<SqlServerDriver> {
        let mut config = self.config.clone();
        config.database = Some(database.to_string());
        Self::with_config(config)
    }

    /// Runs one batch (no `GO` inside) and returns its result sets as cells with column names.
    fn fetch(&mut self, sql: &str) -> Result<Vec<Fetched>> {
        let client = &mut self.client;
        self.runtime.block_on(async {
            let stream = client
                .simple_query(sql)
                .await
                .map_err(|e| server_error(e, Some(sql), ""))?;
            let results = stream
                .into_results()
                .await
                .map_err(|e| server_error(e, Some(sql), ""))?;
            Ok(results
                .into_iter()
                .map(|rows| {
                    let columns = rows
                        .first()
                        .map(|r| r.columns().iter().map(|c| c.name().to_string()).collect())
                        .unwrap_or_default();
                    let cells = rows
                        .into_iter()
                        .map(|r| r.into_iter().map(cell).collect())
                        .collect();
                    (columns, cells)
                })
                .collect())
        })
    }

    /// Runs one batch with `@P1...` parameters.
    fn fetch_with(&mut self, sql: &str, params: &[registry::Param]) -> Result<Vec<Vec<Cell>>> {
        let client = &mut self.client;
        self.runtime.block_on(async {
            let mut query = Query::new(sql);
            for p in params {
                match p {
                    registry::Param::Text(t) => query.bind(t.clone()),
                    registry::Param::Bytes(b) => query.bind(b.clone()),
                    registry::Param::Int(i) => query.bind(*i),
                    registry::Param::Null => query.bind(Option::<String>::None),
                }
            }
            let stream = query
                .query(client)
                .await
                .map_err(|e| server_error(e, Some(sql), ""))?;
            let rows = stream
                .into_first_result()
                .await
                .map_err(|e| server_error(e, Some(sql), ""))?;
            Ok(rows
                .into_iter()
                .map(|r| r.into_iter().map(cell).collect())
                .collect())
        })
    }

    fn run_batch(&mut self, sql: &str, context: Option<&str>) -> Result<()> {
        let client = &mut self.client;
        self.runtime.block_on(async {
            let stream = client
                .simple_query(sql)
                .await
                .map_err(|e| server_error(e, Some(sql), context.unwrap_or("")))?;
            stream
                .into_results()
                .await
                .map_err(|e| server_error(e, Some(sql), context.unwrap_or("")))?;
            Ok(())
        })
    }

    fn scalar(&mut self, sql: &str) -> Result<Option<String>> {
        Ok(self
            .fetch(sql)?
            .into_iter()
            .next()
            .and_then(|(_, rows)| rows.into_iter().next())
            .and_then(|r| r.into_iter().next())
            .and_then(Cell::into_text))
    }

    /// Runs every catalog query into a [`inspect::Catalog`].
    pub fn catalog(&mut self) -> Result<inspect::Catalog> {
        let mut catalog = inspect::Catalog::default();
        for (name, sql) in inspect::QUERIES {
            let mut sets = self
                .fetch(sql)
                .map_err(|e| e.in_context(&format!("catalog query {name}: ")))?;
            catalog.sets.insert(
                (*name).to_string(),
                result_set(sets.pop().unwrap_or_default()),
            );
        }
        Ok(catalog)
    }

    /// The desired model as this server shows it: its CREATE script is run in a scratch
    /// database of this server, which is inspected and dropped, so catalog spelling
    /// (`([a]>(0))`, type defaults) matches [`Driver::inspect`]. Database options are taken
    /// from the live database: dac does not change them. Where the login may not create
    /// databases, the desired model is used as built, with a warning.
    pub fn canonicalize(&mut self, desired: &Model) -> Result<Model> {
        let scratch = scratch_name();
        let mut model = match self.run_batch(&server_sql::create_database(&scratch), None) {
            Err(err) => {
                self.warnings.push(format!(
                    "cannot create a scratch database to canonicalize the package ({err}); comparing with the package as built, so expressions may show spelling differences"
                ));
                desired.clone()
            }
            Ok(()) => {
                let result = self.build_in(&scratch, desired);
                let mut dropped = Ok(());
                for statement in server_sql::drop_database(&scratch) {
                    dropped = dropped.and_then(|()| self.run_batch(&statement, None));
                }
                let model = result?;
                dropped?;
                model
            }
        };
        // Database options, as the live database has them.
        let live = live_database_options(self)?;
        model.elements.retain(|e| e.kind != kind::DATABASE_OPTIONS);
        model.elements.extend(live);
        model.dsp = desired.dsp.clone();
        model.sort_elements();
        Ok(model)
    }

    fn build_in(&self, scratch: &str, desired: &Model) -> Result<Model> {
        let mut driver = self.connect_sibling(scratch)?;
        let script = creation_script(desired, Platform::SqlServer);
        for batch in &script.batches {
            for statement in &batch.statements {
                driver.execute(statement).map_err(|e| {
                    e.in_context(&format!(
                        "canonicalizing the package: step {}: ",
                        batch.comment
                    ))
                })?;
            }
        }
        driver.inspect()
    }

    /// Warnings gathered so far (registry fallback, canonicalization, inspection notes).
    /// Each once, in the order they were first given (an inspection runs again for the
    /// canonicalized package and the drift check).
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        std::mem::take(&mut self.warnings)
            .into_iter()
            .filter(|w| seen.insert(w.clone()))
            .collect()
    }
}

/// A fetched result set as the catalog mapping reads it (every value as text).
fn result_set((columns, rows): Fetched) -> inspect::ResultSet {
    inspect::ResultSet {
        columns,
        rows: rows
            .into_iter()
            .map(|r| r.into_iter().map(Cell::into_text).collect())
            .collect(),
    }
}

/// The live database's `SqlDatabaseOptions` element alone.
fn live_database_options(driver: &mut SqlServerDriver) -> Result<Vec<crate::model::Element>> {
    let sql = inspect::QUERIES
        .iter()
        .find(|(n, _)| *n == "database")
        .map_or("", |(_, sql)| *sql);
    let mut sets = driver.fetch(sql)?;
    let mut catalog = inspect::Catalog::default();
    catalog.sets.insert(
        "database".into(),
        result_set(sets.pop().unwrap_or_default()),
    );
    let inspection = inspect::model_from_catalog(&catalog)?;
    Ok(inspection
        .model
        .elements
        .into_iter()
        .filter(|e| e.kind == kind::DATABASE_OPTIONS)
        .collect())
}

impl SqlServerDriver {
    /// tiberius takes the command timeout when it connects: a new session gets the new one.
    fn reconnect_with_command_timeout(&mut self, timeout: Duration) -> Result<()> {
        if self.locked {
            return Err(Error::Invalid(
                "the command timeout is set before the upgrade lock is taken".into(),
            ));
        }
        self.config.command_timeout = Some(timeout);
        self.client = self.runtime.block_on(open(&self.config))?;
        self.run_batch(SESSION_SETTINGS, None)
    }
}

impl Driver for SqlServerDriver {
    fn set_timeouts(&mut self, timeouts: Timeouts) -> Result<()> {
        // Without --command-timeout, the connection string's `Command Timeout` stands.
        if let Some(command) = timeouts.command
            && self.config.command_timeout != Some(command)
        {
            self.reconnect_with_command_timeout(command)?;
        }
        self.run_batch(&lock_timeout_statement(timeouts.lock), None)
    }

    fn platform(&self) -> Platform {
        Platform::SqlServer
    }

    fn server_info(&mut self) -> Result<ServerInfo> {
        let version = self
            .scalar("SELECT CONVERT(nvarchar(4000), @@VERSION)")?
            .unwrap_or_default();
        Ok(ServerInfo {
            platform: Platform::SqlServer,
            version: version.lines().next().unwrap_or("").trim().to_string(),
        })
    }

    fn inspect(&mut self) -> Result<Model> {
        let catalog = self.catalog()?;
        let inspection = inspect::model_from_catalog(&catalog)?;
        self.warnings.extend(inspection.notes);
        Ok(inspection.model)
    }

    /// Runs script text batch by batch (split on `GO` lines); an error names the batch, its
    /// first line in the script and the server's line within the batch.
    fn execute(&mut self, sql: &str) -> Result<()> {
        let batches = batches::split_batches(sql);
        let n = batches.len();
        for (i, batch) in batches.iter().enumerate() {
            for _ in 0..batch.repeat {
                let context = if n > 1 {
                    format!(
                        "batch {} of {n} (script line {}): ",
                        i + 1,
                        batch.start_line
                    )
                } else {
                    String::new()
                };
                self.run_batch(&batch.text, Some(&context))?;
            }
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        self.run_batch(BEGIN, None)
    }

    fn commit(&mut self) -> Result<()> {
        self.run_batch(COMMIT, None)
    }

    fn rollback(&mut self) -> Result<()> {
        self.run_batch(ROLLBACK, None)
    }

    fn lock(&mut self, wait: Duration) -> Result<Option<crate::driver::Waited>> {
        if self.locked {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let result = self
            .scalar(&lock_statement(&self.database.clone(), wait))?
            .and_then(|r| r.parse::<i64>().ok())
            .unwrap_or(-999);
        if result >= 0 {
            self.locked = true;
            // 1: granted after waiting; SQL Server does not say behind whom.
            return Ok((result == 1).then(|| crate::driver::Waited {
                waited: started.elapsed(),
                behind: "another dac run".into(),
            }));
        }
        Err(Error::Blocked {
            reason: format!(
                "another dac run holds the upgrade lock of database {} (waited {} s, sp_getapplock returned {result}); try again when it has finished",
                self.database,
                wait.as_secs_f64()
            ),
        })
    }

    fn unlock(&mut self) -> Result<()> {
        if !self.locked {
            return Ok(());
        }
        self.locked = false;
        self.run_batch(&unlock_statement(&self.database.clone()), None)
    }

    fn has_rows(&mut self, table: &ObjectName) -> Result<bool> {
        let found = self.scalar(&format!(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM {}) THEN 1 ELSE 0 END",
            quote_name(table)
        ))?;
        Ok(found.as_deref() == Some("1"))
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        Ok(self
            .fetch(sql)?
            .into_iter()
            .next()
            .map(|(_, rows)| {
                rows.into_iter()
                    .map(|r| r.into_iter().map(Cell::into_text).collect())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn canonicalize(&mut self, desired: &Model) -> Result<Model> {
        SqlServerDriver::canonicalize(self, desired)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        SqlServerDriver::take_warnings(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_bracketed() {
        assert_eq!(quote("a]b"), "[a]]b]");
        assert_eq!(quote_name(&ObjectName::new(["dbo", "x]y"])), "[dbo].[x]]y]");
        assert_eq!(literal("it's"), "N'it''s'");
    }

    #[test]
    fn lock_timeouts_are_milliseconds() {
        assert_eq!(
            lock_timeout_statement(Duration::from_secs(5)),
            "SET LOCK_TIMEOUT 5000;"
        );
        assert_eq!(
            lock_timeout_statement(Duration::from_millis(1500)),
            "SET LOCK_TIMEOUT 1500;"
        );
        // 0 would mean "do not wait at all" and -1 "wait forever": neither is a timeout.
        assert_eq!(
            lock_timeout_statement(Duration::ZERO),
            "SET LOCK_TIMEOUT 1;"
        );
    }

    #[test]
    fn lock_statements() {
        let sql = lock_statement("Shop", Duration::from_secs(10));
        assert!(sql.contains("master.sys.sp_getapplock"), "{sql}");
        assert!(sql.contains("N'dac upgrade lock: Shop'"), "{sql}");
        assert!(sql.contains("@LockTimeout = 10000"), "{sql}");
        assert!(sql.contains("@LockOwner = N'Session'"), "{sql}");
        assert!(unlock_statement("Shop").contains("master.sys.sp_releaseapplock"));
        let long = "x".repeat(300);
        assert!(lock_resource(&long).chars().count() <= 255);
    }

    #[test]
    fn unreachable_servers_fail_fast_and_clearly() {
        // A port nothing listens on, on the loopback interface.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let text = format!(
            "Server=tcp:127.0.0.1,{port};Database=app;User Id=sa;Password=s3cr3t;Connect Timeout=5"
        );
        let err = SqlServerDriver::connect(&text).unwrap_err().to_string();
        assert!(
            err.contains(&format!("cannot connect to SQL Server at 127.0.0.1:{port}")),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.lines().count() == 1, "{err}");
    }

    #[test]
    fn a_login_is_required() {
        let err = tiberius_config(&ConnectionConfig::parse("Server=h").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("User Id"), "{err}");
    }
}
