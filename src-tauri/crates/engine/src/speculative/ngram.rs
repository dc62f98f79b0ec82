//! Prompt-lookup / n-gram proposals: no model, just text.
//!
//! Reasoning steps reuse numbers and phrases from the question and from
//! earlier steps; when the last few tokens occurred before, what followed
//! them then is a cheap guess for what follows now. Beyond the text so far:
//! the helper's draft of the step ([`propose_from_hint`]) and earlier
//! answers on this computer ([`propose_from_earlier`]; the way this model
//! tends to phrase a worked answer, as llama.cpp's lookup caches and
//! SuffixDecoding use past outputs).

/// Settings of the n-gram proposer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NgramConfig {
    /// Longest suffix tried first.
    pub max_ngram: usize,
    /// Shortest suffix accepted as a match.
    pub min_ngram: usize,
}

impl Default for NgramConfig {
    fn default() -> Self {
        Self {
            max_ngram: 3,
            min_ngram: 2,
        }
    }
}

impl NgramConfig {
    /// Up to `k` tokens that followed the most recent earlier occurrence of
    /// the longest matching suffix of `tokens`; empty when nothing matches.
    pub fn propose(&self, tokens: &[u32], k: usize) -> Vec<u32> {
        if k == 0 {
            return Vec::new();
        }
        let len = tokens.len();
        for n in (self.min_ngram.max(1)..=self.max_ngram).rev() {
            if len <= n {
                continue;
            }
            let suffix = &tokens[len - n..];
            // Most recent occurrence first: it best reflects the current
            // context. The suffix itself (at len - n) is not a match.
            for start in (0..len - n).rev() {
                if &tokens[start..start + n] == suffix {
                    let from = start + n;
                    let to = (from + k).min(len);
                    if from < to {
                        return tokens[from..to].to_vec();
                    }
                }
            }
        }
        Vec::new()
    }
}

/// Shortest run of the latest tokens that must recur in an earlier answer
/// before what followed it there is proposed: across answers, two tokens
/// match by chance too often.
const EARLIER_MIN_RUN: usize = 3;
/// Longest run tried first.
const EARLIER_MAX_RUN: usize = 5;

/// Proposals from earlier answers (most recent first): what followed the
/// longest run (5 down to 3 tokens) of the latest `tokens` in the most
/// recent answer that has it. `None` when no earlier answer has such a run.
pub fn propose_from_earlier(earlier: &[Vec<u32>], tokens: &[u32], k: usize) -> Option<Vec<u32>> {
    if earlier.is_empty() || k == 0 {
        return None;
    }
    for n in (EARLIER_MIN_RUN..=EARLIER_MAX_RUN.min(tokens.len())).rev() {
        let suffix = &tokens[tokens.len() - n..];
        for answer in earlier {
            if let Some(start) = answer.windows(n).rposition(|w| w == suffix) {
                let from = start + n;
                let to = (from + k).min(answer.len());
                if from < to {
                    return Some(answer[from..to].to_vec());
                }
            }
        }
    }
    None
}

/// Proposals from a hint (the text the model will probably write, e.g. the
/// helper's draft of the step): while what was generated so far follows the
/// hint, its next `k` tokens; after a departure, what follows the latest
/// place in the hint where the last few generated tokens occur. `None`
/// when the hint has nothing to offer (the n-gram search then runs).
pub fn propose_from_hint(hint: &[u32], generated: &[u32], k: usize) -> Option<Vec<u32>> {
    if hint.is_empty() || k == 0 {
        return None;
    }
    let continue_at = |at: usize| {
        let to = (at + k).min(hint.len());
        (at < to).then(|| hint[at..to].to_vec())
    };
    if hint.starts_with(generated) {
        return continue_at(generated.len());
    }
    // Re-align on the longest recent run (at most 4 tokens, at least 2).
    for n in (2..=4.min(generated.len())).rev() {
        let suffix = &generated[generated.len() - n..];
        if let Some(start) = hint.windows(n).rposition(|w| w == suffix) {
            if let Some(guess) = continue_at(start + n) {
                return Some(guess);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_is_followed_while_the_text_agrees_and_realigned_after_a_departure() {
        let hint = [10, 11, 12, 13, 14, 15];
        // Nothing written yet: the hint's beginning.
        assert_eq!(propose_from_hint(&hint, &[], 3), Some(vec![10, 11, 12]));
        assert_eq!(propose_from_hint(&hint, &[10, 11], 2), Some(vec![12, 13]));
        // A different word, then back on a run the hint has.
        assert_eq!(
            propose_from_hint(&hint, &[10, 99, 12, 13], 2),
            Some(vec![14, 15])
        );
        // Nothing in common, or the hint used up: the n-gram search runs.
        assert_eq!(propose_from_hint(&hint, &[7, 8, 9], 2), None);
        assert_eq!(propose_from_hint(&hint, &hint, 2), None);
        assert_eq!(propose_from_hint(&[], &[1], 2), None);
    }

    #[test]
    fn earlier_answers_continue_a_run_of_three_or_more() {
        let earlier = vec![vec![1, 2, 3, 4, 5, 6], vec![7, 8, 9, 10, 11]];
        // "8 9 10" is in the second answer: 11 followed it.
        assert_eq!(
            propose_from_earlier(&earlier, &[0, 8, 9, 10], 3),
            Some(vec![11])
        );
        // The longest run wins; the most recent answer first among equals.
        assert_eq!(
            propose_from_earlier(&earlier, &[2, 3, 4], 2),
            Some(vec![5, 6])
        );
        // Two tokens are not enough across answers; an answer's end offers nothing.
        assert_eq!(propose_from_earlier(&earlier, &[9, 3, 4], 2), None);
        assert_eq!(propose_from_earlier(&earlier, &[9, 10, 11], 2), None);
        assert_eq!(propose_from_earlier(&[], &[1, 2, 3], 2), None);
    }

    #[test]
    fn continues_the_latest_match() {
        let ngram = NgramConfig::default();
        // "1 2 3 9 … 1 2 3 7 8 … 2 3" → after "2 3" came 7 most recently.
        let tokens = [1, 2, 3, 9, 5, 1, 2, 3, 7, 8, 4, 2, 3];
        assert_eq!(ngram.propose(&tokens, 2), vec![7, 8]);
        assert_eq!(ngram.propose(&tokens, 0), Vec::<u32>::new());
        assert_eq!(ngram.propose(&[4, 5, 6], 3), Vec::<u32>::new());
    }
}
