//! Compare, plan and script over the real corpus.
//!
//! - Every package compares equal to itself and to its own rewrite (`to_bytes` then `read_bytes`).
//! - Two producers of one schema (AdventureWorks built by SSDT 162 and extracted by DacFx 14)
//!   differ only where the schemas really differ; see [`adventureworks_from_two_producers`].
//! - The corpus upgrade chains plan the operations the change really is, with their hazards and
//!   SQL Server statements; the expected lists were decided by reading both model.xml files.
//! - The deploy report of one step is well-formed DeployReport XML whose items and alerts agree,
//!   and its JSON has the documented shape.

use std::path::{Path, PathBuf};

use dac_engine::compare::{Action, CompareOptions, Diff, compare};
use dac_engine::dialect::{Dialect, dialect_for};
use dac_engine::package::{Package, ReadOptions, read, read_bytes, to_bytes};
use dac_engine::plan::{self, Plan, PlanOptions};
use dac_engine::{report, script};
use quick_xml::Reader;
use quick_xml::events::Event;

fn corpus() -> Option<PathBuf> {
    dac_tests::shared_dir("corpus_compare").map(|s| s.join("corpus/dacpac"))
}

fn load(path: &Path) -> Package {
    read(path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn describe(diff: &Diff) -> Vec<String> {
    diff.changes
        .iter()
        .map(|c| {
            let paths: Vec<&str> = c.details.iter().map(|d| d.path.as_str()).collect();
            format!(
                "{} {} {} [{}]",
                c.action.as_str(),
                c.kind,
                c.name,
                paths.join(", ")
            )
        })
        .collect()
}

#[test]
fn every_package_equals_itself_and_its_rewrite() {
    let Some(dir) = corpus() else { return };
    let files = dac_tests::corpus_dacpacs(dir.parent().unwrap().parent().unwrap());
    assert_eq!(files.len(), 29, "the corpus has 29 packages");
    let options = CompareOptions::default();
    for file in files {
        let package = load(&file);
        let diff = compare(&package.model, &package.model, &options);
        assert!(
            diff.changes.is_empty(),
            "{}: {:?}",
            file.display(),
            describe(&diff)
        );
        let bytes = to_bytes(&package).unwrap();
        let again = read_bytes(&bytes, &file, &ReadOptions::default()).unwrap();
        for (a, b) in [(&package, &again), (&again, &package)] {
            let diff = compare(&a.model, &b.model, &options);
            assert!(
                diff.changes.is_empty(),
                "{} rewritten: {:?}",
                file.display(),
                describe(&diff)
            );
        }
    }
}

/// AdventureWorks built from a project by SSDT 162 (Sql160, current) against AdventureWorks2014
/// extracted from a live server by DacFx 14 (Sql130, desired).
///
/// Producer noise that compare removes (each fixed in `compare`, never for these files):
/// - properties one producer omits at their default (`IsNullable`, `IsClustered`, ... and the
///   empty `DefaultLanguage`/`DefaultFullTextLanguage` SSDT writes for the server default);
/// - references to built-in types and schemas, with or without `ExternalSource="BuiltIns"`;
/// - inline-constraint annotations (the extract names them after the server's generated
///   constraint names, the build does not) and other annotations;
/// - derived relationships (`ExpressionDependencies`, `QueryDependencies`, view columns);
/// - expression spellings: the server writes `CONVERT([nvarchar](23),[SalesOrderID])` for the
///   `SalesOrderNumber` computed column where the project has `CONVERT(...,[SalesOrderID],0)`;
///   0 is CONVERT's default style, so the canonical expressions are equal.
///
/// What remains is real; the two databases differ:
/// - `SqlDatabaseOptions`: the project uses SSDT's project defaults (compatibility level of the
///   Sql160 DSP, ANSI_NULL_DEFAULT ON, PAGE_VERIFY CHECKSUM = 3, FULL recovery, LOCAL cursors)
///   while the extracted database is at compatibility level 120, ANSI_NULL_DEFAULT off, GLOBAL
///   cursors, SIMPLE recovery (1) and a page-verify mode other than CHECKSUM (other extracts in the
///   corpus write `PageVerifyMode="3"` when the database has CHECKSUM).
/// - four `MS_Description` extended properties name "AdventureWorks2008R2" in the project and
///   "AdventureWorks 2014" in the extract;
/// - the full-text catalog is `AW2008FullTextCatalog` in one and `AW2014FullTextCatalog` in the
///   other, so the three full-text indexes name another catalog (the old catalog is kept, not
///   dropped, as `DropObjectsNotInSource` is off);
/// - the extract holds the two `GRANT VIEW ANY COLUMN ENCRYPTION/MASTER KEY DEFINITION TO public`
///   statements SQL Server 2016+ puts in every database; the project does not declare them;
/// - the view `[HumanResources].[vEmployeeDepartment]` filters on `GETDATE() BETWEEN StartDate
///   AND ISNULL(EndDate, GETDATE())` in the project and on `EndDate IS NULL` in the extract.
#[test]
fn adventureworks_from_two_producers() {
    let Some(dir) = corpus() else { return };
    let dir = dir.join("ErikEJ__EFCorePowerTools");
    let built = load(&dir.join("AdventureWorks.dacpac"));
    let extracted = load(&dir.join("AdventureWorks2014.dacpac"));
    let diff = compare(&built.model, &extracted.model, &CompareOptions::default());
    let description = "[SqlDatabaseDdlTrigger].[ddlDatabaseTriggerLog].[MS_Description]";
    let expected = vec![
        "alter SqlDatabaseOptions  [CompatibilityMode, IsAnsiNullDefaultOn, IsCursorDefaultScopeGlobal, PageVerifyMode, RecoveryMode]".to_string(),
        format!("alter SqlExtendedProperty {description} [Value]"),
        "alter SqlExtendedProperty [SqlDatabaseOptions].[MS_Description] [Value]".into(),
        "alter SqlExtendedProperty [SqlFilegroup].[PRIMARY].[MS_Description] [Value]".into(),
        "alter SqlExtendedProperty [SqlTableBase].[dbo].[AWBuildVersion].[MS_Description] [Value]".into(),
        "keep SqlFullTextCatalog [AW2008FullTextCatalog] []".into(),
        "create SqlFullTextCatalog [AW2014FullTextCatalog] []".into(),
        "alter SqlFullTextIndex [HumanResources].[JobCandidate] [Catalog]".into(),
        "alter SqlFullTextIndex [Production].[Document] [Catalog]".into(),
        "alter SqlFullTextIndex [Production].[ProductReview] [Catalog]".into(),
        "create SqlPermissionStatement [Grant.ViewAnyColumnEncryptionKeyDefinition.Database].[public].[dbo] []".into(),
        "create SqlPermissionStatement [Grant.ViewAnyColumnMasterKeyDefinition.Database].[public].[dbo] []".into(),
        "alter SqlView [HumanResources].[vEmployeeDepartment] [QueryScript]".into(),
    ];
    assert_eq!(describe(&diff), expected);
    let options = diff
        .changes
        .iter()
        .find(|c| c.kind == "SqlDatabaseOptions")
        .unwrap();
    let values: Vec<(&str, Option<&str>, Option<&str>)> = options
        .details
        .iter()
        .map(|d| (d.path.as_str(), d.current.as_deref(), d.desired.as_deref()))
        .collect();
    assert_eq!(
        values,
        [
            ("CompatibilityMode", None, Some("120")),
            ("IsAnsiNullDefaultOn", Some("True"), None),
            ("IsCursorDefaultScopeGlobal", None, Some("True")),
            ("PageVerifyMode", Some("3"), None),
            ("RecoveryMode", None, Some("1")),
        ]
    );
    let view = diff.changes.iter().find(|c| c.kind == "SqlView").unwrap();
    let text_diff = view.details[0].text_diff.as_deref().unwrap();
    assert!(
        text_diff.contains("-WHERE GETDATE() BETWEEN"),
        "{text_diff}"
    );
    assert!(
        text_diff.contains("+WHERE edh.EndDate IS NULL"),
        "{text_diff}"
    );

    // The other way round, the same objects differ (the old catalog is now the one created).
    let back = compare(&extracted.model, &built.model, &CompareOptions::default());
    let mut objects: Vec<String> = back
        .changes
        .iter()
        .map(|c| format!("{} {}", c.kind, c.name))
        .collect();
    let mut forward: Vec<String> = diff
        .changes
        .iter()
        .map(|c| format!("{} {}", c.kind, c.name))
        .collect();
    objects.sort();
    forward.sort();
    assert_eq!(objects, forward);
    assert_eq!(
        back.changes
            .iter()
            .filter(|c| c.action == Action::Keep)
            .count(),
        3,
        "the catalog and both grants are only in the extract: {:?}",
        describe(&back)
    );
}

/// One upgrade step: compare, plan and render for SQL Server.
struct Step {
    diff: Diff,
    plan: Plan,
    script: String,
}

fn upgrade(from: &str, to: &str) -> Option<Step> {
    let dir = corpus()?;
    let current = load(&dir.join(format!("{from}.dacpac")));
    let desired = load(&dir.join(format!("{to}.dacpac")));
    let diff = compare(&current.model, &desired.model, &CompareOptions::default());
    let dialect: &dyn Dialect = dialect_for(desired.model.platform());
    let plan = plan::plan(
        &diff,
        &current.model,
        &desired.model,
        dialect.capabilities(),
        &PlanOptions {
            predeploy: desired.predeploy.clone(),
            postdeploy: desired.postdeploy.clone(),
            ..PlanOptions::default()
        },
    );
    let script = script::render(&plan, dialect).text(dialect);
    Some(Step { diff, plan, script })
}

fn operations(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| format!("{} {} {}", s.kind.as_str(), s.object_kind, s.name))
        .collect()
}

fn hazards(plan: &Plan) -> Vec<String> {
    plan.hazards
        .iter()
        .map(|h| format!("{} {}", h.kind.as_str(), h.object))
        .collect()
}

fn assert_statements(step: &Step, statements: &[&str]) {
    let mut from = 0;
    for statement in statements {
        match step.script[from..].find(statement) {
            Some(at) => from += at + statement.len(),
            None => panic!("missing (in this order) {statement:?} in:\n{}", step.script),
        }
    }
}

fn assert_absent(step: &Step, text: &str) {
    assert!(
        !step.script.contains(text),
        "unexpected {text:?} in:\n{}",
        step.script
    );
}

const MACIEJW: &str = "maciejw__dacpac-data-migrations";

/// 000 -> 001: two new tables (`CustomerTypes` with an unnamed primary key on `Id`, `Customers`
/// without a key) and a foreign key from `Customers.CustomerTypeId` to `CustomerTypes.Id`.
#[test]
fn maciejw_000_to_001_creates_the_app() {
    let Some(step) = upgrade(
        &format!("{MACIEJW}/000 Empty"),
        &format!("{MACIEJW}/001 App deployment"),
    ) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        [
            "PreDeploy Script [predeploy]",
            "CreateTable SqlTable [dbo].[CustomerTypes]",
            "CreateTable SqlTable [dbo].[Customers]",
            "AddForeignKey SqlForeignKeyConstraint [dbo].[FK_Customers_ToTable]",
            "PostDeploy Script [postdeploy]",
        ]
    );
    assert!(step.plan.hazards.is_empty());
    assert_statements(
        &step,
        &[
            "CREATE TABLE [dbo].[CustomerTypes] (\n    [Id] INT NOT NULL,\n    PRIMARY KEY CLUSTERED ([Id])\n);",
            "CREATE TABLE [dbo].[Customers] (\n    [Id] INT NOT NULL,\n    [CustomerTypeId] INT NOT NULL,\n    [Name] NVARCHAR (255) NOT NULL\n);",
            "ALTER TABLE [dbo].[Customers] ADD CONSTRAINT [FK_Customers_ToTable] FOREIGN KEY ([CustomerTypeId]) REFERENCES [dbo].[CustomerTypes] ([Id]);",
            "insert into CustomerTypes values(1)",
        ],
    );
}

