//! Procedures, functions, views and triggers: headers parsed, bodies kept verbatim.
//!
//! SQL Server wants each of these alone in its batch; files written for other tools (sqldef) put
//! them between other statements without `GO`. A module is only its own statement, by one rule:
//! a view ends with its query (a top-level `;` or the start of another statement), a function
//! with its `BEGIN ... END` block or its `RETURN` query, and a procedure or trigger runs to the
//! end of its batch, as SQL Server compiles it, unless the batch goes on with a top-level CREATE
//! no body can hold (VIEW, PROCEDURE, FUNCTION, TRIGGER, SCHEMA), which starts a statement of its
//! own. Statements before a module are statements of their own too.

use sqlparser::tokenizer::Token;

use super::cursor::{Cursor, Tok};
use super::{TsqlBuilder, data_type, qualify, schema_ref, script};
use crate::error::Result;
use crate::model::kind;
use crate::model::kind::prop;
use crate::model::{Annotation, Element, ObjectName, Property, Reference, Value};

/// Options in `WITH ...` of a module header.
#[derive(Default)]
struct Options {
    props: Vec<(&'static str, bool)>,
}

impl TsqlBuilder {
    /// `CREATE [OR ALTER] PROCEDURE|FUNCTION|VIEW|TRIGGER` (the cursor is after CREATE [OR ALTER]).
    pub(super) fn create_module(
        &mut self,
        c: &mut Cursor,
        start: usize,
        _toks: &[Tok],
    ) -> Result<()> {
        if c.eat_kw("PROCEDURE") || c.eat_kw("PROC") {
            return self.procedure(c, start);
        }
        if c.eat_kw("FUNCTION") {
            return self.function(c, start);
        }
        if c.eat_kw("VIEW") {
            return self.view(c, start);
        }
        if c.eat_kw("TRIGGER") {
            return self.trigger(c, start);
        }
        Err(c.expected("PROCEDURE, FUNCTION, VIEW or TRIGGER"))
    }

    fn procedure(&mut self, c: &mut Cursor, start: usize) -> Result<()> {
        let name = qualify(c.object_name()?);
        if c.eat(&Token::SemiColon) {
            c.number()?; // numbered procedure
        }
        let parenthesized = c.eat(&Token::LParen);
        let params = parameters(c, &name, parenthesized)?;
        if parenthesized {
            c.expect(&Token::RParen, "`)` after the parameters")?;
        }
        let options = if c.eat_kw("WITH") {
            module_options(c)?
        } else {
            Options::default()
        };
        c.eat_kws(&["FOR", "REPLICATION"]);
        if !c.is_kw("AS") {
            return Err(c.expected("AS before the procedure body"));
        }
        let as_tok = c.pos;
        c.pos += 1;
        let end = with_semicolons(c, routine_end(c, as_tok + 1));
        let body = body_text(c, as_tok + 1, end);
        let mut el = Element::new(kind::PROCEDURE)
            .named(name.clone())
            .with(prop::BODY_SCRIPT, script(body));
        apply_options(&mut el, &options);
        el.set_prop(prop::IS_ANSI_NULLS_ON, Value::Bool(true));
        for p in params {
            el.push_child(kind::rel::PARAMETERS, p);
        }
        el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        el.annotations.push(sys_comments(c, start, as_tok, end));
        c.pos = end;
        self.push(el);
        Ok(())
    }

