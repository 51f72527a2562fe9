//! The catch-up of an early copy by logical decoding, where the server has it
//! (`wal_level = logical` and a role that may make replication slots).
//!
//! * **The slot** is a persistent logical slot (`test_decoding`, which ships with PostgreSQL)
//!   named `dac_sbs_<pid>_<hash of the database>`, journalled before it is made and dropped on
//!   every path: by the mark going away, explicitly after the last delta, by the undo of a failed
//!   run and by `dac recover` (an abandoned slot keeps all WAL since it was made). A temporary
//!   slot would die with its session, but the run would then depend on one session living from
//!   the first copy to the switch; the journal already makes a persistent one crash-safe.
//! * **Nothing missed**: the slot is made before the copy and its snapshot is not exported (a
//!   plain connection cannot), so the copy's snapshots come after the slot's consistent point.
//!   A transaction committed before that point is in every copy; one committed after it is in
//!   the stream. Changes the copy already holds come again from the stream: applying them is
//!   idempotent, since a pass does not replay values but re-reads, in one snapshot taken after
//!   the stream was read, the current row of every key the stream named (upserted, or deleted
//!   where the original no longer has it). Under the held writers the last read of the stream
//!   takes every commit (a commit of the reading session flushes the WAL first, so commits made
//!   with `synchronous_commit = off` are read too: without it the last of them were missed), and every key changed since the slot was
//!   made then holds the original's row.
//! * **Only copied tables**: changes to other tables are read and discarded. A database with
//!   partitioned or inherited tables is caught up by row versions instead (the stream names a
//!   partition's changes by the partition, not by the copied parent). A `TRUNCATE` of a
//!   caught-up table fails the run (it names no keys). Re-reading rows converts them as copied
//!   rows were (text format where a type changed) and never needs a value decoded from the
//!   stream, so unchanged TOASTed values are no matter; only the key's values are read from it.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::PostgresDriver;
use super::literal;
use super::server::{CatchUpColumns, PostgresCopier, PostgresWriteMark, upsert_statement};
use crate::driver::Driver;
use crate::driver::server::{CaughtUp, ChangeCapture, TableCopy, WriteMark, WrittenSince};
use crate::model::ObjectName;
use crate::{Error, Result};

/// The output plugin: part of every PostgreSQL installation.
const PLUGIN: &str = "test_decoding";

/// Prefix of a catch-up mark that carries the keys to re-read (see [`Copier::catch_up`]).
///
/// [`Copier::catch_up`]: crate::driver::Copier::catch_up
pub(super) const KEYS: &str = "keys:";

/// The catch-up without logical decoding.
const FALLBACK: &str = "row versions (xmin), upserted by primary key, deletes by a key anti-join";

/// Keys re-read with one statement.
const KEYS_PER_STATEMENT: usize = 1_000;

/// A key read from the stream: per key column, its type's name and its value as text.
type Key = Vec<(String, String)>;

/// The slot's name for a run on `database`: unique per process and database, within the
/// 63-byte limit and the characters slot names allow.
pub(super) fn slot_name(database: &str) -> String {
    let digest = Sha256::digest(database.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("dac_sbs_{}_{hash}", std::process::id())
}

/// Whether logical decoding can catch an early copy of `database` up, and why not if not.
pub(super) fn capture(admin: &mut PostgresDriver, database: &str) -> Result<ChangeCapture> {
    let row = admin
        .simple(
            "SELECT current_setting('wal_level'), \
             (SELECT (rolsuper OR rolreplication)::text FROM pg_roles WHERE rolname = current_user), \
             current_user::text, \
             (SELECT count(*)::text FROM pg_replication_slots), \
             current_setting('max_replication_slots')",
        )?
        .into_iter()
        .next()
        .unwrap_or_default();
    let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let (wal_level, may, user) = (field(0), field(1), field(2));
    let (used, max): (u64, u64) = (field(3).parse().unwrap_or(0), field(4).parse().unwrap_or(0));
    let why_not = if wal_level != "logical" {
        Some(format!("wal_level is {wal_level}, not logical"))
    } else if may != "true" {
        Some(format!(
            "role {user} may not make replication slots (neither superuser nor REPLICATION)"
        ))
    } else if used >= max {
        Some(format!(
            "all {max} replication slots (max_replication_slots) are in use"
        ))
    } else {
        None
    };
    Ok(match why_not {
        Some(why) => ChangeCapture {
            stream: None,
            method: fallback(&why),
        },
        None => {
            let slot = slot_name(database);
            ChangeCapture {
                method: method(&slot),
                stream: Some(slot),
            }
        }
    })
}

/// The catch-up by logical decoding through `slot`, for the report.
fn method(slot: &str) -> String {
    format!(
        "logical decoding (slot {slot}, {PLUGIN}, made before the copy): the rows of the keys changed since, re-read and upserted by primary key or deleted"
    )
}

/// How a mark moves its slot's restart point past the copy (see [`LogicalWriteMark::read`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RestartPoint {
    /// `pg_log_standby_snapshot()` (PostgreSQL 16 and later, where the role may run it).
    LogSnapshot,
    /// `CHECKPOINT` (a superuser, or a member of `pg_checkpoint`).
    Checkpoint,
    /// Neither is allowed: the point moves when PostgreSQL logs running transactions by itself.
    Waits,
}

