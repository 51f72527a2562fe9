//! The rollout file (TOML): what to deploy, where, in how many upgrade domains, and how to tell
//! that a domain is healthy.
//!
//! ```toml
//! package = "finance-v2.dacpac"   # or a project folder; relative to this file
//! name = "finance"                # for a project folder (as `dac upgrade --name`)
//! version = "2.0.0"               # for a project folder (as `dac upgrade --version`)
//! mode = "in-place"               # every target's mode unless it names its own
//! domains = 5                     # upgrade domains, 1 to 20
//! concurrency = 2                 # targets upgraded at once inside a domain, or one per domain:
//!                                 # [1, 4, 16] (the last holds for the domains after it)
//! max_per_server = 4              # at most this many at once on one server (host:port; every
//!                                 # SQLite file counts as the one local server "local files")
//! manual = false                  # true: `dac rollout next` walks each domain
//! targets = ["sqlite:dbs/a.db", { url = "postgres://app@db1/app", mode = "in-place" }]
//! targets_file = "targets.txt"    # one connection string a line (optional mode after it)
//! targets_command = "./list.sh"   # prints the same, one a line
//! journal = "postgres://dac@jdb/rollouts"  # the journal in a database: several workers at once
//! heartbeat_timeout_seconds = 30  # a worker silent this long is dead: its targets are taken over
//!
//! [health]
//! wait_seconds = 5                # soak time after a domain's upgrades, before the checks
//! no_drift = true                 # each target must match its new registered definition
//! command = "./check.sh"          # exit 0 = healthy; $DAC_TARGET names the target
//! command_timeout_seconds = 60    # a command still running then is killed: unhealthy
//! [[health.probe]]
//! name = "currencies seeded"
//! sql = "SELECT count(*) FROM currencies"
//! expect = "3"                    # one value, or rows: [["EUR", "2"], ["USD", "2"]]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::driver::{Target, redact};
use crate::{Error, Result};

/// The most upgrade domains a rollout may have.
pub const MAX_DOMAINS: usize = 20;
/// Upgrade domains when the file does not say.
pub const DEFAULT_DOMAINS: usize = 5;

/// How one target is upgraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `upgrade::in_place`: one transaction on the live database.
    #[default]
    InPlace,
    /// A side-by-side upgrade: a new database swapped in, the original retained.
    SideBySide,
}

impl Mode {
    /// As written in rollout files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::InPlace => "in-place",
            Mode::SideBySide => "side-by-side",
        }
    }

    fn parse(text: &str) -> Option<Mode> {
        match text {
            "in-place" => Some(Mode::InPlace),
            "side-by-side" => Some(Mode::SideBySide),
            _ => None,
        }
    }
}

