//! Multipart object names as DacFx writes them: `[dbo].[T].[C]`, with `]]` escaping a `]`.
//!
//! Names compare exactly (derived `Eq`); case-insensitive matching, which depends on the model's
//! collation, goes through [`ObjectName::key`].

use std::fmt;

/// A multipart name such as `[dbo].[Orders].[Id]`.
///
/// `external` holds the database part that DacFx writes before a `|` for elements that live in a
/// referenced package (`[master]|[sys].[objects]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectName {
    /// Text before `|`, kept verbatim (brackets included), for names in referenced packages.
    pub external: Option<String>,
    /// The unquoted parts, outermost first.
    pub parts: Vec<String>,
}

/// Why a name could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    /// The text that was not a bracketed multipart name.
    pub text: String,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a bracketed multipart name: {:?}", self.text)
    }
}

impl std::error::Error for NameError {}

impl ObjectName {
    /// A name from unquoted parts.
    pub fn new<I, S>(parts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ObjectName {
            external: None,
            parts: parts.into_iter().map(Into::into).collect(),
        }
    }

    /// Parses `[a].[b]`, `[db]|[a].[b]`; every part must be bracketed.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let err = || NameError {
            text: text.to_string(),
        };
        // Most names have no `|`: a byte scan is far cheaper than a substring search.
        let external_at = if text.as_bytes().contains(&b'|') {
            text.find("]|[")
        } else {
            None
        };
        let (external, rest) = match external_at {
            Some(pos) => (Some(text[..pos + 1].to_string()), &text[pos + 2..]),
            None => (None, text),
        };
        let mut parts = Vec::with_capacity(3);
        let mut rest = rest;
        loop {
            rest = rest.strip_prefix('[').ok_or_else(err)?;
            let mut part = String::new();
            loop {
                let close = rest.find(']').ok_or_else(err)?;
                let after = &rest[close + 1..];
                if let Some(more) = after.strip_prefix(']') {
                    // `]]` is an escaped `]`.
                    part.push_str(&rest[..=close]);
                    rest = more;
                } else {
                    part.push_str(&rest[..close]);
                    rest = after;
                    break;
                }
            }
            parts.push(part);
            if rest.is_empty() {
                break;
            }
            rest = rest.strip_prefix('.').ok_or_else(err)?;
        }
        Ok(ObjectName { external, parts })
    }

    /// The last part (the object's own name), or "" for an empty name.
    pub fn leaf(&self) -> &str {
        self.parts.last().map(String::as_str).unwrap_or("")
    }

    /// The first part: the schema for schema-scoped objects.
    pub fn first(&self) -> &str {
        self.parts.first().map(String::as_str).unwrap_or("")
    }

    /// The name without its last part (`[dbo].[T]` for `[dbo].[T].[C]`).
    pub fn parent(&self) -> Option<ObjectName> {
        if self.parts.len() < 2 {
            return None;
        }
        Some(ObjectName {
            external: self.external.clone(),
            parts: self.parts[..self.parts.len() - 1].to_vec(),
        })
    }

    /// This name with one more part appended.
    pub fn child(&self, part: impl Into<String>) -> ObjectName {
        let mut parts = self.parts.clone();
        parts.push(part.into());
        ObjectName {
            external: self.external.clone(),
            parts,
        }
    }

    /// A key for maps and matching: the bracketed form, lower-cased unless `case_sensitive`.
    pub fn key(&self, case_sensitive: bool) -> String {
        let mut out = String::new();
        self.push_key(&mut out, case_sensitive);
        out
    }

    /// Appends [`ObjectName::key`] to `out` (one buffer, no intermediate strings: compare and
    /// plan key every element of large models).
    pub fn push_key(&self, out: &mut String, case_sensitive: bool) {
        let start = out.len();
        out.reserve(
            self.external.as_ref().map_or(0, |e| e.len() + 1)
                + self.parts.iter().map(|p| p.len() + 3).sum::<usize>(),
        );
        self.write_into(out);
        if !case_sensitive {
            let text = &mut out[start..];
            if text.is_ascii() {
                text.make_ascii_lowercase();
            } else {
                let lower = text.to_lowercase();
                out.truncate(start);
                out.push_str(&lower);
            }
        }
    }

    /// Appends the bracketed form (as [`fmt::Display`] prints it) to `out`.
    fn write_into(&self, out: &mut String) {
        if let Some(external) = &self.external {
            out.push_str(external);
            out.push('|');
        }
        for (idx, part) in self.parts.iter().enumerate() {
            if idx > 0 {
                out.push('.');
            }
            out.push('[');
            push_escaped(out, part);
            out.push(']');
        }
    }

    /// Whether two names denote the same object under the given case rule.
    pub fn matches(&self, other: &ObjectName, case_sensitive: bool) -> bool {
        if case_sensitive {
            self == other
        } else {
            self.external.as_deref().map(str::to_lowercase)
                == other.external.as_deref().map(str::to_lowercase)
                && self.parts.len() == other.parts.len()
                && self
                    .parts
                    .iter()
                    .zip(&other.parts)
                    .all(|(a, b)| a.to_lowercase() == b.to_lowercase())
        }
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(external) = &self.external {
            write!(f, "{external}|")?;
        }
        for (idx, part) in self.parts.iter().enumerate() {
            if idx > 0 {
                f.write_str(".")?;
            }
            f.write_str("[")?;
            let mut rest = part.as_str();
            while let Some(pos) = rest.find(']') {
                f.write_str(&rest[..=pos])?;
                f.write_str("]")?;
                rest = &rest[pos + 1..];
            }
            f.write_str(rest)?;
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// Appends a name part with `]` escaped as `]]`.
fn push_escaped(out: &mut String, part: &str) {
    let mut rest = part;
    while let Some(pos) = rest.find(']') {
        out.push_str(&rest[..=pos]);
        out.push(']');
        rest = &rest[pos + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for text in [
            "[dbo]",
            "[dbo].[T].[C]",
            "[a]]b].[c.d]",
            "[master]|[sys].[objects]",
            "[Grant.ViewAnyColumnEncryptionKeyDefinition.Database].[public].[dbo]",
            "[we'ird;\"name]",
        ] {
            let name = ObjectName::parse(text).unwrap();
            assert_eq!(name.to_string(), text);
        }
        assert_eq!(ObjectName::parse("[a]]b]").unwrap().parts, vec!["a]b"]);
    }

    #[test]
    fn rejects_unbracketed_names() {
        for text in ["", "dbo.T", "[dbo", "[dbo]x", "[a].b"] {
            assert!(ObjectName::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn matches_follows_case_rule() {
        let a = ObjectName::new(["dbo", "Orders"]);
        let b = ObjectName::new(["DBO", "orders"]);
        assert!(a.matches(&b, false));
        assert!(!a.matches(&b, true));
        assert_eq!(a.key(false), b.key(false));
    }
}
