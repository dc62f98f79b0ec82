//! Settings: any JSON value under a key.

use serde_json::json;

use crate::common::*;

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
