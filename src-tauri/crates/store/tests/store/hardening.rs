//! The reliability review's findings (docs/reliability.md), each with a
//! test that failed before its fix: questions saved with their answer in
//! one transaction, read-only opens beside a writer, an edited migration
//! that can be moved aside, purged conversations wiped from the file, and
//! exports that cannot carry formulas or HTML into other programs.

use std::path::Path;
use std::time::{Duration, Instant};

use lookahead_store::*;
use sqlx::Executor;

use crate::common::*;

/// M0 + M5: on a full disk, a new question and its answer row are saved
/// together or not at all, and the error says the disk is full (not "that
/// conversation no longer exists").
#[tokio::test]
async fn a_question_and_its_answer_row_are_saved_together_or_not_at_all() {
    let db = temp_db();
    {
        let store = open(&db.path).await;
        store.close().await;
    }
    let pages = scalar_i64(&db.path, "PRAGMA page_count").await as u32;
    let store = Store::open_with(
        &db.path,
        StoreOptions {
            max_page_count: Some(pages + 3),
            ..quick_options()
        },
    )
    .await
    .unwrap();
    let long = "q".repeat(3000);
    let mut started = 0;
    let err = loop {
        match store.start_answer(Err("full"), &long, sd_start()).await {
            Ok((conversation, question, answer)) => {
                assert!(question < answer);
                let detail = store.get_conversation(conversation).await.unwrap();
                assert_eq!(detail.messages.len(), 2);
                started += 1;
            }
            Err(e) => break e,
        }
        assert!(started < 200, "the page cap never took effect");
    };
    assert_eq!(kind(&err), "DiskFull", "{err:?}");
    // Nothing half-saved: every conversation has its question and answer.
    let all = store.list_conversations().await.unwrap();
    for c in &all {
        let detail = store.get_conversation(c.id).await.unwrap();
        assert_eq!(
            detail.messages.len(),
            2,
            "conversation {} is half-saved",
            c.id
        );
    }
    assert_eq!(all.len(), started);
    // A conversation on its own reports the full disk too, rather than an
    // id whose row was rolled back.
    if let Err(e) = store.create_conversation(&"t".repeat(4000)).await {
        assert_eq!(kind(&e), "DiskFull", "{e:?}");
    }
    store.close().await;

    // A follow-up goes into the given conversation.
    let store = open(&db.path).await;
    let first = store
        .list_conversations()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.title == "full")
        .unwrap()
        .id;
    let (c, _, _) = store
        .start_answer(Ok(first), "and then?", sd_start())
        .await
        .unwrap();
    assert_eq!(c, first);
    assert_eq!(
        store.get_conversation(first).await.unwrap().messages.len(),
        4
    );
    assert_kind(
        store.start_answer(Ok(4242), "lost?", sd_start()).await,
        "NotFound",
    );
    store.close().await;
}

