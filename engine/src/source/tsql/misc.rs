//! Sequences, schemas, roles, users, types, synonyms, permissions, extended properties,
//! ALTER DATABASE and opaque objects.

use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::{
    BUILT_IN_SCHEMAS, TsqlBuilder, builtin_case, data_type, object_ref, principal_ref, qualify,
    schema_ref, script, skip_statement,
};
use crate::error::Result;
use crate::model::kind;
use crate::model::kind::prop;
use crate::model::{Element, ObjectName, Reference, Value};

/// Object kinds whose opaque names are schema-qualified.
const SCHEMA_SCOPED_OPAQUE: &[&str] = &[
    "SqlSecurityPolicy",
    "SqlXmlSchemaCollection",
    "SqlDefault",
    "SqlRule",
    "SqlAggregate",
    "SqlExternalTable",
    "SqlQueue",
];

impl TsqlBuilder {
    pub(super) fn create_sequence(&mut self, c: &mut Cursor) -> Result<()> {
        let name = qualify(c.object_name()?);
        let mut el = Element::new(kind::SEQUENCE).named(name.clone());
        let mut type_spec = None;
        let mut props: Vec<(&str, Value)> = Vec::new();
        loop {
            if c.eat_kw("AS") {
                type_spec = Some(data_type(c)?);
            } else if c.eat_kws(&["START", "WITH"]) {
                props.push(("StartValue", Value::from_attribute(&c.number()?)));
            } else if c.eat_kws(&["INCREMENT", "BY"]) {
                props.push(("Increment", Value::from_attribute(&c.number()?)));
            } else if c.eat_kw("MINVALUE") {
                props.push(("MinValue", Value::from_attribute(&c.number()?)));
            } else if c.eat_kws(&["NO", "MINVALUE"]) {
                props.push(("HasNoMinValue", Value::Bool(true)));
            } else if c.eat_kw("MAXVALUE") {
                props.push(("MaxValue", Value::from_attribute(&c.number()?)));
            } else if c.eat_kws(&["NO", "MAXVALUE"]) {
                props.push(("HasNoMaxValue", Value::Bool(true)));
            } else if c.eat_kw("CYCLE") {
                props.push(("IsCycling", Value::Bool(true)));
            } else if c.eat_kws(&["NO", "CYCLE"]) {
            } else if c.eat_kw("CACHE") {
                if matches!(c.peek(), Some(Token::Number(..))) {
                    props.push(("CacheSize", Value::from_attribute(&c.number()?)));
                }
            } else if c.eat_kws(&["NO", "CACHE"]) {
                props.push(("NoCache", Value::Bool(true)));
            } else {
                break;
            }
        }
        // DacFx writes Increment before StartValue.
        props.sort_by_key(|(n, _)| match *n {
            "Increment" => 0,
            "StartValue" => 1,
            _ => 2,
        });
        for (n, v) in props {
            el.set_prop(n, v);
        }
        el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        let spec = type_spec.unwrap_or_else(|| {
            Element::new(kind::TYPE_SPECIFIER)
                .with_ref("Type", Reference::built_in(ObjectName::new(["bigint"])))
        });
        el.push_child(kind::rel::TYPE_SPECIFIER, spec);
        self.push(el);
        Ok(())
    }

