//! Connection settings as libpq makes them: a `postgres://` URL or a `key=value` string, then
//! the `PG*` environment variables for what it leaves out, then the password file, then
//! libpq's defaults (and `application_name=dac`). Every parameter is one dac acts on; an
//! unknown or unsupported one is an error naming it, never dropped.
//!
//! [`resolve`] is pure apart from reading the password file and takes the environment as a
//! function, so it is tested without touching the process's environment; [`Settings::build`]
//! then makes the `postgres::Config` and the TLS connector ([`super::tls`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::driver::percent::{self, PercentDecodeError};
use crate::{Error, Result};

/// Parameters dac passes to the `postgres` crate as they are (it checks their values).
const PASSED: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "options",
    "application_name",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// Parameters dac reads itself.
const OWN: &[&str] = &[
    "passfile",
    "connect_timeout",
    "fallback_application_name",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
];

/// libpq parameters dac does not support: an error says so rather than "unknown".
const UNSUPPORTED: &[&str] = &[
    "service",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslcompression",
    "sslcertmode",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "require_auth",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "replication",
    "client_encoding",
    "keepalives_count",
];

/// The environment variables libpq reads and the parameter each supplies.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGHOSTADDR", "hostaddr"),
    ("PGPORT", "port"),
    ("PGDATABASE", "dbname"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGPASSFILE", "passfile"),
    ("PGOPTIONS", "options"),
    ("PGAPPNAME", "application_name"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGSSLCERT", "sslcert"),
    ("PGSSLKEY", "sslkey"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGTARGETSESSIONATTRS", "target_session_attrs"),
    ("PGCHANNELBINDING", "channel_binding"),
    ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
];

/// libpq variables that would change where or how securely dac connects and that dac does not
/// support: set, they are an error rather than ignored.
const UNSUPPORTED_ENVIRONMENT: &[&str] = &[
    "PGSERVICE",
    "PGREQUIRESSL",
    "PGREQUIREAUTH",
    "PGREQUIREPEER",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGSSLCERTMODE",
    "PGSSLNEGOTIATION",
    "PGSSLMINPROTOCOLVERSION",
    "PGSSLMAXPROTOCOLVERSION",
    "PGGSSENCMODE",
    "PGCLIENTENCODING",
    "PGDATESTYLE",
    "PGTZ",
    "PGGEQO",
];

/// What dac uses when neither the string nor the environment names an application.
pub(crate) const DEFAULT_APPLICATION_NAME: &str = "dac";

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// No TLS.
    Disable,
    /// Without TLS first; with TLS (not verified) when the server refuses that.
    Allow,
    /// With TLS (not verified) when the server offers it, else without.
    Prefer,
    /// With TLS; the certificate is not verified unless a root certificate is given.
    Require,
    /// With TLS; the chain is verified against the root certificate, not the host name.
    VerifyCa,
    /// With TLS; the chain and the host name are verified.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(invalid(format!(
                    "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )));
            }
        })
    }

    /// Whether the server's certificate is checked whatever the root file says.
    pub(crate) fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Where the server's root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// None: the certificate is not verified (allow, prefer, require).
    None,
    /// A PEM file (`sslrootcert`, or `~/.postgresql/root.crt` when it exists).
    File(PathBuf),
    /// The platform's trusted roots (`sslrootcert=system`).
    System,
}

/// The TLS part of the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    pub(crate) roots: Roots,
    /// A client certificate chain and its key (`sslcert`/`sslkey`).
    pub(crate) client: Option<(PathBuf, PathBuf)>,
}

/// The connection settings after the string, the environment, the password file and the
/// defaults: the parameters for the `postgres` crate and what dac does itself.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Parameters for the `postgres` crate ([`PASSED`]), with the defaults filled in.
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) tls: TlsSettings,
    pub(crate) connect_timeout: Option<Duration>,
    /// Said on success, added to the error on failure (an ignored password file).
    pub(crate) warnings: Vec<String>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), if k == "password" { "***" } else { v }))
            .collect();
        f.debug_struct("Resolved")
            .field("params", &shown)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Resolved {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

fn invalid(message: String) -> Error {
    Error::Invalid(format!("PostgreSQL connection: {message}"))
}

/// The parameters a connection string names, in libpq's spelling (`user`, `host`, `port`,
/// `dbname`, query parameters), unchecked; the password among them.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    for scheme in ["postgresql://", "postgres://"] {
        if lower.starts_with(scheme) {
            return parse_url(&trimmed[scheme.len()..]);
        }
    }
    parse_key_values(trimmed)
}