impl RestartPoint {
    /// What `session`'s role may do.
    fn allowed(session: &mut PostgresDriver) -> Result<Self> {
        let row = session
            .simple(
                "SELECT current_setting('server_version_num')::int >= 160000 \
                   AND has_function_privilege(to_regprocedure('pg_log_standby_snapshot()'), 'EXECUTE'), \
                 (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
                   OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_checkpoint' AND pg_has_role(oid, 'MEMBER'))",
            )?
            .into_iter()
            .next()
            .unwrap_or_default();
        let yes = |i: usize| row.get(i).cloned().flatten().as_deref() == Some("t");
        Ok(if yes(0) {
            Self::LogSnapshot
        } else if yes(1) {
            Self::Checkpoint
        } else {
            Self::Waits
        })
    }
}

/// Drops the slot `slot` if it exists.
pub(super) fn drop_slot(driver: &mut PostgresDriver, slot: &str) -> Result<()> {
    driver
        .simple(&format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = {}",
            literal(slot)
        ))
        .map(|_| ())
}

/// How long making the slot waits for the transactions running when it was asked for.
pub(super) const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// SQLSTATE `lock_not_available`: `lock_timeout` ran out.
const LOCK_TIMEOUT: &str = "55P03";

/// Makes the slot on a session of the original database (before the copy and the row-version
/// mark). A slot is consistent once every transaction running when it was asked for has ended:
/// `false` when one still runs after [`SLOT_WAIT`] (no slot is left; the caller falls back to
/// row versions rather than wait on a client's open transaction).
pub(super) fn make_slot(session: &mut PostgresDriver, slot: &str) -> Result<bool> {
    // Commits of this session flush the WAL (see `LogicalWriteMark::read`); the session
    // writes (a temporary table) even where the original is read-only.
    session.execute(&format!(
        "SET synchronous_commit = on; SET default_transaction_read_only = off; SET lock_timeout = {}",
        SLOT_WAIT.as_millis()
    ))?;
    let made = session.simple(&format!(
        "SELECT lsn::text FROM pg_create_logical_replication_slot({}, {}, false)",
        literal(slot),
        literal(PLUGIN)
    ));
    session.execute("RESET lock_timeout")?;
    match made {
        Ok(_) => Ok(true),
        Err(Error::Driver {
            code: Some(code), ..
        }) if code == LOCK_TIMEOUT => {
            drop_slot(session, slot)?;
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// What the report says when logical decoding was chosen but is not used, and why.
pub(super) fn fallback(why: &str) -> String {
    format!("{FALLBACK}; no logical decoding: {why}")
}

/// Why the slot is not made though the server could, if so: logical decoding reports a
/// change to a partition or an inheritance child under that table's own name, never its
/// parent's (the table that is copied), so such a database is caught up by row versions.
pub(super) fn unsuited(session: &mut PostgresDriver) -> Result<Option<String>> {
    let inherited = session
        .scalar("SELECT string_agg(DISTINCT inhparent::regclass::text, ', ') FROM pg_inherits")?;
    Ok(inherited.filter(|t| !t.is_empty()).map(|tables| {
        format!("partitioned or inherited tables ({tables}), whose changes it names by partition")
    }))
}

/// What the report says when the slot could not be made in time.
pub(super) fn slot_wait_fallback() -> String {
    fallback(&format!(
        "a transaction open when the upgrade began kept the slot from being made within {} s",
        SLOT_WAIT.as_secs()
    ))
}

/// A value in `test_decoding`'s output.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Null,
    /// Quoted in the output (text-like types).
    Quoted(String),
    /// Unquoted: numbers, booleans, `unchanged-toast-datum`.
    Bare(String),
}

/// One tuple of a change (an INSERT's or UPDATE's new tuple, an UPDATE's old key, a DELETE's
/// key): per column, its name, its type's name and its value.
type Tuple = Vec<(String, String, Value)>;

/// One line of `test_decoding`'s output that names a table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    /// Schema and table.
    table: (String, String),
    action: String,
    tuples: Vec<Tuple>,
}

/// An identifier as `quote_identifier` prints it, and the rest of the text.
fn identifier<'a>(text: &'a str, stop: &[char]) -> Option<(String, &'a str)> {
    if text.starts_with('"') {
        unquote(text, '"')
    } else {
        let end = text.find(stop)?;
        Some((text[..end].to_string(), &text[end..]))
    }
}

