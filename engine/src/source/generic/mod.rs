//! SQLite and PostgreSQL DDL source text to model elements, in DacFx's vocabulary.
//!
//! [`parse_batch`] tokenizes a batch with sqlparser, splits it into statements (keeping each
//! statement's original text and position), parses each one and converts it:
//!
//! * **Names.** SQLite objects live in schema `main`, unqualified PostgreSQL names in `public`.
//!   Unquoted PostgreSQL identifiers fold to lower case (and are cut to 63 bytes); quoted ones keep
//!   their case; SQLite keeps names as written (see [`collation_case_sensitive`]).
//!   Tables, views, sequences, types, routines and constraints are `[schema].[name]`; columns
//!   `[schema].[table].[column]`; indexes `[schema].[table].[index]`; PostgreSQL triggers
//!   `[schema].[table].[trigger]` (their names are per table), SQLite triggers `[main].[trigger]`.
//! * **Unnamed constraints.** PostgreSQL gets the name the server would generate (`t_pkey`,
//!   `t_a_b_key`, `t_a_fkey`, `t_a_check` or `t_check`, `t_a_idx` for indexes, numbered on a
//!   clash within the batch). SQLite constraints without `CONSTRAINT name`, and every default,
//!   have no name and a `Disambiguator` numbered within the batch: callers combining batches
//!   call [`finish`], which renumbers them across the whole model.
//! * **Types.** See [`types`]: PostgreSQL types in `format_type()` spelling; SQLite's declared
//!   type upper-cased. `serial` columns become `integer`/`bigint`/`smallint`, NOT NULL, a default
//!   `nextval('<table>_<column>_seq'::regclass)` and a `SqlSequence` `[schema].[<table>_<column>_seq]`
//!   with an `OwnedBy` reference to the column, which is what the catalog shows afterwards.
//! * **Opaque kinds** (compared by their `Definition` script, a normalised rendering of the
//!   statement): `PgEnumType`, `PgCompositeType`, `PgRangeType`, `PgType`, `PgDomain`,
//!   `PgExtension`, `PgPolicy`, `PgRole`, `PgExcludeConstraint`, `PgDoBlock`, `SqliteVirtualTable`,
//!   `PgAlterTable`/`SqliteAlterTable` (ALTER TABLE actions that are not folded into the table),
//!   `PgRevoke`, and `PgStatement`/`SqliteStatement` for any other statement (DML, ...).
//! * **Ignored:** comments, `BEGIN`/`COMMIT`/`ROLLBACK`/`END` transaction control, `SET`, `RESET`,
//!   `PRAGMA`, pg_dump's `SELECT pg_catalog.set_config(...)`, and `ALTER ... OWNER TO` (ownership
//!   is not modelled). `SET search_path` does not change the default schema.
//!
//! Statements that do not parse are [`Error::Sql`] with the original file, line and column.

mod convert;
pub mod names;
pub mod types;

#[cfg(test)]
mod tests;

use std::path::Path;

use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::model::{Element, Platform};
use crate::{Error, Result};

pub use convert::finish;

/// Whether names differing only in case are different objects: true for PostgreSQL (quoted
/// identifiers keep their case), false for SQLite (and SQL Server's default collation).
pub fn collation_case_sensitive(platform: Platform) -> bool {
    platform == Platform::Postgres
}

/// Parses every statement of `sql` (a file or part of one) into top-level model elements.
///
/// `platform` is [`Platform::Sqlite`] or [`Platform::Postgres`]; `file` and `start_line` (the
/// 1-based line of `file` where `sql` begins) place error positions in the original file.
pub fn parse_batch(
    platform: Platform,
    sql: &str,
    file: &Path,
    start_line: u64,
) -> Result<Vec<Element>> {
    let dialect: Box<dyn Dialect> = match platform {
        Platform::Sqlite => Box::new(SQLiteDialect {}),
        Platform::Postgres => Box::new(PostgreSqlDialect {}),
        Platform::SqlServer => {
            return Err(Error::Invalid(
                "generic sources are SQLite or PostgreSQL; SQL Server has its own parser".into(),
            ));
        }
    };
    let pos = Positions::new(sql, file, start_line);
    let tokens = Tokenizer::new(dialect.as_ref(), sql)
        .tokenize_with_location()
        .map_err(|e| pos.error(e.location, &e.message))?;
    let mut ctx = convert::Ctx::new(platform);
    for stmt in split(tokens) {
        let text = pos.slice(&stmt);
        let start = stmt
            .first()
            .map_or(Location { line: 1, column: 1 }, |t| t.span.start);
        handle_statement(&mut ctx, dialect.as_ref(), &pos, stmt, text).map_err(|e| match e {
            StmtError::Parse(message) => pos.parser_error(&message, start),
            StmtError::At(location, message) => pos.error(location, &message),
        })?;
    }
    Ok(ctx.into_elements())
}

