use crate::model::kind::prop;
use std::collections::BTreeMap;
use std::path::Path;

use super::TsqlBuilder;
use crate::error::Error;
use crate::model::{Annotation, Element, Value};
use crate::source::sqlcmd::{Mode, Preprocessor};

fn parse(sql: &str) -> Result<Vec<Element>, Error> {
    let mut pp = Preprocessor::new(Mode::Model, &BTreeMap::new(), []);
    pp.add_text(Path::new("t.sql"), sql)?;
    let mut b = TsqlBuilder::new();
    for batch in pp.finish() {
        b.add_batch(&batch)?;
    }
    Ok(b.finish())
}

fn find<'a>(els: &'a [Element], kind: &str, name: &str) -> &'a Element {
    els.iter()
        .find(|e| e.kind == kind && e.name.as_ref().map(|n| n.to_string()).as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name} in {els:#?}"))
}

/// The name `el` references first in the relationship `rel`, as text.
fn referenced(el: &Element, rel: &str) -> String {
    el.reference_name(rel)
        .unwrap_or_else(|| panic!("no {rel} reference in {el:#?}"))
        .to_string()
}

fn sql_error(sql: &str) -> (u64, u64, String) {
    match parse(sql).unwrap_err() {
        Error::Sql {
            line,
            column,
            message,
            ..
        } => (line, column, message),
        other => panic!("{other}"),
    }
}

#[test]
fn table_columns_types_and_inline_constraints() {
    let els = parse(
        "CREATE TABLE [Sales].[Orders] (
    [Id] INT IDENTITY (100, 1) NOT NULL PRIMARY KEY,
    Name NVARCHAR(MAX) COLLATE Latin1_General_CI_AS NULL,
    Price DECIMAL (18, 2) CONSTRAINT [DF_Price] DEFAULT ((0)) NOT NULL,
    Seq INT DEFAULT (NEXT VALUE FOR [Sequences].[S]) NOT NULL,
    Total AS (Price * 2) PERSISTED,
    Guid UNIQUEIDENTIFIER ROWGUIDCOL SPARSE NULL,
    Phone [dbo].[Phone] NULL,
    At DATETIME2(7),
    CONSTRAINT [UQ_Name] UNIQUE NONCLUSTERED (Seq DESC) WITH (FILLFACTOR = 80) ON [USERDATA],
    CONSTRAINT FK_X FOREIGN KEY (Seq) REFERENCES dbo.Other (Id) ON DELETE CASCADE,
    CHECK (Price > 0),
) ON [USERDATA] TEXTIMAGE_ON [USERDATA];",
    )
    .unwrap();
    let t = find(&els, "SqlTable", "[Sales].[Orders]");
    let cols: Vec<&Element> = t.children("Columns").collect();
    assert_eq!(cols.len(), 8);
    assert_eq!(cols[0].prop(prop::IS_NULLABLE), Some(&Value::Bool(false)));
    assert_eq!(cols[0].prop(prop::IDENTITY_SEED), Some(&Value::Int(100)));
    assert!(cols[0].prop(prop::IDENTITY_INCREMENT).is_none());
    let spec = cols[1].children("TypeSpecifier").next().unwrap();
    assert_eq!(spec.prop(prop::IS_MAX), Some(&Value::Bool(true)));
    assert_eq!(referenced(spec, "Type"), "[nvarchar]");
    assert!(spec.references("Type").next().unwrap().is_built_in());
    assert!(cols[1].prop(prop::IS_NULLABLE).is_none());
    assert_eq!(
        cols[1].text_prop(prop::COLLATION),
        Some("Latin1_General_CI_AS")
    );
    let dec = cols[2].children("TypeSpecifier").next().unwrap();
    assert_eq!(dec.prop(prop::SCALE), Some(&Value::Int(2)));
    assert_eq!(dec.prop(prop::PRECISION), Some(&Value::Int(18)));
    assert_eq!(cols[4].kind, "SqlComputedColumn");
    assert_eq!(
        cols[4].text_prop(prop::EXPRESSION_SCRIPT),
        Some("(Price * 2)")
    );
    assert_eq!(cols[4].prop(prop::IS_PERSISTED), Some(&Value::Bool(true)));
    assert_eq!(
        cols[5].prop(prop::IS_ROW_GUID_COLUMN),
        Some(&Value::Bool(true))
    );
    let phone = cols[6].children("TypeSpecifier").next().unwrap();
    assert!(!phone.references("Type").next().unwrap().is_built_in());
    assert_eq!(referenced(phone, "Type"), "[dbo].[Phone]");
    assert_eq!(referenced(t, "Filegroup"), "[USERDATA]");
    assert!(t.relationship("FilegroupForTextImage").is_some());

    // Unnamed inline PK: no name, annotation on the constraint, attached on the column.
    let pk = els
        .iter()
        .find(|e| e.kind == "SqlPrimaryKeyConstraint")
        .unwrap();
    assert!(pk.name.is_none());
    let Annotation::Inline {
        disambiguator: Some(d),
        ..
    } = &pk.annotations[0]
    else {
        panic!("{pk:?}")
    };
    assert!(cols[0].annotations.contains(&Annotation::Attached {
        disambiguator: d.clone()
    }));
    // Named inline default: annotation on the column, attached on the constraint.
    let df = find(&els, "SqlDefaultConstraint", "[Sales].[DF_Price]");
    assert_eq!(df.text_prop(prop::DEFAULT_EXPRESSION_SCRIPT), Some("((0))"));
    assert!(matches!(df.annotations[0], Annotation::Attached { .. }));
    let seq_default = els
        .iter()
        .find(|e| e.kind == "SqlDefaultConstraint" && e.name.is_none())
        .unwrap();
    assert_eq!(
        referenced(seq_default, "ExpressionDependencies"),
        "[Sequences].[S]"
    );
    let uq = find(&els, "SqlUniqueConstraint", "[Sales].[UQ_Name]");
    assert_eq!(uq.prop(prop::FILL_FACTOR), Some(&Value::Int(80)));
    let spec = uq.children("ColumnSpecifications").next().unwrap();
    assert_eq!(spec.prop(prop::IS_ASCENDING), Some(&Value::Bool(false)));
    let fk = find(&els, "SqlForeignKeyConstraint", "[Sales].[FK_X]");
    assert_eq!(fk.prop(prop::ON_DELETE_ACTION), Some(&Value::Int(1)));
    assert_eq!(referenced(fk, "ForeignTable"), "[dbo].[Other]");
    assert_eq!(referenced(fk, "ForeignColumns"), "[dbo].[Other].[Id]");
    let ck = els.iter().find(|e| e.kind == "SqlCheckConstraint").unwrap();
    assert_eq!(
        ck.text_prop(prop::CHECK_EXPRESSION_SCRIPT),
        Some("Price > 0")
    );
    // Relationships are in DacFx (alphabetical) order.
    let rels: Vec<&str> = t.relationships.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        rels,
        ["Columns", "Filegroup", "FilegroupForTextImage", "Schema"]
    );
}

