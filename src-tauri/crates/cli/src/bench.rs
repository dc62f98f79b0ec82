//! `lookahead bench`: accuracy and speed of each mode on the same questions
//! in the same run, so speed-ups are ratios measured side by side.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use lookahead_engine::parts::same_number;
use lookahead_engine::{
    choose_mode, Answer, AskOptions, CancelFlag, Engine, EngineConfig, JudgeChoice, Mode,
    ModeRecord, DEFAULT_MAX_ANSWER_TOKENS,
};
use serde::{Deserialize, Serialize};

use crate::ask::{engine_config, JudgeArgs, ModelArgs};

const DEFAULT_DATASET: &str = include_str!("../data/gsm8k_test_100.jsonl");

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// Modes to compare, comma separated (plain is always run first, as the baseline).
    #[arg(long, value_delimiter = ',', default_value = "plain")]
    pub modes: Vec<Mode>,
    /// Number of questions.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// Only these questions (1-based line numbers of the dataset, comma
    /// separated), instead of the first --limit.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<usize>,
    /// JSON lines with "question" and "answer" (default: 100 GSM8K test problems).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// A judge sweep in one run: the step modes (lr, sd+lr) answer every
    /// question once per judge named here, comma separated as --judge
    /// names them (e.g. embed@0.85,embed@0.90,llm:target), a row each;
    /// without it they run once with --judge.
    #[arg(long, value_delimiter = ',', value_name = "JUDGE")]
    pub judges: Vec<String>,
    /// Also run the draft model alone (plain), to measure its cost ratio c.
    #[arg(long)]
    pub with_draft_alone: bool,
    /// Word drafting also looks in the answers of the questions before
    /// (this many, newest first), as the app passes the recent answers in
    /// its history; 0 = only the text so far.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub earlier_answers: usize,
    /// Leave out the plain baseline (for accuracy runs of other modes whose
    /// plain answers were already measured; no speed-up column then).
    #[arg(long)]
    pub no_baseline: bool,
    /// Start every question with nothing cached (as after a fresh load), so
    /// each mode's time to first token includes reading the whole prompt.
    /// Without it, every mode starts from nothing cached and each question
    /// finds the system prompt its mode's earlier questions read, as in
    /// the app.
    #[arg(long)]
    pub cold_cache: bool,
    /// Also run automatic mode as a new user meets it: nothing measured
    /// yet, plain speed from the app's short calibration, then learning
    /// from its own answers (one in ten tries another mode).
    #[arg(long)]
    pub auto: bool,
    #[arg(long, default_value_t = DEFAULT_MAX_ANSWER_TOKENS)]
    pub max_tokens: usize,
    #[arg(long, default_value_t = 100)]
    pub step_budget: usize,
    /// Grade answers written elsewhere instead of running models: JSON
    /// lines of {"line", "text", "tokens", "seconds", "cut_off"} (e.g. from
    /// scripts/llama-reference.sh), read and marked exactly as our own.
    #[arg(long, value_name = "FILE")]
    pub grade: Option<PathBuf>,
    /// The row's name for --grade (e.g. "llama.cpp b11434").
    #[arg(long, default_value = "graded")]
    pub grade_label: String,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write a Markdown table to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Also write every answer to this file as it comes, one JSON line
    /// each (mode, question line, text, marked answer, correct or not), to
    /// read the answers themselves; `--grade` reads the file back.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
}

/// One answer as `--answers` writes it: the fields `--grade` reads, and
/// how this run marked it.
#[derive(Serialize)]
struct Saved<'a> {
    mode: &'a str,
    #[serde(flatten)]
    answer: Written,
    expected: &'a str,
    got: Option<&'a str>,
    correct: bool,
    wrong_sums: usize,
}

#[derive(Deserialize)]
struct Problem {
    question: String,
    answer: String,
}

