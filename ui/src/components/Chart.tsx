// A small Chart.js wrapper: only the pieces we use are registered (keeps the bundle small).

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { cssVar, onThemeChange } from "../lib/theme";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend, Filler);

export interface Palette {
  text: string;
  muted: string;
  grid: string;
  accent: string;
  ok: string;
  warn: string;
  violet: string;
  surface: string;
}

function palette(): Palette {
  return {
    text: cssVar("--text") || "#1f2328",
    muted: cssVar("--text-2") || "#57606a",
    grid: cssVar("--grid") || "#e9ecef",
    accent: cssVar("--accent") || "#3b5bdb",
    ok: cssVar("--ok") || "#2b8a3e",
    warn: cssVar("--warn") || "#c2410c",
    violet: cssVar("--violet") || "#7048e8",
    surface: cssVar("--surface") || "#fff",
  };
}

/**
 * Renders a chart on a canvas with an accessible name. `make` builds the config from the
 * current colours; it is rebuilt when `deps` or the theme change.
 */
export function ChartCanvas(props: { label: string; make: (p: Palette) => ChartConfiguration; deps: unknown[]; testId?: string; height?: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [themeTick, setThemeTick] = useState(0);
  useEffect(() => onThemeChange(() => setThemeTick((t) => t + 1)), []);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const p = palette();
    Chart.defaults.color = p.muted;
    Chart.defaults.borderColor = p.grid;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    const reduce = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
    const cfg = props.make(p);
    cfg.options = { ...cfg.options, animation: reduce ? false : { duration: 300 }, responsive: true, maintainAspectRatio: false };
    const chart = new Chart(canvas, cfg);
    return () => chart.destroy();
  }, [...props.deps, themeTick]);
  return (
    <div class="chart-box" style={{ height: `${props.height ?? 240}px` }}>
      <canvas ref={ref} role="img" aria-label={props.label} data-testid={props.testId} />
    </div>
  );
}
