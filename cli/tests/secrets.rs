//! A password in a connection string never reaches stdout or stderr, however the string fails.

use crate::util::{dac, root};

/// Every string holds a password containing `S3cret`; none is a usable connection string.
const BROKEN_TARGETS: &[&str] = &[
    "Server=tcp:h,1433;User Id=sa;Password=Sup3rS3cret;Colour=blue",
    "Server=tcp:h,abc;User Id=sa;Password=Sup3rS3cret",
    "Server=h;Integrated Security=true;Password=Sup3rS3cret",
    "Database=shop;User Id=sa;Password=Sup3rS3cret",
    "host=h port=5432 user=u password=Sup3rS3cret dbname=d",
    "host=h password = 'Sup3r S3cret' dbname=d",
    "host=h sslpassword=Sup3rS3cret",
    "mysql://user:Sup3rS3cret@h/db",
    "postgres://u:Sup3rS3cret@h:abc/db",
    "postgres://u:Sup3rS3cret@h/db?colour=blue",
    "postgresql://u@h/db?password=Sup3rS3cret&colour=blue",
    "postgres://u@h/db?pass%77ord=Sup3rS3cret&bogus=1",
    "postgres://u:Sup3rS3cret@h/db?sslmode=bogus",
    "postgres://u:Sup3r/S3cret@h/db?colour=blue",
    "postgres://u:Sup3rS3cret@[::1/db",
    "sqlserver://sa:Sup3rS3cret@h:abc/db",
    "sqlserver://sa:Sup3rS3cret@h/db?colour=blue",
    "mssql://sa@h/db?password=Sup3rS3cret&x=1",
    "Server=h;Pwd=Sup3rS3cret;Encrypt=maybe",
    "Server=h;Password=\"Sup3rS3cret;x\";Colour=1",
    "Server=h;Password={Sup3rS3cret};Timeout=soon",
    "Server=np:h;Password=Sup3rS3cret",
    "Data Source=h\\inst;Password=Sup3rS3cret",
    "Password=Sup3rS3cret",
    "PWD=Sup3rS3cret;UID=sa",
    "jdbc:sqlserver://h:1433;user=sa;password=Sup3rS3cret",
    "redis://:Sup3rS3cret@h:6379",
    "mongodb://u:Sup3rS3cret@h1,h2/db",
    "Server=h;Password Sup3rS3cret;Database=d",
    "Server = h ; Password = Sup3rS3cret ; Encrypt = sometimes",
    "ftp://u:Sup3rS3cret@h/x.dacpac",
];

#[test]
fn broken_connection_strings_never_show_their_password() {
    let dir = tempfile::tempdir().unwrap();
    let project = root().join("fixtures/projects/shop-sqlite-v1");
    let project = project.to_str().unwrap();
    for target in BROKEN_TARGETS {
        for args in [
            vec!["compare", target, project],
            vec!["compare", project, target],
            vec!["script", project, "--target", target],
            vec!["deploy-report", project, "--target", target],
            vec!["upgrade", project, "--target", target, "--in-place"],
            vec!["drift-report", "--target", target],
        ] {
            let run = dac(dir.path(), &args);
            run.expect_code(1);
            for output in [&run.stdout, &run.stderr] {
                assert!(!output.contains("S3cret"), "{args:?}\n{output}");
            }
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
}