#[test]
fn temporal_and_memory_optimized_tables() {
    let els = parse(
        "CREATE TABLE T (Id INT NOT NULL CONSTRAINT PK_T PRIMARY KEY NONCLUSTERED,
 ValidFrom DATETIME2 GENERATED ALWAYS AS ROW START NOT NULL,
 ValidTo DATETIME2 GENERATED ALWAYS AS ROW END NOT NULL,
 PERIOD FOR SYSTEM_TIME (ValidFrom, ValidTo))
WITH (SYSTEM_VERSIONING = ON (HISTORY_TABLE = dbo.T_History), MEMORY_OPTIMIZED = ON, DURABILITY = SCHEMA_AND_DATA);",
    )
    .unwrap();
    let t = find(&els, "SqlTable", "[dbo].[T]");
    assert_eq!(t.prop(prop::RETENTION_UNIT), Some(&Value::Int(-1)));
    assert_eq!(t.prop(prop::IS_MEMORY_OPTIMIZED), Some(&Value::Bool(true)));
    assert_eq!(
        referenced(t, "TemporalSystemVersioningHistoryTable"),
        "[dbo].[T_History]"
    );
    let cols: Vec<&Element> = t.children("Columns").collect();
    assert_eq!(
        cols[1].prop(prop::GENERATED_ALWAYS_TYPE),
        Some(&Value::Int(1))
    );
    assert_eq!(
        cols[2].prop(prop::GENERATED_ALWAYS_TYPE),
        Some(&Value::Int(2))
    );
    let pk = find(&els, "SqlPrimaryKeyConstraint", "[dbo].[PK_T]");
    assert_eq!(pk.prop(prop::IS_CLUSTERED), Some(&Value::Bool(false)));
    assert!(t.references("Schema").next().unwrap().is_built_in());
}

#[test]
fn indexes_and_alter_table() {
    let els = parse(
        "CREATE TABLE dbo.T (A INT, B INT, C INT)
GO
CREATE UNIQUE CLUSTERED INDEX IX_A ON dbo.T (A DESC, B) INCLUDE (C) WHERE A > 0 WITH (PAD_INDEX = ON) ON [PRIMARY];
CREATE NONCLUSTERED COLUMNSTORE INDEX CS ON T (A, B);
GO
ALTER TABLE [dbo].[T] WITH CHECK ADD CONSTRAINT [FK_T] FOREIGN KEY ([A]) REFERENCES [dbo].[U] ([Id])
GO
ALTER TABLE [dbo].[T] CHECK CONSTRAINT [FK_T]
GO
ALTER TABLE dbo.T ADD CONSTRAINT DF_B DEFAULT (1) FOR B, D INT NULL",
    )
    .unwrap();
    let ix = find(&els, "SqlIndex", "[dbo].[T].[IX_A]");
    assert_eq!(ix.prop(prop::IS_UNIQUE), Some(&Value::Bool(true)));
    assert_eq!(ix.prop(prop::IS_CLUSTERED), Some(&Value::Bool(true)));
    assert_eq!(ix.text_prop(prop::FILTER_PREDICATE), Some("A > 0"));
    assert_eq!(ix.children("ColumnSpecifications").count(), 2);
    assert_eq!(referenced(ix, "IncludedColumns"), "[dbo].[T].[C]");
    assert!(ix.references("Filegroup").next().unwrap().is_built_in());
    find(&els, "SqlColumnStoreIndex", "[dbo].[T].[CS]");
    let fk = find(&els, "SqlForeignKeyConstraint", "[dbo].[FK_T]");
    assert!(fk.annotations.is_empty());
    let df = find(&els, "SqlDefaultConstraint", "[dbo].[DF_B]");
    assert_eq!(referenced(df, "ForColumn"), "[dbo].[T].[B]");
    let t = find(&els, "SqlTable", "[dbo].[T]");
    assert_eq!(t.children("Columns").count(), 4);
}