/// One row of the table: a mode (or the draft alone) over all questions.
#[derive(Serialize, Default, Clone)]
pub struct ModeSummary {
    pub label: String,
    pub model: String,
    /// The prompt style, with "+calculator" when the calculator was in the loop.
    pub prompt: String,
    pub questions: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// 95 % Wilson score interval of the accuracy.
    pub accuracy_low: f64,
    pub accuracy_high: f64,
    /// Mean steps (blank-line separated pieces) per answer.
    pub mean_steps: f64,
    /// Mean answer tokens.
    pub mean_tokens: f64,
    /// Answers cut off at the length limit.
    pub cut_off: usize,
    /// Wrong results found in the answers' steps / replaced by the calculator.
    pub wrong_sums: usize,
    pub corrections: usize,
    /// Mean time to the first token of the answer, seconds (models loaded).
    pub time_to_first_token_s: f64,
    /// Seconds to load the models this row needs.
    pub load_s: f64,
    pub generated_tokens: usize,
    pub wall_seconds: f64,
    /// Pooled: all generated tokens / all wall seconds.
    pub tokens_per_s: f64,
    /// Mean of per-answer tokens/s.
    pub mean_answer_tokens_per_s: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub speedup_vs_plain: Option<f64>,
    pub token_acceptance_rate: Option<f64>,
    /// All answer tokens / all of the main model's passes (prompt readings
    /// included): what word drafting gets out of a pass. Greedy answers
    /// make it exact, unlike the speeds: the figure to compare proposers by.
    pub tokens_per_pass: Option<f64>,
    pub step_acceptance_rate: Option<f64>,
    pub mean_batch_size: f64,
    /// Mean judge time per judged step, milliseconds.
    pub judge_ms_per_step: Option<f64>,
    /// Answers in which the slowdown guard switched step speculation off.
    pub guard_stops: usize,
    /// Of those, answers it paused step drafting in from the start (it lost
    /// time in the answers before): no step was proposed.
    pub guard_paused: usize,
}

#[derive(Serialize)]
struct Report {
    machine: String,
    dataset: String,
    rows: Vec<ModeSummary>,
}

fn load_problems(args: &BenchArgs) -> Result<(String, Vec<(usize, Problem)>)> {
    let (name, text) = match &args.dataset {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the dataset {}", path.display()))?,
        ),
        None => ("GSM8K test (100)".to_string(), DEFAULT_DATASET.to_string()),
    };
    let mut problems = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        if !args.only.is_empty() && !args.only.contains(&(n + 1)) {
            continue;
        }
        let problem: Problem = serde_json::from_str(line).with_context(|| {
            format!(
                "line {} of the dataset is not a question/answer object",
                n + 1
            )
        })?;
        problems.push((n + 1, problem));
        if args.only.is_empty() && problems.len() == args.limit {
            break;
        }
    }
    if problems.is_empty() {
        bail!("the dataset has no questions");
    }
    Ok((name, problems))
}

/// The 95 % Wilson score interval for `k` successes out of `n`.
pub fn wilson_interval(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.96f64);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Sums the arithmetic check found wrong in one answer (corrected or not).
fn wrong_sums(answer: &Answer) -> usize {
    answer
        .steps
        .iter()
        .flat_map(|s| &s.arithmetic)
        .filter(|c| !c.correct)
        .count()
}