/// A quoted value (`'...'`, quotes doubled) and the rest of the text.
fn quoted_value(text: &str) -> Option<(String, &str)> {
    unquote(text, '\'')
}

/// The text between `quote` and its closing `quote` (doubled inside to stand for itself),
/// and the rest after it; `None` when `text` does not start with `quote` or never closes.
fn unquote(text: &str, quote: char) -> Option<(String, &str)> {
    let rest = text.strip_prefix(quote)?;
    let mut value = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != quote {
            value.push(c);
        } else if rest[i + 1..].starts_with(quote) {
            value.push(quote);
            chars.next();
        } else {
            return Some((value, &rest[i + 1..]));
        }
    }
    None
}

/// Parses one `data` row of `pg_logical_slot_get_changes` from `test_decoding`: `None` for
/// BEGIN, COMMIT and messages; an error for a row naming a table that does not parse.
fn parse_change(line: &str) -> Result<Option<Change>> {
    let Some(rest) = line.strip_prefix("table ") else {
        return Ok(None);
    };
    let bad = || Error::Invalid(format!("logical decoding: cannot read the change {line:?}"));
    let (schema, rest) = identifier(rest, &['.']).ok_or_else(bad)?;
    let rest = rest.strip_prefix('.').ok_or_else(bad)?;
    let (table, rest) = identifier(rest, &[':']).ok_or_else(bad)?;
    let rest = rest.strip_prefix(": ").ok_or_else(bad)?;
    let (action, mut rest) = rest.split_once(':').ok_or_else(bad)?;
    let mut tuples: Vec<Tuple> = vec![Vec::new()];
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest
            .strip_prefix("old-key:")
            .or_else(|| rest.strip_prefix("new-tuple:"))
        {
            if tuples.last().is_some_and(|t| !t.is_empty()) {
                tuples.push(Vec::new());
            }
            rest = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix("(no-tuple-data)") {
            rest = after;
            continue;
        }
        let (column, after) = identifier(rest, &['[']).ok_or_else(bad)?;
        let after = after.strip_prefix('[').ok_or_else(bad)?;
        let end = after.find("]:").ok_or_else(bad)?;
        let type_name = after[..end].to_string();
        let after = &after[end + 2..];
        let (value, after) = if after.starts_with('\'') {
            let (value, after) = quoted_value(after).ok_or_else(bad)?;
            (Value::Quoted(value), after)
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            let bare = &after[..end];
            let value = if bare == "null" {
                Value::Null
            } else {
                Value::Bare(bare.to_string())
            };
            (value, &after[end..])
        };
        if let Some(tuple) = tuples.last_mut() {
            tuple.push((column, type_name, value));
        }
        rest = after;
    }
    tuples.retain(|t| !t.is_empty());
    Ok(Some(Change {
        table: (schema, table),
        action: action.to_string(),
        tuples,
    }))
}

