//! The engine's front door: load models once, then ask questions in any
//! mode. Blocking by design — callers run it on a worker thread.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::answer::{Answer, AnswerEvent, AnswerMetrics, AnswerStatus, Mode, StepRecord};
use crate::cancel::CancelFlag;
use crate::error::{EngineError, Result};
use crate::generate::{GeneratorStats, Sampling, StepEnd, StepGenerator, StepRequest};
use crate::gguf_info;
use crate::mistral::MistralGenerator;
use crate::prompt;

/// Which models to load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    pub target: PathBuf,
    /// Needed for sd, lr and sd+lr.
    pub draft: Option<PathBuf>,
}

/// Loading progress, for a status line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadProgress {
    pub model: String,
    pub role: String,
    pub done: bool,
}

/// How to answer one question.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AskOptions {
    pub mode: Mode,
    pub sampling: Sampling,
    /// At most this many tokens in the answer.
    pub max_answer_tokens: usize,
    /// At most this many tokens in one reasoning step.
    pub step_token_budget: usize,
}

impl Default for AskOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Plain,
            sampling: Sampling::default(),
            max_answer_tokens: 512,
            step_token_budget: 100,
        }
    }
}

/// Loaded models, ready to answer.
pub struct Engine {
    target: Box<dyn StepGenerator>,
    draft: Option<Box<dyn StepGenerator>>,
    target_name: String,
    draft_name: Option<String>,
}

impl Engine {
    /// Checks and loads the models. Fails early, before any heavy loading,
    /// on a missing or damaged file or on a draft/target pair whose
    /// vocabularies differ.
    pub fn load(config: &EngineConfig, progress: &mut dyn FnMut(LoadProgress)) -> Result<Self> {
        let target_info = gguf_info::inspect(&config.target, "target")?;
        let draft_info = match &config.draft {
            Some(path) => {
                let info = gguf_info::inspect(path, "draft")?;
                gguf_info::check_pair(&info, &target_info)?;
                Some(info)
            }
            None => None,
        };
        progress(LoadProgress {
            model: target_info.name(),
            role: "target".into(),
            done: false,
        });
        let target = MistralGenerator::load(&config.target, "target")?;
        progress(LoadProgress {
            model: target_info.name(),
            role: "target".into(),
            done: true,
        });
        let draft: Option<Box<dyn StepGenerator>> = match (&config.draft, &draft_info) {
            (Some(path), Some(info)) => {
                progress(LoadProgress {
                    model: info.name(),
                    role: "draft".into(),
                    done: false,
                });
                let draft = MistralGenerator::load(path, "draft")?;
                progress(LoadProgress {
                    model: info.name(),
                    role: "draft".into(),
                    done: true,
                });
                Some(Box::new(draft))
            }
            _ => None,
        };
        Ok(Self::from_generators(Box::new(target), draft))
    }

    /// An engine over generators the caller built (tests, other backends).
    pub fn from_generators(
        target: Box<dyn StepGenerator>,
        draft: Option<Box<dyn StepGenerator>>,
    ) -> Self {
        Self {
            target_name: target.name().to_string(),
            draft_name: draft.as_ref().map(|d| d.name().to_string()),
            target,
            draft,
        }
    }

    pub fn target_name(&self) -> &str {
        &self.target_name
    }

    pub fn draft_name(&self) -> Option<&str> {
        self.draft_name.as_deref()
    }

    /// Checks a question before any work: not empty, and short enough that
    /// the answer still fits the context.
    pub fn check_question(&self, question: &str, options: &AskOptions) -> Result<String> {
        if question.trim().is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        let text = prompt::chat_prompt(question);
        let tokens = self.target.count_tokens(&text)?;
        let limit = self
            .target
            .context_limit()
            .saturating_sub(options.max_answer_tokens);
        if tokens > limit {
            return Err(EngineError::PromptTooLong { tokens, limit });
        }
        Ok(text)
    }

