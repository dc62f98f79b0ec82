//! Checks the sums a model writes: every "a op b = c" in a step is worked out
//! again exactly, and a wrong result is reported with the right one — and,
//! with the calculator in the loop (the step scheduler), replaced before the
//! model goes on.
//!
//! Only plain arithmetic between written numbers is checked: `+ - × x * / ÷`,
//! brackets, a currency sign before a number, commas between digit groups,
//! and `%` after a number (read as hundredths). Anything with words inside
//! ("16 eggs - 3 eggs = 13") is left alone rather than guessed at — except
//! the LaTeX the models write in display maths, which marks its words:
//! units in `\text{…}` ("42 \text{ packs} \times 75 \text{ pounds per
//! pack}") are read past, and `\frac{a}{b}` is a division.

pub use lookahead_domain::ArithmeticCheck;

/// A sum found in a text, with where its written result is.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub check: ArithmeticCheck,
    /// Byte range of the written result in the text.
    pub result_range: std::ops::Range<usize>,
}

/// Every checkable sum in `text`, in order.
pub fn find(text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    for (eq, _) in text.match_indices('=') {
        let before = text[..eq].chars().next_back();
        let after = text[eq + 1..].chars().next();
        if matches!(before, Some('=' | '<' | '>' | '!')) || after == Some('=') {
            continue;
        }
        if let Some(f) = check_at(text, eq) {
            found.push(f);
        }
    }
    found
}

/// The values of the numbers written in `text`, sorted, each once
/// ("$1,500" and "1500.00" are both 1500). A digit run glued to letters
/// ("x2", "3rd") counts too: two steps that differ there differ in meaning.
pub fn numbers(text: &str) -> Vec<f64> {
    let bytes = text.as_bytes();
    let mut values = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        // An ASCII digit is always a character boundary, so the slice is
        // taken only there (`×`, `£` and other signs are several bytes).
        let starts = bytes[at].is_ascii_digit() && (at == 0 || !bytes[at - 1].is_ascii_digit());
        match starts.then(|| number_at(&text[at..])).flatten() {
            Some((value, len, _)) => {
                values.push(value);
                at += len;
            }
            None => at += 1,
        }
    }
    values.sort_by(f64::total_cmp);
    values.dedup();
    values
}

/// The sums in `text` whose written result is wrong.
#[cfg(test)]
pub fn wrong(text: &str) -> Vec<Found> {
    find(text)
        .into_iter()
        .filter(|f| !f.check.correct)
        .collect()
}

/// LaTeX spellings of operators and signs, and what they mean (`\left`
/// and `\right` only size the brackets after them; `\,` is a thin space).
const LATEX_OPS: [(&str, &str); 8] = [
    ("\\times", "×"),
    ("\\cdot", "·"),
    ("\\div", "÷"),
    ("\\$", "$"),
    ("\\%", "%"),
    ("\\left", ""),
    ("\\right", ""),
    ("\\,", " "),
];

/// LaTeX commands whose braces hold words (units, labels): read past.
const LATEX_WORDS: [&str; 4] = ["\\text", "\\mathrm", "\\textbf", "\\textit"];

/// LaTeX fractions: `\frac{a}{b}` is a ÷ b.
const LATEX_FRACTIONS: [&str; 3] = ["\\frac", "\\dfrac", "\\tfrac"];

/// Where the `{` that opens the group ending `text` (with `}`) is.
fn group_start(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (at, c) in text.char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' => {
                depth -= 1;
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
        if depth == 0 {
            return None;
        }
    }
    None
}

/// Where the `}` that closes the group opening `text` (with `{`) ends.
fn group_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// `text` after the words group it starts with (`\\text{…}`); None when it
/// starts with none or the group does not close.
fn after_words(text: &str) -> Option<&str> {
    let word = LATEX_WORDS.iter().find(|w| text.starts_with(**w))?;
    let after = text[word.len()..].trim_start();
    Some(&after[group_end(after)?..])
}

/// `text` from its first sign that is not a space or words in `\\text{}`.
fn past_words(text: &str) -> &str {
    let mut rest = text.trim_start();
    while let Some(after) = after_words(rest) {
        rest = after.trim_start();
    }
    rest
}

