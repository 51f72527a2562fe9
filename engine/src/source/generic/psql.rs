//! What PostgreSQL's own formats (`pg_dump -s`, `pg_dump` data dumps, Rails `structure.sql`)
//! hold besides DDL: psql meta-commands, `COPY ... FROM stdin` data, `SET search_path`, and
//! seed data (`INSERT`, `setval`), which becomes the package's post-deployment script.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::str::Chars;

use sqlparser::ast::{self, Statement};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use super::StmtError;
use super::convert::{Ctx, SearchPath, Seed};
use super::names::fold;

/// A psql meta-command line (`\restrict KEY`), 1-based position in the batch.
pub(crate) struct MetaCommand {
    pub line: u64,
    pub column: u64,
    pub text: String,
}

/// The batch with meta-commands and `COPY` data blanked out (same lines and columns), the
/// meta-commands, and the data rows of each `COPY ... FROM stdin` by the line of its `;`.
pub(crate) struct Scanned {
    pub sql: String,
    pub meta: Vec<MetaCommand>,
    pub copy_data: BTreeMap<u64, Vec<String>>,
}

/// psql meta-commands that change nothing a schema holds: skipped with a note.
const HARMLESS: &[&str] = &[
    "restrict",
    "unrestrict",
    "echo",
    "qecho",
    "warn",
    "timing",
    "pset",
    "encoding",
    "set",
    "unset",
];

/// Whether a meta-command only changes psql itself (skipped with a note) rather than what the
/// file creates (`\i`, `\ir`, `\connect`, `\copy`, `\gexec`, `\if`...: an error).
pub(crate) fn meta_is_harmless(text: &str) -> bool {
    let name = text
        .trim_start_matches('\\')
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("");
    HARMLESS.contains(&name)
}

/// Finds psql meta-commands (a backslash outside quotes and comments, to the end of its line)
/// and `COPY ... FROM stdin` data (the lines after the statement up to `\.`).
/// Errors: (line, column, message) of a `COPY` whose data has no `\.`.
pub(crate) fn scan(sql: &str) -> Result<Scanned, (u64, u64, String)> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out: Vec<char> = chars.clone();
    let mut meta = Vec::new();
    let mut copy_data = BTreeMap::new();
    let (mut line, mut col) = (1u64, 1u64);
    let mut i = 0;
    let mut stmt = String::new();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    // Advances over chars[i], keeping line/column.
    macro_rules! bump {
        () => {{
            if chars[i] == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }};
    }
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                bump!();
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    bump!();
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    bump!();
                    if depth == 0 {
                        bump!();
                        break;
                    }
                }
                bump!();
            }
            stmt.push(' ');
        } else if c == '\'' || c == '"' {
            let escapes = c == '\''
                && i > 0
                && matches!(chars[i - 1], 'e' | 'E')
                && (i < 2 || !ident(chars[i - 2]));
            stmt.push(c);
            bump!();
            while i < chars.len() {
                let d = chars[i];
                if escapes && d == '\\' {
                    bump!();
                    if i < chars.len() {
                        bump!();
                    }
                    continue;
                }
                bump!();
                if d == c {
                    if i < chars.len() && chars[i] == c {
                        bump!();
                        continue;
                    }
                    break;
                }
            }
            stmt.push(c);
        } else if c == '$' && (i == 0 || !ident(chars[i - 1])) && dollar_tag(&chars[i..]).is_some()
        {
            let tag: Vec<char> = dollar_tag(&chars[i..]).unwrap_or_default();
            for _ in 0..tag.len() {
                bump!();
            }
            while i < chars.len() && !chars[i..].starts_with(&tag) {
                bump!();
            }
            for _ in 0..tag.len().min(chars.len() - i) {
                bump!();
            }
            stmt.push_str(" $$ ");
        } else if c == '\\' {
            let (l, c0, start) = (line, col, i);
            while i < chars.len() && chars[i] != '\n' {
                out[i] = ' ';
                bump!();
            }
            let text: String = chars[start..i].iter().collect();
            meta.push(MetaCommand {
                line: l,
                column: c0,
                text: text.trim_end().to_string(),
            });
        } else if c == ';' {
            let (semi_line, semi_col) = (line, col);
            bump!();
            let words: Vec<String> = stmt
                .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_uppercase)
                .collect();
            stmt.clear();
            let copy_in = words.first().is_some_and(|w| w == "COPY")
                && words.windows(2).any(|w| w[0] == "FROM" && w[1] == "STDIN");
            if copy_in {
                // The rest of this line, then data lines up to `\.`.
                while i < chars.len() && chars[i] != '\n' {
                    bump!();
                }
                let mut rows = Vec::new();
                let mut ended = false;
                while i < chars.len() {
                    bump!(); // the newline
                    let start = i;
                    while i < chars.len() && chars[i] != '\n' {
                        out[i] = ' ';
                        bump!();
                    }
                    let row: String = chars[start..i].iter().collect();
                    if row == "\\." {
                        ended = true;
                        break;
                    }
                    rows.push(row);
                }
                if !ended {
                    return Err((
                        semi_line,
                        semi_col,
                        "COPY ... FROM stdin: its data does not end with a line `\\.`".into(),
                    ));
                }
                copy_data.insert(semi_line, rows);
            }
        } else {
            stmt.push(c);
            bump!();
        }
    }
    Ok(Scanned {
        sql: out.into_iter().collect(),
        meta,
        copy_data,
    })
}

