//! What an answer is made of: steps with their verdicts, metrics, status.

use serde::{Deserialize, Deserializer, Serialize};
use ts_rs::TS;

crate::text_enum! {
    /// How an answer is generated: the target alone (the baseline every
    /// speed-up is measured against), token-level speculative decoding,
    /// Lookahead Reasoning (step-level speculation), or both.
    pub enum Mode ("mode") { Plain = "plain", Sd = "sd", Lr = "lr", SdLr = "sd+lr" }
}

impl Mode {
    pub fn uses_token_speculation(self) -> bool {
        matches!(self, Mode::Sd | Mode::SdLr)
    }
    pub fn uses_step_speculation(self) -> bool {
        matches!(self, Mode::Lr | Mode::SdLr)
    }
}

crate::text_enum! {
    /// What the judge decided about a drafted step. `TargetOnly`: no draft
    /// was compared, the target wrote the step on its own (plain decoding,
    /// a bonus step, or after a fail-safe switch).
    pub enum Verdict ("verdict") { Accepted = "accepted", Rejected = "rejected", TargetOnly = "target_only" }
}

crate::text_enum! {
    /// Which model's text was kept for a step.
    pub enum KeptFrom ("model") { Draft = "draft", Target = "target" }
}

crate::text_enum! {
    /// How an answer ended.
    pub enum AnswerStatus ("answer status") { Complete = "complete", Cancelled = "cancelled", Failed = "failed" }
}

crate::text_enum! {
    /// Who wrote a stored message.
    pub enum Role ("role") { User = "user", Assistant = "assistant" }
}

crate::text_enum! {
    /// Life cycle of a stored message (questions are always `Complete`):
    /// `InProgress` while it is written; `Cancelled` stopped by the user
    /// (what was written is kept); `Failed` (its error says why);
    /// `Interrupted` when the app or command stopped while writing it.
    pub enum MessageStatus ("message status") {
        InProgress = "in_progress",
        Complete = "complete",
        Cancelled = "cancelled",
        Failed = "failed",
        Interrupted = "interrupted",
    }
}

impl From<AnswerStatus> for MessageStatus {
    fn from(status: AnswerStatus) -> Self {
        match status {
            AnswerStatus::Complete => MessageStatus::Complete,
            AnswerStatus::Cancelled => MessageStatus::Cancelled,
            AnswerStatus::Failed => MessageStatus::Failed,
        }
    }
}

/// One sum found in a step and worked out again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ArithmeticCheck {
    /// The left-hand side as written, e.g. "13 × 4".
    pub expression: String,
    /// The result as the model wrote it, e.g. "54".
    pub written: String,
    /// The exact result, written like the model's (same decimals), e.g. "52".
    pub exact: String,
    /// The written result was right (to the decimals it was written with).
    pub correct: bool,
    /// The engine replaced the written result with the exact one before
    /// the model went on (the calculator in the loop).
    #[serde(default)]
    pub corrected: bool,
}

impl ArithmeticCheck {
    /// "13 × 4 = 54 — it is 52", or "corrected 54 → 52".
    pub fn describe(&self) -> String {
        if self.corrected {
            format!(
                "{} = {}: corrected {} → {}",
                self.expression, self.exact, self.written, self.exact
            )
        } else if self.correct {
            format!("{} = {}", self.expression, self.written)
        } else {
            format!(
                "{} = {} — it is {}",
                self.expression, self.written, self.exact
            )
        }
    }
}

/// One reasoning step of an answer: as streamed, stored, exported and shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct StepRecord {
    /// Position of the step in the answer, from 0 (the UI shows it from 1).
    pub index: usize,
    /// What the helper (draft) model proposed; `None` when no draft was made.
    #[serde(alias = "drafted_text")]
    pub drafted: Option<String>,
    /// What the main (target) model wrote; `None` when it was not asked.
    #[serde(alias = "target_text")]
    pub target: Option<String>,
    pub verdict: Verdict,
    /// The judge's similarity or probability; `None` without a judge.
    pub judge_score: Option<f64>,
    pub kept_from: KeptFrom,
    /// The text that became part of the answer (delimiter included).
    #[serde(alias = "kept_text")]
    pub text: String,
    pub draft_ms: Option<f64>,
    pub target_ms: Option<f64>,
    pub judge_ms: Option<f64>,
    /// The sums written in this step, worked out again (wrong ones say the
    /// right value; corrected ones were replaced before the model went on).
    #[serde(default)]
    pub arithmetic: Vec<ArithmeticCheck>,
}

impl StepRecord {
    /// A step the target wrote alone.
    pub fn target_only(index: usize, text: String, target_ms: f64) -> Self {
        Self {
            index,
            drafted: None,
            target: Some(text.clone()),
            verdict: Verdict::TargetOnly,
            judge_score: None,
            kept_from: KeptFrom::Target,
            text,
            draft_ms: None,
            target_ms: Some(target_ms),
            judge_ms: None,
            arithmetic: Vec::new(),
        }
    }
}

/// Drafted steps proposed and accepted at one look-ahead position (counts,
/// not rates, so answers pool correctly).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PositionCount {
    #[serde(alias = "attempted")]
    pub proposed: usize,
    pub accepted: usize,
}

