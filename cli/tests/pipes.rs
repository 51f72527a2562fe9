//! A reader that goes away (`| head -1`, `| true`, a closed stderr) never turns a result into
//! a panic or changes the exit code's meaning.

use std::path::Path;

use crate::util::{Closed, build_finance, dac_with_closed};

fn registered_version(db: &Path) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT version FROM _dac_registry", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn compare_into_a_closed_pipe_still_exits_2_for_differences() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_finance(dir.path(), "1.0.0", "finance-v1");
    let v2 = build_finance(dir.path(), "2.0.0", "finance-v2");
    for format in ["text", "json", "markdown"] {
        let run = dac_with_closed(
            dir.path(),
            &["compare", &v1, &v2, "--format", format],
            Closed::Stdout,
        );
        run.expect_code(2);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    dac_with_closed(dir.path(), &["compare", &v1, &v1], Closed::Stdout).expect_code(0);
    dac_with_closed(dir.path(), &["info", &v1], Closed::Stdout).expect_code(0);
}

#[test]
fn an_upgrade_into_a_closed_pipe_succeeds_and_says_so_by_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = build_finance(dir.path(), "1.0.0", "finance-v1");
    let v2 = build_finance(dir.path(), "2.0.0", "finance-v2");
    let db = dir.path().join("finance.db");
    let target = format!("sqlite:{}", db.display());
    let in_place = |package: &str, closed| {
        dac_with_closed(
            dir.path(),
            &[
                "upgrade",
                package,
                "--target",
                &target,
                "--in-place",
                "--show-script",
            ],
            closed,
        )
    };
    let run = in_place(&v1, Closed::Stdout);
    run.expect_code(0);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(registered_version(&db), "1.0.0");
    // Up to date, with stderr closed as well.
    in_place(&v1, Closed::Stderr).expect_code(0);
    // Side by side: progress lines go to a closed stderr during the copy, the report to stdout.
    let side_by_side = |closed| {
        dac_with_closed(
            dir.path(),
            &[
                "upgrade",
                &v2,
                "--target",
                &target,
                "--side-by-side",
                "--allow-data-loss",
            ],
            closed,
        )
    };
    let run = side_by_side(Closed::Stderr);
    run.expect_code(0);
    assert!(run.stdout.contains("2.0.0"), "{}", run.stdout);
    assert_eq!(registered_version(&db), "2.0.0");
    let run = dac_with_closed(
        dir.path(),
        &["rollback", "--target", &target],
        Closed::Stdout,
    );
    run.expect_code(0);
    assert_eq!(registered_version(&db), "1.0.0");
    let run = side_by_side(Closed::Stdout);
    run.expect_code(0);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(registered_version(&db), "2.0.0");
}
