// The IPC contract between the web UI and the Tauri shell (src-tauri).
//
// The types come from the Rust ones the shell sends and receives,
// generated into ./generated.ts (src-tauri/src/contract.rs; a Rust test
// fails when that file is stale), so the page, the end-to-end mock and the
// shell cannot drift apart. This file only names them the way the UI talks
// and adds what is not a Rust type yet.
//
// Field names are snake_case on both sides, including command *arguments*:
// the Rust commands are declared `#[tauri::command(rename_all = "snake_case")]`
// so that `invoke("ask", { conversation_id, ... })` reaches
// `fn ask(conversation_id: ...)`. See CONTRACT.md for the contract in prose.

import type {
  AnswerMetrics,
  BucketView,
  CommandError,
  ConfigView,
  ConversationSummaryView,
  ConversationView,
  DayView,
  MessageView,
  PositionView,
  StatsView,
  TotalsView,
} from "./generated";

export type {
  ArithmeticCheck,
  AskEvent,
  AskResult,
  FetchProgress,
  FetchStage,
  FolderImport,
  JudgeKind,
  JudgeModel,
  KeptFrom,
  MessageStatus,
  Mode,
  ModeChoice,
  ModelInfo,
  ModelRole,
  ModelsLocation,
  ModelsStatus,
  PositionCount,
  PrepareEvent,
  SdProposer,
  ServerTest,
  Settings,
  Stage,
  StepRecord,
  Theme,
  Verdict,
} from "./generated";

/** Row id of a conversation (SQLite integer). */
export type ConversationId = number;
/** Row id of a message (SQLite integer). */
export type MessageId = number;
/** Opaque id of one running `ask`, used by `cancel`. */
export type RequestId = string;
/** ISO 8601 timestamp, e.g. "2026-11-28T09:15:02Z". */
export type IsoDateTime = string;
/** Calendar day, "YYYY-MM-DD" (local time of the machine). */
export type IsoDate = string;

/** What every command rejects with. `message` is plain words, shown as is. */
export type IpcError = CommandError;

/** An answer's figures. */
export type Metrics = AnswerMetrics;
/** A message with its steps and figures, as in conversation_get. */
export type Message = MessageView;
/** One assistant message, as in conversation_get. */
export type AnswerView = MessageView;
export type Conversation = ConversationView;
export type ConversationSummary = ConversationSummaryView;
export type MessageRole = MessageView["role"];

export type Stats = StatsView;
export type StatsTotals = TotalsView;
export type StatsDay = DayView;
export type StatsPosition = PositionView;
export type StatsBucket = BucketView;
export type StatsConfigRow = ConfigView;

/** What `conversation_export` writes (a UI choice, not a Rust type). */
export type ExportFormat = "md" | "json";
