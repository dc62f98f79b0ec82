use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lookahead_engine::models::Role;
use lookahead_engine::{
    Answer, AnswerEvent, AskOptions, Backend, CancelFlag, ChatTurn, Engine, EngineConfig,
    JudgeChoice, Mode, PromptStyle, Sampling, DEFAULT_MAX_ANSWER_TOKENS,
};

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
}

/// How Lookahead Reasoning judges drafted steps.
#[derive(Args, Clone)]
pub struct JudgeArgs {
    /// Judge for lr and sd+lr: embed, llm (on the draft), llm-target, exact.
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
    pub proposer: String,
    /// How the question is put to the model: standard (the model's own
    /// system prompt and its standard step-by-step instruction), steps (the
    /// same, asking for a blank line between steps) or short (one short
    /// sentence per step, the first releases' prompt).
    #[arg(long, default_value = "standard")]
    pub prompt: PromptStyle,
    /// Turn off the calculator in the loop, which replaces a wrong result
    /// the model writes ("13 × 4 = 54") by the exact value before it goes
    /// on (on by default, as in the app: it measured better on GSM8K).
    #[arg(long)]
    pub no_calculator: bool,
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
            sd_with_draft: self.sd_with_draft()?,
            prompt: self.prompt,
            correct_arithmetic: !self.no_calculator,
            strict_guard: false,
        })
    }

    /// Whether sd mode's proposer is the draft model.
    pub fn sd_with_draft(&self) -> Result<bool> {
        match self.proposer.as_str() {
            "draft" => Ok(true),
            "ngram" => Ok(false),
            other => anyhow::bail!("unknown proposer \"{other}\" (expected draft or ngram)"),
        }
    }

    pub fn choice(&self) -> Result<JudgeChoice> {
        Ok(match self.judge.as_str() {
            "embed" => JudgeChoice::Embed {
                threshold: self.threshold,
            },
            "llm" => JudgeChoice::Llm { on_target: false },
            "llm-target" => JudgeChoice::Llm { on_target: true },
            "exact" => JudgeChoice::Exact,
            other => anyhow::bail!(
                "unknown judge \"{other}\" (expected embed, llm, llm-target or exact)"
            ),
        })
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
    let target = match &models.target {
        Some(path) => path.clone(),
        None => crate::models::require(Role::Target)?,
    };
    let draft = if mode == Mode::Plain {
        None
    } else {
        Some(match &models.draft {
            Some(path) => path.clone(),
            None => crate::models::require(Role::Draft)?,
        })
    };
    Ok(EngineConfig {
        backend: models.backend,
        ..EngineConfig::new(target, draft)
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
    let (conversation, history) = earlier_turns(&args)?;
    let config = engine_config(&args.models, args.mode)?;
    let mut engine = load_engine(&config, args.json)?;
    if !args.no_save {
        // The speed-up is against this computer's usual plain speed, as the
        // app keeps it (none yet: the answer carries no estimate).
        let target = engine.target_name().to_string();
        let usual = crate::with_store(async |store| Ok(store.plain_speed(&target, 5).await?));
        engine.set_plain_speed(usual.ok().flatten());
    }
    let cancel = CancelFlag::new();
    let json = args.json;
    let answer = engine.ask_in(&history, &args.question, &options, &cancel, &mut |event| {
        if json {
            return;
        }
        match event {
            AnswerEvent::Token { text } => {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            AnswerEvent::Step { step } => {
                for fix in step.arithmetic.iter().filter(|c| !c.correct) {
                    eprintln!("\n[calculator: {}]", fix.describe());
                }
            }
            AnswerEvent::Done { .. } | AnswerEvent::Stage { .. } => {}
        }
    })?;
    let saved = if args.no_save {
        None
    } else {
        Some(save(conversation, &args.question, &answer, &options)?)
    };
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
            answer.final_answer.as_deref().unwrap_or("(none found)")
        );
        println!("{}", metrics_line(&answer));
    }
    Ok(())
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

/// The conversation a follow-up continues and its earlier turns (none for
/// a new question).
fn earlier_turns(args: &AskArgs) -> Result<(Option<i64>, Vec<ChatTurn>)> {
    if !args.continue_last && args.conversation.is_none() {
        return Ok((None, Vec::new()));
    }
    crate::with_store(async |store| {
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
        let detail = store.get_conversation(id).await?;
        Ok((
            Some(id),
            lookahead_store::from_engine::chat_history(&detail),
        ))
    })
}

/// Stores the question and its answer, in `conversation` or a new one;
/// returns the conversation's id.
fn save(
    conversation: Option<i64>,
    question: &str,
    answer: &Answer,
    options: &AskOptions,
) -> Result<i64> {
    crate::with_store(async |store| {
        let id = match conversation {
            Some(id) => id,
            None => {
                let title: String = question.trim().chars().take(60).collect();
                store.create_conversation(&title).await?.id
            }
        };
        store.add_user_message(id, question).await?;
        let settings = serde_json::to_value(options)?;
        store
            .save_answer(
                id,
                lookahead_store::NewAnswer {
                    start: lookahead_store::from_engine::answer_start_of(answer, settings),
                    outcome: lookahead_store::from_engine::answer_outcome(answer),
                    created_at: None,
                },
            )
            .await?;
        Ok(id)
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
