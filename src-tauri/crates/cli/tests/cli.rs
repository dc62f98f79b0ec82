//! The `lookahead` binary end to end, on the tiny test model (fetched by the
//! test setup, `lookahead models fetch --tiny`; a missing model fails).

use std::path::PathBuf;
use std::process::{Command, Output};

use lookahead_engine::models::{self, Role};

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
            // The draft is the target itself: it guesses every token right.
            assert!(drafted > 0 && accepted == drafted, "{m}");
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
        err.contains("unknown proposer \"crystal-ball\" (expected draft or ngram)"),
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
