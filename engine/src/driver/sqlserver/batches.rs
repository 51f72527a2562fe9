//! Splitting T-SQL script text into `GO` batches, as sqlcmd does: a line holding only `GO`
//! (any case, optionally `GO n` and a trailing comment) ends a batch, unless it sits inside a
//! string, a bracketed name or a block comment. Pure, so tested offline.

/// One batch: its text and the 1-based script line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptBatch {
    /// The batch text, without the `GO` line.
    pub text: String,
    /// Line of the script where the batch starts.
    pub start_line: usize,
    /// How many times to run it (`GO 3`).
    pub repeat: usize,
}

/// Whether `line` is a batch separator; `Some(count)` when it is.
fn separator(line: &str) -> Option<usize> {
    let trimmed = line.trim();
    let code = trimmed.split("--").next().unwrap_or("").trim();
    let mut words = code.split_whitespace();
    let first = words.next()?;
    if !first.eq_ignore_ascii_case("go") {
        return None;
    }
    match (words.next(), words.next()) {
        (None, _) => Some(1),
        (Some(n), None) => n.parse::<usize>().ok().filter(|n| *n > 0),
        _ => None,
    }
}

/// The batches of a script, blank ones dropped.
pub fn split_batches(script: &str) -> Vec<ScriptBatch> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Code,
        /// Inside a string (`'`) or a bracketed name (`]`), until this closing character; doubled,
        /// it stands for itself.
        Quoted(char),
        Block(usize),
    }
    let mut out = Vec::new();
    let mut state = State::Code;
    let mut current = String::new();
    let mut start_line = 1;
    for (n, line) in script.split_inclusive('\n').enumerate() {
        let line_no = n + 1;
        if state == State::Code
            && let Some(repeat) = separator(line)
        {
            if !current.trim().is_empty() {
                out.push(ScriptBatch {
                    text: std::mem::take(&mut current),
                    start_line,
                    repeat,
                });
            }
            current.clear();
            start_line = line_no + 1;
            continue;
        }
        // Track strings, brackets and comments through the line.
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match state {
                State::Code => match c {
                    '\'' => state = State::Quoted('\''),
                    '[' => state = State::Quoted(']'),
                    '-' if next == Some('-') => break,
                    '/' if next == Some('*') => {
                        state = State::Block(1);
                        i += 1;
                    }
                    _ => {}
                },
                State::Quoted(close) => {
                    if c == close {
                        if next == Some(close) {
                            i += 1;
                        } else {
                            state = State::Code;
                        }
                    }
                }
                State::Block(depth) => {
                    if c == '*' && next == Some('/') {
                        state = if depth == 1 {
                            State::Code
                        } else {
                            State::Block(depth - 1)
                        };
                        i += 1;
                    } else if c == '/' && next == Some('*') {
                        state = State::Block(depth + 1);
                        i += 1;
                    }
                }
            }
            i += 1;
        }
        if current.is_empty() && line.trim().is_empty() {
            start_line = line_no + 1;
            continue;
        }
        current.push_str(line);
    }
    if !current.trim().is_empty() {
        out.push(ScriptBatch {
            text: current,
            start_line,
            repeat: 1,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_lines_split_batches() {
        let script = "CREATE TABLE a (x int)\nGO\n\nCREATE VIEW v AS SELECT 1 AS x\ngo  -- done\nPRINT 'x'\nGO 2\n";
        let batches = split_batches(script);
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].start_line, 1);
        assert_eq!(batches[1].start_line, 4);
        assert_eq!(batches[1].text, "CREATE VIEW v AS SELECT 1 AS x\n");
        assert_eq!(batches[2].repeat, 2);
        assert_eq!(batches[2].start_line, 6);
    }

    #[test]
    fn go_inside_strings_comments_and_names_is_text() {
        let script = "SELECT 'a\nGO\nb'\nGO\n/* x\nGO\n*/ SELECT 1\nGO\nSELECT [x\nGO\n]\n";
        let batches = split_batches(script);
        assert_eq!(batches.len(), 3, "{batches:?}");
        assert!(batches[0].text.contains("GO"));
        assert_eq!(batches[1].start_line, 5);
        assert_eq!(batches[2].start_line, 9);
    }

    #[test]
    fn no_go_is_one_batch_and_blank_is_none() {
        assert_eq!(split_batches("SELECT 1;\nSELECT 2;").len(), 1);
        assert!(split_batches("\n  \nGO\n").is_empty());
        assert!(separator("GOTO x").is_none());
        assert!(separator("go x").is_none());
    }
}
