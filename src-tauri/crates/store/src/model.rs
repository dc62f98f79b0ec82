//! Record types: conversations and messages as stored. Steps, metrics and
//! the text enums are the shared vocabulary of `lookahead-domain`, encoded
//! by this crate (text enums as their `as_str` spelling).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use lookahead_domain::{
    Answer, AnswerMetrics, AnswerStatus, ArithmeticCheck, ChatTurn, KeptFrom, MessageStatus, Mode,
    PlainSpeed, PositionCount, Role, StepRecord, Verdict,
};

/// A conversation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: i64,
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// Time of the latest message (or rename); lists sort by it.
    pub updated_at: DateTime<Utc>,
    pub pinned: bool,
    /// Set while the conversation is in the bin (soft-deleted, undoable).
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One row of the conversation list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: i64,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub pinned: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub message_count: i64,
}

/// A message as stored. For user messages the answer fields are empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub role: Role,
    /// Everything shown for the message (for answers: the full generated text,
    /// reasoning included).
    pub text: String,
    /// The extracted final answer, where the model gave one.
    pub final_answer: Option<String>,
    pub mode: Option<Mode>,
    pub draft_model: Option<String>,
    pub target_model: Option<String>,
    /// The judge model used to score steps, if any.
    pub judge_model: Option<String>,
    /// Generation settings as given by the engine, e.g. `{"gamma": 4}`.
    /// Statistics group by the `gamma` key.
    pub settings: serde_json::Value,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Cut off, earlier turns left out (answers only).
    #[serde(default)]
    pub notes: AnswerNotes,
}

/// What a reader should know about an answer besides its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerNotes {
    /// The answer reached its length limit before the model finished.
    #[serde(default)]
    pub cut_off: bool,
    /// Earlier turns of the conversation left out of the prompt to fit.
    #[serde(default)]
    pub turns_left_out: i64,
}

/// A message together with its steps and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: Message,
    pub steps: Vec<StepRecord>,
    pub metrics: Option<AnswerMetrics>,
}

/// A conversation with everything in it, oldest message first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub messages: Vec<MessageDetail>,
}

/// What is known when an answer starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerStart {
    pub mode: Mode,
    pub draft_model: Option<String>,
    pub target_model: Option<String>,
    pub judge_model: Option<String>,
    pub settings: serde_json::Value,
}

/// What is known when an answer ends; written in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerOutcome {
    pub text: String,
    pub final_answer: Option<String>,
    /// `Complete`, `Cancelled` or `Failed`.
    pub status: MessageStatus,
    pub error: Option<String>,
    pub steps: Vec<StepRecord>,
    pub metrics: Option<AnswerMetrics>,
    #[serde(default)]
    pub notes: AnswerNotes,
}

/// A finished answer saved in one go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAnswer {
    pub start: AnswerStart,
    pub outcome: AnswerOutcome,
    /// Defaults to now; set it when recording an answer after the fact.
    pub created_at: Option<DateTime<Utc>>,
}

/// A full-text search result. `message_id` is `None` when the title matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub conversation_id: i64,
    pub conversation_title: String,
    pub message_id: Option<i64>,
    /// Text around the match; matched words are wrapped in
    /// [`crate::MATCH_START`] and [`crate::MATCH_END`].
    pub snippet: String,
    /// Lower is better (FTS5 bm25); comparable only within one kind of hit.
    pub rank: f64,
}

impl ConversationDetail {
    /// The earlier turns as the models read them: each question with the
    /// answer it got. A question whose answer failed or is empty is left out
    /// with it (the model would only see an unanswered turn).
    pub fn chat_turns(&self) -> Vec<ChatTurn> {
        let mut turns = Vec::new();
        let mut question: Option<&str> = None;
        for m in &self.messages {
            let m = &m.message;
            match m.role {
                Role::User => question = Some(&m.text),
                Role::Assistant => {
                    let usable =
                        matches!(m.status, MessageStatus::Complete | MessageStatus::Cancelled)
                            && !m.text.trim().is_empty();
                    if let (Some(q), true) = (question.take(), usable) {
                        turns.push(ChatTurn::user(q));
                        turns.push(ChatTurn::assistant(m.text.trim()));
                    }
                }
            }
        }
        turns
    }
}

impl AnswerOutcome {
    /// The stored outcome of a finished or stopped answer. A fallback (step
    /// speculation switched off mid-answer) is not an error: the answer is
    /// complete; it stays visible in the metrics.
    pub fn of(answer: &Answer) -> Self {
        Self {
            text: answer.text.clone(),
            final_answer: answer.final_answer.clone(),
            status: answer.status.into(),
            error: None,
            steps: answer.steps.clone(),
            metrics: Some(answer.metrics.clone()),
            notes: AnswerNotes {
                cut_off: answer.cut_off,
                turns_left_out: answer.turns_left_out as i64,
            },
        }
    }

    /// The stored outcome of an answer that could not be given: `error` in
    /// plain words, `text` and `steps` what had been shown before it
    /// stopped (kept for the reader). A cancel before any answer came back
    /// is stored as cancelled, not failed.
    pub fn failed(error: String, cancelled: bool, text: &str, steps: &[StepRecord]) -> Self {
        Self {
            text: text.to_string(),
            final_answer: None,
            status: if cancelled {
                MessageStatus::Cancelled
            } else {
                MessageStatus::Failed
            },
            error: Some(error),
            steps: steps.to_vec(),
            metrics: None,
            notes: Default::default(),
        }
    }
}