/// 001 -> 002: `Customers.Name` becomes nullable and the nullable `FirstName`, `LastName` are
/// added (the post-deployment migration splits the name). Nothing can lose data.
#[test]
fn maciejw_001_to_002_adds_nullable_columns() {
    let Some(step) = upgrade(
        &format!("{MACIEJW}/001 App deployment"),
        &format!("{MACIEJW}/002 App upgrade"),
    ) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        [
            "PreDeploy Script [predeploy]",
            "AlterTable SqlTable [dbo].[Customers]",
            "PostDeploy Script [postdeploy]",
        ]
    );
    assert!(step.plan.hazards.is_empty());
    assert_statements(
        &step,
        &[
            "ALTER TABLE [dbo].[Customers] ALTER COLUMN [Name] NVARCHAR (255) NULL;",
            "ALTER TABLE [dbo].[Customers] ADD [FirstName] NVARCHAR (255) NULL;",
            "ALTER TABLE [dbo].[Customers] ADD [LastName] NVARCHAR (255) NULL;",
            "0001 Split customers name",
        ],
    );
    assert_absent(&step, "RAISERROR");
}

/// 002 -> 003: `FirstName` and `LastName` become NOT NULL and `Name` is dropped: three hazards
/// and one guard before the ALTER.
#[test]
fn maciejw_002_to_003_tightens_and_drops() {
    let Some(step) = upgrade(
        &format!("{MACIEJW}/002 App upgrade"),
        &format!("{MACIEJW}/003 Db upgrade"),
    ) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        [
            "PreDeploy Script [predeploy]",
            "AlterTable SqlTable [dbo].[Customers]",
            "PostDeploy Script [postdeploy]",
        ]
    );
    assert_eq!(
        hazards(&step.plan),
        [
            "NotNullWithoutDefault [dbo].[Customers].[FirstName]",
            "NotNullWithoutDefault [dbo].[Customers].[LastName]",
            "DataLoss [dbo].[Customers].[Name]",
            // Risks, not losses: NOT NULL reads every row under a lock.
            "TableScan [dbo].[Customers].[FirstName]",
            "TableScan [dbo].[Customers].[LastName]",
        ]
    );
    assert_statements(
        &step,
        &[
            "IF EXISTS (SELECT TOP 1 1 FROM [dbo].[Customers])",
            "ALTER TABLE [dbo].[Customers] ALTER COLUMN [FirstName] NVARCHAR (255) NOT NULL;",
            "ALTER TABLE [dbo].[Customers] ALTER COLUMN [LastName] NVARCHAR (255) NOT NULL;",
            "ALTER TABLE [dbo].[Customers] DROP COLUMN [Name];",
        ],
    );
}

