//! Semantic judges: decide whether a drafted reasoning step says the same as
//! the step the target model wrote from the same text.
//!
//! Three judges, cheapest first:
//! - [`exact::ExactJudge`]: equal after lower-casing and removing whitespace.
//! - [`embedding::EmbeddingJudge`]: cosine similarity of all-MiniLM-L6-v2
//!   sentence embeddings against a threshold.
//! - [`llm::LlmJudge`]: asks a language model whether the two steps are
//!   "aligned", reading one generated token.
//!
//! [`ExactFirst`] puts the exact-match shortcut in front of another judge, as
//! the method does: identical steps need no model call.
//! [`SameNumbers`] rejects a drafted step whose figures differ from the
//! target's before a model judge is asked (the engine puts it in front of the
//! embedding and LLM judges).

pub mod embedding;
pub mod exact;
pub mod llm;
pub mod numbers;

use std::time::{Duration, Instant};

use crate::error::Result;

pub use embedding::EmbeddingJudge;
pub use exact::ExactJudge;
pub use llm::{LlmJudge, SharedGenerator};
pub use numbers::SameNumbers;

/// One decision about a (target step, drafted step) pair.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgeVerdict {
    /// Keep the drafted step.
    pub accepted: bool,
    /// The number the decision was taken on: cosine similarity for the
    /// embedding judge, 1/0 for the exact and LLM judges; none when the
    /// numbers rule rejected the step without asking a model.
    pub score: Option<f64>,
    /// Time the judge took for this pair.
    pub latency: Duration,
}

/// Decides whether a drafted step can stand in for the target's step.
///
/// `Send` so an engine can keep a judge beside its models on a worker thread.
pub trait Judge: Send {
    /// A short name for records and the UI ("exact", "embedding@0.95", ...).
    fn name(&self) -> String;

    /// Compares the step the target wrote with the drafted one. Both may end
    /// with the step delimiter; judges ignore surrounding whitespace.
    fn judge(&mut self, target_step: &str, drafted_step: &str) -> Result<JudgeVerdict>;
}

/// Accepts steps that are equal after lower-casing and removing whitespace
/// without asking `inner`, as the method prescribes in front of model judges;
/// everything else goes to `inner`.
pub struct ExactFirst<J> {
    inner: J,
}

impl<J: Judge> ExactFirst<J> {
    pub fn new(inner: J) -> Self {
        Self { inner }
    }

    pub fn inner(&self) -> &J {
        &self.inner
    }

    pub fn into_inner(self) -> J {
        self.inner
    }
}

impl<J: Judge> Judge for ExactFirst<J> {
    fn name(&self) -> String {
        format!("exact+{}", self.inner.name())
    }

    fn judge(&mut self, target_step: &str, drafted_step: &str) -> Result<JudgeVerdict> {
        let started = Instant::now();
        let rule = exact::same_text(target_step, drafted_step).then_some(true);
        decide_or_ask(rule, started, &mut self.inner, target_step, drafted_step)
    }
}

/// A rule in front of a judge: its decision when it has one (`Some`), else
/// the inner judge's, timed from `started` so the rule's work is counted.
/// A rule's acceptance scores 1; its rejection has no score (no similarity
/// was measured, so the step view shows none).
pub(crate) fn decide_or_ask<J: Judge>(
    rule: Option<bool>,
    started: Instant,
    inner: &mut J,
    target_step: &str,
    drafted_step: &str,
) -> Result<JudgeVerdict> {
    if let Some(accepted) = rule {
        return Ok(JudgeVerdict {
            accepted,
            score: accepted.then_some(1.0),
            latency: started.elapsed(),
        });
    }
    let mut verdict = inner.judge(target_step, drafted_step)?;
    verdict.latency = started.elapsed().max(verdict.latency);
    Ok(verdict)
}

impl Judge for Box<dyn Judge> {
    fn name(&self) -> String {
        self.as_ref().name()
    }

    fn judge(&mut self, target_step: &str, drafted_step: &str) -> Result<JudgeVerdict> {
        self.as_mut().judge(target_step, drafted_step)
    }
}