fn summarise(label: &str, model: &str, prompt: &str, answers: &[(Answer, bool)]) -> ModeSummary {
    let n = answers.len().max(1) as f64;
    let sum = |f: &dyn Fn(&Answer) -> f64| answers.iter().map(|(a, _)| f(a)).sum::<f64>();
    let tokens: usize = answers
        .iter()
        .map(|(a, _)| a.metrics.generated_tokens)
        .sum();
    let wall = sum(&|a| a.metrics.wall_seconds);
    let mean_of = |f: &dyn Fn(&Answer) -> Option<f64>| {
        let values: Vec<f64> = answers.iter().filter_map(|(a, _)| f(a)).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let correct = answers.iter().filter(|(_, ok)| *ok).count();
    let (accuracy_low, accuracy_high) = wilson_interval(correct, answers.len());
    let all_checks = || {
        answers
            .iter()
            .flat_map(|(a, _)| a.steps.iter().flat_map(|s| s.arithmetic.iter()))
    };
    ModeSummary {
        label: label.to_string(),
        model: model.to_string(),
        prompt: prompt.to_string(),
        questions: answers.len(),
        correct,
        accuracy: correct as f64 / n,
        accuracy_low,
        accuracy_high,
        mean_steps: sum(&|a| a.steps.len() as f64) / n,
        mean_tokens: tokens as f64 / n,
        cut_off: answers.iter().filter(|(a, _)| a.cut_off).count(),
        wrong_sums: answers.iter().map(|(a, _)| wrong_sums(a)).sum(),
        corrections: all_checks().filter(|c| c.corrected).count(),
        time_to_first_token_s: sum(&|a| a.metrics.time_to_first_token_s) / n,
        load_s: 0.0,
        generated_tokens: tokens,
        wall_seconds: wall,
        tokens_per_s: if wall > 0.0 {
            tokens as f64 / wall
        } else {
            0.0
        },
        mean_answer_tokens_per_s: sum(&|a| a.metrics.tokens_per_s) / n,
        prefill_tokens_per_s: sum(&|a| a.metrics.prefill_tokens_per_s) / n,
        decode_tokens_per_s: sum(&|a| a.metrics.decode_tokens_per_s) / n,
        speedup_vs_plain: None,
        token_acceptance_rate: mean_of(&|a| a.metrics.token_acceptance_rate),
        tokens_per_pass: {
            let passes: usize = answers.iter().map(|(a, _)| a.metrics.forward_passes).sum();
            (passes > 0).then(|| tokens as f64 / passes as f64)
        },
        step_acceptance_rate: mean_of(&|a| a.metrics.step_acceptance_rate),
        mean_batch_size: sum(&|a| a.metrics.mean_batch_size) / n,
        judge_ms_per_step: {
            let judged: Vec<f64> = answers
                .iter()
                .flat_map(|(a, _)| a.steps.iter().filter_map(|s| s.judge_ms))
                .collect();
            (!judged.is_empty()).then(|| judged.iter().sum::<f64>() / judged.len() as f64)
        },
        guard_stops: answers
            .iter()
            .filter(|(a, _)| a.metrics.guard_stopped)
            .count(),
        guard_paused: answers
            .iter()
            .filter(|(a, _)| a.metrics.step_drafting_paused())
            .count(),
    }
}

/// How each question's mode is chosen.
enum Choice {
    Fixed(Mode),
    /// As the app's automatic mode does, learning from the answers so far.
    Auto,
}

fn run_questions(
    engine: &mut Engine,
    choice: Choice,
    problems: &[(usize, Problem)],
    args: &BenchArgs,
    label: &str,
    log: &mut Option<std::fs::File>,
) -> Result<Vec<(Answer, bool)>> {
    let cancel = CancelFlag::new();
    // Every mode starts from the same cache: nothing cached, then each
    // question finds what this mode's earlier questions left (the system
    // prompt). Without this a later mode found each whole prompt as the
    // first mode had read it, and its time to first token and speed-up
    // left out the prompt's reading.
    engine.forget_cached_prompts();
    let available = engine.available_modes();
    let mut records: Vec<ModeRecord> = Vec::new();
    let mut recent: Vec<(Mode, f64)> = Vec::new();
    let mut out: Vec<(Answer, bool)> = Vec::new();
    for (line, problem) in problems {
        let (mode, exploring) = match choice {
            Choice::Fixed(mode) => (mode, false),
            Choice::Auto => {
                let c = choose_mode(&available, &records);
                (c.mode, c.exploring)
            }
        };
        let options = AskOptions {
            strict_guard: exploring,
            earlier_answers: out
                .iter()
                .rev()
                .take(args.earlier_answers)
                .map(|(a, _)| a.text.clone())
                .collect(),
            ..args
                .judge
                .ask_options(mode, args.max_tokens, args.step_budget)?
        };
        if args.cold_cache {
            engine.forget_cached_prompts();
        }
        let answer = engine.ask(&problem.question, &options, &cancel, &mut |_| {})?;
        if matches!(choice, Choice::Auto) {
            remember(&mut records, &mut recent, &answer);
        }
        let label = match choice {
            Choice::Fixed(_) => label.to_string(),
            Choice::Auto => format!("{label}:{mode}"),
        };
        let ok = answer
            .final_answer
            .as_deref()
            .is_some_and(|got| same_number(got, &problem.answer));
        let wrong_sums = wrong_sums(&answer);
        if let Some(file) = log.as_mut() {
            use std::io::Write;
            let saved = Saved {
                mode: &label,
                answer: Written {
                    line: *line,
                    text: answer.text.clone(),
                    tokens: answer.metrics.generated_tokens,
                    seconds: answer.metrics.wall_seconds,
                    cut_off: answer.cut_off,
                    passes: answer.metrics.forward_passes,
                },
                expected: &problem.answer,
                got: answer.final_answer.as_deref(),
                correct: ok,
                wrong_sums,
            };
            writeln!(file, "{}", serde_json::to_string(&saved)?)
                .context("could not write to the --answers file")?;
        }
        if !args.json {
            eprintln!(
                "  {label:<12} q{:<3} {:>5} tokens {:>6.1} s {:>6.1} tok/s  {}{}{} (expected {}, got {})",
                line,
                answer.metrics.generated_tokens,
                answer.metrics.wall_seconds,
                answer.metrics.tokens_per_s,
                if ok { "correct" } else { "wrong  " },
                if answer.cut_off { " cut" } else { "" },
                match wrong_sums {
                    0 => String::new(),
                    n => format!(" wrong-sums={n}"),
                },
                problem.answer,
                answer.final_answer.as_deref().unwrap_or("-")
            );
        }
        out.push((answer, ok));
    }
    Ok(out)
}

/// Adds an answer to what automatic mode has measured: its answers per
/// mode and the mean speed-up of each mode's five latest, as the app reads
/// them from its history (`Store::speed_by_mode`).
fn remember(records: &mut Vec<ModeRecord>, recent: &mut Vec<(Mode, f64)>, answer: &Answer) {
    const RECENT: usize = 5;
    if let Some(s) = answer.metrics.speedup_estimate {
        recent.push((answer.mode, s));
    }
    let latest: Vec<f64> = recent
        .iter()
        .rev()
        .filter(|(m, _)| *m == answer.mode)
        .take(RECENT)
        .map(|(_, s)| *s)
        .collect();
    let mean_speedup =
        (!latest.is_empty()).then(|| latest.iter().sum::<f64>() / latest.len() as f64);
    match records.iter_mut().find(|r| r.mode == answer.mode) {
        Some(r) => {
            r.answers += 1;
            r.mean_speedup = mean_speedup;
        }
        None => records.push(ModeRecord {
            mode: answer.mode,
            answers: 1,
            mean_speedup,
        }),
    }
}

/// Loads the models, timing each: (engine, target seconds, draft seconds).
fn load_timed(config: &EngineConfig, quiet: bool) -> Result<(Engine, f64, f64)> {
    let mut started = Instant::now();
    let (mut target_s, mut draft_s) = (0.0, 0.0);
    let engine = Engine::load(config, &mut |p| {
        if !p.done {
            started = Instant::now();
            if !quiet {
                eprintln!("loading {} model {} ...", p.role, p.model);
            }
        } else if p.role == "target" {
            target_s = started.elapsed().as_secs_f64();
        } else {
            draft_s = started.elapsed().as_secs_f64();
        }
    })?;
    Ok((engine, target_s, draft_s))
}

/// One answer written by another engine, for --grade (and by
/// `--answers`, in `Saved`).
#[derive(Deserialize, Serialize)]
struct Written {
    /// 1-based line of the dataset the question came from.
    line: usize,
    text: String,
    #[serde(default)]
    tokens: usize,
    #[serde(default)]
    seconds: f64,
    #[serde(default)]
    cut_off: bool,
    /// The main model's passes (0 from another engine).
    #[serde(default)]
    passes: usize,
}

/// An answer another engine wrote, read the way ours are: steps between
/// blank lines (with their sums checked), the marked answer or the
/// concluding paragraph.
fn as_answer(written: &Written, question: &str) -> Answer {
    use lookahead_engine::{parts, AnswerMetrics, AnswerStatus, StepRecord};
    let steps = written
        .text
        .split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .enumerate()
        .map(|(i, s)| {
            let mut step = StepRecord::target_only(i, s.to_string(), 0.0);
            step.arithmetic = lookahead_engine::parts::find_sums(s)
                .into_iter()
                .map(|f| f.check)
                .collect();
            step
        })
        .collect();
    Answer {
        question: question.to_string(),
        final_answer: if written.cut_off {
            parts::marked_answer(&written.text)
        } else {
            parts::extract_final_answer(&written.text)
        },
        cut_off: written.cut_off,
        turns_left_out: 0,
        text: written.text.clone(),
        steps,
        metrics: AnswerMetrics {
            generated_tokens: written.tokens,
            wall_seconds: written.seconds,
            tokens_per_s: if written.seconds > 0.0 {
                written.tokens as f64 / written.seconds
            } else {
                0.0
            },
            forward_passes: written.passes,
            ..AnswerMetrics::default()
        },
        status: AnswerStatus::Complete,
        mode: Mode::Plain,
        draft_model: None,
        target_model: String::new(),
        judge: None,
        gamma: None,
    }
}

/// `bench --grade FILE`: marks answers written elsewhere against the same
/// questions, with the same reading of the answer.
fn grade(args: &BenchArgs, path: &std::path::Path) -> Result<()> {
    let (dataset, problems) = load_problems(&BenchArgs {
        limit: usize::MAX,
        only: Vec::new(),
        ..args.clone()
    })?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut answers = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let written: Written = serde_json::from_str(line)
            .with_context(|| format!("line {} of {} is not an answer", n + 1, path.display()))?;
        let Some((_, problem)) = problems.iter().find(|(l, _)| *l == written.line) else {
            bail!(
                "{}: no question on line {} of the dataset",
                path.display(),
                written.line
            );
        };
        let answer = as_answer(&written, &problem.question);
        let ok = answer
            .final_answer
            .as_deref()
            .is_some_and(|got| same_number(got, &problem.answer));
        answers.push((answer, ok));
        lines.push(written.line);
    }
    let report = Report {
        machine: machine_description(),
        dataset: format!(
            "{dataset}, {} answers graded (lines {})",
            answers.len(),
            compact(&lines)
        ),
        rows: vec![summarise(
            &args.grade_label,
            "",
            &args.judge.prompt.to_string(),
            &answers,
        )],
    };
    let markdown = markdown_table(&report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{markdown}");
    }
    if let Some(out) = &args.markdown {
        std::fs::write(out, &markdown)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// "1–30, 41" from [1, …, 30, 41].
fn compact(lines: &[usize]) -> String {
    let mut n = lines.to_vec();
    n.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < n.len() {
        let mut j = i;
        while j + 1 < n.len() && n[j + 1] == n[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}–{}", n[i], n[j])
        } else {
            n[i].to_string()
        });
        i = j + 1;
    }
    out.join(", ")
}

