//! A syntax check for single T-SQL statements, as the SQL Server dialect writes them.
//!
//! CREATE statements (and ALTER of modules) go through the project's own DDL parser, which reads
//! real SSDT projects; `ALTER TABLE ... ADD` goes through it too, against a stand-in table.
//! `ALTER TABLE ... ALTER COLUMN` and `ALTER SCHEMA ... TRANSFER`, which sqlparser does not read
//! in their T-SQL form, have small parsers here; everything else (DROP, EXECUTE, IF/BEGIN/END
//! blocks, DECLARE, RAISERROR, PRINT, INSERT) goes to sqlparser's MsSql dialect. A statement
//! passes only when a parser consumes all of it.

use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::cursor::{self, Cursor};
use super::{TsqlBuilder, data_type, qualify};
use crate::model::{Element, kind};
use crate::source::sqlcmd::Batch;

/// Module kinds whose `ALTER` is checked as the equivalent `CREATE`.
const MODULE_KINDS: &[&str] = &["VIEW", "PROCEDURE", "PROC", "FUNCTION", "TRIGGER"];

/// Checks that `sql` is one syntactically valid T-SQL statement (a trailing `;` is allowed).
/// The error names what was expected and where.
pub fn check_statement(sql: &str) -> Result<(), String> {
    let batch = Batch::from_text(sql);
    let toks = cursor::tokenize(&batch).map_err(|e| e.to_string())?;
    if toks.iter().all(|t| t.token == Token::SemiColon) {
        return Err("empty statement".into());
    }
    let c = Cursor::new(&toks, &batch);
    if c.is_kw("CREATE") {
        return with_builder(&batch, None);
    }
    if c.is_kw("ALTER") && MODULE_KINDS.iter().any(|k| c.is_kw_at(1, k)) {
        // ALTER VIEW/PROCEDURE/...: the same grammar as CREATE.
        let text = format!("{}CREATE{}", &sql[..toks[0].start], &sql[toks[0].end..]);
        return with_builder(&Batch::from_text(&text), None);
    }
    if c.is_kws(&["ALTER", "TABLE"]) {
        return alter_table(&batch, &toks);
    }
    if c.is_kws(&["ALTER", "SCHEMA"]) {
        return alter_schema(&batch, &toks);
    }
    execute_strings(&c)?;
    let statements = Parser::parse_sql(&MsSqlDialect {}, sql).map_err(|e| e.to_string())?;
    if statements.is_empty() {
        return Err("empty statement".into());
    }
    Ok(())
}

/// `EXECUTE ( ... )` runs a string made of literals and variables joined by `+`, nothing else
/// (no function calls: SqlScriptDOM's `execSqlList`); sqlparser takes any expression.
fn execute_strings(c: &Cursor) -> Result<(), String> {
    let toks = c.toks;
    for (i, tok) in toks.iter().enumerate() {
        let is_execute = matches!(&tok.token, Token::Word(w) if w.quote_style.is_none()
            && (w.value.eq_ignore_ascii_case("EXEC") || w.value.eq_ignore_ascii_case("EXECUTE")));
        if !is_execute || toks.get(i + 1).map(|t| &t.token) != Some(&Token::LParen) {
            continue;
        }
        let mut expect_operand = true;
        let mut j = i + 2;
        loop {
            let Some(t) = toks.get(j) else {
                return Err(format!("line {}: EXECUTE ( without `)`", tok.line));
            };
            let operand = match &t.token {
                Token::SingleQuotedString(_) | Token::NationalStringLiteral(_) => true,
                Token::Word(w) => w.quote_style.is_none() && w.value.starts_with('@'),
                _ => false,
            };
            match (&t.token, expect_operand) {
                (_, true) if operand => expect_operand = false,
                (Token::Plus, false) => expect_operand = true,
                (Token::RParen, false) => break,
                _ => {
                    return Err(format!(
                        "line {}, column {}: EXECUTE (...) takes only string literals and variables joined by +, found `{}`",
                        t.line, t.column, t.token
                    ));
                }
            }
            j += 1;
        }
    }
    Ok(())
}

