//! Opening connections: [`Settings`] is a resolved connection string ([`super::conninfo`]) as
//! a `postgres::Config` plus the TLS connector its `sslmode` needs ([`super::tls`]).

use postgres::config::{Host, SslMode as WireMode};
use postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conninfo::{self, Resolved, SslMode};
use super::tls;
use crate::{Error, Result};

/// How to connect to one database of a server; cloned (and renamed) for its other databases.
#[derive(Clone)]
pub(crate) struct Settings {
    config: Config,
    mode: SslMode,
    /// `None` for `sslmode=disable` and for Unix sockets (libpq uses no TLS there).
    tls: Option<MakeRustlsConnect>,
    /// An ignored password file: said on success, added to the error on failure.
    pub(crate) warnings: Vec<String>,
}

impl Settings {
    /// The settings of a connection string, with the process's environment.
    pub(crate) fn from_string(text: &str) -> Result<Settings> {
        let env = |name: &str| std::env::var(name).ok();
        Settings::build(conninfo::resolve(text, &env)?)
    }

    pub(crate) fn build(resolved: Resolved) -> Result<Settings> {
        // The postgres crate checks each value (ports, hosts, timeouts) as it parses them.
        let text = resolved
            .params
            .iter()
            .map(|(key, value)| {
                format!(
                    "{key}='{}'",
                    value.replace('\\', "\\\\").replace('\'', "\\'")
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        // Its errors name the parameter, never the value (a password cannot fail to parse).
        let mut config: Config = text.parse().map_err(|e: postgres::Error| {
            let cause = std::error::Error::source(&e).map_or(String::new(), |s| format!(": {s}"));
            Error::Invalid(format!("PostgreSQL connection: {e}{cause}"))
        })?;
        if let Some(timeout) = resolved.connect_timeout {
            config.connect_timeout(timeout);
        }
        let unix_only = config.get_hostaddrs().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|h| matches!(h, Host::Unix(_)));
        let mode = if unix_only {
            SslMode::Disable
        } else {
            resolved.tls.mode
        };
        config.ssl_mode(match mode {
            SslMode::Disable | SslMode::Allow => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
        });
        let tls = if mode == SslMode::Disable {
            None
        } else {
            Some(MakeRustlsConnect::new(tls::client_config(&resolved.tls)?))
        };
        Ok(Settings {
            config,
            mode,
            tls,
            warnings: resolved.warnings,
        })
    }

    /// Opens a session. `allow` tries without TLS first and again with TLS when the server
    /// refuses the session (libpq's order). `connect_timeout` bounds the whole of it, as libpq's
    /// does (the `postgres` crate bounds only the TCP connect): for each host in turn, and for
    /// each of allow's two tries.
    pub(crate) fn connect(&self) -> std::result::Result<Client, Failure> {
        let Some(timeout) = self.config.get_connect_timeout().copied() else {
            return self.connect_now().map_err(Failure::Postgres);
        };
        let tries = self
            .config
            .get_hosts()
            .len()
            .max(self.config.get_hostaddrs().len())
            .max(1)
            * if self.mode == SslMode::Allow { 2 } else { 1 };
        let limit = timeout * u32::try_from(tries).unwrap_or(u32::MAX);
        let (sender, receiver) = std::sync::mpsc::channel();
        let settings = self.clone();
        // A session that never answers keeps this thread until the OS gives up on its socket;
        // the caller has its error by then.
        std::thread::spawn(move || {
            let _ = sender.send(settings.connect_now());
        });
        match receiver.recv_timeout(limit) {
            Ok(result) => result.map_err(Failure::Postgres),
            Err(_) => Err(Failure::TimedOut(limit)),
        }
    }

    fn connect_now(&self) -> std::result::Result<Client, postgres::Error> {
        match &self.tls {
            None => self.config.connect(NoTls),
            Some(tls) if self.mode == SslMode::Allow => match self.config.connect(NoTls) {
                Err(refused) if refused.as_db_error().is_some() => {
                    let mut config = self.config.clone();
                    config.ssl_mode(WireMode::Require);
                    config.connect(tls.clone())
                }
                other => other,
            },
            Some(tls) => self.config.connect(tls.clone()),
        }
    }

    pub(crate) fn dbname(&mut self, name: &str) -> &mut Settings {
        self.config.dbname(name);
        self
    }

    pub(crate) fn get_dbname(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    pub(crate) fn get_user(&self) -> Option<&str> {
        self.config.get_user()
    }
}

/// Why a session could not be opened.
pub(crate) enum Failure {
    /// The server or the network said no.
    Postgres(postgres::Error),
    /// No session within `connect_timeout` (this long in all).
    TimedOut(std::time::Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_reach_the_config_unchanged() {
        let env = |_: &str| None;
        let resolved = conninfo::resolve(
            r"host=h port=5433 user='o\'neil' password='a b\\c' dbname=d sslmode=disable connect_timeout=7",
            &env,
        )
        .unwrap();
        let settings = Settings::build(resolved).unwrap();
        let config = &settings.config;
        assert_eq!(config.get_user(), Some("o'neil"));
        assert_eq!(config.get_password(), Some(&b"a b\\c"[..]));
        assert_eq!(config.get_ports(), &[5433]);
        assert_eq!(config.get_application_name(), Some("dac"));
        assert_eq!(
            config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(7))
        );
        assert_eq!(config.get_ssl_mode(), WireMode::Disable);
        assert!(settings.tls.is_none());
    }

    #[test]
    fn unix_sockets_use_no_tls_and_tcp_prefers_it() {
        let env = |_: &str| None;
        let socket =
            Settings::build(conninfo::resolve("host=/tmp user=u sslmode=require", &env).unwrap())
                .unwrap();
        assert!(socket.tls.is_none());
        let tcp =
            Settings::build(conninfo::resolve("host=localhost user=u", &env).unwrap()).unwrap();
        assert!(tcp.tls.is_some());
        assert_eq!(tcp.config.get_ssl_mode(), WireMode::Prefer);
    }

    /// The message `Settings::build` refuses `conninfo` with (empty when it is accepted).
    fn build_error(conninfo: &str) -> String {
        conninfo::resolve(conninfo, &|_: &str| None)
            .and_then(Settings::build)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn bad_values_are_named_without_the_password() {
        let err = build_error("postgres://u:s3cr3t@h:notaport/db");
        assert!(err.contains("port"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = build_error("postgres://u@h/db?keepalives=often");
        assert!(err.contains("keepalives"), "{err}");
    }
}