    pub(super) fn create_schema(&mut self, c: &mut Cursor) -> Result<()> {
        let name_at = c.pos;
        let name = c.ident()?;
        let owner_at = c.pos;
        let owner = if c.eat_kw("AUTHORIZATION") {
            c.ident()?
        } else {
            "dbo".to_string()
        };
        if !c.at_end() && !c.is(&Token::SemiColon) {
            return Err(c.expected(
                "the end of CREATE SCHEMA (schema elements inside CREATE SCHEMA are not supported)",
            ));
        }
        // `public` is a role, not a schema; every other built-in principal name is a schema too.
        let built_in = !name.eq_ignore_ascii_case("public")
            && BUILT_IN_SCHEMAS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&name));
        if built_in {
            // Every database has it, and the model references it as a built-in: declaring it
            // adds nothing (an element would script a CREATE SCHEMA that always fails).
            if builtin_case(&name) == "dbo" && owner.eq_ignore_ascii_case("dbo") {
                return Ok(());
            }
            let at = if owner.eq_ignore_ascii_case("dbo") {
                name_at
            } else {
                owner_at
            };
            return Err(c.error_at(
                at,
                format!(
                    "{name} is a schema every database has: a project cannot create it{}",
                    if owner.eq_ignore_ascii_case("dbo") {
                        String::new()
                    } else {
                        " or give it another owner".to_string()
                    }
                ),
            ));
        }
        self.push(
            Element::new(kind::SCHEMA)
                .named(ObjectName::new([name]))
                .with_ref("Authorizer", principal_ref(&owner)),
        );
        Ok(())
    }

    pub(super) fn create_role(&mut self, c: &mut Cursor) -> Result<()> {
        let name = c.ident()?;
        let owner = if c.eat_kw("AUTHORIZATION") {
            c.ident()?
        } else {
            "dbo".to_string()
        };
        self.push(
            Element::new(kind::ROLE)
                .named(ObjectName::new([name]))
                .with_ref("Authorizer", principal_ref(&owner)),
        );
        Ok(())
    }

    pub(super) fn alter_role(&mut self, c: &mut Cursor) -> Result<()> {
        let role = c.ident()?;
        if c.eat_kws(&["ADD", "MEMBER"]) {
            let member = c.ident()?;
            self.role_membership(&role, &member);
            return Ok(());
        }
        Err(c.expected("ADD MEMBER"))
    }

    fn role_membership(&mut self, role: &str, member: &str) {
        self.push(
            Element::new(kind::ROLE_MEMBERSHIP)
                .named(ObjectName::new([role, member]))
                .with_ref("Member", principal_ref(member))
                .with_ref("Role", principal_ref(role)),
        );
    }

    pub(super) fn create_user(&mut self, c: &mut Cursor) -> Result<()> {
        let name = c.ident()?;
        let mut el = Element::new(kind::USER).named(ObjectName::new([name]));
        let mut login = None;
        if c.eat_kw("FOR") || c.eat_kw("FROM") {
            if c.eat_kw("LOGIN") {
                login = Some(c.ident()?);
                el.set_prop(prop::AUTHENTICATION_TYPE, Value::Int(1));
            } else if c.eat_kws(&["EXTERNAL", "PROVIDER"]) {
                el.set_prop(prop::AUTHENTICATION_TYPE, Value::Int(4));
            } else if c.eat_kw("CERTIFICATE") || c.eat_kws(&["ASYMMETRIC", "KEY"]) {
                c.ident()?;
            } else {
                return Err(c.expected("LOGIN, EXTERNAL PROVIDER, CERTIFICATE or ASYMMETRIC KEY"));
            }
        } else if c.eat_kws(&["WITHOUT", "LOGIN"]) {
            el.set_prop(prop::IS_WITHOUT_LOGIN, Value::Bool(true));
        }
        let mut default_schema = None;
        if c.eat_kw("WITH") {
            loop {
                let option = c.ident()?.to_ascii_uppercase();
                c.expect(&Token::Eq, "`=`")?;
                match option.as_str() {
                    "DEFAULT_SCHEMA" => default_schema = Some(c.ident()?),
                    "PASSWORD" => {
                        c.string().ok_or_else(|| c.expected("a password string"))?;
                        el.set_prop(prop::AUTHENTICATION_TYPE, Value::Int(2));
                    }
                    _ => {
                        c.expression(&|_| false)?;
                    }
                }
                if !c.eat(&Token::Comma) {
                    break;
                }
            }
        }
        if let Some(schema) = default_schema {
            el.push_ref("DefaultSchema", principal_ref(&schema));
        }
        if let Some(login) = login {
            el.push_ref("Login", Reference::to(ObjectName::new([login])));
        }
        self.push(el);
        Ok(())
    }

    pub(super) fn create_type(&mut self, c: &mut Cursor) -> Result<()> {
        let name = qualify(c.object_name()?);
        if c.eat_kw("FROM") {
            let spec = data_type(c)?;
            let not_null = if c.eat_kws(&["NOT", "NULL"]) {
                true
            } else {
                c.eat_kw("NULL");
                false
            };
            let mut el = Element::new(kind::USER_DEFINED_DATA_TYPE).named(name.clone());
            for p in &spec.properties {
                el.set_prop(&p.name, p.value.clone());
            }
            if not_null {
                el.set_prop(prop::IS_NULLABLE, Value::Bool(false));
            }
            el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
            for r in spec.references("Type") {
                el.push_ref("Type", r.clone());
            }
            self.push(el);
            return Ok(());
        }
        if c.eat_kws(&["AS", "TABLE"]) {
            return self.table_type(c, name);
        }
        if c.eat_kws(&["EXTERNAL", "NAME"]) {
            let start = c.pos;
            skip_statement(c);
            let mut el = Element::new("SqlUserDefinedType")
                .named(name.clone())
                .with(prop::DEFINITION, script(c.text(start, c.pos)));
            el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
            self.push(el);
            return Ok(());
        }
        Err(c.expected("FROM, AS TABLE or EXTERNAL NAME"))
    }

    pub(super) fn create_synonym(&mut self, c: &mut Cursor) -> Result<()> {
        let name = qualify(c.object_name()?);
        c.expect_kw("FOR")?;
        let start = c.pos;
        let target = c.object_name()?;
        let text = c.text(start, c.pos);
        let mut el = Element::new(kind::SYNONYM)
            .named(name.clone())
            .with(prop::FOR_OBJECT_SCRIPT, script(text));
        el.push_ref("ForObject", object_ref(target));
        el.push_ref(kind::rel::SCHEMA, schema_ref(&name));
        self.push(el);
        Ok(())
    }

    /// `ALTER DATABASE x ADD FILEGROUP ... | ADD FILE ... | SET ...`.
    pub(super) fn alter_database(&mut self, c: &mut Cursor, start: usize) -> Result<()> {
        if !c.eat_kw("CURRENT") {
            c.ident()?;
        }
        if c.eat_kws(&["ADD", "FILEGROUP"]) {
            let name = c.ident()?;
            let mut el = Element::new("SqlFilegroup").named(ObjectName::new([name]));
            if c.eat_kws(&["CONTAINS", "FILESTREAM"]) {
                el.set_prop(prop::CONTAINS_FILE_STREAM, Value::Bool(true));
            } else if c.eat_kws(&["CONTAINS", "MEMORY_OPTIMIZED_DATA"]) {
                el.set_prop(prop::CONTAINS_MEMORY_OPTIMIZED_DATA, Value::Bool(true));
            }
            self.push(el);
            return Ok(());
        }
        if c.is_kws(&["ADD", "FILE"]) || c.is_kws(&["ADD", "LOG", "FILE"]) {
            let body = c.pos;
            skip_statement(c);
            let text = c.text(body, c.pos);
            let name = text.split(['\'', ',']).nth(1).unwrap_or("file").to_string();
            self.push(
                Element::new("SqlFile")
                    .named(ObjectName::new([name]))
                    .with(prop::DEFINITION, script(c.text(start, c.pos))),
            );
            return Ok(());
        }
        if c.eat_kw("SET") {
            loop {
                let option = c.ident()?.to_ascii_uppercase();
                let value = if c.eat(&Token::Eq) {
                    let (a, b) = c.expression(&|c| c.is_kw("WITH"))?;
                    c.text(a, b).to_string()
                } else {
                    let (a, b) = c.expression(&|c| c.is_kw("WITH"))?;
                    c.text(a, b).to_string()
                };
                self.database_set.push((option, value));
                if !c.eat(&Token::Comma) {
                    break;
                }
            }
            if c.eat_kw("WITH") {
                c.ident()?;
                c.eat_kws(&["AFTER"]);
            }
            return Ok(());
        }
        Err(c.expected("ADD FILEGROUP, ADD FILE or SET after ALTER DATABASE"))
    }

    /// GRANT / DENY / REVOKE.
    pub(super) fn permission(&mut self, c: &mut Cursor) -> Result<()> {
        let verb = c.ident()?.to_ascii_uppercase();
        let revoke_grant_option = verb == "REVOKE" && c.eat_kws(&["GRANT", "OPTION", "FOR"]);
        let mut permissions = Vec::new();
        loop {
            let mut words = Vec::new();
            while c.is_ident() && !c.is_kw("ON") && !c.is_kw("TO") && !c.is_kw("FROM") {
                words.push(c.ident()?);
            }
            if words.is_empty() {
                return Err(c.expected("a permission name"));
            }
            if c.is(&Token::LParen) {
                c.skip_group()?; // column list
            }
            permissions.push(words);
            if !c.eat(&Token::Comma) {
                break;
            }
        }
        let mut class = "Database".to_string();
        let mut secured: Option<(Vec<String>, Reference)> = None;
        if c.eat_kw("ON") {
            if c.peek_at(1) == Some(&Token::DoubleColon) {
                let cls = c.ident()?.to_ascii_uppercase();
                c.pos += 1;
                let parts = c.object_name()?;
                match cls.as_str() {
                    "SCHEMA" => {
                        class = "Schema".into();
                        let s = parts.last().cloned().unwrap_or_default();
                        secured = Some((vec![s.clone()], principal_ref(&s)));
                    }
                    "OBJECT" => {
                        class = "Object".into();
                        let n = qualify(parts);
                        secured = Some((n.parts().to_vec(), Reference::to(n)));
                    }
                    "DATABASE" => {}
                    other => {
                        class = pascal(&[other.to_string()]);
                        let n = ObjectName::new(parts);
                        secured = Some((n.parts().to_vec(), Reference::to(n)));
                    }
                }
            } else {
                class = "Object".into();
                let n = qualify(c.object_name()?);
                secured = Some((n.parts().to_vec(), Reference::to(n)));
                if c.is(&Token::LParen) {
                    c.skip_group()?;
                }
            }
        }
        if !(c.eat_kw("TO") || c.eat_kw("FROM")) {
            return Err(c.expected("TO or FROM and the grantee"));
        }
        let mut grantees = vec![c.ident()?];
        while c.eat(&Token::Comma) {
            grantees.push(c.ident()?);
        }
        let with_grant = c.eat_kws(&["WITH", "GRANT", "OPTION"]);
        c.eat_kw("CASCADE");
        if c.eat_kw("AS") {
            c.ident()?;
        }
        let action = match (verb.as_str(), with_grant, revoke_grant_option) {
            ("GRANT", true, _) => "GrantWithGrantOption",
            ("GRANT", false, _) => "Grant",
            ("DENY", _, _) => "Deny",
            (_, _, true) => "RevokeGrantOption",
            _ => "Revoke",
        };
        for words in &permissions {
            let perm = pascal(words);
            for grantee in &grantees {
                let grantee_ref = principal_ref(grantee);
                let grantee_name = grantee_ref
                    .name
                    .as_ref()
                    .map(|n| n.leaf().to_string())
                    .unwrap_or_default();
                let mut parts = vec![
                    format!("{action}.{perm}.{class}"),
                    grantee_name,
                    "dbo".to_string(),
                ];
                let mut el = Element::new(kind::PERMISSION);
                el.set_prop(prop::PERMISSION, permission_code(&perm));
                el.push_ref("Grantee", grantee_ref);
                match &secured {
                    Some((secured_parts, reference)) => {
                        parts.extend(secured_parts.iter().cloned());
                        el.push_ref("SecuredObject", reference.clone());
                    }
                    None => {
                        self.database_secured = true;
                        el.push_ref(
                            "SecuredObject",
                            Reference {
                                name: None,
                                external_source: None,
                                disambiguator: Some("1".into()),
                            },
                        );
                    }
                }
                self.push(el.named(ObjectName::new(parts)));
            }
        }
        Ok(())
    }

    /// `EXEC sp_addextendedproperty ...` and `EXEC sp_addrolemember ...`.
    pub(super) fn exec(&mut self, c: &mut Cursor) -> Result<()> {
        let proc_at = c.pos;
        let proc_name = c.object_name()?;
        let proc_leaf = proc_name
            .last()
            .cloned()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let args = exec_args(c)?;
        match proc_leaf.as_str() {
            "sp_addextendedproperty" => self.extended_property(c, proc_at, &args),
            "sp_addrolemember" => {
                let role = arg(&args, "@rolename", 0).and_then(|a| a.string.clone());
                let member = arg(&args, "@membername", 1).and_then(|a| a.string.clone());
                match (role, member) {
                    (Some(role), Some(member)) => {
                        self.role_membership(&role, &member);
                        Ok(())
                    }
                    _ => Err(c.error_at(proc_at, "sp_addrolemember needs @rolename and @membername strings")),
                }
            }
            _ => Err(c.error_at(
                proc_at,
                format!(
                    "only sp_addextendedproperty and sp_addrolemember can be executed in a model file, found {}",
                    proc_name.join(".")
                ),
            )),
        }
    }

    fn extended_property(&mut self, c: &mut Cursor, at: usize, args: &[Arg]) -> Result<()> {
        let get = |name: &str, pos: usize| arg(args, name, pos).and_then(|a| a.string.clone());
        let prop_name =
            get("@name", 0).ok_or_else(|| c.error_at(at, "sp_addextendedproperty needs @name"))?;
        let value = arg(args, "@value", 1)
            .map(|a| a.text.clone())
            .unwrap_or_else(|| "NULL".into());
        let levels: Vec<(String, String)> = (0..3)
            .filter_map(|i| {
                let t = get(&format!("@level{i}type"), 2 + 2 * i)?;
                let n = get(&format!("@level{i}name"), 3 + 2 * i)?;
                Some((t.to_ascii_uppercase(), n))
            })
            .collect();
        let (host_kind, host): (&str, Reference) = match levels.as_slice() {
            [] => (
                "SqlDatabaseOptions",
                Reference {
                    name: None,
                    external_source: None,
                    disambiguator: Some("1".into()),
                },
            ),
            [(t0, s)] => match t0.as_str() {
                "SCHEMA" => ("SqlSchema", Reference::to(ObjectName::new([s.clone()]))),
                "FILEGROUP" => ("SqlFilegroup", Reference::to(ObjectName::new([s.clone()]))),
                "USER" => ("SqlUser", Reference::to(ObjectName::new([s.clone()]))),
                "ROLE" => ("SqlRole", Reference::to(ObjectName::new([s.clone()]))),
                other => {
                    return Err(c.error_at(
                        at,
                        format!("unsupported extended property level0type {other}"),
                    ));
                }
            },
            [(_, s), (t1, o)] => {
                let kind_name = match t1.as_str() {
                    "TABLE" => "SqlTableBase",
                    "VIEW" => "SqlView",
                    "PROCEDURE" => "SqlProcedure",
                    "FUNCTION" => "SqlFunction",
                    "TYPE" => "SqlUserDefinedDataType",
                    "SEQUENCE" => "SqlSequence",
                    "SYNONYM" => "SqlSynonym",
                    "XML SCHEMA COLLECTION" => "SqlXmlSchemaCollection",
                    "RULE" => "SqlRule",
                    "DEFAULT" => "SqlDefault",
                    other => {
                        return Err(c.error_at(
                            at,
                            format!("unsupported extended property level1type {other}"),
                        ));
                    }
                };
                (
                    kind_name,
                    Reference::to(ObjectName::new([s.clone(), o.clone()])),
                )
            }
            [(_, s), (_, o), (t2, x)] => match t2.as_str() {
                "COLUMN" => (
                    "SqlColumn",
                    Reference::to(ObjectName::new([s.clone(), o.clone(), x.clone()])),
                ),
                "INDEX" => (
                    "SqlIndexBase",
                    Reference::to(ObjectName::new([s.clone(), o.clone(), x.clone()])),
                ),
                "PARAMETER" => (
                    "SqlSubroutineParameter",
                    Reference::to(ObjectName::new([s.clone(), o.clone(), x.clone()])),
                ),
                "CONSTRAINT" => (
                    "SqlConstraint",
                    Reference::to(ObjectName::new([s.clone(), x.clone()])),
                ),
                "TRIGGER" => (
                    "SqlDmlTrigger",
                    Reference::to(ObjectName::new([s.clone(), x.clone()])),
                ),
                other => {
                    return Err(c.error_at(
                        at,
                        format!("unsupported extended property level2type {other}"),
                    ));
                }
            },
            _ => {
                return Err(c.error_at(
                    at,
                    "extended property levels must be given in order (level0, level1, level2)",
                ));
            }
        };
        let mut parts = vec![host_kind.to_string()];
        if let Some(n) = &host.name {
            parts.extend(n.parts().to_vec());
        }
        parts.push(prop_name);
        let el = Element::new(kind::EXTENDED_PROPERTY)
            .named(ObjectName::new(parts))
            .with(prop::VALUE, script(&value))
            .with_ref("Host", host);
        self.push(el);
        Ok(())
    }

    /// An object the engine keeps whole: kind, best-effort name, statement text.
    pub(super) fn opaque_statement(
        &mut self,
        c: &mut Cursor,
        start: usize,
        kind_name: &str,
    ) -> Result<()> {
        for word in kind_words(kind_name) {
            c.eat_kw(word);
        }
        let name = if c.eat_kw("ON") {
            // CREATE FULLTEXT INDEX ON t
            qualify(c.object_name()?)
        } else {
            let parts = c.object_name()?;
            if c.eat_kw("ON") && !matches!(kind_name, "SqlPartitionScheme" | "SqlSecurityPolicy") {
                let table = qualify(c.object_name()?);
                table.child(parts.last().cloned().unwrap_or_default())
            } else if SCHEMA_SCOPED_OPAQUE.contains(&kind_name) {
                qualify(parts)
            } else {
                ObjectName::new(parts)
            }
        };
        skip_statement(c);
        let text = c.text(start, c.pos);
        let el = Element::new(kind_name)
            .named(name)
            .with(prop::DEFINITION, script(text));
        self.push(el);
        Ok(())
    }
}

