// Light/dark theme (follows the system unless overridden) and font size.

import type { Theme } from "../api/types";

const media = typeof window !== "undefined" && window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
let current: Theme = "system";
let listeners: Array<() => void> = [];

export function resolvedTheme(theme: Theme = current): "light" | "dark" {
  if (theme === "system") return media?.matches ? "dark" : "light";
  return theme;
}

function paint() {
  const root = document.documentElement;
  const t = resolvedTheme();
  root.dataset.theme = t;
  root.style.colorScheme = t;
  for (const l of listeners) l();
}

media?.addEventListener("change", () => {
  if (current === "system") paint();
});

export function applyTheme(theme: Theme) {
  current = theme;
  paint();
}

export function applyFontScale(scale: number) {
  const s = Number.isFinite(scale) ? Math.min(1.5, Math.max(0.85, scale)) : 1;
  document.documentElement.style.fontSize = `${Math.round(16 * s * 100) / 100}px`;
}

/** Called whenever the painted theme changes (charts re-read their colours). */
export function onThemeChange(cb: () => void): () => void {
  listeners.push(cb);
  return () => {
    listeners = listeners.filter((l) => l !== cb);
  };
}

export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
