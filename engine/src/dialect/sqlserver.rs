//! SQL Server (T-SQL): `[bracketed]` names, DacFx-style type spelling, GO batches with the SQLCMD
//! header sqlcmd runs, DacFx's data-loss guards and the `tmp_ms_xx_` table rebuild.

use super::{
    Capabilities, Dialect, ScriptFrame, copy_lists, standard_create_other, standard_drop_object,
    standard_render_step,
};
use crate::model::kind::prop;
use crate::model::view::{self, ColumnView, DataType};
use crate::model::{Annotation, Element, Entry, ObjectName, Platform, kind};
use crate::plan::{DEFINITION, Guard, Step, StepKind, TableDefinition};

/// The SQL Server dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct SqlServer;

/// Prefix DacFx gives the new table of a rebuild; kept so DBAs recognise the pattern.
const REBUILD_PREFIX: &str = "tmp_ms_xx_";

impl Dialect for SqlServer {
    fn platform(&self) -> Platform {
        Platform::SqlServer
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::SQL_SERVER
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("[{}]", ident.replace(']', "]]"))
    }

    fn string_literal(&self, text: &str) -> String {
        format!("N'{}'", text.replace('\'', "''"))
    }

    fn render_type(&self, data_type: &DataType) -> String {
        let base = if data_type.built_in {
            data_type.name.leaf().to_uppercase()
        } else {
            return self.quote_name(&data_type.name);
        };
        if data_type.is_max {
            return format!("{base} (MAX)");
        }
        match (data_type.length, data_type.precision, data_type.scale) {
            (Some(len), _, _) => format!("{base} ({len})"),
            (None, Some(p), Some(s)) => format!("{base} ({p}, {s})"),
            (None, Some(p), None) => format!("{base} ({p})"),
            (None, None, Some(s)) => format!("{base} ({s})"),
            _ => base,
        }
    }

    fn identity_clause(&self, seed: &str, increment: &str) -> String {
        format!("IDENTITY ({seed}, {increment})")
    }

    fn column_definition(&self, column: ColumnView<'_>, default: Option<&Element>) -> String {
        if let Some(expression) = column.computed_expression() {
            let mut text = self.quote_ident(column.name());
            text.push_str(&format!(" AS {expression}"));
            if column.is_persisted() {
                text.push_str(" PERSISTED");
                if !column.is_nullable() {
                    text.push_str(" NOT NULL");
                }
            }
            return text;
        }
        let mut text = self.column_name_and_type(column);
        let flag = |name: &str| column.0.bool_prop(name) == Some(true);
        if flag(prop::IS_FILE_STREAM) {
            text.push_str(" FILESTREAM");
        }
        text.push_str(&self.collate_clause(column));
        if flag(prop::IS_SPARSE) {
            text.push_str(" SPARSE");
        }
        if let Some(function) = column.0.text_prop(prop::MASKING_FUNCTION) {
            text.push_str(&format!(
                " MASKED WITH (FUNCTION = '{}')",
                function.replace('\'', "''")
            ));
        }
        if let Some(generated) = generated_always(column.0) {
            text.push_str(&format!(" GENERATED ALWAYS AS {generated}"));
            if flag(prop::IS_HIDDEN) {
                text.push_str(" HIDDEN");
            }
        }
        if let Some((seed, increment)) = column.identity() {
            text.push(' ');
            text.push_str(&self.identity_clause(&seed, &increment));
        }
        if column.0.bool_prop(prop::IS_ROW_GUID_COLUMN) == Some(true) {
            text.push_str(" ROWGUIDCOL");
        }
        if let Some(default) = default {
            text.push_str(&self.inline_default(default));
        }
        text.push_str(if column.is_nullable() {
            " NULL"
        } else {
            " NOT NULL"
        });
        text
    }

