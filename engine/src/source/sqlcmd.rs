//! SQLCMD preprocessing: decoding, `:r` includes, `:setvar`, `$(Var)` substitution and `GO`
//! batch splitting, with a source map so every position reports the original file, line and
//! column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Decodes a SQL file: UTF-8 with or without BOM, UTF-16 LE/BE with BOM (or detected by NULs).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<String> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if had_errors {
            return Err(Error::Project {
                path: path.to_path_buf(),
                message: format!("file is not valid {}", encoding.name()),
            });
        }
        return Ok(text.into_owned());
    }
    // UTF-16 without BOM: ASCII text has a NUL in every other byte.
    if bytes.len() >= 4 && bytes.len().is_multiple_of(2) {
        let (even, odd) = bytes
            .iter()
            .take(64)
            .enumerate()
            .fold((0, 0), |(e, o), (i, b)| match (*b == 0, i % 2 == 0) {
                (true, true) => (e + 1, o),
                (true, false) => (e, o + 1),
                _ => (e, o),
            });
        let sample = bytes.len().min(64) / 2;
        let encoding = if odd * 4 >= sample * 3 && even == 0 {
            Some(encoding_rs::UTF_16LE)
        } else if even * 4 >= sample * 3 && odd == 0 {
            Some(encoding_rs::UTF_16BE)
        } else {
            None
        };
        if let Some(encoding) = encoding {
            let (text, _) = encoding.decode_without_bom_handling(bytes);
            return Ok(text.into_owned());
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => {
            // Not UTF-8: DacFx would use the system code page; Windows-1252 is the usual one.
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            let _ = e;
            Ok(text.into_owned())
        }
    }
}

/// Reads and decodes a file.
pub fn read_source(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode(path, &bytes)
}

/// Where one line of preprocessed text came from.
#[derive(Debug, Clone)]
struct LineOrigin {
    file: Arc<PathBuf>,
    /// 1-based line in `file`.
    line: u64,
    /// `(output column, delta)`: from that 1-based output column on, add delta to get the
    /// original column (substitutions change lengths).
    shifts: Vec<(u64, i64)>,
}

/// One batch (text between `GO` separators) with its source map.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The batch text, lines joined with `\n`.
    pub text: String,
    origins: Vec<LineOrigin>,
}

impl Batch {
    fn new() -> Self {
        Batch {
            text: String::new(),
            origins: Vec::new(),
        }
    }

    /// A batch of `text` with no file behind it (positions are batch positions).
    pub(crate) fn from_text(text: &str) -> Self {
        Batch {
            text: text.to_string(),
            origins: Vec::new(),
        }
    }

    /// The file the batch starts in.
    pub fn file(&self) -> &Path {
        self.origins
            .first()
            .map(|o| o.file.as_path())
            .unwrap_or(Path::new(""))
    }

    /// The original (file, line, column) of a 1-based line and column in the batch text.
    pub fn locate(&self, line: u64, column: u64) -> (PathBuf, u64, u64) {
        let Some(origin) = self
            .origins
            .get((line.max(1) - 1) as usize)
            .or(self.origins.last())
        else {
            return (PathBuf::new(), line, column);
        };
        let delta = origin
            .shifts
            .iter()
            .rev()
            .find(|(from, _)| column >= *from)
            .map_or(0, |(_, d)| *d);
        let col = (column as i64 + delta).max(1) as u64;
        ((*origin.file).clone(), origin.line, col)
    }

    /// An [`Error::Sql`] at a 1-based batch position.
    pub fn error(&self, line: u64, column: u64, message: impl Into<String>) -> Error {
        let (file, line, column) = self.locate(line, column);
        Error::Sql {
            file,
            line,
            column,
            message: message.into(),
        }
    }

    /// Whether the batch has nothing but whitespace and comments.
    pub fn is_blank(&self) -> bool {
        let mut state = LexState::Normal;
        for line in self.text.split('\n') {
            let mut significant = false;
            state = scan_line(line, state, &mut |_| significant = true);
            if significant {
                return false;
            }
        }
        true
    }

