//! model.xml: a strict streaming parser into [`Model`] and a writer that lays the XML out as
//! DacFx does (CRLF line breaks, tab indentation, `.NET XmlWriter` escaping, scripts in CDATA).
//!
//! The parser accepts exactly the grammar DacFx writes (see the module docs of [`crate::package`]) and
//! fails on anything else, naming the unknown element or attribute and its byte position: nothing
//! is silently dropped. DTDs are refused outright, so no entity is ever expanded.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::xml::{MAX_DEPTH, NAMESPACE, attr_value, cdata_into, escape_attr_into, utf8_text};
use crate::model::symbol::WordBuildHasher;
use crate::model::{
    Annotation, CustomData, Dsp, Element, Entry, Metadata, Model, ObjectName, Property, Reference,
    Relationship, Script, Symbol, Value,
};

/// Line break DacFx writes in model.xml.
const NL: &[u8] = b"\r\n";

/// Parses model.xml bytes (optionally with a UTF-8 BOM). The error message names the problem and
/// its byte position in the part.
pub fn parse(xml: &[u8]) -> Result<Model, String> {
    Parser::run(xml, false).map(|(model, _)| model)
}

/// Parses model.xml as [`parse`] does and checks its internal references on the way: the
/// position, among the model's internal references (`References` without `ExternalSource`, in
/// document order), of the first one that names no element of the model (same `Name` as written
/// and same `Disambiguator`, both absent or equal; a reference must have one or the other).
///
/// The names are compared as the text of their attributes, borrowed from `xml`, while the parser
/// reads them: no walk of the finished model, no copies. Equal texts are equal names, since a name
/// prints back exactly as the text it was read from.
pub(crate) fn parse_and_check_references(xml: &[u8]) -> Result<(Model, Option<usize>), String> {
    Parser::run(xml, true)
}

/// The identity a reference is resolved by: an element's `Name` and `Disambiguator` as written,
/// with their hash.
struct RefKey<'a> {
    hash: u64,
    name: Option<Cow<'a, str>>,
    disambiguator: Option<Cow<'a, str>>,
}

impl<'a> RefKey<'a> {
    fn new(name: Option<Cow<'a, str>>, disambiguator: Option<Cow<'a, str>>) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut state = WordBuildHasher::default().build_hasher();
        if let Some(name) = &name {
            state.write(name.as_bytes());
        }
        state.write_u8(u8::from(name.is_some()) | (u8::from(disambiguator.is_some()) << 1));
        if let Some(d) = &disambiguator {
            state.write(d.as_bytes());
        }
        RefKey {
            hash: state.finish(),
            name,
            disambiguator,
        }
    }

    fn same(&self, other: &RefKey<'_>) -> bool {
        self.hash == other.hash
            && self.name == other.name
            && self.disambiguator == other.disambiguator
    }
}

/// What the reference check gathers while parsing: every element's identity, and the internal
/// references, in document order.
#[derive(Default)]
struct RefCheck<'a> {
    targets: Vec<RefKey<'a>>,
    references: Vec<RefKey<'a>>,
}

impl RefCheck<'_> {
    /// The position of the first reference that resolves to nothing.
    ///
    /// Both lists are ordered by hash (as small hash/position pairs) and merged: a large model
    /// has hundreds of thousands of elements, and a hash set of them costs a cache miss or two
    /// per element, where sorting stays in cache.
    fn first_missing(&self) -> Option<usize> {
        let by_hash = |keys: &[RefKey<'_>]| {
            let mut order: Vec<(u64, usize)> = keys
                .iter()
                .enumerate()
                .map(|(idx, key)| (key.hash, idx))
                .collect();
            order.sort_unstable();
            order
        };
        let targets = by_hash(&self.targets);
        let references = by_hash(&self.references);
        let mut first: Option<usize> = None;
        let mut t = 0;
        for &(hash, r) in &references {
            while t < targets.len() && targets[t].0 < hash {
                t += 1;
            }
            let reference = &self.references[r];
            let identified = reference.name.is_some() || reference.disambiguator.is_some();
            let found = identified
                && targets[t..]
                    .iter()
                    .take_while(|(h, _)| *h == hash)
                    .any(|&(_, idx)| self.targets[idx].same(reference));
            if !found {
                first = Some(first.map_or(r, |f| f.min(r)));
            }
        }
        first
    }
}

/// A tag read from the stream: start (with content) or empty.
struct Tag<'a> {
    start: BytesStart<'a>,
    empty: bool,
}

enum Ev<'a> {
    Open(Tag<'a>),
    End,
    Eof,
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    /// The document (after any BOM): attribute values are borrowed from it.
    text: &'a str,
    /// Element identities and internal references, when references are checked.
    check: Option<RefCheck<'a>>,
    /// Bytes stripped before the text (BOM), added to positions.
    offset: usize,
    /// Position of the start of the last event read.
    pos: usize,
    // Scratch stacks: an element's properties, relationships and annotations, and a
    // relationship's entries, are pushed here while they are read (nested elements push and
    // take their own above them), then moved into a vector of exactly their count. Growing each
    // small vector by pushing left most of it unused (a one-entry relationship held room for
    // four) and tripled the model's memory.
    properties: Vec<Property>,
    relationships: Vec<Relationship>,
    annotations: Vec<Annotation>,
    entries: Vec<Entry>,
}