pub fn run(args: BenchArgs) -> Result<()> {
    if let Some(path) = &args.grade {
        return grade(&args, path);
    }
    // Bad options are reported before seconds of model loading.
    args.judge
        .ask_options(Mode::Plain, args.max_tokens, args.step_budget)?;
    for judge in &args.judges {
        JudgeChoice::parse(judge, args.judge.threshold).map_err(anyhow::Error::msg)?;
    }
    let (dataset, problems) = load_problems(&args)?;
    let mut log = match &args.answers {
        Some(path) => Some(
            std::fs::File::create(path)
                .with_context(|| format!("could not create {}", path.display()))?,
        ),
        None => None,
    };
    let dataset = if args.only.is_empty() {
        format!("{dataset}, first {} questions", problems.len())
    } else {
        let lines: Vec<String> = problems.iter().map(|(n, _)| n.to_string()).collect();
        format!("{dataset}, questions {}", lines.join(", "))
    };
    let prompt = format!(
        "{}{}",
        args.judge.prompt,
        if args.judge.no_calculator {
            ""
        } else {
            "+calculator"
        }
    );
    let mut modes = vec![Mode::Plain];
    modes.extend(args.modes.iter().copied().filter(|m| *m != Mode::Plain));
    if args.no_baseline && modes.len() > 1 {
        modes.remove(0);
    }
    let needs_draft = modes.iter().any(|m| *m != Mode::Plain) || args.with_draft_alone || args.auto;
    let config = engine_config(
        &args.models,
        if needs_draft { Mode::Sd } else { Mode::Plain },
    )?;
    let speculates = modes.iter().any(|m| *m != Mode::Plain);
    let started = Instant::now();
    let (mut engine, target_load_s, draft_load_s) = load_timed(
        &EngineConfig {
            draft: config.draft.clone().filter(|_| speculates || args.auto),
            draft_server: config
                .draft_server
                .clone()
                .filter(|_| speculates || args.auto),
            ..config.clone()
        },
        args.json,
    )?;

    let mut rows = Vec::new();
    let mut plain_speed = None;
    for (mode, judge) in runs(&modes, &args.judges) {
        // One row per judge of a sweep, named after it.
        let (label, run_args) = match judge {
            None => (mode.to_string(), args.clone()),
            Some(judge) => {
                let run_args = BenchArgs {
                    judge: JudgeArgs {
                        judge: judge.to_string(),
                        ..args.judge.clone()
                    },
                    ..args.clone()
                };
                let name = run_args.judge.choice()?.label();
                (format!("{mode} {name}"), run_args)
            }
        };
        let answers = run_questions(
            &mut engine,
            Choice::Fixed(mode),
            &problems,
            &run_args,
            &label,
            &mut log,
        )?;
        let mut row = summarise(&label, engine.target_name(), &prompt, &answers);
        // Word drafting from the text needs no helper model.
        let needs_draft =
            mode.uses_step_speculation() || (mode == Mode::Sd && args.judge.sd_with_draft());
        row.load_s = target_load_s + if needs_draft { draft_load_s } else { 0.0 };
        if mode == Mode::Plain {
            plain_speed = Some(row.tokens_per_s);
        } else if let Some(plain) = plain_speed.filter(|s| *s > 0.0) {
            row.speedup_vs_plain = Some(row.tokens_per_s / plain);
        }
        rows.push(row);
    }
    if args.auto {
        // A fresh profile: the app measures plain speed once at start.
        let calibration = Instant::now();
        engine.measure_plain_speed(&CancelFlag::new())?;
        let calibration_s = calibration.elapsed().as_secs_f64();
        let answers = run_questions(
            &mut engine,
            Choice::Auto,
            &problems,
            &args,
            "auto",
            &mut log,
        )?;
        let mut used: Vec<(Mode, usize)> = Vec::new();
        for (a, _) in &answers {
            match used.iter_mut().find(|(m, _)| *m == a.mode) {
                Some((_, n)) => *n += 1,
                None => used.push((a.mode, 1)),
            }
        }
        let label = format!(
            "auto ({})",
            used.iter()
                .map(|(m, n)| format!("{m} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut row = summarise(&label, engine.target_name(), &prompt, &answers);
        row.load_s = target_load_s + calibration_s;
        if let Some(plain) = plain_speed.filter(|s| *s > 0.0) {
            row.speedup_vs_plain = Some(row.tokens_per_s / plain);
        }
        rows.push(row);
    }
    drop(engine);
    if args.with_draft_alone {
        if let Some(draft) = &config.draft {
            let (mut draft_engine, load_s, _) = load_timed(
                &EngineConfig {
                    backend: args.models.backend,
                    ..EngineConfig::new(draft.clone(), None)
                },
                args.json,
            )?;
            let answers = run_questions(
                &mut draft_engine,
                Choice::Fixed(Mode::Plain),
                &problems,
                &args,
                "draft alone",
                &mut log,
            )?;
            let mut row = summarise("draft alone", draft_engine.target_name(), &prompt, &answers);
            row.load_s = load_s;
            if let Some(plain) = plain_speed.filter(|s| *s > 0.0) {
                row.speedup_vs_plain = Some(row.tokens_per_s / plain);
            }
            rows.push(row);
        }
    }

    let report = Report {
        machine: machine_description(),
        dataset,
        rows,
    };
    let markdown = markdown_table(&report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{markdown}");
        eprintln!("bench took {:.0} s", started.elapsed().as_secs_f64());
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The bench's runs in order: each mode once, except that with a judge
/// sweep the step modes run once per judge.
fn runs<'a>(modes: &[Mode], judges: &'a [String]) -> Vec<(Mode, Option<&'a str>)> {
    modes
        .iter()
        .flat_map(|mode| {
            if mode.uses_step_speculation() && !judges.is_empty() {
                judges.iter().map(|j| (*mode, Some(j.as_str()))).collect()
            } else {
                vec![(*mode, None)]
            }
        })
        .collect()
}

fn opt(value: Option<f64>, scale: f64, suffix: &str) -> String {
    value.map_or("–".to_string(), |v| format!("{:.2}{suffix}", v * scale))
}

fn markdown_table(report: &Report) -> String {
    let mut out = format!(
        "Machine: {}\nDataset: {}\n\n| mode | model | prompt | accuracy (95% interval) | mean tokens | mean steps | cut off | wrong sums / corrected | tokens/s (pooled) | load s | first token s | prefill tok/s | decode tok/s | speed-up vs plain | token acceptance | tokens a pass | step acceptance | mean batch | judge ms/step | guard stops |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        report.machine, report.dataset
    );
    for r in &report.rows {
        out.push_str(&format!(
            "| {} | {} | {} | {}/{} ({:.0}%; {:.0}–{:.0}%) | {:.0} | {:.1} | {} | {} / {} | {:.2} | {:.1} | {:.2} | {:.1} | {:.2} | {} | {} | {} | {} | {:.2} | {} | {} |\n",
            r.label,
            r.model,
            r.prompt,
            r.correct,
            r.questions,
            r.accuracy * 100.0,
            r.accuracy_low * 100.0,
            r.accuracy_high * 100.0,
            r.mean_tokens,
            r.mean_steps,
            r.cut_off,
            r.wrong_sums,
            r.corrections,
            r.tokens_per_s,
            r.load_s,
            r.time_to_first_token_s,
            r.prefill_tokens_per_s,
            r.decode_tokens_per_s,
            opt(r.speedup_vs_plain, 1.0, "×"),
            opt(r.token_acceptance_rate, 100.0, "%"),
            opt(r.tokens_per_pass, 1.0, ""),
            opt(r.step_acceptance_rate, 100.0, "%"),
            r.mean_batch_size,
            r.judge_ms_per_step
                .map_or("–".to_string(), |ms| format!("{ms:.0}")),
            if r.label.starts_with("auto")
                || r.label
                    .parse::<Mode>()
                    .is_ok_and(|m| m.uses_step_speculation())
            {
                match r.guard_paused {
                    0 => format!("{}/{}", r.guard_stops, r.questions),
                    paused => format!("{}/{} ({paused} paused)", r.guard_stops, r.questions),
                }
            } else {
                "–".to_string()
            }
        ));
    }
    out
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpu}, {threads} threads, {}, executor kernels {}",
        std::env::consts::OS,
        lookahead_engine::kernels_in_use()
    )
}

#[cfg(test)]
mod tests {
    use super::{runs, wilson_interval};
    use lookahead_engine::Mode;

    #[test]
    fn a_judge_sweep_runs_the_step_modes_once_per_judge_and_the_others_once() {
        let judges = ["embed@0.85".to_string(), "llm:target".to_string()];
        let modes = [Mode::Plain, Mode::Sd, Mode::SdLr, Mode::Lr];
        assert_eq!(
            runs(&modes, &judges),
            vec![
                (Mode::Plain, None),
                (Mode::Sd, None),
                (Mode::SdLr, Some("embed@0.85")),
                (Mode::SdLr, Some("llm:target")),
                (Mode::Lr, Some("embed@0.85")),
                (Mode::Lr, Some("llm:target")),
            ]
        );
        assert_eq!(
            runs(&modes[..3], &[]),
            vec![(Mode::Plain, None), (Mode::Sd, None), (Mode::SdLr, None)]
        );
    }

    #[test]
    fn wilson_interval_matches_the_textbook_values() {
        // 17/30: 0.392–0.726 (Wilson, z = 1.96).
        let (low, high) = wilson_interval(17, 30);
        assert!((low - 0.392).abs() < 0.001, "{low}");
        assert!((high - 0.726).abs() < 0.001, "{high}");
        assert_eq!(wilson_interval(0, 0), (0.0, 0.0));
        let (low, high) = wilson_interval(10, 10);
        assert!(high <= 1.0 && low > 0.69, "{low} {high}");
    }
}
