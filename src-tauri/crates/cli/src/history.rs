//! `lookahead history …` and `lookahead stats`: the saved history from a
//! terminal. Rendering is kept apart from printing so it can be tested.
//!
//! This file is also compiled into `lookahead-store`'s tests (through a
//! `#[path]` module), so it may depend only on what both crates have:
//! `lookahead_store`, `anyhow`, `clap` and std.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use lookahead_store::{
    AcceptanceRow, ConversationDetail, ConversationSummary, GroupBy, HistogramBucket,
    MessageStatus, PositionStat, Role, SearchHit, StatsFilter, Store, Totals, MATCH_END,
    MATCH_START,
};

/// `lookahead history <command>`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum HistoryCommand {
    /// List conversations: pinned first, then the most recently active.
    List,
    /// Show one conversation with its answers, steps and metrics.
    Show {
        /// Conversation id (see `history list`).
        id: i64,
    },
    /// Search conversation titles and messages.
    Search {
        /// Words to look for; all must occur, the last may be a prefix.
        text: String,
    },
    /// Export a conversation as Markdown or JSON.
    Export {
        /// Conversation id.
        id: i64,
        #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Import a conversation from a JSON export (it gets a new id).
    Import {
        /// A file written by `history export --format json`.
        file: PathBuf,
    },
    /// Delete the conversations in the bin for good (their text is wiped
    /// from the file, not only hidden).
    Purge,
    /// Move a damaged history file aside (kept, renamed, not deleted) and
    /// start a fresh one. A healthy history is left as it is.
    Reset,
}

impl HistoryCommand {
    /// Whether the command only reads the history (and so opens it
    /// read-only, beside an app that is writing).
    pub fn only_reads(&self) -> bool {
        matches!(
            self,
            Self::List | Self::Show { .. } | Self::Search { .. } | Self::Export { .. }
        )
    }
}

/// Export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Md,
    Json,
}

/// `lookahead stats`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StatsArgs {
    /// Only answers from this day on (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: Option<String>,
    /// Print one CSV row per answer instead of tables.
    #[arg(long)]
    pub csv: bool,
}

/// Runs a `history` subcommand, printing to standard output.
pub async fn run_history(store: &Store, cmd: HistoryCommand) -> Result<()> {
    let highlight = std::io::stdout().is_terminal();
    let text = match cmd {
        HistoryCommand::List => render_list(&store.list_conversations().await?),
        HistoryCommand::Show { id } => render_conversation(
            &store
                .get_conversation(id)
                .await
                .with_context(|| format!("cannot show conversation {id}"))?,
        ),
        HistoryCommand::Search { text } => {
            render_search(&store.search(&text, 50).await?, highlight)
        }
        HistoryCommand::Export { id, format, output } => {
            let body = match format {
                ExportFormat::Md => store.export_markdown(id).await,
                ExportFormat::Json => store.export_json(id).await,
            }
            .with_context(|| format!("cannot export conversation {id}"))?;
            match output {
                Some(path) => {
                    std::fs::write(&path, body)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    format!("Wrote conversation {id} to {}\n", path.display())
                }
                None => body,
            }
        }
        HistoryCommand::Purge => {
            let purged = store.purge_deleted(None).await?;
            format!(
                "Deleted {purged} conversation{} from the bin for good.\n",
                if purged == 1 { "" } else { "s" }
            )
        }
        HistoryCommand::Reset => {
            anyhow::bail!("history reset runs before the history is opened")
        }
        HistoryCommand::Import { file } => {
            let json = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let id = store
                .import_json(&json)
                .await
                .with_context(|| format!("cannot import {}", file.display()))?;
            format!("Imported {} as conversation {id}\n", file.display())
        }
    };
    print_out(&text)
}

/// Runs `stats`, printing tables (or CSV) to standard output.
pub async fn run_stats(store: &Store, args: StatsArgs) -> Result<()> {
    let filter = stats_filter(&args)?;
    if args.csv {
        return print_out(&store.export_metrics_csv(&filter).await?);
    }
    let report = StatsReport {
        totals: store.totals(&filter).await?,
        by_day: store.acceptance_by(&filter, GroupBy::Day).await?,
        by_model_pair: store.acceptance_by(&filter, GroupBy::ModelPair).await?,
        by_judge: store.acceptance_by(&filter, GroupBy::Judge).await?,
        by_gamma: store.acceptance_by(&filter, GroupBy::Gamma).await?,
        positions: store.position_acceptance(&filter).await?,
        histogram: store.speedup_histogram(&filter, 0.25).await?,
    };
    print_out(&render_stats(&report))
}

/// Parses the `--since` day into a filter.
pub fn stats_filter(args: &StatsArgs) -> Result<StatsFilter> {
    let since = args
        .since
        .as_deref()
        .map(|s| {
            lookahead_store::parse_day(s)
                .with_context(|| format!("--since {s:?} is not a date like 2025-01-31"))
        })
        .transpose()?;
    Ok(StatsFilter { since, until: None })
}

