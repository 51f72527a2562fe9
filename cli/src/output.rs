//! Everything the binary prints goes through here. A reader that went away (`| head -1`, a
//! closed pipe) is not an error: the command's result and its exit code stand. Text meant for
//! people has control characters escaped, so a package's names and metadata cannot drive the
//! terminal (escape sequences, right-to-left overrides); machine formats (scripts, JSON, XML)
//! are written as they are.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when the command's stdout is one JSON object (`--format json`): text for people then
/// goes to stderr, so stdout stays parseable.
static MACHINE_OUTPUT: AtomicBool = AtomicBool::new(false);

/// Makes stdout the command's JSON outcome alone, from here on (see [`outcome`]).
pub fn machine_output(on: bool) {
    MACHINE_OUTPUT.store(on, Ordering::Relaxed);
}

/// The command's outcome as one JSON object on stdout, when it runs with `--format json`
/// (nothing otherwise: its text went out as it went). The shape carries `format_version` and
/// `command`; the README documents each.
pub fn outcome(value: &serde_json::Value) {
    if MACHINE_OUTPUT.load(Ordering::Relaxed) {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        write_out(format!("{text}\n").as_bytes());
    }
}

/// Whether stdout is the command's JSON outcome alone.
pub fn is_machine_output() -> bool {
    MACHINE_OUTPUT.load(Ordering::Relaxed)
}

/// Text for people on stdout, control characters escaped (on stderr when stdout is JSON).
pub fn out_text(text: &str) {
    if MACHINE_OUTPUT.load(Ordering::Relaxed) {
        err_text(text);
        return;
    }
    write_out(escape_controls(text).as_bytes());
}

/// A script, JSON or XML on stdout, exactly as rendered.
pub fn out_data(text: &str) {
    write_out(text.as_bytes());
}

/// Bytes on stdout as they are (a package written with `-o -`).
pub fn out_bytes(bytes: &[u8]) {
    write_out(bytes);
}

/// Text for people on stderr, control characters escaped. Failures are ignored: there is
/// nowhere left to report them.
pub fn err_text(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(escape_controls(text).as_bytes())
        .and_then(|()| err.flush());
}

fn write_out(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(bytes).and_then(|()| out.flush());
    drop(out);
    match written {
        // The reader has all it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        // A full disk is worth a word, but the command's outcome does not change with it.
        Err(e) => err_text(&format!("warning: writing to standard output: {e}\n")),
        Ok(()) => {}
    }
}

/// `text` with every control character but newline and tab, and every bidirectional
/// formatting character, written as a Rust escape (`\u{1b}`).
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c);
    if !text.contains(unsafe_char) {
        return text.into();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    escaped.into()
}

/// The characters that reorder what follows them on screen (Trojan Source, CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A line for people on stdout.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::out_text(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// A line for people on stderr.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::err_text(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_and_bidi_characters_are_escaped_newlines_and_tabs_kept() {
        assert_eq!(escape_controls("a\tb\nc"), "a\tb\nc");
        assert_eq!(
            escape_controls("x\u{1b}[2Jy\u{202E}z\r\0"),
            "x\\u{1b}[2Jy\\u{202e}z\\u{d}\\u{0}"
        );
    }
}
