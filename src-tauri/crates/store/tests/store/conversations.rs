use lookahead_store::*;

use crate::common::*;

#[tokio::test]
async fn list_puts_pinned_first_then_most_recently_active() {
    let db = temp_db();
    let store = open(&db.path).await;
    let a = store.create_conversation("alpha").await.unwrap();
    let b = store.create_conversation("beta").await.unwrap();
    let c = store.create_conversation("gamma").await.unwrap();
    store.set_pinned(a.id, true).await.unwrap();
    // Activity in the oldest unpinned one moves it above the newer one.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.add_user_message(b.id, "hello").await.unwrap();
    store.save_answer(b.id, answer("hi", 2)).await.unwrap();

    let list = store.list_conversations().await.unwrap();
    let ids: Vec<i64> = list.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![a.id, b.id, c.id]);
    assert!(list[0].pinned && !list[1].pinned);
    assert_eq!(list[1].message_count, 2);
    assert_eq!(list[2].message_count, 0);
    assert!(list[1].updated_at > list[2].updated_at);

    store.set_pinned(a.id, false).await.unwrap();
    let ids: Vec<i64> = store
        .list_conversations()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![b.id, c.id, a.id]);
}

#[tokio::test]
async fn created_conversation_reads_back_equal() {
    let db = temp_db();
    let store = open(&db.path).await;
    let created = store.create_conversation("Ünïcode title ✓").await.unwrap();
    let detail = store.get_conversation(created.id).await.unwrap();
    assert_eq!(detail.conversation, created);
    assert!(detail.messages.is_empty());
    store
        .rename_conversation(created.id, "renamed")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_conversation(created.id)
            .await
            .unwrap()
            .conversation
            .title,
        "renamed"
    );
}

#[tokio::test]
async fn soft_delete_restore_and_purge() {
    let db = temp_db();
    let store = open(&db.path).await;
    let keep = store.create_conversation("keep").await.unwrap();
    let bin = store.create_conversation("bin").await.unwrap();
    store.add_user_message(bin.id, "question").await.unwrap();
    store
        .save_answer(bin.id, answer("answer", 5))
        .await
        .unwrap();

    store.delete_conversation(bin.id).await.unwrap();
    let listed: Vec<i64> = store
        .list_conversations()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![keep.id]);
    let binned = store.list_deleted_conversations().await.unwrap();
    assert_eq!(binned.len(), 1);
    assert_eq!(binned[0].id, bin.id);
    assert!(binned[0].deleted_at.is_some());
    // Still readable while in the bin, so the UI can offer undo.
    assert_eq!(
        store.get_conversation(bin.id).await.unwrap().messages.len(),
        2
    );

    store.restore_conversation(bin.id).await.unwrap();
    assert_eq!(store.list_conversations().await.unwrap().len(), 2);
    assert!(store.list_deleted_conversations().await.unwrap().is_empty());

    store.delete_conversation(bin.id).await.unwrap();
    // Purging only what was deleted before a time in the past removes nothing.
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(store.purge_deleted(Some(past)).await.unwrap(), 0);
    assert_eq!(store.purge_deleted(None).await.unwrap(), 1);
    assert_kind(store.get_conversation(bin.id).await, "NotFound");
    assert_eq!(
        store
            .get_conversation(keep.id)
            .await
            .unwrap()
            .conversation
            .id,
        keep.id
    );
    store.close().await;
    // Messages, steps and metrics went with it (foreign keys cascade).
    assert_eq!(
        scalar_i64(&db.path, "SELECT count(*) FROM messages").await,
        0
    );
    assert_eq!(scalar_i64(&db.path, "SELECT count(*) FROM steps").await, 0);
    assert_eq!(
        scalar_i64(&db.path, "SELECT count(*) FROM answer_metrics").await,
        0
    );
}

#[tokio::test]
async fn operations_on_missing_conversations_are_not_found() {
    let db = temp_db();
    let store = open(&db.path).await;
    assert_kind(store.rename_conversation(42, "x").await, "NotFound");
    assert_kind(store.set_pinned(42, true).await, "NotFound");
    assert_kind(store.delete_conversation(42).await, "NotFound");
    assert_kind(store.restore_conversation(42).await, "NotFound");
    assert_kind(store.get_conversation(42).await, "NotFound");
    assert_kind(store.add_user_message(42, "q").await, "NotFound");
    assert_kind(store.save_answer(42, answer("a", 1)).await, "NotFound");
    assert_kind(store.begin_answer(42, sd_start()).await, "NotFound");
    store.close().await;
    assert_eq!(
        scalar_i64(&db.path, "SELECT count(*) FROM messages").await,
        0
    );
}

#[tokio::test]
async fn store_is_cheap_to_clone_and_shares_data() {
    let db = temp_db();
    let store = open(&db.path).await;
    let other = store.clone();
    let c = other.create_conversation("shared").await.unwrap();
    assert_eq!(
        store
            .get_conversation(c.id)
            .await
            .unwrap()
            .conversation
            .title,
        "shared"
    );
    assert_eq!(store.path(), db.path.as_path());
}

#[test]
fn default_db_path_honours_the_environment() {
    // Only this test touches LOOKAHEAD_DATA_DIR.
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("LOOKAHEAD_DATA_DIR", dir.path());
    let path = default_db_path().unwrap();
    std::env::remove_var("LOOKAHEAD_DATA_DIR");
    assert_eq!(path, dir.path().join("history.sqlite"));
    if let Ok(fallback) = default_db_path() {
        assert!(
            fallback.ends_with("lookahead/history.sqlite"),
            "{fallback:?}"
        );
        assert!(!fallback.starts_with(dir.path()));
    }
}
