//! Record types. All are plain serde structs with snake_case fields because
//! the desktop UI receives them as JSON unchanged.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Text-valued enums are stored as the same strings serde uses, so the
/// database, the JSON export and the UI all spell them alike.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// All values, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and serialised) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {:?}", stringify!($name), other)),
                }
            }
        }
    };
}

text_enum! {
    /// Who wrote a message.
    pub enum Role { User = "user", Assistant = "assistant" }
}

text_enum! {
    /// How an answer was generated: plain decoding, speculative decoding,
    /// lookahead reasoning, or both.
    pub enum Mode { Plain = "plain", Sd = "sd", Lr = "lr", SdLr = "sd+lr" }
}

text_enum! {
    /// Life cycle of a message. User messages are always `Complete`.
    pub enum MessageStatus {
        /// Begun with `begin_answer`, not yet finished.
        InProgress = "in_progress",
        Complete = "complete",
        /// Stopped by the user; what was generated so far is kept.
        Cancelled = "cancelled",
        /// Generation failed; `error` says why.
        Failed = "failed",
        /// Was in progress when the app stopped (crash, kill, power loss).
        /// Set by `Store::open`.
        Interrupted = "interrupted",
    }
}

text_enum! {
    /// What the verifier decided about one lookahead step.
    pub enum Verdict { Accepted = "accepted", Rejected = "rejected", TargetOnly = "target_only" }
}

text_enum! {
    /// Which model's text was kept for a step.
    pub enum KeptFrom { Draft = "draft", Target = "target" }
}

text_enum! {
    /// What an installed model is used for.
    pub enum ModelRole { Draft = "draft", Target = "target", Judge = "judge" }
}

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

/// A sum written in a step, worked out again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArithmeticNote {
    /// The left-hand side as written, e.g. "13 × 4".
    pub expression: String,
    /// The result the model wrote.
    pub written: String,
    /// The exact result.
    pub exact: String,
    pub correct: bool,
    /// The calculator replaced the written result before the model went on.
    #[serde(default)]
    pub corrected: bool,
}

/// One lookahead step of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Position of the step in the answer, as the engine numbers it;
    /// unique per answer, never negative.
    pub index: i64,
    pub drafted_text: Option<String>,
    pub target_text: Option<String>,
    pub verdict: Verdict,
    pub judge_score: Option<f64>,
    pub kept_text: String,
    pub kept_from: KeptFrom,
    pub draft_ms: Option<f64>,
    pub target_ms: Option<f64>,
    pub judge_ms: Option<f64>,
    /// The sums in the step, checked (empty when it has none).
    #[serde(default)]
    pub arithmetic: Vec<ArithmeticNote>,
}

/// Acceptance counts for one draft position (first drafted token or step of
/// a window, second, ...). Counts rather than rates so that answers can be
/// pooled correctly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionCount {
    pub attempted: i64,
    pub accepted: i64,
}

/// Speed and acceptance figures for one answer. Fields a mode does not
/// produce (acceptance in plain mode, steps without lookahead reasoning)
/// are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerMetrics {
    pub prompt_tokens: i64,
    pub generated_tokens: i64,
    pub wall_seconds: f64,
    pub prefill_tokens_per_s: Option<f64>,
    pub decode_tokens_per_s: Option<f64>,
    pub time_to_first_token_s: Option<f64>,
    pub drafted_tokens: Option<i64>,
    pub accepted_tokens: Option<i64>,
    pub token_acceptance_rate: Option<f64>,
    pub mean_acceptance_length: Option<f64>,
    pub drafted_steps: Option<i64>,
    pub accepted_steps: Option<i64>,
    pub step_acceptance_rate: Option<f64>,
    /// Index 0 is the first position after the verified prefix.
    pub per_position_acceptance: Option<Vec<PositionCount>>,
    pub speedup_estimate: Option<f64>,
    /// Why step speculation was switched off partway (the slowdown guard,
    /// or a draft that failed); `None` when it was not. Absent from
    /// exports made before it existed.
    #[serde(default)]
    pub speculation_stopped: Option<String>,
    /// It was the slowdown guard that switched it off (step speculation ran
    /// slower than plain decoding).
    #[serde(default)]
    pub guard_stopped: bool,
}

/// A message together with its steps and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: Message,
    pub steps: Vec<Step>,
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
    pub steps: Vec<Step>,
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

/// A model file the app has installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstalledModel {
    pub id: i64,
    pub path: String,
    pub role: ModelRole,
    pub size_bytes: i64,
    pub sha256: Option<String>,
    pub installed_at: DateTime<Utc>,
}

/// Input for [`crate::Store::upsert_model`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewModel {
    pub path: String,
    pub role: ModelRole,
    pub size_bytes: i64,
    pub sha256: Option<String>,
}
