use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lookahead_ask::{AskService, Shown, Started};
use lookahead_domain::SdProposer;
use lookahead_engine::ServerConfig;
use lookahead_engine::{
    Answer, AnswerEvent, AskOptions, Backend, CancelFlag, ChatTurn, Engine, EngineConfig,
    EngineError, JudgeChoice, Mode, PromptStyle, Sampling, DEFAULT_MAX_ANSWER_TOKENS,
};
use lookahead_models::Role;

#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Target model file (default: the installed target).
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Draft model file (default: the installed draft; needed by sd, lr, sd+lr).
    #[arg(long)]
    pub draft: Option<PathBuf>,
    /// What runs the models: auto (the batched executor, else mistral.rs),
    /// executor or mistralrs.
    #[arg(long = "engine", default_value = "auto")]
    pub backend: Backend,
    /// The target on an inference server (llama.cpp's llama-server, vLLM,
    /// mistral.rs: any OpenAI-compatible API), e.g. http://gpu-box:8000.
    /// An API key, if the server needs one, is read from LOOKAHEAD_SERVER_KEY.
    #[arg(long, value_name = "URL")]
    pub target_server: Option<String>,
    /// The target's model name on that server (default: the first it serves).
    #[arg(long, value_name = "NAME", requires = "target_server")]
    pub target_name: Option<String>,
    /// The draft on an inference server (for lr; sd needs a local target).
    #[arg(long, value_name = "URL")]
    pub draft_server: Option<String>,
    /// The draft's model name on that server.
    #[arg(long, value_name = "NAME", requires = "draft_server")]
    pub draft_name: Option<String>,
}

/// How Lookahead Reasoning judges drafted steps.
#[derive(Args, Clone)]
pub struct JudgeArgs {
    /// Judge for lr and sd+lr, named as answers record it: embed (at
    /// --threshold), llm:draft (also llm), llm:target, exact.
    #[arg(long, default_value = "embed")]
    pub judge: String,
    /// Cosine threshold of the embedding judge.
    #[arg(long, default_value_t = 0.95)]
    pub threshold: f64,
    /// Look-ahead depth γ (steps drafted per round).
    #[arg(long, default_value_t = 4)]
    pub gamma: usize,
    /// Keep γ fixed instead of following the acceptance rate.
    #[arg(long)]
    pub fixed_gamma: bool,
    /// Keep step speculation on even when it runs slower than plain
    /// decoding (to measure it; the app always guards).
    #[arg(long)]
    pub no_guard: bool,
    /// What guesses tokens in sd mode: ngram (repeats of earlier text: no
    /// model, almost free; the app's default) or draft (the draft model).
    #[arg(long, default_value = "ngram")]
    pub proposer: SdProposer,
    /// How the question is put to the model: system (the standard
    /// step-by-step instruction as the system prompt, the question alone:
    /// the default, the most accurate on GSM8K), standard (the model's own
    /// system prompt, the instruction after the question), steps (standard,
    /// asking for a blank line between steps), short (one short sentence
    /// per step, the first releases' prompt) or worked (standard, after two
    /// worked examples as earlier turns).
    #[arg(long, default_value = "system")]
    pub prompt: PromptStyle,
    /// Turn off the calculator in the loop, which replaces a wrong result
    /// the model writes ("13 × 4 = 54") by the exact value before it goes
    /// on (on by default, as in the app: it measured better on GSM8K).
    #[arg(long)]
    pub no_calculator: bool,
    /// Turn off handing the words word drafting checked past a step's end
    /// to the next step (on by default; off only to measure what it saves).
    #[arg(long)]
    pub no_carry_ahead: bool,
}

