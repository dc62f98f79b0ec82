// Generated from the Rust types by src-tauri/src/contract.rs (ts-rs); do not edit.
// Regenerate: UPDATE_CONTRACT=1 cargo test --workspace --lib contract
/* eslint-disable */

/** What a model is for (the models folder's roles). */
export type ModelRole = "draft" | "target" | "judge" | "embedding";

/**
 * How an answer is generated: the target alone (the baseline every
 * speed-up is measured against), token-level speculative decoding,
 * Lookahead Reasoning (step-level speculation), or both.
 */
export type Mode = "plain" | "sd" | "lr" | "sd+lr";

/**
 * What the judge decided about a drafted step. `TargetOnly`: no draft
 * was compared, the target wrote the step on its own (plain decoding,
 * a bonus step, or after a fail-safe switch).
 */
export type Verdict = "accepted" | "rejected" | "target_only";

/**
 * Which model's text was kept for a step.
 */
export type KeptFrom = "draft" | "target";

/**
 * Who wrote a stored message.
 */
export type Role = "user" | "assistant";

/**
 * Life cycle of a stored message (questions are always `Complete`):
 * `InProgress` while it is written; `Cancelled` stopped by the user
 * (what was written is kept); `Failed` (its error says why);
 * `Interrupted` when the app or command stopped while writing it.
 */
export type MessageStatus = "in_progress" | "complete" | "cancelled" | "failed" | "interrupted";

/**
 * One sum found in a step and worked out again.
 */
export type ArithmeticCheck = { 
/**
 * The left-hand side as written, e.g. "13 × 4".
 */
expression: string, 
/**
 * The result as the model wrote it, e.g. "54".
 */
written: string, 
/**
 * The exact result, written like the model's (same decimals), e.g. "52".
 */
exact: string, 
/**
 * The written result was right (to the decimals it was written with).
 */
correct: boolean, 
/**
 * The engine replaced the written result with the exact one before
 * the model went on (the calculator in the loop).
 */
corrected: boolean, };

/**
 * One reasoning step of an answer: as streamed, stored, exported and shown.
 */
export type StepRecord = { 
/**
 * Position of the step in the answer, from 0 (the UI shows it from 1).
 */
index: number, 
/**
 * What the helper (draft) model proposed; `None` when no draft was made.
 */
drafted: string | null, 
/**
 * What the main (target) model wrote; `None` when it was not asked.
 */
target: string | null, verdict: Verdict, 
/**
 * The judge's similarity or probability; `None` without a judge.
 */
judge_score: number | null, kept_from: KeptFrom, 
/**
 * The text that became part of the answer (delimiter included).
 */
text: string, draft_ms: number | null, target_ms: number | null, judge_ms: number | null, 
/**
 * The sums written in this step, worked out again (wrong ones say the
 * right value; corrected ones were replaced before the model went on).
 */
arithmetic: Array<ArithmeticCheck>, };

/**
 * Drafted steps proposed and accepted at one look-ahead position (counts,
 * not rates, so answers pool correctly).
 */
export type PositionCount = { proposed: number, accepted: number, };

/**
 * Per-answer figures. Speculation fields are `None` in modes without it.
 */
export type AnswerMetrics = { prompt_tokens: number, generated_tokens: number, wall_seconds: number, prefill_tokens_per_s: number, decode_tokens_per_s: number, time_to_first_token_s: number, 
/**
 * generated_tokens / wall_seconds: the speed a person feels.
 */
tokens_per_s: number, drafted_tokens: number | null, accepted_tokens: number | null, token_acceptance_rate: number | null, 
/**
 * Tokens kept per verification pass (token-level speculation).
 */
mean_acceptance_length: number | null, drafted_steps: number | null, accepted_steps: number | null, step_acceptance_rate: number | null, 
/**
 * Drafted steps kept per look-ahead window (step-level speculation).
 */
step_mean_acceptance_length: number | null, 
/**
 * Drafted steps proposed and accepted at each look-ahead position
 * (index 0: the first position after the verified prefix).
 */
per_position_acceptance: Array<PositionCount> | null, 
/**
 * Forward passes and the mean number of sequences each carried (0
 * when not measured, e.g. on a server).
 */
forward_passes: number, mean_batch_size: number, 
/**
 * Speed-up over plain decoding, estimated from the measured plain speed
 * of the same target (`None` until one is known).
 */
speedup_estimate: number | null, 
/**
 * Why step speculation was switched off mid-answer (fail-safe or
 * slowdown guard); `None` when it was not.
 */
speculation_stopped: string | null, 
/**
 * The slowdown guard was what switched it off (it ran slower than
 * plain decoding).
 */
guard_stopped: boolean, };

