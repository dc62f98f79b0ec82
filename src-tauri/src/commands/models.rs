use std::path::PathBuf;

use lookahead_engine::CancelFlag;
use lookahead_models::{self as models, FetchProgress, InstalledModel, Role};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;

use crate::commands::files::{self, Dialog};

use crate::error::{CommandError, CommandResult};

#[derive(Serialize, Clone, Debug, ts_rs::TS)]
pub struct ModelInfo {
    #[ts(type = "ModelRole")]
    pub role: String,
    pub name: String,
    pub path: Option<String>,
    pub bytes: Option<u64>,
    pub installed: bool,
    pub verified: bool,
}

#[derive(Serialize, Clone, Debug, ts_rs::TS)]
pub struct ModelsStatus {
    /// A question can be answered: the target model is there.
    pub ready: bool,
    pub models: Vec<ModelInfo>,
}

fn info(m: &InstalledModel) -> ModelInfo {
    ModelInfo {
        role: m.role.as_str().to_string(),
        name: m.name.clone(),
        // Where the file is; none while it is not on disk (the contract's `path`).
        path: m.installed.then(|| m.path.display().to_string()),
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
    let work = state.model_work();
    let cancel = work.cancel.clone();
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
    drop(work);
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

/// Adds a GGUF file for `role`: the shell opens the file dialog itself, so
/// the page never names a path. `None` when the user closed the dialog.
#[tauri::command(rename_all = "snake_case")]
pub async fn models_import<R: Runtime>(
    app: AppHandle<R>,
    role: String,
) -> CommandResult<Option<ModelsStatus>> {
    let role = parse_role(&role)?;
    let Some(path) = pick_model_file(&app).await? else {
        return Ok(None);
    };
    import_file(path, role).await.map(Some)
}

/// Registers the GGUF at `path` for `role` (checked as a GGUF first).
pub async fn import_file(path: PathBuf, role: Role) -> CommandResult<ModelsStatus> {
    tokio::task::spawn_blocking(move || models::import(&path, role))
        .await
        .map_err(CommandError::internal)??;
    Ok(status())
}

/// What a folder import found.
#[derive(Serialize, Clone, Debug, ts_rs::TS)]
pub struct FolderImport {
    /// The friendly names of the models installed from the folder.
    pub added: Vec<String>,
    pub status: ModelsStatus,
}

/// Installs the default models from a folder someone copied (the shell
/// opens the folder dialog): files are recognised by size and sha256,
/// whatever their names. `None` when the user closed the dialog; an error
/// in plain words when the folder held none of the missing models.
#[tauri::command(rename_all = "snake_case")]
pub async fn models_import_folder<R: Runtime>(
    app: AppHandle<R>,
    state: tauri::State<'_, crate::state::AppState>,
) -> CommandResult<Option<FolderImport>> {
    let picked = files::chosen_path(
        app.dialog().file(),
        Dialog::PickFolder,
        ("invalid_folder", "That folder cannot be read."),
    )
    .await?;
    let Some(folder) = picked else {
        return Ok(None);
    };
    let work = state.model_work();
    import_folder(folder, work.cancel.clone()).await.map(Some)
}

/// Installs the catalog models found in `folder` (see `models_import_folder`).
pub async fn import_folder(folder: PathBuf, cancel: CancelFlag) -> CommandResult<FolderImport> {
    let shown = folder.display().to_string();
    let added = tokio::task::spawn_blocking(move || {
        models::import_folder(&models::models_dir(), &folder, &cancel)
    })
    .await
    .map_err(CommandError::internal)??;
    if added.is_empty() {
        return Err(CommandError::new(
            "no_models_found",
            format!(
                "No Lookahead model files were found in {shown}. It should hold the files of Lookahead's model packages (any names: they are recognised by their contents), for example a copy of the models folder of a computer where Lookahead already works."
            ),
        ));
    }
    Ok(FolderImport {
        added: added
            .iter()
            .map(|spec| friendly_name(spec.role).to_string())
            .collect(),
        status: status(),
    })
}

/// A GGUF file the user picks (the shell opens the dialog), for Settings'
/// model fields. `None` when the user closed the dialog.
#[tauri::command(rename_all = "snake_case")]
pub async fn model_file_pick<R: Runtime>(app: AppHandle<R>) -> CommandResult<Option<String>> {
    Ok(pick_model_file(&app)
        .await?
        .map(|p| p.display().to_string()))
}

async fn pick_model_file<R: Runtime>(app: &AppHandle<R>) -> CommandResult<Option<PathBuf>> {
    files::chosen_path(
        app.dialog().file().add_filter("GGUF model", &["gguf"]),
        Dialog::PickFile,
        ("invalid_model", "That file cannot be read."),
    )
    .await
}

fn parse_role(role: &str) -> CommandResult<Role> {
    role.parse()
        .map_err(|e: String| CommandError::new("invalid_role", e))
}

/// The name people see for each model (as the UI's ROLE_LABEL).
fn friendly_name(role: Role) -> &'static str {
    match role {
        Role::Target => "Main model",
        Role::Draft => "Helper model",
        Role::Embedding => "Meaning checker",
        Role::Judge => "Checker model",
        Role::Tiny => "Test model",
    }
}
