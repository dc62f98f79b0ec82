//! Databases left by released versions must open, upgrade and keep their
//! data. Each released schema is frozen in tests/data/schema_vN.sql.

use std::path::Path;

use lookahead_store::*;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};

use crate::common::*;

fn data_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Builds a database file the way a released version left it.
async fn database_from_script(path: &Path, script: &str) {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql(script).execute(&mut conn).await.unwrap();
    sqlx::Connection::close(conn).await.unwrap();
}

/// Every schema object, for comparing an upgraded database with a new one.
async fn schema(path: &Path) -> Vec<(String, String, Option<String>)> {
    let mut conn = raw(path).await;
    let rows = sqlx::query(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    rows.iter()
        .map(|r| (r.get("type"), r.get("name"), r.get("sql")))
        .collect()
}

async fn migrations(path: &Path) -> Vec<(i64, Vec<u8>, bool)> {
    let mut conn = raw(path).await;
    let rows =
        sqlx::query("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    rows.iter()
        .map(|r| (r.get("version"), r.get("checksum"), r.get("success")))
        .collect()
}

fn migration_files() -> usize {
    std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".sql")
        })
        .count()
}

#[tokio::test]
async fn a_new_database_records_every_migration() {
    let db = temp_db();
    open(&db.path).await.close().await;
    let applied = migrations(&db.path).await;
    assert_eq!(applied.len(), migration_files());
    assert!(applied.iter().all(|(_, _, ok)| *ok));
    assert_eq!(applied.last().unwrap().0, schema_version());
    // Opening again applies nothing twice.
    open(&db.path).await.close().await;
    assert_eq!(migrations(&db.path).await, applied);
}

#[tokio::test]
async fn released_migrations_were_not_edited() {
    let frozen = temp_db();
    database_from_script(&frozen.path, &data_file("schema_v1.sql")).await;
    let fresh = temp_db();
    open(&fresh.path).await.close().await;
    let (v1_frozen, v1_now) = (
        &migrations(&frozen.path).await[0],
        &migrations(&fresh.path).await[0],
    );
    assert_eq!(v1_frozen.0, 1);
    assert_eq!(
        v1_frozen.1, v1_now.1,
        "migrations/0001 differs from the released v1; add a new migration instead of editing it"
    );
}

/// The checksum (SHA-384 of the SQL, as sqlx records it) of every released
/// migration. A database that applied one of them refuses to open if its
/// file changes afterwards, so a change here means a broken release: add a
/// new migration instead. A new migration adds its line when it lands.
const RELEASED: [(i64, &str); 4] = [
    (1, "3cee2626ee084656ab45731d896f220d510dbf2f86e8b7cbd4cc3c04c6521d179038ad357bede700aba2d30608ea4a74"),
    (2, "00d9c91975b7e2afed71510b4968be1acae89ed6aa9f34a228dd97b491d81ac4f195379372fa9a45a2af1bc23d8068a7"),
    (3, "ef1c82372bb01ae046770e8ff3de03ae1e6f6a539aa5092d63afa1ce6dd2b614a1f461acaf85b06157f6833919c5bea1"),
    (4, "3346a34727aad1295058bdde8c0ed42ec381154693775a4324f593781ecb2507f32b5f49a79d40eac0f6f5ad5b703df9"),
];

#[tokio::test]
async fn every_released_migration_is_frozen() {
    let db = temp_db();
    open(&db.path).await.close().await;
    let applied = migrations(&db.path).await;
    for (version, checksum) in RELEASED {
        let (_, found, _) = applied
            .iter()
            .find(|(v, _, _)| *v == version)
            .unwrap_or_else(|| panic!("released migration {version} is missing"));
        let found: String = found.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            found, checksum,
            "migration {version} was edited after its release; add a new migration instead"
        );
    }
    assert_eq!(
        applied.len(),
        RELEASED.len(),
        "a migration without a frozen checksum: add it to RELEASED"
    );
}

#[tokio::test]
async fn a_v1_database_is_upgraded_with_its_data() {
    let db = temp_db();
    database_from_script(&db.path, &data_file("schema_v1.sql")).await;

    let store = open(&db.path).await;
    // v1's rows, read through today's API.
    let list = store.list_conversations().await.unwrap();
    assert_eq!(
        list.iter().map(|c| c.title.as_str()).collect::<Vec<_>>(),
        vec!["Why is the sky blue?"]
    );
    assert!(list[0].pinned);
    assert_eq!(list[0].message_count, 4);
    assert_eq!(
        store.list_deleted_conversations().await.unwrap()[0].title,
        "Prime gaps"
    );

    let detail = store.get_conversation(1).await.unwrap();
    let answer = &detail.messages[1];
    assert_eq!(answer.message.mode, Some(Mode::SdLr));
    assert_eq!(answer.message.judge_model.as_deref(), Some("qwen3-1.7b"));
    assert_eq!(answer.message.settings["gamma"], 4);
    assert_eq!(
        answer.message.final_answer.as_deref(),
        Some("Rayleigh scattering")
    );
    assert_eq!(
        answer.steps.iter().map(|s| s.verdict).collect::<Vec<_>>(),
        vec![Verdict::Accepted, Verdict::Rejected, Verdict::TargetOnly]
    );
    assert_eq!(answer.steps[1].kept_from, KeptFrom::Target);
    assert_eq!(answer.steps[2].drafted, None);
    let m = answer.metrics.as_ref().unwrap();
    assert_eq!((m.drafted_tokens, m.accepted_tokens), (Some(64), Some(48)));
    assert_eq!(
        m.per_position_acceptance.as_ref().unwrap()[0],
        PositionCount {
            proposed: 3,
            accepted: 2
        }
    );
    assert_eq!(m.speedup_estimate, Some(1.62));
    // The answer v1 was writing when it stopped is recovered as interrupted.
    let cut = &detail.messages[3].message;
    assert_eq!(cut.status, MessageStatus::Interrupted);
    assert_eq!(cut.text, "At sunset the light crosses more air, so");

    // v1's search index still serves, and v1 rows count in statistics.
    let hits = store.search("rayleigh", 10).await.unwrap();
    assert_eq!(
        hits.iter().filter_map(|h| h.message_id).collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!(
        store
            .totals(&StatsFilter::default())
            .await
            .unwrap()
            .accepted_tokens,
        48
    );
    let positions = store
        .position_acceptance(&StatsFilter::default())
        .await
        .unwrap();
    assert_eq!(
        positions
            .iter()
            .map(|p| (p.proposed, p.accepted))
            .collect::<Vec<_>>(),
        vec![(3, 2), (2, 1)]
    );
    assert_eq!(
        store.get_setting::<i64>("default_gamma").await.unwrap(),
        Some(4)
    );
    // And it takes new answers.
    store.save_answer(1, answer_fixture()).await.unwrap();
    store.close().await;

    // Same schema as a database created by this build.
    let fresh = temp_db();
    open(&fresh.path).await.close().await;
    assert_eq!(schema(&db.path).await, schema(&fresh.path).await);
    let applied: Vec<i64> = migrations(&db.path).await.iter().map(|m| m.0).collect();
    let expected: Vec<i64> = migrations(&fresh.path).await.iter().map(|m| m.0).collect();
    assert_eq!(applied, expected);
    let mut conn = raw(&db.path).await;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
}

fn answer_fixture() -> NewAnswer {
    answer("after the upgrade", 3)
}
