//! The `lookahead` binary end to end, on the tiny test model (fetched by the
//! test setup, `lookahead models fetch --tiny`; a missing model fails).

#[path = "../../engine/tests/support/llama_server.rs"]
mod llama_server;

use std::path::PathBuf;
use std::process::{Command, Output};

use lookahead_models::{self as models, Role};

fn tiny() -> PathBuf {
    models::fetched(Role::Tiny).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `lookahead` with its history in a fresh folder.
fn lookahead(args: &[&str]) -> (Output, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_lookahead"))
        .args(args)
        .env("LOOKAHEAD_DATA_DIR", data.path())
        // The models stay where the setup put them.
        .env("LOOKAHEAD_MODELS_DIR", models::models_dir())
        .output()
        .expect("lookahead runs");
    (out, data)
}

fn ask_json(extra: &[&str]) -> serde_json::Value {
    let model = tiny();
    let model = model.to_str().expect("utf-8 path");
    let mut args = vec![
        "ask",
        "Tom has 3 apples and buys 4 more. How many apples does he have?",
        "--target",
        model,
        "--draft",
        model,
        "--engine",
        "executor",
        "--max-tokens",
        "48",
        "--json",
        "--no-save",
    ];
    args.extend_from_slice(extra);
    let (out, _data) = lookahead(&args);
    assert!(
        out.status.success(),
        "lookahead ask failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

#[test]
fn sd_reports_real_acceptance_with_either_proposer() {
    let plain = ask_json(&["--mode", "plain"]);
    for proposer in ["draft", "ngram"] {
        let sd = ask_json(&["--mode", "sd", "--proposer", proposer]);
        let m = &sd["metrics"];
        let drafted = m["drafted_tokens"]
            .as_u64()
            .expect("drafted tokens counted");
        let accepted = m["accepted_tokens"]
            .as_u64()
            .expect("accepted tokens counted");
        assert!(accepted <= drafted, "{proposer}: {m}");
        let rate = m["token_acceptance_rate"].as_f64().expect("a rate");
        assert!(
            (rate - accepted as f64 / drafted as f64).abs() < 1e-9,
            "{m}"
        );
        // Greedy speculation is lossless: the same text as plain decoding.
        assert_eq!(sd["text"], plain["text"], "{proposer}");
        if proposer == "draft" {
            // The draft is the target itself, so it guesses nearly every
            // token right: it reads one token a pass where the target checks
            // several at once, and sums taken in another order can turn a
            // near-tie (one token in 41 with the default prompt's answer).
            assert!(drafted > 0 && accepted * 10 >= drafted * 9, "{m}");
        }
    }
}

#[test]
fn an_unknown_proposer_is_refused_in_plain_words() {
    let model = tiny();
    let (out, _data) = lookahead(&[
        "ask",
        "What is 2 + 2?",
        "--target",
        model.to_str().expect("utf-8 path"),
        "--mode",
        "sd",
        "--proposer",
        "crystal-ball",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown proposer \"crystal-ball\" (expected ngram, draft)"),
        "{err}"
    );
}

#[test]
fn bad_options_and_empty_questions_are_refused_before_loading() {
    for (args, says) in [
        (vec!["ask", "q", "--temperature", "NaN"], "temperature"),
        (vec!["ask", "q", "--max-tokens", "0"], "answer length limit"),
        (
            vec!["ask", "q", "--max-tokens", "100000"],
            "answer length limit",
        ),
        (vec!["ask", "   "], "type a question"),
        (
            vec!["bench", "--answers", "/no-such-folder/answers.jsonl"],
            "could not create /no-such-folder/answers.jsonl",
        ),
        (
            vec![
                "bench",
                "--modes",
                "lr",
                "--judges",
                "embed@0.90,embed@high",
            ],
            "\"high\" is not a threshold",
        ),
        (
            vec!["bench", "--modes", "lr", "--judges", "llm:target,coin"],
            "unknown judge \"coin\"",
        ),
    ] {
        // A target that does not exist: refusing must come before loading.
        let mut args = args.clone();
        args.extend(["--target", "/nonexistent/model.gguf"]);
        let (out, _data) = lookahead(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("nonexistent"), "{args:?} loaded first: {err}");
    }
}

#[test]
fn a_follow_up_is_saved_in_the_same_conversation_and_sees_it() {
    let model = tiny();
    let model = model.to_str().expect("utf-8 path");
    let data = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lookahead"))
            .args(args)
            .args(["--target", model, "--max-tokens", "24", "--json"])
            .env("LOOKAHEAD_DATA_DIR", data.path())
            .env("LOOKAHEAD_MODELS_DIR", models::models_dir())
            .output()
            .expect("lookahead runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let first = run(&["ask", "My name is Ada. Say hello."]);
    let id = first["conversation_id"].as_i64().expect("saved");
    let second = run(&["ask", "--continue", "What is my name?"]);
    assert_eq!(second["conversation_id"].as_i64(), Some(id));
    // The follow-up's prompt held the first exchange: more prompt tokens
    // than the first question's.
    let tokens = |v: &serde_json::Value| v["metrics"]["prompt_tokens"].as_u64().expect("tokens");
    assert!(tokens(&second) > tokens(&first) + 5, "{first}\n{second}");
    let third = run(&["ask", "--conversation", &id.to_string(), "And again?"]);
    assert_eq!(third["conversation_id"].as_i64(), Some(id));
    assert!(tokens(&third) > tokens(&second));

    // Another program holds the history's write lock: the follow-up cannot
    // be saved, but it still reads its conversation and answers from it.
    let db = data.path().join("history.sqlite");
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
             c.execute('BEGIN IMMEDIATE')\n\
             print('locked', flush=True)\n\
             time.sleep(60)",
        ])
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut said = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().expect("stdout")),
        &mut said,
    )
    .expect("the lock holder says when it holds the lock");
    assert_eq!(said.trim(), "locked");
    let out = Command::new(env!("CARGO_BIN_EXE_lookahead"))
        .args(["ask", "--continue", "And my name again?"])
        .args(["--target", model, "--max-tokens", "8", "--json"])
        .env("LOOKAHEAD_DATA_DIR", data.path())
        .env("LOOKAHEAD_MODELS_DIR", models::models_dir())
        .output()
        .expect("lookahead runs");
    let _ = holder.kill();
    let _ = holder.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("will be shown but not saved"), "{err}");
    let locked: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        tokens(&locked) > tokens(&first) + 5,
        "the unsaved follow-up still saw the conversation: {locked}"
    );
    // Both are in the history, in one conversation of six messages.
    let out = Command::new(env!("CARGO_BIN_EXE_lookahead"))
        .args(["history", "show", &id.to_string()])
        .env("LOOKAHEAD_DATA_DIR", data.path())
        .output()
        .expect("history runs");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("What is my name?") && shown.contains("And again?"),
        "{shown}"
    );
}