/// `$tag$` at the start of `chars` (tag empty or an identifier not starting with a digit).
fn dollar_tag(chars: &[char]) -> Option<Vec<char>> {
    let mut j = 1;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    let first_digit = chars.get(1).is_some_and(char::is_ascii_digit);
    (chars.get(j) == Some(&'$') && !first_digit).then(|| chars[..=j].to_vec())
}

/// `SET [SESSION|LOCAL] search_path {TO|=} ...` or `SELECT pg_catalog.set_config('search_path',
/// '...', ...)`: the search path it sets, if the statement is one of these.
pub(crate) fn search_path(words: &[String], tokens: &[TokenWithSpan]) -> Option<SearchPath> {
    let sig: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    if w(0) == "SET" {
        let mut k = 1;
        if matches!(w(1), "SESSION" | "LOCAL") {
            k = 2;
        }
        if w(k) != "SEARCH_PATH" {
            return None;
        }
        let items: Vec<String> = sig
            .iter()
            .skip(k + 2)
            .filter_map(|t| match t {
                Token::Word(w) => Some(if w.quote_style.is_some() {
                    w.value.clone()
                } else {
                    w.value.to_lowercase()
                }),
                Token::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        return Some(path_of(items));
    }
    if w(0) == "SELECT" {
        let is_set_config = sig
            .iter()
            .any(|t| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case("set_config")));
        let strings: Vec<&String> = sig
            .iter()
            .filter_map(|t| match t {
                Token::SingleQuotedString(s) => Some(s),
                _ => None,
            })
            .collect();
        if is_set_config
            && strings
                .first()
                .is_some_and(|s| s.eq_ignore_ascii_case("search_path"))
        {
            let value = strings.get(1).map(|s| s.as_str()).unwrap_or("");
            let items = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(
                    |s| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                        Some(q) => q.replace("\"\"", "\""),
                        None => s.to_lowercase(),
                    },
                )
                .collect();
            return Some(path_of(items));
        }
    }
    None
}

/// The search path a list of schema names gives: `DEFAULT` or `"$user", public` is the
/// default, an empty list is [`SearchPath::Empty`], else the first schema other than `$user`.
fn path_of(items: Vec<String>) -> SearchPath {
    if items.len() == 1 && items[0].eq_ignore_ascii_case("default") {
        return SearchPath::Default;
    }
    let schemas: Vec<&String> = items.iter().filter(|s| *s != "$user").collect();
    match schemas.first() {
        None if items.is_empty() => SearchPath::Empty,
        None => SearchPath::Empty,
        Some(s) if s.as_str() == "public" => SearchPath::Default,
        Some(s) => SearchPath::First((*s).clone()),
    }
}

