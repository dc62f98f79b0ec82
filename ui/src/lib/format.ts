// Plain-language formatting shared by the screens.

import type { Message, ModeChoice, PrepareEvent, Stage, StepRecord, Verdict } from "../api/types";

export function pct(rate: number | null | undefined, digits = 0): string {
  if (rate == null || !Number.isFinite(rate)) return "–";
  return `${(rate * 100).toFixed(digits)}%`;
}

export function times(x: number | null | undefined): string {
  if (x == null || !Number.isFinite(x)) return "–";
  return `${x.toFixed(1)}×`;
}

/** "12 s", "1 min 5 s", "0.4 s". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 10) return `${(Math.round(seconds * 10) / 10).toString()} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return s ? `${m} min ${s} s` : `${m} min`;
}

export function bytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** The models Lookahead downloads, by the file name the shell records. */
const KNOWN_MODELS: Record<string, string> = {
  "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": "Qwen2.5-Coder 1.5B",
  "qwen2.5-coder-0.5b-instruct-awq-q4_k_m.gguf": "Qwen2.5-Coder 0.5B",
  "SmolLM2-135M-Instruct.Q4_1.gguf": "SmolLM2 135M (test model)",
};

/**
 * A model as people read it: the downloaded ones by their family name, a
 * file of one's own without its ".gguf", a server's model with where it runs
 * ("qwen2.5-32b on http://gpu-box:8000" stays as it is).
 */
export function modelLabel(name: string | null | undefined): string {
  if (!name) return "—";
  const known = KNOWN_MODELS[name];
  if (known) return known;
  return name.replace(/\.gguf$/i, "");
}

