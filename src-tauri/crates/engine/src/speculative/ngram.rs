//! Prompt-lookup / n-gram proposals: no model, just text.
//!
//! Reasoning steps reuse numbers and phrases from the question and from
//! earlier steps; when the last few tokens occurred before, what followed
//! them then is a cheap guess for what follows now. Beyond the text so far:
//! the helper's draft of the step ([`propose_from_hint`]) and earlier
//! answers on this computer (the way this model tends to phrase a worked
//! answer, as llama.cpp's lookup caches and SuffixDecoding use past
//! outputs). Lookup counts what followed each run of the latest 1–4
//! tokens ([`Followers`]) and guesses the most frequent follower, token
//! by token, with the chance that the guess holds so far;
//! [`worth_checking`] then keeps the length that yields the most tokens
//! per unit of pass time, by what a pass of each length costs here.

/// Settings of the n-gram proposer.
#[derive(Clone, Debug, PartialEq)]
pub struct NgramConfig {
    /// Longest run of latest tokens looked up.
    pub max_ngram: usize,
    /// Shortest run looked up (1: what usually follows the last token).
    pub min_ngram: usize,
    /// Where the text ends with a sum's "=", guess the exact result first
    /// (`speculative::sums`).
    pub sum_results: bool,
    /// Where the text ends a step or a numbered line after a numbered
    /// item, guess the next number first (`speculative::numbering`).
    pub next_numbers: bool,
    /// Weight of a sighting in an earlier answer beside one in the text
    /// so far (by default 0.03).
    pub earlier_weight: f64,
    /// A follower's chance of holding is its share to this power (by
    /// default 1.7).
    pub share_power: f64,
}

impl Default for NgramConfig {
    fn default() -> Self {
        Self {
            max_ngram: 4,
            min_ngram: 1,
            sum_results: true,
            next_numbers: true,
            earlier_weight: EARLIER_WEIGHT,
            share_power: SHARE_POWER,
        }
    }
}

/// Weight of an earlier answer's count beside the text's own: the text so
/// far says more about what comes next than another question's answer.
/// Replayed over the 100 GSM8K answers with 50 earlier answers (session
/// 28), 0.01–0.03 drafted fastest and alike (0.1, the first setting, let
/// many answers outvote the text).
const EARLIER_WEIGHT: f64 = 0.03;
/// Pseudo-count of "something else" beside what was seen: one sighting of
/// a follower gives it a share of 1 / 1.5 = 0.67, three of 0.86.
const UNSEEN: f64 = 0.5;
/// A follower's share of what followed a run overstates its chance of
/// holding: on 20 GSM8K answers a share of 2/3 (one sighting) held about
/// half the time, 0.4 about 0.3, 0.9 about 0.9. Its chance is taken as the
/// share to this power (2/3 → 0.50, 0.4 → 0.21, 0.9 → 0.84); 1.7 and 2.0
/// drafted alike in the replay of session 28, 1.5 slower.
const SHARE_POWER: f64 = 1.7;
/// Lookup stops once the chance that all of its guess holds falls below
/// this: a longer guess is not worth its check at any pass cost measured.
const FLOOR: f64 = 0.02;

/// Guessed tokens with the chance that each run of them from the first
/// holds: `held[i]` for `tokens[..=i]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scored {
    pub tokens: Vec<u32>,
    pub held: Vec<f64>,
}

impl Scored {
    /// Another proposer's guess (a hint's words, the next number of a
    /// list), taken as holding: checked whole, as before lookup scored.
    pub fn holding(tokens: Vec<u32>) -> Self {
        Self {
            held: vec![1.0; tokens.len()],
            tokens,
        }
    }

    /// Keeps the first `n` guesses.
    pub fn truncate(&mut self, n: usize) {
        self.tokens.truncate(n);
        self.held.truncate(n);
    }
}

