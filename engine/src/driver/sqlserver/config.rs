//! SQL Server connection strings: ADO.NET (`Server=tcp:host,1433;Database=app;User Id=sa;
//! Password=...;Encrypt=true;TrustServerCertificate=false`) and URLs
//! (`sqlserver://user:password@host:1433/app?encrypt=true&trustServerCertificate=true`),
//! parsed into a [`ConnectionConfig`] without any IO, so parsing, defaults and redaction are
//! tested offline. The password lives in a [`Secret`] whose `Debug` never shows it.

use std::fmt;
use std::time::Duration;

use crate::driver::percent::{self, PercentDecodeError};
use crate::{Error, Result};

/// A password: `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// The password itself, for the login only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    /// TLS for the whole session (`Encrypt=true`, the default).
    On,
    /// TDS 8 strict mode: TLS before the first TDS packet (`Encrypt=strict`).
    Strict,
    /// Only the login packet is encrypted (`Encrypt=false`, as ADO.NET does).
    Off,
}

/// The environment variable an `Authentication=ActiveDirectoryAccessToken` connection takes its
/// Microsoft Entra ID (Azure AD) access token from: a token is a secret, kept off the command
/// line and out of connection strings.
pub const ACCESS_TOKEN_VARIABLE: &str = "DAC_SQLSERVER_ACCESS_TOKEN";

/// How the login proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// SQL authentication: User Id and Password (the default).
    SqlPassword,
    /// A Microsoft Entra ID access token from [`ACCESS_TOKEN_VARIABLE`]
    /// (`Authentication=ActiveDirectoryAccessToken`, Azure SQL).
    AccessToken,
}

impl Authentication {
    /// The `Authentication` keyword's value; the methods that need a browser, a Windows
    /// identity or a credential flow dac does not run are an error saying what works instead.
    fn parse(value: &str) -> Result<Authentication> {
        let key: String = value
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        match key.as_str() {
            "sqlpassword" => Ok(Authentication::SqlPassword),
            "activedirectoryaccesstoken" => Ok(Authentication::AccessToken),
            _ => Err(invalid(format!(
                "Authentication={value} is not supported: use SqlPassword (User Id and Password), or ActiveDirectoryAccessToken with a Microsoft Entra ID token in ${ACCESS_TOKEN_VARIABLE} (for example from `az account get-access-token --resource https://database.windows.net/ --query accessToken -o tsv`)"
            ))),
        }
    }

    /// The access token from `lookup` (the environment), for [`Authentication::AccessToken`];
    /// an error names the variable, never a value.
    pub fn access_token(lookup: impl Fn(&str) -> Option<String>) -> Result<Secret> {
        match lookup(ACCESS_TOKEN_VARIABLE).map(|t| t.trim().to_string()) {
            Some(token) if !token.is_empty() => Ok(Secret(token)),
            _ => Err(invalid(format!(
                "Authentication=ActiveDirectoryAccessToken takes the token from ${ACCESS_TOKEN_VARIABLE}, which is not set"
            ))),
        }
    }
}

/// A parsed SQL Server connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Host name or address.
    pub host: String,
    /// TCP port (1433 unless given).
    pub port: u16,
    /// Named instance (`host\instance`), when given with an explicit port.
    pub instance: Option<String>,
    /// The database; `None` means the login's default database.
    pub database: Option<String>,
    /// SQL login name.
    pub user: Option<String>,
    /// SQL login password.
    pub password: Secret,
    /// How the login authenticates.
    pub authentication: Authentication,
    /// Encryption; on unless the string says otherwise.
    pub encrypt: Encrypt,
    /// Accept any server certificate (`TrustServerCertificate=true`).
    pub trust_server_certificate: bool,
    /// Host name expected in the server certificate.
    pub host_name_in_certificate: Option<String>,
    /// Application name shown in `sys.dm_exec_sessions`.
    pub application_name: String,
    /// How long to wait for the TCP connection and login.
    pub connect_timeout: Duration,
    /// Per-response command timeout; `None` (the default) waits as long as a statement runs.
    pub command_timeout: Option<Duration>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            host: "localhost".into(),
            port: 1433,
            instance: None,
            database: None,
            user: None,
            password: Secret::default(),
            authentication: Authentication::SqlPassword,
            encrypt: Encrypt::On,
            trust_server_certificate: false,
            host_name_in_certificate: None,
            application_name: "dac".into(),
            connect_timeout: Duration::from_secs(15),
            command_timeout: None,
        }
    }
}

