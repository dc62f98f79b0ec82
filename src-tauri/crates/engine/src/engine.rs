//! The engine's front door: load models once, then ask questions in any
//! mode. Blocking by design — callers run it on a worker thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::answer::{Answer, AnswerEvent, AnswerMetrics, AnswerStatus, Mode};
use crate::batched::ExecutorGenerator;
use crate::cancel::CancelFlag;
use crate::chat::{ChatTemplate, ChatTurn, Speaker};
use crate::error::{EngineError, Result};
use crate::generate::{Context, GeneratorStats, Piece, Sampling, StepGenerator, StepRequest};
use crate::gguf_info;
use crate::judge::embedding::EmbeddingJudge;
use crate::judge::exact::ExactJudge;
use crate::judge::llm::{LlmJudge, LlmJudgeSettings};
use crate::judge::{ExactFirst, Judge, JudgeVerdict, SameNumbers};
use crate::lookahead::{
    run_lookahead, run_plain_steps, LookaheadEnd, LookaheadModels, LookaheadSettings, NextAnswer,
    SchedulerEvent, StepDraftingRecord,
};
use crate::mistral::MistralGenerator;
use crate::prompt::{self, PromptStyle};
use crate::server::{ServerConfig, ServerGenerator};
use crate::speculative::{NgramConfig, SpeculationConfig, SpeculativeGenerator};
use crate::speed::PlainSpeed;
use lookahead_executor::{Executor, ExecutorOptions};

/// Which code runs the models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The batched executor, falling back to mistral.rs for models it does
    /// not support.
    #[default]
    Auto,
    Executor,
    Mistralrs,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Backend::Auto),
            "executor" => Ok(Backend::Executor),
            "mistralrs" => Ok(Backend::Mistralrs),
            _ => Err(format!(
                "unknown engine \"{s}\" (expected auto, executor or mistralrs)"
            )),
        }
    }
}

/// Which models to load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    pub target: PathBuf,
    /// Needed for sd (draft-model proposer), lr and sd+lr.
    pub draft: Option<PathBuf>,
    #[serde(default)]
    pub backend: Backend,
    /// The target on an inference server instead of `target`.
    #[serde(default)]
    pub target_server: Option<ServerConfig>,
    /// The draft on an inference server instead of `draft`.
    #[serde(default)]
    pub draft_server: Option<ServerConfig>,
    /// The sentence-embedding model's folder, for the embedding judge
    /// (read when that judge is first used).
    #[serde(default)]
    pub embedding: Option<PathBuf>,
}

impl EngineConfig {
    pub fn new(target: PathBuf, draft: Option<PathBuf>) -> Self {
        Self {
            target,
            draft,
            backend: Backend::Auto,
            target_server: None,
            draft_server: None,
            embedding: None,
        }
    }

    /// The same with the embedding judge's model folder.
    pub fn with_embedding(self, embedding: impl Into<PathBuf>) -> Self {
        Self {
            embedding: Some(embedding.into()),
            ..self
        }
    }

    /// The main model's name as answers record it (a model on a server is
    /// named with where it runs).
    pub fn target_name(&self) -> String {
        match &self.target_server {
            Some(server) => server.display_name(),
            None => crate::gguf_info::model_name(&self.target),
        }
    }

    /// The helper model's name, likewise; `None` without one.
    pub fn draft_name(&self) -> Option<String> {
        match &self.draft_server {
            Some(server) => Some(server.display_name()),
            None => self.draft.as_deref().map(crate::gguf_info::model_name),
        }
    }
}

/// Loading progress, for a status line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadProgress {
    pub model: String,
    pub role: String,
    pub done: bool,
}

/// Which judge compares drafted and target steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JudgeChoice {
    /// Sentence embeddings (all-MiniLM-L6-v2), accept at cosine ≥ threshold.
    Embed { threshold: f64 },
    /// An LLM asked whether the steps mean the same, on the draft or target.
    Llm { on_target: bool },
    /// Equal text after lower-casing and removing white space.
    Exact,
}

impl JudgeChoice {
    /// The app's judge settings as a judge: the LLM judge runs on the main
    /// model when `model` is the target, else on the helper.
    pub fn of(
        kind: lookahead_domain::JudgeKind,
        model: lookahead_domain::JudgeModel,
        threshold: f64,
    ) -> Self {
        match kind {
            lookahead_domain::JudgeKind::Llm => JudgeChoice::Llm {
                on_target: model == lookahead_domain::JudgeModel::Target,
            },
            lookahead_domain::JudgeKind::Embed => JudgeChoice::Embed { threshold },
        }
    }

