//! Prompt-lookup / n-gram proposals: no model, just the text so far.
//!
//! Reasoning steps reuse numbers and phrases from the question and from
//! earlier steps; when the last few tokens occurred before, what followed
//! them then is a cheap guess for what follows now.

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

#[cfg(test)]
mod tests {
    use super::*;

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
