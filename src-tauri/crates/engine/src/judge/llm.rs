//! The LLM judge: a language model reads both steps and answers with one
//! bracketed word, "aligned" or "not aligned".
//!
//! The assistant turn is pre-filled with "[" so the model's very first token
//! is the decision; one greedy token is generated and only an "aligned"
//! answer accepts. Anything else, including an unreadable answer, rejects: a
//! wrong rejection costs speed, a wrong acceptance costs correctness.
//!
//! Any [`StepGenerator`] can judge: a third GGUF, or the draft or target the
//! scheduler already uses. For the latter, wrap the model in a
//! [`SharedGenerator`] and hand one clone to the scheduler and one to the
//! judge; the scheduler never generates while the judge runs, so the lock is
//! never contended.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::{Judge, JudgeVerdict};
use crate::cancel::CancelFlag;
use crate::error::{EngineError, Result};
use crate::generate::{
    Context, GeneratorStats, Sampling, StepGenerator, StepOutput, StepRequest, TokenSink,
};

/// The system turn: what the judge is for.
const JUDGE_SYSTEM: &str = "You check whether two steps of a worked solution make the same point. \
Wording may differ; what matters is the idea, the reasoning and every number or result.";

/// The word that accepts a drafted step.
pub const ALIGNED: &str = "aligned";
/// The word that rejects it.
pub const NOT_ALIGNED: &str = "not aligned";

/// Renders the ChatML conversation (the template of Qwen2.5 and SmolLM2)
/// that asks for a verdict, ending with the assistant's pre-filled "[".
pub fn judge_prompt(target_step: &str, drafted_step: &str) -> String {
    format!(
        "<|im_start|>system\n{JUDGE_SYSTEM}<|im_end|>\n\
<|im_start|>user\n\
Compare these two steps.\n\n\
Step A:\n<<<\n{a}\n>>>\n\n\
Step B:\n<<<\n{b}\n>>>\n\n\
Do A and B say the same thing: the same main idea, the same logic and the same numbers or results? \
Reply with [{ALIGNED}] if they do and [{NOT_ALIGNED}] if they do not. If you are not sure, reply [{NOT_ALIGNED}].<|im_end|>\n\
<|im_start|>assistant\n[",
        a = target_step.trim(),
        b = drafted_step.trim(),
    )
}

/// Reads the text generated after the pre-filled "[". Accepts only a reply
/// that is (the start of) "aligned": a tokenizer may split the word, so
/// "align" is enough, but "a" alone is too little to tell.
pub fn parse_reply(reply: &str) -> bool {
    let word: String = reply
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    if word.starts_with("not") || word.starts_with("un") || word.starts_with("mis") {
        return false;
    }
    word.len() >= 2 && (ALIGNED.starts_with(&word) || word.starts_with(ALIGNED))
}

/// Settings of the LLM judge.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmJudgeSettings {
    /// Tokens to generate after "[". One decides; more only helps a model
    /// whose tokenizer splits "aligned" into short pieces.
    pub reply_tokens: usize,
}

impl Default for LlmJudgeSettings {
    fn default() -> Self {
        Self { reply_tokens: 1 }
    }
}

/// Judges with any language model, greedily, one token.
pub struct LlmJudge {
    model: Box<dyn StepGenerator>,
    settings: LlmJudgeSettings,
    cancel: CancelFlag,
}

impl LlmJudge {
    pub fn new(model: Box<dyn StepGenerator>, settings: LlmJudgeSettings) -> Self {
        Self {
            model,
            settings,
            // The judge's one token is never worth interrupting: the
            // scheduler checks its own cancel flag around every verdict.
            cancel: CancelFlag::new(),
        }
    }

    pub fn model(&self) -> &dyn StepGenerator {
        self.model.as_ref()
    }
}

impl Judge for LlmJudge {
    fn name(&self) -> String {
        format!("llm:{}", self.model.name())
    }

    fn judge(&mut self, target_step: &str, drafted_step: &str) -> Result<JudgeVerdict> {
        let started = Instant::now();
        let request = StepRequest {
            context: judge_prompt(target_step, drafted_step).into(),
            max_tokens: self.settings.reply_tokens.max(1),
            stop_at_delimiter: false,
            hint: None,
        };
        let outputs = self.model.continue_steps(
            std::slice::from_ref(&request),
            &Sampling::default(),
            &self.cancel,
            &mut |_, _| {},
        )?;
        let reply = outputs
            .first()
            .ok_or_else(|| EngineError::Judge("the judge model returned no reply".to_string()))?;
        let accepted = parse_reply(&reply.text);
        Ok(JudgeVerdict {
            accepted,
            score: Some(if accepted { 1.0 } else { 0.0 }),
            latency: started.elapsed(),
        })
    }
}

/// A model that several users take turns on: the scheduler (as draft or
/// target) and an [`LlmJudge`]. Each call locks the model for its duration.
#[derive(Clone)]
pub struct SharedGenerator {
    inner: Arc<Mutex<Box<dyn StepGenerator>>>,
    // Kept outside the lock because `name()` returns a borrow.
    name: String,
}

impl SharedGenerator {
    pub fn new(model: Box<dyn StepGenerator>) -> Self {
        let name = model.name().to_string();
        Self {
            inner: Arc::new(Mutex::new(model)),
            name,
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Box<dyn StepGenerator>>> {
        self.inner.lock().map_err(|_| {
            EngineError::Generation(format!(
                "model {} is unusable after an earlier failure",
                self.name
            ))
        })
    }
}

impl StepGenerator for SharedGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    fn count_tokens(&self, context: &Context) -> Result<usize> {
        self.lock()?.count_tokens(context)
    }

    fn context_limit(&self) -> usize {
        self.lock().map_or(0, |model| model.context_limit())
    }

    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_token: TokenSink<'_>,
    ) -> Result<Vec<StepOutput>> {
        self.lock()?
            .continue_steps(requests, sampling, cancel, on_token)
    }

    fn take_stats(&mut self) -> GeneratorStats {
        self.lock()
            .map(|mut model| model.take_stats())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_strictly() {
        assert!(parse_reply("aligned]"));
        assert!(parse_reply("Aligned"));
        assert!(parse_reply("align"));
        assert!(!parse_reply("not aligned]"));
        assert!(!parse_reply("Not"));
        assert!(!parse_reply("unaligned"));
        assert!(!parse_reply("a"));
        assert!(!parse_reply(""));
        assert!(!parse_reply("yes"));
    }

    #[test]
    fn prompt_ends_with_the_open_bracket() {
        let prompt = judge_prompt("3 + 4 = 7\n\n", "7 apples\n\n");
        assert!(prompt.ends_with("<|im_start|>assistant\n["));
        assert!(prompt.contains("<<<\n3 + 4 = 7\n>>>"));
        assert!(prompt.contains("<<<\n7 apples\n>>>"));
    }
}
