//! A throwaway PostgreSQL server for the live suites.
//!
//! [`server`] starts one server per test binary (shared through a `OnceLock`) from the installed
//! binaries (`/usr/lib/postgresql/<highest>/bin`), in a private temporary directory, on a free
//! loopback port, with its Unix socket in that directory and fsync off. Running as root, the
//! server runs as the system user `dac-test` (created with `useradd` when missing), which owns
//! the data directory. A watchdog process stops the server and removes the directory when the
//! test binary exits, however it exits; a server left by a killed run holds its own directory
//! and port, so it never disturbs the next run. With `DAC_TEST_POSTGRES_URL` set, that server is
//! used instead. Each case gets its own database ([`Server::create_database`]).
//! [`Server::stop_immediately`] and [`Server::start_again`] crash and restart a server we
//! started (the fault proofs stop it in the middle of a copy).
//!
//! [`start_private`] starts another server of a test binary's own with a [`Setup`] (files in
//! the data directory, postgresql.conf lines, pg_hba.conf): the TLS suite's server.
//!
//! Missing binaries are a failure naming the Debian package (`postgresql`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use dac_engine::driver::{Driver, PostgresDriver};
use sha2::{Digest, Sha256};

/// The system user the server runs as when the tests run as root.
const SERVER_USER: &str = "dac-test";
/// The superuser of a throwaway server (not `postgres`: some fixtures grant to `postgres`).
const SUPERUSER: &str = "dac";

/// A running server.
pub struct Server {
    /// `postgres://user@host:port/` without a database name (a query string may follow).
    base: String,
    /// Query string to append to database URLs (`?...`), or "".
    query: String,
    /// Server version, e.g. `15.18`.
    pub version: String,
    /// Major version, e.g. 15.
    pub major: u32,
    admin: Mutex<PostgresDriver>,
    /// How the admin session connects (the Unix socket for [`start_private`] servers).
    admin_url: String,
    /// The loopback port of a server we started.
    port: Option<u16>,
    /// The private directory of a server we started (`None` for `DAC_TEST_POSTGRES_URL`).
    dir: Option<PathBuf>,
    /// How to stop and start a server we started again (`None` for `DAC_TEST_POSTGRES_URL`).
    control: Option<Control>,
}

