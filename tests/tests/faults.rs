//! The fault proofs of issue 5: the shipped `dac` binary is killed (`DAC_FAULT`, an abort: no
//! destructor, no rollback, as `kill -9` or a power cut) at every named point of the in-place
//! upgrade, the side-by-side upgrade and the rollback, on SQLite and PostgreSQL, and the
//! PostgreSQL server is stopped abruptly while dac works; after each crash nothing is lost.
//!
//! Each case starts from a copy of one database at v1 with data (`fixtures/projects/shop-*-v1`,
//! a few thousand rows, the PostgreSQL `order_lines` table a few MB so a copy is interrupted
//! in the middle of it) and checks, with what the test computes itself (the schema inspected by
//! `dac_engine`, row counts, a checksum per table over every row in primary-key order with the
//! columns in name order, the generators, the registration):
//!
//! 1. **at rest**, right after the crash, before any other run: no data is lost and nothing is
//!    half-done without a journal to finish or undo it. In place, that is the whole invariant:
//!    the database is exactly v1 or exactly v2, its registration agrees, nothing is left behind,
//!    it is writable. Side by side, a crash cannot clean up after itself: the new database and
//!    the read-only mark stay until the next run, so the rule is that the original is intact
//!    (under the target's name or, past the switch, the retained name), exactly once; the target
//!    is v1, v2, or absent only in the middle of the switch; and everything out of place is
//!    covered by a journal (a switch under way needs the complete new database);
//! 2. **settled**, after `dac recover --target T` (what every run does first): the database is
//!    exactly v1 or exactly v2 (in the direction the crash point requires), the registration
//!    agrees, no temporary database is left, the target is writable; after a completed
//!    side-by-side upgrade the original is retained, intact and read-only;
//! 3. **final**: the same command again without a fault (a rollback, then the upgrade again,
//!    for rollback cases) ends at v2, settled.
//!
//! `faults: survived S/N` goes to `target/dac-summary.txt`; the test fails unless S = N, with one
//! line per failed case saying which case and what was wrong. Cases run in parallel (separate
//! databases; `DAC_FAULT_THREADS`, default 3); `DAC_FAULT_ONLY=<text>` runs the cases whose
//! label contains the text.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use dac_engine::compare::{CompareOptions, compare};
use dac_engine::driver::{Driver, PostgresDriver, Registry, SqliteDriver, Target, connect};
use dac_engine::model::Model;
use dac_engine::package::{self, ReadOptions};
use dac_engine::registry::Registration;
use dac_engine::upgrade::{self, Phase};
use dac_tests::binary::dac_binary;

/// Rows of the fixture tables (the last one is the big one).
const CUSTOMERS: u32 = 2000;
const PRODUCTS: u32 = 500;
const ORDERS: u32 = 5000;
/// PostgreSQL: over 1 MB (a row is about 130 bytes), so a copy is many chunks long.
const ORDER_LINES: u32 = 20_000;
/// SQLite: a copy of this many rows is a few progress ticks (100k VM instructions) long.
const ORDER_LINES_SQLITE: u32 = 10_000;

/// How long one dac run may take before the case fails.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// SIGABRT: what `DAC_FAULT` dies of.
const SIGABRT: i32 = 6;

/// How a dac run ended.
struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        let how = match (self.code, self.signal) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => "unknown end".into(),
        };
        format!(
            "{how}\n  stdout: {}\n  stderr: {}",
            self.stdout.trim().replace('\n', "\n          "),
            self.stderr.trim().replace('\n', "\n          ")
        )
    }

    fn aborted(&self) -> bool {
        self.signal == Some(SIGABRT)
    }
}

fn dac_command(args: &[&str], fault: Option<&str>) -> Command {
    let mut cmd = Command::new(dac_binary());
    cmd.args(args)
        .env_remove("DAC_FAULT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(fault) = fault {
        cmd.env("DAC_FAULT", fault);
    }
    cmd
}

/// Runs dac to its end (killed after [`RUN_LIMIT`]).
fn dac(args: &[&str], fault: Option<&str>) -> Run {
    let child = dac_command(args, fault).spawn().expect("run dac");
    finish(child)
}

fn finish(mut child: Child) -> Run {
    let started = Instant::now();
    // Drain the pipes in threads so a chatty run never blocks on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for dac") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            break child.wait().expect("wait for dac");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        signal: status.signal(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

fn expect_ok(what: &str, run: &Run) -> Result<(), String> {
    if run.code == Some(0) {
        Ok(())
    } else {
        Err(format!("{what} failed: {}", run.describe()))
    }
}

// ---------------------------------------------------------------------------------------------
// Platforms, sites and snapshots

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }
}

/// What a database holds, as the test sees it.
#[derive(Clone)]
struct Snapshot {
    schema: Model,
    /// Table -> (rows, SHA-256 over every row in primary-key order).
    tables: BTreeMap<String, (usize, String)>,
    /// Sequence or AUTOINCREMENT counter -> position.
    generators: BTreeMap<String, String>,
    /// Registered (version, model hash).
    registration: Option<(String, String)>,
}

/// What a snapshot is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Absent,
    V1,
    V2,
    Other(String),
}

fn registration_of(package: &Path) -> (String, String) {
    let package = package::read(package, &ReadOptions::default()).expect("read package");
    let registration = Registration::of(&package).expect("registration");
    (registration.version, registration.model_hash)
}

/// The differences of `got` from `want`, one line each; empty when they are the same.
fn differences(got: &Snapshot, want: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let options = CompareOptions {
        drop_objects_not_in_source: true,
        ..CompareOptions::default()
    };
    let diff = compare(&want.schema, &got.schema, &options);
    if !diff.is_empty() {
        out.push(format!(
            "schema differs:\n{}",
            upgrade::describe_drift(&diff)
        ));
    }
    let names: std::collections::BTreeSet<&String> =
        got.tables.keys().chain(want.tables.keys()).collect();
    for name in names {
        match (got.tables.get(name), want.tables.get(name)) {
            (Some(g), Some(w)) if g == w => {}
            (Some(g), Some(w)) => out.push(format!(
                "table {name}: {} rows (checksum {}) where {} rows (checksum {}) were expected",
                g.0,
                &g.1[..12],
                w.0,
                &w.1[..12]
            )),
            (Some(_), None) => out.push(format!("table {name} should not be there")),
            (None, _) => out.push(format!("table {name} is missing")),
        }
    }
    if got.generators != want.generators {
        out.push(format!(
            "generators {:?} where {:?} were expected",
            got.generators, want.generators
        ));
    }
    if got.registration != want.registration {
        out.push(format!(
            "registered as {:?} where {:?} was expected",
            got.registration.as_ref().map(|r| &r.0),
            want.registration.as_ref().map(|r| &r.0)
        ));
    }
    out
}

/// A 128-bit checksum: two independent 64-bit multiply-rotate lanes over 8-byte words. Not
/// cryptographic, but any lost, added, changed or reordered value changes it, and it is cheap in
/// a debug build (SHA-256 took most of a snapshot's time).
struct Checksum {
    a: u64,
    b: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            a: 0x243f_6a88_85a3_08d3,
            b: 0x1319_8a2e_0370_7344,
        }
    }
}

impl Checksum {
    fn word(&mut self, w: u64) {
        self.a = (self.a ^ w)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
        self.b = (self.b ^ w.rotate_left(17))
            .wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
            .rotate_left(31)
            .wrapping_add(self.a);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(word) ^ (rest.len() as u64) << 59);
        }
    }

    fn finish(&mut self) -> String {
        self.word(0x5bd1_e995);
        format!("{:016x}{:016x}", self.a, self.b)
    }
}

fn db_error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn cell(rows: &[Vec<Option<String>>]) -> Option<String> {
    rows.first().and_then(|r| r.first()).cloned().flatten()
}

fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn pg_ident(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A snapshot of the SQLite database at `path`.
fn sqlite_snapshot(path: &Path) -> Result<Snapshot, String> {
    let mut driver = SqliteDriver::open(path, false).map_err(db_error)?;
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db_error)?;
    let schema = driver.inspect().map_err(db_error)?;
    let registration = driver
        .read_registration()
        .map_err(db_error)?
        .map(|r| (r.version, r.model_hash));
    let names: Vec<String> = driver
        .query(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name NOT LIKE '\\_dac\\_%' ESCAPE '\\' ORDER BY name",
        )
        .map_err(db_error)?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let mut tables = BTreeMap::new();
    for name in names {
        let columns = driver
            .query(&format!(
                "SELECT name, pk FROM pragma_table_info({}) ORDER BY name",
                sql_literal(&name)
            ))
            .map_err(db_error)?;
        let mut keys: Vec<(i64, String)> = columns
            .iter()
            .filter_map(|r| {
                let pk: i64 = r.get(1)?.as_ref()?.parse().ok()?;
                (pk > 0).then(|| (pk, r[0].clone().unwrap_or_default()))
            })
            .collect();
        keys.sort();
        let quote = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
        let select: Vec<String> = columns
            .iter()
            .filter_map(|r| r[0].as_deref())
            .map(quote)
            .collect();
        let order = if keys.is_empty() {
            "rowid".to_string()
        } else {
            keys.iter()
                .map(|(_, c)| quote(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {order}",
            select.join(", "),
            quote(&name)
        );
        tables.insert(name, sqlite_rows(&conn, &sql, select.len())?);
    }
    let mut generators = BTreeMap::new();
    let has_sequence = driver
        .query("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'")
        .map_err(db_error)?;
    if cell(&has_sequence).as_deref() == Some("1") {
        for row in driver
            .query(
                "SELECT name, seq FROM sqlite_sequence WHERE name NOT LIKE '\\_dac\\_%' ESCAPE '\\' ORDER BY name",
            )
            .map_err(db_error)?
        {
            if let [Some(name), seq] = row.as_slice() {
                generators.insert(name.clone(), seq.clone().unwrap_or_default());
            }
        }
    }
    Ok(Snapshot {
        schema,
        tables,
        generators,
        registration,
    })
}

/// Rows and checksum of a query's rows, every value with its storage class.
fn sqlite_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    columns: usize,
) -> Result<(usize, String), String> {
    use rusqlite::types::ValueRef;
    let mut statement = conn.prepare(sql).map_err(db_error)?;
    let mut rows = statement.query([]).map_err(db_error)?;
    let mut checksum = Checksum::default();
    let mut count = 0;
    while let Some(row) = rows.next().map_err(db_error)? {
        count += 1;
        for i in 0..columns {
            match row.get_ref(i).map_err(db_error)? {
                ValueRef::Null => checksum.word(0),
                ValueRef::Integer(n) => {
                    checksum.word(1);
                    checksum.word(n.cast_unsigned());
                }
                ValueRef::Real(f) => {
                    checksum.word(2);
                    checksum.word(f.to_bits());
                }
                ValueRef::Text(t) => {
                    checksum.word(3 + ((t.len() as u64) << 8));
                    checksum.bytes(t);
                }
                ValueRef::Blob(b) => {
                    checksum.word(4 + ((b.len() as u64) << 8));
                    checksum.bytes(b);
                }
            }
        }
        checksum.word(u64::MAX);
    }
    Ok((count, checksum.finish()))
}

/// A snapshot of the PostgreSQL database at `url`.
fn postgres_snapshot(url: &str) -> Result<Snapshot, String> {
    let mut driver = PostgresDriver::connect(url).map_err(db_error)?;
    let schema = driver.inspect().map_err(db_error)?;
    let registration = driver
        .read_registration()
        .map_err(db_error)?
        .map(|r| (r.version, r.model_hash));
    let tables_sql = "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.oid FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1";
    let mut tables = BTreeMap::new();
    for row in driver.query(tables_sql).map_err(db_error)? {
        let [Some(name), Some(oid)] = row.as_slice() else {
            continue;
        };
        let columns: Vec<String> = driver
            .query(&format!(
                "SELECT attname FROM pg_attribute WHERE attrelid = {oid} AND attnum > 0 AND NOT attisdropped ORDER BY attname"
            ))
            .map_err(db_error)?
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect();
        let keys: Vec<String> = driver
            .query(&format!(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
                 WHERE i.indrelid = {oid} AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)"
            ))
            .map_err(db_error)?
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect();
        // Every value as text with its length (NULL apart), columns in name order, rows in
        // key order: md5 over that, computed by the server.
        let values: Vec<String> = columns
            .iter()
            .map(|c| {
                let c = pg_ident(c);
                format!("coalesce(length({c}::text) || ':' || {c}::text, 'n')")
            })
            .collect();
        let order = if keys.is_empty() {
            format!("concat_ws(',', {})", values.join(", "))
        } else {
            keys.iter()
                .map(|c| format!("t.{}", pg_ident(c)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sums = driver
            .query(&format!(
                "SELECT count(*), md5(coalesce(string_agg(concat_ws(',', {}), E'\\n' ORDER BY {order}), '')) FROM {name} t",
                values.join(", ")
            ))
            .map_err(db_error)?;
        let (Some(count), Some(md5)) = (
            sums.first().and_then(|r| r.first()).cloned().flatten(),
            sums.first().and_then(|r| r.get(1)).cloned().flatten(),
        ) else {
            return Err(format!("no checksum for {name}"));
        };
        tables.insert(name.clone(), (count.parse().unwrap_or(0), md5));
    }
    let mut generators = BTreeMap::new();
    for row in driver
        .query(
            "SELECT schemaname || '.' || sequencename, coalesce(last_value::text, 'unused') FROM pg_sequences \
             WHERE schemaname <> '_dac' ORDER BY 1",
        )
        .map_err(db_error)?
    {
        if let [Some(name), Some(value)] = row.as_slice() {
            generators.insert(name.clone(), value.clone());
        }
    }
    Ok(Snapshot {
        schema,
        tables,
        generators,
        registration,
    })
}

/// One case's database: a SQLite file in a directory of its own, or a PostgreSQL database.
struct Site {
    kind: Kind,
    /// SQLite: the database file (its directory holds nothing else of other cases).
    path: PathBuf,
    /// PostgreSQL: the database name.
    name: String,
    /// Kept alive for the case (SQLite).
    _dir: Option<tempfile::TempDir>,
}

impl Site {
    fn target(&self) -> String {
        match self.kind {
            Kind::Sqlite => format!("sqlite:{}", self.path.display()),
            Kind::Postgres => pg().url(&self.name),
        }
    }

    /// The database name of the target as the Server trait spells it.
    fn database(&self) -> String {
        match self.kind {
            Kind::Sqlite => self.path.to_string_lossy().into_owned(),
            Kind::Postgres => self.name.clone(),
        }
    }

    fn temporary(&self) -> String {
        match self.kind {
            Kind::Sqlite => format!("{}.dac-new", self.database()),
            Kind::Postgres => {
                let mut prefix = self.name.clone();
                while prefix.len() + "__dac_new".len() > 63 {
                    prefix.pop();
                }
                format!("{prefix}__dac_new")
            }
        }
    }

    fn exists(&self, database: &str) -> Result<bool, String> {
        match self.kind {
            Kind::Sqlite => Ok(Path::new(database).exists()),
            Kind::Postgres => {
                let rows = admin_query(&format!(
                    "SELECT count(*) FROM pg_database WHERE datname = {}",
                    sql_literal(database)
                ))?;
                Ok(cell(&rows).as_deref() == Some("1"))
            }
        }
    }

    /// The retained originals of side-by-side upgrades (`<stem>.v<version>-<stamp><ext>`,
    /// `<name>__v<version>_<stamp>`).
    fn retained(&self) -> Result<Vec<String>, String> {
        match self.kind {
            Kind::Sqlite => {
                let dir = self.path.parent().expect("case directory");
                let stem = self
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut out: Vec<String> = std::fs::read_dir(dir)
                    .map_err(db_error)?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        let name = p.file_name().unwrap_or_default().to_string_lossy();
                        name.starts_with(&format!("{stem}.v")) && name.ends_with(".db")
                    })
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                out.sort();
                Ok(out)
            }
            Kind::Postgres => Ok(admin_query(&format!(
                "SELECT datname FROM pg_database WHERE starts_with(datname, {}) ORDER BY 1",
                sql_literal(&format!("{}__v", self.name))
            ))?
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()),
        }
    }

    /// SQLite: dac's change-capture objects (`_dac_capture:*` triggers and logs) in the
    /// target and the retained originals; none on PostgreSQL, whose stream (a replication slot)
    /// is checked where the server has logical decoding.
    fn capture_left(&self) -> Result<Vec<String>, String> {
        if self.kind != Kind::Sqlite {
            return Ok(Vec::new());
        }
        let mut left = Vec::new();
        for database in std::iter::once(self.database()).chain(self.retained()?) {
            if !Path::new(&database).exists() {
                continue;
            }
            let conn = rusqlite::Connection::open_with_flags(
                &database,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(db_error)?;
            let mut statement = conn
                .prepare(
                    "SELECT type || ' ' || name FROM sqlite_schema \
                     WHERE name LIKE '\\_dac\\_capture%' ESCAPE '\\'",
                )
                .map_err(db_error)?;
            let names = statement
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(db_error)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_error)?;
            left.extend(names.into_iter().map(|n| format!("{n} in {database}")));
        }
        Ok(left)
    }

    /// A snapshot of one of the site's databases. A PostgreSQL database that refuses
    /// connections (sealed by a run that died) is opened for the snapshot and closed again.
    fn snapshot(&self, database: &str) -> Result<Snapshot, String> {
        match self.kind {
            Kind::Sqlite => sqlite_snapshot(Path::new(database)),
            Kind::Postgres => {
                let allowed = admin_query(&format!(
                    "SELECT datallowconn FROM pg_database WHERE datname = {}",
                    sql_literal(database)
                ))?;
                let sealed = cell(&allowed).as_deref() == Some("f");
                if sealed {
                    admin_execute(&format!(
                        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true",
                        pg_ident(database)
                    ))?;
                }
                let snapshot = postgres_snapshot(&pg().url(database));
                if sealed {
                    admin_execute(&format!(
                        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
                        pg_ident(database)
                    ))?;
                }
                snapshot
            }
        }
    }

    /// `Ok` when applications can write the database, else why not. SQLite: the file keeps its
    /// write permission (dac's read-only mark) and a write statement runs; PostgreSQL: the
    /// database takes connections, does not default to read-only transactions, and a write
    /// statement runs. The write statements change no row.
    fn writable(&self, database: &str) -> Result<(), String> {
        match self.kind {
            Kind::Sqlite => {
                let meta = std::fs::metadata(database).map_err(db_error)?;
                if meta.permissions().readonly() {
                    return Err(format!("{database} has no write permission (read-only)"));
                }
                let conn = rusqlite::Connection::open(database).map_err(db_error)?;
                conn.execute_batch("UPDATE customers SET name = name WHERE 0")
                    .map_err(|e| format!("{database} takes no writes: {e}"))
            }
            Kind::Postgres => {
                let rows = admin_query(&format!(
                    "SELECT d.datallowconn, EXISTS (SELECT 1 FROM pg_db_role_setting s, unnest(s.setconfig) c \
                     WHERE s.setdatabase = d.oid AND s.setrole = 0 AND lower(c) IN ('default_transaction_read_only=on', 'default_transaction_read_only=true')) \
                     FROM pg_database d WHERE d.datname = {}",
                    sql_literal(database)
                ))?;
                match rows.first().map(Vec::as_slice) {
                    Some([Some(allow), Some(read_only)]) => {
                        if allow != "t" {
                            return Err(format!(
                                "{database} refuses connections (datallowconn false)"
                            ));
                        }
                        if read_only == "t" {
                            return Err(format!("{database} has default_transaction_read_only=on"));
                        }
                    }
                    _ => return Err(format!("{database} is not in pg_database")),
                }
                let mut driver = PostgresDriver::connect(&pg().url(database)).map_err(db_error)?;
                driver
                    .execute("UPDATE customers SET name = name WHERE false")
                    .map_err(|e| format!("{database} takes no writes: {e}"))
            }
        }
    }

    /// Whether a PostgreSQL database refuses connections (`ALLOW_CONNECTIONS false`: sealed).
    fn sealed(&self, database: &str) -> Result<bool, String> {
        if self.kind == Kind::Sqlite {
            return Ok(false);
        }
        let rows = admin_query(&format!(
            "SELECT NOT datallowconn FROM pg_database WHERE datname = {}",
            sql_literal(database)
        ))?;
        Ok(cell(&rows).as_deref() == Some("t"))
    }

    fn phase(&self) -> Result<Option<Phase>, String> {
        Ok(self.journal()?.map(|j| j.phase))
    }

    fn journal(&self) -> Result<Option<upgrade::SideBySideJournal>, String> {
        let target = Target::parse(&self.target()).map_err(db_error)?;
        upgrade::journal(&target).map_err(db_error)
    }

    fn remove(self) {
        if self.kind == Kind::Postgres {
            let mut names = vec![self.name.clone(), self.temporary()];
            names.extend(self.retained().unwrap_or_default());
            for name in names {
                let _ = admin_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    pg_ident(&name)
                ));
            }
        }
    }
}

