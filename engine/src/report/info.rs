//! What a package holds, for `dac info`: its name and version, platform, producer, scripts and
//! the count of its top-level elements by kind (opaque kinds marked).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::model::Platform;
use crate::package::Package;

/// A package's particulars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoReport {
    /// The package (or project) as it was named on the command line; shown in text only.
    pub package: String,
    /// Application name, when the package has a DacMetadata.xml.
    pub name: Option<String>,
    /// Application version, when the package has a DacMetadata.xml.
    pub version: Option<String>,
    /// The platform the model targets.
    pub platform: Platform,
    /// The DSP's short name (`Sql160`, `Sqlite`).
    pub dsp: String,
    /// The DSP's full name.
    pub dsp_name: String,
    /// The model's schema version.
    pub schema_version: String,
    /// Whether names differing only in case are different objects.
    pub collation_case_sensitive: bool,
    /// The tool that wrote the package (Origin.xml), if known.
    pub producer: Option<Producer>,
    /// Top-level elements by kind.
    pub elements: BTreeMap<String, usize>,
    /// Top-level elements of kinds kept by definition and not modelled, by kind.
    pub opaque: BTreeMap<String, usize>,
    /// Whether the package has a pre-deployment script.
    pub predeploy: bool,
    /// Whether the package has a post-deployment script.
    pub postdeploy: bool,
    /// Operations in the refactor log.
    pub refactor_operations: usize,
}

/// The tool that wrote a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    /// `Operation/ProductName`.
    pub name: String,
    /// `Operation/ProductVersion`.
    pub version: String,
}

impl InfoReport {
    /// The report of `package`, loaded from `path`.
    pub fn of(package: &Package, path: &Path) -> InfoReport {
        let model = &package.model;
        let by_kind = |counts: BTreeMap<&str, usize>| {
            counts
                .into_iter()
                .map(|(kind, count)| (kind.to_string(), count))
                .collect()
        };
        InfoReport {
            package: path.display().to_string(),
            name: package.metadata.as_ref().map(|m| m.name.clone()),
            version: package.metadata.as_ref().map(|m| m.version.clone()),
            platform: model.platform(),
            dsp: model.dsp.short_name().to_string(),
            dsp_name: model.dsp.full_name().to_string(),
            schema_version: model.schema_version.clone(),
            collation_case_sensitive: model.collation_case_sensitive,
            producer: package.origin.as_ref().map(|o| Producer {
                name: o.product_name.clone(),
                version: o.product_version.clone(),
            }),
            elements: by_kind(model.counts_by_kind()),
            opaque: by_kind(model.opaque_counts()),
            predeploy: package.predeploy.is_some(),
            postdeploy: package.postdeploy.is_some(),
            refactor_operations: package
                .refactor_log
                .as_ref()
                .map_or(0, |l| l.operations.len()),
        }
    }

    /// JSON (pretty, keys in alphabetical order, a final newline).
    pub fn json(&self) -> String {
        let value = serde_json::json!({
            "format_version": 1,
            "name": self.name,
            "version": self.version,
            "platform": self.platform,
            "dsp": self.dsp,
            "dsp_name": self.dsp_name,
            "schema_version": self.schema_version,
            "collation_case_sensitive": self.collation_case_sensitive,
            "producer": self.producer.as_ref().map(|p| format!("{} {}", p.name, p.version)),
            "elements": self.elements,
            "opaque": self.opaque,
            "scripts": {
                "predeploy": self.predeploy,
                "postdeploy": self.postdeploy,
            },
            "refactor_operations": self.refactor_operations,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    }

    /// Plain text for a terminal: one particular a line, then the element counts.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "package   {}", self.package);
        let _ = writeln!(
            out,
            "name      {}",
            self.name.as_deref().unwrap_or("(no DacMetadata.xml)")
        );
        let _ = writeln!(out, "version   {}", self.version.as_deref().unwrap_or("-"));
        let _ = writeln!(out, "platform  {} ({})", self.platform.as_str(), self.dsp);
        if let Some(producer) = &self.producer {
            let _ = writeln!(out, "producer  {} ({})", producer.name, producer.version);
        }
        let _ = writeln!(
            out,
            "scripts   predeploy: {}, postdeploy: {}, refactor operations: {}",
            yes_no(self.predeploy),
            yes_no(self.postdeploy),
            self.refactor_operations
        );
        let total: usize = self.elements.values().sum();
        let _ = writeln!(out, "elements  {total} top-level");
        for (kind, count) in &self.elements {
            let mark = if self.opaque.contains_key(kind) {
                "  (opaque)"
            } else {
                ""
            };
            let _ = writeln!(out, "  {count:>6}  {kind}{mark}");
        }
        if !self.opaque.is_empty() {
            let n_opaque: usize = self.opaque.values().sum();
            let _ = writeln!(
                out,
                "{n_opaque} opaque objects are kept and compared by definition, not modelled"
            );
        }
        out
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
