//! Side-by-side upgrades on real SQLite files and a real PostgreSQL server: the data transfer
//! cases, type conversion (and a failed one, which leaves the original exactly as it was),
//! read-only originals, how writers are held off, and rollback.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use dac_engine::Error;
use dac_engine::driver::{Driver, PostgresServer, Server, SqliteServer, Target, connect};
use dac_engine::model::Platform;
use dac_engine::package::{DacMetadata, Package};
use dac_engine::report::transfer::{EarlyCopy, TransferCase, TransferReport};
use dac_engine::upgrade::{self, InPlaceOptions, NoProgress, SideBySideOptions};
use dac_tests::conformance::model_of;
use dac_tests::postgres::{Server as PgServer, server};
use sha2::{Digest, Sha256};

fn package(platform: Platform, version: &str, sql: &str) -> Package {
    Package {
        metadata: Some(DacMetadata {
            name: "shop".into(),
            version: version.into(),
            description: None,
        }),
        origin: None,
        model: model_of(platform, sql, "test.sql").expect("model"),
        predeploy: None,
        postdeploy: None,
        refactor_log: None,
    }
}

fn options() -> SideBySideOptions {
    SideBySideOptions {
        allow_data_loss: true,
        allow_drift: true,
        parallelism: 2,
        ..SideBySideOptions::default()
    }
}

/// Rows of every user table: count and SHA-256 over the rows in key order.
fn fingerprint(
    driver: &mut dyn Driver,
    tables: &[&str],
    quote: fn(&str) -> String,
) -> BTreeMap<String, (usize, String)> {
    tables
        .iter()
        .map(|table| {
            let rows = driver
                .query(&format!("SELECT * FROM {} ORDER BY 1", quote(table)))
                .expect("read rows");
            let mut hash = Sha256::new();
            for row in &rows {
                hash.update(format!("{row:?}\n").as_bytes());
            }
            let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
            ((*table).to_string(), (rows.len(), digest))
        })
        .collect()
}

fn dq(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn deploy(target: &Target, package: &Package) {
    let mut driver = connect(target, true).expect("connect");
    upgrade::in_place(
        driver.as_mut(),
        package,
        &InPlaceOptions {
            allow_data_loss: true,
            ..InPlaceOptions::default()
        },
    )
    .expect("deploy v1");
}

/// A name that needs quoting everywhere.
const HOSTILE: &str = "we\"ird;name's]";

fn v1(platform: Platform) -> Package {
    let id = if platform == Platform::Postgres {
        "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    } else {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    };
    package(
        platform,
        "1.0",
        &format!(
            "CREATE TABLE customers (id {id}, name text NOT NULL, fax text);
             CREATE TABLE orders (id integer PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), amount integer NOT NULL, code text);
             CREATE TABLE legacy (id integer PRIMARY KEY, v text);
             CREATE TABLE {} (id integer PRIMARY KEY, v text);",
            dq(HOSTILE)
        ),
    )
}

fn v2(platform: Platform) -> Package {
    let id = if platform == Platform::Postgres {
        "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    } else {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    };
    package(
        platform,
        "2.0",
        &format!(
            "CREATE TABLE customers (id {id}, name text NOT NULL, email text);
             CREATE TABLE orders (id integer PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), amount bigint NOT NULL, code text);
             CREATE INDEX orders_customer ON orders (customer_id);
             CREATE TABLE {} (id integer PRIMARY KEY, v text);
             CREATE TABLE extra (id integer PRIMARY KEY, v text);
             CREATE TABLE audit (id integer PRIMARY KEY, at text);",
            dq(HOSTILE)
        ),
    )
}

fn fill(driver: &mut dyn Driver, platform: Platform) {
    let customers = if platform == Platform::Postgres {
        "INSERT INTO customers (name, fax) SELECT 'c' || g, 'f' FROM generate_series(1, 50) g"
    } else {
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50) INSERT INTO customers (name, fax) SELECT 'c' || n, 'f' FROM g"
    };
    driver.execute(customers).expect("customers");
    let orders = if platform == Platform::Postgres {
        "INSERT INTO orders SELECT g, (g % 50) + 1, g * 10, 'x' || g FROM generate_series(1, 500) g"
    } else {
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 500) INSERT INTO orders SELECT n, (n % 50) + 1, n * 10, 'x' || n FROM g"
    };
    driver.execute(orders).expect("orders");
    driver
        .execute("INSERT INTO legacy VALUES (1, 'old'), (2, 'older')")
        .expect("legacy");
    driver
        .execute(&format!(
            "INSERT INTO {} VALUES (1, 'a''b'), (2, ']]')",
            dq(HOSTILE)
        ))
        .expect("hostile");
    // Added outside the package after registration: `extra` is also in v2 (created, not
    // copied); `scratch` is not (not created).
    driver
        .execute("CREATE TABLE extra (id integer PRIMARY KEY, v text)")
        .expect("extra");
    driver
        .execute("INSERT INTO extra VALUES (1, 'e')")
        .expect("extra row");
    driver
        .execute("CREATE TABLE scratch (id integer PRIMARY KEY)")
        .expect("scratch");
    driver
        .execute("INSERT INTO scratch VALUES (7)")
        .expect("scratch row");
}

const V1_TABLES: &[&str] = &["customers", "orders", "legacy", HOSTILE, "extra", "scratch"];

fn check_transfer(
    platform: Platform,
    target: &Target,
    retained_open: impl Fn(&str) -> Box<dyn Driver>,
) {
    let before = {
        let mut driver = connect(target, false).expect("connect");
        fingerprint(driver.as_mut(), V1_TABLES, dq)
    };
    let outcome = upgrade::side_by_side(target, &v2(platform), &options(), &NoProgress)
        .expect("side by side");
    let report = &outcome.report;
    let case = |name: &str| {
        report
            .tables
            .iter()
            .find(|t| t.name.ends_with(&format!("[{}]", name.replace(']', "]]"))))
            .unwrap_or_else(|| panic!("{name} in the report: {}", report.text()))
    };
    let text = report.text();
    assert_eq!(case("customers").case, TransferCase::Changed, "{text}");
    assert_eq!(case("customers").rows, 50, "{text}");
    assert_eq!(case("customers").columns_dropped, ["fax"], "{text}");
    assert_eq!(case("customers").columns_added, ["email"], "{text}");
    assert_eq!(case("orders").rows, 500, "{text}");
    assert_eq!(case(HOSTILE).case, TransferCase::Unchanged, "{text}");
    assert_eq!(case(HOSTILE).rows, 2, "{text}");
    assert_eq!(case("extra").case, TransferCase::Unregistered, "{text}");
    assert!(!case("extra").copied, "{text}");
    assert_eq!(case("audit").case, TransferCase::New, "{text}");
    assert_eq!(case("legacy").case, TransferCase::Dropped, "{text}");
    assert_eq!(case("scratch").case, TransferCase::LiveOnly, "{text}");
    assert_eq!(report.rows_copied, 552, "{text}");
    assert_eq!(
        report.early_copy,
        EarlyCopy::Kept,
        "nothing was written during the early copy, so it was kept: {text}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.json()).expect("json");
    assert!(json["read_only_window_ms"].is_u64(), "{json}");
    assert!(json["tables"][0]["case"].is_string() && json["tables"][0]["copied"].is_boolean());
    assert!(report.markdown().contains("| Table | Case |"));

    // The new database under the original name: v2, the rows, generators continuing.
    let mut new = connect(target, false).expect("connect");
    let registration = new
        .read_registration()
        .expect("registry")
        .expect("registered");
    assert_eq!(registration.version, "2.0");
    let history = new.history().expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.version_after.as_deref() == Some("1.0")),
        "history carried over"
    );
    assert_eq!(
        new.query("SELECT count(*) FROM extra").expect("extra")[0][0].as_deref(),
        Some("0"),
        "unregistered table created empty"
    );
    let after = fingerprint(new.as_mut(), &[HOSTILE], dq);
    assert_eq!(
        after[HOSTILE], before[HOSTILE],
        "rows of {HOSTILE} moved exactly"
    );
    new.execute("INSERT INTO customers (name) VALUES ('next')")
        .expect("insert");
    let next = new.query("SELECT max(id) FROM customers").expect("max id");
    assert_eq!(
        next[0][0].as_deref(),
        Some("51"),
        "identity continues after the copied rows"
    );
    drop(new);

    // The original, retained and untouched.
    let mut retained = retained_open(&report.retained);
    assert_eq!(
        fingerprint(retained.as_mut(), V1_TABLES, dq),
        before,
        "the original is untouched"
    );
    let old = retained
        .read_registration()
        .expect("registry")
        .expect("registered");
    assert_eq!(old.version, "1.0");
}

