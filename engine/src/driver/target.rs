//! Targets: connection strings naming a live database. Passwords never leave this module in
//! anything printable: [`Target`]'s `Display` redacts them.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::Platform;
use crate::{Error, Result};

/// A live database to act on.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite database file (`sqlite:PATH`, or a bare path ending in .db/.sqlite/.sqlite3).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL database (`postgres://user:pass@host:port/db`).
    Postgres {
        /// The URL as given (with the password; never printed).
        url: String,
    },
    /// A SQL Server database: an ADO.NET connection string
    /// (`Server=tcp:host,1433;Database=app;User Id=u;Password=p;Encrypt=true`) or a
    /// `sqlserver://user:password@host:1433/app` URL.
    SqlServer {
        /// The connection string as given (with the password; never printed).
        conn: String,
    },
}

impl Target {
    /// Parses a connection string.
    pub fn parse(text: &str) -> Result<Target> {
        let lower = text.to_ascii_lowercase();
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(Error::Invalid("sqlite: target has no file path".into()));
            }
            return Ok(Target::Sqlite { path: path.into() });
        }
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            // Checked now so an unknown parameter fails before anything else happens.
            super::postgres::check_connection_string(text)?;
            return Ok(Target::Postgres {
                url: text.to_string(),
            });
        }
        if super::sqlserver::config::is_sqlserver(text) {
            // Parsed now so a bad string fails before anything else happens.
            super::sqlserver::config::ConnectionConfig::parse(text)?;
            return Ok(Target::SqlServer {
                conn: text.to_string(),
            });
        }
        if [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        {
            return Ok(Target::Sqlite { path: text.into() });
        }
        // key=value text that is not a connection string may still hold a password that no
        // rule can find (`Password s3cr3t`): it is not echoed.
        let shown = if text.contains('=') {
            "this key=value text".to_string()
        } else {
            redact(text)
        };
        Err(Error::Invalid(format!(
            "not a target connection string: {shown}; use sqlite:PATH, a .db/.sqlite file, postgres://user@host:port/db, or a SQL Server connection string (Server=tcp:host,1433;Database=db;User Id=u;Password=p, or sqlserver://user@host:1433/db)"
        )))
    }

    /// The platform of the target.
    pub fn platform(&self) -> Platform {
        match self {
            Target::Sqlite { .. } => Platform::Sqlite,
            Target::Postgres { .. } => Platform::Postgres,
            Target::SqlServer { .. } => Platform::SqlServer,
        }
    }

    /// The database's name: the file name for SQLite, the database for PostgreSQL.
    pub fn database_name(&self) -> String {
        match self {
            Target::Sqlite { path } => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            // As the connection resolves it: the URL, else PGDATABASE, else the user name.
            Target::Postgres { url } => super::postgres::database_of(url).unwrap_or_default(),
            Target::SqlServer { conn } => super::sqlserver::config::ConnectionConfig::parse(conn)
                .ok()
                .and_then(|c| c.database)
                .unwrap_or_default(),
        }
    }
}

impl Target {
    /// The server the database lives on, for limits per server (a rollout's `max_per_server`):
    /// `host:port` as the connection resolves it (PostgreSQL with libpq's defaults, SQL Server
    /// with its named instance). Every SQLite file counts as the one local server
    /// [`LOCAL_FILES`]: their upgrades share this machine's disk.
    pub fn server(&self) -> String {
        match self {
            Target::Sqlite { .. } => LOCAL_FILES.to_string(),
            Target::Postgres { url } => {
                super::postgres::server_of(url).unwrap_or_else(|| redact(url))
            }
            Target::SqlServer { conn } => {
                match super::sqlserver::config::ConnectionConfig::parse(conn) {
                    Ok(c) => match &c.instance {
                        Some(instance) => format!("{}\\{instance}:{}", c.host, c.port),
                        None => format!("{}:{}", c.host, c.port),
                    },
                    Err(_) => redact(conn),
                }
            }
        }
    }