/// 003 -> 004: new tables `Categories` (unnamed key) and `CustomerCategories`
/// (`PK_CustomerCategories` on both columns); `Customers.CustomerTypeId` becomes nullable; the
/// foreign key is renamed in the project (no refactor log), so it is dropped and added.
#[test]
fn maciejw_003_to_004_adds_tables_and_renames_a_foreign_key() {
    let Some(step) = upgrade(
        &format!("{MACIEJW}/003 Db upgrade"),
        &format!("{MACIEJW}/004 App upgrade"),
    ) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        [
            "PreDeploy Script [predeploy]",
            "DropForeignKey SqlForeignKeyConstraint [dbo].[FK_Customers_ToTable]",
            "CreateTable SqlTable [dbo].[Categories]",
            "CreateTable SqlTable [dbo].[CustomerCategories]",
            "AlterTable SqlTable [dbo].[Customers]",
            "AddForeignKey SqlForeignKeyConstraint [dbo].[FK_Customers_ToCustomerTypes]",
            "PostDeploy Script [postdeploy]",
        ]
    );
    // The renamed foreign key is added again, checking every row of a table that is there.
    assert_eq!(
        hazards(&step.plan),
        ["TableScan [dbo].[FK_Customers_ToCustomerTypes]"]
    );
    assert_statements(
        &step,
        &[
            "ALTER TABLE [dbo].[Customers] DROP CONSTRAINT [FK_Customers_ToTable];",
            "CREATE TABLE [dbo].[Categories] (",
            "PRIMARY KEY CLUSTERED ([Id])",
            "CREATE TABLE [dbo].[CustomerCategories] (",
            "CONSTRAINT [PK_CustomerCategories] PRIMARY KEY CLUSTERED ([CustomerId], [CategoryId])",
            "ALTER TABLE [dbo].[Customers] ALTER COLUMN [CustomerTypeId] INT NULL;",
            "ALTER TABLE [dbo].[Customers] ADD CONSTRAINT [FK_Customers_ToCustomerTypes] FOREIGN KEY ([CustomerTypeId]) REFERENCES [dbo].[CustomerTypes] ([Id]);",
        ],
    );
}

