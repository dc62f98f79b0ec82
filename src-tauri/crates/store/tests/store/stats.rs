//! Statistics are checked against figures computed here, in plain Rust, from
//! the same fixture the database was filled with.

use std::collections::BTreeMap;

use lookahead_store::chrono::{DateTime, NaiveDate, Utc};
use lookahead_store::*;

use crate::common::*;

#[derive(Clone, Debug)]
struct Spec {
    at: DateTime<Utc>,
    mode: Mode,
    draft: Option<&'static str>,
    target: &'static str,
    judge: Option<&'static str>,
    gamma: Option<i64>,
    metrics: AnswerMetrics,
}

fn fixture() -> Vec<Spec> {
    let pairs = [
        (Mode::Sd, Some("small"), "big"),
        (Mode::SdLr, Some("tiny, \"quoted\""), "big"),
        (Mode::Plain, None, "big"),
    ];
    (0..30)
        .map(|i: usize| {
            let (mode, draft, target) = pairs[i % 3];
            let plain = mode == Mode::Plain;
            let drafted = 20 + 7 * i;
            let accepted = (drafted * (3 + i % 5)) / 8;
            let positions = vec![
                PositionCount {
                    proposed: 10 + i,
                    accepted: 8 + i / 2,
                },
                PositionCount {
                    proposed: 10 + i,
                    accepted: 5 + i / 3,
                },
                PositionCount {
                    proposed: 4 + i % 4,
                    accepted: i % 4,
                },
            ];
            Spec {
                at: day(2025, 1, 10 + (i % 4) as u32, (i % 24) as u32),
                mode,
                draft,
                target,
                judge: if i.is_multiple_of(2) {
                    Some("judge-a")
                } else {
                    None
                },
                gamma: if plain {
                    None
                } else {
                    Some(2 + 2 * (i % 3) as i64)
                },
                metrics: AnswerMetrics {
                    prompt_tokens: 10 + i,
                    generated_tokens: 100 + 3 * i,
                    wall_seconds: 1.0 + i as f64 / 4.0,
                    prefill_tokens_per_s: 500.0 + i as f64,
                    decode_tokens_per_s: 20.0 + i as f64,
                    time_to_first_token_s: 0.1,
                    tokens_per_s: (100 + 3 * i) as f64 / (1.0 + i as f64 / 4.0),
                    drafted_tokens: (!plain).then_some(drafted),
                    accepted_tokens: (!plain).then_some(accepted),
                    token_acceptance_rate: (!plain).then(|| accepted as f64 / drafted as f64),
                    mean_acceptance_length: (!plain).then(|| 1.0 + (i % 7) as f64 / 3.0),
                    drafted_steps: (!plain).then_some(5 + i % 6),
                    accepted_steps: (!plain).then_some(i % 5),
                    step_acceptance_rate: None,
                    step_mean_acceptance_length: None,
                    per_position_acceptance: (!plain).then_some(positions),
                    forward_passes: 0,
                    mean_batch_size: 0.0,
                    speedup_estimate: (!plain).then_some(0.8 + (i % 9) as f64 * 0.3),
                    speculation_stopped: None,
                    guard_stopped: false,
                },
            }
        })
        .collect()
}

async fn fill(store: &Store, specs: &[Spec]) {
    let c = store.create_conversation("stats").await.unwrap();
    store
        .add_user_message(c.id, "a question has no metrics")
        .await
        .unwrap();
    for s in specs {
        let a = NewAnswer {
            start: start(s.mode, s.draft, s.target, s.judge, s.gamma),
            outcome: outcome("x", vec![], Some(s.metrics.clone())),
            created_at: Some(s.at),
        };
        store.save_answer(c.id, a).await.unwrap();
    }
    // Answers in the bin and answers without metrics must not count.
    let binned = store.create_conversation("binned").await.unwrap();
    store
        .save_answer(binned.id, answer("binned", 1))
        .await
        .unwrap();
    store.delete_conversation(binned.id).await.unwrap();
    let no_metrics = store.create_conversation("no metrics").await.unwrap();
    let mut a = answer("no metrics", 1);
    a.outcome.metrics = None;
    store.save_answer(no_metrics.id, a).await.unwrap();
}

