use chrono::NaiveDate;
use lookahead_store::{GroupBy, StatsFilter};
use serde::Serialize;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

#[derive(Serialize, Debug, ts_rs::TS)]
pub struct TotalsView {
    pub answers: i64,
    pub generated_tokens: i64,
    pub mean_speedup: Option<f64>,
    pub step_acceptance_rate: Option<f64>,
    pub token_acceptance_rate: Option<f64>,
}

#[derive(Serialize, Debug, ts_rs::TS)]
pub struct DayView {
    pub day: String,
    pub answers: i64,
    pub step_acceptance_rate: Option<f64>,
    pub token_acceptance_rate: Option<f64>,
    pub mean_speedup: Option<f64>,
}

#[derive(Serialize, Debug, ts_rs::TS)]
pub struct PositionView {
    pub position: i64,
    pub proposed: i64,
    pub accepted: i64,
    pub rate: Option<f64>,
}

#[derive(Serialize, Debug, ts_rs::TS)]
pub struct BucketView {
    pub bucket_start: f64,
    pub bucket_end: f64,
    pub count: i64,
}

#[derive(Serialize, Debug, ts_rs::TS)]
pub struct ConfigView {
    pub draft_model: Option<String>,
    pub target_model: Option<String>,
    pub judge: Option<String>,
    pub gamma: Option<i64>,
    pub answers: i64,
    pub step_acceptance_rate: Option<f64>,
    pub token_acceptance_rate: Option<f64>,
    pub mean_speedup: Option<f64>,
}

#[derive(Serialize, Debug, ts_rs::TS)]
pub struct StatsView {
    pub totals: TotalsView,
    pub over_time: Vec<DayView>,
    pub per_position: Vec<PositionView>,
    pub speedup_histogram: Vec<BucketView>,
    pub by_config: Vec<ConfigView>,
}

fn parse_day(value: Option<String>, what: &str) -> CommandResult<Option<NaiveDate>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| {
                CommandError::new(
                    "invalid_date",
                    format!("The {what} date \"{v}\" is not a date like 2026-11-28."),
                )
            })
        })
        .transpose()
}

fn filter(since: Option<String>, until: Option<String>) -> CommandResult<StatsFilter> {
    Ok(StatsFilter {
        since: parse_day(since, "start")?,
        until: parse_day(until, "end")?,
    })
}

#[tauri::command(rename_all = "snake_case")]
pub async fn stats_query(
    state: State<'_, AppState>,
    since: Option<String>,
    until: Option<String>,
) -> CommandResult<StatsView> {
    let filter = filter(since, until)?;
    let store = state.store().await?;
    let totals = store.totals(&filter).await?;
    let days = store.acceptance_by(&filter, GroupBy::Day).await?;
    let positions = store.position_acceptance(&filter).await?;
    let histogram = store.speedup_histogram(&filter, 0.25).await?;
    let configs = store.acceptance_by_config(&filter).await?;
    Ok(StatsView {
        totals: TotalsView {
            answers: totals.answers,
            generated_tokens: totals.generated_tokens,
            mean_speedup: totals.mean_speedup,
            step_acceptance_rate: totals.step_acceptance_rate,
            token_acceptance_rate: totals.token_acceptance_rate,
        },
        over_time: days
            .into_iter()
            .map(|d| DayView {
                day: d.key,
                answers: d.answers,
                step_acceptance_rate: d.step_acceptance_rate,
                token_acceptance_rate: d.token_acceptance_rate,
                mean_speedup: d.mean_speedup,
            })
            .collect(),
        per_position: positions
            .into_iter()
            .map(|p| PositionView {
                position: p.position,
                proposed: p.proposed,
                accepted: p.accepted,
                rate: p.rate,
            })
            .collect(),
        speedup_histogram: histogram
            .into_iter()
            .map(|b| BucketView {
                bucket_start: b.lower,
                bucket_end: b.upper,
                count: b.count,
            })
            .collect(),
        by_config: configs
            .into_iter()
            .map(|c| ConfigView {
                draft_model: c.draft_model,
                target_model: c.target_model,
                judge: c.judge_model,
                gamma: c.gamma,
                answers: c.row.answers,
                step_acceptance_rate: c.row.step_acceptance_rate,
                token_acceptance_rate: c.row.token_acceptance_rate,
                mean_speedup: c.row.mean_speedup,
            })
            .collect(),
    })
}

#[tauri::command(rename_all = "snake_case")]
pub async fn stats_csv(
    state: State<'_, AppState>,
    since: Option<String>,
    until: Option<String>,
) -> CommandResult<String> {
    let filter = filter(since, until)?;
    Ok(state.store().await?.export_metrics_csv(&filter).await?)
}

/// Saves the per-answer CSV to a file the user picks in the save dialog,
/// opened here. Returns where it was saved, or `None` when the user closed
/// the dialog.
#[tauri::command(rename_all = "snake_case")]
pub async fn stats_csv_to_file<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    since: Option<String>,
    until: Option<String>,
) -> CommandResult<Option<String>> {
    let name = format!(
        "lookahead-stats-{}-to-{}.csv",
        since.as_deref().unwrap_or("start"),
        until
            .clone()
            .unwrap_or_else(|| chrono::Local::now().format("%Y-%m-%d").to_string())
    );
    let filter = filter(since, until)?;
    let csv = state.store().await?.export_metrics_csv(&filter).await?;
    crate::commands::files::save_with_dialog(&app, &name, "CSV spreadsheet", "csv", csv).await
}
