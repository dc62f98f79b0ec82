//! The Lookahead Reasoning step scheduler: a small draft model writes
//! reasoning steps ahead, the target model writes the same positions from the
//! drafted prefixes in one batch, and a [`Judge`] keeps every drafted step
//! that says the same as the target's.
//!
//! # One round
//! With x the text so far and γ the lookahead depth:
//! 1. the draft writes ŝ_0 … ŝ_{γ−1} one after another (one
//!    [`StepGenerator::continue_steps`] call per step: each needs the last);
//! 2. the target writes s_j = p.step(x ⊕ ŝ_0 … ŝ_{j−1}) for j = 0 … γ in
//!    **one** `continue_steps` call with up to γ+1 requests, which a batching
//!    backend runs as one batch;
//! 3. the judge compares (s_j, ŝ_j) in order and stops at the first
//!    rejection j*;
//! 4. ŝ_0 … ŝ_{j*−1} and then s_{j*} are kept; when all γ drafts are accepted
//!    the target's s_γ is a free bonus step.
//!
//! # How this maps onto the paper's asynchronous version
//! The paper's code runs draft, target branches and judge concurrently: a
//! target branch starts as soon as the drafted prefix it needs exists, and
//! both models stay up to γ steps ahead. We keep its rules and drop its
//! threads:
//! - *a branch only starts once its drafted prefix exists*: branch j is
//!   requested only when ŝ_{j−1} exists and ended on the delimiter;
//! - *a draft that has not finished counts as rejected*: a draft that stops
//!   without the delimiter (step budget, cancel) ends drafting for the round
//!   and is rejected without asking the judge; one that ends the answer
//!   (end-of-sequence) is judged, and if accepted the answer ends with it;
//! - *a draft is only accepted after a delimiter*: rounds start only at a step
//!   boundary (the start of the answer or after the delimiter); when a kept
//!   step was cut by the step budget, the target finishes it alone first.
//!
//! What we do not do is run the draft and the target at the same time. On the
//! machines this app targets (a laptop CPU, here 2 cores) each model's matrix
//! products already use every core, so a draft thread next to a target thread
//! only makes both slower, and the paper's gain from overlap assumes separate
//! hardware for each. Parallelism comes from batching instead: the γ+1 target
//! branches go to the backend as one call, and a batching backend reads the
//! target's weights once per token for all of them. The draft's γ steps stay
//! sequential, which is the synchronous algorithm's cost (γ·c per round, c =
//! draft cost / target cost); [`LookaheadSettings::adaptive_gamma`] keeps γ
//! where the drafts are being accepted, and the slowdown guard switches step
//! speculation off when it loses against plain decoding.
//!
//! # Safety nets
//! - If the draft, the judge or the batched target call fails, the answer goes
//!   on with plain target decoding from the text settled so far; the reason is
//!   in [`LookaheadOutcome::fallback`] and the later steps are
//!   [`Verdict::TargetOnly`](crate::answer::Verdict::TargetOnly). Only a
//!   failing target in plain decoding ends the run with an error.
//! - Cancel is checked before and after every model and judge call; the
//!   outcome holds what was settled before it.

mod control;
pub(crate) use control::{NextAnswer, StepDraftingRecord};
mod scheduler;
mod stats;
pub mod testing;

use serde::{Deserialize, Serialize};

use crate::answer::{Stage, StepRecord};
use crate::cancel::CancelFlag;
use crate::error::Result;
use crate::generate::{Context, Sampling, StepGenerator, STEP_DELIMITER};
use crate::judge::Judge;

pub use stats::LookaheadStats;