/// The keys (source key columns `key`) a change names: one per tuple that holds the key.
fn keys_of(change: &Change, key: &[String], table: &ObjectName) -> Result<Vec<Key>> {
    let mut keys = Vec::new();
    for tuple in &change.tuples {
        let found: Vec<Option<&(String, String, Value)>> = key
            .iter()
            .map(|k| tuple.iter().find(|(column, _, _)| column == k))
            .collect();
        if found.iter().all(Option::is_none) {
            continue;
        }
        let mut one = Key::new();
        for (k, column) in key.iter().zip(found) {
            let value = match column {
                Some((_, type_name, Value::Quoted(v))) => (type_name.clone(), v.clone()),
                Some((_, type_name, Value::Bare(v))) if v != "unchanged-toast-datum" => {
                    // bit strings print as B'0101'
                    let v = v
                        .strip_prefix("B'")
                        .and_then(|v| v.strip_suffix('\''))
                        .unwrap_or(v);
                    (type_name.clone(), v.to_string())
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "{table}: a change read by logical decoding has no value for key column {k}"
                    )));
                }
            };
            one.push(value);
        }
        keys.push(one);
    }
    if keys.is_empty() {
        return Err(Error::Invalid(format!(
            "{table}: a {} read by logical decoding names no key (its replica identity does not include the primary key)",
            change.action
        )));
    }
    Ok(keys)
}

/// A write mark that reads a logical slot made before the copy; the row-version mark beside it
/// finds schema changes (from the catalog's row versions).
pub(super) struct LogicalWriteMark {
    versions: PostgresWriteMark,
    session: PostgresDriver,
    slot: String,
    /// Changes read and not yet handed to a pass, per table.
    pending: BTreeMap<(String, String), Vec<Change>>,
    /// Every table changed since the slot was made, with how many changes.
    written: BTreeMap<(String, String), u64>,
    /// Tables truncated since the slot was made.
    truncated: BTreeSet<(String, String)>,
    /// How the first read moves the slot's restart point; `None` once it has.
    restart: Option<RestartPoint>,
}

fn table_key(table: &ObjectName) -> Option<(String, String)> {
    let parts = table.parts();
    (parts.len() == 2).then(|| (parts[0].to_string(), parts[1].to_string()))
}

impl LogicalWriteMark {
    pub(super) fn new(
        versions: PostgresWriteMark,
        mut session: PostgresDriver,
        slot: String,
    ) -> Result<Self> {
        let restart = RestartPoint::allowed(&mut session)?;
        Ok(LogicalWriteMark {
            versions,
            session,
            slot,
            pending: BTreeMap::new(),
            written: BTreeMap::new(),
            truncated: BTreeSet::new(),
            restart: Some(restart),
        })
    }

    /// Reads (and consumes) everything the slot holds: first a commit of this session, which
    /// flushes the WAL up to it, so every transaction committed before is readable (the slot is
    /// read up to the flushed WAL only, and writers may commit asynchronously). The commit must
    /// have written WAL to be flushed: a transaction id alone is committed asynchronously.
    ///
    /// The first read also logs the running transactions, so that, consuming past that record,
    /// it lets the slot's restart point move there. Every read decodes the WAL from the restart
    /// point, and the WAL is the whole server's: without this the reads under held writers
    /// would decode all of it since the slot was made, the copy's own WAL included, and the
    /// window would grow with the data. PostgreSQL logs that record by itself only every 15 s
    /// and at checkpoints.
    fn read(&mut self) -> Result<()> {
        match self.restart.take() {
            Some(RestartPoint::LogSnapshot) => {
                self.session.simple("SELECT pg_log_standby_snapshot()")?;
            }
            Some(RestartPoint::Checkpoint) => self.session.execute("CHECKPOINT")?,
            Some(RestartPoint::Waits) | None => {}
        }
        self.session
            .execute("BEGIN; CREATE TEMP TABLE dac_flush (x int) ON COMMIT DROP; COMMIT")?;
        let rows = self.session.simple(&format!(
            "SELECT data FROM pg_logical_slot_get_changes({}, NULL, NULL, 'skip-empty-xacts', '1')",
            literal(&self.slot)
        ))?;
        for row in rows {
            let Some(Some(line)) = row.into_iter().next() else {
                continue;
            };
            let Some(change) = parse_change(&line)? else {
                continue;
            };
            *self.written.entry(change.table.clone()).or_default() += 1;
            if change.action == "TRUNCATE" {
                self.truncated.insert(change.table.clone());
            }
            self.pending
                .entry(change.table.clone())
                .or_default()
                .push(change);
        }
        Ok(())
    }
}

impl Drop for LogicalWriteMark {
    fn drop(&mut self) {
        // Also dropped by the run and by recovery (journalled): this is the first of those.
        let _ = drop_slot(&mut self.session, &self.slot);
    }
}

