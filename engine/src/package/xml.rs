//! XML plumbing shared by the package parts: UTF-8/BOM handling, escaping as DacFx's .NET
//! `XmlWriter` does, and a small strict tree reader for the small parts (DacMetadata.xml,
//! Origin.xml, refactor.xml). model.xml has its own streaming parser in `model_xml`.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// The namespace of every DacFx XML part (ProductSchema300).
pub const NAMESPACE: &str = "http://schemas.microsoft.com/sqlserver/dac/Serialization/2012/02";

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Deepest element nesting accepted from any part (hostile input must not exhaust the stack).
pub const MAX_DEPTH: usize = 256;

/// Strips a UTF-8 BOM and checks the rest is UTF-8 without NUL characters (XML allows none, and
/// a name holding one could never be created). Returns the text and the BOM length, or a
/// message naming the byte offset of the first invalid sequence. UTF-16 XML is refused.
pub fn utf8_text(bytes: &[u8]) -> Result<(&str, usize), String> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err("utf-16 xml is not supported (dacfx writes utf-8)".into());
    }
    let (body, offset) = match bytes.strip_prefix(BOM) {
        Some(rest) => (rest, BOM.len()),
        None => (bytes, 0),
    };
    match std::str::from_utf8(body) {
        Ok(text) => match body.iter().position(|&b| b == 0) {
            Some(at) => Err(format!(
                "a NUL character at byte {} (xml allows none)",
                at + offset
            )),
            None => Ok((text, offset)),
        },
        Err(e) => Err(format!(
            "invalid utf-8 at byte {}",
            e.valid_up_to() + offset
        )),
    }
}

/// Appends `text` escaped for a double-quoted attribute, as .NET's `XmlWriter` writes it:
/// `& < > "` as named entities, tab, CR and LF as `&#x9;`, `&#xD;`, `&#xA;`.
pub fn escape_attr_into(out: &mut Vec<u8>, text: &str) {
    escape_into(out, text, |b| {
        let rep: &'static [u8] = match b {
            b'"' => b"&quot;",
            b'\t' => b"&#x9;",
            b'\r' => b"&#xD;",
            b'\n' => b"&#xA;",
            0..=0x1F => return Some(Cow::Owned(format!("&#x{b:X};").into_bytes())),
            _ => return text_entity(b).map(Cow::Borrowed),
        };
        Some(Cow::Borrowed(rep))
    });
}

/// Appends `text` escaped for element content (`& < >`; line breaks kept).
pub fn escape_text_into(out: &mut Vec<u8>, text: &str) {
    escape_into(out, text, |b| text_entity(b).map(Cow::Borrowed));
}

/// The entity of a byte escaped everywhere: `& < >`.
fn text_entity(b: u8) -> Option<&'static [u8]> {
    match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        _ => None,
    }
}

/// Appends `text`, every byte that `entity` replaces written as its replacement.
fn escape_into(out: &mut Vec<u8>, text: &str, entity: impl Fn(u8) -> Option<Cow<'static, [u8]>>) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (idx, &b) in bytes.iter().enumerate() {
        if let Some(rep) = entity(b) {
            out.extend_from_slice(&bytes[start..idx]);
            out.extend_from_slice(&rep);
            start = idx + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `text` as one or more CDATA sections, splitting every `]]>` so it survives.
pub fn cdata_into(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"<![CDATA[");
    let mut rest = text;
    while let Some(pos) = rest.find("]]>") {
        out.extend_from_slice(&rest.as_bytes()[..pos + 2]);
        out.extend_from_slice(b"]]><![CDATA[");
        rest = &rest[pos + 2..];
    }
    out.extend_from_slice(rest.as_bytes());
    out.extend_from_slice(b"]]>");
}

/// Unescapes an attribute value (entity and character references; literal whitespace
/// normalized as XML 1.0 requires).
pub fn attr_value<'a>(
    attr: &quick_xml::events::attributes::Attribute<'a>,
) -> Result<Cow<'a, str>, String> {
    attr.normalized_value(XmlVersion::Implicit1_0)
        .map_err(|e| format!("bad attribute value: {e}"))
}