/// Per-answer figures. Speculation fields are `None` in modes without it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct AnswerMetrics {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub wall_seconds: f64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub prefill_tokens_per_s: f64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub decode_tokens_per_s: f64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub time_to_first_token_s: f64,
    /// generated_tokens / wall_seconds: the speed a person feels.
    #[serde(default)]
    pub tokens_per_s: f64,
    pub drafted_tokens: Option<usize>,
    pub accepted_tokens: Option<usize>,
    pub token_acceptance_rate: Option<f64>,
    /// Tokens kept per verification pass (token-level speculation).
    pub mean_acceptance_length: Option<f64>,
    pub drafted_steps: Option<usize>,
    pub accepted_steps: Option<usize>,
    pub step_acceptance_rate: Option<f64>,
    /// Drafted steps kept per look-ahead window (step-level speculation).
    #[serde(default)]
    pub step_mean_acceptance_length: Option<f64>,
    /// Drafted steps proposed and accepted at each look-ahead position
    /// (index 0: the first position after the verified prefix).
    pub per_position_acceptance: Option<Vec<PositionCount>>,
    /// Forward passes and the mean number of sequences each carried (0
    /// when not measured, e.g. on a server).
    #[serde(default)]
    pub forward_passes: usize,
    #[serde(default)]
    pub mean_batch_size: f64,
    /// Speed-up over plain decoding, estimated from the measured plain speed
    /// of the same target (`None` until one is known).
    pub speedup_estimate: Option<f64>,
    /// Why step speculation was switched off mid-answer (fail-safe or
    /// slowdown guard); `None` when it was not.
    #[serde(default)]
    pub speculation_stopped: Option<String>,
    /// The slowdown guard was what switched it off (it ran slower than
    /// plain decoding).
    #[serde(default)]
    pub guard_stopped: bool,
}

impl AnswerMetrics {
    /// The slowdown guard paused step drafting before this answer began (it
    /// lost time in the answers just before): the guard had its say and no
    /// step was proposed. Otherwise a guard stop came partway through.
    pub fn step_drafting_paused(&self) -> bool {
        self.guard_stopped
            && self
                .per_position_acceptance
                .as_ref()
                .is_none_or(|p| p.iter().all(|c| c.proposed == 0))
    }

    /// Acceptance rate at each look-ahead position (0 where nothing was
    /// proposed).
    pub fn per_position_step_acceptance(&self) -> Option<Vec<f64>> {
        self.per_position_acceptance.as_ref().map(|positions| {
            positions
                .iter()
                .map(|p| {
                    if p.proposed > 0 {
                        p.accepted as f64 / p.proposed as f64
                    } else {
                        0.0
                    }
                })
                .collect()
        })
    }
}

/// Exports written before a figure was always measured hold `null`.
fn null_as_zero<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(0.0))
}

/// A finished (or stopped) answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Answer {
    pub question: String,
    pub text: String,
    /// What the model gave as its answer: the value it marked (boxed,
    /// "Final answer:"), else its concluding paragraph in full. `None`
    /// when the answer was cut before it marked one.
    pub final_answer: Option<String>,
    /// The answer reached its length limit before the model finished.
    #[serde(default)]
    pub cut_off: bool,
    /// Earlier turns of the conversation left out to fit the prompt.
    #[serde(default)]
    pub turns_left_out: usize,
    pub steps: Vec<StepRecord>,
    pub metrics: AnswerMetrics,
    pub status: AnswerStatus,
    pub mode: Mode,
    pub draft_model: Option<String>,
    pub target_model: String,
    pub judge: Option<String>,
    pub gamma: Option<usize>,
}

/// What the engine is doing while an answer is written, for a status line
/// ("Writing step 3…"). Steps count from 0, like [`StepRecord::index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "activity", rename_all = "snake_case")]
pub enum Stage {
    /// The main model writes step `step` itself.
    Writing { step: usize },
    /// The helper model drafts steps `step` .. `step + ahead`.
    Drafting { step: usize, ahead: usize },
    /// The main model writes its own version of the drafted steps (all
    /// branches at once) and the judge compares them.
    Checking { step: usize, drafted: usize },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_enums_read_back_what_they_write_and_name_the_choices() {
        for mode in Mode::ALL {
            assert_eq!(mode.as_str().parse::<Mode>().unwrap(), *mode);
            assert_eq!(serde_json::to_string(mode).unwrap(), format!("\"{mode}\""));
        }
        let err = "fast".parse::<Mode>().unwrap_err();
        assert_eq!(err, "unknown mode \"fast\" (expected plain, sd, lr, sd+lr)");
    }

    #[test]
    fn steps_and_metrics_from_version_1_exports_still_read() {
        let step: StepRecord = serde_json::from_str(
            r#"{"index":0,"drafted_text":"a","target_text":"b","verdict":"rejected",
                "judge_score":0.5,"kept_text":"b","kept_from":"target",
                "draft_ms":1.0,"target_ms":2.0,"judge_ms":null}"#,
        )
        .unwrap();
        assert_eq!(
            (step.drafted.as_deref(), step.text.as_str()),
            (Some("a"), "b")
        );
        let metrics: AnswerMetrics = serde_json::from_str(
            r#"{"prompt_tokens":3,"generated_tokens":4,"wall_seconds":1.0,
                "prefill_tokens_per_s":null,"decode_tokens_per_s":2.0,"time_to_first_token_s":null,
                "drafted_tokens":null,"accepted_tokens":null,"token_acceptance_rate":null,
                "mean_acceptance_length":null,"drafted_steps":2,"accepted_steps":1,
                "step_acceptance_rate":0.5,"per_position_acceptance":[{"attempted":2,"accepted":1}],
                "speedup_estimate":null}"#,
        )
        .unwrap();
        assert_eq!(metrics.prefill_tokens_per_s, 0.0);
        assert_eq!(metrics.per_position_step_acceptance(), Some(vec![0.5]));
    }
}
