//! Lookahead's vocabulary, one definition of each: how an answer is made
//! ([`Mode`]), what the judge decided ([`Verdict`], [`KeptFrom`]), a step
//! ([`StepRecord`]) with its checked sums ([`ArithmeticCheck`]), an answer
//! ([`Answer`], [`AnswerStatus`], [`AnswerMetrics`], [`PositionCount`]), what
//! the engine is doing ([`Stage`]), a conversation turn ([`ChatTurn`]) and a
//! stored message's life ([`Role`], [`MessageStatus`]), and the speed of
//! plain decoding every speed-up is measured against ([`PlainSpeed`]); and
//! the words of the app's settings ([`ModeChoice`], [`JudgeKind`],
//! [`JudgeModel`], [`SdProposer`], [`Theme`], [`ModelsLocation`]).
//!
//! The engine produces these, the store encodes them (text enums as
//! [`Mode::as_str`] etc.), the shell sends them to the UI as they are, and
//! the UI's TypeScript types are generated from them (`ts-rs`), so every
//! layer spells them alike.

mod answer;
mod chat;
mod settings;
mod speed;
mod text_enum;

pub use answer::{
    Answer, AnswerMetrics, AnswerStatus, ArithmeticCheck, KeptFrom, MessageStatus, Mode,
    PositionCount, Role, Stage, StepRecord, Verdict,
};
pub use chat::{ChatTurn, Speaker};
pub use settings::{JudgeKind, JudgeModel, ModeChoice, ModelsLocation, SdProposer, Theme};
pub use speed::PlainSpeed;
/// The TypeScript side: every type here implements [`TS`].
pub use ts_rs::{Config as TsConfig, TS};