    fn function(&mut self, c: &mut Cursor, start: usize) -> Result<()> {
        let name = qualify(c.object_name()?);
        c.expect(&Token::LParen, "`(` and the function parameters")?;
        let params = parameters(c, &name, true)?;
        c.expect(&Token::RParen, "`)` after the parameters")?;
        c.expect_kw("RETURNS")?;
        let mut return_type = None;
        let mut return_variable = None;
        let kind_name = if c.eat_kw("TABLE") {
            kind::INLINE_TVF
        } else if matches!(c.peek(), Some(Token::Word(w)) if w.value.starts_with('@') && w.quote_style.is_none())
        {
            return_variable = Some(c.ident()?);
            c.expect_kw("TABLE")?;
            c.skip_group()?;
            kind::MULTI_TVF
        } else {
            return_type = Some(data_type(c)?);
            kind::SCALAR_FUNCTION
        };
        let options = if c.eat_kw("WITH") {
            module_options(c)?
        } else {
            Options::default()
        };
        let header_end;
        if c.is_kw("AS") {
            header_end = c.pos;
            c.pos += 1;
        } else if !c.at_end() {
            header_end = c.pos - 1;
        } else {
            return Err(c.expected("AS and the function body"));
        }
        let body_start = c.pos;
        if c.at_end() {
            return Err(c.expected("the function body"));
        }
        let end = with_semicolons(c, function_end(c, body_start));
        let body = body_text(c, body_start, end);
        let mut el = Element::new(kind_name).named(name.clone());
        if let Some(var) = return_variable {
            el.set_prop(prop::RETURN_TABLE_VARIABLE, Value::Text(var));
        }
        apply_options(&mut el, &options);
        el.set_prop(prop::IS_ANSI_NULLS_ON, Value::Bool(true));
        let mut implementation =
            Element::new(kind::FUNCTION_IMPLEMENTATION).with(prop::BODY_SCRIPT, script(body));
        implementation
            .annotations
            .push(sys_comments(c, start, header_end, end));
        el.push_child(kind::rel::FUNCTION_BODY, implementation);
        for p in params {
            el.push_child(kind::rel::PARAMETERS, p);
        }
        el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        if let Some(t) = return_type {
            el.push_child("Type", t);
        }
        c.pos = end;
        self.push(el);
        Ok(())
    }

    fn view(&mut self, c: &mut Cursor, start: usize) -> Result<()> {
        let name = qualify(c.object_name()?);
        if c.is(&Token::LParen) {
            c.skip_group()?;
        }
        let options = if c.eat_kw("WITH") {
            module_options(c)?
        } else {
            Options::default()
        };
        if !c.is_kw("AS") {
            return Err(c.expected("AS before the view query"));
        }
        let as_tok = c.pos;
        c.pos += 1;
        let mut end = query_end(c, c.pos);
        let statement_end = with_semicolons(c, end);
        let mut check_option = false;
        if end >= c.pos + 3 {
            let mut probe = Cursor::new(c.toks, c.batch);
            probe.pos = end - 3;
            if probe.is_kws(&["WITH", "CHECK", "OPTION"]) {
                check_option = true;
                end -= 3;
            }
        }
        if end <= c.pos {
            return Err(c.expected("the view query"));
        }
        let body = &c.src()[c.toks[as_tok].end..c.toks[end - 1].end];
        let mut el = Element::new(kind::VIEW)
            .named(name.clone())
            .with(prop::QUERY_SCRIPT, script(body));
        apply_options(&mut el, &options);
        if check_option {
            el.set_prop(prop::IS_WITH_CHECK_OPTION, Value::Bool(true));
        }
        el.set_prop(prop::IS_ANSI_NULLS_ON, Value::Bool(true));
        el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        el.annotations
            .push(sys_comments(c, start, as_tok, statement_end));
        c.pos = statement_end;
        self.push(el);
        Ok(())
    }

