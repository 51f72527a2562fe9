//! `.dacpac` packages: an OPC zip holding model.xml, DacMetadata.xml, Origin.xml,
//! `[Content_Types].xml` and optional predeploy.sql, postdeploy.sql and refactor.xml.
//!
//! Only this module and `source` touch files. Reading is hardened against hostile zips and XML.
//!
//! model.xml grammar accepted (everything DacFx wrote in 29 real packages, nothing else):
//! `DataSchemaModel` > optional `Header` > `CustomData(Category, Type?)` > `Metadata(Name, Value?)`;
//! `Model` > `Element | Annotation | AttachedAnnotation`; `Element(Type, Name?, Disambiguator?)` >
//! `Property(Name, Value?)` (or with a child `Value(QuotedIdentifiers?, AnsiNulls?)` holding text or CDATA),
//! `Relationship(Name)` > `Entry` > one of `References(Name?, ExternalSource?, Disambiguator?)`,
//! a nested `Element` or an `Annotation` (or nothing), then `Annotation(Type, Name?,
//! Disambiguator?)` > `Property` and `AttachedAnnotation(Disambiguator)` in document order.
//!
//! - [`model_xml`]: model.xml, parsed into a [`Model`] and rendered back as DacFx lays it out.
//! - `read`: opening a package: zip limits and entry-name rules, every part, the model.xml
//!   checksum and the reference check.
//! - `write`: writing a package: part order, BOMs and `[Content_Types].xml` as DacFx writes them,
//!   a fresh Origin.xml, deterministic zip bytes.
//! - `xml`: UTF-8/BOM handling, escaping and a small strict tree reader for the small parts.

pub mod model_xml;
mod read;
mod write;
mod xml;

pub(crate) use read::sha256_hex;
pub use read::{ReadOptions, read, read_bytes};
pub use write::{to_bytes, write};

use crate::model::Model;
use crate::model::refactor::RefactorLog;

/// `DacMetadata.xml`: the application's name and version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DacMetadata {
    /// Application name.
    pub name: String,
    /// Application version (`System.Version` text such as `1.0.0.0`).
    pub version: String,
    /// Optional description.
    pub description: Option<String>,
}

/// `Origin.xml`: who produced the package and the model checksum. Written fresh by the writer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// `PackageProperties/Version` (3.0.0.0 or 3.1.0.0).
    pub package_version: String,
    /// `PackageProperties/ContainsExportedData` (true for bacpacs).
    pub contains_exported_data: bool,
    /// `Operation/ProductName`.
    pub product_name: String,
    /// `Operation/ProductVersion`.
    pub product_version: String,
    /// `Checksums/Checksum Uri="/model.xml"`: upper-case hex SHA-256 of model.xml.
    pub model_checksum: Option<String>,
    /// `ModelSchemaVersion`.
    pub model_schema_version: String,
}

/// A package in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// Name and version; `None` when the package has no DacMetadata.xml (system dacpacs).
    pub metadata: Option<DacMetadata>,
    /// Origin.xml as read; `None` for packages made in memory (the writer always writes one).
    pub origin: Option<Origin>,
    /// The model.
    pub model: Model,
    /// Pre-deployment script (predeploy.sql), decoded.
    pub predeploy: Option<String>,
    /// Post-deployment script (postdeploy.sql), decoded.
    pub postdeploy: Option<String>,
    /// Refactor operations (refactor.xml).
    pub refactor_log: Option<RefactorLog>,
}

impl Package {
    /// Values for the SQLCMD variables the package declares: those `given`, and an empty value
    /// for each declared one that was not (as DacFx's header lists them).
    pub fn variable_values(&self, given: &[(String, String)]) -> Vec<(String, String)> {
        let mut values = given.to_vec();
        for name in self.model.sqlcmd_variables() {
            if !values.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                values.push((name.to_string(), String::new()));
            }
        }
        values
    }

    /// A package of `model` alone (no scripts, no refactor log) named `name` `version`: a live
    /// database's schema, extracted or registered.
    pub fn of_model(model: Model, name: &str, version: &str) -> Package {
        Package {
            metadata: Some(DacMetadata {
                name: name.to_string(),
                version: version.to_string(),
                description: None,
            }),
            origin: None,
            model,
            predeploy: None,
            postdeploy: None,
            refactor_log: None,
        }
    }
}