fn parse_url(rest: &str) -> Result<Vec<(String, String)>> {
    let mut params = Vec::new();
    let (main, query) = match rest.find('?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    let (authority, path) = match main.find('/') {
        Some(slash) => (&main[..slash], Some(&main[slash + 1..])),
        None => (main, None),
    };
    let (userinfo, hostspec) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.find(':') {
            Some(colon) => (&userinfo[..colon], Some(&userinfo[colon + 1..])),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            params.push(("user".into(), decode(user, "the user name")?));
        }
        if let Some(password) = password {
            params.push(("password".into(), decode(password, "the password")?));
        }
    }
    if !hostspec.is_empty() {
        let (mut hosts, mut ports) = (Vec::new(), Vec::new());
        for one in split_hosts(hostspec) {
            let (host, port) = if let Some(inner) = one.strip_prefix('[') {
                let close = inner
                    .find(']')
                    .ok_or_else(|| invalid(format!("unclosed [ in host {one:?}")))?;
                let after = &inner[close + 1..];
                let port = match after.strip_prefix(':') {
                    Some(port) => port,
                    None if after.is_empty() => "",
                    None => {
                        return Err(invalid(format!("unexpected {after:?} after host {one:?}")));
                    }
                };
                (&inner[..close], port)
            } else {
                match one.find(':') {
                    Some(colon) => (&one[..colon], &one[colon + 1..]),
                    None => (one, ""),
                }
            };
            hosts.push(decode(host, "a host")?);
            ports.push(decode(port, "a port")?);
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            params.push(("host".into(), hosts.join(",")));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            params.push(("port".into(), ports.join(",")));
        }
    }
    if let Some(path) = path
        && !path.is_empty()
    {
        params.push(("dbname".into(), decode(path, "the database name")?));
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| invalid(format!("URL parameter {pair:?} has no value (key=value)")))?;
        let key = decode(key, "a parameter name")?;
        let value = decode(value, "a parameter value")?;
        params.push((key, value));
    }
    Ok(params)
}

/// The comma-separated hosts of a URL (commas inside `[...]` belong to the address).
fn split_hosts(spec: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in spec.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&spec[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&spec[start..]);
    parts
}

/// Percent-decoding; `what` names the part for the error (never its text: it may be a
/// password).
fn decode(text: &str, what: &str) -> Result<String> {
    percent::percent_decode(text).map_err(|e| match e {
        PercentDecodeError::BadEscape => invalid(format!("invalid percent-encoding in {what}")),
        PercentDecodeError::NotUtf8 => invalid(format!("{what} is not UTF-8 once decoded")),
    })
}

/// libpq's `key = value` form: values may be single-quoted, `\` escapes the next character.
fn parse_key_values(text: &str) -> Result<Vec<(String, String)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut params = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            return Ok(params);
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        skip_ws(&mut i);
        if chars.get(i) != Some(&'=') {
            return Err(invalid(format!(
                "{key:?} is not key=value (a connection string is postgres://user@host:port/db or key=value pairs)"
            )));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = String::new();
        if chars.get(i) == Some(&'\'') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(invalid(format!("unterminated quoted value of {key}"))),
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') if i + 1 < chars.len() => {
                        value.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
        }
        params.push((key, value));
    }
}

