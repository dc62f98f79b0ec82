// A fake Tauri shell for the UI tests. Bundled (IIFE) by global-setup.ts and injected with
// page.addInitScript before the app loads. It answers every command in the IPC contract
// (ui/src/api/types.ts) from in-memory data, and drives Channel callbacks the way Rust would,
// so streaming (ask) and progress (models_fetch_default) are exercised for real.
//
// Tests steer it with window.__LOOKAHEAD_MOCK_CONFIG__ (set by an earlier init script) and read
// what the app called from window.__LOOKAHEAD_MOCK__.calls.

import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type {
  AnswerView,
  ArithmeticCheck,
  AskEvent,
  Conversation,
  FetchProgress,
  IpcError,
  Message,
  Metrics,
  Mode,
  ModelRole,
  ModelsStatus,
  Settings,
  Stats,
  StepRecord,
  Verdict,
} from "../../../ui/src/api/types";

export interface MockConfig {
  /** Models present at start (default true). */
  modelsReady?: boolean;
  /** Delay between streamed ask events, ms (default 30). */
  eventDelayMs?: number;
  /** Delay between fetch progress events, ms (default 40). */
  fetchStepMs?: number;
  /** Which answer `ask` streams (default "budget"). */
  answer?: "budget" | "xss" | "error" | "sums" | "markdown" | "too_long";
  /** Start with no conversations. */
  emptyHistory?: boolean;
  /** stats_query returns no answers. */
  emptyStats?: boolean;
  /** Initial settings overrides. */
  settings?: Partial<Settings>;
  /** What the file dialog the shell opens returns (null = the user cancelled). */
  openPath?: string | null;
  /** What the model server in Settings serves (none = it cannot be reached). */
  serverModels?: string[];
  /** Seed two conversations whose answers did not end well: one interrupted, one failed. */
  brokenAnswers?: boolean;
  /** What the folder dialog returns (null = the user cancelled). */
  openFolder?: string | null;
  /** Which models the picked folder holds (none by default). */
  folderHolds?: ModelRole[];
  /** Fix "today" for stable dates (ISO date-time). */
  now?: string;
  /** Answers report step drafting switched off partway, for this reason. */
  speculationStopped?: string;
  /** Answers come as the engine writes them when the slowdown guard paused step drafting
   * before they began: the main model writes every step, no step is proposed. */
  stepDraftingPaused?: boolean;
  /** Delay between engine_prepare events, ms (default 30); the last event waits for
   * window.__LOOKAHEAD_MOCK__.releasePrepare() when `holdPrepare` is set. */
  prepareStepMs?: number;
  holdPrepare?: boolean;
  /** engine_prepare fails with this message. */
  prepareFails?: string;
  /** The usual (plain) speed is not known yet: answers carry no speed-up. */
  noUsualSpeed?: boolean;
  /** stats_query: plain answers only, with no speed-up figures (nothing to chart). */
  plainStats?: boolean;
  /** The history cannot be opened: every history command fails so until store_reset. */
  storeError?: IpcError;
}

interface Call {
  cmd: string;
  args: unknown;
}

type Channelish = { id: number };

declare global {
  interface Window {
    __TAURI_INTERNALS__: { runCallback: (id: number, data: unknown) => void };
    __LOOKAHEAD_MOCK_CONFIG__?: MockConfig;
    __LOOKAHEAD_MOCK__?: {
      calls: Call[];
      config: MockConfig;
      files: Record<string, string>;
      settings: Settings;
      releasePrepare?: () => void;
    };
  }
}

const cfg: MockConfig = window.__LOOKAHEAD_MOCK_CONFIG__ ?? {};
const NOW = cfg.now ? new Date(cfg.now) : new Date();
const calls: Call[] = [];
const files: Record<string, string> = {};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const iso = (d: Date) => d.toISOString();
const daysAgo = (n: number, h = 10, m = 0) => {
  const d = new Date(NOW);
  d.setDate(d.getDate() - n);
  d.setHours(h, m, 0, 0);
  return d;
};
const ymd = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

function fail(code: string, message: string): never {
  throw { code, message } satisfies IpcError;
}

// ------------------------------------------------------------------ channels

const channelIndex = new Map<number, number>();
function send<T>(ch: Channelish, message: T) {
  const index = channelIndex.get(ch.id) ?? 0;
  channelIndex.set(ch.id, index + 1);
  window.__TAURI_INTERNALS__.runCallback(ch.id, { index, message });
}
function closeChannel(ch: Channelish) {
  const index = channelIndex.get(ch.id) ?? 0;
  window.__TAURI_INTERNALS__.runCallback(ch.id, { index, end: true });
}

// ------------------------------------------------------------------ models

