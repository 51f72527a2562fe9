//! render(plan, dialect) -> [`Script`]: the plan as batches of SQL for one platform.
//!
//! Every batch is headed by a comment naming its step and object (`-- CreateTable [dbo].[T]`), so
//! a script reads like a review. SQL Server's `GO` is a batch boundary in the printed text, never
//! text sent to a server. Pure: no IO.

use crate::dialect::Dialect;
use crate::model::Platform;
use crate::plan::{Plan, StepKind};

/// One batch: statements sent together, with the comment that heads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The step the batch belongs to (`None` for script framing).
    pub step: Option<StepKind>,
    /// What the batch does and to which object.
    pub comment: String,
    /// Statements, without trailing separators.
    pub statements: Vec<String>,
}

/// A rendered plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The platform the script is for.
    pub platform: Platform,
    /// Batches in execution order.
    pub batches: Vec<Batch>,
    /// Whether the whole script runs in one transaction.
    pub transactional: bool,
    /// SQLite: foreign keys must be switched off around the transaction (table rebuilds).
    pub foreign_keys_off: bool,
}

impl Script {
    /// The script as text a person or a command-line client runs.
    pub fn text(&self, dialect: &dyn Dialect) -> String {
        dialect.script_text(self)
    }

    /// Number of statements.
    pub fn n_statements(&self) -> usize {
        self.batches.iter().map(|b| b.statements.len()).sum()
    }
}

/// Renders a plan for a dialect.
pub fn render(plan: &Plan, dialect: &dyn Dialect) -> Script {
    let caps = dialect.capabilities();
    let mut batches = Vec::new();
    for step in &plan.steps {
        let mut statements = Vec::new();
        dialect.render_step(step, &mut statements);
        let mut comment = format!("{} {} {}", step.kind.as_str(), step.object_kind, step.name);
        if let Some(from) = &step.renamed_from {
            comment.push_str(&format!(" (from {from})"));
        }
        if let Some(reason) = &step.reason {
            comment.push_str(&format!(": {reason}"));
        }
        batches.push(Batch {
            step: Some(step.kind),
            comment,
            statements,
        });
    }
    let foreign_keys_off = dialect.platform() == Platform::Sqlite
        && plan.steps.iter().any(|s| s.kind == StepKind::RebuildTable);
    Script {
        platform: dialect.platform(),
        batches,
        transactional: caps.transactional_ddl,
        foreign_keys_off,
    }
}