#[test]
fn sqlite_side_by_side_moves_each_table_by_its_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("shop.db");
    let target = Target::Sqlite { path: path.clone() };
    deploy(&target, &v1(Platform::Sqlite));
    {
        let mut driver = connect(&target, false).expect("connect");
        fill(driver.as_mut(), Platform::Sqlite);
    }
    check_transfer(Platform::Sqlite, &target, open_sqlite);
    assert!(!dir.path().join("shop.db.dac-new").exists());
    // The new database took a write (the identity check), so the rollback is forced and keeps
    // it; the retained original becomes the database again.
    let outcome = upgrade::rollback(&target, true, upgrade::LOCK_WAIT).expect("rollback");
    assert_eq!(outcome.version.as_deref(), Some("1.0"));
    assert!(outcome.kept_upgraded.is_some());
    let mut driver = connect(&target, false).expect("connect");
    assert_eq!(
        driver
            .read_registration()
            .expect("registry")
            .expect("registered")
            .version,
        "1.0"
    );
    driver
        .execute("INSERT INTO legacy VALUES (3, 'writable again')")
        .expect("writable");
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| !f.ends_with(".dac-new") && !f.ends_with(".dac-journal")),
        "nothing left behind: {files:?}"
    );
}

#[test]
fn postgres_side_by_side_moves_each_table_by_its_case() {
    let pg = server();
    let url = pg.create_database("sbs_cases");
    let target = Target::parse(&url).expect("target");
    deploy(&target, &v1(Platform::Postgres));
    {
        let mut driver = connect(&target, false).expect("connect");
        fill(driver.as_mut(), Platform::Postgres);
    }
    let mut admin = PostgresServer::connect(&url).expect("server");
    check_transfer(Platform::Postgres, &target, |name| {
        open_postgres(&url, name)
    });
    let temporary = admin.temporary_name();
    assert!(
        !admin.exists(&temporary).expect("exists"),
        "no temporary database left"
    );
    let outcome = upgrade::rollback(&target, true, upgrade::LOCK_WAIT).expect("rollback");
    assert!(
        outcome.kept_upgraded.is_some(),
        "the new database took a write and is kept"
    );
    let mut driver = connect(&target, false).expect("connect");
    driver
        .execute("INSERT INTO legacy VALUES (3, 'writable again')")
        .expect("writable");
    pg.drop_database(&url);
}

fn conversion_fails_and_leaves_the_original(target: &Target, platform: Platform) {
    let v1 = package(
        platform,
        "1.0",
        "CREATE TABLE t (id integer PRIMARY KEY, n text);",
    );
    deploy(target, &v1);
    let mut driver = connect(target, false).expect("connect");
    driver
        .execute("INSERT INTO t VALUES (1, '10'), (2, 'ten'), (3, NULL)")
        .expect("rows");
    let before = fingerprint(driver.as_mut(), &["t"], dq);
    drop(driver);
    let v2 = package(
        platform,
        "2.0",
        "CREATE TABLE t (id integer PRIMARY KEY, n integer);",
    );
    let err = upgrade::side_by_side(target, &v2, &options(), &NoProgress)
        .expect_err("'ten' does not convert to integer");
    let message = err.to_string();
    assert!(
        message.contains("[t]") || message.contains("\"t\"") || message.contains(" t"),
        "names the table: {message}"
    );
    let mut driver = connect(target, false).expect("connect");
    assert_eq!(
        fingerprint(driver.as_mut(), &["t"], dq),
        before,
        "original unchanged"
    );
    driver
        .execute("INSERT INTO t VALUES (4, 'writable')")
        .expect("writable");
    let registration = driver
        .read_registration()
        .expect("registry")
        .expect("registered");
    assert_eq!(registration.version, "1.0");
    let history = driver.history().expect("history");
    let last = history.last().expect("history entry");
    assert_eq!(
        last.status.as_str(),
        "fail",
        "failure recorded: {history:?}"
    );
    assert!(
        upgrade::journal(target).expect("journal").is_none(),
        "no journal left"
    );
}

/// Runs `case` on a new SQLite file named `file` in a directory of its own; afterwards no new
/// database is left beside it.
fn on_sqlite(file: &str, case: impl FnOnce(&Target)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = Target::Sqlite {
        path: dir.path().join(file),
    };
    case(&target);
    assert!(
        !dir.path().join(format!("{file}.dac-new")).exists(),
        "no new database left"
    );
    // Whatever the run's end: no change-capture trigger or log left in any database file
    // (the target, a retained original).
    for entry in std::fs::read_dir(dir.path()).expect("read the directory") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "db") {
            assert_eq!(
                sqlite_capture_objects(&path),
                Vec::<String>::new(),
                "change capture left in {}",
                path.display()
            );
        }
    }
}

/// dac's change-capture objects (triggers and logs) in a SQLite database file.
fn sqlite_capture_objects(path: &Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    let mut statement = conn
        .prepare("SELECT type || ' ' || name FROM sqlite_schema WHERE name LIKE '\\_dac\\_capture%' ESCAPE '\\'")
        .expect("prepare");
    statement
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows")
}

/// Runs `case` on a new PostgreSQL database (named after `slug`; the case gets its target and
/// URL); afterwards no temporary database is left, and the database is dropped.
fn on_postgres(slug: &str, case: impl FnOnce(&Target, &str)) {
    on_postgres_at(server(), slug, case);
}

/// [`on_postgres`] on the server `pg`.
fn on_postgres_at(pg: &PgServer, slug: &str, case: impl FnOnce(&Target, &str)) {
    let url = pg.create_database(slug);
    let target = Target::parse(&url).expect("target");
    case(&target, &url);
    let mut admin = PostgresServer::connect(&url).expect("server");
    assert!(
        !admin.exists(&admin.temporary_name()).expect("exists"),
        "{slug}: no temporary database left"
    );
    pg.drop_database(&url);
}

/// Opens a retained SQLite original by its path.
fn open_sqlite(name: &str) -> Box<dyn Driver> {
    Box::new(dac_engine::driver::SqliteDriver::open(Path::new(name), false).expect("retained"))
}

/// Opens a database by name on the server of `url`.
fn open_postgres(url: &str, name: &str) -> Box<dyn Driver> {
    let mut admin = PostgresServer::connect(url).expect("server");
    admin.open(name).expect("retained")
}

#[test]
fn sqlite_rows_that_do_not_convert_fail_the_upgrade() {
    on_sqlite("conv.db", |target| {
        conversion_fails_and_leaves_the_original(target, Platform::Sqlite);
    });
}

#[test]
fn postgres_rows_that_do_not_convert_fail_the_upgrade() {
    on_postgres("sbs_conv", |target, _| {
        conversion_fails_and_leaves_the_original(target, Platform::Postgres);
    });
}

#[test]
fn data_loss_is_refused_before_anything_is_touched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = Target::Sqlite {
        path: dir.path().join("loss.db"),
    };
    deploy(&target, &v1(Platform::Sqlite));
    let mut driver = connect(&target, false).expect("connect");
    driver
        .execute("INSERT INTO legacy VALUES (1, 'keep me')")
        .expect("row");
    drop(driver);
    let mut refuse = options();
    refuse.allow_data_loss = false;
    let err = upgrade::side_by_side(&target, &v2(Platform::Sqlite), &refuse, &NoProgress)
        .expect_err("legacy holds rows");
    assert!(matches!(err, Error::Blocked { .. }), "{err}");
    assert!(err.to_string().contains("legacy"), "{err}");
    assert!(!dir.path().join("loss.db.dac-new").exists());
    assert!(upgrade::journal(&target).expect("journal").is_none());
}

#[test]
fn postgres_read_only_original_stays_read_only() {
    let pg = server();
    let url = pg.create_database("sbs_ro");
    let target = Target::parse(&url).expect("target");
    deploy(&target, &v1(Platform::Postgres));
    let mut admin = PostgresServer::connect(&url).expect("server");
    let name = admin.database().to_string();
    admin.set_read_only(&name, true).expect("read-only");
    let outcome = upgrade::side_by_side(&target, &v2(Platform::Postgres), &options(), &NoProgress)
        .expect("upgrade");
    assert!(
        admin.is_read_only(&name).expect("flag"),
        "the new database is read-only as the original was"
    );
    assert!(
        admin.is_read_only(&outcome.report.retained).expect("flag"),
        "the retained original is read-only"
    );
    upgrade::rollback(&target, false, upgrade::LOCK_WAIT).expect("rollback");
    assert!(
        admin.is_read_only(&name).expect("flag"),
        "the original is read-only again"
    );
    admin.set_read_only(&name, false).expect("writable");
    pg.drop_database(&url);
}