// What the real shell's models_status sends: the catalog's titles and sizes (src-tauri/crates/engine/src/models.rs),
// sizes also for models not on disk yet.
const MODEL_DEFS: Array<{ role: ModelRole; name: string; bytes: number }> = [
  { role: "draft", name: "Qwen2.5-Coder 0.5B Instruct (Q4_K_M)", bytes: 491_400_064 },
  { role: "target", name: "Qwen2.5-Coder 1.5B Instruct (Q4_K_M)", bytes: 1_117_320_768 },
  { role: "embedding", name: "all-MiniLM-L6-v2 (sentence embeddings)", bytes: 90_868_376 },
];
// The file names the shell records for the default models (gguf_info::model_name).
const DRAFT_FILE = "qwen2.5-coder-0.5b-instruct-awq-q4_k_m.gguf";
const TARGET_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
let fetchCancelled = false;
const installed = new Map<ModelRole, string | null>();
if (cfg.modelsReady !== false) for (const m of MODEL_DEFS) installed.set(m.role, `/home/alex/.local/share/lookahead/models/${m.role}.gguf`);

function modelsStatus(): ModelsStatus {
  const models = MODEL_DEFS.map((m) => ({
    role: m.role,
    name: m.name,
    path: installed.get(m.role) ?? null,
    bytes: m.bytes,
    installed: installed.has(m.role),
    verified: installed.has(m.role),
  }));
  // As the shell: an answer can be written once the main model is there.
  return { ready: models.some((m) => m.role === "target" && m.installed && m.verified), models };
}

// ------------------------------------------------------------------ settings

// The real shell's defaults (src-tauri/src/settings.rs, Settings::default).
let settings: Settings = {
  draft_model_path: null,
  target_model_path: null,
  judge_model: "embedding",
  mode: "auto",
  gamma: 4,
  sd_proposer: "ngram",
  judge_kind: "embed",
  embed_threshold: 0.95,
  step_token_budget: 100,
  max_answer_tokens: 1024,
  calculator: true,
  theme: "system",
  font_scale: 1,
  models_location: "this_computer",
  server_url: "",
  server_model: "",
  server_draft_model: "",
  server_key: "",
  server_key_saved: false,
  ...cfg.settings,
};
// The key the shell keeps in its own file (never sent back), with the server it belongs to.
let serverKey = "";
let serverKeyUrl = "";
const sameServer = (a: string, b: string) => a.trim() !== "" && a.trim().replace(/\/+$/, "").toLowerCase() === b.trim().replace(/\/+$/, "").toLowerCase();

// ------------------------------------------------------------------ answers

interface Script {
  steps: Array<{ text: string; verdict: Verdict; drafted?: string; score?: number; arithmetic?: ArithmeticCheck[] }>;
  final: string;
}

const BUDGET: Script = {
  steps: [
    { text: "There are 5 people. Two of them need twice as much as each of the other three.", verdict: "accepted", score: 0.94 },
    { text: "Count shares: the three others get 1 share each, the two get 2 shares each, so 3 + 4 = 7 shares.", verdict: "accepted", score: 0.91 },
    {
      text: "One share is £1,200 ÷ 7 = £171.43 (rounded to the penny).",
      verdict: "rejected",
      drafted: "One share is £1,200 ÷ 5 = £240.",
      score: 0.41,
    },
    { text: "Each of the three gets 1 share: £171.43.", verdict: "accepted", score: 0.93 },
    { text: "Each of the two gets 2 shares: 2 × £171.43 = £342.86.", verdict: "accepted", score: 0.9 },
    { text: "Check: 3 × £171.43 + 2 × £342.86 = £514.29 + £685.72 = £1,200.01, one penny over from rounding.", verdict: "target_only" },
  ],
  final: "Three people get £171.43 each and the two who need more get £342.86 each (one penny of rounding: give one person £171.42).",
};

/** Wrong sums (one flagged, one corrected by the calculator), older turns
 * left out, and cut off at the length limit before a final answer. */
const SUMS: Script = {
  steps: [
    {
      text: "Each box holds 13 × 4 = 54 pens.",
      verdict: "target_only",
      arithmetic: [{ expression: "13 × 4", written: "54", exact: "52", correct: false, corrected: false }],
    },
    {
      text: "Two boxes hold 2 × 52 = 104 pens, and",
      verdict: "target_only",
      arithmetic: [{ expression: "2 × 52", written: "106", exact: "104", correct: false, corrected: true }],
    },
  ],
  final: "",
};

