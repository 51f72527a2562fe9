//! Reports: plain data (serde, versioned JSON) built from a diff and a plan, and their
//! renderings for people (text), pull requests (Markdown) and DacFx tools (DeployReport XML).
//!
//! Only report types are serializable; their JSON shape is a stable API (`format_version`).
//!
//! - [`DeployReport`]: what an upgrade would do (`dac deploy-report`), rendered in `render`.
//! - [`CompareReport`]: what differs between two schemas (`dac compare`).
//! - [`DriftReport`]: what changed on a registered database outside the package
//!   (`dac drift-report`).
//! - [`InfoReport`]: what a package holds (`dac info`).
//! - [`plan_file::ReviewedPlan`]: a reviewed plan of an in-place upgrade (`dac plan`).
//! - [`HistoryReport`], [`StatusReport`]: a database's history and state (`dac history`, `dac status`).
//! - [`transfer::TransferReport`]: the rows a side-by-side upgrade moved.

mod compare;
mod drift;
mod info;
pub mod plan_file;
mod render;
mod status;
pub mod transfer;

pub use compare::CompareReport;
pub use drift::{DriftReport, describe_drift};
pub use info::{InfoReport, Producer};
pub use render::{deploy_report_markdown, deploy_report_text, deploy_report_xml};
pub use status::{HistoryReport, RegisteredApplication, StatusReport};

use serde::Serialize;

use crate::compare::{Action, Diff};
use crate::plan::{HazardKind, Plan, StepKind};

/// Version of the JSON shapes below; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// What an upgrade from `current` to `desired` would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    /// JSON shape version.
    pub format_version: u32,
    /// What stands for the database now (a package, project or connection; never a password).
    pub current: String,
    /// What is deployed.
    pub desired: String,
    /// Counts for the summary line.
    pub summary: Summary,
    /// Hazards in step order.
    pub alerts: Vec<Alert>,
    /// Operations grouped as SqlPackage groups them.
    pub operations: Vec<Operation>,
    /// Every changed object with what differs.
    pub changes: Vec<ChangeReport>,
    /// The planned steps, in order.
    pub steps: Vec<StepReport>,
    /// Objects of the package dac cannot create, each with why: a deployment refuses them (exit
    /// 3) unless `--leave-out-uncreatable`, which leaves them out of the script
    /// ([`DeployReport::with_uncreatable`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_created: Vec<NotCreated>,
}

/// An object of the package dac cannot create, and why (see [`crate::script::Uncreatable`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotCreated {
    /// The object's DacFx kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Why dac cannot write it.
    pub reason: String,
}

impl DeployReport {
    /// The report with the objects `script` leaves out because dac cannot create them.
    pub fn with_uncreatable(mut self, script: &crate::script::Script) -> DeployReport {
        self.not_created = script
            .uncreatable
            .iter()
            .map(|u| NotCreated {
                kind: u.kind.clone(),
                name: u.name.clone(),
                reason: u.reason.clone(),
            })
            .collect();
        self
    }
}

/// Counts of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Objects created.
    pub create: usize,
    /// Objects altered (in place or by drop and create).
    pub alter: usize,
    /// Objects dropped.
    pub drop: usize,
    /// Objects renamed.
    pub rename: usize,
    /// Tables rebuilt.
    pub rebuild: usize,
    /// Objects only in the current model and kept.
    pub keep: usize,
    /// Hazards that could lose data.
    pub data_loss: usize,
}

/// A hazard, as SqlPackage's `Alert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// Issue id referenced by operation items.
    pub id: usize,
    /// SqlPackage alert name: `DataIssue`, `DataMotion`, `UnsupportedObject`.
    pub name: String,
    /// Our hazard kind.
    pub kind: String,
    /// The object at risk.
    pub object: String,
    /// The sentence.
    pub message: String,
    /// Whether it could lose data (blocks unless allowed).
    pub data_loss: bool,
}

/// A group of items of one operation name (`Create`, `Alter`, `Drop`, `TableRebuild`, `Rename`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    /// Operation name.
    pub name: String,
    /// Items.
    pub items: Vec<Item>,
}

/// One object of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The object's name (or a description for unnamed objects).
    pub value: String,
    /// DacFx type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Alert ids about this object.
    pub issues: Vec<usize>,
}

/// A changed object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeReport {
    /// `create`, `alter`, `rename`, `drop`, `keep`.
    pub action: String,
    /// DacFx type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Name.
    pub name: String,
    /// Old name of a rename.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// What differs.
    pub details: Vec<DetailReport>,
}

