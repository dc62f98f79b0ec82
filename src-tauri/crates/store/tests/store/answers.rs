use lookahead_store::*;

use crate::common::*;

#[tokio::test]
async fn saved_answer_round_trips_with_steps_and_metrics() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("round trip").await.unwrap();
    let question = store.add_user_message(c.id, "What is 2+2?").await.unwrap();
    let new = NewAnswer {
        start: start(Mode::SdLr, Some("d"), "t", Some("j"), Some(6)),
        outcome: AnswerOutcome {
            text: "Thinking… it is 4.".into(),
            final_answer: Some("4".into()),
            status: MessageStatus::Complete,
            error: None,
            steps: steps(7, 2),
            metrics: Some(metrics(64, 41, Some(2.125))),
            notes: Default::default(),
        },
        created_at: None,
    };
    let id = store.save_answer(c.id, new.clone()).await.unwrap();

    let detail = store.get_conversation(c.id).await.unwrap();
    assert_eq!(detail.messages.len(), 2);
    assert_eq!(detail.messages[0].message, question);
    assert!(detail.messages[0].steps.is_empty() && detail.messages[0].metrics.is_none());
    let got = &detail.messages[1];
    assert_eq!(got.message.id, id);
    assert_eq!(got.message.conversation_id, c.id);
    assert_eq!(got.message.role, Role::Assistant);
    assert_eq!(got.message.text, new.outcome.text);
    assert_eq!(got.message.final_answer, new.outcome.final_answer);
    assert_eq!(got.message.mode, Some(Mode::SdLr));
    assert_eq!(got.message.draft_model, new.start.draft_model);
    assert_eq!(got.message.target_model, new.start.target_model);
    assert_eq!(got.message.judge_model, new.start.judge_model);
    assert_eq!(got.message.settings, new.start.settings);
    assert_eq!(got.message.status, MessageStatus::Complete);
    assert!(got.message.finished_at.is_some());
    assert_eq!(got.steps, new.outcome.steps);
    assert_eq!(got.metrics, new.outcome.metrics);
}

#[tokio::test]
async fn every_mode_and_status_round_trips() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("modes").await.unwrap();
    let statuses = [
        MessageStatus::Complete,
        MessageStatus::Cancelled,
        MessageStatus::Failed,
    ];
    for (i, mode) in Mode::ALL.iter().enumerate() {
        let status = statuses[i % statuses.len()];
        let mut a = answer(&format!("answer {mode}"), i);
        a.start.mode = *mode;
        a.outcome.status = status;
        a.outcome.error = (status == MessageStatus::Failed).then(|| "out of memory".to_owned());
        // Plain answers have no acceptance figures at all.
        if *mode == Mode::Plain {
            a.start.draft_model = None;
            a.outcome.metrics = Some(AnswerMetrics {
                drafted_tokens: None,
                accepted_tokens: None,
                token_acceptance_rate: None,
                mean_acceptance_length: None,
                drafted_steps: None,
                accepted_steps: None,
                step_acceptance_rate: None,
                per_position_acceptance: None,
                speedup_estimate: None,
                speculation_stopped: None,
                guard_stopped: false,
                ..metrics(0, 0, None)
            });
        }
        // Step speculation switched off partway: kept with the metrics.
        if *mode == Mode::Lr {
            let m = a.outcome.metrics.as_mut().unwrap();
            m.speculation_stopped =
                Some("slowdown guard: 3.0 tokens/s, below plain's 9.0".to_owned());
            m.guard_stopped = true;
        }
        store.save_answer(c.id, a).await.unwrap();
    }
    let detail = store.get_conversation(c.id).await.unwrap();
    assert_eq!(detail.messages.len(), Mode::ALL.len());
    for (i, m) in detail.messages.iter().enumerate() {
        assert_eq!(m.message.mode, Some(Mode::ALL[i]));
        assert_eq!(m.message.status, statuses[i % statuses.len()]);
        assert_eq!(m.steps.len(), i);
        let x = m.metrics.as_ref().unwrap();
        assert_eq!(x.drafted_tokens.is_none(), Mode::ALL[i] == Mode::Plain);
        assert_eq!(
            x.speculation_stopped.as_deref(),
            (Mode::ALL[i] == Mode::Lr).then_some("slowdown guard: 3.0 tokens/s, below plain's 9.0")
        );
        assert_eq!(x.guard_stopped, Mode::ALL[i] == Mode::Lr);
    }
    assert_eq!(
        detail.messages[2].message.error.as_deref(),
        Some("out of memory")
    );
}

