//! Command-line arguments, as close to the flags as possible: clap parsing and validation only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// dac: build, inspect, compare and upgrade DAC-style database packages.
#[derive(Debug, Parser)]
#[command(name = "dac", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a package from a SQL project (.sqlproj/.csproj) or a folder of .sql files.
    Build(BuildArgs),
    /// Describe a package: name, version, platform, element counts, opaque objects, scripts.
    Info(InfoArgs),
    /// Compare two schemas (packages or projects); exit 2 when they differ.
    Compare(CompareArgs),
    /// Write the upgrade script that brings TARGET to PACKAGE.
    Script(ScriptArgs),
    /// Report what deploying PACKAGE onto TARGET would do; exit 2 when it would change anything.
    DeployReport(DeployReportArgs),
    /// Upgrade (or first deploy) a live database to a package.
    Upgrade(UpgradeArgs),
    /// Write a live database's schema out as a package.
    Extract(ExtractArgs),
    /// Register a database as an application (name, version, definition) without changing it.
    Register(RegisterArgs),
    /// Remove a database's registration (its history stays).
    Unregister(UnregisterArgs),
    /// Switch back to the original retained by the last side-by-side upgrade.
    Rollback(RollbackArgs),
    /// Finish or undo an interrupted side-by-side upgrade or rollback (every command that
    /// changes a database does this first on its own).
    Recover(RecoverArgs),
    /// Compare a live database with its registered definition; exit 2 when it drifted.
    DriftReport(DriftReportArgs),
    /// What dac did to a database: who, when, from which version to which, how it ended,
    /// how long it took.
    History(ReportTargetArgs),
    /// A database at a glance: registered application and version, drift, a retained
    /// original, an interrupted run; exit 2 when it drifted or a run was interrupted.
    Status(ReportTargetArgs),
    /// Roll a package out over many databases in upgrade domains, with health gates.
    Rollout(RolloutArgs),
    /// Make a reviewed plan of an in-place upgrade (steps, SQL, hazards, fingerprints of what
    /// it was made from) for `dac upgrade --plan`; `dac plan show FILE` renders one.
    Plan(PlanArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to standard output.
    Completions(CompletionsArgs),
    /// Print dac's man page (roff) to standard output.
    Man,
    /// Run a SqlPackage command line: /Action:Script|DeployReport|Publish /SourceFile:
    /// /TargetConnectionString: /Profile: /p:Name=Value /v:Name=Value /OutputPath: ...
    #[command(name = "sqlpackage")]
    SqlPackage(SqlPackageArgs),
}

/// `dac sqlpackage`.
#[derive(Debug, Args)]
pub struct SqlPackageArgs {
    /// Exit with dac's codes (2 differences, 3 refused) instead of SqlPackage's 0 and 1.
    #[arg(long)]
    pub dac_exit_codes: bool,
    /// Warn about publish properties dac does not implement instead of failing.
    #[arg(long)]
    pub profile_ignore_unsupported: bool,
    /// SqlPackage's parameters, as SqlPackage takes them (/Name:Value, short forms too).
    #[arg(
        value_name = "PARAMETER",
        allow_hyphen_values = true,
        trailing_var_arg = true
    )]
    pub params: Vec<String>,
}

/// `dac plan`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PlanArgs {
    /// `dac plan show FILE`.
    #[command(subcommand)]
    pub command: Option<PlanCommand>,
    /// The package (.dacpac) or project the plan upgrades to.
    #[arg(required = true)]
    pub package: Option<PathBuf>,
    /// The database the plan is for (it must exist).
    #[command(flatten)]
    pub target: TargetFlag,
    /// Write the plan (JSON) here instead of standard output (`-` is standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Application name, when PACKAGE is a project (as `dac build --name`).
    #[arg(long)]
    pub name: Option<String>,
    /// Application version, when PACKAGE is a project (as `dac build --version`).
    #[arg(long)]
    pub version: Option<String>,
    /// Plan even though the database drifted from its registered definition (the plan
    /// records it; applying it overrides the drift it saw).
    #[arg(long)]
    pub allow_drift: bool,
    /// Compare and plan options, as `dac upgrade --in-place` takes them.
    #[command(flatten)]
    pub planning: PlanningFlags,
}

