//! T-SQL for the SQL Server objects that are neither tables nor modules, from DacFx's model
//! properties (a package built by DacFx keeps no statement text for them): alias and table
//! types, extended properties, XML schema collections, permissions and role members.

use super::{Dialect, SqlServer};
use crate::model::kind::prop;
use crate::model::view::{ColumnView, DataType};
use crate::model::{Element, kind};
use crate::plan::{DEFINITION, Step};

impl SqlServer {
    /// Why this dialect cannot create `element`, or `None` when it can.
    pub(super) fn why_not_creatable(
        &self,
        element: &Element,
        host: Option<&[(String, String)]>,
    ) -> Option<String> {
        if element.text_prop(DEFINITION).is_some() {
            return None;
        }
        let missing_body = || {
            Some(
                "the package holds no body for it (a declaration only, as system packages have)"
                    .to_string(),
            )
        };
        match element.kind.as_str() {
            kind::SCHEMA
            | kind::TABLE
            | kind::PRIMARY_KEY
            | kind::UNIQUE
            | kind::FOREIGN_KEY
            | kind::CHECK
            | kind::DEFAULT
            | kind::INDEX
            | kind::COLUMN_STORE_INDEX
            | kind::SEQUENCE
            | kind::ROLE
            | kind::TABLE_TYPE
            | kind::ROLE_MEMBERSHIP => None,
            kind::VIEW => element.text_prop(prop::QUERY_SCRIPT).is_none().then(missing_body).flatten(),
            kind::SCALAR_FUNCTION | kind::INLINE_TVF | kind::MULTI_TVF => element
                .children(kind::rel::FUNCTION_BODY)
                .find_map(|b| b.text_prop(prop::BODY_SCRIPT))
                .is_none()
                .then(missing_body)
                .flatten(),
            kind::PROCEDURE | kind::DML_TRIGGER => element
                .text_prop(prop::BODY_SCRIPT)
                .is_none()
                .then(missing_body)
                .flatten(),
            kind::SYNONYM => element
                .text_prop(prop::FOR_OBJECT_SCRIPT)
                .is_none()
                .then(|| "the package does not say what it stands for".to_string()),
            kind::USER => self.create_user(element).is_none().then(|| {
                "a contained user with a password: its password is not in the package".to_string()
            }),
            kind::USER_DEFINED_DATA_TYPE => DataType::from_specifier(element)
                .is_none()
                .then(|| "the package does not say its base type".to_string()),
            kind::XML_SCHEMA_COLLECTION => element
                .text_prop("SchemaExpression")
                .is_none()
                .then(|| "the package holds no schema text for it".to_string()),
            kind::PERMISSION => permission_parts(element).err(),
            kind::XML_INDEX => self
                .create_xml_index(element)
                .is_none()
                .then(|| "the package does not say its table, column or primary XML index".to_string()),
            kind::EXTENDED_PROPERTY => match host {
                Some(levels) => levels
                    .iter()
                    .find_map(|(k, _)| level_type(k).is_none().then(|| format!("dac does not know the level type of a {k} host"))),
                None => Some("its host is not in the package".to_string()),
            },
            kind::FULL_TEXT_CATALOG | kind::FULL_TEXT_INDEX => Some(
                "SQL Server does not create full-text objects inside a transaction, and dac's SQL Server scripts run in one".to_string(),
            ),
            _ => Some("dac has no statement for this object kind and the package holds none".to_string()),
        }
    }

    /// `CREATE TYPE [s].[n] FROM base NULL|NOT NULL`.
    pub(super) fn create_alias_type(&self, element: &Element) -> Option<String> {
        let data_type = DataType::from_specifier(element)?;
        Some(format!(
            "CREATE TYPE {} FROM {}{}",
            self.quote_name(&element.name_or_empty()),
            self.render_type(&data_type),
            if element.bool_prop(prop::IS_NULLABLE) == Some(false) {
                " NOT NULL"
            } else {
                " NULL"
            }
        ))
    }