/// 004 -> 005: `CustomerTypes` leaves the project (kept: `DropObjectsNotInSource` is off), so its
/// foreign key goes and `Customers.CustomerTypeId` is dropped; `Customers` gets an unnamed primary
/// key; schema `__Migrations` with table `Log` appear; `CustomerCategories` gets its two foreign
/// keys.
#[test]
fn maciejw_004_to_005_moves_to_the_db_model() {
    let Some(step) = upgrade(
        &format!("{MACIEJW}/004 App upgrade"),
        &format!("{MACIEJW}/005 Db upgrade"),
    ) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        [
            "PreDeploy Script [predeploy]",
            "DropForeignKey SqlForeignKeyConstraint [dbo].[FK_Customers_ToCustomerTypes]",
            "CreateSchema SqlSchema [__Migrations]",
            "CreateTable SqlTable [__Migrations].[Log]",
            "AlterTable SqlTable [dbo].[Customers]",
            "AddConstraint SqlPrimaryKeyConstraint [dbo].[Customers]",
            "AddForeignKey SqlForeignKeyConstraint [dbo].[FK_CustomerCategories_ToCategories]",
            "AddForeignKey SqlForeignKeyConstraint [dbo].[FK_CustomerCategories_ToCustomers]",
            "PostDeploy Script [postdeploy]",
        ]
    );
    assert_eq!(
        hazards(&step.plan),
        [
            "DataLoss [dbo].[Customers].[CustomerTypeId]",
            "TableScan [dbo].[FK_CustomerCategories_ToCategories]",
            "TableScan [dbo].[FK_CustomerCategories_ToCustomers]",
            "BlockingIndexBuild [dbo].[Customers]",
        ]
    );
    let kept: Vec<String> = step
        .diff
        .changes
        .iter()
        .filter(|c| c.action == Action::Keep)
        .map(|c| format!("{} {}", c.kind, c.name))
        .collect();
    assert_eq!(
        kept,
        [
            "SqlPrimaryKeyConstraint [dbo].[CustomerTypes]",
            "SqlTable [dbo].[CustomerTypes]"
        ]
    );
    assert_statements(
        &step,
        &[
            "ALTER TABLE [dbo].[Customers] DROP CONSTRAINT [FK_Customers_ToCustomerTypes];",
            "CREATE SCHEMA [__Migrations];",
            "CREATE TABLE [__Migrations].[Log] (",
            "IF EXISTS (SELECT TOP 1 1 FROM [dbo].[Customers])",
            "ALTER TABLE [dbo].[Customers] DROP COLUMN [CustomerTypeId];",
            "ALTER TABLE [dbo].[Customers] ADD PRIMARY KEY CLUSTERED ([Id]);",
            "ALTER TABLE [dbo].[CustomerCategories] ADD CONSTRAINT [FK_CustomerCategories_ToCategories] FOREIGN KEY ([CategoryId]) REFERENCES [dbo].[Categories] ([Id]);",
            "ALTER TABLE [dbo].[CustomerCategories] ADD CONSTRAINT [FK_CustomerCategories_ToCustomers] FOREIGN KEY ([CustomerId]) REFERENCES [dbo].[Customers] ([Id]);",
        ],
    );
    assert_absent(&step, "DROP TABLE");
}

