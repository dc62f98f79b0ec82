//! The Lookahead engine: local models, token-level speculative decoding,
//! the Lookahead Reasoning step scheduler, semantic judges and metrics.
//!
//! The pipeline reads top to bottom: a model backend ([`generate::StepGenerator`],
//! on mistral.rs or on the batched executor) → token speculation → the step
//! scheduler → a judge → metrics. Front ends (the desktop shell, the CLI) only
//! call [`Engine`]; the engine knows nothing of them or of storage.

pub mod answer;
pub mod arith;
mod batched;
pub mod cancel;
pub mod chat;
pub mod engine;
pub mod error;
pub mod generate;
pub mod gguf_info;
mod gguf_scan;
pub mod judge;
pub mod lookahead;
pub mod mistral;
pub mod models;
mod net;
pub mod prompt;
pub mod server;
pub mod speculative;
pub mod speed;

pub use answer::{
    Answer, AnswerEvent, AnswerMetrics, AnswerStatus, KeptFrom, Mode, PositionCount, Stage,
    StepRecord, Verdict,
};
pub use batched::ExecutorGenerator;
pub use cancel::CancelFlag;
pub use chat::{ChatTurn, Speaker};
pub use error::{EngineError, Result};
pub use generate::{
    GeneratorStats, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest, STEP_DELIMITER,
};
pub use prompt::PromptStyle;
pub use speed::{choose_mode, AutoChoice, ModeRecord, PlainSpeed};

pub use engine::{
    AskOptions, Backend, Engine, EngineConfig, JudgeChoice, LoadProgress, PreparedPrompt,
    CALIBRATION_TOKENS, DEFAULT_MAX_ANSWER_TOKENS,
};

/// Modes this build can run, given a draft model the executor supports
/// (the shell offers only these).
pub const AVAILABLE_MODES: &[Mode] = &[Mode::Plain, Mode::Sd, Mode::Lr, Mode::SdLr];
