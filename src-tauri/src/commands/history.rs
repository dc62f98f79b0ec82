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

#[tauri::command(rename_all = "snake_case")]
pub async fn conversation_export(
    state: State<'_, AppState>,
    id: i64,
    format: String,
) -> CommandResult<String> {
    let store = state.store().await?;
    match format.as_str() {
        "md" => Ok(store.export_markdown(id).await?),
        "json" => Ok(store.export_json(id).await?),
        other => Err(CommandError::new(
            "invalid_format",
            format!("Unknown export format \"{other}\"; use md or json."),
        )),
    }
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
    let store = state.store().await?;
    let (body, filter) = match format.as_str() {
        "md" => (store.export_markdown(id).await?, "Markdown"),
        "json" => (store.export_json(id).await?, "JSON"),
        other => {
            return Err(CommandError::new(
                "invalid_format",
                format!("Unknown export format \"{other}\"; use md or json."),
            ))
        }
    };
    let title = store.get_conversation(id).await?.conversation.title;
    let name = format!("{}.{format}", file_name_from(&title));
    save_with_dialog(&app, &name, filter, &format, body).await
}
