//! What an answer is made of: steps with their verdicts, metrics, events.

use serde::{Deserialize, Serialize};

pub use crate::arith::ArithmeticCheck;

/// How an answer is generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// Target model alone: the baseline every speed-up is measured against.
    #[serde(rename = "plain")]
    Plain,
    /// Token-level speculative decoding.
    #[serde(rename = "sd")]
    Sd,
    /// Lookahead Reasoning (step-level speculation).
    #[serde(rename = "lr")]
    Lr,
    /// Both.
    #[serde(rename = "sd+lr")]
    SdLr,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Plain, Mode::Sd, Mode::Lr, Mode::SdLr];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Sd => "sd",
            Mode::Lr => "lr",
            Mode::SdLr => "sd+lr",
        }
    }
    pub fn uses_token_speculation(self) -> bool {
        matches!(self, Mode::Sd | Mode::SdLr)
    }
    pub fn uses_step_speculation(self) -> bool {
        matches!(self, Mode::Lr | Mode::SdLr)
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown mode \"{s}\" (expected plain, sd, lr or sd+lr)"))
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the judge decided about a drafted step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    Rejected,
    /// No draft was compared: the target wrote this step on its own
    /// (plain decoding, a bonus step, or after a fail-safe switch).
    TargetOnly,
}

/// Which model's text was kept for a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptFrom {
    Draft,
    Target,
}

/// One reasoning step of an answer, as shown to the user and stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: usize,
    pub drafted: Option<String>,
    pub target: Option<String>,
    pub verdict: Verdict,
    pub judge_score: Option<f64>,
    pub kept_from: KeptFrom,
    /// The text that became part of the answer (delimiter included).
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

/// Drafted steps proposed and accepted at one look-ahead position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionCount {
    pub proposed: usize,
    pub accepted: usize,
}

/// Per-answer figures. Speculation fields are `None` in modes without it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnswerMetrics {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub wall_seconds: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub time_to_first_token_s: f64,
    /// generated_tokens / wall_seconds: the speed a person feels.
    pub tokens_per_s: f64,
    pub drafted_tokens: Option<usize>,
    pub accepted_tokens: Option<usize>,
    pub token_acceptance_rate: Option<f64>,
    pub mean_acceptance_length: Option<f64>,
    pub drafted_steps: Option<usize>,
    pub accepted_steps: Option<usize>,
    pub step_acceptance_rate: Option<f64>,
    pub step_mean_acceptance_length: Option<f64>,
    pub per_position_step_acceptance: Option<Vec<f64>>,
    /// The counts behind the rates above, position by position.
    pub per_position_step_counts: Option<Vec<PositionCount>>,
    /// Forward passes and the mean number of sequences each carried.
    pub forward_passes: usize,
    pub mean_batch_size: f64,
    /// Speed-up over plain decoding, estimated from the measured plain speed
    /// of the same target (None until one is known).
    pub speedup_estimate: Option<f64>,
    /// Set when step speculation was switched off mid-answer (fail-safe or
    /// slowdown guard), with the reason.
    pub fallback: Option<String>,
    /// The slowdown guard was what switched it off (it ran slower than
    /// plain decoding).
    #[serde(default)]
    pub guard_stopped: bool,
}

/// How an answer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    Complete,
    Cancelled,
    Failed,
}

/// A finished (or stopped) answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
/// ("Writing step 3…"). Steps are counted from 0, like
/// [`StepRecord::index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// Streamed while an answer is being written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerEvent {
    /// A piece of text from the model that writes the visible answer.
    Token { text: String },
    /// A step was settled and appended to the answer.
    Step { step: StepRecord },
    /// The engine moved on to another part of the work.
    Stage { stage: Stage },
    /// The answer is finished (or was stopped).
    Done { answer: Box<Answer> },
}
