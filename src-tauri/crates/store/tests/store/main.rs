//! Integration tests against real SQLite files in temporary directories.
//! One test binary (faster to build and link than one per topic), one module
//! per topic.

#![allow(clippy::unwrap_used)]

mod common;

mod answers;
mod cli;
mod conversations;
mod crash;
mod export;
mod failures;
mod hardening;
mod migrations;
mod search;
mod settings;
mod stats;

// The CLI's history module, compiled here so `cargo test -p lookahead-store`
// checks it without building the engine the CLI depends on.
#[allow(dead_code)]
#[path = "../../../cli/src/history.rs"]
mod history;