#[derive(Debug, Default, PartialEq)]
struct Expected {
    answers: i64,
    generated: i64,
    drafted: i64,
    accepted: i64,
    drafted_steps: i64,
    accepted_steps: i64,
    mal: Vec<f64>,
    speedups: Vec<f64>,
}

fn expect<'a>(specs: impl IntoIterator<Item = &'a Spec>) -> Expected {
    let mut e = Expected::default();
    for s in specs {
        let m = &s.metrics;
        e.answers += 1;
        e.generated += m.generated_tokens as i64;
        e.drafted += m.drafted_tokens.unwrap_or(0) as i64;
        e.accepted += m.accepted_tokens.unwrap_or(0) as i64;
        e.drafted_steps += m.drafted_steps.unwrap_or(0) as i64;
        e.accepted_steps += m.accepted_steps.unwrap_or(0) as i64;
        e.mal.extend(m.mean_acceptance_length);
        e.speedups.extend(m.speedup_estimate);
    }
    e
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b != 0).then(|| a as f64 / b as f64)
}

#[track_caller]
fn close(got: Option<f64>, want: Option<f64>) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "got {g}, want {w}"),
        (g, w) => assert_eq!(g, w),
    }
}

#[track_caller]
fn check_row(row: &AcceptanceRow, e: &Expected) {
    assert_eq!(row.answers, e.answers, "{}", row.key);
    assert_eq!(row.generated_tokens, e.generated, "{}", row.key);
    assert_eq!(row.drafted_tokens, e.drafted, "{}", row.key);
    assert_eq!(row.accepted_tokens, e.accepted, "{}", row.key);
    assert_eq!(row.drafted_steps, e.drafted_steps, "{}", row.key);
    assert_eq!(row.accepted_steps, e.accepted_steps, "{}", row.key);
    close(row.token_acceptance_rate, ratio(e.accepted, e.drafted));
    close(
        row.step_acceptance_rate,
        ratio(e.accepted_steps, e.drafted_steps),
    );
    close(row.mean_acceptance_length, mean(&e.mal));
    close(row.mean_speedup, mean(&e.speedups));
}

/// Checks `rows` against the fixture grouped by `key`, in the given order.
#[track_caller]
fn check_groups(rows: &[AcceptanceRow], specs: &[Spec], key: impl Fn(&Spec) -> String) {
    let mut groups: BTreeMap<String, Vec<&Spec>> = BTreeMap::new();
    for s in specs {
        groups.entry(key(s)).or_default().push(s);
    }
    let mut got: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    got.sort_unstable();
    assert_eq!(got, groups.keys().map(String::as_str).collect::<Vec<_>>());
    for row in rows {
        check_row(row, &expect(groups[&row.key].iter().copied()));
    }
}