fn pg() -> &'static dac_tests::postgres::Server {
    dac_tests::postgres::server()
}

fn admin_query(sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut admin = PostgresDriver::connect(&pg().url("postgres")).map_err(db_error)?;
    admin.query(sql).map_err(db_error)
}

fn admin_execute(sql: &str) -> Result<(), String> {
    let mut admin = PostgresDriver::connect(&pg().url("postgres")).map_err(db_error)?;
    admin.execute(sql).map_err(db_error)
}

// ---------------------------------------------------------------------------------------------
// Fixtures: packages, the v1 template, the v2 references

struct Fixture {
    kind: Kind,
    v1: PathBuf,
    v2: PathBuf,
    /// SQLite: the template file; PostgreSQL: the template database.
    template: String,
    v1_snapshot: Snapshot,
    v2_in_place: Snapshot,
    v2_side_by_side: Snapshot,
    /// Statements of the in-place v1 -> v2 script.
    in_place_statements: usize,
    _dir: tempfile::TempDir,
}

static SITES: AtomicUsize = AtomicUsize::new(0);

/// Builds the shop package of `kind` at `version` (`fixtures/projects/shop-<kind>-v<major>`)
/// into `dir`.
fn build_shop(dir: &Path, kind: Kind, version: &str) -> PathBuf {
    let out = dir.join(format!("shop-{}-{version}.dacpac", kind.name()));
    let project = dac_tests::workspace_root()
        .join("fixtures/projects")
        .join(format!("shop-{}-v{}", kind.name(), &version[..1]));
    let run = dac(
        &[
            "build",
            project.to_str().expect("utf-8 path"),
            "--platform",
            kind.name(),
            "--name",
            "shop",
            "--version",
            version,
            "-o",
            out.to_str().expect("utf-8 path"),
        ],
        None,
    );
    assert_eq!(run.code, Some(0), "dac build: {}", run.describe());
    out
}

