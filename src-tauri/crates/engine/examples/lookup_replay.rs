//! Replays word drafting by lookup over the answers of a `lookahead bench`
//! run, without running the model: greedy answers do not depend on what
//! was guessed, so each answer's tokens say which guesses would have held.
//! Round by round, lookup guesses from the question, the answer so far and
//! the earlier answers (the answers of the same mode before it in the file,
//! as the bench passes them), [`worth_checking`] picks how much to check at the given
//! pass costs, and the pass keeps the guesses that match plus the model's
//! own next token. It prints, per setting, the tokens a pass and the
//! speed-up over plain decoding those pass costs give (and tokens/s with
//! `--costs`): a way to compare lookup's settings in seconds rather than
//! a bench run. Lookup alone: the calculator's results, the
//! next number of a list and the words carried past a step's end (checked
//! whole, whatever lookup's settings) are not replayed, and the answer is
//! read as one text rather than step by step.
//!
//! ```text
//! cargo run --example lookup_replay -p lookahead-engine -- --answers FILE \
//!     [--mode sd] [--lines 1-50] [--earlier 20,50] \
//!     [--earlier-weight 0.03,0.1] [--share-power 1.5,1.7] \
//!     [--costs 43.1,48.2,53.7,63.6,62.9,67.2,72.0,72.7,85.1] \
//!     [--dataset FILE] [--target FILE]
//! ```
//!
//! `--costs`: milliseconds of a pass of 1, 2, … tokens (`executor_bench
//! --pass-curve` prints them; longer passes cost as the last one plus the
//! last step); without it, the executor's prior.

use std::path::PathBuf;

use lookahead_engine::parts::{chatml_prompt, worth_checking, Followers, NgramConfig};
use lookahead_engine::PromptStyle;
use lookahead_executor::{prior_cost, Executor, GgufTokenizer};

/// Most tokens lookup guesses a round (the speculation's `max_k`).
const LONGEST_GUESS: usize = 8;

struct Args {
    answers: PathBuf,
    mode: String,
    lines: Option<(usize, usize)>,
    earlier: Vec<usize>,
    earlier_weight: Vec<f64>,
    share_power: Vec<f64>,
    costs: Option<Vec<f64>>,
    dataset: PathBuf,
    target: PathBuf,
}

fn list<T: std::str::FromStr>(v: &str) -> Vec<T> {
    v.split(',')
        .map(|x| {
            x.trim()
                .parse()
                .ok()
                .expect("a comma-separated list of numbers")
        })
        .collect()
}

fn parse_args() -> Args {
    let mut a = Args {
        answers: PathBuf::new(),
        mode: "sd".into(),
        lines: None,
        earlier: vec![50],
        earlier_weight: vec![NgramConfig::default().earlier_weight],
        share_power: vec![NgramConfig::default().share_power],
        costs: None,
        dataset: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../cli/data/gsm8k_test_100.jsonl"
        )),
        target: lookahead_models::models_dir().join("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match flag.as_str() {
            "--answers" => a.answers = value().into(),
            "--mode" => a.mode = value(),
            "--lines" => {
                let v = value();
                let (from, to) = v.split_once('-').expect("--lines FROM-TO");
                a.lines = Some((
                    from.parse().expect("a line number"),
                    to.parse().expect("a line number"),
                ));
            }
            "--earlier" => a.earlier = list(&value()),
            "--earlier-weight" => a.earlier_weight = list(&value()),
            "--share-power" => a.share_power = list(&value()),
            "--costs" => a.costs = Some(list(&value())),
            "--dataset" => a.dataset = value().into(),
            "--target" => a.target = value().into(),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        !a.answers.as_os_str().is_empty(),
        "--answers FILE (a bench's --answers output) is needed"
    );
    a
}

/// One answer of the file, as token ids.
struct Record {
    mode: String,
    line: usize,
    prompt: Vec<u32>,
    answer: Vec<u32>,
}

