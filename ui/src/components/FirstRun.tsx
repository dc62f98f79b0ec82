// First run: check the models; fetch the defaults with a real progress bar, or add
// model files IT copied (a folder, recognised by contents) or a GGUF per role.

import { useRef, useState } from "preact/hooks";
import * as ipc from "../api/ipc";
import type { FetchProgress, IpcError, ModelInfo, ModelRole, ModelsStatus } from "../api/types";
import { bytes } from "../lib/format";
import { ErrorBox } from "./ErrorBox";
import { Icon } from "./Icon";

export const ROLE_LABEL: Record<ModelRole, string> = {
  draft: "Helper model",
  target: "Main model",
  judge: "Checker model",
  embedding: "Meaning checker",
};

export const ROLE_HELP: Record<ModelRole, string> = {
  draft: "A small, quick model that writes reasoning steps ahead.",
  target: "The large model that writes and checks the answer.",
  judge: "Decides whether a step drafted ahead says the same as the main model would.",
  embedding: "Compares the meaning of two steps, quickly.",
};

const STAGE_LABEL: Record<FetchProgress["stage"], string> = {
  download: "Downloading",
  assemble: "Putting the pieces together",
  verify: "Checking the file",
  done: "Ready",
};

/** "about 3 minutes left", "less than a minute left". */
function timeLeft(seconds: number): string {
  if (seconds < 60) return "less than a minute left";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} minute${minutes === 1 ? "" : "s"} left`;
  const hours = Math.round(minutes / 6) / 10;
  return `about ${hours} hours left`;
}

function ProgressRow(props: { model: ModelInfo; progress: FetchProgress | undefined; fetching: boolean }) {
  const { model, progress } = props;
  const ready = (model.installed && model.verified) || progress?.stage === "done";
  const total = progress?.total_bytes ?? 0;
  const done = progress?.done_bytes ?? 0;
  const frac = ready ? 1 : total > 0 ? Math.min(1, done / total) : 0;
  const percent = Math.round(frac * 100);
  let state: string;
  if (ready) state = "Ready";
  else if (progress) {
    state =
      progress.stage === "download" && total > 0
        ? `${STAGE_LABEL.download} · ${bytes(done)} of ${bytes(total)}`
        : `${STAGE_LABEL[progress.stage]}…`;
  } else if (props.fetching) state = "Waiting…";
  else state = model.installed ? "Needs checking" : "Not on this computer yet";

  return (
    <li class={`model-row ${ready ? "is-ready" : ""}`} data-testid={`model-${model.role}`}>
      <div class="model-row-head">
        <span class="model-status-icon" aria-hidden="true">
          {ready ? <Icon name="checkCircle" /> : <Icon name="download" />}
        </span>
        <div class="model-row-text">
          <div class="model-name">{ROLE_LABEL[model.role]}</div>
          <div class="model-help small muted">{ROLE_HELP[model.role]}</div>
          <div class="model-state muted">{state}</div>
          <details class="model-details small">
            <summary>Details</summary>
            <span class="muted">{model.name}</span>
          </details>
        </div>
        {model.bytes != null && <span class="muted small">{bytes(model.bytes)}</span>}
      </div>
      {(props.fetching || progress) && !ready && (
        <div
          class="progress"
          role="progressbar"
          aria-label={`${ROLE_LABEL[model.role]} download`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
          aria-valuetext={`${percent}%`}
        >
          <div class={`progress-fill ${progress && progress.stage !== "download" ? "is-busy" : ""}`} style={{ width: `${percent}%` }} />
        </div>
      )}
    </li>
  );
}

export function FirstRun(props: { status: ModelsStatus; onReady: (s: ModelsStatus) => void }) {
  const [status, setStatus] = useState(props.status);
  const [fetching, setFetching] = useState(false);
  const [progress, setProgress] = useState<Record<string, FetchProgress>>({});
  const [overall, setOverall] = useState<FetchProgress | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [showImport, setShowImport] = useState(false);
  // Which import runs: a role's file, or a whole folder.
  const [importing, setImporting] = useState<ModelRole | "folder" | null>(null);
  const [added, setAdded] = useState<string[] | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const [stopped, setStopped] = useState(false);
  // Bytes finished in earlier models, and when this fetch started, for the
  // total and the time left.
  const started = useRef(0);
  const [doneTotal, setDoneTotal] = useState(0);

  const missing = status.models.filter((m) => !(m.installed && m.verified));
  const missingBytes = missing.reduce((a, m) => a + (m.bytes ?? 0), 0);

  const finish = (s: ModelsStatus) => {
    setStatus(s);
    if (s.ready) props.onReady(s);
  };

  async function fetchDefaults() {
    setError(null);
    setStopped(false);
    setFetching(true);
    setProgress({});
    setDoneTotal(0);
    started.current = Date.now();
    const seen: Record<string, FetchProgress> = {};
    try {
      const s = await ipc.modelsFetchDefault((p) => {
        seen[p.model] = p;
        setOverall(p);
        setProgress((prev) => ({ ...prev, [p.model]: p }));
        // Downloaded bytes over all models of this fetch.
        setDoneTotal(
          Object.values(seen).reduce((a, x) => a + (x.stage === "download" ? x.done_bytes : x.total_bytes), 0),
        );
      });
      finish(s);
      if (!s.ready) setError({ code: "incomplete", message: "Some models are still missing. Please try again." });
    } catch (e) {
      const err = ipc.toIpcError(e);
      if (err.code === "cancelled") setStopped(true);
      else setError(err);
    } finally {
      setFetching(false);
      setCancelling(false);
    }
  }

  async function cancelFetch() {
    setCancelling(true);
    try {
      await ipc.modelsFetchCancel();
    } catch (e) {
      setError(ipc.toIpcError(e));
      setCancelling(false);
    }
  }

  // "1.2 GB of 1.7 GB · about 3 minutes left" (once there is a rate to go by).
  const elapsed = (Date.now() - started.current) / 1000;
  const rate = elapsed > 2 && doneTotal > 0 ? doneTotal / elapsed : 0;
  const left = rate > 0 ? Math.max(0, missingBytes - doneTotal) / rate : null;

  async function importFor(role: ModelRole) {
    setError(null);
    setImporting(role);
    try {
      const s = await ipc.modelsImport(role);
      if (s) finish(s);
    } catch (e) {
      setError(ipc.toIpcError(e));
    } finally {
      setImporting(null);
    }
  }

  async function importFolder() {
    setError(null);
    setAdded(null);
    setImporting("folder");
    try {
      const r = await ipc.modelsImportFolder();
      if (r) {
        setAdded(r.added);
        finish(r.status);
      }
    } catch (e) {
      setError(ipc.toIpcError(e));
    } finally {
      setImporting(null);
    }
  }

  return (
    <main class="firstrun">
      <section class="firstrun-card card" aria-labelledby="firstrun-title">
        <div class="brand brand--big">
          <span class="brand-mark" aria-hidden="true">
            <Icon name="bolt" size={22} />
          </span>
          Lookahead
        </div>
        <h1 id="firstrun-title">Welcome! Let’s get Lookahead ready</h1>
        <p class="lead">
          Lookahead works out multi-step questions right here on your computer — nothing you type leaves it. First it
          needs its language models{missingBytes > 0 ? ` (about ${bytes(missingBytes)}, downloaded once)` : ""}.
        </p>

        <ul class="model-list" aria-label="Models">
          {status.models.map((m) => (
            <ProgressRow key={m.role} model={m} progress={progress[m.name]} fetching={fetching} />
          ))}
        </ul>

        {fetching && overall && (
          <p class="muted small" aria-live="polite" data-testid="fetch-status">
            {STAGE_LABEL[overall.stage]} {overall.model}
            {overall.stage === "download" && overall.total_bytes > 0
              ? ` — ${Math.round((overall.done_bytes / overall.total_bytes) * 100)}%`
              : "…"}
          </p>
        )}
        {fetching && missingBytes > 0 && (
          <p class="small" data-testid="fetch-total">
            {bytes(Math.min(doneTotal, missingBytes))} of {bytes(missingBytes)}
            {left != null ? ` · ${timeLeft(left)}` : ""}
          </p>
        )}
        {stopped && !fetching && (
          <p class="notice" data-testid="fetch-stopped">
            Download stopped. Models that had finished are kept; choose “Get the default models” to go on.
          </p>
        )}

        {error && <ErrorBox error={error} />}

        <div class="firstrun-actions">
          <button type="button" class="btn btn-primary btn-lg" onClick={fetchDefaults} disabled={fetching || importing != null}>
            <Icon name="download" />
            {fetching ? "Getting the models…" : error ? "Try again" : "Get the default models"}
          </button>
          {fetching && (
            <button type="button" class="btn btn-secondary btn-lg" data-testid="fetch-cancel" onClick={cancelFetch} disabled={cancelling}>
              <Icon name="stop" />
              {cancelling ? "Stopping…" : "Cancel"}
            </button>
          )}
          <button
            type="button"
            class="btn btn-secondary btn-lg"
            aria-expanded={showImport}
            onClick={() => setShowImport(!showImport)}
            disabled={fetching}
          >
            <Icon name="file" />
            Use a model file I have
          </button>
        </div>

        {showImport && (
          <div class="import-panel" data-testid="import-panel">
            <div class="import-folder">
              <p class="small">
                Did your IT team copy the model files (from another computer or a USB stick)? Choose that folder:
                Lookahead recognises its files by their contents, whatever they are called, and copies them in.
              </p>
              <button type="button" class="btn btn-secondary" onClick={importFolder} disabled={importing != null}>
                <Icon name="file" />
                {importing === "folder" ? "Looking through the folder…" : "Choose a folder…"}
              </button>
              {added && added.length > 0 && (
                <p class="notice small" role="status" data-testid="import-added">
                  Added from the folder: {added.join(", ")}.
                </p>
              )}
            </div>
            <p class="small muted">Or pick a GGUF file for each model that is missing.</p>
            <ul class="import-list">
              {missing.map((m) => (
                <li key={m.role}>
                  <div>
                    <strong>{ROLE_LABEL[m.role]}</strong>
                    <div class="small muted">{ROLE_HELP[m.role]}</div>
                  </div>
                  <button
                    type="button"
                    class="btn btn-secondary"
                    onClick={() => importFor(m.role)}
                    disabled={importing != null}
                    aria-label={`Choose a file for the ${ROLE_LABEL[m.role].toLowerCase()}`}
                  >
                    {importing === m.role ? "Adding…" : "Choose file…"}
                  </button>
                </li>
              ))}
            </ul>
          </div>
        )}
      </section>
    </main>
  );
}
