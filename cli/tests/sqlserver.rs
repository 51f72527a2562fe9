//! SQL Server targets on the command line, without a server: a string that does not parse and a
//! server that does not answer are one clear line each (exit 1), and never show the password.

use crate::util::dac;

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

#[test]
fn unreachable_servers_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let target = format!(
        "Server=tcp:127.0.0.1,{};Database=Shop;User Id=sa;Password=s3cr3t;Connect Timeout=5",
        closed_port()
    );
    for args in [
        vec!["extract", "--target", &target, "-o", "out.dacpac"],
        vec!["drift-report", "--target", &target],
        vec![
            "register",
            "--target",
            &target,
            "--name",
            "Shop",
            "--version",
            "1.0",
        ],
    ] {
        let run = dac(dir.path(), &args);
        run.expect_code(1);
        assert!(
            run.stderr
                .contains("cannot connect to SQL Server at 127.0.0.1:"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
        assert!(!run.stdout.contains("s3cr3t"), "{}", run.stdout);
        assert!(run.stderr.lines().count() <= 2, "{}", run.stderr);
    }
}

#[test]
fn bad_connection_strings_are_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let run = dac(
        dir.path(),
        &[
            "extract",
            "--target",
            "Server=tcp:h,1433;Password=s3cr3t;Colour=blue",
            "-o",
            "out.dacpac",
        ],
    );
    run.expect_code(1);
    assert!(run.stderr.contains("Colour"), "{}", run.stderr);
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
}
