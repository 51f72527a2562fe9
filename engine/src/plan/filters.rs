//! Filters that would cut a change off from what it needs: `--include 'main.acc*'` keeps a
//! table whose foreign key names a table the filter leaves out and the target lacks, so the
//! script would fail half way, or succeed against another schema than the package's.

use std::collections::HashMap;

use super::PlanOptions;
use super::graph::{NameIndex, key};
use crate::compare::Diff;
use crate::model::{Model, ObjectName};
use crate::{Error, Result};

/// Refuses a diff where something the filters kept needs an object they left out that the
/// target does not have as the package does ([`Diff::left_out`]), naming both: a change, by
/// the references that order a plan (structured ones, and names in definitions' text), or the
/// package's pre- or post-deployment script, which runs whatever the filters say, by the names
/// its text holds.
pub fn check_filters(
    diff: &Diff,
    current: &Model,
    desired: &Model,
    options: &PlanOptions,
) -> Result<()> {
    if diff.left_out.is_empty() {
        return Ok(());
    }
    let index = NameIndex::new(&[current, desired]);
    let left_out: HashMap<String, &(String, ObjectName)> = diff
        .left_out
        .iter()
        .map(|entry| (key(&entry.1), entry))
        .collect();
    let first_left_out = |mut needs: Vec<(String, bool)>| {
        needs.sort();
        needs.iter().find_map(|(k, _)| left_out.get(k).copied())
    };
    let refuse = |what: String, (kind, name): &(String, ObjectName)| {
        Err(Error::Invalid(format!(
            "{what} depends on {kind} {name}, which the filters leave out while the target does not have it as the package does: include both, or leave both out"
        )))
    };
    for change in diff.differences() {
        let Some(element) = &change.desired else {
            continue;
        };
        let mut needs = Vec::new();
        index.references(element, &mut needs);
        if let Some(needed) = first_left_out(needs) {
            return refuse(element.label(), needed);
        }
    }
    for (what, script) in [
        ("the pre-deployment script", &options.predeploy),
        ("the post-deployment script", &options.postdeploy),
    ] {
        let Some(text) = script else {
            continue;
        };
        let mut needs = Vec::new();
        index.text_references(text, &mut needs);
        if let Some(needed) = first_left_out(needs) {
            return refuse(what.to_string(), needed);
        }
    }
    Ok(())
}