/// The items pushed on a scratch stack since `start`, in a vector of exactly their count
/// (`split_off` allocates exactly the tail, none when it is empty, moves it in one copy and
/// leaves the stack its capacity).
fn take_from<T>(stack: &mut Vec<T>, start: usize) -> Vec<T> {
    stack.split_off(start)
}

impl<'a> Parser<'a> {
    fn run(xml: &'a [u8], check: bool) -> Result<(Model, Option<usize>), String> {
        let (text, offset) = utf8_text(xml)?;
        let mut reader = Reader::from_str(text);
        // Whitespace between tags is layout; skipping it in the reader saves an event per line.
        // Trimming is switched off inside <Value>, whose text is kept verbatim.
        reader.config_mut().trim_text(true);
        let mut p = Parser {
            reader,
            text,
            check: check.then(RefCheck::default),
            offset,
            pos: offset,
            properties: Vec::new(),
            relationships: Vec::new(),
            annotations: Vec::new(),
            entries: Vec::new(),
        };
        let model = p.document()?;
        let missing = p.check.as_ref().and_then(RefCheck::first_missing);
        Ok((model, missing))
    }

    /// `value` as a borrow of the document rather than of the tag it was read from. The reader
    /// hands out slices of the document, so it is one unless unescaping made a new string;
    /// anything else is copied.
    fn rebase(&self, value: Cow<'_, str>) -> Cow<'a, str> {
        match value {
            Cow::Borrowed(slice) => {
                let start = (slice.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
                match self.text.get(start..start.wrapping_add(slice.len())) {
                    Some(within) if std::ptr::eq(within.as_ptr(), slice.as_ptr()) => {
                        Cow::Borrowed(within)
                    }
                    _ => Cow::Owned(slice.to_owned()),
                }
            }
            Cow::Owned(text) => Cow::Owned(text),
        }
    }

    fn err(&self, message: impl std::fmt::Display) -> String {
        format!("{message} at byte {}", self.pos)
    }

    fn raw(&mut self) -> Result<Event<'a>, String> {
        self.pos = self.reader.buffer_position() as usize + self.offset;
        self.reader.read_event().map_err(|e| {
            format!(
                "{e} at byte {}",
                self.reader.error_position() as usize + self.offset
            )
        })
    }

    /// The next structural event, skipping whitespace; anything else is an error.
    fn next(&mut self) -> Result<Ev<'a>, String> {
        loop {
            match self.raw()? {
                Event::Start(start) => {
                    return Ok(Ev::Open(Tag {
                        start,
                        empty: false,
                    }));
                }
                Event::Empty(start) => return Ok(Ev::Open(Tag { start, empty: true })),
                Event::End(_) => return Ok(Ev::End),
                Event::Eof => return Ok(Ev::Eof),
                Event::Text(t) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
                Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) => {
                    return Err(self.err("unexpected text"));
                }
                Event::DocType(_) => {
                    return Err(self
                        .err("dtd (<!DOCTYPE>) is not allowed: packages never declare entities"));
                }
                Event::Comment(_) => return Err(self.err("unexpected comment")),
                Event::PI(_) => return Err(self.err("unexpected processing instruction")),
                Event::Decl(_) => return Err(self.err("unexpected xml declaration")),
            }
        }
    }

    /// Reads the attributes of `tag` into slots named by `names`; unknown or repeated
    /// attributes are errors.
    fn attrs<const N: usize>(
        &self,
        tag: &BytesStart<'_>,
        names: [&str; N],
    ) -> Result<[Option<Cow<'a, str>>; N], String> {
        let mut out: [Option<Cow<'a, str>>; N] = std::array::from_fn(|_| None);
        // Repeats are caught below by the slots; quick-xml's own duplicate check would keep a
        // heap list of the keys of every tag.
        for attr in tag.attributes().with_checks(false) {
            let attr = attr.map_err(|e| self.err(e))?;
            let key = attr.key.as_ref();
            let Some(idx) = names.iter().position(|n| *n == key) else {
                return Err(self.err(format_args!(
                    "unknown attribute `{key}` on <{}>",
                    tag.name().as_ref()
                )));
            };
            if out[idx].is_some() {
                return Err(self.err(format_args!("duplicate attribute `{key}`")));
            }
            out[idx] = Some(self.rebase(attr_value(&attr).map_err(|m| self.err(m))?));
        }
        Ok(out)
    }

    fn required(
        &self,
        value: Option<Cow<'_, str>>,
        attr: &str,
        tag: &str,
    ) -> Result<String, String> {
        value
            .map(Cow::into_owned)
            .ok_or_else(|| self.err(format_args!("<{tag}> has no `{attr}` attribute")))
    }

    /// A required attribute naming a type, property or relationship: vocabulary.
    fn symbol(&self, value: Option<Cow<'_, str>>, attr: &str, tag: &str) -> Result<Symbol, String> {
        value
            .map(Symbol::from)
            .ok_or_else(|| self.err(format_args!("<{tag}> has no `{attr}` attribute")))
    }

    fn name(&self, text: Option<&str>) -> Result<Option<ObjectName>, String> {
        match text {
            None => Ok(None),
            Some(text) => ObjectName::parse(text).map(Some).map_err(|e| self.err(e)),
        }
    }

    fn unknown(&self, tag: &BytesStart<'_>, parent: &str) -> String {
        self.err(format_args!(
            "unknown element <{}> in <{parent}>",
            tag.name().as_ref()
        ))
    }

    /// After a start tag that must have no content: the matching end tag.
    fn close(&mut self, tag: &Tag<'_>, what: &str) -> Result<(), String> {
        if tag.empty {
            return Ok(());
        }
        match self.next()? {
            Ev::End => Ok(()),
            Ev::Open(child) => Err(self.unknown(&child.start, what)),
            Ev::Eof => Err(self.err("unexpected end of file")),
        }
    }

    fn document(&mut self) -> Result<Model, String> {
        // Prolog: optional declaration, whitespace.
        let root = loop {
            match self.raw()? {
                Event::Decl(decl) => {
                    if let Some(Ok(enc)) = decl.encoding()
                        && !enc.eq_ignore_ascii_case("utf-8")
                    {
                        return Err(self.err(format_args!(
                            "unsupported encoding `{enc}` (dacfx writes utf-8)"
                        )));
                    }
                }
                Event::Start(start) => {
                    break Tag {
                        start,
                        empty: false,
                    };
                }
                Event::Empty(start) => break Tag { start, empty: true },
                Event::Text(t) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
                Event::DocType(_) => {
                    return Err(self
                        .err("dtd (<!DOCTYPE>) is not allowed: packages never declare entities"));
                }
                Event::Eof => return Err(self.err("no root element")),
                _ => return Err(self.err("unexpected content before the root element")),
            }
        };
        if root.start.name().as_ref() != "DataSchemaModel" {
            return Err(self.err(format_args!(
                "root element is <{}>, expected <DataSchemaModel>",
                root.start.name().as_ref()
            )));
        }
        let [ffv, sv, dsp, lcid, cs, ns] = self.attrs(
            &root.start,
            [
                "FileFormatVersion",
                "SchemaVersion",
                "DspName",
                "CollationLcid",
                "CollationCaseSensitive",
                "xmlns",
            ],
        )?;
        if ns.as_deref() != Some(NAMESPACE) {
            return Err(self.err(format_args!(
                "<DataSchemaModel> namespace is {:?}, expected {NAMESPACE}",
                ns.unwrap_or_default()
            )));
        }
        let tag = "DataSchemaModel";
        let collation_case_sensitive =
            match self.required(cs, "CollationCaseSensitive", tag)?.as_str() {
                "True" => true,
                "False" => false,
                other => {
                    return Err(self.err(format_args!(
                        "CollationCaseSensitive is {other:?}, expected True or False"
                    )));
                }
            };
        let mut model = Model {
            dsp: Dsp::from_full_name(self.required(dsp, "DspName", tag)?),
            file_format_version: self.required(ffv, "FileFormatVersion", tag)?,
            schema_version: self.required(sv, "SchemaVersion", tag)?,
            collation_lcid: self.required(lcid, "CollationLcid", tag)?,
            collation_case_sensitive,
            header: None,
            elements: Vec::new(),
            annotations: Vec::new(),
        };
        let mut seen_model = false;
        if !root.empty {
            loop {
                match self.next()? {
                    Ev::Open(t) => match t.start.name().as_ref() {
                        "Header" if model.header.is_none() && !seen_model => {
                            self.attrs(&t.start, [])?;
                            model.header = Some(self.header(&t)?);
                        }
                        "Model" if !seen_model => {
                            self.attrs(&t.start, [])?;
                            seen_model = true;
                            self.model_body(&t, &mut model)?;
                        }
                        "Header" | "Model" => {
                            return Err(self.err(format_args!(
                                "unexpected <{}> in <DataSchemaModel>",
                                t.start.name().as_ref()
                            )));
                        }
                        _ => return Err(self.unknown(&t.start, tag)),
                    },
                    Ev::End => break,
                    Ev::Eof => return Err(self.err("unexpected end of file")),
                }
            }
        }
        if !seen_model {
            return Err(self.err("<DataSchemaModel> has no <Model>"));
        }
        match self.next()? {
            Ev::Eof => Ok(model),
            _ => Err(self.err("content after the root element")),
        }
    }

    fn header(&mut self, tag: &Tag<'_>) -> Result<Vec<CustomData>, String> {
        let mut out = Vec::new();
        if tag.empty {
            return Ok(out);
        }
        loop {
            match self.next()? {
                Ev::Open(t) if t.start.name().as_ref() == "CustomData" => {
                    let [category, kind] = self.attrs(&t.start, ["Category", "Type"])?;
                    let mut data = CustomData {
                        category: self.required(category, "Category", "CustomData")?,
                        kind: kind.map(Cow::into_owned),
                        metadata: Vec::new(),
                    };
                    if !t.empty {
                        loop {
                            match self.next()? {
                                Ev::Open(m) if m.start.name().as_ref() == "Metadata" => {
                                    let [name, value] = self.attrs(&m.start, ["Name", "Value"])?;
                                    data.metadata.push(Metadata {
                                        name: self.required(name, "Name", "Metadata")?,
                                        value: value.map(Cow::into_owned),
                                    });
                                    self.close(&m, "Metadata")?;
                                }
                                Ev::Open(m) => return Err(self.unknown(&m.start, "CustomData")),
                                Ev::End => break,
                                Ev::Eof => return Err(self.err("unexpected end of file")),
                            }
                        }
                    }
                    out.push(data);
                }
                Ev::Open(t) => return Err(self.unknown(&t.start, "Header")),
                Ev::End => return Ok(out),
                Ev::Eof => return Err(self.err("unexpected end of file")),
            }
        }
    }

    fn model_body(&mut self, tag: &Tag<'_>, model: &mut Model) -> Result<(), String> {
        if tag.empty {
            return Ok(());
        }
        loop {
            match self.next()? {
                Ev::Open(t) => match t.start.name().as_ref() {
                    "Element" => model.elements.push(self.element(t, 1)?),
                    "Annotation" => model.annotations.push(self.annotation(t)?),
                    "AttachedAnnotation" => model.annotations.push(self.attached(t)?),
                    _ => return Err(self.unknown(&t.start, "Model")),
                },
                Ev::End => return Ok(()),
                Ev::Eof => return Err(self.err("unexpected end of file")),
            }
        }
    }

    fn element(&mut self, tag: Tag<'_>, depth: usize) -> Result<Element, String> {
        if depth > MAX_DEPTH {
            return Err(self.err(format_args!("elements nested deeper than {MAX_DEPTH}")));
        }
        let [kind, name, disambiguator] =
            self.attrs(&tag.start, ["Type", "Name", "Disambiguator"])?;
        let mut element = Element {
            kind: self.symbol(kind, "Type", "Element")?,
            name: self.name(name.as_deref())?,
            disambiguator: disambiguator.as_deref().map(str::to_owned),
            properties: Vec::new(),
            relationships: Vec::new(),
            annotations: Vec::new(),
        };
        if let Some(check) = &mut self.check {
            check.targets.push(RefKey::new(name, disambiguator));
        }
        if tag.empty {
            return Ok(element);
        }
        let (properties, relationships, annotations) = (
            self.properties.len(),
            self.relationships.len(),
            self.annotations.len(),
        );
        loop {
            match self.next()? {
                Ev::Open(t) => match t.start.name().as_ref() {
                    "Property" => {
                        let property = self.property(t)?;
                        self.properties.push(property);
                    }
                    "Relationship" => {
                        let relationship = self.relationship(t, depth)?;
                        self.relationships.push(relationship);
                    }
                    "Annotation" => {
                        let annotation = self.annotation(t)?;
                        self.annotations.push(annotation);
                    }
                    "AttachedAnnotation" => {
                        let annotation = self.attached(t)?;
                        self.annotations.push(annotation);
                    }
                    _ => return Err(self.unknown(&t.start, "Element")),
                },
                Ev::End => break,
                Ev::Eof => return Err(self.err("unexpected end of file")),
            }
        }
        element.properties = take_from(&mut self.properties, properties);
        element.relationships = take_from(&mut self.relationships, relationships);
        element.annotations = take_from(&mut self.annotations, annotations);
        Ok(element)
    }

    fn property(&mut self, tag: Tag<'_>) -> Result<Property, String> {
        let [name, value] = self.attrs(&tag.start, ["Name", "Value"])?;
        let name = self.symbol(name, "Name", "Property")?;
        let mut out = Property {
            name,
            value: match &value {
                Some(text) => Value::from_attribute(text),
                None => Value::Absent,
            },
        };
        if tag.empty {
            return Ok(out);
        }
        loop {
            match self.next()? {
                Ev::Open(t) if t.start.name().as_ref() == "Value" => {
                    if value.is_some() || !matches!(out.value, Value::Absent) {
                        return Err(self.err(format_args!(
                            "property `{}` has more than one value",
                            out.name
                        )));
                    }
                    out.value = Value::Script(self.script(t)?);
                }
                Ev::Open(t) => return Err(self.unknown(&t.start, "Property")),
                Ev::End => return Ok(out),
                Ev::Eof => return Err(self.err("unexpected end of file")),
            }
        }
    }

    fn flag(&self, value: Option<Cow<'_, str>>, attr: &str) -> Result<Option<bool>, String> {
        match value.as_deref() {
            None => Ok(None),
            Some("True") => Ok(Some(true)),
            Some("False") => Ok(Some(false)),
            Some(other) => {
                Err(self.err(format_args!("{attr} is {other:?}, expected True or False")))
            }
        }
    }

    fn script(&mut self, tag: Tag<'_>) -> Result<Script, String> {
        let [qi, an] = self.attrs(&tag.start, ["QuotedIdentifiers", "AnsiNulls"])?;
        let mut script = Script {
            text: String::new(),
            quoted_identifiers: self.flag(qi, "QuotedIdentifiers")?,
            ansi_nulls: self.flag(an, "AnsiNulls")?,
        };
        if tag.empty {
            return Ok(script);
        }
        self.reader.config_mut().trim_text(false);
        let result = self.script_text(&mut script);
        self.reader.config_mut().trim_text(true);
        result.map(|()| script)
    }

    fn script_text(&mut self, script: &mut Script) -> Result<(), String> {
        loop {
            match self.raw()? {
                Event::CData(c) => script.text.push_str(&c.into_inner()),
                Event::Text(t) => {
                    let raw = t.into_inner();
                    let text = quick_xml::escape::unescape(&raw).map_err(|e| self.err(e))?;
                    script.text.push_str(&text);
                }
                Event::GeneralRef(r) => match r.resolve_char_ref() {
                    Ok(Some(ch)) => script.text.push(ch),
                    Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r) {
                        Some(s) => script.text.push_str(s),
                        None => {
                            return Err(self.err(format_args!("unknown entity &{};", &*r)));
                        }
                    },
                    Err(e) => return Err(self.err(e)),
                },
                Event::End(_) => return Ok(()),
                Event::Start(s) | Event::Empty(s) => return Err(self.unknown(&s, "Value")),
                Event::Eof => return Err(self.err("unexpected end of file")),
                Event::DocType(_) => return Err(self.err("dtd (<!DOCTYPE>) is not allowed")),
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {
                    return Err(self.err("unexpected markup in <Value>"));
                }
            }
        }
    }

    fn relationship(&mut self, tag: Tag<'_>, depth: usize) -> Result<Relationship, String> {
        let [name] = self.attrs(&tag.start, ["Name"])?;
        let mut rel = Relationship {
            name: self.symbol(name, "Name", "Relationship")?,
            entries: Vec::new(),
        };
        if tag.empty {
            return Ok(rel);
        }
        let start = self.entries.len();
        loop {
            match self.next()? {
                Ev::Open(t) if t.start.name().as_ref() == "Entry" => {
                    self.attrs(&t.start, [])?;
                    let entry = self.entry(&t, depth)?;
                    self.entries.push(entry);
                }
                Ev::Open(t) => return Err(self.unknown(&t.start, "Relationship")),
                Ev::End => break,
                Ev::Eof => return Err(self.err("unexpected end of file")),
            }
        }
        rel.entries = take_from(&mut self.entries, start);
        Ok(rel)
    }

    fn entry(&mut self, tag: &Tag<'_>, depth: usize) -> Result<Entry, String> {
        if tag.empty {
            return Ok(Entry::Empty);
        }
        let entry = match self.next()? {
            Ev::Open(t) => match t.start.name().as_ref() {
                "References" => {
                    let [name, external_source, disambiguator] =
                        self.attrs(&t.start, ["Name", "ExternalSource", "Disambiguator"])?;
                    let reference = Reference {
                        name: self.name(name.as_deref())?,
                        external_source: external_source.map(Symbol::from),
                        disambiguator: disambiguator.as_deref().map(str::to_owned),
                    };
                    if reference.external_source.is_none()
                        && let Some(check) = &mut self.check
                    {
                        check.references.push(RefKey::new(name, disambiguator));
                    }
                    self.close(&t, "References")?;
                    Entry::Reference(reference)
                }
                "Element" => Entry::Element(self.element(t, depth + 1)?),
                "Annotation" => Entry::Annotation(self.annotation(t)?),
                _ => return Err(self.unknown(&t.start, "Entry")),
            },
            Ev::End => return Ok(Entry::Empty),
            Ev::Eof => return Err(self.err("unexpected end of file")),
        };
        match self.next()? {
            Ev::End => Ok(entry),
            Ev::Open(_) => Err(self.err("<Entry> holds more than one item")),
            Ev::Eof => Err(self.err("unexpected end of file")),
        }
    }

    fn annotation(&mut self, tag: Tag<'_>) -> Result<Annotation, String> {
        let [kind, name, disambiguator] =
            self.attrs(&tag.start, ["Type", "Name", "Disambiguator"])?;
        let kind = self.symbol(kind, "Type", "Annotation")?;
        let start = self.properties.len();
        if !tag.empty {
            loop {
                match self.next()? {
                    Ev::Open(t) if t.start.name().as_ref() == "Property" => {
                        let property = self.property(t)?;
                        self.properties.push(property);
                    }
                    Ev::Open(t) => return Err(self.unknown(&t.start, "Annotation")),
                    Ev::End => break,
                    Ev::Eof => return Err(self.err("unexpected end of file")),
                }
            }
        }
        Ok(Annotation::Inline {
            kind,
            name: name.map(Cow::into_owned),
            disambiguator: disambiguator.map(Cow::into_owned),
            properties: take_from(&mut self.properties, start),
        })
    }

    fn attached(&mut self, tag: Tag<'_>) -> Result<Annotation, String> {
        let [disambiguator] = self.attrs(&tag.start, ["Disambiguator"])?;
        let disambiguator = self.required(disambiguator, "Disambiguator", "AttachedAnnotation")?;
        self.close(&tag, "AttachedAnnotation")?;
        Ok(Annotation::Attached { disambiguator })
    }
}