    fn create_table(&self, definition: &TableDefinition, name: Option<&ObjectName>) -> String {
        let text = super::standard_create_table(self, definition, name);
        // A system-versioned table's period is its ROW START and ROW END columns (DacFx keeps
        // no other record of it).
        let columns = || definition.table.children(kind::rel::COLUMNS);
        let period_column = |which: &str| {
            columns()
                .find(|c| generated_always(c).as_deref() == Some(which))
                .map(|c| self.quote_ident(c.name_or_empty().leaf()))
        };
        let (Some(start), Some(end)) = (period_column("ROW START"), period_column("ROW END"))
        else {
            return text;
        };
        let options = self.table_options(&definition.table);
        let body = text.strip_suffix(options.as_str()).unwrap_or(&text);
        let body = body.strip_suffix("\n)").unwrap_or(body);
        format!("{body},\n    PERIOD FOR SYSTEM_TIME ({start}, {end})\n){options}")
    }

    fn table_options(&self, table: &Element) -> String {
        let mut options = Vec::new();
        if table.bool_prop(prop::IS_MEMORY_OPTIMIZED) == Some(true) {
            options.push("MEMORY_OPTIMIZED = ON".to_string());
            let durability = match table.int_prop(prop::DURABILITY) {
                Some(1) => "SCHEMA_ONLY",
                _ => "SCHEMA_AND_DATA",
            };
            options.push(format!("DURABILITY = {durability}"));
        }
        let history = table.reference_name("TemporalSystemVersioningHistoryTable");
        if history.is_some() || table.int_prop("RetentionUnit").is_some() {
            let history = history
                .map(|h| format!(" (HISTORY_TABLE = {})", self.quote_name(h)))
                .unwrap_or_default();
            options.push(format!("SYSTEM_VERSIONING = ON{history}"));
        }
        if options.is_empty() {
            String::new()
        } else {
            format!(" WITH ({})", options.join(", "))
        }
    }

    fn key_options(&self, constraint: &Element) -> String {
        let default_clustered = constraint.kind == kind::PRIMARY_KEY;
        if constraint
            .bool_prop(prop::IS_CLUSTERED)
            .unwrap_or(default_clustered)
        {
            " CLUSTERED".into()
        } else {
            " NONCLUSTERED".into()
        }
    }

    fn index_kind_words(&self, index: &Element) -> String {
        if index.bool_prop(prop::IS_CLUSTERED) == Some(true) {
            "CLUSTERED ".into()
        } else {
            "NONCLUSTERED ".into()
        }
    }

    fn create_index(&self, index: &Element) -> Vec<String> {
        if index.kind != kind::COLUMN_STORE_INDEX || index.text_prop(DEFINITION).is_some() {
            return super::standard_create_index(self, index);
        }
        let table = index
            .reference_name(kind::rel::INDEXED_OBJECT)
            .map(|t| self.quote_name(t))
            .unwrap_or_default();
        let clustered = index.bool_prop(prop::IS_CLUSTERED) == Some(true);
        let mut text = format!(
            "CREATE {}COLUMNSTORE INDEX {} ON {table}",
            if clustered {
                "CLUSTERED "
            } else {
                "NONCLUSTERED "
            },
            self.quote_ident(index.name_or_empty().leaf())
        );
        // Columnstore columns take no ASC/DESC; a clustered one covers the whole table.
        let columns: Vec<String> = view::key_columns(index)
            .iter()
            .map(|k| self.quote_ident(k.column.leaf()))
            .collect();
        if !clustered && !columns.is_empty() {
            text.push_str(&format!(" ({})", columns.join(", ")));
        }
        if let Some(filter) = index.text_prop(prop::FILTER_PREDICATE) {
            text.push_str(&format!(" WHERE {filter}"));
        }
        vec![text]
    }

    fn drop_index(&self, index: &Element) -> Vec<String> {
        let table = index
            .reference_name(kind::rel::INDEXED_OBJECT)
            .map(|t| self.quote_name(t))
            .unwrap_or_default();
        vec![format!(
            "DROP INDEX {} ON {table}",
            self.quote_ident(index.name_or_empty().leaf())
        )]
    }