    /// `CREATE TYPE [s].[n] AS TABLE (columns, constraints, indexes) [WITH (MEMORY_OPTIMIZED = ON)]`.
    pub(super) fn create_table_type(&self, element: &Element) -> String {
        let constraints: Vec<&Element> = element.children("Constraints").collect();
        let mut lines: Vec<String> = element
            .children(kind::rel::COLUMNS)
            .map(|column| {
                let view = ColumnView(column);
                if let Some(expression) = view.computed_expression() {
                    let mut text = format!("{} AS {expression}", self.quote_ident(view.name()));
                    if view.is_persisted() {
                        text.push_str(" PERSISTED");
                    }
                    return format!("    {text}");
                }
                let mut text = self.column_name_and_type(view);
                text.push_str(&self.collate_clause(view));
                if let Some((seed, increment)) = view.identity() {
                    text.push(' ');
                    text.push_str(&self.identity_clause(&seed, &increment));
                }
                let default = constraints.iter().find(|c| {
                    c.kind == kind::TABLE_TYPE_DEFAULT
                        && c.reference_name(kind::rel::FOR_COLUMN)
                            .is_some_and(|n| n.leaf().eq_ignore_ascii_case(view.name()))
                });
                if let Some(default) = default {
                    text.push_str(&format!(
                        " DEFAULT {}",
                        default
                            .text_prop(prop::DEFAULT_EXPRESSION_SCRIPT)
                            .unwrap_or("NULL")
                    ));
                }
                // A table type's column takes no NULL unless it says so (DacFx writes
                // `IsNullable="True"` for those that do).
                text.push_str(if column.bool_prop(prop::IS_NULLABLE) == Some(true) {
                    " NULL"
                } else {
                    " NOT NULL"
                });
                format!("    {text}")
            })
            .collect();
        for constraint in &constraints {
            let clustered = |default: bool| {
                if constraint.bool_prop(prop::IS_CLUSTERED).unwrap_or(default) {
                    " CLUSTERED"
                } else {
                    " NONCLUSTERED"
                }
            };
            let hash = |text: &mut String| {
                if constraint.bool_prop(prop::IS_HASH) == Some(true) {
                    text.push_str(" HASH");
                }
            };
            let bucket_count = |text: &mut String| {
                if let Some(count) = constraint.int_prop(prop::BUCKET_COUNT) {
                    text.push_str(&format!(" WITH (BUCKET_COUNT = {count})"));
                }
            };
            let line = match constraint.kind.as_str() {
                kind::TABLE_TYPE_PRIMARY_KEY | kind::TABLE_TYPE_UNIQUE => {
                    let is_key = constraint.kind == kind::TABLE_TYPE_PRIMARY_KEY;
                    let mut text = if is_key { "PRIMARY KEY" } else { "UNIQUE" }.to_string();
                    text.push_str(clustered(is_key));
                    hash(&mut text);
                    text.push_str(&format!(" ({})", self.key_column_list(constraint)));
                    bucket_count(&mut text);
                    text
                }
                kind::TABLE_TYPE_CHECK => format!(
                    "CHECK ({})",
                    constraint
                        .text_prop(prop::CHECK_EXPRESSION_SCRIPT)
                        .unwrap_or("1=1")
                ),
                kind::TABLE_TYPE_INDEX => {
                    let mut text = format!(
                        "INDEX {}",
                        self.quote_ident(constraint.name_or_empty().leaf())
                    );
                    if constraint.bool_prop(prop::IS_UNIQUE) == Some(true) {
                        text.push_str(" UNIQUE");
                    }
                    text.push_str(clustered(false));
                    hash(&mut text);
                    text.push_str(&format!(" ({})", self.key_column_list(constraint)));
                    bucket_count(&mut text);
                    text
                }
                _ => continue,
            };
            lines.push(format!("    {line}"));
        }
        let options = if element.bool_prop(prop::IS_MEMORY_OPTIMIZED) == Some(true) {
            " WITH (MEMORY_OPTIMIZED = ON)"
        } else {
            ""
        };
        format!(
            "CREATE TYPE {} AS TABLE (\n{}\n){options}",
            self.quote_name(&element.name_or_empty()),
            lines.join(",\n")
        )
    }

