//! Every app command is declared here, so the web view may call only the
//! ones its capability (capabilities/default.json) grants: a command the UI
//! does not use cannot be reached from the page at all.

/// The app's commands (the handler list in src/lib.rs).
const COMMANDS: &[&str] = &[
    "models_status",
    "models_fetch_default",
    "models_fetch_cancel",
    "models_import",
    "models_import_folder",
    "model_file_pick",
    "ask",
    "cancel",
    "engine_prepare",
    "conversations_list",
    "conversation_get",
    "conversation_rename",
    "conversation_pin",
    "conversation_delete",
    "conversation_restore",
    "conversation_export",
    "conversation_export_to_file",
    "stats_query",
    "stats_csv",
    "stats_csv_to_file",
    "settings_get",
    "settings_set",
    "server_test",
    "store_status",
    "store_reset",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
