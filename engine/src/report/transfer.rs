//! The data transfer report of a side-by-side upgrade: per table, what moved and what did not
//! and why, the totals, and how long writers were held off (the read-only window).

use serde::{Deserialize, Serialize};

use super::FORMAT_VERSION;
use crate::model::ObjectName;

/// Why a table's rows moved or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferCase {
    /// In the registered definition, the live database and the package, same shape: copied.
    Unchanged,
    /// As above but the shape changed: copied where table and column names match and types
    /// convert.
    Changed,
    /// Only in the package: created empty.
    New,
    /// In the live database and the package but not in the registered definition: created but
    /// not copied.
    Unregistered,
    /// In the registered definition (and the live database) but not in the package: not
    /// created.
    Dropped,
    /// Only in the live database (added outside the package) and not in the package: not
    /// created.
    LiveOnly,
    /// Registered and in the package but missing from the live database: created empty.
    Missing,
}

impl TransferCase {
    /// The case's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferCase::Unchanged => "unchanged",
            TransferCase::Changed => "changed",
            TransferCase::New => "new",
            TransferCase::Unregistered => "unregistered",
            TransferCase::Dropped => "dropped",
            TransferCase::LiveOnly => "live-only",
            TransferCase::Missing => "missing",
        }
    }
}

/// One table of the transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableTransfer {
    /// The table (its name in the package; the live name for tables not created).
    pub name: String,
    /// Its case.
    pub case: TransferCase,
    /// Whether its rows were copied.
    pub copied: bool,
    /// Rows copied (0 when not copied).
    pub rows: u64,
    /// Bytes streamed, where the platform streams (PostgreSQL COPY).
    pub bytes: u64,
    /// Why rows were not (all) copied, or other notes.
    pub reason: Option<String>,
    /// The live table the rows came from, when the package renames it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Live columns whose values were not transferred (not in the package).
    pub columns_dropped: Vec<String>,
    /// New columns (their default, or NULL).
    pub columns_added: Vec<String>,
    /// Columns whose type changed and whose values were converted.
    pub columns_converted: Vec<String>,
    /// Copy time in milliseconds.
    pub ms: u64,
}

impl TableTransfer {
    /// A row with nothing copied yet.
    pub fn new(name: &ObjectName, case: TransferCase, reason: Option<String>) -> TableTransfer {
        TableTransfer {
            name: name.to_string(),
            case,
            copied: false,
            rows: 0,
            bytes: 0,
            reason,
            renamed_from: None,
            columns_dropped: Vec::new(),
            columns_added: Vec::new(),
            columns_converted: Vec::new(),
            ms: 0,
        }
    }
}

/// The data transfer report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReport {
    /// JSON shape version.
    pub format_version: u32,
    /// The upgraded database (never a password).
    pub database: String,
    /// Application name.
    pub application: String,
    /// Registered version before, if any.
    pub version_before: Option<String>,
    /// Version after.
    pub version_after: String,
    /// Where the original now lives (retained for rollback).
    pub retained: String,
    /// Per table, in package order, then tables not created.
    pub tables: Vec<TableTransfer>,
    /// Tables whose rows were copied.
    pub tables_copied: usize,
    /// Rows copied in all.
    pub rows_copied: u64,
    /// Bytes streamed in all.
    pub bytes_copied: u64,
    /// How long writers were held off the original, in milliseconds.
    pub read_only_window_ms: u64,
    /// Copy time, in milliseconds.
    pub copy_ms: u64,
    /// The whole upgrade, in milliseconds.
    pub total_ms: u64,
    /// Tables copied at a time.
    pub parallelism: usize,
    /// Foreign keys the original held, added to the new database unchecked and checked after
    /// the switch, with writers back in (PostgreSQL).
    #[serde(default)]
    pub checked_after_switch: Vec<CheckedAfterSwitch>,
    /// Whether the rows were copied before writers were held off.
    #[serde(default)]
    pub early_copy: EarlyCopy,
    /// Why an early copy was discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_copy_note: Option<String>,
    /// The catch-up passes over an early copy, in order: those made while writers wrote,
    /// then the last delta, applied with writers held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catch_up: Vec<CatchUpPass>,
    /// Tables written to during an early copy that have no key to catch up by, so were copied
    /// again with writers held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copied_again: Vec<String>,
    /// What the read-only window held, and so why it is as long as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_reason: Option<String>,
    /// How writes during an early copy were found (PostgreSQL: logical decoding, or row
    /// versions and why not logical decoding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up_method: Option<String>,
    /// How the rows reached the new database where it was not table by table: the whole
    /// database copied on the server and upgraded in place, and why (the rows per table are
    /// then the copy's, counted before and after the upgrade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_method: Option<String>,
}