    /// `CREATE XML SCHEMA COLLECTION [s].[n] AS N'...'`.
    pub(super) fn create_xml_schema_collection(&self, element: &Element) -> Option<String> {
        Some(format!(
            "CREATE XML SCHEMA COLLECTION {} AS {}",
            self.quote_name(&element.name_or_empty()),
            element.text_prop("SchemaExpression")?.trim()
        ))
    }

    /// `CREATE [PRIMARY] XML INDEX [n] ON [s].[t] ([c]) [USING XML INDEX [p] FOR PATH|PROPERTY|VALUE]`.
    pub(super) fn create_xml_index(&self, element: &Element) -> Option<String> {
        let table = element.reference_name(kind::rel::INDEXED_OBJECT)?;
        let column = element.reference_name(kind::rel::COLUMN)?;
        let name = self.quote_ident(element.name.as_ref()?.leaf());
        let mut text = format!(
            "CREATE {}XML INDEX {name} ON {} ({})",
            if element.bool_prop("IsPrimary") == Some(true) {
                "PRIMARY "
            } else {
                ""
            },
            self.quote_name(table),
            self.quote_ident(column.leaf())
        );
        if element.bool_prop("IsPrimary") != Some(true) {
            let primary = element.reference_name("UsingPrimaryXmlIndex")?;
            // DacFx's PrimaryXmlIndexUsage: 1 PATH, 2 PROPERTY, 3 VALUE (AdventureWorks'
            // XMLPATH_, XMLPROPERTY_ and XMLVALUE_ indexes).
            let usage = match element.int_prop("PrimaryXmlIndexUsage")? {
                1 => "PATH",
                2 => "PROPERTY",
                3 => "VALUE",
                _ => return None,
            };
            text.push_str(&format!(
                " USING XML INDEX {} FOR {usage}",
                self.quote_ident(primary.leaf())
            ));
        }
        Some(text)
    }

    /// GRANT, DENY or REVOKE of a `SqlPermissionStatement`, or (with `undo`) the REVOKE that
    /// takes it back.
    pub(super) fn permission_statement(&self, element: &Element, undo: bool) -> Option<String> {
        let parts = permission_parts(element).ok()?;
        let grantee = self.quote_ident(&parts.grantee);
        let on = match (
            parts.class.as_str(),
            element.reference_name("SecuredObject"),
        ) {
            ("Database", _) | (_, None) => String::new(),
            ("Object", Some(object)) => format!(" ON {}", self.quote_name(object)),
            (class, Some(object)) => format!(
                " ON {}::{}",
                permission_words(class),
                self.quote_name(object)
            ),
        };
        let permission = &parts.permission;
        if undo {
            let cascade = if parts.action == "GrantWithGrantOption" {
                " CASCADE"
            } else {
                ""
            };
            return Some(format!("REVOKE {permission}{on} FROM {grantee}{cascade}"));
        }
        Some(match parts.action.as_str() {
            "Grant" => format!("GRANT {permission}{on} TO {grantee}"),
            "GrantWithGrantOption" => {
                format!("GRANT {permission}{on} TO {grantee} WITH GRANT OPTION")
            }
            "Deny" => format!("DENY {permission}{on} TO {grantee}"),
            "RevokeGrantOption" => {
                format!("REVOKE GRANT OPTION FOR {permission}{on} FROM {grantee}")
            }
            _ => format!("REVOKE {permission}{on} FROM {grantee}"),
        })
    }

    /// `ALTER ROLE [r] ADD MEMBER [m]` (or `DROP MEMBER`).
    pub(super) fn role_membership(&self, element: &Element, add: bool) -> Option<String> {
        let role = element.reference_name("Role")?;
        let member = element.reference_name("Member")?;
        Some(format!(
            "ALTER ROLE {} {} MEMBER {}",
            self.quote_ident(role.leaf()),
            if add { "ADD" } else { "DROP" },
            self.quote_ident(member.leaf())
        ))
    }