/// The rollout file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    package: String,
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    mode: Mode,
    domains: Option<i64>,
    concurrency: Option<RawConcurrency>,
    max_per_server: Option<i64>,
    #[serde(default)]
    manual: bool,
    #[serde(default)]
    allow_data_loss: bool,
    #[serde(default)]
    allow_drift: bool,
    #[serde(default)]
    smart_defaults: bool,
    /// The longest wait for a lock (another session's, or another dac run's upgrade lock), in
    /// seconds, as `--lock-timeout` (default 5).
    lock_timeout_seconds: Option<f64>,
    /// The longest run of one statement of an in-place upgrade, in seconds, as
    /// `--command-timeout` (default: no limit).
    command_timeout_seconds: Option<f64>,
    /// Keep a copy of each in-place target before upgrading it (default true): what a rollback
    /// restores.
    backup: Option<bool>,
    #[serde(default)]
    targets: Vec<RawTarget>,
    targets_file: Option<String>,
    targets_command: Option<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    health: RawHealth,
    /// The journal database (`postgres://...`): workers on several machines share it.
    journal: Option<String>,
    /// How long a worker's heartbeat may be silent before its claims are taken over.
    heartbeat_timeout_seconds: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawConcurrency {
    All(i64),
    PerDomain(Vec<i64>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawTarget {
    Url(String),
    Full(RawFullTarget),
}

/// `{ url = "...", mode = "..." }`; any other key is an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFullTarget {
    url: String,
    #[serde(default)]
    mode: Option<Mode>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    #[serde(default)]
    wait_seconds: f64,
    #[serde(default)]
    no_drift: bool,
    command: Option<String>,
    command_timeout_seconds: Option<f64>,
    #[serde(default)]
    probe: Vec<RawProbe>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    name: Option<String>,
    sql: String,
    expect: toml::Value,
}

/// A parsed, validated rollout file.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The rollout file.
    pub file: PathBuf,
    /// The package or project to deploy (resolved against the file's folder).
    pub package: PathBuf,
    /// Application name for a project.
    pub name: Option<String>,
    /// Application version for a project.
    pub version: Option<String>,
    /// Upgrade domains asked for (1 to [`MAX_DOMAINS`]).
    pub domains: usize,
    /// Targets upgraded at once inside a domain: the first domain's (see
    /// [`Spec::concurrency_of`]).
    pub concurrency: usize,
    /// Targets upgraded at once in each domain, when the file gives one per domain (the last
    /// holds for the domains after it).
    pub concurrency_by_domain: Vec<usize>,
    /// At most this many targets of one server ([`Target::server`]) worked on at once.
    pub max_per_server: Option<usize>,
    /// Walk one domain per `dac rollout next`.
    pub manual: bool,
    /// Go ahead when steps could lose data in tables that hold rows.
    pub allow_data_loss: bool,
    /// Go ahead when a target drifted from its registered definition.
    pub allow_drift: bool,
    /// Give new NOT NULL columns a default for existing rows.
    pub smart_defaults: bool,
    /// Lock waits and statement runs, as `--lock-timeout` and `--command-timeout` bound them.
    pub timeouts: crate::driver::Timeouts,
    /// Keep a copy of each in-place target before upgrading it.
    pub backup: bool,
    /// SQLCMD variable values for the deployment scripts.
    pub variables: Vec<(String, String)>,
    /// The targets, in rollout order.
    pub targets: Vec<TargetSpec>,
    /// The health checks run on every target of a domain after its upgrades.
    pub health: Health,
    /// The journal database, when the journal is not the file beside the rollout file.
    pub journal: Option<Target>,
    /// A worker whose heartbeat is older than this is dead (journal databases only).
    pub heartbeat_timeout: std::time::Duration,
}

/// How long a worker's heartbeat may be silent when the file does not say.
pub const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS: f64 = 30.0;

/// How long a worker's claim lives without a heartbeat where the rollout file does not say.
pub fn default_heartbeat_timeout() -> std::time::Duration {
    std::time::Duration::from_secs_f64(DEFAULT_HEARTBEAT_TIMEOUT_SECONDS)
}

/// The journal database a rollout file names and its heartbeat timeout, read without resolving
/// its targets (`status` and `report` need nothing else).
pub fn journal_of(file: &Path) -> Result<(Option<Target>, std::time::Duration)> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        path: file.to_path_buf(),
        source,
    })?;
    let raw: RawSpec = toml::from_str(&text).map_err(|e| invalid(file, redact(&e.to_string())))?;
    let journal = raw
        .journal
        .as_deref()
        .map(|url| journal_target(url, file))
        .transpose()?;
    let timeout = raw
        .heartbeat_timeout_seconds
        .filter(|s| *s > 0.0 && *s <= 86_400.0)
        .unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT_SECONDS);
    Ok((journal, std::time::Duration::from_secs_f64(timeout)))
}

fn journal_target(url: &str, file: &Path) -> Result<Target> {
    let target = Target::parse(url.trim()).map_err(|e| invalid(file, e))?;
    match crate::driver::rollout_store::journal_refusal(&target) {
        None => Ok(target),
        Some(reason) => Err(invalid(file, reason)),
    }
}

impl Spec {
    /// Targets worked on at once in domain `domain`.
    pub fn concurrency_of(&self, domain: usize) -> usize {
        self.concurrency_by_domain
            .get(domain)
            .or(self.concurrency_by_domain.last())
            .copied()
            .unwrap_or(self.concurrency)
    }
}

/// One target of a rollout.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The database (with its password, never printed).
    pub target: Target,
    /// How it is upgraded.
    pub mode: Mode,
}

