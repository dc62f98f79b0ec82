//! The words we send the models, and how we read their answers back.

use serde::{Deserialize, Serialize};

use crate::chat::{ChatTemplate, ChatTurn, Speaker};

/// The one-shot prompt of the first releases: one short sentence per step.
/// Kept to compare against (it measured 10/30 on GSM8K against 17/30 for
/// [`PromptStyle::Standard`]); not the default.
pub const SHORT_SYSTEM_PROMPT: &str = "You solve problems step by step. \
Each step is one short sentence with the calculation it needs. \
Put a blank line after every step. \
End with the line: Final answer: <the answer>\n\n\
Example question: A pen costs 3 dollars and a book costs 4 times as much. How much do both cost?\n\n\
Example answer:\n\
The book costs 4 * 3 = 12 dollars.\n\n\
Together they cost 3 + 12 = 15 dollars.\n\n\
Final answer: 15";

/// The reasoning instruction Qwen2.5 models were trained and evaluated with.
pub const STANDARD_INSTRUCTION: &str =
    "Please reason step by step, and put your final answer within \\boxed{}.";

/// The question the engine answers to measure plain decoding speed: an
/// everyday sum, so the model writes ordinary reasoning text.
pub const CALIBRATION_QUESTION: &str = "A team of 6 shares 3 pizzas, each cut into 8 slices. \
How many slices does each person get, and how many are left over?";

/// The standard instruction, asking for a blank line between steps (what
/// step speculation splits on).
pub const STEPS_INSTRUCTION: &str = "Please reason step by step, with a blank line between steps, and put your final answer within \\boxed{}.";

/// Worked examples put before the question as earlier turns of the chat
/// ([`PromptStyle::Worked`]): word problems of the kinds the default model
/// sets up wrongly most often (a percentage of a quantity, "how many more",
/// a rate over a period), answered in the model's own layout. Written for
/// this product, not taken from any test set.
pub const WORKED_EXAMPLES: [(&str, &str); 2] = [
    (
        "A shop sells notebooks at $4 each. On Monday it sold 35 notebooks, and on Tuesday it sold 20% more notebooks than on Monday. How much money did the shop take from notebooks over the two days?",
        "To find the money taken over the two days, we find how many notebooks were sold each day, add them, and multiply by the price.\n\n\
1. **Notebooks sold on Tuesday:**\n   Tuesday's sales are 20% more than Monday's 35 notebooks:\n   \\[\n   35 \\times 0.20 = 7\n   \\]\n   \\[\n   35 + 7 = 42\n   \\]\n\n\
2. **Notebooks sold over the two days:**\n   \\[\n   35 + 42 = 77\n   \\]\n\n\
3. **Money taken:**\n   Each notebook costs $4:\n   \\[\n   77 \\times 4 = 308\n   \\]\n\n\
So the shop took \\(\\boxed{308}\\) dollars from notebooks over the two days.",
    ),
    (
        "Maya reads 12 pages of her book every weekday and 40 pages on each day of the weekend. Her friend Tom reads 15 pages every day. How many more pages does Maya read than Tom in two weeks?",
        "We need the pages each of them reads in two weeks, then the difference.\n\n\
1. **Pages Maya reads in one week:**\n   A week has 5 weekdays and 2 weekend days:\n   \\[\n   5 \\times 12 = 60\n   \\]\n   \\[\n   2 \\times 40 = 80\n   \\]\n   \\[\n   60 + 80 = 140\n   \\]\n\n\
2. **Pages Maya reads in two weeks:**\n   \\[\n   140 \\times 2 = 280\n   \\]\n\n\
3. **Pages Tom reads in two weeks:**\n   Two weeks are 14 days:\n   \\[\n   14 \\times 15 = 210\n   \\]\n\n\
4. **How many more pages Maya reads:**\n   \\[\n   280 - 210 = 70\n   \\]\n\n\
So Maya reads \\(\\boxed{70}\\) more pages than Tom in two weeks.",
    ),
];