impl Fixture {
    fn new(kind: Kind) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("dac-faults-")
            .tempdir()
            .expect("temporary directory");
        let v1 = build_shop(dir.path(), kind, "1.0.0");
        let v2 = build_shop(dir.path(), kind, "2.0.0");
        let template = match kind {
            Kind::Sqlite => {
                let path = dir.path().join("template.db");
                let run = dac(
                    &[
                        "upgrade",
                        v1.to_str().expect("utf-8"),
                        "--target",
                        &format!("sqlite:{}", path.display()),
                        "--in-place",
                    ],
                    None,
                );
                assert_eq!(run.code, Some(0), "deploying v1: {}", run.describe());
                let conn = rusqlite::Connection::open(&path).expect("open template");
                conn.execute_batch(&format!(
                    "BEGIN;
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {CUSTOMERS})
                     INSERT INTO customers (id, name, email, fax) SELECT i, 'customer ' || i, 'c' || i || '@example.com',
                       CASE WHEN i % 3 = 0 THEN NULL ELSE '555-' || i END FROM n;
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {PRODUCTS})
                     INSERT INTO products (sku, title, price_cents) SELECT 'SKU-' || i, 'product ' || i, i * 37 % 10000 FROM n;
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ORDERS})
                     INSERT INTO orders (id, customer_id, placed_at, note) SELECT i, 1 + i % {CUSTOMERS},
                       datetime('2026-01-01', '+' || i || ' minutes'), CASE WHEN i % 7 = 0 THEN 'gift' END FROM n;
                     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {ORDER_LINES_SQLITE} - 1)
                     INSERT INTO order_lines (order_id, line_no, product_id, quantity, payload)
                       SELECT 1 + i / 4, i % 4, 1 + i % {PRODUCTS}, 1 + i % 9, printf('%.40c', 'x') || i FROM n;
                     COMMIT;"
                ))
                .expect("load v1 data");
                path.to_string_lossy().into_owned()
            }
            Kind::Postgres => {
                let url = pg().create_database("faults_template");
                let name = url
                    .rsplit('/')
                    .next()
                    .and_then(|n| n.split('?').next())
                    .expect("database name")
                    .to_string();
                let run = dac(
                    &[
                        "upgrade",
                        v1.to_str().expect("utf-8"),
                        "--target",
                        &url,
                        "--in-place",
                    ],
                    None,
                );
                assert_eq!(run.code, Some(0), "deploying v1: {}", run.describe());
                let mut driver = PostgresDriver::connect(&url).expect("connect template");
                driver
                    .execute(&format!(
                        "INSERT INTO customers (id, name, email, fax) SELECT i, 'customer ' || i, 'c' || i || '@example.com',
                           CASE WHEN i % 3 = 0 THEN NULL ELSE '555-' || i END FROM generate_series(1, {CUSTOMERS}) i;
                         INSERT INTO products (sku, title, price_cents) SELECT 'SKU-' || i, 'product ' || i, i * 37 % 10000
                           FROM generate_series(1, {PRODUCTS}) i ORDER BY i;
                         INSERT INTO orders (customer_id, placed_at, note) SELECT 1 + i % {CUSTOMERS},
                           timestamp '2026-01-01' + i * interval '1 minute', CASE WHEN i % 7 = 0 THEN 'gift' END
                           FROM generate_series(1, {ORDERS}) i ORDER BY i;
                         INSERT INTO order_lines (order_id, line_no, product_id, quantity, payload)
                           SELECT 1 + i / 4, i % 4, 1 + i % {PRODUCTS}, 1 + i % 9, repeat('x', 100) || i
                           FROM generate_series(0, {ORDER_LINES} - 1) i;
                         ANALYZE"
                    ))
                    .expect("load v1 data");
                let size = driver
                    .query("SELECT pg_total_relation_size('order_lines')")
                    .expect("table size");
                let bytes: u64 = cell(&size).and_then(|s| s.parse().ok()).unwrap_or(0);
                assert!(
                    bytes > 1 << 20,
                    "order_lines must be over 1 MB for mid-copy faults, is {bytes} bytes"
                );
                name
            }
        };
        let v1_snapshot = match kind {
            Kind::Sqlite => sqlite_snapshot(Path::new(&template)),
            Kind::Postgres => postgres_snapshot(&pg().url(&template)),
        }
        .unwrap_or_else(|e| panic!("snapshot of the template: {e}"));
        // The v2 references are filled in below.
        let mut fixture = Fixture {
            kind,
            v1,
            v2,
            template,
            v2_in_place: v1_snapshot.clone(),
            v2_side_by_side: v1_snapshot.clone(),
            v1_snapshot,
            in_place_statements: 0,
            _dir: dir,
        };
        assert_eq!(
            fixture.v1_snapshot.registration,
            Some(registration_of(&fixture.v1)),
            "{}: the template is registered as v1",
            kind.name()
        );
        // The references: clean upgrades of copies of the template, checked for drift.
        let site = fixture.site("ref_in_place");
        let run = dac(&as_strs(&fixture.upgrade_args(&site, Mode::InPlace)), None);
        assert_eq!(
            run.code,
            Some(0),
            "reference in-place upgrade: {}",
            run.describe()
        );
        fixture.in_place_statements = run
            .stdout
            .split(" statements")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("statement count in {:?}", run.stdout));
        fixture.v2_in_place = fixture.reference(&site);
        site.remove();
        let site = fixture.site("ref_side_by_side");
        let run = dac(
            &as_strs(&fixture.upgrade_args(&site, Mode::SideBySide)),
            None,
        );
        assert_eq!(
            run.code,
            Some(0),
            "reference side-by-side upgrade: {}",
            run.describe()
        );
        fixture.v2_side_by_side = fixture.reference(&site);
        let retained = site.retained().expect("retained");
        assert_eq!(retained.len(), 1, "one original retained: {retained:?}");
        let original = site.snapshot(&retained[0]).expect("retained snapshot");
        let diff = differences(&original, &fixture.v1_snapshot);
        assert!(diff.is_empty(), "the retained original is v1: {diff:?}");
        assert!(
            site.writable(&retained[0]).is_err() || kind == Kind::Sqlite,
            "the retained original is read-only"
        );
        site.remove();
        // Both ways to v2 carry the same rows (columns are hashed in name order).
        assert_eq!(
            fixture.v2_in_place.tables,
            fixture.v2_side_by_side.tables,
            "{}: in-place and side-by-side upgrades carry the same rows",
            kind.name()
        );
        fixture
    }

    /// The v2 reference made on `site`: registered as v2 and free of drift.
    fn reference(&self, site: &Site) -> Snapshot {
        let snapshot = site
            .snapshot(&site.database())
            .unwrap_or_else(|e| panic!("reference snapshot: {e}"));
        assert_eq!(snapshot.registration, Some(registration_of(&self.v2)));
        let mut driver =
            dac_engine::driver::connect(&Target::parse(&site.target()).expect("target"), false)
                .expect("connect");
        let (_, drift) = upgrade::drift(driver.as_mut())
            .expect("drift")
            .expect("registered");
        assert!(
            drift.is_empty(),
            "{}: the v2 reference drifted from its registration:\n{}",
            self.kind.name(),
            upgrade::describe_drift(&drift)
        );
        snapshot
    }

    /// A fresh copy of the v1 template for one case.
    fn site(&self, slug: &str) -> Site {
        let n = SITES.fetch_add(1, Ordering::Relaxed);
        match self.kind {
            Kind::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("dac-fault-")
                    .tempdir()
                    .expect("case directory");
                let path = dir.path().join("shop.db");
                std::fs::copy(&self.template, &path).expect("copy the template");
                Site {
                    kind: self.kind,
                    path,
                    name: String::new(),
                    _dir: Some(dir),
                }
            }
            Kind::Postgres => {
                let clean = dac_tests::postgres::name_slug(slug, 16);
                let name = format!("dac_f{}_{n}_{clean}", std::process::id() % 10_000);
                admin_execute(&format!(
                    "CREATE DATABASE {} TEMPLATE {}",
                    pg_ident(&name),
                    pg_ident(&self.template)
                ))
                .unwrap_or_else(|e| panic!("cannot copy the template into {name}: {e}"));
                Site {
                    kind: self.kind,
                    path: PathBuf::new(),
                    name,
                    _dir: None,
                }
            }
        }
    }

    fn upgrade_args(&self, site: &Site, mode: Mode) -> Vec<String> {
        let mut args = vec![
            "upgrade".to_string(),
            self.v2.to_string_lossy().into_owned(),
            "--target".into(),
            site.target(),
            "--allow-data-loss".into(),
        ];
        match mode {
            Mode::InPlace => args.push("--in-place".into()),
            Mode::SideBySide | Mode::Rollback => args.push("--side-by-side".into()),
            Mode::SideBySideHeld => {
                args.push("--side-by-side".into());
                args.push("--no-early-copy".into());
            }
            Mode::SideBySideDatabaseCopy => {
                args.push("--side-by-side".into());
                args.push("--copy-method".into());
                args.push("database".into());
            }
        }
        args
    }

    fn expected_v2(&self, mode: Mode) -> &Snapshot {
        match mode {
            // The copy is upgraded in place.
            Mode::InPlace | Mode::SideBySideDatabaseCopy => &self.v2_in_place,
            Mode::SideBySide | Mode::SideBySideHeld | Mode::Rollback => &self.v2_side_by_side,
        }
    }

    /// What a database of `site` is: v1, the v2 of `mode`, or something else (said how).
    fn state(&self, site: &Site, database: &str, mode: Mode) -> State {
        match site.exists(database) {
            Ok(false) => return State::Absent,
            Ok(true) => {}
            Err(e) => return State::Other(format!("cannot tell whether {database} exists: {e}")),
        }
        let snapshot = match site.snapshot(database) {
            Ok(s) => s,
            Err(e) => return State::Other(format!("cannot read {database}: {e}")),
        };
        let from_v1 = differences(&snapshot, &self.v1_snapshot);
        if from_v1.is_empty() {
            return State::V1;
        }
        let from_v2 = differences(&snapshot, self.expected_v2(mode));
        if from_v2.is_empty() {
            return State::V2;
        }
        State::Other(format!(
            "{database} is neither v1 ({}) nor v2 ({})",
            from_v1.join("; "),
            from_v2.join("; ")
        ))
    }

    /// Whether `database` is v2 but for the foreign keys `unchecked`, which are there but not
    /// yet checked (`NOT VALID`): a finished side-by-side upgrade whose checks after the switch
    /// did not run.
    fn v2_but_unchecked(
        &self,
        site: &Site,
        database: &str,
        mode: Mode,
        unchecked: &[String],
    ) -> Result<(), String> {
        let mut snapshot = site.snapshot(database)?;
        for element in &mut snapshot.schema.elements {
            let listed = element
                .name
                .as_ref()
                .is_some_and(|n| unchecked.contains(&n.to_string()));
            if listed && element.bool_prop("IsNotValid") == Some(true) {
                element.properties.retain(|p| p.name != "IsNotValid");
            }
        }
        let from_v2 = differences(&snapshot, self.expected_v2(mode));
        if from_v2.is_empty() {
            Ok(())
        } else {
            Err(from_v2.join("; "))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    InPlace,
    /// Side by side, rows copied before writers are held (the default).
    SideBySide,
    /// Side by side with `--no-early-copy`: rows copied with writers held.
    SideBySideHeld,
    /// Side by side with `--copy-method database`: the whole database copied with writers
    /// held, the copy upgraded in place, the names switched (SQLite: `VACUUM INTO`).
    SideBySideDatabaseCopy,
    Rollback,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::InPlace => "in-place",
            Mode::SideBySide => "side-by-side",
            Mode::SideBySideHeld => "side-by-side --no-early-copy",
            Mode::SideBySideDatabaseCopy => "side-by-side --copy-method database",
            Mode::Rollback => "rollback",
        }
    }
}

/// Where a case must settle after recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settles {
    /// Undone (in place: rolled back; side by side: the original as it was; a rollback: done).
    V1,
    /// Completed.
    V2,
}

/// How the run is interrupted.
#[derive(Debug, Clone)]
enum Interruption {
    /// `DAC_FAULT=<spec>` aborts the run.
    Abort(String),
    /// A first run aborts at the first spec; the next run (the recovery of the first, as the
    /// same command runs it) aborts at the second.
    AbortTwice(String, String),
    /// The run stops at `<spec>=wait:<file>`, the PostgreSQL server is stopped (`-m
    /// immediate`), the run continues and fails on the dead connection; the server is started
    /// again.
    ServerCrash(String),
    /// The run stops after its early copy (`sbs.indexed=wait:<file>`), a row of the original
    /// is written, then written back (so the original's rows stay as recorded), the run
    /// goes on, catches the write up in passes and aborts at the spec.
    WriteDuringEarlyCopy(String),
}

#[derive(Debug, Clone)]
struct Case {
    kind: Kind,
    mode: Mode,
    interruption: Interruption,
    settles: Settles,
}

impl Case {
    fn label(&self) -> String {
        let what = match &self.interruption {
            Interruption::Abort(spec) => spec.clone(),
            Interruption::AbortTwice(first, second) => {
                format!("{first}, then {second} in the recovery")
            }
            Interruption::ServerCrash(spec) => format!("server stopped at {spec}"),
            Interruption::WriteDuringEarlyCopy(spec) => {
                format!("a write during the early copy, then {spec}")
            }
        };
        format!("{} {} {what}", self.kind.name(), self.mode.name())
    }
}