/// Moves a damaged history at `path` aside and starts a fresh one; says
/// what it did.
pub async fn reset(path: &std::path::Path) -> Result<String> {
    let reset = Store::reset_corrupt(path).await?;
    reset.store.close().await;
    Ok(match reset.moved_to {
        Some(moved) => format!(
            "The damaged history was moved to {} (nothing was deleted) and a fresh one started at {}.\n",
            moved.display(),
            path.display()
        ),
        None => format!(
            "The history at {} is healthy; nothing was changed.\n",
            path.display()
        ),
    })
}

/// Text from the model or the history made safe for a terminal: control
/// characters other than new lines and tabs (escape sequences that could
/// retitle the window or write the clipboard) are shown as `\u{..}`.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if unsafe_char(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

fn print_out(text: &str) -> Result<()> {
    let text = printable(text);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// Everything `stats` prints, gathered first so rendering is pure.
pub struct StatsReport {
    pub totals: Totals,
    pub by_day: Vec<AcceptanceRow>,
    pub by_model_pair: Vec<AcceptanceRow>,
    pub by_judge: Vec<AcceptanceRow>,
    pub by_gamma: Vec<AcceptanceRow>,
    pub positions: Vec<PositionStat>,
    pub histogram: Vec<HistogramBucket>,
}

pub fn render_list(conversations: &[ConversationSummary]) -> String {
    if conversations.is_empty() {
        return "No conversations yet.\n".to_owned();
    }
    let rows = conversations
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                if c.pinned { "*".into() } else { String::new() },
                c.updated_at.format("%Y-%m-%d %H:%M").to_string(),
                c.message_count.to_string(),
                truncate(&c.title, 60),
            ]
        })
        .collect();
    table(
        &["Id", "Pin", "Last active (UTC)", "Messages", "Title"],
        rows,
    )
}

