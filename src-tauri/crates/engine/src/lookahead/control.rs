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

    /// Starts at depth `first` (within 1 ..= max) instead of the most;
    /// a pinned γ stays pinned.
    pub(crate) fn starting_at(mut self, first: Option<usize>) -> Self {
        if let (true, Some(first)) = (self.adaptive, first) {
            self.current = first.clamp(1, self.max);
        }
        self
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

/// The longest pause, in answers, after step drafting lost time answer
/// after answer: it is tried again at least this often, in case the
/// questions (or the computer's load) changed.
pub(crate) const LONGEST_PAUSE: usize = 16;

/// How step drafting went in recent answers with one model pair, mode and
/// judge: the slowdown guard's memory across answers. On a computer where
/// drafting steps does not pay, every answer would otherwise spend its first
/// round finding that out again (on a 2-core CPU that round cost a third of
/// the answer's time); instead, an answer whose guard stepped in pauses
/// step drafting for the next 2 answers, a second such answer in a row for
/// 4, then 8, up to [`LONGEST_PAUSE`]. A paused answer is written by the
/// main model alone (with word drafting where the mode has it). An answer
/// where drafting kept up ends the pause record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StepDraftingRecord {
    losses_in_a_row: u32,
    paused_for: usize,
    /// The last answer that drafted steps kept up with plain decoding:
    /// the next one may start as deep as γ goes.
    kept_up: bool,
}

/// Look-ahead depth of the first round until step drafting has kept up
/// with plain decoding in an answer (the first answer with these models,
/// and every retry after a pause; γ then follows acceptance as usual, one
/// deeper after each round that kept every drafted step): a first round
/// that loses costs one drafted step and two branches, not four and five.
/// On a 2-core CPU a losing retry cost 1.3–1.4 s at γ 1 against 3.7–5.5 s
/// at γ 2, and the first answer's three rounds at γ 4 cost 12.5 s
/// (BENCHMARKS.md, section 2); it tells as much (break-even acceptance is
/// about the same at either depth there).
pub(crate) const SHALLOW_GAMMA: usize = 1;

/// What the next answer does about step drafting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NextAnswer {
    /// Draft steps; the guard steps in after `patience` slow rounds; the
    /// first round drafts `first_gamma` steps where given.
    Draft {
        patience: usize,
        first_gamma: Option<usize>,
    },
    /// No step drafting in this answer; `then_paused_for` more answers
    /// after it skip it too.
    Paused {
        losses_in_a_row: u32,
        then_paused_for: usize,
    },
}

impl StepDraftingRecord {
    /// The plan for the next answer (and one answer of the pause used up).
    /// `trying` (the automatic mode trying this mode out) always drafts,
    /// with the guard at its strictest.
    pub(crate) fn next_answer(&mut self, trying: bool) -> NextAnswer {
        if self.paused_for > 0 && !trying {
            self.paused_for -= 1;
            return NextAnswer::Paused {
                losses_in_a_row: self.losses_in_a_row,
                then_paused_for: self.paused_for,
            };
        }
        self.paused_for = 0;
        let retry = self.losses_in_a_row > 0;
        NextAnswer::Draft {
            patience: if retry || trying { 1 } else { GUARD_PATIENCE },
            first_gamma: (!self.kept_up).then_some(SHALLOW_GAMMA),
        }
    }

    /// Records an answer that drafted steps: `lost` when the guard stopped
    /// drafting in it.
    pub(crate) fn after_answer(&mut self, lost: bool) {
        if lost {
            self.losses_in_a_row = self.losses_in_a_row.saturating_add(1);
            self.paused_for = 2usize
                .saturating_pow(self.losses_in_a_row)
                .min(LONGEST_PAUSE);
            self.kept_up = false;
        } else {
            *self = Self {
                kept_up: true,
                ..Self::default()
            };
        }
    }
}

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
        let mut gamma = GammaController::new(3, false).starting_at(Some(1));
        assert_eq!(gamma.current(), 3);
        gamma.after_round(3, 3, 0);
        assert_eq!(gamma.current(), 3);
    }

    #[test]
    fn gamma_can_start_shallow_and_still_grow_to_its_most() {
        let mut gamma = GammaController::new(4, true).starting_at(Some(SHALLOW_GAMMA));
        assert_eq!(gamma.current(), 1);
        for g in 1..=3 {
            gamma.after_round(g, g, g);
        }
        assert_eq!(gamma.current(), 4);
        assert_eq!(
            GammaController::new(3, true).starting_at(Some(9)).current(),
            3
        );
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
    fn step_drafting_pauses_longer_after_each_losing_answer_and_resumes_when_it_keeps_up() {
        let mut record = StepDraftingRecord::default();
        // The first answer: patient (its first round pays the prompt), but
        // shallow until drafting has shown it keeps up.
        assert_eq!(
            record.next_answer(false),
            NextAnswer::Draft {
                patience: GUARD_PATIENCE,
                first_gamma: Some(SHALLOW_GAMMA)
            }
        );
        // Which answers draft, over 40 answers that all lose when drafting.
        let mut drafted = Vec::new();
        for answer in 1..=40 {
            match record.next_answer(false) {
                NextAnswer::Draft {
                    patience,
                    first_gamma,
                } => {
                    // A retry after a pause starts shallow and impatient.
                    let retry = answer > 1;
                    assert_eq!(patience, if retry { 1 } else { GUARD_PATIENCE });
                    assert_eq!(first_gamma, Some(SHALLOW_GAMMA));
                    drafted.push(answer);
                    record.after_answer(true);
                }
                NextAnswer::Paused { .. } => {}
            }
        }
        // Pauses of 2, 4, 8, then 16 answers: 5 of 40 answers pay a round.
        assert_eq!(drafted, vec![1, 4, 9, 18, 35]);
        assert_eq!(
            record.next_answer(false),
            NextAnswer::Paused {
                losses_in_a_row: 5,
                then_paused_for: 10
            }
        );
        // The automatic mode trying it out drafts at once, impatiently.
        assert_eq!(
            record.next_answer(true),
            NextAnswer::Draft {
                patience: 1,
                first_gamma: Some(SHALLOW_GAMMA)
            }
        );
        // An answer where drafting kept up: back to drafting every answer,
        // from the deepest γ.
        record.after_answer(false);
        for _ in 0..3 {
            assert_eq!(
                record.next_answer(false),
                NextAnswer::Draft {
                    patience: GUARD_PATIENCE,
                    first_gamma: None
                }
            );
        }
        // Losing again after keeping up: paused, then retried shallow.
        record.after_answer(true);
        assert!(matches!(
            record.next_answer(false),
            NextAnswer::Paused { .. }
        ));
        record.next_answer(false);
        assert_eq!(
            record.next_answer(false),
            NextAnswer::Draft {
                patience: 1,
                first_gamma: Some(SHALLOW_GAMMA)
            }
        );
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