fn cases(kind: Kind, in_place_statements: usize) -> Vec<Case> {
    use Settles::{V1, V2};
    let mut out = Vec::new();
    let mut add = |mode: Mode, spec: &str, settles: Settles| {
        out.push(Case {
            kind,
            mode,
            interruption: Interruption::Abort(spec.to_string()),
            settles,
        });
    };
    let last = in_place_statements.max(1);
    let middle = last.div_ceil(2);
    for (spec, settles) in [
        ("inplace.locked".to_string(), V1),
        ("inplace.begun".into(), V1),
        ("inplace.statement@1".into(), V1),
        (format!("inplace.statement@{middle}"), V1),
        (format!("inplace.statement@{last}"), V1),
        ("inplace.before-commit".into(), V1),
        ("inplace.committed".into(), V2),
        ("inplace.finished".into(), V2),
    ] {
        add(Mode::InPlace, &spec, settles);
    }
    // The SQLite copy ticks every 100k VM instructions (order_lines is a few ticks long). The
    // PostgreSQL copy ticks after every read from the COPY stream, which today returns one row
    // (one CopyData message) at a time: the 9000th falls inside order_lines however the
    // parallel copies interleave (the other tables hold 7500 rows). Were reads to fill the
    // 256 KiB buffer, this would need to be a few chunks instead; the case then fails saying
    // the run did not die at its fault point.
    let mid_table = match kind {
        Kind::Sqlite => "copy.mid-table@1",
        Kind::Postgres => "copy.mid-table@9000",
    };
    for (spec, settles) in [
        ("sbs.created", V1),
        ("sbs.journal", V1),
        // The new database's schema: the in-place machinery runs its scripts.
        ("inplace.statement@2", V1),
        ("sbs.schema", V1),
        ("sbs.copying", V1),
        // The early copy's change stream open (a replication slot where the server has
        // logical decoding: see `a_crash_after_the_slot_is_made_leaves_no_slot_after_recover`).
        ("sbs.stream", V1),
        ("sbs.read-only", V1),
        ("sbs.held", V1),
        ("copy.table@1", V1),
        ("copy.table@3", V1),
        (mid_table, V1),
        ("sbs.copied", V1),
        ("sbs.indexed", V1),
        ("sbs.generators", V1),
        // Indexes, foreign keys and the registry of the new database, before their commit.
        ("inplace.before-commit@2", V1),
        ("sbs.finalized", V1),
        ("sbs.sealed", V1),
        ("sbs.switching", V2),
        ("sbs.renamed-original", V2),
        ("sbs.renamed-new", V2),
        ("sbs.new-open", V2),
        ("sbs.done", V2),
    ] {
        add(Mode::SideBySide, spec, settles);
    }
    // The early copy's check, with writers held.
    add(Mode::SideBySide, "sbs.checked", V1);
    // Rows copied with writers held (`--no-early-copy`): the same steps in that order.
    for spec in [
        "sbs.read-only",
        "sbs.held",
        "copy.table@1",
        mid_table,
        "sbs.copied",
        "sbs.indexed",
        "sbs.generators",
    ] {
        add(Mode::SideBySideHeld, spec, V1);
    }
    if kind == Kind::Sqlite {
        // The whole-database copy (the method Azure SQL Database needs; SQLite's `VACUUM INTO`
        // proves its orchestration, journal and recovery live): before the switch every step
        // is undone, from it on completed.
        let last = in_place_statements.max(1);
        for (spec, settles) in [
            ("dbcopy.journal", V1),
            ("dbcopy.held", V1),
            ("dbcopy.started", V1),
            ("dbcopy.online", V1),
            ("dbcopy.upgrading", V1),
            // The in-place upgrade of the copy.
            ("inplace.statement@1", V1),
            (&*format!("inplace.statement@{last}"), V1),
            ("inplace.before-commit", V1),
            ("dbcopy.upgraded", V1),
            ("dbcopy.journalled", V1),
            ("sbs.sealed", V1),
            ("sbs.switching", V2),
            ("sbs.renamed-original", V2),
            ("sbs.renamed-new", V2),
            ("sbs.new-open", V2),
            ("sbs.done", V2),
        ] {
            add(Mode::SideBySideDatabaseCopy, spec, settles);
        }
    }
    if kind == Kind::Postgres {
        // After the switch, before the foreign keys the original held are checked (SQLite
        // checks every foreign key before the switch).
        add(Mode::SideBySide, "sbs.check", V2);
        add(Mode::SideBySide, "sbs.check@2", V2);
    }
    for spec in [
        "rollback.started",
        "rollback.renamed-upgraded",
        "rollback.renamed-original",
        "rollback.dropped",
    ] {
        add(Mode::Rollback, spec, V1);
    }
    // A run whose original took a write (to orders) during the early copy, at each step of
    // bringing the copy up to date: the journalled start of the first catch-up pass (writers
    // still writing), inside its first table's catch-up (after the changed rows, before the
    // rest), after its first table; then, writers held, the check, the journalled start of the
    // last delta, after its first table, once it is all applied, and the finishing step after.
    // SQLite carries the orders its change-log triggers logged; PostgreSQL the orders changed
    // since the mark, by row version; both by key.
    let again: &[&str] = &[
        "sbs.pass",
        "copy.catch-up@1",
        "sbs.pass@2",
        "sbs.checked",
        "sbs.last-delta",
        "sbs.last-delta@2",
        "sbs.caught-up",
        "sbs.generators",
    ];
    // SQLite's change capture (triggers in the original): right after they are made, and once
    // they are dropped in the writer hold's transaction, before it commits.
    let capture: &[&str] = if kind == Kind::Sqlite {
        add(Mode::SideBySide, "capture.made", V1);
        &["capture.dropped"]
    } else {
        &[]
    };
    for &spec in again.iter().chain(capture) {
        out.push(Case {
            kind,
            mode: Mode::SideBySide,
            interruption: Interruption::WriteDuringEarlyCopy(spec.into()),
            settles: V1,
        });
    }
    // Crashes inside the recovery of a crash.
    for (first, second, settles) in [
        ("sbs.copied", "sbs.undone", V1),
        ("sbs.switching", "sbs.renamed-original", V2),
        ("sbs.renamed-original", "sbs.renamed-new", V2),
    ] {
        out.push(Case {
            kind,
            mode: Mode::SideBySide,
            interruption: Interruption::AbortTwice(first.into(), second.into()),
            settles,
        });
    }
    if kind == Kind::Sqlite {
        for (first, second, settles) in [
            ("dbcopy.upgraded", "sbs.undone", V1),
            ("sbs.switching", "sbs.renamed-new", V2),
        ] {
            out.push(Case {
                kind,
                mode: Mode::SideBySideDatabaseCopy,
                interruption: Interruption::AbortTwice(first.into(), second.into()),
                settles,
            });
        }
    }
    out.push(Case {
        kind,
        mode: Mode::Rollback,
        interruption: Interruption::AbortTwice(
            "rollback.renamed-upgraded".into(),
            "rollback.renamed-original".into(),
        ),
        settles: V1,
    });
    out
}

fn server_crash_cases() -> Vec<Case> {
    let case = |mode: Mode, spec: &str, settles: Settles| Case {
        kind: Kind::Postgres,
        mode,
        interruption: Interruption::ServerCrash(spec.into()),
        settles,
    };
    vec![
        case(Mode::SideBySide, "copy.mid-table@9000", Settles::V1),
        case(Mode::InPlace, "inplace.statement@3", Settles::V1),
        case(Mode::SideBySide, "sbs.switching", Settles::V2),
        case(Mode::Rollback, "rollback.started", Settles::V1),
    ]
}

// ---------------------------------------------------------------------------------------------
// Running a case

