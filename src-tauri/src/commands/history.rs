use tauri::{AppHandle, Runtime, State};

use crate::commands::files::{file_name_from, save_with_dialog};

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;
use crate::views::{ConversationSummaryView, ConversationView};

#[tauri::command(rename_all = "snake_case")]
pub async fn conversations_list(
    state: State<'_, AppState>,
    query: Option<String>,
) -> CommandResult<Vec<ConversationSummaryView>> {
    let store = state.store().await?;
    let all = store.list_conversations().await?;
    let Some(query) = query.filter(|q| !q.trim().is_empty()) else {
        return Ok(all.iter().map(ConversationSummaryView::from).collect());
    };
    // Full-text hits, in rank order, one row per conversation.
    let hits = store.search(&query, 200).await?;
    let mut out = Vec::new();
    for hit in hits {
        if out
            .iter()
            .any(|c: &ConversationSummaryView| c.id == hit.conversation_id)
        {
            continue;
        }
        if let Some(summary) = all.iter().find(|c| c.id == hit.conversation_id) {
            out.push(ConversationSummaryView::from(summary));
        }
    }
    Ok(out)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_get(
    state: State<'_, AppState>,
    id: i64,
) -> CommandResult<ConversationView> {
    let store = state.store().await?;
    Ok(ConversationView::from(&store.get_conversation(id).await?))
}

#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_rename(
    state: State<'_, AppState>,
    id: i64,
    title: String,
) -> CommandResult<()> {
    if title.trim().is_empty() {
        return Err(CommandError::new(
            "invalid_title",
            "A title cannot be empty.",
        ));
    }
    Ok(state
        .store()
        .await?
        .rename_conversation(id, title.trim())
        .await?)
}

/// Pins a conversation to the top of the list, or unpins it.
#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_pin(
    state: State<'_, AppState>,
    id: i64,
    pinned: bool,
) -> CommandResult<()> {
    Ok(state.store().await?.set_pinned(id, pinned).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_delete(state: State<'_, AppState>, id: i64) -> CommandResult<()> {
    Ok(state.store().await?.delete_conversation(id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_restore(state: State<'_, AppState>, id: i64) -> CommandResult<()> {
    Ok(state.store().await?.restore_conversation(id).await?)
}

/// The save dialog's name for an export format; an unknown format is
/// refused (before anything is read).
fn export_filter(format: &str) -> CommandResult<&'static str> {
    match format {
        "md" => Ok("Markdown"),
        "json" => Ok("JSON"),
        other => Err(CommandError::new(
            "invalid_format",
            format!("Unknown export format \"{other}\"; use md or json."),
        )),
    }
}

/// A conversation as the text of an export in `format` (checked by
/// [`export_filter`]).
fn export_body(
    detail: &lookahead_store::ConversationDetail,
    format: &str,
) -> CommandResult<String> {
    Ok(if format == "json" {
        lookahead_store::render_json(detail)?
    } else {
        lookahead_store::render_markdown(detail)
    })
}

#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_export(
    state: State<'_, AppState>,
    id: i64,
    format: String,
) -> CommandResult<String> {
    export_filter(&format)?;
    let detail = state.store().await?.get_conversation(id).await?;
    export_body(&detail, &format)
}

/// Exports a conversation to a file the user picks in the save dialog,
/// opened here (the web view never names a path). Returns where it was
/// saved, or `None` when the user closed the dialog.
#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_export_to_file<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: i64,
    format: String,
) -> CommandResult<Option<String>> {
    let filter = export_filter(&format)?;
    let detail = state.store().await?.get_conversation(id).await?;
    let body = export_body(&detail, &format)?;
    let name = format!("{}.{format}", file_name_from(&detail.conversation.title));
    save_with_dialog(&app, &name, filter, &format, body).await
}