/// Whether `text` looks like a SQL Server connection string (URL or ADO.NET key-value form).
pub fn is_sqlserver(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("sqlserver://") || lower.starts_with("mssql://") {
        return true;
    }
    if !lower.contains('=') {
        return false;
    }
    split_pairs(text).is_ok_and(|pairs| {
        pairs.iter().any(|(k, _)| {
            matches!(
                normalize_key(k).as_str(),
                "server" | "data source" | "address" | "addr" | "network address"
            )
        })
    })
}

fn normalize_key(key: &str) -> String {
    key.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

/// Splits `key=value;key2="va;lue"` into pairs. Values may be quoted with `"`, `'` (doubled
/// to escape) or `{}`; keys are kept as written.
fn split_pairs(text: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i] == ';' || chars[i].is_whitespace()) {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' && chars[i] != ';' {
            i += 1;
        }
        let key: String = chars[start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_string();
        if i >= chars.len() || chars[i] != '=' {
            // Not the text itself: it may be a password whose key was mistyped.
            return Err(invalid(format!(
                "part {} of the connection string has no `=` (expected key=value pairs separated by ;)",
                pairs.len() + 1
            )));
        }
        i += 1;
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let value = match chars.get(i) {
            Some(&q @ ('"' | '\'' | '{')) => {
                let close = if q == '{' { '}' } else { q };
                i += 1;
                let mut value = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(invalid(format!(
                                "the value of connection string keyword {key:?} has no closing {close}"
                            )));
                        }
                        Some(&c) if c == close => {
                            if chars.get(i + 1) == Some(&close) {
                                value.push(close);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&c) => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                while i < chars.len() && chars[i] != ';' {
                    if !chars[i].is_whitespace() {
                        return Err(invalid(format!(
                            "unexpected text after the quoted value of {key:?}"
                        )));
                    }
                    i += 1;
                }
                value
            }
            _ => {
                let start = i;
                while i < chars.len() && chars[i] != ';' {
                    i += 1;
                }
                chars[start..i]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .to_string()
            }
        };
        if key.is_empty() {
            return Err(invalid("connection string has a value without a keyword"));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "sspi" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(invalid(format!(
            "{key} must be true or false, not {value:?}"
        ))),
    }
}

fn parse_encrypt(value: &str) -> Result<Encrypt> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "mandatory" => Ok(Encrypt::On),
        "strict" => Ok(Encrypt::Strict),
        "false" | "no" | "0" | "optional" => Ok(Encrypt::Off),
        _ => Err(invalid(format!(
            "Encrypt must be true, false or strict, not {value:?}"
        ))),
    }
}

fn parse_seconds(key: &str, value: &str) -> Result<u64> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| invalid(format!("{key} must be a number of seconds, not {value:?}")))
}

/// `tcp:host,port`, `host\instance`, `host,port`, `(local)`, `.`.
fn parse_server(config: &mut ConnectionConfig, value: &str) -> Result<()> {
    let mut rest = value.trim();
    for prefix in ["tcp:", "TCP:", "Tcp:"] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r;
        }
    }
    if rest.to_ascii_lowercase().starts_with("np:") || rest.to_ascii_lowercase().starts_with("lpc:")
    {
        return Err(invalid(
            "only TCP connections are supported (no named pipes or shared memory)",
        ));
    }
    let (host_part, port) = match rest.rsplit_once(',') {
        Some((h, p)) => {
            let port = p
                .trim()
                .parse::<u16>()
                .map_err(|_| invalid(format!("not a port number in Server: {p:?}")))?;
            (h.trim(), Some(port))
        }
        None => (rest, None),
    };
    let (host, instance) = match host_part.split_once('\\') {
        Some((h, i)) => (h, Some(i.to_string())),
        None => (host_part, None),
    };
    let host = match host {
        "." | "(local)" | "" => "localhost",
        h => h,
    };
    if instance.is_some() && port.is_none() {
        return Err(invalid(format!(
            "named instance {host_part:?} needs a port (Server=host\\instance,PORT): SQL Browser lookups are not supported"
        )));
    }
    config.host = host.to_string();
    config.port = port.unwrap_or(1433);
    config.instance = instance;
    Ok(())
}

impl ConnectionConfig {
    /// Parses an ADO.NET connection string or a `sqlserver://` URL.
    pub fn parse(text: &str) -> Result<ConnectionConfig> {
        let lower = text.trim_start().to_ascii_lowercase();
        if lower.starts_with("sqlserver://") || lower.starts_with("mssql://") {
            return Self::parse_url(text.trim());
        }
        Self::parse_ado(text)
    }

