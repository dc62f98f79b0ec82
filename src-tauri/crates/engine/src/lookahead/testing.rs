//! Scripted stand-ins for models and judges, for tests of the scheduler and
//! of anything built on it (the engine facade). No model files needed.
//!
//! A [`ScriptedGenerator`] knows a few complete texts (prompt + answer). Asked
//! to continue a text that is the start of one of them, it writes that text's
//! next step: up to and including the next delimiter, or to the end, where it
//! reports end-of-sequence. One character is one token, so budgets are easy to
//! reason about.

use std::collections::HashSet;
use std::time::Duration;

use crate::cancel::CancelFlag;
use crate::error::{EngineError, Result};
use crate::generate::{
    Context, GeneratorStats, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest, TokenSink,
    STEP_DELIMITER,
};
use crate::judge::{Judge, JudgeVerdict};

/// What an off-script request gets when the generator is not strict: a step
/// no test expects to see kept.
pub const OFF_SCRIPT_STEP: &str = "<off-script>\n\n";

/// A [`StepGenerator`] that replays scripted texts.
#[derive(Clone, Debug)]
pub struct ScriptedGenerator {
    name: String,
    texts: Vec<String>,
    strict: bool,
    context_limit: usize,
    fail_calls: HashSet<usize>,
    fail_batches_over: Option<usize>,
    cancel_on_call: Option<usize>,
    token_time: Duration,
    calls: Vec<Vec<StepRequest>>,
    stats: GeneratorStats,
}

impl ScriptedGenerator {
    /// A model that, after `prompt`, writes `steps` one by one and then ends
    /// the answer.
    pub fn new(name: &str, prompt: &str, steps: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            texts: vec![format!("{prompt}{}", steps.concat())],
            strict: false,
            context_limit: 1 << 20,
            fail_calls: HashSet::new(),
            fail_batches_over: None,
            cancel_on_call: None,
            token_time: Duration::ZERO,
            calls: Vec::new(),
            stats: GeneratorStats::default(),
        }
    }

    /// Another complete text it knows (e.g. how the target goes on after a
    /// drafted step it did not write itself). Earlier texts win.
    pub fn also(mut self, prompt: &str, steps: &[&str]) -> Self {
        self.texts.push(format!("{prompt}{}", steps.concat()));
        self
    }

    /// Off-script requests fail instead of getting [`OFF_SCRIPT_STEP`].
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Call number `n` (0-based) of `continue_steps` fails.
    pub fn failing_on_call(mut self, n: usize) -> Self {
        self.fail_calls.insert(n);
        self
    }

    /// Calls with more than `n` requests fail (a backend that cannot batch).
    pub fn failing_on_batches_over(mut self, n: usize) -> Self {
        self.fail_batches_over = Some(n);
        self
    }

    /// Call number `n` sets the cancel flag it was given and returns
    /// half-written steps marked cancelled, as a backend does when a person
    /// presses stop mid-step.
    pub fn cancelling_on_call(mut self, n: usize) -> Self {
        self.cancel_on_call = Some(n);
        self
    }

    /// Decode time to report per token (nothing sleeps).
    pub fn reporting_token_time(mut self, per_token: Duration) -> Self {
        self.token_time = per_token;
        self
    }

    pub fn with_context_limit(mut self, limit: usize) -> Self {
        self.context_limit = limit;
        self
    }

    /// Every call so far, with its requests.
    pub fn calls(&self) -> &[Vec<StepRequest>] {
        &self.calls
    }

    fn continuation(&self, request: &StepRequest) -> Result<StepOutput> {
        let asked = request.text();
        let rest = self
            .texts
            .iter()
            .find_map(|text| text.strip_prefix(asked.as_str()));
        let (rest, scripted) = match rest {
            Some(rest) => (rest, true),
            None if self.strict => {
                return Err(EngineError::Generation(format!(
                    "{} has no script for …{:?}",
                    self.name,
                    tail(&asked, 40)
                )))
            }
            None => (OFF_SCRIPT_STEP, false),
        };
        let step_end = if request.stop_at_delimiter {
            rest.find(STEP_DELIMITER)
                .map(|at| at + STEP_DELIMITER.len())
        } else {
            None
        };
        let (candidate, natural_end) = match step_end {
            Some(at) => (&rest[..at], StepEnd::Delimiter),
            None if scripted => (rest, StepEnd::EndOfSequence),
            None => (rest, StepEnd::Delimiter),
        };
        let (text, end) = if candidate.chars().count() > request.max_tokens {
            let cut: String = candidate.chars().take(request.max_tokens).collect();
            (cut, StepEnd::Budget)
        } else {
            (candidate.to_string(), natural_end)
        };
        let tokens = text.chars().count();
        Ok(StepOutput {
            text,
            tokens,
            end: Some(end),
            prefill_tokens: asked.chars().count(),
            prefill_time: Duration::ZERO,
            decode_time: self.token_time * u32::try_from(tokens).unwrap_or(u32::MAX),
            ids: None,
            ahead: None,
        })
    }
}

