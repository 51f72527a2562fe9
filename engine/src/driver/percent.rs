//! Percent-decoding of connection URLs, shared by the PostgreSQL and SQL Server parsers.

/// Why a percent-encoded part of a connection URL does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PercentDecodeError {
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

/// Percent-decoding of one part of a connection URL (user, password, host, path, parameter).
pub(crate) fn percent_decode(text: &str) -> std::result::Result<String, PercentDecodeError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(PercentDecodeError::BadEscape)?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PercentDecodeError::NotUtf8)
}
