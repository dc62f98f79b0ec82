//! How fast plain decoding runs: the yardstick of every speed-up.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::AnswerMetrics;

/// Plain decoding speed of one target on this computer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct PlainSpeed {
    /// Prompt tokens read per second.
    pub prefill_tokens_per_s: f64,
    /// Answer tokens written per second.
    pub decode_tokens_per_s: f64,
}

impl PlainSpeed {
    /// `None` unless both rates are positive numbers.
    pub fn new(prefill_tokens_per_s: f64, decode_tokens_per_s: f64) -> Option<Self> {
        let ok = |x: f64| x.is_finite() && x > 0.0;
        (ok(prefill_tokens_per_s) && ok(decode_tokens_per_s)).then_some(Self {
            prefill_tokens_per_s,
            decode_tokens_per_s,
        })
    }

    /// The plain speed an answer of this target showed, if it measured both.
    pub fn of_answer(metrics: &AnswerMetrics) -> Option<Self> {
        Self::new(metrics.prefill_tokens_per_s, metrics.decode_tokens_per_s)
    }

    /// Seconds plain decoding needs to read `prompt_tokens` and write
    /// `answer_tokens`.
    pub fn seconds_for(&self, prompt_tokens: usize, answer_tokens: usize) -> f64 {
        prompt_tokens as f64 / self.prefill_tokens_per_s
            + answer_tokens as f64 / self.decode_tokens_per_s
    }

    /// How many times faster than plain decoding an answer was: the plain
    /// time for its prompt and length over its own time. `None` for an
    /// answer without tokens or time.
    pub fn speedup(&self, metrics: &AnswerMetrics) -> Option<f64> {
        if metrics.generated_tokens == 0 || metrics.wall_seconds <= 0.0 {
            return None;
        }
        let s = self.seconds_for(metrics.prompt_tokens, metrics.generated_tokens)
            / metrics.wall_seconds;
        s.is_finite().then_some(s)
    }
}