    /// `EXEC sys.sp_addextendedproperty` (`add`), `sp_updateextendedproperty` (`update`) or
    /// `sp_dropextendedproperty` for a property on the host `levels`.
    pub(super) fn extended_property(
        &self,
        step: &Step,
        element: &Element,
        procedure: &str,
    ) -> Option<String> {
        let levels = step.host.as_ref()?;
        let name = element.name.as_ref()?.leaf();
        let mut text = format!("EXEC sys.{procedure} @name = {}", self.string_literal(name));
        if procedure != "sp_dropextendedproperty" {
            let value = element
                .text_prop(prop::VALUE)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or("NULL");
            text.push_str(&format!(", @value = {value}"));
        }
        for (i, (host_kind, host_name)) in levels.iter().enumerate() {
            text.push_str(&format!(
                ", @level{i}type = {}, @level{i}name = {}",
                self.string_literal(level_type(host_kind)?),
                self.string_literal(host_name)
            ));
        }
        Some(text)
    }
}

/// sp_addextendedproperty's level type of a host kind.
fn level_type(host_kind: &str) -> Option<&'static str> {
    Some(match host_kind {
        kind::SCHEMA => "SCHEMA",
        "SqlFilegroup" => "FILEGROUP",
        kind::USER => "USER",
        kind::ROLE => "ROLE",
        kind::TABLE => "TABLE",
        kind::VIEW => "VIEW",
        kind::PROCEDURE => "PROCEDURE",
        kind::SCALAR_FUNCTION | kind::INLINE_TVF | kind::MULTI_TVF | "SqlFunction" => "FUNCTION",
        kind::USER_DEFINED_DATA_TYPE | kind::TABLE_TYPE => "TYPE",
        kind::SEQUENCE => "SEQUENCE",
        kind::SYNONYM => "SYNONYM",
        kind::XML_SCHEMA_COLLECTION => "XML SCHEMA COLLECTION",
        "SqlColumn" => "COLUMN",
        "SqlIndexBase" => "INDEX",
        "SqlSubroutineParameter" => "PARAMETER",
        kind::PRIMARY_KEY | kind::UNIQUE | kind::FOREIGN_KEY | kind::CHECK | kind::DEFAULT => {
            "CONSTRAINT"
        }
        kind::DML_TRIGGER | "SqlDatabaseDdlTrigger" => "TRIGGER",
        _ => return None,
    })
}

/// A permission statement's parts, from its name (`[Grant.ViewDefinition.Object].[grantee].[dbo]...`,
/// as DacFx writes it) and its Grantee reference.
struct PermissionParts {
    action: String,
    /// The permission in T-SQL's words (`VIEW DEFINITION`).
    permission: String,
    /// `Database`, `Schema`, `Object` or another securable class.
    class: String,
    grantee: String,
}

fn permission_parts(element: &Element) -> Result<PermissionParts, String> {
    let name = element
        .name
        .as_ref()
        .ok_or_else(|| "the permission has no name".to_string())?;
    let mut head = name.first().split('.');
    let (Some(action), Some(permission), Some(class), None) =
        (head.next(), head.next(), head.next(), head.next())
    else {
        return Err(format!(
            "its name {name} is not DacFx's `Action.Permission.Class` form"
        ));
    };
    if !matches!(
        action,
        "Grant" | "GrantWithGrantOption" | "Deny" | "Revoke" | "RevokeGrantOption"
    ) {
        return Err(format!("{action} is not a permission action"));
    }
    let grantee = element
        .reference_name("Grantee")
        .map(|g| g.leaf().to_string())
        .ok_or_else(|| "the package does not name its grantee".to_string())?;
    Ok(PermissionParts {
        action: action.to_string(),
        permission: permission_words(permission),
        class: class.to_string(),
        grantee,
    })
}

/// `ViewAnyColumnEncryptionKeyDefinition` -> `VIEW ANY COLUMN ENCRYPTION KEY DEFINITION`.
fn permission_words(pascal: &str) -> String {
    let mut out = String::new();
    for (i, c) in pascal.char_indices() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_become_words() {
        assert_eq!(
            permission_words("ViewAnyColumnEncryptionKeyDefinition"),
            "VIEW ANY COLUMN ENCRYPTION KEY DEFINITION"
        );
        assert_eq!(permission_words("Connect"), "CONNECT");
    }
}
