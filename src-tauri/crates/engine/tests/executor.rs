//! Equivalence tests of the batched executor and token-level speculation on
//! real models: SmolLM2-135M (runs in CI in a few minutes on two cores) and,
//! `#[ignore]`d, the Qwen2.5-Coder 1.5B / 0.5B pair.
//!
//! Models are read from `$LOOKAHEAD_MODELS_DIR` (else the app's model
//! folder); a missing model fails the test with instructions, it never
//! skips.
#![allow(clippy::unwrap_used)]

#[path = "executor/common.rs"]
mod common;

#[path = "executor/bad_input.rs"]
mod bad_input;
#[path = "executor/forward.rs"]
mod forward;
#[path = "executor/generator.rs"]
mod generator;
#[path = "executor/mistral.rs"]
mod mistral;
#[path = "executor/qwen.rs"]
mod qwen;
#[path = "executor/speculative.rs"]
mod speculative;
#[path = "executor/tokenizer.rs"]
mod tokenizer;