    fn trigger(&mut self, c: &mut Cursor, start: usize) -> Result<()> {
        let parts = c.object_name()?;
        c.expect_kw("ON")?;
        if c.is_kw("DATABASE") || c.is_kws(&["ALL", "SERVER"]) {
            let database = c.eat_kw("DATABASE");
            if !database {
                c.pos += 2;
            }
            let name = ObjectName::new([parts.last().cloned().unwrap_or_default()]);
            let as_tok = find_as(c)?;
            let end = with_semicolons(c, routine_end(c, as_tok + 1));
            let body = body_text(c, as_tok + 1, end);
            let mut el = Element::new(if database {
                "SqlDatabaseDdlTrigger"
            } else {
                "SqlServerDdlTrigger"
            })
            .named(name)
            .with(prop::BODY_SCRIPT, script(body));
            el.set_prop(prop::DEFINITION, script(c.text(start, end)));
            el.annotations.push(sys_comments(c, start, as_tok, end));
            c.pos = end;
            self.push(el);
            return Ok(());
        }
        let parent = qualify(c.object_name()?);
        let name = if parts.len() == 1 {
            ObjectName::new([parent.first().to_string(), parts[0].clone()])
        } else {
            qualify(parts)
        };
        let options = if c.eat_kw("WITH") {
            module_options(c)?
        } else {
            Options::default()
        };
        let trigger_type = if c.eat_kw("FOR") || c.eat_kw("AFTER") {
            2
        } else if c.eat_kws(&["INSTEAD", "OF"]) {
            3
        } else {
            return Err(c.expected("FOR, AFTER or INSTEAD OF"));
        };
        let (mut insert, mut update, mut delete) = (false, false, false);
        loop {
            if c.eat_kw("INSERT") {
                insert = true;
            } else if c.eat_kw("UPDATE") {
                update = true;
            } else if c.eat_kw("DELETE") {
                delete = true;
            } else {
                return Err(c.expected("INSERT, UPDATE or DELETE"));
            }
            if !c.eat(&Token::Comma) {
                break;
            }
        }
        c.eat_kws(&["WITH", "APPEND"]);
        let nfr = c.eat_kws(&["NOT", "FOR", "REPLICATION"]);
        if !c.is_kw("AS") {
            return Err(c.expected("AS before the trigger body"));
        }
        let as_tok = c.pos;
        let end = with_semicolons(c, routine_end(c, as_tok + 1));
        let body = body_text(c, as_tok + 1, end);
        let mut el = Element::new(kind::DML_TRIGGER).named(name);
        if delete {
            el.set_prop(prop::IS_DELETE_TRIGGER, Value::Bool(true));
        }
        if insert {
            el.set_prop(prop::IS_INSERT_TRIGGER, Value::Bool(true));
        }
        if update {
            el.set_prop(prop::IS_UPDATE_TRIGGER, Value::Bool(true));
        }
        if nfr {
            el.set_prop(prop::IS_NOT_FOR_REPLICATION, Value::Bool(true));
        }
        el.set_prop(prop::SQL_TRIGGER_TYPE, Value::Int(trigger_type));
        el.set_prop(prop::BODY_SCRIPT, script(body));
        apply_options(&mut el, &options);
        el.set_prop(prop::IS_ANSI_NULLS_ON, Value::Bool(true));
        el.push_ref(kind::rel::PARENT, Reference::to(parent));
        el.annotations.push(sys_comments(c, start, as_tok, end));
        c.pos = end;
        self.push(el);
        Ok(())
    }
}

/// The first top-level `AS` from the cursor.
fn find_as(c: &mut Cursor) -> Result<usize> {
    let mut depth = 0usize;
    while let Some(t) = c.peek() {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth == 0 && c.is_kw("AS") => return Ok(c.pos),
            _ => {}
        }
        c.pos += 1;
    }
    Err(c.expected("AS before the body"))
}

/// Text from token `from` (its preceding whitespace included, as DacFx keeps the newline after
/// `AS`) to the last token before `end`.
fn body_text<'a>(c: &Cursor<'a>, from: usize, end: usize) -> &'a str {
    let Some(last) = end.checked_sub(1).and_then(|i| c.toks.get(i)) else {
        return "";
    };
    let begin = if from == 0 { 0 } else { c.toks[from - 1].end };
    if begin >= last.end {
        return "";
    }
    &c.src()[begin..last.end]
}

/// Keywords that start a statement: where a view's query (or an inline function's) ends when
/// more statements follow it in its batch.
const STATEMENT_STARTS: &[&str] = &[
    "CREATE", "ALTER", "DROP", "GRANT", "DENY", "REVOKE", "EXEC", "EXECUTE", "INSERT", "UPDATE",
    "DELETE", "MERGE", "TRUNCATE", "DECLARE", "SET", "PRINT", "IF", "BEGIN", "USE",
];