/// One catch-up pass: the rows written to the original since the previous one (the first:
/// since the copy began) carried into the new database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpPass {
    /// 1-based, the last delta included.
    pub pass: u32,
    /// Applied with writers held: the last delta.
    pub held: bool,
    /// Tables caught up.
    pub tables: usize,
    /// Rows inserted or updated in the new database.
    pub upserted: u64,
    /// Rows deleted from the new database.
    pub deleted: u64,
    /// How long the pass took, in milliseconds.
    pub ms: u64,
}

impl CatchUpPass {
    /// Rows the pass carried.
    pub fn rows(&self) -> u64 {
        self.upserted + self.deleted
    }
}

/// When the rows were copied, relative to holding writers off the original.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EarlyCopy {
    /// With writers held (the platform cannot tell what was written meanwhile, or it was
    /// not asked for).
    #[default]
    Off,
    /// Before writers were held; nothing was written to the copied tables since, so the
    /// copy was kept and the window held only the check and the switch.
    Kept,
    /// Before writers were held; rows were written meanwhile to some tables, which were
    /// emptied in the new database and copied again with writers held; the rest was kept.
    Partly,
    /// Before writers were held; something was written meanwhile, so the rows were copied
    /// again with writers held.
    Discarded,
    /// Before writers were held, then brought up to date in passes while writers wrote; only
    /// the last delta (and tables without a key that were written to) with writers held.
    CaughtUp,
}

/// A constraint checked after the switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedAfterSwitch {
    /// The constraint.
    pub name: String,
    /// How long the check took, in milliseconds.
    pub ms: u64,
    /// Why it is not checked yet (it stays enforced for new rows, and the next dac run
    /// against the database checks it again).
    pub error: Option<String>,
}

impl TransferReport {
    /// A report over `tables`, totals computed.
    pub fn new(tables: Vec<TableTransfer>) -> TransferReport {
        let mut report = TransferReport {
            format_version: FORMAT_VERSION,
            database: String::new(),
            application: String::new(),
            version_before: None,
            version_after: String::new(),
            retained: String::new(),
            tables,
            tables_copied: 0,
            rows_copied: 0,
            bytes_copied: 0,
            read_only_window_ms: 0,
            copy_ms: 0,
            total_ms: 0,
            parallelism: 1,
            checked_after_switch: Vec::new(),
            early_copy: EarlyCopy::Off,
            early_copy_note: None,
            catch_up: Vec::new(),
            copied_again: Vec::new(),
            window_reason: None,
            catch_up_method: None,
            copy_method: None,
        };
        report.total();
        report
    }

    /// Recomputes the totals from the tables.
    pub fn total(&mut self) {
        self.tables_copied = self.tables.iter().filter(|t| t.copied).count();
        self.rows_copied = self.tables.iter().map(|t| t.rows).sum();
        self.bytes_copied = self.tables.iter().map(|t| t.bytes).sum();
    }

    /// JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Plain text for a terminal.
    pub fn text(&self) -> String {
        let mut out = format!(
            "data transfer: {} {} -> {} on {}\n",
            self.application,
            self.version_before.as_deref().unwrap_or("(unregistered)"),
            self.version_after,
            self.database
        );
        out.push_str(&format!(
            "  {} of {} tables copied, {} rows, {}; read-only window {} ms (copy {} ms, total {} ms, {} at a time)\n",
            self.tables_copied,
            self.tables.len(),
            self.rows_copied,
            human_bytes(self.bytes_copied),
            self.read_only_window_ms,
            self.copy_ms,
            self.total_ms,
            self.parallelism
        ));
        if !self.retained.is_empty() {
            out.push_str(&format!("  original retained as {}\n", self.retained));
        }
        if let Some(method) = &self.copy_method {
            out.push_str(&format!("  method: {method}\n"));
        }
        out.push_str(&self.early_copy_text("  "));
        out.push_str(&self.checks_text("  "));
        for table in &self.tables {
            let moved = if table.copied {
                format!("{} rows", table.rows)
            } else {
                "not copied".into()
            };
            out.push_str(&format!(
                "  {:<12} {} ({moved})",
                table.case.as_str(),
                table.name
            ));
            if let Some(reason) = &table.reason {
                out.push_str(&format!(": {reason}"));
            }
            out.push('\n');
            for (label, columns) in [
                ("columns not transferred", &table.columns_dropped),
                ("new columns", &table.columns_added),
                ("converted", &table.columns_converted),
            ] {
                if !columns.is_empty() {
                    out.push_str(&format!("      {label}: {}\n", columns.join(", ")));
                }
            }
        }
        out
    }

