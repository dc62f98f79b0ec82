// One question and one answer. Model text is only ever rendered as text nodes.

import { useEffect, useState } from "preact/hooks";
import type { Message, StepRecord } from "../api/types";
import {
  checkerLabel,
  countVerdicts,
  duration,
  liveStatusLabel,
  type LiveStatus,
  modelLabel,
  plural,
  speedLine,
  stepLabel,
  stepsSummary,
  VERDICT_SHORT,
} from "../lib/format";
import { Markdown } from "../lib/markdown";
import { ErrorBox } from "./ErrorBox";
import { showToast } from "./Toasts";
import { Icon, type IconName } from "./Icon";

const VERDICT_ICON: Record<StepRecord["verdict"], IconName> = {
  accepted: "check",
  rejected: "swap",
  target_only: "pen",
};

function ms(v: number | null): string | null {
  if (v == null) return null;
  return v < 1000 ? `${Math.round(v)} ms` : duration(v / 1000);
}

function StepItem(props: { step: StepRecord }) {
  const s = props.step;
  const label = stepLabel(s);
  const timing = [
    ms(s.draft_ms) && `helper ${ms(s.draft_ms)}`,
    ms(s.target_ms) && `main model ${ms(s.target_ms)}`,
    ms(s.judge_ms) && `check ${ms(s.judge_ms)}`,
  ]
    .filter(Boolean)
    .join(" · ");
  return (
    <li class={`step step--${s.verdict}`} data-testid="step" data-verdict={s.verdict}>
      <span class="step-marker" role="img" aria-label={label} title={label}>
        <Icon name={VERDICT_ICON[s.verdict]} size={14} />
      </span>
      <div class="step-body">
        <div class="step-meta" aria-hidden="true">
          <span class="step-num">Step {s.index + 1}</span>
          <span class="step-chip">{VERDICT_SHORT[s.verdict]}</span>
        </div>
        <Markdown class="step-text" text={s.text} />
        {(s.arithmetic ?? [])
          .filter((c) => !c.correct)
          .map((c, i) => (
            <p key={i} class={`step-check${c.corrected ? " step-check--corrected" : ""}`} data-testid="arith-check">
              <Icon name={c.corrected ? "check" : "swap"} size={12} />{" "}
              {c.corrected
                ? `Calculator: ${c.expression} = ${c.exact} (the model wrote ${c.written}; corrected ${c.written} → ${c.exact})`
                : `Check the sum: ${c.expression} = ${c.written} — it is ${c.exact}`}
            </p>
          ))}
        {s.verdict === "rejected" && s.drafted && (
          <details class="step-draft">
            <summary>See the draft that was replaced</summary>
            <Markdown text={s.drafted} />
          </details>
        )}
        {(s.judge_score != null || timing) && (
          <details class="step-details" data-testid="step-details">
            <summary>Details</summary>
            <p class="muted small">
              {[s.judge_score != null && `meaning match ${s.judge_score.toFixed(2)}`, timing].filter(Boolean).join(" · ")}
            </p>
          </details>
        )}
      </div>
    </li>
  );
}

export function StepList(props: { steps: StepRecord[] }) {
  return (
    <ol class="step-list" aria-label="Reasoning steps">
      {props.steps.map((s) => (
        <StepItem key={s.index} step={s} />
      ))}
    </ol>
  );
}

function VerdictBar(props: { steps: StepRecord[] }) {
  const c = countVerdicts(props.steps);
  const n = props.steps.length || 1;
  return (
    <span class="verdict-bar" aria-hidden="true">
      <span class="vb vb--accepted" style={{ flexGrow: c.accepted / n }} />
      <span class="vb vb--rejected" style={{ flexGrow: c.rejected / n }} />
      <span class="vb vb--target_only" style={{ flexGrow: c.target_only / n }} />
    </span>
  );
}

function verdictCounts(steps: StepRecord[]): string {
  const c = countVerdicts(steps);
  const parts: string[] = [];
  if (c.accepted) parts.push(`${c.accepted} drafted and kept`);
  if (c.rejected) parts.push(`${c.rejected} drafts replaced`);
  if (c.target_only) parts.push(`${c.target_only} by the main model`);
  return parts.join(", ");
}

