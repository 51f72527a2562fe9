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
//!   `PgRevoke`, `PgGrant` (grants on objects other than tables, views, sequences, schemas),
//!   `PgCollation`, `PgTableAs`/`SqliteTableAs` (`CREATE TABLE ... AS`/`LIKE`), and
//!   `PgStatement`/`SqliteStatement` for any other statement sqlparser parses (SQLite DML, ...). Recognisable PostgreSQL
//!   DDL that sqlparser 0.63 cannot parse (`COMMENT ON CONSTRAINT/TRIGGER/FUNCTION`, domains with
//!   `NOT NULL`, `CREATE AGGREGATE/CAST/RULE/EVENT TRIGGER/...`, `ALTER DOMAIN`, `ALTER DEFAULT
//!   PRIVILEGES`) becomes `PgComment`, `PgDomain`, `PgAggregate`... with the token text.
//! * **Sources that differ from DacFx:** PostgreSQL types carry `ArrayDimensions`; identity
//!   columns `IsIdentity` + `IdentityGeneration` (`Always`/`ByDefault`), SQLite `AUTOINCREMENT`
//!   `IsIdentity`; views `IsMaterialized`; functions a `DefinitionScript` (whole normalised
//!   statement), `Arguments` (signature) and a `FunctionBody` whose `BodyScript` is the body
//!   text; triggers `BodyScript` = the whole normalised statement.
//! * **Ignored:** comments, `BEGIN`/`COMMIT`/`ROLLBACK`/`END` transaction control, `SET`, `RESET`,
//!   `PRAGMA`, pg_dump's other `SELECT pg_catalog.set_config(...)`, and `ALTER ... OWNER TO`
//!   (ownership is not modelled).
//! * **PostgreSQL's own formats** (`pg_dump -s`, data dumps, Rails `structure.sql`):
//!   - `SET search_path` and `set_config('search_path', ...)` are honoured: unqualified names go
//!     to the first schema of the path other than `$user` (`public` for the default path); after
//!     an empty path (pg_dump's `set_config('search_path', '', false)`) an unqualified name is an
//!     error, as the server refuses to create it.
//!   - `ALTER SEQUENCE ... OWNED BY`/options and `ALTER TABLE [IF EXISTS] [ONLY] ...` fold into
//!     the sequence or table; `ALTER TABLE/INDEX ... SET STATISTICS` becomes the column's
//!     `StatisticsTarget` or the index's `StatisticsTargets`.
//!   - The `--clean` prelude is applied in order: `DROP ...`, `DROP CONSTRAINT`, `DROP DEFAULT`
//!     remove what the file made before them; with `IF EXISTS`, dropping what is not there is a
//!     note; without it, an error (the server refuses it too).
//!   - psql meta-commands: `\restrict`, `\unrestrict`, `\echo`, `\set`... are notes; any other
//!     (`\i`, `\ir`, `\connect`, `\copy`...) is an error. `COPY ... FROM stdin` data is read up
//!     to `\.`.
//!   - Seed data (`INSERT`, `COPY ... FROM stdin`, `SELECT setval(...)`) is kept in order as
//!     [`Parsed::seed`], the start of the package's post-deployment script, re-runnable:
//!     inserts get `ON CONFLICT DO NOTHING`, `setval` runs only on an unused sequence. Other data
//!     changes (`UPDATE`, `DELETE`, other `SELECT`s...) are errors.
//!
//! Statements that do not parse are [`Error::Sql`] with the original file, line and column.

mod anchors;
mod convert;
pub mod names;
pub mod partition;
mod psql;
pub mod types;

#[cfg(test)]
mod tests;

use std::path::Path;

use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::model::{Element, Platform};
use crate::source::blanks::{self, Quoting};
use crate::{Error, Result};

pub use convert::finish;

/// Whether names differing only in case are different objects: true for PostgreSQL (quoted
/// identifiers keep their case), false for SQLite (and SQL Server's default collation).
pub fn collation_case_sensitive(platform: Platform) -> bool {
    platform == Platform::Postgres
}

/// The model `source::build` makes of a SQLite or PostgreSQL folder whose statements parsed into
/// `elements`: unnamed elements numbered across the whole model ([`finish`]), our DSP, the
/// platform's name-case rule, elements in DacFx order. Live-database inspection uses it too, so
/// both producers give one shape.
pub fn into_model(platform: Platform, mut elements: Vec<Element>) -> crate::model::Model {
    use crate::model::{Dsp, Model, POSTGRES_DSP, SQLITE_DSP};
    finish(platform, &mut elements);
    let dsp = Dsp::from_full_name(if platform == Platform::Postgres {
        POSTGRES_DSP
    } else {
        SQLITE_DSP
    });
    let mut model = Model::empty(dsp);
    model.collation_case_sensitive = collation_case_sensitive(platform);
    model.elements = elements;
    model.sort_elements();
    model
}