/// A sum as written (LaTeX included) in plain signs: words in `\text{}`
/// dropped, `\frac{a}{b}` as `a/b` (bracketed where it needs to be),
/// LaTeX operators as signs, other braces as brackets. None when a group
/// does not close.
fn plain_expression(expression: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = expression;
    while let Some(c) = rest.chars().next() {
        if LATEX_WORDS.iter().any(|w| rest.starts_with(w)) {
            rest = after_words(rest)?;
            continue;
        }
        if let Some(frac) = LATEX_FRACTIONS.iter().find(|f| rest.starts_with(**f)) {
            let after = rest[frac.len()..].trim_start();
            let num_end = group_end(after)?;
            let den_text = after[num_end..].trim_start();
            let den_end = group_end(den_text)?;
            let part = |group: &str| -> Option<String> {
                let inner = plain_expression(&group[1..group.len() - 1])?;
                let inner = inner.trim().to_string();
                Some(
                    if number_at(&inner).is_some_and(|(_, len, _)| len == inner.len()) {
                        inner
                    } else {
                        format!("({inner})")
                    },
                )
            };
            let (num, den) = (part(&after[..num_end])?, part(&den_text[..den_end])?);
            out.push_str(&format!("({num}/{den})"));
            rest = &den_text[den_end..];
            continue;
        }
        if let Some((latex, sign)) = LATEX_OPS.iter().find(|(l, _)| rest.starts_with(*l)) {
            out.push_str(sign);
            rest = &rest[latex.len()..];
            continue;
        }
        out.push(match c {
            '{' => '(',
            '}' => ')',
            c => c,
        });
        rest = &rest[c.len_utf8()..];
    }
    // Spaces left where words were dropped are closed up.
    let mut tidy = out.split_whitespace().collect::<Vec<_>>().join(" ");
    // A sum that is one fraction reads without its outer brackets.
    if tidy.starts_with('(') && tidy.ends_with(')') {
        let inner = &tidy[1..tidy.len() - 1];
        let mut depth = 0i32;
        let balanced = inner.chars().all(|c| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            depth >= 0
        });
        if balanced && depth == 0 {
            tidy = inner.to_string();
        }
    }
    Some(tidy)
}

fn is_currency(c: char) -> bool {
    matches!(c, '$' | '£' | '€')
}

/// Characters an expression is made of (`x` only between numbers).
fn expression_char(c: char) -> bool {
    c.is_ascii_digit()
        || is_currency(c)
        || matches!(
            c,
            ' ' | '.' | ',' | '%' | '(' | ')' | '+' | '-' | '*' | '/' | '×' | '÷' | '·' | '−' | 'x'
        )
}

