//! Conversations, messages, answers and full-text search.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use crate::error::{Result, SqlxResultExt, StoreError};
use crate::model::*;
use crate::{now, rows, truncate_ms, ts, Store, MATCH_END, MATCH_START};

const CONVERSATION_COLUMNS: &str = "id, title, created_at, updated_at, pinned, deleted_at";
const MESSAGE_COLUMNS: &str = "id, conversation_id, role, text, final_answer, mode, draft_model, \
     target_model, judge_model, settings, status, error, created_at, finished_at, cut_off, \
     turns_left_out";

/// Everything needed to insert a message row; shared by the live API and
/// import so both write the same columns.
pub(crate) struct MessageRow<'a> {
    pub role: Role,
    pub text: &'a str,
    pub final_answer: Option<&'a str>,
    pub start: Option<&'a AnswerStart>,
    pub status: MessageStatus,
    pub error: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub notes: AnswerNotes,
}

impl<'a> MessageRow<'a> {
    /// What the user asked, saved complete.
    fn question(text: &'a str, at: DateTime<Utc>) -> Self {
        Self {
            role: Role::User,
            text,
            final_answer: None,
            start: None,
            status: MessageStatus::Complete,
            error: None,
            created_at: at,
            finished_at: Some(at),
            notes: AnswerNotes::default(),
        }
    }

    /// An answer just begun: no text yet, in progress.
    fn answer_begun(start: &'a AnswerStart, at: DateTime<Utc>) -> Self {
        Self {
            role: Role::Assistant,
            text: "",
            final_answer: None,
            start: Some(start),
            status: MessageStatus::InProgress,
            error: None,
            created_at: at,
            finished_at: None,
            notes: AnswerNotes::default(),
        }
    }
}

pub(crate) async fn insert_conversation(
    conn: &mut SqliteConnection,
    title: &str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    pinned: bool,
) -> std::result::Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO conversations (title, created_at, updated_at, pinned) VALUES (?1, ?2, ?3, ?4)
         RETURNING id",
    )
    .bind(title)
    .bind(ts(created_at))
    .bind(ts(updated_at))
    .bind(pinned)
    .fetch_one(conn)
    .await
}

pub(crate) async fn insert_message(
    conn: &mut SqliteConnection,
    conversation_id: i64,
    m: &MessageRow<'_>,
) -> std::result::Result<i64, sqlx::Error> {
    let settings = match m.start {
        Some(s) => {
            serde_json::to_string(&s.settings).map_err(|e| sqlx::Error::Encode(Box::new(e)))?
        }
        None => "{}".to_owned(),
    };
    sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, role, text, final_answer, mode, draft_model,
             target_model, judge_model, settings, status, error, created_at, finished_at,
             cut_off, turns_left_out)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         RETURNING id",
    )
    .bind(conversation_id)
    .bind(m.role.as_str())
    .bind(m.text)
    .bind(m.final_answer)
    .bind(m.start.map(|s| s.mode.as_str()))
    .bind(m.start.and_then(|s| s.draft_model.as_deref()))
    .bind(m.start.and_then(|s| s.target_model.as_deref()))
    .bind(m.start.and_then(|s| s.judge_model.as_deref()))
    .bind(settings)
    .bind(m.status.as_str())
    .bind(m.error)
    .bind(ts(m.created_at))
    .bind(m.finished_at.map(ts))
    .bind(m.notes.cut_off)
    .bind(m.notes.turns_left_out)
    .fetch_one(conn)
    .await
}

