use tauri::State;

use crate::error::CommandResult;
use crate::settings::{Settings, SETTINGS_KEY};
use crate::state::AppState;

#[tauri::command(rename_all = "snake_case")]
pub async fn settings_get(state: State<'_, AppState>) -> CommandResult<Settings> {
    state.settings().await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn settings_set(
    state: State<'_, AppState>,
    settings: Settings,
) -> CommandResult<Settings> {
    settings.validate()?;
    state
        .store()
        .await?
        .set_setting(SETTINGS_KEY, &settings)
        .await?;
    state.settings().await
}

/// Whether the history file is usable, and if not why (damaged, newer app,
/// locked), so the UI can offer to start a fresh one.
#[tauri::command(rename_all = "snake_case")]
pub async fn store_status(state: State<'_, AppState>) -> CommandResult<()> {
    state.store().await.map(|_| ())
}

/// With the user's consent: moves a damaged history file aside (it is kept,
/// never deleted) and starts a fresh one.
#[tauri::command(rename_all = "snake_case")]
pub async fn store_reset(state: State<'_, AppState>) -> CommandResult<Option<String>> {
    let reset = lookahead_store::Store::reset_corrupt(state.db_path()).await?;
    let moved_to = reset.moved_to.as_ref().map(|p| p.display().to_string());
    state.replace_store(Ok(reset.store)).await;
    Ok(moved_to)
}