/// The command a case interrupts, as arguments.
fn command(fx: &Fixture, site: &Site, mode: Mode) -> Vec<String> {
    match mode {
        Mode::InPlace | Mode::SideBySide | Mode::SideBySideHeld | Mode::SideBySideDatabaseCopy => {
            fx.upgrade_args(site, mode)
        }
        Mode::Rollback => vec!["rollback".into(), "--target".into(), site.target()],
    }
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn expect_abort(what: &str, run: &Run) -> Result<(), String> {
    if run.aborted() && run.stderr.contains("fault injected at") {
        Ok(())
    } else {
        Err(format!(
            "{what} did not die at the fault point (SIGABRT expected): {}",
            run.describe()
        ))
    }
}

fn run_case(fx: &Fixture, case: &Case) -> Result<String, String> {
    let site = fx.site(&case.label());
    let result = run_case_on(fx, case, &site);
    if result.is_ok() {
        site.remove();
    }
    result
}

fn run_case_on(fx: &Fixture, case: &Case, site: &Site) -> Result<String, String> {
    if case.mode == Mode::Rollback {
        let run = dac(&as_strs(&fx.upgrade_args(site, Mode::SideBySide)), None);
        expect_ok("the side-by-side upgrade before the rollback", &run)?;
        let settled =
            settled(fx, site, case.mode).map_err(|e| format!("before the rollback: {e}"))?;
        if settled != Settles::V2 {
            return Err("before the rollback: the upgrade did not complete".into());
        }
    }
    let args = command(fx, site, case.mode);
    match &case.interruption {
        Interruption::Abort(spec) => {
            let run = dac(&as_strs(&args), Some(spec));
            expect_abort("the run", &run)?;
            if spec.starts_with("copy.mid-table") {
                mid_table(&run)?;
            }
        }
        Interruption::AbortTwice(first, second) => {
            let run = dac(&as_strs(&args), Some(first));
            expect_abort("the first run", &run)?;
            at_rest(fx, site, case.mode).map_err(|e| format!("after the first crash: {e}"))?;
            let run = dac(&as_strs(&args), Some(second));
            expect_abort("the second run (recovering)", &run)?;
        }
        Interruption::ServerCrash(spec) => server_crash(&args, spec)?,
        Interruption::WriteDuringEarlyCopy(spec) => write_during_early_copy(site, &args, spec)?,
    }
    at_rest(fx, site, case.mode).map_err(|e| format!("at rest after the crash: {e}"))?;
    let recover = dac(&["recover", "--target", &site.target()], None);
    expect_ok("dac recover", &recover)?;
    let recovered = settled(fx, site, case.mode).map_err(|e| format!("after dac recover: {e}"))?;
    if recovered != case.settles {
        return Err(format!(
            "after dac recover: the database is {recovered:?} where the crash point requires {:?} ({})",
            case.settles,
            recover.stdout.trim()
        ));
    }
    // The same command again, without a fault.
    if case.mode == Mode::Rollback {
        if recovered == Settles::V2 {
            let run = dac(&as_strs(&args), None);
            expect_ok("the rollback again", &run)?;
        }
        let now = settled(fx, site, case.mode).map_err(|e| format!("after the rollback: {e}"))?;
        if now != Settles::V1 {
            return Err("after the rollback: the database is not v1".into());
        }
    }
    // The upgrade again where it was undone (in place also where it completed: up to date).
    if case.mode == Mode::InPlace || recovered == Settles::V1 || case.mode == Mode::Rollback {
        let run = dac(&as_strs(&fx.upgrade_args(site, case.mode)), None);
        expect_ok("the upgrade again", &run)?;
        let last =
            settled(fx, site, case.mode).map_err(|e| format!("after the upgrade again: {e}"))?;
        if last != Settles::V2 {
            return Err("after the upgrade again: the database is not v2".into());
        }
    }
    Ok(format!(
        "{} by dac recover ({})",
        match recovered {
            Settles::V1 => "undone",
            Settles::V2 => "completed",
        },
        run_summary(&recover)
    ))
}

fn run_summary(run: &Run) -> String {
    run.stdout.lines().next().unwrap_or("").trim().to_string()
}

/// A mid-table fault must hit while a table is being copied: after the copy began, before the
/// big table was done.
fn mid_table(run: &Run) -> Result<(), String> {
    if !run.stderr.contains("dac: copying") {
        return Err(format!(
            "the fault hit before the copy began: {}",
            run.describe()
        ));
    }
    if run
        .stderr
        .lines()
        .any(|l| l.contains("copied") && l.contains("order_lines"))
    {
        return Err(format!(
            "the fault hit after order_lines was copied, not in the middle of it: {}",
            run.describe()
        ));
    }
    Ok(())
}

/// Runs `args` to the point `spec` (waiting there), stops the server abruptly, lets the run go
/// on (it must fail, not crash, not succeed) and starts the server again.
fn server_crash(args: &[String], spec: &str) -> Result<(), String> {
    let (child, flag, _dir) = run_to_point(args, spec, None)?;
    // The harness's server commits asynchronously (synchronous_commit=off, for speed): wait
    // until everything dac committed so far is flushed, as a commit guarantees on a server with
    // the default synchronous_commit=on. (Without it the crash loses the last commits, which is
    // the same as dac stopping earlier; the rollback and switch cases then settle the other way.)
    let flushed = wait_for_wal_flush();
    let stopped = pg().stop_immediately();
    let _ = std::fs::remove_file(&flag);
    let run = finish(child);
    let started = pg().start_again();
    flushed?;
    stopped.map_err(|e| format!("stopping the server: {e}"))?;
    started.map_err(|e| format!("starting the server again: {e}"))?;
    if run.code != Some(1) {
        return Err(format!(
            "with the server gone the run must fail with exit code 1: {}",
            run.describe()
        ));
    }
    Ok(())
}

/// Starts `args` with `DAC_FAULT=<wait>=wait:<file>` (and `,<then>`: a later fault) and
/// returns once the run stands at `wait`: the run, and the file whose removal lets it go on
/// (in a directory that lives as long as the returned guard).
fn run_to_point(
    args: &[String],
    wait: &str,
    then: Option<&str>,
) -> Result<(Child, PathBuf, tempfile::TempDir), String> {
    let dir = tempfile::tempdir().map_err(db_error)?;
    let flag = dir.path().join("at-point");
    let mut fault = format!("{wait}=wait:{}", flag.display());
    if let Some(then) = then {
        fault.push(',');
        fault.push_str(then);
    }
    let child = dac_command(&as_strs(args), Some(&fault))
        .spawn()
        .map_err(db_error)?;
    let started = Instant::now();
    while !flag.exists() {
        if started.elapsed() > RUN_LIMIT {
            let run = finish(child);
            return Err(format!("the run never reached {wait}: {}", run.describe()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((child, flag, dir))
}

/// Runs `args` to the end of its early copy, writes one row of the original and writes it
/// back, lets the run go on and expects it to catch the write up and abort at `spec`.
fn write_during_early_copy(site: &Site, args: &[String], spec: &str) -> Result<(), String> {
    let (child, flag, _dir) = run_to_point(args, "sbs.indexed", Some(spec))?;
    let target = Target::parse(&site.target()).map_err(db_error)?;
    // Two commits that end where they began: SQLite does not even touch the file for an
    // update to the same value.
    let written = connect(&target, false).and_then(|mut original| {
        original.execute(
            "UPDATE orders SET note = CASE WHEN note IS NULL THEN 'dac-null' ELSE 'dac-' || note END \
             WHERE id = (SELECT min(id) FROM orders)",
        )?;
        original.execute(
            "UPDATE orders SET note = CASE WHEN note = 'dac-null' THEN NULL ELSE substr(note, 5) END \
             WHERE id = (SELECT min(id) FROM orders)",
        )
    });
    let _ = std::fs::remove_file(&flag);
    let run = finish(child);
    written.map_err(|e| format!("writing to the original during the early copy: {e}"))?;
    if !run.stderr.contains("catch-up pass 1") {
        return Err(format!(
            "the run did not find the write: {}",
            run.describe()
        ));
    }
    expect_abort("the run", &run)
}

/// Flushes the server's write-ahead log up to where it is now: a transaction that writes to the
/// log and commits synchronously flushes it up to its commit record, every earlier commit with
/// it.
fn wait_for_wal_flush() -> Result<(), String> {
    let mut admin = PostgresDriver::connect(&pg().url("postgres")).map_err(db_error)?;
    admin
        .execute(
            "BEGIN; SET LOCAL synchronous_commit = on; CREATE TEMP TABLE dac_flush (x int); COMMIT",
        )
        .map_err(|e| format!("flushing the WAL: {e}"))
}

/// The rule right after a crash, before any other run (see the module documentation).
fn at_rest(fx: &Fixture, site: &Site, mode: Mode) -> Result<(), String> {
    if mode == Mode::InPlace {
        // One transaction: the whole invariant holds right away.
        return settled(fx, site, mode).map(|_| ());
    }
    let target = site.database();
    let journal = site.journal()?;
    let phase = journal.as_ref().map(|j| j.phase);
    // The change capture (SQLite: triggers in the original) may be left by a crash only where
    // the journal names it and the run is to be undone, which drops it.
    let capture = site.capture_left()?;
    let stream_journalled = journal.as_ref().is_some_and(|j| j.change_stream.is_some());
    let undo_drops_it =
        stream_journalled && matches!(phase, Some(Phase::Preparing | Phase::Copying));
    if !capture.is_empty() && !undo_drops_it {
        return Err(format!(
            "change capture left without a journal to drop it ({phase:?}): {capture:?}"
        ));
    }
    // From the switch on, foreign keys the original held may wait, unchecked but enforced
    // for new rows, for the journal's checks after the switch (the next run makes them).
    let unchecked: Vec<String> = journal
        .filter(|j| matches!(j.phase, Phase::Switching | Phase::Done))
        .map(|j| j.checks_after_switch.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    let state_of = |database: &str| match fx.state(site, database, mode) {
        State::Other(what) if !unchecked.is_empty() => {
            match fx.v2_but_unchecked(site, database, mode, &unchecked) {
                Ok(()) => State::V2,
                Err(e) => State::Other(format!(
                    "{what} (nor v2 with {unchecked:?} left to check after the switch: {e})"
                )),
            }
        }
        state => state,
    };
    let state = state_of(&target);
    let temporary = site.temporary();
    let temporary_exists = site.exists(&temporary)?;
    let retained = site.retained()?;
    let retained_states: Vec<State> = retained.iter().map(|r| fx.state(site, r, mode)).collect();
    // The original, intact, exactly once.
    let originals = usize::from(state == State::V1)
        + retained_states.iter().filter(|s| **s == State::V1).count();
    if originals != 1 {
        return Err(format!(
            "the v1 original exists {originals} times (target: {state:?}; retained: {retained_states:?}; journal: {phase:?})"
        ));
    }
    if let Some(bad) = retained_states.iter().find(|s| **s != State::V1) {
        return Err(format!("a retained database is not the original: {bad:?}"));
    }
    match &state {
        State::V1 | State::V2 => {}
        State::Absent => {
            let expected = if mode == Mode::Rollback {
                Phase::RollingBack
            } else {
                Phase::Switching
            };
            if phase != Some(expected) {
                return Err(format!(
                    "the target is gone and the journal ({phase:?}) does not say {expected:?}"
                ));
            }
        }
        State::Other(what) => return Err(format!("the target is half-done: {what}")),
    }
    match phase {
        Some(Phase::Switching) => {
            // The switch completes: the new database must be complete, wherever it is.
            if state != State::V2 {
                let new = state_of(&temporary);
                if new != State::V2 {
                    return Err(format!(
                        "the journal says the switch is under way but the new database is not complete: {new:?}"
                    ));
                }
            }
        }
        Some(Phase::Preparing | Phase::Copying) => {
            if state != State::V1 {
                return Err(format!(
                    "the journal says {phase:?} (undo) but the target is {state:?}"
                ));
            }
        }
        Some(Phase::RollingBack) => {}
        None | Some(Phase::Done) => {
            // Nothing will be finished or undone: what is there must be settled, but for a
            // new database left by a run that died before its journal (recovery drops it), and
            // a target sealed by a rollback that died before its journal (recovery unseals it).
            let sealed = phase == Some(Phase::Done) && site.sealed(&target)?;
            if let Err(e) = site
                .writable(&target)
                .or_else(|e| if sealed { Ok(()) } else { Err(e) })
            {
                return Err(format!("no journal pending, yet: {e}"));
            }
            if temporary_exists && phase.is_some() {
                return Err(format!("{temporary} is left behind after a finished run"));
            }
        }
    }
    Ok(())
}

/// The whole invariant, once no journal is pending: the target is exactly v1 or exactly v2
/// (with the registration that says so), nothing temporary is left, the target is writable;
/// after a side-by-side upgrade the original is retained, intact and read-only.
fn settled(fx: &Fixture, site: &Site, mode: Mode) -> Result<Settles, String> {
    let target = site.database();
    let phase = site.phase()?;
    let temporary = site.temporary();
    if site.exists(&temporary)? {
        return Err(format!("{temporary} is left behind"));
    }
    if let Kind::Sqlite = site.kind {
        for suffix in ["-journal", "-wal"] {
            let companion = format!("{temporary}{suffix}");
            if Path::new(&companion).exists() {
                return Err(format!("{companion} is left behind"));
            }
        }
    }
    let settles = match fx.state(site, &target, mode) {
        State::V1 => Settles::V1,
        State::V2 => Settles::V2,
        State::Absent => return Err("the target database is gone".into()),
        State::Other(what) => return Err(format!("the target is half-done: {what}")),
    };
    site.writable(&target)?;
    let capture = site.capture_left()?;
    if !capture.is_empty() {
        return Err(format!("change capture left: {capture:?}"));
    }
    let retained = site.retained()?;
    match (mode, settles) {
        (Mode::InPlace, _) | (_, Settles::V1) => {
            if phase.is_some() {
                return Err(format!("a journal is left: {phase:?}"));
            }
            if !retained.is_empty() {
                return Err(format!(
                    "originals are retained without an upgrade: {retained:?}"
                ));
            }
        }
        (_, Settles::V2) => {
            if phase != Some(Phase::Done) {
                return Err(format!(
                    "after a side-by-side upgrade the journal says {phase:?}, not Done"
                ));
            }
            let [original] = retained.as_slice() else {
                return Err(format!("one original must be retained: {retained:?}"));
            };
            match fx.state(site, original, mode) {
                State::V1 => {}
                other => return Err(format!("the retained original is not v1: {other:?}")),
            }
            if site.writable(original).is_ok() && site.kind == Kind::Postgres {
                return Err(format!("the retained original {original} is writable"));
            }
            if site.kind == Kind::Sqlite
                && !std::fs::metadata(original)
                    .map_err(db_error)?
                    .permissions()
                    .readonly()
            {
                return Err(format!("the retained original {original} is writable"));
            }
        }
    }
    Ok(settles)
}

// ---------------------------------------------------------------------------------------------
// The suite

#[test]
fn every_fault_point_leaves_the_database_whole() {
    let started = Instant::now();
    let fixtures: Vec<Fixture> = std::thread::scope(|scope| {
        let sqlite = scope.spawn(|| Fixture::new(Kind::Sqlite));
        let postgres = scope.spawn(|| Fixture::new(Kind::Postgres));
        [sqlite, postgres]
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|p| panic!("fixture: {}", panic_text(&p)))
            })
            .collect()
    });
    eprintln!(
        "faults: fixtures ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let only = std::env::var("DAC_FAULT_ONLY").ok();
    let wanted = |case: &Case| only.as_ref().is_none_or(|o| case.label().contains(o));
    // PostgreSQL first: the server-crash cases stop the server every PostgreSQL case uses, so
    // they run one at a time once those are done, while the SQLite cases go on.
    let mut all: Vec<(usize, Case)> = Vec::new();
    for i in [1, 0] {
        let fx = &fixtures[i];
        all.extend(
            cases(fx.kind, fx.in_place_statements)
                .into_iter()
                .filter(|c| wanted(c))
                .map(|c| (i, c)),
        );
    }
    let crashes: Vec<Case> = server_crash_cases()
        .into_iter()
        .filter(|c| wanted(c))
        .collect();
    let postgres_cases = all.iter().filter(|(i, _)| *i == 1).count();
    let postgres_done = AtomicUsize::new(0);
    let threads = std::env::var("DAC_FAULT_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3usize);
    let queue = Mutex::new(all.iter());
    let results: Mutex<Vec<(String, Result<String, String>)>> = Mutex::new(Vec::new());
    let record = |case: &Case, began: Instant, result: Result<String, String>| {
        eprintln!(
            "faults: {} {} in {:.1} s",
            case.label(),
            if result.is_ok() { "survived" } else { "FAILED" },
            began.elapsed().as_secs_f64()
        );
        results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((case.label(), result));
    };
    let run_caught = |fx: &Fixture, case: &Case| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(fx, case)))
            .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_text(&panic))))
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((i, case)) = next else { break };
                    let began = Instant::now();
                    let result = run_caught(&fixtures[*i], case);
                    if *i == 1 {
                        postgres_done.fetch_add(1, Ordering::SeqCst);
                    }
                    record(case, began, result);
                }
            });
        }
        scope.spawn(|| {
            if crashes.is_empty() {
                return;
            }
            if !pg().is_private() {
                eprintln!(
                    "faults: NOT RUN: the PostgreSQL server-crash cases need a server this harness started (DAC_TEST_POSTGRES_URL is set)"
                );
                return;
            }
            while postgres_done.load(Ordering::SeqCst) < postgres_cases {
                std::thread::sleep(Duration::from_millis(50));
            }
            for case in &crashes {
                let began = Instant::now();
                let result = run_caught(&fixtures[1], case);
                record(case, began, result);
            }
        });
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    pg().drop_database(&pg().url(&fixtures[1].template));
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let total = results.len();
    let survived = results.iter().filter(|(_, r)| r.is_ok()).count();
    for (label, result) in &results {
        match result {
            Ok(how) => eprintln!("  ok      {label}: {how}"),
            Err(why) => eprintln!("  FAILED  {label}: {why}"),
        }
    }
    dac_tests::summary(&format!("faults: survived {survived}/{total}"));
    eprintln!("faults: {:.1} s", started.elapsed().as_secs_f64());
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(label, r)| r.as_ref().err().map(|why| format!("{label}: {why}")))
        .collect();
    assert!(
        failed.is_empty(),
        "faults: survived {survived}/{total}; failed:\n{}",
        failed.join("\n")
    );
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// A side-by-side upgrade (and a forced rollback) whose retained name is taken already (two
/// upgrades from one version within a second, say) takes another name. It used to save the
/// taken name in its journal and fail at the switch's rename, leaving the original read-only
/// and every later run (recovery included) failing at the same rename.
#[test]
fn taken_retained_names_do_not_stop_the_switch() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let projects = dac_tests::workspace_root().join("fixtures/projects");
    let package = |version: &str| -> String {
        let out = dir.path().join(format!("shop-{version}.dacpac"));
        let project = projects.join(format!("shop-sqlite-v{}", &version[..1]));
        let run = dac(
            &[
                "build",
                project.to_str().expect("utf-8"),
                "--platform",
                "sqlite",
                "--name",
                "shop",
                "--version",
                version,
                "-o",
                out.to_str().expect("utf-8"),
            ],
            None,
        );
        assert_eq!(run.code, Some(0), "dac build: {}", run.describe());
        out.to_string_lossy().into_owned()
    };
    let (v1, v2) = (package("1.0.0"), package("2.0.0"));
    let db = dir.path().join("shop.db");
    let target = format!("sqlite:{}", db.display());
    let run = dac(&["upgrade", &v1, "--target", &target, "--in-place"], None);
    assert_eq!(run.code, Some(0), "deploying v1: {}", run.describe());
    // Whatever second the upgrade and the rollback run in, their names are taken.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let taken = |what: &str| -> Vec<PathBuf> {
        (0..120)
            .map(|s| {
                let stamp = utc_stamp(now + s);
                dir.path().join(format!("shop.v{what}-{stamp}.db"))
            })
            .collect()
    };
    let taken_retained = taken("1.0.0");
    let taken_kept = taken("2.0.0_upgraded");
    for file in taken_retained.iter().chain(&taken_kept) {
        std::fs::write(file, "someone else's").expect("write a file");
    }
    let run = dac(
        &[
            "upgrade",
            &v2,
            "--target",
            &target,
            "--side-by-side",
            "--allow-data-loss",
        ],
        None,
    );
    assert_eq!(run.code, Some(0), "the upgrade: {}", run.describe());
    let journal = upgrade::journal(&Target::parse(&target).expect("target"))
        .expect("journal")
        .expect("a journal");
    assert_eq!(journal.phase, Phase::Done);
    assert!(
        Path::new(&journal.retained).exists()
            && !taken_retained.contains(&PathBuf::from(&journal.retained)),
        "the original is retained under a name of its own: {}",
        journal.retained
    );
    // The upgraded database takes a write; a forced rollback keeps it, under a name of its own.
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(
        "INSERT INTO reviews (product_id, stars) SELECT id, 5 FROM products LIMIT 1",
    )
    .expect("write");
    drop(conn);
    let run = dac(&["rollback", "--target", &target, "--force"], None);
    assert_eq!(run.code, Some(0), "the forced rollback: {}", run.describe());
    assert!(
        upgrade::journal(&Target::parse(&target).expect("target"))
            .expect("journal")
            .is_none(),
        "the rollback finished"
    );
    for file in taken_retained.iter().chain(&taken_kept) {
        assert_eq!(
            std::fs::read_to_string(file).ok().as_deref(),
            Some("someone else's"),
            "{} is untouched",
            file.display()
        );
    }
}

