//! Load figures for the history store (not a timed test):
//!
//! ```text
//! cargo run --release -p lookahead-store --example load_bench [answers]
//! ```
//!
//! Stores 10,000 answers (default) in a temporary database, reopens it, then
//! times the queries the UI runs. Target: under 50 ms each.

use std::time::{Duration, Instant};

use lookahead_store::chrono::{Duration as Days, TimeZone, Utc};
use lookahead_store::*;

const ANSWERS_PER_CONVERSATION: usize = 5;
const STEPS_PER_ANSWER: usize = 12;
const WORDS: &[&str] = &[
    "the",
    "model",
    "draft",
    "target",
    "token",
    "accept",
    "reject",
    "verify",
    "speculative",
    "decoding",
    "lookahead",
    "reasoning",
    "step",
    "judge",
    "gamma",
    "prime",
    "number",
    "proof",
    "because",
    "therefore",
    "sky",
    "blue",
    "light",
    "scatter",
    "wavelength",
    "energy",
    "matrix",
    "vector",
    "gradient",
    "loss",
    "train",
    "batch",
    "cache",
    "memory",
    "fast",
    "slow",
    "answer",
    "question",
    "why",
    "how",
    "integral",
    "derivative",
    "limit",
    "series",
    "converge",
    "bound",
];

/// Small deterministic generator so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn text(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| WORDS[self.below(WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn new_answer(rng: &mut Lcg, i: usize) -> NewAnswer {
    let pairs = [
        ("qwen3-0.6b", "qwen3-8b"),
        ("qwen3-1.7b", "qwen3-14b"),
        ("llama-1b", "llama-8b"),
    ];
    let (draft, target) = pairs[rng.below(pairs.len())];
    let gamma = [2, 4, 6][rng.below(3)];
    let steps: Vec<StepRecord> = (0..STEPS_PER_ANSWER)
        .map(|k| {
            let accepted = rng.below(10) < 7;
            StepRecord {
                index: k,
                drafted: Some(rng.text(8)),
                target: (!accepted).then(|| rng.text(8)),
                verdict: if accepted {
                    Verdict::Accepted
                } else {
                    Verdict::Rejected
                },
                judge_score: Some(rng.below(100) as f64 / 100.0),
                text: rng.text(8),
                kept_from: if accepted {
                    KeptFrom::Draft
                } else {
                    KeptFrom::Target
                },
                draft_ms: Some(10.0 + rng.below(20) as f64),
                target_ms: Some(40.0 + rng.below(40) as f64),
                judge_ms: Some(3.0),
                arithmetic: Vec::new(),
            }
        })
        .collect();
    let drafted = 50 + rng.below(200);
    let accepted = drafted * (40 + rng.below(50)) / 100;
    let metrics = AnswerMetrics {
        prompt_tokens: 20 + rng.below(200),
        generated_tokens: 100 + rng.below(600),
        wall_seconds: 1.0 + rng.below(3000) as f64 / 100.0,
        prefill_tokens_per_s: 800.0,
        decode_tokens_per_s: 20.0 + rng.below(40) as f64,
        time_to_first_token_s: 0.3,
        tokens_per_s: 30.0,
        drafted_tokens: Some(drafted),
        accepted_tokens: Some(accepted),
        token_acceptance_rate: Some(accepted as f64 / drafted as f64),
        mean_acceptance_length: Some(1.0 + rng.below(300) as f64 / 100.0),
        drafted_steps: Some(STEPS_PER_ANSWER),
        accepted_steps: Some(
            steps
                .iter()
                .filter(|s| s.verdict == Verdict::Accepted)
                .count(),
        ),
        step_acceptance_rate: None,
        step_mean_acceptance_length: None,
        per_position_acceptance: Some(
            (0..gamma)
                .map(|p| PositionCount {
                    proposed: 20,
                    accepted: 18 - 2 * p,
                })
                .collect(),
        ),
        forward_passes: 0,
        mean_batch_size: 0.0,
        speedup_estimate: Some(0.8 + rng.below(200) as f64 / 100.0),
        speculation_stopped: None,
        guard_stopped: false,
    };
    NewAnswer {
        start: AnswerStart {
            mode: [Mode::Sd, Mode::Lr, Mode::SdLr][rng.below(3)],
            draft_model: Some(draft.into()),
            target_model: Some(target.into()),
            judge_model: (rng.below(2) == 0).then(|| "qwen3-1.7b".to_owned()),
            settings: serde_json::json!({ "gamma": gamma, "temperature": 0.6 }),
        },
        outcome: AnswerOutcome {
            text: rng.text(120),
            final_answer: Some(rng.text(10)),
            status: MessageStatus::Complete,
            error: None,
            steps,
            metrics: Some(metrics),
            notes: Default::default(),
        },
        created_at: Some(
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default()
                + Days::minutes((i * 13) as i64),
        ),
    }
}

