//! A reviewed plan's file: what an in-place upgrade will run (its steps, their SQL, its hazards)
//! and fingerprints of what it was made from, as versioned JSON (`dac plan`), and its renderings
//! for people and pull requests (`dac plan show`). Made and applied by `upgrade::make_plan` and
//! `upgrade::apply_plan`.

use serde::{Deserialize, Serialize};

use crate::model::{ObjectName, Platform};
use crate::plan::{Hazard, HazardKind, Plan, Step, StepKind};
use crate::script::{Batch, Script};
use crate::{Error, Result};

/// The version of the plan file's shape; a file of another version is refused.
pub const PLAN_FORMAT: u32 = 1;

/// A plan file: what an in-place upgrade will run, and what it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedPlan {
    /// [`PLAN_FORMAT`].
    pub format: u32,
    /// When the plan was made (UTC).
    pub made_at: String,
    /// Who made it.
    pub made_by: String,
    /// The target's platform.
    pub platform: Platform,
    /// The package the plan brings the database to.
    pub package: Fingerprint,
    /// The package's path when the plan was made, for `dac upgrade --plan` without a package.
    pub package_path: Option<String>,
    /// The registration the database had (none: not registered).
    pub registration: Option<Fingerprint>,
    /// SHA-256 of the live schema the plan was made against.
    pub live_schema: String,
    /// Whether the user allowed data loss (the rows are checked again when the plan runs).
    pub allow_data_loss: bool,
    /// Whether the user allowed the database's drift from its registered definition.
    pub allow_drift: bool,
    /// The schema and registration already match: only the deployment scripts run.
    pub up_to_date: bool,
    /// First deploy or upgrade.
    pub action: String,
    /// Steps in execution order.
    pub steps: Vec<PlannedStep>,
    /// Hazards, in step order.
    pub hazards: Vec<PlannedHazard>,
    /// The SQL, exactly as it will run.
    pub script: PlannedScript,
    /// Objects of the package the script leaves out because dac cannot create them (the plan
    /// was made with `--leave-out-uncreatable`), one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

/// What identifies a package or a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Application name.
    pub name: String,
    /// Application version.
    pub version: String,
    /// SHA-256 of its model.xml.
    pub model_hash: String,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// The step's kind ([`StepKind::as_str`]).
    pub kind: String,
    /// The object's DacFx type.
    pub object_kind: String,
    /// The object's name.
    pub object: String,
    /// Why, when it is not obvious (rebuilds).
    pub reason: Option<String>,
}

/// One hazard of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedHazard {
    /// The hazard's kind ([`HazardKind::as_str`]).
    pub kind: String,
    /// The object at risk.
    pub object: String,
    /// The table whose rows are at risk, when there is one.
    pub table: Option<String>,
    /// A sentence for people.
    pub message: String,
}

/// The script: its batches and how they run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedScript {
    /// The whole script runs in one transaction.
    pub transactional: bool,
    /// SQLite: foreign keys switched off around the transaction.
    pub foreign_keys_off: bool,
    /// SQLCMD variables and their values.
    pub variables: Vec<(String, String)>,
    /// Batches in execution order.
    pub batches: Vec<PlannedBatch>,
}

/// One batch of SQL and the comment that heads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedBatch {
    /// The step the batch belongs to.
    pub step: Option<String>,
    /// What the batch does, to which object.
    pub comment: String,
    /// Its statements, as they are sent.
    pub statements: Vec<String>,
}

impl PlannedScript {
    /// A rendered script's batches and how they run.
    pub fn of(script: &Script) -> PlannedScript {
        PlannedScript {
            transactional: script.transactional,
            foreign_keys_off: script.foreign_keys_off,
            variables: script.variables.clone(),
            batches: script
                .batches
                .iter()
                .map(|b| PlannedBatch {
                    step: b.step.map(|k| k.as_str().to_string()),
                    comment: b.comment.clone(),
                    statements: b.statements.clone(),
                })
                .collect(),
        }
    }
}