    fn script_opening(&self, frame: &ScriptFrame<'_>) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "/*\nDeployment script generated by dac {}.\nRun it with sqlcmd (or SSMS in SQLCMD mode).\n*/\nGO\n",
            env!("CARGO_PKG_VERSION")
        ));
        out.push_str("SET ANSI_NULLS, ANSI_PADDING, ANSI_WARNINGS, ARITHABORT, CONCAT_NULL_YIELDS_NULL, QUOTED_IDENTIFIER ON;\nSET NUMERIC_ROUNDABORT OFF;\nGO\n");
        for (name, value) in frame.variables {
            out.push_str(&format!(
                ":setvar {name} \"{}\"\n",
                value.replace('"', "\"\"")
            ));
        }
        if !frame.variables.is_empty() {
            out.push_str("GO\n");
        }
        out.push_str(":on error exit\nGO\n:setvar __IsSqlCmdEnabled \"True\"\nGO\n");
        out.push_str("IF N'$(__IsSqlCmdEnabled)' NOT LIKE N'True'\n    BEGIN\n        PRINT N'SQLCMD mode must be enabled to successfully execute this script.';\n        SET NOEXEC ON;\n    END\nGO\n");
        if frame.transactional {
            out.push_str("SET XACT_ABORT ON;\nGO\nBEGIN TRANSACTION;\nGO\n");
        }
        out
    }

    /// A batch is headed by its comment and a PRINT of it; every statement is its own `GO` batch.
    fn batch_text(&self, comment: &str, statements: &[String]) -> String {
        let mut out = format!("-- {comment}\n");
        out.push_str(&format!(
            "PRINT {};\nGO\n",
            self.string_literal(&format!("{comment}..."))
        ));
        for statement in statements {
            out.push_str(statement.trim_end());
            if !statement.trim_end().ends_with(';') && !ends_with_go(statement) {
                out.push(';');
            }
            out.push_str("\nGO\n");
        }
        out
    }

    fn script_closing(&self, frame: &ScriptFrame<'_>) -> String {
        let mut out = String::new();
        if frame.transactional {
            out.push_str("COMMIT TRANSACTION;\nGO\n");
        }
        out.push_str("PRINT N'Update complete.';\nGO\n");
        out
    }

    fn guard(&self, guard: &Guard) -> Vec<String> {
        vec![format!(
            "/*\n{}\n*/\nIF EXISTS (SELECT TOP 1 1 FROM {})\n    RAISERROR (N'Rows were detected. The schema update is terminating because data loss might occur.', 16, 127) WITH NOWAIT",
            guard.message.replace("*/", "* /"),
            self.quote_name(&guard.table)
        )]
    }

    fn rebuild_table(&self, step: &Step) -> Vec<String> {
        let Some(definition) = &step.table else {
            return Vec::new();
        };
        let schema = step.name.first().to_string();
        let temp = ObjectName::new([
            schema.clone(),
            format!("{REBUILD_PREFIX}{}", step.name.leaf()),
        ]);
        // Constraint names are schema-wide: the new table's keys take temporary names until the
        // old table is gone, then are renamed back, as DacFx does.
        let mut renamed = Vec::new();
        let temp_definition = TableDefinition {
            table: definition.table.clone(),
            constraints: definition
                .constraints
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if let Some(name) = &c.name {
                        let temp_name = format!("{REBUILD_PREFIX}constraint_{}", name.leaf());
                        renamed.push((
                            ObjectName::new([schema.clone(), temp_name.clone()]),
                            name.leaf().to_string(),
                        ));
                        c.name = Some(ObjectName::new([schema.clone(), temp_name]));
                    }
                    c
                })
                .collect(),
        };
        let mut out = vec![self.create_table(&temp_definition, Some(&temp))];
        if !step.copy.is_empty() {
            let (to, from) = copy_lists(self, step);
            let identity = view::TableView(&definition.table).columns().any(|c| {
                c.is_identity()
                    && step
                        .copy
                        .iter()
                        .any(|k| k.to.eq_ignore_ascii_case(c.name()))
            });
            let mut copy = format!(
                "IF EXISTS (SELECT TOP 1 1 FROM {})\n    BEGIN\n",
                self.quote_name(&step.name)
            );
            if identity {
                copy.push_str(&format!(
                    "        SET IDENTITY_INSERT {} ON;\n",
                    self.quote_name(&temp)
                ));
            }
            copy.push_str(&format!(
                "        INSERT INTO {} ({to})\n        SELECT {from}\n        FROM {};\n",
                self.quote_name(&temp),
                self.quote_name(&step.name)
            ));
            if identity {
                copy.push_str(&format!(
                    "        SET IDENTITY_INSERT {} OFF;\n",
                    self.quote_name(&temp)
                ));
            }
            copy.push_str("    END");
            out.push(copy);
        }
        out.push(format!("DROP TABLE {}", self.quote_name(&step.name)));
        out.push(format!(
            "EXECUTE sp_rename {}, {}",
            self.string_literal(&self.quote_name(&temp)),
            self.string_literal(step.name.leaf())
        ));
        for (temp_name, name) in renamed {
            out.push(format!(
                "EXECUTE sp_rename {}, {}, N'OBJECT'",
                self.string_literal(&self.quote_name(&temp_name)),
                self.string_literal(&name)
            ));
        }
        out.extend(self.recreate_dependents(step));
        out
    }

    fn alter_column(
        &self,
        table: &ObjectName,
        _current: &Element,
        desired: &Element,
    ) -> Vec<String> {
        let column = ColumnView(desired);
        let Some(data_type) = column.data_type() else {
            return Vec::new();
        };
        let collate = self.collate_clause(column);
        let null = if column.is_nullable() {
            "NULL"
        } else {
            "NOT NULL"
        };
        vec![format!(
            "ALTER TABLE {} ALTER COLUMN {} {}{collate} {null}",
            self.quote_name(table),
            self.quote_ident(column.name()),
            self.render_type(&data_type)
        )]
    }

    fn rename(&self, step: &Step) -> Vec<String> {
        let Some(from) = &step.renamed_from else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let object_type = match step.object_kind.as_str() {
            kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN => Some("COLUMN"),
            kind::INDEX | kind::COLUMN_STORE_INDEX => Some("INDEX"),
            kind::SCHEMA => None,
            _ => Some("OBJECT"),
        };
        let is_schema_scoped = !matches!(
            step.object_kind.as_str(),
            kind::SIMPLE_COLUMN
                | kind::COMPUTED_COLUMN
                | kind::INDEX
                | kind::COLUMN_STORE_INDEX
                | kind::SCHEMA
        );
        let mut current = from.clone();
        if is_schema_scoped && from.first() != step.name.first() {
            out.push(format!(
                "ALTER SCHEMA {} TRANSFER {}",
                self.quote_ident(step.name.first()),
                self.quote_name(from)
            ));
            current = ObjectName::new([step.name.first(), from.leaf()]);
        }
        if current.leaf() != step.name.leaf() {
            let mut statement = format!(
                "EXECUTE sp_rename @objname = {}, @newname = {}",
                self.string_literal(&self.quote_name(&current)),
                self.string_literal(step.name.leaf())
            );
            if let Some(object_type) = object_type {
                statement.push_str(&format!(", @objtype = N'{object_type}'"));
            }
            out.push(statement);
        }
        out
    }

    fn create_programmable(&self, element: &Element, replace: bool) -> Vec<String> {
        if let Some(definition) = element.text_prop(DEFINITION) {
            return vec![definition.to_string()];
        }
        let body = match element.kind.as_str() {
            kind::VIEW => element.text_prop(prop::QUERY_SCRIPT),
            kind::SCALAR_FUNCTION | kind::INLINE_TVF | kind::MULTI_TVF => element
                .children(kind::rel::FUNCTION_BODY)
                .find_map(|b| b.text_prop(prop::BODY_SCRIPT)),
            _ => element.text_prop(prop::BODY_SCRIPT),
        };
        let Some(body) = body else {
            return vec![format!(
                "-- dac cannot create {}: no body is known",
                element.label()
            )];
        };
        let header = header_contents(element).unwrap_or_else(|| self.synthesized_header(element));
        let mut text = format!(
            "{header}{}",
            if header.ends_with(char::is_whitespace) || body.starts_with(char::is_whitespace) {
                ""
            } else {
                "\n"
            }
        );
        text.push_str(body);
        if replace {
            text = replace_create_with_alter(&text);
        }
        vec![text]
    }

    fn add_default(&self, default: &Element) -> Vec<String> {
        let (Some(table), Some(column)) = (
            view::owner(default),
            default.reference_name(kind::rel::FOR_COLUMN),
        ) else {
            return Vec::new();
        };
        let name = default
            .name
            .as_ref()
            .map(|n| format!("CONSTRAINT {} ", self.quote_ident(n.leaf())))
            .unwrap_or_default();
        vec![format!(
            "ALTER TABLE {} ADD {name}DEFAULT {} FOR {}",
            self.quote_name(table),
            default
                .text_prop(prop::DEFAULT_EXPRESSION_SCRIPT)
                .unwrap_or("NULL"),
            self.quote_ident(column.leaf())
        )]
    }

    fn record_refactor_log(&self, keys: &[String]) -> Vec<String> {
        // OperationKey is a UNIQUEIDENTIFIER: keys that are not GUIDs cannot be recorded.
        let keys: Vec<&String> = keys.iter().filter(|k| is_guid(k)).collect();
        if keys.is_empty() {
            return Vec::new();
        }
        let mut out = vec![
            "IF OBJECT_ID(N'dbo.__RefactorLog') IS NULL\nBEGIN\n    CREATE TABLE [dbo].[__RefactorLog] (OperationKey UNIQUEIDENTIFIER NOT NULL PRIMARY KEY)\n    EXEC sp_addextendedproperty N'microsoft_database_tools_support', N'refactoring log', N'schema', N'dbo', N'table', N'__RefactorLog'\nEND".to_string(),
        ];
        for key in keys {
            out.push(format!(
                "IF NOT EXISTS (SELECT OperationKey FROM [dbo].[__RefactorLog] WHERE OperationKey = '{key}')\nINSERT INTO [dbo].[__RefactorLog] (OperationKey) VALUES ('{key}')"
            ));
        }
        out
    }

    fn create_other(&self, element: &Element) -> Vec<String> {
        match element.kind.as_str() {
            kind::SYNONYM => {
                if let Some(target) = element.text_prop(prop::FOR_OBJECT_SCRIPT) {
                    // The target as written: a three- or four-part name stays one.
                    return vec![format!(
                        "CREATE SYNONYM {} FOR {}",
                        self.quote_name(&element.name_or_empty()),
                        target.trim()
                    )];
                }
            }
            kind::USER => {
                if let Some(statement) = self.create_user(element) {
                    return vec![statement];
                }
            }
            kind::USER_DEFINED_DATA_TYPE => {
                if let Some(statement) = self.create_alias_type(element) {
                    return vec![statement];
                }
            }
            kind::TABLE_TYPE => return vec![self.create_table_type(element)],
            kind::XML_SCHEMA_COLLECTION => {
                if let Some(statement) = self.create_xml_schema_collection(element) {
                    return vec![statement];
                }
            }
            kind::XML_INDEX => {
                if let Some(statement) = self.create_xml_index(element) {
                    return vec![statement];
                }
            }
            kind::PERMISSION => {
                if let Some(statement) = self.permission_statement(element, false) {
                    return vec![statement];
                }
            }
            kind::ROLE_MEMBERSHIP => {
                if let Some(statement) = self.role_membership(element, true) {
                    return vec![statement];
                }
            }
            _ => {}
        }
        standard_create_other(self, element)
    }

    fn drop_object(&self, element: &Element) -> Vec<String> {
        let statement = match element.kind.as_str() {
            kind::PERMISSION => self.permission_statement(element, true),
            kind::ROLE_MEMBERSHIP => self.role_membership(element, false),
            kind::XML_SCHEMA_COLLECTION => Some(format!(
                "DROP XML SCHEMA COLLECTION {}",
                self.quote_name(&element.name_or_empty())
            )),
            kind::XML_INDEX => return self.drop_index(element),
            _ => None,
        };
        match statement {
            Some(statement) => vec![statement],
            None => standard_drop_object(self, element),
        }
    }

    fn cannot_create(&self, step: &Step) -> Option<String> {
        let creates = matches!(
            step.kind,
            StepKind::CreateSchema
                | StepKind::CreatePrincipal
                | StepKind::CreateType
                | StepKind::CreateSequence
                | StepKind::CreateTable
                | StepKind::AddConstraint
                | StepKind::CreateIndex
                | StepKind::CreateProgrammable
                | StepKind::CreateTrigger
                | StepKind::AddForeignKey
                | StepKind::CreateOther
        );
        let desired = step.desired.as_ref().filter(|_| creates)?;
        self.why_not_creatable(desired, step.host.as_deref())
    }

    /// Extended properties are added, updated and dropped by their host's levels, which the
    /// step carries; every other step is written as on every platform.
    fn render_step(&self, step: &Step, out: &mut Vec<String>) {
        if step.object_kind != kind::EXTENDED_PROPERTY {
            return standard_render_step(self, step, out);
        }
        let statement = match (step.kind, &step.current, &step.desired) {
            (StepKind::CreateOther, Some(_), Some(desired)) => {
                self.extended_property(step, desired, "sp_updateextendedproperty")
            }
            (StepKind::CreateOther, None, Some(desired)) => {
                self.extended_property(step, desired, "sp_addextendedproperty")
            }
            (StepKind::DropOther, Some(current), _) => {
                self.extended_property(step, current, "sp_dropextendedproperty")
            }
            _ => return standard_render_step(self, step, out),
        };
        match statement {
            Some(statement) => out.push(statement),
            None => standard_render_step(self, step, out),
        }
    }

    fn drop_constraint(&self, constraint: &Element) -> Vec<String> {
        let Some(table) = view::owner(constraint) else {
            return Vec::new();
        };
        if let Some(name) = &constraint.name {
            return vec![format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                self.quote_name(table),
                self.quote_ident(name.leaf())
            )];
        }
        // Unnamed constraints have names the server chose: look them up at run time.
        let object = self.string_literal(&self.quote_name(table));
        let lookup = match constraint.kind.as_str() {
            kind::PRIMARY_KEY => format!(
                "SELECT @name = name FROM sys.key_constraints WHERE parent_object_id = OBJECT_ID({object}) AND type = 'PK'"
            ),
            kind::DEFAULT => {
                let column = constraint
                    .reference_name(kind::rel::FOR_COLUMN)
                    .map(|c| self.string_literal(c.leaf()))
                    .unwrap_or_else(|| "N''".into());
                format!(
                    "SELECT @name = d.name FROM sys.default_constraints d JOIN sys.columns c ON c.object_id = d.parent_object_id AND c.column_id = d.parent_column_id WHERE d.parent_object_id = OBJECT_ID({object}) AND c.name = {column}"
                )
            }
            // SQL Server keeps its own spelling of the expression (`([Qty]>(0))` for
            // `Qty > 0`): both sides are compared without spaces, brackets and parentheses.
            kind::CHECK => format!(
                "SELECT @name = name FROM sys.check_constraints WHERE parent_object_id = OBJECT_ID({object}) AND is_system_named = 1 AND {} = {}",
                check_key_sql("definition"),
                self.string_literal(&check_key(
                    constraint
                        .text_prop(prop::CHECK_EXPRESSION_SCRIPT)
                        .unwrap_or("")
                ))
            ),
            kind::FOREIGN_KEY => {
                let referenced = constraint
                    .reference_name(kind::rel::FOREIGN_TABLE)
                    .map(|t| self.string_literal(&self.quote_name(t)))
                    .unwrap_or_else(|| "N''".into());
                format!(
                    "SELECT @name = name FROM sys.foreign_keys WHERE parent_object_id = OBJECT_ID({object}) AND referenced_object_id = OBJECT_ID({referenced})"
                )
            }
            _ => format!(
                "SELECT @name = name FROM sys.key_constraints WHERE parent_object_id = OBJECT_ID({object}) AND type = 'UQ'"
            ),
        };
        // EXECUTE (...) takes only literals and variables joined by `+`: the statement is built
        // in a variable first.
        vec![format!(
            "DECLARE @name sysname, @statement nvarchar(max);\n{lookup};\nIF @name IS NOT NULL\n    BEGIN\n        SET @statement = N'ALTER TABLE {} DROP CONSTRAINT ' + QUOTENAME(@name);\n        EXECUTE sp_executesql @statement;\n    END",
            self.quote_name(table).replace('\'', "''")
        )]
    }
}

