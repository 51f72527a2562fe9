//! PostgreSQL partitioning text in one spelling: a partition key (`RANGE (a, b)`) and a
//! partition bound (`FOR VALUES FROM ('2024-01-01') TO (MAXVALUE)`) as written in a source and
//! as `pg_get_partkeydef` / `pg_get_expr(relpartbound)` print them compare equal.
//!
//! Keywords are upper case, unquoted identifiers folded to lower case, a quoted number is the
//! number (`'0'` is `0`: the server quotes `bigint` constants), and spacing is fixed: a space
//! after a comma, between words (and after a closing parenthesis), and between a keyword and its parenthesis
//! (`RANGE (`, `IN (`, `FROM (`). The values of other literals are kept as written: a
//! `timestamptz` bound is compared in the server's spelling (`'2024-06-01 00:00:00+00'`).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

const KEYWORDS: &[&str] = &[
    "FOR",
    "VALUES",
    "FROM",
    "TO",
    "IN",
    "WITH",
    "DEFAULT",
    "MINVALUE",
    "MAXVALUE",
    "MODULUS",
    "REMAINDER",
    "RANGE",
    "LIST",
    "HASH",
    "COLLATE",
    "NULL",
    "TRUE",
    "FALSE",
];

/// The canonical spelling of a partition key or bound.
pub fn canonical(text: &str) -> String {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, text).tokenize() else {
        return text.trim().to_string();
    };
    let mut out = String::new();
    // Whether the previous significant token was a word, and whether a keyword.
    let mut prev_word = false;
    let mut prev_keyword = false;
    for token in tokens {
        let (piece, is_word, is_keyword) = match &token {
            Token::Whitespace(_) => continue,
            Token::Word(w) if w.quote_style.is_none() => {
                let upper = w.value.to_ascii_uppercase();
                if KEYWORDS.contains(&upper.as_str()) {
                    (upper, true, true)
                } else {
                    (w.value.to_lowercase(), true, false)
                }
            }
            Token::SingleQuotedString(s)
                if !s.is_empty() && s.parse::<f64>().is_ok() && !s.contains(['e', 'E']) =>
            {
                (s.clone(), true, false)
            }
            other => {
                let s = other.to_string();
                let wordlike = matches!(
                    other,
                    Token::Word(_) | Token::Number(..) | Token::SingleQuotedString(_)
                );
                (s, wordlike, false)
            }
        };
        let space =
            (is_word && (prev_word || out.ends_with(')'))) || (piece == "(" && prev_keyword);
        if space || out.ends_with(',') {
            out.push(' ');
        }
        out.push_str(&piece);
        prev_word = is_word;
        prev_keyword = is_keyword;
    }
    out
}
