//! The Lookahead engine: token-level speculative decoding, the Lookahead
//! Reasoning step scheduler, semantic judges and metrics, over models that
//! run here (the batched executor, else mistral.rs) or on an inference
//! server. It takes file paths and server addresses; it knows nothing of
//! where model files come from (`lookahead-models`), of storage or of the
//! front ends.
//!
//! # The API front ends use
//! - [`Engine`]: `load(&EngineConfig, progress)`, `ask` / `ask_in`
//!   (streaming [`AnswerEvent`]s, cancelled by a [`CancelFlag`]), the plain
//!   speed yardstick (`measure_plain_speed`, `set_plain_speed`), model
//!   names, `prepare_prompt`;
//! - what to load: [`EngineConfig`] (paths, [`Backend`], [`ServerConfig`]s,
//!   the embedding judge's folder), [`LoadProgress`];
//! - how to answer: [`AskOptions`] ([`Mode`], [`JudgeChoice`],
//!   [`Sampling`], [`PromptStyle`], limits), [`DEFAULT_MAX_ANSWER_TOKENS`];
//!   the automatic mode: [`choose_mode`], [`AutoChoice`], [`ModeRecord`],
//!   [`PlainSpeed`];
//! - what comes back: [`Answer`] and its parts (the domain types
//!   re-exported below), [`ChatTurn`] for earlier turns;
//! - errors: [`EngineError`] (`code()`, `user_message()`), [`Result`];
//! - a server check: [`ServerGenerator::connect`] with [`StepGenerator`]
//!   (its requests: a [`Context`] of [`Piece`]s that carry their
//!   [`TokenIds`], so token backends never re-encode what they read);
//! - files: [`gguf_info`] (what a GGUF file is; used to check imports);
//!   HTTP: [`net`] (an agent trusting this computer's certificates).
//!
//! Below that, [`parts`] lends the building blocks (generators, judges,
//! the scheduler and its scripted test doubles) to benchmarks and
//! equivalence tests; front ends do not use it.
//!
//! The pipeline reads top to bottom: a model backend ([`StepGenerator`], on
//! the executor, mistral.rs or a server) → token speculation → the step
//! scheduler → a judge → metrics.

mod answer;
mod arith;
mod batched;
mod cancel;
mod chat;
mod context;
mod engine;
mod error;
mod generate;
pub mod gguf_info;
mod gguf_scan;
mod judge;
mod lookahead;
mod mistral;
pub mod net;
mod prompt;
mod server;
mod speculative;
mod speed;

pub use answer::{
    Answer, AnswerEvent, AnswerMetrics, AnswerStatus, ArithmeticCheck, KeptFrom, Mode,
    PositionCount, Stage, StepRecord, Verdict,
};
pub use cancel::CancelFlag;
pub use chat::{ChatTurn, Speaker};
pub use engine::{
    AskOptions, Backend, Engine, EngineConfig, JudgeChoice, LoadProgress, PreparedPrompt,
    CALIBRATION_TOKENS, DEFAULT_MAX_ANSWER_TOKENS, DRAFT_HEAD_TOKENS, HISTORY_TOKEN_BUDGET,
};
pub use error::{EngineError, Result};
pub use generate::{
    Context, GeneratorStats, Piece, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest,
    TokenIds, STEP_DELIMITER,
};
/// Which CPU kernels the executor runs ("AVX-512 VNNI", "AVX2", …), for
/// benchmark tables.
pub use lookahead_executor::kernels_in_use;
pub use prompt::PromptStyle;
pub use server::{ServerConfig, ServerError, ServerGenerator, API_KEY_VAR};
pub use speed::{choose_mode, AutoChoice, ModeRecord, PlainSpeed};

/// Modes this build can run, given a draft model the executor supports
/// (the shell offers only these).
pub const AVAILABLE_MODES: &[Mode] = &[Mode::Plain, Mode::Sd, Mode::Lr, Mode::SdLr];

/// The building blocks below [`Engine`], for benchmarks and equivalence
/// tests (front ends use the API above): step generators on each backend,
/// token speculation, the judges, the step scheduler with its scripted
/// test doubles, prompts and answer grading, the arithmetic check.
pub mod parts {
    pub use crate::arith::find as find_sums;
    pub use crate::batched::ExecutorGenerator;
    pub use crate::generate::TokenSink;
    pub use crate::judge::llm::{judge_prompt, LlmJudgeSettings};
    pub use crate::judge::{
        EmbeddingJudge, ExactFirst, ExactJudge, Judge, LlmJudge, SameNumbers, SharedGenerator,
    };
    pub use crate::lookahead::testing::{ScriptedGenerator, ScriptedJudge};
    pub use crate::lookahead::{
        run_lookahead, run_plain_steps, LookaheadEnd, LookaheadModels, LookaheadOutcome,
        LookaheadSettings, SchedulerEvent,
    };
    pub use crate::mistral::{completion_request, MistralGenerator};
    pub use crate::prompt::{
        chat_prompt, chatml_prompt, extract_final_answer, marked_answer, same_number,
        STANDARD_INSTRUCTION,
    };
    pub use crate::speculative::ngram::{worth_checking, Followers, Scored};
    pub use crate::speculative::{NgramConfig, SpeculationConfig, SpeculativeGenerator};
}