#[tokio::test]
async fn totals_and_groupings_match_the_fixture() {
    let db = temp_db();
    let store = open(&db.path).await;
    let specs = fixture();
    fill(&store, &specs).await;
    let all = StatsFilter::default();

    let t = store.totals(&all).await.unwrap();
    let e = expect(&specs);
    assert_eq!(t.answers, e.answers);
    assert_eq!(t.generated_tokens, e.generated);
    assert_eq!(
        t.prompt_tokens,
        specs
            .iter()
            .map(|s| s.metrics.prompt_tokens as i64)
            .sum::<i64>()
    );
    assert_eq!(t.drafted_tokens, e.drafted);
    assert_eq!(t.accepted_tokens, e.accepted);
    close(
        Some(t.wall_seconds),
        Some(specs.iter().map(|s| s.metrics.wall_seconds).sum()),
    );
    close(t.token_acceptance_rate, ratio(e.accepted, e.drafted));
    close(
        t.step_acceptance_rate,
        ratio(e.accepted_steps, e.drafted_steps),
    );
    close(t.mean_speedup, mean(&e.speedups));
    close(t.mean_acceptance_length, mean(&e.mal));
    let decode: Vec<f64> = specs
        .iter()
        .map(|s| s.metrics.decode_tokens_per_s)
        .collect();
    close(t.mean_decode_tokens_per_s, mean(&decode));

    let by_day = store.acceptance_by_day(&all).await.unwrap();
    check_groups(&by_day, &specs, |s| s.at.format("%Y-%m-%d").to_string());
    let days: Vec<&str> = by_day.iter().map(|r| r.key.as_str()).collect();
    let mut sorted = days.clone();
    sorted.sort_unstable();
    assert_eq!(days, sorted, "days oldest first");

    check_groups(
        &store.acceptance_by(&all, GroupBy::ModelPair).await.unwrap(),
        &specs,
        |s| match s.draft {
            Some(d) => format!("{d} → {}", s.target),
            None => s.target.to_owned(),
        },
    );
    check_groups(
        &store.acceptance_by(&all, GroupBy::Judge).await.unwrap(),
        &specs,
        |s| s.judge.unwrap_or("(no judge)").to_owned(),
    );
    check_groups(
        &store.acceptance_by(&all, GroupBy::Mode).await.unwrap(),
        &specs,
        |s| s.mode.to_string(),
    );
    let by_gamma = store.acceptance_by(&all, GroupBy::Gamma).await.unwrap();
    check_groups(&by_gamma, &specs, |s| {
        s.gamma.map_or("(none)".to_owned(), |g| g.to_string())
    });
    let order: Vec<&str> = by_gamma.iter().map(|r| r.key.as_str()).collect();
    let mut gammas: Vec<i64> = specs.iter().filter_map(|s| s.gamma).collect();
    gammas.sort_unstable();
    gammas.dedup();
    let mut expected: Vec<String> = gammas.iter().map(|g| g.to_string()).collect();
    expected.push("(none)".to_owned());
    assert!(gammas.len() > 1);
    assert_eq!(order, expected, "numeric order, none last");

    // The plain group drafted nothing, so it has no rates rather than zero.
    let plain = store.acceptance_by(&all, GroupBy::Mode).await.unwrap();
    let plain = plain.iter().find(|r| r.key == "plain").unwrap();
    assert_eq!(plain.token_acceptance_rate, None);
    assert_eq!(plain.mean_speedup, None);
}

#[tokio::test]
async fn acceptance_by_configuration_matches_the_fixture() {
    let db = temp_db();
    let store = open(&db.path).await;
    let specs = fixture();
    fill(&store, &specs).await;
    type Config = (Option<String>, Option<String>, Option<String>, Option<i64>);
    let config = |s: &Spec| -> Config {
        (
            s.draft.map(str::to_owned),
            Some(s.target.to_owned()),
            s.judge.map(str::to_owned),
            s.gamma,
        )
    };
    let mut groups: BTreeMap<Config, Vec<&Spec>> = BTreeMap::new();
    for s in &specs {
        groups.entry(config(s)).or_default().push(s);
    }
    let rows = store
        .acceptance_by_config(&StatsFilter::default())
        .await
        .unwrap();
    assert_eq!(rows.len(), groups.len());
    for r in &rows {
        let key: Config = (
            r.draft_model.clone(),
            r.target_model.clone(),
            r.judge_model.clone(),
            r.gamma,
        );
        let group = groups
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected group {key:?}"));
        check_row(&r.row, &expect(group.iter().copied()));
        if let Some(g) = r.gamma {
            assert!(r.row.key.ends_with(&format!("γ={g}")), "{}", r.row.key);
        }
    }
    // Most used configuration first.
    assert!(rows
        .windows(2)
        .all(|w| w[0].row.answers >= w[1].row.answers));
}