    /// Reads a judge named as [`JudgeChoice::label`] names it: `embed`
    /// (with `threshold`) or `embed@0.90`, `llm:draft` (also `llm`),
    /// `llm:target`, `exact`.
    pub fn parse(name: &str, threshold: f64) -> std::result::Result<Self, String> {
        let name = name.trim();
        if let Some(at) = name.strip_prefix("embed@") {
            return at
                .parse::<f64>()
                .map(|threshold| JudgeChoice::Embed { threshold })
                .map_err(|_| format!("\"{at}\" is not a threshold (e.g. embed@0.90)"));
        }
        Ok(match name {
            "embed" => JudgeChoice::Embed { threshold },
            "llm" | "llm:draft" => JudgeChoice::Llm { on_target: false },
            "llm:target" => JudgeChoice::Llm { on_target: true },
            "exact" => JudgeChoice::Exact,
            other => {
                return Err(format!(
                    "unknown judge \"{other}\" (choose embed, embed@0.90, llm:draft, llm:target or exact)"
                ))
            }
        })
    }

    /// The judge's name, as stored with an answer and read by
    /// [`JudgeChoice::parse`].
    pub fn label(&self) -> String {
        match self {
            JudgeChoice::Embed { threshold } => format!("embed@{threshold:.2}"),
            JudgeChoice::Llm { on_target: true } => "llm:target".into(),
            JudgeChoice::Llm { on_target: false } => "llm:draft".into(),
            JudgeChoice::Exact => "exact".into(),
        }
    }
}

/// Tokens written to measure plain decoding speed
/// ([`Engine::measure_plain_speed`]).
pub const CALIBRATION_TOKENS: usize = 48;

/// Answer length the front ends default to: the standard reasoning prompt
/// needs 300–500 tokens for a GSM8K problem, so this leaves room for a full
/// worked answer.
pub const DEFAULT_MAX_ANSWER_TOKENS: usize = 1024;

/// The most prompt tokens spent on earlier turns of a conversation: older
/// turns beyond it are left out (and the answer says so), so a long chat
/// does not make every question slow to read.
pub const HISTORY_TOKEN_BUDGET: usize = 3072;

/// A question rendered for the model, with what was left out to fit.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedPrompt {
    /// The rendered prompt, with the target's token ids once counted (the
    /// answer's requests reuse them).
    pub prompt: Piece,
    pub tokens: usize,
    /// Earlier turns that did not fit (oldest first) and were left out.
    pub turns_left_out: usize,
}

impl PreparedPrompt {
    pub fn text(&self) -> &str {
        self.prompt.text()
    }
}

/// How to answer one question.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AskOptions {
    pub mode: Mode,
    pub sampling: Sampling,
    /// At most this many tokens in the answer.
    pub max_answer_tokens: usize,
    /// At most this many tokens in one reasoning step.
    pub step_token_budget: usize,
    /// Look-ahead depth γ (steps drafted per round).
    pub gamma: usize,
    pub judge: JudgeChoice,
    pub adaptive_gamma: bool,
    pub slowdown_guard: bool,
    /// Token SD proposer in `sd` mode: the draft model (true) or n-gram.
    /// `sd+lr` always uses n-gram inside steps (the draft is busy drafting
    /// steps), as the paper's combined results do.
    pub sd_with_draft: bool,
    /// How the question is put to the model.
    pub prompt: PromptStyle,
    /// The calculator in the loop: wrong results in a step are replaced by
    /// the exact value before the model goes on.
    pub correct_arithmetic: bool,
    /// The mode is being tried out ("auto" exploring): step speculation
    /// gets a single slow round before the guard switches it off.
    pub strict_guard: bool,
    /// Earlier answers on this computer (most recent first), where word
    /// drafting by n-grams also looks for what comes next. Not kept with
    /// the answer's options.
    #[serde(skip)]
    pub earlier_answers: Vec<String>,
    /// Word drafting hands words it checked past a step's end to the next
    /// step (on by default; off only to measure what it saves).
    pub carry_ahead: bool,
}

impl Default for AskOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Plain,
            sampling: Sampling::default(),
            max_answer_tokens: DEFAULT_MAX_ANSWER_TOKENS,
            step_token_budget: 100,
            gamma: 4,
            judge: JudgeChoice::Embed { threshold: 0.95 },
            adaptive_gamma: true,
            slowdown_guard: true,
            sd_with_draft: false,
            prompt: PromptStyle::default(),
            correct_arithmetic: false,
            strict_guard: false,
            earlier_answers: Vec::new(),
            carry_ahead: true,
        }
    }
}

