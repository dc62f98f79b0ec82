//! Per-answer figures of the step scheduler, named as speculative-decoding
//! engines name them (vLLM) so numbers compare.

use serde::{Deserialize, Serialize};

use crate::answer::{AnswerMetrics, PositionCount};

/// Counters of one answer. Rates are derived by the methods, so pooling
/// several answers is adding the counters ([`LookaheadStats::merge`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LookaheadStats {
    /// Speculative rounds (rounds with at least one drafted step).
    pub rounds: usize,
    /// Drafted steps proposed, including ones dropped after an earlier
    /// rejection in their round (the "proposed" of the acceptance rate).
    pub drafted_steps: usize,
    /// Drafted steps the judge was asked about.
    pub judged_steps: usize,
    pub accepted_steps: usize,
    /// Drafts that stopped without the delimiter and were rejected unjudged.
    pub unfinished_drafts: usize,
    /// Target steps kept for free after a fully accepted round.
    pub bonus_steps: usize,
    /// Steps the target wrote with nothing drafted (finishing a cut step,
    /// after a fallback, or plain decoding).
    pub target_only_steps: usize,
    /// Index j: rounds in which position j was drafted / accepted.
    pub proposed_per_position: Vec<usize>,
    pub accepted_per_position: Vec<usize>,
    /// Index k: rounds that accepted k drafted steps.
    pub accepted_per_round: Vec<usize>,
    /// γ used in each speculative round, in order.
    pub gamma_per_round: Vec<usize>,
    pub judge_seconds: f64,
    pub draft_seconds: f64,
    pub target_seconds: f64,
    /// Index n: target calls that carried n requests.
    pub target_batch_sizes: Vec<usize>,
    /// Tokens in the answer, and how many of them came from accepted drafts.
    pub answer_tokens: usize,
    pub drafted_tokens_kept: usize,
    /// Wall time of the whole answer.
    pub wall_seconds: f64,
    /// The slowdown guard switched step speculation off in this answer.
    pub guard_stopped: bool,
    /// Wrong results the calculator in the loop replaced.
    #[serde(default)]
    pub corrections: usize,
}

impl LookaheadStats {
    /// accepted / proposed drafted steps.
    pub fn step_acceptance_rate(&self) -> Option<f64> {
        ratio(self.accepted_steps, self.drafted_steps)
    }

    /// accepted / judged: how often the judge said yes.
    pub fn judge_acceptance_rate(&self) -> Option<f64> {
        ratio(self.accepted_steps, self.judged_steps)
    }

    /// 1 + accepted / rounds: steps settled per round, counting the target's
    /// step every round ends with.
    pub fn mean_acceptance_length(&self) -> Option<f64> {
        (self.rounds > 0).then(|| 1.0 + self.accepted_steps as f64 / self.rounds as f64)
    }

    /// Acceptance rate at each draft position.
    pub fn per_position_acceptance(&self) -> Vec<f64> {
        self.proposed_per_position
            .iter()
            .zip(&self.accepted_per_position)
            .map(|(&proposed, &accepted)| ratio(accepted, proposed).unwrap_or(0.0))
            .collect()
    }

    pub fn mean_judge_seconds(&self) -> Option<f64> {
        (self.judged_steps > 0).then(|| self.judge_seconds / self.judged_steps as f64)
    }

    /// Mean number of requests per target call.
    pub fn mean_target_batch_size(&self) -> Option<f64> {
        let calls: usize = self.target_batch_sizes.iter().sum();
        let requests: usize = self
            .target_batch_sizes
            .iter()
            .enumerate()
            .map(|(size, count)| size * count)
            .sum();
        ratio(requests, calls)
    }

    /// answer tokens / wall seconds.
    pub fn tokens_per_s(&self) -> Option<f64> {
        (self.wall_seconds > 0.0).then(|| self.answer_tokens as f64 / self.wall_seconds)
    }

    /// Adds another answer's counters (for pooled figures over a run).
    pub fn merge(&mut self, other: &LookaheadStats) {
        self.rounds += other.rounds;
        self.drafted_steps += other.drafted_steps;
        self.judged_steps += other.judged_steps;
        self.accepted_steps += other.accepted_steps;
        self.unfinished_drafts += other.unfinished_drafts;
        self.bonus_steps += other.bonus_steps;
        self.target_only_steps += other.target_only_steps;
        add_counts(
            &mut self.proposed_per_position,
            &other.proposed_per_position,
        );
        add_counts(
            &mut self.accepted_per_position,
            &other.accepted_per_position,
        );
        add_counts(&mut self.accepted_per_round, &other.accepted_per_round);
        self.gamma_per_round
            .extend_from_slice(&other.gamma_per_round);
        self.judge_seconds += other.judge_seconds;
        self.draft_seconds += other.draft_seconds;
        self.target_seconds += other.target_seconds;
        add_counts(&mut self.target_batch_sizes, &other.target_batch_sizes);
        self.answer_tokens += other.answer_tokens;
        self.drafted_tokens_kept += other.drafted_tokens_kept;
        self.wall_seconds += other.wall_seconds;
    }

    /// Fills the step-speculation fields of an answer's metrics: the one
    /// definition of them. A drafted step counts once the judge compared
    /// it (a draft cut short by the round's end was never offered), so the
    /// step acceptance rate is the judge's: accepted ÷ judged.
    pub fn fill_metrics(&self, metrics: &mut AnswerMetrics) {
        metrics.drafted_steps = Some(self.judged_steps);
        metrics.accepted_steps = Some(self.accepted_steps);
        metrics.step_acceptance_rate = self.judge_acceptance_rate();
        metrics.step_mean_acceptance_length = self.mean_acceptance_length();
        let counts: Vec<PositionCount> = self
            .proposed_per_position
            .iter()
            .zip(
                self.accepted_per_position
                    .iter()
                    .chain(std::iter::repeat(&0)),
            )
            .map(|(&proposed, &accepted)| PositionCount { proposed, accepted })
            .collect();
        metrics.per_position_acceptance = Some(counts);
        metrics.guard_stopped = self.guard_stopped;
    }

    pub(crate) fn count_at(counts: &mut Vec<usize>, index: usize) {
        if counts.len() <= index {
            counts.resize(index + 1, 0);
        }
        if let Some(slot) = counts.get_mut(index) {
            *slot += 1;
        }
    }
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn add_counts(into: &mut Vec<usize>, from: &[usize]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_counters() {
        let mut stats = LookaheadStats {
            rounds: 2,
            drafted_steps: 6,
            judged_steps: 4,
            accepted_steps: 3,
            ..LookaheadStats::default()
        };
        LookaheadStats::count_at(&mut stats.target_batch_sizes, 4);
        LookaheadStats::count_at(&mut stats.target_batch_sizes, 2);
        assert_eq!(stats.step_acceptance_rate(), Some(0.5));
        assert_eq!(stats.judge_acceptance_rate(), Some(0.75));
        assert_eq!(stats.mean_acceptance_length(), Some(2.5));
        assert_eq!(stats.mean_target_batch_size(), Some(3.0));
        assert_eq!(LookaheadStats::default().step_acceptance_rate(), None);
    }
}
