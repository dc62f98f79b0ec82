//! Key/value settings, each a JSON value.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use crate::error::{Result, SqlxResultExt, StoreError};
use crate::{now, ts, Store};

impl Store {
    /// Reads a setting; `None` when it was never set.
    pub async fn get_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .at(&self.path)?;
        value
            .map(|v| serde_json::from_str(&v).map_err(StoreError::from))
            .transpose()
    }

    /// Stores a setting as JSON, replacing any earlier value.
    pub async fn set_setting<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value)?;
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(json)
        .bind(ts(now()))
        .execute(&self.pool)
        .await
        .at(&self.path)?;
        Ok(())
    }

    /// Removes a setting; returns whether it existed.
    pub async fn delete_setting(&self, key: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM settings WHERE key = ?1")
            .bind(key)
            .execute(&self.pool)
            .await
            .at(&self.path)?;
        Ok(r.rows_affected() > 0)
    }

    /// Every setting, by key.
    pub async fn all_settings(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        let rows = sqlx::query("SELECT key, value FROM settings ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        let mut out = BTreeMap::new();
        for row in &rows {
            let key: String = row.try_get("key").at(&self.path)?;
            let value: String = row.try_get("value").at(&self.path)?;
            out.insert(key, serde_json::from_str(&value)?);
        }
        Ok(out)
    }
}