    fn push_line(&mut self, text: &str, origin: LineOrigin) {
        if !self.origins.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(text);
        self.origins.push(origin);
    }
}

/// What the preprocessor does with `$(Var)` and `GO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Model files: substitute variables (undefined ones are errors) and split on `GO`.
    Model,
    /// Pre/post-deployment scripts: expand `:r` only; keep `$(Var)`, `GO` and other lines.
    Script,
}

/// Lexical state carried from line to line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LexState {
    Normal,
    Block(u32),
    Str,
    Bracket,
    Quote,
}

/// Scans one line from `state`, calling `significant(byte index)` for every byte that is code
/// (not whitespace, not comment), and returns the state at the end of the line.
fn scan_line(line: &str, mut state: LexState, significant: &mut dyn FnMut(usize)) -> LexState {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match state {
            LexState::Normal => match c {
                b'-' if b.get(i + 1) == Some(&b'-') => return state,
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    state = LexState::Block(1);
                    i += 1;
                }
                b'\'' => {
                    significant(i);
                    state = LexState::Str;
                }
                b'[' => {
                    significant(i);
                    state = LexState::Bracket;
                }
                b'"' => {
                    significant(i);
                    state = LexState::Quote;
                }
                c if c.is_ascii_whitespace() => {}
                _ => significant(i),
            },
            LexState::Block(depth) => {
                if c == b'/' && b.get(i + 1) == Some(&b'*') {
                    state = LexState::Block(depth + 1);
                    i += 1;
                } else if c == b'*' && b.get(i + 1) == Some(&b'/') {
                    state = if depth == 1 {
                        LexState::Normal
                    } else {
                        LexState::Block(depth - 1)
                    };
                    i += 1;
                }
            }
            LexState::Str | LexState::Bracket | LexState::Quote => {
                significant(i);
                let close = match state {
                    LexState::Str => b'\'',
                    LexState::Bracket => b']',
                    _ => b'"',
                };
                if c == close {
                    if b.get(i + 1) == Some(&close) {
                        significant(i + 1);
                        i += 1;
                    } else {
                        state = LexState::Normal;
                    }
                }
            }
        }
        i += 1;
    }
    state
}

/// Whether a (trimmed) line is a `GO [count]` batch separator.
fn is_go(trimmed: &str) -> bool {
    let b = trimmed.as_bytes();
    if b.len() < 2 || !b[..2].eq_ignore_ascii_case(b"go") {
        return false;
    }
    let rest = trimmed[2..].trim();
    let rest = match rest.find("--") {
        Some(pos) => rest[..pos].trim(),
        None => rest,
    };
    if !trimmed[2..].is_empty()
        && !trimmed[2..].starts_with(|c: char| c.is_whitespace() || c == '-')
    {
        return false;
    }
    rest.is_empty() || rest.bytes().all(|c| c.is_ascii_digit())
}

/// Deepest `:r` nesting of one file tree. Real projects nest a few levels; a chain thousands
/// deep is a mistake (or an attack) and holds every file of it in memory.
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// Most text one file tree may read, the same file counted each time it is included: files
/// that include each other many times over would otherwise grow without end.
pub const MAX_INCLUDED_BYTES: usize = 256 << 20;

/// A file being read: its text and how far into it the preprocessor is. Includes push a
/// frame rather than recursing, so nesting never grows the call stack.
struct Frame {
    file: Arc<PathBuf>,
    text: String,
    /// Byte offset of the next line; `None` once the last line was read.
    next: Option<usize>,
    line_no: u64,
    state: LexState,
}

impl Frame {
    fn new(path: &Path, text: String) -> Frame {
        Frame {
            file: Arc::new(path.to_path_buf()),
            text,
            next: Some(0),
            line_no: 0,
            state: LexState::Normal,
        }
    }

    /// The byte range of the next line (without `\n`; a final newline ends the last line
    /// rather than starting an empty one).
    fn next_line(&mut self) -> Option<std::ops::Range<usize>> {
        let start = self.next?;
        let body = self.text.strip_suffix('\n').unwrap_or(&self.text);
        let end = match body.get(start..).and_then(|rest| rest.find('\n')) {
            Some(pos) => {
                self.next = Some(start + pos + 1);
                start + pos
            }
            None => {
                self.next = None;
                body.len().max(start)
            }
        };
        self.line_no += 1;
        Some(start..end)
    }
}

