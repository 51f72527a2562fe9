//! Two commands that change one database, started near-simultaneously through the shipped
//! binary (issue 20 item 1): one lock per database excludes every changing command (upgrades in
//! either mode, rollback, register), from validation to the end. For every pair, 20 trials with
//! pseudo-random start delays of 0-50 ms: exactly one run changes the schema (the other waits,
//! then finds it up to date or is refused for a reason that still holds), the history never
//! records one upgrade twice, the registration always describes the schema, and a rollback never
//! claims what it did not do.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use dac_engine::driver::{self, Target};
use dac_engine::registry::{HistoryAction, HistoryStatus};
use dac_tests::binary::dac_binary;
use dac_tests::postgres::server;

const TRIALS: usize = 20;
/// Trials run at a time (each on its own database).
const AT_ONCE: usize = 8;

/// Each version's table columns: v2 adds `note`, v3 adds `tag`.
const VERSIONS: [(&str, &str); 3] = [
    ("1.0.0", "id"),
    ("2.0.0", "id,note"),
    ("3.0.0", "id,note,tag"),
];

fn schema_of(version: &str) -> String {
    let columns = VERSIONS
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, c)| *c)
        .expect("known version");
    let body = columns
        .split(',')
        .map(|c| {
            if c == "id" {
                "  id integer PRIMARY KEY".to_string()
            } else {
                format!("  {c} text")
            }
        })
        .collect::<Vec<_>>()
        .join(",\n");
    format!("CREATE TABLE items (\n{body}\n);\n")
}

struct Packages {
    _dir: tempfile::TempDir,
    v1: String,
    v2: String,
    v3: String,
}

