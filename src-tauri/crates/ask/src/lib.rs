//! One way to ask, for the desktop shell and the command line alike. A
//! question's life in the history:
//!
//! 1. [`AskService::begin`]: the earlier turns of the conversation are read
//!    (a follow-up sees them), then the question and its answer's row are
//!    saved in one transaction before any work, so a failure loses nothing
//!    the user typed; this computer's usual plain speed comes with it.
//! 2. While the engine writes, every [`AnswerEvent`] goes through
//!    [`Shown::observe`]; [`AskService::keep_saving`] saves the text shown
//!    so far once a second, so a crash keeps it.
//! 3. [`AskService::finish`]: the answer, or the failure with what had been
//!    shown, is saved in one transaction, and the saved message comes back.
//!
//! The automatic mode's evidence is read by [`AskService::measured_modes`];
//! what answers record about their models by [`answer_start`]. The engine
//! and the store stay apart: this crate is where they meet.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lookahead_engine::{
    Answer, AnswerEvent, ChatTurn, EngineConfig, EngineError, Mode, ModeRecord, PlainSpeed,
    StepRecord,
};
use lookahead_store::{AnswerOutcome, AnswerStart, MessageDetail, ModelSet, Store, StoreError};

/// How often the text of an answer being written is saved.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Answers measured per mode for the automatic choice: recent enough to
/// follow a change of machine load, enough to smooth out question lengths.
const RECENT_ANSWERS: i64 = 5;
/// Earlier answers word drafting may look in (about 50 × 300 tokens: read
/// in about 15 ms before an answer, a search of microseconds per guess).
/// Replayed over the 100 GSM8K answers (session 28), 50 drafted 1 %
/// faster than 20, and 99 0.2 % faster than 50.
const EARLIER_ANSWERS: u32 = 50;

/// A question saved before its answer is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Started {
    pub conversation_id: i64,
    pub message_id: i64,
    /// The conversation's title (a new one's comes from the question).
    pub title: String,
    /// The earlier turns, for the engine (empty for a new conversation).
    pub history: Vec<ChatTurn>,
    /// This computer's usual plain speed with the target, if known.
    pub usual: Option<PlainSpeed>,
    /// Recent answers on this computer, newest first, for word drafting to
    /// look in ([`lookahead_engine::AskOptions::earlier_answers`]).
    pub earlier_answers: Vec<String>,
}

/// What has been shown of an answer so far: its text and settled steps,
/// kept for the history if the answer stops or fails part-way.
#[derive(Clone, Debug, Default)]
pub struct Shown(Arc<Mutex<ShownSoFar>>);

#[derive(Debug, Default)]
struct ShownSoFar {
    text: String,
    steps: Vec<StepRecord>,
}

impl Shown {
    /// Takes note of an event the engine streamed.
    pub fn observe(&self, event: &AnswerEvent) {
        let Ok(mut shown) = self.0.lock() else {
            return;
        };
        match event {
            AnswerEvent::Token { text } => shown.text.push_str(text),
            AnswerEvent::Step { step } => {
                shown.steps.retain(|s| s.index != step.index);
                shown.steps.push(step.clone());
            }
            AnswerEvent::Stage { .. } | AnswerEvent::Done { .. } => {}
        }
    }

    pub fn text(&self) -> String {
        self.0.lock().map(|s| s.text.clone()).unwrap_or_default()
    }

    pub fn steps(&self) -> Vec<StepRecord> {
        self.0.lock().map(|s| s.steps.clone()).unwrap_or_default()
    }
}

/// Saving what is shown goes on until this is dropped.
#[derive(Debug)]
pub struct Saving(tokio::task::JoinHandle<()>);

impl Drop for Saving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The front ends' way into the history for one question at a time.
#[derive(Clone, Debug)]
pub struct AskService {
    store: Store,
}

