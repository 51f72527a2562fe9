//! `dac sqlpackage`: SqlPackage's command line as a front door. Its parameters become the
//! arguments of `dac script`, `dac deploy-report` or `dac upgrade --in-place`, parsed by the
//! same clap definition and run by `commands.rs` as those commands; its `/p:` properties are publish
//! profile properties (`planning::apply_profile`). A parameter dac cannot honour is an error
//! naming it.

use std::ffi::OsString;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::args::{Cli, Command, SqlPackageArgs};
use crate::planning::with_database;
use crate::shared::{EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK};

/// SqlPackage's parameters dac takes: (name, short form).
const PARAMETERS: &[(&str, &str)] = &[
    ("Action", "a"),
    ("SourceFile", "sf"),
    ("TargetFile", "tf"),
    ("SourceConnectionString", "scs"),
    ("TargetConnectionString", "tcs"),
    ("TargetServerName", "tsn"),
    ("TargetDatabaseName", "tdn"),
    ("TargetUser", "tu"),
    ("TargetPassword", "tp"),
    ("TargetTrustServerCertificate", "ttsc"),
    ("TargetEncryptConnection", "tec"),
    ("Profile", "pr"),
    ("OutputPath", "op"),
    ("DeployReportPath", "drp"),
    ("DeployScriptPath", "dsp"),
    ("Properties", "p"),
    ("Variables", "v"),
];

