use lookahead_store::*;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn installed_models_upsert_list_remove() {
    let db = temp_db();
    let store = open(&db.path).await;
    let draft = NewModel {
        path: "/models/qwen-0.5b.gguf".into(),
        role: ModelRole::Draft,
        size_bytes: 400_000_000,
        sha256: Some("ab".repeat(32)),
    };
    let a = store.upsert_model(&draft).await.unwrap();
    let judge = store
        .upsert_model(&NewModel {
            role: ModelRole::Judge,
            ..draft.clone()
        })
        .await
        .unwrap();
    let target = store
        .upsert_model(&NewModel {
            path: "/models/qwen-7b.gguf".into(),
            role: ModelRole::Target,
            size_bytes: 5_000_000_000,
            sha256: None,
        })
        .await
        .unwrap();
    assert_eq!(
        store.list_models(None).await.unwrap(),
        vec![a.clone(), judge.clone(), target.clone()]
    );
    assert_eq!(
        store.list_models(Some(ModelRole::Target)).await.unwrap(),
        vec![target.clone()]
    );

    // Same path and role again updates in place.
    let updated = store
        .upsert_model(&NewModel {
            size_bytes: 123,
            sha256: None,
            ..draft
        })
        .await
        .unwrap();
    assert_eq!(updated.id, a.id);
    assert_eq!((updated.size_bytes, updated.sha256.clone()), (123, None));
    assert_eq!(
        store.list_models(Some(ModelRole::Draft)).await.unwrap(),
        vec![updated]
    );

    store.remove_model(judge.id).await.unwrap();
    assert_eq!(store.list_models(None).await.unwrap().len(), 2);
    assert_kind(store.remove_model(judge.id).await, "NotFound");
}

#[tokio::test]
async fn settings_are_json_values() {
    let db = temp_db();
    let store = open(&db.path).await;
    assert_eq!(store.get_setting::<i64>("gamma").await.unwrap(), None);
    store.set_setting("gamma", &4).await.unwrap();
    store.set_setting("theme", "dark").await.unwrap();
    store
        .set_setting("models", &json!({ "draft": "a", "target": "b" }))
        .await
        .unwrap();
    store.set_setting("gamma", &6).await.unwrap();
    assert_eq!(store.get_setting::<i64>("gamma").await.unwrap(), Some(6));
    assert_eq!(
        store
            .get_setting::<String>("theme")
            .await
            .unwrap()
            .as_deref(),
        Some("dark")
    );
    let all = store.all_settings().await.unwrap();
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        vec!["gamma", "models", "theme"]
    );
    assert_eq!(all["models"]["target"], "b");
    // A value of the wrong shape is an error, not a silent default.
    assert_kind(store.get_setting::<i64>("theme").await, "Json");
    assert!(store.delete_setting("theme").await.unwrap());
    assert!(!store.delete_setting("theme").await.unwrap());
    store.close().await;
    // Settings persist across restarts.
    let store = open(&db.path).await;
    assert_eq!(store.get_setting::<i64>("gamma").await.unwrap(), Some(6));
}
