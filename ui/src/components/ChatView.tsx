// The chat screen: conversation, streaming answer, composer with Stop.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import * as ipc from "../api/ipc";
import type { Conversation, ConversationId, IpcError, Message, Settings, StepRecord } from "../api/types";
import type { EngineState } from "../App";
import { type LiveStatus, prepareLabel } from "../lib/format";
import { MODE_LABEL } from "../lib/format";
import { ErrorBox } from "./ErrorBox";
import { Icon } from "./Icon";
import { AnswerCard, LiveAnswer, UserBubble } from "./Message";
import examples from "../data/examples.json";

interface Live {
  convId: ConversationId | null;
  question: string;
  requestId: string | null;
  steps: StepRecord[];
  tail: string;
  answer: Message | null;
  stopping: boolean;
  /** What the engine is doing now, and when the question was sent. */
  status: LiveStatus | null;
  startedAt: number;
}

// Questions the default model answers correctly (a Rust test asks it each
// one and checks the expected answer: src-tauri/crates/engine/tests/answers.rs).
const EXAMPLES: string[] = examples.map((e) => e.question);

export function ChatView(props: {
  conversationId: ConversationId | null;
  settings: Settings;
  /** The models' readiness (null before the app has asked for them). */
  engine?: EngineState | null;
  active: boolean;
  focusTick: number;
  onStarted: (id: ConversationId) => void;
  onFinished: () => void;
  onOpenSettings: () => void;
}) {
  const [conv, setConv] = useState<Conversation | null>(null);
  const [loading, setLoading] = useState(false);
  const [loadError, setLoadError] = useState<IpcError | null>(null);
  const [live, setLiveState] = useState<Live | null>(null);
  const [askError, setAskError] = useState<{ error: IpcError; question: string } | null>(null);
  const [draft, setDraft] = useState("");
  const [liveTitle, setLiveTitle] = useState<{ id: ConversationId; title: string } | null>(null);

  const liveRef = useRef<Live | null>(null);
  const cancelWanted = useRef(false);
  const skipLoadFor = useRef<ConversationId | null>(null);
  const currentId = useRef(props.conversationId);
  currentId.current = props.conversationId;
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  const setLive = (l: Live | null) => {
    liveRef.current = l;
    setLiveState(l);
  };
  const patchLive = (p: Partial<Live> | ((l: Live) => Partial<Live>)) => {
    const cur = liveRef.current;
    if (!cur) return;
    setLive({ ...cur, ...(typeof p === "function" ? p(cur) : p) });
  };

  // Load the conversation when the selection changes.
  useEffect(() => {
    const id = props.conversationId;
    setLoadError(null);
    if (id == null) {
      setConv(null);
      return;
    }
    if (skipLoadFor.current === id) {
      skipLoadFor.current = null;
      return;
    }
    let stale = false;
    setLoading(true);
    ipc
      .conversationGet(id)
      .then((c) => !stale && setConv(c))
      .catch((e) => !stale && setLoadError(ipc.toIpcError(e)))
      .finally(() => !stale && setLoading(false));
    stick.current = true;
    return () => {
      stale = true;
    };
  }, [props.conversationId]);

  useEffect(() => {
    if (props.active) inputRef.current?.focus();
  }, [props.focusTick, props.active]);

  // Keep the newest text in view while the user has not scrolled up.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });

  function resize() {
    const el = inputRef.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 220)}px`;
  }
  useLayoutEffect(resize, [draft]);

  async function send(text: string) {
    const question = text.trim();
    if (!question || liveRef.current) return;
    setAskError(null);
    setDraft("");
    stick.current = true;
    cancelWanted.current = false;
    const startConv = props.conversationId;
    setLive({
      convId: startConv,
      question,
      requestId: null,
      steps: [],
      tail: "",
      answer: null,
      stopping: false,
      status: null,
      startedAt: Date.now(),
    });
    let failure: IpcError | null = null;
    try {
      await ipc.ask(startConv, question, props.settings, (ev) => {
        switch (ev.kind) {
          case "started":
            patchLive({ requestId: ev.request_id, convId: ev.conversation_id });
            if (startConv == null && currentId.current == null) {
              skipLoadFor.current = ev.conversation_id;
              props.onStarted(ev.conversation_id);
              setLiveTitle({ id: ev.conversation_id, title: ev.title });
            }
            if (cancelWanted.current) void ipc.cancel(ev.request_id).catch(() => undefined);
            break;
          case "loading":
            patchLive({ status: { kind: "loading", model: ev.model, role: ev.role, index: ev.index, count: ev.count } });
            break;
          case "stage":
            patchLive({ status: { kind: "stage", stage: ev.stage } });
            break;
          case "token":
            patchLive((l) => ({ tail: l.tail + ev.text }));
            break;
          case "step":
            patchLive((l) => ({ steps: [...l.steps.filter((s) => s.index !== ev.step.index), ev.step], tail: "" }));
            break;
          case "done":
            patchLive({ answer: ev.answer, tail: "" });
            break;
          case "error":
            failure = { code: ev.error.code, message: ev.error.message };
            break;
        }
      });
    } catch (e) {
      failure ??= ipc.toIpcError(e);
    }
    const finished = liveRef.current as Live | null;
    const cid = finished?.convId ?? null;
    let fresh: Conversation | null = null;
    if (cid != null) {
      try {
        fresh = await ipc.conversationGet(cid);
      } catch {
        fresh = null;
      }
    }
    if (currentId.current === cid || (cid == null && currentId.current == null)) {
      if (fresh) setConv(fresh);
      else if (finished) setConv(withLocal(conv, cid, finished));
    }
    const f = failure as IpcError | null;
    if (f && f.code !== "cancelled") {
      setAskError({ error: f, question });
      // The question is not lost: it goes back into the box (unless the
      // user has started typing something else).
      setDraft((d) => (d.trim() ? d : question));
    }
    setLive(null);
    props.onFinished();
    inputRef.current?.focus();
  }

  function stop() {
    const l = liveRef.current;
    if (!l || l.stopping) return;
    cancelWanted.current = true;
    patchLive({ stopping: true });
    if (l.requestId) {
      ipc.cancel(l.requestId).catch((e) => {
        setAskError({ error: ipc.toIpcError(e), question: l.question });
      });
    }
  }

  function onKeyDown(e: KeyboardEvent) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void send(draft);
    }
  }

  const showLive = live && live.convId === props.conversationId ? live : null;
  let messages = conv && conv.id === props.conversationId ? conv.messages : [];
  if (showLive) {
    // While streaming, the store may already hold the question: show it once.
    const last = messages[messages.length - 1];
    if (last && last.role === "user" && last.text === showLive.question) messages = messages.slice(0, -1);
  }
  const busy = live != null;
  const title =
    conv && conv.id === props.conversationId
      ? conv.title
      : liveTitle && liveTitle.id === props.conversationId
        ? liveTitle.title
        : props.conversationId == null || showLive
          ? "New chat"
          : "";

  // The question each answer answers: the user message before it, as the
  // list is rendered.
  let asked: string | undefined;
  return (
    <section class="chat" aria-labelledby="chat-title" hidden={!props.active}>
      <header class="view-header">
        <h1 id="chat-title" class="view-title" data-testid="chat-title">
          {title}
        </h1>
        <button type="button" class="mode-chip" onClick={props.onOpenSettings} title="Change in Settings">
          <Icon name="bolt" size={14} />
          Speed-up: {MODE_LABEL[props.settings.mode]}
        </button>
      </header>

      <div
        class="chat-scroll"
        ref={scrollRef}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        <div class="chat-column" aria-live="off">
          {loadError && <ErrorBox error={loadError} title="This conversation could not be opened" />}
          {loading && messages.length === 0 && !showLive && <p class="muted center">Opening…</p>}
          {!loading && !loadError && messages.length === 0 && !showLive && (
            <div class="empty-chat">
              <div class="empty-icon" aria-hidden="true">
                <Icon name="bulb" size={28} />
              </div>
              <h2>What would you like to work out?</h2>
              <p class="muted">
                Ask a question with a few steps — a budget split, a schedule, a word problem. You will see each step of
                the reasoning and the final answer.
              </p>
              <ul class="examples" aria-label="Example questions">
                {EXAMPLES.map((q) => (
                  <li key={q}>
                    <button
                      type="button"
                      class="example"
                      onClick={() => {
                        setDraft(q);
                        inputRef.current?.focus();
                      }}
                    >
                      {q}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          )}
          {messages.map((m, i) => {
            if (m.role === "user") {
              asked = m.text;
              return <UserBubble key={m.id} text={m.text} />;
            }
            // This answer's own question (`asked` moves on with the list).
            const question = asked;
            return (
              <AnswerCard
                key={m.id}
                msg={m}
                errorShownBelow={askError != null && i === messages.length - 1}
                onRegenerate={question && !live ? () => void send(question) : undefined}
                onEdit={
                  question && !live
                    ? () => {
                        setDraft(question);
                        inputRef.current?.focus();
                      }
                    : undefined
                }
              />
            );
          })}
          {showLive && <UserBubble text={showLive.question} />}
          {showLive &&
            (showLive.answer ? (
              <AnswerCard msg={showLive.answer} />
            ) : (
              <LiveAnswer
                steps={showLive.steps}
                tail={showLive.tail}
                stopping={showLive.stopping}
                status={showLive.status}
                startedAt={showLive.startedAt}
              />
            ))}
        </div>
      </div>

      <div class="composer-wrap">
        {props.engine?.phase === "preparing" && !live && (
          <p class="engine-status chat-column" role="status" data-testid="engine-status">
            <span class="spinner" aria-hidden="true" />
            <span>{prepareLabel(props.engine.event)}</span>
            <span class="muted small">You can type your question now; it starts as soon as they are ready.</span>
          </p>
        )}
        {props.engine?.phase === "failed" && !live && (
          <p class="engine-status engine-status--failed chat-column" role="status" data-testid="engine-status">
            <Icon name="info" size={14} />
            <span>
              The models could not be loaded in advance: {props.engine.error.message} Asking a question tries again.
            </span>
          </p>
        )}
        {askError && (
          <div class="chat-column">
            <ErrorBox error={askError.error} title="The answer could not be finished">
              {askError.error.code === "prompt_too_long" ? (
                <p class="small" data-testid="shorten-hint">
                  Your question is back in the box below: shorten it, then send it again.
                </p>
              ) : (
                <button
                  type="button"
                  class="btn btn-secondary"
                  onClick={() => {
                    setDraft((d) => (d.trim() === askError.question.trim() ? "" : d));
                    void send(askError.question);
                  }}
                >
                  Try again
                </button>
              )}
              <button type="button" class="btn btn-ghost" onClick={() => setAskError(null)}>
                Dismiss
              </button>
            </ErrorBox>
          </div>
        )}
        <form
          class="composer chat-column"
          onSubmit={(e) => {
            e.preventDefault();
            void send(draft);
          }}
        >
          <label for="composer-input" class="sr-only">
            Your question
          </label>
          <textarea
            id="composer-input"
            ref={inputRef}
            rows={1}
            value={draft}
            placeholder="Ask a question with a few steps…"
            onInput={(e) => setDraft((e.currentTarget as HTMLTextAreaElement).value)}
            onKeyDown={onKeyDown}
            aria-describedby="composer-hint"
          />
          {busy ? (
            <button type="button" class="btn btn-stop" onClick={stop} disabled={live?.stopping} data-testid="stop">
              <Icon name="stop" size={16} />
              {live?.stopping ? "Stopping…" : "Stop"}
            </button>
          ) : (
            <button type="submit" class="btn btn-primary" disabled={!draft.trim()} data-testid="send">
              <Icon name="send" size={16} />
              Send
            </button>
          )}
        </form>
        <p id="composer-hint" class="composer-hint chat-column">
          <kbd>Enter</kbd> to send · <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line
          {busy ? " · one question at a time" : ""}
        </p>
      </div>
    </section>
  );
}

/** If the conversation cannot be re-read, keep what was streamed. */
function withLocal(conv: Conversation | null, cid: ConversationId | null, l: Live): Conversation {
  const now = new Date().toISOString();
  const base: Conversation = conv && conv.id === cid ? conv : { id: cid ?? -1, title: "New chat", created_at: now, updated_at: now, messages: [] };
  const user: Message = {
    id: -Date.now(),
    role: "user",
    text: l.question,
    final_answer: null,
    // As the shell records a question (it has no mode of its own).
    mode: "plain",
    status: "complete",
    error: null,
    created_at: now,
    steps: [],
    metrics: null,
    draft_model: null,
    target_model: null,
    judge: null,
    cut_off: false,
    turns_left_out: 0,
  };
  const answer: Message = l.answer ?? {
    ...user,
    id: -Date.now() - 1,
    role: "assistant",
    text: l.steps.map((s) => s.text).join("\n"),
    status: l.stopping ? "cancelled" : "failed",
    steps: l.steps,
  };
  return { ...base, messages: [...base.messages, user, answer] };
}
