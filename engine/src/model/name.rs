//! Multipart object names as DacFx writes them: `[dbo].[T].[C]`, with `]]` escaping a `]`.
//!
//! Names compare exactly (derived `Eq`); case-insensitive matching, which depends on the model's
//! collation, goes through [`ObjectName::key`].

use std::fmt;

/// A multipart name such as `[dbo].[Orders].[Id]`.
///
/// A name may start with the database part that DacFx writes before a `|` for elements that live
/// in a referenced package (`[master]|[sys].[objects]`), kept verbatim (brackets included): see
/// [`ObjectName::external`]. The unquoted parts, outermost first, are read through
/// [`ObjectName::parts`].
///
/// Models hold hundreds of thousands of names, so a name is one string holding the external
/// text and the parts end to end, with where each ends kept beside it (in place for up to four),
/// rather than a vector of strings: one allocation instead of one per part and one more.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct ObjectName {
    /// The external text, when there is one, then every part, end to end.
    text: Box<str>,
    /// Where each of those pieces ends in `text`.
    ends: Ends,
    /// Whether the first piece is the external text.
    external: bool,
}

/// Where the pieces of a name end: in place for up to [`INLINE`] pieces (every name DacFx
/// writes), on the heap beyond. Always in place when the pieces fit, so equal names have equal
/// `Ends` (derived equality and hashing rely on it).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Ends {
    Inline { len: u8, ends: [u32; INLINE] },
    Spilled(Box<[usize]>),
}

/// Pieces whose ends are kept in place.
const INLINE: usize = 4;

impl Default for Ends {
    fn default() -> Self {
        Ends::Inline {
            len: 0,
            ends: [0; INLINE],
        }
    }
}

impl Ends {
    fn len(&self) -> usize {
        match self {
            Ends::Inline { len, .. } => usize::from(*len),
            Ends::Spilled(ends) => ends.len(),
        }
    }

    fn get(&self, idx: usize) -> usize {
        match self {
            Ends::Inline { ends, .. } => ends[idx] as usize,
            Ends::Spilled(ends) => ends[idx],
        }
    }

    fn push(&mut self, end: usize) {
        match self {
            Ends::Inline { len, ends } => {
                let n = usize::from(*len);
                match u32::try_from(end) {
                    Ok(end) if n < INLINE => {
                        ends[n] = end;
                        *len += 1;
                    }
                    _ => {
                        let mut spilled: Vec<usize> =
                            ends[..n].iter().map(|&e| e as usize).collect();
                        spilled.push(end);
                        *self = Ends::Spilled(spilled.into_boxed_slice());
                    }
                }
            }
            Ends::Spilled(ends) => {
                let mut spilled = std::mem::take(ends).into_vec();
                spilled.push(end);
                *ends = spilled.into_boxed_slice();
            }
        }
    }
}

/// The parts of an [`ObjectName`], outermost first: a view that reads like a slice of strings.
#[derive(Clone, Copy)]
pub struct Parts<'a> {
    name: &'a ObjectName,
    /// The first piece that is a part (1 when the name has external text).
    first: usize,
}

impl<'a> Parts<'a> {
    /// How many parts.
    pub fn len(self) -> usize {
        self.name.ends.len() - self.first
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The part at `idx`.
    pub fn get(self, idx: usize) -> Option<&'a str> {
        (idx < self.len()).then(|| self.name.piece(self.first + idx))
    }

    /// The first (outermost) part.
    pub fn first(self) -> Option<&'a str> {
        self.get(0)
    }

    /// The last part: the object's own name.
    pub fn last(self) -> Option<&'a str> {
        self.len().checked_sub(1).and_then(|idx| self.get(idx))
    }

    /// The parts in order.
    pub fn iter(self) -> PartsIter<'a> {
        PartsIter {
            name: self.name,
            front: self.first,
            back: self.name.ends.len(),
        }
    }

    /// The parts as owned strings.
    pub fn to_vec(self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }

    /// The parts joined with `separator`.
    pub fn join(self, separator: &str) -> String {
        self.iter().collect::<Vec<_>>().join(separator)
    }
}

