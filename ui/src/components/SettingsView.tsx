// Settings: models, speed-up mode, γ, judge, budgets, appearance. Each with one line of plain help.

import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import * as ipc from "../api/ipc";
import type { IpcError, JudgeKind, ModeChoice, ModelsLocation, ModelsStatus, SdProposer, ServerTest, Settings, Theme } from "../api/types";
import { bytes } from "../lib/format";
import { applyFontScale, applyTheme } from "../lib/theme";
import { ErrorBox } from "./ErrorBox";
import { ROLE_LABEL } from "./FirstRun";
import { Icon } from "./Icon";
import { MOD } from "./Sidebar";
import { showToast } from "./Toasts";

const MODES: Array<{ value: ModeChoice; label: string; help: string }> = [
  { value: "auto", label: "Automatic (recommended)", help: "Lookahead tries each way of answering on your computer a couple of times, then keeps the fastest." },
  { value: "plain", label: "Plain", help: "No speed-up: only the main model writes. Useful for comparing." },
  { value: "sd", label: "Word drafting", help: "Likely next words are guessed ahead and the main model checks them all at once; the answer stays the main model’s own." },
  { value: "lr", label: "Step drafting", help: "The helper writes whole steps ahead; a checker keeps those that agree." },
  { value: "sd+lr", label: "Step + word drafting", help: "Both together. Fastest when the helper and the main model agree on most steps." },
];

const LOCATIONS: Array<{ value: ModelsLocation; label: string }> = [
  { value: "this_computer", label: "This computer" },
  { value: "server", label: "A server on your network" },
];

const THEMES: Array<{ value: Theme; label: string }> = [
  { value: "system", label: "Match my computer" },
  { value: "light", label: "Light" },
  { value: "dark", label: "Dark" },
];

function Field(props: { id: string; label: string; help: string; children: ComponentChildren; value?: string }) {
  return (
    <div class="field">
      <div class="field-label-row">
        <label for={props.id} class="field-label">
          {props.label}
        </label>
        {props.value != null && (
          <output for={props.id} class="field-value">
            {props.value}
          </output>
        )}
      </div>
      {props.children}
      <p class="field-help" id={`${props.id}-help`}>
        {props.help}
      </p>
    </div>
  );
}

/** A number typed into a field, or null while the field is empty or not a
 * number (the saved value stays until the user types one). */
function typedNumber(el: HTMLInputElement): number | null {
  const raw = el.value.trim();
  const v = raw === "" ? NaN : Number(raw);
  return Number.isFinite(v) ? v : null;
}

function clampInt(v: number, lo: number, hi: number) {
  if (!Number.isFinite(v)) return lo;
  return Math.min(hi, Math.max(lo, Math.round(v)));
}

