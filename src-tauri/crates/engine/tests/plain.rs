//! Plain decoding on a real model (SmolLM2-135M through mistral.rs) and the
//! plain-language errors for bad input. The model is fetched by the test
//! setup (`lookahead models fetch --tiny`); a missing model fails the test.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use lookahead_engine::models::{self, Role};
use lookahead_engine::{
    AnswerEvent, AnswerStatus, AskOptions, CancelFlag, Engine, EngineConfig, EngineError, Mode,
};

fn model_path(role: Role) -> PathBuf {
    models::fetched(role).unwrap_or_else(|e| panic!("{e}"))
}

fn tiny() -> PathBuf {
    model_path(Role::Tiny)
}

/// One loaded engine shared by the tests in this file (loading takes seconds).
fn engine() -> MutexGuard<'static, Engine> {
    static ENGINE: OnceLock<Mutex<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let config = EngineConfig::new(tiny(), None);
            Mutex::new(Engine::load(&config, &mut |_| {}).expect("SmolLM2 loads"))
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const QUESTION: &str =
    "Tom has 3 boxes with 4 apples each. He eats 2 apples. How many apples are left?";

fn short_options() -> AskOptions {
    AskOptions {
        mode: Mode::Plain,
        max_answer_tokens: 60,
        step_token_budget: 30,
        ..AskOptions::default()
    }
}

#[test]
fn greedy_answers_are_reproducible() {
    let mut engine = engine();
    let cancel = CancelFlag::new();
    let a = engine
        .ask(QUESTION, &short_options(), &cancel, &mut |_| {})
        .expect("first answer");
    let b = engine
        .ask(QUESTION, &short_options(), &cancel, &mut |_| {})
        .expect("second answer");
    assert!(!a.text.is_empty(), "the model wrote nothing");
    assert_eq!(a.text, b.text);
    assert_eq!(a.status, AnswerStatus::Complete);
}

#[test]
fn streamed_pieces_join_to_the_answer_and_metrics_add_up() {
    let mut engine = engine();
    let cancel = CancelFlag::new();
    let mut pieces = String::new();
    let mut step_texts = String::new();
    let mut done = None;
    let answer = engine
        .ask(
            QUESTION,
            &short_options(),
            &cancel,
            &mut |event| match event {
                AnswerEvent::Token { text } => pieces.push_str(&text),
                AnswerEvent::Step { step } => step_texts.push_str(&step.text),
                AnswerEvent::Done { answer } => done = Some(answer),
            },
        )
        .expect("answer");
    assert_eq!(pieces.trim_end(), answer.text);
    assert_eq!(step_texts.trim_end(), answer.text);
    assert_eq!(done.map(|d| d.text), Some(answer.text.clone()));

    let m = &answer.metrics;
    assert!(m.prompt_tokens > 20, "prompt tokens: {}", m.prompt_tokens);
    assert!(m.generated_tokens > 0 && m.generated_tokens <= 60 + answer.steps.len());
    assert!(m.wall_seconds > 0.0);
    assert!(m.time_to_first_token_s > 0.0 && m.time_to_first_token_s <= m.wall_seconds);
    assert!(m.decode_tokens_per_s > 0.0 && m.prefill_tokens_per_s > 0.0);
    let pooled = m.generated_tokens as f64 / m.wall_seconds;
    assert!((m.tokens_per_s - pooled).abs() < 1e-6);
    // Plain decoding has no speculation figures.
    assert_eq!(m.drafted_tokens, None);
    assert_eq!(m.step_acceptance_rate, None);
}

#[test]
fn cancel_mid_answer_returns_what_was_written() {
    let mut engine = engine();
    let cancel = CancelFlag::new();
    let mut tokens_seen = 0;
    let mut shown = String::new();
    let options = AskOptions {
        max_answer_tokens: 400,
        ..short_options()
    };
    let started = std::time::Instant::now();
    let answer = engine
        .ask(QUESTION, &options, &cancel, &mut |event| {
            if let AnswerEvent::Token { text } = event {
                shown.push_str(&text);
                // Plain text streams token by token: stop after the first.
                tokens_seen += 1;
                if tokens_seen == 1 {
                    cancel.cancel();
                }
            }
        })
        .expect("a cancelled answer is still an answer");
    assert_eq!(answer.status, AnswerStatus::Cancelled);
    assert!(
        answer.metrics.generated_tokens < 20,
        "kept generating after cancel: {} tokens",
        answer.metrics.generated_tokens
    );
    // Nothing the reader saw is lost.
    assert!(!shown.is_empty());
    assert_eq!(answer.text, shown.trim_end());
    assert!(started.elapsed().as_secs() < 60);
}

#[test]
fn empty_and_overlong_questions_are_refused_in_plain_words() {
    let mut engine = engine();
    let cancel = CancelFlag::new();
    let empty = engine
        .ask("   \n", &short_options(), &cancel, &mut |_| {})
        .expect_err("empty question");
    assert!(matches!(empty, EngineError::EmptyPrompt));
    assert!(empty.user_message().contains("type a question"));

    let huge = "How many apples? ".repeat(3000);
    let long = engine
        .ask(&huge, &short_options(), &cancel, &mut |_| {})
        .expect_err("overlong question");
    match &long {
        EngineError::PromptTooLong { tokens, limit } => assert!(tokens > limit),
        other => panic!("expected PromptTooLong, got {other:?}"),
    }
    assert!(long.user_message().contains("too long"));
}

#[test]
fn a_missing_model_file_is_named() {
    let config = EngineConfig::new(PathBuf::from("/nonexistent/model.gguf"), None);
    let err = Engine::load(&config, &mut |_| {}).err().expect("must fail");
    assert!(matches!(err, EngineError::ModelMissing { .. }), "{err:?}");
    assert!(err.user_message().contains("/nonexistent/model.gguf"));
}

#[test]
fn a_truncated_model_file_is_called_damaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cut = dir.path().join("cut.gguf");
    let bytes = std::fs::read(tiny()).expect("read tiny model");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let config = EngineConfig::new(cut, None);
    let err = Engine::load(&config, &mut |_| {}).err().expect("must fail");
    assert!(matches!(err, EngineError::ModelCorrupt { .. }), "{err:?}");
    assert!(err.user_message().contains("damaged"));

    let garbage = dir.path().join("garbage.gguf");
    std::fs::write(&garbage, b"this is not a model").expect("write");
    let err = Engine::load(&EngineConfig::new(garbage, None), &mut |_| {})
        .err()
        .expect("must fail");
    assert!(matches!(err, EngineError::ModelCorrupt { .. }), "{err:?}");
}

#[test]
fn models_with_different_tokenizers_cannot_pair() {
    let config = EngineConfig::new(model_path(Role::Target), Some(tiny()));
    let err = Engine::load(&config, &mut |_| {}).err().expect("must fail");
    match &err {
        EngineError::TokenizerMismatch { draft, target, .. } => {
            assert!(draft.contains("SmolLM2"));
            assert!(target.contains("qwen2.5-coder-1.5b"));
        }
        other => panic!("expected TokenizerMismatch, got {other:?}"),
    }
    assert!(err.user_message().contains("same vocabulary"));
}