#[tokio::test]
async fn begin_update_finish_life_cycle() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("streaming").await.unwrap();
    let id = store.begin_answer(c.id, sd_start()).await.unwrap();

    let m = &store.get_conversation(c.id).await.unwrap().messages[0];
    assert_eq!(m.message.status, MessageStatus::InProgress);
    assert_eq!(m.message.text, "");
    assert!(m.message.finished_at.is_none());

    store.update_answer_text(id, "partial").await.unwrap();
    assert_eq!(
        store.get_conversation(c.id).await.unwrap().messages[0]
            .message
            .text,
        "partial"
    );

    let done = outcome(
        "complete text",
        steps(9, 0),
        Some(metrics(12, 7, Some(1.4))),
    );
    store.finish_answer(id, done.clone()).await.unwrap();
    let m = &store.get_conversation(c.id).await.unwrap().messages[0];
    assert_eq!(m.message.status, MessageStatus::Complete);
    assert_eq!(m.message.text, "complete text");
    assert_eq!(m.message.final_answer, done.final_answer);
    assert!(m.message.finished_at.is_some());
    assert_eq!(m.steps, done.steps);
    assert_eq!(m.metrics, done.metrics);
    // The message alone reads the same as within its conversation.
    assert_eq!(&store.get_message(id).await.unwrap(), m);
    assert_kind(store.get_message(id + 100).await, "NotFound");

    assert_kind(store.finish_answer(id, done.clone()).await, "NotInProgress");
    assert_kind(store.update_answer_text(id, "late").await, "NotInProgress");
    assert_kind(store.finish_answer(id + 100, done).await, "NotFound");
}

#[tokio::test]
async fn finish_rejects_unfinished_status_and_repeated_steps_without_writing() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("invalid").await.unwrap();
    let id = store.begin_answer(c.id, sd_start()).await.unwrap();

    let mut bad = outcome("x", steps(3, 0), None);
    bad.status = MessageStatus::InProgress;
    assert_kind(store.finish_answer(id, bad).await, "InvalidInput");

    let mut repeated = steps(3, 0);
    repeated[2].index = 1;
    assert_kind(
        store
            .finish_answer(id, outcome("x", repeated.clone(), None))
            .await,
        "InvalidInput",
    );
    let mut a = answer("y", 0);
    a.outcome.steps = repeated;
    assert_kind(store.save_answer(c.id, a).await, "InvalidInput");

    let detail = store.get_conversation(c.id).await.unwrap();
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(detail.messages[0].message.status, MessageStatus::InProgress);
    assert!(detail.messages[0].steps.is_empty());
}

/// A failure inside the transaction (here a trigger that aborts on the
/// sixth step) must leave neither the message nor any of its steps.
#[tokio::test]
async fn a_failing_write_leaves_no_partial_answer() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("atomic").await.unwrap();
    let begun = store.begin_answer(c.id, sd_start()).await.unwrap();
    {
        let mut conn = raw(&db.path).await;
        sqlx::query(
            "CREATE TRIGGER fail_sixth_step BEFORE INSERT ON steps WHEN new.step_index = 5
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::Connection::close(conn).await.unwrap();
    }
    let before = store.get_conversation(c.id).await.unwrap();

    let err = store
        .save_answer(c.id, answer("never saved", 10))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), "Database", "{err:?}");
    let err = store
        .finish_answer(
            begun,
            outcome("never finished", steps(10, 0), Some(metrics(4, 2, None))),
        )
        .await
        .unwrap_err();
    assert_eq!(kind(&err), "Database", "{err:?}");

    let after = store.get_conversation(c.id).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after.messages.len(), 1);
    assert_eq!(after.messages[0].message.status, MessageStatus::InProgress);
    store.close().await;
    assert_eq!(scalar_i64(&db.path, "SELECT count(*) FROM steps").await, 0);
    assert_eq!(
        scalar_i64(&db.path, "SELECT count(*) FROM answer_metrics").await,
        0
    );
}

#[tokio::test]
async fn reopening_marks_unfinished_answers_interrupted_and_keeps_their_text() {
    let db = temp_db();
    let (c, id) = {
        let store = open(&db.path).await;
        let c = store.create_conversation("crash").await.unwrap();
        let id = store.begin_answer(c.id, sd_start()).await.unwrap();
        store
            .update_answer_text(id, "what the user saw")
            .await
            .unwrap();
        store.close().await;
        (c, id)
    };
    let store = open(&db.path).await;
    let m = &store.get_conversation(c.id).await.unwrap().messages[0];
    assert_eq!(m.message.id, id);
    assert_eq!(m.message.status, MessageStatus::Interrupted);
    assert_eq!(m.message.text, "what the user saw");
    assert!(m.message.error.as_deref().unwrap().contains("stopped"));
    assert!(m.message.finished_at.is_some());
}

