//! Tokens of one batch (sqlparser's MsSql tokenizer) with byte offsets, and a cursor with the
//! small set of primitives the recursive-descent parser needs.

use sqlparser::dialect::MsSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::error::{Error, Result};
use crate::source::sqlcmd::Batch;

/// A significant token with its place in the batch text.
#[derive(Debug, Clone)]
pub(crate) struct Tok {
    pub token: Token,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset after the last character.
    pub end: usize,
    /// 1-based line and column in the batch.
    pub line: u64,
    pub column: u64,
}

/// Tokenizes a batch, dropping whitespace and comments.
pub(crate) fn tokenize(batch: &Batch) -> Result<Vec<Tok>> {
    let text = batch.text.as_str();
    let dialect = MsSqlDialect {};
    let spanned = crate::source::blanks::tokenize(
        text,
        crate::source::blanks::Quoting::SQL_SERVER,
        |piece| {
            Tokenizer::new(&dialect, piece)
                .with_unescape(true)
                .tokenize_with_location()
        },
    )
    .map_err(|e| {
        batch.error(
            e.location.line,
            e.location.column,
            format!("cannot tokenize: {}", e.message),
        )
    })?;
    let mut out = Vec::with_capacity(spanned.len() / 2);
    // Tokens are contiguous: walk the text once to turn (line, column) into byte offsets.
    let mut chars = text.char_indices().peekable();
    let (mut line, mut col, mut byte) = (1u64, 1u64, 0usize);
    let mut advance_to = |l: u64, c: u64, line: &mut u64, col: &mut u64, byte: &mut usize| {
        while (*line, *col) < (l, c) {
            match chars.next() {
                Some((_, ch)) => {
                    *byte += ch.len_utf8();
                    if ch == '\n' {
                        *line += 1;
                        *col = 1;
                    } else {
                        *col += 1;
                    }
                }
                None => break,
            }
        }
    };
    for t in spanned {
        let (sl, sc) = (t.span.start.line, t.span.start.column);
        advance_to(sl, sc, &mut line, &mut col, &mut byte);
        let start = byte;
        advance_to(
            t.span.end.line,
            t.span.end.column,
            &mut line,
            &mut col,
            &mut byte,
        );
        match t.token {
            Token::Whitespace(
                Whitespace::Space
                | Whitespace::Newline
                | Whitespace::Tab
                | Whitespace::SingleLineComment { .. }
                | Whitespace::MultiLineComment(_),
            )
            | Token::EOF => {}
            token => out.push(Tok {
                token,
                start,
                end: byte,
                line: sl,
                column: sc,
            }),
        }
    }
    Ok(out)
}

/// A cursor over the tokens of one batch.
pub(crate) struct Cursor<'a> {
    pub toks: &'a [Tok],
    pub pos: usize,
    pub batch: &'a Batch,
}

impl<'a> Cursor<'a> {
    pub fn new(toks: &'a [Tok], batch: &'a Batch) -> Self {
        Cursor {
            toks,
            pos: 0,
            batch,
        }
    }

