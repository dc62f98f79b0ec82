// The application shell: start-up checks, first run, sidebar + the three screens, shortcuts.

import { useEffect, useRef, useState } from "preact/hooks";
import * as ipc from "./api/ipc";
import type { ConversationId, IpcError, ModelsStatus, PrepareEvent, Settings } from "./api/types";
import { ChatView } from "./components/ChatView";
import { Dashboard } from "./components/Dashboard";
import { ErrorBox } from "./components/ErrorBox";
import { FirstRun } from "./components/FirstRun";
import { Icon } from "./components/Icon";
import { SettingsView } from "./components/SettingsView";
import { Sidebar, type View } from "./components/Sidebar";
import { showToast, Toasts } from "./components/Toasts";
import { applyFontScale, applyTheme } from "./lib/theme";

/** The models for the next answer: loading in the background, ready, or failed to load. */
export type EngineState =
  | { phase: "preparing"; event: PrepareEvent | null }
  | { phase: "ready" }
  | { phase: "failed"; error: IpcError };

type Boot =
  | { phase: "loading" }
  | { phase: "error"; error: IpcError }
  | { phase: "firstrun"; status: ModelsStatus; settings: Settings }
  | { phase: "ready"; settings: Settings };

export function App() {
  const [boot, setBoot] = useState<Boot>({ phase: "loading" });
  const [view, setView] = useState<View>("chat");
  const [convId, setConvId] = useState<ConversationId | null>(null);
  const [focusTick, setFocusTick] = useState(0);
  const [listKey, setListKey] = useState(0);
  const searchRef = useRef<HTMLInputElement>(null);
  const [engine, setEngine] = useState<EngineState | null>(null);
  // Unsaved Settings and where the user wanted to go instead.
  const [settingsDirty, setSettingsDirty] = useState(false);
  // The sidebar can be hidden to give a small screen to the answer.
  const [collapsed, setCollapsed] = useState(() => localStorage.getItem("lookahead.sidebar") === "hidden");
  useEffect(() => localStorage.setItem("lookahead.sidebar", collapsed ? "hidden" : "shown"), [collapsed]);
  const [leaving, setLeaving] = useState<{ to: View; then?: () => void } | null>(null);
  const prepareSeq = useRef(0);

  async function start() {
    setBoot({ phase: "loading" });
    try {
      const [settings, status] = await Promise.all([ipc.settingsGet(), ipc.modelsStatus()]);
      applyTheme(settings.theme);
      applyFontScale(settings.font_scale);
      setBoot(status.ready ? { phase: "ready", settings } : { phase: "firstrun", status, settings });
    } catch (e) {
      setBoot({ phase: "error", error: ipc.toIpcError(e) });
    }
  }

  useEffect(() => {
    void start();
  }, []);

  async function moveAside() {
    try {
      const movedTo = await ipc.storeReset();
      await start();
      if (movedTo) showToast({ text: `Started a fresh history. The old file was kept as ${movedTo}.`, tone: "success" });
    } catch (e) {
      setBoot({ phase: "error", error: ipc.toIpcError(e) });
    }
  }

  const ready = boot.phase === "ready";
  const readySettings = boot.phase === "ready" ? boot.settings : null;

  // Load the models before the first question (and again after Settings
  // change them), so nobody waits for loading after pressing Ask.
  useEffect(() => {
    if (!readySettings) return;
    const seq = ++prepareSeq.current;
    const mine = () => seq === prepareSeq.current;
    setEngine({ phase: "preparing", event: null });
    ipc
      .enginePrepare(readySettings, (event) => {
        if (mine() && event.kind !== "ready") setEngine({ phase: "preparing", event });
      })
      .then(() => mine() && setEngine({ phase: "ready" }))
      .catch((e) => mine() && setEngine({ phase: "failed", error: ipc.toIpcError(e) }));
  }, [readySettings]);

  /** Goes to `to` (then runs `then`), first asking about unsaved Settings. */
  function go(to: View, then?: () => void) {
    if (view === "settings" && to !== "settings" && settingsDirty) {
      setLeaving({ to, then });
      return;
    }
    setView(to);
    then?.();
  }

  function newChat() {
    go("chat", () => {
      setConvId(null);
      setFocusTick((t) => t + 1);
    });
  }

  // Global keyboard shortcuts (Ctrl on Windows/Linux, ⌘ on macOS).
  useEffect(() => {
    if (!ready) return;
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
      const k = e.key.toLowerCase();
      if (k === "n" && !e.shiftKey) {
        e.preventDefault();
        newChat();
      } else if (k === "k") {
        e.preventDefault();
        searchRef.current?.focus();
        searchRef.current?.select();
      } else if (k === "b" && !e.shiftKey) {
        e.preventDefault();
        setCollapsed((c) => !c);
      } else if (k === "," || e.code === "Comma") {
        e.preventDefault();
        setView("settings");
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [ready]);

  if (boot.phase === "loading") {
    return (
      <div class="splash" role="status" aria-live="polite">
        <span class="spinner" aria-hidden="true" /> Starting Lookahead…
      </div>
    );
  }
  if (boot.phase === "error") {
    // A damaged history (or one a different build set up) can be moved aside: it is kept, renamed.
    const canMoveAside = boot.error.code === "store_corrupt" || boot.error.code === "store_migration_changed";
    return (
      <div class="splash">
        <div class="card splash-card">
          <ErrorBox error={boot.error} title="Lookahead could not start">
            {canMoveAside && (
              <button type="button" class="btn btn-primary" onClick={() => void moveAside()}>
                Move the damaged file aside and start fresh
              </button>
            )}
            <button type="button" class={canMoveAside ? "btn btn-secondary" : "btn btn-primary"} onClick={() => void start()}>
              Try again
            </button>
          </ErrorBox>
        </div>
      </div>
    );
  }
  if (boot.phase === "firstrun") {
    const settings = boot.settings;
    return (
      <>
        <FirstRun status={boot.status} onReady={() => setBoot({ phase: "ready", settings })} />
        <Toasts />
      </>
    );
  }

  const settings = boot.settings;
  return (
    <div class={`app${collapsed ? " is-collapsed" : ""}`}>
      <a class="skip-link" href="#composer-input">
        Skip to the question box
      </a>
      {collapsed && (
        <button
          type="button"
          class="icon-btn sidebar-show"
          aria-label="Show the sidebar"
          title="Show the sidebar (Ctrl+B)"
          data-testid="sidebar-show"
          onClick={() => setCollapsed(false)}
        >
          <Icon name="chevron" size={16} />
        </button>
      )}
      {!collapsed && <Sidebar
        currentId={view === "chat" ? convId : null}
        view={view}
        refreshKey={listKey}
        searchRef={searchRef}
        onOpen={(id) => go("chat", () => setConvId(id))}
        onNewChat={newChat}
        onNavigate={(v) => go(v, () => v === "chat" && setFocusTick((t) => t + 1))}
        onDeleted={(id) => {
          if (id === convId) setConvId(null);
        }}
        onCollapse={() => setCollapsed(true)}
      />}
      <main class="main" id="main">
        <ChatView
          conversationId={convId}
          settings={settings}
          engine={engine}
          active={view === "chat"}
          focusTick={focusTick}
          onStarted={(id) => {
            setConvId(id);
            setListKey((k) => k + 1);
          }}
          onFinished={() => setListKey((k) => k + 1)}
          onOpenSettings={() => setView("settings")}
        />
        {view === "dashboard" && <Dashboard />}
        {view === "settings" && (
          <SettingsView
            settings={settings}
            active
            onSaved={(s) => setBoot({ phase: "ready", settings: s })}
            onDirtyChange={setSettingsDirty}
          />
        )}
        {leaving && (
          <div class="modal-backdrop">
            <div class="modal card" role="alertdialog" aria-modal="true" aria-labelledby="leave-title" data-testid="unsaved-dialog">
              <h2 id="leave-title">Leave without saving?</h2>
              <p>You changed some settings and have not saved them.</p>
              <div class="modal-actions">
                <button type="button" class="btn btn-primary" autoFocus onClick={() => setLeaving(null)}>
                  Keep editing
                </button>
                <button
                  type="button"
                  class="btn btn-secondary"
                  onClick={() => {
                    const { to, then } = leaving;
                    setLeaving(null);
                    setSettingsDirty(false);
                    // Undo the preview of colours and text size now, not
                    // when the Settings screen's effects get round to it.
                    applyTheme(settings.theme);
                    applyFontScale(settings.font_scale);
                    setView(to);
                    then?.();
                  }}
                >
                  Discard changes
                </button>
              </div>
            </div>
          </div>
        )}
      </main>
      <Toasts />
    </div>
  );
}