/// `YYYYMMDDhhmmss` of a Unix time (UTC), as dac stamps retained names.
fn utc_stamp(unix: u64) -> String {
    dac_engine::registry::format_utc(unix)
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// Issue 14, logical decoding: dac killed right after it made the replication slot of a
/// side-by-side run (`sbs.stream`) leaves the slot, named in the journal; `dac recover` drops it
/// (an abandoned slot keeps all WAL since it was made) and undoes the run; the upgrade then runs
/// to its end by logical decoding and leaves no slot either.
#[test]
fn a_crash_after_the_slot_is_made_leaves_no_slot_after_recover() {
    let server = dac_tests::postgres::start_logical();
    let dir = tempfile::tempdir().expect("temporary directory");
    let v1 = build_shop(dir.path(), Kind::Postgres, "1.0.0");
    let v2 = build_shop(dir.path(), Kind::Postgres, "2.0.0");
    let url = server.create_database("faults_slot");
    let target = Target::parse(&url).expect("target");
    let slots = || -> Vec<String> {
        let mut admin = PostgresDriver::connect(&server.url("postgres")).expect("admin");
        admin
            .query("SELECT slot_name FROM pg_replication_slots")
            .expect("slots")
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()
    };
    let version = || -> String {
        let mut driver = connect(&target, false).expect("connect");
        driver
            .read_registration()
            .expect("registry")
            .expect("registered")
            .version
    };
    let (v1, v2) = (v1.to_str().expect("utf-8"), v2.to_str().expect("utf-8"));
    let deployed = dac(&["upgrade", v1, "--target", &url, "--in-place"], None);
    expect_ok("deploying v1", &deployed).unwrap_or_else(|e| panic!("{e}"));
    let upgrade = [
        "upgrade",
        v2,
        "--target",
        &url,
        "--side-by-side",
        "--allow-data-loss",
    ];
    let crashed = dac(&upgrade, Some("sbs.stream"));
    expect_abort("the run", &crashed).unwrap_or_else(|e| panic!("{e}"));
    let left = slots();
    assert_eq!(
        left.len(),
        1,
        "the slot was made before the crash: {left:?}"
    );
    let journal = upgrade::journal(&target)
        .expect("journal")
        .expect("a journal");
    assert_eq!(journal.change_stream.as_ref(), left.first(), "journalled");
    let recovered = dac(&["recover", "--target", &url], None);
    expect_ok("dac recover", &recovered).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(slots(), Vec::<String>::new(), "recover dropped the slot");
    assert!(
        upgrade::journal(&target).expect("journal").is_none(),
        "nothing left to recover"
    );
    assert_eq!(version(), "1.0.0", "the run was undone");
    let upgraded = dac(&upgrade, None);
    expect_ok("the upgrade", &upgraded).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        upgraded.stdout.contains("found by: logical decoding"),
        "{}",
        upgraded.describe()
    );
    assert_eq!(slots(), Vec::<String>::new(), "no slot after the upgrade");
    assert_eq!(version(), "2.0.0");
}