fn tail(text: &str, chars: usize) -> String {
    let skip = text.chars().count().saturating_sub(chars);
    text.chars().skip(skip).collect()
}

impl StepGenerator for ScriptedGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    fn count_tokens(&self, context: &Context) -> Result<usize> {
        Ok(context.text().chars().count())
    }

    fn context_limit(&self) -> usize {
        self.context_limit
    }

    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        _sampling: &Sampling,
        cancel: &CancelFlag,
        on_token: TokenSink<'_>,
    ) -> Result<Vec<StepOutput>> {
        let call = self.calls.len();
        self.calls.push(requests.to_vec());
        if self.fail_calls.contains(&call) {
            return Err(EngineError::Generation(format!(
                "{} failed on call {call} (scripted)",
                self.name
            )));
        }
        if self.fail_batches_over.is_some_and(|n| requests.len() > n) {
            return Err(EngineError::Generation(format!(
                "{} cannot run {} requests at once (scripted)",
                self.name,
                requests.len()
            )));
        }
        let cancel_now = self.cancel_on_call == Some(call);
        let mut outputs = Vec::with_capacity(requests.len());
        for (index, request) in requests.iter().enumerate() {
            let mut output = self.continuation(request)?;
            if cancel_now || cancel.is_cancelled() {
                cancel.cancel();
                let half: String = output.text.chars().take(output.tokens / 2).collect();
                output.tokens = half.chars().count();
                output.text = half;
                output.end = Some(StepEnd::Cancelled);
            }
            on_token(index, &output.text);
            self.stats.generated_tokens += output.tokens;
            self.stats.prefill_tokens += output.prefill_tokens;
            self.stats.decode_seconds += output.decode_time.as_secs_f64();
            outputs.push(output);
        }
        self.stats.forward_passes += 1;
        self.stats.batched_sequences += requests.len();
        Ok(outputs)
    }

    fn take_stats(&mut self) -> GeneratorStats {
        std::mem::take(&mut self.stats)
    }
}

/// The decision function of a [`ScriptedJudge`]: (target step, drafted step,
/// call number) → accept?
pub type JudgeScript = Box<dyn FnMut(&str, &str, usize) -> Result<bool> + Send>;

/// A judge that decides by a script and remembers what it was asked.
pub struct ScriptedJudge {
    name: String,
    decide: JudgeScript,
    calls: Vec<(String, String)>,
}

impl ScriptedJudge {
    pub fn new(name: &str, decide: JudgeScript) -> Self {
        Self {
            name: name.to_string(),
            decide,
            calls: Vec::new(),
        }
    }

    pub fn accept_all() -> Self {
        Self::new("accept-all", Box::new(|_, _, _| Ok(true)))
    }

    pub fn reject_all() -> Self {
        Self::new("reject-all", Box::new(|_, _, _| Ok(false)))
    }

    /// Fails on call `n` (0-based); accepts equal steps otherwise.
    pub fn failing_on_call(n: usize) -> Self {
        Self::new(
            "failing",
            Box::new(move |target, draft, call| {
                if call == n {
                    Err(EngineError::Judge(format!(
                        "scripted failure on call {call}"
                    )))
                } else {
                    Ok(target == draft)
                }
            }),
        )
    }

    /// Every (target step, drafted step) pair judged so far.
    pub fn calls(&self) -> &[(String, String)] {
        &self.calls
    }
}

impl Judge for ScriptedJudge {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn judge(&mut self, target_step: &str, drafted_step: &str) -> Result<JudgeVerdict> {
        let call = self.calls.len();
        self.calls
            .push((target_step.to_string(), drafted_step.to_string()));
        let accepted = (self.decide)(target_step, drafted_step, call)?;
        Ok(JudgeVerdict {
            accepted,
            score: Some(if accepted { 1.0 } else { 0.0 }),
            latency: Duration::from_micros(10),
        })
    }
}