#[test]
fn sequences_in_any_option_order() {
    let els = parse(
        "CREATE SEQUENCE [Sequences].[A] AS INT START WITH 3 INCREMENT BY 1;
CREATE SEQUENCE B INCREMENT BY 5 MINVALUE 1 NO MAXVALUE CYCLE CACHE 10 START WITH 1 AS bigint",
    )
    .unwrap();
    let a = find(&els, "SqlSequence", "[Sequences].[A]");
    let names: Vec<&str> = a.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Increment", "StartValue"]);
    assert_eq!(a.prop(prop::START_VALUE), Some(&Value::Int(3)));
    let b = find(&els, "SqlSequence", "[dbo].[B]");
    assert_eq!(b.prop(prop::INCREMENT), Some(&Value::Int(5)));
    assert_eq!(b.prop(prop::IS_CYCLING), Some(&Value::Bool(true)));
    assert_eq!(b.prop(prop::CACHE_SIZE), Some(&Value::Int(10)));
    let spec = b.children("TypeSpecifier").next().unwrap();
    assert_eq!(referenced(spec, "Type"), "[bigint]");
}

#[test]
fn types_schemas_roles_users_synonyms_permissions() {
    let els = parse(
        "CREATE TYPE dbo.Phone FROM NVARCHAR(20) NOT NULL
GO
CREATE TYPE [Website].[OrderIDList] AS TABLE ([OrderID] INT NOT NULL, Note NVARCHAR(10) NULL, PRIMARY KEY CLUSTERED ([OrderID] ASC));
GO
CREATE SCHEMA [Sales] AUTHORIZATION [dbo];
GO
CREATE ROLE [External Sales] AUTHORIZATION [dbo]
GO
ALTER ROLE [External Sales] ADD MEMBER [Bob]
GO
CREATE USER WebApi FROM LOGIN WebApi WITH DEFAULT_SCHEMA=WebApi;
CREATE USER Loner WITHOUT LOGIN
GO
CREATE SYNONYM dbo.S FOR OtherDb.dbo.T
GO
GRANT VIEW ANY COLUMN ENCRYPTION KEY DEFINITION TO PUBLIC;
GRANT EXECUTE ON SCHEMA::WebApi TO WebApi;
GRANT SELECT, INSERT ON Application.Logs TO WebApi;",
    )
    .unwrap();
    let udt = find(&els, "SqlUserDefinedDataType", "[dbo].[Phone]");
    assert_eq!(udt.prop(prop::LENGTH), Some(&Value::Int(20)));
    assert_eq!(udt.prop(prop::IS_NULLABLE), Some(&Value::Bool(false)));
    let tt = find(&els, "SqlTableType", "[Website].[OrderIDList]");
    let cols: Vec<&Element> = tt.children("Columns").collect();
    assert_eq!(cols[0].kind, "SqlTableTypeSimpleColumn");
    assert!(cols[0].prop(prop::IS_NULLABLE).is_none());
    assert_eq!(cols[1].prop(prop::IS_NULLABLE), Some(&Value::Bool(true)));
    let pk = tt.children("Constraints").next().unwrap();
    assert_eq!(pk.kind, "SqlTableTypePrimaryKeyConstraint");
    assert_eq!(pk.prop(prop::IS_CLUSTERED), Some(&Value::Bool(true)));
    assert!(matches!(tt.annotations[0], Annotation::Attached { .. }));
    let schema = find(&els, "SqlSchema", "[Sales]");
    assert!(
        schema
            .references("Authorizer")
            .next()
            .unwrap()
            .is_built_in()
    );
    find(&els, "SqlRole", "[External Sales]");
    let m = find(&els, "SqlRoleMembership", "[External Sales].[Bob]");
    assert_eq!(referenced(m, "Member"), "[Bob]");
    let u = find(&els, "SqlUser", "[WebApi]");
    assert_eq!(referenced(u, "Login"), "[WebApi]");
    assert_eq!(referenced(u, "DefaultSchema"), "[WebApi]");
    assert_eq!(
        find(&els, "SqlUser", "[Loner]").prop(prop::IS_WITHOUT_LOGIN),
        Some(&Value::Bool(true))
    );
    let syn = find(&els, "SqlSynonym", "[dbo].[S]");
    assert_eq!(
        syn.text_prop(prop::FOR_OBJECT_SCRIPT),
        Some("OtherDb.dbo.T")
    );
    let g = find(
        &els,
        "SqlPermissionStatement",
        "[Grant.ViewAnyColumnEncryptionKeyDefinition.Database].[public].[dbo]",
    );
    assert_eq!(g.prop(prop::PERMISSION), Some(&Value::Int(1108)));
    find(
        &els,
        "SqlPermissionStatement",
        "[Grant.Execute.Schema].[WebApi].[dbo].[WebApi]",
    );
    find(
        &els,
        "SqlPermissionStatement",
        "[Grant.Insert.Object].[WebApi].[dbo].[Application].[Logs]",
    );
}

#[test]
fn extended_properties_are_named_like_dacfx() {
    let els = parse(
        "EXECUTE sp_addextendedproperty @name = N'Description', @value = 'Formal name', @level0type = N'SCHEMA', @level0name = N'Application', @level1type = N'TABLE', @level1name = N'Cities', @level2type = N'COLUMN', @level2name = N'CityName';
EXEC sys.sp_addextendedproperty N'MS_Description', N'x', N'SCHEMA', N'dbo', N'TABLE', N'T'
GO
EXECUTE sp_addextendedproperty @name = N'D', @value = N'i', @level0type = N'SCHEMA', @level0name = N'A', @level1type = N'TABLE', @level1name = N'C', @level2type = N'INDEX', @level2name = N'IX'",
    )
    .unwrap();
    let p = find(
        &els,
        "SqlExtendedProperty",
        "[SqlColumn].[Application].[Cities].[CityName].[Description]",
    );
    assert_eq!(p.text_prop(prop::VALUE), Some("'Formal name'"));
    assert_eq!(referenced(p, "Host"), "[Application].[Cities].[CityName]");
    find(
        &els,
        "SqlExtendedProperty",
        "[SqlTableBase].[dbo].[T].[MS_Description]",
    );
    find(
        &els,
        "SqlExtendedProperty",
        "[SqlIndexBase].[A].[C].[IX].[D]",
    );
}

