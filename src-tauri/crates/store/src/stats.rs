//! Acceptance and speed statistics over stored answers.
//!
//! Every figure is computed from the answers that have a metrics row, in
//! conversations that are not in the bin, created inside the filter's date
//! range (UTC days). Rates are pooled (sum accepted / sum drafted), not
//! averages of per-answer rates, so long answers weigh more.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::{Result, SqlxResultExt, StoreError};
use crate::rows::get_f64;
use crate::Store;

/// Restricts statistics to answers created on or after `since` and on or
/// before `until` (UTC calendar days, both inclusive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsFilter {
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

/// The models an answer would use, as stored with answers (file names;
/// the judge as its label, e.g. `embed@0.95`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSet<'a> {
    pub target: &'a str,
    pub draft: Option<&'a str>,
    pub judge: Option<&'a str>,
}

fn calibration_key(target: &str) -> String {
    format!("plain_speed:{target}")
}

/// One mode's measured speed, from [`Store::speed_by_mode`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeSpeed {
    pub mode: crate::Mode,
    /// Answers measured (at most the `recent` asked for).
    pub answers: i64,
    pub tokens_per_s: f64,
    /// Complete answers in this mode with these models, all of them.
    #[serde(default)]
    pub total_answers: i64,
    /// Mean speed-up over plain decoding of the measured answers that
    /// carry an estimate.
    #[serde(default)]
    pub mean_speedup: Option<f64>,
}

/// How [`Store::acceptance_by`] groups answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// UTC day, `YYYY-MM-DD`, oldest first.
    Day,
    /// `draft → target` (just the target for plain answers).
    ModelPair,
    /// Judge model, or `(no judge)`.
    Judge,
    /// The `gamma` setting, or `(none)`, smallest first.
    Gamma,
    /// `plain`, `sd`, `lr`, `sd+lr`.
    Mode,
}

impl GroupBy {
    fn key_sql(self) -> &'static str {
        match self {
            GroupBy::Day => "substr(created_at, 1, 10)",
            GroupBy::ModelPair => {
                "CASE WHEN draft_model IS NULL THEN COALESCE(target_model, '(unknown)')
                      ELSE draft_model || ' → ' || COALESCE(target_model, '(unknown)') END"
            }
            GroupBy::Judge => "COALESCE(judge_model, '(no judge)')",
            GroupBy::Gamma => "COALESCE(CAST(gamma AS TEXT), '(none)')",
            GroupBy::Mode => "COALESCE(mode, '(unknown)')",
        }
    }

    fn order_sql(self) -> &'static str {
        match self {
            GroupBy::Day => "key",
            GroupBy::Gamma => "min(gamma) IS NULL, min(gamma), key",
            GroupBy::ModelPair | GroupBy::Judge | GroupBy::Mode => "answers DESC, key",
        }
    }
}

/// Pooled acceptance for one group of answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptanceRow {
    /// The group: a day, a model pair, a judge, a gamma value or a mode.
    pub key: String,
    pub answers: i64,
    pub generated_tokens: i64,
    pub drafted_tokens: i64,
    pub accepted_tokens: i64,
    /// `accepted_tokens / drafted_tokens`; `None` when nothing was drafted.
    pub token_acceptance_rate: Option<f64>,
    /// Mean over answers that report it.
    pub mean_acceptance_length: Option<f64>,
    pub drafted_steps: i64,
    pub accepted_steps: i64,
    /// `accepted_steps / drafted_steps`; `None` when no steps were drafted.
    pub step_acceptance_rate: Option<f64>,
    /// Mean of per-answer speed-up estimates.
    pub mean_speedup: Option<f64>,
}

/// Pooled acceptance for one configuration: draft, target, judge and gamma
/// together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigAcceptance {
    pub draft_model: Option<String>,
    pub target_model: Option<String>,
    pub judge_model: Option<String>,
    pub gamma: Option<i64>,
    /// `key` reads like `draft → target · judge · γ=4`.
    pub row: AcceptanceRow,
}

/// Figures over all answers in the filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub answers: i64,
    pub prompt_tokens: i64,
    pub generated_tokens: i64,
    pub wall_seconds: f64,
    pub drafted_tokens: i64,
    pub accepted_tokens: i64,
    pub token_acceptance_rate: Option<f64>,
    pub mean_acceptance_length: Option<f64>,
    pub drafted_steps: i64,
    pub accepted_steps: i64,
    pub step_acceptance_rate: Option<f64>,
    pub mean_speedup: Option<f64>,
    pub mean_decode_tokens_per_s: Option<f64>,
}

