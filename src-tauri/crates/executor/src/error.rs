//! What can go wrong in the executor, typed; the engine turns these into its
//! own errors (and plain words) at the seam.

use std::path::PathBuf;

/// An executor failure.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("model file not found: {path}")]
    ModelMissing { path: PathBuf },
    #[error("model file is not a usable GGUF ({path}): {reason}")]
    ModelCorrupt { path: PathBuf, reason: String },
    /// A model, tensor type or tokenizer the executor has no code for (the
    /// engine falls back to mistral.rs).
    #[error("unsupported model: {0}")]
    Unsupported(String),
    #[error("the input is too long: {tokens} tokens, the limit is {limit}")]
    PromptTooLong { tokens: usize, limit: usize },
    #[error("model loading failed: {0}")]
    Load(String),
    #[error("forward pass failed: {0}")]
    Generation(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
}

pub type Result<T, E = ExecutorError> = std::result::Result<T, E>;