/// One difference of a changed object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetailReport {
    /// Where.
    pub path: String,
    /// Current value.
    pub current: Option<String>,
    /// Desired value.
    pub desired: Option<String>,
    /// Unified line diff of bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One planned step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Step kind.
    pub step: String,
    /// DacFx type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Object.
    pub name: String,
    /// Why, where the step needs explaining (rebuilds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether a data-loss guard runs before it.
    pub guarded: bool,
}

/// The changes of a diff, for `dac compare`.
pub fn changes(diff: &Diff) -> Vec<ChangeReport> {
    diff.changes
        .iter()
        .map(|c| ChangeReport {
            action: c.action.as_str().to_string(),
            kind: c.kind.clone(),
            name: c.name.to_string(),
            renamed_from: c.renamed_from.as_ref().map(ToString::to_string),
            details: c
                .details
                .iter()
                .map(|d| DetailReport {
                    path: d.path.clone(),
                    current: d.current.clone(),
                    desired: d.desired.clone(),
                    diff: d.text_diff.clone(),
                })
                .collect(),
        })
        .collect()
}

/// Builds the deploy report of a diff and its plan.
pub fn deploy_report(current: &str, desired: &str, diff: &Diff, plan: &Plan) -> DeployReport {
    let mut summary = Summary::default();
    for change in &diff.changes {
        match change.action {
            Action::Create => summary.create += 1,
            Action::Alter => summary.alter += 1,
            Action::Drop => summary.drop += 1,
            Action::Rename => summary.rename += 1,
            Action::Keep => summary.keep += 1,
        }
    }
    summary.rebuild = plan
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::RebuildTable)
        .count();
    summary.data_loss = plan.data_loss().count();
    let alerts: Vec<Alert> = plan
        .hazards
        .iter()
        .enumerate()
        .map(|(idx, h)| Alert {
            id: idx + 1,
            name: match h.kind {
                HazardKind::DataLoss | HazardKind::NotNullWithoutDefault => "DataIssue",
                HazardKind::TableRebuild
                | HazardKind::ColumnOrder
                | HazardKind::TableRewrite
                | HazardKind::BlockingIndexBuild
                | HazardKind::TableScan => "DataMotion",
                HazardKind::DatabaseOptionsKept => "DataMotion",
                HazardKind::Unscriptable
                | HazardKind::DependencyCycle
                | HazardKind::EmptyReference => "UnsupportedObject",
            }
            .to_string(),
            kind: h.kind.as_str().to_string(),
            object: h.object.to_string(),
            message: h.message.clone(),
            data_loss: h.kind.is_data_loss(),
        })
        .collect();
    let issues_for = |name: &str| -> Vec<usize> {
        plan.hazards
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.object.to_string() == name
                    || h.table.as_ref().is_some_and(|t| t.to_string() == name)
            })
            .map(|(idx, _)| idx + 1)
            .collect()
    };
    let mut operations: Vec<Operation> = Vec::new();
    let mut push = |op: &str, item: Item| match operations.iter_mut().find(|o| o.name == op) {
        Some(existing) => {
            if !existing.items.contains(&item) {
                existing.items.push(item)
            }
        }
        None => operations.push(Operation {
            name: op.to_string(),
            items: vec![item],
        }),
    };
    for step in &plan.steps {
        let op = match step.kind {
            // Scripts and the removal of a smart default's temporary constraint are not
            // operations on the schema.
            StepKind::PreDeploy | StepKind::PostDeploy | StepKind::DropSmartDefault => continue,
            StepKind::Rename => "Rename",
            StepKind::RebuildTable => "TableRebuild",
            StepKind::AlterTable => "Alter",
            k if k.is_drop() => "Drop",
            _ if step.current.is_some() && step.desired.is_some() => "Alter",
            _ => "Create",
        };
        let value = step.name.to_string();
        push(
            op,
            Item {
                issues: issues_for(&value),
                value,
                kind: step.object_kind.clone(),
            },
        );
    }
    DeployReport {
        format_version: FORMAT_VERSION,
        current: current.to_string(),
        desired: desired.to_string(),
        summary,
        alerts,
        operations,
        changes: changes(diff),
        steps: plan
            .steps
            .iter()
            .map(|s| StepReport {
                step: s.kind.as_str().to_string(),
                kind: s.object_kind.clone(),
                name: s.name.to_string(),
                reason: s.reason.clone(),
                guarded: s.guard.is_some(),
            })
            .collect(),
        not_created: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