/// Runs `lookahead` with its history in `data`.
fn lookahead_in(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lookahead"))
        .args(args)
        .env("LOOKAHEAD_DATA_DIR", data)
        .env("LOOKAHEAD_MODELS_DIR", models::models_dir())
        .output()
        .expect("lookahead runs")
}

/// Starts `lookahead ask` on a long answer with its history in `data`, and
/// returns it once it has written some of the answer (and what it wrote).
fn a_long_answer_under_way(
    data: &std::path::Path,
    question: &str,
    stderr: std::process::Stdio,
) -> (std::process::Child, std::process::ChildStdout, Vec<u8>) {
    use std::io::Read;
    let model = tiny();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lookahead"))
        .args(["ask", question, "--target", model.to_str().expect("utf-8")])
        .args(["--mode", "plain", "--max-tokens", "2000"])
        .env("LOOKAHEAD_DATA_DIR", data)
        .env("LOOKAHEAD_MODELS_DIR", models::models_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("lookahead starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 64];
    while seen.len() < 40 {
        let n = stdout.read(&mut buf).expect("read");
        assert!(n > 0, "the answer ended before it could be stopped");
        seen.extend_from_slice(&buf[..n]);
    }
    (child, stdout, seen)
}

/// Issue 14 (M4): Ctrl-C stops the answer, and the question and what was
/// written so far are in the history.
#[test]
fn ctrl_c_keeps_the_question_and_what_was_written() {
    use std::io::Read;
    let data = tempfile::tempdir().expect("temp dir");
    let question = "Count from 1 to 400, one number per line.";
    let (child, mut stdout, seen) =
        a_long_answer_under_way(data.path(), question, std::process::Stdio::piped());
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let out = child.wait_with_output().expect("lookahead ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("Stopped"), "{err}");

    let shown = lookahead_in(data.path(), &["history", "show", "1"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains(question), "{shown}");
    assert!(shown.contains("Status: cancelled"), "{shown}");
    let written = String::from_utf8_lossy(&seen);
    let first_line = written.lines().next().unwrap_or_default().trim();
    assert!(
        !first_line.is_empty() && shown.contains(first_line),
        "what was shown ({first_line:?}) is saved:\n{shown}"
    );
}

/// Issue 14 (M4, H2): a damaged history does not cost the answer (it is
/// printed, then the save error reported), and `history reset` moves the
/// file aside so the history works again.
#[test]
fn a_damaged_history_costs_no_answer_and_can_be_reset() {
    let model = tiny();
    let model = model.to_str().expect("utf-8 path");
    let data = tempfile::tempdir().expect("temp dir");
    let history = data.path().join("history.sqlite");
    std::fs::write(&history, b"this is not a database, it is a shopping list").unwrap();

    let out = lookahead_in(
        data.path(),
        &[
            "ask",
            "What is 2 + 2?",
            "--target",
            model,
            "--max-tokens",
            "16",
            "--json",
        ],
    );
    assert!(!out.status.success(), "a save failure is reported");
    let answer: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the answer is printed anyway");
    assert!(
        answer["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{answer}"
    );
    assert_eq!(answer["conversation_id"], serde_json::Value::Null);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("will be shown but not saved") && err.contains("damaged"),
        "{err}"
    );

    let list = lookahead_in(data.path(), &["history", "list"]);
    assert!(!list.status.success());
    let reset = lookahead_in(data.path(), &["history", "reset"]);
    let said = String::from_utf8_lossy(&reset.stdout);
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert!(
        said.contains("moved to") && said.contains("nothing was deleted"),
        "{said}"
    );
    let kept = std::fs::read_dir(data.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .expect("the damaged file is kept");
    assert_eq!(
        std::fs::read(kept.path()).unwrap(),
        b"this is not a database, it is a shopping list"
    );
    let list = lookahead_in(data.path(), &["history", "list"]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
}

/// Issue 14 (L2): text from the history cannot drive the terminal.
#[test]
fn terminal_escape_sequences_in_the_history_are_shown_not_obeyed() {
    let model = tiny();
    let data = tempfile::tempdir().expect("temp dir");
    let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[31mRed question\u{1b}[0m: what is 1 + 1?";
    let out = lookahead_in(
        data.path(),
        &[
            "ask",
            hostile,
            "--target",
            model.to_str().expect("utf-8"),
            "--max-tokens",
            "8",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for args in [
        vec!["history", "list"],
        vec!["history", "show", "1"],
        vec!["history", "search", "question"],
    ] {
        let out = lookahead_in(data.path(), &args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{args:?}: {text:?}"
        );
        assert!(
            text.contains("Red question") || args[1] == "search",
            "{args:?}: {text}"
        );
    }
}

/// Issue 11: answers written by another engine (llama.cpp's server, by
/// scripts/llama-reference.sh) are graded exactly as ours.
#[test]
fn bench_grades_answers_written_elsewhere_as_its_own() {
    let first: serde_json::Value = serde_json::from_str(
        include_str!("../data/gsm8k_test_100.jsonl")
            .lines()
            .next()
            .expect("a question"),
    )
    .expect("json");
    let right = first["answer"].as_str().expect("answer").trim().to_string();
    let data = tempfile::tempdir().expect("temp dir");
    let answers = data.path().join("answers.jsonl");
    let lines = [
        serde_json::json!({"line": 1, "text": format!("Step one.\n\nSo 3 + 4 = 8.\n\nThe answer is \\boxed{{{right}}}."), "tokens": 30, "seconds": 3.0}),
        serde_json::json!({"line": 2, "text": "I think it is \\boxed{123456789}.", "tokens": 10, "seconds": 1.0}),
        serde_json::json!({"line": 3, "text": "Cut before the end: 5 + 5 =", "tokens": 1024, "seconds": 90.0, "cut_off": true}),
    ];
    std::fs::write(
        &answers,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let out = lookahead_in(
        data.path(),
        &[
            "bench",
            "--grade",
            answers.to_str().unwrap(),
            "--grade-label",
            "other engine",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = &report["rows"][0];
    assert_eq!(row["label"], "other engine");
    assert_eq!(
        (row["correct"].as_u64(), row["questions"].as_u64()),
        (Some(1), Some(3)),
        "{row}"
    );
    assert_eq!(row["cut_off"], 1);
    assert_eq!(row["wrong_sums"], 1, "3 + 4 = 8 is found: {row}");
    assert!(
        report["dataset"].as_str().unwrap().contains("lines 1–3"),
        "{report}"
    );
}

/// Runs `lookahead bench ARGS --answers FILE --json` with its history in
/// `data`: the report, and the answers it wrote, one JSON object a line.
fn bench_with_answers(
    data: &std::path::Path,
    args: &[&str],
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let answers = data.join("answers.jsonl");
    let mut args = args.to_vec();
    args.extend(["--answers", answers.to_str().expect("utf-8 path"), "--json"]);
    let out = lookahead_in(data, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = serde_json::from_slice(&out.stdout).expect("json");
    let written = std::fs::read_to_string(&answers).expect("answers file");
    let saved = written
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    (report, saved)
}

/// `bench --judges` sweeps the step modes' judge in one run: a row per
/// judge, named after it, each with its own answers; the other modes once.
#[test]
fn bench_sweeps_the_judges_of_the_step_modes_in_one_run() {
    let model = tiny();
    let model = model.to_str().expect("utf-8 path");
    let data = tempfile::tempdir().expect("temp dir");
    let (ran, saved) = bench_with_answers(
        data.path(),
        &[
            "bench",
            "--target",
            model,
            "--draft",
            model,
            "--engine",
            "executor",
            "--modes",
            "sd,lr",
            "--judges",
            "exact,llm:target",
            "--no-guard",
            "--limit",
            "1",
            "--max-tokens",
            "24",
        ],
    );
    let labels: Vec<&str> = ran["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels, ["plain", "sd", "lr exact", "lr llm:target"]);
    let modes: Vec<&str> = saved.iter().map(|a| a["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, labels);
    for row in &ran["rows"].as_array().expect("rows")[2..] {
        assert!(row["generated_tokens"].as_u64().unwrap() > 0, "{row}");
    }
}

/// `bench --answers` writes each answer as it comes, and `--grade` reads
/// the file back to the same marks.
#[test]
fn bench_writes_its_answers_and_grades_them_back_alike() {
    let model = tiny();
    let data = tempfile::tempdir().expect("temp dir");
    let (ran, saved) = bench_with_answers(
        data.path(),
        &[
            "bench",
            "--target",
            model.to_str().expect("utf-8 path"),
            "--limit",
            "2",
            "--max-tokens",
            "12",
        ],
    );
    assert_eq!(saved.len(), 2, "{saved:?}");
    for (n, answer) in saved.iter().enumerate() {
        assert_eq!(answer["mode"], "plain");
        assert_eq!(answer["line"], n + 1);
        assert!(!answer["text"].as_str().unwrap().is_empty(), "{answer}");
        assert!(answer["tokens"].as_u64().unwrap() > 0, "{answer}");
        assert!(answer["expected"].is_string(), "{answer}");
    }
    let answers = data.path().join("answers.jsonl");
    let graded = lookahead_in(
        data.path(),
        &["bench", "--grade", answers.to_str().unwrap(), "--json"],
    );
    assert!(
        graded.status.success(),
        "{}",
        String::from_utf8_lossy(&graded.stderr)
    );
    let graded: serde_json::Value = serde_json::from_slice(&graded.stdout).expect("json");
    for field in [
        "questions",
        "correct",
        "cut_off",
        "wrong_sums",
        "mean_tokens",
    ] {
        assert_eq!(
            graded["rows"][0][field], ran["rows"][0][field],
            "{field}: {graded} against {ran}"
        );
    }
}

/// Issue 14 (M4): a process killed mid-answer (SIGKILL: nothing can be
/// saved then) still leaves the question in the history, its answer marked
/// interrupted.
#[test]
fn a_killed_answer_keeps_its_question() {
    let data = tempfile::tempdir().expect("temp dir");
    let question = "Count from 1 to 400, one number per line.";
    let (mut child, _stdout, _) =
        a_long_answer_under_way(data.path(), question, std::process::Stdio::null());
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let shown = lookahead_in(data.path(), &["history", "show", "1"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains(question), "{shown}");
    assert!(
        shown.contains("Status: in_progress") || shown.contains("Status: interrupted"),
        "{shown}"
    );
}

/// Issue 17: `lookahead ask --mode lr --target-server URL --json` answers
/// with per-step verdicts from a real llama-server (the tiny model drafts
/// and checks, both on the server), and records where the model ran.
#[test]
fn step_drafting_runs_on_a_real_server_from_the_command_line() {
    let server = llama_server::Server::start();
    let (out, _data) = lookahead(&[
        "ask",
        "List three colours, one per paragraph.",
        "--mode",
        "lr",
        "--judge",
        "exact",
        "--target-server",
        &server.url,
        "--draft-server",
        &server.url,
        "--max-tokens",
        "200",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "lookahead ask failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(answer["mode"], "lr");
    assert!(
        answer["target_model"]
            .as_str()
            .is_some_and(|t| t.contains(&server.url)),
        "{}",
        answer["target_model"]
    );
    let steps = answer["steps"].as_array().expect("steps");
    assert!(steps.len() >= 2, "{steps:?}");
    let verdicts: Vec<&str> = steps.iter().filter_map(|s| s["verdict"].as_str()).collect();
    assert!(
        verdicts.iter().any(|v| *v != "target_only"),
        "some drafted step was judged: {verdicts:?}"
    );
    // Word drafting needs the main model on this computer: refused in words.
    let (out, _data) = lookahead(&[
        "ask",
        "Hi",
        "--mode",
        "sd",
        "--proposer",
        "ngram",
        "--target-server",
        &server.url,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("on this computer"), "{err}");
}