/// `dac plan` subcommands.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Render a plan file for people (text), a pull request (markdown), programs (json) or a
    /// platform client (sql).
    Show(PlanShowArgs),
}

/// `dac plan show`.
#[derive(Debug, Args)]
pub struct PlanShowArgs {
    /// The plan file `dac plan` wrote.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Write it here instead of standard output (`-` is standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Renderings of a plan file.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// For people.
    Text,
    /// The plan file itself.
    Json,
    /// For pull requests (with the SQL).
    Markdown,
    /// The script, to run with the platform's own client (then `dac register`).
    Sql,
}

/// `--format` of the commands whose result is what they did (build, extract, register,
/// unregister, rollback, recover): text for people, or one JSON object on stdout.
#[derive(Debug, Args, Clone, Copy)]
pub struct OutcomeFlag {
    /// Output format: text, or json (one versioned object on stdout; notes go to stderr).
    #[arg(long = "format", value_enum, default_value_t = OutcomeFormat::Text)]
    pub format: OutcomeFormat,
}

/// Formats of a command's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeFormat {
    /// For people.
    Text,
    /// For programs (stable, versioned shape).
    Json,
}

/// `dac recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The database.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Lock and command timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutFlags,
    /// Output format.
    #[command(flatten)]
    pub outcome: OutcomeFlag,
}

/// `dac history` and `dac status`: a report on one database.
#[derive(Debug, Args)]
pub struct ReportTargetArgs {
    /// The database.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Write the report here instead of standard output (`-` is standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// `dac completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A live database.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The database.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Lock and command timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutFlags,
}

/// `--target`, or where to find it: `--target-env NAME`, a publish profile's
/// `TargetConnectionString` (commands that plan), or the `DAC_TARGET` environment variable, in
/// that order.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetFlag {
    /// Connection string: sqlite:PATH, a .db/.sqlite file, postgres://user@host:port/db, or SQL
    /// Server's `Server=tcp:host,1433;Database=db;User Id=u;Password=p` or
    /// sqlserver://u@host:1433/db; for script and deploy-report also a package or project standing
    /// in for the database. Default: --target-env, the profile's, then $DAC_TARGET.
    #[arg(long)]
    pub target: Option<ConnectionText>,
    /// Read the connection string from the environment variable NAME (keeps passwords off the
    /// command line).
    #[arg(long, value_name = "NAME", conflicts_with = "target")]
    pub target_env: Option<String>,
    /// The publish profile's connection string, filled in by `planning::apply_profile`.
    #[arg(skip)]
    pub from_profile: Option<ConnectionText>,
}

/// How long dac's statements may wait for locks and run, for commands that change a database.
#[derive(Debug, Args, Clone, Copy)]
pub struct TimeoutFlags {
    /// The longest wait for a lock another session holds (e.g. 5s, 500ms, 2m), another dac
    /// run's upgrade lock included; past it the change is undone and the error names the session
    /// or run that held the lock where the platform tells. Default 5s.
    #[arg(long, value_name = "DURATION", value_parser = crate::shared::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
    /// The longest run of one statement (default: no limit); past it the change is undone.
    #[arg(long, value_name = "DURATION", value_parser = crate::shared::parse_duration)]
    pub command_timeout: Option<std::time::Duration>,
}

/// `dac unregister`.
#[derive(Debug, Args)]
pub struct UnregisterArgs {
    /// Connection string of the database.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Lock and command timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutFlags,
    /// Output format.
    #[command(flatten)]
    pub outcome: OutcomeFlag,
}

