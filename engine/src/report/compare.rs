//! The comparison of two schemas, for `dac compare`: every changed object with what differs.

use std::fmt::Write;

use super::{ChangeReport, FORMAT_VERSION, changes};
use crate::compare::Diff;

/// What differs between a current and a desired schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareReport {
    /// What stands for the current schema (a package, project or connection; never a
    /// password).
    pub current: String,
    /// What stands for the desired schema.
    pub desired: String,
    /// Changed objects, not counting those only in the current schema and kept.
    pub differences: usize,
    /// Every changed object (kept ones too) with what differs.
    pub changes: Vec<ChangeReport>,
}

impl CompareReport {
    /// The report of `diff`, from `current` to `desired`.
    pub fn of(current: &str, desired: &str, diff: &Diff) -> CompareReport {
        CompareReport {
            current: current.to_string(),
            desired: desired.to_string(),
            differences: diff.differences().count(),
            changes: changes(diff),
        }
    }

    /// JSON (pretty, keys in alphabetical order, a final newline).
    pub fn json(&self) -> String {
        let value = serde_json::json!({
            "format_version": FORMAT_VERSION,
            "current": self.current,
            "desired": self.desired,
            "differences": self.differences,
            "changes": self.changes,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    }

    /// Plain text for a terminal: a line per changed object, its differences indented below.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.differences == 0 {
            let _ = writeln!(out, "no differences");
        }
        for change in &self.changes {
            let from = change
                .renamed_from
                .as_ref()
                .map(|f| format!(" (from {f})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<7} {:<32} {}{from}",
                change.action, change.kind, change.name
            );
            for detail in &change.details {
                match &detail.diff {
                    Some(diff) => {
                        let _ = writeln!(out, "        {}:", detail.path);
                        for line in diff.lines() {
                            let _ = writeln!(out, "          {line}");
                        }
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "        {}: {} -> {}",
                            detail.path,
                            detail.current.as_deref().unwrap_or("(none)"),
                            detail.desired.as_deref().unwrap_or("(none)")
                        );
                    }
                }
            }
        }
        out
    }

    /// Markdown for a pull request: the count, then a table of the changed objects.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Schema comparison\n");
        let _ = writeln!(
            out,
            "`{}` → `{}`: {} differences.\n",
            self.current, self.desired, self.differences
        );
        if !self.changes.is_empty() {
            let _ = writeln!(out, "| action | type | object |\n|---|---|---|");
            for change in &self.changes {
                let _ = writeln!(
                    out,
                    "| {} | {} | `{}` |",
                    change.action, change.kind, change.name
                );
            }
        }
        out
    }
}
