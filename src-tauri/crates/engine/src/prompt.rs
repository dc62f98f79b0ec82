//! The words we send the models, and how we read their answers back.

use crate::generate::STEP_DELIMITER;

/// Makes the model reason in short steps separated by blank lines and end
/// with a line the app can pick the final answer from.
pub const SYSTEM_PROMPT: &str = "You solve problems step by step. \
Each step is one short sentence with the calculation it needs. \
Put a blank line after every step. \
End with the line: Final answer: <the answer>\n\n\
Example question: A pen costs 3 dollars and a book costs 4 times as much. How much do both cost?\n\n\
Example answer:\n\
The book costs 4 * 3 = 12 dollars.\n\n\
Together they cost 3 + 12 = 15 dollars.\n\n\
Final answer: 15";

/// Renders a one-turn ChatML conversation (the template both Qwen2.5 and
/// SmolLM2 use) ready for the assistant to continue.
pub fn chat_prompt(question: &str) -> String {
    format!(
        "<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n",
        question.trim()
    )
}

/// Text markers that end an assistant turn when a backend reports them as
/// text rather than as an end-of-sequence token.
pub const END_MARKERS: [&str; 2] = ["<|im_end|>", "<|endoftext|>"];

/// Cuts `text` at the first end marker; returns whether one was found.
pub fn strip_end_marker(text: &str) -> (&str, bool) {
    END_MARKERS
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .map_or((text, false), |at| (&text[..at], true))
}

/// Splits an answer into steps at blank lines, keeping each delimiter with
/// its step so the pieces join back to the text.
pub fn split_steps(text: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(STEP_DELIMITER) {
        let mut end = at + STEP_DELIMITER.len();
        // Swallow further newlines so "\n\n\n" does not make an empty step.
        while rest[end..].starts_with('\n') {
            end += 1;
        }
        steps.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        steps.push(rest.to_string());
    }
    steps
}

/// Finds the final answer: the text after the last "Final answer:" (any
/// case), else the last number in the text.
pub fn extract_final_answer(text: &str) -> Option<String> {
    // ASCII lowering keeps byte offsets valid in `text` (full Unicode
    // lowering can change a character's length).
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.rfind("final answer") {
        let after = &text[at + "final answer".len()..];
        let after = after.trim_start_matches([':', ' ', '*', '\t']);
        let line = after.lines().next().unwrap_or("").trim();
        let line = line.trim_matches(['*', '.', ' ']).trim();
        if !line.is_empty() {
            return Some(line.to_string());
        }
    }
    last_number(text)
}

/// The last number written in `text` (commas between digit groups allowed).
pub fn last_number(text: &str) -> Option<String> {
    let mut found: Option<String> = None;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            || (chars[i] == '-'
                && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
                && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()));
        if starts {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_ascii_digit()
                    || ((chars[j] == '.' || chars[j] == ',')
                        && chars.get(j + 1).is_some_and(|c| c.is_ascii_digit())))
            {
                j += 1;
            }
            found = Some(chars[i..j].iter().filter(|c| **c != ',').collect());
            i = j;
        } else {
            i += 1;
        }
    }
    found
}

/// Parses a number out of an answer such as "$1,234.50" or "18 dollars".
pub fn parse_number(answer: &str) -> Option<f64> {
    last_number(answer).and_then(|n| n.parse().ok())
}

/// Whether two answers are the same number (1.5 = 1.5000, 1,000 = 1000).
pub fn same_number(a: &str, b: &str) -> bool {
    match (parse_number(a), parse_number(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_join_back_to_the_text() {
        let text = "First, 2+2=4.\n\nThen 4*3=12.\n\n\nFinal answer: 12";
        let steps = split_steps(text);
        assert_eq!(steps.len(), 3);
        assert_eq!(steps.concat(), text);
        assert_eq!(steps[1], "Then 4*3=12.\n\n\n");
    }

    #[test]
    fn final_answer_prefers_the_marked_line() {
        assert_eq!(
            extract_final_answer("So 3 apples.\n\nFinal answer: **$1,200**").as_deref(),
            Some("$1,200")
        );
        assert_eq!(
            extract_final_answer("He pays 5 then 18 dollars").as_deref(),
            Some("18")
        );
        assert_eq!(extract_final_answer("no numbers here"), None);
        // Characters whose lower case is longer must not shift the offsets.
        assert_eq!(
            extract_final_answer("İİİ 42 ÷ 6 = 7\n\nFinal answer: 7").as_deref(),
            Some("7")
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(same_number("1.5", "1.5000"));
        assert!(same_number("$1,000", "1000"));
        assert!(same_number("-3", "-3.0"));
        assert!(!same_number("18", "19"));
        assert!(!same_number("abc", "1"));
    }

    #[test]
    fn end_markers_cut_the_text() {
        assert_eq!(strip_end_marker("done<|im_end|>junk"), ("done", true));
        assert_eq!(strip_end_marker("open"), ("open", false));
    }
}