    fn parse_ado(text: &str) -> Result<ConnectionConfig> {
        let mut config = ConnectionConfig::default();
        let mut have_server = false;
        for (key, value) in split_pairs(text)? {
            match normalize_key(&key).as_str() {
                "server" | "data source" | "address" | "addr" | "network address" => {
                    parse_server(&mut config, &value)?;
                    have_server = true;
                }
                "database" | "initial catalog" => {
                    config.database = Some(value).filter(|v| !v.is_empty())
                }
                "user id" | "uid" | "user" | "username" => {
                    config.user = Some(value).filter(|v| !v.is_empty())
                }
                "password" | "pwd" => config.password = Secret(value),
                "authentication" => config.authentication = Authentication::parse(&value)?,
                "encrypt" => config.encrypt = parse_encrypt(&value)?,
                "trustservercertificate" | "trust server certificate" => {
                    config.trust_server_certificate = parse_bool(&key, &value)?
                }
                "hostnameincertificate" | "host name in certificate" => {
                    config.host_name_in_certificate = Some(value)
                }
                "application name" | "app" => config.application_name = value,
                "connect timeout" | "connection timeout" | "timeout" => {
                    config.connect_timeout = Duration::from_secs(parse_seconds(&key, &value)?)
                }
                "command timeout" => {
                    let secs = parse_seconds(&key, &value)?;
                    config.command_timeout = (secs > 0).then(|| Duration::from_secs(secs));
                }
                "integrated security" | "trusted_connection" => {
                    if parse_bool(&key, &value)? {
                        return Err(invalid(
                            "Integrated Security is not supported: give User Id and Password (SQL authentication)",
                        ));
                    }
                }
                // Client-side pooling and similar switches have no meaning for one connection.
                "persist security info"
                | "pooling"
                | "multipleactiveresultsets"
                | "multiple active result sets"
                | "max pool size"
                | "min pool size"
                | "packet size"
                | "connect retry count"
                | "connectretrycount"
                | "connect retry interval"
                | "connectretryinterval"
                | "multisubnetfailover"
                | "multi subnet failover" => {}
                _ => {
                    return Err(invalid(format!(
                        "unsupported connection string keyword {key:?}; use Server, Database, User Id, Password, Authentication, Encrypt, TrustServerCertificate, HostNameInCertificate, Application Name, Connect Timeout, Command Timeout"
                    )));
                }
            }
        }
        if !have_server {
            return Err(invalid("the connection string names no Server"));
        }
        Ok(config)
    }