/** What the standard prompt makes the model write: Markdown and LaTeX. */
const MARKDOWN: Script = {
  steps: [
    { text: "We know:\n- **6** people\n- **3** pizzas of 8 slices", verdict: "target_only" },
    { text: "Each person gets \\( \\frac{3 \\times 8}{6} = 4 \\) slices.", verdict: "accepted", score: 0.97 },
    { text: "| Item | Count |\n|---|---|\n| Slices | 24 |\n| People | 6 |", verdict: "target_only" },
  ],
  // The real shell sends the concluding paragraph as it was written when nothing is boxed.
  final: "So each person gets \\( \\frac{24}{6} = 4 \\) slices, and **none** are left over.",
};

const XSS_PAYLOAD = `<img src=x onerror="window.__xss = 'img'"><script>window.__xss = 'script'</script>`;
const XSS: Script = {
  steps: [
    { text: `The user wrote ${XSS_PAYLOAD} which is just text.`, verdict: "accepted", score: 0.9 },
    { text: `<a href="javascript:window.__xss='link'">click me</a> is also just text.`, verdict: "target_only" },
  ],
  final: `Answer: ${XSS_PAYLOAD}`,
};

/** The main model writes every step: plain mode, or step drafting paused by the guard. */
function writtenAlone(mode: Settings["mode"]): boolean {
  return mode === "plain" || (cfg.stepDraftingPaused ?? false);
}

/** The engine's words for a paused answer (engine.rs, paused_reason). */
const PAUSED_REASON =
  "slowdown guard: step drafting paused, as it was slower than plain decoding in the last answer that tried it with these models; it is tried again after 1 more answer";

function metricsFor(mode: Mode, steps: StepRecord[], wall: number): Metrics {
  const plain = mode === "plain";
  if (!plain && cfg.stepDraftingPaused) {
    // As the engine fills them (LookaheadStats::fill_metrics): no step was proposed or judged.
    return {
      ...metricsFor("plain", steps, wall),
      decode_tokens_per_s: 15.4,
      drafted_tokens: 120,
      accepted_tokens: 98,
      token_acceptance_rate: 98 / 120,
      mean_acceptance_length: 3.1,
      drafted_steps: 0,
      accepted_steps: 0,
      per_position_acceptance: [],
      speedup_estimate: 1.3,
      speculation_stopped: PAUSED_REASON,
      guard_stopped: true,
    };
  }
  const drafted = steps.filter((s) => s.verdict !== "target_only").length;
  const accepted = steps.filter((s) => s.verdict === "accepted").length;
  const words = steps.reduce((a, s) => a + s.text.split(/\s+/).length, 0);
  const generated = Math.round(words * 1.4);
  return {
    prompt_tokens: 64,
    generated_tokens: generated,
    wall_seconds: wall,
    prefill_tokens_per_s: 410.5,
    decode_tokens_per_s: plain ? 12.3 : 22.1,
    time_to_first_token_s: 0.42,
    tokens_per_s: generated / wall,
    drafted_tokens: plain ? null : 120,
    accepted_tokens: plain ? null : 98,
    token_acceptance_rate: plain ? null : 98 / 120,
    mean_acceptance_length: plain ? null : 3.1,
    drafted_steps: plain ? null : drafted,
    accepted_steps: plain ? null : accepted,
    step_acceptance_rate: plain ? null : drafted ? accepted / drafted : null,
    step_mean_acceptance_length: plain ? null : 1 + accepted / Math.max(1, drafted),
    per_position_acceptance: plain
      ? null
      : [
          { proposed: 10, accepted: 9 },
          { proposed: 10, accepted: 8 },
          { proposed: 10, accepted: 6 },
          { proposed: 10, accepted: 5 },
        ],
    forward_passes: generated,
    mean_batch_size: plain ? 1 : 2.4,
    // Every mode is compared with this computer's usual plain speed, as the real shell does.
    speedup_estimate: cfg.noUsualSpeed ? null : plain ? 1.02 : cfg.speculationStopped ? 0.7 : 1.8,
    speculation_stopped: plain ? null : (cfg.speculationStopped ?? null),
    // The engine's guard messages start so (control.rs).
    guard_stopped: !plain && (cfg.speculationStopped?.startsWith("slowdown guard") ?? false),
  };
}

function stepRecord(i: number, s: Script["steps"][number], plain: boolean): StepRecord {
  const verdict: Verdict = plain ? "target_only" : s.verdict;
  const drafted = verdict === "target_only" ? null : verdict === "rejected" ? (s.drafted ?? s.text) : s.text;
  return {
    // 0-based, as the real shell sends it (the engine's numbering).
    index: i,
    drafted,
    target: verdict === "accepted" ? null : s.text,
    verdict,
    judge_score: verdict === "target_only" ? null : (s.score ?? 0.9),
    kept_from: verdict === "accepted" ? "draft" : "target",
    text: s.text,
    draft_ms: verdict === "target_only" ? null : 120 + i * 7,
    target_ms: verdict === "accepted" ? null : 840 + i * 11,
    judge_ms: verdict === "target_only" ? null : 18,
    arithmetic: s.arithmetic ?? [],
  };
}

