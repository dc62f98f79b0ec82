//! The calculator as a word proposer: where the text so far ends with a sum
//! waiting for its result ("… 13 × 4 =", "= $"), the exact result is the
//! guess. Lookup cannot make it (a result is usually a number the text has
//! not had yet, and this tokenizer writes numbers a digit a token), and the
//! model writes the right result far more often than not, so it is cheap
//! words to check. Like every guess it is verified: where the model would
//! write something else, its own token is kept.

use lookahead_executor::GgufTokenizer;

use super::guess_from_text;
use crate::arith;

/// Latest tokens read back for the sum: far more than a written sum takes.
const SUM_TOKENS: usize = 64;

/// The tokens of the exact result of the sum `tokens` ends with, if it
/// ends with "=" (and spaces or a currency sign after it) after a sum the
/// arithmetic check can read; at most `k` tokens. `last` is the text of
/// the last token: the rest is decoded only when it can end such a sum.
pub fn propose_result(
    tokenizer: &GgufTokenizer,
    tokens: &[u32],
    last: &str,
    k: usize,
) -> Option<Vec<u32>> {
    if k == 0 || !(last.contains('=') || last.ends_with([' ', '$'])) {
        return None;
    }
    let mut guess = guess_from_text(tokenizer, tokens, SUM_TOKENS, result_of)?;
    guess.truncate(k);
    (!guess.is_empty()).then_some(guess)
}

/// What comes after `text` if it ends with a sum's "=": the exact result
/// as the check writes it, with a space first where the text has none.
fn result_of(text: &str) -> Option<String> {
    let eq = text.rfind('=')?;
    let tail = &text[eq + 1..];
    if !tail.chars().all(|c| matches!(c, ' ' | '$' | '\\')) {
        return None;
    }
    let space = if tail.is_empty() { " " } else { "" };
    // The check reads a sum with a written result: give it one and take
    // the exact value it works out.
    let probe = format!("{text}{space}7");
    let found = arith::find(&probe).pop()?;
    (found.result_range.end == probe.len()).then(|| format!("{space}{}", found.check.exact))
}

#[cfg(test)]
mod tests {
    use super::result_of;

    #[test]
    fn a_sum_waiting_for_its_result_gets_the_exact_one() {
        for (text, guess) in [
            ("So 13 × 4 =", " 52"),
            ("So 13 × 4 = ", "52"),
            ("That is $12 + $3.50 = $", "15.5"),
            ("\\[ 42 \\times 75 = \\$", "3150"),
            ("10 / 4 =", " 2.5"),
        ] {
            assert_eq!(result_of(text).as_deref(), Some(guess), "{text}");
        }
    }

    #[test]
    fn no_guess_without_a_sum_the_check_can_read() {
        // Words inside the sum, a result already written, no "=" at all.
        for text in [
            "16 eggs - 3 eggs =",
            "13 × 4 = 52",
            "13 × 4 = 52 and",
            "the total is",
            "x =",
        ] {
            assert_eq!(result_of(text), None, "{text}");
        }
    }
}
