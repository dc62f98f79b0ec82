//! Files the user saves: the save dialog is opened on the Rust side and the
//! file written here, so the web view can never name a path to write.

use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;

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

/// Asks where to save `name` (filter `filter_name`, `*.extension`) and
/// writes `contents` there. `None` when the user closed the dialog.
pub async fn save_with_dialog<R: Runtime>(
    app: &AppHandle<R>,
    name: &str,
    filter_name: &str,
    extension: &str,
    contents: String,
) -> CommandResult<Option<String>> {
    let (chosen, picked) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_file_name(name)
        .add_filter(filter_name, &[extension])
        .save_file(move |path| {
            let _ = chosen.send(path);
        });
    let Some(path) = picked.await.ok().flatten() else {
        return Ok(None);
    };
    let path = path.into_path().map_err(|e| {
        CommandError::new("save_failed", "That place cannot be saved to.").with_details(e)
    })?;
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
