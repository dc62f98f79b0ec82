//! The Lookahead desktop shell: Tauri commands over the engine and the
//! store. The UI (ui/) calls the commands in [`commands`]; answers stream
//! back through a channel. The engine runs on its own thread.

pub mod commands;
pub mod contract;
pub mod error;
pub mod settings;
pub mod state;
pub mod views;
pub mod worker;

use std::path::PathBuf;

use tauri::{Builder, Manager, Runtime};

pub use error::{CommandError, CommandResult};
pub use state::AppState;

/// The app's data folder: `LOOKAHEAD_DATA_DIR`, else the engine's per-user
/// default (the same one the CLI uses, so both see one history).
pub fn data_dir() -> PathBuf {
    lookahead_models::data_dir()
}

/// Registers plugins and commands. Shared by the real app and the tests on
/// Tauri's mock runtime.
pub fn app_builder<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            commands::models::models_status,
            commands::models::models_fetch_default,
            commands::models::models_fetch_cancel,
            commands::models::models_import,
            commands::models::models_import_folder,
            commands::models::model_file_pick,
            commands::ask::ask,
            commands::ask::cancel,
            commands::ask::engine_prepare,
            commands::history::conversations_list,
            commands::history::conversation_get,
            commands::history::conversation_rename,
            commands::history::conversation_pin,
            commands::history::conversation_delete,
            commands::history::conversation_restore,
            commands::history::conversation_export,
            commands::history::conversation_export_to_file,
            commands::stats::stats_query,
            commands::stats::stats_csv,
            commands::stats::stats_csv_to_file,
            commands::settings::settings_get,
            commands::settings::settings_set,
            commands::settings::server_test,
            commands::settings::store_status,
            commands::settings::store_reset,
        ])
}

/// Opens the store and starts the engine thread for an app instance.
pub fn manage_state<R: Runtime>(
    app: &tauri::AppHandle<R>,
    data_dir: PathBuf,
) -> std::io::Result<()> {
    let state = tauri::async_runtime::block_on(AppState::open(data_dir))?;
    app.manage(state);
    Ok(())
}

pub fn run() {
    let result = app_builder(Builder::default())
        .setup(|app| {
            manage_state(app.handle(), data_dir())?;
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("Lookahead could not start: {error}");
        std::process::exit(1);
    }
}