pub fn render_search(hits: &[SearchHit], highlight: bool) -> String {
    if hits.is_empty() {
        return "No matches.\n".to_owned();
    }
    let (on, off) = if highlight {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    let mut out = String::new();
    for hit in hits {
        let place = match hit.message_id {
            Some(m) => format!("conversation {} · message {m}", hit.conversation_id),
            None => format!("conversation {} · title", hit.conversation_id),
        };
        let snippet = one_line(&hit.snippet)
            .replace(MATCH_START, on)
            .replace(MATCH_END, off);
        out.push_str(&format!(
            "{} ({place})\n    {snippet}\n",
            truncate(&hit.conversation_title, 60)
        ));
    }
    out
}

pub fn render_conversation(detail: &ConversationDetail) -> String {
    let c = &detail.conversation;
    let mut out = format!(
        "{}{}\nConversation {} · started {} · last active {}{}\n",
        if c.pinned { "* " } else { "" },
        c.title,
        c.id,
        c.created_at.format("%Y-%m-%d %H:%M UTC"),
        c.updated_at.format("%Y-%m-%d %H:%M UTC"),
        if c.deleted_at.is_some() {
            " · in the bin"
        } else {
            ""
        },
    );
    for m in &detail.messages {
        let msg = &m.message;
        out.push('\n');
        match msg.role {
            Role::User => out.push_str(&format!("── You · message {}\n", msg.id)),
            Role::Assistant => {
                let mut about = Vec::new();
                if let Some(mode) = msg.mode {
                    about.push(mode.to_string());
                }
                match (&msg.draft_model, &msg.target_model) {
                    (Some(d), Some(t)) => about.push(format!("{d} → {t}")),
                    (None, Some(t)) => about.push(t.clone()),
                    (Some(d), None) => about.push(d.clone()),
                    (None, None) => {}
                }
                if let Some(j) = &msg.judge_model {
                    about.push(format!("judge {j}"));
                }
                out.push_str(&format!(
                    "── Lookahead · message {} · {}\n",
                    msg.id,
                    about.join(" · ")
                ));
            }
        }
        if !msg.text.is_empty() {
            out.push_str(msg.text.trim_end());
            out.push('\n');
        }
        if let Some(answer) = &msg.final_answer {
            out.push_str(&format!("Final answer: {}\n", answer.trim_end()));
        }
        if msg.role == Role::Assistant && msg.status != MessageStatus::Complete {
            out.push_str(&format!("Status: {}", msg.status));
            if let Some(e) = &msg.error {
                out.push_str(&format!(" ({e})"));
            }
            out.push('\n');
        }
        if !m.steps.is_empty() {
            out.push('\n');
            let rows = m
                .steps
                .iter()
                .map(|s| {
                    vec![
                        s.index.to_string(),
                        s.verdict.to_string(),
                        opt(s.judge_score, 2),
                        s.kept_from.to_string(),
                        opt(s.draft_ms, 0),
                        opt(s.target_ms, 0),
                        opt(s.judge_ms, 0),
                        truncate(&one_line(&s.text), 40),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "Step",
                    "Verdict",
                    "Score",
                    "Kept",
                    "Draft ms",
                    "Target ms",
                    "Judge ms",
                    "Kept text",
                ],
                rows,
            ));
        }
        if let Some(x) = &m.metrics {
            let mut parts = vec![
                format!(
                    "{} prompt + {} generated tokens",
                    x.prompt_tokens, x.generated_tokens
                ),
                format!("{:.2} s", x.wall_seconds),
            ];
            if x.decode_tokens_per_s > 0.0 {
                parts.push(format!("{:.1} tok/s", x.decode_tokens_per_s));
            }
            if let Some(v) = x.token_acceptance_rate {
                parts.push(format!("token acceptance {}", pct(Some(v))));
            }
            if let Some(v) = x.step_acceptance_rate {
                parts.push(format!("step acceptance {}", pct(Some(v))));
            }
            if let Some(v) = x.speedup_estimate {
                parts.push(format!("speed-up {v:.2}×"));
            }
            out.push_str(&format!("Metrics: {}\n", parts.join(" · ")));
        }
    }
    out
}

pub fn render_stats(r: &StatsReport) -> String {
    let t = &r.totals;
    if t.answers == 0 {
        return "No answers with metrics in this period.\n".to_owned();
    }
    let mut out = String::new();
    out.push_str(&format!(
        "Answers: {}   Tokens: {} generated, {} prompt   Time: {:.1} s\n",
        t.answers, t.generated_tokens, t.prompt_tokens, t.wall_seconds
    ));
    let speedup = t
        .mean_speedup
        .map(|v| format!("{v:.2}×"))
        .unwrap_or_else(|| "–".to_owned());
    out.push_str(&format!(
        "Mean speed-up: {speedup}   Token acceptance: {} ({} of {} drafted)   Step acceptance: {} ({} of {})\n",
        pct(t.token_acceptance_rate),
        t.accepted_tokens,
        t.drafted_tokens,
        pct(t.step_acceptance_rate),
        t.accepted_steps,
        t.drafted_steps,
    ));
    for (title, first, rows) in [
        ("By day (UTC)", "Day", &r.by_day),
        ("By model pair", "Draft → target", &r.by_model_pair),
        ("By judge", "Judge", &r.by_judge),
        ("By gamma", "Gamma", &r.by_gamma),
    ] {
        out.push_str(&format!("\n{title}\n"));
        out.push_str(&acceptance_table(first, rows));
    }
    if !r.positions.is_empty() {
        out.push_str("\nAcceptance by draft position\n");
        let rows = r
            .positions
            .iter()
            .map(|p| {
                vec![
                    p.position.to_string(),
                    p.proposed.to_string(),
                    p.accepted.to_string(),
                    pct(p.rate),
                ]
            })
            .collect();
        out.push_str(&table(&["Position", "Attempted", "Accepted", "Rate"], rows));
    }
    if !r.histogram.is_empty() {
        out.push_str("\nSpeed-up distribution\n");
        let widest = r
            .histogram
            .iter()
            .map(|b| b.count)
            .max()
            .unwrap_or(1)
            .max(1);
        for b in &r.histogram {
            let bar = (b.count * 40 + widest - 1) / widest;
            out.push_str(&format!(
                "{:>5.2}–{:<5.2} {:>6} {}\n",
                b.lower,
                b.upper,
                b.count,
                "█".repeat(bar as usize)
            ));
        }
    }
    out
}

fn acceptance_table(first: &str, rows: &[AcceptanceRow]) -> String {
    let rows = rows
        .iter()
        .map(|a| {
            vec![
                a.key.clone(),
                a.answers.to_string(),
                a.generated_tokens.to_string(),
                pct(a.token_acceptance_rate),
                opt(a.mean_acceptance_length, 2),
                pct(a.step_acceptance_rate),
                opt(a.mean_speedup, 2),
            ]
        })
        .collect();
    table(
        &[
            first,
            "Answers",
            "Tokens",
            "Token acc.",
            "Mean acc. len",
            "Step acc.",
            "Speed-up",
        ],
        rows,
    )
}

/// Left-aligns text and right-aligns numbers, two spaces between columns.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let numeric: Vec<bool> = (0..headers.len())
        .map(|i| {
            let mut cells = rows
                .iter()
                .filter_map(|r| r.get(i))
                .filter(|c| !c.is_empty());
            let first = cells.next();
            first.is_some_and(|c| looks_numeric(c)) && cells.all(|c| looks_numeric(c))
        })
        .collect();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = table_line(&header, &widths, &numeric);
    for row in &rows {
        out.push_str(&table_line(row, &widths, &numeric));
    }
    out
}

fn table_line(cells: &[String], widths: &[usize], numeric: &[bool]) -> String {
    let mut parts = Vec::with_capacity(cells.len());
    for (i, cell) in cells.iter().enumerate() {
        let pad = " ".repeat(
            widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(width(cell)),
        );
        parts.push(if numeric.get(i).copied().unwrap_or(false) {
            format!("{pad}{cell}")
        } else {
            format!("{cell}{pad}")
        });
    }
    let mut line = parts.join("  ").trim_end().to_owned();
    line.push('\n');
    line
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn looks_numeric(cell: &str) -> bool {
    let core = cell.trim_end_matches(['%', '×']);
    !core.is_empty() && core.parse::<f64>().is_ok()
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| format!("{v:.decimals$}")).unwrap_or_default()
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_default()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}
