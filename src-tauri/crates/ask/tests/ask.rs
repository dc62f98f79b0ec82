//! The ask service on a real history file (no model: answers are built by
//! hand, as the engine would return them).
#![allow(clippy::unwrap_used)]

use lookahead_ask::{answer_start, title_for, AskService, Shown};
use lookahead_engine::{
    Answer, AnswerEvent, AnswerMetrics, AnswerStatus, EngineConfig, EngineError, Mode, StepRecord,
};
use lookahead_store::{MessageStatus, Role, Store};

async fn service() -> (tempfile::TempDir, AskService) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("history.db")).await.unwrap();
    (dir, AskService::new(store))
}

fn start() -> lookahead_store::AnswerStart {
    let config = EngineConfig::new("/models/qwen-target.gguf".into(), None);
    answer_start(Mode::Plain, &config, None, serde_json::json!({}))
}

fn answer(question: &str, text: &str) -> Answer {
    Answer {
        question: question.into(),
        text: text.into(),
        final_answer: Some("18".into()),
        cut_off: false,
        turns_left_out: 0,
        steps: vec![StepRecord::target_only(0, text.into(), 12.0)],
        metrics: AnswerMetrics {
            generated_tokens: 7,
            wall_seconds: 0.5,
            decode_tokens_per_s: 14.0,
            prefill_tokens_per_s: 90.0,
            tokens_per_s: 14.0,
            ..AnswerMetrics::default()
        },
        status: AnswerStatus::Complete,
        mode: Mode::Plain,
        draft_model: None,
        target_model: "qwen-target".into(),
        judge: None,
        gamma: None,
    }
}

#[tokio::test]
async fn a_question_is_saved_before_its_answer_and_the_answer_comes_back_as_saved() {
    let (_dir, ask) = service().await;
    let started = ask.begin(None, "How many eggs?", start()).await.unwrap();
    assert_eq!(started.title, "How many eggs?");
    assert!(started.history.is_empty());
    // Before any work: the question and an answer being written.
    let detail = ask
        .store()
        .get_conversation(started.conversation_id)
        .await
        .unwrap();
    let statuses: Vec<_> = detail.messages.iter().map(|m| m.message.status).collect();
    assert_eq!(
        statuses,
        [MessageStatus::Complete, MessageStatus::InProgress]
    );
    assert_eq!(
        detail.messages[1].message.target_model.as_deref(),
        Some("qwen-target.gguf")
    );

    let done = answer("How many eggs?", "16 - 3 - 4 = 9 eggs, 9 × 2 = 18.");
    let saved = ask
        .finish(&started, Ok(&done), &Shown::default())
        .await
        .unwrap();
    assert_eq!(saved.message.id, started.message_id);
    assert_eq!(saved.message.status, MessageStatus::Complete);
    assert_eq!(saved.message.final_answer.as_deref(), Some("18"));
    assert_eq!(saved.steps, done.steps);
    assert_eq!(saved.metrics.as_ref(), Some(&done.metrics));
}

#[tokio::test]
async fn a_follow_up_sees_the_earlier_turns() {
    let (_dir, ask) = service().await;
    let first = ask
        .begin(None, "Split £1,200 in three.", start())
        .await
        .unwrap();
    let done = answer("Split £1,200 in three.", "£400 each.");
    ask.finish(&first, Ok(&done), &Shown::default())
        .await
        .unwrap();

    let next = ask
        .begin(Some(first.conversation_id), "And £1,500?", start())
        .await
        .unwrap();
    assert_eq!(next.conversation_id, first.conversation_id);
    assert_eq!(next.title, "Split £1,200 in three.");
    let texts: Vec<_> = next.history.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts, ["Split £1,200 in three.", "£400 each."]);
}

#[tokio::test]
async fn a_failure_keeps_what_was_shown_and_a_cancel_is_not_a_failure() {
    let (_dir, ask) = service().await;
    let shown = Shown::default();
    shown.observe(&AnswerEvent::Token {
        text: "First, 3 + 4 = 7.".into(),
    });
    let step = StepRecord::target_only(0, "First, 3 + 4 = 7.\n\n".into(), 5.0);
    shown.observe(&AnswerEvent::Step { step: step.clone() });

    let started = ask.begin(None, "Q", start()).await.unwrap();
    let failed = ask
        .finish(
            &started,
            Err(&EngineError::Generation("the model stopped".into())),
            &shown,
        )
        .await
        .unwrap();
    assert_eq!(failed.message.status, MessageStatus::Failed);
    assert_eq!(failed.message.text, "First, 3 + 4 = 7.");
    assert_eq!(failed.steps, vec![step]);
    assert!(failed.message.error.is_some());

    let again = ask
        .begin(Some(started.conversation_id), "Q2", start())
        .await
        .unwrap();
    let stopped = ask
        .finish(&again, Err(&EngineError::Cancelled), &Shown::default())
        .await
        .unwrap();
    assert_eq!(stopped.message.status, MessageStatus::Cancelled);
    assert_eq!(stopped.message.role, Role::Assistant);
}

#[tokio::test]
async fn what_is_shown_is_saved_while_the_answer_is_written() {
    let (_dir, ask) = service().await;
    let started = ask.begin(None, "Q", start()).await.unwrap();
    let shown = Shown::default();
    let saving = ask.keep_saving(&started, shown.clone());
    shown.observe(&AnswerEvent::Token {
        text: "Half written".into(),
    });
    tokio::time::sleep(lookahead_ask::SAVE_EVERY * 2).await;
    drop(saving);
    let detail = ask
        .store()
        .get_conversation(started.conversation_id)
        .await
        .unwrap();
    assert_eq!(detail.messages[1].message.text, "Half written");
}

#[test]
fn titles_are_short_first_lines() {
    assert_eq!(title_for("  How many?\nmore"), "How many?");
    let long = "word ".repeat(30);
    let title = title_for(&long);
    assert!(title.ends_with('…'));
    assert!(title.chars().count() <= 61);
}