/** The shell's lookahead_ask::title_for: the first line, cut at a word boundary near 60 characters. */
function titleFor(question: string): string {
  const line = (question.trim().split("\n")[0] ?? "").trim();
  const chars = [...line];
  if (chars.length <= 60) return line;
  const cut = chars.slice(0, 60).join("");
  const at = cut.lastIndexOf(" ");
  return at > 20 ? `${cut.slice(0, at)}…` : `${cut}…`;
}

let nextMsgId = 1000;
function assistantMessage(
  script: Script,
  mode: Settings["mode"],
  status: Message["status"],
  upto = script.steps.length,
  error: string | null = null,
): AnswerView {
  const plain = mode === "plain";
  const resolved = mode === "auto" ? "sd+lr" : mode;
  const steps = script.steps.slice(0, upto).map((s, i) => stepRecord(i, s, writtenAlone(mode)));
  return {
    id: nextMsgId++,
    role: "assistant",
    text: steps.map((s) => s.text).join("\n") + (status === "complete" ? `\n${script.final}` : ""),
    final_answer: status === "complete" && script.final ? script.final : null,
    mode: resolved,
    status,
    error,
    created_at: iso(new Date()),
    steps,
    metrics: metricsFor(resolved, steps, status === "complete" ? 12.4 : 4.1),
    // What the shell records: the models' file names and the judge's label (engine::JudgeChoice::label).
    draft_model: plain ? null : DRAFT_FILE,
    target_model: TARGET_FILE,
    judge: plain ? null : "embed@0.95",
    cut_off: script === SUMS,
    turns_left_out: script === SUMS ? 2 : 0,
  };
}

function userMessage(text: string, at: Date): Message {
  return {
    id: nextMsgId++,
    role: "user",
    text,
    final_answer: null,
    // The shell records no mode for a question and sends it as plain.
    mode: "plain",
    status: "complete",
    error: null,
    created_at: iso(at),
    steps: [],
    metrics: null,
    draft_model: null,
    target_model: null,
    judge: null,
    cut_off: false,
    turns_left_out: 0,
  };
}

// ------------------------------------------------------------------ conversations

interface Stored extends Conversation {
  pinned: boolean;
  deleted: boolean;
}
const convs = new Map<number, Stored>();
let nextConvId = 1;

function seed(title: string, when: Date, question: string, script: Script | null, pinned = false) {
  const id = nextConvId++;
  const messages: Message[] = [userMessage(question, when)];
  if (script) messages.push({ ...assistantMessage(script, "sd+lr", "complete"), created_at: iso(when) });
  convs.set(id, { id, title, created_at: iso(when), updated_at: iso(when), messages, pinned, deleted: false });
}

if (!cfg.emptyHistory) {
  seed("Training budget split", daysAgo(0, 9, 12), "A team of 5 shares a £1,200 training budget. Two of them need twice as much as each of the others. How much does each person get?", BUDGET);
  seed("Meeting room schedule for Thursday", daysAgo(1, 15, 40), "We have 3 rooms and 7 meetings on Thursday. Can they all fit between 9 and 5?", BUDGET);
  seed("Printer cartridge costs", daysAgo(3), "Which printer cartridge is cheaper over a year?", BUDGET);
  seed("Holiday rota for December", daysAgo(12), "How do we split 10 holiday days fairly between 4 people?", BUDGET, true);
  seed("Catering order for 40 guests", daysAgo(20), "How many sandwich platters for 40 guests if each serves 6?", BUDGET);
}

// Answers that did not end well, as the real shell lists them after a restart.
function seedEnding(title: string, at: Date, question: string, answer: AnswerView) {
  const messages = [userMessage(question, at), { ...answer, created_at: iso(at) }];
  convs.set(nextConvId, { id: nextConvId++, title, created_at: iso(at), updated_at: iso(at), messages, pinned: false, deleted: false });
}
if (cfg.brokenAnswers) {
  seedEnding(
    "Desks in the small office",
    daysAgo(2, 11, 5),
    "How many desks fit in a 6 m by 4 m room if each needs 2 m²?",
    assistantMessage(BUDGET, "sd+lr", "interrupted", 2),
  );
  seedEnding(
    "Team budget by headcount",
    daysAgo(2, 10, 0),
    "Split £900 between three teams by headcount 4, 5 and 6.",
    assistantMessage(BUDGET, "plain", "failed", 0, "The model could not be loaded. It may be damaged, or the computer may not have enough free memory."),
  );
}

