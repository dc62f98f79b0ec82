//! Conditions a user can run into: a lock held by another program, a
//! read-only location, a full disk, a damaged file, a newer app's file.

use std::path::Path;
use std::time::{Duration, Instant};

use lookahead_store::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteLockingMode};
use sqlx::ConnectOptions;

use crate::common::*;

const BUSY: Duration = Duration::from_millis(300);

#[track_caller]
fn assert_waited_about_the_busy_timeout(elapsed: Duration) {
    assert!(
        elapsed >= BUSY - Duration::from_millis(50),
        "gave up too early: {elapsed:?}"
    );
    assert!(
        elapsed < BUSY + Duration::from_secs(3),
        "waited far too long: {elapsed:?}"
    );
}

#[tokio::test]
async fn open_reports_locked_when_another_connection_holds_an_exclusive_lock() {
    let db = temp_db();
    open(&db.path).await.close().await;
    // EXCLUSIVE locking mode keeps the file lock even from readers.
    let mut locker = SqliteConnectOptions::new()
        .filename(&db.path)
        .locking_mode(SqliteLockingMode::Exclusive)
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    sqlx::query("INSERT INTO settings (key, value, updated_at) VALUES ('held', '1', 'now')")
        .execute(&mut locker)
        .await
        .unwrap();

    let t0 = Instant::now();
    let err = assert_kind(Store::open_with(&db.path, quick_options()).await, "Locked");
    assert_waited_about_the_busy_timeout(t0.elapsed());
    assert!(
        err.user_message().contains("in use by another program"),
        "{}",
        err.user_message()
    );

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    sqlx::Connection::close(locker).await.unwrap();
    Store::open_with(&db.path, quick_options()).await.unwrap();
}

#[tokio::test]
async fn a_write_reports_locked_while_another_writer_holds_the_lock() {
    let db = temp_db();
    let store = Store::open_with(&db.path, quick_options()).await.unwrap();
    let c = store.create_conversation("locked").await.unwrap();
    let mut writer = raw(&db.path).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut writer)
        .await
        .unwrap();
    sqlx::query("INSERT INTO settings (key, value, updated_at) VALUES ('held', '1', 'now')")
        .execute(&mut writer)
        .await
        .unwrap();

    let t0 = Instant::now();
    assert_kind(
        store.save_answer(c.id, answer("blocked", 3)).await,
        "Locked",
    );
    assert_waited_about_the_busy_timeout(t0.elapsed());
    let t0 = Instant::now();
    assert_kind(store.begin_answer(c.id, sd_start()).await, "Locked");
    assert_waited_about_the_busy_timeout(t0.elapsed());
    // WAL: reading goes on while someone else writes.
    assert_eq!(store.list_conversations().await.unwrap().len(), 1);

    sqlx::query("ROLLBACK").execute(&mut writer).await.unwrap();
    sqlx::Connection::close(writer).await.unwrap();
    store.save_answer(c.id, answer("after", 3)).await.unwrap();
    assert_eq!(
        store.get_conversation(c.id).await.unwrap().messages.len(),
        1
    );
}

/// A writer that holds the lock only briefly is waited for, not reported.
#[tokio::test]
async fn a_short_lock_is_waited_out() {
    let db = temp_db();
    let store = Store::open_with(&db.path, quick_options()).await.unwrap();
    let c = store.create_conversation("brief").await.unwrap();
    let mut writer = raw(&db.path).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut writer)
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(80)).await;
        sqlx::query("COMMIT").execute(&mut writer).await.unwrap();
        sqlx::Connection::close(writer).await.unwrap();
    });
    store.save_answer(c.id, answer("waited", 2)).await.unwrap();
    release.await.unwrap();
}

const READONLY_ENV: &str = "LOOKAHEAD_STORE_TEST_READONLY_DIR";