#[test]
fn procedure_function_view_trigger_headers() {
    let proc_sql = "\nCREATE PROCEDURE Integration.GetCityUpdates\n@LastCutoff datetime2(7),\n@Name nvarchar(50) = N'x' OUTPUT,\n@List Website.OrderIDList READONLY\nWITH EXECUTE AS OWNER\nAS\nBEGIN\n    SELECT 1 AS [a]; -- AS\nEND;\n";
    let els = parse(proc_sql).unwrap();
    let p = find(&els, "SqlProcedure", "[Integration].[GetCityUpdates]");
    assert_eq!(
        p.text_prop(prop::BODY_SCRIPT),
        Some("\nBEGIN\n    SELECT 1 AS [a]; -- AS\nEND;")
    );
    assert_eq!(p.prop(prop::IS_OWNER), Some(&Value::Bool(true)));
    assert_eq!(p.prop(prop::IS_CALLER), Some(&Value::Bool(false)));
    let params: Vec<&Element> = p.children("Parameters").collect();
    assert_eq!(params.len(), 3);
    assert_eq!(
        params[0].name.as_ref().unwrap().to_string(),
        "[Integration].[GetCityUpdates].[@LastCutoff]"
    );
    assert_eq!(params[1].prop(prop::IS_OUTPUT), Some(&Value::Bool(true)));
    assert_eq!(
        params[1].text_prop(prop::DEFAULT_EXPRESSION_SCRIPT),
        Some("N'x'")
    );
    assert_eq!(params[2].prop(prop::IS_READ_ONLY), Some(&Value::Bool(true)));
    let Annotation::Inline {
        kind, properties, ..
    } = &p.annotations[0]
    else {
        panic!()
    };
    assert_eq!(kind, "SysCommentsObjectAnnotation");
    let get = |n: &str| {
        properties
            .iter()
            .find(|p| p.name == n)
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(get("CreateOffset"), Value::Int(1));
    assert_eq!(
        get("HeaderContents"),
        Value::Text(proc_sql[..proc_sql.find("AS\nBEGIN").unwrap() + 2].to_string())
    );

    let els = parse(
        "CREATE FUNCTION Website.CalculateCustomerPrice\n(\n    @CustomerID int\n)\nRETURNS decimal(18,2)\nWITH EXECUTE AS OWNER\nAS\nBEGIN\n    RETURN 1;\nEND;
GO
CREATE FUNCTION dbo.Tvf (@a int) RETURNS TABLE AS RETURN (SELECT @a AS a)
GO
CREATE FUNCTION dbo.Mtvf (@a int) RETURNS @t TABLE (x int) AS BEGIN INSERT @t VALUES (1); RETURN; END
GO
CREATE OR ALTER VIEW [dbo].[V] WITH SCHEMABINDING AS SELECT 1 AS x WITH CHECK OPTION;
GO
CREATE TRIGGER [dbo].[trg] ON [dbo].[T] AFTER INSERT, UPDATE NOT FOR REPLICATION AS SET NOCOUNT ON;",
    )
    .unwrap();
    let f = find(
        &els,
        "SqlScalarFunction",
        "[Website].[CalculateCustomerPrice]",
    );
    let body = f.children("FunctionBody").next().unwrap();
    assert_eq!(body.kind, "SqlScriptFunctionImplementation");
    assert_eq!(
        body.text_prop(prop::BODY_SCRIPT),
        Some("\nBEGIN\n    RETURN 1;\nEND;")
    );
    assert!(
        matches!(&body.annotations[0], Annotation::Inline { kind, .. } if kind == "SysCommentsObjectAnnotation")
    );
    let ret = f.children("Type").next().unwrap();
    assert_eq!(ret.prop(prop::PRECISION), Some(&Value::Int(18)));
    let tvf = find(&els, "SqlInlineTableValuedFunction", "[dbo].[Tvf]");
    assert_eq!(
        tvf.children("FunctionBody")
            .next()
            .unwrap()
            .text_prop(prop::BODY_SCRIPT),
        Some(" RETURN (SELECT @a AS a)")
    );
    let m = find(&els, "SqlMultiStatementTableValuedFunction", "[dbo].[Mtvf]");
    assert_eq!(m.text_prop(prop::RETURN_TABLE_VARIABLE), Some("@t"));
    let v = find(&els, "SqlView", "[dbo].[V]");
    assert_eq!(v.text_prop(prop::QUERY_SCRIPT), Some(" SELECT 1 AS x"));
    assert_eq!(v.prop(prop::IS_SCHEMA_BOUND), Some(&Value::Bool(true)));
    assert_eq!(v.prop(prop::IS_WITH_CHECK_OPTION), Some(&Value::Bool(true)));
    let t = find(&els, "SqlDmlTrigger", "[dbo].[trg]");
    assert_eq!(t.prop(prop::SQL_TRIGGER_TYPE), Some(&Value::Int(2)));
    assert_eq!(t.prop(prop::IS_INSERT_TRIGGER), Some(&Value::Bool(true)));
    assert_eq!(t.prop(prop::IS_UPDATE_TRIGGER), Some(&Value::Bool(true)));
    assert_eq!(referenced(t, "Parent"), "[dbo].[T]");
}

#[test]
fn opaque_objects_keep_their_definition() {
    let els = parse(
        "CREATE PARTITION FUNCTION [PF_Date](DATE) AS RANGE RIGHT FOR VALUES ('20120101');
GO
CREATE PARTITION SCHEME [PS_Date] AS PARTITION [PF_Date] ALL TO ([USERDATA])
GO
CREATE FULLTEXT INDEX ON [Sales].[Customers] (CustomerName) KEY INDEX PK_C ON FTCatalog
GO
CREATE SECURITY POLICY [Application].FilterCustomers
ADD FILTER PREDICATE [Application].DetermineCustomerAccess(DeliveryCityID) ON Sales.Customers
WITH (STATE = OFF);
GO
ALTER DATABASE [$(DatabaseName)] ADD FILEGROUP [USERDATA];"
            .replace("$(DatabaseName)", "Db")
            .as_str(),
    )
    .unwrap();
    let definition = |kind: &str, name: &str| {
        let el = find(&els, kind, name);
        el.text_prop(prop::DEFINITION)
            .unwrap_or_else(|| panic!("no definition in {el:#?}"))
    };
    assert!(
        definition("SqlPartitionFunction", "[PF_Date]").starts_with("CREATE PARTITION FUNCTION")
    );
    find(&els, "SqlPartitionScheme", "[PS_Date]");
    find(&els, "SqlFullTextIndex", "[Sales].[Customers]");
    assert!(
        definition("SqlSecurityPolicy", "[Application].[FilterCustomers]")
            .ends_with("WITH (STATE = OFF)")
    );
    find(&els, "SqlFilegroup", "[USERDATA]");
}

#[test]
fn names_with_special_characters_round_trip() {
    let els = parse("CREATE TABLE [we]]ird;\"'].[t]]1] ([c;\"'] INT)").unwrap();
    let t = &els[0];
    assert_eq!(t.name.as_ref().unwrap().parts(), ["we]ird;\"'", "t]1"]);
    assert_eq!(t.name.as_ref().unwrap().to_string(), "[we]]ird;\"'].[t]]1]");
    let col = t.children("Columns").next().unwrap();
    assert_eq!(col.name.as_ref().unwrap().leaf(), "c;\"'");
    assert!(!t.references("Schema").next().unwrap().is_built_in());
}

#[test]
fn errors_point_at_the_offending_token() {
    let (line, column, message) =
        sql_error("CREATE TABLE t (a INT)\nGO\n\nCREATE TABLE u (a INT,\n  b INT NOT FOO)");
    assert_eq!((line, column), (5, 13), "{message}");
    assert!(
        message.contains("expected") && message.contains("FOO"),
        "{message}"
    );
    let (line, column, message) = sql_error("  SELECT 1");
    assert_eq!((line, column), (1, 3));
    assert!(message.contains("CREATE"), "{message}");
    let (line, column, message) = sql_error("CREATE SEQUENCE s START WITH x");
    assert_eq!((line, column), (1, 30), "{message}");
    let (line, _, message) = sql_error("CREATE PROCEDURE p @a int\nBEGIN SELECT 1 END");
    assert_eq!(line, 2, "{message}");
    assert!(message.contains("AS"), "{message}");
    let (_, _, message) = sql_error("CREATE TABLE t (a INT");
    assert!(message.contains("end of batch"), "{message}");
    let (_, _, message) = sql_error("EXEC dbo.DoSomething");
    assert!(message.contains("sp_addextendedproperty"), "{message}");
}

fn refactor_ops(sql: &str) -> Vec<crate::model::refactor::RefactorOperation> {
    let mut pp = Preprocessor::new(Mode::Model, &BTreeMap::new(), []);
    pp.add_text(Path::new("t.sql"), sql).unwrap();
    let mut b = TsqlBuilder::new();
    for batch in pp.finish() {
        b.add_batch(&batch).unwrap();
    }
    b.refactor_operations().to_vec()
}

#[test]
fn renamed_annotations_become_rename_refactor_operations() {
    let ops = refactor_ops(
        "CREATE TABLE accounts ( -- @renamed from=old_accounts\n  id bigint NOT NULL,\n  username varchar(100), -- @renamed from=user_name\n  CONSTRAINT uq UNIQUE (id) -- @renamed from=old_uq\n);\nGO\nCREATE INDEX new_idx /* @renamed from=[old_idx] */ ON accounts (id);\n",
    );
    let summary: Vec<(&str, &str, &str)> = ops
        .iter()
        .map(|o| {
            (
                o.property(prop::ELEMENT_TYPE).unwrap(),
                o.property(prop::ELEMENT_NAME).unwrap(),
                o.property(prop::NEW_NAME).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("SqlTable", "[dbo].[old_accounts]", "[accounts]"),
            (
                "SqlSimpleColumn",
                "[dbo].[accounts].[user_name]",
                "[username]"
            ),
            ("SqlUniqueConstraint", "[dbo].[old_uq]", "[uq]"),
            ("SqlIndex", "[dbo].[accounts].[old_idx]", "[new_idx]"),
        ]
    );
    assert_eq!(
        ops[1].property(prop::PARENT_ELEMENT_NAME),
        Some("[dbo].[accounts]")
    );
    // Keys are GUIDs, stable across builds, and distinct.
    for op in &ops {
        let groups: Vec<usize> = op.key.split('-').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12], "{}", op.key);
        assert_eq!(op.name, "Rename Refactor");
    }
    let again = refactor_ops(
        "CREATE TABLE accounts ( -- @renamed from=old_accounts\n  id bigint NOT NULL\n);\n",
    );
    assert_eq!(again[0].key, ops[0].key);
    assert_ne!(ops[0].key, ops[1].key);
    // A comment without a definition before it on its line renames nothing.
    assert!(refactor_ops("-- @renamed from=x\nCREATE TABLE t (a int);\n").is_empty());
}