impl JudgeArgs {
    /// Engine options for `mode` with these speculation settings (greedy
    /// sampling); an unknown judge or proposer is an error.
    pub fn ask_options(
        &self,
        mode: Mode,
        max_answer_tokens: usize,
        step_token_budget: usize,
    ) -> Result<AskOptions> {
        Ok(AskOptions {
            mode,
            sampling: Sampling::default(),
            max_answer_tokens,
            step_token_budget,
            gamma: self.gamma,
            judge: self.choice()?,
            adaptive_gamma: !self.fixed_gamma,
            slowdown_guard: !self.no_guard,
            sd_with_draft: self.sd_with_draft(),
            prompt: self.prompt,
            correct_arithmetic: !self.no_calculator,
            strict_guard: false,
            earlier_answers: Vec::new(),
            carry_ahead: !self.no_carry_ahead,
        })
    }

    /// Whether sd mode's proposer is the draft model.
    pub fn sd_with_draft(&self) -> bool {
        self.proposer == SdProposer::Draft
    }

    pub fn choice(&self) -> Result<JudgeChoice> {
        JudgeChoice::parse(&self.judge, self.threshold).map_err(anyhow::Error::msg)
    }
}

#[derive(Args)]
pub struct AskArgs {
    /// The question.
    pub question: String,
    #[arg(long, default_value = "plain")]
    pub mode: Mode,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// Print one JSON object (answer, steps, metrics) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Sampling temperature (0 = greedy, reproducible).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// At most this many tokens in the answer.
    #[arg(long, default_value_t = DEFAULT_MAX_ANSWER_TOKENS)]
    pub max_tokens: usize,
    /// At most this many tokens per reasoning step.
    #[arg(long, default_value_t = 100)]
    pub step_budget: usize,
    /// Do not store the question and answer in the history.
    #[arg(long)]
    pub no_save: bool,
    /// Ask a follow-up in the most recent conversation (the model sees
    /// its earlier questions and answers).
    #[arg(long = "continue", conflicts_with = "conversation")]
    pub continue_last: bool,
    /// Ask a follow-up in this conversation (an id from `history list`).
    #[arg(long)]
    pub conversation: Option<i64>,
}

impl AskArgs {
    pub fn options(&self) -> Result<AskOptions> {
        let options = AskOptions {
            sampling: Sampling {
                temperature: self.temperature,
                top_p: self.top_p,
                seed: 0,
            },
            ..self
                .judge
                .ask_options(self.mode, self.max_tokens, self.step_budget)?
        };
        options
            .check()
            .map_err(|e| anyhow::anyhow!("{}", e.user_message()))?;
        Ok(options)
    }
}

/// The engine configuration for a mode: the draft is loaded only when the
/// mode uses it.
pub fn engine_config(models: &ModelArgs, mode: Mode) -> Result<EngineConfig> {
    let server = |url: &Option<String>, name: &Option<String>| {
        url.as_ref()
            .map(|url| ServerConfig::new(url.clone(), name.clone()))
    };
    let target_server = server(&models.target_server, &models.target_name);
    let draft_server = server(&models.draft_server, &models.draft_name);
    let target = match (&models.target, &target_server) {
        (Some(path), _) => path.clone(),
        (None, Some(_)) => PathBuf::new(),
        (None, None) => crate::models::require(Role::Target)?,
    };
    let draft = if mode == Mode::Plain || draft_server.is_some() {
        None
    } else {
        Some(match &models.draft {
            Some(path) => path.clone(),
            None => crate::models::require(Role::Draft)?,
        })
    };
    Ok(EngineConfig {
        backend: models.backend,
        target_server,
        draft_server: draft_server.filter(|_| mode != Mode::Plain),
        ..EngineConfig::new(target, draft)
            .with_embedding(lookahead_models::path_for_role(Role::Embedding))
    })
}

pub fn load_engine(config: &EngineConfig, quiet: bool) -> Result<Engine> {
    Ok(Engine::load(config, &mut |p| {
        if !quiet && !p.done {
            eprintln!("loading {} model {} ...", p.role, p.model);
        }
    })?)
}