#[tokio::test]
async fn date_filter_is_inclusive_on_both_ends() {
    let db = temp_db();
    let store = open(&db.path).await;
    let specs = fixture();
    fill(&store, &specs).await;
    let since = NaiveDate::from_ymd_opt(2025, 1, 11).unwrap();
    let until = NaiveDate::from_ymd_opt(2025, 1, 12).unwrap();
    let filter = StatsFilter {
        since: Some(since),
        until: Some(until),
    };
    let inside: Vec<Spec> = specs
        .iter()
        .filter(|s| (since..=until).contains(&s.at.date_naive()))
        .cloned()
        .collect();
    assert!(!inside.is_empty() && inside.len() < specs.len());
    let t = store.totals(&filter).await.unwrap();
    assert_eq!(t.answers, inside.len() as i64);
    check_groups(
        &store.acceptance_by_day(&filter).await.unwrap(),
        &inside,
        |s| s.at.format("%Y-%m-%d").to_string(),
    );
    let only_since = StatsFilter {
        since: Some(since),
        until: None,
    };
    let n = specs.iter().filter(|s| s.at.date_naive() >= since).count() as i64;
    assert_eq!(store.totals(&only_since).await.unwrap().answers, n);
    let future = StatsFilter {
        since: NaiveDate::from_ymd_opt(2030, 1, 1),
        until: None,
    };
    let t = store.totals(&future).await.unwrap();
    assert_eq!(
        (t.answers, t.mean_speedup, t.token_acceptance_rate),
        (0, None, None)
    );
    assert!(store.acceptance_by_day(&future).await.unwrap().is_empty());
    assert!(store
        .speedup_histogram(&future, 0.5)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn per_position_acceptance_is_pooled() {
    let db = temp_db();
    let store = open(&db.path).await;
    let specs = fixture();
    fill(&store, &specs).await;
    let mut want: Vec<(i64, i64)> = Vec::new();
    for s in &specs {
        for (i, p) in s
            .metrics
            .per_position_acceptance
            .iter()
            .flatten()
            .enumerate()
        {
            if want.len() <= i {
                want.push((0, 0));
            }
            want[i].0 += p.proposed as i64;
            want[i].1 += p.accepted as i64;
        }
    }
    let got = store
        .position_acceptance(&StatsFilter::default())
        .await
        .unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (p, (attempted, accepted))) in got.iter().zip(&want).enumerate() {
        assert_eq!(p.position, i as i64 + 1);
        assert_eq!((p.proposed, p.accepted), (*attempted, *accepted));
        close(p.rate, ratio(*accepted, *attempted));
    }
}

#[tokio::test]
async fn speedup_histogram_counts_every_answer_once() {
    let db = temp_db();
    let store = open(&db.path).await;
    let specs = fixture();
    fill(&store, &specs).await;
    let width = 0.5;
    let buckets = store
        .speedup_histogram(&StatsFilter::default(), width)
        .await
        .unwrap();
    let speedups: Vec<f64> = specs
        .iter()
        .filter_map(|s| s.metrics.speedup_estimate)
        .collect();
    assert_eq!(
        buckets.iter().map(|b| b.count).sum::<i64>(),
        speedups.len() as i64
    );
    for (i, b) in buckets.iter().enumerate() {
        close(Some(b.upper - b.lower), Some(width));
        if i > 0 {
            close(Some(b.lower), Some(buckets[i - 1].upper));
        }
        let inside = speedups
            .iter()
            .filter(|&&s| s >= b.lower - 1e-9 && s < b.upper - 1e-9)
            .count();
        assert_eq!(b.count, inside as i64, "bucket {}..{}", b.lower, b.upper);
    }
    let lo = speedups.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = speedups.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert!(buckets[0].lower <= lo && lo < buckets[0].upper);
    let last = buckets.last().unwrap();
    assert!(last.lower <= hi && hi < last.upper);

    // A value exactly on an edge belongs to the bucket it starts.
    let db2 = temp_db();
    let s2 = open(&db2.path).await;
    let c = s2.create_conversation("edges").await.unwrap();
    for v in [0.3, 0.6, 0.6, 1.2] {
        let mut a = answer("e", 0);
        a.outcome.metrics = Some(metrics(10, 5, Some(v)));
        s2.save_answer(c.id, a).await.unwrap();
    }
    let b = s2
        .speedup_histogram(&StatsFilter::default(), 0.1)
        .await
        .unwrap();
    let counts: Vec<(i64, i64)> = b
        .iter()
        .map(|b| ((b.lower * 10.0).round() as i64, b.count))
        .collect();
    assert_eq!(counts.first(), Some(&(3, 1)));
    assert!(counts.contains(&(6, 2)) && counts.contains(&(12, 1)));
    assert_eq!(counts.len(), 10, "empty buckets between are included");

    assert_kind(
        s2.speedup_histogram(&StatsFilter::default(), 0.0).await,
        "InvalidInput",
    );
    assert_kind(
        s2.speedup_histogram(&StatsFilter::default(), f64::NAN)
            .await,
        "InvalidInput",
    );
}

/// Minimal RFC 4180 reader, enough to check the writer.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[tokio::test]
async fn metrics_csv_has_one_row_per_answer() {
    let db = temp_db();
    let store = open(&db.path).await;
    let specs = fixture();
    fill(&store, &specs).await;
    let csv = store
        .export_metrics_csv(&StatsFilter::default())
        .await
        .unwrap();
    let rows = parse_csv(&csv);
    let header = &rows[0];
    assert_eq!(rows.len() - 1, specs.len());
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // Rows come oldest first; sort the fixture the same way.
    let mut sorted = specs.clone();
    sorted.sort_by_key(|s| s.at);
    for (row, s) in rows[1..].iter().zip(&sorted) {
        assert_eq!(row[col("draft_model")], s.draft.unwrap_or(""));
        assert_eq!(row[col("mode")], s.mode.as_str());
        assert_eq!(
            row[col("gamma")],
            s.gamma.map(|g| g.to_string()).unwrap_or_default()
        );
        assert_eq!(
            row[col("generated_tokens")],
            s.metrics.generated_tokens.to_string()
        );
        let parsed: Option<f64> = row[col("speedup_estimate")].parse().ok();
        close(parsed, s.metrics.speedup_estimate);
        assert_eq!(
            row[col("created_at")][..10],
            s.at.format("%Y-%m-%d").to_string()
        );
        let positions = &row[col("per_position_acceptance")];
        if let Some(p) = &s.metrics.per_position_acceptance {
            let back: Vec<PositionCount> = serde_json::from_str(positions).unwrap();
            assert_eq!(&back, p);
        } else {
            assert!(positions.is_empty());
        }
    }
}

#[tokio::test]
async fn speed_by_mode_pools_the_latest_complete_answers_of_the_same_models() {
    let db = temp_db();
    let store = open(&db.path).await;
    let specs = fixture();
    fill(&store, &specs).await;
    // A cancelled answer, newest of all and very fast, must not count.
    let c = store.create_conversation("cancelled").await.unwrap();
    let mut fast = outcome("stopped", vec![], Some(metrics(10, 10, None)));
    fast.status = MessageStatus::Cancelled;
    fast.metrics.as_mut().unwrap().wall_seconds = 0.001;
    store
        .save_answer(
            c.id,
            NewAnswer {
                start: start(Mode::Sd, Some("small"), "big", None, Some(4)),
                outcome: fast,
                created_at: Some(day(2026, 1, 1, 0)),
            },
        )
        .await
        .unwrap();

    // Expected: per mode, the `recent` newest matching answers (ties in
    // time: the later saved first), pooled tokens / seconds, the mean of
    // their speed-up estimates, and how many matching answers there are.
    type Want = (Mode, i64, f64, i64, Option<f64>);
    let expected = |keep: &dyn Fn(&Spec) -> bool, recent: usize| -> Vec<Want> {
        let mut by_mode: BTreeMap<&'static str, Vec<(usize, &Spec)>> = BTreeMap::new();
        for (i, s) in specs.iter().enumerate().filter(|(_, s)| keep(s)) {
            by_mode.entry(s.mode.as_str()).or_default().push((i, s));
        }
        by_mode
            .into_values()
            .map(|mut v| {
                let total = v.len() as i64;
                v.sort_by(|a, b| b.1.at.cmp(&a.1.at).then(b.0.cmp(&a.0)));
                v.truncate(recent);
                let tokens: i64 = v
                    .iter()
                    .map(|(_, s)| s.metrics.generated_tokens as i64)
                    .sum();
                let secs: f64 = v.iter().map(|(_, s)| s.metrics.wall_seconds).sum();
                let speedups: Vec<f64> = v
                    .iter()
                    .filter_map(|(_, s)| s.metrics.speedup_estimate)
                    .collect();
                let mean = (!speedups.is_empty())
                    .then(|| speedups.iter().sum::<f64>() / speedups.len() as f64);
                (
                    v[0].1.mode,
                    v.len() as i64,
                    tokens as f64 / secs,
                    total,
                    mean,
                )
            })
            .collect()
    };
    let check = |got: Vec<ModeSpeed>, want: Vec<Want>| {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, (mode, answers, speed, total, mean)) in got.iter().zip(want) {
            assert_eq!(
                (g.mode, g.answers, g.total_answers),
                (mode, answers, total),
                "{got:?}"
            );
            assert!((g.tokens_per_s - speed).abs() < 1e-9, "{g:?} vs {speed}");
            match (g.mean_speedup, mean) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{g:?} vs {b}"),
                (a, b) => assert_eq!(a, b, "{g:?}"),
            }
        }
    };

    // Token SD with the small draft: its answers and every plain one with
    // the same target; the SD+LR answers use another draft.
    let models = ModelSet {
        target: "big",
        draft: Some("small"),
        judge: Some("judge-a"),
    };
    let got = store.speed_by_mode(&models, 3).await.unwrap();
    let want = expected(
        &|s| s.mode == Mode::Plain || (s.mode == Mode::Sd && s.draft == Some("small")),
        3,
    );
    assert_eq!(want.len(), 2);
    check(got, want);

    // Step modes count only answers judged by the same judge.
    let models = ModelSet {
        target: "big",
        draft: Some("tiny, \"quoted\""),
        judge: Some("judge-a"),
    };
    let got = store.speed_by_mode(&models, 100).await.unwrap();
    let want = expected(
        &|s| s.mode == Mode::Plain || (s.mode == Mode::SdLr && s.judge == Some("judge-a")),
        100,
    );
    assert_eq!(want[1].1, 5, "half the ten SD+LR answers have judge-a");
    assert!(want[1].4.is_some() && want[0].4.is_none());
    check(got, want);

    // Another target: nothing measured.
    let models = ModelSet {
        target: "other",
        draft: None,
        judge: None,
    };
    assert!(store.speed_by_mode(&models, 3).await.unwrap().is_empty());
}