/// `dac upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The package (.dacpac) or project to deploy (with --plan: default, the package the plan
    /// was made from).
    #[arg(required_unless_present = "plan")]
    pub package: Option<PathBuf>,
    /// Run a reviewed plan (`dac plan`) in place: exactly its SQL, after checking that the
    /// package, the registration and the live schema are still the ones it was made from.
    #[arg(long, value_name = "FILE", conflicts_with = "side_by_side")]
    pub plan: Option<PathBuf>,
    /// Connection string of the database to upgrade (created when it does not exist).
    #[command(flatten)]
    pub target: TargetFlag,
    /// Upgrade in place: one transaction, all or nothing.
    #[arg(long, conflicts_with = "side_by_side")]
    pub in_place: bool,
    /// Upgrade side by side: build the new version in a new database, copy the data while
    /// the original is read-only, switch names; the original is kept for `dac rollback`.
    #[arg(long)]
    pub side_by_side: bool,
    /// Side by side: write the data transfer report to FILE (in --format).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The outcome's format [default: text]. Side by side: the data transfer report's (printed,
    /// and written to --report), text, json or markdown; in place: text or json (one object on
    /// stdout, notes on stderr).
    #[arg(long, value_enum)]
    pub format: Option<TransferFormat>,
    /// Side by side: tables copied at a time (default: the number of CPUs, at most 4;
    /// SQLite always copies one at a time).
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Side by side: copy only with writers held. By default the rows are copied first,
    /// with writers still writing, then caught up in passes (by primary key) until a pass is
    /// small; writers are held only for the last delta, the check and the switch (a written
    /// table without a primary key is copied again with them held). SQLite and PostgreSQL.
    #[arg(long)]
    pub no_early_copy: bool,
    /// Side by side: how the new database gets its rows [default: auto]. `tables`: the
    /// package's schema built in a new database and the rows copied table by table; `database`:
    /// the whole database copied on the server with writers held off (SQLite: VACUUM INTO;
    /// Azure SQL Database: CREATE DATABASE AS COPY OF) and the copy upgraded in place; `auto`:
    /// `database` where the server cannot copy rows between databases (Azure SQL Database),
    /// else `tables`.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub copy_method: Option<CopyMethodArg>,
    /// Side by side: no progress output.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Application name, when PACKAGE is a project (as `dac build --name`).
    #[arg(long)]
    pub name: Option<String>,
    /// Application version, when PACKAGE is a project (as `dac build --version`).
    #[arg(long)]
    pub version: Option<String>,
    /// Go ahead even when the database drifted from its registered definition.
    #[arg(long)]
    pub allow_drift: bool,
    /// In place: print the script that was run.
    #[arg(long)]
    pub show_script: bool,
    /// Compare and plan options, as `dac script` and `dac deploy-report` take them.
    #[command(flatten)]
    pub planning: PlanningFlags,
    /// Lock and command timeouts (side by side: the lock timeout only, the wait for another
    /// run's upgrade lock).
    #[command(flatten)]
    pub timeouts: TimeoutFlags,
}

/// How a side-by-side upgrade fills the new database (`--copy-method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CopyMethodArg {
    /// `database` where the server cannot copy rows between databases, else `tables`.
    Auto,
    /// The schema built new, the rows copied table by table.
    Tables,
    /// The whole database copied on the server, the copy upgraded in place.
    Database,
}

/// Formats of the data transfer report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransferFormat {
    /// Plain text.
    Text,
    /// JSON (stable, versioned shape).
    Json,
    /// Markdown, for a pull request or change record.
    Markdown,
}

/// `dac rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Connection string of the upgraded database.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Roll back even though the upgraded database took writes since the switch (it is kept
    /// under another name, never dropped).
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[command(flatten)]
    pub outcome: OutcomeFlag,
    /// Lock and command timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutFlags,
}

