//! Turning the engine's answers into stored records (feature `engine`), so
//! the desktop shell and the CLI save answers the same way.

use lookahead_engine as engine;

use crate::model::{
    AnswerMetrics, AnswerNotes, AnswerOutcome, AnswerStart, ArithmeticNote, KeptFrom,
    MessageStatus, Mode, PositionCount, Step, Verdict,
};

fn mode(mode: engine::Mode) -> Mode {
    match mode {
        engine::Mode::Plain => Mode::Plain,
        engine::Mode::Sd => Mode::Sd,
        engine::Mode::Lr => Mode::Lr,
        engine::Mode::SdLr => Mode::SdLr,
    }
}

/// What is known before an answer starts: mode, models, settings.
pub fn answer_start(
    answer_mode: engine::Mode,
    config: &engine::EngineConfig,
    judge: Option<String>,
    settings: serde_json::Value,
) -> AnswerStart {
    AnswerStart {
        mode: mode(answer_mode),
        // A model on a server is named with where it ran.
        draft_model: match &config.draft_server {
            Some(server) => Some(server.display_name()),
            None => config.draft.as_deref().map(engine::gguf_info::model_name),
        },
        target_model: Some(match &config.target_server {
            Some(server) => server.display_name(),
            None => engine::gguf_info::model_name(&config.target),
        }),
        judge_model: judge,
        settings,
    }
}

/// The same, from a finished answer (CLI: the answer is saved in one go).
/// The answer's gamma is added to `settings` (when that is a JSON object)
/// because statistics group by `settings.gamma`.
pub fn answer_start_of(answer: &engine::Answer, mut settings: serde_json::Value) -> AnswerStart {
    if let (Some(gamma), Some(map)) = (answer.gamma, settings.as_object_mut()) {
        map.entry("gamma").or_insert_with(|| gamma.into());
    }
    AnswerStart {
        mode: mode(answer.mode),
        draft_model: answer.draft_model.clone(),
        target_model: Some(answer.target_model.clone()),
        judge_model: answer.judge.clone(),
        settings,
    }
}

fn step(record: &engine::StepRecord) -> Step {
    Step {
        index: record.index as i64,
        drafted_text: record.drafted.clone(),
        target_text: record.target.clone(),
        verdict: match record.verdict {
            engine::Verdict::Accepted => Verdict::Accepted,
            engine::Verdict::Rejected => Verdict::Rejected,
            engine::Verdict::TargetOnly => Verdict::TargetOnly,
        },
        judge_score: record.judge_score,
        kept_text: record.text.clone(),
        kept_from: match record.kept_from {
            engine::KeptFrom::Draft => KeptFrom::Draft,
            engine::KeptFrom::Target => KeptFrom::Target,
        },
        draft_ms: record.draft_ms,
        target_ms: record.target_ms,
        judge_ms: record.judge_ms,
        arithmetic: record
            .arithmetic
            .iter()
            .map(|c| ArithmeticNote {
                expression: c.expression.clone(),
                written: c.written.clone(),
                exact: c.exact.clone(),
                correct: c.correct,
                corrected: c.corrected,
            })
            .collect(),
    }
}

fn metrics(m: &engine::AnswerMetrics) -> AnswerMetrics {
    let count = |n: Option<usize>| n.map(|n| n as i64);
    AnswerMetrics {
        prompt_tokens: m.prompt_tokens as i64,
        generated_tokens: m.generated_tokens as i64,
        wall_seconds: m.wall_seconds,
        prefill_tokens_per_s: Some(m.prefill_tokens_per_s),
        decode_tokens_per_s: Some(m.decode_tokens_per_s),
        time_to_first_token_s: Some(m.time_to_first_token_s),
        drafted_tokens: count(m.drafted_tokens),
        accepted_tokens: count(m.accepted_tokens),
        token_acceptance_rate: m.token_acceptance_rate,
        mean_acceptance_length: m.mean_acceptance_length.or(m.step_mean_acceptance_length),
        drafted_steps: count(m.drafted_steps),
        accepted_steps: count(m.accepted_steps),
        step_acceptance_rate: m.step_acceptance_rate,
        per_position_acceptance: m.per_position_step_counts.as_ref().map(|positions| {
            positions
                .iter()
                .map(|p| PositionCount {
                    attempted: p.proposed as i64,
                    accepted: p.accepted as i64,
                })
                .collect()
        }),
        speedup_estimate: m.speedup_estimate,
        speculation_stopped: m.fallback.clone(),
        guard_stopped: m.guard_stopped,
    }
}

/// The earlier turns of a stored conversation, as the engine reads them: each
/// question with the answer it got. A question whose answer failed or is
/// empty is left out with it (the model would only see an unanswered turn).
pub fn chat_history(detail: &crate::model::ConversationDetail) -> Vec<engine::ChatTurn> {
    use crate::model::Role;
    let mut turns = Vec::new();
    let mut question: Option<&str> = None;
    for m in &detail.messages {
        let m = &m.message;
        match m.role {
            Role::User => question = Some(&m.text),
            Role::Assistant => {
                let usable = matches!(m.status, MessageStatus::Complete | MessageStatus::Cancelled)
                    && !m.text.trim().is_empty();
                if let (Some(q), true) = (question.take(), usable) {
                    turns.push(engine::ChatTurn::user(q));
                    turns.push(engine::ChatTurn::assistant(m.text.trim()));
                }
            }
        }
    }
    turns
}

/// The stored outcome of a finished, stopped or failed answer.
pub fn answer_outcome(answer: &engine::Answer) -> AnswerOutcome {
    AnswerOutcome {
        text: answer.text.clone(),
        final_answer: answer.final_answer.clone(),
        status: match answer.status {
            engine::AnswerStatus::Complete => MessageStatus::Complete,
            engine::AnswerStatus::Cancelled => MessageStatus::Cancelled,
            engine::AnswerStatus::Failed => MessageStatus::Failed,
        },
        // A fallback (step speculation switched off mid-answer) is not an
        // error: the answer is complete; it stays visible in the metrics.
        error: None,
        steps: answer.steps.iter().map(step).collect(),
        metrics: Some(metrics(&answer.metrics)),
        notes: AnswerNotes {
            cut_off: answer.cut_off,
            turns_left_out: answer.turns_left_out as i64,
        },
    }
}

/// The stored outcome of an answer the engine could not give (`text` and
/// `steps`: what had been shown before it stopped, kept for the reader). A
/// cancel before any answer came back is stored as cancelled, not failed.
pub fn failed_outcome(
    error: &engine::EngineError,
    text: &str,
    steps: &[engine::StepRecord],
) -> AnswerOutcome {
    AnswerOutcome {
        text: text.to_string(),
        final_answer: None,
        status: if matches!(error, engine::EngineError::Cancelled) {
            MessageStatus::Cancelled
        } else {
            MessageStatus::Failed
        },
        error: Some(error.user_message()),
        steps: steps.iter().map(step).collect(),
        metrics: None,
        notes: Default::default(),
    }
}