/// The settings of a connection string: its parameters (each one checked), the environment
/// (`env` looks a variable up) for what it leaves out, the password file, then the defaults.
pub(crate) fn resolve(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Resolved> {
    // A parameter given twice: the last one counts, as in libpq.
    let mut params: BTreeMap<String, String> = checked(text)?.into_iter().collect();
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    for name in UNSUPPORTED_ENVIRONMENT {
        if env(name).is_some() {
            return Err(invalid(format!(
                "the environment variable {name} is set, and dac does not support it; unset it"
            )));
        }
    }
    for (name, key) in ENVIRONMENT {
        if !params.contains_key(*key)
            && let Some(value) = env(name)
        {
            params.insert((*key).to_string(), value);
        }
    }
    let home = env("HOME").map(PathBuf::from);
    let mut warnings = Vec::new();

    // Defaults, as libpq's: the Unix socket directory, port 5432, the OS user, a database named
    // after the user.
    if !params.contains_key("host") && !params.contains_key("hostaddr") {
        let socket_dir = if Path::new("/var/run/postgresql").is_dir() {
            "/var/run/postgresql"
        } else {
            "/tmp"
        };
        params.insert("host".into(), socket_dir.into());
    }
    if !params.contains_key("user") {
        params.insert("user".into(), crate::registry::current_user());
    }
    if !params.contains_key("dbname") {
        let user = params["user"].clone();
        params.insert("dbname".into(), user);
    }
    let fallback = params.remove("fallback_application_name");
    if !params.contains_key("application_name") {
        params.insert(
            "application_name".into(),
            fallback.unwrap_or_else(|| DEFAULT_APPLICATION_NAME.into()),
        );
    }

    let passfile = params.remove("passfile");
    if !params.contains_key("password") {
        let file = passfile
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".pgpass")));
        if let Some(file) = file
            && let Some(password) = password_from_file(&file, &params, &mut warnings)?
        {
            params.insert("password".into(), password);
        }
    }

    let connect_timeout = match params.remove("connect_timeout") {
        None => None,
        Some(value) => {
            let seconds: i64 = value.trim().parse().map_err(|_| {
                invalid(format!(
                    "connect_timeout {value:?} is not a number of seconds"
                ))
            })?;
            // libpq: zero or less waits forever; the least timeout is 2 seconds.
            (seconds > 0).then(|| Duration::from_secs(seconds.max(2).unsigned_abs()))
        }
    };

    let tls = tls_settings(&mut params, home.as_deref())?;
    Ok(Resolved {
        params,
        tls,
        connect_timeout,
        warnings,
    })
}

/// The parameters of a connection string, each one checked to be one dac acts on.
pub(crate) fn checked(text: &str) -> Result<Vec<(String, String)>> {
    let params = parse(text)?;
    for (key, _) in &params {
        if UNSUPPORTED.contains(&key.as_str()) {
            return Err(invalid(format!(
                "parameter {key} is not supported by dac; remove it"
            )));
        }
        if !PASSED.contains(&key.as_str()) && !OWN.contains(&key.as_str()) {
            return Err(invalid(format!(
                "unknown parameter {key}; dac understands {}",
                known_parameters()
            )));
        }
    }
    Ok(params)
}

fn known_parameters() -> String {
    let mut all: Vec<&str> = PASSED.iter().chain(OWN).copied().collect();
    all.sort_unstable();
    all.join(", ")
}

/// sslmode, the root certificates and the client certificate, with libpq's defaults
/// (`~/.postgresql/root.crt`, `postgresql.crt`, `postgresql.key` when they exist).
fn tls_settings(params: &mut BTreeMap<String, String>, home: Option<&Path>) -> Result<TlsSettings> {
    let explicit_mode = params.remove("sslmode");
    let rootcert = params.remove("sslrootcert");
    let sslcert = params.remove("sslcert");
    let sslkey = params.remove("sslkey");
    let default_file = |name: &str| {
        home.map(|h| h.join(".postgresql").join(name))
            .filter(|p| p.is_file())
    };
    let system = rootcert.as_deref() == Some("system");
    let mode = match explicit_mode.as_deref() {
        Some(mode) => SslMode::parse(mode)?,
        // libpq 16: sslrootcert=system makes verify-full the default.
        None if system => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    let roots = if system {
        if mode != SslMode::VerifyFull {
            return Err(invalid(format!(
                "sslmode {} may not be used with sslrootcert=system (use verify-full)",
                explicit_mode.unwrap_or_default()
            )));
        }
        Roots::System
    } else if let Some(file) = rootcert {
        let file = PathBuf::from(file);
        if !file.is_file() {
            return Err(invalid(format!(
                "root certificate file {} (sslrootcert) does not exist",
                file.display()
            )));
        }
        Roots::File(file)
    } else if let Some(file) = default_file("root.crt") {
        // libpq verifies with this file in every mode that uses TLS.
        Roots::File(file)
    } else if mode.verifies() {
        return Err(invalid(format!(
            "sslmode {} needs the server's root certificate: give sslrootcert=FILE (or sslrootcert=system for the platform's trusted roots), or place it in ~/.postgresql/root.crt",
            explicit_mode.unwrap_or_default()
        )));
    } else {
        Roots::None
    };
    let cert = match sslcert {
        Some(file) => {
            let file = PathBuf::from(file);
            if !file.is_file() {
                return Err(invalid(format!(
                    "client certificate file {} (sslcert) does not exist",
                    file.display()
                )));
            }
            Some(file)
        }
        None => default_file("postgresql.crt"),
    };
    let client = match (cert, sslkey) {
        (Some(cert), key) => {
            let key = key
                .map(PathBuf::from)
                .or_else(|| home.map(|h| h.join(".postgresql").join("postgresql.key")));
            let key = key.ok_or_else(|| {
                invalid("a client certificate (sslcert) needs its key (sslkey)".into())
            })?;
            if !key.is_file() {
                return Err(invalid(format!(
                    "private key file {} (sslkey) does not exist",
                    key.display()
                )));
            }
            check_private(&key, "private key file")?;
            Some((cert, key))
        }
        (None, Some(_)) => {
            return Err(invalid(
                "sslkey was given without a client certificate (sslcert)".into(),
            ));
        }
        (None, None) => None,
    };
    Ok(TlsSettings {
        mode,
        roots,
        client,
    })
}

/// libpq's rule for a private key: not readable by group or others (a file owned by root may
/// be readable by its group).
fn check_private(file: &Path, what: &str) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(file)
        .map_err(|e| invalid(format!("cannot read {what} {}: {e}", file.display())))?;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if meta.mode() & 0o777 & !allowed != 0 {
        return Err(invalid(format!(
            "{what} {} has group or world access; permissions should be u=rw (0600) or less",
            file.display()
        )));
    }
    Ok(())
}

