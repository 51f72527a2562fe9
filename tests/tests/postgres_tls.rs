//! PostgreSQL connections as libpq makes them, against a real server with real TLS: a server of
//! this binary's own (`postgres::start_private`) with `ssl=on`, a CA, server and client
//! certificates made here with rcgen, and a pg_hba.conf that accepts TCP sessions only over TLS
//! (one role only with a client certificate, one only with a password).
//!
//! Each `sslmode` is proven by what the server says about the session (`pg_stat_ssl`,
//! `pg_stat_activity`) or by a refusal naming the reason. The `PG*` variables and the password
//! file are proven in child processes of this test binary, each with an environment of its own
//! (no other case of this binary sees it): [`in_child`] runs the case [`child`].

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dac_engine::driver::{Driver, PostgresDriver, Target};
use dac_tests::postgres::{Server, Setup, start_private};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The password of the role that logs in with one.
const PASSWORD: &str = "pw-s3cr3t";

/// The TLS server and the files its clients use.
struct Tls {
    /// Kept for the life of the binary (its watchdog stops it at exit).
    _server: Server,
    port: u16,
    /// Certificate files: `root.crt` (the CA), `other-root.crt` (an unrelated CA),
    /// `client.crt`/`client.key` (CN=certuser, signed by the CA).
    dir: tempfile::TempDir,
}

impl Tls {
    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// A URL of the `postgres` database as `user`, with `query` (`a=b&c=d`).
    fn url(&self, user: &str, host: &str, query: &str) -> String {
        format!("postgres://{user}@{host}:{}/postgres?{query}", self.port)
    }
}

fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| start_tls().unwrap_or_else(|e| panic!("cannot start the TLS server: {e}")))
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key).expect("CA certificate").pem();
    (params, key, pem)
}

fn signed(
    issuer: &Issuer<'_, &KeyPair>,
    names: &[&str],
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_string()).collect::<Vec<_>>())
            .expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).expect("signed certificate");
    (cert.pem(), key.serialize_pem())
}

