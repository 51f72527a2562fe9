//! Tokenizing with long runs of blanks as one token each. sqlparser's tokenizer makes a token of
//! every blank character (about 90 bytes each), so 8 MB of spaces between two statements cost
//! well over a gigabyte; here a run of at least [`LONG_BLANK`] blanks outside literals and
//! comments is cut out of the text and stands as one whitespace token with the run's span, and
//! the text around it is tokenized piece by piece with its locations shifted back. Ordinary
//! files have no such run and are tokenized whole, as before.
//!
//! Finding the runs needs to know where literals and comments are. The scan below knows each
//! platform's quoting; where it cannot tell (an unterminated literal) it stops looking, so a
//! doubt keeps the text whole rather than cut it inside a literal.

use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, TokenizerError, Whitespace};

/// The shortest run of blanks that is tokenized as one token.
pub(crate) const LONG_BLANK: usize = 4096;

/// How a platform quotes, for finding where literals and comments are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quoting {
    /// `[identifier]` (SQL Server, SQLite).
    pub brackets: bool,
    /// `` `identifier` `` (SQLite).
    pub backticks: bool,
    /// `/* /* */ */` nests (PostgreSQL, SQL Server).
    pub nested_comments: bool,
    /// `$tag$ ... $tag$` (PostgreSQL).
    pub dollar_quotes: bool,
    /// `E'...\'...'` (PostgreSQL).
    pub escape_strings: bool,
}

impl Quoting {
    /// PostgreSQL.
    pub const POSTGRES: Quoting = Quoting {
        brackets: false,
        backticks: false,
        nested_comments: true,
        dollar_quotes: true,
        escape_strings: true,
    };
    /// SQLite.
    pub const SQLITE: Quoting = Quoting {
        brackets: true,
        backticks: true,
        nested_comments: false,
        dollar_quotes: false,
        escape_strings: false,
    };
    /// SQL Server.
    pub const SQL_SERVER: Quoting = Quoting {
        brackets: true,
        backticks: false,
        nested_comments: true,
        dollar_quotes: false,
        escape_strings: false,
    };
}

/// Tokenizes `text` with `tokenize`, each long run of blanks as one token (see the module).
pub(crate) fn tokenize(
    text: &str,
    quoting: Quoting,
    tokenize: impl Fn(&str) -> Result<Vec<TokenWithSpan>, TokenizerError>,
) -> Result<Vec<TokenWithSpan>, TokenizerError> {
    let runs = long_blank_runs(text, quoting);
    if runs.is_empty() {
        return tokenize(text);
    }
    let mut out = Vec::new();
    let (mut at, mut origin) = (0, Location { line: 1, column: 1 });
    for (start, end) in runs {
        origin = tokenize_piece(&text[at..start], origin, &tokenize, &mut out)?;
        let run = &text[start..end];
        let after = advance(origin, run);
        let blank = if run.contains('\n') {
            Whitespace::Newline
        } else {
            Whitespace::Space
        };
        out.push(TokenWithSpan {
            token: Token::Whitespace(blank),
            span: Span::new(origin, after),
        });
        (at, origin) = (end, after);
    }
    tokenize_piece(&text[at..], origin, &tokenize, &mut out)?;
    Ok(out)
}

/// Tokenizes one piece that starts at `origin`, appending its tokens with their locations in
/// the whole text; returns where the piece ends.
fn tokenize_piece(
    piece: &str,
    origin: Location,
    tokenize: &impl Fn(&str) -> Result<Vec<TokenWithSpan>, TokenizerError>,
    out: &mut Vec<TokenWithSpan>,
) -> Result<Location, TokenizerError> {
    if piece.is_empty() {
        return Ok(origin);
    }
    let tokens = tokenize(piece).map_err(|mut err| {
        err.location = shift(err.location, origin);
        err
    })?;
    out.extend(tokens.into_iter().map(|mut t| {
        t.span = Span::new(shift(t.span.start, origin), shift(t.span.end, origin));
        t
    }));
    Ok(advance(origin, piece))
}

/// A location in a piece, as a location in the whole text the piece starts at `origin` in.
fn shift(location: Location, origin: Location) -> Location {
    if location.line == 0 {
        // sqlparser's "no location".
        location
    } else if location.line == 1 {
        Location {
            line: origin.line,
            column: origin.column + location.column - 1,
        }
    } else {
        Location {
            line: origin.line + location.line - 1,
            column: location.column,
        }
    }
}

/// Where `text` ends when it starts at `from`, counted as sqlparser counts (a column per
/// character, a new line after `\n`).
fn advance(from: Location, text: &str) -> Location {
    let mut at = from;
    for ch in text.chars() {
        if ch == '\n' {
            at.line += 1;
            at.column = 1;
        } else {
            at.column += 1;
        }
    }
    at
}

/// Byte ranges of the runs of at least [`LONG_BLANK`] blanks outside literals and comments.
fn long_blank_runs(text: &str, quoting: Quoting) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let is_blank = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let next = b.get(i + 1).copied();
        i = match b[i] {
            c if is_blank(c) => {
                let start = i;
                while i < b.len() && is_blank(b[i]) {
                    i += 1;
                }
                if i - start >= LONG_BLANK {
                    runs.push((start, i));
                }
                i
            }
            b'\'' => {
                let escaped = quoting.escape_strings
                    && i > 0
                    && matches!(b[i - 1], b'E' | b'e')
                    && (i < 2 || !is_word(b[i - 2]));
                past_quoted(b, i, b'\'', escaped)
            }
            b'"' => past_quoted(b, i, b'"', false),
            b'[' if quoting.brackets => past_quoted(b, i, b']', false),
            b'`' if quoting.backticks => past_quoted(b, i, b'`', false),
            b'-' if next == Some(b'-') => b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n),
            b'/' if next == Some(b'*') => past_comment(b, i, quoting.nested_comments),
            b'$' if quoting.dollar_quotes && (i == 0 || !is_word(b[i - 1])) => {
                past_dollar_quoted(b, i).unwrap_or(i + 1)
            }
            _ => i + 1,
        };
    }
    runs
}