/// The password for the first host of `params` from a libpq password file
/// (`hostname:port:database:username:password`, `*` matching anything, `\` escaping `:` and
/// `\`). A file others can read is ignored with a warning, as libpq does.
fn password_from_file(
    file: &Path,
    params: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Option<String>> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(file) else {
        return Ok(None);
    };
    if !meta.is_file() {
        warnings.push(format!(
            "password file {} is not a plain file; it was not read",
            file.display()
        ));
        return Ok(None);
    }
    if meta.mode() & 0o077 != 0 {
        warnings.push(format!(
            "password file {} has group or world access, so it was not read; permissions should be u=rw (0600) or less (chmod 0600 {})",
            file.display(),
            file.display()
        ));
        return Ok(None);
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| invalid(format!("cannot read password file {}: {e}", file.display())))?;
    let first = |key: &str| {
        params
            .get(key)
            .and_then(|v| v.split(',').next())
            .filter(|v| !v.is_empty())
    };
    // libpq matches a Unix socket connection as "localhost", a hostaddr-only one by address.
    let host = match first("host") {
        Some(h) if !h.starts_with('/') && !h.starts_with('@') => h.to_string(),
        Some(_) => "localhost".to_string(),
        None => first("hostaddr").unwrap_or("localhost").to_string(),
    };
    let port = first("port").unwrap_or("5432");
    let wanted = [
        host.as_str(),
        port,
        params.get("dbname").map_or("", String::as_str),
        params.get("user").map_or("", String::as_str),
    ];
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .find_map(|line| pgpass_match(line, &wanted)))
}

/// The password of one password-file line when its four fields match `wanted`.
fn pgpass_match(line: &str, wanted: &[&str; 4]) -> Option<String> {
    let mut rest = line.trim_end_matches('\r');
    for want in wanted {
        let (field, wildcard, after) = pgpass_field(rest)?;
        if !wildcard && field != *want {
            return None;
        }
        rest = after;
    }
    let mut password = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => password.extend(chars.next()),
            ':' => break,
            c => password.push(c),
        }
    }
    Some(password)
}

/// One field up to an unescaped `:`: its value, whether it is the wildcard `*`, and the rest
/// after the colon; `None` when the line ends first.
fn pgpass_field(text: &str) -> Option<(String, bool, &str)> {
    let mut value = String::new();
    let mut escaped_any = false;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                escaped_any = true;
                value.extend(chars.next().map(|(_, c)| c));
            }
            ':' => return Some((value.clone(), value == "*" && !escaped_any, &text[i + 1..])),
            c => value.push(c),
        }
    }
    None
}

/// The database a connection string names (or the environment and libpq's defaults supply).
pub(crate) fn database_of(text: &str) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok();
    resolve(text, &env)
        .ok()
        .and_then(|r| r.get("dbname").map(str::to_string))
}

