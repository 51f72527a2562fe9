//! Renderings of reports: DacFx DeployReport XML, text, Markdown.

use std::fmt::Write;

use super::DeployReport;

/// SqlPackage's `DeploymentReport` XML.
pub fn deploy_report_xml(report: &DeployReport) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<DeploymentReport xmlns=\"http://schemas.microsoft.com/sqlserver/dac/DeployReport/2012/02\">\n",
    );
    // Objects dac cannot create are SqlPackage's UnsupportedObject alerts, numbered after the
    // plan's hazards.
    let issues: Vec<(&str, String, usize)> = report
        .alerts
        .iter()
        .map(|a| (a.name.as_str(), a.message.clone(), a.id))
        .chain(report.not_created.iter().enumerate().map(|(i, n)| {
            (
                "UnsupportedObject",
                not_created_line(n),
                report.alerts.len() + i + 1,
            )
        }))
        .collect();
    if issues.is_empty() {
        out.push_str("  <Alerts />\n");
    } else {
        out.push_str("  <Alerts>\n");
        let mut seen = Vec::new();
        for (name, _, _) in &issues {
            if seen.contains(name) {
                continue;
            }
            seen.push(name);
            let _ = writeln!(out, "    <Alert Name=\"{}\">", escape(name));
            for (_, message, id) in issues.iter().filter(|(n, _, _)| n == name) {
                let _ = writeln!(
                    out,
                    "      <Issue Value=\"{}\" Id=\"{id}\" />",
                    escape(message),
                );
            }
            out.push_str("    </Alert>\n");
        }
        out.push_str("  </Alerts>\n");
    }
    if !report.operations.is_empty() {
        out.push_str("  <Operations>\n");
        for op in &report.operations {
            let _ = writeln!(out, "    <Operation Name=\"{}\">", escape(&op.name));
            for item in &op.items {
                if item.issues.is_empty() {
                    let _ = writeln!(
                        out,
                        "      <Item Value=\"{}\" Type=\"{}\" />",
                        escape(&item.value),
                        escape(&item.kind)
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "      <Item Value=\"{}\" Type=\"{}\">",
                        escape(&item.value),
                        escape(&item.kind)
                    );
                    for id in &item.issues {
                        let _ = writeln!(out, "        <Issue Id=\"{id}\" />");
                    }
                    out.push_str("      </Item>\n");
                }
            }
            out.push_str("    </Operation>\n");
        }
        out.push_str("  </Operations>\n");
    }
    out.push_str("</DeploymentReport>\n");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' => out.push_str("&#x9;"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn summary_line(report: &DeployReport) -> String {
    let s = &report.summary;
    format!(
        "{} to create, {} to alter, {} to drop, {} to rename, {} tables rebuilt, {} kept; {} possible data loss",
        s.create, s.alter, s.drop, s.rename, s.rebuild, s.keep, s.data_loss
    )
}

/// The report for a terminal.
pub fn deploy_report_text(report: &DeployReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "deploy {} onto {}", report.desired, report.current);
    let _ = writeln!(out, "{}", summary_line(report));
    if !report.alerts.is_empty() {
        out.push_str("\nalerts:\n");
        for alert in &report.alerts {
            let mark = if alert.data_loss { "!" } else { " " };
            let _ = writeln!(out, " {mark} [{}] {}", alert.kind, alert.message);
        }
    }
    if !report.steps.is_empty() {
        out.push_str("\nsteps:\n");
        for step in &report.steps {
            let guard = if step.guarded { " (guarded)" } else { "" };
            let _ = write!(
                out,
                "  {:<20} {:<28} {}{guard}",
                step.step, step.kind, step.name
            );
            if let Some(reason) = &step.reason {
                let _ = write!(out, ": {reason}");
            }
            out.push('\n');
        }
    }
    let kept: Vec<_> = report
        .changes
        .iter()
        .filter(|c| c.action == "keep")
        .collect();
    if !kept.is_empty() {
        out.push_str("\nnot in the package, kept (drop objects not in source is off):\n");
        for change in kept {
            let _ = writeln!(out, "  {:<28} {}", change.kind, change.name);
        }
    }
    if !report.not_created.is_empty() {
        let _ = writeln!(out, "\n{NOT_CREATED_TITLE}:");
        for object in &report.not_created {
            let _ = writeln!(out, "  {}", not_created_line(object));
        }
    }
    out
}

/// The heading of the objects dac cannot create, in every format.
const NOT_CREATED_TITLE: &str = "not created, dac cannot create them (a deployment refuses them, exit 3, unless --leave-out-uncreatable leaves them out)";

/// One object dac cannot create: kind, name and why.
fn not_created_line(object: &super::NotCreated) -> String {
    format!("{} {}: {}", object.kind, object.name, object.reason)
}

/// The report for a pull request: summary first, hazards highlighted, body diffs folded.
pub fn deploy_report_markdown(report: &DeployReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Deploy report\n");
    let _ = writeln!(
        out,
        "Deploying `{}` onto `{}`: **{}**.\n",
        report.desired,
        report.current,
        summary_line(report)
    );
    let loss: Vec<_> = report.alerts.iter().filter(|a| a.data_loss).collect();
    if !loss.is_empty() {
        out.push_str("> [!WARNING]\n> Possible data loss (blocked unless allowed):\n");
        for alert in loss {
            let _ = writeln!(out, "> - {}", md(&alert.message));
        }
        out.push('\n');
    }
    if !report.not_created.is_empty() {
        let _ = writeln!(out, "> [!CAUTION]\n> {}:", md(NOT_CREATED_TITLE));
        for object in &report.not_created {
            let _ = writeln!(out, "> - {}", md(&not_created_line(object)));
        }
        out.push('\n');
    }
    let other: Vec<_> = report.alerts.iter().filter(|a| !a.data_loss).collect();
    if !other.is_empty() {
        out.push_str("**Notes**\n\n");
        for alert in other {
            let _ = writeln!(out, "- {} ({})", md(&alert.message), alert.kind);
        }
        out.push('\n');
    }
    if !report.steps.is_empty() {
        out.push_str("| # | step | type | object | note |\n|---|---|---|---|---|\n");
        for (idx, step) in report.steps.iter().enumerate() {
            let mut note = step.reason.clone().unwrap_or_default();
            if step.guarded {
                if !note.is_empty() {
                    note.push_str("; ");
                }
                note.push_str("guarded against data loss");
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {} |",
                idx + 1,
                step.step,
                step.kind,
                md(&step.name),
                md(&note)
            );
        }
        out.push('\n');
    }
    for change in report.changes.iter().filter(|c| !c.details.is_empty()) {
        let _ = writeln!(
            out,
            "<details><summary>{} {} <code>{}</code> ({} differences)</summary>\n",
            change.action,
            change.kind,
            html(&change.name),
            change.details.len()
        );
        for detail in &change.details {
            match &detail.diff {
                Some(diff) => {
                    let _ = writeln!(out, "`{}`:\n\n```diff\n{}```\n", md(&detail.path), diff);
                }
                None => {
                    let _ = writeln!(
                        out,
                        "- `{}`: `{}` → `{}`",
                        md(&detail.path),
                        md(detail.current.as_deref().unwrap_or("(none)")),
                        md(detail.desired.as_deref().unwrap_or("(none)"))
                    );
                }
            }
        }
        out.push_str("\n</details>\n\n");
    }
    out
}

fn md(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('`', "'")
        .replace('\n', " ")
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
