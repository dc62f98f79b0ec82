//! The JSON shapes the UI reads (ui/src/api/types.ts), built from stored
//! records. Field names are snake_case, as in the contract.

use lookahead_store as store;
use serde::Serialize;

#[derive(Serialize, Clone, Debug)]
pub struct StepView {
    pub index: i64,
    pub drafted: Option<String>,
    pub target: Option<String>,
    pub verdict: String,
    pub judge_score: Option<f64>,
    pub kept_from: String,
    pub text: String,
    pub draft_ms: Option<f64>,
    pub target_ms: Option<f64>,
    pub judge_ms: Option<f64>,
    /// The sums in the step, worked out again (same shape as the engine's
    /// live step events).
    pub arithmetic: Vec<store::ArithmeticNote>,
}

impl From<&store::Step> for StepView {
    fn from(s: &store::Step) -> Self {
        Self {
            index: s.index,
            drafted: s.drafted_text.clone(),
            target: s.target_text.clone(),
            verdict: s.verdict.as_str().to_string(),
            judge_score: s.judge_score,
            kept_from: s.kept_from.as_str().to_string(),
            text: s.kept_text.clone(),
            draft_ms: s.draft_ms,
            target_ms: s.target_ms,
            judge_ms: s.judge_ms,
            arithmetic: s.arithmetic.clone(),
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct MetricsView {
    pub prompt_tokens: i64,
    pub generated_tokens: i64,
    pub wall_seconds: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub time_to_first_token_s: f64,
    pub drafted_tokens: Option<i64>,
    pub accepted_tokens: Option<i64>,
    pub token_acceptance_rate: Option<f64>,
    pub mean_acceptance_length: Option<f64>,
    pub drafted_steps: Option<i64>,
    pub accepted_steps: Option<i64>,
    pub step_acceptance_rate: Option<f64>,
    pub per_position_step_acceptance: Option<Vec<f64>>,
    pub speedup_estimate: Option<f64>,
    /// Why step drafting was switched off partway, if it was.
    pub speculation_stopped: Option<String>,
    /// It was because step drafting ran slower than plain.
    pub guard_stopped: bool,
}

impl From<&store::AnswerMetrics> for MetricsView {
    fn from(m: &store::AnswerMetrics) -> Self {
        Self {
            prompt_tokens: m.prompt_tokens,
            generated_tokens: m.generated_tokens,
            wall_seconds: m.wall_seconds,
            prefill_tokens_per_s: m.prefill_tokens_per_s.unwrap_or(0.0),
            decode_tokens_per_s: m.decode_tokens_per_s.unwrap_or(0.0),
            time_to_first_token_s: m.time_to_first_token_s.unwrap_or(0.0),
            drafted_tokens: m.drafted_tokens,
            accepted_tokens: m.accepted_tokens,
            token_acceptance_rate: m.token_acceptance_rate,
            mean_acceptance_length: m.mean_acceptance_length,
            drafted_steps: m.drafted_steps,
            accepted_steps: m.accepted_steps,
            step_acceptance_rate: m.step_acceptance_rate,
            per_position_step_acceptance: m.per_position_acceptance.as_ref().map(|positions| {
                positions
                    .iter()
                    .map(|p| {
                        if p.attempted > 0 {
                            p.accepted as f64 / p.attempted as f64
                        } else {
                            0.0
                        }
                    })
                    .collect()
            }),
            speedup_estimate: m.speedup_estimate,
            speculation_stopped: m.speculation_stopped.clone(),
            guard_stopped: m.guard_stopped,
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct MessageView {
    pub id: i64,
    pub role: String,
    pub text: String,
    pub final_answer: Option<String>,
    pub mode: String,
    /// complete, cancelled, failed, interrupted (the app or command stopped
    /// while writing it) or in_progress (another window is writing it now).
    pub status: String,
    /// Why a failed answer failed, in plain words (as it was shown then).
    pub error: Option<String>,
    pub created_at: String,
    pub steps: Vec<StepView>,
    pub metrics: Option<MetricsView>,
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
        let status = m.status.as_str();
        Self {
            id: m.id,
            role: m.role.as_str().to_string(),
            text: m.text.clone(),
            final_answer: m.final_answer.clone(),
            mode: m.mode.map_or("plain", |mode| mode.as_str()).to_string(),
            status: status.to_string(),
            error: m.error.clone(),
            created_at: m.created_at.to_rfc3339(),
            steps: d.steps.iter().map(StepView::from).collect(),
            metrics: d.metrics.as_ref().map(MetricsView::from),
            draft_model: m.draft_model.clone(),
            target_model: m.target_model.clone(),
            judge: m.judge_model.clone(),
            cut_off: m.notes.cut_off,
            turns_left_out: m.notes.turns_left_out,
        }
    }
}

#[derive(Serialize, Clone, Debug)]
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

#[derive(Serialize, Clone, Debug)]
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
