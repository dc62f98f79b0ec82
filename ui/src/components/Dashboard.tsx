// Dashboard: how much the speed-up helped (acceptance over time, speed-up distribution,
// acceptance by draft position, table by configuration), date filter, CSV export.

import { useEffect, useState } from "preact/hooks";
import * as ipc from "../api/ipc";
import type { IpcError, Stats } from "../api/types";
import { checkerLabel, isoDay, modelLabel, pct, times } from "../lib/format";
import { ChartCanvas } from "./Chart";
import { ErrorBox } from "./ErrorBox";
import { Icon } from "./Icon";
import { showToast } from "./Toasts";

type Preset = "7" | "30" | "90" | "all" | "custom";
const PRESETS: Array<{ value: Preset; label: string }> = [
  { value: "7", label: "Last 7 days" },
  { value: "30", label: "Last 30 days" },
  { value: "90", label: "Last 90 days" },
  { value: "all", label: "All time" },
];

function rangeFor(p: Preset): { since: string | null; until: string | null } {
  if (p === "all" || p === "custom") return { since: null, until: null };
  const today = new Date();
  const start = new Date(today);
  start.setDate(today.getDate() - (Number(p) - 1));
  return { since: isoDay(start), until: isoDay(today) };
}

function dayLabel(day: string) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

function ordinal(n: number) {
  const s = ["th", "st", "nd", "rd"];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

const asPct = (r: number | null) => (r == null ? null : Math.round(r * 1000) / 10);

function Stat(props: { label: string; value: string; sub?: string; testId: string }) {
  return (
    <div class="stat card" data-testid={props.testId}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.sub && <div class="stat-sub">{props.sub}</div>}
    </div>
  );
}

