// The IPC contract between the web UI and the Tauri shell (src-tauri).
//
// Every type here is the JSON that crosses the bridge. Field names are
// snake_case on both sides, including command *arguments*: the Rust commands
// are declared `#[tauri::command(rename_all = "snake_case")]` so that
// `invoke("ask", { conversation_id, ... })` reaches `fn ask(conversation_id: ...)`.
// See CONTRACT.md for the same contract in prose.

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

// ---------------------------------------------------------------- errors

/** What every command rejects with. `message` is plain words, shown as is. */
export interface IpcError {
  /** Stable machine-readable code, e.g. "model_missing", "cancelled", "io", "not_found", "invalid_settings", "internal". */
  code: string;
  /** One or two sentences for a non-technical person. */
  message: string;
  /** Optional technical detail (shown behind "Details"). */
  details?: string;
}

// ---------------------------------------------------------------- models

export type ModelRole = "draft" | "target" | "judge" | "embedding";

export interface ModelInfo {
  role: ModelRole;
  /** Human name, e.g. "Qwen3 0.6B (Q4)". */
  name: string;
  /** Absolute path of the GGUF (or model folder), null while not on disk. */
  path: string | null;
  /** Size on disk in bytes, null when unknown / not on disk. */
  bytes: number | null;
  installed: boolean;
  /** Checksum verified after download/import. */
  verified: boolean;
}

export interface ModelsStatus {
  /** True when every model the current settings need is installed and verified. */
  ready: boolean;
  models: ModelInfo[];
}

/** What `models_import_folder` installed from the folder. */
export interface FolderImport {
  /** Friendly names of the models added ("Main model", …). */
  added: string[];
  status: ModelsStatus;
}

export type FetchStage = "download" | "assemble" | "verify" | "done";

/** Sent on `models_fetch_default`'s `on_progress` channel. */
export interface FetchProgress {
  /** The model's human name (same as ModelInfo.name). */
  model: string;
  stage: FetchStage;
  done_bytes: number;
  total_bytes: number;
}

// ---------------------------------------------------------------- settings

export type Mode = "auto" | "plain" | "sd" | "lr" | "sd+lr";
export type JudgeModel = "draft" | "target" | "embedding";
export type JudgeKind = "llm" | "embed";
export type SdProposer = "ngram" | "draft";
export type Theme = "system" | "light" | "dark";

export interface Settings {
  /** null = the default downloaded draft model. */
  draft_model_path: string | null;
  /** null = the default downloaded target model. */
  target_model_path: string | null;
  judge_model: JudgeModel;
  mode: Mode;
  /** Steps drafted ahead, 1..8. */
  gamma: number;
  /** What guesses the next words in word drafting: the text so far ("ngram") or the helper model ("draft"). */
  sd_proposer: SdProposer;
  judge_kind: JudgeKind;
  /** Cosine similarity needed to accept a drafted step, 0.5..1.0 (judge_kind "embed"). */
  embed_threshold: number;
  /** Max tokens in one reasoning step. */
  step_token_budget: number;
  /** Max tokens in the whole answer. */
  max_answer_tokens: number;
  /** The calculator in the loop: wrong results the model writes are replaced by the exact value before it goes on. */
  calculator: boolean;
  theme: Theme;
  /** Multiplier of the base font size, 0.85..1.5. */
  font_scale: number;
  /** Where the models run: this computer, or an inference server on the network. */
  models_location: ModelsLocation;
  /** The server's address, e.g. "http://gpu-box:8000" (models_location "server"). */
  server_url: string;
  /** The main model's name on the server; "" = the first it serves. */
  server_model: string;
  /** The helper model's name on the server; "" = the helper stays on this computer. */
  server_draft_model: string;
  /** Write-only: a new API key to keep (the shell keeps it in its own file, never in the history); always "" when read. */
  server_key: string;
  /** Read-only: a server key is kept. */
  server_key_saved: boolean;
}

export type ModelsLocation = "this_computer" | "server";

/** What `server_test` found on the server. */
export interface ServerTest {
  model: string;
  context_tokens: number;
  draft_model: string | null;
}

// ---------------------------------------------------------------- answers

export type Verdict = "accepted" | "rejected" | "target_only";

/** A sum the model wrote in a step, worked out again by Lookahead. */
export interface ArithmeticCheck {
  /** The left-hand side as written, e.g. "13 × 4". */
  expression: string;
  /** The result the model wrote, e.g. "54". */
  written: string;
  /** The exact result, e.g. "52". */
  exact: string;
  correct: boolean;
  /** The calculator replaced the written result before the model went on. */
  corrected: boolean;
}

export interface StepRecord {
  /** Position of the step in the answer, from 0 (as the engine and the store number it; shown from 1). */
  index: number;
  /** What the draft model proposed, null if no draft was made. */
  drafted: string | null;
  /** What the target model wrote, null if it was not asked. */
  target: string | null;
  verdict: Verdict;
  /** Judge's similarity / probability, null without a judge. */
  judge_score: number | null;
  kept_from: "draft" | "target";
  /** The text kept in the answer. */
  text: string;
  draft_ms: number | null;
  target_ms: number | null;
  judge_ms: number | null;
  /** The sums written in this step, checked (empty when it has none). */
  arithmetic: ArithmeticCheck[];
}

