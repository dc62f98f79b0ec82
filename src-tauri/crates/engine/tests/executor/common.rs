//! Model paths and shared fixtures.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use lookahead_executor::{Executor, ExecutorOptions};
use lookahead_models as models;

pub const SMOL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const QWEN_DRAFT: &str = "qwen2.5-coder-0.5b-instruct-awq-q4_k_m.gguf";
pub const QWEN_TARGET: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";

pub const QUESTION: &str =
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips to her friends in May. How many clips did Natalia sell altogether in April and May?";

/// Path of a test model; panics with instructions when it is missing.
pub fn model_path(file: &str) -> PathBuf {
    let dir = models::models_dir();
    let path = dir.join(file);
    assert!(
        path.exists(),
        "test model {file} not found in {} — set LOOKAHEAD_MODELS_DIR or run `lookahead models fetch`",
        dir.display()
    );
    path
}

pub fn load(file: &str, options: ExecutorOptions) -> Arc<Executor> {
    Arc::new(Executor::load(model_path(file), options).expect("model loads"))
}

/// A fresh SmolLM2 executor (its own caches).
pub fn smol() -> Arc<Executor> {
    load(SMOL, ExecutorOptions::default())
}

/// One SmolLM2 executor shared by tests that do not look at cache state.
pub fn shared_smol() -> Arc<Executor> {
    static EXEC: OnceLock<Arc<Executor>> = OnceLock::new();
    EXEC.get_or_init(smol).clone()
}

/// The ChatML prompt the app sends for `question`.
pub fn chat(question: &str) -> String {
    lookahead_engine::parts::chat_prompt(question)
}