const HERDO: &str = "Herdo__SSDTLifecycleExtension/TestDatabase_";

/// Empty -> WithAuthorTable: table `Author` (identity `AuthorID`, `Name`) with `PK_Author_AuthorID`.
#[test]
fn herdo_empty_to_author_table() {
    let Some(step) = upgrade(&format!("{HERDO}Empty"), &format!("{HERDO}WithAuthorTable")) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        ["CreateTable SqlTable [dbo].[Author]"]
    );
    assert!(step.plan.hazards.is_empty());
    assert_statements(
        &step,
        &[
            "CREATE TABLE [dbo].[Author] (",
            "[AuthorID] INT IDENTITY (1, 1) NOT NULL,",
            "[Name] NVARCHAR (200) NOT NULL,",
            "CONSTRAINT [PK_Author_AuthorID] PRIMARY KEY CLUSTERED ([AuthorID])",
        ],
    );
}

/// WithAuthorTable -> AuthorWithDefaultConstraints: `Name` is dropped; NOT NULL `LastName`
/// (unnamed default `''`), `FirstName` (`DF_FirstName_Empty`) and `Birthday`
/// (`DF_Birthday_Today`, `GETDATE()`) are added with their defaults, each default once.
#[test]
fn herdo_author_gets_columns_with_defaults() {
    let Some(step) = upgrade(
        &format!("{HERDO}WithAuthorTable"),
        &format!("{HERDO}AuthorWithDefaultConstraints"),
    ) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        ["AlterTable SqlTable [dbo].[Author]"]
    );
    assert_eq!(hazards(&step.plan), ["DataLoss [dbo].[Author].[Name]"]);
    assert_statements(
        &step,
        &[
            "IF EXISTS (SELECT TOP 1 1 FROM [dbo].[Author])",
            "ALTER TABLE [dbo].[Author] ADD [LastName] NVARCHAR (200) DEFAULT '' NOT NULL;",
            "ALTER TABLE [dbo].[Author] ADD [FirstName] NVARCHAR (200) CONSTRAINT [DF_FirstName_Empty] DEFAULT '' NOT NULL;",
            "ALTER TABLE [dbo].[Author] ADD [Birthday] DATE CONSTRAINT [DF_Birthday_Today] DEFAULT GETDATE() NOT NULL;",
            "ALTER TABLE [dbo].[Author] DROP COLUMN [Name];",
        ],
    );
    assert_eq!(step.script.matches("DEFAULT").count(), 3, "{}", step.script);
}