/// `dac extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Connection string of the database.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Where to write the package.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Application name (default: the registered name, else the database name).
    #[arg(long)]
    pub name: Option<String>,
    /// Application version (default: the registered version, else 1.0.0.0).
    #[arg(long)]
    pub version: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub outcome: OutcomeFlag,
}

/// `dac register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Connection string of the database.
    #[command(flatten)]
    pub target: TargetFlag,
    /// The package to register as the definition (default: the live schema).
    pub package: Option<PathBuf>,
    /// Application name when registering the live schema.
    #[arg(long)]
    pub name: Option<String>,
    /// Application version when registering the live schema.
    #[arg(long)]
    pub version: Option<String>,
    /// Register PACKAGE even though the database differs from it (the differences are shown).
    #[arg(long)]
    pub force: bool,
    /// Lock and command timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutFlags,
    /// Output format.
    #[command(flatten)]
    pub outcome: OutcomeFlag,
}

/// `dac drift-report`.
#[derive(Debug, Args)]
pub struct DriftReportArgs {
    /// Connection string of the database.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DeployFormat::Xml)]
    pub format: DeployFormat,
    /// Write the report here instead of standard output (`-` is standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// How two schemas are compared: taken by `dac compare`, and with [`PlanningFlags`] by every
/// command that plans.
#[derive(Debug, Args, Clone, Default)]
pub struct CompareFlags {
    /// Columns in another order are not a difference.
    #[arg(long)]
    pub ignore_column_order: bool,
    /// Whitespace in bodies and expressions is not a difference.
    #[arg(long)]
    pub ignore_whitespace: bool,
    /// Comments in bodies are not a difference.
    #[arg(long)]
    pub ignore_comments: bool,
    /// Keyword and identifier case in bodies is not a difference.
    #[arg(long)]
    pub ignore_keyword_case: bool,
    /// Drop objects that are in the target but not in the package: on unless
    /// `--drop-objects-not-in-source=false`, as an upgrade makes the database its package
    /// (SqlPackage's default is false).
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub drop_objects_not_in_source: Option<bool>,
    /// Never drop objects of this type: an element type (SqlIndex) or SqlPackage's name
    /// (Indexes, Tables, any DoNotDropObjectTypes value); repeatable.
    #[arg(long = "do-not-drop", value_name = "TYPE")]
    pub do_not_drop: Vec<String>,
    /// Leave objects of this type out, with what they own: an element type
    /// (SqlPermissionStatement) or SqlPackage's name (Permissions); repeatable.
    #[arg(long = "exclude-type", value_name = "TYPE")]
    pub exclude_types: Vec<String>,
    /// Only compare names matching this glob (`schema.name`, case-insensitive; repeatable); a
    /// table's constraints, indexes and triggers go with it.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Do not compare names matching this glob, nor what they own (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Load packages even when model.xml does not match the checksum in Origin.xml.
    #[arg(long)]
    pub accept_checksum_mismatch: bool,
}

/// How every command that plans compares and plans: `script`, `deploy-report` and `upgrade`
/// take this one set, mapped to the engine's options in one place (`planning.rs`), so a
/// reviewed preview and the upgrade it previews run with the same options.
#[derive(Debug, Args, Clone, Default)]
pub struct PlanningFlags {
    /// Compare options.
    #[command(flatten)]
    pub compare: CompareFlags,
    /// Go ahead even when steps could lose data in tables that hold rows: no refusal, no
    /// run-time guard (DacFx BlockOnPossibleDataLoss=False).
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Give new NOT NULL columns without a default a default for existing rows, and fill NULLs
    /// before a column becomes NOT NULL (DacFx GenerateSmartDefaults).
    #[arg(long)]
    pub smart_defaults: bool,
    /// Rebuild tables whose columns are in another order than the package's, where the
    /// platform would add new columns at the end and report the order it keeps (PostgreSQL,
    /// SQLite); SQL Server always rebuilds for order (DacFx IgnoreColumnOrder=False).
    #[arg(long)]
    pub rebuild_for_column_order: bool,
    /// Deploy without the package's objects dac cannot create (each named in a warning on
    /// stderr); without it such objects make the script or upgrade refuse (exit 3).
    #[arg(long)]
    pub leave_out_uncreatable: bool,
    /// SQLCMD variable value for the deployment scripts, NAME=VALUE (repeatable).
    #[arg(long = "variable", short = 'v', value_name = "NAME=VALUE")]
    pub variables: Vec<String>,
    /// Refuse (exit 3) a plan that rebuilds a table (DacFx AllowTableRecreation=False).
    #[arg(long)]
    pub block_on_rebuild: bool,
    /// Refuse (exit 3) a plan with hazards of these kinds, comma-separated: TableRebuild,
    /// TableRewrite, BlockingIndexBuild, TableScan, DataLoss, NotNullWithoutDefault,
    /// ColumnOrder, Unscriptable.
    #[arg(long, value_name = "HAZARD,...", value_delimiter = ',')]
    pub block_on: Vec<String>,
    /// A publish profile (*.publish.xml): its target, SQLCMD variables and the deploy
    /// properties dac implements (see the README); options given here override it.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Go on when the profile sets properties dac does not implement (each is a warning on
    /// stderr); without it they are an error.
    #[arg(long)]
    pub profile_ignore_unsupported: bool,
    /// Publish properties under the profile's (`dac sqlpackage`'s defaults where they are not
    /// dac's), name and value.
    #[arg(skip)]
    pub properties_under: Vec<(String, String)>,
    /// Publish properties over the profile's (`dac sqlpackage`'s `/p:`), name and value.
    #[arg(skip)]
    pub properties_over: Vec<(String, String)>,
}

/// `dac compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// What the database is now: a package, project or connection string.
    pub current: ConnectionText,
    /// What it should be: a package or project.
    pub desired: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Compare options.
    #[command(flatten)]
    pub compare: CompareFlags,
    /// A publish profile (*.publish.xml): its compare properties (Ignore..., DoNotDropObjectTypes,
    /// ExcludeObjectTypes...), under the options given here.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Go on when the profile sets properties dac does not implement (each is a warning).
    #[arg(long)]
    pub profile_ignore_unsupported: bool,
}

