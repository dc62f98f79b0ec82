use serde::Serialize;

/// What a command rejects with: a stable code for the UI's logic, a message
/// in plain words to show as is, and technical details for a "details" fold.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CommandError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
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

    pub fn with_details(mut self, details: impl ToString) -> Self {
        self.details = Some(details.to_string());
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