/** How drafted steps were checked, as the shell records it ("embed@0.95", "llm:draft", …), in words. */
export function checkerLabel(judge: string | null | undefined): string {
  if (!judge) return "—";
  const embed = /^embed@([0-9.]+)$/.exec(judge);
  if (embed) return `Meaning match ≥ ${embed[1]}`;
  if (judge === "llm:draft") return "The helper reads it";
  if (judge === "llm:target") return "The main model reads it";
  if (judge === "exact") return "Same words";
  return judge;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "Today 14:05", "Yesterday", "3 Nov", "3 Nov 2025". */
export function when(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const sameDay = (a: Date, b: Date) =>
    a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  if (sameDay(d, now)) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  const y = new Date(now);
  y.setDate(now.getDate() - 1);
  if (sameDay(d, y)) return "Yesterday";
  const opts: Intl.DateTimeFormatOptions =
    d.getFullYear() === now.getFullYear() ? { day: "numeric", month: "short" } : { day: "numeric", month: "short", year: "numeric" };
  return d.toLocaleDateString(undefined, opts);
}

export function isoDay(d: Date): string {
  const m = String(d.getMonth() + 1).padStart(2, "0");
  const day = String(d.getDate()).padStart(2, "0");
  return `${d.getFullYear()}-${m}-${day}`;
}

export const MODE_LABEL: Record<ModeChoice, string> = {
  auto: "Automatic",
  plain: "Plain",
  sd: "Word drafting",
  lr: "Step drafting",
  "sd+lr": "Step + word drafting",
};

/** Short description for a verdict, used in labels and legends. */
export const VERDICT_TEXT: Record<Verdict, string> = {
  accepted: "drafted ahead and accepted",
  rejected: "drafted ahead but rejected, rewritten by the main model",
  target_only: "written by the main model",
};

export const VERDICT_SHORT: Record<Verdict, string> = {
  accepted: "Drafted · kept",
  rejected: "Draft replaced",
  target_only: "Main model",
};

export function stepLabel(step: StepRecord): string {
  return `Step ${step.index + 1}: ${VERDICT_TEXT[step.verdict]}`;
}

/** "Worked through 9 steps in 12 s". */
export function stepsSummary(msg: Pick<Message, "steps" | "metrics" | "status">): string {
  const n = msg.steps.length;
  const t = msg.metrics ? ` in ${duration(msg.metrics.wall_seconds)}` : "";
  if (msg.status === "cancelled") return `Stopped after ${plural(n, "step")}${t}`;
  return `Worked through ${plural(n, "step")}${t}`;
}

/** How an answer's speed compares with this computer's usual (plain) speed, in words. */
export function speedVerdict(s: number | null | undefined): string | null {
  if (s == null || !Number.isFinite(s) || s <= 0) return null;
  if (s >= 1.1) return `${s.toFixed(1)}× faster than usual`;
  if (s > 0.9) return "About as fast as usual";
  if (s >= 0.7) return "A little slower than usual";
  return `${s.toFixed(1)}× the usual speed — slower this time`;
}

/**
 * The plain-language speed line under an answer, e.g.
 * "1.8× faster than usual · 7 of 10 drafted steps kept". "Usual" is this
 * computer's measured plain speed with the same main model.
 */
export function speedLine(msg: Message): string | null {
  const m = msg.metrics;
  if (!m) return null;
  const parts: string[] = [];
  const drafting = msg.mode !== "plain" && (m.drafted_steps != null || m.drafted_tokens != null);
  const verdict = speedVerdict(m.speedup_estimate);
  if (!drafting) {
    const tps = m.decode_tokens_per_s;
    parts.push("Plain decoding (no speed-up)");
    if (verdict) parts.push(verdict);
    if (Number.isFinite(tps) && tps > 0) parts.push(`${tps.toFixed(1)} tokens a second`);
    return parts.join(" · ");
  }
  if (verdict) parts.push(verdict);
  if (m.drafted_steps != null && m.drafted_steps > 0) {
    parts.push(`${m.accepted_steps ?? 0} of ${m.drafted_steps} drafted steps kept`);
  }
  if (m.drafted_tokens != null && m.drafted_tokens > 0 && m.token_acceptance_rate != null) {
    parts.push(`${pct(m.token_acceptance_rate)} of drafted tokens kept`);
  }
  if (m.speculation_stopped) {
    // The guard paused step drafting before this answer began (no step
    // was proposed): it lost time in the answers just before. The same
    // rule as AnswerMetrics::step_drafting_paused (domain crate).
    const paused = m.guard_stopped && !(m.per_position_acceptance ?? []).some((p) => p.proposed > 0);
    parts.push(
      paused
        ? "Step drafting paused: it was slower than plain in recent answers"
        : m.guard_stopped
          ? "Step drafting switched off partway: it was slower than plain"
          : "Step drafting switched off partway after a problem",
    );
  }
  if (parts.length === 0) parts.push(MODE_LABEL[msg.mode]);
  return parts.join(" · ");
}

/** What the live answer is waiting for. */
export type LiveStatus =
  | { kind: "loading"; model: string; role: string; index: number; count: number }
  | { kind: "stage"; stage: Stage };

const ROLE_WORD: Record<string, string> = { target: "main model", draft: "helper model" };

/** "Loading the main model (1 of 2)…", "Writing step 3…", "Drafting steps 3–6 ahead…". */
export function liveStatusLabel(status: LiveStatus | null, settled: number): string {
  if (!status) return settled ? `Working… ${plural(settled, "step")} so far` : "Reading your question…";
  if (status.kind === "loading") {
    const what = ROLE_WORD[status.role] ?? "model";
    return status.count > 1 ? `Loading the ${what} (${status.index} of ${status.count})…` : `Loading the ${what}…`;
  }
  const st = status.stage;
  const n = st.step + 1;
  switch (st.activity) {
    case "writing":
      return `Writing step ${n}…`;
    case "drafting":
      return st.ahead > 1 ? `Drafting steps ${n}–${n + st.ahead - 1} ahead…` : `Drafting step ${n} ahead…`;
    case "checking":
      return st.drafted > 1 ? `Checking ${st.drafted} drafted steps…` : "Checking the drafted step…";
  }
}

/** The banner while the models get ready (`engine_prepare`). */
export function prepareLabel(e: PrepareEvent | null): string {
  if (!e) return "Getting the models ready…";
  switch (e.kind) {
    case "loading": {
      const what = ROLE_WORD[e.role] ?? "model";
      return `Getting the models ready… loading the ${what}${e.count > 1 ? ` (${e.index} of ${e.count})` : ""}`;
    }
    case "measuring":
      return "Getting the models ready… timing this computer once, so each answer can say how fast it was";
    case "ready":
      return "The models are ready";
  }
}

export function countVerdicts(steps: StepRecord[]): Record<Verdict, number> {
  const c: Record<Verdict, number> = { accepted: 0, rejected: 0, target_only: 0 };
  for (const s of steps) c[s.verdict]++;
  return c;
}