/// Pooled acceptance at one draft position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionStat {
    /// 1 = the first position after the verified prefix.
    pub position: i64,
    pub proposed: i64,
    pub accepted: i64,
    pub rate: Option<f64>,
}

/// One bar of the speed-up histogram: answers with
/// `lower <= speedup_estimate < upper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramBucket {
    pub lower: f64,
    pub upper: f64,
    pub count: i64,
}

/// The answers statistics look at, one row per answer with its metrics.
const ANSWERS_CTE: &str = "WITH a AS (
    SELECT x.*
    FROM answer_metrics x
    JOIN conversations c ON c.id = x.conversation_id
    WHERE c.deleted_at IS NULL
      AND (?1 IS NULL OR x.created_at >= ?1)
      AND (?2 IS NULL OR x.created_at < ?2)
)";

const SUMMARY_SQL: &str = "count(*) AS answers,
    COALESCE(sum(generated_tokens), 0) AS generated_tokens,
    COALESCE(sum(drafted_tokens), 0) AS drafted_tokens,
    COALESCE(sum(accepted_tokens), 0) AS accepted_tokens,
    CAST(sum(accepted_tokens) AS REAL) / NULLIF(sum(drafted_tokens), 0) AS token_acceptance_rate,
    avg(mean_acceptance_length) AS mean_acceptance_length,
    COALESCE(sum(drafted_steps), 0) AS drafted_steps,
    COALESCE(sum(accepted_steps), 0) AS accepted_steps,
    CAST(sum(accepted_steps) AS REAL) / NULLIF(sum(drafted_steps), 0) AS step_acceptance_rate,
    avg(speedup_estimate) AS mean_speedup";

impl StatsFilter {
    /// Bound values for `?1` / `?2` of [`ANSWERS_CTE`]. Timestamps are
    /// stored as ISO text, so a bare date compares as midnight UTC.
    fn bounds(&self) -> (Option<String>, Option<String>) {
        let since = self.since.map(|d| d.format("%Y-%m-%d").to_string());
        let until = self
            .until
            .and_then(|d| d.succ_opt())
            .map(|d| d.format("%Y-%m-%d").to_string());
        (since, until)
    }
}

fn acceptance_row(row: &SqliteRow) -> std::result::Result<AcceptanceRow, sqlx::Error> {
    Ok(AcceptanceRow {
        key: row.try_get("key")?,
        answers: row.try_get("answers")?,
        generated_tokens: row.try_get("generated_tokens")?,
        drafted_tokens: row.try_get("drafted_tokens")?,
        accepted_tokens: row.try_get("accepted_tokens")?,
        token_acceptance_rate: get_f64(row, "token_acceptance_rate")?,
        mean_acceptance_length: get_f64(row, "mean_acceptance_length")?,
        drafted_steps: row.try_get("drafted_steps")?,
        accepted_steps: row.try_get("accepted_steps")?,
        step_acceptance_rate: get_f64(row, "step_acceptance_rate")?,
        mean_speedup: get_f64(row, "mean_speedup")?,
    })
}

impl Store {
    /// Totals over all answers in the filter.
    pub async fn totals(&self, filter: &StatsFilter) -> Result<Totals> {
        let (since, until) = filter.bounds();
        let sql = format!(
            "{ANSWERS_CTE} SELECT {SUMMARY_SQL},
                 COALESCE(sum(prompt_tokens), 0) AS prompt_tokens,
                 COALESCE(sum(wall_seconds), 0.0) AS wall_seconds,
                 avg(decode_tokens_per_s) AS mean_decode_tokens_per_s
             FROM a"
        );
        let row = sqlx::query(&sql)
            .bind(since)
            .bind(until)
            .fetch_one(&self.pool)
            .await
            .at(&self.path)?;
        let decode = |row: &SqliteRow| -> std::result::Result<Totals, sqlx::Error> {
            Ok(Totals {
                answers: row.try_get("answers")?,
                prompt_tokens: row.try_get("prompt_tokens")?,
                generated_tokens: row.try_get("generated_tokens")?,
                wall_seconds: get_f64(row, "wall_seconds")?.unwrap_or_default(),
                drafted_tokens: row.try_get("drafted_tokens")?,
                accepted_tokens: row.try_get("accepted_tokens")?,
                token_acceptance_rate: get_f64(row, "token_acceptance_rate")?,
                mean_acceptance_length: get_f64(row, "mean_acceptance_length")?,
                drafted_steps: row.try_get("drafted_steps")?,
                accepted_steps: row.try_get("accepted_steps")?,
                step_acceptance_rate: get_f64(row, "step_acceptance_rate")?,
                mean_speedup: get_f64(row, "mean_speedup")?,
                mean_decode_tokens_per_s: get_f64(row, "mean_decode_tokens_per_s")?,
            })
        };
        decode(&row).at(&self.path)
    }