impl WriteMark for LogicalWriteMark {
    fn written(&mut self, copied: &[(ObjectName, u64)]) -> Result<WrittenSince> {
        let schema = self.versions.schema_changes(copied)?;
        if !schema.is_empty() {
            return Ok(WrittenSince::Schema(schema.join(", ")));
        }
        // Writers are held: moving the restart point now would cost the window, not save it.
        self.restart = None;
        self.read()?;
        let mut tables = Vec::new();
        let mut why = Vec::new();
        for (table, _) in copied {
            let Some(name) = table_key(table) else {
                continue;
            };
            if let Some(changes) = self.written.get(&name) {
                tables.push(table.clone());
                why.push(format!("{table}: {changes} change(s) since the copy began"));
            }
        }
        if tables.is_empty() {
            return Ok(WrittenSince::Nothing);
        }
        Ok(WrittenSince::Rows {
            why: why.join("; "),
            tables: Some(tables),
        })
    }

    fn since(&self) -> String {
        format!("{KEYS}[]")
    }

    fn method(&self) -> Option<String> {
        (self.restart == Some(RestartPoint::Waits)).then(|| {
            format!(
                "{}; the role may neither CHECKPOINT nor run pg_log_standby_snapshot(), so the slot's restart point moves only when PostgreSQL logs running transactions (every 15 s): until then each read of the slot decodes the WAL since the copy began, the copy's own included, which lengthens the last delta",
                method(&self.slot)
            )
        })
    }

    fn read_changes(&mut self, tables: &[&TableCopy]) -> Result<Option<Vec<String>>> {
        self.read()?;
        let mut marks = Vec::new();
        for table in tables {
            let name = table_key(&table.source).ok_or_else(|| {
                Error::Invalid(format!("{}: not a schema-qualified table", table.source))
            })?;
            if self.truncated.contains(&name) {
                return Err(Error::Invalid(format!(
                    "{} was truncated while it was copied: a TRUNCATE names no rows to catch up by key; run the upgrade again",
                    table.source
                )));
            }
            let key: Vec<String> = table
                .key
                .iter()
                .filter_map(|k| {
                    table
                        .columns
                        .iter()
                        .find(|(_, d)| d == k)
                        .map(|(s, _)| s.clone())
                })
                .collect();
            let mut keys = BTreeSet::new();
            for change in self.pending.remove(&name).unwrap_or_default() {
                keys.extend(keys_of(&change, &key, &table.source)?);
            }
            let keys: Vec<Key> = keys.into_iter().collect();
            let json = serde_json::to_string(&keys)
                .map_err(|e| Error::Invalid(format!("{}: {e}", table.source)))?;
            marks.push(format!("{KEYS}{json}"));
        }
        // What is left is for tables no pass catches up (not copied, or without a key, which
        // are copied again if written): only their names were needed.
        self.pending.clear();
        Ok(Some(marks))
    }
}

