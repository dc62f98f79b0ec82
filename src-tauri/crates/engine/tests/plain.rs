//! Plain decoding on a real model (SmolLM2-135M through mistral.rs) and the
//! plain-language errors for bad input. The model is fetched by the test
//! setup (`lookahead models fetch --tiny`); a missing model fails the test.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use lookahead_engine::HISTORY_TOKEN_BUDGET;
use lookahead_engine::{
    AnswerEvent, AnswerStatus, AskOptions, CancelFlag, ChatTurn, Engine, EngineConfig, EngineError,
    Mode, PromptStyle,
};
use lookahead_models::{self as models, Role};

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
                AnswerEvent::Stage { .. } => {}
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

    // An answer limit as large as the model's whole context leaves room
    // for no question: that limit is named, not "at most 0 fit".
    let greedy = AskOptions {
        max_answer_tokens: 32_000,
        ..short_options()
    };
    let err = engine
        .ask("What is 2 + 2?", &greedy, &cancel, &mut |_| {})
        .expect_err("no room");
    assert!(matches!(err, EngineError::InvalidOptions(_)), "{err:?}");
    assert!(
        err.user_message()
            .contains("leaves no room for the question"),
        "{}",
        err.user_message()
    );
}

#[test]
fn a_follow_up_carries_the_conversation_in_the_models_own_template() {
    let mut engine = engine();
    let history = vec![
        ChatTurn::user("My budget is £1,200."),
        ChatTurn::assistant("Noted: £1,200."),
    ];
    let prompt = engine
        .prepare_prompt(&history, "And if it were £1,500?", &short_options())
        .expect("prompt");
    let text = prompt.text();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from {text:?}"))
    };
    assert!(at("My budget is £1,200.") < at("Noted: £1,200."));
    assert!(at("Noted: £1,200.") < at("And if it were £1,500?"));
    assert_eq!(prompt.turns_left_out, 0);
    // The default prompt: the reasoning instruction is the system turn,
    // first (SmolLM2's BOS is "<|im_start|>", which the tokenizer adds).
    let system = format!(
        "system\n{}<|im_end|>",
        lookahead_engine::parts::STANDARD_INSTRUCTION
    );
    assert!(text.starts_with(&system), "{text}");
    assert!(text.ends_with("<|im_start|>assistant\n"), "{text}");
    // SmolLM2's own template (its default system prompt where the prompt
    // sets none), not a fixed one.
    let standard = AskOptions {
        prompt: PromptStyle::Standard,
        ..short_options()
    };
    let text = engine
        .prepare_prompt(&history, "And if it were £1,500?", &standard)
        .expect("prompt")
        .text()
        .to_string();
    assert!(text.contains("SmolLM"), "{text}");

    // A long chat: the oldest exchanges go first, whole, until it fits.
    let long = "word ".repeat(1400);
    let history: Vec<ChatTurn> = (0..4)
        .flat_map(|i| {
            [
                ChatTurn::user(format!("Question {i}: {long}")),
                ChatTurn::assistant(format!("Answer {i}.")),
            ]
        })
        .collect();
    let prompt = engine
        .prepare_prompt(&history, "Which was last?", &short_options())
        .expect("prompt");
    assert!(prompt.turns_left_out >= 2 && prompt.turns_left_out.is_multiple_of(2));
    assert!(prompt.tokens <= HISTORY_TOKEN_BUDGET, "{}", prompt.tokens);
    assert!(!prompt.text().contains("Question 0:"));
    assert!(prompt.text().contains("Question 3:") && prompt.text().contains("Answer 3."));

    // The answer says what was left out.
    let answer = engine
        .ask_in(
            &history,
            "Which was last?",
            &short_options(),
            &CancelFlag::new(),
            &mut |_| {},
        )
        .expect("answer");
    assert_eq!(answer.turns_left_out, prompt.turns_left_out);
}

#[test]
fn an_answer_cut_by_the_length_limit_says_so() {
    let mut engine = engine();
    let options = AskOptions {
        max_answer_tokens: 8,
        ..short_options()
    };
    let answer = engine
        .ask(QUESTION, &options, &CancelFlag::new(), &mut |_| {})
        .expect("answer");
    assert!(answer.cut_off, "{answer:?}");
    // A cut answer's last words are no conclusion: only a marked answer counts.
    assert_eq!(
        answer.final_answer,
        lookahead_engine::parts::marked_answer(&answer.text)
    );
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