/// M6: reading does not need the write lock, works on a history this user
/// may not write, and never marks another process's live answer
/// interrupted.
#[tokio::test]
async fn reading_works_beside_a_writer_and_changes_nothing() {
    let db = temp_db();
    let live = {
        let store = open(&db.path).await;
        store
            .save_answer(
                store.create_conversation("done").await.unwrap().id,
                answer("old", 2),
            )
            .await
            .unwrap();
        let c = store.create_conversation("live").await.unwrap();
        let id = store.begin_answer(c.id, sd_start()).await.unwrap();
        store
            .update_answer_text(id, "half an answer")
            .await
            .unwrap();
        // The app is still answering: its store stays open.
        std::mem::forget(store);
        id
    };
    let mut writer = raw(&db.path).await;
    writer.execute("BEGIN IMMEDIATE").await.unwrap();
    writer
        .execute("INSERT INTO settings (key, value, updated_at) VALUES ('held', '1', 'now')")
        .await
        .unwrap();

    let t0 = Instant::now();
    let reader = Store::open_read_only(&db.path).await.unwrap();
    let list = reader.list_conversations().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(reader.search("answer", 10).await.is_ok());
    assert!(reader.totals(&StatsFilter::default()).await.is_ok());
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "reading waited for the writer: {:?}",
        t0.elapsed()
    );
    let conv = list.iter().find(|c| c.title == "live").unwrap().id;
    let detail = reader.get_conversation(conv).await.unwrap();
    let answer = detail
        .messages
        .iter()
        .find(|m| m.message.id == live)
        .unwrap();
    assert_eq!(
        answer.message.status,
        MessageStatus::InProgress,
        "a read marked the live answer"
    );
    assert_eq!(answer.message.text, "half an answer");
    // And it cannot write.
    assert!(reader.create_conversation("nope").await.is_err());
    reader.close().await;
    writer.execute("ROLLBACK").await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_history_the_user_may_only_read_can_be_read() {
    use std::os::unix::fs::PermissionsExt;
    let db = temp_db();
    let store = open(&db.path).await;
    store
        .save_answer(
            store.create_conversation("kept").await.unwrap().id,
            answer("x", 1),
        )
        .await
        .unwrap();
    store.close().await;
    let before = std::fs::read(&db.path).unwrap();
    std::fs::set_permissions(&db.path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let reader = Store::open_read_only(&db.path).await.unwrap();
    assert_eq!(reader.list_conversations().await.unwrap().len(), 1);
    reader.close().await;
    std::fs::set_permissions(&db.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        std::fs::read(&db.path).unwrap(),
        before,
        "reading changed the file"
    );
}

/// M3: a history whose recorded migration differs from this build's has
/// its own message and can be moved aside like a damaged one.
#[tokio::test]
async fn an_edited_migration_is_named_and_can_be_moved_aside() {
    let db = temp_db();
    open(&db.path).await.close().await;
    {
        let mut conn = raw(&db.path).await;
        conn.execute("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 2")
            .await
            .unwrap();
        sqlx::Connection::close(conn).await.unwrap();
    }
    let before = std::fs::read(&db.path).unwrap();
    let err = assert_kind(Store::open(&db.path).await, "MigrationChanged");
    assert_eq!(err.code(), "store_migration_changed");
    assert!(
        err.user_message().contains("move it aside"),
        "{}",
        err.user_message()
    );
    assert_eq!(
        std::fs::read(&db.path).unwrap(),
        before,
        "the file was changed"
    );

    let reset = Store::reset_corrupt(&db.path).await.unwrap();
    let moved = reset.moved_to.clone().expect("moved aside");
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        before,
        "the old file is kept as it was"
    );
    assert!(reset.store.list_conversations().await.unwrap().is_empty());
    reset.store.close().await;
}

