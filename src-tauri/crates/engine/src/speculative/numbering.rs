//! The next number of a numbered list as a word guess: where the text so
//! far ends a step (a blank line) or a numbered line, the next item is
//! usually the next number, written as the last one was ("2. **", "**Step
//! 3:"). Lookup guesses the number it saw follow last (the one before), so
//! it is wrong exactly there.

use lookahead_executor::GgufTokenizer;

use super::guess_from_text;

/// Latest tokens read back for the list: enough for a step or two.
const LIST_TOKENS: usize = 160;

/// The tokens of the next list item's number, written as the last one.
/// `last` is the text of the last token: the rest is decoded only when it
/// ends a line.
pub fn propose_next(tokenizer: &GgufTokenizer, tokens: &[u32], last: &str) -> Option<Vec<u32>> {
    if !last.ends_with('\n') {
        return None;
    }
    guess_from_text(tokenizer, tokens, LIST_TOKENS, next_item)
}

/// What the next numbered item starts with, if `text` ends a step or a
/// numbered line and a numbered line came before.
fn next_item(text: &str) -> Option<String> {
    let body = text.strip_suffix('\n')?;
    let ends_step = body.ends_with('\n');
    let lines: Vec<&str> = body.lines().collect();
    // The last numbered line; after a single newline it must be the line
    // just ended (an outline's item), after a blank line any before.
    let candidates: &[&str] = if ends_step {
        &lines
    } else {
        lines.get(lines.len().checked_sub(1)?..)?
    };
    let (prefix, number, mark) = candidates.iter().rev().find_map(|l| numbered(l))?;
    Some(format!("{prefix}{}{mark}", number + 1))
}

/// (what precedes the number, the number, the mark after it) of a line
/// such as "2. **Cost**", "   3) x", "**Step 4:** y".
fn numbered(line: &str) -> Option<(&str, u64, char)> {
    let digits_at = line.find(|c: char| c.is_ascii_digit())?;
    let prefix = &line[..digits_at];
    let known = prefix.trim_start().trim_start_matches("**");
    if !(known.is_empty() || known == "Step ") {
        return None;
    }
    let rest = &line[digits_at..];
    let len = rest.find(|c: char| !c.is_ascii_digit())?;
    let mark = rest[len..].chars().next()?;
    if !matches!(mark, '.' | ':' | ')') || len > 2 {
        return None;
    }
    Some((prefix, rest[..len].parse().ok()?, mark))
}

#[cfg(test)]
mod tests {
    use super::next_item;

    #[test]
    fn the_next_number_follows_the_last_one() {
        for (text, next) in [
            ("1. **Cost:**\n   It is 5.\n   \\]\n\n", "2."),
            ("We follow these steps:\n\n1. Find A.\n2. Find B.\n", "3."),
            ("**Step 2: Add**\nSo 4.\n\n", "**Step 3:"),
            ("   3) one\n   more\n\n", "   4)"),
        ] {
            assert_eq!(next_item(text).as_deref(), Some(next), "{text:?}");
        }
    }

    #[test]
    fn no_guess_inside_a_step_or_without_a_list() {
        for text in [
            "1. **Cost:**\n   It is 5.\n",
            "It costs 5.\n\n",
            "In 2024: we met.\n\n",
            "1. Cost",
        ] {
            assert_eq!(next_item(text), None, "{text:?}");
        }
    }
}