function summary(c: Stored) {
  return { id: c.id, title: c.title, updated_at: c.updated_at, pinned: c.pinned, message_count: c.messages.length };
}

function getConv(id: number): Stored {
  const c = convs.get(id);
  if (!c || c.deleted) fail("not_found", "That conversation no longer exists.");
  return c;
}

function exportMd(c: Stored) {
  const lines = [`# ${c.title}`, ""];
  for (const m of c.messages) {
    if (m.role === "user") lines.push(`**You:** ${m.text}`, "");
    else {
      for (const s of m.steps) lines.push(`${s.index + 1}. ${s.text}`);
      lines.push("", `**Answer:** ${m.final_answer ?? m.text}`, "");
    }
  }
  return lines.join("\n");
}

// ------------------------------------------------------------------ ask

const running = new Map<string, { cancelled: boolean }>();
let nextReq = 1;

async function ask(args: { conversation_id: number | null; question: string; settings: Settings; on_event: Channelish }) {
  const delay = cfg.eventDelayMs ?? 30;
  const ch = args.on_event;
  const emit = (e: AskEvent) => send(ch, e);
  const script = cfg.answer === "xss" ? XSS : cfg.answer === "sums" ? SUMS : cfg.answer === "markdown" ? MARKDOWN : BUDGET;
  const mode = args.settings.mode;

  let conv: Stored;
  const now = new Date();
  if (args.conversation_id == null) {
    const id = nextConvId++;
    // Titled as the shell titles a new conversation (lookahead_ask::title_for).
    conv = { id, title: titleFor(args.question), created_at: iso(now), updated_at: iso(now), messages: [], pinned: false, deleted: false };
    convs.set(id, conv);
  } else conv = getConv(args.conversation_id);
  conv.messages.push(userMessage(args.question, now));
  conv.updated_at = iso(now);

  const request_id = `req-${nextReq++}`;
  const state = { cancelled: false };
  running.set(request_id, state);
  emit({ kind: "started", request_id, conversation_id: conv.id, title: conv.title });

  try {
    let done = 0;
    const resolvedMode = mode === "auto" ? "sd+lr" : mode;
    const stepwise = resolvedMode === "lr" || resolvedMode === "sd+lr";
    for (const [i, s] of script.steps.entries()) {
      // As the engine reports its stages: the main model writes the first step alone, then
      // the helper drafts ahead and the main model checks.
      if (stepwise && i > 0) {
        emit({ kind: "stage", stage: { activity: "drafting", step: i, ahead: 4 } });
        await sleep(delay);
        emit({ kind: "stage", stage: { activity: "checking", step: i, drafted: 4 } });
      } else emit({ kind: "stage", stage: { activity: "writing", step: i } });
      for (const w of s.text.split(/(?<= )/)) {
        await sleep(delay);
        if (state.cancelled) break;
        emit({ kind: "token", text: w });
      }
      if (state.cancelled) break;
      if (cfg.answer === "error" && i === 2) {
        // EngineError::Generation's words, as the real shell sends them.
        const error = { code: "generation_failed", message: "Something went wrong while writing the answer. Please try again." };
        // As the shell does: the failed answer is stored with the steps settled before the failure, and why.
        conv.messages.push(assistantMessage(script, mode, "failed", done, error.message));
        emit({ kind: "error", error });
        throw error;
      }
      if (cfg.answer === "too_long") {
        const error = { code: "prompt_too_long", message: "The question is too long (9000 pieces of text; at most 8176 fit). Please shorten it." };
        conv.messages.push(assistantMessage(script, mode, "failed", 0, error.message));
        emit({ kind: "error", error });
        throw error;
      }
      emit({ kind: "step", step: stepRecord(i, s, writtenAlone(mode)) });
      done++;
    }
    if (!state.cancelled) {
      for (const w of script.final.split(/(?<= )/)) {
        await sleep(delay);
        if (state.cancelled) break;
        emit({ kind: "token", text: w });
      }
    }
    const answer = assistantMessage(script, mode, state.cancelled ? "cancelled" : "complete", done);
    conv.messages.push(answer);
    conv.updated_at = iso(new Date());
    emit({ kind: "done", answer });
    return { conversation_id: conv.id, message_id: answer.id, request_id };
  } finally {
    running.delete(request_id);
    closeChannel(ch);
  }
}

// ------------------------------------------------------------------ engine_prepare

