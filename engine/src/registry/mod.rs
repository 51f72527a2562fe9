//! The registry, our msdb: per database, the application registered there (name, version, the
//! package deployed), and the history of what dac did to it.
//!
//! The registry lives *inside* the database it describes (SQLite: tables `_dac_registry` and
//! `_dac_history`; PostgreSQL: schema `_dac`), written by the driver in the same transaction as
//! the upgrade, so an upgrade and its registration commit or roll back together, and a
//! side-by-side upgrade, which renames databases, carries it along: it follows the database,
//! not its name. See ARCHITECTURE.md.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Result;
use crate::model::Model;
use crate::package::{self, Package, ReadOptions};

/// The application registered on a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    /// Application name (DacMetadata Name).
    pub name: String,
    /// Application version.
    pub version: String,
    /// The registered definition: the package bytes (skipped in JSON output).
    #[serde(skip)]
    pub definition: Vec<u8>,
    /// SHA-256 of the package's model.xml, upper-case hex.
    pub model_hash: String,
    /// Who registered it (the operating-system user running dac).
    pub registered_by: String,
    /// When (UTC, RFC 3339).
    pub registered_at: String,
}

impl Registration {
    /// A registration of `package` made now.
    pub fn of(package: &Package) -> Result<Registration> {
        let definition = package::to_bytes(package)?;
        let metadata = package.metadata.clone().unwrap_or_default();
        Ok(Registration {
            name: metadata.name,
            version: metadata.version,
            model_hash: model_hash(&package.model),
            definition,
            registered_by: current_user(),
            registered_at: now_utc(),
        })
    }

    /// The registered package.
    pub fn package(&self) -> Result<Package> {
        package::read_bytes(
            &self.definition,
            std::path::Path::new("(registered definition)"),
            &ReadOptions::default(),
        )
    }
}

/// What dac did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryAction {
    /// First deployment of a package to a new or empty database.
    Deploy,
    /// An upgrade in place.
    Upgrade,
    /// A side-by-side upgrade (`sidebyside` in JSON written before its name was its stored
    /// name).
    #[serde(alias = "sidebyside")]
    SideBySide,
    /// Registration without changing the schema.
    Register,
    /// Registration removed.
    Unregister,
    /// A side-by-side upgrade undone.
    Rollback,
}

impl HistoryAction {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryAction::Deploy => "deploy",
            HistoryAction::Upgrade => "upgrade",
            HistoryAction::SideBySide => "side-by-side",
            HistoryAction::Register => "register",
            HistoryAction::Unregister => "unregister",
            HistoryAction::Rollback => "rollback",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Deploy,
            Self::Upgrade,
            Self::SideBySide,
            Self::Register,
            Self::Unregister,
            Self::Rollback,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }

    /// From a stored row: a name dac does not know is an error, never read as another action.
    pub fn read(text: &str) -> crate::error::Result<Self> {
        Self::parse(text).ok_or_else(|| {
            crate::error::Error::Invalid(format!(
                "the dac history holds an action dac does not know: {text:?}"
            ))
        })
    }
}

/// How an action ended (as `sysdac_history_internal.action_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryStatus {
    /// Done.
    Success,
    /// Failed; nothing was changed.
    Fail,
    /// Undone.
    Rollback,
}

impl HistoryStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryStatus::Success => "success",
            HistoryStatus::Fail => "fail",
            HistoryStatus::Rollback => "rollback",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Success, Self::Fail, Self::Rollback]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// From a stored row: a status dac does not know is an error, never read as a failure.
    pub fn read(text: &str) -> crate::error::Result<Self> {
        Self::parse(text).ok_or_else(|| {
            crate::error::Error::Invalid(format!(
                "the dac history holds a status dac does not know: {text:?}"
            ))
        })
    }
}

/// One history row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// What was done.
    pub action: HistoryAction,
    /// How it ended.
    pub status: HistoryStatus,
    /// Application name.
    pub name: String,
    /// Version before (none for deploys and registrations).
    pub version_before: Option<String>,
    /// Version after (none for failures and unregistrations).
    pub version_after: Option<String>,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who.
    pub by: String,
    /// Details: the failure, the data loss allowed, the drift overridden.
    pub message: String,
    /// How long the action took, in milliseconds (none for rows written before dac recorded it,
    /// and for actions that take no time of their own, as registrations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl HistoryEntry {
    /// An entry made now by the current user.
    pub fn now(action: HistoryAction, status: HistoryStatus, name: &str) -> Self {
        HistoryEntry {
            action,
            status,
            name: name.to_string(),
            version_before: None,
            version_after: None,
            at: now_utc(),
            by: current_user(),
            message: String::new(),
            duration_ms: None,
        }
    }

    /// Records how long the action took since `started`.
    pub fn took_since(&mut self, started: std::time::Instant) {
        self.duration_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    }

    /// Records how long the action took since `started_at` (RFC 3339 UTC, as [`now_utc`]
    /// writes it), for an action another process may have started; none when unreadable.
    pub fn took_since_utc(&mut self, started_at: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.duration_ms = parse_utc(started_at).map(|then| now.saturating_sub(then) * 1000);
    }
}

/// Upper-case hex SHA-256 of a model's model.xml.
pub fn model_hash(model: &Model) -> String {
    let xml = package::model_xml::render(model);
    Sha256::digest(&xml)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The user running dac: `$USER`/`$USERNAME`/`$LOGNAME`, else the account of the process's
/// user id in /etc/passwd.
pub fn current_user() -> String {
    for var in ["USER", "USERNAME", "LOGNAME"] {
        if let Ok(name) = std::env::var(var)
            && !name.is_empty()
        {
            return name;
        }
    }
    account_of_uid().unwrap_or_else(|| "unknown".into())
}

fn account_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_string())
    })
}

/// The current time, UTC, as RFC 3339 (`2026-11-26T10:00:00Z`).
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

/// Reads `YYYY-MM-DDThh:mm:ssZ` (as [`format_utc`] writes it) as seconds since the Unix epoch.
pub fn parse_utc(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), the inverse of `format_utc`'s.
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3_600 + minute * 60 + second).ok()
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn reads_back_the_dates_it_writes() {
        for secs in [0, 951_782_400, 1_795_000_000, 4_102_444_799] {
            assert_eq!(parse_utc(&format_utc(secs)), Some(secs));
        }
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-11-18 11:06:40Z",
            "2026-11-18T11:06:40",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_stored_action_name_is_the_json_name_and_the_old_one_still_reads() {
        let json = serde_json::to_string(&HistoryAction::SideBySide).unwrap();
        assert_eq!(json, "\"side-by-side\"");
        let old: HistoryAction = serde_json::from_str("\"sidebyside\"").unwrap();
        assert_eq!(old, HistoryAction::SideBySide);
    }

    #[test]
    fn names_round_trip() {
        for a in [
            "deploy",
            "upgrade",
            "side-by-side",
            "register",
            "unregister",
            "rollback",
        ] {
            assert_eq!(HistoryAction::parse(a).unwrap().as_str(), a);
        }
        for s in ["success", "fail", "rollback"] {
            assert_eq!(HistoryStatus::parse(s).unwrap().as_str(), s);
        }
    }
}