fn dac(args: &[&str]) -> Output {
    Command::new(dac_binary())
        .args(args)
        .env_remove("DAC_FAULT")
        .stdin(Stdio::null())
        .output()
        .expect("run dac")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn expect_ok(out: Output, what: &str) -> Output {
    assert!(out.status.success(), "{what}: {}", text(&out));
    out
}

fn packages(platform: &str) -> Packages {
    let dir = tempfile::tempdir().expect("temp dir");
    let build = |version: &str| {
        let folder = dir.path().join(format!("src-{version}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("schema.sql"), schema_of(version)).unwrap();
        let out = dir.path().join(format!("app-{version}.dacpac"));
        expect_ok(
            dac(&[
                "build",
                folder.to_str().unwrap(),
                "--platform",
                platform,
                "--name",
                "app",
                "--version",
                version,
                "-o",
                out.to_str().unwrap(),
            ]),
            "build",
        );
        out.to_str().unwrap().to_string()
    };
    let (v1, v2, v3) = (build("1.0.0"), build("2.0.0"), build("3.0.0"));
    Packages {
        _dir: dir,
        v1,
        v2,
        v3,
    }
}

/// A changing command, as a user types it (a long lock timeout: the second run must wait for the
/// first, never give up in these tests).
#[derive(Debug, Clone, Copy)]
enum Cmd<'a> {
    InPlace(&'a str),
    SideBySide(&'a str),
    Rollback,
    Register(&'a str),
}

impl Cmd<'_> {
    fn args(self, target: &str) -> Vec<String> {
        let mut args: Vec<String> = match self {
            Cmd::InPlace(p) => vec!["upgrade".into(), p.into(), "--in-place".into()],
            Cmd::SideBySide(p) => vec![
                "upgrade".into(),
                p.into(),
                "--side-by-side".into(),
                "--quiet".into(),
            ],
            Cmd::Rollback => vec!["rollback".into()],
            Cmd::Register(p) => vec!["register".into(), p.into()],
        };
        args.extend(["--target".into(), target.into()]);
        args.extend(["--lock-timeout".into(), "120s".into()]);
        args
    }
}

/// A pseudo-random delay of 0-50 ms (a fixed sequence, so a failure can be replayed).
fn delay(seed: &mut u64) -> Duration {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    Duration::from_millis((*seed >> 33) % 51)
}

/// Starts both commands, each after its own delay, and waits for both.
fn race(target: &str, first: Cmd, second: Cmd, seed: &mut u64) -> (Output, Output) {
    let (d1, d2) = (delay(seed), delay(seed));
    std::thread::scope(|scope| {
        let a = scope.spawn(move || {
            std::thread::sleep(d1);
            dac(&first
                .args(target)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>())
        });
        let b = scope.spawn(move || {
            std::thread::sleep(d2);
            dac(&second
                .args(target)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>())
        });
        (a.join().expect("first run"), b.join().expect("second run"))
    })
}

/// The table's columns, the registered version and the history of the database.
struct State {
    columns: String,
    registered: Option<String>,
    upgrades: Vec<(String, String)>,
}

fn state(target: &str) -> State {
    let target = Target::parse(target).expect("target");
    let mut db = driver::connect(&target, false).expect("connect");
    let columns = match target.platform() {
        dac_engine::model::Platform::Sqlite => {
            db.query("SELECT name FROM pragma_table_info('items') ORDER BY cid")
        }
        _ => db.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position",
        ),
    }
    .expect("columns")
    .into_iter()
    .filter_map(|row| row.into_iter().next().flatten())
    .collect::<Vec<_>>()
    .join(",");
    let registered = db
        .read_registration()
        .expect("registration")
        .map(|r| r.version);
    let upgrades = db
        .history()
        .expect("history")
        .into_iter()
        .filter(|h| {
            matches!(h.action, HistoryAction::Upgrade | HistoryAction::SideBySide)
                && h.status == HistoryStatus::Success
        })
        .map(|h| {
            (
                h.version_before.unwrap_or_default(),
                h.version_after.unwrap_or_default(),
            )
        })
        .collect();
    State {
        columns,
        registered,
        upgrades,
    }
}

/// What must hold after every trial: the registration describes the schema, and no upgrade is
/// recorded twice.
fn check_consistent(target: &str, what: &str) -> State {
    let state = state(target);
    let version = state.registered.clone().expect("registered");
    let expected = VERSIONS
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, c)| *c)
        .expect("known version");
    assert_eq!(
        state.columns, expected,
        "{what}: registered at {version} but the schema is another version's"
    );
    let mut seen = state.upgrades.clone();
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!(
        before,
        seen.len(),
        "{what}: one upgrade recorded twice: {:?}",
        state.upgrades
    );
    state
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Both runs of an upgrade pair to 2.0.0 succeed; exactly one changed the schema, the other
/// found it up to date.
fn check_one_upgrade(target: &str, a: &Output, b: &Output, what: &str, waited: &Mutex<usize>) {
    assert!(a.status.success(), "{what}, first: {}", text(a));
    assert!(b.status.success(), "{what}, second: {}", text(b));
    let up_to_date = [a, b]
        .iter()
        .filter(|o| stdout(o).contains("is up to date"))
        .count();
    assert_eq!(
        up_to_date,
        1,
        "{what}: exactly one run must find the database up to date\n{}\n{}",
        text(a),
        text(b)
    );
    for out in [a, b] {
        if stdout(out).contains("is up to date") && stdout(out).contains("waited") {
            *waited.lock().unwrap() += 1;
        }
    }
    let state = check_consistent(target, what);
    assert_eq!(state.registered.as_deref(), Some("2.0.0"), "{what}");
    assert_eq!(
        state
            .upgrades
            .iter()
            .filter(|(b, a)| b == "1.0.0" && a == "2.0.0")
            .count(),
        1,
        "{what}: history {:?}",
        state.upgrades
    );
}

/// Where trials run: a fresh database at 1.0.0 per trial.
trait Place: Sync {
    fn fresh(&self, trial: &str) -> String;
    fn discard(&self, target: &str);
}

struct SqlitePlace {
    template: PathBuf,
    dir: PathBuf,
}

impl Place for SqlitePlace {
    fn fresh(&self, trial: &str) -> String {
        let folder = self.dir.join(trial);
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("app.db");
        std::fs::copy(&self.template, &path).expect("copy the v1 database");
        format!("sqlite:{}", path.display())
    }
    fn discard(&self, target: &str) {
        let path = Path::new(target.trim_start_matches("sqlite:"));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}

struct PostgresPlace {
    template: String,
}

impl Place for PostgresPlace {
    fn fresh(&self, trial: &str) -> String {
        let url = server().create_database(trial);
        let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
        server()
            .admin_execute(&format!("DROP DATABASE \"{name}\""))
            .expect("drop the empty database");
        server()
            .admin_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
                self.template
            ))
            .expect("copy the v1 database");
        url
    }
    fn discard(&self, target: &str) {
        // The database and what side-by-side runs kept of it (retained originals).
        let name = target
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let mut admin = driver::connect(&Target::parse(&server().url("postgres")).unwrap(), false)
            .expect("admin");
        let names = admin
            .query(&format!(
                "SELECT datname FROM pg_database WHERE datname LIKE '{name}%'"
            ))
            .expect("databases");
        for row in names {
            if let Some(Some(db)) = row.into_iter().next() {
                let _ = server()
                    .admin_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"));
            }
        }
    }
}

/// Runs `trial` TRIALS times, AT_ONCE at a time, each on a fresh database.
fn trials(place: &dyn Place, pair: &str, trial: &(dyn Fn(&str, &str, &mut u64) + Sync)) {
    let next = Mutex::new(0usize);
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE {
            scope.spawn(|| {
                loop {
                    let n = {
                        let mut next = next.lock().unwrap();
                        if *next >= TRIALS {
                            return;
                        }
                        *next += 1;
                        *next
                    };
                    let target = place.fresh(&format!("{pair}_{n}"));
                    let mut seed = (n as u64) * 7919 + pair.len() as u64;
                    trial(&target, &format!("{pair} trial {n}"), &mut seed);
                    place.discard(&target);
                }
            });
        }
    });
}