/// Two app instances: the second one's open marks the first one's running
/// answer interrupted, yet the first can still finish it.
#[tokio::test]
async fn an_answer_marked_interrupted_by_another_instance_can_still_finish() {
    let db = temp_db();
    let first = open(&db.path).await;
    let c = first.create_conversation("two windows").await.unwrap();
    let id = first.begin_answer(c.id, sd_start()).await.unwrap();
    let second = open(&db.path).await;
    assert_eq!(
        second.get_conversation(c.id).await.unwrap().messages[0]
            .message
            .status,
        MessageStatus::Interrupted
    );
    first.update_answer_text(id, "still going").await.unwrap();
    first
        .finish_answer(id, outcome("done", steps(4, 0), None))
        .await
        .unwrap();
    let m = &second.get_conversation(c.id).await.unwrap().messages[0];
    assert_eq!(m.message.status, MessageStatus::Complete);
    assert_eq!(m.steps.len(), 4);
}

#[tokio::test]
async fn answer_recorded_after_the_fact_keeps_its_time() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("old").await.unwrap();
    let mut a = answer("old answer", 1);
    let when = day(2024, 3, 1, 12);
    a.created_at = Some(when);
    store.save_answer(c.id, a).await.unwrap();
    let detail = store.get_conversation(c.id).await.unwrap();
    let m = &detail.messages[0].message;
    assert_eq!(m.created_at, when);
    assert_eq!(
        m.finished_at,
        Some(when + chrono::Duration::milliseconds(2500))
    );
    // An old answer does not make the conversation look newer than it is.
    assert_eq!(detail.conversation.updated_at, c.updated_at);
}

#[tokio::test]
async fn answer_notes_and_checked_sums_round_trip_both_ways_of_saving() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("notes").await.unwrap();
    let mut steps = steps(2, 1);
    steps[0].arithmetic = vec![ArithmeticCheck {
        expression: "13 × 4".into(),
        written: "54".into(),
        exact: "52".into(),
        correct: false,
        corrected: true,
    }];
    let notes = AnswerNotes {
        cut_off: true,
        turns_left_out: 4,
    };
    let outcome = AnswerOutcome {
        notes,
        ..outcome("So each box holds 13 × 4 = 52 pens", steps, None)
    };
    // Saved in one go (the CLI) ...
    store.add_user_message(c.id, "q").await.unwrap();
    let saved = store
        .save_answer(
            c.id,
            NewAnswer {
                start: sd_start(),
                outcome: outcome.clone(),
                created_at: None,
            },
        )
        .await
        .unwrap();
    // ... and begun, then finished (the app).
    store.add_user_message(c.id, "q2").await.unwrap();
    let begun = store.begin_answer(c.id, sd_start()).await.unwrap();
    store.finish_answer(begun, outcome.clone()).await.unwrap();

    let detail = store.get_conversation(c.id).await.unwrap();
    for id in [saved, begun] {
        let m = detail.messages.iter().find(|m| m.message.id == id).unwrap();
        assert_eq!(m.message.notes, notes);
        assert_eq!(m.steps, outcome.steps);
        assert!(m.steps[0].arithmetic[0].corrected);
        assert!(m.steps[1].arithmetic.is_empty());
    }
    // A question carries no notes.
    assert_eq!(detail.messages[0].message.notes, AnswerNotes::default());
}

#[tokio::test]
async fn recent_answer_texts_are_complete_answers_outside_the_bin_newest_first() {
    let db = temp_db();
    let store = open(&db.path).await;
    let a = store.create_conversation("a").await.unwrap();
    let b = store.create_conversation("b").await.unwrap();
    let binned = store.create_conversation("binned").await.unwrap();
    for (conv, text) in [
        (a.id, "first"),
        (binned.id, "in the bin"),
        (b.id, "second"),
        (a.id, "third"),
    ] {
        let id = store.begin_answer(conv, sd_start()).await.unwrap();
        store
            .finish_answer(id, outcome(text, steps(1, 0), None))
            .await
            .unwrap();
    }
    // Still being written: not an answer yet.
    let writing = store.begin_answer(b.id, sd_start()).await.unwrap();
    store
        .update_answer_text(writing, "half an ans")
        .await
        .unwrap();
    store.delete_conversation(binned.id).await.unwrap();

    assert_eq!(
        store.recent_answer_texts(10).await.unwrap(),
        ["third", "second", "first"]
    );
    assert_eq!(
        store.recent_answer_texts(2).await.unwrap(),
        ["third", "second"]
    );
}