export interface Metrics {
  prompt_tokens: number;
  generated_tokens: number;
  wall_seconds: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  time_to_first_token_s: number;
  drafted_tokens: number | null;
  accepted_tokens: number | null;
  token_acceptance_rate: number | null;
  mean_acceptance_length: number | null;
  drafted_steps: number | null;
  accepted_steps: number | null;
  step_acceptance_rate: number | null;
  /** Acceptance rate at draft position 1..gamma. */
  per_position_step_acceptance: number[] | null;
  /** Estimated speed-up over plain decoding (1.0 = same speed). */
  speedup_estimate: number | null;
  /** Why step drafting was switched off partway ("slowdown guard: …" when it was slower than plain), or null. */
  speculation_stopped?: string | null;
  /** True when it was switched off for running slower than plain. */
  guard_stopped?: boolean;
}

/**
 * How an answer ended: complete; cancelled (the user stopped it); failed (`error` says why);
 * interrupted (Lookahead was closed or stopped while writing it); in_progress (another
 * Lookahead window or the lookahead command is writing it now).
 */
export type MessageStatus = "complete" | "cancelled" | "failed" | "interrupted" | "in_progress";
export type MessageRole = "user" | "assistant";

export interface Message {
  id: MessageId;
  role: MessageRole;
  /** User: the question. Assistant: the whole generated text (reasoning + answer). */
  text: string;
  /** Assistant: the final answer pulled out of `text`, null if none was found. */
  final_answer: string | null;
  /** The mode actually used (never "auto" for assistant messages once resolved; may be "auto" for user messages). */
  mode: Mode;
  status: MessageStatus;
  /** A failed answer: why, in plain words (as it was shown when it failed); null otherwise. */
  error: string | null;
  created_at: IsoDateTime;
  steps: StepRecord[];
  metrics: Metrics | null;
  draft_model: string | null;
  target_model: string | null;
  /** Human description of the judge, e.g. "embedding ≥ 0.85" or "target model". */
  judge: string | null;
  /** The answer stopped at its length limit before the model finished. */
  cut_off: boolean;
  /** Earlier turns of the conversation the model did not see (they did not fit). */
  turns_left_out: number;
}

/** One assistant message, as in conversation_get. */
export type AnswerView = Message;

/**
 * What the engine is doing while it writes an answer. `step` counts from 0,
 * like StepRecord.index (the UI shows step + 1).
 */
export type Stage =
  | { activity: "writing"; step: number }
  | { activity: "drafting"; step: number; ahead: number }
  | { activity: "checking"; step: number; drafted: number };

/** Getting the models ready (`engine_prepare`), and loading inside `ask`. */
export type PrepareEvent =
  | { kind: "loading"; model: string; role: string; index: number; count: number }
  | { kind: "measuring" }
  | { kind: "ready" };

export type AskEvent =
  | { kind: "started"; request_id: RequestId; conversation_id: ConversationId }
  | { kind: "loading"; model: string; role: string; index: number; count: number }
  | { kind: "stage"; stage: Stage }
  | { kind: "token"; text: string }
  | { kind: "step"; step: StepRecord }
  | { kind: "done"; answer: AnswerView }
  | { kind: "error"; error: { code: string; message: string } };

export interface AskResult {
  conversation_id: ConversationId;
  message_id: MessageId;
  request_id: RequestId;
}

// ---------------------------------------------------------------- history

export interface ConversationSummary {
  id: ConversationId;
  title: string;
  updated_at: IsoDateTime;
  pinned: boolean;
  message_count: number;
}

export interface Conversation {
  id: ConversationId;
  title: string;
  created_at: IsoDateTime;
  updated_at: IsoDateTime;
  messages: Message[];
}

export type ExportFormat = "md" | "json";

// ---------------------------------------------------------------- stats

export interface StatsTotals {
  answers: number;
  generated_tokens: number;
  mean_speedup: number | null;
  step_acceptance_rate: number | null;
  token_acceptance_rate: number | null;
}

export interface StatsDay {
  day: IsoDate;
  answers: number;
  step_acceptance_rate: number | null;
  token_acceptance_rate: number | null;
  mean_speedup: number | null;
}

export interface StatsPosition {
  /** 1-based draft position. */
  position: number;
  proposed: number;
  accepted: number;
  rate: number;
}

export interface StatsBucket {
  bucket_start: number;
  bucket_end: number;
  count: number;
}

export interface StatsConfigRow {
  draft_model: string | null;
  target_model: string | null;
  judge: string | null;
  gamma: number | null;
  answers: number;
  step_acceptance_rate: number | null;
  token_acceptance_rate: number | null;
  mean_speedup: number | null;
}

export interface Stats {
  totals: StatsTotals;
  over_time: StatsDay[];
  per_position: StatsPosition[];
  speedup_histogram: StatsBucket[];
  by_config: StatsConfigRow[];
}