/// The model of `sql` built as a whole project: references resolved, unresolved ones refused.
fn build_project(sql: &str) -> Result<crate::model::Model, Error> {
    crate::source::build_tsql_text(
        sql,
        Path::new("t.sql"),
        &crate::model::Dsp::default_sqlserver(),
    )
}

/// `model` written as a package and read back, as `dac build` then any other command does.
fn write_and_read(model: crate::model::Model) -> Result<crate::model::Model, Error> {
    let package = crate::package::Package {
        metadata: None,
        origin: None,
        model,
        predeploy: None,
        postdeploy: None,
        refactor_log: None,
    };
    let bytes = crate::package::to_bytes(&package)?;
    let read = crate::package::read_bytes(&bytes, Path::new("t.dacpac"), &Default::default())?;
    Ok(read.model)
}

fn built_error(sql: &str) -> (u64, String) {
    match build_project(sql).unwrap_err() {
        Error::Sql { line, message, .. } => (line, message),
        other => panic!("{other}"),
    }
}

#[test]
fn references_outside_the_database_are_external_and_the_package_loads() {
    let model = build_project(
        "CREATE TABLE dbo.T (id INT NOT NULL PRIMARY KEY)
GO
CREATE USER [u] FOR LOGIN [l]
GO
CREATE SYNONYM dbo.Remote FOR [OtherDB].[dbo].[T]
GO
CREATE SYNONYM dbo.Linked FOR [Srv].[OtherDB].[dbo].[T]
GO
CREATE SYNONYM dbo.Local FOR dbo.T
GO
",
    )
    .unwrap();
    let external = |kind: &str, name: &str, rel: &str| {
        let el = find(&model.elements, kind, name);
        let r = el.references(rel).next().unwrap().clone();
        (
            r.name.unwrap().to_string(),
            r.external_source.as_deref().map(str::to_string),
        )
    };
    let unresolved = Some("UnresolvedEntity".to_string());
    assert_eq!(
        external("SqlUser", "[u]", "Login"),
        ("[l]".into(), unresolved.clone())
    );
    assert_eq!(
        external("SqlSynonym", "[dbo].[Remote]", "ForObject"),
        ("[OtherDB].[dbo].[T]".into(), unresolved.clone())
    );
    assert_eq!(
        external("SqlSynonym", "[dbo].[Linked]", "ForObject"),
        ("[Srv].[OtherDB].[dbo].[T]".into(), unresolved)
    );
    assert_eq!(
        external("SqlSynonym", "[dbo].[Local]", "ForObject"),
        ("[dbo].[T]".into(), None)
    );
    write_and_read(model).unwrap();
}