async function prepare(ch: Channelish): Promise<null> {
  const step = cfg.prepareStepMs ?? 30;
  try {
    send(ch, { kind: "loading", model: "target.gguf", role: "target", index: 1, count: 1 });
    await sleep(step);
    if (cfg.prepareFails) fail("model_load", cfg.prepareFails);
    send(ch, { kind: "measuring" });
    if (cfg.holdPrepare) await new Promise<void>((r) => (window.__LOOKAHEAD_MOCK__!.releasePrepare = r));
    else await sleep(step);
    send(ch, { kind: "ready" });
    return null;
  } finally {
    closeChannel(ch);
  }
}

// ------------------------------------------------------------------ fetch

async function fetchDefault(ch: Channelish): Promise<ModelsStatus> {
  const step = cfg.fetchStepMs ?? 40;
  fetchCancelled = false;
  for (const m of MODEL_DEFS) {
    if (installed.has(m.role)) continue;
    const p = (stage: FetchProgress["stage"], done: number): FetchProgress => ({ model: m.name, stage, done_bytes: done, total_bytes: m.bytes });
    for (let i = 0; i <= 10; i++) {
      if (fetchCancelled) {
        closeChannel(ch);
        fail("cancelled", "Stopped.");
      }
      send(ch, p("download", Math.round((m.bytes * i) / 10)));
      await sleep(step);
    }
    send(ch, p("assemble", m.bytes));
    await sleep(step);
    send(ch, p("verify", m.bytes));
    await sleep(step);
    installed.set(m.role, `/home/alex/.local/share/lookahead/models/${m.role}.gguf`);
    send(ch, p("done", m.bytes));
  }
  closeChannel(ch);
  return modelsStatus();
}

// ------------------------------------------------------------------ stats

function stats(since: string | null, until: string | null): Stats {
  const days: Stats["over_time"] = [];
  for (let n = 20; n >= 0; n--) {
    const d = daysAgo(n);
    const day = ymd(d);
    if ((since && day < since) || (until && day > until)) continue;
    if (cfg.emptyStats || n % 6 === 5) continue; // a few days without answers
    const wobble = Math.sin(n * 1.3) * 0.06;
    days.push({
      day,
      answers: 2 + ((n * 7) % 5),
      step_acceptance_rate: 0.68 + wobble + (20 - n) * 0.004,
      token_acceptance_rate: 0.8 + wobble / 2,
      mean_speedup: 1.6 + wobble * 3,
    });
  }
  const answers = days.reduce((a, d) => a + d.answers, 0);
  const avg = (f: (d: Stats["over_time"][number]) => number) => (answers ? days.reduce((a, d) => a + f(d) * d.answers, 0) / answers : null);
  const hist = [
    [0.8, 1.0, 1],
    [1.0, 1.2, 3],
    [1.2, 1.4, 6],
    [1.4, 1.6, 11],
    [1.6, 1.8, 14],
    [1.8, 2.0, 9],
    [2.0, 2.2, 4],
    [2.2, 2.4, 2],
  ];
  const scale = answers / 50;
  if (cfg.plainStats) {
    const plainDays = days.map((d) => ({ ...d, step_acceptance_rate: null, token_acceptance_rate: null, mean_speedup: null }));
    return {
      totals: { answers, generated_tokens: answers * 412, mean_speedup: null, step_acceptance_rate: null, token_acceptance_rate: null },
      over_time: plainDays,
      per_position: [],
      speedup_histogram: [],
      by_config: [{ draft_model: null, target_model: TARGET_FILE, judge: null, gamma: null, answers, step_acceptance_rate: null, token_acceptance_rate: null, mean_speedup: null }],
    };
  }
  return {
    totals: {
      answers,
      generated_tokens: answers * 412,
      mean_speedup: avg((d) => d.mean_speedup ?? 0),
      step_acceptance_rate: avg((d) => d.step_acceptance_rate ?? 0),
      token_acceptance_rate: avg((d) => d.token_acceptance_rate ?? 0),
    },
    over_time: days,
    per_position: answers
      ? [0.88, 0.74, 0.61, 0.47].map((rate, i) => {
          const proposed = Math.round(answers * 5 * (1 - i * 0.15));
          return { position: i + 1, proposed, accepted: Math.round(proposed * rate), rate };
        })
      : [],
    speedup_histogram: answers ? hist.map(([a, b, c]) => ({ bucket_start: a, bucket_end: b, count: Math.round(c * scale) })) : [],
    by_config: answers
      ? [
          { draft_model: DRAFT_FILE, target_model: TARGET_FILE, judge: "embed@0.95", gamma: 4, answers: Math.round(answers * 0.6), step_acceptance_rate: 0.74, token_acceptance_rate: 0.82, mean_speedup: 1.82 },
          { draft_model: DRAFT_FILE, target_model: TARGET_FILE, judge: "llm:target", gamma: 2, answers: Math.round(answers * 0.3), step_acceptance_rate: 0.81, token_acceptance_rate: 0.8, mean_speedup: 1.41 },
          { draft_model: null, target_model: TARGET_FILE, judge: null, gamma: null, answers: answers - Math.round(answers * 0.6) - Math.round(answers * 0.3), step_acceptance_rate: null, token_acceptance_rate: null, mean_speedup: 1.0 },
        ]
      : [],
  };
}

