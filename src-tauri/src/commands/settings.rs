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
    mut settings: Settings,
) -> CommandResult<Settings> {
    settings.validate()?;
    // A new server key goes to its own file, never into the history.
    if !settings.server_key.trim().is_empty() {
        state.save_server_key(&settings.server_url, &settings.server_key)?;
    }
    settings.server_key.clear();
    settings.server_key_saved = false;
    state
        .store()
        .await?
        .set_setting(SETTINGS_KEY, &settings)
        .await?;
    state.settings().await
}

/// What "Test connection" found on the server.
#[derive(serde::Serialize, Clone, Debug, ts_rs::TS)]
pub struct ServerTest {
    /// The main model's name on the server.
    pub model: String,
    /// How many tokens one conversation may hold there.
    pub context_tokens: usize,
    /// The helper model's name there, when the helper runs on it too.
    pub draft_model: Option<String>,
}

/// Connects to the server `settings` name (with the key typed there, else
/// the kept one) and reports what it serves; fails in plain words (server
/// down, key refused, no such model).
#[tauri::command(rename_all = "snake_case")]
pub async fn server_test(
    state: State<'_, AppState>,
    settings: Settings,
) -> CommandResult<ServerTest> {
    let typed = settings.server_key.trim().to_string();
    let mut settings = state.with_server_key(Settings {
        models_location: lookahead_domain::ModelsLocation::Server,
        ..settings
    });
    settings.validate()?;
    if !typed.is_empty() {
        settings.server_key_kept = Some(typed);
    }
    tokio::task::spawn_blocking(move || {
        use lookahead_engine::ServerGenerator;
        use lookahead_engine::StepGenerator;
        let target = settings.target_server().ok_or_else(|| {
            crate::error::CommandError::new("invalid_settings", "No server is set.")
        })?;
        let main = ServerGenerator::connect(&target)?;
        let draft_model = match settings.draft_server() {
            Some(draft) => Some(ServerGenerator::connect(&draft)?.name().to_string()),
            None => None,
        };
        Ok(ServerTest {
            model: main.name().to_string(),
            context_tokens: main.context_limit(),
            draft_model,
        })
    })
    .await
    .map_err(crate::error::CommandError::internal)?
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
