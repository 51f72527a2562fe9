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

/// Keywords that may appear in column, default, check and filter expressions; their case never
/// matters. Other bare words are folded only when they call a function (`GETDATE(`).
const EXPRESSION_KEYWORDS: &[&str] = &[
    "and", "or", "not", "is", "null", "like", "in", "between", "case", "when", "then", "else",
    "end", "as", "collate", "escape", "exists",
];

/// The canonical form of a column, default, check or filter expression, so that text two
/// producers (or a server and a project) write differently for the same expression compares
/// equal: whitespace and comments never count; keywords and built-in function names fold case
/// (literals, quoted identifiers and other bare words are kept exactly); redundant parentheses
/// (around the whole expression, or around a single literal or name) are dropped; and
/// `CONVERT(type, value, 0)` is `CONVERT(type, value)`, 0 being CONVERT's default style.
pub fn canonical_expression(text: &str) -> String {
    let mut tokens = expression_tokens(text);
    loop {
        let before = tokens.len();
        strip_outer_parens(&mut tokens);
        strip_atom_parens(&mut tokens);
        drop_default_convert_style(&mut tokens);
        if tokens.len() == before {
            break;
        }
    }
    tokens.join(" ")
}

fn expression_tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut idx = 0;
    while idx < chars.len() {
        let c = chars[idx];
        let next = chars.get(idx + 1).copied();
        if c.is_whitespace() {
            idx += 1;
        } else if c == '-' && next == Some('-') {
            while idx < chars.len() && chars[idx] != '\n' {
                idx += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while idx < chars.len() {
                if chars[idx] == '/' && chars.get(idx + 1) == Some(&'*') {
                    depth += 1;
                    idx += 2;
                } else if chars[idx] == '*' && chars.get(idx + 1) == Some(&'/') {
                    depth -= 1;
                    idx += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    idx += 1;
                }
            }
        } else if matches!(c, '\'' | '"' | '[' | '`')
            || (matches!(c, 'N' | 'n') && next == Some('\''))
        {
            let start = idx;
            if c != '\'' && next == Some('\'') {
                idx += 1;
            }
            let open = chars[idx];
            let close = if open == '[' { ']' } else { open };
            idx += 1;
            while idx < chars.len() {
                if chars[idx] == close {
                    if chars.get(idx + 1) == Some(&close) {
                        idx += 2;
                        continue;
                    }
                    idx += 1;
                    break;
                }
                idx += 1;
            }
            let mut token: String = chars[start..idx.min(chars.len())].iter().collect();
            if token.starts_with('n') {
                token.replace_range(0..1, "N");
            }
            tokens.push(token);
        } else if c.is_alphanumeric() || matches!(c, '_' | '@' | '#' | '$') {
            let start = idx;
            while idx < chars.len()
                && (chars[idx].is_alphanumeric()
                    || matches!(chars[idx], '_' | '@' | '#' | '$' | '.'))
            {
                idx += 1;
            }
            let word: String = chars[start..idx].iter().collect();
            let mut after = idx;
            while after < chars.len() && chars[after].is_whitespace() {
                after += 1;
            }
            let lower = word.to_lowercase();
            let fold =
                chars.get(after) == Some(&'(') || EXPRESSION_KEYWORDS.contains(&lower.as_str());
            tokens.push(if fold { lower } else { word });
        } else {
            // Two-character operators stay one token.
            let pair: String = [c, next.unwrap_or(' ')].iter().collect();
            if matches!(pair.as_str(), "<=" | ">=" | "<>" | "!=" | "!<" | "!>") {
                tokens.push(pair);
                idx += 2;
            } else {
                tokens.push(c.to_string());
                idx += 1;
            }
        }
    }
    tokens
}

/// Index of the `)` closing the `(` at `open`.
fn matching_paren(tokens: &[String], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (idx, token) in tokens.iter().enumerate().skip(open) {
        match token.as_str() {
            "(" => depth += 1,
            ")" => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(idx);
                }
            }
            _ => {}
        }
    }
    None
}