/// `"schema"."name"`.
fn quoted(name: &crate::model::ObjectName) -> String {
    name.parts()
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// `INSERT INTO t ...`: kept for the post-deployment script with its table qualified under the
/// current search path and `ON CONFLICT DO NOTHING` (when it has no `ON CONFLICT` of its own),
/// so that running it again at every upgrade keeps rows already there.
pub(crate) fn insert(ctx: &mut Ctx, mut ins: ast::Insert, at: Location) -> Result<(), StmtError> {
    let ast::TableObject::TableName(raw) = &ins.table else {
        return Err(StmtError::At(
            at,
            "INSERT into a table function is not seed data dac can keep".into(),
        ));
    };
    let table = ctx.object(raw);
    let qualified = sqlparser::ast::ObjectName::from(
        table
            .parts()
            .iter()
            .map(|p| ast::Ident::with_quote('"', p.to_string()))
            .collect::<Vec<_>>(),
    );
    ins.table = ast::TableObject::TableName(qualified);
    if ins.on.is_none() {
        ins.on = Some(ast::OnInsert::OnConflict(ast::OnConflict {
            conflict_target: None,
            action: ast::OnConflictAction::DoNothing,
        }));
    }
    ctx.seed.push(Seed {
        sql: format!("{};", Statement::Insert(ins)),
        table: Some(table),
        at: (at.line, at.column),
    });
    Ok(())
}

/// `SELECT pg_catalog.setval('seq', n[, is_called])`: kept for the post-deployment script, run
/// only while the sequence has not been used (`WHERE NOT is_called`), so an upgrade never moves
/// a sequence back.
pub(crate) fn setval(ctx: &mut Ctx, query: &ast::Query, at: Location) -> Result<bool, StmtError> {
    let ast::SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(false);
    };
    if select.projection.len() != 1 || !select.from.is_empty() || select.selection.is_some() {
        return Ok(false);
    }
    let ast::SelectItem::UnnamedExpr(ast::Expr::Function(f)) = &select.projection[0] else {
        return Ok(false);
    };
    let fname = f.name.to_string().to_lowercase();
    if fname != "setval" && fname != "pg_catalog.setval" {
        return Ok(false);
    }
    let ast::FunctionArguments::List(list) = &f.args else {
        return Ok(false);
    };
    let args: Vec<String> = list.args.iter().map(ToString::to_string).collect();
    let seq_text = match list.args.first() {
        Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Value(v)))) => {
            match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                _ => String::new(),
            }
        }
        _ => String::new(),
    };
    if seq_text.is_empty() || !(2..=3).contains(&args.len()) {
        return Err(StmtError::At(
            at,
            "setval(...) in a schema source: dac keeps setval('sequence', value[, is_called]) with a literal sequence name".into(),
        ));
    }
    // The literal is regclass input: a possibly qualified, possibly quoted name.
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let parsed = sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(&seq_text)
        .and_then(|mut p| p.parse_object_name(false))
        .map_err(|e| StmtError::At(at, format!("setval: sequence name {seq_text:?}: {e}")))?;
    let seq = ctx.object(&parsed);
    let _ = fold;
    let q = quoted(&seq);
    ctx.seed.push(Seed {
        sql: format!(
            "SELECT pg_catalog.setval('{}', {}) FROM {q} WHERE NOT is_called;",
            q.replace('\'', "''"),
            args[1..].join(", ")
        ),
        table: None,
        at: (at.line, at.column),
    });
    Ok(true)
}

/// `COPY t [(cols)] FROM stdin` with its data rows (text format): kept for the post-deployment
/// script as one `INSERT ... VALUES ... ON CONFLICT DO NOTHING`.
pub(crate) fn copy(
    ctx: &mut Ctx,
    table: &ast::ObjectName,
    columns: &[ast::Ident],
    rows: &[String],
    at: Location,
) -> Result<(), StmtError> {
    let name = ctx.object(table);
    if rows.is_empty() {
        ctx.notes
            .push(format!("COPY {name} FROM stdin holds no rows"));
        return Ok(());
    }
    let cols = if columns.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = columns
            .iter()
            .map(|c| format!("\"{}\"", fold(ctx.platform, c).replace('"', "\"\"")))
            .collect();
        format!(" ({})", list.join(", "))
    };
    let mut values = Vec::new();
    for row in rows {
        let fields: Vec<String> = row.split('\t').map(copy_literal).collect();
        values.push(format!("({})", fields.join(", ")));
    }
    ctx.seed.push(Seed {
        sql: format!(
            "INSERT INTO {}{cols} VALUES\n{}\nON CONFLICT DO NOTHING;",
            quoted(&name),
            values.join(",\n")
        ),
        table: Some(name),
        at: (at.line, at.column),
    });
    Ok(())
}

/// One field of COPY's text format as an SQL literal: `\N` is NULL; backslash escapes decoded.
fn copy_literal(field: &str) -> String {
    if field == "\\N" {
        return "NULL".into();
    }
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some(d @ '0'..='7') => {
                let first = d.to_digit(8).unwrap_or(0);
                out.push(numeric_escape(&mut chars, first, 8));
            }
            Some('x') => out.push(numeric_escape(&mut chars, 0, 16)),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    format!("'{}'", out.replace('\'', "''"))
}

/// The rest of a `\ddd` (octal) or `\xhh` (hex) escape: up to two more digits in `radix`
/// after `first`, and the character they number.
fn numeric_escape(chars: &mut Peekable<Chars<'_>>, first: u32, radix: u32) -> char {
    let mut v = first;
    for _ in 0..2 {
        match chars.peek().and_then(|c| c.to_digit(radix)) {
            Some(n) => {
                v = v * radix + n;
                chars.next();
            }
            None => break,
        }
    }
    char::from_u32(v).unwrap_or('\u{fffd}')
}