/// After the literal that opens at `open` and closes with `close` (doubled to escape, or after
/// a backslash where `backslash`); the end of the text when it does not close.
fn past_quoted(b: &[u8], open: usize, close: u8, backslash: bool) -> usize {
    let mut j = open + 1;
    while j < b.len() {
        if backslash && b[j] == b'\\' {
            j += 2;
        } else if b[j] == close {
            if b.get(j + 1) == Some(&close) {
                j += 2;
            } else {
                return j + 1;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// After the block comment that opens at `open`; the end of the text when it does not close.
fn past_comment(b: &[u8], open: usize, nested: bool) -> usize {
    let (mut depth, mut j) = (1, open + 2);
    while j < b.len() {
        if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else if nested && b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
            depth += 1;
            j += 2;
        } else {
            j += 1;
        }
    }
    b.len()
}

/// After the `$tag$ ... $tag$` literal that opens at `open`, or `None` when `$` opens none
/// (`$1`); the end of the text when it does not close.
fn past_dollar_quoted(b: &[u8], open: usize) -> Option<usize> {
    let tag_len = b[open + 1..]
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80))?;
    let close_at = open + 1 + tag_len;
    if b.get(close_at) != Some(&b'$') || b.get(open + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let tag = &b[open..=close_at];
    let body = close_at + 1;
    Some(
        b[body..]
            .windows(tag.len())
            .position(|w| w == tag)
            .map_or(b.len(), |n| body + n + tag.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
    use sqlparser::tokenizer::Tokenizer;

    fn whole(dialect: &dyn sqlparser::dialect::Dialect, text: &str) -> Vec<TokenWithSpan> {
        Tokenizer::new(dialect, text)
            .tokenize_with_location()
            .unwrap()
    }

    /// The tokens that are not blanks, with their spans: what the builders read.
    fn words(tokens: &[TokenWithSpan]) -> Vec<(String, Span)> {
        tokens
            .iter()
            .filter(|t| {
                !matches!(
                    t.token,
                    Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
                )
            })
            .map(|t| (t.token.to_string(), t.span))
            .collect()
    }

    #[test]
    fn a_long_run_is_one_token_and_every_other_token_keeps_its_place() {
        let blanks = " ".repeat(LONG_BLANK) + "\n\n" + &"\t".repeat(10);
        let text = format!(
            "CREATE TABLE a (x INTEGER);{blanks}CREATE TABLE b (y TEXT); -- done\n  SELECT 'q'"
        );
        let dialect = SQLiteDialect {};
        let cut = tokenize(&text, Quoting::SQLITE, |t| {
            Tokenizer::new(&dialect, t).tokenize_with_location()
        })
        .unwrap();
        let reference = whole(&dialect, &text);
        assert_eq!(words(&cut), words(&reference));
        assert!(cut.len() < 40, "{} tokens", cut.len());
        assert!(reference.len() > LONG_BLANK);
    }

    #[test]
    fn runs_inside_literals_and_comments_stay_as_they_are() {
        let run = " ".repeat(LONG_BLANK + 1);
        for (quoting, text) in [
            (
                Quoting::SQLITE,
                format!("SELECT '{run}', \"{run}\", [{run}], `{run}`;"),
            ),
            (Quoting::SQLITE, format!("/* /* */ SELECT 1; /*{run}*/")),
            (
                Quoting::POSTGRES,
                format!("SELECT $body${run}$body$, E'\\'{run}', $${run}$$;"),
            ),
            (Quoting::POSTGRES, format!("/* /* */{run}*/ SELECT 1;")),
            (Quoting::POSTGRES, format!("SELECT 1; -- {run}\n")),
        ] {
            assert_eq!(long_blank_runs(&text, quoting), [], "{text:.40}");
        }
        // Outside them, found; an unterminated literal stops the search.
        let text = format!("SELECT 'a''b'{run}FROM t");
        assert_eq!(
            long_blank_runs(&text, Quoting::SQLITE),
            [(13, 13 + run.len())]
        );
        let text = format!("SELECT $1{run}, 'open{run}");
        assert_eq!(
            long_blank_runs(&text, Quoting::POSTGRES),
            [(9, 9 + run.len())]
        );
    }

    #[test]
    fn an_error_after_a_run_names_its_place_in_the_whole_text() {
        let text = format!(
            "SELECT 1;\n{}\n  SELECT 'unterminated",
            " ".repeat(LONG_BLANK)
        );
        let dialect = PostgreSqlDialect {};
        let err = tokenize(&text, Quoting::POSTGRES, |t| {
            Tokenizer::new(&dialect, t).tokenize_with_location()
        })
        .unwrap_err();
        let reference = Tokenizer::new(&dialect, &text)
            .tokenize_with_location()
            .unwrap_err();
        assert_eq!(err.location, reference.location);
    }
}
