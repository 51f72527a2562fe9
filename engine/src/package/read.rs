//! Reading a `.dacpac`: zip limits and entry-name rules, every part, the model.xml checksum and
//! the reference check. Every failure is an [`Error`] naming the package, the part and the rule;
//! nothing here trusts sizes or names from the archive, and nothing panics on hostile input.

use std::collections::HashSet;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::xml::{Node, parse_tree};
use super::{DacMetadata, Origin, Package, model_xml};
use crate::error::{Error, Result};
use crate::model::refactor::{RefactorLog, RefactorOperation};
use crate::model::{Element, Entry, Model, Reference};

/// Limits and leniencies for [`read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Load a package whose model.xml does not match the checksum in Origin.xml.
    pub accept_checksum_mismatch: bool,
    /// Most bytes decompressed from the whole package (counted as they are inflated).
    pub max_uncompressed_bytes: u64,
    /// Most zip entries a package may have.
    pub max_entries: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            accept_checksum_mismatch: false,
            max_uncompressed_bytes: 1 << 30,
            max_entries: 10_000,
        }
    }
}

/// Reads a package file.
pub fn read(path: &Path, options: &ReadOptions) -> Result<Package> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_bytes(&bytes, path, options)
}

/// Reads a package from memory; `path_for_messages` names it in errors.
pub fn read_bytes(
    bytes: &[u8],
    path_for_messages: &Path,
    options: &ReadOptions,
) -> Result<Package> {
    let path = path_for_messages.to_path_buf();
    let parts = unzip(bytes, &path, options)?;
    let xml_err = |part: &str, message: String| Error::Xml {
        path: path.clone(),
        part: part.to_string(),
        message,
    };

    let Some(model_bytes) = parts.model else {
        return Err(Error::Package {
            path,
            message: "not a dacpac: the package has no model.xml part".into(),
        });
    };
    let origin = match &parts.origin {
        Some(bytes) => Some(parse_origin(bytes).map_err(|m| xml_err("Origin.xml", m))?),
        None => None,
    };
    let expected = origin.as_ref().and_then(|o| o.model_checksum.as_ref());
    // The checksum is computed on another thread while model.xml is parsed: the two read the
    // same bytes and neither needs the other. A mismatch still wins over a parse error.
    let (actual, parsed) = match expected {
        Some(_) => {
            let (actual, parsed) = crate::parallel::join(
                || sha256_hex(&model_bytes),
                || model_xml::parse_and_check_references(&model_bytes),
            );
            (Some(actual), parsed)
        }
        None => (None, model_xml::parse_and_check_references(&model_bytes)),
    };
    if let (Some(expected), Some(actual)) = (expected, actual)
        && !expected.eq_ignore_ascii_case(&actual)
        && !options.accept_checksum_mismatch
    {
        return Err(Error::ChecksumMismatch {
            path,
            expected: expected.clone(),
            actual,
        });
    }
    drop(model_bytes);
    let (model, missing) = parsed.map_err(|m| xml_err("model.xml", m))?;
    if let Some(ordinal) = missing {
        return Err(missing_reference(&model, &path, ordinal));
    }
    if let Some((first, again)) = model.first_duplicate() {
        return Err(Error::Model {
            path,
            message: format!(
                "model.xml: {} appears twice (a model holds each object once)",
                if first.name == again.name {
                    describe(again)
                } else {
                    format!("{} (as {})", describe(again), describe(first))
                }
            ),
        });
    }

    let metadata = match &parts.metadata {
        Some(bytes) => Some(parse_metadata(bytes).map_err(|m| xml_err("DacMetadata.xml", m))?),
        None => None,
    };
    let refactor_log = match &parts.refactor {
        Some(bytes) => Some(parse_refactor(bytes).map_err(|m| xml_err("refactor.xml", m))?),
        None => None,
    };
    let script = |bytes: &Option<Vec<u8>>, part: &str| -> Result<Option<String>> {
        match bytes {
            None => Ok(None),
            Some(bytes) => decode_script(bytes)
                .map(Some)
                .map_err(|message| Error::Package {
                    path: path.clone(),
                    message: format!("{part}: {message}"),
                }),
        }
    };
    let predeploy = script(&parts.predeploy, "predeploy.sql")?;
    let postdeploy = script(&parts.postdeploy, "postdeploy.sql")?;
    Ok(Package {
        metadata,
        origin,
        model,
        predeploy,
        postdeploy,
        refactor_log,
    })
}