impl std::ops::Index<usize> for Parts<'_> {
    type Output = str;

    fn index(&self, idx: usize) -> &str {
        match self.get(idx) {
            Some(part) => part,
            None => panic!("part {idx} of a name of {} parts", self.len()),
        }
    }
}

impl<'a> IntoIterator for Parts<'a> {
    type Item = &'a str;
    type IntoIter = PartsIter<'a>;

    fn into_iter(self) -> PartsIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Parts<'a> {
    type Item = &'a str;
    type IntoIter = PartsIter<'a>;

    fn into_iter(self) -> PartsIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Parts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Parts<'_> {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Parts<'_> {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Parts<'_> {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl PartialEq for Parts<'_> {
    fn eq(&self, other: &Parts<'_>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Iterator over the parts of a name.
#[derive(Clone)]
pub struct PartsIter<'a> {
    name: &'a ObjectName,
    front: usize,
    back: usize,
}

impl<'a> Iterator for PartsIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        Some(self.name.piece(self.front - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.back - self.front, Some(self.back - self.front))
    }
}

impl DoubleEndedIterator for PartsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        Some(self.name.piece(self.back))
    }
}

impl ExactSizeIterator for PartsIter<'_> {}

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
        S: AsRef<str>,
    {
        let mut text = String::new();
        let mut ends = Ends::default();
        for part in parts {
            text.push_str(part.as_ref());
            ends.push(text.len());
        }
        ObjectName {
            text: text.into_boxed_str(),
            ends,
            external: false,
        }
    }

    /// Parses `[a].[b]`, `[db]|[a].[b]`; every part must be bracketed.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let err = || NameError {
            text: text.to_string(),
        };
        let bytes = text.as_bytes();
        // Most names have no `|`: a byte scan is far cheaper than a substring search.
        let external_at = if bytes.contains(&b'|') {
            text.find("]|[")
        } else {
            None
        };
        let start = external_at.map_or(0, |pos| pos + 2);
        // First pass: check the syntax and measure the unescaped name, so that it is copied
        // once into a string of exactly its size. Brackets, dots and `|` are ASCII, so every
        // offset found is a character boundary.
        let mut len = external_at.map_or(0, |pos| pos + 1);
        let mut at = start;
        loop {
            if bytes.get(at) != Some(&b'[') {
                return Err(err());
            }
            at += 1;
            loop {
                let close = at
                    + bytes[at..]
                        .iter()
                        .position(|&b| b == b']')
                        .ok_or_else(err)?;
                len += close - at;
                at = close + 1;
                if bytes.get(at) == Some(&b']') {
                    // `]]` is an escaped `]`.
                    len += 1;
                    at += 1;
                } else {
                    break;
                }
            }
            match bytes.get(at) {
                None => break,
                Some(b'.') => at += 1,
                Some(_) => return Err(err()),
            }
        }
        // Second pass: copy the pieces.
        let mut out = String::with_capacity(len);
        let mut ends = Ends::default();
        if let Some(pos) = external_at {
            out.push_str(&text[..pos + 1]);
            ends.push(out.len());
        }
        let mut rest = &text[start..];
        while let Some(part) = rest.strip_prefix('[') {
            let mut part = part;
            loop {
                let close = part.find(']').unwrap_or(part.len());
                match part[close..].strip_prefix("]]") {
                    Some(more) => {
                        out.push_str(&part[..=close]);
                        part = more;
                    }
                    None => {
                        out.push_str(&part[..close]);
                        rest = part.get(close + 1..).unwrap_or("");
                        break;
                    }
                }
            }
            ends.push(out.len());
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
        debug_assert_eq!(out.len(), len);
        Ok(ObjectName {
            text: out.into_boxed_str(),
            ends,
            external: external_at.is_some(),
        })
    }

    /// Piece `idx` of `text` (the external text or a part).
    fn piece(&self, idx: usize) -> &str {
        let start = match idx {
            0 => 0,
            _ => self.ends.get(idx - 1),
        };
        &self.text[start..self.ends.get(idx)]
    }

    /// The unquoted parts, outermost first.
    pub fn parts(&self) -> Parts<'_> {
        Parts {
            name: self,
            first: usize::from(self.external),
        }
    }

    /// Text before `|`, verbatim (brackets included), for names in referenced packages.
    pub fn external(&self) -> Option<&str> {
        self.external.then(|| self.piece(0))
    }

    /// The last part (the object's own name), or "" for an empty name.
    pub fn leaf(&self) -> &str {
        self.parts().last().unwrap_or("")
    }

    /// The first part: the schema for schema-scoped objects.
    pub fn first(&self) -> &str {
        self.parts().first().unwrap_or("")
    }

    /// A name with the same external text and these parts.
    fn with_parts<'p>(&self, parts: impl IntoIterator<Item = &'p str>) -> ObjectName {
        let mut text = String::new();
        let mut ends = Ends::default();
        if let Some(external) = self.external() {
            text.push_str(external);
            ends.push(text.len());
        }
        for part in parts {
            text.push_str(part);
            ends.push(text.len());
        }
        ObjectName {
            text: text.into_boxed_str(),
            ends,
            external: self.external,
        }
    }

    /// The name without its last part (`[dbo].[T]` for `[dbo].[T].[C]`).
    pub fn parent(&self) -> Option<ObjectName> {
        let parts = self.parts();
        if parts.len() < 2 {
            return None;
        }
        Some(self.with_parts(parts.iter().take(parts.len() - 1)))
    }

    /// This name with one more part appended.
    pub fn child(&self, part: impl AsRef<str>) -> ObjectName {
        let mut name = self.clone();
        let mut text = String::from(std::mem::take(&mut name.text));
        text.push_str(part.as_ref());
        name.ends.push(text.len());
        name.text = text.into_boxed_str();
        name
    }

    /// This name with part `idx` replaced (the name unchanged when it has no such part).
    pub fn with_part(&self, idx: usize, part: &str) -> ObjectName {
        let parts = self.parts();
        if idx >= parts.len() {
            return self.clone();
        }
        self.with_parts(
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| if i == idx { part } else { p }),
        )
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
        out.reserve(self.text.len() + 3 * self.ends.len());
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
        if let Some(external) = self.external() {
            out.push_str(external);
            out.push('|');
        }
        for (idx, part) in self.parts().iter().enumerate() {
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
            self.external().map(str::to_lowercase) == other.external().map(str::to_lowercase)
                && self.parts().len() == other.parts().len()
                && self
                    .parts()
                    .iter()
                    .zip(other.parts())
                    .all(|(a, b)| a.to_lowercase() == b.to_lowercase())
        }
    }
}

