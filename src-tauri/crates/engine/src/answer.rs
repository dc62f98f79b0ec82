//! What an answer is made of (the shared vocabulary of `lookahead-domain`)
//! and the events streamed while it is written.

use serde::{Deserialize, Serialize};

pub use lookahead_domain::{
    Answer, AnswerMetrics, AnswerStatus, ArithmeticCheck, KeptFrom, Mode, PositionCount, Stage,
    StepRecord, Verdict,
};

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