export function SettingsView(props: {
  settings: Settings;
  active: boolean;
  onSaved: (s: Settings) => void;
  /** Told whether the form has changes that are not saved. */
  onDirtyChange?: (dirty: boolean) => void;
}) {
  const [form, setForm] = useState<Settings>(props.settings);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<IpcError | null>(null);
  const [models, setModels] = useState<ModelsStatus | null>(null);
  const [testing, setTesting] = useState(false);
  const [tested, setTested] = useState<ServerTest | null>(null);
  const [testError, setTestError] = useState<IpcError | null>(null);
  const saved = useRef(props.settings);
  saved.current = props.settings;

  // Fresh copy of the saved settings each time the screen opens, before
  // the first event can reach it: a plain effect waits for a frame, and a
  // choice clicked in that frame was undone when it ran (seen in the real
  // app under load: the server choice did not stay chosen).
  useLayoutEffect(() => {
    if (!props.active) return;
    setForm(props.settings);
    setError(null);
    ipc
      .modelsStatus()
      .then(setModels)
      .catch(() => setModels(null));
    return () => {
      // Leaving without saving: undo the live preview of theme and font size.
      applyTheme(saved.current.theme);
      applyFontScale(saved.current.font_scale);
    };
  }, [props.active]);

  const dirty = JSON.stringify(form) !== JSON.stringify(props.settings);
  // With the main model on a server, its file here is not used (nor the
  // helper's when the server runs that too).
  const onServer = form.models_location === "server";
  // Told before the next event can arrive (a layout effect runs as the
  // change renders; a plain effect waits for a frame, and a click on
  // "Chat" right after a change used to leave without asking).
  useLayoutEffect(() => props.onDirtyChange?.(dirty), [dirty]);
  const set = <K extends keyof Settings>(k: K, v: Settings[K]) => setForm((f) => ({ ...f, [k]: v }));

  function setTheme(t: Theme) {
    set("theme", t);
    applyTheme(t);
  }
  function setFont(s: number) {
    set("font_scale", s);
    applyFontScale(s);
  }
  function setJudgeKind(k: JudgeKind) {
    setForm((f) => ({
      ...f,
      judge_kind: k,
      judge_model: k === "embed" ? "embedding" : f.judge_model === "embedding" ? "target" : f.judge_model,
    }));
  }

  async function testServer() {
    setTesting(true);
    setTested(null);
    setTestError(null);
    try {
      setTested(await ipc.serverTest(form));
    } catch (e) {
      setTestError(ipc.toIpcError(e));
    } finally {
      setTesting(false);
    }
  }

  async function pick(key: "draft_model_path" | "target_model_path") {
    try {
      const p = await ipc.pickModelFile();
      if (p) set(key, p);
    } catch (e) {
      setError(ipc.toIpcError(e));
    }
  }

  async function save(e?: Event) {
    e?.preventDefault();
    setSaving(true);
    setError(null);
    try {
      const s = await ipc.settingsSet(form);
      props.onSaved(s);
      setForm(s);
      // Saved means clean now, not after the next render: leaving right
      // after "Settings saved" must not ask about unsaved changes.
      props.onDirtyChange?.(false);
      applyTheme(s.theme);
      applyFontScale(s.font_scale);
      showToast({ text: "Settings saved", tone: "success" });
    } catch (err) {
      setError(ipc.toIpcError(err));
    } finally {
      setSaving(false);
    }
  }

  function discard() {
    setForm(props.settings);
    applyTheme(props.settings.theme);
    applyFontScale(props.settings.font_scale);
  }

  // One line of text for a server setting, with its help below.
  const textField = (
    key: "server_url" | "server_model" | "server_draft_model" | "server_key",
    label: string,
    help: string,
    type: "text" | "url" | "password" = "text",
  ) => (
    <Field id={key} label={label} help={help}>
      <input
        id={key}
        // Preact types each input type apart; these three take the same attributes.
        type={type as "text"}
        autocomplete="off"
        value={form[key]}
        placeholder={type === "url" ? "http://gpu-box:8000" : undefined}
        aria-describedby={`${key}-help`}
        onInput={(e) => set(key, (e.currentTarget as HTMLInputElement).value)}
      />
    </Field>
  );

  const modelInfo = (role: "draft" | "target") => models?.models.find((m) => m.role === role);

  const modelField = (key: "draft_model_path" | "target_model_path", role: "draft" | "target", help: string) => {
    const info = modelInfo(role);
    const path = form[key];
    return (
      <div class="field">
        <div class="field-label-row">
          <span class="field-label" id={`${key}-label`}>
            {ROLE_LABEL[role]}
          </span>
        </div>
        <div class="model-pick" role="group" aria-labelledby={`${key}-label`}>
          <div class="model-pick-text">
            <span class="model-pick-name" data-testid={`${key}-value`}>
              {path ? path.split(/[\\/]/).pop() : info ? `${info.name} (default)` : "The default model"}
            </span>
            <span class="small muted">{path ?? (info?.bytes ? bytes(info.bytes) : "")}</span>
          </div>
          <button type="button" class="btn btn-secondary" onClick={() => void pick(key)} aria-label={`Choose a file for the ${ROLE_LABEL[role].toLowerCase()}`}>
            Choose file…
          </button>
          {path && (
            <button type="button" class="btn btn-ghost" onClick={() => set(key, null)}>
              Use default
            </button>
          )}
        </div>
        <p class="field-help">{help}</p>
      </div>
    );
  };

  return (
    <section class="settings" aria-labelledby="settings-title" hidden={!props.active}>
      <header class="view-header">
        <h1 id="settings-title" class="view-title">
          Settings
        </h1>
      </header>
      <form class="view-scroll" onSubmit={save} data-testid="settings-form">
        <div class="settings-column">
          {error && <ErrorBox error={error} title="Settings were not saved" />}

          <fieldset class="card settings-card">
            <legend>Appearance</legend>
            <div class="field" role="radiogroup" aria-labelledby="theme-label">
              <span class="field-label" id="theme-label">
                Colours
              </span>
              <div class="segmented">
                {THEMES.map((t) => (
                  <label key={t.value} class={form.theme === t.value ? "is-checked" : ""}>
                    <input type="radio" name="theme" value={t.value} checked={form.theme === t.value} onChange={() => setTheme(t.value)} />
                    {t.value === "light" && <Icon name="sun" size={16} />}
                    {t.value === "dark" && <Icon name="moon" size={16} />}
                    {t.label}
                  </label>
                ))}
              </div>
              <p class="field-help">Dark colours are easier on the eyes in dim light.</p>
            </div>
            <Field id="font_scale" label="Text size" value={`${Math.round(form.font_scale * 100)}%`} help="Makes all the text in Lookahead bigger or smaller.">
              <input
                id="font_scale"
                type="range"
                min={0.85}
                max={1.5}
                step={0.05}
                value={form.font_scale}
                aria-describedby="font_scale-help"
                onInput={(e) => setFont(Number((e.currentTarget as HTMLInputElement).value))}
              />
            </Field>
          </fieldset>

          <fieldset class="card settings-card">
            <legend>Models</legend>
            {onServer && form.server_draft_model.trim() ? (
              <p class="small muted" data-testid="draft-on-server">
                The helper model runs on the server too (set below).
              </p>
            ) : (
              modelField("draft_model_path", "draft", "The small, quick model that writes reasoning steps ahead.")
            )}
            {onServer ? (
              <p class="small muted" data-testid="target-on-server">
                The main model runs on the server set below, not on this computer.
              </p>
            ) : (
              modelField("target_model_path", "target", "The large model that has the final say on every step.")
            )}
          </fieldset>

          <fieldset class="card settings-card" data-testid="models-location">
            <legend>Where the models run</legend>
            <div class="field" role="radiogroup" aria-labelledby="location-label">
              <span class="field-label" id="location-label">
                The main model runs on
              </span>
              <div class="segmented">
                {LOCATIONS.map((l) => (
                  <label key={l.value} class={form.models_location === l.value ? "is-checked" : ""}>
                    <input
                      type="radio"
                      name="models_location"
                      value={l.value}
                      checked={form.models_location === l.value}
                      onChange={() => {
                        set("models_location", l.value);
                        setTested(null);
                      }}
                    />
                    {l.label}
                  </label>
                ))}
              </div>
              <p class="field-help">
                A server on your network (llama.cpp’s server, vLLM) can run a bigger main model than this computer. Your
                questions and history stay here.
              </p>
            </div>
            {form.models_location === "server" && (
              <>
                {textField("server_url", "Server address", "Ask whoever runs the server, e.g. http://gpu-box:8000.", "url")}
                {textField("server_model", "Main model’s name on the server", "Leave empty to use the first model the server offers.")}
                {textField("server_draft_model", "Helper model’s name on the server", "Leave empty to keep the helper on this computer.")}
                {textField(
                  "server_key",
                  "Key (only if the server needs one)",
                  form.server_key_saved
                    ? "A key is kept (in its own file, not with your history). Type a new one to replace it."
                    : "Kept in its own file on this computer, never with your history.",
                  "password",
                )}
                <div class="field">
                  <button type="button" class="btn btn-secondary" onClick={() => void testServer()} disabled={testing}>
                    {testing ? "Connecting…" : "Test connection"}
                  </button>
                  {tested && (
                    <p class="notice small" role="status" data-testid="server-test-result">
                      Connected: {tested.model} ({tested.context_tokens.toLocaleString()} tokens of context)
                      {tested.draft_model ? `; helper: ${tested.draft_model}` : ""}.
                    </p>
                  )}
                  {testError && <ErrorBox error={testError} title="Could not connect" />}
                  <p class="field-help">
                    With the main model on a server, answers use plain writing or step drafting: word drafting needs the
                    main model on this computer.
                  </p>
                </div>
              </>
            )}
          </fieldset>

          <fieldset class="card settings-card">
            <legend>Speed-up</legend>
            <div class="field" role="radiogroup" aria-labelledby="mode-label">
              <span class="field-label" id="mode-label">
                Mode
              </span>
              <div class="choice-list">
                {MODES.map((m) => (
                  <label class={`choice ${form.mode === m.value ? "is-checked" : ""}`} key={m.value}>
                    <input type="radio" name="mode" value={m.value} checked={form.mode === m.value} onChange={() => set("mode", m.value)} />
                    <span>
                      <span class="choice-title">{m.label}</span>
                      <span class="choice-help">{m.help}</span>
                    </span>
                  </label>
                ))}
              </div>
            </div>

            <Field
              id="gamma"
              label="Steps drafted ahead (γ)"
              value={String(form.gamma)}
              help="How far the helper runs ahead. More can be faster, but more drafts get thrown away."
            >
              <input
                id="gamma"
                type="range"
                min={1}
                max={8}
                step={1}
                value={form.gamma}
                aria-describedby="gamma-help"
                onInput={(e) => set("gamma", clampInt(Number((e.currentTarget as HTMLInputElement).value), 1, 8))}
              />
            </Field>

            <Field
              id="sd_proposer"
              label="How word drafting guesses"
              help="Guessing from the text so far costs almost nothing; the helper model guesses better but takes time on most computers."
            >
              <select
                id="sd_proposer"
                value={form.sd_proposer}
                aria-describedby="sd_proposer-help"
                onChange={(e) => set("sd_proposer", (e.currentTarget as HTMLSelectElement).value as SdProposer)}
              >
                <option value="ngram">From the text so far (quickest here)</option>
                <option value="draft">With the helper model</option>
              </select>
            </Field>
          </fieldset>

          <details class="settings-advanced" data-testid="settings-advanced">
            <summary class="card settings-card">
              <span class="legend-like">Advanced</span>
              <span class="muted small"> — how drafted steps are checked, and length limits</span>
            </summary>
          <fieldset class="card settings-card">
            <legend>Checking drafted steps</legend>
            <div class="field" role="radiogroup" aria-labelledby="judge-kind-label">
              <span class="field-label" id="judge-kind-label">
                How a drafted step is checked
              </span>
              <div class="segmented">
                <label class={form.judge_kind === "llm" ? "is-checked" : ""}>
                  <input type="radio" name="judge_kind" value="llm" checked={form.judge_kind === "llm"} onChange={() => setJudgeKind("llm")} />
                  A model reads it
                </label>
                <label class={form.judge_kind === "embed" ? "is-checked" : ""}>
                  <input type="radio" name="judge_kind" value="embed" checked={form.judge_kind === "embed"} onChange={() => setJudgeKind("embed")} />
                  Compare meaning
                </label>
              </div>
              <p class="field-help">
                {form.judge_kind === "llm"
                  ? "A model compares the draft with the main model’s step: careful, a little slower."
                  : "Compares the meaning of the two steps as numbers: faster, slightly less careful."}
              </p>
            </div>
            {form.judge_kind === "llm" ? (
              <Field id="judge_model" label="Checking model" help="Which model decides whether a drafted step says the same thing.">
                <select
                  id="judge_model"
                  value={form.judge_model}
                  aria-describedby="judge_model-help"
                  onChange={(e) => set("judge_model", (e.currentTarget as HTMLSelectElement).value as Settings["judge_model"])}
                >
                  <option value="target">Main model (most careful)</option>
                  <option value="draft">Helper model (quickest)</option>
                </select>
              </Field>
            ) : (
              <Field
                id="embed_threshold"
                label="How close in meaning a draft must be"
                value={form.embed_threshold.toFixed(2)}
                help="Higher is stricter: fewer drafts are kept, but those kept match more closely."
              >
                <input
                  id="embed_threshold"
                  type="range"
                  min={0.5}
                  max={1}
                  step={0.01}
                  value={form.embed_threshold}
                  aria-describedby="embed_threshold-help"
                  onInput={(e) => set("embed_threshold", Math.min(1, Math.max(0.5, Number((e.currentTarget as HTMLInputElement).value))))}
                />
              </Field>
            )}
          </fieldset>

          <fieldset class="card settings-card">
            <legend>Length limits</legend>
            <div class="field-grid">
              <Field id="step_token_budget" label="Longest step (tokens)" help="A single reasoning step stops here. A token is about ¾ of a word.">
                <input
                  id="step_token_budget"
                  type="number"
                  min={10}
                  max={1000}
                  step={1}
                  value={form.step_token_budget}
                  aria-describedby="step_token_budget-help"
                  onChange={(e) => {
                    const v = typedNumber(e.currentTarget as HTMLInputElement);
                    if (v !== null) set("step_token_budget", clampInt(v, 10, 1000));
                  }}
                />
              </Field>
              <Field id="max_answer_tokens" label="Longest answer (tokens)" help="Lookahead stops writing an answer after this many tokens.">
                <input
                  id="max_answer_tokens"
                  type="number"
                  min={16}
                  max={4096}
                  step={1}
                  value={form.max_answer_tokens}
                  aria-describedby="max_answer_tokens-help"
                  onChange={(e) => {
                    const v = typedNumber(e.currentTarget as HTMLInputElement);
                    if (v !== null) set("max_answer_tokens", clampInt(v, 16, 4096));
                  }}
                />
              </Field>
            </div>
            <div class="field field--check">
              <label class="check-label" for="calculator">
                <input
                  id="calculator"
                  type="checkbox"
                  checked={form.calculator}
                  aria-describedby="calculator-help"
                  onChange={(e) => set("calculator", (e.currentTarget as HTMLInputElement).checked)}
                />
                Fix wrong sums as they are written
              </label>
              <p class="field-help" id="calculator-help">
                Every sum in an answer is checked and a wrong one is pointed out. With this on, Lookahead also puts the right
                result in before the model goes on, so later steps build on it.
              </p>
            </div>
          </fieldset>

          </details>

          <section class="card settings-card" aria-labelledby="keys-title">
            <h2 id="keys-title" class="legend-like">
              Keyboard shortcuts
            </h2>
            <dl class="shortcuts">
              <dt>
                <kbd>{MOD}</kbd>+<kbd>N</kbd>
              </dt>
              <dd>New chat</dd>
              <dt>
                <kbd>{MOD}</kbd>+<kbd>K</kbd>
              </dt>
              <dd>Search your chats</dd>
              <dt>
                <kbd>{MOD}</kbd>+<kbd>,</kbd>
              </dt>
              <dd>Open settings</dd>
              <dt>
                <kbd>Enter</kbd>
              </dt>
              <dd>Send the question</dd>
              <dt>
                <kbd>Shift</kbd>+<kbd>Enter</kbd>
              </dt>
              <dd>New line in the question</dd>
            </dl>
          </section>
        </div>

        <div class="save-bar" data-dirty={dirty}>
          <div class="settings-column save-bar-inner">
            <span class="muted small" aria-live="polite">
              {dirty ? "You have unsaved changes." : "All changes saved."}
            </span>
            <button type="button" class="btn btn-ghost" onClick={discard} disabled={!dirty || saving}>
              Discard
            </button>
            <button type="submit" class="btn btn-primary" disabled={!dirty || saving}>
              {saving ? "Saving…" : "Save changes"}
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}
