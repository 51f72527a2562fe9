//! Rolling back a side-by-side upgrade: the retained original gets its name back.

use super::RollbackOutcome;
use super::journal::{Phase, load, save};
use super::prepare::unused_retained_name;
use super::recovery::{finish_rollback, recover_locked};
use crate::driver::{Locked, Server, Target, connect_server};
use crate::fault;
use crate::{Error, Result};

/// Switches `target` back to the original retained by its last side-by-side upgrade. Refused
/// when the upgraded database took writes since the switch, unless `force` (it is then kept
/// under another name, never dropped). Waits up to `lock_wait` for another run's upgrade lock.
pub fn rollback(
    target: &Target,
    force: bool,
    lock_wait: std::time::Duration,
) -> Result<RollbackOutcome> {
    let mut server = connect_server(target)?;
    let mut locked = Locked::take(server.as_mut(), lock_wait)?;
    let waited = locked.waited().cloned();
    let recovered = recover_locked(&mut *locked)?;
    let mut outcome = rollback_locked(&mut *locked, force, recovered)?;
    locked.release()?;
    outcome.waited = waited;
    Ok(outcome)
}

/// The rollback, with the lock held; `recovered` says what recovery did first.
fn rollback_locked(
    server: &mut dyn Server,
    force: bool,
    recovered: Option<String>,
) -> Result<RollbackOutcome> {
    let database = server.database().to_string();
    let Some(mut journal) = load(server)? else {
        // A request with nothing to serve, not a failed rollback: the callers match on Invalid.
        return Err(Error::Invalid(format!(
            "{database} has no side-by-side upgrade to roll back (dac keeps the original of the last side-by-side upgrade until a rollback)"
        )));
    };
    if !server.exists(&journal.retained)? {
        return Err(Error::RetainedOriginalMissing {
            database,
            retained: journal.retained,
        });
    }
    let kept_name = unused_retained_name(server, &format!("{}_upgraded", journal.version_after))?;
    // An upgrade since the switch (in place, which the change marker may not see yet: PostgreSQL
    // counts rows as sessions end) shows in the registration: rolling back would undo it too.
    let registered_now = server
        .open(&database)?
        .read_registration()?
        .map(|r| r.version);
    let upgraded_since = registered_now.as_deref() != Some(journal.version_after.as_str());
    server.seal(&database)?;
    let marker = match server.change_marker(&database) {
        Ok(marker) => marker,
        Err(err) => {
            let _ = server.unseal(&database);
            return Err(err);
        }
    };
    let took_writes = upgraded_since || journal.marker.as_deref() != Some(marker.as_str());
    if took_writes && !force {
        server.unseal(&database)?;
        let what = if upgraded_since {
            format!(
                "was changed since the side-by-side upgrade to {} switched to it (it is registered as {} now)",
                journal.version_after,
                registered_now.as_deref().unwrap_or("nothing")
            )
        } else {
            format!(
                "took writes since the side-by-side upgrade to {} switched to it",
                journal.version_after
            )
        };
        return Err(Error::Blocked {
            reason: format!(
                "{database} {what}; rolling back to {} would leave them behind.\npass --force to roll back anyway (the upgraded database is then kept as {kept_name}, not dropped)",
                journal.retained
            ),
        });
    }
    journal.phase = Phase::RollingBack;
    journal.keep_discarded = took_writes;
    journal.discard = Some(if took_writes {
        kept_name
    } else {
        server.temporary_name()
    });
    save(server, &journal)?;
    fault::point("rollback.started");
    finish_rollback(server, &journal)?;
    Ok(RollbackOutcome {
        database,
        version: journal.version_before.clone(),
        from_version: journal.version_after.clone(),
        kept_upgraded: journal
            .keep_discarded
            .then(|| journal.discard.clone().unwrap_or_default()),
        recovered,
        waited: None,
    })
}
