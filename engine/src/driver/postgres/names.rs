//! PostgreSQL's limit on identifiers, for the names dac makes (temporary and retained
//! databases, snapshot copies).

/// PostgreSQL's limit on identifier length, in bytes.
const NAME_MAX: usize = 63;

/// `prefix + suffix`, `prefix` cut on a character boundary to fit PostgreSQL's identifier
/// length.
pub(super) fn fit(prefix: &str, suffix: &str) -> String {
    let mut prefix = prefix.to_string();
    while prefix.len() + suffix.len() > NAME_MAX {
        prefix.pop();
    }
    format!("{prefix}{suffix}")
}