    /// The connection string with its password, for a process dac starts on the target's
    /// behalf (a rollout's health command); never for printing.
    pub fn connection_string(&self) -> String {
        match self {
            Target::Sqlite { path } => format!("sqlite:{}", path.display()),
            Target::Postgres { url } => url.clone(),
            Target::SqlServer { conn } => conn.clone(),
        }
    }

    /// The target with a relative database file path taken from `folder` (a file that names
    /// targets is read from its own folder); server targets unchanged.
    #[must_use]
    pub fn relative_to(self, folder: &Path) -> Target {
        match self {
            Target::Sqlite { path } if path.is_relative() && !path.as_os_str().is_empty() => {
                Target::Sqlite {
                    path: folder.join(path),
                }
            }
            other => other,
        }
    }
}

/// The server every SQLite file counts as (see [`Target::server`]).
pub const LOCAL_FILES: &str = "local files";

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Sqlite { path } => write!(f, "sqlite:{}", path.display()),
            Target::Postgres { url } => f.write_str(&redact(url)),
            Target::SqlServer { conn } => f.write_str(&redact(conn)),
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

/// Text with every password in it replaced by `***`, wherever connection strings appear in it
/// (a whole connection string, an error message or a file snippet quoting several): the
/// `user:password@` of every URL, and every `password=`/`pwd=`/`sslpassword=` pair (URL
/// query parameters by their decoded names, libpq keyword strings, ADO.NET strings).
pub fn redact(text: &str) -> String {
    let lower = text.trim_start().to_ascii_lowercase();
    if !lower.contains("://")
        && super::sqlserver::config::is_sqlserver(text)
        && let Some(shown) = super::sqlserver::config::redact_ado(text)
    {
        return shown;
    }
    redact_password_pairs(&redact_url_passwords(text))
}

/// The password of every URL's user info: each URL runs from its `://` to whitespace or a
/// quote, its user info to the last `@` before the query (a password may hold `/` or `@`).
fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme_end + 3);
        out.push_str(head);
        let url_end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(tail.len());
        let url = &tail[..url_end];
        let before_query = url.find(['?', '#']).map_or(url, |q| &url[..q]);
        match before_query.rfind('@').and_then(|at| {
            let colon = before_query[..at].find(':')?;
            Some((colon, at))
        }) {
            Some((colon, at)) => {
                out.push_str(&url[..=colon]);
                out.push_str("***");
                out.push_str(&url[at..]);
            }
            None => out.push_str(url),
        }
        rest = &tail[url_end..];
    }
    out.push_str(rest);
    out
}

/// `password=VALUE` pairs, whatever separates them (`;`, `&`, spaces, quotes, start of text),
/// with spaces allowed around `=` (libpq) and a quoted value ending at its closing quote.
fn redact_password_pairs(text: &str) -> String {
    let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'%';
    let bytes = text.as_bytes();
    let mut result = String::with_capacity(text.len());
    let mut idx = 0;
    while idx < text.len() {
        if !is_key_byte(bytes[idx]) || (idx > 0 && is_key_byte(bytes[idx - 1])) {
            let c = text[idx..].chars().next().unwrap_or(' ');
            result.push(c);
            idx += c.len_utf8();
            continue;
        }
        let key_end = text[idx..]
            .bytes()
            .position(|b| !is_key_byte(b))
            .map_or(text.len(), |p| idx + p);
        let value_start = is_password_key(&percent_decoded(&text[idx..key_end]))
            .then(|| {
                let after = &text[key_end..];
                let after_eq = after.trim_start_matches([' ', '\t']).strip_prefix('=')?;
                let value = after_eq.trim_start_matches([' ', '\t']);
                Some(text.len() - value.len())
            })
            .flatten();
        let Some(value_start) = value_start else {
            result.push_str(&text[idx..key_end]);
            idx = key_end;
            continue;
        };
        result.push_str(&text[idx..value_start]);
        // A quoted value ends at its closing quote; an unclosed one runs to the end.
        let end = match text[value_start..].chars().next() {
            Some(q @ ('"' | '\'' | '{')) => {
                let close = if q == '{' { '}' } else { q };
                text[value_start + 1..]
                    .find(close)
                    .map_or(text.len(), |p| value_start + 1 + p + 1)
            }
            _ => text[value_start..]
                .find(|c: char| c == ';' || c == '&' || c.is_whitespace())
                .map_or(text.len(), |p| value_start + p),
        };
        result.push_str("***");
        idx = end;
    }
    result
}