/// How a question is put to the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptStyle {
    /// The model's own system prompt (from its chat template) and its
    /// standard reasoning instruction after the question (the default until
    /// session 24: 60/100 on the GSM8K file without the calculator, against
    /// 64/100 for [`PromptStyle::SystemInstruction`]).
    Standard,
    /// As `Standard`, asking for a blank line between steps.
    Steps,
    /// The first releases' one-shot system prompt (short steps).
    Short,
    /// As `Standard`, after two worked word problems as earlier turns of
    /// the chat (tried for accuracy, measured worse; not a default).
    Worked,
    /// The standard instruction as the system turn (in place of the
    /// template's default system prompt) and the question alone, as Qwen2.5
    /// math models are prompted: the default, chosen by accuracy on the
    /// GSM8K file (BENCHMARKS.md, section 3). A template that refuses a
    /// system turn gets the instruction before the first question instead
    /// ([`ChatTemplate::render`]).
    ///
    /// [`ChatTemplate::render`]: crate::chat::ChatTemplate::render
    #[default]
    SystemInstruction,
}

impl PromptStyle {
    pub const ALL: [PromptStyle; 5] = [
        PromptStyle::Standard,
        PromptStyle::Steps,
        PromptStyle::Short,
        PromptStyle::Worked,
        PromptStyle::SystemInstruction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PromptStyle::Standard => "standard",
            PromptStyle::Steps => "steps",
            PromptStyle::Short => "short",
            PromptStyle::Worked => "worked",
            PromptStyle::SystemInstruction => "system",
        }
    }

    /// The system turn this style puts first, if any (otherwise the
    /// template's default system prompt applies).
    fn system(self) -> Option<&'static str> {
        match self {
            PromptStyle::Short => Some(SHORT_SYSTEM_PROMPT),
            PromptStyle::SystemInstruction => Some(STANDARD_INSTRUCTION),
            _ => None,
        }
    }

    /// A user's question as this style sends it.
    pub fn user_text(self, question: &str) -> String {
        let question = question.trim();
        match self {
            PromptStyle::Standard | PromptStyle::Worked => {
                format!("{question}\n{STANDARD_INSTRUCTION}")
            }
            PromptStyle::Steps => format!("{question}\n{STEPS_INSTRUCTION}"),
            PromptStyle::Short | PromptStyle::SystemInstruction => question.to_string(),
        }
    }

    /// The turns sent to the model: the style's system turn, the earlier
    /// turns (questions dressed as this style sends them), then the question.
    pub fn conversation(self, history: &[ChatTurn], question: &str) -> Vec<ChatTurn> {
        let mut turns: Vec<ChatTurn> = self.system().map(ChatTurn::system).into_iter().collect();
        if self == PromptStyle::Worked {
            for (example, answer) in WORKED_EXAMPLES {
                turns.push(ChatTurn::user(self.user_text(example)));
                turns.push(ChatTurn::assistant(answer));
            }
        }
        for turn in history {
            turns.push(match turn.speaker {
                Speaker::User => ChatTurn::user(self.user_text(&turn.text)),
                _ => turn.clone(),
            });
        }
        turns.push(ChatTurn::user(self.user_text(question)));
        turns
    }
}

impl std::str::FromStr for PromptStyle {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        PromptStyle::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown prompt \"{s}\" (expected system, standard, steps, short or worked)"
                )
            })
    }
}

impl std::fmt::Display for PromptStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A one-question ChatML prompt with the short-steps system prompt, for
/// tests and benches that drive a generator directly (no model file's
/// template): every request shares the long system prefix, and models
/// answer it in short steps. The engine renders questions with
/// [`PromptStyle`] and the model's own template instead.
pub fn chat_prompt(question: &str) -> String {
    chatml_prompt(PromptStyle::Short, question)
}