impl PostgresCopier {
    /// [`Copier::catch_up`] from the keys the stream named (`keys`, a JSON list): their rows
    /// re-read from the original in one snapshot (converted as copied rows are) and upserted,
    /// those the original no longer has deleted; one transaction on each side.
    ///
    /// [`Copier::catch_up`]: crate::driver::Copier::catch_up
    pub(super) fn catch_up_keys(&mut self, table: &TableCopy, keys: &str) -> Result<CaughtUp> {
        let next = format!("{KEYS}[]");
        let keys: Vec<Key> = serde_json::from_str(keys)
            .map_err(|e| Error::Invalid(format!("{}: unreadable keys: {e}", table.source)))?;
        if keys.is_empty() {
            return Ok(CaughtUp {
                upserted: 0,
                deleted: 0,
                next,
                merged_whole: false,
            });
        }
        let CatchUpColumns {
            key_sources,
            key_destinations,
            sources,
            destinations,
            source,
            destination,
            format,
        } = CatchUpColumns::of(table)?;
        self.source
            .execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        self.destination.execute("BEGIN")?;
        self.destination.execute(&format!(
            "CREATE TEMP TABLE dac_delta ON COMMIT DROP AS SELECT {} FROM {destination} WITH NO DATA; \
             CREATE TEMP TABLE dac_keys ON COMMIT DROP AS SELECT {} FROM {destination} WITH NO DATA",
            destinations.join(", "),
            key_destinations.join(", ")
        ))?;
        let mut upserted = 0;
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            let as_text: Vec<String> = chunk
                .iter()
                .map(|k| {
                    let values: Vec<String> = k.iter().map(|(_, v)| literal(v)).collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            // The new database's input functions convert the keys as they converted the rows.
            self.destination.execute(&format!(
                "INSERT INTO dac_keys ({}) VALUES {}",
                key_destinations.join(", "),
                as_text.join(", ")
            ))?;
            let typed: Vec<String> = chunk
                .iter()
                .map(|k| {
                    let values: Vec<String> = k
                        .iter()
                        .map(|(type_name, v)| format!("{}::{type_name}", literal(v)))
                        .collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            upserted += self
                .pipe(
                    &format!(
                        "COPY (SELECT {} FROM {source} WHERE ({}) IN (VALUES {})) TO STDOUT{format}",
                        sources.join(", "),
                        key_sources.join(", "),
                        typed.join(", ")
                    ),
                    &format!(
                        "COPY dac_delta ({}) FROM STDIN{format}",
                        destinations.join(", ")
                    ),
                    table,
                    &mut |_| {},
                )?
                .rows;
        }
        crate::fault::point("copy.catch-up");
        if upserted > 0 {
            self.destination.execute(&upsert_statement(
                &destination,
                &destinations,
                &key_destinations,
            ))?;
        }
        let on = |a: &str, b: &str| -> String {
            key_destinations
                .iter()
                .map(|k| format!("{a}.{k} = {b}.{k}"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let deleted = self
            .destination
            .scalar(&format!(
                "WITH gone AS (DELETE FROM {destination} AS d USING dac_keys AS k WHERE {} \
                 AND NOT EXISTS (SELECT 1 FROM dac_delta AS x WHERE {}) RETURNING 1) \
                 SELECT count(*)::text FROM gone",
                on("k", "d"),
                on("x", "d")
            ))?
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        self.source.execute("COMMIT")?;
        self.destination.execute("COMMIT")?;
        Ok(CaughtUp {
            upserted,
            deleted,
            next,
            merged_whole: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_decoding_rows_parse() {
        let change = parse_change(
            "table public.orders: UPDATE: id[integer]:7 note[text]:'it''s [x]:y' total[numeric]:null",
        )
        .unwrap()
        .unwrap();
        assert_eq!(change.table, ("public".into(), "orders".into()));
        assert_eq!(change.action, "UPDATE");
        assert_eq!(
            change.tuples,
            vec![vec![
                ("id".into(), "integer".into(), Value::Bare("7".into())),
                (
                    "note".into(),
                    "text".into(),
                    Value::Quoted("it's [x]:y".into())
                ),
                ("total".into(), "numeric".into(), Value::Null),
            ]]
        );
        let moved = parse_change(
            "table \"My \"\"S\".\"T:1\": UPDATE: old-key: \"K ey\"[character varying]:'a' new-tuple: \"K ey\"[character varying]:'b' n[integer[]]:'{1,2}'",
        )
        .unwrap()
        .unwrap();
        assert_eq!(moved.table, ("My \"S".into(), "T:1".into()));
        let name = ObjectName::new(["My \"S", "T:1"]);
        let keys = keys_of(&moved, &["K ey".to_string()], &name).unwrap();
        assert_eq!(
            keys,
            vec![
                vec![("character varying".to_string(), "a".to_string())],
                vec![("character varying".to_string(), "b".to_string())]
            ]
        );
        assert_eq!(parse_change("BEGIN").unwrap(), None);
        assert_eq!(parse_change("COMMIT").unwrap(), None);
        let deleted = parse_change("table public.t: DELETE: (no-tuple-data)")
            .unwrap()
            .unwrap();
        assert!(keys_of(&deleted, &["id".to_string()], &name).is_err());
        let toast = parse_change("table public.t: UPDATE: id[integer]:unchanged-toast-datum")
            .unwrap()
            .unwrap();
        assert!(keys_of(&toast, &["id".to_string()], &name).is_err());
        assert!(parse_change("table public.t UPDATE").is_err());
    }

    #[test]
    fn slot_names_are_valid_and_short() {
        let name = slot_name(&"Ä".repeat(100));
        assert!(name.len() <= 63);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
        assert_eq!(slot_name("app"), slot_name("app"));
    }
}