#[test]
fn unresolved_local_references_are_errors_at_their_statement() {
    let (line, message) = built_error(
        "CREATE TABLE dbo.A (id INT NOT NULL PRIMARY KEY)
GO
CREATE TABLE dbo.B (
    id INT NOT NULL,
    a INT CONSTRAINT FK_B_Missing REFERENCES dbo.Missing (id)
)
GO
",
    );
    assert_eq!(line, 3, "{message}");
    assert!(message.contains("the table [dbo].[Missing]"), "{message}");
    assert!(message.contains("SQL71501"), "{message}");

    let (line, message) = built_error(
        "CREATE TABLE dbo.T (
    id INT NOT NULL PRIMARY KEY,
    ValidFrom DATETIME2 GENERATED ALWAYS AS ROW START NOT NULL,
    ValidTo DATETIME2 GENERATED ALWAYS AS ROW END NOT NULL,
    PERIOD FOR SYSTEM_TIME (ValidFrom, ValidTo)
) WITH (SYSTEM_VERSIONING = ON (HISTORY_TABLE = dbo.THistory))",
    );
    assert_eq!(line, 1, "{message}");
    assert!(
        message.contains("the history table [dbo].[THistory]"),
        "{message}"
    );

    let (_, message) = built_error("CREATE TABLE FOO.T (id INT)");
    assert!(message.contains("the schema [FOO]"), "{message}");
    let (_, message) = built_error("CREATE SYNONYM dbo.S FOR dbo.Nothing");
    assert!(message.contains("[dbo].[Nothing]"), "{message}");
    // A foreign key cannot reach another database.
    let (_, _, message) = sql_error("CREATE TABLE dbo.B (a INT REFERENCES OtherDB.dbo.A (id))");
    assert!(message.contains("cross-database"), "{message}");
}

#[test]
fn references_take_the_spelling_of_the_declaration() {
    // Names compare case-insensitively under SQL Server's default collation.
    let model = build_project(
        "CREATE TABLE Items (item_id integer NOT NULL PRIMARY KEY)
GO
CREATE TABLE prices (id INT NOT NULL, item INT CONSTRAINT fk REFERENCES items (ITEM_ID))
GO
",
    )
    .unwrap();
    let fk = find(&model.elements, "SqlForeignKeyConstraint", "[dbo].[fk]");
    assert_eq!(referenced(fk, "ForeignTable"), "[dbo].[Items]");
    assert_eq!(referenced(fk, "ForeignColumns"), "[dbo].[Items].[item_id]");
    write_and_read(model).unwrap();
}