impl TargetSpec {
    /// The name that identifies the target in journals and reports (no password).
    pub fn key(&self) -> String {
        self.target.to_string()
    }
}

/// Health checks.
#[derive(Debug, Clone)]
pub struct Health {
    /// Seconds to wait after a domain's upgrades before checking it.
    pub wait_seconds: f64,
    /// Each target must show no drift from the definition just registered.
    pub no_drift: bool,
    /// A shell command run once per target (`sh -c`, in the rollout file's folder); exit 0 is
    /// healthy. It gets `DAC_TARGET` (the connection string), `DAC_TARGET_NAME` (without a
    /// password), `DAC_DOMAIN` and `DAC_VERSION`.
    pub command: Option<String>,
    /// How long `command` may run before it is killed and the target found unhealthy.
    pub command_timeout: std::time::Duration,
    /// SQL probes with their expected results.
    pub probes: Vec<Probe>,
}

/// How long a health command may run when the file does not say.
pub const DEFAULT_COMMAND_TIMEOUT_SECONDS: f64 = 300.0;

impl Default for Health {
    fn default() -> Self {
        Health {
            wait_seconds: 0.0,
            no_drift: false,
            command: None,
            command_timeout: std::time::Duration::from_secs_f64(DEFAULT_COMMAND_TIMEOUT_SECONDS),
            probes: Vec::new(),
        }
    }
}

impl Health {
    /// Whether any check is configured.
    pub fn is_empty(&self) -> bool {
        !self.no_drift && self.command.is_none() && self.probes.is_empty()
    }
}

/// A SQL probe: a query and what it must return.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Shown in reports.
    pub name: String,
    /// The query.
    pub sql: String,
    /// The expected result.
    pub expect: Expect,
}

/// What a probe must return.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Exactly one row whose first column is this value.
    Value(String),
    /// Exactly these rows (every column, as text; NULL as `NULL`).
    Rows(Vec<Vec<String>>),
}

impl Expect {
    /// `None` when `rows` is what was expected, else why not.
    pub fn mismatch(&self, rows: &[Vec<Option<String>>]) -> Option<String> {
        let got: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                    .collect()
            })
            .collect();
        match self {
            Expect::Value(value) => match got.as_slice() {
                [row] if row.first() == Some(value) => None,
                [row] => Some(format!(
                    "expected {value:?}, got {:?}",
                    row.first().map_or("no column", String::as_str)
                )),
                _ => Some(format!(
                    "expected one row {value:?}, got {} rows",
                    got.len()
                )),
            },
            Expect::Rows(expected) if &got == expected => None,
            Expect::Rows(expected) => Some(format!("expected rows {expected:?}, got {got:?}")),
        }
    }
}

fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(if *b { "1".into() } else { "0".into() }),
        _ => None,
    }
}

fn expect_of(value: &toml::Value) -> Option<Expect> {
    if let Some(s) = scalar(value) {
        return Some(Expect::Value(s));
    }
    let rows = value.as_array()?;
    rows.iter()
        .map(|row| {
            row.as_array()?
                .iter()
                .map(scalar)
                .collect::<Option<Vec<_>>>()
        })
        .collect::<Option<Vec<_>>>()
        .map(Expect::Rows)
}

fn invalid(file: &Path, message: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: {message}", file.display()))
}

/// Reads and validates a rollout file, resolving its targets (running `targets_command` if
/// there is one).
pub fn load(file: &Path) -> Result<Spec> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        path: file.to_path_buf(),
        source,
    })?;
    parse(&text, file)
}