    /// Pooled acceptance per group (per day, model pair, judge, gamma or
    /// mode).
    pub async fn acceptance_by(
        &self,
        filter: &StatsFilter,
        group: GroupBy,
    ) -> Result<Vec<AcceptanceRow>> {
        let (since, until) = filter.bounds();
        let sql = format!(
            "{ANSWERS_CTE} SELECT {key} AS key, {SUMMARY_SQL}
             FROM a GROUP BY 1 ORDER BY {order}",
            key = group.key_sql(),
            order = group.order_sql(),
        );
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(until)
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        rows.iter()
            .map(acceptance_row)
            .collect::<std::result::Result<_, _>>()
            .at(&self.path)
    }

    /// Pooled acceptance per configuration (draft, target, judge, gamma),
    /// most used first.
    pub async fn acceptance_by_config(
        &self,
        filter: &StatsFilter,
    ) -> Result<Vec<ConfigAcceptance>> {
        let (since, until) = filter.bounds();
        let sql = format!(
            "{ANSWERS_CTE} SELECT draft_model, target_model, judge_model,
                 CAST(gamma AS INTEGER) AS gamma,
                 {pair} || COALESCE(' · ' || judge_model, '')
                     || COALESCE(' · γ=' || CAST(gamma AS INTEGER), '') AS key,
                 {SUMMARY_SQL}
             FROM a GROUP BY draft_model, target_model, judge_model, 4
             ORDER BY answers DESC, key",
            pair = GroupBy::ModelPair.key_sql(),
        );
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(until)
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        let decode = |row: &SqliteRow| -> std::result::Result<ConfigAcceptance, sqlx::Error> {
            Ok(ConfigAcceptance {
                draft_model: row.try_get("draft_model")?,
                target_model: row.try_get("target_model")?,
                judge_model: row.try_get("judge_model")?,
                gamma: row.try_get("gamma")?,
                row: acceptance_row(row)?,
            })
        };
        rows.iter()
            .map(decode)
            .collect::<std::result::Result<_, _>>()
            .at(&self.path)
    }

    /// Acceptance per UTC day, oldest first.
    pub async fn acceptance_by_day(&self, filter: &StatsFilter) -> Result<Vec<AcceptanceRow>> {
        self.acceptance_by(filter, GroupBy::Day).await
    }

    /// Step (or token) acceptance at each draft position, pooled over
    /// answers.
    pub async fn position_acceptance(&self, filter: &StatsFilter) -> Result<Vec<PositionStat>> {
        let (since, until) = filter.bounds();
        // CROSS JOIN fixes the loop order: each answer once, then its few
        // positions, rather than a lookup per position row.
        let rows = sqlx::query(
            "SELECT p.position + 1 AS position,
                 sum(p.attempted) AS proposed, sum(p.accepted) AS accepted
             FROM answer_metrics x
             CROSS JOIN answer_positions p ON p.message_id = x.message_id
             JOIN conversations c ON c.id = x.conversation_id
             WHERE c.deleted_at IS NULL
               AND (?1 IS NULL OR x.created_at >= ?1)
               AND (?2 IS NULL OR x.created_at < ?2)
             GROUP BY p.position ORDER BY p.position",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await
        .at(&self.path)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let proposed: i64 = row.try_get("proposed").at(&self.path)?;
            let accepted: i64 = row.try_get("accepted").at(&self.path)?;
            out.push(PositionStat {
                position: row.try_get("position").at(&self.path)?,
                proposed,
                accepted,
                rate: (proposed > 0).then(|| accepted as f64 / proposed as f64),
            });
        }
        Ok(out)
    }

