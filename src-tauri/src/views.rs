//! The JSON shapes the UI reads, built from stored records. Steps, metrics
//! and the text enums are the shared domain types, sent as they are; the
//! TypeScript types are generated from these (ui/src/api/generated.ts).

use lookahead_domain::{AnswerMetrics, MessageStatus, Mode, Role, StepRecord};
use lookahead_store as store;
use serde::Serialize;
use ts_rs::TS;

#[derive(Serialize, Clone, Debug, TS)]
pub struct MessageView {
    pub id: i64,
    pub role: Role,
    pub text: String,
    pub final_answer: Option<String>,
    /// The mode the answer was written in (questions: plain).
    pub mode: Mode,
    /// complete, cancelled, failed, interrupted (the app or command stopped
    /// while writing it) or in_progress (another window is writing it now).
    pub status: MessageStatus,
    /// Why a failed answer failed, in plain words (as it was shown then).
    pub error: Option<String>,
    pub created_at: String,
    pub steps: Vec<StepRecord>,
    pub metrics: Option<AnswerMetrics>,
    pub draft_model: Option<String>,
    pub target_model: Option<String>,
    pub judge: Option<String>,
    /// The answer stopped at its length limit before the model finished.
    pub cut_off: bool,
    /// Earlier turns of the conversation the model did not see.
    pub turns_left_out: i64,
}

impl From<&store::MessageDetail> for MessageView {
    fn from(d: &store::MessageDetail) -> Self {
        let m = &d.message;
        Self {
            id: m.id,
            role: m.role,
            text: m.text.clone(),
            final_answer: m.final_answer.clone(),
            mode: m.mode.unwrap_or(Mode::Plain),
            status: m.status,
            error: m.error.clone(),
            created_at: m.created_at.to_rfc3339(),
            steps: d.steps.clone(),
            metrics: d.metrics.clone(),
            draft_model: m.draft_model.clone(),
            target_model: m.target_model.clone(),
            judge: m.judge_model.clone(),
            cut_off: m.notes.cut_off,
            turns_left_out: m.notes.turns_left_out,
        }
    }
}

#[derive(Serialize, Clone, Debug, TS)]
pub struct ConversationView {
    pub id: i64,
    pub title: String,
    pub created_at: String,
    pub updated_at: String,
    pub messages: Vec<MessageView>,
}

impl From<&store::ConversationDetail> for ConversationView {
    fn from(d: &store::ConversationDetail) -> Self {
        Self {
            id: d.conversation.id,
            title: d.conversation.title.clone(),
            created_at: d.conversation.created_at.to_rfc3339(),
            updated_at: d.conversation.updated_at.to_rfc3339(),
            messages: d.messages.iter().map(MessageView::from).collect(),
        }
    }
}

#[derive(Serialize, Clone, Debug, TS)]
pub struct ConversationSummaryView {
    pub id: i64,
    pub title: String,
    pub updated_at: String,
    pub pinned: bool,
    pub message_count: i64,
}

impl From<&store::ConversationSummary> for ConversationSummaryView {
    fn from(c: &store::ConversationSummary) -> Self {
        Self {
            id: c.id,
            title: c.title.clone(),
            updated_at: c.updated_at.to_rfc3339(),
            pinned: c.pinned,
            message_count: c.message_count,
        }
    }
}
