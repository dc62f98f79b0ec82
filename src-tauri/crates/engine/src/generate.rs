//! The one interface every model backend offers the step scheduler: continue
//! several contexts by one reasoning step each, as one batch where the
//! backend can.
//!
//! A request's [`Context`] is made of [`Piece`]s that carry token ids: the
//! batched executor reads the ids (encoding a piece once, the first time,
//! and keeping them) and hands back the ids it wrote ([`StepOutput::ids`]),
//! so the scheduler's next request carries them and nothing is encoded
//! again; mistral.rs and inference servers take text, and read
//! [`StepRequest::text`] (a text adapter over the same requests).

use std::time::Duration;

use crate::cancel::CancelFlag;
pub use crate::context::{Context, Piece, TokenIds};
use crate::error::Result;

/// The text that ends a reasoning step (a blank line).
pub const STEP_DELIMITER: &str = "\n\n";

/// Why a step stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepEnd {
    /// The text reached [`STEP_DELIMITER`]; the delimiter is part of the step text.
    Delimiter,
    /// The model ended the answer (end-of-sequence token).
    EndOfSequence,
    /// The step hit its token budget.
    Budget,
    /// The request was cancelled; the text is what was produced so far.
    Cancelled,
}

pub use lookahead_executor::Sampling;

/// One continuation asked of a model.
#[derive(Clone, Debug)]
pub struct StepRequest {
    /// Everything so far: the chat-formatted prompt followed by the
    /// answer written so far (and, for Lookahead branches, drafted steps),
    /// as pieces that carry their token ids once known.
    pub context: Context,
    /// At most this many new tokens.
    pub max_tokens: usize,
    /// Stop at [`STEP_DELIMITER`]; false = run to end-of-sequence or budget.
    pub stop_at_delimiter: bool,
    /// What the model will probably write next, for token speculation to
    /// propose from: in Lookahead, the helper's draft of this very step, so
    /// even a drafted step the judge rejects speeds up the main model's own.
    /// The output never depends on it (proposals are verified).
    pub hint: Option<Piece>,
}

impl StepRequest {
    /// The whole text, for backends that take text (mistral.rs, a server).
    pub fn text(&self) -> String {
        self.context.text()
    }
}

/// What one continuation produced.
#[derive(Clone, Debug, Default)]
pub struct StepOutput {
    /// New text, including the delimiter when the step ended on one.
    pub text: String,
    /// Number of new tokens generated.
    pub tokens: usize,
    pub end: Option<StepEnd>,
    /// Tokens that had to be run through the model before generating
    /// (after any prefix-cache reuse).
    pub prefill_tokens: usize,
    pub prefill_time: Duration,
    pub decode_time: Duration,
    /// The new tokens themselves, from backends that see them (the
    /// executor); `text` is exactly what they decode to.
    pub ids: Option<TokenIds>,
    /// What the model will write right after this step, already checked:
    /// where word drafting guessed past the step's end, the guesses the
    /// model agreed with and its own next token (greedy only). The next
    /// step can hand them back as its [`StepRequest::hint`] so they are not
    /// guessed again; they are only valid if the next request continues
    /// this step's text unchanged.
    pub ahead: Option<TokenIds>,
}

impl StepOutput {
    /// The new text as a piece the next request can carry, with its ids
    /// when the backend gave them.
    pub fn piece(&self) -> Piece {
        match &self.ids {
            Some(ids) => Piece::written(self.text.clone(), ids.clone()),
            None => Piece::new(self.text.clone()),
        }
    }

    /// [`Self::ahead`] as a hint for the next step (its text is not needed:
    /// a hint's ids are read in their own vocabulary).
    pub fn ahead_hint(&self) -> Option<Piece> {
        self.ahead
            .as_ref()
            .filter(|ahead| !ahead.ids.is_empty())
            .map(|ahead| Piece::written(String::new(), ahead.clone()))
    }
}

/// Counters a backend keeps while it works; read and reset with
/// [`StepGenerator::take_stats`]. Names follow vLLM's speculative metrics.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeneratorStats {
    pub prefill_tokens: usize,
    pub prefill_seconds: f64,
    pub generated_tokens: usize,
    pub decode_seconds: f64,
    /// Forward passes (one per batch, however many sequences it held).
    pub forward_passes: usize,
    /// Sum over forward passes of the sequences in each, to report how
    /// parallel branches really ran.
    pub batched_sequences: usize,
    /// Token-level speculation: tokens proposed and accepted, verification
    /// rounds and per-position acceptance counts.
    pub drafted_tokens: usize,
    pub accepted_tokens: usize,
    pub verification_rounds: usize,
    /// Of `drafted_tokens` / `accepted_tokens`: those a draft model guessed
    /// (the rest came from lookup).
    pub model_drafted_tokens: usize,
    pub model_accepted_tokens: usize,
    /// Of `drafted_tokens` / `accepted_tokens`: the calculator's results
    /// of sums the text ended with.
    pub sum_drafted_tokens: usize,
    pub sum_accepted_tokens: usize,
    /// Tokens checked past a step's end and handed to the next step
    /// ([`StepOutput::ahead`]).
    #[serde(default)]
    pub ahead_tokens: usize,
    pub accepted_per_position: Vec<usize>,
    pub proposed_per_position: Vec<usize>,
}

impl GeneratorStats {
    pub fn merge(&mut self, other: &GeneratorStats) {
        self.prefill_tokens += other.prefill_tokens;
        self.prefill_seconds += other.prefill_seconds;
        self.generated_tokens += other.generated_tokens;
        self.decode_seconds += other.decode_seconds;
        self.forward_passes += other.forward_passes;
        self.batched_sequences += other.batched_sequences;
        self.drafted_tokens += other.drafted_tokens;
        self.accepted_tokens += other.accepted_tokens;
        self.verification_rounds += other.verification_rounds;
        self.model_drafted_tokens += other.model_drafted_tokens;
        self.model_accepted_tokens += other.model_accepted_tokens;
        self.sum_drafted_tokens += other.sum_drafted_tokens;
        self.sum_accepted_tokens += other.sum_accepted_tokens;
        self.ahead_tokens += other.ahead_tokens;
        merge_counts(
            &mut self.accepted_per_position,
            &other.accepted_per_position,
        );
        merge_counts(
            &mut self.proposed_per_position,
            &other.proposed_per_position,
        );
    }
}

fn merge_counts(into: &mut Vec<usize>, from: &[usize]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// Called with (request index, new text piece) as tokens are produced.
pub type TokenSink<'a> = &'a mut dyn FnMut(usize, &str);

/// A loaded language model that continues texts step by step.
///
/// Implemented by the batched executor (with or without token-level
/// speculation; reads token ids), and by mistral.rs and inference servers
/// (read text). The Lookahead scheduler and plain decoding are written
/// against this trait only.
pub trait StepGenerator: Send {
    /// A short human-readable name (file name of the model).
    fn name(&self) -> &str;

    /// Number of tokens `context` encodes to.
    fn count_tokens(&self, context: &Context) -> Result<usize>;

    /// The most tokens one sequence may hold (prompt + answer).
    fn context_limit(&self) -> usize;

    /// Continue every request by one step (or to the end, see
    /// [`StepRequest::stop_at_delimiter`]). Backends that batch run all
    /// requests together; the outputs are in request order. Stops promptly
    /// when `cancel` is set, returning what each request produced so far with
    /// [`StepEnd::Cancelled`].
    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_token: TokenSink<'_>,
    ) -> Result<Vec<StepOutput>>;

    /// Counters since the last call.
    fn take_stats(&mut self) -> GeneratorStats;
}