/// Where a `:r` stands: file, line, column.
type Site<'a> = (&'a Path, u64, u64);

/// The preprocessor for one file tree.
pub struct Preprocessor {
    vars: BTreeMap<String, String>,
    fixed: std::collections::BTreeSet<String>,
    mode: Mode,
    /// The files being read, outermost first, by canonical path (include cycles).
    stack: Vec<PathBuf>,
    /// Bytes read so far, against [`MAX_INCLUDED_BYTES`].
    bytes_read: usize,
    /// Every file read, in order (for excluding `:r` targets from SDK-style globs).
    pub files_read: Vec<PathBuf>,
    batches: Vec<Batch>,
    current: Batch,
}

impl Preprocessor {
    /// A preprocessor with SQLCMD variables (names are case-insensitive); `fixed` names cannot
    /// be changed by `:setvar` (values given on the command line).
    pub fn new(
        mode: Mode,
        vars: &BTreeMap<String, String>,
        fixed: impl IntoIterator<Item = String>,
    ) -> Self {
        Preprocessor {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
                .collect(),
            fixed: fixed.into_iter().map(|k| k.to_ascii_uppercase()).collect(),
            mode,
            stack: Vec::new(),
            bytes_read: 0,
            files_read: Vec::new(),
            batches: Vec::new(),
            current: Batch::new(),
        }
    }