/// A one-question ChatML prompt as `style` puts it (the ChatML template
/// stands in for the model file's, as in [`chat_prompt`]).
pub fn chatml_prompt(style: PromptStyle, question: &str) -> String {
    ChatTemplate::chatml()
        .render(&style.conversation(&[], question), true)
        .unwrap_or_default()
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

/// Finds the final answer, in order of how explicitly the model marked it:
/// the last `\\boxed{…}`, a "Final answer:" line, "the answer is …"; else
/// the concluding paragraph in full (a schedule or an explanation has no
/// single number to pick out). `None` for an empty text.
pub fn extract_final_answer(text: &str) -> Option<String> {
    marked_answer(text).or_else(|| concluding_text(text))
}

/// The answer the model marked explicitly (boxed, "Final answer:", "the
/// answer is"), if it marked one.
pub fn marked_answer(text: &str) -> Option<String> {
    if let Some(boxed) = last_boxed(text) {
        let cleaned = clean_latex(&boxed);
        if !cleaned.is_empty() {
            return Some(cleaned);
        }
    }
    // ASCII lowering keeps byte offsets valid in `text` (full Unicode
    // lowering can change a character's length).
    let lower = text.to_ascii_lowercase();
    for marker in ["final answer", "the answer is"] {
        if let Some(at) = lower.rfind(marker) {
            let after = &text[at + marker.len()..];
            let after = after.trim_start_matches([':', ' ', '*', '\t']);
            let line = after.lines().next().unwrap_or("");
            let line = clean_latex(line.trim_matches(['*', '.', ' ']).trim());
            let line = line.trim_matches(['*', '.', ' ']).trim();
            if !line.is_empty() {
                return Some(line.to_string());
            }
        }
    }
    None
}

/// The last paragraph of the answer, as written.
pub fn concluding_text(text: &str) -> Option<String> {
    text.trim()
        .rsplit("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty())
        .map(clean_latex)
        .filter(|p| !p.is_empty())
}

/// The contents of the last `\\boxed{…}` (braces inside balanced).
fn last_boxed(text: &str) -> Option<String> {
    let at = text.rfind("\\boxed{")?;
    let inner = &text[at + "\\boxed{".len()..];
    let mut depth = 1usize;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(inner[..i].to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// Plain text from the little LaTeX models put in answers: `\\text{…}`,
/// `\\frac{a}{b}`, `\\$`, `\\%`, thin spaces, `\\(`…`\\)` and `\\[`…`\\]`.
pub fn clean_latex(text: &str) -> String {
    let mut out = text.to_string();
    for (from, to) in [
        ("\\(", ""),
        ("\\)", ""),
        ("\\[", ""),
        ("\\]", ""),
        ("\\$", "$"),
        ("\\%", "%"),
        ("\\,", ""),
        ("\\!", ""),
        ("\\ ", " "),
        ("\\times", "×"),
        ("\\cdot", "·"),
        ("\\div", "÷"),
        ("\\leq", "≤"),
        ("\\geq", "≥"),
        ("^\\circ", "°"),
    ] {
        out = out.replace(from, to);
    }
    // \text{x}, \mathrm{x}, \textbf{x} -> x ; \frac{a}{b} -> a/b
    for command in ["\\text", "\\textbf", "\\mathrm", "\\mathbf", "\\boxed"] {
        let open = format!("{command}{{");
        while let Some(at) = out.find(&open) {
            let Some((inner, end)) = braced(&out[at + open.len() - 1..]) else {
                break;
            };
            let end = at + open.len() - 1 + end;
            out.replace_range(at..end, &inner);
        }
    }
    for command in ["\\dfrac{", "\\tfrac{", "\\frac{"] {
        while let Some(at) = out.find(command) {
            let start = at + command.len() - 1;
            let Some((num, after_num)) = braced(&out[start..]) else {
                break;
            };
            let Some((den, after_den)) = braced(&out[start + after_num..]) else {
                break;
            };
            let end = start + after_num + after_den;
            out.replace_range(at..end, &format!("{num}/{den}"));
        }
    }
    let out = out.trim();
    // Inline maths: $18$ -> 18 (a lone leading "$" is a currency sign).
    match out.strip_prefix('$').and_then(|t| t.strip_suffix('$')) {
        Some(inner) if !inner.is_empty() => inner.trim().to_string(),
        _ => out.to_string(),
    }
}

/// The contents of a `{…}` group at the start of `text` and the byte
/// length of the whole group.
fn braced(text: &str) -> Option<(String, usize)> {
    let mut chars = text.char_indices();
    if chars.next()?.1 != '{' {
        return None;
    }
    let mut depth = 1usize;
    for (i, c) in chars {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((text[1..i].to_string(), i + 1));
                }
            }
            _ => {}
        }
    }
    None
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
    fn worked_examples_come_first_and_are_right() {
        let turns = PromptStyle::Worked.conversation(&[ChatTurn::user("Earlier?")], "How many?");
        // Two examples (question, answer), the earlier turn, the question.
        assert_eq!(turns.len(), 2 * WORKED_EXAMPLES.len() + 2);
        assert!(turns[0].text.starts_with("A shop sells notebooks"));
        assert_eq!(turns[1].speaker, Speaker::Assistant);
        assert!(turns[turns.len() - 1].text.starts_with("How many?\n"));
        assert!(turns[turns.len() - 1].text.ends_with(STANDARD_INSTRUCTION));
        // The examples teach what they should: sums the check finds right,
        // steps between blank lines, a boxed answer.
        for ((_, answer), expected) in WORKED_EXAMPLES.iter().zip(["308", "70"]) {
            assert!(crate::arith::find(answer).len() >= 4, "{answer}");
            assert!(crate::arith::wrong(answer).is_empty(), "{answer}");
            assert!(answer.split("\n\n").count() >= 5);
            assert_eq!(marked_answer(answer).as_deref(), Some(expected));
        }
        assert_eq!("worked".parse::<PromptStyle>(), Ok(PromptStyle::Worked));
        assert!(PromptStyle::Standard
            .conversation(&[], "How many?")
            .iter()
            .all(|t| !t.text.contains("notebooks")));
    }

    #[test]
    fn the_default_puts_the_instruction_in_the_system_turn_and_questions_alone() {
        assert_eq!(PromptStyle::default(), PromptStyle::SystemInstruction);
        assert_eq!("system".parse::<PromptStyle>(), Ok(PromptStyle::default()));
        let turns = PromptStyle::default().conversation(
            &[
                ChatTurn::user("Split £1,200."),
                ChatTurn::assistant("£400 each."),
            ],
            " And £1,500? ",
        );
        let texts: Vec<(Speaker, &str)> =
            turns.iter().map(|t| (t.speaker, t.text.as_str())).collect();
        assert_eq!(
            texts,
            [
                (Speaker::System, STANDARD_INSTRUCTION),
                (Speaker::User, "Split £1,200."),
                (Speaker::Assistant, "£400 each."),
                (Speaker::User, "And £1,500?"),
            ]
        );
        // The standard style keeps the template's system prompt.
        let standard = PromptStyle::Standard.conversation(&[], "How many?");
        assert_eq!(standard.len(), 1);
        assert_eq!(
            standard[0].text,
            format!("How many?\n{STANDARD_INSTRUCTION}")
        );
    }

    #[test]
    fn final_answer_prefers_the_marked_line() {
        assert_eq!(
            extract_final_answer("So 3 apples.\n\nFinal answer: **$1,200**").as_deref(),
            Some("$1,200")
        );
        // Characters whose lower case is longer must not shift the offsets.
        assert_eq!(
            extract_final_answer("İİİ 42 ÷ 6 = 7\n\nFinal answer: 7").as_deref(),
            Some("7")
        );
        assert_eq!(extract_final_answer("  \n "), None);
    }

    #[test]
    fn boxed_answers_win_and_lose_their_latex() {
        let text = "She sells 9 eggs.\n\nSo she makes 9 * 2 = 18 dollars.\n\nThe answer is \\(\\boxed{18}\\).";
        assert_eq!(extract_final_answer(text).as_deref(), Some("18"));
        assert_eq!(
            extract_final_answer("\\[\n\\boxed{\\$1,\\!500}\n\\]").as_deref(),
            Some("$1,500")
        );
        assert_eq!(
            extract_final_answer("Final answer: $18$.").as_deref(),
            Some("18")
        );
        assert_eq!(
            extract_final_answer("Total: \\boxed{\\frac{3}{4} \\text{ of a cake}}").as_deref(),
            Some("3/4  of a cake")
        );
        assert_eq!(
            extract_final_answer("Thus \\boxed{\\text{Tuesday}}").as_deref(),
            Some("Tuesday")
        );
        assert_eq!(
            extract_final_answer("so the answer is 42 apples.").as_deref(),
            Some("42 apples")
        );
    }

    #[test]
    fn an_unmarked_answer_shows_its_conclusion_not_a_stray_number() {
        // Today's behaviour picked "6" (the last number) out of a rota.
        let rota = "Here is a rota for five people over 4 weeks.\n\n\
Week 1: Ann (kitchen), Ben (floors)\nWeek 2: Cat (kitchen), Dan (floors)\n\n\
Each person cleans at least once, and Eve covers week 6 holidays.";
        let got = extract_final_answer(rota).expect("an answer");
        assert_eq!(
            got,
            "Each person cleans at least once, and Eve covers week 6 holidays."
        );
        assert_ne!(got, "6");
        // A bare number at the end is still its own conclusion.
        assert_eq!(
            extract_final_answer("He pays 5 then 18 dollars").as_deref(),
            Some("He pays 5 then 18 dollars")
        );
        assert!(same_number(
            &extract_final_answer("He pays 5 then 18 dollars").expect("answer"),
            "18"
        ));
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
