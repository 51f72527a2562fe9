//! sqldef's rename annotation, `-- @renamed from=OLD` (or `/* @renamed from=OLD */`), on the
//! line where a table, column, constraint or index is defined: a `Rename Refactor` operation
//! of the package's refactor log, for every platform's builder.
//!
//! A builder records where each named definition starts (an [`Anchor`]); a comment renames the
//! last definition that starts before it on its line.

use sqlparser::dialect::Dialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::model::ObjectName;
use crate::model::kind;
use crate::model::refactor::RefactorOperation;

/// Where a named definition starts in a batch (1-based line and column).
#[derive(Debug, Clone)]
pub(crate) struct Anchor {
    pub line: u64,
    pub column: u64,
    /// The DacFx type of the definition.
    pub kind: String,
    /// Its name in the model.
    pub name: ObjectName,
}

/// A rename annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenameComment {
    /// 1-based line and column of the comment in the batch.
    pub line: u64,
    pub column: u64,
    /// The old name's parts as written, quotes removed, each with whether it was quoted.
    pub from: Vec<(String, bool)>,
}

impl RenameComment {
    /// The old name, parts joined with `.`; with `fold`, unquoted parts lower-cased (as
    /// PostgreSQL folds unquoted identifiers).
    pub fn from(&self, fold: bool) -> String {
        self.from
            .iter()
            .map(|(part, quoted)| {
                if fold && !quoted {
                    part.to_lowercase()
                } else {
                    part.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// The rename annotations of `text`, tokenized as `dialect` reads it, in text order (none when
/// the text cannot be tokenized: the builder reports that error itself).
pub(crate) fn rename_comments(text: &str, dialect: &dyn Dialect) -> Vec<RenameComment> {
    if !text.contains("@renamed") {
        return Vec::new();
    }
    let Ok(tokens) = Tokenizer::new(dialect, text).tokenize_with_location() else {
        return Vec::new();
    };
    tokens
        .into_iter()
        .filter_map(|t| {
            let text = match &t.token {
                Token::Whitespace(Whitespace::SingleLineComment { comment, .. }) => comment,
                Token::Whitespace(Whitespace::MultiLineComment(comment)) => comment,
                _ => return None,
            };
            Some(RenameComment {
                line: t.span.start.line,
                column: t.span.start.column,
                from: parse_renamed(text)?,
            })
        })
        .collect()
}

/// The operations the comments declare: each renames the last anchor that starts before it on
/// its line; `fold` as in [`RenameComment::from`].
pub(crate) fn operations(
    anchors: &[Anchor],
    comments: &[RenameComment],
    fold: bool,
) -> Vec<RefactorOperation> {
    comments
        .iter()
        .filter_map(|comment| {
            let anchor = anchors
                .iter()
                .filter(|a| a.line == comment.line && a.column < comment.column)
                .max_by_key(|a| a.column)?;
            Some(rename_operation(
                &anchor.kind,
                &anchor.name,
                &comment.from(fold),
            ))
        })
        .collect()
}

/// Adds `operations` to the refactor log (made when there is none), each key once.
pub(crate) fn add_to_log(
    log: &mut Option<crate::model::refactor::RefactorLog>,
    operations: &[RefactorOperation],
) {
    if operations.is_empty() {
        return;
    }
    let log = log.get_or_insert_with(|| crate::model::refactor::RefactorLog {
        version: "1.0".into(),
        operations: Vec::new(),
    });
    for operation in operations {
        if !log.operations.iter().any(|o| o.key == operation.key) {
            log.operations.push(operation.clone());
        }
    }
}

/// `@renamed from=OLD` in a comment's text: OLD's parts without quotes or brackets.
fn parse_renamed(comment: &str) -> Option<Vec<(String, bool)>> {
    let rest = &comment[comment.find("@renamed")? + "@renamed".len()..];
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("from")?.trim_start().strip_prefix('=')?;
    let value: String = rest
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '*')
        .collect();
    let quote = |c: char| matches!(c, '"' | '\'' | '[' | ']' | '`');
    let parts: Vec<(String, bool)> = value
        .split('.')
        .map(|p| (p.trim_matches(quote).to_string(), p.starts_with(quote)))
        .collect();
    if parts.iter().any(|(p, _)| p.is_empty()) {
        return None;
    }
    Some(parts)
}

/// A `Rename Refactor` operation for `name` (of DacFx type `kind`) whose old name is `from`: a
/// leaf, or a schema-qualified name for schema-scoped objects. The key is a GUID derived from
/// the names, so building the same source twice gives the same log.
pub(crate) fn rename_operation(kind: &str, name: &ObjectName, from: &str) -> RefactorOperation {
    let from_parts: Vec<&str> = from.split('.').collect();
    let mut old = name.clone();
    let n = old.parts().len();
    let m = from_parts.len().min(n);
    for (i, part) in from_parts[from_parts.len() - m..].iter().enumerate() {
        old = old.with_part(n - m + i, part);
    }
    let mut properties = vec![
        ("ElementName".to_string(), old.to_string()),
        ("ElementType".to_string(), kind.to_string()),
    ];
    if matches!(
        kind,
        kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN | kind::INDEX
    ) && let Some(parent) = old.parent()
    {
        properties.push(("ParentElementName".to_string(), parent.to_string()));
        properties.push(("ParentElementType".to_string(), kind::TABLE.to_string()));
    }
    let new_leaf = ObjectName::new([name.leaf()]).to_string();
    properties.push(("NewName".to_string(), new_leaf.clone()));
    RefactorOperation {
        name: "Rename Refactor".to_string(),
        key: guid_from(&format!("{kind}|{old}|{new_leaf}")),
        change_date_time: None,
        properties,
    }
}

/// A GUID-shaped key (version 5 layout) from the SHA-256 of `text`.
fn guid_from(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MsSqlDialect;

    #[test]
    fn finds_rename_annotations_in_both_comment_forms() {
        let found = rename_comments(
            "CREATE TABLE t ( -- @renamed from=\"old_t\"\n  a int, -- @renamed from=[b]\n  c int /* @renamed from=dbo.D */\n) -- a plain comment",
            &MsSqlDialect {},
        );
        let got: Vec<(u64, String)> = found.iter().map(|r| (r.line, r.from(true))).collect();
        assert_eq!(
            got,
            vec![(1, "old_t".into()), (2, "b".into()), (3, "dbo.d".into())]
        );
        assert_eq!(found[0].from(false), "old_t");
        assert_eq!(found[2].from(false), "dbo.D");
        assert_eq!(parse_renamed(" @renamed"), None);
        assert_eq!(parse_renamed(" @renamed from="), None);
    }
}