/// How many of `guess`'s tokens are worth checking in a pass that also
/// carries `pending` tokens of the text: the length with the most tokens
/// expected per unit of pass time, where a pass of n tokens costs
/// `cost(n)` (against one token) and the pass yields one token of the
/// main model's own beside the guesses that hold.
pub fn worth_checking(guess: &Scored, pending: usize, cost: impl Fn(usize) -> f64) -> usize {
    let pending = pending.max(1);
    let mut expected = 1.0;
    let mut best = (0, expected / cost(pending));
    for (i, held) in guess.held.iter().enumerate() {
        expected += held;
        let per_cost = expected / cost(pending + i + 1);
        if per_cost > best.1 {
            best = (i + 1, per_cost);
        }
    }
    best.0
}

impl NgramConfig {
    /// Up to `k` tokens that most often followed the latest tokens, in
    /// the text so far (`text`, counted up to `tokens`) and in earlier
    /// answers (`earlier`): token by token, the follower with the highest
    /// share among the runs of `min_ngram..=max_ngram` latest tokens, with
    /// the chance that the guess holds so far, while that stays at least
    /// [`FLOOR`]. Empty when nothing seen before fits. How much of it to
    /// check is [`worth_checking`]'s question.
    pub fn propose(
        &self,
        text: &Followers,
        earlier: &Followers,
        tokens: &[u32],
        k: usize,
    ) -> Scored {
        let mut out = Scored::default();
        let mut window: Vec<u32> = tokens[tokens.len().saturating_sub(self.max_ngram)..].to_vec();
        let mut chance = 1.0;
        while out.tokens.len() < k {
            let mut best: Option<(u32, f64)> = None;
            for n in (self.min_ngram.max(1)..=self.max_ngram.min(window.len())).rev() {
                let run = &window[window.len() - n..];
                if let Some((token, share)) = guess_after(text, earlier, self.earlier_weight, run) {
                    if best.is_none_or(|(_, b)| share > b) {
                        best = Some((token, share));
                    }
                }
            }
            let Some((token, share)) = best else {
                break;
            };
            chance *= share.powf(self.share_power);
            if chance < FLOOR {
                break;
            }
            out.tokens.push(token);
            out.held.push(chance);
            window.push(token);
            if window.len() > self.max_ngram {
                window.remove(0);
            }
        }
        out
    }

    /// `first` (another proposer's guess, taken as holding), then what
    /// lookup guesses from where it ends, `k` tokens at most in all.
    pub fn propose_after(
        &self,
        text: &Followers,
        earlier: &Followers,
        tokens: &[u32],
        mut first: Vec<u32>,
        k: usize,
    ) -> Scored {
        first.truncate(k);
        let from = tokens.len().saturating_sub(self.max_ngram);
        let window: Vec<u32> = tokens[from..].iter().chain(&first).copied().collect();
        let more = self.propose(text, earlier, &window, k - first.len());
        let mut guess = Scored::holding(first);
        guess.tokens.extend(more.tokens);
        guess.held.extend(more.held);
        guess
    }
}

/// The most frequent follower of `run` in both tables, with its share of
/// every follower seen there, shrunk by [`UNSEEN`] for few sightings.
fn guess_after(
    text: &Followers,
    earlier: &Followers,
    earlier_weight: f64,
    run: &[u32],
) -> Option<(u32, f64)> {
    let key = run_key(run);
    let mut weighted: Vec<(u32, f64)> = Vec::new();
    let mut sightings = 0u32;
    for (table, weight) in [(text, 1.0), (earlier, earlier_weight)] {
        for &(token, count) in table.counts.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
            sightings += count;
            match weighted.iter_mut().find(|(t, _)| *t == token) {
                Some((_, w)) => *w += weight * count as f64,
                None => weighted.push((token, weight * count as f64)),
            }
        }
    }
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        // Seen only in earlier answers, and they count for nothing.
        return None;
    }
    // Ties go to the first seen.
    let (token, top) = weighted
        .into_iter()
        .fold(None, |best: Option<(u32, f64)>, (t, w)| match best {
            Some((_, b)) if b >= w => best,
            _ => Some((t, w)),
        })?;
    let sightings = sightings as f64;
    Some((token, top / total * sightings / (sightings + UNSEEN)))
}