#[tokio::test]
async fn plain_speed_comes_from_recent_plain_answers_else_the_calibration() {
    let db = temp_db();
    let store = open(&db.path).await;
    assert_eq!(store.plain_speed("big", 5).await.unwrap(), None);

    let calibrated = PlainSpeed::new(40.0, 9.0).unwrap();
    store
        .save_plain_calibration("big", &calibrated)
        .await
        .unwrap();
    assert_eq!(store.plain_speed("big", 5).await.unwrap(), Some(calibrated));
    assert_eq!(store.plain_speed("other", 5).await.unwrap(), None);

    // Plain answers replace it: the mean rates of the latest `recent`
    // complete ones with this target. Step-mode answers, cancelled ones
    // and other targets do not count.
    let specs = fixture();
    fill(&store, &specs).await;
    let c = store.create_conversation("cancelled").await.unwrap();
    let mut stopped = outcome("stopped", vec![], Some(metrics(0, 0, None)));
    stopped.status = MessageStatus::Cancelled;
    stopped.metrics.as_mut().unwrap().decode_tokens_per_s = 1e6;
    store
        .save_answer(
            c.id,
            NewAnswer {
                start: start(Mode::Plain, None, "big", None, None),
                outcome: stopped,
                created_at: Some(day(2026, 1, 1, 0)),
            },
        )
        .await
        .unwrap();
    let mut plain: Vec<(usize, &Spec)> = specs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.mode == Mode::Plain && s.target == "big")
        .collect();
    plain.sort_by(|a, b| b.1.at.cmp(&a.1.at).then(b.0.cmp(&a.0)));
    plain.truncate(3);
    let mean = |f: &dyn Fn(&AnswerMetrics) -> f64| {
        plain.iter().map(|(_, s)| f(&s.metrics)).sum::<f64>() / plain.len() as f64
    };
    let got = store
        .plain_speed("big", 3)
        .await
        .unwrap()
        .expect("measured");
    let prefill = mean(&|m| m.prefill_tokens_per_s);
    let decode = mean(&|m| m.decode_tokens_per_s);
    assert!((got.prefill_tokens_per_s - prefill).abs() < 1e-9, "{got:?}");
    assert!((got.decode_tokens_per_s - decode).abs() < 1e-9, "{got:?}");
    assert_ne!(got, calibrated);
}