impl ReviewedPlan {
    /// The script, as [`Script`] (to print, or to run).
    pub fn script(&self) -> Result<Script> {
        let batches = self
            .script
            .batches
            .iter()
            .map(|b| {
                let step = match &b.step {
                    Some(name) => Some(StepKind::parse(name).ok_or_else(|| {
                        invalid(format!("unknown step kind {name:?} in the script"))
                    })?),
                    None => None,
                };
                Ok(Batch {
                    step,
                    comment: b.comment.clone(),
                    statements: b.statements.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Script {
            platform: self.platform,
            batches,
            transactional: self.script.transactional,
            foreign_keys_off: self.script.foreign_keys_off,
            variables: self.script.variables.clone(),
            // Decided when the plan was made: the batches already leave them out.
            uncreatable: Vec::new(),
        })
    }

    /// The plan's steps and hazards, as [`Plan`] (without the objects' definitions).
    pub fn plan(&self) -> Result<Plan> {
        let name = |text: &str| {
            ObjectName::parse(text).map_err(|err| invalid(format!("object name {text:?}: {err}")))
        };
        let steps = self
            .steps
            .iter()
            .map(|s| {
                let kind = StepKind::parse(&s.kind)
                    .ok_or_else(|| invalid(format!("unknown step kind {:?}", s.kind)))?;
                let mut step = Step::new(kind, &s.object_kind, name(&s.object)?);
                step.reason = s.reason.clone();
                Ok(step)
            })
            .collect::<Result<Vec<_>>>()?;
        let hazards = self
            .hazards
            .iter()
            .map(|h| {
                Ok(Hazard {
                    kind: HazardKind::parse(&h.kind)
                        .ok_or_else(|| invalid(format!("unknown hazard kind {:?}", h.kind)))?,
                    object: name(&h.object)?,
                    table: h.table.as_deref().map(name).transpose()?,
                    message: h.message.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Plan { steps, hazards })
    }

    /// Reads a plan file's JSON; a file of another format version is refused.
    pub fn from_json(text: &str) -> Result<ReviewedPlan> {
        let plan: ReviewedPlan = serde_json::from_str(text)
            .map_err(|err| invalid(format!("not a dac plan file: {err}")))?;
        if plan.format != PLAN_FORMAT {
            return Err(invalid(format!(
                "plan format {} is not the format this dac reads ({PLAN_FORMAT})",
                plan.format
            )));
        }
        Ok(plan)
    }
}

fn invalid(reason: String) -> Error {
    Error::Blocked {
        reason: format!("the plan file cannot be used: {reason}"),
    }
}

/// The plan for people: what it was made from, its hazards, its steps.
pub fn plan_file_text(plan: &ReviewedPlan) -> String {
    let mut out = String::new();
    let registered = plan
        .registration
        .as_ref()
        .map_or("not registered".to_string(), |r| {
            format!(
                "{} {} (model {})",
                r.name,
                r.version,
                short_hash(&r.model_hash)
            )
        });
    out.push_str(&format!(
        "Plan: {} to {} {} (model {}) on {}, made {} by {}\n",
        plan.action,
        plan.package.name,
        plan.package.version,
        short_hash(&plan.package.model_hash),
        plan.platform.as_str(),
        plan.made_at,
        plan.made_by
    ));
    out.push_str(&format!("  registration: {registered}\n"));
    out.push_str(&format!(
        "  live schema:  {}\n",
        short_hash(&plan.live_schema)
    ));
    out.push_str(&format!(
        "  allows: data loss {}, drift {}\n",
        yes_no(plan.allow_data_loss),
        yes_no(plan.allow_drift)
    ));
    if plan.up_to_date {
        out.push_str("The schema is up to date: only the deployment scripts run.\n");
    }
    for object in &plan.left_out {
        out.push_str(&format!("Left out (dac cannot create it): {object}\n"));
    }
    out.push_str(&format!("Hazards ({}):\n", plan.hazards.len()));
    for h in &plan.hazards {
        out.push_str(&format!("  {} {}: {}\n", h.kind, h.object, h.message));
    }
    out.push_str(&format!(
        "Steps ({}, {} statements):\n",
        plan.steps.len(),
        statements(plan)
    ));
    for s in &plan.steps {
        let reason = s
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {} {} {}{reason}\n",
            s.kind, s.object_kind, s.object
        ));
    }
    out
}

/// The plan for a pull request: the text's parts as Markdown, with the SQL.
pub fn plan_file_markdown(plan: &ReviewedPlan, sql: &str) -> String {
    let mut out = format!(
        "## dac plan: {} {} {}\n\n",
        plan.action, plan.package.name, plan.package.version
    );
    out.push_str("| made from | fingerprint |\n|---|---|\n");
    out.push_str(&format!(
        "| package {} {} | `{}` |\n",
        md(&plan.package.name),
        md(&plan.package.version),
        short_hash(&plan.package.model_hash)
    ));
    match &plan.registration {
        Some(r) => out.push_str(&format!(
            "| registration {} {} | `{}` |\n",
            md(&r.name),
            md(&r.version),
            short_hash(&r.model_hash)
        )),
        None => out.push_str("| registration | not registered |\n"),
    }
    out.push_str(&format!(
        "| live schema ({}) | `{}` |\n\n",
        plan.platform.as_str(),
        short_hash(&plan.live_schema)
    ));
    out.push_str(&format!(
        "Made {} by {}; allows data loss: {}, drift: {}.\n\n",
        md(&plan.made_at),
        md(&plan.made_by),
        yes_no(plan.allow_data_loss),
        yes_no(plan.allow_drift)
    ));
    for object in &plan.left_out {
        out.push_str(&format!(
            "- left out (dac cannot create it): {}\n",
            md(object)
        ));
    }
    if !plan.left_out.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!("### Hazards ({})\n\n", plan.hazards.len()));
    if plan.hazards.is_empty() {
        out.push_str("None.\n\n");
    } else {
        out.push_str("| hazard | object | |\n|---|---|---|\n");
        for h in &plan.hazards {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                h.kind,
                md(&h.object),
                md(&h.message)
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "### Steps ({}, {} statements)\n\n",
        plan.steps.len(),
        statements(plan)
    ));
    for s in &plan.steps {
        let reason = s
            .reason
            .as_deref()
            .map(|r| format!(" ({})", md(r)))
            .unwrap_or_default();
        out.push_str(&format!(
            "1. {} {} {}{reason}\n",
            s.kind,
            s.object_kind,
            md(&s.object)
        ));
    }
    let fence = if sql.contains("```") { "````" } else { "```" };
    out.push_str(&format!(
        "\n<details><summary>SQL</summary>\n\n{fence}sql\n{sql}{fence}\n\n</details>\n"
    ));
    out
}

fn statements(plan: &ReviewedPlan) -> usize {
    plan.script.batches.iter().map(|b| b.statements.len()).sum()
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Markdown table cells: no pipes or line breaks from names and messages.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The first 12 hex digits of a hash, as people compare them.
pub fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ReviewedPlan {
        ReviewedPlan {
            format: PLAN_FORMAT,
            made_at: "2026-12-06T08:00:00Z".into(),
            made_by: "ada".into(),
            platform: Platform::Sqlite,
            package: Fingerprint {
                name: "app".into(),
                version: "2.0.0".into(),
                model_hash: "AB".repeat(32),
            },
            package_path: None,
            registration: None,
            live_schema: "CD".repeat(32),
            allow_data_loss: false,
            allow_drift: false,
            up_to_date: false,
            action: "deploy".into(),
            steps: vec![PlannedStep {
                kind: "DropTable".into(),
                object_kind: "SqlTable".into(),
                object: "[main].[a|b]".into(),
                reason: None,
            }],
            hazards: vec![PlannedHazard {
                kind: "DataLoss".into(),
                object: "[main].[a|b]".into(),
                table: Some("[main].[a|b]".into()),
                message: "the table is dropped".into(),
            }],
            script: PlannedScript {
                transactional: true,
                foreign_keys_off: false,
                variables: vec![],
                batches: vec![PlannedBatch {
                    step: Some("DropTable".into()),
                    comment: "DropTable [main].[a|b]".into(),
                    statements: vec!["DROP TABLE \"a|b\"".into()],
                }],
            },
            left_out: Vec::new(),
        }
    }

    #[test]
    fn every_step_and_hazard_kind_reads_back_from_its_name() {
        for kind in StepKind::ALL {
            assert_eq!(StepKind::parse(kind.as_str()), Some(kind));
        }
        assert!(
            StepKind::ALL.windows(2).all(|w| w[0] < w[1]),
            "in execution order"
        );
        for kind in HazardKind::ALL {
            assert_eq!(HazardKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(StepKind::parse("Bogus"), None);
    }

    #[test]
    fn a_plan_file_reads_back_as_written_and_another_format_is_refused() {
        let plan = sample();
        let json = serde_json::to_string(&plan).unwrap();
        let read = ReviewedPlan::from_json(&json).unwrap();
        assert_eq!(read, plan);
        let script = read.script().unwrap();
        assert_eq!(script.batches[0].step, Some(StepKind::DropTable));
        let hazards = read.plan().unwrap();
        assert_eq!(hazards.hazards[0].kind, HazardKind::DataLoss);
        assert_eq!(hazards.hazards[0].object.to_string(), "[main].[a|b]");

        let newer = json.replace("\"format\":1", "\"format\":2");
        let err = ReviewedPlan::from_json(&newer).unwrap_err().to_string();
        assert!(err.contains("plan format 2"), "{err}");
        let mut bad = sample();
        bad.steps[0].kind = "Bogus".into();
        assert!(bad.plan().unwrap_err().to_string().contains("Bogus"));
    }

    #[test]
    fn markdown_cells_keep_their_table_whole() {
        let markdown = plan_file_markdown(&sample(), "DROP TABLE \"a|b\";\n");
        assert!(
            markdown.contains("| DataLoss | [main].[a\\|b] |"),
            "{markdown}"
        );
        assert!(markdown.contains("```sql\nDROP TABLE"), "{markdown}");
    }
}
