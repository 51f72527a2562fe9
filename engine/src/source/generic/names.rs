//! Identifier folding and the names PostgreSQL generates for unnamed constraints and indexes.

use crate::model::Platform;
use sqlparser::ast::{Ident, ObjectNamePart};

/// PostgreSQL's `NAMEDATALEN - 1`: identifiers are truncated to 63 bytes.
const PG_MAX_IDENT: usize = 63;

/// The stored form of an identifier: PostgreSQL folds unquoted identifiers to lower case;
/// SQLite keeps what was written (its names compare case-insensitively).
pub fn fold(platform: Platform, ident: &Ident) -> String {
    if platform == Platform::Postgres && ident.quote_style.is_none() {
        truncate(&ident.value.to_lowercase(), PG_MAX_IDENT)
    } else {
        ident.value.clone()
    }
}

/// The default schema of unqualified names: `main` (SQLite) or `public` (PostgreSQL).
pub fn default_schema(platform: Platform) -> &'static str {
    match platform {
        Platform::Postgres => "public",
        _ => "main",
    }
}

/// Folded parts of a sqlparser object name (function-style parts print as written).
pub fn parts(platform: Platform, name: &sqlparser::ast::ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => fold(platform, ident),
            other => other.to_string(),
        })
        .collect()
}

/// `(schema, name)` of a schema-scoped object; a database part (`db.schema.name`) is dropped.
pub fn schema_and_name(platform: Platform, name: &sqlparser::ast::ObjectName) -> (String, String) {
    let mut p = parts(platform, name);
    let leaf = p.pop().unwrap_or_default();
    let schema = p
        .pop()
        .unwrap_or_else(|| default_schema(platform).to_string());
    (schema, leaf)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// PostgreSQL's `makeObjectName(name1, name2, label)`: `name1_name2_label`, truncating the
/// longer of the two names until the result fits in 63 bytes.
pub fn pg_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead =
        if label.is_empty() { 0 } else { label.len() + 1 } + usize::from(name2.is_some());
    let avail = PG_MAX_IDENT.saturating_sub(overhead);
    let mut n1 = name1.len();
    let mut n2 = name2.map_or(0, str::len);
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let n1 = truncate(name1, n1);
    let mut out = n1;
    if let Some(name2) = name2 {
        out.push('_');
        out.push_str(&truncate(name2, n2));
    }
    if !label.is_empty() {
        out.push('_');
        out.push_str(label);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_unquoted_postgres_identifiers_only() {
        let plain = Ident::new("Users");
        let quoted = Ident::with_quote('"', "Users");
        assert_eq!(fold(Platform::Postgres, &plain), "users");
        assert_eq!(fold(Platform::Postgres, &quoted), "Users");
        assert_eq!(fold(Platform::Sqlite, &plain), "Users");
    }

    #[test]
    fn generated_names_fit_in_63_bytes() {
        assert_eq!(
            pg_object_name("users", Some("email"), "key"),
            "users_email_key"
        );
        assert_eq!(pg_object_name("users", None, "pkey"), "users_pkey");
        let long = "a".repeat(70);
        let name = pg_object_name(&long, Some("col"), "fkey");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_col_fkey"));
    }
}