/// AuthorWithDefaultConstraints -> AuthorWithLessDefaultConstraints: the unnamed default on
/// `LastName` and `DF_FirstName_Empty` go; the columns stay.
#[test]
fn herdo_author_loses_two_defaults() {
    let Some(step) = upgrade(
        &format!("{HERDO}AuthorWithDefaultConstraints"),
        &format!("{HERDO}AuthorWithLessDefaultConstraints"),
    ) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        [
            "DropConstraint SqlDefaultConstraint [dbo].[Author]",
            "DropConstraint SqlDefaultConstraint [dbo].[DF_FirstName_Empty]",
        ]
    );
    assert!(step.plan.hazards.is_empty());
    assert_statements(
        &step,
        &[
            "FROM sys.default_constraints d",
            "c.name = N'LastName'",
            "ALTER TABLE [dbo].[Author] DROP CONSTRAINT [DF_FirstName_Empty];",
        ],
    );
    assert_absent(&step, "DROP COLUMN");
}

/// AuthorWithLessDefaultConstraints -> WithPreAndPostDeployment: the same model; only the
/// package's scripts run.
#[test]
fn herdo_pre_and_post_deployment_only() {
    let Some(step) = upgrade(
        &format!("{HERDO}AuthorWithLessDefaultConstraints"),
        &format!("{HERDO}WithPreAndPostDeployment"),
    ) else {
        return;
    };
    assert!(step.diff.is_empty(), "{:?}", describe(&step.diff));
    assert_eq!(
        operations(&step.plan),
        [
            "PreDeploy Script [predeploy]",
            "PostDeploy Script [postdeploy]"
        ]
    );
    assert!(step.plan.is_empty());
    assert_statements(
        &step,
        &[
            "-- Pre-deployment script content goes here",
            "-- Post-deployment script content goes here",
        ],
    );
}

/// FilteringDemo -> FilteringDemoBroken: one foreign key from
/// `[Production].[ImportantTableContainingImportantStuff]` to `[UnProduction].[UnimportantStuff]`.
#[test]
fn posh_filtering_demo_adds_a_cross_schema_foreign_key() {
    let Some(step) = upgrade(
        "RichieBzzzt__PoshSSDTBuildDeploy/FilteringDemo",
        "RichieBzzzt__PoshSSDTBuildDeploy/FilteringDemoBroken",
    ) else {
        return;
    };
    assert_eq!(
        operations(&step.plan),
        ["AddForeignKey SqlForeignKeyConstraint [Production].[fk_questionbank_exams]"]
    );
    // A foreign key added to a table that is there checks its rows: a risk, nothing lost.
    assert_eq!(
        hazards(&step.plan),
        ["TableScan [Production].[fk_questionbank_exams]"]
    );
    assert_statements(
        &step,
        &[
            "ALTER TABLE [Production].[ImportantTableContainingImportantStuff] ADD CONSTRAINT [fk_questionbank_exams] FOREIGN KEY ([Id]) REFERENCES [UnProduction].[UnimportantStuff] ([Id]);",
        ],
    );
}

