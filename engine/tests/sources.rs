//! Projects and sources at the edges: MSBuild item rules, inputs that would exhaust the
//! builder, features that must be modelled or refused. Each either builds what it says or
//! fails with an error naming the file (and line), never by leaving something out.

use std::path::Path;

use dac_engine::model::Model;
use dac_engine::source::{self, BuildOptions};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn build(path: &Path) -> dac_engine::Result<Model> {
    source::build(path, &BuildOptions::default()).map(|p| p.model)
}

fn table_names(model: &Model) -> Vec<String> {
    let mut names: Vec<String> = model
        .of_kind("SqlTable")
        .map(|t| t.name.as_ref().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn sqlproj(items: &str) -> String {
    format!(
        r#"<Project xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup><Name>App</Name>
  <DSP>Microsoft.Data.Tools.Schema.Sql.Sql160DatabaseSchemaProvider</DSP></PropertyGroup>
  <ItemGroup>{items}</ItemGroup>
</Project>"#
    )
}

#[test]
fn build_items_follow_msbuild_rules() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("app/App.sqlproj");
    write(
        &dir.path().join("app/Tables/a.sql"),
        "CREATE TABLE dbo.a (id INT);",
    );
    write(
        &dir.path().join("shared/b.sql"),
        "CREATE TABLE dbo.b (id INT);",
    );
    write(
        &dir.path().join("shared/deep/c.sql"),
        "CREATE TABLE dbo.c (id INT);",
    );
    write(&dir.path().join("shared/notes.txt"), "not built");
    // Windows separators, a folder outside the project, a recursive wildcard, a literal path.
    write(
        &project,
        &sqlproj(
            r#"<Build Include="Tables\a.sql" /><Build Include="..\shared\*.sql" /><Build Include="..\shared\**\c.sql" />"#,
        ),
    );
    assert_eq!(
        table_names(&build(&project).unwrap()),
        ["[dbo].[a]", "[dbo].[b]", "[dbo].[c]"]
    );
    // A wildcard under a folder that is not there names it.
    write(
        &project,
        &sqlproj(r#"<Build Include="..\missing\*.sql" />"#),
    );
    let err = build(&project).unwrap_err().to_string();
    assert!(err.contains("../missing"), "{err}");
    // A Build item is T-SQL whatever its extension, as DacFx compiles it.
    write(
        &dir.path().join("app/d.tbl"),
        "CREATE TABLE dbo.d (id INT);",
    );
    write(
        &project,
        &sqlproj(r#"<Build Include="Tables\a.sql" /><Build Include="d.tbl" />"#),
    );
    assert_eq!(
        table_names(&build(&project).unwrap()),
        ["[dbo].[a]", "[dbo].[d]"]
    );
    write(
        &project,
        &sqlproj(r#"<Build Include="..\shared\notes.txt" />"#),
    );
    let err = build(&project).unwrap_err().to_string();
    assert!(err.contains("notes.txt:1:"), "{err}");
    // SDK style: the default **/*.sql, plus an item outside the folder, minus a removed one.
    write(
        &project,
        r#"<Project Sdk="Microsoft.Build.Sql"><PropertyGroup><Name>App</Name></PropertyGroup>
  <ItemGroup><Build Include="..\shared\deep\*.sql" /><Build Remove="Tables\a.sql" /></ItemGroup>
</Project>"#,
    );
    assert_eq!(table_names(&build(&project).unwrap()), ["[dbo].[c]"]);
}

#[test]
fn a_deep_include_chain_is_refused_by_its_limit_without_exhausting_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let n = 8000;
    for i in 0..n {
        let next = if i + 1 < n {
            format!(":r f{:05}.sql\n", i + 1)
        } else {
            "CREATE TABLE dbo.t (id INT);\n".into()
        };
        std::fs::write(dir.path().join(format!("f{i:05}.sql")), next).unwrap();
    }
    let project = dir.path().join("App.sqlproj");
    write(&project, &sqlproj(r#"<Build Include="f00000.sql" />"#));
    let err = build(&project).unwrap_err().to_string();
    assert!(err.contains("nested more than 64 deep"), "{err}");
    assert!(
        err.contains("f00063.sql:1:1"),
        "the :r that went too deep: {err}"
    );
    // Within the limit a chain builds.
    std::fs::write(
        dir.path().join("f00060.sql"),
        "CREATE TABLE dbo.t (id INT);\n",
    )
    .unwrap();
    assert_eq!(table_names(&build(&project).unwrap()), ["[dbo].[t]"]);
}

#[test]
fn includes_that_multiply_are_refused_by_the_size_limit() {
    // 8 files of 44 KB, each including the next 20 times: 20^7 copies if nothing stopped it.
    let dir = tempfile::tempdir().unwrap();
    let filler = format!("-- {}\n", "x".repeat(44 << 10));
    for i in 0..8 {
        let mut text = filler.clone();
        if i < 7 {
            for _ in 0..20 {
                text.push_str(&format!(":r f{}.sql\n", i + 1));
            }
        }
        std::fs::write(dir.path().join(format!("f{i}.sql")), text).unwrap();
    }
    let project = dir.path().join("App.sqlproj");
    write(&project, &sqlproj(r#"<Build Include="f0.sql" />"#));
    let err = build(&project).unwrap_err().to_string();
    assert!(
        err.contains("MiB of text read through :r includes"),
        "{err}"
    );
}

#[test]
fn a_deeply_nested_project_file_is_refused_by_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("App.sqlproj");
    let depth = 100_000;
    let text = format!(
        "<Project>{}{}</Project>",
        "<PropertyGroup>".repeat(depth),
        "</PropertyGroup>".repeat(depth)
    );
    write(&project, &text);
    let err = build(&project).unwrap_err().to_string();
    assert!(err.contains("nested more than 256 deep"), "{err}");
}

fn build_for(platform: &str, dir: &Path) -> dac_engine::Result<Model> {
    let options = BuildOptions {
        platform: dac_engine::model::Dsp::from_short_name(platform),
        ..BuildOptions::default()
    };
    source::build(dir, &options).map(|p| p.model)
}

#[test]
fn a_table_created_twice_is_refused_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    write(
        &one.join("a.sql"),
        "CREATE TABLE t (id INTEGER);\n\nCREATE TABLE u (id INTEGER);\nCREATE TABLE t (id INTEGER, x TEXT);\n",
    );
    for platform in ["sqlite", "postgres"] {
        let err = build_for(platform, &one).unwrap_err().to_string();
        assert!(
            err.contains("a.sql:4:1") && err.contains("already created at line 1"),
            "{platform}: {err}"
        );
    }
    // IF NOT EXISTS is skipped, as the database skips it.
    write(
        &one.join("a.sql"),
        "CREATE TABLE t (id INTEGER);\nCREATE TABLE IF NOT EXISTS t (id INTEGER, x TEXT);\n",
    );
    let model = build_for("sqlite", &one).unwrap();
    assert_eq!(table_names(&model), ["[main].[t]"]);
    // Two files that both create it.
    let two = dir.path().join("two");
    write(&two.join("a.sql"), "CREATE TABLE t (id INTEGER);\n");
    write(&two.join("b.sql"), "CREATE TABLE t (id INTEGER);\n");
    let err = build_for("sqlite", &two).unwrap_err().to_string();
    assert!(
        err.contains("SqlTable [main].[t] is created twice"),
        "{err}"
    );
    // T-SQL, in one file and across files, names the second statement and the first.
    let tsql = dir.path().join("tsql");
    write(
        &tsql.join("a.sql"),
        "CREATE TABLE dbo.MediaType (Id INT CONSTRAINT PK_MediaType PRIMARY KEY);\nGO\nCREATE TABLE dbo.Other (Id INT);\n",
    );
    write(
        &tsql.join("b.sql"),
        "\nCREATE TABLE dbo.MediaType (Id INT CONSTRAINT PK_MediaType PRIMARY KEY);\n",
    );
    let err = build_for("sqlserver", &tsql).unwrap_err().to_string();
    assert!(
        err.contains("b.sql:2:1") && err.contains("already created at") && err.contains("a.sql:1"),
        "{err}"
    );
}

#[test]
fn sqlite_conflict_clauses_belong_to_a_key_or_not_null() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("a.sql"),
        "CREATE TABLE t (a INTEGER DEFAULT 1 ON CONFLICT REPLACE);\n",
    );
    let err = build_for("sqlite", dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("a.sql:1:1") && err.contains("ON CONFLICT REPLACE"),
        "{err}"
    );
    write(
        &dir.path().join("a.sql"),
        "CREATE TABLE t (a INTEGER, CHECK (a > 0) ON CONFLICT IGNORE);\n",
    );
    let err = build_for("sqlite", dir.path()).unwrap_err().to_string();
    assert!(err.contains("not a PRIMARY KEY or UNIQUE"), "{err}");
}

/// The T-SQL script that creates everything `dir` builds.
fn create_script(dir: &Path) -> String {
    use dac_engine::{compare, dialect, plan, script};
    let desired = build_for("sqlserver", dir).unwrap();
    let current = Model::empty(desired.dsp.clone());
    let diff = compare::compare(&current, &desired, &compare::CompareOptions::default());
    let dialect = dialect::dialect_for(desired.platform());
    let plan = plan::plan(
        &diff,
        &current,
        &desired,
        dialect.capabilities(),
        &plan::PlanOptions::default(),
    );
    script::render(&plan, dialect).text(dialect)
}

#[test]
fn sql_server_table_features_are_scripted_as_written() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("t.sql"),
        "CREATE TABLE dbo.M (Id INT NOT NULL CONSTRAINT PK_M PRIMARY KEY NONCLUSTERED, V NVARCHAR(10) MASKED WITH (FUNCTION = 'partial(1,\"x\",0)') NULL, S INT SPARSE NULL) WITH (MEMORY_OPTIMIZED = ON, DURABILITY = SCHEMA_ONLY);
GO
CREATE TABLE dbo.H (Id INT NOT NULL, F DATETIME2 NOT NULL, T DATETIME2 NOT NULL);
GO
CREATE TABLE dbo.Tmp (Id INT NOT NULL CONSTRAINT PK_Tmp PRIMARY KEY, F DATETIME2 GENERATED ALWAYS AS ROW START HIDDEN NOT NULL, T DATETIME2 GENERATED ALWAYS AS ROW END HIDDEN NOT NULL, PERIOD FOR SYSTEM_TIME (F, T)) WITH (SYSTEM_VERSIONING = ON (HISTORY_TABLE = dbo.H));
",
    );
    let script = create_script(dir.path());
    for expected in [
        "[V] NVARCHAR (10) MASKED WITH (FUNCTION = 'partial(1,\"x\",0)') NULL",
        "[S] INT SPARSE NULL",
        ") WITH (MEMORY_OPTIMIZED = ON, DURABILITY = SCHEMA_ONLY);",
        "[F] DATETIME2 GENERATED ALWAYS AS ROW START HIDDEN NOT NULL",
        "[T] DATETIME2 GENERATED ALWAYS AS ROW END HIDDEN NOT NULL",
        "    PERIOD FOR SYSTEM_TIME ([F], [T])\n) WITH (SYSTEM_VERSIONING = ON (HISTORY_TABLE = [dbo].[H]));",
    ] {
        assert!(script.contains(expected), "{expected}\n---\n{script}");
    }
}

#[test]
fn sql_server_features_that_cannot_be_kept_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for (sql, message) in [
        (
            "CREATE TABLE dbo.L (Id INT NOT NULL)\nWITH (LEDGER = ON);",
            ("t.sql:2:7", "ledger tables"),
        ),
        (
            "CREATE TABLE dbo.E (\n  Ssn CHAR(11) COLLATE Latin1_General_BIN2 ENCRYPTED WITH (COLUMN_ENCRYPTION_KEY = CEK1, ENCRYPTION_TYPE = DETERMINISTIC, ALGORITHM = 'AEAD_AES_256_CBC_HMAC_SHA_256') NOT NULL);",
            ("t.sql:2:44", "ENCRYPTED WITH"),
        ),
    ] {
        write(&dir.path().join("t.sql"), sql);
        let err = build_for("sqlserver", dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(message.0) && err.contains(message.1),
            "{sql}\n{err}"
        );
    }
    write(
        &dir.path().join("t.sql"),
        "CREATE TABLE dbo.L (Id INT NOT NULL) WITH (LEDGER = OFF);",
    );
    build_for("sqlserver", dir.path()).unwrap();
}