/// Whether token `i` is the unquoted keyword `kw` (and not a name after a `.`).
fn is_word(c: &Cursor, i: usize, kw: &str) -> bool {
    matches!(&c.toks[i].token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
        && (i == 0 || c.toks[i - 1].token != Token::Period)
}

/// Where a query starting at token `from` ends: its top-level `;`, the start of another
/// statement, or the end of the batch.
fn query_end(c: &Cursor, from: usize) -> usize {
    let mut depth = 0usize;
    for i in from..c.toks.len() {
        match &c.toks[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::SemiColon if depth == 0 => return i,
            _ if depth == 0 && i > from && STATEMENT_STARTS.iter().any(|k| is_word(c, i, k)) => {
                return i;
            }
            _ => {}
        }
    }
    c.toks.len()
}

/// Change in BEGIN/CASE ... END nesting at token `i`: BEGIN (not BEGIN TRAN, DIALOG,
/// CONVERSATION...) and CASE open, END (not END CONVERSATION) closes.
fn block_step(c: &Cursor, i: usize) -> i32 {
    let next_is =
        |words: &[&str]| i + 1 < c.toks.len() && words.iter().any(|w| is_word(c, i + 1, w));
    if is_word(c, i, "BEGIN")
        && !next_is(&[
            "TRAN",
            "TRANSACTION",
            "DISTRIBUTED",
            "DIALOG",
            "CONVERSATION",
        ])
    {
        return 1;
    }
    if is_word(c, i, "CASE") {
        return 1;
    }
    if is_word(c, i, "END") && !next_is(&["CONVERSATION"]) {
        return -1;
    }
    0
}

/// The token after the END that closes the block opened at `begin`, or the end of the batch.
fn block_end(c: &Cursor, begin: usize) -> usize {
    let mut depth = 0i32;
    for i in begin..c.toks.len() {
        depth += block_step(c, i);
        if depth == 0 {
            return i + 1;
        }
    }
    c.toks.len()
}

/// Where a function's body starting at `from` ends: its BEGIN ... END block, else its RETURN
/// query (or EXTERNAL NAME) as a query ends.
fn function_end(c: &Cursor, from: usize) -> usize {
    if from < c.toks.len() && is_word(c, from, "BEGIN") {
        block_end(c, from)
    } else {
        query_end(c, from)
    }
}

/// Where a procedure's or trigger's body starting at `from` ends: the end of its batch, as SQL
/// Server compiles it, unless the batch goes on with a top-level CREATE that no body can hold
/// (VIEW, PROCEDURE, FUNCTION, TRIGGER, SCHEMA: "must be the first statement in a batch"),
/// which can only be a statement of its own written without `GO` before it.
fn routine_end(c: &Cursor, from: usize) -> usize {
    let mut parens = 0usize;
    let mut blocks = 0i32;
    for i in from..c.toks.len() {
        match &c.toks[i].token {
            Token::LParen => parens += 1,
            Token::RParen => parens = parens.saturating_sub(1),
            _ if parens == 0 => {
                blocks = (blocks + block_step(c, i)).max(0);
                if blocks == 0 && i > from && is_word(c, i, "CREATE") {
                    let mut k = i + 1;
                    if k + 1 < c.toks.len() && is_word(c, k, "OR") && is_word(c, k + 1, "ALTER") {
                        k += 2;
                    }
                    let batch_only = ["VIEW", "PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "SCHEMA"];
                    if k < c.toks.len() && batch_only.iter().any(|w| is_word(c, k, w)) {
                        return i;
                    }
                }
            }
            _ => {}
        }
    }
    c.toks.len()
}

/// `end` moved past the `;`s that close the statement.
fn with_semicolons(c: &Cursor, mut end: usize) -> usize {
    while end < c.toks.len() && c.toks[end].token == Token::SemiColon {
        end += 1;
    }
    end
}

/// `SysCommentsObjectAnnotation` as DacFx writes it: where the CREATE statement starts in its
/// text (the batch, or what follows the statement before it), its length up to token `end`, and
/// the header text up to the end of `AS`.
fn sys_comments(c: &Cursor, start: usize, header_end: usize, end: usize) -> Annotation {
    let src = c.src();
    let create_at = c.toks[start].start;
    // The statement's text starts with the batch, or after the statement before it.
    let text_start = match start.checked_sub(1) {
        None => 0,
        Some(before) => {
            let after = c.toks[before].end;
            after + (src[after..create_at].len() - src[after..create_at].trim_start().len())
        }
    };
    let statement_end = end
        .checked_sub(1)
        .and_then(|i| c.toks.get(i))
        .map_or(create_at, |t| t.end);
    let header_to = c.toks.get(header_end).map_or(statement_end, |t| t.end);
    let (line, column) = {
        let before = &src[..text_start];
        let line = before.matches('\n').count() as u64 + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() as u64 + 1;
        let (_, l, col) = c.batch.locate(line, column);
        (l, col)
    };
    let prop = |name: &str, value: Value| Property {
        name: name.into(),
        value,
    };
    Annotation::Inline {
        kind: "SysCommentsObjectAnnotation".into(),
        name: None,
        disambiguator: None,
        properties: vec![
            prop(
                "CreateOffset",
                Value::Int(src[text_start..create_at].chars().count() as i64),
            ),
            prop(
                "Length",
                Value::Int(src[create_at..statement_end].chars().count() as i64),
            ),
            prop("StartLine", Value::Int(line as i64)),
            prop("StartColumn", Value::Int(column as i64)),
            prop(
                "HeaderContents",
                Value::Text(src[text_start..header_to].to_string()),
            ),
        ],
    }
}

/// Parameters `@p [AS] type [VARYING] [NULL] [= default] [OUT|OUTPUT] [READONLY], ...`.
fn parameters(c: &mut Cursor, owner: &ObjectName, parenthesized: bool) -> Result<Vec<Element>> {
    let mut out = Vec::new();
    let is_param = |c: &Cursor| matches!(c.peek(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.starts_with('@'));
    if !is_param(c) {
        if parenthesized && !c.is(&Token::RParen) {
            return Err(c.expected("a parameter name starting with @"));
        }
        return Ok(out);
    }
    loop {
        if !is_param(c) {
            return Err(c.expected("a parameter name starting with @"));
        }
        let name = c.ident()?;
        c.eat_kw("AS");
        let spec = data_type(c)?;
        let mut el = Element::new(kind::PARAMETER).named(owner.child(&name));
        c.eat_kw("VARYING");
        if !c.eat_kw("NULL") {
            c.eat_kws(&["NOT", "NULL"]);
        }
        let mut default = None;
        if c.eat(&Token::Eq) {
            let (a, b) = c.expression(&|c| {
                c.is_kw("OUT")
                    || c.is_kw("OUTPUT")
                    || c.is_kw("READONLY")
                    || c.is_kw("WITH")
                    || c.is_kw("AS")
                    || c.is_kw("FOR")
            })?;
            default = Some(c.text(a, b).to_string());
        }
        let mut output = false;
        let mut readonly = false;
        loop {
            if c.eat_kw("OUT") || c.eat_kw("OUTPUT") {
                output = true;
            } else if c.eat_kw("READONLY") {
                readonly = true;
            } else {
                break;
            }
        }
        if output {
            el.set_prop(prop::IS_OUTPUT, Value::Bool(true));
        }
        if readonly {
            el.set_prop(prop::IS_READ_ONLY, Value::Bool(true));
        }
        if let Some(d) = default {
            el.set_prop(prop::DEFAULT_EXPRESSION_SCRIPT, script(&d));
        }
        el.push_child("Type", spec);
        out.push(el);
        if !c.eat(&Token::Comma) {
            break;
        }
    }
    Ok(out)
}

/// `WITH opt, opt ...` of procedures, functions, views and triggers.
fn module_options(c: &mut Cursor) -> Result<Options> {
    let mut options = Options::default();
    loop {
        if c.eat_kws(&["EXECUTE", "AS"]) || c.eat_kws(&["EXEC", "AS"]) {
            if c.eat_kw("CALLER") {
                // the default
            } else if c.eat_kw("OWNER") {
                options.props.push(("IsCaller", false));
                options.props.push(("IsOwner", true));
            } else if c.eat_kw("SELF") {
                options.props.push(("IsCaller", false));
                options.props.push(("IsSelf", true));
            } else if c.string().is_some() {
                options.props.push(("IsCaller", false));
            } else {
                return Err(c.expected("CALLER, SELF, OWNER or a user name"));
            }
        } else if c.eat_kw("RECOMPILE") {
            options.props.push(("IsRecompiled", true));
        } else if c.eat_kw("ENCRYPTION") {
            options.props.push(("IsEncrypted", true));
        } else if c.eat_kw("SCHEMABINDING") {
            options.props.push(("IsSchemaBound", true));
        } else if c.eat_kw("NATIVE_COMPILATION") {
            options.props.push(("IsNativelyCompiled", true));
        } else if c.eat_kw("VIEW_METADATA") {
            options.props.push(("WithViewMetadata", true));
        } else if c.eat_kws(&["RETURNS", "NULL", "ON", "NULL", "INPUT"]) {
            options.props.push(("DoReturnNullForNullInput", true));
        } else if c.eat_kws(&["CALLED", "ON", "NULL", "INPUT"]) {
        } else if c.eat_kw("INLINE") {
            c.expect(&Token::Eq, "`=`")?;
            if !(c.eat_kw("ON") || c.eat_kw("OFF")) {
                return Err(c.expected("ON or OFF"));
            }
        } else {
            return Err(c.expected("a module option (EXECUTE AS, SCHEMABINDING, RECOMPILE, ...)"));
        }
        if !c.eat(&Token::Comma) {
            return Ok(options);
        }
    }
}

fn apply_options(el: &mut Element, options: &Options) {
    for (name, value) in &options.props {
        el.set_prop(name, Value::Bool(*value));
    }
}