/**
 * What the engine is doing while an answer is written, for a status line
 * ("Writing step 3…"). Steps count from 0, like [`StepRecord::index`].
 */
export type Stage = { "activity": "writing", step: number, } | { "activity": "drafting", step: number, ahead: number, } | { "activity": "checking", step: number, drafted: number, };

/**
 * How answers are made: `Auto` lets the app pick the fastest measured
 * mode; the others are the [`crate::Mode`]s.
 */
export type ModeChoice = "auto" | "plain" | "sd" | "lr" | "sd+lr";

/**
 * How drafted steps are judged: by the meaning of the two texts
 * (embedding similarity) or by asking a model.
 */
export type JudgeKind = "embed" | "llm";

/**
 * Which model answers the LLM judge.
 */
export type JudgeModel = "draft" | "target" | "embedding";

/**
 * What guesses the next words in word drafting: the text so far
 * (n-grams) or the helper model.
 */
export type SdProposer = "ngram" | "draft";

/**
 * The colour scheme.
 */
export type Theme = "system" | "light" | "dark";

/**
 * Where the models run: this computer, or an inference server on the
 * network.
 */
export type ModelsLocation = "this_computer" | "server";

/**
 * The user's settings. Choices are typed (their words are the domain's
 * setting enums), so a value the app does not know is refused when it is
 * read, and ranges are checked in one place, [`Settings::validate`].
 */
export type Settings = { draft_model_path: string | null, target_model_path: string | null, 
/**
 * Which model answers the LLM judge.
 */
judge_model: JudgeModel, mode: ModeChoice, 
/**
 * Steps drafted ahead, 1..=8.
 */
gamma: number, 
/**
 * What guesses the next words in word drafting (sd mode): repeats of
 * the text so far or the helper model. Step + word drafting always
 * guesses from the text: the helper is busy drafting steps.
 */
sd_proposer: SdProposer, judge_kind: JudgeKind, 
/**
 * Similarity needed to accept a drafted step, 0.5..=1.0 (embedding judge).
 */
embed_threshold: number, 
/**
 * Most tokens in one reasoning step, 10..=1000.
 */
step_token_budget: number, 
/**
 * Most tokens in the whole answer, 16..=4096.
 */
max_answer_tokens: number, 
/**
 * The calculator in the loop: a wrong result the model writes is
 * replaced by the exact value before it goes on.
 */
calculator: boolean, theme: Theme, 
/**
 * Multiplier of the base text size, 0.85..=1.5.
 */
font_scale: number, 
/**
 * Where the models run: this computer, or an inference server on the
 * network (llama.cpp's server, vLLM, mistral.rs).
 */
models_location: ModelsLocation, 
/**
 * The server's address, e.g. `http://gpu-box:8000`.
 */
server_url: string, 
/**
 * The main model's name on the server ("" = the first it serves).
 */
server_model: string, 
/**
 * The helper model's name on the server; "" = the helper stays on
 * this computer.
 */
server_draft_model: string, 
/**
 * Write-only: a new API key for the server. Kept in its own file in
 * the data folder (readable by this user only), never in the history
 * file; always empty when read back.
 */
server_key: string, 
/**
 * Read-only: whether a key is kept.
 */
server_key_saved: boolean, };

