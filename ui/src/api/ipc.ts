// Thin, typed wrappers over Tauri's `invoke` and `Channel`.
// One function per command; argument objects are passed through unchanged
// (snake_case keys; see types.ts / CONTRACT.md).

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AskEvent,
  AskResult,
  Conversation,
  ConversationId,
  ConversationSummary,
  ExportFormat,
  FolderImport,
  ServerTest,
  FetchProgress,
  IpcError,
  IsoDate,
  ModelRole,
  ModelsStatus,
  PrepareEvent,
  RequestId,
  Settings,
  Stats,
} from "./types";

/** True for the `{code, message}` objects the shell rejects with. */
export function isIpcError(e: unknown): e is IpcError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as IpcError).code === "string" &&
    typeof (e as IpcError).message === "string"
  );
}

/** Turn anything a command can throw into an IpcError with plain words. */
export function toIpcError(e: unknown): IpcError {
  if (isIpcError(e)) return e;
  const details = e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e);
  return {
    code: "internal",
    message: "Something went wrong inside Lookahead. Please try again.",
    details,
  };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

// ---------------------------------------------------------------- models

export const modelsStatus = () => call<ModelsStatus>("models_status");

export function modelsFetchDefault(onProgress: (p: FetchProgress) => void): Promise<ModelsStatus> {
  const on_progress = new Channel<FetchProgress>();
  on_progress.onmessage = onProgress;
  return call<ModelsStatus>("models_fetch_default", { on_progress });
}

/** Stop the download in progress; modelsFetchDefault then rejects with code "cancelled". */
export const modelsFetchCancel = () => call<void>("models_fetch_cancel");

/** Add a GGUF file for a role; the shell opens the file dialog. null when the user closed it. */
export const modelsImport = (role: ModelRole) => call<ModelsStatus | null>("models_import", { role });

/** Install the default models from a folder IT copied (recognised by their contents); the shell opens the folder dialog. null when closed. */
export const modelsImportFolder = () => call<FolderImport | null>("models_import_folder");

// ---------------------------------------------------------------- asking

export function ask(
  conversation_id: ConversationId | null,
  question: string,
  settings: Settings,
  onEvent: (e: AskEvent) => void,
): Promise<AskResult> {
  const on_event = new Channel<AskEvent>();
  on_event.onmessage = onEvent;
  return call<AskResult>("ask", { conversation_id, question, settings, on_event });
}

/** Load the models the next answer needs (and time this computer once), streaming progress. */
export function enginePrepare(settings: Settings, onEvent: (e: PrepareEvent) => void): Promise<void> {
  const on_event = new Channel<PrepareEvent>();
  on_event.onmessage = onEvent;
  return call<void>("engine_prepare", { settings, on_event });
}

export const cancel = (request_id: RequestId) => call<void>("cancel", { request_id });

// ---------------------------------------------------------------- history

export const conversationsList = (query: string | null) =>
  call<ConversationSummary[]>("conversations_list", { query });

export const conversationGet = (id: ConversationId) => call<Conversation>("conversation_get", { id });

export const conversationRename = (id: ConversationId, title: string) =>
  call<void>("conversation_rename", { id, title });

export const conversationPin = (id: ConversationId, pinned: boolean) =>
  call<void>("conversation_pin", { id, pinned });

export const conversationDelete = (id: ConversationId) => call<void>("conversation_delete", { id });

export const conversationRestore = (id: ConversationId) => call<void>("conversation_restore", { id });

/** Save a conversation to a file the user picks (the shell opens the save dialog); the path, or null if cancelled. */
export const conversationExportToFile = (id: ConversationId, format: ExportFormat) =>
  call<string | null>("conversation_export_to_file", { id, format });

// ---------------------------------------------------------------- stats

export const statsQuery = (since: IsoDate | null, until: IsoDate | null) =>
  call<Stats>("stats_query", { since, until });

/** Save the per-answer CSV to a file the user picks (the shell opens the save dialog); the path, or null if cancelled. */
export const statsCsvToFile = (since: IsoDate | null, until: IsoDate | null) =>
  call<string | null>("stats_csv_to_file", { since, until });

// ---------------------------------------------------------------- settings

export const settingsGet = () => call<Settings>("settings_get");

export const settingsSet = (settings: Settings) => call<Settings>("settings_set", { settings });

/** Connect to the server these settings name and say what it serves (or why it cannot be used). */
export const serverTest = (settings: Settings) => call<ServerTest>("server_test", { settings });

/** Move a damaged history file aside (kept, renamed) and start a fresh one; returns where it went. */
export const storeReset = () => call<string | null>("store_reset");

// ---------------------------------------------------------------- dialogs (opened by the shell)

/** Ask the user for a GGUF file (the shell opens the dialog); null when they close it. */
export const pickModelFile = () => call<string | null>("model_file_pick");
