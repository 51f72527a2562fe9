//! render(plan, dialect) -> [`Script`]: the plan as batches of SQL for one platform.
//!
//! Every batch is headed by a comment naming its step and object (`-- CreateTable [dbo].[T]`), so
//! a script reads like a review. SQL Server's `GO` is a batch boundary in the printed text, never
//! text sent to a server. Pure: no IO.

use crate::dialect::{Dialect, ScriptFrame};
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
    /// SQLCMD variables and their values, declared in the script header (`:setvar`) where the
    /// platform's client runs SQLCMD; elsewhere already substituted in the scripts.
    pub variables: Vec<(String, String)>,
    /// Objects the plan creates that the dialect cannot write, left out of the batches: a
    /// deployment refuses them unless told to leave them out ([`Script::refuse_uncreatable`]).
    pub uncreatable: Vec<Uncreatable>,
}

/// An object a script cannot create, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncreatable {
    /// The object's DacFx kind.
    pub kind: String,
    /// Its name as reports give it.
    pub name: String,
    /// Why the dialect cannot write it.
    pub reason: String,
}

impl std::fmt::Display for Uncreatable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.name, self.reason)
    }
}

/// The command-line flag that deploys without the objects dac cannot create.
pub const LEAVE_OUT_UNCREATABLE_FLAG: &str = "--leave-out-uncreatable";

impl Script {
    /// The script as text a person or a command-line client runs.
    pub fn text(&self, dialect: &dyn Dialect) -> String {
        let frame = ScriptFrame {
            transactional: self.transactional,
            foreign_keys_off: self.foreign_keys_off,
            variables: &self.variables,
        };
        let mut out = dialect.script_opening(&frame);
        for batch in &self.batches {
            out.push_str(&dialect.batch_text(&batch.comment, &batch.statements));
        }
        out.push_str(&dialect.script_closing(&frame));
        out
    }

    /// Gives the package's SQLCMD variables their values. Where the platform's client runs
    /// SQLCMD (SQL Server), the script declares them with `:setvar`; elsewhere `$(Name)` in the
    /// pre- and post-deployment scripts is replaced here. A variable the scripts use but that has
    /// no value is an error naming it.
    pub fn with_variables(
        mut self,
        dialect: &dyn Dialect,
        variables: &[(String, String)],
    ) -> crate::Result<Script> {
        if dialect.capabilities().sqlcmd_variables {
            self.variables = variables.to_vec();
            return Ok(self);
        }
        for batch in &mut self.batches {
            if !matches!(batch.step, Some(StepKind::PreDeploy | StepKind::PostDeploy)) {
                continue;
            }
            for statement in &mut batch.statements {
                *statement = substitute(statement, variables)?;
            }
        }
        Ok(self)
    }

    /// Refuses a script that leaves objects out (exit 3, naming each and why), unless
    /// `leave_out` allows it; then returns one warning per object left out.
    pub fn refuse_uncreatable(&self, leave_out: bool) -> crate::Result<Vec<String>> {
        if self.uncreatable.is_empty() {
            return Ok(Vec::new());
        }
        let lines: Vec<String> = self.uncreatable.iter().map(|u| format!("  {u}")).collect();
        if !leave_out {
            return Err(crate::Error::Blocked {
                reason: format!(
                    "dac cannot create {} object(s) of the package:\n{}\npass {LEAVE_OUT_UNCREATABLE_FLAG} to deploy without them (each is then a warning), or leave them out of the comparison with --exclude-type/--exclude",
                    self.uncreatable.len(),
                    lines.join("\n")
                ),
            });
        }
        Ok(self
            .uncreatable
            .iter()
            .map(|u| format!("left out ({LEAVE_OUT_UNCREATABLE_FLAG}): {u}"))
            .collect())
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
    let mut uncreatable = Vec::new();
    let mut left_out: Vec<Option<String>> = plan
        .steps
        .iter()
        .map(|s| dialect.cannot_create(s))
        .collect();
    // What hangs on an object left out (an extended property) is left out with it. (A
    // full-text index has its table's name: a name something else of it creates is kept.)
    let names = |out: bool| -> std::collections::HashSet<String> {
        plan.steps
            .iter()
            .zip(&left_out)
            .filter(|(_, reason)| reason.is_some() == out)
            .map(|(s, _)| s.name.key(false))
            .collect()
    };
    let (left_out_names, created_names) = (names(true), names(false));
    for (step, reason) in plan.steps.iter().zip(left_out.iter_mut()) {
        if reason.is_none()
            && let Some(host) = step.desired.as_ref().and_then(|d| d.reference_name("Host"))
            && left_out_names.contains(&host.key(false))
            && !created_names.contains(&host.key(false))
        {
            *reason = Some(format!("its host {host} is left out"));
        }
    }
    for (step, left_out) in plan.steps.iter().zip(left_out) {
        // A step the dialect cannot write keeps its batch, empty, so batches stay the plan's
        // steps in order.
        let mut statements = Vec::new();
        match &left_out {
            Some(reason) => uncreatable.push(Uncreatable {
                kind: step.object_kind.clone(),
                name: if step.name.parts().is_empty() {
                    "(the database)".to_string()
                } else {
                    step.name.to_string()
                },
                reason: reason.clone(),
            }),
            None => dialect.render_step(step, &mut statements),
        }
        let mut comment = format!("{} {} {}", step.kind.as_str(), step.object_kind, step.name);
        if let Some(from) = &step.renamed_from {
            comment.push_str(&format!(" (from {from})"));
        }
        if let Some(reason) = &step.reason {
            comment.push_str(&format!(": {reason}"));
        }
        if left_out.is_some() {
            comment.push_str(" (left out: dac cannot create it)");
        }
        batches.push(Batch {
            step: Some(step.kind),
            comment,
            statements,
        });
    }
    let foreign_keys_off = caps.foreign_keys_inline_only
        && plan.steps.iter().any(|s| s.kind == StepKind::RebuildTable);
    Script {
        platform: dialect.platform(),
        batches,
        transactional: caps.transactional_ddl,
        foreign_keys_off,
        variables: Vec::new(),
        uncreatable,
    }
}

/// Replaces `$(Name)` with the variable's value (names compare case-insensitively, as sqlcmd's).
fn substitute(text: &str, variables: &[(String, String)]) -> crate::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !is_name {
            out.push_str("$(");
            rest = after;
            continue;
        }
        match variables.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, value)) => out.push_str(value),
            None => {
                return Err(crate::Error::Invalid(format!(
                    "the deployment scripts use the SQLCMD variable $({name}), which has no value: pass --variable {name}=VALUE"
                )));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod rendering_tests;

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn substitutes_sqlcmd_variables() {
        let vars = vec![("Env".to_string(), "prod".to_string())];
        assert_eq!(
            substitute("SELECT '$(env)', '$(x'", &vars).unwrap(),
            "SELECT 'prod', '$(x'"
        );
        let err = substitute("PRINT '$(Missing)'", &vars)
            .unwrap_err()
            .to_string();
        assert!(err.contains("$(Missing)"), "{err}");
    }
}
