use lookahead_store::*;

use crate::common::*;

async fn ids(store: &Store, query: &str) -> Vec<(i64, Option<i64>)> {
    store
        .search(query, 100)
        .await
        .unwrap()
        .iter()
        .map(|h| (h.conversation_id, h.message_id))
        .collect()
}

/// The FTS5 index must agree with its content table after any sequence of
/// writes; 'integrity-check' fails with SQLITE_CORRUPT_VTAB when it does not.
async fn assert_index_in_sync(path: &std::path::Path) {
    let mut conn = raw(path).await;
    for table in ["messages_fts", "conversations_fts"] {
        sqlx::query(&format!(
            "INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)"
        ))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{table} out of sync: {e}"));
    }
    sqlx::Connection::close(conn).await.unwrap();
}

#[tokio::test]
async fn finds_titles_and_message_texts() {
    let db = temp_db();
    let store = open(&db.path).await;
    let sky = store
        .create_conversation("Why is the sky blue")
        .await
        .unwrap();
    let q = store
        .add_user_message(sky.id, "Explain Rayleigh scattering please")
        .await
        .unwrap();
    let other = store.create_conversation("Prime numbers").await.unwrap();
    let mut a = answer("There are infinitely many primes (Euclid).", 0);
    a.outcome.final_answer = Some("Infinitely many, by Euclid's argument".into());
    let a_id = store.save_answer(other.id, a).await.unwrap();

    assert_eq!(ids(&store, "sky").await, vec![(sky.id, None)]);
    assert_eq!(ids(&store, "rayleigh").await, vec![(sky.id, Some(q.id))]);
    assert_eq!(ids(&store, "EUCLID").await, vec![(other.id, Some(a_id))]);
    // Every word must match, in title or text alike.
    assert!(ids(&store, "rayleigh primes").await.is_empty());
    assert_eq!(
        ids(&store, "primes euclid").await,
        vec![(other.id, Some(a_id))]
    );
    // The last word matches as a prefix, for search-as-you-type.
    assert_eq!(ids(&store, "scatt").await, vec![(sky.id, Some(q.id))]);
    assert!(ids(&store, "scatx").await.is_empty());
    // Accents are folded.
    let cafe = store.create_conversation("Café au lait").await.unwrap();
    assert_eq!(ids(&store, "cafe").await, vec![(cafe.id, None)]);

    let hit = &store.search("rayleigh", 10).await.unwrap()[0];
    assert!(
        hit.snippet
            .contains(&format!("{MATCH_START}Rayleigh{MATCH_END}")),
        "{:?}",
        hit.snippet
    );
    assert_eq!(hit.conversation_title, "Why is the sky blue");
}

#[tokio::test]
async fn title_hits_come_before_message_hits_and_limit_applies() {
    let db = temp_db();
    let store = open(&db.path).await;
    let in_text = store.create_conversation("unrelated").await.unwrap();
    for i in 0..5 {
        store
            .add_user_message(in_text.id, &format!("lookahead question {i}"))
            .await
            .unwrap();
    }
    let in_title = store
        .create_conversation("Lookahead decoding")
        .await
        .unwrap();
    let hits = store.search("lookahead", 100).await.unwrap();
    assert_eq!(hits.len(), 6);
    assert_eq!(
        (hits[0].conversation_id, hits[0].message_id),
        (in_title.id, None)
    );
    assert!(hits[1..]
        .iter()
        .all(|h| h.conversation_id == in_text.id && h.message_id.is_some()));
    assert_eq!(store.search("lookahead", 3).await.unwrap().len(), 3);
}

#[tokio::test]
async fn index_follows_renames_answers_and_deletes() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("oldtitle").await.unwrap();
    store.rename_conversation(c.id, "newtitle").await.unwrap();
    assert!(ids(&store, "oldtitle").await.is_empty());
    assert_eq!(ids(&store, "newtitle").await, vec![(c.id, None)]);

    let id = store.begin_answer(c.id, sd_start()).await.unwrap();
    assert!(ids(&store, "streamedword").await.is_empty());
    store
        .update_answer_text(id, "a streamedword appears")
        .await
        .unwrap();
    assert_eq!(ids(&store, "streamedword").await, vec![(c.id, Some(id))]);
    store
        .finish_answer(id, outcome("the finalword instead", vec![], None))
        .await
        .unwrap();
    assert!(ids(&store, "streamedword").await.is_empty());
    assert_eq!(ids(&store, "finalword").await, vec![(c.id, Some(id))]);

    store.delete_conversation(c.id).await.unwrap();
    assert!(ids(&store, "finalword").await.is_empty());
    assert!(ids(&store, "newtitle").await.is_empty());
    store.restore_conversation(c.id).await.unwrap();
    assert_eq!(ids(&store, "finalword").await, vec![(c.id, Some(id))]);

    store.delete_conversation(c.id).await.unwrap();
    store.purge_deleted(None).await.unwrap();
    store.close().await;
    assert_index_in_sync(&db.path).await;
    assert_eq!(
        scalar_i64(
            &db.path,
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'finalword'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar_i64(
            &db.path,
            "SELECT count(*) FROM conversations_fts WHERE conversations_fts MATCH 'newtitle'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn any_typed_text_is_a_valid_query() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store.create_conversation("quotes").await.unwrap();
    store
        .add_user_message(c.id, r#"he said "NEAR(x y)" AND left * -"#)
        .await
        .unwrap();
    for q in [
        "\"",
        "AND",
        "NEAR(",
        "*",
        "-",
        "a:b",
        "(",
        "\"unbalanced",
        "col:",
        "^",
        "   ",
        "",
    ] {
        store
            .search(q, 10)
            .await
            .unwrap_or_else(|e| panic!("query {q:?}: {e}"));
    }
    assert_eq!(ids(&store, "\"near(x").await.len(), 1);
    assert!(store.search("  ", 10).await.unwrap().is_empty());
    store.close().await;
    assert_index_in_sync(&db.path).await;
}
