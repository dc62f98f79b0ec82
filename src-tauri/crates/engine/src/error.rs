use std::path::PathBuf;

/// Everything the engine can refuse or fail at. Each variant carries the
/// context a person needs; [`EngineError::user_message`] says it in plain words.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("model file not found: {path}")]
    ModelMissing { role: String, path: PathBuf },
    #[error("model file is not a usable GGUF ({path}): {reason}")]
    ModelCorrupt { path: PathBuf, reason: String },
    #[error("models cannot be paired: {draft} and {target} use different tokenizers ({detail})")]
    TokenizerMismatch {
        draft: String,
        target: String,
        detail: String,
    },
    #[error("unsupported model: {0}")]
    Unsupported(String),
    #[error("the question is empty")]
    EmptyPrompt,
    /// An option out of range, said in plain words.
    #[error("invalid option: {0}")]
    InvalidOptions(String),
    #[error("the question is too long: {tokens} tokens, the limit is {limit}")]
    PromptTooLong { tokens: usize, limit: usize },
    #[error("model loading failed: {0}")]
    Load(String),
    #[error("generation failed: {0}")]
    Generation(String),
    #[error("judge failed: {0}")]
    Judge(String),
    #[error("download failed: {0}")]
    Fetch(String),
    #[error("checksum mismatch for {file}: expected {expected}, got {actual}")]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("cancelled")]
    Cancelled,
    /// A model on an inference server could not be used.
    #[error("model server: {0}")]
    Server(#[from] crate::server::ServerError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl From<lookahead_executor::ExecutorError> for EngineError {
    /// The executor's failures, in the engine's words (the role of a missing
    /// file is filled in where the engine knows it).
    fn from(e: lookahead_executor::ExecutorError) -> Self {
        use lookahead_executor::ExecutorError as X;
        match e {
            X::ModelMissing { path } => Self::ModelMissing {
                role: "model".into(),
                path,
            },
            X::ModelCorrupt { path, reason } => Self::ModelCorrupt { path, reason },
            X::Unsupported(why) => Self::Unsupported(why),
            X::PromptTooLong { tokens, limit } => Self::PromptTooLong { tokens, limit },
            X::Load(why) => Self::Load(why),
            X::Generation(why) => Self::Generation(why),
            X::Io(e) => Self::Io(e),
            X::Tensor(e) => Self::Tensor(e),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// A stable, machine-readable code for front ends.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ModelMissing { .. } => "model_missing",
            Self::ModelCorrupt { .. } => "model_corrupt",
            Self::TokenizerMismatch { .. } => "tokenizer_mismatch",
            Self::Unsupported(_) => "unsupported_model",
            Self::EmptyPrompt => "empty_prompt",
            Self::InvalidOptions(_) => "invalid_options",
            Self::PromptTooLong { .. } => "prompt_too_long",
            Self::Load(_) => "load_failed",
            Self::Generation(_) => "generation_failed",
            Self::Judge(_) => "judge_failed",
            Self::Fetch(_) => "fetch_failed",
            Self::Checksum { .. } => "checksum_mismatch",
            Self::Cancelled => "cancelled",
            Self::Server(e) => e.code(),
            Self::Io(e) if e.raw_os_error() == Some(28) => "disk_full",
            Self::Io(_) => "io",
            Self::Tensor(_) => "tensor",
        }
    }

    /// The error in plain words, for people who are not technical.
    pub fn user_message(&self) -> String {
        match self {
            Self::ModelMissing { role, path } => format!(
                "The {role} model file is missing ({}). Use \"Get the default models\" or import a model file.",
                path.display()
            ),
            Self::ModelCorrupt { path, .. } => format!(
                "The model file {} is damaged or incomplete. Download it again or choose another file.",
                path.display()
            ),
            Self::TokenizerMismatch { draft, target, .. } => format!(
                "The helper model \"{draft}\" and the main model \"{target}\" do not speak the same vocabulary, so they cannot work together. Pick two models of the same family."
            ),
            Self::Unsupported(what) => format!("This model is not supported: {what}."),
            Self::EmptyPrompt => "Please type a question first.".to_string(),
            Self::InvalidOptions(what) => what.clone(),
            Self::PromptTooLong { tokens, limit } => format!(
                "The question is too long ({tokens} pieces of text; at most {limit} fit). Please shorten it."
            ),
            Self::Load(_) => "The model could not be loaded. It may be damaged, or the computer may not have enough free memory.".to_string(),
            Self::Generation(_) => "Something went wrong while writing the answer. Please try again.".to_string(),
            Self::Judge(_) => "The step checker failed; the answer continued without it.".to_string(),
            // The detail (which package, pip's last line) goes to Details;
            // the sentence says what to do.
            Self::Fetch(_) => "The models could not be downloaded. Check that this computer is connected to the internet, then choose Try again. If it cannot go online, choose \"Use a model file I have\" to add model files your IT team copied.".to_string(),
            Self::Checksum { file, .. } => format!(
                "The downloaded file {file} is not the expected one (its checksum differs). It was removed; please try again."
            ),
            Self::Cancelled => "Stopped.".to_string(),
            Self::Server(e) => e.user_message(),
            Self::Io(e) if e.raw_os_error() == Some(28) => {
                "The disk is full. Free some space and try again.".to_string()
            }
            Self::Io(e) => format!("A file could not be read or written: {e}"),
            Self::Tensor(_) => "The model computation failed. Please try again.".to_string(),
        }
    }
}
