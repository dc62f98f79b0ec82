//! What a pass costs by its number of tokens, measured on this computer in
//! the passes the executor runs. Word drafting weighs a guess's chance of
//! holding against what one more token in the pass costs
//! ([`crate::Executor::pass_cost`]): the cost of checking a guess is not a
//! straight line (on a 2-core Xeon a pass of 4 tokens took as long as one
//! of 5, and 1.2x one of 3), and it differs between CPUs.

/// Passes of at most this many tokens are counted (longer ones read a
/// prompt).
pub(crate) const LONGEST_COUNTED: usize = 16;
/// Passes of a length counted before their time is used instead of
/// [`prior_cost`].
const MIN_PASSES: u32 = 8;
/// The running means weigh the latest pass by 1/n up to n = this, then
/// forget old passes at that rate.
const WINDOW: u32 = 64;

/// Cost of a pass of `tokens` against one of one token before either is
/// measured: each token beyond the first an eighth of a pass, about what
/// the second and third cost on the 2-core machines measured (BENCHMARKS
/// §2: a pass of two tokens 1.12x one token on the Xeon, 1.21x on the AMD
/// EPYC).
pub fn prior_cost(tokens: usize) -> f64 {
    1.0 + 0.12 * tokens.saturating_sub(1) as f64
}

/// Running mean seconds of one-sequence passes, by token count.
#[derive(Clone, Debug, Default)]
pub struct PassTimes {
    seconds: [f64; LONGEST_COUNTED + 1],
    passes: [u32; LONGEST_COUNTED + 1],
}

impl PassTimes {
    /// Counts a pass of `tokens` that took `seconds`.
    pub fn record(&mut self, tokens: usize, seconds: f64) {
        if tokens == 0 || tokens > LONGEST_COUNTED || !seconds.is_finite() || seconds <= 0.0 {
            return;
        }
        let n = &mut self.passes[tokens];
        *n = n.saturating_add(1);
        let weight = 1.0 / f64::from((*n).min(WINDOW));
        let mean = &mut self.seconds[tokens];
        *mean += weight * (seconds - *mean);
    }

    /// Mean seconds of a pass of `tokens`, once enough were counted.
    pub fn mean_seconds(&self, tokens: usize) -> Option<f64> {
        (tokens <= LONGEST_COUNTED && tokens > 0 && self.passes[tokens] >= MIN_PASSES)
            .then(|| self.seconds[tokens])
    }

    /// Cost of a pass of `tokens` against a pass of one token: measured
    /// where both lengths were, else [`prior_cost`]; never below 1.
    pub fn relative(&self, tokens: usize) -> f64 {
        let tokens = tokens.max(1);
        match (self.mean_seconds(1), self.mean_seconds(tokens)) {
            (Some(one), Some(these)) if one > 0.0 => (these / one).max(1.0),
            _ => prior_cost(tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prior_holds_until_both_lengths_are_measured() {
        let mut times = PassTimes::default();
        assert_eq!(times.relative(1), 1.0);
        assert!((times.relative(5) - 1.48).abs() < 1e-9);
        for _ in 0..MIN_PASSES {
            times.record(1, 0.040);
        }
        // One token measured, five not yet.
        assert!((times.relative(5) - 1.48).abs() < 1e-9);
        for _ in 0..MIN_PASSES - 1 {
            times.record(5, 0.080);
        }
        assert!((times.relative(5) - 1.48).abs() < 1e-9);
        times.record(5, 0.080);
        assert!((times.relative(5) - 2.0).abs() < 1e-9);
        // A length cheaper than one token (noise) counts as one.
        for _ in 0..MIN_PASSES {
            times.record(2, 0.030);
        }
        assert_eq!(times.relative(2), 1.0);
    }

    #[test]
    fn the_means_follow_the_latest_passes_and_ignore_what_is_not_a_pass() {
        let mut times = PassTimes::default();
        for _ in 0..WINDOW {
            times.record(3, 0.060);
        }
        for _ in 0..10 * WINDOW {
            times.record(3, 0.030);
        }
        let mean = times.mean_seconds(3).unwrap_or_default();
        assert!((mean - 0.030).abs() < 1e-4, "{mean}");
        times.record(0, 1.0);
        times.record(LONGEST_COUNTED + 1, 1.0);
        times.record(3, f64::NAN);
        times.record(3, -1.0);
        assert_eq!(times.mean_seconds(LONGEST_COUNTED + 1), None);
        assert!((times.mean_seconds(3).unwrap_or_default() - mean).abs() < 1e-12);
    }
}
