//! Runs a parsed command: hands it to its command module, which calls the engine and renders
//! the result.

use anyhow::Result;

use crate::args::{Cli, Command, OutcomeFormat, ScriptFormat, TransferFormat};
use crate::output;
use crate::{
    build_cmd, compare_cmd, plan_cmd, planning, registry_cmd, rollout_cmd, sqlpackage_cmd,
    upgrade_cmd,
};

/// Runs one command; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    output::machine_output(machine_output(&cli.command));
    match cli.command {
        Command::Build(args) => build_cmd::build(args),
        Command::Info(args) => build_cmd::info(args),
        Command::Compare(mut args) => {
            if args.profile.is_some() {
                // The profile's compare properties, through the one mapping every command uses;
                // its target is not compare's (both sides are given).
                let mut flags = crate::args::PlanningFlags {
                    compare: args.compare.clone(),
                    profile: args.profile.clone(),
                    profile_ignore_unsupported: args.profile_ignore_unsupported,
                    ..Default::default()
                };
                planning::apply_profile(&mut flags, &mut crate::args::TargetFlag::default())?;
                args.compare = flags.compare;
            }
            compare_cmd::compare(args)
        }
        Command::Script(mut args) => {
            planning::apply_profile(&mut args.planning, &mut args.target)?;
            compare_cmd::script(args)
        }
        Command::DeployReport(mut args) => {
            planning::apply_profile(&mut args.planning, &mut args.target)?;
            compare_cmd::deploy_report(args)
        }
        Command::Upgrade(mut args) => {
            let from_profile = planning::apply_profile(&mut args.planning, &mut args.target)?;
            // The command line's --allow-drift wins; else the profile's BlockWhenDriftDetected.
            args.allow_drift |= from_profile.block_when_drift_detected == Some(false);
            if args.timeouts.command_timeout.is_none() {
                args.timeouts.command_timeout = from_profile.command_timeout;
            }
            upgrade_cmd::upgrade(args)
        }
        Command::Plan(mut args) => {
            planning::apply_profile(&mut args.planning, &mut args.target)?;
            plan_cmd::plan(args)
        }
        Command::Extract(args) => registry_cmd::extract(args),
        Command::Register(args) => registry_cmd::register(args),
        Command::Unregister(args) => registry_cmd::unregister(args),
        Command::DriftReport(args) => registry_cmd::drift_report(args),
        Command::History(args) => registry_cmd::history(args),
        Command::Status(args) => registry_cmd::status(args),
        Command::Rollback(args) => upgrade_cmd::rollback(args),
        Command::Recover(args) => upgrade_cmd::recover(args),
        Command::Rollout(args) => rollout_cmd::run(args),
        Command::Completions(args) => build_cmd::completions(&args),
        Command::Man => build_cmd::man(),
        Command::SqlPackage(args) => {
            let (commands, dac_exit_codes) = sqlpackage_cmd::commands(args)?;
            let result = commands
                .into_iter()
                .try_fold(crate::shared::EXIT_OK, |_, cli| run(cli));
            sqlpackage_cmd::exit_code(result, dac_exit_codes)
        }
    }
}

/// Whether the command's stdout is one JSON object, so text for people goes to stderr.
fn machine_output(command: &Command) -> bool {
    let json = |format: OutcomeFormat| format == OutcomeFormat::Json;
    match command {
        Command::Build(args) => json(args.outcome.format),
        Command::Extract(args) => json(args.outcome.format),
        Command::Register(args) => json(args.outcome.format),
        Command::Unregister(args) => json(args.outcome.format),
        Command::Rollback(args) => json(args.outcome.format),
        Command::Recover(args) => json(args.outcome.format),
        Command::Script(args) => args.format == ScriptFormat::Json,
        Command::Upgrade(args) => args.format == Some(TransferFormat::Json),
        _ => false,
    }
}
