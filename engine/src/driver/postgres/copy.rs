//! Copies of a whole database on the same server, kept by a rollout before an in-place upgrade so
//! it can be undone: `CREATE DATABASE copy TEMPLATE db`, which PostgreSQL only allows while no
//! other session is connected to `db` (it fails with SQLSTATE 55006 otherwise).
//!
//! Database-level settings (`ALTER DATABASE ... SET`), grants on the database and its owner are
//! not part of a template copy: a restored database is owned by the user that restored it.

use super::{PostgresDriver, quote_ident};
use crate::Result;
use crate::driver::Driver;

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