    pub fn src(&self) -> &'a str {
        &self.batch.text
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    pub fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos).map(|t| &t.token)
    }

    pub fn peek_at(&self, off: usize) -> Option<&'a Token> {
        self.toks.get(self.pos + off).map(|t| &t.token)
    }

    /// Whether the token at `off` is the unquoted keyword `kw` (case-insensitive).
    pub fn is_kw_at(&self, off: usize, kw: &str) -> bool {
        matches!(self.peek_at(off), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
    }

    pub fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    /// Whether the next tokens are the keywords `kws`.
    pub fn is_kws(&self, kws: &[&str]) -> bool {
        kws.iter().enumerate().all(|(i, k)| self.is_kw_at(i, k))
    }

    pub fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn eat_kws(&mut self, kws: &[&str]) -> bool {
        if self.is_kws(kws) {
            self.pos += kws.len();
            true
        } else {
            false
        }
    }

    pub fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.expected(kw))
        }
    }

    pub fn expect_kws(&mut self, kws: &[&str]) -> Result<()> {
        for kw in kws {
            self.expect_kw(kw)?;
        }
        Ok(())
    }

    pub fn is(&self, token: &Token) -> bool {
        self.peek() == Some(token)
    }

    pub fn eat(&mut self, token: &Token) -> bool {
        if self.is(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, token: &Token, what: &str) -> Result<()> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// An error at the current token: "expected X, found Y".
    pub fn expected(&self, what: &str) -> Error {
        let found = match self.peek() {
            Some(t) => format!("`{t}`"),
            None => "end of batch".to_string(),
        };
        self.error(format!("expected {what}, found {found}"))
    }

    /// An error at the current token (or the end of the batch).
    pub fn error(&self, message: impl Into<String>) -> Error {
        let (line, column) = self.position(self.pos);
        self.batch.error(line, column, message)
    }

    /// An error at token `idx`.
    pub fn error_at(&self, idx: usize, message: impl Into<String>) -> Error {
        let (line, column) = self.position(idx);
        self.batch.error(line, column, message)
    }

    /// Batch position of token `idx` (or just after the last token).
    pub fn position(&self, idx: usize) -> (u64, u64) {
        match self.toks.get(idx) {
            Some(t) => (t.line, t.column),
            None => {
                let lines = self.batch.text.split('\n').count() as u64;
                let last = self.batch.text.rsplit('\n').next().unwrap_or("");
                (lines.max(1), last.chars().count() as u64 + 1)
            }
        }
    }

    /// An identifier (quoted or not).
    pub fn ident(&mut self) -> Result<String> {
        match self.peek() {
            Some(Token::Word(w)) => {
                self.pos += 1;
                Ok(w.value.clone())
            }
            _ => Err(self.expected("an identifier")),
        }
    }

    /// Whether the current token is an identifier.
    pub fn is_ident(&self) -> bool {
        matches!(self.peek(), Some(Token::Word(_)))
    }

    /// A multipart name `a.b.c` (`a..c` keeps an empty part).
    pub fn object_name(&mut self) -> Result<Vec<String>> {
        let mut parts = vec![self.ident()?];
        while self.is(&Token::Period) {
            self.pos += 1;
            if self.is(&Token::Period) {
                parts.push(String::new());
                continue;
            }
            parts.push(self.ident()?);
        }
        Ok(parts)
    }

    /// Index of the token closing the parenthesis at `open`.
    pub fn matching(&self, open: usize) -> Result<usize> {
        let mut depth = 0usize;
        for (i, t) in self.toks.iter().enumerate().skip(open) {
            match t.token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                _ => {}
            }
        }
        Err(self.error_at(open, "unbalanced parenthesis: expected `)`"))
    }

    /// Skips a parenthesized group at the cursor, returning its inner text.
    pub fn skip_group(&mut self) -> Result<&'a str> {
        if !self.is(&Token::LParen) {
            return Err(self.expected("`(`"));
        }
        let close = self.matching(self.pos)?;
        let inner = if close > self.pos + 1 {
            &self.src()[self.toks[self.pos + 1].start..self.toks[close - 1].end]
        } else {
            ""
        };
        self.pos = close + 1;
        Ok(inner)
    }

    /// Source text of tokens `from..to` (exclusive).
    pub fn text(&self, from: usize, to: usize) -> &'a str {
        if to <= from {
            return "";
        }
        &self.src()[self.toks[from].start..self.toks[to - 1].end]
    }

    /// Consumes an expression: tokens up to (not including) a top-level `,` or `)`, or a
    /// top-level keyword for which `stop` is true. Returns the token range.
    pub fn expression(&mut self, stop: &dyn Fn(&Cursor) -> bool) -> Result<(usize, usize)> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            match t {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => break,
                Token::RParen => depth -= 1,
                Token::Comma | Token::SemiColon if depth == 0 => break,
                _ if depth == 0 && self.pos > start && stop(self) => break,
                _ => {}
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.expected("an expression"));
        }
        Ok((start, self.pos))
    }

    /// A number (optionally signed).
    pub fn number(&mut self) -> Result<String> {
        let neg = self.eat(&Token::Minus);
        if !neg {
            self.eat(&Token::Plus);
        }
        match self.peek() {
            Some(Token::Number(n, _)) => {
                self.pos += 1;
                Ok(if neg { format!("-{n}") } else { n.clone() })
            }
            _ => Err(self.expected("a number")),
        }
    }

    /// A string literal's value (`'x'` or `N'x'`).
    pub fn string(&mut self) -> Option<String> {
        match self.peek() {
            Some(Token::SingleQuotedString(s) | Token::NationalStringLiteral(s)) => {
                self.pos += 1;
                Some(s.clone())
            }
            _ => None,
        }
    }

    /// Skips `;` tokens.
    pub fn skip_semicolons(&mut self) {
        while self.eat(&Token::SemiColon) {}
    }
}
