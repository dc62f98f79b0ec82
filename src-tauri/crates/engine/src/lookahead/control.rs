//! Adaptive control: how deep to draft, and when to stop speculating.

/// Lookahead depth that follows acceptance: every drafted step costs draft
/// time up front (the draft is sequential) and a slot in the target's batch,
/// and pays only when accepted. A rejection at the first position means the
/// whole round's drafting was wasted, so γ shrinks; a round that accepted
/// everything could have gone deeper, so γ grows. Partial rounds leave γ as it
/// is: the rejection point already matched the depth.
#[derive(Clone, Debug)]
pub(crate) struct GammaController {
    max: usize,
    current: usize,
    adaptive: bool,
}

impl GammaController {
    pub(crate) fn new(max: usize, adaptive: bool) -> Self {
        Self {
            max,
            current: max,
            adaptive,
        }
    }

    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// `drafted` steps were proposed at depth `gamma`; `accepted` kept.
    pub(crate) fn after_round(&mut self, gamma: usize, drafted: usize, accepted: usize) {
        if !self.adaptive || drafted == 0 {
            return;
        }
        if accepted == 0 {
            self.current = self.current.saturating_sub(1).max(1);
        } else if accepted == drafted && drafted >= gamma {
            self.current = (self.current + 1).min(self.max);
        }
    }
}

/// Rounds in a row that must run slower than plain decoding before the guard
/// switches speculation off (unless told otherwise): the first round pays
/// the prompt's prefill and one unlucky round says little.
pub(crate) const GUARD_PATIENCE: usize = 3;

/// Watches the speed of speculative rounds against plain decoding.
#[derive(Clone, Debug)]
pub(crate) struct SlowdownGuard {
    enabled: bool,
    fixed_estimate: Option<f64>,
    // The target's own decode rate, measured on the first branch of each
    // round (a branch a batching backend may slow down, so this errs low
    // and the guard errs towards keeping speculation).
    measured_tokens: usize,
    measured_seconds: f64,
    slow_rounds: usize,
    patience: usize,
}

impl SlowdownGuard {
    pub(crate) fn new(enabled: bool, fixed_estimate: Option<f64>, patience: usize) -> Self {
        Self {
            enabled,
            fixed_estimate,
            measured_tokens: 0,
            measured_seconds: 0.0,
            slow_rounds: 0,
            patience: patience.max(1),
        }
    }

    /// Records a target step's tokens and the time the backend says it took.
    pub(crate) fn observe_target_step(&mut self, tokens: usize, seconds: f64) {
        if seconds > 0.0 {
            self.measured_tokens += tokens;
            self.measured_seconds += seconds;
        }
    }

    /// The plain speed to beat, if known.
    pub(crate) fn plain_tokens_per_s(&self) -> Option<f64> {
        self.fixed_estimate.or_else(|| {
            (self.measured_seconds > 0.0 && self.measured_tokens > 0)
                .then(|| self.measured_tokens as f64 / self.measured_seconds)
        })
    }

    /// Records a round that settled `tokens` in `seconds`; returns why
    /// speculation should stop, once it has been slower for `patience`
    /// rounds in a row. A round at under half the plain speed counts twice:
    /// waiting for a third such round would cost more than a plain step.
    pub(crate) fn after_round(&mut self, tokens: usize, seconds: f64) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let plain = self.plain_tokens_per_s()?;
        let speed = if seconds > 0.0 {
            tokens as f64 / seconds
        } else {
            f64::INFINITY
        };
        if speed < plain / 2.0 {
            self.slow_rounds += 2;
        } else if speed < plain {
            self.slow_rounds += 1;
        } else {
            self.slow_rounds = 0;
        }
        (self.slow_rounds >= self.patience).then(|| {
            format!(
                "slowdown guard: step speculation ran at {speed:.1} tokens/s, below plain decoding's {plain:.1} tokens/s"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_shrinks_on_early_rejection_and_grows_on_full_accept() {
        let mut gamma = GammaController::new(4, true);
        gamma.after_round(4, 4, 0);
        assert_eq!(gamma.current(), 3);
        gamma.after_round(3, 3, 0);
        gamma.after_round(2, 2, 0);
        gamma.after_round(1, 1, 0);
        assert_eq!(gamma.current(), 1);
        gamma.after_round(1, 1, 1);
        assert_eq!(gamma.current(), 2);
        gamma.after_round(2, 2, 1);
        assert_eq!(gamma.current(), 2);
        for _ in 0..5 {
            let g = gamma.current();
            gamma.after_round(g, g, g);
        }
        assert_eq!(gamma.current(), 4);
    }

    #[test]
    fn pinned_gamma_does_not_move() {
        let mut gamma = GammaController::new(3, false);
        gamma.after_round(3, 3, 0);
        assert_eq!(gamma.current(), 3);
    }

    #[test]
    fn guard_needs_consecutive_slow_rounds() {
        // 8 tokens/s against plain 10: slow, but not badly.
        let mut guard = SlowdownGuard::new(true, Some(10.0), GUARD_PATIENCE);
        assert!(guard.after_round(8, 1.0).is_none());
        assert!(guard.after_round(50, 1.0).is_none());
        assert!(guard.after_round(8, 1.0).is_none());
        assert!(guard.after_round(8, 1.0).is_none());
        assert!(guard.after_round(8, 1.0).is_some());
    }

    #[test]
    fn guard_acts_sooner_on_badly_slow_rounds_and_lower_patience() {
        // Under half the plain speed counts twice: two such rounds suffice.
        let mut guard = SlowdownGuard::new(true, Some(10.0), GUARD_PATIENCE);
        assert!(guard.after_round(4, 1.0).is_none());
        assert!(guard.after_round(4, 1.0).is_some());
        // Patience 1 (the last answer lost time): one slow round.
        let mut impatient = SlowdownGuard::new(true, Some(10.0), 1);
        assert!(impatient.after_round(9, 1.0).is_some());
    }

    #[test]
    fn guard_estimates_plain_speed_from_the_target() {
        let mut guard = SlowdownGuard::new(true, None, GUARD_PATIENCE);
        assert!(guard.after_round(1, 100.0).is_none());
        guard.observe_target_step(20, 2.0);
        assert_eq!(guard.plain_tokens_per_s(), Some(10.0));
        let mut off = SlowdownGuard::new(false, Some(1e9), 1);
        for _ in 0..10 {
            assert!(off.after_round(1, 1.0).is_none());
        }
    }
}
