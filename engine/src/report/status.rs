//! A registered database's history (`dac history`) and its state at a glance (`dac status`):
//! plain data with versioned JSON, and renderings for people and pull requests.

use serde::Serialize;

use super::FORMAT_VERSION;
use crate::registry::{HistoryEntry, Registration};

/// The application registered in a database, without its definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredApplication {
    /// Application name.
    pub name: String,
    /// Application version.
    pub version: String,
    /// SHA-256 of the registered model.xml.
    pub model_hash: String,
    /// Who registered it, and when (UTC).
    pub registered_by: String,
    /// When (UTC).
    pub registered_at: String,
}

impl RegisteredApplication {
    /// The registration's identity.
    pub fn of(registration: &Registration) -> Self {
        RegisteredApplication {
            name: registration.name.clone(),
            version: registration.version.clone(),
            model_hash: registration.model_hash.clone(),
            registered_by: registration.registered_by.clone(),
            registered_at: registration.registered_at.clone(),
        }
    }
}

/// `dac history`: the registration and every history row, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryReport {
    /// JSON shape version.
    pub format_version: u32,
    /// The database, as shown (never a password).
    pub target: String,
    /// The application registered now, if any.
    pub registration: Option<RegisteredApplication>,
    /// What dac did to the database, oldest first.
    pub entries: Vec<HistoryEntry>,
}

impl HistoryReport {
    /// The history of `target`.
    pub fn of(
        target: &str,
        registration: Option<&Registration>,
        entries: Vec<HistoryEntry>,
    ) -> Self {
        HistoryReport {
            format_version: FORMAT_VERSION,
            target: target.to_string(),
            registration: registration.map(RegisteredApplication::of),
            entries,
        }
    }

    /// For people: one line per action.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{}: {}\n",
            self.target,
            registered(self.registration.as_ref())
        );
        if self.entries.is_empty() {
            out.push_str("  no history\n");
        }
        for e in &self.entries {
            out.push_str(&format!(
                "  {}  {:<12} {:<8} {} {}  by {}{}{}\n",
                e.at,
                e.action.as_str(),
                e.status.as_str(),
                e.name,
                versions(e),
                e.by,
                duration(e),
                message(&e.message, " — "),
            ));
        }
        out
    }

    /// For a pull request or change record: a table.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## History of {}\n\n{}\n\n| when (UTC) | action | status | application | versions | by | took | notes |\n|---|---|---|---|---|---|---|---|\n",
            md(&self.target),
            md(&registered(self.registration.as_ref()))
        );
        for e in &self.entries {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                e.at,
                e.action.as_str(),
                e.status.as_str(),
                md(&e.name),
                md(&versions(e)),
                md(&e.by),
                e.duration_ms.map(format_ms).unwrap_or_default(),
                md(&e.message)
            ));
        }
        out
    }
}

/// `dac status`: what is registered, whether it drifted, what a side-by-side upgrade left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// JSON shape version.
    pub format_version: u32,
    /// The database, as shown (never a password).
    pub target: String,
    /// The application registered, if any.
    pub registration: Option<RegisteredApplication>,
    /// Differences between the registered definition and the live schema (none when not
    /// registered).
    pub drift: Option<Vec<String>>,
    /// The original a side-by-side upgrade retained for `dac rollback`, when it still exists.
    pub retained_original: Option<String>,
    /// The phase a side-by-side upgrade or rollback was interrupted in (`dac recover`
    /// finishes or undoes it).
    pub interrupted: Option<String>,
    /// The last history row.
    pub last: Option<HistoryEntry>,
}

impl StatusReport {
    /// Whether something needs attention: drift, or an interrupted run.
    pub fn needs_attention(&self) -> bool {
        self.drift.as_ref().is_some_and(|d| !d.is_empty()) || self.interrupted.is_some()
    }

    /// For people.
    pub fn text(&self) -> String {
        self.lines()
            .into_iter()
            .map(|(label, value)| format!("{label:<19} {value}\n"))
            .collect()
    }

    /// For a pull request: a two-column table.
    pub fn markdown(&self) -> String {
        let mut out = format!("## Status of {}\n\n| | |\n|---|---|\n", md(&self.target));
        for (label, value) in self.lines().into_iter().skip(1) {
            out.push_str(&format!(
                "| {} | {} |\n",
                label.trim_end_matches(':'),
                md(&value)
            ));
        }
        out
    }

    fn lines(&self) -> Vec<(&'static str, String)> {
        let drift = match &self.drift {
            None => "not checked (not registered)".to_string(),
            Some(d) if d.is_empty() => "none".to_string(),
            Some(d) => format!("{} difference(s): {}", d.len(), d.join("; ")),
        };
        let last = self.last.as_ref().map_or("none".to_string(), |e| {
            format!(
                "{} {} {} {} at {} by {}",
                e.action.as_str(),
                e.status.as_str(),
                e.name,
                versions(e),
                e.at,
                e.by
            )
        });
        vec![
            ("target:", self.target.clone()),
            ("registered:", registered(self.registration.as_ref())),
            ("drift:", drift),
            (
                "retained original:",
                self.retained_original
                    .clone()
                    .map_or("none".to_string(), |name| format!("{name} (dac rollback)")),
            ),
            (
                "interrupted run:",
                self.interrupted
                    .clone()
                    .map_or("none".to_string(), |phase| format!("{phase} (dac recover)")),
            ),
            ("last action:", last),
        ]
    }
}

fn registered(registration: Option<&RegisteredApplication>) -> String {
    registration.map_or("not registered".to_string(), |r| {
        format!(
            "{} {} (registered {} by {})",
            r.name, r.version, r.registered_at, r.registered_by
        )
    })
}

fn versions(e: &HistoryEntry) -> String {
    match (&e.version_before, &e.version_after) {
        (Some(before), Some(after)) => format!("{before} -> {after}"),
        (None, Some(after)) => format!("-> {after}"),
        (Some(before), None) => format!("{before} ->"),
        (None, None) => String::new(),
    }
}

fn duration(e: &HistoryEntry) -> String {
    e.duration_ms
        .map(|ms| format!(", took {}", format_ms(ms)))
        .unwrap_or_default()
}

fn format_ms(ms: u64) -> String {
    if ms < 10_000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn message(text: &str, lead: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{lead}{}", text.replace('\n', " "))
    }
}

/// Markdown table cells: no pipes or line breaks.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
