//! Canonical models kept on disk, so comparing a live database with the same package again
//! skips the scratch deploy that canonicalisation costs (seconds for hundreds of tables).
//!
//! An entry is keyed by everything the canonical model depends on: the desired model (as
//! model.xml), the server (its version and the extensions it offers) and this build of dac (its
//! executable's size and modification time, so a rebuilt dac never reads an older dac's entry).
//! Off unless a directory is given ([`enable`], as the `dac` binary does, or
//! `DAC_CANONICAL_CACHE`); `DAC_CANONICAL_CACHE=off` turns it off. Entries are written to a
//! temporary file and renamed; the oldest go when there are more than [`MAX_ENTRIES`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::model::Model;
use crate::package::model_xml;

/// Entries kept; the least recently written go first.
const MAX_ENTRIES: usize = 32;

static DIRECTORY: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Turns the cache on in `default_dir` unless `DAC_CANONICAL_CACHE` names another directory or
/// `off`. Call once, before the first canonicalisation.
pub fn enable(default_dir: Option<PathBuf>) {
    let _ = DIRECTORY.set(from_env().unwrap_or(default_dir));
}

/// `Some(setting)` when the environment decides: a directory, or `None` for `off`.
fn from_env() -> Option<Option<PathBuf>> {
    let value = std::env::var_os("DAC_CANONICAL_CACHE")?;
    if value.is_empty() || value == "off" {
        Some(None)
    } else {
        Some(Some(PathBuf::from(value)))
    }
}

fn directory() -> Option<&'static Path> {
    DIRECTORY.get_or_init(|| from_env().flatten()).as_deref()
}

/// Whether canonical models are cached.
pub(crate) fn is_on() -> bool {
    directory().is_some()
}

/// The key of `desired` canonicalised on a server described by `server` (`None` when this
/// build of dac cannot be told from another).
pub(crate) fn key(desired: &Model, server: &str) -> Option<String> {
    let build = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{modified}", m.len())
        })
        .ok()?;
    let mut input = model_xml::render(desired);
    input.extend_from_slice(b"\0");
    input.extend_from_slice(server.as_bytes());
    input.extend_from_slice(b"\0");
    input.extend_from_slice(build.as_bytes());
    input.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    Some(crate::package::sha256_hex(&input))
}

/// The canonical model stored under `key`, if any and readable.
pub(crate) fn get(key: &str) -> Option<Model> {
    let path = directory()?.join(format!("{key}.xml"));
    let bytes = std::fs::read(path).ok()?;
    model_xml::parse(&bytes).ok()
}

/// Stores `model` under `key`. A cache that cannot be written only costs the next run time.
pub(crate) fn put(key: &str, model: &Model) {
    let Some(dir) = directory() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let path = dir.join(format!("{key}.xml"));
    let temporary = dir.join(format!("{key}.{}.tmp", std::process::id()));
    if std::fs::write(&temporary, model_xml::render(model)).is_ok() {
        let _ = std::fs::rename(&temporary, &path);
    }
    let _ = std::fs::remove_file(&temporary);
    prune(dir);
}

/// Removes the oldest entries beyond [`MAX_ENTRIES`].
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "xml"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= MAX_ENTRIES {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - MAX_ENTRIES] {
        let _ = std::fs::remove_file(path);
    }
}
