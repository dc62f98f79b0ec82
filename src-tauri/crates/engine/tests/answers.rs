//! The default target model (Qwen2.5-Coder-1.5B) on the questions a new user
//! meets first: the app's example questions must come back right, and a
//! follow-up must be answered from the earlier answer. Real model, default
//! prompt, default options; the model is fetched by the test setup
//! (`lookahead models fetch`) and a missing model fails the test.

use lookahead_engine::parts::same_number;
use lookahead_engine::{Answer, AskOptions, CancelFlag, ChatTurn, Engine, EngineConfig, Mode};
use lookahead_models::{self as models, Role};

/// The app's example questions with their answers (one list for the UI and
/// this test).
const EXAMPLES: &str = include_str!("../../../../ui/src/data/examples.json");

#[derive(serde::Deserialize)]
struct Example {
    question: String,
    expected: String,
}

fn engine() -> Engine {
    let target = models::fetched(Role::Target).unwrap_or_else(|e| panic!("{e}"));
    Engine::load(&EngineConfig::new(target, None), &mut |_| {}).expect("the target loads")
}

fn options() -> AskOptions {
    AskOptions {
        mode: Mode::Plain,
        ..AskOptions::default()
    }
}

fn ask(engine: &mut Engine, history: &[ChatTurn], question: &str) -> Answer {
    engine
        .ask_in(
            history,
            question,
            &options(),
            &CancelFlag::new(),
            &mut |_| {},
        )
        .expect("an answer")
}

#[test]
fn the_apps_examples_are_answered_correctly_and_a_follow_up_uses_the_earlier_answer() {
    let mut engine = engine();
    let examples: Vec<Example> = serde_json::from_str(EXAMPLES).expect("examples.json");
    assert!(examples.len() >= 3);
    for e in &examples {
        let answer = ask(&mut engine, &[], &e.question);
        let got = answer.final_answer.clone().unwrap_or_default();
        assert!(
            same_number(&got, &e.expected),
            "example {:?}: expected {}, got {got:?}\n{}",
            e.question,
            e.expected,
            answer.text
        );
        assert!(!answer.cut_off, "{}", answer.text);
    }

    let first = "A box holds 12 pencils. How many pencils are in 3 boxes?";
    let answer = ask(&mut engine, &[], first);
    assert!(
        same_number(answer.final_answer.as_deref().unwrap_or(""), "36"),
        "{}",
        answer.text
    );
    let history = [ChatTurn::user(first), ChatTurn::assistant(answer.text)];
    // Unanswerable alone: it needs the pencils per box from the first turn.
    let follow_up = "And in 5 boxes?";
    let answer = ask(&mut engine, &history, follow_up);
    assert!(
        same_number(answer.final_answer.as_deref().unwrap_or(""), "60"),
        "the follow-up did not use the earlier answer:\n{}",
        answer.text
    );
}