/// The parameters of one command line, by long name.
#[derive(Debug, Default)]
struct Parameters {
    single: Vec<(&'static str, String)>,
    properties: Vec<(String, String)>,
    variables: Vec<String>,
}

impl Parameters {
    fn get(&self, name: &str) -> Option<&str> {
        self.single
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse(params: &[String]) -> Result<Parameters> {
    let mut out = Parameters::default();
    for param in params {
        let Some(body) = param.strip_prefix('/').or_else(|| param.strip_prefix('-')) else {
            bail!("{param:?}: SqlPackage parameters look like /Name:Value");
        };
        let (name, value) = body.split_once(':').unwrap_or((body, ""));
        let Some(&(long, _)) = PARAMETERS.iter().find(|(long, short)| {
            long.eq_ignore_ascii_case(name) || short.eq_ignore_ascii_case(name)
        }) else {
            bail!("/{name}: a SqlPackage parameter dac does not implement");
        };
        match long {
            "Properties" | "Variables" => {
                let Some((key, val)) = value.split_once('=') else {
                    bail!("/{name}:{value}: expected /{name}:Name=Value");
                };
                if long == "Properties" {
                    out.properties.push((key.to_string(), val.to_string()));
                } else {
                    out.variables.push(format!("{key}={val}"));
                }
            }
            _ => {
                if out.get(long).is_some() {
                    bail!("/{long} given twice");
                }
                out.single.push((long, value.to_string()));
            }
        }
    }
    Ok(out)
}

/// A bool parameter's value as SqlPackage writes it.
fn bool_param(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "" => Ok(true),
        "false" => Ok(false),
        _ => bail!("/{name}:{value}: expected True or False"),
    }
}

/// The connection string of the target parameters, if any.
fn connection(p: &Parameters) -> Result<Option<String>> {
    let server = p.get("TargetServerName");
    let database = p.get("TargetDatabaseName");
    if let Some(tcs) = p.get("TargetConnectionString") {
        for part in ["TargetServerName", "TargetUser", "TargetPassword"] {
            if p.get(part).is_some() {
                bail!("/{part} with /TargetConnectionString: give one or the other");
            }
        }
        return Ok(Some(match database {
            Some(database) => with_database(tcs, database)?,
            None => tcs.to_string(),
        }));
    }
    let Some(server) = server else {
        for part in ["TargetDatabaseName", "TargetUser", "TargetPassword"] {
            if p.get(part).is_some() {
                bail!("/{part} needs /TargetServerName (or /TargetConnectionString)");
            }
        }
        return Ok(None);
    };
    let mut text = format!("Server={server}");
    for (param, key) in [
        ("TargetDatabaseName", "Database"),
        ("TargetUser", "User Id"),
        ("TargetPassword", "Password"),
    ] {
        if let Some(value) = p.get(param) {
            text.push_str(&format!(";{key}={value}"));
        }
    }
    for (param, key) in [
        ("TargetTrustServerCertificate", "TrustServerCertificate"),
        ("TargetEncryptConnection", "Encrypt"),
    ] {
        if let Some(value) = p.get(param) {
            text.push_str(&format!(";{key}={}", bool_param(param, value)?));
        }
    }
    Ok(Some(text))
}

/// The dac command line for one action (`script`, `deploy-report`, `upgrade`).
fn dac_args(p: &Parameters, action: &str, output: Option<&str>) -> Result<Vec<OsString>> {
    let source = p
        .get("SourceFile")
        .context("/SourceFile: is required (the .dacpac to deploy)")?;
    // Every value in `--name=value` form and the package after `--`: a value that starts
    // with `-` is still a value, and clap never echoes a connection string as an argument.
    let mut argv: Vec<OsString> = vec!["dac".into(), action.into()];
    if action == "upgrade" {
        argv.push("--in-place".into());
    }
    let target = match (connection(p)?, p.get("TargetFile")) {
        (Some(_), Some(_)) => bail!("/TargetFile with a target database: give one or the other"),
        (Some(text), None) => Some(text),
        (None, Some(file)) if action != "upgrade" => Some(file.to_string()),
        (None, Some(_)) => bail!("/TargetFile: Publish deploys to a database, not a file"),
        (None, None) => None,
    };
    match target {
        Some(target) => {
            argv.push(format!("--target={target}").into());
        }
        // As dac's own commands: a profile's connection, else DAC_TARGET.
        None if p.get("Profile").is_some()
            || std::env::var_os(crate::shared::TARGET_VARIABLE).is_some() => {}
        None => bail!(
            "no target: give /TargetConnectionString: (or /TargetServerName:, /TargetFile:), a /Profile: with one, or set {}",
            crate::shared::TARGET_VARIABLE
        ),
    }
    if let Some(profile) = p.get("Profile") {
        argv.push(format!("--profile={profile}").into());
    }
    for variable in &p.variables {
        argv.push(format!("--variable={variable}").into());
    }
    if let Some(output) = output {
        argv.push(format!("--output={output}").into());
    }
    argv.push("--".into());
    argv.push(source.into());
    Ok(argv)
}

/// Parses a dac command line built here.
fn parse_cli(argv: Vec<OsString>) -> Result<Cli> {
    Cli::try_parse_from(argv).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `/p:` and `/v:` on an action that does not plan: an error naming them.
fn refuse_planning(p: &Parameters, action: &str) -> Result<()> {
    if let Some((name, _)) = p.properties.first() {
        bail!("/p:{name} is not a parameter of /Action:{action}");
    }
    if let Some(variable) = p.variables.first() {
        let name = variable.split('=').next().unwrap_or_default();
        bail!("/v:{name} is not a parameter of /Action:{action}");
    }
    Ok(())
}

/// Parses a dac command line built here and puts in the `/p:` properties and SqlPackage's
/// own defaults.
fn command(argv: Vec<OsString>, p: &Parameters, ignore_unsupported: bool) -> Result<Cli> {
    let mut cli = parse_cli(argv)?;
    let planning = match &mut cli.command {
        Command::Script(args) => &mut args.planning,
        Command::DeployReport(args) => &mut args.planning,
        Command::Upgrade(args) => &mut args.planning,
        _ => unreachable!("sqlpackage runs only planning commands"),
    };
    // SqlPackage keeps what the package lacks unless told (dac's own default drops it).
    planning.properties_under = vec![("DropObjectsNotInSource".into(), "False".into())];
    planning.properties_over.clone_from(&p.properties);
    planning.profile_ignore_unsupported = ignore_unsupported;
    Ok(cli)
}

/// The dac commands a SqlPackage command line runs, in order (`commands.rs` runs them), and
/// whether the exit code is dac's (`--dac-exit-codes`) rather than SqlPackage's.
pub fn commands(args: SqlPackageArgs) -> Result<(Vec<Cli>, bool)> {
    let mut dac_exit_codes = args.dac_exit_codes;
    let mut ignore_unsupported = args.profile_ignore_unsupported;
    let mut params = Vec::new();
    for param in args.params {
        match param.as_str() {
            "--dac-exit-codes" => dac_exit_codes = true,
            "--profile-ignore-unsupported" => ignore_unsupported = true,
            _ => params.push(param),
        }
    }
    Ok((
        action_commands(&parse(&params)?, ignore_unsupported)?,
        dac_exit_codes,
    ))
}

/// The exit code of a SqlPackage command line that ran `result`: SqlPackage's 0 (success, a
/// report with changes included) or 1 (any failure or refusal), or dac's own.
pub fn exit_code(result: Result<u8>, dac_exit_codes: bool) -> Result<u8> {
    if dac_exit_codes {
        return result;
    }
    match result {
        Ok(code) if code == EXIT_OK || code == EXIT_DIFFERENCES => Ok(EXIT_OK),
        Ok(_) => Ok(EXIT_ERROR),
        Err(err) => {
            crate::output::errln!("error: {err:#}");
            Ok(EXIT_ERROR)
        }
    }
}

fn action_commands(p: &Parameters, ignore_unsupported: bool) -> Result<Vec<Cli>> {
    let action = p
        .get("Action")
        .context("/Action: is required (Script, DeployReport or Publish)")?;
    let output = p.get("OutputPath");
    let refuse = |names: &[&str]| -> Result<()> {
        for name in names {
            if p.get(name).is_some() {
                bail!("/{name} is not a parameter of /Action:{action}");
            }
        }
        Ok(())
    };
    match action.to_ascii_lowercase().as_str() {
        "script" => {
            refuse(&[
                "DeployReportPath",
                "DeployScriptPath",
                "SourceConnectionString",
            ])?;
            let argv = dac_args(p, "script", output)?;
            Ok(vec![command(argv, p, ignore_unsupported)?])
        }
        "deployreport" => {
            refuse(&[
                "DeployReportPath",
                "DeployScriptPath",
                "SourceConnectionString",
            ])?;
            let output = output.context("/OutputPath: is required for /Action:DeployReport")?;
            let argv = dac_args(p, "deploy-report", Some(output))?;
            Ok(vec![command(argv, p, ignore_unsupported)?])
        }
        "publish" => {
            refuse(&["OutputPath", "SourceConnectionString"])?;
            // The script and the report of what is about to run, made by the same paths with
            // the same options, then the upgrade.
            let mut runs = Vec::new();
            for (param, action) in [
                ("DeployScriptPath", "script"),
                ("DeployReportPath", "deploy-report"),
            ] {
                if let Some(path) = p.get(param) {
                    let argv = dac_args(p, action, Some(path))?;
                    runs.push(command(argv, p, ignore_unsupported)?);
                }
            }
            let argv = dac_args(p, "upgrade", None)?;
            runs.push(command(argv, p, ignore_unsupported)?);
            Ok(runs)
        }
        "driftreport" => {
            refuse(&[
                "SourceFile",
                "Profile",
                "DeployReportPath",
                "DeployScriptPath",
            ])?;
            refuse_planning(p, action)?;
            let output = output.context("/OutputPath: is required for /Action:DriftReport")?;
            let target = connection(p)?.context("/TargetConnectionString: is required")?;
            let argv: Vec<OsString> = vec![
                "dac".into(),
                "drift-report".into(),
                format!("--target={target}").into(),
                format!("--output={output}").into(),
            ];
            Ok(vec![parse_cli(argv)?])
        }
        "extract" => {
            refuse(&[
                "SourceFile",
                "Profile",
                "OutputPath",
                "DeployReportPath",
                "DeployScriptPath",
            ])?;
            refuse(&[
                "TargetConnectionString",
                "TargetServerName",
                "TargetDatabaseName",
            ])?;
            refuse_planning(p, action)?;
            let source = p
                .get("SourceConnectionString")
                .context("/SourceConnectionString: is required for /Action:Extract")?;
            let file = p
                .get("TargetFile")
                .context("/TargetFile: is required for /Action:Extract")?;
            let argv: Vec<OsString> = vec![
                "dac".into(),
                "extract".into(),
                format!("--target={source}").into(),
                format!("--output={file}").into(),
            ];
            Ok(vec![parse_cli(argv)?])
        }
        _ => bail!(
            "/Action:{action}: dac implements Script, DeployReport, Publish, DriftReport and Extract"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{connection, parse};

    fn params(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn parameters_long_short_and_dashed() {
        let p = parse(&params(&[
            "-Action:Script",
            "/sf:a.dacpac",
            "/p:BlockOnPossibleDataLoss=false",
            "/v:Env=a=b",
        ]))
        .unwrap();
        assert_eq!(p.get("Action"), Some("Script"));
        assert_eq!(p.get("SourceFile"), Some("a.dacpac"));
        assert_eq!(
            p.properties,
            vec![("BlockOnPossibleDataLoss".into(), "false".into())]
        );
        assert_eq!(p.variables, vec!["Env=a=b".to_string()]);
        let err = parse(&params(&["/Quiet:True"])).unwrap_err().to_string();
        assert!(err.contains("/Quiet"), "{err}");
        assert!(parse(&params(&["/a:Script", "/Action:Publish"])).is_err());
    }

    #[test]
    fn target_parameters_make_a_connection_string() {
        let p = parse(&params(&[
            "/tsn:tcp:db,1433",
            "/tdn:Shop",
            "/tu:deploy",
            "/tp:pw",
            "/TargetTrustServerCertificate:True",
        ]))
        .unwrap();
        assert_eq!(
            connection(&p).unwrap().unwrap(),
            "Server=tcp:db,1433;Database=Shop;User Id=deploy;Password=pw;TrustServerCertificate=true"
        );
        let p = parse(&params(&["/tcs:Server=h;Database=Old", "/tdn:New"])).unwrap();
        assert_eq!(connection(&p).unwrap().unwrap(), "Server=h;Database=New");
        let p = parse(&params(&["/tdn:New"])).unwrap();
        assert!(connection(&p).is_err());
    }
}