/// The longest answer any option may ask for.
pub const MAX_ANSWER_TOKENS_LIMIT: usize = 32_768;

impl AskOptions {
    /// Refuses values no answer can be written with, in plain words.
    pub fn check(&self) -> Result<()> {
        let invalid = |what: String| Err(EngineError::InvalidOptions(what));
        if !(1..=MAX_ANSWER_TOKENS_LIMIT).contains(&self.max_answer_tokens) {
            return invalid(format!(
                "The answer length limit must be between 1 and {MAX_ANSWER_TOKENS_LIMIT} tokens, not {}.",
                self.max_answer_tokens
            ));
        }
        if self.step_token_budget == 0 {
            return invalid("The step length limit must be at least 1 token.".into());
        }
        if !(1..=8).contains(&self.gamma) {
            return invalid(format!(
                "The look-ahead depth must be between 1 and 8 steps, not {}.",
                self.gamma
            ));
        }
        let t = self.sampling.temperature;
        if !t.is_finite() || !(0.0..=5.0).contains(&t) {
            return invalid(format!("The temperature must be between 0 and 5, not {t}."));
        }
        let p = self.sampling.top_p;
        if !p.is_finite() || p <= 0.0 || p > 1.0 {
            return invalid(format!("top-p must be above 0 and at most 1, not {p}."));
        }
        if let JudgeChoice::Embed { threshold } = self.judge {
            if !threshold.is_finite() || !(0.0..=1.0).contains(&threshold) {
                return invalid(format!(
                    "The similarity threshold must be between 0 and 1, not {threshold}."
                ));
            }
        }
        Ok(())
    }
}

/// One loaded model, on whichever backend could run it.
enum Loaded {
    Executor(Arc<Executor>),
    Mistral(Box<MistralGenerator>),
    /// On an inference server (connected, not loaded).
    Server(Box<ServerGenerator>),
}

/// The draft model's shortlist head: logits for the first 32768 token ids
/// (and the end tokens) only. Its guesses are checked by the main model, so
/// answers do not change; on the 0.5B draft it cuts a third of the bytes a
/// step reads (the Q8_0 output matrix over 152k tokens) for 3 points of
/// token acceptance (BENCHMARKS.md §2, "A cheaper draft").
pub const DRAFT_HEAD_TOKENS: usize = 32_768;