impl SqlServer {
    /// CREATE USER for a user mapped to a login, without one, or from Entra ID; a contained
    /// user with a password has no statement a script can hold (`None`).
    pub(super) fn create_user(&self, user: &Element) -> Option<String> {
        let mut text = format!("CREATE USER {}", self.quote_name(&user.name_or_empty()));
        if let Some(login) = user.reference_name("Login") {
            text.push_str(&format!(" FOR LOGIN {}", self.quote_name(login)));
        } else if user.bool_prop(prop::IS_WITHOUT_LOGIN) == Some(true) {
            text.push_str(" WITHOUT LOGIN");
        } else {
            match user.int_prop(prop::AUTHENTICATION_TYPE) {
                Some(4) => text.push_str(" FROM EXTERNAL PROVIDER"),
                Some(2) => return None,
                _ => {}
            }
        }
        if let Some(schema) = user.reference_name("DefaultSchema") {
            text.push_str(&format!(
                " WITH DEFAULT_SCHEMA = {}",
                self.quote_name(schema)
            ));
        }
        Some(text)
    }

    /// A CREATE header for a module that carries no SysCommentsObjectAnnotation.
    fn synthesized_header(&self, element: &Element) -> String {
        let name = self.quote_name(&element.name_or_empty());
        let parameters: Vec<String> = element
            .children(kind::rel::PARAMETERS)
            .map(|p| {
                let mut text = p.name_or_empty().leaf().to_string();
                if let Some(data_type) = p
                    .children(kind::rel::TYPE)
                    .next()
                    .and_then(DataType::from_specifier)
                {
                    text.push(' ');
                    text.push_str(&self.render_type(&data_type));
                }
                if let Some(default) = p.text_prop(prop::DEFAULT_EXPRESSION_SCRIPT) {
                    text.push_str(&format!(" = {default}"));
                }
                if p.bool_prop(prop::IS_OUTPUT) == Some(true) {
                    text.push_str(" OUTPUT");
                }
                if p.bool_prop(prop::IS_READ_ONLY) == Some(true) {
                    text.push_str(" READONLY");
                }
                text
            })
            .collect();
        match element.kind.as_str() {
            kind::VIEW => format!("CREATE VIEW {name}\nAS"),
            kind::PROCEDURE => {
                if parameters.is_empty() {
                    format!("CREATE PROCEDURE {name}\nAS")
                } else {
                    format!(
                        "CREATE PROCEDURE {name}\n    {}\nAS",
                        parameters.join(",\n    ")
                    )
                }
            }
            kind::DML_TRIGGER => {
                let table = view::owner(element)
                    .map(|t| self.quote_name(t))
                    .unwrap_or_default();
                let events: Vec<&str> = [
                    ("IsInsertTrigger", "INSERT"),
                    ("IsUpdateTrigger", "UPDATE"),
                    ("IsDeleteTrigger", "DELETE"),
                ]
                .iter()
                .filter(|(p, _)| element.bool_prop(p) == Some(true))
                .map(|(_, w)| *w)
                .collect();
                let timing = if element.int_prop(prop::SQL_TRIGGER_TYPE) == Some(1) {
                    "INSTEAD OF"
                } else {
                    "AFTER"
                };
                format!(
                    "CREATE TRIGGER {name} ON {table} {timing} {}\nAS",
                    events.join(", ")
                )
            }
            _ => {
                let returns = element
                    .children(kind::rel::TYPE)
                    .next()
                    .and_then(DataType::from_specifier)
                    .map(|t| self.render_type(&t))
                    .unwrap_or_else(|| "TABLE".into());
                format!(
                    "CREATE FUNCTION {name}\n(\n    {}\n)\nRETURNS {returns}\nAS",
                    parameters.join(",\n    ")
                )
            }
        }
    }
}