/// Upper-case hex SHA-256, as Origin.xml records the model.xml checksum.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[derive(Default)]
struct Parts {
    model: Option<Vec<u8>>,
    metadata: Option<Vec<u8>>,
    origin: Option<Vec<u8>>,
    predeploy: Option<Vec<u8>>,
    postdeploy: Option<Vec<u8>>,
    refactor: Option<Vec<u8>>,
}

/// Why an entry name is unsafe, if it is.
fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.contains('\0') {
        return Some("nul character in name");
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("absolute path");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Some("drive-letter path");
    }
    if name.split(['/', '\\']).any(|segment| segment == "..") {
        return Some("`..` path segment");
    }
    None
}

/// The entry count the end-of-central-directory record declares, checked before the zip reader
/// allocates anything for it.
fn declared_entries(bytes: &[u8]) -> Option<u64> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let search_from = bytes.len().saturating_sub(22 + 0xFFFF);
    let tail = bytes.get(search_from..)?;
    let pos = tail.windows(4).rposition(|w| w == EOCD)?;
    let record = tail.get(pos..pos + 22)?;
    Some(u64::from(u16::from_le_bytes([record[10], record[11]])))
}

fn unzip(bytes: &[u8], path: &Path, options: &ReadOptions) -> Result<Parts> {
    let fail = |message: String| Error::Package {
        path: path.to_path_buf(),
        message,
    };
    if !bytes.starts_with(b"PK") {
        return Err(fail(
            "not a zip archive (a .dacpac is a zip file; this one does not start with a zip signature)"
                .into(),
        ));
    }
    if let Some(count) = declared_entries(bytes)
        && count > options.max_entries as u64
    {
        return Err(fail(format!(
            "too many zip entries: {count} declared, the limit is {}",
            options.max_entries
        )));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        fail(format!(
            "truncated or corrupt zip archive (cannot read its central directory: {e})"
        ))
    })?;
    if archive.len() > options.max_entries {
        return Err(fail(format!(
            "too many zip entries: {}, the limit is {}",
            archive.len(),
            options.max_entries
        )));
    }
    if archive.has_duplicate_names() {
        return Err(fail(
            "duplicate zip entry names: a package lists the same part twice".into(),
        ));
    }
    let mut parts = Parts::default();
    let mut seen = HashSet::new();
    let mut budget = options.max_uncompressed_bytes;
    for index in 0..archive.len() {
        let name = match archive.name_for_index(index) {
            Some(Ok(name)) => name.into_owned(),
            _ => return Err(fail(format!("zip entry {index} has an unreadable name"))),
        };
        if let Some(rule) = unsafe_name(&name) {
            return Err(fail(format!("unsafe zip entry name {name:?}: {rule}")));
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(fail(format!("duplicate zip entry {name:?}")));
        }
        let slot = match name.to_ascii_lowercase().as_str() {
            "model.xml" => &mut parts.model,
            "dacmetadata.xml" => &mut parts.metadata,
            "origin.xml" => &mut parts.origin,
            "predeploy.sql" => &mut parts.predeploy,
            "postdeploy.sql" => &mut parts.postdeploy,
            "refactor.xml" => &mut parts.refactor,
            // [Content_Types].xml and parts we do not use are not decompressed.
            _ => continue,
        };
        let entry = archive
            .by_index(index)
            .map_err(|e| fail(format!("cannot open zip entry {name}: {e}")))?;
        // The declared size is only a capacity hint, never trusted as a bound.
        let hint = entry.size().min(budget).min(64 << 20);
        let mut data = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
        // Never trust the declared size: read at most budget + 1 bytes and see.
        let read = entry
            .take(budget.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| {
                fail(format!(
                    "cannot decompress zip entry {name}: {}",
                    e.to_string().to_lowercase()
                ))
            })?;
        if read as u64 > budget {
            return Err(fail(format!(
                "zip bomb: decompressing {name} exceeds the limit of {} uncompressed bytes",
                options.max_uncompressed_bytes
            )));
        }
        budget -= read as u64;
        *slot = Some(data);
    }
    Ok(parts)
}