#[test]
fn rollback_is_refused_after_writes_unless_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = Target::Sqlite {
        path: dir.path().join("rb.db"),
    };
    assert!(
        matches!(
            upgrade::rollback(&target, false, upgrade::LOCK_WAIT),
            Err(Error::Invalid(_))
        ),
        "nothing to roll back yet"
    );
    deploy(&target, &v1(Platform::Sqlite));
    upgrade::side_by_side(&target, &v2(Platform::Sqlite), &options(), &NoProgress)
        .expect("upgrade");
    let again = upgrade::side_by_side(&target, &v2(Platform::Sqlite), &options(), &NoProgress)
        .expect("again");
    assert!(again.up_to_date, "the same package again is a no-op");
    let clean = upgrade::rollback(&target, false, upgrade::LOCK_WAIT).expect("no writes: rollback");
    assert!(
        clean.kept_upgraded.is_none(),
        "the unused upgraded database is dropped"
    );
    upgrade::side_by_side(&target, &v2(Platform::Sqlite), &options(), &NoProgress)
        .expect("upgrade again");
    let mut driver = connect(&target, false).expect("connect");
    driver
        .execute("INSERT INTO audit VALUES (1, 'after the switch')")
        .expect("write");
    drop(driver);
    let err = upgrade::rollback(&target, false, upgrade::LOCK_WAIT).expect_err("took writes");
    assert!(matches!(err, Error::Blocked { .. }), "{err}");
    let forced = upgrade::rollback(&target, true, upgrade::LOCK_WAIT).expect("forced rollback");
    let kept = forced.kept_upgraded.expect("the upgraded database is kept");
    let mut kept_driver =
        dac_engine::driver::SqliteDriver::open(Path::new(&kept), false).expect("kept");
    assert_eq!(
        kept_driver
            .query("SELECT count(*) FROM audit")
            .expect("audit")[0][0]
            .as_deref(),
        Some("1"),
        "the write is kept"
    );
}

#[test]
fn sqlite_writers_wait_while_readers_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hold.db");
    let target = Target::Sqlite { path: path.clone() };
    deploy(&target, &v1(Platform::Sqlite));
    let mut server = SqliteServer::new(&path);
    let hold = server.hold_writers(&path.to_string_lossy()).expect("hold");
    let other = rusqlite::Connection::open(&path).expect("open");
    other
        .busy_timeout(Duration::from_millis(200))
        .expect("timeout");
    let count: i64 = other
        .query_row("SELECT count(*) FROM legacy", [], |r| r.get(0))
        .expect("readers read");
    assert_eq!(count, 0);
    let write = other.execute("INSERT INTO legacy VALUES (1, 'x')", []);
    assert!(write.is_err(), "a writer is held off");
    hold.release().expect("release");
    other
        .execute("INSERT INTO legacy VALUES (1, 'x')", [])
        .expect("writers write again");
}

#[test]
fn postgres_writers_wait_while_readers_read_and_sessions_end_at_the_switch() {
    let pg = server();
    let url = pg.create_database("sbs_hold");
    let target = Target::parse(&url).expect("target");
    deploy(&target, &v1(Platform::Postgres));
    let mut admin = PostgresServer::connect(&url).expect("server");
    let name = admin.database().to_string();
    // A session that was open before the upgrade.
    let mut session = connect(&target, false).expect("session");
    session
        .execute("SET statement_timeout = '300ms'")
        .expect("timeout");
    let hold = admin.hold_writers(&name).expect("hold");
    assert!(
        session.query("SELECT count(*) FROM legacy").is_ok(),
        "readers read"
    );
    let err = session
        .execute("INSERT INTO legacy VALUES (1, 'x')")
        .expect_err("writers wait (and time out here)");
    assert!(err.to_string().contains("statement timeout"), "{err}");
    let mut fresh = connect(&target, false).expect("new session");
    fresh
        .execute("SET statement_timeout = '300ms'")
        .expect("timeout");
    assert!(
        fresh.execute("INSERT INTO legacy VALUES (2, 'y')").is_err(),
        "new sessions cannot write either"
    );
    hold.seal().expect("seal");
    assert!(
        session.query("SELECT 1").is_err(),
        "open sessions are ended at the switch"
    );
    assert!(
        connect(&target, false).is_err(),
        "no new sessions until the switch is done"
    );
    admin.set_read_only(&name, false).expect("writable again");
    let mut after = connect(&target, false).expect("connect again");
    after
        .execute("INSERT INTO legacy VALUES (3, 'z')")
        .expect("writes again");
    pg.drop_database(&url);
}

/// Foreign keys the original held, unchanged and over tables copied whole, are added unchecked
/// and checked after the switch (outside the read-only window); a new foreign key is checked
/// before the switch, so rows that break it fail the upgrade and leave the original as it was.
#[test]
fn postgres_foreign_keys_the_original_held_are_checked_after_the_switch() {
    let pg = server();
    let url = pg.create_database("sbs_fk_later");
    let target = Target::parse(&url).expect("target");
    let v1 = package(
        Platform::Postgres,
        "1.0",
        "CREATE TABLE parent (id integer PRIMARY KEY, v text);
         CREATE TABLE child (id integer PRIMARY KEY,
             parent_id integer NOT NULL CONSTRAINT child_parent_fkey REFERENCES parent (id),
             other_id integer);
         CREATE TABLE widened (id integer PRIMARY KEY,
             parent_id integer CONSTRAINT widened_parent_fkey REFERENCES parent (id));",
    );
    // v2: a new column, a new foreign key over existing rows, and a converted column under
    // one of the old ones.
    let v2 = package(
        Platform::Postgres,
        "2.0",
        "CREATE TABLE parent (id integer PRIMARY KEY, v text);
         CREATE TABLE child (id integer PRIMARY KEY,
             parent_id integer NOT NULL CONSTRAINT child_parent_fkey REFERENCES parent (id),
             other_id integer CONSTRAINT child_other_fkey REFERENCES parent (id),
             note text);
         CREATE TABLE widened (id bigint PRIMARY KEY,
             parent_id integer CONSTRAINT widened_parent_fkey REFERENCES parent (id));",
    );
    deploy(&target, &v1);
    let mut driver = connect(&target, false).expect("connect");
    driver
        .execute(
            "INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 20) g;
             INSERT INTO child SELECT g, 1 + g % 20, 99 FROM generate_series(1, 500) g;
             INSERT INTO widened SELECT g, 1 + g % 20 FROM generate_series(1, 50) g;",
        )
        .expect("rows");
    let tables = ["child", "parent", "widened"];
    let before = fingerprint(driver.as_mut(), &tables, dq);
    drop(driver);

    // other_id = 99 has no parent: the new foreign key fails before the switch.
    let err = upgrade::side_by_side(&target, &v2, &options(), &NoProgress)
        .expect_err("rows break the new foreign key");
    assert!(err.to_string().contains("child_other_fkey"), "{err}");
    let mut admin = PostgresServer::connect(&url).expect("server");
    assert!(!admin.exists(&admin.temporary_name()).expect("exists"));
    let mut driver = connect(&target, false).expect("connect");
    assert_eq!(fingerprint(driver.as_mut(), &tables, dq), before);
    driver
        .execute("UPDATE child SET other_id = 1 + id % 20")
        .expect("the original is writable");

    let outcome = upgrade::side_by_side(&target, &v2, &options(), &NoProgress).expect("upgrade");
    let checked: Vec<(&str, bool)> = outcome
        .report
        .checked_after_switch
        .iter()
        .map(|c| (c.name.as_str(), c.error.is_none()))
        .collect();
    assert_eq!(
        checked,
        [("[public].[child_parent_fkey]", true)],
        "only the unchanged foreign key over tables copied whole waits: {:?}",
        outcome.report.checked_after_switch
    );
    assert!(outcome.report.text().contains("checked after the switch"));
    let mut driver = connect(&target, false).expect("connect");
    let valid = driver
        .query("SELECT conname || '=' || convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1")
        .expect("constraints");
    assert_eq!(
        format!("{valid:?}"),
        format!(
            "{:?}",
            driver
                .query("SELECT * FROM (VALUES ('child_other_fkey=true'), ('child_parent_fkey=true'), ('widened_parent_fkey=true')) v(c) ORDER BY 1")
                .expect("expected")
        ),
        "every foreign key is checked"
    );
    drop(driver);
    assert!(
        upgrade::journal(&target)
            .expect("journal")
            .is_some_and(|j| j.checks_after_switch.is_empty()),
        "nothing left to check"
    );
    let again = upgrade::side_by_side(&target, &v2, &options(), &NoProgress).expect("again");
    assert!(again.up_to_date, "the upgraded database is exactly v2");
    pg.drop_database(&url);
}

