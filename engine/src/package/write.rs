//! Writing a `.dacpac` as DacFx does: parts in DacFx's order (model.xml, refactor.xml,
//! postdeploy.sql, predeploy.sql, DacMetadata.xml, Origin.xml, `[Content_Types].xml`), every part
//! but model.xml with a UTF-8 BOM, deflate, and fixed zip timestamps so one package always gives
//! the same bytes.

use std::io::Write;
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::xml::{BOM, NAMESPACE, escape_attr_into, escape_text_into};
use super::{DacMetadata, Package, model_xml};
use crate::error::{Error, Result};
use crate::model::refactor::RefactorLog;

/// Origin.xml `PackageProperties/Version` we write.
const PACKAGE_VERSION: &str = "3.1.0.0";
/// Fixed time written into Origin.xml, matching the zip entries' fixed 1980-01-01 timestamp.
const FIXED_TIME: &str = "1980-01-01T00:00:00.0000000+00:00";

/// Writes a package file.
pub fn write(package: &Package, path: &Path) -> Result<()> {
    let bytes = to_bytes(package)?;
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A package's zip bytes. Deterministic: the same package always gives the same bytes.
pub fn to_bytes(package: &Package) -> Result<Vec<u8>> {
    let model = model_xml::render(&package.model);
    let checksum = super::read::sha256_hex(&model);
    let mut parts: Vec<(&str, Vec<u8>)> = vec![("model.xml", model)];
    if let Some(log) = &package.refactor_log {
        parts.push(("refactor.xml", render_refactor(log)));
    }
    if let Some(script) = &package.postdeploy {
        parts.push(("postdeploy.sql", with_bom(script.as_bytes())));
    }
    if let Some(script) = &package.predeploy {
        parts.push(("predeploy.sql", with_bom(script.as_bytes())));
    }
    if let Some(metadata) = &package.metadata {
        parts.push(("DacMetadata.xml", render_metadata(metadata)));
    }
    parts.push((
        "Origin.xml",
        render_origin(&checksum, &package.model.schema_version),
    ));
    let has_sql = package.predeploy.is_some() || package.postdeploy.is_some();
    parts.push(("[Content_Types].xml", content_types(has_sql)));

    let fail = |e: &dyn std::fmt::Display| Error::Invalid(format!("cannot write package zip: {e}"));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in parts {
        zip.start_file(name, options).map_err(|e| fail(&e))?;
        zip.write_all(&bytes).map_err(|e| fail(&e))?;
    }
    Ok(zip.finish().map_err(|e| fail(&e))?.into_inner())
}

fn with_bom(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 3);
    out.extend_from_slice(BOM);
    out.extend_from_slice(bytes);
    out
}

