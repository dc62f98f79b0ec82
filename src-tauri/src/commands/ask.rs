use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lookahead_engine::{
    AnswerEvent, AutoChoice, CancelFlag, EngineConfig, Mode, ModeRecord, PlainSpeed, Stage,
    StepRecord,
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
use lookahead_store::AnswerOutcome;

/// Streamed to the UI while an answer is written.
#[derive(Serialize, Clone, Debug, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AskEvent {
    Started {
        request_id: String,
        conversation_id: i64,
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

/// A conversation title from its first question: the first line, cut at a
/// word boundary.
fn title_for(question: &str) -> String {
    let line = question.trim().lines().next().unwrap_or("").trim();
    if line.chars().count() <= 60 {
        return line.to_string();
    }
    let cut: String = line.chars().take(60).collect();
    match cut.rfind(' ') {
        Some(at) if at > 20 => format!("{}…", &cut[..at]),
        _ => format!("{cut}…"),
    }
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
    // The latest few answers per mode: recent enough to follow a change
    // of machine load, enough to smooth out question lengths.
    let speeds = store.speed_by_mode(&models, 5).await?;
    Ok(speeds
        .into_iter()
        .filter_map(|s| {
            Some(ModeRecord {
                mode: s.mode.as_str().parse().ok()?,
                answers: usize::try_from(s.total_answers).unwrap_or(0),
                mean_speedup: s.mean_speedup,
            })
        })
        .collect())
}

/// How the next answer will run: the mode, the models to load and the
/// plain speed it is compared with.
struct Plan {
    choice: AutoChoice,
    config: EngineConfig,
    target_name: String,
    plain_speed: Option<PlainSpeed>,
}

async fn plan(store: &lookahead_store::Store, settings: &Settings) -> CommandResult<Plan> {
    let choice = settings.resolved_mode(
        &available_modes(settings),
        &measured_modes(store, settings).await?,
    );
    let target_name = settings.target_name();
    let plain_speed = store.plain_speed(&target_name, 5).await?;
    Ok(Plan {
        choice,
        config: settings.engine_config(choice.mode),
        target_name,
        plain_speed,
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
    let events = on_event.clone();
    let measured = state
        .worker
        .prepare(
            plan.config,
            plan.plain_speed,
            Box::new(move |event| {
                let _ = events.send(event);
            }),
        )
        .await?;
    if let Some(speed) = measured {
        store
            .save_plain_calibration(&plan.target_name, &speed)
            .await?;
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
    let options = settings.ask_options(plan.choice);

    // A follow-up sees the conversation so far (read before the new
    // question is added to it).
    let history = match conversation_id {
        Some(id) => store.get_conversation(id).await?.chat_turns(),
        None => Vec::new(),
    };
    let title = title_for(&question);
    // While this answer is written, another process opening the history
    // (the command line) leaves it alone instead of marking it interrupted.
    let _answering = store.answering().ok();
    // The question and the answer's row are saved together before any
    // work: a failure here loses nothing the user has seen.
    let (conversation_id, _, message_id) = store
        .start_answer(
            conversation_id.ok_or(title.as_str()),
            &question,
            lookahead_store::AnswerStart {
                mode,
                draft_model: config.draft_name(),
                target_model: Some(config.target_name()),
                judge_model: settings.judge_label(mode),
                settings: serde_json::to_value(&settings).unwrap_or_default(),
            },
        )
        .await?;

    let request_id = new_request_id();
    let cancel = CancelFlag::new();
    state.register(&request_id, cancel.clone());
    let _ = on_event.send(AskEvent::Started {
        request_id: request_id.clone(),
        conversation_id,
    });

    // What the user has seen so far is saved about once a second, so a
    // crash keeps it (the finished answer replaces it).
    let shown = Arc::new(Mutex::new(String::new()));
    let saver = keep_saving(store.clone(), message_id, shown.clone());
    let streamed = shown.clone();
    // Steps settled so far, kept if the answer fails part-way.
    let settled: Arc<Mutex<Vec<StepRecord>>> = Arc::default();
    let settling = settled.clone();
    let events = on_event.clone();
    let loading = on_event.clone();
    let result = state
        .worker
        .ask(
            config,
            history,
            question,
            options,
            plan.plain_speed,
            cancel,
            Box::new(move |event| {
                let forwarded = match event {
                    AnswerEvent::Token { text } => {
                        if let Ok(mut shown) = streamed.lock() {
                            shown.push_str(&text);
                        }
                        AskEvent::Token { text }
                    }
                    AnswerEvent::Step { step } => {
                        if let Ok(mut steps) = settling.lock() {
                            steps.retain(|s| s.index != step.index);
                            steps.push(step.clone());
                        }
                        AskEvent::Step { step }
                    }
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
    saver.abort();

    let outcome = match &result {
        Ok(answer) => AnswerOutcome::of(answer),
        Err(error) => AnswerOutcome::failed(
            error.user_message(),
            matches!(error, lookahead_engine::EngineError::Cancelled),
            &shown.lock().map(|s| s.clone()).unwrap_or_default(),
            &settled.lock().map(|s| s.clone()).unwrap_or_default(),
        ),
    };
    store.finish_answer(message_id, outcome).await?;

    if let Err(error) = result {
        let error = CommandError::from(error);
        let _ = on_event.send(AskEvent::Error {
            error: error.clone(),
        });
        return Err(error);
    }
    let detail = store.get_conversation(conversation_id).await?;
    if let Some(message) = detail.messages.iter().find(|m| m.message.id == message_id) {
        let _ = on_event.send(AskEvent::Done {
            answer: Box::new(MessageView::from(message)),
        });
    }
    Ok(AskResult {
        conversation_id,
        message_id,
        request_id,
    })
}

/// Saves `shown` as the answer's text whenever it has grown, once a second,
/// until aborted.
fn keep_saving(
    store: lookahead_store::Store,
    message_id: i64,
    shown: Arc<Mutex<String>>,
) -> tauri::async_runtime::JoinHandle<()> {
    tauri::async_runtime::spawn(async move {
        let mut saved = 0;
        loop {
            tokio::time::sleep(SAVE_EVERY).await;
            let text = match shown.lock() {
                Ok(text) if text.len() != saved => text.clone(),
                _ => continue,
            };
            if store.update_answer_text(message_id, &text).await.is_ok() {
                saved = text.len();
            }
        }
    })
}

/// How often the text of an answer being written is saved.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

#[tauri::command(rename_all = "snake_case")]
pub async fn cancel(state: State<'_, AppState>, request_id: String) -> CommandResult<()> {
    state.cancel(&request_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::title_for;

    #[test]
    fn titles_are_short_first_lines() {
        assert_eq!(title_for("  How many?\nmore"), "How many?");
        let long = "word ".repeat(30);
        let title = title_for(&long);
        assert!(title.ends_with('…'));
        assert!(title.chars().count() <= 61);
    }
}