/// The server a connection string reaches, as `host:port` (libpq's defaults filled in); `None`
/// when it cannot be resolved.
pub(crate) fn server_of(text: &str) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok();
    let resolved = resolve(text, &env).ok()?;
    let host = resolved.get("host").or_else(|| resolved.get("hostaddr"))?;
    Some(format!("{host}:{}", resolved.get("port").unwrap_or("5432")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn with_env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// The message `resolve` refuses `text` with.
    fn refusal(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
        resolve(text, env).unwrap_err().to_string()
    }

    #[test]
    fn urls_give_libpq_parameters() {
        let params = parse(
            "postgresql://us%40er:p%3Ass@db.example.com:6543,[::1]:7000,other/app%20db?sslmode=require&application_name=x",
        )
        .unwrap();
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("user"), Some("us@er"));
        assert_eq!(get("password"), Some("p:ss"));
        assert_eq!(get("host"), Some("db.example.com,::1,other"));
        assert_eq!(get("port"), Some("6543,7000,"));
        assert_eq!(get("dbname"), Some("app db"));
        assert_eq!(get("sslmode"), Some("require"));
        assert_eq!(get("application_name"), Some("x"));
        let socket = parse("postgres://%2Fvar%2Frun%2Fpostgresql/db").unwrap();
        assert_eq!(socket[0], ("host".into(), "/var/run/postgresql".into()));
        assert!(parse("postgres://h/db?sslmode").is_err());
        assert!(parse("postgres://h/db?x=%zz").is_err());
    }

    #[test]
    fn key_value_strings_follow_libpq_quoting() {
        let params =
            parse(r"host=h  port = 5433 password='it\'s a \\ secret' user=a\ b dbname=d").unwrap();
        assert_eq!(
            params,
            vec![
                ("host".into(), "h".into()),
                ("port".into(), "5433".into()),
                ("password".into(), r"it's a \ secret".into()),
                ("user".into(), "a b".into()),
                ("dbname".into(), "d".into()),
            ]
        );
        assert!(parse("host=h password='open").is_err());
        assert!(parse("host").is_err());
    }

    #[test]
    fn unknown_and_unsupported_parameters_are_named() {
        let err = refusal("postgres://u:s3cr3t@h/db?colour=blue", &no_env);
        assert!(err.contains("unknown parameter colour"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = refusal("postgres://u@h/db?sslcrl=/x", &no_env);
        assert!(err.contains("sslcrl is not supported"), "{err}");
        let err = refusal("postgres://u@h/db?sslmode=sometimes", &no_env);
        assert!(err.contains("sometimes"), "{err}");
        let err = refusal("postgres://u@h/db", &with_env(&[("PGSERVICE", "prod")]));
        assert!(err.contains("PGSERVICE"), "{err}");
    }

    #[test]
    fn the_environment_fills_what_the_url_leaves_out() {
        let env = with_env(&[
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpass"),
            ("PGDATABASE", "envdb"),
            ("PGAPPNAME", "envapp"),
            ("PGCONNECT_TIMEOUT", "1"),
            ("PGSSLMODE", "require"),
        ]);
        let r = resolve("postgres://urluser@urlhost/urldb?sslmode=disable", &env).unwrap();
        assert_eq!(r.get("host"), Some("urlhost"));
        assert_eq!(r.get("user"), Some("urluser"));
        assert_eq!(r.get("dbname"), Some("urldb"));
        assert_eq!(r.get("port"), Some("6000"));
        assert_eq!(r.get("password"), Some("envpass"));
        assert_eq!(r.get("application_name"), Some("envapp"));
        assert_eq!(r.tls.mode, SslMode::Disable);
        // libpq: the least timeout is two seconds.
        assert_eq!(r.connect_timeout, Some(Duration::from_secs(2)));
        let r = resolve("postgres://", &env).unwrap();
        assert_eq!(r.get("host"), Some("envhost"));
        assert_eq!(r.get("dbname"), Some("envdb"));
        assert_eq!(r.tls.mode, SslMode::Require);
    }

    #[test]
    fn defaults_are_libpqs_and_dac_names_itself() {
        let r = resolve("postgres://u@h", &no_env).unwrap();
        assert_eq!(r.get("dbname"), Some("u"));
        assert_eq!(r.get("application_name"), Some("dac"));
        assert_eq!(r.tls.mode, SslMode::Prefer);
        assert_eq!(r.tls.roots, Roots::None);
        assert_eq!(r.connect_timeout, None);
        let r = resolve("postgres://u@h?fallback_application_name=fb", &no_env).unwrap();
        assert_eq!(r.get("application_name"), Some("fb"));
        let r = resolve(
            "postgres://u@h?fallback_application_name=fb&application_name=an",
            &no_env,
        )
        .unwrap();
        assert_eq!(r.get("application_name"), Some("an"));
    }

    #[test]
    fn verified_modes_need_roots() {
        let err = refusal("postgres://u@h/db?sslmode=verify-ca", &no_env);
        assert!(err.contains("sslrootcert"), "{err}");
        let err = refusal(
            "postgres://u@h/db?sslrootcert=/nonexistent/root.crt",
            &no_env,
        );
        assert!(err.contains("/nonexistent/root.crt"), "{err}");
        let r = resolve("postgres://u@h/db?sslrootcert=system", &no_env).unwrap();
        assert_eq!(
            (r.tls.mode, r.tls.roots),
            (SslMode::VerifyFull, Roots::System)
        );
        assert!(
            resolve(
                "postgres://u@h/db?sslrootcert=system&sslmode=require",
                &no_env
            )
            .is_err()
        );
    }

    fn pgpass(text: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, file)
    }

    #[test]
    fn password_files_match_as_libpqs() {
        let (_dir, file) = pgpass(
            "# comment\n\
             other:5432:*:u:wrong\n\
             h:5432:db:u\\:x:escaped\n\
             h:*:*:u:right\\:colon\\\\\n\
             *:*:*:*:fallback\n",
            0o600,
        );
        let env = with_env(&[("PGPASSFILE", file.to_str().unwrap())]);
        let r = resolve("postgres://u@h/db", &env).unwrap();
        assert_eq!(r.get("password"), Some("right:colon\\"));
        let r = resolve("postgres://u%3Ax@h/db", &env).unwrap();
        assert_eq!(r.get("password"), Some("escaped"));
        let r = resolve("postgres://v@/db?host=/tmp", &env).unwrap();
        assert_eq!(r.get("password"), Some("fallback"));
        // The URL's password wins over the file.
        let r = resolve("postgres://u:given@h/db", &env).unwrap();
        assert_eq!(r.get("password"), Some("given"));
        // passfile in the URL wins over PGPASSFILE.
        let (_other, second) = pgpass("*:*:*:*:second\n", 0o600);
        let url = format!("postgres://u@h/db?passfile={}", second.display());
        assert_eq!(resolve(&url, &env).unwrap().get("password"), Some("second"));
        // A literal \* is not a wildcard.
        let (_d, literal) = pgpass("\\*:*:*:*:star\n", 0o600);
        let env = with_env(&[("PGPASSFILE", literal.to_str().unwrap())]);
        assert_eq!(
            resolve("postgres://u@h/db", &env).unwrap().get("password"),
            None
        );
        assert_eq!(
            resolve("postgres://u@*/db", &env).unwrap().get("password"),
            Some("star")
        );
    }

    #[test]
    fn readable_password_files_are_ignored_with_a_warning() {
        let (_dir, file) = pgpass("*:*:*:*:secret\n", 0o644);
        let env = with_env(&[("PGPASSFILE", file.to_str().unwrap())]);
        let r = resolve("postgres://u@h/db", &env).unwrap();
        assert_eq!(r.get("password"), None);
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0].contains("group or world access"),
            "{:?}",
            r.warnings
        );
        assert!(!format!("{r:?}").contains("secret"));
    }

    #[test]
    fn the_home_directory_supplies_libpqs_files() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let dot = home.path().join(".postgresql");
        std::fs::create_dir(&dot).unwrap();
        std::fs::write(dot.join("root.crt"), "x").unwrap();
        std::fs::write(dot.join("postgresql.crt"), "x").unwrap();
        std::fs::write(dot.join("postgresql.key"), "x").unwrap();
        std::fs::set_permissions(
            dot.join("postgresql.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let env = with_env(&[("HOME", home.path().to_str().unwrap())]);
        let err = refusal("postgres://u@h/db", &env);
        assert!(err.contains("group or world access"), "{err}");
        std::fs::set_permissions(
            dot.join("postgresql.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let r = resolve("postgres://u@h/db?sslmode=require", &env).unwrap();
        assert_eq!(r.tls.roots, Roots::File(dot.join("root.crt")));
        assert_eq!(
            r.tls.client,
            Some((dot.join("postgresql.crt"), dot.join("postgresql.key")))
        );
    }
}
