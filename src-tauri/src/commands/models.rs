use std::path::PathBuf;

use lookahead_engine::models::{self, FetchProgress, InstalledModel, Role};
use lookahead_engine::CancelFlag;
use serde::Serialize;
use tauri::ipc::Channel;

use crate::error::{CommandError, CommandResult};

#[derive(Serialize, Clone, Debug)]
pub struct ModelInfo {
    pub role: String,
    pub name: String,
    pub path: Option<String>,
    pub bytes: Option<u64>,
    pub installed: bool,
    pub verified: bool,
}

#[derive(Serialize, Clone, Debug)]
pub struct ModelsStatus {
    /// A question can be answered: the target model is there.
    pub ready: bool,
    pub models: Vec<ModelInfo>,
}

fn info(m: &InstalledModel) -> ModelInfo {
    ModelInfo {
        role: m.role.as_str().to_string(),
        name: m.name.clone(),
        path: Some(m.path.display().to_string()),
        bytes: m.bytes,
        installed: m.installed,
        verified: m.verified,
    }
}

pub fn status() -> ModelsStatus {
    let all = models::list();
    let ready = all
        .iter()
        .any(|m| m.role == Role::Target && m.installed && m.verified);
    ModelsStatus {
        ready,
        // The tiny test model is not something a person chooses.
        models: all
            .iter()
            .filter(|m| m.role != Role::Tiny)
            .map(info)
            .collect(),
    }
}

#[tauri::command(rename_all = "snake_case")]
pub async fn models_status() -> CommandResult<ModelsStatus> {
    Ok(status())
}

/// Downloads the default models, reporting progress through `on_progress`.
#[tauri::command(rename_all = "snake_case")]
pub async fn models_fetch_default(
    state: tauri::State<'_, crate::state::AppState>,
    on_progress: Channel<FetchProgress>,
) -> CommandResult<ModelsStatus> {
    let cancel = CancelFlag::new();
    if let Ok(mut fetching) = state.fetching.lock() {
        *fetching = Some(cancel.clone());
    }
    let result = tokio::task::spawn_blocking(move || {
        let dir = models::models_dir();
        for id in models::DEFAULT_MODEL_IDS {
            let Some(spec) = models::spec(id) else {
                continue;
            };
            models::fetch(&dir, spec, &cancel, &mut |mut p| {
                // The UI matches progress to the names models_status shows.
                p.model = spec.title.to_string();
                let _ = on_progress.send(p);
            })?;
        }
        Ok::<_, CommandError>(())
    })
    .await;
    if let Ok(mut fetching) = state.fetching.lock() {
        *fetching = None;
    }
    result.map_err(CommandError::internal)??;
    Ok(status())
}

/// Stops the model download in progress (the file being fetched is
/// dropped; models already complete stay). `models_fetch_default` then
/// rejects with code `cancelled`.
#[tauri::command(rename_all = "snake_case")]
pub async fn models_fetch_cancel(
    state: tauri::State<'_, crate::state::AppState>,
) -> CommandResult<()> {
    if let Some(cancel) = state.fetching.lock().ok().and_then(|f| f.clone()) {
        cancel.cancel();
    }
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
pub async fn models_import(path: String, role: String) -> CommandResult<ModelsStatus> {
    let role: Role = role
        .parse()
        .map_err(|e: String| CommandError::new("invalid_role", e))?;
    let path = PathBuf::from(path);
    tokio::task::spawn_blocking(move || models::import(&path, role))
        .await
        .map_err(CommandError::internal)??;
    Ok(status())
}
