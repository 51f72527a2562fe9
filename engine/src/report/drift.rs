//! The drift of a registered database, for `dac drift-report`: what changed on it outside the
//! package since it was registered (additions, removals, modifications).

use super::{FORMAT_VERSION, changes};
use crate::compare::{Action, Diff};
use crate::registry::Registration;

/// A registered database against its registered definition.
#[derive(Debug, Clone, Copy)]
pub struct DriftReport<'a> {
    /// The database, as shown (never a password).
    pub target: &'a str,
    /// Its registration.
    pub registration: &'a Registration,
    /// From the registered definition to the live schema.
    pub diff: &'a Diff,
}

impl<'a> DriftReport<'a> {
    /// The drift of `target` from `registration`, found as `diff`.
    pub fn of(target: &'a str, registration: &'a Registration, diff: &'a Diff) -> DriftReport<'a> {
        DriftReport {
            target,
            registration,
            diff,
        }
    }

    /// Whether anything changed outside the package.
    pub fn drifted(&self) -> bool {
        !self.diff.is_empty()
    }

    /// DacFx's DriftReport XML: Additions, Removals, Modifications of `Object Name Parent Type`.
    pub fn xml(&self) -> String {
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<DriftReport xmlns=\"http://schemas.microsoft.com/sqlserver/dac/DriftReport/2012/02\">\n",
        );
        for (section, actions) in [
            ("Additions", &[Action::Create][..]),
            ("Removals", &[Action::Drop, Action::Keep][..]),
            ("Modifications", &[Action::Alter, Action::Rename][..]),
        ] {
            let items: Vec<_> = self
                .diff
                .changes
                .iter()
                .filter(|c| actions.contains(&c.action))
                .collect();
            if items.is_empty() {
                out.push_str(&format!("  <{section} />\n"));
                continue;
            }
            out.push_str(&format!("  <{section}>\n"));
            for c in items {
                let parent = c.name.parent().map(|p| p.to_string()).unwrap_or_default();
                out.push_str(&format!(
                    "    <Object Name=\"{}\" Parent=\"{}\" Type=\"{}\" />\n",
                    escape(&c.name.to_string()),
                    escape(&parent),
                    escape(&c.kind)
                ));
            }
            out.push_str(&format!("  </{section}>\n"));
        }
        out.push_str("</DriftReport>\n");
        out
    }

    /// JSON (pretty, keys in alphabetical order, a final newline): the registration and the
    /// changed objects as additions, removals and modifications.
    pub fn json(&self) -> String {
        let changes = changes(self.diff);
        let registration = self.registration;
        let value = serde_json::json!({
            "format_version": FORMAT_VERSION,
            "target": self.target,
            "registered": {"name": registration.name, "version": registration.version, "registered_at": registration.registered_at},
            "drifted": self.drifted(),
            "additions": changes.iter().filter(|c| c.action == "create").collect::<Vec<_>>(),
            "removals": changes.iter().filter(|c| c.action == "drop" || c.action == "keep").collect::<Vec<_>>(),
            "modifications": changes.iter().filter(|c| c.action == "alter" || c.action == "rename").collect::<Vec<_>>(),
        });
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    }

    /// Plain text for a terminal: a line, then one per changed object.
    pub fn text(&self) -> String {
        let registration = self.registration;
        if self.drifted() {
            format!(
                "{} drifted from {} {}:\n{}\n",
                self.target,
                registration.name,
                registration.version,
                describe_drift(self.diff)
            )
        } else {
            format!(
                "{}: no drift from {} {}\n",
                self.target, registration.name, registration.version
            )
        }
    }

    /// Markdown for a change record: the verdict, then a table of the changed objects.
    pub fn markdown(&self) -> String {
        let registration = self.registration;
        let mut out = format!(
            "## Drift report\n\n`{}` against its registered definition **{} {}**: ",
            self.target, registration.name, registration.version
        );
        if self.drifted() {
            out.push_str(&format!("**{} objects changed outside the package.**\n\n| change | type | object |\n|---|---|---|\n", self.diff.differences().count()));
            for c in self.diff.differences() {
                let what = match c.action {
                    Action::Create => "added",
                    Action::Drop | Action::Keep => "removed",
                    _ => "modified",
                };
                out.push_str(&format!("| {what} | {} | `{}` |\n", c.kind, c.name));
            }
        } else {
            out.push_str("no drift.\n");
        }
        out
    }
}

/// One line per drifted object: `+` added outside the package, `-` removed, `~` modified.
pub fn describe_drift(diff: &Diff) -> String {
    diff.differences()
        .map(|c| {
            let mark = match c.action {
                Action::Create => "+ added",
                Action::Drop | Action::Keep => "- removed",
                Action::Alter | Action::Rename => "~ modified",
            };
            format!("  {mark} {} {}", c.kind, c.name)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