fn file_contains(path: &Path, needle: &[u8]) -> bool {
    let mut bytes = std::fs::read(path).unwrap();
    let wal = path.with_extension("sqlite-wal");
    if let Ok(more) = std::fs::read(wal) {
        bytes.extend(more);
    }
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// M8: a purged conversation's text is gone from the file, not only from
/// the tables.
#[tokio::test]
async fn purged_conversations_are_wiped_from_the_file() {
    let db = temp_db();
    let store = open(&db.path).await;
    let secret = b"SECRET-SALARY-FIGURES-4711";
    let c = store.create_conversation("private").await.unwrap();
    store
        .save_answer(c.id, answer(std::str::from_utf8(secret).unwrap(), 2))
        .await
        .unwrap();
    store.delete_conversation(c.id).await.unwrap();
    store.close().await;
    assert!(
        file_contains(&db.path, secret),
        "the test needs the text on disk first"
    );

    let store = open(&db.path).await;
    assert_eq!(store.purge_deleted(None).await.unwrap(), 1);
    store.close().await;
    assert!(
        !file_contains(&db.path, secret),
        "purged text is still in the file"
    );
}

/// M8: the bin empties itself: a conversation deleted more than a week
/// ago is wiped when the history is opened for writing (the app and
/// `lookahead ask` call `empty_expired_bin`); one deleted yesterday stays
/// for "Undo".
#[tokio::test]
async fn the_bin_forgets_conversations_deleted_over_a_week_ago() {
    let db = temp_db();
    let store = open(&db.path).await;
    let old = store.create_conversation("old secret").await.unwrap();
    let recent = store.create_conversation("recent").await.unwrap();
    let kept = store.create_conversation("kept").await.unwrap();
    store.delete_conversation(old.id).await.unwrap();
    store.delete_conversation(recent.id).await.unwrap();
    store.close().await;
    {
        let mut conn = raw(&db.path).await;
        let eight_days_ago = (chrono::Utc::now() - chrono::TimeDelta::days(8))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        sqlx::query("UPDATE conversations SET deleted_at = ?1 WHERE id = ?2")
            .bind(eight_days_ago)
            .bind(old.id)
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::Connection::close(conn).await.unwrap();
    }
    let store = open(&db.path).await;
    assert_eq!(store.empty_expired_bin().await.unwrap(), 1);
    let binned: Vec<i64> = store
        .list_deleted_conversations()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(binned, [recent.id]);
    assert!(store.get_conversation(old.id).await.is_err());
    assert!(store.get_conversation(kept.id).await.is_ok());
    store.close().await;
}

/// L1 + L3: exported text cannot run as a spreadsheet formula or as HTML.
#[tokio::test]
async fn exports_defuse_formulas_and_html() {
    let db = temp_db();
    let store = open(&db.path).await;
    let c = store
        .create_conversation("<img src=x onerror=alert(1)> title")
        .await
        .unwrap();
    let mut a = answer("<script>alert(2)</script> & more", 1);
    a.start.draft_model = Some("=HYPERLINK(\"http://x.example\",\"click\")".into());
    a.start.target_model = Some("@SUM(1+1)".into());
    a.outcome.steps[0].text = "<b>bold</b> | piped".into();
    store.save_answer(c.id, a).await.unwrap();

    let csv = store
        .export_metrics_csv(&StatsFilter::default())
        .await
        .unwrap();
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x.example\"\",\"\"click\"\")\""),
        "{csv}"
    );
    assert!(csv.contains(",'@SUM(1+1),"), "{csv}");
    // Numbers are not touched.
    assert!(!csv.contains("'0") && !csv.contains("'1"), "{csv}");

    let md = store.export_markdown(c.id).await.unwrap();
    for raw in ["<img", "<script>", "<b>"] {
        assert!(!md.contains(raw), "raw HTML {raw} in the Markdown:\n{md}");
    }
    assert!(
        md.contains("&lt;script&gt;alert(2)&lt;/script&gt; &amp; more"),
        "{md}"
    );
    assert!(md.contains("&lt;b&gt;bold&lt;/b&gt; \\| piped"), "{md}");
    // Steps are numbered from 1, as people count.
    assert!(md.contains("| 1 | "), "{md}");
    store.close().await;
}

/// M6: a process that opens the history for writing (the command line)
/// does not mark an answer another process is still writing (the app) as
/// interrupted; once nobody is answering, a crashed answer is recovered.
#[tokio::test]
async fn a_live_answer_is_left_alone_by_another_writer() {
    let db = temp_db();
    let app = open(&db.path).await;
    let c = app.create_conversation("live").await.unwrap();
    let answering = app.answering().unwrap();
    let id = app.begin_answer(c.id, sd_start()).await.unwrap();
    let status = |store: Store| async move {
        let detail = store.get_conversation(c.id).await.unwrap();
        let s = detail
            .messages
            .iter()
            .find(|m| m.message.id == id)
            .unwrap()
            .message
            .status;
        store.close().await;
        s
    };
    // Another writer opens the history meanwhile.
    assert_eq!(
        status(open(&db.path).await).await,
        MessageStatus::InProgress
    );
    // The app finishes normally.
    app.update_answer_text(id, "still mine").await.unwrap();
    // The app dies without finishing: its lock goes with it, and the next
    // open recovers the answer.
    drop(answering);
    std::mem::forget(app);
    assert_eq!(
        status(open(&db.path).await).await,
        MessageStatus::Interrupted
    );
}