/// A unique index that the copied rows break fails while other tables may still copy (index
/// builds start as soon as their table's rows are in): the upgrade is undone and the original
/// is exactly as it was.
fn duplicate_rows_fail_the_index_build(target: &Target, platform: Platform) {
    let v1 = package(
        platform,
        "1.0",
        "CREATE TABLE big (id integer PRIMARY KEY, v text);
         CREATE TABLE small (id integer PRIMARY KEY, code text);",
    );
    deploy(target, &v1);
    let mut driver = connect(target, false).expect("connect");
    let fill = if platform == Platform::Postgres {
        "INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g"
    } else {
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) INSERT INTO big SELECT n, 'x' FROM g"
    };
    driver.execute(fill).expect("big rows");
    driver
        .execute("INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'a')")
        .expect("small rows");
    let tables = ["big", "small"];
    let before = fingerprint(driver.as_mut(), &tables, dq);
    drop(driver);
    let v2 = package(
        platform,
        "2.0",
        "CREATE TABLE big (id integer PRIMARY KEY, v text);
         CREATE INDEX big_v ON big (v);
         CREATE TABLE small (id integer PRIMARY KEY, code text);
         CREATE UNIQUE INDEX small_code ON small (code);",
    );
    let err = upgrade::side_by_side(target, &v2, &options(), &NoProgress)
        .expect_err("code 'a' twice breaks the unique index");
    assert!(
        err.to_string().contains("small_code"),
        "names the index: {err}"
    );
    let mut driver = connect(target, false).expect("connect");
    assert_eq!(fingerprint(driver.as_mut(), &tables, dq), before);
    driver
        .execute("INSERT INTO small VALUES (4, 'writable')")
        .expect("writable");
    assert!(upgrade::journal(target).expect("journal").is_none());
}

#[test]
fn sqlite_a_failed_index_build_undoes_the_upgrade() {
    on_sqlite("dup.db", |target| {
        duplicate_rows_fail_the_index_build(target, Platform::Sqlite);
    });
}

#[test]
fn postgres_a_failed_index_build_undoes_the_upgrade() {
    on_postgres("sbs_dup", |target, _| {
        duplicate_rows_fail_the_index_build(target, Platform::Postgres);
    });
}

/// Writes to the original while dac copies it before holding writers off: once the copy is
/// done (the "indexes and keys ..." step), `statements` run in a session of their own and a
/// session opened before the upgrade (`open`, a transaction already writing) commits.
struct WriteDuringEarlyCopy {
    target: Target,
    statements: Vec<String>,
    open: std::sync::Mutex<Option<dac_engine::driver::PostgresDriver>>,
    written: std::sync::atomic::AtomicBool,
}

impl upgrade::Progress for WriteDuringEarlyCopy {
    fn step(&self, text: &str) {
        use std::sync::atomic::Ordering;
        if !text.starts_with("indexes and keys") || self.written.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut driver = connect(&self.target, false).expect("connect");
        for statement in &self.statements {
            driver.execute(statement).expect("write during the copy");
        }
        if let Some(mut open) = self.open.lock().expect("open session").take() {
            open.execute("COMMIT").expect("commit during the copy");
        }
    }
}

/// An upgrade whose original takes `writes` (and, on PostgreSQL, `in_flight`: written in a
/// transaction open before the upgrade began, committed during the copy) while its rows are
/// copied early: the copy is brought up to date (or, after a pre-deployment script, made again
/// with writers held), so the new database holds every write.
fn writes_during_an_early_copy_are_copied_again(
    target: &Target,
    platform: Platform,
    writes: &[&str],
    in_flight: Option<&str>,
    predeploy: Option<&str>,
    retained_open: impl Fn(&str) -> Box<dyn Driver>,
) -> (EarlyCopy, String, Option<String>) {
    let mut v2 = v2(platform);
    v2.predeploy = predeploy.map(str::to_string);
    deploy(target, &v1(platform));
    {
        let mut driver = connect(target, false).expect("connect");
        fill(driver.as_mut(), platform);
    }
    let open = in_flight.map(|statement| {
        let Target::Postgres { url } = target else {
            panic!("in-flight writes are a PostgreSQL case")
        };
        let mut session =
            dac_engine::driver::PostgresDriver::connect_or_create(url, false).expect("session");
        session.execute("BEGIN").expect("begin");
        session.execute(statement).expect("in-flight write");
        session
    });
    let progress = WriteDuringEarlyCopy {
        target: target.clone(),
        statements: writes.iter().map(|s| (*s).to_string()).collect(),
        open: std::sync::Mutex::new(open),
        written: std::sync::atomic::AtomicBool::new(false),
    };
    let outcome = upgrade::side_by_side(target, &v2, &options(), &progress).expect("side by side");
    let report = &outcome.report;
    let text = report.text();
    assert!(
        progress.written.load(std::sync::atomic::Ordering::SeqCst),
        "the writes ran: {text}"
    );
    assert!(
        text.contains("again with writers held") || text.contains("brought up to date"),
        "the report says so: {text}"
    );
    assert!(text.contains("read-only window: "), "and why: {text}");
    // Every write is in the new database: its rows of the written tables are the original's.
    let tables = ["orders", HOSTILE];
    let mut new = connect(target, false).expect("connect");
    let mut retained = retained_open(&report.retained);
    assert_eq!(
        fingerprint(new.as_mut(), &tables, dq),
        fingerprint(retained.as_mut(), &tables, dq),
        "the new database holds every write: {text}"
    );
    assert_eq!(
        report
            .tables
            .iter()
            .filter(|t| t.copied)
            .map(|t| t.rows)
            .sum::<u64>(),
        report.rows_copied,
        "{text}"
    );
    (
        report.early_copy,
        report.early_copy_note.clone().unwrap_or_default(),
        report.catch_up_method.clone(),
    )
}

#[test]
fn sqlite_writes_during_an_early_copy_are_copied_again() {
    on_sqlite("shop.db", |target| {
        let (early, note, method) = writes_during_an_early_copy_are_copied_again(
            target,
            Platform::Sqlite,
            &["UPDATE orders SET code = 'changed' WHERE id = 7"],
            None,
            None,
            open_sqlite,
        );
        // The change-log triggers tell which table was written, and the pass carries its
        // logged rows only.
        assert_eq!(note, "1 table(s) written while copied: orders");
        assert!(
            method
                .as_deref()
                .is_some_and(|m| m.contains("change-log triggers")),
            "{method:?}"
        );
        assert_eq!(early, EarlyCopy::CaughtUp, "{note}");
    });
}

/// SQLite's change-log triggers do not see a row `REPLACE` deletes for a conflict on another
/// unique column, and a swap of unique values between two rows cannot be applied row by row:
/// both written during the early copy, the catch-up still ends with the original's rows (the
/// swap by deleting the logged rows before writing them again, the replaced row by the merge
/// the row counts call for).
#[test]
fn sqlite_writes_the_change_log_cannot_see_are_merged() {
    on_sqlite("codes.db", |target| {
        let schema = |version: &str, extra: &str| {
            package(
                Platform::Sqlite,
                version,
                &format!(
                    "CREATE TABLE codes (id integer PRIMARY KEY, code text NOT NULL UNIQUE, v text{extra});"
                ),
            )
        };
        deploy(target, &schema("1.0", ""));
        {
            let mut driver = connect(target, false).expect("connect");
            driver
                .execute(
                    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200) \
                     INSERT INTO codes SELECT n, 'c' || n, 'v' || n FROM g",
                )
                .expect("rows");
        }
        let progress = WriteDuringEarlyCopy {
            target: target.clone(),
            statements: vec![
                "UPDATE codes SET code = 'swap' WHERE id = 1".into(),
                "UPDATE codes SET code = 'c1' WHERE id = 2".into(),
                "UPDATE codes SET code = 'c2' WHERE id = 1".into(),
                "INSERT OR REPLACE INTO codes VALUES (1000, 'c5', 'replaced')".into(),
            ],
            open: std::sync::Mutex::new(None),
            written: std::sync::atomic::AtomicBool::new(false),
        };
        let outcome =
            upgrade::side_by_side(target, &schema("2.0", ", note text"), &options(), &progress)
                .expect("side by side");
        let text = outcome.report.text();
        assert_eq!(outcome.report.early_copy, EarlyCopy::CaughtUp, "{text}");
        assert!(
            text.contains("found by: change-log triggers")
                && text.contains("merged whole with their copies instead")
                && text.contains("[main].[codes]"),
            "the report says the log was used and the table merged whole: {text}"
        );
        let mut new = connect(target, false).expect("connect");
        let read = |driver: &mut dyn Driver| {
            driver
                .query("SELECT id, code, v FROM codes ORDER BY id")
                .expect("rows")
        };
        let mut retained = open_sqlite(&outcome.report.retained);
        let rows = read(new.as_mut());
        assert_eq!(rows, read(retained.as_mut()), "{text}");
        assert_eq!(rows.len(), 200, "199 kept and one replaced: {text}");
        assert!(
            rows.iter().any(|r| r[0].as_deref() == Some("1000"))
                && !rows.iter().any(|r| r[0].as_deref() == Some("5")),
            "{text}"
        );
    });
}