#[test]
fn type_synonyms_are_the_built_in_types() {
    let els = parse(
        "CREATE TABLE t (a integer NOT NULL, b INTEGER, c character varying(10), d dec(5,2), e double precision, f national character(3), g [integer])",
    )
    .unwrap();
    let table = find(&els, "SqlTable", "[dbo].[t]");
    let types: Vec<(String, bool)> = table
        .children("Columns")
        .map(|c| {
            let spec = c.children("TypeSpecifier").next().unwrap();
            let r = spec.references("Type").next().unwrap();
            (r.name.as_ref().unwrap().to_string(), r.is_built_in())
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("[int]".to_string(), true),
            ("[int]".to_string(), true),
            ("[varchar]".to_string(), true),
            ("[decimal]".to_string(), true),
            ("[float]".to_string(), true),
            ("[nchar]".to_string(), true),
            // A bracketed name is a type of that name, as in SQL Server.
            ("[dbo].[integer]".to_string(), false),
        ]
    );
}

#[test]
fn an_index_on_a_view_names_the_view_column_and_the_package_loads() {
    let model = build_project(
        "CREATE TABLE dbo.Stores (Id INT NOT NULL PRIMARY KEY, RegionCode INT NOT NULL)
GO
CREATE VIEW dbo.StoreCount WITH SCHEMABINDING AS
SELECT RegionCode, COUNT_BIG(*) AS Stores FROM dbo.Stores GROUP BY RegionCode
GO
CREATE UNIQUE CLUSTERED INDEX IX ON dbo.StoreCount (RegionCode)
GO
",
    )
    .unwrap();
    let view = find(&model.elements, "SqlView", "[dbo].[StoreCount]");
    let columns: Vec<String> = view
        .children("Columns")
        .map(|c| c.name_or_empty().to_string())
        .collect();
    assert_eq!(columns, vec!["[dbo].[StoreCount].[RegionCode]"]);
    write_and_read(model).unwrap();
}

#[test]
fn columns_of_a_not_null_alias_type_are_not_null_unless_they_say_null() {
    let model = build_project(
        "CREATE TABLE dbo.Contacts (
    Id INT NOT NULL PRIMARY KEY,
    Phone dbo.Phone,
    Fax dbo.Phone NULL,
    Mobile dbo.phone CONSTRAINT NN_Mobile NOT NULL,
    Note dbo.Note
)
GO
CREATE TYPE dbo.Phone FROM VARCHAR(20) NOT NULL
GO
CREATE TYPE dbo.Note FROM NVARCHAR(100)
GO
",
    )
    .unwrap();
    let table = find(&model.elements, "SqlTable", "[dbo].[Contacts]");
    let nullable: Vec<(String, Option<bool>)> = table
        .children("Columns")
        .map(|c| {
            (
                c.name_or_empty().leaf().to_string(),
                c.bool_prop("IsNullable"),
            )
        })
        .collect();
    assert_eq!(
        nullable,
        vec![
            ("Id".to_string(), Some(false)),
            // The type says NOT NULL, even when declared after the table.
            ("Phone".to_string(), Some(false)),
            ("Fax".to_string(), None),
            ("Mobile".to_string(), Some(false)),
            ("Note".to_string(), None),
        ]
    );
}

#[test]
fn a_name_on_null_or_not_null_is_accepted_and_not_kept() {
    let els =
        parse("CREATE TABLE t (a INT CONSTRAINT [NN] NOT NULL, b INT CONSTRAINT N2 NULL)").unwrap();
    let table = find(&els, "SqlTable", "[dbo].[t]");
    let cols: Vec<Option<bool>> = table
        .children("Columns")
        .map(|c| c.bool_prop("IsNullable"))
        .collect();
    assert_eq!(cols, vec![Some(false), None]);
    assert_eq!(els.len(), 1, "{els:#?}");
    let (_, _, message) = sql_error("CREATE TABLE t (a INT CONSTRAINT nn IDENTITY)");
    assert!(message.contains("NOT NULL"), "{message}");
}

#[test]
fn table_constraints_may_follow_one_another_without_a_comma() {
    let els = parse(
        "CREATE TABLE dbo.Child (
    Id INT NOT NULL,
    ParentId INT NOT NULL,
    CONSTRAINT PK_Child PRIMARY KEY (Id)
    CONSTRAINT FK_Child_Parent FOREIGN KEY (ParentId) REFERENCES dbo.Parent (Id)
    CHECK (Id > 0)
)",
    )
    .unwrap();
    find(&els, "SqlPrimaryKeyConstraint", "[dbo].[PK_Child]");
    let fk = find(&els, "SqlForeignKeyConstraint", "[dbo].[FK_Child_Parent]");
    assert_eq!(referenced(fk, "ForeignTable"), "[dbo].[Parent]");
    assert!(els.iter().any(|e| e.kind == "SqlCheckConstraint"));
}

#[test]
fn create_schema_dbo_declares_nothing_new() {
    let els = parse(
        "CREATE SCHEMA [dbo]\nGO\nCREATE SCHEMA dbo AUTHORIZATION [dbo];\nGO\nCREATE SCHEMA Sales",
    )
    .unwrap();
    let schemas: Vec<String> = els
        .iter()
        .filter(|e| e.kind == "SqlSchema")
        .map(|e| e.name_or_empty().to_string())
        .collect();
    assert_eq!(schemas, vec!["[Sales]"]);
    let (line, column, message) = sql_error("CREATE SCHEMA dbo AUTHORIZATION someone");
    assert_eq!((line, column), (1, 19), "{message}");
    assert!(message.contains("every database"), "{message}");
    let (_, _, message) = sql_error("CREATE SCHEMA sys");
    assert!(message.contains("every database"), "{message}");
}