impl PartialOrd for ObjectName {
    fn partial_cmp(&self, other: &ObjectName) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// External text first (none before any), then the parts in order.
impl Ord for ObjectName {
    fn cmp(&self, other: &ObjectName) -> std::cmp::Ordering {
        self.external()
            .cmp(&other.external())
            .then_with(|| self.parts().iter().cmp(other.parts().iter()))
    }
}

impl fmt::Debug for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectName")
            .field("external", &self.external())
            .field("parts", &self.parts())
            .finish()
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(external) = self.external() {
            write!(f, "{external}|")?;
        }
        for (idx, part) in self.parts().iter().enumerate() {
            if idx > 0 {
                f.write_str(".")?;
            }
            f.write_str("[")?;
            let mut rest = part;
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
        assert_eq!(ObjectName::parse("[a]]b]").unwrap().parts(), vec!["a]b"]);
    }

    #[test]
    fn parts_external_and_equality() {
        let name = ObjectName::parse("[master]|[sys].[objects]").unwrap();
        assert_eq!(name.external(), Some("[master]"));
        assert_eq!(name.parts(), ["sys", "objects"]);
        assert_eq!(name.parts().len(), 2);
        assert_eq!(&name.parts()[1], "objects");
        assert_eq!(
            name.parts().iter().rev().collect::<Vec<_>>(),
            ["objects", "sys"]
        );
        assert_eq!(name.leaf(), "objects");
        assert_eq!(name.first(), "sys");
        assert_ne!(name, ObjectName::new(["sys", "objects"]));
        assert_eq!(
            format!("{name:?}"),
            "ObjectName { external: Some(\"[master]\"), parts: [\"sys\", \"objects\"] }"
        );
        let parent = name.parent().unwrap();
        assert_eq!(parent.to_string(), "[master]|[sys]");
        assert_eq!(parent.child("objects"), name);
        assert_eq!(name.with_part(0, "x").to_string(), "[master]|[x].[objects]");
        // Parsed and built names are equal (and hash alike) whatever way they were made.
        let parsed = ObjectName::parse("[dbo].[T].[C]").unwrap();
        let built = ObjectName::new(["dbo", "T"]).child("C");
        assert_eq!(parsed, built);
        let set: std::collections::HashSet<_> = [parsed.clone()].into_iter().collect();
        assert!(set.contains(&built));
        assert_eq!(ObjectName::default().parts().len(), 0);
        assert_eq!(ObjectName::default().leaf(), "");
        assert_eq!(ObjectName::new(Vec::<String>::new()), ObjectName::default());
    }