#[test]
fn postgres_writes_during_an_early_copy_are_copied_again() {
    writes_of_each_kind_during_an_early_copy(server(), "sbs_early", |case, method| {
        assert!(
            method.starts_with("row versions") && method.contains("wal_level is replica"),
            "{case}: {method}"
        );
    });
}

#[test]
fn postgres_logical_decoding_catches_up_writes_of_each_kind() {
    writes_of_each_kind_during_an_early_copy(logical_server(), "sbs_logical", |case, method| {
        if case == "in-flight" {
            // A transaction open when the run began keeps a slot from being made: the run
            // does not wait on it, and catches up by row versions.
            assert!(
                method.starts_with("row versions") && method.contains("transaction open"),
                "{case}: {method}"
            );
        } else {
            assert!(method.starts_with("logical decoding"), "{case}: {method}");
        }
    });
}

/// Each kind of write to the original during an early copy on the server `pg`; `method` checks
/// how the report says the writes were found.
fn writes_of_each_kind_during_an_early_copy(
    pg: &PgServer,
    prefix: &str,
    method: impl Fn(&str, &str),
) {
    // Each kind of write, alone: an insert (into a table whose name needs quoting), an
    // update, a delete, and an insert by a transaction already open when the copy began; the
    // tables written to are caught up by key, the rest kept. With a pre-deployment script
    // (which ran over every copied table), everything is copied again.
    let cases: [(&str, &[&str], Option<&str>, &str); 6] = [
        (
            "identity",
            &["INSERT INTO customers (name, fax) VALUES ('late', 'f')"],
            None,
            "customers",
        ),
        (
            "insert",
            &["INSERT INTO \"we\"\"ird;name's]\" VALUES (3, 'new')"],
            None,
            "we\"ird;name's]",
        ),
        (
            "update",
            &["UPDATE orders SET code = 'changed' WHERE id = 7"],
            None,
            "orders",
        ),
        (
            "delete",
            &["DELETE FROM orders WHERE id = 8"],
            None,
            "orders",
        ),
        (
            "in-flight",
            &[],
            Some("INSERT INTO orders VALUES (501, 1, 5, 'late')"),
            "orders",
        ),
        (
            "predeploy",
            &["UPDATE orders SET code = 'changed' WHERE id = 7"],
            None,
            "orders",
        ),
    ];
    for (case, writes, in_flight, table) in cases {
        let predeploy = (case == "predeploy").then_some("SELECT 1;");
        on_postgres_at(pg, &format!("{prefix}_{case}"), |target, url| {
            let (early, note, how) = writes_during_an_early_copy_are_copied_again(
                target,
                Platform::Postgres,
                writes,
                in_flight,
                predeploy,
                |name| open_postgres(url, name),
            );
            assert!(
                note.contains(table),
                "{case}: the note names {table}: {note}"
            );
            let expected = if predeploy.is_some() {
                EarlyCopy::Discarded
            } else {
                EarlyCopy::CaughtUp
            };
            assert_eq!(early, expected, "{case}: {note}");
            method(case, how.as_deref().unwrap_or_default());
            if case == "identity" {
                // A GENERATED ALWAYS identity column keeps the original's value.
                let mut new = connect(target, false).expect("connect");
                let late = new
                    .query("SELECT id FROM customers WHERE name = 'late'")
                    .expect("customers");
                assert_eq!(late, vec![vec![Some("51".to_string())]], "{note}");
            }
        });
    }
}

/// A schema change to the original during the early copy fails the upgrade (it was planned
/// for the schema read before the copy) and leaves the original, change and all, writable,
/// at v1, with no temporary database.
fn schema_change_during_an_early_copy_fails(target: &Target, platform: Platform, change: &str) {
    deploy(target, &v1(platform));
    {
        let mut driver = connect(target, false).expect("connect");
        fill(driver.as_mut(), platform);
    }
    let progress = WriteDuringEarlyCopy {
        target: target.clone(),
        statements: vec![change.to_string()],
        open: std::sync::Mutex::new(None),
        written: std::sync::atomic::AtomicBool::new(false),
    };
    let err = upgrade::side_by_side(target, &v2(platform), &options(), &progress)
        .expect_err("a schema change during the copy fails the upgrade");
    let message = err.to_string();
    assert!(
        message.contains("changed while its rows were copied") && message.contains("run it again"),
        "{message}"
    );
    let mut original = connect(target, false).expect("connect");
    assert_eq!(
        original
            .read_registration()
            .expect("registry")
            .expect("registered")
            .version,
        "1.0",
        "{message}"
    );
    original
        .execute("INSERT INTO legacy VALUES (3, 'writable')")
        .expect("the original is writable again");
    assert_eq!(
        original
            .query("SELECT count(*) FROM orders")
            .expect("orders")[0][0]
            .as_deref(),
        Some("500")
    );
}

#[test]
fn sqlite_a_schema_change_during_an_early_copy_fails_the_upgrade() {
    on_sqlite("shop.db", |target| {
        schema_change_during_an_early_copy_fails(
            target,
            Platform::Sqlite,
            "ALTER TABLE orders ADD COLUMN late text",
        );
        let Target::Sqlite { path } = target else {
            unreachable!("a SQLite target")
        };
        let journal = format!("{}.dac-journal", path.display());
        assert!(!Path::new(&journal).exists(), "no journal left");
    });
}

#[test]
fn postgres_a_schema_change_during_an_early_copy_fails_the_upgrade() {
    for (case, change) in [
        ("column", "ALTER TABLE orders ADD COLUMN late text"),
        ("table", "CREATE TABLE late (id integer PRIMARY KEY)"),
    ] {
        on_postgres(&format!("sbs_reshaped_{case}"), |target, _| {
            schema_change_during_an_early_copy_fails(target, Platform::Postgres, change);
        });
        on_postgres_at(
            logical_server(),
            &format!("sbs_logical_reshaped_{case}"),
            |target, url| {
                schema_change_during_an_early_copy_fails(target, Platform::Postgres, change);
                assert_eq!(replication_slots(url), Vec::<String>::new(), "no slot left");
            },
        );
    }
}