export function UserBubble(props: { text: string }) {
  return (
    <div class="msg msg--user">
      <div class="bubble" data-testid="user-message">
        <span class="sr-only">You asked: </span>
        {props.text}
      </div>
    </div>
  );
}

/** Puts text on the clipboard (the web view's API, else the older copy command). */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** The answer with its steps, as plain text for an email or a document. */
export function answerWithSteps(m: Message): string {
  const steps = m.steps.map((s) => `Step ${s.index + 1}: ${s.text.trim()}`).join("\n\n");
  const answer = (m.final_answer ?? "").trim();
  return [steps, answer && `Answer: ${answer}`].filter(Boolean).join("\n\n");
}

export function AnswerCard(props: {
  msg: Message;
  /** Ask the same question again. */
  onRegenerate?: () => void;
  /** Put the question back in the question box to change it. */
  onEdit?: () => void;
  /** The failure is explained in the box under the conversation: one error box, not two. */
  errorShownBelow?: boolean;
}) {
  const m = props.msg;
  const line = speedLine(m);
  // A cut-off answer shows only what the model marked as its answer: its
  // last paragraph is not a conclusion.
  const answer = (m.final_answer ?? (m.cut_off ? "" : m.text) ?? "").trim();
  const detail = [
    m.draft_model && `Helper: ${modelLabel(m.draft_model)}`,
    m.target_model && `Main: ${modelLabel(m.target_model)}`,
    m.judge && `Checker: ${checkerLabel(m.judge)}`,
    m.metrics && `first words after ${duration(m.metrics.time_to_first_token_s)}`,
    m.metrics && `${m.metrics.generated_tokens} tokens in ${duration(m.metrics.wall_seconds)}`,
  ]
    .filter(Boolean)
    .join(" · ");
  return (
    <div class="msg msg--assistant">
      <article class={`answer answer--${m.status}`} data-testid="answer" aria-label="Lookahead’s answer">
        {m.status === "cancelled" && (
          <p class="notice" data-testid="cancelled-note">
            <Icon name="stop" size={14} /> You stopped this answer. Here is how far it got.
          </p>
        )}
        {m.status === "failed" && !props.errorShownBelow && (
          <ErrorBox
            past
            error={{ message: m.error ? `This answer could not be finished. ${m.error}` : "This answer could not be finished." }}
          />
        )}
        {m.status === "interrupted" && (
          <p class="notice" data-testid="interrupted-note">
            <Icon name="stop" size={14} /> Lookahead was closed while it wrote this answer. Here is how far it got; choose
            “Ask again” for a whole answer.
          </p>
        )}
        {m.status === "in_progress" && (
          <p class="notice" data-testid="in-progress-note">
            <Icon name="info" size={14} /> This answer is still being written elsewhere (another Lookahead window or the
            lookahead command). Open the conversation again in a moment to see it.
          </p>
        )}
        {m.status === "failed" && m.steps.length > 0 && (
          <p class="notice" data-testid="failed-kept-note">
            <Icon name="stop" size={14} /> The answer stopped with a problem. The steps written before it are kept below.
          </p>
        )}
        {m.turns_left_out > 0 && (
          <p class="notice" data-testid="turns-left-out-note">
            <Icon name="swap" size={14} /> This chat is long: the {plural(m.turns_left_out, "oldest message")} did not fit and
            the model answered without them.
          </p>
        )}
        {m.cut_off && (
          <p class="notice" data-testid="cut-off-note">
            <Icon name="stop" size={14} /> This answer reached the length limit before the model finished
            {m.final_answer ? "." : ", so it has no final answer."} You can allow longer answers in Settings.
          </p>
        )}
        {m.steps.length > 0 && (
          <details class="steps" data-testid="steps">
            <summary data-testid="steps-summary">
              <Icon name="chevron" size={16} class="chev" />
              <span class="steps-summary">{stepsSummary(m)}</span>
              <VerdictBar steps={m.steps} />
              <span class="verdict-counts small muted" data-testid="verdict-counts">
                {verdictCounts(m.steps)}
              </span>
            </summary>
            <p class="steps-explain small muted" data-testid="steps-explain">
              The <strong>helper</strong> is a small, quick model that drafts steps ahead; the <strong>main model</strong> is
              the larger one that checks them and writes its own where they differ. The answer is always the main model’s.
            </p>
            <p class="steps-legend small muted" aria-hidden="true">
              <span class="legend legend--accepted">
                <Icon name="check" size={12} /> drafted ahead and kept
              </span>
              <span class="legend legend--rejected">
                <Icon name="swap" size={12} /> draft replaced
              </span>
              <span class="legend legend--target_only">
                <Icon name="pen" size={12} /> written by the main model
              </span>
            </p>
            <StepList steps={m.steps} />
          </details>
        )}
        {answer ? (
          <section class="final-answer" aria-label="Final answer">
            <div class="final-label">{m.status === "complete" && !m.cut_off ? "Answer" : "Partial answer"}</div>
            <div class="final-text" data-testid="final-answer">
              <Markdown text={answer} />
            </div>
          </section>
        ) : (
          m.status !== "failed" && !m.cut_off && <p class="muted">No answer was written.</p>
        )}
        {line && (
          <p class="speed-line" data-testid="speed-line" title={detail || undefined}>
            <Icon name="bolt" size={14} />
            <span>{line}</span>
          </p>
        )}
        <div class="answer-actions" role="group" aria-label="Answer actions">
          {answer && (
            <button
              type="button"
              class="btn btn-ghost btn-sm"
              data-testid="copy-answer"
              onClick={async () =>
                showToast(
                  (await copyText(answer))
                    ? { text: "Answer copied", tone: "success" }
                    : { text: "Could not copy the answer", tone: "error" },
                )
              }
            >
              <Icon name="copy" size={14} /> Copy answer
            </button>
          )}
          {m.steps.length > 0 && (
            <button
              type="button"
              class="btn btn-ghost btn-sm"
              data-testid="copy-with-steps"
              onClick={async () =>
                showToast(
                  (await copyText(answerWithSteps(m)))
                    ? { text: "Answer and steps copied", tone: "success" }
                    : { text: "Could not copy the answer", tone: "error" },
                )
              }
            >
              <Icon name="copy" size={14} /> Copy with steps
            </button>
          )}
          {props.onRegenerate && (
            <button type="button" class="btn btn-ghost btn-sm" data-testid="regenerate" onClick={props.onRegenerate}>
              <Icon name="swap" size={14} /> Ask again
            </button>
          )}
          {props.onEdit && (
            <button type="button" class="btn btn-ghost btn-sm" data-testid="edit-question" onClick={props.onEdit}>
              <Icon name="pen" size={14} /> Edit question
            </button>
          )}
        </div>
      </article>
    </div>
  );
}

/** Seconds since `since`, ticking once a second. */
function useElapsed(since: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [since]);
  return Math.max(0, Math.floor((now - since) / 1000));
}

/** The answer while it streams in. */
export function LiveAnswer(props: {
  steps: StepRecord[];
  tail: string;
  stopping: boolean;
  status: LiveStatus | null;
  startedAt: number;
}) {
  const elapsed = useElapsed(props.startedAt);
  return (
    <div class="msg msg--assistant">
      <article class="answer answer--live" aria-busy="true" data-testid="live-answer" aria-label="Answer in progress">
        <div class="live-status">
          <span class="spinner" aria-hidden="true" />
          <span role="status" data-testid="live-stage">
            {props.stopping ? "Stopping…" : liveStatusLabel(props.status, props.steps.length)}
          </span>
          <span class="muted small live-elapsed" data-testid="live-elapsed" aria-hidden="true">
            {elapsed > 0 ? `${elapsed} s` : ""}
          </span>
        </div>
        {props.steps.length > 0 && <StepList steps={props.steps} />}
        {props.tail && (
          <p class="live-tail" data-testid="live-tail">
            {props.tail}
            <span class="caret" aria-hidden="true" />
          </p>
        )}
      </article>
    </div>
  );
}
