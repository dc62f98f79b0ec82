use serde::Serialize;
use ts_rs::TS;

/// What a command rejects with: a stable code for the UI's logic, a message
/// in plain words to show as is, and technical details for a "details" fold.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct CommandError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub details: Option<String>,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            details: None,
        }
    }

    /// Technical details for the "details" fold: the error's own words,
    /// without a backtrace (candle appends one when RUST_BACKTRACE is set:
    /// dozens of lines of build-machine paths nobody can act on).
    pub fn with_details(mut self, details: impl ToString) -> Self {
        self.details = Some(without_backtrace(&details.to_string()));
        self
    }

    pub fn internal(details: impl ToString) -> Self {
        Self::new(
            "internal",
            "Something went wrong inside Lookahead. Please try again.",
        )
        .with_details(details)
    }
}

impl From<lookahead_engine::EngineError> for CommandError {
    fn from(e: lookahead_engine::EngineError) -> Self {
        Self::new(e.code(), e.user_message()).with_details(&e)
    }
}

impl From<lookahead_store::StoreError> for CommandError {
    fn from(e: lookahead_store::StoreError) -> Self {
        Self::new(e.code(), e.user_message()).with_details(&e)
    }
}

pub type CommandResult<T> = Result<T, CommandError>;

/// `text` up to where a backtrace starts.
fn without_backtrace(text: &str) -> String {
    let cut = ["\nStack backtrace:", "\nstack backtrace:", "\n   0: "]
        .iter()
        .filter_map(|marker| text.find(marker))
        .min()
        .unwrap_or(text.len());
    text[..cut].trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_leave_backtraces_out() {
        let candle = "unknown magic 0x73696874\nStack backtrace:\n   0: candle_core::error::Error::bt\n             at /root/.cargo/registry/src/candle-core/src/error.rs:263:25\n   1: ...";
        let e = CommandError::new("model_corrupt", "damaged").with_details(candle);
        assert_eq!(e.details.as_deref(), Some("unknown magic 0x73696874"));
        let plain = CommandError::internal("line one\nline two");
        assert_eq!(plain.details.as_deref(), Some("line one\nline two"));
    }
}