    /// How fast each mode has answered with one set of models, from its
    /// `recent` latest complete answers: pooled generated tokens per second
    /// of wall time (what a person waits for). Plain answers count whatever
    /// the draft; step modes only with the same judge. "Auto" mode chooses
    /// from this.
    pub async fn speed_by_mode(
        &self,
        models: &ModelSet<'_>,
        recent: i64,
    ) -> Result<Vec<ModeSpeed>> {
        let rows = sqlx::query(
            "WITH r AS (
                SELECT x.mode, x.generated_tokens, x.wall_seconds, x.speedup_estimate,
                       row_number() OVER (PARTITION BY x.mode
                                          ORDER BY x.created_at DESC, x.message_id DESC) AS n,
                       count(*) OVER (PARTITION BY x.mode) AS total
                FROM answer_metrics x
                JOIN messages m ON m.id = x.message_id
                WHERE m.status = 'complete'
                  AND x.target_model IS ?1
                  AND (x.mode = 'plain' OR x.draft_model IS ?2)
                  AND (x.mode IN ('plain', 'sd') OR x.judge_model IS ?3)
                  AND x.wall_seconds > 0 AND x.generated_tokens > 0
            )
            SELECT mode, count(*) AS answers, max(total) AS total_answers,
                   sum(generated_tokens) / sum(wall_seconds) AS tokens_per_s,
                   avg(speedup_estimate) AS mean_speedup
            FROM r WHERE n <= ?4 AND mode IS NOT NULL
            GROUP BY mode ORDER BY mode",
        )
        .bind(models.target)
        .bind(models.draft)
        .bind(models.judge)
        .bind(recent)
        .fetch_all(&self.pool)
        .await
        .at(&self.path)?;
        let decode = |row: &SqliteRow| -> std::result::Result<ModeSpeed, sqlx::Error> {
            let mode: String = row.try_get("mode")?;
            Ok(ModeSpeed {
                mode: mode
                    .parse()
                    .map_err(|e| sqlx::Error::Decode(format!("mode {mode:?}: {e}").into()))?,
                answers: row.try_get("answers")?,
                tokens_per_s: get_f64(row, "tokens_per_s")?.unwrap_or_default(),
                total_answers: row.try_get("total_answers")?,
                mean_speedup: get_f64(row, "mean_speedup")?,
            })
        };
        rows.iter()
            .map(decode)
            .collect::<std::result::Result<_, _>>()
            .at(&self.path)
    }

    /// Distribution of per-answer speed-up estimates in buckets of
    /// `bucket_width` (e.g. 0.25), from the lowest to the highest occupied
    /// bucket, empty ones included so the bars line up.
    pub async fn speedup_histogram(
        &self,
        filter: &StatsFilter,
        bucket_width: f64,
    ) -> Result<Vec<HistogramBucket>> {
        if !(bucket_width.is_finite() && bucket_width > 0.0) {
            return Err(StoreError::InvalidInput(format!(
                "histogram bucket width must be positive, not {bucket_width}"
            )));
        }
        let (since, until) = filter.bounds();
        // The tiny epsilon keeps values that sit on an edge (0.3 / 0.1 =
        // 2.9999…) in the bucket they visibly belong to.
        let sql = format!(
            "{ANSWERS_CTE} SELECT CAST(speedup_estimate / ?3 + 1e-9 AS INTEGER) AS bucket, count(*) AS n
             FROM a WHERE speedup_estimate IS NOT NULL AND speedup_estimate >= 0
             GROUP BY bucket ORDER BY bucket"
        );
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(until)
            .bind(bucket_width)
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in &rows {
            let bucket: i64 = row.try_get("bucket").at(&self.path)?;
            let n: i64 = row.try_get("n").at(&self.path)?;
            counts.push((bucket, n));
        }
        let (Some(&(first, _)), Some(&(last, _))) = (counts.first(), counts.last()) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut next = counts.iter().peekable();
        for bucket in first..=last {
            let count = match next.peek() {
                Some(&&(b, n)) if b == bucket => {
                    next.next();
                    n
                }
                _ => 0,
            };
            out.push(HistogramBucket {
                lower: bucket as f64 * bucket_width,
                upper: (bucket + 1) as f64 * bucket_width,
                count,
            });
        }
        Ok(out)
    }

    /// One CSV row per answer with its metrics (RFC 4180 quoting, header
    /// first), for spreadsheets and notebooks.
    pub async fn export_metrics_csv(&self, filter: &StatsFilter) -> Result<String> {
        const COLUMNS: &[&str] = &[
            "message_id",
            "conversation_id",
            "created_at",
            "status",
            "mode",
            "draft_model",
            "target_model",
            "judge_model",
            "gamma",
            "prompt_tokens",
            "generated_tokens",
            "wall_seconds",
            "prefill_tokens_per_s",
            "decode_tokens_per_s",
            "time_to_first_token_s",
            "drafted_tokens",
            "accepted_tokens",
            "token_acceptance_rate",
            "mean_acceptance_length",
            "drafted_steps",
            "accepted_steps",
            "step_acceptance_rate",
            "per_position_acceptance",
            "speedup_estimate",
        ];
        let (since, until) = filter.bounds();
        let sql = format!(
            "{ANSWERS_CTE} SELECT a.*, m.status FROM a JOIN messages m ON m.id = a.message_id
             ORDER BY a.created_at, a.message_id"
        );
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(until)
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        let mut out = COLUMNS.join(",");
        out.push_str("\r\n");
        for row in &rows {
            let mut fields = Vec::with_capacity(COLUMNS.len());
            for &column in COLUMNS {
                fields.push(csv_field(&cell_text(row, column).at(&self.path)?));
            }
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        Ok(out)
    }
}