/// Parses the batch with the DDL parser, optionally with a table defined beforehand (for
/// `ALTER TABLE ... ADD column`).
fn with_builder(batch: &Batch, table: Option<Element>) -> Result<(), String> {
    let mut builder = TsqlBuilder::new();
    if let Some(table) = table {
        builder.push(table);
    }
    builder.add_batch(batch).map_err(|e| e.to_string())
}

fn alter_table(batch: &Batch, toks: &[cursor::Tok]) -> Result<(), String> {
    let mut c = Cursor::new(toks, batch);
    c.pos = 2;
    let name = qualify(c.object_name().map_err(|e| e.to_string())?);
    if c.is_kw("ADD") || c.is_kws(&["WITH", "CHECK"]) || c.is_kws(&["WITH", "NOCHECK"]) {
        let table = Element::new(kind::TABLE).named(name);
        return with_builder(batch, Some(table));
    }
    if c.eat_kws(&["ALTER", "COLUMN"]) {
        let result = (|| -> crate::Result<()> {
            c.ident()?;
            data_type(&mut c)?;
            if c.eat_kw("COLLATE") {
                c.ident()?;
            }
            if !c.eat_kw("NULL") && c.eat_kw("NOT") {
                c.expect_kw("NULL")?;
            }
            c.skip_semicolons();
            if !c.at_end() {
                return Err(c.expected("the end of the statement"));
            }
            Ok(())
        })();
        return result.map_err(|e| e.to_string());
    }
    Parser::parse_sql(&MsSqlDialect {}, &batch.text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `ALTER SCHEMA s TRANSFER [OBJECT:: | TYPE:: | XML SCHEMA COLLECTION::] name`.
fn alter_schema(batch: &Batch, toks: &[cursor::Tok]) -> Result<(), String> {
    let mut c = Cursor::new(toks, batch);
    c.pos = 2;
    let result = (|| -> crate::Result<()> {
        c.ident()?;
        c.expect_kw("TRANSFER")?;
        let class = c.is_kw("OBJECT") || c.is_kw("TYPE");
        if class && c.peek_at(1) == Some(&Token::DoubleColon) {
            c.pos += 2;
        } else if c.is_kws(&["XML", "SCHEMA", "COLLECTION"])
            && c.peek_at(3) == Some(&Token::DoubleColon)
        {
            c.pos += 4;
        }
        c.object_name()?;
        c.skip_semicolons();
        if !c.at_end() {
            return Err(c.expected("the end of the statement"));
        }
        Ok(())
    })();
    result.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::check_statement;

    #[test]
    fn accepts_what_the_sql_server_dialect_writes() {
        let good = [
            "CREATE TABLE [dbo].[t] ([a] INT NOT NULL, [b] NVARCHAR (MAX) NULL, CONSTRAINT [pk] PRIMARY KEY CLUSTERED ([a] ASC))",
            "CREATE NONCLUSTERED INDEX [i] ON [dbo].[t]([a] ASC) WHERE ([a] IS NOT NULL)",
            "CREATE VIEW [dbo].[v]\nAS\nSELECT 1 AS N",
            "ALTER VIEW [dbo].[v]\nAS\nSELECT 2 AS N",
            "CREATE TRIGGER [dbo].[tr] ON [dbo].[t] AFTER INSERT\nAS\nSET NOCOUNT ON",
            "CREATE SEQUENCE [dbo].[s] AS INT START WITH 1 INCREMENT BY 1",
            "CREATE SCHEMA [x]",
            "CREATE ROLE [r]",
            "ALTER TABLE [dbo].[t] ADD [c] INT CONSTRAINT [df] DEFAULT 1 NOT NULL",
            "ALTER TABLE [dbo].[t] ADD CONSTRAINT [df] DEFAULT 1 FOR [c]",
            "ALTER TABLE [dbo].[t] ADD DEFAULT 1 FOR [c]",
            "ALTER TABLE [dbo].[t] ADD CONSTRAINT [fk] FOREIGN KEY ([a]) REFERENCES [dbo].[u] ([b]) ON DELETE CASCADE",
            "ALTER TABLE [dbo].[t] ALTER COLUMN [c] VARCHAR (100) NOT NULL",
            "ALTER TABLE [dbo].[t] ALTER COLUMN [c] NVARCHAR (20) COLLATE Latin1_General_CI_AS NULL;",
            "ALTER TABLE [dbo].[t] DROP COLUMN [c]",
            "ALTER TABLE [dbo].[t] DROP CONSTRAINT [pk]",
            "DROP TABLE [dbo].[t]",
            "DROP INDEX [i] ON [dbo].[t]",
            "EXECUTE sp_rename @objname = N'[dbo].[t].[a]', @newname = N'b', @objtype = N'COLUMN'",
            "ALTER SCHEMA [x] TRANSFER [dbo].[t]",
            "ALTER SCHEMA [x] TRANSFER TYPE::[dbo].[t]",
            "IF EXISTS (SELECT TOP 1 1 FROM [dbo].[t])\n    RAISERROR (N'Rows were detected.', 16, 127) WITH NOWAIT",
            "DECLARE @name sysname, @statement nvarchar(max);\nSELECT @name = name FROM sys.key_constraints WHERE parent_object_id = OBJECT_ID(N'[dbo].[t]') AND type = 'PK';\nIF @name IS NOT NULL\n    BEGIN\n        SET @statement = N'ALTER TABLE [dbo].[t] DROP CONSTRAINT ' + QUOTENAME(@name);\n        EXECUTE sp_executesql @statement;\n    END",
            "EXECUTE (N'DROP TABLE ' + @table + N';')",
            "IF EXISTS (SELECT TOP 1 1 FROM [dbo].[t])\n    BEGIN\n        SET IDENTITY_INSERT [dbo].[x] ON;\n        INSERT INTO [dbo].[x] ([a])\n        SELECT [a]\n        FROM [dbo].[t];\n        SET IDENTITY_INSERT [dbo].[x] OFF;\n    END",
            "PRINT N'x'",
        ];
        for sql in good {
            assert_eq!(check_statement(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn rejects_broken_statements() {
        let bad = [
            "CREATE TABLE [x] ([a] INT,,)",
            "CREATE TABLE [x] ([a] INT",
            "CREATE TABLE [x ([a] INT)",
            "CREATE TABLE [x] ([a] INT) garbage",
            "CREATE INDEX [i] ON [dbo].[t] [a]",
            "ALTER TABLE [dbo].[t] ALTER COLUMN [c] VARCHAR (100 NOT NULL",
            "ALTER TABLE [dbo].[t] ALTER COLUMN [c] INT NOT",
            "ALTER TABLE [dbo].[t] ADD CONSTRAINT [df] DEFAULT FOR [c]",
            "ALTER TABLE [dbo].[t] ADD [c] INT,,",
            "ALTER SCHEMA [x] TRANSFER",
            "DROP TABLE [dbo].[t] garbage",
            "DROP INDEX [i] ON",
            "EXECUTE sp_rename N'a', , N'b'",
            "IF EXISTS (SELECT 1 FROM [t] RAISERROR (N'x', 16, 127)",
            // EXECUTE (...) takes literals and variables only (SqlScriptDOM's execSqlList).
            "DECLARE @name sysname;\nIF @name IS NOT NULL\n    EXECUTE (N'ALTER TABLE [dbo].[t] DROP CONSTRAINT ' + QUOTENAME(@name))",
            "EXEC (N'a' + )",
            "EXEC ()",
            "",
            ";",
        ];
        for sql in bad {
            assert!(check_statement(sql).is_err(), "accepted: {sql}");
        }
    }
}