pub fn run(args: AskArgs) -> Result<()> {
    // Bad options are reported before seconds of model loading.
    let options = args.options()?;
    if args.question.trim().is_empty() {
        anyhow::bail!(
            "{}",
            lookahead_engine::EngineError::EmptyPrompt.user_message()
        );
    }
    let (conversation, mut history) = earlier_turns(&args)?;
    let config = engine_config(&args.models, args.mode)?;

    // The question is saved before any work, with its answer's row; the
    // answer is filled in at the end, also when it is stopped or fails. If
    // the history cannot be written, the answer is still shown.
    let mut save_error: Option<anyhow::Error> = None;
    // While this answer is written, another process opening the history
    // (the app) leaves it alone instead of marking it interrupted.
    let _answering = (!args.no_save)
        .then(|| lookahead_store::default_db_path().ok())
        .flatten()
        .and_then(|db| lookahead_store::Store::answering_at(&db).ok());
    let started = if args.no_save {
        None
    } else {
        match begin(conversation, &args.question, &config, &options) {
            Ok(started) => Some(started),
            Err(error) => {
                let why = error
                    .downcast_ref::<lookahead_store::StoreError>()
                    .map_or_else(|| format!("{error:#}"), |e| e.user_message());
                eprintln!("Note: {why}\nThe answer will be shown but not saved.");
                save_error = Some(error);
                // A follow-up still needs its conversation: read it without
                // writing, or stop rather than answer it out of context.
                if let (Some(id), true) = (conversation, history.is_empty()) {
                    history = crate::open_store(true, async |store| {
                        Ok(store.get_conversation(id).await?.chat_turns())
                    })
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "This follow-up needs the earlier conversation, and the history could not be read: {e:#}"
                        )
                    })?;
                }
                None
            }
        }
    };

    // Ctrl-C stops the answer (what was written is kept and saved); a
    // second Ctrl-C quits at once.
    let cancel = CancelFlag::new();
    let _ = signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        130,
        cancel.shared(),
    );
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, cancel.shared());

    let json = args.json;
    let shown = Shown::default();
    let result = load_engine(&config, args.json).and_then(|mut engine| {
        // The speed-up is against this computer's usual plain speed, as
        // the app keeps it (none yet: the answer carries no estimate).
        engine.set_plain_speed(started.as_ref().and_then(|s| s.usual));
        let history = started.as_ref().map_or(&history, |s| &s.history);
        // Word drafting also looks in this computer's recent answers.
        let options = AskOptions {
            earlier_answers: started
                .as_ref()
                .map(|s| s.earlier_answers.clone())
                .unwrap_or_default(),
            ..options.clone()
        };
        Ok(
            engine.ask_in(history, &args.question, &options, &cancel, &mut |event| {
                shown.observe(&event);
                if json {
                    return;
                }
                match event {
                    AnswerEvent::Token { text } => {
                        print!("{}", crate::history::printable(&text));
                        let _ = std::io::stdout().flush();
                    }
                    AnswerEvent::Step { step } => {
                        for fix in step.arithmetic.iter().filter(|c| !c.correct) {
                            eprintln!("\n[calculator: {}]", fix.describe());
                        }
                    }
                    AnswerEvent::Done { .. } | AnswerEvent::Stage { .. } => {}
                }
            })?,
        )
    });

    if let Some(started) = &started {
        // An error that is not the engine's (it stopped before answering)
        // is saved in the engine's words for a failed answer.
        let other;
        let failure = match &result {
            Ok(answer) => Ok(answer),
            Err(error) => Err(match error.downcast_ref::<EngineError>() {
                Some(e) => e,
                None => {
                    other = EngineError::Generation(format!("{error:#}"));
                    &other
                }
            }),
        };
        if let Err(error) = crate::with_store(async |store| {
            AskService::new(store.clone())
                .finish(started, failure, &shown)
                .await?;
            Ok(())
        }) {
            save_error = Some(error);
        }
    }
    let answer = result?;
    let saved = started
        .as_ref()
        .filter(|_| save_error.is_none())
        .map(|s| s.conversation_id);
    if json {
        let mut value = answer_json(&answer);
        value["conversation_id"] = serde_json::json!(saved);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!();
        println!();
        for note in answer_notes(&answer) {
            println!("({note})");
        }
        println!(
            "Answer: {}",
            crate::history::printable(answer.final_answer.as_deref().unwrap_or("(none found)"))
        );
        println!("{}", metrics_line(&answer));
    }
    if let Some(error) = save_error {
        return Err(error.context("the answer above could not be saved in the history"));
    }
    if answer.status == lookahead_engine::AnswerStatus::Cancelled {
        eprintln!("Stopped. What was written so far is saved in the history.");
        std::process::exit(130);
    }
    Ok(())
}