/// Parses a rollout file's text; relative paths are resolved against `file`'s folder.
pub fn parse(text: &str, file: &Path) -> Result<Spec> {
    // toml's messages quote the offending line, which may hold a connection string.
    let raw: RawSpec = toml::from_str(text).map_err(|e| invalid(file, redact(&e.to_string())))?;
    let folder = folder_of(file);
    let resolve = |p: &str| {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            folder.join(path)
        }
    };
    let domains = match raw.domains {
        None => DEFAULT_DOMAINS,
        Some(n) if (1..=MAX_DOMAINS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(invalid(
                file,
                format!("domains = {n}: a rollout has 1 to {MAX_DOMAINS} upgrade domains"),
            ));
        }
    };
    let at_once = |n: i64| {
        if (1..=64).contains(&n) {
            Ok(n as usize)
        } else {
            Err(invalid(
                file,
                format!("concurrency = {n}: use 1 to 64 targets at once"),
            ))
        }
    };
    let concurrency_by_domain = match &raw.concurrency {
        None => Vec::new(),
        Some(RawConcurrency::All(n)) => vec![at_once(*n)?],
        Some(RawConcurrency::PerDomain(list)) if list.is_empty() || list.len() > domains => {
            return Err(invalid(
                file,
                format!(
                    "concurrency lists {} value(s): give one per domain, 1 to {domains} (the last holds for the domains after it)",
                    list.len()
                ),
            ));
        }
        Some(RawConcurrency::PerDomain(list)) => {
            list.iter().map(|&n| at_once(n)).collect::<Result<_>>()?
        }
    };
    let concurrency = concurrency_by_domain.first().copied().unwrap_or(1);
    let max_per_server = match raw.max_per_server {
        None => None,
        Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        Some(n) => {
            return Err(invalid(
                file,
                format!("max_per_server = {n}: give at least 1"),
            ));
        }
    };
    let command_timeout = match raw.health.command_timeout_seconds {
        None => DEFAULT_COMMAND_TIMEOUT_SECONDS,
        Some(s) if s > 0.0 && s <= 86_400.0 => s,
        Some(s) => {
            return Err(invalid(
                file,
                format!("health.command_timeout_seconds = {s}: give more than 0, at most 86400"),
            ));
        }
    };
    let mut targets = Vec::new();
    for entry in &raw.targets {
        let (url, mode) = match entry {
            RawTarget::Url(url) => (url.as_str(), raw.mode),
            RawTarget::Full(full) => (full.url.as_str(), full.mode.unwrap_or(raw.mode)),
        };
        targets.push(target_spec(url, mode, &folder, file)?);
    }
    if let Some(list) = &raw.targets_file {
        let path = resolve(list);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        targets.extend(target_lines(&text, raw.mode, &folder, &path)?);
    }
    if let Some(command) = &raw.targets_command {
        let text = run_list_command(command, &folder, file)?;
        let origin = PathBuf::from(format!("{} (targets_command)", file.display()));
        targets.extend(target_lines(&text, raw.mode, &folder, &origin)?);
    }
    if targets.is_empty() {
        return Err(invalid(
            file,
            "no targets: give `targets`, `targets_file` or `targets_command`",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in &targets {
        if !seen.insert(t.key()) {
            return Err(invalid(file, format!("target {} is listed twice", t.key())));
        }
    }
    let mut probes = Vec::new();
    for (i, p) in raw.health.probe.iter().enumerate() {
        let name = p.name.clone().unwrap_or_else(|| format!("probe {}", i + 1));
        let expect = expect_of(&p.expect).ok_or_else(|| {
            invalid(
                file,
                format!(
                    "health probe {name:?}: expect is one value (\"3\") or rows ([[\"a\", \"1\"]])"
                ),
            )
        })?;
        probes.push(Probe {
            name,
            sql: p.sql.clone(),
            expect,
        });
    }
    let seconds = |value: Option<f64>, key: &str| -> Result<Option<std::time::Duration>> {
        match value {
            None => Ok(None),
            Some(v) if v > 0.0 && v <= 86_400.0 => Ok(Some(std::time::Duration::from_secs_f64(v))),
            Some(_) => Err(invalid(
                file,
                format!("{key} must be more than 0 and at most 86400"),
            )),
        }
    };
    let timeouts = crate::driver::Timeouts {
        lock: seconds(raw.lock_timeout_seconds, "lock_timeout_seconds")?
            .unwrap_or(crate::driver::Timeouts::DEFAULT_LOCK),
        command: seconds(raw.command_timeout_seconds, "command_timeout_seconds")?,
    };
    if !(0.0..=86_400.0).contains(&raw.health.wait_seconds) {
        return Err(invalid(
            file,
            "health.wait_seconds must be between 0 and 86400",
        ));
    }
    let journal = raw
        .journal
        .as_deref()
        .map(|url| journal_target(url, file))
        .transpose()?;
    let heartbeat_timeout = match (raw.heartbeat_timeout_seconds, &journal) {
        (Some(_), None) => {
            return Err(invalid(
                file,
                "heartbeat_timeout_seconds is for workers sharing a journal database: give `journal = \"postgres://...\"` too",
            ));
        }
        (None, _) => DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
        (Some(s), Some(_)) if s > 0.0 && s <= 86_400.0 => s,
        (Some(s), Some(_)) => {
            return Err(invalid(
                file,
                format!("heartbeat_timeout_seconds = {s}: give more than 0, at most 86400"),
            ));
        }
    };
    Ok(Spec {
        journal,
        heartbeat_timeout: std::time::Duration::from_secs_f64(heartbeat_timeout),
        file: file.to_path_buf(),
        package: resolve(&raw.package),
        name: raw.name,
        version: raw.version,
        domains,
        concurrency,
        concurrency_by_domain,
        max_per_server,
        manual: raw.manual,
        allow_data_loss: raw.allow_data_loss,
        allow_drift: raw.allow_drift,
        smart_defaults: raw.smart_defaults,
        timeouts,
        backup: raw.backup.unwrap_or(true),
        variables: raw.variables.into_iter().collect(),
        targets,
        health: Health {
            wait_seconds: raw.health.wait_seconds,
            no_drift: raw.health.no_drift,
            command: raw.health.command,
            command_timeout: std::time::Duration::from_secs_f64(command_timeout),
            probes,
        },
    })
}

/// The folder of a file: relative paths in it and its commands start there.
pub fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A connection string of a rollout file: SQLite paths are relative to the file's folder.
fn target_spec(url: &str, mode: Mode, folder: &Path, file: &Path) -> Result<TargetSpec> {
    let target = Target::parse(url.trim())
        .map_err(|e| invalid(file, e))?
        .relative_to(folder);
    Ok(TargetSpec { target, mode })
}

/// Lines of a targets file or command: `CONNECTION [MODE]`, `#` comments and blank lines skipped.
fn target_lines(text: &str, mode: Mode, folder: &Path, origin: &Path) -> Result<Vec<TargetSpec>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let url = words.next().unwrap_or_default();
        let line_mode = match words.next() {
            None => mode,
            Some(word) => Mode::parse(word).ok_or_else(|| {
                invalid(
                    origin,
                    format!(
                        "line {}: unknown mode {word:?} (in-place or side-by-side)",
                        n + 1
                    ),
                )
            })?,
        };
        if words.next().is_some() {
            return Err(invalid(
                origin,
                format!(
                    "line {}: expected CONNECTION [MODE], got {}",
                    n + 1,
                    redact(line)
                ),
            ));
        }
        let spec = target_spec(url, line_mode, folder, origin)
            .map_err(|e| Error::Invalid(format!("line {}: {e}", n + 1)))?;
        out.push(spec);
    }
    Ok(out)
}