/// Renders a model as DacFx writes model.xml: `<?xml version="1.0" encoding="utf-8"?>`, no BOM,
/// CRLF line breaks, tab indentation, elements in the model's order (the writer never sorts),
/// properties, then relationships, then annotations, and no line break after the root end tag.
pub fn render(model: &Model) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(64 * 1024 + model.elements.len() * 1024),
    };
    w.raw(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    w.raw(NL);
    w.raw(b"<DataSchemaModel");
    w.attr("FileFormatVersion", &model.file_format_version);
    w.attr("SchemaVersion", &model.schema_version);
    w.attr("DspName", model.dsp.full_name());
    w.attr("CollationLcid", &model.collation_lcid);
    w.attr(
        "CollationCaseSensitive",
        if model.collation_case_sensitive {
            "True"
        } else {
            "False"
        },
    );
    w.attr("xmlns", NAMESPACE);
    w.raw(b">");
    w.raw(NL);
    if let Some(header) = &model.header {
        w.indent(1);
        if header.is_empty() {
            w.raw(b"<Header />");
        } else {
            w.raw(b"<Header>");
            w.raw(NL);
            for data in header {
                w.indent(2);
                w.raw(b"<CustomData");
                w.attr("Category", &data.category);
                w.opt_attr("Type", data.kind.as_deref());
                if data.metadata.is_empty() {
                    w.raw(b" />");
                } else {
                    w.raw(b">");
                    w.raw(NL);
                    for m in &data.metadata {
                        w.indent(3);
                        w.raw(b"<Metadata");
                        w.attr("Name", &m.name);
                        w.opt_attr("Value", m.value.as_deref());
                        w.raw(b" />");
                        w.raw(NL);
                    }
                    w.indent(2);
                    w.raw(b"</CustomData>");
                }
                w.raw(NL);
            }
            w.indent(1);
            w.raw(b"</Header>");
        }
        w.raw(NL);
    }
    w.indent(1);
    if model.elements.is_empty() && model.annotations.is_empty() {
        w.raw(b"<Model />");
    } else {
        w.raw(b"<Model>");
        w.raw(NL);
        for element in &model.elements {
            w.element(element, 2);
        }
        for annotation in &model.annotations {
            w.annotation(annotation, 2);
        }
        w.indent(1);
        w.raw(b"</Model>");
    }
    w.raw(NL);
    w.raw(b"</DataSchemaModel>");
    w.out
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn indent(&mut self, depth: usize) {
        self.out.extend(std::iter::repeat_n(b'\t', depth));
    }

    fn attr(&mut self, name: &str, value: &str) {
        self.out.push(b' ');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"=\"");
        escape_attr_into(&mut self.out, value);
        self.out.push(b'"');
    }

    fn opt_attr(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.attr(name, value);
        }
    }

    fn name_attr(&mut self, name: Option<&ObjectName>) {
        if let Some(name) = name {
            let text: Cow<'_, str> = Cow::Owned(name.to_string());
            self.attr("Name", &text);
        }
    }

    fn element(&mut self, e: &Element, depth: usize) {
        self.indent(depth);
        self.raw(b"<Element");
        self.attr("Type", &e.kind);
        self.name_attr(e.name.as_ref());
        self.opt_attr("Disambiguator", e.disambiguator.as_deref());
        if e.properties.is_empty() && e.relationships.is_empty() && e.annotations.is_empty() {
            self.raw(b" />");
            self.raw(NL);
            return;
        }
        self.raw(b">");
        self.raw(NL);
        for p in &e.properties {
            self.property(p, depth + 1);
        }
        for r in &e.relationships {
            self.relationship(r, depth + 1);
        }
        for a in &e.annotations {
            self.annotation(a, depth + 1);
        }
        self.indent(depth);
        self.raw(b"</Element>");
        self.raw(NL);
    }

    fn property(&mut self, p: &Property, depth: usize) {
        self.indent(depth);
        self.raw(b"<Property");
        self.attr("Name", &p.name);
        match &p.value {
            Value::Absent => self.raw(b" />"),
            Value::Script(script) => {
                self.raw(b">");
                self.raw(NL);
                self.indent(depth + 1);
                self.raw(b"<Value");
                let flag = |b: bool| if b { "True" } else { "False" };
                self.opt_attr("QuotedIdentifiers", script.quoted_identifiers.map(flag));
                self.opt_attr("AnsiNulls", script.ansi_nulls.map(flag));
                self.raw(b">");
                cdata_into(&mut self.out, &script.text);
                self.raw(b"</Value>");
                self.raw(NL);
                self.indent(depth);
                self.raw(b"</Property>");
            }
            Value::Text(text) => {
                self.attr("Value", text);
                self.raw(b" />");
            }
            other => {
                let text = other.attribute_text().unwrap_or_default();
                self.attr("Value", &text);
                self.raw(b" />");
            }
        }
        self.raw(NL);
    }

    fn relationship(&mut self, r: &Relationship, depth: usize) {
        self.indent(depth);
        self.raw(b"<Relationship");
        self.attr("Name", &r.name);
        if r.entries.is_empty() {
            self.raw(b" />");
            self.raw(NL);
            return;
        }
        self.raw(b">");
        self.raw(NL);
        for entry in &r.entries {
            self.indent(depth + 1);
            if matches!(entry, Entry::Empty) {
                self.raw(b"<Entry />");
                self.raw(NL);
                continue;
            }
            self.raw(b"<Entry>");
            self.raw(NL);
            match entry {
                Entry::Reference(reference) => {
                    self.indent(depth + 2);
                    self.raw(b"<References");
                    self.opt_attr("ExternalSource", reference.external_source.as_deref());
                    self.name_attr(reference.name.as_ref());
                    self.opt_attr("Disambiguator", reference.disambiguator.as_deref());
                    self.raw(b" />");
                    self.raw(NL);
                }
                Entry::Element(e) => self.element(e, depth + 2),
                Entry::Annotation(a) => self.annotation(a, depth + 2),
                Entry::Empty => {}
            }
            self.indent(depth + 1);
            self.raw(b"</Entry>");
            self.raw(NL);
        }
        self.indent(depth);
        self.raw(b"</Relationship>");
        self.raw(NL);
    }

    fn annotation(&mut self, a: &Annotation, depth: usize) {
        self.indent(depth);
        match a {
            Annotation::Attached { disambiguator } => {
                self.raw(b"<AttachedAnnotation");
                self.attr("Disambiguator", disambiguator);
                self.raw(b" />");
            }
            Annotation::Inline {
                kind,
                name,
                disambiguator,
                properties,
            } => {
                self.raw(b"<Annotation");
                self.attr("Type", kind);
                self.opt_attr("Name", name.as_deref());
                self.opt_attr("Disambiguator", disambiguator.as_deref());
                if properties.is_empty() {
                    self.raw(b" />");
                } else {
                    self.raw(b">");
                    self.raw(NL);
                    for p in properties {
                        self.property(p, depth + 1);
                    }
                    self.indent(depth);
                    self.raw(b"</Annotation>");
                }
            }
        }
        self.raw(NL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kind::prop;

    const HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<DataSchemaModel FileFormatVersion=\"1.2\" SchemaVersion=\"2.9\" DspName=\"Microsoft.Data.Tools.Schema.Sql.Sql160DatabaseSchemaProvider\" CollationLcid=\"1033\" CollationCaseSensitive=\"False\" xmlns=\"http://schemas.microsoft.com/sqlserver/dac/Serialization/2012/02\">\r\n";

    fn doc(model_body: &str) -> String {
        format!("{HEAD}\t<Model>\r\n{model_body}\t</Model>\r\n</DataSchemaModel>")
    }

    #[test]
    fn round_trips_bytes_exactly() {
        let xml = doc(concat!(
            "\t\t<Element Type=\"SqlProcedure\" Name=\"[dbo].[p]]x]\">\r\n",
            "\t\t\t<Property Name=\"BodyScript\">\r\n",
            "\t\t\t\t<Value QuotedIdentifiers=\"True\" AnsiNulls=\"False\"><![CDATA[SELECT 1\r\n]]></Value>\r\n",
            "\t\t\t</Property>\r\n",
            "\t\t\t<Property Name=\"IsAnsiNullsOn\" Value=\"True\" />\r\n",
            "\t\t\t<Property Name=\"Length\" Value=\"007\" />\r\n",
            "\t\t\t<Property Name=\"Empty\" />\r\n",
            "\t\t\t<Relationship Name=\"BodyDependencies\">\r\n",
            "\t\t\t\t<Entry />\r\n",
            "\t\t\t\t<Entry>\r\n",
            "\t\t\t\t\t<References ExternalSource=\"BuiltIns\" Name=\"[int]\" />\r\n",
            "\t\t\t\t</Entry>\r\n",
            "\t\t\t</Relationship>\r\n",
            "\t\t\t<Annotation Type=\"SysCommentsObjectAnnotation\">\r\n",
            "\t\t\t\t<Property Name=\"HeaderContents\" Value=\"CREATE&#xD;&#xA;&#x9;&quot;x&quot; &amp; &lt;y&gt;\" />\r\n",
            "\t\t\t</Annotation>\r\n",
            "\t\t\t<AttachedAnnotation Disambiguator=\"4\" />\r\n",
            "\t\t</Element>\r\n",
        ));
        let model = parse(xml.as_bytes()).unwrap();
        let element = &model.elements[0];
        assert_eq!(element.name.as_ref().unwrap().parts(), ["dbo", "p]x"]);
        assert_eq!(
            element.prop(prop::IS_ANSI_NULLS_ON),
            Some(&Value::Bool(true))
        );
        assert_eq!(element.prop(prop::LENGTH), Some(&Value::Text("007".into())));
        assert_eq!(element.prop("Empty"), Some(&Value::Absent));
        let Some(Value::Script(script)) = element.prop(prop::BODY_SCRIPT) else {
            panic!("no script")
        };
        assert_eq!(script.text, "SELECT 1\r\n");
        assert_eq!(script.ansi_nulls, Some(false));
        match &element.annotations[0] {
            Annotation::Inline { properties, .. } => assert_eq!(
                properties[0].value,
                Value::Text("CREATE\r\n\t\"x\" & <y>".into())
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(String::from_utf8(render(&model)).unwrap(), xml);
    }

    #[test]
    fn cdata_terminator_and_bom_round_trip() {
        let mut model = Model::empty(Dsp::default_sqlserver());
        model.elements.push(
            Element::new("SqlView")
                .with_script(prop::QUERY_SCRIPT, "SELECT ']]>' AS x, N']]]]>' -- ]]")
                .with_int("Int", -42)
                .with_text("Weird", "\r\n\t<&>\"'\u{7}"),
        );
        model.header = Some(Vec::new());
        let bytes = render(&model);
        assert_eq!(parse(&bytes).unwrap(), model);
        let mut with_bom = super::super::xml::BOM.to_vec();
        with_bom.extend_from_slice(&bytes);
        assert_eq!(parse(&with_bom).unwrap(), model);
    }

    #[test]
    fn value_text_is_kept_verbatim() {
        // Escaped text (not CDATA) with surrounding whitespace, and a split CDATA section.
        let xml = doc(concat!(
            "\t\t<Element Type=\"SqlView\">\r\n",
            "\t\t\t<Property Name=\"A\">\r\n",
            "\t\t\t\t<Value>  x &lt; 1&#xD;&#xA;  </Value>\r\n",
            "\t\t\t</Property>\r\n",
            "\t\t\t<Property Name=\"B\">\r\n",
            "\t\t\t\t<Value><![CDATA[ a]]]]><![CDATA[>b ]]></Value>\r\n",
            "\t\t\t</Property>\r\n",
            "\t\t</Element>\r\n",
        ));
        let model = parse(xml.as_bytes()).unwrap();
        assert_eq!(model.elements[0].text_prop("A"), Some("  x < 1\r\n  "));
        assert_eq!(model.elements[0].text_prop("B"), Some(" a]]>b "));
        assert_eq!(parse(&render(&model)).unwrap(), model);
    }

    #[test]
    fn typed_values_keep_their_text() {
        for text in [
            "True",
            "False",
            "true",
            "0",
            "-1",
            "+1",
            "01",
            "1.0",
            "",
            " 1",
            "-0",
            "-01",
            "00",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
        ] {
            let value = Value::from_attribute(text);
            assert_eq!(value.attribute_text().as_deref(), Some(text));
        }
        for (text, n) in [("0", 0), ("-5", -5), ("120", 120)] {
            assert_eq!(Value::from_attribute(text), Value::Int(n));
        }
        for text in ["-0", "+1", "01", "-01"] {
            assert_eq!(Value::from_attribute(text), Value::Text(text.into()));
        }
    }

    #[test]
    fn rejects_unknown_elements_and_attributes() {
        let err = parse(
            doc("\t\t<Element Type=\"SqlTable\"><Position Line=\"1\" /></Element>\r\n").as_bytes(),
        )
        .unwrap_err();
        assert!(
            err.contains("unknown element <Position> in <Element>"),
            "{err}"
        );
        let err = parse(doc("\t\t<Element Type=\"SqlTable\" Colour=\"red\" />\r\n").as_bytes())
            .unwrap_err();
        assert!(
            err.contains("unknown attribute `Colour` on <Element>"),
            "{err}"
        );
        let err = parse(doc("\t\t<Element Name=\"[a]\" />\r\n").as_bytes()).unwrap_err();
        assert!(err.contains("<Element> has no `Type` attribute"), "{err}");
        let err = parse(doc("\t\t<Element Type=\"T\" Name=\"a.b\" />\r\n").as_bytes()).unwrap_err();
        assert!(err.contains("not a bracketed multipart name"), "{err}");
    }

    #[test]
    fn rejects_dtd_text_and_bad_utf8() {
        let xml = format!("<!DOCTYPE x [<!ENTITY e \"boom\">]>{}", &doc("")[40..]);
        assert!(parse(xml.as_bytes()).unwrap_err().contains("dtd"));
        let err = parse(doc("\t\tstray\r\n").as_bytes()).unwrap_err();
        assert!(err.contains("unexpected text at byte"), "{err}");
        let mut bytes = doc("").into_bytes();
        bytes[60] = 0xFF;
        assert!(
            parse(&bytes)
                .unwrap_err()
                .contains("invalid utf-8 at byte 60")
        );
        assert!(parse(b"").unwrap_err().contains("no root element"));
        assert!(parse(&doc("").as_bytes()[..200]).is_err());
    }

    #[test]
    fn reference_check_tells_colliding_hashes_apart() {
        let key = |hash: u64, name: Option<&'static str>, d: Option<&'static str>| RefKey {
            hash,
            name: name.map(Cow::Borrowed),
            disambiguator: d.map(Cow::Borrowed),
        };
        let check = RefCheck {
            targets: vec![
                key(7, Some("[a]"), None),
                key(7, Some("[b]"), None),
                key(3, None, Some("1")),
                key(9, None, None),
            ],
            references: vec![
                key(7, Some("[b]"), None),
                key(3, None, Some("1")),
                key(7, Some("[c]"), None),
                key(9, None, None),
                key(1, Some("[z]"), None),
            ],
        };
        // `[c]` shares its hash with two targets and is neither; the unidentified reference
        // after it and `[z]` are missing too, but later.
        assert_eq!(check.first_missing(), Some(2));
        let resolved = RefCheck {
            targets: check.targets,
            references: vec![key(7, Some("[a]"), None), key(7, Some("[b]"), None)],
        };
        assert_eq!(resolved.first_missing(), None);
    }

    #[test]
    fn renders_empty_model() {
        let model = Model::empty(Dsp::default_sqlserver());
        let text = String::from_utf8(render(&model)).unwrap();
        assert!(
            text.ends_with("\t<Model />\r\n</DataSchemaModel>"),
            "{text}"
        );
        assert_eq!(parse(text.as_bytes()).unwrap(), model);
    }
}
