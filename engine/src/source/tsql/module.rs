//! Procedures, functions, views and triggers: headers parsed, bodies kept verbatim.

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
        let body = body_text(c, as_tok + 1);
        let mut el = Element::new(kind::PROCEDURE)
            .named(name.clone())
            .with(prop::BODY_SCRIPT, script(body));
        apply_options(&mut el, &options);
        el.set_prop(prop::IS_ANSI_NULLS_ON, Value::Bool(true));
        for p in params {
            el.push_child(kind::rel::PARAMETERS, p);
        }
        el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        el.annotations.push(sys_comments(c, start, as_tok));
        c.pos = c.toks.len();
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
        let body = body_text(c, body_start);
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
            .push(sys_comments(c, start, header_end));
        el.push_child(kind::rel::FUNCTION_BODY, implementation);
        for p in params {
            el.push_child(kind::rel::PARAMETERS, p);
        }
        el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        if let Some(t) = return_type {
            el.push_child("Type", t);
        }
        c.pos = c.toks.len();
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
        let mut end = c.toks.len();
        while end > c.pos && c.toks[end - 1].token == Token::SemiColon {
            end -= 1;
        }
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
        el.annotations.push(sys_comments(c, start, as_tok));
        c.pos = c.toks.len();
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
            let body = body_text(c, as_tok + 1);
            let mut el = Element::new(if database {
                "SqlDatabaseDdlTrigger"
            } else {
                "SqlServerDdlTrigger"
            })
            .named(name)
            .with(prop::BODY_SCRIPT, script(body));
            el.set_prop(prop::DEFINITION, script(c.text(start, c.toks.len())));
            el.annotations.push(sys_comments(c, start, as_tok));
            c.pos = c.toks.len();
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
        let body = body_text(c, as_tok + 1);
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
        el.annotations.push(sys_comments(c, start, as_tok));
        c.pos = c.toks.len();
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
/// `AS`) to the last token of the batch.
fn body_text<'a>(c: &Cursor<'a>, from: usize) -> &'a str {
    let Some(last) = c.toks.last() else {
        return "";
    };
    let begin = if from == 0 { 0 } else { c.toks[from - 1].end };
    if begin >= last.end {
        return "";
    }
    &c.src()[begin..last.end]
}

/// `SysCommentsObjectAnnotation` as DacFx writes it: where the CREATE statement starts in the
/// batch, its length, and the header text up to the end of `AS`.
fn sys_comments(c: &Cursor, start: usize, header_end: usize) -> Annotation {
    let src = c.src();
    let create_at = c.toks[start].start;
    let end = c.toks.last().map_or(create_at, |t| t.end);
    let header_to = c.toks.get(header_end).map_or(end, |t| t.end);
    let (line, column) = {
        let (_, l, col) = c.batch.locate(1, 1);
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
                Value::Int(src[..create_at].chars().count() as i64),
            ),
            prop(
                "Length",
                Value::Int(src[create_at..end].chars().count() as i64),
            ),
            prop("StartLine", Value::Int(line as i64)),
            prop("StartColumn", Value::Int(column as i64)),
            prop("HeaderContents", Value::Text(src[..header_to].to_string())),
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