/// Any SQLite value as CSV text: NULL is empty, numbers in their shortest
/// round-trip form.
fn cell_text(row: &SqliteRow, column: &str) -> std::result::Result<String, sqlx::Error> {
    use sqlx::{TypeInfo, ValueRef};
    let value = row.try_get_raw(column)?;
    if value.is_null() {
        return Ok(String::new());
    }
    Ok(match value.type_info().name() {
        "INTEGER" => row.try_get::<i64, _>(column)?.to_string(),
        "REAL" => row.try_get::<f64, _>(column)?.to_string(),
        _ => defuse_formula(row.try_get_unchecked::<String, _>(column)?),
    })
}

/// One CSV cell, quoted where it needs to be.
pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A text cell a spreadsheet would read as a formula (starting with `=`,
/// `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP
/// advises, so opening the file runs nothing. Numbers are left alone.
fn defuse_formula(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// The plain-decoding yardstick of speed-up estimates, kept per target.
impl Store {
    /// How fast plain decoding of `target` (a model name) runs on this
    /// computer: the mean prompt and answer rates of its `recent` latest
    /// complete plain answers, else the calibration kept by
    /// [`Store::save_plain_calibration`], else `None`. Answers shorter than
    /// 16 tokens are too short to time.
    pub async fn plain_speed(
        &self,
        target: &str,
        recent: i64,
    ) -> Result<Option<lookahead_domain::PlainSpeed>> {
        let row = sqlx::query(
            "SELECT avg(prefill_tokens_per_s) AS prefill, avg(decode_tokens_per_s) AS decode,
                    count(*) AS answers
             FROM (SELECT x.prefill_tokens_per_s, x.decode_tokens_per_s
                   FROM answer_metrics x JOIN messages m ON m.id = x.message_id
                   WHERE m.status = 'complete' AND x.mode = 'plain' AND x.target_model IS ?1
                     AND x.generated_tokens >= 16
                     AND x.prefill_tokens_per_s > 0 AND x.decode_tokens_per_s > 0
                   ORDER BY x.created_at DESC, x.message_id DESC LIMIT ?2)",
        )
        .bind(target)
        .bind(recent)
        .fetch_one(&self.pool)
        .await
        .at(&self.path)?;
        let answers: i64 = row.try_get("answers").at(&self.path)?;
        if answers > 0 {
            let measured = lookahead_domain::PlainSpeed::new(
                get_f64(&row, "prefill").at(&self.path)?.unwrap_or_default(),
                get_f64(&row, "decode").at(&self.path)?.unwrap_or_default(),
            );
            if measured.is_some() {
                return Ok(measured);
            }
        }
        Ok(self
            .get_setting::<lookahead_domain::PlainSpeed>(&calibration_key(target))
            .await?
            .and_then(|p| {
                lookahead_domain::PlainSpeed::new(p.prefill_tokens_per_s, p.decode_tokens_per_s)
            }))
    }

    /// Keeps a measured plain speed of `target` for
    /// [`Store::plain_speed`] (used until plain answers replace it).
    pub async fn save_plain_calibration(
        &self,
        target: &str,
        speed: &lookahead_domain::PlainSpeed,
    ) -> Result<()> {
        self.set_setting(&calibration_key(target), speed).await
    }
}
