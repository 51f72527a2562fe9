//! `dac build`.

use crate::util::{dac, root};

#[test]
fn builds_the_finance_fixture_for_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let project = root().join("fixtures/projects/finance-v2");
    let out = dir.path().join("finance.dacpac");
    let run = dac(
        dir.path(),
        &[
            "build",
            project.to_str().unwrap(),
            "--platform",
            "sqlite",
            "--name",
            "finance",
            "--version",
            "2.0.0",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    run.expect_code(0);
    assert!(out.is_file(), "package written");
    let info = dac(
        dir.path(),
        &["info", out.to_str().unwrap(), "--format", "json"],
    );
    info.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(json["name"], "finance");
    assert_eq!(json["version"], "2.0.0");
    assert_eq!(json["platform"], "sqlite");
    assert_eq!(json["elements"]["SqlTable"], 4);
    assert_eq!(json["elements"]["SqlView"], 1);
    assert_eq!(json["scripts"]["predeploy"], true);
    assert_eq!(json["scripts"]["postdeploy"], true);
}

#[test]
fn sql_that_does_not_parse_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("broken");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("t.sql"),
        "CREATE TABLE ok (id INTEGER);\n\nCREATE TABLE bad (id INTEGER,, x);\n",
    )
    .unwrap();
    let run = dac(
        dir.path(),
        &["build", "broken", "--platform", "sqlite", "-o", "x.dacpac"],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("t.sql:3:"), "{}", run.stderr);
    assert!(!dir.path().join("x.dacpac").exists(), "no package on error");
}

#[test]
fn unknown_platform_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = dac(dir.path(), &["build", ".", "--platform", "oracle"]);
    run.expect_code(1);
    assert!(run.stderr.contains("unknown platform"), "{}", run.stderr);
}

#[test]
fn sqlcmd_variables_reach_the_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("app");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("t.sql"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        project.join("postdeploy.sql"),
        "INSERT INTO t (id) SELECT 1 WHERE '$(Env)' = 'test';\n",
    )
    .unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for (name, path) in [("app.dacpac", &project), ("empty.dacpac", &empty)] {
        dac(
            dir.path(),
            &[
                "build",
                path.to_str().unwrap(),
                "--platform",
                "sqlite",
                "-o",
                name,
            ],
        )
        .expect_code(0);
    }
    let run = dac(
        dir.path(),
        &[
            "script",
            "app.dacpac",
            "--target",
            "empty.dacpac",
            "--variable",
            "Env=test",
        ],
    );
    run.expect_code(0);
    assert!(
        run.stdout.contains("WHERE 'test' = 'test'"),
        "{}",
        run.stdout
    );
    let run = dac(
        dir.path(),
        &["script", "app.dacpac", "--target", "empty.dacpac"],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("$(Env)"), "{}", run.stderr);
}

#[test]
fn a_project_name_that_is_a_path_still_writes_into_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("a/b");
    let project = work.join("proj");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("t.sql"), "CREATE TABLE t (id INT);\n").unwrap();
    for (name, file) in [
        ("../../escaped", "escaped.dacpac"),
        ("..\\..\\win", "win.dacpac"),
        ("/tmp/dac-absolute-name", "dac-absolute-name.dacpac"),
        ("..", "package.dacpac"),
    ] {
        std::fs::write(
            project.join("app.sqlproj"),
            format!(
                r#"<Project xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup><Name>{name}</Name>
  <DSP>Microsoft.Data.Tools.Schema.Sql.Sql160DatabaseSchemaProvider</DSP></PropertyGroup>
  <ItemGroup><Build Include="t.sql" /></ItemGroup>
</Project>"#
            ),
        )
        .unwrap();
        let run = dac(&work, &["build", "proj/app.sqlproj"]);
        run.expect_code(0);
        assert!(work.join(file).is_file(), "{name}: {}", run.stdout);
        std::fs::remove_file(work.join(file)).unwrap();
    }
    assert!(!dir.path().join("escaped.dacpac").exists());
    assert!(!std::path::Path::new("/tmp/dac-absolute-name.dacpac").exists());
    let mut left: Vec<_> = walk(dir.path());
    left.sort();
    assert_eq!(left.len(), 2, "only the project's files: {left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