fn start_tls() -> Result<Tls, String> {
    let (ca_params, ca_key, ca_pem) = ca("dac test CA");
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let (_, _, other_pem) = ca("another CA");
    let (server_crt, server_key) = signed(
        &issuer,
        &["localhost"],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_crt, client_key) = signed(
        &issuer,
        &[],
        "certuser",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (name, text) in [
        ("root.crt", &ca_pem),
        ("other-root.crt", &other_pem),
        ("client.crt", &client_crt),
        ("client.key", &client_key),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
    }
    let setup = Setup {
        files: vec![
            ("server.crt".into(), server_crt.into_bytes()),
            ("server.key".into(), server_key.into_bytes()),
            ("root.crt".into(), ca_pem.into_bytes()),
        ],
        conf: vec![
            "ssl = on".into(),
            "ssl_cert_file = 'server.crt'".into(),
            "ssl_key_file = 'server.key'".into(),
            "ssl_ca_file = 'root.crt'".into(),
            "password_encryption = 'scram-sha-256'".into(),
        ],
        // TCP only over TLS: certuser only with a client certificate, pwuser only with its
        // password, anyone else trusted.
        hba: "local all all trust\n\
              hostssl all certuser 127.0.0.1/32 cert\n\
              hostssl all pwuser 127.0.0.1/32 scram-sha-256\n\
              hostssl all all 127.0.0.1/32 trust\n"
            .into(),
    };
    let server = start_private(&setup)?;
    let port = server.port().ok_or("the TLS server has no port")?;
    server.admin_execute(&format!(
        "CREATE ROLE certuser LOGIN; CREATE ROLE pwuser LOGIN PASSWORD '{PASSWORD}'; CREATE ROLE plain LOGIN"
    ))?;
    Ok(Tls {
        _server: server,
        port,
        dir,
    })
}

/// What the server says about this session: TLS in use, the user, the application name.
fn session(driver: &mut PostgresDriver) -> (String, String, String) {
    let rows = driver
        .query(
            "SELECT s.ssl::text, a.usename::text, a.application_name \
             FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
             WHERE s.pid = pg_backend_pid()",
        )
        .expect("session query");
    let row = &rows[0];
    let text = |i: usize| row[i].clone().unwrap_or_default();
    (text(0), text(1), text(2))
}

fn connect(url: &str) -> Result<PostgresDriver, String> {
    PostgresDriver::connect(url).map_err(|e| e.to_string())
}

fn connected(url: &str) -> (String, String, String) {
    let mut driver = connect(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    session(&mut driver)
}

fn refused(url: &str) -> String {
    match connect(url) {
        Ok(_) => panic!("{url} connected, and should have been refused"),
        Err(e) => e,
    }
}

#[test]
fn disable_is_refused_by_a_server_that_requires_tls() {
    let t = tls();
    let err = refused(&t.url("plain", "127.0.0.1", "sslmode=disable"));
    assert!(err.contains("no encryption"), "{err}");
    assert!(err.contains("pg_hba.conf"), "{err}");
}

#[test]
fn allow_prefer_and_require_use_tls() {
    let t = tls();
    for mode in ["allow", "prefer", "require"] {
        let (ssl, user, _) = connected(&t.url("plain", "127.0.0.1", &format!("sslmode={mode}")));
        assert_eq!((ssl.as_str(), user.as_str()), ("true", "plain"), "{mode}");
    }
    // prefer is the default, as libpq's.
    let (ssl, _, _) = connected(&format!("postgres://plain@127.0.0.1:{}/postgres", t.port));
    assert_eq!(ssl, "true");
}

#[test]
fn verify_ca_checks_the_chain_and_not_the_name() {
    let t = tls();
    let root = format!("sslrootcert={}", t.file("root.crt"));
    let other = format!("sslrootcert={}", t.file("other-root.crt"));
    let (ssl, _, _) = connected(&t.url("plain", "127.0.0.1", &format!("sslmode=verify-ca&{root}")));
    assert_eq!(ssl, "true");
    // A name the certificate does not hold: verify-ca does not care.
    let (ssl, _, _) = connected(&t.url(
        "plain",
        "wrong.example",
        &format!("hostaddr=127.0.0.1&sslmode=verify-ca&{root}"),
    ));
    assert_eq!(ssl, "true");
    let err = refused(&t.url("plain", "127.0.0.1", &format!("sslmode=verify-ca&{other}")));
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // require with a root file verifies it too, as libpq does.
    let err = refused(&t.url("plain", "127.0.0.1", &format!("sslmode=require&{other}")));
    assert!(err.contains("UnknownIssuer"), "{err}");
    // verify-ca without any root is refused before connecting.
    let err = refused(&t.url("plain", "127.0.0.1", "sslmode=verify-ca"));
    assert!(err.contains("sslrootcert"), "{err}");
}

#[test]
fn verify_full_checks_the_host_name() {
    let t = tls();
    let root = format!("sslrootcert={}", t.file("root.crt"));
    for host in ["localhost", "127.0.0.1"] {
        let (ssl, _, _) = connected(&t.url("plain", host, &format!("sslmode=verify-full&{root}")));
        assert_eq!(ssl, "true", "{host}");
    }
    let err = refused(&t.url(
        "plain",
        "wrong.example",
        &format!("hostaddr=127.0.0.1&sslmode=verify-full&{root}"),
    ));
    assert!(
        err.contains("not valid for name \"wrong.example\""),
        "{err}"
    );
}

#[test]
fn a_client_certificate_connects_where_one_is_required() {
    let t = tls();
    let cert = format!(
        "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
        t.file("root.crt"),
        t.file("client.crt"),
        t.file("client.key")
    );
    let (ssl, user, _) = connected(&t.url("certuser", "localhost", &cert));
    assert_eq!((ssl.as_str(), user.as_str()), ("true", "certuser"));
    let err = refused(&t.url("certuser", "localhost", "sslmode=require"));
    assert!(err.contains("requires a valid client certificate"), "{err}");
}

#[test]
fn passwords_work_and_never_show() {
    let t = tls();
    let url = format!(
        "postgres://pwuser:{PASSWORD}@127.0.0.1:{}/postgres?sslmode=require",
        t.port
    );
    let (_, user, _) = connected(&url);
    assert_eq!(user, "pwuser");
    let wrong = format!(
        "postgres://pwuser:not-{PASSWORD}@127.0.0.1:{}/postgres?sslmode=require",
        t.port
    );
    let err = refused(&wrong);
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
    let target = Target::parse(&format!("{url}&password={PASSWORD}")).unwrap();
    assert!(!format!("{target} {target:?}").contains(PASSWORD));
}

#[test]
fn application_name_is_dac_unless_the_url_says() {
    let t = tls();
    let (_, _, app) = connected(&t.url("plain", "127.0.0.1", "sslmode=require"));
    assert_eq!(app, "dac");
    let (_, _, app) = connected(&t.url("plain", "127.0.0.1", "application_name=nightly"));
    assert_eq!(app, "nightly");
}

#[test]
fn connect_timeout_bounds_a_server_that_never_answers() {
    // A listener that accepts TCP (the backlog) but never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let err = refused(&format!(
        "postgres://plain@127.0.0.1:{port}/postgres?connect_timeout=2&sslmode=disable"
    ));
    assert!(err.contains("connect_timeout"), "{err}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
fn unknown_parameters_are_refused_by_name() {
    let t = tls();
    let err = refused(&t.url("plain", "127.0.0.1", "sslmode=require&sslmod=verify-full"));
    assert!(err.contains("unknown parameter sslmod"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The environment, in child processes

/// Runs [`child`] in a child process of this test binary connecting to `url` with `env` (and
/// no other `PG*` variable, and a `HOME` of its own); its outcome: `Ok((ssl, user,
/// application))` or `Err(message)`.
fn in_child(url: &str, env: &[(&str, &str)]) -> Result<(String, String, String), String> {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"]);
    for (name, _) in std::env::vars() {
        if name.starts_with("PG") {
            cmd.env_remove(name);
        }
    }
    cmd.env("HOME", home.path()).env("DAC_CHILD_URL", url);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        // libtest prints the case's name before the child's line.
        if let Some(ok) = line.split_once("CHILD-OK ").map(|(_, ok)| ok) {
            let parts: Vec<String> = ok.split('|').map(str::to_string).collect();
            return Ok((parts[0].clone(), parts[1].clone(), parts[2].clone()));
        }
        if let Some(err) = line.split_once("CHILD-ERR ").map(|(_, err)| err) {
            return Err(err.to_string());
        }
    }
    panic!(
        "the child said nothing: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child's side of [`in_child`]; does nothing in an ordinary run.
#[test]
fn child() {
    let Ok(url) = std::env::var("DAC_CHILD_URL") else {
        return;
    };
    match connect(&url) {
        Ok(mut driver) => {
            let (ssl, user, app) = session(&mut driver);
            println!("CHILD-OK {ssl}|{user}|{app}");
        }
        Err(e) => println!("CHILD-ERR {e}"),
    }
}

fn pgpass(dir: &Path, line: &str, mode: u32) -> PathBuf {
    let file = dir.join("pgpass");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    file
}

#[test]
fn pg_variables_fill_what_the_url_leaves_out() {
    let t = tls();
    let port = t.port.to_string();
    let root = t.file("root.crt");
    let session = in_child(
        "postgres://",
        &[
            ("PGHOST", "localhost"),
            ("PGPORT", &port),
            ("PGUSER", "pwuser"),
            ("PGPASSWORD", PASSWORD),
            ("PGDATABASE", "postgres"),
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &root),
            ("PGAPPNAME", "from-env"),
        ],
    )
    .unwrap();
    assert_eq!(session, ("true".into(), "pwuser".into(), "from-env".into()));
    // The URL wins over the environment.
    let url = format!("postgres://plain@localhost:{port}/postgres?application_name=from-url");
    let session = in_child(
        &url,
        &[
            ("PGUSER", "pwuser"),
            ("PGAPPNAME", "from-env"),
            ("PGSSLMODE", "disable"),
        ],
    );
    // PGSSLMODE=disable applies (the URL says nothing of it), and the server refuses plain TCP.
    let err = session.unwrap_err();
    assert!(
        err.contains("no encryption") && err.contains("\"plain\""),
        "{err}"
    );
    let session = in_child(
        &format!("{url}&sslmode=require"),
        &[("PGSSLMODE", "disable")],
    );
    assert_eq!(
        session.unwrap(),
        ("true".into(), "plain".into(), "from-url".into())
    );
    // A client certificate from the environment.
    let session = in_child(
        &format!("postgres://certuser@localhost:{port}/postgres"),
        &[
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &root),
            ("PGSSLCERT", &t.file("client.crt")),
            ("PGSSLKEY", &t.file("client.key")),
        ],
    );
    assert_eq!(session.unwrap().1, "certuser");
}

#[test]
fn a_password_file_supplies_the_password() {
    let t = tls();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres://pwuser@127.0.0.1:{}/postgres?sslmode=require",
        t.port
    );
    let file = pgpass(
        dir.path(),
        &format!("127.0.0.1:{}:*:pwuser:{PASSWORD}", t.port),
        0o600,
    );
    let session = in_child(&url, &[("PGPASSFILE", file.to_str().unwrap())]).unwrap();
    assert_eq!(session.1, "pwuser");
    // Without it, the server asks for a password dac does not have.
    let err = in_child(&url, &[]).unwrap_err();
    assert!(err.contains("password"), "{err}");
    // A line for another port does not match.
    let other = pgpass(
        dir.path(),
        &format!("127.0.0.1:1:*:pwuser:{PASSWORD}"),
        0o600,
    );
    assert!(in_child(&url, &[("PGPASSFILE", other.to_str().unwrap())]).is_err());
}

#[test]
fn a_password_file_others_can_read_is_not_used() {
    let t = tls();
    let dir = tempfile::tempdir().unwrap();
    let file = pgpass(dir.path(), &format!("*:*:*:pwuser:{PASSWORD}"), 0o644);
    let url = format!(
        "postgres://pwuser@127.0.0.1:{}/postgres?sslmode=require",
        t.port
    );
    let err = in_child(&url, &[("PGPASSFILE", file.to_str().unwrap())]).unwrap_err();
    assert!(err.contains("group or world access"), "{err}");
    assert!(err.contains("0600"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}

#[test]
fn the_home_directory_supplies_pgpass() {
    let t = tls();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".pgpass");
    std::fs::write(
        &file,
        format!("localhost:{}:postgres:pwuser:{PASSWORD}\n", t.port),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = format!(
        "postgres://pwuser@localhost:{}/postgres?sslmode=require",
        t.port
    );
    let session = in_child(&url, &[("HOME", home.path().to_str().unwrap())]).unwrap();
    assert_eq!(session.1, "pwuser");
}