fn every_pair(place: &dyn Place, p: &Packages) {
    let waited = Mutex::new(0usize);
    let upgrade_pairs = [
        ("inplace_inplace", Cmd::InPlace(&p.v2), Cmd::InPlace(&p.v2)),
        ("inplace_sbs", Cmd::InPlace(&p.v2), Cmd::SideBySide(&p.v2)),
        ("sbs_sbs", Cmd::SideBySide(&p.v2), Cmd::SideBySide(&p.v2)),
    ];
    for (pair, first, second) in upgrade_pairs {
        trials(place, pair, &|target, what, seed| {
            let (a, b) = race(target, first, second, seed);
            check_one_upgrade(target, &a, &b, what, &waited);
            if pair != "inplace_sbs" {
                return;
            }
            // A rollback after the pair undoes the side-by-side upgrade if that one changed
            // the schema, and is refused otherwise: never "rolled back" over a v2 schema.
            let side_by_side_changed = !stdout(&b).contains("is up to date");
            let rollback = dac(&Cmd::Rollback
                .args(target)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>());
            let state = check_consistent(target, what);
            if side_by_side_changed {
                assert!(rollback.status.success(), "{what}: {}", text(&rollback));
                assert!(stdout(&rollback).contains("2.0.0 -> 1.0.0"), "{what}");
                assert_eq!(state.registered.as_deref(), Some("1.0.0"), "{what}");
            } else {
                assert!(
                    !rollback.status.success(),
                    "{what}: a rollback with no side-by-side upgrade to undo: {}",
                    text(&rollback)
                );
                assert_eq!(state.registered.as_deref(), Some("2.0.0"), "{what}");
            }
        });
    }
    assert!(
        *waited.lock().unwrap() > 0,
        "no second run said it waited for the first: up to date without saying why"
    );

    // An upgrade against a rollback of the side-by-side upgrade before it: either order is
    // fine, a mix is not.
    trials(place, "upgrade_rollback", &|target, what, seed| {
        expect_ok(
            dac(&Cmd::SideBySide(&p.v2)
                .args(target)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()),
            what,
        );
        let (upgrade, rollback) = race(target, Cmd::InPlace(&p.v3), Cmd::Rollback, seed);
        assert!(upgrade.status.success(), "{what}: {}", text(&upgrade));
        let state = check_consistent(target, what);
        assert_eq!(state.registered.as_deref(), Some("3.0.0"), "{what}");
        if rollback.status.success() {
            // Rolled back first: the upgrade then went 1.0.0 -> 3.0.0.
            assert!(stdout(&rollback).contains("2.0.0 -> 1.0.0"), "{what}");
            assert!(
                state.upgrades.contains(&("1.0.0".into(), "3.0.0".into())),
                "{what}: {:?}",
                state.upgrades
            );
        } else {
            assert_eq!(
                rollback.status.code(),
                Some(3),
                "{what}: {}",
                text(&rollback)
            );
            assert!(
                state.upgrades.contains(&("2.0.0".into(), "3.0.0".into())),
                "{what}: {:?}",
                state.upgrades
            );
        }
    });

    // An upgrade against a registration of the version it upgrades from: the registration
    // either comes first (and the upgrade follows it) or is refused (the schema moved on).
    trials(place, "upgrade_register", &|target, what, seed| {
        let (upgrade, register) = race(target, Cmd::InPlace(&p.v2), Cmd::Register(&p.v1), seed);
        assert!(upgrade.status.success(), "{what}: {}", text(&upgrade));
        assert!(
            register.status.success() || register.status.code() == Some(3),
            "{what}: {}",
            text(&register)
        );
        let state = check_consistent(target, what);
        assert_eq!(state.registered.as_deref(), Some("2.0.0"), "{what}");
    });
}

#[test]
fn sqlite_changing_commands_exclude_each_other() {
    let p = packages("sqlite");
    let dir = tempfile::tempdir().expect("temp dir");
    let template = dir.path().join("template.db");
    expect_ok(
        dac(&Cmd::InPlace(&p.v1)
            .args(&format!("sqlite:{}", template.display()))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()),
        "deploy v1",
    );
    let place = SqlitePlace {
        template,
        dir: dir.path().to_path_buf(),
    };
    every_pair(&place, &p);
}

#[test]
fn postgres_changing_commands_exclude_each_other() {
    let p = packages("postgres");
    let url = server().create_database("concurrent_template");
    expect_ok(
        dac(&Cmd::InPlace(&p.v1)
            .args(&url)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()),
        "deploy v1",
    );
    let template = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let place = PostgresPlace { template };
    every_pair(&place, &p);
    server().drop_database(&url);
}