#[test]
fn alter_statements_that_change_objects_say_a_project_holds_create_statements() {
    let (line, column, message) =
        sql_error("CREATE TABLE t (a INT)\nGO\nALTER VIEW dbo.v AS SELECT 1 AS one");
    assert_eq!((line, column), (3, 1), "{message}");
    assert!(
        message.starts_with("ALTER VIEW does not belong in a project"),
        "{message}"
    );
    assert!(message.contains("CREATE VIEW"), "{message}");
    let (_, _, message) = sql_error("ALTER DATABASE SCOPED CONFIGURATION SET MAXDOP = 1;");
    assert!(
        message.starts_with("ALTER DATABASE SCOPED CONFIGURATION does not belong in a project"),
        "{message}"
    );
    assert!(message.contains("SQL70001"), "{message}");
    // ALTER DATABASE ... SET still completes the project's database options.
    parse("ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON").unwrap();
}

/// A property of a module's `SysCommentsObjectAnnotation` (on the module or its function body).
fn sys_comment(el: &Element, name: &str) -> Value {
    let from = |e: &Element| {
        e.annotations.iter().find_map(|a| match a {
            Annotation::Inline {
                kind, properties, ..
            } if kind == "SysCommentsObjectAnnotation" => properties
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.value.clone()),
            _ => None,
        })
    };
    from(el)
        .or_else(|| el.children("FunctionBody").find_map(from))
        .unwrap_or_else(|| panic!("no {name} in {el:#?}"))
}

#[test]
fn modules_in_a_file_without_go_are_only_their_own_statement() {
    let els = parse(
        "create table users (id int not null primary key, name varchar(40));
create view user_view as select id, name from users where id > 0;
create function dbo.twice(@x int) returns int as begin return case when @x > 0 then @x * 2 else 0 end end;
create function dbo.named() returns table as return (select name from users);
create trigger users_audit on users after insert as begin set nocount on; end;
create view second_view as select id from users
create table t2 (a int)
",
    )
    .unwrap();
    let kinds: Vec<String> = els
        .iter()
        .map(|e| format!("{} {}", e.kind, e.name_or_empty()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "SqlPrimaryKeyConstraint ",
            "SqlTable [dbo].[users]",
            "SqlView [dbo].[user_view]",
            "SqlScalarFunction [dbo].[twice]",
            "SqlInlineTableValuedFunction [dbo].[named]",
            "SqlDmlTrigger [dbo].[users_audit]",
            "SqlView [dbo].[second_view]",
            "SqlTable [dbo].[t2]",
        ]
    );
    let text = |kind: &str, name: &str, property: &str| {
        find(&els, kind, name)
            .text_prop(property)
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        text("SqlView", "[dbo].[user_view]", prop::QUERY_SCRIPT),
        "select id, name from users where id > 0"
    );
    assert_eq!(
        text("SqlView", "[dbo].[second_view]", prop::QUERY_SCRIPT),
        "select id from users"
    );
    assert_eq!(
        text("SqlDmlTrigger", "[dbo].[users_audit]", prop::BODY_SCRIPT),
        "begin set nocount on; end;"
    );
    let twice = find(&els, "SqlScalarFunction", "[dbo].[twice]");
    let body = twice.children("FunctionBody").next().unwrap();
    assert_eq!(
        body.text_prop(prop::BODY_SCRIPT).unwrap().trim(),
        "begin return case when @x > 0 then @x * 2 else 0 end end;"
    );
    // The header DacFx keeps starts at the module's own CREATE, not at the file's start.
    let view = find(&els, "SqlView", "[dbo].[user_view]");
    assert_eq!(
        sys_comment(view, "HeaderContents"),
        Value::Text("create view user_view as".into())
    );
    assert_eq!(sys_comment(view, "CreateOffset"), Value::Int(0));
    assert_eq!(sys_comment(view, "StartLine"), Value::Int(2));
    assert_eq!(
        sys_comment(view, "Length"),
        Value::Int(
            "create view user_view as select id, name from users where id > 0;".len() as i64
        )
    );
}

#[test]
fn a_procedure_body_runs_to_the_end_of_its_batch_unless_a_create_no_body_can_hold_follows() {
    let els = parse(
        "CREATE PROCEDURE dbo.p AS
SET NOCOUNT ON;
CREATE TABLE #work (a int);
CREATE INDEX ix ON #work (a);
IF 1 = 1 BEGIN SELECT 1; END
CREATE TABLE dbo.kept_in_body (a int);
CREATE VIEW dbo.v AS SELECT 1 AS one
",
    )
    .unwrap();
    let p = find(&els, "SqlProcedure", "[dbo].[p]");
    let body = p.text_prop(prop::BODY_SCRIPT).unwrap();
    // SQL Server makes every statement up to the end of the batch part of the procedure...
    assert!(body.contains("CREATE TABLE dbo.kept_in_body"), "{body}");
    // ...but no procedure can hold CREATE VIEW: that is a statement of its own.
    assert!(!body.contains("CREATE VIEW"), "{body}");
    find(&els, "SqlView", "[dbo].[v]");
    assert!(
        !els.iter()
            .any(|e| e.name_or_empty().to_string().contains("kept_in_body"))
    );
}