fn check_at(text: &str, eq: usize) -> Option<Found> {
    // The result: optional spaces, currency, a number that ends there.
    let rest = &text[eq + 1..];
    let lead = rest.len() - rest.trim_start_matches([' ', '\u{a0}']).len();
    let mut start = eq + 1 + lead;
    if text[start..].starts_with("\\$") {
        start += 1;
    }
    if text[start..].starts_with(is_currency) {
        start += text[start..].chars().next()?.len_utf8();
    }
    let sign_len = text[start..]
        .chars()
        .next()
        .filter(|c| matches!(c, '-' | '−'))
        .map_or(0, char::len_utf8);
    let negative = sign_len > 0;
    let (value, len, decimals) = number_at(&text[start + sign_len..])?;
    let result_range = start..start + sign_len + len;
    // A result that runs on into more maths ("= 3 + 4") is a chain, not a
    // result: leave it.
    // ("= 20 - 5 = 15" too: the 20 stands for what came before it.)
    let tail = past_words(&text[result_range.end..]);
    let subtracts = tail
        .strip_prefix(['-', '−'])
        .and_then(|after| after.trim_start().chars().next())
        .is_some_and(|c| c.is_ascii_digit() || is_currency(c) || matches!(c, '(' | '\\'));
    if (tail.starts_with(['+', '*', '×', '/', '÷', 'x']) && !tail.starts_with("x "))
        || subtracts
        || ["\\times", "\\cdot", "\\div"]
            .iter()
            .any(|op| tail.starts_with(op))
    {
        return None;
    }

    // The expression: back from "=" over expression characters (and the
    // LaTeX operators models write inside \[ … \]).
    let head = &text[..eq];
    let mut rest = head;
    // Braces of fractions passed on the way back, not yet opened.
    let mut open_groups = 0usize;
    loop {
        if let Some(before) = LATEX_OPS
            .iter()
            .map(|(op, _)| *op)
            .chain(LATEX_FRACTIONS)
            .find_map(|op| rest.strip_suffix(op))
        {
            rest = before;
            continue;
        }
        let Some(c) = rest.chars().next_back() else {
            break;
        };
        let before = &rest[..rest.len() - c.len_utf8()];
        match c {
            '}' => {
                // Words in braces (a unit) are read past; other braces
                // belong to a fraction.
                let open = group_start(rest);
                let words = open.and_then(|open| {
                    let lead = rest[..open].trim_end();
                    LATEX_WORDS.iter().find_map(|w| lead.strip_suffix(w))
                });
                match words {
                    Some(before_words) => rest = before_words,
                    None => {
                        open_groups += 1;
                        rest = before;
                    }
                }
                continue;
            }
            '{' if open_groups > 0 => {
                open_groups -= 1;
                rest = before;
                continue;
            }
            _ => {}
        }
        if !expression_char(c) {
            break;
        }
        // "\(" opens inline maths; it is no bracket of the sum.
        if c == '(' && before.ends_with('\\') {
            break;
        }
        if c == 'x' {
            let prev = before.trim_end().chars().next_back();
            if !prev.is_some_and(|p| p.is_ascii_digit() || p == ')') {
                break;
            }
        }
        rest = before;
    }
    let plain = plain_expression(head[rest.len()..].trim())?;
    let mut expression = plain.as_str();
    // Start at a number, a bracket or a currency sign.
    while let Some(c) = expression.chars().next() {
        if c.is_ascii_digit() || c == '(' || is_currency(c) {
            break;
        }
        expression = expression[c.len_utf8()..].trim_start();
    }
    if expression.is_empty() {
        return None;
    }
    let plain = expression.to_string();
    let tokens = tokenize(&plain)?;
    if !tokens.iter().any(|t| matches!(t, Token::Op(_))) {
        return None;
    }
    let exact = Parser { tokens, at: 0 }.parse()?;
    if !exact.is_finite() {
        return None;
    }
    let written_value = if negative { -value } else { value };
    let tolerance = if decimals == 0 {
        1e-9 * exact.abs().max(1.0)
    } else {
        0.5 * 10f64.powi(-(decimals as i32)) + 1e-9 * exact.abs().max(1.0)
    };
    let correct = (written_value - exact).abs() <= tolerance;
    let written = text[result_range.clone()].to_string();
    Some(Found {
        check: ArithmeticCheck {
            expression: plain,
            exact: format_like(exact, decimals, written.contains(',')),
            written,
            correct,
            corrected: false,
        },
        result_range,
    })
}

