//! The journal of a side-by-side upgrade: its phases, and where the server keeps it.

use serde::{Deserialize, Serialize};

use crate::driver::{Server, Target, connect_server};
use crate::registry;
use crate::{Error, Result};

/// Where a side-by-side run is; the journal's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The new database exists and is being built; the original is untouched.
    Preparing,
    /// The original is (being made) read-only and its rows are being copied.
    Copying,
    /// The new database is complete: the switch is under way and is completed, not undone.
    Switching,
    /// Done; the journal stays as the record a rollback needs.
    Done,
    /// A rollback is under way and is completed, not undone.
    RollingBack,
}

/// The journal of a side-by-side upgrade of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideBySideJournal {
    /// SideBySideJournal format.
    pub format: u32,
    /// The target database (file path or name).
    pub target: String,
    /// The phase.
    pub phase: Phase,
    /// The new database's temporary name.
    pub temporary: String,
    /// The name the original keeps.
    pub retained: String,
    /// Whether the original was read-only before the upgrade.
    pub original_read_only: bool,
    /// Application name.
    pub application: String,
    /// Version before.
    pub version_before: Option<String>,
    /// Version after.
    pub version_after: String,
    /// When the upgrade started (UTC).
    pub started_at: String,
    /// The new database's change marker right after the switch.
    pub marker: Option<String>,
    /// Rollback: where the upgraded database goes.
    pub discard: Option<String>,
    /// Rollback: keep the upgraded database (it took writes and the rollback was forced).
    pub keep_discarded: bool,
    /// Foreign keys added to the new database without checking its rows, checked after the
    /// switch with writers back in; kept until they pass, so the next run checks what an
    /// interrupted one did not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks_after_switch: Vec<LaterCheck>,
    /// The catch-up pass under way over an early copy (before the switch: undone like every
    /// step of filling the new database, which is all a pass writes to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<CatchUpStep>,
    /// The change stream opened on the original for the catch-up (PostgreSQL: a logical
    /// replication slot), recorded before it is opened: every end of the run, recovery
    /// included, closes it, since an abandoned slot keeps the server's WAL forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_stream: Option<String>,
    /// Where the rows reach the new database by a copy of the whole original, upgraded in place
    /// ([`Server::copy_database`]), the step of it recorded before it is taken; `None`: rows
    /// copied table by table. Recovery is the same rule either way: before the switch, the copy
    /// is dropped and the original made writable again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_copy: Option<DatabaseCopyStep>,
}

/// The step a whole-database copy has reached (see [`SideBySideJournal::database_copy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseCopyStep {
    /// The original's writers are being held off and the copy started; it may not be online.
    Copying,
    /// The copy is online and is being upgraded in place.
    Upgrading,
    /// The copy is upgraded: the switch comes next.
    Upgraded,
}

impl DatabaseCopyStep {
    /// The step in words, for a recovery message.
    pub fn describe(self) -> &'static str {
        match self {
            DatabaseCopyStep::Copying => {
                "its copy of the whole database under way or about to start"
            }
            DatabaseCopyStep::Upgrading => "its copy of the whole database being upgraded in place",
            DatabaseCopyStep::Upgraded => "its copy of the whole database upgraded",
        }
    }
}

/// A catch-up pass recorded in the journal before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpStep {
    /// 1-based.
    pub pass: u32,
    /// The last delta, with writers held.
    pub held: bool,
}

/// A constraint added unchecked and checked after the switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaterCheck {
    /// The constraint.
    pub name: String,
    /// The statement that checks it.
    pub statement: String,
}

/// Saves the journal where the server keeps it (in the database that carries it, see
/// [`holder`]).
pub(super) fn save(server: &mut dyn Server, journal: &SideBySideJournal) -> Result<()> {
    let holder = holder(server, journal)?;
    save_in(server, journal, &holder)
}

/// Saves the journal in `holder` (where the server keeps it in a database).
pub(super) fn save_in(
    server: &mut dyn Server,
    journal: &SideBySideJournal,
    holder: &str,
) -> Result<()> {
    let text = serde_json::to_string(journal)
        .map_err(|e| Error::Invalid(format!("cannot write the journal: {e}")))?;
    server.save_journal(holder, &text)
}

/// The database that carries the journal where the server keeps it in a database.
fn holder(server: &mut dyn Server, journal: &SideBySideJournal) -> Result<String> {
    Ok(match journal.phase {
        Phase::RollingBack if server.exists(&journal.retained)? => journal.retained.clone(),
        _ if server.exists(&journal.temporary)? => journal.temporary.clone(),
        _ => journal.target.clone(),
    })
}

/// The journal the server keeps for its database, if any.
pub(super) fn load(server: &mut dyn Server) -> Result<Option<SideBySideJournal>> {
    let Some(text) = server.load_journal()? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::JournalUnreadable {
            database: server.database().to_string(),
            message: e.to_string(),
            journal: text,
        })
}

/// `YYYYMMDDhhmmss` (UTC) for retained names.
pub(super) fn stamp() -> String {
    registry::now_utc()
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

/// The journal of `target`'s last side-by-side upgrade, if any (for `status`-like commands).
pub fn journal(target: &Target) -> Result<Option<SideBySideJournal>> {
    let mut server = connect_server(target)?;
    load(server.as_mut())
}
