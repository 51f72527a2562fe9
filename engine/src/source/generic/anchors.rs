//! Where the named definitions of one SQLite or PostgreSQL statement start, for rename
//! annotations (`-- @renamed from=OLD`, [`crate::source::renamed`]): the object a `CREATE`
//! names, and inside `CREATE TABLE (...)` each column and each `CONSTRAINT name`. The names
//! are the elements the statement made, so they are the model's (schema, case folding).

use sqlparser::tokenizer::{Token, TokenWithSpan, Word};

use super::{is_trivia, word};
use crate::model::{Element, Platform, kind};
use crate::source::renamed::Anchor;

/// Words between `CREATE` and the kind of object.
const MODIFIERS: &[&str] = &[
    "OR",
    "REPLACE",
    "TEMP",
    "TEMPORARY",
    "UNLOGGED",
    "UNIQUE",
    "MATERIALIZED",
    "VIRTUAL",
    "GLOBAL",
    "LOCAL",
    "RECURSIVE",
];

/// Words between the kind of object and its name.
const BEFORE_NAME: &[&str] = &["IF", "NOT", "EXISTS", "CONCURRENTLY", "ONLY"];

/// Words that start a table constraint without a name.
const UNNAMED_CONSTRAINT: &[&str] = &["PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE"];

/// The anchors of one statement whose conversion made `made` (top-level elements).
pub(super) fn of_statement(
    platform: Platform,
    tokens: &[TokenWithSpan],
    made: &[Element],
) -> Vec<Anchor> {
    let significant: Vec<&TokenWithSpan> = tokens.iter().filter(|t| !is_trivia(&t.token)).collect();
    let mut out = Vec::new();
    let word_at = |i: usize| significant.get(i).and_then(|t| word(&t.token));
    if word_at(0).as_deref() != Some("CREATE") {
        return out;
    }
    let mut i = 1;
    while word_at(i).is_some_and(|w| MODIFIERS.contains(&w.as_str())) {
        i += 1;
    }
    let Some(object) = word_at(i) else {
        return out;
    };
    i += 1;
    while word_at(i).is_some_and(|w| BEFORE_NAME.contains(&w.as_str())) {
        i += 1;
    }
    // The name: `a`, or `schema . a`; its last part is what the element's leaf is.
    let name_at = i;
    let mut leaf_at = i;
    while matches!(
        significant.get(leaf_at + 1).map(|t| &t.token),
        Some(Token::Period)
    ) {
        leaf_at += 2;
    }
    let Some(Token::Word(leaf)) = significant.get(leaf_at).map(|t| &t.token) else {
        return out;
    };
    let wanted = match object.as_str() {
        "TABLE" => Some(kind::TABLE),
        "INDEX" => Some(kind::INDEX),
        _ => None,
    };
    let Some(element) = made
        .iter()
        .find(|e| wanted.is_none_or(|k| e.kind == k) && same(platform, leaf, leaf_of(e)))
    else {
        return out;
    };
    out.push(anchor(significant[name_at], element));
    if object != "TABLE" || significant.get(leaf_at + 1).map(|t| &t.token) != Some(&Token::LParen) {
        return out;
    }
    // The table's items: each starts after `(` or a `,` at depth 1.
    let mut depth = 0u32;
    let mut item_start = true;
    for (n, t) in significant.iter().enumerate().skip(leaf_at + 1) {
        match t.token {
            Token::LParen => {
                depth += 1;
                if depth == 1 {
                    item_start = true;
                    continue;
                }
            }
            Token::RParen => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            Token::Comma if depth == 1 => {
                item_start = true;
                continue;
            }
            _ => {}
        }
        if !item_start || depth != 1 {
            continue;
        }
        item_start = false;
        let Token::Word(first) = &t.token else {
            continue;
        };
        let upper = (first.quote_style.is_none()).then(|| first.value.to_ascii_uppercase());
        if upper.as_deref() == Some("CONSTRAINT") {
            let Some(Token::Word(name)) = significant.get(n + 1).map(|t| &t.token) else {
                continue;
            };
            if let Some(constraint) = made
                .iter()
                .find(|e| e.kind != kind::TABLE && same(platform, name, leaf_of(e)))
            {
                out.push(anchor(t, constraint));
            }
        } else if upper
            .as_deref()
            .is_some_and(|w| UNNAMED_CONSTRAINT.contains(&w))
        {
            continue;
        } else if let Some(column) = element
            .children(kind::rel::COLUMNS)
            .find(|c| same(platform, first, leaf_of(c)))
        {
            out.push(anchor(t, column));
        }
    }
    out
}

fn leaf_of(element: &Element) -> &str {
    element.name.as_ref().map_or("", |n| n.leaf())
}

/// Whether an identifier as written names `leaf`: quoted ones exactly; unquoted ones folded to
/// lower case on PostgreSQL, case-insensitively on SQLite.
fn same(platform: Platform, written: &Word, leaf: &str) -> bool {
    if written.quote_style.is_some() {
        return written.value == leaf;
    }
    match platform {
        Platform::Postgres => written.value.to_lowercase() == leaf,
        _ => written.value.eq_ignore_ascii_case(leaf),
    }
}

fn anchor(at: &TokenWithSpan, element: &Element) -> Anchor {
    Anchor {
        line: at.span.start.line,
        column: at.span.start.column,
        kind: element.kind.to_string(),
        name: element.name_or_empty(),
    }
}
