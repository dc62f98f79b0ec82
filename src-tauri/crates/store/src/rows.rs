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

pub(crate) fn step(row: &SqliteRow) -> RowResult<Step> {
    Ok(Step {
        index: row.try_get("step_index")?,
        drafted_text: row.try_get("drafted_text")?,
        target_text: row.try_get("target_text")?,
        verdict: get_enum(row, "verdict")?,
        judge_score: get_f64(row, "judge_score")?,
        kept_text: row.try_get("kept_text")?,
        kept_from: get_enum(row, "kept_from")?,
        draft_ms: get_f64(row, "draft_ms")?,
        target_ms: get_f64(row, "target_ms")?,
        judge_ms: get_f64(row, "judge_ms")?,
        arithmetic: get_json(row, "arithmetic")?.unwrap_or_default(),
    })
}

pub(crate) fn metrics(row: &SqliteRow) -> RowResult<AnswerMetrics> {
    Ok(AnswerMetrics {
        prompt_tokens: row.try_get("prompt_tokens")?,
        generated_tokens: row.try_get("generated_tokens")?,
        wall_seconds: get_f64(row, "wall_seconds")?.unwrap_or_default(),
        prefill_tokens_per_s: get_f64(row, "prefill_tokens_per_s")?,
        decode_tokens_per_s: get_f64(row, "decode_tokens_per_s")?,
        time_to_first_token_s: get_f64(row, "time_to_first_token_s")?,
        drafted_tokens: row.try_get("drafted_tokens")?,
        accepted_tokens: row.try_get("accepted_tokens")?,
        token_acceptance_rate: get_f64(row, "token_acceptance_rate")?,
        mean_acceptance_length: get_f64(row, "mean_acceptance_length")?,
        drafted_steps: row.try_get("drafted_steps")?,
        accepted_steps: row.try_get("accepted_steps")?,
        step_acceptance_rate: get_f64(row, "step_acceptance_rate")?,
        per_position_acceptance: get_json(row, "per_position_acceptance")?,
        speedup_estimate: get_f64(row, "speedup_estimate")?,
        speculation_stopped: row.try_get("speculation_stopped")?,
        guard_stopped: row.try_get("guard_stopped")?,
    })
}

pub(crate) fn installed_model(row: &SqliteRow) -> RowResult<InstalledModel> {
    Ok(InstalledModel {
        id: row.try_get("id")?,
        path: row.try_get("path")?,
        role: get_enum(row, "role")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        installed_at: get_ts(row, "installed_at")?,
    })
}