/// One key per run of tokens (its length is part of it).
fn run_key(run: &[u32]) -> u64 {
    // FNV-1a over the run's length and tokens.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ run.len() as u64;
    for &t in run {
        for b in t.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// What followed each run of 1..=`max_run` tokens in some texts, counted.
#[derive(Clone, Debug, Default)]
pub struct Followers {
    max_run: usize,
    counts: std::collections::HashMap<u64, Vec<(u32, u32)>>,
    /// The text counted so far (by [`Followers::sync`]).
    seen: Vec<u32>,
}

impl Followers {
    pub fn new(config: &NgramConfig) -> Self {
        Self {
            max_run: config.max_ngram,
            ..Self::default()
        }
    }

    /// Counts of several separate texts (earlier answers): no run spans
    /// two of them.
    pub fn of_texts(config: &NgramConfig, texts: &[Vec<u32>]) -> Self {
        let mut this = Self::new(config);
        for text in texts {
            this.count(text, 0);
        }
        this
    }

    /// Brings the counts up to `tokens`, the text so far: counts what was
    /// added since the last call, or starts over where the text changed
    /// (a corrected result, another request).
    pub fn sync(&mut self, tokens: &[u32]) {
        let kept = lookahead_executor::common_prefix(&self.seen, tokens);
        if kept < self.seen.len() {
            self.counts.clear();
            self.seen.clear();
        }
        self.count(tokens, self.seen.len());
        self.seen.extend_from_slice(&tokens[self.seen.len()..]);
    }

    /// Counts the follower of every run ending at `from..` in `text`.
    fn count(&mut self, text: &[u32], from: usize) {
        for at in from.max(1)..text.len() {
            for n in 1..=self.max_run.min(at) {
                let followers = self.counts.entry(run_key(&text[at - n..at])).or_default();
                match followers.iter_mut().find(|(t, _)| *t == text[at]) {
                    Some((_, c)) => *c += 1,
                    None => followers.push((text[at], 1)),
                }
            }
        }
    }
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

    fn counted(text: &[u32]) -> Followers {
        let mut f = Followers::new(&NgramConfig::default());
        f.sync(text);
        f
    }

    /// The chance a share stands for.
    fn chance(share: f64) -> f64 {
        share.powf(SHARE_POWER)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_run_seen_before_is_continued_with_the_chance_that_it_holds() {
        let ngram = NgramConfig::default();
        let none = Followers::default();
        // "1 2 3" was followed by "4 9" once: each token held with a share
        // of 1 / 1.5, so the guess goes on, less likely with each token,
        // until it falls below the floor.
        let tokens = [1, 2, 3, 4, 9, 5, 1, 2, 3];
        let guess = ngram.propose(&counted(&tokens), &none, &tokens, 8);
        assert_eq!(guess.tokens[..2], [4, 9]);
        assert_eq!(guess.tokens.len(), guess.held.len());
        let one = chance(1.0 / 1.5);
        assert!(close(guess.held[0], one), "{guess:?}");
        assert!(close(guess.held[1], one * one), "{guess:?}");
        assert!(guess.held.windows(2).all(|w| w[1] < w[0]));
        assert!(guess.held.iter().all(|&h| h >= FLOOR));
        assert!(guess.tokens.len() < 8, "{guess:?}");
        assert_eq!(
            ngram.propose(&counted(&tokens), &none, &tokens, 1).tokens,
            vec![4]
        );
        assert_eq!(
            ngram.propose(&counted(&tokens), &none, &tokens, 0),
            Scored::default()
        );
        // Nothing seen before fits.
        assert_eq!(
            ngram.propose(&counted(&[4, 5, 6]), &none, &[4, 5, 6], 3),
            Scored::default()
        );
    }

    #[test]
    fn the_most_frequent_follower_wins_and_a_split_makes_a_weak_guess() {
        let ngram = NgramConfig::default();
        let none = Followers::default();
        // After 5: 6 three times, 7 once.
        let tokens = [5, 6, 1, 5, 7, 2, 5, 6, 3, 5, 6, 4, 5];
        let guess = ngram.propose(&counted(&tokens), &none, &tokens, 1);
        assert_eq!(guess.tokens, vec![6]);
        assert!(close(guess.held[0], chance(0.75 * 4.0 / 4.5)));
        // After 8: 1, 2 and 3 once each: the first seen, unlikely.
        let tokens = [8, 1, 8, 2, 8, 3, 8];
        let weak = ngram.propose(&counted(&tokens), &none, &tokens, 1);
        assert_eq!(weak.tokens, vec![1]);
        assert!(close(weak.held[0], chance(1.0 / 3.0 * 3.0 / 3.5)));
        // Worth checking only where one more token costs little.
        assert_eq!(
            worth_checking(&weak, 1, |n| if n > 1 { 1.2 } else { 1.0 }),
            0
        );
        assert_eq!(
            worth_checking(&weak, 1, |n| if n > 1 { 1.1 } else { 1.0 }),
            1
        );
    }

    #[test]
    fn the_length_checked_is_the_one_with_the_most_tokens_per_pass_time() {
        let guess = Scored {
            tokens: vec![1, 2, 3, 4],
            held: vec![0.9, 0.5, 0.1, 0.05],
        };
        // Expected tokens 1, 1.9, 2.4, 2.5, 2.55 for passes of 1..=5
        // tokens.
        let curve = |costs: [f64; 5]| move |n: usize| costs[n - 1];
        // Each token costs more than the last one's chance is worth: 2.
        assert_eq!(
            worth_checking(&guess, 1, curve([1.0, 1.1, 1.25, 1.5, 1.5])),
            2
        );
        // A fourth token in the pass nearly free: 3.
        assert_eq!(
            worth_checking(&guess, 1, curve([1.0, 1.1, 1.25, 1.26, 1.5])),
            3
        );
        // And a fifth free too: all of it.
        assert_eq!(
            worth_checking(&guess, 1, curve([1.0, 1.1, 1.25, 1.26, 1.26])),
            4
        );
        // Passes that cost their tokens: nothing pays.
        assert_eq!(worth_checking(&guess, 1, |n| n as f64), 0);
        // Two tokens already waiting: the pass is priced from there.
        let two_waiting = |n: usize| [1.0, 1.0, 1.0, 2.0, 2.0, 2.0][n - 1];
        assert_eq!(worth_checking(&guess, 2, two_waiting), 1);
        // Nothing guessed, nothing to check.
        assert_eq!(worth_checking(&Scored::default(), 1, prior), 0);
        // With the prior's cost, a sure guess is always checked.
        let sure = Scored {
            tokens: vec![7; 8],
            held: vec![1.0; 8],
        };
        assert_eq!(worth_checking(&sure, 1, prior), 8);
    }

    fn prior(n: usize) -> f64 {
        lookahead_executor::prior_cost(n)
    }

    #[test]
    fn a_hint_goes_first_and_counts_as_holding() {
        let ngram = NgramConfig::default();
        let none = Followers::default();
        let tokens = [1, 2, 3, 4, 9, 5, 1, 2];
        let guess = ngram.propose_after(&counted(&tokens), &none, &tokens, vec![3], 3);
        assert_eq!(guess.tokens, vec![3, 4, 9]);
        assert!(close(guess.held[0], 1.0));
        assert!(close(guess.held[1], chance(1.0 / 1.5)));
        // The hint alone when it fills the guess.
        let hinted = ngram.propose_after(&counted(&tokens), &none, &tokens, vec![3, 3, 3, 3], 2);
        assert_eq!(hinted.tokens, vec![3, 3]);
        assert_eq!(hinted.held, vec![1.0, 1.0]);
    }

    #[test]
    fn earlier_answers_fill_in_where_the_text_has_nothing_and_count_less() {
        let ngram = NgramConfig::default();
        let earlier = Followers::of_texts(&ngram, &[vec![1, 2, 3, 4, 5, 6], vec![7, 8, 9]]);
        // "2 3" is only in an earlier answer: it goes on from there.
        let tokens = [20, 2, 3];
        assert_eq!(
            ngram
                .propose(&counted(&tokens), &earlier, &tokens, 2)
                .tokens,
            vec![4, 5]
        );
        // No run spans two answers: 6 was never followed by 7.
        assert_eq!(
            ngram.propose(&counted(&[6]), &earlier, &[6], 2),
            Scored::default()
        );
        // The text so far outweighs an earlier answer: after 8 it had 5
        // twice, the earlier answer 9 once.
        let tokens = [8, 5, 1, 8, 5, 2, 8];
        assert_eq!(
            ngram
                .propose(&counted(&tokens), &earlier, &tokens, 1)
                .tokens,
            vec![5]
        );
    }

    #[test]
    fn the_weight_of_earlier_answers_and_the_share_power_are_settings() {
        let earlier = Followers::of_texts(&NgramConfig::default(), &[vec![1, 2, 3, 4]]);
        let tokens = [9, 2, 3];
        let text = counted(&tokens);
        // "2 3" was followed by 4 once, in an earlier answer only.
        let shipped = NgramConfig::default();
        let guess = shipped.propose(&text, &earlier, &tokens, 1);
        assert_eq!(guess.tokens, vec![4]);
        assert!(close(guess.held[0], chance(1.0 / 1.5)));
        // Weighed at nothing, earlier answers offer nothing.
        let without = NgramConfig {
            earlier_weight: 0.0,
            ..NgramConfig::default()
        };
        assert_eq!(
            without.propose(&text, &earlier, &tokens, 1),
            Scored::default()
        );
        // A higher power: the same share, a lower chance.
        let doubtful = NgramConfig {
            share_power: 3.0,
            ..NgramConfig::default()
        };
        let lower = doubtful.propose(&text, &earlier, &tokens, 1);
        assert_eq!(lower.tokens, vec![4]);
        assert!(close(lower.held[0], (1.0f64 / 1.5).powi(3)));
    }

    #[test]
    fn the_counts_follow_the_text_and_start_over_where_it_changed() {
        let ngram = NgramConfig::default();
        let none = Followers::default();
        let mut f = Followers::new(&ngram);
        f.sync(&[1, 2, 3, 1, 2]);
        let first = ngram.propose(&f, &none, &[1, 2, 3, 1, 2], 1);
        assert_eq!(first.tokens, vec![3]);
        assert!(close(first.held[0], chance(1.0 / 1.5)));
        // The text grew: only the new tokens are counted, the old stay, so
        // "1 2" was followed by three different tokens: a weak guess.
        let grown = [1, 2, 3, 1, 2, 4, 1, 2, 5, 1, 2];
        f.sync(&grown);
        let split = ngram.propose(&f, &none, &grown, 1);
        assert!(
            close(split.held[0], chance(1.0 / 3.0 * 3.0 / 3.5)),
            "{split:?}"
        );
        // A corrected text: what the old one said is gone.
        f.sync(&[1, 2, 5, 1, 2]);
        let corrected = ngram.propose(&f, &none, &[1, 2, 5, 1, 2], 1);
        assert_eq!(corrected.tokens, vec![5]);
        assert!(close(corrected.held[0], chance(1.0 / 1.5)));
    }
}