/// A client writing to `orders` on its own connection, on a thread of its own, at a steady
/// rate (an insert, an update of an existing row, now and then a delete of a row it inserted),
/// until told to stop; it keeps what it committed, by key (`None`: deleted).
struct Writer {
    stop: std::sync::atomic::AtomicBool,
    /// Committed writes so far.
    writes: std::sync::atomic::AtomicU64,
    /// The rows it wrote, as committed: id -> (amount, code).
    rows: std::sync::Mutex<BTreeMap<i64, Option<(i64, String)>>>,
    failed: std::sync::Mutex<Option<String>>,
    stopped: std::sync::atomic::AtomicBool,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            stop: std::sync::atomic::AtomicBool::new(false),
            writes: std::sync::atomic::AtomicU64::new(0),
            rows: std::sync::Mutex::new(BTreeMap::new()),
            failed: std::sync::Mutex::new(None),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Writes until told to stop (or until a write fails, kept for the test to report).
    fn run(&self, target: &Target) {
        use std::sync::atomic::Ordering;
        let result = (|| -> Result<(), String> {
            let mut driver = connect(target, false).map_err(|e| e.to_string())?;
            let mut i: i64 = 0;
            while !self.stop.load(Ordering::SeqCst) {
                i += 1;
                let (statement, id, row) = match i % 3 {
                    0 if i % 9 == 0 => (
                        format!("DELETE FROM orders WHERE id = {}", 100_000 + i - 6),
                        100_000 + i - 6,
                        None,
                    ),
                    0 | 1 => (
                        format!(
                            "INSERT INTO orders (id, customer_id, amount, code) VALUES ({}, {}, {i}, 'new{i}')",
                            100_000 + i,
                            i % 50 + 1
                        ),
                        100_000 + i,
                        Some((i, format!("new{i}"))),
                    ),
                    _ => {
                        let id = i % 500 + 1;
                        (
                            format!(
                                "UPDATE orders SET amount = {i}, code = 'w{i}' WHERE id = {id}"
                            ),
                            id,
                            Some((i, format!("w{i}"))),
                        )
                    }
                };
                driver.execute(&statement).map_err(|e| e.to_string())?;
                self.rows.lock().expect("rows").insert(id, row);
                self.writes.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        })();
        if let Err(err) = result {
            *self.failed.lock().expect("failed") = Some(err);
        }
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Waits until the writer committed `more` writes beyond `from`, or panics with why it
    /// stopped writing.
    fn wait_for(&self, from: u64, more: u64) {
        use std::sync::atomic::Ordering;
        while self.writes.load(Ordering::SeqCst) < from + more {
            if self.stopped.load(Ordering::SeqCst) {
                panic!(
                    "the writer stopped: {:?}",
                    self.failed.lock().expect("failed")
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Progress that makes sure `writer` writes during the early copy and during each catch-up
/// pass, then stops it (and waits until it is between writes) as writers are held off.
struct WithWriter<'a> {
    writer: &'a Writer,
    at: std::sync::atomic::AtomicU64,
    /// Whether the run held writers off.
    held: std::sync::atomic::AtomicBool,
}

impl upgrade::Progress for WithWriter<'_> {
    fn step(&self, text: &str) {
        use std::sync::atomic::Ordering;
        let now = self.writer.writes.load(Ordering::SeqCst);
        if text.starts_with("copying") {
            self.at.store(now, Ordering::SeqCst);
        } else if text.starts_with("indexes and keys") || text.starts_with("catch-up pass") {
            // Writes land during the copy and during every pass.
            self.writer.wait_for(self.at.load(Ordering::SeqCst), 30);
            self.at
                .store(self.writer.writes.load(Ordering::SeqCst), Ordering::SeqCst);
        } else if text.starts_with("holding writers off") {
            self.held.store(true, Ordering::SeqCst);
            // Some writes after the last pass read the tables: the last delta carries them.
            self.writer.wait_for(self.at.load(Ordering::SeqCst), 30);
            self.writer.stop.store(true, Ordering::SeqCst);
            while !self.writer.stopped.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// A real writer on its own connection writes to the biggest table while it is copied and
/// caught up; after the switch the new database holds exactly what the writer committed (no
/// write lost, none doubled) and the same rows as the retained original, and the report shows
/// the passes and the last delta.
fn a_concurrent_writer_loses_no_write(
    target: &Target,
    platform: Platform,
    retained_open: impl Fn(&str) -> Box<dyn Driver>,
) -> TransferReport {
    deploy(target, &v1(platform));
    {
        let mut driver = connect(target, false).expect("connect");
        fill(driver.as_mut(), platform);
    }
    let writer = Writer::new();
    let progress = WithWriter {
        writer: &writer,
        at: std::sync::atomic::AtomicU64::new(0),
        held: std::sync::atomic::AtomicBool::new(false),
    };
    let outcome = std::thread::scope(|scope| {
        scope.spawn(|| writer.run(target));
        let outcome = upgrade::side_by_side(target, &v2(platform), &options(), &progress);
        writer.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        outcome
    })
    .expect("side by side with a writer");
    let report = &outcome.report;
    let text = report.text();
    assert_eq!(report.early_copy, EarlyCopy::CaughtUp, "{text}");
    assert!(
        report.catch_up.iter().any(|p| !p.held && p.rows() > 0)
            && report
                .catch_up
                .last()
                .is_some_and(|p| p.held && p.rows() > 0),
        "passes carried rows while the writer wrote, and the last delta too: {text}"
    );
    let json = report.json();
    assert!(
        json.contains("\"catch_up\"") && json.contains("\"window_reason\""),
        "{json}"
    );
    assert!(text.contains("(the last delta, writers held)"), "{text}");
    let mut new = connect(target, false).expect("connect");
    let mut retained = retained_open(&report.retained);
    assert_eq!(
        fingerprint(new.as_mut(), &["orders"], dq),
        fingerprint(retained.as_mut(), &["orders"], dq),
        "the new database's orders are the retained original's: {text}"
    );
    let committed = writer.rows.lock().expect("rows").clone();
    assert!(
        committed.len() > 60,
        "the writer wrote: {}",
        committed.len()
    );
    for (id, row) in &committed {
        let found = new
            .query(&format!("SELECT amount, code FROM orders WHERE id = {id}"))
            .expect("read");
        let found: Option<(i64, String)> = found.first().map(|r| {
            (
                r[0].as_deref().and_then(|a| a.parse().ok()).unwrap_or(-1),
                r[1].clone().unwrap_or_default(),
            )
        });
        assert_eq!(&found, row, "order {id} as the writer committed it: {text}");
    }
    outcome.report
}

#[test]
fn sqlite_a_concurrent_writer_loses_no_write() {
    on_sqlite("shop.db", |target| {
        let report = a_concurrent_writer_loses_no_write(target, Platform::Sqlite, open_sqlite);
        // Caught up from the change log alone: no table needed the merge.
        let method = report.catch_up_method.unwrap_or_default();
        assert!(
            method.starts_with("change-log triggers") && !method.contains("merged whole"),
            "{method}"
        );
    });
}

#[test]
fn postgres_a_concurrent_writer_loses_no_write() {
    on_postgres("sbs_writer", |target, url| {
        let report = a_concurrent_writer_loses_no_write(target, Platform::Postgres, |name| {
            open_postgres(url, name)
        });
        // The shared server keeps PostgreSQL's default wal_level (replica).
        let method = report.catch_up_method.clone().unwrap_or_default();
        assert!(
            method.starts_with("row versions") && method.contains("wal_level is replica"),
            "{}",
            report.text()
        );
        assert!(
            report
                .text()
                .contains("writes during the copy found by: row versions")
        );
    });
}

/// A server of this binary's own with logical decoding (`wal_level = logical`).
fn logical_server() -> &'static PgServer {
    static SERVER: std::sync::OnceLock<PgServer> = std::sync::OnceLock::new();
    SERVER.get_or_init(dac_tests::postgres::start_logical)
}

/// The replication slots on the server of `url` (every database's).
fn replication_slots(url: &str) -> Vec<String> {
    let mut admin = PostgresServer::connect(url).expect("server");
    // Only this test's database, under its own name or one the run gave it (`name__...`): the
    // other tests on the server make slots of their own meanwhile.
    let database = admin.database().replace('\'', "''");
    let mut driver = admin.open("postgres").expect("postgres");
    driver
        .query(&format!(
            "SELECT slot_name FROM pg_replication_slots \
             WHERE database = '{database}' OR database LIKE '{database}\\_\\_%'"
        ))
        .expect("slots")
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

#[test]
fn postgres_logical_decoding_catches_a_concurrent_writer_up() {
    on_postgres_at(logical_server(), "sbs_logical", |target, url| {
        let report = a_concurrent_writer_loses_no_write(target, Platform::Postgres, |name| {
            open_postgres(url, name)
        });
        let text = report.text();
        assert!(
            report
                .catch_up_method
                .as_deref()
                .is_some_and(|m| m.starts_with("logical decoding (slot dac_sbs_")),
            "{text}"
        );
        assert!(
            text.contains("writes during the copy found by: logical decoding"),
            "{text}"
        );
        assert_eq!(replication_slots(url), Vec::<String>::new(), "no slot left");
    });
}

#[test]
fn postgres_logical_decoding_leaves_no_slot_when_the_run_fails() {
    on_postgres_at(logical_server(), "sbs_logical_fail", |target, url| {
        writes_that_outpace_the_passes_end_the_run(target, Platform::Postgres);
        assert_eq!(replication_slots(url), Vec::<String>::new(), "no slot left");
    });
}

/// A writer the passes cannot catch up with (every pass carries rows, and the bound is set so
/// that no pass is small enough): the run is refused after the passes allowed, writers were
/// never held (the writer never waited nor failed), the original keeps every write, at v1 and
/// writable, and nothing is left behind.
fn writes_that_outpace_the_passes_end_the_run(target: &Target, platform: Platform) {
    use std::sync::atomic::Ordering;
    deploy(target, &v1(platform));
    {
        let mut driver = connect(target, false).expect("connect");
        fill(driver.as_mut(), platform);
    }
    let writer = Writer::new();
    let progress = WithWriter {
        writer: &writer,
        at: std::sync::atomic::AtomicU64::new(0),
        held: std::sync::atomic::AtomicBool::new(false),
    };
    let options = SideBySideOptions {
        last_delta_rows: 0,
        max_passes: 3,
        ..options()
    };
    let result = std::thread::scope(|scope| {
        scope.spawn(|| writer.run(target));
        let result = upgrade::side_by_side(target, &v2(platform), &options, &progress);
        writer.stop.store(true, Ordering::SeqCst);
        result
    });
    let err = result.expect_err("writes that outpace the passes end the run");
    let message = err.to_string();
    assert!(err.is_refusal(), "a refusal (exit code 3): {message}");
    assert!(
        message.contains("outpace")
            && message.contains("3 passes")
            && message.contains("never held"),
        "{message}"
    );
    assert!(
        !progress.held.load(Ordering::SeqCst),
        "writers were never held: {message}"
    );
    assert_eq!(
        *writer.failed.lock().expect("failed"),
        None,
        "no write failed"
    );
    let mut original = connect(target, false).expect("connect");
    assert_eq!(
        original
            .read_registration()
            .expect("registry")
            .expect("registered")
            .version,
        "1.0"
    );
    for (id, row) in writer.rows.lock().expect("rows").iter() {
        let found = original
            .query(&format!("SELECT amount, code FROM orders WHERE id = {id}"))
            .expect("read");
        let found: Option<(i64, String)> = found.first().map(|r| {
            (
                r[0].as_deref().and_then(|a| a.parse().ok()).unwrap_or(-1),
                r[1].clone().unwrap_or_default(),
            )
        });
        assert_eq!(&found, row, "order {id} in the original as written");
    }
    original
        .execute("INSERT INTO legacy VALUES (3, 'writable')")
        .expect("the original is writable");
}

#[test]
fn sqlite_writes_that_outpace_the_passes_end_the_run() {
    on_sqlite("shop.db", |target| {
        writes_that_outpace_the_passes_end_the_run(target, Platform::Sqlite);
        let Target::Sqlite { path } = target else {
            unreachable!("a SQLite target")
        };
        let journal = format!("{}.dac-journal", path.display());
        assert!(!Path::new(&journal).exists(), "no journal left");
    });
}

#[test]
fn postgres_writes_that_outpace_the_passes_end_the_run() {
    on_postgres("sbs_outpaced", |target, _| {
        writes_that_outpace_the_passes_end_the_run(target, Platform::Postgres);
    });
}

/// A table without a primary key cannot be caught up by key: written to during the early copy,
/// it is copied again with writers held, and the report says so; a keyed table written to at
/// the same time is caught up.
fn a_written_table_without_a_key_is_copied_again(
    target: &Target,
    platform: Platform,
    retained_open: impl Fn(&str) -> Box<dyn Driver>,
) {
    let schema = "CREATE TABLE keyed (id integer PRIMARY KEY, v text); CREATE TABLE heap (v text); \
                  CREATE TABLE pairs (a integer, b text, v text, PRIMARY KEY (a, b));";
    deploy(target, &package(platform, "1.0", schema));
    {
        let mut driver = connect(target, false).expect("connect");
        for i in 1..=20 {
            driver
                .execute(&format!(
                    "INSERT INTO keyed VALUES ({i}, 'k{i}'); INSERT INTO heap VALUES ('h{i}'); \
                     INSERT INTO pairs VALUES ({i}, 'b{i}', 'p{i}')"
                ))
                .expect("rows");
        }
    }
    let v2 = package(
        platform,
        "2.0",
        &format!("{schema} CREATE TABLE added (id integer PRIMARY KEY);"),
    );
    let progress = WriteDuringEarlyCopy {
        target: target.clone(),
        statements: vec![
            "INSERT INTO heap VALUES ('late')".into(),
            "DELETE FROM heap WHERE v = 'h3'".into(),
            "UPDATE keyed SET v = 'changed' WHERE id = 3".into(),
            // A composite key: an update, an insert, a delete, and a key changed.
            "UPDATE pairs SET v = 'changed' WHERE a = 1 AND b = 'b1'".into(),
            "INSERT INTO pairs VALUES (21, 'b''new', NULL)".into(),
            "DELETE FROM pairs WHERE a = 2".into(),
            "UPDATE pairs SET b = 'moved' WHERE a = 4".into(),
        ],
        open: std::sync::Mutex::new(None),
        written: std::sync::atomic::AtomicBool::new(false),
    };
    let outcome = upgrade::side_by_side(target, &v2, &options(), &progress).expect("side by side");
    let report = &outcome.report;
    let text = report.text();
    assert_eq!(report.early_copy, EarlyCopy::CaughtUp, "{text}");
    assert_eq!(report.copied_again.len(), 1, "{text}");
    assert!(report.copied_again[0].contains("heap"), "{text}");
    assert!(
        text.contains("no primary key to catch up by") && text.contains("without a primary key"),
        "{text}"
    );
    let mut new = connect(target, false).expect("connect");
    let mut retained = retained_open(&report.retained);
    assert_eq!(
        fingerprint(new.as_mut(), &["keyed", "heap", "pairs"], dq),
        fingerprint(retained.as_mut(), &["keyed", "heap", "pairs"], dq),
        "{text}"
    );
    assert_eq!(
        new.query("SELECT v FROM keyed WHERE id = 3")
            .expect("keyed")[0][0]
            .as_deref(),
        Some("changed")
    );
}

#[test]
fn sqlite_a_written_table_without_a_key_is_copied_again() {
    on_sqlite("shop.db", |target| {
        a_written_table_without_a_key_is_copied_again(target, Platform::Sqlite, open_sqlite);
    });
}

#[test]
fn postgres_a_written_table_without_a_key_is_copied_again() {
    on_postgres("sbs_keyless", |target, url| {
        a_written_table_without_a_key_is_copied_again(target, Platform::Postgres, |name| {
            open_postgres(url, name)
        });
    });
}

/// Rows that break a CHECK the package adds, fixed by its pre-deployment script: an in-place
/// upgrade runs the script before it adds the constraint, and so must a side-by-side upgrade
/// (issue 20 item 8). Both modes end with the same rows and the constraint in force.
fn a_check_fixed_by_the_predeploy_script(
    in_place_target: &Target,
    side_by_side_target: &Target,
    platform: Platform,
) {
    let v1 = package(
        platform,
        "1.0",
        "CREATE TABLE items (id integer PRIMARY KEY, qty integer NOT NULL, note text);
         CREATE INDEX items_qty ON items (qty);",
    );
    let mut v2 = package(
        platform,
        "2.0",
        "CREATE TABLE items (id integer PRIMARY KEY, qty integer NOT NULL CHECK (qty >= 0), note text);
         CREATE INDEX items_qty ON items (qty);",
    );
    v2.predeploy = Some("UPDATE items SET qty = 0 WHERE qty < 0;".into());
    for (target, side_by_side) in [(in_place_target, false), (side_by_side_target, true)] {
        deploy(target, &v1);
        let mut driver = connect(target, false).expect("connect");
        driver
            .execute("INSERT INTO items (id, qty, note) VALUES (1, -5, 'broken'), (2, 3, 'fine')")
            .expect("rows");
        drop(driver);
        let mode = if side_by_side {
            "side by side"
        } else {
            "in place"
        };
        if side_by_side {
            upgrade::side_by_side(target, &v2, &options(), &NoProgress)
                .unwrap_or_else(|e| panic!("{platform:?} {mode}: {e}"));
        } else {
            let mut driver = connect(target, false).expect("connect");
            upgrade::in_place(driver.as_mut(), &v2, &InPlaceOptions::default())
                .unwrap_or_else(|e| panic!("{platform:?} {mode}: {e}"));
        }
        let mut driver = connect(target, false).expect("connect");
        assert_eq!(
            driver
                .query("SELECT id, qty FROM items ORDER BY id")
                .expect("rows"),
            vec![
                vec![Some("1".to_string()), Some("0".to_string())],
                vec![Some("2".to_string()), Some("3".to_string())]
            ],
            "{platform:?} {mode}"
        );
        assert!(
            driver
                .execute("INSERT INTO items (id, qty) VALUES (3, -1)")
                .is_err(),
            "{platform:?} {mode}: the CHECK is not in force"
        );
        let (_, drift) = upgrade::drift(driver.as_mut())
            .expect("drift")
            .expect("registered");
        assert!(
            drift.is_empty(),
            "{platform:?} {mode}: the schema is not the package's: {drift:?}"
        );
    }
}

#[test]
fn sqlite_a_check_fixed_by_the_predeploy_script_upgrades_in_both_modes() {
    on_sqlite("in_place.db", |in_place| {
        on_sqlite("side.db", |side| {
            a_check_fixed_by_the_predeploy_script(in_place, side, Platform::Sqlite);
        });
    });
}

#[test]
fn postgres_a_check_fixed_by_the_predeploy_script_upgrades_in_both_modes() {
    on_postgres("check_in_place", |in_place, _| {
        on_postgres("check_side", |side, _| {
            a_check_fixed_by_the_predeploy_script(in_place, side, Platform::Postgres);
        });
    });
}

#[test]
fn postgres_logical_decoding_copies_a_written_table_without_a_key_again() {
    on_postgres_at(logical_server(), "sbs_logical_keyless", |target, url| {
        a_written_table_without_a_key_is_copied_again(target, Platform::Postgres, |name| {
            open_postgres(url, name)
        });
        assert_eq!(replication_slots(url), Vec::<String>::new(), "no slot left");
    });
}

/// Logical decoding names a partition's (or an inheritance child's) changes by the partition,
/// never by the parent that is copied: on such a database the mark takes no slot and says why
/// (the catch-up is by row versions, which see the children through the parent).
#[test]
fn postgres_partitioned_tables_are_caught_up_by_row_versions() {
    on_postgres_at(logical_server(), "sbs_logical_parts", |_, url| {
        let mut admin = PostgresServer::connect(url).expect("server");
        let database = admin.database().to_string();
        admin
            .open(&database)
            .expect("open")
            .execute(
                "CREATE TABLE measures (id integer, at date) PARTITION BY RANGE (at); \
                 CREATE TABLE measures_2026 PARTITION OF measures \
                 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
            )
            .expect("partitioned table");
        let capture = admin.change_capture(&database).expect("capture");
        let stream = capture.stream.expect("the server has logical decoding");
        let mark = admin
            .mark_writes(&database, Some(&stream))
            .expect("mark")
            .expect("a mark");
        let method = mark.method().unwrap_or_default();
        assert!(
            method.starts_with("row versions")
                && method.contains("partitioned or inherited tables (measures)"),
            "{method}"
        );
        assert_eq!(replication_slots(url), Vec::<String>::new(), "no slot made");
    });
}

/// The whole-database copy method (Azure SQL Database's; `VACUUM INTO` on SQLite): the
/// original copied with writers held, the copy upgraded in place, the names switched. The
/// report says which method ran and why, and each table's rows are the copy's, counted before
/// and after the in-place upgrade.
#[test]
fn sqlite_a_whole_database_copy_is_upgraded_in_place_and_switched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = Target::Sqlite {
        path: dir.path().join("whole.db"),
    };
    deploy(&target, &v1(Platform::Sqlite));
    let before = {
        let mut driver = connect(&target, false).expect("connect");
        fill(driver.as_mut(), Platform::Sqlite);
        fingerprint(driver.as_mut(), V1_TABLES, dq)
    };
    let mut whole = options();
    whole.copy_method = upgrade::CopyMethod::Database;
    let outcome = upgrade::side_by_side(&target, &v2(Platform::Sqlite), &whole, &NoProgress)
        .expect("side by side, whole database");
    let report = &outcome.report;
    let text = report.text();
    assert_eq!(
        report.copy_method.as_deref(),
        Some("asked for (--copy-method database); the database was copied with VACUUM INTO"),
        "{text}"
    );
    assert!(
        text.contains("method: asked for (--copy-method database)"),
        "{text}"
    );
    let row = |name: &str| {
        report
            .tables
            .iter()
            .find(|t| t.name.ends_with(&format!("[{}]", name.replace(']', "]]"))))
            .unwrap_or_else(|| panic!("{name} in the report: {text}"))
    };
    let reason = |name: &str| row(name).reason.clone().unwrap_or_default();
    assert_eq!(row("customers").rows, 50, "{text}");
    assert_eq!(
        reason("customers"),
        "the copy's rows: 50 before the in-place upgrade, 50 after",
        "{text}"
    );
    assert_eq!(row("orders").rows, 500, "{text}");
    assert_eq!(row(HOSTILE).rows, 2, "{text}");
    assert!(!row("legacy").copied, "{text}");
    assert_eq!(
        reason("legacy"),
        "2 rows in the copy, dropped by the in-place upgrade",
        "{text}"
    );
    assert_eq!(
        reason("scratch"),
        "1 rows in the copy, dropped by the in-place upgrade",
        "{text}"
    );
    assert_eq!(
        reason("audit"),
        "created by the in-place upgrade (0 rows)",
        "{text}"
    );
    // In place, a table the package has kept its rows, registered or not.
    assert_eq!(row("extra").rows, 1, "{text}");
    assert_eq!(report.rows_copied, 50 + 500 + 2 + 1, "{text}");
    let json: serde_json::Value = serde_json::from_str(&report.json()).expect("json");
    assert!(
        json["copy_method"]
            .as_str()
            .is_some_and(|m| m.contains("VACUUM INTO")),
        "{json}"
    );
    assert!(
        report.markdown().contains("Method: asked for"),
        "{}",
        report.markdown()
    );

    // The upgraded copy under the original name: v2, its history says how it was made.
    let mut new = connect(&target, false).expect("connect");
    let registration = new
        .read_registration()
        .expect("registry")
        .expect("registered");
    assert_eq!(registration.version, "2.0");
    let history = new.history().expect("history");
    let last = history.last().expect("history entry");
    assert_eq!(last.action.as_str(), "side-by-side", "{history:?}");
    assert!(
        last.message
            .contains("the whole database copied and upgraded in place"),
        "{history:?}"
    );
    assert_eq!(
        fingerprint(new.as_mut(), &[HOSTILE], dq)[HOSTILE],
        before[HOSTILE],
        "rows of {HOSTILE} are the copy's"
    );
    new.execute("INSERT INTO audit VALUES (1, 'now')")
        .expect("the new database is writable");
    drop(new);

    // The original, retained, untouched and read-only.
    let mut retained = open_sqlite(&report.retained);
    assert_eq!(fingerprint(retained.as_mut(), V1_TABLES, dq), before);
    assert_eq!(
        retained
            .read_registration()
            .expect("registry")
            .expect("registered")
            .version,
        "1.0"
    );
    assert!(
        std::fs::metadata(&report.retained)
            .expect("retained")
            .permissions()
            .readonly(),
        "the retained original is read-only"
    );
    drop(retained);
    assert!(!dir.path().join("whole.db.dac-new").exists());

    // Rollback switches the names back (forced: the new database took a write).
    let rolled = upgrade::rollback(&target, true, upgrade::LOCK_WAIT).expect("rollback");
    assert_eq!(rolled.version.as_deref(), Some("1.0"));
    let mut driver = connect(&target, false).expect("connect");
    assert_eq!(fingerprint(driver.as_mut(), V1_TABLES, dq), before);
}

/// A statement of the in-place upgrade of the copy that fails undoes the whole run: the copy
/// dropped, the original exactly as it was and writable, the failure in its history, no
/// journal.
#[test]
fn sqlite_a_failed_upgrade_of_the_whole_copy_is_undone() {
    on_sqlite("whole-fail.db", |target| {
        let v1 = package(
            Platform::Sqlite,
            "1.0",
            "CREATE TABLE small (id integer PRIMARY KEY, code text);",
        );
        deploy(target, &v1);
        let mut driver = connect(target, false).expect("connect");
        driver
            .execute("INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'a')")
            .expect("rows");
        let before = fingerprint(driver.as_mut(), &["small"], dq);
        drop(driver);
        let v2 = package(
            Platform::Sqlite,
            "2.0",
            "CREATE TABLE small (id integer PRIMARY KEY, code text);
             CREATE UNIQUE INDEX small_code ON small (code);",
        );
        let mut whole = options();
        whole.copy_method = upgrade::CopyMethod::Database;
        let err = upgrade::side_by_side(target, &v2, &whole, &NoProgress)
            .expect_err("code 'a' twice breaks the unique index");
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        let mut driver = connect(target, false).expect("connect");
        assert_eq!(fingerprint(driver.as_mut(), &["small"], dq), before);
        driver
            .execute("INSERT INTO small VALUES (4, 'writable')")
            .expect("writable");
        let history = driver.history().expect("history");
        assert_eq!(
            history.last().expect("entry").status.as_str(),
            "fail",
            "{history:?}"
        );
        assert!(upgrade::journal(target).expect("journal").is_none());
    });
}

/// PostgreSQL has no whole-database copy behind `Server` yet: asking for one is refused
/// before anything is touched.
#[test]
fn postgres_refuses_a_whole_database_copy() {
    on_postgres("sbs_whole", |target, _| {
        deploy(target, &v1(Platform::Postgres));
        let mut whole = options();
        whole.copy_method = upgrade::CopyMethod::Database;
        let err = upgrade::side_by_side(target, &v2(Platform::Postgres), &whole, &NoProgress)
            .expect_err("no whole-database copy on PostgreSQL");
        assert!(
            err.to_string()
                .contains("--copy-method database: postgres cannot copy a whole database"),
            "{err}"
        );
        assert!(upgrade::journal(target).expect("journal").is_none());
    });
}