/// What `pg_ctl` needs to stop a server we started and start it again, on the same port and data
/// directory.
struct Control {
    root: bool,
    bin: PathBuf,
    data: PathBuf,
    options: String,
    log: PathBuf,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static DATABASES: AtomicU64 = AtomicU64::new(0);

/// The shared server of this test binary; panics with the reason when none can be had.
pub fn server() -> &'static Server {
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

/// `text` as a database-name fragment: ASCII letters and digits in lower case, anything else
/// as `_`, at most `max` characters.
pub fn name_slug(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

impl Server {
    /// Creates a fresh database for a case and returns its URL.
    pub fn create_database(&self, slug: &str) -> String {
        let n = DATABASES.fetch_add(1, Ordering::Relaxed);
        let clean = name_slug(slug, 30);
        let mut hash = Sha256::new();
        hash.update(format!("{slug}\u{0}{n}\u{0}{}", std::process::id()).as_bytes());
        let digest = hash.finalize();
        let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        let name = format!("dac_t_{clean}_{hex}");
        let mut admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        let _ = admin.execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        admin
            .execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        self.url(&name)
    }

    /// Drops a database made by [`Server::create_database`].
    pub fn drop_database(&self, url: &str) {
        let name = url
            .rsplit('/')
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        if name.starts_with("dac_t_") {
            let mut admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
            let _ = admin.execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }

    /// The URL of a database of this server.
    pub fn url(&self, database: &str) -> String {
        format!("{}{database}{}", self.base, self.query)
    }

    /// The loopback port of a server this harness started.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Runs statements as the superuser (roles, grants) on the `postgres` database.
    pub fn admin_execute(&self, sql: &str) -> Result<(), String> {
        let mut admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        admin.execute(sql).map_err(|e| e.to_string())
    }

    /// Whether this harness started the server (as opposed to `DAC_TEST_POSTGRES_URL`).
    pub fn is_private(&self) -> bool {
        self.dir.is_some()
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`: no checkpoint,
    /// every session cut). Only for a server this harness started; `Err` says why not. Other
    /// cases of the same test binary must not be using the server meanwhile.
    pub fn stop_immediately(&self) -> Result<(), String> {
        let control = self
            .control
            .as_ref()
            .ok_or("the server is not ours to stop (DAC_TEST_POSTGRES_URL)")?;
        run(
            control.root,
            &control.bin.join("pg_ctl"),
            &[
                "-D",
                path_str(&control.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
    }

    /// Starts the server again after [`Server::stop_immediately`], on the same port and data
    /// directory (it recovers from its write-ahead log), and reconnects the harness.
    pub fn start_again(&self) -> Result<(), String> {
        let control = self
            .control
            .as_ref()
            .ok_or("the server is not ours to start (DAC_TEST_POSTGRES_URL)")?;
        run(
            control.root,
            &control.bin.join("pg_ctl"),
            &[
                "-D",
                path_str(&control.data),
                "-o",
                &control.options,
                "-l",
                path_str(&control.log),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        let admin = PostgresDriver::connect(&self.admin_url)
            .map_err(|e| format!("cannot reconnect to the restarted server: {e}"))?;
        *self.admin.lock().unwrap_or_else(|e| e.into_inner()) = admin;
        Ok(())
    }
}

fn start() -> Result<Server, String> {
    if let Ok(url) = std::env::var("DAC_TEST_POSTGRES_URL") {
        let (base, query) = split_url(&url);
        return connect(base, query, None);
    }
    let started = launch(None)?;
    let base = format!("postgres://{SUPERUSER}@127.0.0.1:{}/", started.port);
    let mut server = connect(base, String::new(), Some(started.dir.clone()))?;
    server.port = Some(started.port);
    server.control = Some(started.control);
    Ok(server)
}

/// What a server of its own is started with beyond the suite's settings (a TLS server).
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Files written into the data directory (name, contents), readable by the server only.
    pub files: Vec<(String, Vec<u8>)>,
    /// Lines added to postgresql.conf.
    pub conf: Vec<String>,
    /// The whole of pg_hba.conf; its `local` lines should trust the superuser, whose admin
    /// session goes through the Unix socket.
    pub hba: String,
}

/// Starts a server of its own with `conf` added to postgresql.conf and access as the shared
/// one has it (the superuser through the socket, every user over loopback); panics naming
/// `conf` where it cannot start.
pub fn start_with(conf: &[&str]) -> Server {
    start_private(&Setup {
        files: Vec::new(),
        conf: conf.iter().map(|line| line.to_string()).collect(),
        hba: "local all all trust\nhost all all 127.0.0.1/32 trust\n".into(),
    })
    .unwrap_or_else(|e| panic!("cannot start a server with {}: {e}", conf.join(", ")))
}

/// A server of its own with logical decoding (`wal_level = logical`, four slots).
pub fn start_logical() -> Server {
    start_with(&["wal_level = logical", "max_replication_slots = 4"])
}

/// Starts a server of its own (not the shared one) with `setup`, on another free loopback port;
/// stopped and removed when the test binary exits, like the shared one. Not available with
/// `DAC_TEST_POSTGRES_URL`: the setup needs the server's files.
pub fn start_private(setup: &Setup) -> Result<Server, String> {
    let started = launch(Some(setup))?;
    let admin_url = format!(
        "host={} port={} user={SUPERUSER} dbname=postgres",
        path_str(&started.dir),
        started.port
    );
    let base = format!("postgres://{SUPERUSER}@127.0.0.1:{}/", started.port);
    let mut server = connect_admin(base, String::new(), Some(started.dir.clone()), &admin_url)?;
    server.port = Some(started.port);
    server.control = Some(started.control);
    Ok(server)
}

struct Started {
    dir: PathBuf,
    port: u16,
    control: Control,
}

fn launch(setup: Option<&Setup>) -> Result<Started, String> {
    let bin = find_binaries()?;
    let root = is_root();
    if root {
        ensure_user()?;
    }
    let dir = tempfile::Builder::new()
        .prefix("dac-pg-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory for PostgreSQL: {e}"))?
        .keep();
    let data = dir.join("data");
    if root {
        let uid = user_id()?;
        std::os::unix::fs::chown(&dir, Some(uid), None)
            .map_err(|e| format!("cannot hand {} to {SERVER_USER}: {e}", dir.display()))?;
    }
    run(
        root,
        &bin.join("initdb"),
        &[
            "-D",
            path_str(&data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ],
    )?;
    if let Some(setup) = setup {
        write_setup(root, &data, setup)?;
    }
    let port = free_port()?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
        path_str(&dir)
    );
    run(
        root,
        &bin.join("pg_ctl"),
        &[
            "-D",
            path_str(&data),
            "-o",
            &options,
            "-l",
            path_str(&dir.join("server.log")),
            "-w",
            "-t",
            "60",
            "start",
        ],
    )?;
    spawn_watchdog(root, &bin, &dir, &data);
    let control = Control {
        root,
        log: dir.join("server.log"),
        bin,
        data,
        options,
    };
    Ok(Started { dir, port, control })
}

/// Writes a setup's files (mode 0600, owned by the server's user), postgresql.conf lines and
/// pg_hba.conf into a data directory made by initdb.
fn write_setup(root: bool, data: &Path, setup: &Setup) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let owner = if root { Some(user_id()?) } else { None };
    let write = |name: &str, bytes: &[u8]| -> Result<(), String> {
        let path = data.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(uid) = owner {
            std::os::unix::fs::chown(&path, Some(uid), None)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    };
    for (name, bytes) in &setup.files {
        write(name, bytes)?;
    }
    write("pg_hba.conf", setup.hba.as_bytes())?;
    let conf = data.join("postgresql.conf");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    for line in &setup.conf {
        writeln!(file, "{line}").map_err(|e| format!("{}: {e}", conf.display()))?;
    }
    Ok(())
}

fn connect(base: String, query: String, dir: Option<PathBuf>) -> Result<Server, String> {
    let admin_url = format!("{base}postgres{query}");
    connect_admin(base, query, dir, &admin_url)
}

fn connect_admin(
    base: String,
    query: String,
    dir: Option<PathBuf>,
    admin_url: &str,
) -> Result<Server, String> {
    let mut admin = PostgresDriver::connect(admin_url)
        .map_err(|e| format!("cannot connect to the test server: {e}"))?;
    let info = admin.server_info().map_err(|e| e.to_string())?;
    let version = info
        .version
        .trim_start_matches("PostgreSQL ")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    Ok(Server {
        base,
        query,
        version,
        major,
        admin: Mutex::new(admin),
        admin_url: admin_url.to_string(),
        port: None,
        dir,
        control: None,
    })
}

/// `(postgres://host/, ?query)` of a URL naming a database.
fn split_url(url: &str) -> (String, String) {
    let (main, query) = match url.find('?') {
        Some(q) => (&url[..q], url[q..].to_string()),
        None => (url, String::new()),
    };
    let cut = main.rfind('/').map_or(main.len(), |i| i + 1);
    (main[..cut].to_string(), query)
}

/// A client program (`psql`, `pg_dump`) of the highest installed PostgreSQL version, the one
/// the suite's server runs; the bare name (found on `PATH`) where none is installed.
pub fn client(program: &str) -> PathBuf {
    find_binaries().map_or_else(|_| PathBuf::from(program), |bin| bin.join(program))
}

/// `pg_dump -s` of `url`, without owners, privileges or dac's own registry schema: an oracle
/// that dac did not write. The error is pg_dump's message.
pub fn dump_schema(url: &str) -> Result<String, String> {
    let out = std::process::Command::new(client("pg_dump"))
        .args([
            "-s",
            "--no-owner",
            "--no-privileges",
            "-N",
            "_dac",
            "-d",
            url,
        ])
        .output()
        .map_err(|e| format!("pg_dump: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// One statement's rows through plain `psql` (`-A -t`, `|`-separated, stopping at the first
/// error): an oracle that dac did not write. The error is psql's message.
pub fn psql_query(url: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new(client("psql"))
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// `bin` of the highest installed PostgreSQL version.
fn find_binaries() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin: \
         install the Debian package `postgresql` (apt-get install postgresql; scripts/test.sh does), \
         or point DAC_TEST_POSTGRES_URL at a server"
            .to_string()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_id() -> Result<u32, String> {
    let out = Command::new("id")
        .args(["-u", SERVER_USER])
        .output()
        .map_err(|e| format!("id: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("system user {SERVER_USER} has no uid"))
}

fn ensure_user() -> Result<(), String> {
    if user_id().is_ok() {
        return Ok(());
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            SERVER_USER,
        ])
        .status()
        .map_err(|e| format!("useradd: {e}"))?;
    // Another test binary may have created it meanwhile.
    if status.success() || user_id().is_ok() {
        Ok(())
    } else {
        Err(format!(
            "cannot create the system user {SERVER_USER} to run PostgreSQL as"
        ))
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// Runs a server binary, as the server user when we are root.
fn run(root: bool, program: &Path, args: &[&str]) -> Result<(), String> {
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", SERVER_USER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// The process-exit hook: a detached shell that waits for this process to end, then stops the
/// server immediately and removes its directory.
fn spawn_watchdog(root: bool, bin: &Path, dir: &Path, data: &Path) {
    let stop = format!(
        "{} -D '{}' -m immediate -w stop",
        bin.join("pg_ctl").display(),
        data.display()
    );
    let stop = if root {
        format!("runuser -u {SERVER_USER} -- {stop}")
    } else {
        stop
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop}; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_at_the_database() {
        assert_eq!(
            split_url("postgres://u@h:5/db?sslmode=disable"),
            (
                "postgres://u@h:5/".to_string(),
                "?sslmode=disable".to_string()
            )
        );
        assert_eq!(
            split_url("postgres://u@h/db"),
            ("postgres://u@h/".to_string(), String::new())
        );
    }
}