/// Parses every statement of `sql` (a file or part of one) into top-level model elements.
///
/// `platform` is [`Platform::Sqlite`] or [`Platform::Postgres`]; `file` and `start_line` (the
/// 1-based line of `file` where `sql` begins) place error positions in the original file.
/// For callers with no post-deployment script: seed data ([`Parsed::seed`]) is an error here;
/// notes are dropped (use [`parse_source`] to show them).
pub fn parse_batch(
    platform: Platform,
    sql: &str,
    file: &Path,
    start_line: u64,
) -> Result<Vec<Element>> {
    let parsed = parse_source(platform, sql, file, start_line)?;
    if let Some(first) = parsed.seed.first() {
        return Err(Error::Sql {
            file: file.to_path_buf(),
            line: first.line,
            column: first.column,
            message: "data statement where only DDL is expected".into(),
        });
    }
    Ok(parsed.elements)
}

/// What one source batch holds.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Top-level model elements.
    pub elements: Vec<Element>,
    /// Seed data (PostgreSQL `INSERT`, `COPY ... FROM stdin`, `setval`) for the post-deployment
    /// script, in source order.
    pub seed: Vec<SeedStatement>,
    /// What was read but changes nothing, as `file:line:col: message` (psql meta-commands such
    /// as `\restrict`, `DROP ... IF EXISTS` of what is not there): warnings for the user.
    pub notes: Vec<String>,
    /// Renames declared with `-- @renamed from=OLD`, as refactor-log operations.
    pub refactor_operations: Vec<crate::model::refactor::RefactorOperation>,
}

/// A data statement kept for the post-deployment script.
#[derive(Debug, Clone)]
pub struct SeedStatement {
    /// The statement as it runs (re-runnable: `ON CONFLICT DO NOTHING`, `setval` only on an
    /// unused sequence).
    pub sql: String,
    /// The table it fills, which must have a primary key or unique constraint or index.
    pub table: Option<crate::model::ObjectName>,
    /// The file it was written in.
    pub file: std::path::PathBuf,
    /// Its line in the file, 1-based.
    pub line: u64,
    /// Its column, 1-based.
    pub column: u64,
}

