//! `dac info`.

use crate::util::{dac, root};

#[test]
fn hostile_packages_fail_with_exit_1_and_name_the_file() {
    let hostile = root().join("fixtures/hostile");
    let mut n_checked = 0;
    for entry in std::fs::read_dir(&hostile).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "dacpac") {
            continue;
        }
        // These load under the default limits; the engine tests them with tighter ones.
        let name = path.file_name().unwrap().to_str().unwrap();
        if [
            "valid.dacpac",
            "too_many_entries.dacpac",
            "bomb.dacpac",
            "control_metadata.dacpac",
        ]
        .contains(&name)
        {
            let run = dac(&hostile, &["info", path.to_str().unwrap()]);
            run.expect_code(0);
            continue;
        }
        let run = dac(&hostile, &["info", path.to_str().unwrap()]);
        assert_eq!(
            run.code,
            1,
            "{}: {}{}",
            path.display(),
            run.stdout,
            run.stderr
        );
        let file_name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            run.stderr.contains(file_name),
            "{}: error does not name the file: {}",
            path.display(),
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        n_checked += 1;
    }
    assert!(n_checked >= 8, "only {n_checked} hostile packages found");
}

#[test]
fn control_characters_from_a_package_are_escaped_in_human_output() {
    let hostile = root().join("fixtures/hostile");
    let package = hostile.join("control_metadata.dacpac");
    let package = package.to_str().unwrap();
    let text = dac(&hostile, &["info", package]);
    text.expect_code(0);
    assert!(
        text.stdout
            .contains("Hostile\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\u{202e}gnp.exe"),
        "{}",
        text.stdout
    );
    let compare = dac(&hostile, &["compare", package, package]);
    compare.expect_code(0);
    for output in [&text.stdout, &text.stderr, &compare.stdout, &compare.stderr] {
        assert!(
            !output.contains(['\u{1b}', '\u{7}', '\u{202e}']),
            "{output:?}"
        );
    }
    // JSON escapes what JSON must and keeps the name exact.
    let json = dac(&hostile, &["info", package, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["name"],
        "Hostile\u{1b}[2J\u{1b}]0;owned\u{7}\u{202e}gnp.exe"
    );
}

#[test]
fn missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = dac(dir.path(), &["info", "nope.dacpac"]);
    run.expect_code(1);
    assert!(run.stderr.contains("nope.dacpac"), "{}", run.stderr);
}

#[test]
fn json_shape_of_a_corpus_package() {
    let shared = root().join("../shared/corpus/dacpac");
    if !shared.is_dir() {
        eprintln!("*** NOT RUN: json_shape_of_a_corpus_package needs ../shared ***");
        assert!(
            std::env::var_os("DAC_REQUIRE_SHARED").is_none(),
            "../shared is required"
        );
        return;
    }
    let package = shared.join("ErikEJ__EFCorePowerTools/Chinook.dacpac");
    let run = dac(
        &shared,
        &["info", package.to_str().unwrap(), "--format", "json"],
    );
    run.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["name"], "Database1");
    assert_eq!(json["version"], "1.0.0.0");
    assert_eq!(json["platform"], "sqlserver");
    assert_eq!(json["dsp"], "Sql130");
    assert_eq!(json["elements"]["SqlTable"], 11);
    assert_eq!(json["elements"]["SqlForeignKeyConstraint"], 11);
    assert_eq!(json["scripts"]["predeploy"], false);
    assert!(json["opaque"].as_object().unwrap().is_empty());
}

#[test]
fn opaque_objects_are_listed() {
    let shared = root().join("../shared/corpus/dacpac");
    if !shared.is_dir() {
        eprintln!("*** NOT RUN: opaque_objects_are_listed needs ../shared ***");
        assert!(
            std::env::var_os("DAC_REQUIRE_SHARED").is_none(),
            "../shared is required"
        );
        return;
    }
    let package = shared.join("ErikEJ__EFCorePowerTools/AdventureWorks.dacpac");
    let run = dac(
        &shared,
        &["info", package.to_str().unwrap(), "--format", "json"],
    );
    run.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["opaque"]["SqlXmlIndex"], 8);
    assert_eq!(json["opaque"]["SqlXmlSchemaCollection"], 6);
    let text = dac(&shared, &["info", package.to_str().unwrap()]);
    text.expect_code(0);
    assert!(
        text.stdout.contains("SqlXmlIndex  (opaque)"),
        "{}",
        text.stdout
    );
}