fn read_records(args: &Args, tok: &GgufTokenizer) -> Vec<Record> {
    let questions: Vec<String> = std::fs::read_to_string(&args.dataset)
        .expect("the dataset")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["question"].as_str().expect("a question").to_string()
        })
        .collect();
    std::fs::read_to_string(&args.answers)
        .expect("the answers file")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let line = v["line"].as_u64().expect("a line number") as usize;
            let prompt = chatml_prompt(PromptStyle::SystemInstruction, &questions[line - 1]);
            let mut answer = tok
                .encode_piece(v["text"].as_str().expect("an answer text"))
                .expect("tokens");
            answer.push(tok.end_ids()[0]);
            Record {
                mode: v["mode"].as_str().unwrap_or_default().to_string(),
                line,
                prompt: tok.encode(&prompt).expect("tokens"),
                answer,
            }
        })
        .collect()
}

#[derive(Default)]
struct Totals {
    tokens: usize,
    passes: usize,
    checked: usize,
    held: usize,
    /// Time at the pass costs given ([`cost_ms`]).
    ms: f64,
}

/// What a pass of `n` tokens costs: `--costs` (ms), else the executor's
/// prior (a one-token pass = 1).
fn cost_ms(args: &Args, n: usize) -> f64 {
    match &args.costs {
        Some(c) => {
            let last = c.len() - 1;
            let step = if last > 0 { c[last] - c[last - 1] } else { 0.0 };
            c.get(n - 1)
                .copied()
                .unwrap_or(c[last] + step * (n - 1 - last) as f64)
        }
        None => prior_cost(n),
    }
}

fn replay(records: &[Record], args: &Args, earlier: usize, config: &NgramConfig) -> Totals {
    let cost_ms = |n: usize| cost_ms(args, n);
    let mut t = Totals::default();
    for (i, r) in records.iter().enumerate() {
        let wanted = r.mode == args.mode
            && args
                .lines
                .is_none_or(|(from, to)| (from..=to).contains(&r.line));
        if !wanted {
            continue;
        }
        // The bench passes each mode's own answers before this one.
        let mut before: Vec<Vec<u32>> = records[..i]
            .iter()
            .rev()
            .filter(|e| e.mode == r.mode)
            .take(earlier)
            .map(|e| e.answer[..e.answer.len() - 1].to_vec())
            .collect();
        before.reverse();
        let earlier_counts = Followers::of_texts(config, &before);
        let full: Vec<u32> = r.prompt.iter().chain(&r.answer).copied().collect();
        let mut text = Followers::new(config);
        let mut at = r.prompt.len();
        while at < full.len() {
            text.sync(&full[..at]);
            let mut guess = config.propose(&text, &earlier_counts, &full[..at], LONGEST_GUESS);
            let keep = worth_checking(&guess, 1, |n| cost_ms(n) / cost_ms(1));
            guess.truncate(keep);
            let held = guess
                .tokens
                .iter()
                .zip(&full[at..])
                .take_while(|(g, t)| g == t)
                .count();
            let advance = (held + 1).min(full.len() - at);
            t.tokens += advance;
            t.passes += 1;
            t.checked += guess.tokens.len();
            t.held += held;
            t.ms += cost_ms(1 + guess.tokens.len());
            at += advance;
        }
    }
    t
}

fn main() {
    let args = parse_args();
    let exec = Executor::load(&args.target, Default::default()).expect("the target model");
    let records = read_records(&args, exec.tokenizer());
    println!(
        "{} answers in {}, replaying mode {}{}",
        records.len(),
        args.answers.display(),
        args.mode,
        args.lines
            .map(|(a, b)| format!(", questions {a}-{b}"))
            .unwrap_or_default()
    );
    println!("| earlier answers | earlier weight | share power | tokens a pass | guesses held | × plain at these pass costs | tok/s |");
    println!("|---|---|---|---|---|---|---|");
    for &earlier in &args.earlier {
        for &earlier_weight in &args.earlier_weight {
            for &share_power in &args.share_power {
                let config = NgramConfig {
                    earlier_weight,
                    share_power,
                    ..NgramConfig::default()
                };
                let t = replay(&records, &args, earlier, &config);
                println!(
                    "| {earlier} | {earlier_weight} | {share_power} | {:.3} | {}/{} = {:.1} % | {:.3}× | {} |",
                    t.tokens as f64 / t.passes.max(1) as f64,
                    t.held,
                    t.checked,
                    100.0 * t.held as f64 / t.checked.max(1) as f64,
                    t.tokens as f64 * cost_ms(&args, 1) / t.ms,
                    if args.costs.is_some() {
                        format!("{:.2}", t.tokens as f64 / t.ms * 1000.0)
                    } else {
                        "–".into()
                    },
                );
            }
        }
    }
}
