//! The numbers rule in front of the model judges: a drafted step whose
//! numbers differ from the target's step is rejected without asking the
//! model.
//!
//! Sentence embeddings barely move when one figure changes ("3 + 4 = 7" and
//! "3 + 4 = 8" are ≥ 0.95 alike), and on word problems a step's figures are
//! most of what it means: on the 100 GSM8K questions, the steps the
//! embedding judge kept at 0.95 changed five answers against plain, and the
//! kept steps that differ in a figure are where they changed. Steps without
//! figures, or with the same figures, go to the model judge.

use std::time::Instant;

use super::{Judge, JudgeVerdict};
use crate::arith;
use crate::error::Result;

/// Rejects a drafted step whose set of written numbers differs from the
/// target step's; everything else goes to `inner`.
pub struct SameNumbers<J> {
    inner: J,
}

impl<J: Judge> SameNumbers<J> {
    pub fn new(inner: J) -> Self {
        Self { inner }
    }
}

impl<J: Judge> Judge for SameNumbers<J> {
    fn name(&self) -> String {
        format!("numbers+{}", self.inner.name())
    }

    fn judge(&mut self, target_step: &str, drafted_step: &str) -> Result<JudgeVerdict> {
        let started = Instant::now();
        let rule = (arith::numbers(target_step) != arith::numbers(drafted_step)).then_some(false);
        super::decide_or_ask(rule, started, &mut self.inner, target_step, drafted_step)
    }
}