/// An element of a small XML part: local name, attributes in order, children, text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Tag name as written (prefix included).
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// Child elements.
    pub children: Vec<Node>,
    /// Concatenated text and CDATA content.
    pub text: String,
}

impl Node {
    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child with a name.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Children with a name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Parses a small XML part into a [`Node`] tree. Rejects DTDs (no entity expansion), invalid
/// UTF-8, nesting deeper than [`MAX_DEPTH`] and anything that is not well formed. Comments and
/// processing instructions are skipped.
pub fn parse_tree(bytes: &[u8]) -> Result<Node, String> {
    let (text, offset) = utf8_text(bytes)?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let pos = reader.buffer_position() as usize + offset;
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.error_position() as usize + offset))?;
        match event {
            Event::DocType(_) => {
                return Err(format!(
                    "dtd (<!DOCTYPE>) is not allowed at byte {pos}: packages never declare entities"
                ));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(format!("content after the root element at byte {pos}"));
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "elements nested deeper than {MAX_DEPTH} at byte {pos}"
                    ));
                }
                stack.push(node_of(&e, pos)?);
            }
            Event::Empty(e) => {
                let node = node_of(&e, pos)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else {
                    return Err(format!("unexpected end tag at byte {pos}"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let raw = t.into_inner();
                match stack.last_mut() {
                    Some(node) => node.text.push_str(
                        &quick_xml::escape::unescape(&raw)
                            .map_err(|e| format!("{e} at byte {pos}"))?,
                    ),
                    None if raw.trim().is_empty() => {}
                    None => return Err(format!("text outside the root element at byte {pos}")),
                }
            }
            Event::CData(c) => match stack.last_mut() {
                Some(node) => node.text.push_str(&c.into_inner()),
                None => return Err(format!("cdata outside the root element at byte {pos}")),
            },
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r) {
                        Some(s) => s.to_string(),
                        None => {
                            return Err(format!("unknown entity &{}; at byte {pos}", &*r));
                        }
                    },
                    Err(e) => return Err(format!("{e} at byte {pos}")),
                };
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&ch),
                    None => return Err(format!("text outside the root element at byte {pos}")),
                }
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(format!("unexpected end of file at byte {pos}"));
                }
                return root.ok_or_else(|| "no root element".to_string());
            }
        }
    }
}

fn node_of(e: &BytesStart<'_>, pos: usize) -> Result<Node, String> {
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| format!("{err} at byte {pos}"))?;
        let key = attr.key.as_ref().to_string();
        let value = attr_value(&attr)
            .map_err(|m| format!("{m} at byte {pos}"))?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Node {
        name: e.name().as_ref().to_string(),
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(text: &str) -> String {
        let mut out = Vec::new();
        escape_attr_into(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn attributes_escape_like_xml_writer() {
        assert_eq!(
            attr("a&b<c>d\"e'f\r\n\tg"),
            "a&amp;b&lt;c&gt;d&quot;e'f&#xD;&#xA;&#x9;g"
        );
        assert_eq!(attr("\u{1}"), "&#x1;");
    }

    #[test]
    fn cdata_splits_terminators() {
        let mut out = Vec::new();
        cdata_into(&mut out, "a]]>b]]>");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<![CDATA[a]]]]><![CDATA[>b]]]]><![CDATA[>]]>"
        );
    }

    #[test]
    fn tree_rejects_doctype_and_bad_utf8() {
        let err = parse_tree(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").unwrap_err();
        assert!(err.contains("dtd"), "{err}");
        let err = parse_tree(b"<a>\xFF</a>").unwrap_err();
        assert!(err.contains("invalid utf-8 at byte 3"), "{err}");
        let tree = parse_tree(b"\xEF\xBB\xBF<a x=\"1&#xA;\">t&amp;<![CDATA[<c>]]></a>").unwrap();
        assert_eq!(tree.attr("x"), Some("1\n"));
        assert_eq!(tree.text, "t&<c>");
    }

    #[test]
    fn tree_limits_depth() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let err = parse_tree(deep.as_bytes()).unwrap_err();
        assert!(err.contains("nested deeper"), "{err}");
    }
}