/// The CREATE header DacFx keeps in the SysCommentsObjectAnnotation (on the module, or on its
/// function body).
fn header_contents(element: &Element) -> Option<String> {
    let from = |e: &Element| {
        e.annotations.iter().find_map(|a| match a {
            Annotation::Inline {
                kind, properties, ..
            } if kind == "SysCommentsObjectAnnotation" => properties
                .iter()
                .find(|p| p.name == "HeaderContents")
                .and_then(|p| p.value.as_text().map(str::to_string)),
            _ => None,
        })
    };
    from(element).or_else(|| {
        element
            .relationship(kind::rel::FUNCTION_BODY)
            .and_then(|r| {
                r.entries.iter().find_map(|e| match e {
                    Entry::Element(body) => from(body),
                    _ => None,
                })
            })
    })
}

/// Characters a check expression can gain or lose between the source and
/// `sys.check_constraints.definition` without changing its meaning.
const CHECK_NOISE: [char; 8] = [' ', '\t', '\n', '\r', '(', ')', '[', ']'];

/// A check expression without [`CHECK_NOISE`], lower-cased: what [`check_key_sql`] computes on
/// the server.
fn check_key(expression: &str) -> String {
    expression
        .chars()
        .filter(|c| !CHECK_NOISE.contains(c))
        .collect::<String>()
        .to_lowercase()
}