impl AskService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Reads the earlier turns of `conversation` (none for a new one),
    /// then saves the question and its answer's row together, in
    /// `conversation` or a new one titled from the question.
    pub async fn begin(
        &self,
        conversation: Option<i64>,
        question: &str,
        start: AnswerStart,
    ) -> Result<Started, StoreError> {
        let (history, title) = match conversation {
            Some(id) => {
                let detail = self.store.get_conversation(id).await?;
                (detail.chat_turns(), detail.conversation.title)
            }
            None => (Vec::new(), title_for(question)),
        };
        let target = start.target_model.clone();
        let (conversation_id, _, message_id) = self
            .store
            .start_answer(conversation.ok_or(title.as_str()), question, start)
            .await?;
        let usual = match &target {
            Some(target) => self
                .store
                .plain_speed(target, RECENT_ANSWERS)
                .await
                .unwrap_or(None),
            None => None,
        };
        // Read before this answer's row is complete, so it is not among them.
        let earlier_answers = self
            .store
            .recent_answer_texts(EARLIER_ANSWERS)
            .await
            .unwrap_or_default();
        Ok(Started {
            conversation_id,
            message_id,
            title,
            history,
            earlier_answers,
            usual,
        })
    }

    /// Saves the text shown so far whenever it has grown, every
    /// [`SAVE_EVERY`], until the returned guard is dropped. Needs a Tokio
    /// runtime.
    pub fn keep_saving(&self, started: &Started, shown: Shown) -> Saving {
        let store = self.store.clone();
        let message_id = started.message_id;
        Saving(tokio::spawn(async move {
            let mut saved = 0;
            loop {
                tokio::time::sleep(SAVE_EVERY).await;
                let text = shown.text();
                if text.len() != saved && store.update_answer_text(message_id, &text).await.is_ok()
                {
                    saved = text.len();
                }
            }
        }))
    }

    /// Saves how the answer ended, in one transaction: the answer, or the
    /// failure in plain words with what had been shown (a cancel before
    /// any answer came back is stored as cancelled). Returns the message as
    /// saved.
    pub async fn finish(
        &self,
        started: &Started,
        result: Result<&Answer, &EngineError>,
        shown: &Shown,
    ) -> Result<MessageDetail, StoreError> {
        let outcome = match result {
            Ok(answer) => AnswerOutcome::of(answer),
            Err(error) => AnswerOutcome::failed(
                error.user_message(),
                matches!(error, EngineError::Cancelled),
                &shown.text(),
                &shown.steps(),
            ),
        };
        self.store
            .finish_answer(started.message_id, outcome)
            .await?;
        self.store.get_message(started.message_id).await
    }

    /// What this computer has measured of each mode with `models`: the
    /// automatic mode's evidence ([`lookahead_engine::choose_mode`]).
    pub async fn measured_modes(
        &self,
        models: &ModelSet<'_>,
    ) -> Result<Vec<ModeRecord>, StoreError> {
        let speeds = self.store.speed_by_mode(models, RECENT_ANSWERS).await?;
        Ok(speeds
            .into_iter()
            .map(|s| ModeRecord {
                mode: s.mode,
                answers: usize::try_from(s.total_answers).unwrap_or(0),
                mean_speedup: s.mean_speedup,
            })
            .collect())
    }

    /// This computer's usual plain speed with `target` (a model name).
    pub async fn usual_speed(&self, target: &str) -> Result<Option<PlainSpeed>, StoreError> {
        self.store.plain_speed(target, RECENT_ANSWERS).await
    }
}

/// What an answer records before it starts: its mode, the models (named
/// with where they ran) and judge, and the settings it ran with.
pub fn answer_start(
    mode: Mode,
    config: &EngineConfig,
    judge: Option<String>,
    settings: serde_json::Value,
) -> AnswerStart {
    AnswerStart {
        mode,
        draft_model: config.draft_name(),
        target_model: Some(config.target_name()),
        judge_model: judge,
        settings,
    }
}

/// A conversation title from its first question: the first line, cut at a
/// word boundary.
pub fn title_for(question: &str) -> String {
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