    #[test]
    fn long_names_spill() {
        let parts = ["a", "b]", "c", "d", "e", "f"];
        let name = ObjectName::new(parts);
        assert_eq!(name.parts(), parts);
        assert_eq!(name.to_string(), "[a].[b]]].[c].[d].[e].[f]");
        assert_eq!(ObjectName::parse(&name.to_string()).unwrap(), name);
        let four = ObjectName::new(["a", "b]", "c", "d"]);
        assert_eq!(name.parent().unwrap().parent().unwrap(), four);
        assert_eq!(four.child("e").child("f"), name);
        assert_eq!(name.with_part(5, "g").leaf(), "g");
    }

    #[test]
    fn order_is_external_then_parts() {
        let mut names: Vec<ObjectName> = ["[b]", "[a].[c]", "[a]", "[x]|[a]", "[a].[b]"]
            .iter()
            .map(|t| ObjectName::parse(t).unwrap())
            .collect();
        names.sort();
        let texts: Vec<String> = names.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["[a]", "[a].[b]", "[a].[c]", "[b]", "[x]|[a]"]);
    }

    /// The straightforward reading of a name, which [`ObjectName::parse`] must agree with.
    fn parse_slowly(text: &str) -> Option<(Option<String>, Vec<String>)> {
        let (external, mut rest) = match text.find("]|[") {
            Some(pos) => (Some(text[..pos + 1].to_string()), &text[pos + 2..]),
            None => (None, text),
        };
        let mut parts = Vec::new();
        loop {
            rest = rest.strip_prefix('[')?;
            let mut part = String::new();
            loop {
                let close = rest.find(']')?;
                let after = &rest[close + 1..];
                if let Some(more) = after.strip_prefix(']') {
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
                return Some((external, parts));
            }
            rest = rest.strip_prefix('.')?;
        }
    }

    #[test]
    fn parse_agrees_with_the_slow_reading() {
        // Every text of up to seven characters over the name syntax and two letters.
        let alphabet = ['[', ']', '.', '|', 'a', 'é'];
        let mut texts = vec![String::new()];
        let mut checked = 0;
        for _ in 0..7 {
            let mut longer = Vec::new();
            for text in &texts {
                for c in alphabet {
                    let mut t = text.clone();
                    t.push(c);
                    longer.push(t);
                }
            }
            for text in &longer {
                let fast = ObjectName::parse(text)
                    .ok()
                    .map(|n| (n.external().map(str::to_string), n.parts().to_vec()));
                assert_eq!(fast, parse_slowly(text), "{text:?}");
                if let Some((_, parts)) = &fast {
                    assert_eq!(ObjectName::parse(text).unwrap().to_string(), *text);
                    checked += usize::from(!parts.is_empty());
                }
            }
            texts = longer;
        }
        assert!(checked > 100, "{checked}");
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
