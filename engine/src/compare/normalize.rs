//! Normalising script text (bodies, expressions) before comparing it.
//!
//! Line endings and trailing whitespace never count. Optionally: all whitespace, comments, and the
//! case of everything outside string literals and quoted identifiers.

/// How script text is normalised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextRules {
    /// Collapse every run of whitespace to one space (and drop it around punctuation).
    pub ignore_whitespace: bool,
    /// Remove `--` and `/* */` comments.
    pub ignore_comments: bool,
    /// Fold keyword and identifier case outside literals and quoted identifiers.
    pub ignore_case: bool,
}

/// The normalised form of `text` under `rules`.
pub fn normalize(text: &str, rules: TextRules) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if !rules.ignore_whitespace && !rules.ignore_comments && !rules.ignore_case {
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        return lines.join("\n").trim().to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut idx = 0;
    let mut pending_space = false;
    let push_space = |out: &mut String, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
    };
    while idx < chars.len() {
        let c = chars[idx];
        let next = chars.get(idx + 1).copied();
        // Comments.
        if c == '-' && next == Some('-') {
            let end = chars[idx..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |p| idx + p);
            if !rules.ignore_comments {
                push_space(&mut out, &mut pending_space);
                out.extend(&chars[idx..end]);
                out.push('\n');
            }
            pending_space = rules.ignore_whitespace;
            idx = end;
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            let mut end = idx;
            while end < chars.len() {
                if chars[end] == '/' && chars.get(end + 1) == Some(&'*') {
                    depth += 1;
                    end += 2;
                } else if chars[end] == '*' && chars.get(end + 1) == Some(&'/') {
                    depth -= 1;
                    end += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    end += 1;
                }
            }
            if !rules.ignore_comments {
                push_space(&mut out, &mut pending_space);
                out.extend(&chars[idx..end.min(chars.len())]);
            } else {
                pending_space = true;
            }
            idx = end;
            continue;
        }
        // Literals and quoted identifiers are kept exactly.
        if c == '\'' || c == '"' || c == '[' || c == '`' {
            let close = if c == '[' { ']' } else { c };
            let mut end = idx + 1;
            while end < chars.len() {
                if chars[end] == close {
                    if chars.get(end + 1) == Some(&close) {
                        end += 2;
                        continue;
                    }
                    end += 1;
                    break;
                }
                end += 1;
            }
            push_space(&mut out, &mut pending_space);
            out.extend(&chars[idx..end.min(chars.len())]);
            idx = end;
            continue;
        }
        if c.is_whitespace() {
            if rules.ignore_whitespace {
                pending_space = true;
            } else {
                out.push(c);
            }
            idx += 1;
            continue;
        }
        if rules.ignore_whitespace && is_punctuation(c) {
            // No space is significant next to punctuation.
            pending_space = false;
            out.push(c);
            idx += 1;
            while idx < chars.len() && chars[idx].is_whitespace() {
                idx += 1;
            }
            continue;
        }
        push_space(&mut out, &mut pending_space);
        if rules.ignore_case {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        idx += 1;
    }
    if rules.ignore_whitespace {
        out.trim().to_string()
    } else {
        let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
        lines.join("\n").trim().to_string()
    }
}

fn is_punctuation(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | ',' | ';' | '=' | '<' | '>' | '+' | '-' | '*' | '/' | '.' | '!'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: TextRules = TextRules {
        ignore_whitespace: true,
        ignore_comments: true,
        ignore_case: true,
    };

    #[test]
    fn line_endings_and_trailing_space_never_count() {
        let rules = TextRules::default();
        assert_eq!(
            normalize("SELECT 1  \r\nFROM t\r\n", rules),
            normalize("SELECT 1\nFROM t", rules)
        );
        assert_ne!(
            normalize("SELECT 1 FROM t", rules),
            normalize("SELECT 1\nFROM t", rules)
        );
    }

    #[test]
    fn whitespace_comments_and_case_fold_when_asked() {
        let a = "SELECT a, b -- note\nFROM [T] /* c */ WHERE x = 'Ab  C'";
        let b = "select a,b from [T] where x='Ab  C'";
        assert_eq!(normalize(a, ALL), normalize(b, ALL));
        // Literals and quoted identifiers keep case and spacing.
        assert_ne!(
            normalize("where x = 'ab'", ALL),
            normalize("where x = 'AB'", ALL)
        );
        assert_ne!(normalize("from [T]", ALL), normalize("from [t]", ALL));
    }

    #[test]
    fn comments_count_unless_ignored() {
        let rules = TextRules {
            ignore_whitespace: true,
            ..TextRules::default()
        };
        assert_ne!(
            normalize("select 1 -- a", rules),
            normalize("select 1 -- b", rules)
        );
    }
}
