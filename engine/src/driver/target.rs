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
        Err(Error::Invalid(format!(
            "not a target connection string: {}; use sqlite:PATH, a .db/.sqlite file, postgres://user@host:port/db, or a SQL Server connection string (Server=tcp:host,1433;Database=db;User Id=u;Password=p, or sqlserver://user@host:1433/db)",
            redact(text)
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

/// A connection string with any password replaced by `***`: the `user:password@` part of a
/// URL, `password=` key-value pairs, and ADO.NET `Password=`/`Pwd=`.
pub fn redact(text: &str) -> String {
    let lower = text.trim_start().to_ascii_lowercase();
    if !lower.contains("://")
        && super::sqlserver::config::is_sqlserver(text)
        && let Some(shown) = super::sqlserver::config::redact_ado(text)
    {
        return shown;
    }
    let mut out = text.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |p| rest_start + p);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                let end = rest_start + at;
                out.replace_range(start..end, "***");
            }
        }
    }
    // A URL's query parameters by their decoded names (`pass%77ord=` is `password=`).
    if let (Some(scheme_end), Some(q)) = (out.find("://"), out.find('?'))
        && scheme_end < q
    {
        let query: Vec<String> = out[q + 1..]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_password_key(&percent_decoded(key)) => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{}?{}", &out[..q], query.join("&"));
    }
    // key=value forms (query strings, libpq and ADO.NET strings; libpq allows spaces around =).
    let mut result = String::with_capacity(out.len());
    let lower = out.to_ascii_lowercase();
    let mut idx = 0;
    while idx < out.len() {
        let rest = &lower[idx..];
        let key = ["password", "pwd"]
            .iter()
            .filter(|k| {
                rest.starts_with(*k)
                    && (idx == 0
                        || matches!(lower.as_bytes()[idx - 1], b';' | b'&' | b'?' | b' ' | b'\t'))
            })
            .find_map(|k| {
                let after = &rest[k.len()..];
                let spaces = after.len() - after.trim_start().len();
                let after = after.trim_start().strip_prefix('=')?;
                let more = after.len() - after.trim_start().len();
                Some(k.len() + spaces + 1 + more)
            });
        if let Some(key_len) = key {
            result.push_str(&out[idx..idx + key_len]);
            idx += key_len;
            // A quoted value ends at its closing quote; an unclosed one runs to the end.
            let end = match out[idx..].chars().next() {
                Some(q @ ('"' | '\'' | '{')) => {
                    let close = if q == '{' { '}' } else { q };
                    out[idx + 1..]
                        .find(close)
                        .map_or(out.len(), |p| idx + 1 + p + 1)
                }
                _ => out[idx..]
                    .find([';', '&', ' ', '\t'])
                    .map_or(out.len(), |p| idx + p),
            };
            result.push_str("***");
            idx = end;
        } else {
            let c = out[idx..].chars().next().unwrap_or(' ');
            result.push(c);
            idx += c.len_utf8();
        }
    }
    result
}

fn is_password_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("pwd")
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
        let target = Target::parse("postgres://u:s3cr3t@localhost/app").unwrap();
        assert!(!format!("{target} {target:?}").contains("s3cr3t"));
        let err = Target::parse("mysql://u:s3cr3t@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