/// The keywords naming an opaque kind (to skip them before the object name).
fn kind_words(kind_name: &str) -> &'static [&'static str] {
    match kind_name {
        "SqlPartitionFunction" => &["PARTITION", "FUNCTION"],
        "SqlPartitionScheme" => &["PARTITION", "SCHEME"],
        "SqlFullTextIndex" => &["FULLTEXT", "INDEX"],
        "SqlFullTextCatalog" => &["FULLTEXT", "CATALOG"],
        "SqlFullTextStopList" => &["FULLTEXT", "STOPLIST"],
        "SqlSecurityPolicy" => &["SECURITY", "POLICY"],
        "SqlXmlIndex" => &["PRIMARY", "XML", "INDEX"],
        "SqlSpatialIndex" => &["SPATIAL", "INDEX"],
        "SqlLogin" => &["LOGIN"],
        "SqlAssembly" => &["ASSEMBLY"],
        "SqlCertificate" => &["CERTIFICATE"],
        "SqlAsymmetricKey" => &["ASYMMETRIC", "KEY"],
        "SqlSymmetricKey" => &["SYMMETRIC", "KEY"],
        "SqlMasterKey" => &["MASTER", "KEY"],
        "SqlColumnMasterKey" => &["COLUMN", "MASTER", "KEY"],
        "SqlColumnEncryptionKey" => &["COLUMN", "ENCRYPTION", "KEY"],
        "SqlXmlSchemaCollection" => &["XML", "SCHEMA", "COLLECTION"],
        "SqlStatistic" => &["STATISTICS"],
        "SqlExternalDataSource" => &["EXTERNAL", "DATA", "SOURCE"],
        "SqlExternalFileFormat" => &["EXTERNAL", "FILE", "FORMAT"],
        "SqlExternalTable" => &["EXTERNAL", "TABLE"],
        "SqlExternalStream" => &["EXTERNAL", "STREAM"],
        "SqlExternalStreamingJob" => &["EXTERNAL", "STREAMING", "JOB"],
        "SqlApplicationRole" => &["APPLICATION", "ROLE"],
        "SqlQueue" => &["QUEUE"],
        "SqlService" => &["SERVICE"],
        "SqlContract" => &["CONTRACT"],
        "SqlMessageType" => &["MESSAGE", "TYPE"],
        "SqlRoute" => &["ROUTE"],
        "SqlAggregate" => &["AGGREGATE"],
        "SqlRule" => &["RULE"],
        "SqlDefault" => &["DEFAULT"],
        "SqlEventNotification" => &["EVENT", "NOTIFICATION"],
        "SqlDatabaseAuditSpecification" => &["DATABASE", "AUDIT", "SPECIFICATION"],
        "SqlDatabaseCredential" => &["DATABASE", "SCOPED", "CREDENTIAL"],
        "SqlDatabaseEncryptionKey" => &["DATABASE", "ENCRYPTION", "KEY"],
        "SqlSearchPropertyList" => &["SEARCH", "PROPERTY", "LIST"],
        "SqlSelectiveXmlIndex" => &["SELECTIVE", "XML", "INDEX"],
        "SqlRemoteServiceBinding" => &["REMOTE", "SERVICE", "BINDING"],
        "SqlBrokerPriority" => &["BROKER", "PRIORITY"],
        _ => &[],
    }
}