/// Saves the question and its answer's row (one transaction), in
/// `conversation` or a new one, through the service the app uses too.
fn begin(
    conversation: Option<i64>,
    question: &str,
    config: &EngineConfig,
    options: &AskOptions,
) -> Result<Started> {
    let start = lookahead_ask::answer_start(
        options.mode,
        config,
        options
            .mode
            .uses_step_speculation()
            .then(|| options.judge.label()),
        serde_json::to_value(options)?,
    );
    crate::with_store(async |store| {
        Ok(AskService::new(store.clone())
            .begin(conversation, question, start)
            .await?)
    })
}

/// What a reader should know about an answer besides its text: a cut-off,
/// earlier turns left out.
pub fn answer_notes(answer: &Answer) -> Vec<String> {
    let mut notes = Vec::new();
    if answer.turns_left_out > 0 {
        notes.push(format!(
            "The {} oldest turns of this conversation were left out to fit the model's memory.",
            answer.turns_left_out
        ));
    }
    if answer.cut_off {
        notes.push(
            "The answer was cut off at the length limit (--max-tokens) before the model finished."
                .to_string(),
        );
    }
    notes
}

/// The conversation a follow-up continues and, when the answer is not
/// saved, its earlier turns (none for a new question).
fn earlier_turns(args: &AskArgs) -> Result<(Option<i64>, Vec<ChatTurn>)> {
    if !args.continue_last && args.conversation.is_none() {
        return Ok((None, Vec::new()));
    }
    // Only reading: works while another program writes the history.
    crate::open_store(true, async |store| {
        let id = match args.conversation {
            Some(id) => id,
            None => store
                .list_conversations()
                .await?
                .into_iter()
                .max_by_key(|c| (c.updated_at, c.id))
                .map(|c| c.id)
                .ok_or_else(|| anyhow::anyhow!("there is no earlier conversation to continue"))?,
        };
        // Saving reads them with the question (AskService::begin); without
        // saving they are read here.
        let turns = if args.no_save {
            store.get_conversation(id).await?.chat_turns()
        } else {
            Vec::new()
        };
        Ok((Some(id), turns))
    })
}

pub fn answer_json(answer: &Answer) -> serde_json::Value {
    serde_json::json!({
        "answer": answer.final_answer,
        "cut_off": answer.cut_off,
        "turns_left_out": answer.turns_left_out,
        "text": answer.text,
        "status": answer.status,
        "mode": answer.mode,
        "target_model": answer.target_model,
        "draft_model": answer.draft_model,
        "judge": answer.judge,
        "steps": answer.steps,
        "metrics": answer.metrics,
    })
}

pub fn metrics_line(answer: &Answer) -> String {
    let m = &answer.metrics;
    let mut line = format!(
        "[{}] {} steps, {} tokens in {:.1} s ({:.1} tok/s; prefill {:.1} tok/s, decode {:.1} tok/s, first token after {:.2} s)",
        answer.mode,
        answer.steps.len(),
        m.generated_tokens,
        m.wall_seconds,
        m.tokens_per_s,
        m.prefill_tokens_per_s,
        m.decode_tokens_per_s,
        m.time_to_first_token_s
    );
    if let (Some(rate), Some(len)) = (m.token_acceptance_rate, m.mean_acceptance_length) {
        line.push_str(&format!(
            "; tokens accepted {:.0}%, mean acceptance length {len:.2}",
            rate * 100.0
        ));
    }
    if let (Some(rate), Some(acc), Some(drafted)) =
        (m.step_acceptance_rate, m.accepted_steps, m.drafted_steps)
    {
        line.push_str(&format!(
            "; steps kept {acc}/{drafted} ({:.0}%)",
            rate * 100.0
        ));
    }
    line
}