fn is_password_key(key: &str) -> bool {
    ["password", "pwd", "sslpassword"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
}

/// `%XX` decoded, for recognising names; undecodable text stays as it is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(byte) = hex {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(
            Target::parse("sqlite:/tmp/a.db").unwrap(),
            Target::Sqlite {
                path: "/tmp/a.db".into()
            }
        );
        assert_eq!(
            Target::parse("data/app.sqlite").unwrap().platform(),
            Platform::Sqlite
        );
        let err = Target::parse("postgres://u:s3cr3t@h/db?sslmode=require&colour=blue")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let pg = Target::parse("postgres://u:secret@localhost:5432/app").unwrap();
        assert_eq!(pg.platform(), Platform::Postgres);
        assert_eq!(pg.database_name(), "app");
        assert!(Target::parse("mysql://x").is_err());
        let ms = Target::parse("Server=tcp:h,1433;Database=Shop;User Id=sa;Password=p").unwrap();
        assert_eq!(ms.platform(), Platform::SqlServer);
        assert_eq!(ms.database_name(), "Shop");
        let ms = Target::parse("sqlserver://sa:p@h:1433/Shop?trustServerCertificate=true").unwrap();
        assert_eq!(ms.platform(), Platform::SqlServer);
        assert_eq!(ms.database_name(), "Shop");
        let err = Target::parse("Server=h;Pwd=s3cr3t;Colour=blue")
            .unwrap_err()
            .to_string();
        assert!(err.contains("Colour"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn passwords_never_print() {
        for text in [
            "postgres://u:s3cr3t@localhost:5432/app",
            "postgresql://u:s3cr3t@h/db?sslmode=disable",
            "postgres://u@h/db?password=s3cr3t&x=1",
            "host=h user=u password=s3cr3t dbname=d",
            "host=h user=u password = 's3cr3t' dbname=d",
            "host=h user=u\tpassword=s3cr3t",
            "postgres://u@h/db?sslmode=require&pass%77ord=s3cr3t",
            "postgres://u@h/db?PASSWORD=s3cr3t",
            "Server=tcp:h,1433;User Id=sa;Password=s3cr3t;Encrypt=true",
            "Server=h;Pwd=s3cr3t",
            "Server=h;Password=\"s3cr3t;s3cr3t",
            "Server=h;Password={s3cr3t s3cr3t",
        ] {
            let shown = redact(text);
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        for text in [
            "Server=tcp:h,1433;User Id=sa;Password=\"s3;cr3t\";Encrypt=true",
            "Server=h;Password={s3cr3t;x}",
            "sqlserver://sa:s3cr3t@h:1433/db",
            "sqlserver://sa@h:1433/db?password=s3cr3t",
        ] {
            let target = Target::parse(text).unwrap();
            let shown = format!("{target} {target:?} {}", redact(text));
            assert!(!shown.contains("cr3t"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        // Text quoting several connection strings (an error message, a file's line).
        let shown = redact(
            "targets = [\"postgres://u:s3cr3t@h/a\", 'postgres://v:s3cr3t@h/b', mysql://w:pa/s3cr3t@h/c \"Password=s3cr3t;Server=h\" (sslpassword=s3cr3t)]",
        );
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(shown.matches("***").count(), 5, "{shown}");
        // Words that merely contain a key are left alone.
        assert_eq!(redact("mypassword=x"), "mypassword=x");
        let target = Target::parse("postgres://u:s3cr3t@localhost/app").unwrap();
        assert!(!format!("{target} {target:?}").contains("s3cr3t"));
        let err = Target::parse("mysql://u:s3cr3t@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
