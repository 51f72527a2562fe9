//! Placeholder for the SQLite/PostgreSQL statement parser (written on another branch; replaced
//! at merge).

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::{Element, Platform};

/// Parses one batch of SQLite or PostgreSQL DDL into model elements.
pub fn parse_batch(
    platform: Platform,
    sql: &str,
    file: &Path,
    start_line: u64,
) -> Result<Vec<Element>> {
    let _ = (sql, file, start_line);
    Err(Error::Invalid(format!(
        "building {} projects is not yet available",
        platform.as_str()
    )))
}