// ------------------------------------------------------------------ dispatcher

function record(cmd: string, args: unknown) {
  // Channels serialise as "__CHANNEL__:<id>", as they would on the wire.
  const safe = JSON.parse(JSON.stringify(args ?? {}));
  calls.push({ cmd, args: safe });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let storeError: IpcError | null = cfg.storeError ?? null;
const NEEDS_STORE = new Set(["settings_get", "settings_set", "conversations_list", "conversation_get", "ask", "stats_query", "engine_prepare"]);

async function handle(cmd: string, a: any): Promise<unknown> {
  if (storeError && NEEDS_STORE.has(cmd)) throw storeError;
  switch (cmd) {
    case "store_reset":
      if (!storeError) return null;
      storeError = null;
      return "/home/alex/.local/share/lookahead/history.sqlite.corrupt-20261202T101500";
    case "models_status":
      return modelsStatus();
    case "models_fetch_default":
      return fetchDefault(a.on_progress);
    case "models_fetch_cancel":
      fetchCancelled = true;
      return null;
    case "models_import": {
      // As the shell does: it opens the file dialog itself (cfg.openPath is what the user picks; null = closed),
      // then checks the file is a GGUF (engine::gguf_info::inspect; the message is EngineError::ModelCorrupt's).
      if (!["draft", "target", "judge", "embedding"].includes(a.role)) fail("invalid_role", `unknown role "${a.role}"`);
      const path = cfg.openPath === undefined ? "/home/alex/Models/my-helper-model.gguf" : cfg.openPath;
      if (path === null) return null;
      if (!path.endsWith(".gguf")) fail("model_corrupt", `The model file ${path} is damaged or incomplete. Download it again or choose another file.`);
      installed.set(a.role, path);
      // One imported file stands in for whatever else is missing, to keep the tests short.
      for (const m of MODEL_DEFS) if (!installed.has(m.role)) installed.set(m.role, `/home/alex/.local/share/lookahead/models/${m.role}.gguf`);
      return modelsStatus();
    }
    case "models_import_folder": {
      // The shell opens the folder dialog (cfg.openFolder; null = closed) and installs what it recognises.
      const folder = cfg.openFolder === undefined ? "/media/alex/USB/lookahead-models" : cfg.openFolder;
      if (folder === null) return null;
      if (cfg.folderHolds === undefined || cfg.folderHolds.length === 0)
        fail(
          "no_models_found",
          `No Lookahead model files were found in ${folder}. It should hold the files of Lookahead's model packages (any names: they are recognised by their contents), for example a copy of the models folder of a computer where Lookahead already works.`,
        );
      const names: Record<string, string> = { draft: "Helper model", target: "Main model", embedding: "Meaning checker" };
      const added: string[] = [];
      for (const m of MODEL_DEFS)
        if (cfg.folderHolds.includes(m.role) && !installed.has(m.role)) {
          installed.set(m.role, `/home/alex/.local/share/lookahead/models/${m.role}.gguf`);
          added.push(names[m.role]);
        }
      if (added.length === 0)
        fail(
          "no_models_found",
          `No Lookahead model files were found in ${folder}. It should hold the files of Lookahead's model packages (any names: they are recognised by their contents), for example a copy of the models folder of a computer where Lookahead already works.`,
        );
      return { added, status: modelsStatus() };
    }
    case "model_file_pick":
      // The shell opens the file dialog and returns the path the user picked (null = closed).
      return cfg.openPath === undefined ? "/home/alex/Models/my-helper-model.gguf" : cfg.openPath;
    case "ask":
      return ask(a);
    case "engine_prepare":
      return prepare(a.on_event);
    case "cancel": {
      const r = running.get(a.request_id);
      if (r) r.cancelled = true;
      return null;
    }
    case "conversations_list": {
      const q = (a.query ?? "").toLowerCase();
      return [...convs.values()]
        .filter((c) => !c.deleted)
        .filter((c) => !q || c.title.toLowerCase().includes(q) || c.messages.some((m) => m.text.toLowerCase().includes(q)))
        .sort((x, y) => Number(y.pinned) - Number(x.pinned) || y.updated_at.localeCompare(x.updated_at))
        .map(summary);
    }
    case "conversation_get": {
      const c = getConv(a.id);
      return { id: c.id, title: c.title, created_at: c.created_at, updated_at: c.updated_at, messages: structuredClone(c.messages) };
    }
    case "conversation_rename":
      getConv(a.id).title = a.title;
      return null;
    case "conversation_pin":
      getConv(a.id).pinned = a.pinned;
      return null;
    case "conversation_delete":
      getConv(a.id).deleted = true;
      return null;
    case "conversation_restore": {
      const c = convs.get(a.id);
      if (!c) fail("not_found", "That conversation no longer exists.");
      c.deleted = false;
      return null;
    }
    case "conversation_export": {
      const c = getConv(a.id);
      return a.format === "json" ? JSON.stringify(c, null, 2) : exportMd(c);
    }
    case "conversation_export_to_file": {
      // As the shell does: it opens the save dialog itself (here the user picks Documents) and writes the file.
      const c = getConv(a.id);
      if (a.format !== "md" && a.format !== "json") fail("invalid_format", `Unknown export format "${a.format}"; use md or json.`);
      const name = c.title.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, " ").replace(/\s+/g, " ").trim().slice(0, 80) || "conversation";
      const path = `/home/alex/Documents/${name}.${a.format}`;
      files[path] = a.format === "json" ? JSON.stringify(c, null, 2) : exportMd(c);
      return path;
    }
    case "stats_csv_to_file": {
      const s = stats(a.since, a.until);
      const path = `/home/alex/Documents/lookahead-stats-${a.since ?? "start"}-to-${a.until ?? ymd(new Date())}.csv`;
      files[path] = ["day,answers,step_acceptance_rate,token_acceptance_rate,mean_speedup", ...s.over_time.map((d) => `${d.day},${d.answers},${d.step_acceptance_rate},${d.token_acceptance_rate},${d.mean_speedup}`)].join("\n");
      return path;
    }
    case "stats_query":
      return stats(a.since, a.until);
    case "stats_csv": {
      const s = stats(a.since, a.until);
      return ["day,answers,step_acceptance_rate,token_acceptance_rate,mean_speedup", ...s.over_time.map((d) => `${d.day},${d.answers},${d.step_acceptance_rate},${d.token_acceptance_rate},${d.mean_speedup}`)].join("\n");
    }
    case "settings_get":
      return { ...settings };
    case "settings_set": {
      const s = a.settings as Settings;
      if (!(s.gamma >= 1 && s.gamma <= 8)) fail("invalid_settings", "Steps drafted ahead must be between 1 and 8.");
      if (s.models_location === "server" && !/^https?:\/\/\S{3,}$/.test(s.server_url.trim()))
        fail("invalid_settings", "The server address must start with http:// or https://, e.g. http://gpu-box:8000.");
      if (s.server_key.trim()) {
        serverKey = s.server_key.trim();
        serverKeyUrl = s.server_url.trim();
      }
      const keyKept = serverKey !== "" && sameServer(serverKeyUrl, s.server_url);
      settings = { ...s, embed_threshold: Math.min(1, Math.max(0.5, s.embed_threshold)), server_key: "", server_key_saved: keyKept };
      window.__LOOKAHEAD_MOCK__!.settings = settings;
      return { ...settings };
    }
    case "server_test": {
      // As the shell: connect to the server the settings name (cfg.serverModels is what it serves; none = down).
      const s = a.settings as Settings;
      const url = s.server_url.trim().replace(/\/+$/, "").replace(/\/v1$/, "");
      if (!/^https?:\/\/\S{3,}$/.test(url))
        fail("invalid_settings", "The server address must start with http:// or https://, e.g. http://gpu-box:8000.");
      const served = cfg.serverModels ?? [];
      if (served.length === 0)
        fail("server_unreachable", `The model server at ${url} cannot be reached. Check the address and that the server is running, then try again.`);
      const find = (name: string) => (name.trim() === "" ? served[0] : served.find((m) => m === name.trim()));
      const main = find(s.server_model);
      if (!main) fail("server_unknown_model", `The model server at ${url} has no model called "${s.server_model.trim()}". It offers: ${served.join(", ")}.`);
      let draft: string | null = null;
      if (s.server_draft_model.trim()) {
        draft = find(s.server_draft_model) ?? null;
        if (!draft) fail("server_unknown_model", `The model server at ${url} has no model called "${s.server_draft_model.trim()}". It offers: ${served.join(", ")}.`);
      }
      return { model: main, context_tokens: 32768, draft_model: draft };
    }
    default:
      fail("unknown_command", `The app asked for “${cmd}”, which this version does not know.`);
  }
}

mockWindows("main");
mockIPC((cmd, args) => {
  record(cmd, args);
  return handle(cmd, args);
});
window.__LOOKAHEAD_MOCK__ = { calls, config: cfg, files, settings };
