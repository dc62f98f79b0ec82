//! Row decoding. Written by hand rather than with `FromRow` derives so the
//! public record types stay free of sqlx attributes and the text enums and
//! timestamps are checked with readable errors.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::model::*;

type RowResult<T> = std::result::Result<T, sqlx::Error>;

fn decode_err(column: &str, detail: impl Into<String>) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: detail.into().into(),
    }
}

pub(crate) fn parse_ts(column: &str, text: &str) -> RowResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| decode_err(column, format!("bad timestamp {text:?}: {e}")))
}

pub(crate) fn get_ts(row: &SqliteRow, column: &str) -> RowResult<DateTime<Utc>> {
    let text: String = row.try_get(column)?;
    parse_ts(column, &text)
}

pub(crate) fn get_opt_ts(row: &SqliteRow, column: &str) -> RowResult<Option<DateTime<Utc>>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| parse_ts(column, &t)).transpose()
}

pub(crate) fn get_enum<T: FromStr<Err = String>>(row: &SqliteRow, column: &str) -> RowResult<T> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|e: String| decode_err(column, e))
}

pub(crate) fn get_opt_enum<T: FromStr<Err = String>>(
    row: &SqliteRow,
    column: &str,
) -> RowResult<Option<T>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| t.parse().map_err(|e: String| decode_err(column, e)))
        .transpose()
}

/// REAL results of expressions may come back as INTEGER storage (e.g. a SUM
/// of whole numbers); SQLite converts on read, so skip sqlx's type check.
pub(crate) fn get_f64(row: &SqliteRow, column: &str) -> RowResult<Option<f64>> {
    row.try_get_unchecked(column)
}

fn get_json<T: serde::de::DeserializeOwned>(row: &SqliteRow, column: &str) -> RowResult<Option<T>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| decode_err(column, e.to_string())))
        .transpose()
}

pub(crate) fn conversation(row: &SqliteRow) -> RowResult<Conversation> {
    Ok(Conversation {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        pinned: row.try_get("pinned")?,
        deleted_at: get_opt_ts(row, "deleted_at")?,
    })
}

pub(crate) fn conversation_summary(row: &SqliteRow) -> RowResult<ConversationSummary> {
    Ok(ConversationSummary {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        pinned: row.try_get("pinned")?,
        deleted_at: get_opt_ts(row, "deleted_at")?,
        message_count: row.try_get("message_count")?,
    })
}

pub(crate) fn message(row: &SqliteRow) -> RowResult<Message> {
    Ok(Message {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        role: get_enum(row, "role")?,
        text: row.try_get("text")?,
        final_answer: row.try_get("final_answer")?,
        mode: get_opt_enum(row, "mode")?,
        draft_model: row.try_get("draft_model")?,
        target_model: row.try_get("target_model")?,
        judge_model: row.try_get("judge_model")?,
        settings: get_json(row, "settings")?.unwrap_or(serde_json::Value::Null),
        status: get_enum(row, "status")?,
        error: row.try_get("error")?,
        created_at: get_ts(row, "created_at")?,
        finished_at: get_opt_ts(row, "finished_at")?,
        notes: AnswerNotes {
            cut_off: row.try_get("cut_off")?,
            turns_left_out: row.try_get("turns_left_out")?,
        },
    })
}

pub(crate) fn step(row: &SqliteRow) -> RowResult<StepRecord> {
    Ok(StepRecord {
        index: get_count(row, "step_index")?,
        drafted: row.try_get("drafted_text")?,
        target: row.try_get("target_text")?,
        verdict: get_enum(row, "verdict")?,
        judge_score: get_f64(row, "judge_score")?,
        text: row.try_get("kept_text")?,
        kept_from: get_enum(row, "kept_from")?,
        draft_ms: get_f64(row, "draft_ms")?,
        target_ms: get_f64(row, "target_ms")?,
        judge_ms: get_f64(row, "judge_ms")?,
        arithmetic: get_json(row, "arithmetic")?.unwrap_or_default(),
    })
}

pub(crate) fn metrics(row: &SqliteRow) -> RowResult<AnswerMetrics> {
    let wall_seconds = get_f64(row, "wall_seconds")?.unwrap_or_default();
    let generated_tokens = get_count(row, "generated_tokens")?;
    Ok(AnswerMetrics {
        prompt_tokens: get_count(row, "prompt_tokens")?,
        generated_tokens,
        wall_seconds,
        prefill_tokens_per_s: get_f64(row, "prefill_tokens_per_s")?.unwrap_or_default(),
        decode_tokens_per_s: get_f64(row, "decode_tokens_per_s")?.unwrap_or_default(),
        time_to_first_token_s: get_f64(row, "time_to_first_token_s")?.unwrap_or_default(),
        // Answers stored before it was kept: worked out the same way.
        tokens_per_s: get_f64(row, "tokens_per_s")?.unwrap_or_else(|| {
            if wall_seconds > 0.0 {
                generated_tokens as f64 / wall_seconds
            } else {
                0.0
            }
        }),
        drafted_tokens: get_opt_count(row, "drafted_tokens")?,
        accepted_tokens: get_opt_count(row, "accepted_tokens")?,
        token_acceptance_rate: get_f64(row, "token_acceptance_rate")?,
        mean_acceptance_length: get_f64(row, "mean_acceptance_length")?,
        drafted_steps: get_opt_count(row, "drafted_steps")?,
        accepted_steps: get_opt_count(row, "accepted_steps")?,
        step_acceptance_rate: get_f64(row, "step_acceptance_rate")?,
        step_mean_acceptance_length: get_f64(row, "step_mean_acceptance_length")?,
        per_position_acceptance: get_json(row, "per_position_acceptance")?,
        forward_passes: get_count(row, "forward_passes")?,
        mean_batch_size: get_f64(row, "mean_batch_size")?.unwrap_or_default(),
        speedup_estimate: get_f64(row, "speedup_estimate")?,
        speculation_stopped: row.try_get("speculation_stopped")?,
        guard_stopped: row.try_get("guard_stopped")?,
    })
}

/// A count column (never negative; a negative value reads as 0).
fn get_count(row: &SqliteRow, col: &str) -> RowResult<usize> {
    Ok(usize::try_from(row.try_get::<i64, _>(col)?).unwrap_or(0))
}

fn get_opt_count(row: &SqliteRow, col: &str) -> RowResult<Option<usize>> {
    Ok(row
        .try_get::<Option<i64>, _>(col)?
        .map(|n| usize::try_from(n).unwrap_or(0)))
}