impl Loaded {
    fn load(path: &std::path::Path, role: &str, backend: Backend) -> Result<Self> {
        if backend != Backend::Mistralrs {
            let options = ExecutorOptions {
                head_tokens: (role == "draft").then_some(DRAFT_HEAD_TOKENS),
                ..ExecutorOptions::default()
            };
            match Executor::load(path, options) {
                Ok(exec) => return Ok(Loaded::Executor(Arc::new(exec))),
                Err(lookahead_executor::ExecutorError::Unsupported(what))
                    if backend == Backend::Auto =>
                {
                    tracing::warn!("executor cannot run {what}; using mistral.rs");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Loaded::Mistral(Box::new(MistralGenerator::load(
            path, role,
        )?)))
    }

    fn executor(&self) -> Option<&Arc<Executor>> {
        match self {
            Loaded::Executor(exec) => Some(exec),
            Loaded::Mistral(_) | Loaded::Server(_) => None,
        }
    }

    /// A generator of its own for one answer's steps, where the backend
    /// can run several texts at once (the executor batches them; a server
    /// takes concurrent requests). mistral.rs cannot.
    fn step_generator(&self) -> Option<Box<dyn StepGenerator>> {
        match self {
            Loaded::Executor(exec) => Some(Box::new(ExecutorGenerator::new(exec.clone()))),
            Loaded::Server(server) => Some(Box::new(server.as_ref().clone())),
            Loaded::Mistral(_) => None,
        }
    }
}

/// Where a model comes from: a local file (inspected) or a server.
enum Source<'a> {
    File(&'a PathBuf, gguf_info::GgufInfo),
    Server(&'a ServerConfig),
}

impl Source<'_> {
    /// Loads the file or connects to the server, telling `progress`;
    /// returns the model and the name answers record for it (a server's
    /// with where it runs).
    fn open(
        &self,
        role: &str,
        backend: Backend,
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<(Loaded, String)> {
        let shown = match self {
            Source::File(_, info) => info.name(),
            Source::Server(server) => server.model.clone().unwrap_or_else(|| server.url.clone()),
        };
        let mut tell = |done| {
            progress(LoadProgress {
                model: shown.clone(),
                role: role.into(),
                done,
            })
        };
        tell(false);
        let opened = match self {
            Source::File(path, info) => (Loaded::load(path, role, backend)?, info.name()),
            Source::Server(server) => {
                let connected = ServerGenerator::connect(server)?;
                let name = format!("{} on {}", connected.name(), connected.url());
                (Loaded::Server(Box::new(connected)), name)
            }
        };
        tell(true);
        Ok(opened)
    }

    /// The chat template prompts are rendered with: the file's, or the one
    /// the server reports; ChatML where there is none.
    fn chat_template(&self, opened: &Loaded) -> Result<ChatTemplate> {
        let (source, bos, eos) = match (self, opened) {
            (Source::File(_, info), _) => (
                info.chat_template.as_deref(),
                info.bos_token.as_deref().unwrap_or(""),
                info.eos_token.as_deref().unwrap_or(""),
            ),
            (Source::Server(_), Loaded::Server(server)) => match server.chat_template() {
                Some(t) => (
                    Some(t.source.as_str()),
                    t.bos_token.as_str(),
                    t.eos_token.as_str(),
                ),
                None => (None, "", ""),
            },
            (Source::Server(_), _) => (None, "", ""),
        };
        ChatTemplate::from_model(source, bos, eos)
    }
}

/// Why an answer was written without step drafting: the slowdown guard's
/// pause after answers where drafting was slower than plain decoding.
fn paused_reason(losses_in_a_row: u32, then_paused_for: usize) -> String {
    let last = if losses_in_a_row == 1 {
        "the last answer that tried it".to_string()
    } else {
        format!("the last {losses_in_a_row} answers that tried it")
    };
    let again = match then_paused_for {
        0 => "it is tried again in the next answer".to_string(),
        1 => "it is tried again after 1 more answer".to_string(),
        n => format!("it is tried again after {n} more answers"),
    };
    format!(
        "slowdown guard: step drafting paused, as it was slower than plain decoding in {last} with these models; {again}"
    )
}

/// Loaded models, ready to answer.
pub struct Engine {
    target: Loaded,
    draft: Option<Loaded>,
    target_name: String,
    draft_name: Option<String>,
    embedding: Option<EmbeddingJudge>,
    /// Where the embedding judge's model is, when one was given.
    embedding_dir: Option<PathBuf>,
    /// The target's chat template (both models read the same text).
    chat: ChatTemplate,
    /// Plain decoding speed of this target on this computer: the
    /// yardstick of speed-up estimates and of the slowdown guard.
    plain_speed: Option<PlainSpeed>,
    /// How step drafting went in recent answers, per mode and judge: the
    /// slowdown guard's memory across answers (it pauses step drafting
    /// after answers where drafting lost time).
    step_drafting: HashMap<String, StepDraftingRecord>,
}

impl Engine {
    /// Checks and loads the models (a model on a server is connected to).
    /// Fails early, before any heavy loading, on a missing or damaged file
    /// or on a pair of local files whose vocabularies differ.
    pub fn load(config: &EngineConfig, progress: &mut dyn FnMut(LoadProgress)) -> Result<Self> {
        let target = match &config.target_server {
            Some(server) => Source::Server(server),
            None => Source::File(
                &config.target,
                gguf_info::inspect(&config.target, "target")?,
            ),
        };
        let draft = match (&config.draft_server, &config.draft) {
            (Some(server), _) => Some(Source::Server(server)),
            (None, Some(path)) => Some(Source::File(path, gguf_info::inspect(path, "draft")?)),
            (None, None) => None,
        };
        if let (Some(Source::File(_, draft)), Source::File(_, target)) = (&draft, &target) {
            gguf_info::check_pair(draft, target)?;
        }
        let (target_model, target_name) = target.open("target", config.backend, progress)?;
        let (draft, draft_name) = match &draft {
            Some(source) => {
                let (model, name) = source.open("draft", config.backend, progress)?;
                (Some(model), Some(name))
            }
            None => (None, None),
        };
        Ok(Self {
            chat: target.chat_template(&target_model)?,
            target: target_model,
            draft,
            target_name,
            draft_name,
            embedding: None,
            embedding_dir: config.embedding.clone(),
            plain_speed: None,
            step_drafting: HashMap::new(),
        })
    }

    pub fn target_name(&self) -> &str {
        &self.target_name
    }

    /// The plain decoding speed answers are compared with: measured by
    /// [`Engine::measure_plain_speed`], given by the caller (what it kept
    /// from earlier sessions), or from the latest plain answer.
    pub fn plain_speed(&self) -> Option<PlainSpeed> {
        self.plain_speed
    }

    /// Forgets every cached prompt (the batched executor keeps the work of
    /// earlier prompts to reuse their shared beginnings), so the next
    /// answer reads its whole prompt as after a fresh load. For measuring
    /// time to first token fairly.
    pub fn forget_cached_prompts(&self) {
        for model in std::iter::once(&self.target).chain(self.draft.as_ref()) {
            if let Some(exec) = model.executor() {
                exec.clear_prefix_cache();
            }
        }
    }

    pub fn set_plain_speed(&mut self, speed: Option<PlainSpeed>) {
        if speed.is_some() {
            self.plain_speed = speed;
        }
    }

    /// Measures plain decoding of the target on a short question of our
    /// own (a few seconds on a CPU; [`CALIBRATION_TOKENS`] tokens), keeps
    /// it as the yardstick and returns it. `None` when the backend does
    /// not report its timings or the measurement was cancelled.
    pub fn measure_plain_speed(&mut self, cancel: &CancelFlag) -> Result<Option<PlainSpeed>> {
        let calibration = AskOptions {
            max_answer_tokens: CALIBRATION_TOKENS,
            ..AskOptions::default()
        };
        let prompt = self
            .prepare_prompt(&[], prompt::CALIBRATION_QUESTION, &calibration)?
            .prompt;
        let mut generator = self.plain_target();
        generator.take_stats();
        let request = StepRequest {
            context: prompt.into(),
            max_tokens: CALIBRATION_TOKENS,
            stop_at_delimiter: false,
            hint: None,
        };
        generator.continue_steps(
            std::slice::from_ref(&request),
            &Sampling::default(),
            cancel,
            &mut |_, _| {},
        )?;
        let stats = generator.take_stats();
        drop(generator);
        if cancel.is_cancelled() || stats.generated_tokens < CALIBRATION_TOKENS / 2 {
            return Ok(None);
        }
        let measured = PlainSpeed::new(
            rate(stats.prefill_tokens, stats.prefill_seconds),
            rate(stats.generated_tokens, stats.decode_seconds),
        );
        self.set_plain_speed(measured);
        Ok(measured)
    }

    pub fn draft_name(&self) -> Option<&str> {
        self.draft_name.as_deref()
    }

    /// The modes these models can run. Token-level speculation (sd,
    /// sd+lr) needs the target in the local executor (a server exposes no
    /// verification pass); step speculation needs a draft, and models that
    /// can run several texts at once (the executor or a server).
    pub fn available_modes(&self) -> Vec<Mode> {
        let mut modes = vec![Mode::Plain];
        let local_target = self.target.executor().is_some();
        if local_target {
            modes.push(Mode::Sd);
        }
        let batches = |m: &Loaded| !matches!(m, Loaded::Mistral(_));
        if let Some(draft) = &self.draft {
            if batches(draft) && batches(&self.target) {
                modes.push(Mode::Lr);
                if local_target {
                    modes.push(Mode::SdLr);
                }
            }
        }
        modes
    }

    /// A generator over the target for plain decoding.
    fn plain_target(&mut self) -> Box<dyn StepGenerator + '_> {
        match &mut self.target {
            Loaded::Executor(exec) => Box::new(ExecutorGenerator::new(exec.clone())),
            Loaded::Mistral(m) => Box::new(BorrowedGenerator(m.as_mut())),
            Loaded::Server(server) => Box::new(server.as_ref().clone()),
        }
    }

    fn count_tokens(&mut self, prompt: &Piece) -> Result<(usize, usize)> {
        let target = self.plain_target();
        Ok((
            target.count_tokens(&Context::from(prompt.clone()))?,
            target.context_limit(),
        ))
    }

    /// Checks a question before any work (not empty, short enough that
    /// the answer still fits the context) and renders it with the earlier
    /// turns of its conversation in the model's chat template. Earlier
    /// turns are left out oldest first, a question and its answer at a
    /// time, until the prompt fits [`HISTORY_TOKEN_BUDGET`] and the context.
    pub fn prepare_prompt(
        &mut self,
        history: &[ChatTurn],
        question: &str,
        options: &AskOptions,
    ) -> Result<PreparedPrompt> {
        if question.trim().is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        let mut skip = 0;
        loop {
            let turns = options.prompt.conversation(&history[skip..], question);
            let prompt = Piece::new(self.chat.render(&turns, true)?);
            let (tokens, context) = self.count_tokens(&prompt)?;
            if options.max_answer_tokens >= context {
                // No question could fit: the limit is the thing to change.
                return Err(EngineError::InvalidOptions(format!(
                    "The answer length limit ({} tokens) leaves no room for the question: this model reads at most {context} tokens at a time. Choose a lower answer length limit (\"Longest answer\" in Settings, --max-tokens on the command line).",
                    options.max_answer_tokens
                )));
            }
            let limit = context.saturating_sub(options.max_answer_tokens);
            let history_limit = limit.min(HISTORY_TOKEN_BUDGET);
            if skip >= history.len() || tokens <= history_limit {
                if tokens > limit {
                    return Err(EngineError::PromptTooLong { tokens, limit });
                }
                return Ok(PreparedPrompt {
                    prompt,
                    tokens,
                    turns_left_out: skip,
                });
            }
            // Drop the oldest exchange: up to and including the next answer.
            skip += history[skip..]
                .iter()
                .position(|t| t.speaker == Speaker::Assistant)
                .map_or(history.len() - skip, |at| at + 1);
        }
    }

    fn judge(&mut self, choice: &JudgeChoice) -> Result<Box<dyn Judge + '_>> {
        Ok(match choice {
            JudgeChoice::Exact => Box::new(ExactJudge::new()),
            JudgeChoice::Embed { threshold } => {
                if self.embedding.is_none() {
                    let dir =
                        self.embedding_dir
                            .as_ref()
                            .ok_or_else(|| EngineError::ModelMissing {
                                role: "embedding".into(),
                                path: PathBuf::from("(none given)"),
                            })?;
                    self.embedding = Some(EmbeddingJudge::load(dir, *threshold)?);
                }
                let judge = self
                    .embedding
                    .as_mut()
                    .ok_or_else(|| EngineError::Judge("embedding model not loaded".into()))?;
                judge.set_threshold(*threshold);
                Box::new(ExactFirst::new(SameNumbers::new(BorrowedJudge(judge))))
            }
            JudgeChoice::Llm { on_target } => {
                let model = if *on_target {
                    Some(&self.target)
                } else {
                    self.draft.as_ref()
                };
                let exec = model.and_then(Loaded::executor).ok_or_else(|| {
                    EngineError::Unsupported(
                        "the LLM judge needs a model the batched executor runs".into(),
                    )
                })?;
                Box::new(ExactFirst::new(SameNumbers::new(LlmJudge::new(
                    Box::new(ExecutorGenerator::new(exec.clone())),
                    LlmJudgeSettings::default(),
                ))))
            }
        })
    }

    /// Answers `question` on its own, streaming events. A cancel returns
    /// the answer so far with status `Cancelled`.
    pub fn ask(
        &mut self,
        question: &str,
        options: &AskOptions,
        cancel: &CancelFlag,
        on_event: &mut dyn FnMut(AnswerEvent),
    ) -> Result<Answer> {
        self.ask_in(&[], question, options, cancel, on_event)
    }

    /// Answers `question` as the next turn of a conversation whose earlier
    /// turns are `history` (oldest first), streaming events.
    pub fn ask_in(
        &mut self,
        history: &[ChatTurn],
        question: &str,
        options: &AskOptions,
        cancel: &CancelFlag,
        on_event: &mut dyn FnMut(AnswerEvent),
    ) -> Result<Answer> {
        options.check()?;
        let mode = options.mode;
        if !self.available_modes().contains(&mode) {
            return Err(EngineError::Unsupported(format!(
                "mode {mode} needs {}",
                if matches!(self.target, Loaded::Server(_)) && mode.uses_token_speculation() {
                    "the main model on this computer (a server cannot check drafted tokens)"
                } else if self.draft.is_none() {
                    "a draft model"
                } else {
                    "models the batched executor can run"
                }
            )));
        }
        let prepared = self.prepare_prompt(history, question, options)?;
        let prompt = prepared.prompt;
        let prompt_tokens = prepared.tokens;
        let started = Instant::now();
        let mut first_token: Option<Instant> = None;
        // The guard's memory: step drafting that lost time in the last
        // answers with this mode and judge is paused for a few answers.
        let drafting_key = format!("{mode} {}", options.judge.label());
        let plan = (mode.uses_step_speculation() && options.slowdown_guard).then(|| {
            self.step_drafting
                .entry(drafting_key.clone())
                .or_default()
                .next_answer(options.strict_guard)
        });
        let settings = LookaheadSettings {
            gamma: options.gamma.clamp(1, 8),
            step_token_budget: options.step_token_budget,
            max_answer_tokens: options.max_answer_tokens,
            adaptive_gamma: options.adaptive_gamma,
            slowdown_guard: options.slowdown_guard,
            plain_tokens_per_s_estimate: self.plain_speed.map(|p| p.decode_tokens_per_s),
            // Only an answer that drafts steps has rounds for the guard to
            // watch.
            guard_patience: match plan {
                Some(NextAnswer::Draft { patience, .. }) => patience,
                _ => LookaheadSettings::default().guard_patience,
            },
            first_round_gamma: match plan {
                Some(NextAnswer::Draft { first_gamma, .. }) => first_gamma,
                _ => None,
            },
            correct_arithmetic: options.correct_arithmetic,
            ..LookaheadSettings::default()
        };
        let mut forward = |event: SchedulerEvent| match event {
            SchedulerEvent::Text(text) => {
                first_token.get_or_insert_with(Instant::now);
                on_event(AnswerEvent::Token { text });
            }
            SchedulerEvent::Step(step) => on_event(AnswerEvent::Step { step }),
            SchedulerEvent::Stage(stage) => on_event(AnswerEvent::Stage { stage }),
        };

        let target_exec = self.target.executor().cloned();
        let draft_exec = self.draft.as_ref().and_then(Loaded::executor).cloned();
        let speculation = SpeculationConfig {
            carry_ahead: options.carry_ahead,
            ..SpeculationConfig::default()
        };
        let mut stats = GeneratorStats::default();
        let outcome = match mode {
            Mode::Plain | Mode::Sd => {
                let mut generator: Box<dyn StepGenerator + '_> = match (mode, target_exec) {
                    (Mode::Sd, Some(target)) => match (options.sd_with_draft, draft_exec) {
                        (true, Some(draft)) => Box::new(SpeculativeGenerator::with_draft(
                            target,
                            draft,
                            speculation.clone(),
                        )?),
                        _ => Box::new(
                            SpeculativeGenerator::with_ngram(
                                target,
                                NgramConfig::default(),
                                speculation.clone(),
                            )
                            .with_earlier_answers(&options.earlier_answers)?,
                        ),
                    },
                    _ => self.plain_target(),
                };
                generator.take_stats();
                let outcome = run_plain_steps(
                    generator.as_mut(),
                    prompt,
                    &settings,
                    &options.sampling,
                    cancel,
                    &mut forward,
                )?;
                stats.merge(&generator.take_stats());
                outcome
            }
            Mode::Lr | Mode::SdLr => {
                let unsupported = || {
                    EngineError::Unsupported(
                        "Lookahead Reasoning runs on the batched executor or a server".into(),
                    )
                };
                let mut target_gen: Box<dyn StepGenerator> = match (mode, target_exec) {
                    (Mode::SdLr, Some(target)) => Box::new(
                        SpeculativeGenerator::with_ngram(
                            target,
                            NgramConfig::default(),
                            speculation.clone(),
                        )
                        .with_earlier_answers(&options.earlier_answers)?,
                    ),
                    (Mode::SdLr, None) => return Err(unsupported()),
                    _ => self.target.step_generator().ok_or_else(unsupported)?,
                };
                let outcome = if let Some(NextAnswer::Paused {
                    losses_in_a_row,
                    then_paused_for,
                }) = plan
                {
                    // The main model writes every step (with word drafting
                    // in sd+lr); the answer says why.
                    let mut outcome = run_plain_steps(
                        target_gen.as_mut(),
                        prompt,
                        &settings,
                        &options.sampling,
                        cancel,
                        &mut forward,
                    )?;
                    outcome.stats.guard_stopped = true;
                    outcome.fallback = Some(paused_reason(losses_in_a_row, then_paused_for));
                    outcome
                } else {
                    let mut draft_gen = self
                        .draft
                        .as_ref()
                        .and_then(Loaded::step_generator)
                        .ok_or_else(unsupported)?;
                    let mut judge = self.judge(&options.judge)?;
                    run_lookahead(
                        LookaheadModels {
                            draft: draft_gen.as_mut(),
                            target: target_gen.as_mut(),
                            judge: judge.as_mut(),
                        },
                        prompt,
                        &settings,
                        &options.sampling,
                        cancel,
                        &mut forward,
                    )?
                };
                stats.merge(&target_gen.take_stats());
                outcome
            }
        };

        let mut metrics = answer_metrics(prompt_tokens, &stats, started, first_token);
        metrics.generated_tokens = metrics.generated_tokens.max(outcome.stats.answer_tokens);
        if outcome.stats.answer_tokens > 0 {
            // The answer's own length, not every token any branch wrote.
            metrics.generated_tokens = outcome.stats.answer_tokens;
            metrics.tokens_per_s = rate(metrics.generated_tokens, metrics.wall_seconds);
        }
        if mode.uses_step_speculation() {
            outcome.stats.fill_metrics(&mut metrics);
        }
        metrics.speculation_stopped = outcome.fallback.clone();
        metrics.guard_stopped = outcome.stats.guard_stopped;
        if matches!(plan, Some(NextAnswer::Draft { .. }))
            && outcome.ended != LookaheadEnd::Cancelled
        {
            if let Some(record) = self.step_drafting.get_mut(&drafting_key) {
                record.after_answer(outcome.stats.guard_stopped);
            }
        }
        // Every answer is compared with plain decoding on this computer,
        // plain ones included (how this one went against the usual).
        metrics.speedup_estimate = self.plain_speed.and_then(|p| p.speedup(&metrics));

        let status = match outcome.ended {
            LookaheadEnd::Cancelled => AnswerStatus::Cancelled,
            _ if cancel.is_cancelled() => AnswerStatus::Cancelled,
            _ => AnswerStatus::Complete,
        };
        if mode == Mode::Plain && status == AnswerStatus::Complete {
            if let Some(measured) = PlainSpeed::of_answer(&metrics) {
                self.plain_speed = Some(measured);
            }
        }
        // A cut answer's last paragraph is not a conclusion: only an answer
        // the model marked counts then.
        let cut_off = outcome.ended == LookaheadEnd::TokenBudget;
        let final_answer = if cut_off {
            prompt::marked_answer(&outcome.text)
        } else {
            prompt::extract_final_answer(&outcome.text)
        };
        let answer = Answer {
            question: question.to_string(),
            final_answer,
            cut_off,
            turns_left_out: prepared.turns_left_out,
            text: outcome.text.trim_end().to_string(),
            steps: outcome.steps,
            metrics,
            status,
            mode,
            draft_model: mode
                .uses_step_speculation()
                .then(|| self.draft_name.clone())
                .flatten(),
            target_model: self.target_name.clone(),
            judge: mode.uses_step_speculation().then(|| options.judge.label()),
            gamma: mode.uses_step_speculation().then_some(settings.gamma),
        };
        on_event(AnswerEvent::Done {
            answer: Box::new(answer.clone()),
        });
        Ok(answer)
    }
}

