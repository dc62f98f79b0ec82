//! Fixtures shared by the topic modules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lookahead_store::chrono::{DateTime, TimeZone, Utc};
use lookahead_store::*;
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tempfile::TempDir;

/// A database path in a fresh temporary directory (removed on drop).
pub struct TestDb {
    pub dir: TempDir,
    pub path: PathBuf,
}

pub fn temp_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    TestDb { dir, path }
}

/// Options with a short busy timeout so lock tests finish quickly.
pub fn quick_options() -> StoreOptions {
    StoreOptions {
        busy_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    }
}

pub async fn open(path: &Path) -> Store {
    Store::open(path).await.unwrap()
}

/// A plain connection for looking under the store's API.
pub async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap()
}

pub async fn scalar_i64(path: &Path, sql: &str) -> i64 {
    let mut conn = raw(path).await;
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    v
}

pub fn day(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

pub fn start(
    mode: Mode,
    draft: Option<&str>,
    target: &str,
    judge: Option<&str>,
    gamma: Option<i64>,
) -> AnswerStart {
    AnswerStart {
        mode,
        draft_model: draft.map(str::to_owned),
        target_model: Some(target.to_owned()),
        judge_model: judge.map(str::to_owned),
        settings: match gamma {
            Some(g) => json!({ "gamma": g, "temperature": 0.0 }),
            None => json!({}),
        },
    }
}

pub fn sd_start() -> AnswerStart {
    start(
        Mode::SdLr,
        Some("draft-0.5b"),
        "target-7b",
        Some("judge-1.5b"),
        Some(4),
    )
}

/// `n` steps with varied verdicts and every optional field exercised.
pub fn steps(n: usize, seed: usize) -> Vec<StepRecord> {
    (0..n)
        .map(|i| {
            let verdict =
                [Verdict::Accepted, Verdict::Rejected, Verdict::TargetOnly][(i + seed) % 3];
            StepRecord {
                index: i,
                drafted: (verdict != Verdict::TargetOnly).then(|| format!("draft {seed}/{i}")),
                target: (verdict != Verdict::Accepted).then(|| format!("target {seed}/{i}")),
                verdict,
                judge_score: (verdict != Verdict::TargetOnly).then_some(0.125 * (i % 8) as f64),
                text: format!("kept {seed}/{i} | with a pipe\nand a newline"),
                kept_from: if verdict == Verdict::Accepted {
                    KeptFrom::Draft
                } else {
                    KeptFrom::Target
                },
                draft_ms: Some(10.5 + i as f64),
                target_ms: Some(40.25 + i as f64),
                judge_ms: (verdict != Verdict::TargetOnly).then_some(3.0),
                arithmetic: Vec::new(),
            }
        })
        .collect()
}

pub fn metrics(drafted: usize, accepted: usize, speedup: Option<f64>) -> AnswerMetrics {
    AnswerMetrics {
        prompt_tokens: 17,
        generated_tokens: 120 + drafted,
        wall_seconds: 2.5,
        prefill_tokens_per_s: 900.0,
        decode_tokens_per_s: 48.0,
        time_to_first_token_s: 0.2,
        tokens_per_s: (120 + drafted) as f64 / 2.5,
        drafted_tokens: Some(drafted),
        accepted_tokens: Some(accepted),
        token_acceptance_rate: (drafted > 0).then(|| accepted as f64 / drafted as f64),
        mean_acceptance_length: Some(1.0 + accepted as f64 / 10.0),
        drafted_steps: Some(drafted / 4),
        accepted_steps: Some(accepted / 4),
        step_acceptance_rate: (drafted >= 4).then(|| (accepted / 4) as f64 / (drafted / 4) as f64),
        step_mean_acceptance_length: (drafted >= 4).then(|| 1.0 + (accepted / 4) as f64 / 8.0),
        per_position_acceptance: Some(vec![
            PositionCount {
                proposed: drafted / 2,
                accepted: accepted / 2,
            },
            PositionCount {
                proposed: drafted / 4,
                accepted: accepted / 4,
            },
        ]),
        forward_passes: 60 + drafted / 3,
        mean_batch_size: 1.5,
        speedup_estimate: speedup,
        speculation_stopped: speedup
            .filter(|s| *s < 1.0)
            .map(|s| format!("slowdown guard: ran at {s:.2}x plain")),
        guard_stopped: speedup.is_some_and(|s| s < 1.0),
    }
}

pub fn outcome(
    text: &str,
    steps: Vec<StepRecord>,
    metrics: Option<AnswerMetrics>,
) -> AnswerOutcome {
    AnswerOutcome {
        text: text.to_owned(),
        final_answer: Some(format!("final: {text}")),
        status: MessageStatus::Complete,
        error: None,
        steps,
        metrics,
        notes: Default::default(),
    }
}

pub fn answer(text: &str, n_steps: usize) -> NewAnswer {
    NewAnswer {
        start: sd_start(),
        outcome: outcome(text, steps(n_steps, 1), Some(metrics(40, 30, Some(1.75)))),
        created_at: None,
    }
}

/// Which variant an error is, for assertions that print the whole error on
/// mismatch.
pub fn kind(e: &StoreError) -> &'static str {
    match e {
        StoreError::Locked { .. } => "Locked",
        StoreError::ReadOnly { .. } => "ReadOnly",
        StoreError::DiskFull { .. } => "DiskFull",
        StoreError::Corrupt { .. } => "Corrupt",
        StoreError::NewerSchema { .. } => "NewerSchema",
        StoreError::NotFound { .. } => "NotFound",
        StoreError::NotInProgress { .. } => "NotInProgress",
        StoreError::InvalidInput(_) => "InvalidInput",
        StoreError::InvalidImport(_) => "InvalidImport",
        StoreError::InvalidDate { .. } => "InvalidDate",
        StoreError::NewerExport { .. } => "NewerExport",
        StoreError::NoDataDir => "NoDataDir",
        StoreError::Io { .. } => "Io",
        StoreError::Migrate(_) => "Migrate",
        StoreError::MigrationChanged { .. } => "MigrationChanged",
        StoreError::Json(_) => "Json",
        StoreError::Database(_) => "Database",
        _ => "other",
    }
}

#[track_caller]
pub fn assert_kind<T: std::fmt::Debug>(result: Result<T>, expected: &str) -> StoreError {
    match result {
        Ok(v) => panic!("expected {expected}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(kind(&e), expected, "unexpected error: {e:?}");
            e
        }
    }
}

/// Re-runs this test binary as a child process that executes only the
/// ignored helper test `test` (which acts when `env` is set).
pub fn child_command(test: &str, env: &str, value: &std::ffi::OsStr) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(env, value)
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    cmd
}
