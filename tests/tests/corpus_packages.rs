//! Every real package in the shared corpus: loads; element counts agree with an independent
//! quick-xml count and with INVENTORY.md; metadata and parts agree with INVENTORY.md; a write and
//! re-read gives an equal package; the rewritten model.xml is the same XML tree; a changed
//! model.xml is caught by the checksum.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use dac_engine::Error;
use dac_engine::package::{Package, ReadOptions, read, read_bytes, to_bytes};
use quick_xml::Reader;
use quick_xml::events::Event;

/// A generic XML element: name, sorted attributes, children, text (whitespace-only text ignored).
#[derive(Debug, PartialEq, Eq)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    text: String,
}

fn tree(xml: &[u8]) -> Node {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let mut reader = Reader::from_str(std::str::from_utf8(xml).expect("utf-8"));
    let mut stack: Vec<Node> = Vec::new();
    let open = |e: &quick_xml::events::BytesStart<'_>| {
        let mut attrs: Vec<(String, String)> = e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                let v = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap();
                (a.key.as_ref().to_string(), v.into_owned())
            })
            .collect();
        attrs.sort();
        Node {
            name: e.name().as_ref().to_string(),
            attrs,
            children: Vec::new(),
            text: String::new(),
        }
    };
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(open(&e)),
            Event::Empty(e) => {
                let node = open(&e);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return node,
                }
            }
            Event::End(_) => {
                let mut node = stack.pop().unwrap();
                if node.text.trim().is_empty() {
                    node.text.clear();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return node,
                }
            }
            Event::Text(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text
                        .push_str(&quick_xml::escape::unescape(&t.into_inner()).unwrap());
                }
            }
            Event::CData(c) => stack.last_mut().unwrap().text.push_str(&c.into_inner()),
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().unwrap() {
                    Some(ch) => ch.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .unwrap()
                        .to_string(),
                };
                stack.last_mut().unwrap().text.push_str(&ch);
            }
            Event::Eof => panic!("no root"),
            _ => {}
        }
    }
}

/// Independent counts straight from the XML: top-level elements by type, and all elements.
fn raw_counts(model_xml: &[u8]) -> (BTreeMap<String, usize>, usize) {
    let root = tree(model_xml);
    let model = root.children.iter().find(|c| c.name == "Model").unwrap();
    let mut top = BTreeMap::new();
    for e in model.children.iter().filter(|c| c.name == "Element") {
        let kind = e.attrs.iter().find(|(k, _)| k == "Type").unwrap().1.clone();
        *top.entry(kind).or_insert(0) += 1;
    }
    fn all(n: &Node) -> usize {
        usize::from(n.name == "Element") + n.children.iter().map(all).sum::<usize>()
    }
    (top, all(&root))
}

fn zip_parts(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut out = Vec::new();
            f.read_to_end(&mut out).unwrap();
            (f.name().unwrap().to_string(), out)
        })
        .collect()
}

fn part<'a>(parts: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    parts
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b.as_slice())
}

/// What INVENTORY.md says about one package.
#[derive(Debug, Default)]
struct Facts {
    name_version: String,
    top_total: usize,
    all_total: usize,
    pre_post_refactor: String,
    /// Counts listed in the per-file `top-level elements (N)` row (possibly truncated by `...`).
    listed: Vec<(String, usize)>,
    listed_total: usize,
}

fn inventory(shared: &Path) -> BTreeMap<String, Facts> {
    let text = std::fs::read_to_string(shared.join("corpus/INVENTORY.md")).unwrap();
    let mut out: BTreeMap<String, Facts> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#### `dacpac/") {
            current = Some(rest.trim_end_matches('`').to_string());
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // Summary row: | `file` | DSP | SV | name / version | producer | size | model | top / all | p/p/r |
        if cells.len() == 11 && cells[1].starts_with('`') && cells[1].ends_with(".dacpac`") {
            let file = cells[1].trim_matches('`').to_string();
            let (top, all) = cells[8].split_once(" / ").unwrap();
            let facts = out.entry(file).or_default();
            facts.name_version = cells[4].to_string();
            facts.top_total = top.parse().unwrap();
            facts.all_total = all.parse().unwrap();
            facts.pre_post_refactor = cells[9].to_string();
        }
        if let Some(file) = &current
            && cells.len() == 4
            && cells[1].starts_with("top-level elements (")
        {
            let facts = out.entry(file.clone()).or_default();
            facts.listed_total = cells[1]
                .trim_start_matches("top-level elements (")
                .trim_end_matches(')')
                .parse()
                .unwrap();
            for item in cells[2].trim_end_matches("...").split(',') {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                let (kind, n) = item.rsplit_once(' ').unwrap();
                facts.listed.push((kind.to_string(), n.parse().unwrap()));
            }
        }
    }
    out
}