    /// Markdown for a pull request or a change record.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## Data transfer: {} {} → {}\n\n",
            self.application,
            self.version_before.as_deref().unwrap_or("(unregistered)"),
            self.version_after
        );
        out.push_str(&format!(
            "**{} of {} tables copied**, {} rows ({}). Read-only window: **{} ms** (copy {} ms, total {} ms).\n\n",
            self.tables_copied,
            self.tables.len(),
            self.rows_copied,
            human_bytes(self.bytes_copied),
            self.read_only_window_ms,
            self.copy_ms,
            self.total_ms
        ));
        if let Some(method) = &self.copy_method {
            out.push_str(&format!("Method: {method}.\n\n"));
        }
        let early = self.early_copy_text("");
        if !early.is_empty() {
            out.push_str(&early);
            out.push('\n');
        }
        let not_copied: Vec<&TableTransfer> = self
            .tables
            .iter()
            .filter(|t| !t.copied && !matches!(t.case, super::transfer::TransferCase::New))
            .collect();
        if !not_copied.is_empty() {
            out.push_str("> [!WARNING]\n> Rows not transferred:\n");
            for table in not_copied {
                out.push_str(&format!(
                    "> - `{}` ({}): {}\n",
                    table.name,
                    table.case.as_str(),
                    table.reason.as_deref().unwrap_or("")
                ));
            }
            out.push('\n');
        }
        out.push_str("| Table | Case | Copied | Rows | Notes |\n|---|---|---|---:|---|\n");
        for table in &self.tables {
            let mut notes = Vec::new();
            if let Some(from) = &table.renamed_from {
                notes.push(format!("renamed from `{from}`"));
            }
            if !table.columns_dropped.is_empty() {
                notes.push(format!(
                    "not transferred: {}",
                    table.columns_dropped.join(", ")
                ));
            }
            if !table.columns_added.is_empty() {
                notes.push(format!("new: {}", table.columns_added.join(", ")));
            }
            if !table.columns_converted.is_empty() {
                notes.push(format!("converted: {}", table.columns_converted.join(", ")));
            }
            if let Some(reason) = &table.reason {
                notes.push(reason.clone());
            }
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                table.name.replace('|', "\\|"),
                table.case.as_str(),
                if table.copied { "yes" } else { "no" },
                table.rows,
                notes.join("; ").replace('|', "\\|")
            ));
        }
        if !self.retained.is_empty() {
            out.push_str(&format!(
                "\nThe original is retained as `{}` (`dac rollback` switches back).\n",
                self.retained
            ));
        }
        if !self.checked_after_switch.is_empty() {
            out.push('\n');
            out.push_str(&self.checks_text(""));
        }
        out
    }

    /// A line on a copy made before writers were held off.
    fn early_copy_text(&self, indent: &str) -> String {
        let line = match self.early_copy {
            EarlyCopy::Off => String::new(),
            EarlyCopy::Kept => format!(
                "{indent}rows copied before writers were held off; nothing was written to the copied tables since, so the copy was kept\n"
            ),
            EarlyCopy::Partly => format!(
                "{indent}rows copied before writers were held off; the tables written to since were copied again with writers held: {}\n",
                self.early_copy_note
                    .as_deref()
                    .unwrap_or("the original took writes")
            ),
            EarlyCopy::Discarded => format!(
                "{indent}rows copied before writers were held off, then again with writers held: {}\n",
                self.early_copy_note
                    .as_deref()
                    .unwrap_or("the original took writes")
            ),
            EarlyCopy::CaughtUp => format!(
                "{indent}rows copied before writers were held off, then brought up to date in passes while writers wrote ({})\n{}",
                self.early_copy_note
                    .as_deref()
                    .unwrap_or("the original took writes"),
                self.catch_up_text(indent)
            ),
        };
        let method = match (&self.early_copy, &self.catch_up_method) {
            (EarlyCopy::Off, _) | (_, None) => String::new(),
            (_, Some(method)) => format!("{indent}writes during the copy found by: {method}\n"),
        };
        line + &method
            + &self
                .window_reason
                .as_ref()
                .map(|why| format!("{indent}read-only window: {why}\n"))
                .unwrap_or_default()
    }

    /// A line per catch-up pass and one for the tables copied again.
    fn catch_up_text(&self, indent: &str) -> String {
        let mut out = String::new();
        for pass in &self.catch_up {
            out.push_str(&format!(
                "{indent}  pass {}{}: {} rows over {} tables ({} inserted or updated, {} deleted) in {} ms\n",
                pass.pass,
                if pass.held {
                    " (the last delta, writers held)"
                } else {
                    ""
                },
                pass.rows(),
                pass.tables,
                pass.upserted,
                pass.deleted,
                pass.ms
            ));
        }
        if !self.copied_again.is_empty() {
            out.push_str(&format!(
                "{indent}  copied again with writers held (no primary key to catch up by): {}\n",
                self.copied_again.join(", ")
            ));
        }
        out
    }

    /// The foreign keys checked after the switch, a line for all of them and one for each
    /// that is not checked yet.
    fn checks_text(&self, indent: &str) -> String {
        if self.checked_after_switch.is_empty() {
            return String::new();
        }
        let ms: u64 = self.checked_after_switch.iter().map(|c| c.ms).sum();
        let mut out = format!(
            "{indent}{} foreign keys the original held were checked after the switch, with writers allowed ({ms} ms)\n",
            self.checked_after_switch.len()
        );
        for check in &self.checked_after_switch {
            if let Some(error) = &check.error {
                out.push_str(&format!(
                    "{indent}NOT YET CHECKED: {} (enforced for new rows; the next dac run against {} checks it again): {error}\n",
                    check.name, self.database
                ));
            }
        }
        out
    }
}

