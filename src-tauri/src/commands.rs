//! Every command the UI can call, grouped by domain. Commands live in
//! modules (a `#[tauri::command] pub fn` in the crate root clashes with the
//! macro's generated items).

pub mod ask;
pub mod files;
pub mod history;
pub mod models;
pub mod settings;
pub mod stats;