/// Why one statement failed.
pub(crate) enum StmtError {
    /// sqlparser's message (with its own `at Line: L, Column: C` suffix, where given).
    Parse(String),
    /// A message at a position.
    At(Location, String),
}

impl From<ParserError> for StmtError {
    fn from(e: ParserError) -> Self {
        StmtError::Parse(e.to_string())
    }
}

/// Maps positions in the batch to the original file.
struct Positions<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
    file: &'a Path,
    start_line: u64,
}

impl<'a> Positions<'a> {
    fn new(sql: &'a str, file: &'a Path, start_line: u64) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        Positions {
            sql,
            line_starts,
            file,
            start_line: start_line.max(1),
        }
    }

    /// Byte offset of a 1-based (line, column-in-characters) location.
    fn offset(&self, loc: Location) -> usize {
        let Some(&line_start) = self.line_starts.get((loc.line.max(1) - 1) as usize) else {
            return self.sql.len();
        };
        let line = &self.sql[line_start..];
        let col = loc.column.max(1) as usize - 1;
        line.char_indices()
            .nth(col)
            .map_or(self.sql.len(), |(i, _)| line_start + i)
    }

    fn slice(&self, stmt: &[TokenWithSpan]) -> &'a str {
        match (stmt.first(), stmt.last()) {
            (Some(first), Some(last)) => {
                let start = self.offset(first.span.start);
                let end = self.offset(last.span.end).max(start);
                &self.sql[start..end]
            }
            _ => "",
        }
    }

    fn error(&self, loc: Location, message: &str) -> Error {
        Error::Sql {
            file: self.file.to_path_buf(),
            line: self.start_line + loc.line.max(1) - 1,
            column: loc.column.max(1),
            message: message.to_string(),
        }
    }

    /// An error from sqlparser's message, positioned by its `at Line: L, Column: C` suffix
    /// (which is relative to the batch) or else at the statement's start.
    fn parser_error(&self, message: &str, fallback: Location) -> Error {
        let message = message
            .strip_prefix("sql parser error: ")
            .unwrap_or(message);
        if let Some(idx) = message.rfind(" at Line: ") {
            let tail = &message[idx + " at Line: ".len()..];
            let mut nums = tail
                .split(", Column: ")
                .map(|n| n.trim().parse::<u64>().ok());
            if let (Some(Some(line)), Some(Some(column))) = (nums.next(), nums.next()) {
                return self.error(Location { line, column }, &message[..idx]);
            }
        }
        self.error(fallback, message)
    }
}

fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