/// Drops every layer of parentheses around the whole expression, in one pass: the `(` at
/// position `i` is a layer when its `)` is at `len - 1 - i` (each pair matched once, with a
/// stack, so deeply nested input stays linear).
fn strip_outer_parens(tokens: &mut Vec<String>) {
    let mut closing = vec![usize::MAX; tokens.len()];
    let mut open = Vec::new();
    for (idx, token) in tokens.iter().enumerate() {
        match token.as_str() {
            "(" => open.push(idx),
            ")" => match open.pop() {
                Some(at) => closing[at] = idx,
                None => return,
            },
            _ => {}
        }
    }
    let len = tokens.len();
    let layers = (0..len / 2)
        .take_while(|&idx| tokens[idx] == "(" && closing[idx] == len - 1 - idx)
        .count();
    if layers > 0 {
        tokens.truncate(len - layers);
        tokens.drain(..layers);
    }
}

/// `(x)` where x is one literal or name and the parentheses are not a call's argument list,
/// repeatedly (`((x))` is `x`), in one pass over the tokens.
fn strip_atom_parens(tokens: &mut Vec<String>) {
    let is_atom = |t: &str| {
        t.chars()
            .next()
            .is_some_and(|c| !"(),;=<>+-*/%!&|^~".contains(c))
    };
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    for token in tokens.drain(..) {
        let n = out.len();
        let collapses = token == ")"
            && n >= 2
            && out[n - 2] == "("
            && is_atom(&out[n - 1])
            && !(n >= 3 && is_atom(&out[n - 3]) && !is_keyword(&out[n - 3]));
        if collapses {
            let atom = out.pop().unwrap_or_default();
            out.pop();
            out.push(atom);
        } else {
            out.push(token);
        }
    }
    *tokens = out;
}

fn is_keyword(token: &str) -> bool {
    EXPRESSION_KEYWORDS.contains(&token)
}

fn drop_default_convert_style(tokens: &mut Vec<String>) {
    let mut idx = 0;
    while idx + 1 < tokens.len() {
        if tokens[idx] == "convert"
            && tokens[idx + 1] == "("
            && let Some(close) = matching_paren(tokens, idx + 1)
        {
            let mut depth = 0usize;
            let mut commas = Vec::new();
            for (pos, token) in tokens.iter().enumerate().take(close).skip(idx + 2) {
                match token.as_str() {
                    "(" => depth += 1,
                    ")" => depth = depth.saturating_sub(1),
                    "," if depth == 0 => commas.push(pos),
                    _ => {}
                }
            }
            if commas.len() == 2 && close == commas[1] + 2 && tokens[commas[1] + 1] == "0" {
                tokens.drain(commas[1]..close);
            }
        }
        idx += 1;
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
    #[test]
    fn deeply_nested_expressions_canonicalise() {
        for depth in [10_000, 40_000] {
            let check = format!("{}[a] > (0){}", "(".repeat(depth), ")".repeat(depth));
            assert_eq!(canonical_expression(&check), "[a] > 0");
            let atom = format!(
                "{}5{} + f({}x{})",
                "(".repeat(depth),
                ")".repeat(depth),
                "(".repeat(depth),
                ")".repeat(depth)
            );
            assert_eq!(canonical_expression(&atom), "5 + f ( x )");
        }
    }

    #[test]
    fn expressions_canonicalise_parens_case_and_default_convert_style() {
        let same = |a: &str, b: &str| {
            assert_eq!(
                canonical_expression(a),
                canonical_expression(b),
                "{a} vs {b}"
            );
        };
        let differ = |a: &str, b: &str| {
            assert_ne!(
                canonical_expression(a),
                canonical_expression(b),
                "{a} vs {b}"
            );
        };
        same("((0))", "(0)");
        same("(0)", "0");
        same("(getdate())", "GETDATE()");
        same("([Qty]>(0))", "[Qty] > 0");
        same(
            "([a] IS NOT NULL AND [b]>=(1))",
            "[a] is not null and [b] >= 1",
        );
        same(
            "(isnull(N'SO'+CONVERT([nvarchar](23),[SalesOrderID],0),N'*** ERROR ***'))",
            "(isnull(N'SO'+CONVERT([nvarchar](23),[SalesOrderID]),N'*** ERROR ***'))",
        );
        // What the expression means is kept.
        differ(
            "CONVERT([nvarchar](23),[d],1)",
            "CONVERT([nvarchar](23),[d])",
        );
        differ("'A'", "'a'");
        differ("[A]>(0)", "[a]>(0)");
        differ("([a]+[b])*[c]", "[a]+[b]*[c]");
        differ("(0)", "(1)");
        // A call keeps its argument list.
        differ("f(1)", "f 1");
        // A bare word that is neither keyword nor function keeps its case.
        differ("[x] > Col", "[x] > col");
    }
}