/// `dac script`.
#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// The package (or project) to deploy.
    pub package: PathBuf,
    /// What the database is now: a connection string, or a package or project standing in for it.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Write the script here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// sql (the script as the platform's client runs it) or json (its batches, for programs).
    #[arg(long, value_enum, default_value_t = ScriptFormat::Sql)]
    pub format: ScriptFormat,
    /// Compare and plan options.
    #[command(flatten)]
    pub planning: PlanningFlags,
}

/// Formats of `dac script`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScriptFormat {
    /// The script, to run with the platform's own client.
    Sql,
    /// Its batches and how they run (stable, versioned shape).
    Json,
}

/// `dac deploy-report`.
#[derive(Debug, Args)]
pub struct DeployReportArgs {
    /// The package (or project) to deploy.
    pub package: PathBuf,
    /// What the database is now: a connection string, or a package or project standing in for it.
    #[command(flatten)]
    pub target: TargetFlag,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DeployFormat::Xml)]
    pub format: DeployFormat,
    /// Write the report here instead of standard output (`-` is standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Compare and plan options.
    #[command(flatten)]
    pub planning: PlanningFlags,
}

/// Formats of comparison output.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// For programs (stable, versioned shape).
    Json,
    /// For pull requests.
    Markdown,
}

/// Formats of the deploy report.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeployFormat {
    /// SqlPackage's DeploymentReport XML.
    Xml,
    /// For programs (stable, versioned shape).
    Json,
    /// For people.
    Text,
    /// For pull requests.
    Markdown,
}