async fn time<T, F: std::future::Future<Output = Result<T>>>(
    name: &str,
    runs: usize,
    mut f: impl FnMut() -> F,
) -> Result<T> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        last = Some(f().await?);
        times.push(t0.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<40} min {:>7.2} ms   median {:>7.2} ms   max {:>7.2} ms",
        ms(times[0].max(Duration::ZERO)),
        ms(times[runs / 2]),
        ms(times[runs - 1])
    );
    last.ok_or_else(|| StoreError::InvalidInput("no runs".into()))
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let answers: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    // LOOKAHEAD_BENCH_DB keeps the database for a look with sqlite3.
    let path = match std::env::var_os("LOOKAHEAD_BENCH_DB") {
        Some(p) => std::path::PathBuf::from(p),
        None => dir.path().join("history.sqlite"),
    };
    let mut rng = Lcg(42);

    let t0 = Instant::now();
    {
        let store = Store::open(&path).await?;
        let mut conversation = 0;
        for i in 0..answers {
            if i % ANSWERS_PER_CONVERSATION == 0 {
                conversation = store.create_conversation(&rng.text(5)).await?.id;
            }
            store
                .add_user_message(conversation, &(rng.text(15) + "?"))
                .await?;
            store
                .save_answer(conversation, new_answer(&mut rng, i))
                .await?;
        }
        store.close().await;
    }
    let seed = t0.elapsed();
    let size = std::fs::metadata(&path)?.len();
    println!(
        "stored {answers} answers ({} steps) in {:.1} s ({:.2} ms per answer, one transaction each); file {:.1} MB",
        answers * STEPS_PER_ANSWER,
        seed.as_secs_f64(),
        seed.as_secs_f64() * 1000.0 / answers as f64,
        size as f64 / 1e6
    );

    let t0 = Instant::now();
    let store = Store::open(&path).await?;
    println!(
        "{:<40} {:>7.2} ms (schema check + migrations; full check only up to 32 MiB)",
        "open",
        t0.elapsed().as_secs_f64() * 1000.0
    );

    time("check_integrity (full quick_check)", 1, || {
        store.check_integrity()
    })
    .await?;

    let all = StatsFilter::default();
    let runs = 7;
    let list = time("list_conversations", runs, || store.list_conversations()).await?;
    let hits = time("search \"speculative decoding\"", runs, || {
        store.search("speculative decoding", 50)
    })
    .await?;
    time("search \"gradient conv\" (prefix)", runs, || {
        store.search("gradient conv", 50)
    })
    .await?;
    time("search \"zzz\" (no match)", runs, || {
        store.search("zzz", 50)
    })
    .await?;
    let totals = time("totals", runs, || store.totals(&all)).await?;
    time("acceptance_by day", runs, || {
        store.acceptance_by(&all, GroupBy::Day)
    })
    .await?;
    time("acceptance_by model pair", runs, || {
        store.acceptance_by(&all, GroupBy::ModelPair)
    })
    .await?;
    time("acceptance_by judge", runs, || {
        store.acceptance_by(&all, GroupBy::Judge)
    })
    .await?;
    time("acceptance_by gamma", runs, || {
        store.acceptance_by(&all, GroupBy::Gamma)
    })
    .await?;
    time("position_acceptance", runs, || {
        store.position_acceptance(&all)
    })
    .await?;
    time("speedup_histogram", runs, || {
        store.speedup_histogram(&all, 0.25)
    })
    .await?;
    let id = list[list.len() / 2].id;
    time("get_conversation", runs, || store.get_conversation(id)).await?;
    time("export_metrics_csv (all answers)", 3, || {
        store.export_metrics_csv(&all)
    })
    .await?;
    println!(
        "({} conversations listed, {} search hits, {} answers in totals)",
        list.len(),
        hits.len(),
        totals.answers
    );
    store.close().await;
    Ok(())
}