    fn parse_url(text: &str) -> Result<ConnectionConfig> {
        let mut config = ConnectionConfig::default();
        let rest = text
            .split_once("://")
            .map(|(_, r)| r)
            .ok_or_else(|| invalid("not a sqlserver:// URL"))?;
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match main.split_once('/') {
            Some((a, p)) => (a, p),
            None => (main, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if let Some(userinfo) = userinfo {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            config.user = Some(percent_decode(user)?).filter(|u| !u.is_empty());
            if let Some(p) = password {
                config.password = Secret(percent_decode(p)?);
            }
        }
        let (host, port) = if let Some(stripped) = hostport.strip_prefix('[') {
            // [ipv6]:port
            let (h, after) = stripped
                .split_once(']')
                .ok_or_else(|| invalid("unclosed [ in the URL's host"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let host = percent_decode(&host)?;
        let (host, instance) = match host.split_once('\\') {
            Some((h, i)) => (h.to_string(), Some(i.to_string())),
            None => (host, None),
        };
        config.host = if host.is_empty() {
            "localhost".into()
        } else {
            host
        };
        if let Some(p) = port {
            config.port = p
                .parse()
                .map_err(|_| invalid(format!("not a port number in the URL: {p:?}")))?;
        } else if instance.is_some() {
            return Err(invalid(
                "a named instance needs a port: SQL Browser lookups are not supported",
            ));
        }
        config.instance = instance;
        let db = percent_decode(path.trim_end_matches('/'))?;
        config.database = Some(db).filter(|d| !d.is_empty());
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v)?;
            match k.to_ascii_lowercase().as_str() {
                "encrypt" => config.encrypt = parse_encrypt(&v)?,
                "trustservercertificate" => config.trust_server_certificate = parse_bool(k, &v)?,
                "hostnameincertificate" => config.host_name_in_certificate = Some(v),
                "database" | "databasename" => config.database = Some(v).filter(|d| !d.is_empty()),
                "applicationname" | "app" => config.application_name = v,
                "connecttimeout" | "connect_timeout" => {
                    config.connect_timeout = Duration::from_secs(parse_seconds(k, &v)?)
                }
                "commandtimeout" | "command_timeout" => {
                    let secs = parse_seconds(k, &v)?;
                    config.command_timeout = (secs > 0).then(|| Duration::from_secs(secs));
                }
                "user" | "username" => config.user = Some(v).filter(|u| !u.is_empty()),
                "password" => config.password = Secret(v),
                "authentication" => config.authentication = Authentication::parse(&v)?,
                _ => {
                    return Err(invalid(format!(
                        "unsupported sqlserver:// URL parameter {k:?}; use authentication, encrypt, trustServerCertificate, hostNameInCertificate, database, applicationName, connectTimeout, commandTimeout"
                    )));
                }
            }
        }
        Ok(config)
    }

    /// `host:port` for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The same connection string naming another database (`Database={...}` appended to an
/// ADO.NET string, where the last value wins; the path replaced in a URL).
pub fn with_database(text: &str, database: &str) -> String {
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("sqlserver://") || lower.starts_with("mssql://") {
        let (main, query) = match text.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (text, None),
        };
        let scheme_end = main.find("://").map_or(0, |i| i + 3);
        let authority_end = main[scheme_end..]
            .find('/')
            .map_or(main.len(), |i| scheme_end + i);
        let encoded: String = database
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let mut out = format!("{}/{encoded}", &main[..authority_end]);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        return out;
    }
    format!(
        "{};Database={{{}}}",
        text.trim_end().trim_end_matches(';'),
        database.replace('}', "}}")
    )
}

fn percent_decode(text: &str) -> Result<String> {
    percent::percent_decode(text).map_err(|e| match e {
        PercentDecodeError::BadEscape => invalid("bad %-escape in the URL"),
        PercentDecodeError::NotUtf8 => invalid("the URL does not decode to UTF-8"),
    })
}

/// `key=value` pairs of an ADO.NET string with the values of `Password`/`Pwd` replaced by
/// `***`, quoted values included. `None` when the text is not a key-value string.
pub(crate) fn redact_ado(text: &str) -> Option<String> {
    let pairs = split_pairs(text).ok()?;
    if pairs.is_empty() {
        return None;
    }
    Some(
        pairs
            .iter()
            .map(|(k, v)| {
                if matches!(normalize_key(k).as_str(), "password" | "pwd") {
                    format!("{k}=***")
                } else if v.contains(';') || v.starts_with(['"', '\'', '{']) {
                    format!("{k}=\"{}\"", v.replace('"', "\"\""))
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(";"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_authentication_takes_the_token_from_the_environment_only() {
        let c = ConnectionConfig::parse(
            "Server=tcp:app.database.windows.net,1433;Database=Shop;Authentication=Active Directory Access Token",
        )
        .unwrap();
        assert_eq!(c.authentication, Authentication::AccessToken);
        let c = ConnectionConfig::parse(
            "sqlserver://app.database.windows.net/Shop?authentication=ActiveDirectoryAccessToken",
        )
        .unwrap();
        assert_eq!(c.authentication, Authentication::AccessToken);
        let token = Authentication::access_token(|name| {
            (name == ACCESS_TOKEN_VARIABLE).then(|| "eyJ0eXAi.token \n".to_string())
        })
        .unwrap();
        assert_eq!(token.expose(), "eyJ0eXAi.token");
        assert_eq!(format!("{token:?}"), "***");
        let missing = Authentication::access_token(|_| None)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("$DAC_SQLSERVER_ACCESS_TOKEN"), "{missing}");
        // The methods that need a browser or a Windows identity say what works instead.
        for method in [
            "ActiveDirectoryInteractive",
            "ActiveDirectoryIntegrated",
            "ActiveDirectoryPassword",
            "ActiveDirectoryDefault",
        ] {
            let err = ConnectionConfig::parse(&format!("Server=h;Authentication={method}"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("Authentication={method} is not supported")),
                "{err}"
            );
            assert!(err.contains("ActiveDirectoryAccessToken"), "{err}");
        }
        assert_eq!(
            ConnectionConfig::parse("Server=h;User Id=u;Password=p;Authentication=SqlPassword")
                .unwrap()
                .authentication,
            Authentication::SqlPassword
        );
    }

    #[test]
    fn ado_strings_parse_with_defaults() {
        let c = ConnectionConfig::parse(
            "Server=tcp:db.example.com,14330;Database=Shop;User Id=sa;Password=s3cr3t;TrustServerCertificate=True",
        )
        .unwrap();
        assert_eq!(c.host, "db.example.com");
        assert_eq!(c.port, 14330);
        assert_eq!(c.database.as_deref(), Some("Shop"));
        assert_eq!(c.user.as_deref(), Some("sa"));
        assert_eq!(c.password.expose(), "s3cr3t");
        assert_eq!(c.encrypt, Encrypt::On, "encryption is on by default");
        assert!(c.trust_server_certificate);
        assert_eq!(c.command_timeout, None, "no 30-second cap");

        let c = ConnectionConfig::parse(
            "Data Source=(local);Initial Catalog=a;UID=u;PWD=p;Encrypt=false",
        )
        .unwrap();
        assert_eq!((c.host.as_str(), c.port), ("localhost", 1433));
        assert_eq!(c.encrypt, Encrypt::Off);
        let c = ConnectionConfig::parse("Server=h;Encrypt=strict;Command Timeout=600").unwrap();
        assert_eq!(c.encrypt, Encrypt::Strict);
        assert_eq!(c.command_timeout, Some(Duration::from_secs(600)));
        let c = ConnectionConfig::parse("Server=h\\SQL2022,50000").unwrap();
        assert_eq!(c.instance.as_deref(), Some("SQL2022"));
        assert_eq!(c.port, 50000);
    }

    #[test]
    fn quoted_values_keep_semicolons() {
        let c =
            ConnectionConfig::parse("Server=h;Password=\"a;b\"\"c\";User Id='o''neil'").unwrap();
        assert_eq!(c.password.expose(), "a;b\"c");
        assert_eq!(c.user.as_deref(), Some("o'neil"));
        let c = ConnectionConfig::parse("Server=h;Pwd={x;y}}z}").unwrap();
        assert_eq!(c.password.expose(), "x;y}z");
    }

    #[test]
    fn urls_parse() {
        let c = ConnectionConfig::parse(
            "sqlserver://sa:p%40ss@localhost:1433/Shop?encrypt=true&trustServerCertificate=true",
        )
        .unwrap();
        assert_eq!(c.user.as_deref(), Some("sa"));
        assert_eq!(c.password.expose(), "p@ss");
        assert_eq!(c.database.as_deref(), Some("Shop"));
        assert!(c.trust_server_certificate);
        let c = ConnectionConfig::parse("mssql://u:p@[::1]:1500/db").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 1500));
    }

    #[test]
    fn bad_strings_are_clear_errors() {
        for (text, needle) in [
            (
                "Server=h;Colour=blue",
                "unsupported connection string keyword",
            ),
            ("Database=x", "names no Server"),
            ("Server=h;Encrypt=maybe", "Encrypt must be"),
            ("Server=h\\inst", "needs a port"),
            ("Server=h;Integrated Security=SSPI", "Integrated Security"),
            ("Server=h;Password=\"open", "no closing"),
            ("Server=h,notaport", "not a port"),
            ("sqlserver://h:99999/db", "not a port"),
            ("sqlserver://h/db?colour=blue", "unsupported"),
        ] {
            let err = ConnectionConfig::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = ConnectionConfig::parse("Server=h;User Id=sa;Password=s3cr3t").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn detection() {
        assert!(is_sqlserver("Server=tcp:h,1433;Database=d"));
        assert!(is_sqlserver("data source=h;initial catalog=d"));
        assert!(is_sqlserver("sqlserver://h/d"));
        assert!(!is_sqlserver("postgres://h/d"));
        assert!(!is_sqlserver("app.db"));
        assert!(!is_sqlserver("folder/with=sign"));
    }

    #[test]
    fn another_database_of_the_same_server() {
        let c = ConnectionConfig::parse(&with_database("Server=h;Database=a;User Id=u;", "b}c"))
            .unwrap();
        assert_eq!(c.database.as_deref(), Some("b}c"));
        let c = ConnectionConfig::parse(&with_database(
            "sqlserver://u:p@h:1433/a?trustServerCertificate=true",
            "new db",
        ))
        .unwrap();
        assert_eq!(c.database.as_deref(), Some("new db"));
        assert!(c.trust_server_certificate);
        let c = ConnectionConfig::parse(&with_database("sqlserver://h", "x")).unwrap();
        assert_eq!(c.database.as_deref(), Some("x"));
    }

    #[test]
    fn ado_redaction_handles_quotes() {
        let shown = redact_ado("Server=h;Password=\"a;s3cr3t\";User Id=u").unwrap();
        assert_eq!(shown, "Server=h;Password=***;User Id=u");
    }
}