/// The deploy report of maciejw 002 -> 003 (three hazards on one table).
#[test]
fn deploy_report_xml_and_json_of_a_chain_step() {
    let Some(step) = upgrade(
        &format!("{MACIEJW}/002 App upgrade"),
        &format!("{MACIEJW}/003 Db upgrade"),
    ) else {
        return;
    };
    let report = report::deploy_report("002.dacpac", "003.dacpac", &step.diff, &step.plan);
    let xml = report::deploy_report_xml(&report);

    // Well-formed, walked as a tree of names with the ids it declares and references.
    let mut reader = Reader::from_str(&xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    let mut root_namespace = None;
    let mut alert_ids: Vec<String> = Vec::new();
    let mut item_issue_ids: Vec<String> = Vec::new();
    let mut items: Vec<(String, String, String)> = Vec::new();
    let mut operation = String::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed report: {e}\n{xml}"));
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = start else { continue };
        let name = e.name().as_ref().to_string();
        let attr = |key: &str| {
            e.attributes()
                .map(|a| a.unwrap())
                .find(|a| a.key.as_ref() == key)
                .map(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned()
                })
        };
        let parent = stack.last().cloned().unwrap_or_default();
        match (parent.as_str(), name.as_str()) {
            ("", "DeploymentReport") => root_namespace = attr("xmlns"),
            ("", other) => panic!("root is {other}"),
            ("Alert", "Issue") => {
                assert!(attr("Value").is_some_and(|v| !v.is_empty()));
                alert_ids.push(attr("Id").expect("alert issue has an Id"));
            }
            ("Item", "Issue") => item_issue_ids.push(attr("Id").expect("item issue has an Id")),
            ("Operation", "Item") => items.push((
                operation.clone(),
                attr("Value").unwrap(),
                attr("Type").unwrap(),
            )),
            _ => {}
        }
        if name == "Operation" {
            operation = attr("Name").unwrap();
        }
        if !empty {
            stack.push(name);
        }
    }
    assert_eq!(
        root_namespace.as_deref(),
        Some("http://schemas.microsoft.com/sqlserver/dac/DeployReport/2012/02")
    );
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(alert_ids, ["1", "2", "3", "4", "5"]);
    assert!(!item_issue_ids.is_empty());
    for id in &item_issue_ids {
        assert!(alert_ids.contains(id), "item issue {id} is not an alert");
    }
    assert_eq!(
        items,
        [(
            "Alter".to_string(),
            "[dbo].[Customers]".to_string(),
            "SqlTable".to_string()
        )]
    );
    assert_eq!(
        item_issue_ids,
        ["1", "2", "3", "4", "5"],
        "every hazard is on the table"
    );

    // JSON: the documented fields.
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["format_version"], report::FORMAT_VERSION);
    for field in [
        "current",
        "desired",
        "summary",
        "alerts",
        "operations",
        "changes",
        "steps",
    ] {
        assert!(json.get(field).is_some(), "missing {field}: {json}");
    }
    for field in [
        "create",
        "alter",
        "drop",
        "rename",
        "rebuild",
        "keep",
        "data_loss",
    ] {
        assert!(json["summary"][field].is_u64(), "summary.{field}: {json}");
    }
    assert_eq!(json["summary"]["alter"], 1);
    assert_eq!(json["summary"]["data_loss"], 3);
    let alerts = json["alerts"].as_array().unwrap();
    // Three that could lose data, two that scan the table under a lock.
    assert_eq!(alerts.len(), 5);
    assert_eq!(alerts.iter().filter(|a| a["data_loss"] == true).count(), 3);
    for alert in alerts {
        for field in ["id", "name", "kind", "object", "message", "data_loss"] {
            assert!(alert.get(field).is_some(), "alert.{field}: {alert}");
        }
    }
    let item = &json["operations"][0]["items"][0];
    assert_eq!(item["type"], "SqlTable");
    assert_eq!(item["issues"], serde_json::json!([1, 2, 3, 4, 5]));
    let steps = json["steps"].as_array().unwrap();
    let alter = steps.iter().find(|s| s["step"] == "AlterTable").unwrap();
    assert_eq!(alter["guarded"], true);
    assert_eq!(alter["type"], "SqlTable");
    assert_eq!(
        json["changes"][0]["details"][0]["path"],
        "Columns[FirstName].IsNullable"
    );
}