/// `dac build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The project file, or a folder holding one project file or plain .sql files.
    pub project: PathBuf,
    /// Where to write the package (default: <name>.dacpac in the current folder).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Target platform: sqlserver (or a DSP such as Sql160, SqlAzureV12), sqlite, postgres.
    #[arg(long)]
    pub platform: Option<String>,
    /// Application name written to DacMetadata.xml.
    #[arg(long)]
    pub name: Option<String>,
    /// Application version written to DacMetadata.xml.
    #[arg(long)]
    pub version: Option<String>,
    /// SQLCMD variable value, NAME=VALUE (repeatable); overrides the project's defaults.
    #[arg(long = "variable", short = 'v', value_name = "NAME=VALUE")]
    pub variables: Vec<String>,
    /// Output format.
    #[command(flatten)]
    pub outcome: OutcomeFlag,
}

/// `dac info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The package (.dacpac), or a project to build first.
    pub package: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InfoFormat::Text)]
    pub format: InfoFormat,
    /// Load the package even when model.xml does not match the checksum in Origin.xml.
    #[arg(long)]
    pub accept_checksum_mismatch: bool,
}

/// Formats of `dac info`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InfoFormat {
    /// For people.
    Text,
    /// For programs (stable shape).
    Json,
}

/// `dac rollout`.
#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RolloutCommand,
}

/// `dac rollout` subcommands.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Start rolling FILE's package out: domain 0 first, the next only once it is healthy.
    Start {
        /// The rollout file (TOML).
        file: PathBuf,
        /// Walk one domain now and one per `dac rollout next`.
        #[arg(long)]
        manual: bool,
        /// This worker's name, when several workers share the rollout's journal database
        /// (default: host name and process id).
        #[arg(long, value_name = "NAME")]
        worker: Option<String>,
    },
    /// Upgrade and check the next domain (manual rollouts).
    Next {
        /// The rollout file.
        file: PathBuf,
    },
    /// Go on after an interruption; nothing is upgraded twice. With a journal database, join
    /// the rollout as one more worker.
    Resume {
        /// The rollout file.
        file: PathBuf,
        /// This worker's name, when several workers share the rollout's journal database
        /// (default: host name and process id).
        #[arg(long, value_name = "NAME")]
        worker: Option<String>,
    },
    /// Return every upgraded target to its previous version; others are left alone.
    Rollback {
        /// The rollout file.
        file: PathBuf,
    },
    /// Where every domain and target stands, and which can be rolled back.
    Status {
        /// The rollout file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RolloutFormat::Text)]
        format: RolloutFormat,
        /// Also read each target's registration from the target now (the journal says what the
        /// rollout did; this says what is there).
        #[arg(long)]
        live: bool,
    },
    /// The full report: versions, durations, read-only windows, health results, events.
    Report {
        /// The rollout file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RolloutFormat::Markdown)]
        format: RolloutFormat,
    },
}

/// Formats of `dac rollout status` and `dac rollout report`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RolloutFormat {
    /// For people.
    Text,
    /// For programs.
    Json,
    /// For pull requests and tickets.
    Markdown,
}

/// A command-line argument that may be a connection string: `Debug` shows it with passwords
/// redacted (`driver::redact`), so printing the parsed arguments never shows a password.
#[derive(Clone)]
pub struct ConnectionText(String);

impl std::str::FromStr for ConnectionText {
    type Err = std::convert::Infallible;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(ConnectionText(text.to_string()))
    }
}

impl std::ops::Deref for ConnectionText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConnectionText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", dac_engine::driver::redact(&self.0))
    }
}

#[cfg(test)]
mod connection_text_tests {
    use super::ConnectionText;

    #[test]
    fn debug_redacts_passwords() {
        for text in [
            "Server=tcp:h,1433;User Id=sa;Password=s3cr3t",
            "sqlserver://sa:s3cr3t@h/db",
            "postgres://u:s3cr3t@h/db",
        ] {
            let arg: ConnectionText = text.parse().unwrap();
            let shown = format!("{arg:?}");
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert_eq!(&*arg, text);
        }
    }
}