    /// Processes a file (and its includes), appending batches.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let frame = self.open(path, None)?;
        self.run(frame)?;
        self.flush();
        Ok(())
    }

    /// Processes text as if read from `path`.
    pub fn add_text(&mut self, path: &Path, text: &str) -> Result<()> {
        self.stack.push(path.to_path_buf());
        self.run(Frame::new(path, text.to_string()))?;
        self.flush();
        Ok(())
    }

    /// The batches produced so far.
    pub fn finish(mut self) -> Vec<Batch> {
        self.flush();
        self.batches
    }

    /// The expanded script (for [`Mode::Script`]): all lines joined.
    pub fn finish_script(mut self) -> String {
        self.flush();
        let mut out = String::new();
        for batch in self.batches {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&batch.text);
        }
        out
    }

    fn flush(&mut self) {
        let batch = std::mem::replace(&mut self.current, Batch::new());
        if !batch.origins.is_empty() {
            self.batches.push(batch);
        }
    }

    /// Reads a file to be processed, included from `site` when given: refused when it is
    /// already being read (a cycle), nested too deep, or past the size bound. Its canonical
    /// path goes on the stack.
    fn open(&mut self, path: &Path, site: Option<Site<'_>>) -> Result<Frame> {
        let fail = |message: String| match site {
            Some((file, line, column)) => Error::Sql {
                file: file.to_path_buf(),
                line,
                column,
                message,
            },
            None => Error::Project {
                path: path.to_path_buf(),
                message,
            },
        };
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&key) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&key))
                .map(|p| p.display().to_string())
                .collect();
            return Err(fail(format!("include cycle: {}", chain.join(" -> "))));
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(fail(format!(
                ":r includes nested more than {MAX_INCLUDE_DEPTH} deep (the limit), from {} to {}",
                self.stack[0].display(),
                path.display()
            )));
        }
        let text = read_source(path)?;
        self.bytes_read = self.bytes_read.saturating_add(text.len());
        if self.bytes_read > MAX_INCLUDED_BYTES {
            return Err(fail(format!(
                "more than {} MiB of text read through :r includes (the limit; a file included again counts again), at {}",
                MAX_INCLUDED_BYTES >> 20,
                path.display()
            )));
        }
        self.files_read.push(path.to_path_buf());
        self.stack.push(key);
        Ok(Frame::new(path, text))
    }

    /// Processes `first` and everything it includes, one line at a time, with the files
    /// being read on a stack of frames.
    fn run(&mut self, first: Frame) -> Result<()> {
        let depth = self.stack.len() - 1;
        let mut frames = vec![first];
        let result = self.run_frames(&mut frames);
        self.stack.truncate(depth);
        result
    }

    fn run_frames(&mut self, frames: &mut Vec<Frame>) -> Result<()> {
        while let Some(frame) = frames.last_mut() {
            let Some(range) = frame.next_line() else {
                frames.pop();
                self.stack.pop();
                continue;
            };
            let include = self.line(frame, range)?;
            if let Some((target, line, column)) = include {
                let site_file = frames.last().map(|f| f.file.clone()).unwrap_or_default();
                let next = self.open(&target, Some((&site_file, line, column)))?;
                frames.push(next);
            }
        }
        Ok(())
    }

    /// One line of `frame`; returns the file a `:r` on it includes, with the line and column
    /// of the `:r`.
    fn line(
        &mut self,
        frame: &mut Frame,
        range: std::ops::Range<usize>,
    ) -> Result<Option<(PathBuf, u64, u64)>> {
        let raw = &frame.text[range];
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line_no = frame.line_no;
        let file = &frame.file;
        if frame.state == LexState::Normal {
            let trimmed = line.trim();
            let indent = (line.len() - line.trim_start().len()) as u64;
            if trimmed.starts_with(':') && trimmed.len() > 1 {
                return self.directive(file, line, trimmed, line_no, indent + 1);
            }
            if is_go(trimmed) {
                match self.mode {
                    Mode::Model => self.flush(),
                    Mode::Script => self.current.push_line(
                        line,
                        LineOrigin {
                            file: file.clone(),
                            line: line_no,
                            shifts: Vec::new(),
                        },
                    ),
                }
                return Ok(None);
            }
        }
        let (out, shifts, new_state) = if self.mode == Mode::Model && line.contains("$(") {
            self.substitute(line, frame.state, file, line_no)?
        } else {
            (
                line.to_string(),
                Vec::new(),
                scan_line(line, frame.state, &mut |_| {}),
            )
        };
        self.current.push_line(
            &out,
            LineOrigin {
                file: file.clone(),
                line: line_no,
                shifts,
            },
        );
        frame.state = new_state;
        Ok(None)
    }

    /// A SQLCMD command; `:r` returns the file it includes, with its line and column.
    fn directive(
        &mut self,
        file: &Arc<PathBuf>,
        line: &str,
        trimmed: &str,
        line_no: u64,
        column: u64,
    ) -> Result<Option<(PathBuf, u64, u64)>> {
        let path = file.as_path();
        let body = &trimmed[1..];
        let (word, rest) = match body.find(char::is_whitespace) {
            Some(pos) => (&body[..pos], body[pos..].trim()),
            None => (body, ""),
        };
        let err = |message: String| Error::Sql {
            file: path.to_path_buf(),
            line: line_no,
            column,
            message,
        };
        match word.to_ascii_lowercase().as_str() {
            "r" => {
                if rest.is_empty() {
                    return Err(err(":r needs a file name".into()));
                }
                let target = unquote(rest);
                let target = self.substitute_plain(target).map_err(err)?;
                let dir = path.parent().unwrap_or(Path::new("."));
                let resolved = resolve_path(dir, &target).ok_or_else(|| {
                    err(format!(
                        ":r include file not found: {} (looked in {})",
                        target,
                        dir.display()
                    ))
                })?;
                Ok(Some((resolved, line_no, column)))
            }
            "setvar" => {
                let (name, value) = match rest.find(char::is_whitespace) {
                    Some(pos) => (&rest[..pos], unquote(rest[pos..].trim())),
                    None => (rest, ""),
                };
                if name.is_empty() {
                    return Err(err(":setvar needs a variable name".into()));
                }
                let key = name.to_ascii_uppercase();
                if !self.fixed.contains(&key) {
                    self.vars.insert(key, value.to_string());
                }
                if self.mode == Mode::Script {
                    self.keep(file, line, line_no);
                }
                Ok(None)
            }
            "on" => {
                if self.mode == Mode::Script {
                    self.keep(file, line, line_no);
                }
                Ok(None)
            }
            _ if self.mode == Mode::Script => {
                self.keep(file, line, line_no);
                Ok(None)
            }
            other => Err(err(format!(
                "unsupported SQLCMD command :{other} (expected :r, :setvar or :on error)"
            ))),
        }
    }

    fn keep(&mut self, file: &Arc<PathBuf>, line: &str, line_no: u64) {
        self.current.push_line(
            line,
            LineOrigin {
                file: file.clone(),
                line: line_no,
                shifts: Vec::new(),
            },
        );
    }

    fn lookup(&self, name: &str) -> Option<&String> {
        self.vars.get(&name.to_ascii_uppercase())
    }

    fn substitute_plain(&self, text: &str) -> std::result::Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find("$(") {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 2..];
            let end = after
                .find(')')
                .ok_or_else(|| format!("unterminated SQLCMD variable in {text:?}"))?;
            let name = &after[..end];
            match self.lookup(name) {
                Some(v) => out.push_str(v),
                None => return Err(format!("undefined SQLCMD variable $({name})")),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Substitutes `$(Var)` outside comments; returns the new line, column shifts and state.
    #[allow(clippy::type_complexity)]
    fn substitute(
        &self,
        line: &str,
        state: LexState,
        file: &Arc<PathBuf>,
        line_no: u64,
    ) -> Result<(String, Vec<(u64, i64)>, LexState)> {
        // Mark which bytes are inside comments.
        let mut code = vec![false; line.len()];
        let end_state = scan_line(line, state, &mut |i| code[i] = true);
        let mut out = String::with_capacity(line.len());
        let mut shifts = Vec::new();
        let mut delta: i64 = 0;
        let mut i = 0;
        while i < line.len() {
            if line[i..].starts_with("$(")
                && code[i]
                && let Some(end) = line[i + 2..].find(')')
            {
                let name = &line[i + 2..i + 2 + end];
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
                {
                    let value = self.lookup(name).ok_or_else(|| Error::Sql {
                            file: (**file).clone(),
                            line: line_no,
                            column: line[..i].chars().count() as u64 + 1,
                            message: format!(
                                "undefined SQLCMD variable $({name}): define it with :setvar, a SqlCmdVariable project item or --var {name}=VALUE"
                            ),
                        })?;
                    let original_len = name.chars().count() as i64 + 3;
                    out.push_str(value);
                    delta += original_len - value.chars().count() as i64;
                    shifts.push((out.chars().count() as u64 + 1, delta));
                    i += end + 3;
                    continue;
                }
            }
            let c = line[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
        Ok((out, shifts, end_state))
    }
}

fn unquote(text: &str) -> &str {
    let t = text.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        &t[1..t.len() - 1]
    } else {
        t
    }
}

/// Resolves a project or include path: Windows separators, relative to `dir`, with a
/// case-insensitive fallback per component.
pub fn resolve_path(dir: &Path, target: &str) -> Option<PathBuf> {
    let normal = target.replace('\\', "/");
    let candidate = if Path::new(&normal).is_absolute() {
        PathBuf::from(&normal)
    } else {
        dir.join(&normal)
    };
    if candidate.is_file() {
        return Some(candidate);
    }
    // Case-insensitive walk.
    let mut current = if Path::new(&normal).is_absolute() {
        PathBuf::from("/")
    } else {
        dir.to_path_buf()
    };
    for part in normal.split('/') {
        match part {
            "" | "." => continue,
            ".." => {
                current.push("..");
                continue;
            }
            _ => {}
        }
        let direct = current.join(part);
        if direct.exists() {
            current = direct;
            continue;
        }
        let found = std::fs::read_dir(&current).ok()?.flatten().find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(part))
        })?;
        current = found.path();
    }
    current.is_file().then_some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(text: &str, vars: &[(&str, &str)]) -> Result<Vec<Batch>> {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut pp = Preprocessor::new(Mode::Model, &vars, []);
        pp.add_text(Path::new("t.sql"), text)?;
        Ok(pp.finish())
    }

    #[test]
    fn go_splits_outside_strings_and_comments() {
        let b = batches(
            "CREATE TABLE a (x int)\nGO\nSELECT 'x\nGO\n'\n/*\nGO\n*/\ngo 2\n[a\nGO\n]\n  Go -- c\nX\nGOTO\n",
            &[],
        )
        .unwrap();
        let texts: Vec<&str> = b.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "CREATE TABLE a (x int)",
                "SELECT 'x\nGO\n'\n/*\nGO\n*/",
                "[a\nGO\n]",
                "X\nGOTO"
            ]
        );
        assert_eq!(b[1].locate(2, 1), (PathBuf::from("t.sql"), 4, 1));
        assert_eq!(b[3].locate(2, 3), (PathBuf::from("t.sql"), 15, 3));
    }

    #[test]
    fn setvar_and_substitution_with_columns() {
        let b = batches(
            ":setvar Db S\nSELECT $(Db).x, $(Other) -- $(Nope)\n",
            &[("other", "1")],
        )
        .unwrap();
        assert_eq!(b[0].text, "SELECT S.x, 1 -- $(Nope)");
        // `1` is at output column 13, original column 17.
        assert_eq!(b[0].locate(1, 13).2, 17);
        assert_eq!(b[0].locate(1, 8).2, 8);
        let err = batches("SELECT 1\n  SELECT $(Missing)", &[]).unwrap_err();
        match err {
            Error::Sql {
                line,
                column,
                message,
                ..
            } => {
                assert_eq!((line, column), (2, 10));
                assert!(message.contains("Missing"), "{message}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn includes_nested_relative_and_cycles() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(root.join("main.sql"), "SELECT 1\n:r sub\\A.sql\nSELECT 3\n").unwrap();
        std::fs::write(root.join("sub/a.sql"), "SELECT 2\n:r ./deeper/b.sql\n").unwrap();
        std::fs::write(root.join("sub/deeper/b.sql"), "SELECT 'b'\nGO\n").unwrap();
        let mut pp = Preprocessor::new(Mode::Model, &BTreeMap::new(), []);
        pp.add_file(&root.join("main.sql")).unwrap();
        let b = pp.finish();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].text, "SELECT 1\nSELECT 2\nSELECT 'b'");
        assert!(b[0].locate(3, 8).0.ends_with("sub/deeper/b.sql"));
        assert_eq!(b[1].locate(1, 1).1, 3);

        let mut pp = Preprocessor::new(Mode::Script, &BTreeMap::new(), []);
        pp.add_file(&root.join("main.sql")).unwrap();
        assert_eq!(
            pp.finish_script(),
            "SELECT 1\nSELECT 2\nSELECT 'b'\nGO\nSELECT 3"
        );

        std::fs::write(root.join("sub/deeper/b.sql"), ":r ../a.sql\n").unwrap();
        let mut pp = Preprocessor::new(Mode::Model, &BTreeMap::new(), []);
        let err = pp.add_file(&root.join("main.sql")).unwrap_err();
        assert!(err.to_string().contains("include cycle"), "{err}");
        assert!(err.to_string().contains("b.sql:1:1"), "{err}");

        std::fs::write(root.join("sub/deeper/b.sql"), "\n  :r missing.sql\n").unwrap();
        let mut pp = Preprocessor::new(Mode::Model, &BTreeMap::new(), []);
        let err = pp.add_file(&root.join("main.sql")).unwrap_err().to_string();
        assert!(
            err.contains("b.sql:2:3") && err.contains("missing.sql"),
            "{err}"
        );
    }

    #[test]
    fn decodes_utf16_and_bom() {
        let text = "CREATE TABLE t (x int)\r\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        let mut le_nobom = Vec::new();
        for u in text.encode_utf16() {
            le.extend(u.to_le_bytes());
            le_nobom.extend(u.to_le_bytes());
            be.extend(u.to_be_bytes());
        }
        let p = Path::new("x.sql");
        assert_eq!(decode(p, &le).unwrap(), text);
        assert_eq!(decode(p, &be).unwrap(), text);
        assert_eq!(decode(p, &le_nobom).unwrap(), text);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend(text.as_bytes());
        assert_eq!(decode(p, &bom).unwrap(), text);
    }
}