/// Issue 14, logical decoding: dac killed inside a catch-up pass read from the replication slot
/// (its journalled start, inside a table's catch-up, after its first table) and inside the last
/// delta with writers held (its journalled start, inside a table's catch-up, once it is applied).
/// A row of `orders` is written and written back at the wait point (after the early copy: the
/// passes carry it; once the original is read-only, before writers are held: the last delta
/// does), so the original's rows stay as they were. At rest: the original is untouched and the
/// only slot is the journalled one. After `dac recover`: no slot, no journal, no new database,
/// the original v1 as it was; the upgrade then runs to its end by logical decoding, leaving no
/// slot.
#[test]
fn logical_decoding_faults_inside_passes_and_the_last_delta_leave_no_slot_after_recover() {
    let server = dac_tests::postgres::start_logical();
    let dir = tempfile::tempdir().expect("temporary directory");
    let v1 = build_shop(dir.path(), Kind::Postgres, "1.0.0");
    let v2 = build_shop(dir.path(), Kind::Postgres, "2.0.0");
    let (v1, v2) = (v1.to_str().expect("utf-8"), v2.to_str().expect("utf-8"));
    let slots = || -> Vec<String> {
        let mut admin = PostgresDriver::connect(&server.url("postgres")).expect("admin");
        admin
            .query("SELECT slot_name FROM pg_replication_slots")
            .expect("slots")
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()
    };
    // (where the row is written, where dac dies, what the run must have reached)
    let cases = [
        ("sbs.indexed", "sbs.pass", "catch-up pass 1"),
        ("sbs.indexed", "copy.catch-up@1", "catch-up pass 1"),
        ("sbs.indexed", "sbs.pass@2", "catch-up pass 1"),
        ("sbs.read-only", "sbs.last-delta", "last delta"),
        ("sbs.read-only", "copy.catch-up@1", "last delta"),
        ("sbs.read-only", "sbs.caught-up", "last delta"),
    ];
    let mut failed = Vec::new();
    for (i, (write_at, spec, reached)) in cases.into_iter().enumerate() {
        let label = format!("a write at {write_at}, then {spec}");
        let url = server.create_database(&format!("faults_logical_{i}"));
        let result = (|| -> Result<(), String> {
            let target = Target::parse(&url).map_err(db_error)?;
            let deployed = dac(&["upgrade", v1, "--target", &url, "--in-place"], None);
            expect_ok("deploying v1", &deployed)?;
            let mut driver = PostgresDriver::connect(&url).map_err(db_error)?;
            driver
                .execute(
                    "INSERT INTO customers (id, name, email, fax) SELECT i, 'customer ' || i, 'c' || i || '@example.com', NULL \
                     FROM generate_series(1, 50) i; \
                     INSERT INTO orders (customer_id, placed_at, note) SELECT 1 + i % 50, \
                     timestamp '2026-01-01' + i * interval '1 minute', NULL FROM generate_series(1, 200) i",
                )
                .map_err(db_error)?;
            drop(driver);
            let before = postgres_snapshot(&url)?;
            let args: Vec<String> = [
                "upgrade",
                v2,
                "--target",
                &url,
                "--side-by-side",
                "--allow-data-loss",
            ]
            .map(str::to_string)
            .to_vec();
            let (child, flag, _wait) = run_to_point(&args, write_at, Some(spec))?;
            // A session of its own, read-write even once the database defaults to read-only.
            let written = PostgresDriver::connect(&url).and_then(|mut original| {
                original.execute(
                    "BEGIN READ WRITE; UPDATE orders SET note = 'dac' WHERE id = (SELECT min(id) FROM orders); COMMIT",
                )?;
                original.execute(
                    "BEGIN READ WRITE; UPDATE orders SET note = NULL WHERE id = (SELECT min(id) FROM orders); COMMIT",
                )
            });
            let _ = std::fs::remove_file(&flag);
            let run = finish(child);
            written.map_err(|e| format!("writing to the original: {e}"))?;
            expect_abort("the run", &run)?;
            if !run.stderr.contains(reached) {
                return Err(format!(
                    "the run never reached its {reached}: {}",
                    run.describe()
                ));
            }
            // At rest: the original untouched, and the only slot the journalled one.
            let at_rest = differences(&postgres_snapshot(&url)?, &before);
            if !at_rest.is_empty() {
                return Err(format!("at rest, the original changed: {at_rest:?}"));
            }
            let journal = upgrade::journal(&target)
                .map_err(db_error)?
                .ok_or("at rest: no journal")?;
            let left = slots();
            if left.len() != 1 || journal.change_stream.as_ref() != left.first() {
                return Err(format!(
                    "at rest: slots {left:?}, journalled {:?}",
                    journal.change_stream
                ));
            }
            let recovered = dac(&["recover", "--target", &url], None);
            expect_ok("dac recover", &recovered)?;
            if !slots().is_empty() {
                return Err(format!("after recover, slots are left: {:?}", slots()));
            }
            if upgrade::journal(&target).map_err(db_error)?.is_some() {
                return Err("after recover, a journal is left".into());
            }
            let temporary = format!("{}__dac_new", target_name(&url));
            let mut admin = PostgresDriver::connect(&server.url("postgres")).map_err(db_error)?;
            let left = admin
                .query(&format!(
                    "SELECT count(*) FROM pg_database WHERE datname = {}",
                    sql_literal(&temporary)
                ))
                .map_err(db_error)?;
            if cell(&left).as_deref() != Some("0") {
                return Err(format!("after recover, {temporary} is left"));
            }
            let settled = differences(&postgres_snapshot(&url)?, &before);
            if !settled.is_empty() {
                return Err(format!("after recover, the original changed: {settled:?}"));
            }
            let upgraded = dac(&as_strs(&args), None);
            expect_ok("the upgrade again", &upgraded)?;
            if !upgraded.stdout.contains("found by: logical decoding") {
                return Err(format!("the upgrade again: {}", upgraded.describe()));
            }
            if !slots().is_empty() {
                return Err(format!("after the upgrade, slots are left: {:?}", slots()));
            }
            Ok(())
        })();
        eprintln!(
            "faults (logical decoding): {label}: {}",
            result
                .as_ref()
                .map_or_else(|e| format!("FAILED: {e}"), |()| "survived".into())
        );
        if let Err(why) = result {
            failed.push(format!("{label}: {why}"));
        }
        server.drop_database(&url);
    }
    assert!(failed.is_empty(), "failed:\n{}", failed.join("\n"));
}

/// The database name of a PostgreSQL URL.
fn target_name(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .expect("database name")
        .to_string()
}