/// How Lookahead Reasoning runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LookaheadSettings {
    /// Lookahead depth γ: drafted steps per round; the most when adaptive.
    pub gamma: usize,
    /// Most tokens in one step (the paper's code uses 100).
    pub step_token_budget: usize,
    /// Most tokens in the whole answer.
    pub max_answer_tokens: usize,
    /// The text that ends a step. Must be what the backends stop at
    /// ([`STEP_DELIMITER`]); the scheduler uses it to tell finished steps.
    pub delimiter: String,
    /// Let γ follow the acceptance (shrink after a rejection at the first
    /// position, grow after a fully accepted round), within 1 ..= `gamma`.
    pub adaptive_gamma: bool,
    /// Switch step speculation off for the rest of an answer when it runs
    /// slower than plain decoding for a few rounds in a row.
    pub slowdown_guard: bool,
    /// Plain target speed (tokens/s) for the guard to compare with; `None`
    /// estimates it from the target's own decode rate during the answer.
    pub plain_tokens_per_s_estimate: Option<f64>,
    /// Slow rounds in a row before the guard steps in. The engine lowers it
    /// to 1 when the last answer on the same models already lost time, so
    /// a model pair that does not pay off costs one round, not three.
    pub guard_patience: usize,
    /// The calculator in the loop: a wrong result in a step is replaced by
    /// the exact value and the target goes on from the corrected text.
    pub correct_arithmetic: bool,
    /// The target writes the answer's first step alone, streaming it, so
    /// the first words never wait for a round of drafting and judging.
    pub first_step_by_target: bool,
    /// Look-ahead depth of the first round, where adaptive (`None`: start
    /// at `gamma`). The engine starts shallow when it tries step drafting
    /// again after pausing it.
    pub first_round_gamma: Option<usize>,
}

impl Default for LookaheadSettings {
    fn default() -> Self {
        Self {
            gamma: 4,
            step_token_budget: 100,
            max_answer_tokens: 1024,
            delimiter: STEP_DELIMITER.to_string(),
            adaptive_gamma: true,
            slowdown_guard: true,
            plain_tokens_per_s_estimate: None,
            guard_patience: control::GUARD_PATIENCE,
            correct_arithmetic: false,
            first_step_by_target: true,
            first_round_gamma: None,
        }
    }
}

/// The models and the judge one answer uses.
pub struct LookaheadModels<'a> {
    pub draft: &'a mut dyn StepGenerator,
    pub target: &'a mut dyn StepGenerator,
    pub judge: &'a mut dyn Judge,
}

/// What the scheduler reports while it works. In a speculative round text
/// arrives one settled step at a time (which tokens stay is known only once
/// the judge has spoken); steps the target writes alone stream token by
/// token.
#[derive(Clone, Debug, PartialEq)]
pub enum SchedulerEvent {
    /// Text appended to the answer (a kept step, or a piece of the target's
    /// step in progress).
    Text(String),
    /// A step was settled; sent right after its [`SchedulerEvent::Text`].
    Step(StepRecord),
    /// What the scheduler starts doing now.
    Stage(Stage),
}

/// Why an answer stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookaheadEnd {
    /// A model ended the answer (end-of-sequence).
    EndOfSequence,
    /// The answer reached its token budget (or the model's context).
    TokenBudget,
    /// Cancelled; the text is what was settled before.
    Cancelled,
}

/// A finished (or stopped) answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookaheadOutcome {
    /// The answer text (without the prompt): the kept steps joined.
    pub text: String,
    pub steps: Vec<StepRecord>,
    pub ended: LookaheadEnd,
    pub stats: LookaheadStats,
    /// Why step speculation was switched off mid-answer, if it was.
    pub fallback: Option<String>,
}

/// Writes the answer to `prompt` (already chat-formatted, see
/// [`crate::prompt::chat_prompt`]) with Lookahead Reasoning.
///
/// Errors only when the target fails while decoding alone (nothing else can
/// write the answer then); draft, judge and batched-branch failures fall back
/// to plain decoding.
pub fn run_lookahead(
    models: LookaheadModels<'_>,
    prompt: impl Into<Context>,
    settings: &LookaheadSettings,
    sampling: &Sampling,
    cancel: &CancelFlag,
    on_event: &mut dyn FnMut(SchedulerEvent),
) -> Result<LookaheadOutcome> {
    let speculation = scheduler::Speculation {
        draft: models.draft,
        judge: models.judge,
    };
    scheduler::Scheduler::new(
        models.target,
        Some(speculation),
        prompt.into(),
        settings,
        sampling,
        cancel,
        on_event,
    )
    .run()
}

/// Writes the answer with the target alone, one step per call, with the same
/// step boundaries, budgets and records as [`run_lookahead`]: the baseline
/// Lookahead is compared with, and what it falls back to.
pub fn run_plain_steps(
    target: &mut dyn StepGenerator,
    prompt: impl Into<Context>,
    settings: &LookaheadSettings,
    sampling: &Sampling,
    cancel: &CancelFlag,
    on_event: &mut dyn FnMut(SchedulerEvent),
) -> Result<LookaheadOutcome> {
    scheduler::Scheduler::new(
        target,
        None,
        prompt.into(),
        settings,
        sampling,
        cancel,
        on_event,
    )
    .run()
}