fn decode_script(bytes: &[u8]) -> std::result::Result<String, String> {
    let (encoding, bom) = encoding_rs::Encoding::for_bom(bytes).unwrap_or((encoding_rs::UTF_8, 0));
    let body = bytes.get(bom..).unwrap_or_default();
    encoding
        .decode_without_bom_handling_and_without_replacement(body)
        .map(|text| text.into_owned())
        .ok_or_else(|| format!("invalid {} text", encoding.name().to_lowercase()))
}

fn expect_root(node: &Node, name: &str) -> std::result::Result<(), String> {
    if node.name != name {
        return Err(format!(
            "root element is <{}>, expected <{name}>",
            node.name
        ));
    }
    Ok(())
}

fn parse_metadata(bytes: &[u8]) -> std::result::Result<DacMetadata, String> {
    let root = parse_tree(bytes)?;
    expect_root(&root, "DacType")?;
    for child in &root.children {
        if !matches!(child.name.as_str(), "Name" | "Version" | "Description") {
            return Err(format!("unknown element <{}> in <DacType>", child.name));
        }
    }
    Ok(DacMetadata {
        name: root
            .child("Name")
            .map(|n| n.text.clone())
            .ok_or("<DacType> has no <Name>")?,
        version: root
            .child("Version")
            .map(|n| n.text.clone())
            .unwrap_or_default(),
        description: root.child("Description").map(|n| n.text.clone()),
    })
}

fn parse_origin(bytes: &[u8]) -> std::result::Result<Origin, String> {
    let root = parse_tree(bytes)?;
    expect_root(&root, "DacOrigin")?;
    let text = |parent: Option<&Node>, name: &str| {
        parent
            .and_then(|p| p.child(name))
            .map(|n| n.text.trim().to_string())
            .unwrap_or_default()
    };
    let props = root.child("PackageProperties");
    let operation = root.child("Operation");
    let model_checksum = root
        .child("Checksums")
        .into_iter()
        .flat_map(|c| c.children_named("Checksum"))
        .find(|c| c.attr("Uri") == Some("/model.xml"))
        .map(|c| c.text.trim().to_string());
    let exported = text(props, "ContainsExportedData");
    Ok(Origin {
        package_version: text(props, "Version"),
        contains_exported_data: exported.eq_ignore_ascii_case("true"),
        product_name: text(operation, "ProductName"),
        product_version: text(operation, "ProductVersion"),
        model_checksum,
        model_schema_version: text(Some(&root), "ModelSchemaVersion"),
    })
}