/// Upper-cased unquoted word, if the token is one.
fn word(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

/// Splits tokens into statements at top-level `;`. Inside `CREATE TRIGGER`, `FUNCTION` or
/// `PROCEDURE` statements, `BEGIN ... END` blocks (SQLite trigger bodies, `BEGIN ATOMIC`) keep
/// their semicolons. Leading and trailing whitespace and comments are dropped.
fn split(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut out = Vec::new();
    let mut cur: Vec<TokenWithSpan> = Vec::new();
    let mut words = 0;
    let mut has_body = false;
    let mut depth = 0u32;
    let flush = |cur: &mut Vec<TokenWithSpan>, out: &mut Vec<Vec<TokenWithSpan>>| {
        while cur.last().is_some_and(|t| is_trivia(&t.token)) {
            cur.pop();
        }
        let start = cur.iter().position(|t| !is_trivia(&t.token));
        if let Some(start) = start {
            out.push(cur.split_off(start));
        }
        cur.clear();
    };
    for tok in tokens {
        if tok.token == Token::SemiColon && depth == 0 {
            flush(&mut cur, &mut out);
            words = 0;
            has_body = false;
            continue;
        }
        if let Some(w) = word(&tok.token) {
            if words < 6 && matches!(w.as_str(), "TRIGGER" | "FUNCTION" | "PROCEDURE") {
                has_body = true;
            }
            words += 1;
            if has_body {
                match w.as_str() {
                    "BEGIN" => depth += 1,
                    "CASE" if depth > 0 => depth += 1,
                    "END" if depth > 0 => depth -= 1,
                    _ => {}
                }
            }
        }
        cur.push(tok);
    }
    flush(&mut cur, &mut out);
    out
}

/// Whether a statement is transaction control, a setting or a pragma: ignored in sources.
fn is_ignored(words: &[String], tokens: &[TokenWithSpan]) -> bool {
    let first = words.first().map(String::as_str).unwrap_or("");
    let second = words.get(1).map(String::as_str).unwrap_or("");
    match first {
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => {
            // `BEGIN`, `BEGIN TRANSACTION`, `END`, `COMMIT WORK`...: only control words follow.
            words.iter().skip(1).all(|w| {
                matches!(
                    w.as_str(),
                    "TRANSACTION"
                        | "WORK"
                        | "DEFERRED"
                        | "IMMEDIATE"
                        | "EXCLUSIVE"
                        | "AND"
                        | "NO"
                        | "CHAIN"
                        | "ISOLATION"
                        | "LEVEL"
                        | "READ"
                        | "COMMITTED"
                        | "SERIALIZABLE"
                        | "REPEATABLE"
                        | "ONLY"
                        | "WRITE"
                        | "TO"
                        | "SAVEPOINT"
                )
            }) || matches!(first, "SAVEPOINT" | "RELEASE")
        }
        "START" => second == "TRANSACTION",
        "SET" | "RESET" | "PRAGMA" => true,
        "SELECT" => tokens.iter().any(|t| match &t.token {
            Token::Word(w) => w.value.eq_ignore_ascii_case("set_config"),
            _ => false,
        }),
        _ => false,
    }
}

fn handle_statement(
    ctx: &mut convert::Ctx,
    dialect: &dyn Dialect,
    pos: &Positions,
    mut tokens: Vec<TokenWithSpan>,
    text: &str,
) -> std::result::Result<(), StmtError> {
    let words: Vec<String> = tokens
        .iter()
        .filter(|t| !is_trivia(&t.token))
        .take(8)
        .map(|t| word(&t.token).unwrap_or_default())
        .collect();
    if is_ignored(&words, &tokens) {
        return Ok(());
    }
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let platform = ctx.platform;
    // Known sqlparser gaps, handled before parsing.
    if platform == Platform::Postgres && w(0) == "DO" {
        ctx.opaque("PgDoBlock", None, text.to_string());
        return Ok(());
    }
    let create_skip = |kw: &[&str]| -> usize {
        // index after CREATE [OR REPLACE] [TEMP|TEMPORARY|UNLOGGED]
        let mut i = 1;
        if w(i) == "OR" && w(i + 1) == "REPLACE" {
            i += 2;
        }
        while kw.contains(&w(i)) {
            i += 1;
        }
        i
    };
    if w(0) == "CREATE" {
        let i = create_skip(&["TEMP", "TEMPORARY", "UNLOGGED"]);
        if w(i) == "SEQUENCE" && platform == Platform::Postgres {
            return convert::sequence(ctx, dialect, tokens);
        }
        if w(i) == "TRIGGER" && w(i + 1) == "IF" {
            blank_words(&mut tokens, &["IF", "NOT", "EXISTS"], 3);
        }
        if w(i) == "MATERIALIZED" && w(i + 1) == "VIEW" {
            let with_data = strip_with_data(&mut tokens);
            return parse_and_convert(ctx, dialect, pos, tokens, text, with_data);
        }
    }
    parse_and_convert(ctx, dialect, pos, tokens, text, None)
}

/// Parses one statement's tokens and converts it; trailing tokens are an error.
fn parse_and_convert(
    ctx: &mut convert::Ctx,
    dialect: &dyn Dialect,
    _pos: &Positions,
    tokens: Vec<TokenWithSpan>,
    text: &str,
    with_data: Option<bool>,
) -> std::result::Result<(), StmtError> {
    let mut parser = Parser::new(dialect).with_tokens_with_locations(tokens);
    let statement = parser.parse_statement()?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(StmtError::At(
            next.span.start,
            format!("expected end of statement, found: {}", next.token),
        ));
    }
    ctx.statement(statement, text, with_data)
}

/// Blanks the first run of the given words (after the first `after` words are seen) so that
/// `CREATE TRIGGER IF NOT EXISTS` parses as `CREATE TRIGGER`.
fn blank_words(tokens: &mut [TokenWithSpan], run: &[&str], max: usize) {
    let mut matched = 0;
    for tok in tokens.iter_mut() {
        if matched >= max {
            break;
        }
        if let Some(w) = word(&tok.token)
            && w == run[matched]
        {
            tok.token = Token::Whitespace(Whitespace::Space);
            matched += 1;
        }
    }
}

/// Removes a trailing `WITH [NO] DATA` (materialized views); returns whether data is loaded.
fn strip_with_data(tokens: &mut Vec<TokenWithSpan>) -> Option<bool> {
    let idx: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !is_trivia(&t.token))
        .map(|(i, _)| i)
        .collect();
    let n = idx.len();
    let at = |k: usize| word(&tokens[idx[k]].token).unwrap_or_default();
    if n >= 3 && at(n - 1) == "DATA" && at(n - 2) == "NO" && at(n - 3) == "WITH" {
        tokens.truncate(idx[n - 3]);
        return Some(false);
    }
    if n >= 2 && at(n - 1) == "DATA" && at(n - 2) == "WITH" {
        tokens.truncate(idx[n - 2]);
        return Some(true);
    }
    None
}