/// [`parse_batch`] with seed data and notes.
pub fn parse_source(platform: Platform, sql: &str, file: &Path, start_line: u64) -> Result<Parsed> {
    let dialect: Box<dyn Dialect> = match platform {
        Platform::Sqlite => Box::new(SQLiteDialect {}),
        Platform::Postgres => Box::new(PostgreSqlDialect {}),
        Platform::SqlServer => {
            return Err(Error::Invalid(
                "generic sources are SQLite or PostgreSQL; SQL Server has its own parser".into(),
            ));
        }
    };
    let pos0 = Positions::new(sql, file, start_line);
    let mut notes = Vec::new();
    let scanned = if platform == Platform::Postgres {
        let scanned = psql::scan(sql)
            .map_err(|(line, column, m)| pos0.error(Location { line, column }, &m))?;
        for m in &scanned.meta {
            let at = Location {
                line: m.line,
                column: m.column,
            };
            if psql::meta_is_harmless(&m.text) {
                let e = pos0.error(at, "");
                if let Error::Sql {
                    file, line, column, ..
                } = e
                {
                    notes.push(format!(
                        "{}:{line}:{column}: skipped psql meta-command `{}` (it does not change the schema)",
                        file.display(),
                        m.text
                    ));
                }
            } else {
                return Err(pos0.error(
                    at,
                    &format!(
                        "psql meta-command `{}` is not supported in a source: dac reads SQL, and this command would change what the file creates",
                        m.text
                    ),
                ));
            }
        }
        Some(scanned)
    } else {
        None
    };
    let text_owned;
    let sql = match &scanned {
        Some(s) => {
            text_owned = s.sql.clone();
            text_owned.as_str()
        }
        None => sql,
    };
    let pos = Positions::new(sql, file, start_line);
    let quoting = if platform == Platform::Postgres {
        Quoting::POSTGRES
    } else {
        Quoting::SQLITE
    };
    let tokens = blanks::tokenize(sql, quoting, |piece| {
        Tokenizer::new(dialect.as_ref(), piece).tokenize_with_location()
    })
    .map_err(|e| pos.error(e.location, &e.message))?;
    let mut ctx = convert::Ctx::new(platform);
    ctx.line_offset = pos.start_line - 1;
    let copy_data = scanned.map(|s| s.copy_data).unwrap_or_default();
    let annotated = sql.contains("@renamed");
    let mut anchors = Vec::new();
    for stmt in split(tokens) {
        let text = pos.slice(&stmt);
        let start = stmt
            .first()
            .map_or(Location { line: 1, column: 1 }, |t| t.span.start);
        let end_line = stmt.last().map_or(1, |t| t.span.end.line);
        ctx.stmt_start = start;
        ctx.copy_rows = copy_data
            .range(end_line..)
            .next()
            .map(|(_, rows)| rows.clone());
        let before = ctx.notes.len();
        let made_before = ctx.element_count();
        let rename_tokens = annotated.then(|| stmt.clone());
        handle_statement(&mut ctx, dialect.as_ref(), &pos, stmt, text).map_err(|e| match e {
            StmtError::Parse(message) => pos.parser_error(&message, start),
            StmtError::At(location, message) => pos.error(location, &message),
        })?;
        if let Some(name) = ctx.unqualified.take() {
            return Err(pos.error(
                start,
                &format!(
                    "unqualified name {name} while the search path is empty (set_config('search_path', '', false)): qualify it with its schema"
                ),
            ));
        }
        if let Some(tokens) = &rename_tokens {
            anchors.extend(anchors::of_statement(
                platform,
                tokens,
                ctx.elements_since(made_before),
            ));
        }
        // Notes of this statement, placed.
        let placed: Vec<String> = ctx.notes.drain(before..).collect();
        for note in placed {
            if let Error::Sql {
                file, line, column, ..
            } = pos.error(start, "")
            {
                ctx.notes
                    .push(format!("{}:{line}:{column}: {note}", file.display()));
            }
        }
    }
    let comments = crate::source::renamed::rename_comments(sql, dialect.as_ref());
    let refactor_operations =
        crate::source::renamed::operations(&anchors, &comments, platform == Platform::Postgres);
    let (elements, seed, more_notes) = ctx.into_parts();
    notes.extend(more_notes);
    let seed = seed
        .into_iter()
        .map(|s| {
            let (line, column) = match pos.error(
                Location {
                    line: s.at.0,
                    column: s.at.1,
                },
                "",
            ) {
                Error::Sql { line, column, .. } => (line, column),
                _ => (s.at.0, s.at.1),
            };
            SeedStatement {
                sql: s.sql,
                table: s.table,
                file: file.to_path_buf(),
                line,
                column,
            }
        })
        .collect();
    Ok(Parsed {
        elements,
        seed,
        notes,
        refactor_operations,
    })
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
        // `ALTER FUNCTION/OPERATOR/TYPE/... name OWNER TO role`: ownership is not modelled.
        // For these kinds it is the statement's only action; tables and sequences, whose
        // statements take several, have their own readers.
        "ALTER" if !matches!(second, "TABLE" | "SEQUENCE" | "FOREIGN") => {
            let tail: Vec<&Token> = tokens
                .iter()
                .rev()
                .map(|t| &t.token)
                .filter(|t| !is_trivia(t) && **t != Token::SemiColon)
                .take(3)
                .collect();
            tail.len() == 3
                && matches!(tail[0], Token::Word(_))
                && word(tail[1]).as_deref() == Some("TO")
                && word(tail[2]).as_deref() == Some("OWNER")
        }
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
    if ctx.platform == Platform::Postgres
        && let Some(path) = psql::search_path(&words, &tokens)
    {
        ctx.search_path = path;
        return Ok(());
    }
    if is_ignored(&words, &tokens) {
        return Ok(());
    }
    ctx.pending_attributes = None;
    ctx.pending_table_options = None;
    ctx.pending_constraint_conflicts = Vec::new();
    ctx.pending_trigger_args = None;
    ctx.pending_procedure = false;
    ctx.pending_atomic = None;
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let platform = ctx.platform;
    // Known sqlparser gaps, handled before parsing.
    if platform == Platform::Postgres && w(0) == "COPY" {
        return copy_statement(ctx, dialect, tokens);
    }
    if platform == Platform::Postgres
        && w(0) == "ALTER"
        && matches!(w(1), "TABLE" | "INDEX")
        && tokens
            .iter()
            .any(|t| word(&t.token).as_deref() == Some("STATISTICS"))
    {
        return column_statistics(ctx, dialect, tokens);
    }
    let has_word = |tokens: &[TokenWithSpan], w: &str| {
        tokens.iter().any(|t| word(&t.token).as_deref() == Some(w))
    };
    if platform == Platform::Postgres
        && w(0) == "ALTER"
        && matches!(w(1), "TABLE" | "INDEX")
        && has_word(&tokens, "ATTACH")
        && has_word(&tokens, "PARTITION")
    {
        return if w(1) == "TABLE" {
            convert::attach_partition(ctx, dialect, tokens)
        } else {
            convert::attach_index(ctx, dialect, tokens)
        };
    }
    if platform == Platform::Postgres
        && w(0) == "ALTER"
        && w(1) == "TABLE"
        && has_word(&tokens, "DETACH")
        && has_word(&tokens, "PARTITION")
    {
        let at = tokens
            .first()
            .map(|t| t.span.start)
            .unwrap_or(Location::of(1, 1));
        return Err(StmtError::At(
            at,
            "ALTER TABLE ... DETACH PARTITION is not supported in a source: write the tables as they should be".into(),
        ));
    }
    if platform == Platform::Postgres && w(0) == "ALTER" && w(1) == "SEQUENCE" {
        return convert::alter_sequence(ctx, dialect, tokens);
    }
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
    if platform == Platform::Postgres {
        reorder_identity_options(&mut tokens);
    }
    if w(0) == "CREATE" {
        let i = create_skip(&["TEMP", "TEMPORARY", "UNLOGGED"]);
        if w(i) == "EXTENSION" {
            insert_extension_with(&mut tokens);
        }
        if matches!(w(i), "FUNCTION" | "PROCEDURE") && platform == Platform::Postgres {
            ctx.pending_attributes = strip_function_attributes(&mut tokens);
        }
        if matches!(w(i), "FUNCTION" | "PROCEDURE") && platform == Platform::Postgres {
            atomic_body(ctx, &mut tokens);
        }
        if w(i) == "PROCEDURE" && platform == Platform::Postgres {
            // Read as a function: sqlparser 0.63 takes procedures only with BEGIN ... END.
            let at = significant(&tokens)[i];
            tokens[at].token = Token::make_keyword("FUNCTION");
            ctx.pending_procedure = true;
        }
        if w(i) == "TABLE" && platform == Platform::Sqlite {
            sqlite_string_identifiers(&mut tokens);
            ctx.pending_table_options = strip_sqlite_table_options(&mut tokens);
            ctx.pending_constraint_conflicts = strip_sqlite_constraint_conflicts(&mut tokens);
        }
        if w(i) == "SEQUENCE" && platform == Platform::Postgres {
            return convert::sequence(ctx, dialect, tokens);
        }
        if platform == Platform::Postgres && words.iter().take(5).any(|w| w == "TRIGGER") {
            ctx.pending_trigger_args = strip_trigger_arguments(&mut tokens);
        }
        if platform == Platform::Postgres && matches!(w(i), "INDEX" | "UNIQUE") {
            strip_on_only(&mut tokens);
        }
        if w(i) == "TRIGGER" && w(i + 1) == "IF" {
            blank_words(&mut tokens, &["IF", "NOT", "EXISTS"], 3);
        }
        if w(i) == "MATERIALIZED" && w(i + 1) == "VIEW" {
            let with_data = strip_with_data(&mut tokens);
            return parse_and_convert(ctx, dialect, pos, tokens, text, with_data);
        }
    }
    let fallback = fallback_kind(platform, &words);
    let name_tokens = fallback.as_ref().map(|_| tokens.clone());
    match parse_and_convert(ctx, dialect, pos, tokens, text, None) {
        Err(StmtError::Parse(_) | StmtError::At(..)) if fallback.is_some() => {
            let (kind, name_at) = fallback.unwrap_or_default();
            let toks = name_tokens.unwrap_or_default();
            let name = name_at.and_then(|at| fallback_name(ctx, dialect, &toks, at));
            ctx.opaque(&kind, name, normalized_text(&toks));
            Ok(())
        }
        other => other,
    }
}