/// The XML declaration with BOM that starts DacMetadata.xml, Origin.xml and refactor.xml.
fn start_part() -> Vec<u8> {
    with_bom(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n")
}

fn text_element(out: &mut Vec<u8>, indent: &str, name: &str, text: &str) {
    out.extend_from_slice(indent.as_bytes());
    if text.is_empty() {
        out.extend_from_slice(format!("<{name} />\r\n").as_bytes());
        return;
    }
    out.extend_from_slice(format!("<{name}>").as_bytes());
    escape_text_into(out, text);
    out.extend_from_slice(format!("</{name}>\r\n").as_bytes());
}

fn render_metadata(metadata: &DacMetadata) -> Vec<u8> {
    let mut out = start_part();
    out.extend_from_slice(format!("<DacType xmlns=\"{NAMESPACE}\">\r\n").as_bytes());
    text_element(&mut out, "  ", "Name", &metadata.name);
    text_element(&mut out, "  ", "Version", &metadata.version);
    if let Some(description) = &metadata.description {
        text_element(&mut out, "  ", "Description", description);
    }
    out.extend_from_slice(b"</DacType>");
    out
}

/// A deterministic identity for the write operation, shaped as a GUID: derived from the model
/// checksum, so the same package gets the same Origin.xml.
fn identity(checksum: &str) -> String {
    let hex = checksum.to_ascii_lowercase();
    let h = |from: usize, to: usize| hex.get(from..to).unwrap_or("0");
    format!(
        "{}-{}-4{}-8{}-{}",
        h(0, 8),
        h(8, 12),
        h(13, 16),
        h(17, 20),
        h(20, 32)
    )
}

fn render_origin(checksum: &str, schema_version: &str) -> Vec<u8> {
    let mut out = start_part();
    let product = format!("dac, Version={}", env!("CARGO_PKG_VERSION"));
    let text = format!(
        "<DacOrigin xmlns=\"{NAMESPACE}\">\r\n\
  <PackageProperties>\r\n\
    <Version>{PACKAGE_VERSION}</Version>\r\n\
    <ContainsExportedData>false</ContainsExportedData>\r\n\
    <StreamVersions>\r\n\
      <Version StreamName=\"Data\">2.0.0.0</Version>\r\n\
      <Version StreamName=\"DeploymentContributors\">1.0.0.0</Version>\r\n\
    </StreamVersions>\r\n\
  </PackageProperties>\r\n\
  <Operation>\r\n\
    <Identity>{}</Identity>\r\n\
    <Start>{FIXED_TIME}</Start>\r\n\
    <End>{FIXED_TIME}</End>\r\n",
        identity(checksum)
    );
    out.extend_from_slice(text.as_bytes());
    text_element(&mut out, "    ", "ProductName", &product);
    text_element(
        &mut out,
        "    ",
        "ProductVersion",
        env!("CARGO_PKG_VERSION"),
    );
    text_element(&mut out, "    ", "ProductSchema", NAMESPACE);
    out.extend_from_slice(
        format!(
            "  </Operation>\r\n  <Checksums>\r\n    <Checksum Uri=\"/model.xml\">{checksum}</Checksum>\r\n  </Checksums>\r\n"
        )
        .as_bytes(),
    );
    text_element(&mut out, "  ", "ModelSchemaVersion", schema_version);
    out.extend_from_slice(b"</DacOrigin>");
    out
}

fn render_refactor(log: &RefactorLog) -> Vec<u8> {
    let mut out = start_part();
    out.extend_from_slice(b"<Operations");
    attr(&mut out, "Version", &log.version);
    if log.operations.is_empty() {
        out.extend_from_slice(b" />");
        return out;
    }
    out.extend_from_slice(b">\r\n");
    for op in &log.operations {
        out.extend_from_slice(b"  <Operation");
        attr(&mut out, "Name", &op.name);
        attr(&mut out, "Key", &op.key);
        if let Some(time) = &op.change_date_time {
            attr(&mut out, "ChangeDateTime", time);
        }
        attr(&mut out, "xmlns", NAMESPACE);
        if op.properties.is_empty() {
            out.extend_from_slice(b" />\r\n");
            continue;
        }
        out.extend_from_slice(b">\r\n");
        for (name, value) in &op.properties {
            out.extend_from_slice(b"    <Property");
            attr(&mut out, "Name", name);
            attr(&mut out, "Value", value);
            out.extend_from_slice(b" />\r\n");
        }
        out.extend_from_slice(b"  </Operation>\r\n");
    }
    out.extend_from_slice(b"</Operations>");
    out
}

fn attr(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    escape_attr_into(out, value);
    out.push(b'"');
}

fn content_types(has_sql: bool) -> Vec<u8> {
    let sql = if has_sql {
        "<Default Extension=\"sql\" ContentType=\"text/plain\" />"
    } else {
        ""
    };
    with_bom(
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" ContentType=\"text/xml\" />{sql}</Types>"
        )
        .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dsp, Model};
    use crate::package::{ReadOptions, read_bytes};

    fn package() -> Package {
        Package {
            metadata: Some(DacMetadata {
                name: "A & B".into(),
                version: "1.0.0.0".into(),
                description: Some("<desc>".into()),
            }),
            origin: None,
            model: Model::empty(Dsp::default_sqlserver()),
            predeploy: Some("PRINT 'pré'\r\n".into()),
            postdeploy: None,
            refactor_log: Some(RefactorLog {
                version: "1.0".into(),
                operations: vec![crate::model::refactor::RefactorOperation {
                    name: "Rename Refactor".into(),
                    key: "k".into(),
                    change_date_time: Some("08/25/2021 10:26:50".into()),
                    properties: vec![("NewName".into(), "a\"b".into())],
                }],
            }),
        }
    }

    #[test]
    fn deterministic_and_round_trips() {
        let p = package();
        let a = to_bytes(&p).unwrap();
        let b = to_bytes(&p).unwrap();
        assert_eq!(a, b);
        let back = read_bytes(&a, Path::new("mem.dacpac"), &ReadOptions::default()).unwrap();
        assert_eq!(back.metadata, p.metadata);
        assert_eq!(back.model, p.model);
        assert_eq!(back.predeploy, p.predeploy);
        assert_eq!(back.postdeploy, None);
        assert_eq!(back.refactor_log, p.refactor_log);
        let origin = back.origin.unwrap();
        assert_eq!(
            origin.product_name,
            format!("dac, Version={}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(origin.package_version, "3.1.0.0");
        assert_eq!(origin.model_schema_version, p.model.schema_version);
        assert!(!origin.contains_exported_data);
    }

    #[test]
    fn parts_order_boms_and_content_types() {
        let bytes = to_bytes(&package()).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        assert_eq!(
            names,
            [
                "model.xml",
                "refactor.xml",
                "predeploy.sql",
                "DacMetadata.xml",
                "Origin.xml",
                "[Content_Types].xml"
            ]
        );
        let mut read = |name: &str| {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut zip.by_name(name).unwrap(), &mut out).unwrap();
            out
        };
        assert!(read("model.xml").starts_with(b"<?xml"));
        for part in [
            "refactor.xml",
            "predeploy.sql",
            "DacMetadata.xml",
            "Origin.xml",
        ] {
            assert!(read(part).starts_with(BOM), "{part}");
        }
        assert!(
            String::from_utf8(read("[Content_Types].xml"))
                .unwrap()
                .ends_with("<Default Extension=\"xml\" ContentType=\"text/xml\" /><Default Extension=\"sql\" ContentType=\"text/plain\" /></Types>")
        );
    }
}