pub(crate) async fn insert_steps(
    conn: &mut SqliteConnection,
    message_id: i64,
    steps: &[StepRecord],
) -> std::result::Result<(), sqlx::Error> {
    for s in steps {
        let arithmetic = (!s.arithmetic.is_empty())
            .then(|| serde_json::to_string(&s.arithmetic))
            .transpose()
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO steps (message_id, step_index, drafted_text, target_text, verdict,
                 judge_score, kept_text, kept_from, draft_ms, target_ms, judge_ms, arithmetic)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .bind(message_id)
        .bind(s.index as i64)
        .bind(s.drafted.as_deref())
        .bind(s.target.as_deref())
        .bind(s.verdict.as_str())
        .bind(s.judge_score)
        .bind(&s.text)
        .bind(s.kept_from.as_str())
        .bind(s.draft_ms)
        .bind(s.target_ms)
        .bind(s.judge_ms)
        .bind(arithmetic)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(crate) async fn insert_metrics(
    conn: &mut SqliteConnection,
    message_id: i64,
    m: &AnswerMetrics,
) -> std::result::Result<(), sqlx::Error> {
    let positions = m
        .per_position_acceptance
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    // The message row is written first in the same transaction; its
    // grouping columns are copied so statistics need not read messages.
    sqlx::query(
        "INSERT INTO answer_metrics (message_id, conversation_id, created_at, mode, draft_model,
             target_model, judge_model, gamma, prompt_tokens, generated_tokens, wall_seconds,
             prefill_tokens_per_s, decode_tokens_per_s, time_to_first_token_s, drafted_tokens,
             accepted_tokens, token_acceptance_rate, mean_acceptance_length, drafted_steps,
             accepted_steps, step_acceptance_rate, per_position_acceptance, speedup_estimate,
             speculation_stopped, guard_stopped, tokens_per_s, step_mean_acceptance_length,
             forward_passes, mean_batch_size)
         SELECT ?1, m.conversation_id, m.created_at, m.mode, m.draft_model, m.target_model,
             m.judge_model, json_extract(m.settings, '$.gamma'),
             ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19, ?20, ?21, ?22
         FROM messages m WHERE m.id = ?1",
    )
    .bind(message_id)
    .bind(m.prompt_tokens as i64)
    .bind(m.generated_tokens as i64)
    .bind(m.wall_seconds)
    .bind(m.prefill_tokens_per_s)
    .bind(m.decode_tokens_per_s)
    .bind(m.time_to_first_token_s)
    .bind(m.drafted_tokens.map(|n| n as i64))
    .bind(m.accepted_tokens.map(|n| n as i64))
    .bind(m.token_acceptance_rate)
    .bind(m.mean_acceptance_length)
    .bind(m.drafted_steps.map(|n| n as i64))
    .bind(m.accepted_steps.map(|n| n as i64))
    .bind(m.step_acceptance_rate)
    .bind(positions)
    .bind(m.speedup_estimate)
    .bind(&m.speculation_stopped)
    .bind(m.guard_stopped)
    .bind(m.tokens_per_s)
    .bind(m.step_mean_acceptance_length)
    .bind(m.forward_passes as i64)
    .bind(m.mean_batch_size)
    .execute(&mut *conn)
    .await?;
    for (position, c) in m.per_position_acceptance.iter().flatten().enumerate() {
        sqlx::query(
            "INSERT INTO answer_positions (message_id, position, attempted, accepted)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(message_id)
        .bind(position as i64)
        .bind(c.proposed as i64)
        .bind(c.accepted as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn touch_conversation(
    conn: &mut SqliteConnection,
    id: i64,
    at: DateTime<Utc>,
) -> std::result::Result<u64, sqlx::Error> {
    // max() so that recording an old answer after the fact does not move
    // the conversation down the list.
    let r = sqlx::query("UPDATE conversations SET updated_at = max(updated_at, ?2) WHERE id = ?1")
        .bind(id)
        .bind(ts(at))
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

pub(crate) fn validate_outcome(outcome: &AnswerOutcome) -> Result<()> {
    if !matches!(
        outcome.status,
        MessageStatus::Complete | MessageStatus::Cancelled | MessageStatus::Failed
    ) {
        return Err(StoreError::InvalidInput(format!(
            "a finished answer must be complete, cancelled or failed, not {}",
            outcome.status
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for s in &outcome.steps {
        if !seen.insert(s.index) {
            return Err(StoreError::InvalidInput(format!(
                "step index {} is repeated",
                s.index
            )));
        }
    }
    Ok(())
}

/// Turns what a person typed into an FTS5 query that cannot be a syntax
/// error: every word becomes a quoted phrase (all must match) and the last
/// one also matches as a prefix, so results appear while typing.
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(format!("{}*", words.join(" ")))
}

impl Store {
    /// Creates an empty conversation.
    pub async fn create_conversation(&self, title: &str) -> Result<Conversation> {
        let at = now();
        // In an explicit transaction: its COMMIT reports a full disk, where
        // an autocommit `INSERT … RETURNING` read for its first row does not.
        let id = self
            .write(async |conn| {
                insert_conversation(conn, title, at, at, false)
                    .await
                    .at(&self.path)
            })
            .await?;
        Ok(Conversation {
            id,
            title: title.to_owned(),
            created_at: at,
            updated_at: at,
            pinned: false,
            deleted_at: None,
        })
    }

    /// Renames a conversation (the search index follows).
    pub async fn rename_conversation(&self, id: i64, title: &str) -> Result<()> {
        let r = sqlx::query("UPDATE conversations SET title = ?2 WHERE id = ?1")
            .bind(id)
            .bind(title)
            .execute(&self.pool)
            .await
            .at(&self.path)?;
        expect_row(r.rows_affected(), "conversation", id)
    }

    /// Pins or unpins a conversation; pinned ones list first.
    pub async fn set_pinned(&self, id: i64, pinned: bool) -> Result<()> {
        let r = sqlx::query("UPDATE conversations SET pinned = ?2 WHERE id = ?1")
            .bind(id)
            .bind(pinned)
            .execute(&self.pool)
            .await
            .at(&self.path)?;
        expect_row(r.rows_affected(), "conversation", id)
    }

    /// Moves a conversation to the bin. It disappears from lists, search and
    /// statistics until [`Store::restore_conversation`] or
    /// [`Store::purge_deleted`].
    pub async fn delete_conversation(&self, id: i64) -> Result<()> {
        let r = sqlx::query(
            "UPDATE conversations SET deleted_at = COALESCE(deleted_at, ?2) WHERE id = ?1",
        )
        .bind(id)
        .bind(ts(now()))
        .execute(&self.pool)
        .await
        .at(&self.path)?;
        expect_row(r.rows_affected(), "conversation", id)
    }

    /// Undoes [`Store::delete_conversation`].
    pub async fn restore_conversation(&self, id: i64) -> Result<()> {
        let r = sqlx::query("UPDATE conversations SET deleted_at = NULL WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await
            .at(&self.path)?;
        expect_row(r.rows_affected(), "conversation", id)
    }

    /// Empties the bin of conversations deleted more than [`crate::BIN_KEEPS`]
    /// ago (the app and `lookahead ask` call it when they open the history):
    /// what a person deleted does not stay in the file for ever. Returns how
    /// many went.
    pub async fn empty_expired_bin(&self) -> Result<u64> {
        self.purge_deleted(Some(Utc::now() - crate::BIN_KEEPS))
            .await
    }

    /// Permanently removes binned conversations deleted before `before`
    /// (all binned ones when `None`). Returns how many went.
    pub async fn purge_deleted(&self, before: Option<DateTime<Utc>>) -> Result<u64> {
        // secure_delete overwrites the freed pages with zeros, so the text
        // is gone from the file, not only from the tables (it is a setting
        // of the connection, so it is set on the one doing the delete).
        let purged = self
            .write(async |conn| {
                sqlx::query("PRAGMA secure_delete = ON")
                    .execute(&mut *conn)
                    .await
                    .at(&self.path)?;
                let r = sqlx::query(
                    "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND (?1 IS NULL OR deleted_at < ?1)",
                )
                .bind(before.map(ts))
                .execute(&mut *conn)
                .await
                .at(&self.path)?;
                sqlx::query("PRAGMA secure_delete = OFF")
                    .execute(&mut *conn)
                    .await
                    .at(&self.path)?;
                Ok(r.rows_affected())
            })
            .await?;
        if purged > 0 {
            // Old copies of the pages may still sit in the write-ahead log.
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await;
        }
        Ok(purged)
    }

    /// Conversations not in the bin: pinned first, then most recently active.
    pub async fn list_conversations(&self) -> Result<Vec<ConversationSummary>> {
        self.list_where("c.deleted_at IS NULL").await
    }

    /// Conversations in the bin, most recently active first.
    pub async fn list_deleted_conversations(&self) -> Result<Vec<ConversationSummary>> {
        self.list_where("c.deleted_at IS NOT NULL").await
    }

    async fn list_where(&self, condition: &str) -> Result<Vec<ConversationSummary>> {
        let sql = format!(
            "SELECT c.id, c.title, c.created_at, c.updated_at, c.pinned, c.deleted_at,
                    (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
             FROM conversations c
             WHERE {condition}
             ORDER BY c.pinned DESC, c.updated_at DESC, c.id DESC"
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        rows.iter()
            .map(rows::conversation_summary)
            .collect::<std::result::Result<_, _>>()
            .at(&self.path)
    }

    /// One conversation (binned or not) with all messages, steps and metrics.
    pub async fn get_conversation(&self, id: i64) -> Result<ConversationDetail> {
        // One read transaction so that the parts come from one snapshot even
        // while an answer is being saved.
        let mut tx = self.pool.begin().await.at(&self.path)?;
        let conv = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .at(&self.path)?
        .ok_or(StoreError::NotFound {
            what: "conversation",
            id,
        })?;
        let conversation = rows::conversation(&conv).at(&self.path)?;

        let message_rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 ORDER BY id"
        ))
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .at(&self.path)?;
        let step_rows = sqlx::query(
            "SELECT s.* FROM steps s JOIN messages m ON m.id = s.message_id
             WHERE m.conversation_id = ?1 ORDER BY s.message_id, s.step_index",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .at(&self.path)?;
        let metric_rows = sqlx::query(
            "SELECT a.* FROM answer_metrics a JOIN messages m ON m.id = a.message_id
             WHERE m.conversation_id = ?1",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .at(&self.path)?;
        tx.commit().await.at(&self.path)?;

        let mut messages = Vec::with_capacity(message_rows.len());
        for row in &message_rows {
            messages.push(MessageDetail {
                message: rows::message(row).at(&self.path)?,
                steps: Vec::new(),
                metrics: None,
            });
        }
        let position = |messages: &[MessageDetail], message_id: i64| {
            messages
                .binary_search_by_key(&message_id, |m| m.message.id)
                .ok()
        };
        for row in &step_rows {
            let message_id: i64 = sqlx::Row::try_get(row, "message_id").at(&self.path)?;
            if let Some(i) = position(&messages, message_id) {
                messages[i].steps.push(rows::step(row).at(&self.path)?);
            }
        }
        for row in &metric_rows {
            let message_id: i64 = sqlx::Row::try_get(row, "message_id").at(&self.path)?;
            if let Some(i) = position(&messages, message_id) {
                messages[i].metrics = Some(rows::metrics(row).at(&self.path)?);
            }
        }
        Ok(ConversationDetail {
            conversation,
            messages,
        })
    }

    /// One message with its steps and metrics (what a finished answer
    /// shows), without reading the rest of its conversation.
    pub async fn get_message(&self, id: i64) -> Result<MessageDetail> {
        let mut tx = self.pool.begin().await.at(&self.path)?;
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .at(&self.path)?
        .ok_or(StoreError::NotFound {
            what: "message",
            id,
        })?;
        let step_rows =
            sqlx::query("SELECT * FROM steps WHERE message_id = ?1 ORDER BY step_index")
                .bind(id)
                .fetch_all(&mut *tx)
                .await
                .at(&self.path)?;
        let metrics_row = sqlx::query("SELECT * FROM answer_metrics WHERE message_id = ?1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .at(&self.path)?;
        tx.commit().await.at(&self.path)?;
        Ok(MessageDetail {
            message: rows::message(&row).at(&self.path)?,
            steps: step_rows
                .iter()
                .map(rows::step)
                .collect::<std::result::Result<_, _>>()
                .at(&self.path)?,
            metrics: metrics_row
                .as_ref()
                .map(rows::metrics)
                .transpose()
                .at(&self.path)?,
        })
    }

    /// The texts of the latest `limit` complete answers, newest first, from
    /// chats not in the bin: what word drafting may look in for how this
    /// model phrases its answers.
    pub async fn recent_answer_texts(&self, limit: u32) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT m.text FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.role = 'assistant' AND m.status = 'complete' AND c.deleted_at IS NULL
             ORDER BY m.id DESC LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .at(&self.path)
    }

    /// Adds what the user asked. Saved at once, before any answer.
    pub async fn add_user_message(&self, conversation_id: i64, text: &str) -> Result<Message> {
        let at = now();
        let row = MessageRow::question(text, at);
        let id = self
            .write(async |conn| {
                self.insert_in_conversation(conn, conversation_id, &row)
                    .await
            })
            .await?;
        Ok(Message {
            id,
            conversation_id,
            role: Role::User,
            text: text.to_owned(),
            final_answer: None,
            mode: None,
            draft_model: None,
            target_model: None,
            judge_model: None,
            settings: serde_json::json!({}),
            status: MessageStatus::Complete,
            error: None,
            created_at: at,
            finished_at: Some(at),
            notes: AnswerNotes::default(),
        })
    }

    async fn insert_in_conversation(
        &self,
        conn: &mut SqliteConnection,
        conversation_id: i64,
        row: &MessageRow<'_>,
    ) -> Result<i64> {
        let touched = touch_conversation(conn, conversation_id, row.created_at)
            .await
            .at(&self.path)?;
        if touched == 0 {
            return Err(StoreError::NotFound {
                what: "conversation",
                id: conversation_id,
            });
        }
        insert_message(conn, conversation_id, row)
            .await
            .at(&self.path)
    }

    /// Saves a question and the start of its answer together, in one
    /// transaction: in `conversation` (`Ok`), or in a new conversation
    /// titled `Err(title)`. Either all of it is saved or nothing is, so no
    /// conversation is left without its question or a question without its
    /// answer row. Returns `(conversation id, question id, answer id)`;
    /// finish the answer with [`Store::finish_answer`].
    pub async fn start_answer(
        &self,
        conversation: std::result::Result<i64, &str>,
        question: &str,
        start: AnswerStart,
    ) -> Result<(i64, i64, i64)> {
        let at = now();
        let asked = MessageRow::question(question, at);
        let answer = MessageRow::answer_begun(&start, at);
        self.write(async |conn| {
            let conversation_id = match conversation {
                Ok(id) => id,
                Err(title) => insert_conversation(conn, title, at, at, false)
                    .await
                    .at(&self.path)?,
            };
            let question_id = self
                .insert_in_conversation(conn, conversation_id, &asked)
                .await?;
            let answer_id = self
                .insert_in_conversation(conn, conversation_id, &answer)
                .await?;
            Ok((conversation_id, question_id, answer_id))
        })
        .await
    }

    /// Records that an answer has started, as a message with status
    /// `in_progress` and no text yet. Finish it with
    /// [`Store::finish_answer`]; if the app dies first, the next
    /// [`Store::open`] marks it `interrupted`.
    pub async fn begin_answer(&self, conversation_id: i64, start: AnswerStart) -> Result<i64> {
        let row = MessageRow::answer_begun(&start, now());
        self.write(async |conn| {
            self.insert_in_conversation(conn, conversation_id, &row)
                .await
        })
        .await
    }

    /// Saves the text streamed so far for an answer in progress, so that a
    /// crash keeps what the user already saw. Steps and metrics wait for
    /// [`Store::finish_answer`]. Each call is a durable (synced) write: call
    /// it every second or so, not for every token.
    pub async fn update_answer_text(&self, message_id: i64, text: &str) -> Result<()> {
        let r = sqlx::query(
            "UPDATE messages SET text = ?2 WHERE id = ?1 AND status IN ('in_progress', 'interrupted')",
        )
        .bind(message_id)
        .bind(text)
        .execute(&self.pool)
        .await
        .at(&self.path)?;
        if r.rows_affected() == 0 {
            return Err(self.not_in_progress(message_id).await);
        }
        Ok(())
    }

    /// Completes an answer begun with [`Store::begin_answer`]: text, status,
    /// steps and metrics are written in one transaction.
    ///
    /// An answer another process marked `interrupted` while this one was
    /// still generating (two app instances) is finished normally.
    pub async fn finish_answer(&self, message_id: i64, outcome: AnswerOutcome) -> Result<()> {
        validate_outcome(&outcome)?;
        self.write(async |conn| {
            let finished = now();
            let conversation_id: Option<i64> = sqlx::query_scalar(
                "UPDATE messages SET text = ?2, final_answer = ?3, status = ?4, error = ?5, finished_at = ?6,
                     cut_off = ?7, turns_left_out = ?8
                 WHERE id = ?1 AND status IN ('in_progress', 'interrupted')
                 RETURNING conversation_id",
            )
            .bind(message_id)
            .bind(&outcome.text)
            .bind(outcome.final_answer.as_deref())
            .bind(outcome.status.as_str())
            .bind(outcome.error.as_deref())
            .bind(ts(finished))
            .bind(outcome.notes.cut_off)
            .bind(outcome.notes.turns_left_out)
            .fetch_optional(&mut *conn)
            .await
            .at(&self.path)?;
            let Some(conversation_id) = conversation_id else {
                return Err(self.not_in_progress(message_id).await);
            };
            // An answer finished after an interruption mark has no steps
            // yet; clear anyway so a retry cannot collide on step indices.
            sqlx::query("DELETE FROM steps WHERE message_id = ?1")
                .bind(message_id)
                .execute(&mut *conn)
                .await
                .at(&self.path)?;
            sqlx::query("DELETE FROM answer_metrics WHERE message_id = ?1")
                .bind(message_id)
                .execute(&mut *conn)
                .await
                .at(&self.path)?;
            insert_steps(conn, message_id, &outcome.steps)
                .await
                .at(&self.path)?;
            if let Some(m) = &outcome.metrics {
                insert_metrics(conn, message_id, m).await.at(&self.path)?;
            }
            touch_conversation(conn, conversation_id, finished)
                .await
                .at(&self.path)?;
            Ok(())
        })
        .await
    }

    /// Saves a finished answer, its steps and its metrics in one
    /// transaction. Returns the new message id.
    pub async fn save_answer(&self, conversation_id: i64, answer: NewAnswer) -> Result<i64> {
        validate_outcome(&answer.outcome)?;
        let created = answer.created_at.map(truncate_ms).unwrap_or_else(now);
        // Recorded after the fact: reconstruct the end from the duration.
        let finished = match (answer.created_at, &answer.outcome.metrics) {
            (Some(_), Some(m)) if m.wall_seconds.is_finite() && m.wall_seconds >= 0.0 => {
                created + chrono::Duration::milliseconds((m.wall_seconds * 1000.0) as i64)
            }
            _ => created,
        };
        let outcome = &answer.outcome;
        let row = MessageRow {
            role: Role::Assistant,
            text: &outcome.text,
            final_answer: outcome.final_answer.as_deref(),
            start: Some(&answer.start),
            status: outcome.status,
            error: outcome.error.as_deref(),
            created_at: created,
            finished_at: Some(finished),
            notes: outcome.notes,
        };
        self.write(async |conn| {
            let id = self
                .insert_in_conversation(conn, conversation_id, &row)
                .await?;
            insert_steps(conn, id, &outcome.steps)
                .await
                .at(&self.path)?;
            if let Some(m) = &outcome.metrics {
                insert_metrics(conn, id, m).await.at(&self.path)?;
            }
            Ok(id)
        })
        .await
    }

    async fn not_in_progress(&self, message_id: i64) -> StoreError {
        let exists: std::result::Result<bool, _> = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND role = 'assistant')",
        )
        .bind(message_id)
        .fetch_one(&self.pool)
        .await;
        match exists {
            Ok(true) => StoreError::NotInProgress { message_id },
            Ok(false) => StoreError::NotFound {
                what: "answer",
                id: message_id,
            },
            Err(e) => StoreError::from_sqlx(&self.path, e),
        }
    }

    /// Full-text search over conversation titles and message texts, ignoring
    /// binned conversations. Title hits come first, then message hits, each
    /// best match first. Every word must match; the last also as a prefix.
    pub async fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let limit = i64::from(limit.max(1));
        // Each half ranks and limits inside FTS5 before joining, so snippets
        // are built only for rows that are returned. Binned conversations
        // are filtered after ranking; ask for a few more to make up for them.
        let titles = sqlx::query(
            "SELECT c.id, c.title, NULL AS message_id, f.snip, f.rank FROM (
                 SELECT rowid, snippet(conversations_fts, 0, ?2, ?3, '…', 16) AS snip, rank
                 FROM conversations_fts WHERE conversations_fts MATCH ?1
                 ORDER BY rank LIMIT ?4
             ) f JOIN conversations c ON c.id = f.rowid
             WHERE c.deleted_at IS NULL
             ORDER BY f.rank",
        )
        .bind(&fts)
        .bind(MATCH_START)
        .bind(MATCH_END)
        .bind(limit * 2)
        .fetch_all(&self.pool)
        .await
        .at(&self.path)?;
        let messages = sqlx::query(
            "SELECT c.id, c.title, m.id AS message_id, f.snip, f.rank FROM (
                 SELECT rowid, snippet(messages_fts, -1, ?2, ?3, '…', 16) AS snip, rank
                 FROM messages_fts WHERE messages_fts MATCH ?1
                 ORDER BY rank LIMIT ?4
             ) f JOIN messages m ON m.id = f.rowid
               JOIN conversations c ON c.id = m.conversation_id
             WHERE c.deleted_at IS NULL
             ORDER BY f.rank",
        )
        .bind(&fts)
        .bind(MATCH_START)
        .bind(MATCH_END)
        .bind(limit * 2)
        .fetch_all(&self.pool)
        .await
        .at(&self.path)?;

        let mut hits = Vec::new();
        for row in titles.iter().chain(messages.iter()) {
            use sqlx::Row;
            hits.push(SearchHit {
                conversation_id: row.try_get("id").at(&self.path)?,
                conversation_title: row.try_get("title").at(&self.path)?,
                message_id: row.try_get("message_id").at(&self.path)?,
                snippet: row.try_get("snip").at(&self.path)?,
                rank: rows::get_f64(row, "rank")
                    .at(&self.path)?
                    .unwrap_or_default(),
            });
            if hits.len() as i64 >= limit {
                break;
            }
        }
        Ok(hits)
    }
}

fn expect_row(affected: u64, what: &'static str, id: i64) -> Result<()> {
    if affected == 0 {
        Err(StoreError::NotFound { what, id })
    } else {
        Ok(())
    }
}