/// A SQL-standard routine body (`BEGIN ATOMIC ... END`, PostgreSQL 14+) that sqlparser 0.63
/// cannot read: the statement is kept as written for the model, and parsed with `AS ''` in
/// place of the body for its name, arguments and options.
fn atomic_body(ctx: &mut convert::Ctx, tokens: &mut Vec<TokenWithSpan>) {
    let sig = significant(tokens);
    let Some(k) = (0..sig.len().saturating_sub(1)).find(|&k| {
        word(&tokens[sig[k]].token).as_deref() == Some("BEGIN")
            && word(&tokens[sig[k + 1]].token).as_deref() == Some("ATOMIC")
    }) else {
        return;
    };
    let mut statement: Vec<TokenWithSpan> = tokens.clone();
    statement.retain(|t| !is_trivia(&t.token));
    let body: Vec<TokenWithSpan> = tokens[sig[k]..]
        .iter()
        .filter(|t| !is_trivia(&t.token))
        .cloned()
        .collect();
    let text = |ts: &[TokenWithSpan]| {
        ts.iter()
            .filter(|t| !is_trivia(&t.token))
            .map(|t| t.token.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    ctx.pending_atomic = Some((text(&statement), text(&body)));
    let span = tokens[sig[k]].span;
    tokens.truncate(sig[k]);
    tokens.push(TokenWithSpan::new(Token::make_keyword("AS"), span));
    tokens.push(TokenWithSpan::new(
        Token::SingleQuotedString(String::new()),
        span,
    ));
}

/// `ALTER TABLE [IF EXISTS] [ONLY] t ALTER [COLUMN] c SET STATISTICS n` (sqlparser 0.63 does not
/// parse it): the column's `StatisticsTarget` (`-1`, the default, removes it).
fn column_statistics(
    ctx: &mut convert::Ctx,
    dialect: &dyn Dialect,
    tokens: Vec<TokenWithSpan>,
) -> std::result::Result<(), StmtError> {
    use sqlparser::keywords::Keyword;
    let mut p = Parser::new(dialect).with_tokens_with_locations(tokens);
    p.expect_keyword(Keyword::ALTER)?;
    let index = p.parse_keyword(Keyword::INDEX);
    if !index {
        p.expect_keyword(Keyword::TABLE)?;
    }
    let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let _ = p.parse_keyword(Keyword::ONLY);
    let table = p.parse_object_name(false)?;
    p.expect_keyword(Keyword::ALTER)?;
    let _ = p.parse_keyword(Keyword::COLUMN);
    if index {
        let number = p.parse_number_value()?.value.to_string();
        p.expect_keywords(&[Keyword::SET, Keyword::STATISTICS])?;
        let value = p.parse_number_value()?.value.to_string();
        let next = p.peek_token();
        if next.token != Token::EOF {
            return Err(StmtError::At(
                next.span.start,
                format!("expected end of statement, found: {}", next.token),
            ));
        }
        return ctx.index_statistics(&table, &number, &value, if_exists);
    }
    let column = p.parse_identifier()?;
    p.expect_keywords(&[Keyword::SET, Keyword::STATISTICS])?;
    let negative = p.consume_token(&Token::Minus);
    let value = p.parse_number_value()?.value.to_string();
    let next = p.peek_token();
    if next.token != Token::EOF {
        return Err(StmtError::At(
            next.span.start,
            format!("expected end of statement, found: {}", next.token),
        ));
    }
    let value = if negative { format!("-{value}") } else { value };
    ctx.column_statistics(&table, &column, &value, if_exists)
}

/// `COPY table [(columns)] FROM stdin [...]` with the data lines after it (see [`psql::scan`]).
fn copy_statement(
    ctx: &mut convert::Ctx,
    dialect: &dyn Dialect,
    tokens: Vec<TokenWithSpan>,
) -> std::result::Result<(), StmtError> {
    let start = ctx.stmt_start;
    let mut p = Parser::new(dialect).with_tokens_with_locations(tokens);
    p.expect_keyword(sqlparser::keywords::Keyword::COPY)?;
    let table = p.parse_object_name(false)?;
    let columns = if p.consume_token(&Token::LParen) {
        let cols = p.parse_comma_separated(|p| p.parse_identifier())?;
        p.expect_token(&Token::RParen)?;
        cols
    } else {
        Vec::new()
    };
    let from = p.parse_keyword(sqlparser::keywords::Keyword::FROM);
    let stdin = p.parse_keyword(sqlparser::keywords::Keyword::STDIN);
    let next = p.peek_token();
    if !from || !stdin || next.token != Token::EOF {
        return Err(StmtError::At(
            next.span.start,
            "COPY in a schema source: dac keeps `COPY table [(columns)] FROM stdin;` with its data (text format) as seed data; other forms are not supported".into(),
        ));
    }
    let rows = ctx.copy_rows.take().unwrap_or_default();
    psql::copy(ctx, &table, &columns, &rows, start)
}

/// Statements sqlparser 0.63 cannot parse but that are recognisably DDL: their opaque kind
/// and the index (among non-trivia tokens) where the object name starts, when it has one.
fn fallback_kind(platform: Platform, words: &[String]) -> Option<(String, Option<usize>)> {
    if platform != Platform::Postgres {
        return None;
    }
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let camel = |s: &str| {
        let mut c = s.chars();
        c.next().map_or(String::new(), |f| {
            f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase()
        })
    };
    match (w(0), w(1)) {
        ("COMMENT", "ON") => Some(("PgComment".into(), None)),
        ("CREATE", _) => {
            let mut i = 1;
            if w(1) == "OR" && w(2) == "REPLACE" {
                i = 3;
            }
            match w(i) {
                "DOMAIN" | "AGGREGATE" | "CAST" | "RULE" | "CONVERSION" | "COLLATION"
                | "LANGUAGE" | "PUBLICATION" | "SUBSCRIPTION" | "STATISTICS" | "TRANSFORM"
                | "TABLESPACE" | "SERVER" => Some((format!("Pg{}", camel(w(i))), Some(i + 1))),
                "EVENT" if w(i + 1) == "TRIGGER" => Some(("PgEventTrigger".into(), Some(i + 2))),
                "FOREIGN" => Some(("PgForeignTable".into(), None)),
                "TEXT" => Some(("PgTextSearch".into(), None)),
                _ => None,
            }
        }
        ("ALTER", "DOMAIN") => Some(("PgAlterDomain".into(), None)),
        ("ALTER", "DEFAULT") => Some(("PgDefaultPrivileges".into(), None)),
        _ => None,
    }
}

/// The schema-qualified object name starting at non-trivia token `at`, if it parses.
fn fallback_name(
    ctx: &mut convert::Ctx,
    dialect: &dyn Dialect,
    tokens: &[TokenWithSpan],
    at: usize,
) -> Option<crate::model::ObjectName> {
    let rest: Vec<TokenWithSpan> = tokens
        .iter()
        .filter(|t| !is_trivia(&t.token))
        .skip(at)
        .cloned()
        .collect();
    let mut parser = Parser::new(dialect).with_tokens_with_locations(rest);
    let name = parser.parse_object_name(false).ok()?;
    Some(ctx.object(&name))
}

/// Statement text with comments dropped and whitespace collapsed (opaque fallbacks).
fn normalized_text(tokens: &[TokenWithSpan]) -> String {
    tokens
        .iter()
        .filter(|t| !is_trivia(&t.token))
        .map(|t| t.token.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Indexes of non-trivia tokens.
fn significant(tokens: &[TokenWithSpan]) -> Vec<usize> {
    tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !is_trivia(&t.token))
        .map(|(i, _)| i)
        .collect()
}

/// sqlparser 0.63 reads sequence options of `GENERATED ... AS IDENTITY (...)` in one fixed
/// order (INCREMENT, MINVALUE, MAXVALUE, START, CACHE, CYCLE); PostgreSQL takes any order.
fn reorder_identity_options(tokens: &mut [TokenWithSpan]) {
    let sig = significant(tokens);
    let mut k = 0;
    while k + 1 < sig.len() {
        let is_identity = word(&tokens[sig[k]].token).as_deref() == Some("IDENTITY")
            && tokens[sig[k + 1]].token == Token::LParen;
        if !is_identity {
            k += 1;
            continue;
        }
        // Option groups inside the parentheses.
        let open = k + 1;
        let Some(close) = (open + 1..sig.len()).find(|&j| tokens[sig[j]].token == Token::RParen)
        else {
            return;
        };
        let mut groups: Vec<(u8, Vec<usize>)> = Vec::new();
        for j in open + 1..close {
            let w = word(&tokens[sig[j]].token).unwrap_or_default();
            let prev = if j > open + 1 {
                word(&tokens[sig[j - 1]].token).unwrap_or_default()
            } else {
                String::new()
            };
            let rank = match w.as_str() {
                "INCREMENT" => Some(0),
                "MINVALUE" if prev != "NO" => Some(1),
                "MAXVALUE" if prev != "NO" => Some(2),
                "START" => Some(3),
                "CACHE" => Some(4),
                "CYCLE" if prev != "NO" => Some(5),
                "NO" => match word(&tokens[sig[j + 1]].token).as_deref() {
                    Some("MINVALUE") => Some(1),
                    Some("MAXVALUE") => Some(2),
                    Some("CYCLE") => Some(5),
                    _ => None,
                },
                _ => None,
            };
            match (rank, groups.last_mut()) {
                (Some(r), _) => groups.push((r, vec![sig[j]])),
                (None, Some(g)) => g.1.push(sig[j]),
                (None, None) => return,
            }
        }
        let mut sorted = groups.clone();
        sorted.sort_by_key(|g| g.0);
        if sorted != groups {
            let originals: Vec<TokenWithSpan> = groups
                .iter()
                .flat_map(|g| g.1.iter().map(|&i| tokens[i].clone()))
                .collect();
            let slots: Vec<usize> = groups.iter().flat_map(|g| g.1.iter().copied()).collect();
            let order: Vec<usize> = sorted.iter().flat_map(|g| g.1.iter().copied()).collect();
            let by_index =
                |i: usize| originals[slots.iter().position(|&s| s == i).unwrap_or(0)].clone();
            for (slot, src) in slots.iter().zip(order) {
                tokens[*slot] = by_index(src);
            }
        }
        k = close;
    }
}

/// PostgreSQL allows `CREATE EXTENSION x SCHEMA s VERSION v` without `WITH`; sqlparser needs it.
fn insert_extension_with(tokens: &mut Vec<TokenWithSpan>) {
    let sig = significant(tokens);
    let Some(ext) = sig
        .iter()
        .position(|&i| word(&tokens[i].token).as_deref() == Some("EXTENSION"))
    else {
        return;
    };
    let mut k = ext + 1;
    if word(&tokens[sig.get(k).copied().unwrap_or(0)].token).as_deref() == Some("IF") {
        k += 3;
    }
    k += 1; // the name
    if let Some(&i) = sig.get(k)
        && matches!(
            word(&tokens[i].token).as_deref(),
            Some("SCHEMA" | "VERSION" | "CASCADE")
        )
    {
        let span = tokens[i].span;
        tokens.insert(i, TokenWithSpan::new(Token::make_keyword("WITH"), span));
        tokens.insert(
            i + 1,
            TokenWithSpan::new(Token::Whitespace(Whitespace::Space), span),
        );
    }
}

/// Removes function attributes sqlparser 0.63 does not know (`COST n`, `ROWS n`,
/// `[NOT] LEAKPROOF`) from the top level of a CREATE FUNCTION; returns them as text.
fn strip_function_attributes(tokens: &mut [TokenWithSpan]) -> Option<String> {
    let sig = significant(tokens);
    let mut depth = 0i32;
    let mut removed = Vec::new();
    let mut blank = Vec::new();
    let mut k = 0;
    while k < sig.len() {
        let tok = &tokens[sig[k]].token;
        match tok {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        let w = word(tok).unwrap_or_default();
        let next = sig.get(k + 1).map(|&i| &tokens[i].token);
        if depth == 0 {
            if matches!(w.as_str(), "COST" | "ROWS") && matches!(next, Some(Token::Number(..))) {
                removed.push(format!(
                    "{w} {}",
                    next.map(ToString::to_string).unwrap_or_default()
                ));
                blank.extend([sig[k], sig[k + 1]]);
                k += 2;
                continue;
            }
            if w == "LEAKPROOF" {
                removed.push(w.clone());
                blank.push(sig[k]);
            }
            if w == "NOT" && next.and_then(word).as_deref() == Some("LEAKPROOF") {
                removed.push("NOT LEAKPROOF".into());
                blank.extend([sig[k], sig[k + 1]]);
                k += 2;
                continue;
            }
        }
        k += 1;
    }
    for i in blank {
        tokens[i].token = Token::Whitespace(Whitespace::Space);
    }
    (!removed.is_empty()).then(|| removed.join(" "))
}

/// SQLite takes a string literal where CREATE TABLE expects a table or column name
/// (`CREATE TABLE 't' ('c' integer)`, kept for compatibility with MySQL); sqlparser does not.
/// Such literals become quoted identifiers: the table name (with its schema), and the first token
/// of each column definition at the top level of the parentheses.
fn sqlite_string_identifiers(tokens: &mut [TokenWithSpan]) {
    let sig = significant(tokens);
    let to_ident = |tok: &mut TokenWithSpan| {
        if let Token::SingleQuotedString(s) = &tok.token {
            tok.token = Token::make_word(s, Some('"'));
        }
    };
    // CREATE [TEMP|TEMPORARY] TABLE [IF NOT EXISTS] name
    let mut k = 0;
    while k < sig.len()
        && matches!(
            word(&tokens[sig[k]].token).as_deref(),
            Some("CREATE" | "TEMP" | "TEMPORARY" | "TABLE" | "IF" | "NOT" | "EXISTS")
        )
    {
        k += 1;
    }
    if let Some(&i) = sig.get(k) {
        to_ident(&mut tokens[i]);
        if sig
            .get(k + 1)
            .is_some_and(|&j| tokens[j].token == Token::Period)
            && let Some(&j) = sig.get(k + 2)
        {
            to_ident(&mut tokens[j]);
        }
    }
    let mut depth = 0i32;
    let mut at_item_start = false;
    for &i in sig.iter().skip(k) {
        match tokens[i].token {
            Token::LParen => {
                depth += 1;
                at_item_start = depth == 1;
                continue;
            }
            Token::RParen => depth -= 1,
            Token::Comma if depth == 1 => {
                at_item_start = true;
                continue;
            }
            _ => {}
        }
        if at_item_start {
            to_ident(&mut tokens[i]);
        }
        at_item_start = false;
    }
}

/// Removes SQLite's trailing table options (`WITHOUT ROWID`, `STRICT`, comma-separated in any
/// order, which sqlparser 0.63 only takes one way); returns (without_rowid, strict).
fn strip_sqlite_table_options(tokens: &mut Vec<TokenWithSpan>) -> Option<(bool, bool)> {
    let sig = significant(tokens);
    let close = sig
        .iter()
        .rposition(|&i| tokens[i].token == Token::RParen)?;
    let tail = &sig[close + 1..];
    if tail.is_empty() {
        return None;
    }
    let mut without_rowid = false;
    let mut strict = false;
    for &i in tail {
        match (&tokens[i].token, word(&tokens[i].token).as_deref()) {
            (_, Some("WITHOUT" | "ROWID")) => without_rowid = true,
            (_, Some("STRICT")) => strict = true,
            (Token::Comma, _) => {}
            _ => return None,
        }
    }
    tokens.truncate(sig[close] + 1);
    Some((without_rowid, strict))
}

/// Takes `ON CONFLICT action` out of a SQLite CREATE TABLE's table constraints (sqlparser parses
/// it after a column constraint only) and returns each table constraint's action, by position.
fn strip_sqlite_constraint_conflicts(tokens: &mut [TokenWithSpan]) -> Vec<Option<String>> {
    let sig = significant(tokens);
    let mut conflicts = Vec::new();
    let mut depth = 0i32;
    let mut item_start = None;
    let mut in_constraint = false;
    let mut k = 0;
    while k < sig.len() {
        let i = sig[k];
        match &tokens[i].token {
            Token::LParen => {
                depth += 1;
                if depth == 1 {
                    item_start = Some(k + 1);
                }
            }
            Token::RParen => depth -= 1,
            Token::Comma if depth == 1 => item_start = Some(k + 1),
            _ => {}
        }
        if depth == 1 && item_start == Some(k) {
            in_constraint = matches!(
                word(&tokens[i].token).as_deref(),
                Some("CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN")
            );
            if in_constraint {
                conflicts.push(None);
            }
        }
        let at = |n: usize| sig.get(k + n).and_then(|&j| word(&tokens[j].token));
        if depth == 1
            && in_constraint
            && tokens[i].token == Token::RParen
            && at(1).as_deref() == Some("ON")
            && at(2).as_deref() == Some("CONFLICT")
            && let Some(action) = at(3)
        {
            for n in 1..=3 {
                tokens[sig[k + n]].token = Token::Whitespace(Whitespace::Space);
            }
            if let Some(last) = conflicts.last_mut() {
                *last = Some(action);
            }
            k += 4;
            continue;
        }
        k += 1;
    }
    conflicts
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

/// Takes the arguments out of a PostgreSQL trigger's `EXECUTE FUNCTION|PROCEDURE f(args)`
/// (sqlparser 0.63 reads a parameter list there): each one as the string literal
/// `pg_get_triggerdef` prints (`'3'`, `'x'`, `'it''s'`; unquoted words fold to lower case).
/// `None` when the call has no arguments; a token that is not a trigger argument is left for
/// sqlparser to report.
fn strip_trigger_arguments(tokens: &mut [TokenWithSpan]) -> Option<Vec<String>> {
    let sig = significant(tokens);
    let exec = sig.windows(2).position(|p| {
        word(&tokens[p[0]].token).as_deref() == Some("EXECUTE")
            && matches!(
                word(&tokens[p[1]].token).as_deref(),
                Some("FUNCTION" | "PROCEDURE")
            )
    })?;
    let open = (exec + 2..sig.len()).find(|&k| tokens[sig[k]].token == Token::LParen)?;
    let close = (open + 1..sig.len()).find(|&k| tokens[sig[k]].token == Token::RParen)?;
    let mut args = Vec::new();
    for (n, &k) in sig[open + 1..close].iter().enumerate() {
        let token = &tokens[k].token;
        if n % 2 == 1 {
            if *token != Token::Comma {
                return None;
            }
            continue;
        }
        let value = match token {
            Token::SingleQuotedString(s) => s.clone(),
            Token::Number(n, _) => n.clone(),
            Token::Word(w) if w.quote_style.is_none() => w.value.to_lowercase(),
            Token::Word(w) => w.value.clone(),
            _ => return None,
        };
        args.push(format!("'{}'", value.replace('\'', "''")));
    }
    if args.is_empty() {
        return None;
    }
    for &k in &sig[open + 1..close] {
        tokens[k].token = Token::Whitespace(Whitespace::Space);
    }
    Some(args)
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

/// `CREATE INDEX ... ON ONLY t` (pg_dump's index on a partitioned table, its partitions' indexes
/// attached after): sqlparser 0.63 does not parse `ONLY` there; the index is the same as
/// `ON t`, with the partitions' indexes that `ALTER INDEX ... ATTACH PARTITION` names.
fn strip_on_only(tokens: &mut [TokenWithSpan]) {
    let idx: Vec<usize> = significant(tokens);
    for pair in idx.windows(2) {
        if word(&tokens[pair[0]].token).as_deref() == Some("ON")
            && word(&tokens[pair[1]].token).as_deref() == Some("ONLY")
        {
            tokens[pair[1]].token = Token::Whitespace(Whitespace::Space);
            return;
        }
    }
}