/// T-SQL computing [`check_key`] of `column`.
fn check_key_sql(column: &str) -> String {
    let mut sql = column.to_string();
    for c in CHECK_NOISE {
        let literal = match c {
            '\t' => "CHAR(9)".to_string(),
            '\n' => "CHAR(10)".to_string(),
            '\r' => "CHAR(13)".to_string(),
            other => format!("N'{other}'"),
        };
        sql = format!("REPLACE({sql}, {literal}, N'')");
    }
    format!("LOWER({sql})")
}

/// `CREATE PROC`/`CREATE VIEW`... -> `ALTER ...`, keeping permissions on the object.
fn replace_create_with_alter(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut search = 0;
    while let Some(pos) = lower[search..].find("create") {
        let start = search + pos;
        let before_ok =
            start == 0 || !lower[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let rest = lower[start + 6..].trim_start();
        let kind_ok = ["proc", "view", "function", "trigger"]
            .iter()
            .any(|k| rest.starts_with(k));
        let in_comment = lower[..start]
            .rfind("--")
            .is_some_and(|c| !lower[c..start].contains('\n'));
        if before_ok && kind_ok && !in_comment {
            return format!("{}ALTER{}", &text[..start], &text[start + 6..]);
        }
        search = start + 6;
    }
    text.to_string()
}

/// Whether `key` is a GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits).
fn is_guid(key: &str) -> bool {
    let groups: Vec<&str> = key.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn ends_with_go(statement: &str) -> bool {
    statement
        .trim_end()
        .lines()
        .last()
        .is_some_and(|l| l.trim().eq_ignore_ascii_case("go"))
}

/// `ROW START`, `ROW END` (temporal tables), `TRANSACTION_ID START`... (ledger tables): a
/// column's `GeneratedAlwaysType`, as T-SQL spells it.
fn generated_always(column: &Element) -> Option<String> {
    let text = match column.int_prop(prop::GENERATED_ALWAYS_TYPE)? {
        1 => "ROW START",
        2 => "ROW END",
        7 => "TRANSACTION_ID START",
        8 => "TRANSACTION_ID END",
        9 => "SEQUENCE_NUMBER START",
        10 => "SEQUENCE_NUMBER END",
        _ => return None,
    };
    Some(text.to_string())
}