fn same_content(a: &Package, b: &Package) -> bool {
    a.model == b.model
        && a.metadata == b.metadata
        && a.predeploy == b.predeploy
        && a.postdeploy == b.postdeploy
        && a.refactor_log == b.refactor_log
}

#[test]
fn corpus_packages() {
    let Some(shared) = dac_tests::shared_dir("corpus packages") else {
        return;
    };
    let files = dac_tests::corpus_dacpacs(&shared);
    assert_eq!(files.len(), 29, "corpus should hold 29 dacpacs");
    let facts = inventory(&shared);
    assert_eq!(facts.len(), 29, "INVENTORY.md should describe 29 dacpacs");
    let options = ReadOptions::default();
    let (mut loaded, mut round_tripped) = (0, 0);
    for path in &files {
        let key = path
            .strip_prefix(shared.join("corpus/dacpac"))
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let fact = facts
            .get(&key)
            .unwrap_or_else(|| panic!("{key} not in INVENTORY.md"));
        let original = std::fs::read(path).unwrap();
        let parts = zip_parts(&original);
        let model_xml = part(&parts, "model.xml").unwrap();

        // (a) loads.
        let package = read(path, &options).unwrap_or_else(|e| panic!("{key}: {e}"));
        loaded += 1;

        // (b) counts: ours == an independent count == INVENTORY.md.
        let (raw_top, raw_all) = raw_counts(model_xml);
        let ours: BTreeMap<String, usize> = package
            .model
            .counts_by_kind()
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        assert_eq!(ours, raw_top, "{key}: top-level counts");
        assert_eq!(
            package.model.elements.len(),
            fact.top_total,
            "{key}: top total"
        );
        assert_eq!(fact.listed_total, fact.top_total, "{key}: inventory totals");
        for (kind, n) in &fact.listed {
            assert_eq!(
                ours.get(kind),
                Some(n),
                "{key}: {kind} count vs INVENTORY.md"
            );
        }
        let all: usize = package.model.elements.iter().map(|e| e.count_all()).sum();
        assert_eq!(all, raw_all, "{key}: all elements (independent count)");
        assert_eq!(all, fact.all_total, "{key}: all elements vs INVENTORY.md");
        match &package.metadata {
            None => assert_eq!(fact.name_version, "(no DacMetadata.xml)", "{key}"),
            Some(m) => assert_eq!(
                fact.name_version,
                format!("{} / {}", m.name, m.version),
                "{key}"
            ),
        }
        let flags = format!(
            "{}/{}/{}",
            if package.predeploy.is_some() {
                "pre"
            } else {
                "-"
            },
            if package.postdeploy.is_some() {
                "post"
            } else {
                "-"
            },
            if package.refactor_log.is_some() {
                "refactor"
            } else {
                "-"
            },
        );
        assert_eq!(flags, fact.pre_post_refactor, "{key}: pre/post/refactor");

        // (c) write and read back: the same package.
        let written = to_bytes(&package).unwrap();
        let again = read_bytes(&written, Path::new(&key), &options)
            .unwrap_or_else(|e| panic!("{key}: re-read: {e}"));
        assert!(
            same_content(&package, &again),
            "{key}: round trip changed the package"
        );
        assert_eq!(
            to_bytes(&again).unwrap(),
            written,
            "{key}: writer not deterministic"
        );

        // (d) the rewritten model.xml is the same XML tree as DacFx's.
        let rewritten = zip_parts(&written);
        assert!(
            tree(part(&rewritten, "model.xml").unwrap()) == tree(model_xml),
            "{key}: rewritten model.xml differs structurally"
        );
        round_tripped += 1;

        // (e) a changed model.xml is caught by Origin.xml's checksum, and can be accepted.
        let mut tampered = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in &parts {
            tampered
                .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            tampered.write_all(bytes).unwrap();
            if name == "model.xml" {
                tampered.write_all(b"\r\n").unwrap();
            }
        }
        let tampered = tampered.finish().unwrap().into_inner();
        match read_bytes(&tampered, Path::new(&key), &options) {
            Err(Error::ChecksumMismatch { .. }) => {}
            other => panic!("{key}: tampered model.xml not caught: {other:?}"),
        }
        let accept = ReadOptions {
            accept_checksum_mismatch: true,
            ..ReadOptions::default()
        };
        let accepted = read_bytes(&tampered, Path::new(&key), &accept).unwrap();
        assert!(
            accepted.model == package.model,
            "{key}: accepted tampered model"
        );
    }
    dac_tests::summary(&format!(
        "corpus packages: {loaded}/{} loaded, {round_tripped}/{} round-tripped",
        files.len(),
        files.len()
    ));
    assert_eq!(round_tripped, files.len());
}