/// A number at the start of `text`: (value, byte length, decimals).
fn number_at(text: &str) -> Option<(f64, usize, usize)> {
    let bytes = text.as_bytes();
    let mut end = 0;
    let mut digits = String::new();
    let mut decimals = None::<usize>;
    while end < bytes.len() {
        let c = bytes[end];
        let next_digit = bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
        if c.is_ascii_digit() {
            digits.push(c as char);
            if let Some(d) = decimals.as_mut() {
                *d += 1;
            }
        } else if c == b',' && decimals.is_none() && next_digit && !digits.is_empty() {
            // digit-group comma: exactly three digits follow
            let group = bytes[end + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if group != 3 {
                break;
            }
        } else if c == b'.' && decimals.is_none() && next_digit && !digits.is_empty() {
            digits.push('.');
            decimals = Some(0);
        } else {
            break;
        }
        end += 1;
    }
    if digits.is_empty() {
        return None;
    }
    Some((digits.parse().ok()?, end, decimals.unwrap_or(0)))
}

/// The exact value written with `decimals` places (at least two for a
/// value that is not whole), digit groups when the model used them.
fn format_like(value: f64, decimals: usize, groups: bool) -> String {
    let whole = (value - value.round()).abs() < 1e-9;
    let places = if whole && decimals == 0 {
        0
    } else {
        decimals.max(2)
    };
    let mut text = format!("{value:.places$}");
    if places > 0 && decimals == 0 {
        // 3.50 -> 3.5 when the model wrote no decimals of its own
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if groups {
        let (int, frac) = text
            .split_once('.')
            .map_or((text.as_str(), None), |(a, b)| (a, Some(b)));
        let (sign, int) = int.strip_prefix('-').map_or(("", int), |i| ("-", i));
        let mut grouped = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        text = format!(
            "{sign}{grouped}{}",
            frac.map(|f| format!(".{f}")).unwrap_or_default()
        );
    }
    text
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    Num(f64),
    Op(char),
    Open,
    Close,
}

fn tokenize(expression: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut rest = expression;
    while let Some(c) = rest.chars().next() {
        if c == ' ' || is_currency(c) {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c.is_ascii_digit() {
            let (value, len, _) = number_at(rest)?;
            rest = &rest[len..];
            let value = match rest.strip_prefix('%') {
                Some(after) => {
                    rest = after;
                    value / 100.0
                }
                None => value,
            };
            tokens.push(Token::Num(value));
            continue;
        }
        tokens.push(match c {
            '+' => Token::Op('+'),
            '-' | '−' => Token::Op('-'),
            '*' | '×' | 'x' | '·' => Token::Op('*'),
            '/' | '÷' => Token::Op('/'),
            '(' => Token::Open,
            ')' => Token::Close,
            _ => return None,
        });
        rest = &rest[c.len_utf8()..];
    }
    Some(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn parse(mut self) -> Option<f64> {
        let value = self.sum()?;
        (self.at == self.tokens.len()).then_some(value)
    }
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }
    fn sum(&mut self) -> Option<f64> {
        let mut value = self.product()?;
        while let Some(Token::Op(op @ ('+' | '-'))) = self.peek() {
            self.at += 1;
            let rhs = self.product()?;
            value = if op == '+' { value + rhs } else { value - rhs };
        }
        Some(value)
    }
    fn product(&mut self) -> Option<f64> {
        let mut value = self.atom()?;
        while let Some(Token::Op(op @ ('*' | '/'))) = self.peek() {
            self.at += 1;
            let rhs = self.atom()?;
            value = if op == '*' {
                value * rhs
            } else if rhs == 0.0 {
                return None;
            } else {
                value / rhs
            };
        }
        Some(value)
    }
    fn atom(&mut self) -> Option<f64> {
        match self.peek()? {
            Token::Num(v) => {
                self.at += 1;
                Some(v)
            }
            Token::Op('-') => {
                self.at += 1;
                Some(-self.atom()?)
            }
            Token::Open => {
                self.at += 1;
                let v = self.sum()?;
                (self.peek()? == Token::Close).then(|| self.at += 1)?;
                Some(v)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(text: &str) -> Vec<(String, String, String, bool)> {
        find(text)
            .into_iter()
            .map(|f| {
                (
                    f.check.expression,
                    f.check.written,
                    f.check.exact,
                    f.check.correct,
                )
            })
            .collect()
    }

    #[test]
    fn numbers_are_read_as_values_once_each() {
        assert_eq!(
            numbers("She pays $1,500.00, then 1500 again: 3 + 4 = 7."),
            vec![3.0, 4.0, 7.0, 1500.0]
        );
        assert_eq!(numbers("No figures here."), Vec::<f64>::new());
        assert_eq!(numbers("0.5 of 12 is 6"), vec![0.5, 6.0, 12.0]);
        // Signs of several bytes between the numbers (a step that stopped
        // a GSM8K run: "Number of red balls × Price per red ball").
        assert_eq!(
            numbers("3 × 9 = 27, £4·5 → 20 ≈ 2½"),
            vec![2.0, 3.0, 4.0, 5.0, 9.0, 20.0, 27.0]
        );
        assert_eq!(numbers("Red balls × price per ball"), Vec::<f64>::new());
    }

    #[test]
    fn a_wrong_product_is_flagged_with_the_right_value() {
        let found = wrong("Each box holds 13 × 4 = 54 pens.");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].check.describe(), "13 × 4 = 54 — it is 52");
        assert_eq!(
            &"Each box holds 13 × 4 = 54 pens."[found[0].result_range.clone()],
            "54"
        );
    }

    #[test]
    fn right_sums_in_many_spellings_pass() {
        for text in [
            "16 - 3 - 4 = 9 eggs",
            "9 * $2 = $18",
            "So 1,200 / 3 = 400.",
            "(3 + 5) x 2 = 16",
            "10 / 3 = 3.33 hours",
            "It costs $1,500 × 20% = $300",
            "2 ÷ 8 = 0.25",
            "7 − 10 = -3",
            "\\[\n9 \\times 2 = 18\n\\]",
            "\\( 9 \\times \\$2 = \\$18 \\)",
        ] {
            let c = checks(text);
            assert_eq!(c.len(), 1, "{text}: {c:?}");
            assert!(c[0].3, "{text}: {c:?}");
        }
    }

    #[test]
    fn latex_operators_are_read_and_shown_as_signs() {
        let found = wrong("so \\[ 13 \\times 4 = 54 \\]");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].check.describe(), "13 × 4 = 54 — it is 52");
        assert!(checks("\\(12 \\div 4 = 3\\)")[0].3);
    }

    #[test]
    fn words_comparisons_and_chains_are_left_alone() {
        assert!(find("16 eggs - 3 eggs = 13 eggs").is_empty());
        assert!(find("if a == b then x = 5").is_empty());
        assert!(find("x <= 4").is_empty());
        assert!(find("Let n = 4.").is_empty());
        // The second "=" checks "7 + 2" against 9; the first is a chain.
        let c = checks("3 + 4 = 7 + 2 = 9");
        assert_eq!(c, vec![("7 + 2".into(), "9".into(), "9".into(), true)]);
    }

    #[test]
    fn rounding_counts_as_right_only_to_the_written_decimals() {
        assert!(checks("10 / 3 = 3.3")[0].3);
        assert!(!checks("10 / 3 = 3.4")[0].3);
        assert!(!checks("10 / 3 = 3")[0].3);
        assert_eq!(checks("10 / 4 = 2")[0].2, "2.5");
        assert_eq!(checks("1000 * 1.5 = 1,400")[0].2, "1,500");
    }

    #[test]
    fn units_in_latex_text_are_read_past() {
        // From GSM8K answers of the default model (q8, q52 and q77 of the
        // bench file): wrong sums the check used to miss.
        let c = checks(
            "\\[\n3150 \\text{ pounds} + 1300 \\text{ pounds} + 48 \\text{ pounds} + 2 \\text{ pounds} = 4590 \\text{ pounds}\n\\]",
        );
        assert_eq!(
            c,
            vec![(
                "3150 + 1300 + 48 + 2".into(),
                "4590".into(),
                "4500".into(),
                false
            )]
        );
        let found = wrong("12 \\text{ pots} \\times \\$2.74 \\text{ per pot} = \\$33.28");
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].check.describe(),
            "12 × $2.74 = 33.28 — it is 32.88"
        );
        // A label before the sum is no part of it; units after the result
        // are no chain.
        let c = checks("\\text{Total points} = 18 + 18 + 27 = 63 \\text{ points}");
        assert_eq!(
            c,
            vec![("18 + 18 + 27".into(), "63".into(), "63".into(), true)]
        );
        assert!(checks("\\[ 42 \\text{ packs} \\times 75 \\text{ pounds per pack} = 3150 \\text{ pounds} \\]")[0].3);
        // A sentence in \\text between numbers is not a sum.
        assert!(find("3 + 4 \\text{ and then } 5 = 12").is_empty());
    }

    #[test]
    fn latex_fractions_are_divisions() {
        let found = wrong("\\text{Number of candy bars} = \\frac{9.95}{0.75} = 13.2333\\ldots");
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].check.describe(),
            "9.95/0.75 = 13.2333 — it is 13.2667"
        );
        let c = checks("\\frac{24 \\text{ inches}}{120 \\text{ inches}} \\times 100 = 20\\%");
        assert_eq!(
            c,
            vec![("(24/120) × 100".into(), "20".into(), "20".into(), true)]
        );
        // The fraction keeps its brackets after a division.
        assert!(checks("320 \\div \\frac{1}{16} = 5120")[0].3);
        assert!(checks("\\dfrac{60 - 24}{2} = 18")[0].3);
        // A fraction as the result is not read as one.
        assert!(find("\\frac{2}{3} \\times 10 = \\frac{20}{3}").is_empty());
    }

    #[test]
    fn chains_in_latex_are_left_alone() {
        // "= 2 \\times 20" goes on: the 2 is no result (q79).
        let c = checks(
            "\\[ 2 \\times \\frac{1}{16} \\times 320 = 2 \\times 20 = 40 \\text{ minutes} \\]",
        );
        assert_eq!(c, vec![("2 × 20".into(), "40".into(), "40".into(), true)]);
        // "= 20 - 5 = 15": the 20 stands for "4 × 5", not for the whole.
        let c = checks("4 × 5 - 5 = 20 - 5 = 15");
        assert_eq!(c, vec![("20 - 5".into(), "15".into(), "15".into(), true)]);
        let c = checks("\\$12 - 0.25 \\times \\$12 = \\$96 - \\$3 = \\$36");
        assert_eq!(
            c,
            vec![("$96 - $3".into(), "36".into(), "93".into(), false)]
        );
    }
}