/// One EXEC argument: `[@name =] value`.
struct Arg {
    name: Option<String>,
    /// The value's source text.
    text: String,
    /// The value when it is a string literal.
    string: Option<String>,
}

fn exec_args(c: &mut Cursor) -> Result<Vec<Arg>> {
    let mut out = Vec::new();
    if c.at_end() || c.is(&Token::SemiColon) {
        return Ok(out);
    }
    loop {
        let name = match (c.peek(), c.peek_at(1)) {
            (Some(Token::Word(w)), Some(Token::Eq)) if w.value.starts_with('@') => {
                let n = w.value.to_ascii_lowercase();
                c.pos += 2;
                Some(n)
            }
            _ => None,
        };
        let start = c.pos;
        let string = c.string();
        if string.is_none() {
            c.expression(&|_| false)?;
        }
        out.push(Arg {
            name,
            text: c.text(start, c.pos).to_string(),
            string,
        });
        if !c.eat(&Token::Comma) {
            break;
        }
    }
    Ok(out)
}

fn arg<'a>(args: &'a [Arg], name: &str, position: usize) -> Option<&'a Arg> {
    args.iter()
        .find(|a| a.name.as_deref() == Some(name))
        .or_else(|| args.get(position).filter(|a| a.name.is_none()))
}

/// `VIEW ANY DEFINITION` -> `ViewAnyDefinition`.
fn pascal(words: &[String]) -> String {
    words
        .iter()
        .flat_map(|w| w.split('_'))
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// DacFx's numeric permission codes where known (from real packages); other permissions keep
/// their name.
fn permission_code(perm: &str) -> Value {
    match perm {
        "Connect" => Value::Int(1035),
        "ViewDefinition" => Value::Int(1088),
        "ViewAnyColumnMasterKeyDefinition" => Value::Int(1107),
        "ViewAnyColumnEncryptionKeyDefinition" => Value::Int(1108),
        other => Value::Text(other.to_string()),
    }
}