/**
 * What "Test connection" found on the server.
 */
export type ServerTest = { 
/**
 * The main model's name on the server.
 */
model: string, 
/**
 * How many tokens one conversation may hold there.
 */
context_tokens: number, 
/**
 * The helper model's name there, when the helper runs on it too.
 */
draft_model: string | null, };

/**
 * What a command rejects with: a stable code for the UI's logic, a message
 * in plain words to show as is, and technical details for a "details" fold.
 */
export type CommandError = { code: string, message: string, details?: string, };

export type MessageView = { id: number, role: Role, text: string, final_answer: string | null, 
/**
 * The mode the answer was written in (questions: plain).
 */
mode: Mode, 
/**
 * complete, cancelled, failed, interrupted (the app or command stopped
 * while writing it) or in_progress (another window is writing it now).
 */
status: MessageStatus, 
/**
 * Why a failed answer failed, in plain words (as it was shown then).
 */
error: string | null, created_at: string, steps: Array<StepRecord>, metrics: AnswerMetrics | null, draft_model: string | null, target_model: string | null, judge: string | null, 
/**
 * The answer stopped at its length limit before the model finished.
 */
cut_off: boolean, 
/**
 * Earlier turns of the conversation the model did not see.
 */
turns_left_out: number, };

export type ConversationView = { id: number, title: string, created_at: string, updated_at: string, messages: Array<MessageView>, };

export type ConversationSummaryView = { id: number, title: string, updated_at: string, pinned: boolean, message_count: number, };

/**
 * Streamed to the UI while an answer is written.
 */
export type AskEvent = { "kind": "started", request_id: string, conversation_id: number, 
/**
 * The conversation's title (a new one's comes from the question).
 */
title: string, } | { "kind": "loading", model: string, role: ModelRole, index: number, count: number, } | { "kind": "token", text: string, } | { "kind": "step", step: StepRecord, } | { "kind": "stage", stage: Stage, } | { "kind": "done", answer: MessageView, } | { "kind": "error", error: CommandError, };

export type AskResult = { conversation_id: number, message_id: number, request_id: string, };

/**
 * Where getting the models ready has got to, for "Getting the models
 * ready…" in the app.
 */
export type PrepareEvent = { "kind": "loading", model: string, role: ModelRole, index: number, count: number, } | { "kind": "measuring" } | { "kind": "ready" };

export type ModelInfo = { role: ModelRole, name: string, path: string | null, bytes: number | null, installed: boolean, verified: boolean, };

export type ModelsStatus = { 
/**
 * A question can be answered: the target model is there.
 */
ready: boolean, models: Array<ModelInfo>, };

/**
 * What a folder import found.
 */
export type FolderImport = { 
/**
 * The friendly names of the models installed from the folder.
 */
added: Array<string>, status: ModelsStatus, };

export type FetchStage = "download" | "assemble" | "verify" | "done";

/**
 * Progress of a fetch, for a progress bar.
 */
export type FetchProgress = { 
/**
 * The model's human name (as in the models status).
 */
model: string, stage: FetchStage, done_bytes: number, total_bytes: number, };

export type TotalsView = { answers: number, generated_tokens: number, mean_speedup: number | null, step_acceptance_rate: number | null, token_acceptance_rate: number | null, };

export type DayView = { day: string, answers: number, step_acceptance_rate: number | null, token_acceptance_rate: number | null, mean_speedup: number | null, };

export type PositionView = { position: number, proposed: number, accepted: number, rate: number | null, };

export type BucketView = { bucket_start: number, bucket_end: number, count: number, };

export type ConfigView = { draft_model: string | null, target_model: string | null, judge: string | null, gamma: number | null, answers: number, step_acceptance_rate: number | null, token_acceptance_rate: number | null, mean_speedup: number | null, };

export type StatsView = { totals: TotalsView, over_time: Array<DayView>, per_position: Array<PositionView>, speedup_histogram: Array<BucketView>, by_config: Array<ConfigView>, };
