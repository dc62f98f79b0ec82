use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lookahead_engine::models::Role;
use lookahead_engine::{
    Answer, AnswerEvent, AskOptions, Backend, CancelFlag, Engine, EngineConfig, JudgeChoice, Mode,
    Sampling,
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
    #[arg(long, default_value_t = 512)]
    pub max_tokens: usize,
    /// At most this many tokens per reasoning step.
    #[arg(long, default_value_t = 100)]
    pub step_budget: usize,
    /// Do not store the question and answer in the history.
    #[arg(long)]
    pub no_save: bool,
}

impl AskArgs {
    pub fn options(&self) -> Result<AskOptions> {
        Ok(AskOptions {
            sampling: Sampling {
                temperature: self.temperature,
                top_p: self.top_p,
                seed: 0,
            },
            ..self
                .judge
                .ask_options(self.mode, self.max_tokens, self.step_budget)?
        })
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
    let config = engine_config(&args.models, args.mode)?;
    let mut engine = load_engine(&config, args.json)?;
    let cancel = CancelFlag::new();
    let json = args.json;
    let answer = engine.ask(&args.question, &options, &cancel, &mut |event| {
        if let AnswerEvent::Token { text } = event {
            if !json {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
        }
    })?;
    let saved = if args.no_save {
        None
    } else {
        Some(save(&args.question, &answer, &options)?)
    };
    if json {
        let mut value = answer_json(&answer);
        value["conversation_id"] = serde_json::json!(saved);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!();
        println!();
        println!(
            "Answer: {}",
            answer.final_answer.as_deref().unwrap_or("(none found)")
        );
        println!("{}", metrics_line(&answer));
    }
    Ok(())
}

/// Stores the question and its answer as a new conversation; returns its id.
fn save(question: &str, answer: &Answer, options: &AskOptions) -> Result<i64> {
    crate::with_store(async |store| {
        let title: String = question.trim().chars().take(60).collect();
        let conversation = store.create_conversation(&title).await?;
        store.add_user_message(conversation.id, question).await?;
        let settings = serde_json::to_value(options)?;
        store
            .save_answer(
                conversation.id,
                lookahead_store::NewAnswer {
                    start: lookahead_store::from_engine::answer_start_of(answer, settings),
                    outcome: lookahead_store::from_engine::answer_outcome(answer),
                    created_at: None,
                },
            )
            .await?;
        Ok(conversation.id)
    })
}

pub fn answer_json(answer: &Answer) -> serde_json::Value {
    serde_json::json!({
        "answer": answer.final_answer,
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
