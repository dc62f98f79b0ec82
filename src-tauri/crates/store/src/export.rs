//! Conversation export (Markdown, JSON) and JSON import.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::conversations::{
    insert_conversation, insert_message, insert_metrics, insert_steps, MessageRow,
};
use crate::error::{Result, SqlxResultExt, StoreError};
use crate::model::*;
use crate::{now, truncate_ms, Store};

/// Value of [`ConversationExport::format`].
pub const EXPORT_FORMAT: &str = "lookahead-conversation";
/// Current [`ConversationExport::version`]; imports accept this and older.
/// Version 2: steps and metrics in the shared vocabulary (`drafted`,
/// `target`, `text`; `proposed`; the full metrics); version 1's spellings
/// still read.
pub const EXPORT_VERSION: u32 = 2;

/// The JSON export file: a conversation with everything in it, plus a
/// header that lets import recognise the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationExport {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub conversation: ConversationDetail,
}

impl Store {
    /// A conversation as pretty-printed JSON ([`ConversationExport`]).
    pub async fn export_json(&self, conversation_id: i64) -> Result<String> {
        render_json(&self.get_conversation(conversation_id).await?)
    }

    /// A conversation as a readable Markdown document.
    pub async fn export_markdown(&self, conversation_id: i64) -> Result<String> {
        Ok(render_markdown(
            &self.get_conversation(conversation_id).await?,
        ))
    }

    /// Imports a JSON export as a new conversation (new ids, same content)
    /// in one transaction. Returns the new conversation's id.
    pub async fn import_json(&self, json: &str) -> Result<i64> {
        // Format and version first: a newer export is named as such, not
        // as "not an export" because a field it added or renamed fails the
        // full parse.
        #[derive(serde::Deserialize)]
        struct Header {
            format: String,
            version: u32,
        }
        let header: Header =
            serde_json::from_str(json).map_err(|e| StoreError::InvalidImport(e.to_string()))?;
        if header.format != EXPORT_FORMAT {
            return Err(StoreError::InvalidImport(format!(
                "format is {:?}, expected {EXPORT_FORMAT:?}",
                header.format
            )));
        }
        if header.version > EXPORT_VERSION {
            return Err(StoreError::NewerExport {
                version: header.version,
            });
        }
        let export: ConversationExport =
            serde_json::from_str(json).map_err(|e| StoreError::InvalidImport(e.to_string()))?;
        self.import_conversation(&export.conversation).await
    }

    /// Inserts a conversation read from elsewhere (ids are ignored).
    pub async fn import_conversation(&self, detail: &ConversationDetail) -> Result<i64> {
        let c = &detail.conversation;
        self.write(async |conn| {
            let id = insert_conversation(
                conn,
                &c.title,
                truncate_ms(c.created_at),
                truncate_ms(c.updated_at),
                c.pinned,
            )
            .await
            .at(&self.path)?;
            for m in &detail.messages {
                let msg = &m.message;
                let start = match (msg.role, msg.mode) {
                    (Role::Assistant, Some(mode)) => Some(AnswerStart {
                        mode,
                        draft_model: msg.draft_model.clone(),
                        target_model: msg.target_model.clone(),
                        judge_model: msg.judge_model.clone(),
                        settings: msg.settings.clone(),
                    }),
                    _ => None,
                };
                // An answer that was still running in the exporting app is not
                // running here.
                let status = match msg.status {
                    MessageStatus::InProgress => MessageStatus::Interrupted,
                    s => s,
                };
                let row = MessageRow {
                    role: msg.role,
                    text: &msg.text,
                    final_answer: msg.final_answer.as_deref(),
                    start: start.as_ref(),
                    status,
                    error: msg.error.as_deref(),
                    created_at: truncate_ms(msg.created_at),
                    finished_at: msg.finished_at.map(truncate_ms),
                    notes: msg.notes,
                };
                let message_id = insert_message(conn, id, &row).await.at(&self.path)?;
                insert_steps(conn, message_id, &m.steps)
                    .await
                    .at(&self.path)?;
                if let Some(metrics) = &m.metrics {
                    insert_metrics(conn, message_id, metrics)
                        .await
                        .at(&self.path)?;
                }
            }
            Ok(id)
        })
        .await
    }
}

/// A conversation as pretty-printed JSON ([`ConversationExport`]), stamped
/// now.
pub fn render_json(detail: &ConversationDetail) -> Result<String> {
    let export = ConversationExport {
        format: EXPORT_FORMAT.to_owned(),
        version: EXPORT_VERSION,
        exported_at: now(),
        conversation: detail.clone(),
    };
    Ok(serde_json::to_string_pretty(&export)?)
}

