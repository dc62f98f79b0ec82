// Small notifications at the bottom of the window ("Conversation deleted · Undo").

import { useEffect, useState } from "preact/hooks";
import { Icon } from "./Icon";

export interface Toast {
  id: number;
  text: string;
  tone?: "info" | "error" | "success";
  action?: { label: string; run: () => void };
  /** ms; 0 = stays until closed. */
  timeout?: number;
}

let nextId = 1;
let toasts: Toast[] = [];
const subs = new Set<(t: Toast[]) => void>();
const timers = new Map<number, number>();

function emit() {
  for (const s of subs) s(toasts);
}

export function dismissToast(id: number) {
  toasts = toasts.filter((t) => t.id !== id);
  const timer = timers.get(id);
  if (timer) window.clearTimeout(timer);
  timers.delete(id);
  emit();
}

export function showToast(t: Omit<Toast, "id">): number {
  const id = nextId++;
  const toast: Toast = { timeout: t.action ? 10000 : 5000, tone: "info", ...t, id };
  toasts = [...toasts.slice(-3), toast];
  if (toast.timeout) timers.set(id, window.setTimeout(() => dismissToast(id), toast.timeout));
  emit();
  return id;
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    subs.add(setList);
    // A toast shown between the first render and this effect (e.g. right
    // after the app came up) would otherwise be missed.
    setList(toasts);
    return () => {
      subs.delete(setList);
    };
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast toast--${t.tone}`} data-testid="toast">
          <Icon name={t.tone === "error" ? "alert" : t.tone === "success" ? "check" : "info"} />
          <span class="toast-text">{t.text}</span>
          {t.action && (
            <button
              type="button"
              class="btn btn-link toast-action"
              onClick={() => {
                t.action!.run();
                dismissToast(t.id);
              }}
            >
              {t.action.label}
            </button>
          )}
          <button type="button" class="icon-btn" aria-label="Close notification" onClick={() => dismissToast(t.id)}>
            <Icon name="x" size={16} />
          </button>
        </div>
      ))}
    </div>
  );
}