export function Dashboard() {
  const [preset, setPreset] = useState<Preset>("30");
  const [range, setRange] = useState(rangeFor("30"));
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let stale = false;
    setLoading(true);
    ipc
      .statsQuery(range.since, range.until)
      .then((s) => {
        if (stale) return;
        setStats(s);
        setError(null);
      })
      .catch((e) => !stale && setError(ipc.toIpcError(e)))
      .finally(() => !stale && setLoading(false));
    return () => {
      stale = true;
    };
  }, [range.since, range.until]);

  function choose(p: Preset) {
    setPreset(p);
    setRange(rangeFor(p));
  }
  function setDate(which: "since" | "until", v: string) {
    setPreset("custom");
    setRange((r) => ({ ...r, [which]: v || null }));
  }

  async function exportCsv() {
    try {
      const path = await ipc.statsCsvToFile(range.since, range.until);
      if (path) showToast({ text: `Saved to ${path}`, tone: "success" });
    } catch (e) {
      showToast({ text: ipc.toIpcError(e).message, tone: "error" });
    }
  }

  const s = stats;
  const empty = s != null && s.totals.answers === 0;
  const days = s?.over_time ?? [];
  const hist = s?.speedup_histogram ?? [];
  const pos = s?.per_position ?? [];
  const noDrafts = days.every((d) => d.step_acceptance_rate == null && d.token_acceptance_rate == null);
  const whyEmpty = (text: string, testId: string) => (
    <p class="chart-empty muted" data-testid={testId}>
      {text}
    </p>
  );

  return (
    <section class="dashboard" aria-labelledby="dash-title">
      <header class="view-header">
        <div>
          <h1 id="dash-title" class="view-title">
            Dashboard
          </h1>
          <p class="view-sub muted">How much drafting ahead sped up your answers.</p>
        </div>
        <button type="button" class="btn btn-secondary" onClick={() => void exportCsv()} disabled={!s || empty}>
          <Icon name="download" size={16} />
          Export CSV
        </button>
      </header>

      <div class="view-scroll">
        <div class="dash-column">
          <div class="filter-bar" role="group" aria-label="Date range">
            <div class="segmented segmented--buttons">
              {PRESETS.map((p) => (
                <button type="button" key={p.value} class={preset === p.value ? "is-checked" : ""} aria-pressed={preset === p.value} onClick={() => choose(p.value)}>
                  {p.label}
                </button>
              ))}
            </div>
            <div class="date-range">
              <label>
                From
                <input type="date" value={range.since ?? ""} max={range.until ?? undefined} onChange={(e) => setDate("since", (e.currentTarget as HTMLInputElement).value)} />
              </label>
              <label>
                To
                <input type="date" value={range.until ?? ""} min={range.since ?? undefined} onChange={(e) => setDate("until", (e.currentTarget as HTMLInputElement).value)} />
              </label>
            </div>
          </div>

          {error && <ErrorBox error={error} title="The numbers could not be loaded" />}
          {loading && !s && <p class="muted">Loading…</p>}

          {s && (
            <div class="stats-row" aria-busy={loading}>
              <Stat testId="stat-answers" label="Answers" value={s.totals.answers.toLocaleString()} sub={`${s.totals.generated_tokens.toLocaleString()} tokens written`} />
              <Stat testId="stat-speedup" label="Average speed-up" value={times(s.totals.mean_speedup)} sub="compared with plain decoding" />
              <Stat testId="stat-steps" label="Drafted steps kept" value={pct(s.totals.step_acceptance_rate)} sub="steps the helper got right" />
              <Stat testId="stat-tokens" label="Drafted tokens kept" value={pct(s.totals.token_acceptance_rate)} sub="words the helper guessed right" />
            </div>
          )}

          {empty && (
            <div class="card empty-dash">
              <Icon name="chart" size={28} />
              <h2>No answers in this period</h2>
              <p class="muted">Ask a few questions with a speed-up mode turned on, then come back here to see how much it helped.</p>
            </div>
          )}

          {s && !empty && (
            <>
              <div class="chart-grid">
                <section class="card chart-card chart-card--wide" aria-labelledby="c-time">
                  <h2 id="c-time">Drafts kept over time</h2>
                  <p class="chart-help muted small">Share of the helper’s drafts that the main model agreed with, day by day.</p>
                  {noDrafts
                    ? whyEmpty(
                        "Nothing drafted in this period yet: drafting shows here once answers use a speed-up mode.",
                        "chart-over-time-empty",
                      )
                    : (
<ChartCanvas
                    testId="chart-over-time"
                    label={`Line chart of drafts kept per day, ${days.length} days. Steps kept on average ${pct(s.totals.step_acceptance_rate)}, tokens kept ${pct(s.totals.token_acceptance_rate)}.`}
                    deps={[days]}
                    make={(p) => ({
                      type: "line",
                      data: {
                        labels: days.map((d) => dayLabel(d.day)),
                        datasets: [
                          {
                            label: "Steps kept",
                            data: days.map((d) => asPct(d.step_acceptance_rate)),
                            borderColor: p.ok,
                            backgroundColor: p.ok,
                            tension: 0.3,
                            spanGaps: true,
                            pointRadius: 3,
                          },
                          {
                            label: "Tokens kept",
                            data: days.map((d) => asPct(d.token_acceptance_rate)),
                            borderColor: p.accent,
                            backgroundColor: p.accent,
                            borderDash: [6, 4],
                            tension: 0.3,
                            spanGaps: true,
                            pointRadius: 3,
                          },
                        ],
                      },
                      options: {
                        interaction: { mode: "index", intersect: false },
                        scales: {
                          y: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } },
                          x: { grid: { display: false } },
                        },
                        plugins: {
                          legend: { position: "bottom", labels: { usePointStyle: true, boxHeight: 6 } },
                          tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${c.parsed.y}%` } },
                        },
                      },
                    })}
                  />
                  )}
                </section>

                <section class="card chart-card" aria-labelledby="c-hist">
                  <h2 id="c-hist">How much faster answers were</h2>
                  <p class="chart-help muted small">Number of answers at each speed-up. 1× is the same speed as plain.</p>
                  {hist.length === 0
                    ? whyEmpty(
                        "No speed-up figures yet: each answer gets one once this computer’s usual speed is known (timed when the models first load).",
                        "chart-speedup-empty",
                      )
                    : (
<ChartCanvas
                    testId="chart-speedup"
                    label={`Bar chart of answers by speed-up: ${hist.map((b) => `${b.bucket_start.toFixed(1)} to ${b.bucket_end.toFixed(1)} times, ${b.count}`).join("; ")}.`}
                    deps={[hist]}
                    make={(p) => ({
                      type: "bar",
                      data: {
                        labels: hist.map((b) => `${b.bucket_start.toFixed(1)}–${b.bucket_end.toFixed(1)}×`),
                        datasets: [{ label: "Answers", data: hist.map((b) => b.count), backgroundColor: p.accent, borderRadius: 4, maxBarThickness: 48 }],
                      },
                      options: {
                        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } },
                        plugins: { legend: { display: false } },
                      },
                    })}
                  />
                  )}
                </section>

                <section class="card chart-card" aria-labelledby="c-pos">
                  <h2 id="c-pos">Drafts kept by how far ahead</h2>
                  <p class="chart-help muted small">The helper’s 1st step ahead is easiest to get right; later ones are harder.</p>
                  {pos.length === 0
                    ? whyEmpty(
                        "No drafted steps yet: step drafting has not run in this period (automatic mode uses it only where it pays on this computer).",
                        "chart-position-empty",
                      )
                    : (
<ChartCanvas
                    testId="chart-position"
                    label={`Bar chart of drafted steps kept by position: ${pos.map((x) => `${ordinal(x.position)} step ahead ${pct(x.rate)}`).join(", ")}.`}
                    deps={[pos]}
                    make={(p) => ({
                      type: "bar",
                      data: {
                        labels: pos.map((x) => `${ordinal(x.position)}`),
                        datasets: [{ label: "Kept", data: pos.map((x) => asPct(x.rate)), backgroundColor: p.ok, borderRadius: 4, maxBarThickness: 48 }],
                      },
                      options: {
                        scales: {
                          y: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } },
                          x: { grid: { display: false }, title: { display: true, text: "Step ahead" } },
                        },
                        plugins: {
                          legend: { display: false },
                          tooltip: {
                            callbacks: {
                              label: (c) => {
                                const x = pos[c.dataIndex];
                                return `${c.parsed.y}% kept (${x.accepted} of ${x.proposed})`;
                              },
                            },
                          },
                        },
                      },
                    })}
                  />
                  )}
                </section>
              </div>

              <section class="card table-card" aria-labelledby="t-config">
                <h2 id="t-config">By models and settings</h2>
                <div class="table-scroll" tabIndex={0} role="region" aria-label="Table of results by models and settings">
                  <table class="data-table" data-testid="config-table">
                    <thead>
                      <tr>
                        <th scope="col">Main model</th>
                        <th scope="col" class="num">
                          Speed-up
                        </th>
                        <th scope="col" class="num">
                          Answers
                        </th>
                        <th scope="col">Helper model</th>
                        <th scope="col">Checker</th>
                        <th scope="col" class="num">
                          Steps kept
                        </th>
                        <th scope="col" class="num">
                          Tokens kept
                        </th>
                        <th scope="col" class="num">
                          Steps ahead (γ)
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {s.by_config.map((r, i) => (
                        <tr key={i}>
                          <td title={r.target_model ?? undefined}>{modelLabel(r.target_model)}</td>
                          <td class="num">
                            <strong>{times(r.mean_speedup)}</strong>
                          </td>
                          <td class="num">{r.answers}</td>
                          <td title={r.draft_model ?? undefined}>{modelLabel(r.draft_model)}</td>
                          <td title={r.judge ?? undefined}>{checkerLabel(r.judge)}</td>
                          <td class="num">{pct(r.step_acceptance_rate)}</td>
                          <td class="num">{pct(r.token_acceptance_rate)}</td>
                          <td class="num">{r.gamma ?? "—"}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </section>
            </>
          )}
        </div>
      </div>
    </section>
  );
}