/// Lends a generator the engine owns to code that takes a boxed one.
struct BorrowedGenerator<'a>(&'a mut dyn StepGenerator);

impl StepGenerator for BorrowedGenerator<'_> {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn count_tokens(&self, context: &Context) -> Result<usize> {
        self.0.count_tokens(context)
    }
    fn context_limit(&self) -> usize {
        self.0.context_limit()
    }
    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_token: crate::generate::TokenSink<'_>,
    ) -> Result<Vec<crate::generate::StepOutput>> {
        self.0.continue_steps(requests, sampling, cancel, on_token)
    }
    fn take_stats(&mut self) -> GeneratorStats {
        self.0.take_stats()
    }
}

/// Lends the engine's embedding judge (loaded once) to one answer.
struct BorrowedJudge<'a>(&'a mut EmbeddingJudge);

impl Judge for BorrowedJudge<'_> {
    fn name(&self) -> String {
        self.0.name()
    }
    fn judge(&mut self, target_step: &str, drafted_step: &str) -> Result<JudgeVerdict> {
        self.0.judge(target_step, drafted_step)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::JudgeChoice;
    use lookahead_domain::{JudgeKind, JudgeModel};

    #[test]
    fn a_judge_reads_back_from_its_name() {
        for judge in [
            JudgeChoice::Embed { threshold: 0.9 },
            JudgeChoice::Llm { on_target: false },
            JudgeChoice::Llm { on_target: true },
            JudgeChoice::Exact,
        ] {
            let back = JudgeChoice::parse(&judge.label(), 0.5).unwrap();
            assert_eq!(back.label(), judge.label());
        }
        assert_eq!(
            JudgeChoice::parse("embed", 0.8).unwrap().label(),
            "embed@0.80"
        );
        assert_eq!(JudgeChoice::parse("llm", 0.8).unwrap().label(), "llm:draft");
        let refused = JudgeChoice::parse("llm-target", 0.8).unwrap_err();
        assert!(refused.contains("llm:target"), "{refused}");
        assert!(JudgeChoice::parse("embed@high", 0.8).is_err());
    }

    #[test]
    fn the_app_settings_name_the_judge_that_runs() {
        let of = |kind, model| JudgeChoice::of(kind, model, 0.95).label();
        assert_eq!(of(JudgeKind::Embed, JudgeModel::Target), "embed@0.95");
        assert_eq!(of(JudgeKind::Llm, JudgeModel::Target), "llm:target");
        assert_eq!(of(JudgeKind::Llm, JudgeModel::Draft), "llm:draft");
        // "embedding" is no LLM: the LLM judge then runs on the helper.
        assert_eq!(of(JudgeKind::Llm, JudgeModel::Embedding), "llm:draft");
    }
}
