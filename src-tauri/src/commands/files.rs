//! File dialogs, opened on the Rust side: files the user saves are written
//! here, and files and folders the user picks come back as paths, so the
//! web view never names a path to read or write.

use std::path::PathBuf;

use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::{DialogExt, FileDialogBuilder};

use crate::error::{CommandError, CommandResult};

/// A file name from a conversation title: characters file systems refuse
/// (and control characters) become spaces, at most 80 characters.
pub fn file_name_from(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| {
            if c.is_control() || "\\/:*?\"<>|".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let base: String = cleaned
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(80)
        .collect();
    if base.trim().is_empty() {
        "conversation".to_string()
    } else {
        base.trim().to_string()
    }
}

/// Which file dialog to show.
pub enum Dialog {
    PickFile,
    PickFolder,
    Save,
}

/// Shows `dialog` (built with its filters and names) and waits for the
/// user: the path chosen, `None` when they closed it, or `refused` (code,
/// message) when the choice is not a path on this computer.
pub async fn chosen_path<R: Runtime>(
    dialog: FileDialogBuilder<R>,
    kind: Dialog,
    refused: (&str, &str),
) -> CommandResult<Option<PathBuf>> {
    let (chosen, picked) = tokio::sync::oneshot::channel();
    let answer = move |path| {
        let _ = chosen.send(path);
    };
    match kind {
        Dialog::PickFile => dialog.pick_file(answer),
        Dialog::PickFolder => dialog.pick_folder(answer),
        Dialog::Save => dialog.save_file(answer),
    }
    let Some(path) = picked.await.ok().flatten() else {
        return Ok(None);
    };
    path.into_path()
        .map(Some)
        .map_err(|e| CommandError::new(refused.0, refused.1).with_details(e))
}

/// Asks where to save `name` (filter `filter_name`, `*.extension`) and
/// writes `contents` there. `None` when the user closed the dialog.
pub async fn save_with_dialog<R: Runtime>(
    app: &AppHandle<R>,
    name: &str,
    filter_name: &str,
    extension: &str,
    contents: String,
) -> CommandResult<Option<String>> {
    let dialog = app
        .dialog()
        .file()
        .set_file_name(name)
        .add_filter(filter_name, &[extension]);
    let picked = chosen_path(
        dialog,
        Dialog::Save,
        ("save_failed", "That place cannot be saved to."),
    )
    .await?;
    let Some(path) = picked else {
        return Ok(None);
    };
    tokio::fs::write(&path, contents).await.map_err(|e| {
        let message = if e.raw_os_error() == Some(28) {
            "The disk is full. Free some space and try again.".to_string()
        } else {
            format!("The file could not be saved to {}.", path.display())
        };
        CommandError::new("save_failed", message).with_details(e)
    })?;
    Ok(Some(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::file_name_from;

    #[test]
    fn file_names_keep_the_title_without_path_characters() {
        assert_eq!(
            file_name_from("Printer cartridge costs"),
            "Printer cartridge costs"
        );
        assert_eq!(file_name_from("a/b\\c: <d>?\u{1b}[31m"), "a b c d [31m");
        assert_eq!(file_name_from("../../.bashrc"), ".. .. .bashrc");
        assert_eq!(file_name_from("  //  "), "conversation");
        assert_eq!(file_name_from(&"x".repeat(200)).len(), 80);
    }
}