    /// Answers `question`, streaming events. A cancel returns the answer so
    /// far with status `Cancelled`.
    pub fn ask(
        &mut self,
        question: &str,
        options: &AskOptions,
        cancel: &CancelFlag,
        on_event: &mut dyn FnMut(AnswerEvent),
    ) -> Result<Answer> {
        let prompt_text = self.check_question(question, options)?;
        match options.mode {
            Mode::Plain => {}
            other => {
                return Err(EngineError::Unsupported(format!(
                    "mode {other} is not available in this build yet"
                )))
            }
        }
        let prompt_tokens = self.target.count_tokens(&prompt_text)?;
        self.target.take_stats();
        let started = Instant::now();
        let mut first_token: Option<Instant> = None;
        let mut text = String::new();
        let mut steps: Vec<StepRecord> = Vec::new();
        let mut generated = 0usize;
        let mut status = AnswerStatus::Complete;

        while generated < options.max_answer_tokens {
            let budget = options
                .step_token_budget
                .min(options.max_answer_tokens - generated);
            let request = StepRequest {
                text: format!("{prompt_text}{text}"),
                max_tokens: budget,
                stop_at_delimiter: true,
            };
            let step_started = Instant::now();
            let mut sink = |_: usize, piece: &str| {
                first_token.get_or_insert_with(Instant::now);
                on_event(AnswerEvent::Token {
                    text: piece.to_string(),
                });
            };
            let output = self
                .target
                .continue_steps(
                    std::slice::from_ref(&request),
                    &options.sampling,
                    cancel,
                    &mut sink,
                )?
                .into_iter()
                .next()
                .unwrap_or_default();
            generated += output.tokens;
            if !output.text.is_empty() {
                let step = StepRecord::target_only(
                    steps.len(),
                    output.text.clone(),
                    step_started.elapsed().as_secs_f64() * 1e3,
                );
                text.push_str(&output.text);
                on_event(AnswerEvent::Step { step: step.clone() });
                steps.push(step);
            }
            match output.end {
                Some(StepEnd::Delimiter) | Some(StepEnd::Budget) if output.tokens > 0 => continue,
                Some(StepEnd::Cancelled) => {
                    status = AnswerStatus::Cancelled;
                    break;
                }
                _ => break,
            }
        }
        if cancel.is_cancelled() {
            status = AnswerStatus::Cancelled;
        }

        let stats = self.target.take_stats();
        let metrics = answer_metrics(prompt_tokens, &stats, started, first_token);
        let answer = Answer {
            question: question.to_string(),
            final_answer: prompt::extract_final_answer(&text),
            text: text.trim_end().to_string(),
            steps,
            metrics,
            status,
            mode: options.mode,
            draft_model: None,
            target_model: self.target_name.clone(),
            judge: None,
            gamma: None,
        };
        on_event(AnswerEvent::Done {
            answer: Box::new(answer.clone()),
        });
        Ok(answer)
    }
}

fn rate(count: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Figures for one answer from the backend's counters and the wall clock.
pub fn answer_metrics(
    prompt_tokens: usize,
    stats: &GeneratorStats,
    started: Instant,
    first_token: Option<Instant>,
) -> AnswerMetrics {
    let wall = started.elapsed().as_secs_f64();
    let speculative = stats.verification_rounds > 0;
    AnswerMetrics {
        prompt_tokens,
        generated_tokens: stats.generated_tokens,
        wall_seconds: wall,
        prefill_tokens_per_s: rate(stats.prefill_tokens, stats.prefill_seconds),
        decode_tokens_per_s: rate(stats.generated_tokens, stats.decode_seconds),
        time_to_first_token_s: first_token
            .map(|t| t.duration_since(started).as_secs_f64())
            .unwrap_or(wall),
        tokens_per_s: rate(stats.generated_tokens, wall),
        drafted_tokens: speculative.then_some(stats.drafted_tokens),
        accepted_tokens: speculative.then_some(stats.accepted_tokens),
        token_acceptance_rate: (speculative && stats.drafted_tokens > 0)
            .then(|| stats.accepted_tokens as f64 / stats.drafted_tokens as f64),
        mean_acceptance_length: speculative
            .then(|| 1.0 + stats.accepted_tokens as f64 / stats.verification_rounds as f64),
        forward_passes: stats.forward_passes,
        mean_batch_size: if stats.forward_passes > 0 {
            stats.batched_sequences as f64 / stats.forward_passes as f64
        } else {
            0.0
        },
        ..AnswerMetrics::default()
    }
}