fn parse_refactor(bytes: &[u8]) -> std::result::Result<RefactorLog, String> {
    let root = parse_tree(bytes)?;
    expect_root(&root, "Operations")?;
    let mut log = RefactorLog {
        version: root.attr("Version").unwrap_or_default().to_string(),
        operations: Vec::new(),
    };
    for op in &root.children {
        if op.name != "Operation" {
            return Err(format!("unknown element <{}> in <Operations>", op.name));
        }
        let mut operation = RefactorOperation {
            name: op
                .attr("Name")
                .ok_or("<Operation> has no `Name`")?
                .to_string(),
            key: op
                .attr("Key")
                .ok_or("<Operation> has no `Key`")?
                .to_string(),
            change_date_time: op.attr("ChangeDateTime").map(str::to_string),
            properties: Vec::new(),
        };
        for (key, _) in &op.attrs {
            if !matches!(key.as_str(), "Name" | "Key" | "ChangeDateTime" | "xmlns") {
                return Err(format!("unknown attribute `{key}` on <Operation>"));
            }
        }
        for prop in &op.children {
            if prop.name != "Property" {
                return Err(format!("unknown element <{}> in <Operation>", prop.name));
            }
            operation.properties.push((
                prop.attr("Name")
                    .ok_or("<Property> has no `Name`")?
                    .to_string(),
                prop.attr("Value").unwrap_or_default().to_string(),
            ));
        }
        log.operations.push(operation);
    }
    Ok(log)
}

/// The reference rule every DacFx package in the corpus satisfies (12 495 internal references
/// over 29 packages): a `References` without `ExternalSource` names an element of the model, at
/// any depth, with exactly the same `Name` (compared as written, whatever the collation) and the
/// same `Disambiguator` (both absent, or equal). Nested elements (columns, parameters) are valid
/// targets; annotations are not. [`model_xml::parse_and_check_references`] checks it while
/// parsing and gives the position of the first internal reference that breaks it; this finds
/// that reference again and says which element makes it and what it names.
fn missing_reference(model: &Model, path: &Path, ordinal: usize) -> Error {
    /// An internal reference: the reference, the element making it, its top-level element and
    /// the relationship.
    type Found<'a> = (&'a Reference, &'a Element, &'a Element, &'a str);
    /// Counts internal references in document order down to the one wanted.
    fn walk<'a>(e: &'a Element, top: &'a Element, left: &mut usize) -> Option<Found<'a>> {
        for rel in &e.relationships {
            for entry in &rel.entries {
                match entry {
                    Entry::Reference(r) if r.external_source.is_none() => {
                        if *left == 0 {
                            return Some((r, e, top, &rel.name));
                        }
                        *left -= 1;
                    }
                    Entry::Element(child) => {
                        if let Some(found) = walk(child, top, left) {
                            return Some(found);
                        }
                    }
                    _ => {}
                }
            }
        }
        None
    }
    let mut left = ordinal;
    let found = model.elements.iter().find_map(|e| walk(e, e, &mut left));
    let Some((r, e, top, rel)) = found else {
        return Error::Model {
            path: PathBuf::from(path),
            message: format!("model.xml: internal reference {ordinal} is not in the model"),
        };
    };
    let what = match (&r.name, &r.disambiguator) {
        (Some(n), None) => format!("{n}"),
        (Some(n), Some(d)) => format!("{n} (disambiguator {d})"),
        (None, Some(d)) => format!("the unnamed element with disambiguator {d}"),
        (None, None) => "a reference with neither Name nor Disambiguator".into(),
    };
    missing(path, e, top, rel, what)
}

fn describe(e: &Element) -> String {
    match (&e.name, &e.disambiguator) {
        (Some(n), _) => format!("{} {n}", e.kind),
        (None, Some(d)) => format!("{} (disambiguator {d})", e.kind),
        (None, None) => format!("unnamed {}", e.kind),
    }
}