/// Opens three databases inside the read-only folder `ro`; one line per
/// case: `<case>: <error kind> | <user message>`.
async fn readonly_cases(ro: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (case, path) in [
        ("new file", ro.join("new.sqlite")),
        ("new folder", ro.join("sub").join("history.sqlite")),
        ("existing file", ro.join("existing.sqlite")),
    ] {
        out.push(match Store::open_with(&path, quick_options()).await {
            Ok(_) => format!("{case}: opened"),
            Err(e) => format!("{case}: {} | {}", kind(&e), e.user_message()),
        });
    }
    out
}

#[tokio::test]
#[ignore = "helper: runs only as the child process of read_only_location_is_reported"]
async fn readonly_child() {
    let Some(dir) = std::env::var_os(READONLY_ENV) else {
        return;
    };
    for line in readonly_cases(Path::new(&dir)).await {
        println!("CASE {line}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn read_only_location_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let set_mode = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };

    let db = temp_db();
    let ro = db.dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let existing = ro.join("existing.sqlite");
    {
        let store = open(&existing).await;
        store.create_conversation("kept").await.unwrap();
        store.close().await;
    }
    let before = std::fs::read(&existing).unwrap();
    set_mode(&existing, 0o444);
    set_mode(&ro, 0o555);

    // Root ignores permission bits; then the checks run in a child process
    // as an unprivileged user, where they hold.
    let probe = ro.join("probe");
    let lines = if std::fs::File::create(&probe).is_err() {
        readonly_cases(&ro).await
    } else {
        std::fs::remove_file(&probe).unwrap();
        set_mode(db.dir.path(), 0o755);
        let output = child_command("failures::readonly_child", READONLY_ENV, ro.as_os_str())
            .uid(65534)
            .gid(65534)
            .output()
            .expect("run the read-only checks as user nobody (65534)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
            .lines()
            // The harness may print "test … ... " before the first line.
            .filter_map(|l| l.find("CASE ").map(|at| l[at + 5..].to_owned()))
            .collect()
    };
    set_mode(&ro, 0o755);
    set_mode(&existing, 0o644);

    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        assert!(line.contains(": ReadOnly | "), "{line}");
        assert!(line.contains("cannot save its history"), "{line}");
    }
    assert_eq!(
        std::fs::read(&existing).unwrap(),
        before,
        "the existing file was changed"
    );
    assert!(!ro.join("new.sqlite").exists() && !ro.join("sub").exists());
}

async fn page_count(path: &Path) -> u32 {
    scalar_i64(path, "PRAGMA page_count").await as u32
}

/// `PRAGMA max_page_count` makes SQLite report SQLITE_FULL exactly as it
/// does for a full disk.
#[tokio::test]
async fn a_full_disk_is_reported_and_loses_nothing_already_saved() {
    let db = temp_db();
    let c = {
        let store = open(&db.path).await;
        let c = store.create_conversation("full").await.unwrap();
        store.close().await;
        c
    };
    let cap = page_count(&db.path).await + 12;
    let options = StoreOptions {
        max_page_count: Some(cap),
        ..quick_options()
    };
    let store = Store::open_with(&db.path, options.clone()).await.unwrap();
    let big = |i: usize| {
        let mut a = answer(&format!("answer {i} {}", "x".repeat(4000)), 30);
        for s in &mut a.outcome.steps {
            s.text = "y".repeat(500);
        }
        a
    };
    let mut saved = Vec::new();
    let err = loop {
        match store.save_answer(c.id, big(saved.len())).await {
            Ok(id) => saved.push(id),
            Err(e) => break e,
        }
        assert!(saved.len() < 100, "the page cap never took effect");
    };
    assert_eq!(kind(&err), "DiskFull", "{err:?}");
    assert!(err.user_message().contains("disk is full"));
    assert!(
        !saved.is_empty(),
        "the cap left no room for even one answer; raise it"
    );

    // An answer finished on a full disk stays in progress with no steps.
    let small = store.begin_answer(c.id, sd_start()).await;
    if let Ok(id) = small {
        assert_kind(store.finish_answer(id, big(0).outcome).await, "DiskFull");
    }

    let detail = store.get_conversation(c.id).await.unwrap();
    let complete: Vec<&MessageDetail> = detail
        .messages
        .iter()
        .filter(|m| m.message.status == MessageStatus::Complete)
        .collect();
    assert_eq!(
        complete.iter().map(|m| m.message.id).collect::<Vec<_>>(),
        saved
    );
    assert!(complete
        .iter()
        .all(|m| m.steps.len() == 30 && m.metrics.is_some()));
    for m in detail
        .messages
        .iter()
        .filter(|m| m.message.status != MessageStatus::Complete)
    {
        assert_eq!(m.message.status, MessageStatus::InProgress);
        assert!(m.steps.is_empty() && m.metrics.is_none());
    }
    store.close().await;

    // With space again everything works and nothing was lost.
    let store = open(&db.path).await;
    store.save_answer(c.id, big(99)).await.unwrap();
    let n = store
        .get_conversation(c.id)
        .await
        .unwrap()
        .messages
        .iter()
        .filter(|m| m.message.status == MessageStatus::Complete)
        .count();
    assert_eq!(n, saved.len() + 1);
}

/// Name, size and FNV-1a hash of every file in `dir`: enough to tell
/// whether anything was written, and short enough to print on failure.
fn files_in(dir: &Path) -> Vec<(String, usize, u64)> {
    let mut out: Vec<(String, usize, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            let hash = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
            });
            (
                e.file_name().to_string_lossy().into_owned(),
                bytes.len(),
                hash,
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_garbage_file_is_reported_untouched_and_reset_only_on_request() {
    let db = temp_db();
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&db.path, &garbage).unwrap();
    let before = files_in(db.dir.path());

    let err = assert_kind(Store::open(&db.path).await, "Corrupt");
    assert!(
        err.user_message()
            .starts_with("The history file is damaged."),
        "{}",
        err.user_message()
    );
    assert_eq!(
        files_in(db.dir.path()),
        before,
        "open must not touch a damaged file"
    );

    let reset = Store::reset_corrupt(&db.path).await.unwrap();
    let moved = reset
        .moved_to
        .clone()
        .expect("the damaged file was moved aside");
    let name = moved.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("history.sqlite.corrupt-"), "{name}");
    assert_eq!(moved.parent(), db.path.parent());
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        garbage,
        "the damaged file is kept as it was"
    );
    // A fresh, working history in the original place.
    let store = reset.store;
    assert!(store.list_conversations().await.unwrap().is_empty());
    store.create_conversation("fresh start").await.unwrap();
    store.close().await;
    assert_eq!(
        open(&db.path)
            .await
            .list_conversations()
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn damaged_pages_are_found_at_open() {
    let db = temp_db();
    {
        let store = open(&db.path).await;
        for i in 0..20 {
            let c = store
                .create_conversation(&format!("conversation {i}"))
                .await
                .unwrap();
            store
                .save_answer(c.id, answer(&"words ".repeat(300), 20))
                .await
                .unwrap();
        }
        store.close().await;
    }
    let mut bytes = std::fs::read(&db.path).unwrap();
    let page = 4096;
    assert!(
        bytes.len() > 20 * page,
        "fixture too small: {}",
        bytes.len()
    );
    // Keep the header page (so it still looks like SQLite) and wreck a
    // stretch in the middle.
    let middle = bytes.len() / 2;
    for b in &mut bytes[3 * page..middle] {
        *b = 0xA5;
    }
    std::fs::write(&db.path, &bytes).unwrap();
    let before = files_in(db.dir.path());

    assert_kind(Store::open(&db.path).await, "Corrupt");
    assert_eq!(
        files_in(db.dir.path()),
        before,
        "open must not touch a damaged file"
    );

    let reset = Store::reset_corrupt(&db.path).await.unwrap();
    assert!(reset.moved_to.is_some());
    assert!(reset.store.list_conversations().await.unwrap().is_empty());
}

/// Overwrites the root page of the `steps` table with garbage; the schema
/// and every other table stay readable.
async fn wreck_steps_table(path: &Path) {
    let root = scalar_i64(
        path,
        "SELECT rootpage FROM sqlite_master WHERE name = 'steps'",
    )
    .await;
    let page_size = scalar_i64(path, "PRAGMA page_size").await as usize;
    let mut bytes = std::fs::read(path).unwrap();
    let start = (root as usize - 1) * page_size;
    for (i, b) in bytes[start..start + page_size].iter_mut().enumerate() {
        *b = (i * 31 % 256) as u8;
    }
    std::fs::write(path, &bytes).unwrap();
}

#[tokio::test]
async fn a_damaged_table_is_found_at_open_or_when_read() {
    let db = temp_db();
    let c = {
        let store = open(&db.path).await;
        let c = store.create_conversation("has steps").await.unwrap();
        store
            .save_answer(c.id, answer("with steps", 50))
            .await
            .unwrap();
        store.close().await;
        c
    };
    wreck_steps_table(&db.path).await;

    // Small file: the full check at open finds it.
    assert_kind(Store::open(&db.path).await, "Corrupt");

    // With the full check off (as for big files) open succeeds; reading the
    // damaged part, or an explicit check, reports it.
    let options = StoreOptions {
        integrity_check_max_bytes: 0,
        ..StoreOptions::default()
    };
    let store = Store::open_with(&db.path, options).await.unwrap();
    assert_eq!(store.list_conversations().await.unwrap().len(), 1);
    let err = assert_kind(store.get_conversation(c.id).await, "Corrupt");
    assert!(err
        .user_message()
        .starts_with("The history file is damaged."));
    assert_kind(store.check_integrity().await, "Corrupt");
}

#[tokio::test]
async fn reset_leaves_a_healthy_file_alone() {
    let db = temp_db();
    {
        let store = open(&db.path).await;
        store.create_conversation("precious").await.unwrap();
        store.close().await;
    }
    let reset = Store::reset_corrupt(&db.path).await.unwrap();
    assert_eq!(reset.moved_to, None);
    reset.store.check_integrity().await.unwrap();
    assert_eq!(
        reset.store.list_conversations().await.unwrap()[0].title,
        "precious"
    );
    reset.store.close().await;
    assert_eq!(std::fs::read_dir(db.dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_left_unchanged() {
    let db = temp_db();
    {
        let store = open(&db.path).await;
        store.create_conversation("from the future").await.unwrap();
        store.close().await;
    }
    let future = schema_version() + 1000;
    let mut conn = raw(&db.path).await;
    // What a newer app would have done: its own migration plus a change.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (?1, 'from a newer app', 1, x'00', 0)",
    )
    .bind(future)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("ALTER TABLE conversations ADD COLUMN colour TEXT")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    let before = files_in(db.dir.path());

    let err = assert_kind(Store::open(&db.path).await, "NewerSchema");
    match &err {
        StoreError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (future, schema_version()));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.user_message().contains("newer version of Lookahead"));
    assert_eq!(
        files_in(db.dir.path()),
        before,
        "a newer file must not be changed"
    );
    // Nor is it treated as damaged.
    assert_kind(Store::reset_corrupt(&db.path).await, "NewerSchema");
    assert_eq!(files_in(db.dir.path()), before);
}

#[tokio::test]
async fn every_error_has_a_plain_user_message() {
    let path = std::path::PathBuf::from("/somewhere/history.sqlite");
    let errors = [
        StoreError::Locked { path: path.clone() },
        StoreError::ReadOnly {
            path: path.clone(),
            detail: "denied".into(),
        },
        StoreError::DiskFull { path: path.clone() },
        StoreError::Corrupt {
            path: path.clone(),
            detail: "bad".into(),
        },
        StoreError::NewerSchema {
            path: path.clone(),
            found: 9,
            supported: 1,
        },
        StoreError::NotFound {
            what: "conversation",
            id: 3,
        },
        StoreError::NoDataDir,
    ];
    for e in &errors {
        let m = e.user_message();
        assert!(m.ends_with('.') && m.len() > 20, "{m}");
        assert!(!m.contains("SQLITE") && !m.contains("sqlx"), "{m}");
    }
    assert!(errors[1].user_message().contains("/somewhere"));
}