fn human_bytes(bytes: u64) -> String {
    if bytes == 0 {
        return "bytes not measured".into();
    }
    #[allow(clippy::cast_precision_loss)]
    let mb = bytes as f64 / 1_048_576.0;
    format!("{mb:.1} MiB")
}

#[cfg(test)]
mod tests {
    use super::{CatchUpPass, EarlyCopy, TransferReport};

    fn pass(pass: u32, held: bool, upserted: u64, deleted: u64) -> CatchUpPass {
        CatchUpPass {
            pass,
            held,
            tables: 2,
            upserted,
            deleted,
            ms: 7,
        }
    }

    #[test]
    fn a_caught_up_copy_reports_each_pass_the_last_delta_and_the_window() {
        let mut report = TransferReport::new(Vec::new());
        report.early_copy = EarlyCopy::CaughtUp;
        report.early_copy_note =
            Some("[public].[orders]: 19 row(s) written while it was copied".into());
        report.catch_up = vec![
            pass(1, false, 900, 12),
            pass(2, false, 40, 0),
            pass(3, true, 3, 1),
        ];
        report.copied_again = vec!["[public].[heap]".into()];
        report.window_reason =
            Some("the last delta (4 rows over 2 tables, 7 ms), the check and the switch".into());
        let text = report.text();
        for line in [
            "then brought up to date in passes while writers wrote ([public].[orders]: 19 row(s) written while it was copied)",
            "pass 1: 912 rows over 2 tables (900 inserted or updated, 12 deleted) in 7 ms",
            "pass 2: 40 rows over 2 tables (40 inserted or updated, 0 deleted) in 7 ms",
            "pass 3 (the last delta, writers held): 4 rows over 2 tables (3 inserted or updated, 1 deleted) in 7 ms",
            "copied again with writers held (no primary key to catch up by): [public].[heap]",
            "read-only window: the last delta (4 rows over 2 tables, 7 ms), the check and the switch",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(
            report.markdown().contains("pass 3 (the last delta"),
            "{}",
            report.markdown()
        );
        let json: serde_json::Value = serde_json::from_str(&report.json()).expect("json");
        assert_eq!(json["early_copy"], "caught_up");
        assert_eq!(json["catch_up"][2]["held"], true);
        assert_eq!(json["catch_up"][0]["upserted"], 900);
        assert_eq!(json["copied_again"][0], "[public].[heap]");
        assert!(
            json["window_reason"]
                .as_str()
                .is_some_and(|w| w.contains("last delta"))
        );
        let back: TransferReport = serde_json::from_str(&report.json()).expect("reads back");
        assert_eq!(back, report);
    }

    #[test]
    fn a_report_without_an_early_copy_has_no_catch_up_fields() {
        let json = TransferReport::new(Vec::new()).json();
        for field in ["catch_up", "copied_again", "window_reason"] {
            assert!(!json.contains(field), "{field}: {json}");
        }
    }
}