fn missing(path: &Path, e: &Element, top: &Element, rel: &str, what: String) -> Error {
    let within = if std::ptr::eq(e, top) {
        String::new()
    } else {
        format!(" (in {})", describe(top))
    };
    Error::Model {
        path: PathBuf::from(path),
        message: format!(
            "model.xml: {}{within} refers through {rel} to {what}, which is not in the model",
            describe(e)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/x",
            "\\x",
            "C:/x",
            "c:x",
            "a\\..\\x",
            "",
        ] {
            assert!(unsafe_name(bad).is_some(), "{bad}");
        }
        for good in ["model.xml", "[Content_Types].xml", "Data/a..b/x", "a/.../b"] {
            assert!(unsafe_name(good).is_none(), "{good}");
        }
    }

    #[test]
    fn scripts_decode_boms() {
        assert_eq!(decode_script(b"\xEF\xBB\xBFselect 1").unwrap(), "select 1");
        assert_eq!(decode_script(b"\xFF\xFEs\x001\x00").unwrap(), "s1");
        assert_eq!(decode_script(b"plain").unwrap(), "plain");
        assert!(decode_script(b"\xFFbad").unwrap_err().contains("utf-8"));
    }

    fn check(body: &str) -> Result<()> {
        let xml = format!(
            "<DataSchemaModel FileFormatVersion=\"1.2\" SchemaVersion=\"2.9\" DspName=\"x\" CollationLcid=\"1033\" CollationCaseSensitive=\"False\" xmlns=\"{}\"><Model>{body}</Model></DataSchemaModel>",
            super::super::xml::NAMESPACE
        );
        let (model, missing) = model_xml::parse_and_check_references(xml.as_bytes()).unwrap();
        match missing {
            Some(ordinal) => Err(missing_reference(&model, Path::new("t.dacpac"), ordinal)),
            None => Ok(()),
        }
    }

    #[test]
    fn reference_rule() {
        let table = r#"<Element Type="SqlTable" Name="[s].[t]"><Relationship Name="Columns"><Entry><Element Type="SqlSimpleColumn" Name="[s].[t].[c]" /></Entry></Relationship></Element><Element Type="SqlPermissionStatement" Disambiguator="1" />"#;
        let with = |r: &str| {
            format!(
                r#"{table}<Element Type="SqlIndex" Name="[s].[t].[i]"><Relationship Name="R"><Entry>{r}</Entry></Relationship></Element>"#
            )
        };
        // Nested targets, disambiguated targets and external references are fine.
        check(&with(r#"<References Name="[s].[t].[c]" />"#)).unwrap();
        check(&with(r#"<References Disambiguator="1" />"#)).unwrap();
        check(&with(
            r#"<References ExternalSource="BuiltIns" Name="[int]" />"#,
        ))
        .unwrap();
        // Names compare exactly, disambiguators must match, and a reference must identify something.
        for bad in [
            r#"<References Name="[S].[T]" />"#,
            r#"<References Name="[s].[t]" Disambiguator="1" />"#,
            r#"<References Disambiguator="2" />"#,
            r#"<References />"#,
        ] {
            let err = check(&with(bad)).unwrap_err().to_string();
            assert!(
                err.contains("SqlIndex [s].[t].[i] refers through R to"),
                "{err}"
            );
        }
    }

    #[test]
    fn reference_rule_compares_unescaped_names() {
        // Names are compared after unescaping, however they were escaped; the failure names
        // the reference that breaks the rule, not the first one.
        let table = r#"<Element Type="SqlTable" Name="[s].[a&amp;b]"><Relationship Name="Columns"><Entry><Element Type="SqlSimpleColumn" Name="[s].[a&amp;b].[c&#x9;]" /></Entry></Relationship></Element>"#;
        let with = |refs: &[&str]| {
            let entries: String = refs
                .iter()
                .map(|r| format!("<Entry><References Name=\"{r}\" /></Entry>"))
                .collect();
            format!(
                r#"{table}<Element Type="SqlIndex" Name="[s].[i]"><Relationship Name="R">{entries}</Relationship></Element>"#
            )
        };
        check(&with(&["[s].[a&#x26;b]", "[s].[a&amp;b].[c&#9;]"])).unwrap();
        let err = check(&with(&["[s].[a&amp;b]", "[s].[a&amp;b].[c]", "[s].[x]"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SqlIndex [s].[i] refers through R to [s].[a&b].[c], which is not"),
            "{err}"
        );
    }

    #[test]
    fn checksum_is_upper_hex() {
        assert_eq!(
            sha256_hex(b""),
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        );
    }
}