fn run_list_command(command: &str, folder: &Path, file: &Path) -> Result<String> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(folder)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| invalid(file, format!("targets_command: cannot run sh: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(invalid(
            file,
            format!(
                "targets_command {:?} failed ({}): {}",
                command,
                output.status,
                redact(stderr.trim())
            ),
        ));
    }
    String::from_utf8(output.stdout)
        .map_err(|_| invalid(file, "targets_command printed something that is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Spec {
        parse(text, Path::new("/r/rollout.toml")).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("/r/rollout.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_a_full_file() {
        let spec = parse_ok(
            r#"
package = "v2.dacpac"
domains = 3
concurrency = 2
targets = ["sqlite:dbs/a.db", "/abs/b.db", { url = "postgres://u:pw@h/app", mode = "side-by-side" }]
[health]
wait_seconds = 0.5
no_drift = true
command = "true"
[[health.probe]]
sql = "SELECT count(*) FROM t"
expect = 3
[[health.probe]]
name = "rows"
sql = "SELECT a, b FROM t"
expect = [["x", "1"], ["y", "NULL"]]
"#,
        );
        assert_eq!(spec.package, Path::new("/r/v2.dacpac"));
        assert_eq!(spec.domains, 3);
        assert_eq!(spec.concurrency, 2);
        assert!(spec.backup);
        assert_eq!(spec.targets[0].key(), "sqlite:/r/dbs/a.db");
        assert_eq!(spec.targets[1].key(), "sqlite:/abs/b.db");
        assert_eq!(spec.targets[2].mode, Mode::SideBySide);
        assert_eq!(spec.targets[2].key(), "postgres://u:***@h/app");
        assert_eq!(spec.health.probes[0].name, "probe 1");
        assert_eq!(spec.health.probes[0].expect, Expect::Value("3".into()));
        assert_eq!(
            spec.health.probes[1].expect,
            Expect::Rows(vec![
                vec!["x".into(), "1".into()],
                vec!["y".into(), "NULL".into()]
            ])
        );
    }

    #[test]
    fn a_journal_database_is_postgres_and_its_heartbeat_timeout_needs_it() {
        let spec = parse_ok("package = \"v2.dacpac\"\ntargets = [\"a.db\"]\n");
        assert!(spec.journal.is_none());
        let spec = parse_ok(
            "package = \"v2.dacpac\"\njournal = \"postgres://dac:pw@jdb/rollouts\"\ntargets = [\"a.db\"]\n",
        );
        assert_eq!(
            spec.journal.as_ref().map(ToString::to_string).as_deref(),
            Some("postgres://dac:***@jdb/rollouts")
        );
        assert_eq!(
            spec.heartbeat_timeout,
            std::time::Duration::from_secs_f64(DEFAULT_HEARTBEAT_TIMEOUT_SECONDS)
        );
        let spec = parse_ok(
            "package = \"v2.dacpac\"\njournal = \"postgres://jdb/r\"\nheartbeat_timeout_seconds = 2.5\ntargets = [\"a.db\"]\n",
        );
        assert_eq!(
            spec.heartbeat_timeout,
            std::time::Duration::from_millis(2500)
        );
        let err =
            parse_err("package = \"v2.dacpac\"\njournal = \"sqlite:j.db\"\ntargets = [\"a.db\"]\n");
        assert!(
            err.contains("a journal database is a PostgreSQL database"),
            "{err}"
        );
        let err = parse_err(
            "package = \"v2.dacpac\"\nheartbeat_timeout_seconds = 5\ntargets = [\"a.db\"]\n",
        );
        assert!(err.contains("give `journal = "), "{err}");
        let err = parse_err(
            "package = \"v2.dacpac\"\njournal = \"postgres://u:s3cret@jdb/r\"\nheartbeat_timeout_seconds = 0\ntargets = [\"a.db\"]\n",
        );
        assert!(err.contains("heartbeat_timeout_seconds = 0"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn timeouts_come_from_the_file_as_the_flags_give_them() {
        let spec = parse_ok("package = \"v2.dacpac\"\ntargets = [\"a.db\"]\n");
        assert_eq!(spec.timeouts, crate::driver::Timeouts::default());
        let spec = parse_ok(
            "package = \"v2.dacpac\"\nlock_timeout_seconds = 1.5\ncommand_timeout_seconds = 30\ntargets = [\"a.db\"]\n",
        );
        assert_eq!(spec.timeouts.lock, std::time::Duration::from_millis(1500));
        assert_eq!(
            spec.timeouts.command,
            Some(std::time::Duration::from_secs(30))
        );
        let err =
            parse_err("package = \"v2.dacpac\"\nlock_timeout_seconds = 0\ntargets = [\"a.db\"]\n");
        assert!(err.contains("lock_timeout_seconds"), "{err}");
    }

    #[test]
    fn bad_files_are_errors_naming_the_file_and_never_the_password() {
        let err = parse_err("package = ");
        assert!(err.starts_with("/r/rollout.toml: "), "{err}");
        let err =
            parse_err("package = \"p\"\ntargets = [\"postgres://u:s3cret@h/db\"]\ndomains = 21");
        assert!(err.contains("1 to 20"), "{err}");
        let err = parse_err("package = \"p\"\ntargets = [\"mysql://u:s3cret@h/db\"]");
        assert!(
            err.contains("not a target") && !err.contains("s3cret"),
            "{err}"
        );
        let err = parse_err("package = \"p\"\ntargets = [\"postgres://u:s3cret@h/db\"]\nbogus = 1");
        assert!(err.contains("bogus") && !err.contains("s3cret"), "{err}");
        // A syntax error quotes its line: every connection string on it is redacted.
        for line in [
            "targets = [\"postgres://u:s3cret@h/a\", \"postgres://v:s3cret2@h/b\" \"x\"]",
            "targets = [\"mysql://u:s3cret@h/a\", \"Server=h;Password=s3cret2\", \"host=h password=s3cret3\" 1]",
        ] {
            let err = parse_err(&format!("package = \"p\"\n{line}"));
            assert!(err.contains("***") && !err.contains("s3cret"), "{err}");
        }
        let err = parse_err("package = \"p\"");
        assert!(err.contains("no targets"), "{err}");
        let err = parse_err("package = \"p\"\ntargets = [\"a.db\", \"a.db\"]");
        assert!(err.contains("twice"), "{err}");
        let err = parse_err(
            "package = \"p\"\ntargets = [\"a.db\"]\n[[health.probe]]\nsql = \"x\"\nexpect = [1, [2]]",
        );
        assert!(err.contains("expect"), "{err}");
        let err = parse_err("package = \"p\"\ntargets = [\"a.db\"]\nmode = \"sideways\"");
        assert!(err.contains("sideways"), "{err}");
        // An unknown key anywhere is an error, never ignored: in the file, in [health], in a
        // target's table.
        for text in [
            "package = \"p\"\ntargets = [\"a.db\"]\nmax_per_host = 2",
            "package = \"p\"\ntargets = [\"a.db\"]\n[health]\ncommand_timeout = 2",
        ] {
            let err = parse_err(text);
            assert!(err.contains("unknown field"), "{text}: {err}");
        }
        let err = parse_err("package = \"p\"\ntargets = [{ url = \"a.db\", moed = \"in-place\" }]");
        assert!(err.starts_with("/r/rollout.toml: "), "{err}");
        let err = parse_err(
            "package = \"p\"\ntargets = [\"a.db\"]\nconcurrency = [1, 2, 3]\ndomains = 2",
        );
        assert!(err.contains("one per domain, 1 to 2"), "{err}");
        let err = parse_err("package = \"p\"\ntargets = [\"a.db\"]\nconcurrency = [1, 0]");
        assert!(err.contains("concurrency = 0"), "{err}");
        let err = parse_err("package = \"p\"\ntargets = [\"a.db\"]\nmax_per_server = 0");
        assert!(err.contains("max_per_server = 0"), "{err}");
        let err = parse_err(
            "package = \"p\"\ntargets = [\"a.db\"]\n[health]\ncommand_timeout_seconds = -1",
        );
        assert!(err.contains("command_timeout_seconds"), "{err}");
    }

    #[test]
    fn target_lists_come_from_commands() {
        let file = std::env::temp_dir().join("rollout.toml");
        let text = "package = \"p\"\ntargets_command = \"printf '# fleet\\\\nx.db\\\\n\\\\ny.db side-by-side\\\\n'\"";
        let spec = parse(text, &file).unwrap();
        let keys: Vec<_> = spec.targets.iter().map(TargetSpec::key).collect();
        let dir = std::env::temp_dir();
        assert_eq!(
            keys,
            [
                format!("sqlite:{}", dir.join("x.db").display()),
                format!("sqlite:{}", dir.join("y.db").display())
            ]
        );
        assert_eq!(spec.targets[1].mode, Mode::SideBySide);
        let err = parse("package = \"p\"\ntargets_command = \"exit 4\"", &file)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("targets_command") && err.contains("failed"),
            "{err}"
        );
    }

    #[test]
    fn expectations_match_rows() {
        let one = Expect::Value("3".into());
        assert_eq!(one.mismatch(&[vec![Some("3".into())]]), None);
        assert!(one.mismatch(&[vec![Some("4".into())]]).is_some());
        assert!(one.mismatch(&[]).is_some());
        let rows = Expect::Rows(vec![vec!["a".into(), "NULL".into()]]);
        assert_eq!(rows.mismatch(&[vec![Some("a".into()), None]]), None);
        assert!(
            rows.mismatch(&[vec![Some("a".into()), Some("b".into())]])
                .is_some()
        );
    }
}
