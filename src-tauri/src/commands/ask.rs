use std::sync::atomic::{AtomicU64, Ordering};

use lookahead_engine::{AnswerEvent, CancelFlag, Mode, StepRecord};
use lookahead_store::{AnswerOutcome, MessageStatus};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::settings::{MeasuredSpeed, Settings};
use crate::state::AppState;
use crate::views::MessageView;

/// Streamed to the UI while an answer is written.
#[derive(Serialize, Clone, Debug)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AskEvent {
    Started {
        request_id: String,
        conversation_id: i64,
    },
    Token {
        text: String,
    },
    Step {
        step: StepRecord,
    },
    Done {
        answer: Box<MessageView>,
    },
    Error {
        error: CommandError,
    },
}

#[derive(Serialize, Clone, Debug)]
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
fn available_modes(settings: &Settings) -> Vec<Mode> {
    let mut modes = vec![Mode::Plain];
    if settings.draft_path().exists() {
        let judge_ready = settings.judge_kind == "llm"
            || lookahead_engine::models::path_for_role(lookahead_engine::models::Role::Embedding)
                .exists();
        modes.extend(
            lookahead_engine::AVAILABLE_MODES
                .iter()
                .copied()
                .filter(|m| *m != Mode::Plain)
                .filter(|m| judge_ready || !m.uses_step_speculation()),
        );
    }
    modes
}

/// Recent speeds of each mode with the models these settings use, for
/// "auto" (a fixed mode needs none).
async fn measured_speeds(
    store: &lookahead_store::Store,
    settings: &Settings,
) -> CommandResult<Vec<MeasuredSpeed>> {
    if settings.mode != "auto" {
        return Ok(Vec::new());
    }
    let name = |p: &std::path::Path| lookahead_engine::gguf_info::model_name(p);
    let (target, draft) = (name(&settings.target_path()), name(&settings.draft_path()));
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
            Some(MeasuredSpeed {
                mode: s.mode.as_str().parse().ok()?,
                answers: s.answers,
                tokens_per_s: s.tokens_per_s,
            })
        })
        .collect())
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
        Some(s) => s,
        None => state.settings().await?,
    };
    settings.validate()?;
    if question.trim().is_empty() {
        return Err(lookahead_engine::EngineError::EmptyPrompt.into());
    }
    let store = state.store().await?;
    let mode = settings.resolved_mode(
        &available_modes(&settings),
        &measured_speeds(&store, &settings).await?,
    );
    let config = settings.engine_config(mode);
    let options = settings.ask_options(mode);

    // A follow-up sees the conversation so far (read before the new
    // question is added to it).
    let (conversation_id, history) = match conversation_id {
        Some(id) => (
            id,
            lookahead_store::from_engine::chat_history(&store.get_conversation(id).await?),
        ),
        None => (
            store.create_conversation(&title_for(&question)).await?.id,
            Vec::new(),
        ),
    };
    store.add_user_message(conversation_id, &question).await?;
    let message_id = store
        .begin_answer(
            conversation_id,
            lookahead_store::from_engine::answer_start(
                mode,
                &config,
                settings.judge_label(mode),
                serde_json::to_value(&settings).unwrap_or_default(),
            ),
        )
        .await?;

    let request_id = new_request_id();
    let cancel = CancelFlag::new();
    state.register(&request_id, cancel.clone());
    let _ = on_event.send(AskEvent::Started {
        request_id: request_id.clone(),
        conversation_id,
    });

    let events = on_event.clone();
    let result = state
        .worker
        .ask(
            config,
            history,
            question,
            options,
            cancel,
            Box::new(move |event| {
                let forwarded = match event {
                    AnswerEvent::Token { text } => AskEvent::Token { text },
                    AnswerEvent::Step { step } => AskEvent::Step { step },
                    // The stored answer is sent instead, once saved.
                    AnswerEvent::Done { .. } => return,
                };
                let _ = events.send(forwarded);
            }),
        )
        .await;
    state.unregister(&request_id);

    let outcome = match &result {
        Ok(answer) => lookahead_store::from_engine::answer_outcome(answer),
        Err(error) => AnswerOutcome {
            text: String::new(),
            final_answer: None,
            status: if matches!(error, lookahead_engine::EngineError::Cancelled) {
                MessageStatus::Cancelled
            } else {
                MessageStatus::Failed
            },
            error: Some(error.user_message()),
            steps: vec![],
            metrics: None,
            notes: Default::default(),
        },
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
