use std::sync::atomic::{AtomicU64, Ordering};

use lookahead_engine::{
    AnswerEvent, AutoChoice, CancelFlag, EngineConfig, Mode, ModeRecord, Stage, StepRecord,
};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use ts_rs::TS;

use crate::error::{CommandError, CommandResult};
use crate::settings::Settings;
use crate::state::AppState;
use crate::views::MessageView;
use crate::worker::PrepareEvent;
use lookahead_ask::{AskService, Shown};

/// Streamed to the UI while an answer is written.
#[derive(Serialize, Clone, Debug, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AskEvent {
    Started {
        request_id: String,
        conversation_id: i64,
        /// The conversation's title (a new one's comes from the question).
        title: String,
    },
    /// The models are being loaded before the answer starts.
    Loading {
        model: String,
        #[ts(type = "ModelRole")]
        role: String,
        index: usize,
        count: usize,
    },
    Token {
        text: String,
    },
    Step {
        step: StepRecord,
    },
    /// What the engine is doing now ("Writing step 3…").
    Stage {
        stage: Stage,
    },
    Done {
        answer: Box<MessageView>,
    },
    Error {
        error: CommandError,
    },
}

#[derive(Serialize, Clone, Debug, TS)]
pub struct AskResult {
    pub conversation_id: i64,
    pub message_id: i64,
    pub request_id: String,
}

fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let millis = chrono::Utc::now().timestamp_millis();
    format!("r{millis}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Modes the installed models allow: "auto" never picks a mode whose model
/// is missing (a chosen mode still runs, and names the missing file).
/// With the main model on a server, word drafting (sd, sd+lr) is not
/// possible (it needs to check drafted words inside the model).
fn available_modes(settings: &Settings) -> Vec<Mode> {
    let mut modes = vec![Mode::Plain];
    let on_server = settings.target_server().is_some();
    let draft = settings.draft_server().is_some() || settings.draft_path().exists();
    if !on_server && (draft || settings.sd_proposer == lookahead_domain::SdProposer::Ngram) {
        modes.push(Mode::Sd);
    }
    if draft {
        let judge_ready = settings.judge_kind == lookahead_domain::JudgeKind::Llm
            || lookahead_models::path_for_role(lookahead_models::Role::Embedding).exists();
        if judge_ready {
            modes.push(Mode::Lr);
            if !on_server {
                modes.push(Mode::SdLr);
            }
        }
    }
    modes
}

/// What this computer has measured of each mode with the models these
/// settings use, for "auto" (a fixed mode needs none).
async fn measured_modes(
    store: &lookahead_store::Store,
    settings: &Settings,
) -> CommandResult<Vec<ModeRecord>> {
    if settings.mode != lookahead_domain::ModeChoice::Auto {
        return Ok(Vec::new());
    }
    let name = |p: &std::path::Path| lookahead_engine::gguf_info::model_name(p);
    let (target, draft) = (settings.target_name(), name(&settings.draft_path()));
    let judge = settings.judge_label(Mode::Lr);
    let models = lookahead_store::ModelSet {
        target: &target,
        draft: Some(&draft),
        judge: judge.as_deref(),
    };
    Ok(AskService::new(store.clone())
        .measured_modes(&models)
        .await?)
}

/// How the next answer will run: the mode and the models to load.
struct Plan {
    choice: AutoChoice,
    config: EngineConfig,
}

async fn plan(store: &lookahead_store::Store, settings: &Settings) -> CommandResult<Plan> {
    let choice = settings.resolved_mode(
        &available_modes(settings),
        &measured_modes(store, settings).await?,
    );
    Ok(Plan {
        choice,
        config: settings.engine_config(choice.mode),
    })
}

/// Gets the models the next answer needs ready before the question: loads
/// them and, the first time a target runs on this computer, measures its
/// plain speed (kept in the store). Progress streams on `on_event`. Called
/// by the app at start and after the settings change.
#[tauri::command(rename_all = "snake_case")]
pub async fn engine_prepare(
    state: State<'_, AppState>,
    settings: Option<Settings>,
    on_event: Channel<PrepareEvent>,
) -> CommandResult<()> {
    let settings = match settings {
        Some(s) => state.with_server_key(s),
        None => state.settings().await?,
    };
    settings.validate()?;
    let store = state.store().await?;
    let plan = plan(&store, &settings).await?;
    let target_name = plan.config.target_name();
    let usual = AskService::new(store.clone())
        .usual_speed(&target_name)
        .await?;
    let events = on_event.clone();
    let measured = state
        .worker
        .prepare(
            plan.config,
            usual,
            Box::new(move |event| {
                let _ = events.send(event);
            }),
        )
        .await?;
    if let Some(speed) = measured {
        store.save_plain_calibration(&target_name, &speed).await?;
    }
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
pub async fn ask(
    state: State<'_, AppState>,
    conversation_id: Option<i64>,
    question: String,
    settings: Option<Settings>,
    on_event: Channel<AskEvent>,
) -> CommandResult<AskResult> {
    let settings = match settings {
        Some(s) => state.with_server_key(s),
        None => state.settings().await?,
    };
    settings.validate()?;
    if question.trim().is_empty() {
        return Err(lookahead_engine::EngineError::EmptyPrompt.into());
    }
    let store = state.store().await?;
    let plan = plan(&store, &settings).await?;
    let mode = plan.choice.mode;
    let config = plan.config;
    let mut options = settings.ask_options(plan.choice);
    let service = AskService::new(store.clone());

    // While this answer is written, another process opening the history
    // (the command line) leaves it alone instead of marking it interrupted.
    let _answering = store.answering().ok();
    // A follow-up sees the conversation so far; the question and the
    // answer's row are saved together before any work: a failure here
    // loses nothing the user has seen.
    let started = service
        .begin(
            conversation_id,
            &question,
            lookahead_ask::answer_start(
                mode,
                &config,
                settings.judge_label(mode),
                serde_json::to_value(&settings).unwrap_or_default(),
            ),
        )
        .await?;
    let conversation_id = started.conversation_id;
    // Word drafting also looks in this computer's recent answers.
    options.earlier_answers = started.earlier_answers.clone();

    let request_id = new_request_id();
    let cancel = CancelFlag::new();
    state.register(&request_id, cancel.clone());
    let _ = on_event.send(AskEvent::Started {
        request_id: request_id.clone(),
        conversation_id,
        title: started.title.clone(),
    });

    // What the user has seen so far is saved about once a second, so a
    // crash keeps it (the finished answer replaces it); the steps settled
    // so far are kept if the answer fails part-way.
    let shown = Shown::default();
    let saving = service.keep_saving(&started, shown.clone());
    let observed = shown.clone();
    let events = on_event.clone();
    let loading = on_event.clone();
    let result = state
        .worker
        .ask(
            config,
            started.history.clone(),
            question,
            options,
            started.usual,
            cancel,
            Box::new(move |event| {
                observed.observe(&event);
                let forwarded = match event {
                    AnswerEvent::Token { text } => AskEvent::Token { text },
                    AnswerEvent::Step { step } => AskEvent::Step { step },
                    AnswerEvent::Stage { stage } => AskEvent::Stage { stage },
                    // The stored answer is sent instead, once saved.
                    AnswerEvent::Done { .. } => return,
                };
                let _ = events.send(forwarded);
            }),
            Box::new(move |event| {
                if let PrepareEvent::Loading {
                    model,
                    role,
                    index,
                    count,
                } = event
                {
                    let _ = loading.send(AskEvent::Loading {
                        model,
                        role,
                        index,
                        count,
                    });
                }
            }),
        )
        .await;
    state.unregister(&request_id);
    drop(saving);

    let saved = service.finish(&started, result.as_ref(), &shown).await?;
    if let Err(error) = result {
        let error = CommandError::from(error);
        let _ = on_event.send(AskEvent::Error {
            error: error.clone(),
        });
        return Err(error);
    }
    let _ = on_event.send(AskEvent::Done {
        answer: Box::new(MessageView::from(&saved)),
    });
    Ok(AskResult {
        conversation_id,
        message_id: started.message_id,
        request_id,
    })
}

#[tauri::command(rename_all = "snake_case")]
pub async fn cancel(state: State<'_, AppState>, request_id: String) -> CommandResult<()> {
    state.cancel(&request_id);
    Ok(())
}
