use lookahead_store::*;
use serde_json::Value;

use crate::common::*;

/// A conversation with a bit of everything.
async fn rich_conversation(store: &Store) -> i64 {
    let c = store.create_conversation("Export | me").await.unwrap();
    store.set_pinned(c.id, true).await.unwrap();
    store
        .add_user_message(c.id, "First question?\nWith two lines.")
        .await
        .unwrap();
    store
        .save_answer(c.id, answer("First answer.", 6))
        .await
        .unwrap();
    store
        .add_user_message(c.id, "Second question")
        .await
        .unwrap();
    let mut failed = answer("Half an answer", 2);
    failed.start = start(Mode::Plain, None, "target-7b", None, None);
    failed.outcome.status = MessageStatus::Failed;
    failed.outcome.error = Some("the model ran out of memory".into());
    failed.outcome.final_answer = None;
    failed.outcome.metrics = None;
    store.save_answer(c.id, failed).await.unwrap();
    let id = store.begin_answer(c.id, sd_start()).await.unwrap();
    store.update_answer_text(id, "cut short").await.unwrap();
    store
        .finish_answer(
            id,
            AnswerOutcome {
                status: MessageStatus::Cancelled,
                ..outcome("cut short", steps(1, 0), None)
            },
        )
        .await
        .unwrap();
    c.id
}

/// Drops what legitimately differs between an export and the export of its
/// re-import: ids and the export time.
fn strip_ids(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for key in ["id", "conversation_id", "exported_at"] {
                map.remove(key);
            }
            map.values_mut().for_each(strip_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_ids),
        _ => {}
    }
}

#[tokio::test]
async fn json_export_import_round_trips() {
    let db = temp_db();
    let store = open(&db.path).await;
    let id = rich_conversation(&store).await;
    let exported = store.export_json(id).await.unwrap();
    let parsed: Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(parsed["format"], EXPORT_FORMAT);
    assert_eq!(parsed["version"], EXPORT_VERSION);
    assert_eq!(
        parsed["conversation"]["messages"].as_array().unwrap().len(),
        5
    );

    // Into another database, as a user moving history between machines.
    let db2 = temp_db();
    let store2 = open(&db2.path).await;
    store2.create_conversation("already here").await.unwrap();
    let new_id = store2.import_json(&exported).await.unwrap();
    let original = store.get_conversation(id).await.unwrap();
    let imported = store2.get_conversation(new_id).await.unwrap();
    assert_eq!(imported.messages.len(), original.messages.len());
    for (a, b) in original.messages.iter().zip(&imported.messages) {
        assert_eq!(b.message.conversation_id, new_id);
        assert_eq!(
            (&a.message.text, &a.message.status, &a.steps, &a.metrics),
            (&b.message.text, &b.message.status, &b.steps, &b.metrics)
        );
    }
    let mut again: Value =
        serde_json::from_str(&store2.export_json(new_id).await.unwrap()).unwrap();
    let mut first = parsed.clone();
    strip_ids(&mut first);
    strip_ids(&mut again);
    assert_eq!(first, again);

    // Importing into the same database makes a second, independent copy.
    let copy = store.import_json(&exported).await.unwrap();
    assert_ne!(copy, id);
    assert_eq!(store.list_conversations().await.unwrap().len(), 2);
    let hits = store.search("first answer", 10).await.unwrap();
    let mut convs: Vec<i64> = hits.iter().map(|h| h.conversation_id).collect();
    convs.sort_unstable();
    convs.dedup();
    assert_eq!(convs, vec![id, copy], "imported text is searchable");
}

#[tokio::test]
async fn bad_imports_are_refused_and_change_nothing() {
    let db = temp_db();
    let store = open(&db.path).await;
    let id = rich_conversation(&store).await;
    let good: Value = serde_json::from_str(&store.export_json(id).await.unwrap()).unwrap();

    let mut wrong_format = good.clone();
    wrong_format["format"] = "something-else".into();
    let mut newer = good.clone();
    newer["version"] = (EXPORT_VERSION + 1).into();
    let mut bad_step = good.clone();
    bad_step["conversation"]["messages"][1]["steps"][0]["verdict"] = "maybe".into();
    for input in [
        "not json".to_owned(),
        "{}".to_owned(),
        wrong_format.to_string(),
        bad_step.to_string(),
    ] {
        assert_kind(store.import_json(&input).await, "InvalidImport");
    }
    // Issue 14 (L7): a newer export is called newer, even when its body no
    // longer parses as this build's (the version is read first).
    let err = assert_kind(store.import_json(&newer.to_string()).await, "NewerExport");
    assert!(err.user_message().contains("newer version of Lookahead"));
    let mut newer_shape = newer.clone();
    newer_shape["conversation"] = serde_json::json!({ "renamed": true });
    assert_kind(
        store.import_json(&newer_shape.to_string()).await,
        "NewerExport",
    );
    // Valid JSON whose steps collide fails inside the transaction.
    let mut dup = good.clone();
    dup["conversation"]["messages"][1]["steps"][1]["index"] = 0.into();
    store.import_json(&dup.to_string()).await.unwrap_err();
    assert_eq!(store.list_conversations().await.unwrap().len(), 1);
    store.close().await;
    assert_eq!(
        scalar_i64(&db.path, "SELECT count(*) FROM conversations").await,
        1
    );
}

#[tokio::test]
async fn markdown_export_reads_well() {
    let db = temp_db();
    let store = open(&db.path).await;
    let id = rich_conversation(&store).await;
    let md = store.export_markdown(id).await.unwrap();
    let detail = store.get_conversation(id).await.unwrap();
    assert_eq!(md, render_markdown(&detail));

    assert!(md.starts_with("# Export | me\n"), "{md}");
    assert_eq!(md.matches("## You").count(), 2);
    assert_eq!(md.matches("## Lookahead").count(), 3);
    assert!(md.contains("First question?\nWith two lines."));
    assert!(md.contains("**Final answer:** final: First answer."));
    assert!(md.contains("## Lookahead (sd+lr · draft-0.5b → target-7b · judge judge-1.5b)"));
    assert!(md.contains("## Lookahead (plain · target-7b)"));
    assert!(md.contains("> Status: failed — the model ran out of memory"));
    assert!(md.contains("> Status: cancelled"));
    assert!(md.contains("<summary>6 steps</summary>"));
    // Table cells escape pipes and newlines so rows stay rows.
    assert!(md.contains("kept 1/0 \\| with a pipe<br>and a newline"));
    let step_rows = md
        .lines()
        .filter(|l| l.contains(" | draft | ") || l.contains(" | target | "))
        .count();
    let steps: usize = detail.messages.iter().map(|m| m.steps.len()).sum();
    assert!(steps > 0);
    assert_eq!(step_rows, steps);
    assert!(md.contains("| Token acceptance | 75.0% |"));
    assert!(md.contains("| Speed-up (estimate) | 1.75× |"));
}
