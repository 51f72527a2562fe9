//! Running the built `dac` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A finished `dac` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `dac` with arguments in `dir`.
pub fn dac(dir: &Path, args: &[&str]) -> Run {
    dac_env(dir, args, &[])
}

/// Runs `dac` with arguments in `dir`, with these environment variables set (and
/// `DAC_TARGET` unset unless given).
pub fn dac_env(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dac"));
    command.args(args).current_dir(dir).env_remove("DAC_TARGET");
    for (name, value) in vars {
        command.env(name, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run dac");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Which of `dac`'s output streams is a pipe nobody reads.
#[derive(Clone, Copy)]
pub enum Closed {
    Stdout,
    Stderr,
}

/// Runs `dac` with one output stream a pipe whose reading end is already closed (as under
/// `| head -1` once head has its line); the other stream is captured.
pub fn dac_with_closed(dir: &Path, args: &[&str], closed: Closed) -> Run {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut command = Command::new(env!("CARGO_BIN_EXE_dac"));
    command.args(args).current_dir(dir);
    match closed {
        Closed::Stdout => command.stdout(writer),
        Closed::Stderr => command.stderr(writer),
    };
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run dac");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Builds one schema file for SQLite as the app `app` at `version`, into
/// `DIR/app-VERSION.dacpac` (its source in `DIR/src-VERSION`); returns the package's path.
pub fn build_sqlite_schema(dir: &Path, version: &str, schema: &str) -> String {
    build_sqlite_app(dir, "app", version, schema)
}

/// Builds one schema file for SQLite as the application `name` at `version`, into
/// `DIR/NAME-VERSION.dacpac` (its source in `DIR/src-VERSION` for `app`, else
/// `DIR/NAME-src-VERSION`); returns the package's path.
pub fn build_sqlite_app(dir: &Path, name: &str, version: &str, schema: &str) -> String {
    let source = if name == "app" {
        format!("src-{version}")
    } else {
        format!("{name}-src-{version}")
    };
    let folder = dir.join(source);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("schema.sql"), schema).unwrap();
    let out = dir.join(format!("{name}-{version}.dacpac"));
    dac(
        dir,
        &[
            "build",
            folder.to_str().unwrap(),
            "--platform",
            "sqlite",
            "--name",
            name,
            "--version",
            version,
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    out.to_str().unwrap().to_string()
}

/// Builds the fixture project `fixtures/projects/PROJECT` for SQLite as `finance` at `version`,
/// into `DIR/finance-VERSION.dacpac`; returns the package's path.
pub fn build_finance(dir: &Path, version: &str, project: &str) -> String {
    let out = dir.join(format!("finance-{version}.dacpac"));
    let project = root().join("fixtures/projects").join(project);
    dac(
        dir,
        &[
            "build",
            project.to_str().unwrap(),
            "--platform",
            "sqlite",
            "--name",
            "finance",
            "--version",
            version,
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    out.to_str().unwrap().to_string()
}
