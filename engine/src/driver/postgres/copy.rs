//! Copies of a whole database on the same server, kept by a rollout before an in-place upgrade so
//! it can be undone: `CREATE DATABASE copy TEMPLATE db`, which PostgreSQL only allows while no
//! other session is connected to `db` (it fails with SQLSTATE 55006 otherwise).
//!
//! Database-level settings (`ALTER DATABASE ... SET`), grants on the database and its owner are
//! not part of a template copy: a restored database is owned by the user that restored it.
//!
//! These are the snapshots of [`crate::driver::PostgresServer`]: a copy is named
//! `DB_dacbak_HASH` (the hash of what it was taken for), within PostgreSQL's 63-byte names.

use std::time::Duration;

use super::connect::Settings;
use sha2::{Digest, Sha256};

use super::names::fit;
use super::{PostgresDriver, quote_ident};
use crate::driver::{Driver, RestoreSteps, Snapshot, SnapshotPlace, with_lock};
use crate::model::Platform;
use crate::{Error, Result};

/// SQLSTATE `invalid_catalog_name`: the database does not exist.
const NO_SUCH_DATABASE: &str = "3D000";

/// Copies `database` into a database named after `place.id`, replacing one an interrupted call
/// left. No upgrade lock: `CREATE DATABASE ... TEMPLATE` refuses while any session, a lock
/// holder's too, is connected to the database, which already keeps upgrades out.
pub(super) fn snapshot(
    admin: &mut PostgresDriver,
    database: &str,
    place: &SnapshotPlace,
) -> Result<Snapshot> {
    let copy = copy_name(database, place.id);
    admin.drop_database(&copy)?;
    admin.copy_database(database, &copy)?;
    Ok(Snapshot::PostgresTemplate { database: copy })
}

/// Puts the copy back under the database's name: drops the database, renames the copy. A
/// restore interrupted between the two finds no database; `steps` decides whether to go on,
/// and records the restore afterwards whether it happened now or before.
pub(super) fn restore(
    admin: &mut PostgresDriver,
    config: &Settings,
    database: &str,
    snapshot: &Snapshot,
    wait: Duration,
    steps: &mut dyn RestoreSteps,
) -> Result<()> {
    let Snapshot::PostgresTemplate { database: copy } = snapshot else {
        return Err(snapshot.not_for(Platform::Postgres));
    };
    let go_on = match PostgresDriver::with_config(config.clone()) {
        Ok(mut driver) => steps.should_restore(Ok(&mut driver))?,
        Err(e) if is_missing_database(&e) => steps.should_restore(Err(e))?,
        Err(e) => return Err(e),
    };
    if go_on {
        if !admin.database_exists(copy)? {
            return Err(Error::Invalid(format!(
                "the copy database {copy} is gone: it cannot be rolled back from it"
            )));
        }
        admin.drop_database(database)?;
        crate::fault::point("snapshot.dropped");
        admin.rename_database(copy, database)?;
        crate::fault::point("snapshot.restored");
    }
    let mut driver = PostgresDriver::with_config(config.clone())?;
    let driver: &mut dyn Driver = &mut driver;
    with_lock(driver, wait, |driver| steps.after_restore(driver))
}

fn is_missing_database(e: &Error) -> bool {
    matches!(e, Error::Driver { code: Some(code), .. } if code == NO_SUCH_DATABASE)
}

/// `DB_dacbak_HASH`, `DB` cut on a character boundary to fit PostgreSQL's names.
fn copy_name(database: &str, id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    fit(database, &format!("_dacbak_{hash}"))
}

impl PostgresDriver {
    /// A connection to the server's `postgres` maintenance database, for statements that act on
    /// whole databases (which cannot run connected to the database they act on).
    pub fn maintenance(&self) -> Result<PostgresDriver> {
        self.connect_sibling("postgres")
    }

    /// Whether a database of this name exists on the server.
    pub fn database_exists(&mut self, name: &str) -> Result<bool> {
        let sql = format!(
            "SELECT 1 FROM pg_database WHERE datname = '{}'",
            name.replace('\'', "''")
        );
        Ok(!self.query(&sql)?.is_empty())
    }

    /// `CREATE DATABASE to TEMPLATE from`; `from` must have no sessions.
    pub fn copy_database(&mut self, from: &str, to: &str) -> Result<()> {
        self.execute(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(to),
            quote_ident(from)
        ))
    }

    /// `DROP DATABASE IF EXISTS name WITH (FORCE)`: ends the database's sessions first.
    pub fn drop_database(&mut self, name: &str) -> Result<()> {
        self.execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
    }

    /// `ALTER DATABASE from RENAME TO to`; `from` must have no sessions.
    pub fn rename_database(&mut self, from: &str, to: &str) -> Result<()> {
        self.execute(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(from),
            quote_ident(to)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::copy_name;

    #[test]
    fn copy_names_fit_postgres() {
        let name = copy_name(&"x".repeat(80), "id");
        assert_eq!(name.len(), 63);
        assert!(name.contains("_dacbak_"));
        assert_eq!(copy_name("app", "id"), copy_name("app", "id"));
        assert_ne!(copy_name("app", "a"), copy_name("app", "b"));
    }
}