/// Renders a conversation as Markdown: each message under a heading, answers
/// with their final answer, steps (in a collapsible table) and metrics.
pub fn render_markdown(detail: &ConversationDetail) -> String {
    let c = &detail.conversation;
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "# {}\n", html_text(&one_line(&c.title)));
    let _ = writeln!(
        out,
        "_Started {} · last active {}_\n",
        c.created_at.format("%Y-%m-%d %H:%M UTC"),
        c.updated_at.format("%Y-%m-%d %H:%M UTC")
    );
    for m in &detail.messages {
        let msg = &m.message;
        match msg.role {
            Role::User => {
                let _ = writeln!(out, "## You\n");
            }
            Role::Assistant => {
                let mut heading = String::from("## Lookahead");
                let mut parts = Vec::new();
                if let Some(mode) = msg.mode {
                    parts.push(mode.to_string());
                }
                match (&msg.draft_model, &msg.target_model) {
                    (Some(d), Some(t)) => {
                        parts.push(format!("{} → {}", html_text(d), html_text(t)))
                    }
                    (None, Some(t)) => parts.push(html_text(t)),
                    (Some(d), None) => parts.push(html_text(d)),
                    (None, None) => {}
                }
                if let Some(j) = &msg.judge_model {
                    parts.push(format!("judge {}", html_text(j)));
                }
                if !parts.is_empty() {
                    let _ = write!(heading, " ({})", parts.join(" · "));
                }
                let _ = writeln!(out, "{heading}\n");
            }
        }
        let _ = writeln!(
            out,
            "_{}_\n",
            msg.created_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        if !msg.text.is_empty() {
            let _ = writeln!(out, "{}\n", html_text(msg.text.trim_end()));
        }
        if let Some(answer) = &msg.final_answer {
            let _ = writeln!(out, "**Final answer:** {}\n", html_text(answer.trim_end()));
        }
        if msg.role == Role::Assistant && msg.status != MessageStatus::Complete {
            let _ = write!(out, "> Status: {}", msg.status);
            if let Some(e) = &msg.error {
                let _ = write!(out, " — {}", html_text(&one_line(e)));
            }
            let _ = writeln!(out, "\n");
        }
        if !m.steps.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>{} steps</summary>\n\n\
                 | # | Verdict | Judge score | Kept from | Kept text | Draft ms | Target ms | Judge ms |\n\
                 |---|---|---|---|---|---|---|---|",
                m.steps.len()
            );
            for s in &m.steps {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    // Numbered from 1 for people, as in the app.
                    s.index + 1,
                    s.verdict,
                    opt_num(s.judge_score, 2),
                    s.kept_from,
                    table_cell(&s.text),
                    opt_num(s.draft_ms, 1),
                    opt_num(s.target_ms, 1),
                    opt_num(s.judge_ms, 1),
                );
            }
            let _ = writeln!(out, "\n</details>\n");
        }
        if let Some(x) = &m.metrics {
            let _ = writeln!(out, "| Metric | Value |\n|---|---|");
            let mut row = |name: &str, value: String| {
                if !value.is_empty() {
                    let _ = writeln!(out, "| {name} | {value} |");
                }
            };
            row("Prompt tokens", x.prompt_tokens.to_string());
            row("Generated tokens", x.generated_tokens.to_string());
            row("Wall time (s)", format!("{:.2}", x.wall_seconds));
            row(
                "Time to first token (s)",
                opt_num(Some(x.time_to_first_token_s), 2),
            );
            row("Prefill tokens/s", opt_num(Some(x.prefill_tokens_per_s), 1));
            row("Decode tokens/s", opt_num(Some(x.decode_tokens_per_s), 1));
            row("Drafted tokens", opt_int(x.drafted_tokens));
            row("Accepted tokens", opt_int(x.accepted_tokens));
            row("Token acceptance", opt_pct(x.token_acceptance_rate));
            row(
                "Mean acceptance length",
                opt_num(x.mean_acceptance_length, 2),
            );
            row("Drafted steps", opt_int(x.drafted_steps));
            row("Accepted steps", opt_int(x.accepted_steps));
            row("Step acceptance", opt_pct(x.step_acceptance_rate));
            row(
                "Speed-up (estimate)",
                x.speedup_estimate
                    .map(|v| format!("{v:.2}×"))
                    .unwrap_or_default(),
            );
            if let Some(reason) = &x.speculation_stopped {
                row("Step drafting switched off", html_text(&one_line(reason)));
            }
            let _ = writeln!(out);
        }
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text as Markdown shows it, never as HTML: `&`, `<` and `>` escaped, so
/// a viewer that renders HTML in Markdown runs nothing from model text.
fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn table_cell(text: &str) -> String {
    html_text(text)
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

fn opt_num(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| format!("{v:.decimals$}")).unwrap_or_default()
}

fn opt_int(v: Option<usize>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn opt_pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_default()
}
